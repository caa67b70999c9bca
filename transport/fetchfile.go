package transport

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/emmansun/gmsm/sm3"
)

// Bounds of a file fetched from a URL a peer named (a claim's file list,
// a claim outcome's transfer vouchers).
const (
	DefaultMaxFetchedFile = 20 << 20         // bytes kept at most per file
	DefaultFetchTimeout   = 60 * time.Second // the whole request, body included
	maxFetchRedirects     = 3
)

// FileFetcher fetches files named by URL in a peer's message. The URL is
// the peer's choice, so every request is bounded: https only (plain http
// only when AllowPlain, for tests and loopback like a peer's base_url
// under listen.plain_http), a time limit, a size limit, redirects only to
// the same host over the same or a stronger scheme, and connections only
// to public addresses (NotPublic) unless AllowPrivate.
//
// The address rule holds at connect time, on the address the host name
// resolved to, so that neither a name resolving to an internal address
// (DNS rebinding included) nor a redirect gets around it: the fetcher
// dials with its own net.Dialer, whose Control refuses the address, on a
// clone of the client's *http.Transport (a DialContext of that transport
// is not used; a DialTLSContext is, its connection checked once made).
// A host that is an IP literal or a localhost name is refused before any
// request (CheckURL). Through a proxy (the transport's Proxy, by default
// HTTPS_PROXY and the like), the connection is to the proxy, which is
// allowed whatever its address: it resolves the host and is the one to
// police the destination.
type FileFetcher struct {
	// Client makes the requests (nil: http.DefaultTransport). Its
	// CheckRedirect and Timeout are replaced by the fetcher's; its
	// Transport must be an *http.Transport (or nil), else every fetch
	// fails: the address rule could not be enforced.
	Client     *http.Client
	MaxSize    int64         // 0: DefaultMaxFetchedFile
	Timeout    time.Duration // 0: DefaultFetchTimeout
	AllowPlain bool
	// AllowPrivate lets the fetcher connect to addresses that are not
	// public (loopback, RFC 1918, unique local, CGNAT, ...: the rules of
	// NotPublic that are not Always), for peers that host their files on
	// a private network (AllowPrivateSetting).
	AllowPrivate bool

	// Tests: a resolver for host names, and addresses taken as public.
	resolver *net.Resolver
	public   func(netip.AddrPort) bool

	once      sync.Once
	transport http.RoundTripper
	buildErr  error
	proxies   sync.Map // canonical host:port of the proxies the transport chose
}

// FetchedFile is a file fetched whole.
type FetchedFile struct {
	Data        []byte
	SM3         string // hex SM3 of Data
	ContentType string
}

// FetchError is a fetch that failed for a reason that trying again will
// not change (a refused URL, an oversize file, a client-error status).
type FetchError struct{ Reason string }

func (e *FetchError) Error() string { return e.Reason }

// Permanent reports whether err is a failure a retry cannot cure.
func Permanent(err error) bool {
	var fe *FetchError
	return errors.As(err, &fe)
}

func (f *FileFetcher) maxSize() int64 {
	if f.MaxSize > 0 {
		return f.MaxSize
	}
	return DefaultMaxFetchedFile
}

// CheckURL refuses a URL the fetcher would not request.
func (f *FileFetcher) CheckURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, &FetchError{fmt.Sprintf("not a URL: %v", err)}
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !f.AllowPlain {
			return nil, &FetchError{"plain http URL refused (https only)"}
		}
	default:
		return nil, &FetchError{fmt.Sprintf("scheme %q refused (https only)", u.Scheme)}
	}
	if u.Host == "" {
		return nil, &FetchError{"URL has no host"}
	}
	if u.User != nil {
		return nil, &FetchError{"URL carries credentials"}
	}
	if err := checkHost(u.Hostname(), f.AllowPrivate); err != nil {
		return nil, err
	}
	return u, nil
}

// roundTripper is the fetcher's transport, made once.
func (f *FileFetcher) roundTripper() (http.RoundTripper, error) {
	f.once.Do(func() { f.transport, f.buildErr = f.build() })
	return f.transport, f.buildErr
}

