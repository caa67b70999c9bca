package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/ses"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
)

// RunOptions tune Run.
type RunOptions struct {
	// Progress receives the step counter: a redrawn status line with a
	// spinner when TTY, one line per step otherwise (nil: none).
	Progress io.Writer
	TTY      bool
	// Exchanges receives one line per exchange between the services
	// (nil: none).
	Exchanges io.Writer
	// OpeningDelay is how far ahead of the start the main section's bid
	// opening is set (default 10s): the platform's scheduler sends
	// baohanrestore when it comes.
	OpeningDelay time.Duration
	// StepTimeout bounds each wait (default 30s).
	StepTimeout time.Duration
}

// StepResult is the outcome of one step.
type StepResult struct {
	Scenario string  `json:"scenario"`
	Step     string  `json:"step"`
	OK       bool    `json:"ok"`
	Detail   string  `json:"detail,omitempty"`
	Error    string  `json:"error,omitempty"`
	Millis   float64 `json:"ms"`
}

// ScenarioResult sums up one scenario.
type ScenarioResult struct {
	Name    string   `json:"name"`
	Steps   int      `json:"steps"`
	Passed  int      `json:"passed"`
	OK      bool     `json:"ok"`
	ApplyNo []string `json:"applyno,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// FileResult is an OFD the demo wrote and verified.
type FileResult struct {
	Path   string `json:"path"`
	What   string `json:"what"`
	Bytes  int    `json:"bytes"`
	Seals  int    `json:"seals"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Result is what Run found.
type Result struct {
	Steps      []StepResult         `json:"steps"`
	Scenarios  []ScenarioResult     `json:"scenarios"`
	Files      []FileResult         `json:"files"`
	Exchanges  []Exchange           `json:"exchanges"`
	Interfaces []protocol.Interface `json:"interfaces"`
	OK         bool                 `json:"ok"`
	Seconds    float64              `json:"seconds"`
}

// step is one step of a scenario.
type step struct {
	scenario string
	name     string
	run      func(ctx context.Context) (detail string, err error)
}

// runner holds the state of one run.
type runner struct {
	sys   *System
	o     RunOptions
	start time.Time
	tag   string // makes section numbers unique per run

	mainSection, otherSection string
	opening                   time.Time
	apps                      map[string]string // role → applyno
	redirect                  map[string]string // applyno → redirecturl
	bidders                   map[string]*harness.Bidder

	files []FileResult

	mu     sync.Mutex // guards the progress line
	status string
	n, of  int
}

// Run drives the demo's scenarios on a started system. It returns the
// result; err is for failures that stop the run before any scenario.
func Run(ctx context.Context, sys *System, o RunOptions) (*Result, error) {
	if o.OpeningDelay <= 0 {
		o.OpeningDelay = 10 * time.Second
	}
	if o.StepTimeout <= 0 {
		o.StepTimeout = 30 * time.Second
	}
	r := &runner{sys: sys, o: o, start: time.Now(), apps: map[string]string{}, redirect: map[string]string{},
		bidders: map[string]*harness.Bidder{}, tag: time.Now().In(protocol.CST).Format("0102-150405")}
	if o.Exchanges != nil {
		sys.Tap.Subscribe(r.printExchange)
	}
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	steps := r.plan()
	r.of = len(steps)
	stopSpin := r.spin()
	res := &Result{}
	failed := map[string]bool{}
	for k, s := range steps {
		r.n = k + 1
		r.setStatus(shortName(s.scenario) + " › " + s.name)
		sr := StepResult{Scenario: s.scenario, Step: s.name}
		t0 := time.Now()
		if failed[s.scenario] {
			sr.Error = "not run: an earlier step of the scenario failed"
		} else if ctx.Err() != nil {
			sr.Error = "not run: " + ctx.Err().Error()
		} else {
			sctx, cancel := context.WithTimeout(ctx, o.StepTimeout)
			detail, err := s.run(sctx)
			cancel()
			sr.Detail = detail
			if err != nil {
				sr.Error = err.Error()
				failed[s.scenario] = true
			} else {
				sr.OK = true
			}
		}
		sr.Millis = float64(time.Since(t0).Microseconds()) / 1000
		res.Steps = append(res.Steps, sr)
		r.stepDone(sr)
	}
	stopSpin()
	res.Exchanges = sys.Tap.Exchanges()
	res.Interfaces = sys.Tap.Used()
	res.Files = r.files
	res.Scenarios = summarize(res.Steps, r)
	res.OK = len(res.Interfaces) == len(protocol.All)
	for _, s := range res.Scenarios {
		res.OK = res.OK && s.OK
	}
	for _, f := range res.Files {
		res.OK = res.OK && f.OK
	}
	res.Seconds = time.Since(r.start).Seconds()
	return res, nil
}

// Scenario names, in the order of the summary.
const (
	scMain    = "1 保函全流程 (apply → plaintext guarantee → invoice)"
	scReject  = "2 核保拒绝 (blocked credit code)"
	scQuit    = "3 开标前退保 (quitapply → quitnotice)"
	scGiveup  = "4 放弃申请 (giveupapply; giveupnotice)"
	scCancel  = "5 注销保函 (canclenotice)"
	scClaim   = "6 理赔 (claimsnotice → 已赔付 → 已追偿)"
	mainShort = "保函全流程"
)

var scenarioOrder = []string{scMain, scReject, scQuit, scGiveup, scCancel, scClaim, scVerify}

// setup registers the sections and the bidders on the platform.
func (r *runner) setup(ctx context.Context) error {
	p := r.sys.Platform
	r.opening = time.Now().Add(r.o.OpeningDelay).Truncate(time.Second).Add(time.Second)
	r.mainSection = "BD-" + r.tag + "-01"
	r.otherSection = "BD-" + r.tag + "-02"
	sections := []platform.SectionInput{
		{No: r.mainSection, Name: "城南污水处理厂提标改造工程施工", Tenderer: "某市城市建设投资集团有限公司", TendererCode: "91330100MA2CTY001W",
			BondAmount: decimal.RequireFromString("800000.00"), KaibiaoTime: r.opening},
		{No: r.otherSection, Name: "滨江学校新建工程监理", Tenderer: "某市教育局", TendererCode: "11330100MB1EDU001B",
			BondAmount: decimal.RequireFromString("50000.00"), KaibiaoTime: time.Now().Add(72 * time.Hour).Truncate(time.Hour)},
	}
	for _, in := range sections {
		if _, err := p.RegisterSection(ctx, in); err != nil {
			return fmt.Errorf("registering section %s: %w", in.No, err)
		}
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	for _, b := range Bidders {
		id, err := r.sys.bidder(b)
		if err != nil {
			return err
		}
		if _, err := p.RegisterBidder(ctx, platform.BidderInput{Name: b.Name, CreditCode: b.Code, CertPEM: string(id.CertPEM)}); err != nil {
			return fmt.Errorf("registering bidder %s: %w", b.Name, err)
		}
		bc := &harness.Bidder{ID: id, HTTP: hc}
		if b == MainBidder && r.sys.AgentURL != "" {
			bc.AgentURL, bc.Origin = r.sys.AgentURL, r.sys.InstitutionURL
		}
		r.bidders[b.File] = bc
	}
	return nil
}

// plan lists the steps. The main scenario is cut in two: its guarantee
// waits for the bid opening while the other scenarios run.
func (r *runner) plan() []step {
	var out []step
	add := func(sc, name string, fn func(ctx context.Context) (string, error)) {
		out = append(out, step{scenario: sc, name: name, run: fn})
	}
	// 1, until the ciphertext guarantee.
	add(scMain, "the bidder applies on the platform: baohanapply → redirecturl", r.apply("main", MainBidder, r.mainSection))
	agent := ""
	if r.sys.AgentURL != "" {
		agent = " through the CA agent"
	}
	add(scMain, "the bidder opens the digital envelope with its CA key"+agent, r.open("main", MainBidder))
	add(scMain, "the bidder signs the guarantee agreement (OFD, GB/T 38540)"+agent, r.signAgreement("main", MainBidder))
	add(scMain, "the bidder pays; automatic underwriting approves", r.pay("main", MainBidder, "approved"))
	add(scMain, "baohannotice (审核通过) reaches the platform", r.waitState("main", platform.Approved, platform.CipherReceived))
	add(scMain, "sealed ciphertext guarantee: downloadpublickey, uploadbaohanfile ×n, baohanfilecompletenotice", r.waitState("main", platform.CipherReceived))
	// 2.
	add(scReject, "a bidder with a blocked credit code applies", r.apply("reject", Blocked, r.otherSection))
	add(scReject, "the bidder opens, signs and pays", r.flow("reject", Blocked, "rejected"))
	add(scReject, "baohannotice (审核未通过) reaches the platform", r.waitState("reject", platform.Rejected))
	// 3.
	add(scQuit, "a bidder applies and gets a guarantee", r.issued("quit", QuitBidder))
	add(scVerify, "scan the QR code of the guarantee, open its URL: 有效", r.scanAndVerify("quit", institution.VerifyValid))
	add(scQuit, "the bidder withdraws before the bid opening: quitapply → quitnotice", r.act("quit", platform.Quit, func(ctx context.Context, no string) error {
		_, err := r.sys.Platform.Quit(ctx, no, "投标人撤回投标文件")
		return err
	}))
	// 4.
	add(scGiveup, "a bidder applies", r.apply("giveup-platform", GiveupPlat, r.otherSection))
	add(scGiveup, "it gives up at the platform before any notice: giveupapply", r.act("giveup-platform", platform.GivenUp, func(ctx context.Context, no string) error {
		_, err := r.sys.Platform.GiveUp(ctx, no, "投标人放弃投标")
		return err
	}))
	add(scGiveup, "another bidder applies", r.apply("giveup-institution", GiveupInst, r.otherSection))
	add(scGiveup, "it gives up at the institution: giveupnotice", r.act("giveup-institution", platform.GivenUp, func(ctx context.Context, no string) error {
		return r.bidders[GiveupInst.File].GiveUp(ctx, r.redirect[no])
	}))
	// 5.
	add(scCancel, "a bidder applies and gets a guarantee", r.issued("cancel", CancelBidder))
	add(scCancel, "the bid agent cancels the guarantee: canclenotice", r.act("cancel", platform.Cancelled, func(ctx context.Context, no string) error {
		_, err := r.sys.Platform.Cancel(ctx, no, "招标项目终止")
		return err
	}))
	// 7, after the withdrawal.
	add(scVerify, "after the withdrawal the same QR code says 已退保", r.scanAndVerify("quit", institution.VerifyQuit))
	add(scVerify, "a tampered copy of the guarantee is refused, naming the entry; the genuine one is recognised", r.tamperedRefused("quit"))
	// 1, from the bid opening.
	add(scMain, "bid opening at "+protocol.FormatTime(r.opening)+": the scheduler sends baohanrestore with the project key", r.waitOpening("main"))
	add(scMain, "sealed plaintext guarantee uploaded in chunks and completed", r.waitState("main", platform.PlainReceived))
	add(scMain, "both guarantees written to the data directory; seals verified against the test CA", r.verifyFiles("main"))
	add(scMain, "the bidder asks for an invoice: invoiceapply → invoicenotice", r.act("main", platform.Invoiced, func(ctx context.Context, no string) error {
		_, err := r.sys.Platform.RequestInvoice(ctx, no, platform.InvoiceInput{Type: protocol.InvoiceOrdinary, Email: "finance@bidder.example.cn"})
		return err
	}))
	// 6.
	add(scClaim, "the bid agent claims on the guarantee with two files: claimsnotice", r.act("main", platform.Claimed, func(ctx context.Context, no string) error {
		_, err := r.sys.Platform.Claim(ctx, no, platform.ClaimInput{PayerAccount: "6222021001000000001", PayerAmount: decimal.RequireFromString("800000.00"),
			ApplyUserName: "某招标代理有限公司", ApplyUserPhone: "0571-88880000", Reason: "中标后无正当理由拒签合同",
			FileList: []string{"https://ggzy.example.cn/claims/0137/notice.pdf", "https://ggzy.example.cn/claims/0137/evidence.pdf"}})
		return err
	}))
	add(scClaim, "the institution pays the claim and records it with its transfer vouchers: claimsresultnotice", r.act("main", platform.Compensated, func(ctx context.Context, no string) error {
		id, err := r.claimID(ctx, no)
		if err != nil {
			return err
		}
		_, err = r.sys.Institution.RecordClaimOutcome(ctx, id, institution.ClaimOutcomeInput{Status: institution.ClaimPaid,
			Amount: decimal.RequireFromString("800000.00"), Way: protocol.CompensateByInstitution,
			Vouchers: []string{"https://fi.example.cn/vouchers/0137/transfer.pdf"}, Actor: "demo"})
		return err
	}))
	add(scClaim, "the institution recovers the money from the bidder: claimsrepaynotice", r.act("main", platform.Recovered, func(ctx context.Context, no string) error {
		id, err := r.claimID(ctx, no)
		if err != nil {
			return err
		}
		_, err = r.sys.Institution.RecordClaimRecovery(ctx, id, institution.ClaimRecoveryInput{Recovered: true,
			Amount: decimal.RequireFromString("800000.00"), TendererCooperated: true, Actor: "demo"})
		return err
	}))
	return out
}

// claimID is the institution's claim on applyno.
func (r *runner) claimID(ctx context.Context, applyno string) (string, error) {
	list, err := r.sys.Institution.Claims(ctx)
	if err != nil {
		return "", err
	}
	for _, c := range list {
		if c.ApplyNo == applyno {
			return c.ID, nil
		}
	}
	return "", fmt.Errorf("the institution has no claim on %s", applyno)
}

// apply makes the platform apply for bidder on section; the application
// is known by role.
func (r *runner) apply(role string, b BidderSpec, section string) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		a, err := r.sys.Platform.Apply(ctx, platform.ApplyInput{SectionNo: section, BidderCode: b.Code, Institution: InstitutionName, Product: ProductName})
		if err != nil {
			return "", err
		}
		r.apps[role] = a.ApplyNo
		var got *platform.Application
		err = r.poll(ctx, func() (bool, error) {
			got, err = r.sys.Platform.Application(ctx, a.ApplyNo)
			return err == nil && got.RedirectURL != "", err
		}, func() string { return describe(got) })
		if err != nil {
			return "", err
		}
		r.redirect[a.ApplyNo] = got.RedirectURL
		return fmt.Sprintf("applyno %s, %s, bond %s", a.ApplyNo, b.Name, got.BondAmount.StringFixed(2)), nil
	}
}

