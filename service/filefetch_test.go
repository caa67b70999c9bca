package service

import (
	"context"
	"database/sql"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/store/storetest"
	"github.com/baohan-dev/baohan/transport"
)

// TestFileFetches fetches files over TLS and keeps them: a file is kept
// with its SM3; an oversize one, a plain-http URL and a missing one fail
// for good with the reason; one that fails for a while is retried with
// backoff until it is fetched; one that keeps failing fails once out of
// attempts; and the kept copies read back as they were fetched.
func TestFileFetches(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		voucher := []byte("%PDF-1.4 转账凭证")
		var flaky atomic.Int32 // failures left of /flaky.pdf
		flaky.Store(2)
		var down atomic.Int32
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/voucher.pdf":
				w.Write(voucher)
			case "/big.pdf":
				w.Write(make([]byte, 4096))
			case "/flaky.pdf":
				if flaky.Add(-1) >= 0 {
					w.WriteHeader(http.StatusBadGateway)
					return
				}
				w.Write(voucher)
			case "/down.pdf":
				down.Add(1)
				w.WriteHeader(http.StatusServiceUnavailable)
			default:
				http.NotFound(w, r)
			}
		}))
		defer srv.Close()

		db, err := store.Open(ctx, dbURL, t.TempDir(), store.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
		f := &FileFetches{DB: db, Blobs: store.NewDBBlobs(db), Now: func() time.Time { return now },
			Fetcher: &transport.FileFetcher{Client: srv.Client(), MaxSize: 1024, AllowPrivate: true}, // srv is on loopback
			Backoff: store.Backoff{Initial: time.Minute, Max: time.Hour, Multiplier: 2, Jitter: -1, MaxAttempts: 3}}
		urls := []string{srv.URL + "/voucher.pdf", srv.URL + "/big.pdf", srv.URL + "/flaky.pdf", srv.URL + "/down.pdf",
			"http://ggzy.example.cn/plain.pdf", srv.URL + "/missing.pdf"}
		enqueue := func() {
			if err := db.InTx(ctx, func(tx *sql.Tx) error { return f.Enqueue(ctx, tx, "claim:1", urls) }); err != nil {
				t.Fatal(err)
			}
		}
		enqueue()
		enqueue() // again: a no-op

		// Nothing is fetched before a job runs: Enqueue only records.
		list, err := f.List(ctx, "claim:1")
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != len(urls) || list[0].Status != FilePending || list[4].Status != FileFailed {
			t.Fatalf("after Enqueue: %+v", list)
		}

		type want struct{ status, reason string }
		check := func(step string, wants []want) {
			t.Helper()
			list, err := f.List(ctx, "claim:1")
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range wants {
				if list[i].URL != urls[i] || list[i].Status != w.status || !strings.Contains(list[i].Reason, w.reason) {
					t.Errorf("%s: file %d: %s %q, want %s %q", step, i, list[i].Status, list[i].Reason, w.status, w.reason)
				}
			}
		}
		if n, err := f.FetchDue(ctx, 16); err != nil || n != 5 {
			t.Fatalf("first round: %d %v", n, err)
		}
		check("first round", []want{
			{FileFetched, ""},
			{FileFailed, "over the limit of 1024"},
			{FilePending, "502"},
			{FilePending, "503"},
			{FileFailed, "https only"},
			{FileFailed, "404"},
		})
		// Not due yet: nothing is tried.
		if n, err := f.FetchDue(ctx, 16); err != nil || n != 0 {
			t.Fatalf("before the backoff: %d %v", n, err)
		}
		now = now.Add(time.Minute)
		if n, _ := f.FetchDue(ctx, 16); n != 2 {
			t.Fatalf("second round tried %d", n)
		}
		check("second round", []want{{FileFetched, ""}, {FileFailed, "over"}, {FilePending, "502"}, {FilePending, "503"}})
		now = now.Add(2 * time.Minute)
		f.FetchDue(ctx, 16)
		check("third round", []want{{FileFetched, ""}, {FileFailed, "over"}, {FileFetched, ""}, {FileFailed, "503"}})
		if down.Load() != 3 {
			t.Errorf("/down.pdf tried %d times, want 3", down.Load())
		}
		now = now.Add(24 * time.Hour)
		if n, _ := f.FetchDue(ctx, 16); n != 0 {
			t.Errorf("files done are tried again: %d", n)
		}

		sum := sm3.Sum(voucher)
		for _, i := range []int{0, 2} {
			k, data, err := f.Open(ctx, "claim:1", i)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != string(voucher) || k.SM3 != hex.EncodeToString(sum[:]) || k.Size != int64(len(voucher)) {
				t.Errorf("kept copy %d: %q sm3 %s size %d", i, data, k.SM3, k.Size)
			}
			if k.Attempts != []int{1, 3}[i/2] {
				t.Errorf("file %d fetched after %d attempts", i, k.Attempts)
			}
		}
		if _, _, err := f.Open(ctx, "claim:1", 1); err != store.ErrNotFound {
			t.Errorf("a failed file opens: %v", err)
		}
	})
}
