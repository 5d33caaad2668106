// Command runbench runs the driver comparison of the bench module: every
// workload for every driver, in rounds, the drivers in a different order
// in each round and for each workload, and writes the results:
//
//	results/results.md   the table of ratios to modernc.org/sqlite (same round),
//	                     the absolute figures, the drivers and the machine
//	results/chart.svg    the throughput ratios as grouped bars
//	results/results.json every sample, for other analyses
//
// Build it with -ldflags '-X github.com/ncruces/go-sqlite3/driver.driverName=ncruces'
// (see the bench package); make bench does.
//
// Each run (one workload, one driver, one round) is a process of its own,
// this program run again with -one: drivers that share the transpiled
// SQLite of modernc.org/sqlite/lib share its process-wide state, and this
// project's driver changes some of it when it starts (it makes SQLite's
// page caches per connection), which would otherwise change modernc's
// figures for every run after this driver's first.
//
// Usage:
//
//	runbench [-rounds 5] [-duration 2s] [-out results] [-dir TMPDIR] [-only w1,w2] [-drivers d1,d2] [-quick]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/golibsql/libsql/bench"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "runbench:", err)
		os.Exit(1)
	}
}

func run() error {
	rounds := flag.Int("rounds", 5, "rounds of every workload for every driver (at least 3 for a meaningful median)")
	duration := flag.Duration("duration", 2*time.Second, "how long each timed phase of a workload runs")
	out := flag.String("out", "results", "directory for results.md, chart.svg and results.json")
	dir := flag.String("dir", "", "directory for the databases (default: the system's temporary directory)")
	only := flag.String("only", "", "comma-separated workloads to run (default: all): "+workloadNames())
	driverList := flag.String("drivers", "", "comma-separated drivers to run (default: all; modernc, the baseline, is always run)")
	quick := flag.Bool("quick", false, "small sizes and short phases: checks that everything runs, measures nothing")
	one := flag.String("one", "", "internal: run `workload,driver,round` once in -dir and print the sample as JSON")
	flag.Parse()
	if *rounds < 1 {
		return fmt.Errorf("-rounds must be at least 1")
	}

	scale := bench.DefaultScale
	if *quick {
		scale = bench.QuickScale
		if !isSet("duration") {
			*duration = 50 * time.Millisecond
		}
	}
	if *one != "" {
		return runChild(*one, *dir, *duration, scale)
	}
	workloads := bench.Workloads
	if *only != "" {
		workloads = nil
		for _, n := range strings.Split(*only, ",") {
			w, ok := bench.WorkloadByName(strings.TrimSpace(n))
			if !ok {
				return fmt.Errorf("unknown workload %q (have %s)", n, workloadNames())
			}
			workloads = append(workloads, w)
		}
	}
	drivers := bench.Drivers
	if *driverList != "" {
		drivers = nil
		want := map[string]bool{bench.Baseline: true}
		for _, n := range strings.Split(*driverList, ",") {
			n = strings.TrimSpace(n)
			if _, ok := bench.DriverByName(n); !ok {
				return fmt.Errorf("unknown driver %q", n)
			}
			want[n] = true
		}
		for _, d := range bench.Drivers {
			if want[d.Name] {
				drivers = append(drivers, d)
			}
		}
	}

	base, err := os.MkdirTemp(*dir, "runbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(base)
	ctx := context.Background()

	res := &bench.Results{
		Machine:  bench.DescribeMachine(base),
		Rounds:   *rounds,
		Duration: *duration,
		Scale:    scale,
		Started:  time.Now(),
	}
	versions := moduleVersions()
	for _, d := range drivers {
		s, err := d.ReadSettings(ctx, base, "FULL")
		if err != nil {
			return err
		}
		res.Drivers = append(res.Drivers, bench.DriverInfo{Name: d.Name, Module: d.Module, Version: versions[d.Module], About: d.About, Settings: s})
	}
	logf("%s; %s; databases on %s", res.Machine.CPU, res.Machine.Go, res.Machine.FileSystem)

	for round := 1; round <= *rounds; round++ {
		for wi, w := range workloads {
			// Rotate the drivers' order by round and workload, so that no
			// driver always runs first (on a cold cache) or last.
			k := (round - 1 + wi) % len(drivers)
			order := append(append([]bench.Driver{}, drivers[k:]...), drivers[:k]...)
			for _, d := range order {
				s := runProcess(base, round, w, d, *duration, *quick)
				res.Samples = append(res.Samples, s)
				summary := s.Err
				if summary == "" && len(s.Metrics) > 0 {
					summary = fmt.Sprintf("%s %.0f", s.Metrics[0].Name, s.Metrics[0].Value)
				}
				logf("round %d/%d  %-15s %-8s %6.1fs  %s", round, *rounds, w.Name, d.Name, s.Elapsed.Seconds(), summary)
			}
		}
	}
	res.Elapsed = time.Since(res.Started)

	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "chart.svg"), []byte(res.Chart()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "results.md"), []byte(res.Markdown("chart.svg")), 0o644); err != nil {
		return err
	}
	js, err := json.MarshalIndent(res, "", "\t")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	logf("wrote %s in %s", filepath.Join(*out, "results.md"), res.Elapsed.Round(time.Second))
	for _, s := range res.Samples {
		if s.Err != "" {
			return fmt.Errorf("some runs failed (see %s)", filepath.Join(*out, "results.md"))
		}
	}
	return nil
}

