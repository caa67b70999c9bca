package platform

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/chunk"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/ofd/guarantee"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/transport"
)

// Guarantee is a guarantee file the platform accepted: the decrypted OFD,
// its digest and the verification of its seals.
type Guarantee struct {
	ApplyNo    string          `json:"applyno"`
	FileType   int             `json:"filetype"` // 1 密文, 2 明文
	BaohanNo   string          `json:"baohanno"`
	Digest     string          `json:"digest"`     // baohanfilemd5 as checked
	DigestAlg  string          `json:"digest_alg"` // sm3 | md5
	SM3        string          `json:"sm3"`        // of the OFD
	Size       int64           `json:"size"`
	Chunks     int             `json:"chunks"`
	SealsOK    bool            `json:"seals_ok"`
	Report     json.RawMessage `json:"report"` // the seal verification
	ReceivedAt time.Time       `json:"received_at"`
	blob       string
}

func fileTypeOf(s string) (int, Event, error) {
	switch s {
	case protocol.FileTypeCipher:
		return 1, EvCipherReceived, nil
	case protocol.FileTypePlain:
		return 2, EvPlainReceived, nil
	}
	return 0, "", baohan.Refusef("filetype must be 1 (密文) or 2 (明文), got %q", s)
}

func fileTypeName(t int) string {
	if t == 2 {
		return "plaintext guarantee (filetype 2)"
	}
	return "ciphertext guarantee (filetype 1)"
}

