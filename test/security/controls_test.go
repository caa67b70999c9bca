package security

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
)

// TestRateLimitPerAppKey: the per-appkey token bucket configured for a
// peer (config rate_limit, rate_burst) is enforced by the service: past
// the burst the answer is HTTP 429 with Retry-After and the JSON
// {"code":0,"message":"rate limit exceeded: ..."}; the peer's outbox
// takes the 429 as a transient failure, retries, and the flow completes.
func TestRateLimitPerAppKey(t *testing.T) {
	s := harness.Start(t, harness.Quiet(), harness.WithPlatformPeer(func(p *config.Peer) { p.RateLimit, p.RateBurst = 10, 3 }))
	sec := s.Section(time.Hour)
	applyNo := s.Apply(sec.No)
	s.Token(applyNo, 10*time.Second)

	inst := s.AsInstitution()
	codes := map[int]int{}
	for i := 0; i < 10; i++ {
		r, err := inst.Call(protocol.DownloadPublicKey, map[string]string{"applyno": applyNo})
		if err != nil {
			if !strings.Contains(err.Error(), "HTTP 429") || !strings.Contains(err.Error(), "rate limit exceeded: appkey") {
				t.Fatalf("call %d: %v", i, err)
			}
			codes[429]++
			continue
		}
		codes[r.Code]++
	}
	if codes[429] == 0 || codes[1] < 3 {
		t.Fatalf("answers %v: want the first 3 accepted and some refused with 429", codes)
	}
	// The answer itself.
	var last harness.Exchange
	for _, ex := range s.PlatDoor.Exchanges() {
		if ex.Status == http.StatusTooManyRequests {
			last = ex
		}
	}
	if r, ok := harness.Answer(last.Response); !ok || r.Code != 0 || !strings.HasPrefix(r.Message, `rate limit exceeded: appkey "`+harness.AppKey+`" may send 10 requests/s, burst 3`) {
		t.Fatalf("429 answer %q", last.Response)
	}
	// The real institution uploads a guarantee of many 1 KiB chunks
	// through the limit: throttled, retried, complete.
	s.BidderSignsAndPays(s.Token(applyNo, 10*time.Second))
	s.WaitPlat(applyNo, "cipher_received", 60*time.Second)
	s.WaitInst(applyNo, "issued", 30*time.Second)
	throttled := 0
	for _, ex := range s.PlatDoor.Exchanges() {
		if ex.Status == http.StatusTooManyRequests {
			throttled++
		}
	}
	if throttled < 2 {
		t.Errorf("only %d requests were throttled: the limit did not apply to the institution's uploads", throttled)
	}
	if d := s.Compare(applyNo); d != "" {
		t.Errorf("after throttled uploads: %s", d)
	}
}

// TestAllowFrom: a peer limited to other networks is refused, HTTP 403,
// code 0, with a message naming the address it came from; the same peer
// from an allowed address is served.
func TestAllowFrom(t *testing.T) {
	s := harness.Start(t, harness.Quiet(), harness.WithPlatformPeer(func(p *config.Peer) { p.AllowFrom = []string{"10.20.0.0/16", "192.0.2.7"} }), harness.WithInstitutionPeer(func(p *config.Peer) { p.AllowFrom = []string{"127.0.0.0/8"} }))
	r, err := s.AsInstitution().Call(protocol.DownloadPublicKey, map[string]string{"applyno": "BH20260101X"})
	if err == nil || !strings.Contains(err.Error(), "HTTP 403") {
		t.Fatalf("from 127.0.0.1 to a platform that allows 10.20.0.0/16: %v %+v", err, r)
	}
	ex := s.PlatDoor.Exchanges()
	a, ok := harness.Answer(ex[len(ex)-1].Response)
	want := `address 127.0.0.1 may not call as appkey "` + harness.AppKey + `": not in the peer's allow_from`
	if !ok || a.Code != 0 || a.Message != want {
		t.Fatalf("answer %q, want code 0 %q", ex[len(ex)-1].Response, want)
	}
	// The institution allows 127.0.0.0/8: the platform's call goes through
	// (answered on its merits: an unknown applyno).
	r, err = s.AsPlatform().Call(protocol.BaohanRestore, map[string]string{"applyno": "BH20260101X", "baohanno": "HX1",
		"kaibiaotime": protocol.FormatTime(s.Clock.Now()), "key": "AAAAAAAAAAAAAAAAAAAAAA=="})
	if err != nil || r.Code != 0 || !strings.Contains(r.Message, "BH20260101X") {
		t.Fatalf("from an allowed address: %v %+v", err, r)
	}
}

// forwardedFor adds an X-Forwarded-For header to every request, as a
// reverse proxy in front of the service would.
type forwardedFor struct {
	addr string
	next http.RoundTripper
}

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.addr)
	return f.next.RoundTrip(r)
}

// TestTrustedProxies: behind a reverse proxy listed in
// listen.trusted_proxies, allow_from is checked against the client the
// proxy names in X-Forwarded-For; without the setting the header is
// ignored and the proxy's own address is checked.
func TestTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		name      string
		trusted   []string
		forwarded string
		want      string // "" served; else the refused address
	}{
		{"trusted proxy, allowed client", []string{"127.0.0.0/8"}, "10.20.1.2", ""},
		{"trusted proxy, client not allowed", []string{"127.0.0.0/8"}, "203.0.113.9", "203.0.113.9"},
		{"no trusted proxies: the header is ignored", nil, "10.20.1.2", "127.0.0.1"},
		{"an untrusted proxy's header is ignored", []string{"192.0.2.0/24"}, "10.20.1.2", "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := harness.Start(t, harness.Quiet(), harness.WithPlatformConfig(func(c *platform.Config) { c.Listen.TrustedProxies = tc.trusted }), harness.WithPlatformPeer(func(p *config.Peer) { p.AllowFrom = []string{"10.20.0.0/16"} }))
			inst := s.AsInstitution()
			next := s.HTTP.Transport
			if next == nil {
				next = http.DefaultTransport
			}
			inst.Client.HTTP = &http.Client{Transport: forwardedFor{tc.forwarded, next}}
			r, err := inst.Call(protocol.DownloadPublicKey, map[string]string{"applyno": "BH20260101X"})
			if tc.want == "" {
				// Through the allow_from check, answered on its merits.
				if err != nil || r.Code != 0 || !strings.Contains(r.Message, "BH20260101X") {
					t.Fatalf("from %s through a trusted proxy: %v %+v", tc.forwarded, err, r)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "HTTP 403") {
				t.Fatalf("want HTTP 403: %v %+v", err, r)
			}
			ex := s.PlatDoor.Exchanges()
			a, _ := harness.Answer(ex[len(ex)-1].Response)
			if want := "address " + tc.want + " may not call"; !strings.HasPrefix(a.Message, want) {
				t.Fatalf("answer %q, want it to start %q", a.Message, want)
			}
		})
	}
}
