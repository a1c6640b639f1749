package dashboard

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// palette is colour-blind friendly (Tableau 10).
var palette = []string{"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"}

// series is one named set of values (nil = missing), with optional interval
// bounds drawn as a band (line charts) or whiskers (bar charts).
type series struct {
	Name   string
	Values []*float64
	Low    []*float64
	High   []*float64
}

const (
	chartW, chartH         = 640, 260
	padL, padR, padT, padB = 64, 16, 28, 48
	fontCSS                = `font-family="DejaVu Sans, Arial, sans-serif" font-size="11"`
)

func esc(s string) string { return html.EscapeString(s) }

// niceTicks returns about n round tick values covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	if lo == hi {
		lo, hi = lo-1, hi+1
	}
	span := hi - lo
	step := math.Pow(10, math.Floor(math.Log10(span/float64(n))))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if span/(step*m) <= float64(n) {
			step *= m
			break
		}
	}
	var ts []float64
	for t := math.Floor(lo/step) * step; t <= hi+step*1e-9; t += step {
		ts = append(ts, math.Round(t/step)*step)
	}
	return ts
}

// yRange returns the axis range over all values (and bounds), always
// including 0.
func yRange(ss []series) (float64, float64) {
	lo, hi := 0.0, 0.0
	for _, s := range ss {
		for _, vs := range [][]*float64{s.Values, s.Low, s.High} {
			for _, v := range vs {
				if v != nil {
					lo, hi = math.Min(lo, *v), math.Max(hi, *v)
				}
			}
		}
	}
	if lo == hi {
		hi = lo + 1
	}
	ts := niceTicks(lo, hi, 5)
	return math.Min(lo, ts[0]), math.Max(hi, ts[len(ts)-1])
}

type frame struct {
	b      strings.Builder
	lo, hi float64
	w, h   int
}

func (f *frame) y(v float64) float64 {
	return float64(padT) + (1-(v-f.lo)/(f.hi-f.lo))*float64(f.h-padT-padB)
}

