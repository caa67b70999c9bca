package demo

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/web"
)

func TestWriteAccess(t *testing.T) {
	sys := &System{
		Dir: "/tmp/d", CAFile: "/tmp/d/ca/ca.cert.pem",
		PlatformURL: "http://127.0.0.1:1", InstitutionURL: "http://127.0.0.1:2", AgentURL: "http://127.0.0.1:3",
		Accounts: map[string][]web.Account{
			"platform":    {{Username: "padmin", Password: "pw-p"}},
			"institution": {{Username: "iadmin", Password: "pw-i"}, {Username: "iclerk", Password: "pw-c"}},
		},
		AppSecret: "s3cret", PlatformAdminToken: "ptok", InstitutionAdminToken: "itok",
	}
	for _, temp := range []bool{false, true} {
		var b bytes.Buffer
		if err := sys.WriteAccess(&b, temp); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		for _, want := range []string{
			"platform console      http://127.0.0.1:1/console/   (bidders log in with the CA agent at http://127.0.0.1:3)",
			"  platform     padmin    password pw-p\n  institution  iadmin    password pw-i\n  institution  iclerk    password pw-c\n",
			"platform     http://127.0.0.1:1/api/  token ptok", "institution  http://127.0.0.1:2/api/  token itok",
			"appkey " + AppKey + "  appsecret s3cret  platformcode " + PlatformCode,
			"keys and certificates: /tmp/d/ca\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("temp=%v: lacks %q:\n%s", temp, want, out)
			}
		}
		if got := strings.Contains(out, "data directory /tmp/d is left in place"); got != temp {
			t.Errorf("temp=%v: notes the data directory: %v", temp, got)
		}
	}
	if err := sys.WriteAccess(failWriter{}, false); err == nil {
		t.Error("a failing writer's error is lost")
	}
	var b bytes.Buffer
	sys.WriteAddresses(&b)
	if !strings.Contains(b.String(), "CA agent     http://127.0.0.1:3  (bidder "+MainBidder.Name+"; unattended: signs without asking)") {
		t.Errorf("addresses:\n%s", b.String())
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
