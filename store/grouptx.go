package store

import (
	"context"
	"database/sql"
	"fmt"
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

// txGroupMax bounds the functions of one group transaction.
const txGroupMax = 64

type txJob struct {
	ctx      context.Context
	fn       func(tx *sql.Tx) error
	err      error
	panicked bool
	panicVal any
}

func (db *DB) txGroup() *groupCommit[*txJob] {
	db.txgOnce.Do(func() {
		db.txg = &groupCommit[*txJob]{max: txGroupMax, write: db.writeTxGroup}
	})
	return db.txg
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
