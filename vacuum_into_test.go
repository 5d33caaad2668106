package libsql

import (
	"path/filepath"
	"testing"
	"time"
)

// TestVacuumIntoDoesNotBlockWriters: VACUUM INTO reads the database and
// writes another, so, as in stock SQLite's WAL mode, it runs in a read
// transaction on its snapshot: writers commit meanwhile, with no busy
// timeout, and the copy holds one snapshot: the base rows and a prefix of
// the writer's commits.
func TestVacuumIntoDoesNotBlockWriters(t *testing.T) {
	db := openTestDB(t, "busy_timeout=0&sync=off")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
	const base = 30000
	mustExec(t, db, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < ?) INSERT INTO t(id, v) SELECT i, randomblob(1000) FROM c", base)

	backup := filepath.Join(t.TempDir(), "backup.db")
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := db.Exec("VACUUM INTO ?", backup)
		done <- err
	}()
	var during, failed int
	var firstErr error
	next := base + 1
	for copying := true; copying; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("VACUUM INTO: %v", err)
			}
			copying = false
			continue
		default:
		}
		if _, err := db.Exec("INSERT INTO t(id, v) VALUES (?, x'00')", next); err != nil {
			failed++
			if firstErr == nil {
				firstErr = err
			}
		} else {
			next++
			during++
		}
		time.Sleep(2 * time.Millisecond)
	}
	elapsed := time.Since(start)
	if failed > 0 {
		t.Fatalf("%d writes failed while VACUUM INTO copied (%v; %d committed), want none: the copy must not take the writer lock", failed, firstErr, during)
	}
	if during < 3 {
		t.Fatalf("only %d writes during a %v VACUUM INTO: too fast to tell", during, elapsed)
	}
	bk := openTestDSN(t, "file:"+filepath.ToSlash(backup))
	var n, lo, hi int
	if err := bk.QueryRow("SELECT count(*), min(id), max(id) FROM t").Scan(&n, &lo, &hi); err != nil {
		t.Fatal(err)
	}
	if lo != 1 || hi != n || n < base || n >= next {
		t.Fatalf("the copy has %d rows, ids %d..%d; want the %d base rows and a prefix of the %d written during the copy", n, lo, hi, base, during)
	}
	t.Logf("VACUUM INTO took %v; %d commits meanwhile, %d of them in the copy", elapsed, during, n-base)
}
