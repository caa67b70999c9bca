package institution

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/transport"
)

// enqueue puts a message to the application's platform in the outbox, in
// the application's sequence group, inside tx.
func (s *Service) enqueue(ctx context.Context, tx *sql.Tx, a *Application, i protocol.Interface, dedupe string, fields map[string]string) error {
	return s.enqueueIn(ctx, tx, a, group(a), i, dedupe, fields)
}

func (s *Service) enqueueIn(ctx context.Context, tx *sql.Tx, a *Application, grp string, i protocol.Interface, dedupe string, fields map[string]string) error {
	_, err := s.disp.Enqueue(ctx, tx, store.OutMessage{
		Peer: a.Peer, Interface: string(i), ApplyNo: a.ApplyNo, Group: grp, DedupeKey: dedupe, Fields: fields,
	}, s.now())
	return err
}

// refusalRetries is how many code-0 answers a message gets before it is
// given up: a refusal may be a passing state of the platform ("busy",
// under maintenance), but one that repeats is final and needs a person.
// (A plaintext chunk that arrives before the platform applied our answer
// to its baohanrestore is not such a refusal: the platform takes filetype
// 2 once it has released the key for the application.)
const refusalRetries = 8

// minRefusalWait is the least wait after a refusal (the backoff's first
// steps are shorter): a platform that refuses is not asked again at once.
// (An attempt after an answer carries a new sign whatever the wait:
// transport.Client never sends one request twice in one timestamp
// second.)
const minRefusalWait = 1100 * time.Millisecond

// deliver sends one outbox message to its platform. A transport failure
// or an answer that is not the protocol's JSON is retried with backoff,
// with the same body when the platform may have processed it (so that it
// answers the retry as it answered the first); code 1 is done; code 0 is
// done for giveupnotice (the platform's decision is the answer), and for
// an "already have it" answer to such a retry (the first got through);
// otherwise it is retried, signed anew, a few times, then dead.
func (s *Service) deliver(ctx context.Context, m *store.OutMessage) (store.Outcome, error) {
	pp, err := s.peers.named(m.Peer)
	if err != nil {
		return store.GiveUp("", err.Error()), nil
	}
	i := protocol.Interface(m.Interface)
	if stop, why, err := s.uploadStopped(ctx, m); err != nil {
		return store.Outcome{}, err
	} else if stop {
		// Done without a call (no Response): onOutcome leaves it alone.
		return store.Outcome{Kind: store.OutcomeDone, Reason: why}, nil
	}
	cctx, cancel := context.WithTimeout(ctx, pp.timeout)
	defer cancel()
	resp, sent, err := s.client.Send(cctx, pp.peer, i, m.Fields, []byte(m.SentBody))
	if err != nil {
		s.metrics.outbound.WithLabelValues(m.Interface, "error").Inc()
		var out store.Outcome
		if transport.MayBeProcessed(err) {
			out.Sent = string(sent)
		}
		return out, err
	}
	raw, _ := json.Marshal(resp)
	if resp.Code == protocol.CodeOK {
		s.metrics.outbound.WithLabelValues(m.Interface, "ok").Inc()
		if i == protocol.UploadBaohanFile {
			s.metrics.chunksDelivered.Inc()
		}
		return store.Delivered(string(raw)), nil
	}
	if transport.StillHandled(resp.Message) {
		// A retry that came while the first was still being handled:
		// the same body again, later.
		s.metrics.outbound.WithLabelValues(m.Interface, "refused").Inc()
		return store.Outcome{Kind: store.OutcomeRetry, Response: string(raw), Reason: "still being handled: " + resp.Message,
			RetryAfter: max(s.disp.Backoff.Delay(m.Attempts), minRefusalWait), Sent: string(sent)}, nil
	}
	if m.Attempts > 1 && i != protocol.DownloadPublicKey && !transport.RefusedUnprocessed(resp.Message) && transport.AlreadyProcessed(resp.Message) {
		// A retry, answered "already have it": an earlier attempt got
		// through and its answer was lost. (Not downloadpublickey: its
		// answer is the key, which a refusal does not carry.)
		s.metrics.outbound.WithLabelValues(m.Interface, "ok").Inc()
		s.logger.InfoContext(ctx, "the platform already had the message sent again; delivered",
			slog.Int64("id", m.ID), slog.String("interface", m.Interface), slog.String("applyno", m.ApplyNo), slog.String("answer", resp.Message))
		ok, _ := json.Marshal(protocol.Response{Code: protocol.CodeOK, Message: resp.Message})
		return store.Delivered(string(ok)), nil
	}
	s.metrics.outbound.WithLabelValues(m.Interface, "refused").Inc()
	if i == protocol.GiveupNotice && !transport.RefusedUnprocessed(resp.Message) {
		return store.Delivered(string(raw)), nil
	}
	if pending, err := s.quitAwaitsAnswer(ctx, m); err != nil {
		return store.Outcome{}, err
	} else if pending && !transport.RefusedUnprocessed(resp.Message) {
		// The platform decides a withdrawal started here: its refusal is
		// the answer (onQuitAnswer goes back), not a failure to retry.
		return store.Delivered(string(raw)), nil
	}
	why := fmt.Sprintf("%s refused by %s: %s", m.Interface, m.Peer, resp.Message)
	if m.Attempts < refusalRetries {
		return store.RetryLater(string(raw), why, max(s.disp.Backoff.Delay(m.Attempts), minRefusalWait)), nil
	}
	return store.GiveUp(string(raw), why), nil
}

