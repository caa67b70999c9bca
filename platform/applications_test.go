package platform

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/baohan-dev/baohan/protocol"
	"github.com/baohan-dev/baohan/store"
)

// saveProbe records which columns of plat_applications each UPDATE names
// in its SET list (triggers AFTER UPDATE OF fire on that, whether the
// value changed or not: the same rule by which SQLite rewrites an index).
type saveProbe struct {
	e *env
}

// probeColumns are one column of each group of save, and one of the
// always written.
var probeColumns = []string{"state", "baohanno", "last_message", "notice", "version"}

func newSaveProbe(e *env) *saveProbe {
	e.t.Helper()
	db := e.svc.db
	stmts := []string{`CREATE TABLE save_probe (n INTEGER NOT NULL, col TEXT NOT NULL)`}
	if db.Dialect == store.Postgres {
		stmts = append(stmts, `CREATE FUNCTION save_probe_fn() RETURNS trigger AS $$
			BEGIN INSERT INTO save_probe VALUES ((SELECT COUNT(*) FROM save_probe), TG_ARGV[0]); RETURN NULL; END
			$$ LANGUAGE plpgsql`)
	}
	for _, c := range probeColumns {
		if db.Dialect == store.Postgres {
			stmts = append(stmts, fmt.Sprintf(`CREATE TRIGGER save_probe_%s AFTER UPDATE OF %s ON plat_applications
				FOR EACH ROW EXECUTE FUNCTION save_probe_fn('%s')`, c, c, c))
		} else {
			stmts = append(stmts, fmt.Sprintf(`CREATE TRIGGER save_probe_%s AFTER UPDATE OF %s ON plat_applications
				BEGIN INSERT INTO save_probe VALUES ((SELECT COUNT(*) FROM save_probe), '%s'); END`, c, c, c))
		}
	}
	err := db.InTx(e.ctx, func(tx *sql.Tx) error {
		for _, q := range stmts {
			if _, err := tx.ExecContext(e.ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return &saveProbe{e: e}
}

// take returns the columns named since the last take, sorted, and forgets
// them.
func (p *saveProbe) take() []string {
	p.e.t.Helper()
	var cols []string
	err := p.e.svc.db.InTx(p.e.ctx, func(tx *sql.Tx) error {
		cols = cols[:0]
		rows, err := tx.QueryContext(p.e.ctx, `SELECT col FROM save_probe ORDER BY n`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				return err
			}
			cols = append(cols, c)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		_, err = tx.ExecContext(p.e.ctx, `DELETE FROM save_probe`)
		return err
	})
	if err != nil {
		p.e.t.Fatal(err)
	}
	slices.Sort(cols)
	return cols
}

func (p *saveProbe) want(what string, want ...string) {
	p.e.t.Helper()
	slices.Sort(want)
	if got := p.take(); !slices.Equal(got, want) {
		p.e.t.Errorf("%s: the UPDATEs named %v, want %v", what, got, want)
	}
}

// rawNotice is the notice column as stored.
func rawNotice(e *env, applyNo string) string {
	e.t.Helper()
	var n string
	if err := e.svc.db.QueryRowContext(e.ctx, e.svc.db.Rebind(`SELECT notice FROM plat_applications WHERE applyno = ?`), applyNo).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestSaveWritesWhatChanged: save names the columns of the groups that
// changed (state, baohanno, the rest), never an unchanged indexed one, and
// what it writes reads back; two saves in one transaction each write what
// changed since the one before.
func TestSaveWritesWhatChanged(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		sec := e.section(time.Hour)
		a := e.applied(sec)
		p := newSaveProbe(e)
		s := e.svc

		// A history entry without any change: version and updated_at only.
		err := s.withApplication(e.ctx, a.ApplyNo, func(tx *sql.Tx, a *Application) error {
			return s.record(e.ctx, tx, a, EvKeyIssued, ActorAdmin, nil, nil)
		})
		if err != nil {
			t.Fatal(err)
		}
		p.want("record without change", "version")

		// A remark set and taken back in one transaction: the second save
		// compares with the first, not with the row as read.
		err = s.withApplication(e.ctx, a.ApplyNo, func(tx *sql.Tx, a *Application) error {
			if err := s.record(e.ctx, tx, a, EvKeyIssued, ActorAdmin, nil, func(a *Application) { a.LastMessage = "remark" }); err != nil {
				return err
			}
			return s.record(e.ctx, tx, a, EvKeyIssued, ActorAdmin, nil, func(a *Application) { a.LastMessage = "" })
		})
		if err != nil {
			t.Fatal(err)
		}
		p.want("remark set and cleared", "version", "last_message", "notice", "version", "last_message", "notice")
		got := e.app(a.ApplyNo)
		if got.LastMessage != "" || got.Version != a.Version+3 || got.State != Applied {
			t.Fatalf("after the remark: last_message %q version %d (want %d) state %s", got.LastMessage, got.Version, a.Version+3, got.State)
		}

		// The approving notice: state, baohanno and the notice.
		baohanNo := "BH-NO-" + a.ApplyNo[10:]
		wantOK(t, "baohannotice", e.send(protocol.BaohanNotice, e.noticeFields(a.ApplyNo, baohanNo, "1")))
		p.want("approving notice", "version", "state", "baohanno", "last_message", "notice")
		got = e.app(a.ApplyNo)
		if got.State != Approved || got.BaohanNo != baohanNo || got.Notice == nil || got.Notice.BaohanNo != baohanNo || got.Notice.Cost != "1000.00" {
			t.Fatalf("after the notice: %+v (notice %+v)", got, got.Notice)
		}
		notice := rawNotice(e, a.ApplyNo)

		// Moves that keep baohanno leave its index alone, and one that
		// keeps the state leaves the state's; the notice stays byte for
		// byte what it was.
		err = s.withApplication(e.ctx, a.ApplyNo, func(tx *sql.Tx, a *Application) error {
			return s.move(e.ctx, tx, a, EvQuitRequested, ActorAdmin, nil, nil)
		})
		if err != nil {
			t.Fatal(err)
		}
		p.want("quit requested", "version", "state", "last_message", "notice")
		if got = e.app(a.ApplyNo); got.State != QuitRequested || got.PrevState != Approved || got.BaohanNo != baohanNo {
			t.Fatalf("after the quit request: state %s prev %s baohanno %q", got.State, got.PrevState, got.BaohanNo)
		}
		err = s.withApplication(e.ctx, a.ApplyNo, func(tx *sql.Tx, a *Application) error {
			return s.move(e.ctx, tx, a, EvQuitRefused, ActorAdmin, nil, nil)
		})
		if err != nil {
			t.Fatal(err)
		}
		p.want("quit refused", "version", "state", "last_message", "notice")
		if got = e.app(a.ApplyNo); got.State != Approved || got.PrevState != "" {
			t.Fatalf("after the refused quit: state %s prev %s", got.State, got.PrevState)
		}
		err = s.withApplication(e.ctx, a.ApplyNo, func(tx *sql.Tx, a *Application) error {
			return s.move(e.ctx, tx, a, EvCancelRequested, ActorAdmin, nil, func(a *Application) { a.Pending = protocol.CancelNotice })
		})
		if err != nil {
			t.Fatal(err)
		}
		p.want("cancel requested", "version", "last_message", "notice")
		got = e.app(a.ApplyNo)
		if got.State != Approved || got.Pending != protocol.CancelNotice || got.BaohanNo != baohanNo {
			t.Fatalf("after the cancel request: state %s pending %q baohanno %q", got.State, got.Pending, got.BaohanNo)
		}
		if n := rawNotice(e, a.ApplyNo); n != notice {
			t.Fatalf("notice rewritten: %s, was %s", n, notice)
		}

		// The history has one event per save, numbered by the version.
		h, err := s.History(e.ctx, a.ApplyNo)
		if err != nil {
			t.Fatal(err)
		}
		for i, ev := range h {
			if ev.Seq != int64(i+1) {
				t.Fatalf("history %d has seq %d: %+v", i, ev.Seq, h)
			}
		}
		if last := h[len(h)-1]; last.Seq != got.Version || last.Event != EvCancelRequested {
			t.Fatalf("last event %+v, version %d", last, got.Version)
		}
	})
}

// TestSaveRefusals: a baohanno another application of the institution has
// is refused naming it; a row changed since it was read is errStale.
func TestSaveRefusals(t *testing.T) {
	eachDB(t, func(t *testing.T, dbURL string) {
		e := newEnv(t, dbURL)
		first, bn := e.approved(e.section(time.Hour))
		second := e.applied(e.section(time.Hour))
		wantFail(t, "the baohanno of another application", e.send(protocol.BaohanNotice, e.noticeFields(second.ApplyNo, bn, "1")),
			fmt.Sprintf("baohanno %s is already used by another application of institution bank", bn))
		if got := e.app(second.ApplyNo); got.State != Applied || got.BaohanNo != "" || got.Notice != nil {
			t.Fatalf("refused notice applied: %+v", got)
		}

		s := e.svc
		var saveErr error
		err := s.db.InTx(e.ctx, func(tx *sql.Tx) error {
			a, err := s.loadApplication(e.ctx, tx, first.ApplyNo, true)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(e.ctx, s.db.Rebind(`UPDATE plat_applications SET version = version + 1 WHERE applyno = ?`), a.ApplyNo); err != nil {
				return err
			}
			saveErr = s.record(e.ctx, tx, a, EvKeyIssued, ActorAdmin, nil, nil)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !errors.Is(saveErr, errStale) {
			t.Fatalf("save over a changed row: %v, want errStale", saveErr)
		}
	})
}

// TestSaveSQL: eight statements, each naming exactly its groups' columns.
func TestSaveSQL(t *testing.T) {
	groups := map[int][]string{setState: {"state"}, setBaohan: {"baohanno"},
		setRest: {"prev_state", "pending", "redirect_url", "notice", "notice_at", "tuibaotime", "invoice", "last_message"}}
	for set, q := range saveSQL {
		setList := q[:strings.Index(q, " WHERE ")]
		for g, cols := range groups {
			for _, c := range cols {
				if named := strings.Contains(setList, " "+c+" = ?"); named != (set&g != 0) {
					t.Errorf("saveSQL[%d] names %s: %v: %s", set, c, named, q)
				}
			}
		}
		if !strings.Contains(setList, "version = version + 1, updated_at = ?") || !strings.HasSuffix(q, " WHERE applyno = ? AND version = ?") {
			t.Errorf("saveSQL[%d]: %s", set, q)
		}
		if want := 3 + len(groups[set&setState]) + len(groups[set&setBaohan]) + len(groups[set&setRest]); strings.Count(q, "?") != want {
			t.Errorf("saveSQL[%d] has %d placeholders, want %d", set, strings.Count(q, "?"), want)
		}
	}
}
