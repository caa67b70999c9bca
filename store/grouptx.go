package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
)

// Group commit of write transactions on SQLite. SQLite has one writer, so
// write transactions run one after the other anyway, each paying
// BEGIN IMMEDIATE, COMMIT and the WAL writes of every page it touched.
// When several InTx calls are waiting, the first one (groupCommit's
// leader) runs all of them in one transaction, each inside its own
// savepoint: a function that fails is rolled back to its savepoint alone,
// the others commit together. That is the same as running them one after
// the other, in arrival order, each committed: every function sees the
// writes of those before it, none sees a failed one's. A caller returns
// once the transaction holding its function has committed; if that commit
// fails, every function of the group gets the error (nothing of them is
// applied) and InTx retries it when the error is retryable.
//
// Statements run inside a group ignore their context's cancellation:
// SQLite answers an interrupt inside a transaction by rolling the whole
// transaction back, which would fail the neighbours of a caller that went
// away. A function can still stop early by returning ctx.Err().

// On PostgreSQL, whose writers run side by side, InTx runs each
// transaction alone; InTxGrouped groups them as above, for the short
// transactions many goroutines run at once where each would otherwise pay
// its own commit (the outbox's outcomes at a bid opening: every commit
// waits for its WAL flush, and the flushes queue on one lock).

// InTxGrouped is InTx that may share its transaction, and its commit, with
// the other InTxGrouped calls waiting at the same time (group commit, each
// function in a savepoint of its own: a function that fails is rolled
// back alone). On SQLite every write transaction is grouped already and
// this is InTx. On PostgreSQL the functions of a group run one after the
// other on one connection, each seeing the writes of those before it, and
// hold their row locks until the group commits (pgTxGroups groups run side
// by side); when one fails, the group is rolled back and its functions run
// again each alone (writeTxGroupWhole); a function that fails with a
// retryable conflict is run again as InTx does. fn's statements must not be cancelled mid-way (a
// cancelled statement breaks PostgreSQL's connection, and the group's
// transaction with it): give InTxGrouped a context that is not cancelled
// while it runs (context.WithoutCancel, with a timeout if need be).
func (db *DB) InTxGrouped(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if db.Dialect != Postgres || db.noGroupTx {
		return db.InTx(ctx, fn)
	}
	return db.retry(ctx, func() error { return db.runGrouped(ctx, fn) })
}

// txGroupMax bounds the functions of one group transaction.
const txGroupMax = 64

type txJob struct {
	ctx      context.Context
	fn       func(tx *sql.Tx) error
	err      error
	panicked bool
	panicVal any
}

// pgTxGroups is how many groups run side by side on PostgreSQL: a group
// runs its members one after the other on one connection, so one group
// alone would queue every member's statements behind each other where
// separate transactions overlap their round trips. A member joins a group
// that is not writing, or else the one with the fewest waiting.
const pgTxGroups = 4

func (db *DB) txGroup() *groupCommit[*txJob] {
	db.txgOnce.Do(func() {
		write := db.writeTxGroup
		n := 1
		if db.Dialect == Postgres {
			write, n = db.writeTxGroupWhole, pgTxGroups
		}
		for range n {
			db.txg = append(db.txg, &groupCommit[*txJob]{max: txGroupMax, write: write})
		}
	})
	if len(db.txg) == 1 {
		return db.txg[0]
	}
	var best *groupCommit[*txJob]
	least := 0
	for _, g := range db.txg {
		g.mu.Lock()
		busy, waiting := g.busy, len(g.pending)
		g.mu.Unlock()
		if !busy {
			return g
		}
		if best == nil || waiting < least {
			best, least = g, waiting
		}
	}
	return best
}

// runGrouped runs fn as one member of a group transaction.
func (db *DB) runGrouped(ctx context.Context, fn func(tx *sql.Tx) error) error {
	job := &txJob{ctx: ctx, fn: fn}
	err := db.txGroup().do(ctx, job)
	if job.panicked {
		panic(job.panicVal)
	}
	if err != nil {
		return err
	}
	return job.err
}

