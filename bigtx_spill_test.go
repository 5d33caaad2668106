package libsql

import (
	"fmt"
	"path/filepath"
	"testing"

	iouringvfs "github.com/golibsql/libsql/iouring_vfs"
)

// TestBigTxSpillConcurrentAndCDC: transactions whose write sets moved to
// disk (here past 16 pages) commit like any other: BEGIN CONCURRENT ones
// directly, or rebased over one that came between, with cdc=on storing
// their changes, and stock SQLite reads the result.
func TestBigTxSpillConcurrentAndCDC(t *testing.T) {
	defer iouringvfs.SetWriteSetMemoryForTesting(16 * 4096)()
	t.Setenv("SQLITE_TMPDIR", t.TempDir())
	path := filepath.Join(t.TempDir(), "s.db")
	db, err := Open("file:" + path + "?cdc=on")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustExec(t, db, "CREATE TABLE a(id INTEGER PRIMARY KEY, v TEXT)")
	mustExec(t, db, "CREATE TABLE b(id INTEGER PRIMARY KEY, v TEXT)")
	mustExec(t, db, "INSERT INTO a VALUES (1, 'a1'), (2, 'a2')")
	stats := func() map[string]any {
		t.Helper()
		m, err := bigStats(db)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	before := stats()
	fill := func(table string, from int) string {
		return fmt.Sprintf("WITH RECURSIVE s(i) AS (SELECT %d UNION ALL SELECT i+1 FROM s WHERE i<%d) INSERT INTO %s SELECT i, printf('%%.1000d', i) FROM s", from, from+2999, table)
	}
	c1, c2 := dbConn(t, db), dbConn(t, db)
	cexec(t, c1, "PRAGMA cache_size=20")
	cexec(t, c2, "PRAGMA cache_size=20")
	cexec(t, c1, "BEGIN CONCURRENT")
	cexec(t, c1, fill("a", 1000))
	cexec(t, c2, "BEGIN CONCURRENT")
	cexec(t, c2, fill("b", 1000))
	cexec(t, c2, "COMMIT") // nothing committed since its snapshot
	cexec(t, c1, "COMMIT") // b committed since its snapshot
	mustExec(t, db, "UPDATE a SET v = 'changed' WHERE id = 1")
	after := stats()
	if moved := bigStatInt(after, "write_sets_moved_to_disk") - bigStatInt(before, "write_sets_moved_to_disk"); moved < 2 {
		t.Fatalf("%d write sets moved to disk, want 2: the test checks less than it means to", moved)
	}
	cs, _ := after["concurrent"].(map[string]any)
	if bigStatInt(cs, "commits") != 2 || bigStatInt(cs, "rebased") != 1 {
		t.Fatalf("concurrent commits: %v, want 2, the second rebased", cs)
	}
	const q = "SELECT (SELECT count(*) FROM a WHERE id < 3 OR v = printf('%.1000d', id)) || ' ' || (SELECT v FROM a WHERE id = 1) || ' ' || (SELECT count(*) FROM b WHERE v = printf('%.1000d', id))"
	var got string
	if err := db.QueryRow(q).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != "3002 changed 3000" {
		t.Fatalf("committed: %q, want %q", got, "3002 changed 3000")
	}
	if n := count(t, db, "SELECT count(*) FROM libsql_cdc"); n < 4 {
		t.Fatalf("libsql_cdc holds %d transactions, want at least 4", n)
	}
	checkIntegrity(t, db)
	c1.Close()
	c2.Close()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	mdb, err := openModernc(path)
	if err != nil {
		t.Fatal(err)
	}
	defer mdb.Close()
	var theirs string
	if err := mdb.QueryRow(q).Scan(&theirs); err != nil || theirs != got {
		t.Fatalf("stock SQLite reads %q (%v), we committed %q", theirs, err, got)
	}
}
