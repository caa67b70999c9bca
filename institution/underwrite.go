package institution

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/baohan-dev/baohan"
	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

// Findings are the results of the underwriting rules for one application.
type Findings struct {
	Passed   bool     `json:"passed"`
	Problems []string `json:"problems,omitempty"`
}

func (f Findings) String() string {
	if f.Passed {
		return "all underwriting rules passed"
	}
	return strings.Join(f.Problems, "; ")
}

// check runs the rules: blocked credit codes and the maximum bond in
// force per bidder.
func (s *Service) checkRules(ctx context.Context, q store.Querier, a *Application) (Findings, error) {
	var f Findings
	if s.chk.blocked[strings.ToUpper(a.BidderCode)] {
		f.Problems = append(f.Problems, fmt.Sprintf("biddercode %s is blocked", a.BidderCode))
	}
	if !s.chk.maxBond.IsZero() {
		bond, err := decimal.NewFromString(a.Bond)
		if err != nil {
			return f, fmt.Errorf("bond of %s: %w", a.ApplyNo, err)
		}
		total := bond
		others, err := s.repo.bondInForce(ctx, q, a.BidderCode, a.ID)
		if err != nil {
			return f, err
		}
		for _, o := range others {
			if d, err := decimal.NewFromString(o); err == nil {
				total = total.Add(d)
			}
		}
		if total.GreaterThan(s.chk.maxBond) {
			f.Problems = append(f.Problems, fmt.Sprintf("the bidder's bonds in force would total %s, above the maximum of %s",
				total.StringFixed(2), s.chk.maxBond.StringFixed(2)))
		}
	}
	f.Passed = len(f.Problems) == 0
	return f, nil
}

// underwrite decides a paid application: by rule in auto mode, or by
// queueing it for a person in manual mode.
func (s *Service) underwrite(ctx context.Context, appID string) error {
	a, err := s.repo.applicationByID(ctx, s.db, appID)
	if err != nil {
		return err
	}
	if a.State != Paid {
		return nil
	}
	f, err := s.checkRules(ctx, s.db, a)
	if err != nil {
		return err
	}
	if s.cfg.Underwrite.Mode == ModeManual {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			a, err := s.repo.applicationByID(ctx, tx, appID)
			if err != nil {
				return err
			}
			if a.State != Paid {
				return nil
			}
			a.Decision = f.String()
			return s.move(ctx, tx, a, Reviewing, "underwriting", "rules", f.String())
		})
	}
	if f.Passed {
		_, err = s.approve(ctx, appID, "rules", f.String(), Paid)
	} else {
		_, err = s.reject(ctx, appID, "rules", f.String(), Paid)
	}
	return err
}

// Approve approves an application waiting for review; actor is the
// person (recorded in the history).
func (s *Service) Approve(ctx context.Context, appID, actor string) (*Application, error) {
	if actor == "" {
		return nil, baohan.Refusef("approve: who approves is required")
	}
	return s.approve(ctx, appID, "person:"+actor, "approved by "+actor, Reviewing)
}

// Reject rejects an application waiting for review with a reason.
func (s *Service) Reject(ctx context.Context, appID, actor, reason string) (*Application, error) {
	if actor == "" {
		return nil, baohan.Refusef("reject: who rejects is required")
	}
	if strings.TrimSpace(reason) == "" {
		return nil, baohan.Refusef("reject: a reason is required")
	}
	return s.reject(ctx, appID, "person:"+actor, reason, Reviewing)
}

// assignBaohanNo gives the application its guarantee number, once: the
// prefix, the date (UTC+8) and a daily sequence of six digits.
func (s *Service) assignBaohanNo(ctx context.Context, tx *sql.Tx, a *Application) error {
	if a.BaohanNo != "" {
		return nil
	}
	day := s.now().In(protocol.CST).Format("20060102")
	n, err := s.repo.nextSequence(ctx, tx, "baohanno/"+day)
	if err != nil {
		return err
	}
	a.BaohanNo = fmt.Sprintf("%s%s%06d", s.baohanNoPrefix(), day, n)
	return nil
}

func (s *Service) baohanNoPrefix() string {
	if s.cfg.Institution.Prefix != "" {
		return s.cfg.Institution.Prefix
	}
	return "BH"
}

