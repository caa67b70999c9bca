package institution

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/internal/addrlimit"
	"github.com/baohan-dev/baohan/internal/httpjson"
	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/guarantee"
	"github.com/baohan-dev/baohan/ofd/ses"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/transport"
)

// Verification (验真): every guarantee gets, when it is numbered, a
// verification code (验真码) of VerifyCodeLen characters of
// VerifyAlphabet drawn from crypto/rand. The code is printed on both
// forms of the guarantee and its QR code leads to
// <institution.verify_url>?baohanno=<no>&code=<code>. Anyone holding the
// number and the code can ask for the guarantee's status (Verify), and
// anyone holding a file can ask whether it is one this institution
// issued (VerifyFile). A wrong code and an unknown number get the same
// answer (ErrNotVerified); attempts are limited per client address.

// VerifyAlphabet are the characters of a verification code: digits and
// capital letters without the look-alikes 0 O 1 I L.
const VerifyAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// VerifyCodeLen is the length of a verification code: 31^8 ≈ 8.5e11
// codes per guarantee number.
const VerifyCodeLen = 8

// Defaults of the verification rate limit: per client address, 10 failed
// attempts at once, then one every 6 seconds. A successful verification
// gives its attempt back, so that a trading centre checking every
// guarantee of a bid opening from one address is not held up.
const (
	VerifyBurst    = 10
	VerifyInterval = 6 * time.Second
)

// MaxVerifyFile bounds a file uploaded for verification.
const MaxVerifyFile = 32 << 20

// NewVerifyCode draws a verification code.
func NewVerifyCode() string {
	out := make([]byte, 0, VerifyCodeLen)
	limit := 256 - 256%len(VerifyAlphabet) // unbiased: bytes at or above limit are drawn again
	var buf [16]byte
	for len(out) < VerifyCodeLen {
		rand.Read(buf[:]) // never fails (crypto/rand)
		for _, b := range buf {
			if int(b) < limit && len(out) < VerifyCodeLen {
				out = append(out, VerifyAlphabet[int(b)%len(VerifyAlphabet)])
			}
		}
	}
	return string(out)
}

// ErrNotVerified is the one answer to an unknown guarantee number and to a
// wrong code alike.
var ErrNotVerified error = &baohan.Error{Code: baohan.ENotFound,
	Message: "未查询到该保函：保函编号或验真码不正确 (no guarantee with this number and verification code)"}

// VerifyThrottledError refuses a verification from an address that spent
// its attempts.
type VerifyThrottledError struct{ RetryAfter time.Duration }

func (e *VerifyThrottledError) Error() string {
	return fmt.Sprintf("验真尝试过于频繁，请 %d 秒后再试 (too many verification attempts from this address: retry in %s)",
		int(e.RetryAfter.Seconds()+0.999), e.RetryAfter.Round(time.Second))
}

// The statuses a verification answers.
const (
	VerifyValid     = "valid"     // 有效
	VerifyQuit      = "quit"      // 已退保
	VerifyCancelled = "cancelled" // 已注销
	VerifyClaimed   = "claimed"   // 已理赔
	VerifyExpired   = "expired"   // 已失效
	VerifyGivenUp   = "given_up"  // 已放弃
)

// VerifyStatusLabel is the Chinese name of a verification status.
func VerifyStatusLabel(status string) string {
	switch status {
	case VerifyValid:
		return "有效"
	case VerifyQuit:
		return "已退保"
	case VerifyCancelled:
		return "已注销"
	case VerifyClaimed:
		return "已理赔"
	case VerifyExpired:
		return "已失效"
	case VerifyGivenUp:
		return "已放弃"
	}
	return status
}

