package libsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"database/sql/driver"

	"github.com/golibsql/libsql/changefeed"
	_ "modernc.org/sqlite"
)

// r17Stock opens file in stock SQLite (modernc) and returns the DB; the
// caller closes it.
func r17Stock(t *testing.T, file string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(file)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// r17Integrity runs PRAGMA integrity_check on db and returns its answer.
func r17Integrity(db *sql.DB) string {
	rows, err := db.Query("PRAGMA integrity_check")
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		out = append(out, err.Error())
	}
	return strings.Join(out, "; ")
}

// r17CheckCopy checks a VACUUM INTO copy in this driver and in stock
// SQLite: integrity, and the commit log invariants (one commit a row of
// lg, seq 1..n without gaps, ctr.n == n, each schema change with its row).
func r17CheckCopy(t *testing.T, file string, base int) (commits int) {
	t.Helper()
	for _, drv := range []string{"libsql", "stock"} {
		var db *sql.DB
		if drv == "stock" {
			db = r17Stock(t, file)
		} else {
			var err error
			db, err = Open("file:" + filepath.ToSlash(file) + "?mode=ro")
			if err != nil {
				t.Fatal(err)
			}
		}
		func() {
			defer db.Close()
			if ic := r17Integrity(db); ic != "ok" {
				t.Errorf("%s: copy %s: integrity_check: %s", drv, file, ic)
			}
			var n, mx, ctr, nt int
			if err := db.QueryRow("SELECT count(*), coalesce(max(seq),0), (SELECT n FROM ctr), (SELECT count(*) FROM t) FROM lg").Scan(&n, &mx, &ctr, &nt); err != nil {
				t.Errorf("%s: copy %s: %v", drv, file, err)
				return
			}
			if n != mx || ctr != n {
				t.Errorf("%s: copy %s: lg has %d rows, max seq %d, ctr %d: not one snapshot", drv, file, n, mx, ctr)
			}
			if nt != base+n {
				t.Errorf("%s: copy %s: t has %d rows; want %d base + %d commits", drv, file, nt, base, n)
			}
			// Schema changes: a table, index or drop exists iff its commit is in.
			for _, sc := range []struct{ note, q string }{
				{"create newt", "SELECT count(*) FROM sqlite_schema WHERE name='newt'"},
				{"create idx", "SELECT count(*) FROM sqlite_schema WHERE name='t_v'"},
				{"drop dropme", "SELECT 1-count(*) FROM sqlite_schema WHERE name='dropme'"},
			} {
				var has, present int
				db.QueryRow("SELECT count(*) FROM lg WHERE note=?", sc.note).Scan(&has)
				if err := db.QueryRow(sc.q).Scan(&present); err != nil {
					t.Errorf("%s: %v", drv, err)
				}
				if has != present {
					t.Errorf("%s: copy %s: %q committed in the copy: %d, schema shows it: %d", drv, file, sc.note, has, present)
				}
			}
			if drv == "libsql" {
				commits = n
			}
		}()
	}
	return commits
}

// r17Fill makes the tables of r17CheckCopy with base rows of size bytes.
func r17Fill(t *testing.T, db *sql.DB, base, size int) {
	t.Helper()
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB, w INT)")
	mustExec(t, db, "CREATE TABLE lg(seq INTEGER PRIMARY KEY, note TEXT)")
	mustExec(t, db, "CREATE TABLE ctr(n INT)")
	mustExec(t, db, "INSERT INTO ctr VALUES (0)")
	mustExec(t, db, "CREATE TABLE dropme(x)")
	mustExec(t, db, "INSERT INTO dropme VALUES (1),(2)")
	mustExec(t, db, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < ?) INSERT INTO t(id, v, w) SELECT i, randomblob(?), i FROM c", base, size)
}

const r17Commit = "INSERT INTO lg(seq, note) SELECT coalesce(max(seq),0)+1, ? FROM lg; UPDATE ctr SET n = n+1; INSERT INTO t(v, w) VALUES (x'00', -1)"

