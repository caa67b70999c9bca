package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/emmansun/gmsm/smx509"
	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/bidderauth"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/internal/httpjson"
	"github.com/baohan-dev/baohan/platform"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/service"
)

// PlatformConsole is the trading centre's console: the bidder portal
// (CA-certificate login, open sections, apply, follow the application,
// quit, give up, invoices) and the staff pages (sections and bid
// openings, applications and their history, guarantees with their seals
// checked, bidders, message log, accounts, audit).
type PlatformConsole struct {
	*console
	svc   *platform.Service
	roots *smx509.CertPool
	// origin is the console's public origin (of listen.public_url): the
	// only origin a bidder's login signature is checked against. Empty:
	// no public URL is configured and CA login is refused.
	origin string
}

// Platform builds the platform's console on svc, with its tables in svc's
// database (realm "platform").
func Platform(ctx context.Context, svc *platform.Service, o Options, ao ...AuthOption) (*PlatformConsole, error) {
	key, err := svc.DeriveKey(challengeKeyLabel)
	if err != nil {
		return nil, fmt.Errorf("web: the login challenges' key: %w", err)
	}
	auth, err := NewAuth(ctx, svc.DB(), "platform", append([]AuthOption{WithLogger(o.Logger), WithChallengeKey(key)}, ao...)...)
	if err != nil {
		return nil, err
	}
	c, err := newConsole(auth, "公共资源交易中心 · 数据服务支撑平台", o)
	if err != nil {
		return nil, err
	}
	c.msgs = svc
	pc := &PlatformConsole{console: c, svc: svc, roots: svc.TrustRoots().Pool()}
	if pub := svc.Config().Listen.PublicURL; pub != "" {
		if pc.origin, err = bidderauth.OriginOf(pub); err != nil {
			return nil, fmt.Errorf("web: listen.public_url: %w", err)
		}
	} else {
		c.log.Warn("platform console: listen.public_url is not set, so bidders cannot log in with their CA certificate (their signature names the console's public origin)")
	}
	c.home[Bidder] = "/bidder"
	c.nav = []NavItem{
		{"/bidder", "我的投保", Bidder},
		{"/bidder/sections", "可投标段", Bidder},
		{"/", "概览", Viewer},
		{"/sections", "标段", Viewer},
		{"/applications", "投保申请", Viewer},
		{"/guarantees", "保函", Viewer},
		{"/bidders", "投标人", Viewer},
		{"/messages", "报文日志", Viewer},
		{"/users", "账号", Admin},
		{"/audit", "审计", Admin},
	}
	c.mux.HandleFunc("POST "+c.base+"/login/challenge", pc.challenge)
	c.mux.HandleFunc("POST "+c.base+"/login/ca", pc.caLogin)

	c.handle("GET /bidder", Bidder, pc.bidderHome)
	c.handle("GET /bidder/sections", Bidder, pc.bidderSections)
	c.handle("GET /bidder/apply", Bidder, pc.bidderApplyPage)
	c.handle("POST /bidder/apply", Bidder, pc.bidderApply)
	c.handle("GET /bidder/applications/{applyno}", Bidder, pc.bidderApplication)
	c.handle("GET /bidder/applications/{applyno}/status", Bidder, pc.bidderStatus)
	c.handle("POST /bidder/applications/{applyno}/quit", Bidder, pc.bidderQuit)
	c.handle("POST /bidder/applications/{applyno}/giveup", Bidder, pc.bidderGiveUp)
	c.handle("POST /bidder/applications/{applyno}/invoice", Bidder, pc.bidderInvoice)
	c.handle("GET /bidder/applications/{applyno}/guarantee/{filetype}", Bidder, pc.bidderGuaranteeView)
	c.handle("GET /bidder/applications/{applyno}/guarantee/{filetype}/ofd", Bidder, pc.bidderGuaranteeFile)

	c.handle("GET /{$}", Viewer, pc.home)
	c.handle("GET /sections", Viewer, pc.sections)
	c.handle("POST /sections", Operator, pc.registerSection)
	c.handle("POST /sections/{no}/postpone", Operator, pc.postpone)
	c.handle("POST /sections/{no}/advance", Admin, pc.advance)
	c.handle("POST /sections/{no}/restore", Operator, pc.restoreSection)
	c.handle("GET /sections/{no}/verify", Viewer, pc.sectionVerify)
	c.handle("GET /applications", Viewer, pc.applications)
	c.handle("GET /applications/{applyno}", Viewer, pc.application)
	c.handle("GET /applications/{applyno}/claim-outcomes/{seq}/files/{n}", Viewer, pc.claimOutcomeFile)
	c.handle("POST /applications/{applyno}/cancel", Operator, pc.cancel)
	c.handle("POST /applications/{applyno}/claim", Operator, pc.claim)
	c.handle("POST /applications/{applyno}/restore", Operator, pc.restore)
	c.handle("GET /applications/{applyno}/guarantee/{filetype}", Viewer, pc.guaranteeView)
	c.handle("GET /applications/{applyno}/guarantee/{filetype}/ofd", Viewer, pc.guaranteeFile)
	c.handle("GET /guarantees", Viewer, pc.guarantees)
	c.handle("GET /bidders", Viewer, pc.bidders)
	c.handle("POST /bidders", Operator, pc.registerBidder)
	return pc, nil
}

