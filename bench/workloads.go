package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golibsql/libsql"
)

// Metric is one figure a workload measured.
type Metric struct {
	Name  string  // what it is, with its unit: "inserts/s", "p99 ms"
	Label string  // short name in the chart; "" keeps it out of the chart
	Value float64 // the measurement
	// Higher is true when a higher value is better (throughputs), false
	// when a lower one is (latencies).
	Higher bool
	// NoRatio: shown as an absolute figure only, not compared with the
	// baseline (conflict retries, which only one driver has).
	NoRatio bool
}

// Workload is one thing measured, for each driver in turn.
type Workload struct {
	Name  string // identifier, for -only
	Title string // what it does, for the results table
	Sync  string // PRAGMA synchronous it runs with: FULL or NORMAL
	Run   func(ctx context.Context, e Env) ([]Metric, error)
}

// Env is what a workload runs with.
type Env struct {
	Driver   Driver
	Dir      string        // a fresh, empty directory for the database
	Duration time.Duration // how long each timed phase runs
	Scale    Scale
}

// Scale holds the sizes of the workloads.
type Scale struct {
	Rows        int // rows of the bulk insert, point-select and full-scan table
	PrefillRows int // rows already in the one-table writers' table and the readers' table
	Writers     int // concurrent writers
	TxRows      int // rows inserted by each writer transaction
	Readers     int // readers beside the one writer
	BlobBytes   int // size of each blob
	MaxBlobs    int // at most this many blobs are written
}

// DefaultScale is what make bench runs.
var DefaultScale = Scale{Rows: 100_000, PrefillRows: 20_000, Writers: 8, TxRows: 10, Readers: 4, BlobBytes: 1 << 20, MaxBlobs: 64}

// QuickScale is for the module's tests: every code path, little time.
var QuickScale = Scale{Rows: 2_000, PrefillRows: 500, Writers: 8, TxRows: 10, Readers: 4, BlobBytes: 1 << 20, MaxBlobs: 4}

// Workloads are the workloads, in the order of the results.
var Workloads = []Workload{
	{
		Name: "insert-full", Sync: "FULL",
		Title: "single-row autocommit INSERTs, synchronous=FULL",
		Run:   func(ctx context.Context, e Env) ([]Metric, error) { return insertAutocommit(ctx, e, "FULL") },
	},
	{
		Name: "insert-normal", Sync: "NORMAL",
		Title: "single-row autocommit INSERTs, synchronous=NORMAL",
		Run:   func(ctx context.Context, e Env) ([]Metric, error) { return insertAutocommit(ctx, e, "NORMAL") },
	},
	{
		Name: "rows", Sync: "NORMAL",
		Title: "bulk insert of 100k rows in one transaction, then point selects by key and full scans of them, synchronous=NORMAL",
		Run:   bulkPointScan,
	},
	{
		Name: "writers-own", Sync: "FULL",
		Title: "8 concurrent writers, each on its own table, 10-row transactions, synchronous=FULL",
		Run:   func(ctx context.Context, e Env) ([]Metric, error) { return writers(ctx, e, false) },
	},
	{
		Name: "writers-one", Sync: "FULL",
		Title: "8 concurrent writers on one table (random keys), 10-row transactions, synchronous=FULL",
		Run:   func(ctx context.Context, e Env) ([]Metric, error) { return writers(ctx, e, true) },
	},
	{
		Name: "readers-writer", Sync: "NORMAL",
		Title: "4 readers (point selects) + 1 writer (single-row autocommit INSERTs), synchronous=NORMAL",
		Run:   readersWriter,
	},
	{
		Name: "blobs", Sync: "NORMAL",
		Title: "1 MiB blobs: autocommit INSERTs, then reads by key, synchronous=NORMAL",
		Run:   blobs,
	},
	{
		Name: "functions", Sync: "NORMAL",
		Title: "a Go SQL function called on each of 100k rows, registered the driver's way",
		Run:   functions,
	},
}

// WorkloadByName returns the workload called name.
func WorkloadByName(name string) (Workload, bool) {
	for _, w := range Workloads {
		if w.Name == name {
			return w, true
		}
	}
	return Workload{}, false
}

// open opens the workload's database with room for conns connections.
func (e Env) open(ctx context.Context, sync string, conns int) (*sql.DB, error) {
	db, err := e.Driver.Open(ctx, filepath.Join(e.Dir, "bench.db"), sync)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	return db, nil
}

