package institution

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/bidderauth"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/gm/testca"
)

// challenge asks the bidder API for a challenge.
func (e *env) challenge(tok, action string) *Challenge {
	e.t.Helper()
	body, _ := json.Marshal(ChallengeRequest{Action: action})
	var c Challenge
	if st := e.bidderDo("POST", "/bidder/"+tok+"/challenge", body, &c); st != 200 || c.Challenge == "" {
		e.t.Fatalf("challenge for %s: HTTP %d %+v", action, st, c)
	}
	return &c
}

// proof signs a fresh challenge for action with id's key.
func (e *env) proof(tok, action string, id *testca.Identity) BidderProof {
	e.t.Helper()
	p, err := SignChallenge(e.challenge(tok, action), id.Key, id.Cert)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// envelopeKey recovers the applydata key from the digital envelope with
// the bidder's key, as the CA agent does.
func (e *env) envelopeKey(tok string) string {
	e.t.Helper()
	var v BidderView
	e.bidderDo("GET", "/bidder/"+tok, nil, &v)
	key, err := gm.SM2Decrypt(e.bidder.Key, mustB64(e.t, v.DigitalEnvelope), gm.C1C3C2)
	if err != nil {
		e.t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(key)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestBidderQuitNeedsTheKey: the token alone withdraws nothing; every
// way the proof can be wrong is refused with 403 and a precise reason,
// and the guarantee stays issued; the bidder's own signature over a
// fresh challenge withdraws it.
func TestBidderQuitNeedsTheKey(t *testing.T) {
	e := newEnv(t, false)
	tok := e.issue("BK-1")
	other := e.apply("BK-2", "1000.00") // another application of the same bidder

	// Another bidder, trusted; a second certificate of the same bidder;
	// the same bidder's code under a CA nobody trusts.
	stranger, err := e.ca.Issue("另一建设有限公司", testca.Bidder)
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.ca.Issue(testBidder, testca.Bidder, testca.WithCreditCode(e.bidder.CreditCode))
	if err != nil {
		t.Fatal(err)
	}
	rogueCA, err := testca.New("伪造根CA")
	if err != nil {
		t.Fatal(err)
	}
	rogue, err := rogueCA.Issue(testBidder, testca.Bidder, testca.WithCreditCode(e.bidder.CreditCode))
	if err != nil {
		t.Fatal(err)
	}

	withReason := func(p BidderProof) []byte { return mustJSON(BidderQuitRequest{Reason: "不再投标", BidderProof: p}) }
	expired := e.proof(tok, ActionQuit, e.bidder)
	used := e.proof(tok, ActionQuit, e.bidder)
	// A failed try uses the challenge up.
	burn := used
	burn.Cert = string(stranger.CertPEM)
	if st := e.bidderDo("POST", "/bidder/"+tok+"/quit", withReason(burn), nil); st != 403 {
		t.Fatalf("a signature that does not verify: HTTP %d", st)
	}
	cases := []struct {
		name string
		body func() []byte
		want string // in the error
	}{
		{"the token alone", func() []byte { return []byte(`{"reason":"不再投标"}`) }, "quit needs the bidder's signature"},
		{"an unknown challenge", func() []byte {
			p := e.proof(tok, ActionQuit, e.bidder)
			p.Challenge = "quit-" + strings.Repeat("A", 43)
			return withReason(p)
		}, "challenge: unknown or already used"},
		{"a challenge used before", func() []byte { return withReason(used) }, "challenge: unknown or already used"},
		{"a challenge for giving up", func() []byte { return withReason(e.proof(tok, ActionGiveUp, e.bidder)) }, "challenge: issued for giveup, not quit"},
		{"a challenge of another application", func() []byte { return withReason(e.proof(other, ActionQuit, e.bidder)) }, "challenge: issued for another application"},
		{"an expired challenge", func() []byte {
			e.advance(challengeTTL + time.Second)
			return withReason(expired)
		}, "challenge: expired"},
		{"signed for another origin", func() []byte {
			c := e.challenge(tok, ActionQuit)
			c.Origin = "http://evil.example"
			p, _ := SignChallenge(c, e.bidder.Key, e.bidder.Cert)
			return withReason(p)
		}, "signature: the signature does not verify"},
		{"signed for giving up (another purpose)", func() []byte {
			c := e.challenge(tok, ActionQuit)
			c.Purpose = bidderauth.InstitutionGiveUp
			p, _ := SignChallenge(c, e.bidder.Key, e.bidder.Cert)
			return withReason(p)
		}, "signature: the signature does not verify"},
		{"signed as a platform login", func() []byte {
			c := e.challenge(tok, ActionQuit)
			c.Purpose = bidderauth.PlatformLogin
			p, _ := SignChallenge(c, e.bidder.Key, e.bidder.Cert)
			return withReason(p)
		}, "signature: the signature does not verify"},
		{"signed in the format without a purpose", func() []byte {
			c := e.challenge(tok, ActionQuit)
			sig, _ := gm.SM2Sign(e.bidder.Key, []byte("baohan-login\n"+c.Origin+"\n"+c.Challenge))
			return withReason(BidderProof{Challenge: c.Challenge, Signature: base64.StdEncoding.EncodeToString(sig), Cert: string(e.bidder.CertPEM)})
		}, "signature: the signature does not verify"},
		{"signed by another key than the certificate's", func() []byte {
			p, _ := SignChallenge(e.challenge(tok, ActionQuit), stranger.Key, e.bidder.Cert)
			return withReason(p)
		}, "signature: the signature does not verify"},
		{"another bidder's certificate", func() []byte { return withReason(e.proof(tok, ActionQuit, stranger)) },
			"cert: the certificate is of credit code " + stranger.CreditCode + ", not of the bidder " + e.bidder.CreditCode},
		{"the bidder's code under an untrusted CA", func() []byte { return withReason(e.proof(tok, ActionQuit, rogue)) }, "is not valid under the trust roots"},
		{"the bidder's other certificate, not the one that signed the agreement", func() []byte { return withReason(e.proof(tok, ActionQuit, second)) },
			"is not the one that signed the agreement"},
		{"not JSON", func() []byte { return []byte(`reason=x`) }, "the body is not the expected JSON object"},
	}
	for _, c := range cases {
		var ae apiError
		st := e.bidderDo("POST", "/bidder/"+tok+"/quit", c.body(), &ae)
		wantStatus := 403
		if c.name == "not JSON" {
			wantStatus = 422
		}
		if st != wantStatus || !strings.Contains(ae.Error, c.want) {
			t.Errorf("%s: HTTP %d %q, want %d with %q", c.name, st, ae.Error, wantStatus, c.want)
		}
		if s := e.app("BK-1").State; s != Issued {
			t.Fatalf("%s: the guarantee is %s", c.name, s)
		}
	}
	if n := e.plat.count("quitnotice"); n != 0 {
		t.Errorf("%d quitnotice sent for refused requests", n)
	}

	var rec QuitRecord
	if st := e.bidderDo("POST", "/bidder/"+tok+"/quit", withReason(e.proof(tok, ActionQuit, e.bidder)), &rec); st != 200 || rec.Status != QuitAccepted {
		t.Fatalf("quit signed by the bidder: HTTP %d %+v", st, rec)
	}
	e.waitFor("quitnotice", func() bool { return e.plat.count("quitnotice") == 1 })
	d, err := e.svc.Detail(e.ctx, e.app("BK-1").ID)
	if err != nil {
		t.Fatal(err)
	}
	last := d.History[len(d.History)-1]
	if last.Event != "quit" || last.Actor != "bidder:"+e.bidder.CreditCode {
		t.Errorf("history: %+v", last)
	}
}

// TestBidderGiveUpNeedsTheKey: before the application is opened the
// institution does not know the bidder: the request carries the envelope
// key too, and the certificate must be of the bidder the decrypted
// application names.
func TestBidderGiveUpNeedsTheKey(t *testing.T) {
	e := newEnv(t, false)
	tok := e.apply("BG-1", "1000.00")
	stranger, err := e.ca.Issue("另一建设有限公司", testca.Bidder)
	if err != nil {
		t.Fatal(err)
	}
	withKey := func(p BidderProof, key string) []byte { p.Key = key; return mustJSON(p) }
	cases := []struct {
		name string
		body func() []byte
		want string
	}{
		{"the token alone", func() []byte { return nil }, "giveup needs the bidder's signature"},
		{"no envelope key before opening", func() []byte { return withKey(e.proof(tok, ActionGiveUp, e.bidder), "") },
			"key: the application is not opened yet"},
		{"a wrong envelope key", func() []byte {
			return withKey(e.proof(tok, ActionGiveUp, e.bidder), base64.StdEncoding.EncodeToString(make([]byte, 16)))
		}, "the key does not open this application's applydata"},
		{"another bidder with the right envelope key", func() []byte { return withKey(e.proof(tok, ActionGiveUp, stranger), e.envelopeKey(tok)) },
			"cert: the certificate is of credit code " + stranger.CreditCode + ", not of the bidder " + e.bidder.CreditCode},
	}
	for _, c := range cases {
		var ae apiError
		if st := e.bidderDo("POST", "/bidder/"+tok+"/giveup", c.body(), &ae); st != 403 || !strings.Contains(ae.Error, c.want) {
			t.Errorf("%s: HTTP %d %q, want 403 with %q", c.name, st, ae.Error, c.want)
		}
	}
	gs, err := e.svc.Giveups(e.ctx)
	if err != nil || len(gs) != 0 {
		t.Fatalf("give-ups after refused requests: %+v %v", gs, err)
	}
	var g Giveup
	if st := e.bidderDo("POST", "/bidder/"+tok+"/giveup", withKey(e.proof(tok, ActionGiveUp, e.bidder), e.envelopeKey(tok)), &g); st != 200 || g.Status != GiveupPending {
		t.Fatalf("give-up signed by the bidder: HTTP %d %+v", st, g)
	}
	e.waitState("BG-1", GivenUp)

	// Once opened, the credit code is known and the key is not needed.
	tok2 := e.apply("BG-2", "1000.00")
	e.openAndSign(tok2)
	if st := e.bidderDo("POST", "/bidder/"+tok2+"/giveup", mustJSON(e.proof(tok2, ActionGiveUp, e.bidder)), &g); st != 200 || g.Status != GiveupPending {
		t.Fatalf("give-up of a signed application: HTTP %d %+v", st, g)
	}
	e.waitState("BG-2", GivenUp)
}

func TestBidderChallengeRequests(t *testing.T) {
	e := newEnv(t, false)
	tok := e.apply("BC-1", "1000.00")
	c := e.challenge(tok, ActionQuit)
	if c.ApplyNo != "BC-1" || c.Origin != strings.ToLower(e.srv.URL) || !strings.HasPrefix(c.Challenge, "quit-") ||
		c.Purpose != bidderauth.InstitutionQuit || !c.ExpiresAt.After(e.clock()) ||
		c.Message != "baohan-bidder-auth/1\npurpose=institution-quit\norigin="+c.Origin+"\nchallenge="+c.Challenge {
		t.Errorf("challenge %+v", c)
	}
	if g := e.challenge(tok, ActionGiveUp); g.Purpose != bidderauth.InstitutionGiveUp || g.Message != string(bidderauth.Message(g.Purpose, g.Origin, g.Challenge)) {
		t.Errorf("give-up challenge %+v", g)
	}
	var ae apiError
	if st := e.bidderDo("POST", "/bidder/"+tok+"/challenge", []byte(`{"action":"pay"}`), &ae); st != 422 || ae.Error != `action: want "quit" or "giveup", got "pay"` {
		t.Errorf("unknown action: %d %+v", st, ae)
	}
	if st := e.bidderDo("POST", "/bidder/"+strings.Repeat("x", 43)+"/challenge", []byte(`{"action":"quit"}`), &ae); st != 404 {
		t.Errorf("unknown token: %d %+v", st, ae)
	}
}

// TestChallengeServesOnce: the same signed challenge sent several times
// at once acts once.
func TestChallengeServesOnce(t *testing.T) {
	for _, pg := range []bool{false, true} {
		name := map[bool]string{false: "sqlite", true: "postgres"}[pg]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, pg)
			tok := e.apply("BO-1", "1000.00")
			p := e.proof(tok, ActionGiveUp, e.bidder)
			p.Key = e.envelopeKey(tok)
			body := mustJSON(p)
			const n = 4
			status := make([]int, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, err := http.Post(e.srv.URL+"/bidder/"+tok+"/giveup", "application/json", bytes.NewReader(body))
					if err != nil {
						errs[i] = err
						return
					}
					resp.Body.Close()
					status[i] = resp.StatusCode
				}()
			}
			wg.Wait()
			ok := 0
			for i := range n {
				if errs[i] != nil {
					t.Fatal(errs[i])
				}
				if status[i] == 200 {
					ok++
				} else if status[i] != 403 {
					t.Errorf("HTTP %d", status[i])
				}
			}
			if ok != 1 {
				t.Errorf("%d of %d requests with one challenge acted (statuses %v), want 1", ok, n, status)
			}
		})
	}
}

