package institution

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/transport"
)

// metrics are the service's Prometheus series, all prefixed
// baohan_institution_.
type metrics struct {
	inbound         *prometheus.CounterVec // interface, outcome (ok|refused|error)
	outbound        *prometheus.CounterVec // interface, outcome (ok|refused|error)
	transitions     *prometheus.CounterVec // from, to
	bidder          *prometheus.CounterVec // step, outcome
	chunksEnqueued  prometheus.Counter
	chunksDelivered prometheus.Counter
	claims          prometheus.Counter
	dropped         *prometheus.CounterVec // kind: unauthenticated records and log lines not written
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		inbound: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "baohan_institution_requests_total",
			Help: "Requests served to platforms, by interface and outcome."}, []string{"interface", "outcome"}),
		outbound: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "baohan_institution_calls_total",
			Help: "Calls made to platforms by the outbox, by interface and outcome."}, []string{"interface", "outcome"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "baohan_institution_transitions_total",
			Help: "Application state changes."}, []string{"from", "to"}),
		bidder: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "baohan_institution_bidder_steps_total",
			Help: "Bidder steps behind the redirecturl, by step and outcome."}, []string{"step", "outcome"}),
		chunksEnqueued: prometheus.NewCounter(prometheus.CounterOpts{Name: "baohan_institution_chunks_enqueued_total",
			Help: "Guarantee file chunks put in the outbox."}),
		chunksDelivered: prometheus.NewCounter(prometheus.CounterOpts{Name: "baohan_institution_chunks_delivered_total",
			Help: "Guarantee file chunks acknowledged by platforms."}),
		claims: prometheus.NewCounter(prometheus.CounterOpts{Name: "baohan_institution_claims_total",
			Help: "Claims (claimsnotice) recorded."}),
		dropped: transport.NewDroppedCounter(),
	}
	for _, c := range []prometheus.Collector{m.inbound, m.outbound, m.transitions, m.bidder, m.chunksEnqueued, m.chunksDelivered, m.claims, m.dropped} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// ObserveExchange implements transport.Metrics for the server: nothing,
// the handlers count the requests they serve (inbound, by the
// interface they are registered for).
func (m *metrics) ObserveExchange(*protocol.Exchange) {}

// ObserveDropped counts a message log record or a log line of an
// unauthenticated request that its budget dropped (transport.DropMetrics).
func (m *metrics) ObserveDropped(kind string) { m.dropped.WithLabelValues(kind).Inc() }

// outboundCount reads a counter (tests and diagnostics).
func (m *metrics) outboundCount(iface, outcome string) float64 {
	var out dto.Metric
	if err := m.outbound.WithLabelValues(iface, outcome).Write(&out); err != nil {
		return 0
	}
	return out.GetCounter().GetValue()
}
