package libsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	iouringvfs "github.com/golibsql/libsql/iouring_vfs"
)

// The row changes a BEGIN CONCURRENT transaction keeps for its rebase live
// in the connection's change log (cdc_log.go), a temporary file: in
// memory up to its bounds, on disk past them. The tests lower the bounds to
// 256 KiB a file, so that a few MiB of changes move to disk, and keep the
// write set (4 MiB before it moves, see bigtx_spill_test.go) in memory, so
// that a faulty disk reaches the captured changes alone.

// spillFill inserts rows from..to of 1 KiB into table.
func spillFill(table string, from, to int) string {
	return fmt.Sprintf("WITH RECURSIVE s(i) AS (SELECT %d UNION ALL SELECT i+1 FROM s WHERE i<%d) INSERT INTO %s(id, v, n) SELECT i, printf('%%.1000d', i), i FROM s", from, to, table)
}

// spillSetup lowers the bounds, opens a database with table a holding rows
// 1..1000 and an empty table b, and returns it with the temporary files
// moved to disk so far.
func spillSetup(t *testing.T) (*sql.DB, int64) {
	t.Helper()
	spillBounds(t)
	return spillDB(t, "")
}

// spillBounds lowers the bounds until the test ends.
func spillBounds(t *testing.T) {
	t.Helper()
	t.Cleanup(iouringvfs.SetTempMemoryForTesting(256<<10, 1<<20))
	t.Cleanup(iouringvfs.SetWriteSetMemoryForTesting(64 << 20))
	t.Setenv("SQLITE_TMPDIR", t.TempDir())
}

// spillDB is spillSetup's database, with the DSN query given.
func spillDB(t *testing.T, query string) (*sql.DB, int64) {
	t.Helper()
	db := openTestDB(t, query)
	mustExec(t, db, "CREATE TABLE a(id INTEGER PRIMARY KEY, v TEXT, n INTEGER)")
	mustExec(t, db, "CREATE TABLE b(id INTEGER PRIMARY KEY, v TEXT, n INTEGER)")
	mustExec(t, db, spillFill("a", 1, 1000))
	return db, spillStat(t, db, "temp_files_moved_to_disk")
}

func spillStat(t *testing.T, db *sql.DB, key string) int64 {
	t.Helper()
	m, err := bigStats(db)
	if err != nil {
		t.Fatal(err)
	}
	if key == "rebased" {
		m, _ = m["concurrent"].(map[string]any)
	}
	return bigStatInt(m, key)
}

// spillDigest sums what a query of table a returns, to compare contents.
const spillDigest = "SELECT count(*) || ' ' || total(n) || ' ' || total(length(v)) || ' ' || total(id * unicode(substr(v, -1))) FROM a"

// TestConcurrentCaptureOnDisk: a BEGIN CONCURRENT transaction whose
// captured changes (updates, deletes, inserts, and a savepoint rolled back
// in between) moved to disk is rebased over a commit that came between,
// with the result of running it after that commit.
func TestConcurrentCaptureOnDisk(t *testing.T) {
	db, _ := spillSetup(t)
	var end atomic.Int64
	t.Cleanup(iouringvfs.SetTempDiskForTesting(func(f *os.File) iouringvfs.TempDisk {
		return &spillDisk{File: f, end: &end}
	}))
	rebased0 := spillStat(t, db, "rebased")
	script := []string{
		"UPDATE a SET v = v || 'u', n = n + 1 WHERE id % 2 = 0",
		"DELETE FROM a WHERE id % 3 = 0",
		"SAVEPOINT s",
		spillFill("a", 2001, 3000),
		"UPDATE a SET n = -1 WHERE id < 100",
		"ROLLBACK TO s",
		"RELEASE s",
		spillFill("a", 4001, 5000),
	}
	c1, c2 := dbConn(t, db), dbConn(t, db)
	cexec(t, c1, "BEGIN CONCURRENT")
	for _, q := range script {
		cexec(t, c1, q)
	}
	cexec(t, c2, "INSERT INTO b VALUES (1, 'between', 1)")
	cexec(t, c1, "COMMIT")
	if n := spillStat(t, db, "rebased") - rebased0; n != 1 {
		t.Fatalf("%d transactions rebased, want 1: the test checks less than it means to", n)
	}
	if e := end.Load(); e < 2<<20 {
		t.Fatalf("the temporary files on disk took at most %d bytes, want the 2.4 MB of captured changes: they stayed in memory", e)
	}

	want := openTestDB(t, "")
	wc := dbConn(t, want)
	cexec(t, wc, "CREATE TABLE a(id INTEGER PRIMARY KEY, v TEXT, n INTEGER)")
	cexec(t, wc, spillFill("a", 1, 1000))
	for _, q := range script {
		cexec(t, wc, q)
	}
	var got, exp string
	if err := db.QueryRow(spillDigest).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if err := wc.QueryRowContext(context.Background(), spillDigest).Scan(&exp); err != nil {
		t.Fatal(err)
	}
	if got != exp {
		t.Fatalf("after the rebase, table a is %q, want %q", got, exp)
	}
	if n := count(t, db, "SELECT count(*) FROM b"); n != 1 {
		t.Fatalf("table b has %d rows, want 1", n)
	}
}

