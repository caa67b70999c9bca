package institution

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

// The life of a claim after it was accepted (claimsnotice): the staff
// record its outcome and then the recovery of what was paid; each record
// is sent to the platform, when the platform's configuration here
// enables the optional claimsresultnotice and claimsrepaynotice
// (extensions), in the transaction that records it (outbox).
//
//	received ─┬─▶ pending ─┬─▶ paid ─┬─▶ recovered
//	          │            │         └─▶ recovery_failed ─▶ recovered
//	          └────────────┴─▶ refused
//
// The application's own state does not change: the guarantee stays as
// it was when claimed.

// The statuses of a claim.
const (
	ClaimReceived       = "received"        // 已理赔: claimsnotice accepted, no outcome yet
	ClaimPending        = "pending"         // 待赔付
	ClaimPaid           = "paid"            // 已赔付
	ClaimRefused        = "refused"         // 不予赔付
	ClaimRecovered      = "recovered"       // 已追偿
	ClaimRecoveryFailed = "recovery_failed" // 追偿失败
	// ClaimOther is an outcome, not a status: 其他 (compensatestatus 9),
	// recorded with its remark; the claim keeps its status.
	ClaimOther = "other"
)

// claimMoves is the claim's state machine: status → the statuses it may
// move to.
var claimMoves = map[string][]string{
	ClaimReceived:       {ClaimPending, ClaimPaid, ClaimRefused},
	ClaimPending:        {ClaimPending, ClaimPaid, ClaimRefused},
	ClaimPaid:           {ClaimRecovered, ClaimRecoveryFailed},
	ClaimRecoveryFailed: {ClaimRecovered, ClaimRecoveryFailed},
	ClaimRefused:        {},
	ClaimRecovered:      {},
}

// ClaimStatusLabel names a claim status (or the outcome other) in Chinese.
func ClaimStatusLabel(status string) string {
	switch status {
	case ClaimReceived:
		return "已理赔"
	case ClaimPending:
		return "待赔付"
	case ClaimPaid:
		return "已赔付"
	case ClaimRefused:
		return "不予赔付"
	case ClaimRecovered:
		return "已追偿"
	case ClaimRecoveryFailed:
		return "追偿失败"
	case ClaimOther:
		return "其他"
	}
	return status
}

// compensateStatus is the wire value of each outcome.
var compensateStatus = map[string]string{
	ClaimPending: protocol.CompensatePending,
	ClaimPaid:    protocol.CompensatePaid,
	ClaimRefused: protocol.CompensateRefused,
	ClaimOther:   protocol.CompensateOther,
}

// ClaimOutcome is the outcome of a claim as recorded (理赔结果).
type ClaimOutcome struct {
	Status       string          `json:"status"`                    // pending | paid | refused | other
	Amount       decimal.Decimal `json:"amount"`                    // 赔付金额, yuan
	Date         string          `json:"date"`                      // 赔付日期, yyyy-MM-dd HH:mm:ss (UTC+8)
	Way          string          `json:"way"`                       // 1 保险公司赔付, 2 投标单位赔付
	TransferDate string          `json:"transfer_date"`             // 转账日期
	Remark       string          `json:"remark,omitempty"`          // the reason (required when refused or other)
	Vouchers     []string        `json:"vouchers"`                  // URLs of the transfer vouchers
	RecordedBy   string          `json:"recorded_by,omitempty"`     // who recorded it
	RecordedAt   time.Time       `json:"recorded_at,omitzero"`      // when
	Sent         bool            `json:"sent_to_platform"`          // claimsresultnotice queued for the platform
	NotSentWhy   string          `json:"not_sent_reason,omitempty"` // why not, when not sent
}

// ClaimRecovery is the recovery of a paid claim from the bidder (追偿).
type ClaimRecovery struct {
	Recovered          bool            `json:"recovered"`           // 1 已追偿, 0 未追偿
	Amount             decimal.Decimal `json:"amount"`              // 追偿金额, yuan
	Date               string          `json:"date"`                // 追偿日期
	Remark             string          `json:"remark,omitempty"`    // the reason when not recovered
	TendererCooperated bool            `json:"tenderer_cooperated"` // 招标人是否配合
	RecordedBy         string          `json:"recorded_by,omitempty"`
	RecordedAt         time.Time       `json:"recorded_at,omitzero"`
	Sent               bool            `json:"sent_to_platform"`
	NotSentWhy         string          `json:"not_sent_reason,omitempty"`
}

