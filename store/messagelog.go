package store

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"github.com/baohan-dev/baohan/protocol"
)

// GenesisHash is the prev_hash of the first message log row.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// LogEntry is one row of the message log: one exchange with a peer.
type LogEntry struct {
	ID         int64
	At         time.Time // kept to the microsecond
	Direction  string    // "in" | "out"
	Interface  string
	Peer       string
	ApplyNo    string
	BaohanNo   string
	Request    []byte // the raw body as sent or received (nil in List unless WithBodies)
	Response   []byte
	HTTPStatus int
	Code       int // the answer's code (1 success, 0 failure)
	SignOK     bool
	Diagnosis  string
	Error      string
	LatencyMS  int64
	// Retry: inbound, the request repeated one already received (same
	// appkey, sign and body) and was answered as that one was; outbound,
	// an attempt that sent the body of an earlier one again.
	Retry    bool
	PrevHash string // hex SM3 of the previous row (GenesisHash for the first)
	Hash     string // hex SM3(prev_hash || canonical encoding of this row)

	RequestSize, ResponseSize int64 // body lengths (filled by List and Get)
	// RequestSM3, ResponseSM3 are the digests of the bodies kept out of
	// the row, in message_log_bodies (bodies above InlineBodyMax), and
	// empty for a body in the row: the lowercase hex SM3 of the interface
	// name, a NUL byte and the body (protocol.ReplayDigest, so that an
	// inbound request's digest is the one the replay guard computed).
	// Append sets them; the chain hash covers them instead of the body
	// (see the v3 encoding below).
	RequestSM3, ResponseSM3 string
	// requestDigest is a known ReplayDigest of the request (from the
	// exchange), used by normalize instead of hashing the body again.
	requestDigest string

	content *[sm3.Size]byte // v2 content digest, computed by Append before the entry queues

	// Seen, when set, is a replay-guard record written in the entry's
	// transaction (see SeenSigns.Reserve); it is not part of the entry.
	Seen *protocol.SeenMark
}

// OK reports whether the exchange succeeded: no error, HTTP 200, code 1.
func (e *LogEntry) OK() bool { return e.Error == "" && e.HTTPStatus == 200 && e.Code == 1 }

// entryBody is one of an entry's two bodies: which, its digest when it is
// kept beside the row ("" when in it), and the bytes.
type entryBody struct {
	part string // "request" or "response"
	ref  string
	data *[]byte
}

// bodies are e's request and response bodies, in that order.
func (e *LogEntry) bodies() [2]entryBody {
	return [2]entryBody{{"request", e.RequestSM3, &e.Request}, {"response", e.ResponseSM3, &e.Response}}
}

// MessageLog is the tamper-evident record of every exchange with a peer
// (it implements transport.MessageLog). Rows form an SM3 hash chain:
// editing, inserting or deleting a row in SQL breaks the chain, and
// VerifyChain names the first row where it breaks.
type MessageLog struct {
	DB  *DB
	Now func() time.Time // for entries without a time (default time.Now)

	once sync.Once
	gc   *groupCommit[*LogEntry]
}

// NewMessageLog returns the message log of db.
func NewMessageLog(db *DB) *MessageLog { return &MessageLog{DB: db} }

// Append adds e at the end of the chain, filling e.ID, e.PrevHash and
// e.Hash (and e.At when zero), and returns once it is committed. Appends
// are serialized by the chain's head row (locked by the UPDATE on
// PostgreSQL, by the single writer on SQLite); concurrent appends are
// committed together, several in one transaction (groupCommit), in the
// order they arrived.
func (l *MessageLog) Append(ctx context.Context, e *LogEntry) error {
	l.normalize(e)
	d := contentDigest(e) // here, not in the chain's writer: it covers the bodies
	e.content = &d
	defer func() { e.content = nil }()
	if err := l.group().do(ctx, e); err != nil {
		return fmt.Errorf("store: message log %s %s %s: %w", e.Direction, e.Interface, e.Peer, err)
	}
	e.RequestSize, e.ResponseSize = int64(len(e.Request)), int64(len(e.Response))
	return nil
}

