package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// State is an outbox message's delivery state.
type State string

const (
	// StatePending: not tried yet (or requeued); due at NextAttemptAt.
	StatePending State = "pending"
	// StateDelivering: claimed by LeaseOwner until LeaseUntil.
	StateDelivering State = "delivering"
	// StateDone: delivered and the answer applied. Final.
	StateDone State = "done"
	// StateFailed: the last attempt failed; tried again at NextAttemptAt.
	StateFailed State = "failed"
	// StateDead: given up (MaxAttempts or an OutcomeDead); stays visible
	// until an operator requeues it with OutboxRetry. A dead message blocks
	// the later messages of its sequence group.
	StateDead State = "dead"
)

// States lists every state, in lifecycle order.
var States = []State{StatePending, StateDelivering, StateFailed, StateDone, StateDead}

// ErrNotFound is returned for an id or key that does not exist.
var ErrNotFound = errors.New("store: not found")

// OutMessage is one outbound call to a peer, kept in the outbox table.
type OutMessage struct {
	ID        int64
	Peer      string // the peer's name (the service resolves URL, appkey, secret)
	Interface string // protocol interface name, e.g. "baohannotice"
	ApplyNo   string // for consoles and filters
	// Group is the sequence group: a message is not claimed while an
	// earlier message (lower ID) of the same group is not done, so chunk
	// uploads go out before their complete notice. "" means no ordering.
	Group string
	// DedupeKey is unique across the outbox: enqueueing the same key twice
	// keeps the first message (e.g. "baohannotice:"+applyno+":"+state).
	DedupeKey string
	Fields    map[string]string // the business fields; transport adds appkey, timestamp, sign
	// SentBody is the exact body of the last attempt when the peer may
	// have processed it (no answer came: a timeout, a connection reset
	// after sending, an HTTP 5xx; see Outcome.Sent): the next attempt
	// sends it again unchanged, same timestamp and sign, so that the peer
	// recognises it as a retry. Empty when the next attempt is signed
	// anew. Loaded by the claim only (not by OutboxList or OutboxGet).
	SentBody string

	State         State
	Attempts      int // claims so far, this one included while delivering
	NextAttemptAt time.Time
	LeaseOwner    string
	LeaseUntil    time.Time
	LastError     string
	LastResponse  string
	CreatedAt     time.Time
	DeliveredAt   time.Time // zero until done
}

// Enqueue adds m to the outbox inside the caller's transaction, so the
// state change and its message commit (or roll back) together. The
// message is due at notBefore (zero: at once). A message with the same
// DedupeKey already there makes this a no-op. Enqueue wakes no
// dispatcher: a service enqueues with Dispatcher.Enqueue inside
// Dispatcher.InTx, whose commit wakes the dispatchers (its own, and on
// PostgreSQL those of every replica: Dispatcher.Kick); after Enqueue,
// call Kick once committed for low latency, or let the dispatchers find
// the message at their next poll.
func Enqueue(ctx context.Context, tx *sql.Tx, d Dialect, m OutMessage, notBefore time.Time) error {
	_, err := EnqueueIfNew(ctx, tx, d, m, notBefore)
	return err
}

// EnqueueIfNew is Enqueue that also reports whether the message was
// inserted (false: its DedupeKey was already in the outbox).
func EnqueueIfNew(ctx context.Context, tx *sql.Tx, d Dialect, m OutMessage, notBefore time.Time) (inserted bool, err error) {
	switch {
	case m.Peer == "":
		return false, errors.New("store: enqueue: Peer is empty")
	case m.Interface == "":
		return false, errors.New("store: enqueue: Interface is empty")
	case m.DedupeKey == "":
		return false, fmt.Errorf("store: enqueue %s to %s: DedupeKey is empty", m.Interface, m.Peer)
	}
	for k, v := range m.Fields {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return false, fmt.Errorf("store: enqueue %s to %s: field %q is not valid UTF-8", m.Interface, m.Peer, k)
		}
	}
	fields := m.Fields
	if fields == nil {
		fields = map[string]string{}
	}
	fj, err := json.Marshal(fields)
	if err != nil {
		return false, fmt.Errorf("store: enqueue %s to %s: fields: %w", m.Interface, m.Peer, err)
	}
	res, err := tx.ExecContext(ctx, d.Rebind(`INSERT INTO outbox
		(peer, interface, applyno, seq_group, dedupe_key, fields, state, attempts, next_attempt_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)
		ON CONFLICT (dedupe_key) DO NOTHING`),
		m.Peer, m.Interface, m.ApplyNo, m.Group, m.DedupeKey, string(fj), Micros(notBefore), Micros(time.Now()))
	if err != nil {
		return false, fmt.Errorf("store: enqueue %s to %s (%s): %w", m.Interface, m.Peer, m.DedupeKey, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// textSafe makes s storable in a TEXT column of either database (valid
// UTF-8, no NUL) and at most max bytes long.
func textSafe(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\\x00")
	}
	if max > 0 && len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…(truncated)"
	}
	return s
}

const outboxColumns = `id, peer, interface, applyno, seq_group, dedupe_key, fields, state, attempts,
	next_attempt_at, lease_owner, lease_until, last_error, last_response, created_at, delivered_at`

type scanner interface{ Scan(dest ...any) error }