// timed calls op until d has passed (at least once), and returns how many
// times it ran and for how long.
func timed(d time.Duration, op func(i int) error) (int, time.Duration, error) {
	start := time.Now()
	for i := 0; ; i++ {
		if err := op(i); err != nil {
			return i, time.Since(start), err
		}
		if el := time.Since(start); el >= d {
			return i + 1, el, nil
		}
	}
}

func perSecond(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

const usersSchema = `CREATE TABLE users(
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	email TEXT NOT NULL,
	score REAL NOT NULL,
	created INTEGER NOT NULL
)`

const usersInsert = "INSERT INTO users(id, name, email, score, created) VALUES (?, ?, ?, ?, ?)"

const usersSelect = "SELECT id, name, email, score, created FROM users WHERE id = ?"

var names, emails = func() (n, e []string) {
	for i := range 1000 {
		n = append(n, fmt.Sprintf("user %d", i))
		e = append(e, fmt.Sprintf("user%d@example.com", i))
	}
	return n, e
}()

// fillUsers inserts rows 1..n into users in one transaction with a
// prepared statement.
func fillUsers(ctx context.Context, db *sql.DB, n int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, usersInsert)
	if err != nil {
		return err
	}
	for i := 1; i <= n; i++ {
		if _, err := st.ExecContext(ctx, i, names[i%len(names)], emails[i%len(emails)], float64(i)*0.25, int64(1_700_000_000+i)); err != nil {
			return err
		}
	}
	if err := st.Close(); err != nil {
		return err
	}
	return tx.Commit()
}

// pointSelect reads user id.
func pointSelect(ctx context.Context, db *sql.DB, id int) error {
	var (
		uid, created int64
		name, email  string
		score        float64
	)
	if err := db.QueryRowContext(ctx, usersSelect, id).Scan(&uid, &name, &email, &score, &created); err != nil {
		return err
	}
	if uid != int64(id) {
		return fmt.Errorf("point select of %d returned %d", id, uid)
	}
	return nil
}

// insertAutocommit measures single-row INSERTs, each its own transaction.
func insertAutocommit(ctx context.Context, e Env, sync string) ([]Metric, error) {
	db, err := e.open(ctx, sync, 1)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, usersSchema); err != nil {
		return nil, err
	}
	n, d, err := timed(e.Duration, func(i int) error {
		_, err := db.ExecContext(ctx, usersInsert, i+1, names[i%len(names)], emails[i%len(emails)], float64(i)*0.25, int64(1_700_000_000+i))
		return err
	})
	if err != nil {
		return nil, err
	}
	label := "insert, sync=" + strings.ToLower(sync)
	return []Metric{{Name: "inserts/s", Label: label, Value: perSecond(n, d), Higher: true}}, nil
}

