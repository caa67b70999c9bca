package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/protocol"
)

// VerifyHandler is the ceiling of an inbound interface: it reads the
// body, parses it (protocol.ParseRequest), looks up the appkey's secret
// and checks the sign (protocol.Verify), and answers code 1. Nothing
// else: no timestamp, replay, field rules, database or message log.
type VerifyHandler struct {
	Secrets map[string]string // appkey -> appsecret
	MaxBody int64             // default 8 MiB
	ok, bad atomic.Int64
}

var okBody = protocol.OK(nil).Marshal()

func (v *VerifyHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	max := v.MaxBody
	if max <= 0 {
		max = 8 << 20
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	fail := func(format string, a ...any) {
		v.bad.Add(1)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(protocol.Fail(format, a...).Marshal())
	}
	if err != nil {
		fail("reading the body: %v", err)
		return
	}
	req, err := protocol.ParseRequest(body)
	if err != nil {
		fail("%v", err)
		return
	}
	secret, ok := v.Secrets[req.Get("appkey")]
	if !ok {
		fail("unknown appkey %q", req.Get("appkey"))
		return
	}
	if vr := protocol.Verify(req, secret); !vr.OK {
		fail("sign mismatch: %s", vr.Diagnosis())
		return
	}
	v.ok.Add(1)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(okBody)
}

// Counts returns the requests verified and refused.
func (v *VerifyHandler) Counts() (ok, refused int64) { return v.ok.Load(), v.bad.Load() }

// VerifyCeiling serves a VerifyHandler on 127.0.0.1 and posts bodies[i]
// to it from the load's clients: the requests per second that parsing and
// checking the sign allow on this machine over loopback HTTP.
func VerifyCeiling(ctx context.Context, secrets map[string]string, path string, bodies [][]byte, l Load) (*Stats, error) {
	h := &VerifyHandler{Secrets: secrets}
	srv, err := ServeLocal(h)
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	p := NewPoster(l.Clients)
	defer p.Close()
	url := srv.URL + "/" + path
	if l.Count <= 0 || l.Count > len(bodies) {
		l.Count = len(bodies)
	}
	st, err := l.Run(ctx, func(ctx context.Context, _, i int) error {
		_, err := p.Post(ctx, url, bodies[i])
		return err
	})
	if err != nil {
		return nil, err
	}
	if _, bad := h.Counts(); bad > 0 && st.Errors == 0 {
		return st, fmt.Errorf("bench: the ceiling refused %d requests", bad)
	}
	return st, nil
}

// CryptoResult is the in-memory decryption ceiling.
type CryptoResult struct {
	Bytes   int64         // plaintext bytes decrypted and hashed
	Elapsed time.Duration // wall time
	Workers int
}

// BytesPerSec is the plaintext throughput.
func (c CryptoResult) BytesPerSec() float64 {
	if c.Elapsed <= 0 {
		return 0
	}
	return float64(c.Bytes) / c.Elapsed.Seconds()
}

// CryptoCeiling decrypts ciphertext (SM4-CBC with key and iv, through
// gm.NewCBCDecryptReader) and hashes the plaintext with SM3, in memory,
// from workers goroutines at once, again and again for at least
// minDuration: the most the upload path can do with the same bytes.
func CryptoCeiling(ctx context.Context, ciphertext, key, iv []byte, workers int, minDuration time.Duration) (CryptoResult, error) {
	workers = max(workers, 1)
	var total atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	start := time.Now()
	deadline := start.Add(minDuration)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64<<10)
			for first := true; first || time.Now().Before(deadline); first = false {
				if ctx.Err() != nil {
					errc <- ctx.Err()
					return
				}
				r, err := gm.NewCBCDecryptReader(bytes.NewReader(ciphertext), key, iv)
				if err != nil {
					errc <- err
					return
				}
				h := sm3.New()
				n, err := io.CopyBuffer(h, r, buf)
				if err != nil {
					errc <- err
					return
				}
				h.Sum(nil)
				total.Add(n)
			}
		}()
	}
	wg.Wait()
	res := CryptoResult{Bytes: total.Load(), Elapsed: time.Since(start), Workers: workers}
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	return res, errors.Join(errs...)
}
