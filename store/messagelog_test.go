package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

func logEntry(i int) *LogEntry {
	dir := "in"
	if i%2 == 1 {
		dir = "out"
	}
	e := &LogEntry{
		At: time.Date(2026, 3, 1, 8, 0, i, 123456789, time.UTC), Direction: dir, Interface: "baohanapply",
		Peer: fmt.Sprint("peer-", i%3), ApplyNo: fmt.Sprintf("A%04d", i), BaohanNo: "",
		Request:  []byte(fmt.Sprintf(`{"applyno":"A%04d","sign":"abc"}`, i)),
		Response: []byte(`{"code":1,"message":"成功","data":{}}`), HTTPStatus: 200, Code: 1, SignOK: true, LatencyMS: int64(i),
	}
	if i%4 == 3 {
		e.Code, e.SignOK, e.Diagnosis, e.Response = 0, false, "sign over sorted keys with secret appended", []byte(`{"code":0,"message":"sign mismatch"}`)
	}
	return e
}

func TestMessageLogChain(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		db := env.open(t)
		l := NewMessageLog(db)
		if brk, err := l.VerifyChain(ctx); brk != nil || err != nil {
			t.Fatalf("empty log: %v %v", brk, err)
		}
		for i := 1; i <= 12; i++ {
			e := logEntry(i)
			e.Retry = i == 10 // a retry, answered as the first
			if err := l.Append(ctx, e); err != nil {
				t.Fatal(err)
			}
			if e.ID != int64(i) || len(e.Hash) != 64 || (i == 1 && e.PrevHash != GenesisHash) {
				t.Fatalf("appended %+v", e)
			}
		}
		// Odd bytes survive: not UTF-8 and NUL in a body, NUL in a text field.
		odd := &LogEntry{Direction: "in", Interface: "x", Peer: "p", Request: []byte{0xff, 0x00, 0xfe}, Error: "bad\x00byte \xff"}
		if err := l.Append(ctx, odd); err != nil {
			t.Fatal(err)
		}
		if brk, err := l.VerifyChain(ctx); brk != nil || err != nil {
			t.Fatalf("intact log: %v %v", brk, err)
		}
		got, err := l.Get(ctx, odd.ID)
		if err != nil || string(got.Request) != "\xff\x00\xfe" || got.Error != odd.Error || got.Hash != odd.Hash || got.At.IsZero() {
			t.Fatalf("get: %+v %v (appended %+v)", got, err, odd)
		}
		e5, _ := l.Get(ctx, 5)
		if !e5.At.Equal(time.Date(2026, 3, 1, 8, 0, 5, 123456000, time.UTC)) || e5.RequestSize != int64(len(e5.Request)) {
			t.Fatalf("row 5: %+v", e5)
		}

		// A careful forger recomputes the edited row's hash: the next row's
		// prev_hash gives it away.
		forged, _ := l.Get(ctx, 8)
		forged.ApplyNo = "A9999"
		forgedHash := chainHash(forged.PrevHash, forged)

		tampers := []struct {
			name   string
			sql    string
			args   []any
			id     int64
			reason string
		}{
			{"edit a response", "UPDATE message_log SET response = ? WHERE id = 5", []any{[]byte(`{"code":1,"message":"forged"}`)}, 5, "edited"},
			{"edit the code", "UPDATE message_log SET code = 1 WHERE id = 7", nil, 7, "edited"},
			{"edit the time", "UPDATE message_log SET at = at + 1 WHERE id = 2", nil, 2, "edited"},
			{"rehash an edited row", "UPDATE message_log SET applyno = 'X', hash = ? WHERE id = 4", []any{strings.Repeat("ab", 32)}, 4, "edited"},
			{"edit and rehash a row", "UPDATE message_log SET applyno = 'A9999', hash = ? WHERE id = 8", []any{forgedHash}, 9, "prev_hash"},
			{"delete a row", "DELETE FROM message_log WHERE id = 6", nil, 6, "missing"},
			{"delete the newest rows", "DELETE FROM message_log WHERE id >= 12", nil, 12, "deleted"},
			{"insert a row before the first", "INSERT INTO message_log SELECT 0, at, direction, interface, peer, 'A0000', baohanno, request, response, " +
				"http_status, code, sign_ok, diagnosis, error, latency_ms, prev_hash, hash, retry, request_sm3, response_sm3 FROM message_log WHERE id = 1", nil, 0, "below the chain's first"},
			{"flag a row as a retry", "UPDATE message_log SET retry = 1 WHERE id = 4", nil, 4, "edited"},
			{"unflag a retry", "UPDATE message_log SET retry = 0 WHERE id = 10", nil, 10, "edited"},
			{"forge a prev_hash", "UPDATE message_log SET prev_hash = ? WHERE id = 9", []any{GenesisHash}, 9, "prev_hash"},
		}
		for _, tt := range tampers {
			t.Run(tt.name, func(t *testing.T) { checkTamper(t, db, l, tt.sql, tt.args, tt.id, tt.reason) })
		}
		if brk, err := l.VerifyChain(ctx); brk != nil || err != nil {
			t.Fatalf("after rollbacks: %v %v", brk, err)
		}
		// A committed edit is found by VerifyChain itself.
		mustExec(t, db, "UPDATE message_log SET diagnosis = 'nothing to see' WHERE id = 3")
		brk, err := l.VerifyChain(ctx)
		if err != nil || brk == nil || brk.ID != 3 {
			t.Fatalf("committed edit: %v %v", brk, err)
		}
		if !strings.Contains(brk.Error(), "row 3") {
			t.Fatal(brk.Error())
		}
	})
}