// normalize sets e.At (now when zero, to the microsecond) and makes e
// store exactly what is hashed: TEXT columns valid UTF-8 without NUL (as
// PostgreSQL requires), bodies never nil.
func (l *MessageLog) normalize(e *LogEntry) {
	if e.At.IsZero() {
		if l.Now != nil {
			e.At = l.Now()
		} else {
			e.At = time.Now()
		}
	}
	e.At = FromMicros(Micros(e.At))
	iface := e.Interface
	for _, p := range []*string{&e.Direction, &e.Interface, &e.Peer, &e.ApplyNo, &e.BaohanNo, &e.Diagnosis, &e.Error} {
		*p = textSafe(*p, 0)
	}
	if e.Request == nil {
		e.Request = []byte{}
	}
	if e.Response == nil {
		e.Response = []byte{}
	}
	e.RequestSM3, e.ResponseSM3 = "", bodyRef(e.Interface, e.Response)
	switch {
	case len(e.Request) <= InlineBodyMax:
	case e.requestDigest != "" && iface == e.Interface:
		e.RequestSM3 = e.requestDigest
	default:
		e.RequestSM3 = bodyRef(e.Interface, e.Request)
	}
	e.requestDigest = ""
}

// InlineBodyMax is the largest body kept in its message log row. A larger
// one (an uploaded chunk's ~700 KB, a file) goes to message_log_bodies,
// content-addressed by its digest (RequestSM3), in the entry's
// transaction: the row then stays small for the lists, the chain hash
// covers the digest instead of the bytes (one SM3 pass over the body
// gives both the address and what the chain covers, and for an inbound
// request it is the pass the replay guard made already), and on
// PostgreSQL the body is
// stored without TOAST compression. 4 KiB is about where both databases
// move a value out of the row anyway (PostgreSQL's TOAST threshold is
// 2 KB, a SQLite row past ~4 KB spills into overflow pages), so the
// notices and answers, well under it, stay one row read with the entry.
const InlineBodyMax = 4 << 10

// bodyRef is the digest of a body of interface iface kept out of the
// row, or "" for a body kept in it.
func bodyRef(iface string, b []byte) string {
	if len(b) <= InlineBodyMax {
		return ""
	}
	return protocol.ReplayDigest(protocol.Interface(iface), b)
}

// inRow is what the row's body column holds: the body, or nothing when
// it is kept in message_log_bodies.
func inRow(b []byte, ref string) []byte {
	if ref != "" {
		return []byte{}
	}
	return b
}

// Limits of one message log transaction.
const (
	logBatchMax   = 256
	logBatchBytes = 16 << 20
)

func (l *MessageLog) group() *groupCommit[*LogEntry] {
	l.once.Do(func() {
		l.gc = &groupCommit[*LogEntry]{max: logBatchMax, maxWeight: logBatchBytes,
			weight: func(e *LogEntry) int64 { return int64(len(e.Request) + len(e.Response)) },
			write:  l.write}
	})
	return l.gc
}

// messageChain is the message log's hash chain (v2 links).
var messageChain = &Chain{Table: "message_log", Head: "message_log_head", Label: chainV2, Name: "message log"}

// write appends a batch of entries in one transaction: the head moves by
// the batch's size once, each entry chains on the one before.
func (l *MessageLog) write(ctx context.Context, items []*batchItem[*LogEntry]) error {
	entries := make([]*LogEntry, len(items))
	for i, it := range items {
		entries[i] = it.v
	}
	return l.DB.InTx(ctx, func(tx *sql.Tx) error { return l.writeTx(ctx, tx, entries) })
}

// AppendTx appends entries at the end of the chain inside tx, in order,
// filling their ID, PrevHash and Hash (and At when zero), without the
// group commit of Append: for bulk loads (the benchmark's seeded
// history, imports) that write many rows in one transaction of their
// own. The chain's head stays locked until tx ends.
func (l *MessageLog) AppendTx(ctx context.Context, tx *sql.Tx, entries []*LogEntry) error {
	for _, e := range entries {
		l.normalize(e)
		e.content = nil
	}
	if err := l.writeTx(ctx, tx, entries); err != nil {
		return fmt.Errorf("store: message log: %w", err)
	}
	for _, e := range entries {
		e.content = nil
		e.RequestSize, e.ResponseSize = int64(len(e.Request)), int64(len(e.Response))
	}
	return nil
}

