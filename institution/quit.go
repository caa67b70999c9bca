package institution

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

// Quit statuses. A withdrawal started at the institution is pending
// until the platform answers its quitnotice.
const (
	QuitAccepted      = "accepted"
	QuitRefused       = "refused"
	QuitPendingStatus = "pending"
)

// QuitRecord is one withdrawal request (退保) and its decision.
type QuitRecord struct {
	ID            string `json:"id"`
	ApplicationID string `json:"application_id"`
	ApplyNo       string `json:"applyno"`
	BaohanNo      string `json:"baohanno"`
	Origin        string `json:"origin"` // platform | institution
	Reason        string `json:"reason"`
	Status        string `json:"status"`
	Message       string `json:"message,omitempty"`
	TuibaoTime    string `json:"tuibaotime,omitempty"`
	// PrevState is the state a pending withdrawal goes back to when the
	// platform refuses it.
	PrevState State     `json:"prev_state,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// quitDecision applies the rule: a guarantee may be withdrawn (退保) once
// it is approved (the success notice given) and before the bid opening:
// approved or issued, not restored (baohanrestore comes at the opening),
// the bid opening time, when known, still ahead, and no claim made on it.
//
// Whether the ciphertext guarantee's upload has been acknowledged yet is
// not part of the rule: that is the institution's bookkeeping, and the
// platform may already hold the file when its quitapply comes before the
// acknowledgement is recorded (the platform takes quitapply in approved
// and cipher_received alike). A quit of an approved application stops the
// upload (stopIssuance): its messages still in the outbox are not sent.
func (s *Service) quitDecision(ctx context.Context, q store.Querier, a *Application) (ok bool, why string, err error) {
	switch a.State {
	case Approved, Issued:
	case QuitPending:
		return false, "a withdrawal of the guarantee is waiting for the platform's answer to its quitnotice", nil
	case Restoring, Restored:
		return false, fmt.Sprintf("the guarantee is %s (%s): the project key was released at the bid opening, after which a guarantee cannot be withdrawn", a.State, a.State.Label()), nil
	default:
		return false, fmt.Sprintf("the guarantee is %s (%s): only an approved guarantee can be withdrawn, before the bid opening", a.State, a.State.Label()), nil
	}
	if a.KaibiaoTime != "" {
		if t, err := protocol.ParseTime(a.KaibiaoTime); err == nil && !s.now().Before(t) {
			return false, "the bid opening (" + a.KaibiaoTime + ") has passed", nil
		}
	}
	var n int
	if err := q.QueryRowContext(ctx, s.db.Rebind(`SELECT COUNT(*) FROM inst_claims WHERE application_id=?`), a.ID).Scan(&n); err != nil {
		return false, "", err
	}
	if n > 0 {
		return false, "a claim was made on the guarantee", nil
	}
	return true, "", nil
}

// quit records and decides a withdrawal in tx and enqueues quitnotice.
func (s *Service) quit(ctx context.Context, tx *sql.Tx, a *Application, origin, actor, reason, hash string) (*QuitRecord, error) {
	var existing string
	err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT id FROM inst_quits WHERE application_id=? AND request_hash=?`), a.ID, hash).Scan(&existing)
	if err == nil {
		return s.quitByID(ctx, tx, existing)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	ok, why, err := s.quitDecision(ctx, tx, a)
	if err != nil {
		return nil, err
	}
	rec := &QuitRecord{ID: newID(), ApplicationID: a.ID, ApplyNo: a.ApplyNo, BaohanNo: a.BaohanNo, Origin: origin,
		Reason: reason, Status: QuitRefused, Message: why, CreatedAt: s.now()}
	fields := map[string]string{"applyno": a.ApplyNo, "baohanno": a.BaohanNo, "applystatus": protocol.StatusRefused}
	switch {
	case ok && origin == "institution" && a.BaohanNo != "":
		// The platform holds the guarantee too: the withdrawal stands
		// once it accepts the quitnotice (onQuitAnswer).
		rec.Status, rec.TuibaoTime, rec.PrevState = QuitPendingStatus, protocol.FormatTime(s.now()), a.State
		fields["applystatus"], fields["tuibaotime"] = protocol.StatusApproved, rec.TuibaoTime
		if err := s.move(ctx, tx, a, QuitPending, "quit", actor, reason+" (waiting for the platform's answer to quitnotice)"); err != nil {
			return nil, err
		}
	case ok:
		rec.Status, rec.TuibaoTime = QuitAccepted, protocol.FormatTime(s.now())
		fields["applystatus"], fields["tuibaotime"] = protocol.StatusApproved, rec.TuibaoTime
		if err := s.move(ctx, tx, a, Quit, "quit", actor, reason); err != nil {
			return nil, err
		}
	default:
		if err := s.repo.insertEvent(ctx, tx, a.ID, s.now(), a.State, a.State, "quit_refused", actor, why); err != nil {
			return nil, err
		}
	}
	_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO inst_quits (id, application_id, origin, reason, request_hash, status, message, tuibaotime, prev_state, created_at)
 VALUES (?,?,?,?,?,?,?,?,?,?)`), rec.ID, a.ID, origin, reason, hash, rec.Status, rec.Message, rec.TuibaoTime, string(rec.PrevState), store.Micros(rec.CreatedAt))
	if err != nil {
		return nil, err
	}
	if a.BaohanNo == "" { // nothing was issued: there is nothing to tell the platform
		return rec, nil
	}
	return rec, s.enqueue(ctx, tx, a, protocol.QuitNotice, fmt.Sprintf("%s/%s/quitnotice/%s", a.Peer, a.ApplyNo, rec.ID), fields)
}

// quitNoticeID is the quit record a quitnotice of the outbox tells the
// platform about (the last element of its dedupe key).
func quitNoticeID(m *store.OutMessage) string {
	if i := strings.LastIndexByte(m.DedupeKey, '/'); i >= 0 {
		return m.DedupeKey[i+1:]
	}
	return ""
}

// quitAwaitsAnswer reports whether m is the quitnotice of a withdrawal
// that waits for the platform's answer: its refusal is then the
// platform's decision, not a failure to retry.
func (s *Service) quitAwaitsAnswer(ctx context.Context, m *store.OutMessage) (bool, error) {
	if protocol.Interface(m.Interface) != protocol.QuitNotice {
		return false, nil
	}
	var status string
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT status FROM inst_quits WHERE id=?`), quitNoticeID(m)).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return status == QuitPendingStatus, err
}

