package libsql

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// concurrentDB opens a test database with tables a(id, v) and b(id, v).
func concurrentDB(t *testing.T, query string) *sql.DB {
	t.Helper()
	db := openTestDB(t, query)
	mustExec(t, db, "CREATE TABLE a(id INTEGER PRIMARY KEY, v TEXT)")
	mustExec(t, db, "CREATE TABLE b(id INTEGER PRIMARY KEY, v TEXT)")
	mustExec(t, db, "INSERT INTO a(v) VALUES ('a1'), ('a2')")
	mustExec(t, db, "INSERT INTO b(v) VALUES ('b1'), ('b2')")
	return db
}

func dbConn(t *testing.T, db *sql.DB) *sql.Conn {
	t.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func cexec(t *testing.T, c *sql.Conn, q string, args ...any) {
	t.Helper()
	if _, err := c.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func count(t *testing.T, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, sql string) int {
	t.Helper()
	var n int
	if err := q.QueryRowContext(context.Background(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// engineStats returns PRAGMA libsql_stats, read through q (a DB, or a
// connection whose own state the test watches).
func engineStats(t *testing.T, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) string {
	t.Helper()
	var s string
	if err := q.QueryRowContext(context.Background(), "PRAGMA libsql_stats").Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestClassifyTx(t *testing.T) {
	cases := []struct {
		sql  string
		kind txStmt
		n    int
	}{
		{"BEGIN CONCURRENT", txBeginConcurrent, 16},
		{"begin concurrent transaction;", txBeginConcurrent, 29},
		{" /* c */ BEGIN -- x\n CONCURRENT ; INSERT", txBeginConcurrent, 33},
		{"BEGIN", txNone, 0},
		{"BEGIN IMMEDIATE", txNone, 0},
		{"BEGIN CONCURRENT x", txNone, 0},
		{"COMMIT", txCommit, 6},
		{"END TRANSACTION;", txCommit, 16},
		{"ROLLBACK", txRollback, 8},
		{"ROLLBACK TO sp", txNone, 0},
		{"ROLLBACK TRANSACTION TO sp", txNone, 0},
		{"COMMITTED", txNone, 0},
		{"SELECT 1", txNone, 0},
	}
	for _, c := range cases {
		kind, n := classifyTx(c.sql)
		if kind != c.kind || n != c.n {
			t.Errorf("classifyTx(%q) = %v, %d; want %v, %d", c.sql, kind, n, c.kind, c.n)
		}
	}
	// It runs on every statement.
	for _, q := range []string{"select * from t where id = ?", "insert into t values (?)", "commit"} {
		if n := testing.AllocsPerRun(100, func() { classifyTx(q) }); n != 0 {
			t.Errorf("classifyTx(%q) allocates %v times", q, n)
		}
	}
}

// Every way of starting a concurrent transaction, and of ending one.
func TestBeginConcurrentForms(t *testing.T) {
	db := concurrentDB(t, "")
	ctx := context.Background()

	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: LevelConcurrent})
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, tx, "INSERT INTO a(v) VALUES ('level')")
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	c := dbConn(t, db)
	cexec(t, c, "BEGIN CONCURRENT")
	cexec(t, c, "INSERT INTO a(v) VALUES ('text')")
	cexec(t, c, "COMMIT")
	cexec(t, c, "BEGIN CONCURRENT TRANSACTION")
	cexec(t, c, "INSERT INTO a(v) VALUES ('rolled back')")
	cexec(t, c, "ROLLBACK")
	cexec(t, c, "BEGIN CONCURRENT; INSERT INTO a(v) VALUES ('script'); END")

	db2 := openTestDB(t, "_txlock=concurrent")
	mustExec(t, db2, "CREATE TABLE t(x)")
	tx, err = db2.Begin()
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, tx, "INSERT INTO t VALUES (1)")
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, "SELECT count(*) FROM a WHERE v IN ('level', 'text', 'script')"); n != 3 {
		t.Fatalf("%d committed rows, want 3", n)
	}
	if n := count(t, db, "SELECT count(*) FROM a WHERE v = 'rolled back'"); n != 0 {
		t.Fatal("a rolled back concurrent transaction left a row")
	}
	if s := engineStats(t, db); !strings.Contains(s, `"commits":3`) {
		t.Fatalf("stats: %s", s)
	}
}

// Concurrent transactions hold no writer lock before COMMIT: two run at
// once on different tables while a plain writer commits, and both commit,
// both merged.
func TestBeginConcurrentDifferentTablesBothCommit(t *testing.T) {
	db := concurrentDB(t, "busy_timeout=0")
	mustExec(t, db, "CREATE TABLE other(x)")
	c1, c2 := dbConn(t, db), dbConn(t, db)
	cexec(t, c1, "BEGIN CONCURRENT")
	cexec(t, c2, "BEGIN CONCURRENT")
	cexec(t, c1, "INSERT INTO a(v) VALUES ('t1')")
	cexec(t, c2, "INSERT INTO b(v) VALUES ('t2')")
	mustExec(t, db, "INSERT INTO other VALUES (1)") // needs the writer lock: free
	cexec(t, c1, "COMMIT")
	cexec(t, c2, "COMMIT")
	if n := count(t, db, "SELECT (SELECT count(*) FROM a) + (SELECT count(*) FROM b)"); n != 6 {
		t.Fatalf("%d rows, want 6", n)
	}
	// Both are stale at COMMIT (c1 past the plain insert, c2 past c1); they
	// allocated no page and touched different pages: both are merged.
	if s := engineStats(t, db); !strings.Contains(s, `"merged":2`) {
		t.Fatalf("stats: %s", s)
	}
}

// Commits append the pages that changed and leave page 1 out when only
// SQLite's change counter changed in it: a single-row insert appends one
// frame, and so does a merged BEGIN CONCURRENT transaction, whose page 1
// used to be taken from the newest version with its counter advanced. The
// other connections still see every commit.
func TestCommitsLeavePage1Out(t *testing.T) {
	db := concurrentDB(t, "busy_timeout=0")
	mustExec(t, db, "PRAGMA wal_autocheckpoint=0")
	c1, c2, reader := dbConn(t, db), dbConn(t, db), dbConn(t, db)
	frames := func() int {
		t.Helper()
		var st struct {
			Frames int `json:"log_frames"`
		}
		if err := json.Unmarshal([]byte(engineStats(t, db)), &st); err != nil {
			t.Fatal(err)
		}
		return st.Frames
	}
	if n := count(t, reader, "SELECT count(*) FROM a"); n != 2 {
		t.Fatalf("reader sees %d rows in a, want 2", n)
	}
	f0 := frames()
	cexec(t, c1, "INSERT INTO a(v) VALUES ('a3')")
	if d := frames() - f0; d != 1 {
		t.Fatalf("a single-row insert appended %d frames, want 1", d)
	}
	if n := count(t, reader, "SELECT count(*) FROM a"); n != 3 {
		t.Fatalf("reader sees %d rows in a after an insert, want 3", n)
	}

	cexec(t, c1, "BEGIN CONCURRENT")
	cexec(t, c2, "BEGIN CONCURRENT")
	cexec(t, c1, "INSERT INTO a(v) VALUES ('t1')")
	cexec(t, c2, "INSERT INTO b(v) VALUES ('t2')")
	cexec(t, c1, "COMMIT")
	f1 := frames()
	cexec(t, c2, "COMMIT")
	if d := frames() - f1; d != 1 {
		t.Fatalf("a merged BEGIN CONCURRENT insert appended %d frames, want 1", d)
	}
	if s := engineStats(t, db); !strings.Contains(s, `"merged":1`) {
		t.Fatalf("the second commit did not merge: %s", s)
	}
	if n := count(t, reader, "SELECT (SELECT count(*) FROM a) * 10 + (SELECT count(*) FROM b)"); n != 43 {
		t.Fatalf("reader sees %d rows (a*10 + b), want 43", n)
	}
	var ok string
	if err := reader.QueryRowContext(context.Background(), "PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("integrity_check: %q %v", ok, err)
	}
}

// A transaction that read a table another transaction changed meanwhile
// conflicts, and the error names the page and the table.
func TestBeginConcurrentReadConflictNamesTable(t *testing.T) {
	db := concurrentDB(t, "")
	c1 := dbConn(t, db)
	cexec(t, c1, "BEGIN CONCURRENT")
	if n := count(t, c1, "SELECT count(*) FROM a"); n != 2 {
		t.Fatal(n)
	}
	cexec(t, c1, "INSERT INTO b(v) VALUES ('depends on a')")
	mustExec(t, db, "UPDATE a SET v = 'changed' WHERE id = 1")
	_, err := c1.ExecContext(context.Background(), "COMMIT")
	var e *Error
	if !errors.Is(err, ErrBusySnapshot) || !errors.As(err, &e) {
		t.Fatalf("COMMIT: %v, want ErrBusySnapshot", err)
	}
	if e.ConflictPage() == 0 || e.ConflictObject() != "table a" || !strings.Contains(err.Error(), "(b-tree of table a)") {
		t.Fatalf("conflict error %q: page %d object %q", err, e.ConflictPage(), e.ConflictObject())
	}
	if n := count(t, db, "SELECT count(*) FROM b WHERE v = 'depends on a'"); n != 0 {
		t.Fatal("a conflicting transaction committed")
	}
	// The connection is usable again, out of the transaction.
	cexec(t, c1, "INSERT INTO b(v) VALUES ('after')")
	if s := engineStats(t, db); !strings.Contains(s, `"table a":1`) {
		t.Fatalf("stats: %s", s)
	}
}

func TestBeginConcurrentSchemaChangeConflicts(t *testing.T) {
	db := concurrentDB(t, "")
	c1 := dbConn(t, db)
	cexec(t, c1, "BEGIN CONCURRENT")
	cexec(t, c1, "INSERT INTO a(v) VALUES ('x')")
	mustExec(t, db, "CREATE INDEX b_v ON b(v)")
	_, err := c1.ExecContext(context.Background(), "COMMIT")
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrBusySnapshot) || e.ConflictObject() != "schema" {
		t.Fatalf("COMMIT after a schema change: %v", err)
	}

	// A concurrent transaction that changes the schema commits only if
	// nothing committed since its snapshot.
	cexec(t, c1, "BEGIN CONCURRENT")
	cexec(t, c1, "CREATE TABLE c(x)")
	cexec(t, c1, "COMMIT")
	cexec(t, c1, "BEGIN CONCURRENT")
	cexec(t, c1, "CREATE TABLE d(x)")
	mustExec(t, db, "INSERT INTO a(v) VALUES ('meanwhile')")
	if _, err := c1.ExecContext(context.Background(), "COMMIT"); !errors.Is(err, ErrBusySnapshot) {
		t.Fatalf("schema change over a newer commit: %v", err)
	}
	if n := count(t, db, "SELECT count(*) FROM sqlite_schema WHERE name IN ('c', 'd')"); n != 1 {
		t.Fatalf("%d of tables c, d exist, want only c", n)
	}

	// The same with row changes besides, and with header fields: whether
	// SQLite has written page 1 yet or not, the change is not lost in a
	// replay of the rows, but refused as a schema conflict.
	for _, change := range []string{
		"CREATE TABLE d(x); INSERT INTO d VALUES (1); INSERT INTO a(v) VALUES ('with d')",
		"CREATE TABLE d(x)",
		"PRAGMA user_version = 7; INSERT INTO a(v) VALUES ('with user_version')",
		"PRAGMA application_id = 9; INSERT INTO a(v) VALUES ('with application_id')",
	} {
		cexec(t, c1, "BEGIN CONCURRENT")
		cexec(t, c1, change)
		mustExec(t, db, "INSERT INTO b(v) VALUES ('meanwhile')")
		_, err := c1.ExecContext(context.Background(), "COMMIT")
		if !errors.As(err, &e) || !errors.Is(err, ErrBusySnapshot) || e.ConflictObject() != "schema" {
			t.Fatalf("%s over a newer commit: COMMIT = %v, want a schema conflict", change, err)
		}
		if n := count(t, db, "SELECT (SELECT count(*) FROM sqlite_schema WHERE name = 'd') + (SELECT count(*) FROM a WHERE v LIKE 'with %') + (SELECT user_version FROM pragma_user_version) + (SELECT application_id FROM pragma_application_id)"); n != 0 {
			t.Fatalf("%s: part of a refused transaction is in the database (%d)", change, n)
		}
	}
}

