package issues

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/institution"
)

// TestBidderQuitNeedsTheBidderKey: the redirecturl is a bearer token, and
// it is not the bidder's alone: the platform keeps it in the clear (the
// application's redirect_url, the baohanapply answer in its message log,
// shown by its admin API and console message pages), and the bidder's
// browser history holds it. Opening the envelope and signing the
// agreement need the bidder's CA key; withdrawing the guarantee
// (POST /bidder/{token}/quit) and giving the application up
// (/bidder/{token}/giveup) need only the token. Whoever reads the URL —
// a platform console viewer, say — can withdraw a bidder's guarantee the
// day before the opening and knock it out of the tender. These actions
// should need the bidder's key too (a request signed with the CA
// certificate, as the agreement is).
func TestBidderQuitNeedsTheBidderKey(t *testing.T) {
	s := harness.Start(t, harness.Quiet())
	applyNo := s.Issued(s.Section(time.Hour).No, 30*time.Second)

	// What a platform staff member can read.
	req, _ := http.NewRequest("GET", s.PlatDoor.URL+"/api/applications/"+applyNo, nil)
	req.Header.Set("Authorization", "Bearer "+harness.PlatformAdmin)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Application struct {
			RedirectURL string `json:"redirecturl"`
		} `json:"application"`
	}
	json.NewDecoder(res.Body).Decode(&d)
	res.Body.Close()
	if !strings.Contains(d.Application.RedirectURL, "/bidder/") {
		t.Fatalf("redirecturl %q", d.Application.RedirectURL)
	}

	res, err = http.Post(d.Application.RedirectURL+"/quit", "application/json", bytes.NewReader([]byte(`{"reason":"不再投标"}`)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	time.Sleep(200 * time.Millisecond)
	st := s.InstApp(applyNo).State
	if res.StatusCode == 200 || st != institution.Issued {
		t.Errorf("the redirecturl alone withdrew the guarantee: HTTP %d %.200s; institution %s, platform %s",
			res.StatusCode, b, st, s.PlatApp(applyNo).State)
	}
}
