package platform

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/protocol"
)

// The platform-side actions: each checks the state machine, records the
// move and enqueues the call in one transaction. The institution's answer
// (applied when the call is delivered) decides what follows.

// Quit asks the institution to withdraw the guarantee (quitapply, 退保),
// only before the bid opening. The application is quit_requested until
// quitnotice (or a refusal) comes.
func (s *Service) Quit(ctx context.Context, applyNo, reason string) (*Application, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, inputErr("reason", "退保原因 is required")
	}
	return s.action(ctx, applyNo, EvQuitRequested, map[string]string{"reason": reason}, nil,
		func(a *Application, peerCode string) (protocol.Interface, map[string]string) {
			return protocol.QuitApply, map[string]string{"platformcode": peerCode, "applyno": a.ApplyNo,
				"baohanno": a.BaohanNo, "reason": reason}
		})
}

// Cancel tells the institution that the bid agent cancels the guarantee
// (canclenotice, 注销). When the institution does not serve the optional
// interface, the cancellation is recorded on the platform only.
func (s *Service) Cancel(ctx context.Context, applyNo, reason string) (*Application, error) {
	a, err := s.Application(ctx, applyNo)
	if err != nil {
		return nil, err
	}
	if inst, ok := s.cfg.institution(a.Institution); ok && inst.NoCancel {
		return s.changeApplication(ctx, applyNo, func(tx *sql.Tx, a *Application) error {
			detail := map[string]string{"reason": reason, "note": "institution " + a.Institution + " does not serve canclenotice; recorded on the platform only"}
			if err := s.move(ctx, tx, a, EvCancelRequested, ActorAdmin, detail, func(a *Application) { a.Pending = protocol.CancelNotice }); err != nil {
				return err
			}
			return s.move(ctx, tx, a, EvCancelled, ActorAdmin, nil, func(a *Application) { a.Pending = "" })
		})
	}
	return s.action(ctx, applyNo, EvCancelRequested, map[string]string{"reason": reason},
		func(a *Application) { a.Pending = protocol.CancelNotice },
		func(a *Application, code string) (protocol.Interface, map[string]string) {
			return protocol.CancelNotice, map[string]string{"platformcode": code, "applyno": a.ApplyNo, "baohanno": a.BaohanNo}
		})
}

// ClaimInput is a claim (理赔) by the bid agent.
type ClaimInput struct {
	PayerAccount   string          `json:"payeraccount"`   // 收款账号
	PayerAmount    decimal.Decimal `json:"payeramount"`    // 赔付金额; zero: not stated
	ApplyUserName  string          `json:"applyusername"`  // 发起理赔联系人名称
	ApplyUserPhone string          `json:"applyuserphone"` // 发起理赔联系人联系方式
	Reason         string          `json:"reason"`         // 索赔原因
	FileList       []string        `json:"filelist"`       // URLs of the claim documents
}

// Claim sends the bid agent's claim to the institution (claimsnotice,
// 见索即付). The institution's acceptance moves the application to claimed.
func (s *Service) Claim(ctx context.Context, applyNo string, in ClaimInput) (*Application, error) {
	a, err := s.Application(ctx, applyNo)
	if err != nil {
		return nil, err
	}
	if in.PayerAmount.IsNegative() {
		return nil, inputErr("payeramount", "赔付金额 is negative")
	}
	if in.PayerAmount.GreaterThan(a.BondAmount) {
		return nil, inputErr("payeramount", "赔付金额 %s exceeds the guaranteed amount %s", in.PayerAmount.StringFixed(2), a.BondAmount.StringFixed(2))
	}
	files := make([]protocol.ClaimFile, 0, len(in.FileList))
	for i, f := range in.FileList {
		u, err := url.Parse(strings.TrimSpace(f))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, inputErr("filelist", "file %d: %q is not an http(s) URL", i+1, f)
		}
		files = append(files, protocol.ClaimFile{FileURL: u.String()})
	}
	fields := map[string]string{
		"payeraccount":   strings.TrimSpace(in.PayerAccount),
		"applyusername":  strings.TrimSpace(in.ApplyUserName),
		"applyuserphone": strings.TrimSpace(in.ApplyUserPhone),
		"reason":         strings.TrimSpace(in.Reason),
	}
	if !in.PayerAmount.IsZero() {
		fields["payeramount"] = in.PayerAmount.StringFixed(2)
	}
	if len(files) > 0 {
		b, _ := json.Marshal(files)
		fields["filelist"] = string(b)
	}
	return s.action(ctx, applyNo, EvClaimRequested, fields,
		func(a *Application) { a.Pending = protocol.ClaimsNotice },
		func(a *Application, code string) (protocol.Interface, map[string]string) {
			out := map[string]string{"platformcode": code, "applyno": a.ApplyNo, "baohanno": a.BaohanNo}
			for k, v := range fields {
				if v != "" {
					out[k] = v
				}
			}
			return protocol.ClaimsNotice, out
		})
}

