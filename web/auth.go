package web

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/baohan-dev/baohan/store"
)

// Role is what a staff member may do. Each role may do what the roles
// before it may.
type Role string

const (
	// Viewer reads every page.
	Viewer Role = "viewer"
	// Operator also acts on applications (approve, postpone, cancel...).
	Operator Role = "operator"
	// Admin also manages the staff accounts and reads the audit log.
	Admin Role = "admin"
	// Bidder is the role of a bidder's session (platform bidder portal);
	// it is not a staff role and ranks below Viewer.
	Bidder Role = "bidder"
)

// Roles lists the staff roles, least first.
var Roles = []Role{Viewer, Operator, Admin}

func (r Role) rank() int {
	switch r {
	case Viewer:
		return 1
	case Operator:
		return 2
	case Admin:
		return 3
	}
	return 0
}

// Allows reports whether a session of role r may do what needs role min.
func (r Role) Allows(min Role) bool {
	if min == Bidder || r == Bidder {
		return r == min
	}
	return r.rank() > 0 && r.rank() >= min.rank()
}

// Label is the role's name in Chinese.
func (r Role) Label() string {
	switch r {
	case Viewer:
		return "查看员"
	case Operator:
		return "经办员"
	case Admin:
		return "管理员"
	case Bidder:
		return "投标人"
	}
	return string(r)
}

// ParseRole parses a staff role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if r.rank() == 0 {
		return "", fmt.Errorf("role %q: want viewer, operator or admin", s)
	}
	return r, nil
}

// Auth keeps the staff accounts, the sessions, the login challenges and
// the audit log of one console (its realm) in the service's database.
type Auth struct {
	db      *store.DB
	realm   string
	now     func() time.Time
	log     *slog.Logger
	idle    time.Duration
	maxAge  time.Duration
	secure  bool // cookies Secure even without TLS on the connection (behind a TLS proxy)
	cookie  string
	pre     string
	lockout int
}

// AuthOption configures NewAuth.
type AuthOption func(*Auth)

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) AuthOption { return func(a *Auth) { a.now = now } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) AuthOption { return func(a *Auth) { a.log = l } }

// WithSessionLifetime sets the idle timeout and the absolute lifetime of
// sessions (default 2h and 12h).
func WithSessionLifetime(idle, maxAge time.Duration) AuthOption {
	return func(a *Auth) { a.idle, a.maxAge = idle, maxAge }
}

// WithSecureCookies marks cookies Secure on plain-HTTP connections too,
// for a console behind a TLS-terminating proxy. (On TLS connections they
// always are.)
func WithSecureCookies() AuthOption { return func(a *Auth) { a.secure = true } }

var realmRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,30}$`)

// NewAuth migrates the consoles' tables in db and returns the Auth of
// realm ("platform", "institution").
func NewAuth(ctx context.Context, db *store.DB, realm string, opts ...AuthOption) (*Auth, error) {
	if !realmRE.MatchString(realm) {
		return nil, fmt.Errorf("web: realm %q: want a lower-case name like \"platform\"", realm)
	}
	a := &Auth{db: db, realm: realm, now: time.Now, idle: 2 * time.Hour, maxAge: 12 * time.Hour,
		cookie: "baohan_" + realm + "_session", pre: "baohan_" + realm + "_pre", lockout: 5}
	for _, o := range opts {
		o(a)
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if err := Migrate(ctx, db); err != nil {
		return nil, err
	}
	return a, nil
}

// Realm is the console this Auth serves.
func (a *Auth) Realm() string { return a.realm }

func micros(t time.Time) int64 { return t.UnixMicro() }

// User is a staff account.
type User struct {
	ID          int64
	Username    string
	DisplayName string
	Role        Role
	Disabled    bool
	CreatedAt   time.Time
}

var usernameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$`)

