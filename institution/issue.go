package institution

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/chunk"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

// Stage is where the upload of one guarantee file stands. Each step is
// taken in the transaction that records the outcome of the outbox message
// before it (Dispatcher.OnOutcome), so a crash anywhere resumes at the
// right step and nothing acknowledged is sent again:
//
//	sealed          the OFD is sealed and stored; nothing sent yet
//	key_requested   downloadpublickey is in the outbox
//	uploading       encrypted; every chunk and the complete notice are in
//	                the outbox (one sequence group per applyno: in order)
//	complete        the platform acknowledged baohanfilecompletenotice
//	refused         the platform refused a message for good (see error);
//	                an operator re-uploads with ReuploadFile
//	stopped         the application ended (quit, cancelled) before the
//	                platform acknowledged the file: its messages still in
//	                the outbox are not sent (deliver), and an answer to one
//	                already sent is still applied (a complete notice the
//	                platform took makes the file complete)
type Stage string

const (
	StageSealed       Stage = "sealed"
	StageKeyRequested Stage = "key_requested"
	StageUploading    Stage = "uploading"
	StageComplete     Stage = "complete"
	StageRefused      Stage = "refused"
	StageStopped      Stage = "stopped"
)

// File is one guarantee file of an application.
type File struct {
	ApplicationID string `json:"application_id"`
	FileType      int    `json:"filetype"` // 1 ciphertext, 2 plaintext
	Stage         Stage  `json:"stage"`
	Size          int64  `json:"size"`   // bytes of the sealed OFD
	Digest        string `json:"digest"` // of the OFD, as sent in baohanfilemd5
	Chunks        int    `json:"chunks"`
	Round         int    `json:"round"`
	Error         string `json:"error,omitempty"`

	ofdBlob string
	encBlob string
}

const fileColumns = `application_id, filetype, stage, ofd_blob, enc_blob, size, digest, chunks, round, error`

func scanFile(s scanner) (*File, error) {
	var f File
	err := s.Scan(&f.ApplicationID, &f.FileType, &f.Stage, &f.ofdBlob, &f.encBlob, &f.Size, &f.Digest, &f.Chunks, &f.Round, &f.Error)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &f, err
}

func (r repo) file(ctx context.Context, q store.Querier, appID string, filetype int) (*File, error) {
	return scanFile(q.QueryRowContext(ctx, r.d.Rebind(`SELECT `+fileColumns+` FROM inst_files WHERE application_id=? AND filetype=?`), appID, filetype))
}

