package libsql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// regexpFunc is SQLite's regexp(pattern, text), which "text REGEXP
// pattern" calls.
func regexpFunc(_ context.Context, args []driver.Value) (driver.Value, error) {
	pattern, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("regexp: pattern is %T, not text", args[0])
	}
	text, ok := args[1].(string)
	if !ok {
		return nil, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	return re.MatchString(text), nil
}

func TestFunctionScalarRegexp(t *testing.T) {
	db := openTestDB(t, "", WithFunction("regexp", 2, regexpFunc, Deterministic))
	mustExec(t, db, "CREATE TABLE t(name TEXT)")
	for _, n := range []string{"alice", "bob", "carol", "dave"} {
		mustExec(t, db, "INSERT INTO t VALUES (?)", n)
	}
	rows, err := db.Query("SELECT name FROM t WHERE name REGEXP '^[a-c].*[el]$' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"alice", "carol"}; !slices.Equal(got, want) {
		t.Fatalf("REGEXP matched %q, want %q", got, want)
	}
	// A bad pattern is the function's error, reachable with errors.As.
	_, err = db.Exec("SELECT 'x' REGEXP '('")
	var se *syntax.Error
	if !errors.As(err, &se) {
		t.Fatalf("bad pattern: %v (%T), want a *syntax.Error inside", err, err)
	}
	var le *Error
	if !errors.As(err, &le) || le.Code() != ERROR || !strings.Contains(err.Error(), "missing closing )") {
		t.Fatalf("bad pattern: %v, want an *Error with code SQLITE_ERROR and the regexp's message", err)
	}
}

// TestFunctionArgumentsAndResults checks the Go values a function gets for
// each datatype, and the datatype each Go result type gives.
func TestFunctionArgumentsAndResults(t *testing.T) {
	var mu sync.Mutex
	var seen []driver.Value
	record := func(_ context.Context, args []driver.Value) (driver.Value, error) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, args...)
		return int64(len(args)), nil
	}
	var result any
	echo := func(context.Context, []driver.Value) (driver.Value, error) { return result, nil }
	db := openTestDB(t, "_time_format=unix", WithFunction("record", -1, record), WithFunction("res", 0, echo))
	var n int64
	if err := db.QueryRow("SELECT record(1, 2.5, 'text', x'00ff', NULL, x'', '', -9223372036854775808)").Scan(&n); err != nil {
		t.Fatal(err)
	}
	want := []driver.Value{int64(1), 2.5, "text", []byte{0, 0xff}, nil, []byte{}, "", int64(math.MinInt64)}
	if n != int64(len(want)) || len(seen) != len(want) {
		t.Fatalf("record got %d arguments %#v, want %#v", n, seen, want)
	}
	for i := range want {
		if fmt.Sprintf("%T %v", seen[i], seen[i]) != fmt.Sprintf("%T %v", want[i], want[i]) {
			t.Errorf("argument %d: %T %v, want %T %v", i, seen[i], seen[i], want[i], want[i])
		}
	}
	if b, ok := seen[5].([]byte); !ok || b == nil {
		t.Errorf("an empty blob argument is %#v, want a non-nil empty []byte (nil is NULL)", seen[5])
	}

	type named int16
	ts := time.Unix(1700000000, 0)
	pi := 7
	for _, tc := range []struct {
		v        any
		typ, val string
	}{
		{int64(-5), "integer", "-5"},
		{int(42), "integer", "42"},
		{uint8(200), "integer", "200"},
		{named(-3), "integer", "-3"},
		{&pi, "integer", "7"},
		{float32(0.5), "real", "0.5"},
		{true, "integer", "1"},
		{false, "integer", "0"},
		{"héllo", "text", "héllo"},
		{[]byte("raw"), "blob", "raw"},
		{[]byte{}, "blob", ""},
		{[]byte(nil), "null", ""},
		{nil, "null", ""},
		{ts, "integer", "1700000000"}, // _time_format=unix
		{sql.NullString{String: "v", Valid: true}, "text", "v"},
		{sql.NullInt64{}, "null", ""},
		{strings.Repeat("x", 1<<20), "text", strings.Repeat("x", 1<<20)},
	} {
		result = tc.v
		var typ string
		var val sql.NullString
		if err := db.QueryRow("SELECT typeof(res()), CAST(res() AS TEXT)").Scan(&typ, &val); err != nil {
			t.Errorf("result %T %v: %v", tc.v, tc.v, err)
			continue
		}
		if typ != tc.typ || val.String != tc.val {
			t.Errorf("result %T: typeof %s, value %.20q; want %s, %.20q", tc.v, typ, val.String, tc.typ, tc.val)
		}
	}
	for _, bad := range []any{struct{}{}, uint64(math.MaxUint64), []int{1}} {
		result = bad
		_, err := db.Exec("SELECT res()")
		if err == nil || !strings.Contains(err.Error(), "result of SQL function res") {
			t.Errorf("result %T %v: %v, want an error naming the function", bad, bad, err)
		}
	}
}

