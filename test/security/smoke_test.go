package security

import (
	"testing"
	"time"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/platform"
)

func TestStackSmoke(t *testing.T) {
	s := harness.Start(t)
	sec := s.Section(time.Hour)
	applyNo := s.Issued(sec.No, 30*time.Second)
	s.Clock.Advance(time.Hour + time.Second)
	defer func() {
		if t.Failed() {
			t.Logf("platform: %+v\ninst: %+v", s.PlatApp(applyNo), s.InstApp(applyNo))
			t.Log(s.PlatLog.String())
			t.Log(s.InstLog.String())
		}
	}()
	s.WaitPlat(applyNo, platform.PlainReceived, 10*time.Second)
	s.WaitInst(applyNo, institution.Restored, 30*time.Second)
	if d := s.Compare(applyNo); d != "" {
		t.Fatal(d)
	}
	t.Logf("%d exchanges", len(s.Wire()))
}