// A stale concurrent transaction that wrote nothing SQLite needs to write
// at commit (an UPDATE that matched no row) leaves no merge armed for the
// connection's next commit, which here must be replayed, not merged.
func TestBeginConcurrentEmptyMergeLeavesNothingArmed(t *testing.T) {
	db := concurrentDB(t, "")
	c1 := dbConn(t, db)
	cexec(t, c1, "BEGIN CONCURRENT")
	cexec(t, c1, "UPDATE a SET v = 'none' WHERE id < 0")
	mustExec(t, db, "INSERT INTO b(v) VALUES ('meanwhile')")
	cexec(t, c1, "COMMIT")

	c2 := dbConn(t, db)
	cexec(t, c1, "BEGIN CONCURRENT")
	cexec(t, c2, "BEGIN CONCURRENT")
	cexec(t, c1, "INSERT INTO a(v) VALUES (randomblob(20000))")
	cexec(t, c2, "INSERT INTO b(v) VALUES (randomblob(20000))")
	cexec(t, c2, "COMMIT")
	cexec(t, c1, "COMMIT")
	checkIntegrity(t, db)
	if n := count(t, db, "SELECT (SELECT count(*) FROM a) + (SELECT count(*) FROM b)"); n != 7 {
		t.Fatalf("%d rows, want 7", n)
	}
	if s := engineStats(t, db); !strings.Contains(s, `"rebased":1`) {
		t.Fatalf("stats: %s", s)
	}
}

