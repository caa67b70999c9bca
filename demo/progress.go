package demo

import (
	"context"
	"fmt"
	"time"
)

var spinnerFrames = []rune("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")

// spin redraws the status line with a spinner on a terminal; the
// returned func stops it and clears the line.
func (r *runner) spin() func() {
	if !r.o.TTY || r.o.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			r.mu.Lock()
			r.drawLocked(spinnerFrames[i%len(spinnerFrames)])
			r.mu.Unlock()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
		r.mu.Lock()
		r.clearLocked()
		r.mu.Unlock()
	}
}

// drawLocked draws the status line, cut to fit an 80-column terminal (a
// wrapped line could not be redrawn in place).
func (r *runner) drawLocked(frame rune) {
	fmt.Fprintf(r.o.Progress, "\r\033[K[%2d/%d] %c %s", r.n, r.of, frame, clipWidth(r.status, 68))
}

// clipWidth cuts s to n display columns (a CJK character is two).
func clipWidth(s string, n int) string {
	w := 0
	for i, c := range s {
		cw := 1
		if c >= 0x2E80 {
			cw = 2
		}
		if w+cw > n-1 {
			return s[:i] + "…"
		}
		w += cw
	}
	return s
}

func (r *runner) clearLocked() {
	if r.o.TTY && r.o.Progress != nil {
		fmt.Fprint(r.o.Progress, "\r\033[K")
	}
}

func (r *runner) setStatus(s string) {
	r.mu.Lock()
	r.status = s
	r.mu.Unlock()
}

// stepDone prints the step's line.
func (r *runner) stepDone(s StepResult) {
	if r.o.Progress == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clearLocked()
	mark := "ok  "
	if !s.OK {
		mark = "FAIL"
	}
	line := fmt.Sprintf("[%2d/%d] %s %s › %s (%s)", r.n, r.of, mark, shortName(s.Scenario), s.Step, fmtMillis(s.Millis))
	if s.OK && s.Detail != "" {
		line += "\n         " + s.Detail
	}
	if !s.OK {
		line += "\n         " + s.Error
	}
	fmt.Fprintln(r.o.Progress, line)
}

// countdown shows the time left until an event while waiting for it.
func (r *runner) countdown(ctx context.Context, what string, d time.Duration) {
	base := r.status
	end := time.Now().Add(d)
	for {
		left := time.Until(end)
		if left <= 0 {
			break
		}
		r.setStatus(fmt.Sprintf("%s (%s in %ds)", base, what, int(left.Seconds()+0.999)))
		select {
		case <-ctx.Done():
			r.setStatus(base)
			return
		case <-time.After(min(left, 250*time.Millisecond)):
		}
	}
	r.setStatus(base)
}

// printExchange writes one exchange line.
func (r *runner) printExchange(e Exchange) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clearLocked() // the spinner redraws at its next tick
	fmt.Fprintln(r.o.Exchanges, FormatExchange(e, r.start))
}

// FormatExchange is the one-line form of an exchange: time since start,
// direction, interface, applyno, code, milliseconds, detail.
func FormatExchange(e Exchange, start time.Time) string {
	code := fmt.Sprintf("code %d", e.Code)
	if e.Code < 0 {
		code = fmt.Sprintf("HTTP %d", e.HTTP)
	}
	id := e.ApplyNo
	if id == "" {
		id = e.BaohanNo
	}
	s := fmt.Sprintf("  +%6.2fs  %-11s → %-11s  %-24s  %-22s  %-7s %7s", e.At.Sub(start).Seconds(), e.From, e.To, e.Interface, id, code, fmtMillis(e.Millis))
	if e.Extra != "" {
		s += "  " + e.Extra
	}
	if e.Code == 0 && e.Message != "" {
		s += "  « " + e.Message + " »"
	}
	return s
}

func fmtMillis(ms float64) string {
	if ms >= 1000 {
		return fmt.Sprintf("%.2f s", ms/1000)
	}
	return fmt.Sprintf("%.1f ms", ms)
}

// shortName is the scenario's name without its English part.
func shortName(s string) string {
	for i, c := range s {
		if c == '(' {
			return s[:i-1]
		}
	}
	return s
}
