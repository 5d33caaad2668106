package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golibsql/libsql"
)

var benchCommand = &command{
	name:    "bench",
	args:    "[flags]",
	summary: "a quick benchmark of the driver on a temporary database",
	doc: `
Measures the driver on a temporary database, each workload for --duration,
one after the other, and prints the operations per second and the median
(p50) and 99th percentile (p99) latency of one operation:

  insert, sync=full      single-row autocommit INSERTs, each commit durable
                         (fdatasync) before it returns
  insert, sync=normal    the same, commits not waiting for fdatasync
  10-row transactions    BEGIN, 10 INSERTs, COMMIT (sync=full); rows/s too
  bulk insert            --rows rows in one transaction (and as many into
                         the table of the concurrent writers, at random
                         keys), with a prepared statement
  point select           SELECT of one row by a random primary key, from the
                         --rows rows
  concurrent, own tables --writers goroutines running BEGIN CONCURRENT
                         transactions of one INSERT each into a table of
                         their own, through libsql.RetryTx
  concurrent, one table  the same, all into one table of --rows rows, at
                         random keys

For the concurrent workloads an operation is one libsql.RetryTx call: its
latency runs from BEGIN CONCURRENT to the end of COMMIT, retries
included; the conflicts and rebases come from PRAGMA libsql_stats.

With the defaults the whole run takes about 15 seconds. Numbers from a
shared or busy machine vary; compare runs made in the same conditions. The
bench/ module compares the driver with other Go SQLite drivers.
`,
	run: runBench,
}

// benchConfig is what bench's flags set.
type benchConfig struct {
	duration time.Duration
	rows     int
	writers  int
	keep     bool
}

func runBench(c *command, e *env, args []string) int {
	var cfg benchConfig
	fs := c.flags()
	fs.DurationVar(&cfg.duration, "duration", 2*time.Second, "how long each workload runs")
	fs.IntVar(&cfg.rows, "rows", 10000, "rows of the table point selects read")
	fs.IntVar(&cfg.writers, "writers", 8, "goroutines of the concurrent workloads (1 to 256)")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the database and print where it is")
	if _, code, ok := c.parse(e, fs, args, 0, 0); !ok {
		return code
	}
	switch {
	case cfg.duration <= 0:
		return c.usageError(e, "--duration %v: want a positive duration", cfg.duration)
	case cfg.duration > maxRunDuration:
		return c.usageError(e, "--duration %v: too long (at most %v)", cfg.duration, maxRunDuration)
	case cfg.rows < 1:
		return c.usageError(e, "--rows %d: want at least 1", cfg.rows)
	case cfg.writers < 1 || cfg.writers > 256:
		return c.usageError(e, "--writers %d: want 1 to 256", cfg.writers)
	}
	ctx, stop := interruptible(e.ctx)
	defer stop()
	if err := bench(ctx, e.stdout, cfg); err != nil {
		return c.fail(e, err)
	}
	return exitOK
}

// benchResult is one workload's measurements.
type benchResult struct {
	name    string
	ops     int64
	rows    int64 // rows written, when it differs from ops
	elapsed time.Duration
	lat     []time.Duration // one per operation, sorted by report
	note    string
}

