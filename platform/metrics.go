package platform

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

// metrics are the platform's Prometheus metrics, on the service's own
// registry (served at /metrics).
type metrics struct {
	requests   *prometheus.CounterVec   // exchanges by direction, interface and code
	latency    *prometheus.HistogramVec // exchange latency by direction and interface
	deliveries *prometheus.CounterVec   // outbox delivery outcomes by interface
	guarantees *prometheus.CounterVec   // guarantee files accepted by filetype
	seals      *prometheus.CounterVec   // seal verifications by result
	chunkBytes prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, db *store.DB) *metrics {
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
	}
	reg.MustRegister(m.requests, m.latency, m.deliveries, m.guarantees, m.seals, m.chunkBytes)
	reg.MustRegister(&outboxCollector{db: db, desc: prometheus.NewDesc("baohan_platform_outbox_messages",
		"Outbox messages by state (pending, delivering, failed, dead, done).", []string{"state"}, nil)})
	return m
}

// observe counts one exchange.
func (m *metrics) observe(e *protocol.Exchange) {
	m.requests.WithLabelValues(e.Direction, e.Interface, strconv.Itoa(e.Code)).Inc()
	m.latency.WithLabelValues(e.Direction, e.Interface).Observe(e.Latency.Seconds())
}

// outboxCollector reads the outbox counts at scrape time.
type outboxCollector struct {
	db   *store.DB
	desc *prometheus.Desc
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.db.OutboxCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for st, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), string(st))
	}
}

// defaultRegistry is a fresh registry with the Go and process collectors.
func defaultRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
