// Package arch holds the module's import rules (docs/ARCHITECTURE.md,
// "Packages") as a test: TestImportRules runs them on the graph `go list`
// reports, TestRulesCatchForbiddenImports proves on made-up graphs that
// each rule refuses what it forbids.
package arch

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Module is the module path; packages are named by their path in it
// ("" for the root package baohan).
const Module = "github.com/baohan-dev/baohan"

// layer is a set of packages; a package imports only packages of lower
// layers: none of its own layer, none above.
type layer struct {
	n     int
	what  string
	paths []string // exact paths, or a prefix ending in "/..."
}

var layers = []layer{
	{0, "the domain (arithmetic, the refusal error) and helpers", []string{"", "internal/ctxio", "internal/httpjson", "internal/cli", "chunk", "ofd/ttf"}},
	{1, "国密, the wire rules, the OFD format", []string{"gm", "protocol", "ofd", "ofd/ttf/internal/mkfont"}},
	{2, "on the crypto: the CA and credit codes, bidders' signatures, seals, glyphs", []string{"pki", "bidderauth", "ofd/ses", "ofd/internal/glyph"}},
	{3, "HTTP of the interfaces and durability (siblings: store never imports transport), guarantee documents, test support", []string{
		"transport", "store", "ofd/guarantee", "ofd/render", "ofd/inspect", "ofd/internal/ofdtest", "gm/testca", "store/storetest", "internal/replaytest", "conformance/faults"}},
	{4, "configuration", []string{"config"}},
	{5, "the runtime both services share, the configuration's test support", []string{"service", "config/configtest"}},
	{6, "the two services (neither imports the other), their shared test support", []string{"platform", "institution", "service/servicetest"}},
	{7, "in front of the services (the consoles) and beside them (the CA agent)", []string{"web", "web/caagent"}},
	{8, "the harness: both services, the consoles, the CA agent and the bidder in one process", []string{"harness"}},
	{9, "tools over the whole system, used through their public API", []string{"conformance", "demo", "bench", "web/browsertest"}},
	{10, "wiring and cross-package tests", []string{"cmd/baohan", "test/..."}},
}

// knownExceptions are forbidden imports the graph still has, each with
// why and what removes it ({from, to}: reason). TestImportRules fails on
// an exception that no longer occurs, so that it is deleted with the
// import. There are none.
var knownExceptions = map[[2]string]string{}

// Package is a package of the module and what it imports (paths in the
// module; imports from outside it are left out).
type Package struct {
	Path        string
	Imports     []string // of its non-test files
	TestImports []string // of its _test.go files, both packages
}

// Violation is a forbidden import, or a package without a layer
// (Layerless, To empty).
type Violation struct {
	From, To  string
	Rule      string
	Layerless bool
}

func (v Violation) String() string {
	if v.Layerless {
		return fmt.Sprintf("%s: %s", show(v.From), v.Rule)
	}
	return fmt.Sprintf("%s imports %s: %s", show(v.From), show(v.To), v.Rule)
}

func show(p string) string {
	if p == "" {
		return "baohan (root)"
	}
	return p
}

func layerOf(p string) (layer, bool) {
	for _, l := range layers {
		for _, q := range l.paths {
			if p == q || (strings.HasSuffix(q, "/...") && strings.HasPrefix(p, strings.TrimSuffix(q, "..."))) {
				return l, true
			}
		}
	}
	return layer{}, false
}

// testSupport: packages that exist for tests (test/..., and those named
// ...test: storetest, ofdtest, browsertest).
func testSupport(p string) bool {
	last := p[strings.LastIndex(p, "/")+1:]
	return p == "test" || strings.HasPrefix(p, "test/") || strings.HasSuffix(last, "test")
}

// Check applies the rules to pkgs:
//
//   - every package has a layer, and imports only packages of lower
//     layers (the root imports nothing of the module; store does not
//     import transport; platform and institution never import each other
//     nor web; config and service are below the services; demo, bench and
//     conformance are imported only by cmd and tests);
//   - only tests and test support import gm/testca (production code
//     uses pki);
//   - nothing imports cmd/..., not even a test.
func Check(pkgs []Package) []Violation {
	var out []Violation
	for _, p := range pkgs {
		from, ok := layerOf(p.Path)
		if !ok {
			out = append(out, Violation{From: p.Path, Rule: "the package has no layer: give it one in test/arch (layers) and docs/ARCHITECTURE.md", Layerless: true})
			continue
		}
		for _, to := range p.Imports {
			if l, ok := layerOf(to); ok && l.n >= from.n {
				rule := fmt.Sprintf("both are in layer %d (%s); a package imports only lower layers", l.n, l.what)
				if l.n > from.n {
					rule = fmt.Sprintf("%s is in layer %d (%s), above layer %d (%s)", show(to), l.n, l.what, from.n, from.what)
				}
				out = append(out, Violation{From: p.Path, To: to, Rule: rule})
			}
			if to == "gm/testca" && !testSupport(p.Path) {
				out = append(out, Violation{From: p.Path, To: to, Rule: "only tests and test support import the test CA; production code uses pki"})
			}
		}
		for _, to := range append(slices.Clone(p.Imports), p.TestImports...) {
			if (to == "cmd" || strings.HasPrefix(to, "cmd/")) && to != p.Path {
				out = append(out, Violation{From: p.Path, To: to, Rule: "nothing imports cmd: it only wires (move what is needed into a package)"})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return slices.CompactFunc(out, func(a, b Violation) bool { return a == b })
}