// Allocating from the free list reads its trunk pages; that is no conflict
// between transactions on different tables: the replay allocates anew.
func TestBeginConcurrentFreeListIsNoConflict(t *testing.T) {
	db := concurrentDB(t, "")
	mustExec(t, db, "CREATE TABLE junk(b)")
	mustExec(t, db, "INSERT INTO junk SELECT randomblob(3000) FROM (SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3), (SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3)")
	mustExec(t, db, "DELETE FROM junk")
	if n := count(t, db, "PRAGMA freelist_count"); n < 9 {
		t.Fatalf("%d free pages, want at least 9", n)
	}
	c1, c2 := dbConn(t, db), dbConn(t, db)
	for round := range 3 {
		cexec(t, c1, "BEGIN CONCURRENT")
		cexec(t, c2, "BEGIN CONCURRENT")
		cexec(t, c1, "INSERT INTO a(v) VALUES (randomblob(5000))")
		cexec(t, c2, "INSERT INTO b(v) VALUES (randomblob(5000))")
		cexec(t, c1, "COMMIT")
		if _, err := c2.ExecContext(context.Background(), "COMMIT"); err != nil {
			t.Fatalf("round %d: COMMIT of the transaction on the other table: %v", round, err)
		}
	}
	checkIntegrity(t, db)
	if n := count(t, db, "SELECT (SELECT count(*) FROM a) + (SELECT count(*) FROM b)"); n != 10 {
		t.Fatalf("%d rows, want 10", n)
	}
}

