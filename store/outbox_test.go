package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func testMsg(i int, group string) OutMessage {
	return OutMessage{
		Peer:      "platform-a",
		Interface: "baohannotice",
		ApplyNo:   fmt.Sprintf("A%04d", i),
		Group:     group,
		DedupeKey: fmt.Sprintf("notice:%s:%d", group, i),
		Fields:    map[string]string{"applyno": fmt.Sprintf("A%04d", i), "i": fmt.Sprint(i), "note": "保函 \"quoted\" \\ \u0000 end"},
	}
}

func enqueue(tb testing.TB, db *DB, msgs ...OutMessage) {
	tb.Helper()
	err := db.InTx(context.Background(), func(tx *sql.Tx) error {
		for _, m := range msgs {
			if err := Enqueue(context.Background(), tx, db.Dialect, m, time.Time{}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

func TestEnqueueRollbackAndDedupe(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		db := env.open(t)
		mustExec(t, db, "CREATE TABLE app (applyno TEXT PRIMARY KEY, state TEXT NOT NULL)")

		// The state change and its message roll back together.
		boom := errors.New("later step failed")
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, db.Rebind("INSERT INTO app VALUES (?, ?)"), "A0001", "paid"); err != nil {
				return err
			}
			if err := Enqueue(ctx, tx, db.Dialect, testMsg(1, ""), time.Time{}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if n := countRows(t, db, "SELECT COUNT(*) FROM outbox"); n != 0 {
			t.Fatalf("%d messages after rollback, want 0", n)
		}
		if n := countRows(t, db, "SELECT COUNT(*) FROM app"); n != 0 {
			t.Fatalf("%d state rows after rollback, want 0", n)
		}

		// Same DedupeKey twice, in one transaction and in another: one message.
		first := testMsg(1, "")
		second := testMsg(1, "")
		second.Fields = map[string]string{"different": "yes"}
		notBefore := time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)
		var ins []bool
		for _, m := range []OutMessage{first, second, second} {
			if err := db.InTx(ctx, func(tx *sql.Tx) error {
				ok, err := EnqueueIfNew(ctx, tx, db.Dialect, m, notBefore)
				ins = append(ins, ok)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		if fmt.Sprint(ins) != "[true false false]" {
			t.Fatalf("inserted = %v, want [true false false]", ins)
		}
		list, err := db.OutboxList(ctx, OutboxFilter{})
		if err != nil || len(list) != 1 {
			t.Fatalf("list: %v %d", err, len(list))
		}
		m := list[0]
		if m.State != StatePending || m.Attempts != 0 || !m.NextAttemptAt.Equal(notBefore) || m.CreatedAt.IsZero() ||
			m.Fields["note"] != first.Fields["note"] || m.Fields["different"] != "" || m.ApplyNo != "A0001" {
			t.Fatalf("stored message %+v", m)
		}
		got, err := db.OutboxGet(ctx, m.ID)
		if err != nil || got.DedupeKey != first.DedupeKey {
			t.Fatalf("get: %+v %v", got, err)
		}
		if _, err := db.OutboxGet(ctx, 9999); !errors.Is(err, ErrNotFound) {
			t.Fatalf("get missing: %v", err)
		}
	})
}

func TestEnqueueRejects(t *testing.T) {
	db := sqliteEnv(t).open(t)
	ctx := context.Background()
	bad := []struct {
		name string
		mod  func(*OutMessage)
		want string
	}{
		{"no peer", func(m *OutMessage) { m.Peer = "" }, "Peer"},
		{"no interface", func(m *OutMessage) { m.Interface = "" }, "Interface"},
		{"no dedupe key", func(m *OutMessage) { m.DedupeKey = "" }, "DedupeKey"},
		{"bad utf-8", func(m *OutMessage) { m.Fields["x"] = "\xff" }, `field "x"`},
	}
	for _, tt := range bad {
		m := testMsg(1, "")
		tt.mod(&m)
		err := db.InTx(ctx, func(tx *sql.Tx) error { return Enqueue(ctx, tx, db.Dialect, m, time.Time{}) })
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want mention of %s", tt.name, err, tt.want)
		}
	}
}

func TestOutboxQueries(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		db := env.open(t)
		for i := range 7 {
			m := testMsg(i, "")
			if i%2 == 1 {
				m.Peer, m.Interface = "platform-b", "quitnotice"
			}
			enqueue(t, db, m)
		}
		mustExec(t, db, "UPDATE outbox SET state = 'dead', attempts = 9, last_error = 'gave up' WHERE applyno = 'A0003'")
		mustExec(t, db, "UPDATE outbox SET state = 'done' WHERE applyno = 'A0004'")
		counts, err := db.OutboxCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := map[State]int64{StatePending: 5, StateDead: 1, StateDone: 1, StateFailed: 0, StateDelivering: 0}
		if fmt.Sprint(counts) != fmt.Sprint(want) {
			t.Fatalf("counts %v, want %v", counts, want)
		}
		for _, tt := range []struct {
			f    OutboxFilter
			want string
		}{
			{OutboxFilter{}, "A0006 A0005 A0004 A0003 A0002 A0001 A0000"},
			{OutboxFilter{Peer: "platform-b"}, "A0005 A0003 A0001"},
			{OutboxFilter{Interface: "baohannotice", State: StatePending}, "A0006 A0002 A0000"},
			{OutboxFilter{ApplyNo: "A0003"}, "A0003"},
			{OutboxFilter{State: StateDead}, "A0003"},
			{OutboxFilter{Limit: 2}, "A0006 A0005"},
			{OutboxFilter{Limit: 2, Before: 5}, "A0003 A0002"},
		} {
			list, err := db.OutboxList(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range list {
				got = append(got, m.ApplyNo)
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("list %+v = %v, want %s", tt.f, got, tt.want)
			}
		}
		dead, _ := db.OutboxList(ctx, OutboxFilter{State: StateDead})
		if err := db.OutboxRetry(ctx, dead[0].ID); err != nil {
			t.Fatal(err)
		}
		m, _ := db.OutboxGet(ctx, dead[0].ID)
		if m.State != StatePending || m.Attempts != 0 || m.LastError != "gave up" {
			t.Fatalf("after retry: %+v", m)
		}
		done, _ := db.OutboxList(ctx, OutboxFilter{State: StateDone})
		if err := db.OutboxRetry(ctx, done[0].ID); err == nil || !strings.Contains(err.Error(), "is done") {
			t.Fatalf("retry of a done message: %v", err)
		}
		if err := db.OutboxRetry(ctx, 12345); !errors.Is(err, ErrNotFound) {
			t.Fatalf("retry of a missing message: %v", err)
		}
		mustExec(t, db, "UPDATE outbox SET delivered_at = ? WHERE state = 'done'", Micros(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
		if n, err := db.OutboxPurgeDone(ctx, time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)); err != nil || n != 0 {
			t.Fatalf("purge of nothing: %d %v", n, err)
		}
		if n, err := db.OutboxPurgeDone(ctx, time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)); err != nil || n != 1 {
			t.Fatalf("purge: %d %v", n, err)
		}
		if n := countRows(t, db, "SELECT COUNT(*) FROM outbox"); n != 6 {
			t.Fatalf("%d messages left, want 6", n)
		}
	})
}

// The done count OutboxCounts reads is kept by the triggers of migration
// 00008 through every kind of change: deliveries, a bulk insert of
// delivered rows, a done message moved back, a purge, a delete; from
// several connections at once on PostgreSQL (one slot each). It always
// equals a count of the rows.
func TestOutboxDoneCountKept(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		db := env.open(t)
		check := func(step string) {
			t.Helper()
			counts, err := db.OutboxCounts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range States {
				if want := countRows(t, db, "SELECT COUNT(*) FROM outbox WHERE state = ?", string(s)); counts[s] != int64(want) {
					t.Errorf("%s: %s %d, counted %d", step, s, counts[s], want)
				}
			}
		}
		var msgs []OutMessage
		for i := range 40 {
			msgs = append(msgs, testMsg(i, ""))
		}
		enqueue(t, db, msgs...)
		check("enqueued")
		// Deliveries, concurrently (one row at a time, as Dispatcher.complete).
		var ids []int64
		rows, err := db.QueryContext(ctx, "SELECT id FROM outbox ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int64
			rows.Scan(&id)
			ids = append(ids, id)
		}
		rows.Close()
		errs := make(chan error, len(ids))
		for _, id := range ids[:30] {
			go func() {
				_, err := db.execWrite(ctx, "UPDATE outbox SET state = 'done', delivered_at = ? WHERE id = ?", Micros(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), id)
				errs <- err
			}()
		}
		for range 30 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		check("30 delivered")
		mustExec(t, db, "UPDATE outbox SET state = 'dead' WHERE id = ?", ids[30])
		mustExec(t, db, "UPDATE outbox SET attempts = attempts + 1 WHERE state = 'done'")
		check("one dead, the done ones updated")
		// A bulk insert of delivered rows (as the growth benchmark seeds).
		mustExec(t, db, `INSERT INTO outbox (peer, interface, dedupe_key, fields, state, created_at)
			VALUES ('p', 'i', 'bulk-1', '{}', 'done', 1), ('p', 'i', 'bulk-2', '{}', 'done', 1), ('p', 'i', 'bulk-3', '{}', 'pending', 1)`)
		check("bulk insert")
		mustExec(t, db, "UPDATE outbox SET state = 'pending' WHERE dedupe_key = 'bulk-1'")
		check("a done message moved back")
		if n, err := db.OutboxPurgeDone(ctx, time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)); err != nil || n != 31 { // the 30 and bulk-2
			t.Fatalf("purge: %d %v", n, err)
		}
		check("purged")
		mustExec(t, db, "DELETE FROM outbox WHERE dedupe_key LIKE 'bulk-%'")
		check("deleted")
		if counts, _ := db.OutboxCounts(ctx); counts[StateDone] != 0 || counts[StatePending] != 9 || counts[StateDead] != 1 {
			t.Errorf("at the end: %v", counts)
		}
	})
}
