package bench

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"regexp"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/store"
)

// TestDurableReference: every verified request leaves one committed row,
// on SQLite and (when it answers) PostgreSQL; a refused one leaves none
// and fails the run.
func TestDurableReference(t *testing.T) {
	ctx := context.Background()
	kinds := []string{SQLite}
	if PingPostgres(ctx, PostgresURL()) == nil {
		kinds = append(kinds, Postgres)
	}
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			dbURL, cleanup, err := newDatabase(ctx, kind, "", dir, "durable_ref_test")
			if err != nil {
				t.Fatal(err)
			}
			defer cleanup()
			db, err := store.Open(ctx, dbURL, dir, store.WithLogger(slog.New(slog.DiscardHandler)))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			h, err := NewDurableHandler(ctx, db, map[string]string{"k": "s"})
			if err != nil {
				t.Fatal(err)
			}
			bodies := make([][]byte, 40)
			for i := range bodies {
				bodies[i] = SignedBody(map[string]string{"applyno": fmt.Sprint("A", i)}, "k", "s", time.Now())
			}
			bodies = append(bodies, SignedBody(map[string]string{"applyno": "X"}, "k", "wrong", time.Now()))
			st, err := serveAndPost(ctx, h, "baohannotice", bodies, Load{Clients: 4})
			if err == nil {
				t.Fatal("a refused request must fail the run")
			}
			if st == nil || st.N != len(bodies) {
				t.Fatalf("stats %v", st)
			}
			var rows int
			if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+durableRefTable).Scan(&rows); err != nil {
				t.Fatal(err)
			}
			if ok, bad := h.Counts(); rows != 40 || ok != 40 || bad != 1 {
				t.Fatalf("%d rows, %d answered ok, %d refused; want 40, 40, 1", rows, ok, bad)
			}
		})
	}
	// The whole run on a fresh database of its own.
	bodies := [][]byte{SignedBody(map[string]string{"applyno": "B1"}, "k", "s", time.Now())}
	if st, err := DurableReference(ctx, SQLite, "", t.TempDir(), map[string]string{"k": "s"}, "baohannotice", bodies, Load{Clients: 1}); err != nil || st.OK() != 1 {
		t.Fatalf("DurableReference: %v %v", st, err)
	}
}

// TestUploadFloor: the floor does the receiving side's work on a real
// sealed guarantee and fails on a bad sign, a wrong key or a seal that
// does not verify.
func TestUploadFloor(t *testing.T) {
	ctx := context.Background()
	pki, err := NewPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	doc, err := pki.GuaranteeOFD("A1", "BH-A1", 40<<10)
	if err != nil {
		t.Fatal(err)
	}
	key, iv := gm.NewKey(), gm.NewKey()
	ct := encryptForTest(t, doc, key, iv)
	var bodies [][]byte
	for i, off := 0, 0; off < len(ct); i, off = i+1, off+16<<10 {
		end := min(off+16<<10, len(ct))
		bodies = append(bodies, SignedBody(map[string]string{"applyno": "A1", "index": fmt.Sprint(i + 1),
			"baohanfile": base64.StdEncoding.EncodeToString(ct[off:end])}, "k", "s", time.Now()))
	}
	res, err := UploadFloor(ctx, bodies, "s", key, iv, pki.CA.Pool(), 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Bytes != 2*int64(len(doc)) || res.Workers != 2 {
		t.Fatalf("result %+v, want %d bytes by 2 workers", res, 2*len(doc))
	}
	other, err := NewPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		secret string
		key    []byte
		roots  *smx509.CertPool
		want   string
	}{
		{"wrong secret", "x", key, pki.CA.Pool(), "sign mismatch"},
		// A wrong key fails the padding, or (about one time in 256) the
		// OFD check of what it decrypted to.
		{"wrong key", "s", gm.NewKey(), pki.CA.Pool(), "upload floor: (decrypting|seals)"},
		{"other roots", "s", key, other.CA.Pool(), "seals"},
	} {
		if _, err := UploadFloor(ctx, bodies, tt.secret, tt.key, iv, tt.roots, 1, 0); err == nil || !regexp.MustCompile(tt.want).MatchString(err.Error()) {
			t.Errorf("%s: %v, want an error about %q", tt.name, err, tt.want)
		}
	}
}
