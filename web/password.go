package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters (RFC 9106, OWASP's minimum: 19 MiB, 2 passes, 1 lane).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// HashPassword returns the argon2id hash of password in the PHC string
// format: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
func HashPassword(password string) (string, error) {
	if err := checkPassword(password); err != nil {
		return "", err
	}
	salt := make([]byte, argonSaltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches the PHC hash, in time
// independent of where they differ. The parameters are read from the hash,
// so hashes made with other costs keep working.
func CheckPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 1<<20 || t > 16 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[4])
	want, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// ErrBusy is the answer to a login when every password-hashing slot is
// taken for longer than the wait allows: each argon2id hash holds 19 MiB,
// so their number is bounded (hashGate), not the number of requests.
var ErrBusy = errors.New("服务器正忙，请稍后重试 (the server is busy checking other logins: try again in a moment)")

// hashGate bounds the argon2id hashes running at once. A caller waits for
// a slot at most wait (and not past its context); at most maxWaiting wait
// at once, the others are refused at once. Memory for hashing then stays
// under slots × 19 MiB whatever the number of parallel logins (under
// contention each slot collects its garbage before it frees).
type hashGate struct {
	slots      chan struct{}
	waiting    atomic.Int64
	maxWaiting int64
	wait       time.Duration
}

func newHashGate(slots, maxWaiting int, wait time.Duration) *hashGate {
	return &hashGate{slots: make(chan struct{}, max(slots, 1)), maxWaiting: int64(maxWaiting), wait: wait}
}

// passwordGate is the process's gate, shared by every console: one slot
// per CPU, 32 waiting per slot, 2 seconds' wait (a hash takes some 35 ms
// on one core).
var passwordGate = newHashGate(runtime.GOMAXPROCS(0), 32*runtime.GOMAXPROCS(0), 2*time.Second)

// do runs fn in a slot, or returns ErrBusy (or ctx's error). fn reports
// whether it hashed.
func (g *hashGate) do(ctx context.Context, fn func() (hashed bool)) error {
	select {
	case g.slots <- struct{}{}:
	default:
		if g.waiting.Add(1) > g.maxWaiting {
			g.waiting.Add(-1)
			return ErrBusy
		}
		t := time.NewTimer(g.wait)
		select {
		case g.slots <- struct{}{}:
			g.waiting.Add(-1)
			t.Stop()
		case <-t.C:
			g.waiting.Add(-1)
			return ErrBusy
		case <-ctx.Done():
			g.waiting.Add(-1)
			t.Stop()
			return ctx.Err()
		}
	}
	defer func() { <-g.slots }()
	if fn() && (len(g.slots) > 1 || g.waiting.Load() > 0) {
		// Under contention, the hash's 19 MiB are garbage now: collect
		// them before the slot frees, or the heap grows to twice its live
		// size (GOGC) with such blocks before the next cycle. A login is
		// worth a collection.
		runtime.GC()
	}
	return nil
}

// ErrWeakPassword is returned for a password shorter than 10 characters.
var ErrWeakPassword = errors.New("密码至少 10 个字符 (password: at least 10 characters)")

// maxPasswordLen is the longest password accepted, in bytes.
const maxPasswordLen = 1024

func checkPassword(p string) error {
	if len(p) > maxPasswordLen {
		return errors.New("密码过长 (password: at most 1024 bytes)")
	}
	if len([]rune(p)) < 10 {
		return ErrWeakPassword
	}
	return nil
}

// RandomPassword returns a random password (26 characters of base32,
// 130 bits), for generated accounts.
func RandomPassword() string { return rand.Text() }

// randomToken returns n random bytes, base64url without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
