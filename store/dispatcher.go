package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// OutcomeKind says what became of one delivery attempt.
type OutcomeKind int

const (
	// OutcomeDone: delivered; the message is done (the zero value, so a
	// Deliver that returns Outcome{} and no error has delivered).
	OutcomeDone OutcomeKind = iota
	// OutcomeRetry: try again later (a business answer the service wants
	// to retry, e.g. "not ready yet").
	OutcomeRetry
	// OutcomeDead: give up now; the message is dead and visible.
	OutcomeDead
)

func (k OutcomeKind) String() string {
	switch k {
	case OutcomeDone:
		return "done"
	case OutcomeRetry:
		return "retry"
	case OutcomeDead:
		return "dead"
	}
	return "OutcomeKind(" + strconv.Itoa(int(k)) + ")"
}

// Outcome is what Deliver made of the peer's answer.
type Outcome struct {
	Kind       OutcomeKind
	Response   string        // the peer's answer, kept in last_response
	Reason     string        // Retry/Dead: why, kept in last_error
	RetryAfter time.Duration // Retry: wait this long instead of the backoff (0: backoff)
	// Sent, with a retry (an OutcomeRetry, or an error from Deliver), is
	// the body of this attempt when the peer may have processed it: the
	// next attempt gets it as OutMessage.SentBody and sends it again as
	// it is. Empty: the next attempt is signed anew.
	Sent string
}

// Delivered is OutcomeDone with the peer's response.
func Delivered(response string) Outcome { return Outcome{Kind: OutcomeDone, Response: response} }

// RetryLater is OutcomeRetry: after is the wait (0: the backoff policy).
func RetryLater(response, reason string, after time.Duration) Outcome {
	return Outcome{Kind: OutcomeRetry, Response: response, Reason: reason, RetryAfter: after}
}

// GiveUp is OutcomeDead.
func GiveUp(response, reason string) Outcome {
	return Outcome{Kind: OutcomeDead, Response: response, Reason: reason}
}

// Dispatcher delivers the outbox: it claims due messages under a lease,
// calls Deliver for each on a pool of workers, and records the outcome.
// Run any number of dispatchers (goroutines, processes, replicas) on one
// database: a message is claimed by one lease at a time, and a lease that
// is not completed in time (a crash) expires and the message is tried again.
//
// Delivery is at least once; with receivers that are idempotent (as the
// protocol requires) the effect is exactly once. See the package doc.
type Dispatcher struct {
	DB *DB
	// Owner names this dispatcher in lease_owner (default host:pid:random).
	// Give each process its own.
	Owner string
	// Deliver sends one message. An error (transport failure, timeout,
	// HTTP 5xx, an answer that is not JSON, ...) means retry with backoff;
	// otherwise the Outcome decides. ctx ends before the lease does.
	Deliver func(ctx context.Context, m *OutMessage) (Outcome, error)
	// OnOutcome, if set, runs in the transaction that records an Outcome
	// returned by Deliver (Done, Retry or Dead), and for the Dead that
	// follows the last failed attempt, with m.State already the new state.
	// The service applies the peer's answer there, atomically with
	// completing the delivery. If it returns an error, the transaction
	// rolls back, the message is not done, and it is retried with backoff.
	OnOutcome func(ctx context.Context, tx *sql.Tx, m *OutMessage, o Outcome) error
	Backoff   Backoff
	// Workers is the number of concurrent deliveries (default 4).
	Workers int
	// PerPeer is the most deliveries this dispatcher has in flight to one
	// peer, so that a peer that answers slowly or times out holds at most
	// that many workers and the others keep delivering to everyone else.
	// A claim does not lease the messages of a peer already at its limit
	// (they stay due, no attempt spent) and never takes more of one peer
	// than its remaining room, as long as other peers have messages
	// due; when none has, the peers at their limit share the idle
	// workers (borrowed deliveries count as in flight, so the others get
	// the workers as they come free). 0 means the default, half the workers
	// rounded up (max(1, ceil(Workers/2))); a negative value, or one of
	// Workers or more, means no limit. The limit is per dispatcher (per
	// process): replicas on one database each allow PerPeer, so a peer
	// may have up to replicas × PerPeer deliveries in flight in all.
	PerPeer int
	// Lease is how long a claim lasts (default 2 minutes). Deliver's context
	// ends at 90% of it, so that a live dispatcher never delivers a message
	// whose lease another dispatcher may already have taken over.
	Lease time.Duration
	// PollInterval is the longest sleep between looks at the table when
	// nothing is due and nothing wakes the dispatcher (default 2s).
	PollInterval time.Duration
	// NoListen turns off the wake-up across processes on PostgreSQL
	// (listen.go): the dispatcher then finds what other processes
	// enqueue at its next poll. For comparisons.
	NoListen bool
	Logger   *slog.Logger
	Now      func() time.Time // default time.Now

	once     sync.Once
	kick     chan struct{}
	notified chan struct{} // the listener's wake-ups (listen.go)
	token    string        // the payload of this dispatcher's wake-ups
	listenOK atomic.Bool   // the listener is listening

	// The wake-ups of the other processes (listen.go): one NOTIFY at a
	// time, and one more for the calls that came meanwhile.
	nmu         sync.Mutex
	notifying   bool
	notifyAgain bool

	// Tests: trace is told what the dispatcher does, dial replaces the
	// listener's connect.
	trace func(event, detail string)
	dial  func(ctx context.Context) (*pgx.Conn, error)

	mu  sync.Mutex
	txs map[*sql.Tx]*bool // the transactions of InTx: whether Enqueue added a message
}

