package harness

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/baohan-dev/baohan/store"
)

// The history of an application that went the whole happy path, once:
// every transition exactly once, in order.
var (
	PlatformHappyEvents    = []string{"apply", "apply_accepted", "approved", "public_key_issued", "cipher_received", "restored", "plain_received"}
	InstitutionHappyEvents = []string{"baohanapply", "open", "sign", "pay", "numbered", "approval", "publickey", "baohanfilecompletenotice", "baohanrestore", "baohanfilecompletenotice"}
)

// PlatformEvents returns the platform's history of applyNo (event names,
// in order), without the notes that do not move the state (a refusal
// recorded, say) unless they are part of the happy path.
func PlatformEvents(ctx context.Context, db *store.DB, applyNo string) ([]string, error) {
	return events(ctx, db, PlatformHappyEvents, `SELECT event, from_state, to_state FROM plat_application_events WHERE applyno = ? ORDER BY seq`, applyNo)
}

// InstitutionEvents returns the institution's history of applyNo, likewise.
func InstitutionEvents(ctx context.Context, db *store.DB, applyNo string) ([]string, error) {
	return events(ctx, db, InstitutionHappyEvents, `SELECT e.event, e.from_state, e.to_state FROM inst_events e
		JOIN inst_applications a ON a.id = e.application_id WHERE a.applyno = ? ORDER BY e.at, e.id`, applyNo)
}

func events(ctx context.Context, db *store.DB, happy []string, q string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, db.Rebind(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var ev, from, to string
		if err := rows.Scan(&ev, &from, &to); err != nil {
			return nil, err
		}
		if from == to && from != "" && !slices.Contains(happy, ev) {
			continue // a note: it moved nothing
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}

// CheckHappyHistory says how the histories of applyNo differ from one
// pass of the happy path ("" when they are exactly that): a lost
// transition is missing, a doubled one appears twice.
func CheckHappyHistory(ctx context.Context, plat, inst *store.DB, applyNo string) string {
	var msgs []string
	pe, err := PlatformEvents(ctx, plat, applyNo)
	if err != nil {
		return err.Error()
	}
	if !slices.Equal(pe, PlatformHappyEvents) {
		msgs = append(msgs, fmt.Sprintf("platform history %v, want %v", pe, PlatformHappyEvents))
	}
	ie, err := InstitutionEvents(ctx, inst, applyNo)
	if err != nil {
		return err.Error()
	}
	if !slices.Equal(ie, InstitutionHappyEvents) {
		msgs = append(msgs, fmt.Sprintf("institution history %v, want %v", ie, InstitutionHappyEvents))
	}
	return strings.Join(msgs, "; ")
}

// CheckGuarantees compares the guarantee files of applyNo on both sides:
// the platform assembled and verified both (seals ok) from exactly the
// chunks the institution cut, of the size it sealed; no chunk is left.
func CheckGuarantees(ctx context.Context, plat, inst *store.DB, applyNo string) string {
	var msgs []string
	for _, ft := range []int{1, 2} {
		var psize, pchunks, seals int64
		err := plat.QueryRowContext(ctx, plat.Rebind(`SELECT size, chunks, seals_ok FROM plat_guarantees WHERE applyno = ? AND filetype = ?`),
			applyNo, ft).Scan(&psize, &pchunks, &seals)
		if err != nil {
			msgs = append(msgs, fmt.Sprintf("filetype %d: the platform has no guarantee: %v", ft, err))
			continue
		}
		var isize, ichunks int64
		var stage string
		err = inst.QueryRowContext(ctx, inst.Rebind(`SELECT f.size, f.chunks, f.stage FROM inst_files f JOIN inst_applications a
			ON a.id = f.application_id WHERE a.applyno = ? AND f.filetype = ?`), applyNo, ft).Scan(&isize, &ichunks, &stage)
		if err != nil {
			msgs = append(msgs, fmt.Sprintf("filetype %d: the institution has no file: %v", ft, err))
			continue
		}
		if psize != isize || pchunks != ichunks || seals != 1 || stage != "complete" {
			msgs = append(msgs, fmt.Sprintf("filetype %d: platform %d bytes in %d chunks (seals ok %d), institution %d bytes in %d chunks (%s)",
				ft, psize, pchunks, seals, isize, ichunks, stage))
		}
	}
	var left int
	if err := plat.QueryRowContext(ctx, plat.Rebind(`SELECT COUNT(*) FROM plat_chunks WHERE applyno = ?`), applyNo).Scan(&left); err == nil && left > 0 {
		msgs = append(msgs, fmt.Sprintf("%d chunks left unassembled on the platform", left))
	}
	return strings.Join(msgs, "; ")
}

// OutboxProblems lists dead messages and messages still not delivered.
func OutboxProblems(ctx context.Context, db *store.DB, side string) string {
	rows, err := db.QueryContext(ctx, `SELECT id, interface, applyno, state, attempts, last_error FROM outbox WHERE state <> 'done' ORDER BY id`)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var id, attempts int64
		var iface, applyNo, state, lastErr string
		rows.Scan(&id, &iface, &applyNo, &state, &attempts, &lastErr)
		msgs = append(msgs, fmt.Sprintf("%s outbox %d %s %s: %s after %d attempts (%.120s)", side, id, iface, applyNo, state, attempts, lastErr))
	}
	return strings.Join(msgs, "; ")
}

// ChainProblem verifies the message log's hash chain ("" when intact).
func ChainProblem(ctx context.Context, db *store.DB, side string) string {
	brk, err := store.NewMessageLog(db).VerifyChain(ctx)
	if err != nil {
		return side + ": " + err.Error()
	}
	if brk != nil {
		return side + ": " + brk.Error()
	}
	return ""
}

// CheckAll runs every end-of-flow check on applyNo.
func (s *System) CheckAll(applyNo string) []string {
	ctx := context.Background()
	var out []string
	for _, m := range []string{
		s.Compare(applyNo),
		CheckHappyHistory(ctx, s.Plat.DB(), s.Inst.DB(), applyNo),
		CheckGuarantees(ctx, s.Plat.DB(), s.Inst.DB(), applyNo),
		OutboxProblems(ctx, s.Plat.DB(), "platform"),
		OutboxProblems(ctx, s.Inst.DB(), "institution"),
		ChainProblem(ctx, s.Plat.DB(), "platform"),
		ChainProblem(ctx, s.Inst.DB(), "institution"),
	} {
		if m != "" {
			out = append(out, m)
		}
	}
	return out
}
