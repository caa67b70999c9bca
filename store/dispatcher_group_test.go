package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Many workers finishing together record their outcomes in shared
// transactions (InTxGrouped): a hook that fails for some of them rolls
// back only those (they are retried and applied once, later), and no
// other outcome is lost or applied twice. A burst of due messages is
// claimed in batches, and every message is delivered exactly once.
func TestDispatcherGroupedOutcomes(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		db := env.open(t)
		mustExec(t, db, "CREATE TABLE applied (applyno TEXT NOT NULL, attempt INTEGER NOT NULL)")
		const n = 300
		msgs := make([]OutMessage, n)
		for i := range msgs {
			msgs[i] = testMsg(i, "")
			msgs[i].Peer = fmt.Sprintf("peer-%d", i%5)
		}
		enqueue(t, db, msgs...)
		failing := func(applyNo string) bool { return strings.HasSuffix(applyNo, "3") }
		dl := newDeliveries()
		var hookFailures atomic.Int32
		d := &Dispatcher{
			DB: db, Workers: 16, PollInterval: 10 * time.Millisecond, Backoff: Backoff{Initial: 50 * time.Millisecond, Jitter: -1},
			Deliver: func(ctx context.Context, m *OutMessage) (Outcome, error) {
				dl.call(m.DedupeKey)
				return Delivered(`{"code":1}`), nil
			},
			OnOutcome: func(ctx context.Context, tx *sql.Tx, m *OutMessage, o Outcome) error {
				if _, err := tx.ExecContext(ctx, db.Rebind("INSERT INTO applied VALUES (?, ?)"), m.ApplyNo, m.Attempts); err != nil {
					return err
				}
				if failing(m.ApplyNo) && m.Attempts == 1 {
					hookFailures.Add(1)
					return errors.New("not applied the first time")
				}
				return nil
			},
		}
		var claims, claimed atomic.Int32
		d.trace = func(ev, detail string) {
			var got, asked int
			if ev == "claim" {
				fmt.Sscanf(detail, "%d of %d", &got, &asked)
				claims.Add(1)
				claimed.Add(int32(got))
			}
		}
		start(t, d)
		waitFor(t, "all delivered", allDone(t, db, n))
		dl.mu.Lock()
		defer dl.mu.Unlock()
		for i := range n {
			m := testMsg(i, "")
			want := 1
			if failing(m.ApplyNo) {
				want = 2
			}
			if c := dl.calls[m.DedupeKey]; c != want {
				t.Errorf("%s delivered %d times, want %d", m.ApplyNo, c, want)
			}
			if c := countRows(t, db, "SELECT COUNT(*) FROM applied WHERE applyno = ?", m.ApplyNo); c != 1 {
				t.Errorf("%s applied %d times, want once", m.ApplyNo, c)
			}
			if c := countRows(t, db, "SELECT COUNT(*) FROM applied WHERE applyno = ? AND attempt = ?", m.ApplyNo, want); c != 1 {
				t.Errorf("%s: not applied at attempt %d", m.ApplyNo, want)
			}
		}
		if hookFailures.Load() < n/10 {
			t.Errorf("%d hook failures, want at least %d", hookFailures.Load(), n/10)
		}
		t.Logf("%d claims for %d deliveries; %d groups rolled back", claims.Load(), claimed.Load(), db.txGroupFallbacks.Load())
	})
}
