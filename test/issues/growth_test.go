package issues

import (
	"context"
	"fmt"
	"html"
	"log/slog"
	"regexp"
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
	st := consoleViewer(t, env)
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

// TestConsoleListsPage (issue 17, growth): the platform console's 标段
// page showed the first 500 sections by opening and 投保申请 the newest
// 200 applications, and nothing after: with years of them the rest could
// not be reached but by a filter. Both now show a page and a link to the
// next (keyset: after the last row shown), which together reach every
// row once, filters kept.
func TestConsoleListsPage(t *testing.T) {
	ctx := context.Background()
	env, err := bench.StartPlatform(ctx, bench.PlatformOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	const nSections, nApps = 130, 450
	kbt := env.Clock.Now().Add(24 * time.Hour)
	var secs []*platform.Section
	for i := range nSections {
		// Openings in pairs at the same time: the pages break ties by number.
		sec, err := env.Section(ctx, fmt.Sprintf("PAGE-%03d", i), kbt.Add(time.Duration(i/2)*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		secs = append(secs, sec)
	}
	for i, sec := range secs[:2] {
		apps := make([]bench.SeedApp, nApps/2)
		for j := range apps {
			apps[j] = bench.SeedApp{ApplyNo: platform.NewApplyNo(env.Clock.Now()), State: platform.Applied}
		}
		if err := env.Seed(ctx, sec, apps, false); err != nil {
			t.Fatalf("seeding section %d: %v", i, err)
		}
	}
	st := consoleViewer(t, env)
	next := regexp.MustCompile(`<a class="btn" href="([^"]+)">(?:更晚开标的标段|更早的申请) →</a>`)
	// walk follows the pages from path and returns the rows' keys (the
	// first group of row) in order, and the number of pages.
	walk := func(path string, row *regexp.Regexp) (keys []string, pages int) {
		t.Helper()
		for path != "" {
			code, body := st.get(path)
			if code != 200 {
				t.Fatalf("GET %s: %d", path, code)
			}
			pages++
			for _, m := range row.FindAllStringSubmatch(body, -1) {
				keys = append(keys, m[1])
			}
			path = ""
			if m := next.FindStringSubmatch(body); m != nil {
				path = html.UnescapeString(m[1])
			}
		}
		return keys, pages
	}
	distinct := func(what string, keys []string, want int) {
		t.Helper()
		seen := map[string]bool{}
		for _, k := range keys {
			if seen[k] {
				t.Errorf("%s: %s on two pages", what, k)
			}
			seen[k] = true
		}
		if len(seen) != want {
			t.Errorf("%s: the pages show %d, want %d", what, len(seen), want)
		}
	}

	keys, pages := walk("/console/sections", regexp.MustCompile(`/console/applications\?section=(PAGE-\d+)`))
	distinct("sections", keys, nSections)
	if pages != 2 {
		t.Errorf("sections: %d pages, want 2", pages)
	}
	for i := 1; i < len(keys); i++ {
		if keys[i] < keys[i-1] {
			t.Errorf("sections out of order: %s after %s", keys[i], keys[i-1])
		}
	}
	keys, _ = walk("/console/sections?q=PAGE-1", regexp.MustCompile(`/console/applications\?section=(PAGE-\d+)`))
	distinct("sections PAGE-1*", keys, 30)

	appRow := regexp.MustCompile(`<a href="/console/applications/(BH[0-9A-Z]+)">`)
	keys, pages = walk("/console/applications", appRow)
	distinct("applications", keys, nApps)
	if pages != 3 {
		t.Errorf("applications: %d pages, want 3", pages)
	}
	all, err := env.Svc.Applications(ctx, platform.ApplicationFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range all {
		if i < len(keys) && keys[i] != a.ApplyNo {
			t.Fatalf("application %d on the pages is %s, want %s (newest first)", i, keys[i], a.ApplyNo)
		}
	}
	keys, _ = walk("/console/applications?section="+secs[1].No, appRow)
	distinct("applications of one section", keys, nApps/2)
}

// consoleViewer serves the platform console of env on 127.0.0.1 for the
// test and signs a viewer in.
func consoleViewer(t *testing.T, env *bench.PlatformEnv) *staff {
	t.Helper()
	pc, err := web.Platform(context.Background(), env.Svc, web.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := bench.ServeLocal(pc.Handler(env.Svc.Handler()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return staffLogin(t, pc.Auth(), srv.URL, "viewer1", web.Viewer)
}
