// Package caagent is the bidder-side CA client: it holds the bidder's SM2
// key and certificate (a PEM file stands in for the USB key) and answers
// the consoles' pages from 127.0.0.1 only. It opens digital envelopes,
// signs challenges (a console login, a withdrawal or a give-up at the
// institution), signs the guarantee agreement (OFD, GB/T 38540) and hands
// out its certificate.
//
// Only pages from configured origins may call it: CORS with an exact
// Origin allowlist (anything else gets 403 JSON, a request without Origin
// too), and a Host check against the loopback names of the listener, so
// that a DNS-rebinding page cannot reach it under another name.
//
// It asks the person before every use of the key, as a real CA client
// asks for the USB key's PIN: Config.Confirm shows the operation (what is
// signed, for which origin, which application the page names) and waits
// for the answer; baohan ca-agent asks on its terminal (TerminalConfirm).
// Config.Unattended signs and opens without asking, for demos and tests
// only.
//
// The endpoints, all JSON:
//
//	GET  /v1/cert            {"cert": PEM, "subject", "creditcode", "notafter"}
//	POST /v1/challenge       {"challenge", "purpose", "applyno"?} -> {"signature": base64 DER, "cert": PEM}
//	POST /v1/envelope        {"digitalenvelope", "applydata"?, "layout"?, "applyno"?} -> {"key": base64, "applydata"?}
//	POST /v1/agreement       {"ofd": base64, "applyno"?} -> {"ofd": base64 of the signed OFD}
//
// A challenge is signed as bidderauth.Message(purpose, origin, challenge),
// never as the bytes the page sent, with origin the page's own (its Origin
// header): a page can make the agent sign nothing but a message naming
// its own origin, for one of the purposes bidderauth knows, which the
// service checks against its own public origin and the purpose it
// expects.
package caagent

import (
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/bidderauth"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/internal/httpjson"
	"github.com/baohan-dev/baohan/pki"
)

// SignFunc seals an OFD document with the bidder's key and certificate
// and returns the signed document.
type SignFunc func(ctx context.Context, ofd []byte, key *sm2.PrivateKey, cert *smx509.Certificate) ([]byte, error)

// Config configures an Agent.
type Config struct {
	Key     *sm2.PrivateKey
	Cert    *smx509.Certificate
	Origins []string        // exact origins (scheme://host[:port]) allowed to call the agent
	Layout  gm.CipherLayout // SM2 ciphertext layout of envelopes when the page names none
	// CreditCodeIn is where the bidder's CA puts the 统一社会信用代码 in
	// Cert (default Subject SERIALNUMBER), as the services' [[trust_root]]
	// credit_code_in says for that CA.
	CreditCodeIn pki.CreditCodeIn
	// SignAgreement seals the agreement OFD (default SignOFD).
	SignAgreement SignFunc
	Logger        *slog.Logger
	MaxBody       int64 // bytes of one request body; default 32 MiB
	// Confirm asks the person before the key signs or opens anything
	// (TerminalConfirm asks on a terminal). Required unless Unattended.
	Confirm ConfirmFunc
	// ConfirmTimeout is how long Confirm may take before the request is
	// refused; default 2 minutes.
	ConfirmTimeout time.Duration
	// Unattended signs and opens without asking anyone: for demos and
	// tests, never for a bidder's real key. It excludes Confirm.
	Unattended bool
}

// DefaultConfirmTimeout is how long the agent waits for the person.
const DefaultConfirmTimeout = 2 * time.Minute

// Agent answers pages on behalf of the bidder's key.
type Agent struct {
	key     *sm2.PrivateKey
	cert    *smx509.Certificate
	certPEM string
	code    string // the credit code in cert, "" when none is found
	origins map[string]bool
	layout  gm.CipherLayout
	sign    SignFunc
	log     *slog.Logger
	maxBody int64

	confirm        ConfirmFunc // nil when unattended
	confirmTimeout time.Duration
}

