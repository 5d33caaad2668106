package bench

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Sample is one run of one workload by one driver in one round.
type Sample struct {
	Round    int
	Workload string
	Driver   string
	Metrics  []Metric
	Err      string        // the run failed: why
	Elapsed  time.Duration // wall time of the run, setup included
}

// DriverInfo is what the results say of a driver.
type DriverInfo struct {
	Name     string
	Module   string
	Version  string
	About    string
	Settings Settings // read back at synchronous=FULL
}

// Results are everything a run of the comparison produced.
type Results struct {
	Machine  Machine
	Drivers  []DriverInfo
	Rounds   int
	Duration time.Duration // of each timed phase
	Scale    Scale
	Started  time.Time
	Elapsed  time.Duration
	Samples  []Sample
}

// Cell is one driver's aggregate for one metric.
type Cell struct {
	N                  int     // rounds that measured it
	Median             float64 // of the absolute values
	HasValue           bool    // N > 0
	Ratio              float64 // median of the per-round ratios to the baseline
	RatioMin, RatioMax float64 // the smallest and largest per-round ratio
	RatioN             int     // rounds with a ratio
	HasRatioSet        bool    // RatioN > 0
	Failed             int     // rounds in which the run failed
	LastErr            string  // the last failure's error
}

// Row is one metric of one workload, aggregated for every driver.
type Row struct {
	Workload Workload
	Metric   Metric // name, label and direction; Value unused
	Cells    map[string]*Cell
}

// Aggregate turns the samples into rows, in workload order and, within a
// workload, in the order the metrics were reported. A ratio compares a
// driver's value with the baseline's in the same round; the row keeps the
// median over rounds, and the smallest and largest.
func (r *Results) Aggregate() []Row {
	type key struct{ w, m string }
	var rows []Row
	index := map[key]int{}
	values := map[key]map[string][]float64{}
	ratios := map[key]map[string][]float64{}
	failed := map[string]map[string]int{} // workload, driver
	lastErr := map[string]map[string]string{}
	bySample := map[[3]any]Sample{}
	for _, s := range r.Samples {
		bySample[[3]any{s.Round, s.Workload, s.Driver}] = s
	}
	for _, w := range Workloads {
		failed[w.Name] = map[string]int{}
		lastErr[w.Name] = map[string]string{}
		for _, s := range r.Samples {
			if s.Workload != w.Name {
				continue
			}
			if s.Err != "" {
				failed[w.Name][s.Driver]++
				lastErr[w.Name][s.Driver] = s.Err
				continue
			}
			base, baseOK := bySample[[3]any{s.Round, s.Workload, Baseline}]
			for _, m := range s.Metrics {
				k := key{w.Name, m.Name}
				if _, ok := index[k]; !ok {
					index[k] = len(rows)
					rows = append(rows, Row{Workload: w, Metric: Metric{Name: m.Name, Label: m.Label, Higher: m.Higher, NoRatio: m.NoRatio}, Cells: map[string]*Cell{}})
					values[k] = map[string][]float64{}
					ratios[k] = map[string][]float64{}
				}
				values[k][s.Driver] = append(values[k][s.Driver], m.Value)
				if m.NoRatio || !baseOK || base.Err != "" {
					continue
				}
				for _, bm := range base.Metrics {
					if bm.Name == m.Name && bm.Value > 0 {
						ratios[k][s.Driver] = append(ratios[k][s.Driver], m.Value/bm.Value)
					}
				}
			}
		}
	}
	// Rows in workload order (the map above was filled workload by
	// workload, so index order is already right).
	for k, i := range index {
		for _, d := range r.Drivers {
			c := &Cell{Failed: failed[k.w][d.Name], LastErr: lastErr[k.w][d.Name]}
			if v := values[k][d.Name]; len(v) > 0 {
				c.N, c.Median, c.HasValue = len(v), median(v), true
			}
			if q := ratios[k][d.Name]; len(q) > 0 {
				c.Ratio, c.RatioN, c.HasRatioSet = median(q), len(q), true
				c.RatioMin, c.RatioMax = slices.Min(q), slices.Max(q)
			}
			rows[i].Cells[d.Name] = c
		}
	}
	return rows
}

