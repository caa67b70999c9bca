package issues

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/web"
	"github.com/baohan-dev/baohan/web/caagent"
)

// caLoginStack is the stack with the platform console mounted in front of
// the platform (as baohan platform serve does; its listen.public_url is
// the platform door's URL) and the bidder's CA agent on 127.0.0.1,
// allowing the platform's and the institution's origins, as a bidder must
// run it: bidders open envelopes on the institution's pages.
type caLoginStack struct {
	*harness.System
	agentURL string
}

func startCALoginStack(t *testing.T, cfg func(*caagent.Config)) *caLoginStack {
	t.Helper()
	s := harness.Start(t, harness.Quiet())
	quiet := slog.New(slog.DiscardHandler)
	pc, err := web.Platform(context.Background(), s.Plat, web.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	s.PlatDoor.Set(pc.Handler(s.Plat.Handler()))
	return &caLoginStack{System: s, agentURL: startAgent(t, s, cfg)}
}

func startAgent(t *testing.T, s *harness.System, cfg func(*caagent.Config)) string {
	t.Helper()
	c := caagent.Config{Key: s.PKI.Bidder.Key, Cert: s.PKI.Bidder.Cert, Origins: []string{s.PlatDoor.URL, s.InstDoor.URL},
		Logger: slog.New(slog.DiscardHandler)}
	cfg(&c)
	agent, err := caagent.New(c)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agent.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + ln.Addr().String()
}

func unattended(c *caagent.Config) { c.Unattended = true }

// postJSON posts v with the headers and returns the status, the body and
// the cookies set.
func postJSON(t *testing.T, hc *http.Client, url string, headers map[string]string, v any) (int, string, []*http.Cookie) {
	t.Helper()
	b, _ := json.Marshal(v)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body), res.Cookies()
}

// attacker is a client with its own cookie jar at the platform console.
type attacker struct {
	t  *testing.T
	s  *caLoginStack
	hc *http.Client
}

