package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

// SeenSigns is the database-backed replay guard (it implements
// protocol.ReplayGuard): a request's (appkey, sign) is recorded until the end
// of its timestamp window, and a second request with the same pair before
// then is a replay. Shared by all replicas on one database.
type SeenSigns struct {
	DB  *DB
	Now func() time.Time // default time.Now

	once sync.Once
	gc   *groupCommit[*seenReq]

	mu       sync.Mutex
	inflight map[seenKey]struct{} // reserved signs whose record is not yet committed
}

type seenKey struct{ appkey, sign string }

var _ protocol.ReplayGuard = (*SeenSigns)(nil)

// Reserve implements protocol.ReplayGuard. On SQLite, where one process
// holds the database, it checks the sign against the signs reserved in
// this process and then against the committed records (a read, on the
// readers, beside the writer), and holds it until Release: the caller
// records it durably with the exchange's message log entry, in the same
// transaction, which saves a write transaction per request. On
// PostgreSQL, which replicas share, it records the sign at once, as
// SeenBefore does, and answers not deferred: a reservation in one
// replica's memory would not stop a replay sent to another.
func (s *SeenSigns) Reserve(ctx context.Context, appkey, sign string, until time.Time) (seen, deferred bool, err error) {
	if s.DB.Dialect != SQLite {
		seen, err := s.SeenBefore(ctx, appkey, sign, until)
		return seen, false, err
	}
	k := seenKey{textSafe(appkey, 0), textSafe(sign, 0)}
	s.mu.Lock()
	if _, held := s.inflight[k]; held {
		s.mu.Unlock()
		return true, false, nil
	}
	if s.inflight == nil {
		s.inflight = map[seenKey]struct{}{}
	}
	s.inflight[k] = struct{}{}
	s.mu.Unlock()
	// A record committed before the reservation is visible to this read;
	// one committed after it was reserved first, and found above.
	var n int
	err = s.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM seen_sign WHERE appkey = ? AND sign = ? AND until > ?`,
		k.appkey, k.sign, Micros(s.now())).Scan(&n)
	if err != nil || n > 0 {
		s.Release(appkey, sign)
		if err != nil {
			return false, false, fmt.Errorf("store: seen sign for appkey %q: %w", appkey, err)
		}
		return true, false, nil
	}
	return false, true, nil
}

// Release implements protocol.ReplayGuard: the reservation of (appkey,
// sign) ends (its record is committed, or the sign was seen).
func (s *SeenSigns) Release(appkey, sign string) {
	s.mu.Lock()
	delete(s.inflight, seenKey{textSafe(appkey, 0), textSafe(sign, 0)})
	s.mu.Unlock()
}

// seenUpsert records (appkey, sign) until a time, taking over only an
// expired row; placeholders appkey, sign, until, now.
const seenUpsert = `INSERT INTO seen_sign (appkey, sign, until) VALUES (?, ?, ?)
		ON CONFLICT (appkey, sign) DO UPDATE SET until = excluded.until WHERE seen_sign.until <= ?`

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
	r := &seenReq{appkey: textSafe(appkey, 0), sign: textSafe(sign, 0), until: Micros(until), now: Micros(s.now())}
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
	if s.DB.Dialect == Postgres && len(items) > 1 {
		return s.writePostgres(ctx, items)
	}
	q := s.DB.Rebind(seenUpsert)
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

// writePostgres records a batch in one statement (one round trip and one
// plan instead of one per sign): the distinct pairs go in through
// unnest, and the rows the upsert returns are the pairs that were new
// (or whose record had expired); the others, and the second of a pair
// twice in the batch (two copies of one request at once), were seen.
func (s *SeenSigns) writePostgres(ctx context.Context, items []*batchItem[*seenReq]) error {
	first := make(map[seenKey]*seenReq, len(items))
	var appkeys, signs []string
	var untils []int64
	now := int64(0)
	for _, it := range items {
		r := it.v
		r.seen = false
		now = max(now, r.now)
		k := seenKey{r.appkey, r.sign}
		if _, dup := first[k]; dup {
			r.seen = true
			continue
		}
		first[k] = r
		appkeys, signs, untils = append(appkeys, r.appkey), append(signs, r.sign), append(untils, r.until)
	}
	return s.DB.InTx(ctx, func(tx *sql.Tx) error {
		for _, r := range first {
			r.seen = true // unless returned below
		}
		rows, err := tx.QueryContext(ctx, `INSERT INTO seen_sign (appkey, sign, until)
			SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
			ON CONFLICT (appkey, sign) DO UPDATE SET until = excluded.until WHERE seen_sign.until <= $4
			RETURNING appkey, sign`, appkeys, signs, untils, now)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k seenKey
			if err := rows.Scan(&k.appkey, &k.sign); err != nil {
				return err
			}
			if r, ok := first[k]; ok {
				r.seen = false
			}
		}
		return rows.Err()
	})
}

// Purge deletes the entries expired at now and returns how many.
func (s *SeenSigns) Purge(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.DB.execWrite(ctx, `DELETE FROM seen_sign WHERE until <= ?`, Micros(now))
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
