package platform

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/config/configtest"
	"github.com/baohan-dev/baohan/gm"
)

func TestExampleConfig(t *testing.T) {
	t.Setenv("BAOHAN_PLATFORM_LISTEN_ADDR", "127.0.0.1:9443")
	t.Setenv("BAOHAN_PLATFORM_ADMIN_TOKEN", "from-the-environment-0123456789")
	c, err := LoadConfig("../docs/platform.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.withDefaults().Validate(); err != nil {
		t.Fatalf("the example configuration does not validate: %v", err)
	}
	if c.Listen.Addr != "127.0.0.1:9443" || c.Admin.Token != "from-the-environment-0123456789" {
		t.Errorf("environment not applied: %+v %q", c.Listen, c.Admin.Token)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("the example configuration uses old keys: %q", c.Warnings)
	}
	if len(c.Institutions) != 2 || len(c.Institutions[0].Products) != 2 {
		t.Fatalf("institutions %+v", c.Institutions)
	}
	in := c.Institutions[0]
	if in.AppKey != "BH-FI-3201-0001" || !in.RequireBasicAccount || in.Products[0].Rate.String() != "0.005" || in.Products[0].MinPremium.String() != "100" {
		t.Errorf("institution %+v", in)
	}
	p, err := c.Institutions[1].Transport()
	if err != nil {
		t.Fatal(err)
	}
	if p.Profile.SM2Layout != gm.C1C2C3 || p.Profile.FileDigest != gm.MD5 || !c.Institutions[1].NoCancel {
		t.Errorf("second institution profile %+v", p.Profile)
	}
	if in.SealCreditCode != "91320100MA1XXXXX0X" || len(in.SealCerts) != 0 || len(c.Institutions[1].SealCerts) != 2 {
		t.Errorf("seal pins: %q %v, %v", in.SealCreditCode, in.SealCerts, c.Institutions[1].SealCerts)
	}
	if c.TimestampWindow.Duration != 10*time.Minute || c.Outbox.MaxAttempts != 0 {
		t.Errorf("timestamp window %v, max attempts %d", c.TimestampWindow, c.Outbox.MaxAttempts)
	}
}

