package libsql

// Review of multiple databases and of how files are named and opened:
// ATTACH (through the engine or not), transactions over several databases,
// BEGIN CONCURRENT and CDC with attached databases, DSN spellings, read-only
// opens, symlinks and in-memory databases, compared with stock SQLite
// (modernc.org/sqlite's driver, "sqlite") where they should match.

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // stock SQLite, registered as "sqlite"
)

func arInt(t *testing.T, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := q.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// arStock opens path with stock SQLite and returns what query answers (or
// the error's text).
func arStock(t *testing.T, path, query string) string {
	t.Helper()
	uri := "file:" + strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
	db, err := sql.Open("sqlite", uri)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var s string
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		// A process killed while it used io_uring keeps its lock for a few
		// milliseconds more (engine.go, lockGrace).
		err = db.QueryRow(query).Scan(&s)
		if err == nil || !strings.Contains(err.Error(), "locked") || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		return "error: " + err.Error()
	}
	return s
}

// Fixed: A transaction that writes two attached databases (files, through
// the engine) fails at COMMIT with "disk I/O error
// (SQLITE_IOERR_DELETE_NOENT)": their journals are in DELETE mode, so SQLite
// commits with a super-journal, which the VFS keeps in memory
// (VFS.Open: not a main database file) but then asks VFS.Delete to remove
// from disk, where it never was. Stock SQLite commits it.
func TestAttachReviewTwoAttachedOneTransaction(t *testing.T) {
	dir := t.TempDir()
	db := openTestDSN(t, filepath.Join(dir, "main.db"))
	c := dbConn(t, db)
	cexec(t, c, "ATTACH ? AS b1", filepath.Join(dir, "b1.db"))
	cexec(t, c, "ATTACH ? AS b2", filepath.Join(dir, "b2.db"))
	cexec(t, c, "CREATE TABLE b1.t(x)")
	cexec(t, c, "CREATE TABLE b2.t(x)")
	tx, err := c.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO b1.t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO b2.t VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("COMMIT of a transaction writing two attached databases: %v (stock SQLite commits it)", err)
	}
	if n := arInt(t, c, "SELECT (SELECT count(*) FROM b1.t) + (SELECT count(*) FROM b2.t)"); n != 2 {
		t.Fatalf("rows after commit: %d, want 2", n)
	}
}

