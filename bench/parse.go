package bench

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The readings of `baohan bench`'s lists into Options. Each error begins
// with the option's name as the command spells it without its dashes
// (scenario, db, sizes).

// ParseScenarios reads a comma-separated list of scenario numbers, 1 to
// 5, for Options.Scenarios.
func ParseScenarios(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil || n < 1 || n > 5 {
			return nil, fmt.Errorf("scenario %q: scenarios are 1, 2, 3, 4 and 5", part)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("scenario: name at least one of 1, 2, 3, 4, 5")
	}
	return out, nil
}

// ParseDBs reads sqlite, postgres or both ("" too) for Options.DBs.
func ParseDBs(s string) ([]string, error) {
	switch s {
	case "both", "":
		return []string{SQLite, Postgres}, nil
	case SQLite, Postgres:
		return []string{s}, nil
	}
	return nil, fmt.Errorf("db %q: want sqlite, postgres or both", s)
}

// ParseSizes reads comma-separated sizes ("1MB,20MB") for Options.Sizes:
// KB/KiB/K, MB/MiB/M, GB/GiB (binary: 1MB = 1 MiB), B or bare bytes,
// fractions allowed.
func ParseSizes(s string) ([]int64, error) {
	var out []int64
	for _, part := range strings.Split(s, ",") {
		p := strings.ToUpper(strings.TrimSpace(part))
		if p == "" {
			continue
		}
		mult := int64(1)
		for _, u := range []struct {
			suffix string
			mult   int64
		}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"B", 1}} {
			if strings.HasSuffix(p, u.suffix) {
				p, mult = strings.TrimSpace(strings.TrimSuffix(p, u.suffix)), u.mult
				break
			}
		}
		n, err := strconv.ParseFloat(p, 64)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("sizes %q: not a size like 1MB or 512KB", part)
		}
		out = append(out, int64(n*float64(mult)))
	}
	if len(out) == 0 {
		return nil, errors.New("sizes: name at least one size")
	}
	return out, nil
}
