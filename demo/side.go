package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/pki"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/service"
)

// SideOptions configure one service started alone, facing another
// party's implementation of the other side (the conformance kit, a fault
// proxy, an integrator's system).
type SideOptions struct {
	Dir                             string // data directory; the test CA goes to Dir/ca unless CA is set
	DB                              string // database URL; empty: SQLite in Dir
	PeerURL                         string // the other side's base URL
	AppKey, AppSecret, PlatformCode string
	// CA issues the seal (institution) and is the trust root for bidders
	// and seals; nil: a new CA in Dir/ca.
	CA     *pki.CA
	Logger *slog.Logger
	Poll   time.Duration // outbox poll interval (default 50ms)
	// Wrap, when set, wraps the service's handler.
	Wrap func(http.Handler) http.Handler
	// Peer, when set, edits the peer's entry (its dialect keys, say).
	Peer func(*config.Peer)
}

// Side is one running service.
type Side struct {
	URL        string
	AdminToken string
	CA         *pki.CA
	CAFile     string
	// Platform or Institution, whichever was started.
	Platform    *platform.Service
	Institution *institution.Service

	cancel context.CancelFunc
	srv    *http.Server
	done   chan struct{}
}

// StartPlatform starts the demo's platform alone, with one institution at
// o.PeerURL.
func StartPlatform(ctx context.Context, o SideOptions) (*Side, error) {
	return startSide(ctx, o, true)
}

// StartInstitution starts the demo's institution alone, with one platform
// at o.PeerURL.
func StartInstitution(ctx context.Context, o SideOptions) (*Side, error) {
	return startSide(ctx, o, false)
}

func startSide(ctx context.Context, o SideOptions, plat bool) (*Side, error) {
	if o.Dir == "" || o.PeerURL == "" || o.AppKey == "" || o.AppSecret == "" || o.PlatformCode == "" {
		return nil, errors.New("demo: Dir, PeerURL, AppKey, AppSecret and PlatformCode are required")
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	poll := o.Poll
	if poll <= 0 {
		poll = 50 * time.Millisecond
	}
	s := &Side{CA: o.CA, AdminToken: randomHex(16)}
	caDir := filepath.Join(o.Dir, "ca")
	if err := os.MkdirAll(caDir, 0o700); err != nil {
		return nil, err
	}
	var err error
	if s.CA == nil {
		if s.CA, err = pki.Init(caDir); err != nil {
			return nil, err
		}
	}
	s.CAFile = filepath.Join(caDir, "trust.cert.pem")
	if err := os.WriteFile(s.CAFile, s.CA.CertPEM(), 0o600); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.URL = "http://" + ln.Addr().String()
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	var h http.Handler
	var run func(context.Context) error
	if plat {
		cfg := platformConfig(ln.Addr().String(), s.URL, filepath.Join(o.Dir, "platform"), o.DB, s.CAFile, s.AdminToken,
			o.PeerURL, o.AppKey, o.AppSecret, o.PlatformCode, poll)
		if o.Peer != nil {
			o.Peer(&cfg.Institutions[0].Peer)
		}
		if s.Platform, err = platform.New(runCtx, cfg, platform.WithLogger(logger)); err == nil {
			h, run = s.Platform.Handler(), s.Platform.Run
		}
	} else {
		if _, err = identity(s.CA, caDir, "institution", InstitutionName, pki.Institution, InstitutionCode); err != nil {
			cancel()
			ln.Close()
			return nil, fmt.Errorf("seal certificate: %w", err)
		}
		cfg := institutionConfig(ln.Addr().String(), s.URL, filepath.Join(o.Dir, "institution"), o.DB, s.CAFile, caDir, s.AdminToken,
			o.PeerURL, o.AppKey, o.AppSecret, o.PlatformCode, poll)
		if o.Peer != nil {
			o.Peer(&cfg.Platforms[0].Peer)
		}
		if s.Institution, err = institution.New(runCtx, cfg, institution.WithLogger(logger)); err == nil {
			h, run = s.Institution.Handler(), s.Institution.Run
		}
	}
	if err != nil {
		cancel()
		ln.Close()
		return nil, err
	}
	if o.Wrap != nil {
		h = o.Wrap(h)
	}
	s.srv = service.NewServer(h, logger)
	s.done = make(chan struct{})
	go s.srv.Serve(ln)
	go func() { defer close(s.done); run(runCtx) }()
	return s, nil
}

// Close stops the service.
func (s *Side) Close() error {
	s.cancel()
	s.srv.Close()
	<-s.done
	if s.Platform != nil {
		return s.Platform.Close()
	}
	return s.Institution.Close()
}