// median returns the median of v (the mean of the middle two for an even
// count).
func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// formatValue prints a measurement with 3 significant digits and thousands
// separators.
func formatValue(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) >= 1000:
		return groupThousands(strconv.FormatFloat(math.Round(v), 'f', 0, 64))
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case math.Abs(v) >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func groupThousands(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func formatRatio(r float64) string {
	switch {
	case r >= 10:
		return strconv.FormatFloat(r, 'f', 1, 64) + "×"
	case r > 0 && r < 0.1:
		// Two significant digits, so a latency 500 times lower does not
		// read as 0.00×.
		return strconv.FormatFloat(r, 'f', max(2, 1-int(math.Floor(math.Log10(r)))), 64) + "×"
	default:
		return strconv.FormatFloat(r, 'f', 2, 64) + "×"
	}
}

// Markdown renders the results: the ratio table, the absolute figures,
// the drivers and their settings, the machine, and how it was measured.
func (r *Results) Markdown(chartFile string) string {
	rows := r.Aggregate()
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Go SQLite drivers compared\n\n")
	p("Generated by `make bench` (bench/cmd/runbench) on %s, in %s. ", r.Started.UTC().Format("2006-01-02 15:04 MST"), r.Elapsed.Round(time.Second))
	p("Every workload ran for every driver in each of %d rounds, the drivers in a different order each time; ", r.Rounds)
	p("a figure is the median over the rounds, and a ratio compares a driver with %s **in the same round** (the median of the per-round ratios, with the smallest and largest in parentheses).\n\n", Baseline)
	if chartFile != "" {
		p("![throughput relative to %s](%s)\n\n", Baseline, chartFile)
	}
	var others []DriverInfo
	for _, d := range r.Drivers {
		if d.Name != Baseline {
			others = append(others, d)
		}
	}

	p("## Ratio to %s\n\n", Baseline)
	p("Throughputs: above 1× is faster than %s. Latencies: below 1× is lower (better) than %s's.\n\n", Baseline, Baseline)
	p("| workload | metric |")
	for _, d := range others {
		p(" %s |", d.Name)
	}
	p("\n| --- | --- |")
	for range others {
		p(" ---: |")
	}
	p("\n")
	lastW := ""
	for _, row := range rows {
		if row.Metric.NoRatio {
			continue
		}
		w := ""
		if row.Workload.Name != lastW {
			w, lastW = row.Workload.Title, row.Workload.Name
		}
		dir := "higher is better"
		if !row.Metric.Higher {
			dir = "lower is better"
		}
		p("| %s | %s (%s) |", w, row.Metric.Name, dir)
		for _, d := range others {
			c := row.Cells[d.Name]
			switch {
			case c == nil || !c.HasRatioSet:
				p(" %s |", failure(c))
			case c.RatioN > 1:
				p(" **%s** (%s–%s) |", formatRatio(c.Ratio), formatRatio(c.RatioMin), formatRatio(c.RatioMax))
			default:
				p(" **%s** |", formatRatio(c.Ratio))
			}
		}
		p("\n")
	}

	p("\n## Absolute figures (median of %d rounds)\n\n", r.Rounds)
	p("| workload | metric |")
	for _, d := range r.Drivers {
		p(" %s |", d.Name)
	}
	p("\n| --- | --- |")
	for range r.Drivers {
		p(" ---: |")
	}
	p("\n")
	lastW = ""
	for _, row := range rows {
		w := ""
		if row.Workload.Name != lastW {
			w, lastW = row.Workload.Name, row.Workload.Name
		}
		p("| %s | %s |", w, row.Metric.Name)
		for _, d := range r.Drivers {
			c := row.Cells[d.Name]
			if c == nil || !c.HasValue {
				p(" %s |", failure(c))
				continue
			}
			p(" %s |", formatValue(c.Median))
		}
		p("\n")
	}

	p("\n## Workloads\n\n")
	p("Sizes: %d rows for the bulk insert, point selects and full scans; %d rows already in the table of the one-table writers and of the readers; %d writers committing %d-row transactions; %d readers beside one writer; blobs of %d KiB, at most %d of them. Each timed phase runs %s.\n\n",
		r.Scale.Rows, r.Scale.PrefillRows, r.Scale.Writers, r.Scale.TxRows, r.Scale.Readers, r.Scale.BlobBytes>>10, r.Scale.MaxBlobs, r.Duration)
	p("| workload | what it does |\n| --- | --- |\n")
	for _, w := range Workloads {
		p("| %s | %s |\n", w.Name, w.Title)
	}
	p("\nEvery driver runs through database/sql with the same settings: `synchronous` as the workload says, ")
	p("`busy_timeout` %d ms, `cache_size` -%d (KiB), transactions begun with BEGIN IMMEDIATE; ", BusyTimeoutMS, CacheKiB)
	p("the other drivers in WAL mode, this project's driver on its own engine, whose log is in the WAL format (it reports `journal_mode` wal). ")
	p("The concurrent writers of this project's driver run BEGIN CONCURRENT transactions through `libsql.RetryTx` with `libsql.LevelConcurrent` ")
	p("(a conflict rolls the transaction back and runs it again; the retries are counted); the other drivers' writers wait for the write lock with the busy timeout. ")
	p("A commit latency runs from the transaction's begin to its commit's return, retries included.\n\n")

	p("## Drivers\n\n")
	p("| driver | module | version | SQLite | journal_mode | synchronous (FULL asked) | busy_timeout | cache_size | how |\n")
	p("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, d := range r.Drivers {
		s := d.Settings
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", d.Name, d.Module, d.Version, s.SQLite, s.JournalMode, s.Synchronous, s.BusyTimeout, s.CacheSize, d.About)
	}

	m := r.Machine
	p("\n## Machine\n\n")
	p("| | |\n| --- | --- |\n")
	p("| CPU | %s |\n", m.CPU)
	p("| logical CPUs (GOMAXPROCS) | %d (%d) |\n", m.CPUs, m.GOMAXPROCS)
	p("| memory | %.1f GiB |\n", m.MemoryGiB)
	p("| kernel | %s |\n", m.Kernel)
	p("| OS/arch | %s |\n", m.OS)
	p("| Go | %s |\n", m.Go)
	p("| file system of the databases | %s |\n", m.FileSystem)
	p("\nThe machine may have been shared with other work while this ran; ratios measured in the same round cancel what load affected both drivers alike, the spread in parentheses shows what it did not.\n")

	var fails []string
	for _, s := range r.Samples {
		if s.Err != "" {
			fails = append(fails, fmt.Sprintf("- round %d, %s, %s: %s", s.Round, s.Workload, s.Driver, s.Err))
		}
	}
	if len(fails) > 0 {
		p("\n## Failed runs\n\n%s\n", strings.Join(fails, "\n"))
	}
	return b.String()
}

// failure is what a cell without a figure shows.
func failure(c *Cell) string {
	if c != nil && c.Failed > 0 {
		return fmt.Sprintf("failed (%d)", c.Failed)
	}
	return "–"
}
