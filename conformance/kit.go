package conformance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/service"
)

// Kit is a whole conformance run as `baohan conformance` makes it: the
// suite for one side, the driver that makes the implementation act, and
// the kit's endpoint for the implementation's calls.
type Kit struct {
	// Side is the side under test.
	Side protocol.Side
	// Config says what to test and how to reach it. Config.ListenURL is
	// required: the URL at which the implementation reaches the kit's
	// endpoint. Config.Out receives the instructions and a progress line
	// per check.
	Config Config
	// AdminURL and AdminToken are the admin API of a baohan platform or
	// institution: with them the kit drives it without a person.
	AdminURL, AdminToken string
	// Bidder is the bidder the kit applies as. Testing a platform through
	// its admin API it is required (a bidder whose CA the platform
	// trusts); testing an institution, the kit makes one when nil.
	Bidder *Bidder
	// Guarantee makes the guarantees the kit issues as the institution
	// (platform tests); nil: DefaultGuarantee.
	Guarantee GuaranteeMaker
	// Institution is the name under which the platform knows the kit
	// (platform tests through the admin API; empty: found by appkey).
	Institution string
	// Driver does the bidder's steps at an institution under test:
	// "manual" (a person, following printed instructions; the bidder's
	// key and certificate are written to a new directory for them) or
	// "baohan" (the bidder API of a baohan institution). Empty: baohan
	// with AdminURL, else manual.
	Driver string
	// Wait bounds each wait for a call of the implementation; 0: 2
	// minutes, 15 with a person doing the steps.
	Wait time.Duration
}

// Run serves the kit's endpoint on ln, runs the suite and returns its
// report. The endpoint is closed when Run returns.
func (k Kit) Run(ctx context.Context, ln net.Listener) (*Report, error) {
	cfg := k.Config
	if cfg.ListenURL == "" {
		return nil, errors.New("conformance: the kit's listen URL is required")
	}
	suite, err := k.suite(&cfg)
	if err != nil {
		return nil, err
	}
	srv := service.NewServer(suite.Handler(), slog.New(slog.DiscardHandler))
	go srv.Serve(ln)
	defer srv.Close()
	info := cfg.Out
	fmt.Fprintf(info, "baohan conformance: testing the %s at %s\n", k.Side, cfg.URL)
	fmt.Fprintf(info, "the kit plays the %s; its endpoint is %s/<interface>\n", k.Side.Other(), cfg.ListenURL)
	fmt.Fprintf(info, "→ set %s as the base URL of the %s with appkey %s in your %s\n", cfg.ListenURL, k.Side.Other(), cfg.AppKey, k.Side)
	fmt.Fprintf(info, "%d checks\n\n", len(suite.Checks()))
	suite.SetProgress(func(r Result) {
		fmt.Fprintf(info, "  %-4s %-44s %s\n", strings.ToUpper(string(r.Status)), r.ID, clipLine(r.Got, 100))
	})
	rep := suite.Run(ctx)
	fmt.Fprintln(info)
	return rep, nil
}

// suite makes the suite and its driver.
func (k Kit) suite(cfg *Config) (*Suite, error) {
	manual := false
	if k.Side == protocol.Platform {
		var drv PlatformDriver
		if k.AdminURL != "" {
			if k.Bidder == nil {
				return nil, errors.New("conformance: driving a platform through its admin API needs a bidder whose CA the platform trusts")
			}
			drv = &AdminPlatform{URL: k.AdminURL, Token: k.AdminToken, AppKey: cfg.AppKey, Institution: k.Institution, Bidder: k.Bidder}
		} else {
			drv, manual = ManualPlatform{Out: cfg.Out, ListenURL: cfg.ListenURL}, true
		}
		if k.Bidder != nil {
			cfg.Bidder = k.Bidder
		}
		cfg.Wait = k.wait(manual)
		return NewPlatformSuite(*cfg, drv, k.Guarantee)
	}
	d := k.Driver
	if d == "" {
		d = "manual"
		if k.AdminURL != "" {
			d = "baohan"
		}
	}
	bidder := k.Bidder
	if bidder == nil {
		var err error
		if bidder, err = NewTestBidder("一致性测试投标人有限公司"); err != nil {
			return nil, err
		}
	}
	var drv InstitutionDriver
	switch d {
	case "baohan":
		drv = BidderAPI{AdminURL: k.AdminURL, AdminToken: k.AdminToken}
	case "manual":
		dir, err := writeBidder(bidder)
		if err != nil {
			return nil, err
		}
		drv, manual = ManualInstitution{Out: cfg.Out, BidderDir: dir}, true
	default:
		return nil, fmt.Errorf("conformance: the driver must be manual or baohan, got %q", d)
	}
	cfg.Wait = k.wait(manual)
	return NewInstitutionSuite(*cfg, drv, bidder, nil)
}

func (k Kit) wait(manual bool) time.Duration {
	switch {
	case k.Wait > 0:
		return k.Wait
	case manual:
		return 15 * time.Minute
	}
	return 2 * time.Minute
}

// writeBidder writes the kit's bidder to a new directory, for a person
// who drives the institution's bidder steps by hand.
func writeBidder(b *Bidder) (string, error) {
	dir, err := os.MkdirTemp("", "baohan-conformance-bidder-")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "bidder.key.pem"), b.KeyPEM, 0o600); err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "bidder.cert.pem"), b.CertPEM, 0o644)
}

// clipLine is s on one line, cut to n characters.
func clipLine(s string, n int) string {
	s = oneLine(s)
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
