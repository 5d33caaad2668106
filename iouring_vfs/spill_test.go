package iouringvfs

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/golibsql/libsql/internal/capi"
)

// spillBound sets the memory a write set holds before it moves to disk, in
// pages of 4 KiB, and points SQLITE_TMPDIR at a directory of the test's,
// which it returns; both are restored when the test ends.
func spillBound(t *testing.T, pages int) string {
	t.Helper()
	old := wsMemMax
	wsMemMax = pages * 4096
	t.Cleanup(func() { wsMemMax = old })
	dir := t.TempDir()
	t.Setenv("SQLITE_TMPDIR", dir)
	return dir
}

// spillConn opens a connection whose SQLite page cache holds 20 pages, so
// that a transaction writing more spills its dirty pages into the write
// set early and often.
func spillConn(t *testing.T, path string) *tconn {
	c := openConn(t, path, "")
	c.exec("PRAGMA cache_size=20")
	return c
}

// spillFill inserts rows [from, to] of 1000-byte values into t(id, v).
func spillFill(c *tconn, from, to int) {
	c.t.Helper()
	c.exec(fmt.Sprintf("WITH RECURSIVE s(i) AS (SELECT %d UNION ALL SELECT i+1 FROM s WHERE i<%d) INSERT INTO t SELECT i, printf('%%.1000d', i) FROM s", from, to))
}

// TestWriteSetMovesToDisk: a transaction writing more than the bound keeps
// at most the bound in memory, reads its own writes back from disk (and
// overwrites them, and rolls a savepoint back over them), and commits
// exactly what it wrote: read back here, after reopening, and by stock
// SQLite. Its file leaves no name behind and is closed by the commit.
func TestWriteSetMovesToDisk(t *testing.T) {
	dir := spillBound(t, 16)
	path := dbPath(t)
	c := spillConn(t, path)
	c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	spillsBefore := wsSpills.Load()
	c.exec("BEGIN")
	spillFill(c, 1, 3000)
	if c.file.spilled.n == 0 || len(c.file.ws) > 17 {
		t.Fatalf("after writing ~750 pages: %d pages in memory, %d on disk; want at most 17 in memory", len(c.file.ws), c.file.spilled.n)
	}
	tempDirEmpty(t, dir)
	if got := c.int("SELECT sum(length(v)) + sum(id) FROM t"); got != 3000*1000+3000*3001/2 {
		t.Fatalf("inside the transaction, the sum reads %d", got)
	}
	c.exec("UPDATE t SET v = printf('%.1000d', id * 7)")
	c.exec("SAVEPOINT s")
	c.exec("UPDATE t SET v = 'gone' WHERE id % 3 = 0")
	c.exec("DELETE FROM t WHERE id > 2000")
	c.exec("ROLLBACK TO s")
	c.exec("RELEASE s")
	if got := c.int("SELECT count(*) FROM t WHERE v = printf('%.1000d', id * 7)"); got != 3000 {
		t.Fatalf("after the savepoint's rollback, %d of 3000 rows read as updated", got)
	}
	c.exec("COMMIT")
	if c.file.spilled.disk != nil || c.file.spilled.n != 0 {
		t.Fatal("the write set's file outlived its commit")
	}
	if wsSpills.Load() == spillsBefore {
		t.Fatal("write_sets_moved_to_disk did not count the transaction")
	}
	check := func(what string, n int64) {
		t.Helper()
		if n != 3000 {
			t.Fatalf("%s: %d of 3000 rows hold what the transaction wrote", what, n)
		}
	}
	const q = "SELECT count(*) FROM t WHERE v = printf('%.1000d', id * 7)"
	check("after the commit", c.int(q))
	if ok := c.text("PRAGMA integrity_check"); ok != "ok" {
		t.Fatalf("integrity_check: %s", ok)
	}
	c.Close()
	r := spillConn(t, path)
	check("reopened", r.int(q))
	r.Close()
	s := stock(t, path)
	check("stock SQLite", stockInt(t, s, q))
}

