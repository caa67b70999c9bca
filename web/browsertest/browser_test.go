package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/baohan-dev/baohan/platform"
)

// chromium finds Debian's chromium (or another Chrome). Without one the
// test skips, unless CI=true: CI installs it (.ci/needs-chromium).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true but no chromium on PATH: .ci/run installs it when .ci/needs-chromium exists")
	}
	t.Skip("no chromium on PATH (apt-get install chromium fonts-noto-cjk)")
	return ""
}

// browser starts headless Chromium with a fresh profile.
func browser(t *testing.T) context.Context {
	path := chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("lang", "zh-CN"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancel3)
	return ctx
}

// shots saves screenshots when BAOHAN_SCREENSHOTS names a directory.
type shots struct {
	t   *testing.T
	ctx context.Context
	dir string
}

func (s shots) take(name string) {
	s.t.Helper()
	if s.dir == "" {
		return
	}
	b, err := chromedp.Run(s.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		s.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, name+".png"), b, 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// screenshotDir is BAOHAN_SCREENSHOTS, a relative path taken from the
// module's root (BAOHAN_SCREENSHOTS=docs/images writes the README's).
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("BAOHAN_SCREENSHOTS")
	if dir == "" || filepath.IsAbs(dir) {
		return dir
	}
	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			return filepath.Join(root, dir)
		}
		up := filepath.Dir(root)
		if up == root {
			t.Fatal("BAOHAN_SCREENSHOTS is relative but no go.mod is above the test")
		}
		root = up
	}
}

// phone takes a screenshot at a phone's size, then goes back to the
// laptop's.
func (s shots) phone(name string) {
	s.t.Helper()
	if s.dir == "" {
		return
	}
	if err := chromedp.Do(s.ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Reload()); err != nil {
		s.t.Fatal(err)
	}
	s.take(name)
	if err := chromedp.Do(s.ctx, chromedp.EmulateViewport(1280, 900), chromedp.Reload()); err != nil {
		s.t.Fatal(err)
	}
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		t.Fatalf("%s: %v\nat %s\n%s", what, err, loc, body)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// staffLogin logs a staff member in on a console.
func staffLogin(t *testing.T, ctx context.Context, base, user, pass string) {
	t.Helper()
	do(t, ctx, "staff login "+user+" at "+base,
		chromedp.Navigate(base+"/console/login"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), user),
		chromedp.SendKeys(chromedp.ID("password"), pass),
		chromedp.Click(chromedp.ID("login-btn")),
		chromedp.WaitVisible(chromedp.CSS("nav.tabs")),
	)
}

