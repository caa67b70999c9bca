package ofd

import (
	"crypto/rand"
	"testing"
	"time"
)

// Opening a package holds each entry once: a 4 MiB attachment costs about
// 4 MiB, not the 8 MiB a buffer doubled at its last read would.
func TestOpenEntryAllocation(t *testing.T) {
	const size = 4 << 20
	b := NewBuilder(Info{Title: "alloc", Created: time.Now()})
	b.AddPage()
	data := make([]byte, size)
	rand.Read(data) // incompressible: stored at its size
	if err := b.Attach(Attachment{Name: "big.bin", Format: "bin", Data: data}); err != nil {
		t.Fatal(err)
	}
	doc, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.Benchmark(func(bb *testing.B) {
		bb.ReportAllocs()
		for bb.Loop() {
			if _, err := Open(doc); err != nil {
				bb.Fatal(err)
			}
		}
	}).AllocedBytesPerOp()
	if allocs > size*3/2 {
		t.Fatalf("opening a package with a %d-byte attachment allocates %d bytes", size, allocs)
	}
}