// TestWriteSetSpillRollback: a transaction that moved its writes to disk
// and rolls back changes nothing and writes nothing to the log; the next
// transaction on the connection starts with an empty write set.
func TestWriteSetSpillRollback(t *testing.T) {
	spillBound(t, 8)
	c := spillConn(t, dbPath(t))
	c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	spillFill(c, 1, 500)
	frames := c.file.e.Stats().LogFrames
	c.exec("BEGIN")
	c.exec("UPDATE t SET v = 'x'")
	spillFill(c, 501, 2000)
	if c.file.spilled.n == 0 {
		t.Fatal("nothing moved to disk: the test checks nothing it means to")
	}
	c.exec("ROLLBACK")
	if got := c.int("SELECT count(*) FROM t WHERE v != 'x'"); got != 500 {
		t.Fatalf("after ROLLBACK, %d rows (want the 500 from before, unchanged)", got)
	}
	if got := c.file.e.Stats().LogFrames; got != frames {
		t.Fatalf("ROLLBACK wrote %d frames to the log", got-frames)
	}
	if c.file.spilled.disk != nil {
		t.Fatal("the write set's file outlived the rollback")
	}
	c.exec("UPDATE t SET v = 'y' WHERE id = 1")
	if got := c.int("SELECT count(*) FROM t WHERE v = 'y'"); got != 1 {
		t.Fatalf("the next transaction: %d rows updated, want 1", got)
	}
}

// TestWriteSetSpillShrinks: a transaction that moved pages to disk and
// then shrank the database (auto_vacuum=FULL after deleting most rows)
// commits the smaller database: the pages past its end are dropped.
func TestWriteSetSpillShrinks(t *testing.T) {
	spillBound(t, 8)
	path := dbPath(t)
	c := spillConn(t, path)
	c.exec("PRAGMA auto_vacuum=FULL")
	c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	frames := c.file.e.Stats().LogFrames
	c.exec("BEGIN")
	spillFill(c, 1, 2000)
	spilled := c.file.spilled.n
	c.exec("DELETE FROM t WHERE id > 100")
	c.exec("COMMIT")
	if spilled == 0 {
		t.Fatal("nothing moved to disk: the test checks nothing it means to")
	}
	pages := c.int("PRAGMA page_count")
	if pages > 60 {
		t.Fatalf("after deleting 1900 of 2000 rows with auto_vacuum=FULL: %d pages", pages)
	}
	if logged := c.file.e.Stats().LogFrames - frames; logged > int(pages) {
		t.Fatalf("the commit of a %d-page database logged %d frames: pages past its end went with it", pages, logged)
	}
	if ok := c.text("PRAGMA integrity_check"); ok != "ok" {
		t.Fatalf("integrity_check: %s", ok)
	}
	c.Close()
	s := stock(t, path)
	if n := stockInt(t, s, "SELECT count(*) FROM t"); n != 100 {
		t.Fatalf("stock SQLite reads %d rows, want 100", n)
	}
	if n := stockInt(t, s, "PRAGMA page_count"); n != pages {
		t.Fatalf("stock SQLite reads %d pages, we committed %d", n, pages)
	}
}

// spillDisks makes the write sets' (and temporary files') disk files
// faulty: writes fail with werr past wbudget bytes, reads with rerr once
// rbudget reads have passed (never, for a negative budget).
func spillDisks(t *testing.T, wbudget int, werr error, rbudget int, rerr error) {
	t.Helper()
	wrapDisks(t, func(f *os.File) tempDisk {
		return &spillFaultyDisk{faultyDisk: faultyDisk{File: f, budget: wbudget, err: werr}, reads: rbudget, rerr: rerr}
	})
}

type spillFaultyDisk struct {
	faultyDisk
	reads int
	rerr  error
}

func (d *spillFaultyDisk) ReadAt(p []byte, off int64) (int, error) {
	if d.reads >= 0 {
		if d.reads == 0 {
			return 0, d.rerr
		}
		d.reads--
	}
	return d.File.ReadAt(p, off)
}

