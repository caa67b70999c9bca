package transport

import (
	"fmt"
	"net/netip"
	"strings"
)

// AllowPrivateSetting is the configuration key that lets a FileFetcher
// connect to private addresses (FileFetcher.AllowPrivate); refusals name
// it.
const AllowPrivateSetting = "[fetch] allow_private_addresses = true"

// AddrRule is a range of addresses a FileFetcher does not connect to.
type AddrRule struct {
	Prefix netip.Prefix
	Name   string // what the range is, e.g. "private"
	Ref    string // where it is defined, e.g. "RFC 1918"
	// Always: refused even under FileFetcher.AllowPrivate (link-local,
	// where cloud metadata services answer; unspecified; multicast and
	// broadcast): no file server lives there.
	Always bool
}

func (r AddrRule) String() string {
	if r.Ref == "" {
		return fmt.Sprintf("%s (%s)", r.Name, r.Prefix)
	}
	return fmt.Sprintf("%s (%s, %s)", r.Name, r.Prefix, r.Ref)
}

func rule(prefix, name, ref string, always bool) AddrRule {
	return AddrRule{Prefix: netip.MustParsePrefix(prefix), Name: name, Ref: ref, Always: always}
}

// Addresses that are not public (IANA special-purpose registries, RFC
// 6890 and its updates). IPv6 outside 2000::/3 is refused by the last
// rule, apart from the ranges named before it.
var (
	ipv4Rules = []AddrRule{
		rule("0.0.0.0/8", "this network / unspecified", "RFC 1122", true),
		rule("10.0.0.0/8", "private", "RFC 1918", false),
		rule("100.64.0.0/10", "shared address space / CGNAT", "RFC 6598", false),
		rule("127.0.0.0/8", "loopback", "", false),
		rule("169.254.0.0/16", "link-local, where cloud metadata services answer", "RFC 3927", true),
		rule("172.16.0.0/12", "private", "RFC 1918", false),
		rule("192.0.0.0/24", "IETF protocol assignments", "RFC 6890", false),
		rule("192.0.2.0/24", "documentation TEST-NET-1", "RFC 5737", false),
		rule("192.88.99.0/24", "6to4 relay anycast", "RFC 7526", false),
		rule("192.168.0.0/16", "private", "RFC 1918", false),
		rule("198.18.0.0/15", "benchmarking", "RFC 2544", false),
		rule("198.51.100.0/24", "documentation TEST-NET-2", "RFC 5737", false),
		rule("203.0.113.0/24", "documentation TEST-NET-3", "RFC 5737", false),
		rule("224.0.0.0/4", "multicast", "", true),
		rule("240.0.0.0/4", "reserved and broadcast", "RFC 1112, RFC 919", true),
	}
	ipv6Rules = []AddrRule{
		rule("::/128", "unspecified", "", true),
		rule("::1/128", "loopback", "", false),
		rule("::/96", "IPv4-compatible", "deprecated, RFC 4291", true),
		rule("64:ff9b:1::/48", "local-use NAT64", "RFC 8215", false),
		rule("100::/64", "discard-only", "RFC 6666", false),
		rule("2001::/23", "IETF protocol assignments, Teredo included", "RFC 2928, RFC 4380", false),
		rule("2001:db8::/32", "documentation", "RFC 3849", false),
		rule("3fff::/20", "documentation", "RFC 9637", false),
		rule("5f00::/16", "SRv6 SIDs", "RFC 9602", false),
		rule("fc00::/7", "unique local, private", "RFC 4193", false),
		rule("fe80::/10", "link-local", "RFC 4291", true),
		rule("fec0::/10", "site-local, private", "deprecated, RFC 3879", false),
		rule("ff00::/8", "multicast", "", true),
	}
	notGlobal6 = rule("2000::/3", "outside the global unicast space", "", true)
	global6    = netip.MustParsePrefix("2000::/3")
	// IPv6 forms that carry an IPv4 address, judged by that address.
	nat64 = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052: the last 32 bits
	six4  = netip.MustParsePrefix("2002::/16")    // 6to4, RFC 3056: bits 16 to 48
)

// NotPublic returns the rule that refuses a, or false when a is a public
// address a FileFetcher may connect to. An IPv4-mapped address
// (::ffff:a.b.c.d) is judged as its IPv4 address, and so are the NAT64
// (64:ff9b::/96) and 6to4 (2002::/16) forms by the IPv4 address they
// carry. A zone is ignored.
func NotPublic(a netip.Addr) (AddrRule, bool) {
	a = a.WithZone("")
	if !a.IsValid() {
		return rule("::/0", "not an address", "", true), true
	}
	if a.Is4In6() {
		a = a.Unmap()
	}
	if a.Is4() {
		for _, r := range ipv4Rules {
			if r.Prefix.Contains(a) {
				return r, true
			}
		}
		return AddrRule{}, false
	}
	b := a.As16()
	var embedded netip.Addr
	var form netip.Prefix
	switch {
	case nat64.Contains(a):
		embedded, form = netip.AddrFrom4([4]byte(b[12:16])), nat64
	case six4.Contains(a):
		embedded, form = netip.AddrFrom4([4]byte(b[2:6])), six4
	}
	if embedded.IsValid() {
		r, bad := NotPublic(embedded)
		if bad {
			return AddrRule{Prefix: r.Prefix, Name: fmt.Sprintf("%s carried in %s", r.Name, form), Ref: r.Ref, Always: r.Always}, true
		}
		return AddrRule{}, false
	}
	// The most specific rule: ::1/128 and ::/128 before ::/96.
	var found AddrRule
	for _, r := range ipv6Rules {
		if r.Prefix.Contains(a) && (!found.Prefix.IsValid() || r.Prefix.Bits() > found.Prefix.Bits()) {
			found = r
		}
	}
	if found.Prefix.IsValid() {
		return found, true
	}
	if !global6.Contains(a) {
		return notGlobal6, true
	}
	return AddrRule{}, false
}

// refusedAddr is the refusal of a, reached for host, or nil: a is public,
// or allowPrivate lifts its rule.
func refusedAddr(host string, a netip.Addr, allowPrivate bool) *FetchError {
	r, bad := NotPublic(a)
	if !bad || allowPrivate && !r.Always {
		return nil
	}
	of := ""
	if host != "" && host != a.String() {
		of = " of host " + host
	}
	if r.Always {
		return &FetchError{fmt.Sprintf("address %s%s is %s: refused whatever the configuration (no file server lives there)", a, of, r)}
	}
	return &FetchError{fmt.Sprintf("address %s%s is %s, not public: refused; %s allows it", a, of, r, AllowPrivateSetting)}
}

// checkHost refuses, before any lookup, a host that names an address the
// fetcher does not connect to: an IP literal that is not public, a name
// under localhost (RFC 6761), or an IPv4 address in a legacy form
// ("127.1", "2130706433", "0x7f.0.0.1") that resolvers may read as one.
func checkHost(host string, allowPrivate bool) *FetchError {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if a, err := netip.ParseAddr(h); err == nil {
		return refusedAddr("", a, allowPrivate)
	}
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		if allowPrivate {
			return nil
		}
		return &FetchError{fmt.Sprintf("host %s is a loopback name (RFC 6761), not public: refused; %s allows it", host, AllowPrivateSetting)}
	}
	last := h[strings.LastIndexByte(h, '.')+1:]
	if last != "" && (strings.Trim(last, "0123456789") == "" || strings.HasPrefix(last, "0x")) {
		return &FetchError{fmt.Sprintf("host %s is not a host name (its last label %q is a number): refused; write an IP address in its standard form", host, last)}
	}
	return nil
}