// checkFileAllowed says whether the application takes a file of this type
// now: the state machine must allow it (files only for approved
// applications, filetype 2 only after the restore, which has happened once
// the project key was released for the application), the baohanno must be
// the notice's, and the file must not be complete already.
func (s *Service) checkFileAllowed(ctx context.Context, a *Application, baohanNo string, fileType int, ev Event) error {
	if g, err := s.guarantee(ctx, s.db, a.ApplyNo, fileType); err == nil {
		return &fileComplete{g: g}
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	ev = heldEvent(a, ev)
	if _, err := Next(a.State, ev, a.PrevState, s.facts(a)); err != nil || ev == EvCipherHeld {
		// Held before the notice: its baohanno is the one the notice
		// must bring.
		return withApplyNo(err, a.ApplyNo)
	}
	if a.BaohanNo != baohanNo {
		return baohan.Refusef("baohanno %s does not match the guarantee %s of applyno %s (from baohannotice)", baohanNo, orNone(a.BaohanNo), a.ApplyNo)
	}
	return nil
}

// heldEvent is the event of a ciphertext guarantee that comes before the
// success notice (upload_first): held until the notice, else ev.
func heldEvent(a *Application, ev Event) Event {
	if ev == EvCipherReceived && a.State == Applied {
		return EvCipherHeld
	}
	return ev
}

func withApplyNo(err error, applyNo string) error {
	var te *TransitionError
	if errors.As(err, &te) {
		te.ApplyNo = applyNo
	}
	return err
}

// fileComplete: the file of that type was already accepted.
type fileComplete struct{ g *Guarantee }

func (e *fileComplete) Error() string {
	return fmt.Sprintf("the %s of applyno %s is already complete (%s %s, %d bytes)", fileTypeName(e.g.FileType), e.g.ApplyNo, e.g.DigestAlg, e.g.Digest, e.g.Size)
}

func chunkBlobKey(applyNo, baohanNo string, fileType, index int, digest string) string {
	return fmt.Sprintf("platform/chunk/%s/%s/%d/%d/%s", applyNo, baohanNo, fileType, index, digest)
}

// handleUpload serves uploadbaohanfile: one chunk of an encrypted file,
// stored under (applyno, baohanno, filetype, index). The same bytes again
// are accepted; different bytes for an index already received are
// refused, naming the index.
func (s *Service) handleUpload(ctx context.Context, peer *transport.Peer, r *protocol.Request) (any, error) {
	var req protocol.UploadBaohanFileRequest
	if err := protocol.Decode(r, &req); err != nil {
		return nil, err
	}
	fileType, ev, err := fileTypeOf(req.FileType)
	if err != nil {
		return nil, err
	}
	index, err := strconv.Atoi(strings.TrimSpace(req.Index))
	if err != nil || index < 0 {
		return nil, baohan.Refusef("index %q is not a non-negative integer", req.Index)
	}
	a, err := s.peerApplication(ctx, s.db, peer, req.ApplyNo, false)
	if err != nil {
		return nil, err
	}
	if err := s.checkFileAllowed(ctx, a, req.BaohanNo, fileType, ev); err != nil {
		return nil, err
	}
	data, err := peer.Profile.Encoding.Decode(req.BaohanFile)
	if err != nil {
		return nil, baohan.Refusef("baohanfile (index %d): %v", index, err)
	}
	switch {
	case len(data) == 0:
		return nil, baohan.Refusef("baohanfile (index %d) is empty", index)
	case len(data) > peer.Profile.MaxChunk():
		return nil, baohan.Refusef("baohanfile (index %d) is %d bytes, more than the max_chunk_size of %d for appkey %s", index, len(data), peer.Profile.MaxChunk(), peer.AppKey)
	}
	// One SM3 pass: the digest names the chunk's blob, and Put stores the
	// hashed bytes without hashing them again.
	hashed := store.HashBytes(data)
	digest := hashed.SM3()

	// Already there?
	if prev, err := s.chunkDigest(ctx, req.ApplyNo, req.BaohanNo, fileType, index); err != nil {
		return nil, err
	} else if prev != "" {
		return nil, sameChunk(index, prev, digest)
	}
	var count int
	var total int64
	if err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT COUNT(*), COALESCE(SUM(size), 0) FROM plat_chunks
		WHERE applyno = ? AND baohanno = ? AND filetype = ?`), req.ApplyNo, req.BaohanNo, fileType).Scan(&count, &total); err != nil {
		return nil, err
	}
	if total+int64(len(data)) > s.cfg.MaxFileSize {
		return nil, baohan.Refusef("the %s of applyno %s would exceed %d bytes with index %d", fileTypeName(fileType), req.ApplyNo, s.cfg.MaxFileSize, index)
	}
	if maxChunks := int(s.cfg.MaxFileSize/int64(peer.Profile.ChunkSize)) + 2; count >= maxChunks {
		return nil, baohan.Refusef("the %s of applyno %s already has %d chunks, the most a file of at most %d bytes can have", fileTypeName(fileType), req.ApplyNo, count, s.cfg.MaxFileSize)
	}
	key := chunkBlobKey(req.ApplyNo, req.BaohanNo, fileType, index, digest)
	// record inserts the chunk's row through exec (a transaction's or the
	// writer's) and reports whether it was new.
	record := func(exec func(ctx context.Context, q string, args ...any) (sql.Result, error)) (bool, error) {
		res, err := exec(ctx, s.db.Rebind(`INSERT INTO plat_chunks
			(applyno, baohanno, filetype, idx, size, digest, blob, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (applyno, baohanno, filetype, idx) DO NOTHING`),
			req.ApplyNo, req.BaohanNo, fileType, index, len(data), digest, key, store.Micros(s.now()))
		if err != nil {
			return false, err
		}
		n, _ := res.RowsAffected()
		return n > 0, nil
	}
	var inserted bool
	if db, ok := s.blobs.(*store.DBBlobs); ok && db.DB == s.db {
		// Blobs in this database: the chunk's row and its blob in one
		// transaction, one commit (a blob whose row lost the race to a
		// concurrent upload of the index is not written).
		err := s.db.InTx(ctx, func(tx *sql.Tx) error {
			var err error
			if inserted, err = record(tx.ExecContext); err != nil || !inserted {
				return err
			}
			return db.PutTx(ctx, tx, key, hashed)
		})
		if err != nil {
			return nil, fmt.Errorf("storing chunk %d: %w", index, err)
		}
	} else {
		if _, _, err := s.blobs.Put(ctx, key, hashed); err != nil {
			return nil, fmt.Errorf("storing chunk %d: %w", index, err)
		}
		var err error
		if inserted, err = record(s.db.Writer().ExecContext); err != nil {
			return nil, fmt.Errorf("recording chunk %d: %w", index, err)
		}
	}
	if !inserted {
		// A concurrent upload of the same index won.
		prev, err := s.chunkDigest(ctx, req.ApplyNo, req.BaohanNo, fileType, index)
		if err != nil {
			return nil, err
		}
		if prev != digest {
			s.blobs.Delete(context.WithoutCancel(ctx), key)
		}
		return nil, sameChunk(index, prev, digest)
	}
	s.metrics.chunkBytes.Add(float64(len(data)))
	return nil, nil
}

// sameChunk is nil when the digests match (an idempotent repeat), else
// the refusal naming the index.
func sameChunk(index int, prev, now string) error {
	if prev == now {
		return nil
	}
	return baohan.Refusef("index %d was already received with different content (sm3 %s…, now %s…); a chunk cannot be replaced", index, prev[:16], now[:16])
}

func (s *Service) chunkDigest(ctx context.Context, applyNo, baohanNo string, fileType, index int) (string, error) {
	var d string
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT digest FROM plat_chunks WHERE applyno = ? AND baohanno = ? AND filetype = ? AND idx = ?`),
		applyNo, baohanNo, fileType, index).Scan(&d)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return d, err
}