// build clones the client's transport with the dials bounded.
func (f *FileFetcher) build() (http.RoundTripper, error) {
	var rt http.RoundTripper = http.DefaultTransport
	if f.Client != nil && f.Client.Transport != nil {
		rt = f.Client.Transport
	}
	base, ok := rt.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("fetch: the HTTP client's transport is a %T, not an *http.Transport: the addresses it connects to cannot be bounded", rt)
	}
	t := base.Clone()
	if proxy := t.Proxy; proxy != nil {
		t.Proxy = func(r *http.Request) (*url.URL, error) {
			u, err := proxy(r)
			if u != nil {
				f.proxies.Store(proxyAddr(u), true)
			}
			return u, err
		}
	}
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Resolver: f.resolver}
	t.Dial = nil
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if f.isProxy(addr) {
			return dialer.DialContext(ctx, network, addr)
		}
		d := *dialer
		host, _, _ := net.SplitHostPort(addr)
		d.ControlContext = func(_ context.Context, _, address string, _ syscall.RawConn) error {
			return f.checkAddr(host, address)
		}
		return d.DialContext(ctx, network, addr)
	}
	// A transport's own TLS dial: the connection is checked once made.
	if dialTLS := t.DialTLSContext; dialTLS != nil || t.DialTLS != nil {
		if dialTLS == nil {
			old := t.DialTLS
			dialTLS = func(_ context.Context, network, addr string) (net.Conn, error) { return old(network, addr) }
		}
		t.DialTLS = nil
		t.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialTLS(ctx, network, addr)
			if err != nil || f.isProxy(addr) {
				return c, err
			}
			host, _, _ := net.SplitHostPort(addr)
			if err := f.checkAddr(host, c.RemoteAddr().String()); err != nil {
				c.Close()
				return nil, err
			}
			return c, nil
		}
	}
	return t, nil
}

// checkAddr applies the address rule to address (ip:port), reached for
// host.
func (f *FileFetcher) checkAddr(host, address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &FetchError{fmt.Sprintf("address %q of host %s is not an IP address: refused", address, host)}
	}
	if f.public != nil && f.public(ap) {
		return nil
	}
	if err := refusedAddr(host, ap.Addr(), f.AllowPrivate); err != nil {
		return err
	}
	return nil
}

func (f *FileFetcher) isProxy(addr string) bool {
	_, ok := f.proxies.Load(addr)
	return ok
}

// proxyAddr is the address the transport dials for proxy u (as
// net/http's canonicalAddr).
func proxyAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		case "socks5", "socks5h":
			port = "1080"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// Fetch gets the file at raw whole, within the fetcher's bounds.
func (f *FileFetcher) Fetch(ctx context.Context, raw string) (*FetchedFile, error) {
	u, err := f.CheckURL(raw)
	if err != nil {
		return nil, err
	}
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = DefaultFetchTimeout
	}
	rt, err := f.roundTripper()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := http.Client{}
	if f.Client != nil {
		c = *f.Client
	}
	c.Timeout, c.Transport = 0, rt
	var redirectErr error
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := checkHost(req.URL.Hostname(), f.AllowPrivate); err != nil {
			redirectErr = &FetchError{fmt.Sprintf("redirect to %s refused: %s", req.URL.Host, err.Reason)}
			return redirectErr
		}
		switch {
		case len(via) > maxFetchRedirects:
			redirectErr = &FetchError{fmt.Sprintf("more than %d redirects", maxFetchRedirects)}
		case !strings.EqualFold(req.URL.Hostname(), u.Hostname()) || req.URL.Port() != u.Port():
			redirectErr = &FetchError{fmt.Sprintf("redirect to another host %s refused", req.URL.Host)}
		case req.URL.Scheme != u.Scheme && req.URL.Scheme != "https":
			redirectErr = &FetchError{"redirect to plain http refused"}
		}
		return redirectErr
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, &FetchError{err.Error()}
	}
	resp, err := c.Do(req)
	if err != nil {
		if redirectErr != nil {
			return nil, redirectErr
		}
		var refused *FetchError // the address rule, at connect time
		if errors.As(err, &refused) {
			return nil, refused
		}
		return nil, fmt.Errorf("fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusRequestTimeout {
			return nil, &FetchError{fmt.Sprintf("HTTP status %s", resp.Status)}
		}
		return nil, fmt.Errorf("HTTP status %s", resp.Status)
	}
	max := f.maxSize()
	if resp.ContentLength > max {
		return nil, &FetchError{fmt.Sprintf("file of %d bytes is over the limit of %d", resp.ContentLength, max)}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("fetch: reading the body: %w", err)
	}
	if int64(len(data)) > max {
		return nil, &FetchError{fmt.Sprintf("file is over the limit of %d bytes", max)}
	}
	sum := sm3.Sum(data)
	return &FetchedFile{Data: data, SM3: hex.EncodeToString(sum[:]), ContentType: resp.Header.Get("Content-Type")}, nil
}
