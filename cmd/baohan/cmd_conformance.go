package main

import (
	"context"
	"flag"
	"os"

	"github.com/baohan-dev/baohan/conformance"
	"github.com/baohan-dev/baohan/internal/cli"
	"github.com/baohan-dev/baohan/protocol"
)

var conformanceCommands = []cli.Command{{
	Name:  "conformance platform",
	Flags: conformanceFlags(protocol.Platform),
}, {
	Name:  "conformance institution",
	Flags: conformanceFlags(protocol.Institution),
}, {
	Name:  "conformance probe",
	Flags: probeFlags,
}}

// probeFlags are the flags of conformance probe.
func probeFlags(env *Env, fs *flag.FlagSet) cli.Action {
	var c conformance.ProbeConfig
	fs.StringVar(&c.URL, "url", "", "base URL of the peer (interfaces at URL/<name>)")
	fs.StringVar(&c.AppKey, "appkey", "", "the appkey of the pair")
	fs.StringVar(&c.AppSecret, "appsecret", "", "its appsecret; default $BAOHAN_APPSECRET")
	fs.StringVar(&c.PlatformCode, "platformcode", "", "platformcode sent to an institution")
	fs.StringVar(&c.ApplyNo, "applyno", "", "an applyno the platform knows: its downloadpublickey shows the key's form")
	side := fs.String("side", "", "platform or institution (default: found out)")
	asJSON := fs.Bool("json", false, "write the report as JSON on stdout")
	return func(ctx context.Context, _ []string) error {
		if c.AppSecret == "" {
			c.AppSecret = os.Getenv("BAOHAN_APPSECRET")
		}
		c.Side = protocol.Side(*side)
		rep, err := conformance.Probe(ctx, c)
		if err != nil {
			return err
		}
		return writeReport(env.Stdout, *asJSON, rep)
	}
}

// conformanceFlags are the flags of the kit testing side.
func conformanceFlags(side protocol.Side) func(env *Env, fs *flag.FlagSet) cli.Action {
	return func(env *Env, fs *flag.FlagSet) cli.Action {
		s := conformance.Setup{Kit: conformance.Kit{Side: side}}
		k, cfg := &s.Kit, &s.Kit.Config
		fs.StringVar(&cfg.URL, "url", "", "base URL of the "+string(side)+" under test (interfaces at URL/<name>)")
		fs.StringVar(&cfg.AppKey, "appkey", "", "the appkey the platform issued to the institution")
		fs.StringVar(&cfg.AppSecret, "appsecret", "", "its appsecret (signs both ways); default $BAOHAN_APPSECRET, which keeps it out of the process list")
		fs.StringVar(&cfg.PlatformCode, "platformcode", "", "platformcode: sent by the kit as platform, expected by the kit as institution (empty: any)")
		// the dialect keys of a peer's configuration (docs/PROFILE.md)
		fs.StringVar(&s.Sign, "sign", "sm3", "sign variant, both ways: sm3 | sm3-keep-empty | hmac-sm3 | md5")
		fs.StringVar(&s.Encoding, "encoding", "base64", "binary fields, both ways: base64 | hex")
		fs.StringVar(&s.SM2Layout, "sm2-layout", "c1c3c2", "SM2 ciphertext layout: c1c3c2 | c1c2c3 | asn1 | auto")
		fs.StringVar(&s.FileDigest, "file-digest", "sm3", "baohanfilemd5: sm3 | md5 | sm3-ciphertext | md5-ciphertext | auto")
		fs.StringVar(&s.Revision, "revision", "envelope", "interface revision, both ways: envelope | flat (EXTENSIONS.md §2)")
		fs.IntVar(&cfg.Profile.ChunkSize, "chunk-size", conformance.DefaultChunkSize, "largest chunk the kit uploads, bytes (smaller when the file is small)")
		fs.IntVar(&s.MaxChunkSize, "max-chunk-size", 8<<20, "largest chunk the kit accepts when it plays the platform, bytes")
		fs.IntVar(&s.IndexBase, "index-base", 1, "first chunk index the kit sends: 1 or 0")
		fs.DurationVar(&cfg.Profile.Window, "window", protocol.DefaultTimestampWindow, "the implementation's timestamp window")
		fs.StringVar(&s.Extensions, "extensions", "", "optional interfaces the implementation enables for the kit's appkey, comma-separated: claimsresultnotice,claimsrepaynotice")
		fs.StringVar(&s.Listen, "listen", "127.0.0.1:0", "address of the kit's endpoint for the implementation's calls")
		fs.StringVar(&s.PublicURL, "public-url", "", "URL at which the implementation reaches the kit (default http(s)://<listen address>)")
		fs.StringVar(&s.TLSCert, "tls-cert", "", "serve the kit's endpoint over HTTPS with this PEM certificate chain (with --tls-key)")
		fs.StringVar(&s.TLSKey, "tls-key", "", "the PEM private key of --tls-cert")
		fs.DurationVar(&k.Wait, "wait", 0, "how long to wait for each call of the implementation (default 2m, 15m with manual steps)")
		asJSON := fs.Bool("json", false, "write the report as JSON on stdout")
		allowSkip := fs.Bool("allow-skip", false, "exit 0 even when checks were skipped (a step the driver cannot do)")
		fs.StringVar(&k.AdminURL, "admin-url", "", "base URL of a baohan "+string(side)+"'s admin API, to drive it without a person")
		fs.StringVar(&k.AdminToken, "admin-token", "", "bearer token of that admin API")
		fs.StringVar(&s.BidderDir, "bidder-dir", "", "directory with the bidder's NAME.key.pem and NAME.cert.pem (baohan ca issue --role bidder)")
		fs.StringVar(&s.Bidder, "bidder", "", "the bidder's file name in --bidder-dir")
		if side == protocol.Platform {
			fs.StringVar(&s.SealDir, "seal-dir", "", "directory with the institution seal's NAME.key.pem and NAME.cert.pem, from a CA the platform trusts")
			fs.StringVar(&s.Seal, "seal", "", "the seal's file name in --seal-dir")
			fs.StringVar(&k.Institution, "institution", "", "the name under which the platform knows the kit (default: found by appkey)")
		} else {
			fs.StringVar(&k.Driver, "driver", "", "who does the bidder's steps: manual (a person) or baohan (the bidder API of a baohan institution); default baohan with --admin-url, else manual")
			fs.StringVar(&s.TrustRoots, "trust-roots", "", "PEM file of the CAs the institution's seals must chain to (default: integrity only)")
		}
		return func(ctx context.Context, _ []string) error {
			rep, err := s.Run(ctx, env.Stderr)
			if err != nil {
				return err
			}
			if err := writeReport(env.Stdout, *asJSON, rep); err != nil {
				return err
			}
			return cli.ExitIf(!rep.Passed(*allowSkip))
		}
	}
}
