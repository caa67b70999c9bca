package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

// TestRefusalCodes: what the platform refuses reaches the peer as it is
// (a baohan.Error, code and message); a failure of the platform does not.
func TestRefusalCodes(t *testing.T) {
	cases := []struct {
		err  error
		code string
	}{
		{baohan.Refusef("applyno X is unknown"), baohan.ERefused},
		{&TransitionError{ApplyNo: "X", From: Approved, Event: EvGiveupNotice}, baohan.EConflict},
		{&completeError{"baohanfilemd5 mismatch"}, baohan.EInvalid},
		{&fileComplete{g: &Guarantee{ApplyNo: "X", FileType: 1}}, baohan.EConflict},
		{inputErr("f", "bad"), baohan.EInvalid},
		{fmt.Errorf("section S1: %w", ErrNotFound), baohan.ENotFound},
		{errors.New("pq: connection refused"), baohan.EInternal},
		{context.DeadlineExceeded, baohan.EInternal},
	}
	for _, c := range cases {
		if got := baohan.ErrorCode(c.err); got != c.code {
			t.Errorf("%v: code %q, want %q", c.err, got, c.code)
		}
		if msg := baohan.ErrorMessage(c.err); (msg == c.err.Error()) != (c.code != baohan.EInternal) {
			t.Errorf("%v: the peer is told %q", c.err, msg)
		}
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