// runProcess runs one workload for one driver in a process of its own
// (see the package comment) and returns its sample.
func runProcess(base string, round int, w bench.Workload, d bench.Driver, duration time.Duration, quick bool) bench.Sample {
	s := bench.Sample{Round: round, Workload: w.Name, Driver: d.Name}
	exe, err := os.Executable()
	if err != nil {
		s.Err = err.Error()
		return s
	}
	args := []string{"-one", fmt.Sprintf("%s,%s,%d", w.Name, d.Name, round), "-dir", base, "-duration", duration.String()}
	if quick {
		args = append(args, "-quick")
	}
	cmd := exec.Command(exe, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		s.Err = fmt.Sprintf("%s run of %s: %v: %s", d.Name, w.Name, err, strings.TrimSpace(stderr.String()))
		return s
	}
	if err := json.Unmarshal(out, &s); err != nil {
		s.Err = fmt.Sprintf("%s run of %s: reading its sample %q: %v", d.Name, w.Name, out, err)
	}
	return s
}

// runChild is the process runProcess starts: it runs spec
// ("workload,driver,round") and writes the sample to standard output.
func runChild(spec, base string, duration time.Duration, scale bench.Scale) error {
	parts := strings.Split(spec, ",")
	if len(parts) != 3 {
		return fmt.Errorf("-one %q: want workload,driver,round", spec)
	}
	w, ok := bench.WorkloadByName(parts[0])
	if !ok {
		return fmt.Errorf("-one %q: unknown workload %q", spec, parts[0])
	}
	d, ok := bench.DriverByName(parts[1])
	if !ok {
		return fmt.Errorf("-one %q: unknown driver %q", spec, parts[1])
	}
	round, err := strconv.Atoi(parts[2])
	if err != nil {
		return fmt.Errorf("-one %q: round: %w", spec, err)
	}
	if base == "" {
		base = os.TempDir()
	}
	s := runOne(context.Background(), base, round, w, d, duration, scale)
	return json.NewEncoder(os.Stdout).Encode(s)
}

// runOne runs one workload for one driver on a database of its own.
func runOne(ctx context.Context, base string, round int, w bench.Workload, d bench.Driver, duration time.Duration, scale bench.Scale) bench.Sample {
	s := bench.Sample{Round: round, Workload: w.Name, Driver: d.Name}
	dir, err := os.MkdirTemp(base, w.Name+"-"+d.Name+"-")
	if err != nil {
		s.Err = err.Error()
		return s
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	start := time.Now()
	s.Metrics, err = w.Run(ctx, bench.Env{Driver: d, Dir: dir, Duration: duration, Scale: scale})
	s.Elapsed = time.Since(start)
	if err != nil {
		s.Err = err.Error()
	}
	return s
}

// moduleVersions returns the version of every module linked in.
func moduleVersions() map[string]string {
	v := map[string]string{}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	for _, m := range bi.Deps {
		switch {
		case m.Replace != nil && m.Replace.Version != "":
			v[m.Path] = m.Replace.Version
		case m.Replace != nil || m.Version == "(devel)":
			v[m.Path] = "this repository"
		default:
			v[m.Path] = m.Version
		}
	}
	return v
}

func workloadNames() string {
	var n []string
	for _, w := range bench.Workloads {
		n = append(n, w.Name)
	}
	return strings.Join(n, ", ")
}

func isSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}
