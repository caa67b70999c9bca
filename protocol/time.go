package protocol

import (
	"fmt"
	"time"
)

// TimeLayout is the wire format of timestamp, generatetime, kaibiaotime and
// tuibaotime: yyyy-MM-dd HH:mm:ss in China Standard Time.
const TimeLayout = "2006-01-02 15:04:05"

// CST is China Standard Time, UTC+8, the zone of every time on the wire.
var CST = time.FixedZone("CST", 8*60*60)

// FormatTime formats t in CST as yyyy-MM-dd HH:mm:ss.
func FormatTime(t time.Time) string { return t.In(CST).Format(TimeLayout) }

// ParseTime parses a wire time strictly: exactly yyyy-MM-dd HH:mm:ss, two
// digits everywhere (time.Parse alone would take "9:05:00" for the hour),
// a real calendar date, read as CST.
func ParseTime(s string) (time.Time, error) {
	if !timeShape(s) {
		return time.Time{}, fmt.Errorf("%q is not a time in the form yyyy-MM-dd HH:mm:ss", clip(s))
	}
	t, err := time.ParseInLocation(TimeLayout, s, CST)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a valid time: %s", s, parseErrDetail(err))
	}
	return t, nil
}

// timeShape reports whether s is dddd-dd-dd dd:dd:dd.
func timeShape(s string) bool {
	if len(s) != len(TimeLayout) {
		return false
	}
	for k := 0; k < len(s); k++ {
		c, l := s[k], TimeLayout[k]
		switch l {
		case '-', ' ', ':':
			if c != l {
				return false
			}
		default:
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return true
}

// parseErrDetail keeps the useful tail of a time.ParseError ("month out of
// range", "day out of range").
func parseErrDetail(err error) string {
	if pe, ok := err.(*time.ParseError); ok && pe.Message != "" {
		// pe.Message starts with ": "
		m := pe.Message
		if len(m) > 2 && m[:2] == ": " {
			m = m[2:]
		}
		return m
	}
	return "out of range"
}
