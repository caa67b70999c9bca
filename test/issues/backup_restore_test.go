package issues

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/platform"
)

// TestReuploadAfterPlatformRestoredFromBackup: the platform loses its disk
// and is restored from last night's backup, taken after a guarantee was
// approved but before its file arrived. The institution holds the file
// as received by the platform ("complete"); the platform, back from the
// backup, waits for it in "approved" and nothing will ever send it: the
// institution's operator action for this, reupload
// (POST /api/applications/{id}/reupload?filetype=1, Service.ReuploadFile),
// refuses a file the platform once acknowledged ("already received by
// the platform"). Recovering from a backup needs a way to send it again
// (the platform's completion is idempotent, so a forced re-upload is
// safe); then both sides agree again.
func TestReuploadAfterPlatformRestoredFromBackup(t *testing.T) {
	s := harness.Start(t, harness.Quiet())
	applyNo := s.Apply(s.Section(time.Hour).No)
	s.PlatDoor.Inject("uploadbaohanfile", harness.Hold)
	s.BidderSignsAndPays(s.Token(applyNo, 10*time.Second))
	s.Eventually("the first chunk held", 10*time.Second, func() bool { return s.PlatDoor.Holding() == 1 })

	// The nightly backup: the database (VACUUM INTO, consistent while
	// running), the blobs, the master key.
	backup := filepath.Join(t.TempDir(), "platform")
	if err := os.MkdirAll(backup, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Plat.DB().Exec(`VACUUM INTO '` + filepath.Join(backup, "platform.db") + `'`); err != nil {
		t.Fatal(err)
	}
	copyTree(t, s.PlatCfg.Storage.DataDir, backup, "platform.db")
	s.PlatDoor.Release()
	s.WaitPlat(applyNo, platform.CipherReceived, 20*time.Second)
	s.WaitInst(applyNo, institution.Issued, 20*time.Second)

	// The disk is lost; the platform comes back from the backup.
	s.StopPlatform()
	s.PlatCfg.Storage.DataDir = backup
	s.StartPlatform()
	if st := s.PlatApp(applyNo).State; st != platform.Approved {
		t.Fatalf("restored platform: %s, want approved (the backup predates the file)", st)
	}
	// The institution's operator sends the guarantee again.
	ia := s.InstApp(applyNo)
	if err := s.Inst.ReuploadFile(context.Background(), ia.ID, 1, "person:operator"); err != nil {
		t.Fatalf("reupload after the platform lost the file: %v", err)
	}
	s.WaitPlat(applyNo, platform.CipherReceived, 20*time.Second)
	if d := s.Compare(applyNo); d != "" {
		t.Error(d)
	}
}

// copyTree copies dir's files into to (skipping names in skip).
func copyTree(t *testing.T, dir, to string, skip ...string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		for _, s := range skip {
			if rel == s || strings.HasPrefix(rel, s+"-") {
				return nil
			}
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}
