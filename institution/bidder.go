package institution

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

// BidderView is what the bidder sees behind the redirecturl.
type BidderView struct {
	ApplyNo         string             `json:"applyno"`
	Platform        string             `json:"platform"`
	State           State              `json:"state"`
	StateLabel      string             `json:"state_label"`
	Institution     string             `json:"institution"`
	DigitalEnvelope string             `json:"digitalenvelope"`
	SM2Layout       string             `json:"sm2_layout"` // of the envelope
	Products        []ProductView      `json:"products"`
	BasicAccount    bool               `json:"basic_account"` // payername and payeraccount are required to pay
	Application     *BidderApplication `json:"application,omitempty"`
	BaohanNo        string             `json:"baohanno,omitempty"`
	Decision        string             `json:"decision,omitempty"`
	PaymentRef      string             `json:"payment_ref,omitempty"`
	// Next is the bidder's next step: open, sign, pay, wait, download or
	// none.
	Next string `json:"next"`
}

// BidderApplication is the decrypted application, shown once opened.
type BidderApplication struct {
	BidderName string `json:"biddername"`
	BidderCode string `json:"biddercode"`
	Bond       string `json:"bzjamount"`
	Product    string `json:"product"`
	Rate       string `json:"rate"`
	Premium    string `json:"premium"`
}

// ProductView is a product as offered to bidders.
type ProductView struct {
	Name       string `json:"name"`
	Rate       string `json:"rate"`
	MinPremium string `json:"min_premium"`
}

func (s *Service) products() []ProductView {
	out := make([]ProductView, len(s.chk.products))
	for i, p := range s.chk.products {
		out[i] = ProductView{Name: p.Name, Rate: p.Rate.String(), MinPremium: p.Min.StringFixed(2)}
	}
	return out
}

// byToken finds the application of a bidder token.
func (s *Service) byToken(ctx context.Context, q store.Querier, token string) (*Application, error) {
	if !validTokenShape(token) {
		return nil, ErrNotFound
	}
	return s.repo.applicationByToken(ctx, q, hashToken(token))
}

func (s *Service) bidderView(a *Application) *BidderView {
	v := &BidderView{
		ApplyNo: a.ApplyNo, Platform: a.Peer, State: a.State, StateLabel: a.State.Label(),
		Institution: s.cfg.Institution.Name, DigitalEnvelope: a.envelope, Products: s.products(),
		BaohanNo: a.BaohanNo, PaymentRef: a.PaymentRef,
	}
	if pp, err := s.peers.named(a.Peer); err == nil {
		v.SM2Layout = pp.peer.Profile.SM2Layout.String()
		v.BasicAccount = pp.cfg.BasicAccount
	}
	if a.State != Received {
		v.Application = &BidderApplication{BidderName: a.BidderName, BidderCode: a.BidderCode, Bond: a.Bond,
			Product: a.Product, Rate: a.Rate, Premium: a.Premium}
	}
	if a.State == Rejected {
		v.Decision = a.Decision
	}
	switch a.State {
	case Received:
		v.Next = "open"
	case Opened:
		v.Next = "sign"
	case Signed:
		v.Next = "pay"
	case Paid, Reviewing, Approved, QuitPending:
		v.Next = "wait"
	case Issued, Restoring, Restored:
		v.Next = "download"
	default:
		v.Next = "none"
	}
	return v
}

// Bidder returns the bidder's view of the application behind token.
func (s *Service) Bidder(ctx context.Context, token string) (*BidderView, error) {
	a, err := s.byToken(ctx, s.db, token)
	if err != nil {
		return nil, err
	}
	return s.bidderView(a), nil
}

// flat reports whether a came in the flat revision: no envelope, its
// application kept as received, a JSON object (applydata proper is
// base64).
func (a *Application) flat() bool {
	return a.envelope == "" && strings.HasPrefix(a.applyData, "{")
}

