package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emmansun/gmsm/sm3"

	"github.com/baohan-dev/baohan/internal/ctxio"
)

// Blobs stores large files (guarantee chunks, assembled OFD files) by key.
// The services keep the metadata (which key belongs to which application)
// in their own tables.
type Blobs interface {
	// Put stores r under key, replacing any previous content atomically,
	// and returns its size and lowercase hex SM3 digest. When r is a
	// *Hashed not yet read from, Put stores its bytes and returns the
	// digest HashBytes computed, without hashing them again.
	Put(ctx context.Context, key string, r io.Reader) (size int64, sm3hex string, err error)
	// Open reads key; a missing key is an error wrapping fs.ErrNotExist.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// Hashed is bytes with their SM3 digest, made by HashBytes: a caller that
// needs the digest before storing the bytes (a chunk's blob key names its
// digest) hashes them once, and Put stores them without a second pass. The
// digest is always computed here from the bytes, never taken from the
// caller, so the digest Put returns is that of what it stored, provided
// the bytes are not changed after HashBytes.
//
// A Hashed is also an io.Reader over the bytes (read once, like any
// reader), so a Blobs that does not know it hashes what it reads; once
// read from, Put treats it as any other reader.
type Hashed struct {
	data []byte
	hex  string
	off  int
}

// HashBytes computes the SM3 digest of data. data must not change
// afterwards.
func HashBytes(data []byte) *Hashed {
	sum := sm3.Sum(data)
	return &Hashed{data: data, hex: hex.EncodeToString(sum[:])}
}

// SM3 is the lowercase hex SM3 digest of the bytes.
func (h *Hashed) SM3() string { return h.hex }

// Len is the number of bytes.
func (h *Hashed) Len() int { return len(h.data) }

// Read implements io.Reader.
func (h *Hashed) Read(p []byte) (int, error) {
	if h.off >= len(h.data) {
		return 0, io.EOF
	}
	n := copy(p, h.data[h.off:])
	h.off += n
	return n, nil
}

// WriteTo implements io.WriterTo.
func (h *Hashed) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(h.data[h.off:])
	h.off += n
	return int64(n), err
}

// unread returns the bytes and their digest if r is a *Hashed not yet
// read from, and marks it read.
func unread(r io.Reader) ([]byte, string, bool) {
	h, ok := r.(*Hashed)
	if !ok || h.off != 0 {
		return nil, "", false
	}
	h.off = len(h.data)
	return h.data, h.hex, true
}

// MaxBlobKey is the longest key accepted (bytes).
const MaxBlobKey = 1024

// CheckBlobKey says what is wrong with key, if anything: it must be
// non-empty, at most MaxBlobKey bytes of valid UTF-8 without NUL. Any
// such string is a safe key: keys never become paths.
func CheckBlobKey(key string) error {
	switch {
	case key == "":
		return errors.New("store: blob key is empty")
	case len(key) > MaxBlobKey:
		return fmt.Errorf("store: blob key is %d bytes, more than %d", len(key), MaxBlobKey)
	case !utf8.ValidString(key):
		return errors.New("store: blob key is not valid UTF-8")
	case strings.IndexByte(key, 0) >= 0:
		return errors.New("store: blob key contains NUL")
	}
	return nil
}

// DirBlobs keeps blobs as files in a directory. A key is never used in a
// path: the file name is the SM3 of the key (two-level fan-out), so an
// applyno or any other peer-supplied text cannot escape the directory.
// Writes go to a temporary file, are fsynced and renamed into place, so a
// reader sees the old content or the new, never a torn file. Good for one
// host; replicas on several hosts share blobs through DBBlobs (or a
// shared file system).
type DirBlobs struct {
	Dir string
}

// NewDirBlobs creates dir (0700) if needed.
func NewDirBlobs(dir string) (*DirBlobs, error) {
	if dir == "" {
		return nil, errors.New("store: blob directory is empty")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: blob directory: %w", err)
	}
	return &DirBlobs{Dir: dir}, nil
}

func (b *DirBlobs) path(key string) (string, error) {
	if err := CheckBlobKey(key); err != nil {
		return "", err
	}
	s := sm3.Sum([]byte("baohan blob key\x00" + key))
	name := hex.EncodeToString(s[:])
	return filepath.Join(b.Dir, name[:2], name), nil
}

