package service

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/store"
)

// MasterKeyEnv names the environment variable that holds the master key
// (32 hex digits or base64 of 16 bytes). It wins over the key file.
const MasterKeyEnv = "BAOHAN_MASTER_KEY"

// OpenStore creates the data directory, opens the database of s (SQLite
// file name sqliteName in the data directory unless s.DB names another
// database), and loads the master key from the environment or the key
// file, generating the file on first start.
func OpenStore(ctx context.Context, s config.Storage, sqliteName string) (*store.DB, *gm.MasterKey, error) {
	if s.DataDir == "" {
		return nil, nil, fmt.Errorf("storage.data_dir is required")
	}
	if err := os.MkdirAll(s.DataDir, 0o700); err != nil {
		return nil, nil, err
	}
	keyFile := s.MasterKeyFile
	if keyFile == "" {
		keyFile = filepath.Join(s.DataDir, "master.key")
	}
	mk, err := gm.LoadMasterKey(os.Getenv(MasterKeyEnv), keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("master key: %w", err)
	}
	url := s.DB
	if url == "" {
		url = filepath.Join(s.DataDir, sqliteName)
	}
	db, err := store.Open(ctx, url, s.DataDir)
	if err != nil {
		return nil, nil, err
	}
	return db, mk, nil
}
