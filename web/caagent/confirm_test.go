package caagent

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/bidderauth"
	"github.com/baohan-dev/baohan/gm"
)

// TestAttended: an attended agent does nothing with the key until the
// person allows it, and shows what it is asked (kind, origin, purpose,
// challenge, application, document).
func TestAttended(t *testing.T) {
	key, cert := selfSigned(t, "某某建设有限公司", "91110000MA01ABCDEX")
	var (
		mu     sync.Mutex
		asked  []Operation
		answer error
		signed int
	)
	a, err := New(Config{Key: key, Cert: cert, Origins: []string{origin, "https://fi.example.cn"},
		Confirm: func(ctx context.Context, op Operation) error {
			mu.Lock()
			defer mu.Unlock()
			asked = append(asked, op)
			return answer
		},
		SignAgreement: func(ctx context.Context, ofd []byte, k *sm2.PrivateKey, c *smx509.Certificate) ([]byte, error) {
			mu.Lock()
			signed++
			mu.Unlock()
			return append([]byte("signed:"), ofd...), nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := a.Handler("h:1")
	const ch = "quit-Zm9vYmFyYmF6cXV4cXV1eA"
	_, env, _ := gm.SealEnvelope(&key.PublicKey, []byte(`{"applyno":"BH001"}`), gm.C1C3C2)
	doc := []byte("PK\x03\x04ofd")
	for _, tc := range []struct {
		name string
		c    call
		want Operation
	}{
		{"challenge", call{"POST", "/v1/challenge", "h:1", "https://fi.example.cn", "application/json",
			`{"challenge":"` + ch + `","purpose":"institution-quit","applyno":"BH2026000001"}`},
			Operation{Kind: SignChallenge, Origin: "https://fi.example.cn", Purpose: bidderauth.InstitutionQuit, Challenge: ch, ApplyNo: "BH2026000001"}},
		{"envelope", call{"POST", "/v1/envelope", "h:1", "https://fi.example.cn", "application/json",
			`{"digitalenvelope":"` + env + `","applyno":"BH2026000001"}`},
			Operation{Kind: OpenEnvelope, Origin: "https://fi.example.cn", ApplyNo: "BH2026000001"}},
		{"agreement", call{"POST", "/v1/agreement", "h:1", "https://fi.example.cn", "application/json",
			`{"ofd":"` + base64.StdEncoding.EncodeToString(doc) + `","applyno":"BH2026000001"}`},
			Operation{Kind: SignAgreement, Origin: "https://fi.example.cn", ApplyNo: "BH2026000001",
				Document: fmt.Sprintf("7 bytes, SM3 %x", sm3.Sum(doc))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			asked, answer, signed = nil, ErrDeclined, 0
			mu.Unlock()
			w := tc.c.do(h)
			var e ErrorBody
			json.Unmarshal(w.Body.Bytes(), &e)
			if w.Code != http.StatusForbidden || !strings.Contains(e.Error, "declined") {
				t.Fatalf("declined: %d %s, want 403 saying it was declined", w.Code, w.Body)
			}
			if strings.Contains(w.Body.String(), "signature") || strings.Contains(w.Body.String(), `"key"`) || signed != 0 {
				t.Fatalf("declined, yet the key was used: %s (agreement signed %d times)", w.Body, signed)
			}
			if len(asked) != 1 {
				t.Fatalf("asked %d times", len(asked))
			}
			got := asked[0]
			if got != tc.want {
				t.Errorf("asked %+v, want %+v", got, tc.want)
			}
			s := got.String()
			for _, part := range []string{"https://fi.example.cn", "BH2026000001", tc.want.Document} {
				if !strings.Contains(s, part) {
					t.Errorf("the question %q does not show %q", s, part)
				}
			}

			mu.Lock()
			answer = nil
			mu.Unlock()
			if w := tc.c.do(h); w.Code != 200 {
				t.Fatalf("allowed: %d %s", w.Code, w.Body)
			}
		})
	}
	if s := (Operation{Kind: SignChallenge, Origin: origin, Purpose: bidderauth.PlatformLogin, Challenge: ch}).String(); !strings.Contains(s, "platform-login") || !strings.Contains(s, "登录") {
		t.Errorf("a login question: %q", s)
	}

	// Nobody answers: refused when the confirmation times out.
	slow, err := New(Config{Key: key, Cert: cert, Origins: []string{origin}, ConfirmTimeout: 20 * time.Millisecond,
		Confirm: func(ctx context.Context, op Operation) error { <-ctx.Done(); return ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	w := call{"POST", "/v1/challenge", "h:1", origin, "application/json", `{"challenge":"` + ch + `","purpose":"platform-login"}`}.do(slow.Handler("h:1"))
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "deadline") {
		t.Fatalf("unanswered: %d %s", w.Code, w.Body)
	}
}

// terminalUnderTest runs TerminalConfirm on pipes.
type terminalUnderTest struct {
	t       *testing.T
	confirm ConfirmFunc
	in      *io.PipeWriter
	mu      sync.Mutex
	out     strings.Builder
}

func newTerminal(t *testing.T) *terminalUnderTest {
	pr, pw := io.Pipe()
	tt := &terminalUnderTest{t: t, in: pw}
	tt.confirm = TerminalConfirm(pr, tt)
	t.Cleanup(func() { pw.Close() })
	return tt
}

func (tt *terminalUnderTest) Write(p []byte) (int, error) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return tt.out.Write(p)
}

func (tt *terminalUnderTest) String() string {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return tt.out.String()
}

var codeRE = regexp.MustCompile(`type (\d{4}) to allow`)

// ask starts a question and returns its code (once shown) and its answer.
func (tt *terminalUnderTest) ask(ctx context.Context, op Operation) (string, chan error) {
	tt.t.Helper()
	before := len(codeRE.FindAllStringSubmatch(tt.String(), -1))
	done := make(chan error, 1)
	go func() { done <- tt.confirm(ctx, op) }()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if m := codeRE.FindAllStringSubmatch(tt.String(), -1); len(m) > before {
			return m[len(m)-1][1], done
		}
		select {
		case err := <-done:
			tt.t.Fatalf("answered before asking: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	tt.t.Fatalf("no question shown: %q", tt.String())
	return "", nil
}

func (tt *terminalUnderTest) typeLine(s string) {
	tt.t.Helper()
	if _, err := io.WriteString(tt.in, s+"\n"); err != nil {
		tt.t.Fatal(err)
	}
}

func TestTerminalConfirm(t *testing.T) {
	op := Operation{Kind: SignChallenge, Origin: "https://ggzy.example.cn", Purpose: bidderauth.PlatformLogin, Challenge: "Zm9vYmFyYmF6cXV4cXV1eA"}
	ctx := context.Background()

	t.Run("the code allows", func(t *testing.T) {
		tt := newTerminal(t)
		code, done := tt.ask(ctx, op)
		tt.typeLine(" " + code + " ")
		if err := <-done; err != nil {
			t.Fatalf("allowed with the code: %v", err)
		}
		if s := tt.String(); !strings.Contains(s, "platform-login") || !strings.Contains(s, "https://ggzy.example.cn") {
			t.Errorf("the question does not show the purpose and origin: %q", s)
		}
	})
	t.Run("no refuses", func(t *testing.T) {
		tt := newTerminal(t)
		_, done := tt.ask(ctx, op)
		tt.typeLine("NO")
		if err := <-done; !errors.Is(err, ErrDeclined) {
			t.Fatalf("no: %v", err)
		}
	})
	t.Run("yes and old codes do not allow", func(t *testing.T) {
		tt := newTerminal(t)
		old, done := tt.ask(ctx, op)
		tt.typeLine(old)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		code, done := tt.ask(ctx, op)
		wrong := []string{"yes", "y", "", old + "0"}
		if old != code {
			wrong = append(wrong, old)
		}
		for _, l := range wrong {
			tt.typeLine(l)
		}
		// Each wrong line is answered with the question again.
		deadline := time.Now().Add(5 * time.Second)
		for strings.Count(tt.String(), "type "+code+" to allow") < 1+len(wrong) {
			select {
			case err := <-done:
				t.Fatalf("answered by a line that is not the code: %v", err)
			case <-time.After(time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("the wrong lines were not answered with the question again: %q", tt.String())
			}
		}
		tt.typeLine(code)
		if err := <-done; err != nil {
			t.Fatalf("the code after wrong lines: %v", err)
		}
	})
	t.Run("no answer in time", func(t *testing.T) {
		tt := newTerminal(t)
		c, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
		defer cancel()
		if err := tt.confirm(c, op); err == nil || !strings.Contains(err.Error(), "in time") {
			t.Fatalf("unanswered: %v", err)
		}
	})
	t.Run("input closed", func(t *testing.T) {
		for _, in := range []io.Reader{nil, strings.NewReader("")} {
			var out strings.Builder
			if err := TerminalConfirm(in, &out)(ctx, op); err == nil || !strings.Contains(err.Error(), "--unattended") {
				t.Fatalf("no input: %v", err)
			}
		}
	})
	t.Run("one question at a time", func(t *testing.T) {
		tt := newTerminal(t)
		code, done := tt.ask(ctx, op)
		c, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
		defer cancel()
		if err := tt.confirm(c, op); err == nil || !strings.Contains(err.Error(), "another request") {
			t.Fatalf("second question while the first waits: %v", err)
		}
		tt.typeLine(code)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
