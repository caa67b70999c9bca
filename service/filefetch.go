package service

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/transport"
)

// Statuses of a fetched file.
const (
	FilePending = "pending" // not fetched yet (or failed and to be tried again)
	FileFetched = "fetched" // kept as a blob
	FileFailed  = "failed"  // refused for good or out of attempts
)

// FetchEvery is how often Run looks for files due to be fetched when
// FileFetches.Every is zero.
const FetchEvery = 5 * time.Second

// FileBackoff is the retry policy of a file that could not be fetched.
var FileBackoff = store.Backoff{Initial: 10 * time.Second, Max: time.Hour, Multiplier: 2, Jitter: 0.2, MaxAttempts: 12}

// FileFetches fetches and keeps the files peers name by URL (a claim's
// file list, a claim outcome's transfer vouchers). Enqueue records them
// in the transaction that accepts the message; Run fetches them later,
// outside any request, and keeps each as a blob with its SM3 digest.
type FileFetches struct {
	DB      *store.DB
	Blobs   store.Blobs
	Fetcher *transport.FileFetcher
	Backoff store.Backoff // zero: FileBackoff
	Every   time.Duration // how often Run looks for due files; zero: FetchEvery
	Now     func() time.Time
	Log     *slog.Logger
}

// KeptFile is what became of one file a peer named.
type KeptFile struct {
	URL      string    `json:"url"`
	Status   string    `json:"status"` // pending, fetched, failed
	Reason   string    `json:"reason,omitempty"`
	Attempts int       `json:"attempts"`
	SM3      string    `json:"sm3,omitempty"`
	Size     int64     `json:"size,omitempty"`
	Blob     string    `json:"-"`
	Updated  time.Time `json:"updated_at,omitzero"`
}

func (f *FileFetches) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *FileFetches) backoff() store.Backoff {
	if f.Backoff == (store.Backoff{}) {
		return FileBackoff
	}
	return f.Backoff
}

// Enqueue records urls to be fetched for owner (a key of the caller's,
// like "claim:<id>"), in tx. Recording the same owner again is a no-op.
func (f *FileFetches) Enqueue(ctx context.Context, tx *sql.Tx, owner string, urls []string) error {
	now := store.Micros(f.now())
	for i, u := range urls {
		status, reason := FilePending, ""
		if _, err := f.Fetcher.CheckURL(u); err != nil {
			status, reason = FileFailed, err.Error()
		}
		if _, err := tx.ExecContext(ctx, f.DB.Rebind(`INSERT INTO fetched_files (owner, idx, url, status, reason, next_at, updated_at)
			VALUES (?,?,?,?,?,?,?) ON CONFLICT (owner, idx) DO NOTHING`), owner, i, u, status, reason, now, now); err != nil {
			return fmt.Errorf("recording file %d of %s: %w", i, owner, err)
		}
	}
	return nil
}

// List returns owner's files in the order they were named.
func (f *FileFetches) List(ctx context.Context, owner string) ([]KeptFile, error) {
	m, err := f.ListMany(ctx, []string{owner})
	if m[owner] == nil {
		return []KeptFile{}, err
	}
	return m[owner], err
}