// Auth is the console's accounts, sessions and audit log.
func (pc *PlatformConsole) Auth() *Auth { return pc.auth }

// Handler serves the console under its base and passes every other
// request to next (the service's handler: the protocol interfaces and the
// admin API).
func (pc *PlatformConsole) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == pc.base || strings.HasPrefix(r.URL.Path, pc.base+"/") {
			pc.ServeHTTP(w, r)
			return
		}
		if r.URL.Path == "/favicon.ico" {
			pc.favicon(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func platformNotFound(err error, what string) error {
	if errors.Is(err, platform.ErrNotFound) {
		return errStatus(http.StatusNotFound, "%s不存在", what)
	}
	return err
}

// ---- bidder login with the CA certificate ----

// errNoPublicURL refuses CA login on a console that does not know its
// public origin.
const errNoPublicURL = "投标人CA登录未启用：平台未配置 listen.public_url (CA login needs the console's public URL: set listen.public_url, e.g. https://ggzy.example.cn)"

// challengeKeyLabel names the key of the console's login challenges,
// derived from the platform's master key, so that replicas of the platform
// on one database accept each other's challenges.
const challengeKeyLabel = "web/login-challenge/platform"

// Challenge is the answer of POST <base>/login/challenge: what the page
// has the CA agent sign (POST /v1/challenge {"challenge", "purpose"}).
type Challenge struct {
	Challenge string             `json:"challenge"`
	Purpose   bidderauth.Purpose `json:"purpose"` // platform-login
	Origin    string             `json:"origin"`  // the console's public origin, which the signature must name
}

// challenge hands out a login challenge. Anyone may ask: it writes
// nothing (the challenge is stateless, see Auth.NewChallenge), and each
// ask takes an attempt from the client address's login budget (as a
// password login does), unaudited.
func (pc *PlatformConsole) challenge(w http.ResponseWriter, r *http.Request) {
	if err := pc.auth.ThrottleChallenge(pc.clientIP(r)); err != nil {
		writeThrottled(w, err)
		return
	}
	if pc.origin == "" {
		httpjson.Write(w, http.StatusServiceUnavailable, map[string]string{"error": errNoPublicURL})
		return
	}
	pre := pc.auth.preSessionValue(r)
	if pre == "" {
		httpjson.Write(w, http.StatusBadRequest, map[string]string{"error": "请刷新登录页后重试 (no pre-session cookie: reload the login page)"})
		return
	}
	httpjson.Write(w, http.StatusOK, Challenge{Challenge: pc.auth.NewChallenge(pre), Purpose: bidderauth.PlatformLogin, Origin: pc.origin})
}

// CALoginRequest is the body of POST <base>/login/ca.
type CALoginRequest struct {
	Challenge string `json:"challenge"`
	Signature string `json:"signature"` // base64 DER, by the CA agent
	Cert      string `json:"cert"`      // PEM
}

// caLogin checks the CA agent's signature of the challenge against the
// certificate the bidder registered with the platform (not the one the
// page sends, which only says who claims to be logging in). What must be
// signed is bidderauth.Message(platform-login, the console's configured
// public origin, challenge): never the origin the request names, since
// the agent also serves the institutions' pages and signs for them.
//
// Every try takes an attempt from the client address's login budget (see
// challenge); a successful login gives back its own and its challenge's.
func (pc *PlatformConsole) caLogin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ip := pc.clientIP(r)
	if err := pc.auth.Throttle(ctx, ip, Bidder); err != nil {
		writeThrottled(w, err)
		return
	}
	fail := func(status int, actor, msg string) {
		pc.auth.Audit(ctx, AuditEntry{Actor: actor, Role: Bidder, Action: "login", Detail: msg, OK: false, IP: ip})
		httpjson.Write(w, status, map[string]string{"error": msg})
	}
	var req CALoginRequest
	if err := decodeJSON(w, r, &req); err != nil {
		status := http.StatusBadRequest
		if errors.As(err, new(*http.MaxBytesError)) {
			status = http.StatusRequestEntityTooLarge
		}
		fail(status, "", err.Error())
		return
	}
	if pc.origin == "" {
		fail(http.StatusServiceUnavailable, "", errNoPublicURL)
		return
	}
	// The challenge is checked first (it writes nothing), and recorded as
	// used only once the signature holds (UseChallenge below).
	pre := pc.auth.preSessionValue(r)
	if err := pc.auth.CheckChallenge(req.Challenge, pre); err != nil {
		fail(http.StatusUnauthorized, "", err.Error())
		return
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		fail(http.StatusBadRequest, "", "请求缺少 Origin (no Origin header)")
		return
	}
	if o, err := bidderauth.NormalizeOrigin(origin); err != nil || o != pc.origin {
		fail(http.StatusForbidden, "", fmt.Sprintf("登录请求来自 %.100q，不是平台控制台的地址 %s (the login must come from the console's public origin, listen.public_url)", origin, pc.origin))
		return
	}
	presented, err := gm.ParseCertificate([]byte(req.Cert))
	if err != nil {
		fail(http.StatusBadRequest, "", "证书无法解析："+err.Error())
		return
	}
	code, err := pc.svc.CreditCode(presented)
	if err != nil {
		fail(http.StatusUnauthorized, presented.Subject.CommonName, "证书未载明统一社会信用代码 ("+err.Error()+")")
		return
	}
	b, err := pc.svc.Bidder(ctx, code)
	if err != nil {
		if errors.Is(err, platform.ErrNotFound) {
			fail(http.StatusUnauthorized, code, "该证书的投标人（"+code+"）未在平台登记")
			return
		}
		fail(http.StatusInternalServerError, code, err.Error())
		return
	}
	registered, err := gm.ParseCertificate([]byte(b.CertPEM))
	if err != nil {
		fail(http.StatusInternalServerError, code, "登记的证书无法解析："+err.Error())
		return
	}
	if !registered.Equal(presented) {
		fail(http.StatusUnauthorized, code, "所用证书不是该投标人在平台登记的证书 (not the registered certificate)")
		return
	}
	if now := time.Now(); now.Before(registered.NotBefore) || now.After(registered.NotAfter) {
		fail(http.StatusUnauthorized, code, "证书不在有效期内 (certificate expired or not yet valid)")
		return
	}
	sig, err := base64.StdEncoding.DecodeString(req.Signature)
	if err != nil {
		fail(http.StatusBadRequest, code, "signature: not base64")
		return
	}
	if err := bidderauth.Verify(registered, bidderauth.PlatformLogin, pc.origin, req.Challenge, sig); err != nil {
		fail(http.StatusUnauthorized, code, "签名验证失败："+err.Error())
		return
	}
	if err := pc.auth.UseChallenge(ctx, req.Challenge, pre); err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, ErrBadChallenge) {
			status = http.StatusUnauthorized
		}
		fail(status, code, err.Error())
		return
	}
	_, token, err := pc.auth.LoginBidder(ctx, code, b.Name, ip)
	if err != nil {
		fail(http.StatusInternalServerError, code, err.Error())
		return
	}
	pc.auth.GiveBack(ip, 2)
	pc.auth.SetSessionCookie(w, r, token)
	httpjson.Write(w, http.StatusOK, map[string]string{"next": pc.base + "/bidder"})
}

