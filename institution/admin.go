package institution

import (
	"context"
	"net/http"
	"strconv"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/internal/httpjson"
	"github.com/baohan-dev/baohan/service"
	"github.com/baohan-dev/baohan/store"
)

// Applications lists applications, newest first.
func (s *Service) Applications(ctx context.Context, f ListFilter) ([]*Application, error) {
	return s.repo.listApplications(ctx, s.db, f)
}

// Application returns one application by id.
func (s *Service) Application(ctx context.Context, id string) (*Application, error) {
	return s.repo.applicationByID(ctx, s.db, id)
}

// ApplicationByApplyNo finds an application by its platform's name and applyno.
func (s *Service) ApplicationByApplyNo(ctx context.Context, platform, applyNo string) (*Application, error) {
	return s.repo.applicationBy(ctx, s.db, "peer=? AND applyno=?", platform, applyNo)
}

// ApplicationDetail is an application with everything attached to it.
type ApplicationDetail struct {
	*Application
	History  []Event       `json:"history"`
	Files    []*File       `json:"files"`
	Invoices []*Invoice    `json:"invoices"`
	Quits    []*QuitRecord `json:"quits"`
	Claims   []*Claim      `json:"claims"`
	Giveups  []*Giveup     `json:"giveups"`
}

// Detail returns the application with its history, guarantee files,
// invoices, quits, claims and give-ups.
func (s *Service) Detail(ctx context.Context, id string) (*ApplicationDetail, error) {
	a, err := s.repo.applicationByID(ctx, s.db, id)
	if err != nil {
		return nil, err
	}
	d := &ApplicationDetail{Application: a}
	if d.History, err = s.repo.events(ctx, s.db, id); err != nil {
		return nil, err
	}
	if d.Files, err = s.repo.files(ctx, s.db, id); err != nil {
		return nil, err
	}
	if d.Invoices, err = s.repo.invoices(ctx, s.db, " WHERE i.application_id=?", id); err != nil {
		return nil, err
	}
	if d.Quits, err = s.quits(ctx, s.db, " WHERE q.application_id=?", id); err != nil {
		return nil, err
	}
	if d.Claims, err = s.claims(ctx, s.db, " WHERE c.application_id=?", id); err == nil {
		err = s.withFileStatus(ctx, d.Claims...)
	}
	if err != nil {
		return nil, err
	}
	if d.Giveups, err = s.giveups(ctx, s.db, " WHERE g.application_id=?", id); err != nil {
		return nil, err
	}
	return d, nil
}

// ReviewQueue lists the applications waiting for a person's decision.
func (s *Service) ReviewQueue(ctx context.Context) ([]*Application, error) {
	return s.repo.listApplications(ctx, s.db, ListFilter{State: Reviewing, Limit: 1000})
}

// Guarantee returns the sealed guarantee OFD of an application: filetype
// 1 (ciphertext) or 2 (plaintext).
func (s *Service) Guarantee(ctx context.Context, id string, filetype int) ([]byte, error) {
	f, err := s.repo.file(ctx, s.db, id, filetype)
	if err != nil {
		return nil, err
	}
	return s.blobs.Get(ctx, f.ofdBlob)
}

// GuaranteeSummary is one issued (or issuing) guarantee.
type GuaranteeSummary struct {
	ApplicationID string  `json:"application_id"`
	ApplyNo       string  `json:"applyno"`
	BaohanNo      string  `json:"baohanno"`
	State         State   `json:"state"`
	BidderName    string  `json:"biddername"`
	Bond          string  `json:"bond"`
	Premium       string  `json:"premium"`
	GenerateTime  string  `json:"generatetime"`
	Files         []*File `json:"files"`
}