// Kick wakes the dispatcher at once (call it after committing an
// Enqueue); on PostgreSQL it also wakes the dispatchers of the other
// processes on the database (listen.go), so that whichever is free picks
// the message up. It never blocks; kicks while the dispatcher is busy
// coalesce, and so do the wake-ups of the other processes.
func (d *Dispatcher) Kick() {
	d.kickSelf()
	d.wakeOthers()
}

// kickSelf wakes this dispatcher only.
func (d *Dispatcher) kickSelf() {
	d.init()
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// InTx runs fn in a transaction of d.DB (DB.InTx: retried when the
// database asks for it) and, when it commits after fn added a message
// through d.Enqueue, wakes the dispatcher (Kick): what the transaction
// enqueued goes out at once; on PostgreSQL the dispatchers of the other
// processes on the database are woken too, so that any replica may pick
// the message up. A transaction that enqueued nothing wakes nobody: a
// wake-up makes the dispatcher claim, a write transaction of its own (on
// SQLite, on the one writer).
//
// The transaction may be shared with other InTx calls waiting at the same
// time (DB.InTxGrouped: one commit for many; on SQLite every write
// transaction is grouped anyway): the services' state changes are short
// and many at once at the bid deadline, and on PostgreSQL each would
// otherwise wait for a WAL flush of its own. fn must be safe to run more
// than once (a group that fails runs its members again, each alone) and
// must not do slow work between its statements.
func (d *Dispatcher) InTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	d.init()
	var enqueued bool
	err := d.DB.InTxGrouped(ctx, func(tx *sql.Tx) error {
		enqueued = false // a run the database retried starts over
		d.mu.Lock()
		if d.txs == nil {
			d.txs = map[*sql.Tx]*bool{}
		}
		d.txs[tx] = &enqueued
		d.mu.Unlock()
		defer func() {
			d.mu.Lock()
			delete(d.txs, tx)
			d.mu.Unlock()
		}()
		return fn(tx)
	})
	if err == nil && enqueued {
		d.Kick()
	}
	return err
}

// Enqueue adds m to the outbox in tx, as EnqueueIfNew does on d's
// database. When tx is a transaction of InTx and m is new, its commit
// wakes the dispatchers (Kick); in any other transaction, call Kick after
// the commit (or let the dispatchers find m on their next look).
func (d *Dispatcher) Enqueue(ctx context.Context, tx *sql.Tx, m OutMessage, notBefore time.Time) (inserted bool, err error) {
	inserted, err = EnqueueIfNew(ctx, tx, d.DB.Dialect, m, notBefore)
	if inserted {
		d.mu.Lock()
		if p := d.txs[tx]; p != nil {
			*p = true
		}
		d.mu.Unlock()
	}
	return inserted, err
}

// Retry requeues the dead or failed message id (DB.OutboxRetry) and wakes
// the dispatchers (Kick).
func (d *Dispatcher) Retry(ctx context.Context, id int64) error {
	if err := d.DB.OutboxRetry(ctx, id); err != nil {
		return err
	}
	d.Kick()
	return nil
}

