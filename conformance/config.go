package conformance

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/protocol"
)

// Profile holds the PROFILE.md options that vary per peer: what the
// implementation under test expects and sends.
type Profile struct {
	SM2Layout  gm.CipherLayout // SM2 ciphertext layout of envelopes and wrapped keys; default C1C3C2
	FileDigest gm.DigestAlg    // baohanfilemd5 the kit sends: SM3 (default) or MD5
	// ChunkSize is the most encrypted bytes the kit puts in one
	// uploadbaohanfile. The kit uses smaller chunks when the file is
	// small, so that every upload has at least three chunks to reorder.
	ChunkSize int
	// ZeroBasedIndex makes the kit number chunks from 0 instead of the
	// profile's 1.
	ZeroBasedIndex bool
	// Window is the timestamp window of the implementation (default 10
	// minutes): the stale-timestamp checks send timestamps one minute
	// outside it, and the kit refuses calls outside it.
	Window time.Duration

	// Revision is the interface revision (docs/PROFILE.md): envelope
	// (default, "") or flat (EXTENSIONS.md §2): baohanapply with its
	// fields at the top level, baohanrestore with bzjenddate.
	Revision protocol.Revision
	// The dialect (the keys of a peer's configuration, docs/PROFILE.md):
	// the kit signs, encodes and digests as set, and checks that the
	// implementation does.
	Sign       protocol.SignVariant // sign variant, both ways; default sm3
	Encoding   gm.Encoding          // binary fields, both ways; default base64
	DigestOver gm.DigestOver        // what baohanfilemd5 covers, both ways; default the plaintext
	// MaxChunkSize is the largest chunk the kit accepts when it plays the
	// platform (default 8 MiB).
	MaxChunkSize int
}

// Dialect holds the dialect keys as a peer's configuration spells them
// (the flags of baohan conformance): "" is the default of each.
type Dialect struct {
	Sign, Encoding, SM2Layout, FileDigest string
	ChunkSize, MaxChunkSize               int
	// Revision is the interface revision: envelope ("", the default) or
	// flat.
	Revision string
}

// SetDialect parses d into p; errors name the flag of baohan
// conformance (the key with dashes).
func (p *Profile) SetDialect(d Dialect) error {
	var errs []error
	var err error
	if p.Sign, err = protocol.ParseSignVariant(d.Sign); err != nil {
		errs = append(errs, fmt.Errorf("--sign: %w", err))
	}
	if p.Encoding, err = gm.ParseEncoding(d.Encoding); err != nil {
		errs = append(errs, fmt.Errorf("--encoding: %w", err))
	}
	if p.SM2Layout, err = gm.ParseCipherLayout(d.SM2Layout); err != nil {
		errs = append(errs, fmt.Errorf("--sm2-layout: %w", err))
	}
	if p.FileDigest, p.DigestOver, err = gm.ParseFileDigest(d.FileDigest); err != nil {
		errs = append(errs, fmt.Errorf("--file-digest: %w", err))
	}
	if d.ChunkSize != 0 {
		p.ChunkSize = d.ChunkSize
	}
	if d.MaxChunkSize != 0 {
		p.MaxChunkSize = d.MaxChunkSize
	}
	if d.Revision != "" {
		if p.Revision, err = protocol.ParseRevision(d.Revision); err != nil {
			errs = append(errs, fmt.Errorf("--revision: %w", err))
		}
	}
	return errors.Join(errs...)
}

// maxChunk is MaxChunkSize or its default.
func (p Profile) maxChunk() int {
	if p.MaxChunkSize <= 0 {
		return 8 << 20
	}
	return p.MaxChunkSize
}

// decode reads a binary field the implementation sent, strictly in the
// profile's encoding.
func (p Profile) decode(s string) ([]byte, error) {
	if p.Encoding == gm.Hex {
		b, err := hex.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("not hex (encoding hex): %v", err)
		}
		return b, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not standard base64 (encoding base64): %v", err)
	}
	return b, nil
}

// DefaultChunkSize is PROFILE.md's chunk size: 512 KiB.
const DefaultChunkSize = 512 << 10