// ClaimOutcomeInput is what the staff record as a claim's outcome.
// Date and TransferDate default to now; Way to 1 (保险公司赔付).
type ClaimOutcomeInput struct {
	Status       string          `json:"status"`
	Amount       decimal.Decimal `json:"amount"`
	Date         string          `json:"date"`
	Way          string          `json:"way"`
	TransferDate string          `json:"transfer_date"`
	Remark       string          `json:"remark"`
	Vouchers     []string        `json:"vouchers"`
	Actor        string          `json:"actor"`
}

// ClaimRecoveryInput is what the staff record as a paid claim's
// recovery. Date defaults to now.
type ClaimRecoveryInput struct {
	Recovered          bool            `json:"recovered"`
	Amount             decimal.Decimal `json:"amount"`
	Date               string          `json:"date"`
	Remark             string          `json:"remark"`
	TendererCooperated bool            `json:"tenderer_cooperated"`
	Actor              string          `json:"actor"`
}

// checkClaimMove refuses a move the claim's machine does not allow.
func checkClaimMove(c *Claim, to, what string) error {
	for _, n := range claimMoves[c.Status] {
		if n == to {
			return nil
		}
	}
	return baohan.Refusef("claim %s on %s is %s (%s): %s cannot be recorded in this status", c.ID, c.BaohanNo, c.Status, ClaimStatusLabel(c.Status), what)
}

// wireDate checks a date given in the wire format, now when empty.
func (s *Service) wireDate(field, v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return protocol.FormatTime(s.now()), nil
	}
	t, err := protocol.ParseTime(v)
	if err != nil {
		return "", baohan.Refusef("%s %q: a time like 2026-12-07 10:00:00 (yyyy-MM-dd HH:mm:ss, UTC+8)", field, clip(v))
	}
	return protocol.FormatTime(t), nil
}

