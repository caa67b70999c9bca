package service

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/store/storetest"
)

// gauge reads baohan_coretest_outbox_listening from core's registry (ok
// false: not there).
func gauge(t *testing.T, core *Core) (v float64, ok bool) {
	t.Helper()
	mfs, err := core.Gatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "baohan_coretest_outbox_listening" {
			return mf.GetMetric()[0].GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// TestReplicasShareTheOutbox: two services on one PostgreSQL database
// (two processes: each opens the store itself). A message enqueued by
// the one whose dispatcher is not running is delivered by the other,
// whose poll is an hour: the enqueue woke it. The dispatcher's listening
// shows in baohan_<service>_outbox_listening; on SQLite there is none.
func TestReplicasShareTheOutbox(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, dbURL string) {
		c, peers := testCommon(t, dbURL)
		c.Outbox.Poll = config.Duration{Duration: time.Hour}
		a := open(t, c, peers)
		if dbURL == "" {
			if _, ok := gauge(t, a); ok {
				t.Error("SQLite: baohan_coretest_outbox_listening exported")
			}
			return
		}
		c2 := c
		c2.Storage.DataDir = t.TempDir()
		b := open(t, c2, peers)
		delivered := make(chan string, 1)
		b.Dispatcher.Deliver = func(ctx context.Context, m *store.OutMessage) (store.Outcome, error) {
			delivered <- m.DedupeKey
			return store.Delivered("ok"), nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- b.Run(ctx) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if v, _ := gauge(t, b); v == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the running service never listened")
			}
		}
		if v, ok := gauge(t, a); !ok || v != 0 {
			t.Errorf("the service that does not run: listening %v (exported %v), want 0", v, ok)
		}
		err := a.Dispatcher.InTx(ctx, func(tx *sql.Tx) error {
			_, err := a.Dispatcher.Enqueue(ctx, tx, store.OutMessage{Peer: "p", Interface: "baohannotice", DedupeKey: "n1"}, time.Time{})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case k := <-delivered:
			if k != "n1" {
				t.Errorf("delivered %q", k)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the message enqueued by the other service was not delivered (an hour's poll: no wake-up came)")
		}
	})
}
