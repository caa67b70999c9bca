package bench

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

// Scenario 3: the bid opening. A section holds Guarantees ciphertext
// guarantees across Institutions institutions; at kaibiaotime the
// platform sends every one its baohanrestore (the outbox holds them, due
// at the opening) and records each acknowledgement. Measured: the time
// from kaibiaotime until every restore is acknowledged and recorded. Then
// again with one institution failing the first attempt of every restore
// (HTTP 500, and every TimeoutEvery-th failure a timeout): every restore
// must still be acknowledged, within the retry schedule, and none twice.

// Targets of scenario 3.
const (
	S3Target    = 10000            // restores ...
	S3TargetDur = 10 * time.Second // ... acknowledged within this (in the failing run: those of the healthy institutions)
	// S3FailTimeoutEvery: every n-th injected failure is a timeout.
	S3FailTimeoutEvery = 50
	// S3CallTimeout is the platform's call timeout in the failing run
	// (config `timeout` of the institutions).
	S3CallTimeout = 2 * time.Second
	// S3PollInterval is the outbox's idle poll in scenario 3.
	S3PollInterval = 50 * time.Millisecond
)

func (r *runner) scenario3(ctx context.Context, db string) ([]Row, error) {
	healthy, err := r.opening(ctx, db, false)
	if err != nil {
		return nil, err
	}
	failing, err := r.opening(ctx, db, true)
	if err != nil {
		return []Row{healthy}, err
	}
	return []Row{healthy, failing}, nil
}

