package institution

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/service"
)

func TestRedactTokens(t *testing.T) {
	tok, _ := newToken()
	inv, _ := newToken()
	mark, invMark := tokenMarker(tok), tokenMarker(inv)
	for _, c := range []struct{ in, want string }{
		{"/bidder/" + tok, "/bidder/" + mark},
		{"/bidder/" + tok + "/quit", "/bidder/" + mark + "/quit"},
		{"/invoices/" + inv, "/invoices/" + invMark},
		{`{"code":1,"message":"成功","data":{"redirecturl":"https://inst.example:8443/bidder/` + tok + `"}}`,
			`{"code":1,"message":"成功","data":{"redirecturl":"https://inst.example:8443/bidder/` + mark + `"}}`},
		// not a token's path: left alone
		{"/api/applications/X", "/api/applications/X"},
		{"/bidder/", "/bidder/"},
		{`{"code":0,"message":"applydata: 7 bytes is not SM4 ciphertext","data":{}}`, `{"code":0,"message":"applydata: 7 bytes is not SM4 ciphertext","data":{}}`},
	} {
		if got := string(redactTokens([]byte(c.in))); got != c.want {
			t.Errorf("redactTokens(%.60q) = %q, want %q", c.in, got, c.want)
		}
	}
	if !strings.HasPrefix(mark, "[redacted sm3:") || !strings.Contains(hashToken(tok), mark[len("[redacted sm3:"):len(mark)-1]) {
		t.Errorf("marker %q does not name the token_hash %s", mark, hashToken(tok))
	}
	if tokenMarker(tok) == tokenMarker(inv) {
		t.Error("two tokens, one marker")
	}
}

// TestMessageLogHoldsNoBidderToken: the baohanapply answer goes out with
// the full redirecturl (first time and again), the message log keeps it
// with the token replaced by its marker, and the chain verifies.
func TestMessageLogHoldsNoBidderToken(t *testing.T) {
	for _, pg := range []bool{false, true} {
		name := "sqlite"
		if pg {
			name = "postgres"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, pg)
			ad, envl := e.applyData("RD-1", e.bidder.CreditCode, "1000.00")
			var urls []string
			for range 2 {
				e.advance(time.Second) // a new timestamp, a new sign: the platform's retry
				r := e.call(protocol.BaohanApply, map[string]string{"applyno": "RD-1", "applydata": ad, "digitalenvelope": envl})
				var res protocol.ApplyResult
				if r.Code != 1 || json.Unmarshal(r.Data, &res) != nil {
					t.Fatalf("baohanapply: %+v", r)
				}
				urls = append(urls, res.RedirectURL)
			}
			if urls[0] != urls[1] || !strings.HasPrefix(urls[0], e.srv.URL+"/bidder/") {
				t.Fatalf("redirecturls %q", urls)
			}
			tok := urls[0][len(e.srv.URL+"/bidder/"):]
			if !validTokenShape(tok) {
				t.Fatalf("token %q", tok)
			}
			var v BidderView
			if st := e.bidderDo("GET", "/bidder/"+tok, nil, &v); st != 200 || v.ApplyNo != "RD-1" {
				t.Fatalf("the answer's token does not work: %d %+v", st, v)
			}

			var list []service.MessageView
			if st := e.admin("GET", "/api/messages?applyno=RD-1&bodies=1", nil, &list); st != 200 {
				t.Fatalf("messages: HTTP %d", st)
			}
			n := 0
			for _, le := range list {
				if strings.Contains(le.Request+le.Response, tok) {
					t.Errorf("message log entry %d (%s %s) holds the bidder token", le.ID, le.Direction, le.Interface)
				}
				if le.Interface == string(protocol.BaohanApply) && strings.Contains(le.Response, `/bidder/`+tokenMarker(tok)+`"`) {
					n++
				}
			}
			if n != 2 {
				t.Errorf("%d baohanapply answers with the redacted redirecturl, want 2 (%d entries)", n, len(list))
			}
			if brk, err := e.svc.msgs.VerifyChain(e.ctx); err != nil || brk != nil {
				t.Fatalf("chain: %v %v", brk, err)
			}
		})
	}
}
