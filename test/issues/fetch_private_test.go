package issues

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/service"
)

// TestPeerFilesNotFetchedFromPrivateAddresses (SSRF): the files a peer
// names by URL (a claim's filelist at the institution, a claim outcome's
// transferfilelist at the platform) are not fetched from an address of
// the service's own network unless [fetch] allow_private_addresses says
// so: by default a file server on loopback, named by its address or as
// localhost, is never reached, and each file fails for good with a
// reason naming the address, the rule and the setting.
func TestPeerFilesNotFetchedFromPrivateAddresses(t *testing.T) {
	var hits atomic.Int32
	files := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte("%PDF-1.4 内网文件"))
	}))
	defer files.Close()
	// Both services trust the file server's certificate: only the
	// address keeps them from it.
	client := &http.Client{Transport: files.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	s := claimStack(t, "sqlite", true, true, harness.WithPlatformOptions(platform.WithHTTPClient(client)),
		harness.WithInstitutionOptions(institution.WithHTTPClient(client)))
	ctx := context.Background()
	byName := strings.Replace(files.URL, "127.0.0.1", "localhost", 1)

	// The claim's filelist, fetched by the institution.
	applyNo := s.Issued(s.Section(time.Hour).No, 30*time.Second)
	claimFiles := []string{files.URL + "/claim.pdf", byName + "/evidence.pdf"}
	if _, err := s.Plat.Claim(ctx, applyNo, platform.ClaimInput{PayerAccount: "32001881236052500123",
		PayerAmount: decimal.RequireFromString("300000.00"), ApplyUserName: "江苏华信招标代理有限公司 周敏", ApplyUserPhone: "025-86660123",
		Reason: "中标人无正当理由拒绝签订合同", FileList: claimFiles}); err != nil {
		t.Fatal(err)
	}
	s.WaitPlat(applyNo, platform.Claimed, 15*time.Second)
	var claim *institution.Claim
	// (The certificate does not name localhost: waiting for the first.)
	s.Eventually("the claim's files tried", 20*time.Second, func() bool {
		list, err := s.Inst.Claims(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range list {
			if c.ApplyNo == applyNo && len(c.FileStatus) == 2 && c.FileStatus[0].Status != service.FilePending {
				claim = c
				return true
			}
		}
		return false
	})
	wants := []string{
		"address 127.0.0.1 is loopback (127.0.0.0/8), not public: refused; [fetch] allow_private_addresses = true allows it",
		"host localhost is a loopback name (RFC 6761), not public: refused; [fetch] allow_private_addresses = true allows it",
	}
	for i, f := range claim.FileStatus {
		if f.Status != service.FileFailed || f.Reason != wants[i] || f.URL != claimFiles[i] {
			t.Errorf("institution, claim file %d: %+v, want failed: %q", i, f, wants[i])
		}
	}

	// The claim outcome's transferfilelist, fetched by the platform.
	vouchers := []string{files.URL + "/v/2026120801.pdf", byName + "/v/2026120802.pdf"}
	o := paidWithVouchers(t, s, claim.ID, applyNo, vouchers)
	for i, f := range o.FileStatus {
		if f.Status != service.FileFailed || f.Reason != wants[i] || f.URL != vouchers[i] {
			t.Errorf("platform, voucher %d: %+v, want failed: %q", i, f, wants[i])
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the file server on loopback was reached %d times", n)
	}
}
