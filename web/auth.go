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
	"strconv"
	"strings"
	"time"

	"github.com/baohan-dev/baohan/bidderauth"
	"github.com/baohan-dev/baohan/gm"
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
	db     *store.DB
	realm  string
	now    func() time.Time
	log    *slog.Logger
	idle   time.Duration
	maxAge time.Duration
	secure bool // cookies Secure even without TLS on the connection (behind a TLS proxy)
	cookie string
	pre    string
	device string // the device cookie's name

	lockout   int           // wrong passwords in a row that lock the account
	lockBase  time.Duration // the first lock; each further one lasts twice the one before
	lockMax   time.Duration // the longest lock
	failSQL   string        // the atomic failure count (failureSQL)
	throttle  *loginThrottle
	gate      *hashGate
	deviceTTL time.Duration

	challengeKey []byte                 // WithChallengeKey
	challenges   *bidderauth.Challenges // the login challenges (stateless)
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

// WithLockout sets how many wrong passwords in a row lock an account
// (default DefaultLockout) for browsers that have not logged in to it
// before; n < 1 keeps the default.
func WithLockout(n int) AuthOption {
	return func(a *Auth) {
		if n >= 1 {
			a.lockout = n
		}
	}
}

// WithLoginThrottle sets the per-address login throttle: burst attempts
// at once, then one every interval (default DefaultLoginBurst and
// DefaultLoginInterval).
func WithLoginThrottle(burst int, interval time.Duration) AuthOption {
	return func(a *Auth) { a.throttle = newLoginThrottle(burst, interval) }
}

// WithChallengeKey sets the key of the login challenges (at least 16
// bytes). Every process of one console must have the same: Platform
// derives it from the service's master key. Without it a console makes a
// random key of its own, and a challenge serves only at the process that
// issued it.
func WithChallengeKey(key []byte) AuthOption { return func(a *Auth) { a.challengeKey = key } }

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
		cookie: "baohan_" + realm + "_session", pre: "baohan_" + realm + "_pre", device: "baohan_" + realm + "_device",
		lockout: DefaultLockout, lockBase: 5 * time.Minute, lockMax: time.Hour, gate: passwordGate, deviceTTL: 90 * 24 * time.Hour}
	for _, o := range opts {
		o(a)
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.throttle == nil {
		a.throttle = newLoginThrottle(DefaultLoginBurst, DefaultLoginInterval)
	}
	a.failSQL = a.failureSQL()
	if a.challengeKey == nil {
		a.challengeKey = gm.NewKey()
	}
	var err error
	if a.challenges, err = bidderauth.NewChallenges(a.challengeKey, challengeTTL); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	if err := Migrate(ctx, db); err != nil {
		return nil, err
	}
	if err := adoptAudit(ctx, db); err != nil {
		return nil, err
	}
	return a, nil
}

// Realm is the console this Auth serves.
func (a *Auth) Realm() string { return a.realm }

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
	if !validUsername(username) {
		return nil, fmt.Errorf("用户名 %s 无效：2-64 个字母、数字或 ._@- (username: letters, digits, ._@-)", strconv.QuoteToASCII(truncate(username, 80)))
	}
	if role.rank() == 0 {
		return nil, fmt.Errorf("role %q: want viewer, operator or admin", role)
	}
	hash, err := a.hashPassword(ctx, password)
	if err != nil {
		return nil, err
	}
	if displayName == "" {
		displayName = username
	}
	now := store.Micros(a.now())
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
	return &User{ID: id, Username: username, DisplayName: displayName, Role: role, CreatedAt: store.FromMicros(now)}, nil
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
		u.CreatedAt = store.FromMicros(created)
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
		if _, err := tx.ExecContext(ctx, a.db.Rebind(`UPDATE web_users SET role = ?, disabled = ?, updated_at = ? WHERE id = ?`), string(role), disabled, store.Micros(a.now()), id); err != nil {
			return err
		}
		// A changed role or a disabled account takes effect now, not at
		// the next login.
		_, err = tx.ExecContext(ctx, a.db.Rebind(`DELETE FROM web_sessions WHERE realm = ? AND kind = 'staff' AND user_id = ?`), a.realm, id)
		return err
	})
}