// Verification is what the institution answers about a guarantee: its
// status now and its terms; the project only after the bid opening.
type Verification struct {
	BaohanNo        string `json:"baohanno"`
	Status          string `json:"status"`       // VerifyValid, ...
	StatusLabel     string `json:"status_label"` // 有效, ...
	Institution     string `json:"institution"`
	InstitutionCode string `json:"institution_code,omitempty"`
	Bidder          string `json:"bidder"`
	BidderCode      string `json:"biddercode"`
	Amount          string `json:"amount"`          // 担保金额, 元, two decimals
	AmountCapitals  string `json:"amount_capitals"` // 人民币大写
	IssueDate       string `json:"issue_date"`      // 开立日期, YYYY-MM-DD (UTC+8)
	Validity        string `json:"validity"`        // 保函有效期, as printed
	ValidityDays    int    `json:"validity_days"`
	KaibiaoTime     string `json:"kaibiaotime,omitempty"` // once known (baohanrestore)
	ValidUntil      string `json:"valid_until,omitempty"` // last day of validity, YYYY-MM-DD, once the opening is known
	// Project is shown once the bid was opened (名单保密 before).
	Project   *Project `json:"project,omitempty"`
	CheckedAt string   `json:"checked_at"` // wire time (UTC+8)
}

// FileVerification is the answer to an uploaded file.
type FileVerification struct {
	// Issued: the file is byte for byte one this institution issued.
	Issued   bool   `json:"issued"`
	FileType int    `json:"filetype,omitempty"` // 1 ciphertext, 2 plaintext, when issued
	SM3      string `json:"sm3"`                // of the uploaded file, hex
	// Guarantee is the guarantee the file is (when issued).
	Guarantee *Verification `json:"guarantee,omitempty"`
	// ClaimedBaohanNo is the guarantee number the file states (its
	// DocInfo), issued or not.
	ClaimedBaohanNo string `json:"claimed_baohanno,omitempty"`
	// SealsOK: every seal of the file holds (ses.Verify); SealFailure
	// names the first failing check and its entry otherwise.
	SealsOK     bool           `json:"seals_ok"`
	SealFailure string         `json:"seal_failure,omitempty"`
	Seals       []VerifiedSeal `json:"seals"`
	Message     string         `json:"message"` // the conclusion, in Chinese
}

// VerifiedSeal is one seal of an uploaded file.
type VerifiedSeal struct {
	Signer string `json:"signer"`
	Seal   string `json:"seal,omitempty"`
	OK     bool   `json:"ok"`
	// Failure is the first failing check: its name, entry and detail.
	Failure string `json:"failure,omitempty"`
	// Ours: signed with this institution's seal certificate.
	Ours bool `json:"ours"`
}

// verifyURL is where the guarantees' QR codes lead.
func (s *Service) verifyURL() string {
	if s.cfg.Institution.VerifyURL != "" {
		return s.cfg.Institution.VerifyURL
	}
	return s.cfg.Listen.PublicURL + "/verify"
}

// VerifyURL is the URL a guarantee's QR code carries.
func (s *Service) VerifyURL(baohanNo, code string) string {
	return guarantee.QRContent(baohanNo, code, s.verifyURL())
}

// drawVerifyCode gives a newly numbered guarantee its code, in the
// transaction that numbers it.
func (s *Service) drawVerifyCode(ctx context.Context, tx *sql.Tx, a *Application) error {
	_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO inst_verify_codes (application_id, baohanno, code, created_at)
 VALUES (?,?,?,?) ON CONFLICT (application_id) DO NOTHING`), a.ID, a.BaohanNo, NewVerifyCode(), store.Micros(s.now()))
	return err
}

// verifyCodeOf is the code of an application's guarantee ("" for one
// numbered before codes were drawn).
func (s *Service) verifyCodeOf(ctx context.Context, q store.Querier, appID string) (string, error) {
	var code string
	err := q.QueryRowContext(ctx, s.db.Rebind(`SELECT code FROM inst_verify_codes WHERE application_id=?`), appID).Scan(&code)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return code, err
}

// withVerification adds the verification code, URL and validity to the
// input of a guarantee document.
func (s *Service) withVerification(ctx context.Context, in *DocumentInput, a *Application) error {
	code, err := s.verifyCodeOf(ctx, s.db, a.ID)
	if err != nil {
		return err
	}
	in.VerifyCode, in.VerifyURL, in.ValidityDays = code, s.verifyURL(), s.cfg.Institution.validityDays()
	return nil
}

// recordIssuedFile remembers the SM3 of a sealed guarantee file, in the
// transaction that stores it.
func (s *Service) recordIssuedFile(ctx context.Context, tx *sql.Tx, appID string, filetype int, doc []byte) error {
	sum := sm3.Sum(doc)
	_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO inst_issued_files (sm3, application_id, filetype, created_at)
 VALUES (?,?,?,?) ON CONFLICT (sm3) DO NOTHING`), hex.EncodeToString(sum[:]), appID, filetype, store.Micros(s.now()))
	return err
}

