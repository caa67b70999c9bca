package store

import (
	"context"
	"testing"
	"time"
)

// One claim with a backlog of 10,000 due messages, as at a bid opening
// (every restore of a section falls due at once): the dispatcher claims
// again each time a worker frees up, so this runs once per delivery.
func BenchmarkClaimBacklog(b *testing.B) {
	eachDBBench(b, func(b *testing.B, env *testEnv) {
		ctx := context.Background()
		db := env.open(b)
		const backlog = 10000
		msgs := make([]OutMessage, backlog)
		for i := range msgs {
			msgs[i] = testMsg(i, "")
		}
		enqueue(b, db, msgs...)
		d := &Dispatcher{DB: db, Owner: "bench", Lease: time.Minute}
		d.init()
		for b.Loop() {
			got, err := d.claim(ctx, 1)
			if err != nil || len(got) != 1 {
				b.Fatalf("claim: %d, %v", len(got), err)
			}
			b.StopTimer()
			mustExec(b, db, db.Rebind("UPDATE outbox SET state = 'pending', lease_owner = '', lease_until = 0 WHERE id = ?"), got[0].ID)
			b.StartTimer()
		}
	})
}