// bulkPointScan inserts Scale.Rows rows in one transaction, then runs point
// selects and full scans on them.
func bulkPointScan(ctx context.Context, e Env) ([]Metric, error) {
	db, err := e.open(ctx, "NORMAL", 1)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, usersSchema); err != nil {
		return nil, err
	}
	start := time.Now()
	if err := fillUsers(ctx, db, e.Scale.Rows); err != nil {
		return nil, err
	}
	bulk := perSecond(e.Scale.Rows, time.Since(start))

	rng := rand.New(rand.NewPCG(1, 2))
	n, d, err := timed(e.Duration, func(int) error { return pointSelect(ctx, db, 1+rng.IntN(e.Scale.Rows)) })
	if err != nil {
		return nil, err
	}
	point := perSecond(n, d)

	var (
		id, created int64
		name, email string
		score       float64
	)
	n, d, err = timed(e.Duration, func(int) error {
		rows, err := db.QueryContext(ctx, "SELECT id, name, email, score, created FROM users")
		if err != nil {
			return err
		}
		defer rows.Close()
		k := 0
		for rows.Next() {
			if err := rows.Scan(&id, &name, &email, &score, &created); err != nil {
				return err
			}
			k++
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if k != e.Scale.Rows {
			return fmt.Errorf("full scan read %d rows of %d", k, e.Scale.Rows)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	scan := perSecond(n*e.Scale.Rows, d)
	return []Metric{
		{Name: "bulk insert rows/s", Label: "bulk insert", Value: bulk, Higher: true},
		{Name: "point select queries/s", Label: "point select", Value: point, Higher: true},
		{Name: "full scan rows/s", Label: "full scan", Value: scan, Higher: true},
	}, nil
}

// latencies returns the p50, p99 and max of ds in milliseconds, as
// metrics named with prefix.
func latencies(prefix string, ds []time.Duration) []Metric {
	if len(ds) == 0 {
		return nil
	}
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	at := func(q float64) time.Duration { return ds[int(q*float64(len(ds)-1))] }
	return []Metric{
		{Name: prefix + "p50 ms", Value: ms(at(0.50))},
		{Name: prefix + "p99 ms", Value: ms(at(0.99))},
		{Name: prefix + "max ms", Value: ms(ds[len(ds)-1])},
	}
}

// payload is the text column of the writers' rows.
var payload = strings.Repeat("0123456789abcdef", 6)

// writers runs Scale.Writers concurrent writers for Duration, each
// committing transactions of Scale.TxRows inserts: into a table of its own,
// or all into one table at random keys. This driver's writers use BEGIN
// CONCURRENT through libsql.RetryTx (a conflict rolls the transaction back
// and runs it again); the others BEGIN IMMEDIATE, waiting for the write
// lock with the busy timeout. A transaction's latency runs from its begin
// to its commit's return, retries included.
func writers(ctx context.Context, e Env, oneTable bool) ([]Metric, error) {
	nw := e.Scale.Writers
	db, err := e.open(ctx, "FULL", nw)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	table := func(w int) string { return fmt.Sprintf("w%d", w) }
	if oneTable {
		table = func(int) string { return "t" }
		if _, err := db.ExecContext(ctx, "CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER NOT NULL, payload TEXT NOT NULL)"); err != nil {
			return nil, err
		}
		// Rows spread over the key space, so that random keys land all over
		// the b-tree.
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		step := int64(1) << 62 / int64(e.Scale.PrefillRows)
		for i := range e.Scale.PrefillRows {
			if _, err := tx.ExecContext(ctx, "INSERT INTO t VALUES (?, ?, ?)", int64(i)*step, i, payload); err != nil {
				tx.Rollback()
				return nil, err
			}
		}
		if err := tx.Commit(); err != nil {
			return nil, err
		}
	} else {
		for w := range nw {
			if _, err := db.ExecContext(ctx, "CREATE TABLE "+table(w)+"(id INTEGER PRIMARY KEY, k INTEGER NOT NULL, payload TEXT NOT NULL)"); err != nil {
				return nil, err
			}
		}
	}
	// Every writer's connection is open before the clock starts.
	conns := make([]*sql.Conn, nw)
	for w := range conns {
		if conns[w], err = db.Conn(ctx); err != nil {
			return nil, err
		}
	}
	for _, c := range conns {
		c.Close()
	}

	var (
		attempts atomic.Int64
		commits  atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		lat      []time.Duration
		firstErr error
	)
	begin := make(chan struct{})
	var deadline time.Time
	for w := range nw {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			insert := "INSERT INTO " + table(w) + "(k, payload) VALUES (?, ?)"
			if oneTable {
				insert = "INSERT OR IGNORE INTO t(id, k, payload) VALUES (?, ?, ?)"
			}
			body := func(tx *sql.Tx) error {
				attempts.Add(1)
				for r := range e.Scale.TxRows {
					var err error
					if oneTable {
						_, err = tx.ExecContext(ctx, insert, rng.Int64N(1<<62), r, payload)
					} else {
						_, err = tx.ExecContext(ctx, insert, r, payload)
					}
					if err != nil {
						return err
					}
				}
				return nil
			}
			var mine []time.Duration
			<-begin
			for time.Now().Before(deadline) {
				t0 := time.Now()
				var err error
				if e.Driver.Concurrent {
					err = libsql.RetryTx(ctx, db, &sql.TxOptions{Isolation: libsql.LevelConcurrent}, body)
				} else {
					err = plainTx(ctx, db, body)
				}
				if err != nil {
					mu.Lock()
					firstErr = cmpOr(firstErr, fmt.Errorf("writer %d: %w", w, err))
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t0))
				commits.Add(1)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	start := time.Now()
	deadline = start.Add(e.Duration)
	close(begin)
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return nil, firstErr
	}
	n := int(commits.Load())
	label := "8 writers, own tables"
	if oneTable {
		label = "8 writers, one table"
	}
	m := []Metric{{Name: "transactions/s", Label: label, Value: perSecond(n, elapsed), Higher: true}}
	m = append(m, latencies("commit latency ", lat)...)
	m = append(m, Metric{Name: "conflict retries per 100 transactions", Value: 100 * float64(attempts.Load()-int64(n)) / float64(max(n, 1)), NoRatio: true})
	return m, nil
}

// cmpOr returns a if it is not nil, else b.
func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// plainTx runs fn in a transaction begun as the DSN says (BEGIN IMMEDIATE)
// and commits it.
func plainTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
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

// readersWriter runs Scale.Readers readers doing point selects beside one
// writer inserting single rows, for Duration.
func readersWriter(ctx context.Context, e Env) ([]Metric, error) {
	db, err := e.open(ctx, "NORMAL", e.Scale.Readers+1)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, usersSchema); err != nil {
		return nil, err
	}
	if err := fillUsers(ctx, db, e.Scale.PrefillRows); err != nil {
		return nil, err
	}
	var (
		wg    sync.WaitGroup
		reads atomic.Int64
		errs  = make(chan error, e.Scale.Readers+1)
		stop  atomic.Bool
	)
	begin := make(chan struct{})
	for r := range e.Scale.Readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 3))
			<-begin
			for !stop.Load() {
				if err := pointSelect(ctx, db, 1+rng.IntN(e.Scale.PrefillRows)); err != nil {
					errs <- fmt.Errorf("reader %d: %w", r, err)
					return
				}
				reads.Add(1)
			}
		}()
	}
	var lat []time.Duration
	close(begin)
	n, d, err := timed(e.Duration, func(i int) error {
		id := e.Scale.PrefillRows + 1 + i
		t0 := time.Now()
		_, err := db.ExecContext(ctx, usersInsert, id, names[i%len(names)], emails[i%len(emails)], 0.5, int64(id))
		lat = append(lat, time.Since(t0))
		return err
	})
	stop.Store(true)
	wg.Wait()
	close(errs)
	if err != nil {
		return nil, fmt.Errorf("writer: %w", err)
	}
	if err := <-errs; err != nil {
		return nil, err
	}
	m := []Metric{
		{Name: "reader queries/s (4 readers)", Label: "4 readers + 1 writer: reads", Value: perSecond(int(reads.Load()), d), Higher: true},
		{Name: "writer rows/s", Label: "4 readers + 1 writer: writes", Value: perSecond(n, d), Higher: true},
	}
	return append(m, latencies("writer commit latency ", lat)...), nil
}

