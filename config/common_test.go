package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serviceConfig is a service's configuration as the platform and the
// institution write theirs: Common embedded, its own peers and keys.
type serviceConfig struct {
	Common
	Own   string `toml:"own"`
	Peers []Peer `toml:"peer"`
}

var testRenamed = []Renamed{
	{Old: "admin_token", New: "admin.token"},
	{Old: "blobs", New: "storage.blobs"},
	{Old: "outbox.poll_interval", New: "outbox.poll"},
	{Old: "outbox.per_thing", New: "outbox.per_peer"},
	{Old: "max_body", New: "listen.max_body"},
}

// TestLoadRenamed: a renamed key is read into its new place, from the
// file or the environment, with a warning naming the new key; set
// together with the new key it is an error naming both; an unknown key
// is still an error.
func TestLoadRenamed(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, file, env string
		check           func(c *serviceConfig) bool
		warn, err       string
	}{
		{"new keys, no warning", "own = \"x\"\n[admin]\ntoken = \"t\"\n[outbox]\npoll = \"3s\"\n", "",
			func(c *serviceConfig) bool {
				return c.Admin.Token == "t" && c.Outbox.Poll.Duration == 3*time.Second && c.Own == "x"
			}, "", ""},
		{"top-level string", "admin_token = \"old-token\"\n", "",
			func(c *serviceConfig) bool { return c.Admin.Token == "old-token" }, "admin_token is the old name of [admin] token", ""},
		{"top-level into a section", "blobs = \"db\"\n", "",
			func(c *serviceConfig) bool { return c.Storage.Blobs == "db" }, "blobs is the old name of [storage] blobs", ""},
		{"duration", "[outbox]\npoll_interval = \"250ms\"\n", "",
			func(c *serviceConfig) bool { return c.Outbox.Poll.Duration == 250*time.Millisecond }, "outbox.poll_interval is the old name of [outbox] poll", ""},
		{"integer", "[outbox]\nper_thing = 3\n", "",
			func(c *serviceConfig) bool { return c.Outbox.PerPeer == 3 }, "[outbox] per_peer", ""},
		{"int64", "max_body = 2048\n", "",
			func(c *serviceConfig) bool { return c.Listen.MaxBody == 2048 }, "[listen] max_body", ""},
		{"environment", "", "BAOHAN_T_OUTBOX_POLL_INTERVAL=2s",
			func(c *serviceConfig) bool { return c.Outbox.Poll.Duration == 2*time.Second },
			"environment BAOHAN_T_OUTBOX_POLL_INTERVAL is the old name of BAOHAN_T_OUTBOX_POLL", ""},
		{"environment, the same name", "", "BAOHAN_T_ADMIN_TOKEN=from-env",
			func(c *serviceConfig) bool { return c.Admin.Token == "from-env" }, "", ""},
		{"both in the file", "admin_token = \"a\"\n[admin]\ntoken = \"b\"\n", "", nil, "",
			"admin_token and [admin] token are both set: admin_token is the old name of [admin] token, remove it"},
		{"both in the environment", "", "BAOHAN_T_BLOBS=db,BAOHAN_T_STORAGE_BLOBS=dir", nil, "",
			"environment BAOHAN_T_BLOBS and BAOHAN_T_STORAGE_BLOBS are both set"},
		{"wrong type", "[outbox]\npoll_interval = 5\n", "", nil, "", "outbox.poll_interval: want a value like"},
		{"unknown stays unknown", "[outbox]\npoll_intervall = \"1s\"\n", "", nil, "", "unknown keys: outbox.poll_intervall"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "c"+string(rune('a'+i))+".toml")
			if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.env != "" {
				for _, kv := range strings.Split(tc.env, ",") {
					k, v, _ := strings.Cut(kv, "=")
					t.Setenv(k, v)
				}
			}
			var c serviceConfig
			err := Load(path, "BAOHAN_T", &c, testRenamed...)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(&c) {
				t.Errorf("read as %+v", c.Common)
			}
			switch {
			case tc.warn == "" && len(c.Warnings) > 0:
				t.Errorf("warnings %q, want none", c.Warnings)
			case tc.warn != "" && (len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], tc.warn)):
				t.Errorf("warnings %q, want one with %q", c.Warnings, tc.warn)
			}
		})
	}
}

// TestMaxAttemptsMinusOne: outbox.max_attempts = -1 (the platform's old
// "never give up") is read as 0, which means the same now, with a
// warning; other values keep their meaning, and below -1 is refused.
func TestMaxAttemptsMinusOne(t *testing.T) {
	for _, tc := range []struct {
		in, want int
		warn     bool
	}{{-1, 0, true}, {0, 0, false}, {7, 7, false}} {
		c := Common{Outbox: Outbox{MaxAttempts: tc.in}}
		c.Normalize()
		if c.Outbox.MaxAttempts != tc.want || (len(c.Warnings) == 1) != tc.warn {
			t.Errorf("max_attempts %d: %d, warnings %q", tc.in, c.Outbox.MaxAttempts, c.Warnings)
		}
		if tc.warn && !strings.Contains(c.Warnings[0], "max_attempts = 0") {
			t.Errorf("warning %q does not name the new value", c.Warnings[0])
		}
	}
	c := Common{Outbox: Outbox{MaxAttempts: -2}}
	c.Normalize()
	if err := c.Check("platform", nil); err == nil || !strings.Contains(err.Error(), "outbox.max_attempts must be 0 (retry until answered) or a number of attempts, got -2") {
		t.Errorf("max_attempts -2: %v", err)
	}
}