// maxCALoginBody bounds the body of a CA login: a challenge, a signature
// and a certificate fit many times over.
const maxCALoginBody = 64 << 10

// writeThrottled answers a login refused by the throttle (Auth.Throttle).
func writeThrottled(w http.ResponseWriter, err error) {
	var te *ThrottleError
	if errors.As(err, &te) {
		w.Header().Set("Retry-After", strconv.Itoa(max(int(te.RetryAfter.Round(time.Second)/time.Second), 1)))
	}
	httpjson.Write(w, http.StatusTooManyRequests, map[string]string{"error": err.Error()})
}

// decodeJSON reads the CA login's JSON body, of at most maxCALoginBody
// bytes (a *http.MaxBytesError past it).
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCALoginBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("请求体超过 %d 字节 (the CA login body is at most %d bytes): %w", maxCALoginBody, maxCALoginBody, err)
		}
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("请求体不是预期的 JSON：%v", err)
	}
	return nil
}

// ---- bidder portal ----

func (pc *PlatformConsole) openSections(ctx context.Context) ([]platform.Section, error) {
	return pc.svc.Sections(ctx, platform.SectionFilter{OpeningAfter: time.Now(), Limit: 200})
}

func (pc *PlatformConsole) bidderHome(w http.ResponseWriter, r *http.Request, s *Session) error {
	apps, err := pc.svc.Applications(r.Context(), platform.ApplicationFilter{BidderCode: s.Subject, Limit: 200})
	if err != nil {
		return err
	}
	secs, err := pc.openSections(r.Context())
	if err != nil {
		return err
	}
	if len(secs) > 5 {
		secs = secs[:5]
	}
	pc.render(w, r, s, http.StatusOK, "plat_bidder_home", "我的投保", map[string]any{"Apps": apps, "Sections": secs})
	return nil
}

