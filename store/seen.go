package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/baohan-dev/baohan/protocol"
)

// SeenSigns is the database-backed replay guard (it implements
// protocol.ReplayGuard): a request's (appkey, sign) is recorded until the
// end of its timestamp window, with the digest of the request and the
// answer it got; the same request again before then is answered as the
// first was, another request with the sign is a replay. Shared by all
// replicas on one database.
type SeenSigns struct {
	DB  *DB
	Now func() time.Time // default time.Now
	// Poll is the longest wait between looks at a record another replica
	// is still settling (default 500ms).
	Poll time.Duration

	once sync.Once
	gc   *groupCommit[*seenReq]

	mu       sync.Mutex
	inflight map[seenKey]*seenHold // signs reserved in this process, not yet released
}

type seenKey struct{ appkey, sign string }

// seenHold is a reservation of this process: the request's digest, and
// done, closed when it is released.
type seenHold struct {
	digest string
	done   chan struct{}
}

var _ protocol.ReplayGuard = (*SeenSigns)(nil)

// Reserve implements protocol.ReplayGuard. On SQLite, where one process
// holds the database, it checks the sign against the signs reserved in
// this process and then against the committed records (a read, on the
// readers, beside the writer), and holds it until Release: the caller
// records it durably with the exchange's message log entry, in the same
// transaction, which saves a write transaction per request. On
// PostgreSQL, which replicas share, it records the sign (with no answer
// yet) at once, as SeenBefore does, and answers not deferred: a
// reservation in one replica's memory would not stop a replay sent to
// another.
func (s *SeenSigns) Reserve(ctx context.Context, m protocol.SeenMark) (protocol.Claim, error) {
	k := seenKey{textSafe(m.AppKey, 0), textSafe(m.Sign, 0)}
	if s.DB.Dialect != SQLite {
		r := &seenReq{appkey: k.appkey, sign: k.sign, digest: m.Digest, until: Micros(m.Until), now: Micros(s.now())}
		if err := s.group().do(ctx, r); err != nil {
			return protocol.Claim{}, fmt.Errorf("store: seen sign for appkey %q: %w", m.AppKey, err)
		}
		if !r.seen {
			s.tryHold(k, m.Digest) // the database recorded it as new
			return protocol.Claim{}, nil
		}
		return s.lookup(ctx, k, m.Digest)
	}
	if h, held := s.tryHold(k, m.Digest); held {
		return protocol.Claim{Seen: true, Same: h.digest != "" && h.digest == m.Digest}, nil
	}
	// A record committed before the reservation is visible to this read;
	// one committed after it was reserved first, and found above.
	c, err := s.lookup(ctx, k, m.Digest)
	if err != nil || c.Seen {
		s.Release(m.AppKey, m.Sign)
		return c, err
	}
	c.Deferred = true
	return c, nil
}

// tryHold reserves k in this process unless it is held already, in one
// step: two requests with one sign at once cannot both find it free.
// held reports that it was, with its holder.
func (s *SeenSigns) tryHold(k seenKey, digest string) (h *seenHold, held bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h, held := s.inflight[k]; held {
		return h, true
	}
	if s.inflight == nil {
		s.inflight = map[seenKey]*seenHold{}
	}
	s.inflight[k] = &seenHold{digest: digest, done: make(chan struct{})}
	return nil, false
}

// lookup reads the unexpired record of k: Seen when there is one, Same
// when its digest is digest, with the answer when it has one.
func (s *SeenSigns) lookup(ctx context.Context, k seenKey, digest string) (protocol.Claim, error) {
	var (
		d      string
		answer []byte
	)
	err := s.DB.QueryRowContext(ctx, s.DB.Rebind(`SELECT digest, answer FROM seen_sign WHERE appkey = ? AND sign = ? AND until > ?`),
		k.appkey, k.sign, Micros(s.now())).Scan(&d, &answer)
	if errors.Is(err, sql.ErrNoRows) {
		return protocol.Claim{}, nil
	}
	if err != nil {
		return protocol.Claim{}, fmt.Errorf("store: seen sign for appkey %q: %w", k.appkey, err)
	}
	c := protocol.Claim{Seen: true, Same: d != "" && d == digest}
	if c.Same {
		c.Answer, c.Rehandle = stored(answer)
	}
	return c, nil
}

// rehandleMarker is the answer column of a request whose answer is not
// kept (SeenMark.Rehandle); never a JSON answer.
var rehandleMarker = []byte("\x00rehandle")

// stored reads the answer column: the answer, or Rehandle.
func stored(answer []byte) ([]byte, bool) {
	if bytes.Equal(answer, rehandleMarker) {
		return nil, true
	}
	return answer, false
}

