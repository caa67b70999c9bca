package institution

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/transport"
)

// registerInterfaces puts the seven served interfaces on the pipeline.
func (s *Service) registerInterfaces(srv *transport.Server) {
	srv.Handle(protocol.BaohanApply, s.wrap(protocol.BaohanApply, s.handleApply))
	srv.Handle(protocol.BaohanRestore, s.wrap(protocol.BaohanRestore, s.handleRestore))
	srv.Handle(protocol.InvoiceApply, s.wrap(protocol.InvoiceApply, s.handleInvoiceApply))
	srv.Handle(protocol.QuitApply, s.wrap(protocol.QuitApply, s.handleQuitApply))
	srv.Handle(protocol.CancelNotice, s.wrap(protocol.CancelNotice, s.handleCancel))
	srv.Handle(protocol.ClaimsNotice, s.wrap(protocol.ClaimsNotice, s.handleClaims))
	srv.Handle(protocol.GiveupApply, s.wrap(protocol.GiveupApply, s.handleGiveupApply))
}

// inbound is what every handler needs about the request's platform.
type inbound struct {
	pp      *platformPeer
	r       *protocol.Request
	applyNo string
}

type inboundFunc func(ctx context.Context, in inbound) (any, error)

// wrap checks the platformcode against the peer the appkey names, counts
// the outcome, and masks internal errors.
func (s *Service) wrap(i protocol.Interface, h inboundFunc) transport.HandlerFunc {
	return func(ctx context.Context, peer *transport.Peer, r *protocol.Request) (any, error) {
		pp, ok := s.peers.byKey[peer.AppKey]
		if !ok { // the pipeline found it in our directory; cannot happen
			return nil, fmt.Errorf("appkey %q is not configured", peer.AppKey)
		}
		// The flat revision sends no platformcode: the appkey's is meant.
		if want, got := pp.cfg.PlatformCode, r.Get("platformcode"); want != "" && got != want && (got != "" || !pp.peer.Profile.Revision.Flat()) {
			s.metrics.inbound.WithLabelValues(string(i), "refused").Inc()
			return nil, baohan.Refusef("platformcode %q does not belong to appkey %q (its platform %q has platformcode %q)", got, peer.AppKey, pp.cfg.Name, want)
		}
		data, err := h(ctx, inbound{pp: pp, r: r, applyNo: r.Get("applyno")})
		outcome := "ok"
		if err != nil {
			outcome = "refused"
			if !baohan.IsRefusal(err) {
				outcome = "error"
			}
			s.logger.InfoContext(ctx, "request refused", slog.String("interface", string(i)),
				slog.String("peer", pp.cfg.Name), slog.String("applyno", r.Get("applyno")), slog.String("reason", errorText(err)))
		}
		s.metrics.inbound.WithLabelValues(string(i), outcome).Inc()
		return data, peerError(err)
	}
}

func errorText(err error) string {
	if baohan.IsRefusal(err) {
		return err.Error()
	}
	return "internal error"
}

// platformCode is the code the application is filed under: the request's,
// or the configured one for requests that carry none.
func (in inbound) platformCode() string {
	if c := in.r.Get("platformcode"); c != "" {
		return c
	}
	return in.pp.cfg.PlatformCode
}

// application loads the application of the request, refusing an unknown
// applyno and one that belongs to another platform.
func (s *Service) application(ctx context.Context, q store.Querier, in inbound) (*Application, error) {
	a, err := s.repo.applicationByApplyNo(ctx, q, in.platformCode(), in.applyNo)
	if errors.Is(err, ErrNotFound) || err == nil && a.Peer != in.pp.cfg.Name {
		return nil, baohan.Refusef("applyno %q is unknown at this institution (platformcode %q)", in.applyNo, in.platformCode())
	}
	return a, err
}

// checkBaohanNo refuses a baohanno that is not the application's.
func checkBaohanNo(a *Application, baohanNo string) error {
	if a.BaohanNo == "" {
		return baohan.Refusef("applyno %q has no guarantee yet (it is %s): baohanno %q is unknown", a.ApplyNo, a.State, baohanNo)
	}
	if a.BaohanNo != baohanNo {
		return baohan.Refusef("baohanno %q does not belong to applyno %q", baohanNo, a.ApplyNo)
	}
	return nil
}

// move changes a's state in tx, checking the machine, with a history entry.
func (s *Service) move(ctx context.Context, tx *sql.Tx, a *Application, to State, event, actor, detail string) error {
	from := a.State
	if err := checkMove(a.ApplyNo, from, to, event); err != nil {
		return err
	}
	now := s.now()
	a.State, a.StateLabel, a.UpdatedAt = to, to.Label(), now
	if err := s.repo.updateApplication(ctx, tx, a, from); err != nil {
		return err
	}
	s.metrics.transitions.WithLabelValues(string(from), string(to)).Inc()
	if err := s.repo.insertEvent(ctx, tx, a.ID, now, from, to, event, actor, detail); err != nil {
		return err
	}
	if to.Final() && from.HasGuarantee() {
		// Quit or cancelled while a guarantee file may still be on its
		// way: its upload stops.
		return s.stopIssuance(ctx, tx, a, to)
	}
	return nil
}

// touch writes a's columns without a state change, with a history entry.
func (s *Service) touch(ctx context.Context, tx *sql.Tx, a *Application, event, actor, detail string) error {
	now := s.now()
	a.UpdatedAt = now
	if err := s.repo.updateApplication(ctx, tx, a, a.State); err != nil {
		return err
	}
	return s.repo.insertEvent(ctx, tx, a.ID, now, a.State, a.State, event, actor, detail)
}

// inTx runs fn in a transaction, once more when a unique constraint or a
// concurrent update got in the way (the second run sees the winner's row).
// What fn enqueued goes out once it commits (Dispatcher.InTx).
func (s *Service) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	err := s.disp.InTx(ctx, fn)
	if err != nil && (store.IsUniqueViolation(err) || errors.Is(err, errConflict)) {
		err = s.disp.InTx(ctx, fn)
	}
	if errors.Is(err, errConflict) {
		return baohan.Refusef("the application changed while this request was processed; please retry")
	}
	return err
}
