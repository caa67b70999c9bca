package web

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/baohan-dev/baohan/store"
)

// AuditEntry is one line of the audit log: who did what to which target.
type AuditEntry struct {
	ID     int64
	At     time.Time
	Actor  string // username or bidder credit code
	Role   Role
	Action string // e.g. "login", "approve", "postpone"
	Target string // e.g. an applyno
	Detail string
	OK     bool
	IP     string
}

// Caps of the audit fields, in bytes: whatever a request carries, a row
// stays small. Longer values are cut at a character boundary and marked.
const (
	auditActorMax  = 128
	auditRoleMax   = 16
	auditActionMax = 64
	auditTargetMax = 256
	auditDetailMax = 2000
	auditIPMax     = 64
)

// auditChain chains the audit log like the message log: editing,
// inserting or deleting a row in SQL breaks it, and VerifyAudit (and
// baohan audit verify) names the first row where it breaks.
var auditChain = &store.Chain{Table: "web_audit", Head: "web_audit_head", Label: "baohan web_audit v1",
	Name: "console audit log", Adopted: "adopted_to"}

// auditDigest is the content digest of an audit row: every column but
// id and the hashes, in table order.
func auditDigest(realm string, at int64, e *AuditEntry) [32]byte {
	d := auditChain.NewDigest()
	d.Str(realm)
	d.Int(at)
	d.Str(e.Actor)
	d.Str(string(e.Role))
	d.Str(e.Action)
	d.Str(e.Target)
	d.Str(e.Detail)
	d.Bool(e.OK)
	d.Str(e.IP)
	return d.Sum()
}

// clean makes s storable (valid UTF-8 without NUL, which PostgreSQL's
// TEXT refuses) and at most max bytes.
func clean(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\\x00")
	}
	return truncate(s, max)
}

