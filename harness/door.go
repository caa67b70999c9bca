package harness

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Fault is what a Door does to a request instead of (or besides)
// passing it to the service behind it.
type Fault int

// The faults a peer can show.
const (
	Pass        Fault = iota
	Unreachable       // the connection is cut before any answer
	Slow              // served, but the answer comes after Door.SlowFor (past the caller's timeout)
	HTTP500           // "500 Internal Server Error", text body, not served
	Garbage           // HTTP 200 with bytes that are not JSON, not served
	Code0             // HTTP 200 {"code":0,...}, not served
	Hold              // served only when Release is called (or the door closes)
)

func (f Fault) String() string {
	return [...]string{"pass", "unreachable", "slow", "http500", "garbage", "code0", "hold"}[f]
}

// Exchange is one HTTP request through a Door and its answer.
type Exchange struct {
	Door     string    // the door's name: the service it is in front of
	At       time.Time // wall clock when the request arrived
	Elapsed  time.Duration
	Method   string
	Path     string
	Request  []byte
	Status   int
	Response []byte
	Fault    Fault
	// TLSVersion and TLSSuite of the connection (0 for plain HTTP).
	TLSVersion, TLSSuite uint16
}

// Door is the front of a service: a listener on 127.0.0.1 whose URL
// outlives restarts of the service behind it, which records every
// exchange, tells its observers (Subscribe) and injects faults per
// interface.
type Door struct {
	Name string
	URL  string
	// SlowFor is how long a Slow answer is held (default 2s).
	SlowFor time.Duration
	// Bare passes every request straight to the service: nothing is
	// recorded, observed, counted or faulted (for load measurements).
	Bare bool
	// Forget keeps no record (Exchanges is empty); observers still see
	// every exchange (for a long-running demo).
	Forget bool

	ln      net.Listener
	srv     *http.Server
	handler atomic.Pointer[http.Handler]

	mu      sync.Mutex
	faults  map[string][]Fault // by path suffix (interface name), consumed in order
	always  map[string]Fault
	log     []Exchange
	held    chan struct{}
	holding int
	hits    map[string]int
	holdIf  map[string]func(body []byte) bool
	subs    []func(Exchange)
}

// NewDoor listens on 127.0.0.1:0.
func NewDoor(name string) (*Door, error) { return NewTLSDoor(name, nil) }

// NewTLSDoor listens on 127.0.0.1:0 with TLS when tc is not nil (the URL
// is then https://).
func NewTLSDoor(name string, tc *tls.Config) (*Door, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	scheme := "http://"
	if tc != nil {
		ln = tls.NewListener(ln, tc)
		scheme = "https://"
	}
	d := &Door{Name: name, URL: scheme + ln.Addr().String(), ln: ln, faults: map[string][]Fault{},
		always: map[string]Fault{}, held: make(chan struct{}), hits: map[string]int{}}
	d.srv = &http.Server{Handler: d, ReadHeaderTimeout: 10 * time.Second}
	go d.srv.Serve(ln)
	return d, nil
}

// Close stops the door.
func (d *Door) Close() {
	d.Release()
	d.srv.Close()
}

// Set puts h behind the door (nil: every request is answered 503).
func (d *Door) Set(h http.Handler) {
	if h == nil {
		d.handler.Store(nil)
		return
	}
	d.handler.Store(&h)
}

// Inject makes the next requests to interface name (the last path
// element) meet the faults, one each, in order.
func (d *Door) Inject(name string, faults ...Fault) {
	d.mu.Lock()
	d.faults[name] = append(d.faults[name], faults...)
	d.mu.Unlock()
}

// HoldIf holds the first request to name whose body satisfies pred (once).
func (d *Door) HoldIf(name string, pred func(body []byte) bool) {
	d.mu.Lock()
	if d.holdIf == nil {
		d.holdIf = map[string]func([]byte) bool{}
	}
	d.holdIf[name] = pred
	d.mu.Unlock()
}

// Always makes every request to name meet f until Always(name, Pass).
func (d *Door) Always(name string, f Fault) {
	d.mu.Lock()
	if f == Pass {
		delete(d.always, name)
	} else {
		d.always[name] = f
	}
	d.mu.Unlock()
}

// Release lets every held request through and stops holding.
func (d *Door) Release() {
	d.mu.Lock()
	close(d.held)
	d.held = make(chan struct{})
	d.mu.Unlock()
}

