package platform

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

// Section is a bid section (标段). It has no project key of its own: each
// application has one (Apply), sealed in the database until the bid
// opening.
type Section struct {
	No           string          `json:"section_no"`    // 标段编号
	Name         string          `json:"name"`          // 标段名称
	Tenderer     string          `json:"tenderer"`      // 招标人
	TendererCode string          `json:"tenderer_code"` // 招标人统一社会信用代码
	BondAmount   decimal.Decimal `json:"bond_amount"`   // 保证金金额 (元)
	KaibiaoTime  time.Time       `json:"kaibiaotime"`   // 开标时间
	// The insured party (被保险人, the tenderer) as the flat revision's
	// baohanapply names it: contact, phone, address.
	InsuredContact string `json:"insured_contact,omitempty"`
	InsuredPhone   string `json:"insured_phone,omitempty"`
	InsuredAddress string `json:"insured_address,omitempty"`
	// KeyReleasedAt is when a baohanrestore first carried the project
	// key out (zero: still secret). The opening cannot be moved after.
	KeyReleasedAt time.Time `json:"key_released_at,omitzero"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// SectionInput registers a section.
type SectionInput struct {
	No           string          `json:"section_no"`
	Name         string          `json:"name"`
	Tenderer     string          `json:"tenderer"`
	TendererCode string          `json:"tenderer_code"`
	BondAmount   decimal.Decimal `json:"bond_amount"`
	KaibiaoTime  time.Time       `json:"kaibiaotime"`
	// Optional; needed by institutions of the flat revision.
	InsuredContact string `json:"insured_contact"`
	InsuredPhone   string `json:"insured_phone"`
	InsuredAddress string `json:"insured_address"`
}

// Limits of the project fields. Each is SM4-ECB encrypted and base64
// encoded into applydata, whose fields have these maxima (characters of
// the ciphertext, per the spec's 投保申请数据 table).
const (
	maxBiaoduanNo   = 500
	maxBiaoduanName = 1000
	maxZbr          = 500
	maxZbrOrgNum    = 200
	maxApplyData    = 2000 // applydata itself, base64 of the encrypted JSON
)

// sealedLen is the length of base64(SM4-ECB-PKCS#7(n bytes)).
func sealedLen(n int) int {
	padded := (n/16 + 1) * 16
	return (padded + 2) / 3 * 4
}

// ErrNotFound is wrapped by the errors for an unknown section, bidder,
// application or guarantee.
var ErrNotFound error = &baohan.Error{Code: baohan.ENotFound, Message: "not found"}

// InputError is a refused input of an admin action: which field, why.
type InputError struct {
	Field, Msg string
}

func (e *InputError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

func inputErr(field, format string, a ...any) error {
	return &InputError{Field: field, Msg: fmt.Sprintf(format, a...)}
}

func (in *SectionInput) check(now time.Time) error {
	in.No, in.Name = strings.TrimSpace(in.No), strings.TrimSpace(in.Name)
	in.Tenderer, in.TendererCode = strings.TrimSpace(in.Tenderer), strings.TrimSpace(in.TendererCode)
	var errs []error
	field := func(name, v string, required bool, max int, what string) {
		switch {
		case v == "" && required:
			errs = append(errs, inputErr(name, "%s is required", what))
		case !utf8.ValidString(v):
			errs = append(errs, inputErr(name, "not valid UTF-8"))
		case v != "" && sealedLen(len(v)) > max:
			errs = append(errs, inputErr(name, "%s is %d bytes; encrypted it would exceed the %d characters applydata allows", what, len(v), max))
		}
	}
	field("section_no", in.No, true, maxBiaoduanNo, "标段编号")
	field("name", in.Name, true, maxBiaoduanName, "标段名称")
	field("tenderer", in.Tenderer, true, maxZbr, "招标人")
	field("tenderer_code", in.TendererCode, false, maxZbrOrgNum, "招标人统一社会信用代码")
	if !in.BondAmount.IsPositive() {
		errs = append(errs, inputErr("bond_amount", "保证金金额 must be positive, got %s", in.BondAmount))
	} else if !in.BondAmount.Round(2).Equal(in.BondAmount) {
		errs = append(errs, inputErr("bond_amount", "保证金金额 %s has more than two decimal places", in.BondAmount))
	}
	if in.KaibiaoTime.IsZero() {
		errs = append(errs, inputErr("kaibiaotime", "开标时间 is required"))
	} else if !in.KaibiaoTime.After(now) {
		errs = append(errs, inputErr("kaibiaotime", "开标时间 %s is not in the future", protocol.FormatTime(in.KaibiaoTime)))
	}
	return errors.Join(errs...)
}

// sectionKeyContext is the sealing context of a section's project key,
// which only the applications made before each had a key of its own use
// (plat_applications.key_sealed NULL; migration 00003).
func sectionKeyContext(no string) string { return "baohan/platform/section-key/" + no }

// projectKeyContext is the sealing context of an application's project
// key.
func projectKeyContext(applyNo string) string { return "baohan/platform/project-key/" + applyNo }

// RegisterSection registers a bid section. It makes no key: each
// application to the section gets a project key of its own (Apply), so
// that the applications of a section carry different ciphertexts.
func (s *Service) RegisterSection(ctx context.Context, in SectionInput) (*Section, error) {
	now := s.now()
	if err := in.check(now); err != nil {
		return nil, err
	}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO plat_sections
			(section_no, name, tenderer, tenderer_code, bond_amount, kaibiao_at, key_sealed, created_at, updated_at, insured_contact, insured_phone, insured_address)
			VALUES (?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?)`),
			in.No, in.Name, in.Tenderer, in.TendererCode, in.BondAmount.String(), store.Micros(in.KaibiaoTime), store.Micros(now), store.Micros(now),
			strings.TrimSpace(in.InsuredContact), strings.TrimSpace(in.InsuredPhone), strings.TrimSpace(in.InsuredAddress))
		return err
	})
	if store.IsUniqueViolation(err) {
		return nil, inputErr("section_no", "section %s is already registered", in.No)
	}
	if err != nil {
		return nil, fmt.Errorf("registering section %s: %w", in.No, err)
	}
	s.log.Info("section registered", "section", in.No, "kaibiaotime", protocol.FormatTime(in.KaibiaoTime))
	return s.Section(ctx, in.No)
}

