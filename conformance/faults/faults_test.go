package faults

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

const secret = "s3cret"

// echo answers with the body it got.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Write(b)
})

func serve(t *testing.T, mw Middleware, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	mw(echo).ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
	return rec
}

func signed(f map[string]string) string { return string(resign(f, secret)) }

func TestSkipSignResigns(t *testing.T) {
	body := `{"appkey":"k","applyno":"A1","sign":"0000","timestamp":"2026-01-01 00:00:00"}`
	rec := serve(t, SkipSign(secret), "POST", "/baohan/downloadpublickey", body)
	r, err := protocol.ParseRequest(rec.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !protocol.Verify(r, secret).OK {
		t.Errorf("not signed again: %s", rec.Body)
	}
	// Not a protocol call: untouched.
	if rec := serve(t, SkipSign(secret), "GET", "/bidder/tok", body); rec.Body.String() != body {
		t.Errorf("bidder page changed: %s", rec.Body)
	}
}

func TestAcceptStaleOnlyOutsideTheWindow(t *testing.T) {
	stale := map[string]string{"appkey": "k", "applyno": "A1", "timestamp": protocol.FormatTime(time.Now().Add(-time.Hour))}
	rec := serve(t, AcceptStale(secret, 10*time.Minute), "POST", "/downloadpublickey", signed(stale))
	r, _ := protocol.ParseRequest(rec.Body.Bytes())
	if err := protocol.CheckTimestamp(r.Get("timestamp"), time.Now(), 10*time.Minute); err != nil || !protocol.Verify(r, secret).OK {
		t.Errorf("stale timestamp not replaced: %s", rec.Body)
	}
	fresh := map[string]string{"appkey": "k", "applyno": "A1", "timestamp": protocol.FormatTime(time.Now())}
	if rec := serve(t, AcceptStale(secret, 10*time.Minute), "POST", "/downloadpublickey", signed(fresh)); rec.Body.String() != signed(fresh) {
		t.Errorf("fresh request changed: %s", rec.Body)
	}
}

func TestAcceptConflictingChunk(t *testing.T) {
	mw := AcceptConflictingChunk()
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"code":0,"message":"conflict","data":{}}`))
	}))
	chunk := func(data string) string {
		return signed(map[string]string{"applyno": "A1", "baohanno": "B1", "filetype": "1", "index": "1", "baohanfile": data})
	}
	do := func(body string) string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/uploadbaohanfile", strings.NewReader(body)))
		return rec.Body.String()
	}
	if got := do(chunk("QUFB")); !strings.Contains(got, `"code":0`) {
		t.Errorf("first chunk not passed on: %s", got)
	}
	if got := do(chunk("QUFB")); !strings.Contains(got, `"code":0`) {
		t.Errorf("same chunk not passed on: %s", got)
	}
	if got := do(chunk("QkJC")); !strings.Contains(got, `"code":1`) {
		t.Errorf("conflicting chunk not accepted by the fault: %s", got)
	}
}

func TestNonJSONErrors(t *testing.T) {
	if rec := serve(t, NonJSONErrors(), "POST", "/baohanapply", "not json"); rec.Code != 400 || !strings.Contains(rec.Body.String(), "<html>") {
		t.Errorf("got %d %s", rec.Code, rec.Body)
	}
	if rec := serve(t, NonJSONErrors(), "POST", "/baohanapply", `{"a":"b"}`); rec.Code != 200 {
		t.Errorf("a JSON body was refused: %d", rec.Code)
	}
}

func TestShiftChunkIndexesAndWrongDigest(t *testing.T) {
	rec := serve(t, ShiftChunkIndexes(secret), "POST", "/uploadbaohanfile", signed(map[string]string{"index": "9"}))
	r, _ := protocol.ParseRequest(rec.Body.Bytes())
	if r.Get("index") != "10" || !protocol.Verify(r, secret).OK {
		t.Errorf("shifted: %s", rec.Body)
	}
	d := strings.Repeat("a", 64)
	rec = serve(t, WrongDigest(secret), "POST", "/baohanfilecompletenotice", signed(map[string]string{"baohanfilemd5": d}))
	r, _ = protocol.ParseRequest(rec.Body.Bytes())
	if r.Get("baohanfilemd5") == d || len(r.Get("baohanfilemd5")) != 64 || !protocol.Verify(r, secret).OK {
		t.Errorf("digest: %s", rec.Body)
	}
}

func TestIncr(t *testing.T) {
	for in, want := range map[string]string{"0": "1", "1": "2", "9": "10", "199": "200", "x": "x"} {
		if got := incr(in); got != want {
			t.Errorf("incr(%q) = %q, want %q", in, got, want)
		}
	}
}
