package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

// TestClientServerRoundTrip: a Client calls a Server over HTTP; both
// record the exchange with the same request bytes.
func TestClientServerRoundTrip(t *testing.T) {
	f := newFixture(t)
	hs := httptest.NewServer(f.srv)
	defer hs.Close()
	clientLog := &MemoryLog{}
	peer := &Peer{Name: "江苏省公共资源交易平台", AppKey: testAppKey, AppSecret: testSecret, BaseURL: hs.URL + "/baohan/"}
	c := NewClient(WithHTTPClient(hs.Client()), WithMessageLog(clientLog), WithClock(func() time.Time { return testNow }))

	resp, err := c.Call(context.Background(), peer, protocol.DownloadPublicKey, protocol.Encode(protocol.DownloadPublicKeyRequest{ApplyNo: "JS2024031500017"}))
	if err != nil {
		t.Fatal(err)
	}
	var pk protocol.PublicKeyResult
	if !resp.OK() || resp.DecodeData(&pk) != nil || pk.PublicKey != "04"+strings.Repeat("ab", 64) {
		t.Fatalf("%+v", resp)
	}
	// A refusal is an answer, not an error.
	resp, err = c.Call(context.Background(), peer, protocol.GiveupNotice, map[string]string{"applyno": "JS2024031500019"})
	if err != nil || resp.Code != 0 || resp.Message != `applyno "JS2024031500019" already has a guarantee issued; it cannot be given up` {
		t.Fatalf("%v %+v", err, resp)
	}

	out, in := clientLog.Exchanges(), f.log.Exchanges()
	if len(out) != 2 || len(in) != 2 {
		t.Fatalf("%d out, %d in", len(out), len(in))
	}
	for k := range out {
		o, i := out[k], in[k]
		if o.Direction != protocol.Outbound || i.Direction != protocol.Inbound {
			t.Error("directions")
		}
		if !bytes.Equal(o.Request, i.Request) || !bytes.Equal(o.Response, i.Response) {
			t.Errorf("exchange %d: client and server recorded different bytes", k)
		}
		if o.Interface != i.Interface || o.ApplyNo != i.ApplyNo || o.Code != i.Code || o.HTTPStatus != 200 {
			t.Errorf("exchange %d: out %+v in %+v", k, o, i)
		}
		if o.Peer != "江苏省公共资源交易平台" || i.Peer != "建行南京分行" {
			t.Errorf("peers %q %q", o.Peer, i.Peer)
		}
		if !o.SignOK || !i.SignOK {
			t.Error("sign")
		}
	}
	if out[1].Error != in[1].Error || out[1].Error == "" {
		t.Errorf("refusal: %q %q", out[1].Error, in[1].Error)
	}
}

