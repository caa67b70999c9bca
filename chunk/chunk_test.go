package chunk

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
)

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestSplitSizes(t *testing.T) {
	tests := []struct {
		n, size, chunks, last int
	}{
		{1, 16, 1, 1},
		{16, 16, 1, 16},
		{17, 16, 2, 1},
		{48, 16, 3, 16},
		{DefaultSize + 5, 0, 2, 5},
		{1000, -1, 1, 1000},
	}
	for _, tt := range tests {
		data := randomBytes(tt.n, uint64(tt.n))
		var got [][]byte
		err := Split(iotest.HalfReader(bytes.NewReader(data)), tt.size, func(i int, b64 string) error {
			if i != len(got) {
				t.Fatalf("index %d, want %d", i, len(got))
			}
			b, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, b)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != tt.chunks || len(got[len(got)-1]) != tt.last {
			t.Errorf("n=%d size=%d: %d chunks, last %d bytes; want %d, %d", tt.n, tt.size, len(got), len(got[len(got)-1]), tt.chunks, tt.last)
		}
		if Count(int64(tt.n), tt.size) != tt.chunks {
			t.Errorf("Count(%d, %d) = %d", tt.n, tt.size, Count(int64(tt.n), tt.size))
		}
		if !bytes.Equal(bytes.Join(got, nil), data) {
			t.Errorf("n=%d: chunks do not join to the input", tt.n)
		}
	}
}

func TestSplitErrors(t *testing.T) {
	if err := Split(bytes.NewReader(nil), 10, func(int, string) error { return nil }); !errors.Is(err, ErrEmpty) {
		t.Fatalf("empty input: %v", err)
	}
	boom := errors.New("upload refused")
	err := Split(bytes.NewReader(make([]byte, 35)), 10, func(i int, _ string) error {
		if i == 2 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "chunk 2") {
		t.Fatalf("callback error: %v", err)
	}
	r := io.MultiReader(bytes.NewReader(make([]byte, 25)), iotest.ErrReader(errors.New("disk gone")))
	err = Split(r, 10, func(int, string) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "reading chunk 2: disk gone") {
		t.Fatalf("read error: %v", err)
	}
}

func TestAssemblerOutOfOrderAndDuplicates(t *testing.T) {
	data := randomBytes(10_000, 9)
	for _, base := range []int{0, 1} {
		var chunks [][]byte
		Split(bytes.NewReader(data), 1000, func(i int, b64 string) error {
			b, _ := base64.StdEncoding.DecodeString(b64)
			chunks = append(chunks, b)
			return nil
		})
		a := &Assembler{Expected: len(chunks)}
		order := rand.New(rand.NewPCG(1, uint64(base))).Perm(len(chunks))
		for _, i := range append(order, order[:4]...) { // four arrive twice
			if err := a.AddBase64(i+base, base64.StdEncoding.EncodeToString(chunks[i])); err != nil {
				t.Fatal(err)
			}
		}
		if a.Base() != base || a.Len() != 10 || len(a.Missing()) != 0 {
			t.Fatalf("base %d: Base %d Len %d Missing %v", base, a.Base(), a.Len(), a.Missing())
		}
		got, err := a.Bytes()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("base %d: assembled differs: %v", base, err)
		}
	}
}

func TestAssemblerConcurrent(t *testing.T) {
	a := &Assembler{}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= 50; i++ {
				if err := a.Add(i, []byte(fmt.Sprint("chunk-", i))); err != nil {
					t.Errorf("goroutine %d: %v", g, err)
				}
			}
		}()
	}
	wg.Wait()
	if a.Len() != 50 || a.Check() != nil {
		t.Fatalf("Len %d, Check %v", a.Len(), a.Check())
	}
}

func TestAssemblerConflictAndLimits(t *testing.T) {
	a := &Assembler{Limit: 10}
	if err := a.Add(3, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	err := a.Add(3, []byte("abd"))
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Index != 3 || !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "chunk 3") {
		t.Fatalf("conflict: %v", err)
	}
	for _, tt := range []struct {
		i    int
		b    []byte
		want string
	}{
		{-1, []byte("x"), "index -1 is negative"},
		{4, nil, "chunk 4 is empty"},
		{5, make([]byte, 8), "chunk 5: the file would exceed 10 bytes"},
		{maxIndex + 1, []byte("x"), "beyond the limit"},
	} {
		if err := a.Add(tt.i, tt.b); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Add(%d): %v, want %q", tt.i, err, tt.want)
		}
	}
	if err := a.AddBase64(7, "@@"); err == nil || !strings.Contains(err.Error(), "chunk 7") || !strings.Contains(err.Error(), "not base64") {
		t.Errorf("AddBase64 garbage: %v", err)
	}
	// Only chunk 3 held: 1 and 2 are missing.
	if m := a.Missing(); !slices.Equal(m, []int{1, 2}) {
		t.Errorf("Missing %v", m)
	}
	if _, err := a.Bytes(); !errors.Is(err, ErrIncomplete) {
		t.Errorf("Bytes of incomplete: %v", err)
	}
	var empty Assembler
	if empty.Missing() != nil {
		t.Error("empty Missing not nil")
	}
	empty.Expected = 3
	if m := empty.Missing(); !slices.Equal(m, []int{1, 2, 3}) {
		t.Errorf("empty with Expected: Missing %v", m)
	}
}