// Concurrent appends from many goroutines and two handles (processes)
// keep one unbroken chain.
func TestMessageLogConcurrentAppend(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		logs := []*MessageLog{NewMessageLog(env.open(t)), NewMessageLog(env.open(t))}
		const goroutines, each = 16, 10
		var wg sync.WaitGroup
		errs := make(chan error, goroutines*each)
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					if err := logs[g%2].Append(ctx, logEntry(g*100+i)); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if brk, err := logs[0].VerifyChain(ctx); brk != nil || err != nil {
			t.Fatalf("%v %v", brk, err)
		}
		if n := countRows(t, logs[0].DB, "SELECT COUNT(*) FROM message_log"); n != goroutines*each {
			t.Fatalf("%d rows", n)
		}
	})
}

func TestMessageLogList(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		l := NewMessageLog(env.open(t))
		for i := 1; i <= 12; i++ {
			if err := l.Append(ctx, logEntry(i)); err != nil {
				t.Fatal(err)
			}
		}
		yes, no := true, false
		for _, tt := range []struct {
			f    LogFilter
			want string
		}{
			{LogFilter{Limit: 3}, "12 11 10"},
			{LogFilter{Limit: 3, Before: 10}, "9 8 7"},
			{LogFilter{ApplyNo: "A0004"}, "4"},
			{LogFilter{Peer: "peer-0"}, "12 9 6 3"},
			{LogFilter{Direction: "out", Peer: "peer-1"}, "7 1"},
			{LogFilter{OK: &no}, "11 7 3"},
			{LogFilter{OK: &yes, Direction: "out"}, "9 5 1"},
			{LogFilter{Interface: "nothing"}, ""},
		} {
			list, err := l.List(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, e := range list {
				ids = append(ids, fmt.Sprint(e.ID))
				if e.Request != nil || e.RequestSize == 0 {
					t.Errorf("list without bodies returned %d body bytes, size %d", len(e.Request), e.RequestSize)
				}
			}
			if got := strings.Join(ids, " "); got != tt.want {
				t.Errorf("List(%+v) = %s, want %s", tt.f, got, tt.want)
			}
		}
		list, err := l.List(ctx, LogFilter{Limit: 1, WithBodies: true})
		if err != nil || len(list) != 1 || string(list[0].Request) != string(logEntry(12).Request) || !list[0].OK() {
			t.Fatalf("with bodies: %+v %v", list, err)
		}
		if _, err := l.Get(ctx, 99); err == nil || !strings.Contains(err.Error(), "not found") {
			t.Fatalf("get missing: %v", err)
		}
		// The peers, each once and sorted, the empty peer left out.
		if err := l.Append(ctx, &LogEntry{Direction: "in", Interface: "baohannotice", Request: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
		if peers, err := l.Peers(ctx); err != nil || strings.Join(peers, " ") != "peer-0 peer-1 peer-2" {
			t.Errorf("Peers = %q, %v; want peer-0 peer-1 peer-2", peers, err)
		}
	})
}

func TestMessageLogRecordsExchanges(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		l := NewMessageLog(env.open(t))
		at := time.Date(2026, 3, 15, 14, 5, 12, 987654321, protocol.CST)
		ex := &protocol.Exchange{
			Interface: "uploadbaohanfile", Direction: protocol.Outbound, Peer: "江苏省公共资源交易平台", ApplyNo: "GA2026", BaohanNo: "BH1",
			Request: []byte(`{"appkey":"k"}`), Response: []byte("<html>502</html>"), HTTPStatus: 502, Code: -1,
			SignOK: true, Error: "answer is not JSON", Latency: 1500 * time.Millisecond, At: at,
		}
		if seen, err := l.Record(ctx, ex); err != nil || seen {
			t.Fatalf("record: seen mark recorded %v, %v", seen, err)
		}
		e, err := l.Get(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if !e.At.Equal(at.Truncate(time.Microsecond)) || e.Interface != ex.Interface || e.Direction != "out" || e.Peer != ex.Peer ||
			e.ApplyNo != "GA2026" || e.BaohanNo != "BH1" || string(e.Request) != string(ex.Request) || string(e.Response) != string(ex.Response) ||
			e.HTTPStatus != 502 || e.Code != -1 || !e.SignOK || e.Error != ex.Error || e.LatencyMS != 1500 || e.OK() {
			t.Fatalf("recorded %+v", e)
		}
		failed := false
		if list, _ := l.List(ctx, LogFilter{OK: &failed}); len(list) != 1 {
			t.Fatalf("failed exchanges: %d", len(list))
		}
		if brk, err := l.VerifyChain(ctx); brk != nil || err != nil {
			t.Fatal(brk, err)
		}
		// An inbound exchange carrying a seen mark: the mark is written
		// with the entry, and Record says so.
		until := at.Add(10 * time.Minute)
		in := &protocol.Exchange{Interface: "baohannotice", Direction: protocol.Inbound, Peer: "bank", Code: 1, HTTPStatus: 200,
			SignOK: true, At: at, Seen: &protocol.SeenMark{AppKey: "k9", Sign: "s9", Until: until, Digest: "d9", Answer: []byte(`{"code":1}`)}}
		if seen, err := l.Record(ctx, in); err != nil || !seen {
			t.Fatalf("record with a seen mark: recorded %v, %v", seen, err)
		}
		s := &SeenSigns{DB: l.DB, Now: func() time.Time { return at }}
		if c, err := s.Reserve(ctx, protocol.SeenMark{AppKey: "k9", Sign: "s9", Until: until, Digest: "d9"}); err != nil || !c.Same || string(c.Answer) != `{"code":1}` {
			t.Fatalf("the seen mark and its answer are not in seen_sign: %+v, %v", c, err)
		}
	})
}