// TestClientNewSecondForARepeat: the sign covers the fields and the
// timestamp to the second, so the same request sent again within its
// second would be refused by the peer's replay guard. Call stamps a
// repeat with the next second instead, whatever the clock says: a quick
// retry (here three, on a frozen clock) always goes out with a new sign
// and is accepted. Other fields, another peer, or a later clock take the
// clock's second; a timestamp the caller gives is kept.
func TestClientNewSecondForARepeat(t *testing.T) {
	f := newFixture(t)
	hs := httptest.NewServer(f.srv)
	defer hs.Close()
	clock := testNow.Add(400 * time.Millisecond)
	c := NewClient(WithHTTPClient(hs.Client()), WithClock(func() time.Time { return clock }), WithMessageLog(&MemoryLog{}))
	peer := &Peer{Name: "平台", AppKey: testAppKey, AppSecret: testSecret, BaseURL: hs.URL + "/baohan/"}
	other := &Peer{Name: "另一平台", AppKey: "BH-FI-3201-0002", AppSecret: testSecret, BaseURL: hs.URL + "/baohan/"}
	notice := func(applyNo string) map[string]string {
		return map[string]string{"applyno": applyNo, "baohanno": "BH1", "instname": "某银行", "generatetime": "2024-03-15 14:00:00",
			"rate": "0.005", "cost": "100.00", "applystatus": "1"}
	}
	tests := []struct {
		name   string
		peer   *Peer
		fields map[string]string
		after  time.Duration // the clock moves before the call
		want   string        // the timestamp sent
	}{
		{"first", peer, notice("A"), 0, "2024-03-15 14:05:30"},
		{"the same at once", peer, notice("A"), 0, "2024-03-15 14:05:31"},
		{"the same again, 300 ms later", peer, notice("A"), 300 * time.Millisecond, "2024-03-15 14:05:32"},
		{"other fields", peer, notice("B"), 0, "2024-03-15 14:05:30"},
		{"another peer", other, notice("A"), 0, "2024-03-15 14:05:30"},
		{"the clock passed the seconds used", peer, notice("A"), 5 * time.Second, "2024-03-15 14:05:35"},
	}
	for _, tt := range tests {
		clock = clock.Add(tt.after)
		resp, err := c.Call(context.Background(), tt.peer, protocol.BaohanNotice, tt.fields)
		if tt.peer == other {
			// Unknown to this server: what counts is the timestamp.
			if err != nil || !strings.HasPrefix(resp.Message, "unknown appkey") {
				t.Fatalf("%s: %v %+v", tt.name, err, resp)
			}
		} else if err != nil || resp.Code != 1 {
			t.Fatalf("%s: %v %+v (a replay means two requests shared a sign)", tt.name, err, resp)
		}
		in := f.log.Exchanges()
		r, err := protocol.ParseRequest(in[len(in)-1].Request)
		if err != nil || r.Get("timestamp") != tt.want {
			t.Errorf("%s: timestamp %q, want %q (%v)", tt.name, r.Get("timestamp"), tt.want, err)
		}
	}
	// A caller's own timestamp is sent as it is, even repeated (the
	// conformance kit sends replays on purpose): the second is a retry,
	// answered as the first.
	given := notice("C")
	given["timestamp"] = "2024-03-15 14:05:00"
	for range 2 {
		if _, err := c.Call(context.Background(), peer, protocol.BaohanNotice, given); err != nil {
			t.Fatal(err)
		}
	}
	in := f.log.Exchanges()
	if !bytes.Equal(in[len(in)-1].Request, in[len(in)-2].Request) || !bytes.Equal(in[len(in)-1].Response, in[len(in)-2].Response) || !in[len(in)-1].Retry {
		t.Errorf("a given timestamp was not kept, or the repeat not answered as a retry: %s", in[len(in)-1].Response)
	}
}

// TestClientRequest: the body the client sends: appkey, CST timestamp,
// sign over the rest, keys sorted, JSON headers.
func TestClientRequest(t *testing.T) {
	var got *http.Request
	var body []byte
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		body, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"code":1,"message":"success","data":{}}`)
	}))
	defer hs.Close()
	peer := &Peer{Name: "p", AppKey: testAppKey, AppSecret: testSecret, BaseURL: hs.URL}
	utc := time.Date(2024, 3, 15, 6, 5, 12, 0, time.UTC)
	c := NewClient(WithClock(func() time.Time { return utc }))
	fields := protocol.Encode(protocol.QuitNoticeRequest{ApplyNo: "A1", BaohanNo: "B1", ApplyStatus: "1", TuibaoTime: "2024-03-15 14:00:00"})
	fields["sign"] = "stale"
	fields["memo"] = "<&>"
	if _, err := c.Call(context.Background(), peer, protocol.QuitNotice, fields); err != nil {
		t.Fatal(err)
	}
	if got.Method != "POST" || got.URL.Path != "/quitnotice" || got.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("%s %s %v", got.Method, got.URL, got.Header)
	}
	str := "appkey=" + testAppKey + "&applyno=A1&applystatus=1&baohanno=B1&memo=<&>&timestamp=2024-03-15 14:05:12&tuibaotime=2024-03-15 14:00:00&appsecret=" + testSecret
	sign := openssl(t, str)
	want := `{"appkey":"` + testAppKey + `","applyno":"A1","applystatus":"1","baohanno":"B1","memo":"<&>","sign":"` + sign +
		`","timestamp":"2024-03-15 14:05:12","tuibaotime":"2024-03-15 14:00:00"}`
	if string(body) != want {
		t.Fatalf("body\n got %s\nwant %s", body, want)
	}
	if fields["sign"] != "stale" || fields["appkey"] != "" {
		t.Fatal("Call changed the caller's map")
	}
	// A timestamp given by the caller is kept.
	fields["timestamp"] = "2024-03-15 14:00:00"
	if _, err := c.Call(context.Background(), peer, protocol.QuitNotice, fields); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), `"timestamp":"2024-03-15 14:00:00"`) {
		t.Fatalf("%s", body)
	}
}

