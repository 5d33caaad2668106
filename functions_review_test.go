package libsql

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Review tests of the Go SQL functions (functions.go).

func frID(_ context.Context, args []driver.Value) (driver.Value, error) { return args[0], nil }

// frSameValue compares two scanned values, NaN and the sign of zero
// included.
func frSameValue(a, b any) bool {
	if fa, ok := a.(float64); ok {
		fb, ok := b.(float64)
		if !ok {
			return false
		}
		if math.IsNaN(fa) || math.IsNaN(fb) {
			return math.IsNaN(fa) && math.IsNaN(fb)
		}
		return fa == fb && math.Signbit(fa) == math.Signbit(fb)
	}
	if ba, ok := a.([]byte); ok {
		bb, ok := b.([]byte)
		return ok && bytes.Equal(ba, bb) && (ba == nil) == (bb == nil)
	}
	return a == b
}

// A function passing its argument through is transparent: every value
// comes out of id(?) as it comes out of a plain ?, and the function sees
// exactly the bytes bound.
func TestFunctionsReviewValuesRoundTrip(t *testing.T) {
	var seen []driver.Value
	rec := func(_ context.Context, args []driver.Value) (driver.Value, error) {
		seen = append(seen, args[0])
		return args[0], nil
	}
	db := openTestDB(t, "", WithFunction("id", 1, rec))
	db.SetMaxOpenConns(1)
	vals := []any{
		"a\x00b", "\x00", "\xff\xfe\x80", "😀é\u0301", "", strings.Repeat("\x00z", 1000),
		[]byte{0, 0, 0}, []byte{}, []byte{0xff},
		int64(math.MinInt64), int64(math.MaxInt64), int64(0), int64(-1),
		math.Inf(1), math.Inf(-1), math.Copysign(0, -1), math.SmallestNonzeroFloat64, math.MaxFloat64, 0.1,
		nil,
	}
	for _, v := range vals {
		seen = seen[:0]
		var got, direct any
		var typ, dtyp string
		if err := db.QueryRow("SELECT id(?), ?, typeof(id(?)), typeof(?)", v, v, v, v).Scan(&got, &direct, &typ, &dtyp); err != nil {
			t.Errorf("%#v: %v", v, err)
			continue
		}
		if typ != dtyp || !frSameValue(got, direct) {
			t.Errorf("id(%#v) = %s %#v, want %s %#v as ? gives", v, typ, got, dtyp, direct)
		}
		if len(seen) == 0 {
			t.Fatalf("%#v: id not called", v)
		}
		want := v
		if s, ok := v.(string); ok {
			want = s
		}
		if !frSameValue(seen[0], want) {
			t.Errorf("id(%#v) saw argument %#v", v, seen[0])
		}
		// Through a table too.
	}
	// Results the function makes itself.
	var res any
	db2 := openTestDB(t, "", WithFunction("res", 0, func(context.Context, []driver.Value) (driver.Value, error) { return res, nil }))
	for _, tc := range []struct {
		v    any
		typ  string
		blen int64
	}{
		{"a\x00b\x00", "text", 4},
		{"\xff", "text", 1},
		{[]byte("a\x00b"), "blob", 3},
		{math.NaN(), "null", -1}, // SQLite stores a NaN as NULL
		{math.Inf(-1), "real", -2},
		{int64(math.MinInt64), "integer", 20},
		{uint32(math.MaxUint32), "integer", 10},
		{float32(1.5), "real", 3},
	} {
		res = tc.v
		var typ string
		var blen sql.NullInt64
		if err := db2.QueryRow("SELECT typeof(res()), length(CAST(res() AS BLOB))").Scan(&typ, &blen); err != nil {
			t.Errorf("res %#v: %v", tc.v, err)
			continue
		}
		want := sql.NullInt64{Int64: max(tc.blen, 0), Valid: tc.blen >= 0}
		if tc.blen == -2 {
			want = blen // -Inf's text form is SQLite's business
		}
		if typ != tc.typ || blen != want {
			t.Errorf("res %#v: typeof %s, %v bytes; want %s, %v", tc.v, typ, blen, tc.typ, want)
		}
	}
	var f float64
	res = math.Copysign(0, -1)
	if err := db2.QueryRow("SELECT res()").Scan(&f); err != nil || f != 0 || !math.Signbit(f) {
		var d float64
		db2.QueryRow("SELECT ?", math.Copysign(0, -1)).Scan(&d)
		if math.Signbit(d) { // only when SQLite keeps it through a plain ?
			t.Errorf("res -0.0 = %v (signbit %v) %v", f, math.Signbit(f), err)
		}
	}
}

// Argument values a function keeps (a []byte, a string, copied out of the
// slice) stay as they were when it got them, across calls and rows.
func TestFunctionsReviewArgValuesRetained(t *testing.T) {
	frArgsRetained(t, true)
}

// The argument slice itself, kept by a function (an aggregate collecting
// its rows' args, as with mattn/go-sqlite3 and modernc.org/sqlite, which
// hand every call a new slice), stays as it was.
func TestFunctionsReviewArgSliceRetained(t *testing.T) {
	frArgsRetained(t, false)
}

func frArgsRetained(t *testing.T, clone bool) {
	var kept [][]driver.Value
	keep := func(_ context.Context, args []driver.Value) (driver.Value, error) {
		if clone {
			args = slices.Clone(args)
		}
		kept = append(kept, args)
		return int64(len(kept)), nil
	}
	var aggKept [][]driver.Value
	db := openTestDB(t, "", WithFunction("keep", -1, keep),
		WithAggregate("coll", 2, func() *frCollect { return &frCollect{out: &aggKept, clone: clone} }))
	mustExec(t, db, "CREATE TABLE t(i INTEGER, s TEXT, b BLOB)")
	for i := range 50 {
		mustExec(t, db, "INSERT INTO t VALUES (?, ?, ?)", i, fmt.Sprintf("s%03d", i), bytes.Repeat([]byte{byte(i)}, 100+i))
	}
	rows, err := db.Query("SELECT keep(i, s, b, upper(s), CAST(b || x'00' AS BLOB)) FROM t ORDER BY i")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if _, err := db.Exec("SELECT coll(s, b) FROM t"); err != nil {
		t.Fatal(err)
	}
	bad := 0
	check := func(what string, args []driver.Value, i int, full bool) {
		s := fmt.Sprintf("s%03d", i)
		b := bytes.Repeat([]byte{byte(i)}, 100+i)
		want := []driver.Value{s, b}
		if full {
			want = []driver.Value{int64(i), s, b, strings.ToUpper(s), append(slices.Clone(b), 0)}
		}
		for j := range want {
			if !frSameValue(args[j], want[j]) {
				if bad++; bad < 5 {
					t.Errorf("%s row %d: argument %d = %.20v, want %.20v", what, i, j, args[j], want[j])
				}
			}
		}
	}
	if len(kept) != 50 || len(aggKept) != 50 {
		t.Fatalf("%d scalar calls, %d steps; want 50", len(kept), len(aggKept))
	}
	for i, args := range kept {
		check("keep", args, i, true)
	}
	slices.SortStableFunc(aggKept, func(a, b []driver.Value) int {
		x, _ := a[0].(string)
		y, _ := b[0].(string)
		return strings.Compare(x, y)
	})
	for i, args := range aggKept {
		check("coll", args, i, false)
	}
}

