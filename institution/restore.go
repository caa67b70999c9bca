package institution

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/gm"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

func projectContext(appID string) string { return "institution/project/" + appID }

// handleRestore serves baohanrestore: after the bid opening the platform
// releases the project key; the institution decrypts the project fields,
// builds the plaintext guarantee, merges it with the ciphertext one,
// seals it and uploads it (filetype 2) through the outbox. The answer
// comes at once; the upload is asynchronous.
func (s *Service) handleRestore(ctx context.Context, in inbound) (any, error) {
	a, err := s.application(ctx, s.db, in)
	if err != nil {
		return nil, err
	}
	if err := checkBaohanNo(a, in.r.Get("baohanno")); err != nil {
		return nil, err
	}
	kaibiao, err := protocol.ParseTime(in.r.Get("kaibiaotime"))
	if err != nil {
		return nil, baohan.Refusef("kaibiaotime: %v", err)
	}
	if now := s.now(); kaibiao.After(now.Add(in.pp.peer.Profile.TimestampWindow)) {
		return nil, baohan.Refusef("kaibiaotime %s is in the future: the project key is released after the bid opening", in.r.Get("kaibiaotime"))
	}
	switch a.State {
	case Restoring, Restored:
		// The same release again is acknowledged; a different key is not.
		if a.KaibiaoTime == in.r.Get("kaibiaotime") && s.sameRestoreKey(a, in.r.Get("key")) {
			return nil, nil
		}
		return nil, baohan.Refusef("applyno %s was already restored with another key or kaibiaotime", a.ApplyNo)
	case Issued:
	default:
		return nil, checkMove(a.ApplyNo, a.State, Restoring, "baohanrestore")
	}
	key, err := in.pp.peer.Profile.Encoding.Decode(in.r.Get("key"))
	if err != nil {
		return nil, baohan.Refusef("key: %v", err)
	}
	if len(key) != 16 {
		return nil, baohan.Refusef("key: want %s of the 16-byte SM4 project key, got %d bytes", in.pp.peer.Profile.Encoding, len(key))
	}
	cipher, err := a.cipherProject()
	if err != nil {
		return nil, err
	}
	plain, err := decryptProject(key, cipher)
	if err != nil {
		return nil, err
	}
	if d := in.r.Get("bzjenddate"); d != "" { // the flat revision's: it wins
		plain.BzjEndDate = d
	}
	cipherDoc, err := s.blobs.Get(ctx, ofdBlobKey(a, 1))
	if err != nil {
		return nil, fmt.Errorf("ciphertext guarantee of %s: %w", a.ApplyNo, err)
	}
	gen, err := protocol.ParseTime(a.GenerateTime)
	if err != nil {
		return nil, fmt.Errorf("generatetime of %s: %w", a.ApplyNo, err)
	}
	din, err := s.documentInput(a, gen)
	if err != nil {
		return nil, err
	}
	din.Project = plain
	din.KaibiaoTime = kaibiao
	doc, err := s.docs.PlainGuarantee(ctx, din, cipherDoc)
	if err != nil {
		return nil, fmt.Errorf("plaintext guarantee of %s: %w", a.ApplyNo, err)
	}
	if err := s.blobs.Put(ctx, ofdBlobKey(a, 2), doc); err != nil {
		return nil, err
	}
	plainJSON, _ := json.Marshal(plain)
	sealedProject, err := s.mk.Seal(plainJSON, projectContext(a.ID))
	if err != nil {
		return nil, err
	}
	sealedKey, err := s.mk.Seal(key, projectContext(a.ID)+"/key")
	if err != nil {
		return nil, err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		cur, err := s.repo.applicationByID(ctx, tx, a.ID)
		if err != nil {
			return err
		}
		if cur.State != Issued {
			return checkMove(cur.ApplyNo, cur.State, Restoring, "baohanrestore")
		}
		a = cur
		a.projectSealed = sealedProject + "\n" + sealedKey
		a.KaibiaoTime = in.r.Get("kaibiaotime")
		if err := s.move(ctx, tx, a, Restoring, string(protocol.BaohanRestore), "platform:"+a.Peer, "project key released; kaibiaotime "+a.KaibiaoTime); err != nil {
			return err
		}
		f := &File{ApplicationID: a.ID, FileType: 2, Stage: StageSealed, Size: int64(len(doc)), ofdBlob: ofdBlobKey(a, 2)}
		if err := s.repo.insertFile(ctx, tx, f, store.Micros(s.now())); err != nil {
			return err
		}
		return s.startUpload(ctx, tx, a, f)
	})
	if err != nil {
		return nil, err
	}
	s.logger.InfoContext(ctx, "guarantee restored; plaintext upload queued", slog.String("applyno", a.ApplyNo), slog.String("baohanno", a.BaohanNo))
	return nil, nil
}

// decryptProject decrypts the four project fields with the project key;
// the error names the field that failed.
func decryptProject(key []byte, c Project) (Project, error) {
	var p Project
	fields := []struct {
		name     string
		in       string
		out      *string
		optional bool
	}{
		{"biaoduanno", c.BiaoduanNo, &p.BiaoduanNo, false},
		{"biaoduanname", c.BiaoduanName, &p.BiaoduanName, false},
		{"zbr", c.Zbr, &p.Zbr, false},
		{"zbrorgnum", c.ZbrOrgNum, &p.ZbrOrgNum, true},
		{"bzjenddate", c.BzjEndDate, &p.BzjEndDate, true},
	}
	for _, f := range fields {
		if f.in == "" && f.optional {
			continue
		}
		v, err := gm.DecryptField(key, f.in)
		if err != nil {
			return Project{}, baohan.Refusef("decryption failed for %s with the released key: %v", f.name, err)
		}
		*f.out = v
	}
	return p, nil
}

// sameRestoreKey reports whether key is the project key of an earlier
// restore of a.
func (s *Service) sameRestoreKey(a *Application, key string) bool {
	_, sealedKey, ok := cutLast(a.projectSealed, "\n")
	if !ok {
		return false
	}
	old, err := s.mk.Open(sealedKey, projectContext(a.ID)+"/key")
	if err != nil {
		return false
	}
	k, err := gm.DecodeBinary(key)
	return err == nil && string(k) == string(old)
}

func cutLast(s, sep string) (string, string, bool) {
	for i := len(s) - len(sep); i >= 0; i-- {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

// RestoredProject returns the decrypted project fields of a restored
// application (for the console; never logged).
func (s *Service) RestoredProject(ctx context.Context, appID string) (*Project, error) {
	a, err := s.repo.applicationByID(ctx, s.db, appID)
	if err != nil {
		return nil, err
	}
	sealed, _, ok := cutLast(a.projectSealed, "\n")
	if !ok {
		return nil, baohan.Refusef("applyno %s is not restored", a.ApplyNo)
	}
	b, err := s.mk.Open(sealed, projectContext(a.ID))
	if err != nil {
		return nil, err
	}
	var p Project
	return &p, json.Unmarshal(b, &p)
}
