package ofd_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"hash/crc32"
	"io"
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/ofd"
)

type rawEntry struct {
	name   string
	data   []byte
	method uint16
	flags  uint16
	// claim, when set, is the uncompressed size written in the headers
	// whatever the data really inflates to.
	claim uint64
}

// makeZip writes entries as given, names untouched (archive/zip's writer
// does not sanitize names).
func makeZip(t *testing.T, entries ...rawEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		if e.claim == 0 && e.flags == 0 && e.method != 12 {
			w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Deflate})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(e.data); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var comp bytes.Buffer
		fw, _ := flate.NewWriter(&comp, flate.BestCompression)
		fw.Write(e.data)
		fw.Close()
		method := e.method
		if method == 0 {
			method = zip.Deflate
		}
		claim := e.claim
		if claim == 0 {
			claim = uint64(len(e.data))
		}
		w, err := zw.CreateRaw(&zip.FileHeader{
			Name: e.name, Method: method, Flags: e.flags,
			CRC32:              crc32.ChecksumIEEE(e.data),
			CompressedSize64:   uint64(comp.Len()),
			UncompressedSize64: claim,
		})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(comp.Bytes())
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestOpenRefuses(t *testing.T) {
	small := []byte("<x/>")
	zeros := make([]byte, 1<<20)
	many := make([]rawEntry, 50)
	for i := range many {
		many[i] = rawEntry{name: "f" + strings.Repeat("x", i), data: small}
	}
	tests := []struct {
		name    string
		zip     []byte
		lim     ofd.Limits
		kind    error
		entry   string
		message string
	}{
		{"not a zip", []byte("%PDF-1.7 not a zip"), ofd.Limits{}, ofd.ErrNotZip, "", "not a zip archive"},
		{"dot-dot", makeZip(t, rawEntry{name: "../evil.xml", data: small}), ofd.Limits{}, ofd.ErrUnsafePath, "../evil.xml", `".." path segment`},
		{"dot-dot inside", makeZip(t, rawEntry{name: "Doc_0/../../evil.xml", data: small}), ofd.Limits{}, ofd.ErrUnsafePath, "Doc_0/../../evil.xml", `".." path segment`},
		{"absolute", makeZip(t, rawEntry{name: "/etc/passwd", data: small}), ofd.Limits{}, ofd.ErrUnsafePath, "/etc/passwd", "absolute path"},
		{"backslash", makeZip(t, rawEntry{name: `Doc_0\..\evil.xml`, data: small}), ofd.Limits{}, ofd.ErrUnsafePath, `Doc_0\..\evil.xml`, "backslash"},
		{"drive letter", makeZip(t, rawEntry{name: "C:/Windows/evil.xml", data: small}), ofd.Limits{}, ofd.ErrUnsafePath, "C:/Windows/evil.xml", "drive letter"},
		{"empty segment", makeZip(t, rawEntry{name: "Doc_0//x.xml", data: small}), ofd.Limits{}, ofd.ErrUnsafePath, "Doc_0//x.xml", "empty path segment"},
		{"dot segment", makeZip(t, rawEntry{name: "./OFD.xml", data: small}), ofd.Limits{}, ofd.ErrUnsafePath, "./OFD.xml", `"." path segment`},
		{"control character", makeZip(t, rawEntry{name: "OFD\x00.xml", data: small}), ofd.Limits{}, ofd.ErrUnsafePath, "OFD\x00.xml", "control character"},
		{"invalid UTF-8", makeZip(t, rawEntry{name: "OFD\xff.xml", data: small}), ofd.Limits{}, ofd.ErrUnsafePath, "OFD\xff.xml", "UTF-8"},
		{"duplicate", makeZip(t, rawEntry{name: "OFD.xml", data: small}, rawEntry{name: "OFD.xml", data: []byte("<y/>")}), ofd.Limits{}, ofd.ErrDuplicate, "OFD.xml", "occurs twice"},
		{"duplicate by case", makeZip(t, rawEntry{name: "Doc_0/Document.xml", data: small}, rawEntry{name: "Doc_0/document.xml", data: small}), ofd.Limits{}, ofd.ErrDuplicate, "Doc_0/document.xml", "only in case"},
		{"too many entries", makeZip(t, many...), ofd.Limits{MaxEntries: 10}, ofd.ErrLimit, "", "50 entries, at most 10"},
		{"entry too big", makeZip(t, rawEntry{name: "big.xml", data: zeros}), ofd.Limits{MaxEntrySize: 64 << 10}, ofd.ErrLimit, "big.xml", "declares 1048576 bytes"},
		// archive/zip stops at the declared size; the limits hold on the
		// declared sizes and on the bytes actually inflated.
		{"bomb lying about its size", makeZip(t, rawEntry{name: "bomb.xml", data: zeros, claim: 100}), ofd.Limits{MaxEntrySize: 64 << 10}, ofd.ErrCorruptEntry, "bomb.xml", "inflates to more than its header declares"},
		{"total too big", makeZip(t, rawEntry{name: "a", data: zeros}, rawEntry{name: "b", data: zeros}), ofd.Limits{MaxTotalSize: 1<<20 + 10}, ofd.ErrLimit, "b", "total uncompressed size"},
		{"encrypted", makeZip(t, rawEntry{name: "OFD.xml", data: small, flags: 1}), ofd.Limits{}, ofd.ErrUnsupported, "OFD.xml", "encrypted"},
		{"bzip2", makeZip(t, rawEntry{name: "OFD.xml", data: small, method: 12}), ofd.Limits{}, ofd.ErrUnsupported, "OFD.xml", "compression method 12"},
	}
	openers := map[string]func(b []byte, lim ofd.Limits) (*ofd.Package, error){
		"eager": ofd.OpenLimits,
		"lazy": func(b []byte, lim ofd.Limits) (*ofd.Package, error) {
			return ofd.OpenReaderAtLazy(bytes.NewReader(b), int64(len(b)), lim)
		},
	}
	for _, tt := range tests {
		for mode, open := range openers {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				_, err := open(tt.zip, tt.lim)
				if err == nil {
					t.Fatal("accepted")
				}
				if !errors.Is(err, tt.kind) {
					t.Errorf("error %v, want kind %v", err, tt.kind)
				}
				var pe *ofd.PackageError
				if !errors.As(err, &pe) || pe.Entry != tt.entry {
					t.Errorf("error %v does not name entry %q", err, tt.entry)
				}
				if !strings.Contains(err.Error(), tt.message) {
					t.Errorf("error %q, want %q", err, tt.message)
				}
			})
		}
	}
}

