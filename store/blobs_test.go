package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm3"
)

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("connection reset")
	}
	n := min(len(p), f.n)
	f.n -= n
	return n, nil
}

// testBlobs is the contract every Blobs implementation keeps.
func testBlobs(t *testing.T, b Blobs) {
	ctx := context.Background()
	data := make([]byte, 300_000)
	rand.Read(data)
	sum := sm3.Sum(data)
	keys := []string{"applyno/GA2026-0001/chunk/0", "../../../etc/passwd", "保函/完整.ofd", "/abs", "a\\b", strings.Repeat("k", MaxBlobKey)}
	for _, key := range keys {
		n, digest, err := b.Put(ctx, key, bytes.NewReader(data))
		if err != nil || n != int64(len(data)) || digest != hex.EncodeToString(sum[:]) {
			t.Fatalf("Put(%q) = %d, %s, %v", key, n, digest, err)
		}
		r, err := b.Open(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Open(%q): %d bytes, %v", key, len(got), err)
		}
	}
	// Overwrite.
	if _, _, err := b.Put(ctx, keys[0], strings.NewReader("short")); err != nil {
		t.Fatal(err)
	}
	r, _ := b.Open(ctx, keys[0])
	got, _ := io.ReadAll(r)
	r.Close()
	if string(got) != "short" {
		t.Fatalf("after overwrite: %q", got)
	}
	// A failed Put leaves the old content.
	if _, _, err := b.Put(ctx, keys[0], &failingReader{n: 100_000}); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("failing reader: %v", err)
	}
	r, _ = b.Open(ctx, keys[0])
	got, _ = io.ReadAll(r)
	r.Close()
	if string(got) != "short" {
		t.Fatalf("after a failed put: %q", got)
	}
	// Cancelled context.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := b.Put(cctx, "cancelled", bytes.NewReader(data)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled put: %v", err)
	}
	// Delete, twice.
	for range 2 {
		if err := b.Delete(ctx, keys[0]); err != nil {
			t.Fatal(err)
		}
	}
	for _, key := range []string{keys[0], "never-stored", "cancelled"} {
		if _, err := b.Open(ctx, key); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Open(%q) of a missing blob: %v", key, err)
		}
	}
	// Empty content is content.
	if n, digest, err := b.Put(ctx, "empty", strings.NewReader("")); err != nil || n != 0 || digest != "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b" {
		t.Fatalf("empty: %d %s %v", n, digest, err)
	}
	testHashed(t, b)
	// Bad keys.
	for _, key := range []string{"", strings.Repeat("k", MaxBlobKey+1), "bad\xff", "nul\x00"} {
		if _, _, err := b.Put(ctx, key, strings.NewReader("x")); err == nil {
			t.Errorf("Put accepted key %q", key)
		}
		if _, err := b.Open(ctx, key); err == nil || errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(%q): %v, want a key error", key, err)
		}
		if err := b.Delete(ctx, key); err == nil {
			t.Errorf("Delete accepted key %q", key)
		}
	}
}