func (pc *PlatformConsole) bidderSections(w http.ResponseWriter, r *http.Request, s *Session) error {
	secs, err := pc.openSections(r.Context())
	if err != nil {
		return err
	}
	pc.render(w, r, s, http.StatusOK, "plat_bidder_sections", "可投标段", map[string]any{"Sections": secs})
	return nil
}

func (pc *PlatformConsole) bidderApplyPage(w http.ResponseWriter, r *http.Request, s *Session) error {
	sec, err := pc.svc.Section(r.Context(), r.URL.Query().Get("section"))
	if err != nil {
		return platformNotFound(err, "标段")
	}
	pc.render(w, r, s, http.StatusOK, "plat_bidder_apply", "申请保函", map[string]any{"Section": sec, "Institutions": pc.svc.Institutions()})
	return nil
}

func (pc *PlatformConsole) bidderApply(w http.ResponseWriter, r *http.Request, s *Session) error {
	// The form's product is "i/j": product j of institution i.
	var inst, prod string
	var i, j int
	if _, err := fmt.Sscanf(r.PostFormValue("product"), "%d/%d", &i, &j); err == nil {
		if insts := pc.svc.Institutions(); i >= 0 && i < len(insts) && j >= 0 && j < len(insts[i].Products) {
			inst, prod = insts[i].Name, insts[i].Products[j].Name
		}
	}
	in := platform.ApplyInput{SectionNo: r.PostFormValue("section"), BidderCode: s.Subject, Institution: inst, Product: prod}
	a, err := pc.svc.Apply(r.Context(), in)
	e := AuditEntry{Actor: s.Subject, Role: s.Role, Action: "apply", Target: in.SectionNo, Detail: inst + " " + prod, OK: err == nil, IP: pc.clientIP(r)}
	if err != nil {
		e.Detail += ": " + err.Error()
		pc.auth.Audit(r.Context(), e)
		pc.flash(w, r, "error", err.Error())
		http.Redirect(w, r, pc.base+"/bidder/apply?section="+url.QueryEscape(in.SectionNo), http.StatusSeeOther)
		return nil
	}
	e.Target = a.ApplyNo
	pc.auth.Audit(r.Context(), e)
	http.Redirect(w, r, pc.base+"/bidder/applications/"+a.ApplyNo+"?go=1", http.StatusSeeOther)
	return nil
}

// own loads an application of the session's bidder; another bidder's
// is "not found".
func (pc *PlatformConsole) own(ctx context.Context, s *Session, applyNo string) (*platform.Application, error) {
	a, err := pc.svc.Application(ctx, applyNo)
	if err != nil {
		return nil, platformNotFound(err, "投保申请")
	}
	if a.BidderCode != s.Subject {
		return nil, errStatus(http.StatusNotFound, "投保申请不存在")
	}
	return a, nil
}

func (pc *PlatformConsole) bidderApplication(w http.ResponseWriter, r *http.Request, s *Session) error {
	a, err := pc.own(r.Context(), s, r.PathValue("applyno"))
	if err != nil {
		return err
	}
	gs, err := pc.svc.Guarantees(r.Context(), a.ApplyNo, 10, 0)
	if err != nil {
		return err
	}
	sec, err := pc.svc.Section(r.Context(), a.SectionNo)
	if err != nil {
		return err
	}
	pc.render(w, r, s, http.StatusOK, "plat_bidder_application", "投保 "+a.ApplyNo, map[string]any{
		"A": a, "Section": sec, "Guarantees": gs, "Go": r.URL.Query().Get("go") == "1",
		"BeforeOpening": time.Now().Before(a.KaibiaoTime),
	})
	return nil
}

