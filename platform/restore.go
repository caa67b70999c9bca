package platform

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
	"github.com/baohan-dev/baohan/transport"
)

// The bid-opening scheduler is the outbox itself: when a ciphertext
// guarantee arrives, a baohanrestore is enqueued due at the section's
// kaibiaotime, so it survives restarts and is sent by exactly one replica.
// A postponement enqueues new ones (new dedupe keys) for the new time; a
// scheduled restore whose opening is no longer the section's stands down
// when it falls due, and every restore checks the section's current
// opening against the clock (releaseProjectKey), so a postponed opening
// never releases the key early.
//
// The key is put on the wire in one place only, restoreFields, and only
// after releaseProjectKey agreed; the outbox row holds no key.

// restoreKeyPrefix starts the dedupe keys of restores; "now" restores are
// RestoreNow's and may go to an application already restored.
const restoreKeyPrefix = "baohanrestore:"

// scheduleRestore enqueues a baohanrestore for the application, due at the
// section's current opening (or at once when it has passed). when is ""
// for the scheduled restore, "now" for RestoreNow.
func (s *Service) scheduleRestore(ctx context.Context, tx *sql.Tx, a *Application, when string) error {
	if _, ok := s.peers[a.Institution]; !ok {
		return fmt.Errorf("institution %s of applyno %s is not configured", a.Institution, a.ApplyNo)
	}
	due := a.KaibiaoTime
	key := fmt.Sprintf("%s%s:%d:%d", restoreKeyPrefix, a.ApplyNo, store.Micros(a.KaibiaoTime), a.Version)
	// The restores of one application for one opening go out one after
	// the other (a second one then finds the first done and stands down),
	// in a group of their own: due in the future, they must not hold the
	// application's other calls back, nor those for another opening. A
	// RestoreNow is alone in its group: a restore given up (dead) must
	// not hold it back.
	group := fmt.Sprintf("restore:%s:%d", a.ApplyNo, store.Micros(a.KaibiaoTime))
	if when == "now" {
		due = s.now()
		key = fmt.Sprintf("%snow:%s:%d", restoreKeyPrefix, a.ApplyNo, a.Version)
		group = ""
	}
	_, err := s.disp.Enqueue(ctx, tx, store.OutMessage{
		Peer:      a.Institution,
		Interface: string(protocol.BaohanRestore),
		ApplyNo:   a.ApplyNo,
		Group:     group,
		DedupeKey: key,
		Fields:    map[string]string{"applyno": a.ApplyNo},
	}, due)
	return err
}

// scheduledFor is the opening a scheduled restore was made for (from its
// dedupe key), or zero for a RestoreNow.
func scheduledFor(m *store.OutMessage) (int64, bool) {
	rest, ok := strings.CutPrefix(m.DedupeKey, restoreKeyPrefix+m.ApplyNo+":")
	if !ok {
		return 0, false
	}
	at, _, ok := strings.Cut(rest, ":")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(at, 10, 64)
	return v, err == nil
}

// restoreSkip is a scheduled restore that stands down; the reason is
// recorded in the history.
type restoreSkip struct{ reason string }

func (e *restoreSkip) Error() string { return e.reason }

