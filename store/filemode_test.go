//go:build unix

package store

import (
	"bytes"
	"context"
	"database/sql"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// withUmask runs f under umask mask (process-wide: not parallel).
func withUmask(mask int, f func()) {
	old := syscall.Umask(mask)
	defer syscall.Umask(old)
	f()
}

func modeOf(t *testing.T, p string) fs.FileMode {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// The SQLite database and its WAL and shared-memory files are 0600
// whatever the umask and the directory's mode; files found with more
// are made 0600, with a warning.
func TestSQLiteFileModes(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "modes.db")
	var logs bytes.Buffer
	open := func() *DB {
		db, err := Open(context.Background(), "", dir, WithFileName("modes.db"), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	withUmask(0, func() {
		db := open()
		defer db.Close()
		// A write, so that the WAL and the shared memory exist.
		if err := db.InTx(context.Background(), func(tx *sql.Tx) error {
			_, err := tx.Exec("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('x')")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			if m := modeOf(t, p); m != 0o600 {
				t.Errorf("%s created with mode %v under umask 0, want 0600", filepath.Base(p), m)
			}
		}
	})
	if strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("warnings on a new database: %s", logs.String())
	}

	// Files left readable by others (by an older version, a restore, a
	// copy) are made private when the database opens.
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if _, err := os.Stat(p); os.IsNotExist(err) {
			if err := os.WriteFile(p, nil, 0o666); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db := open()
	db.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if _, err := os.Stat(p); os.IsNotExist(err) {
			continue // SQLite removed it on close
		}
		if m := modeOf(t, p); m != 0o600 {
			t.Errorf("%s left at %v", filepath.Base(p), m)
		}
	}
	if n := strings.Count(logs.String(), "made private"); n < 1 || !strings.Contains(logs.String(), "was=-rw-r--r--") {
		t.Errorf("no warning about the loose files:\n%s", logs.String())
	}
}

// Blob files are 0600 and their directories 0700 under any umask.
func TestDirBlobsFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blobs")
	withUmask(0, func() {
		b, err := NewDirBlobs(dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := b.Put(context.Background(), "chunk/A1/0", strings.NewReader("secret")); err != nil {
			t.Fatal(err)
		}
	})
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if m := modeOf(t, p); m != want {
			t.Errorf("%s: mode %v, want %v", p, m, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
