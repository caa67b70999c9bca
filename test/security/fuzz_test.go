package security

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/protocol"
)

// FuzzPlatformHandler and FuzzInstitutionHandler post fuzzed bodies to
// every interface of a running service. With resign set, a body that is
// a flat object of strings gets the right appkey, a current timestamp
// and a valid sign, so the fuzzer reaches the handlers behind the sign
// check. Whatever comes in, the answer is one {code,message,data} JSON
// object, with HTTP 200 (or 404, 405, 413, 429), never a 500 or a panic.
// Seeded from the bad-input corpus and the golden valid requests.
//
//	go test ./test/security -run '^$' -fuzz FuzzPlatformHandler -fuzztime 20s
func FuzzPlatformHandler(f *testing.F) { fuzzHandler(f, protocol.Platform) }

func FuzzInstitutionHandler(f *testing.F) { fuzzHandler(f, protocol.Institution) }

func fuzzHandler(f *testing.F, side protocol.Side) {
	s := harness.Start(f, harness.Quiet(), harness.WithPlatformPeer(unlimited), harness.WithInstitutionPeer(unlimited))
	sec := s.Section(time.Hour)
	known := s.Apply(sec.No)
	s.Token(known, 10*time.Second)
	h := s.Plat.Handler()
	if side == protocol.Institution {
		h = s.Inst.Handler()
	}
	now := s.Clock.Now()
	for _, c := range corpus(side, harness.AppKey, harness.AppSecret, harness.PlatformCode, now) {
		if c.length == 0 && len(c.body) < 64<<10 {
			f.Add(string(c.iface), c.body, false)
		}
	}
	for _, i := range protocol.ServedBySide(side) {
		b := base(i, harness.AppKey, harness.PlatformCode, now)
		if _, ok := b["applyno"]; ok && side == protocol.Platform {
			b["applyno"] = known
		}
		f.Add(string(i), protocol.MarshalFields(b), true)
	}
	served := protocol.ServedBySide(side)
	f.Fuzz(func(t *testing.T, iface string, body []byte, resign bool) {
		if _, ok := protocol.Lookup(iface); !ok {
			// the interface name is not what is fuzzed (the router is
			// tested elsewhere): map it onto a served one
			iface = string(served[len(iface)%len(served)])
		}
		if resign {
			if r, err := protocol.ParseRequest(body); err == nil {
				fields := map[string]string{}
				for k, v := range r.Fields {
					fields[k] = v
				}
				fields["appkey"] = harness.AppKey
				fields["timestamp"] = protocol.FormatTime(s.Clock.Now())
				body = signedBody(fields, harness.AppSecret)
			}
		}
		req := httptest.NewRequest("POST", "/x", bytes.NewReader(body))
		req.URL.Path = "/" + iface
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		default:
			t.Fatalf("/%s: HTTP %d %.300q", iface, rec.Code, rec.Body.String())
		}
		r, ok := harness.Answer(rec.Body.Bytes())
		if !ok {
			t.Fatalf("/%s: not a {code,message,data} answer: %.300q", iface, rec.Body.String())
		}
		if r.Code == 0 && (r.Message == "" || r.Message == "internal error") {
			t.Fatalf("/%s: code 0 without a precise message (%q; a handler panic answers \"internal error\"): %.300q", iface, r.Message, body)
		}
	})
}