// TestCommonCheck: every rule of the common settings names its key.
func TestCommonCheck(t *testing.T) {
	peer := func(name, key, url string) Peer {
		return Peer{Name: name, AppKey: key, AppSecret: "s", BaseURL: url}
	}
	ok := func() Common {
		return Common{Storage: Storage{DataDir: "/d"}, Listen: Listen{Addr: ":1", Plain: true}}
	}
	peers := []Peer{peer("a", "ka", "https://a.example")}
	for _, tc := range []struct {
		name  string
		edit  func(c *Common)
		peers []Peer
		want  string
	}{
		{"ok", func(*Common) {}, peers, ""},
		{"no data_dir", func(c *Common) { c.Storage.DataDir = "" }, peers, "storage.data_dir is required"},
		{"bad blobs", func(c *Common) { c.Storage.Blobs = "s3" }, peers, `storage.blobs must be "dir" or "db", got "s3"`},
		{"negative window", func(c *Common) { c.TimestampWindow.Duration = -time.Second }, peers, "timestamp_window must be positive"},
		{"negative max_body", func(c *Common) { c.Listen.MaxBody = -1 }, peers, "listen.max_body must be bytes"},
		{"token and file", func(c *Common) { c.Admin.Token, c.Admin.TokenFile = "t", "/f" }, peers, "admin.token and admin.token_file are both set"},
		{"negative workers", func(c *Common) { c.Outbox.Workers = -1 }, peers, "outbox.workers must not be negative"},
		{"per_peer", func(c *Common) { c.Outbox.PerPeer = -3 }, peers, "outbox.per_peer must be"},
		{"negative poll", func(c *Common) { c.Outbox.Poll.Duration = -time.Second }, peers, "outbox.poll must be positive"},
		{"retry_max below retry_initial", func(c *Common) {
			c.Outbox.RetryInitial.Duration, c.Outbox.RetryMax.Duration = time.Minute, time.Second
		}, peers, "outbox.retry_max 1s is shorter than outbox.retry_initial 1m0s"},
		{"short lease", func(c *Common) { c.Outbox.Lease.Duration = 20 * time.Second }, peers,
			"outbox.lease 20s must outlast the longest thing call (timeout 30s) by at least 5s"},
		{"no peers", func(*Common) {}, nil, "no [[thing]] configured"},
		{"plain base_url", func(c *Common) { c.Listen.Plain = false }, []Peer{peer("a", "ka", "http://a.example")},
			"base_url http://a.example is plain HTTP"},
		{"no base_url", func(*Common) {}, []Peer{peer("a", "ka", "")}, "base_url is required"},
		{"appkey twice", func(*Common) {}, []Peer{peer("a", "k", "https://a"), peer("b", "k", "https://b")}, `appkey "k" used twice`},
		{"name twice", func(*Common) {}, []Peer{peer("a", "k1", "https://a"), peer("a", "k2", "https://b")}, "name used twice"},
		{"a name by its appkey", func(*Common) {}, []Peer{peer("", "k1", "https://a"), peer("k1", "k2", "https://b")}, "name used twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok()
			tc.edit(&c)
			err := c.Check("thing", tc.peers)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

func TestOutboxDefaults(t *testing.T) {
	slow := []Peer{{Timeout: Duration{Duration: 50 * time.Second}}}
	for _, tc := range []struct {
		lease time.Duration
		peers []Peer
		want  time.Duration
	}{{0, nil, time.Minute}, {0, slow, 80 * time.Second}, {40 * time.Second, slow, 40 * time.Second}} {
		if got := (Outbox{Lease: Duration{Duration: tc.lease}}).LeaseFor(tc.peers); got != tc.want {
			t.Errorf("lease %s with %d peers: %s, want %s", tc.lease, len(tc.peers), got, tc.want)
		}
	}
	for _, tc := range []struct {
		blobs, dataDir, dialect, want string
	}{
		{"", "/d", "sqlite", BlobsDir}, {"", "/d", "postgres", BlobsDB}, {"", "", "sqlite", BlobsDB},
		{BlobsDir, "/d", "postgres", BlobsDir}, {BlobsDB, "/d", "sqlite", BlobsDB},
	} {
		if got := (Storage{Blobs: tc.blobs, DataDir: tc.dataDir}).BlobsIn(tc.dialect); got != tc.want {
			t.Errorf("blobs %q data_dir %q on %s: %s, want %s", tc.blobs, tc.dataDir, tc.dialect, got, tc.want)
		}
	}
}

func TestAdminResolve(t *testing.T) {
	dir := t.TempDir()
	good, short := filepath.Join(dir, "good"), filepath.Join(dir, "short")
	os.WriteFile(good, []byte("  0123456789abcdef0123\n"), 0o600)
	os.WriteFile(short, []byte("abc\n"), 0o600)
	for _, tc := range []struct {
		a         Admin
		want, err string
	}{
		{Admin{}, "", ""},
		{Admin{Token: "inline"}, "inline", ""},
		{Admin{TokenFile: good}, "0123456789abcdef0123", ""},
		{Admin{TokenFile: short}, "", "shorter than 16 characters"},
		{Admin{TokenFile: filepath.Join(dir, "none")}, "", "admin.token_file: open"},
	} {
		got, err := tc.a.Resolve()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v: %v, want %q", tc.a, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%+v: %q, %v; want %q", tc.a, got, err, tc.want)
		}
	}
}