// decryptApplyData opens applydata with the key the bidder recovered
// from the envelope and checks it against the spec's table.
func decryptApplyData(a *Application, key []byte) (*protocol.ApplyData, error) {
	if a.flat() {
		// The flat revision: no envelope, the application came in the
		// clear (the project fields still ciphertext); nothing to open.
		return checkApplyData([]byte(a.applyData))
	}
	if len(key) == 0 {
		return nil, baohan.Refusef("key is required: base64 of the SM4 key recovered from the digital envelope")
	}
	if len(key) != 16 {
		return nil, baohan.Refusef("key: want the 16-byte SM4 key recovered from the digital envelope, got %d bytes", len(key))
	}
	ct, err := gm.DecodeBase64(a.applyData)
	if err != nil {
		return nil, fmt.Errorf("stored applydata of %s: %w", a.ApplyNo, err)
	}
	pt, err := gm.SM4ECBDecrypt(key, ct)
	if err == nil && !json.Valid(pt) {
		// About one wrong key in 256 leaves valid padding; what it decrypts
		// to is noise, not JSON. (Right key, noise: applydata was not
		// encrypted as the spec says, which the same words cover.)
		err = errors.New("decrypted, it is not JSON text")
	}
	if err != nil {
		return nil, baohan.Refusef("the key does not open this application's applydata (%v); recover it from this application's digitalenvelope with the certificate's private key", err)
	}
	return checkApplyData(pt)
}

// checkApplyData checks applydata's plaintext against the spec's table.
func checkApplyData(pt []byte) (*protocol.ApplyData, error) {
	d, vs := protocol.ValidateApplyData(pt)
	if len(vs) > 0 {
		msgs := make([]string, len(vs))
		for i, v := range vs {
			msgs[i] = v.Message
		}
		return nil, baohan.Refusef("the decrypted applydata breaks the spec: %s", strings.Join(msgs, "; "))
	}
	return d, nil
}

// Open proves the bidder holds the certificate's key: key is the SM4 key
// recovered from the digital envelope with it. The application is
// decrypted, priced with product (the first product when empty), and the
// agreement prepared. Opening again with the right key shows the same.
func (s *Service) Open(ctx context.Context, token string, key []byte, productName string) (*BidderView, error) {
	a, err := s.byToken(ctx, s.db, token)
	if err != nil {
		return nil, err
	}
	d, err := decryptApplyData(a, key)
	if err != nil {
		s.metrics.bidder.WithLabelValues("open", "refused").Inc()
		return nil, err
	}
	if a.State != Received {
		return s.bidderView(a), nil
	}
	// One opening at a time per application: the agreement stored must be
	// the one made from the pricing saved.
	unlock := s.appLocks.lock(a.ID)
	defer unlock()
	if a, err = s.byToken(ctx, s.db, token); err != nil {
		return nil, err
	}
	if a.State != Received {
		return s.bidderView(a), nil
	}
	p, ok := s.chk.productByName(productName)
	if !ok {
		return nil, baohan.Refusef("product %q is not offered", productName)
	}
	bond, err := decimal.NewFromString(d.BzjAmount)
	if err != nil || !bond.IsPositive() {
		return nil, baohan.Refusef("bzjamount %q is not a positive amount", d.BzjAmount)
	}
	proj := Project{BiaoduanNo: d.BiaoduanNo, BiaoduanName: d.BiaoduanName, Zbr: d.Zbr, ZbrOrgNum: d.ZbrOrgNum}
	if a.flat() { // the deposit deadline came too (ciphertext)
		var flat protocol.FlatApplyData
		if json.Unmarshal([]byte(a.applyData), &flat) == nil {
			proj.BzjEndDate = flat.BzjEndDate
		}
	}
	project, _ := json.Marshal(proj)
	a.BidderName, a.BidderCode, a.Bond = d.BidderName, d.BidderCode, bond.StringFixed(2)
	a.projectCipher = string(project)
	a.Product, a.Rate = p.Name, p.Rate.String()
	a.Premium = baohan.Premium(bond, p.Rate, p.Min).StringFixed(2)

	in, err := s.documentInput(a, s.now())
	if err != nil {
		return nil, err
	}
	in.GenerateTime = s.now()
	in.Project, _ = a.cipherProject()
	doc, err := s.docs.Agreement(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("agreement for %s: %w", a.ApplyNo, err)
	}
	if err := s.blobs.Put(ctx, agreementKey(a, false), doc); err != nil {
		return nil, err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		cur, err := s.repo.applicationByID(ctx, tx, a.ID)
		if err != nil {
			return err
		}
		if cur.State != Received {
			a = cur
			return nil
		}
		a.State = cur.State
		return s.move(ctx, tx, a, Opened, "open", "bidder", "envelope opened; product "+p.Name)
	})
	if err != nil {
		return nil, err
	}
	s.metrics.bidder.WithLabelValues("open", "ok").Inc()
	s.logger.InfoContext(ctx, "application opened by the bidder", slog.String("applyno", a.ApplyNo))
	return s.bidderView(a), nil
}