// writeTx chains entries on the head and inserts them in tx.
func (l *MessageLog) writeTx(ctx context.Context, tx *sql.Tx, entries []*LogEntry) error {
	db := l.DB
	id, prev, err := messageChain.Reserve(ctx, tx, db, len(entries))
	if err != nil {
		return err
	}
	// On PostgreSQL the batch, a single entry too, is one statement
	// (writeBatchPostgres).
	many := db.Dialect == Postgres
	var cols logColumnsBatch
	for _, e := range entries {
		e.ID, e.PrevHash = id, prev
		if e.content == nil {
			d := contentDigest(e)
			e.content = &d
		}
		e.Hash = chainOf(e).Link(e.PrevHash, e.ID, e.content)
		if many {
			cols.add(e)
		} else {
			if err := writeBodies(ctx, tx, db, e); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO message_log (id, at, direction, interface, peer, applyno, baohanno,
			request, response, http_status, code, sign_ok, diagnosis, error, latency_ms, prev_hash, hash, retry, request_sm3, response_sm3)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
				e.ID, Micros(e.At), e.Direction, e.Interface, e.Peer, e.ApplyNo, e.BaohanNo, inRow(e.Request, e.RequestSM3), inRow(e.Response, e.ResponseSM3),
				e.HTTPStatus, e.Code, boolInt(e.SignOK), e.Diagnosis, e.Error, e.LatencyMS, e.PrevHash, e.Hash, boolInt(e.Retry),
				e.RequestSM3, e.ResponseSM3); err != nil {
				return err
			}
		}
		prev = e.Hash
		id++
		if m := e.Seen; m != nil && !many {
			if err := settleSeen(ctx, tx, db, m, e.At); err != nil {
				return fmt.Errorf("seen sign: %w", err)
			}
		}
	}
	if many {
		return writeBatchPostgres(ctx, tx, db, &cols, seenBatchOf(entries), prev)
	}
	return messageChain.SetHead(ctx, tx, db, prev)
}

// writeBatchPostgres writes a batch of entries on PostgreSQL in one
// statement, after the chain's Reserve: their rows, their bodies kept out
// of the row, the answers of their seen marks and the chain's new head,
// as data-modifying WITH queries (each runs to completion whether or not
// the statement reads it; they touch different tables). The head row
// stays locked for one round trip, not one for each of these. The seen
// marks left alone follow, in order.
func writeBatchPostgres(ctx context.Context, tx *sql.Tx, db *DB, cols *logColumnsBatch, seen *seenBatch, head string) error {
	args := append(cols.args(), head)
	q := `WITH r AS (INSERT INTO message_log (id, at, direction, interface, peer, applyno, baohanno,
			request, response, http_status, code, sign_ok, diagnosis, error, latency_ms, prev_hash, hash, retry, request_sm3, response_sm3)
			SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
				$8::bytea[], $9::bytea[], $10::integer[], $11::integer[], $12::integer[], $13::text[], $14::text[], $15::bigint[],
				$16::text[], $17::text[], $18::integer[], $19::text[], $20::text[]) RETURNING 1)`
	if len(cols.bodySM3) > 0 {
		q += fmt.Sprintf(`, b AS (INSERT INTO message_log_bodies (sm3, data)
			SELECT * FROM unnest($%d::text[], $%d::bytea[]) ON CONFLICT (sm3) DO NOTHING RETURNING 1)`, len(args)+1, len(args)+2)
		args = append(args, cols.bodySM3, cols.body)
	}
	if sq, sargs := seen.sql(len(args) + 1); sq != "" {
		q += `, s AS (` + sq + ` RETURNING 1)`
		args = append(args, sargs...)
	}
	q += `
		UPDATE ` + messageChain.Head + ` SET last_hash = $21 WHERE k = 1`
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return err
	}
	if err := seen.settleAlone(ctx, tx, db); err != nil {
		return fmt.Errorf("seen sign: %w", err)
	}
	return nil
}