func (d *Dispatcher) init() {
	d.once.Do(func() {
		d.kick = make(chan struct{}, 1)
		d.notified = make(chan struct{}, 1)
		d.token = fmt.Sprintf("%016x", rand.Uint64())
		if d.Owner == "" {
			host, _ := os.Hostname()
			d.Owner = fmt.Sprintf("%s:%d:%04x", host, os.Getpid(), rand.IntN(1<<16))
		}
	})
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Dispatcher) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.Default()
}

func (d *Dispatcher) lease() time.Duration {
	if d.Lease > 0 {
		return d.Lease
	}
	return 2 * time.Minute
}

// peerLimit is the PerPeer limit in force with workers workers (0: none).
func (d *Dispatcher) peerLimit(workers int) int { return PerPeerLimit(d.PerPeer, workers) }

// PerPeerLimit is the limit of deliveries in flight to one peer that a
// dispatcher of workers workers keeps with Dispatcher.PerPeer perPeer (0:
// none): half the workers, rounded up, when perPeer is 0.
func PerPeerLimit(perPeer, workers int) int {
	switch {
	case perPeer == 0:
		if l := max(1, (workers+1)/2); l < workers {
			return l
		}
		return 0
	case perPeer < 0 || perPeer >= workers:
		return 0
	}
	return perPeer
}

func (d *Dispatcher) poll() time.Duration {
	if d.PollInterval > 0 {
		return d.PollInterval
	}
	return 2 * time.Second
}

// Run delivers until ctx ends, then cancels the deliveries in flight,
// releases their leases (so a restart sends them at once) and returns nil.
// On PostgreSQL it keeps a connection of its own that listens for the
// other processes' enqueues (listen.go), unless NoListen.
func (d *Dispatcher) Run(ctx context.Context) error {
	if d.DB == nil || d.Deliver == nil {
		return errors.New("store: Dispatcher needs DB and Deliver")
	}
	d.init()
	if d.listens() {
		lctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			d.listen(lctx, d.logger().With("owner", d.Owner))
		}()
		defer func() {
			stop()
			<-done
		}()
	}
	workers := d.Workers
	if workers <= 0 {
		workers = 4
	}
	limit := d.peerLimit(workers)
	log := d.logger().With("owner", d.Owner)
	work := make(chan *OutMessage)
	free := make(chan string, workers) // the peer of a finished delivery
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range work {
				d.handle(ctx, m)
				free <- m.Peer
			}
		}()
	}
	defer func() {
		close(work)
		wg.Wait()
	}()

	idle := workers
	// busy counts the deliveries in flight per peer (with a limit only).
	busy := map[string]int{}
	finished := func(peer string) {
		idle++
		if limit > 0 {
			if busy[peer]--; busy[peer] <= 0 {
				delete(busy, peer)
			}
		}
	}
	// In a burst (the last claim filled every idle worker: more is
	// likely due), a worker that frees up does not claim alone: the
	// claim waits until batch workers are idle, or claimPause has
	// passed. A claim is one statement whatever it takes (0.2-0.5 ms
	// of PostgreSQL's CPU, most of it planning), and at a bid opening
	// one per delivery was the largest part of the database's work.
	batch := claimBatch(workers)
	burst, freed := false, false
	failures := 0
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		if ctx.Err() != nil {
			return nil
		}
		wait := d.poll()
		if idle > 0 && freed && burst && idle < batch {
			wait = claimPause
		} else if idle > 0 {
			want := idle
			msgs, err := d.claimWithin(ctx, idle, limit, busy)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				failures++
				log.Error("store: outbox claim failed", "err", err, "failures", failures)
				wait = min(wait, time.Duration(failures)*100*time.Millisecond)
			} else {
				failures = 0
				burst = len(msgs) == want
				filled := false // a peer reached its limit in this claim
				for _, m := range msgs {
					work <- m
					idle--
					if limit > 0 {
						busy[m.Peer]++
						filled = filled || busy[m.Peer] == limit
					}
				}
				if idle > 0 && filled {
					// The limit may have cut this claim short while
					// other peers have messages due: claim again at
					// once, now without that peer. (Each such round
					// fills one more peer, so this ends.)
					continue
				}
				if idle > 0 && limit > 0 && len(msgs) < want && atLimit(limit, busy) {
					// Nothing is due of the peers below their limit: the
					// peers at it may use the idle workers (the limit
					// shares the workers; it does not leave them idle).
					// The bar rises one delivery at a time, so that peers
					// at their limit share the idle workers evenly;
					// borrowed deliveries count in busy, so the peers
					// below the limit take the workers as they come free.
					// A claim at a bar is repeated until it takes nothing
					// (as above, the cut at a peer's room may have left
					// out others); each round takes one message or more,
					// or raises the bar, so this ends.
					for lim := limit + 1; idle > 0 && lim <= workers; {
						more, err := d.claimWithin(ctx, idle, lim, busy)
						if err != nil {
							if ctx.Err() == nil {
								log.Error("store: outbox claim failed", "err", err)
							}
							break
						}
						for _, m := range more {
							work <- m
							idle--
							busy[m.Peer]++
						}
						if len(more) == 0 {
							if !atLimit(lim, busy) {
								break // nobody has anything more due
							}
							lim++
						}
					}
				}
				if idle > 0 {
					if next, ok, err := d.nextDue(ctx, limit, busy); err == nil && ok {
						wait = min(wait, max(next.Sub(d.now()), min(wait, 10*time.Millisecond)))
					}
				}
			}
		}
		timer.Reset(wait)
		if d.trace != nil && idle == workers && len(d.kick) == 0 && len(d.notified) == 0 {
			d.tracef("idle", "%s", wait)
		}
		freed = false
		select {
		case <-ctx.Done():
			return nil
		case <-d.kick:
		case <-d.notified:
			d.tracef("woken", "notified")
		case p := <-free:
			finished(p)
			freed = true
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	drain:
		for {
			select {
			case p := <-free:
				finished(p)
			default:
				break drain
			}
		}
	}
}

