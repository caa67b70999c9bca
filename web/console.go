package web

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/baohan-dev/baohan/bidderauth"
	"github.com/baohan-dev/baohan/internal/httpjson"
	"github.com/baohan-dev/baohan/transport"
)

//go:embed templates static
var assets embed.FS

// Options configure a console.
type Options struct {
	// Base is the path the console is mounted at, e.g. "/console" (the
	// default). The handler expects requests with the prefix still on.
	Base string
	// AgentURL is where pages find the bidder's CA agent (default
	// http://127.0.0.1:17650).
	AgentURL string
	Logger   *slog.Logger
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the browser (listen.trusted_proxies): the login throttle and the
	// audit trail then see the browser's address, not the proxy's.
	TrustedProxies []netip.Prefix
}

// DefaultAgentURL is the CA agent's default address.
const DefaultAgentURL = "http://127.0.0.1:17650"

// NavItem is a link of the console's menu.
type NavItem struct {
	Path, Label string
	Min         Role
}

// console is the machinery both consoles share: sessions, roles, CSRF,
// audit, templates, static assets and security headers.
type console struct {
	proxies  []netip.Prefix
	auth     *Auth
	msgs     messageLog // the service's message log
	title    string
	base     string
	agentURL string
	log      *slog.Logger
	mux      *http.ServeMux
	pages    map[string]*template.Template
	nav      []NavItem
	home     map[Role]string // where each role lands after login
	assetV   string
	csp      string
}

func newConsole(auth *Auth, title string, o Options) (*console, error) {
	c := &console{auth: auth, title: title, base: strings.TrimSuffix(o.Base, "/"), agentURL: o.AgentURL, log: o.Logger, proxies: o.TrustedProxies,
		mux: http.NewServeMux(), home: map[Role]string{}}
	pages, err := parsePages()
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	c.pages = pages
	if c.base == "" {
		c.base = "/console"
	}
	if c.agentURL == "" {
		c.agentURL = DefaultAgentURL
	}
	agentOrigin, err := bidderauth.NormalizeOrigin(c.agentURL)
	if err != nil {
		return nil, fmt.Errorf("web: agent URL: %w", err)
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	h := sha256.New()
	fs.WalkDir(assets, "static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := assets.ReadFile(p)
			h.Write(b)
		}
		return nil
	})
	c.assetV = hex.EncodeToString(h.Sum(nil))[:10]
	c.csp = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
		"connect-src 'self' " + agentOrigin + "; frame-ancestors 'none'; base-uri 'none'"
	c.mux.Handle("GET "+c.base+"/static/", http.StripPrefix(c.base, http.HandlerFunc(c.serveStatic)))
	c.mux.HandleFunc("GET "+c.base+"/login", c.loginPage)
	c.mux.HandleFunc("POST "+c.base+"/login", c.loginPost)
	c.handle("POST /logout", "", c.logout)
	c.handle("GET /users", Admin, c.usersPage)
	c.handle("POST /users", Admin, c.usersCreate)
	c.handle("POST /users/{name}", Admin, c.usersUpdate)
	c.handle("GET /audit", Admin, c.auditPage)
	c.handle("GET /messages", Viewer, c.messagesPage)
	c.handle("GET /messages/{id}", Viewer, c.messagePage)
	c.handle("GET /messages/{id}/{part}", Viewer, c.messageBody)
	c.handle("POST /messages/verify", Operator, c.verifyChain)
	c.handle("GET /password", Viewer, c.passwordPage)
	c.handle("POST /password", Viewer, c.passwordPost)
	return c, nil
}

func (c *console) serveStatic(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=86400")
	http.FileServerFS(assets).ServeHTTP(w, r)
}

// favicon answers browsers' /favicon.ico (pages link static/icon.svg;
// this keeps the request out of the service's protocol handler and its
// message log).
func (c *console) favicon(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, c.base+"/static/icon.svg?v="+c.assetV, http.StatusMovedPermanently)
}

