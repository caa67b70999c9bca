package institution

import (
	"testing"

	"github.com/baohan-dev/baohan/internal/replaytest"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

// TestReplayRecordRidesTheMessageLog: the institution's message log is a
// wrapper (it redacts the bidder token of a baohanapply answer, on a copy
// of the exchange) around the store's. On SQLite the replay guard leaves
// a request's record to it, and it writes the record with the entry: no
// write of its own, and the request sent again is a replay. On PostgreSQL
// the guard records at once.
func TestReplayRecordRidesTheMessageLog(t *testing.T) {
	for _, pg := range []bool{false, true} {
		name := "sqlite"
		if pg {
			name = "postgres"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, pg)
			g := &replaytest.CountingGuard{ReplayGuard: e.svc.core.Server.Seen}
			e.svc.core.Server.Seen = g // the handler is called below, from this goroutine
			ad, envl := e.applyData("R-1", e.bidder.CreditCode, "200000")
			f := map[string]string{"appkey": testAppKey, "timestamp": protocol.FormatTime(e.clock()), "platformcode": testPlatCode,
				"applyno": "R-1", "applydata": ad, "digitalenvelope": envl}
			f["sign"] = protocol.Sign(f, testSecret)
			body := protocol.MarshalFields(f)
			replaytest.WantRecordedByLog(t, e.svc.Handler(), "/"+string(protocol.BaohanApply), body, g, e.svc.db.Dialect == store.SQLite)
		})
	}
}