type chunkRow struct {
	index int
	size  int64
	blob  string
}

func (s *Service) chunks(ctx context.Context, applyNo, baohanNo string, fileType int) ([]chunkRow, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT idx, size, blob FROM plat_chunks
		WHERE applyno = ? AND baohanno = ? AND filetype = ? ORDER BY idx`), applyNo, baohanNo, fileType)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []chunkRow
	for rows.Next() {
		var c chunkRow
		if err := rows.Scan(&c.index, &c.size, &c.blob); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// chainReader reads the chunks' blobs one after the other, holding one
// open at a time.
type chainReader struct {
	ctx   context.Context
	blobs store.Blobs
	keys  []string
	cur   io.ReadCloser
}

func (c *chainReader) Read(p []byte) (int, error) {
	for {
		if c.cur == nil {
			if len(c.keys) == 0 {
				return 0, io.EOF
			}
			rc, err := c.blobs.Open(c.ctx, c.keys[0])
			if err != nil {
				return 0, fmt.Errorf("opening chunk blob: %w", err)
			}
			c.cur, c.keys = rc, c.keys[1:]
		}
		n, err := c.cur.Read(p)
		if err == io.EOF {
			c.cur.Close()
			c.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (c *chainReader) Close() error {
	if c.cur != nil {
		return c.cur.Close()
	}
	return nil
}

// completeError is a refusal of baohanfilecompletenotice after which the
// uploaded chunks are discarded (the file must be uploaded again).
type completeError struct{ msg string }

func (e *completeError) Error() string { return e.msg }

// handleComplete serves baohanfilecompletenotice: it assembles the chunks
// in index order, streaming from the blob store; refuses gaps (and a
// chunk count in bak1 that does not match); unwraps key and iv with the
// applyno's private key in the peer's SM2 layout; decrypts SM4-CBC as a
// stream into the blob store while computing the digest (SM3 or MD5, told
// by its length); refuses a mismatch naming both digests; checks the OFD
// (verifyGuarantee: the application's numbers, seals chained to the trust
// roots over every entry and signed with the institution's pinned seal
// certificate, the agreement signed by the bidder); and records the
// guarantee and the move of the state machine. After a refusal for the
// content (decryption, digest, document) the chunks are discarded so
// that the file can be sent again.
func (s *Service) handleComplete(ctx context.Context, peer *transport.Peer, r *protocol.Request) (any, error) {
	var req protocol.BaohanFileCompleteNoticeRequest
	if err := protocol.Decode(r, &req); err != nil {
		return nil, err
	}
	fileType, ev, err := fileTypeOf(req.FileType)
	if err != nil {
		return nil, err
	}
	a, err := s.peerApplication(ctx, s.db, peer, req.ApplyNo, false)
	if err != nil {
		return nil, err
	}
	want := strings.ToLower(strings.TrimSpace(req.BaohanFileMD5))
	if err := s.checkFileAllowed(ctx, a, req.BaohanNo, fileType, ev); err != nil {
		var fc *fileComplete
		if errors.As(err, &fc) {
			if fc.g.Digest == want && fc.g.BaohanNo == req.BaohanNo {
				return nil, nil // the same notice again
			}
		}
		return nil, err
	}
	if heldEvent(a, ev) == EvCipherHeld {
		a.BaohanNo = req.BaohanNo // checked in the document; the notice must bring the same
	}
	g, err := s.assemble(ctx, peer, a, &req, fileType, want)
	if err != nil {
		// A concurrent notice for the same file may have completed it
		// (and dropped the chunks under this one).
		if prev, gerr := s.guarantee(ctx, s.db, a.ApplyNo, fileType); gerr == nil && prev.Digest == want && prev.BaohanNo == req.BaohanNo {
			return nil, nil
		}
		var ce *completeError
		if errors.As(err, &ce) {
			s.discardChunks(context.WithoutCancel(ctx), a, req.BaohanNo, fileType, peer, err.Error())
		}
		return nil, err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		a, err := s.peerApplication(ctx, tx, peer, req.ApplyNo, true)
		if err != nil {
			return err
		}
		if prev, err := s.guarantee(ctx, tx, a.ApplyNo, fileType); err == nil {
			if prev.Digest == g.Digest {
				return errDuplicate
			}
			return &fileComplete{g: prev}
		}
		report := string(g.Report)
		if report == "" {
			report = "{}"
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO plat_guarantees
			(applyno, filetype, baohanno, digest, digest_alg, sm3, size, blob, chunks, seals_ok, report, received_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			g.ApplyNo, g.FileType, g.BaohanNo, g.Digest, g.DigestAlg, g.SM3, g.Size, g.blob, g.Chunks, boolInt(g.SealsOK), report, store.Micros(g.ReceivedAt)); err != nil {
			return err
		}
		return s.move(ctx, tx, a, heldEvent(a, ev), actorInstitution(peer.Name), map[string]any{
			"baohanno": g.BaohanNo, "digest": g.Digest, "digest_alg": g.DigestAlg, "size": g.Size, "chunks": g.Chunks, "seals_ok": g.SealsOK,
		}, nil)
	})
	if errors.Is(err, errDuplicate) {
		s.blobs.Delete(context.WithoutCancel(ctx), g.blob)
		return nil, nil
	}
	if err != nil {
		s.blobs.Delete(context.WithoutCancel(ctx), g.blob)
		return nil, err
	}
	s.metrics.guarantees.WithLabelValues(strconv.Itoa(fileType)).Inc()
	s.log.Info("guarantee received", "applyno", g.ApplyNo, "filetype", fileType, "size", g.Size, "seals_ok", g.SealsOK)
	s.dropChunks(context.WithoutCancel(ctx), a.ApplyNo, req.BaohanNo, fileType, true)
	return nil, nil
}

var errDuplicate = errors.New("duplicate")

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// assemble checks the chunks, decrypts them into a new blob and verifies
// the digest and the document (verifyGuarantee). On success the returned
// guarantee's blob holds the OFD.
func (s *Service) assemble(ctx context.Context, peer *transport.Peer, a *Application, req *protocol.BaohanFileCompleteNoticeRequest, fileType int, want string) (*Guarantee, error) {
	alg, err := gm.DigestAlgOf(want)
	if err != nil {
		return nil, baohan.Refusef("baohanfilemd5: %v", err)
	}
	chunks, err := s.chunks(ctx, a.ApplyNo, req.BaohanNo, fileType)
	if err != nil {
		return nil, err
	}
	if len(chunks) == 0 {
		return nil, baohan.Refusef("no chunks of the %s were uploaded for applyno %s baohanno %s", fileTypeName(fileType), a.ApplyNo, req.BaohanNo)
	}
	expected := 0
	if b := strings.TrimSpace(req.Bak1); b != "" {
		if n, err := strconv.Atoi(b); err == nil && n > 0 {
			expected = n
		}
	}
	idx := make([]int, len(chunks))
	for i, c := range chunks {
		idx[i] = c.index
	}
	if _, err := chunk.CheckIndexes(idx, expected); err != nil {
		return nil, baohan.Refusef("the %s of applyno %s is incomplete: %v", fileTypeName(fileType), a.ApplyNo, err)
	}
	priv, err := s.applyKey(ctx, a.ApplyNo)
	if err != nil {
		return nil, err
	}
	key, err := gm.UnwrapKey(priv, req.Key, peer.Profile.SM2Layout)
	if err != nil {
		return nil, &completeError{fmt.Sprintf("key: %v", err)}
	}
	defer clear(key)
	iv, err := gm.UnwrapKey(priv, req.IV, peer.Profile.SM2Layout)
	if err != nil {
		return nil, &completeError{fmt.Sprintf("iv: %v", err)}
	}
	keys := make([]string, len(chunks))
	for i, c := range chunks {
		keys[i] = c.blob
	}
	src := &chainReader{ctx: ctx, blobs: s.blobs, keys: keys}
	defer src.Close()
	// The digest may cover the uploaded bytes (file_digest
	// *-ciphertext, or auto): they are digested as they are read.
	var cipherSum hash.Hash
	var uploaded io.Reader = src
	if peer.Profile.DigestOver != gm.OverPlaintext {
		cipherSum = gm.NewDigest(alg)
		uploaded = io.TeeReader(src, cipherSum)
	}
	dec, err := gm.NewCBCDecryptReader(uploaded, key, iv)
	if err != nil {
		return nil, &completeError{fmt.Sprintf("key/iv: %v", err)}
	}
	// Put computes the SM3 of the plaintext it stores; the digest the peer
	// sent is that SM3 unless the peer uses MD5, which is then computed
	// beside it in the same pass.
	var plain io.Reader = dec
	var h hash.Hash
	if alg != gm.SM3 {
		h = gm.NewDigest(alg)
		plain = io.TeeReader(dec, h)
	}
	blob := fmt.Sprintf("platform/guarantee/%s/%d/%s", a.ApplyNo, fileType, NewApplyNo(s.now())[10:])
	size, sm3hex, err := s.blobs.Put(ctx, blob, plain)
	if err != nil {
		s.blobs.Delete(context.WithoutCancel(ctx), blob)
		if errors.Is(err, gm.ErrBadPadding) {
			return nil, &completeError{fmt.Sprintf("decrypting the %s failed: %v (key or iv do not belong to these chunks)", fileTypeName(fileType), err)}
		}
		if ctx.Err() == nil && !isBlobIOError(err) {
			return nil, &completeError{fmt.Sprintf("decrypting the %s failed: %v", fileTypeName(fileType), err)}
		}
		return nil, err
	}
	got := sm3hex
	if h != nil {
		got = hex.EncodeToString(h.Sum(nil))
	}
	want = strings.ToLower(want)
	ok := false
	var computed []string
	if over := peer.Profile.DigestOver; over != gm.OverCiphertext {
		ok = got == want
		computed = append(computed, fmt.Sprintf("%s %s of the %d decrypted bytes", alg, got, size))
	}
	if cipherSum != nil {
		c := hex.EncodeToString(cipherSum.Sum(nil))
		ok = ok || c == want
		computed = append(computed, fmt.Sprintf("%s %s of the uploaded bytes", alg, c))
	}
	if !ok {
		s.blobs.Delete(context.WithoutCancel(ctx), blob)
		return nil, &completeError{fmt.Sprintf("baohanfilemd5 mismatch: sent %s, computed %s (file_digest %s)", want, strings.Join(computed, ", "),
			gm.FileDigestName(alg, peer.Profile.DigestOver))}
	}
	g := &Guarantee{ApplyNo: a.ApplyNo, FileType: fileType, BaohanNo: req.BaohanNo, Digest: want, DigestAlg: alg.String(),
		SM3: sm3hex, Size: size, Chunks: len(chunks), ReceivedAt: s.now(), blob: blob}
	v, report, err := s.verifyGuarantee(ctx, a, fileType, blob, size)
	if err != nil {
		s.blobs.Delete(context.WithoutCancel(ctx), blob)
		return nil, err
	}
	g.SealsOK, g.Report = v.OK, report
	s.metrics.seals.WithLabelValues(strconv.FormatBool(v.OK)).Inc()
	// accept_failed_seals keeps a guarantee whose seals fail, never
	// another application's document.
	if !v.OK && (!s.cfg.AcceptFailedSeals || v.Rule == guarantee.RuleIdentity) {
		s.blobs.Delete(context.WithoutCancel(ctx), blob)
		return nil, &completeError{fmt.Sprintf("the %s is refused: %s", fileTypeName(fileType), v.Failure)}
	}
	return g, nil
}

// isBlobIOError tells storage failures (retry later) from content
// failures (the file is bad).
func isBlobIOError(err error) bool {
	return strings.Contains(err.Error(), "opening chunk blob") || strings.Contains(err.Error(), "store: blob")
}

// applyKey opens the applyno's private key.
func (s *Service) applyKey(ctx context.Context, applyNo string) (*sm2.PrivateKey, error) {
	var sealed string
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT private_sealed FROM plat_apply_keys WHERE applyno = ?`), applyNo).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, baohan.Refusef("no public key was issued for applyno %s: call downloadpublickey and encrypt key and iv with it", applyNo)
	}
	if err != nil {
		return nil, err
	}
	pemKey, err := s.mk.Open(sealed, applyKeyContext(applyNo))
	if err != nil {
		return nil, fmt.Errorf("applyno %s: opening the private key: %w", applyNo, err)
	}
	defer clear(pemKey)
	return gm.ParsePrivateKey(pemKey)
}