func (r repo) files(ctx context.Context, q store.Querier, appID string) ([]*File, error) {
	rows, err := q.QueryContext(ctx, r.d.Rebind(`SELECT `+fileColumns+` FROM inst_files WHERE application_id=? ORDER BY filetype`), appID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*File{}
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

func (r repo) insertFile(ctx context.Context, q store.Querier, f *File, now int64) error {
	_, err := q.ExecContext(ctx, r.d.Rebind(`INSERT INTO inst_files (`+fileColumns+`, created_at, updated_at)
 VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`), f.ApplicationID, f.FileType, f.Stage, f.ofdBlob, f.encBlob, f.Size, f.Digest, f.Chunks, f.Round, f.Error, now, now)
	return err
}

func (r repo) updateFile(ctx context.Context, q store.Querier, f *File, now int64) error {
	_, err := q.ExecContext(ctx, r.d.Rebind(`UPDATE inst_files SET stage=?, enc_blob=?, size=?, digest=?, chunks=?, round=?, error=?, updated_at=?
 WHERE application_id=? AND filetype=?`), f.Stage, f.encBlob, f.Size, f.Digest, f.Chunks, f.Round, f.Error, now, f.ApplicationID, f.FileType)
	return err
}

// group is the outbox sequence group of an application: its messages go
// out one after another, in the order they were enqueued.
func group(a *Application) string { return a.Peer + "/" + a.ApplyNo }

// ofdBlobKey names the sealed guarantee file of an application.
func ofdBlobKey(a *Application, filetype int) string {
	return fmt.Sprintf("institution/%s/guarantee-%d.ofd", a.ID, filetype)
}

func encBlobKey(a *Application, filetype, round int) string {
	return fmt.Sprintf("institution/%s/guarantee-%d.r%d.sm4", a.ID, filetype, round)
}

// startUpload begins the upload of a sealed file (stage sealed) in tx:
// with the platform's public key already known for this applyno it goes
// straight to encrypting; otherwise downloadpublickey is enqueued first.
func (s *Service) startUpload(ctx context.Context, tx *sql.Tx, a *Application, f *File) error {
	if a.publicKey != "" {
		return s.encryptAndEnqueue(ctx, tx, a, f)
	}
	return s.requestKey(ctx, tx, a, f)
}

// requestKey enqueues downloadpublickey for the file's round; the answer
// (onPublicKey) moves the file on to encryption.
func (s *Service) requestKey(ctx context.Context, tx *sql.Tx, a *Application, f *File) error {
	f.Stage = StageKeyRequested
	if err := s.repo.updateFile(ctx, tx, f, store.Micros(s.now())); err != nil {
		return err
	}
	return s.enqueueIn(ctx, tx, a, uploadGroup(a, f.Round), protocol.DownloadPublicKey,
		fmt.Sprintf("%s/%s/downloadpublickey", a.Peer, a.ApplyNo)+roundSuffix(f.Round),
		map[string]string{"applyno": a.ApplyNo})
}

// onPublicKey applies downloadpublickey's answer: store the key, then
// move every file waiting for it on to encryption.
func (s *Service) onPublicKey(ctx context.Context, tx *sql.Tx, a *Application, resp *protocol.Response) error {
	var res protocol.PublicKeyResult
	if err := json.Unmarshal(resp.Data, &res); err != nil || res.PublicKey == "" {
		return fmt.Errorf("downloadpublickey for %s: no publickey in the answer data %s", a.ApplyNo, clip(string(resp.Data)))
	}
	if _, err := gm.ParsePublicKey([]byte(res.PublicKey)); err != nil {
		return fmt.Errorf("downloadpublickey for %s: %w", a.ApplyNo, err)
	}
	a.publicKey = res.PublicKey
	if err := s.touch(ctx, tx, a, "publickey", "platform:"+a.Peer, "public key received"); err != nil {
		return err
	}
	files, err := s.repo.files(ctx, tx, a.ID)
	if err != nil {
		return err
	}
	for _, f := range files {
		if f.Stage == StageKeyRequested {
			if err := s.encryptAndEnqueue(ctx, tx, a, f); err != nil {
				return err
			}
		}
	}
	return nil
}

// encryptAndEnqueue encrypts the sealed OFD with a fresh SM4 key and iv,
// keeps the ciphertext as a blob until the upload completes, and enqueues
// one uploadbaohanfile per chunk and the baohanfilecompletenotice, whose
// key and iv are wrapped for the platform's public key.
func (s *Service) encryptAndEnqueue(ctx context.Context, tx *sql.Tx, a *Application, f *File) error {
	pp, err := s.peers.named(a.Peer)
	if err != nil {
		return err
	}
	prof := pp.peer.Profile
	pub, err := gm.ParsePublicKey([]byte(a.publicKey))
	if err != nil {
		return fmt.Errorf("public key of %s: %w", a.ApplyNo, err)
	}
	plain, err := s.blobs.Get(ctx, f.ofdBlob)
	if err != nil {
		return fmt.Errorf("guarantee file %d of %s: %w", f.FileType, a.ApplyNo, err)
	}
	key, iv := gm.NewKey(), gm.NewKey()
	var enc bytes.Buffer
	w, err := gm.NewCBCEncryptWriter(&enc, key, iv)
	if err != nil {
		return err
	}
	if _, err := w.Write(plain); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	// file_digest: over the plaintext (and for auto), or over the bytes
	// uploaded.
	digested := plain
	if prof.DigestOver == gm.OverCiphertext {
		digested = enc.Bytes()
	}
	digest, err := gm.FileDigest(bytes.NewReader(digested), prof.FileDigest)
	if err != nil {
		return err
	}
	wrappedKey, err := gm.WrapKeyAs(pub, key, prof.SM2Layout, prof.Encoding)
	if err != nil {
		return fmt.Errorf("wrapping the file key for %s: %w", a.ApplyNo, err)
	}
	wrappedIV, err := gm.WrapKeyAs(pub, iv, prof.SM2Layout, prof.Encoding)
	if err != nil {
		return fmt.Errorf("wrapping the file iv for %s: %w", a.ApplyNo, err)
	}
	f.encBlob = encBlobKey(a, f.FileType, f.Round)
	if err := s.blobs.Put(ctx, f.encBlob, enc.Bytes()); err != nil {
		return err
	}
	ft := strconv.Itoa(f.FileType)
	n := 0
	err = chunk.Split(bytes.NewReader(enc.Bytes()), prof.ChunkSize, func(i int, b64 string) error {
		n++
		index := strconv.Itoa(i + prof.IndexBase)
		return s.enqueueIn(ctx, tx, a, uploadGroup(a, f.Round), protocol.UploadBaohanFile,
			fmt.Sprintf("%s/%s/%s/%s", a.Peer, a.ApplyNo, ft, index)+roundSuffix(f.Round),
			map[string]string{"applyno": a.ApplyNo, "baohanno": a.BaohanNo, "baohanfile": prof.Encoding.Reencode(b64), "filetype": ft, "index": index})
	})
	if err != nil {
		return err
	}
	err = s.enqueueIn(ctx, tx, a, uploadGroup(a, f.Round), protocol.BaohanFileCompleteNotice,
		fmt.Sprintf("%s/%s/%s/complete", a.Peer, a.ApplyNo, ft)+roundSuffix(f.Round),
		map[string]string{"applyno": a.ApplyNo, "baohanno": a.BaohanNo, "key": wrappedKey, "iv": wrappedIV,
			"baohanfilemd5": digest, "filetype": ft, "bak1": strconv.Itoa(n)})
	if err != nil {
		return err
	}
	f.Stage, f.Digest, f.Chunks, f.Size, f.Error = StageUploading, digest, n, int64(len(plain)), ""
	s.metrics.chunksEnqueued.Add(float64(n))
	return s.repo.updateFile(ctx, tx, f, store.Micros(s.now()))
}

// uploadGroup is the sequence group of a file's upload: the
// application's, or for a re-upload a group of its own, since a message
// the platform refused for good blocks the rest of its group.
func uploadGroup(a *Application, round int) string { return group(a) + roundSuffix(round) }

func roundSuffix(round int) string {
	if round == 0 {
		return ""
	}
	return "#r" + strconv.Itoa(round)
}

// onComplete applies the platform's acknowledgement of a complete notice:
// the file is complete, its ciphertext dropped, and the application moves
// on (approved → issued, restoring → restored).
func (s *Service) onComplete(ctx context.Context, tx *sql.Tx, a *Application, filetype int) error {
	f, err := s.repo.file(ctx, tx, a.ID, filetype)
	if err != nil {
		return err
	}
	if f.Stage == StageComplete {
		return nil
	}
	enc := f.encBlob
	f.Stage, f.encBlob, f.Error = StageComplete, "", ""
	if err := s.repo.updateFile(ctx, tx, f, store.Micros(s.now())); err != nil {
		return err
	}
	if enc != "" {
		if err := s.blobs.Delete(ctx, enc); err != nil {
			return err
		}
	}
	switch {
	case filetype == 1 && a.State == Approved:
		if err := s.move(ctx, tx, a, Issued, string(protocol.BaohanFileCompleteNotice), "platform:"+a.Peer, "ciphertext guarantee received by the platform"); err != nil {
			return err
		}
		if s.uploadFirst(a) { // the platform holds the file until the success notice
			return s.enqueueBaohanNotice(ctx, tx, a, protocol.StatusApproved)
		}
		return nil
	case filetype == 2 && a.State == Restoring:
		return s.move(ctx, tx, a, Restored, string(protocol.BaohanFileCompleteNotice), "platform:"+a.Peer, "plaintext guarantee received by the platform")
	}
	return nil // cancelled meanwhile: keep the state
}

// stopIssuance ends the upload of every file of a that the platform has
// not acknowledged, as a moves to a final state (to): the files are
// stopped, their ciphertext dropped; their messages left in the outbox
// are then resolved without being sent (deliver).
func (s *Service) stopIssuance(ctx context.Context, tx *sql.Tx, a *Application, to State) error {
	files, err := s.repo.files(ctx, tx, a.ID)
	if err != nil {
		return err
	}
	for _, f := range files {
		if f.Stage == StageComplete || f.Stage == StageStopped {
			continue
		}
		enc := f.encBlob
		f.Error = fmt.Sprintf("the application became %s (%s) before the platform acknowledged the file (it was %s)", to, to.Label(), f.Stage)
		f.Stage, f.encBlob = StageStopped, ""
		if err := s.repo.updateFile(ctx, tx, f, store.Micros(s.now())); err != nil {
			return err
		}
		if enc != "" {
			if err := s.blobs.Delete(ctx, enc); err != nil {
				return err
			}
		}
	}
	return nil
}

// uploadStopped reports whether an upload message of the application need
// not go out any more: the application ended (quit, cancelled, ...) and
// so its issuance stopped (stopIssuance). A message already sent is
// answered and applied as usual; this is for the ones still waiting.
func (s *Service) uploadStopped(ctx context.Context, m *store.OutMessage) (bool, string, error) {
	switch protocol.Interface(m.Interface) {
	case protocol.DownloadPublicKey, protocol.UploadBaohanFile, protocol.BaohanFileCompleteNotice:
	default:
		return false, "", nil
	}
	var state State
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT state FROM inst_applications WHERE peer=? AND applyno=?`), m.Peer, m.ApplyNo).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return false, "", nil
	}
	if err != nil || !state.Final() {
		return false, "", err
	}
	return true, fmt.Sprintf("not sent: applyno %s is %s (%s); the upload of its guarantee stopped", m.ApplyNo, state, state.Label()), nil
}

// onUploadRefused records that the platform refused a message of a file's
// upload for good.
func (s *Service) onUploadRefused(ctx context.Context, tx *sql.Tx, a *Application, filetype int, why string) error {
	f, err := s.repo.file(ctx, tx, a.ID, filetype)
	if err != nil {
		return err
	}
	f.Stage, f.Error = StageRefused, why
	if err := s.repo.updateFile(ctx, tx, f, store.Micros(s.now())); err != nil {
		return err
	}
	return s.repo.insertEvent(ctx, tx, a.ID, s.now(), a.State, a.State, "upload_refused", "platform:"+a.Peer,
		fmt.Sprintf("filetype %d: %s", filetype, why))
}

// ReuploadFile starts the upload of a guarantee file again, with a fresh
// key and new outbox messages (a new round), after the platform refused
// it or lost it. actor is who asked.
//
// A file the platform acknowledged may be sent again too: a platform
// restored from a backup older than the file waits for it and nothing
// else would ever send it. The platform's completion is idempotent (the
// same document again is acknowledged), so this is safe. Such a round
// asks for the platform's public key again first, since a platform that
// lost the file may have lost the key pair it gave for the applyno too.
func (s *Service) ReuploadFile(ctx context.Context, appID string, filetype int, actor string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		a, err := s.repo.applicationByID(ctx, tx, appID)
		if err != nil {
			return err
		}
		f, err := s.repo.file(ctx, tx, a.ID, filetype)
		if err != nil {
			return baohan.Refusef("application %s has no guarantee file %d", a.ApplyNo, filetype)
		}
		resend := f.Stage == StageComplete
		if a.State.Final() {
			return baohan.Refusef("application %s is %s (%s): its guarantee is no longer uploaded", a.ApplyNo, a.State, a.State.Label())
		}
		if f.encBlob != "" {
			if err := s.blobs.Delete(ctx, f.encBlob); err != nil {
				return err
			}
		}
		f.Round++
		f.Stage, f.encBlob, f.Error = StageSealed, "", ""
		if err := s.repo.updateFile(ctx, tx, f, store.Micros(s.now())); err != nil {
			return err
		}
		detail := fmt.Sprintf("filetype %d round %d", filetype, f.Round)
		if resend {
			detail += " (the platform had acknowledged it; sent again with its public key fetched anew)"
		}
		if err := s.repo.insertEvent(ctx, tx, a.ID, s.now(), a.State, a.State, "reupload", actor, detail); err != nil {
			return err
		}
		if resend {
			return s.requestKey(ctx, tx, a, f)
		}
		return s.startUpload(ctx, tx, a, f)
	})
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
