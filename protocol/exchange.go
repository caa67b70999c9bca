package protocol

import "time"

// Directions of an Exchange.
const (
	Inbound  = "in"  // a request received (transport.Server)
	Outbound = "out" // a request sent (transport.Client)
)

// Exchange is one request and its answer, as the message log records it:
// transport fills it, store keeps it.
type Exchange struct {
	Interface string
	Direction string // Inbound or Outbound
	Peer      string // the peer's name; the appkey as sent when unknown
	ApplyNo   string // taken from the request's fields
	BaohanNo  string
	Request   []byte // raw request body as received or sent
	Response  []byte // raw answer body
	// HTTPStatus and Code of the answer; Code is -1 when there was no
	// protocol answer (transport error, non-JSON).
	HTTPStatus int
	Code       int
	SignOK     bool   // inbound: the sign verified; outbound: true (we signed)
	Diagnosis  string // inbound: the sign diagnosis (one line)
	Error      string // why the exchange failed: the refusal message, or the transport error
	Latency    time.Duration
	At         time.Time // when the request arrived or was sent
	// Seen, inbound, is the replay guard's record of a request it
	// reserved, with its answer (or Forget): a log that can writes it in
	// the same durable write as the entry and says so.
	Seen *SeenMark
	// Retry: inbound, the request repeated one already received (same
	// appkey, sign and body) and was answered as that one was;
	// outbound, a request sent again with the body of an earlier attempt.
	Retry bool
	// RequestDigest, inbound, is ReplayDigest(Interface, Request) when the
	// server computed it for the replay guard, else empty: the message
	// log takes it as the request body's digest instead of hashing the
	// body again. Whoever changes Request or Interface afterwards clears
	// it.
	RequestDigest string
}

// SeenMark is a request's record in the replay guard: (AppKey, Sign)
// until Until, the request's Digest (ReplayDigest) and the Answer it was
// given. Forget drops the record instead: the request was not handled
// (an internal failure), and a retry is handled anew. Rehandle keeps the
// record without the answer (it holds a secret the store must not keep,
// e.g. a bidder token): a retry is handled again, by a handler that is
// idempotent, and answered as the first was.
type SeenMark struct {
	AppKey, Sign string
	Until        time.Time
	Digest       string
	Answer       []byte
	Forget       bool
	Rehandle     bool
}
