package libsql

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func fileDSN(path string) string { return "file:" + filepath.ToSlash(path) }

// openUnchecked opens a database the test closes itself.
func openUnchecked(t *testing.T, dsn string, opts ...Option) *sql.DB {
	t.Helper()
	db, err := Open(dsn, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// TestBackupRoundTrip: Backup of a file database into a new file, through
// database/sql, the native Conn and sql.Conn.Raw, gives a database with
// the same contents that our driver and stock SQLite open (integrity_check
// ok); Progress sees every step, in order, up to the total.
func TestBackupRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := openTestDSN(t, fileDSN(filepath.Join(dir, "src.db")))
	want := fillForImage(t, src)
	var pages int
	if err := src.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}

	var calls []int
	total := 0
	opts := &BackupOptions{StepPages: 7, Progress: func(copied, all int) {
		calls = append(calls, copied)
		total = all
	}}
	dst1 := filepath.Join(dir, "viaDB.db")
	if err := Backup(ctx, src, "", dst1, opts); err != nil {
		t.Fatal(err)
	}
	if total != pages || len(calls) != (pages+6)/7 || calls[len(calls)-1] != pages {
		t.Errorf("Progress: total %d, calls %v; want total %d in steps of 7", total, calls, pages)
	}
	for i := 1; i < len(calls); i++ {
		if calls[i] != calls[i-1]+7 && calls[i] != pages {
			t.Errorf("Progress: step %d copied %d after %d", i, calls[i], calls[i-1])
		}
	}

	c, err := OpenConn(ctx, fileDSN(filepath.Join(dir, "src.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dst2 := filepath.Join(dir, "viaConn.db")
	if err := c.Backup(ctx, "main", dst2, nil); err != nil {
		t.Fatal(err)
	}
	sc, err := src.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dst3 := filepath.Join(dir, "viaRaw.db")
	err = sc.Raw(func(dc any) error { return dc.(Backuper).Backup(ctx, "", dst3, nil) })
	sc.Close()
	if err != nil {
		t.Fatal(err)
	}

	for _, p := range []string{dst1, dst2, dst3} {
		db := openUnchecked(t, fileDSN(p))
		if got := imageDigest(t, db); got != want {
			t.Errorf("%s: contents %q, want %q", p, got, want)
		}
		checkIntegrity(t, db)
		db.Close()
		stock, err := sql.Open("sqlite", p)
		if err != nil {
			t.Fatal(err)
		}
		if got := imageDigest(t, stock); got != want {
			t.Errorf("%s in stock SQLite: contents %q, want %q", p, got, want)
		}
		checkIntegrity(t, stock)
		stock.Close()
	}
}

// TestBackupOneSnapshot: writers keep committing during a stepped backup,
// which neither waits for them nor starts over; the copy is one commit's
// database (the sum the writers keep is intact) and holds none of the
// rows committed after Backup began; in autocommit mode, and inside a
// transaction that has read nothing yet (whose snapshot the copy is).
func TestBackupOneSnapshot(t *testing.T) {
	for _, inTx := range []bool{false, true} {
		t.Run(map[bool]string{false: "autocommit", true: "deferred-tx"}[inTx], func(t *testing.T) {
			testBackupOneSnapshot(t, inTx)
		})
	}
}

func testBackupOneSnapshot(t *testing.T, inTx bool) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openTestDSN(t, fileDSN(filepath.Join(dir, "src.db"))+"?sync=normal")
	mustExec(t, db, `CREATE TABLE acct(id INTEGER PRIMARY KEY, bal INTEGER, pad BLOB);
		WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 2000)
		INSERT INTO acct SELECT i, 100, randomblob(500) FROM c`)

	var commits atomic.Int64
	stop := make(chan struct{})
	deadline := time.Now().Add(3 * time.Second) // a backup that starts over still ends
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if time.Now().After(deadline) {
				return
			}
			a, b := 1+i*7%2000, 1+i*13%2000
			if _, err := db.Exec("BEGIN; UPDATE acct SET bal = bal - 1 WHERE id = ?; UPDATE acct SET bal = bal + 1 WHERE id = ?; INSERT INTO acct(bal) VALUES (0); COMMIT", a, b); err != nil {
				t.Error(err)
				return
			}
			commits.Add(1)
		}
	}()
	var before, during int64
	steps, last := 0, 0
	backup := func(opts *BackupOptions) error {
		return Backup(ctx, db, "", filepath.Join(dir, "copy.db"), opts)
	}
	if inTx {
		c, err := OpenConn(ctx, fileDSN(filepath.Join(dir, "src.db")))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.BeginTx(ctx, nil); err != nil {
			t.Fatal(err)
		}
		defer c.Rollback()
		backup = func(opts *BackupOptions) error {
			return c.Backup(ctx, "", filepath.Join(dir, "copy.db"), opts)
		}
	}
	err := backup(&BackupOptions{StepPages: 20, Progress: func(copied, total int) {
		if steps == 0 {
			before = commits.Load()
		}
		if copied <= last {
			t.Errorf("step %d: %d pages copied after %d: the backup started over", steps, copied, last)
		}
		last = copied
		steps++
		time.Sleep(2 * time.Millisecond)
		during = commits.Load() - before
	}})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d steps, %d commits during them", steps, during)
	if during < 5 {
		t.Errorf("only %d commits during a backup of %d steps: writers waited for it", during, steps)
	}
	cp := openTestDSN(t, fileDSN(filepath.Join(dir, "copy.db")))
	var n, sum int64
	if err := cp.QueryRow("SELECT count(*), sum(bal) FROM acct").Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	if sum != 200000 || n-2000 > before+1 {
		t.Errorf("copy has %d rows (%d inserted by writers, %d committed before the first step) and sum %d, want sum 200000", n, n-2000, before, sum)
	}
}