// approve: number the guarantee, seal the ciphertext guarantee (outside
// any transaction), then in one transaction move to approved, enqueue
// baohannotice (applystatus 1) and start the upload.
//
// It returns the application as the approval left it, read in the
// approval's transaction: after the commit the upload may already have
// moved it on.
func (s *Service) approve(ctx context.Context, appID, actor, detail string, from State) (*Application, error) {
	var a, out *Application
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		a, err = s.repo.applicationByID(ctx, tx, appID)
		if err != nil {
			return err
		}
		if a.State != from {
			return checkMove(a.ApplyNo, a.State, Approved, "approval")
		}
		if err := s.pendingGiveup(ctx, tx, a); err != nil {
			return err
		}
		if a.BaohanNo != "" {
			return nil
		}
		if err := s.assignBaohanNo(ctx, tx, a); err != nil {
			return err
		}
		return s.touch(ctx, tx, a, "numbered", actor, "guarantee number "+a.BaohanNo)
	})
	if err != nil {
		return nil, err
	}
	generated := s.now()
	in, err := s.documentInput(a, generated)
	if err != nil {
		return nil, err
	}
	in.Project, err = a.cipherProject()
	if err != nil {
		return nil, err
	}
	agreement, err := s.blobs.Get(ctx, agreementKey(a, true))
	if err != nil {
		return nil, fmt.Errorf("signed agreement of %s: %w", a.ApplyNo, err)
	}
	doc, err := s.docs.CipherGuarantee(ctx, in, agreement)
	if err != nil {
		return nil, fmt.Errorf("sealing the ciphertext guarantee of %s: %w", a.ApplyNo, err)
	}
	if err := s.blobs.Put(ctx, ofdBlobKey(a, 1), doc); err != nil {
		return nil, err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		a, err := s.repo.applicationByID(ctx, tx, appID)
		if err != nil {
			return err
		}
		if a.State != from {
			return checkMove(a.ApplyNo, a.State, Approved, "approval")
		}
		if err := s.pendingGiveup(ctx, tx, a); err != nil {
			return err
		}
		a.GenerateTime = protocol.FormatTime(generated)
		a.Decision, a.DecidedBy = detail, actor
		if err := s.move(ctx, tx, a, Approved, "approval", actor, detail); err != nil {
			return err
		}
		if !s.uploadFirst(a) { // else the notice follows the upload (onComplete)
			if err := s.enqueueBaohanNotice(ctx, tx, a, protocol.StatusApproved); err != nil {
				return err
			}
		}
		f := &File{ApplicationID: a.ID, FileType: 1, Stage: StageSealed, Size: int64(len(doc)), ofdBlob: ofdBlobKey(a, 1)}
		if err := s.repo.insertFile(ctx, tx, f, store.Micros(s.now())); err != nil {
			return err
		}
		if err := s.startUpload(ctx, tx, a, f); err != nil {
			return err
		}
		out, err = s.repo.applicationByID(ctx, tx, appID)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.logger.InfoContext(ctx, "application approved", slog.String("applyno", a.ApplyNo), slog.String("baohanno", a.BaohanNo), slog.String("by", actor))
	return out, nil
}

// reject: move to rejected and enqueue baohannotice with applystatus 0;
// it returns the application as rejected (read in the same transaction).
func (s *Service) reject(ctx context.Context, appID, actor, reason string, from State) (*Application, error) {
	var out *Application
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		a, err := s.repo.applicationByID(ctx, tx, appID)
		if err != nil {
			return err
		}
		if a.State != from {
			return checkMove(a.ApplyNo, a.State, Rejected, "rejection")
		}
		if err := s.assignBaohanNo(ctx, tx, a); err != nil {
			return err
		}
		a.GenerateTime = protocol.FormatTime(s.now())
		a.Decision, a.DecidedBy = reason, actor
		if err := s.move(ctx, tx, a, Rejected, "rejection", actor, reason); err != nil {
			return err
		}
		if err := s.enqueueBaohanNotice(ctx, tx, a, protocol.StatusRefused); err != nil {
			return err
		}
		out, err = s.repo.applicationByID(ctx, tx, appID)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.logger.InfoContext(ctx, "application rejected", slog.String("applyno", out.ApplyNo), slog.String("by", actor))
	return out, nil
}

// uploadFirst reports whether a's platform wants the ciphertext
// guarantee before the success notice (upload_first).
func (s *Service) uploadFirst(a *Application) bool {
	pp, err := s.peers.named(a.Peer)
	return err == nil && pp.peer.Profile.UploadFirst
}

// enqueueBaohanNotice tells the platform the underwriting result.
func (s *Service) enqueueBaohanNotice(ctx context.Context, tx *sql.Tx, a *Application, status string) error {
	pp, err := s.peers.named(a.Peer)
	if err != nil {
		return err
	}
	fields := map[string]string{
		"applyno": a.ApplyNo, "baohanno": a.BaohanNo, "instname": s.cfg.Institution.Name,
		"generatetime": a.GenerateTime, "rate": a.Rate, "cost": a.Premium, "applystatus": status,
	}
	if pp.cfg.BasicAccount {
		fields["payername"], fields["payeraccount"] = a.PayerName, a.PayerAccount
	}
	return s.enqueue(ctx, tx, a, protocol.BaohanNotice, fmt.Sprintf("%s/%s/baohannotice", a.Peer, a.ApplyNo), fields)
}

// documentInput is the common part of the agreement and the guarantees.
func (s *Service) documentInput(a *Application, generated time.Time) (DocumentInput, error) {
	p, ok := s.chk.productByName(a.Product)
	if !ok {
		return DocumentInput{}, fmt.Errorf("product %q of %s is no longer configured", a.Product, a.ApplyNo)
	}
	return DocumentInput{
		ApplyNo: a.ApplyNo, BaohanNo: a.BaohanNo, BidderName: a.BidderName, BidderCode: a.BidderCode,
		Bond: a.Bond, Premium: a.Premium, Rate: a.Rate, Product: a.Product, Terms: p.Terms,
		Institution: s.cfg.Institution, GenerateTime: generated,
	}, nil
}

// cipherProject is the project fields as received (ciphertext).
func (a *Application) cipherProject() (Project, error) {
	var p Project
	if a.projectCipher == "" {
		return p, errors.New("application " + a.ApplyNo + " was not opened: no applydata")
	}
	err := json.Unmarshal([]byte(a.projectCipher), &p)
	return p, err
}
