package demo

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/baohan-dev/baohan/harness"
	"github.com/baohan-dev/baohan/protocol"
)

// Exchange is one call between the two services, as the tap saw it.
type Exchange struct {
	Seq       int                `json:"seq"`
	At        time.Time          `json:"at"`
	Interface protocol.Interface `json:"interface"`
	From      string             `json:"from"` // "platform" or "institution"
	To        string             `json:"to"`
	ApplyNo   string             `json:"applyno,omitempty"`
	BaohanNo  string             `json:"baohanno,omitempty"`
	Extra     string             `json:"extra,omitempty"` // filetype and index of chunks, applystatus of notices
	HTTP      int                `json:"http"`
	Code      int                `json:"code"` // -1: the answer was not a JSON envelope
	Message   string             `json:"message,omitempty"`
	Millis    float64            `json:"ms"`
}

// Tap records the protocol calls served by the two services (it watches
// both doors of the harness): every exchange between them is served by
// one of them, so it sees each once.
type Tap struct {
	mu    sync.Mutex
	all   []Exchange
	subs  []func(Exchange)
	count map[protocol.Interface]int
}

// NewTap returns an empty tap.
func NewTap() *Tap { return &Tap{count: map[protocol.Interface]int{}} }

// Subscribe calls fn with each new exchange (from the serving goroutine).
func (t *Tap) Subscribe(fn func(Exchange)) {
	t.mu.Lock()
	t.subs = append(t.subs, fn)
	t.mu.Unlock()
}

// Exchanges returns a copy of the exchanges so far.
func (t *Tap) Exchanges() []Exchange {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Exchange(nil), t.all...)
}

// Used returns the interfaces exchanged at least once with code 1, in
// spec order, the optional ones last.
func (t *Tap) Used() []protocol.Interface {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []protocol.Interface
	for _, i := range protocol.All {
		if t.count[i] > 0 {
			out = append(out, i)
		}
	}
	return out
}

// observe records ex when it is a protocol call: a POST whose last path
// element is an interface name. The door's name is the service that
// served it; the caller is the other one.
func (t *Tap) observe(hx harness.Exchange) {
	i, ok := protocol.Lookup(hx.Path[strings.LastIndex(hx.Path, "/")+1:])
	if !ok || hx.Method != http.MethodPost {
		return
	}
	from := "institution"
	if hx.Door == "institution" {
		from = "platform"
	}
	ex := Exchange{At: hx.At, Interface: i, From: from, To: hx.Door, HTTP: hx.Status,
		Millis: float64(hx.Elapsed.Microseconds()) / 1000, Code: -1}
	if req, err := protocol.ParseRequest(hx.Request); err == nil {
		ex.ApplyNo, ex.BaohanNo = req.Get("applyno"), req.Get("baohanno")
		switch i {
		case protocol.UploadBaohanFile:
			ex.Extra = "filetype " + req.Get("filetype") + " index " + req.Get("index")
		case protocol.BaohanFileCompleteNotice:
			ex.Extra = "filetype " + req.Get("filetype")
		case protocol.BaohanNotice, protocol.InvoiceNotice, protocol.QuitNotice:
			ex.Extra = "applystatus " + req.Get("applystatus")
		}
	}
	if resp, err := protocol.ParseResponse(hx.Response); err == nil {
		ex.Code, ex.Message = resp.Code, resp.Message
	}
	t.mu.Lock()
	ex.Seq = len(t.all) + 1
	t.all = append(t.all, ex)
	if ex.Code == protocol.CodeOK {
		t.count[i]++
	}
	subs := append([]func(Exchange){}, t.subs...)
	t.mu.Unlock()
	for _, fn := range subs {
		fn(ex)
	}
}
