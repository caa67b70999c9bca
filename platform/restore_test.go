package platform

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

// projectKeyB64 reads the application's project key the way only the
// tests may, to look for it where it must not be.
func (e *env) projectKeyB64(applyNo string) string {
	e.t.Helper()
	k, err := e.svc.applicationKey(e.ctx, e.svc.db, applyNo)
	if err != nil {
		e.t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k)
}

// keyLeaked reports whether the key appears in the outbox or the message
// log.
func (e *env) keyLeaked(key string) bool {
	e.t.Helper()
	ms, err := e.svc.db.OutboxList(e.ctx, store.OutboxFilter{Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, m := range ms {
		for _, v := range m.Fields {
			if strings.Contains(v, key) {
				return true
			}
		}
	}
	rows, err := e.svc.MessageLog().List(e.ctx, store.LogFilter{Limit: 1000, WithBodies: true})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, r := range rows {
		if strings.Contains(string(r.Request), key) || strings.Contains(string(r.Response), key) {
			return true
		}
	}
	return false
}

// TestRestoreAtOpening: nothing before the kaibiaotime (the clock is
// injected), every ciphertext guarantee of the section restored at it.
func TestRestoreAtOpening(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		sec := e.section(3 * time.Hour)
		a, _ := e.withCipher(sec)
		e.bidder(e.pki.bidder2)
		b, err := e.svc.Apply(e.ctx, ApplyInput{SectionNo: sec.No, BidderCode: e.pki.bidder2.CreditCode, Institution: "bank", Product: "投标保函"})
		if err != nil {
			t.Fatal(err)
		}
		e.settle()
		wantOK(t, "notice", e.send(protocol.BaohanNotice, e.noticeFields(b.ApplyNo, "BHNO-B", "1")))
		wantOK(t, "cipher", e.sendGuarantee(b.ApplyNo, "BHNO-B", "1", guaranteeOFD(t, e.pki, gdoc{applyNo: b.ApplyNo, baohanNo: "BHNO-B", bidder: e.pki.bidder2}), plainUpload()))
		keys := map[string]string{a.ApplyNo: e.projectKeyB64(a.ApplyNo), b.ApplyNo: e.projectKeyB64(b.ApplyNo)}
		if keys[a.ApplyNo] == keys[b.ApplyNo] {
			t.Fatal("two applications of one section share a project key")
		}

		e.clock.Set(sec.KaibiaoTime.Add(-time.Second))
		e.settle()
		if n := len(e.inst.received(protocol.BaohanRestore, "")); n != 0 {
			t.Fatalf("%d restores a second before the opening", n)
		}
		for _, key := range keys {
			if e.keyLeaked(key) {
				t.Fatal("a project key is in the outbox or the message log before the opening")
			}
		}
		if _, err := e.svc.RestoreNow(e.ctx, a.ApplyNo); err == nil || !strings.Contains(err.Error(), "only after the bid opening at "+protocol.FormatTime(sec.KaibiaoTime)) {
			t.Fatalf("RestoreNow before the opening: %v", err)
		}

		e.clock.Set(sec.KaibiaoTime)
		e.eventually("both restores", func() bool {
			return e.app(a.ApplyNo).State == Restored && e.app(b.ApplyNo).State == Restored
		})
		for _, no := range []string{a.ApplyNo, b.ApplyNo} {
			rs := e.inst.received(protocol.BaohanRestore, no)
			if len(rs) != 1 || rs[0].Fields["key"] != keys[no] || rs[0].Fields["kaibiaotime"] != protocol.FormatTime(sec.KaibiaoTime) {
				t.Fatalf("restores of %s: %v", no, rs)
			}
		}
		s2, _ := e.svc.Section(e.ctx, sec.No)
		if s2.KeyReleasedAt.IsZero() {
			t.Error("key release not recorded")
		}
		// The admin views hide the key.
		rows, _ := e.svc.MessageLog().List(e.ctx, store.LogFilter{Interface: "baohanrestore", Limit: 1})
		_, body := e.admin("GET", fmt.Sprintf("/api/messages/%d", rows[0].ID), nil)
		if strings.Contains(string(body), keys[rows[0].ApplyNo]) || !strings.Contains(string(body), `\"key\":\"(hidden)\"`) {
			t.Errorf("message log view: %s", body)
		}

		// Sent again on demand.
		if _, err := e.svc.RestoreNow(e.ctx, a.ApplyNo); err != nil {
			t.Fatal(err)
		}
		e.settle()
		if n := len(e.inst.received(protocol.BaohanRestore, a.ApplyNo)); n != 2 {
			t.Fatalf("%d restores after RestoreNow, want 2", n)
		}
	})
}

