package libsql

import (
	"context"
	"fmt"
	"testing"

	iouringvfs "github.com/golibsql/libsql/iouring_vfs"
)

// TestReview10ConcurrentSpilledConflict: a BEGIN CONCURRENT transaction
// whose write set moved to disk updates most rows of a; another commits a
// change to one of those rows meanwhile. The first's COMMIT either fails
// as a conflict or, if it succeeds (replayed), leaves a serial result:
// neither transaction's change to the shared row is lost.
func TestReview10ConcurrentSpilledConflict(t *testing.T) {
	defer iouringvfs.SetWriteSetMemoryForTesting(4 * 4096)()
	t.Setenv("SQLITE_TMPDIR", t.TempDir())
	db := concurrentDB(t, "")
	mustExec(t, db, "WITH RECURSIVE s(i) AS (SELECT 3 UNION ALL SELECT i+1 FROM s WHERE i<800) INSERT INTO a SELECT i, printf('%.500d', i) FROM s")
	c1, c2 := dbConn(t, db), dbConn(t, db)
	cexec(t, c1, "PRAGMA cache_size=10")
	for _, shared := range []int{700, 1} {
		cexec(t, c1, "BEGIN CONCURRENT")
		cexec(t, c1, "UPDATE a SET v = v || 'x'")
		cexec(t, c1, "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i<300) INSERT INTO b(v) SELECT printf('%.500d', i) FROM s")
		cexec(t, c2, fmt.Sprintf("UPDATE a SET v = 'c2' WHERE id = %d", shared))
		_, err := c1.ExecContext(context.Background(), "COMMIT")
		var v string
		if qerr := db.QueryRow(fmt.Sprintf("SELECT v FROM a WHERE id = %d", shared)).Scan(&v); qerr != nil {
			t.Fatal(qerr)
		}
		t.Logf("shared row %d: COMMIT: %v; row reads %.20q", shared, err, v)
		if err != nil {
			c1.ExecContext(context.Background(), "ROLLBACK")
			if v != "c2" {
				t.Fatalf("the conflicting commit failed, yet row %d reads %.40q, want c2", shared, v)
			}
			continue
		}
		if v != "c2x" {
			t.Fatalf("both committed, row %d reads %.40q: want c2x (the concurrent transaction replayed after c2's commit)", shared, v)
		}
	}
}
