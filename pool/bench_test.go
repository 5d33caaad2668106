package pool_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/golibsql/libsql"
	"github.com/golibsql/libsql/pool"
)

// The same work through database/sql (api=sql) and through the pool and
// its native connections (api=pool), on one database, in one run:
//
//	go test -run '^$' -bench . -benchmem -count 6 ./pool | tee pool.out
//	benchstat -col /api pool.out
//
// (make bench-pool). The database: 100k rows, the engine's log with
// sync=normal, so that the commits of BenchmarkTx10 measure the API and the
// engine rather than the disk's flush.

const benchRows = 100_000

// benchDB returns an *sql.DB and a Pool on one new database of benchRows
// users.
func benchDB(b *testing.B) (*sql.DB, *pool.Pool) {
	b.Helper()
	dsn := "file:" + filepath.ToSlash(filepath.Join(b.TempDir(), "bench.db")) + "?sync=normal"
	db, err := libsql.Open(dsn)
	if err != nil {
		b.Fatal(err)
	}
	p, err := pool.Open(dsn, pool.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		p.Close(context.Background())
		db.Close()
	})
	ctx := context.Background()
	err = p.Write(ctx, func(c *pool.Conn) error {
		if _, err := c.Exec(ctx, `CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, score REAL NOT NULL, created INTEGER NOT NULL);
			CREATE TABLE events(id INTEGER PRIMARY KEY, user INTEGER NOT NULL, kind TEXT NOT NULL, at INTEGER NOT NULL)`); err != nil {
			return err
		}
		for i := 1; i <= benchRows; i++ {
			if _, err := c.Exec(ctx, "INSERT INTO users VALUES (?, ?, ?, ?, ?)",
				i, fmt.Sprintf("user %d", i%1000), fmt.Sprintf("user%d@example.com", i%1000), float64(i)*0.25, 1_700_000_000+i); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return db, p
}

const pointSQL = "SELECT id, name, email, score, created FROM users WHERE id = ?"

// BenchmarkPointSelect reads one row by primary key from 100k rows: with
// db.QueryRowContext, and with Get, QueryRow and Put.
func BenchmarkPointSelect(b *testing.B) {
	db, p := benchDB(b)
	ctx := context.Background()
	var (
		id, created int64
		name, email string
		score       float64
	)
	b.Run("api=sql", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(1, 2))
		for b.Loop() {
			if err := db.QueryRowContext(ctx, pointSQL, 1+rng.IntN(benchRows)).Scan(&id, &name, &email, &score, &created); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("api=pool", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(1, 2))
		for b.Loop() {
			c, err := p.Get(ctx)
			if err != nil {
				b.Fatal(err)
			}
			err = c.QueryRow(ctx, pointSQL, 1+rng.IntN(benchRows)).Scan(&id, &name, &email, &score, &created)
			p.Put(c)
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

const eventSQL = "INSERT INTO events(user, kind, at) VALUES (?, ?, ?)"

// BenchmarkTx10 runs transactions of 10 inserts (BEGIN IMMEDIATE; 10
// INSERTs; COMMIT): with db.BeginTx and tx.ExecContext, and with
// Pool.Write. One op is one transaction.
func BenchmarkTx10(b *testing.B) {
	db, p := benchDB(b)
	ctx := context.Background()
	b.Run("api=sql", func(b *testing.B) {
		n := 0
		for b.Loop() {
			tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
			if err != nil {
				b.Fatal(err)
			}
			for range 10 {
				n++
				if _, err := tx.ExecContext(ctx, eventSQL, n%benchRows, "click", n); err != nil {
					b.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("api=pool", func(b *testing.B) {
		n := 0
		for b.Loop() {
			err := p.Write(ctx, func(c *pool.Conn) error {
				for range 10 {
					n++
					if _, err := c.Exec(ctx, eventSQL, n%benchRows, "click", n); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