// TestProjectKeyNeverLeavesEarly calls the restore path directly before
// the opening: it refuses, and the institution gets nothing.
func TestProjectKeyNeverLeavesEarly(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		sec := e.section(time.Hour)
		a, _ := e.withCipher(sec)
		if _, _, err := e.svc.releaseProjectKey(e.ctx, sec.No, a.ApplyNo); !errors.Is(err, ErrKeyNotDue) {
			t.Fatalf("releaseProjectKey before the opening: %v", err)
		}
		ms, err := e.svc.db.OutboxList(e.ctx, store.OutboxFilter{ApplyNo: a.ApplyNo, Interface: "baohanrestore"})
		if err != nil || len(ms) != 1 {
			t.Fatalf("scheduled restores: %v %v", ms, err)
		}
		if _, ok := ms[0].Fields["key"]; ok || !ms[0].NextAttemptAt.Equal(sec.KaibiaoTime.UTC()) {
			t.Fatalf("scheduled restore %+v", ms[0])
		}
		// Deliver it by hand, as a dispatcher with a wrong idea of "due" would.
		out, err := e.svc.deliver(e.ctx, &ms[0])
		if err != nil || out.Kind != store.OutcomeDone || out.Response != "" || !strings.Contains(out.Reason, "the bid opening of section "+sec.No+" is at ") {
			t.Fatalf("early delivery: %+v, %v", out, err)
		}
		if n := len(e.inst.received(protocol.BaohanRestore, "")); n != 0 {
			t.Fatal("the key was sent before the opening")
		}
		if s, _ := e.svc.Section(e.ctx, sec.No); !s.KeyReleasedAt.IsZero() {
			t.Fatal("key marked released")
		}
		if e.keyLeaked(e.projectKeyB64(a.ApplyNo)) {
			t.Fatal("key leaked")
		}
		// The key is the application's, sealed at rest; the section has none.
		var sealed, sectionKey string
		e.svc.db.QueryRowContext(e.ctx, e.svc.db.Rebind("SELECT key_sealed FROM plat_applications WHERE applyno = ?"), a.ApplyNo).Scan(&sealed)
		if !strings.HasPrefix(sealed, "v1:") || strings.Contains(sealed, e.projectKeyB64(a.ApplyNo)) {
			t.Fatal("project key not sealed")
		}
		if err := e.svc.db.QueryRowContext(e.ctx, e.svc.db.Rebind("SELECT key_sealed FROM plat_sections WHERE section_no = ?"), sec.No).Scan(&sectionKey); err != nil || sectionKey != "" {
			t.Fatalf("section key %q, %v; want none", sectionKey, err)
		}
	})
}

