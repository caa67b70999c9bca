package security

import (
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/transport"
)

// TestPeerIsolation: an institution, properly authenticated with its own
// appkey, cannot read or act on another institution's application: its
// notice, key request, upload, completion, invoice, quit and give-up
// notices for that applyno are refused with code 0, and no row changes.
func TestPeerIsolation(t *testing.T) {
	const key2, secret2 = "APPKEY-OTHER-0002", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
	s := harness.Start(t, harness.Quiet(), harness.WithPlatformConfig(func(c *platform.Config) {
		c.Institutions = append(c.Institutions, platform.Institution{
			Peer:     config.Peer{Name: "另一家担保公司", AppKey: key2, AppSecret: secret2, BaseURL: "http://127.0.0.1:9", PlatformCode: "PT-OTHER"},
			Products: []platform.Product{{Name: "保函", Rate: decimal.RequireFromString("0.004")}},
		})
	}))
	applyNo := s.Issued(s.Section(time.Hour).No, 30*time.Second)
	a := s.PlatApp(applyNo)
	before := rowCounts(t, s.Plat.DB())
	other := &harness.Peer{S: s, Client: &transport.Client{Now: s.Clock.Now},
		Target: &transport.Peer{Name: "other", AppKey: key2, AppSecret: secret2, BaseURL: s.PlatDoor.URL}}
	now := protocol.FormatTime(s.Clock.Now())
	calls := map[protocol.Interface]map[string]string{
		protocol.BaohanNotice: {"applyno": applyNo, "baohanno": "OTHER-1", "instname": "另一家担保公司", "generatetime": now,
			"rate": "0.001", "cost": "1.00", "applystatus": "0"},
		protocol.DownloadPublicKey: {"applyno": applyNo},
		protocol.UploadBaohanFile: {"applyno": applyNo, "baohanno": a.BaohanNo, "filetype": "2", "index": "1",
			"baohanfile": "AAAAAAAAAAAAAAAAAAAAAA=="},
		protocol.BaohanFileCompleteNotice: {"applyno": applyNo, "baohanno": a.BaohanNo, "filetype": "2", "key": "AAAA", "iv": "AAAA",
			"baohanfilemd5": "00000000000000000000000000000000"},
		protocol.InvoiceNotice: {"baohanno": a.BaohanNo, "applystatus": "1", "invoiceurl": "https://x.example/i",
			"invoicecode": "032002400111", "invoiceno": "24322000000012345678"},
		protocol.QuitNotice:   {"applyno": applyNo, "baohanno": a.BaohanNo, "applystatus": "1", "tuibaotime": now},
		protocol.GiveupNotice: {"applyno": applyNo},
	}
	for i, f := range calls {
		r, err := other.Call(i, f)
		if err != nil {
			t.Fatalf("%s: %v", i, err)
		}
		if r.Code != 0 {
			t.Errorf("%s for another institution's applyno: code %d %q", i, r.Code, r.Message)
		}
		// refused for being another's, not for a broken field
		if !strings.Contains(r.Message, key2) && !strings.Contains(r.Message, "unknown") && !strings.Contains(r.Message, "not sent") {
			t.Errorf("%s refused for another reason: %q", i, r.Message)
		}
	}
	if d := diffCounts(before, rowCounts(t, s.Plat.DB())); d != "" {
		t.Errorf("rows changed: %s", d)
	}
	if b := s.PlatApp(applyNo); b.State != a.State || b.BaohanNo != a.BaohanNo || b.Version != a.Version {
		t.Errorf("the application moved: %s %s v%d → %s %s v%d", a.State, a.BaohanNo, a.Version, b.State, b.BaohanNo, b.Version)
	}
}
