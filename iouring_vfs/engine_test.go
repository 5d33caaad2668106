package iouringvfs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golibsql/libsql/internal/capi"
	"github.com/golibsql/libsql/iouring_vfs/ioback"
	"github.com/golibsql/libsql/iouring_vfs/wal"
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

// The page cache's memory shows in Stats while the database is open and
// goes back (to the next engine's cache) when its last connection closes.
func TestEngineCloseReleasesCacheMemory(t *testing.T) {
	path := dbPath(t)
	c := openConn(t, path, "")
	c.exec("CREATE TABLE t(x)")
	c.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 200) INSERT INTO t SELECT randomblob(3000) FROM n")
	c.exec("PRAGMA wal_checkpoint(TRUNCATE)")
	c.exec("PRAGMA cache_size=0") // let SQLite's own cache not hide the reads
	if n := c.int("SELECT count(*) FROM t WHERE length(x) = 3000"); n != 200 {
		t.Fatalf("count = %d, want 200", n)
	}
	e := c.file.e
	held := e.Stats().CacheBytes
	if held < 100*4096 {
		t.Fatalf("after reading 200 rows of 3000 bytes the cache holds %d bytes", held)
	}
	c.Close()
	if n := e.Stats().CacheBytes; n != 0 {
		t.Fatalf("after the last connection closed the cache holds %d bytes (%d before)", n, held)
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

// testOwner is an Owner with a context and a busy timeout of the test's
// choosing.
type testOwner struct {
	ctx     context.Context
	timeout time.Duration
}

func (o *testOwner) Context() context.Context       { return o.ctx }
func (o *testOwner) BusyTimeout() time.Duration     { return o.timeout }
func (o *testOwner) SetBusyTimeout(d time.Duration) { o.timeout = d }
func (o *testOwner) RetryBusyNow()                  {}
func (o *testOwner) GiveUpBusy()                    {}

// checkpointBlockedByReader commits on c while a reader, pinned by hand,
// holds an older snapshot, so that a FULL checkpoint must wait for it;
// it returns the connection and a func that ends the reader (its pin is
// taken the way readers take theirs, see pinReader).
func checkpointBlockedByReader(t *testing.T) (*tconn, func()) {
	t.Helper()
	c := openConn(t, dbPath(t), "")
	c.exec("PRAGMA wal_autocheckpoint=0")
	c.exec("CREATE TABLE t(x)")
	v, slot := c.file.e.pinReader()
	c.exec("INSERT INTO t VALUES (1)")
	return c, func() { c.file.e.unpinReader(v, slot) }
}

// A reader that finishes between the checkpoint's busy attempt and its
// wait wakes the checkpoint: the wake-up is not lost.
func TestCheckpointWakesOnUnpinBeforeWait(t *testing.T) {
	c, endReader := checkpointBlockedByReader(t)
	e := c.file.e
	c.file.owner = &testOwner{ctx: context.Background(), timeout: 1500 * time.Millisecond}
	testHookCheckpointBusy = endReader
	defer func() { testHookCheckpointBusy = nil }()

	start := time.Now()
	res, err := e.checkpoint(wal.CheckpointFull, c.file)
	took := time.Since(start)
	if err != nil || res.Busy {
		t.Fatalf("checkpoint(FULL) = %+v, %v, want done", res, err)
	}
	if took > time.Second {
		t.Fatalf("checkpoint(FULL) waited %v for a reader already gone (lost wake-up)", took)
	}
}

// A checkpoint waiting for readers gives up as soon as its context ends.
func TestCheckpointWaitHonoursContext(t *testing.T) {
	c, endReader := checkpointBlockedByReader(t)
	e := c.file.e
	defer endReader()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.file.owner = &testOwner{ctx: ctx, timeout: 1500 * time.Millisecond}
	testHookCheckpointBusy = cancel
	defer func() { testHookCheckpointBusy = nil }()

	start := time.Now()
	res, err := e.checkpoint(wal.CheckpointFull, c.file)
	took := time.Since(start)
	if err != nil || !res.Busy {
		t.Fatalf("checkpoint(FULL) = %+v, %v, want busy", res, err)
	}
	if took > time.Second {
		t.Fatalf("checkpoint(FULL) waited %v after its context was cancelled", took)
	}
}

// libsql_stats counts the writers that found the writer lock taken.
func TestStatsCountWriterWaits(t *testing.T) {
	path := dbPath(t)
	a := openConn(t, path, "")
	b := openConn(t, path, "")
	a.exec("CREATE TABLE t(x)")
	a.exec("BEGIN IMMEDIATE")
	if err := b.tryExec("INSERT INTO t VALUES (1)"); err == nil {
		t.Fatal("a second writer got the writer lock while the first held it")
	}
	a.exec("COMMIT")
	var s Stats
	if err := json.Unmarshal([]byte(b.text("PRAGMA libsql_stats")), &s); err != nil {
		t.Fatalf("libsql_stats: %v", err)
	}
	if s.WriterWaits != 1 {
		t.Fatalf("writer_waits = %d, want 1", s.WriterWaits)
	}
}

// An open of a file whose engine is closing (its last connection gone, its
// final checkpoint running, its file lock still held) waits for that
// engine to close; it used to make a second engine, whose wait for the
// file lock could end in "database is locked" within one process.
func TestOpenWaitsForTheClosingEngine(t *testing.T) {
	path := dbPath(t)
	c := openConn(t, path, "")
	c.exec("CREATE TABLE t(x); INSERT INTO t VALUES (1)")
	started := make(chan struct{})
	testHookEngineClosing = func() {
		testHookEngineClosing = nil
		close(started)
		time.Sleep(lockGrace + 200*time.Millisecond) // a final checkpoint longer than the lock's grace
	}
	defer func() { testHookEngineClosing = nil }()
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	<-started
	c2 := openConn(t, path, "")
	if n := c2.int("SELECT count(*) FROM t"); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
}

// A writer that never pauses leaves the writer lock free at no moment:
// the checkpointer, finding the log past its threshold and no snapshot
// needing it, waits in line for the lock to restart the log, instead of
// trying once and leaving the log to grow to the forced restart at 4
// times the threshold.
func TestCheckpointerWaitsInLineToRestartTheLog(t *testing.T) {
	w := restartWait
	t.Cleanup(func() { restartWait = w }) // after the connections' cleanups: their checkpointers read it
	restartWait = 5 * time.Second         // the test, not the scheduler, decides when the lock is free
	path := dbPath(t)
	c1 := openConn(t, path, "")
	c1.exec("PRAGMA wal_autocheckpoint=10")
	c1.exec("CREATE TABLE t(x)")
	reader := openConn(t, path, "")
	reader.exec("BEGIN")
	reader.int("SELECT count(*) FROM t") // pins a snapshot the restart must wait for
	for i := range 15 {
		c1.exec(fmt.Sprintf("INSERT INTO t VALUES (%d)", i))
	}
	e := c1.file.e
	before := e.log.Stats().Restarts
	holder := openConn(t, path, "")
	holder.exec("BEGIN IMMEDIATE") // the writer lock, held
	reader.exec("COMMIT")          // nothing needs the log any more
	waiting := func() bool {
		e.wlock.mu.Lock()
		defer e.wlock.mu.Unlock()
		return len(e.wlock.waiters) > 0
	}
	deadline := time.Now().Add(5 * time.Second)
	for !waiting() {
		select {
		case e.ckptKick <- struct{}{}:
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the checkpointer never waited for the writer lock to restart the log")
		}
		time.Sleep(time.Millisecond)
	}
	holder.exec("ROLLBACK")
	for e.log.Stats().Restarts == before {
		if time.Now().After(deadline) {
			t.Fatal("the log was not restarted once the writer lock was free")
		}
		time.Sleep(time.Millisecond)
	}
	if frames, _ := e.log.Frames(); frames != 0 {
		t.Fatalf("%d frames after the restart, want 0", frames)
	}
}

// An engine being opened (waiting for another process's lock, recovering
// a long log) holds up neither the opens of other databases nor the
// closes of their connections; a second open of the same file waits for
// it and shares its engine. The process-wide lock was held throughout:
// one tenant's file locked by another process stalled every other
// tenant's open and close for half a second.
func TestOpeningEngineHoldsUpNoOtherDatabase(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	testHookEngineOpening = func(name string) {
		if filepath.Base(name) == "a.db" {
			once.Do(func() { close(entered) })
			<-release
		}
	}
	defer func() { testHookEngineOpening = nil }()
	released := false
	free := func() {
		if !released {
			released = true
			close(release)
		}
	}
	defer free()
	type result struct {
		c   *capi.Conn
		err error
	}
	open := func(path string, to chan result) {
		c, err := capi.Open("file:"+path, capi.OPEN_READWRITE|capi.OPEN_CREATE|capi.OPEN_URI, Name)
		to <- result{c, err}
	}
	first, second, other := make(chan result, 1), make(chan result, 1), make(chan result, 1)
	go open(a, first)
	<-entered
	go open(a, second)
	go open(b, other)
	select {
	case r := <-other:
		if r.err != nil {
			t.Fatal(r.err)
		}
		if err := r.c.Exec("CREATE TABLE t(x); INSERT INTO t VALUES (1)"); err != nil {
			t.Fatal(err)
		}
		if err := r.c.Close(); err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		free()
		t.Fatal("the open of b.db waited for the engine of a.db to open")
	}
	select {
	case r := <-second:
		t.Fatalf("a second open of a.db returned before the first had opened its engine: %v", r.err)
	case <-time.After(50 * time.Millisecond):
	}
	free()
	r1, r2 := <-first, <-second
	if r1.err != nil || r2.err != nil {
		t.Fatal(r1.err, r2.err)
	}
	defer r1.c.Close()
	defer r2.c.Close()
	if e1, e2 := FileOf(r1.c.FileHandle("main")).e, FileOf(r2.c.FileHandle("main")).e; e1 != e2 {
		t.Fatal("two engines for one file")
	}
}

// A clean close leaves an empty log, but for its header: stock SQLite
// deletes its log at its last close, and ours kept the space of the
// largest transaction it ever committed (32 MiB after one 32 MiB
// transaction, 1.3 GB after a 1.3 GB index build), or at least its 1 MiB
// reservation, for every closed database. The header keeps the sequence
// that the next open's versions follow.
func TestCleanCloseEmptiesTheLog(t *testing.T) {
	path := dbPath(t)
	c := openConn(t, path, "")
	c.exec("CREATE TABLE t(x)")
	c.exec("BEGIN")
	for i := range 200 {
		c.exec(fmt.Sprintf("INSERT INTO t VALUES (randomblob(16000)||%d)", i))
	}
	c.exec("COMMIT")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != wal.HeaderSize {
		t.Fatalf("the log holds %d bytes after a clean close, want only its header (%d)", st.Size(), wal.HeaderSize)
	}
	c = openConn(t, path, "")
	if n := c.int("SELECT count(*) FROM t"); n != 200 {
		t.Fatalf("%d rows after reopening, want 200", n)
	}
	c.exec("INSERT INTO t VALUES (1)")
	if n := c.int("SELECT count(*) FROM t"); n != 201 {
		t.Fatalf("%d rows, want 201", n)
	}
}
