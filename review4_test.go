package libsql

// Review 4: tests of 65b5ec3 and 79573ac (durable CDC made the database's;
// a late Source; adaptive history batches; LSNs across a clean close).
// 79573ac made every connection store its changes once a database had
// libsql_cdc; the regressions found here led to refusing instead the
// writes of a connection that does not store them (File.UnstoredWrite):
// the tests below were adapted to that, and each says what it found.

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golibsql/libsql/changefeed"
	_ "modernc.org/sqlite" // stock SQLite, registered as "sqlite"
)

// r4LastCommit is the LSN of the connection's last commit.
func r4LastCommit(t *testing.T, c *sql.Conn) LSN {
	t.Helper()
	var l LSN
	if err := c.Raw(func(dc any) error {
		l = LSN(dc.(*conn).file.LastCommit())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return l
}

// r4Values returns column col of the inserts into table, as text.
func r4Values(chs []Change, table string, col int) []string {
	var out []string
	for _, c := range chs {
		if c.Table == table && c.Op == changefeed.Insert {
			out = append(out, fmt.Sprint(c.New[col]))
		}
	}
	return out
}

// The CDC tables exactly as cdc=on makes them: what a dump of a database
// that used durable CDC, restored through a handle without cdc=on (or the
// libsql shell), creates.
const r4CDCTables = cdcSchema + ";" + cdcStateSchema

// TestReview4UserTableNamedLibsqlCDC: an application's own table named
// libsql_cdc (other columns) made the database impossible to open with
// cdc=on, as documented. Since 79573ac it cannot be opened at all: every
// connection, whatever its DSN, reads the schema at connect (setupCapture
// -> hasCDCTable) and then fails in setupDurableCDC with an error that
// talks about cdc=on, which the DSN does not have. Before 79573ac a handle
// without cdc=on used the database normally.
func TestReview4UserTableNamedLibsqlCDC(t *testing.T) {
	dir := t.TempDir()
	dsn := crvDSN(dir, "u.db", "")
	db := crvOpen(t, dsn)
	mustExec(t, db, "CREATE TABLE libsql_cdc(id INTEGER PRIMARY KEY, note TEXT)")
	mustExec(t, db, "INSERT INTO libsql_cdc(note) VALUES ('mine')")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = crvOpen(t, dsn)
	var note string
	if err := db.QueryRow("SELECT note FROM libsql_cdc").Scan(&note); err != nil {
		t.Fatalf("a database holding the application's own table named libsql_cdc no longer opens without cdc=on: %v", err)
	}
}

// TestReview4DroppedCDCTableFailsEveryWriter: once libsql_cdc is dropped
// (an owner turning durable CDC off, a migration), every write of every
// connection of the process fails with "no such table: libsql_cdc" —
// connections without cdc=on too, and connections opened after the DROP,
// which no longer see the table: Engine.Durable stays set for the life of
// the engine and conn.stores follows it. Before 79573ac only cdc=on
// handles stored, and handles without it went on writing.
func TestReview4DroppedCDCTableFailsEveryWriter(t *testing.T) {
	dir := t.TempDir()
	on := crvOpen(t, crvDSN(dir, "d.db", "cdc=on"))
	mustExec(t, on, "CREATE TABLE t(v)")
	mustExec(t, on, "INSERT INTO t VALUES ('stored')")
	if err := on.Close(); err != nil {
		t.Fatal(err)
	}
	plain := crvOpen(t, crvDSN(dir, "d.db", ""))
	if _, err := plain.Exec("INSERT INTO t VALUES ('unstored')"); !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), "cdc=on") {
		t.Fatalf("a write through a handle without cdc=on on a database with stored changes: %v, want ErrReadOnly saying to use cdc=on", err)
	}
	// Turning durable CDC off: a handle saying cdc=off outright may write
	// (its changes left out) and drop the tables.
	off := crvOpen(t, crvDSN(dir, "d.db", "cdc=off"))
	mustExec(t, off, "INSERT INTO t VALUES ('while durable')")
	mustExec(t, off, "DROP TABLE libsql_cdc")
	var problems []string
	if _, err := off.Exec("INSERT INTO t VALUES ('after drop')"); err != nil {
		problems = append(problems, fmt.Sprintf("a handle without cdc=on, after DROP TABLE libsql_cdc: INSERT fails: %v", err))
	}
	fresh := crvOpen(t, crvDSN(dir, "d.db", "busy_timeout=1s"))
	if _, err := fresh.Exec("INSERT INTO t VALUES ('new handle')"); err != nil {
		problems = append(problems, fmt.Sprintf("a handle opened after the DROP (no libsql_cdc in its schema, no cdc=on): INSERT fails: %v", err))
	}
	if len(problems) > 0 {
		t.Fatal(strings.Join(problems, "\n"))
	}
}

