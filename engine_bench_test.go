package libsql_test

// Benchmarks of the storage engine's concurrency and of change capture,
// against modernc.org/sqlite's stock driver in WAL mode where a comparison
// applies. Run them with
//
//	go test -run '^$' -bench 'Writers|ConcurrentTx|ReadersWriter|CDC' -count 6 .
//
// and compare with benchstat. Each reports its own metrics (commits/s,
// tx/s, latency percentiles, conflicts, rebases) beside ns/op.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golibsql/libsql"
	"github.com/golibsql/libsql/changefeed"
)

// openConcurrent opens a database for n connections with the pragmas every
// driver gets: WAL (the engine's only mode), the given synchronous level,
// a 10 s busy timeout.
func openConcurrent(b *testing.B, driverName, syncMode string, n int) *sql.DB {
	b.Helper()
	return openConcurrentAt(b, driverName, filepath.Join(b.TempDir(), "bench.db"), syncMode, n)
}

// openConcurrentAt is openConcurrent on the database at path.
func openConcurrentAt(b *testing.B, driverName, path, syncMode string, n int) *sql.DB {
	b.Helper()
	dsn := path + "?_txlock=immediate&_pragma=journal_mode(wal)&_pragma=busy_timeout(10000)&_pragma=synchronous(" + syncMode + ")"
	if driverName == libsql.DriverName {
		dsn = "file:" + path + "?busy_timeout=10s&sync=" + syncMode
	}
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	return db
}

// latencies collects operation latencies from several goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// report adds p50, p99 and max in milliseconds to the benchmark.
func (l *latencies) report(b *testing.B) {
	if len(l.d) == 0 {
		return
	}
	slices.Sort(l.d)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(l.d[len(l.d)/2]), "p50-ms")
	b.ReportMetric(ms(l.d[len(l.d)*99/100]), "p99-ms")
	b.ReportMetric(ms(l.d[len(l.d)-1]), "max-ms")
}