// TestBidderChallengesBounded: whoever holds the redirecturl may ask for
// challenges, each a row: an application has at most maxOpenChallenges
// open ones, then 429 with Retry-After (until the oldest expires); a
// challenge used, even in a failed try, or expired frees its place, and
// other applications are not concerned.
func TestBidderChallengesBounded(t *testing.T) {
	for _, pg := range []bool{false, true} {
		t.Run(map[bool]string{false: "sqlite", true: "postgres"}[pg], func(t *testing.T) {
			e := newEnv(t, pg)
			tok := e.apply("BL-1", "1000.00")
			other := e.apply("BL-2", "1000.00")
			count := func() int {
				t.Helper()
				var n int
				if err := e.svc.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM inst_bidder_challenges`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			var open []*Challenge
			for i := range maxOpenChallenges {
				open = append(open, e.challenge(tok, []string{ActionQuit, ActionGiveUp}[i%2]))
			}
			ask := func(tok string) (int, string, string) {
				t.Helper()
				res, err := http.Post(e.srv.URL+"/bidder/"+tok+"/challenge", "application/json", strings.NewReader(`{"action":"quit"}`))
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				var ae apiError
				json.NewDecoder(res.Body).Decode(&ae)
				return res.StatusCode, res.Header.Get("Retry-After"), ae.Error
			}
			for range 3 {
				st, retry, msg := ask(tok)
				if secs, _ := strconv.Atoi(retry); st != http.StatusTooManyRequests || secs < 1 || secs > 300 || !strings.Contains(msg, "BL-1 has 5 open challenges") {
					t.Fatalf("past the bound: HTTP %d, Retry-After %q, %q", st, retry, msg)
				}
			}
			if n := count(); n != maxOpenChallenges {
				t.Fatalf("%d challenges stored, want %d", n, maxOpenChallenges)
			}
			e.challenge(other, ActionQuit) // another application
			// A failed try uses its challenge up.
			bad := mustJSON(BidderQuitRequest{Reason: "不再投标", BidderProof: BidderProof{Challenge: open[0].Challenge, Signature: "AAAA", Cert: "not a certificate"}})
			if st := e.bidderDo("POST", "/bidder/"+tok+"/quit", bad, nil); st != http.StatusForbidden {
				t.Fatalf("quit with a bad proof: HTTP %d", st)
			}
			e.challenge(tok, ActionQuit)
			if st, _, _ := ask(tok); st != http.StatusTooManyRequests {
				t.Fatalf("past the bound again: HTTP %d", st)
			}
			e.advance(challengeTTL)
			e.challenge(tok, ActionQuit)
			if n := count(); n != 1 {
				t.Errorf("%d challenges after the others expired, want 1", n)
			}
		})
	}
}
