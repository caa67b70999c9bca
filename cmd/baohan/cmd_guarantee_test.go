package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/baohan-dev/baohan/institution"
)

// TestGuaranteeVerify: the command asks the verification URL by number and
// code or by file, prints the answer, and exits 1 when the institution
// does not verify.
func TestGuaranteeVerify(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/verify" || r.Header.Get("Accept") != "application/json" {
			http.NotFound(w, r)
			return
		}
		if r.Method == http.MethodPost {
			b, _ := io.ReadAll(r.Body)
			issued := string(b) == "issued"
			json.NewEncoder(w).Encode(institution.FileVerification{Issued: issued, SealsOK: issued, SM3: "ab", Message: map[bool]string{true: "本机构出具", false: "不是本机构出具的文件"}[issued]})
			return
		}
		if r.URL.Query().Get("baohanno") != "BH1" || r.URL.Query().Get("code") != "K7MW3P9Q" {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":"未查询到该保函：保函编号或验真码不正确"}`))
			return
		}
		json.NewEncoder(w).Encode(institution.Verification{BaohanNo: "BH1", Status: "quit", StatusLabel: "已退保", Amount: "200.00"})
	}))
	defer srv.Close()
	u := srv.URL + "/verify"
	dir := t.TempDir()
	for _, name := range []string{"issued", "other"} {
		os.WriteFile(filepath.Join(dir, name+".ofd"), []byte(name), 0o600)
	}
	for _, tt := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"--url", u, "--baohanno", "BH1", "--code", "K7MW3P9Q"}, 0, "状态      已退保 (quit)"},
		{[]string{"--url", u, "--baohanno", "BH1", "--code", "K7MW3P9Q", "--json"}, 0, `"status": "quit"`},
		{[]string{"--url", u, "--baohanno", "BH1", "--code", "WRONG"}, 1, "保函编号或验真码不正确"},
		{[]string{"--url", u, filepath.Join(dir, "issued.ofd")}, 0, "本机构出具"},
		{[]string{"--url", u, filepath.Join(dir, "other.ofd")}, 1, "不是本机构出具的文件"},
		{[]string{"--baohanno", "BH1", "--code", "X"}, 1, "--url is required"},
		{[]string{"--url", u, "--baohanno", "BH1"}, 1, "--code is required"},
		{[]string{"--url", u, "--baohanno", "BH1", "--code", "X", "a.ofd"}, 1, "either --baohanno and --code, or one FILE.ofd"},
	} {
		code, out, errs := runOFD(t, append([]string{"guarantee", "verify"}, tt.args...)...)
		if code != tt.code || !strings.Contains(out+errs, tt.out) {
			t.Errorf("%v: exit %d\n%s%s\nwant exit %d and %q", tt.args, code, out, errs, tt.code, tt.out)
		}
	}
}
