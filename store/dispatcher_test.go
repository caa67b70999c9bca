package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// start runs d until the test ends (or stop is called) and fails the test
// if Run returns an error.
func start(tb testing.TB, d *Dispatcher) (stop func()) {
	tb.Helper()
	if d.Logger == nil {
		d.Logger = quietLogger
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				tb.Errorf("Run: %v", err)
			}
		})
	}
	tb.Cleanup(stop)
	return stop
}

func getMsg(tb testing.TB, db *DB, id int64) *OutMessage {
	tb.Helper()
	m, err := db.OutboxGet(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func allDone(tb testing.TB, db *DB, n int) func() bool {
	return func() bool {
		return countRows(tb, db, "SELECT COUNT(*) FROM outbox WHERE state = 'done'") == n
	}
}

// deliveries counts calls and successful deliveries per dedupe key.
type deliveries struct {
	mu    sync.Mutex
	calls map[string]int
	ok    map[string]int
	by    map[string]int // successes per owner
}

func newDeliveries() *deliveries {
	return &deliveries{calls: map[string]int{}, ok: map[string]int{}, by: map[string]int{}}
}

func (d *deliveries) call(key string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls[key]++
	return d.calls[key]
}

func (d *deliveries) success(key, owner string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ok[key]++
	d.by[owner]++
}

func TestDispatcherNeedsDeliver(t *testing.T) {
	if err := (&Dispatcher{}).Run(context.Background()); err == nil {
		t.Fatal("Run without DB and Deliver succeeded")
	}
}

// TestDispatcherInTxWakes: a transaction of Dispatcher.InTx that adds a
// message wakes the dispatcher once it commits, and only then; one that
// adds nothing (nothing at all, or a message already there) or rolls back
// does not. Retry wakes it too.
func TestDispatcherInTxWakes(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		db := env.open(t)
		ctx := context.Background()
		d := &Dispatcher{DB: db}
		d.init()
		woken := func() bool {
			select {
			case <-d.kick:
				return true
			default:
				return false
			}
		}
		errAbort := errors.New("abort")
		tests := []struct {
			name    string
			fn      func(tx *sql.Tx) error
			wantErr error
			wake    bool
		}{
			{"adds a message", func(tx *sql.Tx) error {
				_, err := d.Enqueue(ctx, tx, testMsg(1, ""), time.Time{})
				return err
			}, nil, true},
			{"adds nothing", func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, db.Rebind(`UPDATE outbox SET applyno = applyno WHERE id = ?`), 1)
				return err
			}, nil, false},
			{"adds a message already there", func(tx *sql.Tx) error {
				inserted, err := d.Enqueue(ctx, tx, testMsg(1, ""), time.Time{})
				if inserted {
					t.Error("a message with a known dedupe key was inserted")
				}
				return err
			}, nil, false},
			{"rolls back", func(tx *sql.Tx) error {
				if _, err := d.Enqueue(ctx, tx, testMsg(2, ""), time.Time{}); err != nil {
					return err
				}
				return errAbort
			}, errAbort, false},
		}
		for _, tt := range tests {
			err := d.InTx(ctx, func(tx *sql.Tx) error {
				err := tt.fn(tx)
				if woken() {
					t.Errorf("%s: woken before the commit", tt.name)
				}
				return err
			})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("%s: %v, want %v", tt.name, err, tt.wantErr)
			}
			if got := woken(); got != tt.wake {
				t.Errorf("%s: woken %v, want %v", tt.name, got, tt.wake)
			}
		}
		if n := countRows(t, db, "SELECT COUNT(*) FROM outbox"); n != 1 {
			t.Fatalf("%d messages, want 1 (the rolled back one is not there)", n)
		}
		if _, err := db.ExecContext(ctx, `UPDATE outbox SET state = 'dead'`); err != nil {
			t.Fatal(err)
		}
		err := d.Retry(ctx, mustID(t, db, testMsg(1, "").DedupeKey))
		if w := woken(); err != nil || !w {
			t.Errorf("Retry: %v, woken %v", err, w)
		}
		if len(d.txs) != 0 {
			t.Errorf("%d transactions still watched", len(d.txs))
		}
	})
}

// The peer is down for the first attempts of every message, then up:
// every message is delivered exactly once, after retries with backoff.
func TestDispatcherPeerDownThenUp(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		db := env.open(t)
		const n = 20
		var msgs []OutMessage
		for i := range n {
			msgs = append(msgs, testMsg(i, ""))
		}
		enqueue(t, db, msgs...)
		var up atomic.Bool
		dl := newDeliveries()
		d := &Dispatcher{
			DB: db, Owner: "d1", Workers: 4, PollInterval: 20 * time.Millisecond,
			Backoff: Backoff{Initial: 2 * time.Millisecond, Max: 20 * time.Millisecond, MaxAttempts: -1},
			Deliver: func(ctx context.Context, m *OutMessage) (Outcome, error) {
				c := dl.call(m.DedupeKey)
				if !up.Load() || c < 3 {
					return Outcome{}, fmt.Errorf("dial tcp 127.0.0.1:9: connection refused")
				}
				dl.success(m.DedupeKey, "d1")
				return Delivered(`{"code":1,"message":"ok","data":{}}`), nil
			},
		}
		start(t, d)
		waitFor(t, "failed attempts", func() bool {
			return countRows(t, db, "SELECT COUNT(*) FROM outbox WHERE attempts >= 2") == n
		})
		up.Store(true)
		waitFor(t, "all delivered", allDone(t, db, n))
		d.Kick()
		time.Sleep(50 * time.Millisecond) // a chance to (wrongly) deliver again
		for _, m := range msgs {
			if dl.ok[m.DedupeKey] != 1 {
				t.Errorf("%s delivered %d times", m.DedupeKey, dl.ok[m.DedupeKey])
			}
			got := getMsg(t, db, mustID(t, db, m.DedupeKey))
			if got.Attempts != dl.calls[m.DedupeKey] || got.LastError != "" || got.DeliveredAt.IsZero() ||
				!strings.Contains(got.LastResponse, `"code":1`) || got.LeaseOwner != "" {
				t.Errorf("%s: %+v after %d calls", m.DedupeKey, got, dl.calls[m.DedupeKey])
			}
		}
	})
}

