package store

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

var _ protocol.SeenStore = (*SeenSigns)(nil)

func TestSeenSigns(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		clock := newFakeClock()
		s := &SeenSigns{DB: env.open(t), Now: clock.Now}
		until := clock.Now().Add(5 * time.Minute)
		steps := []struct {
			appkey, sign string
			want         bool
		}{
			{"k1", "s1", false},
			{"k1", "s1", true},  // replay
			{"k2", "s1", false}, // other appkey
			{"k1", "s2", false},
			{"k1", "s1", true},
		}
		for i, st := range steps {
			got, err := s.SeenBefore(ctx, st.appkey, st.sign, until)
			if err != nil || got != st.want {
				t.Fatalf("step %d %s/%s: %v %v, want %v", i, st.appkey, st.sign, got, err, st.want)
			}
		}
		// Expired but not purged: the sign counts as new again.
		clock.Add(5*time.Minute + time.Second)
		if got, _ := s.SeenBefore(ctx, "k1", "s1", clock.Now().Add(5*time.Minute)); got {
			t.Fatal("expired entry still counts as seen")
		}
		if got, _ := s.SeenBefore(ctx, "k1", "s1", clock.Now().Add(5*time.Minute)); !got {
			t.Fatal("renewed entry not seen")
		}
		n, err := s.Purge(ctx, clock.Now())
		if err != nil || n != 2 { // k2/s1 and k1/s2 expired; k1/s1 renewed
			t.Fatalf("purged %d, %v; want 2", n, err)
		}
		if got, _ := s.SeenBefore(ctx, "k2", "s1", clock.Now().Add(time.Minute)); got {
			t.Fatal("purged entry still seen")
		}
	})
}

// Many concurrent requests with one sign: exactly one passes.
func TestSeenSignsConcurrent(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		stores := []*SeenSigns{NewSeenSigns(env.open(t)), NewSeenSigns(env.open(t))}
		var (
			wg     sync.WaitGroup
			passed atomic.Int32
		)
		until := time.Now().Add(time.Minute)
		for i := range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				seen, err := stores[i%2].SeenBefore(ctx, "appkey", "same-sign", until)
				if err != nil {
					t.Error(err)
				}
				if !seen {
					passed.Add(1)
				}
			}()
		}
		wg.Wait()
		if passed.Load() != 1 {
			t.Fatalf("%d requests passed, want 1", passed.Load())
		}
	})
}

func TestSeenSignsPurgeEvery(t *testing.T) {
	db := sqliteEnv(t).open(t)
	clock := newFakeClock()
	s := &SeenSigns{DB: db, Now: clock.Now}
	s.SeenBefore(context.Background(), "k", "s", clock.Now().Add(time.Second))
	clock.Add(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.PurgeEvery(ctx, 5*time.Millisecond); close(done) }()
	waitFor(t, "purge", func() bool { return countRows(t, db, "SELECT COUNT(*) FROM seen_sign") == 0 })
	cancel()
	<-done
}

