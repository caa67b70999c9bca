// Package transport carries the protocol over HTTP for both services.
//
// Server is the inbound pipeline every request goes through, in this
// order: route (<Prefix>/<interface>), POST only, body limit, parse the
// raw JSON, find the peer by appkey, verify the sign over the raw values,
// check the timestamp window, refuse a replayed sign, check every rule of
// the interface, then call the HandlerFunc. The peer always gets a JSON
// envelope {code, message, data}: a handler's refusal (a baohan.Error)
// with its message, any other failure as baohan.InternalMessage with the
// details in the log only. Every exchange is recorded in the
// MessageLog, those nobody authenticated within a budget per source
// address (see UnauthenticatedBudget).
//
// Client is the outbound side: it adds appkey, timestamp and sign, posts
// the JSON, records the exchange and decodes the answer.
package transport
