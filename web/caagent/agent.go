// Package caagent is the bidder-side CA client: it holds the bidder's SM2
// key and certificate (a PEM file stands in for the USB key) and answers
// the consoles' pages from 127.0.0.1 only. It opens digital envelopes,
// signs login challenges, signs the guarantee agreement (OFD, GB/T 38540)
// and hands out its certificate.
//
// Only pages from configured origins may call it: CORS with an exact
// Origin allowlist (anything else gets 403 JSON, a request without Origin
// too), and a Host check against the loopback names of the listener, so
// that a DNS-rebinding page cannot reach it under another name.
//
// The endpoints, all JSON:
//
//	GET  /v1/cert            {"cert": PEM, "subject", "creditcode", "notafter"}
//	POST /v1/challenge       {"challenge"} -> {"signature": base64 DER, "cert": PEM}
//	POST /v1/envelope        {"digitalenvelope", "applydata"?, "layout"?} -> {"key": base64, "applydata"?}
//	POST /v1/agreement       {"ofd": base64} -> {"ofd": base64 of the signed OFD}
//
// A challenge is signed as LoginMessage(origin, challenge), never as the
// bytes the page sent, so a page can make the agent sign nothing but a
// login to its own origin.
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
	"net/url"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/gm"
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
	// SignAgreement seals the agreement OFD (default SignOFD).
	SignAgreement SignFunc
	Logger        *slog.Logger
	MaxBody       int64 // bytes of one request body; default 32 MiB
}

// Agent answers pages on behalf of the bidder's key.
type Agent struct {
	key     *sm2.PrivateKey
	cert    *smx509.Certificate
	certPEM string
	origins map[string]bool
	layout  gm.CipherLayout
	sign    SignFunc
	log     *slog.Logger
	maxBody int64
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
	a := &Agent{
		key:     cfg.Key,
		cert:    cfg.Cert,
		certPEM: string(certPEM(cfg.Cert)),
		origins: map[string]bool{},
		layout:  cfg.Layout,
		sign:    cfg.SignAgreement,
		log:     cfg.Logger,
		maxBody: cfg.MaxBody,
	}
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
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.maxBody <= 0 {
		a.maxBody = 32 << 20
	}
	return a, nil
}

// NormalizeOrigin checks that o is an origin as browsers send it
// (scheme://host[:port], no path) and returns it lower-cased.
func NormalizeOrigin(o string) (string, error) {
	s := strings.TrimSuffix(strings.TrimSpace(o), "/")
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("caagent: origin %q is not scheme://host[:port] (e.g. https://ggzy.example.cn)", o)
	}
	return strings.ToLower(s), nil
}

// LoginMessage is what the agent signs for a login challenge: a fixed
// label, the origin of the page that asked and the challenge, one per
// line. The console rebuilds it from its own challenge and the Origin of
// the login request, so a signature made for one site is useless at
// another.
func LoginMessage(origin, challenge string) []byte {
	return []byte("baohan-login\n" + origin + "\n" + challenge)
}

// VerifyLogin checks that sig (DER) is the signature by cert's key of
// LoginMessage(origin, challenge).
func VerifyLogin(cert *smx509.Certificate, origin, challenge string, sig []byte) error {
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return errors.New("the certificate does not hold an SM2 public key")
	}
	if !gm.SM2Verify(pub, LoginMessage(origin, challenge), sig) {
		return errors.New("the signature does not verify with the certificate's public key")
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
			writeJSON(w, http.StatusForbidden, errorBody("host %q is not this agent's loopback address", r.Host))
			return
		}
		origin := r.Header.Get("Origin")
		if origin == "" || !a.origins[strings.ToLower(origin)] {
			a.log.Warn("ca agent: refused origin", "origin", origin, "path", r.URL.Path)
			if origin == "" {
				writeJSON(w, http.StatusForbidden, errorBody("no Origin header: only pages of the configured origins may call the CA agent"))
				return
			}
			writeJSON(w, http.StatusForbidden, errorBody("origin %q is not allowed to use this CA agent (start it with --origin %s)", origin, origin))
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
			writeJSON(w, http.StatusUnsupportedMediaType, errorBody("send Content-Type: application/json"))
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
		WriteTimeout:      time.Minute,
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
	writeJSON(w, http.StatusOK, CertInfo{
		Cert:       a.certPEM,
		Subject:    a.cert.Subject.CommonName,
		CreditCode: CreditCode(a.cert),
		NotAfter:   a.cert.NotAfter.UTC().Format(time.RFC3339),
	})
}

