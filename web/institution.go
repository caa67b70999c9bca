package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/emmansun/gmsm/smx509"
	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/institution"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/service"
)

// InstitutionConsole is the financial institution's console: the staff
// pages under Options.Base (underwriting, guarantees, invoices, quits,
// claims, message log, accounts, audit) and the bidder's page behind the
// redirecturl (GET /bidder/<token> from a browser).
type InstitutionConsole struct {
	*console
	svc   *institution.Service
	roots *smx509.CertPool
}

// Institution builds the institution's console on svc, with its tables in
// svc's database (realm "institution").
func Institution(ctx context.Context, svc *institution.Service, o Options, ao ...AuthOption) (*InstitutionConsole, error) {
	auth, err := NewAuth(ctx, svc.DB(), "institution", append([]AuthOption{WithLogger(o.Logger)}, ao...)...)
	if err != nil {
		return nil, err
	}
	name := svc.Config().Institution.Name
	if name == "" {
		name = "金融机构"
	}
	c, err := newConsole(auth, name+" · 保函业务控制台", o)
	if err != nil {
		return nil, err
	}
	c.msgs = svc
	ic := &InstitutionConsole{console: c, svc: svc, roots: svc.TrustRoots().Pool()}
	c.nav = []NavItem{
		{"/", "概览", Viewer},
		{"/underwriting", "待审核", Viewer},
		{"/applications", "投保申请", Viewer},
		{"/guarantees", "保函", Viewer},
		{"/invoices", "发票", Viewer},
		{"/quits", "退保", Viewer},
		{"/claims", "理赔", Viewer},
		{"/messages", "报文日志", Viewer},
		{"/users", "账号", Admin},
		{"/audit", "审计", Admin},
	}
	c.handle("GET /{$}", Viewer, ic.home)
	c.handle("GET /underwriting", Viewer, ic.underwriting)
	c.handle("GET /applications", Viewer, ic.applications)
	c.handle("GET /applications/{id}", Viewer, ic.application)
	c.handle("POST /applications/{id}/approve", Operator, ic.approve)
	c.handle("POST /applications/{id}/reject", Operator, ic.reject)
	c.handle("POST /applications/{id}/quit", Operator, ic.quit)
	c.handle("POST /applications/{id}/giveup", Operator, ic.giveUp)
	c.handle("POST /applications/{id}/reupload", Operator, ic.reupload)
	c.handle("GET /applications/{id}/guarantee/{filetype}", Viewer, ic.guaranteeFile)
	c.handle("GET /applications/{id}/guarantee/{filetype}/view", Viewer, ic.guaranteeView)
	c.handle("GET /guarantees", Viewer, ic.guarantees)
	c.handle("GET /invoices", Viewer, ic.invoices)
	c.handle("POST /invoices/{id}/issue", Operator, ic.issueInvoice)
	c.handle("POST /invoices/{id}/refuse", Operator, ic.refuseInvoice)
	c.handle("GET /quits", Viewer, ic.quits)
	c.handle("GET /claims", Viewer, ic.claims)
	c.handle("GET /claims/{id}/files/{n}", Viewer, ic.claimFile)
	c.handle("POST /claims/{id}/outcome", Operator, ic.claimOutcome)
	c.handle("POST /claims/{id}/recovery", Operator, ic.claimRecovery)
	return ic, nil
}

// Auth is the console's accounts, sessions and audit log.
func (ic *InstitutionConsole) Auth() *Auth { return ic.auth }

// Handler serves the console and the bidder's page, and passes every
// other request to next (the service's own handler: the protocol
// interfaces, the bidder JSON API, the admin API).
func (ic *InstitutionConsole) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == ic.base || strings.HasPrefix(r.URL.Path, ic.base+"/"):
			ic.ServeHTTP(w, r)
		case r.URL.Path == "/favicon.ico":
			ic.favicon(w, r)
		case r.URL.Path == "/verify" && (r.Method == http.MethodGet || r.Method == http.MethodPost) && wantsHTML(r):
			ic.securityHeaders(w)
			ic.verifyPage(w, r)
		case r.Method == http.MethodGet && wantsHTML(r) && bidderPath(r.URL.Path) != "":
			ic.securityHeaders(w)
			ic.bidderPage(w, r, bidderPath(r.URL.Path))
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// bidderPath returns the token of /bidder/<token>, or "".
func bidderPath(p string) string {
	t, ok := strings.CutPrefix(p, "/bidder/")
	if !ok || t == "" || strings.Contains(t, "/") {
		return ""
	}
	return t
}