// TestRestore: Restore replaces a live database in one transaction: a
// connection of the pool that holds a snapshot keeps the old database,
// and every connection sees the new one (its tables and schema) from its
// next transaction; a statement prepared on the old schema runs again.
func TestRestore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	other := openUnchecked(t, fileDSN(filepath.Join(dir, "other.db")))
	want := fillForImage(t, other)
	other.Close()

	db := openTestDSN(t, fileDSN(filepath.Join(dir, "live.db")))
	mustExec(t, db, "CREATE TABLE old(x); INSERT INTO old VALUES (1), (2)")
	stmt, err := db.Prepare("SELECT count(*) FROM sqlite_master")
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	reader, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := reader.QueryRow("SELECT count(*) FROM old").Scan(&n); err != nil {
		t.Fatal(err)
	}

	if err := Restore(ctx, db, "", filepath.Join(dir, "other.db"), nil); err != nil {
		t.Fatal(err)
	}
	if err := reader.QueryRow("SELECT count(*) FROM old").Scan(&n); err != nil || n != 2 {
		t.Errorf("a snapshot taken before Restore: %d rows of old, %v; want 2", n, err)
	}
	reader.Rollback()
	if got := imageDigest(t, db); got != want {
		t.Errorf("after Restore: %q, want %q", got, want)
	}
	if _, err := db.Exec("SELECT * FROM old"); err == nil || !strings.Contains(err.Error(), "no such table") {
		t.Errorf("table old after Restore: %v", err)
	}
	var objects int
	if err := stmt.QueryRow().Scan(&objects); err != nil || objects != 6 {
		t.Errorf("prepared statement after Restore: %d objects, %v; want 6", objects, err)
	}
	mustExec(t, db, "INSERT INTO t(name) VALUES ('after restore')")
}

