package platform

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestMetricsLabelsBounded: the interface label of
// baohan_platform_requests_total and _request_duration_seconds is one of
// the spec's interfaces or "unknown", whatever path a caller posts to
// (the label set stays bounded); requests whose record the
// unauthenticated budget drops are still counted, and what it drops is
// counted in baohan_unauthenticated_dropped_total.
func TestMetricsLabelsBounded(t *testing.T) {
	e := newEnv(t, "", func(c *Config) { c.Listen.UnauthenticatedLogPerAddress = 1 }) // a byte a day: every record is dropped
	const n = 25
	for i := range n {
		res, err := http.Post(fmt.Sprintf("%s/no-such-interface-%d", e.srv.URL, i), "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	res, err := http.Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	body := string(b)
	if strings.Contains(body, "no-such-interface") {
		t.Error("a metric is labelled with a path the caller chose")
	}
	for _, want := range []struct {
		re   string
		want int
	}{
		{`baohan_platform_requests_total\{code="0",direction="in",interface="unknown"\} (\d+)`, n},
		{`baohan_platform_request_duration_seconds_count\{direction="in",interface="unknown"\} (\d+)`, n},
		{`baohan_unauthenticated_dropped_total\{kind="record"\} (\d+)`, n},
	} {
		m := regexp.MustCompile(`(?m)^` + want.re + `$`).FindStringSubmatch(body)
		if m == nil {
			t.Errorf("/metrics lacks %s", want.re)
			continue
		}
		if got, _ := strconv.Atoi(m[1]); got != want.want {
			t.Errorf("%s: %d, want %d", want.re, got, want.want)
		}
	}
}