// Put implements Blobs.
func (b *DirBlobs) Put(ctx context.Context, key string, r io.Reader) (int64, string, error) {
	p, err := b.path(key)
	if err != nil {
		return 0, "", err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, "", fmt.Errorf("store: blob %q: %w", key, err)
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return 0, "", fmt.Errorf("store: blob %q: %w", key, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	var (
		n   int64
		sum string
	)
	if data, known, ok := unread(r); ok {
		if err := ctx.Err(); err != nil {
			return 0, "", fmt.Errorf("store: blob %q: write: %w", key, err)
		}
		w, err := f.Write(data)
		if err != nil {
			return 0, "", fmt.Errorf("store: blob %q: write: %w", key, err)
		}
		n, sum = int64(w), known
	} else {
		h := sm3.New()
		n, err = io.Copy(io.MultiWriter(f, h), ctxio.Reader(ctx, r))
		if err != nil {
			return 0, "", fmt.Errorf("store: blob %q: write: %w", key, err)
		}
		sum = hexSum(h)
	}
	if err := f.Sync(); err != nil {
		return 0, "", fmt.Errorf("store: blob %q: fsync: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return 0, "", fmt.Errorf("store: blob %q: %w", key, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return 0, "", fmt.Errorf("store: blob %q: %w", key, err)
	}
	ok = true
	syncDir(dir)
	return n, sum, nil
}

// syncDir makes a rename durable (best effort: not every OS can).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Open implements Blobs.
func (b *DirBlobs) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	p, err := b.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("store: blob %q: %w", key, fs.ErrNotExist)
		}
		return nil, fmt.Errorf("store: blob %q: %w", key, err)
	}
	return f, nil
}

// Delete implements Blobs.
func (b *DirBlobs) Delete(ctx context.Context, key string) error {
	p, err := b.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store: blob %q: %w", key, err)
	}
	return nil
}

// DBBlobs keeps blobs in the database's blobs table, so every replica
// sees them. Each Put holds the whole blob in memory once (a *Hashed is
// stored from its own bytes); MaxSize bounds it.
type DBBlobs struct {
	DB      *DB
	MaxSize int64 // default 64 MiB
	Now     func() time.Time
}

// NewDBBlobs returns the blob store of db.
func NewDBBlobs(db *DB) *DBBlobs { return &DBBlobs{DB: db} }

// Put implements Blobs.
func (b *DBBlobs) Put(ctx context.Context, key string, r io.Reader) (int64, string, error) {
	if err := CheckBlobKey(key); err != nil {
		return 0, "", err
	}
	limit := b.MaxSize
	if limit <= 0 {
		limit = 64 << 20
	}
	data, sum, known := unread(r)
	n := int64(len(data))
	if known {
		if err := ctx.Err(); err != nil {
			return 0, "", fmt.Errorf("store: blob %q: read: %w", key, err)
		}
	} else {
		var buf bytes.Buffer
		h := sm3.New()
		var err error
		n, err = io.Copy(io.MultiWriter(&buf, h), io.LimitReader(ctxio.Reader(ctx, r), limit+1))
		if err != nil {
			return 0, "", fmt.Errorf("store: blob %q: read: %w", key, err)
		}
		data, sum = buf.Bytes(), hexSum(h)
	}
	if n > limit {
		return 0, "", fmt.Errorf("store: blob %q: more than %d bytes", key, limit)
	}
	if data == nil {
		data = []byte{} // empty, not NULL
	}
	now := time.Now()
	if b.Now != nil {
		now = b.Now()
	}
	_, err := b.DB.execWrite(ctx, `INSERT INTO blobs (blob_key, size, sm3, data, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (blob_key) DO UPDATE SET size = excluded.size, sm3 = excluded.sm3, data = excluded.data, created_at = excluded.created_at`,
		key, n, sum, data, Micros(now))
	if err != nil {
		return 0, "", fmt.Errorf("store: blob %q: %w", key, err)
	}
	return n, sum, nil
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// Open implements Blobs.
func (b *DBBlobs) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := CheckBlobKey(key); err != nil {
		return nil, err
	}
	var data []byte
	err := b.DB.QueryRowContext(ctx, b.DB.Rebind(`SELECT data FROM blobs WHERE blob_key = ?`), key).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: blob %q: %w", key, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("store: blob %q: %w", key, err)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// Delete implements Blobs.
func (b *DBBlobs) Delete(ctx context.Context, key string) error {
	if err := CheckBlobKey(key); err != nil {
		return err
	}
	if _, err := b.DB.execWrite(ctx, `DELETE FROM blobs WHERE blob_key = ?`, key); err != nil {
		return fmt.Errorf("store: blob %q: %w", key, err)
	}
	return nil
}