func (pc *PlatformConsole) bidderStatus(w http.ResponseWriter, r *http.Request, s *Session) error {
	a, err := pc.own(r.Context(), s, r.PathValue("applyno"))
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, map[string]string{"state": string(a.State), "state_label": a.State.Label(), "redirecturl": a.RedirectURL, "message": a.LastMessage})
	return nil
}

func (pc *PlatformConsole) bidderAct(w http.ResponseWriter, r *http.Request, s *Session, action string, fn func(a *platform.Application) (string, error)) error {
	a, err := pc.own(r.Context(), s, r.PathValue("applyno"))
	if err != nil {
		return err
	}
	return pc.act(w, r, s, action, a.ApplyNo, pc.base+"/bidder/applications/"+a.ApplyNo, func() (string, error) { return fn(a) })
}

func (pc *PlatformConsole) bidderQuit(w http.ResponseWriter, r *http.Request, s *Session) error {
	return pc.bidderAct(w, r, s, "quit", func(a *platform.Application) (string, error) {
		if _, err := pc.svc.Quit(r.Context(), a.ApplyNo, r.PostFormValue("reason")); err != nil {
			return "", err
		}
		return "已提交退保申请，等待金融机构处理", nil
	})
}

func (pc *PlatformConsole) bidderGiveUp(w http.ResponseWriter, r *http.Request, s *Session) error {
	return pc.bidderAct(w, r, s, "giveup", func(a *platform.Application) (string, error) {
		if _, err := pc.svc.GiveUp(r.Context(), a.ApplyNo, r.PostFormValue("reason")); err != nil {
			return "", err
		}
		return "已提交放弃申请，等待金融机构确认", nil
	})
}

func (pc *PlatformConsole) bidderInvoice(w http.ResponseWriter, r *http.Request, s *Session) error {
	return pc.bidderAct(w, r, s, "invoice", func(a *platform.Application) (string, error) {
		f := r.PostFormValue
		in := platform.InvoiceInput{Type: f("type"), Address: f("address"), Phone: f("phone"), Bank: f("bank"), Account: f("account"),
			Email: f("email"), Mobile: f("mobile"), ContactName: f("contactname"), ContactAddress: f("contactaddress")}
		if _, err := pc.svc.RequestInvoice(r.Context(), a.ApplyNo, in); err != nil {
			return "", err
		}
		return "已提交开票申请", nil
	})
}

func (pc *PlatformConsole) bidderGuaranteeView(w http.ResponseWriter, r *http.Request, s *Session) error {
	a, err := pc.own(r.Context(), s, r.PathValue("applyno"))
	if err != nil {
		return err
	}
	return pc.viewGuarantee(w, r, s, a, pc.base+"/bidder/applications/"+a.ApplyNo)
}

func (pc *PlatformConsole) bidderGuaranteeFile(w http.ResponseWriter, r *http.Request, s *Session) error {
	a, err := pc.own(r.Context(), s, r.PathValue("applyno"))
	if err != nil {
		return err
	}
	return pc.serveGuarantee(w, r, a.ApplyNo)
}

// ---- staff ----

// homeCountCap is where the overview's counts per state stop counting
// (shown as "10000+").
const homeCountCap = 10000

func (pc *PlatformConsole) home(w http.ResponseWriter, r *http.Request, s *Session) error {
	ctx := r.Context()
	counts, err := pc.svc.CountStates(ctx, homeCountCap)
	if err != nil {
		return err
	}
	total, more := 0, false
	var states []stateCount
	for _, st := range platform.States {
		n := counts[st]
		total += n
		more = more || n >= homeCountCap
		states = append(states, stateCount{State: string(st), Label: st.Label(), N: n, More: n >= homeCountCap})
	}
	recent, err := pc.svc.Applications(ctx, platform.ApplicationFilter{Limit: 8})
	if err != nil {
		return err
	}
	secs, err := pc.openSections(ctx)
	if err != nil {
		return err
	}
	if len(secs) > 6 {
		secs = secs[:6]
	}
	pc.render(w, r, s, http.StatusOK, "plat_home", "概览", map[string]any{
		"Total": total, "TotalMore": more, "States": states, "Sections": secs, "Recent": recent, "Institutions": pc.svc.Institutions(),
	})
	return nil
}