// Errors of the account operations.
var (
	ErrUserExists   = errors.New("用户名已存在 (username taken)")
	ErrNoUser       = errors.New("用户不存在 (no such user)")
	ErrBadLogin     = errors.New("用户名或密码错误 (wrong username or password)")
	ErrLocked       = errors.New("登录失败次数过多，请稍后再试 (too many failed logins: locked for a while)")
	ErrLastAdmin    = errors.New("不能停用或降级最后一个管理员 (the last admin cannot be disabled or demoted)")
	ErrNoSession    = errors.New("未登录或会话已过期 (not logged in, or the session expired)")
	ErrBadChallenge = errors.New("登录挑战无效或已过期，请重试 (the login challenge is unknown, used or expired)")
)

// CreateUser adds a staff account.
func (a *Auth) CreateUser(ctx context.Context, username, displayName string, role Role, password string) (*User, error) {
	if !usernameRE.MatchString(username) {
		return nil, fmt.Errorf("用户名 %q 无效：2-64 个字母、数字或 ._@- (username: letters, digits, ._@-)", username)
	}
	if role.rank() == 0 {
		return nil, fmt.Errorf("role %q: want viewer, operator or admin", role)
	}
	hash, err := HashPassword(password)
	if err != nil {
		return nil, err
	}
	if displayName == "" {
		displayName = username
	}
	now := micros(a.now())
	var id int64
	err = a.db.InTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, a.db.Rebind(`SELECT COUNT(*) FROM web_users WHERE realm = ? AND username = ?`), a.realm, username).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrUserExists
		}
		return tx.QueryRowContext(ctx, a.db.Rebind(`INSERT INTO web_users (realm, username, display_name, role, password_hash, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`), a.realm, username, displayName, string(role), hash, now, now).Scan(&id)
	})
	if err != nil {
		return nil, err
	}
	return &User{ID: id, Username: username, DisplayName: displayName, Role: role, CreatedAt: time.UnixMicro(now)}, nil
}

// Users lists the staff accounts by username.
func (a *Auth) Users(ctx context.Context) ([]User, error) {
	rows, err := a.db.QueryContext(ctx, a.db.Rebind(`SELECT id, username, display_name, role, disabled, created_at FROM web_users WHERE realm = ? ORDER BY username`), a.realm)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		var u User
		var created int64
		if err := rows.Scan(&u.ID, &u.Username, &u.DisplayName, &u.Role, &u.Disabled, &created); err != nil {
			return nil, err
		}
		u.CreatedAt = time.UnixMicro(created)
		out = append(out, u)
	}
	return out, rows.Err()
}

// UpdateUser changes a staff account's role and whether it is disabled.
// Disabling a user ends its sessions. The last enabled admin stays one.
func (a *Auth) UpdateUser(ctx context.Context, username string, role Role, disabled bool) error {
	if role.rank() == 0 {
		return fmt.Errorf("role %q: want viewer, operator or admin", role)
	}
	return a.db.InTx(ctx, func(tx *sql.Tx) error {
		var id int64
		var cur Role
		var wasDisabled bool
		err := tx.QueryRowContext(ctx, a.db.Rebind(`SELECT id, role, disabled FROM web_users WHERE realm = ? AND username = ?`), a.realm, username).Scan(&id, &cur, &wasDisabled)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNoUser
		}
		if err != nil {
			return err
		}
		if cur == Admin && !wasDisabled && (role != Admin || disabled) {
			var admins int
			if err := tx.QueryRowContext(ctx, a.db.Rebind(`SELECT COUNT(*) FROM web_users WHERE realm = ? AND role = 'admin' AND NOT disabled`), a.realm).Scan(&admins); err != nil {
				return err
			}
			if admins <= 1 {
				return ErrLastAdmin
			}
		}
		if _, err := tx.ExecContext(ctx, a.db.Rebind(`UPDATE web_users SET role = ?, disabled = ?, updated_at = ? WHERE id = ?`), string(role), disabled, micros(a.now()), id); err != nil {
			return err
		}
		// A changed role or a disabled account takes effect now, not at
		// the next login.
		_, err = tx.ExecContext(ctx, a.db.Rebind(`DELETE FROM web_sessions WHERE realm = ? AND kind = 'staff' AND user_id = ?`), a.realm, id)
		return err
	})
}

