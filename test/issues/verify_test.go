package issues

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/platform"
)

// TestGuaranteeVerification (issue 16 §1): every guarantee said "scan the
// QR code below to verify" and its QR code led nowhere. Over HTTP between
// a platform and an institution: the institution draws a 验真码, prints it
// and puts it in the QR code's URL; the platform reads the QR code of the
// guarantee it received and asks the institution at its published
// verification URL, which answers 有效, then 已退保 after a withdrawal; at
// the section's 开标验真 every guarantee is listed with its live status;
// a QR code that does not lead to the published URL is a problem shown,
// not hidden.
func TestGuaranteeVerification(t *testing.T) {
	s := harness.Start(t, harness.Quiet(), harness.WithChunkSize(256<<10), harness.WithPlatformConfig(func(c *platform.Config) {
		c.Institutions[0].VerifyURL = c.Institutions[0].BaseURL + "/verify"
	}))
	ctx := context.Background()
	sec := s.Section(time.Hour)
	applyNo := s.Issued(sec.No, 30*time.Second)
	ia := s.InstApp(applyNo)
	code, err := s.Inst.VerifyCodeOf(ctx, ia.ID)
	if err != nil || len(code) != institution.VerifyCodeLen {
		t.Fatalf("verification code %q %v", code, err)
	}

	// The platform checks what it received once Run comes to it.
	if n, err := s.Plat.CheckReceived(ctx, 10); err != nil || n != 1 {
		t.Fatalf("CheckReceived: %d %v", n, err)
	}
	c, err := s.Plat.LastCheck(ctx, applyNo)
	if err != nil {
		t.Fatal(err)
	}
	want := s.Inst.VerifyURL(ia.BaohanNo, code)
	if !c.OK || !c.Asked || c.Status != institution.VerifyValid || c.StatusLabel != "有效" || c.QR != want || c.Code != code || c.BaohanNo != ia.BaohanNo {
		t.Fatalf("check of the received guarantee: %+v (want the QR code %s)", c, want)
	}
	if n, _ := s.Plat.CheckReceived(ctx, 10); n != 0 {
		t.Errorf("CheckReceived again: %d checked, want 0", n)
	}

	// Withdrawn: the section's 开标验真 says so, live, beside the
	// guarantee the bidder then got again, in the order of application.
	if _, err := s.Plat.Quit(ctx, applyNo, "项目变更"); err != nil {
		t.Fatal(err)
	}
	s.WaitPlat(applyNo, platform.Quit, 30*time.Second)
	other := s.Issued(sec.No, 30*time.Second)
	sc, err := s.Plat.CheckSection(ctx, sec.No)
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Guarantees) != 2 || sc.Failures != 0 || sc.Guarantees[0].ApplyNo != applyNo || sc.Guarantees[0].Status != institution.VerifyQuit ||
		sc.Guarantees[0].StatusLabel != "已退保" || sc.Guarantees[1].ApplyNo != other || sc.Guarantees[1].Status != institution.VerifyValid {
		t.Fatalf("开标验真 after the withdrawal: %+v", sc)
	}

	// The institution publishes another URL than its QR codes lead to:
	// the check fails and says why.
	s.StopPlatform()
	s.PlatCfg.Institutions[0].VerifyURL = s.InstDoor.URL + "/elsewhere"
	s.StartPlatform()
	sc, err = s.Plat.CheckSection(ctx, sec.No)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Failures != 2 || sc.Guarantees[0].OK {
		t.Fatalf("a QR code leading elsewhere passed: %+v", sc.Guarantees)
	}
	problems := strings.Join(sc.Guarantees[0].Problems, "\n")
	for _, w := range []string{"not to the institution's published verification URL " + s.InstDoor.URL + "/elsewhere", "does not verify guarantee " + ia.BaohanNo} {
		if !strings.Contains(problems, w) {
			t.Errorf("problems lack %q:\n%s", w, problems)
		}
	}
}