// claimBatch is how many workers must be idle before a claim in a burst
// (Run): half of them, at least one.
func claimBatch(workers int) int { return max(1, workers/2) }

// claimPause is the longest a worker waits, in a burst, for others to
// free up before it claims.
const claimPause = 10 * time.Millisecond

// groupCond keeps sequence groups in order: in a group only the first
// message that is not done may be claimed.
const groupCond = `(o.seq_group = '' OR NOT EXISTS (SELECT 1 FROM outbox p
		WHERE p.seq_group = o.seq_group AND p.id < o.id AND p.state <> 'done'))`

// dueCond selects the messages that may be claimed now: due pending or
// failed ones and expired leases, in group order. Both placeholders are
// "now". It is a CASE, which no index can serve: it is applied to rows
// found by their ids (the primary key).
const dueCond = `CASE WHEN o.state IN ('pending', 'failed') THEN o.next_attempt_at <= ?
		WHEN o.state = 'delivering' THEN o.lease_until <= ? ELSE false END
	AND ` + groupCond

// dueCandidates selects the ids, due times and peers of up to n
// claimable messages, the longest due first, as the union of one
// index-ordered scan per claimable state: each branch walks outbox_due
// (state, next_attempt_at, id) in order and stops after n hits, so a
// claim costs O(n) rows however large the backlog. (One scan with an OR
// across the states had to sort every due row on every claim: at a bid
// opening with 10,000 restores due at once, 3 ms per claim on SQLite and
// 10 ms on PostgreSQL, once per delivery.) peerCond is "" or a condition
// on o.peer (notPeers) that each branch applies before counting its n;
// the rows it passes over are read but not counted (the due messages of
// the peers at their limit that come before the ones claimed): with
// 10,000 due across five peers, one of them full, 0.16 ms a claim on
// SQLite when the peers' messages are interleaved, 0.7 ms when the full
// peer's 2,000 come first (BenchmarkClaimPeerLimit; 0.1 ms without a
// limit). The placeholders of each branch are now, those of peerCond, n.
func dueCandidates(peerCond string) string {
	branch := func(alias, cond string) string {
		return `SELECT id, next_attempt_at, peer FROM (SELECT o.id, o.next_attempt_at, o.peer FROM outbox o
		WHERE ` + cond + ` AND ` + groupCond + peerCond + `
		ORDER BY o.next_attempt_at, o.id LIMIT ?) AS ` + alias
	}
	return branch("p", `o.state = 'pending' AND o.next_attempt_at <= ?`) + `
	UNION ALL
	` + branch("f", `o.state = 'failed' AND o.next_attempt_at <= ?`) + `
	UNION ALL
	` + branch("d", `o.state = 'delivering' AND o.lease_until <= ?`)
}

