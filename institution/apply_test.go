package institution

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

func TestApplyConcurrentSQLite(t *testing.T)   { testApplyConcurrent(t, false) }
func TestApplyConcurrentPostgres(t *testing.T) { testApplyConcurrent(t, true) }

// testApplyConcurrent: the same baohanapply sent 8 times at once (each
// with its own timestamp and sign) makes one application with one history
// entry, and every answer is the same redirecturl; a first request for an
// applyno that races with another body for it gets one of them in.
func testApplyConcurrent(t *testing.T, pg bool) {
	e := newEnv(t, pg)
	ad, envl := e.applyData("A-CONC", e.bidder.CreditCode, "200000.00")
	const n = 8
	answers := make([]protocol.Response, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i], errs[i] = e.tryCall(protocol.BaohanApply, map[string]string{"applyno": "A-CONC", "applydata": ad,
				"digitalenvelope": envl, "timestamp": protocol.FormatTime(e.clock().Add(-time.Duration(i) * time.Second))})
		}()
	}
	wg.Wait()
	for i, r := range answers {
		if errs[i] != nil || r.Code != 1 || string(r.Data) != string(answers[0].Data) {
			t.Fatalf("answer %d: %+v %v (first: %s)", i, r, errs[i], answers[0].Data)
		}
	}
	a, err := e.svc.ApplicationByApplyNo(context.Background(), testPlatName, "A-CONC")
	if err != nil {
		t.Fatal(err)
	}
	var apps, events int
	db := e.svc.db
	if err := db.QueryRow(db.Rebind(`SELECT COUNT(*) FROM inst_applications WHERE applyno = ?`), "A-CONC").Scan(&apps); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(db.Rebind(`SELECT COUNT(*) FROM inst_events WHERE application_id = ?`), a.ID).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if apps != 1 || events != 1 || a.State != Received {
		t.Fatalf("%d applications, %d events, state %s; want 1, 1, received", apps, events, a.State)
	}

	// Two bodies for a new applyno at once: one wins, the other is
	// refused as another body for a known applyno.
	ad1, env1 := e.applyData("A-RACE", e.bidder.CreditCode, "200000.00")
	ad2, env2 := e.applyData("A-RACE", e.bidder.CreditCode, "300000.00")
	bodies := [][2]string{{ad1, env1}, {ad2, env2}}
	for i, b := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i], errs[i] = e.tryCall(protocol.BaohanApply, map[string]string{"applyno": "A-RACE", "applydata": b[0], "digitalenvelope": b[1]})
		}()
	}
	wg.Wait()
	ok := 0
	for i := range bodies {
		switch r := answers[i]; {
		case errs[i] != nil:
			t.Fatal(errs[i])
		case r.Code == 1:
			ok++
		case r.Message != fmt.Sprintf(`applyno %q was already received with other applydata or digitalenvelope; a new application needs a new applyno`, "A-RACE"):
			t.Fatalf("answer %d: %+v", i, r)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of the two bodies accepted, want 1: %+v", ok, answers[:2])
	}
}
