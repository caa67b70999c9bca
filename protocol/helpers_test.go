package protocol

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// testSecret is the appsecret every golden file is signed with.
const testSecret = "9f2c7a4e1b8d3f6a0c5e7b9d2f4a6c8e"

// refSignString builds the sign string of PROFILE.md independently of
// SignString: drop sign and empty values, sort keys byte-wise, k=v with &,
// then &appsecret=.
func refSignString(fields map[string]string, secret string) string {
	var keys []string
	for k, v := range fields {
		if k == "sign" || v == "" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return bytes.Compare([]byte(keys[i]), []byte(keys[j])) < 0 })
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+fields[k])
	}
	return strings.Join(parts, "&") + "&appsecret=" + secret
}

// openssl digests s with `openssl dgst -<alg>` (and -hmac key when key is
// not empty) and returns the lowercase hex. It skips the test when openssl
// is absent.
func openssl(t testing.TB, alg, hmacKey, s string) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	args := []string{"dgst", "-" + alg, "-r"}
	if hmacKey != "" {
		args = append(args, "-hmac", hmacKey)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdin = strings.NewReader(s)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl %v: %v", args, err)
	}
	// -r prints "<hex> *stdin"
	hexd, _, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	return strings.ToLower(hexd)
}

// decodeFlat decodes a flat JSON object of strings with encoding/json
// alone (an independent path from ParseRequest, for strings only).
func decodeFlat(t testing.TB, b []byte) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return m
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// jsonPair is one key and its raw JSON value, for writing test bodies in
// a chosen key order.
type jsonPair struct {
	Key string
	Raw string // raw JSON text of the value
}

func jsonStr(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimRight(b.String(), "\n")
}

// writeObject writes pairs as a JSON object, one key per line.
func writeObject(pairs []jsonPair) []byte {
	var b bytes.Buffer
	b.WriteString("{\n")
	for i, p := range pairs {
		b.WriteString("  " + jsonStr(p.Key) + ": " + p.Raw)
		if i < len(pairs)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("}\n")
	return b.Bytes()
}
