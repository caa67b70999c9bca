package ofd

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Box is a rectangle in millimetres (ST_Box: x y width height), the origin
// at the top left of the page, y growing downwards.
type Box struct{ X, Y, W, H float64 }

// String formats the box as OFD writes it ("10 20 30 40").
func (b Box) String() string {
	return Num(b.X) + " " + Num(b.Y) + " " + Num(b.W) + " " + Num(b.H)
}

// Contains reports whether the point lies in the box.
func (b Box) Contains(x, y float64) bool {
	return x >= b.X && x <= b.X+b.W && y >= b.Y && y <= b.Y+b.H
}

// A4 is the physical box of an A4 portrait page.
var A4 = Box{0, 0, 210, 297}

// Num formats a length the way OFD files carry it: at most three decimals
// (a micrometre), no trailing zeros, no exponent, "0" for zero.
func Num(v float64) string {
	v = math.Round(v*1000) / 1000
	if v == 0 {
		return "0" // also for -0
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// ParseBox parses an ST_Box ("x y w h").
func ParseBox(s string) (Box, error) {
	f, err := parseFloats(s)
	if err != nil {
		return Box{}, fmt.Errorf("box %q: %w", s, err)
	}
	if len(f) != 4 {
		return Box{}, fmt.Errorf("box %q: want 4 numbers, got %d", s, len(f))
	}
	if f[2] < 0 || f[3] < 0 {
		return Box{}, fmt.Errorf("box %q: negative size", s)
	}
	return Box{f[0], f[1], f[2], f[3]}, nil
}

// parseFloats parses space-separated finite numbers.
func parseFloats(s string) ([]float64, error) {
	fields := strings.Fields(s)
	out := make([]float64, 0, len(fields))
	for _, f := range fields {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("bad number %q", f)
		}
		out = append(out, v)
	}
	return out, nil
}

// Matrix is an OFD transformation matrix (ST_Array "a b c d e f"):
// x' = a·x + c·y + e, y' = b·x + d·y + f.
type Matrix [6]float64

// Identity is the identity matrix.
var Identity = Matrix{1, 0, 0, 1, 0, 0}

// ParseMatrix parses a CTM attribute.
func ParseMatrix(s string) (Matrix, error) {
	f, err := parseFloats(s)
	if err != nil {
		return Matrix{}, fmt.Errorf("matrix %q: %w", s, err)
	}
	if len(f) != 6 {
		return Matrix{}, fmt.Errorf("matrix %q: want 6 numbers, got %d", s, len(f))
	}
	return Matrix{f[0], f[1], f[2], f[3], f[4], f[5]}, nil
}

// String formats the matrix as OFD writes it.
func (m Matrix) String() string {
	s := make([]string, 6)
	for i, v := range m {
		s[i] = Num(v)
	}
	return strings.Join(s, " ")
}

// Apply maps a point.
func (m Matrix) Apply(x, y float64) (float64, float64) {
	return m[0]*x + m[2]*y + m[4], m[1]*x + m[3]*y + m[5]
}

// Color is an RGB colour (ST_Array "r g b", 0–255).
type Color struct{ R, G, B uint8 }

// Black and Red are the colours guarantees use.
var (
	Black = Color{0, 0, 0}
	Red   = Color{0xd4, 0x1c, 0x1c}
)

// String formats the colour as a Value attribute.
func (c Color) String() string { return fmt.Sprintf("%d %d %d", c.R, c.G, c.B) }

// ParseColor parses a Value attribute of three numbers 0–255 ("#rrggbb"
// is tolerated too, as some producers write it).
func ParseColor(s string) (Color, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "#") {
		h := strings.ReplaceAll(s[1:], " ", "")
		v, err := strconv.ParseUint(h, 16, 32)
		if err != nil || len(h) != 6 {
			return Color{}, fmt.Errorf("colour %q: bad hex", s)
		}
		return Color{uint8(v >> 16), uint8(v >> 8), uint8(v)}, nil
	}
	f, err := parseFloats(s)
	if err != nil || len(f) < 3 {
		return Color{}, fmt.Errorf("colour %q: want three numbers", s)
	}
	c := func(v float64) uint8 { return uint8(math.Max(0, math.Min(255, math.Round(v)))) }
	return Color{c(f[0]), c(f[1]), c(f[2])}, nil
}