func mustID(tb testing.TB, db *DB, key string) int64 {
	tb.Helper()
	var id int64
	if err := db.QueryRow(db.Rebind("SELECT id FROM outbox WHERE dedupe_key = ?"), key).Scan(&id); err != nil {
		tb.Fatal(err)
	}
	return id
}

// With an injected clock the schedule is exact (no jitter): 1s, 2s, 4s, 4s
// (capped), then dead after MaxAttempts; nothing is tried before it is due;
// OutboxRetry brings a dead message back.
func TestDispatcherBackoffSchedule(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		db := env.open(t)
		clock := newFakeClock()
		enqueue(t, db, testMsg(1, ""))
		id := mustID(t, db, testMsg(1, "").DedupeKey)
		var (
			calls   atomic.Int32
			succeed atomic.Bool
			hooked  = make(chan Outcome, 10)
		)
		d := &Dispatcher{
			DB: db, Owner: "d1", Now: clock.Now, PollInterval: 10 * time.Millisecond,
			Backoff: Backoff{Initial: time.Second, Max: 4 * time.Second, Multiplier: 2, Jitter: -1, MaxAttempts: 5},
			Deliver: func(ctx context.Context, m *OutMessage) (Outcome, error) {
				calls.Add(1)
				if succeed.Load() {
					return Delivered("ok"), nil
				}
				return Outcome{}, errors.New("HTTP 502 Bad Gateway")
			},
			OnOutcome: func(ctx context.Context, tx *sql.Tx, m *OutMessage, o Outcome) error {
				hooked <- o
				return nil
			},
		}
		start(t, d)
		for attempt, wantDelay := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
			waitFor(t, fmt.Sprintf("attempt %d", attempt+1), func() bool { return calls.Load() == int32(attempt+1) })
			waitFor(t, "failed state", func() bool { return getMsg(t, db, id).State == StateFailed })
			m := getMsg(t, db, id)
			if got := m.NextAttemptAt.Sub(clock.Now()); got != wantDelay || m.Attempts != attempt+1 || m.LastError != "HTTP 502 Bad Gateway" {
				t.Fatalf("after attempt %d: delay %v (want %v), %+v", attempt+1, got, wantDelay, m)
			}
			// Not due yet: polls and kicks do not deliver it.
			clock.Add(wantDelay - time.Millisecond)
			d.Kick()
			time.Sleep(30 * time.Millisecond)
			if calls.Load() != int32(attempt+1) {
				t.Fatalf("delivered before it was due")
			}
			clock.Add(time.Millisecond)
			d.Kick()
		}
		waitFor(t, "dead", func() bool { return getMsg(t, db, id).State == StateDead })
		m := getMsg(t, db, id)
		if m.Attempts != 5 || !strings.Contains(m.LastError, "gave up after 5 attempts: HTTP 502") {
			t.Fatalf("dead message %+v", m)
		}
		if o := <-hooked; o.Kind != OutcomeDead {
			t.Fatalf("OnOutcome got %v, want dead", o.Kind)
		}
		if len(hooked) != 0 {
			t.Fatalf("OnOutcome ran for transport errors")
		}
		clock.Add(time.Hour)
		d.Kick()
		time.Sleep(30 * time.Millisecond)
		if calls.Load() != 5 {
			t.Fatal("a dead message was delivered")
		}
		succeed.Store(true)
		if err := db.OutboxRetry(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		d.Kick()
		waitFor(t, "done after requeue", func() bool { return getMsg(t, db, id).State == StateDone })
		if o := <-hooked; o.Kind != OutcomeDone || o.Response != "ok" {
			t.Fatalf("OnOutcome got %+v", o)
		}
	})
}

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: 5 * time.Minute, Multiplier: 2, Jitter: 0.2}
	for attempt, base := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 9: 256 * time.Second, 10: 5 * time.Minute, 1000: 5 * time.Minute} {
		for range 100 {
			d := b.Delay(attempt)
			if d < base*8/10 || d > base*12/10 {
				t.Fatalf("Delay(%d) = %v, want %v ±20%%", attempt, d, base)
			}
		}
	}
	var zero Backoff
	if zero.Exhausted(59) || !zero.Exhausted(60) {
		t.Fatal("default MaxAttempts is not 60")
	}
	if (Backoff{MaxAttempts: -1}).Exhausted(1 << 20) {
		t.Fatal("negative MaxAttempts is not unlimited")
	}
	if d := (Backoff{Jitter: -1}).Delay(2); d != 2*time.Second {
		t.Fatalf("default without jitter: Delay(2) = %v", d)
	}
}

