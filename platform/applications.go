package platform

import (
	"context"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

// Application is one application (投保申请) of a bidder for a section at
// an institution.
type Application struct {
	ApplyNo     string          `json:"applyno"`
	SectionNo   string          `json:"section_no"`
	BidderCode  string          `json:"bidder_code"`
	Institution string          `json:"institution"`
	Product     string          `json:"product"`
	Rate        decimal.Decimal `json:"rate"`
	BondAmount  decimal.Decimal `json:"bond_amount"`
	State       State           `json:"state"`
	StateLabel  string          `json:"state_label"`
	// PrevState is the state before quit_requested.
	PrevState State `json:"prev_state,omitempty"`
	// Pending is the call whose answer decides the next move
	// (giveupapply, canclenotice, claimsnotice), "" when none.
	Pending     protocol.Interface `json:"pending,omitempty"`
	Version     int64              `json:"version"`
	RedirectURL string             `json:"redirecturl,omitempty"`
	BaohanNo    string             `json:"baohanno,omitempty"`
	Notice      *Notice            `json:"notice,omitempty"`
	TuibaoTime  string             `json:"tuibaotime,omitempty"`
	Invoice     *Invoice           `json:"invoice,omitempty"`
	// LastMessage is the institution's latest refusal or remark.
	LastMessage string    `json:"last_message,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`

	// KeyReleasedAt is when a baohanrestore first carried the project key
	// out for this application (zero: not yet). From then on the restore
	// has happened as far as the plaintext guarantee is concerned.
	KeyReleasedAt time.Time `json:"key_released_at,omitzero"`

	// KaibiaoTime is the section's current bid opening (read with the
	// application; not a column of it).
	KaibiaoTime time.Time `json:"kaibiaotime"`

	// stored is the row's mutable columns as last read or written, so
	// that save writes only what changed (nil: write them all).
	stored *storedColumns
}

// storedColumns are the columns save writes, as they are in the row.
type storedColumns struct {
	state, prevState, pending, redirectURL, baohanNo string
	notice                                           string // JSON text as stored
	noticeVal                                        Notice // what notice decodes to (when hasNotice)
	hasNotice                                        bool
	noticeAt                                         int64
	tuibaoTime                                       string
	invoice                                          string // JSON text as stored
	invoiceVal                                       Invoice
	hasInvoice                                       bool
	lastMessage                                      string
}

// Notice is the accepted baohannotice.
type Notice struct {
	BaohanNo     string    `json:"baohanno"`
	PayerName    string    `json:"payername,omitempty"`
	PayerAccount string    `json:"payeraccount,omitempty"`
	InstName     string    `json:"instname"`
	GenerateTime string    `json:"generatetime"`
	Rate         string    `json:"rate"`
	Cost         string    `json:"cost"`
	ApplyStatus  string    `json:"applystatus"`
	ReceivedAt   time.Time `json:"received_at"`
}

// differs names the first field in which n and o differ, comparing
// amounts as decimals and times as instants; "" when they are the same
// notice.
func (n *Notice) differs(o *Notice) (field, was, now string) {
	eqDec := func(a, b string) bool {
		x, err1 := decimal.NewFromString(a)
		y, err2 := decimal.NewFromString(b)
		return err1 == nil && err2 == nil && x.Equal(y) || a == b
	}
	eqTime := func(a, b string) bool {
		x, err1 := protocol.ParseTime(a)
		y, err2 := protocol.ParseTime(b)
		return err1 == nil && err2 == nil && x.Equal(y) || a == b
	}
	switch {
	case n.ApplyStatus != o.ApplyStatus:
		return "applystatus", n.ApplyStatus, o.ApplyStatus
	case n.BaohanNo != o.BaohanNo:
		return "baohanno", n.BaohanNo, o.BaohanNo
	case !eqDec(n.Rate, o.Rate):
		return "rate", n.Rate, o.Rate
	case !eqDec(n.Cost, o.Cost):
		return "cost", n.Cost, o.Cost
	case n.InstName != o.InstName:
		return "instname", n.InstName, o.InstName
	case !eqTime(n.GenerateTime, o.GenerateTime):
		return "generatetime", n.GenerateTime, o.GenerateTime
	case n.PayerName != o.PayerName:
		return "payername", n.PayerName, o.PayerName
	case n.PayerAccount != o.PayerAccount:
		return "payeraccount", n.PayerAccount, o.PayerAccount
	}
	return "", "", ""
}

// Invoice is the invoice request and the institution's answer.
type Invoice struct {
	Request     InvoiceInput `json:"request"`
	RequestedAt time.Time    `json:"requested_at"`
	Status      string       `json:"applystatus,omitempty"` // from invoicenotice
	InvoiceURL  string       `json:"invoiceurl,omitempty"`
	InvoiceCode string       `json:"invoicecode,omitempty"`
	InvoiceNo   string       `json:"invoiceno,omitempty"`
	NoticedAt   time.Time    `json:"noticed_at,omitzero"`
}

// HistoryEvent is one row of the application's history.
type HistoryEvent struct {
	Seq    int64           `json:"seq"`
	At     time.Time       `json:"at"`
	Event  Event           `json:"event"`
	From   State           `json:"from"`
	To     State           `json:"to"`
	Actor  string          `json:"actor"`
	Detail json.RawMessage `json:"detail,omitempty"`
}

const applicationColumns = `a.applyno, a.section_no, a.bidder_code, a.institution, a.product, a.rate, a.bond_amount,
	a.state, a.prev_state, a.pending, a.version, a.redirect_url, a.baohanno, a.notice, a.notice_at, a.tuibaotime,
	a.invoice, a.last_message, a.created_at, a.updated_at, a.key_released_at, s.kaibiao_at`

const applicationFrom = ` FROM plat_applications a JOIN plat_sections s ON s.section_no = a.section_no`

func scanApplication(sc interface{ Scan(...any) error }) (*Application, error) {
	var (
		a                                           Application
		rate, bond, state, prev, pend               string
		notice, invoice                             string
		noticeAt, created, updated, released, kbtAt int64
	)
	if err := sc.Scan(&a.ApplyNo, &a.SectionNo, &a.BidderCode, &a.Institution, &a.Product, &rate, &bond,
		&state, &prev, &pend, &a.Version, &a.RedirectURL, &a.BaohanNo, &notice, &noticeAt, &a.TuibaoTime,
		&invoice, &a.LastMessage, &created, &updated, &released, &kbtAt); err != nil {
		return nil, err
	}
	var err error
	if a.Rate, err = decimal.NewFromString(rate); err != nil {
		return nil, fmt.Errorf("application %s: rate %q: %w", a.ApplyNo, rate, err)
	}
	if a.BondAmount, err = decimal.NewFromString(bond); err != nil {
		return nil, fmt.Errorf("application %s: bond %q: %w", a.ApplyNo, bond, err)
	}
	a.State, a.PrevState, a.Pending = State(state), State(prev), protocol.Interface(pend)
	a.StateLabel = a.State.Label()
	if notice != "" {
		a.Notice = new(Notice)
		if err := json.Unmarshal([]byte(notice), a.Notice); err != nil {
			return nil, fmt.Errorf("application %s: notice: %w", a.ApplyNo, err)
		}
	}
	if invoice != "" {
		a.Invoice = new(Invoice)
		if err := json.Unmarshal([]byte(invoice), a.Invoice); err != nil {
			return nil, fmt.Errorf("application %s: invoice: %w", a.ApplyNo, err)
		}
	}
	a.CreatedAt, a.UpdatedAt, a.KaibiaoTime = store.FromMicros(created), store.FromMicros(updated), store.FromMicros(kbtAt)
	a.KeyReleasedAt = store.FromMicros(released)
	a.stored = &storedColumns{state: state, prevState: prev, pending: pend, redirectURL: a.RedirectURL,
		baohanNo: a.BaohanNo, notice: notice, noticeAt: noticeAt, tuibaoTime: a.TuibaoTime, invoice: invoice,
		lastMessage: clip(a.LastMessage, 2000)} // as save would write it: a clipped message is not clipped again
	if a.Notice != nil {
		a.stored.noticeVal, a.stored.hasNotice = *a.Notice, true
	}
	if a.Invoice != nil {
		a.stored.invoiceVal, a.stored.hasInvoice = *a.Invoice, true
	}
	return &a, nil
}

// loadApplication reads one application; with lock, inside a transaction,
// it locks the row on PostgreSQL (SQLite transactions hold the write lock
// already).
func (s *Service) loadApplication(ctx context.Context, q store.Querier, applyNo string, lock bool) (*Application, error) {
	return s.loadApplicationWith(ctx, q, applyNo, lock, "", "")
}

// loadApplicationWith is loadApplication reading more in the same
// statement: the columns also (", x, y") from the tables join adds,
// scanned into into.
func (s *Service) loadApplicationWith(ctx context.Context, q store.Querier, applyNo string, lock bool, also, join string, into ...any) (*Application, error) {
	query := `SELECT ` + applicationColumns + also + applicationFrom + join + ` WHERE a.applyno = ?`
	if lock && s.db.Dialect == store.Postgres {
		query += ` FOR UPDATE OF a`
	}
	a, err := scanApplication(scanAlso{q.QueryRowContext(ctx, s.db.Rebind(query), applyNo), into})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("applyno %s: %w", applyNo, ErrNotFound)
	}
	return a, err
}

