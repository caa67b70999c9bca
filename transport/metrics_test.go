package transport

import (
	"testing"
	"time"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/prometheus/client_golang/prometheus"
)

func TestPrometheusMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewPrometheusMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	f.srv.Metrics = m
	f.do(t, "POST", "/baohan/baohannotice", signed(noticeFields(), testSecret))
	f.do(t, "POST", "/baohan/baohannotice", signed(noticeFields(), "x"))
	f.do(t, "POST", "/baohan/attacker-chosen-name", nil)
	f.do(t, "GET", "/baohan/baohannotice", nil)

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, mm := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range mm.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case mm.Counter != nil:
				got[key] = mm.Counter.GetValue()
			case mm.Histogram != nil:
				got[key] = float64(mm.Histogram.GetSampleCount())
			}
		}
	}
	want := map[string]float64{
		"baohan_exchanges_total,code=1,direction=in,interface=baohannotice,status=200": 1,
		"baohan_exchanges_total,code=0,direction=in,interface=baohannotice,status=200": 1,
		"baohan_exchanges_total,code=0,direction=in,interface=unknown,status=404":      1,
		"baohan_exchanges_total,code=0,direction=in,interface=baohannotice,status=405": 1,
		"baohan_exchange_seconds,direction=in,interface=baohannotice":                  3,
		"baohan_sign_failures_total,interface=baohannotice,peer=建行南京分行":                1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if len(got) != len(want)+1 { // + the histogram of "unknown"
		t.Errorf("series: %v", got)
	}
	if _, err := NewPrometheusMetrics(reg); err == nil {
		t.Error("registering twice succeeded")
	}
}

func TestDefaultProfile(t *testing.T) {
	p := DefaultProfile()
	if p.SM2Layout != gm.C1C3C2 || p.FileDigest != gm.SM3 || p.ChunkSize != 512<<10 || p.IndexBase != 1 || p.TimestampWindow != 10*time.Minute {
		t.Fatalf("%+v", p)
	}
	if (Profile{}).Window() != protocol.DefaultTimestampWindow {
		t.Fatal("zero window")
	}
}
