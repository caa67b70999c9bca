package issues

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm3"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/service"
	"github.com/baohan-dev/baohan/web"
)

// TestTransferFilesKept (issue 16 §2): the transfer vouchers a
// claimsresultnotice names (transferfilelist) are fetched by the platform
// over TLS after it accepted the notice and kept with their SM3, a
// missing one is recorded as failed with the reason, and the kept copy is
// served by the platform's admin API and linked from its console.
func TestTransferFilesKept(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			voucher := []byte("%PDF-1.4 银行转账凭证 2026120801")
			files := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v/2026120801.pdf" {
					w.Write(voucher)
					return
				}
				http.NotFound(w, r)
			}))
			defer files.Close()
			client := &http.Client{Transport: files.Client().Transport,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			s := claimStack(t, db, true, true, harness.WithPlatformOptions(platform.WithHTTPClient(client)),
				harness.WithPlatformConfig(func(c *platform.Config) { c.Fetch.AllowPrivateAddresses = true })) // files listens on loopback

			applyNo, id := claimed(t, s, "500000.00")
			urls := []string{files.URL + "/v/2026120801.pdf", files.URL + "/v/gone.pdf"}
			o := paidWithVouchers(t, s, id, applyNo, urls)
			sum := sm3.Sum(voucher)
			if got := o.FileStatus[0]; got.Status != service.FileFetched || got.SM3 != hex.EncodeToString(sum[:]) || got.URL != urls[0] {
				t.Errorf("voucher: %+v", got)
			}
			if got := o.FileStatus[1]; got.Status != service.FileFailed || !strings.Contains(got.Reason, "404") {
				t.Errorf("missing voucher: %+v", got)
			}
			get := func(n int) (int, []byte) {
				req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/applications/%s/claim-outcomes/%d/files/%d",
					s.PlatDoor.URL, applyNo, o.Seq, n), nil)
				req.Header.Set("Authorization", "Bearer "+harness.PlatformAdmin)
				resp, err := s.HTTP.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, b
			}
			if st, b := get(0); st != http.StatusOK || string(b) != string(voucher) {
				t.Errorf("kept voucher: HTTP %d %q", st, b)
			}
			if st, _ := get(1); st != http.StatusNotFound {
				t.Errorf("missing voucher: HTTP %d, want 404", st)
			}

			// The platform's console shows both, and links the kept copy.
			pc := platformConsole(t, s)
			plat := staffLogin(t, pc.Auth(), s.PlatDoor.URL, "wang.wu", web.Viewer)
			link := fmt.Sprintf("/console/applications/%s/claim-outcomes/%d/files/0", applyNo, o.Seq)
			_, page := plat.get("/console/applications/" + applyNo)
			for _, want := range []string{`href="` + link + `"`, o.FileStatus[0].SM3, "获取失败", "404"} {
				if !strings.Contains(page, want) {
					t.Errorf("the platform's application page lacks %q", want)
				}
			}
			if st, body := plat.get(link); st != http.StatusOK || body != string(voucher) {
				t.Errorf("console download: HTTP %d %q", st, body)
			}
		})
	}
}
