package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

// Poster posts ready request bodies to a peer's interfaces over
// keep-alive connections, as many as clients, and checks the answer:
// HTTP 200 and code 1.
type Poster struct {
	HTTP *http.Client
}

// NewPoster returns a Poster whose transport keeps up to clients idle
// connections to one host (net/http keeps two by default, which would
// make most clients reconnect for every request).
func NewPoster(clients int) *Poster {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        clients * 2,
		MaxIdleConnsPerHost: clients * 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &Poster{HTTP: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}
}

// Close closes the idle connections.
func (p *Poster) Close() { p.HTTP.CloseIdleConnections() }

// AnswerError is an answer that is not code 1.
type AnswerError struct {
	Status  int
	Code    int
	Message string
}

func (e *AnswerError) Error() string {
	if e.Status != http.StatusOK {
		return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("code %d: %s", e.Code, e.Message)
}

// Post sends body to url and returns the answer; an error unless HTTP 200
// with code 1.
func (p *Poster) Post(ctx context.Context, url string, body []byte) (*protocol.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	res, err := p.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, &AnswerError{Status: res.StatusCode, Message: string(clipBytes(b, 200))}
	}
	r, err := protocol.ParseResponse(b)
	if err != nil {
		return nil, err
	}
	if r.Code != protocol.CodeOK {
		return r, &AnswerError{Status: res.StatusCode, Code: r.Code, Message: r.Message}
	}
	return r, nil
}

func clipBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// SignedBody returns the JSON body of a request as a peer sends it: the
// fields plus appkey and timestamp, signed with secret.
func SignedBody(fields map[string]string, appkey, secret string, now time.Time) []byte {
	f := make(map[string]string, len(fields)+3)
	for k, v := range fields {
		f[k] = v
	}
	f["appkey"] = appkey
	if f["timestamp"] == "" {
		f["timestamp"] = protocol.FormatTime(now)
	}
	delete(f, protocol.SignField)
	f[protocol.SignField] = protocol.Sign(f, secret)
	return protocol.MarshalFields(f)
}

// LocalServer is an HTTP server on 127.0.0.1 with a random port.
type LocalServer struct {
	URL string
	ln  net.Listener
	srv *http.Server
	err chan error
}

// ServeLocal serves h on 127.0.0.1:0.
func ServeLocal(h http.Handler) (*LocalServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &LocalServer{URL: "http://" + ln.Addr().String(), ln: ln,
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, err: make(chan error, 1)}
	go func() { s.err <- s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the server at once (connections in flight are cut).
func (s *LocalServer) Close() error {
	err := s.srv.Close()
	if serr := <-s.err; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
