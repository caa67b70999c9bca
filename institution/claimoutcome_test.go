package institution

import (
	"strings"
	"testing"
)

// TestClaimMovesEveryPair: the claim's machine allows exactly the moves
// written out here (issue 16: after 已理赔, 待赔付, 已赔付, 不予赔付, then
// 已追偿 / 追偿失败), and refuses every other pair naming the status.
func TestClaimMovesEveryPair(t *testing.T) {
	statuses := []string{ClaimReceived, ClaimPending, ClaimPaid, ClaimRefused, ClaimRecovered, ClaimRecoveryFailed}
	legal := map[[2]string]bool{
		{ClaimReceived, ClaimPending}: true, {ClaimReceived, ClaimPaid}: true, {ClaimReceived, ClaimRefused}: true,
		{ClaimPending, ClaimPending}: true, {ClaimPending, ClaimPaid}: true, {ClaimPending, ClaimRefused}: true,
		{ClaimPaid, ClaimRecovered}: true, {ClaimPaid, ClaimRecoveryFailed}: true,
		{ClaimRecoveryFailed, ClaimRecovered}: true, {ClaimRecoveryFailed, ClaimRecoveryFailed}: true,
	}
	for _, from := range statuses {
		if _, ok := claimMoves[from]; !ok {
			t.Errorf("status %s is not in the machine", from)
		}
		if ClaimStatusLabel(from) == from {
			t.Errorf("status %s has no label", from)
		}
		for _, to := range statuses {
			c := &Claim{ID: "C1", BaohanNo: "BH1", Status: from}
			err := checkClaimMove(c, to, "the test move")
			if legal[[2]string{from, to}] != (err == nil) {
				t.Errorf("%s → %s: error %v, legal %v", from, to, err, legal[[2]string{from, to}])
			}
			if err != nil && !strings.Contains(err.Error(), "claim C1 on BH1 is "+from+" ("+ClaimStatusLabel(from)+"): the test move cannot be recorded") {
				t.Errorf("%s → %s: message %q", from, to, err)
			}
		}
	}
	for _, final := range []string{ClaimRefused, ClaimRecovered} {
		if len(claimMoves[final]) != 0 {
			t.Errorf("%s is not final", final)
		}
	}
}
