package store

import (
	"bytes"
	"context"
	"crypto/rand"
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
	"sync"
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

// DBBlobs keeps blobs in the database, so every replica sees them. A
// blob of at most one part (BlobPartSize), or a *Hashed of at most 1 MiB
// (an uploaded chunk), is one row of the blobs table, as it always was; a
// larger one is written as a stream, in parts of BlobPartSize in
// blob_parts under a fresh generation, and the blobs row, written last,
// names that generation (on PostgreSQL all in one transaction): readers
// see the old content or the new, and neither Put nor Open holds more
// than one part of a blob in memory (Open's reader is an io.ReaderAt
// that loads the part it needs). The parts of the generation a Put
// replaced are deleted after it, and so are those of a Put that failed.
// MaxSize bounds a blob.
type DBBlobs struct {
	DB      *DB
	MaxSize int64 // default 64 MiB
	Now     func() time.Time
}

// BlobPartSize is the size of the parts of a DBBlobs blob.
const BlobPartSize = 256 << 10

// NewDBBlobs returns the blob store of db.
func NewDBBlobs(db *DB) *DBBlobs { return &DBBlobs{DB: db} }

// maxSize is MaxSize or its default.
func (b *DBBlobs) maxSize() int64 {
	if b.MaxSize > 0 {
		return b.MaxSize
	}
	return 64 << 20
}

func (b *DBBlobs) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// Put implements Blobs.
func (b *DBBlobs) Put(ctx context.Context, key string, r io.Reader) (int64, string, error) {
	if err := CheckBlobKey(key); err != nil {
		return 0, "", err
	}
	limit, now := b.maxSize(), b.now()
	data, sum, known := unread(r)
	if known {
		if err := ctx.Err(); err != nil {
			return 0, "", fmt.Errorf("store: blob %q: read: %w", key, err)
		}
		if int64(len(data)) > limit {
			return 0, "", fmt.Errorf("store: blob %q: more than %d bytes", key, limit)
		}
		if len(data) <= blobRowMax {
			return b.putRow(ctx, key, data, sum, now)
		}
		r = bytes.NewReader(data)
	}
	// Read the first part: a blob that fits in it is one row.
	h := sm3.New()
	src := io.TeeReader(io.LimitReader(ctxio.Reader(ctx, r), limit+1), h)
	buf := make([]byte, BlobPartSize)
	n, err := io.ReadFull(src, buf)
	switch {
	case (err == io.EOF || err == io.ErrUnexpectedEOF) && int64(n) > limit:
		return 0, "", fmt.Errorf("store: blob %q: more than %d bytes", key, limit)
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return b.putRow(ctx, key, buf[:n], hexSum(h), now)
	case err != nil:
		return 0, "", fmt.Errorf("store: blob %q: read: %w", key, err)
	}
	gen := newGen()
	// PostgreSQL: the parts and the row in one transaction (one commit,
	// nothing left behind by a failure). SQLite: one write each, so
	// that the single writer is not held while the source is read; a
	// failure deletes what was written.
	exec := func(q string, args ...any) error { _, err := b.DB.execWrite(ctx, q, args...); return err }
	var tx *sql.Tx
	if b.DB.Dialect == Postgres {
		if tx, err = b.DB.Writer().BeginTx(ctx, nil); err != nil {
			return 0, "", fmt.Errorf("store: blob %q: %w", key, err)
		}
		defer tx.Rollback()
		exec = func(q string, args ...any) error { _, err := tx.ExecContext(ctx, b.DB.Rebind(q), args...); return err }
	}
	size, parts, err := putParts(key, gen, buf, src, limit, exec)
	if err == nil {
		sum = hexSum(h)
		err = exec(`INSERT INTO blobs (blob_key, size, sm3, data, created_at, parts, gen) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (blob_key) DO UPDATE SET size = excluded.size, sm3 = excluded.sm3, data = excluded.data, created_at = excluded.created_at,
			parts = excluded.parts, gen = excluded.gen`,
			key, size, sum, []byte{}, Micros(now), parts, gen)
		if err != nil {
			err = fmt.Errorf("store: blob %q: %w", key, err)
		}
	}
	if err == nil && tx != nil {
		// The parts of the generation replaced.
		if err = exec(`DELETE FROM blob_parts WHERE blob_key = ? AND gen <> ?`, key, gen); err == nil {
			err = tx.Commit()
		}
		if err != nil {
			err = fmt.Errorf("store: blob %q: %w", key, err)
		}
	}
	if err != nil {
		if tx == nil {
			// This generation's parts: the old content stays.
			b.DB.execWrite(context.WithoutCancel(ctx), `DELETE FROM blob_parts WHERE blob_key = ? AND gen = ?`, key, gen)
		}
		return 0, "", err
	}
	if tx == nil {
		// The parts of the generation replaced (best effort: the row no
		// longer names them; the next Put of the key drops them too).
		b.DB.execWrite(context.WithoutCancel(ctx), `DELETE FROM blob_parts WHERE blob_key = ? AND gen <> ?`, key, gen)
	}
	return size, sum, nil
}

// blobRowMax is the largest blob of known size (a *Hashed: an uploaded
// chunk) kept in its blobs row.
const blobRowMax = 1 << 20

// putRow stores a blob in its blobs row (and drops the parts an earlier
// content of the key had).
func (b *DBBlobs) putRow(ctx context.Context, key string, data []byte, sum string, now time.Time) (int64, string, error) {
	err := b.writeRow(key, data, sum, now, func(q string, args ...any) error {
		_, err := b.DB.execWrite(ctx, q, args...)
		return err
	})
	if err != nil {
		return 0, "", err
	}
	return int64(len(data)), sum, nil
}

// writeRow writes key's blobs row holding data and drops the parts of an
// earlier content of the key, through exec (a statement each; on
// PostgreSQL one statement for both).
func (b *DBBlobs) writeRow(key string, data []byte, sum string, now time.Time, exec func(q string, args ...any) error) error {
	if data == nil {
		data = []byte{} // empty, not NULL
	}
	const upsert = `INSERT INTO blobs (blob_key, size, sm3, data, created_at, parts, gen) VALUES (?, ?, ?, ?, ?, 0, '')
		ON CONFLICT (blob_key) DO UPDATE SET size = excluded.size, sm3 = excluded.sm3, data = excluded.data, created_at = excluded.created_at,
		parts = 0, gen = ''`
	var err error
	if b.DB.Dialect == Postgres {
		err = exec(`WITH p AS (DELETE FROM blob_parts WHERE blob_key = ?) `+upsert, key, key, int64(len(data)), sum, data, Micros(now))
	} else if err = exec(upsert, key, int64(len(data)), sum, data, Micros(now)); err == nil {
		err = exec(`DELETE FROM blob_parts WHERE blob_key = ?`, key)
	}
	if err != nil {
		return fmt.Errorf("store: blob %q: %w", key, err)
	}
	return nil
}

// PutTx stores the bytes of h (at most 1 MiB: an uploaded chunk) under
// key in tx, in its blobs row: the blob commits, or not, with the rows
// of tx that name it, in one commit. tx must be a transaction of b.DB.
// h's bytes and digest are used as they are (h is not read), so a
// transaction retried runs PutTx again with the same content.
func (b *DBBlobs) PutTx(ctx context.Context, tx *sql.Tx, key string, h *Hashed) error {
	if err := CheckBlobKey(key); err != nil {
		return err
	}
	limit := b.maxSize()
	if n := int64(len(h.data)); n > limit || n > blobRowMax {
		return fmt.Errorf("store: blob %q: %d bytes, more than %d in one transaction", key, n, min(limit, blobRowMax))
	}
	return b.writeRow(key, h.data, h.hex, b.now(), func(q string, args ...any) error {
		_, err := tx.ExecContext(ctx, b.DB.Rebind(q), args...)
		return err
	})
}

// putParts writes first (a full part) and the rest of src as the parts
// of key's generation gen, one statement each, and returns the size and
// the number of parts.
func putParts(key, gen string, first []byte, src io.Reader, limit int64, exec func(q string, args ...any) error) (size int64, parts int, err error) {
	buf := first
	for len(buf) > 0 {
		if err := exec(`INSERT INTO blob_parts (blob_key, gen, n, data) VALUES (?, ?, ?, ?)`, key, gen, parts, buf); err != nil {
			return 0, 0, fmt.Errorf("store: blob %q: part %d: %w", key, parts, err)
		}
		size += int64(len(buf))
		parts++
		if size > limit {
			return 0, 0, fmt.Errorf("store: blob %q: more than %d bytes", key, limit)
		}
		n, err := io.ReadFull(src, buf[:cap(buf)])
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return 0, 0, fmt.Errorf("store: blob %q: read: %w", key, err)
		}
		buf = buf[:n]
	}
	return size, parts, nil
}