// SetPassword sets a staff account's password, clears its lockout and
// ends its sessions.
func (a *Auth) SetPassword(ctx context.Context, username, password string) error {
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return a.db.InTx(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, a.db.Rebind(`SELECT id FROM web_users WHERE realm = ? AND username = ?`), a.realm, username).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNoUser
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, a.db.Rebind(`UPDATE web_users SET password_hash = ?, failed_logins = 0, locked_until = 0, updated_at = ? WHERE id = ?`), hash, micros(a.now()), id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, a.db.Rebind(`DELETE FROM web_sessions WHERE realm = ? AND kind = 'staff' AND user_id = ?`), a.realm, id)
		return err
	})
}

// Account is a staff account to create, with its password in clear (to
// print once).
type Account struct {
	Username string
	Role     Role
	Password string
}

// EnsureAdmin makes sure the console has an account: when it has none, it
// creates admin account username (default "admin") with password (a random
// one when empty) and returns it, for printing once. When accounts exist
// it returns nil.
func (a *Auth) EnsureAdmin(ctx context.Context, username, password string) (*Account, error) {
	var n int
	if err := a.db.QueryRowContext(ctx, a.db.Rebind(`SELECT COUNT(*) FROM web_users WHERE realm = ?`), a.realm).Scan(&n); err != nil {
		return nil, err
	}
	if n > 0 {
		return nil, nil
	}
	if username == "" {
		username = "admin"
	}
	if password == "" {
		password = RandomPassword()
	}
	if _, err := a.CreateUser(ctx, username, "管理员", Admin, password); err != nil {
		if errors.Is(err, ErrUserExists) { // another replica won the race
			return nil, nil
		}
		return nil, err
	}
	a.log.Info("web: created the first admin account", "realm", a.realm, "username", username)
	return &Account{Username: username, Role: Admin, Password: password}, nil
}