// ServeHTTP adds the security headers and refuses cross-origin writes
// (Sec-Fetch-Site / Origin, net/http's CrossOriginProtection) before the
// routes; the per-session CSRF token is checked in handle.
func (c *console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.securityHeaders(w)
	if r.URL.Path == c.base {
		http.Redirect(w, r, c.base+"/", http.StatusFound)
		return
	}
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, nil, http.StatusForbidden, "跨站请求被拒绝 (cross-origin request refused)")
	}))
	cop.Handler(c.mux).ServeHTTP(w, r)
}

// handler is a console action: it gets the live session, already checked
// for its role and (on POST) its CSRF token.
type handler func(w http.ResponseWriter, r *http.Request, s *Session) error

// httpError is an error with the status and message to show.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errStatus(status int, format string, a ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, a...)}
}

// handle registers pattern ("GET /path") under the console's base for
// sessions of role min ("" = any logged-in session).
func (c *console) handle(pattern string, min Role, h handler) {
	method, path, _ := strings.Cut(pattern, " ")
	c.mux.HandleFunc(method+" "+c.base+path, func(w http.ResponseWriter, r *http.Request) {
		s, err := c.auth.FromRequest(r)
		if err != nil {
			if errors.Is(err, ErrNoSession) {
				if r.Method == http.MethodGet {
					http.Redirect(w, r, c.base+"/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
					return
				}
				c.fail(w, r, nil, http.StatusUnauthorized, ErrNoSession.Error())
				return
			}
			c.fail(w, r, nil, http.StatusInternalServerError, err.Error())
			return
		}
		if min != "" && !s.Role.Allows(min) {
			c.auth.Audit(r.Context(), AuditEntry{Actor: s.Subject, Role: s.Role, Action: "forbidden", Target: r.Method + " " + r.URL.Path, OK: false, IP: c.clientIP(r)})
			c.fail(w, r, s, http.StatusForbidden, fmt.Sprintf("权限不足：需要%s权限 (this needs the %s role)", min.Label(), min))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := readBody(w, r, maxFormBody); err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					c.fail(w, r, s, http.StatusRequestEntityTooLarge, fmt.Sprintf("提交的内容过大：控制台的表单至多 %d KiB (the request body is over the console's limit of %d bytes)", maxFormBody>>10, maxFormBody))
					return
				}
				if r.Context().Err() == nil {
					c.fail(w, r, s, http.StatusBadRequest, "无法读取提交的表单 (the request body could not be read): "+err.Error())
				}
				return
			}
			got := r.Header.Get("X-CSRF-Token")
			if got == "" {
				got = r.PostFormValue("csrf")
			}
			if subtle.ConstantTimeCompare([]byte(got), []byte(s.CSRF)) != 1 {
				c.auth.Audit(r.Context(), AuditEntry{Actor: s.Subject, Role: s.Role, Action: "csrf", Target: r.Method + " " + r.URL.Path, OK: false, IP: c.clientIP(r)})
				c.fail(w, r, s, http.StatusForbidden, "表单已过期，请刷新页面后重试 (CSRF token missing or wrong)")
				return
			}
		}
		if err := h(w, r, s); err != nil {
			var he *httpError
			if errors.As(err, &he) {
				c.fail(w, r, s, he.status, he.msg)
				return
			}
			c.log.Error("web: handler", "path", r.URL.Path, "err", err)
			c.fail(w, r, s, http.StatusInternalServerError, err.Error())
		}
	})
}

// maxFormBody bounds the body of every console POST but the login's
// (maxLoginBody, maxCALoginBody): the console's forms carry short text
// (reasons, invoice details, a claim's document URLs) and at most one
// PEM certificate (registering a bidder); no console page uploads a
// file (the bidder's signed agreement goes to the institution's
// /bidder/<token>/agreement, bounded there).
const maxFormBody = 64 << 10