// TestReview4AutocommitWriteEscapesDurableStart: the decision to store an
// autocommit write's changes (cdcWrap -> conn.stores -> Engine.Durable) is
// taken before the statement waits for the writer lock, while durable CDC
// starts under that lock (EnableCapture / becomeDurable). A writer queued
// behind the connection that starts durable CDC commits after it started,
// its changes captured and published live, but not stored: the stored
// history, which the hub takes as complete, silently lacks it, and a
// stream from Oldest (or resuming after a restart) skips it.
//
// The database has its CDC tables (a dump of a cdc=on database restored
// through a handle without cdc=on) when another handle connects: that
// connection starts durable CDC, waiting for the writer lock held by a
// transaction; an INSERT of a connection opened earlier waits behind it.
func TestReview4AutocommitWriteEscapesDurableStart(t *testing.T) {
	dir := t.TempDir()
	dsn := crvDSN(dir, "r.db", "sync=off")
	db1 := crvOpen(t, dsn)
	ctx := context.Background()
	a, b := dbConn(t, db1), dbConn(t, db1)
	cexec(t, a, "CREATE TABLE t(id INTEGER PRIMARY KEY, v)")
	cexec(t, a, r4CDCTables)
	l0 := r4LastCommit(t, a)
	cexec(t, a, "BEGIN IMMEDIATE")
	cexec(t, a, "INSERT INTO t(v) VALUES ('a')")

	db2 := crvOpen(t, crvDSN(dir, "r.db", "cdc=on&sync=off"))
	starter := make(chan error, 1)
	go func() { // connects: starts durable CDC, waits for a's writer lock
		c, err := db2.Conn(ctx)
		if err == nil {
			c.Close()
		}
		starter <- err
	}()
	time.Sleep(300 * time.Millisecond)
	writer := make(chan error, 1)
	go func() { // decided not to store, then waits for the lock
		_, err := b.ExecContext(ctx, "INSERT INTO t(v) VALUES ('b')")
		writer <- err
	}()
	time.Sleep(300 * time.Millisecond)
	cexec(t, a, "COMMIT")
	if err := <-starter; err != nil {
		t.Fatal(err)
	}
	if err := <-writer; err != nil {
		// Queued behind the start of durable CDC (the writer lock is a
		// FIFO queue): refused, as a write that would not be stored.
		if !errors.Is(err, ErrReadOnly) {
			t.Fatalf("the queued write: %v, want success (stored) or ErrReadOnly", err)
		}
		return
	}
	mustExec(t, db2, "INSERT INTO t(v) VALUES ('c')")

	live, err := crvDrain(stream(t, db2, ChangeOptions{Since: l0}), 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	lv := r4Values(live, "t", 1)
	if strings.Join(lv, ",") != "b,c" {
		t.Skipf("the hub's memory after LSN %v holds %v: the writer did not commit after durable CDC started, the race was not reproduced", l0, lv)
	}
	stored, err := crvDrain(stream(t, db2, ChangeOptions{Since: changefeed.Oldest}), 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	var rows int
	db2.QueryRow("SELECT count(*) FROM libsql_cdc").Scan(&rows)
	if sv := r4Values(stored, "t", 1); strings.Join(sv, ",") != "b,c" {
		t.Fatalf("'b' and 'c' committed after durable CDC started (both published live, from the hub's memory: %v), but libsql_cdc holds %d transaction(s) and a stream from Oldest yields %v, no error: a silent gap", lv, rows, sv)
	}
}

// TestReview4ConnectWaitsForWriterLock: opening a connection, even one that
// only reads, on a database whose CDC tables exist but whose engine has not
// started durable CDC yet (restored from a dump through a handle without
// cdc=on; or a cdc=on connection whose setup failed after creating them)
// now waits for the writer lock (setupCapture -> EnableCapture, at least
// internalGrace, 5 s, whatever busy_timeout says) and fails if a write
// transaction is open. Before 79573ac a connection without cdc=on never
// waited for the writer lock at connect.
func TestReview4ConnectWaitsForWriterLock(t *testing.T) {
	dir := t.TempDir()
	dsn := crvDSN(dir, "w.db", "sync=off&busy_timeout=100ms")
	db1 := crvOpen(t, dsn)
	a := dbConn(t, db1)
	cexec(t, a, "CREATE TABLE t(v)")
	cexec(t, a, r4CDCTables)
	cexec(t, a, "BEGIN IMMEDIATE")
	cexec(t, a, "INSERT INTO t VALUES (1)")
	defer cexec(t, a, "ROLLBACK")

	reader := crvOpen(t, dsn)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	var n int
	err := reader.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n)
	if err != nil {
		t.Fatalf("a read through a new connection (no cdc=on, busy_timeout=100ms) while another connection's write transaction is open: failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
	}
}

// TestReview4AttachWriteEscapesStoredHistory: "once a database has
// libsql_cdc, every read-write connection to it stores its transactions'
// changes ... a stream reading the stored history never misses one". A
// write through ATTACH into such a database is refused only while its
// engine captures; when no connection of the process has it open as its
// main database, ATTACH opens the engine without capture and the write
// commits, unstored: the next run's stream from Oldest skips it.
// (Pre-existing for cdc=on databases; the new promise makes it a gap.)
func TestReview4AttachWriteEscapesStoredHistory(t *testing.T) {
	knownLimit(t, "a write through ATTACH to a database with stored changes that no connection has open as its main database is not stored")
	dir := t.TempDir()
	d := filepath.Join(dir, "d.db")
	on := crvOpen(t, "file:"+d+"?cdc=on")
	mustExec(t, on, "CREATE TABLE t(v)")
	mustExec(t, on, "INSERT INTO t VALUES (1)")
	if err := on.Close(); err != nil {
		t.Fatal(err)
	}
	other := crvOpen(t, crvDSN(dir, "x.db", ""))
	c := dbConn(t, other)
	cexec(t, c, "ATTACH ? AS d", d)
	_, werr := c.ExecContext(context.Background(), "INSERT INTO d.t VALUES (2)")
	cexec(t, c, "DETACH d")
	c.Close()
	if werr != nil {
		if errors.Is(werr, ErrReadOnly) {
			return // refused: fine
		}
		t.Fatal(werr)
	}
	on = crvOpen(t, "file:"+d+"?cdc=on")
	got, err := crvDrain(stream(t, on, ChangeOptions{Since: changefeed.Oldest}), 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if v := r4Values(got, "t", 0); strings.Join(v, ",") != "1,2" {
		t.Fatalf("row 2 was committed to d.db (which has libsql_cdc) through ATTACH with no error, but the stored history from Oldest yields rows %v, no error", v)
	}
}

// r4Commit commits one row into t(v) on db and returns its LSN.
func r4Commit(t *testing.T, db *sql.DB, v any) LSN {
	t.Helper()
	s := stream(t, db, ChangeOptions{})
	mustExec(t, db, "INSERT INTO t VALUES (?)", v)
	l := next(t, s, 1)[0].LSN
	s.Close()
	return l
}

const r4ChildEnv = "LIBSQL_REVIEW4_CHILD_DB"

// TestReview4TruncateCrashChild is the child of TestReview4LSNsAfterLostLog:
// it commits, runs PRAGMA wal_checkpoint(TRUNCATE), prints the LSN of its
// last commit and waits to be killed.
func TestReview4TruncateCrashChild(t *testing.T) {
	path := os.Getenv(r4ChildEnv)
	if path == "" {
		t.Skip("child process of TestReview4LSNsAfterLostLog")
	}
	db, err := Open("file:" + path)
	if err != nil {
		fmt.Println("error", err)
		select {}
	}
	var l LSN
	for i := range 5 {
		l = r4Commit(t, db, fmt.Sprint("before ", i))
	}
	if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		fmt.Println("error", err)
		select {}
	}
	fmt.Println("lsn", uint64(l))
	select {}
}

// TestReview4LSNsAfterLostLog: since 65b5ec3 the log's sequence number (the
// high half of every LSN) survives a clean close in the -wal header, and
// only there. With cdc off, when the -wal is lost the next open starts its
// LSNs over at 1<<32 again, and they name other commits: after a kill -9
// following PRAGMA wal_checkpoint(TRUNCATE) (the log is 0 bytes until the
// next commit), and after stock SQLite opened the database between two runs
// (it checkpoints and deletes the -wal on close). A consumer's saved LSN is
// refused (ErrFutureLSN) only until the new LSNs pass it; then a stream
// resumed from it silently starts in the middle of the new commits.
func TestReview4LSNsAfterLostLog(t *testing.T) {
	knownLimit(t, "without cdc=on, LSNs start over when the -wal is lost (kill -9 right after a TRUNCATE checkpoint, or stock SQLite deleting it)")
	prepare := func(t *testing.T, path string) {
		db := crvOpen(t, "file:"+path)
		mustExec(t, db, "CREATE TABLE t(v)")
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		run  func(t *testing.T, path string) LSN // returns the saved LSN
	}{
		{"kill -9 after TRUNCATE checkpoint", func(t *testing.T, path string) LSN {
			exe, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(exe, "-test.run=^TestReview4TruncateCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), r4ChildEnv+"="+path)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			defer cmd.Process.Kill()
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) == 2 && f[0] == "lsn" {
					n, _ := strconv.ParseUint(f[1], 10, 64)
					cmd.Process.Kill() // kill -9
					return LSN(n)
				}
				if len(f) > 0 && f[0] == "error" {
					t.Fatal(sc.Text())
				}
			}
			t.Fatalf("child ended: %v", sc.Err())
			return 0
		}},
		{"stock SQLite opened it between runs", func(t *testing.T, path string) LSN {
			db := crvOpen(t, "file:"+path)
			var l LSN
			for i := range 5 {
				l = r4Commit(t, db, fmt.Sprint("before ", i))
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			st, err := sql.Open("sqlite", "file:"+path)
			if err != nil {
				t.Fatal(err)
			}
			var n int
			if err := st.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 5 {
				t.Fatalf("stock SQLite: %d rows, %v", n, err)
			}
			st.Close()
			return l
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "l.db")
			prepare(t, path)
			saved := tc.run(t, path)
			db := crvOpen(t, "file:"+path)
			_, ferr := Changes(context.Background(), db, ChangeOptions{Since: saved})
			// New commits, a log restart (checkpoint) after each, as a busy
			// database has: the sequence number climbs back.
			var lsns []LSN
			for i := 0; i < 8 && (i == 0 || lsns[i-1] <= saved); i++ {
				lsns = append(lsns, r4Commit(t, db, fmt.Sprint("after ", i)))
				mustExec(t, db, "PRAGMA wal_checkpoint(RESTART)")
			}
			if lsns[0] > saved {
				return
			}
			msg := fmt.Sprintf("the last LSN before was %v; after reopening, the new commits got LSNs %v", saved, lsns)
			msg += fmt.Sprintf("; Changes(Since %v) right after the reopen: %v", saved, ferr)
			if lsns[len(lsns)-1] > saved {
				got, err := crvDrain(stream(t, db, ChangeOptions{Since: saved}), 200*time.Millisecond)
				msg += fmt.Sprintf("; once the new LSNs passed it the same Since is accepted and yields rows %v (err %v) of the %d new commits: the first are skipped without an error", r4Values(got, "t", 0), err, len(lsns))
			}
			t.Fatal(msg)
		})
	}
}

// TestReview4ResumePointRefusedAfterStock: with cdc=on the floor of the
// LSNs after a lost -wal comes from libsql_cdc (RaiseLSNFloor), which raises
// the next commit's LSN but not log.Last(), and the hub's Last only to the
// newest stored LSN. A stream opened at Now after a clean reopen, with no
// commit since, hands out LSN() = the new log generation's base (above
// every stored LSN); a consumer that saves it at shutdown and resumes after
// stock SQLite opened the file (which deletes the -wal) is refused with
// ErrFutureLSN, "an LSN this database never gave", although the stream
// itself gave it and nothing was committed since.
func TestReview4ResumePointRefusedAfterStock(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.db")
	dsn := "file:" + path + "?cdc=on"
	db := crvOpen(t, dsn)
	mustExec(t, db, "CREATE TABLE t(v)")
	r4Commit(t, db, "stored")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = crvOpen(t, dsn)
	s := stream(t, db, ChangeOptions{})
	noMore(t, s)
	saved := s.LSN() // the consumer's resume point, saved at shutdown
	s.Close()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := st.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	st.Close()
	db = crvOpen(t, dsn)
	s, err = Changes(context.Background(), db, ChangeOptions{Since: saved})
	if err != nil {
		t.Fatalf("resuming from the LSN a stream handed out (%v, nothing committed since) after stock SQLite read the database: %v", saved, err)
	}
	s.Close()
}

// TestReview4StockOnHeaderOnlyLog: a clean close leaves a 32-byte -wal
// (TrimToHeader); stock SQLite opens it, reads, writes and checkpoints,
// and the driver then reads what stock wrote, with LSNs still increasing.
func TestReview4StockOnHeaderOnlyLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	db := crvOpen(t, "file:"+path)
	mustExec(t, db, "CREATE TABLE t(v)")
	before := r4Commit(t, db, "ours")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() != 32 {
		t.Fatalf("-wal after a clean close: %v, %v; want 32 bytes", fi, err)
	}
	st, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	st.SetMaxOpenConns(1)
	for _, q := range []string{"INSERT INTO t VALUES ('stock')", "PRAGMA wal_checkpoint(PASSIVE)", "INSERT INTO t VALUES ('stock 2')"} {
		if _, err := st.Exec(q); err != nil {
			t.Fatalf("stock SQLite: %s: %v", q, err)
		}
	}
	var got string
	if err := st.QueryRow("SELECT group_concat(v) FROM t").Scan(&got); err != nil || got != "ours,stock,stock 2" {
		t.Fatalf("stock SQLite reads %q, %v", got, err)
	}
	var ic string
	if err := st.QueryRow("PRAGMA integrity_check").Scan(&ic); err != nil || ic != "ok" {
		t.Fatalf("stock integrity_check: %q, %v", ic, err)
	}
	st.Close()
	db = crvOpen(t, "file:"+path)
	if err := db.QueryRow("SELECT group_concat(v) FROM t").Scan(&got); err != nil || got != "ours,stock,stock 2" {
		t.Fatalf("after stock SQLite, the driver reads %q, %v", got, err)
	}
	checkIntegrity(t, db)
	if after := r4Commit(t, db, "ours again"); after <= before {
		t.Logf("LSN %v after stock SQLite, %v before: restarted (the -wal was deleted)", after, before)
	}
}