// testHashed: a *Hashed is stored from its bytes with the digest
// HashBytes computed; read from first, it is an ordinary reader.
func testHashed(t *testing.T, b Blobs) {
	t.Helper()
	ctx := context.Background()
	data := make([]byte, 200_000)
	rand.Read(data)
	sum := sm3.Sum(data)
	want := hex.EncodeToString(sum[:])
	h := HashBytes(data)
	if h.SM3() != want || h.Len() != len(data) {
		t.Fatalf("HashBytes: %s, %d bytes; want %s, %d", h.SM3(), h.Len(), want, len(data))
	}
	if n, digest, err := b.Put(ctx, "hashed", h); err != nil || n != int64(len(data)) || digest != want {
		t.Fatalf("Put(Hashed) = %d, %s, %v; want %d, %s", n, digest, err, len(data), want)
	}
	if got := readBlob(t, b, "hashed"); !bytes.Equal(got, data) {
		t.Fatalf("Open after Put(Hashed): %d bytes, not the data", len(got))
	}
	// Put does not hash a Hashed again: it returns the digest HashBytes
	// computed (which is why the bytes must not change after HashBytes).
	tampered := bytes.Clone(data)
	h = HashBytes(tampered)
	tampered[0] ^= 1
	if _, digest, err := b.Put(ctx, "hashed", h); err != nil || digest != want {
		t.Fatalf("Put(Hashed) hashed the bytes again: %s, %v; want the digest of HashBytes %s", digest, err, want)
	}
	// Once read from, a Hashed is an ordinary reader: Put hashes what is left.
	h = HashBytes(data)
	if _, err := io.ReadFull(h, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	rest := sm3.Sum(data[1000:])
	if n, digest, err := b.Put(ctx, "hashed", h); err != nil || n != int64(len(data)-1000) || digest != hex.EncodeToString(rest[:]) {
		t.Fatalf("Put(Hashed read from) = %d, %s, %v; want %d, %x", n, digest, err, len(data)-1000, rest)
	}
	if got := readBlob(t, b, "hashed"); !bytes.Equal(got, data[1000:]) {
		t.Fatalf("Open after Put(Hashed read from): %d bytes, not the rest", len(got))
	}
	// As a reader and a WriterTo, a Hashed gives its bytes once.
	h = HashBytes(data)
	var buf bytes.Buffer
	if n, err := io.Copy(&buf, h); err != nil || n != int64(len(data)) || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("io.Copy(Hashed) = %d, %v", n, err)
	}
	if got, _ := io.ReadAll(h); len(got) != 0 {
		t.Fatalf("a Hashed read again gave %d bytes", len(got))
	}
	// Empty, and a cancelled context.
	if n, digest, err := b.Put(ctx, "hashed-empty", HashBytes(nil)); err != nil || n != 0 || digest != "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b" {
		t.Fatalf("empty Hashed: %d %s %v", n, digest, err)
	}
	if got := readBlob(t, b, "hashed-empty"); len(got) != 0 {
		t.Fatalf("empty Hashed stored %d bytes", len(got))
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := b.Put(cctx, "hashed-cancelled", HashBytes(data)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Put(Hashed): %v", err)
	}
	if _, err := b.Open(ctx, "hashed-cancelled"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("cancelled Put(Hashed) stored something: %v", err)
	}
	for _, key := range []string{"hashed", "hashed-empty"} {
		if err := b.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
}

func readBlob(t *testing.T, b Blobs, key string) []byte {
	t.Helper()
	r, err := b.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestDirBlobs(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "blobs")
	b, err := NewDirBlobs(dir)
	if err != nil {
		t.Fatal(err)
	}
	testBlobs(t, b)
	// Nothing escaped the directory, no temporary file was left behind, and
	// no file name carries a key.
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if p != root && strings.HasPrefix(rel, "..") {
			t.Errorf("file outside the blob directory: %s", p)
		}
		if strings.Contains(d.Name(), ".tmp") || strings.Contains(d.Name(), "passwd") || strings.Contains(d.Name(), "GA2026") {
			t.Errorf("unexpected file %s", p)
		}
		if !d.IsDir() {
			if info, _ := d.Info(); info.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %v, want 0600", p, info.Mode().Perm())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewDirBlobs(""); err == nil {
		t.Fatal("empty directory accepted")
	}
	if _, err := os.Stat(filepath.Join(root, "etc")); err == nil {
		t.Fatal("traversal created a directory")
	}
}

func TestDBBlobs(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		b := NewDBBlobs(env.open(t))
		testBlobs(t, b)
		// The table keeps size and digest of what a Hashed stored.
		data := []byte("a chunk whose digest the caller has")
		h := HashBytes(data)
		if _, _, err := b.Put(context.Background(), "known", h); err != nil {
			t.Fatal(err)
		}
		var (
			size   int64
			digest string
		)
		if err := b.DB.QueryRowContext(context.Background(), b.DB.Rebind(`SELECT size, sm3 FROM blobs WHERE blob_key = ?`), "known").Scan(&size, &digest); err != nil {
			t.Fatal(err)
		}
		if sum := sm3.Sum(data); size != int64(len(data)) || digest != hex.EncodeToString(sum[:]) {
			t.Fatalf("blobs row of a Hashed: size %d, sm3 %s; want %d, %x", size, digest, len(data), sum)
		}
		b.MaxSize = 10
		if _, _, err := b.Put(context.Background(), "big", strings.NewReader("01234567890")); err == nil || !strings.Contains(err.Error(), "more than 10 bytes") {
			t.Fatalf("over MaxSize: %v", err)
		}
		if _, _, err := b.Put(context.Background(), "big", HashBytes([]byte("01234567890"))); err == nil || !strings.Contains(err.Error(), "more than 10 bytes") {
			t.Fatalf("Hashed over MaxSize: %v", err)
		}
	})
}

