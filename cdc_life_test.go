package libsql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golibsql/libsql/internal/capi"
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

// Closing a connector twice (sql.DB.Close, then the owner's own Close) is
// harmless, with the retention pruner running or not.
func TestConnectorCloseTwice(t *testing.T) {
	for _, q := range []string{"cdc=on&cdc_max=5", ""} {
		cn, err := NewConnector("file:" + t.TempDir() + "/x.db?" + q)
		if err != nil {
			t.Fatal(err)
		}
		c, err := cn.Connect(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if err := cn.Close(); err != nil {
			t.Fatalf("%s: first Close: %v", q, err)
		}
		if err := cn.Close(); err != nil {
			t.Fatalf("%s: second Close: %v", q, err)
		}
	}
}

// Connect and Close may race (the pool opens a connection while the DB is
// closed): the pruner is started or stopped, never both halfway.
func TestConnectorConnectRacesClose(t *testing.T) {
	cn, err := NewConnector("file:" + t.TempDir() + "/x.db?cdc=on&cdc_max=5")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan driver.Conn, 1)
	go func() {
		c, _ := cn.Connect(context.Background())
		conns <- c
	}()
	closed := make(chan error, 1)
	go func() { closed <- cn.Close() }()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if c := <-conns; c != nil {
		c.Close()
	}
	if err := cn.Close(); err != nil {
		t.Fatal(err)
	}
	if cn.prune.running() {
		t.Fatal("the pruner runs after Close")
	}
}

// A stream outlives the pool's connections: database/sql closes idle ones,
// and the engine (with its hub) must stay open while a stream is, and close
// once the stream is closed too.
func TestStreamSurvivesIdleConnectionsClosing(t *testing.T) {
	for _, q := range []string{"", "cdc=on"} {
		path := filepath.Join(t.TempDir(), "idle.db")
		db := openTestDSN(t, "file:"+path+"?"+q)
		db.SetMaxIdleConns(0)
		mustExec(t, db, "CREATE TABLE t(x)")
		s := stream(t, db, ChangeOptions{})
		mustExec(t, db, "INSERT INTO t VALUES (1)")
		expectChanges(t, next(t, s, 1), "insert t rowid=1 new=[1]")
		mustExec(t, db, "INSERT INTO t VALUES (2)")
		expectChanges(t, next(t, s, 1), "insert t rowid=2 new=[2]")
		if err := s.Close(); err != nil {
			t.Fatalf("%s: stream Close: %v", q, err)
		}
		// The engine holds a lock that keeps stock SQLite out.
		cc, err := capi.Open(path, capi.OPEN_READWRITE, "")
		if err != nil {
			t.Fatal(err)
		}
		err = cc.Exec("SELECT count(*) FROM t")
		cc.Close()
		if err != nil {
			t.Fatalf("%s: the engine is still open after the stream closed: %v", q, err)
		}
	}
}

// Retention keeps up with a steady stream of small write transactions: the
// pruner's transactions must not fail on every commit that lands meanwhile.
func TestPrunerKeepsUpUnderLoad(t *testing.T) {
	if raceEnabled {
		t.Skip("a load test: too slow under the race detector")
	}
	const keep = 100
	cn, err := NewConnector(fmt.Sprintf("file:%s/load.db?cdc=on&cdc_max=%d&sync=normal", t.TempDir(), keep))
	if err != nil {
		t.Fatal(err)
	}
	cn.prune.interval = 20 * time.Millisecond
	db := sql.OpenDB(cn)
	defer db.Close()
	mustExec(t, db, "CREATE TABLE t(x)")
	stop := make(chan struct{})
	written := make(chan int)
	go func() {
		n := 0
		defer func() { written <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := db.Exec("INSERT INTO t VALUES (?)", n); err != nil {
				t.Errorf("insert: %v", err)
				return
			}
			n++
		}
	}()
	// Under load, the pruner deletes most of what is written meanwhile
	// (the count is sampled while the writer still runs).
	time.Sleep(1200 * time.Millisecond)
	stored := count(t, db, "SELECT count(*) FROM libsql_cdc")
	close(stop)
	n := <-written
	if st := cn.PruneStats(); stored > keep+n/4 || st.Deleted == 0 || st.Failures > 0 {
		t.Fatalf("%d transactions written, %d stored (retention keeps %d); %+v", n, stored, keep, st)
	}
}

// An error of the pruner has no caller to go to: PruneStats reports it.
func TestPrunerErrorsAreCounted(t *testing.T) {
	cn, err := NewConnector("file:" + t.TempDir() + "/err.db?cdc=on&cdc_max=1")
	if err != nil {
		t.Fatal(err)
	}
	cn.prune.interval = 5 * time.Millisecond
	db := sql.OpenDB(cn)
	defer db.Close()
	mustExec(t, db, "DROP TABLE libsql_cdc_state")
	mustExec(t, db, "CREATE VIEW libsql_cdc_state AS SELECT '' AS key, 0 AS value")
	mustExec(t, db, "CREATE TABLE t(x)")
	mustExec(t, db, "INSERT INTO t VALUES (1), (2)")
	mustExec(t, db, "INSERT INTO t VALUES (3)")
	waitFor(t, "a pruning failure", func() bool { return cn.PruneStats().Failures > 0 })
	st := cn.PruneStats()
	if st.LastError == nil || !strings.Contains(st.LastError.Error(), "pruned") || st.Deleted != 0 {
		t.Fatalf("%+v", st)
	}
}
