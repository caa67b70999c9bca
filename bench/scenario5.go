package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/service"
	"github.com/baohan-dev/baohan/store"
)

// Scenario 5: replicas. Two processes of a service on one PostgreSQL
// database, each with its own pool and its own outbox dispatcher, as two
// platform replicas run them (the services' defaults on PostgreSQL:
// service.DefaultOutboxWorkers workers, the idle poll outbox.poll). A message is enqueued in a transaction of one
// of them (store.Dispatcher.InTx, as the services enqueue) while both are
// idle, and the time until a dispatcher starts delivering it is measured;
// then the next, after a pause of 20-60 ms, one at a time.
//
// The first row enqueues on a replica whose dispatcher does not run, so
// that the other must pick the message up: the wake-up across processes
// (LISTEN/NOTIFY). The second runs both dispatchers and enqueues on each
// in turn: whichever is free picks the message up. The first row's note
// gives the same measurement with the wake-up across processes off (the
// idle poll only, the behaviour before it). SQLite has no such row: its
// wake-up is in-process only.

// Targets and settings of scenario 5.
const (
	S5Target = 100 * time.Millisecond // p99 of the pickup at idle
	// S5Timeout bounds one pickup; a message not picked up by then is an
	// error of the row.
	S5Timeout = 10 * time.Second
)

func (r *runner) scenario5(ctx context.Context, db string) ([]Row, error) {
	if db != Postgres {
		r.report.Skipped = append(r.report.Skipped, "scenario 5 on sqlite: replicas share a PostgreSQL database (on SQLite the outbox wakes in-process only)")
		return nil, nil
	}
	url, cleanup, err := newDatabase(ctx, Postgres, r.o.PostgresURL, r.workDir("s5"), "s5")
	if err != nil {
		return nil, err
	}
	defer cleanup()
	var rows []Row
	for _, both := range []bool{false, true} {
		row, err := r.replicas(ctx, url, both)
		rows = append(rows, row)
		if err != nil {
			return rows, err
		}
	}
	return rows, nil
}

// pickup is one dispatcher's view of a message: who started delivering
// it, and when.
type pickup struct {
	owner string
	at    time.Time
}

// replicaSet is two processes on one database.
type replicaSet struct {
	disp   [2]*store.Dispatcher
	mu     sync.Mutex
	seen   map[string][]pickup
	from   map[string]string // the replica that enqueued each message
	picked chan string       // the dedupe key of each delivery started
}

func openReplicas(ctx context.Context, url string, noListen bool) (*replicaSet, func(), error) {
	rs := &replicaSet{seen: map[string][]pickup{}, from: map[string]string{}, picked: make(chan string, 64)}
	var dbs []*store.DB
	closeAll := func() {
		for _, db := range dbs {
			db.Close()
		}
	}
	for i := range rs.disp {
		db, err := store.Open(ctx, url, "", store.WithMaxOpenConns(16))
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		dbs = append(dbs, db)
		owner := fmt.Sprintf("replica-%d", i+1)
		rs.disp[i] = &store.Dispatcher{
			DB: db, Owner: owner, Workers: service.DefaultOutboxWorkers(store.Postgres), PollInterval: config.DefaultPoll, Lease: time.Minute, NoListen: noListen,
			Deliver: func(ctx context.Context, m *store.OutMessage) (store.Outcome, error) {
				now := time.Now()
				rs.mu.Lock()
				rs.seen[m.DedupeKey] = append(rs.seen[m.DedupeKey], pickup{owner, now})
				rs.mu.Unlock()
				rs.picked <- m.DedupeKey
				return store.Delivered("ok"), nil
			},
		}
	}
	return rs, closeAll, nil
}

