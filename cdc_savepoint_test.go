package libsql

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// resumed opens the database at path again and reads n changes from its
// durable CDC log after LSN since.
func resumed(t *testing.T, path string, since LSN, n int) []Change {
	t.Helper()
	db := openTestDSN(t, "file:"+filepath.ToSlash(path)+"?cdc=on")
	s := stream(t, db, ChangeOptions{Since: since})
	got := next(t, s, n)
	noMore(t, s)
	return got
}

// openClosable opens the database at path with cdc=on and the DSN keys in
// query, for a test that closes it itself (with closeChecked) to read the
// durable log afterwards.
func openClosable(t *testing.T, path, query string) *sql.DB {
	t.Helper()
	db, err := Open("file:" + filepath.ToSlash(path) + "?cdc=on&" + query)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// closeChecked checks db's integrity and closes it.
func closeChecked(t *testing.T, db *sql.DB) {
	t.Helper()
	checkIntegrity(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// queryExec runs q with QueryContext and closes its rows: a statement that
// goes down the Query path.
func queryExec(t *testing.T, c *sql.Conn, q string) {
	t.Helper()
	r, err := c.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("%s: close: %v", q, err)
	}
}

// A transaction opened by SAVEPOINT in autocommit is committed by RELEASE
// of that savepoint: with cdc=on its changes are stored in libsql_cdc, so
// that a stream resumed from disk has them, whether RELEASE ran with Exec
// or Query.
func TestCDCReleaseCommitIsStored(t *testing.T) {
	for _, path := range []string{"exec", "query"} {
		t.Run(path, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "test.db")
			db := openClosable(t, file, "")
			mustExec(t, db, "CREATE TABLE t(x)")
			s := stream(t, db, ChangeOptions{})
			since := s.LSN()
			c := dbConn(t, db)
			cexec(t, c, "SAVEPOINT a")
			cexec(t, c, "INSERT INTO t VALUES (1)")
			cexec(t, c, "SAVEPOINT b")
			cexec(t, c, "INSERT INTO t VALUES (2)")
			cexec(t, c, "RELEASE b")
			if path == "exec" {
				cexec(t, c, "RELEASE a")
			} else {
				queryExec(t, c, "RELEASE SAVEPOINT a")
			}
			live := next(t, s, 2)
			expectChanges(t, live, "insert t rowid=1 new=[1]", "insert t rowid=2 new=[2]")
			noMore(t, s)
			if n := count(t, db, "SELECT count(*) FROM libsql_cdc"); n != 1 {
				t.Fatalf("libsql_cdc has %d rows, want 1", n)
			}
			c.Close()
			closeChecked(t, db)
			expectChanges(t, resumed(t, file, since, 2), "insert t rowid=1 new=[1]", "insert t rowid=2 new=[2]")
		})
	}
}

// ROLLBACK TO drops the changes made since its savepoint from the stream,
// whichever path ran the savepoint statements.
func TestCDCRollbackToViaQuery(t *testing.T) {
	for _, cdc := range []string{"off", "on"} {
		t.Run("cdc="+cdc, func(t *testing.T) {
			db := openTestDB(t, "cdc="+cdc)
			mustExec(t, db, "CREATE TABLE t(x)")
			s := stream(t, db, ChangeOptions{})
			c := dbConn(t, db)
			cexec(t, c, "BEGIN")
			cexec(t, c, "INSERT INTO t VALUES (1)")
			queryExec(t, c, "SAVEPOINT sp")
			cexec(t, c, "INSERT INTO t VALUES (2)")
			queryExec(t, c, "SAVEPOINT inner")
			cexec(t, c, "INSERT INTO t VALUES (3)")
			queryExec(t, c, "RELEASE inner")
			queryExec(t, c, "ROLLBACK TO sp")
			cexec(t, c, "INSERT INTO t VALUES (4)")
			cexec(t, c, "COMMIT")
			expectChanges(t, next(t, s, 2), "insert t rowid=1 new=[1]", "insert t rowid=2 new=[4]")
			noMore(t, s)
		})
	}
}

// A savepoint opened before capture started is still one ROLLBACK TO
// returns to.
func TestCDCSavepointBeforeCapture(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(x)")
	c := dbConn(t, db)
	cexec(t, c, "BEGIN")
	cexec(t, c, "SAVEPOINT sp")
	s := stream(t, db, ChangeOptions{})
	cexec(t, c, "INSERT INTO t VALUES (1)")
	cexec(t, c, "ROLLBACK TO sp")
	cexec(t, c, "INSERT INTO t VALUES (2)")
	cexec(t, c, "COMMIT")
	expectChanges(t, next(t, s, 1), "insert t rowid=1 new=[2]")
	noMore(t, s)
}

// Savepoint names are matched as SQLite matches them: quoted, with the
// same name twice (the newest wins), in another letter case.
func TestCDCSavepointNames(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(x)")
	s := stream(t, db, ChangeOptions{})
	c := dbConn(t, db)
	cexec(t, c, "BEGIN")
	cexec(t, c, `SAVEPOINT "a b"`)
	cexec(t, c, "INSERT INTO t VALUES (1)")
	cexec(t, c, "SAVEPOINT x")
	cexec(t, c, "INSERT INTO t VALUES (2)")
	cexec(t, c, "SAVEPOINT x")
	cexec(t, c, "INSERT INTO t VALUES (3)")
	cexec(t, c, "ROLLBACK TO X")
	cexec(t, c, "INSERT INTO t VALUES (4)")
	cexec(t, c, `ROLLBACK TO "a b"`)
	cexec(t, c, "INSERT INTO t VALUES (5)")
	cexec(t, c, "COMMIT")
	expectChanges(t, next(t, s, 1), "insert t rowid=1 new=[5]")
	noMore(t, s)
}

// Savepoint statements are recognized with comments before them, as SQLite
// runs them.
func TestCDCSavepointAfterComments(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(x)")
	s := stream(t, db, ChangeOptions{})
	c := dbConn(t, db)
	cexec(t, c, "BEGIN")
	cexec(t, c, "INSERT INTO t VALUES (1)")
	cexec(t, c, "/* keep */ SAVEPOINT sp")
	cexec(t, c, "INSERT INTO t VALUES (2)")
	cexec(t, c, "-- undo\nROLLBACK TO sp")
	cexec(t, c, "INSERT INTO t VALUES (3)")
	cexec(t, c, "COMMIT")
	expectChanges(t, next(t, s, 2), "insert t rowid=1 new=[1]", "insert t rowid=2 new=[3]")
	noMore(t, s)
}
