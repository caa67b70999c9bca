package store

import (
	"container/list"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"os"
	"reflect"
	"sync"

	"modernc.org/sqlite"
)

// The SQLite driver parses every statement it is given, every time: with
// the services' short transactions (look up, update, insert an event,
// enqueue), parsing was a quarter of the CPU of the write path. Each
// SQLite connection therefore keeps its prepared statements by SQL text
// (the driver resets and reuses a prepared statement between executions),
// at most stmtCacheSize of them, least recently used first out. Callers
// keep writing plain ExecContext and QueryContext. PostgreSQL needs none of
// this: pgx caches prepared statements per connection itself.

// stmtCacheSize bounds the statements one connection keeps prepared.
const stmtCacheSize = 128

// openSQLiteDB opens a pool of SQLite connections with statement caches.
func openSQLiteDB(dsn string) (*sql.DB, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	if noStmtCache {
		return sql.OpenDB(c), nil
	}
	return sql.OpenDB(stmtCacheConnector{c}), nil
}

// noStmtCache turns the cache off (benchmarks compare).
var noStmtCache = os.Getenv("BAOHAN_SQLITE_NO_STMT_CACHE") == "1"

// stmtCacheConnector wraps the SQLite connector's connections.
type stmtCacheConnector struct{ base driver.Connector }

func (c stmtCacheConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	sc, ok := conn.(sqliteConn)
	if !ok { // another driver version: no cache, still correct
		return conn, nil
	}
	return &cachingConn{sqliteConn: sc, byQuery: map[string]*list.Element{}, lru: list.New()}, nil
}

func (c stmtCacheConnector) Driver() driver.Driver { return c.base.Driver() }

// sqliteConn is what the SQLite driver's connections implement and
// database/sql uses.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

type cachedStmt struct {
	query string
	stmt  interface {
		driver.Stmt
		driver.StmtExecContext
		driver.StmtQueryContext
	}
	busy   bool // rows of it are open
	closed bool // evicted while busy: close when released
}

// cachingConn is a SQLite connection with a statement cache. database/sql
// uses a connection from one goroutine at a time; mu guards against rows
// closed from another (a cancelled context).
type cachingConn struct {
	sqliteConn
	mu      sync.Mutex
	byQuery map[string]*list.Element // of *cachedStmt
	lru     *list.List               // front: most recently used
	// detached: statements ignore their contexts' cancellation (inside a
	// group transaction, see grouptx.go).
	detached bool
}

// stmt returns the cached statement for query, preparing it on first use.
// It returns nil (run the query uncached) when the statement is in use by
// open rows.
func (c *cachingConn) stmt(ctx context.Context, query string) (*cachedStmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byQuery[query]; ok {
		cs := e.Value.(*cachedStmt)
		if cs.busy {
			return nil, nil
		}
		c.lru.MoveToFront(e)
		return cs, nil
	}
	s, err := c.sqliteConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	st, ok := s.(interface {
		driver.Stmt
		driver.StmtExecContext
		driver.StmtQueryContext
	})
	if !ok {
		s.Close()
		return nil, nil
	}
	cs := &cachedStmt{query: query, stmt: st}
	c.byQuery[query] = c.lru.PushFront(cs)
	for c.lru.Len() > stmtCacheSize {
		old := c.lru.Back()
		ocs := old.Value.(*cachedStmt)
		c.lru.Remove(old)
		delete(c.byQuery, ocs.query)
		if ocs.busy {
			ocs.closed = true
		} else {
			ocs.stmt.Close()
		}
	}
	return cs, nil
}

// ExecContext runs query through its cached statement.
func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if c.detached {
		ctx = context.WithoutCancel(ctx)
	}
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.sqliteConn.ExecContext(ctx, query, args)
	}
	return cs.stmt.ExecContext(ctx, args)
}

// QueryContext runs query through its cached statement; the statement is
// in use until the rows are closed.
func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if c.detached {
		ctx = context.WithoutCancel(ctx)
	}
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.sqliteConn.QueryContext(ctx, query, args)
	}
	c.mu.Lock()
	cs.busy = true
	c.mu.Unlock()
	rows, err := cs.stmt.QueryContext(ctx, args)
	if err != nil {
		c.release(cs)
		return nil, err
	}
	return &cachedRows{Rows: rows, release: func() { c.release(cs) }}, nil
}

func (c *cachingConn) release(cs *cachedStmt) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cs.busy = false
	if cs.closed {
		cs.stmt.Close()
	}
}

// Close finalizes the cached statements and closes the connection.
func (c *cachingConn) Close() error {
	c.mu.Lock()
	var errs []error
	for e := c.lru.Front(); e != nil; e = e.Next() {
		if err := e.Value.(*cachedStmt).stmt.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	c.lru.Init()
	clear(c.byQuery)
	c.mu.Unlock()
	return errors.Join(append(errs, c.sqliteConn.Close())...)
}

// cachedRows releases its statement when closed, and passes the column
// type methods through.
type cachedRows struct {
	driver.Rows
	release func()
	once    sync.Once
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	r.once.Do(r.release)
	return err
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypeNullable(i int) (bool, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}