// Outcomes chosen by Deliver: a business retry with its own delay, give up,
// a panic (retried like an error).
func TestDispatcherOutcomes(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		db := env.open(t)
		clock := newFakeClock()
		retry, dead, panicky := testMsg(1, ""), testMsg(2, ""), testMsg(3, "")
		enqueue(t, db, retry, dead, panicky)
		dl := newDeliveries()
		d := &Dispatcher{
			DB: db, Now: clock.Now, PollInterval: 10 * time.Millisecond, Backoff: Backoff{Jitter: -1},
			Deliver: func(ctx context.Context, m *OutMessage) (Outcome, error) {
				dl.call(m.DedupeKey)
				switch m.DedupeKey {
				case retry.DedupeKey:
					return RetryLater(`{"code":0,"message":"not paid yet"}`, "not paid yet", 10*time.Minute), nil
				case dead.DedupeKey:
					return GiveUp(`{"code":0,"message":"unknown applyno"}`, "unknown applyno"), nil
				}
				panic("nil map")
			},
		}
		start(t, d)
		waitFor(t, "outcomes", func() bool {
			c, _ := db.OutboxCounts(context.Background())
			return c[StateFailed] == 2 && c[StateDead] == 1
		})
		r := getMsg(t, db, mustID(t, db, retry.DedupeKey))
		if r.NextAttemptAt.Sub(clock.Now()) != 10*time.Minute || r.LastError != "not paid yet" || !strings.Contains(r.LastResponse, "not paid") {
			t.Errorf("retry: %+v", r)
		}
		x := getMsg(t, db, mustID(t, db, dead.DedupeKey))
		if x.Attempts != 1 || x.LastError != "unknown applyno" {
			t.Errorf("dead: %+v", x)
		}
		p := getMsg(t, db, mustID(t, db, panicky.DedupeKey))
		if p.NextAttemptAt.Sub(clock.Now()) != time.Second || !strings.Contains(p.LastError, "panic in Deliver: nil map") {
			t.Errorf("panic: %+v", p)
		}
	})
}

// OnOutcome runs in the transaction that completes the delivery: it sees
// the message done, its writes commit with it, and its error leaves the
// message not done (retried later).
func TestDispatcherOnOutcomeInTransaction(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		db := env.open(t)
		mustExec(t, db, "CREATE TABLE applied (applyno TEXT PRIMARY KEY, response TEXT NOT NULL)")
		enqueue(t, db, testMsg(1, ""))
		id := mustID(t, db, testMsg(1, "").DedupeKey)
		var (
			calls, hooks atomic.Int32
			release      = make(chan struct{})
		)
		d := &Dispatcher{
			DB: db, PollInterval: 10 * time.Millisecond, Backoff: Backoff{Initial: time.Millisecond, Jitter: -1},
			Deliver: func(ctx context.Context, m *OutMessage) (Outcome, error) {
				calls.Add(1)
				return Delivered(`{"code":1,"data":{"baohanno":"B1"}}`), nil
			},
			OnOutcome: func(ctx context.Context, tx *sql.Tx, m *OutMessage, o Outcome) error {
				var state string
				if err := tx.QueryRowContext(ctx, db.Rebind("SELECT state FROM outbox WHERE id = ?"), m.ID).Scan(&state); err != nil {
					return err
				}
				if state != "done" || m.State != StateDone {
					return fmt.Errorf("hook sees state %s / %s, want done", state, m.State)
				}
				if _, err := tx.ExecContext(ctx, db.Rebind("INSERT INTO applied VALUES (?, ?)"), m.ApplyNo, o.Response); err != nil {
					return err
				}
				switch hooks.Add(1) {
				case 1:
					<-release
					return errors.New("applying the answer failed")
				case 2:
					panic("hook bug")
				}
				return nil
			},
		}
		d.Backoff.Initial = time.Hour // hold the retry until we have looked
		clock := newFakeClock()
		d.Now = clock.Now
		start(t, d)
		waitFor(t, "first hook", func() bool { return hooks.Load() == 1 })
		close(release)
		waitFor(t, "failed", func() bool { return getMsg(t, db, id).State == StateFailed })
		m := getMsg(t, db, id)
		if !strings.Contains(m.LastError, "OnOutcome: applying the answer failed") || !m.DeliveredAt.IsZero() {
			t.Fatalf("after a failing hook: %+v", m)
		}
		if n := countRows(t, db, "SELECT COUNT(*) FROM applied"); n != 0 {
			t.Fatalf("hook's write survived its error")
		}
		clock.Add(2 * time.Hour)
		d.Kick()
		waitFor(t, "second failure", func() bool { return strings.Contains(getMsg(t, db, id).LastError, "OnOutcome: panic: hook bug") })
		clock.Add(2 * time.Hour)
		d.Kick()
		waitFor(t, "done", func() bool { return getMsg(t, db, id).State == StateDone })
		if n := countRows(t, db, "SELECT COUNT(*) FROM applied WHERE applyno = 'A0001' AND response LIKE '%B1%'"); n != 1 {
			t.Fatalf("%d applied rows, want 1", n)
		}
		if calls.Load() != 3 || hooks.Load() != 3 {
			t.Fatalf("%d deliveries, %d hooks; want 3 and 3", calls.Load(), hooks.Load())
		}
	})
}

