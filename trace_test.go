package libsql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	iouringvfs "github.com/golibsql/libsql/iouring_vfs"
	"github.com/golibsql/libsql/iouring_vfs/ioback"
)

// traceLog collects the events of WithTrace.
type traceLog struct {
	mu     sync.Mutex
	events []TraceEvent
}

func (l *traceLog) add(e TraceEvent) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

// take returns the events since the last call, leaving out those of the
// driver's own statements unless driver is set.
func (l *traceLog) take(driver bool) []TraceEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []TraceEvent
	for _, e := range l.events {
		if driver || !e.Driver {
			out = append(out, e)
		}
	}
	l.events = nil
	return out
}

func kinds(events []TraceEvent) string {
	var b []string
	for _, e := range events {
		k := "?"
		switch e.Kind {
		case TraceStatement:
			k = "start"
		case TraceProfile:
			k = fmt.Sprintf("end rows=%d err=%v", e.Rows, e.Err != nil)
		}
		b = append(b, k+" "+e.SQL)
	}
	return strings.Join(b, "\n")
}

// changes returns the Changes of the application's TraceProfile events
// since the last take, by SQL text.
func (l *traceLog) changes() map[string]int64 {
	m := map[string]int64{}
	for _, e := range l.take(false) {
		if e.Kind == TraceProfile {
			m[e.SQL] = e.Changes
		}
	}
	return m
}

// tracedDB opens a database on one connection whose events of kinds go
// to the returned log.
func tracedDB(t *testing.T, kinds TraceKind, opts ...Option) (*traceLog, *sql.DB) {
	t.Helper()
	log := &traceLog{}
	db := openTestDB(t, "", append(opts, WithTrace(kinds, log.add))...)
	db.SetMaxOpenConns(1)
	return log, db
}

