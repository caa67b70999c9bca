package render

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// seg is one command of an OFD path (AbbreviatedData), in absolute
// coordinates relative to the object's boundary.
type seg struct {
	op  byte      // 'M', 'L', 'Q', 'B' (cubic), 'A' (arc), 'C' (close)
	pts []float64 // M,L: x y; Q: x1 y1 x y; B: x1 y1 x2 y2 x y; A: rx ry rot large sweep x y
}

// maxPathOps bounds the commands of one path.
const maxPathOps = 1 << 16

// parsePath reads AbbreviatedData (GB/T 33190 §9.3.3): S/M x y (start),
// L x y, Q x1 y1 x2 y2, B x1 y1 x2 y2 x3 y3, A rx ry angle large sweep x y,
// C (close).
func parsePath(s string) ([]seg, error) {
	f := strings.Fields(s)
	var out []seg
	argc := map[byte]int{'S': 2, 'M': 2, 'L': 2, 'Q': 4, 'B': 6, 'A': 7, 'C': 0}
	for i := 0; i < len(f); {
		if len(f[i]) != 1 {
			return nil, fmt.Errorf("path: unexpected %q", f[i])
		}
		op := f[i][0]
		n, ok := argc[op]
		if !ok {
			return nil, fmt.Errorf("path: unknown command %q", f[i])
		}
		if i+n >= len(f) {
			return nil, fmt.Errorf("path: %c needs %d numbers", op, n)
		}
		pts := make([]float64, n)
		for k := 0; k < n; k++ {
			v, err := strconv.ParseFloat(f[i+1+k], 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("path: %c: bad number %q", op, f[i+1+k])
			}
			pts[k] = v
		}
		if op == 'S' {
			op = 'M'
		}
		out = append(out, seg{op, pts})
		if len(out) > maxPathOps {
			return nil, fmt.Errorf("path: more than %d commands", maxPathOps)
		}
		i += 1 + n
	}
	return out, nil
}

// svgPath writes the path as SVG path data.
func svgPath(segs []seg) string {
	var b strings.Builder
	num := func(v float64) string { return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64) }
	for _, s := range segs {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		switch s.op {
		case 'C':
			b.WriteByte('Z')
			continue
		case 'B':
			b.WriteByte('C')
		default:
			b.WriteByte(s.op)
		}
		for _, p := range s.pts {
			b.WriteByte(' ')
			b.WriteString(num(p))
		}
	}
	return b.String()
}

// flatten turns the path into polylines (one per subpath), curves and
// arcs approximated by line segments, and reports which are closed.
func flatten(segs []seg) (lines [][][2]float64, closed []bool) {
	var cur [][2]float64
	var x, y, sx, sy float64
	flush := func(c bool) {
		if len(cur) > 1 {
			lines = append(lines, cur)
			closed = append(closed, c)
		}
		cur = nil
	}
	for _, s := range segs {
		switch s.op {
		case 'M':
			flush(false)
			x, y = s.pts[0], s.pts[1]
			sx, sy = x, y
			cur = [][2]float64{{x, y}}
		case 'L':
			if cur == nil {
				cur = [][2]float64{{x, y}}
			}
			x, y = s.pts[0], s.pts[1]
			cur = append(cur, [2]float64{x, y})
		case 'Q':
			if cur == nil {
				cur = [][2]float64{{x, y}}
			}
			for t := 1; t <= 12; t++ {
				u := float64(t) / 12
				px := (1-u)*(1-u)*x + 2*(1-u)*u*s.pts[0] + u*u*s.pts[2]
				py := (1-u)*(1-u)*y + 2*(1-u)*u*s.pts[1] + u*u*s.pts[3]
				cur = append(cur, [2]float64{px, py})
			}
			x, y = s.pts[2], s.pts[3]
		case 'B':
			if cur == nil {
				cur = [][2]float64{{x, y}}
			}
			for t := 1; t <= 16; t++ {
				u := float64(t) / 16
				a, b, c, d := (1-u)*(1-u)*(1-u), 3*(1-u)*(1-u)*u, 3*(1-u)*u*u, u*u*u
				cur = append(cur, [2]float64{a*x + b*s.pts[0] + c*s.pts[2] + d*s.pts[4], a*y + b*s.pts[1] + c*s.pts[3] + d*s.pts[5]})
			}
			x, y = s.pts[4], s.pts[5]
		case 'A':
			if cur == nil {
				cur = [][2]float64{{x, y}}
			}
			cur = append(cur, arcPoints(x, y, s.pts)...)
			x, y = s.pts[5], s.pts[6]
		case 'C':
			if cur != nil {
				cur = append(cur, [2]float64{sx, sy})
			}
			flush(true)
			x, y = sx, sy
		}
	}
	flush(false)
	return lines, closed
}

// arcPoints approximates an SVG-style elliptical arc from (x1, y1) by
// points (the endpoint parameterization of SVG 1.1 appendix F.6).
func arcPoints(x1, y1 float64, p []float64) [][2]float64 {
	rx, ry, phi, large, sweep, x2, y2 := math.Abs(p[0]), math.Abs(p[1]), p[2]*math.Pi/180, p[3] != 0, p[4] != 0, p[5], p[6]
	if rx == 0 || ry == 0 || (x1 == x2 && y1 == y2) {
		return [][2]float64{{x2, y2}}
	}
	cos, sin := math.Cos(phi), math.Sin(phi)
	dx, dy := (x1-x2)/2, (y1-y2)/2
	x1p, y1p := cos*dx+sin*dy, -sin*dx+cos*dy
	if l := x1p*x1p/(rx*rx) + y1p*y1p/(ry*ry); l > 1 {
		rx, ry = rx*math.Sqrt(l), ry*math.Sqrt(l)
	}
	num := rx*rx*ry*ry - rx*rx*y1p*y1p - ry*ry*x1p*x1p
	den := rx*rx*y1p*y1p + ry*ry*x1p*x1p
	k := 0.0
	if den != 0 && num > 0 {
		k = math.Sqrt(num / den)
	}
	if large == sweep {
		k = -k
	}
	cxp, cyp := k*rx*y1p/ry, -k*ry*x1p/rx
	cx, cy := cos*cxp-sin*cyp+(x1+x2)/2, sin*cxp+cos*cyp+(y1+y2)/2
	ang := func(ux, uy, vx, vy float64) float64 { return math.Atan2(ux*vy-uy*vx, ux*vx+uy*vy) }
	t1 := ang(1, 0, (x1p-cxp)/rx, (y1p-cyp)/ry)
	dt := ang((x1p-cxp)/rx, (y1p-cyp)/ry, (-x1p-cxp)/rx, (-y1p-cyp)/ry)
	if !sweep && dt > 0 {
		dt -= 2 * math.Pi
	} else if sweep && dt < 0 {
		dt += 2 * math.Pi
	}
	n := int(math.Ceil(math.Abs(dt) / (math.Pi / 24)))
	if n < 2 {
		n = 2
	}
	pts := make([][2]float64, 0, n)
	for i := 1; i <= n; i++ {
		t := t1 + dt*float64(i)/float64(n)
		ex, ey := rx*math.Cos(t), ry*math.Sin(t)
		pts = append(pts, [2]float64{cos*ex - sin*ey + cx, sin*ex + cos*ey + cy})
	}
	return pts
}
