package platform

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/baohan-dev/baohan/internal/ctxio"
	"github.com/baohan-dev/baohan/ofd"
	"github.com/baohan-dev/baohan/ofd/guarantee"
	"github.com/baohan-dev/baohan/store"
)

// Verification (验真) from the platform's side: the QR code printed on a
// received guarantee is read (guarantee.ReadQR) and compared with the
// document (its number, its printed 验真码), and, when the institution
// publishes a verification URL ([[institution]] verify_url), the
// institution is asked about the guarantee: it must know the number with
// that code, and it says the guarantee's status. Every received guarantee
// is checked once it arrives (Run); a section's 开标验真 (CheckSection)
// asks again, live, for each guarantee of the section. Problems are
// listed, never dropped.

// GuaranteeCheck is one check of a received guarantee.
type GuaranteeCheck struct {
	ApplyNo     string `json:"applyno"`
	SectionNo   string `json:"section_no"`
	BidderCode  string `json:"bidder_code"`
	Institution string `json:"institution"`
	BaohanNo    string `json:"baohanno"`
	FileType    int    `json:"filetype"` // the file checked: the latest received
	// QR is what the printed QR code carries; Code the 验真码 the document
	// states.
	QR   string `json:"qr,omitempty"`
	Code string `json:"code,omitempty"`
	// VerifyURL is the institution's published verification URL ("" when
	// it publishes none: then nothing is asked).
	VerifyURL string `json:"verify_url,omitempty"`
	// Asked: the institution was asked; Status and StatusLabel are its
	// answer (valid/有效, quit/已退保, ...), Answer its JSON.
	Asked       bool            `json:"asked"`
	Status      string          `json:"status,omitempty"`
	StatusLabel string          `json:"status_label,omitempty"`
	Answer      json.RawMessage `json:"answer,omitempty"`
	// OK: no problem found; Problems says what failed otherwise.
	OK        bool      `json:"ok"`
	Problems  []string  `json:"problems,omitempty"`
	CheckedAt time.Time `json:"checked_at"`
}

// SectionCheck is the 开标验真 of a section: every guarantee received for
// it, checked now.
type SectionCheck struct {
	Section    *Section         `json:"section"`
	Guarantees []GuaranteeCheck `json:"guarantees"`
	Failures   int              `json:"failures"` // checks with a problem
	CheckedAt  time.Time        `json:"checked_at"`
}

// verifyTimeout bounds one question to an institution.
const verifyTimeout = 15 * time.Second

// maxVerifyAnswer bounds the institution's answer read.
const maxVerifyAnswer = 1 << 20

// institutionConfig is the configuration of the institution named name.
func (s *Service) institutionConfig(name string) (Institution, bool) {
	for _, in := range s.cfg.Institutions {
		if in.Name == name {
			return in, true
		}
	}
	return Institution{}, false
}

