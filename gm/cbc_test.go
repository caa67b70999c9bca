package gm

import (
	"bytes"
	"crypto/cipher"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"
)

// cbcReference encrypts with crypto/cipher in one go, the way a
// non-streaming implementation would.
func cbcReference(t testing.TB, key, iv, msg []byte) []byte {
	t.Helper()
	b, err := sm4.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	out := pad(msg)
	cipher.NewCBCEncrypter(b, iv).CryptBlocks(out, out)
	return out
}

func encryptCBC(t testing.TB, key, iv, msg []byte, writeSize int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewCBCEncryptWriter(&buf, key, iv)
	if err != nil {
		t.Fatal(err)
	}
	for p := msg; len(p) > 0; {
		n := min(writeSize, len(p))
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCBCStreamingMatchesOneShot(t *testing.T) {
	key, iv := NewKey(), NewKey()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, cbcBuf - 1, cbcBuf, cbcBuf + 1, 3*cbcBuf + 7} {
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(rng.Uint32())
		}
		want := cbcReference(t, key, iv, msg)
		for _, ws := range []int{1, 7, 16, 4096, 1 << 20} {
			if ws == 1 && n > 4096 {
				continue
			}
			if got := encryptCBC(t, key, iv, msg, ws); !bytes.Equal(got, want) {
				t.Fatalf("n=%d write size %d: streaming ciphertext differs from one-shot", n, ws)
			}
		}
		readers := map[string]func(io.Reader) io.Reader{
			"plain":    func(r io.Reader) io.Reader { return r },
			"one byte": iotest.OneByteReader,
			"half":     iotest.HalfReader,
			"data+err": iotest.DataErrReader,
		}
		for name, wrap := range readers {
			if name == "one byte" && n > 4096 {
				continue
			}
			r, err := NewCBCDecryptReader(wrap(bytes.NewReader(want)), key, iv)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatalf("n=%d %s reader: %v", n, name, err)
			}
			if !bytes.Equal(got, msg) {
				t.Fatalf("n=%d %s reader: plaintext differs", n, name)
			}
		}
		// iotest.TestReader checks the io.Reader contract.
		r, _ := NewCBCDecryptReader(bytes.NewReader(want), key, iv)
		if err := iotest.TestReader(r, msg); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
	}
}

func TestCBCDecryptErrors(t *testing.T) {
	key, iv := NewKey(), NewKey()
	good := cbcReference(t, key, iv, []byte(strings.Repeat("guarantee ", 100)))
	flipLast := append([]byte(nil), good...)
	flipLast[len(flipLast)-17] ^= 0x01 // flips a bit of the padding byte
	tests := []struct {
		name string
		ct   []byte
		key  []byte
		want string
		pad  bool
	}{
		{"empty", nil, key, "empty ciphertext", false},
		{"truncated", good[:len(good)-5], key, "not a multiple of 16", false},
		{"short block", good[:10], key, "10 bytes, not a multiple of 16", false},
		{"bad padding", flipLast, key, "bad PKCS#7 padding", true},
		{"wrong key", good, NewKey(), "bad PKCS#7 padding", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewCBCDecryptReader(bytes.NewReader(tt.ct), tt.key, iv)
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.ReadAll(r)
			if err == nil && tt.name == "wrong key" {
				t.Skip("wrong key happened to give valid padding (p ~ 1/256)")
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if errors.Is(err, ErrBadPadding) != tt.pad {
				t.Fatalf("errors.Is(ErrBadPadding)=%v, want %v", !tt.pad, tt.pad)
			}
			// The error is sticky.
			if _, err2 := r.Read(make([]byte, 10)); err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("second Read: %v, want the same error", err2)
			}
		})
	}
	if _, err := NewCBCDecryptReader(nil, key[:8], iv); err == nil || !strings.Contains(err.Error(), "got 8") {
		t.Fatalf("short key: %v", err)
	}
	if _, err := NewCBCDecryptReader(nil, key, iv[:8]); err == nil || !strings.Contains(err.Error(), "iv must be 16 bytes, got 8") {
		t.Fatalf("short iv: %v", err)
	}
	if _, err := NewCBCEncryptWriter(nil, key, nil); err == nil || !strings.Contains(err.Error(), "got 0") {
		t.Fatalf("no iv: %v", err)
	}
	// A read error from the source is reported with the offset.
	r, _ := NewCBCDecryptReader(io.MultiReader(bytes.NewReader(good[:32]), iotest.ErrReader(errors.New("connection reset"))), key, iv)
	if _, err := io.ReadAll(r); err == nil || !strings.Contains(err.Error(), "after 32 bytes: connection reset") {
		t.Fatalf("source error: %v", err)
	}
}

