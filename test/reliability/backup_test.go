package reliability

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/store"
)

// TestBackupRestore: both services are backed up while running (SQLite
// VACUUM INTO, the blob directory, the master key), lose their data
// directories, and come back from the backups; the flow goes on to the
// plaintext guarantee and every end check holds (histories, guarantees,
// outboxes, chains). The procedure of docs/SECURITY.md, exercised.
func TestBackupRestore(t *testing.T) {
	s := harness.Start(t, harness.Quiet())
	applyNo := s.Issued(s.Section(time.Hour).No, 30*time.Second)
	// (the restore stays scheduled in the platform's outbox: it is backed up too)
	platBackup, instBackup := filepath.Join(t.TempDir(), "platform"), filepath.Join(t.TempDir(), "institution")
	backup(t, s.Plat.DB(), s.PlatCfg.Storage.DataDir, platBackup, "platform.db")
	backup(t, s.Inst.DB(), s.InstCfg.Storage.DataDir, instBackup, "institution.db")

	s.StopPlatform()
	s.StopInstitution()
	os.RemoveAll(s.PlatCfg.Storage.DataDir)
	os.RemoveAll(s.InstCfg.Storage.DataDir)
	s.PlatCfg.Storage.DataDir, s.InstCfg.Storage.DataDir = platBackup, instBackup
	s.StartPlatform()
	s.StartInstitution()

	s.Clock.Advance(time.Hour + time.Second)
	s.WaitPlat(applyNo, platform.PlainReceived, 30*time.Second)
	s.WaitInst(applyNo, institution.Restored, 30*time.Second)
	settle(s)
	for _, p := range s.CheckAll(applyNo) {
		t.Error(p)
	}
}

// backup copies a running service's SQLite database (VACUUM INTO: a
// consistent copy while it runs) and the rest of its data directory.
func backup(t *testing.T, db *store.DB, dir, to, dbFile string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`VACUUM INTO '` + filepath.Join(to, dbFile) + `'`); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if strings.HasPrefix(rel, dbFile) {
			return nil // the database, its WAL and shared memory: copied above
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
