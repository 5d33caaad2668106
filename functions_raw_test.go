package libsql

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRawFunctionArguments: a RawFunction reads each datatype in place,
// and converts as SQLite's sqlite3_value_* functions do.
func TestRawFunctionArguments(t *testing.T) {
	describe := func(f *FuncContext) {
		var b strings.Builder
		for i := range f.NArg() {
			fmt.Fprintf(&b, "%s:%d:%g:%q:%v;", f.Type(i), f.Int64(i), f.Float(i), f.RawText(i), f.RawBlob(i) == nil)
		}
		fmt.Fprintf(&b, "past:%s:%d:%q", f.Type(f.NArg()), f.Int64(f.NArg()), f.RawText(-1))
		f.ResultText(b.String())
	}
	db := openTestDB(t, "", WithRawFunction("describe", -1, describe))
	var got string
	if err := db.QueryRow("SELECT describe(42, 3.75, '12abc', x'00ff', NULL, -0.0)").Scan(&got); err != nil {
		t.Fatal(err)
	}
	want := `INTEGER:42:42:"42":false;` +
		`REAL:3:3.75:"3.75":false;` +
		`TEXT:12:12:"12abc":false;` +
		"BLOB:0:0:\"\\x00\\xff\":false;" +
		`NULL:0:0:"":true;` +
		`REAL:0:-0:"0.0":false;` +
		`past:NULL:0:""`
	if got != want {
		t.Fatalf("arguments read as\n  %s\nwant\n  %s", got, want)
	}
	// The type of an argument is its type when the call began: reading a
	// number as text does not make it text.
	types := func(f *FuncContext) {
		f.RawText(0)
		f.ResultText(f.Type(0).String())
	}
	db2 := openTestDB(t, "", WithRawFunction("typeafter", 1, types))
	if err := db2.QueryRow("SELECT typeafter(7)").Scan(&got); err != nil || got != "INTEGER" {
		t.Fatalf("type after RawText: %q, %v", got, err)
	}
}

// TestRawFunctionResults: each Result method, ResultValue's conversions
// (a time.Time in the connection's _time_format), no result (NULL), and
// a kept text that outlives its call through Text.
func TestRawFunctionResults(t *testing.T) {
	ts := time.Date(2026, 12, 7, 10, 30, 0, 0, time.UTC)
	var kept []string
	var mu sync.Mutex
	res := func(f *FuncContext) {
		switch f.Text(0) {
		case "int":
			f.ResultInt64(-7)
		case "float":
			f.ResultFloat(2.5)
		case "text":
			f.ResultText("héllo")
		case "rawtext":
			f.ResultRawText([]byte("raw"))
		case "blob":
			f.ResultBlob([]byte{1, 2})
		case "emptyblob":
			f.ResultBlob(nil)
		case "null":
			f.ResultNull()
		case "time":
			f.ResultValue(ts)
		case "bool":
			f.ResultValue(true)
		case "bad":
			f.ResultValue(struct{}{})
		case "keep":
			mu.Lock()
			kept = append(kept, f.Text(1))
			mu.Unlock()
		}
	}
	db := openTestDB(t, "_time_format=unix_milli", WithRawFunction("res", -1, res))
	for _, tc := range []struct{ arg, want string }{
		{"int", "integer -7"},
		{"float", "real 2.5"},
		{"text", "text héllo"},
		{"rawtext", "text raw"},
		{"blob", "blob \x01\x02"},
		{"emptyblob", "blob "},
		{"null", "null "},
		{"time", fmt.Sprintf("integer %d", ts.UnixMilli())},
		{"bool", "integer 1"},
		{"nothing", "null "},
	} {
		var typ, v string
		if err := db.QueryRow("SELECT typeof(res(?)), CAST(res(?) AS TEXT)", tc.arg, tc.arg).Scan(&typ, &nullable{&v}); err != nil {
			t.Fatalf("%s: %v", tc.arg, err)
		}
		if got := typ + " " + v; got != tc.want {
			t.Fatalf("res(%s): %q, want %q", tc.arg, got, tc.want)
		}
	}
	if _, err := db.Exec("SELECT res('bad')"); err == nil || !strings.Contains(err.Error(), "res") {
		t.Fatalf("an unsupported ResultValue: %v", err)
	}
	mustExec(t, db, "CREATE TABLE t(s TEXT)")
	mustExec(t, db, "INSERT INTO t VALUES ('a'), ('bb'), ('ccc')")
	mustExec(t, db, "SELECT res('keep', s) FROM t")
	mustExec(t, db, "UPDATE t SET s = 'changed'")
	if got := strings.Join(kept, ","); got != "a,bb,ccc" {
		t.Fatalf("texts kept from the calls: %q", got)
	}
}

