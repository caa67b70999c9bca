package security

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/store"
)

// secret is one secret value in every form it could leak in.
type secret struct {
	name  string
	forms map[string][]byte // form name → bytes
}

// rawSecret is a binary secret: raw, hex (both cases), base64 (std, URL,
// unpadded).
func rawSecret(name string, b []byte) secret {
	s := secret{name: name, forms: map[string][]byte{
		"hex":        []byte(hex.EncodeToString(b)),
		"HEX":        []byte(strings.ToUpper(hex.EncodeToString(b))),
		"base64":     []byte(base64.StdEncoding.EncodeToString(b)),
		"base64url":  []byte(base64.URLEncoding.EncodeToString(b)),
		"base64 raw": []byte(base64.RawStdEncoding.EncodeToString(b)),
	}}
	if len(b) >= 12 { // short raw byte strings occur by chance in binary files
		s.forms["raw"] = b
	}
	return s
}

// textSecret is a secret string, as is and as base64 and hex of its bytes.
func textSecret(name, v string) secret {
	s := rawSecret(name, []byte(v))
	s.forms["text"] = []byte(v)
	delete(s.forms, "raw")
	if j, _ := json.Marshal(v); !bytes.Equal(j[1:len(j)-1], []byte(v)) {
		s.forms["json"] = j[1 : len(j)-1] // as escaped in a JSON string
	}
	return s
}

// keySecret is an SM2 private key: its scalar and its PEM body.
func keySecret(name string, k *sm2.PrivateKey) []secret {
	d := k.D.FillBytes(make([]byte, 32))
	out := []secret{rawSecret(name+" scalar", d)}
	if pem, err := gm.MarshalPrivateKeyPEM(k); err == nil {
		lines := strings.Split(string(pem), "\n")
		if len(lines) > 2 {
			out = append(out, textSecret(name+" PEM", lines[1])) // the first base64 line of the body
		}
	}
	return out
}

// finding is a secret found where it must not be.
type finding struct{ where, secret, form string }

func (f finding) String() string { return fmt.Sprintf("%s: %s (%s)", f.where, f.secret, f.form) }

// scan looks for every form of every secret in b.
func scan(where string, b []byte, secrets []secret) []finding {
	var out []finding
	for _, s := range secrets {
		names := make([]string, 0, len(s.forms))
		for n := range s.forms {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if len(s.forms[n]) > 0 && bytes.Contains(b, s.forms[n]) {
				out = append(out, finding{where, s.name, n})
			}
		}
	}
	return out
}

