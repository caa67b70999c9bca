package institution

import (
	"context"
	"crypto/ecdsa"
	"database/sql"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/bidderauth"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/store"
)

// The redirecturl is a bearer token, and not the bidder's alone: the
// platform keeps it in the clear (its application, its message log, its
// consoles) and the bidder's browser history holds it. Reading the
// application needs the bidder's key (the digital envelope), and so does
// signing the agreement; withdrawing the guarantee (quit) and giving the
// application up would not, and whoever reads the URL could knock the
// bidder out of the tender. So these two need the bidder's key as well:
// a signature by the bidder's certificate over a challenge the
// institution issued for that action on that application, for the
// action's purpose (bidderauth.InstitutionQuit, InstitutionGiveUp) and
// the institution's own origin (listen.public_url): the CA agent's
// POST /v1/challenge signs bidderauth.Message(purpose, origin, challenge)
// with the bidder's key once the bidder allows it.
//
//	POST /bidder/<token>/challenge {"action": "quit"|"giveup"} -> Challenge
//	POST /bidder/<token>/quit      {"reason", "challenge", "signature", "cert"}
//	POST /bidder/<token>/giveup    {"challenge", "signature", "cert", "key"?}
//
// The certificate must chain to the trust roots, be valid now, carry the
// bidder's credit code (biddercode of the application), and once the
// agreement is signed be the very certificate that signed it. Before the
// application is opened the institution does not know who the bidder is:
// the request then also carries key, the SM4 key recovered from the
// digital envelope (as for open), and the credit code is read from the
// decrypted application.

// Bidder actions that need the bidder's key.
const (
	ActionQuit   = "quit"
	ActionGiveUp = "giveup"
)

// challengeTTL is how long a challenge can be used.
const challengeTTL = 5 * time.Minute

// challengeKeyLabel names the key of the bidder's challenges, derived from
// the master key (gm.MasterKey.DeriveKey): replicas on one database share
// the master key, so a challenge one issues serves at another.
const challengeKeyLabel = "institution/bidder-challenge"

// bidderChallenges returns the institution's challenges under the key
// derived from mk.
func bidderChallenges(mk *gm.MasterKey) (*bidderauth.Challenges, error) {
	key, err := mk.DeriveKey(challengeKeyLabel)
	if err != nil {
		return nil, err
	}
	return bidderauth.NewChallenges(key, challengeTTL)
}

// ChallengeRequest is the body of POST /bidder/<token>/challenge.
type ChallengeRequest struct {
	Action string `json:"action"` // quit | giveup
}

// Challenge is a single-use challenge for one action on one application.
// The bidder signs Message (bidderauth.Message(Purpose, Origin,
// Challenge)) with its certificate's key: the CA agent's POST
// /v1/challenge {"challenge", "purpose"} does it when called from a page
// of Origin, or SignChallenge in Go.
type Challenge struct {
	Challenge string             `json:"challenge"`
	Action    string             `json:"action"`
	Purpose   bidderauth.Purpose `json:"purpose"` // what the signature is for: institution-quit | institution-giveup
	ApplyNo   string             `json:"applyno"`
	Origin    string             `json:"origin"`  // the institution's origin (listen.public_url)
	Message   string             `json:"message"` // what is signed
	ExpiresAt time.Time          `json:"expires_at"`
}

// actionPurpose is the purpose a signature for action is made for.
func actionPurpose(action string) bidderauth.Purpose {
	if action == ActionQuit {
		return bidderauth.InstitutionQuit
	}
	return bidderauth.InstitutionGiveUp
}

// BidderProof proves that a request behind the redirecturl comes from the
// holder of the bidder's certificate key.
type BidderProof struct {
	Challenge string `json:"challenge"` // from POST /bidder/<token>/challenge, for this action
	Signature string `json:"signature"` // base64 DER SM2 signature (SM3, user ID 1234567812345678) of the challenge's message
	Cert      string `json:"cert"`      // PEM: the bidder's certificate
	// Key is base64 of the SM4 key recovered from the digital envelope,
	// required while the application is not opened (as for open).
	Key string `json:"key,omitempty"`
}

// BidderQuitRequest is the body of POST /bidder/<token>/quit.
type BidderQuitRequest struct {
	Reason string `json:"reason"`
	BidderProof
}

// SignChallenge signs c with the bidder's key as the CA agent does, and
// returns the proof to send with the action.
func SignChallenge(c *Challenge, key *sm2.PrivateKey, cert *smx509.Certificate) (BidderProof, error) {
	sig, err := gm.SM2Sign(key, bidderauth.Message(c.Purpose, c.Origin, c.Challenge))
	if err != nil {
		return BidderProof{}, err
	}
	return BidderProof{Challenge: c.Challenge, Signature: base64.StdEncoding.EncodeToString(sig), Cert: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))}, nil
}

