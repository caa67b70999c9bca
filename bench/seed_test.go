package bench

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/store"
)

// TestSeedHistory: a seeded platform is a consistent one — every
// application in a valid state reached by a history whose events follow
// each other, the message log's chain verifies, every guarantee row's
// blob is in the blob store, the outbox holds only delivered calls, and
// the list queries answer. No timing is asserted.
func TestSeedHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the platform")
	}
	for _, db := range []string{SQLite, Postgres} {
		t.Run(db, func(t *testing.T) {
			ctx := context.Background()
			if db == Postgres {
				if err := PingPostgres(ctx, PostgresURL()); err != nil {
					if os.Getenv("BAOHAN_REQUIRE_POSTGRES") == "1" {
						t.Fatalf("PostgreSQL: %v", err)
					}
					t.Skipf("PostgreSQL does not answer: %v", err)
				}
			}
			token := randomHex(24)
			env, err := StartPlatform(ctx, PlatformOptions{Dir: t.TempDir(), DB: db, Institutions: 3, AdminToken: token})
			if err != nil {
				t.Fatal(err)
			}
			defer env.Close()
			const n = 2000
			c, err := env.SeedHistory(ctx, n, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("seeded %s", c)
			checkSeeded(t, ctx, env, n, c)

			// Every console and admin list page and search answers 200
			// with a body, signed in (the growth rows, untimed here).
			r := &runner{o: Options{}.withDefaults(), start: time.Now(), report: &Report{}}
			rows, err := r.growthPages(ctx, env, token, "test")
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) < 30 {
				t.Errorf("%d pages measured", len(rows))
			}
			for _, row := range rows {
				if row.Errors != 0 || row.N != growthPageReqs {
					t.Errorf("%s (%s): %d of %d failed: %q", row.Name, row.Notes, row.Errors, row.N, row.ErrorSamples)
				}
			}
		})
	}
}

func checkSeeded(t *testing.T, ctx context.Context, env *PlatformEnv, n int, c SeedCounts) {
	t.Helper()
	db := env.DB
	count := func(q string) int {
		var k int
		if err := db.QueryRowContext(ctx, q).Scan(&k); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return k
	}
	if got := count(`SELECT COUNT(*) FROM plat_applications`); got != n || c.Applications != n {
		t.Errorf("%d applications in the table, %d counted, want %d", got, c.Applications, n)
	}
	for q, want := range map[string]int{
		`SELECT COUNT(*) FROM plat_application_events`: c.Events,
		`SELECT COUNT(*) FROM message_log`:             c.Messages,
		`SELECT COUNT(*) FROM outbox`:                  c.Outbox,
		`SELECT COUNT(*) FROM plat_guarantees`:         c.Guarantees,
		`SELECT COUNT(*) FROM plat_bidders`:            c.Bidders,
	} {
		if got := count(q); got != want || want == 0 {
			t.Errorf("%s: %d, counted %d", q, got, want)
		}
	}
	if got := count(`SELECT COUNT(*) FROM outbox WHERE state <> 'done'`); got != 0 {
		t.Errorf("%d outbox rows not delivered", got)
	}

	// Each application's history leads to its state, one move after the
	// other.
	type hist struct {
		state   string
		version int64
		last    string
		seq     int64
		broken  string
	}
	apps := map[string]*hist{}
	rows, err := db.QueryContext(ctx, `SELECT applyno, state, version FROM plat_applications`)
	if err != nil {
		t.Fatal(err)
	}
	states := map[platform.State]int{}
	for rows.Next() {
		h := &hist{}
		var no string
		if err := rows.Scan(&no, &h.state, &h.version); err != nil {
			t.Fatal(err)
		}
		if !platform.State(h.state).Valid() {
			t.Errorf("%s: state %q", no, h.state)
		}
		states[platform.State(h.state)]++
		apps[no] = h
	}
	rows.Close()
	if len(states) < 10 {
		t.Errorf("states %v: want the lifecycle covered", states)
	}
	rows, err = db.QueryContext(ctx, `SELECT applyno, seq, from_state, to_state FROM plat_application_events ORDER BY applyno, seq`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var no, from, to string
		var seq int64
		if err := rows.Scan(&no, &seq, &from, &to); err != nil {
			t.Fatal(err)
		}
		h := apps[no]
		switch {
		case h == nil:
			t.Fatalf("event of unknown application %s", no)
		case seq != h.seq+1:
			h.broken = "seq gap"
		case from != h.last:
			h.broken = "from " + from + " after " + h.last
		}
		h.seq, h.last = seq, to
	}
	rows.Close()
	bad := 0
	for no, h := range apps {
		if h.broken != "" || h.last != h.state || h.seq != h.version {
			if bad++; bad < 5 {
				t.Errorf("%s: history %+v", no, h)
			}
		}
	}

	// The message log's chain verifies, as `baohan audit verify` checks it.
	brk, k, err := store.NewMessageLog(db).Verify(ctx)
	if err != nil || brk != nil || k != int64(c.Messages) {
		t.Errorf("message log: break %v, %d rows (want %d), %v", brk, k, c.Messages, err)
	}

	// Every guarantee's blob opens.
	gs, err := env.Svc.Guarantees(ctx, "", 20, 0)
	if err != nil || len(gs) == 0 {
		t.Fatalf("guarantees: %d, %v", len(gs), err)
	}
	for _, g := range gs {
		rc, _, err := env.Svc.OpenGuarantee(ctx, g.ApplyNo, g.FileType)
		if err != nil {
			t.Errorf("guarantee %s/%d: %v", g.ApplyNo, g.FileType, err)
			continue
		}
		rc.Close()
	}
	// The lists answer.
	for _, f := range []platform.ApplicationFilter{{}, {State: platform.Restored}, {Institution: env.Insts[1].Name}} {
		if list, err := env.Svc.Applications(ctx, f); err != nil || len(list) == 0 {
			t.Errorf("applications %+v: %d, %v", f, len(list), err)
		}
	}
	if list, err := env.Svc.Messages(ctx, store.LogFilter{Interface: "baohannotice"}); err != nil || len(list) == 0 {
		t.Errorf("messages: %d, %v", len(list), err)
	}
}