func (r *runner) open(role string, b BidderSpec) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		no := r.apps[role]
		v, err := r.bidders[b.File].Open(ctx, r.redirect[no])
		if err != nil {
			return "", err
		}
		if v.Application == nil || v.Application.BidderCode != b.Code {
			return "", fmt.Errorf("the opened application is not %s's: %+v", b.Name, v.Application)
		}
		return fmt.Sprintf("bond %s, rate %s, premium %s", v.Application.Bond, v.Application.Rate, v.Application.Premium), nil
	}
}

func (r *runner) signAgreement(role string, b BidderSpec) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		v, err := r.bidders[b.File].Sign(ctx, r.redirect[r.apps[role]])
		if err != nil {
			return "", err
		}
		return "state " + string(v.State), nil
	}
}

// pay pays and checks the underwriting decision ("approved" or
// "rejected").
func (r *runner) pay(role string, b BidderSpec, want string) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		v, err := r.bidders[b.File].Pay(ctx, r.redirect[r.apps[role]])
		if err != nil {
			return "", err
		}
		ok := string(v.State) == want || (want == "approved" && v.State == institution.Issued)
		if !ok {
			return "", fmt.Errorf("the institution decided %s (%s), expected %s", v.State, v.Decision, want)
		}
		if v.BaohanNo != "" && v.State != "rejected" {
			return fmt.Sprintf("%s: baohanno %s", v.State, v.BaohanNo), nil
		}
		return fmt.Sprintf("%s: %s", v.State, v.Decision), nil
	}
}

