package institution

import (
	"context"

	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/transport"
)

// messageLog records the transport's exchanges in the store's
// hash-chained message log.
type messageLog struct{ ml *store.MessageLog }

// Record implements transport.MessageLog.
func (l messageLog) Record(ctx context.Context, e *transport.Exchange) error {
	return l.ml.Append(ctx, &store.LogEntry{
		At: e.At, Direction: e.Direction, Interface: e.Interface, Peer: e.Peer, ApplyNo: e.ApplyNo,
		BaohanNo: e.BaohanNo, Request: e.Request, Response: e.Response, HTTPStatus: e.HTTPStatus,
		Code: e.Code, SignOK: e.SignOK, Diagnosis: e.Diagnosis, Error: e.Error, LatencyMS: e.Latency.Milliseconds(),
	})
}
