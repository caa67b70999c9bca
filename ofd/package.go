package ofd

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path"
	"strings"
	"time"
)

// Entry is one file of an OFD package: its zip name (no leading slash),
// its exact bytes and the time stored in the zip header.
//
// An entry of a package opened with OpenReaderAtLazy may be lazy: its
// Data is nil and its bytes stay in the zip until read (File, ReadFile,
// OpenFile, WriteTo inflate them on demand, within the package's limits).
type Entry struct {
	Name     string
	Data     []byte
	Modified time.Time

	zf    *zip.File // lazy entry: inflated on demand
	limit int64     // lazy entry: inflated bytes allowed

	// raw is the compressed form (deflate) Data was inflated from when the
	// package was read, a private copy checked then against rawCRC: WriteTo
	// writes it instead of compressing Data again while Data still has that
	// size and CRC (reusable).
	raw     []byte
	rawCRC  uint32
	rawSize int
}

// reusable reports whether the compressed form read can be written for
// the entry: it is deflated as WriteTo would, and Data still has the size
// and CRC-32 it inflated to.
func (e *Entry) reusable(method uint16) bool {
	return e.raw != nil && method == zip.Deflate && len(e.Data) == e.rawSize && crc32.ChecksumIEEE(e.Data) == e.rawCRC
}

// Lazy reports whether the entry's bytes are still in the zip (Data nil).
func (e *Entry) Lazy() bool { return e.zf != nil }

// Size is the entry's size in bytes: len(Data), or for a lazy entry the
// uncompressed size its header declares (the zip reader refuses to
// inflate more or fewer bytes).
func (e *Entry) Size() int64 {
	if e.zf != nil {
		return int64(e.zf.UncompressedSize64)
	}
	return int64(len(e.Data))
}

// Open returns a reader of the entry's bytes. A lazy entry is inflated as
// it is read; a read past the limits or of corrupt data fails with a
// *PackageError naming the entry.
func (e *Entry) Open() (io.ReadCloser, error) {
	if e.zf == nil {
		return io.NopCloser(bytes.NewReader(e.Data)), nil
	}
	rc, err := e.zf.Open()
	if err != nil {
		return nil, &PackageError{Entry: e.zf.Name, Kind: ErrCorruptEntry, Detail: err.Error()}
	}
	return &lazyReader{rc: rc, name: e.zf.Name, left: e.limit, declared: e.zf.UncompressedSize64}, nil
}

// bytes returns the entry's bytes, inflating a lazy entry (not kept).
func (e *Entry) bytes() ([]byte, error) {
	if e.zf == nil {
		return e.Data, nil
	}
	return readEntry(e.zf, e.limit, e.limit)
}

// lazyReader counts the inflated bytes of a lazy entry against its limit
// and names the entry in its errors.
type lazyReader struct {
	rc       io.ReadCloser
	name     string
	left     int64
	declared uint64
}

func (l *lazyReader) Read(b []byte) (int, error) {
	if int64(len(b)) > l.left+1 {
		b = b[:l.left+1]
	}
	n, err := l.rc.Read(b)
	l.left -= int64(n)
	if l.left < 0 {
		return n, &PackageError{Entry: l.name, Kind: ErrLimit, Detail: "more bytes uncompressed than the limits allow"}
	}
	switch {
	case err == nil, err == io.EOF:
		return n, err
	case errors.Is(err, zip.ErrFormat):
		return n, &PackageError{Entry: l.name, Kind: ErrCorruptEntry, Detail: fmt.Sprintf("inflates to more than its header declares (%d bytes), or is corrupt", l.declared)}
	default:
		return n, &PackageError{Entry: l.name, Kind: ErrCorruptEntry, Detail: err.Error()}
	}
}

func (l *lazyReader) Close() error { return l.rc.Close() }

// Package is an OFD container held in memory: the zip entries as byte
// slices, in order. Entries are hashed and signed as they are stored here,
// so a Package never re-serializes an entry: Add appends, Replace swaps
// the bytes of an entry that no signature protects (the caller checks;
// see ses), and Bytes writes every entry as it is.
type Package struct {
	entries []*Entry
	index   map[string]int
}

// NewPackage returns an empty package.
func NewPackage() *Package {
	return &Package{index: map[string]int{}}
}

// Name turns an OFD location into a zip entry name: a leading "/" is
// dropped ("/Doc_0/Document.xml" and "Doc_0/Document.xml" are the same
// entry).
func Name(loc string) string { return strings.TrimPrefix(loc, "/") }

// Add appends an entry. The name must be a clean relative path and new.
func (p *Package) Add(name string, data []byte, modified time.Time) error {
	name = Name(name)
	if err := checkName(name); err != nil {
		return err
	}
	if _, dup := p.index[name]; dup {
		return fmt.Errorf("ofd: entry %s already exists", name)
	}
	p.index[name] = len(p.entries)
	p.entries = append(p.entries, &Entry{Name: name, Data: data, Modified: modified})
	return nil
}

