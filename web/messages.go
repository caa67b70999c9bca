package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

// The message log pages: every exchange with a peer, raw request and
// response, HTTP status, code, sign check and diagnosis, filterable by
// applyno, interface, peer, direction and result.

type messagesView struct {
	Entries    []store.LogEntry
	F          messageFilter
	Interfaces []protocol.Interface
	Peers      []string
	More       int64 // id to continue from; 0 when this is the last page
	Chain      string
}

type messageFilter struct {
	ApplyNo, Interface, Peer, Direction, Result string
}

// messageLog is what the message log pages ask of the service: both
// platform.Service and institution.Service answer it.
type messageLog interface {
	Messages(ctx context.Context, f store.LogFilter) ([]store.LogEntry, error)
	Message(ctx context.Context, id int64) (*store.LogEntry, error)
	VerifyMessages(ctx context.Context) (*store.ChainBreak, error)
	MessagePeers(ctx context.Context) ([]string, error)
}

func (c *console) messagesPage(w http.ResponseWriter, r *http.Request, s *Session) error {
	q := r.URL.Query()
	f := messageFilter{ApplyNo: q.Get("applyno"), Interface: q.Get("interface"), Peer: q.Get("peer"), Direction: q.Get("direction"), Result: q.Get("result")}
	lf := store.LogFilter{ApplyNo: f.ApplyNo, Interface: f.Interface, Peer: f.Peer, Direction: f.Direction, Limit: 50}
	switch f.Result {
	case "ok":
		t := true
		lf.OK = &t
	case "failed":
		b := false
		lf.OK = &b
	}
	lf.Before, _ = strconv.ParseInt(q.Get("before"), 10, 64)
	entries, err := c.msgs.Messages(r.Context(), lf)
	if err != nil {
		return err
	}
	peers, err := c.msgs.MessagePeers(r.Context())
	if err != nil {
		return err
	}
	v := messagesView{Entries: entries, F: f, Interfaces: protocol.Interfaces, Peers: peers}
	if len(entries) == lf.Limit {
		v.More = entries[len(entries)-1].ID
	}
	c.render(w, r, s, http.StatusOK, "messages", "报文日志", v)
	return nil
}

// message is the log entry of the {id} in r's path; an id that is not a
// number or not in the log is a 404.
func (c *console) message(r *http.Request) (*store.LogEntry, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return nil, errStatus(http.StatusNotFound, "报文 %q 不存在", r.PathValue("id"))
	}
	e, err := c.msgs.Message(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errStatus(http.StatusNotFound, "报文 %d 不存在", id)
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

func (c *console) messagePage(w http.ResponseWriter, r *http.Request, s *Session) error {
	e, err := c.message(r)
	if err != nil {
		return err
	}
	title := e.Interface
	if i, ok := protocol.Lookup(e.Interface); ok {
		title = i.Title() + "（" + e.Interface + "）"
	}
	shown := *e
	shown.Request = protocol.HideKeys(e.Request)
	c.render(w, r, s, http.StatusOK, "message", "报文 #"+strconv.FormatInt(e.ID, 10), map[string]any{"E": &shown, "Title": title})
	return nil
}

// messageBody serves a raw request or response body as it was sent,
// keys hidden (protocol.HideKeys) as the admin API hands them out.
func (c *console) messageBody(w http.ResponseWriter, r *http.Request, s *Session) error {
	e, err := c.message(r)
	if err != nil {
		return err
	}
	body := protocol.HideKeys(e.Request)
	if r.PathValue("part") == "response" {
		body = e.Response
	} else if r.PathValue("part") != "request" {
		return errStatus(http.StatusNotFound, "no such part")
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Disposition", "attachment; filename="+strconv.FormatInt(e.ID, 10)+"-"+r.PathValue("part")+".json")
	w.Write(body)
	return nil
}

func (c *console) verifyChain(w http.ResponseWriter, r *http.Request, s *Session) error {
	return c.act(w, r, s, "messages.verify", "message_log", c.base+"/messages", func() (string, error) {
		brk, err := c.msgs.VerifyMessages(r.Context())
		if err != nil {
			return "", err
		}
		if brk != nil {
			return "", brk
		}
		return "报文日志哈希链完整（SM3）", nil
	})
}