type frCollect struct {
	out   *[][]driver.Value
	clone bool
}

func (c *frCollect) Step(_ context.Context, args []driver.Value) error {
	if c.clone {
		args = slices.Clone(args)
	}
	*c.out = append(*c.out, args)
	return nil
}
func (c *frCollect) Final(context.Context) (driver.Value, error) { return nil, nil }

// A time.Time result is stored as a bound time.Time is, in each
// _time_format.
func TestFunctionsReviewTimeResults(t *testing.T) {
	ts := time.Date(2024, 2, 29, 23, 59, 58, 123456789, time.FixedZone("X", -5*3600-30*60))
	now := func(context.Context, []driver.Value) (driver.Value, error) { return ts, nil }
	for _, f := range []string{"", "rfc3339nano", "sqlite", "datetime", "unix", "unix_milli", "unix_micro", "unix_nano", "2006-01-02", "Jan 2 2006 15:04:05.000 MST"} {
		q := ""
		if f != "" {
			q = "_time_format=" + strings.ReplaceAll(f, " ", "%20")
		}
		db := openTestDB(t, q, WithFunction("tnow", 0, now))
		var typ, dtyp string
		var txt, dtxt string
		if err := db.QueryRow("SELECT typeof(tnow()), CAST(tnow() AS TEXT), typeof(?), CAST(? AS TEXT)", ts, ts).Scan(&typ, &txt, &dtyp, &dtxt); err != nil {
			t.Errorf("%q: %v", f, err)
			continue
		}
		if typ != dtyp || txt != dtxt {
			t.Errorf("_time_format %q: tnow() is %s %q, a bound time.Time %s %q", f, typ, txt, dtyp, dtxt)
		}
		// Two time results in one row (the scratch buffer is shared).
		var a, b string
		if err := db.QueryRow("SELECT CAST(tnow() AS TEXT) || '|' || CAST(tnow() AS TEXT), ?", dtxt+"|"+dtxt).Scan(&a, &b); err != nil || a != b {
			t.Errorf("_time_format %q: two results %q, want %q (%v)", f, a, b, err)
		}
	}
}

// A panic of any value fails the statement: nil (runtime.PanicNilError)
// and an error value included; the connection goes on.
func TestFunctionsReviewPanicValues(t *testing.T) {
	errVal := errors.New("an error value")
	var what any
	p := func(context.Context, []driver.Value) (driver.Value, error) {
		switch v := what; v {
		case "nil":
			panic(nil)
		default:
			panic(v)
		}
	}
	db := openTestDB(t, "", WithFunction("p", 0, p))
	db.SetMaxOpenConns(1)
	for _, tc := range []struct {
		v    any
		want string
	}{
		{"nil", "nil"},
		{errVal, "an error value"},
		{42, "42"},
	} {
		what = tc.v
		_, err := db.Exec("SELECT p()")
		if err == nil || !strings.Contains(err.Error(), "panicked") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("panic(%#v): %v", tc.v, err)
		}
		var n int
		if err := db.QueryRow("SELECT 1").Scan(&n); err != nil || n != 1 {
			t.Fatalf("after panic(%#v): %v", tc.v, err)
		}
	}
}

// A panic with an error value: the statement's error wraps it, as the
// function's returned error is ("fail with the panic's value as its
// error", capi.Func).
func TestFunctionsReviewPanicErrorUnwraps(t *testing.T) {
	errVal := errors.New("an error value")
	p := func(context.Context, []driver.Value) (driver.Value, error) { panic(errVal) }
	db := openTestDB(t, "", WithFunction("p", 0, p))
	_, err := db.Exec("SELECT p()")
	if !errors.Is(err, errVal) {
		t.Fatalf("panic(err): %v, want errors.Is(err, the panic's error)", err)
	}
}

// frAgg is an aggregate and window function whose callbacks can be made
// to panic or fail.
type frAgg struct {
	cfg  *frAggCfg
	sum  int64
	rows int
}

type frAggCfg struct {
	panicIn  string // "step", "final", "value", "inverse"
	failStep error
	failFin  error
	live     atomic.Int64
	finals   atomic.Int64
}

func (a *frAgg) Step(_ context.Context, args []driver.Value) error {
	if a.cfg.panicIn == "step" {
		panic("step panic")
	}
	if a.cfg.failStep != nil {
		return a.cfg.failStep
	}
	if v, ok := args[0].(int64); ok {
		a.sum += v
		a.rows++
	}
	return nil
}

func (a *frAgg) Inverse(_ context.Context, args []driver.Value) error {
	if a.cfg.panicIn == "inverse" {
		panic("inverse panic")
	}
	if v, ok := args[0].(int64); ok {
		a.sum -= v
		a.rows--
	}
	return nil
}

func (a *frAgg) Value(context.Context) (driver.Value, error) {
	if a.cfg.panicIn == "value" {
		panic("value panic")
	}
	if a.rows == 0 {
		return nil, nil
	}
	return a.sum, nil
}

func (a *frAgg) Final(ctx context.Context) (driver.Value, error) {
	a.cfg.live.Add(-1)
	a.cfg.finals.Add(1)
	if a.cfg.panicIn == "final" {
		panic("final panic")
	}
	if a.cfg.failFin != nil {
		return nil, a.cfg.failFin
	}
	return a.Value(ctx)
}

func frAggOpt(name string, cfg *frAggCfg) Option {
	return WithAggregate(name, 1, func() *frAgg { cfg.live.Add(1); return &frAgg{cfg: cfg} })
}

