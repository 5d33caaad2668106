package libsql

// Tests of the fixes for the migration review (migrate_review_test.go):
// what those tests do not pin themselves.

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// file::memory:?cache=shared is one in-memory database for the whole
// process, as in stock SQLite: every *sql.DB opening it sees the same data,
// no name a DSN can give reaches it, and it is freed when its last
// connection closes.
func TestMigrateFixSharedCacheMemoryIsProcessWide(t *testing.T) {
	const dsn = "file::memory:?cache=shared"
	db1, err := Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db1.Close()
	db2, err := Open(":memory:?cache=SHARED")
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, db1, "CREATE TABLE s(x); INSERT INTO s VALUES (1)")
	var n int
	if err := db2.QueryRow("SELECT count(*) FROM s").Scan(&n); err != nil || n != 1 {
		t.Errorf("second *sql.DB: %d rows, %v; want the first one's database", n, err)
	}

	// Names that would reach the reserved one were they used as they are.
	for _, other := range []string{":memory:", "file:shared?mode=memory", "file:..%2Fshared?mode=memory",
		"file:a/../../shared?mode=memory", "file:?mode=memory"} {
		o := openTestDSN(t, other)
		var tables int
		if err := o.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name = 's'").Scan(&tables); err != nil || tables != 0 {
			t.Errorf("%s sees the shared in-memory database (%d, %v)", other, tables, err)
		}
	}

	// Closing one *sql.DB keeps it; closing the last frees it.
	if err := db2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db1.QueryRow("SELECT count(*) FROM s").Scan(&n); err != nil || n != 1 {
		t.Errorf("after the second *sql.DB closed: %d rows, %v", n, err)
	}
	if err := db1.Close(); err != nil {
		t.Fatal(err)
	}
	db3 := openTestDSN(t, dsn)
	var tables int
	if err := db3.QueryRow("SELECT count(*) FROM sqlite_schema").Scan(&tables); err != nil || tables != 0 {
		t.Errorf("after every connection closed: %d tables, %v; want a new, empty database", tables, err)
	}
}

// Names of in-memory databases are kept apart exactly as SQLite keeps
// them: as strings, not as paths.
func TestMigrateFixMemoryNamesAreNotPaths(t *testing.T) {
	b := openTestDSN(t, "file:migfix_b?mode=memory")
	ab := openTestDSN(t, "file:migfix_a/../migfix_b?mode=memory")
	mustExec(t, b, "CREATE TABLE only_b(x)")
	var n int
	if err := ab.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name = 'only_b'").Scan(&n); err != nil || n != 0 {
		t.Errorf("migfix_a/../migfix_b sees migfix_b's database (%d, %v)", n, err)
	}
	again := openTestDSN(t, "file:migfix_b?mode=memory&cache=shared")
	if err := again.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name = 'only_b'").Scan(&n); err != nil || n != 1 {
		t.Errorf("migfix_b with cache=shared: %d, %v; want migfix_b's database", n, err)
	}
}

// cache=shared and cache=private change nothing for a file database.
func TestMigrateFixCacheKeyOnFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	shared := openTestDSN(t, path+"?cache=shared")
	private := openTestDSN(t, path+"?cache=private")
	mustExec(t, shared, "CREATE TABLE t(x); INSERT INTO t VALUES (1)")
	var n int
	if err := private.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Errorf("cache=private beside cache=shared on one file: %d, %v", n, err)
	}
}

// _txlock=exclusive and WithTxLock("exclusive"): a transaction of the
// default isolation level begins with BEGIN EXCLUSIVE, which holds the
// writer lock from its start (readers go on); a read-only one does not,
// and RetryTx runs in it.
func TestMigrateFixTxLockExclusive(t *testing.T) {
	byDSN := openTestDB(t, "_txlock=exclusive&busy_timeout=0")
	byOption := openTestDB(t, "busy_timeout=0", WithTxLock("exclusive"))
	for name, db := range map[string]*sql.DB{"_txlock=exclusive": byDSN, `WithTxLock("exclusive")`: byOption} {
		mustExec(t, db, "CREATE TABLE t(x)")
		if !beginHoldsWriteLock(t, db, nil) {
			t.Errorf("%s: BEGIN did not take the writer lock", name)
		}
		if !beginHoldsWriteLock(t, db, &sql.TxOptions{Isolation: sql.LevelRepeatableRead}) {
			t.Errorf("%s: LevelRepeatableRead did not begin as the default", name)
		}
		if beginHoldsWriteLock(t, db, &sql.TxOptions{ReadOnly: true}) {
			t.Errorf("%s: a read-only transaction took the writer lock", name)
		}
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("INSERT INTO t VALUES (1)"); !errors.Is(err, ErrBusy) {
			t.Errorf("%s: a write beside an open transaction that wrote nothing: %v; want ErrBusy", name, err)
		}
		var n int
		if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil {
			t.Errorf("%s: a read beside the transaction: %v", name, err)
		}
		tx.Rollback()
		err = RetryTx(context.Background(), db, nil, func(tx *sql.Tx) error {
			_, err := tx.Exec("INSERT INTO t VALUES (2)")
			return err
		})
		if err != nil {
			t.Errorf("%s: RetryTx: %v", name, err)
		}
	}
}

