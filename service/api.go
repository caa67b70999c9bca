package service

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/baohan-dev/baohan/internal/httpjson"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

// The admin API both services serve alike: the message log (every
// exchange with a peer, SM3-chained) and the outbox (every call made or
// owed). /api/openapi.json describes them with each service's own.

func (c *Core) commonAPI(api *Mux) {
	api.HandleFunc("GET /api/messages", c.apiMessages)
	api.HandleFunc("GET /api/messages/verify", c.apiVerifyChain)
	api.HandleFunc("GET /api/messages/{id}", c.apiMessage)
	api.HandleFunc("GET /api/outbox", c.apiOutbox)
	api.HandleFunc("GET /api/outbox/counts", c.apiOutboxCounts)
	api.HandleFunc("POST /api/outbox/{id}/retry", c.apiOutboxRetry)
}

// MessageView is a message log entry as the admin API shows it: bodies as
// text, a project key in a logged baohanrestore hidden.
type MessageView struct {
	ID         int64     `json:"id"`
	At         time.Time `json:"at"`
	Direction  string    `json:"direction"`
	Interface  string    `json:"interface"`
	Peer       string    `json:"peer"`
	ApplyNo    string    `json:"applyno,omitempty"`
	BaohanNo   string    `json:"baohanno,omitempty"`
	HTTPStatus int       `json:"http_status"`
	Code       int       `json:"code"`
	OK         bool      `json:"ok"`
	SignOK     bool      `json:"sign_ok"`
	Retry      bool      `json:"retry,omitempty"` // a retry answered as the first request (in), a body sent again (out)
	Diagnosis  string    `json:"diagnosis,omitempty"`
	Error      string    `json:"error,omitempty"`
	LatencyMS  int64     `json:"latency_ms"`
	Request    string    `json:"request,omitempty"`
	Response   string    `json:"response,omitempty"`
	Hash       string    `json:"hash"`
}

// ViewMessage is e as the admin API shows it.
func ViewMessage(e *store.LogEntry) MessageView {
	return MessageView{ID: e.ID, At: e.At.In(protocol.CST), Direction: e.Direction, Interface: e.Interface, Peer: e.Peer,
		ApplyNo: e.ApplyNo, BaohanNo: e.BaohanNo, HTTPStatus: e.HTTPStatus, Code: e.Code, OK: e.OK(), SignOK: e.SignOK, Retry: e.Retry,
		Diagnosis: e.Diagnosis, Error: e.Error, LatencyMS: e.LatencyMS, Request: string(protocol.HideKeys(e.Request)), Response: string(e.Response), Hash: e.Hash}
}

// BadParam is a query or path parameter the admin API refuses (400).
type BadParam struct {
	Param, Msg string
}

func (e *BadParam) Error() string { return e.Param + ": " + e.Msg }

func badParam(name, format string, a ...any) error {
	return &BadParam{Param: name, Msg: fmt.Sprintf(format, a...)}
}

// answer writes v, or the error the common API's handlers return.
func (c *Core) answer(w http.ResponseWriter, r *http.Request, v any, err error) {
	var bp *BadParam
	switch {
	case err == nil:
		httpjson.Write(w, http.StatusOK, v)
	case errors.As(err, &bp):
		httpjson.Write(w, http.StatusBadRequest, APIError{Error: err.Error(), Field: bp.Param})
	case errors.Is(err, store.ErrNotFound):
		httpjson.Write(w, http.StatusNotFound, APIError{Error: err.Error()})
	default:
		c.Log.Error("admin API", "method", r.Method, "path", r.URL.Path, "err", err)
		httpjson.Write(w, http.StatusInternalServerError, APIError{Error: "internal error (see the service's log)"})
	}
}

// QueryInt reads a non-negative integer parameter (0 when absent).
func QueryInt(r *http.Request, name string) (int, error) {
	n, err := QueryInt64(r, name)
	if err == nil && n > 1<<31-1 {
		return 0, badParam(name, "%d is too large", n)
	}
	return int(n), err
}

// QueryInt64 reads a non-negative integer parameter (0 when absent).
func QueryInt64(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, badParam(name, "%q is not a non-negative integer", v)
	}
	return n, nil
}

// peerParam is the peer parameter of a listing: peer, or its alias named
// after the kind of peer (institution, platform).
func (c *Core) peerParam(r *http.Request) string {
	q := r.URL.Query()
	if p := q.Get("peer"); p != "" {
		return p
	}
	return q.Get(c.Spec.PeerKind)
}

