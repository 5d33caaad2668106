package bench

// Run with the ldflags that rename ncruces' driver (see the package doc):
//
//	CGO_ENABLED=1 go test -ldflags '-X github.com/ncruces/go-sqlite3/driver.driverName=ncruces' ./...

import (
	"context"
	"encoding/xml"
	"math"
	"strings"
	"testing"
	"time"
)

// TestWorkloadsRun runs every workload for every driver at QuickScale.
func TestWorkloadsRun(t *testing.T) {
	if testing.Short() {
		t.Skip("opens real databases with four drivers")
	}
	ctx := context.Background()
	for _, w := range Workloads {
		for _, d := range Drivers {
			t.Run(w.Name+"/"+d.Name, func(t *testing.T) {
				ms, err := w.Run(ctx, Env{Driver: d, Dir: t.TempDir(), Duration: 20 * time.Millisecond, Scale: QuickScale})
				if err != nil {
					t.Fatal(err)
				}
				if len(ms) == 0 || ms[0].Value <= 0 || !ms[0].Higher {
					t.Errorf("metrics %+v", ms)
				}
			})
		}
	}
}

func TestSettingsAsAsked(t *testing.T) {
	for _, d := range Drivers {
		s, err := d.ReadSettings(context.Background(), t.TempDir(), "NORMAL")
		if err != nil {
			t.Fatal(err)
		}
		if strings.ToLower(s.JournalMode) != "wal" || s.Synchronous != "NORMAL" || s.CacheSize != "-8192" {
			t.Errorf("%s: %+v", d.Name, s)
		}
	}
}

// TestAggregate checks the medians and same-round ratios on made-up
// samples, and that the table and chart render.
func TestAggregate(t *testing.T) {
	r := &Results{Rounds: 3, Drivers: []DriverInfo{{Name: "libsql"}, {Name: "modernc"}}}
	for round, v := range []struct{ ours, base, oursLat, baseLat float64 }{
		{200, 100, 1, 4}, {330, 110, 2, 4}, {100, 100, 3, 3},
	} {
		r.Samples = append(r.Samples,
			Sample{Round: round + 1, Workload: "insert-full", Driver: "libsql", Metrics: []Metric{{Name: "inserts/s", Label: "insert", Value: v.ours, Higher: true}, {Name: "p99 ms", Value: v.oursLat}}},
			Sample{Round: round + 1, Workload: "insert-full", Driver: "modernc", Metrics: []Metric{{Name: "inserts/s", Label: "insert", Value: v.base, Higher: true}, {Name: "p99 ms", Value: v.baseLat}}},
		)
	}
	r.Samples = append(r.Samples, Sample{Round: 1, Workload: "blobs", Driver: "libsql", Err: "boom"})
	rows := r.Aggregate()
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	c := rows[0].Cells["libsql"]
	if c.Median != 200 || c.Ratio != 2 || c.RatioMin != 1 || c.RatioMax != 3 || c.RatioN != 3 {
		t.Errorf("throughput cell %+v", c)
	}
	if c := rows[1].Cells["libsql"]; math.Abs(c.Ratio-0.5) > 1e-9 || rows[1].Metric.Higher {
		t.Errorf("latency cell %+v", c)
	}
	md := r.Markdown("chart.svg")
	for _, want := range []string{"**2.00×** (1.00×–3.00×)", "| insert-full | inserts/s | 200 | 100 |", "round 1, blobs, libsql: boom"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	svg := r.Chart()
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
		t.Errorf("chart is not well-formed XML: %v", err)
	}
	if !strings.Contains(svg, "2.00×") {
		t.Error("chart lacks the ratio label")
	}
}

func TestFormatRatio(t *testing.T) {
	for r, want := range map[float64]string{12.34: "12.3×", 4.591: "4.59×", 0.85: "0.85×", 0.0018: "0.0018×", 0.05: "0.050×", 0: "0.00×"} {
		if got := formatRatio(r); got != want {
			t.Errorf("formatRatio(%v) = %q, want %q", r, got, want)
		}
	}
}

func TestFormatValue(t *testing.T) {
	for v, want := range map[float64]string{1234567: "1,234,567", 123.4: "123", 12.34: "12.3", 1.234: "1.23", 0.01234: "0.0123", 0: "0"} {
		if got := formatValue(v); got != want {
			t.Errorf("formatValue(%v) = %q, want %q", v, got, want)
		}
	}
}
