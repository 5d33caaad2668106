package iouringvfs

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/golibsql/libsql/internal/capi"
)

// What SQLite does with files keeps working on the engine.
func TestSQLiteFeaturesOnTheEngine(t *testing.T) {
	path := dbPath(t)
	c := openConn(t, path, "")
	check := func() {
		t.Helper()
		if s := c.text("PRAGMA integrity_check"); s != "ok" {
			t.Fatalf("integrity_check: %s", s)
		}
	}
	rows := int64(1_000_000)
	if testing.Short() || raceEnabled {
		rows = 20_000
	}
	t.Run("create index on many rows", func(t *testing.T) {
		c.exec("CREATE TABLE big(id INTEGER PRIMARY KEY, k INTEGER, v TEXT)")
		c.exec("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < " + itoa(rows) + ") INSERT INTO big(k, v) SELECT (x * 7919) % 100003, 'v' || x FROM c")
		c.exec("CREATE INDEX big_k ON big(k)")
		if n := c.int("SELECT count(*) FROM big WHERE k = 42"); n == 0 {
			t.Fatal("index finds nothing")
		}
	})
	t.Run("10 MB blob", func(t *testing.T) {
		c.exec("CREATE TABLE blobs(id INTEGER PRIMARY KEY, b BLOB)")
		c.exec("INSERT INTO blobs(b) VALUES (randomblob(10*1024*1024))")
		if n := c.int("SELECT length(b) FROM blobs"); n != 10*1024*1024 {
			t.Fatalf("blob length %d", n)
		}
		c.exec("UPDATE blobs SET b = zeroblob(5*1024*1024)")
	})
	t.Run("vacuum", func(t *testing.T) {
		c.exec("DELETE FROM big WHERE id % 2 = 0")
		c.exec("DROP TABLE blobs")
		before := c.int("PRAGMA page_count")
		c.exec("VACUUM")
		after := c.int("PRAGMA page_count")
		if after >= before {
			t.Fatalf("VACUUM left %d pages of %d", after, before)
		}
		if n := c.int("SELECT count(*) FROM big"); n != rows/2 {
			t.Fatalf("%d rows after VACUUM, want %d", n, rows/2)
		}
		check()
	})
	t.Run("savepoints", func(t *testing.T) {
		c.exec("CREATE TABLE sp(x)")
		c.exec("BEGIN")
		c.exec("INSERT INTO sp VALUES (1)")
		c.exec("SAVEPOINT a")
		c.exec("INSERT INTO sp VALUES (2)")
		c.exec("SAVEPOINT b")
		c.exec("INSERT INTO sp VALUES (3)")
		c.exec("ROLLBACK TO a")
		c.exec("INSERT INTO sp VALUES (4)")
		c.exec("RELEASE a")
		c.exec("COMMIT")
		if s := c.text("SELECT group_concat(x) FROM sp"); s != "1,4" {
			t.Fatalf("rows %q, want 1,4", s)
		}
	})
	t.Run("rollback of a spilled transaction", func(t *testing.T) {
		c.exec("PRAGMA cache_size=10")
		sum := c.int("SELECT sum(k) FROM big")
		c.exec("BEGIN")
		c.exec("UPDATE big SET k = k + 1 WHERE id < 100000")
		c.exec("ROLLBACK")
		c.exec("PRAGMA cache_size=-2000")
		if s := c.int("SELECT sum(k) FROM big"); s != sum {
			t.Fatalf("sum %d after rollback, want %d", s, sum)
		}
	})
	t.Run("temp tables", func(t *testing.T) {
		c.exec("CREATE TEMP TABLE tmp(x)")
		c.exec("INSERT INTO tmp SELECT k FROM big LIMIT 1000")
		if n := c.int("SELECT count(*) FROM tmp"); n != 1000 {
			t.Fatalf("temp rows %d", n)
		}
		c.exec("DROP TABLE tmp")
	})
	t.Run("attach", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "other.db")
		c.exec("ATTACH '" + other + "' AS o")
		c.exec("CREATE TABLE o.t(x)")
		c.exec("INSERT INTO o.t SELECT k FROM big LIMIT 10")
		c.exec("BEGIN")
		c.exec("INSERT INTO o.t VALUES (-1)")
		c.exec("INSERT INTO main.sp VALUES (-1)")
		c.exec("COMMIT")
		if n := c.int("SELECT count(*) FROM o.t"); n != 11 {
			t.Fatalf("attached rows %d", n)
		}
		c.exec("DETACH o")
		if _, err := os.Stat(other + "-wal"); err != nil {
			t.Fatalf("attached database has no log: %v", err)
		}
		d := openConn(t, other, "")
		if n := d.int("SELECT count(*) FROM t"); n != 11 {
			t.Fatalf("attached database reopened: %d rows", n)
		}
	})
	check()
}