// TestReview17VacuumIntoSnapshotUnderLoad: VACUUM INTO copies one
// snapshot while autocommit, BEGIN IMMEDIATE and BEGIN CONCURRENT writers
// commit, the log checkpoints every 10 pages, another connection runs
// wal_checkpoint(TRUNCATE), and schema changes commit mid-copy.
func TestReview17VacuumIntoSnapshotUnderLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "live.db")
	db := openTestDSN(t, "file:"+filepath.ToSlash(path)+"?busy_timeout=10000&sync=off&_pragma=wal_autocheckpoint(10)")
	db.SetMaxOpenConns(8)
	base := 30000
	r17Fill(t, db, base, 1000)

	rounds := 2
	var copies []string
	for r := range rounds {
		out := filepath.Join(dir, fmt.Sprintf("copy%d.db", r))
		copies = append(copies, out)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var werr atomic.Value
		fail := func(err error) {
			if err != nil && ctx.Err() == nil {
				werr.CompareAndSwap(nil, err)
			}
		}
		writer := func(kind int) {
			defer wg.Done()
			for ctx.Err() == nil {
				switch kind {
				case 0:
					_, err := db.Exec("BEGIN IMMEDIATE; "+r17Commit+"; COMMIT", "auto")
					fail(err)
				case 1:
					fail(RetryTx(context.Background(), db, &sql.TxOptions{Isolation: LevelConcurrent}, func(tx *sql.Tx) error {
						_, err := tx.Exec(r17Commit, "conc")
						return err
					}))
				case 2:
					c, err := db.Conn(context.Background())
					if err != nil {
						fail(err)
						return
					}
					_, err = c.ExecContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)")
					fail(err)
					c.Close()
					time.Sleep(5 * time.Millisecond)
				}
			}
		}
		done := make(chan error, 1)
		go func() {
			_, err := db.Exec("VACUUM INTO ?", out)
			done <- err
		}()
		if r == 0 {
			time.Sleep(10 * time.Millisecond)
			mustExec(t, db, "BEGIN IMMEDIATE; CREATE TABLE newt(a); "+r17Commit+"; COMMIT", "create newt")
			mustExec(t, db, "BEGIN IMMEDIATE; CREATE INDEX t_v ON t(w); "+r17Commit+"; COMMIT", "create idx")
			mustExec(t, db, "BEGIN IMMEDIATE; DROP TABLE dropme; "+r17Commit+"; COMMIT", "drop dropme")
			select {
			case err := <-done:
				done <- err
				t.Logf("the copy ended before the schema changes did")
			default:
				t.Logf("the schema changes committed while the copy ran")
			}
		}
		wg.Add(3)
		go writer(0)
		go writer(1)
		go writer(2)
		err := <-done
		cancel()
		wg.Wait()
		if err != nil {
			t.Fatalf("VACUUM INTO: %v", err)
		}
		if e := werr.Load(); e != nil {
			t.Fatalf("a writer: %v", e)
		}
	}
	var total int
	db.QueryRow("SELECT count(*) FROM lg").Scan(&total)
	for _, c := range copies {
		n := r17CheckCopy(t, c, base)
		t.Logf("%s: %d of %d commits", filepath.Base(c), n, total)
	}
}

var _ = errors.Is
var _ = os.Getenv

