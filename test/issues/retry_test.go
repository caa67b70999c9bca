package issues

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/test/internal/stack"
)

// eachStackDB runs f on a stack over SQLite and one over PostgreSQL.
func eachStackDB(t *testing.T, o stack.Options, f func(t *testing.T, s *stack.Stack)) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			o := o
			if db == "postgres" {
				o.PlatformDB = stack.PostgresURL(t, "retry_plat")
				o.InstitutionDB = stack.PostgresURL(t, "retry_inst")
			}
			f(t, stack.Start(t, o))
		})
	}
}

// postRaw posts body to url and returns the answer's bytes.
func postRaw(t *testing.T, url string, body []byte) []byte {
	t.Helper()
	res, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Error(err)
		return nil
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return b
}

// TestRetriesAnsweredAsTheFirst: a request sent again byte for byte
// (same appkey, sign and body: its answer was lost) is a retry, not a
// replay. For baohanapply (to the institution), baohannotice and
// baohanfilecompletenotice (to the platform), the request the service
// sent is held at the receiver's door while two copies are posted at
// once, then let through; two more copies follow one after the other.
// All five get the same answer, byte for byte; the receiver changes state
// once; its message log shows four retries, and its chain verifies. The
// same sign over another body (an empty field added: the sign skips it)
// is refused as a replay. Before, every copy after the first was refused
// ("replayed request").
func TestRetriesAnsweredAsTheFirst(t *testing.T) {
	eachStackDB(t, stack.Options{Quiet: true}, func(t *testing.T, s *stack.Stack) {
		ctx := context.Background()
		sec := s.Section(time.Hour)
		var applyNo string
		// retried holds the request at door, runs start (which makes the
		// service send it), and sends the copies.
		retried := func(door *stack.Door, i protocol.Interface, start func()) {
			t.Helper()
			var (
				mu   sync.Mutex
				body []byte
			)
			door.HoldIf(string(i), func(b []byte) bool {
				mu.Lock()
				defer mu.Unlock()
				body = append([]byte(nil), b...)
				return true
			})
			start()
			s.Eventually(string(i)+" held at the door", 20*time.Second, func() bool { return door.Holding() == 1 })
			mu.Lock()
			sent := body
			mu.Unlock()
			url := door.URL + "/" + string(i)
			answers := make([][]byte, 2)
			var wg sync.WaitGroup
			for k := range answers {
				wg.Add(1)
				go func() { defer wg.Done(); answers[k] = postRaw(t, url, sent) }()
			}
			// Let the service's own request through while the copies are
			// under way.
			time.Sleep(10 * time.Millisecond)
			door.Release()
			wg.Wait()
			answers = append(answers, postRaw(t, url, sent), postRaw(t, url, sent))
			var first []byte
			s.Eventually("the door's record of "+string(i), 10*time.Second, func() bool {
				for _, ex := range door.Exchanges() {
					if ex.Path == "/"+string(i) && bytes.Equal(ex.Request, sent) && ex.Fault == stack.Hold {
						first = ex.Response
						return true
					}
				}
				return false
			})
			var r protocol.Response
			if err := json.Unmarshal(first, &r); err != nil || r.Code != 1 {
				t.Fatalf("%s: the service's own request was answered %s", i, first)
			}
			for k, a := range answers {
				if !bytes.Equal(a, first) {
					t.Errorf("%s copy %d: answered %s, want the first answer %s", i, k+1, a, first)
				}
			}
			// Another body under the sign: a replay.
			var fields map[string]any
			if err := json.Unmarshal(sent, &fields); err != nil {
				t.Fatal(err)
			}
			fields["bak9"] = ""
			other, _ := json.Marshal(fields)
			if a := postRaw(t, url, other); !strings.HasPrefix(string(a), `{"code":0,"message":"replayed request`) {
				t.Errorf("%s: another body under the sign answered %s, want refused as a replay", i, a)
			}
		}

		retried(s.InstDoor, protocol.BaohanApply, func() { applyNo = s.Apply(sec.No) })
		token := s.Token(applyNo, 20*time.Second)
		retried(s.PlatDoor, protocol.BaohanNotice, func() { s.BidderSignsAndPays(token) })
		s.WaitPlat(applyNo, platform.Approved, 20*time.Second)
		retried(s.PlatDoor, protocol.BaohanFileCompleteNotice, func() {})
		s.WaitPlat(applyNo, platform.CipherReceived, 20*time.Second)
		s.WaitInst(applyNo, institution.Issued, 20*time.Second)

		// State changed once.
		for side, evs := range map[string]func() ([]string, error){
			"platform":    func() ([]string, error) { return stack.PlatformEvents(ctx, s.Plat.DB(), applyNo) },
			"institution": func() ([]string, error) { return stack.InstitutionEvents(ctx, s.Inst.DB(), applyNo) },
		} {
			list, err := evs()
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			for _, e := range list {
				if seen[e]++; seen[e] == 2 && e != "baohanfilecompletenotice" {
					t.Errorf("%s: %s twice in the history %v", side, e, list)
				}
			}
		}
		// The message log shows the retries; the chains verify.
		for _, c := range []struct {
			db *store.DB
			i  protocol.Interface
		}{{s.Inst.DB(), protocol.BaohanApply}, {s.Plat.DB(), protocol.BaohanNotice}, {s.Plat.DB(), protocol.BaohanFileCompleteNotice}} {
			rows, err := store.NewMessageLog(c.db).List(ctx, store.LogFilter{Interface: string(c.i), Direction: protocol.Inbound, ApplyNo: applyNo})
			if err != nil {
				t.Fatal(err)
			}
			retries, ok := 0, 0
			for _, r := range rows {
				if r.Retry {
					retries++
				}
				if r.OK() {
					ok++
				}
			}
			if retries != 4 || ok != 5 {
				t.Errorf("%s: %d inbound exchanges, %d answered code 1, %d marked as retries; want 6, 5 and 4", c.i, len(rows), ok, retries)
			}
		}
		for side, db := range map[string]*store.DB{"platform": s.Plat.DB(), "institution": s.Inst.DB()} {
			if p := stack.ChainProblem(ctx, db, side); p != "" {
				t.Error(p)
			}
		}
	})
}

