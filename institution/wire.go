package institution

import (
	"context"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/transport"
)

// wireStore connects the service to the store's shared machinery: blobs,
// the message log, the seen-sign store, the inbound pipeline, the signing
// client and the outbox dispatcher.
func (s *Service) wireStore() error {
	var b store.Blobs
	if s.db.Dialect == store.SQLite && s.cfg.Storage.DataDir != "" {
		d, err := store.NewDirBlobs(filepath.Join(s.cfg.Storage.DataDir, "blobs"))
		if err != nil {
			return err
		}
		b = d
	} else {
		b = store.NewDBBlobs(s.db)
	}
	s.blobs = blobStore{b: b}
	s.msgs = store.NewMessageLog(s.db)
	s.mlog = redactingLog{s.msgs} // no bidder token in the log (redact.go)
	s.seenDB = store.NewSeenSigns(s.db)
	s.seenDB.Now = s.now
	s.seen = s.seenDB
	proxies, err := s.cfg.Listen.Proxies()
	if err != nil {
		return err
	}
	budget, err := s.cfg.Listen.UnauthenticatedBudget()
	if err != nil {
		return err
	}
	s.server = &transport.Server{
		Peers: s.peers, Log: s.mlog, Seen: s.seen, Now: s.now, MaxBody: s.cfg.MaxBody,
		Prefix: s.cfg.Listen.Prefix, Logger: s.logger, TrustedProxies: proxies, UnauthenticatedBudget: budget,
	}
	s.registerInterfaces(s.server)
	// Seen: the signs of what we send go into our own replay store, so a
	// request of ours posted back to us (one appsecret signs both
	// directions, the sign does not cover the interface) is a replay.
	s.client = &transport.Client{HTTP: s.http, Log: s.mlog, Now: s.now, Seen: s.seen}
	workers := s.cfg.Outbox.Workers
	if workers <= 0 {
		workers = 4
	}
	poll := s.cfg.Outbox.Poll.Duration
	if poll <= 0 {
		poll = time.Second
	}
	s.disp = &store.Dispatcher{
		DB: s.db, Deliver: s.deliver, OnOutcome: s.onOutcome, Workers: workers, PerPeer: s.cfg.perPlatform(), PollInterval: poll, Lease: s.cfg.lease(),
		Backoff: store.Backoff{MaxAttempts: s.cfg.Outbox.MaxAttempts, Initial: s.cfg.Outbox.RetryInitial.Duration, Max: s.cfg.Outbox.RetryMax.Duration}, Logger: s.logger, Now: s.now,
	}
	if s.cfg.Outbox.MaxAttempts == 0 {
		s.disp.Backoff.MaxAttempts = -1 // retry forever: every message is owed to the platform
	}
	return nil
}

// resumeEvery is how often Run looks for work a crash interrupted.
const resumeEvery = 30 * time.Second

// resume finishes what a crash interrupted outside the outbox: paid
// applications not yet underwritten, approvals whose guarantee was not
// sealed, restores whose upload was not started.
func (s *Service) resume(ctx context.Context) {
	paid, err := s.repo.listApplications(ctx, s.db, ListFilter{State: Paid, Limit: 1000})
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		s.logger.ErrorContext(ctx, "resume: listing paid applications", slog.Any("err", err))
		return
	}
	for _, a := range paid {
		if ctx.Err() != nil {
			return
		}
		if s.now().Sub(a.UpdatedAt) < 5*time.Second {
			continue // being underwritten right now
		}
		if err := s.underwrite(ctx, a.ID); err != nil && !baohan.IsRefusal(err) {
			s.logger.ErrorContext(ctx, "resume: underwriting", slog.String("applyno", a.ApplyNo), slog.Any("err", err))
		}
	}
}