// CheckGuarantee checks the latest guarantee file received for applyNo
// against its QR code and, when the institution publishes a verification
// URL, against the institution's answer; the result is kept (LastCheck).
// The error is for an application without a guarantee file and for
// failures of the platform itself; what the guarantee or the institution
// got wrong is in the check's Problems.
func (s *Service) CheckGuarantee(ctx context.Context, applyNo string) (*GuaranteeCheck, error) {
	a, err := s.Application(ctx, applyNo)
	if err != nil {
		return nil, err
	}
	var g *Guarantee
	for _, ft := range []int{2, 1} {
		if g, err = s.Guarantee(ctx, applyNo, ft); err == nil {
			break
		}
		if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	if g == nil {
		return nil, fmt.Errorf("applyno %s: no guarantee file received: %w", applyNo, ErrNotFound)
	}
	c := &GuaranteeCheck{ApplyNo: applyNo, SectionNo: a.SectionNo, BidderCode: a.BidderCode, Institution: a.Institution,
		BaohanNo: g.BaohanNo, FileType: g.FileType, CheckedAt: s.now()}
	problem := func(format string, args ...any) { c.Problems = append(c.Problems, fmt.Sprintf(format, args...)) }
	doc, err := s.readGuarantee(ctx, g)
	if err != nil {
		return nil, err
	}
	s.checkQR(c, doc, problem)
	if in, ok := s.institutionConfig(a.Institution); ok && in.VerifyURL != "" {
		c.VerifyURL = in.VerifyURL
		s.askInstitution(ctx, c, problem)
	}
	c.OK = len(c.Problems) == 0
	if err := s.saveCheck(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

// ReadGuarantee reads the OFD of an accepted guarantee file whole
// (OpenGuarantee streams it).
func (s *Service) ReadGuarantee(ctx context.Context, applyNo string, fileType int) ([]byte, *Guarantee, error) {
	g, err := s.Guarantee(ctx, applyNo, fileType)
	if err != nil {
		return nil, nil, err
	}
	b, err := s.readGuarantee(ctx, g)
	return b, g, err
}

// readGuarantee reads a received guarantee file.
func (s *Service) readGuarantee(ctx context.Context, g *Guarantee) ([]byte, error) {
	rc, err := s.blobs.Open(ctx, g.blob)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(ctxio.Reader(ctx, rc))
}

// checkQR reads the QR code and the document's own record of it, and
// compares both with the guarantee number.
func (s *Service) checkQR(c *GuaranteeCheck, doc []byte, problem func(string, ...any)) {
	pkg, err := ofd.Open(doc)
	if err != nil {
		problem("the guarantee file does not open: %v", err)
		return
	}
	var meta string
	if d, err := ofd.Read(pkg); err == nil {
		meta, c.Code = guarantee.VerifyURLOf(d)
	}
	qr, err := guarantee.ReadQR(pkg)
	switch {
	case err != nil && meta == "":
		problem("no readable QR code on the guarantee, and the document records none")
		return
	case err != nil:
		problem("the QR code on the guarantee does not read; the document records %q", meta)
		qr = meta
	case meta != "" && qr != meta:
		problem("the QR code carries %q but the document records %q", qr, meta)
	}
	c.QR = qr
	u, err := url.Parse(qr)
	if err != nil {
		problem("the QR code %q is not a URL: %v", qr, err)
		return
	}
	q := u.Query()
	if no := q.Get("baohanno"); no != c.BaohanNo {
		problem("the QR code names guarantee %q, the file is guarantee %q", no, c.BaohanNo)
	}
	if code := q.Get("code"); code == "" {
		problem("the QR code carries no 验真码 (code)")
	} else if c.Code != "" && code != c.Code {
		problem("the QR code carries the 验真码 %q, the guarantee prints %q", code, c.Code)
	} else {
		c.Code = code
	}
}

// askInstitution asks the institution's published verification URL
// about the guarantee with the code the QR code carries. The question
// goes to the published URL, not to wherever the QR code points.
func (s *Service) askInstitution(ctx context.Context, c *GuaranteeCheck, problem func(string, ...any)) {
	if c.QR != "" && !sameEndpoint(c.QR, c.VerifyURL) {
		problem("the QR code leads to %s, not to the institution's published verification URL %s", endpointOf(c.QR), c.VerifyURL)
	}
	if c.Code == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	defer cancel()
	u := guarantee.QRContent(c.BaohanNo, c.Code, c.VerifyURL)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		problem("asking %s: %v", c.VerifyURL, err)
		return
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.core.HTTP.Do(req)
	if err != nil {
		problem("asking the institution at %s: %v", c.VerifyURL, err)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxVerifyAnswer))
	if err != nil {
		problem("reading the institution's answer: %v", err)
		return
	}
	c.Asked = true
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		json.Unmarshal(body, &e)
		problem("the institution does not verify guarantee %s with the code on it: HTTP %d %s", c.BaohanNo, resp.StatusCode, clipText(e.Error, 200))
		return
	}
	var v struct {
		BaohanNo    string `json:"baohanno"`
		Status      string `json:"status"`
		StatusLabel string `json:"status_label"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Status == "" {
		problem("the institution's answer is not a verification: %s", clipText(string(body), 200))
		return
	}
	c.Answer = json.RawMessage(body)
	c.Status, c.StatusLabel = v.Status, v.StatusLabel
	if v.BaohanNo != c.BaohanNo {
		problem("the institution answers for guarantee %q, not %q", v.BaohanNo, c.BaohanNo)
	}
}

// endpointOf is a URL without its query and fragment.
func endpointOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}

// sameEndpoint: qr leads to the published URL (scheme and host compared
// without case, the path exactly).
func sameEndpoint(qr, published string) bool {
	a, err1 := url.Parse(qr)
	b, err2 := url.Parse(published)
	if err1 != nil || err2 != nil {
		return false
	}
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host) &&
		strings.TrimRight(a.Path, "/") == strings.TrimRight(b.Path, "/")
}

func clipText(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// saveCheck keeps the latest check of an application.
func (s *Service) saveCheck(ctx context.Context, c *GuaranteeCheck) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	ok := 0
	if c.OK {
		ok = 1
	}
	_, err = s.db.Writer().ExecContext(ctx, s.db.Rebind(`INSERT INTO plat_verify_checks (applyno, filetype, ok, result, checked_at) VALUES (?,?,?,?,?)
 ON CONFLICT (applyno) DO UPDATE SET filetype = excluded.filetype, ok = excluded.ok, result = excluded.result, checked_at = excluded.checked_at`),
		c.ApplyNo, c.FileType, ok, string(b), store.Micros(c.CheckedAt))
	return err
}

// LastCheck is the latest check of applyNo's guarantee (ErrNotFound when
// none was made).
func (s *Service) LastCheck(ctx context.Context, applyNo string) (*GuaranteeCheck, error) {
	var b string
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT result FROM plat_verify_checks WHERE applyno = ?`), applyNo).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("applyno %s: no verification check yet: %w", applyNo, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	var c GuaranteeCheck
	return &c, json.Unmarshal([]byte(b), &c)
}

// sectionCheckers bounds the checks of one section made at once.
const sectionCheckers = 4

// CheckSection is the 开标验真 of a section: every application of it with
// a guarantee file received, checked now (CheckGuarantee, a few at a
// time), in the order of application.
func (s *Service) CheckSection(ctx context.Context, sectionNo string) (*SectionCheck, error) {
	sec, err := s.Section(ctx, sectionNo)
	if err != nil {
		return nil, err
	}
	var nos []string
	for offset := 0; ; offset += 500 {
		apps, err := s.Applications(ctx, ApplicationFilter{SectionNo: sectionNo, Limit: 500, Offset: offset})
		if err != nil {
			return nil, err
		}
		for _, a := range apps {
			nos = append(nos, a.ApplyNo)
		}
		if len(apps) < 500 {
			break
		}
	}
	slices.Reverse(nos) // oldest first
	checks := make([]*GuaranteeCheck, len(nos))
	errs := make([]error, len(nos))
	sem := make(chan struct{}, sectionCheckers)
	var wg sync.WaitGroup
	for i, no := range nos {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			checks[i], errs[i] = s.CheckGuarantee(ctx, no)
		}()
	}
	wg.Wait()
	out := &SectionCheck{Section: sec, Guarantees: []GuaranteeCheck{}, CheckedAt: s.now()}
	for i, c := range checks {
		switch {
		case errors.Is(errs[i], ErrNotFound):
			continue // no guarantee file (yet)
		case errs[i] != nil:
			return nil, errs[i]
		}
		if !c.OK {
			out.Failures++
		}
		out.Guarantees = append(out.Guarantees, *c)
	}
	return out, nil
}

