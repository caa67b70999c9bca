package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/internal/httpjson"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/service"
	"github.com/baohan-dev/baohan/store"
)

// The platform's admin JSON API under /api/, for the console and
// operators, beside what every service serves (package service: the
// message log, the outbox, /api/openapi.json, which describes them all).
// Every request needs "Authorization: Bearer <admin token>". Answers are
// JSON: the object asked for, or {"error": "...", "field": "..."} with a
// 4xx or 5xx status.

// adminRoutes registers the platform's own admin API.
func (s *Service) adminRoutes(api *service.Mux) {
	h := func(pattern string, fn func(w http.ResponseWriter, r *http.Request) (any, error)) {
		api.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			v, err := fn(w, r)
			if err != nil {
				s.adminError(w, r, err)
				return
			}
			if v == nil {
				return // fn wrote the answer
			}
			httpjson.Write(w, http.StatusOK, v)
		})
	}
	h("GET /api/institutions", s.apiInstitutions)

	h("GET /api/applications", s.apiApplications)
	h("POST /api/applications", s.apiApply)
	h("GET /api/applications/{applyno}", s.apiApplication)
	h("GET /api/applications/{applyno}/claim-outcomes/{seq}/files/{n}", s.apiClaimOutcomeFile)
	for _, action := range applicationActions {
		h("POST /api/applications/{applyno}/"+action, s.apiAction(action))
	}

	h("GET /api/sections", s.apiSections)
	h("POST /api/sections", s.apiRegisterSection)
	h("GET /api/sections/{no}", s.apiSection)
	h("POST /api/sections/{no}/postpone", s.apiPostpone)
	h("POST /api/sections/{no}/advance", s.apiAdvance)
	h("GET /api/sections/{no}/history", s.apiSectionHistory)
	h("POST /api/sections/{no}/restore", s.apiRestoreSection)
	h("GET /api/sections/{no}/verify", s.apiCheckSection)

	h("GET /api/bidders", s.apiBidders)
	h("POST /api/bidders", s.apiRegisterBidder)
	h("GET /api/bidders/{code}", s.apiBidder)

	h("GET /api/guarantees", s.apiGuarantees)
	h("GET /api/guarantees/{applyno}/{filetype}", s.apiGuarantee)
	h("GET /api/guarantees/{applyno}/{filetype}/ofd", s.apiGuaranteeOFD)
	h("GET /api/guarantees/{applyno}/{filetype}/report", s.apiGuaranteeReport)
	h("GET /api/guarantees/{applyno}/verify", s.apiLastCheck)
	h("POST /api/guarantees/{applyno}/verify", s.apiCheckGuarantee)
}

type apiError = service.APIError

func (s *Service) adminError(w http.ResponseWriter, r *http.Request, err error) {
	var ie *InputError
	var bp *service.BadParam
	var te *TransitionError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ie):
		httpjson.Write(w, http.StatusBadRequest, apiError{Error: err.Error(), Field: ie.Field})
	case errors.As(err, &bp):
		httpjson.Write(w, http.StatusBadRequest, apiError{Error: err.Error(), Field: bp.Param})
	case errors.As(err, &te):
		httpjson.Write(w, http.StatusConflict, apiError{Error: err.Error()})
	case errors.Is(err, ErrNotFound), errors.Is(err, store.ErrNotFound):
		httpjson.Write(w, http.StatusNotFound, apiError{Error: err.Error()})
	case errors.As(err, &mbe):
		httpjson.Write(w, http.StatusRequestEntityTooLarge, apiError{Error: fmt.Sprintf("request body larger than %d bytes", mbe.Limit)})
	default:
		s.log.Error("admin API", "method", r.Method, "path", r.URL.Path, "err", err)
		httpjson.Write(w, http.StatusInternalServerError, apiError{Error: err.Error()})
	}
}

// decodeBody reads a JSON object into v, refusing unknown fields.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		if errors.Is(err, io.EOF) {
			return &InputError{Msg: "empty body: expected a JSON object"}
		}
		return &InputError{Msg: "body: " + err.Error()}
	}
	return nil
}

// queryPage reads the limit and offset of a listing (0 when absent).
func queryPage(r *http.Request) (limit, offset int, err error) {
	if limit, err = service.QueryInt(r, "limit"); err != nil {
		return 0, 0, err
	}
	if offset, err = service.QueryInt(r, "offset"); err != nil {
		return 0, 0, err
	}
	return limit, offset, nil
}

