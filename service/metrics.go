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

// newListeningGauge is baohan_<service>_outbox_listening (PostgreSQL):
// 1 while the dispatcher listens for the other replicas' enqueues, 0
// while it reconnects (it polls meanwhile) or does not run.
func newListeningGauge(service string, d *store.Dispatcher) prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "baohan_" + service + "_outbox_listening",
		Help: "1 while the outbox dispatcher listens for the enqueues of the other processes on the PostgreSQL database (LISTEN/NOTIFY), 0 while it reconnects or does not run (it polls meanwhile).",
	}, func() float64 {
		if d.Listening() {
			return 1
		}
		return 0
	})
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
