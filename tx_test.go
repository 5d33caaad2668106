package libsql

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
)

func TestTransactionsCommitAndRollBack(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(x)")
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, tx, "INSERT INTO t VALUES (1)")
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if tx, err = db.Begin(); err != nil {
		t.Fatal(err)
	}
	mustExec(t, tx, "INSERT INTO t VALUES (2)")
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var sum int
	if err := db.QueryRow("SELECT sum(x) FROM t").Scan(&sum); err != nil {
		t.Fatalf("sum after commit: %v", err)
	}
	if sum != 2 {
		t.Errorf("sum = %d, want 2", sum)
	}
}

// txState returns what the BeginTx of opts left the connection in: whether
// it holds the write lock (txn_state WRITE) right after BEGIN.
func beginHoldsWriteLock(t *testing.T, db *sql.DB, opts *sql.TxOptions) bool {
	t.Helper()
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tx, err := c.BeginTx(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var state int32
	c.Raw(func(dc any) error { state = dc.(*conn).cc.TxnState("main"); return nil })
	return state == 2
}

func TestBeginModesFollowTxLockAndIsolation(t *testing.T) {
	deferred := openTestDB(t, "")
	mustExec(t, deferred, "CREATE TABLE t(x)")
	if beginHoldsWriteLock(t, deferred, nil) {
		t.Error("default BEGIN took the write lock with _txlock=deferred")
	}
	if !beginHoldsWriteLock(t, deferred, &sql.TxOptions{Isolation: sql.LevelSerializable}) {
		t.Error("LevelSerializable did not BEGIN IMMEDIATE")
	}
	if !beginHoldsWriteLock(t, deferred, &sql.TxOptions{Isolation: sql.LevelLinearizable}) {
		t.Error("LevelLinearizable did not BEGIN IMMEDIATE")
	}
	if beginHoldsWriteLock(t, deferred, &sql.TxOptions{Isolation: sql.LevelReadCommitted}) {
		t.Error("LevelReadCommitted took the write lock")
	}
	immediate := openTestDB(t, "_txlock=immediate")
	mustExec(t, immediate, "CREATE TABLE t(x)")
	if !beginHoldsWriteLock(t, immediate, nil) {
		t.Error("default BEGIN did not take the write lock with _txlock=immediate")
	}
	if beginHoldsWriteLock(t, immediate, &sql.TxOptions{ReadOnly: true}) {
		t.Error("a read-only transaction took the write lock")
	}
}

func TestUnsupportedIsolationLevelsAreErrors(t *testing.T) {
	db := openTestDB(t, "")
	_, err := db.BeginTx(context.Background(), &sql.TxOptions{Isolation: sql.IsolationLevel(42)})
	if err == nil || !strings.Contains(err.Error(), "IsolationLevel(42)") {
		t.Errorf("err = %v, want one naming the level", err)
	}
	// The connection is still good after the refusal.
	mustExec(t, db, "CREATE TABLE t(x)")
}

func TestReadOnlyTransactionRefusesWrites(t *testing.T) {
	db := openTestDB(t, "max_conns=1")
	mustExec(t, db, "CREATE TABLE t(x)")
	mustExec(t, db, "INSERT INTO t VALUES (1)")
	tx, err := db.BeginTx(context.Background(), &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("read in a read-only transaction: %d, %v", n, err)
	}
	_, err = tx.Exec("INSERT INTO t VALUES (2)")
	if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), "read-only transaction") {
		t.Errorf("write in a read-only transaction: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// The same (only) connection writes again afterwards.
	mustExec(t, db, "INSERT INTO t VALUES (3)")
	qo := -1
	if err := db.QueryRow("PRAGMA query_only").Scan(&qo); err != nil {
		t.Fatalf("PRAGMA query_only: %v", err)
	}
	if qo != 0 {
		t.Error("query_only left on after the read-only transaction")
	}
}

func TestSavepointsThroughSQL(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(x)")
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, tx, "INSERT INTO t VALUES (1)")
	mustExec(t, tx, "SAVEPOINT sp")
	mustExec(t, tx, "INSERT INTO t VALUES (2)")
	mustExec(t, tx, "ROLLBACK TO sp")
	mustExec(t, tx, "RELEASE sp")
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var sum int
	if err := db.QueryRow("SELECT sum(x) FROM t").Scan(&sum); err != nil {
		t.Fatalf("sum after the savepoints: %v", err)
	}
	if sum != 1 {
		t.Errorf("sum = %d, want 1", sum)
	}
}

func TestRollbackAfterSQLiteRolledBackItself(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(x UNIQUE ON CONFLICT ROLLBACK)")
	mustExec(t, db, "INSERT INTO t VALUES (1)")
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO t VALUES (1)"); !errors.Is(err, ErrConstraint) {
		t.Fatalf("err = %v", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Errorf("Rollback after SQLite's own rollback: %v", err)
	}
}

func TestResetSessionEndsATransactionLeftOpenWithSQL(t *testing.T) {
	db := openTestDB(t, "max_conns=1")
	mustExec(t, db, "CREATE TABLE t(x)")
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustExecConn(t, c, "BEGIN")
	mustExecConn(t, c, "INSERT INTO t VALUES (1)")
	c.Close() // back to the pool, in the transaction
	// The next use of the pooled connection starts outside any transaction.
	tx, err := db.Begin()
	if err != nil {
		t.Fatalf("Begin after a leftover BEGIN: %v", err)
	}
	tx.Rollback()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatalf("count after the leftover transaction: %v", err)
	}
	if n != 0 {
		t.Errorf("the leftover transaction's insert survived: %d rows", n)
	}
}