// run runs the dispatchers named until the returned stop is called.
func (rs *replicaSet) run(which ...int) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, i := range which {
		wg.Go(func() { rs.disp[i].Run(ctx) })
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

// measure enqueues n messages one at a time, on the replicas of enqueue
// in turn, and returns the pickup latencies: from the enqueuing
// transaction's commit (stamped as its function returns, just before the
// COMMIT) to the start of the delivery; and the commits' latencies (to
// the return of InTx).
func (rs *replicaSet) measure(ctx context.Context, prefix string, n int, enqueue []int) (pickups, commits *Stats, err error) {
	rec, crec := NewRecorder(n), NewRecorder(n)
	start := time.Now()
	for i := range n {
		d := rs.disp[enqueue[i%len(enqueue)]]
		key := fmt.Sprintf("%s:%d", prefix, i)
		var committing time.Time
		err := d.InTx(ctx, func(tx *sql.Tx) error {
			_, err := d.Enqueue(ctx, tx, store.OutMessage{Peer: "institution", Interface: "baohannotice", ApplyNo: key, DedupeKey: key,
				Fields: map[string]string{"applyno": key}}, time.Time{})
			committing = time.Now()
			return err
		})
		if err != nil {
			return nil, nil, err
		}
		crec.Add(time.Since(committing), nil)
		rs.mu.Lock()
		rs.from[key] = d.Owner
		rs.mu.Unlock()
		if err := rs.wait(ctx, key); err != nil {
			if ctx.Err() != nil {
				return nil, nil, err
			}
			rec.Add(0, err)
			continue
		}
		rs.mu.Lock()
		at := rs.seen[key][0].at
		rs.mu.Unlock()
		rec.Add(max(at.Sub(committing), 0), nil)
		// Idle again: the delivery recorded, the dispatchers asleep.
		if err := sleepCtx(ctx, 20*time.Millisecond+rand.N(40*time.Millisecond)); err != nil {
			return nil, nil, err
		}
	}
	took := time.Since(start)
	return MergeStats(took, rec), MergeStats(took, crec), nil
}

// wait waits until the delivery of key starts (a late delivery of an
// earlier message that timed out is passed over).
func (rs *replicaSet) wait(ctx context.Context, key string) error {
	t := time.NewTimer(S5Timeout)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return fmt.Errorf("not picked up within %s", S5Timeout)
		case got := <-rs.picked:
			if got == key {
				return nil
			}
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// replicas measures one row: both false, replica 1 enqueues and only
// replica 2 dispatches; both true, both dispatch and enqueue in turn.
func (r *runner) replicas(ctx context.Context, url string, both bool) (Row, error) {
	n := r.o.Pickups
	label, name := "s5-postgres-other", "replicas: enqueued on one, picked up by the other, idle"
	if both {
		label, name = "s5-postgres-either", "replicas: enqueued on either, picked up by either, idle"
	}
	row := Row{Scenario: 5, Name: name, DB: Postgres}
	rs, closeDBs, err := openReplicas(ctx, url, false)
	if err != nil {
		return row, err
	}
	defer closeDBs()
	running, enqueue := []int{1}, []int{0}
	if both {
		running, enqueue = []int{0, 1}, []int{0, 1}
	}
	stop := rs.run(running...)
	if err := waitListening(ctx, rs, running); err != nil {
		stop()
		return row, err
	}
	r.logf("%s: %d messages, one at a time", label, n)
	var st, commits *Stats
	mem := StartMemSampler(0)
	err = r.timed(label, func() error {
		var err error
		st, commits, err = rs.measure(ctx, label, n, enqueue)
		return err
	})
	peak := mem.Stop()
	stop()
	if err != nil {
		return row, err
	}
	r.logf("%s: %s", label, st)
	row.setStats(st)
	row.setMem(peak)
	row.note("pickup: from the COMMIT of the enqueuing transaction to the start of the delivery by a dispatcher, the commit itself included (p50 %s, p99 %s to the COMMIT's return); one message at a time, %d–%d ms apart, both replicas idle in between; outbox workers %d, idle poll %s",
		fmtDur(commits.P50()), fmtDur(commits.P99()), 20, 60, service.DefaultOutboxWorkers(store.Postgres), config.DefaultPoll)

	// Every message delivered once, by the replicas that dispatch.
	rs.mu.Lock()
	var twice, byOther, total int
	for _, ps := range rs.seen {
		total++
		if len(ps) > 1 {
			twice++
		}
		if ps[0].owner == "replica-2" {
			byOther++
		}
	}
	rs.mu.Unlock()
	row.check("every message delivered once", total == n && twice == 0, "%d of %d delivered, %d more than once", total, n, twice)
	if !both {
		row.check("picked up by the other replica", byOther == total, "%d of %d by replica 2", byOther, total)
		if err := r.pollOnly(ctx, url, &row); err != nil {
			return row, err
		}
	} else {
		row.note("%d of %d picked up by the replica that did not enqueue", pickedByOther(rs), total)
	}
	row.Target = fmt.Sprintf("p99<%dms", S5Target.Milliseconds())
	row.Pass = row.checksOK() && row.Errors == 0 && row.P99 < S5Target
	return row, nil
}

// pickedByOther counts the messages a replica picked up that the other
// enqueued.
func pickedByOther(rs *replicaSet) int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	n := 0
	for key, ps := range rs.seen {
		if ps[0].owner != rs.from[key] {
			n++
		}
	}
	return n
}

// pollOnly measures the first row's pickup with the wake-up across
// processes off (the idle poll only), on a tenth of the messages, and
// notes it in row.
func (r *runner) pollOnly(ctx context.Context, url string, row *Row) error {
	n := max(r.o.Pickups/10, 2)
	rs, closeDBs, err := openReplicas(ctx, url, true)
	if err != nil {
		return err
	}
	defer closeDBs()
	stop := rs.run(1)
	defer stop()
	label := "s5-postgres-poll"
	r.logf("%s: %d messages, one at a time, without the wake-up across processes", label, n)
	st, _, err := rs.measure(ctx, label, n, []int{0})
	if err != nil {
		return err
	}
	r.logf("%s: %s", label, st)
	row.note("without the wake-up across processes (NoListen: the idle poll of %s only, as before LISTEN/NOTIFY): p50 %s, p99 %s over %d messages (%d not picked up)",
		config.DefaultPoll, fmtDur(st.P50()), fmtDur(st.P99()), st.N, st.Errors)
	return nil
}

// waitListening waits until the running dispatchers listen.
func waitListening(ctx context.Context, rs *replicaSet, running []int) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		all := true
		for _, i := range running {
			all = all && rs.disp[i].Listening()
		}
		if all {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("bench: the replicas' dispatchers do not listen after 10s")
		}
		if err := sleepCtx(ctx, 5*time.Millisecond); err != nil {
			return err
		}
	}
}