// A database opened read-only (mode=ro) first makes a read-only engine (a
// read-only log, or an in-memory one where the file had none). A later
// read-write open of the same file in the process shared it, and a commit
// then poisoned the engine (disk I/O error) or was acknowledged and lost
// at close. Now that open fails and says why.
func TestAttachReviewReadOnlyFirstThenReadWrite(t *testing.T) {
	for _, withLog := range []bool{false, true} {
		t.Run(fmt.Sprintf("log=%v", withLog), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.db")
			drv := "sqlite" // stock, rollback mode: no -wal
			if withLog {
				drv = "libsql" // leaves its -wal after a clean close
			}
			s, err := sql.Open(drv, path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Exec("CREATE TABLE t(x); INSERT INTO t VALUES (1)"); err != nil {
				t.Fatal(err)
			}
			s.Close()

			ro, err := sql.Open("libsql", "file:"+path+"?mode=ro")
			if err != nil {
				t.Fatal(err)
			}
			defer ro.Close()
			if n := arInt(t, ro, "SELECT count(*) FROM t"); n != 1 {
				t.Fatalf("ro sees %d rows", n)
			}
			rw, err := sql.Open("libsql", path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = rw.Exec("INSERT INTO t VALUES (2)")
			rw.Close()
			ro.Close()
			want := "1,2"
			if err != nil {
				// The engine cannot turn read-write under its readers: the
				// open must say why, and nothing may change.
				var le *Error
				if !strings.Contains(err.Error(), "has it open read-only (mode=ro)") || !errors.As(err, &le) || le.Code() != CANTOPEN {
					t.Fatalf("INSERT on a read-write *sql.DB while a mode=ro one is open: %v, want SQLITE_CANTOPEN saying the file is open read-only", err)
				}
				want = "1"
			}
			if got := arStock(t, path, "SELECT group_concat(x) FROM t"); got != want {
				t.Fatalf("after close, stock SQLite reads %q; want %q (the INSERT returned %v)", got, want, err)
			}
		})
	}
}

const arSymlinkChildEnv = "LIBSQL_ATTACH_REVIEW_SYMLINK"

// TestAttachReviewSymlinkChild is the child process of
// TestAttachReviewSymlinkKill9: it commits through a symlink, says so, and
// waits to be killed.
func TestAttachReviewSymlinkChild(t *testing.T) {
	link := os.Getenv(arSymlinkChildEnv)
	if link == "" {
		t.Skip("child process of TestAttachReviewSymlinkKill9")
	}
	db, err := sql.Open("libsql", link)
	if err != nil {
		fmt.Println("error", err)
		return
	}
	for _, q := range []string{"CREATE TABLE t(x)", "INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)"} {
		if _, err := db.Exec(q); err != nil {
			fmt.Println("error", err)
			return
		}
	}
	fmt.Println("committed")
	select {}
}

// Fixed: A database opened through a symlink keeps its log beside the
// link (link.db-wal), not beside the file: VFS.FullPathname does not
// resolve symlinks, as stock SQLite's unix VFS does. After a kill -9, stock
// SQLite (and this driver) opening the real file look for real.db-wal and
// lose every commit after the first (which went into the main file).
func TestAttachReviewSymlinkKill9(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.db")
	link := filepath.Join(dir, "link.db")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAttachReviewSymlinkChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), arSymlinkChildEnv+"="+link)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(5*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	sc := bufio.NewScanner(out)
	line := ""
	for sc.Scan() {
		if line = sc.Text(); line == "committed" || strings.HasPrefix(line, "error") {
			break
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if line != "committed" {
		t.Fatalf("child: %q", line)
	}
	if got := arStock(t, real, "SELECT coalesce(group_concat(x), 'no rows') FROM t"); got != "1,2" {
		t.Fatalf("after kill -9 of a process that committed rows 1,2 through a symlink, stock SQLite opening the file reads %q", got)
	}
}

// Durable CDC missed a commit made through ATTACH: another *sql.DB of the
// process (or a connection of the database itself) attaches a database
// that has cdc=on and inserts a row; the row was committed, but no
// libsql_cdc entry (and no stream change) recorded it, as the pre-update
// hook captures only the "main" schema and the attached file has no
// capture. Such writes are now refused, saying why.
func TestAttachReviewCDCMissesWriteThroughAttach(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.db")
	db1 := openTestDSN(t, "file:"+a+"?cdc=on")
	mustExec(t, db1, "CREATE TABLE t(x)")
	mustExec(t, db1, "INSERT INTO t VALUES (1)")
	before := arInt(t, db1, "SELECT count(*) FROM libsql_cdc")

	db2 := openTestDSN(t, filepath.Join(dir, "b.db"))
	for _, c := range []*sql.Conn{dbConn(t, db2), dbConn(t, db1)} { // another database's connection; one of a.db itself
		cexec(t, c, "ATTACH ? AS a2", a)
		_, err := c.ExecContext(context.Background(), "INSERT INTO a2.t VALUES (2)")
		if err == nil {
			if after := arInt(t, db1, "SELECT count(*) FROM libsql_cdc"); after != before+1 {
				t.Fatalf("row 2 is committed to a.db (cdc=on) through ATTACH, but libsql_cdc went from %d to %d transactions: the change is missing from the change stream", before, after)
			}
			before++
			continue
		}
		if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), "its changes are being captured") {
			t.Fatalf("INSERT through ATTACH into a database with cdc=on: %v, want a refusal that says why", err)
		}
		cexec(t, c, "DETACH a2")
	}
	if n, cdc := arInt(t, db1, "SELECT count(*) FROM t"), arInt(t, db1, "SELECT count(*) FROM libsql_cdc"); n != cdc {
		t.Fatalf("a.db has %d rows and %d captured transactions, one per row", n, cdc)
	}
}

