package transport

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimit is a token bucket: on average Rate requests a second, up to
// Burst at once. The zero value means "the default" (DefaultRateLimit
// on a Server, the Server's limit on a Peer); a negative Rate means no
// limit.
type RateLimit struct {
	Rate  float64 // requests per second; < 0: unlimited
	Burst int     // bucket size; 0: DefaultBurstFactor × Rate (at least 1)
}

// Defaults of the per-appkey rate limit. They are generous (a real
// institution sends a few requests a second; a 64 MiB guarantee file is
// 128 uploads of 512 KiB) so that only a runaway or hostile peer meets
// them; tighten them per peer in the configuration.
const (
	DefaultRate        = 100 // requests per second per appkey
	DefaultBurstFactor = 4   // burst = 4 × rate when Burst is 0
)

// DefaultRateLimit is the limit of a Server whose RateLimit is zero.
var DefaultRateLimit = RateLimit{Rate: DefaultRate, Burst: DefaultRate * DefaultBurstFactor}

// Unlimited turns the rate limit off.
var Unlimited = RateLimit{Rate: -1}

// IsZero reports whether l is the zero value (use the default).
func (l RateLimit) IsZero() bool { return l.Rate == 0 && l.Burst == 0 }

// Off reports whether l lets everything through.
func (l RateLimit) Off() bool { return l.Rate < 0 || math.IsInf(l.Rate, 1) }

func (l RateLimit) burst() int {
	if l.Burst > 0 {
		return l.Burst
	}
	return max(1, int(math.Ceil(l.Rate*DefaultBurstFactor)))
}

func (l RateLimit) String() string {
	if l.Off() {
		return "unlimited"
	}
	return fmt.Sprintf("%g requests/s, burst %d", l.Rate, l.burst())
}

// ParseCIDRs parses an allowlist: CIDR prefixes ("10.0.0.0/8",
// "2001:db8::/32") or single addresses ("192.0.2.7", taken as /32 or
// /128). The error names the entry.
func ParseCIDRs(entries []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(entries))
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if strings.Contains(e, "/") {
			p, err := netip.ParsePrefix(e)
			if err != nil {
				return nil, fmt.Errorf("allow_from entry %q is not a CIDR prefix such as 10.0.0.0/8: %v", e, err)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil {
			return nil, fmt.Errorf("allow_from entry %q is neither an address nor a CIDR prefix: %v", e, err)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// allowed reports whether a is in one of the prefixes (none: any).
func allowed(prefixes []netip.Prefix, a netip.Addr) bool {
	if len(prefixes) == 0 {
		return true
	}
	if !a.IsValid() {
		return false
	}
	a = a.Unmap()
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr is the address a request comes from: the TCP peer, or,
// when the TCP peer is a trusted proxy, the last address of
// X-Forwarded-For that is not a trusted proxy.
// ClientAddr is the address of the client of hr: the TCP peer's, or,
// when the TCP peer is one of the trusted proxies, the rightmost address
// of X-Forwarded-For that is not a trusted proxy (the zero Addr for a
// malformed header).
func ClientAddr(hr *http.Request, trusted []netip.Prefix) netip.Addr { return clientAddr(hr, trusted) }

func clientAddr(hr *http.Request, trusted []netip.Prefix) netip.Addr {
	a := remoteAddr(hr.RemoteAddr)
	if len(trusted) == 0 || !allowed(trusted, a) {
		return a
	}
	hops := hr.Header.Values("X-Forwarded-For")
	var all []string
	for _, h := range hops {
		for _, p := range strings.Split(h, ",") {
			all = append(all, strings.TrimSpace(p))
		}
	}
	for i := len(all) - 1; i >= 0; i-- {
		x, err := netip.ParseAddr(all[i])
		if err != nil {
			return netip.Addr{} // a forged or broken header: no address
		}
		x = x.Unmap()
		if !allowed(trusted, x) {
			return x
		}
		a = x
	}
	return a
}

func remoteAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		host = s
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// limiters holds one token bucket per appkey.
type limiters struct {
	mu sync.Mutex
	m  map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	conf RateLimit
}

// allow takes a token from appkey's bucket at now. When the bucket is
// empty it returns false and how long until a token is there.
func (ls *limiters) allow(appkey string, conf RateLimit, now time.Time) (bool, time.Duration) {
	if conf.Off() {
		return true, 0
	}
	ls.mu.Lock()
	if ls.m == nil {
		ls.m = map[string]*bucket{}
	}
	b := ls.m[appkey]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(conf.Rate), conf.burst()), conf: conf}
		ls.m[appkey] = b
	} else if b.conf != conf { // the configuration changed
		b.lim.SetLimitAt(now, rate.Limit(conf.Rate))
		b.lim.SetBurstAt(now, conf.burst())
		b.conf = conf
	}
	ls.mu.Unlock()
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}