func TestConfigValidate(t *testing.T) {
	base := func() string {
		return `
trust_roots = ["/etc/ca.pem"]
[storage]
data_dir = "/tmp/x"
[[institution]]
name = "a"
appkey = "ka"
appsecret = "sa"
base_url = "https://a.example.cn"
platformcode = "P"
  [[institution.product]]
  name = "p"
  rate = "0.005"
`
	}
	cases := []struct{ name, extra, replace, want string }{
		{"ok", "", "", ""},
		{"plain base_url without plain_http", "", `base_url = "http://a.example.cn"`, `base_url http://a.example.cn is plain HTTP; use https, or set listen.plain_http = true for tests`},
		{"no platformcode", "", `platformcode = ""`, "platformcode is required"},
		{"rate out of range", "", `rate = "1.5"`, "rate must be between 0 and 1 (0.005 for 千分之五), got 1.5"},
		{"duplicate appkey", `
[[institution]]
name = "b"
appkey = "ka"
appsecret = "sb"
base_url = "https://b.example.cn"
platformcode = "P"
  [[institution.product]]
  name = "p"
  rate = "0.005"
`, "", `appkey "ka" used twice`},
		{"bad layout", "", `platformcode = "P"` + "\nsm2_layout = \"c3c2c1\"", `sm2_layout: gm: unknown SM2 ciphertext layout "c3c2c1"`},
		{"seal_credit_code with a space", "", `platformcode = "P"` + "\nseal_credit_code = \" 91320100MA1XXXXX0X\"", `seal_credit_code " 91320100MA1XXXXX0X" has spaces around it`},
	}
	dir := t.TempDir()
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text := base()
			if c.replace != "" {
				key := strings.SplitN(c.replace, " ", 2)[0]
				lines := strings.Split(text, "\n")
				for j, l := range lines {
					if strings.HasPrefix(strings.TrimSpace(l), key+" ") {
						lines[j] = c.replace
					}
				}
				text = strings.Join(lines, "\n")
			}
			text += c.extra
			path := filepath.Join(dir, "c"+string(rune('a'+i))+".toml")
			os.WriteFile(path, []byte(text), 0o600)
			cfg, err := LoadConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.withDefaults().Validate()
			if c.want == "" {
				if err != nil {
					t.Fatalf("unexpected: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
	var bad Config
	bad.Storage.DataDir, bad.Storage.Blobs = "/tmp/x", "s3"
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), `storage.blobs must be "dir" or "db", got "s3"`) || !strings.Contains(err.Error(), "no [[institution]] configured") {
		t.Errorf("bad blobs: %v", err)
	}
}

func TestEmbedded(t *testing.T) {
	dir := t.TempDir()
	var out strings.Builder
	c, err := Embedded(dir, EmbeddedOptions{}, &out)
	if err != nil {
		t.Fatal(err)
	}
	printed := out.String()
	for _, want := range []string{"made a test CA in ", "demo institution: appkey demo-inst appsecret ", "admin API bearer token "} {
		if !strings.Contains(printed, want) {
			t.Errorf("first start did not print %q:\n%s", want, printed)
		}
	}
	if err := c.withDefaults().Validate(); err != nil {
		t.Fatal(err)
	}
	in := c.Institutions[0]
	if in.AppKey != DemoAppKey || in.BaseURL != DemoInstitutionURL || len(in.AppSecret) != 32 || !c.Listen.Plain || c.Listen.Addr != DefaultAddr {
		t.Errorf("embedded config %+v", c)
	}
	if !strings.Contains(printed, in.AppSecret) {
		t.Error("the generated appsecret was not printed")
	}
	// Second start: same secrets, nothing printed.
	out.Reset()
	c2, err := Embedded(dir, EmbeddedOptions{Addr: "127.0.0.1:0"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 || c2.Institutions[0].AppSecret != in.AppSecret || c2.Admin.TokenFile != c.Admin.TokenFile {
		t.Errorf("second start printed %q or changed secrets", out.String())
	}
	if st, err := os.Stat(filepath.Join(dir, "demo-inst.appsecret")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("appsecret file: %v %v", st, err)
	}
}

// TestDefaultOutboxWorkers: without outbox.workers the outbox gets 8
// workers on SQLite and 32 on PostgreSQL; a configured number stays.
func TestDefaultOutboxWorkers(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		want := 8
		if dbURL != "" {
			want = 32
		}
		e := newEnv(t, dbURL)
		if got := e.svc.Config().Outbox.Workers; got != want {
			t.Errorf("default workers %d, want %d", got, want)
		}
		e2 := newEnv(t, dbURL, func(c *Config) { c.Outbox.Workers = 7 })
		if got := e2.svc.Config().Outbox.Workers; got != 7 {
			t.Errorf("configured 7 workers, got %d", got)
		}
	})
}

// TestOldKeys: every key an older platform spelled otherwise still works,
// in the file and in the environment, into the key that replaced it and
// with its meaning, and says which key to write instead; set with the new
// key, it is an error naming both.
func TestOldKeys(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	load := func(path string) (*config.Common, error) {
		c, err := LoadConfig(path)
		return &c.Common, err
	}
	configtest.OldKeys(t, load, []configtest.OldKey{
		{Name: "admin_token", File: `admin_token = "old-token-0123456789"`, Check: func(c *config.Common) bool { return c.Admin.Token == "old-token-0123456789" }, NewKey: "[admin] token"},
		{Name: "admin_token_file", File: `admin_token_file = "` + tokenFile + `"`, Check: func(c *config.Common) bool { return c.Admin.TokenFile == tokenFile }, NewKey: "[admin] token_file"},
		{Name: "blobs", File: `blobs = "db"`, Check: func(c *config.Common) bool { return c.Storage.Blobs == "db" }, NewKey: "[storage] blobs"},
		{Name: "blobs (environment)", Env: "BAOHAN_PLATFORM_BLOBS=db", Check: func(c *config.Common) bool { return c.Storage.Blobs == "db" }, NewKey: "BAOHAN_PLATFORM_STORAGE_BLOBS"},
		{Name: "outbox.poll_interval", File: "[outbox]\npoll_interval = \"3s\"", Check: func(c *config.Common) bool { return c.Outbox.Poll.Duration == 3*time.Second }, NewKey: "[outbox] poll"},
		{Name: "outbox.poll_interval (environment)", Env: "BAOHAN_PLATFORM_OUTBOX_POLL_INTERVAL=4s", Check: func(c *config.Common) bool { return c.Outbox.Poll.Duration == 4*time.Second }, NewKey: "BAOHAN_PLATFORM_OUTBOX_POLL"},
		{Name: "outbox.backoff_max", File: "[outbox]\nbackoff_max = \"7m\"", Check: func(c *config.Common) bool { return c.Outbox.RetryMax.Duration == 7*time.Minute }, NewKey: "[outbox] retry_max"},
		{Name: "outbox.per_institution", File: "[outbox]\nper_institution = 3", Check: func(c *config.Common) bool { return c.Outbox.PerPeer == 3 }, NewKey: "[outbox] per_peer"},
		{Name: "outbox.max_attempts = -1", File: "[outbox]\nmax_attempts = -1", Check: func(c *config.Common) bool { return c.Outbox.MaxAttempts == 0 }, NewKey: "max_attempts = 0"},
		{Name: "outbox.max_attempts = -1 (environment)", Env: "BAOHAN_PLATFORM_OUTBOX_MAX_ATTEMPTS=-1", Check: func(c *config.Common) bool { return c.Outbox.MaxAttempts == 0 }, NewKey: "max_attempts = 0"},
	})
	// Both spellings at once: which one would win is not guessed.
	path := filepath.Join(dir, "both.toml")
	os.WriteFile(path, []byte("admin_token = \"a\"\n[admin]\ntoken = \"b\"\n"), 0o600)
	if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), "admin_token and [admin] token are both set") {
		t.Errorf("both: %v", err)
	}
	// -1 given in code means the same (the dispatcher's mapping of 0 is
	// service.TestOpenDefaults').
	e := newEnv(t, "", func(c *Config) { c.Outbox.MaxAttempts = -1 })
	if got := e.svc.Config().Outbox.MaxAttempts; got != 0 {
		t.Errorf("max_attempts = -1 in force as %d, want 0", got)
	}
}