func mustExecConn(t *testing.T, c *sql.Conn, query string) {
	t.Helper()
	if _, err := c.ExecContext(context.Background(), query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// A deferred transaction that read, then writes after another connection
// committed, gets ErrBusySnapshot, as in SQLite's WAL mode; BEGIN IMMEDIATE
// takes the writer lock first and never does.
func TestDeferredTransactionWithStaleSnapshot(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(x)")
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "INSERT INTO t VALUES (1)")
	_, err = tx.Exec("INSERT INTO t VALUES (2)")
	if !errors.Is(err, ErrBusySnapshot) {
		t.Fatalf("write on a stale snapshot: %v, want ErrBusySnapshot", err)
	}
	tx.Rollback()

	tx, err = db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := db.Exec("INSERT INTO t VALUES (3)"); done <- err }()
	if _, err := tx.Exec("INSERT INTO t VALUES (4)"); err != nil {
		t.Fatalf("BEGIN IMMEDIATE transaction: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the writer queued behind BEGIN IMMEDIATE: %v", err)
	}
	if n := count(t, db, "SELECT count(*) FROM t"); n != 3 {
		t.Fatalf("%d rows, want 3", n)
	}
}

// A statement that writes only a temporary table, or nothing (a DROP TABLE
// IF EXISTS of no table, a CREATE TABLE IF NOT EXISTS of one that exists),
// takes no writer lock, as in stock SQLite: beside a writer it neither
// waits (here, with busy_timeout=0, fails) nor, inside a transaction,
// holds up the next writer until it ends.
func TestStatementsThatDoNotWriteTheDatabaseTakeNoWriterLock(t *testing.T) {
	ctx := context.Background()
	a, b := twoConnsNoWait(t)
	connExec(t, a, "CREATE TEMP TABLE tt(x)")
	noWrite := []string{
		"INSERT INTO tt VALUES (1)",
		"DROP TABLE IF EXISTS nosuch",
		"CREATE TABLE IF NOT EXISTS t(x)",
		"CREATE INDEX IF NOT EXISTS t_x ON t(x)", // creates it: see below
	}
	connExec(t, a, noWrite[3])
	connExec(t, b, "BEGIN IMMEDIATE")
	for _, q := range noWrite {
		if _, err := a.ExecContext(ctx, q); err != nil {
			t.Errorf("beside a writer: %s: %v", q, err)
		}
	}
	connExec(t, b, "ROLLBACK")
	for _, q := range noWrite {
		connExec(t, a, "BEGIN")
		connExec(t, a, q)
		if _, err := b.ExecContext(ctx, "INSERT INTO t VALUES (1)"); err != nil {
			t.Errorf("after %s in a transaction of another connection: %v", q, err)
		}
		connExec(t, a, "ROLLBACK")
	}
}

// After a schema change, also one made in a multi-statement text, a cached
// statement is prepared again before it runs: a cached INSERT into a
// table dropped since fails as it is prepared, where its stale program
// would first take the writer lock, and keep it to the end of the
// transaction, holding up every other writer.
func TestSchemaChangePreparesCachedStatementsAgain(t *testing.T) {
	ctx := context.Background()
	a, b := twoConnsNoWait(t)
	for _, drop := range []string{"DROP TABLE w", "DROP TABLE w; SELECT 1"} {
		connExec(t, a, "CREATE TABLE w(x)")
		connExec(t, a, "INSERT INTO w VALUES (1)") // cached
		connExec(t, a, drop)
		connExec(t, a, "BEGIN")
		if _, err := a.ExecContext(ctx, "INSERT INTO w VALUES (1)"); err == nil || !strings.Contains(err.Error(), "no such table") {
			t.Fatalf("after %q: INSERT INTO w: %v, want no such table", drop, err)
		}
		if _, err := b.ExecContext(ctx, "INSERT INTO t VALUES (1)"); err != nil {
			t.Errorf("after %q and a failed INSERT in a transaction of another connection: %v", drop, err)
		}
		connExec(t, a, "ROLLBACK")
	}
}

// twoConnsNoWait opens a database with busy_timeout=0 and table t(x), and
// returns two of its connections, closed when t ends.
func twoConnsNoWait(t *testing.T) (a, b *sql.Conn) {
	t.Helper()
	db := openTestDB(t, "busy_timeout=0")
	db.SetMaxOpenConns(2)
	mustExec(t, db, "CREATE TABLE t(x)")
	conns := [2]*sql.Conn{}
	for i := range conns {
		c, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns[i] = c
	}
	return conns[0], conns[1]
}

// connExec runs q on c and fails t if it fails.
func connExec(t *testing.T, c *sql.Conn, q string) {
	t.Helper()
	if _, err := c.ExecContext(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// A read-only transaction on a connection whose DSN turned query_only on
// leaves it on at its end.
func TestReadOnlyTxKeepsTheConnectionsQueryOnly(t *testing.T) {
	path := t.TempDir() + "/q.db"
	rw := openTestDSN(t, path)
	mustExec(t, rw, "CREATE TABLE t(x)")
	db := openTestDSN(t, "file:"+path+"?_pragma=query_only(1)")
	db.SetMaxOpenConns(1)
	tx, err := db.BeginTx(context.Background(), &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO t VALUES (1)"); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("a write after a read-only transaction, with query_only(1) in the DSN: %v, want ErrReadOnly", err)
	}
}