func TestOpenAcceptsDirectoriesAndReadsExactBytes(t *testing.T) {
	z := makeZip(t, rawEntry{name: "Doc_0/", data: nil}, rawEntry{name: "Doc_0/a.xml", data: []byte("<a/>")})
	p, err := ofd.Open(z)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Names(); len(got) != 1 || got[0] != "Doc_0/a.xml" {
		t.Fatalf("names %v", got)
	}
	if b, _ := p.File("/Doc_0/a.xml"); string(b) != "<a/>" {
		t.Fatalf("data %q", b)
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		from, loc, want, err string
	}{
		{"OFD.xml", "Doc_0/Document.xml", "Doc_0/Document.xml", ""},
		{"OFD.xml", "/Doc_0/Document.xml", "Doc_0/Document.xml", ""},
		{"Doc_0/Document.xml", "Pages/Page_0/Content.xml", "Doc_0/Pages/Page_0/Content.xml", ""},
		{"Doc_0/Signs/Sign_0/Signature.xml", "/Doc_0/Signs/Sign_0/SignedValue.dat", "Doc_0/Signs/Sign_0/SignedValue.dat", ""},
		{"Doc_0/Signs/Sign_0/Signature.xml", "../../Document.xml", "Doc_0/Document.xml", ""},
		{"Doc_0/Document.xml", "../../etc/passwd", "", "leaves the package"},
		{"OFD.xml", "/../x", "", "leaves the package"},
		{"OFD.xml", `Doc_0\Document.xml`, "", "backslash"},
		{"OFD.xml", "", "", "empty location"},
	}
	for _, tt := range tests {
		got, err := ofd.Resolve(tt.from, tt.loc)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Resolve(%q, %q) = %q, %v; want error %q", tt.from, tt.loc, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Resolve(%q, %q) = %q, %v; want %q", tt.from, tt.loc, got, err, tt.want)
		}
	}
}

