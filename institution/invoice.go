package institution

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

// Invoice statuses.
const (
	InvoiceRequested = "requested"
	InvoiceIssued    = "issued"
	InvoiceRefused   = "refused"
)

// Invoice is one invoiceapply and what became of it.
type Invoice struct {
	ID            string            `json:"id"`
	ApplicationID string            `json:"application_id"`
	ApplyNo       string            `json:"applyno"`
	BaohanNo      string            `json:"baohanno"`
	Status        string            `json:"status"`
	Amount        string            `json:"amount"`
	Type          string            `json:"type"` // 0 普票, 1 专票
	InvoiceNo     string            `json:"invoiceno,omitempty"`
	InvoiceCode   string            `json:"invoicecode,omitempty"`
	Reason        string            `json:"reason,omitempty"`
	Fields        map[string]string `json:"fields"`
	CreatedAt     time.Time         `json:"created_at"`
	DecidedAt     time.Time         `json:"decided_at,omitzero"`

	tokenSealed string
}

// InvoiceResult is what an invoicing system returns for an issued invoice.
type InvoiceResult struct {
	No   string // 发票号码
	Code string // 发票代码
	URL  string // where to download it; empty: served by the institution at /invoices/<token>
}

// InvoiceIssuer issues invoices. The built-in one numbers them and serves
// a rendering at /invoices/<token>; real deployments plug their
// e-invoicing system here.
type InvoiceIssuer interface {
	Issue(ctx context.Context, inv *Invoice) (InvoiceResult, error)
}

type builtinInvoices struct{ svc *Service }

func (b *builtinInvoices) Issue(ctx context.Context, inv *Invoice) (InvoiceResult, error) {
	s := b.svc
	day := s.now().In(protocol.CST).Format("20060102")
	var n int64
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = s.repo.nextSequence(ctx, tx, "invoice/"+day)
		return err
	})
	if err != nil {
		return InvoiceResult{}, err
	}
	prefix := s.cfg.Invoicing.Prefix
	if prefix == "" {
		prefix = "INV"
	}
	code := s.cfg.Invoicing.Code
	if code == "" {
		code = "000000000000"
	}
	return InvoiceResult{No: fmt.Sprintf("%s%s%06d", prefix, day, n), Code: code}, nil
}

const invoiceColumns = `i.id, i.application_id, a.applyno, a.baohanno, i.status, i.fields, i.amount, i.invoice_type,
 i.invoiceno, i.invoicecode, i.token_sealed, i.reason, i.created_at, i.decided_at`

func scanInvoice(s scanner) (*Invoice, error) {
	var inv Invoice
	var fields string
	var created, decided int64
	err := s.Scan(&inv.ID, &inv.ApplicationID, &inv.ApplyNo, &inv.BaohanNo, &inv.Status, &fields, &inv.Amount, &inv.Type,
		&inv.InvoiceNo, &inv.InvoiceCode, &inv.tokenSealed, &inv.Reason, &created, &decided)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	json.Unmarshal([]byte(fields), &inv.Fields)
	inv.CreatedAt, inv.DecidedAt = store.FromMicros(created), store.FromMicros(decided)
	return &inv, nil
}

func (r repo) invoices(ctx context.Context, q store.Querier, where string, args ...any) ([]*Invoice, error) {
	rows, err := q.QueryContext(ctx, r.d.Rebind(`SELECT `+invoiceColumns+` FROM inst_invoices i
 JOIN inst_applications a ON a.id = i.application_id`+where+` ORDER BY i.created_at DESC, i.id DESC LIMIT 1000`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*Invoice{}
	for rows.Next() {
		inv, err := scanInvoice(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, inv)
	}
	return out, rows.Err()
}

func (r repo) invoice(ctx context.Context, q store.Querier, where string, args ...any) (*Invoice, error) {
	list, err := r.invoices(ctx, q, where, args...)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, ErrNotFound
	}
	return list[0], nil
}

// businessFields are a request's fields without the transport ones, for
// "same request" hashes and records.
func businessFields(r *protocol.Request) map[string]string { return r.BusinessFields() }

func fieldsHash(f map[string]string) string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		parts = append(parts, k, f[k])
	}
	return requestHash(parts...)
}

