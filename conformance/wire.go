package conformance

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

// maxAnswer bounds the answers the kit reads.
const maxAnswer = 1 << 20

// reply is the implementation's answer to one call of the kit.
type reply struct {
	Ex Exchange
	// Resp is the decoded envelope; nil when the answer was not a valid
	// {code, message, data} JSON object, and then Bad says why.
	Resp *protocol.Response
	Bad  string
}

// code returns the answer's code, or -1 when there was no valid envelope.
func (r *reply) code() int {
	if r.Resp == nil {
		return -1
	}
	return r.Resp.Code
}

// describe says in one line what came back.
func (r *reply) describe() string {
	switch {
	case r.Ex.Error != "":
		return "no answer: " + r.Ex.Error
	case r.Resp == nil:
		return fmt.Sprintf("HTTP %d, not a JSON answer: %s", r.Ex.HTTPStatus, r.Bad)
	case r.Ex.HTTPStatus != http.StatusOK:
		return fmt.Sprintf("HTTP %d, code %d %q", r.Ex.HTTPStatus, r.Resp.Code, clipText(r.Resp.Message, 120))
	}
	return fmt.Sprintf("code %d %q", r.Resp.Code, clipText(r.Resp.Message, 120))
}

// wire makes the kit's calls to the implementation under test and keeps
// every exchange.
type wire struct {
	cfg *Config

	mu     sync.Mutex
	all    []Exchange
	signed map[string]bool // signs made by signUnique
}

// sign completes fields with appkey and timestamp (unless present) and the
// sign, and returns them (a copy).
func (w *wire) sign(fields map[string]string) map[string]string {
	out := make(map[string]string, len(fields)+3)
	for k, v := range fields {
		out[k] = v
	}
	if _, ok := out["appkey"]; !ok {
		out["appkey"] = w.cfg.AppKey
	}
	if _, ok := out["timestamp"]; !ok {
		out["timestamp"] = protocol.FormatTime(w.cfg.Now())
	}
	delete(out, protocol.SignField)
	out[protocol.SignField] = protocol.SignAs(w.cfg.Profile.Sign, out, w.cfg.AppSecret)
	return out
}

// post sends body to interface i and reads the answer.
func (w *wire) post(ctx context.Context, i protocol.Interface, body []byte) *reply {
	u := w.cfg.URL + "/" + string(i)
	ex := Exchange{Direction: "out", Interface: i, URL: u, Request: string(body), At: w.cfg.Now()}
	rep := &reply{}
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err == nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		var resp *http.Response
		resp, err = w.cfg.HTTPClient.Do(req)
		if err == nil {
			b, rerr := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
			resp.Body.Close()
			ex.HTTPStatus = resp.StatusCode
			ex.Response = string(b)
			if rerr != nil {
				err = fmt.Errorf("reading the answer: %w", rerr)
			} else if r, perr := protocol.ParseResponse(b); perr != nil {
				rep.Bad = perr.Error()
			} else if !jsonObject(r.Data) {
				rep.Bad = fmt.Sprintf("answer's \"data\" is not a JSON object: %s", clipText(string(r.Data), 80))
			} else {
				rep.Resp = r
			}
		}
	}
	if err != nil {
		ex.Error = err.Error()
		rep.Bad = ex.Error
	}
	ex.Latency = time.Since(start)
	rep.Ex = ex
	w.mu.Lock()
	w.all = append(w.all, ex)
	w.mu.Unlock()
	return rep
}

// call signs fields (signUnique) and posts them.
func (w *wire) call(ctx context.Context, i protocol.Interface, fields map[string]string) *reply {
	f, err := w.signUnique(ctx, fields)
	if err != nil {
		return &reply{Bad: err.Error(), Ex: Exchange{Direction: "out", Interface: i, Error: err.Error()}}
	}
	return w.post(ctx, i, protocol.MarshalFields(f))
}

// signUnique is sign, for a sign never made before. A receiver refuses a
// sign it has seen (replay) and the timestamp has a resolution of one
// second: when the same fields were already signed in this second,
// signUnique waits for the next one, as any sender must. Fields with a
// fixed timestamp are signed as they are.
func (w *wire) signUnique(ctx context.Context, fields map[string]string) (map[string]string, error) {
	_, fixed := fields["timestamp"]
	for try := 0; ; try++ {
		fixed = fixed || try == 3 // a clock that does not move
		f := w.sign(fields)
		s := strings.ToLower(f[protocol.SignField])
		w.mu.Lock()
		dup := w.signed[s]
		if !dup || fixed {
			if w.signed == nil {
				w.signed = map[string]bool{}
			}
			w.signed[s] = true
		}
		w.mu.Unlock()
		if !dup || fixed {
			return f, nil
		}
		now := w.cfg.Now()
		wait := now.Truncate(time.Second).Add(time.Second).Sub(now) + time.Millisecond
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// exchanges returns a copy of every exchange so far.
func (w *wire) exchanges() []Exchange {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Exchange(nil), w.all...)
}

func jsonObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) >= 2 && b[0] == '{' && b[len(b)-1] == '}'
}
