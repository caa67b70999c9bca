package store

import (
	"context"
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
func TestSeenSignsReserve(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		clock := newFakeClock()
		db := env.open(t)
		s := &SeenSigns{DB: db, Now: clock.Now}
		l := NewMessageLog(db)
		until := clock.Now().Add(5 * time.Minute)
		seen, deferred, err := s.Reserve(ctx, "k1", "s1", until)
		if err != nil || seen {
			t.Fatalf("first reserve: seen %v, %v", seen, err)
		}
		if want := env.dialect == SQLite; deferred != want {
			t.Fatalf("deferred %v on %v, want %v", deferred, env.dialect, want)
		}
		// A second request with the sign, before the first is logged.
		if seen, d2, err := s.Reserve(ctx, "k1", "s1", until); err != nil || !seen || d2 {
			t.Fatalf("reserve in flight: seen %v, deferred %v, %v", seen, d2, err)
		}
		if deferred {
			e := logEntry(1)
			e.Seen = &protocol.SeenMark{AppKey: "k1", Sign: "s1", Until: until}
			if err := l.Append(ctx, e); err != nil {
				t.Fatal(err)
			}
			s.Release("k1", "s1")
		}
		// Logged and released (or recorded at once): still a replay,
		// through the table, for this store and a fresh one.
		for _, st := range []*SeenSigns{s, {DB: env.open(t), Now: clock.Now}} {
			if seen, _, err := st.Reserve(ctx, "k1", "s1", until); err != nil || !seen {
				t.Fatalf("after the log: seen %v, %v", seen, err)
			}
			if seen, err := st.SeenBefore(ctx, "k1", "s1", until); err != nil || !seen {
				t.Fatalf("SeenBefore after the log: seen %v, %v", seen, err)
			}
		}
		// A reservation released without a record (a refused request
		// whose log write failed and fell back) leaves nothing held.
		if _, d, _ := s.Reserve(ctx, "k1", "s2", until); d {
			s.Release("k1", "s2")
		}
		if seen, _, _ := s.Reserve(ctx, "k1", "s2", until); seen != (env.dialect != SQLite) {
			t.Fatalf("released sign: seen %v", seen)
		}
		// Expired: the sign is new again.
		clock.Add(6 * time.Minute)
		if seen, _, err := s.Reserve(ctx, "k1", "s1", clock.Now().Add(5*time.Minute)); err != nil || seen {
			t.Fatalf("expired: seen %v, %v", seen, err)
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
