package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
)

// Scenario 1: the bid deadline at the platform. Institutions send their
// underwriting results (baohannotice) for applications waiting for them,
// from Clients connections at once; each is a durable state change. The
// ceiling is a bare handler that only parses and checks the sign.

// Targets of scenario 1: the share of the durable reference (the least
// a service that commits before it answers does) and the p99, on both
// databases.
const (
	S1MinRatio = 0.6
	S1MaxP99   = 50 * time.Millisecond
)

// NoticeFields are the fields of an approving baohannotice.
func NoticeFields(applyNo, baohanNo string, now time.Time) map[string]string {
	return map[string]string{"applyno": applyNo, "baohanno": baohanNo, "instname": "某某融资担保有限公司",
		"generatetime": protocol.FormatTime(now), "rate": "0.005", "cost": "1000.00", "applystatus": "1"}
}

func (r *runner) scenario1(ctx context.Context, db string) ([]Row, error) {
	o := r.o
	label := "s1-" + db
	row := Row{Scenario: 1, Name: fmt.Sprintf("baohannotice into the platform, %d clients", o.Clients), DB: db, Unit: "req/s"}
	r.logf("%s: starting the platform", label)
	env, err := StartPlatform(ctx, PlatformOptions{Dir: r.workDir(label), DB: db, PostgresURL: o.PostgresURL, Institutions: 1})
	if err != nil {
		return nil, err
	}
	defer env.Close()
	sec, err := env.Section(ctx, "S1-"+randomHex(3), env.Clock.Now().Add(24*time.Hour))
	if err != nil {
		return nil, err
	}
	warm := min(max(o.Notices/10, o.Clients), 2000)
	total := warm + o.Notices
	r.logf("%s: seeding %d applications waiting for their notice", label, total)
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
		bodies[i] = env.Body(0, NoticeFields(a.ApplyNo, "BHN"+strconv.Itoa(i), now))
	}
	secrets := map[string]string{env.Peers[0].AppKey: env.Peers[0].AppSecret}

	r.logf("%s: ceiling (parse + verify only) with %d clients", label, o.Clients)
	var ceil *Stats
	if err := r.timed(label+"-ceiling", func() error {
		var err error
		ceil, err = VerifyCeiling(ctx, secrets, string(protocol.BaohanNotice), bodies, Load{Clients: o.Clients, Count: total})
		return err
	}); err != nil {
		return nil, err
	}
	r.logf("%s: ceiling %s", label, ceil)
	ref, err := r.durableReference(ctx, label, db, secrets, protocol.BaohanNotice, bodies, total)
	if err != nil {
		return nil, err
	}

	p := NewPoster(o.Clients)
	defer p.Close()
	url := env.URL(protocol.BaohanNotice)
	post := func(off int) Op {
		return func(ctx context.Context, _, i int) error {
			_, err := p.Post(ctx, url, bodies[off+i])
			return err
		}
	}
	st, err := r.measureLoad(ctx, label, "notices", o.Clients, warm, o.Notices, post, ceil, &row)
	if err != nil {
		return nil, err
	}

	approved, err := env.CountState(ctx, sec.No, platform.Approved)
	if err != nil {
		return nil, err
	}
	row.check("every answered notice approved its application", approved == total-st.Errors,
		"%d approved of %d sent (%d errors)", approved, total, st.Errors)
	row.note("ceiling p50 %s, p99 %s", fmtDur(ceil.P50()), fmtDur(ceil.P99()))
	row.setDurableRef(ref)
	row.Target = fmt.Sprintf("≥%.0f%% of durable ref, p99<%s", S1MinRatio*100, S1MaxP99)
	row.Pass = row.refRatio() >= S1MinRatio && row.P99 < S1MaxP99 && st.Errors == 0 && row.checksOK()
	return []Row{row}, nil
}