// TestBackupRestoreFailureChangesNothing: a backup or restore that stops
// half way (its context canceled by the Progress callback) leaves the
// destination as it was, and removes a file Backup created.
func TestBackupRestoreFailureChangesNothing(t *testing.T) {
	dir := t.TempDir()
	src := openTestDSN(t, fileDSN(filepath.Join(dir, "src.db")))
	fillForImage(t, src)
	cancelAfterOne := func() (context.Context, *BackupOptions) {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		return ctx, &BackupOptions{StepPages: 3, Progress: func(int, int) { cancel() }}
	}

	ctx, opts := cancelAfterOne()
	dst := filepath.Join(dir, "new.db")
	if err := Backup(ctx, src, "", dst, opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("Backup canceled half way: %v, want context.Canceled", err)
	}
	for _, p := range []string{dst, dst + "-wal"} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after a failed Backup that created it: %v", p, err)
		}
	}

	existing := filepath.Join(dir, "existing.db")
	edb := openTestDSN(t, fileDSN(existing))
	mustExec(t, edb, "CREATE TABLE keep(x); INSERT INTO keep VALUES (42)")
	ctx, opts = cancelAfterOne()
	if err := Backup(ctx, src, "", existing, opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("Backup into an existing file canceled half way: %v", err)
	}
	var x int
	if err := edb.QueryRow("SELECT x FROM keep").Scan(&x); err != nil || x != 42 {
		t.Errorf("existing destination after a failed Backup: %d, %v", x, err)
	}

	ctx, opts = cancelAfterOne()
	if err := Restore(ctx, edb, "", filepath.Join(dir, "src.db"), opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("Restore canceled half way: %v", err)
	}
	if err := edb.QueryRow("SELECT x FROM keep").Scan(&x); err != nil || x != 42 {
		t.Errorf("after a failed Restore: %d, %v", x, err)
	}
}

// TestBackupRefusals: what Backup and Restore refuse, with errors that
// name the database and the reason, changing nothing.
func TestBackupRefusals(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "db.db")
	db := openTestDSN(t, fileDSN(path))
	mustExec(t, db, "CREATE TABLE t(x); INSERT INTO t VALUES (1)")
	missing := filepath.Join(dir, "missing.db")

	check := func(name string, err error, wants ...string) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: no error", name)
			return
		}
		t.Logf("%s: %v", name, err)
		for _, w := range wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v; want it to say %q", name, err, w)
			}
		}
	}
	check("Restore from a missing file", Restore(ctx, db, "", missing, nil), `Restore "main" from "`+missing+`"`, "unable to open")
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Restore from a missing file created it: %v", err)
	}
	check("Backup into itself", Backup(ctx, db, "", path, nil), "same database")
	check("Backup into :memory:", Backup(ctx, db, "", ":memory:", nil), "in-memory database of its own")
	check("Backup of no such schema", Backup(ctx, db, "nosuch", filepath.Join(dir, "x.db"), nil), `"nosuch"`, "no such database")
	check("negative StepPages", Backup(ctx, db, "", filepath.Join(dir, "x.db"), &BackupOptions{StepPages: -1}), "StepPages is -1")
	check("bad DSN", Backup(ctx, db, "", filepath.Join(dir, "x.db")+"?sync=sometimes", nil), `"sync"`)
	if _, err := os.Stat(filepath.Join(dir, "x.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refused Backups created their destination: %v", err)
	}

	c, err := OpenConn(ctx, fileDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.BeginTx(ctx, nil); err != nil {
		t.Fatal(err)
	}
	check("Restore in a transaction", c.Restore(ctx, "", path, nil), "transaction open")
	if _, err := c.Exec(ctx, "INSERT INTO t VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	check("Backup of a transaction that wrote", c.Backup(ctx, "", filepath.Join(dir, "y.db"), nil), "has written")
	c.Rollback()

	// A database whose changes are captured is not a Restore's destination.
	s, err := Changes(ctx, db, ChangeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "src.db")
	sdb := openUnchecked(t, fileDSN(src))
	mustExec(t, sdb, "CREATE TABLE other(y)")
	sdb.Close()
	check("Restore into a captured database", Restore(ctx, db, "", src, nil), "captured")
	s.Close()
	cdb := openTestDSN(t, fileDSN(filepath.Join(dir, "cdc.db"))+"?cdc=on")
	mustExec(t, cdb, "CREATE TABLE z(x)")
	check("Restore into cdc=on", Restore(ctx, cdb, "", src, nil), "captured")
	var n int
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Errorf("database after refused Restores: %d rows, %v", n, err)
	}
}

