package platform

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

// deliver sends one outbox message to its institution. A transport error,
// an HTTP 5xx or an answer that is not the protocol's JSON is an error:
// the dispatcher retries with backoff. A protocol answer, code 1 or 0, is
// delivered; onOutcome applies it as the institution's decision, in the
// transaction that completes the message.
func (s *Service) deliver(ctx context.Context, m *store.OutMessage) (store.Outcome, error) {
	i := protocol.Interface(m.Interface)
	peer, ok := s.peers[m.Peer]
	if !ok {
		s.metrics.deliveries.WithLabelValues(m.Interface, "error").Inc()
		return store.GiveUp("", fmt.Sprintf("institution %q is no longer configured", m.Peer)), nil
	}
	fields := m.Fields
	if i == protocol.BaohanRestore {
		f, err := s.restoreFields(ctx, m)
		var skip *restoreSkip
		if errors.As(err, &skip) {
			s.metrics.deliveries.WithLabelValues(m.Interface, "skipped").Inc()
			return store.Outcome{Kind: store.OutcomeDone, Reason: skip.reason}, nil
		}
		if err != nil {
			s.metrics.deliveries.WithLabelValues(m.Interface, "error").Inc()
			return store.Outcome{}, err
		}
		fields = f
	}
	resp, err := s.client.Call(ctx, peer, i, fields)
	if err != nil {
		s.metrics.deliveries.WithLabelValues(m.Interface, "error").Inc()
		return store.Outcome{}, err
	}
	result := "ok"
	if resp.Code != 1 {
		result = "refused"
	}
	s.metrics.deliveries.WithLabelValues(m.Interface, result).Inc()
	b, err := json.Marshal(resp)
	if err != nil {
		return store.Outcome{}, err
	}
	if i == protocol.BaohanRestore && resp.Code != 1 {
		// The key must get there. A refused restore is most often one that
		// overtook the answer to the institution's own completion notice
		// (it is not "issued" yet when the restore comes): try again with
		// backoff, and give up (dead, visible, retryable) only after
		// maxRestoreRefusals refusals.
		if m.Attempts < maxRestoreRefusals {
			return store.RetryLater(string(b), "refused: "+resp.Message, 0), nil
		}
		return store.GiveUp(string(b), fmt.Sprintf("refused %d times, last: %s", m.Attempts, resp.Message)), nil
	}
	return store.Delivered(string(b)), nil
}

// maxRestoreRefusals is how many times a baohanrestore refused by the
// institution is sent again before it is given up (with the default
// backoff, about an hour and a half).
const maxRestoreRefusals = 20

// answerEvents maps a call to the events of its acceptance (code 1) and
// refusal (code 0).
var answerEvents = map[protocol.Interface][2]Event{
	protocol.BaohanApply:   {EvApplyAccepted, EvApplyRefused},
	protocol.BaohanRestore: {EvRestored, EvRestoreRefused},
	protocol.InvoiceApply:  {EvInvoiceAccepted, EvInvoiceRefused},
	protocol.QuitApply:     {EvQuitAccepted, EvQuitRefused},
	protocol.CancelNotice:  {EvCancelled, EvCancelRefused},
	protocol.ClaimsNotice:  {EvClaimed, EvClaimRefused},
	protocol.GiveupApply:   {EvGivenUp, EvGiveupRefused},
}

