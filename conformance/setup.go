package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/pki"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/service"
)

// Setup is the kit as `baohan conformance platform|institution` takes
// it: the Kit, with its profile, identities, trust roots and endpoint
// named as on the command line (files, names, addresses). Its errors name
// the command's flags (docs/CONFORMANCE.md).
type Setup struct {
	Kit
	// The dialect keys of a peer's configuration (Profile.SetDialect):
	// sign, encoding, sm2_layout, file_digest, max_chunk_size.
	Sign, Encoding, SM2Layout, FileDigest string
	MaxChunkSize                          int
	// Revision is the interface revision (envelope, the default, or
	// flat), the peer's revision key.
	Revision  string
	IndexBase int // the first chunk index the kit sends: 1 or 0
	// Extensions names the optional interfaces the implementation
	// enables, comma-separated (claimsresultnotice,claimsrepaynotice).
	Extensions string
	// BidderDir and Bidder name the bidder's identity (pki.LoadIdentity),
	// SealDir and Seal the institution seal's (platform tests).
	BidderDir, Bidder, SealDir, Seal string
	// TrustRoots is a PEM file of the CAs the institution's seals must
	// chain to (institution tests).
	TrustRoots string
	// Listen is the address of the kit's endpoint, over HTTPS with
	// TLSCert and TLSKey; PublicURL is where the implementation reaches
	// it (default the listener's URL).
	Listen, PublicURL, TLSCert, TLSKey string
}

// Run checks the setup, fills the Kit from it (the secret from
// $BAOHAN_APPSECRET when not given), listens, runs the suite with its
// progress on out and returns the report.
func (s *Setup) Run(ctx context.Context, out io.Writer) (*Report, error) {
	k, cfg := &s.Kit, &s.Kit.Config
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
		return nil, fmt.Errorf("%s required", strings.Join(missing, ", "))
	}
	if err := cfg.Profile.SetDialect(Dialect{Sign: s.Sign, Encoding: s.Encoding, SM2Layout: s.SM2Layout, FileDigest: s.FileDigest,
		MaxChunkSize: s.MaxChunkSize, Revision: s.Revision}); err != nil {
		return nil, err
	}
	if s.IndexBase != 0 && s.IndexBase != 1 {
		return nil, fmt.Errorf("--index-base must be 0 or 1, got %d", s.IndexBase)
	}
	cfg.Profile.ZeroBasedIndex = s.IndexBase == 0
	for _, name := range strings.Split(s.Extensions, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		i, ok := protocol.Lookup(name)
		if !ok || !i.Optional() {
			return nil, fmt.Errorf("--extensions: %q is not an optional interface (claimsresultnotice, claimsrepaynotice)", name)
		}
		cfg.Extensions = append(cfg.Extensions, i)
	}
	switch {
	case (k.AdminURL == "") != (k.AdminToken == ""):
		return nil, errors.New("--admin-url and --admin-token go together")
	case (s.BidderDir == "") != (s.Bidder == ""):
		return nil, errors.New("--bidder-dir and --bidder go together")
	case (s.SealDir == "") != (s.Seal == ""):
		return nil, errors.New("--seal-dir and --seal go together")
	case (s.TLSCert == "") != (s.TLSKey == ""):
		return nil, errors.New("--tls-cert and --tls-key go together")
	case k.Driver != "" && k.Driver != "manual" && k.Driver != "baohan":
		return nil, fmt.Errorf("--driver must be manual or baohan, got %q", k.Driver)
	}
	if s.BidderDir != "" {
		id, err := pki.LoadIdentity(s.BidderDir, s.Bidder)
		if err != nil {
			return nil, fmt.Errorf("--bidder: %w", err)
		}
		k.Bidder = BidderFromIdentity(id)
	}
	if k.Side == protocol.Platform && k.AdminURL != "" && k.Bidder == nil {
		return nil, errors.New("--admin-url needs --bidder-dir and --bidder: a bidder whose CA the platform trusts (baohan ca issue --role bidder)")
	}
	if s.SealDir != "" {
		id, err := pki.LoadIdentity(s.SealDir, s.Seal)
		if err != nil {
			return nil, fmt.Errorf("--seal: %w", err)
		}
		if k.Guarantee, err = SealedGuarantee(id); err != nil {
			return nil, err
		}
	}
	if s.TrustRoots != "" {
		roots, err := gm.LoadTrustRoots(s.TrustRoots)
		if err != nil {
			return nil, fmt.Errorf("--trust-roots: %w", err)
		}
		cfg.TrustRoots = roots.Certificates()
	}
	ln, url, err := service.Listen(config.Listen{Addr: s.Listen, Plain: s.TLSCert == "", TLSCert: s.TLSCert, TLSKey: s.TLSKey})
	if err != nil {
		return nil, fmt.Errorf("--listen: %w", err)
	}
	defer ln.Close()
	cfg.ListenURL = strings.TrimRight(s.PublicURL, "/")
	if cfg.ListenURL == "" {
		cfg.ListenURL = url
	}
	cfg.Out = out
	return k.Run(ctx, ln)
}
