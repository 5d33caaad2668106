package iouringvfs

import (
	"bytes"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // stock SQLite on its own VFS
)

// stock opens path with stock SQLite (modernc's driver, unix VFS).
func stock(t *testing.T, path string, pragmas ...string) *sql.DB {
	t.Helper()
	dsn := "file:" + path
	for i, p := range pragmas {
		if i == 0 {
			dsn += "?"
		} else {
			dsn += "&"
		}
		dsn += "_pragma=" + p
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func stockInt(t *testing.T, db *sql.DB, q string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("stock SQLite: %s: %v", q, err)
	}
	return n
}

func stockText(t *testing.T, db *sql.DB, q string) string {
	t.Helper()
	var s string
	if err := db.QueryRow(q).Scan(&s); err != nil {
		t.Fatalf("stock SQLite: %s: %v", q, err)
	}
	return s
}

func stockExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("stock SQLite: %s: %v", q, err)
	}
}

func TestStockSQLiteOpensOurFileAfterClose(t *testing.T) {
	path := dbPath(t)
	c := openConn(t, path, "")
	c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	c.exec("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 5000) INSERT INTO t(v) SELECT printf('row %d', x) FROM c")
	c.exec("DELETE FROM t WHERE id % 2 = 0")
	c.Close()

	b := make([]byte, 20)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	f.ReadAt(b, 0)
	f.Close()
	if b[18] != 2 || b[19] != 2 {
		t.Fatalf("page 1 bytes 18-19 on disk = %d,%d, want 2,2 (WAL mode)", b[18], b[19])
	}
	db := stock(t, path)
	if n := stockInt(t, db, "SELECT count(*) FROM t"); n != 2500 {
		t.Fatalf("stock SQLite counts %d rows, want 2500", n)
	}
	if s := stockText(t, db, "PRAGMA integrity_check"); s != "ok" {
		t.Fatal(s)
	}
	if s := stockText(t, db, "PRAGMA journal_mode"); s != "wal" {
		t.Fatalf("stock SQLite sees journal_mode %q", s)
	}
}

func TestStockSQLiteIsLockedOut(t *testing.T) {
	path := dbPath(t)
	c := openConn(t, path, "")
	c.exec("CREATE TABLE t(x)")
	db := stock(t, path)
	var n int
	err := db.QueryRow("SELECT count(*) FROM t").Scan(&n)
	if err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("stock SQLite read a database the engine owns: err = %v", err)
	}
	c.Close()
	if n := stockInt(t, db, "SELECT count(*) FROM t"); n != 0 {
		t.Fatalf("count = %d", n)
	}
}

func TestOpensStockWALWithLeftoverLog(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "stock.db")
	db := stock(t, src, "journal_mode(WAL)", "wal_autocheckpoint(0)")
	stockExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	stockExec(t, db, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 3000) INSERT INTO t(v) SELECT printf('row %d', x) FROM c")
	stockExec(t, db, "UPDATE t SET v = 'changed' WHERE id % 3 = 0")
	want := stockInt(t, db, "SELECT count(*) FROM t WHERE v = 'changed'")
	// Copy the files while stock SQLite holds them open: a log it has not
	// checkpointed, as a crash would leave it.
	dst := filepath.Join(dir, "copy.db")
	copyFile(t, src, dst)
	copyFile(t, src+"-wal", dst+"-wal")

	c := openConn(t, dst, "")
	if n := c.int("SELECT count(*) FROM t WHERE v = 'changed'"); n != want {
		t.Fatalf("our engine counts %d changed rows, want %d", n, want)
	}
	if s := c.text("PRAGMA integrity_check"); s != "ok" {
		t.Fatal(s)
	}
	c.exec("INSERT INTO t(v) VALUES ('after')")
	c.Close()
	db2 := stock(t, dst)
	if n := stockInt(t, db2, "SELECT count(*) FROM t"); n != 3001 {
		t.Fatalf("stock SQLite counts %d rows after our write, want 3001", n)
	}
}

func TestOpensStockRollbackJournalDatabase(t *testing.T) {
	path := dbPath(t)
	db := stock(t, path, "journal_mode(DELETE)")
	stockExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	stockExec(t, db, "INSERT INTO t(v) VALUES ('a'), ('b')")
	db.Close()
	c := openConn(t, path, "")
	if n := c.int("SELECT count(*) FROM t"); n != 2 {
		t.Fatalf("count = %d", n)
	}
	c.exec("INSERT INTO t(v) VALUES ('c')")
	c.Close()
	db = stock(t, path)
	if n := stockInt(t, db, "SELECT count(*) FROM t"); n != 3 {
		t.Fatalf("stock count = %d", n)
	}
}

// A stock SQLite writer that died mid-transaction leaves a hot journal: the
// engine has stock SQLite roll it back before taking the file over.
func TestRollsBackStockHotJournal(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "stock.db")
	db := stock(t, src, "journal_mode(DELETE)", "cache_size(10)")
	stockExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
	stockExec(t, db, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 500) INSERT INTO t(v) SELECT randomblob(500) FROM c")
	committed, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(t.Context(), "BEGIN"); err != nil {
		t.Fatal(err)
	}
	// Enough changes to spill the tiny cache into the database file.
	if _, err := conn.ExecContext(t.Context(), "UPDATE t SET v = randomblob(600)"); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "crashed.db")
	copyFile(t, src, dst)
	copyFile(t, src+"-journal", dst+"-journal")
	conn.ExecContext(t.Context(), "ROLLBACK")
	conn.Close()
	if spilled, _ := os.ReadFile(dst); bytes.Equal(spilled, committed) {
		t.Fatal("the transaction did not spill into the database file: the test checks nothing")
	}

	c := openConn(t, dst, "")
	if s := c.text("PRAGMA integrity_check"); s != "ok" {
		t.Fatalf("integrity_check after hot journal: %s", s)
	}
	if n := c.int("SELECT count(*) FROM t WHERE length(v) = 500"); n != 500 {
		t.Fatalf("%d rows have their committed value, want 500", n)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
