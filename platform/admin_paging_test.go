package platform

import (
	"fmt"
	"net/http"
	"strings"
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

// TestApplicationsKeyset: paging with before (the applyno of the last row
// of the previous page) walks the same order as offsets, ties of
// created_at included, and an unknown applyno gives an empty page.
func TestApplicationsKeyset(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) { testApplicationsKeyset(t, newEnv(t, dbURL)) })
}

func testApplicationsKeyset(t *testing.T, e *env) {
	e.bidder(e.pki.bidder)
	for i := range 5 {
		sec := e.section(2 * time.Hour)
		if _, err := e.svc.Apply(e.ctx, ApplyInput{SectionNo: sec.No, BidderCode: e.pki.bidder.CreditCode, Institution: "bank", Product: "投标保函"}); err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 { // pairs created at the same microsecond
			e.tick()
		}
	}
	all, err := e.svc.Applications(e.ctx, ApplicationFilter{})
	if err != nil || len(all) != 5 {
		t.Fatalf("all: %d, %v", len(all), err)
	}
	var want, got []string
	for _, a := range all {
		want = append(want, a.ApplyNo)
	}
	for before := ""; ; {
		page, err := e.svc.Applications(e.ctx, ApplicationFilter{Before: before, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, a := range page {
			got = append(got, a.ApplyNo)
		}
		before = page[len(page)-1].ApplyNo
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("keyset pages %v, want %v", got, want)
	}
	code, b := e.admin("GET", "/api/applications?limit=2&before="+want[1], nil)
	if page := decode[[]Application](t, b); code != http.StatusOK || len(page) != 2 || page[0].ApplyNo != want[2] {
		t.Errorf("GET ?before=%s: %d %s", want[1], code, b)
	}
	if page, err := e.svc.Applications(e.ctx, ApplicationFilter{Before: "BH-unknown"}); err != nil || len(page) != 0 {
		t.Errorf("before an unknown applyno: %d rows, %v", len(page), err)
	}
	// The overview's counts, exact below the bound and stopped at it.
	for _, c := range []struct{ atMost, want int }{{10, 5}, {3, 3}} {
		counts, err := e.svc.CountStates(e.ctx, c.atMost)
		if err != nil || counts[Applied] != c.want || counts[Approved] != 0 {
			t.Errorf("CountStates(%d) = %v, %v; want %d applied", c.atMost, counts, err, c.want)
		}
	}
	// Offsets page the same order (a deep page starts at the row found in
	// the index, ties of created_at included), filtered or not, and past
	// the end is an empty page.
	for off := range 6 {
		page, err := e.svc.Applications(e.ctx, ApplicationFilter{Offset: off, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range page {
			got = append(got, a.ApplyNo)
		}
		if w := want[min(off, 5):min(off+2, 5)]; fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("offset %d: %v, want %v", off, got, w)
		}
	}
	if page, err := e.svc.Applications(e.ctx, ApplicationFilter{Offset: 2, Limit: 5, State: Applied, Institution: "bank"}); err != nil || len(page) != 3 || page[0].ApplyNo != want[2] {
		t.Errorf("filtered offset 2: %d rows, %v", len(page), err)
	}
	if page, err := e.svc.Applications(e.ctx, ApplicationFilter{Offset: 1, State: Approved}); err != nil || len(page) != 0 {
		t.Errorf("offset of an empty filter: %d rows, %v", len(page), err)
	}
	// The applyno prefix is matched literally, wildcards included.
	for _, p := range []string{want[0][:12], want[0][:11] + "*", want[0][:11] + "%", want[0][:11] + "?", want[0][:11] + "_", "[" + want[0][1:5], want[0], want[0] + "X", "保函", `BH\`} {
		n := 0
		for _, a := range all {
			if strings.HasPrefix(a.ApplyNo, p) {
				n++
			}
		}
		page, err := e.svc.Applications(e.ctx, ApplicationFilter{ApplyNo: p})
		if err != nil || len(page) != n {
			t.Errorf("applyno prefix %q: %d rows, want %d (%v)", p, len(page), n, err)
		}
	}
}

// prefixEnd bounds the strings beginning with a prefix in byte order
// (the range of the applyno search on PostgreSQL).
func TestPrefixEnd(t *testing.T) {
	for _, c := range []struct {
		p, end string
		ok     bool
	}{
		{"BH2026", "BH2027", true},
		{"BH20261", "BH20262", true},
		{"BH-", "BH.", true},
		{"a\u007f", "a\u0080", true},
		{"保函", "保凾", true},
		{"x\ud7ff", "x\ue000", true},
		{"x\U0010ffff", "y", true},
		{"\U0010ffff\U0010ffff", "", false},
		{"", "", false},
	} {
		end, ok := prefixEnd(c.p)
		if end != c.end || ok != c.ok {
			t.Errorf("prefixEnd(%q) = %q, %v; want %q, %v", c.p, end, ok, c.end, c.ok)
			continue
		}
		// Every string with the prefix sorts in [p, end).
		for _, tail := range []string{"", "0", "zz", "\u00ff", "保", "\U0010ffff\U0010ffff"} {
			if s := c.p + tail; ok && !(c.p <= s && s < end) {
				t.Errorf("%q not in [%q, %q)", s, c.p, end)
			}
		}
	}
}
