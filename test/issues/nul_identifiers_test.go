package issues

import (
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store/storetest"
)

// TestNULInIdentifiersRefused: a NUL (or other C0 control) byte in
// applyno or baohanno passes every field rule. On SQLite the institution
// stores the application under "a\x00b" and answers code 1; on
// PostgreSQL, whose TEXT cannot hold NUL, the insert fails and the peer
// gets "internal error; try again later" — so its outbox retries forever
// a request that can never succeed. Identifiers with control characters
// must be refused at the door with code 0 naming the field (protocol's
// field rules), on both databases alike.
func TestNULInIdentifiersRefused(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			o := []harness.Option{harness.Quiet()}
			if db == "postgres" {
				o = append(o, harness.WithInstitutionDB(storetest.FreshSchema(t)))
				o = append(o, harness.WithPlatformDB(storetest.FreshSchema(t)))
			}
			s := harness.Start(t, o...)
			for _, id := range []string{"BH\x00001", "BH\x1b[2J001", "BH\r\nX-Injected: 1"} {
				f, err := s.ApplyFields(id, gm.NewKey())
				if err != nil {
					t.Fatal(err)
				}
				r, err := s.AsPlatform().Call(protocol.BaohanApply, f)
				if err != nil {
					t.Fatal(err)
				}
				if r.Code != 0 || !strings.Contains(r.Message, "applyno") {
					t.Errorf("baohanapply with applyno %q: code %d %q; want code 0 naming applyno", id, r.Code, r.Message)
				}
				applyNo := s.Apply(s.Section(time.Hour).No)
				s.Token(applyNo, 10*time.Second)
				r, err = s.AsInstitution().Call(protocol.BaohanNotice, map[string]string{"applyno": applyNo, "baohanno": id,
					"instname": harness.InstitutionName, "generatetime": protocol.FormatTime(s.Clock.Now()), "rate": "0.005",
					"cost": "4000.00", "applystatus": "1"})
				if err != nil {
					t.Fatal(err)
				}
				if r.Code != 0 || !strings.Contains(r.Message, "baohanno") {
					t.Errorf("baohannotice with baohanno %q: code %d %q; want code 0 naming baohanno", id, r.Code, r.Message)
				}
			}
		})
	}
}
