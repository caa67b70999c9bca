package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/transport"
)

// Peer is the other side of a connection: for the platform, an
// institution; for an institution, a platform. One appkey/appsecret pair,
// issued by the platform, signs requests in both directions.
type Peer struct {
	Name      string `toml:"name"`
	AppKey    string `toml:"appkey"`
	AppSecret string `toml:"appsecret"`
	// Or, to keep the secret out of the configuration file, exactly one of:
	AppSecretFile string `toml:"appsecret_file"` // a file holding it (a systemd credential, a mounted secret); one trailing newline is dropped
	AppSecretEnv  string `toml:"appsecret_env"`  // the name of an environment variable holding it
	BaseURL       string `toml:"base_url"`       // the peer's interfaces are at BaseURL + "/" + name
	PlatformCode  string `toml:"platformcode"`   // 平台编码 the platform assigned

	// PROFILE.md options that vary per peer.
	IndexBase       *int     `toml:"index_base"`       // first chunk index sent: 1 (default) or 0
	TimestampWindow Duration `toml:"timestamp_window"` // accepted clock skew; default 10m
	Timeout         Duration `toml:"timeout"`          // per outbound call; default 30s

	// Interface revision and message order (docs/PROFILE.md, EXTENSIONS.md §2).
	Revision    string `toml:"revision"`     // envelope (default, the user's spec) | flat
	UploadFirst bool   `toml:"upload_first"` // the institution uploads the ciphertext guarantee before baohannotice

	// The peer's dialect (docs/PROFILE.md, "Dialects"): outbound exactly
	// as set, inbound liberal where it is safe; the sign only as set.
	Sign         string `toml:"sign"`           // sm3 (default) | sm3-keep-empty | hmac-sm3 | md5
	Encoding     string `toml:"encoding"`       // binary fields: base64 (default) | hex
	SM2Layout    string `toml:"sm2_layout"`     // c1c3c2 (default) | c1c2c3 | asn1 | auto
	FileDigest   string `toml:"file_digest"`    // sm3 (default) | md5 | sm3-ciphertext | md5-ciphertext | auto
	ChunkSize    int    `toml:"chunk_size"`     // bytes of encrypted file per uploadbaohanfile sent; default 512 KiB
	MaxChunkSize int    `toml:"max_chunk_size"` // largest chunk the platform accepts (it checks, the institution keeps chunk_size within); default 8 MiB

	// Security controls of the inbound pipeline (docs/SECURITY.md).
	RateLimit float64  `toml:"rate_limit"` // requests/s this peer may send; 0: default (100), -1: unlimited
	RateBurst int      `toml:"rate_burst"` // requests at once; 0: 4 × rate_limit
	AllowFrom []string `toml:"allow_from"` // CIDRs or addresses the peer calls from; empty: anywhere

	// Optional interfaces used with this peer (EXTENSIONS.md §1): the
	// names of protocol.Extensions, e.g. ["claimsresultnotice",
	// "claimsrepaynotice"]. Empty: the 14 only.
	Extensions []string `toml:"extensions"`
}

// Defaults of the PROFILE.md options.
const (
	DefaultChunkSize       = 512 << 10
	DefaultTimestampWindow = 10 * time.Minute
	DefaultTimeout         = 30 * time.Second
	// MaxMaxChunkSize bounds max_chunk_size: the body limit of
	// uploadbaohanfile follows from it.
	MaxMaxChunkSize = 64 << 20
)

