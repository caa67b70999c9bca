package service

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/gm/testca"
	"github.com/baohan-dev/baohan/internal/httpjson"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/store/storetest"
)

// testSchema is a service's schema of two migrations.
func testSchema(versions int) Schema {
	fs := fstest.MapFS{}
	for i := 1; i <= versions; i++ {
		name := []string{"", "00001_one.sql", "00002_two.sql"}[i]
		fs[name] = &fstest.MapFile{Data: []byte("-- +goose Up\nCREATE TABLE t" + name[4:5] + " (x INTEGER);\n-- +goose Down\nDROP TABLE t" + name[4:5] + ";\n")}
	}
	return Schema{Migrations: fs, VersionTable: "goose_coretest"}
}

var testSpec = Spec{Name: "coretest", PeerKind: "thing", SQLiteFile: "coretest.db", Schema: testSchema(2)}

// testCommon is a valid configuration: a data directory, a test CA as the
// trust root, one peer.
func testCommon(t *testing.T, dbURL string) (config.Common, []config.Peer) {
	t.Helper()
	dir := t.TempDir()
	if _, err := EnsureTestCA(filepath.Join(dir, "ca")); err != nil {
		t.Fatal(err)
	}
	t.Setenv(MasterKeyEnv, "000102030405060708090a0b0c0d0e0f")
	c := config.Common{
		TrustRoots: []string{filepath.Join(dir, "ca", testca.CACertFile)},
		Listen:     config.Listen{Addr: "127.0.0.1:0", Plain: true},
		Storage:    config.Storage{DB: dbURL, DataDir: filepath.Join(dir, "data")},
		Admin:      config.Admin{Token: "admin-token-0123456789"},
	}
	return c, []config.Peer{{Name: "p", AppKey: "k", AppSecret: "s", BaseURL: "http://127.0.0.1:1"}}
}

func quiet() Options {
	o := Apply(nil)
	o.Logger = slog.New(slog.DiscardHandler)
	return o
}

func open(t *testing.T, c config.Common, peers []config.Peer) *Core {
	t.Helper()
	core, err := Open(context.Background(), testSpec, c, peers, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { core.Close() })
	return core
}

// TestOpenDefaults: what the core fills in is what the dispatcher, the
// pipeline and the peers run with, the same for every service.
func TestOpenDefaults(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, dbURL string) {
		c, peers := testCommon(t, dbURL)
		core := open(t, c, peers)
		workers := 8
		if dbURL != "" {
			workers = 32
		}
		o := core.Config.Outbox
		if o.Workers != workers || o.Poll.Duration != time.Second || o.RetryInitial.Duration != time.Second ||
			o.RetryMax.Duration != 5*time.Minute || o.Lease.Duration != time.Minute || o.PerPeer != -1 || o.MaxAttempts != 0 {
			t.Errorf("outbox %+v", o)
		}
		d := core.Dispatcher
		if d.Workers != workers || d.PollInterval != time.Second || d.Lease != time.Minute || d.PerPeer != -1 ||
			d.Backoff.MaxAttempts != -1 || d.Backoff.Initial != time.Second || d.Backoff.Max != 5*time.Minute {
			t.Errorf("dispatcher %+v", d)
		}
		if p := core.Peers["p"]; p == nil || core.ByAppKey["k"] != p || p.Profile.TimestampWindow != 10*time.Minute {
			t.Errorf("peers %v %v", core.Peers, core.ByAppKey)
		}
		if core.Roots.Len() != 1 || !core.AdminEnabled() {
			t.Errorf("%d trust roots, admin %v", core.Roots.Len(), core.AdminEnabled())
		}
		if err := core.SchemaCurrent(context.Background()); err != nil {
			t.Errorf("after Open: %v", err)
		}
		_, isDir := core.Blobs.(*store.DirBlobs)
		if isDir != (dbURL == "") {
			t.Errorf("blobs %T on %q", core.Blobs, dbURL)
		}
	})
}