// handleInvoiceApply serves invoiceapply: recorded, then issued at once
// (invoicing.mode auto) or by a person; invoicenotice follows.
func (s *Service) handleInvoiceApply(ctx context.Context, in inbound) (any, error) {
	a, err := s.application(ctx, s.db, in)
	if err != nil {
		return nil, err
	}
	if err := checkBaohanNo(a, in.r.Get("baohanno")); err != nil {
		return nil, err
	}
	if a.State != Restoring && a.State != Restored {
		return nil, baohan.Refusef("applyno %s is %s (%s): invoices are issued after the guarantee is restored at the bid opening", a.ApplyNo, a.State, a.State.Label())
	}
	amount, err := decimal.NewFromString(in.r.Get("amount"))
	if err != nil {
		return nil, baohan.Refusef("amount %q is not a decimal amount", in.r.Get("amount"))
	}
	premium, _ := decimal.NewFromString(a.Premium)
	if !amount.IsPositive() || amount.GreaterThan(premium) {
		return nil, baohan.Refusef("amount %s must be positive and at most the premium paid (%s)", in.r.Get("amount"), a.Premium)
	}
	if !strings.EqualFold(in.r.Get("biddercode"), a.BidderCode) {
		return nil, baohan.Refusef("biddercode %s is not the bidder of applyno %s", in.r.Get("biddercode"), a.ApplyNo)
	}
	fields := businessFields(in.r)
	hash := fieldsHash(fields)
	fj, _ := json.Marshal(fields)
	var id string
	created := false
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var existing string
		err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT id FROM inst_invoices WHERE application_id=? AND request_hash=?`), a.ID, hash).Scan(&existing)
		if err == nil {
			id = existing
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		id, created = newID(), true
		_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO inst_invoices (id, application_id, request_hash, status, fields, amount, invoice_type, created_at)
 VALUES (?,?,?,?,?,?,?,?)`), id, a.ID, hash, InvoiceRequested, string(fj), amount.StringFixed(2), in.r.Get("type"), store.Micros(s.now()))
		if err != nil {
			return err
		}
		return s.repo.insertEvent(ctx, tx, a.ID, s.now(), a.State, a.State, string(protocol.InvoiceApply), "platform:"+a.Peer, "invoice of "+amount.StringFixed(2)+" requested")
	})
	if err != nil {
		return nil, err
	}
	if created && s.cfg.Invoicing.Mode != ModeManual {
		if _, err := s.IssueInvoice(ctx, id, "auto"); err != nil {
			// Recorded; a person can issue it from the console.
			s.logger.ErrorContext(ctx, "automatic invoice failed", slog.String("applyno", a.ApplyNo), slog.Any("err", err))
		}
	}
	return nil, nil
}

func invoiceTokenContext(id string) string { return "institution/invoice-token/" + id }