// heldCipher is what baohannotice needs of a ciphertext guarantee that
// came before the notice (upload_first).
type heldCipher struct {
	BaohanNo, Digest string
	ReceivedAt       time.Time
}

// loadWithCipher is loadApplication (locked) with the application's
// ciphertext guarantee, when one was received, in the same statement: a
// notice needs both, and on PostgreSQL each statement is a round trip
// while the row is locked.
func (s *Service) loadWithCipher(ctx context.Context, q store.Querier, applyNo string) (*Application, *heldCipher, error) {
	var (
		baohanNo, digest sql.NullString
		received         sql.NullInt64
	)
	a, err := s.loadApplicationWith(ctx, q, applyNo, true, `, g.baohanno, g.digest, g.received_at`,
		` LEFT JOIN plat_guarantees g ON g.applyno = a.applyno AND g.filetype = 1`, &baohanNo, &digest, &received)
	if err != nil || !received.Valid {
		return a, nil, err
	}
	return a, &heldCipher{BaohanNo: baohanNo.String, Digest: digest.String, ReceivedAt: store.FromMicros(received.Int64)}, nil
}

// scanAlso scans a row's first columns as its caller asks and the rest
// into also.
type scanAlso struct {
	row  interface{ Scan(...any) error }
	also []any
}

