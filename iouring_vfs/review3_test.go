package iouringvfs

// Review 3: tests of the changes in 88234a1..HEAD (see the report).

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// r3FreeingCommit makes one commit that allocates 300 pages and frees them
// again (a trigger fills a table and empties it, in one autocommit
// statement). SQLite marks the freed pages it never spilled "don't write"
// (sqlite3PagerDontWrite): in rollback mode it grows the file by writing
// only its last page (pager_truncate). The commit reaches the log as a
// handful of frames claiming a database of ~300 pages.
func r3FreeingCommit(c *tconn) {
	c.exec("CREATE TABLE IF NOT EXISTS big(x)")
	c.exec("CREATE TABLE IF NOT EXISTS go(x)")
	c.exec(`CREATE TRIGGER IF NOT EXISTS fill AFTER INSERT ON go BEGIN
		INSERT INTO big WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<300) SELECT randomblob(3000) FROM n;
		DELETE FROM big;
	END`)
	c.exec("PRAGMA wal_checkpoint(TRUNCATE)")
	c.exec("INSERT INTO go VALUES (1)")
}

// TestReview3CheckpointRefusesLegitimateLog: checkClaimedSize (wal/
// checkpoint.go, 72598f9) refuses a log whose commit claims more pages
// than the main file plus the log's frames plus 64 KiB: "corrupt". But the
// engine writes such logs itself, from a commit that allocated pages and
// freed them in the same transaction: the freed pages are never written
// (don't-write freelist leaves), only the new last page is. From then on
// no checkpoint of the log succeeds (wal_checkpoint fails with
// SQLITE_IOERR), the background checkpointer never restarts the log, and
// it grows with every commit, for good (the refusal comes back after
// every reopen).
func TestReview3CheckpointRefusesLegitimateLog(t *testing.T) {
	path := dbPath(t)
	c := openConn(t, path, "")
	c.exec("PRAGMA wal_autocheckpoint=20")
	c.exec("CREATE TABLE keep(x)")
	r3FreeingCommit(c)
	e := c.file.e
	frames, _ := e.log.Frames()
	t.Logf("the commit: %d frames, database of %d pages", frames, e.log.Size(e.log.Last()))
	if err := c.tryExec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Errorf("a checkpoint of a log the engine wrote itself failed: %v", err)
	}
	for i := range 200 {
		c.exec(fmt.Sprintf("INSERT INTO keep VALUES (%d)", i))
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		frames, _ = e.log.Frames()
		if frames < 100 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if frames >= 100 {
		t.Errorf("with wal_autocheckpoint=20, the log holds %d frames after 200 commits: the checkpointer can no longer restart it", frames)
	}
	if got := c.text("PRAGMA integrity_check"); got != "ok" {
		t.Errorf("integrity_check: %s", got)
	}
	c.Close()
	if st, err := os.Stat(path + "-wal"); err == nil && st.Size() > 32 {
		t.Errorf("after a clean close the -wal holds %d bytes, more than a header (the closing checkpoint was refused too)", st.Size())
	}
}

// TestReview3RollbackWithKeptPage1ReservesLog: File.rollingBack (conn.go,
// bec1329) takes a sync for a journal playback only if page 1 in the write
// set carries the change counter presented to this connection now
// (f.counter). The playback writes back page 1 as SQLite's cache held it
// before the transaction; when the driver kept SQLite's cache across
// snapshots (capi keepCache, on for every driver connection), that copy
// carries an older counter: the one the connection's own last commit wrote
// (here), or the one of an older snapshot when another connection's commit
// left page 1 out. Then the ROLLBACK reserves log space for the whole
// write set again (a 4 MiB UPDATE that grows the file: 3 MiB of zeros in
// -wal), and on a full disk the reservation fails under the playback. The
// same transaction on a connection without the kept cache reserves
// nothing.
func TestReview3RollbackWithKeptPage1ReservesLog(t *testing.T) {
	for _, keep := range []bool{false, true} {
		path := dbPath(t)
		c := openConn(t, path, "")
		if keep && !c.KeepCacheAcrossSnapshots() {
			t.Fatal("KeepCacheAcrossSnapshots refused")
		}
		c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
		c.exec("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i < 4096) INSERT INTO t(b) SELECT randomblob(1000) FROM s")
		c.exec("PRAGMA wal_checkpoint(TRUNCATE)")
		c.exec("BEGIN")
		// Rows grow: the file grows, so page 1 (its page count) is in the
		// transaction; the cache spills most of it into the write set.
		c.exec("UPDATE t SET b = randomblob(1200)")
		ws := len(c.file.ws)
		c.exec("ROLLBACK")
		st, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("kept cache %v: write set of %d pages rolled back, -wal %d bytes", keep, ws, st.Size())
		if st.Size() != 0 {
			t.Errorf("kept cache %v: the ROLLBACK of a %d-page write set grew the -wal from 0 to %d bytes: its playback's xSync was taken for a commit (page 1 played back with the counter of an older snapshot, not f.counter)", keep, ws, st.Size())
		}
		if n := c.int("SELECT count(*) FROM t WHERE length(b) = 1000"); n != 4096 {
			t.Errorf("after ROLLBACK %d rows as before, want 4096", n)
		}
		c.Close()
	}
}
