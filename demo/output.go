package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/baohan-dev/baohan/protocol"
)

// WriteSummary writes the summary table: one row per scenario, the files
// written, the interfaces used.
func (res *Result) WriteSummary(w io.Writer) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "\n%-56s %6s  %-6s  %s\n", "SCENARIO", "STEPS", "RESULT", "APPLYNO")
	for _, s := range res.Scenarios {
		result := "ok"
		if !s.OK {
			result = "FAILED"
		}
		fmt.Fprintf(ew, "%s %3d/%-2d  %-6s  %s\n", pad(s.Name, 56), s.Passed, s.Steps, result, strings.Join(s.ApplyNo, ", "))
		if s.Error != "" {
			fmt.Fprintf(ew, "    %s\n", s.Error)
		}
	}
	if len(res.Files) > 0 {
		fmt.Fprintln(ew, "\nguarantees issued (OFD, GB/T 33190; seals GB/T 38540):")
		for _, f := range res.Files {
			mark := "ok"
			if !f.OK {
				mark = "FAILED"
			}
			fmt.Fprintf(ew, "  %-6s %s (%d bytes): %s\n", mark, f.Path, f.Bytes, f.Detail)
		}
	}
	used := map[protocol.Interface]bool{}
	for _, i := range res.Interfaces {
		used[i] = true
	}
	var missing []string
	for _, i := range protocol.Interfaces {
		if !used[i] {
			missing = append(missing, string(i))
		}
	}
	fmt.Fprintf(ew, "\ninterfaces used: %d/%d", len(res.Interfaces), len(protocol.Interfaces))
	if len(missing) > 0 {
		fmt.Fprintf(ew, " (missing: %s)", strings.Join(missing, ", "))
	}
	ok := 0
	for _, e := range res.Exchanges {
		if e.Code == protocol.CodeOK {
			ok++
		}
	}
	fmt.Fprintf(ew, "; %d exchanges (%d answered code 1)\n", len(res.Exchanges), ok)
	verdict := "every step checked out"
	if !res.OK {
		verdict = "FAILED"
	}
	fmt.Fprintf(ew, "demo %s in %.1fs\n", verdict, res.Seconds)
	return ew.err
}

// WriteJSON writes the result as indented JSON.
func (res *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(res)
}

// pad pads s with spaces to n display columns (a CJK character is two).
func pad(s string, n int) string {
	w := 0
	for _, r := range s {
		if r >= 0x2E80 {
			w += 2
		} else {
			w++
		}
	}
	if w >= n {
		return s
	}
	return s + strings.Repeat(" ", n-w)
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