// TestReview17VacuumIntoPaths: VACUUM INTO refuses an existing file (an
// ordinary one, the database's own path, another database open in the
// process whose rows are all in its log), leaving each as it was.
func TestReview17VacuumIntoPaths(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.db")
	db := openTestDSN(t, "file:"+filepath.ToSlash(path))
	mustExec(t, db, "CREATE TABLE t(x); INSERT INTO t VALUES (1),(2),(3)")

	plain := filepath.Join(dir, "plain.bin")
	os.WriteFile(plain, []byte("hello"), 0o644)
	if _, err := db.Exec("VACUUM INTO ?", plain); err == nil || !strings.Contains(err.Error(), "not a database") && !strings.Contains(err.Error(), "output file already exists") {
		// Stock SQLite: "file is not a database" (ATTACH reads it first).
		t.Errorf("VACUUM INTO an existing file: %v; want file is not a database, as stock SQLite", err)
	}
	if b, _ := os.ReadFile(plain); string(b) != "hello" {
		t.Errorf("the existing file now holds %q", b)
	}
	if _, err := db.Exec("VACUUM INTO ?", path); err == nil || !strings.Contains(err.Error(), "output file already exists") {
		t.Errorf("VACUUM INTO its own path: %v; want output file already exists", err)
	}
	// Another database, open, whose rows are in its log only (no checkpoint).
	other := filepath.Join(dir, "b.db")
	odb := openTestDSN(t, "file:"+filepath.ToSlash(other)+"?_pragma=wal_autocheckpoint(0)")
	mustExec(t, odb, "CREATE TABLE u(y); INSERT INTO u VALUES ('keep')")
	if fi, err := os.Stat(other); err == nil {
		t.Logf("b.db main file: %d bytes", fi.Size())
	}
	if _, err := db.Exec("VACUUM INTO ?", other); err == nil || !strings.Contains(err.Error(), "output file already exists") {
		t.Errorf("VACUUM INTO another open database: %v; want output file already exists", err)
	}
	var y string
	if err := odb.QueryRow("SELECT y FROM u").Scan(&y); err != nil || y != "keep" {
		t.Errorf("the other database after: %q, %v", y, err)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 3 {
		t.Errorf("the database after: %d, %v", n, err)
	}
	// The same with stock SQLite holding a database open.
	sp := filepath.Join(dir, "stock.db")
	sdb, err := sql.Open("sqlite", sp)
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	if _, err := sdb.Exec("CREATE TABLE s(z); INSERT INTO s VALUES (7)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("VACUUM INTO ?", sp); err == nil || !strings.Contains(err.Error(), "output file already exists") {
		t.Errorf("VACUUM INTO a stock SQLite database: %v; want output file already exists", err)
	}
	var z int
	if err := sdb.QueryRow("SELECT z FROM s").Scan(&z); err != nil || z != 7 {
		t.Errorf("the stock database after: %d, %v", z, err)
	}
	// An empty file is taken, as by SQLite.
	empty := filepath.Join(dir, "empty.db")
	os.WriteFile(empty, nil, 0o644)
	if _, err := db.Exec("VACUUM INTO ?", empty); err != nil {
		t.Errorf("VACUUM INTO an empty file: %v", err)
	} else {
		s := r17Stock(t, empty)
		defer s.Close()
		if err := s.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 3 {
			t.Errorf("the copy into an empty file: %d, %v", n, err)
		}
	}
}

// TestReview17VacuumIntoTransaction: inside a transaction (BEGIN, BEGIN
// IMMEDIATE, BEGIN CONCURRENT) VACUUM INTO is refused, as by SQLite, and
// writes no file; the transaction goes on.
func TestReview17VacuumIntoTransaction(t *testing.T) {
	dir := t.TempDir()
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(x); INSERT INTO t VALUES (1)")
	for i, opts := range []*sql.TxOptions{nil, {Isolation: sql.LevelSerializable}, {Isolation: LevelConcurrent}, {ReadOnly: true}} {
		tx, err := db.BeginTx(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		if opts == nil || !opts.ReadOnly {
			if _, err := tx.Exec("INSERT INTO t VALUES (2)"); err != nil {
				t.Fatal(err)
			}
		}
		out := filepath.Join(dir, fmt.Sprintf("tx%d.db", i))
		_, err = tx.Exec("VACUUM INTO ?", out)
		if err == nil || !strings.Contains(err.Error(), "cannot VACUUM from within a transaction") {
			t.Errorf("%+v: VACUUM INTO in a transaction: %v; want cannot VACUUM from within a transaction", opts, err)
		}
		if _, serr := os.Stat(out); serr == nil {
			t.Errorf("%+v: VACUUM INTO in a transaction wrote %s", opts, out)
		}
		if err := tx.Rollback(); err != nil {
			t.Errorf("%+v: rollback: %v", opts, err)
		}
	}
	// SQL BEGIN on a pinned connection.
	c, _ := db.Conn(context.Background())
	defer c.Close()
	for _, b := range []string{"BEGIN", "BEGIN IMMEDIATE", "BEGIN CONCURRENT"} {
		if _, err := c.ExecContext(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		c.ExecContext(context.Background(), "INSERT INTO t VALUES (3)")
		out := filepath.Join(dir, "sql.db")
		_, err := c.ExecContext(context.Background(), "VACUUM INTO ?", out)
		if err == nil || !strings.Contains(err.Error(), "cannot VACUUM from within a transaction") {
			t.Errorf("%s: VACUUM INTO: %v; want cannot VACUUM from within a transaction", b, err)
		}
		os.Remove(out)
		c.ExecContext(context.Background(), "ROLLBACK")
	}
	var n int
	db.QueryRow("SELECT count(*) FROM t").Scan(&n)
	if n != 1 {
		t.Errorf("%d rows; want 1", n)
	}
}

// TestReview17VacuumIntoReadOnlyAndAttached: a mode=ro database copies;
// VACUUM aux INTO copies the attached database, also while a writer
// holds main's writer lock.
func TestReview17VacuumIntoReadOnlyAndAttached(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.db")
	db := openTestDSN(t, "file:"+filepath.ToSlash(path)+"?busy_timeout=0")
	mustExec(t, db, "CREATE TABLE t(x); INSERT INTO t VALUES (1),(2)")
	auxp := filepath.Join(dir, "aux.db")
	adb := openTestDSN(t, "file:"+filepath.ToSlash(auxp))
	mustExec(t, adb, "CREATE TABLE a(y); INSERT INTO a VALUES ('x'),('y'),('z')")

	ro := openTestDSN(t, "file:"+filepath.ToSlash(path)+"?mode=ro")
	out := filepath.Join(dir, "ro.db")
	if _, err := ro.Exec("VACUUM INTO ?", out); err != nil {
		t.Errorf("VACUUM INTO, mode=ro: %v", err)
	} else {
		s := r17Stock(t, out)
		var n int
		if err := s.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 2 {
			t.Errorf("the mode=ro copy: %d, %v", n, err)
		}
		s.Close()
	}

	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if _, err := c.ExecContext(ctx, "ATTACH ? AS aux", auxp); err != nil {
		t.Fatal(err)
	}
	// Another connection holds main's writer lock.
	w, _ := db.Conn(ctx)
	defer w.Close()
	if _, err := w.ExecContext(ctx, "BEGIN IMMEDIATE; INSERT INTO t VALUES (3)"); err != nil {
		t.Fatal(err)
	}
	outA := filepath.Join(dir, "auxcopy.db")
	if _, err := c.ExecContext(ctx, "VACUUM aux INTO ?", outA); err != nil {
		t.Errorf("VACUUM aux INTO: %v", err)
	} else {
		s := r17Stock(t, outA)
		var n int
		if err := s.QueryRow("SELECT count(*) FROM a").Scan(&n); err != nil || n != 3 {
			t.Errorf("the aux copy: %d, %v", n, err)
		}
		if ic := r17Integrity(s); ic != "ok" {
			t.Errorf("aux copy: %s", ic)
		}
		s.Close()
	}
	outM := filepath.Join(dir, "maincopy.db")
	if _, err := c.ExecContext(ctx, "VACUUM main INTO ?", outM); err != nil {
		t.Errorf("VACUUM main INTO beside a writer: %v", err)
	}
	w.ExecContext(ctx, "ROLLBACK")
	// Writer on aux while copying aux.
	if _, err := adb.Exec("INSERT INTO a VALUES ('w')"); err != nil {
		t.Fatal(err)
	}
	c.ExecContext(ctx, "DETACH aux")
}

// TestReview17VacuumIntoCancel: a context cancelled mid-copy stops VACUUM
// INTO with the context's error; what is left at the path is no database
// with part of the rows (in this driver and in stock SQLite), the
// connection and writers go on, and the log does not stay pinned.
func TestReview17VacuumIntoCancel(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "live.db")
	db := openTestDSN(t, "file:"+filepath.ToSlash(path)+"?sync=off&busy_timeout=5000")
	db.SetMaxOpenConns(1)
	base := 30000
	r17Fill(t, db, base, 1000)
	for i, delay := range []time.Duration{5 * time.Millisecond, 40 * time.Millisecond, 90 * time.Millisecond} {
		out := filepath.Join(dir, fmt.Sprintf("cut%d.db", i))
		ctx, cancel := context.WithTimeout(context.Background(), delay)
		start := time.Now()
		_, err := db.ExecContext(ctx, "VACUUM INTO ?", out)
		cancel()
		took := time.Since(start)
		if err == nil {
			t.Logf("delay %v: the copy finished in %v before the cancel", delay, took)
			os.Remove(out)
			continue
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("delay %v: VACUUM INTO cancelled: %v; want context.DeadlineExceeded", delay, err)
		}
		fi, serr := os.Stat(out)
		left := "nothing"
		if serr == nil {
			left = fmt.Sprintf("%d bytes", fi.Size())
			for _, drv := range []string{"stock", "libsql"} {
				var c *sql.DB
				if drv == "stock" {
					c = r17Stock(t, out)
				} else {
					c, _ = Open("file:" + filepath.ToSlash(out) + "?mode=ro")
				}
				var n int
				qerr := c.QueryRow("SELECT count(*) FROM t").Scan(&n)
				ic := r17Integrity(c)
				c.Close()
				left += fmt.Sprintf("; %s: t: %d rows (%v), integrity %q", drv, n, qerr, ic)
				if qerr == nil && n != base {
					t.Errorf("delay %v: the half copy opens in %s with %d of %d rows", delay, drv, n, base)
				}
			}
		}
		t.Logf("delay %v: %v after %v; left: %s", delay, err, took, left)
		os.Remove(out)
		os.Remove(out + "-wal")
		if _, err := db.Exec(r17Commit, "after cancel"); err != nil {
			t.Fatalf("a write after the cancelled copy: %v", err)
		}
	}
	// The full copy still works on the same connection.
	out := filepath.Join(dir, "full.db")
	if _, err := db.Exec("VACUUM INTO ?", out); err != nil {
		t.Fatal(err)
	}
	r17CheckCopy(t, out, base)
}

// TestReview17VacuumIntoCDC: with cdc=on and a change stream open,
// VACUUM INTO copies while writers commit; the stream sees exactly the
// writers' changes (none of the copy's inserts), and the copy passes
// integrity_check in both drivers and opens with cdc=on.
func TestReview17VacuumIntoCDC(t *testing.T) {
	dir := t.TempDir()
	db := openTestDSN(t, "file:"+filepath.ToSlash(filepath.Join(dir, "c.db"))+"?cdc=on&busy_timeout=5000&sync=off")
	base := 8000
	r17Fill(t, db, base, 1000)
	ctx := context.Background()
	s, err := Changes(ctx, db, ChangeOptions{Buffer: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := filepath.Join(dir, "copy.db")
	done := make(chan error, 1)
	go func() {
		_, err := db.Exec("VACUUM INTO ?", out)
		done <- err
	}()
	writes := 0
	for copying := true; copying; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("VACUUM INTO: %v", err)
			}
			copying = false
			continue
		default:
		}
		mustExec(t, db, "BEGIN; "+r17Commit+"; COMMIT", "cdc")
		writes++
		time.Sleep(time.Millisecond)
	}
	mustExec(t, db, "INSERT INTO ctr VALUES (-99)") // the end marker
	per := map[string]int{}
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, err := s.Next(cctx)
		cancel()
		if err != nil {
			t.Fatalf("stream after %v: %v", per, err)
		}
		if c.Table == "ctr" && c.Op == changefeed.Insert {
			break
		}
		per[c.Table]++
	}
	if per["lg"] != writes || per["ctr"] != writes || per["t"] != writes || len(per) != 3 {
		t.Errorf("the stream during the copy: %v; want %d changes to each of lg, ctr, t", per, writes)
	}
	n := r17CheckCopy(t, out, base)
	t.Logf("%d writes during the copy, %d in it", writes, n)
	cp := openTestDSN(t, "file:"+filepath.ToSlash(out)+"?cdc=on")
	mustExec(t, cp, "INSERT INTO lg(note) VALUES ('in the copy')")
}

