package transport

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestReadBody: the body comes back whole whatever length was announced.
func TestReadBody(t *testing.T) {
	data := []byte(strings.Repeat("0123456789abcdef", 5000))
	for _, tt := range []struct {
		name      string
		r         io.Reader
		announced int64
	}{
		{"exact", bytes.NewReader(data), int64(len(data))},
		{"unknown", bytes.NewReader(data), -1},
		{"zero", bytes.NewReader(data), 0},
		{"fewer announced", bytes.NewReader(data), 100},
		{"more announced", bytes.NewReader(data), int64(len(data)) * 2},
		{"one byte at a time", iotest.OneByteReader(bytes.NewReader(data)), int64(len(data))},
		{"data with EOF", iotest.DataErrReader(bytes.NewReader(data)), int64(len(data))},
	} {
		got, err := readBody(tt.r, tt.announced)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: %d bytes, %v; want %d bytes", tt.name, len(got), err, len(data))
		}
	}
	if _, err := readBody(iotest.ErrReader(io.ErrUnexpectedEOF), 10); err != io.ErrUnexpectedEOF {
		t.Errorf("a failing reader: %v", err)
	}
}