// IssueInvoice issues a requested invoice and sends invoicenotice with
// its number, code and download URL.
func (s *Service) IssueInvoice(ctx context.Context, id, actor string) (*Invoice, error) {
	inv, err := s.repo.invoice(ctx, s.db, " WHERE i.id=?", id)
	if err != nil {
		return nil, err
	}
	if inv.Status != InvoiceRequested {
		return nil, baohan.Refusef("invoice %s is already %s", id, inv.Status)
	}
	res, err := s.inv.Issue(ctx, inv)
	if err != nil {
		return nil, fmt.Errorf("issuing invoice %s: %w", id, err)
	}
	tok, th := newToken()
	sealed, err := s.mk.Seal([]byte(tok), invoiceTokenContext(id))
	if err != nil {
		return nil, err
	}
	url := res.URL
	if url == "" {
		url = s.cfg.Listen.PublicURL + "/invoices/" + tok
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE inst_invoices SET status=?, invoiceno=?, invoicecode=?, token_hash=?, token_sealed=?, decided_at=?
 WHERE id=? AND status=?`), InvoiceIssued, res.No, res.Code, th, sealed, store.Micros(s.now()), id, InvoiceRequested)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n != 1 {
			return baohan.Refusef("invoice %s was decided meanwhile", id)
		}
		a, err := s.repo.applicationByID(ctx, tx, inv.ApplicationID)
		if err != nil {
			return err
		}
		if err := s.repo.insertEvent(ctx, tx, a.ID, s.now(), a.State, a.State, "invoice_issued", actor, "invoice "+res.No); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, a, protocol.InvoiceNotice, fmt.Sprintf("%s/%s/invoicenotice/%s", a.Peer, a.ApplyNo, id),
			map[string]string{"baohanno": a.BaohanNo, "invoiceurl": url, "invoicecode": res.Code, "invoiceno": res.No, "applystatus": protocol.StatusApproved})
	})
	if err != nil {
		return nil, err
	}
	return s.repo.invoice(ctx, s.db, " WHERE i.id=?", id)
}

// RefuseInvoice refuses a requested invoice; invoicenotice says so.
func (s *Service) RefuseInvoice(ctx context.Context, id, actor, reason string) (*Invoice, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, baohan.Refusef("a reason is required")
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		inv, err := s.repo.invoice(ctx, tx, " WHERE i.id=?", id)
		if err != nil {
			return err
		}
		if inv.Status != InvoiceRequested {
			return baohan.Refusef("invoice %s is already %s", id, inv.Status)
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE inst_invoices SET status=?, reason=?, decided_at=? WHERE id=?`),
			InvoiceRefused, reason, store.Micros(s.now()), id); err != nil {
			return err
		}
		a, err := s.repo.applicationByID(ctx, tx, inv.ApplicationID)
		if err != nil {
			return err
		}
		if err := s.repo.insertEvent(ctx, tx, a.ID, s.now(), a.State, a.State, "invoice_refused", actor, reason); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, a, protocol.InvoiceNotice, fmt.Sprintf("%s/%s/invoicenotice/%s", a.Peer, a.ApplyNo, id),
			map[string]string{"baohanno": a.BaohanNo, "applystatus": protocol.StatusRefused})
	})
	if err != nil {
		return nil, err
	}
	return s.repo.invoice(ctx, s.db, " WHERE i.id=?", id)
}

// Invoices lists invoices, newest first; status "" for all.
func (s *Service) Invoices(ctx context.Context, status string) ([]*Invoice, error) {
	if status == "" {
		return s.repo.invoices(ctx, s.db, "")
	}
	return s.repo.invoices(ctx, s.db, " WHERE i.status=?", status)
}

var invoicePage = template.Must(template.New("invoice").Parse(`<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>电子发票 {{.Inv.InvoiceNo}}</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}td{padding:.3em 1em}</style></head>
<body><h1>电子发票</h1><table>
<tr><td>发票代码</td><td>{{.Inv.InvoiceCode}}</td></tr>
<tr><td>发票号码</td><td>{{.Inv.InvoiceNo}}</td></tr>
<tr><td>发票类型</td><td>{{if eq .Inv.Type "1"}}增值税专用发票{{else}}增值税普通发票{{end}}</td></tr>
<tr><td>开票日期</td><td>{{.Date}}</td></tr>
<tr><td>购买方</td><td>{{index .Inv.Fields "biddername"}}（{{index .Inv.Fields "biddercode"}}）</td></tr>
<tr><td>销售方</td><td>{{.Seller}}</td></tr>
<tr><td>项目</td><td>投标保函保费（保函编号 {{.Inv.BaohanNo}}）</td></tr>
<tr><td>金额</td><td>¥{{.Inv.Amount}}</td></tr>
</table></body></html>
`))

// serveInvoice renders an issued invoice at /invoices/<token>.
func (s *Service) serveInvoice(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	if !validTokenShape(tok) {
		http.NotFound(w, r)
		return
	}
	inv, err := s.repo.invoice(r.Context(), s.db, " WHERE i.token_hash=?", hashToken(tok))
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			s.logger.ErrorContext(r.Context(), "invoice lookup", slog.Any("err", err))
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "private, no-store")
	invoicePage.Execute(w, map[string]any{"Inv": inv, "Seller": s.cfg.Institution.Name,
		"Date": inv.DecidedAt.In(protocol.CST).Format("2006-01-02")})
}
