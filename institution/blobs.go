package institution

import (
	"bytes"
	"context"
	"io"

	"github.com/baohan-dev/baohan/store"
)

// maxDocument bounds a guarantee or agreement file read back from blobs.
const maxDocument = 64 << 20

// blobStore reads and writes whole documents in a store.Blobs.
type blobStore struct{ b store.Blobs }

func (s blobStore) Put(ctx context.Context, key string, data []byte) error {
	_, _, err := s.b.Put(ctx, key, bytes.NewReader(data))
	return err
}

func (s blobStore) Get(ctx context.Context, key string) ([]byte, error) {
	rc, err := s.b.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, maxDocument))
}

func (s blobStore) Delete(ctx context.Context, key string) error { return s.b.Delete(ctx, key) }