func TestPragmas(t *testing.T) {
	c := openConn(t, dbPath(t), "libsql_sync=normal")
	c.exec("CREATE TABLE t(x)")
	if s := c.text("PRAGMA journal_mode"); s != "wal" {
		t.Fatalf("journal_mode %q", s)
	}
	if s := c.text("PRAGMA journal_mode=WAL"); s != "wal" {
		t.Fatalf("journal_mode=WAL: %q", s)
	}
	for _, m := range []string{"DELETE", "TRUNCATE", "PERSIST", "OFF"} {
		err := c.tryExec("PRAGMA journal_mode=" + m)
		if err == nil || !strings.Contains(err.Error(), "journal_mode") {
			t.Fatalf("journal_mode=%s: err = %v", m, err)
		}
	}
	if s := c.text("PRAGMA synchronous"); s != "1" {
		t.Fatalf("synchronous %q with libsql_sync=normal", s)
	}
	c.exec("PRAGMA synchronous=FULL")
	if s := c.text("PRAGMA synchronous"); s != "2" || !c.file.commitSync {
		t.Fatalf("synchronous=FULL: %q", s)
	}
	if err := c.tryExec("PRAGMA synchronous=sometimes"); err == nil {
		t.Fatal("synchronous=sometimes accepted")
	}
	// SQLite's other spellings, read back as the level they name.
	for v, want := range map[string]string{"yes": "1", "FALSE": "0", "on": "1", "no": "0", "3": "3", "extra": "3", "true": "1"} {
		c.exec("PRAGMA synchronous=" + v)
		if s := c.text("PRAGMA synchronous"); s != want || c.file.commitSync != (want >= "2") {
			t.Fatalf("synchronous=%s reads back %q (commits sync: %v), want %s", v, s, c.file.commitSync, want)
		}
	}
	if err := c.tryExec("PRAGMA locking_mode=EXCLUSIVE"); err == nil {
		t.Fatal("locking_mode=EXCLUSIVE accepted")
	}
	if s := c.text("PRAGMA wal_autocheckpoint=50"); s != "50" {
		t.Fatalf("wal_autocheckpoint=50: %q", s)
	}
	for range 10 {
		c.exec("INSERT INTO t VALUES (randomblob(3000))")
	}
	if s := c.text("PRAGMA wal_checkpoint"); !strings.HasPrefix(s, "0|") {
		t.Fatalf("wal_checkpoint: %q", s)
	}
	if s := c.text("PRAGMA wal_checkpoint(TRUNCATE)"); s != "0|0|0" {
		t.Fatalf("wal_checkpoint(TRUNCATE): %q", s)
	}
	if fi, err := os.Stat(c.file.e.name + "-wal"); err != nil || fi.Size() != 0 {
		t.Fatalf("log after TRUNCATE: %v, %v", fi, err)
	}
	if err := c.tryExec("PRAGMA wal_checkpoint(SOMETIMES)"); err == nil {
		t.Fatal("wal_checkpoint(SOMETIMES) accepted")
	}
	c.exec("PRAGMA busy_timeout=1234")
	if n := c.int("PRAGMA busy_timeout"); n != 1234 {
		t.Fatalf("busy_timeout %d", n)
	}
	s := c.text("PRAGMA libsql_stats")
	for _, k := range []string{`"pinned_snapshots"`, `"log_frames"`, `"checkpoints"`, `"cache_hits"`} {
		if !strings.Contains(s, k) {
			t.Fatalf("libsql_stats lacks %s: %s", k, s)
		}
	}
}