// A dispatcher stuck in Deliver past its lease (it ignores its context):
// another dispatcher takes the message over after the lease expires and
// delivers it; the stuck one's late completion is fenced off.
func TestDispatcherLeaseExpiryTakeover(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		a, b := env.open(t), env.open(t)
		enqueue(t, a, testMsg(1, ""))
		id := mustID(t, a, testMsg(1, "").DedupeKey)
		var (
			started  = make(chan struct{})
			release  = make(chan struct{})
			hookedBy = make(chan string, 4)
			d2At     atomic.Int64
		)
		hook := func(owner string) func(context.Context, *sql.Tx, *OutMessage, Outcome) error {
			return func(ctx context.Context, tx *sql.Tx, m *OutMessage, o Outcome) error {
				hookedBy <- owner
				return nil
			}
		}
		d1 := &Dispatcher{
			DB: a, Owner: "stuck", Workers: 1, Lease: 300 * time.Millisecond, PollInterval: 10 * time.Millisecond,
			Deliver: func(ctx context.Context, m *OutMessage) (Outcome, error) {
				close(started)
				<-release
				return Delivered("late"), nil
			},
			OnOutcome: hook("stuck"),
		}
		start(t, d1)
		<-started
		leased := getMsg(t, a, id)
		if leased.State != StateDelivering || leased.LeaseOwner != "stuck" || leased.Attempts != 1 {
			t.Fatalf("claimed message %+v", leased)
		}
		d2 := &Dispatcher{
			DB: b, Owner: "rescuer", Lease: time.Minute, PollInterval: 10 * time.Millisecond,
			Deliver: func(ctx context.Context, m *OutMessage) (Outcome, error) {
				d2At.Store(time.Now().UnixMicro())
				return Delivered("rescued"), nil
			},
			OnOutcome: hook("rescuer"),
		}
		start(t, d2)
		waitFor(t, "takeover", func() bool { return getMsg(t, b, id).State == StateDone })
		if at := time.UnixMicro(d2At.Load()); at.Before(leased.LeaseUntil) {
			t.Fatalf("taken over at %v, before the lease ended at %v", at, leased.LeaseUntil)
		}
		close(release)
		if who := <-hookedBy; who != "rescuer" {
			t.Fatalf("hook ran for %s", who)
		}
		time.Sleep(50 * time.Millisecond) // the stuck dispatcher completes (or not)
		m := getMsg(t, b, id)
		if m.State != StateDone || m.LastResponse != "rescued" || m.Attempts != 2 || len(hookedBy) != 0 {
			t.Fatalf("after the late completion: %+v, %d more hooks", m, len(hookedBy))
		}
	})
}

// Restarts. Graceful: a stopped dispatcher releases what it was delivering,
// and the next process sends it at once. Crash: leases are left behind
// with the handles closed; after a reopen, a new dispatcher delivers every
// message once the leases expire.
func TestDispatcherRestart(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		a := env.open(t)
		const n = 10
		var msgs []OutMessage
		for i := range n {
			msgs = append(msgs, testMsg(i, ""))
		}
		enqueue(t, a, msgs...)

		var inFlight atomic.Int32
		d1 := &Dispatcher{
			DB: a, Owner: "first", Workers: 3, PerPeer: -1, Lease: time.Hour, PollInterval: 10 * time.Millisecond,
			Deliver: func(ctx context.Context, m *OutMessage) (Outcome, error) {
				inFlight.Add(1)
				<-ctx.Done()
				return Outcome{}, ctx.Err()
			},
		}
		stop := start(t, d1)
		waitFor(t, "three in flight", func() bool { return inFlight.Load() == 3 })
		stop()
		if c, _ := a.OutboxCounts(ctx); c[StatePending] != n {
			t.Fatalf("after a graceful stop: %v, want all %d pending", c, n)
		}
		// Crash: claim five, then the process dies.
		crashed := &Dispatcher{DB: a, Owner: "crashed", Lease: 400 * time.Millisecond}
		crashed.init()
		claimed, err := crashed.claim(ctx, 5)
		if err != nil || len(claimed) != 5 {
			t.Fatalf("claim: %d, %v", len(claimed), err)
		}
		leaseEnd := claimed[0].LeaseUntil
		a.Close()

		b := env.open(t) // the restarted process
		dl := newDeliveries()
		var early atomic.Int32
		d2 := &Dispatcher{
			DB: b, Owner: "second", Workers: 4, PollInterval: 10 * time.Millisecond,
			Deliver: func(ctx context.Context, m *OutMessage) (Outcome, error) {
				if m.LeaseOwner == "" && m.Attempts == 2 && time.Now().Before(leaseEnd) {
					early.Add(1)
				}
				dl.call(m.DedupeKey)
				dl.success(m.DedupeKey, "second")
				return Delivered("ok"), nil
			},
		}
		start(t, d2)
		waitFor(t, "all delivered after restart", allDone(t, b, n))
		if early.Load() != 0 {
			t.Fatalf("%d leased messages delivered before their lease expired", early.Load())
		}
		for _, m := range msgs {
			if dl.ok[m.DedupeKey] != 1 {
				t.Errorf("%s delivered %d times", m.DedupeKey, dl.ok[m.DedupeKey])
			}
		}
		if n := countRows(t, b, "SELECT COUNT(*) FROM outbox WHERE attempts = 2"); n != 5 {
			t.Errorf("%d messages with 2 attempts, want the 5 crashed ones", n)
		}
	})
}