// readBody reads r's body, of at most limit bytes (a *http.MaxBytesError
// past it), before the handler runs: a form is parsed (multipart in
// memory), any other body (JSON) is read into memory and put back. The
// handlers then cannot read more, nor the form parser spill to disk.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) error {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/x-www-form-urlencoded":
		return r.ParseForm()
	case "multipart/form-data":
		return r.ParseMultipartForm(limit)
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return nil
}

// act runs a state-changing action for s, audits it, and redirects to
// back with the outcome as a flash message.
func (c *console) act(w http.ResponseWriter, r *http.Request, s *Session, action, target, back string, fn func() (string, error)) error {
	msg, err := fn()
	e := AuditEntry{Actor: s.Subject, Role: s.Role, Action: action, Target: target, OK: err == nil, IP: c.clientIP(r)}
	if err != nil {
		e.Detail = err.Error()
	} else {
		e.Detail = msg
	}
	c.auth.Audit(r.Context(), e)
	if err != nil {
		c.flash(w, r, "error", err.Error())
	} else if msg != "" {
		c.flash(w, r, "ok", msg)
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
	return nil
}

func (c *console) flashName() string { return "baohan_" + c.auth.realm + "_flash" }

func (c *console) flash(w http.ResponseWriter, r *http.Request, kind, msg string) {
	v := url.QueryEscape(kind + ":" + truncate(msg, 1000))
	http.SetCookie(w, &http.Cookie{Name: c.flashName(), Value: v, Path: c.base + "/", MaxAge: 60, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: c.auth.secure || r.TLS != nil})
}

func (c *console) takeFlash(w http.ResponseWriter, r *http.Request) (kind, msg string) {
	ck, err := r.Cookie(c.flashName())
	if err != nil {
		return "", ""
	}
	http.SetCookie(w, &http.Cookie{Name: c.flashName(), Path: c.base + "/", MaxAge: -1})
	v, _ := url.QueryUnescape(ck.Value)
	kind, msg, _ = strings.Cut(v, ":")
	return kind, msg
}

// view is what every page template gets.
type view struct {
	Title     string
	Console   string
	Base      string
	AgentURL  string
	AssetV    string
	S         *Session
	Nav       []navLink
	FlashKind string
	Flash     string
	Status    int
	Data      any
}

type navLink struct {
	Href, Label string
	Active      bool
}

// parsePages parses every page template with the layout and the
// partials, once: page templates define "content".
func parsePages() (map[string]*template.Template, error) {
	files, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/partials.html", f)
		if err != nil {
			return nil, err
		}
		pages[name] = t
	}
	return pages, nil
}