// TestReview4DurableWithoutCDCKey: a handle without cdc=on may not write a
// database that has libsql_cdc; a second cdc=on handle's BEGIN CONCURRENT
// commits (direct and rebased) are stored; retention's own concurrent
// batches run beside it; VACUUM works; a mode=ro handle reads.
func TestReview4DurableWithoutCDCKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.db")
	cn, err := NewConnector("file:" + path + "?cdc=on&cdc_max=3&sync=off")
	if err != nil {
		t.Fatal(err)
	}
	cn.prune.interval = 5 * time.Millisecond
	on := sql.OpenDB(cn)
	t.Cleanup(func() { on.Close() })
	mustExec(t, on, "CREATE TABLE a(id INTEGER PRIMARY KEY, v)")
	mustExec(t, on, "CREATE TABLE b(id INTEGER PRIMARY KEY, v)")
	if plain := crvOpen(t, "file:"+path+"?sync=off"); true {
		if _, err := plain.Exec("INSERT INTO a(v) VALUES ('unstored')"); !errors.Is(err, ErrReadOnly) {
			t.Fatalf("a write through a handle without cdc=on: %v, want ErrReadOnly", err)
		}
	}
	off := crvOpen(t, "file:"+path+"?cdc=on&sync=off") // a second handle, storing too
	live := stream(t, off, ChangeOptions{})
	c1, c2 := dbConn(t, off), dbConn(t, off)
	const rounds = 20
	for i := range rounds {
		cexec(t, c1, "BEGIN CONCURRENT")
		cexec(t, c2, "BEGIN CONCURRENT")
		cexec(t, c1, "INSERT INTO a(v) VALUES (?)", i)
		cexec(t, c2, "INSERT INTO b(v) VALUES (?)", i)
		cexec(t, c1, "COMMIT")
		cexec(t, c2, "COMMIT") // stale: rebased, stored
	}
	got := next(t, live, 2*rounds)
	var stored int
	deadline := time.Now().Add(3 * time.Second)
	for {
		stored = count(t, off, "SELECT count(*) FROM libsql_cdc")
		if stored <= 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if stored > 4 {
		t.Errorf("retention (cdc_max=3) left %d stored transactions; %+v", stored, cn.PruneStats())
	}
	last := got[len(got)-1].LSN
	var lsn LSN
	if err := off.QueryRow("SELECT max(lsn) FROM libsql_cdc").Scan(&lsn); err != nil || lsn != last {
		t.Errorf("newest stored LSN %v, %v; newest published %v", lsn, err, last)
	}
	if st := cn.PruneStats(); st.Failures > 0 {
		t.Errorf("retention failures: %+v", st)
	}
	mustExec(t, off, "VACUUM")
	ro := crvOpen(t, "file:"+path+"?mode=ro")
	if n := count(t, ro, "SELECT count(*) FROM a"); n != rounds {
		t.Errorf("mode=ro reads %d rows of a", n)
	}
}

