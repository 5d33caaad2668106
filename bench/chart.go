package bench

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// driverColors are the bar colours, by driver.
var driverColors = map[string]string{
	"libsql":  "#2563eb",
	"mattn":   "#d97706",
	"ncruces": "#059669",
}

// Chart draws the throughput ratios to the baseline as an SVG: one group
// of horizontal bars per throughput metric, one bar per driver, starting
// at the baseline's 1× on a logarithmic axis (right of it is faster), with
// a thin line over each bar from the smallest to the largest per-round
// ratio.
func (r *Results) Chart() string {
	var rows []Row
	for _, row := range r.Aggregate() {
		if row.Metric.Label != "" && row.Metric.Higher && !row.Metric.NoRatio {
			rows = append(rows, row)
		}
	}
	var drivers []string
	for _, d := range r.Drivers {
		if d.Name != Baseline {
			drivers = append(drivers, d.Name)
		}
	}

	// The axis: powers of two around every ratio and the spreads.
	lo, hi := 0.5, 2.0
	for _, row := range rows {
		for _, d := range drivers {
			if c := row.Cells[d]; c != nil && c.HasRatioSet {
				lo, hi = math.Min(lo, c.RatioMin), math.Max(hi, c.RatioMax)
			}
		}
	}
	lo = math.Pow(2, math.Floor(math.Log2(lo)))
	hi = math.Pow(2, math.Ceil(math.Log2(hi)))

	const (
		width    = 980.0
		left     = 270.0 // x of the plot's left edge
		right    = 930.0
		top      = 92.0 // y of the first group
		barH     = 13.0
		barGap   = 3.0
		groupGap = 16.0
	)
	groupH := float64(len(drivers))*(barH+barGap) - barGap
	height := top + float64(len(rows))*(groupH+groupGap) + 64
	x := func(v float64) float64 {
		return left + (right-left)*(math.Log2(v)-math.Log2(lo))/(math.Log2(hi)-math.Log2(lo))
	}

	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	esc := html.EscapeString
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="Helvetica, Arial, sans-serif" font-size="12">`+"\n", width, height, width, height)
	p(`<rect width="100%%" height="100%%" fill="#ffffff"/>` + "\n")
	p(`<text x="%.0f" y="24" font-size="16" font-weight="bold">Throughput relative to %s (same round; median of %d rounds)</text>`+"\n", 16.0, esc(Baseline), r.Rounds)
	p(`<text x="%.0f" y="44" fill="#444">Right of the 1× line: faster than %s. Logarithmic axis; thin lines: smallest to largest per-round ratio.</text>`+"\n", 16.0, esc(Baseline))
	// Legend.
	lx := 16.0
	for _, d := range drivers {
		p(`<rect x="%.1f" y="58" width="12" height="12" fill="%s"/><text x="%.1f" y="68">%s</text>`+"\n", lx, driverColors[d], lx+16, esc(d))
		lx += 24 + 8*float64(len(d)) + 16
	}
	p(`<line x1="%.1f" y1="64" x2="%.1f" y2="64" stroke="#111" stroke-width="2"/><text x="%.1f" y="68">%s = 1×</text>`+"\n", lx, lx+16, lx+22, esc(Baseline))

	// Grid and axis labels.
	bottom := height - 48
	for v := lo; v <= hi*1.0001; v *= 2 {
		xv := x(v)
		stroke, w := "#dddddd", 1.0
		if v == 1 {
			stroke, w = "#111111", 2
		}
		p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%.0f"/>`+"\n", xv, top-10, xv, bottom, stroke, w)
		p(`<text x="%.1f" y="%.1f" text-anchor="middle" fill="#444">%s</text>`+"\n", xv, bottom+16, esc(axisLabel(v)))
	}

	// Bars.
	y := top
	for _, row := range rows {
		p(`<text x="%.1f" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", left-10, y+groupH/2, esc(row.Metric.Label))
		for _, d := range drivers {
			c := row.Cells[d]
			cy := y + barH/2
			if c == nil || !c.HasRatioSet {
				p(`<text x="%.1f" y="%.1f" dominant-baseline="middle" fill="#b91c1c">%s: no result</text>`+"\n", x(1)+6, cy, esc(d))
				y += barH + barGap
				continue
			}
			x0, x1 := x(1), x(c.Ratio)
			if x1 < x0 {
				x0, x1 = x1, x0
			}
			p(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.0f" fill="%s"><title>%s, %s: %s</title></rect>`+"\n",
				x0, y, math.Max(x1-x0, 1), barH, driverColors[d], esc(d), esc(row.Metric.Name), esc(formatRatio(c.Ratio)))
			if c.RatioN > 1 {
				a, z := x(c.RatioMin), x(c.RatioMax)
				p(`<path d="M%.1f %.1fv6M%.1f %.1fH%.1fM%.1f %.1fv6" stroke="#555" stroke-width="1" fill="none"/>`+"\n", a, cy-3, a, cy, z, z, cy-3)
			}
			// The value at the bar's end, with a white halo so that it
			// reads over the spread line.
			const halo = `font-size="11" stroke="#fff" stroke-width="3" paint-order="stroke"`
			if c.Ratio >= 1 {
				p(`<text x="%.1f" y="%.1f" dominant-baseline="middle" `+halo+`>%s</text>`+"\n", x1+4, cy, esc(formatRatio(c.Ratio)))
			} else {
				p(`<text x="%.1f" y="%.1f" text-anchor="end" dominant-baseline="middle" `+halo+`>%s</text>`+"\n", x0-4, cy, esc(formatRatio(c.Ratio)))
			}
			y += barH + barGap
		}
		y += groupGap - barGap
	}
	m := r.Machine
	p(`<text x="16" y="%.1f" fill="#666" font-size="11">%s</text>`+"\n", height-12,
		esc(fmt.Sprintf("%s, %d logical CPUs, %s, %s, %s", m.CPU, m.CPUs, firstWords(m.Kernel, 2), m.Go, firstWords(m.FileSystem, 1))))
	p("</svg>\n")
	return b.String()
}

// axisLabel formats a power of two for the axis: "1/8×", "0.5×", "4×".
func axisLabel(v float64) string {
	if v >= 1 || v == 0.5 || v == 0.25 {
		return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.2f", v), "0"), ".0") + "×"
	}
	return fmt.Sprintf("1/%.0f×", 1/v)
}

// firstWords returns the first n words of s.
func firstWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) > n {
		f = f[:n]
	}
	return strings.Join(f, " ")
}
