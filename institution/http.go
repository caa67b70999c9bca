package institution

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/internal/httpjson"
	"github.com/baohan-dev/baohan/service"
)

// publicRoutes are the routes without the admin token: the bidder's
// flow behind redirecturl (JSON; the console adds pages) and invoices.
func (s *Service) publicRoutes(mux *service.Mux) {
	mux.HandleFunc("GET /bidder/{token}", s.bidderGet)
	mux.HandleFunc("POST /bidder/{token}/open", s.bidderOpen)
	mux.HandleFunc("GET /bidder/{token}/agreement", s.bidderAgreement)
	mux.HandleFunc("POST /bidder/{token}/agreement", s.bidderSign)
	mux.HandleFunc("POST /bidder/{token}/pay", s.bidderPay)
	mux.HandleFunc("GET /bidder/{token}/guarantee", s.bidderGuarantee)
	mux.HandleFunc("POST /bidder/{token}/challenge", s.bidderChallenge)
	mux.HandleFunc("POST /bidder/{token}/quit", s.bidderQuit)
	mux.HandleFunc("POST /bidder/{token}/giveup", s.bidderGiveUp)
	mux.HandleFunc("GET /invoices/{token}", s.serveInvoice)
}

// maxAgreement bounds a signed agreement upload.
const maxAgreement = 32 << 20

// apiError is the JSON error of the bidder and admin APIs.
type apiError struct {
	Error string `json:"error"`
}

// fail answers err: 404 for unknown tokens and ids, 403 for a missing or
// failed proof of the bidder's key (challenge included), 409
// for illegal transitions, 422 for other refusals, 500 (logged, not
// shown) otherwise.
func (s *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	var te *TransitionError
	var pe *ProofError
	switch {
	case errors.Is(err, ErrNotFound):
		httpjson.Write(w, http.StatusNotFound, apiError{"not found"})
	case errors.As(err, &pe):
		httpjson.Write(w, http.StatusForbidden, apiError{err.Error()})
	case errors.As(err, &te):
		httpjson.Write(w, http.StatusConflict, apiError{err.Error()})
	case baohan.IsRefusal(err):
		httpjson.Write(w, http.StatusUnprocessableEntity, apiError{err.Error()})
	case errors.Is(err, fs.ErrNotExist):
		httpjson.Write(w, http.StatusNotFound, apiError{"not found"})
	default:
		s.logger.ErrorContext(r.Context(), "request failed", slog.String("path", redactPath(r.URL.Path)), slog.Any("err", err))
		httpjson.Write(w, http.StatusInternalServerError, apiError{"internal error"})
	}
}

// readJSON decodes a small JSON body into v (an empty body leaves v).
func readJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return baohan.Refusef("reading the body: %v", err)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return baohan.Refusef("the body is not the expected JSON object: %v", err)
	}
	return nil
}

func writeOFD(w http.ResponseWriter, name string, b []byte) {
	w.Header().Set("Content-Type", "application/ofd")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("Cache-Control", "private, no-store")
	w.Write(b)
}

func (s *Service) bidderGet(w http.ResponseWriter, r *http.Request) {
	v, err := s.Bidder(r.Context(), r.PathValue("token"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, v)
}

// OpenRequest is the body of POST /bidder/<token>/open.
type OpenRequest struct {
	Key     string `json:"key"`     // base64 of the 16-byte SM4 key recovered from the envelope (none without an envelope: flat revision)
	Product string `json:"product"` // optional; the first product when empty
}

func (s *Service) bidderOpen(w http.ResponseWriter, r *http.Request) {
	var req OpenRequest
	if err := readJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	var key []byte
	if req.Key != "" { // none for an application of the flat revision, which has no envelope
		var err error
		if key, err = gm.DecodeBase64(req.Key); err != nil {
			s.fail(w, r, baohan.Refusef("key: %v", err))
			return
		}
	}
	v, err := s.Open(r.Context(), r.PathValue("token"), key, req.Product)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, v)
}

func (s *Service) bidderAgreement(w http.ResponseWriter, r *http.Request) {
	b, err := s.Agreement(r.Context(), r.PathValue("token"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeOFD(w, "agreement.ofd", b)
}

func (s *Service) bidderSign(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxAgreement+1))
	if err != nil {
		s.fail(w, r, baohan.Refusef("reading the signed agreement: %v", err))
		return
	}
	if len(b) > maxAgreement {
		s.fail(w, r, baohan.Refusef("the signed agreement is larger than %d bytes", maxAgreement))
		return
	}
	if len(b) == 0 {
		s.fail(w, r, baohan.Refusef("the body must be the agreement OFD signed by the bidder"))
		return
	}
	v, err := s.SignAgreement(r.Context(), r.PathValue("token"), b)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, v)
}

func (s *Service) bidderPay(w http.ResponseWriter, r *http.Request) {
	var req PayRequest
	if err := readJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.Pay(r.Context(), r.PathValue("token"), req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, v)
}

func (s *Service) bidderGuarantee(w http.ResponseWriter, r *http.Request) {
	b, ft, err := s.BidderGuarantee(r.Context(), r.PathValue("token"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeOFD(w, "guarantee-"+strconv.Itoa(ft)+".ofd", b)
}

func (s *Service) bidderChallenge(w http.ResponseWriter, r *http.Request) {
	var req ChallengeRequest
	if err := readJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.BidderChallenge(r.Context(), r.PathValue("token"), req.Action)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, c)
}

// bidderQuit and bidderGiveUp need the bidder's key besides the token
// (BidderProof): see bidderproof.go.
func (s *Service) bidderQuit(w http.ResponseWriter, r *http.Request) {
	var req BidderQuitRequest
	if err := readJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	rec, err := s.BidderQuit(r.Context(), r.PathValue("token"), req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, rec)
}

func (s *Service) bidderGiveUp(w http.ResponseWriter, r *http.Request) {
	var req BidderProof
	if err := readJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	g, err := s.BidderGiveUp(r.Context(), r.PathValue("token"), req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, g)
}
