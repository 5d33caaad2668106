package iouringvfs

import (
	"testing"
	"time"
)

// TestRestartRetainingReaderGoneMeanwhile: a reader that ends between the
// checkpointer's reading of the pinned versions and its retaining restart
// finds nothing retained to drop when it unpins; the restart then kept
// its pages for good (TestReview5RetainedPagesDroppedUnderReaders failed
// so in a soak: "11 pages still retained after every reader ended"). The
// restart drops them itself.
func TestRestartRetainingReaderGoneMeanwhile(t *testing.T) {
	path := dbPath(t)
	c := openConn(t, path, "")
	c.exec("PRAGMA wal_autocheckpoint=0")
	c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	c.exec(`WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 300)
		INSERT INTO t SELECT x, hex(randomblob(100)) FROM c`)
	r := openConn(t, path, "")
	r.exec("BEGIN")
	if n := r.int("SELECT count(*) FROM t"); n != 300 {
		t.Fatalf("%d rows", n)
	}
	c.exec("UPDATE t SET v = 'new' WHERE id % 2 = 0")
	e := c.file.e
	if err := e.log.WaitDurable(e.log.Last()); err != nil {
		t.Fatal(err)
	}
	pinned := e.pinnedVersions()
	if len(pinned) == 0 {
		t.Fatal("the reader pins nothing")
	}
	testHookBeforeRetain = func() { r.exec("COMMIT") }
	defer func() { testHookBeforeRetain = nil }()
	if err := e.wlock.acquireInternal(bgContext, time.Second); err != nil {
		t.Fatal(err)
	}
	e.restartRetaining(pinned)
	e.wlock.release()
	if n := e.log.RetainedPages(); n != 0 {
		t.Fatalf("%d pages retained for a reader that had ended; stats %+v", n, e.Stats())
	}
	if s := c.text("PRAGMA integrity_check"); s != "ok" {
		t.Fatalf("integrity_check: %s", s)
	}
}
