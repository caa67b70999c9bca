package platform

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/transport"
)

// The seven interfaces the platform serves. transport.Server has checked
// appkey, sign, timestamp, replay and the field rules before a handler
// runs; a handler's error is answered as {"code":0,"message":err}.

// peerApplication loads the application for a request of peer, locked when
// inside a transaction, and checks that it belongs to that institution.
func (s *Service) peerApplication(ctx context.Context, q store.Querier, peer *transport.Peer, applyNo string, lock bool) (*Application, error) {
	a, err := s.loadApplication(ctx, q, applyNo, lock)
	return peerOwns(a, err, peer, applyNo)
}

// peerOwns checks that the application loaded (a, or the error of loading
// it) is one sent to peer.
func peerOwns(a *Application, err error, peer *transport.Peer, applyNo string) (*Application, error) {
	if errors.Is(err, ErrNotFound) {
		return nil, baohan.Refusef("applyno %s is unknown", applyNo)
	}
	if err != nil {
		return nil, err
	}
	if a.Institution != peer.Name {
		return nil, baohan.Refusef("applyno %s was not sent to appkey %s", applyNo, peer.AppKey)
	}
	return a, nil
}

// withPeerApplication runs fn in a transaction on the peer's application,
// locked.
func (s *Service) withPeerApplication(ctx context.Context, peer *transport.Peer, applyNo string, fn func(tx *sql.Tx, a *Application) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		a, err := s.peerApplication(ctx, tx, peer, applyNo, true)
		if err != nil {
			return err
		}
		return fn(tx, a)
	})
}

// handleNotice serves baohannotice: the underwriting result. The same
// notice twice is answered ok; a second, different notice is refused
// naming the field that differs.
func (s *Service) handleNotice(ctx context.Context, peer *transport.Peer, r *protocol.Request) (any, error) {
	var req protocol.BaohanNoticeRequest
	if err := protocol.Decode(r, &req); err != nil {
		return nil, err
	}
	inst, _ := s.cfg.institution(peer.Name)
	n := &Notice{BaohanNo: req.BaohanNo, PayerName: req.PayerName, PayerAccount: req.PayerAccount,
		InstName: req.InstName, GenerateTime: req.GenerateTime, Rate: req.Rate, Cost: req.Cost,
		ApplyStatus: req.ApplyStatus, ReceivedAt: s.now()}
	approved := req.ApplyStatus == protocol.StatusApproved
	if approved && inst != nil && inst.RequireBasicAccount {
		var missing []string
		if strings.TrimSpace(req.PayerName) == "" {
			missing = append(missing, "payername")
		}
		if strings.TrimSpace(req.PayerAccount) == "" {
			missing = append(missing, "payeraccount")
		}
		if len(missing) > 0 {
			return nil, baohan.Refusef("%s required: the trading centre requires the premium paid from the bidder's basic account (基本户)", strings.Join(missing, " and "))
		}
	}
	var repeated bool
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		a, held, err := s.loadWithCipher(ctx, tx, req.ApplyNo)
		if a, err = peerOwns(a, err, peer, req.ApplyNo); err != nil {
			return err
		}
		repeated = false
		if a.Notice != nil {
			if f, was, now := a.Notice.differs(n); f != "" {
				return baohan.Refusef("conflicting baohannotice for applyno %s: %s was %q in the notice received at %s, now %q",
					a.ApplyNo, f, was, protocol.FormatTime(a.Notice.ReceivedAt), now)
			}
			repeated = true
			return nil
		}
		if approved && inst != nil && inst.RequireBasicAccount {
			b, err := s.bidderQ(ctx, tx, a.BidderCode)
			if err != nil {
				return err
			}
			if normName(req.PayerName) != normName(b.Name) {
				return baohan.Refusef("payername %q is not the bidder %q: the premium must be paid from the bidder's basic account (基本户)", req.PayerName, b.Name)
			}
		}
		ev := EvRejected
		if approved {
			ev = EvApproved
		}
		detail := map[string]string{"baohanno": req.BaohanNo, "applystatus": req.ApplyStatus, "rate": req.Rate, "cost": req.Cost, "instname": req.InstName}
		if remark := s.premiumRemark(a, req.Rate, req.Cost); remark != "" {
			detail["remark"] = remark
		}
		if approved && held != nil && held.BaohanNo != req.BaohanNo {
			return baohan.Refusef("baohanno %s differs from the ciphertext guarantee of applyno %s received before this notice (baohanno %s, %s)",
				req.BaohanNo, a.ApplyNo, held.BaohanNo, protocol.FormatTime(held.ReceivedAt))
		}
		if err := s.move(ctx, tx, a, ev, actorInstitution(peer.Name), detail, func(a *Application) {
			a.Notice = n
			if approved {
				a.BaohanNo = req.BaohanNo
			}
		}); err != nil || !approved || held == nil {
			return err
		}
		// The ciphertext guarantee came first (upload_first): the notice
		// takes it.
		return s.move(ctx, tx, a, EvCipherReleased, actorInstitution(peer.Name), map[string]any{
			"baohanno": held.BaohanNo, "digest": held.Digest, "received_at": protocol.FormatTime(held.ReceivedAt),
		}, nil)
	})
	if err != nil {
		return nil, err
	}
	if repeated {
		s.log.Info("baohannotice repeated", "applyno", req.ApplyNo, "peer", peer.Name)
	}
	return nil, nil
}