// Audit appends e to the audit log (At defaults to now), every field cut
// to its cap, chained on the row before. A failure to write is logged,
// not returned: the action already happened. A client that goes away
// does not cancel the write (ctx's values are kept, not its end).
func (a *Auth) Audit(ctx context.Context, e AuditEntry) {
	ctx = context.WithoutCancel(ctx)
	if e.At.IsZero() {
		e.At = a.now()
	}
	e.Actor, e.Action, e.Target = clean(e.Actor, auditActorMax), clean(e.Action, auditActionMax), clean(e.Target, auditTargetMax)
	e.Role, e.Detail, e.IP = Role(clean(string(e.Role), auditRoleMax)), clean(e.Detail, auditDetailMax), clean(e.IP, auditIPMax)
	at := store.Micros(e.At)
	content := auditDigest(a.realm, at, &e)
	err := a.db.InTx(ctx, func(tx *sql.Tx) error {
		id, prev, err := auditChain.Reserve(ctx, tx, a.db, 1)
		if err != nil {
			return err
		}
		hash := auditChain.Link(prev, id, &content)
		if _, err := tx.ExecContext(ctx, a.db.Rebind(`INSERT INTO web_audit (id, realm, at, actor, role, action, target, detail, ok, ip, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			id, a.realm, at, e.Actor, string(e.Role), e.Action, e.Target, e.Detail, e.OK, e.IP, prev, hash); err != nil {
			return err
		}
		return auditChain.SetHead(ctx, tx, a.db, hash)
	})
	if err != nil {
		a.log.Error("web: writing the audit log", "err", err, "actor", e.Actor, "action", e.Action, "target", e.Target)
	}
}

// adoptAudit chains the audit rows written before the log was chained
// (ids up to the head's adopted_to), as they are, once: NewAuth calls
// it, and it does nothing when they are chained already.
func adoptAudit(ctx context.Context, db *store.DB) error {
	return db.InTx(ctx, func(tx *sql.Tx) error {
		var last, adopted int64
		var prev string
		// The no-op UPDATE locks the head row (PostgreSQL) until commit.
		if err := tx.QueryRowContext(ctx, `UPDATE web_audit_head SET last_id = last_id WHERE k = 1
			RETURNING last_id, last_hash, adopted_to`).Scan(&last, &prev, &adopted); err != nil {
			return fmt.Errorf("web: audit chain head: %w", err)
		}
		for last < adopted {
			rows, err := readAudit(ctx, tx, db, last, adopted, 500)
			if err != nil {
				return err
			}
			if len(rows) == 0 {
				break
			}
			for _, r := range rows {
				d := auditDigest(r.realm, r.at, &r.AuditEntry)
				hash := auditChain.Link(prev, r.ID, &d)
				if _, err := tx.ExecContext(ctx, db.Rebind(`UPDATE web_audit SET prev_hash = ?, hash = ? WHERE id = ?`), prev, hash, r.ID); err != nil {
					return err
				}
				last, prev = r.ID, hash
			}
		}
		_, err := tx.ExecContext(ctx, db.Rebind(`UPDATE web_audit_head SET last_id = ?, last_hash = ? WHERE k = 1`), max(last, adopted), prev)
		return err
	})
}

// auditRow is a row of web_audit as stored.
type auditRow struct {
	AuditEntry
	realm          string
	at             int64
	prevHash, hash string
}

// readAudit reads up to limit rows with after < id <= upTo (upTo 0: no
// bound), in id order.
func readAudit(ctx context.Context, q store.Querier, db *store.DB, after, upTo int64, limit int) ([]auditRow, error) {
	qs := `SELECT id, realm, at, actor, role, action, target, detail, ok, ip, prev_hash, hash FROM web_audit WHERE id > ?`
	args := []any{after}
	if upTo > 0 {
		qs += ` AND id <= ?`
		args = append(args, upTo)
	}
	rows, err := q.QueryContext(ctx, db.Rebind(qs+` ORDER BY id LIMIT ?`), append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("web: reading the audit log: %w", err)
	}
	defer rows.Close()
	var out []auditRow
	for rows.Next() {
		var r auditRow
		if err := rows.Scan(&r.ID, &r.realm, &r.at, &r.Actor, &r.Role, &r.Action, &r.Target, &r.Detail, &r.OK, &r.IP, &r.prevHash, &r.hash); err != nil {
			return nil, fmt.Errorf("web: reading the audit log: %w", err)
		}
		r.At = store.FromMicros(r.at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// ErrAuditNotChained is VerifyAudit's error for a database whose audit
// log has not been chained yet: a console of this version has not
// started on it since it was upgraded.
var ErrAuditNotChained = errors.New("the console audit log is not chained yet: start the service once after the upgrade")

// AuditChain is the consoles' audit log as store.VerifyLogs checks it
// (`baohan audit verify`): there when a console ever ran on the database
// (its table), chained since the table has a head.
var AuditChain = store.ChainedLog{Name: "console audit log", Table: "web_audit",
	Absent: "none (no console has run on this database)", Verify: VerifyAudit}

// VerifyAudit checks the SM3 chain of the consoles' audit log (both
// realms) in one read-only snapshot, without migrating anything. It
// returns the number of rows and nil when the chain holds, the first
// break otherwise.
func VerifyAudit(ctx context.Context, db *store.DB) (*store.ChainBreak, int64, error) {
	tx, err := store.BeginVerify(ctx, db)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	return verifyAuditIn(ctx, tx, db)
}

func verifyAuditIn(ctx context.Context, tx store.Querier, db *store.DB) (*store.ChainBreak, int64, error) {
	var last, adopted int64
	if err := tx.QueryRowContext(ctx, `SELECT last_id, adopted_to FROM web_audit_head WHERE k = 1`).Scan(&last, &adopted); err != nil {
		return nil, 0, fmt.Errorf("console audit log: chain head: %w", err)
	}
	if last < adopted {
		return nil, 0, ErrAuditNotChained
	}
	return auditChain.Verify(ctx, tx, db, func(ctx context.Context, q store.Querier, after int64, limit int) ([]store.ChainRow, error) {
		rows, err := readAudit(ctx, q, db, after, 0, limit)
		if err != nil {
			return nil, err
		}
		out := make([]store.ChainRow, len(rows))
		for i := range rows {
			r := &rows[i]
			out[i] = store.ChainRow{ID: r.ID, PrevHash: r.prevHash, Hash: r.hash, Check: func() (bool, string) {
				d := auditDigest(r.realm, r.at, &r.AuditEntry)
				h := auditChain.Link(r.prevHash, r.ID, &d)
				return h == r.hash, h
			}}
		}
		return out, nil
	})
}

// AuditFilter selects audit entries; empty fields match everything.
type AuditFilter struct {
	Actor, Action, Target string
	Before                int64 // entries with ID < Before (paging); 0 = newest
	Limit                 int   // default 100
}

// AuditLog returns audit entries, newest first.
func (a *Auth) AuditLog(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	q := `SELECT id, at, actor, role, action, target, detail, ok, ip FROM web_audit WHERE realm = ?`
	args := []any{a.realm}
	for _, c := range []struct{ col, v string }{{"actor", f.Actor}, {"action", f.Action}, {"target", f.Target}} {
		if c.v != "" {
			q += " AND " + c.col + " = ?"
			args = append(args, c.v)
		}
	}
	if f.Before > 0 {
		q += " AND id < ?"
		args = append(args, f.Before)
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, f.Limit)
	rows, err := a.db.QueryContext(ctx, a.db.Rebind(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Role, &e.Action, &e.Target, &e.Detail, &e.OK, &e.IP); err != nil {
			return nil, err
		}
		e.At = store.FromMicros(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// truncate cuts s to at most n bytes at a character boundary, marking
// the cut with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := max(n-len(mark), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