func scanOutMessage(s scanner) (*OutMessage, error) { return scanOutMessageSent(s, false) }

// scanOutMessageSent scans outboxColumns, followed by sent_body when
// withSent.
func scanOutMessageSent(s scanner, withSent bool) (*OutMessage, error) {
	var (
		m                               OutMessage
		fields, state                   string
		next, lease, created, delivered int64
	)
	dest := []any{&m.ID, &m.Peer, &m.Interface, &m.ApplyNo, &m.Group, &m.DedupeKey, &fields, &state, &m.Attempts,
		&next, &m.LeaseOwner, &lease, &m.LastError, &m.LastResponse, &created, &delivered}
	if withSent {
		dest = append(dest, &m.SentBody)
	}
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(fields), &m.Fields); err != nil {
		return nil, fmt.Errorf("store: outbox message %d: fields: %w", m.ID, err)
	}
	m.State = State(state)
	m.NextAttemptAt, m.LeaseUntil, m.CreatedAt, m.DeliveredAt = FromMicros(next), FromMicros(lease), FromMicros(created), FromMicros(delivered)
	return &m, nil
}

// OutboxFilter selects outbox messages for consoles. Empty fields match all.
type OutboxFilter struct {
	State     State
	Peer      string
	Interface string
	ApplyNo   string
	Group     string
	Before    int64 // only ids below this (paging); 0: from the newest
	Limit     int   // default 50, at most 1000
}

// OutboxList returns messages matching f, newest first.
func (db *DB) OutboxList(ctx context.Context, f OutboxFilter) ([]OutMessage, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if f.State != "" {
		add("state = ?", string(f.State))
	}
	if f.Peer != "" {
		add("peer = ?", f.Peer)
	}
	if f.Interface != "" {
		add("interface = ?", f.Interface)
	}
	if f.ApplyNo != "" {
		add("applyno = ?", f.ApplyNo)
	}
	if f.Group != "" {
		add("seq_group = ?", f.Group)
	}
	if f.Before > 0 {
		add("id < ?", f.Before)
	}
	q := "SELECT " + outboxColumns + " FROM outbox"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, clampLimit(f.Limit))
	rows, err := db.QueryContext(ctx, db.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("store: outbox list: %w", err)
	}
	defer rows.Close()
	var out []OutMessage
	for rows.Next() {
		m, err := scanOutMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *m)
	}
	return out, rows.Err()
}

func clampLimit(n int) int {
	if n <= 0 {
		return 50
	}
	return min(n, 1000)
}

// OutboxGet returns one message, or ErrNotFound.
func (db *DB) OutboxGet(ctx context.Context, id int64) (*OutMessage, error) {
	m, err := scanOutMessage(db.QueryRowContext(ctx, db.Rebind("SELECT "+outboxColumns+" FROM outbox WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: outbox message %d: %w", id, ErrNotFound)
	}
	return m, err
}

// OutboxCounts returns the number of messages in each state (every state
// is present, zero or not), for consoles and metrics. The messages not
// done are counted (a range of the outbox_due_order index per state);
// the done ones, which grow with the years, are read from the count the
// triggers of migration 00008 keep, in the same statement.
func (db *DB) OutboxCounts(ctx context.Context) (map[State]int64, error) {
	rows, err := db.QueryContext(ctx, outboxCountsSQL)
	if err != nil {
		return nil, fmt.Errorf("store: outbox counts: %w", err)
	}
	defer rows.Close()
	out := make(map[State]int64, len(States))
	for _, s := range States {
		out[s] = 0
	}
	for rows.Next() {
		var (
			s string
			n int64
		)
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[State(s)] = n
	}
	return out, rows.Err()
}

// outboxCountsSQL counts the states but done in the index and reads done's
// kept count.
var outboxCountsSQL = func() string {
	var active []string
	for _, s := range States {
		if s != StateDone {
			active = append(active, "'"+string(s)+"'")
		}
	}
	return `SELECT state, COUNT(*) FROM outbox WHERE state IN (` + strings.Join(active, ", ") + `) GROUP BY state
		UNION ALL SELECT 'done', COALESCE(SUM(n), 0) FROM outbox_done_count`
}()

// OutboxRetry requeues a dead or failed message: pending, attempts reset,
// due now. It is an error for a message in another state.
func (db *DB) OutboxRetry(ctx context.Context, id int64) error {
	res, err := db.execWrite(ctx, `UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = 0,
		lease_owner = '', lease_until = 0 WHERE id = ? AND state IN ('dead', 'failed')`, id)
	if err != nil {
		return fmt.Errorf("store: outbox retry %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	m, err := db.OutboxGet(ctx, id)
	if err != nil {
		return err
	}
	return fmt.Errorf("store: outbox retry %d: message is %s, only dead or failed messages can be requeued", id, m.State)
}

// OutboxPurgeDone deletes the messages done before the given time and
// returns how many (the message log keeps the exchanges themselves).
func (db *DB) OutboxPurgeDone(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.execWrite(ctx, `DELETE FROM outbox WHERE state = 'done' AND delivered_at < ?`, Micros(before))
	if err != nil {
		return 0, fmt.Errorf("store: outbox purge: %w", err)
	}
	return res.RowsAffected()
}
