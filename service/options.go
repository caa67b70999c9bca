package service

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/store"
)

// Option configures a service's New (platform.New, institution.New): the
// options every service takes are here; a service adds its own with Own.
type Option func(*Options)

// Options are what the Options of a New set. The zero value of a field
// means its default.
type Options struct {
	Now        func() time.Time      // default time.Now
	Logger     *slog.Logger          // default slog.Default()
	HTTP       *http.Client          // default NewHTTPClient
	Registerer prometheus.Registerer // default: a registry of the service's own, with Gatherer
	Gatherer   prometheus.Gatherer
	DB         *store.DB // with MasterKey: an open database, not closed by Close
	MasterKey  *gm.MasterKey
	Blobs      store.Blobs    // default: storage.blobs
	Owner      string         // the dispatcher's name in the outbox leases
	Backoff    *store.Backoff // default: from [outbox]

	own []any
}

// Apply applies opts over the defaults.
func Apply(opts []Option) Options {
	o := Options{Now: time.Now, Logger: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Own wraps a service's own option (institution.WithDocuments, ...): the
// service finds it again with OwnOptions.
func Own(v any) Option { return func(o *Options) { o.own = append(o.own, v) } }

// OwnOptions returns the values of type T given with Own, in order.
func OwnOptions[T any](o Options) []T {
	var out []T
	for _, v := range o.own {
		if t, ok := v.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// WithClock sets the clock (default time.Now): timestamps, the timestamp
// window, the outbox schedule and the service's own rules read it.
func WithClock(now func() time.Time) Option { return func(o *Options) { o.Now = now } }

// WithLogger sets the structured logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *Options) { o.Logger = l } }

// WithHTTPClient sets the client of the calls to peers (default
// NewHTTPClient).
func WithHTTPClient(c *http.Client) Option { return func(o *Options) { o.HTTP = c } }

// WithMetrics registers the service's metrics on r and serves g at
// /metrics (default: a registry of the service's own with the Go and
// process collectors).
func WithMetrics(r prometheus.Registerer, g prometheus.Gatherer) Option {
	return func(o *Options) { o.Registerer, o.Gatherer = r, g }
}

// WithRegistry is WithMetrics(r, r); nil keeps the default.
func WithRegistry(r *prometheus.Registry) Option {
	if r == nil {
		return func(*Options) {}
	}
	return WithMetrics(r, r)
}

// WithStore uses an open database and master key instead of opening
// [storage]; Close then leaves the database open.
func WithStore(db *store.DB, mk *gm.MasterKey) Option {
	return func(o *Options) { o.DB, o.MasterKey = db, mk }
}

// WithBlobs sets the blob store (default: storage.blobs).
func WithBlobs(b store.Blobs) Option { return func(o *Options) { o.Blobs = b } }

// WithDispatcherOwner names this process in the outbox leases (default
// host:pid:random).
func WithDispatcherOwner(owner string) Option { return func(o *Options) { o.Owner = owner } }

// WithBackoff sets the outbox retry policy (default from [outbox]).
func WithBackoff(b store.Backoff) Option { return func(o *Options) { o.Backoff = &b } }
