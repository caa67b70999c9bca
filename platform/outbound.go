package platform

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/transport"
)

// deliver sends one outbox message to its institution. A transport error,
// an HTTP 5xx or an answer that is not the protocol's JSON is an error:
// the dispatcher retries with backoff, with the same body when the
// institution may have processed it (so that it answers the retry as it
// answered the first). A protocol answer, code 1 or 0, is delivered;
// onOutcome applies it as the institution's decision, in the transaction
// that completes the message. Two refusals are not decisions: one that
// turned the request away unprocessed (its timestamp, its sign already
// seen, an internal failure: sent again, signed anew), and an "already
// have it" answer to a retry (the first attempt got through: delivered
// as accepted).
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
	// A kept body goes out again only when it carries these fields: a
	// baohanrestore's were just built by restoreFields, which checked the
	// opening against the clock, so a key is never resent unchecked.
	resp, sent, err := s.client.Send(ctx, peer, i, fields, []byte(m.SentBody))
	if err != nil {
		s.metrics.deliveries.WithLabelValues(m.Interface, "error").Inc()
		var out store.Outcome
		if transport.MayBeProcessed(err) {
			out.Sent = string(sent)
		}
		return out, err
	}
	b, err := json.Marshal(resp)
	if err != nil {
		return store.Outcome{}, err
	}
	if resp.Code != 1 && transport.StillHandled(resp.Message) {
		// A retry that came while the first was still being handled: the
		// same body again, later (not a decision).
		s.metrics.deliveries.WithLabelValues(m.Interface, "refused").Inc()
		return store.Outcome{Kind: store.OutcomeRetry, Reason: "still being handled: " + resp.Message, Sent: string(sent)}, nil
	}
	if resp.Code != 1 && transport.RefusedUnprocessed(resp.Message) {
		s.metrics.deliveries.WithLabelValues(m.Interface, "refused").Inc()
		if m.Attempts < maxUnprocessedRefusals {
			return store.RetryLater(string(b), "turned away unprocessed: "+resp.Message, time.Second), nil
		}
		return store.GiveUp(string(b), fmt.Sprintf("turned away unprocessed %d times, last: %s", m.Attempts, resp.Message)), nil
	}
	if resp.Code != 1 && m.Attempts > 1 && transport.AlreadyProcessed(resp.Message) {
		// Sent again after an attempt whose answer was lost: the
		// institution has it.
		s.metrics.deliveries.WithLabelValues(m.Interface, "ok").Inc()
		return store.Outcome{Kind: store.OutcomeDone, Response: string(b), Reason: reasonAlreadyProcessed}, nil
	}
	result := "ok"
	if resp.Code != 1 {
		result = "refused"
	}
	s.metrics.deliveries.WithLabelValues(m.Interface, result).Inc()
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

// maxUnprocessedRefusals is how many times a message the institution
// turned away unprocessed (transport.RefusedUnprocessed) is sent again,
// signed anew, before it is given up (dead, visible, retryable).
const maxUnprocessedRefusals = 20

// reasonAlreadyProcessed marks a delivered outcome whose refusal said the
// institution already had the message: onOutcome applies it as an
// acceptance.
const reasonAlreadyProcessed = "the institution already had it (an earlier attempt got through)"

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
		// A refusal to be tried again (baohanrestore, or any request
		// turned away unprocessed): recorded once, the latest message
		// kept for the console.
		var resp protocol.Response
		_ = json.Unmarshal([]byte(o.Response), &resp)
		msg := fmt.Sprintf("%s refused (attempt %d, will retry): %s", m.Interface, m.Attempts, resp.Message)
		if m.Attempts > 1 {
			_, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE plat_applications SET last_message = ? WHERE applyno = ?`), clip(msg, 2000), a.ApplyNo)
			return err
		}
		ev := EvRestoreRefused
		if protocol.Interface(m.Interface) != protocol.BaohanRestore {
			ev = EvDeliveryRetry
		}
		return s.record(ctx, tx, a, ev, actorInstitution(m.Peer),
			map[string]any{"interface": m.Interface, "code": resp.Code, "message": resp.Message, "outbox_id": m.ID, "retrying": true},
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
	already := o.Reason == reasonAlreadyProcessed
	if resp.Code != 1 && !already {
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
	if already {
		detail["remark"] = reasonAlreadyProcessed
	}
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
		if resp.Code != 1 && !already {
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
