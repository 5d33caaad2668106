package iouringvfs

import (
	"fmt"
	"testing"
)

// TestCommitsLeavePage1OutUnlessItChanged checks that a commit whose page 1
// differs from its snapshot's only in the change counter appends its other
// pages alone, as SQLite's WAL mode does, and that a commit that does
// change page 1 (the schema, the file's size) still writes it. The raw
// connections here do not keep their page cache across snapshots the way
// the driver's do: they rely on SQLite's own check of the change counter,
// which the engine keeps moving for each of them.
func TestCommitsLeavePage1OutUnlessItChanged(t *testing.T) {
	path := dbPath(t)
	w := openConn(t, path, "")
	r := openConn(t, path, "")
	w.exec("PRAGMA wal_autocheckpoint=0")
	w.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER)")
	w.exec("INSERT INTO t VALUES (1, 0)")
	log := w.file.e.log
	frames := func() int { return log.Stats().Frames }
	// First one connection writes and the other reads; then they take
	// turns, each reading what the other wrote and then writing, so each
	// reads after its own commit and another's on top of it.
	for i := 1; i <= 40; i++ {
		c, rd := w, r
		if i > 20 {
			c = [2]*tconn{w, r}[i%2]
			rd = c
		}
		if got := rd.int("SELECT v FROM t WHERE id = 1"); got != int64(i-1) {
			t.Fatalf("before update %d the reading connection sees v=%d; want %d", i, got, i-1)
		}
		before := frames()
		c.exec(fmt.Sprintf("UPDATE t SET v = %d WHERE id = 1", i))
		if d := frames() - before; d != 1 {
			t.Fatalf("update %d appended %d frames; want 1 (the table's page, not page 1)", i, d)
		}
	}
	if got := r.int("SELECT v FROM t WHERE id = 1"); got != 40 {
		t.Fatalf("after 40 updates the reader sees v=%d; want 40", got)
	}

	w.exec("CREATE TABLE u(x)")
	if n := r.int("SELECT count(*) FROM sqlite_schema"); n != 2 {
		t.Fatalf("the reader sees %d tables after CREATE TABLE; want 2", n)
	}
	before := frames()
	w.exec("INSERT INTO u VALUES (zeroblob(20000))")
	if d := frames() - before; d < 6 {
		t.Fatalf("a 20 kB blob appended %d frames; want its pages and page 1 (the size changed)", d)
	}
	if n := r.int("SELECT sum(length(x)) FROM u"); n != 20000 {
		t.Fatalf("the reader sees %d bytes of blob; want 20000", n)
	}
	if s := r.text("PRAGMA integrity_check"); s != "ok" {
		t.Fatalf("integrity_check: %s", s)
	}
}
