package browsertest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/guarantee"
)

// checkVerification (from TestBidderFlow, with the platform's operator
// logged in and the guarantee issued): the section's 开标验真 on the
// platform shows the guarantee verified by its institution; the QR code
// of the guarantee the platform received, decoded, opens the
// institution's public page, which shows 有效 and fits a laptop and a
// phone; a wrong code is refused; a tampered file is refused naming the
// entry.
func checkVerification(t *testing.T, ctx context.Context, sh shots, st *harness.System, applyNo string) {
	plat, inst := st.PlatformURL(), st.InstitutionURL()
	do(t, ctx, "开标验真", chromedp.Navigate(plat+"/console/sections/"+SectionNo+"/verify"), chromedp.WaitVisible(chromedp.ID("section-verify")))
	row := text(t, ctx, `#section-verify tr[data-applyno="`+applyNo+`"]`)
	if !strings.Contains(row, "有效") || !strings.Contains(row, "通过") || strings.Contains(row, "未通过") {
		t.Errorf("开标验真 row of %s: %q", applyNo, row)
	}
	sh.take("platform-section-verify")
	// The check is kept: the guarantee's page shows it.
	do(t, ctx, "platform guarantee page", chromedp.Navigate(plat+"/console/applications/"+applyNo+"/guarantee/1"), chromedp.WaitVisible(chromedp.ID("verify-check")))
	if s := text(t, ctx, "#verify-check"); !strings.Contains(s, "通过") || strings.Contains(s, "未通过") || !strings.Contains(s, "有效") {
		t.Errorf("the guarantee's verification on the platform: %q", s)
	}

	doc, _, err := st.Plat.ReadGuarantee(context.Background(), applyNo, 1)
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := ofd.Open(doc)
	if err != nil {
		t.Fatal(err)
	}
	qr, err := guarantee.ReadQR(pkg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(qr, inst+"/verify?baohanno=") || !strings.Contains(qr, "&code=") {
		t.Fatalf("QR code %q does not lead to the institution's verification page", qr)
	}

	// The institution's staff see the code on the application's page.
	ia, err := st.Inst.ApplicationByApplyNo(context.Background(), harness.PlatformName, applyNo)
	if err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "institution application page", chromedp.Navigate(inst+"/console/applications/"+ia.ID), chromedp.WaitVisible(chromedp.ID("verify-code")))
	if code := text(t, ctx, "#verify-code"); !strings.HasSuffix(qr, "&code="+code) {
		t.Errorf("the console shows the code %q, the QR code carries %q", code, qr)
	}

	// fits: the page is no wider than the viewport.
	fits := func(what string) {
		t.Helper()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`))
		if err != nil || !ok {
			w, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
			t.Errorf("%s: the page is wider (%d px) than the viewport (%v)", what, w, err)
		}
	}
	for _, vp := range []struct {
		name          string
		width, height int64
		scale         float64
	}{{"institution-verify", 1280, 900, 1}, {"phone-institution-verify", 390, 844, 2}} {
		do(t, ctx, "verification page "+vp.name,
			chromedp.EmulateViewport(vp.width, vp.height, chromedp.EmulateScale(vp.scale)),
			chromedp.Navigate(qr), chromedp.WaitVisible(chromedp.ID("v-status")))
		if s := text(t, ctx, "#v-status"); s != "有效" {
			t.Errorf("%s: status %q, want 有效", vp.name, s)
		}
		if s := text(t, ctx, "#v-bidder"); s != BidderName {
			t.Errorf("%s: bidder %q", vp.name, s)
		}
		if s := text(t, ctx, "#verify-result"); !strings.Contains(s, "开标前保密") || strings.Contains(s, SectionName) {
			t.Errorf("%s: before the opening the project must stay secret:\n%s", vp.name, s)
		}
		fits(vp.name)
		sh.take(vp.name)
	}
	do(t, ctx, "laptop again", chromedp.EmulateViewport(1280, 900))

	// A wrong code.
	wrong := qr[:strings.LastIndex(qr, "=")+1] + "AAAAAAAA"
	do(t, ctx, "wrong code", chromedp.Navigate(wrong), chromedp.WaitVisible(chromedp.ID("verify-error")))
	if s := text(t, ctx, "#verify-error"); !strings.Contains(s, "保函编号或验真码不正确") {
		t.Errorf("wrong code: %q", s)
	}

	// A tampered copy, uploaded through the form.
	const page = "Doc_0/Pages/Page_0/Content.xml"
	content, err := pkg.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if err := pkg.Replace(page, bytes.Replace(content, []byte("Size="), []byte("Size= "), 1), time.Now()); err != nil {
		t.Fatal(err)
	}
	tampered, err := pkg.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "tampered.ofd")
	if err := os.WriteFile(file, tampered, 0o600); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "upload a tampered guarantee",
		chromedp.Navigate(inst+"/verify"), chromedp.WaitVisible(chromedp.ID("file-form")),
		chromedp.SetUploadFiles(chromedp.CSS(`#file-form input[type=file]`), []string{file}),
		chromedp.Click(chromedp.ID("file-btn")), chromedp.WaitVisible(chromedp.ID("f-verdict")))
	if s := text(t, ctx, "#f-verdict"); s != "未通过" {
		t.Errorf("tampered file: verdict %q", s)
	}
	if s := text(t, ctx, "#f-failure"); !strings.Contains(s, page) {
		t.Errorf("tampered file: the failure %q does not name %s", s, page)
	}
	sh.take("institution-verify-tampered")
}