// TestBidderFlow clicks through the whole flow in Chromium: the bidder
// logs in on the platform with the CA agent, applies, is redirected to the
// institution, opens the envelope and signs through the agent, and pays;
// staff approve; the guarantee appears on the platform with its seals
// valid, and the message logs show every exchange.
func TestBidderFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test (-short)")
	}
	ctx := browser(t)
	st := start(t)
	sh := shots{t: t, ctx: ctx, dir: screenshotDir(t)}
	if sh.dir != "" {
		if err := os.MkdirAll(sh.dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	plat, inst := st.PlatformURL(), st.InstitutionURL()

	// 1. The bidder logs in with the CA certificate.
	do(t, ctx, "login page",
		chromedp.Navigate(plat+"/console/login"),
		chromedp.WaitVisible(chromedp.CSS(".agent-status.ok")),
		chromedp.WaitEnabled(chromedp.ID("ca-login-btn")),
	)
	if s := text(t, ctx, ".agent-status"); !strings.Contains(s, BidderName) {
		t.Fatalf("agent status %q does not name the bidder", s)
	}
	sh.take("platform-login")
	do(t, ctx, "CA login", chromedp.Click(chromedp.ID("ca-login-btn")), chromedp.WaitVisible(chromedp.ID("my-applications")))
	if s := text(t, ctx, "header .who"); !strings.Contains(s, BidderName) {
		t.Fatalf("logged in as %q", s)
	}

	// 2. Choose a section and a product, apply, land at the institution.
	do(t, ctx, "apply page", chromedp.Click(chromedp.CSS(".apply-link")), chromedp.WaitVisible(chromedp.ID("apply-form")))
	sh.take("platform-apply")
	do(t, ctx, "apply and follow the redirect",
		chromedp.Click(chromedp.ID("apply-btn")),
		chromedp.WaitVisible(chromedp.ID("bidder-flow")),
		chromedp.WaitVisible(chromedp.CSS(".agent-status.ok")),
	)
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if !strings.HasPrefix(loc, inst+"/bidder/") {
		t.Fatalf("after applying the bidder is at %s, not at the institution", loc)
	}
	apps, err := st.Plat.Applications(context.Background(), platform.ApplicationFilter{BidderCode: BidderCode})
	if err != nil || len(apps) != 1 {
		t.Fatalf("platform applications: %v %v", apps, err)
	}
	applyNo := apps[0].ApplyNo
	sh.take("institution-bidder-open")

	// 3. Open the envelope, sign the agreement, pay: each through the CA agent.
	do(t, ctx, "open the envelope", chromedp.Click(chromedp.ID("open-btn")), chromedp.WaitVisible(chromedp.ID("sign-btn")))
	if s := text(t, ctx, "#biddername"); s != BidderName {
		t.Fatalf("decrypted bidder name %q", s)
	}
	sh.take("institution-bidder-sign")
	do(t, ctx, "sign the agreement", chromedp.Click(chromedp.ID("sign-btn")), chromedp.WaitVisible(chromedp.ID("pay-btn")))
	premium := text(t, ctx, "#premium")
	if premium != "4000.00" { // 800000.00 × 0.005
		t.Errorf("premium %q, want 4000.00", premium)
	}
	do(t, ctx, "pay", chromedp.Click(chromedp.ID("pay-btn")), chromedp.WaitVisible(chromedp.CSS(`#bidder-state[data-state="reviewing"]`)))
	sh.take("institution-bidder-wait")
	sh.phone("phone-institution-bidder")

	// 4. The institution's operator approves from the underwriting queue.
	staffLogin(t, ctx, inst, "operator", account(st, "institution", "operator"))
	sh.take("institution-dashboard")
	do(t, ctx, "underwriting queue",
		chromedp.Navigate(inst+"/console/underwriting"),
		chromedp.WaitVisible(chromedp.CSS(`section.review[data-applyno="`+applyNo+`"]`)),
	)
	sh.take("institution-underwriting")
	do(t, ctx, "approve", chromedp.Click(chromedp.CSS(".approve-btn")), chromedp.WaitVisible(chromedp.CSS(".flash.ok")))
	if s := text(t, ctx, ".flash"); !strings.Contains(s, "审核通过") {
		t.Fatalf("after approving: %q", s)
	}

	// 5. The guarantee travels to the platform (notice, public key, chunks,
	// completion) through the outboxes.
	deadline := time.Now().Add(60 * time.Second)
	for {
		a, err := st.Plat.Application(context.Background(), applyNo)
		if err != nil {
			t.Fatal(err)
		}
		if a.State == platform.CipherReceived {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ciphertext guarantee did not reach the platform: state %s, %s", a.State, a.LastMessage)
		}
		time.Sleep(200 * time.Millisecond)
	}
	do(t, ctx, "institution application page", chromedp.Navigate(inst+"/console/applications"), chromedp.Click(chromedp.CSS(`a[href*="/console/applications/"] code`)),
		chromedp.WaitVisible(chromedp.ID("app-state")))
	sh.take("institution-application")
	do(t, ctx, "institution guarantees", chromedp.Navigate(inst+"/console/guarantees"), chromedp.WaitVisible(chromedp.CSS("table")))
	do(t, ctx, "institution guarantee view", chromedp.Click(chromedp.CSS(`a[href$="/guarantee/1/view"]`)), chromedp.WaitVisible(chromedp.ID("seal-report")))
	sh.take("institution-guarantee")
	do(t, ctx, "institution messages", chromedp.Navigate(inst+"/console/messages"), chromedp.WaitVisible(chromedp.ID("messages")))
	sh.take("institution-messages")

	// The bidder sees the guarantee on the platform, seals valid.
	do(t, ctx, "bidder's page at the institution", chromedp.Navigate(loc), chromedp.WaitVisible(chromedp.ID("baohanno")))
	sh.take("institution-bidder-done")
	do(t, ctx, "bidder's application on the platform",
		chromedp.Navigate(plat+"/console/bidder/applications/"+applyNo),
		chromedp.WaitVisible(chromedp.CSS(".badge.good")),
	)
	if s := text(t, ctx, "#app-state"); s != platform.CipherReceived.Label() {
		t.Errorf("bidder sees state %q", s)
	}
	sh.take("platform-bidder-application")
	do(t, ctx, "bidder home", chromedp.Navigate(plat+"/console/bidder"), chromedp.WaitVisible(chromedp.ID("my-applications")))
	sh.take("platform-bidder-home")
	sh.phone("phone-platform-bidder")

	// 6. Platform staff: the guarantee with its seals checked, the message log.
	do(t, ctx, "bidder logs out", chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("username")))
	staffLogin(t, ctx, plat, "operator", account(st, "platform", "operator"))
	sh.take("platform-dashboard")
	do(t, ctx, "platform guarantees", chromedp.Navigate(plat+"/console/guarantees"), chromedp.WaitVisible(chromedp.ID("guarantees")))
	do(t, ctx, "platform guarantee view", chromedp.Click(chromedp.CSS(`#guarantees a.btn`)), chromedp.WaitVisible(chromedp.ID("seal-report")))
	if s := text(t, ctx, "#seal-report"); !strings.Contains(s, "全部") || !strings.Contains(s, "有效") || strings.Contains(s, "未通过") {
		t.Fatalf("seal report on the platform:\n%s", s)
	}
	if _, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("seals-valid"))); err != nil {
		t.Fatal("no #seals-valid on the platform's guarantee page")
	}
	sh.take("platform-guarantee")

	do(t, ctx, "platform application", chromedp.Navigate(plat+"/console/applications/"+applyNo), chromedp.WaitVisible(chromedp.ID("app-state")))
	sh.take("platform-application")
	do(t, ctx, "platform sections", chromedp.Navigate(plat+"/console/sections"), chromedp.WaitVisible(chromedp.ID("sections")))
	sh.take("platform-sections")

	do(t, ctx, "platform message log", chromedp.Navigate(plat+"/console/messages?applyno="+applyNo), chromedp.WaitVisible(chromedp.ID("messages")))
	log := text(t, ctx, "#messages")
	for _, i := range []string{"baohanapply", "baohannotice", "downloadpublickey", "uploadbaohanfile", "baohanfilecompletenotice"} {
		if !strings.Contains(log, i) {
			t.Errorf("the platform's message log for %s lacks %s:\n%s", applyNo, i, log)
		}
	}
	if strings.Contains(log, "未通过") {
		t.Errorf("a signature failed in the message log:\n%s", log)
	}
	sh.take("platform-messages")
	do(t, ctx, "message detail", chromedp.Click(chromedp.CSS(`#messages td a[href*="/console/messages/"]`)), chromedp.WaitVisible(chromedp.ID("raw-request")))
	if s := text(t, ctx, "#sign-result"); !strings.Contains(s, "通过") {
		t.Errorf("sign result %q", s)
	}
	sh.take("platform-message")

	// The institution's log shows the same exchanges from its side.
	msgs, err := st.Inst.Messages(context.Background(), storeFilter(applyNo))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		seen[m.Direction+" "+m.Interface] = true
	}
	// The browser's own requests (favicon) stay out of the protocol log.
	all, _ := st.Inst.Messages(context.Background(), storeFilter(""))
	for _, m := range all {
		if m.ApplyNo == "" {
			t.Errorf("institution message log has a stray exchange: %s %s HTTP %d", m.Direction, m.Interface, m.HTTPStatus)
		}
	}
	for _, want := range []string{"in baohanapply", "out baohannotice", "out downloadpublickey", "out uploadbaohanfile", "out baohanfilecompletenotice"} {
		if !seen[want] {
			t.Errorf("institution message log lacks %q (has %v)", want, seen)
		}
	}
	fmt.Fprintln(os.Stderr, "browser flow done for", applyNo)
}
