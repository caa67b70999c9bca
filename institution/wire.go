package institution

import (
	"context"
	"log/slog"
	"time"

	"github.com/baohan-dev/baohan"
)

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
