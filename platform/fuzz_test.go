package platform

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/baohan-dev/baohan/protocol"
)

// FuzzEndpoints sends arbitrary bodies to the served interfaces, raw or
// re-signed so that they reach the business code: every answer must be
// the protocol's JSON envelope, never a panic or a 500.
//
//	go test ./platform -run - -fuzz FuzzEndpoints -fuzztime 30s
func FuzzEndpoints(f *testing.F) {
	e := newEnv(f, "")
	a, bn := e.approved(e.section(2 * 3600e9))
	ifs := servedInterfaces()
	for k, i := range ifs {
		fields := validFields()[i]
		fields = with(fields, "applyno", a.ApplyNo, "baohanno", bn)
		f.Add(uint8(k), protocol.MarshalFields(fields), true)
		f.Add(uint8(k), e.signed(fields, testAppSecret), false)
	}
	f.Add(uint8(0), []byte(`{"applyno":["x"]}`), true)
	f.Add(uint8(3), []byte(`{"applyno":"`+a.ApplyNo+`","baohanno":"`+bn+`","key":"QUJD","iv":"QUJD","baohanfilemd5":"`+string(bytes.Repeat([]byte("a"), 32))+`","filetype":"1","bak1":"-5"}`), true)
	f.Add(uint8(2), []byte(`{"applyno":"`+a.ApplyNo+`","baohanno":"`+bn+`","baohanfile":"AAAA","filetype":"1","index":"99999999999999999999"}`), true)
	h := e.svc.Handler()
	f.Fuzz(func(t *testing.T, k uint8, body []byte, sign bool) {
		i := ifs[int(k)%len(ifs)]
		if sign {
			if r, err := protocol.ParseRequest(body); err == nil {
				fields := map[string]string{}
				for name, v := range r.Fields {
					fields[name] = v
				}
				body = e.signed(fields, testAppSecret)
				e.tick()
			}
		}
		req := httptest.NewRequest(http.MethodPost, "/"+string(i), bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusRequestEntityTooLarge && rec.Code != http.StatusTooManyRequests {
			t.Fatalf("HTTP %d for %q: %s", rec.Code, body, rec.Body)
		}
		var resp struct {
			Code    *int             `json:"code"`
			Message *string          `json:"message"`
			Data    *json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || resp.Code == nil || resp.Message == nil || resp.Data == nil {
			t.Fatalf("not the envelope for %q: %s", body, rec.Body)
		}
		if *resp.Code != 0 && *resp.Code != 1 {
			t.Fatalf("code %d", *resp.Code)
		}
		if *resp.Code == 0 && (*resp.Message == "internal error" || *resp.Message == "") {
			t.Fatalf("handler failure for %q: %q", body, *resp.Message)
		}
	})
}