// TestSeenSignsReserve: on SQLite a reservation defers the record to the
// message log entry (held in memory until Release, then found in the
// table); on PostgreSQL, Reserve records at once and defers nothing.
// Either way a second request with the sign and the same digest is a
// retry (Same), answered once the first is settled, and one with another
// digest is not.
func TestSeenSignsReserve(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		clock := newFakeClock()
		db := env.open(t)
		s := &SeenSigns{DB: db, Now: clock.Now}
		l := NewMessageLog(db)
		until := clock.Now().Add(5 * time.Minute)
		mark := func(sign, digest string) protocol.SeenMark {
			return protocol.SeenMark{AppKey: "k1", Sign: sign, Until: until, Digest: digest}
		}
		c, err := s.Reserve(ctx, mark("s1", "d1"))
		if err != nil || c.Seen {
			t.Fatalf("first reserve: %+v, %v", c, err)
		}
		if want := env.dialect == SQLite; c.Deferred != want {
			t.Fatalf("deferred %v on %v, want %v", c.Deferred, env.dialect, want)
		}
		// Second requests with the sign, before the first is logged.
		if c2, err := s.Reserve(ctx, mark("s1", "d1")); err != nil || !c2.Seen || !c2.Same || c2.Answer != nil || c2.Deferred {
			t.Fatalf("retry in flight: %+v, %v", c2, err)
		}
		if c2, err := s.Reserve(ctx, mark("s1", "other")); err != nil || !c2.Seen || c2.Same {
			t.Fatalf("replay in flight: %+v, %v", c2, err)
		}
		// A retry waits for the answer.
		waited := make(chan []byte, 1)
		go func() {
			c, err := s.Wait(ctx, "k1", "s1")
			if err != nil {
				t.Error(err)
			}
			waited <- c.Answer
		}()
		m := mark("s1", "d1")
		m.Answer = []byte(`{"code":1,"message":"success","data":{}}`)
		e := logEntry(1)
		e.Seen = &m
		if err := l.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
		s.Release("k1", "s1")
		if a := <-waited; string(a) != string(m.Answer) {
			t.Fatalf("waited for %q, want %q", a, m.Answer)
		}
		// Logged and released: a retry gets the answer, a replay is
		// refused, through the table, for this store and a fresh one
		// (another replica).
		for _, st := range []*SeenSigns{s, {DB: env.open(t), Now: clock.Now}} {
			if c, err := st.Reserve(ctx, mark("s1", "d1")); err != nil || !c.Same || string(c.Answer) != string(m.Answer) {
				t.Fatalf("retry after the log: %+v, %v", c, err)
			}
			if c, err := st.Reserve(ctx, mark("s1", "d2")); err != nil || !c.Seen || c.Same {
				t.Fatalf("replay after the log: %+v, %v", c, err)
			}
			if seen, err := st.SeenBefore(ctx, "k1", "s1", until); err != nil || !seen {
				t.Fatalf("SeenBefore after the log: seen %v, %v", seen, err)
			}
		}
		// A sign recorded by SeenBefore (one we sent) is never a retry.
		if _, err := s.SeenBefore(ctx, "k1", "ours", until); err != nil {
			t.Fatal(err)
		}
		if c, err := s.Reserve(ctx, mark("ours", "")); err != nil || !c.Seen || c.Same {
			t.Fatalf("our own sign: %+v, %v", c, err)
		}
		// A request whose handling failed is forgotten: a retry is
		// handled anew, and a waiter learns there is no answer.
		c, _ = s.Reserve(ctx, mark("s2", "d"))
		f := mark("s2", "d")
		f.Forget = true
		if err := s.Settle(ctx, f); err != nil {
			t.Fatal(err)
		}
		s.Release("k1", "s2")
		if c, err := s.Wait(ctx, "k1", "s2"); err != nil || c.Answer != nil || c.Rehandle {
			t.Fatalf("wait for a forgotten request: %+v, %v", c, err)
		}
		if c, err := s.Reserve(ctx, mark("s2", "d")); err != nil || c.Seen {
			t.Fatalf("retry of a forgotten request: %+v, %v", c, err)
		}
		s.Release("k1", "s2")
		// A request whose answer is not kept: a retry is handled again,
		// another body is a replay.
		if c, _ := s.Reserve(ctx, mark("s3", "d")); c.Seen {
			t.Fatalf("s3: %+v", c)
		}
		r := mark("s3", "d")
		r.Rehandle = true
		r.Answer = []byte(`{"code":1,"message":"success","data":{"redirecturl":"secret"}}`)
		if err := s.Settle(ctx, r); err != nil {
			t.Fatal(err)
		}
		s.Release("k1", "s3")
		if c, err := s.Wait(ctx, "k1", "s3"); err != nil || !c.Rehandle || c.Answer != nil {
			t.Fatalf("wait for a request handled again: %+v, %v", c, err)
		}
		if c, err := s.Reserve(ctx, mark("s3", "d")); err != nil || !c.Same || !c.Rehandle || c.Answer != nil {
			t.Fatalf("retry of a request handled again: %+v, %v", c, err)
		}
		if c, _ := s.Reserve(ctx, mark("s3", "x")); !c.Seen || c.Same {
			t.Fatalf("replay of a request handled again: %+v", c)
		}
		var kept []byte
		if err := db.QueryRowContext(ctx, db.Rebind(`SELECT answer FROM seen_sign WHERE appkey = ? AND sign = ?`), "k1", "s3").Scan(&kept); err != nil {
			t.Fatal(err)
		} else if bytes.Contains(kept, []byte("secret")) {
			t.Fatalf("the answer of a request handled again was kept: %q", kept)
		}
		// Expired: the sign is new again.
		clock.Add(6 * time.Minute)
		until = clock.Now().Add(5 * time.Minute)
		if c, err := s.Reserve(ctx, mark("s1", "d3")); err != nil || c.Seen {
			t.Fatalf("expired: %+v, %v", c, err)
		}
	})
}