// render writes page name with data for session s (nil on public pages).
func (c *console) render(w http.ResponseWriter, r *http.Request, s *Session, status int, name, title string, data any) {
	v := view{Title: title, Console: c.title, Base: c.base, AgentURL: c.agentURL, AssetV: c.assetV, S: s, Status: status, Data: data}
	v.FlashKind, v.Flash = c.takeFlash(w, r)
	if s != nil {
		// The active link is the longest one the path is under.
		best, bestLen := -1, 0
		for _, n := range c.nav {
			if !s.Role.Allows(n.Min) {
				continue
			}
			href := c.base + n.Path
			if (r.URL.Path == href || (n.Path != "/" && strings.HasPrefix(r.URL.Path, href+"/"))) && len(href) > bestLen {
				best, bestLen = len(v.Nav), len(href)
			}
			v.Nav = append(v.Nav, navLink{Href: href, Label: n.Label})
		}
		if best >= 0 {
			v.Nav[best].Active = true
		}
	}
	var buf bytes.Buffer
	t, ok := c.pages[name]
	if !ok {
		c.log.Error("web: no such page template", "page", name)
		http.Error(w, "template error", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		c.log.Error("web: template", "page", name, "err", err)
		http.Error(w, "template error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail answers an error: JSON for scripts, a page for people.
func (c *console) fail(w http.ResponseWriter, r *http.Request, s *Session, status int, msg string) {
	if wantsJSON(r) {
		httpjson.Write(w, status, map[string]string{"error": msg})
		return
	}
	c.render(w, r, s, status, "error", "出错了", msg)
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json") || strings.HasPrefix(r.Header.Get("Content-Type"), "application/json")
}

// clientIP is the browser's address: the connection's, or the one a
// trusted proxy names (Options.TrustedProxies).
func (c *console) clientIP(r *http.Request) string {
	if a := transport.ClientAddr(r, c.proxies); a.IsValid() {
		return a.String()
	}
	return "unknown"
}

// safeNext keeps a post-login redirect inside the console.
func (c *console) safeNext(next string, role Role) string {
	if strings.HasPrefix(next, c.base+"/") && !strings.HasPrefix(next, "//") && !strings.Contains(next, "\\") {
		return next
	}
	if h, ok := c.home[role]; ok {
		return c.base + h
	}
	return c.base + "/"
}

func (c *console) loginPage(w http.ResponseWriter, r *http.Request) {
	if s, err := c.auth.FromRequest(r); err == nil {
		http.Redirect(w, r, c.safeNext(r.URL.Query().Get("next"), s.Role), http.StatusSeeOther)
		return
	}
	c.auth.PreSession(w, r)
	c.render(w, r, nil, http.StatusOK, "login", "登录", map[string]any{"Next": r.URL.Query().Get("next"), "BidderLogin": c.home[Bidder] != ""})
}

// errLoginFailed is the answer to a password login refused for the
// username, the password or the account (unknown, wrong, disabled,
// locked): one answer for all, so that it does not tell who has an
// account. The audit log says which it was.
var errLoginFailed = errors.New("用户名或密码错误；连续多次错误后账号将暂时锁定，请稍后再试 (wrong username or password; after repeated failures an account is locked for a while)")

// maxLoginBody bounds the body of a login POST: a username, a password
// of at most 1024 bytes and a next path fit many times over.
const maxLoginBody = 16 << 10

func (c *console) loginPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := r.ParseForm(); err != nil {
		c.fail(w, r, nil, http.StatusRequestEntityTooLarge, fmt.Sprintf("登录请求过大或无法解析 (the login form must be a form of at most %d bytes)", maxLoginBody))
		return
	}
	user, pass := strings.TrimSpace(r.PostFormValue("username")), r.PostFormValue("password")
	s, token, err := c.auth.LoginDevice(r.Context(), user, pass, c.clientIP(r), c.auth.DeviceCookie(r))
	if err != nil {
		status := http.StatusUnauthorized
		var te *ThrottleError
		switch {
		case errors.As(err, &te):
			status = http.StatusTooManyRequests
			w.Header().Set("Retry-After", strconv.Itoa(max(int(te.RetryAfter.Round(time.Second)/time.Second), 1)))
		case errors.Is(err, ErrBusy):
			status = http.StatusServiceUnavailable
			w.Header().Set("Retry-After", "1")
		case errors.Is(err, ErrBadLogin), errors.Is(err, ErrLocked):
			err = errLoginFailed
		case r.Context().Err() != nil:
			return // the browser went away
		default:
			c.log.Error("web: login", "err", err)
			status = http.StatusInternalServerError
		}
		if !validUsername(user) {
			user = "" // not echoed: it may be anything, of any size
		}
		next := r.PostFormValue("next")
		if !strings.HasPrefix(next, c.base+"/") {
			next = ""
		}
		c.render(w, r, nil, status, "login", "登录", map[string]any{"Next": next, "Error": err.Error(), "Username": user, "BidderLogin": c.home[Bidder] != ""})
		return
	}
	c.auth.SetSessionCookie(w, r, token)
	if s.Device != "" {
		c.auth.SetDeviceCookie(w, r, c.base+"/", s.Device)
	}
	http.Redirect(w, r, c.safeNext(r.PostFormValue("next"), s.Role), http.StatusSeeOther)
}

func (c *console) logout(w http.ResponseWriter, r *http.Request, s *Session) error {
	if err := c.auth.Logout(r.Context(), s); err != nil {
		return err
	}
	c.auth.Audit(r.Context(), AuditEntry{Actor: s.Subject, Role: s.Role, Action: "logout", OK: true, IP: c.clientIP(r)})
	c.auth.ClearSessionCookie(w, r)
	http.Redirect(w, r, c.base+"/login", http.StatusSeeOther)
	return nil
}

func (c *console) usersPage(w http.ResponseWriter, r *http.Request, s *Session) error {
	users, err := c.auth.Users(r.Context())
	if err != nil {
		return err
	}
	c.render(w, r, s, http.StatusOK, "users", "账号管理", map[string]any{"Users": users, "Roles": Roles})
	return nil
}

func (c *console) usersCreate(w http.ResponseWriter, r *http.Request, s *Session) error {
	name := strings.TrimSpace(r.PostFormValue("username"))
	return c.act(w, r, s, "user.create", name, c.base+"/users", func() (string, error) {
		role, err := ParseRole(r.PostFormValue("role"))
		if err != nil {
			return "", err
		}
		if _, err := c.auth.CreateUser(r.Context(), name, strings.TrimSpace(r.PostFormValue("display_name")), role, r.PostFormValue("password")); err != nil {
			return "", err
		}
		return fmt.Sprintf("已创建账号 %s（%s）", name, role.Label()), nil
	})
}

func (c *console) usersUpdate(w http.ResponseWriter, r *http.Request, s *Session) error {
	name := r.PathValue("name")
	return c.act(w, r, s, "user.update", name, c.base+"/users", func() (string, error) {
		if pw := r.PostFormValue("password"); pw != "" {
			if err := c.auth.SetPassword(r.Context(), name, pw); err != nil {
				return "", err
			}
			return "已重置 " + name + " 的密码", nil
		}
		role, err := ParseRole(r.PostFormValue("role"))
		if err != nil {
			return "", err
		}
		disabled := r.PostFormValue("disabled") == "1"
		if err := c.auth.UpdateUser(r.Context(), name, role, disabled); err != nil {
			return "", err
		}
		state := "启用"
		if disabled {
			state = "停用"
		}
		return fmt.Sprintf("已更新 %s：%s，%s", name, role.Label(), state), nil
	})
}

func (c *console) auditPage(w http.ResponseWriter, r *http.Request, s *Session) error {
	q := r.URL.Query()
	f := AuditFilter{Actor: q.Get("actor"), Action: q.Get("action"), Target: q.Get("target"), Limit: 200}
	entries, err := c.auth.AuditLog(r.Context(), f)
	if err != nil {
		return err
	}
	c.render(w, r, s, http.StatusOK, "audit", "审计日志", map[string]any{"Entries": entries, "Filter": f})
	return nil
}

func (c *console) passwordPage(w http.ResponseWriter, r *http.Request, s *Session) error {
	c.render(w, r, s, http.StatusOK, "password", "修改密码", nil)
	return nil
}

func (c *console) passwordPost(w http.ResponseWriter, r *http.Request, s *Session) error {
	if s.IsBidder() {
		return errStatus(http.StatusForbidden, "投标人使用CA证书登录，没有密码")
	}
	return c.act(w, r, s, "password.change", s.Subject, c.base+"/password", func() (string, error) {
		if _, err := c.auth.CheckLoginDevice(r.Context(), s.Subject, r.PostFormValue("current"), c.clientIP(r), c.auth.DeviceCookie(r)); err != nil {
			if errors.Is(err, ErrBusy) || errors.Is(err, ErrLocked) {
				return "", err
			}
			return "", errors.New("当前密码不正确 (current password is wrong)")
		}
		if r.PostFormValue("new") != r.PostFormValue("repeat") {
			return "", errors.New("两次输入的新密码不一致 (the new passwords differ)")
		}
		if err := c.auth.SetPassword(r.Context(), s.Subject, r.PostFormValue("new")); err != nil {
			return "", err
		}
		return "密码已修改，请重新登录", nil
	})
}
