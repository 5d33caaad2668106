package iouringvfs

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestCheckpointerSleepsBesideIdleLongReader: with a long reader pinning an
// old snapshot of a log past its threshold, the checkpointer's restarts
// fail; once nothing is committed any more it must sleep until the next
// commit or unpin, not wake every few milliseconds to find nothing new (an
// idle process's wakeups). A commit and the reader's end must still wake
// it: the log restarts promptly after the reader goes.
func TestCheckpointerSleepsBesideIdleLongReader(t *testing.T) {
	var wakes atomic.Int64
	testHookCheckpointerWake = func() { wakes.Add(1) }
	defer func() { testHookCheckpointerWake = nil }()

	c, r := refusedRestartSetup(t)
	time.Sleep(150 * time.Millisecond) // the retries' backoff ends
	w0 := wakes.Load()
	time.Sleep(500 * time.Millisecond)
	if d := wakes.Load() - w0; d > 2 {
		t.Errorf("the checkpointer woke %d times in 500 ms of an idle database beside a long reader; want none", d)
	}

	if s := c.file.e.Stats(); s.LogFrames-s.Backfilled >= 20 || s.LogFrames < 20 || s.PinnedSnapshots != 1 {
		t.Fatalf("%d frames, %d copied: the test checks nothing", s.LogFrames, s.Backfilled)
	}
	w1 := wakes.Load()
	c.exec("UPDATE t SET v = zeroblob(300) WHERE id = 2")
	deadline := time.Now().Add(2 * time.Second)
	for wakes.Load() == w1 {
		if time.Now().After(deadline) {
			t.Fatal("a commit did not wake the sleeping checkpointer")
		}
		time.Sleep(time.Millisecond)
	}

	restarts := c.file.e.Stats().Restarts
	time.Sleep(100 * time.Millisecond)
	r.exec("COMMIT")
	deadline = time.Now().Add(2 * time.Second)
	for {
		s := c.file.e.Stats()
		if s.Restarts > restarts || s.LogFrames == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log did not restart within 2 s of the long reader's end: %+v", s)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// refusedRestartSetup opens a database with a long reader pinning the
// newest version and then one commit past the threshold: the checkpoints
// copy every frame up to the reader's snapshot and none after, and its pin
// refuses the restart, so the checkpointer ends up retrying and then idle.
// The log is past the threshold but short of a threshold of frames to
// copy, so a commit wakes the checkpointer only through ckptIdle.
func refusedRestartSetup(t *testing.T) (c, r *tconn) {
	t.Helper()
	path := dbPath(t)
	c = openConn(t, path, "")
	c.exec("PRAGMA wal_autocheckpoint=1000")
	c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
	for range 30 {
		c.exec("INSERT INTO t(v) VALUES (zeroblob(100))")
	}
	r = openConn(t, path, "")
	r.exec("BEGIN")
	if n := r.int("SELECT count(*) FROM t"); n != 30 {
		t.Fatalf("count %d", n)
	}
	c.exec("PRAGMA wal_autocheckpoint=20")
	c.exec("UPDATE t SET v = zeroblob(50) WHERE id = 1")
	return c, r
}