// GiveUp tells the institution that the bidder abandons the application
// (giveupapply), only before a success notice. The institution decides:
// its acceptance moves the application to given_up, a refusal keeps it.
func (s *Service) GiveUp(ctx context.Context, applyNo, reason string) (*Application, error) {
	return s.action(ctx, applyNo, EvGiveupRequested, map[string]string{"reason": reason},
		func(a *Application) { a.Pending = protocol.GiveupApply },
		func(a *Application, code string) (protocol.Interface, map[string]string) {
			return protocol.GiveupApply, map[string]string{"platformcode": code, "applyno": a.ApplyNo}
		})
}

// InvoiceInput is the bidder's invoice request (invoiceapply). Type 0 is
// 普票, type 1 专票, which needs address, phone, bank and account.
type InvoiceInput struct {
	Type           string          `json:"type"`
	Amount         decimal.Decimal `json:"amount"` // zero: the premium of the notice (cost)
	Address        string          `json:"address,omitempty"`
	Phone          string          `json:"phone,omitempty"`
	Bank           string          `json:"bank,omitempty"`
	Account        string          `json:"account,omitempty"`
	Email          string          `json:"email,omitempty"`
	Mobile         string          `json:"mobile,omitempty"`
	ContactName    string          `json:"contactname,omitempty"`
	ContactAddress string          `json:"contactaddress,omitempty"`
}

// RequestInvoice sends the bidder's invoice request (invoiceapply) once
// the plaintext guarantee is in.
func (s *Service) RequestInvoice(ctx context.Context, applyNo string, in InvoiceInput) (*Application, error) {
	if in.Type != protocol.InvoiceOrdinary && in.Type != protocol.InvoiceSpecial {
		return nil, inputErr("type", "发票类型 must be 0 (普票) or 1 (专票), got %q", in.Type)
	}
	if in.Amount.IsNegative() {
		return nil, inputErr("amount", "开票金额 is negative")
	}
	var inv *Invoice
	return s.action(ctx, applyNo, EvInvoiceRequested, in,
		func(a *Application) {
			inv = &Invoice{Request: in, RequestedAt: s.now()}
			if inv.Request.Amount.IsZero() && a.Notice != nil {
				inv.Request.Amount, _ = decimal.NewFromString(a.Notice.Cost)
			}
			a.Invoice = inv
		},
		func(a *Application, code string) (protocol.Interface, map[string]string) {
			f := map[string]string{"platformcode": code, "applyno": a.ApplyNo, "baohanno": a.BaohanNo,
				"amount": inv.Request.Amount.StringFixed(2), "type": in.Type,
				"address": in.Address, "phone": in.Phone, "bank": in.Bank, "account": in.Account,
				"email": in.Email, "mobile": in.Mobile, "contactname": in.ContactName, "contactaddress": in.ContactAddress}
			// biddername and biddercode are filled in by action.
			return protocol.InvoiceApply, f
		})
}

// RestoreNow sends baohanrestore for the application at once (after the
// bid opening only): to retry a refused restore or to send the key again.
func (s *Service) RestoreNow(ctx context.Context, applyNo string) (*Application, error) {
	a, err := s.changeApplication(ctx, applyNo, func(tx *sql.Tx, a *Application) error {
		if err := s.move(ctx, tx, a, EvRestoreRequested, ActorAdmin, nil, nil); err != nil {
			return err
		}
		return s.scheduleRestore(ctx, tx, a, "now")
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// action runs one platform action: move by ev (mutate sets the columns),
// then enqueue the call build returns. build gets the application after
// the move and the institution's platformcode.
func (s *Service) action(ctx context.Context, applyNo string, ev Event, detail any, mutate func(a *Application),
	build func(a *Application, platformCode string) (protocol.Interface, map[string]string)) (*Application, error) {
	out, err := s.changeApplication(ctx, applyNo, func(tx *sql.Tx, a *Application) error {
		peer, ok := s.peers[a.Institution]
		if !ok {
			return fmt.Errorf("institution %s of applyno %s is not configured", a.Institution, a.ApplyNo)
		}
		if err := s.move(ctx, tx, a, ev, ActorAdmin, detail, mutate); err != nil {
			return err
		}
		i, fields := build(a, peer.PlatformCode)
		if i == protocol.InvoiceApply {
			b, err := s.bidderQ(ctx, tx, a.BidderCode)
			if err != nil {
				return err
			}
			fields["biddername"], fields["biddercode"] = b.Name, b.CreditCode
		}
		for k, v := range fields {
			if v == "" {
				delete(fields, k)
			}
		}
		return s.enqueue(ctx, tx, a, i, fields)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// errorsAsInput reports whether err is a refusal of the input (as opposed
// to a failure of the platform).
func errorsAsInput(err error) bool {
	var ie *InputError
	var te *TransitionError
	return errors.As(err, &ie) || errors.As(err, &te) || errors.Is(err, ErrNotFound)
}