// TestReview17PlainVacuumBesideReader: plain VACUUM still takes the
// writer lock (refused beside a writer's transaction with no busy
// timeout), runs beside a reader holding a snapshot, which reads on
// unchanged, and leaves the database whole.
func TestReview17PlainVacuumBesideReader(t *testing.T) {
	db := openTestDB(t, "busy_timeout=0")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
	mustExec(t, db, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 3000) INSERT INTO t SELECT i, randomblob(500) FROM c")
	mustExec(t, db, "DELETE FROM t WHERE id % 2 = 0")
	ctx := context.Background()
	w, _ := db.Conn(ctx)
	defer w.Close()
	if _, err := w.ExecContext(ctx, "BEGIN IMMEDIATE; INSERT INTO t(v) VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("VACUUM"); !errors.Is(err, ErrBusy) {
		t.Errorf("VACUUM beside a writer's transaction, busy_timeout=0: %v; want ErrBusy", err)
	}
	w.ExecContext(ctx, "ROLLBACK")
	rows, err := db.Query("SELECT id FROM t ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for range 10 {
		rows.Next()
		var id int
		rows.Scan(&id)
		got = append(got, id)
	}
	if _, err := db.Exec("VACUUM"); err != nil {
		t.Errorf("VACUUM beside a reader: %v", err)
	}
	mustExec(t, db, "INSERT INTO t(id, v) VALUES (2, 'new')")
	for rows.Next() {
		var id int
		rows.Scan(&id)
		got = append(got, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if len(got) != 1500 || got[0] != 1 || got[1] != 3 || got[1499] != 2999 {
		t.Errorf("the reader across VACUUM: %d ids, %v...", len(got), got[:min(5, len(got))])
	}
	var n int
	db.QueryRow("SELECT count(*) FROM t").Scan(&n)
	if n != 1501 {
		t.Errorf("%d rows after; want 1501", n)
	}
}

// ---- Change B: Go SQL functions ----

func r17Double(calls *atomic.Int64) ScalarFunction {
	return func(ctx context.Context, args []driver.Value) (driver.Value, error) {
		if calls != nil {
			calls.Add(1)
		}
		n, _ := args[0].(int64)
		return n * 2, nil
	}
}

// TestReview17FunctionsNativeAndPool: a Connector's functions reach
// native connections (ConnectConn, OpenConn) and the pool package's
// connections, also after Reset.
func TestReview17FunctionsNativeAndPool(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "n.db")
	ctr, err := NewConnector("file:"+filepath.ToSlash(path), WithFunction("dbl", 1, r17Double(nil), Deterministic),
		WithCollation("rev", func(a, b string) int { return strings.Compare(b, a) }))
	if err != nil {
		t.Fatal(err)
	}
	defer ctr.Close()
	nc, err := ctr.ConnectConn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var n int64
	if err := nc.QueryRow(ctx, "SELECT dbl(21)").Scan(&n); err != nil || n != 42 {
		t.Errorf("ConnectConn: dbl(21) = %d, %v", n, err)
	}
	if _, err := nc.Exec(ctx, "CREATE TABLE t(x CHECK (dbl(x) < 100), g AS (dbl(x)) STORED); CREATE INDEX t_d ON t(dbl(x))"); err != nil {
		t.Fatal(err)
	}
	if err := nc.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Exec(ctx, "INSERT INTO t(x) VALUES (3)"); err != nil {
		t.Errorf("after Reset: %v", err)
	}
	oc, err := OpenConn(ctx, "file:"+filepath.ToSlash(path), WithFunction("dbl", 1, r17Double(nil), Deterministic))
	if err != nil {
		t.Fatal(err)
	}
	defer oc.Close()
	if _, err := oc.Exec(ctx, "INSERT INTO t(x) VALUES (4)"); err != nil {
		t.Errorf("OpenConn: %v", err)
	}
	// The pool package (which this package's tests cannot import) opens
	// its connections with Connector.ConnectConn (pool.go openConn) and
	// resets them with Conn.Reset: the same, three at once.
	var held []*Conn
	for i := range 3 {
		pc, err := ctr.ConnectConn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, pc)
		var g int64
		if err := pc.QueryRow(ctx, "SELECT g FROM t WHERE dbl(x) = 8 ORDER BY 'a' COLLATE rev").Scan(&g); err != nil || g != 8 {
			t.Errorf("pool conn %d: %d, %v", i, g, err)
		}
		if _, err := pc.Exec(ctx, "INSERT INTO t(x) VALUES (?)", 10+i); err != nil {
			t.Errorf("pool conn %d insert: %v", i, err)
		}
	}
	for _, pc := range held {
		pc.Close()
	}
	var ic string
	if err := oc.QueryRow(ctx, "PRAGMA integrity_check").Scan(&ic); err != nil || ic != "ok" {
		t.Errorf("integrity_check: %q, %v", ic, err)
	}
}

