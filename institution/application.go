package institution

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/store"
)

// Application is one guarantee application (投保申请) as the institution
// keeps it. The JSON form is what the admin API shows; secrets and the
// raw ciphertexts stay out of it.
type Application struct {
	ID           string    `json:"id"`
	Peer         string    `json:"peer"`
	PlatformCode string    `json:"platformcode"`
	ApplyNo      string    `json:"applyno"`
	State        State     `json:"state"`
	StateLabel   string    `json:"state_label"`
	BidderName   string    `json:"biddername,omitempty"`
	BidderCode   string    `json:"biddercode,omitempty"`
	Bond         string    `json:"bond,omitempty"` // bzjamount
	Product      string    `json:"product,omitempty"`
	Rate         string    `json:"rate,omitempty"`
	Premium      string    `json:"premium,omitempty"`
	Signer       string    `json:"signer,omitempty"`
	PaymentRef   string    `json:"payment_ref,omitempty"`
	PayerName    string    `json:"payername,omitempty"`
	PayerAccount string    `json:"payeraccount,omitempty"`
	PaidAt       time.Time `json:"paid_at,omitzero"`
	BaohanNo     string    `json:"baohanno,omitempty"`
	GenerateTime string    `json:"generatetime,omitempty"`
	Decision     string    `json:"decision,omitempty"`
	DecidedBy    string    `json:"decided_by,omitempty"`
	KaibiaoTime  string    `json:"kaibiaotime,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`

	applyData     string
	envelope      string
	requestHash   string
	tokenHash     string
	tokenSealed   string
	projectCipher string
	projectSealed string
	publicKey     string
}

// Event is one entry of an application's history.
type Event struct {
	At     time.Time `json:"at"`
	From   State     `json:"from"`
	To     State     `json:"to"`
	Event  string    `json:"event"`
	Actor  string    `json:"actor"`
	Detail string    `json:"detail,omitempty"`
}

// ErrNotFound is returned for an unknown application, invoice or token.
var ErrNotFound error = &baohan.Error{Code: baohan.ENotFound, Message: "not found"}

// repo is the institution's SQL, written once for both dialects.
type repo struct{ d store.Dialect }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

const appColumns = `id, peer, platformcode, applyno, state, applydata, digitalenvelope, request_hash,
 token_hash, token_sealed, biddername, biddercode, bond, project_cipher, project_sealed, product, rate,
 premium, signer, payment_ref, payername, payeraccount, paid_at, baohanno, generatetime, decision,
 decided_by, kaibiaotime, publickey, created_at, updated_at`

type scanner interface{ Scan(dest ...any) error }