// scanDir scans every file under dir (the SQLite database, its WAL, the
// blobs, the generated files) except those skip names.
func scanDir(t *testing.T, dir string, secrets []secret, skip ...string) []finding {
	t.Helper()
	var out []finding
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		for _, s := range skip {
			if d.Name() == s {
				return nil
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out = append(out, scan(rel, b, secrets)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// masterKey reads a side's generated master key file.
func masterKey(t *testing.T, dataDir string) (*gm.MasterKey, []byte) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("master.key is not hex: %v", err)
	}
	mk, err := gm.NewMasterKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	return mk, raw
}

// flowSecrets gathers the secrets of a stack after a guarantee was issued
// for applyNo in section sectionNo: the appsecret, the admin tokens, both
// master keys, the application's project key, its SM2 key pair
// held by the platform, the applydata SM4 key, the guarantee files' SM4
// keys and ivs, the institution's seal key and the bidder's key. It opens
// the sealed columns with the master key, as an operator could.
func flowSecrets(t *testing.T, s *harness.System, sectionNo, applyNo string) (all []secret, projectKey []byte) {
	t.Helper()
	ctx := context.Background()
	pmk, praw := masterKey(t, s.PlatCfg.Storage.DataDir)
	_, iraw := masterKey(t, s.InstCfg.Storage.DataDir)
	all = append(all, textSecret("appsecret", harness.AppSecret), textSecret("platform admin token", harness.PlatformAdmin),
		textSecret("institution admin token", harness.InstAdmin), rawSecret("platform master key", praw), rawSecret("institution master key", iraw))

	db := s.Plat.DB()
	var sealed string
	projectKey, err := applicationKey(ctx, pmk, db, sectionNo, applyNo)
	if err != nil {
		t.Fatal(err)
	}
	all = append(all, rawSecret("project key", projectKey))

	var appKey *sm2.PrivateKey
	if err := db.QueryRowContext(ctx, db.Rebind(`SELECT private_sealed FROM plat_apply_keys WHERE applyno = ?`), applyNo).Scan(&sealed); err == nil {
		pemKey, err := pmk.Open(sealed, "baohan/platform/apply-key/"+applyNo)
		if err != nil {
			t.Fatalf("opening the sealed application key: %v", err)
		}
		if appKey, err = gm.ParsePrivateKey(pemKey); err != nil {
			t.Fatal(err)
		}
		all = append(all, keySecret("application SM2 key", appKey)...)
	}
	all = append(all, keySecret("institution seal key", s.PKI.Inst.Key)...)
	all = append(all, keySecret("bidder key", s.PKI.Bidder.Key)...)

	for _, ex := range s.InstDoor.Exchanges() {
		f := fields(ex.Request)
		if strings.HasSuffix(ex.Path, "/baohanapply") && f["applyno"] == applyNo {
			ct, _ := base64.StdEncoding.DecodeString(f["digitalenvelope"])
			k, err := gm.SM2Decrypt(s.PKI.Bidder.Key, ct, gm.C1C3C2)
			if err != nil {
				t.Fatalf("opening the envelope as the bidder: %v", err)
			}
			all = append(all, rawSecret("applydata SM4 key", k))
		}
	}
	for _, ex := range s.PlatDoor.Exchanges() {
		f := fields(ex.Request)
		if strings.HasSuffix(ex.Path, "/baohanfilecompletenotice") && f["applyno"] == applyNo && appKey != nil {
			for _, n := range []string{"key", "iv"} {
				k, err := gm.UnwrapKey(appKey, f[n], gm.C1C3C2)
				if err != nil {
					t.Fatalf("unwrapping %s: %v", n, err)
				}
				all = append(all, rawSecret("guarantee file SM4 "+n+" (filetype "+f["filetype"]+")", k))
			}
		}
	}
	return all, projectKey
}

// applicationKey opens the project key of an application with the
// platform's master key, as an operator could: the application's own
// (plat_applications.key_sealed), or, for one made before applications had
// their own (NULL), its section's.
func applicationKey(ctx context.Context, pmk *gm.MasterKey, db *store.DB, sectionNo, applyNo string) ([]byte, error) {
	var own sql.NullString
	if err := db.QueryRowContext(ctx, db.Rebind(`SELECT key_sealed FROM plat_applications WHERE applyno = ?`), applyNo).Scan(&own); err != nil {
		return nil, fmt.Errorf("the project key of %s: %w", applyNo, err)
	}
	sealed, purpose := own.String, "baohan/platform/project-key/"+applyNo
	if !own.Valid {
		if err := db.QueryRowContext(ctx, db.Rebind(`SELECT key_sealed FROM plat_sections WHERE section_no = ?`), sectionNo).Scan(&sealed); err != nil {
			return nil, fmt.Errorf("the project key of section %s: %w", sectionNo, err)
		}
		purpose = "baohan/platform/section-key/" + sectionNo
	}
	k, err := pmk.Open(sealed, purpose)
	if err != nil {
		return nil, fmt.Errorf("opening the sealed project key of %s: %w", applyNo, err)
	}
	return k, nil
}

// fields decodes a flat JSON request (nil when it is not one).
func fields(b []byte) map[string]string {
	var m map[string]string
	json.Unmarshal(b, &m)
	return m
}

// projectFields are the plaintext project fields of a section: secret
// from the institution until the bid opening.
func projectFields(s *harness.System, sectionNo string) []secret {
	sec, err := s.Plat.Section(context.Background(), sectionNo)
	if err != nil {
		s.T.Fatal(err)
	}
	return []secret{textSecret("biaoduanno", sec.No), textSecret("biaoduanname", sec.Name),
		textSecret("zbr", sec.Tenderer), textSecret("zbrorgnum", sec.TendererCode)}
}

func unmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
