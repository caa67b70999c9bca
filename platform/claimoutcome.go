package platform

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/service"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/transport"
)

// ClaimOutcome is one claimsresultnotice (理赔结果通知) or
// claimsrepaynotice (追偿结果通知) the institution sent after a claim,
// as accepted.
type ClaimOutcome struct {
	Seq         int64              `json:"seq"`
	Interface   protocol.Interface `json:"interface"`
	Status      string             `json:"status"`       // compensatestatus or repaystatus
	StatusLabel string             `json:"status_label"` // 待赔付, 已赔付, 不予赔付, 其他, 已追偿, 未追偿
	Amount      decimal.Decimal    `json:"amount"`       // compensateamount or repayamount
	// Fields are the notice's fields but appkey, timestamp and sign
	// (compensatedate, compensateway, transferdate, compensateremark;
	// repaydate, repayremark, iszbrcooperate ...), as sent.
	Fields map[string]string `json:"fields"`
	Files  []string          `json:"files"` // transferfilelist's URLs (transfer vouchers)
	// FileStatus is what became of each of Files: fetched and kept (its
	// SM3 and size; GET /api/applications/{applyno}/claim-outcomes/{seq}/files/{n}
	// serves the copy), pending, or failed with the reason.
	FileStatus []service.KeptFile `json:"file_status"`
	ReceivedAt time.Time          `json:"received_at"`
}

// compensateEvents maps compensatestatus to its event.
var compensateEvents = map[string]Event{
	protocol.CompensatePending: EvCompensationPending,
	protocol.CompensatePaid:    EvCompensated,
	protocol.CompensateRefused: EvCompensationRefused,
	protocol.CompensateOther:   EvCompensationOther,
}

// handleClaimsResult serves claimsresultnotice (optional; transport.Server
// has refused it unless the institution's extensions list it): the
// outcome of the claim on the guarantee. compensateamount is at most the
// guaranteed amount (bzjamount), and positive when paid. The same notice
// again is answered ok and kept once.
func (s *Service) handleClaimsResult(ctx context.Context, peer *transport.Peer, r *protocol.Request) (any, error) {
	var req protocol.ClaimsResultNoticeRequest
	if err := protocol.Decode(r, &req); err != nil {
		return nil, err
	}
	ev := compensateEvents[req.CompensateStatus] // the field rules allow no other value
	files, err := fileURLs("transferfilelist", req.TransferFileList)
	if err != nil {
		return nil, err
	}
	amount, err := decimal.NewFromString(req.CompensateAmount)
	if err != nil {
		return nil, baohan.Refusef("compensateamount %q is not an amount", req.CompensateAmount)
	}
	if req.CompensateStatus == protocol.CompensatePaid && !amount.IsPositive() {
		return nil, baohan.Refusef("compensateamount %s: a paid claim (compensatestatus 2, 已赔付) pays a positive amount", req.CompensateAmount)
	}
	return nil, s.acceptClaimOutcome(ctx, peer, r, protocol.ClaimsResultNotice, req.ApplyNo, req.BaohanNo, req.CompensateStatus,
		"compensateamount", amount, files, ev)
}

// handleClaimsRepay serves claimsrepaynotice (optional, like
// claimsresultnotice): whether the institution recovered what it paid
// from the bidder. Only after a paid claim; repayamount at most the
// guaranteed amount.
func (s *Service) handleClaimsRepay(ctx context.Context, peer *transport.Peer, r *protocol.Request) (any, error) {
	var req protocol.ClaimsRepayNoticeRequest
	if err := protocol.Decode(r, &req); err != nil {
		return nil, err
	}
	ev := EvRecoveryFailed
	if req.RepayStatus == protocol.RepayRecovered {
		ev = EvRecovered
	}
	amount, err := decimal.NewFromString(req.RepayAmount)
	if err != nil {
		return nil, baohan.Refusef("repayamount %q is not an amount", req.RepayAmount)
	}
	return nil, s.acceptClaimOutcome(ctx, peer, r, protocol.ClaimsRepayNotice, req.ApplyNo, req.BaohanNo, req.RepayStatus,
		"repayamount", amount, []string{}, ev)
}