// Both sides allocate pages (large blobs); both commit.
func TestBeginConcurrentBothAllocatePages(t *testing.T) {
	db := concurrentDB(t, "")
	c1, c2 := dbConn(t, db), dbConn(t, db)
	cexec(t, c1, "BEGIN CONCURRENT")
	cexec(t, c2, "BEGIN CONCURRENT")
	cexec(t, c1, "INSERT INTO a(v) VALUES (randomblob(200000))")
	cexec(t, c2, "INSERT INTO b(v) VALUES (randomblob(300000))")
	cexec(t, c1, "COMMIT")
	cexec(t, c2, "COMMIT")
	if n := count(t, db, "SELECT (SELECT max(length(v)) FROM a) + (SELECT max(length(v)) FROM b)"); n != 500000 {
		t.Fatalf("blob lengths sum to %d", n)
	}
	// c2 allocated pages after c1 did: it cannot be merged and is rebased.
	if s := engineStats(t, db); !strings.Contains(s, `"direct":1,"merged":0,"rebased":1`) {
		t.Fatalf("stats: %s", s)
	}
}

// A rebased transaction whose delete cascaded replays the cascade's
// deletes as recorded, with the foreign-key actions off: running them again
// would delete the child rows before the changeset does, a conflict.
// Afterwards the actions are back on.
func TestBeginConcurrentRebaseWithForeignKeyActions(t *testing.T) {
	for _, fk := range []string{"true", "false"} {
		t.Run("foreign_keys="+fk, func(t *testing.T) {
			db := openTestDB(t, "foreign_keys="+fk)
			mustExec(t, db, "CREATE TABLE parent(id INTEGER PRIMARY KEY)")
			mustExec(t, db, "CREATE TABLE child(id INTEGER PRIMARY KEY, pid REFERENCES parent ON DELETE CASCADE, tag REFERENCES parent ON DELETE SET NULL)")
			mustExec(t, db, "CREATE TABLE other1(b BLOB)")
			mustExec(t, db, "CREATE TABLE other2(b BLOB)")
			mustExec(t, db, "INSERT INTO parent VALUES (1), (2), (3)")
			mustExec(t, db, "INSERT INTO child VALUES (10, 1, 2), (11, 1, 3), (20, 2, 3), (30, 3, 2)")
			c1, c2 := dbConn(t, db), dbConn(t, db)
			cexec(t, c1, "BEGIN CONCURRENT")
			cexec(t, c2, "BEGIN CONCURRENT")
			cexec(t, c1, "DELETE FROM parent WHERE id = 2")
			cexec(t, c1, "INSERT INTO other1 VALUES (randomblob(100000))")
			cexec(t, c2, "INSERT INTO other2 VALUES (randomblob(100000))")
			cexec(t, c2, "COMMIT")
			cexec(t, c1, "COMMIT")
			if s := engineStats(t, db); !strings.Contains(s, `"rebased":1`) {
				t.Fatalf("stats: %s", s)
			}
			want := "10:1:NULL 11:1:3 30:3:NULL" // the cascade and the SET NULL, once
			if fk == "false" {
				want = "10:1:2 11:1:3 20:2:3 30:3:2"
			}
			var got string
			if err := db.QueryRow("SELECT group_concat(id || ':' || pid || ':' || coalesce(tag, 'NULL'), ' ') FROM (SELECT * FROM child ORDER BY id)").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("child rows %q, want %q", got, want)
			}
			cexec(t, c1, "DELETE FROM parent WHERE id = 1")
			n := count(t, db, "SELECT count(*) FROM child")
			if fk == "true" && n != 1 || fk == "false" && n != 4 {
				t.Fatalf("%d child rows after deleting parent 1 with foreign_keys=%s", n, fk)
			}
		})
	}
}