// TestReview17FunctionIntegrityCheckExprIndex: PRAGMA integrity_check of
// an index on dbl(x) calls the Go function: ok with the same function, a
// report (no crash, no "ok") when it computes otherwise, "no such
// function" (an error or a report) without it.
func TestReview17FunctionIntegrityCheckExprIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "i.db")
	var calls atomic.Int64
	db := openTestDSN(t, "file:"+filepath.ToSlash(path), WithFunction("dbl", 1, r17Double(&calls), Deterministic))
	mustExec(t, db, "CREATE TABLE t(x); CREATE INDEX t_d ON t(dbl(x)) WHERE dbl(x) > 10")
	mustExec(t, db, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 500) INSERT INTO t SELECT i FROM c")
	calls.Store(0)
	if ic := r17Integrity(db); ic != "ok" {
		t.Errorf("integrity_check: %s", ic)
	}
	if calls.Load() == 0 {
		t.Errorf("integrity_check did not call dbl")
	}
	triple := func(ctx context.Context, args []driver.Value) (driver.Value, error) {
		n, _ := args[0].(int64)
		return n * 3, nil
	}
	other, err := Open("file:"+filepath.ToSlash(path), WithFunction("dbl", 1, triple, Deterministic))
	if err != nil {
		t.Fatal(err)
	}
	if ic := r17Integrity(other); ic == "ok" {
		t.Errorf("integrity_check with another dbl: ok; want a report of the index")
	}
	other.Close()
	failing := func(ctx context.Context, args []driver.Value) (driver.Value, error) {
		return nil, errors.New("dbl refuses")
	}
	other, err = Open("file:"+filepath.ToSlash(path), WithFunction("dbl", 1, failing, Deterministic))
	if err != nil {
		t.Fatal(err)
	}
	ic := r17Integrity(other)
	other.Close()
	if ic == "ok" {
		t.Errorf("integrity_check with a failing dbl: ok")
	}
	t.Logf("failing dbl: %.200s", ic)
	none, err := Open("file:" + filepath.ToSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	ic = r17Integrity(none)
	none.Close()
	if ic == "ok" {
		t.Errorf("integrity_check without dbl: ok")
	}
	t.Logf("without dbl: %.200s", ic)
}

