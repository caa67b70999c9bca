package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"math"

	"github.com/emmansun/gmsm/sm3"
)

// Chain is an SM3 hash chain over the rows of one table, the design of
// the message log shared with other tamper-evident tables (the consoles'
// audit log). Each row has an id, a prev_hash and a hash:
//
//	hash = hex SM3(len||prev_hash || len||Label || id || content)
//
// where content is the 32-byte SM3 digest of the row's other columns,
// each length-prefixed (see Digest). A head table, one row k = 1 with
// last_id and last_hash, holds where the chain ends: appends reserve
// their ids there (the UPDATE of the head row serializes writers), so
// ids follow each other without gaps, and deleting the newest rows is
// detected too. Editing, inserting or deleting a row breaks the chain;
// Verify names the first row where it breaks.
type Chain struct {
	Table string // the chained table, e.g. "message_log"
	Head  string // its head table, e.g. "message_log_head"
	Label string // the domain label hashed into every link and content digest
	Name  string // what messages call the chain, e.g. "message log"
	// Adopted, when set, is a column of the head table: the last id of
	// the rows that existed before the table was chained and were chained
	// as they were found (their ids may have gaps). Rows above it
	// follow each other from the first chained id without gaps.
	Adopted string
}

// Digest is a content digest under construction: a chain's label, then
// the row's columns, each written with Str, Bytes or Int in table order.
type Digest struct {
	h hash.Hash
	n [8]byte
}

// NewDigest starts the content digest of one row of c.
func (c *Chain) NewDigest() *Digest {
	d := &Digest{h: sm3.New()}
	d.Str(c.Label)
	return d
}

// Bytes writes b as an 8-byte big-endian length and its bytes.
func (d *Digest) Bytes(b []byte) {
	binary.BigEndian.PutUint64(d.n[:], uint64(len(b)))
	d.h.Write(d.n[:])
	d.h.Write(b)
}

// Str writes s like Bytes.
func (d *Digest) Str(s string) {
	binary.BigEndian.PutUint64(d.n[:], uint64(len(s)))
	d.h.Write(d.n[:])
	d.h.Write([]byte(s))
}

// Int writes v as 8 bytes big-endian.
func (d *Digest) Int(v int64) {
	binary.BigEndian.PutUint64(d.n[:], uint64(v))
	d.h.Write(d.n[:])
}

// Bool writes b as Int 1 or 0.
func (d *Digest) Bool(b bool) { d.Int(int64(boolInt(b))) }

// Sum is the digest.
func (d *Digest) Sum() [sm3.Size]byte {
	var out [sm3.Size]byte
	d.h.Sum(out[:0])
	return out
}

// Link is the hash of the row with id and content digest chained on prev.
func (c *Chain) Link(prev string, id int64, content *[sm3.Size]byte) string {
	h := sm3.New()
	d := Digest{h: h}
	d.Str(prev)
	d.Str(c.Label)
	d.Int(id)
	h.Write(content[:])
	return hex.EncodeToString(h.Sum(nil))
}

func (c *Chain) check() error {
	for _, n := range []string{c.Table, c.Head} {
		if !identRE.MatchString(n) {
			return fmt.Errorf("store: chain table %q is not a plain SQL identifier", n)
		}
	}
	if c.Adopted != "" && !identRE.MatchString(c.Adopted) {
		return fmt.Errorf("store: chain column %q is not a plain SQL identifier", c.Adopted)
	}
	return nil
}

// Reserve moves the head by n rows in tx and returns the first id they
// get and the hash they chain on. The head row stays locked (PostgreSQL)
// until tx ends; on SQLite the single writer serializes. Write the rows,
// each chained on the one before, then SetHead with the last one's hash,
// in the same transaction.
func (c *Chain) Reserve(ctx context.Context, tx *sql.Tx, db *DB, n int) (first int64, prev string, err error) {
	if err := c.check(); err != nil {
		return 0, "", err
	}
	var last int64
	if err := tx.QueryRowContext(ctx, db.Rebind(`UPDATE `+c.Head+` SET last_id = last_id + ? WHERE k = 1
		RETURNING last_id, last_hash`), n).Scan(&last, &prev); err != nil {
		return 0, "", fmt.Errorf("%s: chain head: %w", c.Name, err)
	}
	return last - int64(n) + 1, prev, nil
}

// SetHead records hash as the hash of the chain's last row, in the
// transaction of Reserve.
func (c *Chain) SetHead(ctx context.Context, tx *sql.Tx, db *DB, hash string) error {
	if err := c.check(); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, db.Rebind(`UPDATE `+c.Head+` SET last_hash = ? WHERE k = 1`), hash); err != nil {
		return fmt.Errorf("%s: chain head: %w", c.Name, err)
	}
	return nil
}