// VerifyCodeOf is the verification code of an application's guarantee,
// for its console ("" when it has none).
func (s *Service) VerifyCodeOf(ctx context.Context, appID string) (string, error) {
	return s.verifyCodeOf(ctx, s.db, appID)
}

// codeDigest is what codes are compared by: equal lengths whatever was
// given, so that the comparison takes the same time.
func codeDigest(code string) []byte {
	sum := sm3.Sum([]byte(code))
	return sum[:]
}

// normalizeCode reads a code as typed: spaces and dashes dropped, lower
// case raised.
func normalizeCode(code string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == ' ' || r == '-' || r == '\t':
			return -1
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		}
		return r
	}, code)
}

// dummyCode is compared against when the number is unknown, so that an
// unknown number costs what a wrong code does.
var dummyCode = codeDigest("unknown-guarantee")

// VerifyFrom is Verify for a request from the client address addr: it
// takes an attempt from addr's budget first (a *VerifyThrottledError when
// it is spent) and gives it back when the guarantee was verified.
func (s *Service) VerifyFrom(ctx context.Context, addr, baohanNo, code string) (*Verification, error) {
	ok, wait, _ := s.verifyLimit.Take(addr, s.now())
	if !ok {
		return nil, &VerifyThrottledError{RetryAfter: wait}
	}
	v, err := s.Verify(ctx, baohanNo, code)
	if err == nil {
		s.verifyLimit.GiveBack(addr, 1, s.now())
	}
	return v, err
}

// Verify answers the status and terms of the guarantee baohanNo when code
// is its verification code, and ErrNotVerified otherwise (unknown number
// or wrong code alike). It is not rate-limited: see VerifyFrom.
func (s *Service) Verify(ctx context.Context, baohanNo, code string) (*Verification, error) {
	baohanNo, code = strings.TrimSpace(baohanNo), normalizeCode(code)
	if baohanNo == "" || code == "" {
		return nil, baohan.Refusef("baohanno (保函编号) and code (验真码) are required")
	}
	if len(baohanNo) > 64 || len(code) > 64 {
		return nil, ErrNotVerified
	}
	var appID, stored string
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT application_id, code FROM inst_verify_codes WHERE baohanno=?`), baohanNo).Scan(&appID, &stored)
	want := dummyCode
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, err
	default:
		want = codeDigest(stored)
	}
	if subtle.ConstantTimeCompare(codeDigest(code), want) != 1 || appID == "" {
		return nil, ErrNotVerified
	}
	a, err := s.repo.applicationByID(ctx, s.db, appID)
	if err != nil {
		return nil, err
	}
	return s.verification(ctx, a)
}

// verification describes a's guarantee as it stands now.
func (s *Service) verification(ctx context.Context, a *Application) (*Verification, error) {
	now := s.now()
	bond, err := decimal.NewFromString(a.Bond)
	if err != nil {
		return nil, fmt.Errorf("bond of %s: %w", a.ApplyNo, err)
	}
	capitals, err := baohan.AmountInCapitals(bond)
	if err != nil {
		return nil, fmt.Errorf("bond of %s: %w", a.ApplyNo, err)
	}
	days := s.cfg.Institution.validityDays()
	v := &Verification{
		BaohanNo: a.BaohanNo, Institution: s.cfg.Institution.Name, InstitutionCode: s.cfg.Institution.CreditCode,
		Bidder: a.BidderName, BidderCode: a.BidderCode, Amount: bond.StringFixed(2), AmountCapitals: capitals,
		ValidityDays: days, KaibiaoTime: a.KaibiaoTime, CheckedAt: protocol.FormatTime(now),
	}
	if t, err := protocol.ParseTime(a.GenerateTime); err == nil {
		v.IssueDate = t.In(protocol.CST).Format("2006-01-02")
	}
	v.Validity = fmt.Sprintf("自开标之日起至投标有效期（%d日）满之日止", days)
	open, opened := s.openTime(a)
	if opened {
		v.Validity = fmt.Sprintf("自开标之日（%s）起至投标有效期（%d日）满之日止", open.In(protocol.CST).Format("2006年1月2日"), days)
		v.ValidUntil = expiry(open, days).Add(-time.Nanosecond).In(protocol.CST).Format("2006-01-02")
	}
	if v.Status, err = s.verifyStatus(ctx, a, now); err != nil {
		return nil, err
	}
	v.StatusLabel = VerifyStatusLabel(v.Status)
	if opened && !now.Before(open) && a.projectSealed != "" {
		p, err := s.RestoredProject(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		v.Project = p
	}
	return v, nil
}

// verifyStatus is the status of a's guarantee at now. A guarantee claimed
// on is 已理赔 whatever followed; one whose validity ended is 已失效 even
// before ExpireDue moved it.
func (s *Service) verifyStatus(ctx context.Context, a *Application, now time.Time) (string, error) {
	var claims int
	if err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT COUNT(*) FROM inst_claims WHERE application_id=?`), a.ID).Scan(&claims); err != nil {
		return "", err
	}
	switch {
	case claims > 0:
		return VerifyClaimed, nil
	case a.State == Quit:
		return VerifyQuit, nil
	case a.State == Cancelled:
		return VerifyCancelled, nil
	case a.State == GivenUp:
		return VerifyGivenUp, nil
	case a.State == Expired || s.due(a, now):
		return VerifyExpired, nil
	}
	return VerifyValid, nil
}

