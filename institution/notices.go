package institution

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/service"
	"github.com/baohan-dev/baohan/store"
)

// handleCancel serves canclenotice: the bid agent cancels the guarantee.
// Cancelling again is acknowledged.
func (s *Service) handleCancel(ctx context.Context, in inbound) (any, error) {
	a, err := s.application(ctx, s.db, in)
	if err != nil {
		return nil, err
	}
	if err := checkBaohanNo(a, in.r.Get("baohanno")); err != nil {
		return nil, err
	}
	return nil, s.inTx(ctx, func(tx *sql.Tx) error {
		a, err := s.repo.applicationByID(ctx, tx, a.ID)
		if err != nil {
			return err
		}
		if a.State == Cancelled {
			return nil
		}
		return s.move(ctx, tx, a, Cancelled, string(protocol.CancelNotice), "platform:"+a.Peer, "cancelled by the bid agent")
	})
}

// Claim is one claimsnotice (理赔) as recorded.
type Claim struct {
	ID            string            `json:"id"`
	ApplicationID string            `json:"application_id"`
	ApplyNo       string            `json:"applyno"`
	BaohanNo      string            `json:"baohanno"`
	Fields        map[string]string `json:"fields"`
	Files         []string          `json:"files"`
	// FileStatus is what became of each of Files: fetched and kept (its
	// SM3 and size; GET /api/claims/{id}/files/{n} serves the copy),
	// pending, or failed with the reason.
	FileStatus []service.KeptFile `json:"file_status"`
	CreatedAt  time.Time          `json:"created_at"`
	// Status is where the claim stands (claimoutcome.go): received,
	// pending, paid, refused, recovered, recovery_failed.
	Status      string         `json:"status"`
	StatusLabel string         `json:"status_label"`
	Outcome     *ClaimOutcome  `json:"outcome,omitempty"`  // 理赔结果, once recorded
	Recovery    *ClaimRecovery `json:"recovery,omitempty"` // 追偿结果, once recorded
	UpdatedAt   time.Time      `json:"updated_at,omitzero"`
}

// handleClaims serves claimsnotice: the claim is recorded with its file
// list and acknowledged at once (见索即付: payment on first demand; the
// payout itself is the institution's business process), when it stays
// within the guarantee: payeramount, with the claims accepted before it,
// at most the guaranteed amount (checkClaimBound); otherwise code 0 says
// by how much it exceeds. The same claim again (every field the same)
// is acknowledged and recorded once.
func (s *Service) handleClaims(ctx context.Context, in inbound) (any, error) {
	a, err := s.application(ctx, s.db, in)
	if err != nil {
		return nil, err
	}
	if err := checkBaohanNo(a, in.r.Get("baohanno")); err != nil {
		return nil, err
	}
	switch a.State {
	case Approved, Issued, Restoring, Restored:
	default:
		return nil, baohan.Refusef("applyno %s is %s (%s): there is no guarantee in force to claim on", a.ApplyNo, a.State, a.State.Label())
	}
	var files []string
	if fl := in.r.Get("filelist"); fl != "" {
		var list []protocol.ClaimFile
		if err := json.Unmarshal([]byte(fl), &list); err != nil {
			return nil, baohan.Refusef("filelist: not a JSON array of {\"fileurl\":...}: %v", err)
		}
		for _, f := range list {
			files = append(files, f.FileURL)
		}
	}
	if files == nil {
		files = []string{}
	}
	fields := businessFields(in.r)
	hash := fieldsHash(fields)
	fj, _ := json.Marshal(fields)
	flj, _ := json.Marshal(files)
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		// Claims on one guarantee one at a time: the bound below counts
		// the claims before this one.
		if err := s.lockApplication(ctx, tx, a.ID); err != nil {
			return err
		}
		var existing string
		err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT id FROM inst_claims WHERE application_id=? AND request_hash=?`), a.ID, hash).Scan(&existing)
		if err == nil {
			return nil // the same claim again
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := s.checkClaimBound(ctx, tx, a, in.r.Get("payeramount")); err != nil {
			return err
		}
		id := newID()
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO inst_claims (id, application_id, request_hash, fields, files, created_at) VALUES (?,?,?,?,?,?)`),
			id, a.ID, hash, string(fj), string(flj), store.Micros(s.now())); err != nil {
			return err
		}
		if err := s.core.Files.Enqueue(ctx, tx, claimFilesOwner(id), files); err != nil {
			return err
		}
		s.metrics.claims.Inc()
		return s.repo.insertEvent(ctx, tx, a.ID, s.now(), a.State, a.State, string(protocol.ClaimsNotice), "platform:"+a.Peer,
			fmt.Sprintf("claim %s by %s, %s, %d file(s)", id, in.r.Get("applyusername"), claimAmountText(in.r.Get("payeramount")), len(files)))
	})
	var r *baohan.Error
	if errors.As(err, &r) && r.Code == baohan.ERefused {
		s.recordRefusedClaim(ctx, a, r.Message)
	}
	return nil, err
}

