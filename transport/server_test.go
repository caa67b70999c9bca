package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/protocol"
)

const (
	testAppKey = "BH-FI-3201-0001"
	testSecret = "9f2c7a4e1b8d3f6a0c5e7b9d2f4a6c8e"
	signRule   = protocol.SignRule
)

// testNow is the receiver's clock: 2024-03-15 14:05:30 CST.
var testNow = time.Date(2024, 3, 15, 14, 5, 30, 0, protocol.CST)

type fixture struct {
	srv  *Server
	log  *MemoryLog
	logs *bytes.Buffer
	peer *Peer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	peer := &Peer{Name: "建行南京分行", AppKey: testAppKey, AppSecret: testSecret, Profile: DefaultProfile()}
	f := &fixture{log: &MemoryLog{}, logs: &bytes.Buffer{}, peer: peer}
	f.srv = &Server{
		Peers:  NewStaticPeers(peer),
		Log:    f.log,
		Seen:   &protocol.MemorySeen{Now: func() time.Time { return testNow }},
		Now:    func() time.Time { return testNow },
		Prefix: "/baohan",
		Logger: slog.New(slog.NewTextHandler(f.logs, nil)),
	}
	f.srv.Handle(protocol.BaohanNotice, func(ctx context.Context, p *Peer, r *protocol.Request) (any, error) {
		return nil, nil
	})
	f.srv.Handle(protocol.DownloadPublicKey, func(ctx context.Context, p *Peer, r *protocol.Request) (any, error) {
		return protocol.PublicKeyResult{PublicKey: "04" + strings.Repeat("ab", 64)}, nil
	})
	f.srv.Handle(protocol.GiveupNotice, func(ctx context.Context, p *Peer, r *protocol.Request) (any, error) {
		return nil, baohan.Refusef("applyno %q already has a guarantee issued; it cannot be given up", r.Get("applyno"))
	})
	f.srv.Handle(protocol.QuitNotice, func(ctx context.Context, p *Peer, r *protocol.Request) (any, error) {
		var m map[string]int
		m["boom"]++ // a bug: nil map
		return nil, nil
	})
	f.srv.Handle(protocol.InvoiceNotice, func(ctx context.Context, p *Peer, r *protocol.Request) (any, error) {
		return nil, errors.New("database is locked")
	})
	f.srv.Handle(protocol.UploadBaohanFile, func(ctx context.Context, p *Peer, r *protocol.Request) (any, error) {
		return nil, nil
	})
	return f
}

func noticeFields() map[string]string {
	return map[string]string{
		"appkey":       testAppKey,
		"timestamp":    "2024-03-15 14:05:12",
		"applyno":      "JS2024031500017",
		"baohanno":     "BH3201202403150017",
		"instname":     "中国建设银行股份有限公司南京城南支行",
		"generatetime": "2024-03-15 14:02:37",
		"rate":         "0.005",
		"cost":         "100.00",
		"applystatus":  "1",
	}
}

func signed(fields map[string]string, secret string) []byte {
	f := map[string]string{}
	for k, v := range fields {
		f[k] = v
	}
	f["sign"] = protocol.Sign(f, secret)
	return protocol.MarshalFields(f)
}