// TestPostponeMovesRestore: after a postponement nothing happens at the
// old opening; the restore goes out at the new one, once.
func TestPostponeMovesRestore(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		sec := e.section(2 * time.Hour)
		a, _ := e.withCipher(sec)
		newTime := sec.KaibiaoTime.Add(24 * time.Hour)
		if _, err := e.svc.Postpone(e.ctx, sec.No, e.clock.Now().Add(-time.Minute), "x"); err == nil {
			t.Fatal("postponed into the past")
		}
		if _, err := e.svc.Postpone(e.ctx, sec.No, sec.KaibiaoTime, "x"); err == nil {
			t.Fatal("postponed to the same time")
		}
		s2, err := e.svc.Postpone(e.ctx, sec.No, newTime, "开标延期")
		if err != nil {
			t.Fatal(err)
		}
		if !s2.KaibiaoTime.Equal(newTime) || !e.app(a.ApplyNo).KaibiaoTime.Equal(newTime) {
			t.Fatalf("section %v, application %v", s2.KaibiaoTime, e.app(a.ApplyNo).KaibiaoTime)
		}
		e.clock.Set(sec.KaibiaoTime.Add(time.Minute))
		e.settle()
		if n := len(e.inst.received(protocol.BaohanRestore, "")); n != 0 {
			t.Fatalf("%d restores at the old opening", n)
		}
		e.wantState(a.ApplyNo, CipherReceived)
		h, _ := e.svc.History(e.ctx, a.ApplyNo)
		var evs []Event
		for _, ev := range h {
			evs = append(evs, ev.Event)
		}
		if !strings.Contains(mustJSON(evs), `"kaibiao_postponed","restore_superseded"`) {
			t.Errorf("history %v", evs)
		}
		// Quitting is allowed again before the new opening.
		if _, err := e.svc.Quit(e.ctx, a.ApplyNo, "probe"); err != nil {
			t.Fatal(err)
		}
		e.settle()
		wantOK(t, "quit refused", e.send(protocol.QuitNotice, map[string]string{"applyno": a.ApplyNo, "baohanno": a.BaohanNo, "applystatus": "0"}))
		e.wantState(a.ApplyNo, CipherReceived)

		e.clock.Set(newTime)
		e.eventually("the restore at the new opening", func() bool { return e.app(a.ApplyNo).State == Restored })
		e.settle()
		rs := e.inst.received(protocol.BaohanRestore, a.ApplyNo)
		if len(rs) != 1 || rs[0].Fields["kaibiaotime"] != protocol.FormatTime(newTime) {
			t.Fatalf("restores %v", rs)
		}
		if _, err := e.svc.Postpone(e.ctx, sec.No, newTime.Add(time.Hour), "too late"); err == nil ||
			!strings.Contains(err.Error(), fmt.Sprintf("section %s: the project key was released at ", sec.No)) {
			t.Fatalf("postpone after the release: %v", err)
		}
	})
}

// TestOpeningBroughtForward: an opening brought forward (AdvanceOpening)
// restores at the new time; the restore made for the old time stands down. When both
// times have passed at once (the platform was down), one restore goes out.
func TestOpeningBroughtForward(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		sec := e.section(3 * time.Hour)
		a, _ := e.withCipher(sec)
		earlier := sec.KaibiaoTime.Add(-2 * time.Hour)
		if _, err := e.svc.AdvanceOpening(e.ctx, sec.No, earlier, "招标人申请提前开标，经审批"); err != nil {
			t.Fatal(err)
		}
		e.clock.Set(earlier.Add(-time.Second))
		e.settle()
		if n := len(e.inst.received(protocol.BaohanRestore, a.ApplyNo)); n != 0 {
			t.Fatalf("%d restores before the new opening", n)
		}
		e.clock.Set(earlier)
		e.eventually("the restore", func() bool { return e.app(a.ApplyNo).State == Restored })
		e.clock.Set(sec.KaibiaoTime.Add(time.Minute))
		e.settle()
		rs := e.inst.received(protocol.BaohanRestore, a.ApplyNo)
		if len(rs) != 1 || rs[0].Fields["kaibiaotime"] != protocol.FormatTime(earlier) {
			t.Fatalf("restores %v", rs)
		}

		// Postponed twice, then both times pass while nothing runs.
		sec2 := e.section(time.Hour)
		b, _ := e.withCipher(sec2)
		t1 := sec2.KaibiaoTime.Add(time.Hour)
		t2 := sec2.KaibiaoTime.Add(2 * time.Hour)
		for _, to := range []time.Time{t1, t2} {
			if _, err := e.svc.Postpone(e.ctx, sec2.No, to, "延期"); err != nil {
				t.Fatal(err)
			}
		}
		e.close()
		e.clock.Set(t2.Add(time.Hour))
		e.start()
		e.eventually("the restore", func() bool { return e.app(b.ApplyNo).State == Restored })
		e.settle()
		if rs := e.inst.received(protocol.BaohanRestore, b.ApplyNo); len(rs) != 1 || rs[0].Fields["kaibiaotime"] != protocol.FormatTime(t2) {
			t.Fatalf("restores %v", rs)
		}
	})
}

