package libsql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

type r28Key struct{}

// A query whose context is cancelled while the application reads its
// rows: README ("Err: the error, or the context's error for a statement
// that its context cancelled") and TraceEvent.Context ("the context of the
// call that ran the statement") say the TraceProfile event has the
// context's error and the query's context.
func TestReview28TraceCancelMidRows(t *testing.T) {
	log, db := tracedDB(t, TraceProfile)
	mustExec(t, db, "CREATE TABLE t(x)")
	mustExec(t, db, "INSERT INTO t VALUES (1), (2), (3)")
	log.take(true)
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), r28Key{}, "req"))
	rows, err := db.QueryContext(ctx, "SELECT x FROM t")
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatal(rows.Err())
	}
	cancel()
	time.Sleep(20 * time.Millisecond)
	for rows.Next() {
	}
	if !errors.Is(rows.Err(), context.Canceled) {
		t.Fatalf("rows.Err = %v, want context.Canceled", rows.Err())
	}
	rows.Close()
	r28CheckCancelled(t, log)
}

// r28CheckCancelled checks the one event of a query cancelled by its
// context after its first row.
func r28CheckCancelled(t *testing.T, log *traceLog) {
	t.Helper()
	events := log.take(false)
	if len(events) != 1 {
		t.Fatalf("events:\n%s", kinds(events))
	}
	e := events[0]
	if e.Rows != 1 {
		t.Errorf("Rows = %d, want 1", e.Rows)
	}
	if !errors.Is(e.Err, context.Canceled) {
		t.Errorf("event Err = %v, want context.Canceled (the query was cancelled by its context)", e.Err)
	}
	if v := e.Context().Value(r28Key{}); v != "req" {
		t.Errorf("event context's value is %v, want the query's context (its value \"req\")", v)
	}
}

// The same, with the cancel seen by Next itself (the driver's check of
// ctx before a step): the native API has no awaitDone goroutine.
func TestReview28TraceCancelMidRowsNative(t *testing.T) {
	var log traceLog
	ctx0 := context.Background()
	c, err := OpenConn(ctx0, "file:"+t.TempDir()+"/n.db", WithTrace(TraceProfile, log.add))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Exec(ctx0, "CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3)"); err != nil {
		t.Fatal(err)
	}
	log.take(true)
	ctx, cancel := context.WithCancel(context.WithValue(ctx0, r28Key{}, "req"))
	rows, err := c.Query(ctx, "SELECT x FROM t")
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatal(rows.Err())
	}
	cancel()
	for rows.Next() {
	}
	if !errors.Is(rows.Err(), context.Canceled) {
		t.Fatalf("rows.Err = %v, want context.Canceled", rows.Err())
	}
	rows.Close()
	r28CheckCancelled(t, &log)
}

// A multi-statement Exec that fails in its 2nd statement: the 1st and 2nd
// are reported (the 2nd with its error), the 3rd never started.
func TestReview28TraceScriptFailsInSecond(t *testing.T) {
	log, db := tracedDB(t, TraceStatement|TraceProfile)
	mustExec(t, db, "CREATE TABLE t(x UNIQUE)")
	log.take(true)
	_, err := db.Exec("INSERT INTO t VALUES (1); INSERT INTO t VALUES (1); INSERT INTO t VALUES (3)")
	if !errors.Is(err, ErrConstraint) {
		t.Fatalf("err %v", err)
	}
	log.want(t,
		"start INSERT INTO t VALUES (1);",
		"end rows=0 err=false INSERT INTO t VALUES (1);",
		"start  INSERT INTO t VALUES (1);",
		"end rows=0 err=true  INSERT INTO t VALUES (1);",
	)
}

