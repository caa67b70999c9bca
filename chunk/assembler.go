package chunk

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"sync"
)

// Assembler collects chunks in memory, in any order and from several
// goroutines. The same index with the same bytes twice is idempotent;
// with different bytes it is refused with a *ConflictError. It suits tests
// and small files; stores that keep chunks elsewhere use CheckIndexes.
// The zero value is ready; set Expected (bak1) and Limit before use.
type Assembler struct {
	// Expected is the chunk count announced in bak1; 0 when unknown.
	Expected int
	// Limit caps the total bytes held; 0 means no limit.
	Limit int64

	mu     sync.Mutex
	chunks map[int][]byte
	size   int64
}

// Add stores chunk index. The bytes are copied.
func (a *Assembler) Add(index int, data []byte) error {
	if index < 0 {
		return fmt.Errorf("chunk: index %d is negative", index)
	}
	if index > maxIndex {
		return fmt.Errorf("chunk: index %d is beyond the limit %d", index, maxIndex)
	}
	if len(data) == 0 {
		return fmt.Errorf("chunk %d is empty", index)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if have, ok := a.chunks[index]; ok {
		if bytes.Equal(have, data) {
			return nil
		}
		return &ConflictError{Index: index, Have: len(have), Received: len(data)}
	}
	if a.Limit > 0 && a.size+int64(len(data)) > a.Limit {
		return fmt.Errorf("chunk %d: the file would exceed %d bytes", index, a.Limit)
	}
	if a.chunks == nil {
		a.chunks = make(map[int][]byte)
	}
	a.chunks[index] = bytes.Clone(data)
	a.size += int64(len(data))
	return nil
}

// Len returns the number of distinct chunks held.
func (a *Assembler) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.chunks)
}

// Size returns the total bytes held.
func (a *Assembler) Size() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.size
}

func (a *Assembler) indexes() []int {
	idx := make([]int, 0, len(a.chunks))
	for i := range a.chunks {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	return idx
}

// Indexes returns the indexes held, ascending.
func (a *Assembler) Indexes() []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.indexes()
}

// Base returns the inferred index base: 0 when chunk 0 is held, else 1.
func (a *Assembler) Base() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.chunks[0]; ok {
		return 0
	}
	return 1
}

// Missing returns the absent indexes: within base..base+Expected-1 when
// Expected is set, else between the base and the highest index held. The
// base is 1 until chunk 0 arrives, so a 0-based sender's chunk 0 is not
// reported missing. With no chunk and no Expected it returns nil.
func (a *Assembler) Missing() []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.chunks) == 0 {
		if a.Expected > 0 {
			m := make([]int, a.Expected)
			for i := range m {
				m[i] = 1 + i
			}
			return m
		}
		return nil
	}
	_, err := CheckIndexes(a.indexes(), a.Expected)
	if g, ok := err.(*GapError); ok {
		return g.Missing
	}
	return nil
}

// Check reports whether the chunks are complete: contiguous from the base
// and, with Expected, exactly that many.
func (a *Assembler) Check() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, err := CheckIndexes(a.indexes(), a.Expected)
	return err
}

// WriteTo writes the chunks in index order to w after Check.
func (a *Assembler) WriteTo(w io.Writer) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	idx := a.indexes()
	if _, err := CheckIndexes(idx, a.Expected); err != nil {
		return 0, err
	}
	var n int64
	for _, i := range idx {
		m, err := w.Write(a.chunks[i])
		n += int64(m)
		if err != nil {
			return n, fmt.Errorf("chunk: writing chunk %d: %w", i, err)
		}
	}
	return n, nil
}

// Bytes returns the assembled file after Check.
func (a *Assembler) Bytes() ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(a.Size()))
	if _, err := a.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// AddBase64 decodes a baohanfile value and adds it; the error names the
// index when the value is not base64.
func (a *Assembler) AddBase64(index int, b64 string) error {
	data, err := decodeChunk(b64)
	if err != nil {
		return fmt.Errorf("chunk %d: %w", index, err)
	}
	return a.Add(index, data)
}