// TestReview17FunctionInConcurrentRebase: a BEGIN CONCURRENT transaction
// on a table whose CHECK and generated column call a Go function, in a
// schema with a foreign-key action, is rebased with
// sqlite3changeset_apply: the commit succeeds and the stored column is the
// function's.
func TestReview17FunctionInConcurrentRebase(t *testing.T) {
	var calls atomic.Int64
	chk := func(ctx context.Context, args []driver.Value) (driver.Value, error) {
		n, _ := args[0].(int64)
		return n >= 0, nil
	}
	db := openTestDB(t, "sync=off&foreign_keys=true", WithFunction("dbl", 1, r17Double(&calls), Deterministic), WithFunction("nonneg", 1, chk, Deterministic))
	mustExec(t, db, "CREATE TABLE p(id INTEGER PRIMARY KEY); CREATE TABLE c(id INTEGER PRIMARY KEY, pid REFERENCES p(id) ON DELETE CASCADE)")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, x INT CHECK (nonneg(x)), g AS (dbl(x)) STORED, pad BLOB); CREATE INDEX t_g ON t(dbl(x)); CREATE TABLE other(b)")
	mustExec(t, db, "INSERT INTO p VALUES (1); INSERT INTO c VALUES (1, 1)")
	ctx := context.Background()
	c1, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	before := r14Stats(t, db)
	if _, err := c1.ExecContext(ctx, "BEGIN CONCURRENT"); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.ExecContext(ctx, "INSERT INTO t(id, x, pad) VALUES (1, 21, zeroblob(50000)), (2, 5, NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.ExecContext(ctx, "DELETE FROM p WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "INSERT INTO other VALUES (zeroblob(50000))")
	calls.Store(0)
	if _, err := c1.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatalf("COMMIT: %v", err)
	}
	t.Logf("dbl called %d times by the COMMIT", calls.Load())
	after := r14Stats(t, db)
	if r14Num(after, "rebased_changeset") <= r14Num(before, "rebased_changeset") {
		t.Logf("stats: %s", after)
		t.Errorf("not rebased with sqlite3changeset_apply")
	}
	rows, err := db.Query("SELECT id, g, dbl(x) FROM t ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var id, g, d int64
		rows.Scan(&id, &g, &d)
		got = append(got, fmt.Sprint(id, ":", g, "/", d))
	}
	if strings.Join(got, " ") != "1:42/42 2:10/10" {
		t.Errorf("rows after the rebase: %v", got)
	}
	var nc int
	db.QueryRow("SELECT count(*) FROM c").Scan(&nc)
	if nc != 0 {
		t.Errorf("c has %d rows; want 0 (cascade)", nc)
	}
}