const sectionColumns = `section_no, name, tenderer, tenderer_code, bond_amount, kaibiao_at, key_released_at, created_at, updated_at, insured_contact, insured_phone, insured_address`

func scanSection(sc interface{ Scan(...any) error }) (*Section, error) {
	var (
		sec                           Section
		bond                          string
		kbt, released, created, updat int64
	)
	if err := sc.Scan(&sec.No, &sec.Name, &sec.Tenderer, &sec.TendererCode, &bond, &kbt, &released, &created, &updat, &sec.InsuredContact, &sec.InsuredPhone, &sec.InsuredAddress); err != nil {
		return nil, err
	}
	var err error
	if sec.BondAmount, err = decimal.NewFromString(bond); err != nil {
		return nil, fmt.Errorf("section %s: bond amount %q: %w", sec.No, bond, err)
	}
	sec.KaibiaoTime, sec.KeyReleasedAt = store.FromMicros(kbt), store.FromMicros(released)
	sec.CreatedAt, sec.UpdatedAt = store.FromMicros(created), store.FromMicros(updat)
	return &sec, nil
}

// Section returns one section.
func (s *Service) Section(ctx context.Context, no string) (*Section, error) {
	return s.sectionQ(ctx, s.db, no)
}

func (s *Service) sectionQ(ctx context.Context, q store.Querier, no string) (*Section, error) {
	sec, err := scanSection(q.QueryRowContext(ctx, s.db.Rebind(`SELECT `+sectionColumns+` FROM plat_sections WHERE section_no = ?`), no))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("section %s: %w", no, ErrNotFound)
	}
	return sec, err
}

// SectionFilter selects sections. Empty fields match all.
type SectionFilter struct {
	Query string // part of the number or name
	// OpeningAfter, OpeningBefore bound the bid opening.
	OpeningAfter, OpeningBefore time.Time
	// After continues a listing after the section with this number (the
	// last of the previous page), found through the opening's index.
	After         string
	Limit, Offset int
}