// Two dispatchers (two processes: two handles, different owners) on one
// database, many messages, slow delivery: each message delivered once.
func TestTwoDispatchersExactlyOnce(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		a, b := env.open(t), env.open(t)
		const n = 300
		var msgs []OutMessage
		for i := range n {
			g := ""
			if i%10 == 0 {
				g = fmt.Sprint("g", i%30)
			}
			msgs = append(msgs, testMsg(i, g))
		}
		enqueue(t, a, msgs...)
		dl := newDeliveries()
		// Each dispatcher's first deliveries wait (bounded) until the other
		// has claimed something too, so that the two really run at once
		// however the scheduler of a loaded machine favours one of them.
		var started sync.Map
		both := make(chan struct{})
		var bothOnce sync.Once
		for _, p := range []struct {
			db    *DB
			owner string
		}{{a, "one"}, {b, "two"}} {
			d := &Dispatcher{
				DB: p.db, Owner: p.owner, Workers: 4, PerPeer: -1, Lease: 30 * time.Second, PollInterval: 5 * time.Millisecond,
				Deliver: func(ctx context.Context, m *OutMessage) (Outcome, error) {
					if m.LeaseOwner != p.owner {
						return Outcome{}, fmt.Errorf("claimed by %s, delivered by %s", m.LeaseOwner, p.owner)
					}
					started.Store(p.owner, true)
					if _, one := started.Load("one"); one {
						if _, two := started.Load("two"); two {
							bothOnce.Do(func() { close(both) })
						}
					}
					select {
					case <-both:
					case <-time.After(10 * time.Second):
					}
					dl.call(m.DedupeKey)
					time.Sleep(time.Millisecond)
					dl.success(m.DedupeKey, p.owner)
					return Delivered("ok"), nil
				},
			}
			start(t, d)
		}
		waitFor(t, "all delivered", allDone(t, a, n))
		dl.mu.Lock()
		defer dl.mu.Unlock()
		for _, m := range msgs {
			if dl.calls[m.DedupeKey] != 1 || dl.ok[m.DedupeKey] != 1 {
				t.Errorf("%s: %d calls, %d deliveries", m.DedupeKey, dl.calls[m.DedupeKey], dl.ok[m.DedupeKey])
			}
		}
		if dl.by["one"] == 0 || dl.by["two"] == 0 {
			t.Errorf("work not shared: %v", dl.by)
		}
		t.Logf("deliveries per dispatcher: %v", dl.by)
	})
}

// Sequence groups: chunks go out in order and the complete notice last,
// although deliveries fail at random and four workers run.
func TestSequenceGroups(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		db := env.open(t)
		const groups, per = 3, 8
		var msgs []OutMessage
		for i := range per { // interleaved: g0#0, g1#0, g2#0, g0#1, ...
			for g := range groups {
				m := testMsg(g*100+i, fmt.Sprint("applyno-", g))
				m.Interface = "uploadbaohanfile"
				if i == per-1 {
					m.Interface = "baohanfilecompletenotice"
				}
				msgs = append(msgs, m)
			}
		}
		for i := range 5 {
			msgs = append(msgs, testMsg(1000+i, ""))
		}
		enqueue(t, db, msgs...)
		var (
			mu         sync.Mutex
			delivered  = map[string][]int64{}
			violations []string
			rng        = rand.New(rand.NewPCG(1, 2))
		)
		d := &Dispatcher{
			DB: db, Workers: 4, PerPeer: -1, PollInterval: 5 * time.Millisecond,
			Backoff: Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond, MaxAttempts: -1},
			Deliver: func(ctx context.Context, m *OutMessage) (Outcome, error) {
				mu.Lock()
				defer mu.Unlock()
				if m.Group != "" {
					if got := delivered[m.Group]; len(got) > 0 && got[len(got)-1] > m.ID {
						violations = append(violations, fmt.Sprintf("%d after %v", m.ID, got))
					}
				}
				if rng.IntN(10) < 3 {
					return Outcome{}, errors.New("flaky peer")
				}
				if m.Group != "" {
					delivered[m.Group] = append(delivered[m.Group], m.ID)
				}
				return Delivered("ok"), nil
			},
		}
		start(t, d)
		waitFor(t, "all delivered", allDone(t, db, len(msgs)))
		mu.Lock()
		defer mu.Unlock()
		for _, v := range violations {
			t.Error("out of order:", v)
		}
		for g := range groups {
			list, err := db.OutboxList(context.Background(), OutboxFilter{Group: fmt.Sprint("applyno-", g)})
			if err != nil {
				t.Fatal(err)
			}
			var want []int64
			for i := len(list) - 1; i >= 0; i-- {
				want = append(want, list[i].ID)
			}
			if got := delivered[fmt.Sprint("applyno-", g)]; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("group %d delivered %v, want %v", g, got, want)
			}
			if list[0].Interface != "baohanfilecompletenotice" {
				t.Errorf("group %d: last is %s", g, list[0].Interface)
			}
		}
	})
}

