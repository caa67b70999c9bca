package bench

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/web"
)

// Growth (`--seed N`): the platform after years of traffic. N
// applications with their histories are seeded (SeedHistory, not timed),
// then, on that database: every console and admin list page and search
// (p99 of sequential requests), one outbox claim amid the history,
// scenario 1's notices, and the message log's verification (`baohan
// audit verify`) with its memory. The claim and the notices are measured
// the same way on an empty platform in the same run, the yardstick of
// "within 20%": in rounds that alternate between the two platforms, so
// that a change of the machine's load during the run weighs on both.

// Targets of the growth rows.
const (
	GrowthPageP99   = 200 * time.Millisecond
	GrowthSlowdown  = 0.20     // the claim and scenario 1 on the grown database, at most this much worse
	GrowthVerifyMem = 16 << 20 // the verification's live heap growth above the small log's, at most
)

// Sizes of the growth measurements.
const (
	growthPageReqs = 40   // sequential requests per page
	growthClaims   = 1200 // claims of one message on each database
	growthBacklog  = 1000 // due messages the claims pick from
	growthNotices  = 2000 // scenario 1's notices on each database
	growthWarm     = 200  // notices sent before each round, not measured
	growthRounds   = 4    // rounds of the claims and the notices on each database, alternating
)

// growthScenario is the number growth rows carry in the report.
const growthScenario = 6

// growthBase is the verification of the empty platform's log.
type growthBase struct {
	verify     MemPeak
	verifyRows int64
}

func (r *runner) growth(ctx context.Context, db string) ([]Row, error) {
	label := "growth-" + db
	r.logf("%s: the empty platform", label)
	empty, err := StartPlatform(ctx, PlatformOptions{Dir: r.workDir(label + "-empty"), DB: db, PostgresURL: r.o.PostgresURL, Institutions: 3})
	if err != nil {
		return nil, err
	}
	defer empty.Close()

	token := randomHex(24)
	env, err := StartPlatform(ctx, PlatformOptions{Dir: r.workDir(label + "-seeded"), DB: db, PostgresURL: r.o.PostgresURL, Institutions: 3, AdminToken: token})
	if err != nil {
		return nil, err
	}
	defer env.Close()
	n := r.o.Seed
	r.logf("%s: seeding %d applications with their histories", label, n)
	counts, err := env.SeedHistory(ctx, n, func(done int) {
		if done%50000 == 0 || done == n {
			r.logf("%s: seeded %d/%d", label, done, n)
		}
	})
	if err != nil {
		return nil, err
	}
	r.logf("%s: seeded %s", label, counts)
	// The load's aftermath settled before anything is measured: on
	// PostgreSQL what autovacuum does after a bulk insert (statistics,
	// and the visibility map that lets counts read indexes alone), and a
	// checkpoint, so that the seeding's gigabyte of WAL is not being
	// written back during the measurements; on SQLite the WAL folded
	// into the database.
	settle := []string{"PRAGMA wal_checkpoint(TRUNCATE)"}
	if db == Postgres {
		settle = []string{"VACUUM ANALYZE", "CHECKPOINT"}
	}
	for _, q := range settle {
		if _, err := env.DB.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("%s after seeding: %w", q, err)
		}
	}
	seedRow := Row{Scenario: growthScenario, Name: fmt.Sprintf("seed %d applications (setup)", n), DB: db, Unit: "apps/s",
		N: counts.Applications, Elapsed: counts.Took, Rate: float64(counts.Applications) / counts.Took.Seconds(), Target: "-", Pass: true}
	seedRow.note("%s", counts)
	rows := []Row{seedRow}

	pages, err := r.growthPages(ctx, env, token, label)
	if err != nil {
		return rows, err
	}
	rows = append(rows, pages...)

	// The claims and the notices in rounds, empty and grown in turn (the
	// first of each round alternating too), so that the machine's load
	// drifting during the run weighs on both sides alike.
	r.logf("%s: outbox claim, %d rounds on each database", label, growthRounds)
	claimE, claimG, err := alternate(func(grown bool, round int) (*Stats, error) {
		return measureClaim(ctx, either(grown, env, empty), growthClaims/growthRounds)
	})
	if err != nil {
		return rows, err
	}
	rows = append(rows, compareRow(db, "outbox claim of 1 among 1,000 due", "claims/s", claimG, claimE))

	r.logf("%s: scenario 1 notices, %d rounds on each database", label, growthRounds)
	noticesE, noticesG, err := alternate(func(grown bool, round int) (*Stats, error) {
		part := fmt.Sprintf("%s-%s-s1-%d", label, map[bool]string{true: "grown", false: "empty"}[grown], round)
		return r.growthNotices(ctx, either(grown, env, empty), part, growthNotices/growthRounds)
	})
	if err != nil {
		return rows, err
	}
	rows = append(rows, compareRow(db, fmt.Sprintf("scenario 1: %d notices, %d clients", growthNotices, r.o.Clients), "req/s", noticesG, noticesE))

	r.logf("%s: audit verify", label)
	var base growthBase // the empty platform's few thousand rows of the notices
	if base.verify, base.verifyRows, err = verifyLog(ctx, empty.DB); err != nil {
		return rows, err
	}
	vr, err := r.growthVerify(ctx, env, db, &base)
	if err != nil {
		return rows, err
	}
	return append(rows, vr), nil
}