// A prepared *sql.Stmt run again and again: one start and one end per
// run, each with its own parameters (TraceExpandSQL), QueryRow's rows
// closed after one row reported as stopped halfway with Rows 1.
func TestReview28TracePreparedReuse(t *testing.T) {
	log, db := tracedDB(t, TraceStatement|TraceProfile|TraceExpandSQL)
	mustExec(t, db, "CREATE TABLE t(x)")
	mustExec(t, db, "INSERT INTO t VALUES (1), (2), (3)")
	st, err := db.Prepare("SELECT x FROM t WHERE x >= ? ORDER BY x")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log.take(true)
	for _, a := range []int{1, 2, 3} {
		var x int
		if err := st.QueryRow(a).Scan(&x); err != nil || x != a {
			t.Fatalf("QueryRow(%d): %d, %v", a, x, err)
		}
	}
	log.want(t,
		"start SELECT x FROM t WHERE x >= 1 ORDER BY x",
		"end rows=1 err=false SELECT x FROM t WHERE x >= 1 ORDER BY x",
		"start SELECT x FROM t WHERE x >= 2 ORDER BY x",
		"end rows=1 err=false SELECT x FROM t WHERE x >= 2 ORDER BY x",
		"start SELECT x FROM t WHERE x >= 3 ORDER BY x",
		"end rows=1 err=false SELECT x FROM t WHERE x >= 3 ORDER BY x",
	)
}

// A panic in the tracer as the COMMIT of a transaction starts fails the
// Commit; the transaction must not stay open on the connection, which
// goes back to the pool, and its writes must not be committed later.
func TestReview28TraceCommitPanic(t *testing.T) {
	var once sync.Once
	armed := false
	fn := func(e TraceEvent) {
		if armed && e.Kind == TraceStatement && e.Driver && e.SQL == "COMMIT" {
			once.Do(func() { panic("tracer bug at commit") })
		}
	}
	db := openTestDB(t, "", WithTrace(TraceStatement, fn))
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE t(x)")
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	armed = true
	if err := tx.Commit(); err == nil || !strings.Contains(err.Error(), "tracer bug at commit") {
		t.Fatalf("Commit: %v, want the tracer's panic", err)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 0 {
		t.Fatalf("count %d, %v, want 0: the failed commit's write", n, err)
	}
	tx2, err := db.Begin()
	if err != nil {
		t.Fatalf("Begin after the failed commit: %v", err)
	}
	tx2.Rollback()
}

// Durable CDC: the driver's own writes (change capture, the wrapping
// BEGIN IMMEDIATE/COMMIT) are reported with Driver set; the application's
// INSERT is reported once, as the application's.
func TestReview28TraceCDCDriverFlag(t *testing.T) {
	var log traceLog
	db := openTestDSN(t, "file:"+t.TempDir()+"/c.db?cdc=on", WithTrace(TraceStatement|TraceProfile, log.add))
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, x)")
	log.take(true)
	mustExec(t, db, "INSERT INTO t VALUES (1, 'a')")
	want := "start INSERT INTO t VALUES (1, 'a')\nend rows=0 err=false INSERT INTO t VALUES (1, 'a')"
	all := log.take(true)
	var user []TraceEvent
	for _, e := range all {
		if !e.Driver {
			user = append(user, e)
		}
	}
	if got := kinds(user); got != want {
		t.Fatalf("application events:\n%s\nwant:\n%s\nall:\n%s", got, want, kinds(all))
	}
}

// Closing a native connection with rows open reports the query's end once,
// with the rows read so far.
func TestReview28TraceNativeCloseOpenRows(t *testing.T) {
	var log traceLog
	ctx := context.Background()
	c, err := OpenConn(ctx, "file:"+t.TempDir()+"/n.db", WithTrace(TraceStatement|TraceProfile, log.add))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3)"); err != nil {
		t.Fatal(err)
	}
	log.take(true)
	rows, err := c.Query(ctx, "SELECT x FROM t")
	if err != nil {
		t.Fatal(err)
	}
	rows.Next()
	rows.Next()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	log.want(t, "start SELECT x FROM t", "end rows=2 err=false SELECT x FROM t")
}