// failAfter reads n bytes of r, then fails.
type failAfter struct {
	r io.Reader
	n int
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("the source broke")
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	k, err := f.r.Read(p)
	f.n -= k
	return k, err
}

// TestDBBlobsParts: a blob larger than a part is stored in parts and
// read back whole, as a stream and at any offset (io.ReaderAt), with the
// size and SM3 of what was written; replacing it (by a smaller blob, by
// a larger one) leaves only the new content's parts; a Put whose source
// breaks keeps the old content and leaves no part behind; Delete removes
// the parts; a blob of the old form (data in its row) still opens, as an
// io.ReaderAt too.
func TestDBBlobsParts(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		db := env.open(t)
		b := NewDBBlobs(db)
		parts := func() (n int) {
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM blob_parts`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		big := make([]byte, 2*BlobPartSize+12345)
		for i := range big {
			big[i] = byte(i * 7 / 5)
		}
		size, sum, err := b.Put(ctx, "big", bytes.NewReader(big))
		want := sm3.Sum(big)
		if err != nil || size != int64(len(big)) || sum != hex.EncodeToString(want[:]) {
			t.Fatalf("Put: %d %s %v", size, sum, err)
		}
		if n := parts(); n != 3 {
			t.Fatalf("%d parts, want 3", n)
		}
		if got := readBlob(t, b, "big"); !bytes.Equal(got, big) {
			t.Fatalf("read back %d bytes, differ", len(got))
		}
		rc, err := b.Open(ctx, "big")
		if err != nil {
			t.Fatal(err)
		}
		ra, ok := rc.(io.ReaderAt)
		if !ok {
			t.Fatal("a blob in parts is not an io.ReaderAt")
		}
		for _, off := range []int64{0, BlobPartSize - 3, 2*BlobPartSize + 12000, 5} {
			p := make([]byte, 100)
			n, err := ra.ReadAt(p, off)
			end := min(off+100, int64(len(big)))
			if int64(n) != end-off || !bytes.Equal(p[:n], big[off:end]) || (end-off < 100) != (err == io.EOF) {
				t.Fatalf("ReadAt %d: %d bytes, %v", off, n, err)
			}
		}
		rc.Close()

		// The source breaks in the second part: the old content stays.
		if _, _, err := b.Put(ctx, "big", &failAfter{r: bytes.NewReader(make([]byte, 3*BlobPartSize)), n: BlobPartSize + 10}); err == nil || !strings.Contains(err.Error(), "the source broke") {
			t.Fatalf("broken source: %v", err)
		}
		if got := readBlob(t, b, "big"); !bytes.Equal(got, big) || parts() != 3 {
			t.Fatalf("after a failed Put: %d bytes, %d parts", len(got), parts())
		}
		// Larger, then small: only the current content's parts remain.
		bigger := append(bytes.Clone(big), big...)
		if _, _, err := b.Put(ctx, "big", bytes.NewReader(bigger)); err != nil {
			t.Fatal(err)
		}
		if got := readBlob(t, b, "big"); !bytes.Equal(got, bigger) || parts() != 5 {
			t.Fatalf("replaced by a larger blob: %d bytes, %d parts", len(got), parts())
		}
		if _, _, err := b.Put(ctx, "big", strings.NewReader("small now")); err != nil {
			t.Fatal(err)
		}
		if got := readBlob(t, b, "big"); string(got) != "small now" || parts() != 0 {
			t.Fatalf("replaced by a small blob: %q, %d parts", got, parts())
		}
		if _, _, err := b.Put(ctx, "big", bytes.NewReader(big)); err != nil {
			t.Fatal(err)
		}
		if err := b.Delete(ctx, "big"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Open(ctx, "big"); !errors.Is(err, fs.ErrNotExist) || parts() != 0 {
			t.Fatalf("deleted: %v, %d parts", err, parts())
		}
		// A Hashed above 1 MiB goes in parts too, a chunk-sized one in its row.
		large := bytes.Repeat(big[:1000], 1600)
		if _, _, err := b.Put(ctx, "hashed", HashBytes(large)); err != nil {
			t.Fatal(err)
		}
		if got := readBlob(t, b, "hashed"); !bytes.Equal(got, large) || parts() != 7 {
			t.Fatalf("a large Hashed: %d bytes, %d parts", len(got), parts())
		}
		if _, _, err := b.Put(ctx, "hashed", HashBytes(large[:512<<10])); err != nil {
			t.Fatal(err)
		}
		if got := readBlob(t, b, "hashed"); !bytes.Equal(got, large[:512<<10]) || parts() != 0 {
			t.Fatalf("a chunk-sized Hashed: %d bytes, %d parts", len(got), parts())
		}
		// A row of the old form: data inline, no parts columns set.
		if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO blobs (blob_key, size, sm3, data, created_at) VALUES (?, ?, ?, ?, 0)`),
			"old", 3, "x", []byte("old")); err != nil {
			t.Fatal(err)
		}
		rc, err = b.Open(ctx, "old")
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if _, ok := rc.(io.ReaderAt); !ok {
			t.Fatal("a blob in its row is not an io.ReaderAt")
		}
		if got := readBlob(t, b, "old"); string(got) != "old" {
			t.Fatalf("old row: %q", got)
		}
	})
}

