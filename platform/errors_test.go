package platform

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

func TestPeerError(t *testing.T) {
	cases := []struct {
		err      error
		verbatim bool
	}{
		{refuse("applyno X is unknown"), true},
		{&TransitionError{ApplyNo: "X", From: Approved, Event: EvGiveupNotice}, true},
		{&completeError{"baohanfilemd5 mismatch"}, true},
		{inputErr("f", "bad"), true},
		{errors.New("pq: connection refused"), false},
		{context.DeadlineExceeded, false},
	}
	for _, c := range cases {
		got := peerError(c.err)
		if (got == c.err) != c.verbatim {
			t.Errorf("%v: verbatim %v", c.err, got == c.err)
		}
	}
	if peerError(nil) != nil {
		t.Error("nil")
	}
}

// brokenBlobs fails every write, as a full disk would.
type brokenBlobs struct{ store.Blobs }

func (brokenBlobs) Put(context.Context, string, io.Reader) (int64, string, error) {
	return 0, "", errors.New("write /var/lib/baohan/blobs/ab/cd: no space left on device")
}

// TestStorageFailureIsInternal: a failure of the platform's own storage is
// answered "internal error; try again later", with no detail for the peer.
func TestStorageFailureIsInternal(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		a, bn := e.approved(e.section(time.Hour))
		e.close()
		blobs, err := store.NewDirBlobs(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		e.start(WithBlobs(brokenBlobs{blobs}))
		r := e.send(protocol.UploadBaohanFile, map[string]string{"applyno": a.ApplyNo, "baohanno": bn, "filetype": "1", "index": "1", "baohanfile": b64(make([]byte, 32))})
		wantFail(t, "upload on a full disk", r, "internal error; try again later")
	})
}