// flow opens, signs and pays.
func (r *runner) flow(role string, b BidderSpec, want string) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		if _, err := r.open(role, b)(ctx); err != nil {
			return "", err
		}
		if _, err := r.signAgreement(role, b)(ctx); err != nil {
			return "", err
		}
		return r.pay(role, b, want)(ctx)
	}
}

// issued applies, runs the bidder's flow and waits for the ciphertext
// guarantee at the platform.
func (r *runner) issued(role string, b BidderSpec) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		if _, err := r.apply(role, b, r.otherSection)(ctx); err != nil {
			return "", err
		}
		if _, err := r.flow(role, b, "approved")(ctx); err != nil {
			return "", err
		}
		d, err := r.waitState(role, platform.CipherReceived)(ctx)
		if err != nil {
			return "", err
		}
		// The institution marks the guarantee issued when it has the
		// platform's answer to the completion notice, a moment after the
		// platform recorded it: wait for both sides to agree before the
		// next move.
		no := r.apps[role]
		var a *institution.Application
		err = r.poll(ctx, func() (bool, error) {
			var err error
			a, err = r.sys.Institution.ApplicationByApplyNo(ctx, PlatformName, no)
			return err == nil && a.State == institution.Issued, err
		}, func() string {
			if a == nil {
				return "nothing"
			}
			return "institution: " + string(a.State)
		})
		if err != nil {
			return "", err
		}
		return "applyno " + no + ", " + d, nil
	}
}