// TestRestoreRefused: a refused restore is tried again (it has usually
// overtaken the answer to the institution's completion notice) until the
// institution takes it; after maxRestoreRefusals refusals it is given up,
// visibly, and RestoreNow sends it again.
func TestRestoreRefused(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		sec := e.section(time.Hour)
		a, _ := e.withCipher(sec)
		e.inst.setAnswer(protocol.BaohanRestore, answerRefuse("applyno is approved: baohanrestore is not allowed in this state"))
		e.clock.Set(sec.KaibiaoTime)
		e.eventually("three refusals", func() bool { return len(e.inst.received(protocol.BaohanRestore, a.ApplyNo)) >= 3 })
		got := e.app(a.ApplyNo)
		if got.State != CipherReceived || !strings.Contains(got.LastMessage, "baohanrestore refused (attempt ") || !strings.HasSuffix(got.LastMessage, ", will retry): applyno is approved: baohanrestore is not allowed in this state") {
			t.Fatalf("state %s, last %q", got.State, got.LastMessage)
		}
		e.inst.setAnswer(protocol.BaohanRestore, nil)
		e.eventually("the restore taken", func() bool { return e.app(a.ApplyNo).State == Restored })
		h, _ := e.svc.History(e.ctx, a.ApplyNo)
		refusals := 0
		for _, ev := range h {
			if ev.Event == EvRestoreRefused {
				refusals++
			}
		}
		if refusals != 1 {
			t.Errorf("%d restore_refused events, want 1", refusals)
		}

		// Refused for good: given up after maxRestoreRefusals, then sent
		// again on demand.
		sec2 := e.section(time.Hour)
		b, _ := e.withCipher(sec2)
		e.inst.setAnswer(protocol.BaohanRestore, answerRefuse("系统维护中"))
		e.clock.Set(sec2.KaibiaoTime)
		e.eventually("the restore given up", func() bool {
			ms, _ := e.svc.db.OutboxList(e.ctx, store.OutboxFilter{ApplyNo: b.ApplyNo, State: store.StateDead})
			return len(ms) == 1
		})
		if n := len(e.inst.received(protocol.BaohanRestore, b.ApplyNo)); n != maxRestoreRefusals {
			t.Errorf("%d restores sent, want %d", n, maxRestoreRefusals)
		}
		got = e.app(b.ApplyNo)
		if got.State != CipherReceived || got.LastMessage != fmt.Sprintf("baohanrestore could not be delivered: refused %d times, last: 系统维护中", maxRestoreRefusals) {
			t.Fatalf("state %s, last %q", got.State, got.LastMessage)
		}
		e.inst.setAnswer(protocol.BaohanRestore, nil)
		nos, err := e.svc.RestoreSectionNow(e.ctx, sec2.No)
		if err != nil || len(nos) != 1 || nos[0] != b.ApplyNo {
			t.Fatalf("RestoreSectionNow = %v, %v", nos, err)
		}
		e.eventually("the restore", func() bool { return e.app(b.ApplyNo).State == Restored })
	})
}

// call is send without failing the test, for hooks that run on the fake
// institution's goroutine.
func (e *env) call(i protocol.Interface, fields map[string]string) (*protocol.Response, error) {
	peer := *e.peer
	peer.BaseURL = e.srv.URL
	resp, err := e.client.Call(e.ctx, &peer, i, fields)
	e.tick()
	return resp, err
}

func (e *env) events(applyNo string) []Event {
	e.t.Helper()
	h, err := e.svc.History(e.ctx, applyNo)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []Event
	for _, ev := range h {
		out = append(out, ev.Event)
	}
	return out
}

