package ofd

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"unicode/utf8"
)

// Limits bound what Open accepts, against zip bombs and oversized input.
// The zero value of a field means its default.
type Limits struct {
	MaxEntries   int   // entries in the zip, directories included (default 4096)
	MaxEntrySize int64 // uncompressed bytes of one entry (default 32 MiB)
	MaxTotalSize int64 // uncompressed bytes of all entries (default 128 MiB)
}

// DefaultLimits are generous for guarantees (a few hundred KB) and keep a
// hostile file far from exhausting memory.
var DefaultLimits = Limits{MaxEntries: 4096, MaxEntrySize: 32 << 20, MaxTotalSize: 128 << 20}

func (l Limits) withDefaults() Limits {
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultLimits.MaxEntries
	}
	if l.MaxEntrySize <= 0 {
		l.MaxEntrySize = DefaultLimits.MaxEntrySize
	}
	if l.MaxTotalSize <= 0 {
		l.MaxTotalSize = DefaultLimits.MaxTotalSize
	}
	return l
}

// Errors that Open wraps in a *PackageError; test with errors.Is.
var (
	ErrNotZip       = errors.New("not a zip archive")
	ErrLimit        = errors.New("limit exceeded")
	ErrUnsafePath   = errors.New("unsafe entry name")
	ErrDuplicate    = errors.New("duplicate entry")
	ErrUnsupported  = errors.New("unsupported zip feature")
	ErrCorruptEntry = errors.New("corrupt entry")
)

// PackageError says which entry of a package is refused and why.
type PackageError struct {
	Entry  string // the entry name as stored, "" for the whole archive
	Kind   error  // one of the Err* values above
	Detail string
}

func (e *PackageError) Error() string {
	if e.Entry == "" {
		return fmt.Sprintf("ofd: %v: %s", e.Kind, e.Detail)
	}
	return fmt.Sprintf("ofd: entry %q: %v: %s", e.Entry, e.Kind, e.Detail)
}

func (e *PackageError) Unwrap() error { return e.Kind }

// Open reads an OFD package from zip bytes with DefaultLimits.
func Open(b []byte) (*Package, error) {
	return OpenReaderAt(bytes.NewReader(b), int64(len(b)), DefaultLimits)
}

// OpenLimits reads an OFD package from zip bytes with the given limits.
func OpenLimits(b []byte, lim Limits) (*Package, error) {
	return OpenReaderAt(bytes.NewReader(b), int64(len(b)), lim)
}

// OpenReaderAt reads an OFD package from a zip. Every entry is read into
// memory after these checks, each failing with a *PackageError naming the
// entry: entry count, per-entry and total uncompressed size (counted on
// the bytes actually inflated, not the sizes the archive claims), names
// that could escape a directory or mean different files to different
// readers (absolute, "..", ".", empty segments, backslashes, drive
// letters, control characters, invalid UTF-8), duplicate names (also when
// they differ only in case), encryption and compression methods other than
// store and deflate. Directory entries are checked and skipped.
func OpenReaderAt(r io.ReaderAt, size int64, lim Limits) (*Package, error) {
	return openReaderAt(r, size, lim, -1)
}

// LazyThreshold is the declared uncompressed size above which
// OpenReaderAtLazy leaves an entry in the zip.
const LazyThreshold = 256 << 10

// OpenReaderAtLazy is OpenReaderAt for large files: entries of at most
// LazyThreshold bytes (the XML parts, signature values, seal files) are
// read into memory as OpenReaderAt does; larger ones stay in r, lazy
// (see Entry), inflated when read. The names, count, methods and declared
// sizes of all entries are checked here as OpenReaderAt does; the
// inflated bytes of a lazy entry are counted when it is read (never more
// than its header declares, which is within the per-entry limit, and the
// declared sizes together are within the total limit), so a lazy entry
// that is corrupt or a bomb fails when read, with the same
// *PackageError. r must stay readable while the package is used.
func OpenReaderAtLazy(r io.ReaderAt, size int64, lim Limits) (*Package, error) {
	return openReaderAt(r, size, lim, LazyThreshold)
}