func TestBeginConcurrentSavepoints(t *testing.T) {
	db := concurrentDB(t, "")
	c1 := dbConn(t, db)
	cexec(t, c1, "BEGIN CONCURRENT")
	cexec(t, c1, "INSERT INTO a(v) VALUES ('kept')")
	cexec(t, c1, "SAVEPOINT s")
	cexec(t, c1, "INSERT INTO a(v) VALUES ('dropped')")
	cexec(t, c1, "ROLLBACK TO s")
	cexec(t, c1, "RELEASE s")
	mustExec(t, db, "INSERT INTO b(v) VALUES ('forces a rebase')")
	cexec(t, c1, "COMMIT")
	if n := count(t, db, "SELECT count(*) FROM a WHERE v = 'kept'"); n != 1 {
		t.Fatal("the change before the savepoint is lost")
	}
	if n := count(t, db, "SELECT count(*) FROM a WHERE v = 'dropped'"); n != 0 {
		t.Fatal("a change rolled back to a savepoint was committed")
	}
}

// A transaction larger than SQLite's page cache spills it into the write
// set; it commits directly and by rebase alike.
func TestBeginConcurrentSpillsCache(t *testing.T) {
	db := concurrentDB(t, "cache_size=20")
	for _, rebase := range []bool{false, true} {
		c1 := dbConn(t, db)
		cexec(t, c1, "BEGIN CONCURRENT")
		cexec(t, c1, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 3000) INSERT INTO a(v) SELECT printf('%0200d', x) FROM c")
		if rebase {
			mustExec(t, db, "INSERT INTO b(v) VALUES ('meanwhile')")
		}
		cexec(t, c1, "COMMIT")
		c1.Close()
	}
	if n := count(t, db, "SELECT count(*) FROM a"); n != 6002 {
		t.Fatalf("%d rows in a", n)
	}
}

// Work a transaction undid (a failed statement, a savepoint rolled back)
// after SQLite had spilled it into the write set leaves the pages it
// allocated there (past the snapshot's end, or from the free list); SQLite
// reads them again as it allocates them anew. Those reads are of the
// transaction's own writes, not of the snapshot: another transaction
// allocating the same pages meanwhile is no conflict. (They were recorded,
// and after a failed statement the commit failed with "conflict at page
// 4"; the savepoint rolled back is checked alongside.)
func TestBeginConcurrentUndoneGrowthIsNoConflict(t *testing.T) {
	const fill = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 3000) SELECT x + 100, printf('%01000d', x) FROM c"
	for _, undo := range []struct {
		name, begin, grow, end string
		freelist               bool
	}{
		{"failed statement", "", "INSERT INTO a(id, v) SELECT * FROM (" + fill + ") UNION ALL SELECT 1, 'dup'", "", false},
		{"failed statement/free list", "", "INSERT INTO a(id, v) SELECT * FROM (" + fill + ") UNION ALL SELECT 1, 'dup'", "", true},
		{"savepoint", "SAVEPOINT s", "INSERT INTO a(id, v) " + fill, "ROLLBACK TO s", false},
	} {
		t.Run(undo.name, func(t *testing.T) {
			db := concurrentDB(t, "cache_size=20")
			if undo.freelist {
				mustExec(t, db, "INSERT INTO a(id, v) "+fill)
				mustExec(t, db, "DELETE FROM a WHERE id > 100")
			}
			c1 := dbConn(t, db)
			cexec(t, c1, "BEGIN CONCURRENT")
			if undo.begin != "" {
				cexec(t, c1, undo.begin)
			}
			_, err := c1.ExecContext(t.Context(), undo.grow)
			if undo.end == "" && err == nil {
				t.Fatal("the statement meant to fail succeeded")
			} else if undo.end != "" {
				if err != nil {
					t.Fatal(err)
				}
				cexec(t, c1, undo.end)
			}
			cexec(t, c1, "INSERT INTO a(id, v) VALUES (50, 'kept'), (51, 'kept')")
			mustExec(t, db, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 40) INSERT INTO b(v) SELECT randomblob(3000) FROM c")
			cexec(t, c1, "COMMIT")
			if n := count(t, db, "SELECT count(*) FROM a WHERE v = 'kept'"); n != 2 {
				t.Fatalf("%d kept rows, want 2", n)
			}
			if n := count(t, db, "SELECT count(*) FROM a WHERE id > 100"); n != 0 {
				t.Fatalf("%d rows of the undone insert committed", n)
			}
			if n := count(t, db, "SELECT count(*) FROM b"); n != 42 {
				t.Fatalf("%d rows in b, want 42", n)
			}
			checkIntegrity(t, db)
		})
	}
}

