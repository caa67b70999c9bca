package web

import (
	"context"
	"strings"
	"time"
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

// Audit appends e to the audit log (At defaults to now). A failure to
// write is logged, not returned: the action already happened.
func (a *Auth) Audit(ctx context.Context, e AuditEntry) {
	if e.At.IsZero() {
		e.At = a.now()
	}
	_, err := a.db.ExecContext(ctx, a.db.Rebind(`INSERT INTO web_audit (realm, at, actor, role, action, target, detail, ok, ip) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		a.realm, micros(e.At), e.Actor, string(e.Role), e.Action, e.Target, truncate(e.Detail, 2000), e.OK, e.IP)
	if err != nil {
		a.log.Error("web: writing the audit log", "err", err, "actor", e.Actor, "action", e.Action, "target", e.Target)
	}
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
		e.At = time.UnixMicro(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
