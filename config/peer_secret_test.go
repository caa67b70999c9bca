package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPeerSecretSources: the appsecret from the file, a file of its own
// or an environment variable; exactly one; errors name the setting and
// never the secret.
func TestPeerSecretSources(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const secret = "s3cr3t-Value_42"
	t.Setenv("BAOHAN_TEST_APPSECRET", secret)
	t.Setenv("BAOHAN_TEST_EMPTY", "")
	cases := []struct {
		name string
		p    Peer
		want string // the error's text, or "" for secret
	}{
		{"inline", Peer{AppSecret: secret}, ""},
		{"file with a newline", Peer{AppSecretFile: write("nl", secret+"\n")}, ""},
		{"file with CRLF", Peer{AppSecretFile: write("crlf", secret+"\r\n")}, ""},
		{"file without a newline", Peer{AppSecretFile: write("bare", secret)}, ""},
		{"environment", Peer{AppSecretEnv: "BAOHAN_TEST_APPSECRET"}, ""},
		{"none", Peer{}, `peer "bank": appsecret is required (or appsecret_file, or appsecret_env)`},
		{"two", Peer{AppSecret: secret, AppSecretEnv: "BAOHAN_TEST_APPSECRET"}, `peer "bank": set one of appsecret, appsecret_file and appsecret_env, not several`},
		{"missing file", Peer{AppSecretFile: filepath.Join(dir, "nope")}, `peer "bank": appsecret_file: open ` + filepath.Join(dir, "nope") + `: no such file or directory`},
		{"empty file", Peer{AppSecretFile: write("empty", "\n")}, `peer "bank": appsecret_file ` + filepath.Join(dir, "empty") + ` is empty`},
		{"two lines", Peer{AppSecretFile: write("two", secret+"\n"+secret+"\n")}, `peer "bank": appsecret_file ` + filepath.Join(dir, "two") + `: the secret must be one line without surrounding spaces`},
		{"spaces", Peer{AppSecretFile: write("sp", " "+secret+"\n")}, `peer "bank": appsecret_file ` + filepath.Join(dir, "sp") + `: the secret must be one line without surrounding spaces`},
		{"unset variable", Peer{AppSecretEnv: "BAOHAN_TEST_UNSET_9"}, `peer "bank": appsecret_env: the environment variable BAOHAN_TEST_UNSET_9 is not set`},
		{"empty variable", Peer{AppSecretEnv: "BAOHAN_TEST_EMPTY"}, `peer "bank": appsecret_env: the environment variable BAOHAN_TEST_EMPTY is not set`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.p.Name, c.p.AppKey = "bank", "k"
			tp, err := c.p.Transport()
			if c.want == "" {
				if err != nil || tp.AppSecret != secret {
					t.Fatalf("got %v", err)
				}
				return
			}
			if err == nil || err.Error() != c.want {
				t.Fatalf("got %v, want %s", err, c.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}

// TestPeerSecretFromTOML: appsecret_file as written in a configuration.
func TestPeerSecretFromTOML(t *testing.T) {
	dir := t.TempDir()
	sf := filepath.Join(dir, "bank.secret")
	os.WriteFile(sf, []byte("from-the-file\n"), 0o600)
	path := filepath.Join(dir, "c.toml")
	os.WriteFile(path, []byte("[[peer]]\nname = \"bank\"\nappkey = \"k\"\nappsecret_file = \""+sf+"\"\n"), 0o600)
	var c testConfig
	if err := Load(path, "T", &c); err != nil {
		t.Fatal(err)
	}
	p, err := c.Peers[0].Transport()
	if err != nil || p.AppSecret != "from-the-file" {
		t.Fatalf("%v %+v", err, p)
	}
}
