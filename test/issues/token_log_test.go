package issues

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/web"
)

// TestBidderTokenNotInInstitutionLog: the institution keeps the bidder
// token as a hash and a sealed copy, yet its message log kept the
// baohanapply answer as sent, redirecturl and token in the clear: every
// console viewer (报文日志, the raw response), the admin API
// (/api/messages?bodies=1) and every backup of the database could read
// it, and with it follow the bidder's application, pay and download its
// guarantee. The stored answer must have the token replaced (before the
// entry is chained, so that the chain still verifies).
func TestBidderTokenNotInInstitutionLog(t *testing.T) {
	s := harness.Start(t, harness.Quiet())
	ic := institutionConsole(t, s)
	applyNo := s.Apply(s.Section(time.Hour).No)
	tok := s.Token(applyNo, 10*time.Second)
	if len(tok) < 20 {
		t.Fatalf("token %q", tok)
	}

	// The admin API, bodies included.
	req, _ := http.NewRequest("GET", s.InstDoor.URL+"/api/messages?bodies=1&applyno="+url.QueryEscape(applyNo), nil)
	req.Header.Set("Authorization", "Bearer "+harness.InstAdmin)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var entries []struct {
		ID                int64
		Interface         string
		Request, Response string
	}
	if res.StatusCode != 200 || json.Unmarshal(raw, &entries) != nil {
		t.Fatalf("institution /api/messages: HTTP %d %.300s", res.StatusCode, raw)
	}
	answered := false
	for _, e := range entries {
		if strings.Contains(e.Request+e.Response, tok) {
			t.Errorf("admin API: message %d (%s) holds the bidder token: %.300s", e.ID, e.Interface, e.Response)
		}
		answered = answered || e.Interface == "baohanapply" && strings.Contains(e.Response, `"redirecturl":`)
	}
	if !answered {
		t.Fatalf("control: no baohanapply answer with its redirecturl among %d messages", len(entries))
	}
	if strings.Contains(string(raw), tok) {
		t.Error("admin API: the answer holds the bidder token")
	}

	// The console, as a viewer: the list, each message, its raw bodies.
	v := staffLogin(t, ic.Auth(), s.InstDoor.URL, "chakanyuan", web.Viewer)
	_, list := v.get("/console/messages?applyno=" + url.QueryEscape(applyNo))
	ids := regexp.MustCompile(`/console/messages/(\d+)"`).FindAllStringSubmatch(list, -1)
	if len(ids) == 0 {
		t.Fatalf("control: the viewer's message list shows no message of %s", applyNo)
	}
	shown := false
	for _, m := range ids {
		for _, p := range []string{"", "/request", "/response"} {
			code, page := v.get("/console/messages/" + m[1] + p)
			if code != 200 {
				t.Fatalf("console message %s%s: HTTP %d", m[1], p, code)
			}
			if strings.Contains(page, tok) {
				t.Errorf("console: a viewer reads the bidder token at /console/messages/%s%s", m[1], p)
			}
			shown = shown || strings.Contains(page, "redirecturl")
		}
	}
	if !shown {
		t.Fatal("control: no console page shows the baohanapply answer")
	}

	// The chain covers what is stored.
	op := staffLogin(t, ic.Auth(), s.InstDoor.URL, "caozuoyuan", web.Operator)
	if _, flash := op.act("/console/messages/verify", url.Values{}); !strings.Contains(flash, "完整") {
		t.Errorf("message log chain: %q", flash)
	}
}
