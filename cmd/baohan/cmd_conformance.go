package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/conformance"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/gm/testca"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/service"
)

func init() {
	register(&command{
		Name:    "conformance platform",
		Summary: "test someone's platform: the kit plays the institution, calls the platform's 7 interfaces and receives its calls",
		Usage: "conformance platform --url URL --appkey K --appsecret S [--platformcode P] [--listen ADDR] [--public-url URL]\n" +
			"         [--admin-url URL --admin-token T --bidder-dir DIR --bidder NAME] [--seal-dir DIR --seal NAME] [--json]\n\n" +
			"The kit listens for the platform's calls (baohanapply, baohanrestore, ...) at the URL it prints: set it as\n" +
			"this institution's base URL in the platform. It needs applications from the platform: it prints what to\n" +
			"do and waits, or, given the admin API of a baohan platform (--admin-url, --admin-token) and a bidder the\n" +
			"platform trusts (--bidder-dir, --bidder), makes them itself. Prints a table of checks (expected, got,\n" +
			"pass/fail) with the raw exchanges of each failure; exit 0 only when every check passes.",
		Run: func(ctx context.Context, env *Env, args []string) error {
			return runConformance(ctx, env, args, protocol.Platform)
		},
	})
	register(&command{
		Name:    "conformance institution",
		Summary: "test someone's institution: the kit plays the platform, sends applications and receives the institution's calls",
		Usage: "conformance institution --url URL --appkey K --appsecret S [--platformcode P] [--listen ADDR] [--public-url URL]\n" +
			"         [--driver manual|baohan] [--admin-url URL --admin-token T] [--bidder-dir DIR --bidder NAME] [--trust-roots FILE] [--json]\n\n" +
			"The kit listens for the institution's calls (baohannotice, downloadpublickey, uploadbaohanfile, ...) at the\n" +
			"URL it prints: set it as this platform's base URL in the institution. The bidder's steps at the institution\n" +
			"(open the envelope, sign, pay) are done by a person following the printed instructions (--driver manual) or,\n" +
			"for a baohan institution, through its bidder API (--driver baohan). Exit 0 only when every check passes.",
		Run: func(ctx context.Context, env *Env, args []string) error {
			return runConformance(ctx, env, args, protocol.Institution)
		},
	})
}