// consolePage is the rows of a page of the console's long lists (标段;
// 投保申请 shows twice as many), each page continuing after the last row
// of the one before (keyset), so that a page costs the same however many
// rows there are.
const consolePage = 100

func (pc *PlatformConsole) sections(w http.ResponseWriter, r *http.Request, s *Session) error {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	f := platform.SectionFilter{Query: q, After: r.URL.Query().Get("after"), Limit: consolePage}
	secs, err := pc.svc.Sections(r.Context(), f)
	if err != nil {
		return err
	}
	more := ""
	if len(secs) == f.Limit {
		more = secs[len(secs)-1].No
	}
	pc.render(w, r, s, http.StatusOK, "plat_sections", "标段", map[string]any{"Sections": secs, "Q": q, "Now": time.Now(), "More": more})
	return nil
}

// sectionVerify is the 开标验真 of a section: every guarantee received for
// it, checked now against its QR code and its institution
// (platform.Service.CheckSection); every problem is shown.
func (pc *PlatformConsole) sectionVerify(w http.ResponseWriter, r *http.Request, s *Session) error {
	sc, err := pc.svc.CheckSection(r.Context(), r.PathValue("no"))
	if errors.Is(err, platform.ErrNotFound) {
		return errStatus(http.StatusNotFound, "标段不存在")
	}
	if err != nil {
		return err
	}
	pc.render(w, r, s, http.StatusOK, "plat_section_verify", "开标验真 "+sc.Section.No, sc)
	return nil
}

// parseLocalTime reads a datetime-local input as China Standard Time.
func parseLocalTime(v string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", protocol.TimeLayout} {
		if t, err := time.ParseInLocation(layout, strings.TrimSpace(v), protocol.CST); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("时间 %q 应为 yyyy-MM-dd HH:mm", v)
}

func (pc *PlatformConsole) registerSection(w http.ResponseWriter, r *http.Request, s *Session) error {
	f := r.PostFormValue
	return pc.act(w, r, s, "section.register", f("section_no"), pc.base+"/sections", func() (string, error) {
		bond, err := decimal.NewFromString(strings.TrimSpace(f("bond_amount")))
		if err != nil {
			return "", fmt.Errorf("保证金金额 %q 不是数字", f("bond_amount"))
		}
		kb, err := parseLocalTime(f("kaibiaotime"))
		if err != nil {
			return "", err
		}
		sec, err := pc.svc.RegisterSection(r.Context(), platform.SectionInput{No: strings.TrimSpace(f("section_no")), Name: strings.TrimSpace(f("name")),
			Tenderer: strings.TrimSpace(f("tenderer")), TendererCode: strings.TrimSpace(f("tenderer_code")), BondAmount: bond, KaibiaoTime: kb,
			InsuredContact: f("insured_contact"), InsuredPhone: f("insured_phone"), InsuredAddress: f("insured_address")})
		if err != nil {
			return "", err
		}
		return "已登记标段 " + sec.No, nil
	})
}

// postpone moves a section's bid opening later (only later: an earlier
// time is refused by the service, see advance).
func (pc *PlatformConsole) postpone(w http.ResponseWriter, r *http.Request, s *Session) error {
	no := r.PathValue("no")
	return pc.act(w, r, s, "section.postpone", no, pc.base+"/sections", func() (string, error) {
		to, err := parseLocalTime(r.PostFormValue("kaibiaotime"))
		if err != nil {
			return "", err
		}
		before, err := pc.svc.Section(r.Context(), no)
		if err != nil {
			return "", platformNotFound(err, "标段")
		}
		reason := strings.TrimSpace(r.PostFormValue("reason"))
		sec, err := pc.svc.Postpone(r.Context(), no, to, reason)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("标段 %s 开标时间由 %s 延期至 %s%s", sec.No, fmtTime(before.KaibiaoTime), fmtTime(sec.KaibiaoTime), reasonNote(reason)), nil
	})
}

// advance brings a section's bid opening forward: admins only, with a
// reason; the audit entry says from, to and why.
func (pc *PlatformConsole) advance(w http.ResponseWriter, r *http.Request, s *Session) error {
	no := r.PathValue("no")
	return pc.act(w, r, s, "section.advance", no, pc.base+"/sections", func() (string, error) {
		to, err := parseLocalTime(r.PostFormValue("kaibiaotime"))
		if err != nil {
			return "", err
		}
		before, err := pc.svc.Section(r.Context(), no)
		if err != nil {
			return "", platformNotFound(err, "标段")
		}
		reason := strings.TrimSpace(r.PostFormValue("reason"))
		sec, err := pc.svc.AdvanceOpening(r.Context(), no, to, reason)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("标段 %s 开标时间由 %s 提前至 %s%s", sec.No, fmtTime(before.KaibiaoTime), fmtTime(sec.KaibiaoTime), reasonNote(reason)), nil
	})
}

