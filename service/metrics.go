package service

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/baohan-dev/baohan/store"
)

// NewRegistry is a fresh registry with the Go and process collectors: a
// service's own unless WithMetrics gives another.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// outboxCollector reads the outbox counts at scrape time:
// baohan_<service>_outbox_messages{state}.
type outboxCollector struct {
	db   *store.DB
	desc *prometheus.Desc
}

func newOutboxCollector(service string, db *store.DB) *outboxCollector {
	return &outboxCollector{db: db, desc: prometheus.NewDesc("baohan_"+service+"_outbox_messages",
		"Outbox messages by state (pending, delivering, failed, dead, done).", []string{"state"}, nil)}
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