func runConformance(ctx context.Context, env *Env, args []string, side protocol.Side) error {
	c := commands["conformance "+string(side)]
	fs := newFlags(env, c)
	target := fs.String("url", "", "base URL of the "+string(side)+" under test (interfaces at URL/<name>)")
	appKey := fs.String("appkey", "", "the appkey the platform issued to the institution")
	appSecret := fs.String("appsecret", "", "its appsecret (signs both ways); default $BAOHAN_APPSECRET, which keeps it out of the process list")
	platCode := fs.String("platformcode", "", "platformcode: sent by the kit as platform, expected by the kit as institution (empty: any)")
	layout := fs.String("sm2-layout", "c1c3c2", "SM2 ciphertext layout: c1c3c2 | c1c2c3 | asn1")
	digest := fs.String("file-digest", "sm3", "baohanfilemd5 the kit sends: sm3 | md5")
	chunkSize := fs.Int("chunk-size", conformance.DefaultChunkSize, "largest chunk the kit uploads, bytes (smaller when the file is small)")
	indexBase := fs.Int("index-base", 1, "first chunk index the kit sends: 1 or 0")
	window := fs.Duration("window", protocol.DefaultTimestampWindow, "the implementation's timestamp window")
	listen := fs.String("listen", "127.0.0.1:0", "address of the kit's endpoint for the implementation's calls")
	publicURL := fs.String("public-url", "", "URL at which the implementation reaches the kit (default http(s)://<listen address>)")
	tlsCert := fs.String("tls-cert", "", "serve the kit's endpoint over HTTPS with this PEM certificate chain (with --tls-key)")
	tlsKey := fs.String("tls-key", "", "the PEM private key of --tls-cert")
	wait := fs.Duration("wait", 0, "how long to wait for each call of the implementation (default 2m, 15m with manual steps)")
	asJSON := fs.Bool("json", false, "write the report as JSON on stdout")
	allowSkip := fs.Bool("allow-skip", false, "exit 0 even when checks were skipped (a step the driver cannot do)")
	adminURL := fs.String("admin-url", "", "base URL of a baohan "+string(side)+"'s admin API, to drive it without a person")
	adminToken := fs.String("admin-token", "", "bearer token of that admin API")
	bidderDir := fs.String("bidder-dir", "", "directory with the bidder's NAME.key.pem and NAME.cert.pem (baohan ca issue --role bidder)")
	bidderName := fs.String("bidder", "", "the bidder's file name in --bidder-dir")
	var sealDir, sealName, driver, institutionName, trustRoots *string
	if side == protocol.Platform {
		sealDir = fs.String("seal-dir", "", "directory with the institution seal's NAME.key.pem and NAME.cert.pem, from a CA the platform trusts")
		sealName = fs.String("seal", "", "the seal's file name in --seal-dir")
		institutionName = fs.String("institution", "", "the name under which the platform knows the kit (default: found by appkey)")
	} else {
		driver = fs.String("driver", "", "who does the bidder's steps: manual (a person) or baohan (the bidder API of a baohan institution); default baohan with --admin-url, else manual")
		trustRoots = fs.String("trust-roots", "", "PEM file of the CAs the institution's seals must chain to (default: integrity only)")
	}
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	if *appSecret == "" {
		*appSecret = os.Getenv("BAOHAN_APPSECRET")
	}
	var missing []string
	for name, v := range map[string]string{"--url": *target, "--appkey": *appKey, "--appsecret (or BAOHAN_APPSECRET)": *appSecret} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s required", strings.Join(sortedStrings(missing), ", "))
	}
	cfg := conformance.Config{URL: *target, AppKey: *appKey, AppSecret: *appSecret, PlatformCode: *platCode}
	if cfg.Profile.SM2Layout, err = gm.ParseCipherLayout(*layout); err != nil {
		return fmt.Errorf("--sm2-layout: %w", err)
	}
	if cfg.Profile.FileDigest, err = gm.ParseDigestAlg(*digest); err != nil {
		return fmt.Errorf("--file-digest: %w", err)
	}
	if *indexBase != 0 && *indexBase != 1 {
		return fmt.Errorf("--index-base must be 0 or 1, got %d", *indexBase)
	}
	cfg.Profile.ChunkSize, cfg.Profile.ZeroBasedIndex, cfg.Profile.Window = *chunkSize, *indexBase == 0, *window
	if (*adminURL == "") != (*adminToken == "") {
		return errors.New("--admin-url and --admin-token go together")
	}
	var bidder *conformance.Bidder
	if *bidderDir != "" || *bidderName != "" {
		if *bidderDir == "" || *bidderName == "" {
			return errors.New("--bidder-dir and --bidder go together")
		}
		id, err := testca.LoadIdentity(*bidderDir, *bidderName)
		if err != nil {
			return fmt.Errorf("--bidder: %w", err)
		}
		id.Name = id.Cert.Subject.CommonName
		bidder = conformance.BidderFromIdentity(id)
	}

	// The kit's endpoint.
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	ln, url, err := service.Listen(config.Listen{Addr: *listen, Plain: *tlsCert == "", TLSCert: *tlsCert, TLSKey: *tlsKey})
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	defer ln.Close()
	cfg.ListenURL = strings.TrimRight(*publicURL, "/")
	if cfg.ListenURL == "" {
		cfg.ListenURL = url
	}
	info := env.Stderr
	cfg.Out = info

	var suite *conformance.Suite
	manual := false
	if side == protocol.Platform {
		var drv conformance.PlatformDriver
		if *adminURL != "" {
			if bidder == nil {
				return errors.New("--admin-url needs --bidder-dir and --bidder: a bidder whose CA the platform trusts (baohan ca issue --role bidder)")
			}
			drv = &conformance.AdminPlatform{URL: *adminURL, Token: *adminToken, AppKey: *appKey, Institution: *institutionName, Bidder: bidder}
		} else {
			drv, manual = conformance.ManualPlatform{Out: info, ListenURL: cfg.ListenURL}, true
		}
		if bidder != nil {
			cfg.Bidder = bidder
		}
		var mk conformance.GuaranteeMaker
		if *sealDir != "" || *sealName != "" {
			if *sealDir == "" || *sealName == "" {
				return errors.New("--seal-dir and --seal go together")
			}
			id, err := testca.LoadIdentity(*sealDir, *sealName)
			if err != nil {
				return fmt.Errorf("--seal: %w", err)
			}
			id.Name = id.Cert.Subject.CommonName
			if mk, err = conformance.SealedGuarantee(id); err != nil {
				return err
			}
		}
		cfg.Wait = waitFor(*wait, manual)
		if suite, err = conformance.NewPlatformSuite(cfg, drv, mk); err != nil {
			return err
		}
	} else {
		if *trustRoots != "" {
			b, err := os.ReadFile(*trustRoots)
			if err != nil {
				return fmt.Errorf("--trust-roots: %w", err)
			}
			certs, err := gm.ParseCertificates(b)
			if err != nil {
				return fmt.Errorf("--trust-roots %s: %w", *trustRoots, err)
			}
			cfg.TrustRoots = append([]*smx509.Certificate(nil), certs...)
		}
		d := *driver
		if d == "" {
			d = "manual"
			if *adminURL != "" {
				d = "baohan"
			}
		}
		if bidder == nil {
			if bidder, err = conformance.NewTestBidder("一致性测试投标人有限公司"); err != nil {
				return err
			}
		}
		var drv conformance.InstitutionDriver
		switch d {
		case "baohan":
			drv = conformance.BidderAPI{AdminURL: *adminURL, AdminToken: *adminToken}
		case "manual":
			dir, err := writeBidder(bidder)
			if err != nil {
				return err
			}
			drv, manual = conformance.ManualInstitution{Out: info, BidderDir: dir}, true
		default:
			return fmt.Errorf("--driver must be manual or baohan, got %q", d)
		}
		cfg.Wait = waitFor(*wait, manual)
		if suite, err = conformance.NewInstitutionSuite(cfg, drv, bidder, nil); err != nil {
			return err
		}
	}

	srv := service.NewServer(suite.Handler(), slog.New(slog.DiscardHandler))
	go srv.Serve(ln)
	defer srv.Close()
	fmt.Fprintf(info, "baohan conformance: testing the %s at %s\n", side, cfg.URL)
	fmt.Fprintf(info, "the kit plays the %s; its endpoint is %s/<interface>\n", side.Other(), cfg.ListenURL)
	if side == protocol.Platform {
		fmt.Fprintf(info, "→ set %s as the base URL of the institution with appkey %s in your platform\n", cfg.ListenURL, *appKey)
	} else {
		fmt.Fprintf(info, "→ set %s as the base URL of the platform with appkey %s in your institution\n", cfg.ListenURL, *appKey)
	}
	fmt.Fprintf(info, "%d checks\n\n", len(suite.Checks()))
	suite.SetProgress(func(r conformance.Result) {
		fmt.Fprintf(info, "  %-4s %-44s %s\n", strings.ToUpper(string(r.Status)), r.ID, oneLineClip(r.Got, 100))
	})
	rep := suite.Run(ctx)
	fmt.Fprintln(info)
	if *asJSON {
		err = rep.WriteJSON(env.Stdout)
	} else {
		err = rep.WriteTable(env.Stdout)
	}
	if err != nil {
		return err
	}
	if !rep.Passed(*allowSkip) {
		return exitError{Code: 1}
	}
	return nil
}

func waitFor(flagged time.Duration, manual bool) time.Duration {
	switch {
	case flagged > 0:
		return flagged
	case manual:
		return 15 * time.Minute
	}
	return 2 * time.Minute
}

// writeBidder writes the kit's bidder to a new directory, for a person
// who drives the institution's bidder steps by hand.
func writeBidder(b *conformance.Bidder) (string, error) {
	dir, err := os.MkdirTemp("", "baohan-conformance-bidder-")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "bidder.key.pem"), b.KeyPEM, 0o600); err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "bidder.cert.pem"), b.CertPEM, 0o644)
}

func oneLineClip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func sortedStrings(v []string) []string {
	out := append([]string(nil), v...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