func newAttacker(t *testing.T, s *caLoginStack) *attacker {
	jar, _ := cookiejar.New(nil)
	return &attacker{t: t, s: s, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// challenge gets a login challenge from the platform console, as its
// login page does.
func (a *attacker) challenge() string {
	a.t.Helper()
	res, err := a.hc.Get(a.s.PlatDoor.URL + "/console/login")
	if err != nil {
		a.t.Fatal(err)
	}
	res.Body.Close()
	code, body, _ := postJSON(a.t, a.hc, a.s.PlatDoor.URL+"/console/login/challenge", map[string]string{"Origin": a.s.PlatDoor.URL}, struct{}{})
	var m map[string]string
	json.Unmarshal([]byte(body), &m)
	if code != 200 || m["challenge"] == "" {
		a.t.Fatalf("login challenge: %d %s", code, body)
	}
	return m["challenge"]
}

// agentSigns has the CA agent sign challenge for purpose as a page of
// origin asks it to; it returns the status and the answer.
func agentSigns(t *testing.T, agentURL, origin, challenge, purpose string) (int, caagent.ChallengeResponse, string) {
	t.Helper()
	code, body, _ := postJSON(t, http.DefaultClient, agentURL+"/v1/challenge", map[string]string{"Origin": origin},
		map[string]string{"challenge": challenge, "purpose": purpose})
	var out caagent.ChallengeResponse
	json.Unmarshal([]byte(body), &out)
	return code, out, body
}

// login posts the signed challenge to the platform console with the given
// Origin, as a client that is not a browser can (it says what
// Sec-Fetch-Site it likes), and reports whether a bidder session came
// back.
func (a *attacker) login(origin, challenge string, sig caagent.ChallengeResponse) (int, string, bool) {
	a.t.Helper()
	code, body, cookies := postJSON(a.t, a.hc, a.s.PlatDoor.URL+"/console/login/ca",
		map[string]string{"Origin": origin, "Sec-Fetch-Site": "same-origin"},
		map[string]string{"challenge": challenge, "signature": sig.Signature, "cert": sig.Cert})
	session := false
	for _, c := range cookies {
		session = session || (c.Name == "baohan_platform_session" && c.Value != "")
	}
	res, err := a.hc.Get(a.s.PlatDoor.URL + "/console/bidder")
	if err != nil {
		a.t.Fatal(err)
	}
	res.Body.Close()
	return code, body, session || res.StatusCode == 200
}

// TestCALoginFromAnInstitutionOrigin: the platform console checked the CA
// agent's login signature against the login request's Origin header, not
// against its own public origin. The CA agent must allow every
// institution's origin (bidders open envelopes there), so a page on an
// institution's origin (or XSS there) got a login signature from the
// bidder's agent for a challenge the attacker fetched from the platform,
// posted it with that Origin, and received a bidder session: it could then
// read every section the bidder bid on before the opening and give up or
// quit the bidder's guarantees. Reproduced: 200 {"next":"/console/bidder"}.
// A signature is now checked against the console's listen.public_url and
// its purpose (platform-login) only.
func TestCALoginFromAnInstitutionOrigin(t *testing.T) {
	s := startCALoginStack(t, unattended)
	inst, plat := s.InstDoor.URL, s.PlatDoor.URL

	t.Run("control: the bidder's own login", func(t *testing.T) {
		a := newAttacker(t, s)
		ch := a.challenge()
		code, sig, body := agentSigns(t, s.agentURL, plat, ch, "platform-login")
		if code != 200 {
			t.Fatalf("agent: %d %s", code, body)
		}
		if code, body, session := a.login(plat, ch, sig); code != 200 || !session {
			t.Fatalf("the bidder's login from the console's own page: %d %s (session %v)", code, body, session)
		}
	})

	for _, tc := range []struct{ name, signedAt, sentWith string }{
		{"signed at the institution's page, sent with its Origin", inst, inst},
		{"signed at the institution's page, sent with the platform's Origin", inst, plat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAttacker(t, s)
			ch := a.challenge()
			// The institution's page asks the bidder's agent: it is allowed.
			code, sig, body := agentSigns(t, s.agentURL, tc.signedAt, ch, "platform-login")
			if code != 200 {
				t.Fatalf("agent: %d %s", code, body)
			}
			if code, body, session := a.login(tc.sentWith, ch, sig); code == 200 || session {
				t.Fatalf("a login signature made on the institution's page logged in to the platform: %d %s (bidder session %v)", code, body, session)
			}
		})
	}

	t.Run("a signature for withdrawing at the institution is no platform login", func(t *testing.T) {
		a := newAttacker(t, s)
		ch := a.challenge()
		code, sig, body := agentSigns(t, s.agentURL, plat, ch, "institution-quit")
		if code != 200 {
			t.Fatalf("agent: %d %s", code, body)
		}
		if code, body, session := a.login(plat, ch, sig); code == 200 || session {
			t.Fatalf("an institution-quit signature logged in to the platform: %d %s (bidder session %v)", code, body, session)
		}
	})

	t.Run("a platform login signature withdraws nothing at the institution", func(t *testing.T) {
		applyNo := s.Issued(s.Section(time.Hour).No, 30*time.Second)
		token := s.Token(applyNo, 10*time.Second)
		quit := func(purpose string) (int, string) {
			var c institution.Challenge
			code, body, _ := postJSON(t, http.DefaultClient, inst+"/bidder/"+token+"/challenge", nil, institution.ChallengeRequest{Action: institution.ActionQuit})
			if json.Unmarshal([]byte(body), &c); code != 200 || c.Challenge == "" {
				t.Fatalf("quit challenge: %d %s", code, body)
			}
			code, sig, body := agentSigns(t, s.agentURL, inst, c.Challenge, purpose)
			if code != 200 {
				t.Fatalf("agent: %d %s", code, body)
			}
			code, body, _ = postJSON(t, http.DefaultClient, inst+"/bidder/"+token+"/quit", nil, institution.BidderQuitRequest{Reason: "不再投标",
				BidderProof: institution.BidderProof{Challenge: c.Challenge, Signature: sig.Signature, Cert: sig.Cert}})
			return code, body
		}
		for _, p := range []string{"platform-login", "institution-giveup"} {
			if code, body := quit(p); code == 200 || s.InstApp(applyNo).State != institution.Issued {
				t.Fatalf("a %s signature withdrew the guarantee: %d %s", p, code, body)
			}
		}
		// The agent's institution-quit signature, made on the
		// institution's page, does.
		if code, body := quit("institution-quit"); code != 200 {
			t.Fatalf("the bidder's own withdrawal through the CA agent: %d %s", code, body)
		}
	})
}

// TestCAAgentAsksBeforeSigning: the CA agent signed whatever an allowed
// page asked, at once and without the person knowing. Attended (the
// default of baohan ca-agent), it shows what it is asked and signs only
// once the person allows it: unanswered, or refused, nothing is signed.
func TestCAAgentAsksBeforeSigning(t *testing.T) {
	s := harness.Start(t, harness.Quiet())
	code := regexp.MustCompile(`type (\d{4}) to allow`)
	for _, tc := range []struct {
		name   string
		answer func(question string) string // the line typed at the agent's terminal; nil: nobody answers
		signs  bool
	}{
		{"nobody answers", nil, false},
		{"the person refuses", func(string) string { return "no" }, false},
		{"the person types yes, not the code shown", func(string) string { return "yes" }, false},
		{"the person types the code shown", func(q string) string { return code.FindStringSubmatch(q)[1] }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr, pw := io.Pipe()
			defer pw.Close()
			prompt := &harness.LogBuffer{} // what the attended agent shows the person
			agentURL := startAgent(t, s, func(c *caagent.Config) {
				c.Confirm = caagent.TerminalConfirm(pr, prompt)
				c.ConfirmTimeout = 500 * time.Millisecond
			})
			if tc.answer != nil {
				go func() {
					// Answer once the question is shown.
					for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
						if q := prompt.String(); code.MatchString(q) {
							io.WriteString(pw, tc.answer(q)+"\n")
							return
						}
					}
				}()
			}
			status, sig, body := agentSigns(t, agentURL, s.InstDoor.URL, "0123456789abcdef0123456789", "platform-login")
			if signed := status == 200 && sig.Signature != ""; signed != tc.signs {
				t.Fatalf("signed %v, want %v: %d %.120s", signed, tc.signs, status, body)
			}
			// What the person was shown: the purpose and the page's origin.
			if p := prompt.String(); !strings.Contains(p, "platform-login") || !strings.Contains(p, strings.ToLower(s.InstDoor.URL)) {
				t.Errorf("the question does not show the purpose and origin: %q", p)
			}
		})
	}
}