// New checks cfg and returns an Agent. The key must belong to the
// certificate, and every origin must be a bare http(s) origin.
func New(cfg Config) (*Agent, error) {
	if cfg.Key == nil || cfg.Cert == nil {
		return nil, errors.New("caagent: a key and a certificate are required")
	}
	pub, ok := cfg.Cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&cfg.Key.PublicKey) {
		return nil, fmt.Errorf("caagent: the key does not belong to the certificate %q", cfg.Cert.Subject.CommonName)
	}
	if len(cfg.Origins) == 0 {
		return nil, errors.New("caagent: at least one --origin is required (the console's scheme://host:port)")
	}
	switch {
	case cfg.Unattended && cfg.Confirm != nil:
		return nil, errors.New("caagent: Unattended and Confirm exclude each other")
	case !cfg.Unattended && cfg.Confirm == nil:
		return nil, errors.New("caagent: Confirm is required: the agent asks the person before it signs or opens anything (TerminalConfirm asks on a terminal); Unattended acts without asking, for demos and tests only")
	}
	a := &Agent{
		key:     cfg.Key,
		cert:    cfg.Cert,
		certPEM: string(certPEM(cfg.Cert)),
		origins: map[string]bool{},
		layout:  cfg.Layout,
		sign:    cfg.SignAgreement,
		log:     cfg.Logger,
		maxBody: cfg.MaxBody,

		confirm:        cfg.Confirm,
		confirmTimeout: cfg.ConfirmTimeout,
	}
	if a.confirmTimeout <= 0 {
		a.confirmTimeout = DefaultConfirmTimeout
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	code, err := pki.CreditCode(cfg.Cert, cfg.CreditCodeIn)
	if err != nil {
		a.log.Warn("ca agent: the certificate's credit code is not found; the services will refuse what the key signs unless they read it elsewhere (credit_code_in)", "err", err)
	}
	a.code = code
	for _, o := range cfg.Origins {
		n, err := NormalizeOrigin(o)
		if err != nil {
			return nil, err
		}
		a.origins[n] = true
	}
	if a.sign == nil {
		a.sign = SignOFD
	}
	if a.maxBody <= 0 {
		a.maxBody = 32 << 20
	}
	return a, nil
}

// NormalizeOrigin checks that o is an origin as browsers send it
// (scheme://host[:port], no path) and returns it as the agent signs it
// (bidderauth.NormalizeOrigin: lower-cased, without a default port).
func NormalizeOrigin(o string) (string, error) {
	n, err := bidderauth.NormalizeOrigin(o)
	if err != nil {
		return "", fmt.Errorf("caagent: %w", err)
	}
	return n, nil
}

// ask runs Confirm for op within the confirmation timeout, or lets it
// through when the agent is unattended.
func (a *Agent) ask(ctx context.Context, op Operation) error {
	if a.confirm == nil {
		a.log.Info("ca agent: unattended, not asking", "op", op.Kind, "origin", op.Origin, "purpose", op.Purpose, "applyno", op.ApplyNo)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, a.confirmTimeout)
	defer cancel()
	if err := a.confirm(ctx, op); err != nil {
		a.log.Warn("ca agent: not confirmed", "op", op.Kind, "origin", op.Origin, "purpose", op.Purpose, "applyno", op.ApplyNo, "err", err)
		return err
	}
	return nil
}

// refuseUnconfirmed answers a request the person did not allow.
func refuseUnconfirmed(w http.ResponseWriter, err error) {
	httpjson.Write(w, http.StatusForbidden, errorBody("not done: %v", err))
}

// checkApplyNo bounds the application number a page names.
func checkApplyNo(s string) error {
	if len(s) > 64 {
		return errors.New("applyno: at most 64 characters")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return errors.New("applyno: printable ASCII without spaces only")
		}
	}
	return nil
}

// Handler returns the agent's HTTP handler. hosts are the Host header
// values accepted (host:port); Serve computes them from its listener.
func (a *Agent) Handler(hosts ...string) http.Handler {
	allowed := map[string]bool{}
	for _, h := range hosts {
		allowed[strings.ToLower(h)] = true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/cert", a.handleCert)
	mux.HandleFunc("POST /v1/challenge", a.handleChallenge)
	mux.HandleFunc("POST /v1/envelope", a.handleEnvelope)
	mux.HandleFunc("POST /v1/agreement", a.handleAgreement)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowed[strings.ToLower(r.Host)] {
			a.log.Warn("ca agent: refused host", "host", r.Host, "origin", r.Header.Get("Origin"))
			httpjson.Write(w, http.StatusForbidden, errorBody("host %q is not this agent's loopback address", r.Host))
			return
		}
		origin := r.Header.Get("Origin")
		if n, err := bidderauth.NormalizeOrigin(origin); err != nil || !a.origins[n] {
			a.log.Warn("ca agent: refused origin", "origin", origin, "path", r.URL.Path)
			if origin == "" {
				httpjson.Write(w, http.StatusForbidden, errorBody("no Origin header: only pages of the configured origins may call the CA agent"))
				return
			}
			httpjson.Write(w, http.StatusForbidden, errorBody("origin %q is not allowed to use this CA agent (start it with --origin %s)", origin, origin))
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, POST")
			h.Set("Access-Control-Allow-Headers", "Content-Type")
			h.Set("Access-Control-Max-Age", "600")
			if r.Header.Get("Access-Control-Request-Private-Network") == "true" {
				h.Set("Access-Control-Allow-Private-Network", "true")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if r.Method == http.MethodPost && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			httpjson.Write(w, http.StatusUnsupportedMediaType, errorBody("send Content-Type: application/json"))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, a.maxBody)
		mux.ServeHTTP(w, r)
	})
}