// bench runs every workload and prints a table of results to w.
func bench(ctx context.Context, w io.Writer, cfg benchConfig) error {
	path, remove, err := tempDB("libsql-bench-", "bench.db", w)
	if err != nil {
		return err
	}
	defer remove(cfg.keep)
	t, _ := parseTarget(path)
	db, err := libsql.Open(t.dsn, libsql.WithSync("full"), libsql.WithMaxConns(cfg.writers+2))
	if err != nil {
		return err
	}
	defer db.Close()
	dbNormal, err := libsql.Open(t.dsn, libsql.WithSync("normal"), libsql.WithMaxConns(2))
	if err != nil {
		return err
	}
	defer dbNormal.Close()

	fmt.Fprintf(w, "libsql bench: %v per workload, %s/%s, %d CPUs, %s\n  database %s\n\n",
		cfg.duration, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), path)
	var ddl strings.Builder
	ddl.WriteString(`CREATE TABLE ins_full(id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL NOT NULL);
CREATE TABLE ins_normal(id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL NOT NULL);
CREATE TABLE tx10(id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL NOT NULL);
CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL NOT NULL);
CREATE TABLE shared(id INTEGER PRIMARY KEY, writer INTEGER NOT NULL, name TEXT NOT NULL);
`)
	for i := range cfg.writers {
		fmt.Fprintf(&ddl, "CREATE TABLE own%d(id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL NOT NULL);\n", i)
	}
	if _, err := db.ExecContext(ctx, ddl.String()); err != nil {
		return err
	}

	row := func(cells ...any) {
		line := fmt.Sprintf("%-38s %9s %9s %9s %9s %9s  %s", cells...)
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	row("workload", "ops", "ops/s", "rows/s", "p50", "p99", "")
	report := func(r benchResult) {
		secs := r.elapsed.Seconds()
		rowsRate := ""
		if r.rows > 0 {
			rowsRate = fmt.Sprintf("%.0f", float64(r.rows)/secs)
		}
		slices.Sort(r.lat)
		row(r.name, fmt.Sprint(r.ops), fmt.Sprintf("%.0f", float64(r.ops)/secs), rowsRate,
			fmtLatency(percentile(r.lat, 0.50)), fmtLatency(percentile(r.lat, 0.99)), r.note)
	}

	name := func() string { return fmt.Sprintf("bench row %08d", rand.IntN(1e8)) }
	for _, wl := range []struct {
		label string
		db    *sql.DB
		table string
	}{{"insert, sync=full", db, "ins_full"}, {"insert, sync=normal", dbNormal, "ins_normal"}} {
		stmt, err := wl.db.PrepareContext(ctx, "INSERT INTO "+wl.table+"(name, score) VALUES (?, ?)")
		if err != nil {
			return err
		}
		r, err := timed(ctx, cfg.duration, func() error {
			_, err := stmt.ExecContext(ctx, name(), rand.Float64())
			return err
		})
		stmt.Close()
		if err != nil {
			return err
		}
		r.name = wl.label
		report(r)
	}

	r, err := timed(ctx, cfg.duration, func() error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		for range 10 {
			if _, err := tx.ExecContext(ctx, "INSERT INTO tx10(name, score) VALUES (?, ?)", name(), rand.Float64()); err != nil {
				return err
			}
		}
		return tx.Commit()
	})
	if err != nil {
		return err
	}
	r.name, r.rows = "10-row transactions", r.ops*10
	report(r)

	if r, err = fillItems(ctx, db, cfg.rows); err != nil {
		return err
	}
	report(r)
	sel, err := db.PrepareContext(ctx, "SELECT name, score FROM items WHERE id = ?")
	if err != nil {
		return err
	}
	defer sel.Close()
	r, err = timed(ctx, cfg.duration, func() error {
		var n string
		var s float64
		return sel.QueryRowContext(ctx, 1+rand.IntN(cfg.rows)).Scan(&n, &s)
	})
	if err != nil {
		return err
	}
	r.name = fmt.Sprintf("point select (%d rows)", cfg.rows)
	report(r)

	for _, shared := range []bool{false, true} {
		before, err := engineStats(ctx, db)
		if err != nil {
			return err
		}
		r, err := concurrentWriters(ctx, db, cfg, shared)
		if err != nil {
			return err
		}
		after, err := engineStats(ctx, db)
		if err != nil {
			return err
		}
		r.note = fmt.Sprintf("%d conflicts, %d rebased", after.Concurrent.Conflicts-before.Concurrent.Conflicts,
			after.Concurrent.Rebased-before.Concurrent.Rebased)
		report(r)
	}
	if ctx.Err() != nil {
		fmt.Fprintln(w, "\ninterrupted: the workloads after the interruption did not run or ran shorter")
	}
	fmt.Fprintln(w, "\nlatency: one operation; for BEGIN CONCURRENT, one libsql.RetryTx call (BEGIN to the end of COMMIT, retries included)")
	return nil
}