// newGen is a fresh generation name for the parts of one Put.
func newGen() string {
	var g [12]byte
	if _, err := rand.Read(g[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(g[:])
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// Open implements Blobs. The reader is also an io.ReaderAt.
func (b *DBBlobs) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := CheckBlobKey(key); err != nil {
		return nil, err
	}
	var (
		data  []byte
		size  int64
		parts int
		gen   string
	)
	err := b.DB.QueryRowContext(ctx, b.DB.Rebind(`SELECT data, size, parts, gen FROM blobs WHERE blob_key = ?`), key).Scan(&data, &size, &parts, &gen)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: blob %q: %w", key, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("store: blob %q: %w", key, err)
	}
	if parts == 0 {
		return &memBlob{bytes.NewReader(data)}, nil
	}
	pr := &partsReader{ctx: ctx, db: b.DB, key: key, gen: gen, size: size, parts: parts, cur: -1}
	pr.sr = io.NewSectionReader(pr, 0, size)
	return pr, nil
}

// memBlob is a blob read whole (one part).
type memBlob struct{ *bytes.Reader }

func (memBlob) Close() error { return nil }

// partsReader reads a blob stored in parts, loading one part at a time.
type partsReader struct {
	ctx   context.Context
	db    *DB
	key   string
	gen   string
	size  int64
	parts int
	sr    *io.SectionReader

	mu   sync.Mutex
	cur  int // the part in data; -1 none
	data []byte
}

func (p *partsReader) Read(b []byte) (int, error) { return p.sr.Read(b) }

func (p *partsReader) Close() error {
	p.mu.Lock()
	p.data, p.cur = nil, -1
	p.mu.Unlock()
	return nil
}

// ReadAt implements io.ReaderAt.
func (p *partsReader) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("store: blob %q: negative offset", p.key)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for n < len(b) {
		if off >= p.size {
			return n, io.EOF
		}
		part := int(off / BlobPartSize)
		if part != p.cur {
			var data []byte
			err := p.db.QueryRowContext(p.ctx, p.db.Rebind(`SELECT data FROM blob_parts WHERE blob_key = ? AND gen = ? AND n = ?`), p.key, p.gen, part).Scan(&data)
			if errors.Is(err, sql.ErrNoRows) {
				return n, fmt.Errorf("store: blob %q: part %d of %d is missing", p.key, part, p.parts)
			}
			if err != nil {
				return n, fmt.Errorf("store: blob %q: part %d: %w", p.key, part, err)
			}
			p.cur, p.data = part, data
		}
		in := int(off - int64(part)*BlobPartSize)
		if in >= len(p.data) {
			return n, fmt.Errorf("store: blob %q: part %d is %d bytes, short of offset %d", p.key, part, len(p.data), in)
		}
		k := copy(b[n:], p.data[in:])
		n += k
		off += int64(k)
	}
	return n, nil
}

// Delete implements Blobs.
func (b *DBBlobs) Delete(ctx context.Context, key string) error {
	if err := CheckBlobKey(key); err != nil {
		return err
	}
	if b.DB.Dialect == Postgres {
		// One statement, one commit.
		if _, err := b.DB.execWrite(ctx, `WITH p AS (DELETE FROM blob_parts WHERE blob_key = ?) DELETE FROM blobs WHERE blob_key = ?`, key, key); err != nil {
			return fmt.Errorf("store: blob %q: %w", key, err)
		}
		return nil
	}
	if _, err := b.DB.execWrite(ctx, `DELETE FROM blobs WHERE blob_key = ?`, key); err != nil {
		return fmt.Errorf("store: blob %q: %w", key, err)
	}
	if _, err := b.DB.execWrite(ctx, `DELETE FROM blob_parts WHERE blob_key = ?`, key); err != nil {
		return fmt.Errorf("store: blob %q: parts: %w", key, err)
	}
	return nil
}