// TestChainHashGolden pins both encodings: v1 (what earlier versions
// wrote, value computed by the v1 code) and v2.
func TestChainHashGolden(t *testing.T) {
	e := logEntry(3)
	e.ID = 3
	e.At = FromMicros(Micros(e.At))
	if got, want := chainHashV1(GenesisHash, e), "7bff7e0848e40f9fd7ea64aa364f966d60e740487580db40bec5f694b5885a3c"; got != want {
		t.Errorf("v1 hash %s, want %s", got, want)
	}
	v2 := chainHash(GenesisHash, e)
	if want := "842a94dbd7a2b9fc063ad39588fbd08f90efa61c12f848401516ac1a4bfd1f0d"; v2 != want {
		t.Errorf("v2 hash %s, want %s", v2, want)
	}
	// v2 by hand: SM3(len prev, prev, len label, label, id, SM3(label, columns)).
	d := contentDigest(e)
	if got := messageChain.Link(GenesisHash, 3, &d); got != v2 {
		t.Errorf("messageChain.Link %s, chainHash %s", got, v2)
	}
	e2 := *e
	e2.Request = append([]byte(nil), e.Request...)
	e2.Request[0] ^= 1
	if chainHash(GenesisHash, &e2) == v2 {
		t.Error("v2 hash does not cover the request body")
	}
	e2 = *e
	e2.ID = 4
	if chainHash(GenesisHash, &e2) == v2 {
		t.Error("v2 hash does not cover the id")
	}
}