// Claims lists claims, newest first.
func (s *Service) Claims(ctx context.Context) ([]*Claim, error) {
	list, err := s.claims(ctx, s.db, "")
	if err != nil {
		return nil, err
	}
	return list, s.withFileStatus(ctx, list...)
}

// claimFilesOwner names a claim's files among the fetched ones.
func claimFilesOwner(id string) string { return "claim:" + id }

// withFileStatus fills in what became of the claims' files.
func (s *Service) withFileStatus(ctx context.Context, list ...*Claim) error {
	owners := make([]string, len(list))
	for i, c := range list {
		owners[i] = claimFilesOwner(c.ID)
	}
	m, err := s.core.Files.ListMany(ctx, owners)
	if err != nil {
		return err
	}
	for _, c := range list {
		if c.FileStatus = m[claimFilesOwner(c.ID)]; c.FileStatus == nil {
			c.FileStatus = []service.KeptFile{}
		}
	}
	return nil
}

// ClaimFile returns the kept copy of a claim's file n (0-based).
func (s *Service) ClaimFile(ctx context.Context, id string, n int) (service.KeptFile, []byte, error) {
	k, data, err := s.core.Files.Open(ctx, claimFilesOwner(id), n)
	if errors.Is(err, store.ErrNotFound) {
		err = ErrNotFound
	}
	return k, data, err
}

func (s *Service) claims(ctx context.Context, q store.Querier, where string, args ...any) ([]*Claim, error) {
	rows, err := q.QueryContext(ctx, s.db.Rebind(`SELECT c.id, c.application_id, a.applyno, a.baohanno, c.fields, c.files, c.created_at,
 c.status, c.outcome, c.recovery, c.updated_at
 FROM inst_claims c JOIN inst_applications a ON a.id=c.application_id`+where+` ORDER BY c.created_at DESC LIMIT 1000`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*Claim{}
	for rows.Next() {
		var c Claim
		var fields, files, outcome, recovery string
		var at, updated int64
		if err := rows.Scan(&c.ID, &c.ApplicationID, &c.ApplyNo, &c.BaohanNo, &fields, &files, &at,
			&c.Status, &outcome, &recovery, &updated); err != nil {
			return nil, err
		}
		json.Unmarshal([]byte(fields), &c.Fields)
		json.Unmarshal([]byte(files), &c.Files)
		c.CreatedAt, c.UpdatedAt = store.FromMicros(at), store.FromMicros(updated)
		c.StatusLabel = ClaimStatusLabel(c.Status)
		if outcome != "" {
			c.Outcome = &ClaimOutcome{}
			if err := json.Unmarshal([]byte(outcome), c.Outcome); err != nil {
				return nil, fmt.Errorf("claim %s: stored outcome: %w", c.ID, err)
			}
		}
		if recovery != "" {
			c.Recovery = &ClaimRecovery{}
			if err := json.Unmarshal([]byte(recovery), c.Recovery); err != nil {
				return nil, fmt.Errorf("claim %s: stored recovery: %w", c.ID, err)
			}
		}
		out = append(out, &c)
	}
	return out, rows.Err()
}

// Give-up statuses.
const (
	GiveupPending  = "pending"
	GiveupAccepted = "accepted"
	GiveupRefused  = "refused"
)

// Giveup is one give-up (放弃) of an application.
type Giveup struct {
	ID            string    `json:"id"`
	ApplicationID string    `json:"application_id"`
	ApplyNo       string    `json:"applyno"`
	Origin        string    `json:"origin"`
	Status        string    `json:"status"`
	Message       string    `json:"message,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	DecidedAt     time.Time `json:"decided_at,omitzero"`
}

// canGiveUp: only while no approval was sent (nothing issued).
func canGiveUp(a *Application) error {
	switch a.State {
	case Received, Opened, Signed, Paid, Reviewing, Rejected:
		return nil
	}
	if a.State.HasGuarantee() {
		return baohan.Refusef("applyno %s was approved (baohanno %s) and the guarantee is %s: it can no longer be given up", a.ApplyNo, a.BaohanNo, a.State.Label())
	}
	return checkMove(a.ApplyNo, a.State, GivenUp, "giving up")
}

func (s *Service) insertGiveup(ctx context.Context, tx *sql.Tx, a *Application, origin, status, msg string) (string, error) {
	id := newID()
	decided := int64(0)
	if status != GiveupPending {
		decided = store.Micros(s.now())
	}
	_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO inst_giveups (id, application_id, origin, status, message, created_at, decided_at) VALUES (?,?,?,?,?,?,?)`),
		id, a.ID, origin, status, msg, store.Micros(s.now()), decided)
	return id, err
}

