package ofd

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
)

// Entry is one file of an OFD package: its zip name (no leading slash),
// its exact bytes and the time stored in the zip header.
type Entry struct {
	Name     string
	Data     []byte
	Modified time.Time
}

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
// The slice is the package's own: do not modify it.
func (p *Package) File(name string) ([]byte, bool) {
	i, ok := p.index[Name(name)]
	if !ok {
		return nil, false
	}
	return p.entries[i].Data, true
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

// WriteTo writes the package as a zip. The output depends only on the
// entries (names, bytes, times): the same package gives the same bytes.
// PNG and JPEG entries are stored, the rest deflated.
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
		fw, err := zw.CreateHeader(fh)
		if err != nil {
			return cw.n, fmt.Errorf("ofd: writing %s: %w", e.Name, err)
		}
		if _, err := fw.Write(e.Data); err != nil {
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
		size += len(e.Data)
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