// TestMessageLogChainV1Rows: a log written by an earlier version (v1
// hashes) and continued by this one (v2) verifies, and an edit of a v1
// row is still found.
func TestMessageLogChainV1Rows(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		db := env.open(t)
		l := NewMessageLog(db)
		prev := GenesisHash
		for i := 1; i <= 3; i++ {
			e := logEntry(i)
			e.ID, e.PrevHash, e.At = int64(i), prev, FromMicros(Micros(e.At))
			e.Hash = chainHashV1(prev, e)
			if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO message_log (id, at, direction, interface, peer, applyno, baohanno,
				request, response, http_status, code, sign_ok, diagnosis, error, latency_ms, prev_hash, hash)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
				e.ID, Micros(e.At), e.Direction, e.Interface, e.Peer, e.ApplyNo, e.BaohanNo, e.Request, e.Response,
				e.HTTPStatus, e.Code, boolInt(e.SignOK), e.Diagnosis, e.Error, e.LatencyMS, e.PrevHash, e.Hash); err != nil {
				t.Fatal(err)
			}
			prev = e.Hash
		}
		if _, err := db.ExecContext(ctx, db.Rebind(`UPDATE message_log_head SET last_id = 3, last_hash = ? WHERE k = 1`), prev); err != nil {
			t.Fatal(err)
		}
		for i := 4; i <= 6; i++ {
			e := logEntry(i)
			if err := l.Append(ctx, e); err != nil {
				t.Fatal(err)
			}
			if i == 4 && e.PrevHash != prev {
				t.Fatalf("row 4 chains on %s, want %s", e.PrevHash, prev)
			}
		}
		if brk, err := l.VerifyChain(ctx); brk != nil || err != nil {
			t.Fatalf("v1 rows then v2 rows: %v %v", brk, err)
		}
		checkTamper(t, db, l, "UPDATE message_log SET applyno = 'X' WHERE id = 2", nil, 2, "edited")
	})
}

// TestMessageLogBatch: a batch written in one transaction (on PostgreSQL
// one INSERT for all), odd bytes and empty bodies included, reads back
// as appended and verifies.
func TestMessageLogBatch(t *testing.T) {
	eachDB(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		l := NewMessageLog(env.open(t))
		entries := []*LogEntry{logEntry(1), logEntry(2), logEntry(3)}
		entries[1].Request, entries[1].Response = []byte{0xff, 0x00, 0xfe}, []byte{}
		entries[2].Error, entries[2].Diagnosis = "bad byte é", "sign over sorted keys"
		items := make([]*batchItem[*LogEntry], len(entries))
		for i, e := range entries {
			e.At = FromMicros(Micros(e.At))
			items[i] = &batchItem[*LogEntry]{v: e}
		}
		if err := l.write(ctx, items); err != nil {
			t.Fatal(err)
		}
		for i, e := range entries {
			got, err := l.Get(ctx, int64(i+1))
			if err != nil {
				t.Fatal(err)
			}
			if got.Hash != e.Hash || string(got.Request) != string(e.Request) || string(got.Response) != string(e.Response) ||
				got.Error != e.Error || got.Code != e.Code || got.SignOK != e.SignOK || !got.At.Equal(e.At) || got.LatencyMS != e.LatencyMS {
				t.Errorf("row %d: got %+v, appended %+v", i+1, got, e)
			}
		}
		if brk, err := l.VerifyChain(ctx); brk != nil || err != nil {
			t.Fatalf("chain: %v %v", brk, err)
		}
	})
}
