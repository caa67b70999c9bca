package issues

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
)

// lostThenAnswered puts a handler in front of the institution: the
// first baohanapply is handled, and its answer lost (the door holds it
// past the platform's timeout); every later baohanapply is answered
// by later, or passed to the institution when later is nil.
func lostThenAnswered(s *harness.System, later func(w http.ResponseWriter, body []byte) bool) *atomic.Int32 {
	var n atomic.Int32
	inner := s.Inst.Handler()
	s.InstDoor.SlowFor = 3 * time.Second
	s.InstDoor.Inject("baohanapply", harness.Slow)
	s.InstDoor.Set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/baohanapply") && n.Add(1) > 1 && later != nil {
			body, _ := io.ReadAll(r.Body)
			if later(w, body) {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		inner.ServeHTTP(w, r)
	}))
	return &n
}

// TestRefusedApplyRetryIsNotARejection: the platform took any code-0
// answer to baohanapply for the institution's decision and rejected the
// application for good, also when the answer refused a retry of an
// attempt whose answer was lost ("already received", "duplicate": the
// institution has the application) or turned the request away without
// processing it ("internal error; try again later", a stale timestamp, a
// replayed sign). Now a duplicate answer to a retry is the acceptance the
// lost answer was, and a request turned away is sent again, signed anew;
// neither rejects.
func TestRefusedApplyRetryIsNotARejection(t *testing.T) {
	answer := func(msg string) func(w http.ResponseWriter, body []byte) bool {
		return func(w http.ResponseWriter, body []byte) bool {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"code":0,"message":%q,"data":{}}`, msg)
			return true
		}
	}
	t.Run("duplicate answer to a retry", func(t *testing.T) {
		eachStackDB(t, []harness.Option{harness.Quiet(), harness.WithTimeout(time.Second)}, func(t *testing.T, s *harness.System) {
			n := lostThenAnswered(s, answer("重复提交：申请编号已存在 (duplicate applyno)"))
			applyNo := s.Apply(s.Section(time.Hour).No)
			s.Eventually("a retry of baohanapply", 20*time.Second, func() bool { return n.Load() >= 2 })
			s.Eventually("the platform's reading of the answer", 20*time.Second, func() bool {
				evs, _ := harness.PlatformEvents(context.Background(), s.Plat.DB(), applyNo)
				return len(evs) >= 2 // apply, then the answer's event
			})
			if a := s.PlatApp(applyNo); a.State != platform.Applied {
				t.Fatalf("platform %s (%q), want applied: the institution has the application", a.State, a.LastMessage)
			}
			if s.InstApp(applyNo) == nil {
				t.Fatal("the institution has no application")
			}
		})
	})
	t.Run("internal error, then accepted", func(t *testing.T) {
		eachStackDB(t, []harness.Option{harness.Quiet()}, func(t *testing.T, s *harness.System) {
			var n atomic.Int32
			inner := s.Inst.Handler()
			s.InstDoor.Set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/baohanapply") && n.Add(1) == 1 {
					answer("internal error; try again later")(w, nil)
					return
				}
				inner.ServeHTTP(w, r)
			}))
			applyNo := s.Apply(s.Section(time.Hour).No)
			token := s.Token(applyNo, 20*time.Second)
			s.BidderSignsAndPays(token)
			s.WaitPlat(applyNo, platform.Approved, 20*time.Second)
		})
	})
	t.Run("lost answer, the same body again", func(t *testing.T) {
		eachStackDB(t, []harness.Option{harness.Quiet(), harness.WithTimeout(time.Second)}, func(t *testing.T, s *harness.System) {
			n := lostThenAnswered(s, nil)
			applyNo := s.Apply(s.Section(time.Hour).No)
			token := s.Token(applyNo, 20*time.Second)
			if n.Load() < 2 {
				t.Fatalf("%d baohanapply, want a retry", n.Load())
			}
			// The retry carried the first body and got the first answer.
			var bodies [][]byte
			for _, ex := range s.InstDoor.Exchanges() {
				if ex.Path == "/baohanapply" {
					bodies = append(bodies, ex.Request)
				}
			}
			if len(bodies) < 2 || !bytes.Equal(bodies[0], bodies[1]) {
				t.Errorf("the retry of baohanapply was signed anew; want the first body sent again")
			}
			if _, _, retries := loggedInbound(t, s.InstDoor.URL, harness.InstAdmin, protocol.BaohanApply, applyNo); retries == 0 {
				t.Error("the institution's message log shows no retry")
			}
			s.BidderSignsAndPays(token)
			s.WaitPlat(applyNo, platform.Approved, 20*time.Second)
		})
	})
}
