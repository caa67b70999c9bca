package issues

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/store/storetest"
)

// eachStackDB runs f on a stack over SQLite and one over PostgreSQL.
func eachStackDB(t *testing.T, o []harness.Option, f func(t *testing.T, s *harness.System)) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			o := o
			if db == "postgres" {
				o = append(o, harness.WithPlatformDB(storetest.FreshSchema(t)))
				o = append(o, harness.WithInstitutionDB(storetest.FreshSchema(t)))
			}
			f(t, harness.Start(t, o...))
		})
	}
}

// loggedInbound reads, through the admin API at base, the inbound
// exchanges of interface i for applyNo in the message log: how many,
// how many answered code 1, and how many are marked as retries.
func loggedInbound(t *testing.T, base, token string, i protocol.Interface, applyNo string) (n, ok, retries int) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/messages?direction=in&interface="+string(i)+"&applyno="+applyNo, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var rows []struct {
		OK    bool `json:"ok"`
		Retry bool `json:"retry"`
	}
	if b, _ := io.ReadAll(res.Body); res.StatusCode != 200 || json.Unmarshal(b, &rows) != nil {
		t.Fatalf("GET /api/messages: HTTP %d %.300s", res.StatusCode, b)
	}
	for _, r := range rows {
		if r.OK {
			ok++
		}
		if r.Retry {
			retries++
		}
	}
	return len(rows), ok, retries
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
	eachStackDB(t, []harness.Option{harness.Quiet()}, func(t *testing.T, s *harness.System) {
		ctx := context.Background()
		sec := s.Section(time.Hour)
		var applyNo string
		// retried holds the request at door, runs start (which makes the
		// service send it), and sends the copies.
		retried := func(door *harness.Door, i protocol.Interface, start func()) {
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
			hits := door.Hits(string(i))
			answers := make([][]byte, 2)
			var wg sync.WaitGroup
			for k := range answers {
				wg.Add(1)
				go func() { defer wg.Done(); answers[k] = postRaw(t, url, sent) }()
			}
			// Let the service's own request through once both copies are
			// at the door: three at once.
			s.Eventually("the copies at the door", 10*time.Second, func() bool { return door.Hits(string(i)) == hits+2 })
			door.Release()
			wg.Wait()
			answers = append(answers, postRaw(t, url, sent), postRaw(t, url, sent))
			var first []byte
			s.Eventually("the door's record of "+string(i), 10*time.Second, func() bool {
				for _, ex := range door.Exchanges() {
					if ex.Path == "/"+string(i) && bytes.Equal(ex.Request, sent) && ex.Fault == harness.Hold {
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
			"platform":    func() ([]string, error) { return harness.PlatformEvents(ctx, s.Plat.DB(), applyNo) },
			"institution": func() ([]string, error) { return harness.InstitutionEvents(ctx, s.Inst.DB(), applyNo) },
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
		// The message log shows the retries (as the admin API shows
		// them); the chains verify.
		for _, c := range []struct {
			base, token string
			i           protocol.Interface
		}{{s.InstDoor.URL, harness.InstAdmin, protocol.BaohanApply}, {s.PlatDoor.URL, harness.PlatformAdmin, protocol.BaohanNotice},
			{s.PlatDoor.URL, harness.PlatformAdmin, protocol.BaohanFileCompleteNotice}} {
			if n, ok, retries := loggedInbound(t, c.base, c.token, c.i, applyNo); n != 6 || ok != 5 || retries != 4 {
				t.Errorf("%s: %d inbound exchanges, %d answered code 1, %d marked as retries; want 6, 5 and 4", c.i, n, ok, retries)
			}
		}
		for side, db := range map[string]*store.DB{"platform": s.Plat.DB(), "institution": s.Inst.DB()} {
			if p := harness.ChainProblem(ctx, db, side); p != "" {
				t.Error(p)
			}
		}
	})
}

// TestDuplicateAnswerToARetryIsDelivered: the institution's baohannotice
// reaches the platform and the answer is lost (held past the
// institution's timeout); the retry is answered the way some platforms
// answer a notice they already have: code 0, "duplicate". The notice got
// through, so the institution takes that for delivered, and the issuance
// (the upload queued behind the notice) goes on. Before, the answer was a
// refusal, retried until the message died and blocked the upload.
func TestDuplicateAnswerToARetryIsDelivered(t *testing.T) {
	eachStackDB(t, []harness.Option{harness.Quiet(), harness.WithTimeout(time.Second)}, func(t *testing.T, s *harness.System) {
		applyNo := s.Apply(s.Section(time.Hour).No)
		token := s.Token(applyNo, 20*time.Second)
		var n atomic.Int32
		inner := s.Plat.Handler()
		s.PlatDoor.SlowFor = 3 * time.Second
		s.PlatDoor.Inject("baohannotice", harness.Slow)
		s.PlatDoor.Set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/baohannotice") && n.Add(1) > 1 {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"code":0,"message":"该通知已接收，请勿重复提交 (duplicate notice)","data":{}}`)
				return
			}
			inner.ServeHTTP(w, r)
		}))
		s.BidderSignsAndPays(token)
		s.WaitPlat(applyNo, platform.CipherReceived, 30*time.Second)
		s.WaitInst(applyNo, institution.Issued, 30*time.Second)
		if n.Load() < 2 {
			t.Fatalf("%d baohannotice, want a retry", n.Load())
		}
		if p := harness.OutboxProblems(context.Background(), s.Inst.DB(), "institution"); p != "" {
			t.Error(p)
		}
	})
}
