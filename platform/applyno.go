package platform

import (
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

// applyNoAlphabet is Crockford's base32: no I, L, O or U, so that a number
// read aloud or typed from paper survives.
const applyNoAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// applyNoRandom is the number of random characters: 12 × 5 = 60 bits, far
// beyond guessing even with millions of applications a day.
const applyNoRandom = 12

// NewApplyNo returns a fresh 业务流水号: "BH", the date in China Standard
// Time (yyyyMMdd), and 12 random Crockford base32 characters, e.g.
// BH20261127K7M2Q9XH4T3A (22 characters). Readable, sortable by day,
// unguessable.
func NewApplyNo(now time.Time) string {
	var b [applyNoRandom]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("platform: crypto/rand: " + err.Error())
	}
	var sb strings.Builder
	sb.Grow(2 + 8 + applyNoRandom)
	sb.WriteString("BH")
	sb.WriteString(now.In(protocol.CST).Format("20060102"))
	for _, c := range b {
		sb.WriteByte(applyNoAlphabet[c&31])
	}
	return sb.String()
}

// CheckApplyNo reports whether s has the shape NewApplyNo gives.
func CheckApplyNo(s string) error {
	if len(s) != 2+8+applyNoRandom || !strings.HasPrefix(s, "BH") {
		return fmt.Errorf("applyno %q: want BH, 8 digits of date and %d characters", s, applyNoRandom)
	}
	if _, err := time.Parse("20060102", s[2:10]); err != nil {
		return fmt.Errorf("applyno %q: %q is not a date", s, s[2:10])
	}
	for _, c := range s[10:] {
		if !strings.ContainsRune(applyNoAlphabet, c) {
			return fmt.Errorf("applyno %q: %q is not a Crockford base32 character", s, c)
		}
	}
	return nil
}