// Replace swaps the bytes of an existing entry. It never touches an entry
// a signature protects: ses checks before calling it.
func (p *Package) Replace(name string, data []byte, modified time.Time) error {
	name = Name(name)
	i, ok := p.index[name]
	if !ok {
		return fmt.Errorf("ofd: entry %s does not exist", name)
	}
	p.entries[i] = &Entry{Name: name, Data: data, Modified: modified}
	return nil
}

// Put adds the entry, or replaces it when it exists.
func (p *Package) Put(name string, data []byte, modified time.Time) error {
	if p.Has(name) {
		return p.Replace(name, data, modified)
	}
	return p.Add(name, data, modified)
}

// File returns the bytes of an entry, by zip name or absolute location.
// The slice is the package's own: do not modify it. A lazy entry is
// inflated for each call (and not kept); if that fails, File reports
// false: use ReadFile to learn why.
func (p *Package) File(name string) ([]byte, bool) {
	i, ok := p.index[Name(name)]
	if !ok {
		return nil, false
	}
	b, err := p.entries[i].bytes()
	if err != nil {
		return nil, false
	}
	return b, true
}

// ErrNoEntry is returned by ReadFile and OpenFile for a name the package
// does not hold.
var ErrNoEntry = errors.New("ofd: no such entry")

// ReadFile is File with the reason of a failure: ErrNoEntry, or the
// *PackageError of a lazy entry that cannot be inflated.
func (p *Package) ReadFile(name string) ([]byte, error) {
	i, ok := p.index[Name(name)]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNoEntry, Name(name))
	}
	return p.entries[i].bytes()
}

// OpenFile returns a reader of an entry's bytes (see Entry.Open): a lazy
// entry is streamed from the zip, never held whole.
func (p *Package) OpenFile(name string) (io.ReadCloser, error) {
	i, ok := p.index[Name(name)]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNoEntry, Name(name))
	}
	return p.entries[i].Open()
}

// entry returns the entry of a name, nil when there is none.
func (p *Package) entry(name string) *Entry {
	i, ok := p.index[Name(name)]
	if !ok {
		return nil
	}
	return p.entries[i]
}

// Has reports whether the entry exists.
func (p *Package) Has(name string) bool {
	_, ok := p.index[Name(name)]
	return ok
}

// Names lists the entries in package order.
func (p *Package) Names() []string {
	out := make([]string, len(p.entries))
	for i, e := range p.entries {
		out[i] = e.Name
	}
	return out
}

// Entries returns the entries in package order (shared, do not modify).
func (p *Package) Entries() []*Entry { return p.entries }

// Clone returns a package with the same entries; the byte slices are
// shared (they are never modified in place).
func (p *Package) Clone() *Package {
	q := &Package{entries: make([]*Entry, len(p.entries)), index: make(map[string]int, len(p.index))}
	for i, e := range p.entries {
		c := *e
		q.entries[i] = &c
		q.index[e.Name] = i
	}
	return q
}

// WriteTo writes the package as a zip: the same package gives the same
// bytes. PNG and JPEG entries are stored, the rest deflated. An entry read
// from a zip and left as it is keeps the deflated form it was read in
// (checked then: it inflated to its bytes), so that sealing a document
// does not compress it all again; new and replaced entries are compressed
// here.
func (p *Package) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	zw := zip.NewWriter(cw)
	for _, e := range p.entries {
		method := zip.Deflate
		switch strings.ToLower(path.Ext(e.Name)) {
		case ".png", ".jpg", ".jpeg", ".zip", ".ofd", ".gz":
			method = zip.Store
		}
		fh := &zip.FileHeader{Name: e.Name, Method: method, Modified: e.Modified}
		if e.Modified.IsZero() {
			fh.Modified = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		if e.zf == nil && e.reusable(method) {
			fh.CRC32 = e.rawCRC
			fh.CompressedSize64 = uint64(len(e.raw))
			fh.UncompressedSize64 = uint64(len(e.Data))
			w, err := zw.CreateRaw(fh)
			if err == nil {
				_, err = w.Write(e.raw)
			}
			if err != nil {
				return cw.n, fmt.Errorf("ofd: writing %s: %w", e.Name, err)
			}
			continue
		}
		fw, err := zw.CreateHeader(fh)
		if err != nil {
			return cw.n, fmt.Errorf("ofd: writing %s: %w", e.Name, err)
		}
		if e.zf == nil {
			if _, err := fw.Write(e.Data); err != nil {
				return cw.n, fmt.Errorf("ofd: writing %s: %w", e.Name, err)
			}
			continue
		}
		rc, err := e.Open()
		if err != nil {
			return cw.n, err
		}
		_, err = io.Copy(fw, rc)
		rc.Close()
		if err != nil {
			return cw.n, fmt.Errorf("ofd: writing %s: %w", e.Name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return cw.n, fmt.Errorf("ofd: closing zip: %w", err)
	}
	return cw.n, nil
}

// Bytes returns the package as zip bytes.
func (p *Package) Bytes() ([]byte, error) {
	var buf bytes.Buffer
	size := 0
	for _, e := range p.entries {
		size += int(e.Size())
	}
	buf.Grow(size/2 + 1024)
	if _, err := p.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
