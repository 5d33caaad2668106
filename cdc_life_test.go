package libsql

import (
	"context"
	"database/sql"
	"testing"
	"time"

	iouringvfs "github.com/golibsql/libsql/iouring_vfs"
)

// testEngine returns the engine of db's main database.
func testEngine(t *testing.T, db *sql.DB) *iouringvfs.Engine {
	t.Helper()
	c := dbConn(t, db)
	var e *iouringvfs.Engine
	if err := c.Raw(func(dc any) error {
		e = dc.(*conn).file.Engine()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return e
}

// waitFor polls cond until it holds, failing the test after two seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// A concurrent transaction that begins once capture is wanted, while
// EnableCapture still waits for an older uncaptured one, captures its
// changes and commits: its changes must be published to a hub that exists
// already, not to one created at publishing time, after the commit.
func TestCaptureHubExistsBeforeCaptureIsWanted(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(x)")
	e := testEngine(t, db)
	a, c := dbConn(t, db), dbConn(t, db)
	cexec(t, a, "BEGIN CONCURRENT") // uncaptured: holds EnableCapture back
	cexec(t, a, "SELECT count(*) FROM t")
	type result struct {
		s   *ChangeStream
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := Changes(context.Background(), db, ChangeOptions{})
		done <- result{s, err}
	}()
	waitFor(t, "capture to be wanted", e.CaptureWanted)
	cexec(t, c, "BEGIN CONCURRENT")
	cexec(t, c, "INSERT INTO t VALUES (1)")
	cexec(t, c, "COMMIT")
	cexec(t, c, "INSERT INTO t VALUES (2)")
	cexec(t, a, "ROLLBACK")
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.s.Close()
	mustExec(t, db, "INSERT INTO t VALUES (3)")
	expectChanges(t, next(t, r.s, 1), "insert t rowid=3 new=[3]")
}