// wantsHTML: a browser's navigation asks for text/html first; scripts
// and peers ask for JSON.
func wantsHTML(r *http.Request) bool {
	acc := r.Header.Get("Accept")
	return strings.Contains(acc, "text/html") && !strings.HasPrefix(acc, "application/json")
}

func notFound(err error, what string) error {
	if errors.Is(err, institution.ErrNotFound) {
		return errStatus(http.StatusNotFound, "%s不存在", what)
	}
	return err
}

func (ic *InstitutionConsole) home(w http.ResponseWriter, r *http.Request, s *Session) error {
	ctx := r.Context()
	apps, err := ic.svc.Applications(ctx, institution.ListFilter{Limit: 1000})
	if err != nil {
		return err
	}
	counts := map[institution.State]int{}
	for _, a := range apps {
		counts[a.State]++
	}
	queue, err := ic.svc.ReviewQueue(ctx)
	if err != nil {
		return err
	}
	invs, err := ic.svc.Invoices(ctx, institution.InvoiceRequested)
	if err != nil {
		return err
	}
	recent := apps
	if len(recent) > 8 {
		recent = recent[:8]
	}
	var states []stateCount
	for _, st := range institution.States {
		states = append(states, stateCount{State: string(st), Label: st.Label(), N: counts[st]})
	}
	ic.render(w, r, s, http.StatusOK, "inst_home", "概览", map[string]any{
		"Total": len(apps), "Queue": queue, "PendingInvoices": len(invs), "States": states, "Recent": recent,
		"Mode": ic.svc.Config().Underwrite.Mode,
	})
	return nil
}

type stateCount struct {
	State, Label string
	N            int
	More         bool // N is where counting stopped: at least N
}

func (ic *InstitutionConsole) underwriting(w http.ResponseWriter, r *http.Request, s *Session) error {
	queue, err := ic.svc.ReviewQueue(r.Context())
	if err != nil {
		return err
	}
	ic.render(w, r, s, http.StatusOK, "inst_underwriting", "待审核", map[string]any{"Queue": queue})
	return nil
}

func (ic *InstitutionConsole) applications(w http.ResponseWriter, r *http.Request, s *Session) error {
	q := r.URL.Query()
	f := institution.ListFilter{State: institution.State(q.Get("state")), Peer: q.Get("platform"), ApplyNo: strings.TrimSpace(q.Get("applyno")),
		BidderCode: strings.TrimSpace(q.Get("biddercode")), BaohanNo: strings.TrimSpace(q.Get("baohanno")), Limit: 200}
	apps, err := ic.svc.Applications(r.Context(), f)
	if err != nil {
		return err
	}
	ic.render(w, r, s, http.StatusOK, "inst_applications", "投保申请", map[string]any{"Apps": apps, "F": f, "States": institution.States})
	return nil
}

func (ic *InstitutionConsole) application(w http.ResponseWriter, r *http.Request, s *Session) error {
	d, err := ic.svc.Detail(r.Context(), r.PathValue("id"))
	if err != nil {
		return notFound(err, "投保申请")
	}
	data := map[string]any{"D": d}
	if code, err := ic.svc.VerifyCodeOf(r.Context(), d.ID); err == nil && code != "" {
		data["VerifyCode"], data["VerifyURL"] = code, ic.svc.VerifyURL(d.BaohanNo, code)
	}
	ic.render(w, r, s, http.StatusOK, "inst_application", "投保申请 "+d.ApplyNo, data)
	return nil
}

func (ic *InstitutionConsole) appBack(r *http.Request) string {
	if back := r.PostFormValue("back"); strings.HasPrefix(back, ic.base+"/") && !strings.HasPrefix(back, "//") {
		return back
	}
	return ic.base + "/applications/" + r.PathValue("id")
}

func (ic *InstitutionConsole) approve(w http.ResponseWriter, r *http.Request, s *Session) error {
	id := r.PathValue("id")
	return ic.act(w, r, s, "approve", id, ic.appBack(r), func() (string, error) {
		a, err := ic.svc.Approve(r.Context(), id, s.Subject)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("已审核通过 %s，保函编号 %s", a.ApplyNo, a.BaohanNo), nil
	})
}

