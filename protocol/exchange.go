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
	// Seen, inbound, is a sign the replay guard left to the message log
	// (ReplayGuard.Reserve answered deferred): a log that can writes it
	// in the same durable write as the entry and says so.
	Seen *SeenMark
}

// SeenMark is a sign to record as seen: (AppKey, Sign) until Until.
type SeenMark struct {
	AppKey, Sign string
	Until        time.Time
}