func scanApplication(s scanner) (*Application, error) {
	var a Application
	var paid, created, updated int64
	err := s.Scan(&a.ID, &a.Peer, &a.PlatformCode, &a.ApplyNo, &a.State, &a.applyData, &a.envelope,
		&a.requestHash, &a.tokenHash, &a.tokenSealed, &a.BidderName, &a.BidderCode, &a.Bond,
		&a.projectCipher, &a.projectSealed, &a.Product, &a.Rate, &a.Premium, &a.Signer, &a.PaymentRef,
		&a.PayerName, &a.PayerAccount, &paid, &a.BaohanNo, &a.GenerateTime, &a.Decision, &a.DecidedBy,
		&a.KaibiaoTime, &a.publicKey, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	a.PaidAt, a.CreatedAt, a.UpdatedAt = store.FromMicros(paid), store.FromMicros(created), store.FromMicros(updated)
	a.StateLabel = a.State.Label()
	return &a, nil
}

// insertNewApplication inserts a unless an application with its
// platformcode and applyno exists (then it writes nothing and returns
// false).
func (r repo) insertNewApplication(ctx context.Context, q store.Querier, a *Application) (bool, error) {
	res, err := q.ExecContext(ctx, r.d.Rebind(`INSERT INTO inst_applications (`+appColumns+`)
 VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
 ON CONFLICT (platformcode, applyno) DO NOTHING`),
		a.ID, a.Peer, a.PlatformCode, a.ApplyNo, a.State, a.applyData, a.envelope, a.requestHash,
		a.tokenHash, a.tokenSealed, a.BidderName, a.BidderCode, a.Bond, a.projectCipher, a.projectSealed,
		a.Product, a.Rate, a.Premium, a.Signer, a.PaymentRef, a.PayerName, a.PayerAccount, store.Micros(a.PaidAt),
		a.BaohanNo, a.GenerateTime, a.Decision, a.DecidedBy, a.KaibiaoTime, a.publicKey,
		store.Micros(a.CreatedAt), store.Micros(a.UpdatedAt))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// updateApplication writes every mutable column of a, on the condition
// that the row is still in state expect (optimistic concurrency: two
// requests racing on one application cannot both win). It returns
// errConflict when the state moved meanwhile.
func (r repo) updateApplication(ctx context.Context, q store.Querier, a *Application, expect State) error {
	res, err := q.ExecContext(ctx, r.d.Rebind(`UPDATE inst_applications SET state=?, biddername=?, biddercode=?,
 bond=?, project_cipher=?, project_sealed=?, product=?, rate=?, premium=?, signer=?, payment_ref=?,
 payername=?, payeraccount=?, paid_at=?, baohanno=?, generatetime=?, decision=?, decided_by=?,
 kaibiaotime=?, publickey=?, updated_at=? WHERE id=? AND state=?`),
		a.State, a.BidderName, a.BidderCode, a.Bond, a.projectCipher, a.projectSealed, a.Product, a.Rate,
		a.Premium, a.Signer, a.PaymentRef, a.PayerName, a.PayerAccount, store.Micros(a.PaidAt), a.BaohanNo,
		a.GenerateTime, a.Decision, a.DecidedBy, a.KaibiaoTime, a.publicKey, store.Micros(a.UpdatedAt), a.ID, expect)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return errConflict
	}
	return nil
}

// errConflict: the application changed between read and write; the
// transaction is retried or the caller reloads.
var errConflict = errors.New("institution: application changed concurrently")

func (r repo) applicationBy(ctx context.Context, q store.Querier, where string, args ...any) (*Application, error) {
	row := q.QueryRowContext(ctx, r.d.Rebind(`SELECT `+appColumns+` FROM inst_applications WHERE `+where), args...)
	return scanApplication(row)
}

func (r repo) applicationByID(ctx context.Context, q store.Querier, id string) (*Application, error) {
	return r.applicationBy(ctx, q, "id=?", id)
}

func (r repo) applicationByApplyNo(ctx context.Context, q store.Querier, platformCode, applyNo string) (*Application, error) {
	return r.applicationBy(ctx, q, "platformcode=? AND applyno=?", platformCode, applyNo)
}

func (r repo) applicationByToken(ctx context.Context, q store.Querier, tokenHash string) (*Application, error) {
	return r.applicationBy(ctx, q, "token_hash=?", tokenHash)
}

// ListFilter selects applications for the admin API and the consoles.
type ListFilter struct {
	State      State  // empty: all
	Peer       string // platform name
	ApplyNo    string
	BidderCode string
	BaohanNo   string
	Limit      int // default 100, at most 1000
	Offset     int
}

func (r repo) listApplications(ctx context.Context, q store.Querier, f ListFilter) ([]*Application, error) {
	var conds []string
	var args []any
	add := func(col, v string) {
		if v != "" {
			conds = append(conds, col+"=?")
			args = append(args, v)
		}
	}
	add("state", string(f.State))
	add("peer", f.Peer)
	add("applyno", f.ApplyNo)
	add("biddercode", f.BidderCode)
	add("baohanno", f.BaohanNo)
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	if limit > 1000 {
		limit = 1000
	}
	args = append(args, limit, max(f.Offset, 0))
	rows, err := q.QueryContext(ctx, r.d.Rebind(`SELECT `+appColumns+` FROM inst_applications`+where+
		` ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*Application{}
	for rows.Next() {
		a, err := scanApplication(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func (r repo) insertEvent(ctx context.Context, q store.Querier, appID string, at time.Time, from, to State, event, actor, detail string) error {
	_, err := q.ExecContext(ctx, r.d.Rebind(`INSERT INTO inst_events (id, application_id, at, from_state, to_state, event, actor, detail)
 VALUES (?,?,?,?,?,?,?,?)`), newID(), appID, store.Micros(at), from, to, event, actor, detail)
	return err
}

func (r repo) events(ctx context.Context, q store.Querier, appID string) ([]Event, error) {
	rows, err := q.QueryContext(ctx, r.d.Rebind(`SELECT at, from_state, to_state, event, actor, detail
 FROM inst_events WHERE application_id=? ORDER BY at, id`), appID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Event{}
	for rows.Next() {
		var e Event
		var at int64
		if err := rows.Scan(&at, &e.From, &e.To, &e.Event, &e.Actor, &e.Detail); err != nil {
			return nil, err
		}
		e.At = store.FromMicros(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// bondInForce is the total bond of the bidder's applications that are
// approved or issued and not ended, excluding the application exclude.
func (r repo) bondInForce(ctx context.Context, q store.Querier, bidderCode, exclude string) ([]string, error) {
	rows, err := q.QueryContext(ctx, r.d.Rebind(`SELECT bond FROM inst_applications
 WHERE biddercode=? AND id<>? AND state IN (?,?,?,?)`), bidderCode, exclude, Approved, Issued, Restoring, Restored)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// nextSequence increments and returns the counter name (created at 1).
func (r repo) nextSequence(ctx context.Context, q store.Querier, name string) (int64, error) {
	var v int64
	err := q.QueryRowContext(ctx, r.d.Rebind(`INSERT INTO inst_sequences (name, value) VALUES (?, 1)
 ON CONFLICT (name) DO UPDATE SET value = inst_sequences.value + 1 RETURNING value`), name).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("sequence %s: %w", name, err)
	}
	return v, nil
}