func frSeedTable(t *testing.T, db *sql.DB, n int) {
	t.Helper()
	mustExec(t, db, "CREATE TABLE t(g INTEGER, x INTEGER)")
	mustExec(t, db, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < ?) INSERT INTO t SELECT i % 3, i FROM c", n)
}

// A panic in any of an aggregate's callbacks fails the statement with the
// panic, every group is finalized, and the connection goes on.
func TestFunctionsReviewAggregateCallbackPanics(t *testing.T) {
	for _, tc := range []struct{ in, q string }{
		{"step", "SELECT g, agg(x) FROM t GROUP BY g"},
		{"final", "SELECT g, agg(x) FROM t GROUP BY g"},
		{"value", "SELECT agg(x) OVER (ORDER BY x ROWS 2 PRECEDING) FROM t"},
		{"inverse", "SELECT agg(x) OVER (ORDER BY x ROWS 2 PRECEDING) FROM t"},
	} {
		cfg := &frAggCfg{}
		db := openTestDB(t, "", frAggOpt("agg", cfg))
		db.SetMaxOpenConns(1)
		frSeedTable(t, db, 30)
		cfg.panicIn = tc.in
		rows, err := db.Query(tc.q)
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
		}
		if err == nil || !strings.Contains(err.Error(), tc.in+" panic") {
			t.Errorf("panic in %s: %v", tc.in, err)
		}
		cfg.panicIn = ""
		if n := cfg.live.Load(); n != 0 {
			t.Errorf("panic in %s: %d groups never finalized", tc.in, n)
		}
		var n int
		if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 30 {
			t.Fatalf("after a panic in %s: %d %v", tc.in, n, err)
		}
	}
}

// After an aggregate's Final panics, the next groups on the connection
// start empty: the panicked group's Go state is not handed to a later
// group (whose aggregate context SQLite may put at the same address).
func TestFunctionsReviewFinalPanicLeavesNoState(t *testing.T) {
	cfg := &frAggCfg{}
	db := openTestDB(t, "", frAggOpt("agg", cfg))
	db.SetMaxOpenConns(1)
	frSeedTable(t, db, 30)
	for round := range 5 {
		cfg.panicIn = "final"
		_, err := db.Exec("SELECT g, agg(x) FROM t GROUP BY g")
		cfg.panicIn = ""
		if err == nil || !strings.Contains(err.Error(), "final panic") {
			t.Fatalf("round %d: panic in Final: %v", round, err)
		}
		var s, want int64
		if err := db.QueryRow("SELECT agg(x), sum(x) FROM t").Scan(&s, &want); err != nil || s != want {
			t.Fatalf("round %d: after a panic in Final, agg(x) = %d, want %d (%v)", round, s, want, err)
		}
	}
}

// The error of a failing Step is the statement's error's cause, even when
// SQLite then ends the group and its Final fails too.
func TestFunctionsReviewStepErrorIsTheCause(t *testing.T) {
	errStep := errors.New("step failed")
	errFin := errors.New("final of a poisoned group")
	cfg := &frAggCfg{failStep: errStep, failFin: errFin}
	db := openTestDB(t, "", frAggOpt("agg", cfg))
	frSeedTable(t, db, 10)
	_, err := db.Exec("SELECT agg(x) FROM t")
	if !errors.Is(err, errStep) || errors.Is(err, errFin) {
		t.Fatalf("Step failed, then Final: %v (errors.Is step %v, final %v), want the Step's error as the cause",
			err, errors.Is(err, errStep), errors.Is(err, errFin))
	}
	if !strings.Contains(err.Error(), "step failed") {
		t.Fatalf("error %q does not say the Step's error", err)
	}
}

// A scalar function's error in an aggregate's argument is the statement's
// error's cause, even when the aggregate's Final of the abandoned group
// fails too.
func TestFunctionsReviewScalarErrorInsideAggregate(t *testing.T) {
	errScalar := errors.New("scalar failed")
	errFin := errors.New("final failed")
	cfg := &frAggCfg{failFin: errFin}
	f := func(_ context.Context, args []driver.Value) (driver.Value, error) {
		if args[0] == int64(5) {
			return nil, errScalar
		}
		return args[0], nil
	}
	db := openTestDB(t, "", frAggOpt("agg", cfg), WithFunction("f", 1, f))
	frSeedTable(t, db, 10)
	_, err := db.Exec("SELECT agg(f(x)) FROM t")
	if !errors.Is(err, errScalar) {
		t.Fatalf("f failed inside agg: %v, want errors.Is(err, f's error)", err)
	}
}

// A Final that fails for a group SQLite drops (a statement reset half way)
// must not leave its error to a later, unrelated failure on the same
// connection.
func TestFunctionsReviewDroppedFinalErrorDoesNotStick(t *testing.T) {
	errFin := errors.New("final failed")
	cfg := &frAggCfg{}
	db := openTestDB(t, "", frAggOpt("agg", cfg))
	frSeedTable(t, db, 30)
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rows, err := c.QueryContext(ctx, "SELECT agg(x) OVER (ORDER BY x ROWS UNBOUNDED PRECEDING) FROM t")
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatal(rows.Err())
	}
	cfg.failFin = errFin // the group in progress fails when it ends
	rows.Close()
	cfg.failFin = nil
	if cfg.finals.Load() == 0 {
		t.Fatal("Final was not called on the reset")
	}
	_, err = c.ExecContext(ctx, "INSERT INTO nosuch VALUES (1)")
	if err == nil || errors.Is(err, errFin) {
		t.Fatalf("unrelated error %v: errors.Is(err, a dropped group's Final error) = %v", err, errors.Is(err, errFin))
	}
}

// A window function over a LIMIT: SQLite drops the group in progress when
// the LIMIT ends the statement; the Final of that dropped group does not
// fail a statement that gave all its rows (as sqlite3_result_error in a C
// xFinal then does not).
func TestFunctionsReviewDroppedFinalErrorAtLimit(t *testing.T) {
	errFin := errors.New("final failed")
	cfg := &frAggCfg{}
	db := openTestDB(t, "", frAggOpt("agg", cfg))
	frSeedTable(t, db, 30)
	cfg.failFin = errFin
	rows, err := db.Query("SELECT x, agg(x) OVER (ORDER BY x ROWS UNBOUNDED PRECEDING) FROM t ORDER BY x LIMIT 2")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	err = rows.Err()
	rows.Close()
	cfg.failFin = nil
	if err != nil || n != 2 {
		t.Fatalf("LIMIT 2: %d rows, %v; want 2 rows and no error (the dropped group's Final result is dropped)", n, err)
	}
}