// timed runs op until d has passed or ctx ends, and measures each call.
func timed(ctx context.Context, d time.Duration, op func() error) (benchResult, error) {
	var r benchResult
	start := time.Now()
	deadline := start.Add(d)
	for now := start; now.Before(deadline) && ctx.Err() == nil; {
		if err := op(); err != nil {
			if ctx.Err() != nil {
				break
			}
			return r, err
		}
		end := time.Now()
		r.lat = append(r.lat, end.Sub(now))
		r.ops++
		now = end
	}
	r.elapsed = time.Since(start)
	return r, nil
}

// fillItems inserts rows rows into items, and as many at random keys into
// shared (so that the concurrent writers of one table spread over many
// pages), in one transaction.
func fillItems(ctx context.Context, db *sql.DB, rows int) (benchResult, error) {
	start := time.Now()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return benchResult{}, err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO items(id, name, score) VALUES (?, ?, ?)")
	if err != nil {
		return benchResult{}, err
	}
	for id := 1; id <= rows; id++ {
		if _, err := stmt.ExecContext(ctx, id, fmt.Sprintf("item %08d", id), float64(id)/7); err != nil {
			return benchResult{}, err
		}
		if _, err := tx.ExecContext(ctx, "INSERT OR REPLACE INTO shared(id, writer, name) VALUES (?, -1, 'initial row')", rand.Int64N(1<<40)); err != nil {
			return benchResult{}, err
		}
	}
	if err := tx.Commit(); err != nil {
		return benchResult{}, err
	}
	el := time.Since(start)
	return benchResult{name: "bulk insert", ops: int64(rows), elapsed: el,
		note: fmt.Sprintf("%d rows in one transaction of %s", rows, fmtLatency(el))}, nil
}

// concurrentWriters runs cfg.writers goroutines of one-row BEGIN
// CONCURRENT transactions, into tables of their own or into one table at
// random keys.
func concurrentWriters(ctx context.Context, db *sql.DB, cfg benchConfig, shared bool) (benchResult, error) {
	r := benchResult{name: fmt.Sprintf("concurrent, %d writers, own tables", cfg.writers)}
	if shared {
		r.name = fmt.Sprintf("concurrent, %d writers, one table", cfg.writers)
	}
	opts := &sql.TxOptions{Isolation: libsql.LevelConcurrent}
	lats := make([][]time.Duration, cfg.writers)
	errs := make([]error, cfg.writers)
	start := time.Now()
	deadline := start.Add(cfg.duration)
	// Transactions are not cut by ctx: an interrupted RetryTx could not
	// tell whether its commit happened, which a benchmark does not care
	// about but its error would end the run.
	tctx, cancel := context.WithTimeout(context.Background(), cfg.duration+30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range cfg.writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(rand.Uint64(), uint64(i)))
			table := fmt.Sprintf("own%d", i)
			for ctx.Err() == nil && time.Now().Before(deadline) {
				t0 := time.Now()
				err := libsql.RetryTx(tctx, db, opts, func(tx *sql.Tx) error {
					var err error
					if shared {
						_, err = tx.ExecContext(tctx, "INSERT OR REPLACE INTO shared(id, writer, name) VALUES (?, ?, ?)",
							rng.Int64N(1<<40), i, "concurrent row")
					} else {
						_, err = tx.ExecContext(tctx, "INSERT INTO "+table+"(name, score) VALUES (?, ?)", "concurrent row", rng.Float64())
					}
					return err
				})
				if err != nil {
					errs[i] = err
					return
				}
				lats[i] = append(lats[i], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	for i := range lats {
		if errs[i] != nil {
			return r, fmt.Errorf("%s: writer %d: %w", r.name, i, errs[i])
		}
		r.lat = append(r.lat, lats[i]...)
	}
	r.ops = int64(len(r.lat))
	return r, nil
}

// percentile returns the p-quantile of sorted durations (0 if none).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted)) + 0.5)
	return sorted[min(max(i-1, 0), len(sorted)-1)]
}

// fmtLatency formats a latency with three significant digits.
func fmtLatency(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%.3gµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.3gms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.3gs", d.Seconds())
}
