package transport

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/protocol"
)

// Profile holds the PROFILE.md options that vary per peer.
type Profile struct {
	SM2Layout       gm.CipherLayout // SM2 ciphertext layout (default C1C3C2)
	FileDigest      gm.DigestAlg    // baohanfilemd5 algorithm (default SM3)
	ChunkSize       int             // upload chunk size in bytes (default 512 KiB)
	IndexBase       int             // first chunk index, 0 or 1 (default 1)
	TimestampWindow time.Duration   // allowed clock difference (default 10 minutes)

	// Revision is the interface revision the peer speaks (envelope, the
	// default, or flat: EXTENSIONS.md §2); it selects the rules of
	// baohanapply and baohanrestore in both directions.
	Revision protocol.Revision
	// UploadFirst: the institution uploads the ciphertext guarantee
	// before it sends baohannotice (some Epoint platforms want this); a
	// platform takes either order whatever this says.
	UploadFirst bool
	// The dialect of the peer (docs/PROFILE.md, "Dialects").
	Sign         protocol.SignVariant // how signs are made and checked (default sm3)
	Encoding     gm.Encoding          // binary fields sent (default base64; either is read)
	DigestOver   gm.DigestOver        // what baohanfilemd5 covers (default the plaintext)
	MaxChunkSize int                  // largest uploadbaohanfile chunk accepted, bytes (default 8 MiB)
}

// Defaults of the profile.
const (
	DefaultChunkSize    = 512 << 10
	DefaultIndexBase    = 1
	DefaultMaxChunkSize = 8 << 20
)

// MaxChunk returns the largest chunk accepted from the peer, the default
// when unset.
func (p Profile) MaxChunk() int {
	if p.MaxChunkSize <= 0 {
		return DefaultMaxChunkSize
	}
	return p.MaxChunkSize
}

// DefaultProfile returns the default profile of PROFILE.md.
func DefaultProfile() Profile {
	return Profile{
		SM2Layout:       gm.C1C3C2,
		FileDigest:      gm.SM3,
		ChunkSize:       DefaultChunkSize,
		IndexBase:       DefaultIndexBase,
		TimestampWindow: protocol.DefaultTimestampWindow,
		Revision:        protocol.RevisionEnvelope,
		MaxChunkSize:    DefaultMaxChunkSize,
	}
}

// Window returns the timestamp window, the default when unset.
func (p Profile) Window() time.Duration {
	if p.TimestampWindow <= 0 {
		return protocol.DefaultTimestampWindow
	}
	return p.TimestampWindow
}

// Peer is the other party of an appkey: an institution as seen by the
// platform, or a platform as seen by an institution. One appkey/appsecret
// pair signs both directions.
type Peer struct {
	Name         string // for logs and messages
	AppKey       string
	AppSecret    string
	BaseURL      string // the peer's interfaces are at BaseURL/<name>
	PlatformCode string // platformcode the platform sends
	Profile      Profile
	// RateLimit overrides the Server's per-appkey limit for this peer
	// (zero: the Server's).
	RateLimit RateLimit
	// AllowFrom, when not empty, is the only networks this peer may call
	// from (see ParseCIDRs); a request from elsewhere is refused with
	// HTTP 403 and code 0 naming the address.
	AllowFrom []netip.Prefix
	// Extensions are the optional interfaces (protocol.Extensions) used
	// with this peer: a Server refuses the others from it with code 0,
	// and a service sends them to it only when listed.
	Extensions []protocol.Interface
}

// Enabled reports whether interface i may be used with the peer: every
// one of the 14, and an optional one when Extensions lists it.
func (p *Peer) Enabled(i protocol.Interface) bool {
	if !i.Optional() {
		return true
	}
	for _, e := range p.Extensions {
		if e == i {
			return true
		}
	}
	return false
}

// PeerDirectory finds the peer of an appkey. An unknown appkey is
// (nil, nil) or an error wrapping ErrUnknownPeer; any other error is a
// temporary failure (the request is refused with "try again later").
type PeerDirectory interface {
	PeerByAppKey(ctx context.Context, appkey string) (*Peer, error)
}

// ErrUnknownPeer is what a PeerDirectory may return for an unknown appkey.
var ErrUnknownPeer = errors.New("unknown appkey")

// StaticPeers is a PeerDirectory over a fixed set of peers, keyed by
// appkey (tests, the demo, the conformance kit).
type StaticPeers map[string]*Peer

// NewStaticPeers indexes peers by appkey.
func NewStaticPeers(peers ...*Peer) StaticPeers {
	m := StaticPeers{}
	for _, p := range peers {
		m[p.AppKey] = p
	}
	return m
}

// PeerByAppKey implements PeerDirectory.
func (m StaticPeers) PeerByAppKey(_ context.Context, appkey string) (*Peer, error) {
	if p, ok := m[appkey]; ok {
		return p, nil
	}
	return nil, nil
}