func (s scanAlso) Scan(dest ...any) error { return s.row.Scan(append(dest, s.also...)...) }

// Application returns one application.
func (s *Service) Application(ctx context.Context, applyNo string) (*Application, error) {
	return s.loadApplication(ctx, s.db, applyNo, false)
}

// ApplicationFilter selects applications. Empty fields match all.
type ApplicationFilter struct {
	State       State  `json:"state"`
	SectionNo   string `json:"section"`
	Institution string `json:"institution"`
	BidderCode  string `json:"bidder"`
	ApplyNo     string `json:"applyno"` // a prefix of the applyno
	BaohanNo    string `json:"baohanno"`
	// Before continues a listing after the application with this
	// applyno (the last of the previous page): the next page, found
	// through the index however deep, where Offset reads and skips
	// every row before it.
	Before string `json:"before"`
	Limit  int    `json:"limit"`
	Offset int    `json:"offset"`
}

// CountStates counts the applications in each state, each count stopping
// at atMost (a count of atMost means at least that many): one bounded
// walk of the state index per state, so that a console's overview costs
// the same with a million applications as with a thousand.
func (s *Service) CountStates(ctx context.Context, atMost int) (map[State]int, error) {
	out := make(map[State]int, len(States))
	// The ORDER BY is the state index's: without it PostgreSQL's generic
	// plan scans the table for a state that has no application (140 ms
	// at 100,000 applications, where the index answers in 0.05 ms).
	q := s.db.Rebind(`SELECT COUNT(*) FROM (SELECT 1 FROM plat_applications WHERE state = ? ORDER BY state, created_at LIMIT ?) AS c`)
	for _, st := range States {
		var n int
		if err := s.db.QueryRowContext(ctx, q, string(st), atMost).Scan(&n); err != nil {
			return nil, fmt.Errorf("counting %s applications: %w", st, err)
		}
		out[st] = n
	}
	return out, nil
}