// premiumRemark compares the notice's rate and cost with the product's;
// a difference is recorded, not refused (the institution decides the
// premium).
func (s *Service) premiumRemark(a *Application, rate, cost string) string {
	var remarks []string
	r, err := decimal.NewFromString(rate)
	if err == nil && !r.Equal(a.Rate) {
		remarks = append(remarks, fmt.Sprintf("rate %s differs from the product's %s", rate, a.Rate))
	}
	if err == nil {
		min := decimal.Zero
		if inst, ok := s.cfg.institution(a.Institution); ok {
			if p, ok := inst.Product(a.Product); ok {
				min = p.MinPremium
			}
		}
		want := baohan.Premium(a.BondAmount, r, min)
		if c, err := decimal.NewFromString(cost); err == nil && !c.Equal(want) {
			remarks = append(remarks, fmt.Sprintf("cost %s is not bond %s × rate %s = %s", cost, a.BondAmount.StringFixed(2), rate, want.StringFixed(2)))
		}
	}
	return strings.Join(remarks, "; ")
}

// normName compares names the way people write them: spaces dropped,
// full-width brackets as half-width.
func normName(s string) string {
	s = strings.NewReplacer("（", "(", "）", ")", " ", "", "\u3000", "").Replace(s)
	return strings.TrimSpace(s)
}

// handlePublicKey serves downloadpublickey: one SM2 key pair per applyno,
// created on the first request and the same afterwards; the private key
// is sealed with the master key.
func (s *Service) handlePublicKey(ctx context.Context, peer *transport.Peer, r *protocol.Request) (any, error) {
	applyNo := r.Get("applyno")
	a, err := s.peerApplication(ctx, s.db, peer, applyNo, false)
	if err != nil {
		return nil, err
	}
	if pub, err := s.publicKey(ctx, s.db, applyNo); err != nil {
		return nil, err
	} else if pub != "" {
		return protocol.PublicKeyResult{PublicKey: pub}, nil
	}
	switch a.State {
	case Rejected, Quit, Cancelled, GivenUp, Claimed, ClaimPending, Compensated, CompensationRefused, Recovered, RecoveryFailed:
		return nil, baohan.Refusef("applyno %s is %s (%s): no key is issued for it", applyNo, a.State, a.State.Label())
	}
	priv, err := gm.GenerateKey()
	if err != nil {
		return nil, err
	}
	pemKey, err := gm.MarshalPrivateKeyPEM(priv)
	if err != nil {
		return nil, err
	}
	sealed, err := s.mk.Seal(pemKey, applyKeyContext(applyNo))
	clear(pemKey)
	if err != nil {
		return nil, err
	}
	pubHex := gm.PublicKeyHex(&priv.PublicKey)
	var pub string
	err = s.withApplication(ctx, applyNo, func(tx *sql.Tx, a *Application) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO plat_apply_keys (applyno, public_key, private_sealed, created_at)
			VALUES (?, ?, ?, ?) ON CONFLICT (applyno) DO NOTHING`), applyNo, pubHex, sealed, store.Micros(s.now()))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			if err := s.record(ctx, tx, a, EvKeyIssued, actorInstitution(peer.Name), map[string]string{"publickey": pubHex}, nil); err != nil {
				return err
			}
		}
		pub, err = s.publicKey(ctx, tx, applyNo)
		return err
	})
	if err != nil {
		return nil, err
	}
	return protocol.PublicKeyResult{PublicKey: pub}, nil
}

func applyKeyContext(applyNo string) string { return "baohan/platform/apply-key/" + applyNo }

func (s *Service) publicKey(ctx context.Context, q store.Querier, applyNo string) (string, error) {
	var pub string
	err := q.QueryRowContext(ctx, s.db.Rebind(`SELECT public_key FROM plat_apply_keys WHERE applyno = ?`), applyNo).Scan(&pub)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return pub, err
}

// handleInvoiceNotice serves invoicenotice: the invoice the institution
// issued (applystatus 1) or refused (0), found by baohanno.
func (s *Service) handleInvoiceNotice(ctx context.Context, peer *transport.Peer, r *protocol.Request) (any, error) {
	var req protocol.InvoiceNoticeRequest
	if err := protocol.Decode(r, &req); err != nil {
		return nil, err
	}
	var applyNo string
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT applyno FROM plat_applications WHERE institution = ? AND baohanno = ?`),
		peer.Name, req.BaohanNo).Scan(&applyNo)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, baohan.Refusef("baohanno %s is unknown for appkey %s", req.BaohanNo, peer.AppKey)
	}
	if err != nil {
		return nil, err
	}
	ok := req.ApplyStatus == protocol.StatusApproved
	err = s.withApplication(ctx, applyNo, func(tx *sql.Tx, a *Application) error {
		if a.State == Invoiced && ok && a.Invoice != nil && a.Invoice.InvoiceNo == req.InvoiceNo &&
			a.Invoice.InvoiceCode == req.InvoiceCode && a.Invoice.InvoiceURL == req.InvoiceURL {
			return nil // the same notice again
		}
		ev := EvInvoiceRefused
		if ok {
			ev = EvInvoiced
		}
		return s.move(ctx, tx, a, ev, actorInstitution(peer.Name), map[string]string{
			"applystatus": req.ApplyStatus, "invoiceno": req.InvoiceNo, "invoicecode": req.InvoiceCode, "invoiceurl": req.InvoiceURL,
		}, func(a *Application) {
			if a.Invoice == nil {
				a.Invoice = &Invoice{}
			}
			a.Invoice.Status, a.Invoice.InvoiceURL, a.Invoice.InvoiceCode, a.Invoice.InvoiceNo = req.ApplyStatus, req.InvoiceURL, req.InvoiceCode, req.InvoiceNo
			a.Invoice.NoticedAt = s.now()
		})
	})
	return nil, err
}

