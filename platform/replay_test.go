package platform

import (
	"testing"
	"time"

	"github.com/baohan-dev/baohan/internal/replaytest"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

// TestReplayRecordRidesTheMessageLog: the platform's message log is the
// store's, as the service core builds it (the metrics count exchanges as
// the server's Metrics, not through the log). On SQLite the replay guard
// leaves a request's record to it, and it writes the record with the
// entry: no write of its own, and the request sent again is a replay. On
// PostgreSQL the guard records at once. Either way the pipeline never has
// to record a sign itself; it does when the log loses the mark.
func TestReplayRecordRidesTheMessageLog(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		a := e.applied(e.section(time.Hour))
		g := &replaytest.CountingGuard{ReplayGuard: e.svc.core.Server.Seen}
		e.svc.core.Server.Seen = g // the handler is called below, from this goroutine
		body := e.signed(e.noticeFields(a.ApplyNo, "BH-R1", "1"), testAppSecret)
		replaytest.WantRecordedByLog(t, e.svc.Handler(), "/"+string(protocol.BaohanNotice), body, g, e.svc.db.Dialect == store.SQLite)
	})
}