func (ic *InstitutionConsole) reject(w http.ResponseWriter, r *http.Request, s *Session) error {
	id := r.PathValue("id")
	return ic.act(w, r, s, "reject", id, ic.appBack(r), func() (string, error) {
		reason := strings.TrimSpace(r.PostFormValue("reason"))
		if reason == "" {
			return "", errors.New("请填写拒绝原因 (a reason is required)")
		}
		a, err := ic.svc.Reject(r.Context(), id, s.Subject, reason)
		if err != nil {
			return "", err
		}
		return "已拒绝 " + a.ApplyNo, nil
	})
}

func (ic *InstitutionConsole) quit(w http.ResponseWriter, r *http.Request, s *Session) error {
	id := r.PathValue("id")
	return ic.act(w, r, s, "quit", id, ic.appBack(r), func() (string, error) {
		q, err := ic.svc.Quit(r.Context(), id, "person:"+s.Subject, strings.TrimSpace(r.PostFormValue("reason")))
		if err != nil {
			return "", err
		}
		if q.Status == institution.QuitPendingStatus {
			return fmt.Sprintf("退保 %s：已通知平台，待平台确认 (%s)", q.ApplyNo, institution.QuitPending), nil
		}
		return fmt.Sprintf("退保 %s：%s %s", q.ApplyNo, q.Status, q.Message), nil
	})
}

func (ic *InstitutionConsole) giveUp(w http.ResponseWriter, r *http.Request, s *Session) error {
	id := r.PathValue("id")
	return ic.act(w, r, s, "giveup", id, ic.appBack(r), func() (string, error) {
		g, err := ic.svc.GiveUp(r.Context(), id, "person:"+s.Subject)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("放弃 %s：%s", g.ApplyNo, g.Status), nil
	})
}

func (ic *InstitutionConsole) reupload(w http.ResponseWriter, r *http.Request, s *Session) error {
	id := r.PathValue("id")
	return ic.act(w, r, s, "reupload", id, ic.appBack(r), func() (string, error) {
		ft, _ := strconv.Atoi(r.PostFormValue("filetype"))
		if ft != 1 && ft != 2 {
			return "", errors.New("filetype must be 1 or 2")
		}
		if err := ic.svc.ReuploadFile(r.Context(), id, ft, "person:"+s.Subject); err != nil {
			return "", err
		}
		return "已重新排队上传保函文件", nil
	})
}

func fileType(r *http.Request) (int, error) {
	ft, err := strconv.Atoi(r.PathValue("filetype"))
	if err != nil || (ft != 1 && ft != 2) {
		return 0, errStatus(http.StatusNotFound, "保函文件类型应为 1（密文）或 2（明文）")
	}
	return ft, nil
}

func fileTypeLabel(ft int) string {
	if ft == 2 {
		return "明文保函"
	}
	return "密文保函"
}

func (ic *InstitutionConsole) guaranteeFile(w http.ResponseWriter, r *http.Request, s *Session) error {
	ft, err := fileType(r)
	if err != nil {
		return err
	}
	b, err := ic.svc.Guarantee(r.Context(), r.PathValue("id"), ft)
	if err != nil {
		return notFound(err, "保函文件")
	}
	writeOFD(w, fmt.Sprintf("guarantee-%s-%d.ofd", r.PathValue("id"), ft), b)
	return nil
}

func writeOFD(w http.ResponseWriter, name string, b []byte) {
	w.Header().Set("Content-Type", "application/ofd")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "private, no-store")
	w.Write(b)
}