// discardChunks drops the chunks of a file whose completion was refused
// for its content, and records why.
func (s *Service) discardChunks(ctx context.Context, a *Application, baohanNo string, fileType int, peer *transport.Peer, reason string) {
	s.dropChunks(ctx, a.ApplyNo, baohanNo, fileType, false)
	err := s.withApplication(ctx, a.ApplyNo, func(tx *sql.Tx, a *Application) error {
		return s.record(ctx, tx, a, EvFileDiscarded, actorInstitution(peer.Name),
			map[string]any{"filetype": fileType, "baohanno": baohanNo, "reason": reason}, nil)
	})
	if err != nil {
		s.log.Warn("recording discarded upload", "applyno", a.ApplyNo, "err", err)
	}
}

// dropChunks deletes a file's chunk rows and blobs. With later, the
// blobs are deleted in the background (the rows are gone: nothing names
// them any more), so that the answer to the complete notice does not wait
// for one deletion per chunk (a committed statement each in the
// database's blob store).
func (s *Service) dropChunks(ctx context.Context, applyNo, baohanNo string, fileType int, later bool) {
	chunks, err := s.chunks(ctx, applyNo, baohanNo, fileType)
	if err == nil {
		_, err = s.db.Writer().ExecContext(ctx, s.db.Rebind(`DELETE FROM plat_chunks WHERE applyno = ? AND baohanno = ? AND filetype = ?`),
			applyNo, baohanNo, fileType)
	}
	if err != nil {
		s.log.Warn("dropping chunks", "applyno", applyNo, "filetype", fileType, "err", err)
		return
	}
	del := func() {
		for _, c := range chunks {
			if err := s.blobs.Delete(ctx, c.blob); err != nil {
				s.log.Warn("deleting chunk blob", "applyno", applyNo, "index", c.index, "err", err)
			}
		}
	}
	if !later {
		del()
		return
	}
	s.drops.Add(1)
	go func() {
		defer s.drops.Done()
		del()
	}()
}

