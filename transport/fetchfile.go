package transport

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
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
// under listen.plain_http), a time limit, a size limit, and redirects only
// to the same host over the same or a stronger scheme.
type FileFetcher struct {
	// Client makes the requests (nil: http.DefaultTransport). Its
	// CheckRedirect and Timeout are replaced by the fetcher's.
	Client     *http.Client
	MaxSize    int64         // 0: DefaultMaxFetchedFile
	Timeout    time.Duration // 0: DefaultFetchTimeout
	AllowPlain bool
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
	return u, nil
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
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := http.Client{}
	if f.Client != nil {
		c = *f.Client
	}
	c.Timeout = 0
	var redirectErr error
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
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