// TestReview17FunctionWhileDBCloses: a scalar function returns its value
// while another goroutine closes the *sql.DB: the query still gets the
// value (database/sql closes a busy connection when it is released), and
// the database reopens whole.
func TestReview17FunctionWhileDBCloses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	entered, release := make(chan struct{}), make(chan struct{})
	slow := func(ctx context.Context, args []driver.Value) (driver.Value, error) {
		if args[0] == int64(1) {
			close(entered)
			<-release
		}
		return "v" + fmt.Sprint(args[0]), nil
	}
	db, err := Open("file:"+filepath.ToSlash(path)+"?cdc=on", WithFunction("slow", 1, slow))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE t(x); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	res := make(chan error, 1)
	go func() {
		_, err := db.Exec("INSERT INTO t SELECT slow(x) FROM t")
		res <- err
	}()
	<-entered
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	time.Sleep(30 * time.Millisecond)
	close(release)
	if err := <-res; err != nil {
		t.Errorf("the statement whose function returned while the DB closed: %v", err)
	}
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
	db2 := openTestDSN(t, "file:"+filepath.ToSlash(path)+"?cdc=on")
	var n int
	if err := db2.QueryRow("SELECT count(*) FROM t WHERE x = 'v1'").Scan(&n); err != nil || n != 1 {
		t.Errorf("after reopening: %d, %v", n, err)
	}
}