// TestReadersRefuseNoDocument: Read and ReadSignatureIndex refuse alike a
// package without OFD.xml, with a broken one, and with one that lists no
// document.
func TestReadersRefuseNoDocument(t *testing.T) {
	for _, c := range []struct {
		name    string
		entries []rawEntry
		want    string
	}{
		{"no OFD.xml", []rawEntry{{name: "Doc_0/Document.xml", data: []byte("<Document/>")}}, "no OFD.xml entry: not an OFD package"},
		{"no DocBody", []rawEntry{{name: "OFD.xml", data: []byte(`<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016" Version="1.0" DocType="OFD"/>`)}}, "OFD.xml: no DocBody"},
		{"not XML", []rawEntry{{name: "OFD.xml", data: []byte("<ofd:OFD")}}, "OFD.xml"},
	} {
		p, err := ofd.Open(makeZip(t, c.entries...))
		if err != nil {
			t.Fatalf("%s: open: %v", c.name, err)
		}
		if _, err := ofd.Read(p); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Read: %v, want %q", c.name, err, c.want)
		}
		if _, err := ofd.ReadSignatureIndex(p); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: ReadSignatureIndex: %v, want %q", c.name, err, c.want)
		}
	}
}

// TestRewriteKeepsCompressedForm: a package read and written again keeps
// each deflated entry's compressed bytes (no recompression when sealing),
// the same entries come back, writing is a fixpoint, and an entry whose
// bytes changed is compressed anew.
func TestRewriteKeepsCompressedForm(t *testing.T) {
	doc, err := sampleBuilder(t).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	p1, err := ofd.Open(doc)
	if err != nil {
		t.Fatal(err)
	}
	b1, err := p1.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	p2, err := ofd.Open(b1)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := p2.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1, b2) {
		t.Error("reading and writing again changes the bytes")
	}
	for _, e := range p1.Entries() {
		got, ok := p2.File(e.Name)
		if !ok || !bytes.Equal(got, e.Data) {
			t.Errorf("%s: changed by the rewrite", e.Name)
		}
	}
	// The compressed bytes of Content.xml are those of the first file.
	raw := func(doc []byte, name string) []byte {
		zr, err := zip.NewReader(bytes.NewReader(doc), int64(len(doc)))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			if f.Name == name {
				r, _ := f.OpenRaw()
				b, _ := io.ReadAll(r)
				return b
			}
		}
		t.Fatalf("no %s", name)
		return nil
	}
	const page = "Doc_0/Pages/Page_0/Content.xml"
	if !bytes.Equal(raw(doc, page), raw(b1, page)) {
		t.Error("the page was compressed again")
	}
	// Changed in place or replaced: compressed from the new bytes.
	p3 := p2.Clone()
	for _, e := range p3.Entries() {
		if e.Name == page {
			e.Data = bytes.Replace(e.Data, []byte("投标人"), []byte("投保人"), 1)
		}
	}
	b3, err := p3.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	p4, err := ofd.Open(b3)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := p4.File(page); !bytes.Contains(got, []byte("投保人")) {
		t.Error("a changed entry was written as it was read")
	}
}