// open starts an SVG with a title, y axis ticks, grid and axis labels.
func open(title, xLabel, yLabel string, lo, hi float64, yFmt func(float64) string) *frame {
	f := &frame{lo: lo, hi: hi, w: chartW, h: chartH}
	fmt.Fprintf(&f.b, `<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 %d %d" width="%d" height="%d" %s><title>%s</title>`,
		f.w, f.h, f.w, f.h, fontCSS, esc(title))
	fmt.Fprintf(&f.b, `<text x="%d" y="16" font-size="13" font-weight="bold">%s</text>`, padL, esc(title))
	for _, t := range niceTicks(lo, hi, 5) {
		if t < lo-1e-12 || t > hi+1e-12 {
			continue
		}
		y := f.y(t)
		fmt.Fprintf(&f.b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#e3e3e3"/>`, padL, f.w-padR, y, y)
		fmt.Fprintf(&f.b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle" fill="#444">%s</text>`, padL-6, y, esc(yFmt(t)))
	}
	if lo < 0 && hi > 0 {
		fmt.Fprintf(&f.b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#555"/>`, padL, f.w-padR, f.y(0), f.y(0))
	}
	fmt.Fprintf(&f.b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#555"/>`, padL, padL, padT, f.h-padB)
	fmt.Fprintf(&f.b, `<text x="%d" y="%d" text-anchor="middle" fill="#222">%s</text>`, (padL+f.w-padR)/2, f.h-6, esc(xLabel))
	fmt.Fprintf(&f.b, `<text transform="translate(14 %d) rotate(-90)" text-anchor="middle" fill="#222">%s</text>`, (padT+f.h-padB)/2, esc(yLabel))
	return f
}

func (f *frame) legend(ss []series) {
	if len(ss) < 2 {
		return
	}
	x := f.w - padR
	for i := len(ss) - 1; i >= 0; i-- {
		w := 18 + 7*len(ss[i].Name)
		x -= w
		fmt.Fprintf(&f.b, `<rect x="%d" y="7" width="10" height="10" fill="%s"/><text x="%d" y="16">%s</text>`,
			x, palette[i%len(palette)], x+13, esc(ss[i].Name))
	}
}

func (f *frame) close() string {
	f.b.WriteString(`</svg>`)
	return f.b.String()
}

// xLabels writes category labels under the plot, thinning them when crowded.
func (f *frame) xLabels(labels []string, xAt func(int) float64) {
	every := 1
	for len(labels)/every > 16 {
		every++
	}
	for i, l := range labels {
		if i%every != 0 {
			continue
		}
		fmt.Fprintf(&f.b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#444">%s</text>`, xAt(i), f.h-padB+14, esc(l))
	}
}

// barChart draws grouped bars, one group per label, with whiskers where a
// series has bounds.
func barChart(title, xLabel, yLabel string, labels []string, ss []series, yFmt func(float64) string) string {
	lo, hi := yRange(ss)
	f := open(title, xLabel, yLabel, lo, hi, yFmt)
	plotW := float64(f.w - padL - padR)
	gw := plotW / float64(max(1, len(labels)))
	bw := gw * 0.8 / float64(max(1, len(ss)))
	for si, s := range ss {
		for i, v := range s.Values {
			if v == nil {
				continue
			}
			x := float64(padL) + gw*float64(i) + gw*0.1 + bw*float64(si)
			y0, y1 := f.y(0), f.y(*v)
			fmt.Fprintf(&f.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>`,
				x, math.Min(y0, y1), math.Max(bw-1, 1), math.Abs(y1-y0), palette[si%len(palette)], esc(s.Name), esc(labels[i]), esc(yFmt(*v)))
			if s.Low != nil && s.Low[i] != nil && s.High[i] != nil {
				cx := x + bw/2
				fmt.Fprintf(&f.b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#222"/>`, cx, cx, f.y(*s.Low[i]), f.y(*s.High[i]))
			}
		}
	}
	f.xLabels(labels, func(i int) float64 { return float64(padL) + gw*(float64(i)+0.5) })
	f.legend(ss)
	return f.close()
}

// lineChart draws lines over categorical x positions, with a shaded band
// where a series has bounds.
func lineChart(title, xLabel, yLabel string, labels []string, ss []series, yFmt func(float64) string) string {
	lo, hi := yRange(ss)
	f := open(title, xLabel, yLabel, lo, hi, yFmt)
	plotW := float64(f.w - padL - padR)
	xAt := func(i int) float64 {
		if len(labels) < 2 {
			return float64(padL) + plotW/2
		}
		return float64(padL) + plotW*float64(i)/float64(len(labels)-1)
	}
	for si, s := range ss {
		c := palette[si%len(palette)]
		if s.Low != nil {
			var up, down []string
			for i := range s.Low {
				if s.Low[i] != nil && s.High[i] != nil {
					up = append(up, fmt.Sprintf("%.1f,%.1f", xAt(i), f.y(*s.High[i])))
					down = append([]string{fmt.Sprintf("%.1f,%.1f", xAt(i), f.y(*s.Low[i]))}, down...)
				}
			}
			if len(up) > 0 {
				fmt.Fprintf(&f.b, `<polygon points="%s" fill="%s" fill-opacity="0.18" stroke="none"/>`, strings.Join(append(up, down...), " "), c)
			}
		}
		var pts []string
		flush := func() {
			if len(pts) > 1 {
				fmt.Fprintf(&f.b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`, strings.Join(pts, " "), c)
			}
			pts = nil
		}
		for i, v := range s.Values {
			if v == nil {
				flush()
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", xAt(i), f.y(*v)))
			if len(s.Values) > 60 {
				continue // dense curves: the line alone reads better
			}
			fmt.Fprintf(&f.b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"><title>%s %s: %s</title></circle>`, xAt(i), f.y(*v), c, esc(s.Name), esc(labels[i]), esc(yFmt(*v)))
		}
		flush()
	}
	f.xLabels(labels, xAt)
	f.legend(ss)
	return f.close()
}

// heatMap draws a grid of cells coloured by value (white to blue), with the
// count in each cell when given.
func heatMap(title, xLabel, yLabel string, rows, cols []string, vals [][]*float64, counts [][]int, vFmt func(float64) string) string {
	const w = 900
	lw := 60
	cw := float64(w-lw-padR) / float64(max(1, len(cols)))
	ch := 26.0
	h := padT + int(ch*float64(len(rows))) + 44
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 %d %d" width="%d" height="%d" %s><title>%s</title>`, w, h, w, h, fontCSS, esc(title))
	fmt.Fprintf(&b, `<text x="%d" y="16" font-size="13" font-weight="bold">%s</text>`, lw, esc(title))
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range vals {
		for _, v := range r {
			if v != nil {
				lo, hi = math.Min(lo, *v), math.Max(hi, *v)
			}
		}
	}
	hasData := !math.IsInf(lo, 1)
	if !hasData {
		lo, hi = 0, 1
	}
	if hi <= lo {
		hi = lo + 1
	}
	for i, r := range rows {
		y := float64(padT) + ch*float64(i)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle" fill="#444">%s</text>`, lw-6, y+ch/2, esc(r))
		for j := range cols {
			x := float64(lw) + cw*float64(j)
			fill, txt := "#f4f4f4", "n/a"
			if v := vals[i][j]; v != nil {
				t := (*v - lo) / (hi - lo)
				fill = fmt.Sprintf("rgb(%d,%d,%d)", int(247-t*(247-33)), int(251-t*(251-102)), int(255-t*(255-172)))
				txt = vFmt(*v)
			}
			label := txt
			if counts != nil {
				label = fmt.Sprintf("%s (n=%d)", txt, counts[i][j])
			}
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" stroke="#fff"><title>%s %s: %s</title></rect>`,
				x, y, cw, ch, fill, esc(r), esc(cols[j]), esc(label))
			if counts != nil && cw > 40 {
				col := "#222"
				if v := vals[i][j]; v != nil && (*v-lo)/(hi-lo) > 0.6 {
					col = "#fff"
				}
				fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" dominant-baseline="middle" fill="%s" font-size="10">%s</text>`,
					x+cw/2, y+ch/2, col, esc(label))
			}
		}
	}
	every := 1
	for len(cols)/every > 24 {
		every++
	}
	yb := float64(padT) + ch*float64(len(rows))
	for j, c := range cols {
		if j%every == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#444">%s</text>`, float64(lw)+cw*(float64(j)+0.5), yb+14, esc(c))
		}
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="#222">%s</text>`, (lw+w-padR)/2, h-8, esc(xLabel))
	fmt.Fprintf(&b, `<text transform="translate(12 %.1f) rotate(-90)" text-anchor="middle" fill="#222">%s</text>`, float64(padT)+ch*float64(len(rows))/2, esc(yLabel))
	if hasData {
		fmt.Fprintf(&b, `<text x="%d" y="16" text-anchor="end" fill="#444">scale: %s (light) to %s (dark)</text>`, w-padR, esc(vFmt(lo)), esc(vFmt(hi)))
	} else {
		fmt.Fprintf(&b, `<text x="%d" y="16" text-anchor="end" fill="#444">no data</text>`, w-padR)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// funnel draws one row of centred, shrinking bars per stage.
func funnel(title string, stages []string, counts []int) string {
	const w, rowH = 640, 30
	h := padT + rowH*len(stages) + 10
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 %d %d" width="%d" height="%d" %s><title>%s</title>`, w, h, w, h, fontCSS, esc(title))
	fmt.Fprintf(&b, `<text x="10" y="16" font-size="13" font-weight="bold">%s</text>`, esc(title))
	top := 1
	if len(counts) > 0 && counts[0] > 0 {
		top = counts[0]
	}
	const lw, maxW = 90, 420
	for i, s := range stages {
		y := padT + rowH*i
		bw := math.Max(1, float64(maxW)*float64(counts[i])/float64(top))
		x := lw + (maxW-bw)/2
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" dominant-baseline="middle" fill="#444">%s</text>`, lw-8, y+rowH/2, esc(s))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>`, x, y+2, bw, rowH-4, palette[i%len(palette)])
		fmt.Fprintf(&b, `<text x="%d" y="%d" dominant-baseline="middle" fill="#222">%d (%.1f%%)</text>`, lw+maxW+10, y+rowH/2, counts[i], 100*float64(counts[i])/float64(top))
	}
	b.WriteString(`</svg>`)
	return b.String()
}