// openTime is the bid opening of a's project, once baohanrestore told it.
func (s *Service) openTime(a *Application) (time.Time, bool) {
	if a.KaibiaoTime == "" {
		return time.Time{}, false
	}
	t, err := protocol.ParseTime(a.KaibiaoTime)
	return t, err == nil
}

// expiry is when a guarantee opened at open with a validity of days days
// ends: at the end of the days-th day after the opening day (the opening
// day not counted), UTC+8.
func expiry(open time.Time, days int) time.Time {
	o := open.In(protocol.CST)
	return time.Date(o.Year(), o.Month(), o.Day()+days+1, 0, 0, 0, 0, protocol.CST)
}

// due reports whether a's guarantee is restored and its validity ended by
// now.
func (s *Service) due(a *Application, now time.Time) bool {
	if a.State != Restored {
		return false
	}
	open, ok := s.openTime(a)
	return ok && !now.Before(expiry(open, s.cfg.Institution.validityDays()))
}

// ExpireDue moves every restored guarantee whose validity ended to
// expired (已失效) and returns how many it moved. Run calls it
// periodically; it is driven by the service's clock.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT id, kaibiaotime FROM inst_applications WHERE state=? AND kaibiaotime<>''`), Restored)
	if err != nil {
		return 0, err
	}
	now := s.now()
	var due []string
	for rows.Next() {
		var id, kb string
		if err := rows.Scan(&id, &kb); err != nil {
			rows.Close()
			return 0, err
		}
		if t, err := protocol.ParseTime(kb); err == nil && !now.Before(expiry(t, s.cfg.Institution.validityDays())) {
			due = append(due, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, id := range due {
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			a, err := s.repo.applicationByID(ctx, tx, id)
			if err != nil {
				return err
			}
			if !s.due(a, now) {
				return nil
			}
			n++
			return s.move(ctx, tx, a, Expired, "expiry", "clock",
				fmt.Sprintf("validity of %d days from the bid opening %s ended", s.cfg.Institution.validityDays(), a.KaibiaoTime))
		})
		if err != nil {
			return n, err
		}
	}
	if n > 0 {
		s.logger.InfoContext(ctx, "guarantees expired", slog.Int("count", n))
	}
	return n, nil
}

// expireEvery is how often Run looks for guarantees to expire.
const expireEvery = 10 * time.Minute

