package platform

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

// TestAdminPaging: every listing reads limit and offset alike, refuses
// what is not a non-negative integer naming the field, and pages.
func TestAdminPaging(t *testing.T) {
	e := newEnv(t, "")
	kbt := e.clock.Now().Add(2 * time.Hour)
	for _, no := range []string{"ZB-P1", "ZB-P2", "ZB-P3"} {
		if code, b := e.admin("POST", "/api/sections", map[string]any{"section_no": no, "name": "分页测试", "tenderer": "某某教育局",
			"bond_amount": "50000.00", "kaibiaotime": protocol.FormatTime(kbt)}); code != http.StatusCreated {
			t.Fatalf("register section %s: %d %s", no, code, b)
		}
	}
	for _, list := range []string{"/api/applications", "/api/sections", "/api/bidders", "/api/guarantees"} {
		for _, c := range []struct{ query, field string }{
			{"limit=x", "limit"},
			{"limit=-1", "limit"},
			{"offset=1.5", "offset"},
			{"limit=2&offset=-3", "offset"},
		} {
			code, b := e.admin("GET", list+"?"+c.query, nil)
			if got := decode[apiError](t, b); code != http.StatusBadRequest || got.Field != c.field {
				t.Errorf("GET %s?%s: %d %s, want 400 on field %s", list, c.query, code, b, c.field)
			}
		}
		if code, b := e.admin("GET", list+"?limit=1&offset=0", nil); code != http.StatusOK {
			t.Errorf("GET %s?limit=1&offset=0: %d %s", list, code, b)
		}
	}
	seen := map[string]bool{}
	for off := range 4 {
		code, b := e.admin("GET", fmt.Sprintf("/api/sections?limit=1&offset=%d", off), nil)
		if code != http.StatusOK {
			t.Fatalf("sections page %d: %d %s", off, code, b)
		}
		page := decode[[]Section](t, b)
		want := 1
		if off == 3 {
			want = 0
		}
		if len(page) != want {
			t.Fatalf("sections page %d: %d rows, want %d", off, len(page), want)
		}
		for _, s := range page {
			if seen[s.No] {
				t.Errorf("section %s on two pages", s.No)
			}
			seen[s.No] = true
		}
	}
	if len(seen) != 3 {
		t.Errorf("pages held %d sections, want 3", len(seen))
	}
}