func (ic *InstitutionConsole) guaranteeView(w http.ResponseWriter, r *http.Request, s *Session) error {
	ft, err := fileType(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	a, err := ic.svc.Application(r.Context(), id)
	if err != nil {
		return notFound(err, "投保申请")
	}
	b, err := ic.svc.Guarantee(r.Context(), id, ft)
	if err != nil {
		return notFound(err, "保函文件")
	}
	dv := makeDocView(fileTypeLabel(ft)+" "+a.BaohanNo, b, ic.roots, fmt.Sprintf("%s/applications/%s/guarantee/%d", ic.base, id, ft))
	ic.render(w, r, s, http.StatusOK, "inst_guarantee", fileTypeLabel(ft)+" "+a.BaohanNo, map[string]any{"A": a, "Doc": dv})
	return nil
}

func (ic *InstitutionConsole) guarantees(w http.ResponseWriter, r *http.Request, s *Session) error {
	list, err := ic.svc.Guarantees(r.Context())
	if err != nil {
		return err
	}
	ic.render(w, r, s, http.StatusOK, "inst_guarantees", "保函", map[string]any{"List": list})
	return nil
}

func (ic *InstitutionConsole) invoices(w http.ResponseWriter, r *http.Request, s *Session) error {
	status := r.URL.Query().Get("status")
	list, err := ic.svc.Invoices(r.Context(), status)
	if err != nil {
		return err
	}
	ic.render(w, r, s, http.StatusOK, "inst_invoices", "发票", map[string]any{"List": list, "Status": status})
	return nil
}

func (ic *InstitutionConsole) issueInvoice(w http.ResponseWriter, r *http.Request, s *Session) error {
	id := r.PathValue("id")
	return ic.act(w, r, s, "invoice.issue", id, ic.base+"/invoices", func() (string, error) {
		inv, err := ic.svc.IssueInvoice(r.Context(), id, "person:"+s.Subject)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("已开具发票 %s（%s）", inv.InvoiceNo, inv.ApplyNo), nil
	})
}

func (ic *InstitutionConsole) refuseInvoice(w http.ResponseWriter, r *http.Request, s *Session) error {
	id := r.PathValue("id")
	return ic.act(w, r, s, "invoice.refuse", id, ic.base+"/invoices", func() (string, error) {
		reason := strings.TrimSpace(r.PostFormValue("reason"))
		if reason == "" {
			return "", errors.New("请填写拒绝开票的原因")
		}
		inv, err := ic.svc.RefuseInvoice(r.Context(), id, "person:"+s.Subject, reason)
		if err != nil {
			return "", err
		}
		return "已拒绝开票 " + inv.ApplyNo, nil
	})
}

func (ic *InstitutionConsole) quits(w http.ResponseWriter, r *http.Request, s *Session) error {
	list, err := ic.svc.Quits(r.Context())
	if err != nil {
		return err
	}
	ic.render(w, r, s, http.StatusOK, "inst_quits", "退保", map[string]any{"List": list})
	return nil
}

func (ic *InstitutionConsole) claims(w http.ResponseWriter, r *http.Request, s *Session) error {
	list, err := ic.svc.Claims(r.Context())
	if err != nil {
		return err
	}
	ic.render(w, r, s, http.StatusOK, "inst_claims", "理赔", map[string]any{"List": list})
	return nil
}

// claimFile serves the kept copy of a file of a claim's file list.
func (ic *InstitutionConsole) claimFile(w http.ResponseWriter, r *http.Request, s *Session) error {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil {
		return notFound(institution.ErrNotFound, "理赔材料")
	}
	k, data, err := ic.svc.ClaimFile(r.Context(), r.PathValue("id"), n)
	if err != nil {
		return notFound(err, "理赔材料")
	}
	w.Header().Set("Cache-Control", "private, no-store")
	service.ServeKeptFile(w, k, data)
	return nil
}

// claimOutcome records a claim's outcome from the claims page's form.
func (ic *InstitutionConsole) claimOutcome(w http.ResponseWriter, r *http.Request, s *Session) error {
	id := r.PathValue("id")
	return ic.act(w, r, s, "claim.outcome", id, ic.base+"/claims", func() (string, error) {
		amount, err := formAmount(r.PostFormValue("amount"))
		if err != nil {
			return "", err
		}
		in := institution.ClaimOutcomeInput{Status: r.PostFormValue("status"), Amount: amount, Date: r.PostFormValue("date"),
			Way: r.PostFormValue("way"), TransferDate: r.PostFormValue("transfer_date"), Remark: r.PostFormValue("remark"),
			Vouchers: strings.Fields(r.PostFormValue("vouchers")), Actor: "person:" + s.Subject}
		c, err := ic.svc.RecordClaimOutcome(r.Context(), id, in)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("已记录理赔结果：%s %s（%s）", c.Outcome.Amount.StringFixed(2), institution.ClaimStatusLabel(c.Outcome.Status), c.ApplyNo), nil
	})
}

// claimRecovery records a paid claim's recovery from the claims page's form.
func (ic *InstitutionConsole) claimRecovery(w http.ResponseWriter, r *http.Request, s *Session) error {
	id := r.PathValue("id")
	return ic.act(w, r, s, "claim.recovery", id, ic.base+"/claims", func() (string, error) {
		amount, err := formAmount(r.PostFormValue("amount"))
		if err != nil {
			return "", err
		}
		in := institution.ClaimRecoveryInput{Recovered: r.PostFormValue("recovered") == "1", Amount: amount,
			Date: r.PostFormValue("date"), Remark: r.PostFormValue("remark"),
			TendererCooperated: r.PostFormValue("tenderer_cooperated") == "1", Actor: "person:" + s.Subject}
		c, err := ic.svc.RecordClaimRecovery(r.Context(), id, in)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("已记录追偿结果：%s %s（%s）", c.Recovery.Amount.StringFixed(2), c.StatusLabel, c.ApplyNo), nil
	})
}

// formAmount reads an amount in yuan from a form: empty is zero.
func formAmount(v string) (decimal.Decimal, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return decimal.Zero, nil
	}
	if !protocol.IsDecimal(v) {
		return decimal.Zero, fmt.Errorf("金额 %q 不是金额（如 20000.00）", v)
	}
	return decimal.NewFromString(v)
}