// TestOpenSettings: each common setting reaches what it sets.
func TestOpenSettings(t *testing.T) {
	c, peers := testCommon(t, "")
	c.TimestampWindow.Duration = 3 * time.Minute
	c.Outbox = config.Outbox{Workers: 3, Poll: config.Duration{Duration: 2 * time.Second}, Lease: config.Duration{Duration: 45 * time.Second},
		RetryInitial: config.Duration{Duration: 3 * time.Second}, RetryMax: config.Duration{Duration: time.Minute}, MaxAttempts: 9, PerPeer: 2}
	c.Listen.MaxBody = 4096
	c.Listen.Prefix = "/baohan/"
	c.Listen.TrustedProxies = []string{"10.0.0.1"}
	c.Storage.Blobs = config.BlobsDB
	own := peers[0]
	own.Name, own.AppKey, own.TimestampWindow = "q", "kq", config.Duration{Duration: time.Minute}
	core := open(t, c, append(peers, own))
	d := core.Dispatcher
	if d.Workers != 3 || d.PollInterval != 2*time.Second || d.Lease != 45*time.Second || d.PerPeer != 2 ||
		d.Backoff.MaxAttempts != 9 || d.Backoff.Initial != 3*time.Second || d.Backoff.Max != time.Minute {
		t.Errorf("dispatcher %+v", d)
	}
	if core.Peers["p"].Profile.TimestampWindow != 3*time.Minute || core.Peers["q"].Profile.TimestampWindow != time.Minute {
		t.Error("timestamp_window is not every peer's default, or overrides a peer's own")
	}
	s := core.Server
	if s.MaxBody != 4096 || s.Prefix != "/baohan" || len(s.TrustedProxies) != 1 {
		t.Errorf("server: max body %d, prefix %q, proxies %v", s.MaxBody, s.Prefix, s.TrustedProxies)
	}
	if _, ok := core.Blobs.(*store.DBBlobs); !ok {
		t.Errorf("storage.blobs = db: %T", core.Blobs)
	}
}

// TestOpenKeepsDirBlobs: on PostgreSQL, where storage.blobs defaults to
// the database, a blob directory that holds files is not abandoned
// silently: the service does not start until storage.blobs says which.
func TestOpenKeepsDirBlobs(t *testing.T) {
	c, peers := testCommon(t, storetest.FreshSchema(t))
	blobs := filepath.Join(c.Storage.DataDir, "blobs")
	if err := os.MkdirAll(blobs, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(blobs, "chunk"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), testSpec, c, peers, quiet())
	if err == nil || !strings.Contains(err.Error(), `storage.blobs is not set, and on PostgreSQL that means "db", but `+blobs+` holds blobs: set storage.blobs = "dir"`) {
		t.Fatalf("err %v", err)
	}
	c.Storage.Blobs = config.BlobsDir
	if core := open(t, c, peers); core.Blobs == nil {
		t.Fatal("no blobs")
	}
}

// TestPendingMigrations: what is not applied is named, and looking
// changes nothing (no version table made).
func TestPendingMigrations(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		url := dbURL
		if url == "" {
			url = filepath.Join(t.TempDir(), "p.db")
		}
		db, err := store.Open(ctx, url, "", store.WithoutSharedMigrations(), store.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for range 2 {
			p, err := Pending(ctx, db, testSchema(2))
			if err != nil || !strings.Contains(p, store.SharedVersionTable+" [1 2") || !strings.Contains(p, "goose_coretest [1 2]") {
				t.Fatalf("fresh database: %q %v", p, err)
			}
		}
		if err := db.MigrateShared(ctx); err != nil {
			t.Fatal(err)
		}
		if err := testSchema(1).Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		if p, err := Pending(ctx, db, testSchema(2)); err != nil || p != "goose_coretest [2]" {
			t.Fatalf("one of two applied: %q %v", p, err)
		}
		if err := SchemaCurrent(ctx, db, testSchema(2)); err == nil || !strings.Contains(err.Error(), "migrations not applied: goose_coretest [2]") {
			t.Errorf("SchemaCurrent: %v", err)
		}
		if err := testSchema(2).Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		if err := SchemaCurrent(ctx, db, testSchema(2)); err != nil {
			t.Errorf("all applied: %v", err)
		}
	})
}