// Transport checks p and returns the transport.Peer the HTTP layer uses,
// with the defaults of PROFILE.md filled in.
func (p Peer) Transport() (*transport.Peer, error) {
	where := fmt.Sprintf("peer %q", p.Name)
	if p.Name == "" {
		where = fmt.Sprintf("peer with appkey %q", p.AppKey)
	}
	if p.AppKey == "" {
		return nil, fmt.Errorf("%s: appkey is required", where)
	}
	secret, err := p.secret(os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if p.BaseURL != "" {
		u, err := url.Parse(p.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%s: base_url must be an http(s) URL, got %q", where, p.BaseURL)
		}
	}
	layout := gm.C1C3C2
	if p.SM2Layout != "" {
		l, err := gm.ParseCipherLayout(p.SM2Layout)
		if err != nil {
			return nil, fmt.Errorf("%s: sm2_layout: %w", where, err)
		}
		layout = l
	}
	digest, over, err := gm.ParseFileDigest(p.FileDigest)
	if err != nil {
		return nil, fmt.Errorf("%s: file_digest: %w", where, err)
	}
	sign, err := protocol.ParseSignVariant(p.Sign)
	if err != nil {
		return nil, fmt.Errorf("%s: sign: %w", where, err)
	}
	enc, err := gm.ParseEncoding(p.Encoding)
	if err != nil {
		return nil, fmt.Errorf("%s: encoding: %w", where, err)
	}
	chunk := p.ChunkSize
	if chunk == 0 {
		chunk = DefaultChunkSize
	}
	if chunk < 1024 || chunk > 8<<20 {
		return nil, fmt.Errorf("%s: chunk_size must be between 1 KiB and 8 MiB, got %d", where, chunk)
	}
	maxChunk := p.MaxChunkSize
	if maxChunk == 0 {
		maxChunk = transport.DefaultMaxChunkSize
	}
	if maxChunk < 1024 || maxChunk > MaxMaxChunkSize {
		return nil, fmt.Errorf("%s: max_chunk_size must be between 1 KiB and 64 MiB, got %d", where, maxChunk)
	}
	if chunk > maxChunk {
		return nil, fmt.Errorf("%s: chunk_size %d is larger than max_chunk_size %d, the largest chunk the receiving platform accepts", where, chunk, maxChunk)
	}
	base := 1
	if p.IndexBase != nil {
		base = *p.IndexBase
	}
	if base != 0 && base != 1 {
		return nil, fmt.Errorf("%s: index_base must be 0 or 1, got %d", where, base)
	}
	revision, err := protocol.ParseRevision(p.Revision)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	window := p.TimestampWindow.Duration
	if window == 0 {
		window = DefaultTimestampWindow
	}
	if p.RateBurst < 0 {
		return nil, fmt.Errorf("%s: rate_burst must not be negative, got %d", where, p.RateBurst)
	}
	if p.RateLimit < 0 && p.RateLimit != -1 {
		return nil, fmt.Errorf("%s: rate_limit must be positive, 0 for the default or -1 for none, got %g", where, p.RateLimit)
	}
	allow, err := transport.ParseCIDRs(p.AllowFrom)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	ext, err := parseExtensions(p.Extensions)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return &transport.Peer{
		Name:         p.Name,
		AppKey:       p.AppKey,
		AppSecret:    secret,
		BaseURL:      strings.TrimRight(p.BaseURL, "/"),
		PlatformCode: p.PlatformCode,
		Profile: transport.Profile{
			SM2Layout:       layout,
			FileDigest:      digest,
			ChunkSize:       chunk,
			IndexBase:       base,
			TimestampWindow: window,
			Revision:        revision,
			UploadFirst:     p.UploadFirst,
			Sign:            sign,
			Encoding:        enc,
			DigestOver:      over,
			MaxChunkSize:    maxChunk,
		},
		RateLimit:  transport.RateLimit{Rate: p.RateLimit, Burst: p.RateBurst},
		AllowFrom:  allow,
		Extensions: ext,
	}, nil
}

// parseExtensions checks the names of the extensions key: each an
// optional interface, once.
func parseExtensions(names []string) ([]protocol.Interface, error) {
	var out []protocol.Interface
	for _, n := range names {
		i, ok := protocol.Lookup(n)
		if !ok || !i.Optional() {
			known := make([]string, len(protocol.Extensions))
			for k, e := range protocol.Extensions {
				known[k] = strconv.Quote(string(e))
			}
			return nil, fmt.Errorf("extensions: %q is not an optional interface (known: %s)", n, strings.Join(known, ", "))
		}
		if slices.Contains(out, i) {
			return nil, fmt.Errorf("extensions: %q is listed twice", n)
		}
		out = append(out, i)
	}
	return out, nil
}

// CallTimeout is the time an outbound call to p may take.
func (p Peer) CallTimeout() time.Duration {
	if p.Timeout.Duration > 0 {
		return p.Timeout.Duration
	}
	return DefaultTimeout
}

// secret returns the appsecret from appsecret, appsecret_file or
// appsecret_env, whichever one is set. Errors name the setting, the file
// or the variable, never the secret.
func (p Peer) secret(lookup func(string) (string, bool)) (string, error) {
	set := 0
	for _, v := range []string{p.AppSecret, p.AppSecretFile, p.AppSecretEnv} {
		if v != "" {
			set++
		}
	}
	switch {
	case set == 0:
		return "", errors.New("appsecret is required (or appsecret_file, or appsecret_env)")
	case set > 1:
		return "", errors.New("set one of appsecret, appsecret_file and appsecret_env, not several")
	case p.AppSecret != "":
		return p.AppSecret, nil
	case p.AppSecretFile != "":
		b, err := os.ReadFile(p.AppSecretFile)
		if err != nil {
			return "", fmt.Errorf("appsecret_file: %w", err)
		}
		s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if s == "" {
			return "", fmt.Errorf("appsecret_file %s is empty", p.AppSecretFile)
		}
		if strings.TrimSpace(s) != s || strings.ContainsAny(s, "\r\n") {
			return "", fmt.Errorf("appsecret_file %s: the secret must be one line without surrounding spaces", p.AppSecretFile)
		}
		return s, nil
	}
	s, ok := lookup(p.AppSecretEnv)
	if !ok || s == "" {
		return "", fmt.Errorf("appsecret_env: the environment variable %s is not set", p.AppSecretEnv)
	}
	return s, nil
}
