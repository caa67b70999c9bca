package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/conformance"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/pki"
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
	fs := newFlags(env, commands["conformance "+string(side)])
	k := conformance.Kit{Side: side}
	cfg := &k.Config
	fs.StringVar(&cfg.URL, "url", "", "base URL of the "+string(side)+" under test (interfaces at URL/<name>)")
	fs.StringVar(&cfg.AppKey, "appkey", "", "the appkey the platform issued to the institution")
	fs.StringVar(&cfg.AppSecret, "appsecret", "", "its appsecret (signs both ways); default $BAOHAN_APPSECRET, which keeps it out of the process list")
	fs.StringVar(&cfg.PlatformCode, "platformcode", "", "platformcode: sent by the kit as platform, expected by the kit as institution (empty: any)")
	layout := fs.String("sm2-layout", "c1c3c2", "SM2 ciphertext layout: c1c3c2 | c1c2c3 | asn1")
	digest := fs.String("file-digest", "sm3", "baohanfilemd5 the kit sends: sm3 | md5")
	fs.IntVar(&cfg.Profile.ChunkSize, "chunk-size", conformance.DefaultChunkSize, "largest chunk the kit uploads, bytes (smaller when the file is small)")
	indexBase := fs.Int("index-base", 1, "first chunk index the kit sends: 1 or 0")
	fs.DurationVar(&cfg.Profile.Window, "window", protocol.DefaultTimestampWindow, "the implementation's timestamp window")
	extensions := fs.String("extensions", "", "optional interfaces the implementation enables for the kit's appkey, comma-separated: claimsresultnotice,claimsrepaynotice")
	listen := fs.String("listen", "127.0.0.1:0", "address of the kit's endpoint for the implementation's calls")
	publicURL := fs.String("public-url", "", "URL at which the implementation reaches the kit (default http(s)://<listen address>)")
	tlsCert := fs.String("tls-cert", "", "serve the kit's endpoint over HTTPS with this PEM certificate chain (with --tls-key)")
	tlsKey := fs.String("tls-key", "", "the PEM private key of --tls-cert")
	fs.DurationVar(&k.Wait, "wait", 0, "how long to wait for each call of the implementation (default 2m, 15m with manual steps)")
	asJSON := fs.Bool("json", false, "write the report as JSON on stdout")
	allowSkip := fs.Bool("allow-skip", false, "exit 0 even when checks were skipped (a step the driver cannot do)")
	fs.StringVar(&k.AdminURL, "admin-url", "", "base URL of a baohan "+string(side)+"'s admin API, to drive it without a person")
	fs.StringVar(&k.AdminToken, "admin-token", "", "bearer token of that admin API")
	bidderDir := fs.String("bidder-dir", "", "directory with the bidder's NAME.key.pem and NAME.cert.pem (baohan ca issue --role bidder)")
	bidderName := fs.String("bidder", "", "the bidder's file name in --bidder-dir")
	var sealDir, sealName, trustRoots string
	if side == protocol.Platform {
		fs.StringVar(&sealDir, "seal-dir", "", "directory with the institution seal's NAME.key.pem and NAME.cert.pem, from a CA the platform trusts")
		fs.StringVar(&sealName, "seal", "", "the seal's file name in --seal-dir")
		fs.StringVar(&k.Institution, "institution", "", "the name under which the platform knows the kit (default: found by appkey)")
	} else {
		fs.StringVar(&k.Driver, "driver", "", "who does the bidder's steps: manual (a person) or baohan (the bidder API of a baohan institution); default baohan with --admin-url, else manual")
		fs.StringVar(&trustRoots, "trust-roots", "", "PEM file of the CAs the institution's seals must chain to (default: integrity only)")
	}
	if err := parseNone(fs, args); err != nil {
		return err
	}
	if cfg.AppSecret == "" {
		cfg.AppSecret = os.Getenv("BAOHAN_APPSECRET")
	}
	var missing []string
	for _, f := range [][2]string{{"--appkey", cfg.AppKey}, {"--appsecret (or BAOHAN_APPSECRET)", cfg.AppSecret}, {"--url", cfg.URL}} {
		if f[1] == "" {
			missing = append(missing, f[0])
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s required", strings.Join(missing, ", "))
	}
	var err error
	if cfg.Profile.SM2Layout, err = gm.ParseCipherLayout(*layout); err != nil {
		return fmt.Errorf("--sm2-layout: %w", err)
	}
	if cfg.Profile.FileDigest, err = gm.ParseDigestAlg(*digest); err != nil {
		return fmt.Errorf("--file-digest: %w", err)
	}
	if *indexBase != 0 && *indexBase != 1 {
		return fmt.Errorf("--index-base must be 0 or 1, got %d", *indexBase)
	}
	cfg.Profile.ZeroBasedIndex = *indexBase == 0
	for _, name := range strings.Split(*extensions, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		i, ok := protocol.Lookup(name)
		if !ok || !i.Optional() {
			return fmt.Errorf("--extensions: %q is not an optional interface (claimsresultnotice, claimsrepaynotice)", name)
		}
		cfg.Extensions = append(cfg.Extensions, i)
	}
	switch {
	case (k.AdminURL == "") != (k.AdminToken == ""):
		return errors.New("--admin-url and --admin-token go together")
	case (*bidderDir == "") != (*bidderName == ""):
		return errors.New("--bidder-dir and --bidder go together")
	case (sealDir == "") != (sealName == ""):
		return errors.New("--seal-dir and --seal go together")
	case (*tlsCert == "") != (*tlsKey == ""):
		return errors.New("--tls-cert and --tls-key go together")
	case k.Driver != "" && k.Driver != "manual" && k.Driver != "baohan":
		return fmt.Errorf("--driver must be manual or baohan, got %q", k.Driver)
	}
	if *bidderDir != "" {
		id, err := pki.LoadIdentity(*bidderDir, *bidderName)
		if err != nil {
			return fmt.Errorf("--bidder: %w", err)
		}
		k.Bidder = conformance.BidderFromIdentity(id)
	}
	if side == protocol.Platform && k.AdminURL != "" && k.Bidder == nil {
		return errors.New("--admin-url needs --bidder-dir and --bidder: a bidder whose CA the platform trusts (baohan ca issue --role bidder)")
	}
	if sealDir != "" {
		id, err := pki.LoadIdentity(sealDir, sealName)
		if err != nil {
			return fmt.Errorf("--seal: %w", err)
		}
		if k.Guarantee, err = conformance.SealedGuarantee(id); err != nil {
			return err
		}
	}
	if trustRoots != "" {
		roots, err := gm.LoadTrustRoots(trustRoots)
		if err != nil {
			return fmt.Errorf("--trust-roots: %w", err)
		}
		cfg.TrustRoots = roots.Certificates()
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
	cfg.Out = env.Stderr
	rep, err := k.Run(ctx, ln)
	if err != nil {
		return err
	}
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
