package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/baohan-dev/baohan/config"
)

// What `baohan platform serve|check` and `baohan institution serve|check`
// share: the command-line settings over a configuration, the logger, the
// start of a service and the report of its check.

// Overrides are settings given on the command line, each of which, when
// set, replaces the configuration's.
type Overrides struct {
	Addr, DataDir, DB, TLSCert, TLSKey, Prefix, PublicURL string
	// TrustRoots is a comma-separated list of PEM files; it replaces
	// trust_roots.
	TrustRoots string
	// Plain serves plain HTTP; TLSCert and TLSKey given without it turn
	// plain HTTP off.
	Plain bool
}

// Apply sets the overrides in c.
func (o Overrides) Apply(c *config.Common) {
	for _, s := range []struct {
		dst *string
		v   string
	}{
		{&c.Listen.Addr, o.Addr}, {&c.Storage.DataDir, o.DataDir}, {&c.Storage.DB, o.DB}, {&c.Listen.TLSCert, o.TLSCert},
		{&c.Listen.TLSKey, o.TLSKey}, {&c.Listen.Prefix, o.Prefix}, {&c.Listen.PublicURL, o.PublicURL},
	} {
		if s.v != "" {
			*s.dst = s.v
		}
	}
	if o.Plain {
		c.Listen.Plain = true
	}
	if o.TrustRoots != "" {
		c.TrustRoots = nil
		for _, p := range strings.Split(o.TrustRoots, ",") {
			if p = strings.TrimSpace(p); p != "" {
				c.TrustRoots = append(c.TrustRoots, p)
			}
		}
	}
	if o.TLSCert != "" && o.TLSKey != "" && !o.Plain {
		c.Listen.Plain = false
	}
}

// Embedded fills the address and the data directory the embedded
// defaults of service name (platform, institution) take when not given,
// and refuses plain HTTP beyond loopback unless asked for (Plain) or
// given a certificate: its error names the command-line flags.
func (o *Overrides) Embedded(name, defaultAddr string) error {
	if o.Addr == "" {
		o.Addr = defaultAddr
	}
	if o.DataDir == "" {
		o.DataDir = "baohan-" + name
	}
	if !o.Plain && o.TLSCert == "" && !Loopback(o.Addr) {
		return fmt.Errorf("the embedded defaults serve plain HTTP on loopback only; %s is not loopback: pass --plain to serve plain HTTP there anyway, --tls-cert and --tls-key, or use --config", o.Addr)
	}
	return nil
}

// Loopback reports whether addr's host is a loopback address or name.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NewLogger logs at level (debug, info, warn or error) to w, as text or
// as JSON lines.
func NewLogger(w io.Writer, level string, asJSON bool) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: l}
	if asJSON {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// Runner is a service to serve: platform.Service, institution.Service.
type Runner interface {
	Run(ctx context.Context) error
	Close() error
}

// Starting is what RunUntilDone serves.
type Starting struct {
	Name   string // platform | institution, in the banner
	Config *config.Common
	Logger *slog.Logger // also the default logger meanwhile (migrations log to it)
	Out    io.Writer    // the admin token made on first start, the banner
	// ListenerURL: the public URL is the listener's (the embedded
	// defaults). A configuration's is never guessed from the listen
	// address (0.0.0.0:8443 is no address a browser uses), except that a
	// port 0 in it is the one bound.
	ListenerURL bool
	// Start builds the service and the handler to serve once the
	// listener is bound (the public URL final); url is where it serves.
	// A service it returns with an error is closed. The banner, once the
	// service runs, names its routes (the console's too, which h mounts)
	// and ends with more.
	Start func(ctx context.Context, url string) (svc Runner, h http.Handler, more string, err error)
}

// RunUntilDone gives the configuration an admin token (EnsureAdminToken),
// opens its listener, starts the service and serves it until ctx ends,
// then stops it.
func RunUntilDone(ctx context.Context, s Starting) error {
	c := s.Config
	if err := EnsureAdminToken(c, s.Out); err != nil {
		return err
	}
	ln, url, err := Listen(c.Listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	if strings.HasSuffix(c.Listen.PublicURL, ":0") || (c.Listen.PublicURL == "" && s.ListenerURL) {
		c.Listen.PublicURL = url
	}
	prev := slog.Default()
	slog.SetDefault(s.Logger)
	defer slog.SetDefault(prev)
	svc, h, more, err := s.Start(ctx, url)
	if svc != nil {
		defer svc.Close()
	}
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	fmt.Fprintf(s.Out, "%s serving at %s (interfaces at %s%s/<name>, console at %s/console/, admin API at %s/api/ described at %s/api/openapi.json, metrics at %s/metrics)%s\n",
		s.Name, url, url, strings.TrimRight(c.Listen.Prefix, "/"), url, url, url, url, more)
	err = Serve(ctx, ln, h, s.Logger)
	cancel()
	if rerr := <-done; err == nil {
		err = rerr
	}
	return err
}

// CheckAndPrint runs the checks of in (Check), prints them
// (PrintFindings) and returns the failed ones as one error.
func CheckAndPrint(ctx context.Context, w io.Writer, in CheckInput) error {
	fs := Check(ctx, in)
	PrintFindings(w, fs)
	var failed []string
	for _, f := range fs {
		if f.Level == Fail {
			failed = append(failed, f.What+": "+f.Detail)
		}
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "; "))
	}
	return nil
}
