// Package transport carries the protocol over HTTP for both services.
//
// Server is the inbound pipeline every request goes through, in this
// order: route (<Prefix>/<interface>), POST only, body limit, parse the
// raw JSON, find the peer by appkey, verify the sign over the raw values,
// check the timestamp window, answer a retry (the same request again,
// byte for byte) with the first answer and refuse any other request under
// a seen sign, check every rule of the interface, then call the
// HandlerFunc. The peer always gets a JSON
// envelope {code, message, data}: a handler's refusal (a baohan.Error)
// with its message, any other failure as baohan.InternalMessage with the
// details in the log only. Every exchange is recorded in the
// MessageLog, those nobody authenticated within a budget per source
// address (see UnauthenticatedBudget).
//
// Client is the outbound side: it adds appkey, timestamp and sign, posts
// the JSON, records the exchange and decodes the answer. Send resends the
// body of an attempt the peer may have processed (MayBeProcessed) as it
// was, so that the peer recognises the retry; StillHandled,
// RefusedUnprocessed and AlreadyProcessed read the refusals a sender does
// not take for the peer's decision.
package transport