// bidderPage is the page behind redirecturl: the bidder opens the
// digital envelope, signs the agreement and pays, each step through the
// CA agent and the service's bidder JSON API (app.js).
func (ic *InstitutionConsole) bidderPage(w http.ResponseWriter, r *http.Request, token string) {
	v, err := ic.svc.Bidder(r.Context(), token)
	if err != nil {
		status, msg := http.StatusInternalServerError, err.Error()
		if errors.Is(err, institution.ErrNotFound) {
			status, msg = http.StatusNotFound, "链接无效或已过期：请回到交易平台重新进入 (unknown or expired link)"
		}
		ic.render(w, r, nil, status, "error", "出错了", msg)
		return
	}
	// The token is the bidder's credential: keep it out of Referer headers.
	w.Header().Set("Referrer-Policy", "no-referrer")
	steps := []string{"open", "sign", "pay", "wait", "download"}
	labels := []string{"解密投保信息", "签署委托协议", "支付保费", "等待审核出函", "下载保函"}
	now := indexOf(steps, v.Next)
	var st []step
	for i, l := range labels {
		cls := ""
		switch {
		case now < 0 && v.Next == "none":
		case i < now:
			cls = "done"
		case i == now:
			cls = "now"
		}
		st = append(st, step{Label: l, Class: cls})
	}
	data := map[string]any{"V": v, "API": "/bidder/" + token, "Steps": st}
	if v.Next == "sign" {
		// The agreement to sign, drawn, so the bidder reads what it signs.
		if doc, err := ic.svc.Agreement(r.Context(), token); err == nil {
			data["Agreement"] = makeDocView("保函委托协议", doc, nil, "/bidder/"+token+"/agreement")
		}
	}
	ic.render(w, r, nil, http.StatusOK, "inst_bidder", "投保 "+v.ApplyNo, data)
}

type step struct{ Label, Class string }

// verifyPage is the public verification page (验真) at /verify, where the
// QR code of a guarantee leads: without login, for a phone as well as a
// desktop. GET with baohanno and code shows the guarantee's status and
// terms (institution.Service.VerifyFrom: rate-limited, the same refusal
// for an unknown number and a wrong code); POST with a file (the form's
// field "file") checks it (VerifyFileFrom).
func (ic *InstitutionConsole) verifyPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer") // the code is in the URL
	q := r.URL.Query()
	data := map[string]any{"No": q.Get("baohanno"), "Code": q.Get("code")}
	status := http.StatusOK
	var err error
	addr := ic.svc.ClientAddr(r)
	switch {
	case r.Method == http.MethodPost:
		var doc []byte
		if doc, err = institution.ReadVerifyUpload(w, r); err == nil {
			data["F"], err = ic.svc.VerifyFileFrom(r.Context(), addr, doc)
		}
	case q.Has("baohanno") || q.Has("code"):
		data["V"], err = ic.svc.VerifyFrom(r.Context(), addr, q.Get("baohanno"), q.Get("code"))
	}
	var te *institution.VerifyThrottledError
	switch {
	case err == nil:
	case errors.Is(err, institution.ErrNotVerified):
		status, data["Error"] = http.StatusNotFound, "未查询到该保函：保函编号或验真码不正确，请核对后重试。"
	case errors.As(err, &te):
		w.Header().Set("Retry-After", strconv.Itoa(int(te.RetryAfter.Seconds()+0.999)))
		status, data["Error"] = http.StatusTooManyRequests, err.Error()
	case baohan.IsRefusal(err):
		status, data["Error"] = http.StatusUnprocessableEntity, err.Error()
	default:
		ic.log.ErrorContext(r.Context(), "verification page", "err", err)
		status, data["Error"] = http.StatusInternalServerError, "查询失败，请稍后再试 (internal error)"
	}
	ic.render(w, r, nil, status, "inst_verify", "保函验真", data)
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// securityHeaders sets the headers ServeHTTP sets, for pages served
// outside the console's base.
func (c *console) securityHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", c.csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
}
