package institution

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/service"
	"github.com/baohan-dev/baohan/transport"
)

// TestClaimFilesFetchedAndKept: the files of a claim's file list are
// fetched over TLS after the claim is answered (the answer comes while
// the file server still holds the file back), kept with their SM3 and
// served back from the admin API; an oversize file fails for good with
// the reason, and a failing URL is recorded with its reason and retried.
func TestClaimFilesFetchedAndKept(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testClaimFiles(t, false) })
	t.Run("postgres", func(t *testing.T) { testClaimFiles(t, true) })
}

func testClaimFiles(t *testing.T, pg bool) {
	voucher := []byte("%PDF-1.4 索赔材料")
	release := make(chan struct{})
	files := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/held.pdf":
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
			w.Write(voucher)
		case "/big.pdf":
			chunk := make([]byte, 1<<20)
			for range transport.DefaultMaxFetchedFile>>20 + 1 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer files.Close()
	defer close(release)

	e := newEnv(t, pg)
	e.stop()
	e.cfg.Fetch.AllowPrivateAddresses = true // the file server listens on loopback
	e.opts = append(e.opts, WithHTTPClient(&http.Client{Transport: files.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}))
	e.start()
	e.issue("CF-1")
	a := e.app("CF-1")
	urls := []string{files.URL + "/held.pdf", files.URL + "/big.pdf", files.URL + "/down.pdf"}
	list, _ := json.Marshal([]protocol.ClaimFile{{FileURL: urls[0]}, {FileURL: urls[1]}, {FileURL: urls[2]}})
	r := e.call(protocol.ClaimsNotice, map[string]string{"applyno": "CF-1", "baohanno": a.BaohanNo, "applyusername": "张三",
		"applyuserphone": "13800000000", "payeraccount": "6222000000000000000", "payeramount": "1000.00", "reason": "拒签合同",
		"filelist": string(list)})
	if r.Code != 1 {
		t.Fatalf("claimsnotice: %d %s", r.Code, r.Message)
	}
	// Answered while /held.pdf is still held back: the answer did not
	// wait for the fetch.
	claim := func() *Claim {
		var list []*Claim
		if st := e.admin("GET", "/api/claims", nil, &list); st != http.StatusOK || len(list) != 1 {
			t.Fatalf("GET /api/claims: HTTP %d, %d claims", st, len(list))
		}
		if len(list[0].FileStatus) != len(urls) {
			t.Fatalf("file_status: %+v", list[0].FileStatus)
		}
		return list[0]
	}
	if c := claim(); c.FileStatus[0].Status != service.FilePending {
		t.Fatalf("held file: %+v", c.FileStatus[0])
	}
	release <- struct{}{}

	var c *Claim
	e.waitFor("the claim's files tried", func() bool {
		c = claim()
		return c.FileStatus[0].Status == service.FileFetched && c.FileStatus[1].Status == service.FileFailed && c.FileStatus[2].Attempts >= 1
	})
	sum := sm3.Sum(voucher)
	if got := c.FileStatus[0]; got.SM3 != hex.EncodeToString(sum[:]) || got.Size != int64(len(voucher)) || got.URL != urls[0] {
		t.Errorf("kept file: %+v", got)
	}
	if got := c.FileStatus[1]; !strings.Contains(got.Reason, "over the limit") {
		t.Errorf("oversize file: %+v", got)
	}
	if got := c.FileStatus[2]; got.Status != service.FilePending || !strings.Contains(got.Reason, "503") {
		t.Errorf("failing file: %+v", got)
	}
	// Past its backoff, the failing file is tried again.
	e.advance(time.Hour)
	e.waitFor("the failing file retried", func() bool { return claim().FileStatus[2].Attempts >= 2 })

	// The kept copy, from the admin API, as fetched.
	get := func(n string) (int, []byte) {
		req, _ := http.NewRequest("GET", e.srv.URL+"/api/claims/"+c.ID+"/files/"+n, nil)
		req.Header.Set("Authorization", "Bearer admin-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if st, b := get("0"); st != http.StatusOK || string(b) != string(voucher) {
		t.Errorf("kept copy: HTTP %d %q", st, b)
	}
	for _, n := range []string{"1", "7", "x"} {
		if st, _ := get(n); st != http.StatusNotFound {
			t.Errorf("file %s: HTTP %d, want 404", n, st)
		}
	}
}
