package bidderauth

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"
)

// A service's challenges are stateless: anyone may ask for one (the
// platform console's login page, whoever holds a redirecturl), so issuing
// one must write nothing. A challenge carries its own proof instead:
//
//	c1.<base64url(nonce[16] || expires[8] || mac[32])>
//
// nonce is random, expires the end of its validity (Unix microseconds,
// big-endian) and mac the HMAC-SM3, under the service's challenge key, of
// the purpose, the binding (who may use it: the browser's pre-session, the
// application), nonce and expires. Only the service (and its replicas,
// which derive the same key from the same master key) can make one; a
// challenge of one browser, application or purpose does not serve another.
//
// Check writes nothing either. A challenge serves once: the service
// records its ID when a request signed over it by an acceptable
// certificate is accepted, and refuses an ID it has recorded (the record
// may go once the challenge has expired). So what an outsider without a
// bidder's key can make a service store is nothing.

// challengePrefix starts every challenge, with the format's version.
const challengePrefix = "c1."

const (
	nonceLen   = 16
	expiresLen = 8
	macLen     = sm3.Size
)

// challengeLen is the length of every challenge (78 characters).
var challengeLen = len(challengePrefix) + base64.RawURLEncoding.EncodedLen(nonceLen+expiresLen+macLen)

// Errors of Challenges.Check; the error returned wraps one of them and
// says more.
var (
	// ErrChallengeInvalid: not a challenge of this service for this
	// purpose and binding (malformed, altered, another service's, another
	// browser's or application's, or another purpose's).
	ErrChallengeInvalid = errors.New("challenge invalid")
	// ErrChallengeExpired: a genuine challenge past its validity.
	ErrChallengeExpired = errors.New("challenge expired")
)

// Challenges issues and checks a service's stateless challenges under
// one key.
type Challenges struct {
	key []byte
	ttl time.Duration
}

// NewChallenges returns the challenges of key (at least 16 bytes; a
// service derives it from its master key, gm.MasterKey.DeriveKey, so
// that its replicas agree), each valid for ttl.
func NewChallenges(key []byte, ttl time.Duration) (*Challenges, error) {
	if len(key) < 16 {
		return nil, fmt.Errorf("bidderauth: challenge key of %d bytes, want at least 16", len(key))
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("bidderauth: challenge validity %v, want more than 0", ttl)
	}
	return &Challenges{key: append([]byte(nil), key...), ttl: ttl}, nil
}

// TTL is how long a challenge is valid.
func (c *Challenges) TTL() time.Duration { return c.ttl }

// Issue returns a fresh challenge for purpose, to be used by binding only,
// valid until the time it returns (now + TTL, to the microsecond).
func (c *Challenges) Issue(now time.Time, purpose Purpose, binding string) (string, time.Time) {
	b := make([]byte, nonceLen+expiresLen, nonceLen+expiresLen+macLen)
	if _, err := rand.Read(b[:nonceLen]); err != nil {
		panic("bidderauth: no randomness: " + err.Error()) // crypto/rand does not fail on supported systems
	}
	expires := now.Add(c.ttl).Truncate(time.Microsecond)
	binary.BigEndian.PutUint64(b[nonceLen:], uint64(expires.UnixMicro()))
	b = append(b, c.mac(purpose, binding, b)...)
	return challengePrefix + base64.RawURLEncoding.EncodeToString(b), expires
}

// Issued is what Check learned of a genuine challenge.
type Issued struct {
	// ID names the challenge in the service's record of used ones (hex of
	// its nonce).
	ID string
	// Expires is the end of its validity: its record may go after it.
	Expires time.Time
}

// Check checks that challenge was issued by c for purpose and binding and
// is still valid at now. It writes nothing and does not know whether the
// challenge was used: the caller keeps that record (see the package's
// comment). Errors wrap ErrChallengeInvalid or ErrChallengeExpired and say
// which rule failed.
func (c *Challenges) Check(now time.Time, challenge string, purpose Purpose, binding string) (Issued, error) {
	if len(challenge) != challengeLen || !strings.HasPrefix(challenge, challengePrefix) {
		return Issued{}, fmt.Errorf("%w: not a challenge of this service (want %d characters starting %q)", ErrChallengeInvalid, challengeLen, challengePrefix)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(challenge[len(challengePrefix):])
	if err != nil || len(b) != nonceLen+expiresLen+macLen {
		return Issued{}, fmt.Errorf("%w: not a challenge of this service (not base64url of %d bytes)", ErrChallengeInvalid, nonceLen+expiresLen+macLen)
	}
	body, mac := b[:nonceLen+expiresLen], b[nonceLen+expiresLen:]
	if !hmac.Equal(mac, c.mac(purpose, binding, body)) {
		for _, p := range Purposes() {
			if p != purpose && hmac.Equal(mac, c.mac(p, binding, body)) {
				return Issued{}, fmt.Errorf("%w: issued for %s, not %s", ErrChallengeInvalid, p, purpose)
			}
		}
		return Issued{}, fmt.Errorf("%w: not issued by this service for this %s and %s (another's, or altered)", ErrChallengeInvalid, bindingWord(purpose), purpose)
	}
	expires := time.UnixMicro(int64(binary.BigEndian.Uint64(body[nonceLen:])))
	if !now.Before(expires) {
		return Issued{}, fmt.Errorf("%w at %s (a challenge is valid for %s)", ErrChallengeExpired, expires.Format(time.RFC3339), c.ttl)
	}
	return Issued{ID: hex.EncodeToString(body[:nonceLen]), Expires: expires}, nil
}

// bindingWord names what a challenge of purpose is bound to.
func bindingWord(p Purpose) string {
	if p == PlatformLogin {
		return "browser"
	}
	return "application"
}

// mac is HMAC-SM3 under c's key of purpose, binding (each length-prefixed)
// and body (nonce || expires).
func (c *Challenges) mac(purpose Purpose, binding string, body []byte) []byte {
	h := hmac.New(sm3.New, c.key)
	var n [4]byte
	h.Write([]byte("baohan-challenge/1\x00"))
	for _, s := range []string{string(purpose), binding} {
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	h.Write(body)
	return h.Sum(nil)
}
