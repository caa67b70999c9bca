package gm

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFileAt: a file encrypts to a file and back; each failure names the
// file it is about and leaves no output file behind.
func TestFileAt(t *testing.T) {
	ctx := context.Background()
	priv, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	plain := bytes.Repeat([]byte("保函"), 5000)
	in, enc, dec := writeTemp(t, "g.ofd", plain), filepath.Join(dir, "g.enc"), filepath.Join(dir, "g.dec")
	f, err := EncryptFileAt(ctx, in, enc, &priv.PublicKey, C1C3C2, SM3)
	if err != nil {
		t.Fatal(err)
	}
	if err := DecryptFileAt(ctx, enc, dec, priv, f, C1C3C2); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dec); !bytes.Equal(got, plain) {
		t.Fatal("the decrypted file differs")
	}
	wrong := f
	wrong.BaohanFileMD5 = strings.Repeat("0", 64)
	never := filepath.Join(dir, "never")
	for _, tt := range []struct {
		name  string
		err   error
		which string // of the FileError, "" none
		want  string
	}{
		{"same file", func() error { _, err := EncryptFileAt(ctx, in, in, &priv.PublicKey, C1C3C2, SM3); return err }(), "in", "the input and the output are the same file"},
		{"empty input", func() error {
			_, err := EncryptFileAt(ctx, writeTemp(t, "empty", nil), never, &priv.PublicKey, C1C3C2, SM3)
			return err
		}(), "in", "is empty"},
		{"missing input", DecryptFileAt(ctx, filepath.Join(dir, "nope"), never, priv, f, C1C3C2), "in", "no such file"},
		{"no output directory", DecryptFileAt(ctx, enc, filepath.Join(dir, "no", "dir"), priv, f, C1C3C2), "out", "no such file"},
		{"digest mismatch", DecryptFileAt(ctx, enc, never, priv, wrong, C1C3C2), "", "baohanfilemd5 mismatch"},
		{"truncated", DecryptFileAt(ctx, writeTemp(t, "cut.enc", []byte("0123456789")), never, priv, f, C1C3C2), "", "decrypting "},
	} {
		var fe *FileError
		switch {
		case tt.err == nil || !strings.Contains(tt.err.Error(), tt.want):
			t.Errorf("%s: %v, want %q", tt.name, tt.err, tt.want)
		case errors.As(tt.err, &fe) != (tt.which != "") || tt.which != "" && fe.Which != tt.which:
			t.Errorf("%s: %v is no FileError about %q", tt.name, tt.err, tt.which)
		}
	}
	if _, err := os.Stat(never); !os.IsNotExist(err) {
		t.Error("a failure left the output file")
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, ".*.tmp")); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}