// Settle implements protocol.ReplayGuard: the record of a request the
// message log did not write.
func (s *SeenSigns) Settle(ctx context.Context, m protocol.SeenMark) error {
	err := s.DB.InTx(ctx, func(tx *sql.Tx) error { return settleSeen(ctx, tx, s.DB, &m, s.now()) })
	if err != nil {
		return fmt.Errorf("store: seen sign for appkey %q: %w", m.AppKey, err)
	}
	return nil
}

// settleSeen writes the record of a reserved request in tx: its answer
// (taking over only an expired record, or the request's own record
// without an answer), or with m.Forget, deletes its record that has no
// answer.
func settleSeen(ctx context.Context, tx *sql.Tx, db *DB, m *protocol.SeenMark, now time.Time) error {
	appkey, sign := textSafe(m.AppKey, 0), textSafe(m.Sign, 0)
	if m.Forget {
		_, err := tx.ExecContext(ctx, db.Rebind(`DELETE FROM seen_sign WHERE appkey = ? AND sign = ? AND digest = ? AND answer IS NULL`),
			appkey, sign, m.Digest)
		return err
	}
	_, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO seen_sign (appkey, sign, until, digest, answer) VALUES (?, ?, ?, ?, ?) `+settleConflict("?")),
		appkey, sign, Micros(m.Until), m.Digest, answerColumn(m), Micros(now))
	return err
}

// settleConflict is the conflict clause of a settled mark's upsert: it
// takes over an expired record, or the request's own record without an
// answer, and nothing else; now is the placeholder of the time.
func settleConflict(now string) string {
	return `ON CONFLICT (appkey, sign) DO UPDATE SET until = excluded.until, digest = excluded.digest, answer = excluded.answer
		WHERE seen_sign.until <= ` + now + ` OR (seen_sign.digest = excluded.digest AND seen_sign.answer IS NULL)`
}

// answerColumn is what the answer column keeps of a settled mark: its
// answer, rehandleMarker when it is not kept, never NULL (NULL is a
// request still being handled).
func answerColumn(m *protocol.SeenMark) []byte {
	switch {
	case m.Rehandle:
		return rehandleMarker
	case m.Answer == nil:
		return []byte{}
	}
	return m.Answer
}

// seenBatch is the seen marks of a batch of message log entries on
// PostgreSQL, column by column: their answers go in with the batch's
// statement (seenBatch.sql), as settleSeen writes them one by one. A mark
// to forget, and any mark of its pair or of a pair already in the batch
// after it, are left alone: settled one by one after the statement, in
// order.
type seenBatch struct {
	appkeys, signs, digests []string
	untils                  []int64
	answers                 [][]byte
	now                     time.Time
	alone                   []*LogEntry
}

func seenBatchOf(entries []*LogEntry) *seenBatch {
	b := &seenBatch{}
	seen := make(map[seenKey]bool, len(entries))
	for _, e := range entries {
		m := e.Seen
		if m == nil {
			continue
		}
		k := seenKey{textSafe(m.AppKey, 0), textSafe(m.Sign, 0)}
		if m.Forget || seen[k] {
			// After the batch, in order: a later mark of the pair too.
			seen[k] = true
			b.alone = append(b.alone, e)
			continue
		}
		seen[k] = true
		if e.At.After(b.now) {
			b.now = e.At
		}
		b.appkeys, b.signs, b.untils = append(b.appkeys, k.appkey), append(b.signs, k.sign), append(b.untils, Micros(m.Until))
		b.digests, b.answers = append(b.digests, m.Digest), append(b.answers, answerColumn(m))
	}
	return b
}

// sql is the upsert of the batch's answers, its parameters numbered from
// $first, and its arguments ("" when it has none).
func (b *seenBatch) sql(first int) (string, []any) {
	if len(b.appkeys) == 0 {
		return "", nil
	}
	q := fmt.Sprintf(`INSERT INTO seen_sign (appkey, sign, until, digest, answer)
			SELECT * FROM unnest($%d::text[], $%d::text[], $%d::bigint[], $%d::text[], $%d::bytea[]) `,
		first, first+1, first+2, first+3, first+4) + settleConflict(fmt.Sprintf("$%d", first+5))
	return q, []any{b.appkeys, b.signs, b.untils, b.digests, b.answers, Micros(b.now)}
}

// settleAlone settles the marks left alone, in order.
func (b *seenBatch) settleAlone(ctx context.Context, tx *sql.Tx, db *DB) error {
	for _, e := range b.alone {
		if err := settleSeen(ctx, tx, db, e.Seen, e.At); err != nil {
			return err
		}
	}
	return nil
}

// Wait implements protocol.ReplayGuard: it waits for the reservation of
// this process to be released, or looks at the record every Poll (a
// request another replica handles), until the record has an answer or is
// gone.
func (s *SeenSigns) Wait(ctx context.Context, appkey, sign string) (protocol.Claim, error) {
	k := seenKey{textSafe(appkey, 0), textSafe(sign, 0)}
	poll := 20 * time.Millisecond
	maxPoll := s.Poll
	if maxPoll <= 0 {
		maxPoll = 500 * time.Millisecond
	}
	for {
		s.mu.Lock()
		h := s.inflight[k]
		s.mu.Unlock()
		if h != nil {
			select {
			case <-h.done:
			case <-ctx.Done():
				return protocol.Claim{}, ctx.Err()
			}
		}
		var answer []byte
		err := s.DB.QueryRowContext(ctx, s.DB.Rebind(`SELECT answer FROM seen_sign WHERE appkey = ? AND sign = ? AND until > ?`),
			k.appkey, k.sign, Micros(s.now())).Scan(&answer)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return protocol.Claim{}, nil
		case err != nil:
			return protocol.Claim{}, fmt.Errorf("store: seen sign for appkey %q: %w", appkey, err)
		case answer != nil:
			a, re := stored(answer)
			return protocol.Claim{Answer: a, Rehandle: re}, nil
		}
		if h != nil {
			continue // released without an answer written yet: look again
		}
		t := time.NewTimer(poll)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return protocol.Claim{}, ctx.Err()
		}
		poll = min(2*poll, maxPoll)
	}
}

// Release implements protocol.ReplayGuard: the reservation of (appkey,
// sign) in this process ends (its record is settled, or the sign was
// seen), and the requests waiting for it look at the record.
func (s *SeenSigns) Release(appkey, sign string) {
	k := seenKey{textSafe(appkey, 0), textSafe(sign, 0)}
	s.mu.Lock()
	h := s.inflight[k]
	delete(s.inflight, k)
	s.mu.Unlock()
	if h != nil {
		close(h.done)
	}
}

// seenUpsert records (appkey, sign) until a time with a request digest
// and no answer, taking over only an expired row; placeholders appkey,
// sign, until, digest, now.
const seenUpsert = `INSERT INTO seen_sign (appkey, sign, until, digest) VALUES (?, ?, ?, ?)
		ON CONFLICT (appkey, sign) DO UPDATE SET until = excluded.until, digest = excluded.digest, answer = NULL
		WHERE seen_sign.until <= ?`

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
	digest       string // "" for a sign recorded by SeenBefore
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
		if err := s.asyncCommit(ctx, tx); err != nil {
			return err
		}
		for _, it := range items {
			r := it.v
			res, err := tx.ExecContext(ctx, q, r.appkey, r.sign, r.until, r.digest, r.now)
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

// asyncCommit lets a transaction of the replay guard commit on
// PostgreSQL without waiting for its WAL to reach the disk
// (synchronous_commit off, for this transaction only). A record is
// visible to every replica once committed, which is what stops a replay;
// it is on disk no later than the next transaction that waits for the
// disk: the handler's state change or the exchange's message log entry,
// before the peer is answered (the WAL is flushed in order). What a crash
// can lose is the record of a request that changed nothing and was never
// answered, which its retry then finds new. The request's wait for a
// flush of its own, one of the three commits of an inbound exchange, is
// saved.
func (s *SeenSigns) asyncCommit(ctx context.Context, tx *sql.Tx) error {
	if s.DB.Dialect != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, "SET LOCAL synchronous_commit TO OFF")
	return err
}

// writePostgres records a batch in one statement (one round trip and one
// plan instead of one per sign): the distinct pairs go in through
// unnest, and the rows the upsert returns are the pairs that were new
// (or whose record had expired); the others, and the second of a pair
// twice in the batch (two copies of one request at once), were seen.
func (s *SeenSigns) writePostgres(ctx context.Context, items []*batchItem[*seenReq]) error {
	first := make(map[seenKey]*seenReq, len(items))
	var appkeys, signs, digests []string
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
		digests = append(digests, r.digest)
	}
	return s.DB.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.asyncCommit(ctx, tx); err != nil {
			return err
		}
		for _, r := range first {
			r.seen = true // unless returned below
		}
		rows, err := tx.QueryContext(ctx, `INSERT INTO seen_sign (appkey, sign, until, digest)
			SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $5::text[])
			ON CONFLICT (appkey, sign) DO UPDATE SET until = excluded.until, digest = excluded.digest, answer = NULL
			WHERE seen_sign.until <= $4
			RETURNING appkey, sign`, appkeys, signs, untils, now, digests)
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