func agreementKey(a *Application, signed bool) string {
	if signed {
		return "institution/" + a.ID + "/agreement.signed.ofd"
	}
	return "institution/" + a.ID + "/agreement.ofd"
}

// Agreement returns the unsigned agreement OFD for the bidder to sign.
func (s *Service) Agreement(ctx context.Context, token string) ([]byte, error) {
	a, err := s.byToken(ctx, s.db, token)
	if err != nil {
		return nil, err
	}
	if a.State == Received {
		return nil, baohan.Refusef("open the application first: the agreement is made from the decrypted application")
	}
	return s.blobs.Get(ctx, agreementKey(a, false))
}

// SignAgreement takes the agreement signed by the bidder (ses.Sign with
// its CA certificate), verifies it against the trust roots, and checks
// that the signer's credit code is the bidder's.
func (s *Service) SignAgreement(ctx context.Context, token string, signed []byte) (*BidderView, error) {
	a, err := s.byToken(ctx, s.db, token)
	if err != nil {
		return nil, err
	}
	if a.State != Opened {
		return nil, checkMove(a.ApplyNo, a.State, Signed, "signing the agreement")
	}
	unsigned, err := s.blobs.Get(ctx, agreementKey(a, false))
	if err != nil {
		return nil, err
	}
	cert, err := s.docs.VerifyAgreement(ctx, signed, unsigned)
	if err != nil {
		s.metrics.bidder.WithLabelValues("sign", "refused").Inc()
		if baohan.IsRefusal(err) {
			return nil, err
		}
		return nil, baohan.Refusef("the signed agreement does not verify: %v", err)
	}
	code, err := s.codes.Of(cert)
	if err != nil || !strings.EqualFold(code, a.BidderCode) {
		s.metrics.bidder.WithLabelValues("sign", "refused").Inc()
		if err != nil {
			return nil, baohan.Refusef("the signing certificate (%s) carries no credit code (%v); the bidder %s must sign with its own certificate", cert.Subject.CommonName, err, a.BidderCode)
		}
		return nil, baohan.Refusef("the agreement is signed by credit code %s, not by the bidder %s", code, a.BidderCode)
	}
	if err := s.blobs.Put(ctx, agreementKey(a, true), signed); err != nil {
		return nil, err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		cur, err := s.repo.applicationByID(ctx, tx, a.ID)
		if err != nil {
			return err
		}
		a = cur
		a.Signer = cert.Subject.String()
		return s.move(ctx, tx, a, Signed, "sign", "bidder", "agreement signed by "+cert.Subject.CommonName)
	})
	if err != nil {
		return nil, err
	}
	s.metrics.bidder.WithLabelValues("sign", "ok").Inc()
	return s.bidderView(a), nil
}

