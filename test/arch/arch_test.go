package arch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// listModule runs go list over the module and returns its packages with
// their imports inside the module.
func listModule(t *testing.T) []Package {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,TestImports,XTestImports,Error", Module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	inModule := func(paths []string) []string {
		var rel []string
		for _, p := range paths {
			if p == Module {
				rel = append(rel, "")
			} else if r, ok := strings.CutPrefix(p, Module+"/"); ok {
				rel = append(rel, r)
			}
		}
		return rel
	}
	var pkgs []Package
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath                         string
			Imports, TestImports, XTestImports []string
			Error                              *struct{ Err string }
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if p.Error != nil {
			t.Fatalf("go list %s: %s", p.ImportPath, p.Error.Err)
		}
		path := inModule([]string{p.ImportPath})
		if len(path) != 1 {
			t.Fatalf("go list: %s is outside the module", p.ImportPath)
		}
		pkgs = append(pkgs, Package{Path: path[0], Imports: inModule(p.Imports), TestImports: inModule(append(p.TestImports, p.XTestImports...))})
	}
	if len(pkgs) < 20 {
		t.Fatalf("go list found %d packages", len(pkgs))
	}
	return pkgs
}

// TestImportRules holds the module to the rules: every forbidden import
// fails it, but for the known exceptions, each of which must still occur.
func TestImportRules(t *testing.T) {
	pkgs := listModule(t)
	seen := map[[2]string]bool{}
	for _, v := range Check(pkgs) {
		key := [2]string{v.From, v.To}
		if _, ok := knownExceptions[key]; ok {
			seen[key] = true
			t.Logf("known exception: %v", v)
			continue
		}
		t.Errorf("%v", v)
	}
	for key, why := range knownExceptions {
		if !seen[key] {
			t.Errorf("the known exception %s -> %s (%s) no longer occurs: delete it from knownExceptions", key[0], key[1], why)
		}
	}
	// The rules name packages that exist: a layer's path that matches
	// no package is a rename the rules missed.
	for _, l := range layers {
		for _, q := range l.paths {
			found := false
			for _, p := range pkgs {
				if l2, ok := layerOf(p.Path); ok && l2.n == l.n && (p.Path == q || strings.HasPrefix(p.Path, strings.TrimSuffix(q, "..."))) {
					found = true
				}
			}
			if !found {
				t.Errorf("layer %d names %q, which is no package of the module", l.n, q)
			}
		}
	}
}

// TestRulesCatchForbiddenImports: each rule refuses a made-up graph that
// breaks it, and lets the allowed edges through.
func TestRulesCatchForbiddenImports(t *testing.T) {
	pkg := func(path string, imports ...string) Package { return Package{Path: path, Imports: imports} }
	tests := []struct {
		name string
		pkg  Package
		want string // "" allowed, else a part of the one violation
	}{
		{"the root imports nothing of the module", pkg("", "gm"), "layer 0"},
		{"gm on ctxio", pkg("gm", "internal/ctxio"), ""},
		{"the command's machinery imports nothing of the module", pkg("internal/cli", "gm"), "layer 0"},
		{"gm does not reach up to protocol's layer", pkg("gm", "protocol"), "layer 1"},
		{"ofd below its sub-packages", pkg("ofd", "ofd/ses"), "is in layer 2"},
		{"the OFD reports on the reader and the seals", pkg("ofd/inspect", "ofd/ses", "ofd"), ""},
		{"the OFD reports beside the guarantee layouts", pkg("ofd/inspect", "ofd/guarantee"), "both are in layer 3"},
		{"transport above protocol", pkg("transport", "protocol", "gm"), ""},
		{"transport does not import store", pkg("transport", "store"), "layer 3"},
		{"store above protocol", pkg("store", "protocol", "internal/ctxio"), ""},
		{"store does not import transport", pkg("store", "transport"), "store never imports transport"},
		{"config on transport and pki", pkg("config", "transport", "pki"), ""},
		{"config below service", pkg("config", "service"), "layer 4"},
		{"service below the services", pkg("service", "platform"), "layer 5"},
		{"the platform does not import the institution", pkg("platform", "institution"), "neither imports the other"},
		{"the institution does not import the platform", pkg("institution", "platform"), "neither imports the other"},
		{"the institution does not import the CA agent", pkg("institution", "web/caagent"), "layer 7"},
		{"the platform does not import web", pkg("platform", "web"), "layer 7"},
		{"web above the services", pkg("web", "platform", "institution", "store", "bidderauth"), ""},
		{"web does not import the CA agent", pkg("web", "web/caagent"), "layer 7"},
		{"demo is not imported by the services", pkg("institution", "demo"), "layer 9"},
		{"the harness is not imported by the services", pkg("platform", "harness"), "layer 8"},
		{"the harness on the services, consoles and CA agent", pkg("harness", "platform", "institution", "web", "web/caagent", "pki"), ""},
		{"the harness does not use the test CA", pkg("harness", "gm/testca"), "only tests and test support"},
		{"the harness does not import demo", pkg("harness", "demo"), "layer 9"},
		{"the tools on the harness", pkg("bench", "harness"), ""},
		{"conformance does not import demo", pkg("conformance", "demo"), "public API"},
		{"cmd wires everything", pkg("cmd/baohan", "demo", "bench", "conformance", "web", "pki"), ""},
		{"nothing imports cmd", pkg("web", "cmd/baohan"), "above layer 7"},
		{"no test imports cmd", Package{Path: "test/e2e", TestImports: []string{"cmd/baohan"}}, "nothing imports cmd"},
		{"not even a test", Package{Path: "platform", TestImports: []string{"cmd/baohan"}}, "nothing imports cmd"},
		{"production uses pki", pkg("service", "pki"), ""},
		{"production does not use the test CA", pkg("service", "gm/testca"), "only tests and test support"},
		{"demo does not use the test CA", pkg("demo", "gm/testca"), "only tests and test support"},
		{"tests use the test CA", Package{Path: "platform", TestImports: []string{"gm/testca"}}, ""},
		{"test support uses the test CA", pkg("test/internal/helper", "gm/testca", "platform", "institution"), ""},
		{"browser test support uses the test CA", pkg("web/browsertest", "gm/testca", "web"), ""},
		{"a package without a layer", pkg("newpkg", "gm"), "has no layer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Check([]Package{tt.pkg})
			switch {
			case tt.want == "" && len(got) > 0:
				t.Fatalf("allowed edges refused: %v", got)
			case tt.want != "" && len(got) == 0:
				t.Fatalf("no violation, want one with %q", tt.want)
			case tt.want != "" && !strings.Contains(fmt.Sprint(got), tt.want):
				t.Fatalf("%v, want %q", got, tt.want)
			}
		})
	}
}
