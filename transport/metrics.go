package transport

import (
	"strconv"

	"github.com/baohan-dev/baohan/protocol"

	"github.com/prometheus/client_golang/prometheus"
)

// PrometheusMetrics counts exchanges and their latency:
// baohan_exchanges_total{interface,direction,code,status} and
// baohan_exchange_seconds{interface,direction}. Sign failures are counted
// apart in baohan_sign_failures_total{interface,peer}, and what the
// unauthenticated budget dropped in
// baohan_unauthenticated_dropped_total{kind} (kind record or line).
type PrometheusMetrics struct {
	exchanges    *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	signFailures *prometheus.CounterVec
	dropped      *prometheus.CounterVec
}

// NewPrometheusMetrics creates the collectors and registers them with reg
// (nil: not registered; use Collectors).
func NewPrometheusMetrics(reg prometheus.Registerer) (*PrometheusMetrics, error) {
	m := &PrometheusMetrics{
		exchanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "baohan_exchanges_total",
			Help: "Protocol exchanges by interface, direction (in/out), answer code (1, 0, -1 for none) and HTTP status (0 for none).",
		}, []string{"interface", "direction", "code", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "baohan_exchange_seconds",
			Help:    "Time from request to answer.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"interface", "direction"}),
		signFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "baohan_sign_failures_total",
			Help: "Inbound requests refused for a wrong sign, by interface and peer.",
		}, []string{"interface", "peer"}),
		dropped: NewDroppedCounter(),
	}
	if reg != nil {
		for _, c := range m.Collectors() {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// NewDroppedCounter returns the counter
// baohan_unauthenticated_dropped_total{kind}, of what the unauthenticated
// budget dropped (DropMetrics.ObserveDropped(kind) increments it), for a
// service that counts its exchanges its own way.
func NewDroppedCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "baohan_unauthenticated_dropped_total",
		Help: "Message log records (kind record) and log lines (kind line) of unauthenticated requests not written: over the budget of their address or of all addresses.",
	}, []string{"kind"})
}

// KnownInterface is iface when it is one of the spec's interfaces, else
// "unknown": what a metric label of an inbound exchange may be, since the
// path (and so the exchange's Interface) is the caller's choice.
func KnownInterface(iface string) string {
	if _, ok := protocol.Lookup(iface); !ok {
		return "unknown"
	}
	return iface
}

// Collectors returns the collectors, to register elsewhere.
func (m *PrometheusMetrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.exchanges, m.latency, m.signFailures, m.dropped}
}

// ObserveExchange implements Metrics.
func (m *PrometheusMetrics) ObserveExchange(e *protocol.Exchange) {
	iface := KnownInterface(e.Interface) // paths are the peer's choice: bound the label values
	m.exchanges.WithLabelValues(iface, e.Direction, strconv.Itoa(e.Code), strconv.Itoa(e.HTTPStatus)).Inc()
	m.latency.WithLabelValues(iface, e.Direction).Observe(e.Latency.Seconds())
	if e.Direction == protocol.Inbound && !e.SignOK && e.Diagnosis != "" {
		m.signFailures.WithLabelValues(iface, e.Peer).Inc()
	}
}

// ObserveDropped implements DropMetrics.
func (m *PrometheusMetrics) ObserveDropped(kind string) { m.dropped.WithLabelValues(kind).Inc() }