// Config says what to test and how to reach it.
type Config struct {
	// URL is the base URL of the implementation under test: its
	// interfaces are at URL + "/" + name.
	URL string
	// AppKey and AppSecret are the pair the platform issued to the
	// institution. They sign calls both ways.
	AppKey, AppSecret string
	// PlatformCode is the platformcode: the kit sends it when it plays the
	// platform and expects it when it plays the institution ("" accepts any).
	PlatformCode string
	Profile      Profile
	// Extensions are the optional interfaces (protocol.Extensions:
	// claimsresultnotice, claimsrepaynotice) the implementation enables
	// for the kit's appkey. Their checks run only when listed; a platform
	// that lists none is checked to refuse them.
	Extensions []protocol.Interface

	// ListenURL is the URL at which the implementation reaches the kit's
	// own endpoint (Suite.Handler), shown in instructions and reports.
	ListenURL string

	// HTTPClient makes the kit's calls; nil: a client with a 30s timeout.
	HTTPClient *http.Client
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Wait bounds each wait for a call of the implementation (default 2
	// minutes).
	Wait time.Duration
	// Settle is how long the kit lets the implementation record an
	// answer of the kit before the next step that depends on it (an
	// institution marks a guarantee issued once the platform acknowledged
	// the file). Calls expected to succeed are also retried for up to
	// Settle × 10 while refused. Default 300ms.
	Settle time.Duration
	// Out receives the instructions of manual drivers and progress lines
	// (nil: discarded).
	Out io.Writer
	// Progress, when set, is called as each check ends.
	Progress func(Result)

	// BidderKey, when set, lets the kit open the digital envelopes the
	// platform sends (platform suite) and check the application data. The
	// institution suite makes its own bidder unless Bidder is set.
	BidderKey *sm2.PrivateKey
	// Bidder, when set with its key and certificate, is the bidder the
	// platform applies for (platform suite): the kit signs with it the
	// 保函委托协议 it attaches to its guarantees, as the spec requires
	// (without it they carry none, and a platform that checks refuses
	// them). Its key also opens the envelopes when BidderKey is not set.
	Bidder *Bidder
	// TrustRoots are the CAs the implementation's certificates must
	// chain to: the seals of an institution's guarantees (institution
	// suite). Empty: seals are checked for integrity only.
	TrustRoots []*smx509.Certificate
}

func (c *Config) check() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("the URL of the implementation under test is required"))
	} else if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("the URL must be an http(s) URL, got %q", c.URL))
	}
	c.URL = strings.TrimRight(c.URL, "/")
	if c.AppKey == "" {
		errs = append(errs, errors.New("appkey is required"))
	}
	if c.AppSecret == "" {
		errs = append(errs, errors.New("appsecret is required"))
	}
	for _, i := range c.Extensions {
		if !i.Optional() {
			errs = append(errs, fmt.Errorf("extensions: %q is not an optional interface", i))
		}
	}
	if c.Profile.ChunkSize == 0 {
		c.Profile.ChunkSize = DefaultChunkSize
	}
	if c.Profile.ChunkSize < 16 {
		errs = append(errs, fmt.Errorf("chunk size must be at least 16 bytes, got %d", c.Profile.ChunkSize))
	}
	if c.Profile.Window <= 0 {
		c.Profile.Window = protocol.DefaultTimestampWindow
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Wait <= 0 {
		c.Wait = 2 * time.Minute
	}
	if c.Settle <= 0 {
		c.Settle = 300 * time.Millisecond
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.BidderKey == nil && c.Bidder != nil {
		c.BidderKey = c.Bidder.Key
	}
	return errors.Join(errs...)
}

// enabled reports whether the implementation enables optional interface i.
func (c *Config) enabled(i protocol.Interface) bool {
	for _, e := range c.Extensions {
		if e == i {
			return true
		}
	}
	return false
}

// indexBase is the first chunk index the kit sends.
func (p Profile) indexBase() int {
	if p.ZeroBasedIndex {
		return 0
	}
	return 1
}