// A statement evicted from the statement cache after it ran is not
// reported again; a statement that panicked at TraceStatement runs (and is
// reported) normally on its next use.
func TestReview28TraceCacheEvictionAndRetryAfterPanic(t *testing.T) {
	var log traceLog
	var fail bool
	fn := func(e TraceEvent) {
		if fail && e.Kind == TraceStatement && strings.Contains(e.SQL, "x = 1") {
			fail = false
			panic("once")
		}
		log.add(e)
	}
	db := openTestDB(t, "", WithStatementCacheSize(2), WithTrace(TraceStatement|TraceProfile, fn))
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE t(x)")
	log.take(true)
	fail = true
	if _, err := db.Exec("INSERT INTO t SELECT 1 WHERE 1 = 1 AND 'x = 1' <> ''"); err == nil {
		t.Fatal("want the tracer's panic")
	}
	mustExec(t, db, "INSERT INTO t SELECT 1 WHERE 1 = 1 AND 'x = 1' <> ''")
	for i := range 5 {
		mustExec(t, db, fmt.Sprintf("INSERT INTO t VALUES (%d)", i+10))
	}
	events := log.take(false)
	if len(events) != 12 {
		t.Fatalf("%d events, want 12:\n%s", len(events), kinds(events))
	}
	for i := 0; i < len(events); i += 2 {
		if events[i].Kind != TraceStatement || events[i+1].Kind != TraceProfile || events[i].SQL != events[i+1].SQL {
			t.Fatalf("events not in start/end pairs:\n%s", kinds(events))
		}
	}
}

// UPDATE OR REPLACE that moves a row to a new rowid reaches Replace with
// the old and new rowids; a constraint error from Replace in a later row
// undoes the statement's earlier rows (OR ABORT) but not the transaction's
// earlier statement.
func TestReview28ReplaceMovesRowidAndAborts(t *testing.T) {
	s, db := kvDBOf(t, newKVReplacer)
	db.SetMaxOpenConns(1)
	mustExec(t, db, "INSERT INTO kv(rowid, v) VALUES (1, 'one'), (2, 'two')")
	writes(s)
	mustExec(t, db, "UPDATE OR REPLACE kv SET rowid = 5 WHERE rowid = 1")
	if got, want := writes(s), []string{"replace 1 5 [one]"}; !slices.Equal(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO kv(rowid, v) VALUES (7, 'seven')"); err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec("REPLACE INTO kv(rowid, v) VALUES (2, 'TWO'), (8, 'conflict')")
	if !errors.Is(err, ErrConstraint) {
		t.Fatalf("REPLACE with a conflict: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	got := map[int64]string{}
	rows, err := db.Query("SELECT rowid, v FROM kv")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var v string
		rows.Scan(&id, &v)
		got[id] = v
	}
	rows.Close()
	want := map[int64]string{2: "two", 5: "one", 7: "seven"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rows %v, want %v", got, want)
	}
}

// OR REPLACE on a writable table that is not a Replacer: Insert is called,
// and its constraint error undoes the statement (OR ABORT).
func TestReview28ReplaceOnNonReplacer(t *testing.T) {
	_, db := kvDB(t)
	mustExec(t, db, "INSERT INTO kv(rowid, v) VALUES (1, 'one')")
	_, err := db.Exec("INSERT OR REPLACE INTO kv(rowid, v) VALUES (3, 'three'), (1, 'ONE')")
	if !errors.Is(err, ErrConstraint) {
		t.Fatalf("OR REPLACE on an existing rowid of a non-Replacer: %v, want ErrConstraint", err)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM kv").Scan(&n); err != nil || n != 1 {
		t.Fatalf("count %d, %v: want 1, the statement undone", n, err)
	}
}

// r28EmptyFinal is an aggregate whose Final fails with an error whose
// text is empty.
type r28EmptyFinal struct{}

type r28EmptyErr struct{}

func (r28EmptyErr) Error() string { return "" }

func (a *r28EmptyFinal) Step(context.Context, []driver.Value) error { return nil }
func (a *r28EmptyFinal) Final(context.Context) (driver.Value, error) {
	return nil, r28EmptyErr{}
}

// A Final's error that SQLite did take (the statement failed because of
// it) is the statement's cause, whatever its text.
func TestReview28FinalErrorTakenIsCause(t *testing.T) {
	db := openTestDB(t, "", WithAggregate("r28agg", 1, func() *r28EmptyFinal { return &r28EmptyFinal{} }))
	var v any
	err := db.QueryRow("SELECT r28agg(1)").Scan(&v)
	if err == nil {
		t.Fatal("want Final's error")
	}
	if !errors.As(err, new(r28EmptyErr)) {
		t.Errorf("err %q (%T): Final's error is not its cause", err, err)
	}
}