// A dead message blocks the rest of its group until it is requeued.
func TestSequenceGroupBlockedByDead(t *testing.T) {
	db := sqliteEnv(t).open(t)
	first, second := testMsg(1, "g"), testMsg(2, "g")
	enqueue(t, db, first, second)
	var calls sync.Map
	var fail atomic.Bool
	fail.Store(true)
	d := &Dispatcher{
		DB: db, PollInterval: 5 * time.Millisecond,
		Deliver: func(ctx context.Context, m *OutMessage) (Outcome, error) {
			calls.Store(m.DedupeKey, true)
			if fail.Load() {
				return GiveUp("", "rejected"), nil
			}
			return Delivered("ok"), nil
		},
	}
	start(t, d)
	id := mustID(t, db, first.DedupeKey)
	waitFor(t, "first dead", func() bool { return getMsg(t, db, id).State == StateDead })
	d.Kick()
	time.Sleep(30 * time.Millisecond)
	if _, ok := calls.Load(second.DedupeKey); ok {
		t.Fatal("second message delivered while the first is dead")
	}
	fail.Store(false)
	if err := db.OutboxRetry(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	d.Kick()
	waitFor(t, "both done", allDone(t, db, 2))
}

// Kick wakes a dispatcher that would otherwise sleep for an hour.
func TestKickWakesDispatcher(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		db := env.open(t)
		var got atomic.Int32
		d := &Dispatcher{
			DB: db, PollInterval: time.Hour,
			Deliver: func(ctx context.Context, m *OutMessage) (Outcome, error) {
				got.Add(1)
				return Delivered("ok"), nil
			},
		}
		start(t, d)
		time.Sleep(50 * time.Millisecond) // let it find nothing and go to sleep
		enqueue(t, db, testMsg(1, ""))
		d.Kick()
		waitFor(t, "kicked delivery", func() bool { return got.Load() == 1 })
	})
}

func TestPeerLimit(t *testing.T) {
	for _, tc := range []struct {
		workers, perPeer, want int
	}{
		{4, 0, 2}, {5, 0, 3}, {16, 0, 8}, {2, 0, 1},
		{1, 0, 0}, // the default of one worker is that worker: no limit
		{4, 1, 1}, {4, 3, 3},
		{4, 4, 0}, {4, 9, 0}, {4, -1, 0},
	} {
		if got := (&Dispatcher{PerPeer: tc.perPeer}).peerLimit(tc.workers); got != tc.want {
			t.Errorf("Workers %d, PerPeer %d: limit %d, want %d", tc.workers, tc.perPeer, got, tc.want)
		}
	}
}

func peerMsg(peer string, i int) OutMessage {
	m := testMsg(i, "")
	m.Peer = peer
	m.DedupeKey = fmt.Sprint(peer, i)
	return m
}

// flights counts the deliveries in progress per peer, and the most seen.
type flights struct {
	mu       sync.Mutex
	cur, top map[string]int
	done     map[string]int // deliveries per dedupe key
}

func newFlights() *flights {
	return &flights{cur: map[string]int{}, top: map[string]int{}, done: map[string]int{}}
}

func (f *flights) enter(peer string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cur[peer]++
	f.top[peer] = max(f.top[peer], f.cur[peer])
}

func (f *flights) leave(m *OutMessage, delivered bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cur[m.Peer]--
	if delivered {
		f.done[m.DedupeKey]++
	}
}

func (f *flights) get(what map[string]int, key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return what[key]
}