// TestCommonRoutes: what every service serves, and the admin token in
// front of the admin API.
func TestCommonRoutes(t *testing.T) {
	c, peers := testCommon(t, "")
	core := open(t, c, peers)
	h := core.Handler(Routes{Admin: func(api *Mux) {
		api.HandleFunc("GET /api/own", func(w http.ResponseWriter, r *http.Request) {
			b, err := io.ReadAll(r.Body)
			httpjson.Write(w, http.StatusOK, map[string]any{"read": len(b), "err": err != nil})
		})
	}})
	srv := httptest.NewServer(h)
	defer srv.Close()
	do := func(method, path, token string, body []byte) (int, string, http.Header) {
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), res.Header
	}
	const tok = "admin-token-0123456789"
	for _, tc := range []struct {
		method, path, token string
		status              int
		want                string
	}{
		{"GET", "/healthz", "", 200, `"status": "ok"`},
		{"GET", "/readyz", "", 200, `"status": "ready"`},
		{"GET", "/metrics", "", 200, "baohan_coretest_outbox_messages"},
		{"GET", "/api/openapi.json", "", 200, `"openapi"`},
		{"GET", "/api/messages", "", 401, "missing or wrong bearer token"},
		{"GET", "/api/messages", "nope", 401, "missing or wrong bearer token"},
		{"GET", "/api/nothing", "", 401, "bearer token"},
		{"GET", "/api/nothing", tok, 404, "no API GET /api/nothing"},
		{"GET", "/api/messages", tok, 200, "[]"},
		{"GET", "/api/messages?result=maybe", tok, 400, `"field": "result"`},
		{"GET", "/api/messages?limit=-1", tok, 400, `"field": "limit"`},
		{"GET", "/api/messages?bodies=2", tok, 400, `"field": "bodies"`},
		{"GET", "/api/messages/verify", tok, 200, `"intact": true`},
		{"GET", "/api/messages/7", tok, 404, "not found"},
		{"GET", "/api/messages/x", tok, 400, `"field": "id"`},
		{"GET", "/api/outbox", tok, 200, "[]"},
		{"GET", "/api/outbox?state=lost", tok, 400, `unknown outbox state \"lost\"`},
		{"GET", "/api/outbox/counts", tok, 200, "{"},
		{"POST", "/api/outbox/7/retry", tok, 404, "not found"},
		{"GET", "/api/own", tok, 200, `"read": 0`},
	} {
		code, body, hdr := do(tc.method, tc.path, tc.token, nil)
		if code != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s: HTTP %d %.200s, want %d with %q", tc.method, tc.path, code, body, tc.status, tc.want)
		}
		if code == 401 && hdr.Get("WWW-Authenticate") != `Bearer realm="baohan coretest"` {
			t.Errorf("%s: WWW-Authenticate %q", tc.path, hdr.Get("WWW-Authenticate"))
		}
	}
	// Admin bodies are bounded.
	if code, body, _ := do("GET", "/api/own", tok, make([]byte, MaxAdminBody+1)); code != 200 || !strings.Contains(body, `"err": true`) {
		t.Errorf("a body over MaxAdminBody: %d %s", code, body)
	}
	// Without a token the admin API is off, and says how to turn it on.
	c.Admin.Token = ""
	off := open(t, c, peers).Handler(Routes{})
	rec := httptest.NewRecorder()
	off.ServeHTTP(rec, httptest.NewRequest("GET", "/api/messages", nil))
	if rec.Code != 401 || !strings.Contains(rec.Body.String(), "no [admin] token is configured") {
		t.Errorf("disabled admin API: %d %s", rec.Code, rec.Body)
	}
	// The document is JSON.
	var doc map[string]any
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
}

// TestAdminAPIBodyOutOfRow: a body the message log keeps out of its row
// (an uploaded chunk's) is handed out by the admin API as any other, in
// the list with bodies=1 and by id, and the chain verifies.
func TestAdminAPIBodyOutOfRow(t *testing.T) {
	c, peers := testCommon(t, "")
	core := open(t, c, peers)
	ctx := context.Background()
	chunk := strings.Repeat("QUJD", 40000)
	body := `{"applyno":"A9","baohanfile":"` + chunk + `"}`
	if err := core.MessageLog.Append(ctx, &store.LogEntry{Direction: "in", Interface: "uploadbaohanfile", Peer: "bank", ApplyNo: "A9",
		Request: []byte(body), Response: []byte(`{"code":1}`), HTTPStatus: 200, Code: 1, SignOK: true}); err != nil {
		t.Fatal(err)
	}
	var kept int
	if err := core.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM message_log_bodies`).Scan(&kept); err != nil || kept != 1 {
		t.Fatalf("bodies out of their rows: %d, %v", kept, err)
	}
	srv := httptest.NewServer(core.Handler(Routes{}))
	defer srv.Close()
	get := func(path string) string {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+c.Admin.Token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: HTTP %d %.200s", path, res.StatusCode, b)
		}
		return string(b)
	}
	var list []MessageView
	if err := json.Unmarshal([]byte(get("/api/messages?bodies=1")), &list); err != nil || len(list) != 1 || list[0].Request != body {
		t.Fatalf("list with bodies: %d entries, %v", len(list), err)
	}
	var one MessageView
	if err := json.Unmarshal([]byte(get("/api/messages/1")), &one); err != nil || one.Request != body || one.Response != `{"code":1}` {
		t.Fatalf("by id: %d bytes, %v", len(one.Request), err)
	}
	if v := get("/api/messages/verify"); !strings.Contains(v, `"intact": true`) {
		t.Fatalf("verify: %s", v)
	}
}

// TestHTTPClientNoRedirect: a peer's answer that redirects is the answer;
// a signed request never follows it to another host.
func TestHTTPClientNoRedirect(t *testing.T) {
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the redirect was followed: %s %s", r.Method, r.URL)
	}))
	defer elsewhere.Close()
	peer := httptest.NewServer(http.RedirectHandler(elsewhere.URL+"/baohanapply", http.StatusTemporaryRedirect))
	defer peer.Close()
	c := NewHTTPClient(5 * time.Second)
	res, err := c.Post(peer.URL+"/baohanapply", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTemporaryRedirect || c.Timeout != 5*time.Second {
		t.Errorf("HTTP %d, timeout %s", res.StatusCode, c.Timeout)
	}
}
