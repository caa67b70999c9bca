package transport

import (
	"crypto/hmac"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm3"
)

func hmacSM3(key, msg string) string {
	h := hmac.New(sm3.New, []byte(key))
	h.Write([]byte(msg))
	return hex.EncodeToString(h.Sum(nil))
}

// openssl hashes s with `openssl dgst -sm3`; skips without openssl.
func openssl(t *testing.T, s string) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	cmd := exec.Command(path, "dgst", "-sm3", "-r")
	cmd.Stdin = strings.NewReader(s)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	h, _, _ := strings.Cut(string(out), " ")
	return h
}