// ChainRow is one row as Verify sees it.
type ChainRow struct {
	ID             int64
	PrevHash, Hash string
	// Check recomputes the row's hash from its content and its stored
	// prev_hash; ok when it is the stored hash. computed is the hash the
	// row should have (for the message).
	Check func() (ok bool, computed string)
	// Reason, when set, is what is wrong with the row beyond its hash
	// (a body kept out of the row that no longer has its digest): the
	// chain breaks there.
	Reason string
}

// ChainRows returns up to limit rows of the chained table with ids above
// after, in id order.
type ChainRows func(ctx context.Context, q Querier, after int64, limit int) ([]ChainRow, error)

// ChainBreak is where a hash chain breaks.
type ChainBreak struct {
	Chain  string // the chain's Name ("" means the message log)
	ID     int64  // the first row that does not verify (or the first missing id)
	Reason string // what is wrong with it
}

func (b *ChainBreak) Error() string {
	name := b.Chain
	if name == "" {
		name = "message log"
	}
	return fmt.Sprintf("%s chain broken at row %d: %s", name, b.ID, b.Reason)
}

// BeginVerify opens the read-only snapshot Verify reads in (repeatable
// read on PostgreSQL, so that rows appended meanwhile do not show). The
// caller rolls it back.
func BeginVerify(ctx context.Context, db *DB) (*sql.Tx, error) {
	opts := &sql.TxOptions{ReadOnly: true}
	if db.Dialect == Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	return db.BeginTx(ctx, opts)
}

// Verify checks the whole chain as q sees it: each row's prev_hash is the
// previous row's hash (the genesis hash for the first), each hash matches
// the row's content, ids above the adopted rows follow each other, and
// the chain ends where the head says. It returns the number of rows and
// nil when the chain is intact, the first break otherwise. Read in one
// snapshot (BeginVerify) while the table is being written.
func (c *Chain) Verify(ctx context.Context, q Querier, db *DB, rows ChainRows) (*ChainBreak, int64, error) {
	if err := c.check(); err != nil {
		return nil, 0, err
	}
	var (
		headID   int64
		headHash string
		adopted  int64
	)
	hq := `SELECT last_id, last_hash FROM ` + c.Head + ` WHERE k = 1`
	dest := []any{&headID, &headHash}
	if c.Adopted != "" {
		hq = `SELECT last_id, last_hash, ` + c.Adopted + ` FROM ` + c.Head + ` WHERE k = 1`
		dest = append(dest, &adopted)
	}
	if err := q.QueryRowContext(ctx, hq).Scan(dest...); err != nil {
		return nil, 0, fmt.Errorf("store: verify %s: head: %w", c.Name, err)
	}
	brk := func(id int64, format string, a ...any) (*ChainBreak, int64, error) {
		return &ChainBreak{Chain: c.Name, ID: id, Reason: fmt.Sprintf(format, a...)}, 0, nil
	}
	prevID, prevHash, n := int64(0), GenesisHash, int64(0)
	for cursor := int64(math.MinInt64); ; {
		batch, err := rows(ctx, q, cursor, 256)
		if err != nil {
			return nil, 0, fmt.Errorf("store: verify %s: %w", c.Name, err)
		}
		if len(batch) == 0 {
			break
		}
		for _, r := range batch {
			cursor = r.ID
			switch {
			case r.ID < 1:
				return brk(r.ID, "row id %d is below the chain's first (1): inserted outside the %s", r.ID, c.Name)
			case r.ID > headID:
				return brk(r.ID, "row is beyond the chain head (last id %d): inserted outside the %s", headID, c.Name)
			case r.ID != prevID+1 && r.ID > adopted+1:
				from := max(prevID, adopted) + 1
				return brk(from, "rows %d to %d are missing (deleted)", from, r.ID-1)
			case r.PrevHash != prevHash:
				return brk(r.ID, "prev_hash %s is not the hash of row %d (%s)", short(r.PrevHash), prevID, short(prevHash))
			}
			if r.Reason != "" {
				return brk(r.ID, "%s", r.Reason)
			}
			if ok, h := r.Check(); !ok {
				return brk(r.ID, "content does not match its hash (stored %s, computed %s): the row was edited", short(r.Hash), short(h))
			}
			prevID, prevHash = r.ID, r.Hash
			n++
		}
	}
	switch {
	case prevID < headID && headID > adopted && prevID >= adopted:
		return brk(prevID+1, "the %s ends at row %d but the chain head says %d: rows %d to %d were deleted", c.Name, prevID, headID, prevID+1, headID)
	case prevID != headID:
		return brk(prevID+1, "the %s ends at row %d but the chain head says %d: the newest rows were deleted", c.Name, prevID, headID)
	case prevHash != headHash:
		return brk(prevID, "the last row's hash %s is not the chain head's %s", short(prevHash), short(headHash))
	}
	return nil, n, nil
}
