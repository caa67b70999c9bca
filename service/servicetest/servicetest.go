// Package servicetest holds the checks the platform's and the
// institution's tests make alike of what package service gives them.
package servicetest

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/service"
)

var wildcard = regexp.MustCompile(`\{[^}]*\}`)

// route is "METHOD /path/{}/...": a pattern or a documented operation
// with its wildcards unnamed (the platform names the application
// {applyno}, the document {id}: one route for a client).
func route(method, path string) string {
	return strings.ToUpper(method) + " " + wildcard.ReplaceAllString(path, "{}")
}

// Documented returns the operations the OpenAPI document gives the
// service named (x-baohan-services), as routes.
func Documented(t testing.TB, name string) []string {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]struct {
			Services []string `json:"x-baohan-services"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(service.OpenAPI(), &doc); err != nil {
		t.Fatalf("the OpenAPI document: %v", err)
	}
	var out []string
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if slices.Contains(op.Services, name) {
				out = append(out, route(method, path))
			}
		}
	}
	slices.Sort(out)
	return out
}

// OpenAPIMatchesRoutes fails t for every route the service registers
// (patterns, from its Routes) that the document does not describe for
// it, and for every operation the document gives it that it does not
// serve.
func OpenAPIMatchesRoutes(t testing.TB, name string, patterns []string) {
	t.Helper()
	documented := Documented(t, name)
	served := map[string]bool{}
	for _, p := range patterns {
		method, path, ok := strings.Cut(p, " ")
		if !ok || !strings.HasPrefix(path, "/") {
			t.Errorf("route %q has no method: every route names one", p)
			continue
		}
		r := route(method, path)
		served[r] = true
		if !slices.Contains(documented, r) {
			t.Errorf("%s serves %s, which /api/openapi.json does not describe for it (x-baohan-services)", name, p)
		}
	}
	for _, d := range documented {
		if !served[d] {
			t.Errorf("/api/openapi.json describes %s for the %s, which does not serve it", d, name)
		}
	}
	if len(patterns) < 10 {
		t.Fatalf("control: only %d routes registered", len(patterns))
	}
}