// TestReview4QueryOnlyHandleOnOldCDCDatabase: a database whose durable CDC
// predates retention has libsql_cdc but no libsql_cdc_state. A handle
// without cdc=on that only reads (PRAGMA query_only from the DSN) now runs
// setupDurableCDC at connect, whose CREATE TABLE IF NOT EXISTS
// libsql_cdc_state is a write: the connection fails to open.
func TestReview4QueryOnlyHandleOnOldCDCDatabase(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "q.db")
	db := crvOpen(t, "file:"+path)
	mustExec(t, db, "CREATE TABLE t(v)")
	mustExec(t, db, cdcSchema) // as an older cdc=on made it
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	q := crvOpen(t, "file:"+path+"?_pragma=query_only(1)")
	var n int
	if err := q.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatalf("a query_only handle without cdc=on cannot read a database whose CDC tables predate retention: %v", err)
	}
}

// TestReview4LateSourceAcrossStart: streams opened before durable CDC
// started (late Source): one lagging across the start ends with
// ErrStreamLagged, never a skip; one lagging only after it reads the
// stored history; Since in the gap is refused; Since after the start reads
// it all.
func TestReview4LateSourceAcrossStart(t *testing.T) {
	dir := t.TempDir()
	off := crvOpen(t, crvDSN(dir, "g.db", "sync=off"))
	mustExec(t, off, "CREATE TABLE t(v)")
	across := stream(t, off, ChangeOptions{Buffer: 1})
	s0 := stream(t, off, ChangeOptions{})
	for i := range 300 {
		mustExec(t, off, "INSERT INTO t VALUES (?)", fmt.Sprint("pre ", i))
	}
	pre := next(t, s0, 300)
	gap := pre[10].LSN
	on := crvOpen(t, crvDSN(dir, "g.db", "cdc=on&sync=off"))
	after := stream(t, on, ChangeOptions{Buffer: 1})
	if _, err := off.Exec("INSERT INTO t VALUES ('refused')"); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("a write through the handle without cdc=on once the changes are stored: %v, want ErrReadOnly", err)
	}
	for i := range 300 {
		mustExec(t, on, "INSERT INTO t VALUES (?)", fmt.Sprint("post ", i))
	}
	post := next(t, s0, 300)
	got, err := crvDrain(across, 200*time.Millisecond)
	if v := r4Values(got, "t", 0); !errors.Is(err, ErrStreamLagged) && len(v) != 600 {
		t.Errorf("lagging across the start: %d rows, then %v", len(v), err)
	} else {
		for i, x := range v {
			want := fmt.Sprint("pre ", i)
			if i >= 300 {
				want = fmt.Sprint("post ", i-300)
			}
			if x != want {
				t.Errorf("lagging across the start: row %d is %q, want %q (a skip)", i, x, want)
				break
			}
		}
	}
	got, err = crvDrain(after, 200*time.Millisecond)
	if v := r4Values(got, "t", 0); err != nil || len(v) != 300 {
		t.Errorf("opened after the start, lagging: %d rows, then %v", len(v), err)
	}
	got, err = crvDrain(stream(t, on, ChangeOptions{Since: gap}), 200*time.Millisecond)
	if !errors.Is(err, ErrStreamLagged) {
		t.Errorf("Since in the gap (%v): %d rows, then %v; want ErrStreamLagged", gap, len(got), err)
	}
	got, err = crvDrain(stream(t, on, ChangeOptions{Since: post[0].LSN}), 200*time.Millisecond)
	if v := r4Values(got, "t", 0); err != nil || len(v) != 299 {
		t.Errorf("Since the first stored (%v): %d rows, then %v", post[0].LSN, len(v), err)
	}
	got, err = crvDrain(stream(t, on, ChangeOptions{Since: changefeed.Oldest}), 200*time.Millisecond)
	if v := r4Values(got, "t", 0); err != nil || len(v) != 300 || v[0] != "post 0" {
		t.Errorf("Since Oldest: %d rows (first %v), then %v; want the 300 stored", len(v), v[:min(1, len(v))], err)
	}
}

