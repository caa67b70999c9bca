package service

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/baohan-dev/baohan/internal/httpjson"
)

// Mux is a service's HTTP routes: an http.ServeMux that remembers its
// patterns, so that they can be held against the OpenAPI document
// (/api/openapi.json). A Mux given to Routes.Admin puts every route it
// registers behind the admin token.
type Mux struct {
	r    *routeSet
	wrap func(http.Handler) http.Handler
}

type routeSet struct {
	mux      *http.ServeMux
	patterns []string
}

func newMux() *Mux { return &Mux{r: &routeSet{mux: http.NewServeMux()}} }

// Handle registers h for pattern (http.ServeMux's syntax: "GET /api/x/{id}").
func (m *Mux) Handle(pattern string, h http.Handler) {
	if m.wrap != nil {
		h = m.wrap(h)
	}
	m.r.mux.Handle(pattern, h)
	m.r.patterns = append(m.r.patterns, pattern)
}

// HandleFunc registers h for pattern.
func (m *Mux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(h))
}

// ServeHTTP implements http.Handler.
func (m *Mux) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.r.mux.ServeHTTP(w, r) }

// Patterns are the patterns registered, in order.
func (m *Mux) Patterns() []string { return slices.Clone(m.r.patterns) }

// Routes are what a service adds to the routes every service serves.
type Routes struct {
	// Admin registers the service's admin API, under /api/ and behind
	// the admin token (request bodies bounded by MaxAdminBody).
	Admin func(api *Mux)
	// Public registers routes without the admin token (the
	// institution's bidder flow and invoices).
	Public func(m *Mux)
}

// MaxAdminBody bounds the body of an admin API request.
const MaxAdminBody = 1 << 20

// Handler is the service's whole HTTP surface: the routes both services
// serve (GET /healthz, GET /readyz, GET /metrics, GET /api/openapi.json,
// and the admin API's message log and outbox), the service's own routes,
// and everything else to the protocol pipeline (<prefix>/<interface>).
func (c *Core) Handler(r Routes) *Mux {
	m := newMux()
	m.HandleFunc("GET /healthz", c.healthz)
	m.HandleFunc("GET /readyz", c.readyz)
	m.Handle("GET /metrics", promhttp.HandlerFor(c.Gatherer, promhttp.HandlerOpts{}))
	m.HandleFunc("GET /api/openapi.json", serveOpenAPI)

	api := &Mux{r: m.r, wrap: c.requireAdmin}
	c.commonAPI(api)
	if r.Admin != nil {
		r.Admin(api)
	}
	// Not a route of the document: what no pattern serves under /api/.
	m.r.mux.Handle("/api/", c.requireAdmin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpjson.Write(w, http.StatusNotFound, APIError{Error: fmt.Sprintf("no API %s %s (see /api/openapi.json)", r.Method, r.URL.Path)})
	})))
	if r.Public != nil {
		r.Public(m)
	}
	// Everything else is the protocol: <prefix>/<interface>, always JSON.
	m.r.mux.Handle("/", c.Server)
	return m
}

// requireAdmin lets through the requests with the admin token, with
// their body bounded by MaxAdminBody.
func (c *Core) requireAdmin(h http.Handler) http.Handler {
	want := []byte(c.admin)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if len(want) == 0 || !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="baohan `+c.Spec.Name+`"`)
			msg := "missing or wrong bearer token"
			if len(want) == 0 {
				msg = "the admin API is disabled: no [admin] token is configured"
			}
			httpjson.Write(w, http.StatusUnauthorized, APIError{Error: msg})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxAdminBody)
		h.ServeHTTP(w, r)
	})
}

// healthz answers whether the service runs and reaches its database.
func (c *Core) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := c.DB.PingContext(ctx); err != nil {
		httpjson.Write(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "database: " + err.Error()})
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers whether the service can take requests: its database
// reachable and every migration it knows applied.
func (c *Core) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := c.SchemaCurrent(ctx); err != nil {
		httpjson.Write(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "error": err.Error()})
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]string{"status": "ready"})
}

// SchemaCurrent returns an error unless the database is reachable and
// the store's and the service's migrations are all applied.
func (c *Core) SchemaCurrent(ctx context.Context) error {
	return SchemaCurrent(ctx, c.DB, c.Spec.Schema)
}

// APIError is the answer of the admin API to a request it does not
// fulfil, with a 4xx or 5xx status: what is wrong, and which field or
// parameter when one is.
type APIError struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}