// InstitutionInfo is what the API shows of an institution (no secrets).
type InstitutionInfo struct {
	Name                string    `json:"name"`
	AppKey              string    `json:"appkey"`
	BaseURL             string    `json:"base_url"`
	PlatformCode        string    `json:"platformcode"`
	Products            []Product `json:"products"`
	RequireBasicAccount bool      `json:"require_basic_account"`
	Cancel              bool      `json:"canclenotice"`
	SM2Layout           string    `json:"sm2_layout"`
	FileDigest          string    `json:"file_digest"`
	ChunkSize           int       `json:"chunk_size"`
	IndexBase           int       `json:"index_base"`
	Sign                string    `json:"sign"`
	Encoding            string    `json:"encoding"`
	MaxChunkSize        int       `json:"max_chunk_size"`
}

// Institutions lists the configured institutions, without secrets.
func (s *Service) Institutions() []InstitutionInfo {
	out := make([]InstitutionInfo, 0, len(s.cfg.Institutions))
	for _, in := range s.cfg.Institutions {
		p := s.peers[in.Name]
		out = append(out, InstitutionInfo{Name: in.Name, AppKey: in.AppKey, BaseURL: p.BaseURL, PlatformCode: in.PlatformCode,
			Products: in.Products, RequireBasicAccount: in.RequireBasicAccount, Cancel: !in.NoCancel,
			SM2Layout: p.Profile.SM2Layout.String(), FileDigest: gm.FileDigestName(p.Profile.FileDigest, p.Profile.DigestOver),
			ChunkSize: p.Profile.ChunkSize, IndexBase: p.Profile.IndexBase,
			Sign: p.Profile.Sign.String(), Encoding: p.Profile.Encoding.String(), MaxChunkSize: p.Profile.MaxChunk()})
	}
	return out
}

// MarshalJSON writes a product with its rate as a decimal string.
func (p Product) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name       string `json:"name"`
		Rate       string `json:"rate"`
		MinPremium string `json:"min_premium,omitempty"`
	}{p.Name, p.Rate.String(), minPremium(p.MinPremium)})
}

func minPremium(d decimal.Decimal) string {
	if d.IsZero() {
		return ""
	}
	return d.StringFixed(2)
}

func (s *Service) apiInstitutions(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.Institutions(), nil
}

func (s *Service) apiApplications(w http.ResponseWriter, r *http.Request) (any, error) {
	q := r.URL.Query()
	f := ApplicationFilter{State: State(q.Get("state")), SectionNo: q.Get("section"), Institution: q.Get("institution"),
		BidderCode: q.Get("bidder"), ApplyNo: q.Get("applyno"), BaohanNo: q.Get("baohanno"), Before: q.Get("before")}
	if f.State != "" && !f.State.Valid() {
		return nil, inputErr("state", "unknown state %q", f.State)
	}
	var err error
	if f.Limit, f.Offset, err = queryPage(r); err != nil {
		return nil, err
	}
	return s.Applications(r.Context(), f)
}

func (s *Service) apiApply(w http.ResponseWriter, r *http.Request) (any, error) {
	var in ApplyInput
	if err := decodeBody(r, &in); err != nil {
		return nil, err
	}
	a, err := s.Apply(r.Context(), in)
	if err != nil {
		return nil, err
	}
	httpjson.Write(w, http.StatusCreated, a)
	return nil, nil
}

// ApplicationDetail is an application with its history, guarantee files
// and outbound calls.
type ApplicationDetail struct {
	Application *Application       `json:"application"`
	History     []HistoryEvent     `json:"history"`
	Guarantees  []Guarantee        `json:"guarantees"`
	Calls       []store.OutMessage `json:"calls"`
	// ClaimOutcomes are the claim's outcome and recovery as the
	// institution reported them (claimsresultnotice, claimsrepaynotice).
	ClaimOutcomes []*ClaimOutcome `json:"claim_outcomes"`
}

// Detail returns the application with its history, guarantees and calls.
func (s *Service) Detail(ctx context.Context, applyNo string) (*ApplicationDetail, error) {
	a, err := s.Application(ctx, applyNo)
	if err != nil {
		return nil, err
	}
	d := &ApplicationDetail{Application: a}
	if d.History, err = s.History(ctx, applyNo); err != nil {
		return nil, err
	}
	if d.Guarantees, err = s.Guarantees(ctx, applyNo, 10, 0); err != nil {
		return nil, err
	}
	calls, err := s.db.OutboxList(ctx, store.OutboxFilter{ApplyNo: applyNo, Limit: 200})
	if err != nil {
		return nil, err
	}
	d.Calls = service.RedactOutbox(calls)
	if d.ClaimOutcomes, err = s.ClaimOutcomes(ctx, applyNo); err != nil {
		return nil, err
	}
	return d, nil
}

func (s *Service) apiApplication(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.Detail(r.Context(), r.PathValue("applyno"))
}

