// Package protocol is the wire protocol of the electronic bid-guarantee
// (电子投标保函) data interface: the 14 interfaces of the spec and the 2
// optional ones of EXTENSIONS.md (Extensions), their request
// types and field rules, the response envelope, the request signature
// (sign / verify / diagnose), timestamps and the replay building blocks.
//
// The rules are those of the spec's tables (interface-spec.zh.txt) with the
// decisions of docs/PROFILE.md. Everything here works on the raw request as
// received (Request, from ParseRequest): values are kept exactly as sent,
// signatures are checked over them, never over a re-serialized struct.
//
// The package has no I/O; transport carries it over HTTP.
package protocol
