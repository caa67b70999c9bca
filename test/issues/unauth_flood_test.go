package issues

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/baohan-dev/baohan/config"
	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/transport"
)

// TestUnauthenticatedFloodBounded: requests nobody authenticated (an
// unknown appkey, a wrong sign, an address outside the peer's
// allow_from, a body that is not a JSON object, a path naming no
// interface) were recorded with their identifiers whole: the message log
// kept a 500 KB applyno and baohanno (and indexed the applyno), the log
// quoted them in full. 300 such POSTs grew the platform's database by
// some 500 MB and its log by 150 MB in seconds, and nothing bounded how
// much an address could write. Now every identifier is clipped to the
// spec's maximum and what an address's unauthenticated requests write
// (records and log lines) comes out of a byte budget.
//
// The flood goes over HTTP to a running platform, each kind from its own
// address (a trusted proxy names it in X-Forwarded-For); what it adds to
// the database and to the log must fit what the budgets of those
// addresses allow, and no recorded value may exceed the spec's length.
func TestUnauthenticatedFloodBounded(t *testing.T) {
	s := harness.Start(t, harness.Quiet(), harness.WithPlatformConfig(func(c *platform.Config) { c.Listen.TrustedProxies = []string{"127.0.0.1"} }), harness.WithPlatformPeer(func(p *config.Peer) { p.AllowFrom = []string{"198.51.100.0/24"} }))
	dataDir := s.PlatCfg.Storage.DataDir
	dbPath := filepath.Join(dataDir, platform.DefaultSQLiteFile)

	// The database at rest before the flood (closing checkpoints the WAL).
	s.StopPlatform()
	size0, last0 := fileSize(t, dbPath), lastLogID(t, dataDir)
	log0 := len(s.PlatLog.String())
	s.StartPlatform()
	front := httptest.NewServer(s.Plat.Handler()) // not the stack's door, which keeps every body in memory
	defer front.Close()

	rep := func(c string, n int) string { return strings.Repeat(c, n) }
	notice := func(appkey string) map[string]string {
		return map[string]string{"appkey": appkey, "timestamp": protocol.FormatTime(s.Clock.Now()),
			"applyno": rep("A", 500<<10), "baohanno": rep("B", 400<<10), "instname": harness.InstitutionName,
			"generatetime": protocol.FormatTime(s.Clock.Now()), "rate": "0.005", "cost": "4000.00", "applystatus": "1",
			"sign": rep("0", 64)}
	}
	unknown := notice(rep("K", 80<<10))
	unknown["applyno"], unknown["baohanno"] = rep("A", 400<<10), rep("B", 400<<10)
	attacks := []struct {
		name, from, path string
		body             []byte
		status           int
	}{
		{"unknown appkey", "203.0.113.1", "/baohannotice", protocol.MarshalFields(unknown), 200},
		{"bad sign", "198.51.100.7", "/baohannotice", protocol.MarshalFields(notice(harness.AppKey)), 200},
		{"refused address", "203.0.113.2", "/baohannotice", protocol.MarshalFields(notice(harness.AppKey)), 403},
		{"duplicate key", "203.0.113.3", "/baohannotice", []byte(`{"` + rep("Q", 450<<10) + `":"1","` + rep("Q", 450<<10) + `":"2"}`), 200},
		{"no such interface", "203.0.113.4", "/" + rep("P", 500<<10), []byte(`{}`), 404},
	}
	const perKind = 60 // 300 POSTs in all, as in the review
	start := time.Now()
	for i := 0; i < perKind; i++ {
		for _, a := range attacks {
			req, err := http.NewRequest("POST", front.URL+a.path, bytes.NewReader(a.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-For", a.from)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if r, ok := harness.Answer(b); !ok || r.Code != 0 || res.StatusCode != a.status {
				t.Fatalf("%s: HTTP %d %.200s, want %d and code 0", a.name, res.StatusCode, b, a.status)
			}
		}
	}
	elapsed := time.Since(start)
	s.StopPlatform()
	grew := fileSize(t, dbPath) - size0
	logged := s.PlatLog.String()[log0:]

	// What the budgets of the five addresses allow over the flood.
	var budget transport.UnauthenticatedBudget // the platform runs with the defaults
	allowed := int64(len(attacks)) * budget.Allowance(elapsed)

	// No recorded value is longer than the spec allows (a clipped one
	// ends in "…"); no body longer than what is kept of an
	// unauthenticated one.
	specMax := func(field string) int { return protocol.SpecOf(protocol.BaohanNotice).Field(field).Max + 1 }
	rows := newLogRows(t, dataDir, last0)
	var recorded int64
	longest := map[string]int{}
	for _, e := range rows {
		for _, c := range []struct {
			name, v string
			max     int
		}{{"applyno", e.ApplyNo, specMax("applyno")}, {"baohanno", e.BaohanNo, specMax("baohanno")}, {"peer", e.Peer, specMax("appkey")},
			{"interface", e.Interface, longestInterface() + 1}} {
			if n := utf8.RuneCountInString(c.v); n > c.max && n > longest[c.name] {
				longest[c.name] = n
			}
		}
		if len(e.Request) > transport.MaxUnauthenticatedLog {
			longest["request body"] = max(longest["request body"], len(e.Request))
		}
		recorded += int64(len(e.Interface) + len(e.Peer) + len(e.ApplyNo) + len(e.BaohanNo) + len(e.Request) + len(e.Response) +
			len(e.Diagnosis) + len(e.Error))
	}
	for name, n := range longest {
		t.Errorf("%s of %d recorded, longer than the spec (or the body kept of an unauthenticated request) allows", name, n)
	}
	// The log: what the addresses' lines cost, and the reports of what
	// was dropped, a minute apart.
	var lines, reports int64
	for _, l := range strings.SplitAfter(logged, "\n") {
		if strings.Contains(l, "over their log budget") {
			reports++
			if len(l) > 1<<10 {
				t.Errorf("a report of %d bytes", len(l))
			}
			continue
		}
		lines += int64(len(l))
	}
	t.Logf("%d POSTs in %s: %d rows of %d bytes, database +%d bytes, log +%d bytes (%d reports); the budgets allow %d",
		perKind*len(attacks), elapsed.Round(time.Millisecond), len(rows), recorded, grew, len(logged), reports, allowed)
	if recorded+lines > allowed {
		t.Errorf("the flood wrote %d bytes of records and %d of log lines; the budgets of its %d addresses allow %d",
			recorded, lines, len(attacks), allowed)
	}
	if maxReports := 1 + int64(elapsed/time.Minute); reports > maxReports {
		t.Errorf("%d reports of dropped records in %s", reports, elapsed)
	}
	// SQLite stores a row once in its table and its peer and applyno again
	// in their indexes, on pages at least half full: the file grows by at
	// most twice what was allowed.
	if grew > 2*allowed {
		t.Errorf("the database grew by %d bytes; the budgets allow %d bytes of records", grew, allowed)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	var n int64
	for _, p := range []string{path, path + "-wal"} {
		st, err := os.Stat(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		n += st.Size()
	}
	return n
}

// openPlatformDB opens the stopped platform's SQLite database.
func openPlatformDB(t *testing.T, dataDir string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), "", dataDir, store.WithFileName(platform.DefaultSQLiteFile))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func lastLogID(t *testing.T, dataDir string) int64 {
	t.Helper()
	db := openPlatformDB(t, dataDir)
	defer db.Close()
	rows, err := store.NewMessageLog(db).List(context.Background(), store.LogFilter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		return 0
	}
	return rows[0].ID
}

// newLogRows returns the message log rows after id after, with bodies.
func newLogRows(t *testing.T, dataDir string, after int64) []store.LogEntry {
	t.Helper()
	db := openPlatformDB(t, dataDir)
	defer db.Close()
	var out []store.LogEntry
	before := int64(0)
	for {
		rows, err := store.NewMessageLog(db).List(context.Background(), store.LogFilter{Before: before, Limit: 100, WithBodies: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range rows {
			if e.ID <= after {
				return out
			}
			out = append(out, e)
		}
		if len(rows) == 0 {
			return out
		}
		before = rows[len(rows)-1].ID
	}
}

func longestInterface() int {
	n := 0
	for _, i := range protocol.Interfaces {
		n = max(n, len(i))
	}
	return n
}