const guaranteeColumns = `applyno, filetype, baohanno, digest, digest_alg, sm3, size, blob, chunks, seals_ok, report, received_at`

func scanGuarantee(sc interface{ Scan(...any) error }) (*Guarantee, error) {
	var (
		g        Guarantee
		ok       int
		report   string
		received int64
	)
	if err := sc.Scan(&g.ApplyNo, &g.FileType, &g.BaohanNo, &g.Digest, &g.DigestAlg, &g.SM3, &g.Size, &g.blob, &g.Chunks, &ok, &report, &received); err != nil {
		return nil, err
	}
	g.SealsOK, g.Report, g.ReceivedAt = ok == 1, json.RawMessage(report), store.FromMicros(received)
	return &g, nil
}

func (s *Service) guarantee(ctx context.Context, q store.Querier, applyNo string, fileType int) (*Guarantee, error) {
	g, err := scanGuarantee(q.QueryRowContext(ctx, s.db.Rebind(`SELECT `+guaranteeColumns+` FROM plat_guarantees WHERE applyno = ? AND filetype = ?`), applyNo, fileType))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("applyno %s has no %s: %w", applyNo, fileTypeName(fileType), ErrNotFound)
	}
	return g, err
}

// Guarantee returns the accepted guarantee file of the application
// (filetype 1 ciphertext, 2 plaintext), with its seal report.
func (s *Service) Guarantee(ctx context.Context, applyNo string, fileType int) (*Guarantee, error) {
	return s.guarantee(ctx, s.db, applyNo, fileType)
}

// Guarantees lists the guarantee files of an application ("" for all,
// newest first).
func (s *Service) Guarantees(ctx context.Context, applyNo string, lim, offset int) ([]Guarantee, error) {
	q := `SELECT ` + guaranteeColumns + ` FROM plat_guarantees`
	var args []any
	if applyNo != "" {
		q += ` WHERE applyno = ?`
		args = append(args, applyNo)
	}
	q += ` ORDER BY received_at DESC, applyno, filetype LIMIT ? OFFSET ?`
	args = append(args, limit(lim), max(offset, 0))
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Guarantee{}
	for rows.Next() {
		g, err := scanGuarantee(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *g)
	}
	return out, rows.Err()
}

// OpenGuarantee opens the OFD of an accepted guarantee file.
func (s *Service) OpenGuarantee(ctx context.Context, applyNo string, fileType int) (io.ReadCloser, *Guarantee, error) {
	g, err := s.Guarantee(ctx, applyNo, fileType)
	if err != nil {
		return nil, nil, err
	}
	rc, err := s.blobs.Open(ctx, g.blob)
	if err != nil {
		return nil, nil, err
	}
	return rc, g, nil
}