// logColumnsBatch holds a batch of entries column by column, for one
// INSERT over unnest on PostgreSQL.
type logColumnsBatch struct {
	id, at, latency                     []int64
	dir, iface, peer, applyNo, baohanNo []string
	req, resp                           [][]byte
	status, code, signOK, retry         []int32
	diagnosis, errs, prevHash, hash     []string
	reqSM3, respSM3                     []string
	bodySM3                             []string // message_log_bodies
	body                                [][]byte
}

func (c *logColumnsBatch) add(e *LogEntry) {
	c.id, c.at, c.latency = append(c.id, e.ID), append(c.at, Micros(e.At)), append(c.latency, e.LatencyMS)
	c.dir, c.iface, c.peer = append(c.dir, e.Direction), append(c.iface, e.Interface), append(c.peer, e.Peer)
	c.applyNo, c.baohanNo = append(c.applyNo, e.ApplyNo), append(c.baohanNo, e.BaohanNo)
	c.req, c.resp = append(c.req, inRow(e.Request, e.RequestSM3)), append(c.resp, inRow(e.Response, e.ResponseSM3))
	c.reqSM3, c.respSM3 = append(c.reqSM3, e.RequestSM3), append(c.respSM3, e.ResponseSM3)
	for _, b := range e.bodies() {
		if b.ref != "" {
			c.bodySM3, c.body = append(c.bodySM3, b.ref), append(c.body, *b.data)
		}
	}
	c.status, c.code = append(c.status, int32(e.HTTPStatus)), append(c.code, int32(e.Code))
	c.signOK, c.retry = append(c.signOK, int32(boolInt(e.SignOK))), append(c.retry, int32(boolInt(e.Retry)))
	c.diagnosis, c.errs = append(c.diagnosis, e.Diagnosis), append(c.errs, e.Error)
	c.prevHash, c.hash = append(c.prevHash, e.PrevHash), append(c.hash, e.Hash)
}

// args are the INSERT's parameters, in table order.
func (c *logColumnsBatch) args() []any {
	return []any{c.id, c.at, c.dir, c.iface, c.peer, c.applyNo, c.baohanNo, c.req, c.resp, c.status, c.code, c.signOK,
		c.diagnosis, c.errs, c.latency, c.prevHash, c.hash, c.retry, c.reqSM3, c.respSM3}
}