// act runs a platform action on the application of role and waits for
// the state it leads to.
func (r *runner) act(role string, want platform.State, fn func(ctx context.Context, applyno string) error) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		no := r.apps[role]
		if no == "" {
			return "", errors.New("no application")
		}
		if err := fn(ctx, no); err != nil {
			return "", err
		}
		return r.waitState(role, want)(ctx)
	}
}

// waitState waits until the platform's application of role is in one of
// the states.
func (r *runner) waitState(role string, states ...platform.State) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		no := r.apps[role]
		var a *platform.Application
		err := r.poll(ctx, func() (bool, error) {
			var err error
			a, err = r.sys.Platform.Application(ctx, no)
			if err != nil {
				return false, err
			}
			for _, s := range states {
				if a.State == s {
					return true, nil
				}
			}
			return false, nil
		}, func() string { return describe(a) })
		if err != nil {
			return "", err
		}
		return describe(a), nil
	}
}

// waitOpening waits for the bid opening and the restore it causes.
func (r *runner) waitOpening(role string) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		if d := time.Until(r.opening); d > 0 {
			r.countdown(ctx, "bid opening", d)
		}
		return r.waitState(role, platform.Restored, platform.PlainReceived)(ctx)
	}
}

// verifyFiles writes both guarantees of role's application and checks
// their seals against the test CA.
func (r *runner) verifyFiles(role string) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		no := r.apps[role]
		dir := filepath.Join(r.sys.Dir, "out")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", err
		}
		pool := smx509.NewCertPool()
		pool.AddCert(r.sys.CA.Cert)
		var errs []error
		var parts []string
		for _, ft := range []int{1, 2} {
			what := map[int]string{1: "ciphertext guarantee (密文保函)", 2: "plaintext guarantee (明文保函)"}[ft]
			rc, g, err := r.sys.Platform.OpenGuarantee(ctx, no, ft)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", what, err))
				continue
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				errs = append(errs, err)
				continue
			}
			name := filepath.Join(dir, fmt.Sprintf("%s-%s-%d.ofd", g.BaohanNo, map[int]string{1: "cipher", 2: "plain"}[ft], ft))
			if err := os.WriteFile(name, b, 0o600); err != nil {
				errs = append(errs, err)
				continue
			}
			fr := FileResult{Path: name, What: what, Bytes: len(b)}
			fr.OK, fr.Seals, fr.Detail = verifyOFD(b, pool, ft, r.sectionName())
			r.files = append(r.files, fr)
			if !fr.OK {
				errs = append(errs, fmt.Errorf("%s: %s", what, fr.Detail))
			}
			parts = append(parts, fmt.Sprintf("%s %d bytes, %d seals", filepath.Base(name), len(b), fr.Seals))
		}
		return strings.Join(parts, "; "), errors.Join(errs...)
	}
}