// checkReceivedEvery is how often Run checks guarantees received since.
const checkReceivedEvery = time.Minute

// CheckReceived checks every guarantee file received and not checked yet
// (at most limit of them) and returns how many it checked. Run calls it
// periodically.
func (s *Service) CheckReceived(ctx context.Context, limit int) (int, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT g.applyno FROM plat_guarantees g
 LEFT JOIN plat_verify_checks c ON c.applyno = g.applyno
 WHERE c.applyno IS NULL OR c.filetype < g.filetype
 GROUP BY g.applyno ORDER BY MIN(g.received_at) LIMIT ?`), limit)
	if err != nil {
		return 0, err
	}
	var todo []string
	for rows.Next() {
		var no string
		if err := rows.Scan(&no); err != nil {
			rows.Close()
			return 0, err
		}
		todo = append(todo, no)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for i, no := range todo {
		c, err := s.CheckGuarantee(ctx, no)
		if err != nil {
			return i, err
		}
		if !c.OK {
			s.log.WarnContext(ctx, "guarantee verification failed", "applyno", no, "baohanno", c.BaohanNo, "problems", strings.Join(c.Problems, "; "))
		}
	}
	return len(todo), nil
}

// checkReceived is CheckReceived for Run.
func (s *Service) checkReceived(ctx context.Context) {
	if _, err := s.CheckReceived(ctx, 100); err != nil && ctx.Err() == nil {
		s.log.ErrorContext(ctx, "checking received guarantees", "err", err)
	}
}
