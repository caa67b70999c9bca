package testca

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"strings"
)

// The character set of the 统一社会信用代码 (GB 32100-2015): digits and
// upper-case letters without I, O, Z, S, V; the index is the value.
const creditChars = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var creditWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// orgWeights are the GB 11714 weights of the organisation code (chars 9-16).
var orgWeights = [8]int{3, 7, 9, 10, 5, 8, 4, 2}

// GenerateCreditCode returns a random, well-formed 统一社会信用代码:
// "91" (enterprise), a Nanjing region code, an organisation code with its
// GB 11714 check character, and the GB 32100 check character.
func GenerateCreditCode() string {
	var b strings.Builder
	b.WriteString("91320100")
	org := make([]int, 8)
	sum := 0
	for i := range org {
		n, _ := rand.Int(rand.Reader, big.NewInt(36))
		org[i] = int(n.Int64())
		sum += org[i] * orgWeights[i]
	}
	for _, v := range org {
		b.WriteByte("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[v])
	}
	switch c := 11 - sum%11; c {
	case 10:
		b.WriteByte('X')
	case 11:
		b.WriteByte('0')
	default:
		b.WriteByte(byte('0' + c))
	}
	s := b.String()
	// The organisation code may hold I, O, S, V or Z, which the credit
	// code alphabet lacks; draw again in that case.
	if strings.ContainsAny(s, "IOZSV") {
		return GenerateCreditCode()
	}
	c, _ := creditCheckChar(s)
	return s + string(c)
}

func creditCheckChar(s17 string) (byte, error) {
	sum := 0
	for i := 0; i < 17; i++ {
		v := strings.IndexByte(creditChars, s17[i])
		if v < 0 {
			return 0, fmt.Errorf("character %q at position %d is not allowed", s17[i], i+1)
		}
		sum += v * creditWeights[i]
	}
	return creditChars[(31-sum%31)%31], nil
}

// CheckCreditCode reports whether code is 18 characters of the GB 32100
// alphabet with a correct check character.
func CheckCreditCode(code string) error {
	if len(code) != 18 {
		return fmt.Errorf("统一社会信用代码 has %d characters, want 18", len(code))
	}
	want, err := creditCheckChar(code[:17])
	if err != nil {
		return fmt.Errorf("统一社会信用代码: %v", err)
	}
	if code[17] != want {
		return fmt.Errorf("统一社会信用代码 check character is %q, want %q", code[17], want)
	}
	return nil
}
