package libsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// r11Key describes a change: table, operation, rowid (or primary key of a
// WITHOUT ROWID table).
func r11Key(ch Change) string {
	if ch.PK != nil {
		return fmt.Sprintf("%s %s %v", ch.Table, ch.Op, ch.PK)
	}
	return fmt.Sprintf("%s %s %d", ch.Table, ch.Op, ch.RowID)
}

// r11Full describes a change with its values and whether it is indirect.
func r11Full(ch Change) string {
	return fmt.Sprintf("%s old=%v new=%v indirect=%v", r11Key(ch), ch.Old, ch.New, ch.Indirect)
}

var r11MarkSeq atomic.Int64

// r11Drain inserts a marker row into table mk through db and returns every
// change s delivers before the marker's insert.
func r11Drain(t *testing.T, s *ChangeStream, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}) []Change {
	t.Helper()
	id := r11MarkSeq.Add(1)
	if _, err := db.ExecContext(context.Background(), "INSERT INTO mk(id) VALUES (?)", id); err != nil {
		t.Fatalf("marker: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []Change
	for {
		ch, err := s.Next(ctx)
		if err != nil {
			ks := r11Keys(out)
			t.Fatalf("waiting for marker %d after %d changes %v: %v", id, len(out), ks[:min(len(ks), 20)], err)
		}
		if ch.Table == "mk" && ch.Op.String() == "insert" && ch.RowID == id {
			return out
		}
		out = append(out, ch)
	}
}

func r11Keys(chs []Change) []string {
	var ks []string
	for _, ch := range chs {
		ks = append(ks, r11Key(ch))
	}
	return ks
}

// r11Expect fails unless chs is exactly the multiset want.
func r11Expect(t *testing.T, what string, chs []Change, want ...string) {
	t.Helper()
	got := r11Keys(chs)
	slices.Sort(got)
	w := slices.Clone(want)
	slices.Sort(w)
	if !slices.Equal(got, w) {
		t.Errorf("%s: changes\n got  %q\n want %q", what, got, w)
	}
}

func r11Rows(table, op string, ids ...int) []string {
	var out []string
	for _, id := range ids {
		out = append(out, fmt.Sprintf("%s %s %d", table, op, id))
	}
	return out
}

// r11AllDeleted lists the changes of deleting every row of r11Fill's t
// and w, and more.
func r11AllDeleted(more ...string) []string {
	return append(append(r11Rows("t", "delete", 1, 2, 3, 4, 5), "w delete [k1]", "w delete [k2]", "w delete [k3]"), more...)
}

// r11ExecWhileCapture runs q on c while it waits for the writer lock
// behind the capture's start (captureWhileWaiting), fails the test if q
// fails, and returns the stream.
func r11ExecWhileCapture(t *testing.T, db *sql.DB, c *sql.Conn, q string, holderSQL ...string) *ChangeStream {
	t.Helper()
	s, err := captureWhileWaiting(t, db, func() error {
		_, err := c.ExecContext(context.Background(), q)
		return err
	}, holderSQL...)
	if err != nil {
		t.Fatalf("%s, waiting while the capture started: %v", q, err)
	}
	return s
}

// r11Stream opens a change stream on db, closed when the test ends.
func r11Stream(t *testing.T, db *sql.DB) *ChangeStream {
	t.Helper()
	s, err := Changes(context.Background(), db, ChangeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// r11Prepare prepares q on p, closed when the test ends.
func r11Prepare(t *testing.T, p interface {
	PrepareContext(context.Context, string) (*sql.Stmt, error)
}, q string) *sql.Stmt {
	t.Helper()
	st, err := p.PrepareContext(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func r11Seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// r11Schema is the schema of the statement-shape tests: every table filled
// with a few rows.
const r11Schema = `
CREATE TABLE mk(id INTEGER PRIMARY KEY);
CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
CREATE TABLE r(id INTEGER PRIMARY KEY, v TEXT UNIQUE);
CREATE TABLE u(id INTEGER PRIMARY KEY, v TEXT);
CREATE TABLE parent(id INTEGER PRIMARY KEY);
CREATE TABLE child(id INTEGER PRIMARY KEY, pid INTEGER REFERENCES parent(id) ON DELETE CASCADE);
CREATE TABLE tg(id INTEGER PRIMARY KEY, v TEXT);
CREATE TABLE lg(id INTEGER PRIMARY KEY, x INTEGER);
CREATE TRIGGER tg_d AFTER DELETE ON tg BEGIN INSERT INTO lg(x) VALUES (old.id); END;
CREATE TABLE w(k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID;
CREATE TABLE src(id INTEGER PRIMARY KEY, v TEXT);
CREATE TABLE dst(id INTEGER PRIMARY KEY, v TEXT);
CREATE TABLE s1(id INTEGER PRIMARY KEY, v TEXT);
CREATE TABLE s2(id INTEGER PRIMARY KEY, v TEXT);
`

const r11Fill = `
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i<5)
  INSERT INTO t SELECT i, 'x'||i FROM s;
INSERT INTO r VALUES (1,'v1'),(2,'v2'),(3,'v3');
INSERT INTO u VALUES (1,'u1'),(2,'u2');
INSERT INTO parent VALUES (1),(2);
INSERT INTO child VALUES (10,1),(11,1),(12,2);
INSERT INTO tg VALUES (1,'a'),(2,'b'),(3,'c');
INSERT INTO w VALUES ('k1','a'),('k2','b'),('k3','c');
INSERT INTO src VALUES (1,'s1'),(2,'s2');
INSERT INTO s1 VALUES (1,'a'),(2,'b');
INSERT INTO s2 VALUES (1,'a');
`

// r11Stmts are the statements of the statement-shape tests, run one after
// the other on the same data.
var r11Stmts = []string{
	"DELETE FROM t",
	"REPLACE INTO r(id, v) VALUES (2, 'new2')",
	"INSERT OR REPLACE INTO r(id, v) VALUES (9, 'v1')",
	"INSERT INTO u(id, v) VALUES (1, 'up') ON CONFLICT(id) DO UPDATE SET v = excluded.v",
	"INSERT INTO u(id, v) VALUES (3, 'u3') ON CONFLICT(id) DO UPDATE SET v = excluded.v",
	"UPDATE u SET v = v || '!'",
	"DELETE FROM parent",
	"DELETE FROM tg",
	"DELETE FROM w",
	"INSERT INTO dst SELECT * FROM src",
	"DELETE FROM lg",
}

// r11StmtsExpected is what r11Stmts change, by key.
func r11StmtsExpected() []string {
	var want []string
	want = append(want, r11Rows("t", "delete", 1, 2, 3, 4, 5)...)
	// REPLACE on the rowid: SQLite reports the replaced row's delete and
	// the insert (or an update, if it reports it that way): checked by the
	// differential test; here only the deletes that must be there.
	return want
}

func r11OpenShape(t *testing.T, query string) *sql.DB {
	t.Helper()
	db := openTestDB(t, query)
	mustExec(t, db, r11Schema)
	mustExec(t, db, r11Fill)
	return db
}

// r11RunShape runs r11Stmts through run, then a RETURNING insert and a
// script of two statements through c.
func r11RunShape(t *testing.T, c *sql.Conn, run func(i int, q string)) {
	t.Helper()
	ctx := context.Background()
	for i, q := range r11Stmts {
		run(i, q)
	}
	rows, err := c.QueryContext(ctx, "INSERT INTO t(id, v) VALUES (100, 'ret') RETURNING id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	cexec(t, c, "DELETE FROM s1; DELETE FROM s2")
}

// TestReview11PreparedBeforeStreamDifferential checks that statements
// compiled (prepared with Conn.PrepareContext, or cached by the driver)
// before any stream was opened, and run after it was, report exactly what
// the same statements compiled after the stream's start report: DELETE
// without WHERE, REPLACE over a rowid and over a UNIQUE conflict, UPSERT,
// UPDATE, FK cascade, trigger, WITHOUT ROWID, INSERT ... SELECT transfer,
// RETURNING, and a two-statement script.
func TestReview11PreparedBeforeStreamDifferential(t *testing.T) {
	ctx := context.Background()
	var lists [2][]Change
	for mode := range 2 { // 0: stream first; 1: statements compiled first
		db := r11OpenShape(t, "foreign_keys=true")
		c := dbConn(t, db)
		var stmts []*sql.Stmt
		var s *ChangeStream
		var err error
		if mode == 0 {
			if s, err = Changes(ctx, db, ChangeOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		for _, q := range r11Stmts {
			st, err := c.PrepareContext(ctx, q)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			defer st.Close()
			stmts = append(stmts, st)
		}
		// Warm the driver's statement cache too, with the script's and
		// RETURNING's statements compiled on empty work.
		cexec(t, c, "DELETE FROM s1 WHERE id < 0; DELETE FROM s2 WHERE id < 0")
		if mode == 1 {
			if s, err = Changes(ctx, db, ChangeOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		r11RunShape(t, c, func(i int, q string) {
			if _, err := stmts[i].ExecContext(ctx); err != nil {
				t.Fatalf("mode %d: %s: %v", mode, q, err)
			}
		})
		lists[mode] = r11Drain(t, s, c)
		s.Close()
		for _, tb := range []string{"t", "child", "tg", "w", "s1", "s2"} {
			want := 0
			if tb == "t" {
				want = 1
			}
			if n := count(t, c, "SELECT count(*) FROM "+tb); n != want {
				t.Errorf("mode %d: %s has %d rows, want %d", mode, tb, n, want)
			}
		}
	}
	var a, b []string
	for _, ch := range lists[0] {
		a = append(a, r11Full(ch))
	}
	for _, ch := range lists[1] {
		b = append(b, r11Full(ch))
	}
	if !slices.Equal(a, b) {
		t.Errorf("changes differ:\n stream first:   %q\n compiled first: %q", a, b)
	}
	// And the absolute expectations for the statements whose code depends
	// on the hook.
	for mode, l := range lists {
		var deletes []Change
		for _, ch := range l {
			if ch.Op.String() == "delete" && (ch.Table == "t" || ch.Table == "w" || ch.Table == "s1" || ch.Table == "s2" || ch.Table == "tg" || ch.Table == "child" || ch.Table == "parent") {
				deletes = append(deletes, ch)
			}
		}
		want := r11StmtsExpected()
		want = append(want, "w delete [k1]", "w delete [k2]", "w delete [k3]")
		want = append(want, r11Rows("s1", "delete", 1, 2)...)
		want = append(want, r11Rows("s2", "delete", 1)...)
		want = append(want, r11Rows("tg", "delete", 1, 2, 3)...)
		want = append(want, r11Rows("parent", "delete", 1, 2)...)
		want = append(want, r11Rows("child", "delete", 10, 11, 12)...)
		r11Expect(t, fmt.Sprintf("mode %d deletes", mode), deletes, want...)
	}
}

// TestReview11TxBegunBeforeStream checks a transaction begun (BEGIN, and
// BeginTx with tx.Prepare) and read from before the stream opens, with
// statements compiled before, then writing after it opened: all its row
// changes are in the stream.
func TestReview11TxBegunBeforeStream(t *testing.T) {
	ctx := context.Background()
	t.Run("BEGIN", func(t *testing.T) {
		db := r11OpenShape(t, "")
		c := dbConn(t, db)
		del := r11Prepare(t, c, "DELETE FROM t")
		cexec(t, c, "BEGIN")
		if n := count(t, c, "SELECT count(*) FROM t"); n != 5 {
			t.Fatalf("%d rows", n)
		}
		s := r11Stream(t, db)
		if _, err := del.ExecContext(ctx); err != nil {
			t.Fatal(err)
		}
		cexec(t, c, "DELETE FROM w")
		cexec(t, c, "COMMIT")
		want := r11AllDeleted()
		r11Expect(t, "BEGIN", r11Drain(t, s, db), want...)
	})
	t.Run("BeginTx", func(t *testing.T) {
		db := r11OpenShape(t, "")
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		del, err := tx.PrepareContext(ctx, "DELETE FROM t")
		if err != nil {
			t.Fatal(err)
		}
		if n := count(t, tx, "SELECT count(*) FROM w"); n != 3 {
			t.Fatalf("%d rows", n)
		}
		s := r11Stream(t, db)
		if _, err := del.ExecContext(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, "REPLACE INTO r(id, v) VALUES (4, 'v2')"); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		want := append(r11Rows("t", "delete", 1, 2, 3, 4, 5), "r delete 2", "r insert 4")
		r11Expect(t, "BeginTx", r11Drain(t, s, db), want...)
	})
}

// TestReview11StreamFromOtherDB checks a stream opened through a second
// *sql.DB of the same file: the first DB's connection, whose statements
// were compiled before, reports every row it deletes.
func TestReview11StreamFromOtherDB(t *testing.T) {
	ctx := context.Background()
	dsn := "file:" + filepath.ToSlash(filepath.Join(t.TempDir(), "x.db"))
	db1 := openTestDSN(t, dsn)
	mustExec(t, db1, r11Schema)
	mustExec(t, db1, r11Fill)
	c := dbConn(t, db1)
	del := r11Prepare(t, c, "DELETE FROM t")
	cexec(t, c, "DELETE FROM w WHERE k = 'none'")
	db2 := openTestDSN(t, dsn)
	s := r11Stream(t, db2)
	if _, err := del.ExecContext(ctx); err != nil {
		t.Fatal(err)
	}
	cexec(t, c, "DELETE FROM w")
	want := r11AllDeleted()
	r11Expect(t, "other DB", r11Drain(t, s, db1), want...)
}

// TestReview11CDCOnFromStart checks cdc=on: a statement prepared on a
// fresh connection, before it ran anything, deletes row by row, and the
// stream (opened before) lists every row.
func TestReview11CDCOnFromStart(t *testing.T) {
	ctx := context.Background()
	db := r11OpenShape(t, "cdc=on")
	s := r11Stream(t, db)
	db.SetMaxIdleConns(0) // a fresh connection below
	db.SetMaxIdleConns(4)
	c := dbConn(t, db)
	del := r11Prepare(t, c, "DELETE FROM t")
	if _, err := del.ExecContext(ctx); err != nil {
		t.Fatal(err)
	}
	cexec(t, c, "DELETE FROM w")
	want := r11AllDeleted()
	r11Expect(t, "cdc=on", r11Drain(t, s, db), want...)
}

// TestReview11OpenRowsAcrossHookInstall checks a query whose rows are being
// read in a transaction when a write of the same transaction installs the
// hook (expiring every statement of the connection): the query goes on to
// return all its rows, and the write is in the stream.
func TestReview11OpenRowsAcrossHookInstall(t *testing.T) {
	ctx := context.Background()
	db := r11OpenShape(t, "")
	mustExec(t, db, "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i<300) INSERT INTO src SELECT i+10, 'y' FROM s")
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, "SELECT id FROM src ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for n < 3 && rows.Next() {
		n++
	}
	s := r11Stream(t, db)
	if _, err := tx.ExecContext(ctx, "DELETE FROM t"); err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("rows after the hook's install: %v", err)
	}
	rows.Close()
	if n != 302 {
		t.Errorf("query returned %d rows, want 302", n)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	r11Expect(t, "delete in tx", r11Drain(t, s, db), r11Rows("t", "delete", 1, 2, 3, 4, 5)...)
}

// TestReview11WaitingWriteInExplicitTx checks the File.Lock path inside an
// explicit transaction that read first: its write, compiled without the
// hook and waiting for the writer lock while the capture starts, compiles
// again and reports every row; the transaction commits everything.
func TestReview11WaitingWriteInExplicitTx(t *testing.T) {
	db := r11OpenShape(t, "")
	c := dbConn(t, db)
	cexec(t, c, "INSERT INTO u VALUES (50, 'before')")
	cexec(t, c, "BEGIN")
	if n := count(t, c, "SELECT count(*) FROM w"); n != 3 {
		t.Fatalf("%d", n)
	}
	s := r11ExecWhileCapture(t, db, c, "DELETE FROM w")
	cexec(t, c, "DELETE FROM t")
	cexec(t, c, "COMMIT")
	want := r11AllDeleted()
	r11Expect(t, "explicit tx", r11Drain(t, s, db), want...)
}

// TestReview11RetriedWriteErrorMessage checks the error of a write the
// File.Lock path made compile again and that then fails on its own (a
// UNIQUE constraint): it is that constraint error, with no word of the
// internal recompile. It failed while File.Lock's SCHEMA refusal was kept
// as the file's last error (File.fail), which conn.mapErr attached to the
// later, unrelated error; the refusal no longer sets it.
func TestReview11RetriedWriteErrorMessage(t *testing.T) {
	ctx := context.Background()
	db := r11OpenShape(t, "")
	c := dbConn(t, db)
	cexec(t, c, "INSERT INTO r VALUES (7, 'v7') ON CONFLICT DO NOTHING") // cached
	_, err := captureWhileWaiting(t, db, func() error {
		_, err := c.ExecContext(ctx, "INSERT INTO r VALUES (8, 'v1')")
		return err
	})
	if err == nil {
		t.Fatal("duplicate insert succeeded")
	}
	if !errors.Is(err, ErrConstraint) {
		t.Errorf("error %v (%T), want a constraint error", err, err)
	}
	if strings.Contains(err.Error(), "pre-update hook") || strings.Contains(err.Error(), "compile it again") {
		t.Errorf("constraint error carries the internal recompile's refusal: %q", err.Error())
	}
}

// TestReview11ConcurrentRebaseCachedStmts checks BEGIN CONCURRENT
// transactions on a connection whose statements were compiled before
// (prepared, and cached), while no stream captures and while one does:
// their commit is rebased over another connection's commit (which grew the
// database), and every row change is replayed: DELETE without WHERE empties
// the table, a REPLACE deletes its conflicting row, and the stream holds
// each change once.
func TestReview11ConcurrentRebaseCachedStmts(t *testing.T) {
	ctx := context.Background()
	for _, capture := range []bool{false, true} {
		t.Run(fmt.Sprintf("capture=%v", capture), func(t *testing.T) {
			db := concurrentDB(t, "")
			mustExec(t, db, "CREATE TABLE mk(id INTEGER PRIMARY KEY)")
			mustExec(t, db, "CREATE TABLE q(id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
			mustExec(t, db, "WITH RECURSIVE s(i) AS (SELECT 3 UNION ALL SELECT i+1 FROM s WHERE i<40) INSERT INTO a SELECT i, printf('%0600d', i) FROM s")
			mustExec(t, db, "INSERT INTO q VALUES (1,'q1'),(2,'q2')")
			c1, c2 := dbConn(t, db), dbConn(t, db)
			del := r11Prepare(t, c1, "DELETE FROM a")
			cexec(t, c1, "REPLACE INTO q(id, v) VALUES (1, 'q1')")                                             // cached: REPLACE over a UNIQUE conflict
			cexec(t, c1, "DELETE FROM b WHERE id < 0")                                                         // cached
			cexec(t, c1, "INSERT INTO q(id, v) VALUES (2, 'q2') ON CONFLICT(id) DO UPDATE SET v = excluded.v") // cached
			var s *ChangeStream
			if capture {
				s = r11Stream(t, db)
			}
			before := r11Rebased(t, db)
			cexec(t, c1, "BEGIN CONCURRENT")
			if _, err := del.ExecContext(ctx); err != nil {
				t.Fatal(err)
			}
			cexec(t, c1, "REPLACE INTO q(id, v) VALUES (5, 'q1')")
			cexec(t, c1, "INSERT INTO q(id, v) VALUES (2, 'q2b') ON CONFLICT(id) DO UPDATE SET v = excluded.v")
			// Another connection commits in between, on another table,
			// growing the database: the commit is replayed.
			cexec(t, c2, "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i<200) INSERT INTO b(v) SELECT printf('%0500d', i) FROM s")
			cexec(t, c1, "COMMIT")
			if r := r11Rebased(t, db); r <= before {
				m, _ := bigStats(db)
				t.Errorf("test precondition: commit not rebased (rebased %d -> %d): %v", before, r, m["concurrent"])
			}
			if n := count(t, db, "SELECT count(*) FROM a"); n != 0 {
				t.Errorf("a has %d rows after the concurrent DELETE FROM a, want 0", n)
			}
			if n := count(t, db, "SELECT count(*) FROM q"); n != 2 {
				t.Errorf("q has %d rows, want 2 (1 replaced by 5, 2 updated)", n)
			}
			if n := count(t, db, "SELECT count(*) FROM q WHERE (id=5 AND v='q1') OR (id=2 AND v='q2b')"); n != 2 {
				t.Errorf("q rows wrong")
			}
			if n := count(t, db, "SELECT count(*) FROM b"); n != 202 {
				t.Errorf("b has %d rows, want 202", n)
			}
			if capture {
				chs := r11Drain(t, s, db)
				var mine []Change
				for _, ch := range chs {
					if ch.Table != "b" {
						mine = append(mine, ch)
					}
				}
				want := append(r11Rows("a", "delete", r11Seq(1, 40)...), "q delete 1", "q insert 5", "q update 2")
				r11Expect(t, "concurrent tx", mine, want...)
			}
		})
	}
}

func r11Rebased(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	m, err := bigStats(db)
	if err != nil {
		t.Fatal(err)
	}
	cs, _ := m["concurrent"].(map[string]any)
	return bigStatInt(cs, "rebased") + bigStatInt(cs, "rebased_changeset")
}

// TestReview11ConcurrentStreamChurn checks, under -race, connections
// deleting every row of their own table with a statement prepared before
// any capture, in a loop, while another goroutine opens and closes streams
// repeatedly: every row insert a stream reports has its delete reported
// afterwards (a DELETE that cleared the table without reporting its rows
// would leave inserts without deletes).
func TestReview11ConcurrentStreamChurn(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t, "")
	const workers = 3
	mustExec(t, db, "CREATE TABLE mk(id INTEGER PRIMARY KEY)")
	for k := range workers {
		mustExec(t, db, fmt.Sprintf("CREATE TABLE w%d(id INTEGER PRIMARY KEY, v TEXT)", k))
	}
	type worker struct {
		c        *sql.Conn
		ins, del *sql.Stmt
	}
	ws := make([]worker, workers)
	for k := range ws {
		c := dbConn(t, db)
		ins, err := c.PrepareContext(ctx, fmt.Sprintf("INSERT INTO w%d(id, v) VALUES (?, 'v'), (?+1, 'v'), (?+2, 'v')", k))
		if err != nil {
			t.Fatal(err)
		}
		del, err := c.PrepareContext(ctx, fmt.Sprintf("DELETE FROM w%d", k))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ins.Close(); del.Close() })
		ws[k] = worker{c, ins, del}
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, workers+1)
	for k := range ws {
		wg.Add(1)
		go func(w worker) {
			defer wg.Done()
			id := 1
			for !stop.Load() {
				if _, err := w.ins.ExecContext(ctx, id, id, id); err != nil {
					errs <- err
					return
				}
				id += 3
				if _, err := w.del.ExecContext(ctx); err != nil {
					errs <- err
					return
				}
			}
		}(ws[k])
	}
	// Open the long stream at a random moment, read it as it goes, then
	// churn others.
	time.Sleep(time.Duration(rand.Intn(20)) * time.Millisecond)
	s := r11Stream(t, db)
	const markID = 1 << 40
	var chs []Change
	read := make(chan error, 1)
	go func() {
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		for {
			ch, err := s.Next(rctx)
			if err != nil {
				read <- err
				return
			}
			if ch.Table == "mk" && ch.RowID == markID {
				read <- nil
				return
			}
			chs = append(chs, ch)
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 20 && !stop.Load(); i++ {
			s2, err := Changes(ctx, db, ChangeOptions{})
			if err != nil {
				errs <- err
				return
			}
			time.Sleep(time.Millisecond)
			s2.Close()
		}
	}()
	time.Sleep(200 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	mustExec(t, db, "INSERT INTO mk(id) VALUES (?)", markID)
	if err := <-read; err != nil {
		t.Fatalf("reading the stream: %v", err)
	}
	live := map[string]bool{}
	for _, ch := range chs {
		k := fmt.Sprintf("%s %d", ch.Table, ch.RowID)
		switch ch.Op.String() {
		case "insert":
			live[k] = true
		case "delete":
			delete(live, k)
		}
	}
	for k := range workers {
		if n := count(t, db, fmt.Sprintf("SELECT count(*) FROM w%d", k)); n != 0 {
			t.Fatalf("w%d has %d rows", k, n)
		}
	}
	if len(live) != 0 {
		keys := make([]string, 0, len(live))
		for k := range live {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		t.Errorf("%d inserted rows (of %d changes) never reported deleted: %v", len(live), len(chs), keys[:min(10, len(keys))])
	}
	if len(chs) == 0 {
		t.Errorf("no changes captured")
	}
}

// TestReview11WaitingBeginImmediate checks a BEGIN IMMEDIATE that waits for
// the writer lock while the capture starts (behind a holder that commits a
// row), followed by statements compiled before: every row they delete,
// the holder's included, is in the stream.
func TestReview11WaitingBeginImmediate(t *testing.T) {
	ctx := context.Background()
	db := r11OpenShape(t, "")
	c := dbConn(t, db)
	del := r11Prepare(t, c, "DELETE FROM t")
	cexec(t, c, "DELETE FROM w WHERE k = 'none'")
	cexec(t, c, "DELETE FROM w")
	cexec(t, c, "INSERT INTO w VALUES ('k1','a'),('k2','b'),('k3','c')")
	s := r11ExecWhileCapture(t, db, c, "BEGIN IMMEDIATE", "INSERT INTO w VALUES ('k9', 'holder')")
	if _, err := del.ExecContext(ctx); err != nil {
		t.Fatal(err)
	}
	cexec(t, c, "DELETE FROM w")
	cexec(t, c, "COMMIT")
	want := r11AllDeleted("w delete [k9]")
	r11Expect(t, "after BEGIN IMMEDIATE", r11Drain(t, s, db), want...)
}

// TestReview11WaitingScript checks a two-statement script whose first
// statement waits for the writer lock while the capture starts, both
// compiled before (cached): every row both delete is in the stream.
func TestReview11WaitingScript(t *testing.T) {
	db := r11OpenShape(t, "")
	c := dbConn(t, db)
	cexec(t, c, "DELETE FROM s1 WHERE id < 0; DELETE FROM s2 WHERE id < 0")
	s := r11ExecWhileCapture(t, db, c, "DELETE FROM w; DELETE FROM t")
	want := r11AllDeleted()
	r11Expect(t, "script", r11Drain(t, s, db), want...)
}

// TestReview11WaitingQuery checks a write run with QueryContext (no rows)
// that waits for the writer lock while the capture starts: its deletes are
// in the stream.
func TestReview11WaitingQuery(t *testing.T) {
	ctx := context.Background()
	db := r11OpenShape(t, "")
	c := dbConn(t, db)
	s, err := captureWhileWaiting(t, db, func() error {
		rows, err := c.QueryContext(ctx, "DELETE FROM w")
		if err != nil {
			return err
		}
		for rows.Next() {
		}
		return errors.Join(rows.Err(), rows.Close())
	})
	if err != nil {
		t.Fatalf("query waiting while the capture started: %v", err)
	}
	r11Expect(t, "query", r11Drain(t, s, db), "w delete [k1]", "w delete [k2]", "w delete [k3]")
}

// TestReview11WaitingCreateTableAs checks CREATE TABLE ... AS SELECT that
// waits for the writer lock while the capture starts: the rows it fills the
// new table with are in the stream, as they are when the capture is on
// before it starts. It failed (before the lazy hook too): conn.run decided
// whether to capture the created rows before the statement's first step,
// so a capture that started while it waited was not seen. The decision is
// now taken after the statement ran, under the writer lock
// (conn.capturesCreated), and an autocommit CREATE TABLE runs in a
// transaction of its own, so that the rows are captured before it commits.
func TestReview11WaitingCreateTableAs(t *testing.T) {
	db := r11OpenShape(t, "")
	c := dbConn(t, db)
	s := r11ExecWhileCapture(t, db, c, "CREATE TABLE made AS SELECT id, v FROM src")
	r11Expect(t, "CTAS", r11Drain(t, s, db), r11Rows("made", "insert", 1, 2)...)
}

// TestReview11WaitingWriteInSavepoint checks the File.Lock path inside a
// SAVEPOINT transaction: the waiting DELETE (compiled before) is retried,
// its changes are dropped by ROLLBACK TO, and only the later DELETE's rows
// are in the stream.
func TestReview11WaitingWriteInSavepoint(t *testing.T) {
	db := r11OpenShape(t, "")
	c := dbConn(t, db)
	cexec(t, c, "DELETE FROM w WHERE k = 'none'")
	cexec(t, c, "SAVEPOINT sp")
	if n := count(t, c, "SELECT count(*) FROM w"); n != 3 {
		t.Fatalf("%d", n)
	}
	s := r11ExecWhileCapture(t, db, c, "DELETE FROM w")
	cexec(t, c, "ROLLBACK TO sp")
	cexec(t, c, "DELETE FROM t")
	cexec(t, c, "RELEASE sp")
	if n := count(t, db, "SELECT count(*) FROM w"); n != 3 {
		t.Errorf("w has %d rows after ROLLBACK TO, want 3", n)
	}
	r11Expect(t, "savepoint", r11Drain(t, s, db), r11Rows("t", "delete", 1, 2, 3, 4, 5)...)
}

// TestReview11ConcurrentBeginTxDBStmt checks a LevelConcurrent transaction
// using a statement prepared on the *sql.DB (and run, so compiled on the
// pooled connection) before: its DELETE without WHERE, rebased over another
// connection's commit, empties the table.
func TestReview11ConcurrentBeginTxDBStmt(t *testing.T) {
	ctx := context.Background()
	db := concurrentDB(t, "")
	db.SetMaxOpenConns(2)
	del := r11Prepare(t, db, "DELETE FROM a")
	if _, err := del.ExecContext(ctx); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "WITH RECURSIVE s(i) AS (SELECT 3 UNION ALL SELECT i+1 FROM s WHERE i<40) INSERT INTO a SELECT i, printf('%0600d', i) FROM s")
	before := r11Rebased(t, db)
	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: LevelConcurrent})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.StmtContext(ctx, del).ExecContext(ctx); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i<200) INSERT INTO b(v) SELECT printf('%0500d', i) FROM s")
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if r := r11Rebased(t, db); r <= before {
		t.Errorf("test precondition: commit not rebased")
	}
	if n := count(t, db, "SELECT count(*) FROM a"); n != 0 {
		t.Errorf("a has %d rows after the concurrent DELETE, want 0", n)
	}
}
