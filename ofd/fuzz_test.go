package ofd_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/baohan-dev/baohan/ofd"
)

// FuzzOpen feeds arbitrary bytes to the package reader and the document
// reader: they must refuse or read, never panic or blow the limits.
// Seeds: the ofdrw fixtures (when present), a built document, and small
// hostile zips.
func FuzzOpen(f *testing.F) {
	if raw, err := sampleBuilder(f).Bytes(); err == nil {
		f.Add(raw)
	}
	if d := os.Getenv("BAOHAN_OFD_FIXTURES"); d != "" {
		for _, n := range []string{"helloworld.ofd", "AddAttachment.ofd", "SESV4SignDoc.ofd"} {
			if b, err := os.ReadFile(filepath.Join(d, n)); err == nil {
				f.Add(b)
			}
		}
	} else if b, err := os.ReadFile(filepath.Join("..", "..", "shared", "fixtures", "ofdrw", "helloworld.ofd")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("PK\x05\x06\x00\x00\x00\x00\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte{})
	lim := ofd.Limits{MaxEntries: 64, MaxEntrySize: 1 << 20, MaxTotalSize: 4 << 20}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ofd.OpenLimits(b, lim)
		if err != nil {
			return
		}
		total := 0
		for _, e := range p.Entries() {
			if int64(len(e.Data)) > lim.MaxEntrySize {
				t.Fatalf("entry %s: %d bytes over the limit", e.Name, len(e.Data))
			}
			total += len(e.Data)
		}
		if int64(total) > lim.MaxTotalSize {
			t.Fatalf("total %d over the limit", total)
		}
		d, err := ofd.Read(p)
		if err != nil {
			return
		}
		_ = d.Text()
		_, _ = ofd.ReadSignatureIndex(p)
	})
}

// FuzzRead fuzzes the XML of a document inside a well-formed package:
// OFD.xml, Document.xml, a page and the resources.
func FuzzRead(f *testing.F) {
	p, err := sampleBuilder(f).Package()
	if err != nil {
		f.Fatal(err)
	}
	get := func(n string) []byte { b, _ := p.File(n); return b }
	f.Add(get("OFD.xml"), get("Doc_0/Document.xml"), get("Doc_0/Pages/Page_0/Content.xml"), get("Doc_0/DocumentRes.xml"), get("Doc_0/Attachments.xml"))
	f.Fuzz(func(t *testing.T, ofdXML, docXML, page, res, att []byte) {
		q := p.Clone()
		for name, b := range map[string][]byte{"OFD.xml": ofdXML, "Doc_0/Document.xml": docXML, "Doc_0/Pages/Page_0/Content.xml": page, "Doc_0/DocumentRes.xml": res, "Doc_0/Attachments.xml": att} {
			if err := q.Replace(name, b, created); err != nil {
				t.Fatal(err)
			}
		}
		d, err := ofd.Read(q)
		if err != nil {
			return
		}
		_ = d.Text()
	})
}

// FuzzOpenLazy is FuzzOpen for OpenReaderAtLazy: every entry, lazy or
// not, reads within the limits or fails, never panics.
func FuzzOpenLazy(f *testing.F) {
	if raw, err := sampleBuilder(f).Bytes(); err == nil {
		f.Add(raw)
	}
	f.Add([]byte("PK\x05\x06\x00\x00\x00\x00\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte{})
	lim := ofd.Limits{MaxEntries: 64, MaxEntrySize: 1 << 20, MaxTotalSize: 4 << 20}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ofd.OpenReaderAtLazy(bytes.NewReader(b), int64(len(b)), lim)
		if err != nil {
			return
		}
		var total int64
		for _, e := range p.Entries() {
			rc, err := e.Open()
			if err != nil {
				continue
			}
			n, _ := io.Copy(io.Discard, rc)
			rc.Close()
			if n > lim.MaxEntrySize {
				t.Fatalf("entry %s: %d bytes over the limit", e.Name, n)
			}
			total += n
		}
		if total > lim.MaxTotalSize {
			t.Fatalf("total %d over the limit", total)
		}
		if d, err := ofd.Read(p); err == nil {
			_ = d.Text()
		}
	})
}
