package platform

import (
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

// TestOwnRequestPostedBackIsReplay: one appsecret signs both directions
// and the sign does not cover the interface, so a request the platform
// sent is validly signed for the platform too. Its sign is in the
// platform's replay store from the moment it is sent: posted back (here
// the platform's own baohanapply to its giveupnotice, which would give
// the application up), it is refused as a replay.
func TestOwnRequestPostedBackIsReplay(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		a := e.applied(e.section(time.Hour))
		sent := e.inst.received(protocol.BaohanApply, a.ApplyNo)
		if len(sent) != 1 || sent[0].Fields["sign"] == "" {
			t.Fatalf("baohanapply as the institution got it: %+v", sent)
		}
		r := e.sendRaw(protocol.GiveupNotice, protocol.MarshalFields(sent[0].Fields))
		if r.Code != 0 || !strings.HasPrefix(r.Message, "replayed request") {
			t.Fatalf("own baohanapply posted to giveupnotice: code %d %q; want refused as a replay", r.Code, r.Message)
		}
		e.wantState(a.ApplyNo, Applied)
	})
}
