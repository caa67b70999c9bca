package platform

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/transport"
)

// metrics are the platform's Prometheus metrics, on the service's
// registry (served at /metrics, with the outbox counts: package service).
type metrics struct {
	requests   *prometheus.CounterVec   // exchanges by direction, interface and code
	latency    *prometheus.HistogramVec // exchange latency by direction and interface
	deliveries *prometheus.CounterVec   // outbox delivery outcomes by interface
	guarantees *prometheus.CounterVec   // guarantee files accepted by filetype
	seals      *prometheus.CounterVec   // seal verifications by result
	chunkBytes prometheus.Counter
	dropped    *prometheus.CounterVec // unauthenticated records and log lines not written, by kind
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "baohan", Subsystem: "platform", Name: "requests_total",
			Help: "Protocol exchanges by direction (in: served, out: called), interface and answer code (-1: no answer).",
		}, []string{"direction", "interface", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "baohan", Subsystem: "platform", Name: "request_duration_seconds",
			Help:    "Latency of protocol exchanges by direction and interface.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"direction", "interface"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "baohan", Subsystem: "platform", Name: "deliveries_total",
			Help: "Outbox delivery attempts by interface and result (ok, refused, skipped, error).",
		}, []string{"interface", "result"}),
		guarantees: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "baohan", Subsystem: "platform", Name: "guarantees_total",
			Help: "Guarantee files accepted by filetype (1 ciphertext, 2 plaintext).",
		}, []string{"filetype"}),
		seals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "baohan", Subsystem: "platform", Name: "seal_verifications_total",
			Help: "OFD seal verifications by result.",
		}, []string{"ok"}),
		chunkBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "baohan", Subsystem: "platform", Name: "chunk_bytes_total",
			Help: "Bytes of guarantee file chunks received.",
		}),
		dropped: transport.NewDroppedCounter(),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.deliveries, m.guarantees, m.seals, m.chunkBytes, m.dropped} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// ObserveExchange counts one exchange (transport.Metrics, of the
// service's server and client). The interface label is "unknown" for a
// path that is none of the spec's interfaces: the caller chooses it.
func (m *metrics) ObserveExchange(e *protocol.Exchange) {
	iface := transport.KnownInterface(e.Interface)
	m.requests.WithLabelValues(e.Direction, iface, strconv.Itoa(e.Code)).Inc()
	m.latency.WithLabelValues(e.Direction, iface).Observe(e.Latency.Seconds())
}

// ObserveDropped counts a message log record or a log line of an
// unauthenticated request that its budget dropped (transport.DropMetrics).
func (m *metrics) ObserveDropped(kind string) { m.dropped.WithLabelValues(kind).Inc() }