// Holding returns how many requests are held now.
func (d *Door) Holding() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.holding
}

// Hits returns how many requests reached interface name (faulted or not).
func (d *Door) Hits(name string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.hits[name]
}

// Subscribe calls fn with each exchange once it is answered (from the
// serving goroutine).
func (d *Door) Subscribe(fn func(Exchange)) {
	d.mu.Lock()
	d.subs = append(d.subs, fn)
	d.mu.Unlock()
}

// Exchanges returns a copy of the record.
func (d *Door) Exchanges() []Exchange {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Exchange(nil), d.log...)
}

func (d *Door) next(name string, body []byte) Fault {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.hits[name]++
	if pred := d.holdIf[name]; pred != nil && pred(body) {
		delete(d.holdIf, name)
		return Hold
	}
	if q := d.faults[name]; len(q) > 0 {
		d.faults[name] = q[1:]
		return q[0]
	}
	return d.always[name]
}

// ServeHTTP implements http.Handler.
func (d *Door) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if d.Bare {
		d.serve(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	name := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	ex := Exchange{Door: d.Name, At: time.Now(), Method: r.Method, Path: r.URL.Path, Request: body}
	if r.TLS != nil {
		ex.TLSVersion, ex.TLSSuite = r.TLS.Version, r.TLS.CipherSuite
	}
	f := d.next(name, body)
	ex.Fault = f
	rec := &recorder{ResponseWriter: w, status: 200}
	switch f {
	case Unreachable:
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
			}
		}
		ex.Status = -1
		d.record(ex)
		return
	case HTTP500:
		http.Error(rec, "Internal Server Error", http.StatusInternalServerError)
	case Garbage:
		rec.Header().Set("Content-Type", "text/html")
		rec.Write([]byte("<html><body>502 Bad Gateway</body></html>\x00\xff"))
	case Code0:
		rec.Header().Set("Content-Type", "application/json")
		rec.Write([]byte(`{"code":0,"message":"system busy, try again later","data":{}}`))
	case Hold:
		d.mu.Lock()
		ch := d.held
		d.holding++
		d.mu.Unlock()
		select {
		case <-ch:
		case <-r.Context().Done():
		}
		d.mu.Lock()
		d.holding--
		d.mu.Unlock()
		d.serve(rec, r)
	case Slow:
		buf := &bufferWriter{h: http.Header{}}
		d.serve(buf, r)
		wait := d.SlowFor
		if wait <= 0 {
			wait = 2 * time.Second
		}
		select {
		case <-time.After(wait):
		case <-r.Context().Done():
		}
		for k, v := range buf.h {
			rec.Header()[k] = v
		}
		rec.WriteHeader(buf.status)
		rec.Write(buf.b.Bytes())
	default:
		d.serve(rec, r)
	}
	ex.Status, ex.Response = rec.status, rec.b.Bytes()
	d.record(ex)
}

func (d *Door) serve(w http.ResponseWriter, r *http.Request) {
	h := d.handler.Load()
	if h == nil {
		http.Error(w, d.Name+" is down", http.StatusServiceUnavailable)
		return
	}
	(*h).ServeHTTP(w, r)
}

func (d *Door) record(ex Exchange) {
	ex.Elapsed = time.Since(ex.At)
	d.mu.Lock()
	if !d.Forget {
		d.log = append(d.log, ex)
	}
	subs := slices.Clone(d.subs)
	d.mu.Unlock()
	for _, fn := range subs {
		fn(ex)
	}
}

type recorder struct {
	http.ResponseWriter
	status int
	b      bytes.Buffer
	wrote  bool
}

func (r *recorder) WriteHeader(s int) {
	if !r.wrote {
		r.status, r.wrote = s, true
	}
	r.ResponseWriter.WriteHeader(s)
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wrote = true
	r.b.Write(p)
	return r.ResponseWriter.Write(p)
}

type bufferWriter struct {
	h      http.Header
	status int
	b      bytes.Buffer
}

func (b *bufferWriter) Header() http.Header { return b.h }
func (b *bufferWriter) WriteHeader(s int) {
	if b.status == 0 {
		b.status = s
	}
}
func (b *bufferWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = 200
	}
	return b.b.Write(p)
}