// apiClaimOutcomeFile serves the kept copy of a transfer voucher.
func (s *Service) apiClaimOutcomeFile(w http.ResponseWriter, r *http.Request) (any, error) {
	seq, err1 := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	n, err2 := strconv.Atoi(r.PathValue("n"))
	if err1 != nil || err2 != nil {
		return nil, ErrNotFound
	}
	k, data, err := s.ClaimOutcomeFile(r.Context(), r.PathValue("applyno"), seq, n)
	if err != nil {
		return nil, err
	}
	service.ServeKeptFile(w, k, data)
	return nil, nil
}

type reasonInput struct {
	Reason string `json:"reason"`
}

// applicationActions are the actions on an application of the admin API:
// POST /api/applications/{applyno}/<action>.
var applicationActions = []string{"quit", "cancel", "claim", "giveup", "invoice", "restore"}

func (s *Service) apiAction(action string) func(w http.ResponseWriter, r *http.Request) (any, error) {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		ctx, no := r.Context(), r.PathValue("applyno")
		switch action {
		case "quit":
			var in reasonInput
			if err := decodeBody(r, &in); err != nil {
				return nil, err
			}
			return s.Quit(ctx, no, in.Reason)
		case "cancel":
			var in reasonInput
			if err := decodeOptionalBody(r, &in); err != nil {
				return nil, err
			}
			return s.Cancel(ctx, no, in.Reason)
		case "claim":
			var in ClaimInput
			if err := decodeBody(r, &in); err != nil {
				return nil, err
			}
			return s.Claim(ctx, no, in)
		case "giveup":
			var in reasonInput
			if err := decodeOptionalBody(r, &in); err != nil {
				return nil, err
			}
			return s.GiveUp(ctx, no, in.Reason)
		case "invoice":
			var in InvoiceInput
			if err := decodeBody(r, &in); err != nil {
				return nil, err
			}
			return s.RequestInvoice(ctx, no, in)
		}
		return s.RestoreNow(ctx, no)
	}
}

// decodeOptionalBody is decodeBody that accepts an empty body.
func decodeOptionalBody(r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return nil
	}
	err := decodeBody(r, v)
	var ie *InputError
	if errors.As(err, &ie) && strings.HasPrefix(ie.Msg, "empty body") {
		return nil
	}
	return err
}

func (s *Service) apiSections(w http.ResponseWriter, r *http.Request) (any, error) {
	f := SectionFilter{Query: r.URL.Query().Get("q")}
	var err error
	if f.Limit, f.Offset, err = queryPage(r); err != nil {
		return nil, err
	}
	return s.Sections(r.Context(), f)
}

// apiTime accepts "yyyy-MM-dd HH:mm:ss" (China Standard Time) or RFC 3339.
type apiTime struct{ time.Time }

func (t *apiTime) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("want a time string like \"2026-12-01 09:30:00\"")
	}
	if tt, err := protocol.ParseTime(v); err == nil {
		t.Time = tt
		return nil
	}
	tt, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return fmt.Errorf("time %q: want yyyy-MM-dd HH:mm:ss (UTC+8) or RFC 3339", v)
	}
	t.Time = tt
	return nil
}

func (s *Service) apiRegisterSection(w http.ResponseWriter, r *http.Request) (any, error) {
	var in struct {
		SectionInput
		KaibiaoTime apiTime `json:"kaibiaotime"`
	}
	if err := decodeBody(r, &in); err != nil {
		return nil, err
	}
	in.SectionInput.KaibiaoTime = in.KaibiaoTime.Time
	sec, err := s.RegisterSection(r.Context(), in.SectionInput)
	if err != nil {
		return nil, err
	}
	httpjson.Write(w, http.StatusCreated, sec)
	return nil, nil
}

func (s *Service) apiSection(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.Section(r.Context(), r.PathValue("no"))
}

// openingInput is the body of postpone and advance.
type openingInput struct {
	KaibiaoTime apiTime `json:"kaibiaotime"`
	Reason      string  `json:"reason"`
}

func readOpening(r *http.Request) (openingInput, error) {
	var in openingInput
	if err := decodeBody(r, &in); err != nil {
		return in, err
	}
	if in.KaibiaoTime.IsZero() {
		return in, inputErr("kaibiaotime", "the new 开标时间 is required")
	}
	return in, nil
}

// apiPostpone moves a section's opening later (an earlier time is
// refused: see apiAdvance).
func (s *Service) apiPostpone(w http.ResponseWriter, r *http.Request) (any, error) {
	in, err := readOpening(r)
	if err != nil {
		return nil, err
	}
	return s.Postpone(r.Context(), r.PathValue("no"), in.KaibiaoTime.Time, in.Reason)
}

// apiAdvance brings a section's opening forward; the reason is required.
func (s *Service) apiAdvance(w http.ResponseWriter, r *http.Request) (any, error) {
	in, err := readOpening(r)
	if err != nil {
		return nil, err
	}
	return s.AdvanceOpening(r.Context(), r.PathValue("no"), in.KaibiaoTime.Time, in.Reason)
}