// runWorkers runs b.N operations over workers goroutines and reports ops/s.
func runWorkers(b *testing.B, workers int, op func(worker, i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Int64
	b.ResetTimer()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				if err := op(w, i); err != nil {
					if failed.Add(1) == 1 {
						b.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(failed.Load()), "errors")
}

// engineStats reads PRAGMA libsql_stats.
func engineStats(b *testing.B, db *sql.DB) map[string]any {
	var s string
	if err := db.QueryRow("PRAGMA libsql_stats").Scan(&s); err != nil {
		b.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal([]byte(s), &m)
	return m
}

func concurrentCounters(b *testing.B, db *sql.DB) (conflicts, rebases float64) {
	c, _ := engineStats(b, db)["concurrent"].(map[string]any)
	conflicts, _ = c["conflicts"].(float64)
	rebases, _ = c["rebased"].(float64)
	return
}

// BenchmarkWriters: 8 writers of single-row autocommit inserts, commit
// latency percentiles included.
func BenchmarkWriters(b *testing.B) {
	for _, sync := range []string{"full", "normal"} {
		for _, d := range drivers {
			b.Run(fmt.Sprintf("sync=%s/driver=%s", sync, d.name), func(b *testing.B) {
				db := openConcurrent(b, d.sqlName, sync, 8)
				if _, err := db.Exec("CREATE TABLE t(w INTEGER, i INTEGER, pad TEXT)"); err != nil {
					b.Fatal(err)
				}
				var lat latencies
				runWorkers(b, 8, func(w, i int) error {
					start := time.Now()
					_, err := db.Exec("INSERT INTO t VALUES (?, ?, 'some padding for the row')", w, i)
					lat.add(time.Since(start))
					return err
				})
				lat.report(b)
				if d.sqlName == libsql.DriverName {
					st := engineStats(b, db)
					b.ReportMetric(st["commits"].(float64)/max(st["fsyncs"].(float64), 1), "commits/fsync")
				}
			})
		}
	}
}

// BenchmarkConcurrentTx: 8 goroutines of 10-insert transactions, each on a
// table of its own or all on one table with random keys: BEGIN CONCURRENT
// (through RetryTx) and BEGIN IMMEDIATE on our engine, BEGIN IMMEDIATE on
// modernc's stock WAL.
func BenchmarkConcurrentTx(b *testing.B) {
	type mode struct {
		name, driver string
		opts         *sql.TxOptions
	}
	modes := []mode{
		{"libsql-concurrent", libsql.DriverName, &sql.TxOptions{Isolation: libsql.LevelConcurrent}},
		{"libsql-immediate", libsql.DriverName, &sql.TxOptions{Isolation: sql.LevelSerializable}},
		{"modernc-immediate", "sqlite", nil},
	}
	for _, tables := range []string{"own", "one"} {
		for _, sync := range []string{"full", "normal"} {
			for _, m := range modes {
				b.Run(fmt.Sprintf("tables=%s/sync=%s/mode=%s", tables, sync, m.name), func(b *testing.B) {
					db := openConcurrent(b, m.driver, sync, 8)
					for w := range 8 {
						if _, err := db.Exec(fmt.Sprintf("CREATE TABLE t%d(k INTEGER PRIMARY KEY, v TEXT)", w)); err != nil {
							b.Fatal(err)
						}
					}
					ctx := context.Background()
					var lat latencies
					runWorkers(b, 8, func(w, i int) error {
						table := fmt.Sprintf("t%d", w)
						if tables == "one" {
							table = "t0"
						}
						rng := rand.New(rand.NewPCG(uint64(w), uint64(i)))
						start := time.Now()
						err := txFor(ctx, db, m.driver, m.opts, func(tx *sql.Tx) error {
							for j := range 10 {
								k := int64(i*10 + j)
								if tables == "one" {
									k = rng.Int64N(1 << 40)
								}
								if _, err := tx.Exec("INSERT OR REPLACE INTO "+table+" VALUES (?, 'a value of some length')", k); err != nil {
									return err
								}
							}
							return nil
						})
						lat.add(time.Since(start))
						return err
					})
					lat.report(b)
					if m.driver == libsql.DriverName {
						conflicts, rebases := concurrentCounters(b, db)
						b.ReportMetric(conflicts/float64(b.N), "conflicts/tx")
						b.ReportMetric(rebases/float64(b.N), "rebases/tx")
					}
				})
			}
		}
	}
}

// txFor runs fn in a transaction: through RetryTx with opts for our
// driver; for modernc's, a plain BeginTx, which its _txlock=immediate DSN
// key (set by openConcurrent) makes BEGIN IMMEDIATE.
func txFor(ctx context.Context, db *sql.DB, driverName string, opts *sql.TxOptions, fn func(*sql.Tx) error) error {
	if driverName == libsql.DriverName {
		return libsql.RetryTx(ctx, db, opts, fn)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// BenchmarkReadersWriter: 4 readers doing point selects by random id over
// 100k rows, alone (writer=none) and beside 1 writer of single-row
// autocommit inserts (synchronous=NORMAL) into their database (same-db) or
// into a database of its own (other-db); reports the readers' and the
// writer's throughput. other-db is the control: the writer takes the same
// share of the CPU without touching the readers' database, so what
// same-db loses beyond it is the cost of sharing the database.
//
// The paced variants (our driver only) hold the writer to pacedRows rows/s,
// the writer's target in the issue, instead of letting it take its share
// of the CPU: same-db-paced writes through the readers' pool, as an
// application with one *sql.DB does; same-file-paced through a pool of its
// own on the same file; other-db-paced into another database (the
// control, the CPU the writes themselves take).
func BenchmarkReadersWriter(b *testing.B) {
	const pacedRows = 39000
	for _, writer := range []string{"none", "same-db", "other-db", "same-db-paced", "same-file-paced", "other-db-paced"} {
		paced := strings.HasSuffix(writer, "-paced")
		for _, d := range drivers {
			if paced && d.sqlName != libsql.DriverName {
				continue
			}
			b.Run(fmt.Sprintf("writer=%s/driver=%s", writer, d.name), func(b *testing.B) {
				db := openConcurrent(b, d.sqlName, "normal", 5)
				if _, err := db.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)"); err != nil {
					b.Fatal(err)
				}
				if _, err := db.Exec("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 100000) INSERT INTO t SELECT x, printf('value %d', x) FROM c"); err != nil {
					b.Fatal(err)
				}
				wdb := db
				switch strings.TrimSuffix(writer, "-paced") {
				case "other-db":
					wdb = openConcurrent(b, d.sqlName, "normal", 1)
					if _, err := wdb.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)"); err != nil {
						b.Fatal(err)
					}
				case "same-file":
					var path string
					if err := db.QueryRow("SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&path); err != nil {
						b.Fatal(err)
					}
					wdb = openConcurrentAt(b, d.sqlName, path, "normal", 1)
				}
				stop := make(chan struct{})
				var written atomic.Int64
				var wg sync.WaitGroup
				if writer != "none" {
					wg.Add(1)
					go func() {
						defer wg.Done()
						start := time.Now()
						for i := 200000; ; i++ {
							select {
							case <-stop:
								return
							default:
							}
							for paced && float64(i-200000) > time.Since(start).Seconds()*pacedRows {
								time.Sleep(500 * time.Microsecond)
							}
							if _, err := wdb.Exec("INSERT INTO t VALUES (?, 'new row')", i); err != nil {
								b.Error(err)
								return
							}
							written.Add(1)
						}
					}()
				}
				start := time.Now()
				runWorkers(b, 4, func(w, i int) error {
					var v string
					return db.QueryRow("SELECT v FROM t WHERE id = ?", 1+(i*7919)%100000).Scan(&v)
				})
				elapsed := time.Since(start)
				close(stop)
				wg.Wait()
				if writer != "none" {
					b.ReportMetric(float64(written.Load())/elapsed.Seconds(), "writer-rows/s")
				}
			})
		}
	}
}

// BenchmarkCDC: single-row autocommit inserts and 10-row transactions with
// CDC off, with an in-memory stream subscribed (a consumer reading every
// change), and with durable CDC (cdc=on, no subscriber).
func BenchmarkCDC(b *testing.B) {
	for _, rowsPerTx := range []int{1, 10} {
		for _, mode := range []string{"off", "stream", "durable"} {
			b.Run(fmt.Sprintf("rows=%d/cdc=%s", rowsPerTx, mode), func(b *testing.B) {
				path := filepath.Join(b.TempDir(), "cdc.db")
				dsn := "file:" + path + "?sync=normal"
				if mode == "durable" {
					dsn += "&cdc=on"
				}
				db, err := libsql.Open(dsn, libsql.WithMaxConns(1))
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				if _, err := db.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, score REAL)"); err != nil {
					b.Fatal(err)
				}
				var received atomic.Int64
				var lagged atomic.Bool
				var consumer sync.WaitGroup
				var stream *libsql.ChangeStream
				if mode == "stream" {
					stream, err = libsql.Changes(context.Background(), db, libsql.ChangeOptions{})
					if err != nil {
						b.Fatal(err)
					}
					consumer.Add(1)
					go func() {
						defer consumer.Done()
						for _, err := range stream.All(context.Background()) {
							if err != nil {
								if err != context.Canceled && !isClosed(err) {
									lagged.Store(true)
								}
								return
							}
							received.Add(1)
						}
					}()
				}
				ctx := context.Background()
				b.ResetTimer()
				for i := range b.N {
					if rowsPerTx == 1 {
						if _, err := db.Exec("INSERT INTO t(name, score) VALUES (?, ?)", "name", float64(i)); err != nil {
							b.Fatal(err)
						}
						continue
					}
					tx, err := db.BeginTx(ctx, nil)
					if err != nil {
						b.Fatal(err)
					}
					for range rowsPerTx {
						if _, err := tx.Exec("INSERT INTO t(name, score) VALUES (?, ?)", "name", float64(i)); err != nil {
							b.Fatal(err)
						}
					}
					if err := tx.Commit(); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N*rowsPerTx)/b.Elapsed().Seconds(), "rows/s")
				if stream != nil {
					want := int64(b.N * rowsPerTx)
					deadline := time.Now().Add(5 * time.Second)
					for received.Load() < want && time.Now().Before(deadline) && !lagged.Load() {
						time.Sleep(time.Millisecond)
					}
					stream.Close()
					consumer.Wait()
					if lagged.Load() || received.Load() != want {
						b.Fatalf("the subscriber received %d of %d changes (lagged: %v)", received.Load(), want, lagged.Load())
					}
				}
			})
		}
	}
}