// An aggregate over a slow scalar function: cancelling the context stops
// the statement with ctx.Err(), and the abandoned group is finalized.
func TestFunctionsReviewCancelDuringAggregate(t *testing.T) {
	frCancelAggregate(t, nil)
}

// As above, with a Final that fails for the incomplete group SQLite
// abandons: the statement's error is still the context's.
func TestFunctionsReviewCancelDuringAggregateFinalError(t *testing.T) {
	frCancelAggregate(t, errors.New("final of an incomplete group"))
}

func frCancelAggregate(t *testing.T, finErr error) {
	cfg := &frAggCfg{failFin: finErr}
	slow := func(_ context.Context, args []driver.Value) (driver.Value, error) {
		time.Sleep(20 * time.Microsecond)
		return args[0], nil
	}
	db := openTestDB(t, "", frAggOpt("agg", cfg), WithFunction("slow", 1, slow))
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Millisecond)
	defer cancel()
	start := time.Now()
	var s sql.NullInt64
	err := db.QueryRowContext(ctx, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 2000000) SELECT agg(slow(i)) FROM c").Scan(&s)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the statement ran %v after its context ended", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Final error %v: %v, want the context's error", finErr, err)
	}
	if n := cfg.live.Load(); n != 0 {
		t.Errorf("%d groups never finalized", n)
	}
}

// A slow scalar function over many rows: cancelling the context stops the
// statement promptly with ctx.Err(), whether the function looks at ctx or
// not.
func TestFunctionsReviewCancelSlowScalar(t *testing.T) {
	slow := func(_ context.Context, args []driver.Value) (driver.Value, error) {
		time.Sleep(50 * time.Microsecond)
		return args[0], nil
	}
	db := openTestDB(t, "", WithFunction("slow", 1, slow))
	mustExec(t, db, "CREATE TABLE sink(x)")
	for _, q := range []string{
		"WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 1000000) SELECT count(slow(i)) FROM c",
		"WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 1000000) INSERT INTO sink SELECT slow(i) FROM c",
		"WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 1000000) SELECT i FROM c ORDER BY slow(i) LIMIT 1",
	} {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(30*time.Millisecond, cancel)
		start := time.Now()
		_, err := db.ExecContext(ctx, q)
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("%s: ran %v", q, took)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: %v, want context.Canceled", q, err)
		}
		cancel()
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM sink").Scan(&n); err != nil || n != 0 {
		t.Fatalf("sink has %d rows (%v) after the cancelled INSERT", n, err)
	}
}

// DirectOnly: refused in triggers, views, CHECK constraints, generated
// columns, partial indexes and indexes on expressions; allowed at top
// level. Innocuous: with trusted_schema off, only Innocuous functions may
// be used from the schema.
func TestFunctionsReviewDirectOnlyAndInnocuous(t *testing.T) {
	id := frID
	db := openTestDB(t, "",
		WithFunction("direct", 1, id, Deterministic, DirectOnly),
		WithFunction("plain", 1, id, Deterministic),
		WithFunction("safe", 1, id, Deterministic, Innocuous))
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE t(a INTEGER)")
	mustExec(t, db, "CREATE TABLE log(a INTEGER)")
	for _, tc := range []struct{ create, use string }{
		{"CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO log VALUES (direct(new.a)); END", "INSERT INTO t VALUES (1)"},
		{"CREATE VIEW v AS SELECT direct(a) FROM t", "SELECT * FROM v"},
		{"CREATE TABLE c(a INTEGER CHECK (direct(a) > 0))", "INSERT INTO c VALUES (1)"},
		{"CREATE TABLE gc(a INTEGER, b GENERATED ALWAYS AS (direct(a)))", "INSERT INTO gc(a) VALUES (1)"},
		{"CREATE INDEX pi ON t(a) WHERE direct(a) > 0", "INSERT INTO t VALUES (2)"},
		{"CREATE INDEX ei ON t(direct(a))", "INSERT INTO t VALUES (3)"},
		{"CREATE TABLE d(a INTEGER DEFAULT (direct(1)))", "INSERT INTO d DEFAULT VALUES"},
	} {
		_, err := db.Exec(tc.create)
		if err == nil {
			_, err = db.Exec(tc.use)
		}
		if err == nil || !strings.Contains(err.Error(), "unsafe use of direct()") {
			t.Errorf("%s; %s: %v, want unsafe use of direct()", tc.create, tc.use, err)
		}
		// Drop what was made, for the next case.
		for _, d := range []string{"DROP TRIGGER IF EXISTS tr", "DROP VIEW IF EXISTS v", "DROP TABLE IF EXISTS c", "DROP TABLE IF EXISTS gc", "DROP INDEX IF EXISTS pi", "DROP INDEX IF EXISTS ei", "DROP TABLE IF EXISTS d"} {
			mustExec(t, db, d)
		}
	}
	var n int
	if err := db.QueryRow("SELECT direct(7)").Scan(&n); err != nil || n != 7 {
		t.Fatalf("direct at top level: %d %v", n, err)
	}

	mustExec(t, db, "CREATE VIEW vp AS SELECT plain(a) AS x FROM t")
	mustExec(t, db, "CREATE VIEW vs AS SELECT safe(a) AS x FROM t")
	mustExec(t, db, "PRAGMA trusted_schema = OFF")
	defer db.Exec("PRAGMA trusted_schema = ON")
	if _, err := db.Exec("SELECT * FROM vp"); err == nil || !strings.Contains(err.Error(), "unsafe use of plain()") {
		t.Errorf("non-innocuous function in a view, trusted_schema off: %v", err)
	}
	if _, err := db.Exec("SELECT * FROM vs"); err != nil {
		t.Errorf("Innocuous function in a view, trusted_schema off: %v", err)
	}
	if err := db.QueryRow("SELECT plain(3)").Scan(&n); err != nil || n != 3 {
		t.Errorf("non-innocuous function at top level, trusted_schema off: %d %v", n, err)
	}
}