// ProofError refuses a bidder action whose proof of the bidder's key is
// missing or does not hold (HTTP 403). It is a refusal (baohan.IsRefusal,
// EForbidden).
type ProofError struct{ Msg string }

func (e *ProofError) Error() string { return e.Msg }

func proofError(format string, a ...any) error { return &ProofError{Msg: fmt.Sprintf(format, a...)} }

// bidderOrigin is the origin bidder pages are served from, which the CA
// agent puts in what it signs.
func (s *Service) bidderOrigin() string {
	o, err := bidderauth.OriginOf(s.cfg.Listen.PublicURL)
	if err != nil {
		return ""
	}
	return o
}

// BidderChallenge issues a challenge for action on the application behind
// token, valid for 5 minutes, once. It writes nothing (whoever holds the
// redirecturl may ask): the challenge is bound to the application and the
// action by its MAC (bidderauth.Challenges), and recorded only when a
// request signed over it by the bidder's certificate is accepted
// (useChallenge).
func (s *Service) BidderChallenge(ctx context.Context, token, action string) (*Challenge, error) {
	if action != ActionQuit && action != ActionGiveUp {
		return nil, baohan.Refusef("action: want %q or %q, got %q", ActionQuit, ActionGiveUp, clip(action))
	}
	a, err := s.byToken(ctx, s.db, token)
	if err != nil {
		return nil, err
	}
	origin := s.bidderOrigin()
	if origin == "" {
		return nil, fmt.Errorf("listen.public_url %q has no origin", s.cfg.Listen.PublicURL)
	}
	c := &Challenge{Action: action, Purpose: actionPurpose(action), ApplyNo: a.ApplyNo, Origin: origin}
	c.Challenge, c.ExpiresAt = s.challenges.Issue(s.now(), c.Purpose, a.ID)
	c.Message = string(bidderauth.Message(c.Purpose, c.Origin, c.Challenge))
	return c, nil
}

// checkChallenge checks that challenge was issued for action on
// application appID and is live. It writes nothing.
func (s *Service) checkChallenge(challenge, appID, action string) (bidderauth.Issued, error) {
	is, err := s.challenges.Check(s.now(), challenge, actionPurpose(action), appID)
	if err != nil {
		return is, proofError("challenge: %v; ask POST /bidder/<token>/challenge {\"action\":%q} for a new one", err, action)
	}
	return is, nil
}