func isClosed(err error) bool { return errors.Is(err, changefeed.ErrClosed) }

// BenchmarkConcurrentTxMemory measures what a BEGIN CONCURRENT
// transaction keeps per row change until it commits (its private pages
// and the changes it captured for a possible replay): the live heap after
// inserting 200k rows of 100-byte text, against the same rows inserted
// under BEGIN IMMEDIATE, which captures nothing.
func BenchmarkConcurrentTxMemory(b *testing.B) {
	const rows = 200_000
	for _, mode := range []string{"immediate", "concurrent"} {
		b.Run("mode="+mode, func(b *testing.B) {
			var grew uint64
			for range b.N {
				db, err := libsql.Open("file:"+filepath.Join(b.TempDir(), "m.db")+"?sync=off", libsql.WithMaxConns(1))
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				c, err := db.Conn(ctx)
				if err != nil {
					b.Fatal(err)
				}
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				for _, q := range []string{
					"CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)",
					"BEGIN " + strings.ToUpper(mode),
					fmt.Sprintf("WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM s WHERE x < %d) INSERT INTO t(v) SELECT printf('%%0100d', x) FROM s", rows),
				} {
					if _, err := c.ExecContext(ctx, q); err != nil {
						b.Fatal(err)
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				grew += after.HeapAlloc - before.HeapAlloc
				if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
					b.Fatal(err)
				}
				c.Close()
				db.Close()
			}
			b.ReportMetric(float64(grew)/float64(b.N)/rows, "heap-B/row")
		})
	}
}

// BenchmarkIdleConns: 4 goroutines doing point selects on one *sql.DB of
// at most 5 connections, keeping database/sql's default of 2 idle or all
// 5. With 2, a goroutine often finds no idle connection: it opens one,
// and database/sql closes it when it comes back (README, "Data source
// names").
func BenchmarkIdleConns(b *testing.B) {
	for _, idle := range []int{2, 5} {
		b.Run(fmt.Sprintf("idle=%d", idle), func(b *testing.B) {
			db := openConcurrent(b, libsql.DriverName, "normal", 5)
			db.SetMaxIdleConns(idle)
			if _, err := db.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)"); err != nil {
				b.Fatal(err)
			}
			if _, err := db.Exec("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 10000) INSERT INTO t SELECT x, printf('value %d', x) FROM c"); err != nil {
				b.Fatal(err)
			}
			runWorkers(b, 4, func(w, i int) error {
				var v string
				return db.QueryRow("SELECT v FROM t WHERE id = ?", 1+(i*7919)%10000).Scan(&v)
			})
		})
	}
}