// RecordClaimOutcome records the outcome of claim id: pending (待赔付),
// paid (已赔付), refused (不予赔付) or other (其他, the status kept).
// The amount is never above the guaranteed amount: paid, it is positive,
// at most what the claim demanded, and with what was paid on the other
// claims of the guarantee at most the guaranteed amount; refused, it is
// zero. The same outcome again changes nothing and sends nothing.
func (s *Service) RecordClaimOutcome(ctx context.Context, id string, in ClaimOutcomeInput) (*Claim, error) {
	actor := personActor(in.Actor)
	status := strings.TrimSpace(in.Status)
	if _, ok := compensateStatus[status]; !ok {
		return nil, baohan.Refusef("status %q: one of pending (待赔付), paid (已赔付), refused (不予赔付), other (其他)", clip(status))
	}
	date, err := s.wireDate("date", in.Date)
	if err != nil {
		return nil, err
	}
	transfer := date
	if strings.TrimSpace(in.TransferDate) != "" {
		if transfer, err = s.wireDate("transfer_date", in.TransferDate); err != nil {
			return nil, err
		}
	}
	way := strings.TrimSpace(in.Way)
	if way == "" {
		way = protocol.CompensateByInstitution
	}
	if way != protocol.CompensateByInstitution && way != protocol.CompensateByBidder {
		return nil, baohan.Refusef("way %q: 1 (保险公司赔付) or 2 (投标单位赔付)", clip(way))
	}
	remark := strings.TrimSpace(in.Remark)
	if (status == ClaimRefused || status == ClaimOther) && remark == "" {
		return nil, baohan.Refusef("remark is required when the outcome is %s (%s): the reason", status, ClaimStatusLabel(status))
	}
	if in.Amount.IsNegative() {
		return nil, baohan.Refusef("amount %s is negative", in.Amount)
	}
	if status == ClaimPaid && !in.Amount.IsPositive() {
		return nil, baohan.Refusef("amount: a paid claim (已赔付) pays a positive amount, got %s", in.Amount)
	}
	if status == ClaimRefused && !in.Amount.IsZero() {
		return nil, baohan.Refusef("amount %s: a refused claim (不予赔付) pays nothing", in.Amount)
	}
	vouchers := []string{}
	for k, v := range in.Vouchers {
		u, err := url.Parse(strings.TrimSpace(v))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, baohan.Refusef("vouchers: item %d %q is not an http(s) URL", k+1, clip(v))
		}
		vouchers = append(vouchers, u.String())
	}
	if status == ClaimPaid && len(vouchers) == 0 {
		return nil, baohan.Refusef("vouchers: a paid claim (已赔付) carries its transfer vouchers (转账凭证), at least one URL")
	}
	out := &ClaimOutcome{Status: status, Amount: in.Amount, Date: date, Way: way, TransferDate: transfer,
		Remark: remark, Vouchers: vouchers, RecordedBy: actor, RecordedAt: s.now()}
	var c *Claim
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if c, err = s.lockedClaim(ctx, tx, id); err != nil {
			return err
		}
		if c.Outcome != nil {
			// A date left out is now: the same record sent again (a
			// retried request) matches the first on its recorded dates.
			cand := *out
			if strings.TrimSpace(in.Date) == "" {
				cand.Date = c.Outcome.Date
				if strings.TrimSpace(in.TransferDate) == "" {
					cand.TransferDate = c.Outcome.TransferDate
				}
			}
			if c.Outcome.same(&cand) {
				return nil // recorded already
			}
		}
		to := status
		if status == ClaimOther {
			to = c.Status
			if c.Status != ClaimReceived && c.Status != ClaimPending {
				return checkClaimMove(c, ClaimOther, "the outcome other (其他)")
			}
		} else if err := checkClaimMove(c, to, "the outcome "+status+" ("+ClaimStatusLabel(status)+")"); err != nil {
			return err
		}
		a, err := s.repo.applicationByID(ctx, tx, c.ApplicationID)
		if err != nil {
			return err
		}
		if err := s.checkOutcomeBound(ctx, tx, a, c, out); err != nil {
			return err
		}
		send, why := s.claimNoticeEnabled(a, protocol.ClaimsResultNotice)
		out.Sent, out.NotSentWhy = send, why
		vj, _ := json.Marshal(fileList(vouchers))
		if err := s.saveClaimRecord(ctx, tx, a, c, "outcome", to, status, out.Amount, actor, out, send, why, protocol.ClaimsResultNotice,
			map[string]string{
				"applyno": a.ApplyNo, "baohanno": a.BaohanNo,
				"compensatestatus": compensateStatus[status], "compensateremark": remark,
				"compensatedate": date, "compensateway": way, "transferdate": transfer,
				"compensateamount": amountText(out.Amount), "transferfilelist": string(vj),
			}); err != nil {
			return err
		}
		c, err = s.claimByID(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// checkOutcomeBound: an outcome's amount is at most the guaranteed
// amount; a paid one also at most what the claim demanded and, with the
// paid amounts of the guarantee's other claims, at most the guaranteed
// amount.
func (s *Service) checkOutcomeBound(ctx context.Context, q store.Querier, a *Application, c *Claim, out *ClaimOutcome) error {
	bond, err := decimal.NewFromString(a.Bond)
	if err != nil || !bond.IsPositive() {
		return fmt.Errorf("claim %s: the stored guaranteed amount %q is not a positive amount", c.ID, a.Bond)
	}
	if out.Amount.GreaterThan(bond) {
		return baohan.Refusef("amount %s exceeds the guaranteed amount: guarantee %s guarantees %s (bzjamount)", amountText(out.Amount), a.BaohanNo, amountText(bond))
	}
	if out.Status != ClaimPaid {
		return nil
	}
	if d := c.Fields["payeramount"]; d != "" {
		if demanded, err := decimal.NewFromString(d); err == nil && out.Amount.GreaterThan(demanded) {
			return baohan.Refusef("amount %s exceeds what claim %s demanded (payeramount %s)", amountText(out.Amount), c.ID, d)
		}
	}
	others, err := s.claims(ctx, q, " WHERE c.application_id=? AND c.id<>?", a.ID, c.ID)
	if err != nil {
		return err
	}
	paid := decimal.Zero
	for _, o := range others {
		if o.Outcome != nil && (o.Status == ClaimPaid || o.Status == ClaimRecovered || o.Status == ClaimRecoveryFailed) {
			paid = paid.Add(o.Outcome.Amount)
		}
	}
	if paid.Add(out.Amount).GreaterThan(bond) {
		return baohan.Refusef("amount %s with %s paid on the other claims of guarantee %s exceeds the guaranteed amount %s (bzjamount): at most %s can still be paid",
			amountText(out.Amount), amountText(paid), a.BaohanNo, amountText(bond), amountText(decimal.Max(bond.Sub(paid), decimal.Zero)))
	}
	return nil
}

// RecordClaimRecovery records the recovery of paid claim id from the
// bidder: recovered (已追偿) or not (追偿失败, with the reason; a later
// record may still report it recovered). The amount is at most what was
// paid on the claim, so never above the guaranteed amount. The same
// record again changes nothing and sends nothing.
func (s *Service) RecordClaimRecovery(ctx context.Context, id string, in ClaimRecoveryInput) (*Claim, error) {
	actor := personActor(in.Actor)
	date, err := s.wireDate("date", in.Date)
	if err != nil {
		return nil, err
	}
	remark := strings.TrimSpace(in.Remark)
	if !in.Recovered && remark == "" {
		return nil, baohan.Refusef("remark is required when the money was not recovered (追偿失败): the reason")
	}
	if in.Amount.IsNegative() {
		return nil, baohan.Refusef("amount %s is negative", in.Amount)
	}
	if in.Recovered && !in.Amount.IsPositive() {
		return nil, baohan.Refusef("amount: a recovery (已追偿) recovers a positive amount, got %s", in.Amount)
	}
	rec := &ClaimRecovery{Recovered: in.Recovered, Amount: in.Amount, Date: date, Remark: remark,
		TendererCooperated: in.TendererCooperated, RecordedBy: actor, RecordedAt: s.now()}
	to := ClaimRecoveryFailed
	if in.Recovered {
		to = ClaimRecovered
	}
	var c *Claim
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if c, err = s.lockedClaim(ctx, tx, id); err != nil {
			return err
		}
		if c.Recovery != nil {
			cand := *rec
			if strings.TrimSpace(in.Date) == "" {
				cand.Date = c.Recovery.Date
			}
			if c.Recovery.same(&cand) {
				return nil // recorded already
			}
		}
		if err := checkClaimMove(c, to, "the recovery "+to+" ("+ClaimStatusLabel(to)+")"); err != nil {
			return err
		}
		if c.Outcome == nil || rec.Amount.GreaterThan(c.Outcome.Amount) {
			paid := decimal.Zero
			if c.Outcome != nil {
				paid = c.Outcome.Amount
			}
			return baohan.Refusef("amount %s exceeds what was paid on claim %s (%s): a recovery recovers at most what was paid, never above the guaranteed amount",
				amountText(rec.Amount), c.ID, amountText(paid))
		}
		a, err := s.repo.applicationByID(ctx, tx, c.ApplicationID)
		if err != nil {
			return err
		}
		send, why := s.claimNoticeEnabled(a, protocol.ClaimsRepayNotice)
		rec.Sent, rec.NotSentWhy = send, why
		if err := s.saveClaimRecord(ctx, tx, a, c, "recovery", to, to, rec.Amount, actor, rec, send, why, protocol.ClaimsRepayNotice,
			map[string]string{
				"applyno": a.ApplyNo, "baohanno": a.BaohanNo,
				"repaystatus": boolFlag(in.Recovered), "repayremark": remark, "repaydate": date,
				"repayamount": amountText(rec.Amount), "iszbrcooperate": boolFlag(in.TendererCooperated),
			}); err != nil {
			return err
		}
		c, err = s.claimByID(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// saveClaimRecord writes record (the JSON of column outcome or recovery)
// and status to of claim c, notes kind in the application's history, and
// queues interface i with fields when send (the platform enables it).
func (s *Service) saveClaimRecord(ctx context.Context, tx *sql.Tx, a *Application, c *Claim, column, to, kind string,
	amount decimal.Decimal, actor string, record any, send bool, why string, i protocol.Interface, fields map[string]string) error {
	rj, _ := json.Marshal(record)
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE inst_claims SET status=?, `+column+`=?, updated_at=? WHERE id=?`),
		to, string(rj), store.Micros(s.now()), c.ID); err != nil {
		return err
	}
	detail := fmt.Sprintf("claim %s: %s (%s), amount %s, %s", c.ID, kind, ClaimStatusLabel(kind), amountText(amount), sentText(send, why))
	if err := s.repo.insertEvent(ctx, tx, a.ID, s.now(), a.State, a.State, "claim_"+kind, actor, detail); err != nil {
		return err
	}
	if !send {
		return nil
	}
	return s.enqueue(ctx, tx, a, i, fmt.Sprintf("%s/%s/%s/%s/%d", a.Peer, a.ApplyNo, i, c.ID, store.Micros(s.now())), fields)
}

// claimNoticeEnabled reports whether interface i goes to the
// application's platform: its configuration here lists it in
// extensions. Otherwise the record stays here, and why says so.
func (s *Service) claimNoticeEnabled(a *Application, i protocol.Interface) (bool, string) {
	pp, err := s.peers.named(a.Peer)
	if err != nil {
		return false, err.Error()
	}
	if !pp.peer.Enabled(i) {
		return false, fmt.Sprintf("platform %s does not enable %s (its extensions)", a.Peer, i)
	}
	return true, ""
}

func sentText(sent bool, why string) string {
	if sent {
		return "sent to the platform"
	}
	return "recorded here only: " + why
}

func boolFlag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func fileList(urls []string) []protocol.ClaimFile {
	out := make([]protocol.ClaimFile, len(urls))
	for k, u := range urls {
		out[k] = protocol.ClaimFile{FileURL: u}
	}
	return out
}

// personActor is the actor of a console or admin API record.
func personActor(actor string) string {
	if actor = strings.TrimSpace(actor); actor == "" {
		actor = "admin"
	}
	if strings.Contains(actor, ":") {
		return actor
	}
	return "person:" + actor
}

// same reports whether o records the same outcome as n (who and when
// aside).
func (o *ClaimOutcome) same(n *ClaimOutcome) bool {
	return o.Status == n.Status && o.Amount.Equal(n.Amount) && o.Date == n.Date && o.Way == n.Way &&
		o.TransferDate == n.TransferDate && o.Remark == n.Remark && reflect.DeepEqual(o.Vouchers, n.Vouchers)
}

// same reports whether r records the same recovery as n.
func (r *ClaimRecovery) same(n *ClaimRecovery) bool {
	return r.Recovered == n.Recovered && r.Amount.Equal(n.Amount) && r.Date == n.Date &&
		r.Remark == n.Remark && r.TendererCooperated == n.TendererCooperated
}

// Claim returns claim id with its outcome and recovery.
func (s *Service) Claim(ctx context.Context, id string) (*Claim, error) {
	return s.claimByID(ctx, s.db, id)
}

// lockedClaim loads claim id holding its application's lock until tx
// ends: the records of a guarantee's claims one at a time, since each
// reads the claim's status and the others' paid amounts before it writes.
func (s *Service) lockedClaim(ctx context.Context, tx *sql.Tx, id string) (*Claim, error) {
	c, err := s.claimByID(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if err := s.lockApplication(ctx, tx, c.ApplicationID); err != nil {
		return nil, err
	}
	return s.claimByID(ctx, tx, id)
}

// claimByID loads one claim.
func (s *Service) claimByID(ctx context.Context, q store.Querier, id string) (*Claim, error) {
	list, err := s.claims(ctx, q, " WHERE c.id=?", id)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, ErrNotFound
	}
	return list[0], nil
}
