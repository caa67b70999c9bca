package issues

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/protocol"
)

// TestReflectedRequestRefused: one appsecret signs both directions and
// the sign does not cover the interface, so a request a service sent is
// a validly signed request to that same service, and its replay store
// never saw it. Whoever sees one request the platform sent (the
// institution's TLS-terminating proxy, a console viewer reading the
// message log, a log pipeline) can, within the 10-minute window, post it
// back to the platform: the platform's own baohanapply posted to its
// giveupnotice endpoint makes it give up the bidder's application
// (platform given_up, institution still received). The fix is wired in
// transport: set Client.Seen to the service's replay store (the seen-sign
// store its Server uses) in platform and institution, one line each;
// the reflected request is then refused as a replay.
func TestReflectedRequestRefused(t *testing.T) {
	s := harness.Start(t, harness.Quiet())
	// One application issued (every interface of the issuance on the
	// wire), one only applied (eligible for a give-up).
	issued := s.Issued(s.Section(time.Hour).No, 20*time.Second)
	applyNo := s.Apply(s.Section(time.Hour).No)
	s.Token(applyNo, 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	before, instBefore := s.PlatApp(applyNo).State, s.InstApp(applyNo).State
	_ = issued

	// What each side sent, posted back to it, to each of its interfaces.
	// Taken before anything is posted: the posts below go through the
	// doors too, and a request one side received, posted again to the
	// interface it came to, is a retry of it, not a reflection.
	posted := 0
	sentToInst, sentToPlat := s.InstDoor.Exchanges(), s.PlatDoor.Exchanges()
	check := func(sent []harness.Exchange, back string, side protocol.Side) {
		for _, ex := range sent {
			name := ex.Path[strings.LastIndexByte(ex.Path, '/')+1:]
			if _, ok := protocol.Lookup(name); !ok || ex.Status != 200 {
				continue // bidder pages, refused requests
			}
			req, err := protocol.ParseRequest(ex.Request)
			if err != nil {
				continue
			}
			targets := protocol.ServedBySide(side)
			slices.Reverse(targets) // the give-up notices first: the worst
			for _, target := range targets {
				// Only where the fields pass the target's rules: the
				// first post of a body marks its sign as seen, so the
				// targets that would refuse it anyway must not use it up.
				if len(protocol.Validate(target, req)) > 0 {
					continue
				}
				posted++
				res, err := http.Post(back+"/"+string(target), "application/json", bytes.NewReader(ex.Request))
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				r, _ := harness.Answer(b)
				if r.Code == 1 {
					t.Errorf("the %s's own %s, posted back to its %s: accepted (%s)", side, name, target, b)
				} else if !strings.HasPrefix(r.Message, "replayed request") {
					t.Logf("the %s's own %s, posted back to its %s: refused, but not as a replay: %q", side, name, target, r.Message)
				}
			}
		}
	}
	check(sentToInst, s.PlatDoor.URL, protocol.Platform)    // what the platform sent the institution
	check(sentToPlat, s.InstDoor.URL, protocol.Institution) // what the institution sent the platform
	if posted == 0 {
		t.Fatal("no sent request fits another interface of its sender: nothing was tried")
	}
	time.Sleep(200 * time.Millisecond)
	if after := s.PlatApp(applyNo).State; after != before {
		t.Errorf("the platform's application moved from %s to %s on reflected requests (institution %s → %s)",
			before, after, instBefore, s.InstApp(applyNo).State)
	}
}
