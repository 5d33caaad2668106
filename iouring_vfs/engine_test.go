package iouringvfs

import (
	"testing"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
)

// Opening and closing a database again and again leaves no arena behind:
// an engine's page cache must not hold memory that only Close frees.
func TestEngineReopenLeavesNoArena(t *testing.T) {
	path := dbPath(t)
	c := openConn(t, path, "libsql_page_cache=16")
	c.exec("CREATE TABLE t(x)")
	c.exec("INSERT INTO t VALUES (1)")
	c.Close()

	before := ioback.OpenArenas()
	for range 10 {
		c := openConn(t, path, "libsql_page_cache=16")
		if n := c.int("SELECT count(*) FROM t"); n != 1 {
			t.Fatalf("count = %d, want 1", n)
		}
		c.Close()
	}
	if after := ioback.OpenArenas(); after != before {
		t.Fatalf("open arenas went from %d to %d over 10 opens and closes of %s", before, after, path)
	}
}
