package ofd

import (
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/width"
)

// Advance is the width of one character at the given font size by the
// rule of SimSun's metrics, which this package lays text in fonts
// referenced by name out with, and gives characters an embedded font
// lacks: East Asian wide, full-width and ambiguous characters (汉字，。“”
// ...) take the full size, everything else (ASCII, digits, Latin) half of
// it. Text in an embedded font is placed by the font's own advances.
func Advance(r rune, size float64) float64 {
	if wide(r) {
		return size
	}
	return size / 2
}

func wide(r rune) bool {
	if r < 0x1100 {
		return false
	}
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth, width.EastAsianAmbiguous:
		return true
	}
	return false
}

// advanceFunc is the advance of a character at a size: Advance for fonts
// referenced by name, the font's own metrics for embedded ones.
type advanceFunc func(r rune, size float64) float64

// Measure is the width of s at the given size by the Advance rule (fonts
// referenced by name; Builder.Measure measures in an embedded font).
func Measure(s string, size float64) float64 { return measure(Advance, s, size) }

func measure(adv advanceFunc, s string, size float64) float64 {
	w := 0.0
	for _, r := range s {
		w += adv(r, size)
	}
	return w
}

// Advances returns the advance of every character of s but the last by
// the Advance rule: the DeltaX list. extra is added to each
// (justification).
func Advances(s string, size, extra float64) []float64 { return advances(Advance, s, size, extra) }

func advances(adv advanceFunc, s string, size, extra float64) []float64 {
	rs := []rune(s)
	if len(rs) < 2 {
		return nil
	}
	out := make([]float64, len(rs)-1)
	for i := range out {
		out[i] = adv(rs[i], size) + extra
	}
	return out
}

