//go:build unix

package issues

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/harness"
)

// TestDataFilesPrivate: the SQLite database files (the message log, the
// sealed keys) were created 0644 less the umask, so under the common
// umask 022 any local user could read them, whatever the data
// directory's mode (a backup copy, a directory made 0755 by an
// installer). Under a permissive umask, every file both services write
// in their data directories (database, WAL, shared memory, master key,
// blobs) must be readable by the service's user only, and every
// directory 0700.
func TestDataFilesPrivate(t *testing.T) {
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) }) // after the stack's own cleanup
	s := harness.Start(t, harness.Quiet())
	// A guarantee issued: the WAL, the shared memory and the blobs exist.
	s.Issued(s.Section(time.Hour).No, 20*time.Second)

	checked := 0
	for _, dir := range []string{s.PlatCfg.Storage.DataDir, s.InstCfg.Storage.DataDir} {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return nil // removed meanwhile (a temporary file, the WAL at a checkpoint)
			}
			if info.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s: mode %v, open to other users", p, info.Mode().Perm())
			}
			checked++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The files that matter most are among those checked.
	for _, f := range []string{"platform/platform.db", "platform/platform.db-wal", "platform/platform.db-shm", "platform/master.key",
		"institution/institution.db", "institution/institution.db-wal", "institution/institution.db-shm", "institution/master.key"} {
		if _, err := os.Stat(filepath.Join(s.Dir, f)); err != nil {
			t.Error(err)
		}
	}
	if checked < 8 {
		t.Fatalf("only %d files and directories found in the data directories", checked)
	}
}