// lostThenAnswered puts a handler in front of the institution: the
// first baohanapply is handled, and its answer lost (the door holds it
// past the platform's timeout); every later baohanapply is answered
// by later, or passed to the institution when later is nil.
func lostThenAnswered(s *stack.Stack, later func(w http.ResponseWriter, body []byte) bool) *atomic.Int32 {
	var n atomic.Int32
	inner := s.Inst.Handler()
	s.InstDoor.SlowFor = 3 * time.Second
	s.InstDoor.Inject("baohanapply", stack.Slow)
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
		eachStackDB(t, stack.Options{Quiet: true, Timeout: time.Second}, func(t *testing.T, s *stack.Stack) {
			n := lostThenAnswered(s, answer("重复提交：申请编号已存在 (duplicate applyno)"))
			applyNo := s.Apply(s.Section(time.Hour).No)
			s.Eventually("a retry of baohanapply", 20*time.Second, func() bool { return n.Load() >= 2 })
			s.Eventually("the platform's reading of the answer", 20*time.Second, func() bool {
				evs, _ := stack.PlatformEvents(context.Background(), s.Plat.DB(), applyNo)
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
		eachStackDB(t, stack.Options{Quiet: true}, func(t *testing.T, s *stack.Stack) {
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
		eachStackDB(t, stack.Options{Quiet: true, Timeout: time.Second}, func(t *testing.T, s *stack.Stack) {
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
			rows, err := store.NewMessageLog(s.Inst.DB()).List(context.Background(), store.LogFilter{Interface: "baohanapply", ApplyNo: applyNo})
			if err != nil {
				t.Fatal(err)
			}
			retries := 0
			for _, r := range rows {
				if r.Retry {
					retries++
				}
			}
			if retries == 0 {
				t.Error("the institution's message log shows no retry")
			}
			s.BidderSignsAndPays(token)
			s.WaitPlat(applyNo, platform.Approved, 20*time.Second)
		})
	})
}
