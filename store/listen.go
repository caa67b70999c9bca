package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// The outbox's wake-up across processes (PostgreSQL).
//
// In one process, a transaction that enqueues wakes the dispatcher when
// it commits (Dispatcher.InTx, Kick). Replicas of a service share the
// outbox table, and a message one of them enqueues may be picked up by
// any; without a wake-up across processes the others would find it only
// at their next poll. On PostgreSQL, Kick therefore also sends a NOTIFY,
// which the server delivers to every listening session; each running
// dispatcher keeps one connection of its own (outside the pool) that
// LISTENs, and wakes its dispatcher on every notification.
//
// The NOTIFY is sent after the enqueuing transaction committed, in a
// statement of its own, not in that transaction: PostgreSQL serializes
// the commits of the transactions that notify (a lock held through the
// commit's WAL flush), which took concurrent enqueuing transactions from
// 0.32-0.35 ms to 1.0-2.5 ms each; sent after the commits they stay at
// 0.32-0.35 ms (BenchmarkEnqueueWakeUp, 32 goroutines, two loaded
// cores). A process has one NOTIFY in flight at a time; the Kicks
// that come meanwhile are answered by one more, sent after it, so every
// commit is followed by a NOTIFY that began after it. The NOTIFY's own
// commit does not wait for the WAL flush (synchronous_commit off for it:
// a notification is not data). A process that crashes between the two
// leaves the other replicas to find the message at their next poll.
//
// The notification is only a wake-up: the message is in the table, and
// the claim decides who delivers it (SKIP LOCKED, leases), so a
// notification lost, duplicated or delivered to a dispatcher that finds
// nothing due changes nothing but latency. The poll stays as the safety
// net: when the listener's connection breaks, the dispatcher keeps
// polling while it reconnects (with backoff), and once it listens again
// it wakes its dispatcher once, for whatever was committed meanwhile.
//
// The channel is named after the outbox table's oid, so that services on
// one database in different schemas (or the platform and an institution
// on one server) wake only the dispatchers of their own table. The
// payload is the wake token of the dispatcher that sent it, which woke
// itself already; its own listener passes over it.

// outboxChannel is the SQL expression of the channel: the prefix and the
// oid of the outbox table the session's search_path resolves, as the
// INSERT of Enqueue does.
const outboxChannel = `'baohan_outbox_' || CAST(CAST('outbox' AS regclass) AS oid)`

// notifySQL is the wake-up, a transaction of its own whose commit does
// not wait for the WAL flush; its one argument is the payload.
const notifySQL = `SELECT set_config('synchronous_commit', 'off', true), pg_notify(` + outboxChannel + `, $1)`

// listenHealth is how long the listener waits for a notification before it
// checks its connection with a ping (a connection the network dropped
// without a word would otherwise be noticed only by TCP keepalive).
const listenHealth = 30 * time.Second

// wakeOthers wakes the dispatchers of the other processes (PostgreSQL;
// a no-op on SQLite): a NOTIFY now, or when one is in flight, one more
// after it. It never blocks.
func (d *Dispatcher) wakeOthers() {
	if d.DB == nil || d.DB.Dialect != Postgres {
		return
	}
	d.init()
	d.nmu.Lock()
	if d.notifying {
		d.notifyAgain = true
		d.nmu.Unlock()
		return
	}
	d.notifying = true
	d.nmu.Unlock()
	go d.notifyLoop()
}

// notifyLoop sends NOTIFYs until no Kick came during the last one.
func (d *Dispatcher) notifyLoop() {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := d.DB.ExecContext(ctx, notifySQL, d.token)
		cancel()
		d.tracef("notify", "%v", err)
		// (A database closed as the process stops is no news.)
		if err != nil && err.Error() != "sql: database is closed" {
			d.logger().Warn("store: outbox could not wake the other processes (NOTIFY); they find the message at their next poll", "err", err)
		}
		d.nmu.Lock()
		if !d.notifyAgain {
			d.notifying = false
			d.nmu.Unlock()
			return
		}
		d.notifyAgain = false
		d.nmu.Unlock()
	}
}

// Listening reports whether the dispatcher is listening for the other
// processes' enqueues: true on PostgreSQL while Run runs and its
// listening connection works; false on SQLite, with NoListen, and while
// the listener reconnects (the dispatcher polls meanwhile).
func (d *Dispatcher) Listening() bool { return d.listenOK.Load() }

// listens reports whether Run starts a listener.
func (d *Dispatcher) listens() bool {
	return d.DB.Dialect == Postgres && !d.NoListen && (d.DB.pgConfig != nil || d.dial != nil)
}

// listen keeps a listening connection until ctx ends, reconnecting with
// backoff (100 ms doubling up to the poll interval, at most 5 s) when it
// breaks.
func (d *Dispatcher) listen(ctx context.Context, log *slog.Logger) {
	failures := 0
	for {
		connected, err := d.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if connected {
			failures = 0
		}
		failures++
		wait := min(100*time.Millisecond<<min(failures-1, 10), max(d.poll(), 100*time.Millisecond), 5*time.Second)
		d.tracef("listen-lost", "%v", err)
		if failures == 1 {
			log.Warn("store: outbox listener disconnected; reconnecting, the outbox is polled meanwhile", "err", err, "retry_in", wait)
		} else {
			log.Debug("store: outbox listener still disconnected", "err", err, "failures", failures, "retry_in", wait)
		}
		if sleepCtx(ctx, wait) != nil {
			return
		}
	}
}

// listenOnce connects, LISTENs, wakes the dispatcher once, then wakes it
// on each notification of another dispatcher until the connection fails
// or ctx ends. connected says whether it got as far as listening.
func (d *Dispatcher) listenOnce(ctx context.Context) (connected bool, err error) {
	conn, err := d.dialListener(ctx)
	if err != nil {
		return false, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	var channel string
	if err := conn.QueryRow(ctx, `SELECT `+outboxChannel).Scan(&channel); err != nil {
		return false, fmt.Errorf("outbox table: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return false, fmt.Errorf("LISTEN %s: %w", channel, err)
	}
	// What was committed while nobody listened: one look at the table.
	d.kickSelf()
	d.listenOK.Store(true)
	defer d.listenOK.Store(false)
	d.tracef("listening", "%d", conn.PgConn().PID())
	for {
		wctx, cancel := context.WithTimeout(ctx, listenHealth)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			if n.Payload == d.token {
				continue // its own InTx woke it already
			}
			select {
			case d.notified <- struct{}{}:
			default: // a wake-up is pending already
			}
		case ctx.Err() != nil:
			return true, nil
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			// Nothing for a while: make sure the connection still works.
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return true, fmt.Errorf("ping: %w", err)
			}
		default:
			return true, err
		}
	}
}

func (d *Dispatcher) dialListener(ctx context.Context) (*pgx.Conn, error) {
	if d.dial != nil {
		return d.dial(ctx)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return pgx.ConnectConfig(cctx, d.DB.pgConfig.Copy())
}

// tracef tells a test what the dispatcher does (trace unset: nothing).
func (d *Dispatcher) tracef(event, format string, a ...any) {
	if d.trace != nil {
		d.trace(event, fmt.Sprintf(format, a...))
	}
}
