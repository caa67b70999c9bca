package transport

import (
	"context"
	"sync"

	"github.com/baohan-dev/baohan/protocol"
)

// MessageLog records every exchange. Record must not keep e after it
// returns. A failing Record is logged, never fails the exchange.
//
// e.Seen, when set, is a sign the server's replay guard left to the log
// (protocol.ReplayGuard.Reserve answered deferred). A log that writes it
// in the same durable write as the entry (store.MessageLog) answers
// seenRecorded true; any other answers false, and the server records the
// sign on its own. A log that wraps another returns what the inner log
// answered for the exchange it was given (a copy of e carries the same
// mark): the answer is the only way the server learns of the record, so a
// wrapper cannot turn the guard off, only cost it a write.
type MessageLog interface {
	Record(ctx context.Context, e *protocol.Exchange) (seenRecorded bool, err error)
}

// MemoryLog is a MessageLog in memory (tests, the demo). It records no
// seen marks.
type MemoryLog struct {
	mu sync.Mutex
	es []protocol.Exchange
}

// Record implements MessageLog.
func (l *MemoryLog) Record(_ context.Context, e *protocol.Exchange) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := *e
	c.Request = append([]byte(nil), e.Request...)
	c.Response = append([]byte(nil), e.Response...)
	l.es = append(l.es, c)
	return false, nil
}

// Exchanges returns a copy of what was recorded, in order.
func (l *MemoryLog) Exchanges() []protocol.Exchange {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]protocol.Exchange(nil), l.es...)
}

// Metrics observes every exchange (optional; see PrometheusMetrics).
type Metrics interface {
	ObserveExchange(e *protocol.Exchange)
}