func TestCheckIndexes(t *testing.T) {
	tests := []struct {
		idx      []int
		expected int
		base     int
		want     string // "" ok
		missing  []int
	}{
		{[]int{1, 2, 3}, 0, 1, "", nil},
		{[]int{0, 1, 2}, 3, 0, "", nil},
		{[]int{3, 1, 2, 2}, 3, 1, "", nil},
		{[]int{1, 2, 4}, 0, 1, "missing index 3", []int{3}},
		{[]int{0, 3, 4, 9}, 0, 0, "missing index 1-2, 5-8", []int{1, 2, 5, 6, 7, 8}},
		{[]int{2, 3}, 0, 1, "missing index 1", []int{1}},
		{[]int{1, 2}, 4, 1, "bak1 says 4 (1-based, indexes 1-4); missing index 3-4", []int{3, 4}},
		{[]int{1, 2, 3, 4}, 3, 1, "unexpected index 4", nil},
		{[]int{0, 1, 2}, 2, 0, "unexpected index 2", nil},
		{nil, 0, 1, "no chunks received", nil},
		{nil, 5, 1, "bak1 says 5", nil},
		{[]int{-2}, 0, 0, "index -2 is negative", nil},
		{[]int{1}, -1, 0, "negative", nil},
		{[]int{1 << 30}, 0, 0, "beyond the limit", nil},
	}
	for _, tt := range tests {
		base, err := CheckIndexes(tt.idx, tt.expected)
		if tt.want == "" {
			if err != nil || base != tt.base {
				t.Errorf("CheckIndexes(%v, %d) = %d, %v", tt.idx, tt.expected, base, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CheckIndexes(%v, %d): %v, want %q", tt.idx, tt.expected, err, tt.want)
			continue
		}
		var g *GapError
		if errors.As(err, &g) {
			if !slices.Equal(g.Missing, tt.missing) || base != tt.base || !errors.Is(err, ErrIncomplete) {
				t.Errorf("CheckIndexes(%v): base %d missing %v", tt.idx, base, g.Missing)
			}
		}
	}
}

func TestRanges(t *testing.T) {
	for _, tt := range []struct {
		in   []int
		want string
	}{{nil, ""}, {[]int{1}, "1"}, {[]int{1, 2}, "1-2"}, {[]int{1, 3}, "1, 3"}, {[]int{1, 2, 3, 7, 9, 10}, "1-3, 7, 9-10"}} {
		if got := Ranges(tt.in); got != tt.want {
			t.Errorf("Ranges(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzAssembler(f *testing.F) {
	f.Add([]byte{1, 'a', 2, 'b', 1, 'a'}, uint8(2))
	f.Add([]byte{0, 'x', 0, 'y'}, uint8(0))
	f.Add([]byte{}, uint8(3))
	f.Fuzz(func(t *testing.T, ops []byte, expected uint8) {
		a := &Assembler{Expected: int(expected % 8), Limit: 64}
		ref := map[int]byte{}
		for i := 0; i+1 < len(ops); i += 2 {
			idx, b := int(ops[i]%12), ops[i+1]
			err := a.Add(idx, []byte{b})
			have, ok := ref[idx]
			switch {
			case !ok && err == nil:
				ref[idx] = b
			case ok && have == b && err != nil:
				t.Fatalf("duplicate with same bytes refused: %v", err)
			case ok && have != b && !errors.Is(err, ErrConflict):
				t.Fatalf("conflict not reported: %v", err)
			}
		}
		out, err := a.Bytes()
		missing := a.Missing()
		if err == nil {
			if len(missing) != 0 || len(out) != len(ref) {
				t.Fatalf("complete but Missing %v, %d bytes for %d chunks", missing, len(out), len(ref))
			}
			base := a.Base()
			for i := range out {
				if out[i] != ref[base+i] {
					t.Fatalf("byte %d out of order", i)
				}
			}
		} else if !errors.Is(err, ErrIncomplete) && len(ref) > 0 {
			t.Fatalf("unexpected error %v", err)
		}
		for _, m := range missing {
			if _, ok := ref[m]; ok {
				t.Fatalf("index %d reported missing but held", m)
			}
		}
	})
}