// TestDBBlobsPutTx: a blob put in a transaction exists once the
// transaction commits and not at all when it rolls back, and replaces
// an earlier content of the key in parts.
func TestDBBlobsPutTx(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		db := env.open(t)
		b := NewDBBlobs(db)
		if _, _, err := b.Put(ctx, "k", bytes.NewReader(make([]byte, 3*BlobPartSize))); err != nil {
			t.Fatal(err)
		}
		chunk := bytes.Repeat([]byte("chunk"), 100000)
		for _, commit := range []bool{false, true} {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := b.PutTx(ctx, tx, "k", HashBytes(chunk)); err != nil {
				t.Fatal(err)
			}
			if commit {
				err = tx.Commit()
			} else {
				err = tx.Rollback()
			}
			if err != nil {
				t.Fatal(err)
			}
			got := readBlob(t, b, "k")
			if want := map[bool]int{false: 3 * BlobPartSize, true: len(chunk)}[commit]; len(got) != want {
				t.Fatalf("commit %v: %d bytes, want %d", commit, len(got), want)
			}
		}
		var parts int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM blob_parts`).Scan(&parts); err != nil || parts != 0 {
			t.Fatalf("%d parts left, %v", parts, err)
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if err := b.PutTx(ctx, tx, "big", HashBytes(make([]byte, 2<<20))); err == nil || !strings.Contains(err.Error(), "in one transaction") {
			t.Fatalf("2 MiB in a transaction: %v", err)
		}
	})
}