// One peer's deliveries block (a peer that times out): with a limit, it
// holds at most its share of the workers while the other peer has
// messages due (PerPeer, or half the workers when both are at their limit
// and share the rest), its other messages stay pending (no lease, no
// attempt spent) and the other peer's messages are delivered meanwhile;
// once nothing else is due, it borrows the idle workers. Without a limit
// it holds every worker at once and the other peer waits. Once it
// answers, everything is delivered, once.
func TestDispatcherPerPeerLimit(t *testing.T) {
	const workers = 4
	for _, tc := range []struct {
		name    string
		perPeer int
		share   int // most deliveries to the blocked peer while the other has messages due
	}{
		{"limit 2", 2, 2},
		{"limit 1", 1, 2}, // both at 1: the two idle workers are shared, one each
		{"default: half the workers", 0, 2},
		{"negative: no limit", -1, 4},
		{"Workers or more: no limit", 4, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eachDB(t, func(t *testing.T, env *testEnv) {
				db := env.open(t)
				const n = 6
				var msgs []OutMessage
				for _, peer := range []string{"slow", "fast"} { // slow's messages are due first
					for i := range n {
						msgs = append(msgs, peerMsg(peer, i))
					}
				}
				enqueue(t, db, msgs...)
				f := newFlights()
				var (
					mu sync.Mutex
					// fast's messages still pending when a delivery to
					// slow past its share started (there must be none)
					fastPending int
				)
				release := make(chan struct{})
				d := &Dispatcher{
					DB: db, Owner: "d1", Workers: workers, PerPeer: tc.perPeer, Lease: time.Minute, PollInterval: 10 * time.Millisecond,
					Deliver: func(ctx context.Context, m *OutMessage) (Outcome, error) {
						f.enter(m.Peer)
						if m.Peer == "slow" && f.get(f.cur, "slow") > tc.share {
							// Borrowed: claimed when fast had nothing
							// due, and fast's messages do not come back.
							var c int
							if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM outbox WHERE peer = 'fast' AND state = 'pending'").Scan(&c); err != nil {
								c = -1
							}
							mu.Lock()
							fastPending = max(fastPending, c, min(c, 0)*-1000)
							mu.Unlock()
						}
						if m.Peer == "slow" {
							select {
							case <-release:
							case <-ctx.Done():
								f.leave(m, false)
								return Outcome{}, ctx.Err()
							}
						}
						f.leave(m, true)
						return Delivered("ok"), nil
					},
				}
				start(t, d)
				fastDone := func() bool {
					return countRows(t, db, "SELECT COUNT(*) FROM outbox WHERE peer = 'fast' AND state = 'done'") == n
				}
				if tc.share < workers {
					waitFor(t, "fast delivered while slow blocks", fastDone)
				} else {
					waitFor(t, "every worker on slow", func() bool { return f.get(f.cur, "slow") == workers })
					if c := countRows(t, db, "SELECT COUNT(*) FROM outbox WHERE peer = 'fast' AND state = 'pending'"); c != n {
						// Every worker waits on slow: nothing else can go.
						t.Fatalf("%d of fast's messages pending while slow holds every worker, want %d", c, n)
					}
				}
				// Nothing else due: slow has every worker (borrowed, with a
				// limit), its other messages pending and untried.
				waitFor(t, "slow on every worker", func() bool { return f.get(f.cur, "slow") == workers })
				if c := countRows(t, db, "SELECT COUNT(*) FROM outbox WHERE peer = 'slow' AND state = 'delivering' AND lease_owner = 'd1'"); c != workers {
					t.Errorf("%d of slow's messages leased, want %d", c, workers)
				}
				if c := countRows(t, db, "SELECT COUNT(*) FROM outbox WHERE peer = 'slow' AND state = 'pending' AND attempts = 0"); c != n-workers {
					t.Errorf("%d of slow's messages pending and untried, want %d", c, n-workers)
				}
				mu.Lock()
				if tc.share < workers && fastPending != 0 {
					t.Errorf("slow went past its share of %d with %d of fast's messages pending (-1000: the count failed)", tc.share, fastPending)
				}
				mu.Unlock()
				close(release)
				waitFor(t, "all delivered", allDone(t, db, 2*n))
				for _, m := range msgs {
					if c := f.get(f.done, m.DedupeKey); c != 1 {
						t.Errorf("%s delivered %d times", m.DedupeKey, c)
					}
				}
				if top := f.get(f.top, "slow"); top != workers {
					t.Errorf("up to %d deliveries to slow in flight, want %d", top, workers)
				}
			})
		})
	}
}

// Peers with unequal backlogs, sequence groups and failing deliveries
// under a limit of 2 of 4 workers: the limit (and the borrowing of idle
// workers past it) starves nothing and delivers every message once.
func TestDispatcherPerPeerNoStarvation(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		db := env.open(t)
		var msgs []OutMessage
		for i := range 60 {
			peer := "big"
			switch {
			case i%6 == 1:
				peer = "small"
			case i == 59:
				peer = "last"
			}
			m := peerMsg(peer, i)
			if i%5 == 0 {
				m.Group = fmt.Sprint(peer, "-g", i%3)
			}
			msgs = append(msgs, m)
		}
		enqueue(t, db, msgs...)
		f := newFlights()
		var (
			mu  sync.Mutex
			rng = rand.New(rand.NewPCG(3, 4))
		)
		d := &Dispatcher{
			DB: db, Workers: 4, PerPeer: 2, PollInterval: 5 * time.Millisecond,
			Backoff: Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond, MaxAttempts: -1},
			Deliver: func(ctx context.Context, m *OutMessage) (Outcome, error) {
				f.enter(m.Peer)
				time.Sleep(time.Millisecond) // let the deliveries overlap
				mu.Lock()
				fail := rng.IntN(10) < 2
				mu.Unlock()
				f.leave(m, !fail)
				if fail {
					return Outcome{}, errors.New("flaky peer")
				}
				return Delivered("ok"), nil
			},
		}
		start(t, d)
		waitFor(t, "all delivered", allDone(t, db, len(msgs)))
		for _, m := range msgs {
			if c := f.get(f.done, m.DedupeKey); c != 1 {
				t.Errorf("%s delivered %d times", m.DedupeKey, c)
			}
		}
		t.Logf("most in flight per peer: %v", f.top)
	})
}