func reasonNote(reason string) string {
	if reason == "" {
		return ""
	}
	return "，原因：" + reason
}

func (pc *PlatformConsole) restoreSection(w http.ResponseWriter, r *http.Request, s *Session) error {
	no := r.PathValue("no")
	return pc.act(w, r, s, "section.restore", no, pc.base+"/sections", func() (string, error) {
		list, err := pc.svc.RestoreSectionNow(r.Context(), no)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("已为 %d 笔申请发送还原（baohanrestore）", len(list)), nil
	})
}

func (pc *PlatformConsole) applications(w http.ResponseWriter, r *http.Request, s *Session) error {
	q := r.URL.Query()
	f := platform.ApplicationFilter{State: platform.State(q.Get("state")), SectionNo: strings.TrimSpace(q.Get("section")), Institution: q.Get("institution"),
		BidderCode: strings.TrimSpace(q.Get("bidder")), ApplyNo: strings.TrimSpace(q.Get("applyno")), BaohanNo: strings.TrimSpace(q.Get("baohanno")),
		Before: q.Get("before"), Limit: 2 * consolePage}
	apps, err := pc.svc.Applications(r.Context(), f)
	if err != nil {
		return err
	}
	more := ""
	if len(apps) == f.Limit {
		more = apps[len(apps)-1].ApplyNo
	}
	pc.render(w, r, s, http.StatusOK, "plat_applications", "投保申请", map[string]any{"Apps": apps, "F": f, "States": platform.States, "Institutions": pc.svc.Institutions(), "More": more})
	return nil
}

func (pc *PlatformConsole) application(w http.ResponseWriter, r *http.Request, s *Session) error {
	d, err := pc.svc.Detail(r.Context(), r.PathValue("applyno"))
	if err != nil {
		return platformNotFound(err, "投保申请")
	}
	b, _ := pc.svc.Bidder(r.Context(), d.Application.BidderCode)
	pc.render(w, r, s, http.StatusOK, "plat_application", "投保申请 "+d.Application.ApplyNo, map[string]any{"D": d, "A": d.Application, "Bidder": b})
	return nil
}

func (pc *PlatformConsole) staffAct(w http.ResponseWriter, r *http.Request, s *Session, action string, fn func(applyNo string) (string, error)) error {
	no := r.PathValue("applyno")
	return pc.act(w, r, s, action, no, pc.base+"/applications/"+no, func() (string, error) { return fn(no) })
}

func (pc *PlatformConsole) cancel(w http.ResponseWriter, r *http.Request, s *Session) error {
	return pc.staffAct(w, r, s, "cancel", func(no string) (string, error) {
		a, err := pc.svc.Cancel(r.Context(), no, strings.TrimSpace(r.PostFormValue("reason")))
		if err != nil {
			return "", err
		}
		return "已发送注销（canclenotice）：" + a.State.Label(), nil
	})
}

func (pc *PlatformConsole) claim(w http.ResponseWriter, r *http.Request, s *Session) error {
	return pc.staffAct(w, r, s, "claim", func(no string) (string, error) {
		f := r.PostFormValue
		in := platform.ClaimInput{PayerAccount: f("payeraccount"), ApplyUserName: f("applyusername"), ApplyUserPhone: f("applyuserphone"), Reason: f("reason")}
		if v := strings.TrimSpace(f("payeramount")); v != "" {
			amt, err := decimal.NewFromString(v)
			if err != nil {
				return "", fmt.Errorf("赔付金额 %q 不是数字", v)
			}
			in.PayerAmount = amt
		}
		for _, line := range strings.Split(f("filelist"), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				in.FileList = append(in.FileList, line)
			}
		}
		if _, err := pc.svc.Claim(r.Context(), no, in); err != nil {
			return "", err
		}
		return "已发送理赔（claimsnotice）", nil
	})
}

func (pc *PlatformConsole) restore(w http.ResponseWriter, r *http.Request, s *Session) error {
	return pc.staffAct(w, r, s, "restore", func(no string) (string, error) {
		if _, err := pc.svc.RestoreNow(r.Context(), no); err != nil {
			return "", err
		}
		return "已发送还原（baohanrestore）", nil
	})
}