// Serve answers on ln until ctx is done. ln must be a loopback address.
func (a *Agent) Serve(ctx context.Context, ln net.Listener) error {
	addr, ok := ln.Addr().(*net.TCPAddr)
	if !ok || !addr.IP.IsLoopback() {
		return fmt.Errorf("caagent: refusing to listen on %s: the CA agent answers on a loopback address only (127.0.0.1)", ln.Addr())
	}
	port := fmt.Sprint(addr.Port)
	hosts := []string{net.JoinHostPort("127.0.0.1", port), net.JoinHostPort("localhost", port), net.JoinHostPort("::1", port)}
	srv := &http.Server{
		Handler:           a.Handler(hosts...),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      time.Minute + a.confirmTimeout, // a request may wait for the person
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// CertInfo is the answer of GET /v1/cert.
type CertInfo struct {
	Cert       string `json:"cert"`
	Subject    string `json:"subject"`
	CreditCode string `json:"creditcode"`
	NotAfter   string `json:"notafter"`
}

func (a *Agent) handleCert(w http.ResponseWriter, r *http.Request) {
	httpjson.Write(w, http.StatusOK, CertInfo{
		Cert:       a.certPEM,
		Subject:    a.cert.Subject.CommonName,
		CreditCode: a.code,
		NotAfter:   a.cert.NotAfter.UTC().Format(time.RFC3339),
	})
}

// ChallengeRequest and ChallengeResponse are the body and answer of
// POST /v1/challenge.
type ChallengeRequest struct {
	Challenge string `json:"challenge"`
	Purpose   string `json:"purpose"`           // a bidderauth purpose: what the signature is for
	ApplyNo   string `json:"applyno,omitempty"` // the application, shown to the person
}
type ChallengeResponse struct {
	Signature string `json:"signature"` // base64 DER SEQUENCE{r, s}
	Cert      string `json:"cert"`      // PEM
}

// pageOrigin is the request's Origin, normalized (the handler let only
// allowed ones through).
func pageOrigin(r *http.Request) string {
	o, _ := bidderauth.NormalizeOrigin(r.Header.Get("Origin"))
	return o
}

func (a *Agent) handleChallenge(w http.ResponseWriter, r *http.Request) {
	var req ChallengeRequest
	if !decode(w, r, &req) {
		return
	}
	if err := bidderauth.CheckChallenge(req.Challenge); err != nil {
		httpjson.Write(w, http.StatusBadRequest, errorBody("%v", err))
		return
	}
	purpose, err := bidderauth.ParsePurpose(req.Purpose)
	if err != nil {
		httpjson.Write(w, http.StatusBadRequest, errorBody("%v", err))
		return
	}
	if err := checkApplyNo(req.ApplyNo); err != nil {
		httpjson.Write(w, http.StatusBadRequest, errorBody("%v", err))
		return
	}
	origin := pageOrigin(r)
	if err := a.ask(r.Context(), Operation{Kind: SignChallenge, Origin: origin, Purpose: purpose, Challenge: req.Challenge, ApplyNo: req.ApplyNo}); err != nil {
		refuseUnconfirmed(w, err)
		return
	}
	sig, err := gm.SM2Sign(a.key, bidderauth.Message(purpose, origin, req.Challenge))
	if err != nil {
		httpjson.Write(w, http.StatusInternalServerError, errorBody("%v", err))
		return
	}
	a.log.Info("ca agent: signed a challenge", "origin", origin, "purpose", purpose, "applyno", req.ApplyNo)
	httpjson.Write(w, http.StatusOK, ChallengeResponse{Signature: base64.StdEncoding.EncodeToString(sig), Cert: a.certPEM})
}

// EnvelopeRequest and EnvelopeResponse are the body and answer of
// POST /v1/envelope.
type EnvelopeRequest struct {
	DigitalEnvelope string `json:"digitalenvelope"`
	ApplyData       string `json:"applydata,omitempty"`
	Layout          string `json:"layout,omitempty"`
	ApplyNo         string `json:"applyno,omitempty"` // the application, shown to the person
}
type EnvelopeResponse struct {
	Key       string `json:"key"`                 // base64 of the 16-byte SM4 key
	ApplyData string `json:"applydata,omitempty"` // the decrypted apply data, when applydata was sent
}

func (a *Agent) handleEnvelope(w http.ResponseWriter, r *http.Request) {
	var req EnvelopeRequest
	if !decode(w, r, &req) {
		return
	}
	if req.DigitalEnvelope == "" {
		httpjson.Write(w, http.StatusBadRequest, errorBody("digitalenvelope: required"))
		return
	}
	layout := a.layout
	if req.Layout != "" {
		l, err := gm.ParseCipherLayout(req.Layout)
		if err != nil {
			httpjson.Write(w, http.StatusBadRequest, errorBody("layout: %v", err))
			return
		}
		layout = l
	}
	if err := checkApplyNo(req.ApplyNo); err != nil {
		httpjson.Write(w, http.StatusBadRequest, errorBody("%v", err))
		return
	}
	if err := a.ask(r.Context(), Operation{Kind: OpenEnvelope, Origin: pageOrigin(r), ApplyNo: req.ApplyNo}); err != nil {
		refuseUnconfirmed(w, err)
		return
	}
	key, err := gm.UnwrapKey(a.key, req.DigitalEnvelope, layout)
	if err != nil {
		httpjson.Write(w, http.StatusUnprocessableEntity, errorBody("digitalenvelope: %v (was it sealed for the certificate %q?)", err, a.cert.Subject.CommonName))
		return
	}
	resp := EnvelopeResponse{Key: base64.StdEncoding.EncodeToString(key)}
	if req.ApplyData != "" {
		pt, err := gm.OpenEnvelope(a.key, req.ApplyData, req.DigitalEnvelope, layout)
		if err != nil {
			httpjson.Write(w, http.StatusUnprocessableEntity, errorBody("%v", err))
			return
		}
		resp.ApplyData = string(pt)
	}
	a.log.Info("ca agent: opened a digital envelope", "origin", pageOrigin(r), "applyno", req.ApplyNo)
	httpjson.Write(w, http.StatusOK, resp)
}

// AgreementRequest is the body of POST /v1/agreement, and its answer.
type AgreementRequest struct {
	OFD     string `json:"ofd"`               // base64
	ApplyNo string `json:"applyno,omitempty"` // the application, shown to the person (not in the answer)
}

func (a *Agent) handleAgreement(w http.ResponseWriter, r *http.Request) {
	var req AgreementRequest
	if !decode(w, r, &req) {
		return
	}
	doc, err := base64.StdEncoding.DecodeString(req.OFD)
	if err != nil || len(doc) == 0 {
		httpjson.Write(w, http.StatusBadRequest, errorBody("ofd: want the base64 of an OFD file"))
		return
	}
	if err := checkApplyNo(req.ApplyNo); err != nil {
		httpjson.Write(w, http.StatusBadRequest, errorBody("%v", err))
		return
	}
	sum := sm3.Sum(doc)
	op := Operation{Kind: SignAgreement, Origin: pageOrigin(r), ApplyNo: req.ApplyNo,
		Document: fmt.Sprintf("%d bytes, SM3 %x", len(doc), sum[:])}
	if err := a.ask(r.Context(), op); err != nil {
		refuseUnconfirmed(w, err)
		return
	}
	signed, err := a.sign(r.Context(), doc, a.key, a.cert)
	if err != nil {
		httpjson.Write(w, http.StatusUnprocessableEntity, errorBody("signing the agreement: %v", err))
		return
	}
	a.log.Info("ca agent: signed an agreement", "origin", pageOrigin(r), "applyno", req.ApplyNo, "bytes", len(signed))
	httpjson.Write(w, http.StatusOK, AgreementRequest{OFD: base64.StdEncoding.EncodeToString(signed)})
}

// ErrorBody is the JSON of every refusal.
type ErrorBody struct {
	Error string `json:"error"`
}

func errorBody(format string, a ...any) ErrorBody { return ErrorBody{Error: fmt.Sprintf(format, a...)} }

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			httpjson.Write(w, http.StatusRequestEntityTooLarge, errorBody("body larger than %d bytes", mbe.Limit))
			return false
		}
		httpjson.Write(w, http.StatusBadRequest, errorBody("body: %v", err))
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		httpjson.Write(w, http.StatusBadRequest, errorBody("body: one JSON object only"))
		return false
	}
	return true
}