// onOutcome applies a platform's answer in the transaction that records
// it: the issuance stages, the give-up decision, refusals.
func (s *Service) onOutcome(ctx context.Context, tx *sql.Tx, m *store.OutMessage, o store.Outcome) error {
	if o.Kind == store.OutcomeRetry {
		return nil
	}
	if o.Kind == store.OutcomeDone && o.Response == "" {
		return nil // not sent: the application's upload stopped (uploadStopped)
	}
	a, err := s.repo.applicationBy(ctx, tx, "peer=? AND applyno=?", m.Peer, m.ApplyNo)
	if errors.Is(err, ErrNotFound) {
		s.logger.WarnContext(ctx, "outbox answer for an unknown application", slog.Int64("id", m.ID), slog.String("applyno", m.ApplyNo))
		return nil
	}
	if err != nil {
		return err
	}
	var resp protocol.Response
	if o.Response != "" {
		if err := json.Unmarshal([]byte(o.Response), &resp); err != nil {
			return fmt.Errorf("outbox message %d: stored answer: %w", m.ID, err)
		}
	}
	i := protocol.Interface(m.Interface)
	filetype, _ := strconv.Atoi(m.Fields["filetype"])
	if o.Kind == store.OutcomeDead {
		switch i {
		case protocol.UploadBaohanFile, protocol.BaohanFileCompleteNotice:
			return s.onUploadRefused(ctx, tx, a, filetype, o.Reason)
		case protocol.DownloadPublicKey:
			files, err := s.repo.files(ctx, tx, a.ID)
			if err != nil {
				return err
			}
			for _, f := range files {
				if f.Stage == StageKeyRequested {
					if err := s.onUploadRefused(ctx, tx, a, f.FileType, o.Reason); err != nil {
						return err
					}
				}
			}
			return nil
		case protocol.GiveupNotice:
			return s.onGiveupAnswer(ctx, tx, a, false, o.Reason)
		case protocol.QuitNotice:
			if err := s.onQuitAnswer(ctx, tx, a, m, false, "quitnotice not delivered to the platform: "+o.Reason); err != nil {
				return err
			}
		}
		return s.repo.insertEvent(ctx, tx, a.ID, s.now(), a.State, a.State, "delivery_failed", "platform:"+a.Peer,
			fmt.Sprintf("%s: %s", m.Interface, o.Reason))
	}
	switch i {
	case protocol.DownloadPublicKey:
		return s.onPublicKey(ctx, tx, a, &resp)
	case protocol.BaohanFileCompleteNotice:
		return s.onComplete(ctx, tx, a, filetype)
	case protocol.GiveupNotice:
		return s.onGiveupAnswer(ctx, tx, a, resp.Code == protocol.CodeOK, resp.Message)
	case protocol.QuitNotice:
		return s.onQuitAnswer(ctx, tx, a, m, resp.Code == protocol.CodeOK, "refused by the platform: "+resp.Message)
	}
	return nil
}
