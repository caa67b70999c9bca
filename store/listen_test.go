package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// events records what dispatchers tell their trace and what they
// deliver, in order, so that a test can assert on the order of a
// wake-up and a delivery instead of on time.
type events struct {
	mu  sync.Mutex
	evs []event
}

type event struct{ who, what, detail string }

func (e *events) add(who, what, detail string) {
	e.mu.Lock()
	e.evs = append(e.evs, event{who, what, detail})
	e.mu.Unlock()
}

// tracer is a Dispatcher.trace that records under who.
func (e *events) tracer(who string) func(string, string) {
	return func(what, detail string) { e.add(who, what, detail) }
}

// find is the index of the first event of who, what (and detail, unless
// "") at after or later, -1 when there is none.
func (e *events) find(after int, who, what, detail string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := max(after, 0); i < len(e.evs); i++ {
		ev := e.evs[i]
		if ev.who == who && ev.what == what && (detail == "" || ev.detail == detail) {
			return i
		}
	}
	return -1
}

// wait is find that waits (at most waitFor's bound) for the event.
func (e *events) wait(tb testing.TB, after int, who, what, detail string) int {
	tb.Helper()
	i := -1
	waitFor(tb, fmt.Sprintf("%s %s %s after event %d", who, what, detail, after), func() bool {
		i = e.find(after, who, what, detail)
		return i >= 0
	})
	return i
}

func (e *events) get(i int) event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.evs[i]
}

func (e *events) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	for i, ev := range e.evs {
		fmt.Fprintf(&b, "%d %s %s %s\n", i, ev.who, ev.what, ev.detail)
	}
	return b.String()
}

// replica is a second process on the database: a handle of its own and a
// dispatcher whose idle poll is an hour, so that in a test only a
// wake-up makes it look at the table.
func replica(tb testing.TB, env *testEnv, owner string, ev *events) *Dispatcher {
	d := &Dispatcher{
		DB: env.open(tb), Owner: owner, Workers: 4, PerPeer: -1, Lease: time.Minute, PollInterval: time.Hour,
		Logger: quietLogger, trace: ev.tracer(owner),
		Deliver: func(ctx context.Context, m *OutMessage) (Outcome, error) {
			ev.add(owner, "deliver", m.DedupeKey)
			return Delivered("ok"), nil
		},
	}
	d.init()
	return d
}

// TestReplicasWakeEachOther: on PostgreSQL a message enqueued by one
// process wakes the dispatcher of another, which picks it up. The
// receiving dispatcher polls once an hour and is idle (nothing in
// flight, no wake-up pending) when the message is enqueued, so only the
// notification can make it deliver; the trace shows it woken by the
// notification before it delivers. The enqueuing process runs no
// dispatcher.
func TestReplicasWakeEachOther(t *testing.T) {
	env := postgresEnv(t)
	ev := &events{}
	a := replica(t, env, "a", ev) // enqueues only
	b := replica(t, env, "b", ev)
	start(t, b)
	at := ev.wait(t, 0, "b", "listening", "")
	at = ev.wait(t, at, "b", "idle", "")
	ctx := context.Background()
	tests := []struct {
		name    string
		enqueue func(m OutMessage) error
	}{
		{"in the other's Dispatcher.InTx", func(m OutMessage) error {
			return a.InTx(ctx, func(tx *sql.Tx) error {
				_, err := a.Enqueue(ctx, tx, m, time.Time{})
				return err
			})
		}},
		{"two messages in one of the other's transactions", func(m OutMessage) error {
			return a.InTx(ctx, func(tx *sql.Tx) error {
				m2 := m
				m2.DedupeKey += ":second"
				for _, m := range []OutMessage{m, m2} {
					if _, err := a.Enqueue(ctx, tx, m, time.Time{}); err != nil {
						return err
					}
				}
				return nil
			})
		}},
		{"in another transaction of the other's, then Kick", func(m OutMessage) error {
			err := a.DB.InTx(ctx, func(tx *sql.Tx) error {
				_, err := a.Enqueue(ctx, tx, m, time.Time{})
				return err
			})
			a.Kick()
			return err
		}},
		{"by the other's Retry", func(m OutMessage) error {
			id := mustID(t, a.DB, testMsg(0, "").DedupeKey)
			mustExec(t, a.DB, `UPDATE outbox SET state = 'dead' WHERE id = ?`, id)
			return a.Retry(ctx, id)
		}},
	}
	for i, tt := range tests {
		m := testMsg(i, "")
		if i == len(tests)-1 {
			m = testMsg(0, "") // requeued
		}
		if err := tt.enqueue(m); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		woken := ev.wait(t, at, "b", "woken", "notified")
		delivered := ev.wait(t, at, "b", "deliver", m.DedupeKey)
		if woken > delivered {
			t.Fatalf("%s: delivered before the notification woke the dispatcher:\n%s", tt.name, ev)
		}
		// Idle again (the delivery recorded) before the next message.
		at = ev.wait(t, delivered, "b", "idle", "")
	}
	if n := countRows(t, a.DB, "SELECT COUNT(*) FROM outbox WHERE state = 'done'"); n != len(tests) {
		t.Errorf("%d messages delivered, want %d:\n%s", n, len(tests), ev)
	}
	for i := 0; ; i++ {
		if i = ev.find(i, "a", "", ""); i < 0 {
			break
		}
		if e := ev.get(i); e.what != "notify" || e.detail != "<nil>" {
			t.Errorf("the enqueuing process: %v (its dispatcher does not run; it only notifies)", e)
		}
	}
}

