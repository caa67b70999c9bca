package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestNotPublic: the address rule, range by range, at and beside each
// edge, in the IPv4-mapped, NAT64 and 6to4 forms.
func TestNotPublic(t *testing.T) {
	tests := []struct {
		addr string
		rule string // "": public
		// always: refused under AllowPrivate too
		always bool
	}{
		// Public.
		{"8.8.8.8", "", false},
		{"1.1.1.1", "", false},
		{"202.96.209.133", "", false},
		{"9.255.255.255", "", false},
		{"11.0.0.0", "", false},
		{"100.63.255.255", "", false},
		{"100.128.0.0", "", false},
		{"126.255.255.255", "", false},
		{"128.0.0.0", "", false},
		{"169.253.255.255", "", false},
		{"169.255.0.0", "", false},
		{"172.15.255.255", "", false},
		{"172.32.0.0", "", false},
		{"192.0.1.1", "", false},
		{"192.167.255.255", "", false},
		{"192.169.0.0", "", false},
		{"198.17.255.255", "", false},
		{"198.20.0.0", "", false},
		{"223.255.255.255", "", false},
		{"2400:3200::1", "", false},
		{"2001:4860:4860::8888", "", false},
		{"2001:200::1", "", false}, // just past 2001::/23
		{"2003::1", "", false},
		{"3ffe::1", "", false},
		{"3fff:1000::1", "", false}, // just past 3fff::/20
		{"::ffff:8.8.8.8", "", false},
		{"64:ff9b::808:808", "", false},
		{"2002:808:808::1", "", false},
		// IPv4.
		{"0.0.0.0", "unspecified", true},
		{"0.1.2.3", "this network", true},
		{"10.0.0.0", "private", false},
		{"10.255.255.255", "private", false},
		{"100.64.0.1", "CGNAT", false},
		{"100.127.255.255", "CGNAT", false},
		{"127.0.0.1", "loopback", false},
		{"127.255.255.254", "loopback", false},
		{"169.254.169.254", "link-local", true},
		{"169.254.0.1", "cloud metadata", true},
		{"172.16.0.1", "private", false},
		{"172.31.255.255", "private", false},
		{"192.0.0.170", "IETF protocol assignments", false},
		{"192.0.2.1", "TEST-NET-1", false},
		{"192.88.99.1", "6to4 relay", false},
		{"192.168.1.1", "RFC 1918", false},
		{"198.18.0.1", "benchmarking", false},
		{"198.19.255.255", "benchmarking", false},
		{"198.51.100.7", "TEST-NET-2", false},
		{"203.0.113.9", "TEST-NET-3", false},
		{"224.0.0.1", "multicast", true},
		{"239.255.255.250", "multicast", true},
		{"240.0.0.1", "reserved", true},
		{"255.255.255.255", "broadcast", true},
		// IPv4-mapped: judged as IPv4.
		{"::ffff:127.0.0.1", "loopback", false},
		{"::ffff:10.1.2.3", "private", false},
		{"::ffff:169.254.169.254", "link-local", true},
		{"::ffff:0.0.0.0", "unspecified", true},
		// IPv6.
		{"::", "unspecified", true},
		{"::1", "loopback", false},
		{"::127.0.0.1", "IPv4-compatible", true},
		{"::a00:1", "IPv4-compatible", true},
		{"fc00::1", "unique local", false},
		{"fd12:3456:789a::1", "unique local", false},
		{"fd00:ec2::254", "unique local", false},
		{"fe80::1", "link-local", true},
		{"fe80::1%eth0", "link-local", true},
		{"febf:ffff::1", "link-local", true},
		{"fec0::1", "site-local", false},
		{"ff02::1", "multicast", true},
		{"ff05::2", "multicast", true},
		{"100::1", "discard-only", false},
		{"2001::1", "Teredo", false},
		{"2001:db8::1", "documentation", false},
		{"3fff::1", "documentation", false},
		{"5f00::1", "SRv6", false},
		{"64:ff9b:1::1", "local-use NAT64", false},
		{"4000::1", "outside the global unicast space", true},
		{"1::1", "outside the global unicast space", true},
		{"e000::1", "outside the global unicast space", true},
		// Forms that carry an IPv4 address.
		{"64:ff9b::7f00:1", "loopback carried in 64:ff9b::/96", false},
		{"64:ff9b::a9fe:a9fe", "link-local", true},
		{"64:ff9b::c0a8:101", "private", false},
		{"2002:7f00:1::1", "loopback carried in 2002::/16", false},
		{"2002:a00:1::", "private", false},
		{"2002:a9fe:a9fe::1", "link-local", true},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			r, bad := NotPublic(netip.MustParseAddr(tt.addr))
			if tt.rule == "" {
				if bad {
					t.Fatalf("refused as %s, want public", r)
				}
				return
			}
			if !bad || !strings.Contains(r.String(), tt.rule) || r.Always != tt.always {
				t.Fatalf("NotPublic = %v %v (always %v), want %q always %v", r, bad, r.Always, tt.rule, tt.always)
			}
			if !strings.HasPrefix(tt.addr, "::ffff:") && !strings.Contains(tt.rule, "outside") && !strings.HasPrefix(tt.addr, "64:ff9b::") && !strings.HasPrefix(tt.addr, "2002:") &&
				!r.Prefix.Contains(netip.MustParseAddr(tt.addr).WithZone("")) {
				t.Errorf("the rule's prefix %s does not hold %s", r.Prefix, tt.addr)
			}
		})
	}
	if _, bad := NotPublic(netip.Addr{}); !bad {
		t.Error("the zero Addr is public")
	}
}