// TestReview17FunctionRecursionAcrossConnections: f(n) runs "SELECT
// f(n-1)" on another connection of the same DB, 40 deep (40 connections
// each inside a Go function called by SQLite), and a write at the bottom.
func TestReview17FunctionRecursionAcrossConnections(t *testing.T) {
	depth := int64(200)
	if d := os.Getenv("R17_DEPTH"); d != "" {
		fmt.Sscan(d, &depth)
	}
	var db *sql.DB
	var maxDepth atomic.Int64
	f := func(ctx context.Context, args []driver.Value) (driver.Value, error) {
		n := args[0].(int64)
		maxDepth.Store(max(maxDepth.Load(), depth-n))
		if n == 0 {
			if _, err := db.ExecContext(ctx, "INSERT INTO t VALUES (0)"); err != nil {
				return nil, err
			}
			return int64(0), nil
		}
		var r int64
		if err := db.QueryRowContext(ctx, "SELECT f(?) + 1", n-1).Scan(&r); err != nil {
			return nil, err
		}
		return r, nil
	}
	db = openTestDB(t, "busy_timeout=2000", WithFunction("f", 1, f))
	mustExec(t, db, "CREATE TABLE t(x)")
	var r int64
	start := time.Now()
	if err := db.QueryRow("SELECT f(?)", depth).Scan(&r); err != nil || r != depth {
		t.Fatalf("f(%d) = %d, %v", depth, r, err)
	}
	t.Logf("depth %d: %v, %d connections open", maxDepth.Load(), time.Since(start), db.Stats().OpenConnections)
	// The error of the innermost call reaches the outermost caller.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mustExec(t, db, "BEGIN IMMEDIATE; INSERT INTO t VALUES (1); COMMIT")
	db.SetMaxOpenConns(10)
	tctx, tcancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer tcancel()
	err := db.QueryRowContext(tctx, "SELECT f(?)", depth).Scan(&r)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("f(%d) with 10 connections at most: %d, %v; want the context's deadline", depth, r, err)
	}
	t.Logf("with 10 connections: %v", err)
}

// TestReview17FunctionErrorStrings: errors whose text is empty, 1 MB, or
// holds a NUL fail the statement with the error as the cause.
func TestReview17FunctionErrorStrings(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	errs := map[string]error{
		"empty": errors.New(""),
		"big":   errors.New(big),
		"nul":   errors.New("before\x00after"),
		"nil":   (*r17Err)(nil),
	}
	fail := func(ctx context.Context, args []driver.Value) (driver.Value, error) {
		return nil, errs[args[0].(string)]
	}
	db := openTestDB(t, "", WithFunction("fail", 1, fail),
		WithAggregate("afail", 1, func() *r17Agg { return &r17Agg{errs: errs} }))
	mustExec(t, db, "CREATE TABLE t(x); INSERT INTO t VALUES (1)")
	for _, name := range []string{"empty", "big", "nul", "nil"} {
		for _, q := range []string{"SELECT fail(?)", "SELECT afail(?) FROM t", "INSERT INTO t VALUES (fail(?))"} {
			var v any
			err := db.QueryRow(q, name).Scan(&v)
			if err == nil {
				t.Errorf("%s %q: no error", name, q)
				continue
			}
			var le *Error
			if !errors.As(err, &le) || le.Code() != ERROR {
				t.Errorf("%s %q: %T %.100v; want an *Error of SQLITE_ERROR", name, q, err, err)
			}
			if !errors.Is(err, errs[name]) {
				t.Errorf("%s %q: %.100v does not wrap the function's error", name, q, err)
			}
			if name == "big" && !strings.Contains(err.Error(), big) {
				t.Errorf("big %q: the message is %d bytes", q, len(err.Error()))
			}
			if name == "nul" && !strings.Contains(err.Error(), "before") {
				t.Errorf("nul %q: %q", q, err.Error())
			}
		}
	}
	var n int
	db.QueryRow("SELECT count(*) FROM t").Scan(&n)
	if n != 1 {
		t.Errorf("%d rows; want 1", n)
	}
}

type r17Err struct{}

func (*r17Err) Error() string { return "" }

type r17Agg struct{ errs map[string]error }

func (a *r17Agg) Step(ctx context.Context, args []driver.Value) error {
	return a.errs[args[0].(string)]
}
func (a *r17Agg) Final(ctx context.Context) (driver.Value, error) { return nil, nil }
