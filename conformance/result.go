package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/baohan-dev/baohan/protocol"
)

// Status is the outcome of one check.
type Status string

const (
	// Pass: the implementation did what the spec requires.
	Pass Status = "pass"
	// Fail: it did not; Result.Got says what it did instead.
	Fail Status = "fail"
	// Skip: the check could not run, because a check it needs did not
	// pass or because nothing could drive the step (Result.Got says why).
	Skip Status = "skip"
	// Warn: an optional check (an optional interface, a recommendation)
	// did not pass. It does not fail the suite.
	Warn Status = "warn"
)

// Exchange is one HTTP exchange of a check, raw.
type Exchange struct {
	// Direction is "out" for a call the kit made to the implementation,
	// "in" for a call the implementation made to the kit.
	Direction  string             `json:"direction"`
	Interface  protocol.Interface `json:"interface"`
	URL        string             `json:"url,omitempty"`
	Request    string             `json:"request"`
	HTTPStatus int                `json:"http_status,omitempty"`
	Response   string             `json:"response"`
	// Error is a transport error (connection refused, timeout).
	Error   string        `json:"error,omitempty"`
	Latency time.Duration `json:"latency_ns,omitempty"`
	At      time.Time     `json:"at"`
}

// Result is what one check found.
type Result struct {
	ID        string             `json:"id"`
	Title     string             `json:"title"`
	Interface protocol.Interface `json:"interface,omitempty"`
	Expected  string             `json:"expected"`
	Got       string             `json:"got"`
	Status    Status             `json:"status"`
	Optional  bool               `json:"optional,omitempty"`
	Duration  time.Duration      `json:"duration_ns"`
	// Exchanges are the raw exchanges the check made or observed.
	Exchanges []Exchange `json:"exchanges,omitempty"`
}

// Report is the outcome of a suite run.
type Report struct {
	// Side is the side under test.
	Side     protocol.Side `json:"side"`
	Target   string        `json:"target"`
	Listener string        `json:"listener,omitempty"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
	Results  []Result      `json:"results"`
	// Interfaces are the interfaces exchanged during the run.
	Interfaces []protocol.Interface `json:"interfaces"`
}

// Counts returns how many results have each status.
func (r *Report) Counts() map[Status]int {
	m := map[Status]int{}
	for _, res := range r.Results {
		m[res.Status]++
	}
	return m
}

// Passed reports whether no check failed and none was skipped (optional
// checks that warn do not count). With allowSkip, skipped checks are
// tolerated.
func (r *Report) Passed(allowSkip bool) bool {
	for _, res := range r.Results {
		switch res.Status {
		case Fail:
			return false
		case Skip:
			if !allowSkip && !res.Optional {
				return false
			}
		}
	}
	return len(r.Results) > 0
}

// Failed returns the results that failed.
func (r *Report) Failed() []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Status == Fail {
			out = append(out, res)
		}
	}
	return out
}

// Result returns the result of the check with that ID.
func (r *Report) Result(id string) (Result, bool) {
	for _, res := range r.Results {
		if res.ID == id {
			return res, true
		}
	}
	return Result{}, false
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// WriteTable writes the report as a table, check by check, then the raw
// exchanges of every failed (and warned) check, then a summary line.
func (r *Report) WriteTable(w io.Writer) error {
	ew := &errWriter{w: w}
	const wID, wExp, wGot = 34, 44, 60
	fmt.Fprintf(ew, "%s  %s  %s  %s\n", fit("CHECK", wID), fit("EXPECTED", wExp), fit("GOT", wGot), "RESULT")
	for _, res := range r.Results {
		fmt.Fprintf(ew, "%s  %s  %s  %s\n", fit(res.ID, wID), fit(res.Expected, wExp),
			fit(oneLine(res.Got), wGot), strings.ToUpper(string(res.Status)))
	}
	for _, res := range r.Results {
		if res.Status != Fail && res.Status != Warn {
			continue
		}
		fmt.Fprintf(ew, "\n--- %s %s: %s\n", strings.ToUpper(string(res.Status)), res.ID, res.Title)
		fmt.Fprintf(ew, "    expected: %s\n    got:      %s\n", res.Expected, res.Got)
		for _, ex := range res.Exchanges {
			writeExchange(ew, ex)
		}
	}
	c := r.Counts()
	spec, optional := 0, 0
	for _, i := range r.Interfaces {
		if i.Optional() {
			optional++
		} else {
			spec++
		}
	}
	extra := ""
	if optional > 0 {
		extra = fmt.Sprintf(" + %d optional", optional)
	}
	fmt.Fprintf(ew, "\n%s %s: %d checks, %d passed, %d failed, %d skipped, %d warnings; interfaces exchanged: %d/%d%s; %s\n",
		r.Side, r.Target, len(r.Results), c[Pass], c[Fail], c[Skip], c[Warn],
		spec, len(protocol.Interfaces), extra, r.Duration.Round(time.Millisecond))
	return ew.err
}

func writeExchange(w io.Writer, ex Exchange) {
	arrow := "kit → peer"
	if ex.Direction == "in" {
		arrow = "peer → kit"
	}
	fmt.Fprintf(w, "    [%s] %s %s\n", arrow, ex.Interface, ex.URL)
	fmt.Fprintf(w, "      request:  %s\n", clipText(ex.Request, 600))
	if ex.Error != "" {
		fmt.Fprintf(w, "      error:    %s\n", ex.Error)
		return
	}
	fmt.Fprintf(w, "      response: HTTP %d %s\n", ex.HTTPStatus, clipText(ex.Response, 600))
}

// fit cuts s to at most n display columns (a CJK character is two) and
// pads it with spaces to exactly n.
func fit(s string, n int) string {
	if w := width(s); w <= n {
		return s + strings.Repeat(" ", n-w)
	}
	w := 0
	for i, r := range s {
		rw := runeWidth(r)
		if w+rw > n-1 {
			return s[:i] + "…" + strings.Repeat(" ", n-1-w)
		}
		w += rw
	}
	return s
}

func width(s string) int {
	w := 0
	for _, r := range s {
		w += runeWidth(r)
	}
	return w
}

func runeWidth(r rune) int {
	if r >= 0x1100 && isWide(r) {
		return 2
	}
	return 1
}

func isWide(r rune) bool {
	return (r >= 0x2E80 && r <= 0xA4CF) || (r >= 0xAC00 && r <= 0xD7A3) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0xFE30 && r <= 0xFE4F) || (r >= 0xFF00 && r <= 0xFF60) || (r >= 0xFFE0 && r <= 0xFFE6)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return fmt.Sprintf("%s… (%d bytes)", s[:n], len(s))
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