// openReaderAt reads entries larger than lazyOver lazily (never when
// lazyOver < 0).
func openReaderAt(r io.ReaderAt, size int64, lim Limits, lazyOver int64) (*Package, error) {
	lim = lim.withDefaults()
	if n, ok := eocdCount(r, size); ok && n > lim.MaxEntries {
		return nil, &PackageError{Kind: ErrLimit, Detail: fmt.Sprintf("%d entries, at most %d", n, lim.MaxEntries)}
	}
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, &PackageError{Kind: ErrNotZip, Detail: err.Error()}
	}
	if len(zr.File) > lim.MaxEntries {
		return nil, &PackageError{Kind: ErrLimit, Detail: fmt.Sprintf("%d entries, at most %d", len(zr.File), lim.MaxEntries)}
	}
	p := NewPackage()
	folded := map[string]string{}
	var total int64
	for _, f := range zr.File {
		name := f.Name
		dir := strings.HasSuffix(name, "/")
		check := name
		if dir {
			check = strings.TrimSuffix(name, "/")
		}
		if err := checkName(check); err != nil {
			return nil, &PackageError{Entry: name, Kind: ErrUnsafePath, Detail: err.(*nameError).reason}
		}
		key := strings.ToLower(name)
		if prev, dup := folded[key]; dup {
			detail := "the name occurs twice"
			if prev != name {
				detail = fmt.Sprintf("differs from %q only in case", prev)
			}
			return nil, &PackageError{Entry: name, Kind: ErrDuplicate, Detail: detail}
		}
		folded[key] = name
		if f.Flags&0x1 != 0 {
			return nil, &PackageError{Entry: name, Kind: ErrUnsupported, Detail: "encrypted entry"}
		}
		if f.Method != zip.Store && f.Method != zip.Deflate {
			return nil, &PackageError{Entry: name, Kind: ErrUnsupported, Detail: fmt.Sprintf("compression method %d (store and deflate only)", f.Method)}
		}
		if dir {
			if f.UncompressedSize64 != 0 {
				return nil, &PackageError{Entry: name, Kind: ErrCorruptEntry, Detail: "directory entry with content"}
			}
			continue
		}
		if f.UncompressedSize64 > uint64(lim.MaxEntrySize) {
			return nil, &PackageError{Entry: name, Kind: ErrLimit, Detail: fmt.Sprintf("declares %d bytes uncompressed, at most %d per entry", f.UncompressedSize64, lim.MaxEntrySize)}
		}
		if total+int64(f.UncompressedSize64) > lim.MaxTotalSize {
			return nil, &PackageError{Entry: name, Kind: ErrLimit, Detail: fmt.Sprintf("total uncompressed size exceeds %d bytes", lim.MaxTotalSize)}
		}
		if lazyOver >= 0 && int64(f.UncompressedSize64) > lazyOver {
			// The zip reader fails a read past the declared size, which
			// the checks above keep within both limits.
			total += int64(f.UncompressedSize64)
			p.index[name] = len(p.entries)
			p.entries = append(p.entries, &Entry{Name: name, Modified: f.Modified, zf: f, limit: int64(f.UncompressedSize64)})
			continue
		}
		data, raw, ok := readDeflated(f, lim.MaxEntrySize, lim.MaxTotalSize-total)
		if !ok {
			if data, err = readEntry(f, lim.MaxEntrySize, lim.MaxTotalSize-total); err != nil {
				return nil, err
			}
		}
		total += int64(len(data))
		p.index[name] = len(p.entries)
		p.entries = append(p.entries, &Entry{Name: name, Data: data, Modified: f.Modified, raw: raw, rawCRC: f.CRC32, rawSize: len(data)})
	}
	return p, nil
}

// keepRawMax is the largest compressed entry whose compressed bytes a
// package keeps (the XML, fonts, signature files; not large attachments,
// which are stored or read lazily anyway).
const keepRawMax = LazyThreshold

// readDeflated reads a small deflated entry's compressed bytes into
// memory and inflates that copy, so that the package can write the entry
// again in exactly the form it checked (see Package.WriteTo). It reports
// ok only when the copy inflates, within the limits, to the size and
// CRC-32 the headers declare; on anything else the caller reads the entry
// with readEntry, which names the fault.
func readDeflated(f *zip.File, maxEntry, remaining int64) (data, raw []byte, ok bool) {
	if f.Method != zip.Deflate || f.CompressedSize64 > keepRawMax || f.UncompressedSize64 > uint64(min(maxEntry, remaining)) {
		return nil, nil, false
	}
	r, err := f.OpenRaw()
	if err != nil {
		return nil, nil, false
	}
	raw = make([]byte, f.CompressedSize64)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, nil, false
	}
	fr := flate.NewReader(bytes.NewReader(raw))
	defer fr.Close()
	data = make([]byte, f.UncompressedSize64)
	if _, err := io.ReadFull(fr, data); err != nil {
		return nil, nil, false
	}
	// The stream ends, soundly, where the header says.
	var one [1]byte
	if n, err := fr.Read(one[:]); n != 0 || err != io.EOF {
		return nil, nil, false
	}
	if crc32.ChecksumIEEE(data) != f.CRC32 {
		return nil, nil, false
	}
	return data, raw, true
}

