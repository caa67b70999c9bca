package transport

import (
	"context"
	"sync"
	"time"
)

// Directions of an Exchange.
const (
	In  = "in"  // a request received by Server
	Out = "out" // a request sent by Client
)

// Exchange is one request and its answer, as recorded in the MessageLog.
type Exchange struct {
	Interface string
	Direction string // In or Out
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
	// (protocol.SeenReserver): a MessageLog that reports RecordsSeen
	// writes it in the same durable write as the entry.
	Seen *SeenMark
}

// SeenMark is a sign to record as seen: (AppKey, Sign) until Until.
type SeenMark struct {
	AppKey, Sign string
	Until        time.Time
}

// SeenRecorder is a MessageLog that records an Exchange's SeenMark with
// its entry, in one durable write. Server defers the replay record to
// such a log when its Seen is a protocol.SeenReserver.
type SeenRecorder interface {
	MessageLog
	RecordsSeen() bool
}

// MessageLog records every exchange. Record must not keep e after it
// returns. A failing Record is logged, never fails the exchange.
type MessageLog interface {
	Record(ctx context.Context, e *Exchange) error
}

// MemoryLog is a MessageLog in memory (tests, the demo).
type MemoryLog struct {
	mu sync.Mutex
	es []Exchange
}

// Record implements MessageLog.
func (l *MemoryLog) Record(_ context.Context, e *Exchange) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := *e
	c.Request = append([]byte(nil), e.Request...)
	c.Response = append([]byte(nil), e.Response...)
	l.es = append(l.es, c)
	return nil
}

// Exchanges returns a copy of what was recorded, in order.
func (l *MemoryLog) Exchanges() []Exchange {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Exchange(nil), l.es...)
}

// Metrics observes every exchange (optional; see PrometheusMetrics).
type Metrics interface {
	ObserveExchange(e *Exchange)
}
