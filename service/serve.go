// Package service is the core both services (package platform, package
// institution) are built on, so that they run, are configured and are
// operated alike:
//
//   - Open (core.go) builds a Core from config.Common and the peers: the
//     trust roots loaded once, the admin token, the store and master key,
//     the migrations (Schema), the blob store, the metrics registry, the
//     message log, the replay guard, the inbound pipeline
//     (transport.Server), the signing client and the outbox dispatcher.
//     The service adds its interfaces, deliveries and routes.
//   - Core.Handler (http.go, api.go) serves what both serve: /healthz,
//     /readyz, /metrics, /api/openapi.json (openapi.json: both services'
//     routes, x-baohan-services naming who serves which) and the admin
//     API's message log and outbox behind the bearer token.
//   - Check (check.go) is `baohan <service> check`.
//   - Listen and Serve (serve.go): TLS and graceful shutdown.
//
// It imports neither platform nor institution.
package service

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/baohan-dev/baohan/config"
)

// TLSConfig is the server TLS configuration: TLS 1.2 and 1.3 only, AEAD
// cipher suites with forward secrecy, server cipher preference.
func TLSConfig(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256},
	}, nil
}

// NewServer returns an http.Server with timeouts fit for the protocol:
// bounded headers and idle time; bodies are bounded by the handlers.
func NewServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// Listen opens the listener for l: TLS unless plain HTTP was asked for.
// It returns the listener and the URL it serves at.
func Listen(l config.Listen) (net.Listener, string, error) {
	if err := l.Validate(); err != nil {
		return nil, "", err
	}
	ln, err := net.Listen("tcp", l.Addr)
	if err != nil {
		return nil, "", err
	}
	scheme := "http"
	if !l.Plain {
		tc, err := TLSConfig(l.TLSCert, l.TLSKey)
		if err != nil {
			ln.Close()
			return nil, "", err
		}
		ln = tls.NewListener(ln, tc)
		scheme = "https"
	}
	return ln, scheme + "://" + ln.Addr().String(), nil
}

// Serve serves h on ln until ctx is done, then shuts down gracefully,
// giving requests in flight up to 15 seconds.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	srv := NewServer(h, logger)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