// Guarantees lists the applications that have guarantee files.
func (s *Service) Guarantees(ctx context.Context) ([]*GuaranteeSummary, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT application_id FROM inst_files`)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	out := []*GuaranteeSummary{}
	for _, id := range ids {
		a, err := s.repo.applicationByID(ctx, s.db, id)
		if err != nil {
			return nil, err
		}
		files, err := s.repo.files(ctx, s.db, id)
		if err != nil {
			return nil, err
		}
		out = append(out, &GuaranteeSummary{ApplicationID: a.ID, ApplyNo: a.ApplyNo, BaohanNo: a.BaohanNo, State: a.State,
			BidderName: a.BidderName, Bond: a.Bond, Premium: a.Premium, GenerateTime: a.GenerateTime, Files: files})
	}
	return out, nil
}

// Giveups lists give-ups, newest first.
func (s *Service) Giveups(ctx context.Context) ([]*Giveup, error) { return s.giveups(ctx, s.db, "") }

// Messages lists the message log (every exchange with a platform),
// newest first, as f filters it.
func (s *Service) Messages(ctx context.Context, f store.LogFilter) ([]store.LogEntry, error) {
	return s.msgs.List(ctx, f)
}

// Message is the entry id of the message log (store.ErrNotFound when
// there is none).
func (s *Service) Message(ctx context.Context, id int64) (*store.LogEntry, error) {
	return s.msgs.Get(ctx, id)
}

// VerifyMessages checks the message log's SM3 hash chain: nil when it is
// intact, else the first row edited, inserted, deleted or reordered.
func (s *Service) VerifyMessages(ctx context.Context) (*store.ChainBreak, error) {
	return s.msgs.VerifyChain(ctx)
}

// MessagePeers are the names of the peers in the message log, sorted.
func (s *Service) MessagePeers(ctx context.Context) ([]string, error) {
	return s.msgs.Peers(ctx)
}

// Outbox lists outbound messages.
func (s *Service) Outbox(ctx context.Context, f store.OutboxFilter) ([]store.OutMessage, error) {
	return s.db.OutboxList(ctx, f)
}

// adminRoutes registers the institution's own admin JSON API, beside
// what every service serves (package service: the message log, the
// outbox, /api/openapi.json, which describes them all).
func (s *Service) adminRoutes(mux *service.Mux) {
	mux.HandleFunc("GET /api/applications", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit, _ := strconv.Atoi(q.Get("limit"))
		offset, _ := strconv.Atoi(q.Get("offset"))
		list, err := s.Applications(r.Context(), ListFilter{State: stateParam(q.Get("state")), Peer: q.Get("platform"),
			ApplyNo: q.Get("applyno"), BidderCode: q.Get("biddercode"), BaohanNo: q.Get("baohanno"), Limit: limit, Offset: offset})
		s.answer(w, r, list, err)
	})
	mux.HandleFunc("GET /api/applications/{id}", func(w http.ResponseWriter, r *http.Request) {
		d, err := s.Detail(r.Context(), r.PathValue("id"))
		s.answer(w, r, d, err)
	})
	mux.HandleFunc("GET /api/underwriting", func(w http.ResponseWriter, r *http.Request) {
		list, err := s.ReviewQueue(r.Context())
		s.answer(w, r, list, err)
	})
	type decision struct {
		Actor  string `json:"actor"`
		Reason string `json:"reason"`
	}
	decode := func(w http.ResponseWriter, r *http.Request) (decision, bool) {
		d := decision{Actor: "admin"}
		if err := readJSON(r, &d); err != nil {
			s.fail(w, r, err)
			return d, false
		}
		if d.Actor == "" {
			d.Actor = "admin"
		}
		return d, true
	}
	mux.HandleFunc("POST /api/applications/{id}/approve", func(w http.ResponseWriter, r *http.Request) {
		if d, ok := decode(w, r); ok {
			a, err := s.Approve(r.Context(), r.PathValue("id"), d.Actor)
			s.answer(w, r, a, err)
		}
	})
	mux.HandleFunc("POST /api/applications/{id}/reject", func(w http.ResponseWriter, r *http.Request) {
		if d, ok := decode(w, r); ok {
			a, err := s.Reject(r.Context(), r.PathValue("id"), d.Actor, d.Reason)
			s.answer(w, r, a, err)
		}
	})
	mux.HandleFunc("POST /api/applications/{id}/quit", func(w http.ResponseWriter, r *http.Request) {
		if d, ok := decode(w, r); ok {
			q, err := s.Quit(r.Context(), r.PathValue("id"), "person:"+d.Actor, d.Reason)
			s.answer(w, r, q, err)
		}
	})
	mux.HandleFunc("POST /api/applications/{id}/giveup", func(w http.ResponseWriter, r *http.Request) {
		if d, ok := decode(w, r); ok {
			g, err := s.GiveUp(r.Context(), r.PathValue("id"), "person:"+d.Actor)
			s.answer(w, r, g, err)
		}
	})
	mux.HandleFunc("POST /api/applications/{id}/reupload", func(w http.ResponseWriter, r *http.Request) {
		if d, ok := decode(w, r); ok {
			ft, _ := strconv.Atoi(r.URL.Query().Get("filetype"))
			if ft != 1 && ft != 2 {
				s.fail(w, r, baohan.Refusef("filetype must be 1 or 2"))
				return
			}
			err := s.ReuploadFile(r.Context(), r.PathValue("id"), ft, "person:"+d.Actor)
			s.answer(w, r, map[string]string{"status": "queued"}, err)
		}
	})
	mux.HandleFunc("GET /api/applications/{id}/guarantee", func(w http.ResponseWriter, r *http.Request) {
		ft, _ := strconv.Atoi(r.URL.Query().Get("filetype"))
		if ft == 0 {
			ft = 1
		}
		b, err := s.Guarantee(r.Context(), r.PathValue("id"), ft)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeOFD(w, "guarantee-"+strconv.Itoa(ft)+".ofd", b)
	})
	mux.HandleFunc("GET /api/guarantees", func(w http.ResponseWriter, r *http.Request) {
		list, err := s.Guarantees(r.Context())
		s.answer(w, r, list, err)
	})
	mux.HandleFunc("GET /api/invoices", func(w http.ResponseWriter, r *http.Request) {
		list, err := s.Invoices(r.Context(), r.URL.Query().Get("status"))
		s.answer(w, r, list, err)
	})
	mux.HandleFunc("POST /api/invoices/{id}/issue", func(w http.ResponseWriter, r *http.Request) {
		if d, ok := decode(w, r); ok {
			inv, err := s.IssueInvoice(r.Context(), r.PathValue("id"), "person:"+d.Actor)
			s.answer(w, r, inv, err)
		}
	})
	mux.HandleFunc("POST /api/invoices/{id}/refuse", func(w http.ResponseWriter, r *http.Request) {
		if d, ok := decode(w, r); ok {
			inv, err := s.RefuseInvoice(r.Context(), r.PathValue("id"), "person:"+d.Actor, d.Reason)
			s.answer(w, r, inv, err)
		}
	})
	mux.HandleFunc("GET /api/quits", func(w http.ResponseWriter, r *http.Request) {
		list, err := s.Quits(r.Context())
		s.answer(w, r, list, err)
	})
	mux.HandleFunc("GET /api/claims", func(w http.ResponseWriter, r *http.Request) {
		list, err := s.Claims(r.Context())
		s.answer(w, r, list, err)
	})
	mux.HandleFunc("GET /api/claims/{id}", func(w http.ResponseWriter, r *http.Request) {
		c, err := s.Claim(r.Context(), r.PathValue("id"))
		if err == nil {
			err = s.withFileStatus(r.Context(), c)
		}
		s.answer(w, r, c, err)
	})
	mux.HandleFunc("GET /api/claims/{id}/files/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.PathValue("n"))
		if err != nil {
			s.fail(w, r, ErrNotFound)
			return
		}
		k, data, err := s.ClaimFile(r.Context(), r.PathValue("id"), n)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		service.ServeKeptFile(w, k, data)
	})
	mux.HandleFunc("POST /api/claims/{id}/outcome", func(w http.ResponseWriter, r *http.Request) {
		var in ClaimOutcomeInput
		if err := readJSON(r, &in); err != nil {
			s.fail(w, r, err)
			return
		}
		c, err := s.RecordClaimOutcome(r.Context(), r.PathValue("id"), in)
		s.answer(w, r, c, err)
	})
	mux.HandleFunc("POST /api/claims/{id}/recovery", func(w http.ResponseWriter, r *http.Request) {
		var in ClaimRecoveryInput
		if err := readJSON(r, &in); err != nil {
			s.fail(w, r, err)
			return
		}
		c, err := s.RecordClaimRecovery(r.Context(), r.PathValue("id"), in)
		s.answer(w, r, c, err)
	})
	mux.HandleFunc("GET /api/giveups", func(w http.ResponseWriter, r *http.Request) {
		list, err := s.Giveups(r.Context())
		s.answer(w, r, list, err)
	})
}

func (s *Service) answer(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		s.fail(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, v)
}