// notPeers is the condition that leaves out the given peers ("" for
// none), with its arguments.
func notPeers(peers []string) (string, []any) {
	if len(peers) == 0 {
		return "", nil
	}
	args := make([]any, len(peers))
	for i, p := range peers {
		args[i] = p
	}
	return ` AND o.peer NOT IN (?` + strings.Repeat(", ?", len(peers)-1) + `)`, args
}

// peerRoom splits the peers with deliveries in flight by the limit: the
// full ones (none may be claimed) and the room left of the others,
// sorted by peer so that equal situations give equal statements.
func peerRoom(limit int, busy map[string]int) (full []string, partial []string, room []int) {
	if limit <= 0 {
		return nil, nil, nil
	}
	for p, n := range busy {
		if n >= limit {
			full = append(full, p)
		} else if n > 0 {
			partial = append(partial, p)
		}
	}
	slices.Sort(full)
	slices.Sort(partial)
	for _, p := range partial {
		room = append(room, limit-busy[p])
	}
	return full, partial, room
}

// atLimit reports whether some peer has limit deliveries or more in
// flight.
func atLimit(limit int, busy map[string]int) bool {
	for _, n := range busy {
		if n >= limit {
			return true
		}
	}
	return false
}

// candidates is the statement of the ids (and due times) to claim, at
// most n (the caller's LIMIT) and at most what the limit leaves of each
// peer, with its arguments: dueCandidates without the full peers, and
// with a limit, ranked per peer in due order and cut at the peer's room
// (limit, or what its deliveries in flight leave of it).
func candidates(nowM int64, n, limit int, busy map[string]int) (string, []any) {
	full, partial, room := peerRoom(limit, busy)
	cond, condArgs := notPeers(full)
	var args []any
	for range 3 {
		args = append(append(append(args, nowM), condArgs...), n)
	}
	q := dueCandidates(cond)
	if limit <= 0 || limit >= n && len(partial) == 0 {
		// No peer can exceed its room within n messages.
		return `SELECT id, next_attempt_at FROM (` + q + `) AS c`, args
	}
	cut := `CAST(? AS INTEGER)`
	if len(partial) > 0 {
		var b strings.Builder
		b.WriteString(`CASE peer`)
		for i, p := range partial {
			b.WriteString(` WHEN ? THEN CAST(? AS INTEGER)`)
			args = append(args, p, room[i])
		}
		b.WriteString(` ELSE CAST(? AS INTEGER) END`)
		cut = b.String()
	}
	args = append(args, limit)
	return `SELECT id, next_attempt_at FROM (SELECT id, next_attempt_at, peer,
		ROW_NUMBER() OVER (PARTITION BY peer ORDER BY next_attempt_at, id) AS rn FROM (` + q + `) AS c) AS r
	WHERE rn <= ` + cut, args
}

// claim leases up to n due messages to this dispatcher, the longest due
// first (so that a few failing messages cannot starve the rest).
func (d *Dispatcher) claim(ctx context.Context, n int) ([]*OutMessage, error) {
	return d.claimWithin(ctx, n, 0, nil)
}

// claimWithin is claim under a per-peer limit (0: none): no message of a
// peer with limit deliveries in flight (busy), at most limit-busy[p] of
// any other peer p.
func (d *Dispatcher) claimWithin(ctx context.Context, n, limit int, busy map[string]int) ([]*OutMessage, error) {
	now := d.now()
	until := now.Add(d.lease())
	db := d.DB
	nowM := Micros(now)
	cq, cand := candidates(nowM, n, limit, busy)
	var (
		q    string
		args []any
	)
	if db.Dialect == Postgres {
		// SKIP LOCKED: concurrent claimers pass over each other's rows
		// instead of queueing behind them or claiming them twice. The
		// due condition is repeated on the locked row, so that a row
		// another claimer took between our snapshot and our lock is
		// re-checked on its new version and passed over. The candidates
		// are an array computed once (ARRAY(subquery) is an InitPlan):
		// with IN (subquery), statistics taken while every row was done
		// (a grown outbox, before autovacuum sees a new backlog) make
		// the planner walk the whole due backlog and re-run the
		// candidates' scans for each row — 21 ms a claim with 1,000 due
		// instead of 0.2 ms (`baohan bench --seed`). The due condition
		// on the locked rows is a CASE, which no index can serve: the
		// rows are found by their ids (the primary key). As an OR of
		// index conditions, the planner walked the whole due range of
		// outbox_due_order once more for the ids (0.5 ms a claim with
		// 10,000 restores due at an opening).
		q = `WITH c AS (SELECT o.id FROM outbox o WHERE o.id = ANY (ARRAY(SELECT id FROM (` + cq + `) AS cand))
			AND ` + dueCond + `
			ORDER BY o.next_attempt_at, o.id LIMIT ? FOR UPDATE OF o SKIP LOCKED)
		UPDATE outbox SET state = 'delivering', lease_owner = ?, lease_until = ?, attempts = outbox.attempts + 1
		FROM c WHERE outbox.id = c.id
		RETURNING ` + prefixed("outbox.", outboxColumns) + `, outbox.sent_body`
		args = append(append(cand, nowM, nowM, n), d.Owner, Micros(until))
	} else {
		// One statement in a write transaction: SQLite's write lock makes
		// the select-and-lease atomic, also across processes on one file.
		q = `UPDATE outbox SET state = 'delivering', lease_owner = ?, lease_until = ?, attempts = attempts + 1
		WHERE id IN (SELECT id FROM (` + cq + `) ORDER BY next_attempt_at, id LIMIT ?)
		RETURNING ` + outboxColumns + `, sent_body`
		args = append(append([]any{d.Owner, Micros(until)}, cand...), n)
	}
	var out []*OutMessage
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, db.Rebind(q), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanOutMessageSent(rows, true)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: outbox claim: %w", err)
	}
	d.tracef("claim", "%d of %d", len(out), n)
	// RETURNING order is unspecified; deliver oldest first.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].ID < out[j-1].ID; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// nextDue is when the earliest claimable message of a peer not at its