func (r *runner) sectionName() string { return "城南污水处理厂提标改造工程施工" }

// verifyOFD checks every seal of doc against pool, and that the section
// name appears in the plaintext guarantee only.
func verifyOFD(doc []byte, pool *smx509.CertPool, filetype int, section string) (ok bool, seals int, detail string) {
	rep, err := ses.Verify(doc, pool)
	if err != nil {
		return false, 0, err.Error()
	}
	seals = len(rep.Signatures)
	if !rep.OK() {
		var fails []string
		for _, s := range rep.Signatures {
			for _, c := range s.Failures() {
				fails = append(fails, c.Name+": "+c.Detail)
			}
		}
		return false, seals, "seals do not verify: " + strings.Join(fails, "; ")
	}
	var signers []string
	for _, s := range rep.Signatures {
		signers = append(signers, s.Signer)
	}
	pkg, err := ofd.Open(doc)
	if err != nil {
		return false, seals, err.Error()
	}
	d, err := ofd.Read(pkg)
	if err != nil {
		return false, seals, err.Error()
	}
	shows := strings.Contains(d.Text(), section)
	switch {
	case filetype == 1 && shows:
		return false, seals, "the ciphertext guarantee shows the section name in plaintext"
	case filetype == 2 && !shows:
		return false, seals, "the plaintext guarantee does not show the section name"
	}
	return true, seals, fmt.Sprintf("%d seals valid, chained to the test CA (%s)", seals, strings.Join(signers, ", "))
}