func TestFunctionErrorsAndPanics(t *testing.T) {
	errBoom := errors.New("boom")
	calls := 0
	fail := func(_ context.Context, args []driver.Value) (driver.Value, error) {
		calls++
		if args[0] == int64(3) {
			return nil, errBoom
		}
		return args[0], nil
	}
	panicky := func(_ context.Context, args []driver.Value) (driver.Value, error) {
		if args[0] == int64(2) {
			panic("kaboom")
		}
		return args[0], nil
	}
	db := openTestDB(t, "", WithFunction("fail", 1, fail), WithFunction("panicky", 1, panicky))
	mustExec(t, db, "CREATE TABLE src(x INTEGER)")
	mustExec(t, db, "CREATE TABLE dst(x INTEGER)")
	mustExec(t, db, "INSERT INTO src VALUES (1), (2), (3), (4)")

	// The failing INSERT changes nothing, and the error is the function's.
	_, err := db.Exec("INSERT INTO dst SELECT fail(x) FROM src")
	if !errors.Is(err, errBoom) {
		t.Fatalf("INSERT with a failing function: %v, want errBoom inside", err)
	}
	var le *Error
	if !errors.As(err, &le) || le.Code() != ERROR {
		t.Fatalf("error %v: want an *Error with code SQLITE_ERROR", err)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM dst").Scan(&n); err != nil || n != 0 {
		t.Fatalf("dst has %d rows (%v) after the failed INSERT, want 0", n, err)
	}

	// A panic is an error too, and the connection goes on.
	db.SetMaxOpenConns(1)
	_, err = db.Exec("INSERT INTO dst SELECT panicky(x) FROM src")
	if err == nil || !strings.Contains(err.Error(), "function panicky panicked: kaboom") {
		t.Fatalf("INSERT with a panicking function: %v", err)
	}
	if err := db.QueryRow("SELECT count(*) FROM dst").Scan(&n); err != nil || n != 0 {
		t.Fatalf("dst has %d rows (%v) after the panic, want 0", n, err)
	}
	// The error does not stick to later statements' errors.
	_, err = db.Exec("INSERT INTO nosuch VALUES (1)")
	if err == nil || errors.Is(err, errBoom) || strings.Contains(err.Error(), "panicked") {
		t.Fatalf("unrelated error %v carries an earlier function's error", err)
	}
	mustExec(t, db, "INSERT INTO dst SELECT fail(x) FROM src WHERE x <> 3")
	if err := db.QueryRow("SELECT count(*) FROM dst").Scan(&n); err != nil || n != 3 {
		t.Fatalf("dst has %d rows (%v), want 3", n, err)
	}
	// Rows: the error surfaces from Next.
	rows, err := db.Query("SELECT fail(x) FROM src")
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for rows.Next() {
		got++
	}
	if !errors.Is(rows.Err(), errBoom) || got != 2 {
		t.Fatalf("rows: %d rows then %v, want 2 then errBoom", got, rows.Err())
	}
	rows.Close()
}

