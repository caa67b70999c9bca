package protocol

import (
	"testing"
	"time"
)

func TestFormatTime(t *testing.T) {
	utc := time.Date(2024, 3, 15, 1, 30, 0, 0, time.UTC)
	if got := FormatTime(utc); got != "2024-03-15 09:30:00" {
		t.Fatalf("FormatTime = %s", got)
	}
	// Across midnight and the year.
	if got := FormatTime(time.Date(2023, 12, 31, 20, 0, 1, 999, time.UTC)); got != "2024-01-01 04:00:01" {
		t.Fatalf("FormatTime = %s", got)
	}
}

func TestParseTime(t *testing.T) {
	got, err := ParseTime("2024-03-15 09:30:00")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(time.Date(2024, 3, 15, 1, 30, 0, 0, time.UTC)) {
		t.Fatalf("ParseTime = %v", got)
	}
	if _, off := got.Zone(); off != 8*3600 {
		t.Fatalf("zone offset %d", off)
	}
	if _, err := ParseTime("2024-02-29 23:59:59"); err != nil {
		t.Fatalf("leap day: %v", err)
	}
	bad := map[string]string{
		"2024-3-15 09:30:00":    `"2024-3-15 09:30:00" is not a time in the form yyyy-MM-dd HH:mm:ss`,
		"2024-03-15 9:30:00":    `"2024-03-15 9:30:00" is not a time in the form yyyy-MM-dd HH:mm:ss`,
		"2024-03-15T09:30:00":   `"2024-03-15T09:30:00" is not a time in the form yyyy-MM-dd HH:mm:ss`,
		"2024-03-15 09:30:00 ":  `"2024-03-15 09:30:00 " is not a time in the form yyyy-MM-dd HH:mm:ss`,
		"":                      `"" is not a time in the form yyyy-MM-dd HH:mm:ss`,
		"2023-02-29 00:00:00":   `"2023-02-29 00:00:00" is not a valid time: day out of range`,
		"2024-13-01 00:00:00":   `"2024-13-01 00:00:00" is not a valid time: month out of range`,
		"2024-03-15 24:00:00":   `"2024-03-15 24:00:00" is not a valid time: hour out of range`,
		"2024-03-15 23:60:00":   `"2024-03-15 23:60:00" is not a valid time: minute out of range`,
		"2024-03-15 23:59:60":   `"2024-03-15 23:59:60" is not a valid time: second out of range`,
		"2024-03-15 09:30:00.5": `"2024-03-15 09:30:00.5" is not a time in the form yyyy-MM-dd HH:mm:ss`,
	}
	for in, want := range bad {
		_, err := ParseTime(in)
		if err == nil || err.Error() != want {
			t.Errorf("ParseTime(%q) = %v, want %s", in, err, want)
		}
	}
}

func TestCheckTimestamp(t *testing.T) {
	now := time.Date(2024, 3, 15, 1, 30, 0, 0, time.UTC) // 09:30:00 CST
	tests := []struct {
		ts     string
		window time.Duration
		want   string
	}{
		{"2024-03-15 09:30:00", 0, ""},
		{"2024-03-15 09:20:00", 0, ""},
		{"2024-03-15 09:40:00", 0, ""},
		{"2024-03-15 09:19:59", 0, `timestamp "2024-03-15 09:19:59" is 10m1s behind the receiver's clock (2024-03-15 09:30:00); the allowed difference is 10m0s`},
		{"2024-03-15 09:45:30", 0, `timestamp "2024-03-15 09:45:30" is 15m30s ahead of the receiver's clock (2024-03-15 09:30:00); the allowed difference is 10m0s`},
		{"2024-03-15 01:30:00", 0, `timestamp "2024-03-15 01:30:00" is 8h0m0s behind the receiver's clock (2024-03-15 09:30:00); the allowed difference is 10m0s`},
		{"2024-03-15 09:29:00", 30 * time.Second, `timestamp "2024-03-15 09:29:00" is 1m0s behind the receiver's clock (2024-03-15 09:30:00); the allowed difference is 30s`},
		{"2024-03-15 08:00:00", 2 * time.Hour, ""},
		{"", 0, `field "timestamp" is required`},
		{"2024-03-15T09:30:00", 0, `field "timestamp" must be a time like "2024-03-15 09:30:00" (yyyy-MM-dd HH:mm:ss, UTC+8), got "2024-03-15T09:30:00"`},
	}
	for _, tt := range tests {
		err := CheckTimestamp(tt.ts, now, tt.window)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("CheckTimestamp(%q, %v)\n got %s\nwant %s", tt.ts, tt.window, got, tt.want)
		}
	}
}