// Applications lists applications, newest first.
func (s *Service) Applications(ctx context.Context, f ApplicationFilter) ([]Application, error) {
	var (
		where []string
		args  []any
	)
	add := func(c string, v any) { where = append(where, c); args = append(args, v) }
	if f.State != "" {
		add("a.state = ?", string(f.State))
	}
	if f.SectionNo != "" {
		add("a.section_no = ?", f.SectionNo)
	}
	if f.Institution != "" {
		add("a.institution = ?", f.Institution)
	}
	if f.BidderCode != "" {
		add("a.bidder_code = ?", f.BidderCode)
	}
	if f.ApplyNo != "" {
		if s.db.Dialect == store.SQLite {
			// SQLite's LIKE ignores case and so cannot use the primary
			// key's index; GLOB is case-sensitive like PostgreSQL's LIKE
			// and seeks the prefix (a scan of every application before).
			add(`a.applyno GLOB ?`, globEscape(f.ApplyNo)+"*")
		} else {
			// LIKE seeks no index of a database whose collation is not C,
			// nor in the generic plan of a prepared statement: the range
			// of the prefix in byte order (~>=~, ~<~, what the
			// text_pattern_ops index of migration 00009 is ordered by)
			// does, and LIKE keeps the exact condition.
			add(`a.applyno LIKE ? ESCAPE '\'`, likeEscape(f.ApplyNo)+"%")
			add(`a.applyno ~>=~ ?`, f.ApplyNo)
			if end, ok := prefixEnd(f.ApplyNo); ok {
				add(`a.applyno ~<~ ?`, end)
			}
		}
	}
	if f.BaohanNo != "" {
		add("a.baohanno = ?", f.BaohanNo)
	}
	if f.Before != "" {
		// After (created_at, applyno) of that application in the order
		// below: created earlier, or at the same time with a greater
		// applyno. The first condition is a range of the created index.
		const at = `(SELECT b.created_at FROM plat_applications b WHERE b.applyno = ?)`
		where = append(where, `a.created_at <= `+at+` AND NOT (a.created_at = `+at+` AND a.applyno <= ?)`)
		args = append(args, f.Before, f.Before, f.Before)
	}
	const order = " ORDER BY a.created_at DESC, a.applyno"
	if f.Offset > 0 {
		// A deep page starts at the first application it shows, found
		// in plat_applications alone (without filters, in the newest
		// index without reading the table): the rows it skips are not
		// read whole and joined only to be dropped. The page is then
		// read from there as after Before.
		q := `SELECT a.created_at, a.applyno FROM plat_applications a`
		if len(where) > 0 {
			q += " WHERE " + strings.Join(where, " AND ")
		}
		var (
			at    int64
			first string
		)
		err := s.db.QueryRowContext(ctx, s.db.Rebind(q+order+" LIMIT 1 OFFSET ?"), append(args, f.Offset)...).Scan(&at, &first)
		if errors.Is(err, sql.ErrNoRows) {
			return []Application{}, nil
		}
		if err != nil {
			return nil, err
		}
		where = append(where, `a.created_at <= ? AND NOT (a.created_at = ? AND a.applyno < ?)`)
		args = append(args, at, at, first)
	}
	q := `SELECT ` + applicationColumns + applicationFrom
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += order + " LIMIT ?"
	args = append(args, limit(f.Limit))
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Application{}
	for rows.Next() {
		a, err := scanApplication(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *a)
	}
	return out, rows.Err()
}

