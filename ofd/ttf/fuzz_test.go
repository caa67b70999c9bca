package ttf_test

import (
	"testing"

	"golang.org/x/image/font/sfnt"

	"github.com/baohan-dev/baohan/ofd/ttf"
)

// FuzzParse feeds arbitrary bytes to Parse: it refuses or reads, never
// panics; what it reads answers lookups and subsets into a font that
// parses again, with the same advances. The seeds are fonts of several
// kilobytes, which the fuzzer is slow to minimize: run it with
// -fuzzminimizetime 1s.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"投标 AB", "保函编号：WTBH2026", ""} {
		if b, err := ttf.Default().Subset([]rune(s)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("ttcf\x00\x01\x00\x00\x00\x00\x00\x01\x00\x00\x00\x0c"))
	f.Fuzz(func(t *testing.T, b []byte) {
		font, err := ttf.Parse(b)
		if err != nil {
			return
		}
		probe := []rune("投标 AB\u0000\uffff𠮷")
		for _, r := range probe {
			if g, ok := font.GlyphIndex(r); ok {
				font.Bounds(g)
				font.GlyphAdvance(g)
			}
			font.Advance(r, 3.7)
		}
		sub, err := font.Subset(probe)
		if err != nil {
			return
		}
		again, err := ttf.Parse(sub)
		if err != nil {
			t.Fatalf("the subset of a font that parsed does not parse: %v", err)
		}
		for _, r := range probe {
			a0, ok0 := font.Advance(r, 1)
			a1, ok1 := again.Advance(r, 1)
			if ok0 != ok1 || a0 != a1 {
				t.Fatalf("%q: advance %v,%v in the subset, %v,%v in the font", r, a1, ok1, a0, ok0)
			}
		}
		_, _ = sfnt.Parse(sub) // must not panic
	})
}