// What one claim takes under a limit: never a peer at its limit, never
// more of a peer than its room, ranked per peer across the claimable
// states, in due order, from the first n of each state's scan.
func TestClaimWithinPeerLimit(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		db := env.open(t)
		// In due order (by id): a0 is failed and due, b2 an expired lease.
		var msgs []OutMessage
		count := map[string]int{}
		for _, peer := range []string{"a", "a", "a", "b", "a", "b", "c", "b"} {
			msgs = append(msgs, peerMsg(peer, count[peer]))
			count[peer]++
		}
		enqueue(t, db, msgs...)
		reset := func() {
			mustExec(t, db, "UPDATE outbox SET state = 'pending', attempts = 0, lease_owner = '', lease_until = 0, next_attempt_at = 0")
			mustExec(t, db, "UPDATE outbox SET state = 'failed', attempts = 1 WHERE dedupe_key = 'a0'")
			mustExec(t, db, "UPDATE outbox SET state = 'delivering', attempts = 1, lease_owner = 'gone', lease_until = 1 WHERE dedupe_key = 'b2'")
		}
		for _, tc := range []struct {
			n, limit int
			busy     map[string]int
			want     string
		}{
			{4, 0, nil, "a0 a1 a2 b0"},
			{8, 0, nil, "a0 a1 a2 b0 a3 b1 c0 b2"},
			{4, 2, nil, "a0 a1 b0 b2"}, // a2, a3 past a's room; b1 not in the pending scan's first 4
			{8, 2, nil, "a0 a1 b0 b1 c0"},
			{8, 2, map[string]int{"a": 2}, "b0 b1 c0"},
			{4, 2, map[string]int{"a": 2}, "b0 b1 c0"},
			{4, 2, map[string]int{"a": 1}, "a0 b0 b2"},
			{8, 3, map[string]int{"a": 1, "b": 2}, "a0 a1 b0 c0"},
			{8, 2, map[string]int{"a": 2, "b": 2}, "c0"},
			{8, 2, map[string]int{"a": 2, "b": 5, "c": 2}, ""},
			{8, 8, map[string]int{"b": 7}, "a0 a1 a2 b0 a3 c0"},
		} {
			reset()
			d := &Dispatcher{DB: db, Owner: "claimer", Lease: time.Minute}
			d.init()
			got, err := d.claimWithin(ctx, tc.n, tc.limit, tc.busy)
			if err != nil {
				t.Fatalf("n %d, limit %d, busy %v: %v", tc.n, tc.limit, tc.busy, err)
			}
			var keys []string
			for _, m := range got {
				keys = append(keys, m.DedupeKey)
				if m.State != StateDelivering || m.LeaseOwner != "claimer" {
					t.Errorf("claimed %s: %+v", m.DedupeKey, m)
				}
			}
			if s := strings.Join(keys, " "); s != tc.want {
				t.Errorf("n %d, limit %d, busy %v: claimed %q, want %q", tc.n, tc.limit, tc.busy, s, tc.want)
			}
			if c := countRows(t, db, "SELECT COUNT(*) FROM outbox WHERE lease_owner = 'claimer'"); c != len(got) {
				t.Errorf("n %d, limit %d, busy %v: %d leased, %d returned", tc.n, tc.limit, tc.busy, c, len(got))
			}
		}
	})
}

// One claim under a limit with a backlog of 10,000 due messages of five
// peers, one of them at its limit: "interleaved", as at a bid opening
// (the scans pass over a fifth of the rows), and "full peer first", the
// worst case, where its 2,000 due messages come before everyone else's
// and every claim reads past them.
func BenchmarkClaimPeerLimit(b *testing.B) {
	for _, layout := range []string{"interleaved", "full peer first"} {
		b.Run(layout, func(b *testing.B) {
			eachDBBench(b, func(b *testing.B, env *testEnv) {
				ctx := context.Background()
				db := env.open(b)
				const backlog, peers = 10000, 5
				msgs := make([]OutMessage, backlog)
				for i := range msgs {
					p := i % peers
					if layout != "interleaved" {
						p = i * peers / backlog
					}
					msgs[i] = peerMsg(fmt.Sprint("inst", p), i)
				}
				enqueue(b, db, msgs...)
				d := &Dispatcher{DB: db, Owner: "bench", Lease: time.Minute}
				d.init()
				busy := map[string]int{"inst0": 2}
				for b.Loop() {
					got, err := d.claimWithin(ctx, 2, 2, busy)
					if err != nil || len(got) == 0 {
						b.Fatalf("claim: %d, %v", len(got), err)
					}
					b.StopTimer()
					for _, m := range got {
						mustExec(b, db, "UPDATE outbox SET state = 'pending', attempts = 0, lease_owner = '', lease_until = 0 WHERE id = ?", m.ID)
					}
					b.StartTimer()
				}
			})
		})
	}
}

// TestDispatcherKeepsSentBody: the body an attempt returns in
// Outcome.Sent (the peer may have processed it) is the next attempt's
// SentBody, whether the attempt ended in an error or a retry outcome; an
// attempt that returns none clears it (the next is signed anew).
func TestDispatcherKeepsSentBody(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		db := env.open(t)
		clock := newFakeClock()
		enqueue(t, db, testMsg(1, ""))
		d := &Dispatcher{DB: db, Now: clock.Now, Backoff: Backoff{Jitter: -1}}
		d.init()
		steps := []struct {
			out      Outcome
			err      error
			wantNext string // SentBody of the next claim
		}{
			{Outcome{Sent: `{"sign":"a"}`}, errors.New("timeout"), `{"sign":"a"}`},
			{RetryLater("", "busy", 0), nil, ""},
			{Outcome{Kind: OutcomeRetry, Reason: "HTTP 502", Sent: `{"sign":"b"}`}, nil, `{"sign":"b"}`},
			{Outcome{}, errors.New("connection refused"), ""},
		}
		want := ""
		for k, st := range steps {
			clock.Add(time.Hour)
			ms, err := d.claim(ctx, 1)
			if err != nil || len(ms) != 1 {
				t.Fatalf("step %d: claimed %d, %v", k, len(ms), err)
			}
			if ms[0].SentBody != want {
				t.Fatalf("step %d: SentBody %q, want %q", k, ms[0].SentBody, want)
			}
			d.complete(ctx, ms[0], st.out, st.err, 0)
			want = st.wantNext
		}
		if m := getMsg(t, db, mustID(t, db, testMsg(1, "").DedupeKey)); m.SentBody != "" {
			t.Errorf("OutboxGet loads the sent body: %q", m.SentBody)
		}
	})
}