// useChallenge records the challenge is as used by a request of
// application appID that proved the bidder's key; a challenge serves once:
// of two requests with one challenge only one records it, the other is
// refused. Records of expired challenges go as new ones come.
func (s *Service) useChallenge(ctx context.Context, is bidderauth.Issued, appID, action string) error {
	var n int64
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`DELETE FROM inst_used_challenges WHERE expires_at <= ?`), store.Micros(s.now())); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO inst_used_challenges (id, application_id, expires_at) VALUES (?,?,?) ON CONFLICT (id) DO NOTHING`),
			is.ID, appID, store.Micros(is.Expires))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return err
	}
	if n != 1 {
		return proofError("challenge: already used (a challenge serves once); ask POST /bidder/<token>/challenge {\"action\":%q} for a new one", action)
	}
	return nil
}

// verifyBidder checks that p proves the bidder's key for action on a, and
// returns the bidder's certificate.
func (s *Service) verifyBidder(ctx context.Context, a *Application, action string, p BidderProof) (*smx509.Certificate, error) {
	if p.Challenge == "" || p.Signature == "" || p.Cert == "" {
		return nil, proofError("%s needs the bidder's signature: ask POST /bidder/<token>/challenge {\"action\":%q}, sign its message with the bidder's CA certificate (the CA agent's POST /v1/challenge with the challenge and purpose %s) and send challenge, signature (base64 DER) and cert (PEM)",
			action, action, actionPurpose(action))
	}
	issued, err := s.checkChallenge(p.Challenge, a.ID, action)
	if err != nil {
		return nil, err
	}
	cert, err := gm.ParseCertificate([]byte(p.Cert))
	if err != nil {
		return nil, proofError("cert: %v", err)
	}
	if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != sm2.P256() {
		return nil, proofError("cert: the certificate of %q does not hold an SM2 public key", cert.Subject.CommonName)
	}
	sig, err := base64.StdEncoding.DecodeString(p.Signature)
	if err != nil {
		return nil, proofError("signature: not base64: %v", err)
	}
	if err := bidderauth.Verify(cert, actionPurpose(action), s.bidderOrigin(), p.Challenge, sig); err != nil {
		return nil, proofError("signature: %v (what is signed is the challenge's message: purpose %s, origin %s)", err, actionPurpose(action), s.bidderOrigin())
	}
	now := s.now()
	if s.bidderRoots == nil {
		return nil, proofError("no trust roots are configured: bidder certificates cannot be checked")
	}
	if _, err := cert.Verify(smx509.VerifyOptions{Roots: s.bidderRoots, CurrentTime: now,
		KeyUsages: []smx509.ExtKeyUsage{smx509.ExtKeyUsageAny}}); err != nil {
		return nil, proofError("cert: the certificate of %q is not valid under the trust roots now: %v", cert.Subject.CommonName, err)
	}
	bidderCode := a.BidderCode
	if bidderCode == "" && a.flat() { // the application came in the clear: it names the bidder
		d, err := decryptApplyData(a, nil)
		if err != nil {
			return nil, err
		}
		bidderCode = d.BidderCode
	}
	if bidderCode == "" {
		if p.Key == "" {
			return nil, proofError("key: the application is not opened yet, so the institution does not know who the bidder is: send key, base64 of the SM4 key recovered from the digital envelope (as for open)")
		}
		key, err := gm.DecodeBase64(p.Key)
		if err != nil {
			return nil, proofError("key: %v", err)
		}
		d, err := decryptApplyData(a, key)
		if err != nil {
			var r *baohan.Error
			if errors.As(err, &r) {
				return nil, proofError("%s", r.Message)
			}
			return nil, err
		}
		bidderCode = d.BidderCode
	}
	code, err := s.codes.Of(cert)
	if err != nil || !strings.EqualFold(code, bidderCode) {
		if err != nil {
			return nil, proofError("cert: the certificate of %q carries no credit code (%v); the bidder %s must sign with its own certificate", cert.Subject.CommonName, err, bidderCode)
		}
		return nil, proofError("cert: the certificate is of credit code %s, not of the bidder %s", code, bidderCode)
	}
	if a.Signer != "" {
		signer, err := s.agreementSigner(ctx, a)
		if err != nil {
			return nil, err
		}
		if !signer.Equal(cert) {
			return nil, proofError("cert: the certificate %q (serial %s) is not the one that signed the agreement (%q, serial %s)",
				cert.Subject.CommonName, cert.SerialNumber.Text(16), signer.Subject.CommonName, signer.SerialNumber.Text(16))
		}
	}
	// Only now, the bidder's key proven, is the challenge recorded: nobody
	// else can make the institution store anything.
	if err := s.useChallenge(ctx, issued, a.ID, action); err != nil {
		return nil, err
	}
	return cert, nil
}

// agreementSigner returns the certificate that signed a's agreement.
func (s *Service) agreementSigner(ctx context.Context, a *Application) (*smx509.Certificate, error) {
	signed, err := s.blobs.Get(ctx, agreementKey(a, true))
	if err != nil {
		return nil, fmt.Errorf("the signed agreement of %s: %w", a.ApplyNo, err)
	}
	unsigned, err := s.blobs.Get(ctx, agreementKey(a, false))
	if err != nil {
		return nil, fmt.Errorf("the agreement of %s: %w", a.ApplyNo, err)
	}
	cert, err := s.docs.VerifyAgreement(ctx, signed, unsigned)
	if err != nil {
		return nil, fmt.Errorf("the signed agreement of %s: %w", a.ApplyNo, err)
	}
	return cert, nil
}

// BidderQuit withdraws the guarantee at the bidder's request behind the
// redirecturl, once req proves the bidder's key (see verifyBidder); the
// platform is told by quitnotice either way.
func (s *Service) BidderQuit(ctx context.Context, token string, req BidderQuitRequest) (*QuitRecord, error) {
	a, err := s.byToken(ctx, s.db, token)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.Reason) == "" {
		return nil, baohan.Refusef("a reason is required")
	}
	cert, err := s.verifyBidder(ctx, a, ActionQuit, req.BidderProof)
	if err != nil {
		s.metrics.bidder.WithLabelValues(ActionQuit, "refused").Inc()
		return nil, err
	}
	rec, err := s.Quit(ctx, a.ID, s.bidderActor(cert), req.Reason)
	if err == nil {
		s.metrics.bidder.WithLabelValues(ActionQuit, "ok").Inc()
	}
	return rec, err
}

// BidderGiveUp gives the application up at the bidder's request behind
// the redirecturl, once p proves the bidder's key; giveupnotice asks the
// platform.
func (s *Service) BidderGiveUp(ctx context.Context, token string, p BidderProof) (*Giveup, error) {
	a, err := s.byToken(ctx, s.db, token)
	if err != nil {
		return nil, err
	}
	cert, err := s.verifyBidder(ctx, a, ActionGiveUp, p)
	if err != nil {
		s.metrics.bidder.WithLabelValues(ActionGiveUp, "refused").Inc()
		return nil, err
	}
	g, err := s.GiveUp(ctx, a.ID, s.bidderActor(cert))
	if err == nil {
		s.metrics.bidder.WithLabelValues(ActionGiveUp, "ok").Inc()
	}
	return g, err
}

// bidderActor names the bidder in the history by its credit code (which
// verifyBidder found in cert).
func (s *Service) bidderActor(cert *smx509.Certificate) string {
	code, _ := s.codes.Of(cert)
	return "bidder:" + code
}