// Two registrations of one name: nArg 2 and nArg -1. SQLite picks the one
// of the exact count, else the variadic one, whatever the order; names are
// case-insensitive, so a second registration in other letters replaces.
func TestFunctionsReviewOverloadByArgCount(t *testing.T) {
	ret := func(s string) ScalarFunction {
		return func(_ context.Context, args []driver.Value) (driver.Value, error) {
			return fmt.Sprintf("%s/%d", s, len(args)), nil
		}
	}
	for _, order := range [][]Option{
		{WithFunction("f", 2, ret("two")), WithFunction("f", -1, ret("any"))},
		{WithFunction("f", -1, ret("any")), WithFunction("F", 2, ret("two"))},
	} {
		db := openTestDB(t, "", append(order, WithFunction("G", 1, ret("g1")), WithFunction("g", 1, ret("g2")))...)
		var a, b, c, d, g string
		if err := db.QueryRow("SELECT f(), f(1), f(1, 2), f(1, 2, 3), G(0)").Scan(&a, &b, &c, &d, &g); err != nil {
			t.Fatal(err)
		}
		if got := []string{a, b, c, d, g}; !slices.Equal(got, []string{"any/0", "any/1", "two/2", "any/3", "g2/1"}) {
			t.Errorf("got %q", got)
		}
	}
}

// Overriding LIKE replaces the operator (x LIKE y is like(y, x), with
// ESCAPE like(y, x, e)); overriding length replaces length().
func TestFunctionsReviewOverrideLikeAndLength(t *testing.T) {
	var calls atomic.Int64
	like := func(_ context.Context, args []driver.Value) (driver.Value, error) {
		calls.Add(1)
		pat, _ := args[0].(string)
		s, _ := args[1].(string)
		if len(args) == 3 {
			return strings.HasPrefix(s, strings.TrimSuffix(pat, "%")) && args[2] == "!", nil
		}
		return strings.HasPrefix(s, strings.TrimSuffix(pat, "%")), nil // case-sensitive prefix match
	}
	runes := func(_ context.Context, args []driver.Value) (driver.Value, error) {
		s, _ := args[0].(string)
		return int64(len(s)) * 100, nil
	}
	db := openTestDB(t, "", WithFunction("like", 2, like), WithFunction("LIKE", 3, like), WithFunction("length", 1, runes))
	mustExec(t, db, "CREATE TABLE t(s TEXT)")
	mustExec(t, db, "CREATE INDEX t_s ON t(s)")
	for _, s := range []string{"apple", "Apple", "banana", "apricot"} {
		mustExec(t, db, "INSERT INTO t VALUES (?)", s)
	}
	var n, m, k int
	var l int64
	if err := db.QueryRow("SELECT (SELECT count(*) FROM t WHERE s LIKE 'ap%'), (SELECT count(*) FROM t WHERE s NOT LIKE 'ap%'), (SELECT count(*) FROM t WHERE s LIKE 'ap%' ESCAPE '!'), length('abc')").Scan(&n, &m, &k, &l); err != nil {
		t.Fatal(err)
	}
	if n != 2 || m != 2 || k != 2 || l != 300 {
		t.Fatalf("LIKE 'ap%%' matched %d (NOT %d, ESCAPE %d), length('abc') = %d; want 2, 2, 2, 300 (the Go functions)", n, m, k, l)
	}
	if calls.Load() == 0 {
		t.Fatal("the Go like never ran")
	}
}

// frSC is an aggregate that returns "sum/count" of its integer arguments.
type frSC struct{ sum, n int64 }

func (a *frSC) Step(_ context.Context, args []driver.Value) error {
	if v, ok := args[0].(int64); ok {
		a.sum += v
		a.n++
	}
	return nil
}
func (a *frSC) Final(context.Context) (driver.Value, error) {
	return fmt.Sprintf("%d/%d", a.sum, a.n), nil
}

// Several calls of one aggregate in one SELECT keep their groups apart:
// different arguments, DISTINCT, FILTER, GROUP BY, a subquery.
func TestFunctionsReviewAggregateIsolation(t *testing.T) {
	db := openTestDB(t, "", WithAggregate("sc", 1, func() *frSC { return &frSC{} }))
	mustExec(t, db, "CREATE TABLE t(g INTEGER, x INTEGER, y INTEGER)")
	mustExec(t, db, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 200) INSERT INTO t SELECT i % 4, i % 17, i * 3 FROM c")
	rows, err := db.Query(`SELECT g,
		sc(x) = sum(x) || '/' || count(x),
		sc(y) = sum(y) || '/' || count(y),
		sc(DISTINCT x) = sum(DISTINCT x) || '/' || count(DISTINCT x),
		sc(x) FILTER (WHERE x > 5) = coalesce(sum(x) FILTER (WHERE x > 5), 0) || '/' || count(x) FILTER (WHERE x > 5),
		sc(DISTINCT y % 5) FILTER (WHERE y > 30) = coalesce(sum(DISTINCT y % 5) FILTER (WHERE y > 30), 0) || '/' || count(DISTINCT y % 5) FILTER (WHERE y > 30),
		(SELECT sc(u.x) FROM t AS u WHERE u.g = t.g) = sum(x) || '/' || count(x),
		sc(x + y) = sum(x + y) || '/' || count(x + y)
		FROM t GROUP BY g ORDER BY g`)
	if err != nil {
		t.Fatal(err)
	}
	groups := 0
	for rows.Next() {
		v := scanAnyRow(t, rows, 8)
		for i, ok := range v[1:] {
			if ok != int64(1) {
				t.Errorf("group %v: column %d differs from the built-in equivalent (%v)", v[0], i+1, ok)
			}
		}
		groups++
	}
	if err := rows.Err(); err != nil || groups != 4 {
		t.Fatalf("%d groups, %v", groups, err)
	}
	rows.Close()
}