// spillDisk fails the temporary files' disk operations past 3 MiB into a
// file (the captured changes, 4 MB in the test; SQLite's journal stays
// below): writes with werr, reads with rerr, where not nil.
type spillDisk struct {
	*os.File
	werr, rerr error
	end        *atomic.Int64 // if not nil, the furthest any write reached
}

const spillFaultAt = 3 << 20

func (d *spillDisk) WriteAt(p []byte, off int64) (int, error) {
	if d.werr != nil && off+int64(len(p)) > spillFaultAt {
		return 0, d.werr
	}
	if d.end != nil {
		for e := d.end.Load(); off+int64(len(p)) > e && !d.end.CompareAndSwap(e, off+int64(len(p))); e = d.end.Load() {
		}
	}
	return d.File.WriteAt(p, off)
}

func (d *spillDisk) ReadAt(p []byte, off int64) (int, error) {
	if d.rerr != nil && off+int64(len(p)) > spillFaultAt {
		return 0, d.rerr
	}
	return d.File.ReadAt(p, off)
}

// TestConcurrentCaptureDiskFaults: when the captured changes cannot be
// written to disk (a full disk), a transaction with nothing committed
// since its snapshot commits anyway (it needs no rebase), and one that
// would be rebased conflicts, saying why; when they cannot be read back,
// the commit fails with the read's error. Either way the failed transaction
// changes nothing and the connection goes on.
func TestConcurrentCaptureDiskFaults(t *testing.T) {
	for _, tc := range []struct {
		name       string
		werr, rerr error
		want       []string
	}{
		{"write", syscall.ENOSPC, nil, []string{"cannot be replayed", "changes file", "no space left"}},
		{"read", nil, syscall.EIO, []string{"reading back captured change", "input/output error"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, moved0 := spillSetup(t)
			t.Cleanup(iouringvfs.SetTempDiskForTesting(func(f *os.File) iouringvfs.TempDisk {
				return &spillDisk{File: f, werr: tc.werr, rerr: tc.rerr}
			}))
			c1, c2 := dbConn(t, db), dbConn(t, db)
			if tc.werr != nil {
				cexec(t, c1, "BEGIN CONCURRENT")
				cexec(t, c1, spillFill("a", 2001, 6000))
				cexec(t, c1, "COMMIT") // direct: nothing came between
				if n := count(t, db, "SELECT count(*) FROM a"); n != 5000 {
					t.Fatalf("after a direct commit, table a has %d rows, want 5000", n)
				}
			}
			var before string
			if err := db.QueryRow(spillDigest).Scan(&before); err != nil {
				t.Fatal(err)
			}
			cexec(t, c1, "BEGIN CONCURRENT")
			cexec(t, c1, "UPDATE a SET n = n + 1 WHERE id <= 1000")
			cexec(t, c1, spillFill("a", 7001, 9000))
			cexec(t, c2, "INSERT INTO b VALUES (1, 'between', 1)")
			_, err := c1.ExecContext(context.Background(), "COMMIT")
			if err == nil {
				t.Fatal("COMMIT succeeded; want it to fail")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("COMMIT: %v; want it to say %q", err, w)
				}
			}
			if tc.werr != nil && !errors.Is(err, ErrBusySnapshot) {
				t.Errorf("COMMIT: %v; want ErrBusySnapshot (a conflict, so that RetryTx runs it again)", err)
			}
			if n := spillStat(t, db, "temp_files_moved_to_disk") - moved0; n < 1 {
				t.Fatalf("no temporary file moved to disk: the fault was never reached")
			}
			var after string
			if err := db.QueryRow(spillDigest).Scan(&after); err != nil {
				t.Fatal(err)
			}
			if after != before {
				t.Fatalf("the failed commit changed table a: %q, was %q", after, before)
			}
			cexec(t, c1, "BEGIN CONCURRENT")
			cexec(t, c1, "INSERT INTO a(id, v, n) VALUES (9901, 'after', 0)")
			cexec(t, c1, "COMMIT")
			if n := count(t, db, "SELECT count(*) FROM a WHERE id = 9901"); n != 1 {
				t.Fatalf("the next transaction's row is missing")
			}
		})
	}
}