// TestCheckURLHosts: a host that names an address the fetcher does not
// connect to is refused before any request, with the address, the rule
// and the setting; AllowPrivate lifts what it may.
func TestCheckURLHosts(t *testing.T) {
	tests := []struct {
		url         string
		err         string // "": accepted
		withPrivate string // under AllowPrivate ("": accepted)
	}{
		{"https://ggzy.example.cn/f/1.pdf", "", ""},
		{"https://8.8.8.8/f.pdf", "", ""},
		{"https://[2400:3200::1]:8443/f.pdf", "", ""},
		{"https://127.0.0.1/f.pdf", "address 127.0.0.1 is loopback (127.0.0.0/8), not public: refused; [fetch] allow_private_addresses = true allows it", ""},
		{"https://10.1.2.3:8443/f.pdf", "10.1.2.3 is private (10.0.0.0/8, RFC 1918)", ""},
		{"https://172.20.0.5/f.pdf", "private", ""},
		{"https://192.168.0.10/f.pdf", "private", ""},
		{"https://100.100.100.200/f.pdf", "CGNAT", ""},
		{"https://[::1]/f.pdf", "loopback", ""},
		{"https://[fd00::5]/f.pdf", "unique local", ""},
		{"https://[::ffff:127.0.0.1]/f.pdf", "loopback", ""},
		{"https://[::ffff:a9fe:a9fe]/f.pdf", "link-local", "link-local"},
		{"https://169.254.169.254/latest/meta-data/", "refused whatever the configuration", "cloud metadata"},
		{"https://[fe80::1%25eth0]/f.pdf", "link-local", "link-local"},
		{"https://0.0.0.0/f.pdf", "unspecified", "unspecified"},
		{"https://224.0.0.251/f.pdf", "multicast", "multicast"},
		{"https://localhost/f.pdf", "host localhost is a loopback name", ""},
		{"https://LocalHost.:8443/f.pdf", "loopback name", ""},
		{"https://files.localhost/f.pdf", "loopback name", ""},
		{"https://127.1/f.pdf", "is a number", "is a number"},
		{"https://2130706433/f.pdf", "is a number", "is a number"},
		{"https://0x7f.0.0.1/f.pdf", "is a number", "is a number"},
		{"https://127.0.0.1./f.pdf", "loopback", ""},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			for _, allow := range []bool{false, true} {
				want := tt.err
				if allow {
					want = tt.withPrivate
				}
				_, err := (&FileFetcher{AllowPrivate: allow}).CheckURL(tt.url)
				if want == "" {
					if err != nil {
						t.Errorf("AllowPrivate %v: %v", allow, err)
					}
					continue
				}
				if err == nil || !strings.Contains(err.Error(), want) || !Permanent(err) {
					t.Errorf("AllowPrivate %v: err = %v, want %q (permanent)", allow, err, want)
				}
			}
		})
	}
}

// fakeResolver answers DNS queries for names (A or AAAA by the
// address's family) and NXDOMAIN for any other name, over a pipe: a
// stand-in for a name server that maps a public-looking name to an
// internal address.
func fakeResolver(names map[string]netip.Addr) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		c, s := net.Pipe()
		go func() {
			defer s.Close()
			for {
				var n [2]byte
				if _, err := io.ReadFull(s, n[:]); err != nil {
					return
				}
				q := make([]byte, binary.BigEndian.Uint16(n[:]))
				if _, err := io.ReadFull(s, q); err != nil {
					return
				}
				resp := dnsAnswer(q, names)
				if _, err := s.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(resp))), resp...)); err != nil {
					return
				}
			}
		}()
		return c, nil
	}}
}