// A window aggregate matches SQLite's sum() over every kind of frame.
func TestFunctionsReviewWindowFrames(t *testing.T) {
	cfg := &frAggCfg{}
	db := openTestDB(t, "", frAggOpt("wsum", cfg))
	mustExec(t, db, "CREATE TABLE t(p INTEGER, o INTEGER, x INTEGER)")
	mustExec(t, db, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 120) INSERT INTO t SELECT i % 3, i / 4, (i * 7919) % 101 - 50 FROM c")
	for _, w := range []string{
		"ORDER BY o",
		"PARTITION BY p ORDER BY o",
		"PARTITION BY p ORDER BY o ROWS BETWEEN 3 PRECEDING AND 2 FOLLOWING",
		"PARTITION BY p ORDER BY o RANGE BETWEEN 2 PRECEDING AND 1 FOLLOWING",
		"PARTITION BY p ORDER BY o RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING",
		"PARTITION BY p ORDER BY o GROUPS BETWEEN 1 PRECEDING AND 1 FOLLOWING",
		"PARTITION BY p ORDER BY o GROUPS BETWEEN 2 FOLLOWING AND 3 FOLLOWING",
		"ORDER BY o ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING EXCLUDE CURRENT ROW",
		"ORDER BY o ROWS BETWEEN 2 PRECEDING AND 2 FOLLOWING EXCLUDE GROUP",
		"ORDER BY o RANGE BETWEEN 1 PRECEDING AND 1 FOLLOWING EXCLUDE TIES",
		"PARTITION BY p ORDER BY o GROUPS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE GROUP",
		"PARTITION BY p",
		"",
	} {
		var bad, total int
		err := db.QueryRow(`SELECT count(*) FILTER (WHERE mine IS NOT theirs), count(*) FROM (SELECT
			wsum(x) OVER w AS mine, sum(x) OVER w AS theirs FROM t WINDOW w AS (`+w+`))`).Scan(&bad, &total)
		if err != nil || bad != 0 || total != 120 {
			t.Errorf("OVER (%s): %d of %d rows differ from sum() (%v)", w, bad, total, err)
		}
		if n := cfg.live.Load(); n != 0 {
			t.Errorf("OVER (%s): %d groups never finalized", w, n)
			cfg.live.Store(0)
		}
	}
}

// An aggregate registered with an interface type argument that is a
// WindowAggregate (WithAggregate[WindowAggregate]) is a window function: A
// implements WindowAggregate.
func TestFunctionsReviewWindowAggregateInterfaceType(t *testing.T) {
	cfg := &frAggCfg{}
	db := openTestDB(t, "", WithAggregate("wsum", 1, func() WindowAggregate { return &frAgg{cfg: cfg} }))
	frSeedTable(t, db, 10)
	var s int64
	if err := db.QueryRow("SELECT wsum(x) FROM t").Scan(&s); err != nil || s != 55 {
		t.Fatalf("as an aggregate: %d %v", s, err)
	}
	var bad int
	if err := db.QueryRow("SELECT count(*) FROM (SELECT wsum(x) OVER w AS a, sum(x) OVER w AS b FROM t WINDOW w AS (ORDER BY x ROWS 2 PRECEDING)) WHERE a IS NOT b").Scan(&bad); err != nil || bad != 0 {
		t.Fatalf("WithAggregate[WindowAggregate] as a window function: %d rows differ, %v", bad, err)
	}
}

// A collation used by an index and a UNIQUE constraint: lookups go
// through the index, integrity_check agrees, duplicates in the collation's
// sense are refused.
func TestFunctionsReviewCollationIndex(t *testing.T) {
	fold := func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) }
	db := openTestDB(t, "", WithCollation("gofold", fold))
	mustExec(t, db, "CREATE TABLE t(s TEXT COLLATE gofold UNIQUE, n INTEGER)")
	for i := range 500 {
		mustExec(t, db, "INSERT INTO t VALUES (?, ?)", fmt.Sprintf("Key-%04d-ÄÖ", i*7919%10007), i)
	}
	if _, err := db.Exec("INSERT INTO t VALUES ('KEY-0000-äö', 0)"); err == nil || !strings.Contains(err.Error(), "UNIQUE") {
		t.Errorf("duplicate under the collation: %v", err)
	}
	var n int
	if err := db.QueryRow("SELECT n FROM t WHERE s = ?", "kEy-7919-äö").Scan(&n); err != nil || n != 1 {
		t.Errorf("lookup through the collation: %d %v", n, err)
	}
	var plan string
	rows, _ := db.Query("EXPLAIN QUERY PLAN SELECT n FROM t WHERE s = 'x'")
	for rows.Next() {
		v := scanAnyRow(t, rows, 4)
		plan += fmt.Sprint(v[3])
	}
	rows.Close()
	if !strings.Contains(plan, "INDEX") {
		t.Errorf("plan %q does not use the index", plan)
	}
	mustExec(t, db, "DELETE FROM t WHERE n % 3 = 0")
	mustExec(t, db, "REINDEX gofold")
	checkIntegrity(t, db)
	var prev string
	rows, err := db.Query("SELECT s FROM t ORDER BY s")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		if prev != "" && fold(prev, s) >= 0 {
			t.Fatalf("ORDER BY: %q before %q", prev, s)
		}
		prev = s
	}
	rows.Close()
}

// A collation that is not a total order (random answers) must not crash or
// hang anything; errors are acceptable.
func TestFunctionsReviewCollationNotTotalOrder(t *testing.T) {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(1, 2))
	chaos := func(a, b string) int {
		mu.Lock()
		defer mu.Unlock()
		return r.IntN(3) - 1
	}
	dsn := "file:" + filepath.ToSlash(filepath.Join(t.TempDir(), "test.db"))
	db, err := Open(dsn, WithCollation("chaos", chaos))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		db.Exec("CREATE TABLE t(s TEXT COLLATE chaos)")
		db.Exec("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 3000) INSERT INTO t SELECT hex(randomblob(8)) FROM c")
		rows, err := db.Query("SELECT s FROM t ORDER BY s")
		if err == nil {
			for rows.Next() {
			}
			rows.Close()
		}
		db.Exec("CREATE INDEX t_s ON t(s)")
		db.Exec("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 1000) INSERT INTO t SELECT hex(randomblob(8)) FROM c")
		db.Exec("SELECT count(DISTINCT s) FROM t")
		db.Exec("SELECT s FROM t GROUP BY s")
		rows, err = db.Query("PRAGMA integrity_check")
		if err == nil {
			for rows.Next() {
			}
			rows.Close()
		}
		db.Exec("DELETE FROM t WHERE rowid % 2 = 0")
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("a non-total-order collation hung the database")
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM t NOT INDEXED").Scan(&n); err != nil || n < 1000 {
		t.Fatalf("after the chaos: %d rows, %v", n, err)
	}
}