// acceptClaimOutcome checks a claim outcome notice against the
// application, keeps it and moves the application, in one transaction.
func (s *Service) acceptClaimOutcome(ctx context.Context, peer *transport.Peer, r *protocol.Request, iface protocol.Interface,
	applyNo, baohanNo, status, amountField string, amount decimal.Decimal, files []string, ev Event) error {
	fields := r.BusinessFields()
	fj, _ := json.Marshal(fields) // a map marshals with its keys sorted
	sum := sha256.Sum256(fj)
	hash := hex.EncodeToString(sum[:])
	flj, _ := json.Marshal(files)
	repeated := false
	err := s.withPeerApplication(ctx, peer, applyNo, func(tx *sql.Tx, a *Application) error {
		repeated = false
		if a.BaohanNo != baohanNo {
			return baohan.Refusef("baohanno %s does not match the guarantee %s of applyno %s", baohanNo, orNone(a.BaohanNo), a.ApplyNo)
		}
		var seq int64
		err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT seq FROM plat_claim_outcomes WHERE applyno=? AND interface=? AND request_hash=?`),
			a.ApplyNo, string(iface), hash).Scan(&seq)
		if err == nil {
			repeated = true // the same notice again: accepted before
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if amount.GreaterThan(a.BondAmount) {
			return baohan.Refusef("%s %s exceeds the guaranteed amount %s (bzjamount)",
				amountField, amount.String(), a.BondAmount.StringFixed(2))
		}
		if err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT COALESCE(MAX(seq), 0) FROM plat_claim_outcomes WHERE applyno=?`), a.ApplyNo).Scan(&seq); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO plat_claim_outcomes
			(applyno, seq, interface, status, amount, fields, files, request_hash, received_at) VALUES (?,?,?,?,?,?,?,?,?)`),
			a.ApplyNo, seq+1, string(iface), status, amount.String(), string(fj), string(flj), hash, store.Micros(s.now())); err != nil {
			return err
		}
		if err := s.core.Files.Enqueue(ctx, tx, outcomeFilesOwner(a.ApplyNo, seq+1), files); err != nil {
			return err
		}
		detail := map[string]any{amountField: amount.String()}
		for k, v := range fields {
			if k != "applyno" && k != "baohanno" && k != "transferfilelist" && v != "" {
				detail[k] = v
			}
		}
		if len(files) > 0 {
			detail["files"] = files
		}
		return s.move(ctx, tx, a, ev, actorInstitution(peer.Name), detail, nil)
	})
	if err == nil && repeated {
		s.log.Info(string(iface)+" repeated", "applyno", applyNo, "peer", peer.Name)
	}
	return err
}

// fileURLs reads a file list field ([{"fileurl":...}], checked by the
// field rules) into its URLs.
func fileURLs(field, v string) ([]string, error) {
	out := []string{}
	if v == "" {
		return out, nil
	}
	var list []protocol.ClaimFile
	if err := json.Unmarshal([]byte(v), &list); err != nil {
		return nil, baohan.Refusef("%s: not a JSON array of {\"fileurl\":...}: %v", field, err)
	}
	for _, f := range list {
		out = append(out, f.FileURL)
	}
	return out, nil
}

// ClaimOutcomes lists what the institution reported after the claim on
// an application, oldest first.
func (s *Service) ClaimOutcomes(ctx context.Context, applyNo string) ([]*ClaimOutcome, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT seq, interface, status, amount, fields, files, received_at
		FROM plat_claim_outcomes WHERE applyno=? ORDER BY seq`), applyNo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*ClaimOutcome{}
	for rows.Next() {
		var o ClaimOutcome
		var iface, amount, fields, files string
		var at int64
		if err := rows.Scan(&o.Seq, &iface, &o.Status, &amount, &fields, &files, &at); err != nil {
			return nil, err
		}
		o.Interface = protocol.Interface(iface)
		if o.Amount, err = decimal.NewFromString(amount); err != nil {
			return nil, fmt.Errorf("claim outcome %s/%d: stored amount %q: %w", applyNo, o.Seq, amount, err)
		}
		if err := json.Unmarshal([]byte(fields), &o.Fields); err != nil {
			return nil, fmt.Errorf("claim outcome %s/%d: stored fields: %w", applyNo, o.Seq, err)
		}
		if err := json.Unmarshal([]byte(files), &o.Files); err != nil {
			return nil, fmt.Errorf("claim outcome %s/%d: stored files: %w", applyNo, o.Seq, err)
		}
		o.StatusLabel = outcomeLabel(o.Interface, o.Status)
		o.ReceivedAt = store.FromMicros(at)
		out = append(out, &o)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	owners := make([]string, len(out))
	for i, o := range out {
		owners[i] = outcomeFilesOwner(applyNo, o.Seq)
	}
	m, err := s.core.Files.ListMany(ctx, owners)
	if err != nil {
		return nil, err
	}
	for i, o := range out {
		if o.FileStatus = m[owners[i]]; o.FileStatus == nil {
			o.FileStatus = []service.KeptFile{}
		}
	}
	return out, nil
}

// outcomeFilesOwner names a claim outcome's files among the fetched ones.
func outcomeFilesOwner(applyNo string, seq int64) string {
	return fmt.Sprintf("claimoutcome:%s/%d", applyNo, seq)
}

// ClaimOutcomeFile returns the kept copy of file n (0-based) of the
// claim outcome seq of an application.
func (s *Service) ClaimOutcomeFile(ctx context.Context, applyNo string, seq int64, n int) (service.KeptFile, []byte, error) {
	k, data, err := s.core.Files.Open(ctx, outcomeFilesOwner(applyNo, seq), n)
	if errors.Is(err, store.ErrNotFound) {
		err = ErrNotFound
	}
	return k, data, err
}

// outcomeLabel names a compensatestatus or repaystatus in Chinese.
func outcomeLabel(i protocol.Interface, status string) string {
	if f := protocol.SpecOf(i).Field(map[protocol.Interface]string{
		protocol.ClaimsResultNotice: "compensatestatus", protocol.ClaimsRepayNotice: "repaystatus"}[i]); f != nil {
		for _, e := range f.Enum {
			if e.Value == status {
				return e.Meaning
			}
		}
	}
	return status
}