// either is a when cond, else b.
func either[T any](cond bool, a, b T) T {
	if cond {
		return a
	}
	return b
}

// alternate runs measure growthRounds times on each database, the empty
// and the grown one in turn, the first of each round alternating, and
// returns each side's rounds together.
func alternate(measure func(grown bool, round int) (*Stats, error)) (empty, grown *Stats, err error) {
	empty, grown = &Stats{}, &Stats{}
	for round := range growthRounds {
		for i := range 2 {
			g := (round+i)%2 == 1
			st, err := measure(g, round)
			if err != nil {
				return nil, nil, err
			}
			addStats(either(g, grown, empty), st)
		}
	}
	slices.Sort(empty.Samples)
	slices.Sort(grown.Samples)
	return empty, grown, nil
}

// addStats adds the operations, errors, samples and time of st to sum
// (whose samples the caller sorts after the last).
func addStats(sum, st *Stats) {
	sum.N += st.N
	sum.Errors += st.Errors
	sum.Elapsed += st.Elapsed
	sum.Samples = append(sum.Samples, st.Samples...)
	for _, e := range st.ErrorSamples {
		if len(sum.ErrorSamples) < 5 && !slices.Contains(sum.ErrorSamples, e) {
			sum.ErrorSamples = append(sum.ErrorSamples, e)
		}
	}
}

// compareRow is a row measured on the grown database beside the same on
// the empty one: PASS when its rate is at most GrowthSlowdown below.
func compareRow(db, name, unit string, st, empty *Stats) Row {
	row := Row{Scenario: growthScenario, Name: name, DB: db, Unit: unit}
	row.setStats(st)
	row.Rate = st.Rate()
	row.Reference, row.ReferenceName = empty.Rate(), "empty database"
	row.Ratio = row.Rate / empty.Rate()
	row.Target = fmt.Sprintf("≥%.0f%% of empty", (1-GrowthSlowdown)*100)
	row.Pass = row.Ratio >= 1-GrowthSlowdown && st.Errors == 0
	row.note("empty database: %s/s, p50 %s, p99 %s; grown: %.0f%% of its rate, p99 %.2f×",
		strconv.FormatFloat(empty.Rate(), 'f', 0, 64), fmtDur(empty.P50()), fmtDur(empty.P99()), row.Ratio*100,
		float64(st.P99())/float64(max(empty.P99(), 1)))
	return row
}

