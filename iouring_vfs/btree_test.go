package iouringvfs

import (
	"testing"

	"github.com/golibsql/libsql/iouring_vfs/wal"
)

// OwnerOf agrees with SQLite's dbstat table on every page of every b-tree,
// overflow pages included.
func TestOwnerOfAgreesWithDbstat(t *testing.T) {
	c := openConn(t, dbPath(t), "")
	c.exec("CREATE TABLE small(id INTEGER PRIMARY KEY, v TEXT)")
	c.exec("CREATE TABLE blobs(id INTEGER PRIMARY KEY, b BLOB)")
	c.exec("CREATE TABLE wr(k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID")
	c.exec("CREATE INDEX small_v ON small(v)")
	c.exec("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 2000) INSERT INTO small(v) SELECT printf('value %08d', x) FROM c")
	c.exec("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 20) INSERT INTO blobs(b) SELECT randomblob(x * 3000) FROM c")
	c.exec("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 50) INSERT INTO wr SELECT printf('%0900d', x), randomblob(5000) FROM c")

	roots := map[wal.PageNo]string{1: "sqlite_schema"}
	s, _, err := c.Prepare("SELECT name, rootpage FROM sqlite_schema WHERE rootpage > 0", 0)
	if err != nil {
		t.Fatal(err)
	}
	for {
		row, err := s.Step()
		if err != nil {
			t.Fatal(err)
		}
		if !row {
			break
		}
		roots[wal.PageNo(s.ColumnInt64(1))] = s.ColumnText(0)
	}
	s.Finalize()

	s, _, err = c.Prepare("SELECT pageno, name FROM dbstat", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Finalize()
	c.exec("BEGIN")
	defer c.exec("COMMIT")
	c.int("SELECT count(*) FROM small") // pin a snapshot
	n := 0
	for {
		row, err := s.Step()
		if err != nil {
			t.Fatal(err)
		}
		if !row {
			break
		}
		pg, want := wal.PageNo(s.ColumnInt64(0)), s.ColumnText(1)
		if got := c.file.OwnerOf(pg, roots, 1<<20); got != want {
			t.Fatalf("page %d: OwnerOf = %q, dbstat says %q", pg, got, want)
		}
		n++
	}
	if n < 100 {
		t.Fatalf("only %d pages checked", n)
	}
	if got := c.file.OwnerOf(3, roots, 2); got != "" {
		t.Fatalf("OwnerOf with a budget of 2 pages found %q", got)
	}
}

// OwnerOf finds a leaf page by its parent's pointer, reading the interior
// pages only: a budget far below the tree's size is enough.
func TestOwnerOfReadsInteriorPagesOnly(t *testing.T) {
	c := openConn(t, dbPath(t), "")
	c.exec("CREATE TABLE big(id INTEGER PRIMARY KEY, v TEXT)")
	c.exec("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 100000) INSERT INTO big(v) SELECT printf('value %08d', x) FROM c")
	root := wal.PageNo(c.int("SELECT rootpage FROM sqlite_schema WHERE name = 'big'"))
	interior := c.int("SELECT count(*) FROM dbstat WHERE name = 'big' AND pagetype = 'internal'")
	leaves := c.int("SELECT count(*) FROM dbstat WHERE name = 'big' AND pagetype = 'leaf'")
	last := wal.PageNo(c.int("SELECT max(pageno) FROM dbstat WHERE name = 'big' AND pagetype = 'leaf'"))
	if leaves < 50*interior {
		t.Fatalf("%d leaves and %d interior pages: the tree is not what the test needs", leaves, interior)
	}
	roots := map[wal.PageNo]string{root: "table big"}
	c.exec("BEGIN")
	defer c.exec("COMMIT")
	c.int("SELECT count(*) FROM big")
	budget := int(interior) + 3 // page 1 and the first leaf, which gives the depth
	if got := c.file.OwnerOf(last, roots, budget); got != "table big" {
		t.Fatalf("OwnerOf(%d) with a budget of %d pages (%d interior, %d leaves) = %q", last, budget, interior, leaves, got)
	}
}