func TestBeginConcurrentAutoincrementAndTriggers(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE x(id INTEGER PRIMARY KEY AUTOINCREMENT, v)")
	mustExec(t, db, "CREATE TABLE y(id INTEGER PRIMARY KEY AUTOINCREMENT, v)")
	mustExec(t, db, "CREATE TABLE audit(what)")
	mustExec(t, db, "CREATE TRIGGER x_audit AFTER INSERT ON x BEGIN INSERT INTO audit VALUES ('x ' || new.v); END")
	c1, c2 := dbConn(t, db), dbConn(t, db)
	cexec(t, c1, "BEGIN CONCURRENT")
	cexec(t, c2, "BEGIN CONCURRENT")
	cexec(t, c1, "INSERT INTO x(v) VALUES (1), (2), (3)")
	cexec(t, c1, "DELETE FROM x WHERE v = 3") // seq must still say 3
	cexec(t, c2, "INSERT INTO y(v) VALUES (1)")
	cexec(t, c2, "COMMIT")
	cexec(t, c1, "COMMIT") // rebased past c2
	if n := count(t, db, "SELECT seq FROM sqlite_sequence WHERE name = 'x'"); n != 3 {
		t.Fatalf("sqlite_sequence for x = %d, want 3", n)
	}
	if n := count(t, db, "SELECT seq FROM sqlite_sequence WHERE name = 'y'"); n != 1 {
		t.Fatalf("sqlite_sequence for y = %d, want 1", n)
	}
	if n := count(t, db, "SELECT count(*) FROM audit"); n != 3 {
		t.Fatalf("%d audit rows, want 3: a trigger ran twice or not at all", n)
	}
	// The replaying connection has its triggers back on.
	cexec(t, c1, "INSERT INTO x(v) VALUES (4)")
	if n := count(t, c1, "SELECT count(*) FROM audit"); n != 4 {
		t.Fatalf("%d audit rows after an insert on the rebased connection, want 4: its triggers are off", n)
	}
	if n := count(t, db, "SELECT max(id) FROM x"); n != 4 {
		t.Fatalf("next AUTOINCREMENT id %d, want 4", n)
	}
}

func TestBeginConcurrentReadOnlyAndAttached(t *testing.T) {
	db := concurrentDB(t, "")
	c1 := dbConn(t, db)
	cexec(t, c1, "BEGIN CONCURRENT")
	count(t, c1, "SELECT count(*) FROM a")
	mustExec(t, db, "UPDATE a SET v = 'changed'")
	cexec(t, c1, "COMMIT") // read-only: commits although a changed

	// An attached database file cannot take part: its reads would not be
	// checked (see TestAttachReviewConcurrentReadsOfAttachedNotValidated).
	other := t.TempDir() + "/other.db"
	cexec(t, c1, "ATTACH '"+other+"' AS o")
	cexec(t, c1, "CREATE TABLE o.t(x)")
	_, err := c1.ExecContext(context.Background(), "BEGIN CONCURRENT")
	if err == nil || !strings.Contains(err.Error(), `database "o" attached`) {
		t.Fatalf("BEGIN CONCURRENT with a database attached: %v", err)
	}
	cexec(t, c1, "INSERT INTO o.t VALUES (2)") // not in a transaction
	cexec(t, c1, "DETACH o")
	cexec(t, c1, "BEGIN CONCURRENT")
	cexec(t, c1, "ROLLBACK")
}