// want checks the application's events since the last take against
// want, a line each as kinds writes them.
func (l *traceLog) want(t *testing.T, want ...string) {
	t.Helper()
	if got := kinds(l.take(false)); got != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// Each statement of the application is reported as it starts and as it
// ends, with its text, the rows it returned and its error; a statement
// the application stops halfway ends with the rows it returned so far.
func TestTraceStatements(t *testing.T) {
	log, db := tracedDB(t, TraceStatement|TraceProfile)
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
	mustExec(t, db, "INSERT INTO t VALUES (?, ?), (?, ?), (?, ?)", 1, "a", 2, "b", 3, "c")
	log.take(false)

	rows, err := db.Query("SELECT v FROM t ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil || n != 3 {
		t.Fatalf("rows: %d, %v", n, err)
	}
	_, err = db.Exec("INSERT INTO t VALUES (4, 'a')")
	if !errors.Is(err, ErrConstraint) {
		t.Fatalf("duplicate insert: %v", err)
	}
	rows, err = db.Query("SELECT v FROM t ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	rows.Next()
	rows.Close()
	mustExec(t, db, "UPDATE t SET v = 'z' WHERE id = 3; DELETE FROM t WHERE id = 2")

	want := strings.Join([]string{
		"start SELECT v FROM t ORDER BY id",
		"end rows=3 err=false SELECT v FROM t ORDER BY id",
		"start INSERT INTO t VALUES (4, 'a')",
		"end rows=0 err=true INSERT INTO t VALUES (4, 'a')",
		"start SELECT v FROM t ORDER BY id",
		"end rows=1 err=false SELECT v FROM t ORDER BY id",
		"start UPDATE t SET v = 'z' WHERE id = 3;",
		"end rows=0 err=false UPDATE t SET v = 'z' WHERE id = 3;",
		"start  DELETE FROM t WHERE id = 2", // SQLite's text of the second statement starts after the ;
		"end rows=0 err=false  DELETE FROM t WHERE id = 2",
	}, "\n")
	events := log.take(false)
	if got := kinds(events); got != want {
		t.Fatalf("events:\n%s\nwant:\n%s", got, want)
	}
	if err := events[3].Err; !errors.Is(err, ErrConstraint) || !strings.Contains(err.Error(), "UNIQUE") {
		t.Errorf("the failed INSERT's event has err %v, want its UNIQUE constraint error", err)
	}
	for _, e := range events {
		if e.Kind == TraceProfile && (e.Duration <= 0 || e.Duration > time.Minute) {
			t.Errorf("%q: duration %v", e.SQL, e.Duration)
		}
	}
}

// The statements the driver runs for the application (a transaction's
// BEGIN and COMMIT) are reported with Driver set; TraceExpandSQL puts the
// parameters' values in the text; TraceProfile alone reports only ends.
func TestTraceDriverStatementsAndExpandedSQL(t *testing.T) {
	log, db := tracedDB(t, TraceProfile|TraceExpandSQL)
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, b BLOB)")
	log.take(true)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO t VALUES (?, ?, ?)", 7, "it's", []byte{0xca, 0xfe}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	events := log.take(true)
	var got []string
	for _, e := range events {
		if e.Kind != TraceProfile {
			t.Errorf("event of kind %d, want only TraceProfile", e.Kind)
		}
		got = append(got, fmt.Sprintf("%v %s", e.Driver, e.SQL))
	}
	want := []string{"true BEGIN", "false INSERT INTO t VALUES (7, 'it''s', x'cafe')", "true COMMIT"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

type traceKey struct{}

// An event carries the context of the call; a statement cancelled by its
// context ends with the context's error; Duration covers the statement's
// run (a function that sleeps 30 ms).
func TestTraceContextAndDuration(t *testing.T) {
	var log traceLog
	sleep := func(ctx context.Context, args []driver.Value) (driver.Value, error) {
		time.Sleep(30 * time.Millisecond)
		return nil, nil
	}
	db := openTestDB(t, "", WithTrace(TraceStatement|TraceProfile, log.add), WithFunction("sleep30", 0, sleep))
	ctx := context.WithValue(context.Background(), traceKey{}, "request 42")
	if _, err := db.ExecContext(ctx, "SELECT sleep30()"); err != nil {
		t.Fatal(err)
	}
	events := log.take(false)
	if len(events) != 2 {
		t.Fatalf("events:\n%s", kinds(events))
	}
	for _, e := range events {
		if v := e.Context().Value(traceKey{}); v != "request 42" {
			t.Errorf("%d event's context has %v, want the call's", e.Kind, v)
		}
	}
	if d := events[1].Duration; d < 30*time.Millisecond {
		t.Errorf("duration %v of a statement that slept 30ms", d)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := db.ExecContext(ctx, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("endless query: %v", err)
	}
	events = log.take(false)
	if len(events) != 2 || !errors.Is(events[1].Err, context.DeadlineExceeded) {
		t.Fatalf("cancelled query's events:\n%s\nlast err %v, want the context's error", kinds(events), events[len(events)-1].Err)
	}
}

// A panic in the tracer as a statement starts fails the statement before
// it runs; one as it ends, when its outcome is settled, is dropped.
func TestTracePanics(t *testing.T) {
	var panicAt TraceKind
	fn := func(e TraceEvent) {
		if e.Kind == panicAt && !e.Driver && strings.Contains(e.SQL, "INSERT") {
			panic("tracer bug")
		}
	}
	db := openTestDB(t, "", WithTrace(TraceStatement|TraceProfile, fn))
	mustExec(t, db, "CREATE TABLE t(x)")
	panicAt = TraceStatement
	_, err := db.Exec("INSERT INTO t VALUES (1)")
	if err == nil || !strings.Contains(err.Error(), "tracer panicked: tracer bug") {
		t.Fatalf("INSERT whose start the tracer panicked on: %v", err)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 0 {
		t.Fatalf("count %d, %v: the statement must not have run", n, err)
	}
	panicAt = TraceProfile
	mustExec(t, db, "INSERT INTO t VALUES (2)")
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("count %d, %v: the statement ran, its end's panic dropped", n, err)
	}
}

// The statements a trigger runs are part of the statement that fired it.
func TestTraceTriggers(t *testing.T) {
	var log traceLog
	db := openTestDB(t, "", WithTrace(TraceStatement|TraceProfile, log.add))
	mustExec(t, db, "CREATE TABLE t(x); CREATE TABLE audit(x); CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO audit VALUES (new.x); END")
	log.take(true)
	mustExec(t, db, "INSERT INTO t VALUES (1)")
	log.want(t, "start INSERT INTO t VALUES (1)", "end rows=0 err=false INSERT INTO t VALUES (1)")
}

func TestWithTraceRefusesBadArguments(t *testing.T) {
	for _, c := range []struct {
		kinds TraceKind
		fn    func(TraceEvent)
		want  string
	}{
		{TraceStatement, nil, "the function is nil"},
		{TraceExpandSQL, func(TraceEvent) {}, "asks for no event"},
		{0, func(TraceEvent) {}, "asks for no event"},
		{TraceProfile | 1<<6, func(TraceEvent) {}, "unknown kinds 0x40"},
	} {
		_, err := NewConnector("file::memory:", WithTrace(c.kinds, c.fn))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("WithTrace(%#x): %v, want %q", uint8(c.kinds), err, c.want)
		}
	}
}

// BenchmarkTrace: point selects by key without a tracer, with a
// TraceProfile one that reads each event's fields, and with expanded SQL.
func BenchmarkTrace(b *testing.B) {
	for _, mode := range []string{"off", "profile", "expanded"} {
		b.Run("trace="+mode, func(b *testing.B) {
			var slow int
			fn := func(e TraceEvent) {
				if e.Duration > time.Second && e.SQL != "" {
					slow++
				}
			}
			var opts []Option
			switch mode {
			case "profile":
				opts = append(opts, WithTrace(TraceProfile, fn))
			case "expanded":
				opts = append(opts, WithTrace(TraceProfile|TraceExpandSQL, fn))
			}
			db := openTestDB(b, "", opts...)
			db.SetMaxOpenConns(1)
			mustExec(b, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
			mustExec(b, db, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 1000) INSERT INTO t SELECT x, 'v' || x FROM c")
			b.ResetTimer()
			for i := range b.N {
				var v string
				if err := db.QueryRow("SELECT v FROM t WHERE id = ?", 1+i%1000).Scan(&v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A write whose context ends while its commit waits for fdatasync is
// committed, and ExecContext returns success though SQLite's last check
// reports the interrupt (committedAnyway); its TraceProfile event says the
// same as the call: an error exactly when the row is absent.
func TestTraceErrMatchesCallWhenCommittedAnyway(t *testing.T) {
	v, err := iouringvfs.Register()
	if err != nil {
		t.Fatal(err)
	}
	fs := &crHookFS{FS: ioback.Portable()}
	t.Cleanup(v.SetFSForTesting(fs))
	var log traceLog
	ctx := context.Background()
	dsn := "file:" + filepath.ToSlash(filepath.Join(t.TempDir(), "q.db")) + "?sync=full"
	c, err := OpenConn(ctx, dsn, WithTrace(TraceProfile, log.add))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mustNativeExec(t, c, "CREATE TABLE t(id INTEGER PRIMARY KEY)")
	interrupted := 0
	for id := 1; id <= 300; id++ {
		log.take(true)
		cctx, cancel := context.WithCancel(ctx)
		crCancelDuringSync(fs, cancel)
		_, err := c.Exec(cctx, "INSERT INTO t(id) VALUES (?)", id)
		fs.hook.Store(nil)
		cancel()
		events := log.take(false)
		if len(events) != 1 {
			t.Fatalf("INSERT %d: %d events, want 1", id, len(events))
		}
		if (err == nil) != (events[0].Err == nil) {
			t.Fatalf("INSERT %d: the call returned %v, its event has %v", id, err, events[0].Err)
		}
		if err != nil {
			interrupted++
		}
	}
	t.Logf("%d of 300 inserts interrupted before their commit", interrupted)
}

// A BEGIN CONCURRENT transaction rebased at its commit replays its rows
// with the driver's statements: the application's statements are reported
// once, as it ran them, and the replay's with Driver set.
func TestTraceConcurrentRebaseReplayIsDriver(t *testing.T) {
	var log traceLog
	db := openTestDB(t, "", WithTrace(TraceProfile, log.add))
	mustExec(t, db, "CREATE TABLE a(id INTEGER PRIMARY KEY, v BLOB)")
	mustExec(t, db, "CREATE TABLE b(id INTEGER PRIMARY KEY, v BLOB)")
	c1, c2 := dbConn(t, db), dbConn(t, db)
	// Each adds pages to the file (a value of several pages), so that
	// both take the same new page numbers: the second to commit is
	// rebased.
	cexec(t, c1, "BEGIN CONCURRENT")
	cexec(t, c1, "INSERT INTO a VALUES (1, zeroblob(20000))")
	cexec(t, c2, "BEGIN CONCURRENT")
	cexec(t, c2, "INSERT INTO b VALUES (2, zeroblob(20000))")
	cexec(t, c2, "COMMIT")
	rebasedBefore := concRebased(t, db)
	log.take(true)
	cexec(t, c1, "COMMIT")
	events := log.take(true)
	if concRebased(t, db) == rebasedBefore {
		t.Fatal("the second commit was not rebased: the test checks less than it means to")
	}
	var user, driver []string
	for _, e := range events {
		if e.Driver {
			driver = append(driver, e.SQL)
		} else {
			user = append(user, e.SQL)
		}
	}
	if len(user) > 1 || len(user) == 1 && user[0] != "COMMIT" {
		t.Errorf("the application's statements reported at the commit: %q, want at most its COMMIT", user)
	}
	replayed := false
	for _, q := range driver {
		replayed = replayed || strings.HasPrefix(strings.ToUpper(strings.TrimSpace(q)), "INSERT")
	}
	if !replayed {
		t.Errorf("the driver's statements at the commit: %q, want the replay's INSERT", driver)
	}
}

// Connections traced at once (in make test's race run): every statement
// of every goroutine is reported once as it starts and once as it ends,
// with its own parameters.
func TestTraceConcurrentConnections(t *testing.T) {
	log := &traceLog{}
	db := openTestDB(t, "", WithTrace(TraceStatement|TraceProfile|TraceExpandSQL, log.add))
	db.SetMaxOpenConns(4)
	mustExec(t, db, "CREATE TABLE t(x)")
	log.take(true)
	const goroutines, each = 4, 20
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := db.Exec("INSERT INTO t VALUES (?)", g*1000+i); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	seen := map[string]int{}
	for _, e := range log.take(false) {
		seen[fmt.Sprintf("%d %s", e.Kind, e.SQL)]++
	}
	for g := range goroutines {
		for i := range each {
			for _, k := range []TraceKind{TraceStatement, TraceProfile} {
				key := fmt.Sprintf("%d INSERT INTO t VALUES (%d)", k, g*1000+i)
				if seen[key] != 1 {
					t.Fatalf("%q reported %d times, want once", key, seen[key])
				}
				delete(seen, key)
			}
		}
	}
	if len(seen) != 0 {
		t.Fatalf("other events: %v", seen)
	}
}

// Changes counts the rows a statement inserted, updated or deleted, as
// RowsAffected does: not a trigger's, none for a query (even one read
// while another statement writes), and those of an INSERT ... RETURNING
// whose rows were not all read.
func TestTraceChanges(t *testing.T) {
	log, db := tracedDB(t, TraceProfile)
	mustExec(t, db, "CREATE TABLE t(x); CREATE TABLE audit(x); CREATE TRIGGER tr AFTER DELETE ON t BEGIN INSERT INTO audit VALUES (old.x); END")
	log.take(true)
	mustExec(t, db, "INSERT INTO t VALUES (1), (2), (3)")
	mustExec(t, db, "UPDATE t SET x = x + 10 WHERE x > 1")
	mustExec(t, db, "DELETE FROM t WHERE x = 13")
	mustExec(t, db, "CREATE TABLE u(y)")
	want := map[string]int64{"INSERT INTO t VALUES (1), (2), (3)": 3, "UPDATE t SET x = x + 10 WHERE x > 1": 2, "DELETE FROM t WHERE x = 13": 1, "CREATE TABLE u(y)": 0}
	if got := log.changes(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("changes %v, want %v", got, want)
	}

	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	// A query and an INSERT ... RETURNING, each read for one row, stay
	// open while another INSERT runs: each ends with its own count.
	rows, err := tx.Query("SELECT x FROM t")
	if err != nil {
		t.Fatal(err)
	}
	rows.Next()
	ret, err := tx.Query("INSERT INTO u VALUES (3), (4), (5) RETURNING y")
	if err != nil {
		t.Fatal(err)
	}
	ret.Next()
	if _, err := tx.Exec("INSERT INTO u VALUES (1), (2)"); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	ret.Close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	want = map[string]int64{"SELECT x FROM t": 0, "INSERT INTO u VALUES (1), (2)": 2, "INSERT INTO u VALUES (3), (4), (5) RETURNING y": 3}
	if got := log.changes(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
}