// A collation's panic fails its own statement only: another statement open
// on the same connection (a transaction's Rows) goes on.
func TestFunctionsReviewCollationPanicSparesOtherStatement(t *testing.T) {
	var boom atomic.Bool
	fragile := func(a, b string) int {
		if boom.Load() {
			panic("collation broke")
		}
		return strings.Compare(a, b)
	}
	db := openTestDB(t, "", WithCollation("fragile", fragile))
	frSeedTable(t, db, 50)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	rows, err := tx.Query("SELECT x FROM t ORDER BY x")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for n < 5 && rows.Next() {
		n++
	}
	boom.Store(true)
	_, err = tx.Exec("SELECT CAST(x AS TEXT) FROM t ORDER BY 1 COLLATE fragile")
	boom.Store(false)
	if err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("panicking collation: %v", err)
	}
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil || n != 50 {
		t.Fatalf("the other statement of the transaction: %d rows then %v, want 50 rows", n, err)
	}
	rows.Close()
}

// Eight connections run scalar, aggregate, window functions and a
// collation at once (for the race detector; kept light).
func TestFunctionsReviewConcurrentPool(t *testing.T) {
	var calls atomic.Int64
	shared := map[string]int64{"a": 1} // read-only, shared by all calls
	scalar := func(_ context.Context, args []driver.Value) (driver.Value, error) {
		calls.Add(1)
		return args[0].(int64) + shared["a"], nil
	}
	cfg := &frAggCfg{}
	db := openTestDB(t, "", WithFunction("inc", 1, scalar, Deterministic), frAggOpt("wsum", cfg),
		WithCollation("rev", func(a, b string) int { return strings.Compare(b, a) }))
	db.SetMaxOpenConns(8)
	frSeedTable(t, db, 40)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 4 {
				var a, b int64
				var s string
				err := db.QueryRow(`SELECT sum(inc(x)), (SELECT max(v) FROM (SELECT wsum(x) OVER (ORDER BY x ROWS 2 PRECEDING) AS v FROM t)),
					(SELECT group_concat(g, '') FROM (SELECT DISTINCT CAST(g AS TEXT) AS g FROM t ORDER BY g COLLATE rev))
					FROM t WHERE x <= ?`, 10+w+i).Scan(&a, &b, &s)
				n := int64(10 + w + i)
				if err == nil && (a != n*(n+1)/2+n || b != 117 || s != "210") {
					err = fmt.Errorf("worker %d: %d %d %q", w, a, b, s)
				}
				if err != nil {
					errs <- err
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
	if cfg.live.Load() != 0 {
		t.Errorf("%d groups never finalized", cfg.live.Load())
	}
}

// Opening and closing 200 connections with functions registered leaks no
// goroutines and finalizes every aggregate group.
func TestFunctionsReviewConnectionChurn(t *testing.T) {
	cfg := &frAggCfg{}
	db := openTestDB(t, "", WithFunction("id", 1, frID), frAggOpt("agg", cfg),
		WithCollation("rev", func(a, b string) int { return strings.Compare(b, a) }))
	frSeedTable(t, db, 10)
	db.SetMaxIdleConns(0)
	ctx := context.Background()
	churn := func(n int) {
		for range n {
			c, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var s int64
			if err := c.QueryRowContext(ctx, "SELECT agg(id(x)) FROM t ORDER BY 1 COLLATE rev").Scan(&s); err != nil || s != 55 {
				t.Fatalf("%d %v", s, err)
			}
			// A window group abandoned half way.
			rows, err := c.QueryContext(ctx, "SELECT agg(x) OVER (ORDER BY x ROWS 1 PRECEDING) FROM t")
			if err != nil {
				t.Fatal(err)
			}
			rows.Next()
			rows.Close()
			c.Close()
		}
	}
	churn(20)
	runtime.GC()
	time.Sleep(50 * time.Millisecond)
	g0 := runtime.NumGoroutine()
	churn(200)
	runtime.GC()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > g0+2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > g0+2 {
		t.Errorf("goroutines %d -> %d after 200 connections", g0, g)
	}
	if n := cfg.live.Load(); n != 0 {
		t.Errorf("%d aggregate groups never finalized", n)
	}
	if s := db.Stats(); s.OpenConnections != 0 {
		t.Errorf("%d connections still open", s.OpenConnections)
	}
}

// A function may use the pool (another connection) while its statement
// runs.
func TestFunctionsReviewReentrantOtherConnection(t *testing.T) {
	var db *sql.DB
	lookup := func(ctx context.Context, args []driver.Value) (driver.Value, error) {
		var name string
		err := db.QueryRowContext(ctx, "SELECT name FROM names WHERE id = ?", args[0]).Scan(&name)
		return name, err
	}
	db = openTestDB(t, "", WithFunction("lookup", 1, lookup))
	db.SetMaxOpenConns(2)
	mustExec(t, db, "CREATE TABLE names(id INTEGER PRIMARY KEY, name TEXT)")
	mustExec(t, db, "CREATE TABLE t(id INTEGER)")
	for i := range 20 {
		mustExec(t, db, "INSERT INTO names VALUES (?, ?)", i, fmt.Sprint("n", i))
		mustExec(t, db, "INSERT INTO t VALUES (?)", i)
	}
	var s string
	if err := db.QueryRow("SELECT group_concat(lookup(id), ',') FROM (SELECT id FROM t ORDER BY id)").Scan(&s); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s, "n0,n1,n2,") || strings.Count(s, ",") != 19 {
		t.Fatalf("got %q", s)
	}
	// The inner statement's error is the outer one's cause.
	_, err := db.Exec("SELECT lookup(100)")
	if !errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("lookup of a missing id: %v, want sql.ErrNoRows inside", err)
	}
}

// BEGIN CONCURRENT with CDC on: a table whose generated column and CHECK
// use Go functions; the change stream carries the generated values.
func TestFunctionsReviewConcurrentTxCDC(t *testing.T) {
	triple := func(_ context.Context, args []driver.Value) (driver.Value, error) { return args[0].(int64) * 3, nil }
	small := func(_ context.Context, args []driver.Value) (driver.Value, error) { return args[0].(int64) < 100, nil }
	db := openTestDB(t, "cdc=on", WithFunction("triple", 1, triple, Deterministic), WithFunction("small", 1, small, Deterministic))
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, x INTEGER CHECK (small(x)), y INTEGER GENERATED ALWAYS AS (triple(x)) STORED)")
	mustExec(t, db, "CREATE TABLE u(a)")
	mustExec(t, db, "INSERT INTO t(id, x) VALUES (10, 1)")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := Changes(ctx, db, ChangeOptions{Tables: []string{"t"}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: LevelConcurrent})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO t(id, x) VALUES (1, 5), (2, 7)"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO t(id, x) VALUES (3, 500)"); err == nil || !strings.Contains(err.Error(), "CHECK") {
		t.Fatalf("CHECK in a concurrent transaction: %v", err)
	}
	if _, err := tx.Exec("UPDATE t SET x = x + 1 WHERE id = 2"); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "INSERT INTO u VALUES (1)") // another commit first
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	want := map[int64]int64{1: 15, 2: 24}
	got := map[int64]int64{}
	for range 3 {
		ch, err := st.Next(ctx)
		if err != nil {
			t.Fatalf("stream: %v (got %v)", err, got)
		}
		y := ch.New[slices.Index(ch.Columns, "y")]
		got[ch.RowID] = y.(int64)
	}
	for id, y := range want {
		if got[id] != y {
			t.Errorf("change of row %d: y = %d, want %d (all: %v)", id, got[id], y, got)
		}
	}
}

