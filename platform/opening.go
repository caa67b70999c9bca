package platform

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

// Moving a section's bid opening (开标时间). The opening is when the
// project keys go out (baohanrestore), so an opening moved earlier
// releases them earlier than the bidders and the institutions were told.
// Two actions, then:
//
//   - Postpone moves the opening later, and only later: an operator's
//     action (the console's 延期, POST /api/sections/{no}/postpone).
//   - AdvanceOpening brings it forward: an administrator's action that
//     needs a reason (the console's 提前开标 for the admin role only,
//     POST /api/sections/{no}/advance).
//
// Both refuse a time not in the future, an opening that has come and a
// section whose project key is out, and both record the move, with who,
// from, to and why, in the section's history (SectionHistory) and in the
// history of every application of the section still waiting for the
// opening. Every ciphertext guarantee of the section gets a restore
// scheduled for the new time; the restores scheduled before find the
// opening moved when they fall due and stand down (restore.go).

// SectionEvent is one entry of a section's history: a move of its bid
// opening.
type SectionEvent struct {
	Seq    int64     `json:"seq"`
	At     time.Time `json:"at"`
	Event  Event     `json:"event"` // kaibiao_postponed or kaibiao_advanced
	Actor  string    `json:"actor"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Reason string    `json:"reason,omitempty"`
	// Applications is how many applications of the section waiting for
	// the opening moved with it.
	Applications int `json:"applications"`
}

// Postpone moves the section's bid opening later. An earlier time is
// refused: bringing an opening forward is AdvanceOpening's.
func (s *Service) Postpone(ctx context.Context, sectionNo string, to time.Time, reason string) (*Section, error) {
	return s.moveOpening(ctx, sectionNo, to, strings.TrimSpace(reason), EvPostponed)
}

// AdvanceOpening brings the section's bid opening forward, for an
// administrator, with a reason (required; recorded). A later time is
// refused: that is Postpone's.
func (s *Service) AdvanceOpening(ctx context.Context, sectionNo string, to time.Time, reason string) (*Section, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, inputErr("reason", "bringing the bid opening of section %s forward needs a reason: it releases the project keys earlier than announced, and the reason is kept in the section's history", sectionNo)
	}
	return s.moveOpening(ctx, sectionNo, to, reason, EvAdvanced)
}

func (s *Service) moveOpening(ctx context.Context, sectionNo string, to time.Time, reason string, ev Event) (*Section, error) {
	now := s.now()
	if to.IsZero() {
		return nil, inputErr("kaibiaotime", "the new bid opening is required")
	}
	if !to.After(now) {
		return nil, inputErr("kaibiaotime", "the new bid opening %s is not in the future", protocol.FormatTime(to))
	}
	later := ev == EvPostponed
	var from time.Time
	var moved []string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		moved = moved[:0]
		sec, err := s.sectionQ(ctx, tx, sectionNo)
		if err != nil {
			return err
		}
		from = sec.KaibiaoTime
		switch {
		case !sec.KeyReleasedAt.IsZero():
			return inputErr("kaibiaotime", "section %s: the project key was released at %s; the opening cannot be moved", sectionNo, protocol.FormatTime(sec.KeyReleasedAt))
		case !now.Before(from):
			return inputErr("kaibiaotime", "section %s opened at %s; the opening cannot be moved any more", sectionNo, protocol.FormatTime(from))
		case to.Equal(from):
			return inputErr("kaibiaotime", "the bid opening of section %s is already %s", sectionNo, protocol.FormatTime(to))
		case later && to.Before(from):
			return inputErr("kaibiaotime", "postponing moves the bid opening of section %s later only: %s is before the current opening %s. "+
				"An opening brought forward releases the project keys earlier than announced: that is a separate action for an administrator, "+
				"with a reason (提前开标; POST /api/sections/%s/advance)",
				sectionNo, protocol.FormatTime(to), protocol.FormatTime(from), sectionNo)
		case !later && to.After(from):
			return inputErr("kaibiaotime", "bringing the bid opening of section %s forward: %s is after the current opening %s; postpone it instead",
				sectionNo, protocol.FormatTime(to), protocol.FormatTime(from))
		}
		// The opening as read, not passed, the key not out: a move or a
		// release since the read (another replica, another click) makes
		// this update miss and the move is refused.
		res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE plat_sections SET kaibiao_at = ?, updated_at = ?
			WHERE section_no = ? AND key_released_at = 0 AND kaibiao_at = ? AND kaibiao_at > ?`),
			store.Micros(to), store.Micros(now), sectionNo, store.Micros(from), store.Micros(now))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return inputErr("kaibiaotime", "the bid opening of section %s changed meanwhile (it was %s); look at it again", sectionNo, protocol.FormatTime(from))
		}
		rows, err := tx.QueryContext(ctx, s.db.Rebind(`SELECT applyno FROM plat_applications WHERE section_no = ? AND state IN (?, ?, ?, ?) ORDER BY applyno`),
			sectionNo, string(Applied), string(Approved), string(CipherReceived), string(QuitRequested))
		if err != nil {
			return err
		}
		var nos []string
		for rows.Next() {
			var no string
			if err := rows.Scan(&no); err != nil {
				rows.Close()
				return err
			}
			nos = append(nos, no)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		detail := map[string]string{"from": protocol.FormatTime(from), "to": protocol.FormatTime(to), "reason": reason}
		for _, no := range nos {
			a, err := s.loadApplication(ctx, tx, no, true)
			if err != nil {
				return err
			}
			if err := s.move(ctx, tx, a, ev, ActorAdmin, detail, nil); err != nil {
				return err
			}
			if a.State == CipherReceived {
				if err := s.scheduleRestore(ctx, tx, a, ""); err != nil {
					return err
				}
			}
			moved = append(moved, no)
		}
		_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO plat_section_events
			(section_no, seq, at, event, actor, from_at, to_at, reason, applications)
			VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM plat_section_events WHERE section_no = ?), ?, ?, ?, ?, ?, ?, ?)`),
			sectionNo, sectionNo, store.Micros(now), string(ev), ActorAdmin, store.Micros(from), store.Micros(to), reason, len(moved))
		return err
	})
	if err != nil {
		return nil, err
	}
	if later {
		s.log.Info("bid opening postponed", "section", sectionNo, "from", protocol.FormatTime(from), "to", protocol.FormatTime(to), "applications", len(moved))
	} else {
		s.log.Warn("bid opening brought forward", "section", sectionNo, "from", protocol.FormatTime(from), "to", protocol.FormatTime(to),
			"reason", reason, "applications", len(moved))
	}
	return s.Section(ctx, sectionNo)
}

// SectionHistory lists the moves of the section's bid opening, oldest
// first.
func (s *Service) SectionHistory(ctx context.Context, sectionNo string) ([]SectionEvent, error) {
	if _, err := s.Section(ctx, sectionNo); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT seq, at, event, actor, from_at, to_at, reason, applications
		FROM plat_section_events WHERE section_no = ? ORDER BY seq`), sectionNo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []SectionEvent{}
	for rows.Next() {
		var e SectionEvent
		var at, fr, to int64
		var ev string
		if err := rows.Scan(&e.Seq, &at, &ev, &e.Actor, &fr, &to, &e.Reason, &e.Applications); err != nil {
			return nil, err
		}
		e.At, e.Event, e.From, e.To = store.FromMicros(at), Event(ev), store.FromMicros(fr), store.FromMicros(to)
		out = append(out, e)
	}
	return out, rows.Err()
}