// ChallengeRequest and ChallengeResponse are the body and answer of
// POST /v1/challenge.
type ChallengeRequest struct {
	Challenge string `json:"challenge"`
}
type ChallengeResponse struct {
	Signature string `json:"signature"` // base64 DER SEQUENCE{r, s}
	Cert      string `json:"cert"`      // PEM
}

func (a *Agent) handleChallenge(w http.ResponseWriter, r *http.Request) {
	var req ChallengeRequest
	if !decode(w, r, &req) {
		return
	}
	if n := len(req.Challenge); n < 16 || n > 256 {
		writeJSON(w, http.StatusBadRequest, errorBody("challenge: want 16 to 256 characters, got %d", n))
		return
	}
	for _, c := range req.Challenge {
		if c < 0x21 || c > 0x7e {
			writeJSON(w, http.StatusBadRequest, errorBody("challenge: printable ASCII only"))
			return
		}
	}
	origin := strings.ToLower(r.Header.Get("Origin"))
	sig, err := gm.SM2Sign(a.key, LoginMessage(origin, req.Challenge))
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, errorBody("%v", err))
		return
	}
	a.log.Info("ca agent: signed a login challenge", "origin", origin)
	writeJSON(w, http.StatusOK, ChallengeResponse{Signature: base64.StdEncoding.EncodeToString(sig), Cert: a.certPEM})
}

// EnvelopeRequest and EnvelopeResponse are the body and answer of
// POST /v1/envelope.
type EnvelopeRequest struct {
	DigitalEnvelope string `json:"digitalenvelope"`
	ApplyData       string `json:"applydata,omitempty"`
	Layout          string `json:"layout,omitempty"`
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
		writeJSON(w, http.StatusBadRequest, errorBody("digitalenvelope: required"))
		return
	}
	layout := a.layout
	if req.Layout != "" {
		l, err := gm.ParseCipherLayout(req.Layout)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, errorBody("layout: %v", err))
			return
		}
		layout = l
	}
	key, err := gm.UnwrapKey(a.key, req.DigitalEnvelope, layout)
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, errorBody("digitalenvelope: %v (was it sealed for the certificate %q?)", err, a.cert.Subject.CommonName))
		return
	}
	resp := EnvelopeResponse{Key: base64.StdEncoding.EncodeToString(key)}
	if req.ApplyData != "" {
		pt, err := gm.OpenEnvelope(a.key, req.ApplyData, req.DigitalEnvelope, layout)
		if err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, errorBody("%v", err))
			return
		}
		resp.ApplyData = string(pt)
	}
	a.log.Info("ca agent: opened a digital envelope", "origin", r.Header.Get("Origin"))
	writeJSON(w, http.StatusOK, resp)
}

// AgreementRequest is the body of POST /v1/agreement, and its answer.
type AgreementRequest struct {
	OFD string `json:"ofd"` // base64
}

func (a *Agent) handleAgreement(w http.ResponseWriter, r *http.Request) {
	var req AgreementRequest
	if !decode(w, r, &req) {
		return
	}
	doc, err := base64.StdEncoding.DecodeString(req.OFD)
	if err != nil || len(doc) == 0 {
		writeJSON(w, http.StatusBadRequest, errorBody("ofd: want the base64 of an OFD file"))
		return
	}
	signed, err := a.sign(r.Context(), doc, a.key, a.cert)
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, errorBody("signing the agreement: %v", err))
		return
	}
	a.log.Info("ca agent: signed an agreement", "origin", r.Header.Get("Origin"), "bytes", len(signed))
	writeJSON(w, http.StatusOK, AgreementRequest{OFD: base64.StdEncoding.EncodeToString(signed)})
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
			writeJSON(w, http.StatusRequestEntityTooLarge, errorBody("body larger than %d bytes", mbe.Limit))
			return false
		}
		writeJSON(w, http.StatusBadRequest, errorBody("body: %v", err))
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		writeJSON(w, http.StatusBadRequest, errorBody("body: one JSON object only"))
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
