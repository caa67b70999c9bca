package transport

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/baohan-dev/baohan/protocol"
)

// FuzzServeHTTP: whatever the body and path, the answer is the JSON
// envelope, never a panic or an empty answer.
func FuzzServeHTTP(f *testing.F) {
	f.Add("baohannotice", signed(noticeFields(), testSecret))
	f.Add("baohannotice", signed(with(noticeFields(), "rate", "5‰"), testSecret))
	f.Add("quitnotice", []byte(`{"appkey":"BH-FI-3201-0001","sign":"00"}`))
	f.Add("x/y", []byte(`[`))
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		fx := newFixture(t)
		req := httptest.NewRequest("POST", "/baohan/", bytes.NewReader(body))
		req.URL.Path = "/baohan/" + name
		rec := httptest.NewRecorder()
		fx.srv.ServeHTTP(rec, req)
		var r protocol.Response
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatalf("answer %q is not JSON", rec.Body.String())
		}
		if r.Code == 0 && r.Message == "" {
			t.Fatalf("refusal without a message: %s", rec.Body.String())
		}
		if len(fx.log.Exchanges()) != 1 {
			t.Fatal("exchange not recorded")
		}
	})
}