func dnsAnswer(q []byte, names map[string]netip.Addr) []byte {
	i := 12
	var labels []string
	for q[i] != 0 {
		l := int(q[i])
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	qtype := binary.BigEndian.Uint16(q[i+1:])
	resp := append([]byte{}, q[:i+5]...) // the header and the question
	resp[2], resp[3] = 0x85, 0x80        // an authoritative answer, recursion available
	binary.BigEndian.PutUint16(resp[4:], 1)
	binary.BigEndian.PutUint16(resp[6:], 0)
	binary.BigEndian.PutUint32(resp[8:], 0)
	a, ok := names[strings.ToLower(strings.Join(labels, "."))]
	switch {
	case !ok:
		resp[3] |= 3 // NXDOMAIN
	case qtype == 1 && a.Is4() || qtype == 28 && a.Is6():
		binary.BigEndian.PutUint16(resp[6:], 1)
		resp = append(resp, 0xc0, 12)
		resp = binary.BigEndian.AppendUint16(resp, qtype)
		resp = binary.BigEndian.AppendUint16(resp, 1)
		resp = binary.BigEndian.AppendUint32(resp, 60)
		resp = binary.BigEndian.AppendUint16(resp, uint16(a.BitLen()/8))
		resp = append(resp, a.AsSlice()...)
	}
	return resp
}

// counting is a plain HTTP server on loopback that answers body at any
// path and counts its requests.
func counting(t *testing.T, body string) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// TestFetchAddresses: by default a fetch never reaches a loopback
// server, named by its address or by a name that resolves to it (refused
// at connect time, on the resolved address); a redirect to a private
// address is refused; AllowPrivate reaches loopback but never the
// link-local range of the cloud metadata service.
func TestFetchAddresses(t *testing.T) {
	ctx := context.Background()
	srv, hits := counting(t, "%PDF-1.4 索赔材料")
	names := map[string]netip.Addr{
		"files.example.cn":    netip.MustParseAddr("127.0.0.1"), // a public name resolving to loopback
		"files6.example.cn":   netip.MustParseAddr("::ffff:127.0.0.1"),
		"metadata.example.cn": netip.MustParseAddr("169.254.169.254"),
	}
	fetcher := func(allow bool) *FileFetcher {
		return &FileFetcher{AllowPlain: true, AllowPrivate: allow, resolver: fakeResolver(names)}
	}
	byName := strings.Replace(srv.URL, "127.0.0.1", "files.example.cn", 1)
	tests := []struct {
		name, url string
		allow     bool
		err       string // "": fetched
	}{
		{"address", srv.URL + "/f.pdf", false, "address 127.0.0.1 is loopback (127.0.0.0/8), not public: refused; [fetch] allow_private_addresses = true allows it"},
		{"name resolving to loopback", byName + "/f.pdf", false, "address 127.0.0.1 of host files.example.cn is loopback (127.0.0.0/8), not public: refused; [fetch] allow_private_addresses = true"},
		{"name resolving to mapped loopback", strings.Replace(srv.URL, "127.0.0.1", "files6.example.cn", 1) + "/f.pdf", false, "of host files6.example.cn is loopback"},
		{"name resolving to the metadata service", "http://metadata.example.cn/latest/meta-data/", true, "address 169.254.169.254 of host metadata.example.cn is link-local, where cloud metadata services answer (169.254.0.0/16, RFC 3927): refused whatever the configuration"},
		{"address, allowed", srv.URL + "/f.pdf", true, ""},
		{"name, allowed", byName + "/f.pdf", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := hits.Load()
			got, err := fetcher(tt.allow).Fetch(ctx, tt.url)
			if tt.err == "" {
				if err != nil || string(got.Data) != "%PDF-1.4 索赔材料" || hits.Load() != before+1 {
					t.Fatalf("got %v, %d requests: %v", got, hits.Load()-before, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) || !Permanent(err) {
				t.Fatalf("err = %v, want %q (permanent)", err, tt.err)
			}
			if hits.Load() != before {
				t.Fatalf("the server was reached")
			}
		})
	}

	// A redirect from a public server (the test's stand-in: the server
	// at port, taken as public) to a private address, named by its
	// address or by a name resolving to it, is refused, and the private
	// server is not reached.
	inside, insideHits := counting(t, "inside")
	insideByName := strings.Replace(inside.URL, "127.0.0.1", "files.example.cn", 1)
	redir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-address":
			http.Redirect(w, r, inside.URL+"/x", http.StatusFound)
		case "/to-localhost":
			http.Redirect(w, r, strings.Replace(inside.URL, "127.0.0.1", "localhost", 1)+"/x", http.StatusFound)
		case "/to-name":
			http.Redirect(w, r, insideByName+"/x", http.StatusFound)
		case "/to-metadata":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		default:
			io.WriteString(w, "public")
		}
	}))
	defer redir.Close()
	rport := redir.Listener.Addr().(*net.TCPAddr).Port
	f := fetcher(false)
	f.public = func(ap netip.AddrPort) bool { return int(ap.Port()) == rport }
	redirByName := strings.Replace(redir.URL, "127.0.0.1", "files.example.cn", 1)
	if got, err := f.Fetch(ctx, redirByName+"/plain"); err != nil || string(got.Data) != "public" {
		t.Fatalf("the public stand-in: %v %v", got, err)
	}
	for path, want := range map[string]string{
		"/to-address":   "redirect to " + inside.Listener.Addr().String() + " refused: address 127.0.0.1 is loopback",
		"/to-localhost": "loopback name",
		"/to-metadata":  "refused whatever the configuration",
	} {
		if _, err := f.Fetch(ctx, redirByName+path); err == nil || !strings.Contains(err.Error(), want) || !Permanent(err) {
			t.Errorf("%s: err = %v, want %q", path, err, want)
		}
	}
	// A redirect to another host is refused as such; the same host
	// whose name now resolves elsewhere is refused at connect time.
	if _, err := f.Fetch(ctx, redirByName+"/to-name"); err == nil || !strings.Contains(err.Error(), "redirect to another host") {
		t.Errorf("/to-name: err = %v", err)
	}
	g := fetcher(false)
	if _, err := g.Fetch(ctx, insideByName+"/x"); err == nil || !strings.Contains(err.Error(), "of host files.example.cn is loopback") {
		t.Errorf("the same name, resolved to loopback: err = %v", err)
	}
	if n := insideHits.Load(); n != 0 {
		t.Errorf("the private server was reached %d times", n)
	}
}