// TestBackupSchemasAndMemory: Backup of an attached database and of
// temp; Restore into an attached database; Backup into and Restore from
// an in-memory database shared by name, which a connector keeps open.
func TestBackupSchemasAndMemory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	att := filepath.Join(dir, "att.db")
	adb := openUnchecked(t, fileDSN(att))
	mustExec(t, adb, "CREATE TABLE a(x); INSERT INTO a VALUES ('attached')")
	adb.Close()

	c, err := OpenConn(ctx, fileDSN(filepath.Join(dir, "main.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Exec(ctx, "ATTACH ? AS aux; CREATE TEMP TABLE tt(y); INSERT INTO tt VALUES ('temp')", att); err != nil {
		t.Fatal(err)
	}
	one := func(dsn, query string) string {
		t.Helper()
		db := openUnchecked(t, dsn)
		defer db.Close()
		var s string
		if err := db.QueryRow(query).Scan(&s); err != nil {
			t.Fatalf("%s on %s: %v", query, dsn, err)
		}
		return s
	}
	if err := c.Backup(ctx, "aux", filepath.Join(dir, "aux-copy.db"), nil); err != nil {
		t.Fatal(err)
	}
	if got := one(fileDSN(filepath.Join(dir, "aux-copy.db")), "SELECT x FROM a"); got != "attached" {
		t.Errorf("copy of aux: %q", got)
	}
	if err := c.Backup(ctx, "temp", filepath.Join(dir, "temp-copy.db"), nil); err != nil {
		t.Fatal(err)
	}
	if got := one(fileDSN(filepath.Join(dir, "temp-copy.db")), "SELECT y FROM tt"); got != "temp" {
		t.Errorf("copy of temp: %q", got)
	}

	for _, err := range []error{
		c.Backup(ctx, "temp", "file:nobody?mode=memory", nil),
		c.Restore(ctx, "aux", "file:nobody?mode=memory", nil),
	} {
		if err == nil || !strings.Contains(err.Error(), "no connection has this in-memory database open") {
			t.Errorf("copy to or from an in-memory database nobody has open: %v", err)
		}
	}
	mem := openTestDSN(t, "file:backupmem?mode=memory")
	if err := mem.Ping(); err != nil {
		t.Fatal(err)
	}
	if err := c.Backup(ctx, "temp", "file:backupmem?mode=memory", nil); err != nil {
		t.Fatal(err)
	}
	var y string
	if err := mem.QueryRow("SELECT y FROM tt").Scan(&y); err != nil || y != "temp" {
		t.Errorf("shared in-memory database after Backup into it: %q, %v", y, err)
	}
	if err := c.Restore(ctx, "aux", "file:backupmem?mode=memory", nil); err != nil {
		t.Fatal(err)
	}
	var s string
	if err := c.QueryRow(ctx, "SELECT y FROM aux.tt").Scan(&s); err != nil || s != "temp" {
		t.Errorf("aux after Restore from memory: %q, %v", s, err)
	}
}

// TestBackupPageSize: a new destination takes the source's page size; an
// existing one of another page size is refused, unchanged.
func TestBackupPageSize(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := openTestDSN(t, fileDSN(filepath.Join(dir, "src.db"))+"?_pragma=page_size(8192)")
	mustExec(t, src, "CREATE TABLE t(x); INSERT INTO t VALUES (1)")
	if err := Backup(ctx, src, "", filepath.Join(dir, "new.db"), nil); err != nil {
		t.Fatal(err)
	}
	cp := openTestDSN(t, fileDSN(filepath.Join(dir, "new.db")))
	var ps int
	if err := cp.QueryRow("PRAGMA page_size").Scan(&ps); err != nil || ps != 8192 {
		t.Errorf("page size of a new destination: %d, %v; want 8192", ps, err)
	}
	old := openTestDSN(t, fileDSN(filepath.Join(dir, "old.db")))
	mustExec(t, old, "CREATE TABLE keep(x); INSERT INTO keep VALUES (7)")
	err := Backup(ctx, src, "", filepath.Join(dir, "old.db"), nil)
	if err == nil || !strings.Contains(err.Error(), "page size") {
		t.Errorf("Backup into a database of another page size: %v", err)
	}
	var x int
	if err := old.QueryRow("SELECT x FROM keep").Scan(&x); err != nil || x != 7 {
		t.Errorf("destination after the refused Backup: %d, %v", x, err)
	}
}
