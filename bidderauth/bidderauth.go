// Package bidderauth is what a bidder's CA key signs to prove itself to a
// service (the platform console's login, the institution's withdrawal
// and give-up behind the redirecturl), and how the services check it.
// The CA agent (web/caagent) builds the message, the services
// (web, institution) verify it; all three import this package, which
// depends on gm only.
//
// What is signed is never the bytes a page sends but
//
//	baohan-bidder-auth/1
//	purpose=<purpose>
//	origin=<origin>
//	challenge=<challenge>
//
// where purpose names the one use the signature is good for (a
// platform-login signature is no institution-quit, and the other way
// round), origin is the origin of the page that asked the agent (the
// agent takes it from the request's Origin header, which a page cannot
// choose) and challenge is the single-use challenge the service issued.
// The service rebuilds the message from its own configured public origin
// (listen.public_url), never from the request: a page of another site,
// even one the agent serves, only ever gets signatures naming that site.
//
// No field can hold a line break (origins are checked, purposes are
// constants, challenges are printable ASCII without spaces), so the
// message is unambiguous.
package bidderauth

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/gm"
)

// Label is the first line of every message, with the format's version.
const Label = "baohan-bidder-auth/1"

// Purpose is the one use a signature is made for.
type Purpose string

// The purposes. A new use of the bidder's key gets a new purpose; an
// existing one is never reused for it.
const (
	// PlatformLogin logs the bidder in to the platform console's bidder
	// portal (POST <console>/login/ca).
	PlatformLogin Purpose = "platform-login"
	// InstitutionQuit withdraws a guarantee behind the redirecturl
	// (POST /bidder/<token>/quit at the institution).
	InstitutionQuit Purpose = "institution-quit"
	// InstitutionGiveUp gives an application up behind the redirecturl
	// (POST /bidder/<token>/giveup at the institution).
	InstitutionGiveUp Purpose = "institution-giveup"
)

var purposes = map[Purpose]string{
	PlatformLogin:     "登录交易平台投标人门户 (log in to the trading platform's bidder portal)",
	InstitutionQuit:   "在金融机构撤回保函 (withdraw a guarantee at the institution)",
	InstitutionGiveUp: "在金融机构放弃投保申请 (give up an application at the institution)",
}

// Purposes lists every purpose, in a fixed order.
func Purposes() []Purpose { return []Purpose{PlatformLogin, InstitutionQuit, InstitutionGiveUp} }

// ParsePurpose returns s as a Purpose, or an error naming the known ones.
func ParsePurpose(s string) (Purpose, error) {
	p := Purpose(s)
	if _, ok := purposes[p]; ok {
		return p, nil
	}
	names := make([]string, 0, len(purposes))
	for _, q := range Purposes() {
		names = append(names, string(q))
	}
	if s == "" {
		return "", fmt.Errorf("purpose: required, one of %s", strings.Join(names, ", "))
	}
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return "", fmt.Errorf("purpose: %q is not one of %s", s, strings.Join(names, ", "))
}

// Describe says in words what a signature of purpose p does, for the
// person asked to allow it.
func (p Purpose) Describe() string {
	if d, ok := purposes[p]; ok {
		return d
	}
	return "unknown purpose"
}

// Challenge lengths the agent signs and the services accept.
const (
	MinChallenge = 16
	MaxChallenge = 256
)

// CheckChallenge checks that c is 16 to 256 characters of printable
// ASCII without spaces, as every service's challenge is.
func CheckChallenge(c string) error {
	if n := len(c); n < MinChallenge || n > MaxChallenge {
		return fmt.Errorf("challenge: want %d to %d characters, got %d", MinChallenge, MaxChallenge, n)
	}
	for i := 0; i < len(c); i++ {
		if c[i] < 0x21 || c[i] > 0x7e {
			return errors.New("challenge: printable ASCII without spaces only")
		}
	}
	return nil
}

// NormalizeOrigin checks that o is an origin as browsers send it
// (scheme://host[:port], no path; a trailing slash is allowed) and
// returns it lower-cased, without the scheme's default port, as browsers
// send it in the Origin header.
func NormalizeOrigin(o string) (string, error) {
	s := strings.TrimSuffix(strings.TrimSpace(o), "/")
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawPath != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.User != nil || u.Opaque != "" {
		return "", fmt.Errorf("origin %q is not scheme://host[:port] (e.g. https://ggzy.example.cn)", o)
	}
	return canonical(u.Scheme, u.Host), nil
}

// OriginOf returns the origin (scheme://host[:port]) of a service's
// public URL (listen.public_url), which may carry a path.
func OriginOf(publicURL string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(publicURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Opaque != "" {
		return "", fmt.Errorf("%q is not an http(s) URL (e.g. https://ggzy.example.cn)", publicURL)
	}
	return canonical(u.Scheme, u.Host), nil
}

func canonical(scheme, host string) string {
	scheme, host = strings.ToLower(scheme), strings.ToLower(host)
	if (scheme == "https" && strings.HasSuffix(host, ":443")) || (scheme == "http" && strings.HasSuffix(host, ":80")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	return scheme + "://" + host
}

// Message returns what the bidder's key signs for purpose p, asked from
// a page of origin (normalized, see NormalizeOrigin) with challenge.
func Message(p Purpose, origin, challenge string) []byte {
	return []byte(Label + "\npurpose=" + string(p) + "\norigin=" + origin + "\nchallenge=" + challenge)
}

// Verify checks that sig (DER) is the signature by cert's SM2 key of
// Message(p, origin, challenge). origin is the verifying service's own
// public origin, never one a request names.
func Verify(cert *smx509.Certificate, p Purpose, origin, challenge string, sig []byte) error {
	if _, err := ParsePurpose(string(p)); err != nil {
		return err
	}
	if n, err := NormalizeOrigin(origin); err != nil || n != origin {
		return fmt.Errorf("origin %q is not a normalized origin (the service's listen.public_url)", origin)
	}
	if err := CheckChallenge(challenge); err != nil {
		return err
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != sm2.P256() {
		return errors.New("the certificate does not hold an SM2 public key")
	}
	if !gm.SM2Verify(pub, Message(p, origin, challenge), sig) {
		return fmt.Errorf("the signature does not verify with the certificate's public key as a %s for %s", p, origin)
	}
	return nil
}
