package bench

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/ses"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
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
	if _, ok := v.check(w, r); ok {
		v.answerOK(w)
	}
}

// check reads, parses and verifies the request; when it fails it has
// answered.
func (v *VerifyHandler) check(w http.ResponseWriter, r *http.Request) (*protocol.Request, bool) {
	max := v.MaxBody
	if max <= 0 {
		max = 8 << 20
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		v.fail(w, "reading the body: %v", err)
		return nil, false
	}
	req, err := protocol.ParseRequest(body)
	if err != nil {
		v.fail(w, "%v", err)
		return nil, false
	}
	secret, ok := v.Secrets[req.Get("appkey")]
	if !ok {
		v.fail(w, "unknown appkey %q", req.Get("appkey"))
		return nil, false
	}
	if vr := protocol.Verify(req, secret); !vr.OK {
		v.fail(w, "sign mismatch: %s", vr.Diagnosis())
		return nil, false
	}
	return req, true
}

func (v *VerifyHandler) fail(w http.ResponseWriter, format string, a ...any) {
	v.bad.Add(1)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(protocol.Fail(format, a...).Marshal())
}

func (v *VerifyHandler) answerOK(w http.ResponseWriter) {
	v.ok.Add(1)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(okBody)
}

// DurableHandler is a VerifyHandler that also makes one durable write
// per request before it answers: it inserts the request's (appkey, sign)
// into a table of its own through store.DB.InTx, the services' own path
// (group commit on SQLite, a pooled transaction and its fsync on
// PostgreSQL). It is not a ceiling but a reference point: what the
// least durable state change costs on this machine and database, beside
// the ceiling that makes none.
type DurableHandler struct {
	VerifyHandler
	DB *store.DB
}

// durableRefTable is the DurableHandler's table.
const durableRefTable = "bench_durable_ref"

func (d *DurableHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, ok := d.check(w, r)
	if !ok {
		return
	}
	err := d.DB.InTx(r.Context(), func(tx *sql.Tx) error {
		_, err := tx.ExecContext(r.Context(), d.DB.Rebind(`INSERT INTO `+durableRefTable+` (appkey, sign) VALUES (?, ?)`),
			req.Get("appkey"), req.Get("sign"))
		return err
	})
	if err != nil {
		d.fail(w, "recording: %v", err)
		return
	}
	d.answerOK(w)
}