// TestReplicasExactlyOnce: two processes on one PostgreSQL database,
// both enqueuing at once from several goroutines and both delivering:
// every message is delivered exactly once, and nothing waits for the
// poll (an hour): each is picked up on a wake-up, its own process's or
// the other's.
func TestReplicasExactlyOnce(t *testing.T) {
	env := postgresEnv(t)
	ev := &events{}
	rs := []*Dispatcher{replica(t, env, "a", ev), replica(t, env, "b", ev)}
	var stops []func()
	for _, d := range rs {
		stops = append(stops, start(t, d))
		ev.wait(t, 0, d.Owner, "listening", "")
	}
	const goroutines, txs = 4, 20 // per replica; each transaction enqueues 1 or 2
	ctx := context.Background()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		keys []string
	)
	for r, d := range rs {
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range txs {
					n := 1 + i%2
					var mine []string
					err := d.InTx(ctx, func(tx *sql.Tx) error {
						mine = mine[:0]
						for j := range n {
							m := testMsg(i, "")
							m.DedupeKey = fmt.Sprintf("r%d:g%d:t%d:%d", r, g, i, j)
							if _, err := d.Enqueue(ctx, tx, m, time.Time{}); err != nil {
								return err
							}
							mine = append(mine, m.DedupeKey)
						}
						return nil
					})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					keys = append(keys, mine...)
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	want := len(rs) * goroutines * (txs + txs/2)
	if len(keys) != want {
		t.Fatalf("%d messages enqueued, want %d", len(keys), want)
	}
	waitFor(t, "all delivered", allDone(t, rs[0].DB, want))
	for _, stop := range stops {
		stop()
	}
	count := map[string]int{}
	by := map[string]int{}
	ev.mu.Lock()
	for _, e := range ev.evs {
		if e.what == "deliver" {
			count[e.detail]++
			by[e.who]++
		}
	}
	ev.mu.Unlock()
	for _, k := range keys {
		if count[k] != 1 {
			t.Errorf("%s delivered %d times", k, count[k])
		}
	}
	if len(count) != want {
		t.Errorf("%d messages delivered, want %d", len(count), want)
	}
	t.Logf("deliveries per replica: %v", by)
}

// TestReplicaListenerReconnects: when the listening connection is lost,
// a message enqueued meanwhile is not lost: the dispatcher reconnects,
// and once it listens again it looks at the table (its poll is an hour,
// so nothing else would find the message).
func TestReplicaListenerReconnects(t *testing.T) {
	env := postgresEnv(t)
	ev := &events{}
	a := replica(t, env, "a", ev)
	b := replica(t, env, "b", ev)
	gate := make(chan struct{})
	var dials int
	var dialMu sync.Mutex
	b.dial = func(ctx context.Context) (*pgx.Conn, error) {
		dialMu.Lock()
		dials++
		first := dials == 1
		dialMu.Unlock()
		if !first {
			select {
			case <-gate:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return pgx.ConnectConfig(ctx, b.DB.pgConfig.Copy())
	}
	start(t, b)
	at := ev.wait(t, 0, "b", "listening", "")
	pid := ev.get(at).detail
	at = ev.wait(t, at, "b", "idle", "")
	var killed bool
	if err := a.DB.QueryRowContext(context.Background(), `SELECT pg_terminate_backend(CAST($1 AS INTEGER))`, pid).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminating the listener's session %s: %v, %v", pid, killed, err)
	}
	lost := ev.wait(t, at, "b", "listen-lost", "")
	m := testMsg(1, "")
	ctx := context.Background()
	if err := a.InTx(ctx, func(tx *sql.Tx) error {
		_, err := a.Enqueue(ctx, tx, m, time.Time{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	close(gate)
	again := ev.wait(t, lost, "b", "listening", "")
	delivered := ev.wait(t, lost, "b", "deliver", m.DedupeKey)
	if delivered < again {
		t.Fatalf("delivered before listening again (the dispatcher was idle with an hour's poll):\n%s", ev)
	}
}

// TestDispatcherListens: on SQLite there is no listener (the
// wake-up is in-process only), and NoListen turns it off on PostgreSQL.
func TestDispatcherListens(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		db := env.open(t)
		for _, no := range []bool{false, true} {
			d := &Dispatcher{DB: db, NoListen: no}
			if got, want := d.listens(), db.Dialect == Postgres && !no; got != want {
				t.Errorf("NoListen %v: listens %v, want %v", no, got, want)
			}
		}
	})
}

// BenchmarkEnqueueWakeUp: what the wake-up across processes costs the
// enqueuing side on PostgreSQL, 32 goroutines each committing one message
// a transaction: "kick" through Dispatcher.InTx (its Kick after each
// commit: the NOTIFYs after the commits, one in flight at a time),
// "in-tx" with a pg_notify in each transaction instead (PostgreSQL
// serializes the commits of notifying transactions), "plain" the same
// transactions with neither.
func BenchmarkEnqueueWakeUp(b *testing.B) {
	env := postgresEnv(b)
	db := env.open(b, WithMaxOpenConns(32))
	d := &Dispatcher{DB: db}
	ctx := context.Background()
	for _, way := range []string{"plain", "kick", "in-tx"} {
		b.Run(way, func(b *testing.B) {
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					m := testMsg(0, "")
					m.DedupeKey = fmt.Sprint("wake:", benchSeq.Add(1))
					var err error
					switch way {
					case "kick":
						err = d.InTx(ctx, func(tx *sql.Tx) error {
							_, err := d.Enqueue(ctx, tx, m, time.Time{})
							return err
						})
					default:
						err = db.InTx(ctx, func(tx *sql.Tx) error {
							if _, err := EnqueueIfNew(ctx, tx, db.Dialect, m, time.Time{}); err != nil || way == "plain" {
								return err
							}
							_, err := tx.ExecContext(ctx, `SELECT pg_notify('baohan_bench', '')`)
							return err
						})
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