// nullable scans a NULL as "".
type nullable struct{ s *string }

func (n *nullable) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*n.s = ""
	case string:
		*n.s = v
	case []byte:
		*n.s = string(v)
	default:
		*n.s = fmt.Sprint(v)
	}
	return nil
}

// TestRawFunctionErrorsAndPanics: ResultError and a panic fail the
// statement with the function's error as the *Error's cause, change
// nothing, and stick to no later statement.
func TestRawFunctionErrorsAndPanics(t *testing.T) {
	errBoom := errors.New("boom")
	fn := func(f *FuncContext) {
		switch f.Int64(0) {
		case 3:
			f.ResultError(errBoom)
		case 4:
			panic("kaboom")
		case 5:
			f.ResultError(nil)
		default:
			f.ResultInt64(f.Int64(0))
		}
	}
	db := openTestDB(t, "", WithRawFunction("fn", 1, fn))
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE dst(x INTEGER)")
	_, err := db.Exec("INSERT INTO dst SELECT fn(value) FROM json_each('[1,2,3]')")
	var le *Error
	if !errors.Is(err, errBoom) || !errors.As(err, &le) || le.Code() != ERROR {
		t.Fatalf("ResultError: %v, want an *Error wrapping errBoom", err)
	}
	if _, err := db.Exec("INSERT INTO dst SELECT fn(value) FROM json_each('[1,4]')"); err == nil || !strings.Contains(err.Error(), "kaboom") {
		t.Fatalf("panic: %v", err)
	}
	if _, err := db.Exec("SELECT fn(5)"); err == nil || !strings.Contains(err.Error(), "ResultError(nil)") {
		t.Fatalf("ResultError(nil): %v", err)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM dst").Scan(&n); err != nil || n != 0 {
		t.Fatalf("dst has %d rows (%v), want 0", n, err)
	}
	if _, err := db.Exec("INSERT INTO nosuch VALUES (1)"); err == nil || errors.Is(err, errBoom) || strings.Contains(err.Error(), "kaboom") {
		t.Fatalf("unrelated error %v carries an earlier function's error", err)
	}
	if err := WithRawFunction("x", 1, nil)(&config{}); err == nil || !strings.Contains(err.Error(), "WithRawFunction") {
		t.Fatalf("nil function: %v", err)
	}
	if err := WithRawFunction("x", 1001, fn)(&config{}); err == nil {
		t.Fatal("1001 arguments accepted")
	}
}

// TestRawFunctionContextAndIndex: the statement's context reaches the
// function, and a deterministic RawFunction may back an index on an
// expression, which integrity_check verifies with it.
func TestRawFunctionContextAndIndex(t *testing.T) {
	type key struct{}
	rev := func(f *FuncContext) {
		if v := f.Context().Value(key{}); v != nil && v != "mine" {
			f.ResultError(fmt.Errorf("context value %v", v))
			return
		}
		b := bytes.Clone(f.RawText(0))
		for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
			b[i], b[j] = b[j], b[i]
		}
		f.ResultRawText(b)
	}
	db := openTestDB(t, "", WithRawFunction("rev", 1, rev, Deterministic))
	mustExec(t, db, "CREATE TABLE t(s TEXT)")
	mustExec(t, db, "CREATE INDEX t_rev ON t(rev(s))")
	mustExec(t, db, "INSERT INTO t VALUES ('abc'), ('xyz')")
	var s string
	ctx := context.WithValue(context.Background(), key{}, "mine")
	if err := db.QueryRowContext(ctx, "SELECT s FROM t WHERE rev(s) = 'cba'").Scan(&s); err != nil || s != "abc" {
		t.Fatalf("lookup through the index: %q, %v", s, err)
	}
	checkIntegrity(t, db)
}

// TestRawFunctionConcurrentConnections: one RawFunction runs on several
// connections at once (run under -race by make test).
func TestRawFunctionConcurrentConnections(t *testing.T) {
	db := openTestDB(t, "", WithRawFunction("inc", 1, func(f *FuncContext) { f.ResultInt64(f.Int64(0) + 1) }, Deterministic))
	db.SetMaxOpenConns(4)
	mustExec(t, db, "CREATE TABLE t(x INTEGER)")
	mustExec(t, db, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 100) INSERT INTO t SELECT i FROM c")
	checkIncSums(t, db, "SELECT coalesce(sum(inc(x)), 0) FROM t WHERE x <= ?")
}
