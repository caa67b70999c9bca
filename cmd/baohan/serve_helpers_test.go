package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to read while a command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServing runs the command args (a `serve`) until the test stops
// it, waiting up to 30s for its standard output to match serving, whose
// first group is the URL it serves at. stop cancels the command and
// fails the test unless it then exits 0.
func startServing(t *testing.T, serving *regexp.Regexp, args ...string) (url string, out *syncBuffer, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out = &syncBuffer{}
	errb := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, &Env{Stdin: strings.NewReader(""), Stdout: out, Stderr: errb}, args)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := serving.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
			break
		}
		select {
		case code := <-done:
			cancel()
			t.Fatalf("exited %d before serving: %s %s", code, out.String(), errb.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("not serving: %s %s", out.String(), errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return url, out, func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("exit %d: %s", code, errb.String())
		}
	}
}
