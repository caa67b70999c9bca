package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// The outbox's wake-up across processes (PostgreSQL).
//
// In one process, a transaction that enqueues wakes the dispatcher when
// it commits (Dispatcher.InTx). Replicas of a service share the outbox
// table, and a message one of them enqueues may be picked up by any;
// without a wake-up across processes the others would find it only at
// their next poll. On PostgreSQL the enqueuing transaction therefore also
// sends a NOTIFY, which the server delivers to every listening session
// when, and only if, the transaction commits; each running dispatcher
// keeps one connection of its own (outside the pool) that LISTENs, and
// wakes its dispatcher on every notification.
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
// payload is the wake token of the dispatcher whose InTx sent it, which
// woke itself already; its own listener passes over it. PostgreSQL folds
// identical notifications of one transaction into one, so a transaction
// that enqueues many messages sends one.

// outboxChannel is the SQL expression of the channel: the prefix and the
// oid of the outbox table the session's search_path resolves, as the
// INSERT of Enqueue does.
const outboxChannel = `'baohan_outbox_' || CAST(CAST('outbox' AS regclass) AS oid)`

// notifySQL is the wake-up sent in an enqueuing transaction; its one
// argument is the payload.
const notifySQL = `SELECT pg_notify(` + outboxChannel + `, $1)`

// listenHealth is how long the listener waits for a notification before it
// checks its connection with a ping (a connection the network dropped
// without a word would otherwise be noticed only by TCP keepalive).
const listenHealth = 30 * time.Second

// notify sends the wake-up in tx (PostgreSQL; a no-op on SQLite).
// payload is the token of a dispatcher that wakes itself ("" wakes all).
func (d *Dispatcher) notify(ctx context.Context, tx *sql.Tx, payload string) error {
	if d.DB.Dialect != Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, notifySQL, payload); err != nil {
		return fmt.Errorf("store: outbox wake-up (NOTIFY): %w", err)
	}
	return nil
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
	d.Kick()
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
