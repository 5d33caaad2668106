package iouringvfs

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/golibsql/libsql/internal/capi"
	"github.com/golibsql/libsql/iouring_vfs/ioback"
	"github.com/golibsql/libsql/iouring_vfs/iofault"
	"github.com/golibsql/libsql/iouring_vfs/wal"
)

// An I/O error in the log or the main file reaches the statement as an
// SQLite I/O error; the engine then refuses everything until it is
// reopened, and reopens with every acknowledged commit and nothing else.
func TestIOErrorsReachCallerAndEngineStaysConsistent(t *testing.T) {
	targets := []struct {
		name  string
		match func(iofault.Op) bool
	}{
		{"log write", func(op iofault.Op) bool { return op.Kind == iofault.OpWritevAt && strings.HasSuffix(op.Name, "-wal") }},
		{"log sync", func(op iofault.Op) bool { return op.Kind == iofault.OpSync && strings.HasSuffix(op.Name, "-wal") }},
		{"database write", func(op iofault.Op) bool { return op.Kind == iofault.OpWritevAt && strings.HasSuffix(op.Name, ".db") }},
		{"database sync", func(op iofault.Op) bool { return op.Kind == iofault.OpSync && strings.HasSuffix(op.Name, ".db") }},
		// The log reserves space for a commit by writing zeros ahead of
		// it (wal.Log.Reserve), not with fallocate; the header, the only
		// other WriteAt on the log, is shorter than any of those writes.
		{"log space", func(op iofault.Op) bool {
			return op.Kind == iofault.OpWriteAt && strings.HasSuffix(op.Name, "-wal") && op.Len > wal.HeaderSize
		}},
		{"read", func(op iofault.Op) bool { return op.Kind == iofault.OpReadAt }},
	}
	for _, tg := range targets {
		for _, n := range []int{0, 1, 3} {
			t.Run(fmt.Sprintf("%s/%d", tg.name, n), func(t *testing.T) {
				fault := iofault.EIO
				if tg.name == "log space" {
					fault = iofault.ENOSPC
				}
				testIOError(t, tg.match, n, fault)
			})
		}
	}
}

func testIOError(t *testing.T, match func(iofault.Op) bool, n int, fault iofault.Fault) {
	ffs := iofault.NewFaultFS(ioback.Portable())
	restore := defaultVFS.SetFSForTesting(ffs)
	defer restore()
	path := dbPath(t)
	c := openConn(t, path, "libsql_sync=full&libsql_page_cache=0")
	c.exec("PRAGMA wal_autocheckpoint=3")
	c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
	acked := 0
	ffs.Arm(iofault.Rule{N: n, Match: match, Fault: fault})
	var err error
	for i := range 200 {
		if err = c.tryExec(fmt.Sprintf("INSERT INTO t VALUES (%d, randomblob(2000))", i)); err != nil {
			break
		}
		acked++
		if i%5 == 4 {
			if err = c.tryExec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
				break
			}
		}
		if i%7 == 6 {
			// Reads that miss every cache: a fresh connection.
			var r *capi.Conn
			if r, err = capi.Open("file:"+path+"?libsql_page_cache=0", capi.OPEN_READWRITE|capi.OPEN_URI, Name); err != nil {
				break
			}
			_, err = (&tconn{Conn: r, t: t}).intErr("SELECT count(*) FROM t")
			r.Close()
			if err != nil {
				break
			}
		}
	}
	if !ffs.Fired() {
		t.Skipf("the workload never reached the fault (%d matching operations)", ffs.Matched())
	}
	var ce *capi.Error
	if err == nil || !errors.As(err, &ce) {
		t.Fatalf("the injected fault did not reach the caller: err = %v", err)
	}
	if code := ce.Code & 0xff; code != capi.IOERR && code != capi.FULL {
		t.Fatalf("error code %s, want an I/O error or SQLITE_FULL: %v", capi.CodeName(ce.Code), err)
	}
	ffs.Disarm()
	poisoned := c.file.e.log.Err() != nil
	if poisoned {
		if err := c.tryExec("INSERT INTO t VALUES (-1, NULL)"); err == nil {
			t.Fatal("a poisoned engine accepted a commit")
		}
	}
	c.Close()
	c = openConn(t, path, "")
	if s := c.text("PRAGMA integrity_check"); s != "ok" {
		t.Fatalf("integrity_check after %v: %s", err, s)
	}
	rows := c.int("SELECT count(*) FROM t")
	if rows < int64(acked) || rows > int64(acked)+1 {
		t.Fatalf("%d rows after reopening, %d acknowledged", rows, acked)
	}
	if c.int("SELECT count(*) FROM t WHERE id < 0") != 0 {
		t.Fatal("a commit refused by a poisoned engine is in the database")
	}
	t.Logf("%v (poisoned=%v): %d acknowledged, %d rows", err, poisoned, acked, rows)
}
