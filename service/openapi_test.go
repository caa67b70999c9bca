package service

import (
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestOpenAPIDocument: the document is OpenAPI 3 JSON whose every
// operation names who serves it, has a unique operationId and answers,
// declares exactly the parameters of its path, and refers only to
// components that exist. (TestOpenAPIMatchesRoutes of the platform and
// the institution hold it against what they serve.)
func TestOpenAPIDocument(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.") {
		t.Fatalf("openapi %q", v)
	}
	// Every $ref resolves.
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				var cur any = doc
				for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					m, _ := cur.(map[string]any)
					cur = m[part]
				}
				if cur == nil {
					t.Errorf("$ref %s resolves to nothing", ref)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)

	paths, _ := doc["paths"].(map[string]any)
	wildcard := regexp.MustCompile(`\{([^}]+)\}`)
	ids := map[string]string{}
	var names []string
	for p := range paths {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, path := range names {
		var want []string
		for _, m := range wildcard.FindAllStringSubmatch(path, -1) {
			want = append(want, m[1])
		}
		for method, o := range paths[path].(map[string]any) {
			op := o.(map[string]any)
			where := strings.ToUpper(method) + " " + path
			services, _ := op["x-baohan-services"].([]any)
			if len(services) == 0 {
				t.Errorf("%s: no x-baohan-services", where)
			}
			for _, s := range services {
				if s != "platform" && s != "institution" {
					t.Errorf("%s: x-baohan-services %v", where, s)
				}
			}
			id, _ := op["operationId"].(string)
			if id == "" || ids[id] != "" {
				t.Errorf("%s: operationId %q empty or also %s's", where, id, ids[id])
			}
			ids[id] = where
			if r, _ := op["responses"].(map[string]any); len(r) == 0 {
				t.Errorf("%s: no responses", where)
			}
			var got []string
			params, _ := op["parameters"].([]any)
			for _, p := range params {
				pm := p.(map[string]any)
				if pm["in"] == "path" {
					got = append(got, pm["name"].(string))
					if pm["required"] != true {
						t.Errorf("%s: path parameter %v not required", where, pm["name"])
					}
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: path parameters %v, the path has %v", where, got, want)
			}
		}
	}
	if len(ids) < 50 {
		t.Errorf("control: %d operations", len(ids))
	}
}
