package transport

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

// TestServerGivesLogTheRequestDigest: with a replay guard, the inbound
// exchange the server records carries the digest it computed over the
// request (Exchange.RequestDigest: ReplayDigest of the interface and the
// body as recorded), which the message log takes as the body's digest;
// without one it carries none.
func TestServerGivesLogTheRequestDigest(t *testing.T) {
	for _, guarded := range []bool{true, false} {
		f := newFixture(t)
		f.srv.Seen = nil
		if guarded {
			f.srv.Seen = &protocol.MemorySeen{Now: func() time.Time { return testNow }}
		}
		hs := httptest.NewServer(f.srv)
		peer := &Peer{Name: "p", AppKey: testAppKey, AppSecret: testSecret, BaseURL: hs.URL + "/baohan/"}
		c := NewClient(WithHTTPClient(hs.Client()), WithClock(func() time.Time { return testNow }))
		if _, err := c.Call(context.Background(), peer, protocol.DownloadPublicKey, protocol.Encode(protocol.DownloadPublicKeyRequest{ApplyNo: "JS2024031500017"})); err != nil {
			t.Fatal(err)
		}
		hs.Close()
		in := f.log.Exchanges()
		if len(in) != 1 {
			t.Fatalf("%d exchanges", len(in))
		}
		e := in[0]
		want := ""
		if guarded {
			want = protocol.ReplayDigest(protocol.Interface(e.Interface), e.Request)
		}
		if e.RequestDigest != want {
			t.Fatalf("guarded %v: RequestDigest %q, want %q", guarded, e.RequestDigest, want)
		}
	}
}