// A database in UTF-16: functions get and give UTF-8, collations compare
// UTF-8.
func TestFunctionsReviewUTF16Database(t *testing.T) {
	var seen atomic.Value
	rev := func(_ context.Context, args []driver.Value) (driver.Value, error) {
		s := args[0].(string)
		seen.Store(s)
		r := []rune(s)
		slices.Reverse(r)
		return string(r), nil
	}
	db := openTestDB(t, "", WithFunction("rev", 1, rev), WithCollation("bylen", func(a, b string) int { return len(a) - len(b) }))
	db.SetMaxOpenConns(1)
	mustExec(t, db, "PRAGMA encoding = 'UTF-16le'")
	mustExec(t, db, "CREATE TABLE t(s TEXT)")
	var enc string
	if err := db.QueryRow("PRAGMA encoding").Scan(&enc); err != nil || enc != "UTF-16le" {
		t.Skipf("encoding %q %v", enc, err)
	}
	mustExec(t, db, "INSERT INTO t VALUES ('héllo wörld 😀'), ('ab'), ('日本語')")
	var s string
	if err := db.QueryRow("SELECT rev(s) FROM t WHERE rowid = 1").Scan(&s); err != nil || s != "😀 dlröw olléh" {
		t.Fatalf("rev = %q %v (saw %q)", s, err, seen.Load())
	}
	var order string
	if err := db.QueryRow("SELECT group_concat(s, '|') FROM (SELECT s FROM t ORDER BY s COLLATE bylen)").Scan(&order); err != nil || order != "ab|日本語|héllo wörld 😀" {
		t.Fatalf("ORDER BY COLLATE bylen: %q %v (UTF-8 lengths 2, 9, 18)", order, err)
	}
}

// A text result over SQLite's 1e9-byte limit fails the statement with
// SQLITE_TOOBIG; one at the limit works. (About 3 GB.)
func TestFunctionsReviewHugeResult(t *testing.T) {
	if os.Getenv("LIBSQL_SOAK") == "" {
		t.Skip("LIBSQL_SOAK unset: needs about 3 GB")
	}
	var size atomic.Int64
	big := func(context.Context, []driver.Value) (driver.Value, error) {
		return make([]byte, size.Load()), nil
	}
	db := openTestDB(t, "", WithFunction("big", 0, big))
	db.SetMaxOpenConns(1)
	size.Store(1_000_000_001)
	var n int64
	err := db.QueryRow("SELECT length(big())").Scan(&n)
	if err == nil || !strings.Contains(err.Error(), "too big") {
		t.Fatalf("1e9+1-byte blob: %d %v, want string or blob too big", n, err)
	}
	runtime.GC()
	size.Store(1_000_000_000)
	if err := db.QueryRow("SELECT length(big())").Scan(&n); err != nil || n != 1_000_000_000 {
		t.Fatalf("1e9-byte blob: %d %v", n, err)
	}
}

// Calls nested in calls of the same function: scalar f(f(f(x))), and an
// aggregate whose argument is a subquery using the same aggregate (two
// groups of it in progress, their Steps interleaved).
func TestFunctionsReviewNestedCalls(t *testing.T) {
	add1 := func(_ context.Context, args []driver.Value) (driver.Value, error) {
		if len(args) == 2 {
			return args[0].(int64) + args[1].(int64), nil
		}
		return args[0].(int64) + 1, nil
	}
	cfg := &frAggCfg{}
	db := openTestDB(t, "", WithFunction("f", -1, add1), frAggOpt("agg", cfg))
	frSeedTable(t, db, 30)
	var a, b, c, d int64
	err := db.QueryRow(`SELECT sum(f(f(f(x)), f(x, f(x)))),
		sum(3 * x + 3),
		agg((SELECT agg(u.x) FROM t AS u WHERE u.g = t.g AND u.x <= t.x)),
		sum((SELECT sum(u.x) FROM t AS u WHERE u.g = t.g AND u.x <= t.x))
		FROM t`).Scan(&a, &b, &c, &d)
	if err != nil || a != b || c != d {
		t.Fatalf("nested f: %d, want %d; nested agg: %d, want %d (%v)", a, b, c, d, err)
	}
	if n := cfg.live.Load(); n != 0 {
		t.Fatalf("%d groups never finalized", n)
	}
}

// A function's error inside a trigger is the statement's error's cause,
// and the statement's changes are undone.
func TestFunctionsReviewErrorInTrigger(t *testing.T) {
	errNeg := errors.New("negative")
	check := func(_ context.Context, args []driver.Value) (driver.Value, error) {
		if args[0].(int64) < 0 {
			return nil, errNeg
		}
		return args[0], nil
	}
	db := openTestDB(t, "", WithFunction("chk", 1, check))
	mustExec(t, db, "CREATE TABLE t(x INTEGER)")
	mustExec(t, db, "CREATE TABLE log(x INTEGER)")
	mustExec(t, db, "CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO log VALUES (chk(new.x)); END")
	mustExec(t, db, "INSERT INTO t VALUES (1)")
	_, err := db.Exec("INSERT INTO t VALUES (2), (-1), (3)")
	if !errors.Is(err, errNeg) {
		t.Fatalf("error in a trigger: %v, want errNeg inside", err)
	}
	var n, m int
	if err := db.QueryRow("SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM log)").Scan(&n, &m); err != nil || n != 1 || m != 1 {
		t.Fatalf("after the failed INSERT: %d rows, %d log rows (%v); want 1, 1", n, m, err)
	}
}
