package issues

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/bench"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/web"
)

// TestOverviewCountsEveryApplication (issue 17, growth): the platform
// console's 概览 counted the states of the newest 1,000 applications and
// showed that as 全部 (all); with more it was wrong. It now counts per
// state from the state index (bounded at 10,000, shown as "10000+").
func TestOverviewCountsEveryApplication(t *testing.T) {
	ctx := context.Background()
	env, err := bench.StartPlatform(ctx, bench.PlatformOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	sec, err := env.Section(ctx, "GROW-1", env.Clock.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	const n = 1200
	apps := make([]bench.SeedApp, n)
	for i := range apps {
		apps[i] = bench.SeedApp{ApplyNo: platform.NewApplyNo(env.Clock.Now()), State: platform.Applied}
	}
	if err := env.Seed(ctx, sec, apps, false); err != nil {
		t.Fatal(err)
	}
	pc, err := web.Platform(ctx, env.Svc, web.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := bench.ServeLocal(pc.Handler(env.Svc.Handler()))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	st := staffLogin(t, pc.Auth(), srv.URL, "viewer1", web.Viewer)
	code, body := st.get("/console/")
	if code != 200 {
		t.Fatalf("overview: %d", code)
	}
	for _, want := range []string{"投保申请</span><b>1200</b>", "已申请 <b>1200</b>"} {
		if !strings.Contains(body, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
}