// Messages lists the message log, newest first, as the query asks:
// applyno, interface, peer, direction (in|out), result (ok|failed),
// before (an id), limit, and bodies=1 for the bodies.
func (c *Core) Messages(r *http.Request) ([]MessageView, error) {
	q := r.URL.Query()
	f := store.LogFilter{ApplyNo: q.Get("applyno"), Interface: q.Get("interface"), Peer: c.peerParam(r), Direction: q.Get("direction")}
	switch f.Direction {
	case "", "in", "out":
	default:
		return nil, badParam("direction", "must be in or out, got %q", f.Direction)
	}
	switch q.Get("result") {
	case "":
	case "ok":
		t := true
		f.OK = &t
	case "failed":
		t := false
		f.OK = &t
	default:
		return nil, badParam("result", "must be ok or failed, got %q", q.Get("result"))
	}
	switch q.Get("bodies") {
	case "", "0":
	case "1":
		f.WithBodies = true
	default:
		return nil, badParam("bodies", "must be 1 or 0, got %q", q.Get("bodies"))
	}
	var err error
	if f.Before, err = QueryInt64(r, "before"); err != nil {
		return nil, err
	}
	if f.Limit, err = QueryInt(r, "limit"); err != nil {
		return nil, err
	}
	es, err := c.MessageLog.List(r.Context(), f)
	if err != nil {
		return nil, err
	}
	out := make([]MessageView, len(es))
	for i := range es {
		out[i] = ViewMessage(&es[i])
	}
	return out, nil
}

func (c *Core) apiMessages(w http.ResponseWriter, r *http.Request) {
	list, err := c.Messages(r)
	c.answer(w, r, list, err)
}

func pathID(r *http.Request, what string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, badParam("id", "%q is not %s id", r.PathValue("id"), what)
	}
	return id, nil
}

func (c *Core) apiMessage(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "a message")
	if err != nil {
		c.answer(w, r, nil, err)
		return
	}
	e, err := c.MessageLog.Get(r.Context(), id)
	if err != nil {
		c.answer(w, r, nil, err)
		return
	}
	c.answer(w, r, ViewMessage(e), nil)
}

// ChainReport is the answer of GET /api/messages/verify.
type ChainReport struct {
	Intact bool   `json:"intact"`
	Break  string `json:"break,omitempty"`
}

func (c *Core) apiVerifyChain(w http.ResponseWriter, r *http.Request) {
	brk, err := c.MessageLog.VerifyChain(r.Context())
	rep := ChainReport{Intact: brk == nil}
	if brk != nil {
		rep.Break = brk.Error()
	}
	c.answer(w, r, rep, err)
}

// RedactOutbox hides what a listing of outbox messages must not show:
// keys and ivs, and long ciphertexts and chunks shortened.
func RedactOutbox(ms []store.OutMessage) []store.OutMessage {
	if ms == nil {
		return []store.OutMessage{}
	}
	for i := range ms {
		f := make(map[string]string, len(ms[i].Fields))
		for k, v := range ms[i].Fields {
			switch k {
			case "key", "iv":
				f[k] = "(hidden)"
			case "applydata", "digitalenvelope": // base64: ASCII
				if len(v) > 24 {
					v = v[:24] + "…"
				}
				f[k] = v
			case "baohanfile": // chunks are large and encrypted: their size, not their bytes
				f[k] = "(" + strconv.Itoa(len(v)) + " base64 characters)"
			default:
				f[k] = v
			}
		}
		ms[i].Fields = f
	}
	return ms
}

// Outbox lists outbox messages, newest first, as the query asks: state,
// peer, interface, applyno, before (an id), limit.
func (c *Core) Outbox(r *http.Request) ([]store.OutMessage, error) {
	q := r.URL.Query()
	f := store.OutboxFilter{State: store.State(q.Get("state")), Peer: c.peerParam(r), Interface: q.Get("interface"), ApplyNo: q.Get("applyno")}
	if f.State != "" && !slices.Contains(store.States, f.State) {
		return nil, badParam("state", "unknown outbox state %q (%v)", f.State, store.States)
	}
	var err error
	if f.Before, err = QueryInt64(r, "before"); err != nil {
		return nil, err
	}
	if f.Limit, err = QueryInt(r, "limit"); err != nil {
		return nil, err
	}
	ms, err := c.DB.OutboxList(r.Context(), f)
	if err != nil {
		return nil, err
	}
	return RedactOutbox(ms), nil
}

func (c *Core) apiOutbox(w http.ResponseWriter, r *http.Request) {
	list, err := c.Outbox(r)
	c.answer(w, r, list, err)
}

func (c *Core) apiOutboxCounts(w http.ResponseWriter, r *http.Request) {
	counts, err := c.DB.OutboxCounts(r.Context())
	c.answer(w, r, counts, err)
}

// RetryOutbox requeues a dead or failed outbox message and wakes the
// dispatcher.
func (c *Core) RetryOutbox(r *http.Request, id int64) (*store.OutMessage, error) {
	if err := c.Dispatcher.Retry(r.Context(), id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		return nil, badParam("id", "%s", err.Error())
	}
	m, err := c.DB.OutboxGet(r.Context(), id)
	if err != nil {
		return nil, err
	}
	return &RedactOutbox([]store.OutMessage{*m})[0], nil
}

func (c *Core) apiOutboxRetry(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "an outbox")
	if err != nil {
		c.answer(w, r, nil, err)
		return
	}
	m, err := c.RetryOutbox(r, id)
	c.answer(w, r, m, err)
}