// TestWriteSetSpillFaults: a write set that cannot move to disk (no
// directory, or its writes fail) stays in memory and commits all the
// same; one whose pages cannot be read back fails its commit with an I/O
// error, changes nothing, and leaves the connection and the log usable.
func TestWriteSetSpillFaults(t *testing.T) {
	want := int64(2000*1000 + 2000*2001/2)
	const sum = "SELECT sum(length(v)) + sum(id) FROM t"
	commit := func(t *testing.T) *tconn {
		c := spillConn(t, dbPath(t))
		c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
		c.exec("BEGIN")
		spillFill(c, 1, 2000)
		return c
	}
	t.Run("no directory", func(t *testing.T) {
		dir := spillBound(t, 8)
		os.Remove(dir)
		c := commit(t)
		if !c.file.spilled.failed || c.file.spilled.n != 0 {
			t.Fatalf("with no directory: failed=%v, %d pages on disk", c.file.spilled.failed, c.file.spilled.n)
		}
		c.exec("COMMIT")
		if got := c.int(sum); got != want {
			t.Fatalf("committed sum %d, want %d", got, want)
		}
	})
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EIO} {
		t.Run("write "+errno.Error(), func(t *testing.T) {
			spillBound(t, 8)
			spillDisks(t, 40*4096, errno, -1, nil)
			c := commit(t)
			if !c.file.spilled.failed || c.file.spilled.n == 0 {
				t.Fatalf("writes failing past 40 pages: failed=%v, %d pages on disk", c.file.spilled.failed, c.file.spilled.n)
			}
			c.exec("COMMIT")
			if got := c.int(sum); got != want {
				t.Fatalf("committed sum %d, want %d", got, want)
			}
		})
	}
	t.Run("read EIO at commit", func(t *testing.T) {
		spillBound(t, 8)
		c := spillConn(t, dbPath(t))
		c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
		spillFill(c, 1, 10)
		before := c.int(sum)
		frames := c.file.e.Stats().LogFrames
		c.exec("PRAGMA cache_size=2000") // SQLite reads nothing back before the commit
		spillDisks(t, 1<<30, nil, 0, syscall.EIO)
		spills := wsSpills.Load()
		c.exec("BEGIN")
		spillFill(c, 11, 2000)
		err := c.tryExec("COMMIT") // SQLite's cache goes to the write set, and on to disk
		if wsSpills.Load() == spills {
			t.Fatal("nothing moved to disk: the test checks nothing it means to")
		}
		var ce *capi.Error
		cause := c.file.TakeError()
		if err == nil || !errors.As(err, &ce) || ce.Code&0xff != capi.IOERR || cause == nil || !strings.Contains(cause.Error(), "write set") || !errors.Is(cause, syscall.EIO) {
			t.Fatalf("COMMIT with the write set unreadable: %v (cause %v), want an I/O error naming the write set", err, cause)
		}
		c.tryExec("ROLLBACK")
		if got := c.int(sum); got != before {
			t.Fatalf("after the failed commit the sum reads %d, want %d", got, before)
		}
		if err := c.file.e.log.Err(); err != nil {
			t.Fatalf("the log is poisoned: %v", err)
		}
		c.exec("INSERT INTO t VALUES (11, 'eleven')")
		if got := c.int("SELECT count(*) FROM t"); got != 11 {
			t.Fatalf("the next commit: %d rows, want 11", got)
		}
		if got := c.file.e.Stats().LogFrames; got <= frames {
			t.Fatal("the next commit logged nothing")
		}
	})
}

// TestJournalIsAPrivateFile: SQLite's rollback journal (SetupJournal) is a
// temporary file of the VFS, so a transaction that changes more of the
// database than the bound moves its journal to disk instead of holding
// every old page in memory (journal_mode=MEMORY's), and a rollback reads
// the old pages back from there.
func TestJournalIsAPrivateFile(t *testing.T) {
	spillBound(t, 8)
	tempBounds(t, 4, 1<<20)
	c := spillConn(t, dbPath(t))
	c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	spillFill(c, 1, 1000)
	const q = "SELECT count(*) FROM t WHERE v = printf('%.1000d', id)"
	moved := tempSpills.Load()
	c.exec("BEGIN")
	c.exec("UPDATE t SET v = printf('%.1000d', -id)")
	if tempSpills.Load() == moved {
		t.Fatal("a journal of ~250 old pages did not move to disk under a 4-chunk bound: SQLite keeps it elsewhere (journal_mode=MEMORY?)")
	}
	if n := c.int(q); n != 0 {
		t.Fatalf("inside the transaction, %d rows read as before the UPDATE", n)
	}
	c.exec("ROLLBACK")
	if n := c.int(q); n != 1000 {
		t.Fatalf("after ROLLBACK, %d of 1000 rows read as before", n)
	}
	if ok := c.text("PRAGMA integrity_check"); ok != "ok" {
		t.Fatalf("integrity_check: %s", ok)
	}
	if jm := c.text("PRAGMA journal_mode"); jm != "wal" {
		t.Fatalf("PRAGMA journal_mode reads %q, want wal", jm)
	}
	if jm := c.text("PRAGMA journal_mode=MEMORY"); jm != "wal" {
		t.Fatalf("PRAGMA journal_mode=MEMORY answers %q, want wal (nothing changes)", jm)
	}
	if err := c.tryExec("PRAGMA journal_mode=TRUNCATE"); err == nil {
		t.Fatal("PRAGMA journal_mode=TRUNCATE from SQL succeeded: only SetupJournal may set it")
	}
	moved = tempSpills.Load()
	c.exec("BEGIN")
	c.exec("UPDATE t SET v = printf('%.1000d', -id)")
	if tempSpills.Load() == moved {
		t.Fatal("after PRAGMA journal_mode=MEMORY, the journal no longer goes through the VFS")
	}
	c.exec("COMMIT")
}
