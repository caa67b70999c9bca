package institution

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

func TestHappyPathSQLite(t *testing.T)   { testHappyPath(t, false) }
func TestHappyPathPostgres(t *testing.T) { testHappyPath(t, true) }

func testHappyPath(t *testing.T, pg bool) {
	e := newEnv(t, pg)
	ad, envl := e.applyData("A-0001", e.bidder.CreditCode, "200000.00")
	fields := map[string]string{"applyno": "A-0001", "applydata": ad, "digitalenvelope": envl}
	r1 := e.call(protocol.BaohanApply, fields)
	e.advance(time.Second)
	r2 := e.call(protocol.BaohanApply, fields) // the same request again (new timestamp and sign)
	if r1.Code != 1 || r2.Code != 1 || string(r1.Data) != string(r2.Data) {
		t.Fatalf("repeat: %+v / %+v", r1, r2)
	}
	ad2, env2 := e.applyData("A-0001", e.bidder.CreditCode, "300000.00")
	r3 := e.call(protocol.BaohanApply, map[string]string{"applyno": "A-0001", "applydata": ad2, "digitalenvelope": env2})
	if want := `applyno "A-0001" was already received with other applydata or digitalenvelope; a new application needs a new applyno`; r3.Code != 0 || r3.Message != want {
		t.Fatalf("other body: %+v", r3)
	}
	var res protocol.ApplyResult
	json.Unmarshal(r1.Data, &res)
	tok := strings.TrimPrefix(res.RedirectURL, e.srv.URL+"/bidder/")
	if len(tok) != 43 {
		t.Fatalf("redirecturl %s", res.RedirectURL)
	}
	e.openAndSign(tok)
	v := e.pay(tok)
	if v.State != Approved && v.State != Issued {
		t.Fatalf("after paying: %s (%s)", v.State, v.Decision)
	}
	e.waitState("A-0001", Issued)
	a := e.app("A-0001")
	if !strings.HasPrefix(a.BaohanNo, "TB") || a.Premium != "1000.00" || a.Rate != "0.005" {
		t.Errorf("application %+v", a)
	}
	n := e.plat.last(string(protocol.BaohanNotice))
	if n["applystatus"] != "1" || n["cost"] != "1000.00" || n["rate"] != "0.005" || n["instname"] != testInstName || n["baohanno"] != a.BaohanNo {
		t.Errorf("baohannotice %v", n)
	}
	if e.plat.file("A-0001", 1) == nil {
		t.Fatal("the platform has no verified ciphertext guarantee")
	}
}
