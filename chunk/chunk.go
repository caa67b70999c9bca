// Package chunk cuts an encrypted guarantee file into base64 chunks for
// uploadbaohanfile and puts chunks that arrive out of order, twice or
// concurrently back together.
//
// Indexes on the wire are 1-based by default; receivers accept 0-based
// too, inferred from the first index present (contiguous from 0 or 1).
// When bak1 carries the chunk count it is checked.
package chunk

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// DefaultSize is the default chunk size before base64: 512 KiB.
const DefaultSize = 512 << 10

// ErrEmpty is returned by Split for an input with no bytes.
var ErrEmpty = errors.New("chunk: nothing to split: the input is empty")

// Split reads r to EOF and calls fn for each chunk of at most size bytes
// (DefaultSize when size <= 0) with its index, counted from 0, and its
// standard padded base64. It holds one chunk in memory. An error from fn
// stops the split and is returned with the chunk index.
func Split(r io.Reader, size int, fn func(i int, b64 string) error) error {
	if size <= 0 {
		size = DefaultSize
	}
	buf := make([]byte, size)
	for i := 0; ; i++ {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if ferr := fn(i, base64.StdEncoding.EncodeToString(buf[:n])); ferr != nil {
				return fmt.Errorf("chunk %d: %w", i, ferr)
			}
		}
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			if i == 0 && n == 0 {
				return ErrEmpty
			}
			return nil
		case err != nil:
			return fmt.Errorf("chunk: reading chunk %d: %w", i, err)
		}
	}
}

// Count returns the number of chunks Split makes of n bytes.
func Count(n int64, size int) int {
	if size <= 0 {
		size = DefaultSize
	}
	return int((n + int64(size) - 1) / int64(size))
}

// ErrConflict is matched by *ConflictError.
var ErrConflict = errors.New("chunk: index already received with different bytes")

// ConflictError reports a chunk index received twice with different bytes.
type ConflictError struct {
	Index          int
	Have, Received int // lengths of the kept and the refused chunk
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("chunk %d was already received with different content (%d bytes kept, %d bytes refused)", e.Index, e.Have, e.Received)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// ErrIncomplete is matched by *GapError.
var ErrIncomplete = errors.New("chunk: chunks missing or unexpected")

// GapError says which indexes are missing or unexpected.
type GapError struct {
	Base       int   // 0 or 1
	Expected   int   // the bak1 count, 0 when unknown
	Have       int   // distinct indexes present
	Missing    []int // absent indexes within the expected range
	Unexpected []int // indexes beyond the expected count
}

func (e *GapError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "chunk: have %d chunk", e.Have)
	if e.Have != 1 {
		b.WriteString("s")
	}
	if e.Expected > 0 {
		fmt.Fprintf(&b, ", bak1 says %d (%d-based, indexes %d-%d)", e.Expected, e.Base, e.Base, e.Base+e.Expected-1)
	} else {
		fmt.Fprintf(&b, " (%d-based)", e.Base)
	}
	if len(e.Missing) > 0 {
		fmt.Fprintf(&b, "; missing index %s", Ranges(e.Missing))
	}
	if len(e.Unexpected) > 0 {
		fmt.Fprintf(&b, "; unexpected index %s", Ranges(e.Unexpected))
	}
	return b.String()
}

// Is makes errors.Is(err, ErrIncomplete) true.
func (e *GapError) Is(target error) bool { return target == ErrIncomplete }

// Ranges formats sorted indexes compactly: "3, 5-7, 10".
func Ranges(idx []int) string {
	var parts []string
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(idx[i]))
		} else {
			parts = append(parts, strconv.Itoa(idx[i])+"-"+strconv.Itoa(idx[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// maxIndex bounds indexes so that a hostile index cannot make Missing
// enumerate billions of gaps.
const maxIndex = 1 << 20

// CheckIndexes checks that indexes (any order, duplicates ignored) are
// contiguous from 0 or from 1 and, when expectedCount > 0 (bak1), that
// there are exactly that many. It returns the base: 0 when index 0 is
// present, else 1. The error is a *GapError naming the gaps, or names the
// first invalid index.
func CheckIndexes(indexes []int, expectedCount int) (base int, err error) {
	if len(indexes) == 0 {
		if expectedCount > 0 {
			return 1, fmt.Errorf("chunk: no chunks received, bak1 says %d", expectedCount)
		}
		return 1, errors.New("chunk: no chunks received")
	}
	if expectedCount < 0 {
		return 0, fmt.Errorf("chunk: expected count %d is negative", expectedCount)
	}
	set := make(map[int]bool, len(indexes))
	for _, i := range indexes {
		if i < 0 {
			return 0, fmt.Errorf("chunk: index %d is negative", i)
		}
		if i > maxIndex {
			return 0, fmt.Errorf("chunk: index %d is beyond the limit %d", i, maxIndex)
		}
		set[i] = true
	}
	sorted := make([]int, 0, len(set))
	for i := range set {
		sorted = append(sorted, i)
	}
	sort.Ints(sorted)
	base = 1
	if sorted[0] == 0 {
		base = 0
	}
	last := sorted[len(sorted)-1]
	if expectedCount > 0 {
		last = base + expectedCount - 1
	}
	g := &GapError{Base: base, Expected: expectedCount, Have: len(sorted)}
	for i := base; i <= last; i++ {
		if !set[i] {
			g.Missing = append(g.Missing, i)
		}
	}
	for _, i := range sorted {
		if i > last {
			g.Unexpected = append(g.Unexpected, i)
		}
	}
	if len(g.Missing) > 0 || len(g.Unexpected) > 0 {
		return base, g
	}
	return base, nil
}