// readEntry inflates one entry, never more than the limits allow
// whatever sizes the headers claim.
func readEntry(f *zip.File, maxEntry, remaining int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, &PackageError{Entry: f.Name, Kind: ErrCorruptEntry, Detail: err.Error()}
	}
	defer rc.Close()
	limit := maxEntry
	kind, detail := ErrLimit, fmt.Sprintf("more than %d bytes uncompressed (per-entry limit)", maxEntry)
	if remaining < limit {
		limit = remaining
		detail = "total uncompressed size of the package exceeds the limit"
	}
	capHint := int64(f.UncompressedSize64)
	if capHint > limit {
		capHint = limit
	}
	// Room for the whole entry and the read that finds EOF: io.Copy into
	// a bytes.Buffer grows it (doubling) whenever less than bytes.MinRead
	// is free, which would double a 20 MB attachment at its last read.
	buf := bytes.NewBuffer(make([]byte, 0, capHint+bytes.MinRead))
	n, err := io.Copy(buf, io.LimitReader(rc, limit+1))
	if errors.Is(err, zip.ErrFormat) {
		return nil, &PackageError{Entry: f.Name, Kind: ErrCorruptEntry, Detail: fmt.Sprintf("inflates to more than its header declares (%d bytes), or is corrupt", f.UncompressedSize64)}
	}
	if err != nil {
		return nil, &PackageError{Entry: f.Name, Kind: ErrCorruptEntry, Detail: err.Error()}
	}
	if n > limit {
		return nil, &PackageError{Entry: f.Name, Kind: kind, Detail: detail}
	}
	return buf.Bytes(), nil
}

// eocdCount reads the entry count of the end of central directory record,
// so that an archive claiming millions of entries is refused before the
// zip reader allocates for them. ok is false when the record is not found
// or the archive is zip64 (the zip reader then bounds it by the file size).
func eocdCount(r io.ReaderAt, size int64) (n int, ok bool) {
	const eocdLen = 22
	search := int64(eocdLen + 65535)
	if search > size {
		search = size
	}
	if search < eocdLen {
		return 0, false
	}
	buf := make([]byte, search)
	if _, err := r.ReadAt(buf, size-search); err != nil && err != io.EOF {
		return 0, false
	}
	for i := len(buf) - eocdLen; i >= 0; i-- {
		if binary.LittleEndian.Uint32(buf[i:]) == 0x06054b50 {
			c := binary.LittleEndian.Uint16(buf[i+10:])
			if c == 0xffff {
				return 0, false
			}
			return int(c), true
		}
	}
	return 0, false
}

type nameError struct{ name, reason string }

func (e *nameError) Error() string { return fmt.Sprintf("ofd: unsafe name %q: %s", e.name, e.reason) }

// checkName accepts a clean, relative, forward-slash path of UTF-8
// segments. It is the rule for zip entry names and for locations once
// resolved.
func checkName(name string) error {
	bad := func(reason string) error { return &nameError{name, reason} }
	switch {
	case name == "":
		return bad("empty name")
	case !utf8.ValidString(name):
		return bad("not valid UTF-8")
	case strings.ContainsRune(name, '\\'):
		return bad(`backslash in name (use "/")`)
	case strings.HasPrefix(name, "/"):
		return bad("absolute path")
	case len(name) >= 2 && name[1] == ':' && (name[0]|0x20 >= 'a' && name[0]|0x20 <= 'z'):
		return bad("drive letter")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return bad("control character in name")
		}
	}
	for _, seg := range strings.Split(name, "/") {
		switch seg {
		case "":
			return bad("empty path segment")
		case ".":
			return bad(`"." path segment`)
		case "..":
			return bad(`".." path segment`)
		}
	}
	return nil
}
