package institution

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/store"
)

// checkClaimBound refuses a claim that asks for more than the guarantee
// still covers. The institution pays what the guarantee guarantees (the
// bond, bzjamount), no more, whatever the caller says: it serves the
// platforms of other vendors too and does not take their word for it.
//
//   - payeramount stated: positive, and with the amounts of the claims
//     accepted before it at most the guaranteed amount.
//   - payeramount not stated (the field is optional): the claim is for
//     what the guarantee still covers, so it is accepted while something
//     is left, and the guarantee counts as claimed in full after it.
//
// q must hold the application's lock (lockApplication), so that two
// claims at once cannot both fit in the same balance. A claim sent again
// with the same fields never comes here: it is recognised before, by the
// hash of its fields, and acknowledged as it was.
func (s *Service) checkClaimBound(ctx context.Context, q store.Querier, a *Application, amount string) error {
	bond, err := decimal.NewFromString(a.Bond)
	if err != nil || !bond.IsPositive() {
		return fmt.Errorf("claim on %s: the stored guaranteed amount %q is not a positive amount", a.ApplyNo, a.Bond)
	}
	claimed, n, err := s.claimedSoFar(ctx, q, a.ID, bond)
	if err != nil {
		return err
	}
	remaining := decimal.Max(bond.Sub(claimed), decimal.Zero)
	before := "no claim before"
	if n > 0 {
		before = fmt.Sprintf("%s already claimed by %d claim(s)", amountText(claimed), n)
	}
	if amount == "" {
		if remaining.IsPositive() {
			return nil
		}
		return baohan.Refusef("payeramount: not stated, so the claim is for what guarantee %s still covers, and nothing is left: the guaranteed amount (bzjamount) is %s, %s",
			a.BaohanNo, amountText(bond), before)
	}
	demanded, err := decimal.NewFromString(amount)
	if err != nil {
		return baohan.Refusef("payeramount %q is not an amount", clip(amount))
	}
	if !demanded.IsPositive() {
		return baohan.Refusef("payeramount %s: a claim demands a positive amount (leave payeramount out to claim what the guarantee still covers)", amount)
	}
	if demanded.GreaterThan(remaining) {
		if n == 0 {
			return baohan.Refusef("payeramount %s exceeds the guaranteed amount: guarantee %s guarantees %s (bzjamount), no claim before; at most %s can be claimed",
				amount, a.BaohanNo, amountText(bond), amountText(remaining))
		}
		return baohan.Refusef("payeramount %s exceeds what guarantee %s still covers: it guarantees %s (bzjamount), %s, so at most %s can still be claimed (%s demanded in all)",
			amount, a.BaohanNo, amountText(bond), before, amountText(remaining), amountText(claimed.Add(demanded)))
	}
	return nil
}

// claimedSoFar sums the amounts of the claims recorded for an
// application. A claim that stated no amount claimed all that was left:
// the total is then the whole bond.
func (s *Service) claimedSoFar(ctx context.Context, q store.Querier, appID string, bond decimal.Decimal) (total decimal.Decimal, n int, err error) {
	rows, err := q.QueryContext(ctx, s.db.Rebind(`SELECT id, fields FROM inst_claims WHERE application_id=?`), appID)
	if err != nil {
		return total, 0, err
	}
	defer rows.Close()
	whole := false
	for rows.Next() {
		var id, fields string
		if err := rows.Scan(&id, &fields); err != nil {
			return total, 0, err
		}
		n++
		var f map[string]string
		if err := json.Unmarshal([]byte(fields), &f); err != nil {
			return total, 0, fmt.Errorf("claim %s: stored fields: %w", id, err)
		}
		if f["payeramount"] == "" {
			whole = true
			continue
		}
		d, err := decimal.NewFromString(f["payeramount"])
		if err != nil {
			return total, 0, fmt.Errorf("claim %s: stored payeramount %q: %w", id, f["payeramount"], err)
		}
		total = total.Add(d)
	}
	if err := rows.Err(); err != nil {
		return total, 0, err
	}
	if whole {
		total = decimal.Max(total, bond)
	}
	return total, n, nil
}

// lockApplication holds the application's row until tx ends, so that
// work that reads other rows of the application (its claims) and then
// writes is not done twice at once. On SQLite write transactions run one
// at a time already.
func (s *Service) lockApplication(ctx context.Context, tx *sql.Tx, id string) error {
	if s.db.Dialect != store.Postgres {
		return nil
	}
	var got string
	err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT id FROM inst_applications WHERE id=? FOR UPDATE`), id).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// recordRefusedClaim writes a refused claim into the application's
// history, for the staff (the message log has the request itself).
func (s *Service) recordRefusedClaim(ctx context.Context, a *Application, why string) {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		return s.repo.insertEvent(ctx, tx, a.ID, s.now(), a.State, a.State, "claim_refused", "platform:"+a.Peer, why)
	})
	if err != nil {
		s.logger.ErrorContext(ctx, "recording a refused claim", slog.String("applyno", a.ApplyNo), slog.Any("err", err))
	}
}

// amountText writes an amount in yuan with at least two decimals.
func amountText(d decimal.Decimal) string {
	places := int32(2)
	if e := -d.Exponent(); e > places {
		places = e
	}
	return d.StringFixed(places)
}

// claimAmountText describes a claim's payeramount for the history.
func claimAmountText(amount string) string {
	if amount == "" {
		return "amount not stated (the balance)"
	}
	return "payeramount " + amount
}