// hashPassword hashes a new password in a slot of the hashing gate.
func (a *Auth) hashPassword(ctx context.Context, password string) (string, error) {
	if err := checkPassword(password); err != nil {
		return "", err
	}
	var hash string
	var err error
	if gerr := a.gate.do(ctx, func() bool { hash, err = HashPassword(password); return true }); gerr != nil {
		return "", gerr
	}
	return hash, err
}

// SetPassword sets a staff account's password, clears its lockout,
// revokes its device cookies and ends its sessions.
func (a *Auth) SetPassword(ctx context.Context, username, password string) error {
	hash, err := a.hashPassword(ctx, password)
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
		if _, err := tx.ExecContext(ctx, a.db.Rebind(`UPDATE web_users SET password_hash = ?, failed_logins = 0, lockouts = 0, locked_until = 0, updated_at = ? WHERE id = ?`), hash, store.Micros(a.now()), id); err != nil {
			return err
		}
		// A new password starts afresh: the browsers log in again.
		if _, err := tx.ExecContext(ctx, a.db.Rebind(`DELETE FROM web_devices WHERE realm = ? AND user_id = ?`), a.realm, id); err != nil {
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
	// Device is a new device cookie after a successful password login
	// (LoginDevice), for Auth.SetDeviceCookie.
	Device    string
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

// DefaultLockout is how many wrong passwords in a row lock an account.
const DefaultLockout = 5

// ErrThrottled is the answer to a login from an address that tried too
// often (see ThrottleError).
var ErrThrottled = errors.New("登录尝试过于频繁，请稍后再试 (too many login attempts from this address)")

// ThrottleError is ErrThrottled with the client's address and the time
// until its next attempt is allowed.
type ThrottleError struct {
	Addr       string
	RetryAfter time.Duration
}

func (e *ThrottleError) Error() string {
	s := max(int(e.RetryAfter.Round(time.Second)/time.Second), 1)
	return fmt.Sprintf("登录尝试过于频繁，请 %d 秒后再试 (too many login attempts from %s: try again in %ds)", s, e.Addr, s)
}

// Is makes errors.Is(err, ErrThrottled) hold.
func (e *ThrottleError) Is(target error) bool { return target == ErrThrottled }

// validUsername reports whether name can be a staff account's username
// (CreateUser's rule); a login with any other name is refused before it
// reaches the database or the audit log.
func validUsername(name string) bool { return len(name) <= 64 && usernameRE.MatchString(name) }

// Login checks a staff member's password and opens a session, like
// LoginDevice without a device cookie.
func (a *Auth) Login(ctx context.Context, username, password, ip string) (*Session, string, error) {
	return a.LoginDevice(ctx, username, password, ip, "")
}

// LoginDevice checks a staff member's password and opens a session.
//
// In order: the client address's throttle (ThrottleError), the username's
// form (ErrBadLogin, audited without the name itself), the password,
// hashed in one of a bounded number of slots (ErrBusy when none frees up
// in time) for unknown and locked accounts too, then the account's lock
// (ErrLocked) and the password's verdict (ErrBadLogin). Wrong passwords
// are counted atomically in the database; the lockout-th in a row locks
// the account: 5 minutes, then twice as long each further time, at most
// an hour (the doubling is forgotten a day after the last lock ended).
//
// The lock does not apply to a browser with a device cookie of this
// account (device: the cookie's value; Session.Device is a fresh one to
// hand to the browser after every successful login): anyone can lock an
// account for unknown browsers, not out of the browsers that logged in
// to it before. Wrong passwords from such a browser count against its
// cookie, which is revoked at the lockout-th. Every attempt is audited.
func (a *Auth) LoginDevice(ctx context.Context, username, password, ip, device string) (*Session, string, error) {
	now := a.now()
	if err := a.takeAttempt(ctx, ip, auditName(username), "", now); err != nil {
		return nil, "", err
	}
	s, err := a.checkLogin(ctx, username, password, ip, device)
	if errors.Is(err, ErrBusy) {
		a.throttle.GiveBack(ip, 1, now) // not an attempt: no password was checked
	}
	if err != nil {
		return nil, "", err
	}
	a.throttle.GiveBack(ip, 1, now)
	if s.Device, err = a.newDevice(ctx, s.UserID, device); err != nil {
		a.log.Warn("web: device cookie", "err", err) // the login stands without one
	}
	token, err := a.open(ctx, s)
	if err != nil {
		return nil, "", err
	}
	a.Audit(ctx, AuditEntry{Actor: username, Role: s.Role, Action: "login", OK: true, IP: ip})
	return s, token, nil
}

// takeAttempt takes one login attempt from ip's budget, or returns a
// *ThrottleError; the first refusal in a row is audited (once per run of
// refusals, not once per request).
func (a *Auth) takeAttempt(ctx context.Context, ip, actor string, role Role, now time.Time) error {
	ok, wait, first := a.throttle.Take(ip, now)
	if ok {
		return nil
	}
	if first {
		a.Audit(ctx, AuditEntry{Actor: actor, Role: role, Action: "login", Detail: "throttled: too many attempts from this address", OK: false, IP: ip})
	}
	return &ThrottleError{Addr: ip, RetryAfter: wait}
}

// Throttle takes one attempt from the login budget of the client address
// ip, the one password logins draw on, for the steps of a login that is
// not a password login: the bidder's CA login and the challenge it signs
// each take one. When the budget is spent it returns a *ThrottleError
// (errors.Is ErrThrottled), audited as a login of role the first time in
// a row. GiveBack returns the attempts of a login that succeeded.
func (a *Auth) Throttle(ctx context.Context, ip string, role Role) error {
	return a.takeAttempt(ctx, ip, "", role, a.now())
}

// ThrottleChallenge takes one attempt from the login budget of the client
// address ip for a login challenge (a *ThrottleError when it is spent).
// Asking for a challenge writes nothing, so neither does its refusal: the
// CA login that would follow is throttled and audited (Throttle).
func (a *Auth) ThrottleChallenge(ip string) error {
	ok, wait := a.throttle.TakeQuiet(ip, a.now())
	if ok {
		return nil
	}
	return &ThrottleError{Addr: ip, RetryAfter: wait}
}

// GiveBack returns n attempts to ip's login budget after a successful
// login (see Throttle), so that the users behind one NAT address can all
// log in.
func (a *Auth) GiveBack(ip string, n int) { a.throttle.GiveBack(ip, n, a.now()) }

// CheckLogin checks a staff member's password, counting failures like
// Login, and returns the session it would open, unopened. It is not
// throttled (the caller is: the password page needs a session).
func (a *Auth) CheckLogin(ctx context.Context, username, password, ip string) (*Session, error) {
	return a.checkLogin(ctx, username, password, ip, "")
}

// auditName is what the audit log says of a username that may be
// anything: the name when it is a valid one, else a short quoted prefix
// and its length.
func auditName(name string) string {
	if validUsername(name) {
		return name
	}
	return fmt.Sprintf("(invalid: %s, %d bytes)", strconv.QuoteToASCII(truncate(name, 24)), len(name))
}

// CheckLoginDevice is CheckLogin for a browser with a device cookie.
func (a *Auth) CheckLoginDevice(ctx context.Context, username, password, ip, device string) (*Session, error) {
	return a.checkLogin(ctx, username, password, ip, device)
}

func (a *Auth) checkLogin(ctx context.Context, username, password, ip, device string) (*Session, error) {
	if !validUsername(username) {
		// Nothing of it reaches the database but a short prefix in the
		// audit log; no account has such a name, so no hash is needed to
		// keep timing from telling which accounts exist.
		a.Audit(ctx, AuditEntry{Actor: auditName(username), Action: "login", Detail: "invalid username", OK: false, IP: ip})
		return nil, ErrBadLogin
	}
	if len(password) > maxPasswordLen {
		a.Audit(ctx, AuditEntry{Actor: username, Action: "login", Detail: "password over 1024 bytes", OK: false, IP: ip})
		return nil, ErrBadLogin
	}
	var (
		id            int64
		hash, display string
		role          Role
		disabled      bool
		lockedUntil   int64
		found         = true
		now           = a.now()
	)
	err := a.db.QueryRowContext(ctx, a.db.Rebind(`SELECT id, password_hash, display_name, role, disabled, locked_until
		FROM web_users WHERE realm = ? AND username = ?`), a.realm, username).Scan(&id, &hash, &display, &role, &disabled, &lockedUntil)
	if errors.Is(err, sql.ErrNoRows) {
		found, hash = false, dummyHash
	} else if err != nil {
		return nil, err
	}
	known := false // a browser that logged in to this account before
	if found && device != "" {
		var owner int64
		err := a.db.QueryRowContext(ctx, a.db.Rebind(`SELECT user_id FROM web_devices WHERE token_hash = ? AND realm = ? AND expires_at > ?`),
			hashToken(device), a.realm, store.Micros(now)).Scan(&owner)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		known = err == nil && owner == id
	}
	// The password is hashed whatever the account: unknown, locked or not.
	// An answer then takes as long for an account that does not exist as
	// for one that does, locked or not (and the console answers them
	// alike: errLoginFailed).
	var ok bool
	err = a.gate.do(ctx, func() bool {
		ok = CheckPassword(hash, password)
		if found && !known && lockedUntil <= store.Micros(now) {
			// Locked while this attempt waited for its slot: refused like
			// one that came after, whatever the password (concurrent
			// guesses get no more tries than the lockout allows).
			var until int64
			if a.db.QueryRowContext(ctx, a.db.Rebind(`SELECT locked_until FROM web_users WHERE id = ?`), id).Scan(&until) == nil && until > store.Micros(a.now()) {
				lockedUntil = until
			}
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if found && !known && lockedUntil > store.Micros(now) {
		a.Audit(ctx, AuditEntry{Actor: username, Action: "login", Detail: "locked until " + store.FromMicros(lockedUntil).UTC().Format(time.RFC3339), OK: false, IP: ip})
		return nil, ErrLocked
	}
	if !found || !ok || disabled {
		detail := "wrong password"
		switch {
		case !found:
			detail = "unknown user"
		case ok: // disabled, right password: not a guess
			detail = "disabled"
		case known:
			failed, err := a.countDeviceFailure(ctx, device)
			if err != nil {
				return nil, err
			}
			detail = fmt.Sprintf("wrong password (%d in a row from a known browser)", failed)
			if failed >= a.lockout {
				detail += "; its device cookie is revoked"
			}
		default:
			failed, until, err := a.countFailure(ctx, id, now)
			if errors.Is(err, ErrLocked) {
				// Locked by a concurrent attempt since we looked: this one
				// is not counted.
				a.Audit(ctx, AuditEntry{Actor: username, Action: "login", Detail: "locked", OK: false, IP: ip})
				return nil, ErrLocked
			}
			if err != nil {
				return nil, err
			}
			if until > 0 {
				detail = fmt.Sprintf("wrong password (%d in a row): locked until %s", a.lockout, store.FromMicros(until).UTC().Format(time.RFC3339))
			} else {
				detail = fmt.Sprintf("wrong password (%d in a row)", failed)
			}
		}
		a.Audit(ctx, AuditEntry{Actor: username, Action: "login", Detail: detail, OK: false, IP: ip})
		return nil, ErrBadLogin
	}
	if known {
		_, err = a.db.ExecContext(ctx, a.db.Rebind(`UPDATE web_devices SET failed = 0 WHERE token_hash = ?`), hashToken(device))
	} else {
		// Not when a concurrent attempt locked it meanwhile.
		_, err = a.db.ExecContext(ctx, a.db.Rebind(`UPDATE web_users SET failed_logins = 0, lockouts = 0, locked_until = 0
			WHERE id = ? AND locked_until <= ?`), id, store.Micros(now))
	}
	if err != nil {
		return nil, err
	}
	return &Session{Kind: "staff", UserID: id, Subject: username, Name: display, Role: role}, nil
}

// failureSQL is the statement that counts a wrong password: one UPDATE,
// atomic on SQLite and PostgreSQL alike, that adds one to failed_logins
// unless the account is locked (then it matches no row), and at the
// lockout-th locks it and starts counting again. The lock lasts lockBase
// × 2^level, at most lockMax, level being the locks in a row (forgotten
// once the last lock ended a day ago). The durations are written into
// the statement (they are fixed per Auth); its parameters are
// failureArgs.
func (a *Auth) failureSQL() string {
	const level = `(CASE WHEN locked_until > ? THEN lockouts ELSE 0 END)`
	var dur strings.Builder
	dur.WriteString("(CASE")
	d, i := a.lockBase, 0
	for ; d < a.lockMax && i < 16; i++ {
		fmt.Fprintf(&dur, " WHEN %s = %d THEN %d", level, i, d.Microseconds())
		d *= 2
	}
	fmt.Fprintf(&dur, " ELSE %d END)", a.lockMax.Microseconds())
	return a.db.Rebind(`UPDATE web_users SET
		failed_logins = CASE WHEN failed_logins + 1 >= ? THEN 0 ELSE failed_logins + 1 END,
		lockouts = CASE WHEN failed_logins + 1 >= ? THEN ` + level + ` + 1 ELSE lockouts END,
		locked_until = CASE WHEN failed_logins + 1 >= ? THEN ? + ` + dur.String() + ` ELSE locked_until END
		WHERE id = ? AND locked_until <= ?
		RETURNING failed_logins, locked_until`)
}

// countFailure counts a wrong password on account id at now. It returns
// the failures in a row, and when this one locked the account, the end
// of the lock; ErrLocked when the account is locked already.
func (a *Auth) countFailure(ctx context.Context, id int64, now time.Time) (failed int, until int64, err error) {
	n := store.Micros(now)
	forgotten := n - (24 * time.Hour).Microseconds()
	steps := 0
	for d := a.lockBase; d < a.lockMax && steps < 16; d *= 2 {
		steps++
	}
	args := []any{a.lockout, a.lockout, forgotten, a.lockout, n}
	for range steps {
		args = append(args, forgotten)
	}
	args = append(args, id, n)
	var lockedUntil int64
	err = a.db.QueryRowContext(ctx, a.failSQL, args...).Scan(&failed, &lockedUntil)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, ErrLocked
	}
	if err != nil {
		return 0, 0, err
	}
	if lockedUntil > n {
		return a.lockout, lockedUntil, nil
	}
	return failed, 0, nil
}

// countDeviceFailure counts a wrong password from a known browser on its
// device cookie, and revokes the cookie at the lockout-th.
func (a *Auth) countDeviceFailure(ctx context.Context, device string) (int, error) {
	var failed int
	err := a.db.Writer().QueryRowContext(ctx, a.db.Rebind(`UPDATE web_devices SET failed = failed + 1 WHERE token_hash = ? RETURNING failed`),
		hashToken(device)).Scan(&failed)
	if errors.Is(err, sql.ErrNoRows) { // revoked by a concurrent attempt
		return a.lockout, nil
	}
	if err != nil {
		return 0, err
	}
	if failed >= a.lockout {
		if _, err := a.db.ExecContext(ctx, a.db.Rebind(`DELETE FROM web_devices WHERE token_hash = ?`), hashToken(device)); err != nil {
			return 0, err
		}
	}
	return failed, nil
}

// devicesPerUser bounds the device cookies an account keeps (the newest).
const devicesPerUser = 20

// newDevice issues a device cookie for user after a successful login,
// replacing old (the one the browser sent, if it was this user's).
func (a *Auth) newDevice(ctx context.Context, user int64, old string) (string, error) {
	token := randomToken(24)
	now := a.now()
	err := a.db.InTx(ctx, func(tx *sql.Tx) error {
		if old != "" {
			if _, err := tx.ExecContext(ctx, a.db.Rebind(`DELETE FROM web_devices WHERE token_hash = ? AND realm = ? AND user_id = ?`),
				hashToken(old), a.realm, user); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, a.db.Rebind(`INSERT INTO web_devices (token_hash, realm, user_id, failed, created_at, expires_at)
			VALUES (?, ?, ?, 0, ?, ?)`), hashToken(token), a.realm, user, store.Micros(now), store.Micros(now.Add(a.deviceTTL))); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, a.db.Rebind(`DELETE FROM web_devices WHERE realm = ? AND user_id = ? AND token_hash NOT IN
			(SELECT token_hash FROM web_devices WHERE realm = ? AND user_id = ? ORDER BY created_at DESC, token_hash LIMIT ?)`),
			a.realm, user, a.realm, user, devicesPerUser)
		return err
	})
	if err != nil {
		return "", err
	}
	return token, nil
}

// SetDeviceCookie hands a device cookie (Session.Device) to the browser,
// for the console under path (the login and the password pages read it).
func (a *Auth) SetDeviceCookie(w http.ResponseWriter, r *http.Request, path, token string) {
	http.SetCookie(w, &http.Cookie{Name: a.device, Value: token, Path: path, MaxAge: int(a.deviceTTL.Seconds()), HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: a.secure || r.TLS != nil})
}

// DeviceCookie is the browser's device cookie ("" without one).
func (a *Auth) DeviceCookie(r *http.Request) string {
	if c, err := r.Cookie(a.device); err == nil && len(c.Value) <= 64 {
		return c.Value
	}
	return ""
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
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), s.tokenHash, a.realm, s.Kind, s.UserID, s.Subject, s.Name, string(s.Role), s.CSRF, store.Micros(now), store.Micros(now), store.Micros(s.ExpiresAt))
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
	if store.Micros(now) >= expires || store.Micros(now) >= lastSeen+a.idle.Microseconds() {
		a.db.ExecContext(ctx, a.db.Rebind(`DELETE FROM web_sessions WHERE token_hash = ?`), s.tokenHash)
		return nil, ErrNoSession
	}
	s.ExpiresAt = store.FromMicros(expires)
	if store.Micros(now)-lastSeen > time.Minute.Microseconds() {
		a.db.ExecContext(ctx, a.db.Rebind(`UPDATE web_sessions SET last_seen_at = ? WHERE token_hash = ?`), store.Micros(now), s.tokenHash)
	}
	return s, nil
}

// Logout ends the session.
func (a *Auth) Logout(ctx context.Context, s *Session) error {
	_, err := a.db.ExecContext(ctx, a.db.Rebind(`DELETE FROM web_sessions WHERE token_hash = ?`), s.tokenHash)
	return err
}

// Sweep deletes expired sessions, device cookies and records of used
// challenges.
func (a *Auth) Sweep(ctx context.Context) error {
	now := store.Micros(a.now())
	if _, err := a.db.ExecContext(ctx, a.db.Rebind(`DELETE FROM web_sessions WHERE realm = ? AND (expires_at <= ? OR last_seen_at <= ?)`), a.realm, now, now-a.idle.Microseconds()); err != nil {
		return err
	}
	if _, err := a.db.ExecContext(ctx, a.db.Rebind(`DELETE FROM web_devices WHERE realm = ? AND expires_at <= ?`), a.realm, now); err != nil {
		return err
	}
	_, err := a.db.ExecContext(ctx, a.db.Rebind(`DELETE FROM web_used_challenges WHERE realm = ? AND expires_at <= ?`), a.realm, now)
	return err
}

// challengeTTL is how long a login challenge can be used.
const challengeTTL = 5 * time.Minute

// Login challenges are stateless (bidderauth.Challenges): anyone may ask
// for one, so issuing one writes nothing; the challenge carries its
// expiry and a MAC binding it to the browser (its pre-session cookie) and
// the platform-login purpose. It serves once: UseChallenge records it when
// a login signed over it by the bidder's registered certificate is
// accepted, not before, so nobody without a bidder's key can make the
// console store anything; the record goes once the challenge has expired.

// NewChallenge returns a fresh login challenge for the browser whose
// pre-session cookie is binding, valid for 5 minutes. It writes nothing;
// callers throttle it per client address (Throttle).
func (a *Auth) NewChallenge(binding string) string {
	c, _ := a.challenges.Issue(a.now(), bidderauth.PlatformLogin, binding)
	return c
}

// CheckChallenge checks that challenge was issued by this console (or a
// replica with the same key) for the browser binding and is live. It
// writes nothing and does not know whether the challenge was used
// (UseChallenge does). Errors wrap ErrBadChallenge.
func (a *Auth) CheckChallenge(challenge, binding string) error {
	_, err := a.checkChallenge(challenge, binding)
	return err
}

func (a *Auth) checkChallenge(challenge, binding string) (bidderauth.Issued, error) {
	is, err := a.challenges.Check(a.now(), challenge, bidderauth.PlatformLogin, binding)
	if err != nil {
		return is, fmt.Errorf("%w: %v", ErrBadChallenge, err)
	}
	return is, nil
}

// UseChallenge checks challenge (CheckChallenge) and records it as used:
// call it once the login's signature is verified. A challenge serves
// once: of two logins with one challenge, on this process or another on
// the same database, only one records it; the other gets an error
// wrapping ErrBadChallenge. Records of expired challenges go as new ones
// come.
func (a *Auth) UseChallenge(ctx context.Context, challenge, binding string) error {
	is, err := a.checkChallenge(challenge, binding)
	if err != nil {
		return err
	}
	var n int64
	err = a.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, a.db.Rebind(`DELETE FROM web_used_challenges WHERE realm = ? AND expires_at <= ?`), a.realm, store.Micros(a.now())); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, a.db.Rebind(`INSERT INTO web_used_challenges (realm, id, expires_at) VALUES (?, ?, ?) ON CONFLICT (realm, id) DO NOTHING`),
			a.realm, is.ID, store.Micros(is.Expires))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("%w: already used (a challenge serves once)", ErrBadChallenge)
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
