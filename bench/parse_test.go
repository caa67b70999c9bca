package bench

import (
	"slices"
	"strings"
	"testing"
)

func TestParseSizes(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []int64
		err  string
	}{
		{"1MB, 20MiB,512KB,1.5M,100", []int64{1 << 20, 20 << 20, 512 << 10, 3 << 19, 100}, ""},
		{"2gib,1k,64b", []int64{2 << 30, 1 << 10, 64}, ""},
		{"big", nil, `sizes "big": not a size like 1MB or 512KB`},
		{"-1MB", nil, "not a size"},
		{" , ", nil, "sizes: name at least one size"},
	} {
		got, err := ParseSizes(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: %v %v, want error %q", tt.in, got, err, tt.err)
			}
		} else if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%q: %v %v, want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseScenariosAndDBs(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []int
		err  string
	}{
		{"1,2,3,4,5", []int{1, 2, 3, 4, 5}, ""},
		{" 3, ,1", []int{3, 1}, ""},
		{"6", nil, `scenario "6": scenarios are 1, 2, 3, 4 and 5`},
		{"x", nil, "scenarios are 1, 2, 3, 4 and 5"},
		{"", nil, "scenario: name at least one of 1, 2, 3, 4, 5"},
	} {
		got, err := ParseScenarios(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("scenarios %q: %v %v, want error %q", tt.in, got, err, tt.err)
			}
		} else if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("scenarios %q: %v %v, want %v", tt.in, got, err, tt.want)
		}
	}
	for in, want := range map[string][]string{"both": {SQLite, Postgres}, "": {SQLite, Postgres}, "sqlite": {SQLite}, "postgres": {Postgres}, "mysql": nil} {
		got, err := ParseDBs(in)
		if !slices.Equal(got, want) || (want == nil) != (err != nil) {
			t.Errorf("db %q: %v %v, want %v", in, got, err, want)
		}
	}
}
