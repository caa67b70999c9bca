package issues

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/transport"
)

// TestUnauthenticatedAddressMapBounded: the server keeps a budget per
// source address for what unauthenticated requests may write, in a map
// that was never pruned: every address that ever sent a bad request
// stayed in memory for the life of the process, and a flood from many
// addresses (one IPv6 host has a whole /64) grew it without bound. An
// address must be forgotten once it has been idle long enough for its
// budget to be whole again, and the map must never hold more than its
// cap, however many addresses send.
func TestUnauthenticatedAddressMapBounded(t *testing.T) {
	clock := &settableClock{t: time.Now()}
	peer := &transport.Peer{Name: "bank", AppKey: "APPKEY-1", AppSecret: "secret", Profile: transport.DefaultProfile()}
	proxy, _ := transport.ParseCIDRs([]string{"127.0.0.1"})
	const limit = 200
	srv := &transport.Server{
		Peers:                 transport.NewStaticPeers(peer),
		Log:                   &transport.MemoryLog{},
		Logger:                slog.New(slog.NewTextHandler(io.Discard, nil)),
		TrustedProxies:        proxy,
		LimitClock:            clock.Now,
		UnauthenticatedBudget: transport.UnauthenticatedBudget{MaxAddresses: limit},
	}
	srv.Handle(protocol.BaohanNotice, func(context.Context, *transport.Peer, *protocol.Request) (any, error) { return nil, nil })
	hs := httptest.NewServer(srv)
	defer hs.Close()

	body := protocol.MarshalFields(map[string]string{"appkey": peer.AppKey, "timestamp": protocol.FormatTime(time.Now()),
		"applyno": "JS2026000001", "sign": "00"})
	post := func(from netip.Addr) {
		req, _ := http.NewRequest("POST", hs.URL+"/baohannotice", bytes.NewReader(body))
		req.Header.Set("X-Forwarded-For", from.String())
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	// Bad signs from 5 times as many IPv4 addresses as the cap, and from
	// as many /64 prefixes of IPv6.
	base4, base6 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("2001:db8::1")
	for i := 0; i < 5*limit; i++ {
		post(base4)
		post(base6)
		base4 = base4.Next()
		b := base6.As16()
		b[7]++ // the next /64
		if b[7] == 0 {
			b[6]++
		}
		base6 = netip.AddrFrom16(b)
		clock.Add(time.Millisecond)
	}
	if n := srv.UnauthenticatedStats().Addresses; n > limit {
		t.Errorf("%d addresses held after a flood from %d, more than the cap of %d", n, 10*limit, limit)
	}
	// Two hours on, nobody having sent since, one more request: the
	// others are forgotten.
	clock.Add(2 * time.Hour)
	post(netip.MustParseAddr("192.0.2.1"))
	if n := srv.UnauthenticatedStats().Addresses; n != 1 {
		t.Errorf("%d addresses held after two idle hours, want 1 (the last one)", n)
	}
}

type settableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *settableClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
