package security

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/store"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// baohanBinary builds cmd/baohan once for the tests that run it.
func baohanBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "baohan-security-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "baohan")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/baohan-dev/baohan/cmd/baohan").CombinedOutput()
		if err != nil {
			binErr = err
			t.Logf("%s", out)
		}
	})
	if binErr != nil {
		t.Fatalf("building baohan: %v", binErr)
	}
	return binPath
}

// TestDemoLogsHoldNoSecrets runs `baohan demo` (the six scenarios over
// all 14 interfaces, with a real bid opening) and reads every line it
// wrote, to the terminal and to demo.log, for every secret of the run:
// the appsecret, the admin tokens, both master keys, every project key,
// every application's SM2 key, the applydata and guarantee-file SM4
// keys, every private key of the test CA; and the institution's lines
// for the plaintext project fields.
func TestDemoLogsHoldNoSecrets(t *testing.T) {
	bin := baohanBinary(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "demo", "--data", dir, "--opening", "3s")
	cmd.Env = append(os.Environ(), "BAOHAN_MASTER_KEY=")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("baohan demo: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	logFile, err := os.ReadFile(filepath.Join(dir, "demo.log"))
	if err != nil {
		t.Fatal(err)
	}
	secrets, fieldsOf := demoSecrets(t, dir)
	if len(secrets) < 20 {
		t.Fatalf("only %d secrets gathered from the demo's data", len(secrets))
	}
	lines := 0
	for name, text := range map[string]string{"stdout": stdout.String(), "stderr": stderr.String(), "demo.log": string(logFile)} {
		for i, line := range strings.Split(text, "\n") {
			lines++
			list := secrets
			if !strings.Contains(line, "service=platform") {
				list = append(append([]secret(nil), secrets...), fieldsOf...)
			}
			for _, f := range scan(name, []byte(line), list) {
				t.Errorf("%s line %d: %s in %.300s", name, i+1, f, line)
			}
		}
	}
	if lines < 60 || !strings.Contains(stdout.String(), "baohanrestore") || !strings.Contains(string(logFile), "service=institution") {
		t.Fatalf("only %d lines of output, or no restore, or no institution log lines: the scan would prove nothing", lines)
	}
}

// demoSecrets reads the secrets of a demo's data directory (as an
// operator could, with the master keys) and the plaintext project fields.
func demoSecrets(t *testing.T, dir string) (all, fields []secret) {
	t.Helper()
	ctx := context.Background()
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	all = append(all, textSecret("appsecret", read("appsecret")), textSecret("platform admin token", read("platform-admin-token")),
		textSecret("institution admin token", read("institution-admin-token")))
	pmk, praw := masterKey(t, filepath.Join(dir, "platform"))
	_, iraw := masterKey(t, filepath.Join(dir, "institution"))
	all = append(all, rawSecret("platform master key", praw), rawSecret("institution master key", iraw))
	var bidders []*sm2.PrivateKey
	keys, _ := filepath.Glob(filepath.Join(dir, "ca", "*.key.pem"))
	for _, k := range keys {
		b, _ := os.ReadFile(k)
		pk, err := gm.ParsePrivateKey(b)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, keySecret(filepath.Base(k), pk)...)
		if strings.Contains(k, "bidder") {
			bidders = append(bidders, pk)
		}
	}
	db, err := store.Open(ctx, filepath.Join(dir, "platform", "platform.db"), "", store.WithoutSharedMigrations())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT section_no, name, tenderer, tenderer_code FROM plat_sections`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var no, name, tenderer, code string
		rows.Scan(&no, &name, &tenderer, &code)
		fields = append(fields, textSecret("biaoduanno", no), textSecret("biaoduanname", name), textSecret("zbr", tenderer), textSecret("zbrorgnum", code))
	}
	rows.Close()
	// The project keys, one per application.
	rows, err = db.Query(`SELECT applyno, section_no FROM plat_applications`)
	if err != nil {
		t.Fatal(err)
	}
	var apps [][2]string
	for rows.Next() {
		var applyNo, no string
		rows.Scan(&applyNo, &no)
		apps = append(apps, [2]string{applyNo, no})
	}
	rows.Close()
	for _, a := range apps {
		k, err := applicationKey(ctx, pmk, db, a[1], a[0])
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, rawSecret("project key of "+a[0], k))
	}
	appKeys := map[string]*sm2.PrivateKey{}
	rows, _ = db.Query(`SELECT applyno, private_sealed FROM plat_apply_keys`)
	for rows.Next() {
		var applyNo, sealed string
		rows.Scan(&applyNo, &sealed)
		pemKey, err := pmk.Open(sealed, "baohan/platform/apply-key/"+applyNo)
		if err != nil {
			t.Fatal(err)
		}
		k, err := gm.ParsePrivateKey(pemKey)
		if err != nil {
			t.Fatal(err)
		}
		appKeys[applyNo] = k
		all = append(all, keySecret("application key "+applyNo, k)...)
	}
	rows.Close()
	entries, err := store.NewMessageLog(db).List(ctx, store.LogFilter{Limit: 1000, WithBodies: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		f := fields2(e.Request)
		switch e.Interface {
		case "baohanfilecompletenotice":
			if k := appKeys[e.ApplyNo]; k != nil {
				for _, n := range []string{"key", "iv"} {
					if v, err := gm.UnwrapKey(k, f[n], gm.C1C3C2); err == nil {
						all = append(all, rawSecret("file SM4 "+n+" of "+e.ApplyNo, v))
					}
				}
			}
		case "baohanapply":
			ct, _ := base64.StdEncoding.DecodeString(f["digitalenvelope"])
			for _, b := range bidders {
				if v, err := gm.SM2Decrypt(b, ct, gm.C1C3C2); err == nil {
					all = append(all, rawSecret("applydata key of "+e.ApplyNo, v))
				}
			}
		}
	}
	return all, fields
}

func fields2(b []byte) map[string]string {
	m := fields(b)
	if m == nil {
		return map[string]string{}
	}
	return m
}