// opening runs one bid opening.
func (r *runner) opening(ctx context.Context, db string, fail bool) (Row, error) {
	o := r.o
	label := "s3-" + db
	name := fmt.Sprintf("bid opening: %d restores, %d institutions", o.Guarantees, o.Institutions)
	// The clock jumps to kaibiaotime, which the dispatcher's timer cannot
	// know; in real time it sleeps until the first due message. A short
	// idle poll stands in for that wake-up (otherwise up to the default
	// 1 s would be counted).
	popts := PlatformOptions{DB: db, PostgresURL: o.PostgresURL, Institutions: o.Institutions, Workers: o.Workers,
		PollInterval: S3PollInterval}
	if fail {
		label += "-failing"
		name = fmt.Sprintf("bid opening, 1 of %d institutions failing half its calls", o.Institutions)
		popts.CallTimeout = S3CallTimeout
		popts.Fake = func(i int, f *harness.FakePeer) {
			if i == 0 {
				f.FailFirst, f.TimeoutEvery, f.HoldMax = true, S3FailTimeoutEvery, time.Minute
			}
		}
	}
	popts.Dir = r.workDir(label)
	row := Row{Scenario: 3, Name: name, DB: db, Unit: "restores/s"}
	r.logf("%s: starting the platform and %d fake institutions", label, o.Institutions)
	env, err := StartPlatform(ctx, popts)
	if err != nil {
		return row, err
	}
	defer env.Close()
	workers := env.Svc.Config().Outbox.Workers
	perPeer := store.PerPeerLimit(env.Svc.Config().Outbox.PerPeer, workers)
	if perPeer == 0 { // no limit
		perPeer = workers
	}
	kbt := env.Clock.Now().Add(time.Hour).Truncate(time.Second)
	sec, err := env.Section(ctx, "S3-"+randomHex(3), kbt)
	if err != nil {
		return row, err
	}
	r.logf("%s: seeding %d ciphertext guarantees with their restores due at %s", label, o.Guarantees, protocol.FormatTime(kbt))
	now := env.Clock.Now()
	apps := make([]SeedApp, o.Guarantees)
	for i := range apps {
		apps[i] = SeedApp{ApplyNo: platform.NewApplyNo(now), Inst: i % len(env.Insts), State: platform.CipherReceived,
			BaohanNo: fmt.Sprintf("BHR%06d", i)}
	}
	if err := env.Seed(ctx, sec, apps, true); err != nil {
		return row, err
	}

	// The ceiling: the same number of signed baohanrestore calls to
	// healthy fakes from as many clients as the outbox has workers,
	// without the platform (no outbox, no database).
	if !fail {
		r.logf("%s: ceiling (%d signed calls from %d clients, no platform)", label, o.Guarantees, workers)
		var ceil *Stats
		if err := r.timed(label+"-ceiling", func() error {
			var err error
			ceil, err = restoreCeiling(ctx, apps, o.Institutions, workers)
			return err
		}); err != nil {
			return row, err
		}
		r.logf("%s: ceiling %s", label, ceil)
		row.Ceiling, row.CeilingName = ceil.Rate(), fmt.Sprintf("signed calls, %d clients", workers)
		row.CeilingP50, row.CeilingP99 = ceil.P50(), ceil.P99()
	}

	deadline := 5 * time.Minute
	if fail {
		deadline = 10 * time.Minute
	}
	r.logf("%s: kaibiaotime: %d restores due", label, o.Guarantees)
	var (
		t0, tAck, tDone time.Time
	)
	mem := StartMemSampler(0)
	err = r.timed(label, func() error {
		t0 = time.Now()
		env.Clock.Jump(kbt)
		lastLog := t0
		for {
			acked := 0
			for _, f := range env.Insts {
				acked += f.Counts().Distinct
			}
			if acked >= o.Guarantees && tAck.IsZero() {
				tAck = time.Now()
			}
			if !tAck.IsZero() {
				n, err := env.CountState(ctx, sec.No, platform.Restored)
				if err != nil {
					return err
				}
				if n >= o.Guarantees {
					tDone = time.Now()
					return nil
				}
			}
			if time.Since(t0) > deadline {
				return fmt.Errorf("after %s only %d of %d restores acknowledged", deadline, acked, o.Guarantees)
			}
			if time.Since(lastLog) > 2*time.Second {
				lastLog = time.Now()
				r.logf("%s: %d/%d acknowledged after %.1fs", label, acked, o.Guarantees, time.Since(t0).Seconds())
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	peak := mem.Stop()
	row.setMem(peak)
	if err != nil {
		return row, err
	}
	// Latency of each restore: from kaibiaotime to its acknowledgement.
	// In the failing run, the healthy institutions' (all but the first)
	// are measured; the failing one's last acknowledgement is a note.
	var lat []time.Duration
	var counts harness.RestoreCounts
	var lastHealthy, lastFailing time.Time
	healthyN := 0
	for i, f := range env.Insts {
		for _, at := range f.AckTimes() {
			if fail && i == 0 {
				if at.After(lastFailing) {
					lastFailing = at
				}
				continue
			}
			lat = append(lat, at.Sub(t0))
			if at.After(lastHealthy) {
				lastHealthy = at
			}
		}
		c := f.Counts()
		if !fail || i > 0 {
			healthyN += c.Distinct
		}
		counts.Calls += c.Calls
		counts.Acks += c.Acks
		counts.Distinct += c.Distinct
		counts.Twice += c.Twice
		counts.Failed += c.Failed
		counts.Timeouts += c.Timeouts
		counts.Refused += c.Refused
	}
	slices.Sort(lat)
	row.N, row.Elapsed = o.Guarantees, tDone.Sub(t0)
	if fail {
		row.N, row.Elapsed = healthyN, lastHealthy.Sub(t0)
	}
	row.P50, row.P99, row.Max = Percentile(lat, 50), Percentile(lat, 99), Percentile(lat, 100)
	row.Rate = float64(row.N) / row.Elapsed.Seconds()
	if row.Ceiling > 0 {
		row.Ratio = row.Rate / row.Ceiling
	}
	if fail {
		row.note("measured: the %d restores of the %d healthy institutions, kaibiaotime → the last of their acknowledgements %s; p50/p99 are each one's time from kaibiaotime to its acknowledgement",
			healthyN, len(env.Insts)-1, fmtDur(row.Elapsed))
		row.note("the failing institution: its last acknowledgement %s after kaibiaotime (its retries follow the backoff); all %d recorded restored after %s",
			fmtDur(lastFailing.Sub(t0)), o.Guarantees, fmtDur(tDone.Sub(t0)))
	} else {
		row.note("kaibiaotime → last acknowledgement %s, → all recorded restored %s; p50/p99 are each restore's time from kaibiaotime to its acknowledgement",
			fmtDur(tAck.Sub(t0)), fmtDur(row.Elapsed))
	}
	row.note("%d calls for %d restores (%d failures injected, %d of them timeouts of %s; %d refused); outbox workers %d (at most %d in flight to one institution), idle poll %s",
		counts.Calls, o.Guarantees, counts.Failed, counts.Timeouts, S3CallTimeout, counts.Refused, workers, perPeer, S3PollInterval)
	row.check("every restore acknowledged", counts.Distinct == o.Guarantees, "%d of %d applynos", counts.Distinct, o.Guarantees)
	row.check("none acknowledged twice", counts.Twice == 0 && counts.Acks == counts.Distinct, "%d applynos twice, %d acknowledgements for %d applynos",
		counts.Twice, counts.Acks, counts.Distinct)
	backlog, err := env.OutboxBacklog(ctx)
	if err != nil {
		return row, err
	}
	row.check("outbox drained", len(backlog) == 0, "%s", fmtBacklog(backlog))
	// The target scales with the number of restores (--guarantees).
	limit := S3TargetDur * time.Duration(max(1, o.Guarantees/S3Target))
	minRate := float64(S3Target) / S3TargetDur.Seconds()
	if fail {
		row.Target = fmt.Sprintf("healthy <%s, all once", limit)
		row.Pass = row.checksOK() && healthyN == o.Guarantees-env.Insts[0].Counts().Distinct && row.Elapsed < limit
	} else {
		row.Target = fmt.Sprintf("≥%.0f/s (%d in <%s)", minRate, S3Target, S3TargetDur)
		row.Pass = row.checksOK() && row.Rate >= minRate
	}
	return row, nil
}

func fmtBacklog(b map[string]int) string {
	if len(b) == 0 {
		return "no message left"
	}
	var parts []string
	for k, v := range b {
		parts = append(parts, fmt.Sprintf("%d %s", v, k))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// restoreCeiling posts a signed baohanrestore for every app to fresh
// fake institutions from clients goroutines.
func restoreCeiling(ctx context.Context, apps []SeedApp, insts, clients int) (*Stats, error) {
	fakes := make([]*harness.FakePeer, insts)
	for i := range fakes {
		f, err := harness.StartFakePeer(fmt.Sprintf("ceiling%d", i+1), fmt.Sprintf("ceiling-%d", i+1), randomHex(16))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		fakes[i] = f
	}
	key := base64.StdEncoding.EncodeToString(gm.NewKey())
	now := time.Now()
	bodies := make([][]byte, len(apps))
	for i, a := range apps {
		f := fakes[a.Inst%insts]
		bodies[i] = SignedBody(map[string]string{"platformcode": "BENCH", "applyno": a.ApplyNo, "baohanno": a.BaohanNo,
			"kaibiaotime": protocol.FormatTime(now), "key": key}, f.AppKey, f.Secret, now)
	}
	p := NewPoster(clients)
	defer p.Close()
	return Load{Clients: clients, Count: len(apps)}.Run(ctx, func(ctx context.Context, _, i int) error {
		_, err := p.Post(ctx, fakes[apps[i].Inst%insts].URL()+"/"+string(protocol.BaohanRestore), bodies[i])
		return err
	})
}