// A rolled-back concurrent transaction leaves nothing, and a second BEGIN
// inside one is refused.
func TestBeginConcurrentRollbackLeavesNothing(t *testing.T) {
	db := concurrentDB(t, "")
	before := engineStats(t, db)
	c1 := dbConn(t, db)
	cexec(t, c1, "BEGIN CONCURRENT")
	cexec(t, c1, "INSERT INTO a(v) VALUES (randomblob(100000))")
	cexec(t, c1, "DELETE FROM b")
	if _, err := c1.ExecContext(context.Background(), "BEGIN CONCURRENT"); err == nil {
		t.Fatal("BEGIN CONCURRENT inside a transaction accepted")
	}
	cexec(t, c1, "ROLLBACK")
	if n := count(t, db, "SELECT (SELECT count(*) FROM a) + (SELECT count(*) FROM b)"); n != 4 {
		t.Fatalf("%d rows after rollback, want 4", n)
	}
	if after := engineStats(t, db); strings.Contains(after, `"commits":1`) && !strings.Contains(before, `"commits":1`) {
		t.Fatalf("a rolled-back transaction counted as a commit: %s", after)
	}
}

func TestRetryTxRetriesConflicts(t *testing.T) {
	db := concurrentDB(t, "")
	attempts := 0
	err := RetryTx(context.Background(), db, &sql.TxOptions{Isolation: LevelConcurrent}, func(tx *sql.Tx) error {
		attempts++
		var v string
		if err := tx.QueryRow("SELECT v FROM a WHERE id = 1").Scan(&v); err != nil {
			return err
		}
		if attempts == 1 {
			mustExec(t, db, "UPDATE a SET v = 'bumped' WHERE id = 1")
		}
		_, err := tx.Exec("INSERT INTO b(v) VALUES (?)", "saw "+v)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if attempts != 2 {
		t.Fatalf("%d attempts, want 2", attempts)
	}
	if n := count(t, db, "SELECT count(*) FROM b WHERE v = 'saw bumped'"); n != 1 {
		t.Fatal("the retry did not see the newer value")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = RetryTx(ctx, db, &sql.TxOptions{Isolation: LevelConcurrent}, func(tx *sql.Tx) error {
		return fmt.Errorf("wrapped: %w", ErrBusySnapshot)
	})
	if !errors.Is(err, context.Canceled) && !errors.Is(err, ErrBusySnapshot) {
		t.Fatalf("RetryTx with a cancelled context: %v", err)
	}
}

// A rowid table's declared primary key may hold NULLs, and NULLs are all
// distinct: a rebase replays each such row, not one per key. (Regression:
// the net changes were keyed by primary key alone, and two rows with a
// NULL key became one.)
func TestBeginConcurrentRebaseNullPrimaryKeys(t *testing.T) {
	db := concurrentDB(t, "")
	mustExec(t, db, "CREATE TABLE t(k TEXT PRIMARY KEY, v)")
	mustExec(t, db, "INSERT INTO t VALUES (NULL, 'before')")
	c1 := dbConn(t, db)
	cexec(t, c1, "BEGIN CONCURRENT")
	cexec(t, c1, "INSERT INTO t VALUES (NULL, 'x'), (NULL, 'y'), ('k', 'z')")
	cexec(t, c1, "UPDATE t SET v = v || '!' WHERE v = 'y'")
	cexec(t, c1, "INSERT INTO a(v) VALUES (randomblob(100000))")
	mustExec(t, db, "INSERT INTO b(v) VALUES (randomblob(100000))") // both allocate: a rebase
	cexec(t, c1, "COMMIT")
	if s := engineStats(t, db); !strings.Contains(s, `"rebased":1`) {
		t.Fatalf("stats: %s", s)
	}
	var got string
	if err := db.QueryRow("SELECT group_concat(coalesce(k, 'NULL') || ':' || v, ' ') FROM (SELECT * FROM t ORDER BY v)").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := "NULL:before NULL:x NULL:y! k:z"; got != want {
		t.Fatalf("rows %q, want %q", got, want)
	}
}

// A BEGIN CONCURRENT transaction that conflicted is run again with BEGIN
// IMMEDIATE: the retry holds the write lock from its start, so another
// writer waits for it instead of making it conflict again.
func TestRetryTxRetriesWithTheWriteLock(t *testing.T) {
	ctx := context.Background()
	dsn := "file:" + filepath.ToSlash(filepath.Join(t.TempDir(), "retry.db"))
	db := openTestDSN(t, dsn)
	mustExec(t, db, "CREATE TABLE a(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO a VALUES (1, 'a1')")
	other := dbConn(t, db)
	otherWrite := func() error {
		wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := other.ExecContext(wctx, "UPDATE a SET v = v || '+' WHERE id = 1")
		return err
	}
	check := func(name string, attempts int, errs []error) {
		t.Helper()
		if attempts != 2 {
			t.Fatalf("%s: %d attempts, want 2", name, attempts)
		}
		if errs[0] != nil {
			t.Fatalf("%s: another connection could not write during the optimistic attempt: %v", name, errs[0])
		}
		if errs[1] == nil {
			t.Fatalf("%s: another connection wrote during the retry: it did not hold the write lock", name)
		}
	}

	attempts, errs := 0, []error(nil)
	err := RetryTx(ctx, db, &sql.TxOptions{Isolation: LevelConcurrent}, func(tx *sql.Tx) error {
		attempts++
		var v string
		if err := tx.QueryRow("SELECT v FROM a WHERE id = 1").Scan(&v); err != nil {
			return err
		}
		if attempts <= 2 {
			errs = append(errs, otherWrite())
		}
		_, err := tx.Exec("UPDATE a SET v = ? WHERE id = 1", v+"!")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	check("RetryTx", attempts, errs)
	var v string
	if err := db.QueryRow("SELECT v FROM a WHERE id = 1").Scan(&v); err != nil || v != "a1+!" {
		t.Fatalf("a.v = %q, %v; want a1+!", v, err)
	}

	c, err := OpenConn(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	attempts, errs = 0, nil
	err = c.RetryTx(ctx, &sql.TxOptions{Isolation: LevelConcurrent}, func(c *Conn) error {
		attempts++
		var v string
		if err := c.QueryRow(ctx, "SELECT v FROM a WHERE id = 1").Scan(&v); err != nil {
			return err
		}
		if attempts <= 2 {
			errs = append(errs, otherWrite())
		}
		_, err := c.Exec(ctx, "UPDATE a SET v = ? WHERE id = 1", v+"!")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	check("Conn.RetryTx", attempts, errs)
}

// When the context ends while a retry begins its transaction (after the
// backoff's timer fired, just before the deadline), RetryTx's error still
// says it gave up on conflicts, and matches ErrBusySnapshot as well as the
// context's error (it was a bare "context deadline exceeded" from BEGIN:
// pool.TestPoolConcurrentRetry failed so on a loaded machine).
func TestRetryTxEndedWhileBeginningSaysItConflicted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := retryConflicts(ctx, nil, func(*sql.TxOptions) error {
		n++
		if n == 1 {
			return &Error{code: BUSY_SNAPSHOT, msg: "conflict"}
		}
		cancel()
		return fmt.Errorf("libsql: BEGIN: %w", ctx.Err())
	})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrBusySnapshot) || n != 2 {
		t.Fatalf("after %d attempts: %v", n, err)
	}
}

// A BEGIN CONCURRENT transaction that moves a row of an AUTOINCREMENT
// table to a new rowid (UPDATE ... SET id) while another commits an
// insert past that rowid: serially the move is fine (an UPDATE may take
// any free rowid and leaves sqlite_sequence alone), so the transaction
// commits, and the sequence stays the other's.
func TestBeginConcurrentAutoincrementMovedRowid(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)")
	// Rows 1-1500 and 2500-3000, ~100 bytes each: the move's target
	// (1600) and the other's insert (4000) are on different leaves.
	mustExec(t, db, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 3000) INSERT INTO t SELECT i, printf('%100d', i) FROM c WHERE i <= 1500 OR i >= 2500")
	c1 := dbConn(t, db)
	cexec(t, c1, "BEGIN CONCURRENT")
	cexec(t, c1, "UPDATE t SET id = 1600 WHERE id = 5")
	mustExec(t, db, "INSERT INTO t(id, v) VALUES (4000, 'other')")
	cexec(t, c1, "COMMIT")
	if n := count(t, db, "SELECT count(*) FROM t WHERE id IN (5, 1600, 4000)"); n != 2 {
		t.Fatalf("%d of rows 1600 and 4000 (and no 5), want 2", n)
	}
	if n := count(t, db, "SELECT seq FROM sqlite_sequence WHERE name = 't'"); n != 4000 {
		t.Fatalf("sqlite_sequence = %d, want 4000", n)
	}
	if s := engineStats(t, db); !strings.Contains(s, `"rebased":1`) {
		t.Fatalf("stats: %s", s)
	}
}