// Sections lists sections, the nearest bid opening first.
func (s *Service) Sections(ctx context.Context, f SectionFilter) ([]Section, error) {
	var (
		where []string
		args  []any
	)
	if f.Query != "" {
		where = append(where, `(section_no LIKE ? ESCAPE '\' OR name LIKE ? ESCAPE '\')`)
		p := "%" + likeEscape(f.Query) + "%"
		args = append(args, p, p)
	}
	if !f.OpeningAfter.IsZero() {
		where = append(where, "kaibiao_at >= ?")
		args = append(args, store.Micros(f.OpeningAfter))
	}
	if !f.OpeningBefore.IsZero() {
		where = append(where, "kaibiao_at < ?")
		args = append(args, store.Micros(f.OpeningBefore))
	}
	if f.After != "" {
		// After (kaibiao_at, section_no) of that section in the order
		// below.
		const at = `(SELECT b.kaibiao_at FROM plat_sections b WHERE b.section_no = ?)`
		where = append(where, `kaibiao_at >= `+at+` AND NOT (kaibiao_at = `+at+` AND section_no <= ?)`)
		args = append(args, f.After, f.After, f.After)
	}
	q := `SELECT ` + sectionColumns + ` FROM plat_sections`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY kaibiao_at, section_no LIMIT ? OFFSET ?"
	args = append(args, limit(f.Limit), max(f.Offset, 0))
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Section{}
	for rows.Next() {
		sec, err := scanSection(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *sec)
	}
	return out, rows.Err()
}