// ListMany returns the files of each of owners, by owner.
func (f *FileFetches) ListMany(ctx context.Context, owners []string) (map[string][]KeptFile, error) {
	out := map[string][]KeptFile{}
	for len(owners) > 0 {
		batch := owners[:min(len(owners), 200)]
		owners = owners[len(batch):]
		args := make([]any, len(batch))
		for i, o := range batch {
			args[i] = o
		}
		rows, err := f.DB.QueryContext(ctx, f.DB.Rebind(`SELECT owner, url, status, reason, attempts, sm3, size, blob, updated_at
			FROM fetched_files WHERE owner IN (?`+strings.Repeat(",?", len(batch)-1)+`) ORDER BY owner, idx`), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var k KeptFile
			var owner string
			var at int64
			if err := rows.Scan(&owner, &k.URL, &k.Status, &k.Reason, &k.Attempts, &k.SM3, &k.Size, &k.Blob, &at); err != nil {
				rows.Close()
				return nil, err
			}
			k.Updated = store.FromMicros(at)
			out[owner] = append(out[owner], k)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Open returns the kept copy of owner's file idx (0-based).
func (f *FileFetches) Open(ctx context.Context, owner string, idx int) (KeptFile, []byte, error) {
	files, err := f.List(ctx, owner)
	if err != nil {
		return KeptFile{}, nil, err
	}
	if idx < 0 || idx >= len(files) || files[idx].Status != FileFetched {
		return KeptFile{}, nil, store.ErrNotFound
	}
	rc, err := f.Blobs.Open(ctx, files[idx].Blob)
	if err != nil {
		return KeptFile{}, nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(rc); err != nil {
		return KeptFile{}, nil, err
	}
	return files[idx], buf.Bytes(), nil
}

// FetchDue fetches up to n files whose time has come and returns how many
// it tried. A job of Run; tests call it directly.
func (f *FileFetches) FetchDue(ctx context.Context, n int) (int, error) {
	rows, err := f.DB.QueryContext(ctx, f.DB.Rebind(`SELECT owner, idx, url, attempts FROM fetched_files
		WHERE status = 'pending' AND next_at <= ? ORDER BY next_at LIMIT ?`), store.Micros(f.now()), n)
	if err != nil {
		return 0, err
	}
	type due struct {
		owner, url    string
		idx, attempts int
	}
	var todo []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.owner, &d.idx, &d.url, &d.attempts); err != nil {
			rows.Close()
			return 0, err
		}
		todo = append(todo, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, d := range todo {
		if err := f.fetchOne(ctx, d.owner, d.idx, d.url, d.attempts); err != nil {
			return 0, err
		}
	}
	return len(todo), nil
}

func (f *FileFetches) fetchOne(ctx context.Context, owner string, idx int, url string, attempts int) error {
	attempts++
	got, ferr := f.Fetcher.Fetch(ctx, url)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	now := f.now()
	if ferr == nil {
		key := fmt.Sprintf("fetched/%s", got.SM3)
		if _, _, err := f.Blobs.Put(ctx, key, bytes.NewReader(got.Data)); err != nil {
			ferr = fmt.Errorf("keeping the file: %w", err)
		} else {
			_, err := f.DB.ExecContext(ctx, f.DB.Rebind(`UPDATE fetched_files SET status='fetched', reason='', attempts=?, blob=?, sm3=?, size=?, updated_at=?
				WHERE owner=? AND idx=?`), attempts, key, got.SM3, len(got.Data), store.Micros(now), owner, idx)
			if err == nil && f.Log != nil {
				f.Log.Info("file fetched", "owner", owner, "url", url, "size", len(got.Data), "sm3", got.SM3)
			}
			return err
		}
	}
	status, next := FilePending, now.Add(f.backoff().Delay(attempts))
	if transport.Permanent(ferr) || f.backoff().Exhausted(attempts) {
		status = FileFailed
	}
	if f.Log != nil {
		f.Log.Warn("file not fetched", "owner", owner, "url", url, "attempt", attempts, "status", status, "err", ferr)
	}
	_, err := f.DB.ExecContext(ctx, f.DB.Rebind(`UPDATE fetched_files SET status=?, reason=?, attempts=?, next_at=?, updated_at=?
		WHERE owner=? AND idx=?`), status, ferr.Error(), attempts, store.Micros(next), store.Micros(now), owner, idx)
	return err
}

// Run fetches due files every Every until ctx ends: a job of Run.
func (f *FileFetches) Run(ctx context.Context) {
	every := f.Every
	if every <= 0 {
		every = FetchEvery
	}
	Every(every, func(ctx context.Context) {
		for ctx.Err() == nil {
			n, err := f.FetchDue(ctx, 16)
			if err != nil {
				if ctx.Err() == nil && f.Log != nil {
					f.Log.Warn("fetching files", "err", err)
				}
				return
			}
			if n == 0 {
				return
			}
		}
	})(ctx)
}

// ServeKeptFile answers a kept copy as a download: never rendered inline
// (its content is a peer's), named by its digest.
func ServeKeptFile(w http.ResponseWriter, k KeptFile, data []byte) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", keptFileName(k)))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Content-SM3", k.SM3)
	w.Write(data)
}

// keptFileName is the last element of the file's URL path when it is a
// plain name, else its digest.
func keptFileName(k KeptFile) string {
	if u, err := url.Parse(k.URL); err == nil {
		name := path.Base(u.Path)
		if name != "" && name != "." && name != "/" && len(name) <= 100 && !strings.ContainsAny(name, "\"\\\r\n;") {
			return name
		}
	}
	return k.SM3
}