// pendingGiveup refuses while a give-up waits for the platform's answer.
func (s *Service) pendingGiveup(ctx context.Context, q store.Querier, a *Application) error {
	var n int
	if err := q.QueryRowContext(ctx, s.db.Rebind(`SELECT COUNT(*) FROM inst_giveups WHERE application_id=? AND status=?`), a.ID, GiveupPending).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return baohan.Refusef("applyno %s: a give-up is waiting for the platform's answer", a.ApplyNo)
	}
	return nil
}

// handleGiveupApply serves giveupapply: allowed while no approval was
// sent; otherwise code 0 with the reason. Giving up again is acknowledged.
func (s *Service) handleGiveupApply(ctx context.Context, in inbound) (any, error) {
	a, err := s.application(ctx, s.db, in)
	if err != nil {
		return nil, err
	}
	return nil, s.inTx(ctx, func(tx *sql.Tx) error {
		a, err := s.repo.applicationByID(ctx, tx, a.ID)
		if err != nil {
			return err
		}
		if a.State == GivenUp {
			return nil
		}
		if err := canGiveUp(a); err != nil {
			return err
		}
		if _, err := s.insertGiveup(ctx, tx, a, "platform", GiveupAccepted, ""); err != nil {
			return err
		}
		return s.move(ctx, tx, a, GivenUp, string(protocol.GiveupApply), "platform:"+a.Peer, "given up at the platform")
	})
}

// GiveUp starts a give-up at the institution (the bidder abandons here):
// giveupnotice asks the platform, whose answer decides (code 1: given up;
// code 0: the application stays as it is).
//
// The record returned is the one written (pending): read in the same
// transaction, so an answer that arrives before the caller reads it does
// not change what this call reports; Giveups shows the decision.
func (s *Service) GiveUp(ctx context.Context, appID, actor string) (*Giveup, error) {
	var g *Giveup
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// One give-up at a time: the pending check below must see the other's.
		if err := s.lockApplication(ctx, tx, appID); err != nil {
			return err
		}
		a, err := s.repo.applicationByID(ctx, tx, appID)
		if err != nil {
			return err
		}
		if err := canGiveUp(a); err != nil {
			return err
		}
		if err := s.pendingGiveup(ctx, tx, a); err != nil {
			return err
		}
		id, err := s.insertGiveup(ctx, tx, a, "institution", GiveupPending, "")
		if err != nil {
			return err
		}
		if err := s.repo.insertEvent(ctx, tx, a.ID, s.now(), a.State, a.State, "giveup_requested", actor, ""); err != nil {
			return err
		}
		if g, err = s.giveup(ctx, tx, id); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, a, protocol.GiveupNotice, fmt.Sprintf("%s/%s/giveupnotice/%s", a.Peer, a.ApplyNo, id),
			map[string]string{"applyno": a.ApplyNo})
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// onGiveupAnswer applies the platform's answer to giveupnotice.
func (s *Service) onGiveupAnswer(ctx context.Context, tx *sql.Tx, a *Application, ok bool, msg string) error {
	status := GiveupRefused
	if ok {
		status = GiveupAccepted
	}
	res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE inst_giveups SET status=?, message=?, decided_at=? WHERE application_id=? AND status=?`),
		status, msg, store.Micros(s.now()), a.ID, GiveupPending)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	if !ok {
		return s.repo.insertEvent(ctx, tx, a.ID, s.now(), a.State, a.State, "giveup_refused", "platform:"+a.Peer, msg)
	}
	if a.State == GivenUp {
		return nil
	}
	if err := canGiveUp(a); err != nil {
		// Cannot happen while a give-up is pending (approval waits); record it.
		return s.repo.insertEvent(ctx, tx, a.ID, s.now(), a.State, a.State, "giveup_late", "platform:"+a.Peer, err.Error())
	}
	return s.move(ctx, tx, a, GivenUp, string(protocol.GiveupNotice), "platform:"+a.Peer, "give-up accepted by the platform")
}

func (s *Service) giveups(ctx context.Context, q store.Querier, where string, args ...any) ([]*Giveup, error) {
	rows, err := q.QueryContext(ctx, s.db.Rebind(`SELECT g.id, g.application_id, a.applyno, g.origin, g.status, g.message, g.created_at, g.decided_at
 FROM inst_giveups g JOIN inst_applications a ON a.id=g.application_id`+where+` ORDER BY g.created_at DESC LIMIT 1000`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*Giveup{}
	for rows.Next() {
		var g Giveup
		var c, d int64
		if err := rows.Scan(&g.ID, &g.ApplicationID, &g.ApplyNo, &g.Origin, &g.Status, &g.Message, &c, &d); err != nil {
			return nil, err
		}
		g.CreatedAt, g.DecidedAt = store.FromMicros(c), store.FromMicros(d)
		out = append(out, &g)
	}
	return out, rows.Err()
}

func (s *Service) giveup(ctx context.Context, q store.Querier, id string) (*Giveup, error) {
	list, err := s.giveups(ctx, q, " WHERE g.id=?", id)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, ErrNotFound
	}
	return list[0], nil
}