// writeBodies stores e's bodies kept out of the row in tx (a body
// already there, the same bytes under the same SM3, is not written
// again).
func writeBodies(ctx context.Context, tx *sql.Tx, db *DB, e *LogEntry) error {
	for _, b := range e.bodies() {
		if b.ref == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO message_log_bodies (sm3, data) VALUES (?, ?) ON CONFLICT (sm3) DO NOTHING`),
			b.ref, *b.data); err != nil {
			return fmt.Errorf("body: %w", err)
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// The chain hash of a row. Three encodings exist; rows written by this
// version use v3 when a body is kept out of the row and v2 otherwise,
// rows written before keep v2 or v1, and VerifyChain accepts v2 or v1
// for a row with both bodies inline and only v3 for one that names a body
// out of the row (the labels keep them apart).
//
// v1: hex SM3(prev || canonical(e)). The canonical encoding is a version
// label, then every column but the hashes in table order, each as an
// 8-byte big-endian length (or value, for integers) and its bytes.
//
// v2: hex SM3(len||prev || len||"baohan message_log v2" || id || content),
// where content is the 32-byte SM3 of the v2 label and every column but
// id and the hashes, encoded as in v1. The content digest covers the
// bodies (up to the size of an uploaded chunk) and does not depend on the
// chain, so Append computes it in the caller's goroutine, before the
// entry queues for the chain's one writer; inside the writer only the
// short outer hash is left. The retry column, added later, is written
// after the others as the string "retry" and the integer 1 when set, and
// not at all when not: the rows written before it verify as they are,
// and setting or clearing the flag breaks the chain like any other edit.
//
// v3 is v2 under the label "baohan message_log v3" (in the content digest
// and in the link), with each body written as the string "inline" and
// the body, or, for a body kept in message_log_bodies, the string "sm3"
// and its lowercase hex SM3 (RequestSM3, ResponseSM3): the chain covers
// the digest, and VerifyChain checks that the stored body has it. Editing
// or deleting the stored body is detected as a body that no longer has
// its digest; editing the digest in the row, as any edit of the row.

const (
	chainV1 = "baohan message_log v1"
	chainV2 = "baohan message_log v2"
	chainV3 = "baohan message_log v3"
)

// messageChainV3 links the rows that name a body out of the row.
var messageChainV3 = &Chain{Table: "message_log", Head: "message_log_head", Label: chainV3, Name: "message log"}

// v3 reports whether e has a body out of the row (and so a v3 hash).
func (e *LogEntry) v3() bool { return e.RequestSM3 != "" || e.ResponseSM3 != "" }

// chainOf is the chain whose label links e: v3 or v2.
func chainOf(e *LogEntry) *Chain {
	if e.v3() {
		return messageChainV3
	}
	return messageChain
}

// columns writes every column after id and before the hashes, the bodies
// as v3 writes them when v3 is set.
func columns(d *Digest, e *LogEntry, v3 bool) {
	d.Int(Micros(e.At))
	d.Str(e.Direction)
	d.Str(e.Interface)
	d.Str(e.Peer)
	d.Str(e.ApplyNo)
	d.Str(e.BaohanNo)
	for _, b := range e.bodies() {
		switch {
		case !v3:
			d.Bytes(*b.data)
		case b.ref != "":
			d.Str("sm3")
			d.Str(b.ref)
		default:
			d.Str("inline")
			d.Bytes(*b.data)
		}
	}
	d.Int(int64(e.HTTPStatus))
	d.Int(int64(e.Code))
	d.Bool(e.SignOK)
	d.Str(e.Diagnosis)
	d.Str(e.Error)
	d.Int(e.LatencyMS)
	if e.Retry {
		d.Str("retry")
		d.Int(1)
	}
}

// chainHashV1 is the v1 hash of e chained on prev.
func chainHashV1(prev string, e *LogEntry) string {
	h := sm3.New()
	d := &Digest{h: h}
	d.Str(prev)
	d.Str(chainV1)
	d.Int(e.ID)
	columns(d, e, false)
	return hex.EncodeToString(h.Sum(nil))
}

// contentDigest is the v3 or v2 content digest of e (all but id and
// hashes): v3 when a body is out of the row.
func contentDigest(e *LogEntry) [sm3.Size]byte {
	d := chainOf(e).NewDigest()
	columns(d, e, e.v3())
	return d.Sum()
}

// chainHash is the hash a new row gets: v3 or v2.
func chainHash(prev string, e *LogEntry) string {
	d := contentDigest(e)
	return chainOf(e).Link(prev, e.ID, &d)
}

// rowHashMatches reports whether e.Hash is e's v3 hash (a body out of the
// row), or its v2 or v1 hash (both inline).
func rowHashMatches(e *LogEntry) (bool, string) {
	h := chainHash(e.PrevHash, e)
	if h == e.Hash || !e.v3() && chainHashV1(e.PrevHash, e) == e.Hash {
		return true, h
	}
	return false, h
}

// logColumns are the columns scanLogEntry reads, the sizes of bodies out
// of the row included.
const logColumns = `id, at, direction, interface, peer, applyno, baohanno, http_status, code, sign_ok,
	diagnosis, error, latency_ms, prev_hash, hash,
	CASE WHEN request_sm3 = '' THEN length(request)
		ELSE COALESCE((SELECT length(b.data) FROM message_log_bodies b WHERE b.sm3 = message_log.request_sm3), 0) END,
	CASE WHEN response_sm3 = '' THEN length(response)
		ELSE COALESCE((SELECT length(b.data) FROM message_log_bodies b WHERE b.sm3 = message_log.response_sm3), 0) END,
	retry, request_sm3, response_sm3`

func scanLogEntry(s scanner, bodies bool) (*LogEntry, error) {
	var (
		e      LogEntry
		at     int64
		signOK int
		retry  int
	)
	dest := []any{&e.ID, &at, &e.Direction, &e.Interface, &e.Peer, &e.ApplyNo, &e.BaohanNo, &e.HTTPStatus, &e.Code, &signOK,
		&e.Diagnosis, &e.Error, &e.LatencyMS, &e.PrevHash, &e.Hash, &e.RequestSize, &e.ResponseSize, &retry, &e.RequestSM3, &e.ResponseSM3}
	if bodies {
		dest = append(dest, &e.Request, &e.Response)
	}
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	e.At, e.SignOK, e.Retry = FromMicros(at), signOK != 0, retry != 0
	return &e, nil
}

// LogFilter selects message log rows. Empty fields match all.
type LogFilter struct {
	ApplyNo    string
	Interface  string
	Peer       string
	Direction  string
	OK         *bool // true: only OK exchanges; false: only failed ones
	Before     int64 // only ids below this (paging); 0: from the newest
	Limit      int   // default 50, at most 1000
	WithBodies bool  // also load Request and Response
}

// List returns the rows matching f, newest first.
func (l *MessageLog) List(ctx context.Context, f LogFilter) ([]LogEntry, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if f.ApplyNo != "" {
		add("applyno = ?", f.ApplyNo)
	}
	if f.Interface != "" {
		add("interface = ?", f.Interface)
	}
	if f.Peer != "" {
		add("peer = ?", f.Peer)
	}
	if f.Direction != "" {
		add("direction = ?", f.Direction)
	}
	if f.OK != nil {
		const ok = "(error = '' AND http_status = 200 AND code = 1)"
		if *f.OK {
			where = append(where, ok)
		} else {
			where = append(where, "NOT "+ok)
		}
	}
	if f.Before > 0 {
		add("id < ?", f.Before)
	}
	cols := logColumns
	if f.WithBodies {
		cols += ", request, response"
	}
	q := "SELECT " + cols + " FROM message_log"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, clampLimit(f.Limit))
	rows, err := l.DB.QueryContext(ctx, l.DB.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("store: message log list: %w", err)
	}
	defer rows.Close()
	var out []LogEntry
	for rows.Next() {
		e, err := scanLogEntry(rows, f.WithBodies)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, *e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	if f.WithBodies {
		for i := range out {
			if err := loadBodies(ctx, l.DB, l.DB, &out[i]); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// loadBodies reads e's bodies kept out of the row (after a scan with the
// bodies). A body that is not there is an error naming the row.
func loadBodies(ctx context.Context, q Querier, db *DB, e *LogEntry) error {
	for _, b := range e.bodies() {
		if b.ref == "" {
			continue
		}
		data, err := readBody(ctx, q, db, b.ref)
		if err != nil {
			return fmt.Errorf("store: message log row %d: %s body: %w", e.ID, b.part, err)
		}
		*b.data = data
	}
	return nil
}

// errBodyMissing: a body the row names is not in message_log_bodies.
var errBodyMissing = errors.New("not in message_log_bodies")

func readBody(ctx context.Context, q Querier, db *DB, ref string) ([]byte, error) {
	var data []byte
	err := q.QueryRowContext(ctx, db.Rebind(`SELECT data FROM message_log_bodies WHERE sm3 = ?`), ref).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sm3 %s: %w", short(ref), errBodyMissing)
	}
	if data == nil {
		data = []byte{}
	}
	return data, err
}

// Peers returns the peer names in the log, sorted (the consoles' filter).
// One index seek per peer (message_log_peer), from each name to the
// next: SELECT DISTINCT read the whole index, 200 ms on every messages
// page with 600,000 rows.
func (l *MessageLog) Peers(ctx context.Context) ([]string, error) {
	rows, err := l.DB.QueryContext(ctx, `WITH RECURSIVE p(peer) AS (
		SELECT MIN(peer) FROM message_log WHERE peer > ''
		UNION ALL
		SELECT (SELECT MIN(m.peer) FROM message_log m WHERE m.peer > p.peer) FROM p WHERE p.peer IS NOT NULL)
	SELECT peer FROM p WHERE peer IS NOT NULL ORDER BY peer`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Get returns one row with its bodies, or ErrNotFound.
func (l *MessageLog) Get(ctx context.Context, id int64) (*LogEntry, error) {
	e, err := scanLogEntry(l.DB.QueryRowContext(ctx, l.DB.Rebind("SELECT "+logColumns+", request, response FROM message_log WHERE id = ?"), id), true)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: message log row %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if err := loadBodies(ctx, l.DB, l.DB, e); err != nil {
		return nil, err
	}
	return e, nil
}

// VerifyChain checks the whole chain in one consistent snapshot: ids
// follow each other from 1, each row's prev_hash is the previous row's
// hash, each hash matches the row's content, and the chain ends where the
// head row says. It returns nil, nil when the log is intact, and the
// first break otherwise.
func (l *MessageLog) VerifyChain(ctx context.Context) (*ChainBreak, error) {
	brk, _, err := l.Verify(ctx)
	return brk, err
}

// Verify is VerifyChain that also returns the number of rows.
func (l *MessageLog) Verify(ctx context.Context) (*ChainBreak, int64, error) {
	tx, err := BeginVerify(ctx, l.DB)
	if err != nil {
		return nil, 0, fmt.Errorf("store: verify message log: %w", err)
	}
	defer tx.Rollback()
	return messageChain.Verify(ctx, tx, l.DB, l.chainRows)
}

func (l *MessageLog) verifyChain(ctx context.Context, tx Querier) (*ChainBreak, error) {
	brk, _, err := messageChain.Verify(ctx, tx, l.DB, l.chainRows)
	return brk, err
}

// chainRows reads rows for Chain.Verify, with their bodies in the row.
// A body out of the row is read after, one at a time (the rows of a batch
// never hold them all), and checked against the digest the row names:
// the chain covers that digest.
func (l *MessageLog) chainRows(ctx context.Context, q Querier, after int64, limit int) ([]ChainRow, error) {
	rows, err := q.QueryContext(ctx, l.DB.Rebind(`SELECT id, at, direction, interface, peer, applyno, baohanno, http_status, code, sign_ok,
		diagnosis, error, latency_ms, prev_hash, hash, 0, 0, retry, request_sm3, response_sm3, request, response
		FROM message_log WHERE id > ? ORDER BY id LIMIT ?`), after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ChainRow
	var out3 []*LogEntry
	for rows.Next() {
		e, err := scanLogEntry(rows, true)
		if err != nil {
			return nil, err
		}
		out = append(out, ChainRow{ID: e.ID, PrevHash: e.PrevHash, Hash: e.Hash, Check: func() (bool, string) { return rowHashMatches(e) }})
		out3 = append(out3, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	for i, e := range out3 {
		for _, b := range e.bodies() {
			if b.ref == "" || out[i].Reason != "" {
				continue
			}
			data, err := readBody(ctx, q, l.DB, b.ref)
			switch {
			case errors.Is(err, errBodyMissing):
				out[i].Reason = fmt.Sprintf("its %s body (sm3 %s) is missing from message_log_bodies: it was deleted", b.part, short(b.ref))
			case err != nil:
				return nil, fmt.Errorf("row %d: %s body: %w", e.ID, b.part, err)
			default:
				if sum := protocol.ReplayDigest(protocol.Interface(e.Interface), data); sum != b.ref {
					out[i].Reason = fmt.Sprintf("its %s body in message_log_bodies does not match its sm3 %s (computed %s): the body was edited",
						b.part, short(b.ref), short(sum))
				}
			}
		}
	}
	return out, nil
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}

// Record implements transport.MessageLog: it appends e to the chain,
// with e.Seen in the same transaction, and reports whether it wrote a
// seen mark (e.Seen was set and the entry committed).
func (l *MessageLog) Record(ctx context.Context, e *protocol.Exchange) (seenRecorded bool, err error) {
	if err := l.Append(ctx, EntryOf(e)); err != nil {
		return false, err
	}
	return e.Seen != nil, nil
}

// EntryOf is the log entry of an exchange.
func EntryOf(e *protocol.Exchange) *LogEntry {
	return &LogEntry{
		At: e.At, Direction: e.Direction, Interface: e.Interface, Peer: e.Peer, ApplyNo: e.ApplyNo, BaohanNo: e.BaohanNo,
		Request: e.Request, Response: e.Response, HTTPStatus: e.HTTPStatus, Code: e.Code, SignOK: e.SignOK,
		Diagnosis: e.Diagnosis, Error: e.Error, LatencyMS: e.Latency.Milliseconds(), Retry: e.Retry, Seen: e.Seen,
		requestDigest: e.RequestDigest,
	}
}