// limit falls due (ok false: none).
func (d *Dispatcher) nextDue(ctx context.Context, limit int, busy map[string]int) (time.Time, bool, error) {
	full, _, _ := peerRoom(limit, busy)
	cond, args := notPeers(full)
	var v sql.NullInt64
	err := d.DB.QueryRowContext(ctx, d.DB.Rebind(`SELECT MIN(CASE WHEN o.state = 'delivering' THEN o.lease_until ELSE o.next_attempt_at END)
		FROM outbox o WHERE o.state IN ('pending', 'failed', 'delivering') AND `+groupCond+cond), args...).Scan(&v)
	if err != nil || !v.Valid {
		return time.Time{}, false, err
	}
	return FromMicros(v.Int64), true, nil
}

// handle delivers one claimed message and records the outcome.
func (d *Dispatcher) handle(ctx context.Context, m *OutMessage) {
	if ctx.Err() != nil {
		d.release(m)
		return
	}
	dctx, cancel := context.WithTimeout(ctx, d.lease()*9/10)
	start := time.Now()
	out, err := d.safeDeliver(dctx, m)
	cancel()
	if err != nil && ctx.Err() != nil {
		// Shutting down: the attempt was cut short, not failed.
		d.release(m)
		return
	}
	d.complete(ctx, m, out, err, time.Since(start))
}

func (d *Dispatcher) safeDeliver(ctx context.Context, m *OutMessage) (out Outcome, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in Deliver: %v", p)
		}
	}()
	return d.Deliver(ctx, m)
}

func (d *Dispatcher) safeHook(ctx context.Context, tx *sql.Tx, m *OutMessage, o Outcome) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return d.OnOutcome(ctx, tx, m, o)
}

var errLeaseLost = errors.New("lease lost")

type hookError struct{ err error }

func (e hookError) Error() string { return "OnOutcome: " + e.err.Error() }
func (e hookError) Unwrap() error { return e.err }

// fence is the WHERE clause that makes a completion apply only to the
// claim it belongs to: attempts grows with every claim, so a dispatcher
// whose lease expired and was taken over finds nothing to update.
const fence = ` WHERE id = ? AND state = 'delivering' AND lease_owner = ? AND attempts = ?`

