package issues

import (
	"reflect"
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/platform"
)

// TestInstitutionOutboxLeaseConfigurable: an outbox delivery is claimed
// under a lease, and a restarted process cannot tell its dead
// predecessor's claims from a live replica's, so it waits for them to
// expire. The platform's lease is a setting (outbox.lease); the
// institution's is not: it is the dispatcher's default, 2 minutes. An
// institution killed (SIGKILL, OOM, power) while a chunk upload or a
// baohannotice is in flight therefore holds that application's uploads
// back for up to 2 minutes after it is back (test/reliability's kill
// tests expire the lease by hand to stay short). The institution needs
// outbox.lease like the platform (its calls time out in 30s by default,
// so a lease of a minute is enough for one replica).
func TestInstitutionOutboxLeaseConfigurable(t *testing.T) {
	has := func(v any, key string) bool {
		rt := reflect.TypeOf(v)
		for i := 0; i < rt.NumField(); i++ {
			if strings.Split(rt.Field(i).Tag.Get("toml"), ",")[0] == key {
				return true
			}
		}
		return false
	}
	if !has(platform.Config{}.Outbox, "lease") {
		t.Fatal("control: the platform's outbox has no lease setting any more")
	}
	if !has(institution.Config{}.Outbox, "lease") {
		t.Error("the institution's [outbox] has no lease setting: after a crash, deliveries in flight wait the dispatcher's default 2 minutes")
	}
}
