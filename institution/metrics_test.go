package institution

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestMetricsDroppedUnauthenticated: what the unauthenticated budget of
// an address drops (message log records, log lines) is counted in
// baohan_unauthenticated_dropped_total, and no metric takes a label from
// a path the caller chose.
func TestMetricsDroppedUnauthenticated(t *testing.T) {
	e := newEnv(t, false, func(c *Config) { c.Listen.UnauthenticatedLogPerAddress = 1 }) // a byte a day: every record is dropped
	const n = 20
	for i := range n {
		res, err := http.Post(fmt.Sprintf("%s/no-such-interface-%d", e.srv.URL, i), "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	var body []byte
	if code := e.bidderDo("GET", "/metrics", nil, &body); code != 200 {
		t.Fatalf("metrics: %d", code)
	}
	m := regexp.MustCompile(`(?m)^baohan_unauthenticated_dropped_total\{kind="record"\} (\d+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("metrics lack baohan_unauthenticated_dropped_total{kind=\"record\"}:\n%s", body)
	}
	if got, _ := strconv.Atoi(string(m[1])); got != n {
		t.Errorf("%d records dropped, want %d", got, n)
	}
	if strings.Contains(string(body), "no-such-interface") {
		t.Error("a metric is labelled with a path the caller chose")
	}
}