func (s *Service) apiSectionHistory(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.SectionHistory(r.Context(), r.PathValue("no"))
}

func (s *Service) apiCheckSection(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.CheckSection(r.Context(), r.PathValue("no"))
}

func (s *Service) apiLastCheck(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.LastCheck(r.Context(), r.PathValue("applyno"))
}

func (s *Service) apiCheckGuarantee(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.CheckGuarantee(r.Context(), r.PathValue("applyno"))
}

func (s *Service) apiRestoreSection(w http.ResponseWriter, r *http.Request) (any, error) {
	nos, err := s.RestoreSectionNow(r.Context(), r.PathValue("no"))
	if err != nil && len(nos) == 0 {
		return nil, err
	}
	out := map[string]any{"restoring": nos}
	if err != nil {
		out["errors"] = err.Error()
	}
	if nos == nil {
		out["restoring"] = []string{}
	}
	return out, nil
}

func (s *Service) apiBidders(w http.ResponseWriter, r *http.Request) (any, error) {
	lim, off, err := queryPage(r)
	if err != nil {
		return nil, err
	}
	return s.Bidders(r.Context(), r.URL.Query().Get("q"), lim, off)
}

func (s *Service) apiRegisterBidder(w http.ResponseWriter, r *http.Request) (any, error) {
	var in BidderInput
	if err := decodeBody(r, &in); err != nil {
		return nil, err
	}
	b, err := s.RegisterBidder(r.Context(), in)
	if err != nil {
		return nil, err
	}
	httpjson.Write(w, http.StatusCreated, b)
	return nil, nil
}

func (s *Service) apiBidder(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.Bidder(r.Context(), r.PathValue("code"))
}

func (s *Service) apiGuarantees(w http.ResponseWriter, r *http.Request) (any, error) {
	lim, off, err := queryPage(r)
	if err != nil {
		return nil, err
	}
	return s.Guarantees(r.Context(), r.URL.Query().Get("applyno"), lim, off)
}

func pathFileType(r *http.Request) (int, error) {
	switch r.PathValue("filetype") {
	case "1":
		return 1, nil
	case "2":
		return 2, nil
	}
	return 0, inputErr("filetype", "must be 1 (密文) or 2 (明文), got %q", r.PathValue("filetype"))
}

func (s *Service) apiGuarantee(w http.ResponseWriter, r *http.Request) (any, error) {
	ft, err := pathFileType(r)
	if err != nil {
		return nil, err
	}
	return s.Guarantee(r.Context(), r.PathValue("applyno"), ft)
}

func (s *Service) apiGuaranteeReport(w http.ResponseWriter, r *http.Request) (any, error) {
	ft, err := pathFileType(r)
	if err != nil {
		return nil, err
	}
	g, err := s.Guarantee(r.Context(), r.PathValue("applyno"), ft)
	if err != nil {
		return nil, err
	}
	return g.Report, nil
}

func (s *Service) apiGuaranteeOFD(w http.ResponseWriter, r *http.Request) (any, error) {
	ft, err := pathFileType(r)
	if err != nil {
		return nil, err
	}
	rc, g, err := s.OpenGuarantee(r.Context(), r.PathValue("applyno"), ft)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	name := fmt.Sprintf("%s-%s-%d.ofd", g.ApplyNo, g.BaohanNo, g.FileType)
	w.Header().Set("Content-Type", "application/ofd")
	w.Header().Set("Content-Length", strconv.FormatInt(g.Size, 10))
	w.Header().Set("Content-Disposition", `attachment; filename="`+strings.ReplaceAll(name, `"`, "")+`"`)
	w.Header().Set("X-Content-SM3", g.SM3)
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, rc); err != nil {
		s.log.Warn("sending guarantee", "applyno", g.ApplyNo, "err", err)
	}
	return nil, nil
}

// Messages lists the message log (every exchange with an institution),
// newest first, as f filters it.
func (s *Service) Messages(ctx context.Context, f store.LogFilter) ([]store.LogEntry, error) {
	return s.msgLog.List(ctx, f)
}

// Message is the entry id of the message log (store.ErrNotFound when
// there is none).
func (s *Service) Message(ctx context.Context, id int64) (*store.LogEntry, error) {
	return s.msgLog.Get(ctx, id)
}

// VerifyMessages checks the message log's SM3 hash chain: nil when it is
// intact, else the first row edited, inserted, deleted or reordered.
func (s *Service) VerifyMessages(ctx context.Context) (*store.ChainBreak, error) {
	return s.msgLog.VerifyChain(ctx)
}

// MessagePeers are the names of the peers in the message log, sorted.
func (s *Service) MessagePeers(ctx context.Context) ([]string, error) {
	return s.msgLog.Peers(ctx)
}
