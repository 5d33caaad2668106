package libsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// concurrentLoad runs writers and readers on one *sql.DB at once: each
// writer adds 1 to a counter row in serializable transactions, readers
// check that the sum of the counters never goes down. At the end the sum
// must be the number of committed increments.
func concurrentLoad(t *testing.T, db *sql.DB, writers, readers, perWriter int) {
	t.Helper()
	mustExec(t, db, "CREATE TABLE IF NOT EXISTS counters(id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
	for i := range writers {
		mustExec(t, db, "INSERT INTO counters VALUES (?, 0)", i)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, writers+readers)
	stop := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWriter {
				tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
				if err != nil {
					errs <- fmt.Errorf("writer %d begin: %w", w, err)
					return
				}
				if _, err := tx.Exec("UPDATE counters SET n = n + 1 WHERE id = ?", w); err != nil {
					tx.Rollback()
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
				if err := tx.Commit(); err != nil {
					errs <- fmt.Errorf("writer %d commit: %w", w, err)
					return
				}
			}
		}()
	}
	var rwg sync.WaitGroup
	for r := range readers {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			last := int64(0)
			for {
				select {
				case <-stop:
					return
				default:
				}
				var sum int64
				if err := db.QueryRowContext(ctx, "SELECT coalesce(sum(n), 0) FROM counters").Scan(&sum); err != nil {
					errs <- fmt.Errorf("reader %d: %w", r, err)
					return
				}
				if sum < last {
					errs <- fmt.Errorf("reader %d: sum went down from %d to %d", r, last, sum)
					return
				}
				last = sum
			}
		}()
	}
	wg.Wait()
	close(stop)
	rwg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var sum int64
	if err := db.QueryRow("SELECT sum(n) FROM counters").Scan(&sum); err != nil {
		t.Fatal(err)
	}
	if want := int64(writers * perWriter); sum != want {
		t.Errorf("sum %d, want %d", sum, want)
	}
}

func TestConcurrentReadersAndWritersOnFile(t *testing.T) {
	n := 20
	if soak() {
		n = 2000
	}
	db := openTestDB(t, "busy_timeout=20s&max_conns=8")
	concurrentLoad(t, db, 4, 4, n)
}

func TestConcurrentReadersAndWritersInMemory(t *testing.T) {
	n := 20
	if soak() {
		n = 2000
	}
	db := openTestDSN(t, ":memory:?busy_timeout=20s&max_conns=8")
	concurrentLoad(t, db, 4, 4, n)
}

func TestConcurrentCancellationRace(t *testing.T) {
	db := openTestDB(t, "max_conns=4")
	mustExec(t, db, "CREATE TABLE t(x)")
	iters := 30
	if soak() {
		iters = 3000
	}
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for range iters {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rng.IntN(3000))*time.Microsecond)
				var err error
				switch rng.IntN(3) {
				case 0:
					var n int64
					err = db.QueryRowContext(ctx, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c LIMIT 20000) SELECT count(*) FROM c").Scan(&n)
				case 1:
					_, err = db.ExecContext(ctx, "INSERT INTO t VALUES (?)", g)
				default:
					var rows *sql.Rows
					rows, err = db.QueryContext(ctx, "SELECT x FROM t")
					if err == nil {
						for rows.Next() {
						}
						err = rows.Err()
						rows.Close()
					}
				}
				cancel()
				if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
					t.Errorf("goroutine %d: %v", g, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// Every connection is still usable.
	for range 4 {
		var n int
		if err := db.QueryRow("SELECT 1").Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConcurrentPreparedStatementAcrossConnections(t *testing.T) {
	db := openTestDB(t, "max_conns=4&busy_timeout=20s")
	mustExec(t, db, "CREATE TABLE t(x)")
	st, err := db.Prepare("INSERT INTO t VALUES (?)")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	q, err := db.Prepare("SELECT count(*) FROM t WHERE x = ?")
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				if _, err := st.Exec(g); err != nil {
					t.Error(err)
					return
				}
				var n int
				if err := q.QueryRow(g).Scan(&n); err != nil || n != i+1 {
					t.Errorf("goroutine %d: count %d, %v", g, n, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
