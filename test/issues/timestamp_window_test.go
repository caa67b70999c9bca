package issues

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/protocol"
)

// TestInstitutionTimestampWindowApplies: the institution's top-level
// timestamp_window (the accepted clock skew, and how long a sign is
// remembered against replays) was read and ignored: a platform's request
// signed 5 minutes ago passed an institution configured for 1 minute,
// which kept the default 10. It is every platform's window now, unless
// the platform sets its own. The setting is given through the
// environment (BAOHAN_INSTITUTION_TIMESTAMP_WINDOW), as an operator
// would, so that the test reads the key by its name.
func TestInstitutionTimestampWindowApplies(t *testing.T) {
	t.Setenv("BAOHAN_INSTITUTION_TIMESTAMP_WINDOW", "1m")
	s := harness.Start(t, harness.Quiet(), harness.WithInstitutionConfig(func(c *institution.Config) {
		if err := config.ApplyEnv(institution.EnvPrefix, c); err != nil {
			t.Fatal(err)
		}
	}))
	send := func(age time.Duration) protocol.Response {
		f := map[string]string{"appkey": harness.AppKey, "timestamp": protocol.FormatTime(s.Clock.Now().Add(-age)),
			"applyno": "BH20260101ZZZZZZZZZZZZ", "platformcode": harness.PlatformCode}
		f["sign"] = protocol.Sign(f, harness.AppSecret)
		res, err := http.Post(s.InstDoor.URL+"/giveupapply", "application/json", strings.NewReader(string(protocol.MarshalFields(f))))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var r protocol.Response
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("answer %s: %v", b, err)
		}
		return r
	}
	if r := send(10 * time.Second); strings.Contains(r.Message, "timestamp") {
		t.Fatalf("control: a fresh request refused for its timestamp: %+v", r)
	}
	if r := send(5 * time.Minute); r.Code != 0 || !strings.Contains(r.Message, "timestamp") {
		t.Errorf("a request signed 5 minutes ago, timestamp_window 1m: %+v, want a refusal naming the timestamp", r)
	}
}