func TestClientErrors(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/badgateway/baohannotice", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(502)
		io.WriteString(w, "<html><body>502 Bad Gateway</body></html>")
	})
	mux.HandleFunc("/html/baohannotice", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html>login required</html>")
	})
	mux.HandleFunc("/nocode/baohannotice", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("/empty/baohannotice", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
	})
	mux.HandleFunc("/long/baohannotice", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(503)
		io.WriteString(w, strings.Repeat("维护中", 200))
	})
	mux.HandleFunc("/slow/baohannotice", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so the server notices the client leaving
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	mux.HandleFunc("/huge/baohannotice", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"code":1,"message":"`+strings.Repeat("x", 3000)+`"}`)
	})
	hs := httptest.NewServer(mux)
	defer hs.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + ln.Addr().String()
	ln.Close()

	log := &MemoryLog{}
	c := NewClient(WithHTTPClient(hs.Client()), WithMessageLog(log), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	c.MaxResponse = 2048
	call := func(base string, timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		_, err := c.Call(ctx, &Peer{Name: "平台", AppKey: "k", AppSecret: "s", BaseURL: base}, protocol.BaohanNotice, noticeFields())
		return err
	}
	tests := []struct {
		base string
		want string
	}{
		{hs.URL + "/badgateway", `baohannotice to 平台 at ` + hs.URL + `/badgateway/baohannotice: HTTP 502 Bad Gateway: "<html><body>502 Bad Gateway</body></html>"`},
		{hs.URL + "/html", `baohannotice to 平台 at ` + hs.URL + `/html/baohannotice: HTTP 200 (text/html) but answer is not a JSON object: "<html>login required</html>"`},
		{hs.URL + "/nocode", `baohannotice to 平台 at ` + hs.URL + `/nocode/baohannotice: HTTP 200 (text/plain; charset=utf-8) but answer has no "code": "{\"status\":\"ok\"}"`},
		{hs.URL + "/empty", `baohannotice to 平台 at ` + hs.URL + `/empty/baohannotice: HTTP 500 Internal Server Error: empty body`},
		{hs.URL + "/long", `baohannotice to 平台 at ` + hs.URL + `/long/baohannotice: HTTP 503 Service Unavailable: "` + strings.Repeat("维护中", 22) + `…" (first 200 of 1800 bytes)`},
		{hs.URL + "/huge", `baohannotice to 平台 at ` + hs.URL + `/huge/baohannotice: the answer is larger than 2048 bytes (HTTP 200)`},
		{"", `baohannotice to 平台: the peer has no base URL`},
	}
	for _, tt := range tests {
		err := call(tt.base, 5*time.Second)
		if err == nil || err.Error() != tt.want {
			t.Errorf("\n got %v\nwant %s", err, tt.want)
		}
	}
	err := call(hs.URL+"/slow", 50*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "baohannotice to 平台 at "+hs.URL+"/slow/baohannotice: ") {
		t.Errorf("timeout: %v", err)
	}
	err = call(closed, 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), `Post "`) {
		t.Errorf("closed port: %v", err)
	}
	es := log.Exchanges()
	if len(es) != len(tests)+2 {
		t.Fatalf("%d exchanges recorded", len(es))
	}
	if e := es[0]; e.HTTPStatus != 502 || e.Code != -1 || !strings.Contains(e.Error, "HTTP 502") || string(e.Response) != "<html><body>502 Bad Gateway</body></html>" || e.Direction != protocol.Outbound {
		t.Errorf("%+v", e)
	}
	if e := es[len(es)-1]; e.HTTPStatus != 0 || e.Code != -1 || e.Error == "" {
		t.Errorf("%+v", e)
	}
}