// writeTxGroup is the leader's work: one transaction for the group. Its
// error (begin, savepoint, commit) fails every member; a member's own
// error is in its job.
func (db *DB) writeTxGroup(ctx context.Context, items []*batchItem[*txJob]) error {
	if len(items) == 1 {
		// Alone: the plain transaction, with the caller's own context.
		job := items[0].v
		job.err = db.runJob(job, func(fn func(tx *sql.Tx) error) error {
			return db.runTxPlain(job.ctx, nil, fn)
		})
		return nil
	}
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	setDetached(conn, true)
	defer setDetached(conn, false)
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			tx.Rollback()
		}
	}()
	ran := 0
	for _, it := range items {
		job := it.v
		if err := job.ctx.Err(); err != nil {
			job.err = err // gone before its turn: never ran
			continue
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT grouptx"); err != nil {
			return fmt.Errorf("store: group transaction savepoint: %w", err)
		}
		job.err = db.runJob(job, func(fn func(tx *sql.Tx) error) error { return fn(tx) })
		if job.err != nil {
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO grouptx"); err != nil {
				return fmt.Errorf("store: group transaction rollback to savepoint: %w", err)
			}
		} else {
			ran++
		}
		if _, err := tx.ExecContext(ctx, "RELEASE grouptx"); err != nil {
			return fmt.Errorf("store: group transaction release: %w", err)
		}
	}
	if ran == 0 {
		return nil // nothing to commit; the deferred rollback ends it
	}
	committed = true
	return tx.Commit()
}

// writeTxGroupWhole is writeTxGroup without savepoints, for PostgreSQL,
// where each is a round trip and a statement of the server's (two per
// member, a quarter of the statements of a delivery's outcome): the
// members run one after the other in one transaction, and when one of
// them fails the transaction is rolled back and every member is run
// again alone, in a transaction of its own, as InTx would have (functions
// given to InTx must be safe to run more than once). A failure costs the
// group its work; a group without one commits once.
func (db *DB) writeTxGroupWhole(ctx context.Context, items []*batchItem[*txJob]) error {
	if len(items) == 1 {
		return db.writeTxGroup(ctx, items)
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	ran := make([]bool, len(items))
	for i, it := range items {
		job := it.v
		if err := job.ctx.Err(); err != nil {
			job.err = err // gone before its turn: never runs
			continue
		}
		ran[i] = true
		if err := db.runJob(job, func(fn func(tx *sql.Tx) error) error { return fn(tx) }); err != nil {
			tx.Rollback()
			job.err = err
			db.runAlone(items, ran)
			return nil
		}
	}
	err = tx.Commit()
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// The server refused the commit (a deferred constraint, a
		// serialization failure): nothing of the group is applied, and
		// the member at fault is not known. Each alone.
		db.runAlone(items, ran)
		return nil
	}
	// A commit that failed otherwise (the connection lost) may have been
	// applied: every member gets the error, as from InTx.
	return err
}

// runAlone runs the members of a PostgreSQL group that was rolled back
// each in a transaction of its own: the ones that ran in the group and
// the ones after a failing member, not those gone before their turn, nor
// a member that panicked (its panic is re-raised in its caller).
func (db *DB) runAlone(items []*batchItem[*txJob], ran []bool) {
	db.txGroupFallbacks.Add(1)
	for k, x := range items {
		job := x.v
		switch {
		case job.panicked:
			continue
		case !ran[k] && job.err != nil:
			continue // gone before its turn
		case !ran[k]:
			// After the failing one: not run yet.
			if err := job.ctx.Err(); err != nil {
				job.err = err
				continue
			}
		}
		job.err = db.runJob(job, func(fn func(tx *sql.Tx) error) error {
			return db.runTxPlain(job.ctx, nil, fn)
		})
	}
}

// runJob runs a member's function through run, turning a panic into the
// job's failure (re-raised in the member's own goroutine).
func (db *DB) runJob(job *txJob, run func(fn func(tx *sql.Tx) error) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			job.panicked, job.panicVal = true, v
			err = fmt.Errorf("store: panic in a transaction: %v", v)
		}
	}()
	return run(job.fn)
}

// setDetached makes the connection's statements ignore their contexts'
// cancellation (a no-op for a connection without the statement cache).
func setDetached(conn *sql.Conn, on bool) {
	conn.Raw(func(dc any) error {
		if c, ok := dc.(*cachingConn); ok {
			c.detached = on
		}
		return nil
	})
}