// DurableReference serves a DurableHandler on 127.0.0.1, on a fresh
// database of the given kind (a SQLite file under dir, or a new schema on
// the PostgreSQL at pgURL, dropped after), and posts bodies[i] to it from
// the load's clients.
func DurableReference(ctx context.Context, kind, pgURL, dir string, secrets map[string]string, path string, bodies [][]byte, l Load) (*Stats, error) {
	dbURL, cleanup, err := newDatabase(ctx, kind, pgURL, dir, "durable_ref")
	if err != nil {
		return nil, err
	}
	defer cleanup()
	db, err := store.Open(ctx, dbURL, dir, store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	h, err := NewDurableHandler(ctx, db, secrets)
	if err != nil {
		return nil, err
	}
	return serveAndPost(ctx, h, path, bodies, l)
}

// durableReference measures DurableReference for a scenario's row: the
// scenario's bodies, clients and database kind.
func (r *runner) durableReference(ctx context.Context, label, db string, secrets map[string]string, i protocol.Interface, bodies [][]byte, total int) (*Stats, error) {
	r.logf("%s: durable reference (parse + verify + one committed INSERT) with %d clients", label, r.o.Clients)
	var ref *Stats
	err := r.timed(label+"-durable", func() error {
		var err error
		ref, err = DurableReference(ctx, db, r.o.PostgresURL, r.workDir(label+"-durable"), secrets, string(i), bodies, Load{Clients: r.o.Clients, Count: total})
		return err
	})
	if err == nil {
		r.logf("%s: durable reference %s", label, ref)
	}
	return ref, err
}

// NewDurableHandler makes the DurableHandler's table in db.
func NewDurableHandler(ctx context.Context, db *store.DB, secrets map[string]string) (*DurableHandler, error) {
	if _, err := db.Writer().ExecContext(ctx, `CREATE TABLE `+durableRefTable+` (appkey TEXT NOT NULL, sign TEXT NOT NULL, PRIMARY KEY (appkey, sign))`); err != nil {
		return nil, fmt.Errorf("bench: durable reference table: %w", err)
	}
	return &DurableHandler{VerifyHandler: VerifyHandler{Secrets: secrets}, DB: db}, nil
}

// Counts returns the requests verified and refused.
func (v *VerifyHandler) Counts() (ok, refused int64) { return v.ok.Load(), v.bad.Load() }

// VerifyCeiling serves a VerifyHandler on 127.0.0.1 and posts bodies[i]
// to it from the load's clients: the requests per second that parsing and
// checking the sign allow on this machine over loopback HTTP.
func VerifyCeiling(ctx context.Context, secrets map[string]string, path string, bodies [][]byte, l Load) (*Stats, error) {
	return serveAndPost(ctx, &VerifyHandler{Secrets: secrets}, path, bodies, l)
}

// counter is a handler that counts what it verified and refused.
type counter interface {
	http.Handler
	Counts() (ok, refused int64)
}

func serveAndPost(ctx context.Context, h counter, path string, bodies [][]byte, l Load) (*Stats, error) {
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
	if _, bad := h.Counts(); bad > 0 {
		return st, fmt.Errorf("bench: the reference handler refused %d of %d requests", bad, st.N)
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
	return repeat(ctx, workers, minDuration, func() func() (int64, error) {
		buf := make([]byte, 64<<10)
		return func() (int64, error) {
			r, err := gm.NewCBCDecryptReader(bytes.NewReader(ciphertext), key, iv)
			if err != nil {
				return 0, err
			}
			h := sm3.New()
			n, err := io.CopyBuffer(h, r, buf)
			h.Sum(nil)
			return n, err
		}
	})
}

// UploadFloor is the least work the protocol makes the receiving side do
// for one encrypted guarantee, measured in memory (no HTTP, database or
// disk): for each chunk's signed uploadbaohanfile body, parse it and check
// its sign (an SM3 over the chunk's base64 text) and decode the base64;
// then SM4-CBC-decrypt the assembled ciphertext while computing the
// SM3 of the plaintext (baohanfilemd5), and verify the seals of the OFD
// (GB/T 38540: an SM3 of every signed entry of the document and the
// signatures). It is a second reference beside CryptoCeiling, which
// decrypts and hashes once: the distance between the two is what the
// protocol itself costs.
func UploadFloor(ctx context.Context, bodies [][]byte, secret string, key, iv []byte, roots *smx509.CertPool, workers int, minDuration time.Duration) (CryptoResult, error) {
	return repeat(ctx, workers, minDuration, func() func() (int64, error) {
		var ct, plain bytes.Buffer
		buf := make([]byte, 64<<10)
		return func() (int64, error) {
			return uploadFloorOnce(bodies, secret, key, iv, roots, &ct, &plain, buf)
		}
	})
}

// repeat runs, on workers goroutines at once, the function each gets from
// newWorker (its buffers its own), again and again for at least
// minDuration (once at least), and adds up the bytes they report.
func repeat(ctx context.Context, workers int, minDuration time.Duration, newWorker func() func() (int64, error)) (CryptoResult, error) {
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
			once := newWorker()
			for first := true; first || time.Now().Before(deadline); first = false {
				if ctx.Err() != nil {
					errc <- ctx.Err()
					return
				}
				n, err := once()
				if err != nil {
					errc <- err
					return
				}
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

func uploadFloorOnce(bodies [][]byte, secret string, key, iv []byte, roots *smx509.CertPool, ct, plain *bytes.Buffer, buf []byte) (int64, error) {
	ct.Reset()
	plain.Reset()
	for i, body := range bodies {
		req, err := protocol.ParseRequest(body)
		if err != nil {
			return 0, fmt.Errorf("bench: upload floor: chunk %d: %w", i+1, err)
		}
		if vr := protocol.Verify(req, secret); !vr.OK {
			return 0, fmt.Errorf("bench: upload floor: chunk %d: sign mismatch: %s", i+1, vr.Diagnosis())
		}
		data, err := gm.DecodeBase64(req.Get("baohanfile"))
		if err != nil {
			return 0, fmt.Errorf("bench: upload floor: chunk %d: %w", i+1, err)
		}
		ct.Write(data)
	}
	r, err := gm.NewCBCDecryptReader(bytes.NewReader(ct.Bytes()), key, iv)
	if err != nil {
		return 0, err
	}
	h := sm3.New()
	n, err := io.CopyBuffer(io.MultiWriter(plain, h), r, buf)
	if err != nil {
		return 0, fmt.Errorf("bench: upload floor: decrypting: %w", err)
	}
	h.Sum(nil)
	rep, err := ses.VerifyReaderAt(bytes.NewReader(plain.Bytes()), int64(plain.Len()), ofd.DefaultLimits, roots)
	if err != nil {
		return 0, fmt.Errorf("bench: upload floor: seals: %w", err)
	}
	if !rep.OK() {
		return 0, errors.New("bench: upload floor: the seals do not verify")
	}
	return n, nil
}