// Reads of an attached database inside BEGIN CONCURRENT were not in the
// transaction's read set (only the main database's File tracks reads),
// so a transaction that read a row another transaction overwrote before it
// commits was merged or committed directly: write skew, not the serial
// outcome README promises. BEGIN CONCURRENT is now refused while a database
// file is attached. "alias" attaches the main file itself (the same
// engine: its pages are main's pages, read without tracking); "file"
// attaches another database.
func TestAttachReviewConcurrentReadsOfAttachedNotValidated(t *testing.T) {
	for _, alias := range []bool{true, false} {
		name := map[bool]string{true: "alias", false: "file"}[alias]
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			mainPath := filepath.Join(dir, "main.db")
			db := openTestDSN(t, mainPath)
			mustExec(t, db, "CREATE TABLE t1(k INTEGER PRIMARY KEY, v INT); INSERT INTO t1 VALUES (1, 0)")
			mustExec(t, db, "CREATE TABLE t2(k INTEGER PRIMARY KEY, v INT); INSERT INTO t2 VALUES (1, 0)")
			auxPath := mainPath
			if !alias {
				auxPath = filepath.Join(dir, "aux.db")
			}
			a, b := dbConn(t, db), dbConn(t, db)
			cexec(t, a, "ATTACH ? AS x", auxPath)
			cexec(t, b, "ATTACH ? AS x", auxPath)
			if !alias {
				cexec(t, a, "CREATE TABLE x.t1(k INTEGER PRIMARY KEY, v INT); INSERT INTO x.t1 VALUES (1, 0)")
			}
			// A: reads t2 (its main snapshot) and x.t1.
			if _, err := a.ExecContext(ctx, "BEGIN CONCURRENT"); err != nil {
				if !strings.Contains(err.Error(), `database "x" attached`) {
					t.Fatalf("BEGIN CONCURRENT: %v, want a refusal naming the attached database", err)
				}
				return // refused: nothing to check
			}
			arInt(t, a, "SELECT v FROM t2 WHERE k = 1")
			var seen1 int64
			if err := a.QueryRowContext(ctx, "SELECT v FROM x.t1 WHERE k = 1").Scan(&seen1); err != nil {
				cexec(t, a, "ROLLBACK")
				return // a refusal would do
			}
			// B: reads t2 = 0, so sets x.t1 = 1; commits.
			tx, err := b.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec("UPDATE x.t1 SET v = 1 WHERE k = 1 AND (SELECT v FROM main.t2 WHERE k = 1) = 0"); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			// A: read x.t1 = 0, so sets t2 = 1.
			cexec(t, a, "UPDATE t2 SET v = 1 WHERE k = 1 AND ? = 0", seen1)
			_, err = a.ExecContext(ctx, "COMMIT")
			if err != nil {
				if !errors.Is(err, ErrBusySnapshot) {
					t.Fatalf("COMMIT: %v", err)
				}
				return
			}
			v1 := arInt(t, a, "SELECT v FROM x.t1 WHERE k = 1")
			v2 := arInt(t, a, "SELECT v FROM t2 WHERE k = 1")
			if v1 == 1 && v2 == 1 {
				t.Fatalf("BEGIN CONCURRENT read x.t1 = 0, which another transaction set to 1 (having read t2 = 0) before it committed, and committed t2 = 1: x.t1 = t2 = 1 is no serial outcome")
			}
		})
	}
}

// An attached in-memory database is the connection's own, as TEMP is:
// BEGIN CONCURRENT accepts it, and its writes commit and roll back with the
// transaction.
func TestAttachReviewConcurrentWritesAttachedMemory(t *testing.T) {
	db := openTestDB(t, "")
	c := dbConn(t, db)
	cexec(t, c, "ATTACH ':memory:' AS mem")
	cexec(t, c, "CREATE TABLE mem.t(x)")
	for _, end := range []string{"ROLLBACK", "COMMIT"} {
		cexec(t, c, "BEGIN CONCURRENT")
		cexec(t, c, "INSERT INTO mem.t VALUES (1)")
		cexec(t, c, end)
	}
	if n := arInt(t, c, "SELECT count(*) FROM mem.t"); n != 1 {
		t.Fatalf("%d rows in the attached in-memory table after a rolled-back and a committed insert, want 1", n)
	}
}

// Fixed (was minor): PRAGMA wal_checkpoint without a schema checkpoints
// every attached WAL database in stock SQLite (iDb = SQLITE_MAX_DB); here
// only main's log: SQLite sends SQLITE_FCNTL_PRAGMA to main alone, and the
// driver (pragma_checkpoint.go) runs the pragma as it is.
func TestAttachReviewCheckpointWithoutSchema(t *testing.T) {
	dir := t.TempDir()
	db := openTestDSN(t, filepath.Join(dir, "main.db"))
	c := dbConn(t, db)
	cexec(t, c, "ATTACH ? AS aux", filepath.Join(dir, "aux.db"))
	cexec(t, c, "CREATE TABLE aux.t(x)")
	for i := range 5 {
		cexec(t, c, "INSERT INTO aux.t VALUES (?)", i)
	}
	if _, err := c.ExecContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	var js string
	if err := c.QueryRowContext(context.Background(), "PRAGMA aux.libsql_stats").Scan(&js); err != nil {
		t.Fatal(err)
	}
	var st struct {
		Frames int `json:"log_frames"`
	}
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		t.Fatal(err)
	}
	if st.Frames != 0 {
		t.Fatalf("after PRAGMA wal_checkpoint(TRUNCATE), the attached database's log still has %d frames (stock SQLite checkpoints every attached database)", st.Frames)
	}
}