// poll checks cond every 20ms until it holds, fails or ctx ends; then
// the error says what was last seen.
func (r *runner) poll(ctx context.Context, cond func() (bool, error), last func() string) error {
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up waiting (%v); last seen: %s", ctx.Err(), last())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func describe(a *platform.Application) string {
	if a == nil {
		return "nothing"
	}
	s := fmt.Sprintf("%s (%s)", a.State, a.StateLabel)
	if a.BaohanNo != "" {
		s += ", baohanno " + a.BaohanNo
	}
	if a.Notice != nil && a.Notice.ApplyStatus == "1" {
		s += fmt.Sprintf(", premium %s at rate %s", a.Notice.Cost, a.Notice.Rate)
	}
	if a.Invoice != nil && a.Invoice.InvoiceNo != "" {
		s += ", invoice " + a.Invoice.InvoiceNo
	}
	if a.LastMessage != "" {
		s += "; " + a.LastMessage
	}
	return s
}

// summarize groups the steps by scenario.
func summarize(steps []StepResult, r *runner) []ScenarioResult {
	var out []ScenarioResult
	for _, name := range scenarioOrder {
		sr := ScenarioResult{Name: name, OK: true}
		for _, s := range steps {
			if s.Scenario != name {
				continue
			}
			sr.Steps++
			if s.OK {
				sr.Passed++
			} else {
				sr.OK = false
				if sr.Error == "" {
					sr.Error = s.Step + ": " + s.Error
				}
			}
		}
		out = append(out, sr)
	}
	roles := map[string][]string{scMain: {"main"}, scReject: {"reject"}, scQuit: {"quit"},
		scGiveup: {"giveup-platform", "giveup-institution"}, scCancel: {"cancel"}, scClaim: {"main"}, scVerify: {"quit"}}
	for k := range out {
		for _, role := range roles[out[k].Name] {
			if no := r.apps[role]; no != "" {
				out[k].ApplyNo = append(out[k].ApplyNo, no)
			}
		}
	}
	return out
}