// PRAGMA page_size on a database that has pages changes nothing, as in
// stock SQLite's WAL mode: VACUUM keeps the page size, and the database
// stays writable here and readable by stock SQLite. A new database takes
// the page size set before its first write.
func TestVacuumKeepsThePageSize(t *testing.T) {
	path := dbPath(t)
	c := openConn(t, path, "")
	c.exec("CREATE TABLE t(x)")
	c.exec("INSERT INTO t VALUES (randomblob(5000))")
	c.exec("PRAGMA page_size=8192")
	c.exec("VACUUM")
	if n := c.int("PRAGMA page_size"); n != 4096 {
		t.Fatalf("page_size after PRAGMA page_size=8192 and VACUUM: %d, want 4096", n)
	}
	c.exec("INSERT INTO t VALUES (randomblob(5000))")
	c.Close()
	c = openConn(t, path, "")
	c.exec("INSERT INTO t VALUES (randomblob(5000))")
	if n, s := c.int("SELECT count(*) FROM t"), c.text("PRAGMA integrity_check"); n != 3 || s != "ok" {
		t.Fatalf("after VACUUM: %d rows, integrity %s", n, s)
	}
	c.Close()
	db := stock(t, path)
	if ps, n := stockInt(t, db, "PRAGMA page_size"), stockInt(t, db, "SELECT count(*) FROM t"); ps != 4096 || n != 3 {
		t.Fatalf("stock SQLite: page_size %d, %d rows", ps, n)
	}

	c = openConn(t, dbPath(t), "")
	c.exec("PRAGMA page_size=8192")
	c.exec("CREATE TABLE t(x)")
	c.exec("INSERT INTO t VALUES (randomblob(20000))")
	if n := c.int("PRAGMA page_size"); n != 8192 {
		t.Fatalf("a new database's page_size after PRAGMA page_size=8192: %d", n)
	}
}

// A write of page 1 that declares another page size (as SQLite's backup
// from a database of another page size would make) fails, and the
// transaction rolls back to the database as it was.
func TestWriteOfPage1WithAnotherPageSizeFails(t *testing.T) {
	c := openConn(t, dbPath(t), "")
	c.exec("CREATE TABLE t(x)")
	c.exec("INSERT INTO t VALUES (1)")
	c.exec("BEGIN IMMEDIATE")
	p1 := make([]byte, 4096)
	if _, err := c.file.ReadAt(p1, 0); err != nil {
		t.Fatal(err)
	}
	for _, ps := range []uint16{8192, 1, 512} { // 1 stands for 65536
		binary.BigEndian.PutUint16(p1[16:], ps)
		err := c.file.WriteAt(p1, 0)
		if err == nil || !strings.Contains(err.Error(), "page size") {
			t.Fatalf("write of page 1 declaring page size field %d: err = %v", ps, err)
		}
	}
	c.exec("ROLLBACK")
	c.exec("INSERT INTO t VALUES (2)")
	if n, s := c.int("SELECT count(*) FROM t"), c.text("PRAGMA integrity_check"); n != 2 || s != "ok" {
		t.Fatalf("after the refused write: %d rows, integrity %s", n, s)
	}
}

func TestReadOnlyOpenRefusesWrites(t *testing.T) {
	path := dbPath(t)
	w := openConn(t, path, "")
	w.exec("CREATE TABLE t(x)")
	w.exec("INSERT INTO t VALUES (1)")
	w.Close()
	c, err := capi.Open("file:"+path+"?mode=ro", capi.OPEN_READONLY|capi.OPEN_URI, Name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := &tconn{Conn: c, t: t}
	if n := r.int("SELECT count(*) FROM t"); n != 1 {
		t.Fatalf("count %d", n)
	}
	err = c.Exec("INSERT INTO t VALUES (2)")
	var ce *capi.Error
	if !errors.As(err, &ce) || ce.Code&0xff != capi.READONLY {
		t.Fatalf("insert on a read-only open: %v", err)
	}
}

func TestInMemoryDatabaseSharedByName(t *testing.T) {
	a := openConn(t, "/mem-shared-test", "libsql_memory=1")
	b := openConn(t, "/mem-shared-test", "libsql_memory=1")
	a.exec("CREATE TABLE t(x)")
	a.exec("INSERT INTO t VALUES (1), (2)")
	if n := b.int("SELECT count(*) FROM t"); n != 2 {
		t.Fatalf("second connection sees %d rows", n)
	}
	other := openConn(t, "/mem-other-test", "libsql_memory=1")
	if err := other.tryExec("SELECT * FROM t"); err == nil {
		t.Fatal("a differently named in-memory database shares tables")
	}
	if _, err := os.Stat("/mem-shared-test"); err == nil {
		t.Fatal("an in-memory database created a file")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// A file that is not a database is reported as such, not as an empty one.
func TestNotADatabase(t *testing.T) {
	path := dbPath(t)
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database, just text. ", 20)), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := capi.Open("file:"+path, capi.OPEN_READWRITE|capi.OPEN_URI, Name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Exec("SELECT count(*) FROM sqlite_schema")
	var ce *capi.Error
	if !errors.As(err, &ce) || ce.Code != capi.NOTADB {
		t.Fatalf("reading a text file: %v, want SQLITE_NOTADB", err)
	}
}
