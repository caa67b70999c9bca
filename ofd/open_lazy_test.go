package ofd_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/ofd"
)

// A lazily opened package holds the same bytes as an eagerly opened one;
// only the entries above ofd.LazyThreshold stay in the zip.
func TestOpenLazyReadsSameBytes(t *testing.T) {
	big := make([]byte, ofd.LazyThreshold+12345)
	rand.Read(big)
	small := []byte("<ofd:OFD/>")
	z := makeZip(t, rawEntry{name: "OFD.xml", data: small}, rawEntry{name: "Doc_0/Attachs/big.bin", data: big})
	eager, err := ofd.Open(z)
	if err != nil {
		t.Fatal(err)
	}
	lazy, err := ofd.OpenReaderAtLazy(bytes.NewReader(z), int64(len(z)), ofd.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	es := lazy.Entries()
	if len(es) != 2 || es[0].Lazy() || !es[1].Lazy() || es[1].Data != nil || es[1].Size() != int64(len(big)) {
		t.Fatalf("entries: %d, lazy %v %v, size %d", len(es), es[0].Lazy(), es[1].Lazy(), es[1].Size())
	}
	for _, name := range eager.Names() {
		want, _ := eager.File(name)
		got, ok := lazy.File(name)
		if !ok || !bytes.Equal(got, want) {
			t.Errorf("File(%s): %d bytes, want %d", name, len(got), len(want))
		}
		rc, err := lazy.OpenFile("/" + name)
		if err != nil {
			t.Fatal(err)
		}
		streamed, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(streamed, want) {
			t.Errorf("OpenFile(%s): %d bytes, %v", name, len(streamed), err)
		}
	}
	eb, err := eager.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	lb, err := lazy.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(eb, lb) {
		t.Error("a lazy package writes other bytes than the eager one")
	}
	if _, err := lazy.ReadFile("nope.xml"); !errors.Is(err, ofd.ErrNoEntry) {
		t.Errorf("ReadFile of a missing entry: %v", err)
	}
}

// A lazy entry whose data is not what its header declares fails when it
// is read, with the error Open gives for it in memory, naming the entry.
func TestOpenLazyEntryCorrupt(t *testing.T) {
	zeros := make([]byte, 1<<20)
	tests := []struct {
		name  string
		entry rawEntry
	}{
		{"bomb lying about its size", rawEntry{name: "bomb.bin", data: zeros, claim: ofd.LazyThreshold + 1}},
		{"shorter than declared", rawEntry{name: "short.bin", data: zeros[:ofd.LazyThreshold+10], claim: 1 << 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z := makeZip(t, tt.entry)
			if _, err := ofd.Open(z); !errors.Is(err, ofd.ErrCorruptEntry) {
				t.Errorf("eager Open: %v", err)
			}
			p, err := ofd.OpenReaderAtLazy(bytes.NewReader(z), int64(len(z)), ofd.DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := p.File(tt.entry.name); ok {
				t.Error("File reads a corrupt lazy entry")
			}
			_, err = p.ReadFile(tt.entry.name)
			var pe *ofd.PackageError
			if !errors.Is(err, ofd.ErrCorruptEntry) || !errors.As(err, &pe) || pe.Entry != tt.entry.name {
				t.Errorf("ReadFile: %v", err)
			}
			rc, err := p.OpenFile(tt.entry.name)
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, rc)
			rc.Close()
			if !errors.Is(err, ofd.ErrCorruptEntry) || !strings.Contains(err.Error(), tt.entry.name) {
				t.Errorf("streaming read: %d bytes, %v", n, err)
			}
			if n > int64(len(tt.entry.data)) || n > int64(tt.entry.claim) {
				t.Errorf("streamed %d bytes, more than declared %d", n, tt.entry.claim)
			}
			if _, err := p.Bytes(); !errors.Is(err, ofd.ErrCorruptEntry) {
				t.Errorf("Bytes: %v", err)
			}
		})
	}
}
