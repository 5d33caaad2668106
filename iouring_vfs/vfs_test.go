package iouringvfs

import (
	"testing"
)

func TestSmokeCreateInsertReopen(t *testing.T) {
	path := dbPath(t)
	c := openConn(t, path, "libsql_sync=full")
	c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	c.exec("INSERT INTO t(v) VALUES ('a'), ('b'), ('c')")
	if n := c.int("SELECT count(*) FROM t"); n != 3 {
		t.Fatalf("count = %d", n)
	}
	if s := c.text("PRAGMA journal_mode"); s != "wal" {
		t.Fatalf("journal_mode = %q", s)
	}
	t.Log(c.text("PRAGMA libsql_stats"))
	c.Close()
	c = openConn(t, path, "")
	if n := c.int("SELECT count(*) FROM t"); n != 3 {
		t.Fatalf("count after reopen = %d", n)
	}
	if s := c.text("PRAGMA integrity_check"); s != "ok" {
		t.Fatalf("integrity_check: %s", s)
	}
}