// expireDue is ExpireDue for Run (a failure is logged and tried again).
func (s *Service) expireDue(ctx context.Context) {
	if _, err := s.ExpireDue(ctx); err != nil && ctx.Err() == nil {
		s.logger.ErrorContext(ctx, "expiring guarantees", slog.Any("err", err))
	}
}

// VerifyFileFrom is VerifyFile for a request from the client address addr
// (a *VerifyThrottledError when its attempts are spent; every upload
// takes one).
func (s *Service) VerifyFileFrom(ctx context.Context, addr string, doc []byte) (*FileVerification, error) {
	if ok, wait, _ := s.verifyLimit.Take(addr, s.now()); !ok {
		return nil, &VerifyThrottledError{RetryAfter: wait}
	}
	return s.VerifyFile(ctx, doc)
}

// VerifyFile answers whether doc is a guarantee file this institution
// issued (its SM3 among the issued files of both filetypes), which
// guarantee and its status, and whether its seals hold (ses.Verify; the
// first failing check of each seal is named with its entry).
func (s *Service) VerifyFile(ctx context.Context, doc []byte) (*FileVerification, error) {
	if len(doc) == 0 {
		return nil, baohan.Refusef("the body must be an OFD file (a guarantee)")
	}
	if len(doc) > MaxVerifyFile {
		return nil, baohan.Refusef("the file is larger than %d bytes", MaxVerifyFile)
	}
	sum := sm3.Sum(doc)
	out := &FileVerification{SM3: hex.EncodeToString(sum[:]), Seals: []VerifiedSeal{}}
	var appID string
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT application_id, filetype FROM inst_issued_files WHERE sm3=?`), out.SM3).Scan(&appID, &out.FileType)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, err
	default:
		out.Issued = true
		a, err := s.repo.applicationByID(ctx, s.db, appID)
		if err != nil {
			return nil, err
		}
		if out.Guarantee, err = s.verification(ctx, a); err != nil {
			return nil, err
		}
	}
	var ours []byte
	if d, ok := s.docs.(*OFDDocuments); ok {
		ours = d.cert.Raw
	}
	if pkg, err := ofd.Open(doc); err != nil {
		out.SealFailure = "the file does not open as an OFD package: " + err.Error()
	} else {
		if d, err := ofd.Read(pkg); err == nil {
			for _, c := range d.Info.Custom {
				if c.Name == "baohanno" {
					out.ClaimedBaohanNo = c.Value
				}
			}
		}
		rep, err := ses.VerifyPackage(pkg, nil)
		switch {
		case err != nil:
			out.SealFailure = err.Error()
		default:
			out.SealsOK = rep.OK()
			for _, r := range rep.Signatures {
				vs := VerifiedSeal{Signer: r.Signer, Seal: r.SealName, OK: r.OK(),
					Ours: ours != nil && r.SignerCert != nil && string(r.SignerCert.Raw) == string(ours)}
				if f := r.Failure(); f != nil {
					vs.Failure = describeCheck(f)
					if out.SealFailure == "" {
						out.SealFailure = fmt.Sprintf("seal %s (%s): %s", r.ID, r.Path, vs.Failure)
					}
				}
				out.Seals = append(out.Seals, vs)
			}
			if len(rep.Unprotected) > 0 && out.SealFailure == "" {
				out.SealsOK = false
				out.SealFailure = "entries no seal covers: " + strings.Join(rep.Unprotected, ", ")
			}
		}
	}
	out.Message = fileMessage(out)
	return out, nil
}

func describeCheck(c *ses.Check) string {
	s := c.Name
	if c.Entry != "" {
		s += " " + c.Entry
	}
	if c.Detail != "" {
		s += ": " + c.Detail
	}
	return s
}

// fileMessage is the conclusion about an uploaded file, in Chinese.
func fileMessage(f *FileVerification) string {
	switch {
	case f.Issued && f.SealsOK:
		form := "密文"
		if f.FileType == 2 {
			form = "明文"
		}
		return fmt.Sprintf("该文件是本机构出具的保函 %s（%s），签章有效，保函状态：%s", f.Guarantee.BaohanNo, form, f.Guarantee.StatusLabel)
	case f.Issued:
		return "该文件与本机构出具的保函一致，但签章校验未通过：" + f.SealFailure
	case f.SealFailure != "" && f.ClaimedBaohanNo != "":
		return fmt.Sprintf("该文件不是本机构出具的文件（自称保函 %s），签章校验未通过：%s", f.ClaimedBaohanNo, f.SealFailure)
	case f.SealFailure != "":
		return "该文件不是本机构出具的文件，签章校验未通过：" + f.SealFailure
	}
	return "该文件不是本机构出具的文件（签章本身完整，但文件与本机构出具的任何保函都不一致）"
}

// newVerifyLimit is the verification rate limit.
func newVerifyLimit() *addrlimit.Limiter { return addrlimit.New(VerifyBurst, VerifyInterval) }

// ClientAddr is the address a request to the institution comes from (the
// TCP peer, or through listen.trusted_proxies the forwarded one), as the
// verification rate limit counts it.
func (s *Service) ClientAddr(r *http.Request) string {
	if a := transport.ClientAddr(r, s.proxies); a.IsValid() {
		return a.String()
	}
	return "unknown"
}

// notVerifiedBody is the one answer to an unknown number and a wrong code.
var notVerifiedBody = func() []byte {
	b, _ := json.Marshal(apiError{ErrNotVerified.(*baohan.Error).Message})
	return append(b, '\n')
}()

// verifyGet serves GET /verify?baohanno=..&code=.. (JSON; the console
// answers a browser with a page).
func (s *Service) verifyGet(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v, err := s.VerifyFrom(r.Context(), s.ClientAddr(r), q.Get("baohanno"), q.Get("code"))
	if err != nil {
		s.verifyFail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	httpjson.Write(w, http.StatusOK, v)
}

// verifyPost serves POST /verify: the body is an OFD file (raw, or the
// field "file" of a multipart form).
func (s *Service) verifyPost(w http.ResponseWriter, r *http.Request) {
	doc, err := ReadVerifyUpload(w, r)
	if err != nil {
		s.verifyFail(w, r, err)
		return
	}
	v, err := s.VerifyFileFrom(r.Context(), s.ClientAddr(r), doc)
	if err != nil {
		s.verifyFail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	httpjson.Write(w, http.StatusOK, v)
}

// ReadVerifyUpload reads the file of POST /verify: the raw body, or the
// field "file" of a multipart/form-data body; at most MaxVerifyFile bytes
// (and the body at most 64 KiB more).
func ReadVerifyUpload(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxVerifyFile+64<<10)
	var src io.Reader = r.Body
	if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "multipart/form-data") {
		mr, err := r.MultipartReader()
		if err != nil {
			return nil, baohan.Refusef("reading the form: %v", err)
		}
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil, baohan.Refusef("the form has no field \"file\" (the OFD file to verify)")
			}
			if err != nil {
				return nil, baohan.Refusef("reading the form: %v", err)
			}
			if p.FormName() == "file" {
				src = p
				break
			}
		}
	}
	b, err := io.ReadAll(io.LimitReader(src, MaxVerifyFile+1))
	if err != nil {
		return nil, baohan.Refusef("reading the file: %v", err)
	}
	if len(b) > MaxVerifyFile {
		return nil, baohan.Refusef("the file is larger than %d bytes", MaxVerifyFile)
	}
	if len(b) == 0 {
		return nil, baohan.Refusef("the body must be an OFD file (a guarantee)")
	}
	return b, nil
}

// verifyFail answers a verification error: the one 404 body for an
// unknown number or a wrong code, 429 with Retry-After when throttled.
func (s *Service) verifyFail(w http.ResponseWriter, r *http.Request, err error) {
	var te *VerifyThrottledError
	switch {
	case errors.Is(err, ErrNotVerified):
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNotFound)
		w.Write(notVerifiedBody)
	case errors.As(err, &te):
		w.Header().Set("Retry-After", strconv.Itoa(int(te.RetryAfter.Seconds()+0.999)))
		httpjson.Write(w, http.StatusTooManyRequests, apiError{err.Error()})
	default:
		s.fail(w, r, err)
	}
}
