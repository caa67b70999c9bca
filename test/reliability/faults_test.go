// Package reliability proves that the platform and the institution keep
// working through faults: a peer unreachable, slow past the timeout,
// answering 500, garbage or code 0 (faults_test.go), and a service
// killed with SIGKILL mid-upload, mid-delivery and mid-restore
// (kill_test.go). After each, the flow completes, both sides agree, no
// transition is lost or applied twice, no chunk is lost.
package reliability

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/store"
)

// TestFaults runs the whole flow once per fault, the fault injected at
// the door of the called side for one interface, then checks the end:
// both sides in the final states, the same baohanno, each side's history
// exactly one pass of the happy path, both guarantee files assembled
// from every chunk and verified, no message dead or pending, both
// message-log chains intact.
func TestFaults(t *testing.T) {
	const slowFor = 1200 * time.Millisecond // past the 400ms call timeout
	tests := []struct {
		name   string
		door   string // "institution": faults on the platform's calls; "platform": on the institution's
		iface  string
		faults []harness.Fault
	}{
		{"baohanapply: institution unreachable", "institution", "baohanapply", []harness.Fault{harness.Unreachable, harness.Unreachable, harness.Unreachable}},
		{"baohanapply: institution slow past the timeout", "institution", "baohanapply", []harness.Fault{harness.Slow}},
		{"baohanapply: institution answers 500", "institution", "baohanapply", []harness.Fault{harness.HTTP500, harness.HTTP500}},
		{"baohanapply: institution answers garbage", "institution", "baohanapply", []harness.Fault{harness.Garbage, harness.Garbage}},
		{"baohanrestore: institution unreachable", "institution", "baohanrestore", []harness.Fault{harness.Unreachable, harness.Unreachable}},
		{"baohanrestore: institution slow past the timeout", "institution", "baohanrestore", []harness.Fault{harness.Slow}},
		{"baohanrestore: institution answers 500", "institution", "baohanrestore", []harness.Fault{harness.HTTP500}},
		{"baohanrestore: institution answers garbage", "institution", "baohanrestore", []harness.Fault{harness.Garbage}},
		{"baohanrestore: institution answers code 0", "institution", "baohanrestore", []harness.Fault{harness.Code0, harness.Code0}},
		{"baohannotice: platform unreachable", "platform", "baohannotice", []harness.Fault{harness.Unreachable, harness.Unreachable}},
		{"baohannotice: platform slow past the timeout", "platform", "baohannotice", []harness.Fault{harness.Slow}},
		{"baohannotice: platform answers 500", "platform", "baohannotice", []harness.Fault{harness.HTTP500}},
		{"baohannotice: platform answers garbage", "platform", "baohannotice", []harness.Fault{harness.Garbage}},
		{"baohannotice: platform answers code 0", "platform", "baohannotice", []harness.Fault{harness.Code0}},
		{"downloadpublickey: platform answers code 0", "platform", "downloadpublickey", []harness.Fault{harness.Code0}},
		{"uploadbaohanfile: platform unreachable", "platform", "uploadbaohanfile", []harness.Fault{harness.Pass, harness.Unreachable, harness.Unreachable}},
		{"uploadbaohanfile: platform slow past the timeout", "platform", "uploadbaohanfile", []harness.Fault{harness.Pass, harness.Pass, harness.Slow}},
		{"uploadbaohanfile: platform answers 500", "platform", "uploadbaohanfile", []harness.Fault{harness.HTTP500, harness.Pass, harness.HTTP500}},
		{"uploadbaohanfile: platform answers garbage", "platform", "uploadbaohanfile", []harness.Fault{harness.Pass, harness.Garbage}},
		{"uploadbaohanfile: platform answers code 0", "platform", "uploadbaohanfile", []harness.Fault{harness.Pass, harness.Code0, harness.Code0}},
		{"baohanfilecompletenotice: platform unreachable", "platform", "baohanfilecompletenotice", []harness.Fault{harness.Unreachable}},
		{"baohanfilecompletenotice: platform slow past the timeout", "platform", "baohanfilecompletenotice", []harness.Fault{harness.Slow}},
		{"baohanfilecompletenotice: platform answers 500", "platform", "baohanfilecompletenotice", []harness.Fault{harness.HTTP500}},
		{"baohanfilecompletenotice: platform answers garbage", "platform", "baohanfilecompletenotice", []harness.Fault{harness.Garbage}},
		{"baohanfilecompletenotice: platform answers code 0", "platform", "baohanfilecompletenotice", []harness.Fault{harness.Code0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := harness.Start(t, harness.Quiet(), harness.WithTimeout(400*time.Millisecond))
			door := s.InstDoor
			if tc.door == "platform" {
				door = s.PlatDoor
			}
			door.SlowFor = slowFor
			door.Inject(tc.iface, tc.faults...)
			sec := s.Section(time.Hour)
			applyNo := s.Apply(sec.No)
			s.BidderSignsAndPays(s.Token(applyNo, 20*time.Second))
			s.WaitPlat(applyNo, platform.CipherReceived, 30*time.Second)
			s.WaitInst(applyNo, institution.Issued, 30*time.Second)
			s.Clock.Advance(time.Hour + time.Second)
			s.WaitPlat(applyNo, platform.PlainReceived, 30*time.Second)
			s.WaitInst(applyNo, institution.Restored, 30*time.Second)
			// A slow answer was still served: the flow may go on without
			// a retry (the answer was lost, not the request).
			if hits := door.Hits(tc.iface); hits <= len(tc.faults) && !slices.Contains(tc.faults, harness.Slow) {
				t.Fatalf("%s was called %d times for %d faults: the fault was not retried past", tc.iface, hits, len(tc.faults))
			}
			settle(s)
			for _, p := range s.CheckAll(applyNo) {
				t.Error(p)
			}
		})
	}
}

// TestFaultCode0IsARefusal: code 0 to baohanapply is the institution's
// considered answer, not a transport fault: the application is rejected
// with the institution's message, and not sent again and again. (Code 0
// to the other calls is retried: see TestFaults.)
func TestFaultCode0IsARefusal(t *testing.T) {
	t.Run("baohanapply", func(t *testing.T) {
		s := harness.Start(t, harness.Quiet())
		s.InstDoor.Inject("baohanapply", harness.Code0)
		applyNo := s.Apply(s.Section(time.Hour).No)
		s.Eventually("the refusal to be recorded", 10*time.Second, func() bool {
			return strings.Contains(s.PlatApp(applyNo).LastMessage, "system busy, try again later")
		})
		time.Sleep(300 * time.Millisecond)
		if n := s.InstDoor.Hits("baohanapply"); n != 1 {
			t.Errorf("baohanapply sent %d times after a code 0 refusal", n)
		}
		t.Logf("platform after the refusal: %s, %q", s.PlatApp(applyNo).State, s.PlatApp(applyNo).LastMessage)
	})
}

// settle waits until neither outbox has anything pending or in flight.
func settle(s *harness.System) {
	s.T.Helper()
	s.Eventually("both outboxes to settle", 30*time.Second, func() bool {
		n := 0
		for _, db := range []*store.DB{s.Plat.DB(), s.Inst.DB()} {
			var c int
			db.QueryRow(`SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'delivering', 'failed')`).Scan(&c)
			n += c
		}
		return n == 0
	})
}
