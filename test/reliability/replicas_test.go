package reliability

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/store/storetest"
)

// TestPlatformReplicas: two platform processes on one PostgreSQL database
// (and one blob directory) both run their outbox dispatchers. Each
// baohanapply of twelve applications reaches the institution exactly
// once (claims under leases, FOR UPDATE SKIP LOCKED), and the guarantee
// of one of them, uploaded to the second replica, is whole.
func TestPlatformReplicas(t *testing.T) {
	s := harness.Start(t, harness.Quiet(), harness.WithPlatformDB(storetest.FreshSchema(t)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	second, err := platform.New(ctx, s.PlatCfg, platform.WithClock(s.Clock.Now), platform.WithDispatcherOwner("replica-2"),
		platform.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		platform.WithBackoff(store.Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond, MaxAttempts: -1, Jitter: -1}))
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	done := make(chan error, 1)
	go func() { done <- second.Run(ctx) }()
	defer func() { cancel(); <-done }()

	var applyNos []string
	for i := 0; i < 12; i++ {
		applyNos = append(applyNos, s.Apply(s.Section(time.Hour).No))
	}
	for _, a := range applyNos {
		s.Token(a, 20*time.Second)
	}
	time.Sleep(300 * time.Millisecond) // both dispatchers keep polling
	seen := map[string]int{}
	for _, ex := range s.InstDoor.Exchanges() {
		if ex.Path == "/baohanapply" {
			seen[fields(ex.Request)["applyno"]]++
		}
	}
	for _, a := range applyNos {
		if seen[a] != 1 {
			t.Errorf("baohanapply for %s reached the institution %d times", a, seen[a])
		}
	}
	// The institution uploads to the second replica; the first sees the
	// same guarantee.
	s.PlatDoor.Set(second.Handler())
	s.BidderSignsAndPays(s.Token(applyNos[0], 10*time.Second))
	s.WaitPlat(applyNos[0], platform.CipherReceived, 30*time.Second)
	s.WaitInst(applyNos[0], "issued", 30*time.Second)
	g, err := s.Plat.Guarantee(context.Background(), applyNos[0], 1)
	if err != nil {
		t.Fatal(err)
	}
	var size int64
	var chunks int
	s.Inst.DB().QueryRow(`SELECT f.size, f.chunks FROM inst_files f JOIN inst_applications a ON a.id = f.application_id
		WHERE a.applyno = $1 AND f.filetype = 1`, applyNos[0]).Scan(&size, &chunks)
	if g.Size != size || g.Chunks != chunks || !g.SealsOK {
		t.Errorf("guarantee on the first replica %+v; the institution sealed %d bytes in %d chunks", g, size, chunks)
	}
}

func fields(b []byte) map[string]string {
	var m map[string]string
	json.Unmarshal(b, &m)
	return m
}