// measureClaim times n claims of one message among growthBacklog due
// ones, as a worker of the outbox claims: a dispatcher of its own whose
// clock is a year ahead takes messages enqueued due then, which the
// platform's own dispatcher does not see as due yet; each is put back
// after its claim. The messages are deleted after.
func measureClaim(ctx context.Context, env *PlatformEnv, n int) (*Stats, error) {
	far := env.Clock.Now().AddDate(1, 0, 0)
	const peer = "bench-claim"
	err := env.DB.InTx(ctx, func(tx *sql.Tx) error {
		for i := range growthBacklog {
			if err := store.Enqueue(ctx, tx, env.DB.Dialect, store.OutMessage{Peer: peer, Interface: string(protocol.BaohanRestore),
				ApplyNo: fmt.Sprintf("CLAIM%06d", i), DedupeKey: fmt.Sprintf("bench-claim:%s:%d", randomHex(4), i),
				Fields: map[string]string{"applyno": fmt.Sprintf("CLAIM%06d", i)}}, far.Add(-time.Hour)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("enqueueing the claim backlog: %w", err)
	}
	defer env.DB.ExecContext(context.WithoutCancel(ctx), env.DB.Rebind(`DELETE FROM outbox WHERE peer = ?`), peer)
	d := &store.Dispatcher{DB: env.DB, Owner: "bench-claim", Lease: time.Minute, Now: func() time.Time { return far }}
	reset := env.DB.Rebind(`UPDATE outbox SET state = 'pending', lease_owner = '', lease_until = 0 WHERE id = ?`)
	rec := NewRecorder(n)
	start := time.Now()
	for range n {
		t := time.Now()
		got, err := d.ClaimDue(ctx, 1)
		if err == nil && (len(got) != 1 || got[0].Peer != peer) {
			err = fmt.Errorf("claimed %d messages, want 1 of %s", len(got), peer)
		}
		rec.Add(time.Since(t), err)
		if err != nil {
			continue
		}
		if _, err := env.DB.ExecContext(ctx, reset, got[0].ID); err != nil {
			return nil, err
		}
	}
	return MergeStats(time.Since(start), rec), nil
}

// growthNotices is scenario 1 at a small size: n applications (and
// growthWarm more, sent first) waiting for their notice in a section of
// their own, the notices signed in setup, sent from the clients. part
// names the timed part (profiles).
func (r *runner) growthNotices(ctx context.Context, env *PlatformEnv, part string, n int) (*Stats, error) {
	sec, err := env.Section(ctx, "GS1-"+randomHex(3), env.Clock.Now().Add(24*time.Hour))
	if err != nil {
		return nil, err
	}
	total := growthWarm + n
	apps := make([]SeedApp, total)
	now := env.Clock.Now()
	for i := range apps {
		apps[i] = SeedApp{ApplyNo: platform.NewApplyNo(now), State: platform.Applied}
	}
	if err := env.Seed(ctx, sec, apps, false); err != nil {
		return nil, err
	}
	bodies := make([][]byte, total)
	for i, a := range apps {
		bodies[i] = env.Body(0, NoticeFields(a.ApplyNo, "GBN"+randomHex(4)+strconv.Itoa(i), now))
	}
	p := NewPoster(r.o.Clients)
	defer p.Close()
	u := env.URL(protocol.BaohanNotice)
	post := func(off int) Op {
		return func(ctx context.Context, _, i int) error {
			_, err := p.Post(ctx, u, bodies[off+i])
			return err
		}
	}
	if _, err := (Load{Clients: r.o.Clients, Count: growthWarm}).Run(ctx, post(0)); err != nil {
		return nil, err
	}
	var st *Stats
	err = r.timed(part, func() error {
		st, err = Load{Clients: r.o.Clients, Count: n}.Run(ctx, post(growthWarm))
		return err
	})
	if err != nil {
		return nil, err
	}
	approved, err := env.CountState(ctx, sec.No, platform.Approved)
	if err != nil {
		return nil, err
	}
	if approved != total-st.Errors {
		return nil, fmt.Errorf("%s: %d approved of %d sent (%d errors)", part, approved, total, st.Errors)
	}
	return st, nil
}

// verifyLog verifies the message log as `baohan audit verify` does,
// sampling memory.
func verifyLog(ctx context.Context, db *store.DB) (MemPeak, int64, error) {
	mem := StartMemSampler(0)
	brk, n, err := store.NewMessageLog(db).Verify(ctx)
	peak := mem.Stop()
	if err == nil && brk != nil {
		err = brk
	}
	return peak, n, err
}

func (r *runner) growthVerify(ctx context.Context, env *PlatformEnv, db string, base *growthBase) (Row, error) {
	row := Row{Scenario: growthScenario, Name: "audit verify (message log chain)", DB: db, Unit: "rows/s"}
	start := time.Now()
	peak, n, err := verifyLog(ctx, env.DB)
	took := time.Since(start)
	if err != nil {
		return row, err
	}
	var bytes int64
	if err := env.DB.QueryRowContext(ctx, `SELECT COALESCE(SUM(length(request) + length(response)), 0) FROM message_log`).Scan(&bytes); err != nil {
		return row, err
	}
	row.N, row.Elapsed, row.Rate = int(n), took, float64(n)/took.Seconds()
	row.setMem(peak)
	row.Target = fmt.Sprintf("live heap growth ≤ %s + small log's", fmtBytes(GrowthVerifyMem))
	row.Pass = peak.LiveGrowth() <= base.verify.LiveGrowth()+GrowthVerifyMem
	row.check("the chain verifies", true, "%d rows, %s of bodies, in %s", n, fmtBytes(uint64(bytes)), took.Round(time.Millisecond))
	row.note("live heap growth %s verifying %d rows (%s of bodies); %s verifying the empty platform's %d rows",
		fmtBytes(peak.LiveGrowth()), n, fmtBytes(uint64(bytes)), fmtBytes(base.verify.LiveGrowth()), base.verifyRows)
	return row, nil
}

// growthPage is one list page or search.
type growthPage struct {
	name, path string
	admin      bool // the admin API (bearer token), else the console (session)
}

// growthPages measures every list page and search of the platform's
// console and admin API on the grown database.
func (r *runner) growthPages(ctx context.Context, env *PlatformEnv, token, label string) ([]Row, error) {
	// Values to search for, from the middle of the data.
	var applyNo, section, bidder, baohanNo string
	var total int
	if err := env.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM plat_applications`).Scan(&total); err != nil {
		return nil, err
	}
	if err := env.DB.QueryRowContext(ctx, env.DB.Rebind(`SELECT applyno, section_no, bidder_code, baohanno FROM plat_applications
		WHERE baohanno <> '' ORDER BY created_at LIMIT 1 OFFSET ?`), total/2).Scan(&applyNo, &section, &bidder, &baohanNo); err != nil {
		return nil, err
	}
	inst := env.Insts[len(env.Insts)-1].Name
	q := url.QueryEscape
	pages := []growthPage{
		{"console 概览 (home)", "/console/", false},
		{"console 标段 sections", "/console/sections", false},
		{"console 标段 search", "/console/sections?q=" + q(section[len(section)-6:]), false},
		{"console 投保申请 applications", "/console/applications", false},
		{"console applications by state", "/console/applications?state=invoiced", false},
		{"console applications by section", "/console/applications?section=" + q(section), false},
		{"console applications by institution", "/console/applications?institution=" + q(inst), false},
		{"console applications by bidder", "/console/applications?bidder=" + q(bidder), false},
		{"console applications by applyno prefix", "/console/applications?applyno=" + q(applyNo[:12]), false},
		{"console applications by baohanno", "/console/applications?baohanno=" + q(baohanNo), false},
		{"console 保函 guarantees", "/console/guarantees", false},
		{"console 投标人 bidders", "/console/bidders", false},
		{"console bidders search", "/console/bidders?q=" + q("工程有限公司1"), false},
		{"console 报文日志 messages", "/console/messages", false},
		{"console messages by interface", "/console/messages?interface=claimsnotice", false},
		{"console messages by peer", "/console/messages?peer=" + q(inst), false},
		{"console messages by applyno", "/console/messages?applyno=" + q(applyNo), false},
		{"console messages failed", "/console/messages?result=failed", false},
		{"console messages out", "/console/messages?direction=out", false},
		{"console 审计 audit", "/console/audit", false},
		{"console 用户 users", "/console/users", false},
		{"api applications", "/api/applications", true},
		{"api applications by state", "/api/applications?state=restored", true},
		{"api applications deep page (offset)", "/api/applications?offset=" + strconv.Itoa(total/2), true},
		{"api applications deep page (before)", "/api/applications?before=" + q(applyNo), true},
		{"api sections", "/api/sections", true},
		{"api bidders", "/api/bidders", true},
		{"api guarantees", "/api/guarantees", true},
		{"api messages", "/api/messages", true},
		{"api messages by interface", "/api/messages?interface=quitnotice", true},
		{"api outbox", "/api/outbox", true},
		{"api outbox counts", "/api/outbox/counts", true},
	}

	// The console in front of the platform, one admin signed in.
	discard := slog.New(slog.DiscardHandler)
	pc, err := web.Platform(ctx, env.Svc, web.Options{Logger: discard})
	if err != nil {
		return nil, err
	}
	pw := "Bench-" + randomHex(8)
	if _, err := pc.Auth().CreateUser(ctx, "bench", "压测", web.Admin, pw); err != nil {
		return nil, err
	}
	srv, err := ServeLocal(pc.Handler(env.Svc.Handler()))
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 60 * time.Second}
	resp, err := client.PostForm(srv.URL+"/console/login", url.Values{"username": {"bench"}, "password": {pw}})
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.HasSuffix(resp.Request.URL.Path, "/login") {
		return nil, fmt.Errorf("console login: %s at %s", resp.Status, resp.Request.URL.Path)
	}

	var rows []Row
	for _, p := range pages {
		get := func(ctx context.Context, _, _ int) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+p.path, nil)
			if err != nil {
				return err
			}
			if p.admin {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			n, _ := io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != http.StatusOK || n == 0 {
				return fmt.Errorf("GET %s: %s, %d bytes", p.path, resp.Status, n)
			}
			if !p.admin && strings.HasSuffix(resp.Request.URL.Path, "/login") {
				return fmt.Errorf("GET %s: sent to the login page", p.path)
			}
			return nil
		}
		// One request first (connections, caches), then the measured ones.
		if err := get(ctx, 0, 0); err != nil {
			return rows, err
		}
		var st *Stats
		err := r.timed(label+"-page", func() error {
			var err error
			st, err = Load{Clients: 1, Count: growthPageReqs}.Run(ctx, get)
			return err
		})
		if err != nil {
			return rows, err
		}
		row := Row{Scenario: growthScenario, Name: p.name, DB: env.Kind, Unit: "req/s"}
		row.setStats(st)
		row.Rate = st.Rate()
		row.Target = "p99<" + fmtDur(GrowthPageP99)
		row.Pass = st.Errors == 0 && st.P99() < GrowthPageP99
		row.note("GET %s", p.path)
		r.logf("%s: %s: p50 %s p99 %s", label, p.name, fmtDur(st.P50()), fmtDur(st.P99()))
		rows = append(rows, row)
	}
	return rows, nil
}