// onOutcome applies the institution's answer to the application, in the
// transaction that marks the message done. An answer that no longer fits
// the state (the application moved on meanwhile) is recorded as ignored.
func (s *Service) onOutcome(ctx context.Context, tx *sql.Tx, m *store.OutMessage, o store.Outcome) error {
	if m.ApplyNo == "" {
		return nil
	}
	a, err := s.loadApplication(ctx, tx, m.ApplyNo, true)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if o.Kind == store.OutcomeRetry && o.Response != "" {
		// A refusal to be tried again (baohanrestore): recorded once, the
		// latest message kept for the console.
		var resp protocol.Response
		_ = json.Unmarshal([]byte(o.Response), &resp)
		msg := fmt.Sprintf("%s refused (attempt %d, will retry): %s", m.Interface, m.Attempts, resp.Message)
		if m.Attempts > 1 {
			_, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE plat_applications SET last_message = ? WHERE applyno = ?`), clip(msg, 2000), a.ApplyNo)
			return err
		}
		return s.record(ctx, tx, a, EvRestoreRefused, actorInstitution(m.Peer),
			map[string]any{"code": resp.Code, "message": resp.Message, "outbox_id": m.ID, "retrying": true},
			func(a *Application) { a.LastMessage = msg })
	}
	if o.Kind == store.OutcomeDead {
		return s.record(ctx, tx, a, EvDeliveryDead, ActorOutbox, map[string]any{
			"interface": m.Interface, "outbox_id": m.ID, "dead": o.Reason}, func(a *Application) {
			a.LastMessage = fmt.Sprintf("%s could not be delivered: %s", m.Interface, o.Reason)
		})
	}
	if o.Kind != store.OutcomeDone {
		return nil
	}
	if o.Response == "" { // nothing was sent: a restore that stood down
		if o.Reason == "" {
			return nil
		}
		return s.record(ctx, tx, a, EvRestoreSkipped, ActorScheduler, map[string]any{"outbox_id": m.ID, "reason": o.Reason}, nil)
	}
	var resp protocol.Response
	if err := json.Unmarshal([]byte(o.Response), &resp); err != nil {
		return fmt.Errorf("outbox %d: answer: %w", m.ID, err)
	}
	i := protocol.Interface(m.Interface)
	evs, ok := answerEvents[i]
	if !ok {
		return nil
	}
	ev := evs[0]
	if resp.Code != 1 {
		ev = evs[1]
	}
	if ev == EvRestored && a.State != CipherReceived && a.State != Restored {
		// The plaintext guarantee came first and recorded the restore
		// (move): the answer confirms what the history already holds.
		if done, err := s.restoreRecorded(ctx, tx, a.ApplyNo); err != nil {
			return err
		} else if done {
			s.log.Debug("baohanrestore answered after the plaintext guarantee", "applyno", a.ApplyNo, "state", a.State)
			return nil
		}
	}
	detail := map[string]any{"code": resp.Code, "message": resp.Message, "outbox_id": m.ID}
	var redirect string
	if i == protocol.BaohanApply && resp.Code == 1 {
		var r protocol.ApplyResult
		if len(resp.Data) > 0 {
			_ = json.Unmarshal(resp.Data, &r)
		}
		redirect = strings.TrimSpace(r.RedirectURL)
		if u, err := url.Parse(redirect); redirect != "" && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || len(redirect) > protocol.ResultMaxRedirectURL) {
			detail["remark"] = fmt.Sprintf("redirecturl %q is not an http(s) URL of at most %d characters; not kept", clip(redirect, 80), protocol.ResultMaxRedirectURL)
			redirect = ""
		} else if redirect == "" {
			detail["remark"] = "the answer carries no redirecturl"
		}
	}
	mutate := func(a *Application) {
		if redirect != "" {
			a.RedirectURL = redirect
		}
		if resp.Code != 1 {
			a.LastMessage = fmt.Sprintf("%s refused: %s", m.Interface, resp.Message)
		}
		if a.Pending == i {
			a.Pending = ""
		}
	}
	err = s.move(ctx, tx, a, ev, actorInstitution(m.Peer), detail, mutate)
	var te *TransitionError
	if errors.As(err, &te) {
		detail["event"], detail["reason"] = string(ev), te.Error()
		s.log.Warn("answer no longer fits the application", "applyno", a.ApplyNo, "interface", m.Interface, "code", resp.Code, "reason", te.Error())
		return s.record(ctx, tx, a, EvOutcomeIgnored, actorInstitution(m.Peer), detail, mutate)
	}
	return err
}

// restoreRecorded reports whether the application's history holds its
// restore (the move to restored).
func (s *Service) restoreRecorded(ctx context.Context, q store.Querier, applyNo string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, s.db.Rebind(`SELECT COUNT(*) FROM plat_application_events
		WHERE applyno = ? AND event = ? AND to_state = ?`), applyNo, string(EvRestored), string(Restored)).Scan(&n)
	return n > 0, err
}