// TestFetchThroughProxy: through an egress proxy on a private address
// (here loopback), the connection is to the proxy and is allowed; the
// proxy resolves the file's host and polices it, and a host the fetcher
// refuses up front (an internal address) is refused still.
func TestFetchThroughProxy(t *testing.T) {
	ctx := context.Background()
	voucher := "%PDF-1.4 转账凭证"
	target := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, voucher) }))
	defer target.Close()
	var mu sync.Mutex
	var seen []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.Host)
		mu.Unlock()
		// The proxy's policy: example.com only, which it reaches at
		// the test server.
		if r.Method != http.MethodConnect || strings.Split(r.Host, ":")[0] != "example.com" {
			http.Error(w, "destination refused by the egress proxy", http.StatusForbidden)
			return
		}
		dst, err := net.Dial("tcp", target.Listener.Addr().String())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer dst.Close()
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
		go io.Copy(dst, bufio.NewReader(brw))
		io.Copy(conn, dst)
	}))
	defer proxy.Close()
	pu, _ := url.Parse(proxy.URL)
	tr := target.Client().Transport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyURL(pu)
	f := &FileFetcher{Client: &http.Client{Transport: tr}}

	tport := target.Listener.Addr().(*net.TCPAddr).Port
	fileURL := "https://example.com:" + strconv.Itoa(tport) + "/v.pdf"
	got, err := f.Fetch(ctx, fileURL)
	if err != nil || string(got.Data) != voucher {
		t.Fatalf("through the proxy: %v %v", got, err)
	}
	// Refused by the proxy: the fetch fails, nothing reached.
	if _, err := f.Fetch(ctx, "https://internal.example.cn/v.pdf"); err == nil {
		t.Fatal("a destination the proxy refuses was fetched")
	}
	// Refused by the fetcher before the proxy is asked.
	if _, err := f.Fetch(ctx, "https://10.0.0.8/v.pdf"); err == nil || !strings.Contains(err.Error(), "10.0.0.8 is private") {
		t.Fatalf("a private address through the proxy: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"CONNECT example.com:" + strconv.Itoa(tport), "CONNECT internal.example.cn:443"}
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Fatalf("the proxy saw %q, want %q", seen, want)
	}
}
