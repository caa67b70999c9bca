package institution

import (
	"context"
	"regexp"

	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

// The bidder token (the last element of the redirecturl) is the bidder's
// credential here: with it alone one follows the application, pays its
// premium and downloads its guarantee (quitting and giving up need the
// bidder's key as well, bidderproof.go). The institution keeps it as a
// hash and a sealed copy, never in the clear; the message log, which
// console viewers and the admin API read and backups copy, keeps the
// baohanapply answer with the token replaced by a marker:
//
//	{"code":1,"message":"成功","data":{"redirecturl":"https://inst.example/bidder/[redacted sm3:3f2a9c01b7d4]"}}
//
// The hex is the start of the application's token_hash (the SM3 the
// token is looked up by), enough to tell two answers apart and to match
// one to its application. The answer on the wire is the full URL: only
// what is stored changes, before the entry is chained, so the chain
// covers the stored (redacted) body and verifies. A baohanapply sent
// again is answered from the sealed copy, never from the log.

// tokenPath matches the token of a bidder or invoice URL path.
var tokenPath = regexp.MustCompile(`/(bidder|invoices)/[A-Za-z0-9_-]+`)

// redactTokens replaces every bidder and invoice token in b (a URL, a
// path, a JSON body) with its marker. The characters of a token are never
// escaped in JSON, so a token in a JSON string is matched as it is.
func redactTokens(b []byte) []byte {
	return tokenPath.ReplaceAllFunc(b, func(m []byte) []byte {
		sub := tokenPath.FindSubmatchIndex(m)
		head, tok := m[:sub[3]+1], m[sub[3]+1:]
		out := append([]byte(nil), head...)
		return append(out, tokenMarker(string(tok))...)
	})
}

// redactPath is redactTokens for a URL path in a log line.
func redactPath(p string) string { return string(redactTokens([]byte(p))) }

// tokenMarker is what a token becomes in what the institution stores.
func tokenMarker(token string) string { return "[redacted sm3:" + hashToken(token)[:12] + "]" }

// redactingLog is the message log as both the server and the client
// write it: a baohanapply answer loses its bidder token before the
// entry is chained.
type redactingLog struct{ log *store.MessageLog }

// Record implements transport.MessageLog.
func (l redactingLog) Record(ctx context.Context, e *protocol.Exchange) (seenRecorded bool, err error) {
	if e.Direction == protocol.Inbound && e.Interface == string(protocol.BaohanApply) && len(e.Response) > 0 {
		c := *e // the server owns e; the answer on the wire is already written
		c.Response = redactTokens(e.Response)
		e = &c
	}
	return l.log.Record(ctx, e)
}
