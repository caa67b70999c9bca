package store

import (
	"bytes"
	"context"
	"testing"

	"github.com/baohan-dev/baohan/protocol"
)

// bigBody is a body above InlineBodyMax, different for each seed.
func bigBody(seed byte, n int) []byte {
	b := bytes.Repeat([]byte(`{"baohanfile":"QUJD`), n/19+1)[:n]
	b[n-1] = seed
	return b
}

// TestMessageLogBodiesOutOfRow: bodies above InlineBodyMax go to
// message_log_bodies (content-addressed: the same body once), the row
// keeps their SM3 and nothing else; Get and List give the bodies and
// their sizes back as appended; the chain verifies, on one Append at a
// time and in a batch (one INSERT on PostgreSQL); and an edited, deleted
// or swapped body, or a body moved back into its row, breaks the chain
// at its row.
func TestMessageLogBodiesOutOfRow(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		db := env.open(t)
		l := NewMessageLog(db)
		big1, big2 := bigBody('1', 700<<10), bigBody('2', InlineBodyMax+1)
		var entries []*LogEntry
		for i := 1; i <= 4; i++ {
			entries = append(entries, logEntry(i))
		}
		entries[0].Request = big1                            // request out, response in
		entries[1].Request, entries[1].Response = big1, big2 // both out, big1 again
		entries[2].Request = bytes.Repeat([]byte("x"), InlineBodyMax)
		for _, e := range entries {
			if err := l.Append(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		batch := []*LogEntry{logEntry(5), logEntry(6), logEntry(7)}
		// The same body twice in one batch (one INSERT on PostgreSQL).
		batch[0].Response, batch[1].Response, batch[2].Request = big2, bigBody('3', 9000), bigBody('3', 9000)
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.AppendTx(ctx, tx, batch); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, batch...)
		sum := func(b []byte) string { return protocol.ReplayDigest(protocol.BaohanApply, b) }
		if entries[0].RequestSM3 != sum(big1) || entries[0].ResponseSM3 != "" || entries[2].RequestSM3 != "" || entries[3].RequestSM3 != "" {
			t.Fatalf("refs: %q %q %q %q", entries[0].RequestSM3, entries[0].ResponseSM3, entries[2].RequestSM3, entries[3].RequestSM3)
		}
		var inRow, stored int64
		if err := db.QueryRowContext(ctx, `SELECT COALESCE(SUM(length(request) + length(response)), 0) FROM message_log WHERE request_sm3 <> '' OR response_sm3 <> ''`).Scan(&inRow); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM message_log_bodies`).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		// Bodies out: big1 (twice), big2 (twice), seed 3: three rows. The
		// rows that name one keep only their small inline bodies.
		if stored != 3 || inRow > int64(4*InlineBodyMax) {
			t.Fatalf("message_log_bodies has %d rows (want 3); rows with refs hold %d body bytes", stored, inRow)
		}
		for _, e := range entries {
			got, err := l.Get(ctx, e.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Request, e.Request) || !bytes.Equal(got.Response, e.Response) ||
				got.RequestSize != int64(len(e.Request)) || got.ResponseSize != int64(len(e.Response)) {
				t.Fatalf("row %d: Get gave %d/%d bytes (sizes %d/%d), appended %d/%d", e.ID, len(got.Request), len(got.Response),
					got.RequestSize, got.ResponseSize, len(e.Request), len(e.Response))
			}
		}
		for _, bodies := range []bool{false, true} {
			list, err := l.List(ctx, LogFilter{WithBodies: bodies})
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != len(entries) {
				t.Fatalf("List: %d rows", len(list))
			}
			for _, got := range list {
				e := entries[got.ID-1]
				if got.RequestSize != int64(len(e.Request)) || got.ResponseSize != int64(len(e.Response)) ||
					bodies && (!bytes.Equal(got.Request, e.Request) || !bytes.Equal(got.Response, e.Response)) {
					t.Fatalf("List(bodies %v) row %d: sizes %d/%d, want %d/%d", bodies, got.ID, got.RequestSize, got.ResponseSize, len(e.Request), len(e.Response))
				}
			}
		}
		if brk, n, err := l.Verify(ctx); brk != nil || err != nil || n != 7 {
			t.Fatalf("chain: %v %d %v", brk, n, err)
		}

		edited := append(bytes.Clone(big2[:len(big2)-1]), 'X')
		tampers := []struct {
			name string
			sql  string
			args []any
			id   int64
			want string
		}{
			{"edit a body", "UPDATE message_log_bodies SET data = ? WHERE sm3 = ?", []any{edited, sum(big2)}, 2, "response body in message_log_bodies does not match"},
			{"delete a body", "DELETE FROM message_log_bodies WHERE sm3 = ?", []any{sum(big1)}, 1, "request body (sm3 " + sum(big1)[:16] + "…) is missing"},
			{"swap a body for another stored", "UPDATE message_log SET request_sm3 = ? WHERE id = 1", []any{sum(big2)}, 1, "edited"},
			{"move a body back into its row", "UPDATE message_log SET request = ?, request_sm3 = '' WHERE id = 1", []any{big1}, 1, "edited"},
		}
		for _, tt := range tampers {
			t.Run(tt.name, func(t *testing.T) { checkTamper(t, db, l, tt.sql, tt.args, tt.id, tt.want) })
		}
	})
}

// TestMessageLogInlineRowsBeforeBodies: rows written before bodies left
// the row (large bodies inline, v2 hashes) still verify, read back
// whole, and an edit of such a body is still found; rows appended after
// them keep their large bodies out of the row.
func TestMessageLogInlineRowsBeforeBodies(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		db := env.open(t)
		l := NewMessageLog(db)
		big := bigBody('o', 300<<10)
		prev := GenesisHash
		for i := 1; i <= 2; i++ {
			e := logEntry(i)
			e.Request = big
			e.ID, e.PrevHash, e.At = int64(i), prev, FromMicros(Micros(e.At))
			e.Hash = chainHash(prev, e) // v2: no refs
			if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO message_log (id, at, direction, interface, peer, applyno, baohanno,
				request, response, http_status, code, sign_ok, diagnosis, error, latency_ms, prev_hash, hash)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
				e.ID, Micros(e.At), e.Direction, e.Interface, e.Peer, e.ApplyNo, e.BaohanNo, e.Request, e.Response,
				e.HTTPStatus, e.Code, boolInt(e.SignOK), e.Diagnosis, e.Error, e.LatencyMS, e.PrevHash, e.Hash); err != nil {
				t.Fatal(err)
			}
			prev = e.Hash
		}
		if _, err := db.ExecContext(ctx, db.Rebind(`UPDATE message_log_head SET last_id = 2, last_hash = ? WHERE k = 1`), prev); err != nil {
			t.Fatal(err)
		}
		e := logEntry(3)
		e.Request = big
		if err := l.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
		if e.RequestSM3 == "" {
			t.Fatal("a new large body stayed in the row")
		}
		if brk, n, err := l.Verify(ctx); brk != nil || err != nil || n != 3 {
			t.Fatalf("inline rows then rows with bodies out: %v %d %v", brk, n, err)
		}
		for id := int64(1); id <= 3; id++ {
			got, err := l.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Request, big) || got.RequestSize != int64(len(big)) {
				t.Fatalf("row %d: %d bytes (size %d), want %d", id, len(got.Request), got.RequestSize, len(big))
			}
		}
		checkTamper(t, db, l, "UPDATE message_log SET request = ? WHERE id = 2", []any{bigBody('p', 300<<10)}, 2, "edited")
	})
}

// TestMessageLogRecordTakesRequestDigest: Record takes the request's
// digest the server computed for the replay guard (Exchange.RequestDigest)
// as the address of a large request body, without hashing it again; the
// row verifies, and a body smaller than the threshold stays inline
// whatever the hint.
func TestMessageLogRecordTakesRequestDigest(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		db := env.open(t)
		l := NewMessageLog(db)
		big := bigBody('r', 600<<10)
		ex := &protocol.Exchange{Interface: string(protocol.UploadBaohanFile), Direction: protocol.Inbound, Peer: "inst", Request: big,
			Response: []byte(`{"code":1}`), HTTPStatus: 200, Code: 1, SignOK: true,
			RequestDigest: protocol.ReplayDigest(protocol.UploadBaohanFile, big)}
		if _, err := l.Record(ctx, ex); err != nil {
			t.Fatal(err)
		}
		small := *ex
		small.Request, small.RequestDigest = []byte(`{"a":1}`), "ignored for an inline body"
		if _, err := l.Record(ctx, &small); err != nil {
			t.Fatal(err)
		}
		var ref1, ref2 string
		if err := db.QueryRowContext(ctx, `SELECT request_sm3 FROM message_log WHERE id = 1`).Scan(&ref1); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRowContext(ctx, `SELECT request_sm3 FROM message_log WHERE id = 2`).Scan(&ref2); err != nil {
			t.Fatal(err)
		}
		if ref1 != ex.RequestDigest || ref2 != "" {
			t.Fatalf("request_sm3 %q and %q, want the exchange's digest and none", ref1, ref2)
		}
		if brk, n, err := l.Verify(ctx); brk != nil || err != nil || n != 2 {
			t.Fatalf("chain: %v %d %v", brk, n, err)
		}
		got, err := l.Get(ctx, 1)
		if err != nil || !bytes.Equal(got.Request, big) {
			t.Fatalf("Get: %d bytes, %v", len(got.Request), err)
		}
	})
}