func (pc *PlatformConsole) guaranteeView(w http.ResponseWriter, r *http.Request, s *Session) error {
	a, err := pc.svc.Application(r.Context(), r.PathValue("applyno"))
	if err != nil {
		return platformNotFound(err, "投保申请")
	}
	return pc.viewGuarantee(w, r, s, a, pc.base+"/applications/"+a.ApplyNo)
}

// claimOutcomeFile serves the kept copy of a transfer voucher of a claim
// outcome.
func (pc *PlatformConsole) claimOutcomeFile(w http.ResponseWriter, r *http.Request, s *Session) error {
	seq, err1 := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	n, err2 := strconv.Atoi(r.PathValue("n"))
	if err1 != nil || err2 != nil {
		return platformNotFound(platform.ErrNotFound, "转账凭证")
	}
	k, data, err := pc.svc.ClaimOutcomeFile(r.Context(), r.PathValue("applyno"), seq, n)
	if err != nil {
		return platformNotFound(err, "转账凭证")
	}
	w.Header().Set("Cache-Control", "private, no-store")
	service.ServeKeptFile(w, k, data)
	return nil
}

func (pc *PlatformConsole) guaranteeFile(w http.ResponseWriter, r *http.Request, s *Session) error {
	return pc.serveGuarantee(w, r, r.PathValue("applyno"))
}

func (pc *PlatformConsole) readGuarantee(ctx context.Context, applyNo string, ft int) ([]byte, *platform.Guarantee, error) {
	rc, g, err := pc.svc.OpenGuarantee(ctx, applyNo, ft)
	if err != nil {
		return nil, nil, platformNotFound(err, "保函文件")
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return b, g, err
}

func (pc *PlatformConsole) viewGuarantee(w http.ResponseWriter, r *http.Request, s *Session, a *platform.Application, back string) error {
	ft, err := fileType(r)
	if err != nil {
		return err
	}
	doc, g, err := pc.readGuarantee(r.Context(), a.ApplyNo, ft)
	if err != nil {
		return err
	}
	dv := makeDocView(fileTypeLabel(ft)+" "+g.BaohanNo, doc, pc.roots, r.URL.Path+"/ofd")
	data := map[string]any{"A": a, "G": g, "Doc": dv, "Back": back}
	if c, err := pc.svc.LastCheck(r.Context(), a.ApplyNo); err == nil {
		data["Check"] = c // the latest verification (验真) of the guarantee
	}
	pc.render(w, r, s, http.StatusOK, "plat_guarantee", fileTypeLabel(ft)+" "+g.BaohanNo, data)
	return nil
}

func (pc *PlatformConsole) serveGuarantee(w http.ResponseWriter, r *http.Request, applyNo string) error {
	ft, err := fileType(r)
	if err != nil {
		return err
	}
	doc, g, err := pc.readGuarantee(r.Context(), applyNo, ft)
	if err != nil {
		return err
	}
	writeOFD(w, fmt.Sprintf("%s-%d.ofd", g.BaohanNo, ft), doc)
	return nil
}

func (pc *PlatformConsole) guarantees(w http.ResponseWriter, r *http.Request, s *Session) error {
	list, err := pc.svc.Guarantees(r.Context(), "", 200, 0)
	if err != nil {
		return err
	}
	pc.render(w, r, s, http.StatusOK, "plat_guarantees", "保函", map[string]any{"List": list})
	return nil
}

func (pc *PlatformConsole) bidders(w http.ResponseWriter, r *http.Request, s *Session) error {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	list, err := pc.svc.Bidders(r.Context(), q, 200, 0)
	if err != nil {
		return err
	}
	pc.render(w, r, s, http.StatusOK, "plat_bidders", "投标人", map[string]any{"List": list, "Q": q})
	return nil
}

func (pc *PlatformConsole) registerBidder(w http.ResponseWriter, r *http.Request, s *Session) error {
	f := r.PostFormValue
	return pc.act(w, r, s, "bidder.register", f("credit_code"), pc.base+"/bidders", func() (string, error) {
		b, err := pc.svc.RegisterBidder(r.Context(), platform.BidderInput{Name: strings.TrimSpace(f("name")), CreditCode: strings.TrimSpace(f("credit_code")), CertPEM: f("cert_pem"),
			ContactName: f("contact_name"), ContactPhone: f("contact_phone")})
		if err != nil {
			return "", err
		}
		return "已登记投标人 " + b.Name, nil
	})
}