// TestSeenSignsBatch: one batch with a new pair twice, a recorded pair
// and an expired one (PostgreSQL takes the batch in one statement).
func TestSeenSignsBatch(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		clock := newFakeClock()
		s := &SeenSigns{DB: env.open(t), Now: clock.Now}
		until := Micros(clock.Now().Add(5 * time.Minute))
		now := Micros(clock.Now())
		if _, err := s.SeenBefore(ctx, "k", "recorded", clock.Now().Add(5*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SeenBefore(ctx, "k", "expired", clock.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		reqs := []*seenReq{
			{appkey: "k", sign: "new", until: until, now: now},
			{appkey: "k", sign: "new", until: until, now: now},
			{appkey: "k", sign: "recorded", until: until, now: now},
			{appkey: "k", sign: "expired", until: until, now: now},
			{appkey: "k2", sign: "new", until: until, now: now},
		}
		want := []bool{false, true, true, false, false}
		items := make([]*batchItem[*seenReq], len(reqs))
		for i, r := range reqs {
			items[i] = &batchItem[*seenReq]{v: r}
		}
		if err := s.write(ctx, items); err != nil {
			t.Fatal(err)
		}
		for i, r := range reqs {
			if r.seen != want[i] {
				t.Errorf("%s/%s (#%d): seen %v, want %v", r.appkey, r.sign, i, r.seen, want[i])
			}
		}
		if seen, _ := s.SeenBefore(ctx, "k", "expired", clock.Now().Add(time.Minute)); !seen {
			t.Error("the expired pair was not taken over")
		}
	})
}

// TestSeenSettledWithLogBatch: the seen marks of a batch of message log
// entries (one statement on PostgreSQL) are settled as one by one: an
// answer, an answer not kept, a request forgotten, and a pair twice.
func TestSeenSettledWithLogBatch(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		clock := newFakeClock()
		db := env.open(t)
		s := &SeenSigns{DB: db, Now: clock.Now}
		until := clock.Now().Add(5 * time.Minute)
		mark := func(sign string) protocol.SeenMark {
			return protocol.SeenMark{AppKey: "k", Sign: sign, Until: until, Digest: "d-" + sign}
		}
		for _, sign := range []string{"answered", "rehandled", "forgotten", "twice"} {
			if c, err := s.Reserve(ctx, mark(sign)); err != nil || c.Seen {
				t.Fatalf("reserve %s: %+v, %v", sign, c, err)
			}
		}
		answered, rehandled, forgotten := mark("answered"), mark("rehandled"), mark("forgotten")
		answered.Answer = []byte(`{"code":1,"message":"success","data":{}}`)
		rehandled.Rehandle, rehandled.Answer = true, []byte(`{"code":1,"data":{"redirecturl":"secret"}}`)
		forgotten.Forget = true
		first, second := mark("twice"), mark("twice")
		first.Answer, second.Answer = []byte(`{"code":1,"message":"first"}`), []byte(`{"code":1,"message":"second"}`)
		var entries []*LogEntry
		for i, m := range []protocol.SeenMark{answered, rehandled, forgotten, first, second} {
			e := logEntry(i + 1)
			e.Seen = &m
			entries = append(entries, e)
		}
		l := NewMessageLog(db)
		if err := db.InTx(ctx, func(tx *sql.Tx) error { return l.AppendTx(ctx, tx, entries) }); err != nil {
			t.Fatal(err)
		}
		for _, sign := range []string{"answered", "rehandled", "forgotten", "twice"} {
			s.Release("k", sign)
		}
		other := &SeenSigns{DB: db, Now: clock.Now} // another replica: the table only
		if c, err := other.Reserve(ctx, mark("answered")); err != nil || !c.Same || string(c.Answer) != string(answered.Answer) {
			t.Errorf("answered: %+v, %v", c, err)
		}
		if c, err := other.Reserve(ctx, mark("rehandled")); err != nil || !c.Same || !c.Rehandle || c.Answer != nil {
			t.Errorf("rehandled: %+v, %v", c, err)
		}
		if c, err := other.Reserve(ctx, mark("forgotten")); err != nil || c.Seen {
			t.Errorf("forgotten: %+v, %v", c, err)
		}
		if c, err := other.Reserve(ctx, mark("twice")); err != nil || !c.Same || string(c.Answer) != string(first.Answer) {
			t.Errorf("twice: %+v, %v (want the first answer: the second finds the record answered)", c, err)
		}
		if brk, err := l.VerifyChain(ctx); err != nil || brk != nil {
			t.Fatalf("chain: %+v, %v", brk, err)
		}
	})
}

// TestSeenSignsReserveRace: copies of one request arriving at once (a
// peer's retries, or a replay raced against the original): exactly one
// is new, on SQLite too, where the reservation is held in the process.
func TestSeenSignsReserveRace(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		clock := newFakeClock()
		s := &SeenSigns{DB: env.open(t), Now: clock.Now}
		until := clock.Now().Add(5 * time.Minute)
		const copies = 8
		for round := range 100 {
			m := protocol.SeenMark{AppKey: "k", Sign: fmt.Sprint("race-", round), Until: until, Digest: "d"}
			var news atomic.Int32
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range copies {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					c, err := s.Reserve(ctx, m)
					if err != nil {
						t.Error(err)
						return
					}
					if !c.Seen {
						news.Add(1)
					}
				}()
			}
			close(start)
			wg.Wait()
			if n := news.Load(); n != 1 {
				t.Fatalf("round %d: %d of %d copies reserved as new, want 1", round, n, copies)
			}
			s.Release(m.AppKey, m.Sign)
		}
	})
}