// PayRequest is the bidder's payment details.
type PayRequest struct {
	PayerName    string `json:"payername"`
	PayerAccount string `json:"payeraccount"`
}

// Pay collects the premium through the PaymentProvider, then underwrites:
// by rule at once in auto mode (the answer then shows approved or
// rejected), or into the review queue in manual mode.
func (s *Service) Pay(ctx context.Context, token string, req PayRequest) (*BidderView, error) {
	a, err := s.byToken(ctx, s.db, token)
	if err != nil {
		return nil, err
	}
	// One payment at a time per application in this process (a double
	// click must not charge twice); across replicas the provider's
	// idempotency key (the application ID) does the same.
	unlock := s.appLocks.lock(a.ID)
	defer unlock()
	if a, err = s.byToken(ctx, s.db, token); err != nil {
		return nil, err
	}
	if a.State != Signed {
		return nil, checkMove(a.ApplyNo, a.State, Paid, "payment")
	}
	pp, err := s.peers.named(a.Peer)
	if err != nil {
		return nil, err
	}
	req.PayerName, req.PayerAccount = strings.TrimSpace(req.PayerName), strings.TrimSpace(req.PayerAccount)
	if pp.cfg.BasicAccount {
		if req.PayerName == "" || req.PayerAccount == "" {
			return nil, baohan.Refusef("the trading centre requires payment from the bidder's basic account (基本户): payername and payeraccount are required")
		}
	}
	if len([]rune(req.PayerName)) > 200 || len(req.PayerAccount) > 50 {
		return nil, baohan.Refusef("payername is at most 200 characters and payeraccount at most 50")
	}
	ref, err := s.pay.Pay(ctx, Payment{ApplicationID: a.ID, ApplyNo: a.ApplyNo, BidderName: a.BidderName,
		BidderCode: a.BidderCode, Amount: a.Premium, PayerName: req.PayerName, PayerAccount: req.PayerAccount})
	if err != nil {
		s.metrics.bidder.WithLabelValues("pay", "refused").Inc()
		return nil, baohan.Refusef("payment failed: %v", err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		cur, err := s.repo.applicationByID(ctx, tx, a.ID)
		if err != nil {
			return err
		}
		a = cur
		a.PaymentRef, a.PayerName, a.PayerAccount, a.PaidAt = ref, req.PayerName, req.PayerAccount, s.now()
		return s.move(ctx, tx, a, Paid, "pay", "bidder", "premium "+a.Premium+" paid, reference "+ref)
	})
	if err != nil {
		return nil, err
	}
	s.metrics.bidder.WithLabelValues("pay", "ok").Inc()
	if err := s.underwrite(ctx, a.ID); err != nil {
		// The application stays paid; the resume loop underwrites it again.
		s.logger.ErrorContext(ctx, "underwriting failed; will retry", slog.String("applyno", a.ApplyNo), slog.Any("err", err))
	}
	return s.Bidder(ctx, token)
}

// BidderGuarantee returns the newest guarantee file the bidder may
// download (the plaintext one once restored, else the ciphertext one).
func (s *Service) BidderGuarantee(ctx context.Context, token string) ([]byte, int, error) {
	a, err := s.byToken(ctx, s.db, token)
	if err != nil {
		return nil, 0, err
	}
	return s.latestGuarantee(ctx, a)
}

func (s *Service) latestGuarantee(ctx context.Context, a *Application) ([]byte, int, error) {
	for _, ft := range []int{2, 1} {
		f, err := s.repo.file(ctx, s.db, a.ID, ft)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		b, err := s.blobs.Get(ctx, f.ofdBlob)
		return b, ft, err
	}
	return nil, 0, baohan.Refusef("applyno %s has no guarantee yet (it is %s)", a.ApplyNo, a.State.Label())
}

// keyedMutex serializes work per key.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedEntry{}
	}
	e := k.locks[key]
	if e == nil {
		e = &keyedEntry{}
		k.locks[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