func TestCBCWriterErrorsAndClose(t *testing.T) {
	key, iv := NewKey(), NewKey()
	var buf bytes.Buffer
	w, _ := NewCBCEncryptWriter(&buf, key, iv)
	w.Write([]byte("abc"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if buf.Len() != 16 {
		t.Fatalf("ciphertext %d bytes, want 16", buf.Len())
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("Write after Close succeeded")
	}
	// A failing destination is reported and sticks.
	fw, _ := NewCBCEncryptWriter(failWriter{}, key, iv)
	_, err := fw.Write(make([]byte, 2*cbcBuf))
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("write to failing writer: %v", err)
	}
	if err := fw.Close(); err == nil {
		t.Fatal("Close after a write error succeeded")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// patternReader yields n pseudo-random bytes without holding them.
type patternReader struct {
	rng *rand.Rand
	n   int64
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.n == 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.n {
		b = b[:p.n]
	}
	for i := range b {
		b[i] = byte(p.rng.Uint32())
	}
	p.n -= int64(len(b))
	return len(b), nil
}

// TestCBCStreamMemory pushes 20 MB through the writer, a pipe and the
// reader and checks that the heap allocated along the way stays far below
// the stream size.
func TestCBCStreamMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const size = 20 << 20
	key, iv := NewKey(), NewKey()
	src := &patternReader{rng: rand.New(rand.NewPCG(7, 7)), n: size}
	wantHash := sm3.New()
	pr, pw := io.Pipe()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	go func() {
		w, err := NewCBCEncryptWriter(pw, key, iv)
		if err != nil {
			pw.CloseWithError(err)
			return
		}
		if _, err := io.Copy(w, io.TeeReader(src, wantHash)); err != nil {
			pw.CloseWithError(err)
			return
		}
		pw.CloseWithError(w.Close())
	}()
	r, err := NewCBCDecryptReader(pr, key, iv)
	if err != nil {
		t.Fatal(err)
	}
	gotHash := sm3.New()
	n, err := io.Copy(gotHash, r)
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if n != size {
		t.Fatalf("decrypted %d bytes, want %d", n, size)
	}
	if !bytes.Equal(gotHash.Sum(nil), wantHash.Sum(nil)) {
		t.Fatal("plaintext digest differs")
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("20 MB streamed with %d KB allocated in total", alloc>>10)
	if alloc > 2<<20 {
		t.Fatalf("allocated %d bytes to stream %d: memory grows with the stream", alloc, size)
	}
}

func TestCBCOpenSSL(t *testing.T) {
	key, iv := NewKey(), NewKey()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 16, 100, 200001} {
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(rng.Uint32())
		}
		ct := encryptCBC(t, key, iv, msg, 1000)
		pt := openssl(t, ct, "enc", "-d", "-sm4-cbc", "-K", hexs(key), "-iv", hexs(iv))
		if !bytes.Equal(pt, msg) {
			t.Fatalf("n=%d: openssl could not decrypt our CBC", n)
		}
		oct := openssl(t, msg, "enc", "-sm4-cbc", "-K", hexs(key), "-iv", hexs(iv))
		if !bytes.Equal(oct, ct) {
			t.Fatalf("n=%d: openssl CBC ciphertext differs from ours", n)
		}
		r, _ := NewCBCDecryptReader(bytes.NewReader(oct), key, iv)
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("n=%d: decrypt openssl CBC: %v", n, err)
		}
	}
}
