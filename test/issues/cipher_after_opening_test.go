package issues

import (
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
)

// TestCipherGuaranteeAfterOpening: the ciphertext guarantee (filetype 1)
// is the bid's deposit and must be at the platform before the bid
// opening, but the platform took its chunks and its
// baohanfilecompletenotice at any time after the success notice: a
// guarantee completed after the opening moved the application to
// cipher_received and got its baohanrestore at once. Both must be refused
// after the opening, with code 0 and a message naming the rule and the
// opening, and the application must stay approved; a repeated notice of a
// file completed before the opening is still answered code 1.
func TestCipherGuaranteeAfterOpening(t *testing.T) {
	s := harness.Start(t, harness.Quiet())
	inst := s.AsInstitution()
	// approved makes an application the institution approves by hand
	// (the bidder never comes, so the real institution stays idle).
	approved := func(sec *platform.Section) (applyNo, baohanNo string) {
		t.Helper()
		applyNo = s.Apply(sec.No)
		s.Token(applyNo, 10*time.Second)
		baohanNo = "HXDB-OPEN-" + applyNo[len(applyNo)-8:]
		r, err := inst.Call(protocol.BaohanNotice, map[string]string{"applyno": applyNo, "baohanno": baohanNo, "instname": harness.InstitutionName,
			"generatetime": protocol.FormatTime(s.Clock.Now()), "rate": "0.005", "cost": "4000.00", "applystatus": "1"})
		if err != nil {
			t.Fatal(err)
		}
		if r.Code != 1 {
			t.Fatalf("baohannotice: %q", r.Message)
		}
		return applyNo, baohanNo
	}
	doc := func(applyNo, baohanNo string) []byte {
		t.Helper()
		d, err := s.GuaranteeOFD(harness.GuaranteeSpec{ApplyNo: applyNo, BaohanNo: baohanNo})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	refused := func(what string, r *protocol.Response, sec *platform.Section) {
		t.Helper()
		want := "the ciphertext guarantee (filetype 1) refused: only before the bid opening, which was at " + protocol.FormatTime(sec.KaibiaoTime)
		if r == nil || r.Code != 0 || !strings.Contains(r.Message, want) {
			t.Errorf("%s after the opening: answered %+v, want code 0 with %q", what, r, want)
		}
	}

	// Chunks sent before the opening, the complete notice after it.
	secA := s.Section(time.Hour)
	lateComplete, lateBaohan := approved(secA)
	complete, r, err := inst.UploadChunks(lateComplete, lateBaohan, protocol.FileTypeCipher, doc(lateComplete, lateBaohan), 4096)
	if err != nil || r.Code != 1 {
		t.Fatalf("chunks before the opening: %+v %v", r, err)
	}
	// A file completed before the opening (its section opens later).
	secB := s.Section(3 * time.Hour)
	onTime, onTimeBaohan := approved(secB)
	onTimeComplete, r, err := inst.UploadChunks(onTime, onTimeBaohan, protocol.FileTypeCipher, doc(onTime, onTimeBaohan), 4096)
	if err != nil || r.Code != 1 {
		t.Fatalf("chunks before the opening: %+v %v", r, err)
	}
	if r, err := inst.Call(protocol.BaohanFileCompleteNotice, onTimeComplete); err != nil || r.Code != 1 {
		t.Fatalf("complete notice before the opening: %+v %v", r, err)
	}
	// Nothing sent before the opening.
	secC := s.Section(time.Hour)
	noFile, noFileBaohan := approved(secC)

	s.Clock.Advance(time.Hour + time.Minute)

	r, err = inst.Call(protocol.BaohanFileCompleteNotice, complete)
	if err != nil {
		t.Fatal(err)
	}
	refused("baohanfilecompletenotice", r, secA)
	_, r, err = inst.UploadChunks(noFile, noFileBaohan, protocol.FileTypeCipher, doc(noFile, noFileBaohan), 4096)
	if err != nil {
		t.Fatal(err)
	}
	refused("uploadbaohanfile", r, secC)
	for _, applyNo := range []string{lateComplete, noFile} {
		if st := s.PlatApp(applyNo).State; st != platform.Approved {
			t.Errorf("%s is %s after a ciphertext guarantee sent after the opening, want approved", applyNo, st)
		}
	}

	// The same notice again, for the file completed in time (its own
	// opening is later, but the clock is past secA's: the answer must
	// not depend on it).
	s.Clock.Advance(2 * time.Hour)
	if r, err := inst.Call(protocol.BaohanFileCompleteNotice, onTimeComplete); err != nil || r.Code != 1 {
		t.Errorf("the same complete notice again, after the opening: %+v %v", r, err)
	}
}
