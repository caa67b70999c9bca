package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
)

// ChainedLog is a hash-chained log VerifyLogs checks: the message log
// (MessageLogChain), or one a package above keeps in the same database
// (the consoles' audit log, web.AuditChain).
type ChainedLog struct {
	Name  string // as printed: "message log"
	Table string // the table whose presence says the database has the log
	// Absent is printed after the name when the table is not there.
	// Empty: the log is required; without it, and when it cannot be
	// read, VerifyLogs fails.
	Absent string
	Verify func(ctx context.Context, db *DB) (*ChainBreak, int64, error)
}

// MessageLogChain is the message log of both services, required.
var MessageLogChain = ChainedLog{Name: "message log", Table: "message_log_head",
	Verify: func(ctx context.Context, db *DB) (*ChainBreak, int64, error) { return NewMessageLog(db).Verify(ctx) }}

// VerifyLogs opens the database at rawURL without migrating it (a
// SQLite file must exist: see Open) and checks each log's chain, printing
// one line per log to w: "NAME: ok, N entries", "NAME: broken at entry
// N: why", "NAME: cannot be verified: why" or "NAME: " and its Absent
// text. The error names every broken log, the database's URL without its
// password first. Read-only; safe while the service runs.
func VerifyLogs(ctx context.Context, rawURL string, w io.Writer, logs ...ChainedLog) error {
	db, err := Open(ctx, rawURL, "", WithoutSharedMigrations(), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return fmt.Errorf("opening %s: %w", redact(rawURL), err)
	}
	defer db.Close()
	var broken []error
	for _, l := range logs {
		ok, err := db.HasTable(ctx, l.Table)
		switch {
		case err != nil:
			return err
		case !ok && l.Absent == "":
			return fmt.Errorf("%s has no %s (is it a baohan database?)", redact(rawURL), l.Name)
		case !ok:
			fmt.Fprintf(w, "%s: %s\n", l.Name, l.Absent)
			continue
		}
		brk, n, err := l.Verify(ctx, db)
		switch {
		case err != nil && l.Absent == "":
			return err
		case err != nil:
			fmt.Fprintf(w, "%s: cannot be verified: %v\n", l.Name, err)
			broken = append(broken, fmt.Errorf("%s: %w", l.Name, err))
		case brk != nil:
			fmt.Fprintf(w, "%s: broken at entry %d: %s\n", l.Name, brk.ID, brk.Reason)
			broken = append(broken, brk)
		default:
			fmt.Fprintf(w, "%s: ok, %d entries\n", l.Name, n)
		}
	}
	if len(broken) > 0 {
		return fmt.Errorf("%s: %w", redact(rawURL), errors.Join(broken...))
	}
	return nil
}

// HasTable reports whether the database has the table (in the current
// schema on PostgreSQL).
func (db *DB) HasTable(ctx context.Context, name string) (bool, error) {
	var n int
	q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
	if db.Dialect == Postgres {
		q = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?`
	}
	if err := db.QueryRowContext(ctx, db.Rebind(q), name).Scan(&n); err != nil {
		return false, fmt.Errorf("looking for table %s: %w", name, err)
	}
	return n > 0, nil
}
