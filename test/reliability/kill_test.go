package reliability

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/store"
)

// chunksStored counts the chunks of a filetype the platform holds for
// applyNo (or has assembled: then the guarantee's chunk count).
func chunksStored(dbFile, applyNo, fileType string) (int, error) {
	db, err := store.Open(context.Background(), dbFile, "", store.WithoutSharedMigrations())
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	err = db.QueryRow(`SELECT COUNT(*) FROM plat_chunks WHERE applyno = ? AND filetype = ?`, applyNo, fileType).Scan(&n)
	return n, err
}

// TestKill9 runs the whole flow with real processes of the built binary
// (baohan platform serve / baohan institution serve on 127.0.0.1, SQLite
// data directories), and at one moment kills one side with SIGKILL: the
// moment is made exact by holding one request at the door of the side
// being called. The held request is then let through (it reaches its
// receiver, but its answer has nobody to go to), the killed side is
// restarted on the same data directory, and the flow must complete:
// both admin APIs agree (plain_received / restored, same baohanno), each
// history is exactly one pass of the happy path, both guarantee files
// were assembled from every chunk and verified, both outboxes settled,
// both message-log chains intact (baohan audit verify). The claims the
// killed process held come back when their lease runs out (7s for the
// platform, 6s for the institution here: outbox.lease).
func TestKill9(t *testing.T) {
	tests := []struct {
		name   string
		victim string // "platform" or "institution"
		door   string // whose door holds the request: the called side
		iface  string
		hold   string // the request held: its filetype and index for uploads ("" for the first)
	}{
		{"institution killed mid-upload", "institution", "platform", "uploadbaohanfile", "1/6"},
		{"platform killed mid-upload", "platform", "platform", "uploadbaohanfile", "1/6"},
		{"platform killed mid-delivery of baohanapply", "platform", "institution", "baohanapply", ""},
		{"institution killed mid-delivery of baohannotice", "institution", "platform", "baohannotice", ""},
		{"platform killed mid-restore", "platform", "institution", "baohanrestore", ""},
		{"institution killed mid-restore (plaintext upload)", "institution", "platform", "uploadbaohanfile", "2/3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pr := newPair(t)
			door := pr.platDoor
			if tc.door == "institution" {
				door = pr.instDoor
			}
			door.HoldIf(tc.iface, func(body []byte) bool {
				var f map[string]string
				json.Unmarshal(body, &f)
				return tc.hold == "" || f["filetype"]+"/"+f["index"] == tc.hold
			})

			// The ciphertext guarantee must be at the platform before the
			// opening (after it, it is refused): the opening leaves time
			// for the kill, the lease and the restart under load.
			opening := time.Now().Add(30 * time.Second).Truncate(time.Second)
			applyNo := pr.apply(opening)

			// The killer waits for the moment, kills, lets the held request
			// through and restarts the victim. It does not touch t (it may
			// outlive a failed test until the cleanup stops it): it leaves
			// its failure in killErr.
			victim := pr.plat
			if tc.victim == "institution" {
				victim = pr.inst
			}
			// Except for baohanapply (the bidder's link comes with its
			// answer), the bidder's flow ends before the kill: the held
			// request may come while the bidder's last request is still
			// being answered, and a kill then would cut that answer off.
			afterFlow := tc.iface != "baohanapply"
			flowDone := make(chan struct{})
			var killErr error
			killed := make(chan struct{})
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				defer close(killed)
				killErr = killAtHold(ctx, door, victim, flowDone, afterFlow, func() error {
					if tc.hold == "" {
						return nil
					}
					// the chunks before the held one are on the platform,
					// the held one is not (its receiver has not seen it)
					ft, idx, _ := strings.Cut(tc.hold, "/")
					n, _ := strconv.Atoi(idx)
					got, err := chunksStored(pr.platDB, applyNo, ft)
					if err != nil {
						return err
					}
					if got != n-1 {
						return fmt.Errorf("at the kill the platform holds %d chunks of filetype %s, want %d", got, ft, n-1)
					}
					return nil
				})
			}()
			reported := false
			t.Cleanup(func() {
				cancel()
				<-killed
				if killErr != nil && !reported {
					t.Errorf("the kill: %v", killErr)
				}
			})
			if !afterFlow {
				<-killed
			}
			token := pr.token(applyNo)
			if err := (&harness.Bidder{ID: pr.pki.Bidder}).Flow(context.Background(), pr.instDoor.URL+"/bidder/"+token); err != nil {
				t.Fatal(err)
			}
			close(flowDone)
			pr.waitFor("the ciphertext guarantee", 45*time.Second, func() bool {
				ps, _ := pr.platState(applyNo)
				is, _ := pr.instState(applyNo)
				return ps == "cipher_received" && is == "issued" || ps == "restored" || ps == "plain_received"
			})
			pr.waitFor("the plaintext guarantee", 60*time.Second, func() bool {
				ps, _ := pr.platState(applyNo)
				is, _ := pr.instState(applyNo)
				return ps == "plain_received" && is == "restored"
			})
			select {
			case <-killed:
			case <-time.After(30 * time.Second):
				t.Fatal("the kill never happened")
			}
			if reported = true; killErr != nil {
				t.Fatalf("the kill: %v", killErr)
			}
			if door.Hits(tc.iface) == 0 || (tc.victim == "platform" && pr.plat.runs != 2) || (tc.victim == "institution" && pr.inst.runs != 2) {
				t.Fatalf("the moment was not reached: %d %s requests, platform runs %d, institution runs %d",
					door.Hits(tc.iface), tc.iface, pr.plat.runs, pr.inst.runs)
			}
			pr.checkEnd(applyNo)
		})
	}
}

// killAtHold waits until door holds a request (and, when afterFlow,
// until flowDone is closed), then kills victim with SIGKILL, runs check,
// lets the held request through and restarts victim on its data. It
// gives up when ctx ends or after a minute without a held request.
func killAtHold(ctx context.Context, door *harness.Door, victim *proc, flowDone <-chan struct{}, afterFlow bool, check func() error) error {
	deadline := time.Now().Add(60 * time.Second)
	for door.Holding() == 0 {
		if time.Now().After(deadline) {
			return errors.New("no request was held in 60s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	if afterFlow {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-flowDone:
		}
	}
	if err := victim.kill9(); err != nil {
		return err
	}
	checkErr := check()
	door.Release()
	// the survivor retries against a dead peer for a moment
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(200 * time.Millisecond):
	}
	return errors.Join(checkErr, victim.run(ctx))
}