// journal_mode=MEMORY in the DSN or an Option is refused when the
// connector is made; run as SQL it changes nothing (as the README says):
// the engine still keeps its log and reports wal.
func TestMigrateFixJournalModeMemory(t *testing.T) {
	_, err := NewConnector(filepath.Join(t.TempDir(), "j.db"), WithPragma("journal_mode", "memory"))
	var de *DSNError
	if !errors.As(err, &de) || de.Key != "_pragma" {
		t.Errorf(`WithPragma("journal_mode", "memory"): %v; want a *DSNError for _pragma`, err)
	}
	db := openTestDB(t, "")
	mustExec(t, db, "PRAGMA journal_mode=MEMORY; CREATE TABLE t(x); INSERT INTO t VALUES (1)")
	var jm string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&jm); err != nil || jm != "wal" {
		t.Errorf("journal_mode after PRAGMA journal_mode=MEMORY: %q %v; want wal", jm, err)
	}
}

// The README's Backups: VACUUM INTO copies the last commit without waiting
// for a writer's transaction (it reads a snapshot, as in stock SQLite's
// WAL mode), readers go on, and the copy opens in stock SQLite by its main
// file alone; a closed database's files, copied, open in this driver and
// in stock SQLite.
func TestMigrateFixBackups(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "live.db")
	db := openTestDSN(t, path+"?busy_timeout=0")
	mustExec(t, db, "CREATE TABLE t(x); INSERT INTO t VALUES (1)")
	ctx := context.Background()
	w, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.ExecContext(ctx, "BEGIN IMMEDIATE; INSERT INTO t VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	stockCount := func(file string) int {
		t.Helper()
		// At most a WAL header (32 bytes): no frame, the copy is its main file.
		if fi, err := os.Stat(file + "-wal"); err == nil && fi.Size() > 32 {
			t.Errorf("the copy's log holds %d bytes; want no frames (the copy is its main file)", fi.Size())
		}
		copied, err := sql.Open("sqlite", file)
		if err != nil {
			t.Fatal(err)
		}
		defer copied.Close()
		var n int
		if err := copied.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil {
			t.Fatalf("the copy %s, in stock SQLite: %v", file, err)
		}
		return n
	}
	during := filepath.Join(dir, "during.db")
	if _, err := db.Exec("VACUUM INTO ?", during); err != nil {
		t.Fatalf("VACUUM INTO beside a writer's transaction, busy_timeout=0: %v; want the copy at once", err)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Errorf("a read beside the writer: %d, %v", n, err)
	}
	if _, err := w.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	after := filepath.Join(dir, "after.db")
	if _, err := db.Exec("VACUUM INTO ?", after); err != nil {
		t.Fatal(err)
	}
	if n := stockCount(during); n != 1 {
		t.Errorf("the copy made during the writer's transaction has %d rows; want 1 (the last commit)", n)
	}
	if n := stockCount(after); n != 2 {
		t.Errorf("the copy made after the writer's commit has %d rows; want 2", n)
	}

	// A closed database: copy its files.
	closed := filepath.Join(dir, "closed.db")
	c, err := Open(closed)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, c, "CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3)")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	to := filepath.Join(t.TempDir(), "restored.db")
	for _, suffix := range []string{"", "-wal"} {
		data, err := os.ReadFile(closed + suffix)
		if errors.Is(err, os.ErrNotExist) && suffix != "" {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to+suffix, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, driverName := range []string{"libsql", "sqlite"} {
		r, err := sql.Open(driverName, to)
		if err != nil {
			t.Fatal(err)
		}
		var ic string
		if err := r.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 3 {
			t.Errorf("%s on the copied files: %d rows, %v; want 3", driverName, n, err)
		}
		if err := r.QueryRow("PRAGMA integrity_check").Scan(&ic); err != nil || ic != "ok" {
			t.Errorf("%s on the copied files: integrity_check %q %v", driverName, ic, err)
		}
		r.Close()
	}
}

// The errors of the keys other drivers use say what to write here, and
// modernc's _time_format=string_no_monotonic gives its layout.
func TestMigrateFixTimeFormatStringNoMonotonic(t *testing.T) {
	_, err := sql.Open("libsql", "x.db?_time_format=string_no_monotonic")
	if err == nil || !strings.Contains(err.Error(), moderncTimeLayout) {
		t.Errorf("_time_format=string_no_monotonic: %v; want modernc's layout in the message", err)
	}
	db := openTestDB(t, "_time_format="+strings.ReplaceAll(moderncTimeLayout, " ", "%20"))
	tm := time.Date(2024, 1, 2, 3, 4, 5, 6, time.FixedZone("IST", 5*3600+1800))
	var s string
	if err := db.QueryRow("SELECT ?", tm).Scan(&s); err != nil || s != tm.String() {
		t.Errorf("with modernc's layout: %q %v; want %q, modernc's default", s, err, tm.String())
	}
}

// The README's Limits: no Go function can be registered, so REGEXP, which
// mattn's users register, is missing, and says so.
func TestMigrateFixRegexpMissing(t *testing.T) {
	db := openTestDB(t, "")
	var b bool
	err := db.QueryRow("SELECT 'a' REGEXP 'a'").Scan(&b)
	if err == nil || !strings.Contains(err.Error(), "no such function: REGEXP") {
		t.Errorf("REGEXP: %v; want \"no such function: REGEXP\", as the README says", err)
	}
}
