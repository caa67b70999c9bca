package httpjson

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		name   string
		status int
		v      any
		body   string
	}{
		{"an object", 200, map[string]any{"url": "https://bank.example.cn/bid?a=1&b=<2>", "n": 1},
			"{\n  \"n\": 1,\n  \"url\": \"https://bank.example.cn/bid?a=1&b=<2>\"\n}\n"},
		{"an error", 422, struct {
			Error string `json:"error"`
		}{"applyno A1 is unknown"}, "{\n  \"error\": \"applyno A1 is unknown\"\n}\n"},
		{"null", 200, nil, "null\n"},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		Write(w, tt.status, tt.v)
		h := w.Header()
		if w.Code != tt.status || h.Get("Content-Type") != "application/json; charset=utf-8" ||
			h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d %v", tt.name, w.Code, h)
		}
		if w.Body.String() != tt.body || !json.Valid(w.Body.Bytes()) {
			t.Errorf("%s: body %q, want %q", tt.name, w.Body.String(), tt.body)
		}
	}
}
