package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// SeenSigns is the database-backed replay guard (it implements
// protocol.SeenStore): a request's (appkey, sign) is recorded until the end
// of its timestamp window, and a second request with the same pair before
// then is a replay. Shared by all replicas on one database.
type SeenSigns struct {
	DB  *DB
	Now func() time.Time // default time.Now

	once sync.Once
	gc   *groupCommit[*seenReq]
}

// NewSeenSigns returns the seen-sign store of db.
func NewSeenSigns(db *DB) *SeenSigns { return &SeenSigns{DB: db} }

func (s *SeenSigns) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// SeenBefore records (appkey, sign) until the given time and reports
// whether it was already recorded and not yet expired. The check and the
// record are one statement (an upsert that only takes over an expired
// row), so two concurrent requests with one sign cannot both pass.
// Concurrent calls are committed together, several in one transaction
// (groupCommit); each returns once its record is committed.
func (s *SeenSigns) SeenBefore(ctx context.Context, appkey, sign string, until time.Time) (bool, error) {
	r := &seenReq{appkey: textSafe(appkey, 0), sign: textSafe(sign, 0), until: micros(until), now: micros(s.now())}
	if err := s.group().do(ctx, r); err != nil {
		return false, fmt.Errorf("store: seen sign for appkey %q: %w", appkey, err)
	}
	return r.seen, nil
}

type seenReq struct {
	appkey, sign string
	until, now   int64
	seen         bool
}

func (s *SeenSigns) group() *groupCommit[*seenReq] {
	s.once.Do(func() { s.gc = &groupCommit[*seenReq]{max: 512, write: s.write} })
	return s.gc
}

func (s *SeenSigns) write(ctx context.Context, items []*batchItem[*seenReq]) error {
	q := s.DB.Rebind(`INSERT INTO seen_sign (appkey, sign, until) VALUES (?, ?, ?)
		ON CONFLICT (appkey, sign) DO UPDATE SET until = excluded.until WHERE seen_sign.until <= ?`)
	return s.DB.InTx(ctx, func(tx *sql.Tx) error {
		for _, it := range items {
			r := it.v
			res, err := tx.ExecContext(ctx, q, r.appkey, r.sign, r.until, r.now)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			r.seen = n == 0
		}
		return nil
	})
}

// Purge deletes the entries expired at now and returns how many.
func (s *SeenSigns) Purge(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.DB.execWrite(ctx, `DELETE FROM seen_sign WHERE until <= ?`, micros(now))
	if err != nil {
		return 0, fmt.Errorf("store: purge seen signs: %w", err)
	}
	return res.RowsAffected()
}

// PurgeEvery runs Purge every interval until ctx ends (errors are logged).
func (s *SeenSigns) PurgeEvery(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Purge(ctx, s.now()); err != nil && ctx.Err() == nil {
				s.DB.logger.Warn("store: purge seen signs", "err", err)
			}
		}
	}
}