// DemoAccounts creates (or resets) one account per role, "admin",
// "operator" and "viewer", with fresh random passwords, and returns them
// to print. For demos: it changes the passwords of existing accounts of
// those names.
func (a *Auth) DemoAccounts(ctx context.Context) ([]Account, error) {
	var out []Account
	for _, r := range []Role{Admin, Operator, Viewer} {
		acc := Account{Username: string(r), Role: r, Password: RandomPassword()}
		_, err := a.CreateUser(ctx, acc.Username, r.Label(), r, acc.Password)
		if errors.Is(err, ErrUserExists) {
			if err = a.UpdateUser(ctx, acc.Username, r, false); err == nil {
				err = a.SetPassword(ctx, acc.Username, acc.Password)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("demo account %s: %w", acc.Username, err)
		}
		out = append(out, acc)
	}
	return out, nil
}

// Session is a logged-in staff member or bidder.
type Session struct {
	Kind      string // "staff" or "bidder"
	UserID    int64  // staff
	Subject   string // the username, or the bidder's 统一社会信用代码
	Name      string // display name (the bidder's company name)
	Role      Role
	CSRF      string
	ExpiresAt time.Time
	tokenHash string
}

// IsBidder reports whether s is a bidder's session.
func (s *Session) IsBidder() bool { return s != nil && s.Kind == "bidder" }

func hashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

// dummyHash is checked for unknown usernames, so that the time a login
// takes does not tell whether the account exists.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$5H2Qv8T5b8qSbmS+0fMmHXL4ohbSB3dXWlTQ+9WkKmI"

// Login checks a staff member's password and opens a session. Five
// failures in a row lock the account for 5 minutes; every attempt is
// audited.
func (a *Auth) Login(ctx context.Context, username, password, ip string) (*Session, string, error) {
	s, err := a.CheckLogin(ctx, username, password, ip)
	if err != nil {
		return nil, "", err
	}
	token, err := a.open(ctx, s)
	if err != nil {
		return nil, "", err
	}
	a.Audit(ctx, AuditEntry{Actor: username, Role: s.Role, Action: "login", OK: true, IP: ip})
	return s, token, nil
}

// CheckLogin checks a staff member's password, counting failures like
// Login, and returns the session it would open, unopened.
func (a *Auth) CheckLogin(ctx context.Context, username, password, ip string) (*Session, error) {
	var (
		id            int64
		hash, display string
		role          Role
		disabled      bool
		failed        int
		lockedUntil   int64
		found         = true
		now           = a.now()
	)
	err := a.db.QueryRowContext(ctx, a.db.Rebind(`SELECT id, password_hash, display_name, role, disabled, failed_logins, locked_until
		FROM web_users WHERE realm = ? AND username = ?`), a.realm, username).Scan(&id, &hash, &display, &role, &disabled, &failed, &lockedUntil)
	if errors.Is(err, sql.ErrNoRows) {
		found, hash = false, dummyHash
	} else if err != nil {
		return nil, err
	}
	if found && lockedUntil > micros(now) {
		a.Audit(ctx, AuditEntry{Actor: username, Action: "login", Detail: "locked", OK: false, IP: ip})
		return nil, ErrLocked
	}
	ok := CheckPassword(hash, password) // also for unknown users, so timing tells nothing
	if !found || !ok || disabled {
		if found {
			failed++
			lock := int64(0)
			if failed >= a.lockout {
				lock, failed = micros(now.Add(5*time.Minute)), 0
			}
			if _, err := a.db.ExecContext(ctx, a.db.Rebind(`UPDATE web_users SET failed_logins = ?, locked_until = ? WHERE id = ?`), failed, lock, id); err != nil {
				return nil, err
			}
		}
		detail := "wrong password"
		if !found {
			detail = "unknown user"
		} else if disabled && ok {
			detail = "disabled"
		}
		a.Audit(ctx, AuditEntry{Actor: username, Action: "login", Detail: detail, OK: false, IP: ip})
		return nil, ErrBadLogin
	}
	if _, err := a.db.ExecContext(ctx, a.db.Rebind(`UPDATE web_users SET failed_logins = 0, locked_until = 0 WHERE id = ?`), id); err != nil {
		return nil, err
	}
	return &Session{Kind: "staff", UserID: id, Subject: username, Name: display, Role: role}, nil
}

// LoginBidder opens a bidder's session after the caller verified the
// bidder's signature over a challenge (see ConsumeChallenge).
func (a *Auth) LoginBidder(ctx context.Context, creditCode, name, ip string) (*Session, string, error) {
	s := &Session{Kind: "bidder", Subject: creditCode, Name: name, Role: Bidder}
	token, err := a.open(ctx, s)
	if err != nil {
		return nil, "", err
	}
	a.Audit(ctx, AuditEntry{Actor: creditCode, Role: Bidder, Action: "login", Target: name, OK: true, IP: ip})
	return s, token, nil
}

func (a *Auth) open(ctx context.Context, s *Session) (string, error) {
	// Expired sessions and challenges go as new ones come (an indexed
	// delete); a failure here does not stop the login.
	if err := a.Sweep(ctx); err != nil {
		a.log.Warn("web: sweeping expired sessions", "err", err)
	}
	token := randomToken(32)
	s.CSRF = randomToken(24)
	s.tokenHash = hashToken(token)
	now := a.now()
	s.ExpiresAt = now.Add(a.maxAge)
	_, err := a.db.ExecContext(ctx, a.db.Rebind(`INSERT INTO web_sessions (token_hash, realm, kind, user_id, subject, display_name, role, csrf, created_at, last_seen_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), s.tokenHash, a.realm, s.Kind, s.UserID, s.Subject, s.Name, string(s.Role), s.CSRF, micros(now), micros(now), micros(s.ExpiresAt))
	return token, err
}

// Lookup returns the live session of token.
func (a *Auth) Lookup(ctx context.Context, token string) (*Session, error) {
	if token == "" {
		return nil, ErrNoSession
	}
	s := &Session{tokenHash: hashToken(token)}
	var lastSeen, expires int64
	err := a.db.QueryRowContext(ctx, a.db.Rebind(`SELECT kind, user_id, subject, display_name, role, csrf, last_seen_at, expires_at
		FROM web_sessions WHERE token_hash = ? AND realm = ?`), s.tokenHash, a.realm).Scan(&s.Kind, &s.UserID, &s.Subject, &s.Name, &s.Role, &s.CSRF, &lastSeen, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	now := a.now()
	if micros(now) >= expires || micros(now) >= lastSeen+a.idle.Microseconds() {
		a.db.ExecContext(ctx, a.db.Rebind(`DELETE FROM web_sessions WHERE token_hash = ?`), s.tokenHash)
		return nil, ErrNoSession
	}
	s.ExpiresAt = time.UnixMicro(expires)
	if micros(now)-lastSeen > time.Minute.Microseconds() {
		a.db.ExecContext(ctx, a.db.Rebind(`UPDATE web_sessions SET last_seen_at = ? WHERE token_hash = ?`), micros(now), s.tokenHash)
	}
	return s, nil
}

// Logout ends the session.
func (a *Auth) Logout(ctx context.Context, s *Session) error {
	_, err := a.db.ExecContext(ctx, a.db.Rebind(`DELETE FROM web_sessions WHERE token_hash = ?`), s.tokenHash)
	return err
}

// Sweep deletes expired sessions and challenges.
func (a *Auth) Sweep(ctx context.Context) error {
	now := micros(a.now())
	if _, err := a.db.ExecContext(ctx, a.db.Rebind(`DELETE FROM web_sessions WHERE realm = ? AND (expires_at <= ? OR last_seen_at <= ?)`), a.realm, now, now-a.idle.Microseconds()); err != nil {
		return err
	}
	_, err := a.db.ExecContext(ctx, a.db.Rebind(`DELETE FROM web_challenges WHERE realm = ? AND expires_at <= ?`), a.realm, now)
	return err
}

// NewChallenge stores a fresh login challenge bound to binding (the
// browser's pre-session cookie) for 5 minutes and returns it.
func (a *Auth) NewChallenge(ctx context.Context, binding string) (string, error) {
	c := randomToken(24)
	_, err := a.db.ExecContext(ctx, a.db.Rebind(`INSERT INTO web_challenges (challenge, realm, binding, expires_at) VALUES (?, ?, ?, ?)`),
		c, a.realm, hashToken(binding), micros(a.now().Add(5*time.Minute)))
	return c, err
}

// ConsumeChallenge deletes the challenge and reports whether it was live
// and bound to binding. A challenge serves once.
func (a *Auth) ConsumeChallenge(ctx context.Context, challenge, binding string) error {
	var b string
	var exp int64
	err := a.db.InTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, a.db.Rebind(`SELECT binding, expires_at FROM web_challenges WHERE challenge = ? AND realm = ?`), challenge, a.realm).Scan(&b, &exp)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, a.db.Rebind(`DELETE FROM web_challenges WHERE challenge = ?`), challenge)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return ErrBadChallenge
	}
	if err != nil {
		return err
	}
	if exp <= micros(a.now()) || b != hashToken(binding) {
		return ErrBadChallenge
	}
	return nil
}

// setSessionCookie and the cookie helpers: HttpOnly, SameSite=Lax, Secure
// on TLS (or always WithSecureCookies), Path=/.
func (a *Auth) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: a.secure || r.TLS != nil})
}

// SetSessionCookie hands the session token to the browser.
func (a *Auth) SetSessionCookie(w http.ResponseWriter, r *http.Request, token string) {
	a.setCookie(w, r, a.cookie, token, int(a.maxAge.Seconds()))
}

// ClearSessionCookie removes the session cookie.
func (a *Auth) ClearSessionCookie(w http.ResponseWriter, r *http.Request) {
	a.setCookie(w, r, a.cookie, "", -1)
}

// FromRequest returns the session of the request's cookie.
func (a *Auth) FromRequest(r *http.Request) (*Session, error) {
	c, err := r.Cookie(a.cookie)
	if err != nil {
		return nil, ErrNoSession
	}
	return a.Lookup(r.Context(), c.Value)
}

// PreSession returns the browser's pre-session cookie, setting one when
// it has none: it binds a login challenge to the browser that asked for it.
func (a *Auth) PreSession(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(a.pre); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	v := randomToken(24)
	a.setCookie(w, r, a.pre, v, 600)
	return v
}

// preSessionValue reads the pre-session cookie without setting one.
func (a *Auth) preSessionValue(r *http.Request) string {
	if c, err := r.Cookie(a.pre); err == nil {
		return c.Value
	}
	return ""
}