func with(fields map[string]string, kv ...string) map[string]string {
	f := map[string]string{}
	for k, v := range fields {
		f[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "\x00delete" {
			delete(f, kv[i])
		} else {
			f[kv[i]] = kv[i+1]
		}
	}
	return f
}

type answer struct {
	status int
	header http.Header
	resp   protocol.Response
	raw    string
}

func (f *fixture) do(t *testing.T, method, path string, body []byte) answer {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return f.serve(t, req)
}

func (f *fixture) serve(t *testing.T, req *http.Request) answer {
	t.Helper()
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	a := answer{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &probe); err != nil {
		t.Fatalf("answer is not JSON: %q", rec.Body.String())
	}
	for _, k := range []string{"code", "message", "data"} {
		if _, ok := probe[k]; !ok {
			t.Fatalf("answer lacks %q: %s", k, rec.Body.String())
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &a.resp); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestServerPipeline(t *testing.T) {
	long := strings.Repeat("行", 201)
	hmacBody := func() []byte {
		// HMAC-SM3 over the string without &appsecret=, the commonest slip.
		f := noticeFields()
		s := protocol.SignString(f, testSecret)
		s = strings.TrimSuffix(s, "&appsecret="+testSecret)
		return withSign(f, hmacSM3(testSecret, s))
	}
	tests := []struct {
		name   string
		method string
		path   string
		body   []byte
		status int
		code   int
		msg    string
		data   string
	}{
		{"ok", "POST", "/baohan/baohannotice", signed(noticeFields(), testSecret), 200, 1, "success", `{}`},
		{"ok with data", "POST", "/baohan/downloadpublickey",
			signed(map[string]string{"appkey": testAppKey, "timestamp": "2024-03-15 14:06:00", "applyno": "JS2024031500017"}, testSecret),
			200, 1, "success", `{"publickey":"04` + strings.Repeat("ab", 64) + `"}`},
		{"uppercase sign accepted", "POST", "/baohan/baohannotice",
			withSign(noticeFields(), strings.ToUpper(protocol.Sign(noticeFields(), testSecret))), 200, 1, "success", `{}`},
		{"extra fields kept and signed", "POST", "/baohan/baohannotice",
			signed(with(noticeFields(), "jbrname", "李晓燕", "jbrphone", "13913800017"), testSecret), 200, 1, "success", `{}`},
		{"wrong sign", "POST", "/baohan/baohannotice", signed(noticeFields(), "another-secret"), 200, 0,
			"sign mismatch (sign sm3): no known variant matched; check the appsecret", `{}`},
		{"hmac sign", "POST", "/baohan/baohannotice", hmacBody(), 200, 0,
			`sign mismatch: you signed as hmac-sm3; this side expects sign sm3`, `{}`},
		{"tampered after signing", "POST", "/baohan/baohannotice",
			bytes.Replace(signed(noticeFields(), testSecret), []byte(`"100.00"`), []byte(`"1.00"`), 1), 200, 0,
			"sign mismatch (sign sm3): no known variant matched; check the appsecret", `{}`},
		{"missing sign", "POST", "/baohan/baohannotice", protocol.MarshalFields(noticeFields()), 200, 0, `field "sign" is required`, `{}`},
		{"stale timestamp", "POST", "/baohan/baohannotice", signed(with(noticeFields(), "timestamp", "2024-03-15 13:50:00"), testSecret), 200, 0,
			`timestamp "2024-03-15 13:50:00" is 15m30s behind the receiver's clock (2024-03-15 14:05:30); the allowed difference is 10m0s`, `{}`},
		{"future timestamp", "POST", "/baohan/baohannotice", signed(with(noticeFields(), "timestamp", "2024-03-15 14:20:31"), testSecret), 200, 0,
			`timestamp "2024-03-15 14:20:31" is 15m1s ahead of the receiver's clock (2024-03-15 14:05:30); the allowed difference is 10m0s`, `{}`},
		{"bad timestamp", "POST", "/baohan/baohannotice", signed(with(noticeFields(), "timestamp", "2024/03/15 14:05:12"), testSecret), 200, 0,
			`field "timestamp" must be a time like "2024-03-15 09:30:00" (yyyy-MM-dd HH:mm:ss, UTC+8), got "2024/03/15 14:05:12"`, `{}`},
		{"unknown appkey", "POST", "/baohan/baohannotice", signed(with(noticeFields(), "appkey", "nobody"), testSecret), 200, 0,
			`unknown appkey "nobody"`, `{}`},
		{"missing appkey", "POST", "/baohan/baohannotice", signed(with(noticeFields(), "appkey", "\x00delete"), testSecret), 200, 0,
			`field "appkey" is required`, `{}`},
		{"missing field", "POST", "/baohan/baohannotice", signed(with(noticeFields(), "instname", "\x00delete"), testSecret), 200, 0,
			`field "instname" is required`, `{}`},
		{"overlong field", "POST", "/baohan/baohannotice", signed(with(noticeFields(), "instname", long), testSecret), 200, 0,
			`field "instname" is longer than 200 characters (201)`, `{}`},
		{"several violations", "POST", "/baohan/baohannotice",
			signed(with(noticeFields(), "applyno", "\x00delete", "baohanno", "\x00delete", "instname", "\x00delete", "rate", "5‰", "cost", "-1", "applystatus", "Y", "generatetime", "x"), testSecret), 200, 0,
			`field "applyno" is required; field "baohanno" is required; field "instname" is required; field "generatetime" must be a time like "2024-03-15 09:30:00" (yyyy-MM-dd HH:mm:ss, UTC+8), got "x"; field "rate" must be a decimal string like "0.005", got "5‰"; and 2 more`, `{}`},
		{"not JSON", "POST", "/baohan/baohannotice", []byte(`appkey=x&sign=y`), 200, 0,
			`body is not valid JSON: invalid character 'a' looking for beginning of value at offset 1`, `{}`},
		{"empty body", "POST", "/baohan/baohannotice", nil, 200, 0, `empty body: expected one flat JSON object`, `{}`},
		{"nested", "POST", "/baohan/baohannotice", []byte(`{"appkey":"x","data":{"a":"b"}}`), 200, 0,
			`field "data" is a nested JSON object; values must be strings (a list is sent as a JSON string)`, `{}`},
		{"handler error", "POST", "/baohan/giveupnotice",
			signed(map[string]string{"appkey": testAppKey, "timestamp": "2024-03-15 14:05:00", "applyno": "JS2024031500019"}, testSecret), 200, 0,
			`applyno "JS2024031500019" already has a guarantee issued; it cannot be given up`, `{}`},
		{"handler internal error", "POST", "/baohan/invoicenotice",
			signed(map[string]string{"appkey": testAppKey, "timestamp": "2024-03-15 14:05:00", "baohanno": "BH3201202403150017", "applystatus": "0"}, testSecret), 200, 0,
			`internal error; try again later`, `{}`},
		{"handler panic", "POST", "/baohan/quitnotice",
			signed(map[string]string{"appkey": testAppKey, "timestamp": "2024-03-15 14:05:00", "applyno": "JS2024031500017", "baohanno": "BH3201202403150017", "applystatus": "0"}, testSecret), 200, 0,
			`internal error`, `{}`},
		{"GET", "GET", "/baohan/baohannotice", nil, 405, 0, `method GET not allowed: send POST with a JSON body`, `{}`},
		{"PUT", "PUT", "/baohan/baohannotice", signed(noticeFields(), testSecret), 405, 0, `method PUT not allowed: send POST with a JSON body`, `{}`},
		{"unknown interface", "POST", "/baohan/foo", signed(noticeFields(), testSecret), 404, 0, `unknown interface "foo"`, `{}`},
		{"cancelnotice spelling", "POST", "/baohan/cancelnotice", nil, 404, 0, `unknown interface "cancelnotice" (did you mean "canclenotice"? the spec spells it so)`, `{}`},
		{"wrong case", "POST", "/baohan/BaohanNotice", nil, 404, 0, `unknown interface "BaohanNotice" (did you mean "baohannotice"?)`, `{}`},
		{"not served here", "POST", "/baohan/baohanapply", nil, 404, 0, `interface "baohanapply" is not served here (it is served by the institution)`, `{}`},
		{"outside prefix", "POST", "/other/baohannotice", nil, 404, 0, `no interface at path "/other/baohannotice": interfaces are served at /baohan/<interface>`, `{}`},
		{"nested path", "POST", "/baohan/baohannotice/x", nil, 404, 0, `no interface at path "/baohan/baohannotice/x": interfaces are served at /baohan/<interface>`, `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			a := f.do(t, tt.method, tt.path, tt.body)
			if a.status != tt.status || a.resp.Code != tt.code || a.resp.Message != protocol.ClipMessage(tt.msg) || string(a.resp.Data) != tt.data {
				t.Errorf("got  %d %s\nwant %d %d %q data %s", a.status, a.raw, tt.status, tt.code, tt.msg, tt.data)
			}
			if tt.status == 405 && a.header.Get("Allow") != "POST" {
				t.Errorf("Allow = %q", a.header.Get("Allow"))
			}
			es := f.log.Exchanges()
			if len(es) != 1 {
				t.Fatalf("%d exchanges recorded", len(es))
			}
			e := es[0]
			if e.Direction != protocol.Inbound || e.HTTPStatus != tt.status || e.Code != tt.code || string(e.Response) != a.raw {
				t.Errorf("exchange %+v", e)
			}
			if tt.method == "POST" && tt.status != 404 && !bytes.Equal(e.Request, tt.body) {
				t.Errorf("exchange request = %q", e.Request)
			}
			if (tt.code == 1) != (e.Error == "") || (tt.code == 0 && e.Error != tt.msg) {
				t.Errorf("exchange error = %q", e.Error)
			}
		})
	}
}

func withSign(fields map[string]string, sign string) []byte {
	f := with(fields, "sign", sign)
	return protocol.MarshalFields(f)
}

func TestServerExchangeRecord(t *testing.T) {
	f := newFixture(t)
	clock := testNow
	f.srv.Now = func() time.Time { clock = clock.Add(7 * time.Millisecond); return clock }
	body := signed(noticeFields(), testSecret)
	f.do(t, "POST", "/baohan/baohannotice", body)
	f.do(t, "POST", "/baohan/baohannotice", signed(noticeFields(), "x"))
	f.do(t, "POST", "/baohan/baohannotice", signed(with(noticeFields(), "appkey", "nobody"), testSecret))
	es := f.log.Exchanges()
	if len(es) != 3 {
		t.Fatalf("%d exchanges", len(es))
	}
	ok := es[0]
	if ok.Interface != "baohannotice" || ok.Peer != "建行南京分行" || ok.ApplyNo != "JS2024031500017" || ok.BaohanNo != "BH3201202403150017" ||
		!ok.SignOK || ok.Diagnosis != "sign ok" || ok.Error != "" || ok.Code != 1 || ok.HTTPStatus != 200 ||
		ok.Latency <= 0 || ok.At.IsZero() || !bytes.Equal(ok.Request, body) {
		t.Errorf("ok exchange: %+v", ok)
	}
	bad := es[1]
	if bad.SignOK || !strings.HasPrefix(bad.Diagnosis, "none of the known variants matched") || bad.Code != 0 || !strings.HasPrefix(bad.Error, "sign mismatch") {
		t.Errorf("bad sign exchange: %+v", bad)
	}
	unknown := es[2]
	if unknown.Peer != "nobody" || unknown.SignOK || unknown.Error != `unknown appkey "nobody"` {
		t.Errorf("unknown appkey exchange: %+v", unknown)
	}
	// The expected sign goes nowhere: not to the peer, not to the log
	// (it is a valid sign for the sender's fields; a log reader could
	// send them with it). The log has the sign received and the diagnosis.
	expected := protocol.Sign(noticeFields(), testSecret)
	if strings.Contains(string(bad.Response), expected) {
		t.Error("the answer reveals the expected sign")
	}
	if strings.Contains(f.logs.String(), expected) {
		t.Error("the log reveals the expected sign")
	}
	if !strings.Contains(f.logs.String(), "sign mismatch") || !strings.Contains(f.logs.String(), "none of the known variants matched") {
		t.Errorf("the log lacks the sign mismatch and its diagnosis: %s", f.logs)
	}
}

func TestServerReplay(t *testing.T) {
	f := newFixture(t)
	body := signed(noticeFields(), testSecret)
	first := f.do(t, "POST", "/baohan/baohannotice", body)
	if first.resp.Code != 1 {
		t.Fatalf("first: %s", first.raw)
	}
	// The same request again (its answer was lost) is a retry: answered
	// as the first was, byte for byte.
	if a := f.do(t, "POST", "/baohan/baohannotice", body); a.raw != first.raw {
		t.Fatalf("retry: %s, want the first answer %s", a.raw, first.raw)
	}
	// The same body at another interface is not: the sign does not
	// cover the interface.
	want := `replayed request: this sign was already received from appkey "BH-FI-3201-0001"; send a new request with a new timestamp and sign`
	if a := f.do(t, "POST", "/baohan/giveupnotice", body); a.resp.Code != 0 || a.resp.Message != protocol.ClipMessage(want) {
		t.Fatalf("replay at another interface: %s", a.raw)
	}
	// The same sign in uppercase is another body: a replay.
	upper := withSign(noticeFields(), strings.ToUpper(protocol.Sign(noticeFields(), testSecret)))
	if a := f.do(t, "POST", "/baohan/baohannotice", upper); a.resp.Message != protocol.ClipMessage(want) {
		t.Fatalf("uppercase replay: %s", a.raw)
	}
	// An empty extra field does not change the sign: still a replay.
	padded := signed(with(noticeFields(), "payername", ""), testSecret)
	if a := f.do(t, "POST", "/baohan/baohannotice", padded); a.resp.Message != protocol.ClipMessage(want) {
		t.Fatalf("padded replay: %s", a.raw)
	}
	// A new timestamp is a new request.
	fresh := signed(with(noticeFields(), "timestamp", "2024-03-15 14:05:13"), testSecret)
	if a := f.do(t, "POST", "/baohan/baohannotice", fresh); a.resp.Code != 1 {
		t.Fatalf("fresh: %s", a.raw)
	}
	// A replay with a wrong sign is refused for the sign, before the
	// replay store sees it.
	if a := f.do(t, "POST", "/baohan/baohannotice", signed(noticeFields(), "x")); !strings.HasPrefix(a.resp.Message, "sign mismatch") {
		t.Fatalf("bad sign: %s", a.raw)
	}
}

func TestServerTimestampWindowPerPeer(t *testing.T) {
	f := newFixture(t)
	f.peer.Profile.TimestampWindow = 30 * time.Minute
	body := signed(with(noticeFields(), "timestamp", "2024-03-15 13:50:00"), testSecret)
	if a := f.do(t, "POST", "/baohan/baohannotice", body); a.resp.Code != 1 {
		t.Fatalf("30-minute window: %s", a.raw)
	}
	f.peer.Profile.TimestampWindow = time.Minute
	body = signed(with(noticeFields(), "timestamp", "2024-03-15 14:04:00"), testSecret)
	want := `timestamp "2024-03-15 14:04:00" is 1m30s behind the receiver's clock (2024-03-15 14:05:30); the allowed difference is 1m0s`
	if a := f.do(t, "POST", "/baohan/baohannotice", body); a.resp.Message != protocol.ClipMessage(want) {
		t.Fatalf("1-minute window: %s", a.raw)
	}
}

func TestServerBodyLimit(t *testing.T) {
	f := newFixture(t)
	pad := func(n int) []byte {
		return signed(with(noticeFields(), "jbrmemo", strings.Repeat("x", n)), testSecret)
	}
	under := pad(DefaultMaxBody - 600)
	if len(under) > DefaultMaxBody {
		t.Fatalf("test body %d bytes", len(under))
	}
	if a := f.do(t, "POST", "/baohan/baohannotice", under); a.status != 200 || a.resp.Code != 1 {
		t.Fatalf("under the limit: %d %s", a.status, a.raw[:min(len(a.raw), 200)])
	}
	want := "request body is larger than 1048576 bytes, the limit for baohannotice"
	over := pad(DefaultMaxBody)
	if a := f.do(t, "POST", "/baohan/baohannotice", over); a.status != 413 || a.resp.Message != want {
		t.Fatalf("over the limit: %d %s", a.status, a.raw)
	}
	// Without Content-Length (chunked), the limit holds while reading.
	req := httptest.NewRequest("POST", "/baohan/baohannotice", io.MultiReader(bytes.NewReader(over)))
	req.ContentLength = -1
	if a := f.serve(t, req); a.status != 413 || a.resp.Message != want {
		t.Fatalf("chunked over the limit: %d %s", a.status, a.raw)
	}
	// uploadbaohanfile: 8 MiB by default.
	chunk := func(n int) []byte {
		return signed(map[string]string{"appkey": testAppKey, "timestamp": "2024-03-15 14:06:03", "applyno": "A", "baohanno": "B",
			"filetype": "1", "index": "1", "baohanfile": strings.Repeat("QUJD", n/4)}, testSecret)
	}
	if a := f.do(t, "POST", "/baohan/uploadbaohanfile", chunk(3<<20)); a.status != 200 || a.resp.Code != 1 {
		t.Fatalf("3 MiB chunk: %d %s", a.status, a.raw)
	}
	if a := f.do(t, "POST", "/baohan/uploadbaohanfile", chunk(9<<20)); a.status != 413 ||
		a.resp.Message != "request body is larger than 8388608 bytes, the limit for uploadbaohanfile" {
		t.Fatalf("9 MiB chunk: %d %s", a.status, a.raw)
	}
	// Per-interface limits.
	f.srv.BodyLimits = map[protocol.Interface]int64{protocol.UploadBaohanFile: 1 << 20}
	if a := f.do(t, "POST", "/baohan/uploadbaohanfile", chunk(2<<20)); a.status != 413 ||
		a.resp.Message != "request body is larger than 1048576 bytes, the limit for uploadbaohanfile" {
		t.Fatalf("configured limit: %d %s", a.status, a.raw)
	}
	f.srv.MaxBody = 16 << 20
	if f.srv.BodyLimit(protocol.BaohanNotice) != 16<<20 || f.srv.BodyLimit(protocol.UploadBaohanFile) != 1<<20 {
		t.Fatal("BodyLimit")
	}
	f.srv.BodyLimits = nil
	if f.srv.BodyLimit(protocol.UploadBaohanFile) != 16<<20 {
		t.Fatal("MaxBody above the upload default")
	}
}

func TestServerPanicLogged(t *testing.T) {
	f := newFixture(t)
	body := signed(map[string]string{"appkey": testAppKey, "timestamp": "2024-03-15 14:05:00", "applyno": "JS2024031500017",
		"baohanno": "BH3201202403150017", "applystatus": "0"}, testSecret)
	f.do(t, "POST", "/baohan/quitnotice", body)
	logs := f.logs.String()
	for _, want := range []string{"handler panic", "interface=quitnotice", "assignment to entry in nil map", "goroutine", "server_test.go"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestServerInternalLogged(t *testing.T) {
	f := newFixture(t)
	body := signed(map[string]string{"appkey": testAppKey, "timestamp": "2024-03-15 14:05:00", "baohanno": "B", "applystatus": "0"}, testSecret)
	a := f.do(t, "POST", "/baohan/invoicenotice", body)
	if strings.Contains(a.raw, "database") || !strings.Contains(f.logs.String(), "database is locked") {
		t.Fatalf("answer %s, log %s", a.raw, f.logs.String())
	}
}

// TestServerHandlerErrors: a handler's refusal (a baohan.Error, wrapped
// or not, or a type that unwraps to one) is the answer's message; any
// other error is the service's own failure: logged, and the peer told
// only to try again later.
func TestServerHandlerErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"a refusal", baohan.Refusef("applyno %s is unknown", "A1"), "applyno A1 is unknown"},
		{"a refusal with context", fmt.Errorf("baohanno BH1: %w", baohan.Errorf(baohan.EConflict, "already issued")), "baohanno BH1: already issued"},
		{"the database", fmt.Errorf("saving: %w", errors.New("database is locked")), "internal error; try again later"},
		{"a timeout", context.DeadlineExceeded, "internal error; try again later"},
		{"an internal baohan.Error", baohan.Errorf(baohan.EInternal, "chain broken"), "internal error; try again later"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.srv.Handle(protocol.BaohanNotice, func(context.Context, *Peer, *protocol.Request) (any, error) { return nil, tt.err })
			fields := noticeFields()
			fields["applyno"] = fmt.Sprintf("JS20240315000%02d", i)
			a := f.do(t, "POST", "/baohan/baohannotice", signed(fields, testSecret))
			if a.resp.Code != 0 || a.resp.Message != tt.want {
				t.Fatalf("answer %s, want code 0 %q", a.raw, tt.want)
			}
			if logged := strings.Contains(f.logs.String(), "handler failed"); logged == baohan.IsRefusal(tt.err) {
				t.Errorf("handler failure logged %v for %v", logged, tt.err)
			}
		})
	}
}

type failingPeers struct{}

func (failingPeers) PeerByAppKey(context.Context, string) (*Peer, error) {
	return nil, errors.New("connection refused")
}

type unknownPeers struct{}

func (unknownPeers) PeerByAppKey(_ context.Context, k string) (*Peer, error) {
	return nil, fmt.Errorf("peer %q: %w", k, ErrUnknownPeer)
}

type failingSeen struct{}

func (failingSeen) SeenBefore(context.Context, string, string, time.Time) (bool, error) {
	return false, errors.New("disk full")
}

func (failingSeen) Reserve(context.Context, protocol.SeenMark) (protocol.Claim, error) {
	return protocol.Claim{}, errors.New("disk full")
}

func (failingSeen) Settle(context.Context, protocol.SeenMark) error { return errors.New("disk full") }

func (failingSeen) Wait(context.Context, string, string) (protocol.Claim, error) {
	return protocol.Claim{}, errors.New("disk full")
}

func (failingSeen) Release(string, string) {}

type failingLog struct{}

func (failingLog) Record(context.Context, *protocol.Exchange) (bool, error) {
	return false, errors.New("log down")
}

func TestServerDependencyFailures(t *testing.T) {
	body := signed(noticeFields(), testSecret)
	f := newFixture(t)
	f.srv.Peers = failingPeers{}
	if a := f.do(t, "POST", "/baohan/baohannotice", body); a.resp.Message != "internal error; try again later" {
		t.Errorf("directory failure: %s", a.raw)
	}
	f = newFixture(t)
	f.srv.Peers = unknownPeers{}
	if a := f.do(t, "POST", "/baohan/baohannotice", body); a.resp.Message != `unknown appkey "BH-FI-3201-0001"` {
		t.Errorf("ErrUnknownPeer: %s", a.raw)
	}
	f = newFixture(t)
	f.srv.Seen = failingSeen{}
	if a := f.do(t, "POST", "/baohan/baohannotice", body); a.resp.Message != "internal error; try again later" {
		t.Errorf("seen failure: %s", a.raw)
	}
	f = newFixture(t)
	f.srv.Log = failingLog{}
	if a := f.do(t, "POST", "/baohan/baohannotice", body); a.resp.Code != 1 || !strings.Contains(f.logs.String(), "log down") {
		t.Errorf("log failure: %s %s", a.raw, f.logs.String())
	}
	f = newFixture(t)
	f.srv.Seen = nil // replay check off
	f.do(t, "POST", "/baohan/baohannotice", body)
	if a := f.do(t, "POST", "/baohan/baohannotice", body); a.resp.Code != 1 {
		t.Errorf("without a SeenStore: %s", a.raw)
	}
}

func TestServerFormHint(t *testing.T) {
	f := newFixture(t)
	req := httptest.NewRequest("POST", "/baohan/baohannotice", strings.NewReader("appkey=x&sign=y"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	a := f.serve(t, req)
	want := "body is not valid JSON: invalid character 'a' looking for beginning of value at offset 1 (Content-Type application/x-www-form-urlencoded; send one flat JSON object as application/json)"
	if a.resp.Message != protocol.ClipMessage(want) || f.log.Exchanges()[0].Error != want {
		t.Fatalf("%s", a.raw)
	}
}

func TestServerRootPrefix(t *testing.T) {
	f := newFixture(t)
	f.srv.Prefix = ""
	if a := f.do(t, "POST", "/baohannotice", signed(noticeFields(), testSecret)); a.resp.Code != 1 {
		t.Fatalf("%s", a.raw)
	}
	f.srv.Prefix = "api/v1/" // no leading slash, trailing slash
	if a := f.do(t, "POST", "/api/v1/baohannotice", signed(with(noticeFields(), "timestamp", "2024-03-15 14:05:14"), testSecret)); a.resp.Code != 1 {
		t.Fatalf("%s", a.raw)
	}
}

func TestServerHandle(t *testing.T) {
	s := &Server{}
	s.Handle(protocol.GiveupNotice, func(context.Context, *Peer, *protocol.Request) (any, error) { return nil, nil })
	if got := s.Served(); len(got) != 1 || got[0] != protocol.GiveupNotice {
		t.Fatal(got)
	}
	for _, bad := range []func(){
		func() {
			s.Handle("cancelnotice", func(context.Context, *Peer, *protocol.Request) (any, error) { return nil, nil })
		},
		func() { s.Handle(protocol.QuitNotice, nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			bad()
		}()
	}
}

// TestServerConcurrent: 32 copies of one request at once are handled
// once; the others wait for it and get its answer, and are logged as
// retries. A different body under the sign, at once, is refused.
func TestServerConcurrent(t *testing.T) {
	f := newFixture(t)
	var calls atomic.Int32
	f.srv.Handle(protocol.BaohanNotice, func(ctx context.Context, p *Peer, r *protocol.Request) (any, error) {
		calls.Add(1)
		return map[string]string{"n": fmt.Sprint(calls.Load())}, nil
	})
	var wg sync.WaitGroup
	answers := make(chan string, 64)
	body := signed(noticeFields(), testSecret)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := httptest.NewRecorder()
			f.srv.ServeHTTP(rec, httptest.NewRequest("POST", "/baohan/baohannotice", bytes.NewReader(body)))
			answers <- rec.Body.String()
		}()
	}
	wg.Wait()
	close(answers)
	for a := range answers {
		if a != `{"code":1,"message":"success","data":{"n":"1"}}` {
			t.Errorf("answer %s, want the one answer of the one call", a)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("the handler ran %d times for 32 copies of one request, want once", n)
	}
	ex := f.log.Exchanges()
	retries := 0
	for _, e := range ex {
		if e.Retry {
			retries++
		}
	}
	if len(ex) != 32 || retries != 31 {
		t.Fatalf("%d exchanges recorded, %d as retries; want 32, 31", len(ex), retries)
	}
}

// TestServerRehandle: a retry of an interface whose answer the replay
// store must not keep (Server.Rehandle) is handled again, marked as a
// retry, and answered as the handler answers; another body under the sign
// is still a replay.
func TestServerRehandle(t *testing.T) {
	f := newFixture(t)
	var calls atomic.Int32
	f.srv.Handle(protocol.BaohanNotice, func(ctx context.Context, p *Peer, r *protocol.Request) (any, error) {
		calls.Add(1)
		return map[string]string{"secret": "s3cr3t"}, nil // the same for every call, as an idempotent handler answers
	})
	f.srv.Rehandle = map[protocol.Interface]bool{protocol.BaohanNotice: true}
	body := signed(noticeFields(), testSecret)
	first := f.do(t, "POST", "/baohan/baohannotice", body)
	again := f.do(t, "POST", "/baohan/baohannotice", body)
	if first.resp.Code != 1 || again.raw != first.raw || calls.Load() != 2 {
		t.Fatalf("first %s, again %s, %d calls; want the same answer from two calls", first.raw, again.raw, calls.Load())
	}
	if ex := f.log.Exchanges(); len(ex) != 2 || ex[0].Retry || !ex[1].Retry {
		t.Fatalf("exchanges %+v: want the second marked as a retry", ex)
	}
	if a := f.do(t, "POST", "/baohan/baohannotice", signed(with(noticeFields(), "payername", ""), testSecret)); !strings.HasPrefix(a.resp.Message, "replayed request") {
		t.Fatalf("another body under the sign: %s", a.raw)
	}
}