func TestFunctionContextIsTheStatements(t *testing.T) {
	type key struct{}
	var got atomic.Value
	fn := func(ctx context.Context, _ []driver.Value) (driver.Value, error) {
		got.Store(fmt.Sprint(ctx.Value(key{})))
		return ctx.Err() == nil, nil
	}
	block := func(ctx context.Context, _ []driver.Value) (driver.Value, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	db := openTestDB(t, "", WithFunction("ctxval", 0, fn), WithFunction("block", 0, block))
	ctx := context.WithValue(context.Background(), key{}, "mine")
	var ok bool
	if err := db.QueryRowContext(ctx, "SELECT ctxval()").Scan(&ok); err != nil || !ok {
		t.Fatalf("ctxval: %v %v", ok, err)
	}
	if got.Load() != "mine" {
		t.Fatalf("the function saw context value %v, want the statement's", got.Load())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := db.ExecContext(ctx, "SELECT block()")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a function waiting on the statement's context: %v, want DeadlineExceeded", err)
	}
}

func TestFunctionFlags(t *testing.T) {
	id := func(_ context.Context, args []driver.Value) (driver.Value, error) { return args[0], nil }
	db := openTestDB(t, "",
		WithFunction("det", 1, id, Deterministic),
		WithFunction("nondet", 1, id),
		WithFunction("direct", 1, id, Deterministic, DirectOnly))
	mustExec(t, db, "CREATE TABLE t(a INTEGER)")
	mustExec(t, db, "CREATE INDEX t_det ON t(det(a))")
	mustExec(t, db, "CREATE TABLE g(a INTEGER, b INTEGER GENERATED ALWAYS AS (det(a) * 2))")
	mustExec(t, db, "INSERT INTO g(a) VALUES (21)")
	var b int
	if err := db.QueryRow("SELECT b FROM g").Scan(&b); err != nil || b != 42 {
		t.Fatalf("generated column: %d %v", b, err)
	}
	if _, err := db.Exec("CREATE INDEX t_nondet ON t(nondet(a))"); err == nil || !strings.Contains(err.Error(), "non-deterministic") {
		t.Fatalf("index on a function not marked Deterministic: %v, want SQLite's refusal", err)
	}
	mustExec(t, db, "CREATE VIEW v AS SELECT direct(a) AS d FROM t")
	if _, err := db.Exec("SELECT * FROM v"); err == nil || !strings.Contains(err.Error(), "unsafe use of direct()") {
		t.Fatalf("DirectOnly function through a view: %v, want SQLite's refusal", err)
	}
	var d int
	if err := db.QueryRow("SELECT direct(5)").Scan(&d); err != nil || d != 5 {
		t.Fatalf("DirectOnly function at top level: %d %v", d, err)
	}
}

func TestFunctionReplacesBuiltin(t *testing.T) {
	shout := func(_ context.Context, args []driver.Value) (driver.Value, error) {
		s, _ := args[0].(string)
		return strings.ToUpper(s) + "!", nil
	}
	db := openTestDB(t, "", WithFunction("UPPER", 1, shout))
	var s string
	if err := db.QueryRow("SELECT upper('hi'), upper('a', 'b') IS NULL").Scan(&s, new(any)); err == nil {
		t.Fatal("upper with 2 arguments: want an error (only the 1-argument form exists)")
	}
	if err := db.QueryRow("SELECT upper('hi')").Scan(&s); err != nil || s != "HI!" {
		t.Fatalf("upper('hi') = %q %v, want the Go function's HI!", s, err)
	}
}

func TestFunctionOptionErrors(t *testing.T) {
	id := func(_ context.Context, args []driver.Value) (driver.Value, error) { return nil, nil }
	for _, tc := range []struct {
		opt  Option
		want string
	}{
		{WithFunction("", 1, id), `WithFunction "": the name is empty`},
		{WithFunction(strings.Repeat("f", 256), 1, id), "256 bytes long"},
		{WithFunction("a\x00b", 1, id), "NUL"},
		{WithFunction("f", -2, id), "-2 arguments"},
		{WithFunction("f", 1001, id), "1001 arguments"},
		{WithFunction("f", 1, nil), `WithFunction "f": the function is nil`},
		{WithFunction("f", 1, id, FunctionFlag(64)), "unknown FunctionFlag 64"},
		{WithAggregate[*sumAgg]("s", 1, nil), `WithAggregate "s": the function is nil`},
		{WithAggregate("s", -3, newSumAgg), `WithAggregate "s": -3 arguments`},
		{WithCollation("", strings.Compare), `WithCollation "": the name is empty`},
		{WithCollation("c", nil), `WithCollation "c": the function is nil`},
	} {
		_, err := NewConnector(":memory:", tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewConnector: %v, want an error containing %q", err, tc.want)
		}
	}
	if _, err := NewConnector(":memory:", WithFunction(strings.Repeat("f", 255), 1000, id)); err != nil {
		t.Errorf("255-byte name, 1000 arguments: %v", err)
	}
}

// sumAgg is a window-capable integer sum that counts its live groups.
type sumAgg struct {
	sum  int64
	rows int
}

var liveSumAggs atomic.Int64

func newSumAgg() *sumAgg { liveSumAggs.Add(1); return &sumAgg{} }

func (a *sumAgg) Step(_ context.Context, args []driver.Value) error {
	v, ok := args[0].(int64)
	if !ok {
		return fmt.Errorf("sumagg: %T argument", args[0])
	}
	a.sum += v
	a.rows++
	return nil
}

func (a *sumAgg) Inverse(_ context.Context, args []driver.Value) error {
	a.sum -= args[0].(int64)
	a.rows--
	return nil
}

func (a *sumAgg) Value(context.Context) (driver.Value, error) { return a.sum, nil }

func (a *sumAgg) Final(context.Context) (driver.Value, error) {
	liveSumAggs.Add(-1)
	if a.rows == 0 {
		return nil, nil
	}
	return a.sum, nil
}

// joinAgg joins its text arguments with commas, as group_concat(x, ','):
// an aggregate that is not a window function.
type joinAgg struct{ parts []string }

func (j *joinAgg) Step(_ context.Context, args []driver.Value) error {
	if s, ok := args[0].(string); ok {
		j.parts = append(j.parts, s)
	}
	return nil
}

func (j *joinAgg) Final(context.Context) (driver.Value, error) {
	if len(j.parts) == 0 {
		return nil, nil
	}
	return strings.Join(j.parts, ","), nil
}

func TestFunctionAggregates(t *testing.T) {
	db := openTestDB(t, "",
		WithAggregate("sumagg", 1, newSumAgg, Deterministic),
		WithAggregate("joinagg", 1, func() *joinAgg { return &joinAgg{} }))
	mustExec(t, db, "CREATE TABLE t(g INTEGER, x INTEGER)")
	mustExec(t, db, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 1000) INSERT INTO t SELECT i % 7, i FROM c")

	// Every group against SQLite's own sum, and nested in a subquery
	// (two groups of the same function in progress at once).
	rows, err := db.Query(`SELECT g, sumagg(x), sum(x),
		(SELECT sumagg(x) FROM t AS u WHERE u.g = t.g AND u.x < 100) AS part,
		(SELECT sum(x) FROM t AS u WHERE u.g = t.g AND u.x < 100)
		FROM t GROUP BY g ORDER BY g`)
	if err != nil {
		t.Fatal(err)
	}
	groups := 0
	for rows.Next() {
		var g, mine, theirs, part, partWant int64
		if err := rows.Scan(&g, &mine, &theirs, &part, &partWant); err != nil {
			t.Fatal(err)
		}
		if mine != theirs || part != partWant {
			t.Errorf("group %d: sumagg %d (sub %d), want %d (sub %d)", g, mine, part, theirs, partWant)
		}
		groups++
	}
	if err := rows.Err(); err != nil || groups != 7 {
		t.Fatalf("%d groups, %v", groups, err)
	}
	rows.Close()
	var joined, concat string
	if err := db.QueryRow("SELECT joinagg(CAST(x AS TEXT)), group_concat(x, ',') FROM t WHERE g = 0").Scan(&joined, &concat); err != nil || joined != concat || len(joined) < 500 {
		t.Fatalf("joinagg = %.40q (%v), want group_concat's %.40q", joined, err, concat)
	}

	// No rows: Final still gives the result.
	var empty sql.NullInt64
	if err := db.QueryRow("SELECT sumagg(x) FROM t WHERE x < 0").Scan(&empty); err != nil || empty.Valid {
		t.Fatalf("sumagg over no rows = %v %v, want NULL", empty, err)
	}
	// A statement abandoned half way finalizes its groups.
	rows, err = db.Query("SELECT g, sumagg(x) FROM t GROUP BY g")
	if err != nil {
		t.Fatal(err)
	}
	rows.Next()
	rows.Close()
	if n := liveSumAggs.Load(); n != 0 {
		t.Fatalf("%d sumagg groups never finalized", n)
	}

	// Window function: a moving sum over 3 rows, against SQLite's sum.
	var bad int
	err = db.QueryRow(`SELECT count(*) FROM (SELECT
		sumagg(x) OVER w AS mine, sum(x) OVER w AS theirs FROM t
		WINDOW w AS (PARTITION BY g ORDER BY x ROWS BETWEEN 2 PRECEDING AND CURRENT ROW))
		WHERE mine IS NOT theirs`).Scan(&bad)
	if err != nil || bad != 0 {
		t.Fatalf("moving sum: %d rows differ from SQLite's (%v)", bad, err)
	}
	// joinagg is no window function: SQLite refuses it there.
	if _, err := db.Exec("SELECT joinagg(x) OVER (ORDER BY x ROWS 1 PRECEDING) FROM t"); err == nil {
		t.Fatal("joinagg as a window function: want SQLite's error")
	}
	// An error in Step fails the statement.
	_, err = db.Exec("SELECT sumagg(CAST(x AS TEXT)) FROM t")
	if err == nil || !strings.Contains(err.Error(), "sumagg: string argument") {
		t.Fatalf("Step error: %v", err)
	}
	if n := liveSumAggs.Load(); n != 0 {
		t.Fatalf("%d sumagg groups never finalized after a Step error", n)
	}
}

func TestFunctionCollation(t *testing.T) {
	reverse := func(a, b string) int { return strings.Compare(b, a) }
	var boom atomic.Bool
	fragile := func(a, b string) int {
		if boom.Load() && (a == "m" || b == "m") {
			panic("collation broke")
		}
		return strings.Compare(a, b)
	}
	db := openTestDB(t, "", WithCollation("reverse", reverse), WithCollation("fragile", fragile),
		WithCollation("nocase_go", func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) }))
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE t(s TEXT COLLATE reverse)")
	for _, s := range []string{"b", "a", "d", "m", "c"} {
		mustExec(t, db, "INSERT INTO t VALUES (?)", s)
	}
	mustExec(t, db, "CREATE INDEX t_s ON t(s)")
	var got []string
	rows, err := db.Query("SELECT s FROM t ORDER BY s")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		got = append(got, s)
	}
	rows.Close()
	if want := []string{"m", "d", "c", "b", "a"}; !slices.Equal(got, want) {
		t.Fatalf("ORDER BY a reverse-collated column: %q, want %q", got, want)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM t WHERE s = 'B' COLLATE nocase_go").Scan(&n); err != nil || n != 1 {
		t.Fatalf("nocase_go equality: %d %v", n, err)
	}
	checkIntegrity(t, db)

	// A panicking collation fails the statement, even where SQLite would
	// have returned a row before noticing the interrupt.
	boom.Store(true)
	for _, q := range []string{
		"SELECT s FROM t ORDER BY s COLLATE fragile LIMIT 1",
		"SELECT s FROM t ORDER BY s COLLATE fragile",
		"SELECT count(*) FROM t WHERE s > 'c' COLLATE fragile",
	} {
		rows, err := db.Query(q)
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "collation fragile panicked: collation broke") {
			t.Errorf("%s: %v, want the collation's panic", q, err)
		}
	}
	if _, err := db.Exec("CREATE INDEX t_fragile ON t(s COLLATE fragile)"); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("CREATE INDEX with a panicking collation: %v", err)
	}
	boom.Store(false)
	if err := db.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name = 't_fragile'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("the failed CREATE INDEX left %d indexes (%v)", n, err)
	}
	mustExec(t, db, "CREATE INDEX t_fragile ON t(s COLLATE fragile)")
	// The interrupt does not outlive the statement.
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 5 {
		t.Fatalf("after the panics: %d %v", n, err)
	}
}