// FormatDeltas writes a DeltaX or DeltaY list, compressing three or more
// equal values in a row as "g N value" (GB/T 33190 §11.3).
func FormatDeltas(d []float64) string {
	var b strings.Builder
	for i := 0; i < len(d); {
		j := i + 1
		for j < len(d) && Num(d[j]) == Num(d[i]) {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		if n := j - i; n >= 3 {
			b.WriteString("g ")
			b.WriteString(strconv.Itoa(n))
			b.WriteByte(' ')
			b.WriteString(Num(d[i]))
			i = j
			continue
		}
		b.WriteString(Num(d[i]))
		i++
	}
	return b.String()
}

// maxDeltas bounds how many values a "g" run may expand to, so that a
// hostile "g 999999999 1" cannot allocate gigabytes.
const maxDeltas = 1 << 16

// ParseDeltas reads a DeltaX or DeltaY list, plain or with "g N value"
// runs.
func ParseDeltas(s string) ([]float64, error) {
	f := strings.Fields(s)
	var out []float64
	for i := 0; i < len(f); i++ {
		if f[i] == "g" {
			if i+2 >= len(f) {
				return nil, errorf("delta list %q: g needs a count and a value", s)
			}
			n, err := strconv.Atoi(f[i+1])
			if err != nil || n < 0 || n > maxDeltas || len(out)+n > maxDeltas {
				return nil, errorf("delta list %q: bad g count %q", s, f[i+1])
			}
			v, err := parseFloats(f[i+2])
			if err != nil {
				return nil, errorf("delta list %q: %v", s, err)
			}
			for k := 0; k < n; k++ {
				out = append(out, v[0])
			}
			i += 2
			continue
		}
		v, err := parseFloats(f[i])
		if err != nil {
			return nil, errorf("delta list %q: %v", s, err)
		}
		if len(out) >= maxDeltas {
			return nil, errorf("delta list %q: more than %d values", s, maxDeltas)
		}
		out = append(out, v[0])
	}
	return out, nil
}

// Characters that may not begin a line (closing punctuation) and may not
// end one (opening punctuation): the usual Chinese line-breaking rules.
const (
	noLineStart = "，。、；：？！）》」』】〕”’％…—·,.;:!?)]}%"
	noLineEnd   = "（《「『【〔“‘([{"
)

// Wrap breaks text into lines no wider than width at the given size. The
// first line is shorter by indent (a paragraph's first-line indent). Line
// breaks fall between Chinese characters and at spaces; a run of ASCII
// letters, digits and symbols (a word, a number, a base64 string) stays
// whole unless it alone is wider than a line, then it is cut where the
// line is full. Closing punctuation never starts a line (it hangs at the
// end of the previous one) and opening punctuation never ends one. "\n"
// breaks a line. Spaces at the ends of lines are dropped. Widths are
// those of the Advance rule; Builder.Wrap wraps in an embedded font.
func Wrap(text string, width, size, indent float64) []string {
	return wrap(Advance, text, width, size, indent)
}

func wrap(adv advanceFunc, text string, width, size, indent float64) []string {
	var lines []string
	for _, para := range strings.Split(text, "\n") {
		lines = append(lines, wrapPara(adv, para, width, size, indent)...)
		indent = 0
	}
	return lines
}

func wrapPara(adv advanceFunc, text string, width, size, indent float64) []string {
	units := tokenize(text)
	var lines []string
	var cur []string
	curW := 0.0
	limit := width - indent
	flush := func() {
		// Drop trailing spaces.
		for len(cur) > 0 && strings.TrimSpace(cur[len(cur)-1]) == "" {
			cur = cur[:len(cur)-1]
		}
		lines = append(lines, strings.Join(cur, ""))
		cur, curW, limit = nil, 0, width
	}
	for _, u := range units {
		w := measure(adv, u, size)
		space := strings.TrimSpace(u) == ""
		if len(cur) == 0 && space {
			continue
		}
		if curW+w <= limit+1e-9 {
			cur, curW = append(cur, u), curW+w
			continue
		}
		if space {
			flush()
			continue
		}
		r := []rune(u)
		if len(r) == 1 && strings.ContainsRune(noLineStart, r[0]) && len(cur) > 0 {
			if curW <= limit+1e-9 {
				cur, curW = append(cur, u), curW+w // one hanging punctuation mark
				continue
			}
			// A second mark would hang too: take the last character and
			// the marks after it to the next line instead.
			var carry []string
			for len(cur) > 1 {
				last := cur[len(cur)-1]
				lr := []rune(last)
				cur = cur[:len(cur)-1]
				carry = append([]string{last}, carry...)
				if !(len(lr) == 1 && strings.ContainsRune(noLineStart, lr[0])) {
					break
				}
			}
			flush()
			for _, c := range carry {
				cur, curW = append(cur, c), curW+measure(adv, c, size)
			}
			cur, curW = append(cur, u), curW+w
			continue
		}
		if w > width {
			// A word longer than a line: fill the current line, then cut.
			for len(r) > 0 {
				n := 0
				lw := curW
				for n < len(r) && lw+adv(r[n], size) <= limit+1e-9 {
					lw += adv(r[n], size)
					n++
				}
				if n == 0 {
					if len(cur) == 0 {
						n = 1 // the line cannot hold even one character
					} else {
						flush()
						continue
					}
				}
				cur, curW = append(cur, string(r[:n])), curW+measure(adv, string(r[:n]), size)
				r = r[n:]
				if len(r) > 0 {
					flush()
				}
			}
			continue
		}
		// Move opening punctuation at the end of the line to the next one.
		var carry []string
		for len(cur) > 1 {
			last := []rune(cur[len(cur)-1])
			if len(last) == 1 && strings.ContainsRune(noLineEnd, last[0]) {
				carry = append([]string{cur[len(cur)-1]}, carry...)
				cur = cur[:len(cur)-1]
				continue
			}
			break
		}
		flush()
		for _, c := range carry {
			cur, curW = append(cur, c), curW+measure(adv, c, size)
		}
		cur, curW = append(cur, u), curW+w
	}
	if len(cur) > 0 || len(lines) == 0 {
		flush()
	}
	return lines
}

// tokenize splits text into breakable units: single wide characters,
// runs of spaces, and runs of other narrow characters (words).
func tokenize(text string) []string {
	var units []string
	var word strings.Builder
	endWord := func() {
		if word.Len() > 0 {
			units = append(units, word.String())
			word.Reset()
		}
	}
	for _, r := range text {
		switch {
		case unicode.IsSpace(r):
			endWord()
			units = append(units, " ")
		case wide(r):
			endWord()
			units = append(units, string(r))
		default:
			word.WriteRune(r)
		}
	}
	endWord()
	return units
}
