package bench

import (
	"bytes"
	"testing"

	"github.com/baohan-dev/baohan/gm"
)

func encryptForTest(t testing.TB, plain, key, iv []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := gm.NewCBCEncryptWriter(&b, key, iv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