// TestReview4OpenCost (LIBSQL_SOAK=1) times open + one query + close of a
// database without and with libsql_cdc, through a handle without cdc=on
// (which reads the schema at connect to find libsql_cdc): the table must
// not make opening much dearer.
func TestReview4OpenCost(t *testing.T) {
	if os.Getenv("LIBSQL_SOAK") != "1" {
		t.Skip("LIBSQL_SOAK=1")
	}
	var costs [2]time.Duration
	for i, withCDC := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "o.db")
		db := crvOpen(t, "file:"+path)
		mustExec(t, db, "CREATE TABLE t(x)")
		mustExec(t, db, "INSERT INTO t VALUES (1)")
		if withCDC {
			mustExec(t, db, r4CDCTables)
		}
		db.Close()
		const n = 2000
		best := time.Duration(1 << 62)
		for range 5 {
			start := time.Now()
			for range n {
				db, err := Open("file:" + path)
				if err != nil {
					t.Fatal(err)
				}
				var k int
				if err := db.QueryRow("SELECT count(*) FROM t").Scan(&k); err != nil {
					t.Fatal(err)
				}
				db.Close()
			}
			best = min(best, time.Since(start)/n)
		}
		t.Logf("libsql_cdc present=%v: %v per open+query+close (best of 5 x %d)", withCDC, best, n)
		costs[i] = best
	}
	if costs[1] > costs[0]*3/2 {
		t.Errorf("opening a database with libsql_cdc costs %v, without %v", costs[1], costs[0])
	}
}
