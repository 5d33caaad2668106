package libsql_test

// Benchmarks comparing this driver with modernc.org/sqlite's own driver
// through database/sql, on the same kind of database file with the same
// pragmas. Run them with
//
//	make bench-driver
//
// or go test -run '^$' -bench 'PointSelect|BulkInsert|FullScan|BlobRead|Open' -benchmem
// -count 6 ., and compare the drivers with benchstat -col /driver. The
// comparison with every Go SQLite driver is the bench/ module (make bench).

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/golibsql/libsql"
	_ "modernc.org/sqlite" // registers "sqlite", the driver compared with
)

// rowsN is the number of rows in the benchmark table.
const rowsN = 100_000

// drivers are the drivers compared: the benchmark's name for each and its
// database/sql driver name. Both get the same pragmas from open.
var drivers = []struct{ name, sqlName string }{
	{"libsql", libsql.DriverName},
	{"modernc", "sqlite"},
}

const schema = `CREATE TABLE users(
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	email TEXT NOT NULL,
	score REAL NOT NULL,
	created INTEGER NOT NULL
)`

const insertSQL = "INSERT INTO users(id, name, email, score, created) VALUES (?, ?, ?, ?, ?)"

// open opens a new database file with one connection and the pragmas both
// drivers run with: write-ahead log (the only mode of this driver's
// engine; modernc's SQLite switches to it), synchronous=FULL.
func open(b *testing.B, driverName string) *sql.DB {
	b.Helper()
	db, err := sql.Open(driverName, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	for _, p := range []string{
		"PRAGMA journal_mode=WAL",
		"PRAGMA synchronous=FULL",
		"PRAGMA busy_timeout=5000",
		"PRAGMA cache_size=-8192",
	} {
		if _, err := db.Exec(p); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := db.Exec(schema); err != nil {
		b.Fatal(err)
	}
	return db
}

// fill inserts rowsN rows in one transaction with a prepared statement.
func fill(b *testing.B, db *sql.DB) {
	b.Helper()
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	st, err := tx.Prepare(insertSQL)
	if err != nil {
		b.Fatal(err)
	}
	for i := 1; i <= rowsN; i++ {
		if _, err := st.Exec(i, names[i%len(names)], emails[i%len(emails)], float64(i)*0.25, int64(1_700_000_000+i)); err != nil {
			b.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

var names, emails = func() (n, e []string) {
	for i := range 1000 {
		n = append(n, fmt.Sprintf("user %d", i))
		e = append(e, fmt.Sprintf("user%d@example.com", i))
	}
	return n, e
}()

// BenchmarkPointSelect reads one row by primary key from 100k rows with
// db.QueryRow, the common way.
func BenchmarkPointSelect(b *testing.B) {
	for _, d := range drivers {
		b.Run("driver="+d.name, func(b *testing.B) {
			db := open(b, d.sqlName)
			fill(b, db)
			rng := rand.New(rand.NewPCG(1, 2))
			var (
				id, created int64
				name, email string
				score       float64
			)
			for b.Loop() {
				err := db.QueryRow("SELECT id, name, email, score, created FROM users WHERE id = ?", 1+rng.IntN(rowsN)).
					Scan(&id, &name, &email, &score, &created)
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBulkInsert inserts 100k rows in one transaction with a prepared
// statement; one op is the whole transaction.
func BenchmarkBulkInsert(b *testing.B) {
	for _, d := range drivers {
		b.Run("driver="+d.name, func(b *testing.B) {
			db := open(b, d.sqlName)
			for b.Loop() {
				b.StopTimer()
				if _, err := db.Exec("DELETE FROM users"); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				fill(b, db)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/rowsN, "ns/row")
		})
	}
}

// BenchmarkFullScan reads every row of the users table.
func BenchmarkFullScan(b *testing.B) {
	for _, d := range drivers {
		b.Run("driver="+d.name, func(b *testing.B) {
			db := open(b, d.sqlName)
			fill(b, db)
			for b.Loop() {
				scanUsers(b, context.Background(), db)
			}
		})
	}
}

// BenchmarkFullScanContext is BenchmarkFullScan with a context that can be
// cancelled, as a server's request context is: the driver then watches it
// while the rows are open, and interrupts only a step in progress.
func BenchmarkFullScanContext(b *testing.B) {
	for _, d := range drivers {
		b.Run("driver="+d.name, func(b *testing.B) {
			db := open(b, d.sqlName)
			fill(b, db)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			for b.Loop() {
				scanUsers(b, ctx, db)
			}
		})
	}
}

// scanUsers reads every row of the users table fill made, under ctx.
func scanUsers(b *testing.B, ctx context.Context, db *sql.DB) {
	var (
		id, created int64
		name, email string
		score       float64
	)
	rows, err := db.QueryContext(ctx, "SELECT id, name, email, score, created FROM users")
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(&id, &name, &email, &score, &created); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	rows.Close()
	if n != rowsN {
		b.Fatalf("scanned %d rows", n)
	}
}

// BenchmarkBlobRead reads 1 MiB blobs by key, at random among 64 (64 MiB,
// more than either driver's caches hold); one op is one blob.
func BenchmarkBlobRead(b *testing.B) {
	const blobs, size = 64, 1 << 20
	for _, d := range drivers {
		b.Run("driver="+d.name, func(b *testing.B) {
			db := open(b, d.sqlName)
			if _, err := db.Exec("CREATE TABLE b(id INTEGER PRIMARY KEY, data BLOB NOT NULL)"); err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(5, 6))
			blob := make([]byte, size)
			for i := range blob {
				blob[i] = byte(rng.Uint32())
			}
			for i := range blobs {
				if _, err := db.Exec("INSERT INTO b(id, data) VALUES (?, ?)", i+1, blob); err != nil {
					b.Fatal(err)
				}
			}
			var got []byte
			b.SetBytes(size)
			for b.Loop() {
				if err := db.QueryRow("SELECT data FROM b WHERE id = ?", 1+rng.IntN(blobs)).Scan(&got); err != nil {
					b.Fatal(err)
				}
				if len(got) != size {
					b.Fatalf("read %d bytes", len(got))
				}
			}
		})
	}
}

// BenchmarkOpen opens a database file that exists and runs a first query,
// with sql.Open (one op: open, query, close). With alone, no other
// connection has the file open, so each op starts the storage engine (for
// modernc: opens the file and the WAL index); with others, another
// *sql.DB keeps it open, so an op adds a connection to a running engine.
func BenchmarkOpen(b *testing.B) {
	for _, others := range []bool{false, true} {
		for _, d := range drivers {
			b.Run(fmt.Sprintf("others=%v/driver=%s", others, d.name), func(b *testing.B) {
				path := filepath.Join(b.TempDir(), "open.db")
				keep, err := sql.Open(d.sqlName, path)
				if err != nil {
					b.Fatal(err)
				}
				defer keep.Close()
				for _, q := range []string{"PRAGMA journal_mode=WAL", "CREATE TABLE t(x)", "INSERT INTO t VALUES (1)"} {
					if _, err := keep.Exec(q); err != nil {
						b.Fatal(err)
					}
				}
				if !others {
					keep.Close()
				}
				for b.Loop() {
					db, err := sql.Open(d.sqlName, path)
					if err != nil {
						b.Fatal(err)
					}
					var n int
					if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
						b.Fatalf("count %d, %v", n, err)
					}
					if err := db.Close(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkOpenScan opens a database file of 100k rows (in WAL mode) that
// no connection has open, sums a column over every row and closes it (one op), as a
// program that opens a database for each piece of work does: each op
// starts the storage engine and fills its page cache from the file.
func BenchmarkOpenScan(b *testing.B) {
	for _, d := range drivers {
		b.Run("driver="+d.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "scan.db")
			db, err := sql.Open(d.sqlName, path)
			if err != nil {
				b.Fatal(err)
			}
			db.SetMaxOpenConns(1)
			for _, q := range []string{"PRAGMA journal_mode=WAL", schema} {
				if _, err := db.Exec(q); err != nil {
					b.Fatal(err)
				}
			}
			fill(b, db)
			if err := db.Close(); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				db, err := sql.Open(d.sqlName, path)
				if err != nil {
					b.Fatal(err)
				}
				var n int64
				if err := db.QueryRow("SELECT sum(length(email)) FROM users").Scan(&n); err != nil || n == 0 {
					b.Fatalf("sum %d, %v", n, err)
				}
				if err := db.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
