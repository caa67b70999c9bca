package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
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
	for _, i := range protocol.All {
		if !used[i] {
			missing = append(missing, string(i))
		}
	}
	fmt.Fprintf(ew, "\ninterfaces used: %d/%d (%d + %d optional)", len(res.Interfaces), len(protocol.All), len(protocol.Interfaces), len(protocol.Extensions))
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

// WriteAddresses writes where the parts of the system answer.
func (s *System) WriteAddresses(w io.Writer) error {
	_, err := fmt.Fprintf(w, "  platform     %s  (%s)\n  institution  %s  (%s)\n  CA agent     %s  (bidder %s; unattended: signs without asking)\n  test CA      %s\n\n",
		s.PlatformURL, PlatformName, s.InstitutionURL, InstitutionName, s.AgentURL, MainBidder.Name, s.CAFile)
	return err
}

// WriteAccess writes what a person needs to explore the running system:
// the consoles and their accounts, the admin APIs and their tokens, the
// peer pair and the test CA. temp notes that the data directory was made
// for the run and is left in place.
func (s *System) WriteAccess(w io.Writer, temp bool) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "\nEverything keeps running; press Ctrl-C to stop.\n\n")
	fmt.Fprintf(ew, "platform console      %s/console/   (bidders log in with the CA agent at %s)\n", s.PlatformURL, s.AgentURL)
	fmt.Fprintf(ew, "institution console   %s/console/\n", s.InstitutionURL)
	for _, console := range []string{"platform", "institution"} {
		for _, a := range s.Accounts[console] {
			fmt.Fprintf(ew, "  %-12s %-9s password %s\n", console, a.Username, a.Password)
		}
	}
	fmt.Fprintf(ew, "\nadmin APIs (Authorization: Bearer TOKEN)\n  platform     %s/api/  token %s\n  institution  %s/api/  token %s\n",
		s.PlatformURL, s.PlatformAdminToken, s.InstitutionURL, s.InstitutionAdminToken)
	fmt.Fprintf(ew, "\npeer pair  appkey %s  appsecret %s  platformcode %s\n", AppKey, s.AppSecret, PlatformCode)
	fmt.Fprintf(ew, "test CA and the bidders' keys and certificates: %s\n", filepath.Dir(s.CAFile))
	if temp {
		fmt.Fprintf(ew, "data directory %s is left in place; remove it when done\n", s.Dir)
	}
	return ew.err
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
