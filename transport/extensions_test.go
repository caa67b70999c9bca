package transport

import (
	"context"
	"testing"

	"github.com/baohan-dev/baohan/protocol"
)

// TestServerExtensionsPerPeer: an optional interface is refused, with
// code 0 naming it and the key that enables it, from a peer that does
// not list it in its extensions; listed, the request reaches the
// handler. The 14 need no listing.
func TestServerExtensionsPerPeer(t *testing.T) {
	f := newFixture(t)
	called := 0
	f.srv.Handle(protocol.ClaimsRepayNotice, func(ctx context.Context, p *Peer, r *protocol.Request) (any, error) {
		called++
		return nil, nil
	})
	fields := map[string]string{
		"appkey": testAppKey, "timestamp": "2024-03-15 14:05:12",
		"applyno": "JS2024031500017", "baohanno": "BH3201202403150017",
		"repaystatus": "1", "repaydate": "2024-03-15 10:00:00", "repayamount": "100.00", "iszbrcooperate": "1",
	}
	a := f.do(t, "POST", "/baohan/claimsrepaynotice", signed(fields, testSecret))
	want := `claimsrepaynotice (optional) not enabled: add it to the extensions of appkey "BH-FI-3201-0001"`
	if a.status != 200 || a.resp.Code != 0 || a.resp.Message != want {
		t.Fatalf("not enabled: %d %s", a.status, a.raw)
	}
	if called != 0 {
		t.Fatal("the handler ran for a peer that did not enable the interface")
	}

	f.peer.Extensions = []protocol.Interface{protocol.ClaimsResultNotice}
	a = f.do(t, "POST", "/baohan/claimsrepaynotice", signed(with(fields, "timestamp", "2024-03-15 14:05:13"), testSecret))
	if a.resp.Code != 0 || called != 0 {
		t.Fatalf("only claimsresultnotice enabled: %s", a.raw)
	}

	f.peer.Extensions = append(f.peer.Extensions, protocol.ClaimsRepayNotice)
	a = f.do(t, "POST", "/baohan/claimsrepaynotice", signed(with(fields, "timestamp", "2024-03-15 14:05:14"), testSecret))
	if a.resp.Code != 1 || called != 1 {
		t.Fatalf("enabled: %s (handler called %d times)", a.raw, called)
	}
	if !f.peer.Enabled(protocol.BaohanNotice) {
		t.Error("one of the 14 reported disabled")
	}
}