// Two *sql.DB on one file through different spellings share one engine:
// writes through one are seen by the other at once, and the file stays
// whole.
func TestAttachReviewSameFileSpellings(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	abs := filepath.Join(dir, "x.db")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(abs, filepath.Join(dir, "sym.db")); err != nil {
		t.Fatal(err)
	}
	spellings := []string{abs, "x.db", "./sub/../x.db", "file://" + abs, "file:x.db", filepath.Join(dir, "sym.db")}
	var dbs []*sql.DB
	for _, s := range spellings {
		dbs = append(dbs, openTestDSN(t, s))
	}
	mustExec(t, dbs[0], "CREATE TABLE t(x)")
	for i, db := range dbs {
		mustExec(t, db, "INSERT INTO t VALUES (?)", i)
		for j, other := range dbs {
			if n := arInt(t, other, "SELECT count(*) FROM t"); n != int64(i+1) {
				t.Fatalf("after %q inserted row %d, %q sees %d rows", spellings[i], i, spellings[j], n)
			}
		}
	}
}

// ":memory:" is one database for the connections of one *sql.DB and
// another for each *sql.DB; "file:name?mode=memory" is shared by name
// across *sql.DBs (README, In-memory databases).
func TestAttachReviewMemoryDSNs(t *testing.T) {
	ctx := context.Background()
	m1 := openTestDSN(t, ":memory:")
	m2 := openTestDSN(t, "file::memory:")
	c1, c2 := dbConn(t, m1), dbConn(t, m1)
	cexec(t, c1, "CREATE TABLE t(x); INSERT INTO t VALUES (1)")
	if n := arInt(t, c2, "SELECT count(*) FROM t"); n != 1 {
		t.Fatalf("second connection of a :memory: *sql.DB sees %d rows", n)
	}
	if _, err := m2.ExecContext(ctx, "SELECT * FROM t"); err == nil {
		t.Fatal("a second :memory: *sql.DB sees the first one's table")
	}
	name := "file:" + strings.ReplaceAll(t.Name(), "/", "_")
	n1 := openTestDSN(t, name+"?mode=memory")
	n2 := openTestDSN(t, name+"?mode=memory")
	mustExec(t, n1, "CREATE TABLE t(x); INSERT INTO t VALUES (7)")
	if n := arInt(t, n2, "SELECT x FROM t"); n != 7 {
		t.Fatalf("named in-memory database not shared: %d", n)
	}
}

// mode=ro refuses every write to the database but, as stock SQLite, allows
// TEMP tables; it sees commits of a read-write *sql.DB of the same process
// once its snapshot ends, not before.
func TestAttachReviewReadOnlyDSN(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	rw := openTestDSN(t, path)
	mustExec(t, rw, "CREATE TABLE t(x); INSERT INTO t VALUES (1)")
	ro := openTestDSN(t, "file:"+path+"?mode=ro")
	for _, q := range []string{"INSERT INTO t VALUES (9)", "CREATE TABLE u(x)", "DELETE FROM t"} {
		if _, err := ro.ExecContext(ctx, q); !errors.Is(err, ErrReadOnly) {
			t.Fatalf("mode=ro: %s: %v, want ErrReadOnly", q, err)
		}
	}
	c := dbConn(t, ro)
	cexec(t, c, "CREATE TEMP TABLE tt(x); INSERT INTO tt VALUES (1)")
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := arInt(t, tx, "SELECT count(*) FROM t"); n != 1 {
		t.Fatalf("ro sees %d rows", n)
	}
	mustExec(t, rw, "INSERT INTO t VALUES (2)")
	if n := arInt(t, tx, "SELECT count(*) FROM t"); n != 1 {
		t.Fatalf("ro snapshot moved inside its transaction: %d rows", n)
	}
	tx.Rollback()
	if n := arInt(t, c, "SELECT count(*) FROM t"); n != 2 {
		t.Fatalf("ro does not see the rw commit after its snapshot: %d rows", n)
	}
}

