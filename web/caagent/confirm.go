package caagent

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"

	"github.com/baohan-dev/baohan/bidderauth"
)

// Kind is what a page asks the agent to do with the bidder's key.
type Kind string

// The kinds of operation.
const (
	SignChallenge Kind = "sign-challenge" // POST /v1/challenge
	OpenEnvelope  Kind = "open-envelope"  // POST /v1/envelope
	SignAgreement Kind = "sign-agreement" // POST /v1/agreement
)

// An Operation is one use of the bidder's key a page asks for, as it is
// shown to the person before it is done.
type Operation struct {
	Kind   Kind
	Origin string // the asking page's origin (its Origin header, in the allowlist)
	// Purpose and Challenge: what a SignChallenge signature is for, and
	// the service's challenge.
	Purpose   bidderauth.Purpose
	Challenge string
	// ApplyNo is the application as the page names it (the agent cannot
	// check it): shown so that the person sees which application a page
	// claims to act on.
	ApplyNo string
	// Document describes what SignAgreement seals: its size and SM3 digest.
	Document string
}

// String is the operation as the person is asked about it, one line per
// field.
func (o Operation) String() string {
	var b strings.Builder
	switch o.Kind {
	case SignChallenge:
		fmt.Fprintf(&b, "签名 (sign) %s: %s\n", o.Purpose, o.Purpose.Describe())
	case OpenEnvelope:
		b.WriteString("打开数字信封 (open a digital envelope: the application data sealed for this certificate)\n")
	case SignAgreement:
		b.WriteString("签署保函委托协议 (seal the guarantee agreement with the bidder's signature)\n")
	default:
		fmt.Fprintf(&b, "%s\n", o.Kind)
	}
	fmt.Fprintf(&b, "  页面 (page origin):  %s\n", o.Origin)
	if o.ApplyNo != "" {
		fmt.Fprintf(&b, "  投保申请 (application, as the page names it): %s\n", o.ApplyNo)
	}
	if o.Challenge != "" {
		fmt.Fprintf(&b, "  挑战 (challenge):     %s\n", o.Challenge)
	}
	if o.Document != "" {
		fmt.Fprintf(&b, "  文件 (document):      %s\n", o.Document)
	}
	return b.String()
}

// ConfirmFunc asks the person whether the agent may do op. It returns nil
// to go ahead, or an error saying why not (declined, no answer before
// ctx's deadline, nobody to ask); the page gets the error's text.
type ConfirmFunc func(ctx context.Context, op Operation) error

// ErrDeclined is the person's refusal.
var ErrDeclined = errors.New("the person at the CA agent declined")

// TerminalConfirm asks on a terminal: it writes the operation and a
// fresh four-digit code to out and reads answers, lines, from in. The
// code allows the operation, "no" refuses it; other lines are answered
// with the question again, until ctx's deadline refuses it. The code is
// new for every question, so an answer typed ahead or left over from an
// earlier question never allows another operation. One question at a
// time: other requests wait their turn (each within its own deadline).
// When in ends (not a terminal, closed) every request is refused.
func TerminalConfirm(in io.Reader, out io.Writer) ConfirmFunc {
	t := &terminal{out: out, lines: make(chan string), turn: make(chan struct{}, 1)}
	if in == nil {
		close(t.lines)
	} else {
		go t.read(in)
	}
	return t.confirm
}

type terminal struct {
	turn  chan struct{} // holds a token while a question is shown
	out   io.Writer
	lines chan string // closed when in ends
}

func (t *terminal) read(in io.Reader) {
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		t.lines <- sc.Text()
	}
	close(t.lines)
}

func (t *terminal) confirm(ctx context.Context, op Operation) error {
	// Wait for the turn as long as ctx allows.
	select {
	case t.turn <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("no answer at the CA agent in time (another request was being confirmed): %w", context.Cause(ctx))
	}
	defer func() { <-t.turn }()

	n, err := rand.Int(rand.Reader, big.NewInt(9000))
	if err != nil {
		return err
	}
	code := fmt.Sprint(1000 + n.Int64())
	wait := ""
	if d, ok := ctx.Deadline(); ok {
		wait = fmt.Sprintf(", %s", time.Until(d).Round(time.Second))
	}
	question := fmt.Sprintf("允许请输入确认码 %s，拒绝请输入 no (type %s to allow, no to refuse%s): ", code, code, wait)
	fmt.Fprintf(t.out, "\nCA 证书助手 · 请确认 (confirm)\n%s%s", op, question)
	for {
		select {
		case l, ok := <-t.lines:
			if !ok {
				fmt.Fprintln(t.out, "\n(no terminal input: refused)")
				return errors.New("the CA agent cannot ask the person (its input is closed): run baohan ca-agent in a terminal, or with --unattended for a demo or a test")
			}
			switch a := strings.ToLower(strings.TrimSpace(l)); a {
			case code:
				fmt.Fprintln(t.out, "已允许 (allowed)")
				return nil
			case "no", "n":
				fmt.Fprintln(t.out, "已拒绝 (refused)")
				return ErrDeclined
			}
			fmt.Fprint(t.out, question)
		case <-ctx.Done():
			fmt.Fprintln(t.out, "\n(no answer in time: refused)")
			return fmt.Errorf("no answer at the CA agent in time: %w", context.Cause(ctx))
		}
	}
}
