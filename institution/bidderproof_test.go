package institution

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/bidderauth"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/gm/testca"
	"github.com/baohan-dev/baohan/store"
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

// flipChar replaces the base64url character at i by another.
func flipChar(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
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
	e.advance(-challengeTTL - time.Second)
	expired := e.proof(tok, ActionQuit, e.bidder) // issued 5m1s ago
	e.advance(challengeTTL + time.Second)
	// A failed try does not use the challenge: only an accepted proof
	// does (the one at the end).
	retried := e.challenge(tok, ActionQuit)
	failed, _ := SignChallenge(retried, stranger.Key, stranger.Cert)
	if st := e.bidderDo("POST", "/bidder/"+tok+"/quit", withReason(failed), nil); st != 403 {
		t.Fatalf("another bidder's signature: HTTP %d", st)
	}
	tampered := e.proof(tok, ActionQuit, e.bidder)
	tampered.Challenge = flipChar(tampered.Challenge, len(tampered.Challenge)-10) // in the MAC
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
		}, "challenge invalid: not a challenge of this service"},
		{"a challenge with its MAC altered", func() []byte { return withReason(tampered) }, "challenge invalid: not issued by this service for this application and institution-quit (another's, or altered)"},
		{"a challenge for giving up", func() []byte { return withReason(e.proof(tok, ActionGiveUp, e.bidder)) }, "challenge invalid: issued for institution-giveup, not institution-quit"},
		{"a challenge of another application", func() []byte { return withReason(e.proof(other, ActionQuit, e.bidder)) }, "challenge invalid: not issued by this service for this application"},
		{"an expired challenge", func() []byte { return withReason(expired) }, "challenge expired at"},
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

	own, _ := SignChallenge(retried, e.bidder.Key, e.bidder.Cert)
	var rec QuitRecord
	if st := e.bidderDo("POST", "/bidder/"+tok+"/quit", withReason(own), &rec); st != 200 || rec.Status != QuitPendingStatus {
		t.Fatalf("quit signed by the bidder over the challenge a failed try used: HTTP %d %+v", st, rec)
	}
	var ae apiError
	if st := e.bidderDo("POST", "/bidder/"+tok+"/quit", withReason(own), &ae); st != 403 || !strings.Contains(ae.Error, "challenge: already used") {
		t.Errorf("the accepted proof again: HTTP %d %q, want 403 naming the used challenge", st, ae.Error)
	}
	e.waitFor("quitnotice", func() bool { return e.plat.count("quitnotice") == 1 })
	d, err := e.svc.Detail(e.ctx, e.app("BK-1").ID)
	if err != nil {
		t.Fatal(err)
	}
	if q := historyEvent(d, "quit"); q == nil || q.Actor != "bidder:"+e.bidder.CreditCode {
		t.Errorf("history: %+v", d.History)
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
	if c.ApplyNo != "BC-1" || c.Origin != strings.ToLower(e.srv.URL) || !strings.HasPrefix(c.Challenge, "c1.") ||
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

// TestBidderChallengesStateless: whoever holds the redirecturl may ask
// for challenges and send proofs that fail; none of it writes a row. Only
// an accepted proof records its challenge (once), and the record goes
// once the challenge has expired.
func TestBidderChallengesStateless(t *testing.T) {
	for _, pg := range []bool{false, true} {
		t.Run(map[bool]string{false: "sqlite", true: "postgres"}[pg], func(t *testing.T) {
			e := newEnv(t, pg)
			tok := e.apply("BL-1", "1000.00")
			key := e.envelopeKey(tok)
			withKey := func(p BidderProof) []byte { p.Key = key; return mustJSON(p) }
			before := tableRows(t, e.svc.db)
			var last *Challenge
			for i := range 50 {
				last = e.challenge(tok, []string{ActionQuit, ActionGiveUp}[i%2])
			}
			stranger, err := e.ca.Issue("另一建设有限公司", testca.Bidder)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []BidderProof{
				{Challenge: last.Challenge, Signature: "AAAA", Cert: "not a certificate"},
				e.proof(tok, ActionGiveUp, stranger),
				{Challenge: flipChar(last.Challenge, 10), Signature: "AAAA", Cert: string(e.bidder.CertPEM)},
			} {
				if st := e.bidderDo("POST", "/bidder/"+tok+"/giveup", withKey(p), nil); st != http.StatusForbidden {
					t.Fatalf("give-up with a bad proof: HTTP %d", st)
				}
			}
			if diff := diffRows(before, tableRows(t, e.svc.db)); diff != "" {
				t.Fatalf("50 challenges and 3 refused proofs wrote rows: %s", diff)
			}

			var g Giveup
			if st := e.bidderDo("POST", "/bidder/"+tok+"/giveup", withKey(e.proof(tok, ActionGiveUp, e.bidder)), &g); st != 200 {
				t.Fatalf("give-up signed by the bidder: HTTP %d", st)
			}
			if n := tableRows(t, e.svc.db)["inst_used_challenges"]; n != 1 {
				t.Fatalf("%d used challenges recorded after one accepted proof, want 1", n)
			}
			e.advance(challengeTTL)
			// Another accepted proof sweeps the expired record.
			tok2 := e.apply("BL-2", "1000.00")
			key = e.envelopeKey(tok2)
			if st := e.bidderDo("POST", "/bidder/"+tok2+"/giveup", withKey(e.proof(tok2, ActionGiveUp, e.bidder)), &g); st != 200 {
				t.Fatalf("the second give-up: HTTP %d", st)
			}
			if n := tableRows(t, e.svc.db)["inst_used_challenges"]; n != 1 {
				t.Errorf("%d used challenges recorded, want 1 (the expired one swept)", n)
			}
		})
	}
}

// TestChallengeServesOnceAcrossReplicas: two institution processes on one
// PostgreSQL database with one master key: a challenge one issued serves
// at the other (the key is derived from the master key), and once there
// only: its replay to the first is refused.
func TestChallengeServesOnceAcrossReplicas(t *testing.T) {
	e := newEnv(t, true)
	replica, err := New(e.ctx, e.cfg, WithClock(e.clock), WithLogger(e.logger()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { replica.Close() })
	rs := httptest.NewServer(replica.Handler())
	t.Cleanup(rs.Close)

	tok := e.apply("BR-1", "1000.00")
	p := e.proof(tok, ActionGiveUp, e.bidder) // issued by the first
	p.Key = e.envelopeKey(tok)
	body := mustJSON(p)
	res, err := http.Post(rs.URL+"/bidder/"+tok+"/giveup", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("give-up at the replica with the first's challenge: HTTP %d", res.StatusCode)
	}
	var ae apiError
	if st := e.bidderDo("POST", "/bidder/"+tok+"/giveup", body, &ae); st != 403 || !strings.Contains(ae.Error, "challenge: already used") {
		t.Errorf("the same proof at the first: HTTP %d %q, want 403 naming the used challenge", st, ae.Error)
	}
}

// tableRows counts the rows of every table of db's schema.
func tableRows(t *testing.T, db *store.DB) map[string]int {
	t.Helper()
	ctx := context.Background()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if db.Dialect.String() == "postgres" {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	rows.Close()
	out := map[string]int{}
	for _, n := range names {
		var c int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM "`+n+`"`).Scan(&c); err != nil {
			t.Fatal(err)
		}
		out[n] = c
	}
	if _, ok := out["inst_used_challenges"]; !ok {
		t.Fatalf("no table inst_used_challenges among %v", names)
	}
	return out
}

// diffRows names the tables whose row counts differ.
func diffRows(before, after map[string]int) string {
	var d []string
	for k, v := range after {
		if before[k] != v {
			d = append(d, fmt.Sprintf("%s %d→%d", k, before[k], v))
		}
	}
	sort.Strings(d)
	return strings.Join(d, ", ")
}