// TestFunctionConcurrentConnections: every connection of the pool has the
// functions, and they run on several goroutines at once (run under the
// race detector).
func TestFunctionConcurrentConnections(t *testing.T) {
	var calls atomic.Int64
	inc := func(_ context.Context, args []driver.Value) (driver.Value, error) {
		calls.Add(1)
		return args[0].(int64) + 1, nil
	}
	db := openTestDB(t, "", WithFunction("inc", 1, inc, Deterministic),
		WithAggregate("sumagg", 1, newSumAgg))
	db.SetMaxOpenConns(4)
	mustExec(t, db, "CREATE TABLE t(x INTEGER)")
	mustExec(t, db, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 100) INSERT INTO t SELECT i FROM c")
	checkIncSums(t, db, "SELECT coalesce(sumagg(inc(x)), 0) FROM t WHERE x <= ?")
	if calls.Load() == 0 {
		t.Fatal("inc never ran")
	}
}

// checkIncSums runs query, the sum of inc(x) for x of t up to its
// argument n (t holds 1..100), from 4 goroutines on a connection each, 20
// times each, and checks every result: n(n+1)/2 + n.
func checkIncSums(t *testing.T, db *sql.DB, query string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := db.Conn(context.Background())
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			for i := range 20 {
				n := int64(w*20 + i)
				var s int64
				if err := conn.QueryRowContext(context.Background(), query, n).Scan(&s); err != nil {
					errs <- err
					return
				}
				if want := n*(n+1)/2 + n; s != want {
					errs <- fmt.Errorf("worker %d: sum %d, want %d", w, s, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestFunctionBeginConcurrentRebase: a BEGIN CONCURRENT transaction whose
// table has a generated column, an index and a CHECK computed by Go
// functions is replayed on a newer version (rebased, since both
// transactions allocated pages) with them.
func TestFunctionBeginConcurrentRebase(t *testing.T) {
	var calls atomic.Int64
	double := func(_ context.Context, args []driver.Value) (driver.Value, error) {
		calls.Add(1)
		return args[0].(int64) * 2, nil
	}
	positive := func(_ context.Context, args []driver.Value) (driver.Value, error) { return args[0].(int64) > 0, nil }
	db := openTestDB(t, "", WithFunction("double", 1, double, Deterministic), WithFunction("positive", 1, positive, Deterministic))
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, x INTEGER CHECK (positive(x)), y INTEGER GENERATED ALWAYS AS (double(x)) STORED, pad BLOB)")
	mustExec(t, db, "CREATE INDEX t_y ON t(double(y))")
	mustExec(t, db, "CREATE TABLE u(pad BLOB)")
	ctx := context.Background()
	c1, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	tx, err := c1.BeginTx(ctx, &sql.TxOptions{Isolation: LevelConcurrent})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO t(x, pad) VALUES (1, randomblob(20000)), (2, NULL), (3, NULL)"); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "INSERT INTO u VALUES (randomblob(30000))")
	before := calls.Load()
	if err := tx.Commit(); err != nil {
		t.Fatalf("COMMIT of the concurrent transaction: %v", err)
	}
	if s := engineStats(t, db); !strings.Contains(s, `"rebased":1`) {
		t.Fatalf("the transaction was not rebased: %s", s)
	}
	if calls.Load() == before {
		t.Fatal("the replay did not compute the generated column through the Go function")
	}
	var sum, bad int
	if err := db.QueryRow("SELECT sum(y), sum(y <> 2 * x) FROM t").Scan(&sum, &bad); err != nil || sum != 12 || bad != 0 {
		t.Fatalf("sum(y) = %d with %d bad rows (%v), want 12, 0", sum, bad, err)
	}
	if err := db.QueryRow("SELECT count(*) FROM t INDEXED BY t_y WHERE double(y) = 8").Scan(&sum); err != nil || sum != 1 {
		t.Fatalf("index on double(y): %d rows for 8 (%v), want 1", sum, err)
	}
	if _, err := db.Exec("INSERT INTO t(x) VALUES (-1)"); err == nil || !strings.Contains(err.Error(), "CHECK constraint failed") {
		t.Fatalf("CHECK through a Go function: %v", err)
	}
}

// TestFunctionArgumentSlicesAreTheCallers: every call's argument slice is
// its own, also where the slices are cut from one chunk: kept slices keep
// their values, appending to one does not write into the next call's, and
// calls with large values (whose slices are allocated apart) mix with the
// others.
func TestFunctionArgumentSlicesAreTheCallers(t *testing.T) {
	var kept [][]driver.Value
	keep := func(_ context.Context, args []driver.Value) (driver.Value, error) {
		kept = append(kept, args)
		return nil, nil
	}
	db := openTestDB(t, "", WithFunction("keep", -1, keep))
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE t(i INTEGER, s TEXT)")
	mustExec(t, db, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 1000) INSERT INTO t SELECT i, CASE WHEN i % 7 = 0 THEN printf('%2000d', i) ELSE 'small' END FROM c")
	if _, err := db.Exec("SELECT keep(i, s, i * 2) FROM t ORDER BY i"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("SELECT keep() FROM t LIMIT 3"); err != nil {
		t.Fatal(err)
	}
	if len(kept) != 1003 {
		t.Fatalf("%d calls, want 1003", len(kept))
	}
	for i := range kept {
		_ = append(kept[i], "scribble") // must not reach another call's slice
	}
	for i, a := range kept[:1000] {
		n := int64(i + 1)
		want := "small"
		if n%7 == 0 {
			want = fmt.Sprintf("%2000d", n)
		}
		if len(a) != 3 || a[0] != n || a[1] != want || a[2] != 2*n {
			t.Fatalf("kept arguments of call %d: %.60v, want [%d %.20q… %d]", i, a, n, want, 2*n)
		}
	}
	for _, a := range kept[1000:] {
		if len(a) != 0 {
			t.Fatalf("a call with no arguments kept %v", a)
		}
	}
}