// prefixEnd is the least string greater in byte order than every string
// beginning with p: p with its last character replaced by the next one
// (UTF-8's byte order is the characters' order); false when there is none
// (p empty, or only U+10FFFF).
func prefixEnd(p string) (string, bool) {
	r := []rune(p)
	for i := len(r) - 1; i >= 0; i-- {
		next := r[i] + 1
		if next == 0xD800 { // the surrogates are not characters
			next = 0xE000
		}
		if next <= utf8.MaxRune {
			return string(r[:i]) + string(next), true
		}
	}
	return "", false
}

// History returns the application's events, oldest first.
func (s *Service) History(ctx context.Context, applyNo string) ([]HistoryEvent, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT seq, at, event, from_state, to_state, actor, detail
		FROM plat_application_events WHERE applyno = ? ORDER BY seq`), applyNo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []HistoryEvent{}
	for rows.Next() {
		var (
			e          HistoryEvent
			at         int64
			ev, fr, to string
			detail     string
		)
		if err := rows.Scan(&e.Seq, &at, &ev, &fr, &to, &e.Actor, &detail); err != nil {
			return nil, err
		}
		e.At, e.Event, e.From, e.To = store.FromMicros(at), Event(ev), State(fr), State(to)
		if detail != "" {
			e.Detail = json.RawMessage(detail)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Actors of the history.
const (
	ActorAdmin     = "admin"
	ActorOutbox    = "outbox"
	ActorScheduler = "scheduler"
)

func actorInstitution(name string) string { return "institution:" + name }

// move applies event ev to the application inside tx: it asks the state
// machine, lets mutate change the other columns, writes the row (checking
// the version it read) and appends the event to the history. It returns
// the new state or a *TransitionError naming the applyno.
func (s *Service) move(ctx context.Context, tx *sql.Tx, a *Application, ev Event, actor string, detail any, mutate func(a *Application)) error {
	from := a.State
	to, err := Next(from, ev, a.PrevState, s.facts(a))
	if err != nil {
		var te *TransitionError
		if errors.As(err, &te) {
			te.ApplyNo = a.ApplyNo
		}
		return err
	}
	if from == CipherReceived && ev == EvPlainReceived {
		// The plaintext guarantee came before the answer to baohanrestore
		// was applied (the institution starts the upload as it answers):
		// the key went out, the institution made the file with it, so the
		// restore happened. It is recorded first, so the history reads the
		// same as when the answer comes first; the answer, when applied,
		// finds it recorded (onOutcome).
		if err := s.move(ctx, tx, a, EvRestored, actor, map[string]any{
			"implied_by":      fileTypeName(2),
			"key_released_at": protocol.FormatTime(a.KeyReleasedAt),
		}, nil); err != nil {
			return err
		}
		from = a.State
	}
	switch {
	case to == QuitRequested && from != QuitRequested:
		a.PrevState = from
	case from == QuitRequested && to != QuitRequested:
		a.PrevState = ""
	}
	a.State = to
	if mutate != nil {
		mutate(a)
	}
	if err := s.save(ctx, tx, a, ev, from, actor, detail); err != nil {
		return err
	}
	if to == CipherReceived && from != CipherReceived {
		// A ciphertext guarantee is held (new, or again after a refused
		// quit): its restore is due at the bid opening.
		return s.scheduleRestore(ctx, tx, a, "")
	}
	return nil
}

// facts are what the guards of the state machine see of a now.
func (s *Service) facts(a *Application) Facts {
	return Facts{Now: s.now(), KaibiaoTime: a.KaibiaoTime, Pending: a.Pending, KeyReleased: !a.KeyReleasedAt.IsZero()}
}

// record appends a history event that does not move the state.
func (s *Service) record(ctx context.Context, tx *sql.Tx, a *Application, ev Event, actor string, detail any, mutate func(a *Application)) error {
	if mutate != nil {
		mutate(a)
	}
	return s.save(ctx, tx, a, ev, a.State, actor, detail)
}

// errStale is a lost optimistic race (the row changed since it was read).
var errStale = errors.New("the application changed meanwhile; try again")

// The UPDATE of save names only the columns that changed since the row
// was read: SQLite rewrites every index holding a column named in the SET
// list, changed or not, and so does its uniqueness check of baohanno. The
// columns come in three groups, so that there are eight statements, not
// one per combination of columns: state (in the state and section
// indexes), baohanno (the unique baohanno index) and the rest (in no
// index), written together when any of them changed. version and
// updated_at are always written.
const (
	setState  = 1 << iota // state
	setBaohan             // baohanno
	setRest               // prev_state, pending, redirect_url, notice, notice_at, tuibaotime, invoice, last_message
	setAll    = setState | setBaohan | setRest
)

// saveSQL[set] is the UPDATE for the groups in set; its placeholders are
// updated_at, the group's columns in the order above, applyno, version.
var saveSQL = func() (q [setAll + 1]string) {
	for set := range q {
		b := strings.Builder{}
		b.WriteString("UPDATE plat_applications SET version = version + 1, updated_at = ?")
		if set&setState != 0 {
			b.WriteString(", state = ?")
		}
		if set&setBaohan != 0 {
			b.WriteString(", baohanno = ?")
		}
		if set&setRest != 0 {
			b.WriteString(", prev_state = ?, pending = ?, redirect_url = ?, notice = ?, notice_at = ?, tuibaotime = ?, invoice = ?, last_message = ?")
		}
		b.WriteString(" WHERE applyno = ? AND version = ?")
		q[set] = b.String()
	}
	return q
}()

// columns returns a's mutable columns as save writes them; the notice and
// invoice are marshalled only when they differ from the stored ones.
func (a *Application) columns() *storedColumns {
	c := &storedColumns{state: string(a.State), prevState: string(a.PrevState), pending: string(a.Pending),
		redirectURL: a.RedirectURL, baohanNo: a.BaohanNo, tuibaoTime: a.TuibaoTime, lastMessage: clip(a.LastMessage, 2000)}
	old := a.stored
	if a.Notice != nil {
		c.noticeVal, c.hasNotice, c.noticeAt = *a.Notice, true, store.Micros(a.Notice.ReceivedAt)
		if old != nil && old.hasNotice && old.noticeVal == *a.Notice {
			c.notice = old.notice
		} else {
			b, _ := json.Marshal(a.Notice)
			c.notice = string(b)
		}
	}
	if a.Invoice != nil {
		c.invoiceVal, c.hasInvoice = *a.Invoice, true
		if old != nil && old.hasInvoice && old.invoiceVal == *a.Invoice {
			c.invoice = old.invoice
		} else {
			b, _ := json.Marshal(a.Invoice)
			c.invoice = string(b)
		}
	}
	return c
}

// changed is the set of column groups in which c differs from old (all
// of them without old).
func (c *storedColumns) changed(old *storedColumns) int {
	if old == nil {
		return setAll
	}
	set := 0
	if c.state != old.state {
		set |= setState
	}
	if c.baohanNo != old.baohanNo {
		set |= setBaohan
	}
	if c.prevState != old.prevState || c.pending != old.pending || c.redirectURL != old.redirectURL ||
		c.notice != old.notice || c.noticeAt != old.noticeAt || c.tuibaoTime != old.tuibaoTime ||
		c.invoice != old.invoice || c.lastMessage != old.lastMessage {
		set |= setRest
	}
	return set
}

// saveEveryColumn makes save write every column (benchmarks compare).
var saveEveryColumn = false

func (s *Service) save(ctx context.Context, tx *sql.Tx, a *Application, ev Event, from State, actor string, detail any) error {
	now := s.now()
	c := a.columns()
	set := c.changed(a.stored)
	if saveEveryColumn {
		set = setAll
	}
	args := make([]any, 0, 14)
	args = append(args, store.Micros(now))
	if set&setState != 0 {
		args = append(args, c.state)
	}
	if set&setBaohan != 0 {
		args = append(args, c.baohanNo)
	}
	if set&setRest != 0 {
		args = append(args, c.prevState, c.pending, c.redirectURL, c.notice, c.noticeAt, c.tuibaoTime, c.invoice, c.lastMessage)
	}
	args = append(args, a.ApplyNo, a.Version)
	q := saveSQL[set]
	pg := s.db.Dialect == store.Postgres
	if pg {
		// On PostgreSQL the history event rides in the same statement
		// (one round trip fewer while the row is locked): it is inserted
		// only when the UPDATE matched, so RowsAffected still tells a
		// stale version.
		d, err := eventDetail(detail)
		if err != nil {
			return err
		}
		q = `WITH u AS (` + q + ` RETURNING 1) INSERT INTO plat_application_events ` + eventColumns + `
			SELECT ?::text, ?::bigint, ?::bigint, ?::text, ?::text, ?::text, ?::text, ?::text FROM u`
		args = append(args, a.ApplyNo, a.Version+1, store.Micros(now), string(ev), string(from), string(a.State), actor, d)
	}
	res, err := tx.ExecContext(ctx, s.db.Rebind(q), args...)
	if err != nil {
		if store.IsUniqueViolation(err) && a.BaohanNo != "" {
			return baohan.Refusef("baohanno %s is already used by another application of institution %s", a.BaohanNo, a.Institution)
		}
		return fmt.Errorf("applyno %s: saving: %w", a.ApplyNo, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errStale
	}
	a.Version++
	a.UpdatedAt = now
	a.StateLabel = a.State.Label()
	a.stored = c
	if pg {
		return nil
	}
	return s.insertEvent(ctx, tx, a.ApplyNo, a.Version, now, ev, from, a.State, actor, detail)
}

// eventColumns are the columns of a history event, in the order save and
// insertEvent give them.
const eventColumns = `(applyno, seq, at, event, from_state, to_state, actor, detail)`

// eventDetail is the detail column of a history event: the JSON of
// detail, "" for none.
func eventDetail(detail any) (string, error) {
	if detail == nil {
		return "", nil
	}
	b, err := json.Marshal(detail)
	if err != nil {
		return "", err
	}
	if string(b) == "null" || string(b) == "{}" {
		return "", nil
	}
	return string(b), nil
}

func (s *Service) insertEvent(ctx context.Context, tx *sql.Tx, applyNo string, seq int64, at time.Time, ev Event, from, to State, actor string, detail any) error {
	d, err := eventDetail(detail)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO plat_application_events `+eventColumns+` VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		applyNo, seq, store.Micros(at), string(ev), string(from), string(to), actor, d)
	if err != nil {
		return fmt.Errorf("applyno %s: history: %w", applyNo, err)
	}
	return nil
}

// inTx runs fn in a write transaction, again when it lost an optimistic
// race. What fn enqueued goes out once it commits (Dispatcher.InTx).
func (s *Service) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	var err error
	for range 5 {
		err = s.disp.InTx(ctx, fn)
		if !errors.Is(err, errStale) {
			return err
		}
	}
	return err
}

// withApplication loads the application locked in a transaction and runs
// fn on it.
func (s *Service) withApplication(ctx context.Context, applyNo string, fn func(tx *sql.Tx, a *Application) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		a, err := s.loadApplication(ctx, tx, applyNo, true)
		if err != nil {
			return err
		}
		return fn(tx, a)
	})
}

// changeApplication is withApplication for an action whose caller is
// shown the result: the application as fn left it, read in the same
// transaction. (Read after the commit, an outbox delivery and the
// institution's answer could already have moved it on.)
func (s *Service) changeApplication(ctx context.Context, applyNo string, fn func(tx *sql.Tx, a *Application) error) (*Application, error) {
	var out *Application
	err := s.withApplication(ctx, applyNo, func(tx *sql.Tx, a *Application) error {
		if err := fn(tx, a); err != nil {
			return err
		}
		var err error
		out, err = s.loadApplication(ctx, tx, applyNo, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
