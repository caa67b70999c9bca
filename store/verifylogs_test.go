package store

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestVerifyLogs: one line per log, the required log's absence and a
// break fail, an optional log that is absent or unreadable is said so.
func TestVerifyLogs(t *testing.T) {
	ctx := context.Background()
	env := sqliteEnv(t)
	db := env.open(t)
	l := NewMessageLog(db)
	for i := 1; i <= 3; i++ {
		if err := l.Append(ctx, logEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	mustExec(t, db, `CREATE TABLE other_log (id INTEGER)`)
	file := sqlitePath(env)
	other := func(brk *ChainBreak, err error) ChainedLog {
		return ChainedLog{Name: "other log", Table: "other_log", Absent: "none",
			Verify: func(context.Context, *DB) (*ChainBreak, int64, error) { return brk, 7, err }}
	}
	missing := ChainedLog{Name: "missing log", Table: "no_such_table", Absent: "none here"}
	required := ChainedLog{Name: "required log", Table: "no_such_table"}
	tests := []struct {
		name string
		logs []ChainedLog
		out  string
		err  string // "" none
	}{
		{"intact", []ChainedLog{MessageLogChain, other(nil, nil), missing}, "message log: ok, 3 entries\nother log: ok, 7 entries\nmissing log: none here\n", ""},
		{"broken", []ChainedLog{MessageLogChain, other(&ChainBreak{ID: 2, Reason: "hash differs"}, nil)},
			"message log: ok, 3 entries\nother log: broken at entry 2: hash differs\n", file + ": "},
		{"unreadable", []ChainedLog{other(nil, errors.New("no head"))}, "other log: cannot be verified: no head\n", "other log: no head"},
		{"required and absent", []ChainedLog{required}, "", "has no required log (is it a baohan database?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			err := VerifyLogs(ctx, file, &b, tt.logs...)
			if b.String() != tt.out {
				t.Errorf("printed %q, want %q", b.String(), tt.out)
			}
			if (tt.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.err) {
				t.Errorf("error %v, want %q", err, tt.err)
			}
		})
	}
	if err := VerifyLogs(ctx, "postgres://u:secret@127.0.0.1:1/x?connect_timeout=1", &strings.Builder{}, MessageLogChain); err == nil ||
		strings.Contains(err.Error(), "secret") || !strings.HasPrefix(err.Error(), "opening ") {
		t.Errorf("an unreachable database: %v (the password must not show)", err)
	}
}
