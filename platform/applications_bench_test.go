package platform

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

// BenchmarkSave times the handler transaction of moves that keep some
// indexed columns (lock and read the application, save, history event)
// from 64 goroutines on 20,000 approved applications (SQLite), writing
// what changed (the default) and every column (all-columns):
//
//   - quit: approved ⇄ quit_requested, state and prev_state change,
//     baohanno and the notice do not;
//
//   - record: a history entry that changes nothing (public_key_issued).
//
//     go test ./platform -run - -bench Save
func BenchmarkSave(b *testing.B) {
	const n = 20000
	e := newEnv(b, "")
	sec := e.section(time.Hour)
	e.bidder(e.pki.bidder)
	apps := seedApproved(b, e, sec, n)
	s := e.svc
	for _, op := range []string{"quit", "record"} {
		for _, mode := range []string{"changed", "all-columns"} {
			b.Run(op+"/"+mode, func(b *testing.B) {
				saveEveryColumn = mode == "all-columns"
				defer func() { saveEveryColumn = false }()
				var next atomic.Int64
				b.SetParallelism(32) // 64 goroutines on 2 cores
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						applyNo := apps[int(next.Add(1))%n]
						err := s.withApplication(e.ctx, applyNo, func(tx *sql.Tx, a *Application) error {
							switch {
							case op == "record":
								return s.record(e.ctx, tx, a, EvKeyIssued, ActorAdmin, nil, nil)
							case a.State == Approved:
								return s.move(e.ctx, tx, a, EvQuitRequested, ActorAdmin, nil, nil)
							default:
								return s.move(e.ctx, tx, a, EvQuitRefused, ActorAdmin, nil, nil)
							}
						})
						if err != nil {
							b.Fatal(err)
						}
					}
				})
			})
		}
	}
}

// seedApproved writes n approved applications of the section with their
// notices directly into the tables and returns their applynos.
func seedApproved(tb testing.TB, e *env, sec *Section, n int) []string {
	tb.Helper()
	ctx := context.Background()
	now := e.clock.Now()
	apps := make([]string, n)
	err := e.svc.db.InTx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < n; start += 200 {
			var rows, evs []string
			var args, evArgs []any
			for i := start; i < min(start+200, n); i++ {
				applyNo := fmt.Sprintf("BH20260101%08x", uint32(i)*2654435761)
				bn := "BN" + applyNo[10:]
				apps[i] = applyNo
				notice, _ := json.Marshal(Notice{BaohanNo: bn, InstName: "某某融资担保有限公司", GenerateTime: protocol.FormatTime(now),
					Rate: "0.005", Cost: "1000.00", ApplyStatus: "1", ReceivedAt: now})
				rows = append(rows, "(?, ?, ?, 'bank', '投标保函', '0.005', '200000.00', 'approved', 1, ?, ?, ?, ?, ?)")
				args = append(args, applyNo, sec.No, e.pki.bidder.CreditCode, bn, string(notice), now.UnixMicro(), now.UnixMicro(), now.UnixMicro())
				evs = append(evs, "(?, 1, ?, 'seeded', '', 'approved', 'bench', '')")
				evArgs = append(evArgs, applyNo, now.UnixMicro())
			}
			if _, err := tx.ExecContext(ctx, e.svc.db.Rebind(`INSERT INTO plat_applications (applyno, section_no, bidder_code,
				institution, product, rate, bond_amount, state, version, baohanno, notice, notice_at, created_at, updated_at)
				VALUES `+strings.Join(rows, ", ")), args...); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, e.svc.db.Rebind(`INSERT INTO plat_application_events
				(applyno, seq, at, event, from_state, to_state, actor, detail) VALUES `+strings.Join(evs, ", ")), evArgs...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return apps
}
