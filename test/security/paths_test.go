package security

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/protocol"
)

// Identifiers a peer chooses that look like paths, SQL or shell. The
// platform chooses applyno, the institution baohanno; both are free text
// in the spec (real ones carry Chinese, parentheses, slashes), so they
// are accepted, stored verbatim and never used in a file path.
var hostileIDs = []string{
	"../../etc/passwd",
	"..\\..\\windows\\win.ini",
	"%2e%2e%2f%2e%2e%2fetc%2fpasswd",
	"/etc/passwd",
	"1' OR '1'='1",
	"'; DROP TABLE inst_applications; --",
	"$(touch /tmp/baohan-pwned)",
	"（2026）苏担字第001号/副本",
}

// TestHostileIdentifiers: a platform sends baohanapply with path- and
// SQL-looking applynos and the bidder goes through (agreement, seal,
// upload attempts); an institution answers real applications with such
// baohannos and uploads guarantees under them. Every value is stored
// exactly, and the only files on disk are the databases, the master key
// and blobs named by SM3 (blobs/xx/<64 hex>): no name derived from a
// peer's text, nothing outside the data directories.
func TestHostileIdentifiers(t *testing.T) {
	s := harness.Start(t, harness.Quiet(), harness.WithPlatformPeer(unlimited), harness.WithInstitutionPeer(unlimited))
	plat, inst := s.AsPlatform(), s.AsInstitution()
	// Institution side: hostile applynos.
	for _, id := range hostileIDs {
		f, err := s.ApplyFields(id, gm.NewKey())
		if err != nil {
			t.Fatal(err)
		}
		r, err := plat.Call(protocol.BaohanApply, f)
		if err != nil {
			t.Fatal(err)
		}
		if r.Code != 1 {
			t.Errorf("baohanapply %q: %q", id, r.Message)
			continue
		}
		var res protocol.ApplyResult
		if err := unmarshal(r.Data, &res); err != nil {
			t.Fatal(err)
		}
		if err := s.Bidder().Flow(context.Background(), s.InstDoor.URL+"/bidder/"+res.RedirectURL[strings.Index(res.RedirectURL, "/bidder/")+8:]); err != nil {
			t.Errorf("bidder flow for applyno %q: %v", id, err)
		}
		if a := s.InstApp(id); a == nil || a.ApplyNo != id {
			t.Errorf("applyno %q not stored verbatim: %+v", id, a)
		}
	}
	// Platform side: hostile baohannos on real applications.
	for _, id := range hostileIDs {
		applyNo := s.Apply(s.Section(time.Hour).No) // one application per bidder and section
		s.Token(applyNo, 10*time.Second)
		r, err := inst.Call(protocol.BaohanNotice, map[string]string{"applyno": applyNo, "baohanno": id, "instname": harness.InstitutionName,
			"generatetime": protocol.FormatTime(s.Clock.Now()), "rate": "0.005", "cost": "4000.00", "applystatus": "1"})
		if err != nil {
			t.Fatal(err)
		}
		if r.Code != 1 {
			t.Logf("baohannotice with baohanno %q refused: %q", id, r.Message)
			continue
		}
		doc, err := s.GuaranteeOFD(harness.GuaranteeSpec{ApplyNo: applyNo, BaohanNo: id})
		if err != nil {
			t.Fatal(err)
		}
		r, err = inst.Upload(applyNo, id, "1", doc, 1024)
		if err != nil {
			t.Fatal(err)
		}
		if r.Code != 1 {
			t.Errorf("upload under baohanno %q: %q", id, r.Message)
		}
		if a := s.PlatApp(applyNo); a.BaohanNo != id {
			t.Errorf("baohanno %q stored as %q", id, a.BaohanNo)
		}
	}
	time.Sleep(300 * time.Millisecond) // the institution's upload attempts for the hostile applynos
	s.Stop()
	checkDataDir(t, s.PlatCfg.Storage.DataDir, "platform")
	checkDataDir(t, s.InstCfg.Storage.DataDir, "institution")
	entries, _ := os.ReadDir(s.Dir)
	for _, e := range entries {
		if !allowedTop.MatchString(e.Name()) {
			t.Errorf("unexpected file beside the data directories: %s", e.Name())
		}
	}
	entries, _ = os.ReadDir(s.PKI.Dir)
	for _, e := range entries {
		if !allowedPKI.MatchString(e.Name()) {
			t.Errorf("unexpected file in the PKI directory: %s", e.Name())
		}
	}
	if _, err := os.Stat("/tmp/baohan-pwned"); err == nil {
		t.Error("/tmp/baohan-pwned exists: a value reached a shell")
	}
}

var (
	allowedTop  = regexp.MustCompile(`^(platform|institution|ca)$`)
	allowedPKI  = regexp.MustCompile(`^(ca|institution|bidder)\.(cert|key)\.pem$`)
	allowedData = regexp.MustCompile(`^((platform|institution)\.db(-wal|-shm|-journal)?|master\.key|blobs|blobs/[0-9a-f]{2}|blobs/[0-9a-f]{2}/[0-9a-f]{64})$`)
)

func checkDataDir(t *testing.T, dir, side string) {
	t.Helper()
	blobs := 0
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Error(err)
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		if rel == "." {
			return nil
		}
		if !allowedData.MatchString(filepath.ToSlash(rel)) {
			t.Errorf("%s: unexpected path %q in the data directory", side, rel)
		}
		if strings.Count(filepath.ToSlash(rel), "/") == 2 {
			blobs++
		}
		return nil
	})
	if blobs == 0 {
		t.Errorf("%s: no blobs at all: the hostile identifiers never reached storage", side)
	}
}
