package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/platform"
)

// TestWithBaohanPlatform runs the institution against baohan's own
// platform, in process over HTTP, through the whole flow: apply at the
// platform, the bidder's steps at the institution, the ciphertext
// guarantee at the platform, the bid opening, the plaintext guarantee,
// and the project restored at the institution. The peers agree on 1 KiB
// chunks: the guarantees, with their fonts, take many.
func TestWithBaohanPlatform(t *testing.T) {
	ctx := context.Background()
	s := harness.Start(t, harness.Quiet(), harness.WithChunkSize(1024))
	sec := s.Section(time.Hour)
	applyNo := s.Issued(sec.No, 30*time.Second)
	// Bid opening: the platform releases the key.
	s.Clock.Advance(2 * time.Hour)
	if _, err := s.Plat.RestoreNow(ctx, applyNo); err != nil {
		t.Fatalf("restore: %v", err)
	}
	s.WaitInst(applyNo, institution.Restored, 30*time.Second)
	s.WaitPlat(applyNo, platform.PlainReceived, 30*time.Second)
	p, err := s.Inst.RestoredProject(ctx, s.InstApp(applyNo).ID)
	if err != nil || p.BiaoduanName != sec.Name {
		t.Errorf("restored project %+v %v, want the section %q", p, err, sec.Name)
	}
}