// onQuitAnswer applies the platform's answer to the quitnotice of a
// pending withdrawal: accepted, the guarantee is quit; refused (or never
// delivered), the application goes back to where it was (issued if the
// ciphertext guarantee was acknowledged meanwhile) with the platform's
// message (why) in the history and on the quit record.
func (s *Service) onQuitAnswer(ctx context.Context, tx *sql.Tx, a *Application, m *store.OutMessage, accepted bool, why string) error {
	rec, err := s.quitByID(ctx, tx, quitNoticeID(m))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil || rec.Status != QuitPendingStatus {
		return err
	}
	actor := "platform:" + a.Peer
	if accepted {
		rec.Status, rec.Message = QuitAccepted, ""
	} else {
		rec.Status, rec.Message = QuitRefused, why
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE inst_quits SET status=?, message=? WHERE id=?`), rec.Status, rec.Message, rec.ID); err != nil {
		return err
	}
	if a.State != QuitPending { // cancelled meanwhile: the record says what the platform answered
		return s.repo.insertEvent(ctx, tx, a.ID, s.now(), a.State, a.State, "quitnotice_answered", actor, rec.Status+" "+rec.Message)
	}
	if accepted {
		return s.move(ctx, tx, a, Quit, string(protocol.QuitNotice), actor, "the platform accepted the withdrawal")
	}
	back := rec.PrevState
	if back == Approved {
		if f, err := s.repo.file(ctx, tx, a.ID, 1); err == nil && f.Stage == StageComplete {
			back = Issued
		} else if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	if back != Approved && back != Issued {
		back = Issued
	}
	return s.move(ctx, tx, a, back, "quit_refused", actor, rec.Message)
}

// handleQuitApply serves quitapply: code 1 means received; the decision
// follows in quitnotice (applystatus 1 with tuibaotime, or 0).
func (s *Service) handleQuitApply(ctx context.Context, in inbound) (any, error) {
	a, err := s.application(ctx, s.db, in)
	if err != nil {
		return nil, err
	}
	if err := checkBaohanNo(a, in.r.Get("baohanno")); err != nil {
		return nil, err
	}
	hash := requestHash("platform", in.r.Get("baohanno"), in.r.Get("reason"))
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		a, err := s.repo.applicationByID(ctx, tx, a.ID)
		if err != nil {
			return err
		}
		_, err = s.quit(ctx, tx, a, "platform", "platform:"+a.Peer, in.r.Get("reason"), hash)
		return err
	})
	return nil, err
}

// Quit withdraws a guarantee at the bidder's request made at the
// institution; the platform is told by quitnotice either way.
func (s *Service) Quit(ctx context.Context, appID, actor, reason string) (*QuitRecord, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, baohan.Refusef("a reason is required")
	}
	var rec *QuitRecord
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		a, err := s.repo.applicationByID(ctx, tx, appID)
		if err != nil {
			return err
		}
		rec, err = s.quit(ctx, tx, a, "institution", actor, reason, requestHash("institution", newID()))
		return err
	})
	return rec, err
}

const quitColumns = `q.id, q.application_id, a.applyno, a.baohanno, q.origin, q.reason, q.status, q.message, q.tuibaotime, q.prev_state, q.created_at`

func (s *Service) quits(ctx context.Context, q store.Querier, where string, args ...any) ([]*QuitRecord, error) {
	rows, err := q.QueryContext(ctx, s.db.Rebind(`SELECT `+quitColumns+` FROM inst_quits q JOIN inst_applications a ON a.id=q.application_id`+
		where+` ORDER BY q.created_at DESC LIMIT 1000`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*QuitRecord{}
	for rows.Next() {
		var r QuitRecord
		var at int64
		if err := rows.Scan(&r.ID, &r.ApplicationID, &r.ApplyNo, &r.BaohanNo, &r.Origin, &r.Reason, &r.Status, &r.Message, &r.TuibaoTime, &r.PrevState, &at); err != nil {
			return nil, err
		}
		r.CreatedAt = store.FromMicros(at)
		out = append(out, &r)
	}
	return out, rows.Err()
}

func (s *Service) quitByID(ctx context.Context, q store.Querier, id string) (*QuitRecord, error) {
	list, err := s.quits(ctx, q, " WHERE q.id=?", id)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, ErrNotFound
	}
	return list[0], nil
}

// Quits lists withdrawal requests, newest first.
func (s *Service) Quits(ctx context.Context) ([]*QuitRecord, error) { return s.quits(ctx, s.db, "") }
