package iouringvfs

import (
	"errors"
	"testing"
	"time"

	"github.com/golibsql/libsql/internal/capi"
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

// A blocking checkpoint run by a connection whose own transaction holds
// back the log fails at once with SQLITE_LOCKED, as in stock SQLite,
// instead of waiting out its busy timeout for itself.
func TestCheckpointInOwnTransactionIsLocked(t *testing.T) {
	const read, write = "BEGIN; SELECT count(*) FROM t", "BEGIN IMMEDIATE; INSERT INTO t VALUES (2)"
	for _, tc := range []struct{ name, begin, mode string }{
		{"read/FULL", read, "FULL"},
		{"read/RESTART", read, "RESTART"},
		{"read/TRUNCATE", read, "TRUNCATE"},
		{"write/FULL", write, "FULL"},
		{"write/TRUNCATE", write, "TRUNCATE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := dbPath(t)
			a := openConn(t, path, "")
			b := openConn(t, path, "")
			a.exec("PRAGMA wal_autocheckpoint=0")
			a.exec("CREATE TABLE t(x)")
			a.exec("PRAGMA busy_timeout=1500")
			a.exec(tc.begin)
			if tc.begin == read {
				// A commit after the snapshot, which the checkpoint must
				// wait for the snapshot to copy.
				b.exec("INSERT INTO t VALUES (1)")
			}

			start := time.Now()
			err := a.tryExec("PRAGMA wal_checkpoint(" + tc.mode + ")")
			took := time.Since(start)
			var ce *capi.Error
			if !errors.As(err, &ce) || ce.Code&0xff != capi.LOCKED {
				t.Fatalf("wal_checkpoint(%s) inside the connection's own transaction: err = %v after %v, want SQLITE_LOCKED", tc.mode, err, took)
			}
			if took > time.Second {
				t.Fatalf("SQLITE_LOCKED came after %v, want at once", took)
			}
			a.exec("COMMIT")
			if got := a.text("PRAGMA wal_checkpoint(" + tc.mode + ")"); got[0] != '0' {
				t.Fatalf("wal_checkpoint(%s) after COMMIT = %s, want not busy", tc.mode, got)
			}
		})
	}
}