// handleQuitNotice serves quitnotice: the withdrawal result, answering
// quitapply or reporting a withdrawal the bidder started at the
// institution (only before the bid opening).
func (s *Service) handleQuitNotice(ctx context.Context, peer *transport.Peer, r *protocol.Request) (any, error) {
	var req protocol.QuitNoticeRequest
	if err := protocol.Decode(r, &req); err != nil {
		return nil, err
	}
	ok := req.ApplyStatus == protocol.StatusApproved
	err := s.withPeerApplication(ctx, peer, req.ApplyNo, func(tx *sql.Tx, a *Application) error {
		if a.BaohanNo != req.BaohanNo {
			return baohan.Refusef("baohanno %s does not match the guarantee %s of applyno %s", req.BaohanNo, orNone(a.BaohanNo), a.ApplyNo)
		}
		if a.State == Quit && ok {
			return nil // the same notice again
		}
		if ok {
			t, err := protocol.ParseTime(req.TuibaoTime)
			if err != nil {
				return baohan.Refusef("tuibaotime: %v", err)
			}
			if !a.KaibiaoTime.IsZero() && !t.Before(a.KaibiaoTime) {
				return baohan.Refusef("tuibaotime %s is not before the bid opening %s: quitting is only possible before it",
					req.TuibaoTime, protocol.FormatTime(a.KaibiaoTime))
			}
		}
		ev := EvQuitRefused
		if ok {
			ev = EvQuit
		}
		return s.move(ctx, tx, a, ev, actorInstitution(peer.Name), map[string]string{"applystatus": req.ApplyStatus, "tuibaotime": req.TuibaoTime},
			func(a *Application) {
				if ok {
					a.TuibaoTime = req.TuibaoTime
				}
			})
	})
	return nil, err
}

// handleGiveupNotice serves giveupnotice: the bidder abandoned at the
// institution. The platform decides: allowed only while no success notice
// was given.
func (s *Service) handleGiveupNotice(ctx context.Context, peer *transport.Peer, r *protocol.Request) (any, error) {
	applyNo := r.Get("applyno")
	err := s.withPeerApplication(ctx, peer, applyNo, func(tx *sql.Tx, a *Application) error {
		if a.State == GivenUp {
			return nil // already given up
		}
		return s.move(ctx, tx, a, EvGiveupNotice, actorInstitution(peer.Name), nil, nil)
	})
	return nil, err
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