// restoreFields builds the baohanrestore request for the message, or a
// *restoreSkip when it is no longer due (the application moved on, the
// opening was postponed). It is the only code that puts a project key on
// the wire, and it does so only when releaseProjectKey has checked the
// section's current opening against the clock.
func (s *Service) restoreFields(ctx context.Context, m *store.OutMessage) (map[string]string, error) {
	now := strings.HasPrefix(m.DedupeKey, restoreKeyPrefix+"now:")
	at, scheduled := scheduledFor(m)
	scheduled = scheduled && !now
	if scheduled {
		if f, ok, err := s.restoreFieldsDue(ctx, m.ApplyNo, at); ok || err != nil {
			return f, err
		}
	}
	a, err := s.Application(ctx, m.ApplyNo)
	if err != nil {
		return nil, err
	}
	if scheduled && at != store.Micros(a.KaibiaoTime) {
		return nil, &restoreSkip{fmt.Sprintf("the bid opening of section %s moved from %s to %s; the restore scheduled for it carries the key",
			a.SectionNo, protocol.FormatTime(store.FromMicros(at)), protocol.FormatTime(a.KaibiaoTime))}
	}
	switch {
	case a.State == CipherReceived:
	case a.State == Restored && now:
	default:
		return nil, &restoreSkip{fmt.Sprintf("applyno %s is %s (%s); no restore is due", a.ApplyNo, a.State, a.State.Label())}
	}
	peer, ok := s.peers[a.Institution]
	if !ok {
		return nil, fmt.Errorf("institution %s is not configured", a.Institution)
	}
	key, kbt, err := s.releaseProjectKey(ctx, a.SectionNo, a.ApplyNo)
	if errors.Is(err, ErrKeyNotDue) {
		return nil, &restoreSkip{fmt.Sprintf("the bid opening of section %s is at %s; the restore scheduled for it carries the key",
			a.SectionNo, protocol.FormatTime(kbt))}
	}
	if err != nil {
		return nil, err
	}
	defer clear(key)
	return restoreRequest(peer, a.ApplyNo, a.BaohanNo, kbt, key), nil
}

// restoreFieldsDue is restoreFields for a restore scheduled for the
// opening at (micros) when everything is as it should be at an opening:
// the application holds its ciphertext guarantee, and its section's key
// is out for that very opening, which has come. Then one statement marks
// the application's key released and reads what the request needs, where
// restoreFields reads the application and then releases the key (two
// statements, the second grouped with the other deliveries'); every
// restore of an opening but the section's first takes it. ok is false
// when anything is otherwise, with nothing done: restoreFields then
// looks at the application and says why.
func (s *Service) restoreFieldsDue(ctx context.Context, applyNo string, at int64) (f map[string]string, ok bool, err error) {
	now := s.now()
	// Grouped like releaseProjectKey, and likewise not cancelled mid-way.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var out keyOut
	err = s.db.InTxGrouped(ctx, func(tx *sql.Tx) error {
		var err error
		out, ok, err = s.releaseOut(ctx, tx, now, applyNo, at, `state = ?`, string(CipherReceived))
		return err
	})
	if err != nil || !ok {
		return nil, false, err
	}
	peer, known := s.peers[out.institution]
	if !known {
		return nil, true, fmt.Errorf("institution %s is not configured", out.institution)
	}
	key, err := s.openApplicationKey(applyNo, out.own, out.sectionNo, out.legacy)
	if err != nil {
		return nil, true, err
	}
	defer clear(key)
	return restoreRequest(peer, applyNo, out.baohanNo, out.kbt, key), true, nil
}

// restoreRequest is the fields of a baohanrestore to peer.
func restoreRequest(peer *transport.Peer, applyNo, baohanNo string, kbt time.Time, key []byte) map[string]string {
	f := map[string]string{
		"platformcode": peer.PlatformCode,
		"applyno":      applyNo,
		"baohanno":     baohanNo,
		"kaibiaotime":  protocol.FormatTime(kbt),
		"key":          peer.Profile.Encoding.Encode(key),
	}
	if peer.Profile.Revision.Flat() {
		// No platformcode; the deposit deadline in the clear (the bid
		// opening, as it stands now: it wins over the one of baohanapply).
		delete(f, "platformcode")
		f["bzjenddate"] = protocol.FormatTime(kbt)
	}
	return f
}

// RestoreSectionNow sends baohanrestore at once for every application of
// the section that holds a ciphertext guarantee (after the opening only).
// It returns the applynos.
func (s *Service) RestoreSectionNow(ctx context.Context, sectionNo string) ([]string, error) {
	apps, err := s.Applications(ctx, ApplicationFilter{SectionNo: sectionNo, State: CipherReceived, Limit: 1000})
	if err != nil {
		return nil, err
	}
	var out []string
	var errs []error
	for _, a := range apps {
		if _, err := s.RestoreNow(ctx, a.ApplyNo); err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, a.ApplyNo)
	}
	return out, errors.Join(errs...)
}