// applicationKey opens the project key of application applyNo: its own,
// or, for an application made before each had its own (key_sealed NULL),
// its section's, which its applydata was encrypted with. Its one caller
// is releaseProjectKey, the only path that puts the key on the wire (Apply
// makes the key, encrypts with it and seals it).
func (s *Service) applicationKey(ctx context.Context, q store.Querier, applyNo string) ([]byte, error) {
	var (
		own               sql.NullString
		sectionNo, legacy string
	)
	err := q.QueryRowContext(ctx, s.db.Rebind(`SELECT a.key_sealed, a.section_no, s.key_sealed
		FROM plat_applications a JOIN plat_sections s ON s.section_no = a.section_no
		WHERE a.applyno = ?`), applyNo).Scan(&own, &sectionNo, &legacy)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("applyno %s: %w", applyNo, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return s.openApplicationKey(applyNo, own, sectionNo, legacy)
}

// openApplicationKey opens the sealed project key of the application
// (own), or its section's (legacy) when it has none of its own.
func (s *Service) openApplicationKey(applyNo string, own sql.NullString, sectionNo, legacy string) ([]byte, error) {
	sealed, purpose, whose := own.String, projectKeyContext(applyNo), "applyno "+applyNo
	if !own.Valid {
		if legacy == "" {
			return nil, fmt.Errorf("applyno %s: no project key, neither its own nor section %s's", applyNo, sectionNo)
		}
		sealed, purpose, whose = legacy, sectionKeyContext(sectionNo), "applyno "+applyNo+" (the key of section "+sectionNo+")"
	}
	key, err := s.mk.Open(sealed, purpose)
	if err != nil {
		return nil, fmt.Errorf("%s: opening the project key: %w", whose, err)
	}
	if len(key) != gm.KeySize {
		return nil, fmt.Errorf("%s: project key has %d bytes, want %d", whose, len(key), gm.KeySize)
	}
	return key, nil
}

// ErrKeyNotDue is returned when the project key is asked for before the
// section's bid opening.
var ErrKeyNotDue = errors.New("the project key is released only at the bid opening")

// releaseProjectKey returns the project key of application applyNo (its
// own, or its section's for an application made before) for its
// baohanrestore, and only when the section's current bid opening
// has come: it marks the key released in the same statement that checks
// the time, so that a concurrent Postpone either happens before (and the
// key stays) or is refused, and marks it released for the application in
// the same transaction, before the key is on the wire (from then on the
// application takes its plaintext guarantee). Before the opening it
// returns ErrKeyNotDue and the section's current opening.
func (s *Service) releaseProjectKey(ctx context.Context, no, applyNo string) ([]byte, time.Time, error) {
	now := s.now()
	var kbt time.Time
	// Grouped with the other deliveries' (store.DB.InTxGrouped): at an
	// opening every restore releases its key at once. The context is not
	// cancelled mid-way (a delivery cut short still records its release,
	// a short write; it then sends nothing).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var (
		fast bool // the key came with the release (the section's key out)
		out  keyOut
	)
	err := s.db.InTxGrouped(ctx, func(tx *sql.Tx) error {
		// The section's key is out: one statement, where the general path
		// below takes three. Every restore of an opening but the first
		// takes it.
		var err error
		if out, fast, err = s.releaseOut(ctx, tx, now, applyNo, 0, `section_no = ?`, no); fast || err != nil {
			kbt = out.kbt
			return err
		}
		sec, err := s.sectionQ(ctx, tx, no)
		if err != nil {
			return err
		}
		kbt = sec.KaibiaoTime
		// Once the key is out (key_released_at set, never reset) the
		// opening can no longer move (Postpone needs key_released_at = 0),
		// so the restores after the first leave the section row alone: at
		// an opening every restore of the section would otherwise write
		// that one row, and on PostgreSQL queue on its lock.
		if sec.KeyReleasedAt.IsZero() || now.Before(sec.KaibiaoTime) {
			res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE plat_sections
			SET key_released_at = CASE WHEN key_released_at = 0 THEN ? ELSE key_released_at END
			WHERE section_no = ? AND kaibiao_at <= ?`), store.Micros(now), no, store.Micros(now))
			if err != nil {
				return err
			}
			if sec, err = s.sectionQ(ctx, tx, no); err != nil {
				return err
			}
			kbt = sec.KaibiaoTime
			if n, _ := res.RowsAffected(); n != 1 {
				return ErrKeyNotDue
			}
		}
		res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE plat_applications
			SET key_released_at = CASE WHEN key_released_at = 0 THEN ? ELSE key_released_at END
			WHERE applyno = ? AND section_no = ?`), store.Micros(now), applyNo, no)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("applyno %s of section %s: %w", applyNo, no, ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return nil, kbt, err
	}
	// Belt and braces: the clock and the stored opening agree.
	if now.Before(kbt) {
		return nil, kbt, ErrKeyNotDue
	}
	if fast {
		key, err := s.openApplicationKey(applyNo, out.own, no, out.legacy)
		return key, kbt, err
	}
	key, err := s.applicationKey(ctx, s.db, applyNo)
	return key, kbt, err
}

// keyOut is an application whose key releaseOut marked released, with
// what its key and its baohanrestore need.
type keyOut struct {
	sectionNo, institution, baohanNo string
	own                              sql.NullString // the application's sealed key
	legacy                           string         // its section's (applications made before keys of their own)
	kbt                              time.Time      // the section's opening
}

// releaseOut marks application applyNo's key released in tx when its
// section's key is out and the opening has come (the opening can no
// longer move, and the section row no longer changes), and reads what the
// key and the request need, in one statement. cond narrows the
// application's row further (its placeholders' arguments follow); a
// non-zero opening (micros) requires the section's opening to be that
// one. ok is false, with nothing done, when the row does not qualify.
func (s *Service) releaseOut(ctx context.Context, tx *sql.Tx, now time.Time, applyNo string, opening int64, cond string, args ...any) (k keyOut, ok bool, err error) {
	var at int64
	all := append(append([]any{store.Micros(now), applyNo}, args...), store.Micros(now))
	openingCond := ""
	if opening != 0 {
		openingCond, all = ` AND s.kaibiao_at = ?`, append(all, opening)
	}
	err = tx.QueryRowContext(ctx, s.db.Rebind(`UPDATE plat_applications
		SET key_released_at = CASE WHEN key_released_at = 0 THEN ? ELSE key_released_at END
		WHERE applyno = ? AND `+cond+` AND EXISTS (SELECT 1 FROM plat_sections s
			WHERE s.section_no = plat_applications.section_no AND s.key_released_at <> 0 AND s.kaibiao_at <= ?`+openingCond+`)
		RETURNING section_no, institution, baohanno, key_sealed,
			(SELECT s.kaibiao_at FROM plat_sections s WHERE s.section_no = plat_applications.section_no),
			(SELECT s.key_sealed FROM plat_sections s WHERE s.section_no = plat_applications.section_no)`),
		all...).Scan(&k.sectionNo, &k.institution, &k.baohanNo, &k.own, &at, &k.legacy)
	if errors.Is(err, sql.ErrNoRows) {
		return k, false, nil
	}
	if err != nil {
		return k, false, err
	}
	k.kbt = store.FromMicros(at)
	return k, true, nil
}

func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// globEscape makes s match itself in a SQLite GLOB pattern.
func globEscape(s string) string {
	return strings.NewReplacer(`[`, `[[]`, `*`, `[*]`, `?`, `[?]`).Replace(s)
}

func limit(n int) int {
	if n <= 0 {
		return 100
	}
	return min(n, 1000)
}