// blobs writes blobs of Scale.BlobBytes, each in its own transaction, for
// Duration or up to Scale.MaxBlobs, then reads them back at random for
// Duration.
func blobs(ctx context.Context, e Env) ([]Metric, error) {
	db, err := e.open(ctx, "NORMAL", 1)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE TABLE b(id INTEGER PRIMARY KEY, data BLOB NOT NULL)"); err != nil {
		return nil, err
	}
	blob := make([]byte, e.Scale.BlobBytes)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range blob {
		blob[i] = byte(rng.Uint32())
	}
	var written int
	start := time.Now()
	for written < e.Scale.MaxBlobs && (written == 0 || time.Since(start) < e.Duration) {
		blob[0], blob[1] = byte(written), byte(written>>8)
		if _, err := db.ExecContext(ctx, "INSERT INTO b(id, data) VALUES (?, ?)", written+1, blob); err != nil {
			return nil, err
		}
		written++
	}
	mib := float64(e.Scale.BlobBytes) / (1 << 20)
	write := mib * float64(written) / time.Since(start).Seconds()
	var got []byte
	n, d, err := timed(e.Duration, func(int) error {
		if err := db.QueryRowContext(ctx, "SELECT data FROM b WHERE id = ?", 1+rng.IntN(written)).Scan(&got); err != nil {
			return err
		}
		if len(got) != len(blob) {
			return errors.New("blob read back with the wrong size")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return []Metric{
		{Name: "write MiB/s", Label: "1 MiB blobs: write", Value: write, Higher: true},
		{Name: "read MiB/s", Label: "1 MiB blobs: read", Value: mib * perSecond(n, d), Higher: true},
	}, nil
}