// BEGIN CONCURRENT is refused while a database file is attached, naming
// it; the connection is not left in a transaction, and after DETACH it
// starts.
func TestAttachReviewConcurrentRefusesAttachedFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openTestDSN(t, filepath.Join(dir, "main.db"))
	c := dbConn(t, db)
	cexec(t, c, "ATTACH ? AS aux", filepath.Join(dir, "aux.db"))
	cexec(t, c, "CREATE TABLE aux.t(x)")
	if _, err := c.ExecContext(ctx, "BEGIN CONCURRENT"); err == nil || !strings.Contains(err.Error(), `database "aux" attached`) {
		t.Fatalf("BEGIN CONCURRENT with a database file attached: %v", err)
	}
	cexec(t, c, "INSERT INTO aux.t VALUES (2)")
	cexec(t, c, "BEGIN IMMEDIATE") // not in a transaction
	cexec(t, c, "ROLLBACK")
	if n := arInt(t, c, "SELECT count(*) FROM aux.t"); n != 1 {
		t.Fatalf("aux rows: %d", n)
	}
	cexec(t, c, "DETACH aux")
	cexec(t, c, "BEGIN CONCURRENT")
	cexec(t, c, "ROLLBACK")
}

// Names with characters that URIs escape open the file so named, as stock
// SQLite does, and stock SQLite reads what this driver wrote there.
func TestAttachReviewDSNSpecialNames(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ dsn, file string }{
		{"file:" + dir + "/a%20b.db", "a b.db"},
		{"file:" + dir + "/q%3Fx.db", "q?x.db"},
		{"file:" + dir + "/h%23x.db#frag", "h#x.db"},
		{dir + "/p%41.db", "p%41.db"},
		{dir + "/h#y.db", "h#y.db"},
	} {
		db, err := sql.Open("libsql", c.dsn)
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.Exec("CREATE TABLE t(x); INSERT INTO t VALUES (1)")
		db.Close()
		if err != nil {
			t.Fatalf("%q: %v", c.dsn, err)
		}
		path := filepath.Join(dir, c.file)
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("%q: %v", c.dsn, err)
		}
		if got := arStock(t, path, "SELECT count(*) FROM t"); got != "1" {
			t.Fatalf("%q: stock reads %q", c.dsn, got)
		}
	}
}

// VACUUM INTO a new file writes it through the engine: stock SQLite reads
// the copy whole, and, as README says of the engine's files, page 1 says
// WAL mode (stock VACUUM INTO writes 1,1 there: both open).
func TestAttachReviewVacuumInto(t *testing.T) {
	dir := t.TempDir()
	db := openTestDSN(t, filepath.Join(dir, "main.db"))
	mustExec(t, db, "CREATE TABLE t(x); WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 500) INSERT INTO t SELECT i FROM s")
	out := filepath.Join(dir, "copy.db")
	mustExec(t, db, "VACUUM INTO ?", out)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if b[18] != 2 || b[19] != 2 {
		t.Fatalf("VACUUM INTO output: header bytes 18-19 = %d %d, want 2 2", b[18], b[19])
	}
	if got := arStock(t, out, "SELECT count(*) || ' ' || (SELECT integrity_check FROM pragma_integrity_check) FROM t"); got != "500 ok" {
		t.Fatalf("stock SQLite reads the VACUUM INTO copy as %q", got)
	}
}

// Fixed: A database file that cannot be opened for writing (read-only
// permissions, an immutable or read-only-mounted file) does not open with
// the default mode: "unable to open database file (SQLITE_CANTOPEN)",
// with no cause attached. Stock SQLite's unix VFS falls back to a read-only
// open (reporting SQLITE_OPEN_READONLY back): reads work, writes fail with
// "attempt to write a readonly database". VFS.fileEngine opens with
// ioback.OpenCreate and VFS.Open returns the flags it was given. Here the
// file is made immutable (chattr +i), which holds for root too.
func TestAttachReviewReadOnlyFileDefaultMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	s, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Exec("CREATE TABLE t(x); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if os.Geteuid() != 0 {
		if err := os.Chmod(path, 0o444); err != nil {
			t.Fatal(err)
		}
	} else if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		t.Skipf("chattr +i: %v %s", err, out) // root writes files whatever their mode
	} else {
		t.Cleanup(func() { exec.Command("chattr", "-i", path).Run() })
	}
	if got := arStock(t, path, "SELECT count(*) FROM t"); got != "1" {
		t.Fatalf("stock reads %q", got)
	}
	db, err := sql.Open("libsql", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatalf("SELECT on a read-only file with the default mode: %v (stock SQLite opens it read-only and answers 1)", err)
	}
	if _, err := db.Exec("INSERT INTO t VALUES (2)"); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("INSERT into a read-only file: %v, want ErrReadOnly", err)
	}
}