// TestPlaintextBeforeRestoreAnswer: the institution answers baohanrestore
// and starts uploading the plaintext guarantee at once, so its chunks
// (and, with a slow answer, its completion notice) can reach the platform
// before the platform has applied the answer. The restore has happened
// once the key went out for the application: the file is accepted, not
// refused ("only after the restore"), and the history reads the same as
// in the usual order, each event once. The fake institution uploads from
// inside its handling of the restore, so the interleaving is certain.
func TestPlaintextBeforeRestoreAnswer(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		for _, c := range []struct {
			name           string
			completeInside bool // the completion notice too comes before the answer
		}{{"chunks before the answer", false}, {"whole file before the answer", true}} {
			t.Run(c.name, func(t *testing.T) {
				e := newEnv(t, dbURL)
				sec := e.section(time.Hour)
				a, bn := e.withCipher(sec)
				before := e.events(a.ApplyNo)
				doc := guaranteeOFD(t, e.pki, gdoc{applyNo: a.ApplyNo, baohanNo: bn, fileType: 2, extra: 150 << 10})
				u := plainUpload()
				enc := e.encrypt(a.ApplyNo, doc, u)
				if len(enc.chunks) < 2 {
					t.Fatalf("%d chunks; the test wants several", len(enc.chunks))
				}
				completeFields := map[string]string{"applyno": a.ApplyNo, "baohanno": bn, "filetype": "2",
					"key": enc.key, "iv": enc.iv, "baohanfilemd5": enc.digest}

				type answer struct {
					what  string
					state State // the platform's state as the answer came
					r     *protocol.Response
					err   error
				}
				var answers []answer
				e.inst.setAnswer(protocol.BaohanRestore, func(f map[string]string) (any, error) {
					// The platform is waiting for this answer; the key is out.
					for i, ch := range enc.chunks {
						r, err := e.call(protocol.UploadBaohanFile, map[string]string{"applyno": a.ApplyNo, "baohanno": bn,
							"filetype": "2", "index": strconv.Itoa(i + 1), "baohanfile": ch})
						answers = append(answers, answer{"chunk " + strconv.Itoa(i+1), e.app(a.ApplyNo).State, r, err})
					}
					if c.completeInside {
						r, err := e.call(protocol.BaohanFileCompleteNotice, completeFields)
						answers = append(answers, answer{"complete", e.app(a.ApplyNo).State, r, err})
					}
					return nil, nil
				})
				e.clock.Set(sec.KaibiaoTime)
				e.eventually("the restore", func() bool { return len(e.inst.received(protocol.BaohanRestore, a.ApplyNo)) == 1 })
				e.settle()
				e.inst.setAnswer(protocol.BaohanRestore, nil)
				if len(answers) == 0 {
					t.Fatal("the fake institution uploaded nothing")
				}
				for _, x := range answers {
					if x.err != nil {
						t.Fatalf("%s: %v", x.what, x.err)
					}
					if x.state != CipherReceived && x.what != "complete" {
						t.Fatalf("%s answered with the platform in %s: the interleaving did not happen", x.what, x.state)
					}
					if x.r.Code != 1 {
						t.Errorf("%s during baohanrestore: code %d %q, want code 1", x.what, x.r.Code, x.r.Message)
					}
				}
				if t.Failed() {
					return
				}
				if !c.completeInside {
					wantOK(t, "baohanfilecompletenotice after the answer", e.send(protocol.BaohanFileCompleteNotice, completeFields))
				}
				e.settle()
				got := e.app(a.ApplyNo)
				if got.State != PlainReceived || got.KeyReleasedAt.IsZero() {
					t.Fatalf("state %s, key released at %v; want plain_received with the release recorded", got.State, got.KeyReleasedAt)
				}
				g, err := e.svc.Guarantee(e.ctx, a.ApplyNo, 2)
				if err != nil || !g.SealsOK || g.Size != int64(len(doc)) {
					t.Fatalf("plaintext guarantee %+v, %v", g, err)
				}
				// Each move once, in the usual order; the late answer adds
				// nothing (no outcome_ignored).
				want := append(append([]Event(nil), before...), EvRestored, EvPlainReceived)
				if evs := e.events(a.ApplyNo); mustJSON(evs) != mustJSON(want) {
					t.Fatalf("history\n got %v\nwant %v", evs, want)
				}
				h, _ := e.svc.History(e.ctx, a.ApplyNo)
				restored := h[len(h)-2]
				implied := strings.Contains(string(restored.Detail), `"implied_by":"plaintext guarantee (filetype 2)"`)
				if implied != c.completeInside || restored.From != CipherReceived || restored.To != Restored {
					t.Errorf("restored event %+v %s (implied %v, want %v)", restored, restored.Detail, implied, c.completeInside)
				}
				ms, err := e.svc.db.OutboxList(e.ctx, store.OutboxFilter{ApplyNo: a.ApplyNo, Interface: "baohanrestore"})
				if err != nil || len(ms) != 1 || ms[0].State != store.StateDone {
					t.Fatalf("restore messages %+v, %v", ms, err)
				}
				if n := len(e.inst.received(protocol.BaohanRestore, a.ApplyNo)); n != 1 {
					t.Errorf("%d restores sent, want 1", n)
				}
			})
		}
	})
}