// complete records the outcome of a delivery attempt.
func (d *Dispatcher) complete(ctx context.Context, m *OutMessage, out Outcome, derr error, took time.Duration) {
	// The outcome is recorded even when ctx ends right after a successful
	// delivery; otherwise the message would be sent again.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	log := d.logger().With("owner", d.Owner, "id", m.ID, "peer", m.Peer, "interface", m.Interface,
		"applyno", m.ApplyNo, "attempt", m.Attempts, "took", took)
	now := d.now()
	callHook := derr == nil
	if derr != nil {
		out = Outcome{Kind: OutcomeRetry, Response: out.Response, Reason: derr.Error(), Sent: out.Sent}
	}
	if out.Kind == OutcomeRetry && d.Backoff.Exhausted(m.Attempts) {
		out.Kind = OutcomeDead
		out.Reason = fmt.Sprintf("gave up after %d attempts: %s", m.Attempts, out.Reason)
		callHook = true
	}
	var (
		state     State
		next      time.Time
		delivered time.Time
		lastErr   string
		sent      string // kept for the next attempt
	)
	switch out.Kind {
	case OutcomeDone:
		state, delivered = StateDone, now
	case OutcomeRetry:
		delay := d.Backoff.Delay(m.Attempts)
		if derr == nil && out.RetryAfter > 0 {
			delay = out.RetryAfter
		}
		state, next, lastErr = StateFailed, now.Add(delay), out.Reason
		if textSafe(out.Sent, 0) == out.Sent {
			sent = out.Sent
		}
	default:
		out.Kind = OutcomeDead
		state, lastErr = StateDead, out.Reason
	}
	// Grouped: at a bid opening the workers finish together, and one
	// commit records the outcomes of several (grouptx.go). cctx is not
	// cancelled while it runs.
	err := d.DB.InTxGrouped(cctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(cctx, d.DB.Rebind(`UPDATE outbox SET state = ?, next_attempt_at = ?, delivered_at = ?,
			last_error = ?, last_response = ?, sent_body = ?, lease_owner = '', lease_until = 0`+fence),
			string(state), Micros(next), Micros(delivered), textSafe(lastErr, 4096), textSafe(out.Response, 65536), sent,
			m.ID, d.Owner, m.Attempts)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return errLeaseLost
		}
		if callHook && d.OnOutcome != nil {
			mm := *m
			mm.State, mm.NextAttemptAt, mm.DeliveredAt = state, next, delivered
			mm.LastError, mm.LastResponse, mm.LeaseOwner, mm.LeaseUntil = lastErr, out.Response, "", time.Time{}
			if err := d.safeHook(cctx, tx, &mm, out); err != nil {
				return hookError{err}
			}
		}
		return nil
	})
	var he hookError
	switch {
	case err == nil:
		switch state {
		case StateDone:
			log.Debug("store: outbox delivered")
		case StateFailed:
			log.Warn("store: outbox delivery failed, will retry", "reason", lastErr, "next", next)
		case StateDead:
			log.Error("store: outbox message dead", "reason", lastErr)
		}
	case errors.Is(err, errLeaseLost):
		log.Warn("store: outbox lease lost before completion (taken over after expiry); outcome not recorded", "outcome", out.Kind)
	case errors.As(err, &he):
		log.Error("store: outbox outcome not applied, will retry", "err", err, "outcome", out.Kind)
		d.fail(cctx, m, err.Error())
	default:
		log.Error("store: outbox outcome not recorded (the lease will expire and the message be retried)", "err", err, "outcome", out.Kind)
	}
}

// fail marks a claimed message failed (or dead when out of attempts)
// without calling OnOutcome.
func (d *Dispatcher) fail(ctx context.Context, m *OutMessage, reason string) {
	state, next := StateFailed, d.now().Add(d.Backoff.Delay(m.Attempts))
	if d.Backoff.Exhausted(m.Attempts) {
		state, next, reason = StateDead, time.Time{}, fmt.Sprintf("gave up after %d attempts: %s", m.Attempts, reason)
	}
	_, err := d.DB.execWrite(ctx, `UPDATE outbox SET state = ?, next_attempt_at = ?, last_error = ?,
		lease_owner = '', lease_until = 0`+fence, string(state), Micros(next), textSafe(reason, 4096), m.ID, d.Owner, m.Attempts)
	if err != nil {
		d.logger().Error("store: outbox could not mark message failed (the lease will expire)", "id", m.ID, "err", err)
	}
}

// release gives a claimed but unfinished message back: due now, the
// interrupted attempt not counted.
func (d *Dispatcher) release(m *OutMessage) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := d.DB.execWrite(ctx, `UPDATE outbox SET state = CASE WHEN attempts <= 1 THEN 'pending' ELSE 'failed' END,
		attempts = attempts - 1, next_attempt_at = ?, lease_owner = '', lease_until = 0`+fence,
		Micros(d.now()), m.ID, d.Owner, m.Attempts)
	if err != nil {
		d.logger().Warn("store: outbox could not release lease at shutdown (it will expire)", "id", m.ID, "err", err)
	}
}
