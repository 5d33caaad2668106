package libsql_test

// A differential test of the database/sql surface: the same calls run on
// this driver ("libsql") and on modernc.org/sqlite's ("sqlite"), each on a
// fresh temporary database file, and what comes back is compared — values
// scanned into every common Go destination, arguments of every common Go
// type, column types, results, errors, contexts and closed objects.
//
// Every case records an outcome per driver: the values it saw, and for an
// error its class (an SQLite extended result code, a context error, one of
// database/sql's own errors, or "go" for any other error; messages differ
// between drivers by design and are only logged). The outcomes must be
// equal, except for the differences listed in the case tables with the
// outcome expected of each driver and the reason: a README sentence that
// documents ours, or why modernc is the odd one. The differences it found
// that were bugs of ours have a regression test each (TestAPIDiff...).

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golibsql/libsql"
	"modernc.org/sqlite"
)

// apiDiffDrivers are the database/sql names of the two drivers compared.
var apiDiffDrivers = [2]string{"libsql", "sqlite"}

// apiDiffOpen opens a new database file with driverName and one
// connection, and runs setup on it in one transaction. Neither driver syncs
// (durability is not what this test compares; it keeps the many fresh
// databases cheap).
func apiDiffOpen(t *testing.T, driverName string, setup ...string) *sql.DB {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "api.db")
	if driverName == "libsql" {
		dsn += "?sync=off"
	} else {
		dsn += "?_pragma=synchronous(off)"
	}
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	if len(setup) == 0 {
		return db
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range setup {
		if _, err := tx.Exec(q); err != nil {
			t.Fatalf("%s: %s: %v", driverName, q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return db
}

// apiDiffRec records a case's outcome: key is compared between drivers, raw
// (with the full error messages) is logged.
type apiDiffRec struct{ key, raw []string }

// val records a value.
func (r *apiDiffRec) val(v any) {
	s := apiDiffShow(v)
	r.key = append(r.key, s)
	r.raw = append(r.raw, s)
}

// err records an error, or "ok" for nil.
func (r *apiDiffRec) err(err error) {
	r.key = append(r.key, apiDiffErrKey(err))
	if err == nil {
		r.raw = append(r.raw, "ok")
	} else {
		r.raw = append(r.raw, fmt.Sprintf("err(%q)", err.Error()))
	}
}

// res records v, or err if it is not nil.
func (r *apiDiffRec) res(v any, err error) {
	if err != nil {
		r.err(err)
		return
	}
	r.val(v)
}

func (r *apiDiffRec) String() string { return strings.Join(r.key, " | ") }

// apiDiffErrKey returns the class of err that must agree between the
// drivers.
func apiDiffErrKey(err error) string {
	var le *libsql.Error
	var se *sqlite.Error
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, context.Canceled):
		return "err(canceled)"
	case errors.Is(err, context.DeadlineExceeded):
		return "err(deadline)"
	case errors.As(err, &le):
		return fmt.Sprintf("err(sqlite %d)", int(le.ExtendedCode()))
	case errors.As(err, &se):
		return fmt.Sprintf("err(sqlite %d)", se.Code())
	case strings.HasPrefix(err.Error(), "sql: converting argument"):
		return "err(sql: converting argument)"
	case strings.HasPrefix(err.Error(), "sql: expected "):
		// database/sql counts the arguments of a prepared statement
		// for a driver whose NumInput knows the count (ours), the driver
		// does for one that says -1 (modernc): the same error, told by
		// another layer.
		return "err(go)"
	case strings.HasPrefix(err.Error(), "sql: "):
		// database/sql's own errors (Scan conversions, closed objects, no
		// rows, argument counts) do not depend on the driver's wording.
		return "err(" + err.Error() + ")"
	}
	return "err(go)"
}

// apiDiffShow formats a value with its Go type, telling nil slices from
// empty ones and showing a time's zone.
func apiDiffShow(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case []byte:
		if x == nil {
			return "[]byte(nil)"
		}
		return fmt.Sprintf("[]byte(%q)", x)
	case sql.RawBytes:
		if x == nil {
			return "RawBytes(nil)"
		}
		return fmt.Sprintf("RawBytes(%q)", x)
	case time.Time:
		_, off := x.Zone()
		return fmt.Sprintf("time(%s loc=%q off=%d)", x.Format(time.RFC3339Nano), x.Location().String(), off)
	case string:
		return fmt.Sprintf("string(%q)", x)
	case reflect.Type:
		return "type(" + x.String() + ")"
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer:
		if rv.IsNil() {
			return "*" + rv.Type().Elem().String() + "(nil)"
		}
		return "&" + apiDiffShow(rv.Elem().Interface())
	case reflect.Struct:
		var b strings.Builder
		b.WriteString(rv.Type().String() + "{")
		for i := range rv.NumField() {
			if i > 0 {
				b.WriteString(" ")
			}
			b.WriteString(rv.Type().Field(i).Name + ":" + apiDiffShow(rv.Field(i).Interface()))
		}
		return b.String() + "}"
	}
	return fmt.Sprintf("%T(%v)", v, v)
}

// apiDiffCase is one sequence of calls, run on a database of each driver.
type apiDiffCase struct {
	name string
	// fresh: the case runs on a database of its own, set up with setup;
	// else on the test's shared database (setup must then be empty).
	fresh bool
	setup []string
	run   func(t *testing.T, db *sql.DB, r *apiDiffRec)
}

// apiDiffKnown is a difference the test expects: the outcome of each
// driver and why (the README sentence that documents ours, or why
// modernc's is the odd one).
// A difference that is a bug of ours names, in bug, the skipped test that
// shows it; the case is then only logged.
type apiDiffKnown struct{ ours, modernc, why string }

// The reasons for the expected differences. (b): a deliberate difference,
// with the README sentence that documents ours; (c): modernc is the odd
// one, with why; (a): a bug or undocumented surprise of ours, with the
// skipped test that shows it.
const (
	whyEmptyBlob = "(c) modernc reads an empty blob as a nil []byte, the value it reads for NULL, so " +
		"scanned into any or []byte an empty blob and NULL look alike; mattn/go-sqlite3 returns []byte{}, " +
		"and the README's \"an empty slice is an empty blob; a nil slice is NULL\" only round-trips with ours"
	whyUintError = "(b) README: \"uint, uint64 | INTEGER; a value above math.MaxInt64 is an **error**, never wrapped\"; " +
		"modernc leaves uint to database/sql's default converter, which wraps it (stores -1)"
	whyTimeFormat = "(b) README: \"time.Time | TEXT in the _time_format layout (RFC 3339 with nanoseconds by default)\"; " +
		"modernc stores time.Time.String()"
	whyTimeZoneName = "(b) the same instant and offset, but RFC 3339 (README: \"RFC 3339 with nanoseconds by default\") " +
		"has no zone abbreviation, so the location comes back unnamed; modernc's time.Time.String() text keeps \"IST\""
	whyNamedPositional = "(b) README: \"A named parameter takes the positional argument of its position when no " +
		"argument has a name.\"; modernc fails: missing named argument"
	whyNumInput = "(c) modernc's Stmt.NumInput returns -1, so database/sql does not check the argument count of " +
		"a prepared statement and extra arguments are ignored; ours (like mattn/go-sqlite3) returns SQLite's " +
		"parameter count and database/sql says \"sql: expected N arguments, got M\""
	whyRowsAffected = "(b) README: \"RowsAffected counts rows inserted, updated or deleted by the statement (not by " +
		"triggers), and is 0 for a statement that changes no rows (DDL, SELECT).\"; modernc returns " +
		"sqlite3_changes(), which still holds the count of the last INSERT/UPDATE/DELETE"
	whyEmptyResult = "(c) modernc returns a nil driver.Result for a text without a statement, and database/sql panics " +
		"in LastInsertId; mattn/go-sqlite3 returns a zero result (its issue 963), as ours does"
	whyArgsPerStatement = "(b) README: \"positional arguments are consumed statement by statement\" (as mattn/go-sqlite3 " +
		"does); modernc binds every statement of the text from the first argument"
	whyNextInterrupt = "(c) README: \"the context given to QueryContext stays in force for the rows: ending it stops a " +
		"Next in progress\"; modernc's Next only honours the context while waiting for a lock, so it computes the " +
		"row in full after the deadline (mattn/go-sqlite3 interrupts)"
	whyReadOnly = "(b) README: \"ReadOnly: true | BEGIN with PRAGMA query_only on for the transaction's duration: a " +
		"write fails with ErrReadOnly\"; modernc ignores ReadOnly and the write commits"
	whyConnReset = "(b) README: \"A connection returned to the pool inside a transaction started with SQL (BEGIN " +
		"through ExecContext on a *sql.Conn) is rolled back before its next use.\"; modernc leaves it open for " +
		"whoever gets the connection next"
	whyStmtTwice = "(c) database/sql lets one Stmt run two queries at once in a Tx; modernc reuses its single " +
		"prepared statement for the second and SQLite refuses (SQLITE_MISUSE, \"bad parameter or other API misuse\")"
	whySQLBegin = "(b) README: \"Every db.Exec and db.Query returns its connection to the pool, so a BEGIN run " +
		"with one db.Exec is rolled back before the next call, even with one connection\"; modernc keeps the " +
		"transaction for whoever gets the connection next"
)

// apiDiffRun runs every case on both drivers, logs both outcomes and checks
// that they agree or, for a case in known, that each is the one expected.
// Cases that are not fresh share one database per driver, set up with
// shared.
func apiDiffRun(t *testing.T, shared []string, cases []apiDiffCase, known map[string]apiDiffKnown) {
	t.Helper()
	var dbs [2]*sql.DB
	for i, d := range apiDiffDrivers {
		dbs[i] = apiDiffOpen(t, d, shared...)
	}
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.name] {
			t.Fatalf("duplicate case %q", c.name)
		}
		seen[c.name] = true
		if !c.fresh && len(c.setup) > 0 {
			t.Fatalf("case %q: setup without fresh", c.name)
		}
		var out [2]apiDiffRec
		for i, d := range apiDiffDrivers {
			db := dbs[i]
			if c.fresh {
				db = apiDiffOpen(t, d, c.setup...)
			}
			start := time.Now()
			c.run(t, db, &out[i])
			if el := time.Since(start); el > 100*time.Millisecond {
				t.Logf("%s on %s took %v", c.name, d, el)
			}
		}
		apiDiffCheck(t, c.name, out, known)
	}
	for name := range known {
		if !seen[name] {
			t.Errorf("known difference %q has no case", name)
		}
	}
}

// apiDiffCheck logs both outcomes of a case and checks them.
func apiDiffCheck(t *testing.T, name string, out [2]apiDiffRec, known map[string]apiDiffKnown) {
	t.Helper()
	ours, theirs := out[0].String(), out[1].String()
	if testing.Verbose() {
		t.Logf("%s:\n\tlibsql:  %s\n\tmodernc: %s", name, strings.Join(out[0].raw, " | "), strings.Join(out[1].raw, " | "))
	}
	if k, ok := known[name]; ok {
		if ours != k.ours || theirs != k.modernc {
			t.Errorf("%s: known difference (%s) changed:\n\tlibsql:  %s\n\t   want: %s\n\tmodernc: %s\n\t   want: %s",
				name, k.why, ours, k.ours, theirs, k.modernc)
		}
		return
	}
	if ours != theirs {
		t.Errorf("%s: drivers differ:\n\tlibsql:  %s\n\tmodernc: %s\n\traw libsql:  %s\n\traw modernc: %s", name, ours, theirs,
			strings.Join(out[0].raw, " | "), strings.Join(out[1].raw, " | "))
	}
}

// apiDiffScanSources are one-column queries, one per storage class and
// edge value; the table v holds values in declared columns.
var apiDiffScanSources = []struct{ name, query string }{
	{"null", "SELECT NULL"},
	{"int", "SELECT 42"},
	{"int-zero", "SELECT 0"},
	{"int-neg", "SELECT -1"},
	{"int-max", "SELECT 9223372036854775807"},
	{"int-min", "SELECT -9223372036854775808"},
	{"real", "SELECT 1.5"},
	{"real-whole", "SELECT 2.0"},
	{"real-1e308", "SELECT 1e308"},
	{"real-inf", "SELECT 1e999"},
	{"real-nan", "SELECT 1e999 - 1e999"},
	{"text", "SELECT 'abc'"},
	{"text-int", "SELECT '42'"},
	{"text-real", "SELECT '1.5'"},
	{"text-empty", "SELECT ''"},
	{"text-true", "SELECT 'true'"},
	{"text-time", "SELECT '2024-01-02 03:04:05'"},
	{"blob", "SELECT x'616263'"},
	{"blob-empty", "SELECT x''"},
	{"zeroblob-0", "SELECT zeroblob(0)"},
	{"col-text-empty", "SELECT s FROM v"},
	{"col-blob-empty", "SELECT b FROM v"},
	{"col-datetime", "SELECT d FROM v"},
	{"col-datetime-zone", "SELECT dz FROM v"},
	{"col-datetime-int", "SELECT di FROM v"},
	{"col-datetime-bad", "SELECT db FROM v"},
	{"col-datetime-null", "SELECT dn FROM v"},
	{"col-date", "SELECT dt FROM v"},
	{"col-timestamp-t", "SELECT ts FROM v"},
	{"col-bool", "SELECT bo FROM v"},
	{"col-numeric", "SELECT n FROM v"},
}

// apiDiffScanSetup creates and fills the table v of apiDiffScanSources.
var apiDiffScanSetup = []string{
	`CREATE TABLE v(s TEXT, b BLOB, d DATETIME, dz DATETIME, di DATETIME, db DATETIME, dn DATETIME,
		dt DATE, ts TIMESTAMP, bo BOOLEAN, n NUMERIC)`,
	`INSERT INTO v VALUES('', x'', '2024-01-02 03:04:05', '2024-01-02T03:04:05.123456789+05:30', 1704164645,
		'not a time', NULL, '2024-01-02', '2024-01-02T03:04:05Z', 1, '12.50')`,
}

// apiDiffScanDests are the Go destinations every source is scanned into.
var apiDiffScanDests = []struct {
	name string
	new  func() any
}{
	{"int64", func() any { return new(int64) }},
	{"int", func() any { return new(int) }},
	{"int32", func() any { return new(int32) }},
	{"uint64", func() any { return new(uint64) }},
	{"float64", func() any { return new(float64) }},
	{"float32", func() any { return new(float32) }},
	{"bool", func() any { return new(bool) }},
	{"string", func() any { return new(string) }},
	{"[]byte", func() any { return new([]byte) }},
	{"RawBytes", func() any { return new(sql.RawBytes) }},
	{"NullInt64", func() any { return new(sql.NullInt64) }},
	{"NullInt32", func() any { return new(sql.NullInt32) }},
	{"NullFloat64", func() any { return new(sql.NullFloat64) }},
	{"NullBool", func() any { return new(sql.NullBool) }},
	{"NullString", func() any { return new(sql.NullString) }},
	{"NullTime", func() any { return new(sql.NullTime) }},
	{"Null[int64]", func() any { return new(sql.Null[int64]) }},
	{"time.Time", func() any { return new(time.Time) }},
	{"any", func() any { return new(any) }},
	{"*int64", func() any { return new(*int64) }},
	{"*string", func() any { return new(*string) }},
	{"*[]byte", func() any { return new(*[]byte) }},
	{"*time.Time", func() any { return new(*time.Time) }},
}

// apiDiffScanKnown are the cells of the scan matrix where the drivers
// differ on purpose, keyed "source/destination".
var apiDiffScanKnown = map[string]apiDiffKnown{
	"blob-empty/[]byte": {
		ours:    "[]byte(\"\")",
		modernc: "[]byte(nil)",
		why:     whyEmptyBlob,
	},
	"blob-empty/RawBytes": {
		ours:    "RawBytes(\"\")",
		modernc: "RawBytes(nil)",
		why:     whyEmptyBlob,
	},
	"blob-empty/any": {
		ours:    "[]byte(\"\")",
		modernc: "[]byte(nil)",
		why:     whyEmptyBlob,
	},
	"blob-empty/*[]byte": {
		ours:    "&[]byte(\"\")",
		modernc: "&[]byte(nil)",
		why:     whyEmptyBlob,
	},
	"zeroblob-0/[]byte": {
		ours:    "[]byte(\"\")",
		modernc: "[]byte(nil)",
		why:     whyEmptyBlob,
	},
	"zeroblob-0/RawBytes": {
		ours:    "RawBytes(\"\")",
		modernc: "RawBytes(nil)",
		why:     whyEmptyBlob,
	},
	"zeroblob-0/any": {
		ours:    "[]byte(\"\")",
		modernc: "[]byte(nil)",
		why:     whyEmptyBlob,
	},
	"zeroblob-0/*[]byte": {
		ours:    "&[]byte(\"\")",
		modernc: "&[]byte(nil)",
		why:     whyEmptyBlob,
	},
	"col-blob-empty/[]byte": {
		ours:    "[]byte(\"\")",
		modernc: "[]byte(nil)",
		why:     whyEmptyBlob,
	},
	"col-blob-empty/RawBytes": {
		ours:    "RawBytes(\"\")",
		modernc: "RawBytes(nil)",
		why:     whyEmptyBlob,
	},
	"col-blob-empty/any": {
		ours:    "[]byte(\"\")",
		modernc: "[]byte(nil)",
		why:     whyEmptyBlob,
	},
	"col-blob-empty/*[]byte": {
		ours:    "&[]byte(\"\")",
		modernc: "&[]byte(nil)",
		why:     whyEmptyBlob,
	},
}

// TestAPIDiffScanMatrix scans every source of apiDiffScanSources (each
// storage class, NULL, extreme integers and floats, NaN, empty text and
// blobs, declared DATETIME/DATE/TIMESTAMP/BOOLEAN/NUMERIC columns) into
// every destination of apiDiffScanDests with Rows.Scan, and checks that
// both drivers give the same value or the same error.
func TestAPIDiffScanMatrix(t *testing.T) {
	var dbs [2]*sql.DB
	for i, d := range apiDiffDrivers {
		dbs[i] = apiDiffOpen(t, d, apiDiffScanSetup...)
	}
	seen := map[string]bool{}
	for _, src := range apiDiffScanSources {
		for _, dst := range apiDiffScanDests {
			name := src.name + "/" + dst.name
			seen[name] = true
			var out [2]apiDiffRec
			for i, db := range dbs {
				rows, err := db.Query(src.query)
				if err != nil {
					t.Fatalf("%s: %s: %v", apiDiffDrivers[i], src.query, err)
				}
				if !rows.Next() {
					t.Fatalf("%s: %s: no row: %v", apiDiffDrivers[i], src.query, rows.Err())
				}
				d := dst.new()
				if err := rows.Scan(d); err != nil {
					out[i].err(err)
				} else {
					out[i].val(reflect.ValueOf(d).Elem().Interface())
				}
				if err := rows.Close(); err != nil {
					t.Fatal(err)
				}
			}
			apiDiffCheck(t, name, out, apiDiffScanKnown)
		}
	}
	for name := range apiDiffScanKnown {
		if !seen[name] {
			t.Errorf("known difference %q has no cell", name)
		}
	}
}

// apiDiffValuer is a driver.Valuer returning v.
type apiDiffValuer struct{ v any }

func (a apiDiffValuer) Value() (driver.Value, error) { return a.v, nil }

// apiDiffPtrValuer is a driver.Valuer with a pointer receiver.
type apiDiffPtrValuer struct{ s string }

func (a *apiDiffPtrValuer) Value() (driver.Value, error) {
	if a == nil {
		return "nil receiver", nil
	}
	return a.s, nil
}

// apiDiffErrValuer is a driver.Valuer that fails.
type apiDiffErrValuer struct{}

func (apiDiffErrValuer) Value() (driver.Value, error) { return nil, errors.New("valuer failed") }

type (
	apiDiffInt    int
	apiDiffUint   uint
	apiDiffUint64 uint64
	apiDiffString string
	apiDiffBytes  []byte
	apiDiffBool   bool
	apiDiffFloat  float32
)

// apiDiffArgs are the arguments bound to one parameter, each by name.
func apiDiffArgs() []struct {
	name string
	arg  any
} {
	i64 := int64(7)
	s := "pointed"
	var nilI64 *int64
	bigUint := uint(math.MaxUint64)
	pi := &i64
	ts := time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC)
	return []struct {
		name string
		arg  any
	}{
		{"nil", nil},
		{"int", int(-1)},
		{"int8", int8(-128)},
		{"int16", int16(-32768)},
		{"int32", int32(math.MinInt32)},
		{"int64-max", int64(math.MaxInt64)},
		{"int64-min", int64(math.MinInt64)},
		{"uint", uint(7)},
		{"uint-big", uint(math.MaxUint64)},
		{"uint8", uint8(255)},
		{"uint16", uint16(65535)},
		{"uint32", uint32(math.MaxUint32)},
		{"uint64-maxint64", uint64(math.MaxInt64)},
		{"uint64-above", uint64(math.MaxInt64) + 1},
		{"uint64-max", uint64(math.MaxUint64)},
		{"float32", float32(0.1)},
		{"float64", 0.1},
		{"float64-1e308", 1e308},
		{"float64-inf", math.Inf(1)},
		{"float64-neginf", math.Inf(-1)},
		{"float64-nan", math.NaN()},
		{"float64-negzero", math.Copysign(0, -1)},
		{"bool-true", true},
		{"bool-false", false},
		{"string", "abc"},
		{"string-empty", ""},
		{"string-nul", "a\x00b"},
		{"bytes", []byte("abc")},
		{"bytes-empty", []byte{}},
		{"bytes-nil", []byte(nil)},
		{"rawbytes", sql.RawBytes("raw")},
		{"json.RawMessage", json.RawMessage(`{"a":1}`)},
		{"time-utc", ts},
		{"time-utc-whole", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)},
		{"time-plus0530", ts.In(time.FixedZone("IST", 5*3600+1800))},
		{"time-minus0700-named", ts.In(time.FixedZone("MST", -7*3600))},
		{"time-zero", time.Time{}},
		{"time-from-unix", time.Unix(1704164645, 0).UTC()},
		{"valuer-int64", apiDiffValuer{int64(5)}},
		{"valuer-string", apiDiffValuer{"v"}},
		{"valuer-nil", apiDiffValuer{nil}},
		{"valuer-int", apiDiffValuer{int(5)}},
		{"valuer-uint64-big", apiDiffValuer{uint64(math.MaxUint64)}},
		{"valuer-error", apiDiffErrValuer{}},
		{"ptr-valuer", &apiDiffPtrValuer{"p"}},
		{"ptr-valuer-nil", (*apiDiffPtrValuer)(nil)},
		{"nullstring-invalid", sql.NullString{}},
		{"nullint64-valid", sql.NullInt64{Int64: 3, Valid: true}},
		{"nulltime-valid", sql.NullTime{Time: ts, Valid: true}},
		{"null-generic", sql.Null[int64]{V: 9, Valid: true}},
		{"ptr-int64", pi},
		{"ptr-string", &s},
		{"ptr-nil", nilI64},
		{"ptr-ptr", &pi},
		{"ptr-uint-big", &bigUint},
		{"named-uint-big", apiDiffUint(math.MaxUint64)},
		{"named-int", apiDiffInt(11)},
		{"named-uint64-big", apiDiffUint64(math.MaxUint64)},
		{"named-string", apiDiffString("ns")},
		{"named-bytes", apiDiffBytes("nb")},
		{"named-bool", apiDiffBool(true)},
		{"named-float32", apiDiffFloat(0.5)},
		{"struct", struct{ A int }{1}},
		{"slice-int", []int{1}},
		{"map", map[string]int{}},
	}
}

// apiDiffBindKnown are the arguments whose binding differs on purpose.
var apiDiffBindKnown = map[string]apiDiffKnown{
	"uint-big": {
		ours:    "err(sql: converting argument) | err(sql: converting argument)",
		modernc: "string(\"integer -1 2D31\") | ok | string(\"integer -1\")",
		why:     whyUintError,
	},
	"ptr-uint-big": {
		ours:    "err(sql: converting argument) | err(sql: converting argument)",
		modernc: "string(\"integer -1 2D31\") | ok | string(\"integer -1\")",
		why:     whyUintError,
	},
	"named-uint-big": {
		ours:    "err(sql: converting argument) | err(sql: converting argument)",
		modernc: "string(\"integer -1 2D31\") | ok | string(\"integer -1\")",
		why:     whyUintError,
	},
	"time-utc": {
		ours:    "string(\"text '2024-01-02T03:04:05.123456789Z' 323032342D30312D30325430333A30343A30352E3132333435363738395A\") | ok | string(\"text '2024-01-02T03:04:05.123456789Z'\")",
		modernc: "string(\"text '2024-01-02 03:04:05.123456789 +0000 UTC' 323032342D30312D30322030333A30343A30352E313233343536373839202B3030303020555443\") | ok | string(\"text '2024-01-02 03:04:05.123456789 +0000 UTC'\")",
		why:     whyTimeFormat,
	},
	"time-utc-whole": {
		ours:    "string(\"text '2024-01-02T03:04:05Z' 323032342D30312D30325430333A30343A30355A\") | ok | string(\"text '2024-01-02T03:04:05Z'\")",
		modernc: "string(\"text '2024-01-02 03:04:05 +0000 UTC' 323032342D30312D30322030333A30343A3035202B3030303020555443\") | ok | string(\"text '2024-01-02 03:04:05 +0000 UTC'\")",
		why:     whyTimeFormat,
	},
	"time-plus0530": {
		ours:    "string(\"text '2024-01-02T08:34:05.123456789+05:30' 323032342D30312D30325430383A33343A30352E3132333435363738392B30353A3330\") | ok | string(\"text '2024-01-02T08:34:05.123456789+05:30'\")",
		modernc: "string(\"text '2024-01-02 08:34:05.123456789 +0530 IST' 323032342D30312D30322030383A33343A30352E313233343536373839202B3035333020495354\") | ok | string(\"text '2024-01-02 08:34:05.123456789 +0530 IST'\")",
		why:     whyTimeFormat,
	},
	"time-minus0700-named": {
		ours:    "string(\"text '2024-01-01T20:04:05.123456789-07:00' 323032342D30312D30315432303A30343A30352E3132333435363738392D30373A3030\") | ok | string(\"text '2024-01-01T20:04:05.123456789-07:00'\")",
		modernc: "string(\"text '2024-01-01 20:04:05.123456789 -0700 MST' 323032342D30312D30312032303A30343A30352E313233343536373839202D30373030204D5354\") | ok | string(\"text '2024-01-01 20:04:05.123456789 -0700 MST'\")",
		why:     whyTimeFormat,
	},
	"time-zero": {
		ours:    "string(\"text '0001-01-01T00:00:00Z' 303030312D30312D30315430303A30303A30305A\") | ok | string(\"text '0001-01-01T00:00:00Z'\")",
		modernc: "string(\"text '0001-01-01 00:00:00 +0000 UTC' 303030312D30312D30312030303A30303A3030202B3030303020555443\") | ok | string(\"text '0001-01-01 00:00:00 +0000 UTC'\")",
		why:     whyTimeFormat,
	},
	"time-from-unix": {
		ours:    "string(\"text '2024-01-02T03:04:05Z' 323032342D30312D30325430333A30343A30355A\") | ok | string(\"text '2024-01-02T03:04:05Z'\")",
		modernc: "string(\"text '2024-01-02 03:04:05 +0000 UTC' 323032342D30312D30322030333A30343A3035202B3030303020555443\") | ok | string(\"text '2024-01-02 03:04:05 +0000 UTC'\")",
		why:     whyTimeFormat,
	},
	"nulltime-valid": {
		ours:    "string(\"text '2024-01-02T03:04:05.123456789Z' 323032342D30312D30325430333A30343A30352E3132333435363738395A\") | ok | string(\"text '2024-01-02T03:04:05.123456789Z'\")",
		modernc: "string(\"text '2024-01-02 03:04:05.123456789 +0000 UTC' 323032342D30312D30322030333A30343A30352E313233343536373839202B3030303020555443\") | ok | string(\"text '2024-01-02 03:04:05.123456789 +0000 UTC'\")",
		why:     whyTimeFormat,
	},
}

// TestAPIDiffBind binds every argument of apiDiffArgs to a parameter and
// reads back the storage class, SQL literal and bytes SQLite got (typeof,
// quote, hex), both through a SELECT and through an INSERT into an untyped
// column.
func TestAPIDiffBind(t *testing.T) {
	var cases []apiDiffCase
	for _, a := range apiDiffArgs() {
		cases = append(cases, apiDiffCase{
			name: a.name,
			run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
				var typ, lit, hex string
				err := db.QueryRow("SELECT typeof(?1), quote(?1), hex(?1)", a.arg).Scan(&typ, &lit, &hex)
				r.res(typ+" "+lit+" "+hex, err)
				if _, err := db.Exec("DELETE FROM b"); err != nil {
					t.Fatal(err)
				}
				_, err = db.Exec("INSERT INTO b(x) VALUES (?)", a.arg)
				r.err(err)
				if err == nil {
					err = db.QueryRow("SELECT typeof(x), quote(x) FROM b").Scan(&typ, &lit)
					r.res(typ+" "+lit, err)
				}
			},
		})
	}
	apiDiffRun(t, []string{"CREATE TABLE b(x)"}, cases, apiDiffBindKnown)
}

// apiDiffRows records a query's outcome: its error, or its columns, every
// row (each value as Scan into any gives it), Err and Close.
func apiDiffRows(r *apiDiffRec, rows *sql.Rows, err error) {
	if err != nil {
		r.err(err)
		return
	}
	cols, err := rows.Columns()
	r.res(cols, err)
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			r.err(err)
			continue
		}
		shown := make([]string, len(vals))
		for i, v := range vals {
			shown[i] = apiDiffShow(v)
		}
		r.val("row(" + strings.Join(shown, ", ") + ")")
	}
	r.err(rows.Err())
	r.err(rows.Close())
}

// apiDiffQuery records the outcome of db.Query(query, args...).
func apiDiffQuery(db *sql.DB, r *apiDiffRec, query string, args ...any) {
	rows, err := db.Query(query, args...)
	apiDiffRows(r, rows, err)
}

// apiDiffResult records an Exec's outcome: its error, or LastInsertId and
// RowsAffected.
func apiDiffResult(r *apiDiffRec, res sql.Result, err error) {
	if err != nil {
		r.err(err)
		return
	}
	defer func() {
		if p := recover(); p != nil {
			r.val(fmt.Sprintf("panic(%v)", p))
		}
	}()
	id, err := res.LastInsertId()
	r.res(fmt.Sprintf("id=%d", id), err)
	n, err := res.RowsAffected()
	r.res(fmt.Sprintf("n=%d", n), err)
}

// apiDiffTimeKnown are the time cases that differ on purpose.
var apiDiffTimeKnown = map[string]apiDiffKnown{
	"utc/tx": {
		ours:    "ok | err(sql: Scan error on column index 0, name \"tx\": unsupported Scan, storing driver.Value type string into type *time.Time) | bool(false) | string(\"2024-01-02T03:04:05.123456789Z\")",
		modernc: "ok | err(sql: Scan error on column index 0, name \"tx\": unsupported Scan, storing driver.Value type string into type *time.Time) | bool(false) | string(\"2024-01-02 03:04:05.123456789 +0000 UTC\")",
		why:     whyTimeFormat,
	},
	"utc/x": {
		ours:    "ok | err(sql: Scan error on column index 0, name \"x\": unsupported Scan, storing driver.Value type string into type *time.Time) | bool(false) | string(\"2024-01-02T03:04:05.123456789Z\")",
		modernc: "ok | err(sql: Scan error on column index 0, name \"x\": unsupported Scan, storing driver.Value type string into type *time.Time) | bool(false) | string(\"2024-01-02 03:04:05.123456789 +0000 UTC\")",
		why:     whyTimeFormat,
	},
	"utc-whole/tx": {
		ours:    "ok | err(sql: Scan error on column index 0, name \"tx\": unsupported Scan, storing driver.Value type string into type *time.Time) | bool(false) | string(\"2024-01-02T03:04:05Z\")",
		modernc: "ok | err(sql: Scan error on column index 0, name \"tx\": unsupported Scan, storing driver.Value type string into type *time.Time) | bool(false) | string(\"2024-01-02 03:04:05 +0000 UTC\")",
		why:     whyTimeFormat,
	},
	"utc-whole/x": {
		ours:    "ok | err(sql: Scan error on column index 0, name \"x\": unsupported Scan, storing driver.Value type string into type *time.Time) | bool(false) | string(\"2024-01-02T03:04:05Z\")",
		modernc: "ok | err(sql: Scan error on column index 0, name \"x\": unsupported Scan, storing driver.Value type string into type *time.Time) | bool(false) | string(\"2024-01-02 03:04:05 +0000 UTC\")",
		why:     whyTimeFormat,
	},
	"plus0530/d": {
		ours:    "ok | time(2024-01-02T03:04:05.12+05:30 loc=\"\" off=19800) | bool(true) | time(2024-01-02T03:04:05.12+05:30 loc=\"\" off=19800)",
		modernc: "ok | time(2024-01-02T03:04:05.12+05:30 loc=\"IST\" off=19800) | bool(true) | time(2024-01-02T03:04:05.12+05:30 loc=\"IST\" off=19800)",
		why:     whyTimeZoneName,
	},
	"plus0530/ts": {
		ours:    "ok | time(2024-01-02T03:04:05.12+05:30 loc=\"\" off=19800) | bool(true) | time(2024-01-02T03:04:05.12+05:30 loc=\"\" off=19800)",
		modernc: "ok | time(2024-01-02T03:04:05.12+05:30 loc=\"IST\" off=19800) | bool(true) | time(2024-01-02T03:04:05.12+05:30 loc=\"IST\" off=19800)",
		why:     whyTimeZoneName,
	},
	"plus0530/dt": {
		ours:    "ok | time(2024-01-02T03:04:05.12+05:30 loc=\"\" off=19800) | bool(true) | time(2024-01-02T03:04:05.12+05:30 loc=\"\" off=19800)",
		modernc: "ok | time(2024-01-02T03:04:05.12+05:30 loc=\"IST\" off=19800) | bool(true) | time(2024-01-02T03:04:05.12+05:30 loc=\"IST\" off=19800)",
		why:     whyTimeZoneName,
	},
	"plus0530/tx": {
		ours:    "ok | err(sql: Scan error on column index 0, name \"tx\": unsupported Scan, storing driver.Value type string into type *time.Time) | bool(false) | string(\"2024-01-02T03:04:05.12+05:30\")",
		modernc: "ok | err(sql: Scan error on column index 0, name \"tx\": unsupported Scan, storing driver.Value type string into type *time.Time) | bool(false) | string(\"2024-01-02 03:04:05.12 +0530 IST\")",
		why:     whyTimeFormat,
	},
	"plus0530/x": {
		ours:    "ok | err(sql: Scan error on column index 0, name \"x\": unsupported Scan, storing driver.Value type string into type *time.Time) | bool(false) | string(\"2024-01-02T03:04:05.12+05:30\")",
		modernc: "ok | err(sql: Scan error on column index 0, name \"x\": unsupported Scan, storing driver.Value type string into type *time.Time) | bool(false) | string(\"2024-01-02 03:04:05.12 +0530 IST\")",
		why:     whyTimeFormat,
	},
	"minus0700/d": {
		ours:    "ok | time(2024-01-02T03:04:05-07:00 loc=\"\" off=-25200) | bool(true) | time(2024-01-02T03:04:05-07:00 loc=\"\" off=-25200)",
		modernc: "ok | time(2024-01-02T03:04:05-07:00 loc=\"MST\" off=-25200) | bool(true) | time(2024-01-02T03:04:05-07:00 loc=\"MST\" off=-25200)",
		why:     whyTimeZoneName,
	},
	"minus0700/ts": {
		ours:    "ok | time(2024-01-02T03:04:05-07:00 loc=\"\" off=-25200) | bool(true) | time(2024-01-02T03:04:05-07:00 loc=\"\" off=-25200)",
		modernc: "ok | time(2024-01-02T03:04:05-07:00 loc=\"MST\" off=-25200) | bool(true) | time(2024-01-02T03:04:05-07:00 loc=\"MST\" off=-25200)",
		why:     whyTimeZoneName,
	},
	"minus0700/dt": {
		ours:    "ok | time(2024-01-02T03:04:05-07:00 loc=\"\" off=-25200) | bool(true) | time(2024-01-02T03:04:05-07:00 loc=\"\" off=-25200)",
		modernc: "ok | time(2024-01-02T03:04:05-07:00 loc=\"MST\" off=-25200) | bool(true) | time(2024-01-02T03:04:05-07:00 loc=\"MST\" off=-25200)",
		why:     whyTimeZoneName,
	},
	"minus0700/tx": {
		ours:    "ok | err(sql: Scan error on column index 0, name \"tx\": unsupported Scan, storing driver.Value type string into type *time.Time) | bool(false) | string(\"2024-01-02T03:04:05-07:00\")",
		modernc: "ok | err(sql: Scan error on column index 0, name \"tx\": unsupported Scan, storing driver.Value type string into type *time.Time) | bool(false) | string(\"2024-01-02 03:04:05 -0700 MST\")",
		why:     whyTimeFormat,
	},
	"minus0700/x": {
		ours:    "ok | err(sql: Scan error on column index 0, name \"x\": unsupported Scan, storing driver.Value type string into type *time.Time) | bool(false) | string(\"2024-01-02T03:04:05-07:00\")",
		modernc: "ok | err(sql: Scan error on column index 0, name \"x\": unsupported Scan, storing driver.Value type string into type *time.Time) | bool(false) | string(\"2024-01-02 03:04:05 -0700 MST\")",
		why:     whyTimeFormat,
	},
	"zero/tx": {
		ours:    "ok | err(sql: Scan error on column index 0, name \"tx\": unsupported Scan, storing driver.Value type string into type *time.Time) | bool(false) | string(\"0001-01-01T00:00:00Z\")",
		modernc: "ok | err(sql: Scan error on column index 0, name \"tx\": unsupported Scan, storing driver.Value type string into type *time.Time) | bool(false) | string(\"0001-01-01 00:00:00 +0000 UTC\")",
		why:     whyTimeFormat,
	},
	"zero/x": {
		ours:    "ok | err(sql: Scan error on column index 0, name \"x\": unsupported Scan, storing driver.Value type string into type *time.Time) | bool(false) | string(\"0001-01-01T00:00:00Z\")",
		modernc: "ok | err(sql: Scan error on column index 0, name \"x\": unsupported Scan, storing driver.Value type string into type *time.Time) | bool(false) | string(\"0001-01-01 00:00:00 +0000 UTC\")",
		why:     whyTimeFormat,
	},
}

// TestAPIDiffTimeRoundTrip stores time.Time arguments of several zones in
// DATETIME, TIMESTAMP, DATE, TEXT and untyped columns and scans them back
// into time.Time and any; it also writes times with modernc and reads
// the file with this driver (what a user switching drivers with an existing
// database sees).
func TestAPIDiffTimeRoundTrip(t *testing.T) {
	times := []struct {
		name string
		t    time.Time
	}{
		{"utc", time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC)},
		{"utc-whole", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)},
		{"plus0530", time.Date(2024, 1, 2, 3, 4, 5, 120000000, time.FixedZone("IST", 5*3600+1800))},
		{"minus0700", time.Date(2024, 1, 2, 3, 4, 5, 0, time.FixedZone("MST", -7*3600))},
		{"zero", time.Time{}},
	}
	var cases []apiDiffCase
	for _, tm := range times {
		for _, col := range []string{"d", "ts", "dt", "tx", "x"} {
			cases = append(cases, apiDiffCase{
				name: tm.name + "/" + col,
				run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
					if _, err := db.Exec("DELETE FROM tt"); err != nil {
						t.Fatal(err)
					}
					_, err := db.Exec("INSERT INTO tt("+col+") VALUES (?)", tm.t)
					r.err(err)
					var got time.Time
					err = db.QueryRow("SELECT " + col + " FROM tt").Scan(&got)
					r.res(got, err)
					r.val(err == nil && got.Equal(tm.t))
					var a any
					err = db.QueryRow("SELECT " + col + " FROM tt").Scan(&a)
					r.res(a, err)
				},
			})
		}
	}
	apiDiffRun(t, []string{"CREATE TABLE tt(d DATETIME, ts TIMESTAMP, dt DATE, tx TEXT, x)"}, cases, apiDiffTimeKnown)

	// A file modernc wrote, read by both drivers.
	path := filepath.Join(t.TempDir(), "modernc.db")
	mdb, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mdb.Exec("CREATE TABLE tt(d DATETIME)"); err != nil {
		t.Fatal(err)
	}
	for _, tm := range times {
		if _, err := mdb.Exec("INSERT INTO tt(d) VALUES (?)", tm.t); err != nil {
			t.Fatal(err)
		}
	}
	if err := mdb.Close(); err != nil {
		t.Fatal(err)
	}
	var out [2]apiDiffRec
	for i, d := range apiDiffDrivers {
		db, err := sql.Open(d, path)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := db.Query("SELECT d FROM tt ORDER BY rowid")
		if err != nil {
			t.Fatal(err)
		}
		j := 0
		for rows.Next() {
			var got time.Time
			err := rows.Scan(&got)
			out[i].res(got, err)
			out[i].val(err == nil && got.Equal(times[j].t))
			j++
		}
		out[i].err(rows.Err())
		rows.Close()
		db.Close()
	}
	apiDiffCheck(t, "modernc-file", out, apiDiffTimeKnown)
}

// apiDiffPlaceholderKnown are the placeholder cases that differ on purpose.
var apiDiffPlaceholderKnown = map[string]apiDiffKnown{
	"named-param-positional-arg/query": {
		ours:    "[]string([:a :b]) | string(\"row(int64(1), int64(2))\") | ok | ok",
		modernc: "err(go)",
		why:     whyNamedPositional,
	},
	"named-param-positional-arg/prepared": {
		ours:    "[]string([:a :b]) | string(\"row(int64(1), int64(2))\") | ok | ok",
		modernc: "err(go)",
		why:     whyNamedPositional,
	},
	"named-param-positional-arg/exec": {
		ours:    "ok",
		modernc: "err(go)",
		why:     whyNamedPositional,
	},
	"named-param-positional-arg-reversed/query": {
		ours:    "[]string([:b :a]) | string(\"row(int64(1), int64(2))\") | ok | ok",
		modernc: "err(go)",
		why:     whyNamedPositional,
	},
	"named-param-positional-arg-reversed/prepared": {
		ours:    "[]string([:b :a]) | string(\"row(int64(1), int64(2))\") | ok | ok",
		modernc: "err(go)",
		why:     whyNamedPositional,
	},
	"named-param-positional-arg-reversed/exec": {
		ours:    "ok",
		modernc: "err(go)",
		why:     whyNamedPositional,
	},
	"too-many/prepared": {
		ours:    "err(go)",
		modernc: "[]string([?]) | string(\"row(int64(1))\") | ok | ok",
		why:     whyNumInput,
	},
	"args-no-params/prepared": {
		ours:    "err(go)",
		modernc: "[]string([1]) | string(\"row(int64(1))\") | ok | ok",
		why:     whyNumInput,
	},
	"unused-named/prepared": {
		ours:    "err(go)",
		modernc: "[]string([?]) | string(\"row(int64(1))\") | ok | ok",
		why:     whyNumInput,
	},
	"named-only-unused/prepared": {
		ours:    "err(go)",
		modernc: "[]string([1]) | string(\"row(int64(1))\") | ok | ok",
		why:     whyNumInput,
	},
}

// TestAPIDiffPlaceholders binds arguments to every placeholder form (?,
// ?NNN, :a, @a, $a, $N) by position and by name, mixed, repeated, and
// with too few, too many, unknown and unused arguments, through db.Query
// and through a prepared statement.
func TestAPIDiffPlaceholders(t *testing.T) {
	type pc struct {
		name, query string
		args        []any
	}
	n := sql.Named
	pcs := []pc{
		{"q", "SELECT ?, ?", []any{1, 2}},
		{"qNNN", "SELECT ?2, ?1", []any{1, 2}},
		{"qNNN-repeat", "SELECT ?1, ?1", []any{1}},
		{"qNNN-then-q", "SELECT ?2, ?", []any{1, 2, 3}},
		{"qNNN-gap", "SELECT ?3", []any{1, 2, 3}},
		{"qNNN-gap-short", "SELECT ?3", []any{3}},
		{"dollarN", "SELECT $2, $1", []any{1, 2}},
		{"dollarN-repeat", "SELECT $1, $1", []any{1}},
		{"colon-named", "SELECT :a, :b", []any{n("b", 2), n("a", 1)}},
		{"at-named", "SELECT @a", []any{n("a", 1)}},
		{"dollar-named", "SELECT $a", []any{n("a", 1)}},
		{"named-repeat", "SELECT :a, :a", []any{n("a", 1)}},
		{"named-all-prefixes", "SELECT :a, @a, $a", []any{n("a", 1)}},
		{"named-param-positional-arg", "SELECT :a, :b", []any{1, 2}},
		{"named-param-positional-arg-reversed", "SELECT :b, :a", []any{1, 2}},
		{"q-named-arg", "SELECT ?", []any{n("a", 1)}},
		{"mixed-q-named", "SELECT ?, :a", []any{1, n("a", 2)}},
		{"mixed-named-q", "SELECT :a, ?", []any{n("a", 1), 2}},
		{"dollarN-named-arg", "SELECT $1", []any{n("a", 1)}},
		{"unknown-named", "SELECT :a", []any{n("b", 1)}},
		{"named-missing-positional-present", "SELECT :a, :b", []any{n("a", 1), 2}},
		{"too-few", "SELECT ?, ?", []any{1}},
		{"too-few-none", "SELECT ?", nil},
		{"too-many", "SELECT ?", []any{1, 2}},
		{"args-no-params", "SELECT 1", []any{1}},
		{"unused-named", "SELECT ?", []any{1, n("z", 2)}},
		{"named-only-unused", "SELECT 1", []any{n("z", 2)}},
		{"case-named", "SELECT :A", []any{n("a", 1)}},
	}
	var cases []apiDiffCase
	for _, p := range pcs {
		cases = append(cases, apiDiffCase{
			name: p.name + "/query",
			run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
				apiDiffQuery(db, r, p.query, p.args...)
			},
		}, apiDiffCase{
			name: p.name + "/prepared",
			run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
				s, err := db.Prepare(p.query)
				if err != nil {
					r.err(err)
					return
				}
				defer s.Close()
				rows, err := s.Query(p.args...)
				apiDiffRows(r, rows, err)
			},
		}, apiDiffCase{
			name: p.name + "/exec",
			run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
				_, err := db.Exec(p.query, p.args...)
				r.err(err)
			},
		})
	}
	apiDiffRun(t, nil, cases, apiDiffPlaceholderKnown)
}

// apiDiffColumn is a result column of TestAPIDiffColumnTypes: its name,
// its declared type as written in CREATE TABLE ("" for an expression),
// whether it is a table column declared NOT NULL or INTEGER PRIMARY KEY,
// and whether it is an expression.
type apiDiffColumn struct {
	name, decl string
	notNull    bool
	expr       bool
}

// apiDiffColumnRule is one driver's rule for the column types: given the
// column and the storage class of the current row's value ("null" also
// when there is no row), the DatabaseTypeName, ScanType, Nullable and
// Length it reports.
type apiDiffColumnRule func(c apiDiffColumn, class string) (dbType string, scan reflect.Type, nullable, nullableOK bool, length int64, lengthOK bool)

// apiDiffClassType is the Go type of a value of an SQLite storage class,
// nil for NULL.
func apiDiffClassType(class string) reflect.Type {
	switch class {
	case "integer":
		return reflect.TypeFor[int64]()
	case "real":
		return reflect.TypeFor[float64]()
	case "text":
		return reflect.TypeFor[string]()
	case "blob":
		return reflect.TypeFor[[]byte]()
	}
	return nil
}

// apiDiffOursColumnRule is the README's rule for this driver: "DatabaseTypeName
// is the declared type, upper-case, without a size (VARCHAR(20) → VARCHAR;
// empty for an expression); ScanType follows the declared type's affinity
// (int64, float64, string, []byte, bool for BOOL/BOOLEAN, time.Time for the
// date types; for expressions and NUMERIC the current value's type); Nullable
// is known for columns read straight from a table (false for NOT NULL and
// INTEGER PRIMARY KEY ...); Length is the declared size of text and blob
// columns." (Without a size, math.MaxInt64, as database/sql documents for
// an unbounded variable-length type.)
func apiDiffOursColumnRule(c apiDiffColumn, class string) (string, reflect.Type, bool, bool, int64, bool) {
	decl := strings.ToUpper(c.decl)
	base, size, sized := strings.Cut(decl, "(")
	base = strings.TrimSpace(base)
	var scan reflect.Type
	textual := false
	switch {
	case base == "DATE" || base == "DATETIME" || base == "TIMESTAMP":
		scan = reflect.TypeFor[time.Time]()
	case base == "BOOL" || base == "BOOLEAN":
		scan = reflect.TypeFor[bool]()
	case strings.Contains(base, "INT"):
		scan = reflect.TypeFor[int64]()
	case strings.Contains(base, "CHAR") || strings.Contains(base, "CLOB") || strings.Contains(base, "TEXT"):
		scan, textual = reflect.TypeFor[string](), true
	case base != "" && strings.Contains(base, "BLOB"):
		scan, textual = reflect.TypeFor[[]byte](), true
	case strings.Contains(base, "REAL") || strings.Contains(base, "FLOA") || strings.Contains(base, "DOUB"):
		scan = reflect.TypeFor[float64]()
	default:
		scan = apiDiffClassType(class)
		if scan == nil {
			scan = reflect.TypeFor[any]()
		}
	}
	length, lengthOK := int64(0), false
	if textual {
		length, lengthOK = math.MaxInt64, true
		if sized {
			fmt.Sscan(strings.TrimSuffix(size, ")"), &length)
		}
	}
	if c.expr {
		return base, scan, false, false, length, lengthOK
	}
	return base, scan, !c.notNull, true, length, lengthOK
}

// apiDiffModerncColumnRule is modernc's rule (rows.go of modernc.org/sqlite
// v1.62.0): the declared type upper-cased with its size; ScanType and
// Length from the current value's storage class (a nil reflect.Type for
// NULL or no row; bool for an integer in a BOOLEAN column, time.Time for
// one in a DATE/DATETIME/TIME/TIMESTAMP column); always nullable.
func apiDiffModerncColumnRule(c apiDiffColumn, class string) (string, reflect.Type, bool, bool, int64, bool) {
	decl := strings.ToUpper(c.decl)
	scan := apiDiffClassType(class)
	if class == "integer" {
		switch decl {
		case "BOOLEAN":
			scan = reflect.TypeFor[bool]()
		case "DATE", "DATETIME", "TIME", "TIMESTAMP":
			scan = reflect.TypeFor[time.Time]()
		}
	}
	if class == "text" || class == "blob" {
		return decl, scan, true, true, math.MaxInt64, true
	}
	return decl, scan, true, true, 0, false
}

// TestAPIDiffColumnTypes compares Rows.ColumnTypes (DatabaseTypeName,
// ScanType, Nullable, DecimalSize, Length) for declared columns of every
// affinity, sized types, NOT NULL and primary keys, and expression columns,
// before the first row, on a row of values, on a row of NULLs and on an
// empty result. The drivers follow different rules, each checked here:
// ours is documented in the README (apiDiffOursColumnRule); modernc's
// (apiDiffModerncColumnRule) is the odd one where it keeps the size in
// DatabaseTypeName (database/sql asks for the name "without the length"),
// says every column, NOT NULL ones included, may be NULL, and returns a nil
// ScanType for a NULL value (reflect.New(ct.ScanType()) panics).
func TestAPIDiffColumnTypes(t *testing.T) {
	cols := []apiDiffColumn{
		{name: "id", decl: "INTEGER", notNull: true},
		{name: "i", decl: "INT", notNull: true},
		{name: "v", decl: "VARCHAR(20)"},
		{name: "tx", decl: "TEXT"},
		{name: "b", decl: "BLOB"},
		{name: "r", decl: "REAL"},
		{name: "n", decl: "NUMERIC(10,2)"},
		{name: "d", decl: "DATETIME"},
		{name: "bo", decl: "BOOLEAN"},
		{name: "x", decl: ""},
		{name: "dec", decl: "DECIMAL(10, 2)"},
		{name: "nn", decl: "TEXT", notNull: true},
		{name: "e_int", expr: true},
		{name: "e_text", expr: true},
		{name: "e_real", expr: true},
		{name: "e_null", expr: true},
		{name: "e_blob", expr: true},
		{name: "e_sum", expr: true},
		{name: "e_cast", expr: true},
	}
	var sel, typeofs []string
	for _, c := range cols {
		sel = append(sel, c.name)
		typeofs = append(typeofs, "typeof("+c.name+")")
	}
	const from = ` FROM (SELECT *, 1 AS e_int, 'a' AS e_text, 1.5 AS e_real, NULL AS e_null, x'00' AS e_blob,
		i + 1 AS e_sum, CAST(v AS TEXT) AS e_cast FROM ct)`
	query := "SELECT " + strings.Join(sel, ", ") + from
	// The expression columns come from a subquery: SQLite still reports
	// the declared type and origin of the table columns through it.
	phases := []struct{ name, where string }{
		{"values", " WHERE id = 1"},
		{"nulls", " WHERE id = 2"},
		{"empty", " WHERE id = 3"},
	}
	rules := [2]apiDiffColumnRule{apiDiffOursColumnRule, apiDiffModerncColumnRule}
	for i, d := range apiDiffDrivers {
		db := apiDiffOpen(t, d,
			`CREATE TABLE ct(id INTEGER PRIMARY KEY, i INT NOT NULL, v VARCHAR(20), tx TEXT, b BLOB, r REAL,
				n NUMERIC(10,2), d DATETIME, bo BOOLEAN, x, dec DECIMAL(10, 2), nn TEXT NOT NULL DEFAULT '')`,
			`INSERT INTO ct VALUES(1, 5, 'abc', 'text', x'01', 1.5, 12.5, '2024-01-02 03:04:05', 1, 'any', 3.25, 'n')`,
			`INSERT INTO ct(id, i) VALUES(2, 6)`)
		for _, ph := range phases {
			classes := make([]string, len(cols))
			ptrs := make([]any, len(cols))
			for j := range classes {
				classes[j] = "null"
				ptrs[j] = &classes[j]
			}
			if err := db.QueryRow("SELECT " + strings.Join(typeofs, ", ") + from + ph.where).Scan(ptrs...); err != nil && err != sql.ErrNoRows {
				t.Fatal(err)
			}
			for _, next := range []bool{false, true} {
				if ph.name == "empty" && next {
					continue
				}
				rows, err := db.Query(query + ph.where)
				if err != nil {
					t.Fatal(err)
				}
				if next && !rows.Next() {
					t.Fatal("no row")
				}
				cts, err := rows.ColumnTypes()
				if err != nil {
					t.Fatal(err)
				}
				for j, c := range cols {
					ct := cts[j]
					wantDB, wantScan, wantNull, wantNullOK, wantLen, wantLenOK := rules[i](c, classes[j])
					nullable, nullOK := ct.Nullable()
					length, lenOK := ct.Length()
					p, sc, decOK := ct.DecimalSize()
					got := fmt.Sprintf("name=%s db=%q scan=%v nullable=%v,%v length=%d,%v decimal=%d,%d,%v",
						ct.Name(), ct.DatabaseTypeName(), ct.ScanType(), nullable, nullOK, length, lenOK, p, sc, decOK)
					want := fmt.Sprintf("name=%s db=%q scan=%v nullable=%v,%v length=%d,%v decimal=0,0,false",
						c.name, wantDB, wantScan, wantNull, wantNullOK, wantLen, wantLenOK)
					if got != want {
						t.Errorf("%s: %s (Next called: %v) column %s:\n\tgot  %s\n\twant %s", d, ph.name, next, c.name, got, want)
					}
				}
				if err := rows.Close(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// apiDiffResultKnown are the Exec results that differ on purpose.
var apiDiffResultKnown = map[string]apiDiffKnown{
	"ddl-create": {
		ours:    "string(\"id=12\") | string(\"n=0\") | string(\"r=3/6/0\")",
		modernc: "string(\"id=12\") | string(\"n=3\") | string(\"r=3/6/0\")",
		why:     whyRowsAffected,
	},
	"ddl-drop": {
		ours:    "string(\"id=12\") | string(\"n=0\") | string(\"r=3/6/0\")",
		modernc: "string(\"id=12\") | string(\"n=3\") | string(\"r=3/6/0\")",
		why:     whyRowsAffected,
	},
	"ddl-index": {
		ours:    "string(\"id=12\") | string(\"n=0\") | string(\"r=3/6/0\")",
		modernc: "string(\"id=12\") | string(\"n=3\") | string(\"r=3/6/0\")",
		why:     whyRowsAffected,
	},
	"select": {
		ours:    "string(\"id=12\") | string(\"n=0\") | string(\"r=3/6/0\")",
		modernc: "string(\"id=12\") | string(\"n=3\") | string(\"r=3/6/0\")",
		why:     whyRowsAffected,
	},
	"pragma": {
		ours:    "string(\"id=12\") | string(\"n=0\") | string(\"r=3/6/0\")",
		modernc: "string(\"id=12\") | string(\"n=3\") | string(\"r=3/6/0\")",
		why:     whyRowsAffected,
	},
	"begin-commit": {
		ours:    "string(\"id=12\") | string(\"n=0\") | string(\"r=3/6/0\")",
		modernc: "string(\"id=12\") | string(\"n=3\") | string(\"r=3/6/0\")",
		why:     whyRowsAffected,
	},
	"empty": {
		ours:    "string(\"id=0\") | string(\"n=0\") | string(\"r=3/6/0\")",
		modernc: "string(\"panic(runtime error: invalid memory address or nil pointer dereference)\") | string(\"r=3/6/0\")",
		why:     whyEmptyResult,
	},
	"semicolon": {
		ours:    "string(\"id=0\") | string(\"n=0\") | string(\"r=3/6/0\")",
		modernc: "string(\"panic(runtime error: invalid memory address or nil pointer dereference)\") | string(\"r=3/6/0\")",
		why:     whyEmptyResult,
	},
	"comment": {
		ours:    "string(\"id=0\") | string(\"n=0\") | string(\"r=3/6/0\")",
		modernc: "string(\"panic(runtime error: invalid memory address or nil pointer dereference)\") | string(\"r=3/6/0\")",
		why:     whyEmptyResult,
	},
	"multi-insert-ddl": {
		ours:    "string(\"id=14\") | string(\"n=0\") | string(\"r=5/15/0\")",
		modernc: "string(\"id=14\") | string(\"n=2\") | string(\"r=5/15/0\")",
		why:     whyRowsAffected,
	},
	"multi-insert-select": {
		ours:    "string(\"id=14\") | string(\"n=0\") | string(\"r=5/15/0\")",
		modernc: "string(\"id=14\") | string(\"n=2\") | string(\"r=5/15/0\")",
		why:     whyRowsAffected,
	},
	"multi-args": {
		ours:    "string(\"id=14\") | string(\"n=1\") | []string([v w]) | string(\"row(int64(4), nil)\") | string(\"row(int64(5), string(\\\"five\\\"))\") | ok | ok",
		modernc: "err(sqlite 2067) | []string([v w]) | string(\"row(int64(4), nil)\") | ok | ok",
		why:     whyArgsPerStatement,
	},
	"multi-prepared": {
		ours:    "string(\"id=14\") | string(\"n=1\") | []string([v]) | string(\"row(int64(4))\") | string(\"row(int64(5))\") | ok | ok",
		modernc: "err(sqlite 2067) | []string([v]) | string(\"row(int64(4))\") | ok | ok",
		why:     whyArgsPerStatement,
	},
}

// TestAPIDiffResults compares LastInsertId and RowsAffected after INSERT
// (one row, several, RETURNING), UPDATE, DELETE, UPSERT (updating, doing
// nothing), INSERT OR IGNORE, INSERT OR REPLACE, a trigger's writes, DDL,
// a SELECT, an empty text and multi-statement Exec, each on a fresh
// database after an earlier insert of 3 rows (so a count or id left over
// from it shows).
func TestAPIDiffResults(t *testing.T) {
	setup := []string{
		"CREATE TABLE r(id INTEGER PRIMARY KEY, v INTEGER UNIQUE, w TEXT)",
		"CREATE TABLE log(x)",
		"CREATE TABLE trg(a)",
		"CREATE TRIGGER trg_ins AFTER INSERT ON trg BEGIN INSERT INTO log VALUES (new.a); INSERT INTO log VALUES (new.a); END",
		"INSERT INTO r(id, v) VALUES (10, 1), (11, 2), (12, 3)",
	}
	execs := []struct{ name, query string }{
		{"insert", "INSERT INTO r(v) VALUES (4)"},
		{"insert-rows", "INSERT INTO r(v) VALUES (4), (5)"},
		{"insert-returning", "INSERT INTO r(v) VALUES (4), (5) RETURNING id"},
		{"update", "UPDATE r SET w = 'x' WHERE v >= 2"},
		{"update-none", "UPDATE r SET w = 'x' WHERE v > 100"},
		{"delete", "DELETE FROM r WHERE v = 1"},
		{"delete-all", "DELETE FROM r"},
		{"upsert-update", "INSERT INTO r(v) VALUES (1) ON CONFLICT(v) DO UPDATE SET w = 'u'"},
		{"upsert-insert", "INSERT INTO r(v) VALUES (9) ON CONFLICT(v) DO UPDATE SET w = 'u'"},
		{"upsert-nothing", "INSERT INTO r(v) VALUES (1) ON CONFLICT DO NOTHING"},
		{"insert-or-ignore", "INSERT OR IGNORE INTO r(v) VALUES (1)"},
		{"insert-or-replace", "INSERT OR REPLACE INTO r(v, w) VALUES (1, 'r')"},
		{"trigger", "INSERT INTO trg VALUES (7)"},
		{"ddl-create", "CREATE TABLE other(a)"},
		{"ddl-drop", "DROP TABLE log"},
		{"ddl-index", "CREATE INDEX r_w ON r(w)"},
		{"select", "SELECT * FROM r"},
		{"pragma", "PRAGMA user_version = 3"},
		{"begin-commit", "BEGIN; COMMIT"},
		{"empty", ""},
		{"semicolon", ";"},
		{"comment", "-- nothing"},
		{"multi-insert-insert", "INSERT INTO r(v) VALUES (4); INSERT INTO r(v) VALUES (5), (6)"},
		{"multi-insert-update", "INSERT INTO r(v) VALUES (4); UPDATE r SET w = 'm'"},
		{"multi-insert-ddl", "INSERT INTO r(v) VALUES (4), (5); CREATE TABLE m(a)"},
		{"multi-insert-select", "INSERT INTO r(v) VALUES (4), (5); SELECT 1"},
		{"multi-trailing-comment", "INSERT INTO r(v) VALUES (4); -- done"},
		{"multi-error-second", "INSERT INTO r(v) VALUES (4); INSERT INTO r(v) VALUES (1); INSERT INTO r(v) VALUES (5)"},
	}
	var cases []apiDiffCase
	for _, e := range execs {
		cases = append(cases, apiDiffCase{
			name:  e.name,
			fresh: true,
			setup: setup,
			run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
				res, err := db.Exec(e.query)
				apiDiffResult(r, res, err)
				var state string
				err = db.QueryRow("SELECT count(*) || '/' || coalesce(sum(v), 0) || '/' || count(w) FROM r").Scan(&state)
				r.res("r="+state, err)
			},
		})
	}
	cases = append(cases, apiDiffCase{
		name:  "prepared-insert-twice",
		fresh: true,
		setup: setup,
		run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			s, err := db.Prepare("INSERT INTO r(v) VALUES (?)")
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for _, v := range []int{4, 5} {
				res, err := s.Exec(v)
				apiDiffResult(r, res, err)
			}
		},
	}, apiDiffCase{
		name:  "multi-args",
		fresh: true,
		setup: setup,
		run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			res, err := db.Exec("INSERT INTO r(v) VALUES (?); INSERT INTO r(v, w) VALUES (?, ?)", 4, 5, "five")
			apiDiffResult(r, res, err)
			apiDiffQuery(db, r, "SELECT v, w FROM r WHERE v > 3 ORDER BY v")
		},
	}, apiDiffCase{
		name:  "multi-named-args",
		fresh: true,
		setup: setup,
		run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			res, err := db.Exec("INSERT INTO r(v) VALUES (:a); INSERT INTO r(v, w) VALUES (:b, :a)", sql.Named("a", 4), sql.Named("b", 5))
			apiDiffResult(r, res, err)
			apiDiffQuery(db, r, "SELECT v, w FROM r WHERE v > 3 ORDER BY v")
		},
	}, apiDiffCase{
		name:  "multi-prepared",
		fresh: true,
		setup: setup,
		run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			s, err := db.Prepare("INSERT INTO r(v) VALUES (?); INSERT INTO r(v) VALUES (?)")
			if err != nil {
				r.err(err)
				return
			}
			defer s.Close()
			res, err := s.Exec(4, 5)
			apiDiffResult(r, res, err)
			apiDiffQuery(db, r, "SELECT v FROM r WHERE v > 3 ORDER BY v")
		},
	})
	apiDiffRun(t, nil, cases, apiDiffResultKnown)
}

// apiDiffMultiKnown are the multi-statement queries that differ on purpose.
var apiDiffMultiKnown = map[string]apiDiffKnown{
	"args": {
		ours:    "[]string([b]) | string(\"row(int64(2))\") | ok | ok | []string([count(*)]) | string(\"row(int64(0))\") | ok | ok",
		modernc: "[]string([b]) | string(\"row(int64(1))\") | ok | ok | []string([count(*)]) | string(\"row(int64(0))\") | ok | ok",
		why:     whyArgsPerStatement,
	},
	"args-one-each": {
		ours:    "[]string([a ?]) | string(\"row(int64(7), int64(8))\") | ok | ok | []string([count(*)]) | string(\"row(int64(1))\") | ok | ok",
		modernc: "[]string([a ?]) | string(\"row(int64(7), int64(7))\") | ok | ok | []string([count(*)]) | string(\"row(int64(1))\") | ok | ok",
		why:     whyArgsPerStatement,
	},
}

// TestAPIDiffMultiStatementQuery compares Query on a text of several
// statements: which statement's rows come back, whether the others ran,
// and how positional arguments are shared out.
func TestAPIDiffMultiStatementQuery(t *testing.T) {
	queries := []struct {
		name, query string
		args        []any
	}{
		{"select-select", "SELECT 1 AS a; SELECT 2 AS b", nil},
		{"ddl-insert-select", "CREATE TABLE q(a); INSERT INTO q VALUES (5); SELECT a FROM q", nil},
		{"insert-then-select-count", "INSERT INTO q0 VALUES (1); SELECT count(*) FROM q0", nil},
		{"select-then-insert", "SELECT 1; INSERT INTO q0 VALUES (1)", nil},
		{"args", "SELECT ? AS a; SELECT ? AS b", []any{1, 2}},
		{"args-one-each", "INSERT INTO q0 VALUES (?); SELECT a, ? FROM q0", []any{7, 8}},
		{"error-second", "SELECT 1; SELEC 2", nil},
		{"trailing-semicolons", "SELECT 1;;", nil},
	}
	var cases []apiDiffCase
	for _, q := range queries {
		cases = append(cases, apiDiffCase{
			name:  q.name,
			fresh: true,
			setup: []string{"CREATE TABLE q0(a)"},
			run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
				apiDiffQuery(db, r, q.query, q.args...)
				apiDiffQuery(db, r, "SELECT count(*) FROM q0")
			},
		})
	}
	apiDiffRun(t, nil, cases, apiDiffMultiKnown)
}

// apiDiffErrorKnown are the error cases that differ on purpose.
var apiDiffErrorKnown = map[string]apiDiffKnown{}

// TestAPIDiffErrors compares the errors of bad SQL (in Exec, Query and
// Prepare), a missing table, constraint violations (UNIQUE, NOT NULL,
// CHECK, FOREIGN KEY, PRIMARY KEY), an error raised at the first and at a
// later row, and a runtime error in Exec: both must fail with the same
// SQLite extended code.
func TestAPIDiffErrors(t *testing.T) {
	type ec struct{ name, how, query string }
	ecs := []ec{
		{"syntax/exec", "exec", "SELEC 1"},
		{"syntax/query", "query", "SELEC 1"},
		{"syntax/prepare", "prepare", "SELEC 1"},
		{"incomplete", "query", "SELECT"},
		{"no-table/exec", "exec", "INSERT INTO nope VALUES (1)"},
		{"no-table/query", "query", "SELECT * FROM nope"},
		{"no-column", "query", "SELECT nope FROM e"},
		{"unique", "exec", "INSERT INTO e(u) VALUES (1)"},
		{"primary-key", "exec", "INSERT INTO e(id) VALUES (1)"},
		{"not-null", "exec", "INSERT INTO e(nn) VALUES (NULL)"},
		{"check", "exec", "INSERT INTO e(c) VALUES (-1)"},
		{"foreign-key", "exec", "PRAGMA foreign_keys = ON; INSERT INTO child(p) VALUES (99)"},
		{"unique/query-returning", "query", "INSERT INTO e(u) VALUES (1) RETURNING id"},
		{"overflow-first-row", "query", "SELECT abs(-9223372036854775808)"},
		{"overflow-later-row", "query", "SELECT CASE WHEN column1 = 3 THEN abs(-9223372036854775808) ELSE column1 END FROM (VALUES (1), (2), (3))"},
		{"trigger-raise", "exec", "INSERT INTO child(p) VALUES (-1)"},
		{"json-malformed", "query", "SELECT json('{')"},
		{"readonly-pragma", "exec", "PRAGMA query_only = ON; INSERT INTO e(u) VALUES (5)"},
		{"commit-no-tx", "exec", "COMMIT"},
		{"rollback-no-tx", "exec", "ROLLBACK"},
		{"begin-twice", "exec", "BEGIN; BEGIN"},
	}
	var cases []apiDiffCase
	for _, e := range ecs {
		cases = append(cases, apiDiffCase{
			name:  e.name,
			fresh: true,
			setup: []string{
				"CREATE TABLE e(id INTEGER PRIMARY KEY, u UNIQUE, nn NOT NULL DEFAULT 0, c CHECK (c IS NULL OR c >= 0))",
				"INSERT INTO e(id, u) VALUES (1, 1)",
				"CREATE TABLE child(p REFERENCES e(id))",
				"CREATE TRIGGER child_neg BEFORE INSERT ON child WHEN new.p < 0 BEGIN SELECT RAISE(ABORT, 'negative'); END",
			},
			run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
				switch e.how {
				case "exec":
					res, err := db.Exec(e.query)
					apiDiffResult(r, res, err)
				case "query":
					apiDiffQuery(db, r, e.query)
				case "prepare":
					s, err := db.Prepare(e.query)
					r.err(err)
					if err == nil {
						s.Close()
					}
				}
				// The connection is usable afterwards.
				var n int
				r.err(db.QueryRow("SELECT count(*) FROM e").Scan(&n))
				r.val(n)
			},
		})
	}
	apiDiffRun(t, nil, cases, apiDiffErrorKnown)
}

// apiDiffClosedKnown are the closed-object cases that differ on purpose.
var apiDiffClosedKnown = map[string]apiDiffKnown{}

// TestAPIDiffClosed compares what closed objects do: reading a row after
// Rows.Close (Scan, Next, Err, Columns, ColumnTypes), a second Close, a
// closed Stmt, a Tx used after Commit or Rollback, a Stmt prepared in a Tx
// used after the Tx ended, a database Stmt re-bound to an ended Tx, a Stmt
// reused after a schema change, a closed Conn and a closed DB, and Ping.
func TestAPIDiffClosed(t *testing.T) {
	setup := []string{"CREATE TABLE c(a INTEGER, b TEXT)", "INSERT INTO c VALUES (1, 'x'), (2, 'y'), (3, 'z')"}
	cases := []apiDiffCase{
		{name: "rows-after-close", run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			rows, err := db.Query("SELECT a FROM c ORDER BY a")
			if err != nil {
				t.Fatal(err)
			}
			r.val(rows.Next())
			var a int64
			r.err(rows.Scan(&a))
			r.val(a)
			r.err(rows.Close())
			a = 0
			r.err(rows.Scan(&a))
			r.val(a)
			r.val(rows.Next())
			r.err(rows.Err())
			cols, err := rows.Columns()
			r.res(cols, err)
			_, err = rows.ColumnTypes()
			r.err(err)
			r.err(rows.Close())
		}},
		{name: "rows-after-exhausted", run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			rows, err := db.Query("SELECT a FROM c WHERE a = 1")
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
			}
			var a int64
			r.err(rows.Scan(&a))
			r.val(rows.Next())
			r.err(rows.Err())
			r.err(rows.Close())
		}},
		{name: "rows-scan-before-next", run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			rows, err := db.Query("SELECT a FROM c")
			if err != nil {
				t.Fatal(err)
			}
			var a int64
			r.err(rows.Scan(&a))
			r.err(rows.Close())
		}},
		{name: "rows-scan-wrong-count", run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			rows, err := db.Query("SELECT a, b FROM c")
			if err != nil {
				t.Fatal(err)
			}
			rows.Next()
			var a int64
			r.err(rows.Scan(&a))
			r.err(rows.Close())
		}},
		{name: "queryrow-no-rows", run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			var a int64
			r.err(db.QueryRow("SELECT a FROM c WHERE a > 100").Scan(&a))
		}},
		{name: "queryrow-exec-statement", fresh: true, setup: setup, run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			var a int64
			r.err(db.QueryRow("UPDATE c SET b = 'q'").Scan(&a))
			var n int
			r.err(db.QueryRow("SELECT count(*) FROM c WHERE b = 'q'").Scan(&n))
			r.val(n)
		}},
		{name: "query-insert-not-iterated", fresh: true, setup: setup, run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			rows, err := db.Query("INSERT INTO c VALUES (4, 'w')")
			if err != nil {
				r.err(err)
				return
			}
			cols, err := rows.Columns()
			r.res(cols, err)
			r.err(rows.Close())
			var n int
			r.err(db.QueryRow("SELECT count(*) FROM c").Scan(&n))
			r.val(n)
		}},
		{name: "query-returning-closed-early", fresh: true, setup: setup, run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			rows, err := db.Query("INSERT INTO c VALUES (4, 'w'), (5, 'v') RETURNING a")
			if err != nil {
				r.err(err)
				return
			}
			r.val(rows.Next())
			r.err(rows.Close())
			var n int
			r.err(db.QueryRow("SELECT count(*) FROM c").Scan(&n))
			r.val(n)
		}},
		{name: "stmt-closed", run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			s, err := db.Prepare("SELECT a FROM c WHERE a = ?")
			if err != nil {
				t.Fatal(err)
			}
			r.err(s.Close())
			var a int64
			r.err(s.QueryRow(1).Scan(&a))
			_, err = s.Exec(1)
			r.err(err)
			r.err(s.Close())
		}},
		{name: "stmt-closed-with-open-rows", run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			s, err := db.Prepare("SELECT a FROM c ORDER BY a")
			if err != nil {
				t.Fatal(err)
			}
			rows, err := s.Query()
			if err != nil {
				t.Fatal(err)
			}
			r.err(s.Close())
			n := 0
			for rows.Next() {
				n++
			}
			r.val(n)
			r.err(rows.Err())
			r.err(rows.Close())
		}},
		{name: "stmt-schema-change", fresh: true, setup: setup, run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			s, err := db.Prepare("SELECT * FROM c WHERE a = 1")
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := db.Exec("ALTER TABLE c ADD COLUMN z DEFAULT 'new'"); err != nil {
				t.Fatal(err)
			}
			rows, err := s.Query()
			apiDiffRows(r, rows, err)
			if _, err := db.Exec("DROP TABLE c"); err != nil {
				t.Fatal(err)
			}
			rows, err = s.Query()
			apiDiffRows(r, rows, err)
		}},
		{name: "tx-after-commit", fresh: true, setup: setup, run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			_, err = tx.Exec("INSERT INTO c VALUES (4, 'w')")
			r.err(err)
			r.err(tx.Commit())
			_, err = tx.Exec("INSERT INTO c VALUES (5, 'v')")
			r.err(err)
			var a int64
			r.err(tx.QueryRow("SELECT 1").Scan(&a))
			_, err = tx.Prepare("SELECT 1")
			r.err(err)
			r.err(tx.Commit())
			r.err(tx.Rollback())
			var n int
			r.err(db.QueryRow("SELECT count(*) FROM c").Scan(&n))
			r.val(n)
		}},
		{name: "tx-after-rollback", fresh: true, setup: setup, run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			_, err = tx.Exec("INSERT INTO c VALUES (4, 'w')")
			r.err(err)
			r.err(tx.Rollback())
			_, err = tx.Exec("INSERT INTO c VALUES (5, 'v')")
			r.err(err)
			r.err(tx.Rollback())
			r.err(tx.Commit())
			var n int
			r.err(db.QueryRow("SELECT count(*) FROM c").Scan(&n))
			r.val(n)
		}},
		{name: "tx-stmt-after-commit", fresh: true, setup: setup, run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			s, err := tx.Prepare("INSERT INTO c VALUES (?, 'w')")
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Exec(4)
			r.err(err)
			r.err(tx.Commit())
			_, err = s.Exec(5)
			r.err(err)
			var a int64
			r.err(s.QueryRow(6).Scan(&a))
			r.err(s.Close())
			var n int
			r.err(db.QueryRow("SELECT count(*) FROM c").Scan(&n))
			r.val(n)
		}},
		{name: "db-stmt-in-ended-tx", fresh: true, setup: setup, run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			s, err := db.Prepare("INSERT INTO c VALUES (?, 'w')")
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			ts := tx.Stmt(s)
			_, err = ts.Exec(4)
			r.err(err)
			r.err(tx.Rollback())
			_, err = ts.Exec(5)
			r.err(err)
			ts2 := tx.Stmt(s)
			_, err = ts2.Exec(6)
			r.err(err)
			// The database Stmt itself is still usable.
			_, err = s.Exec(7)
			r.err(err)
			var list string
			r.err(db.QueryRow("SELECT group_concat(a) FROM c").Scan(&list))
			r.val(list)
		}},
		{name: "tx-rows-open-at-commit", fresh: true, setup: setup, run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			rows, err := tx.Query("SELECT a FROM c ORDER BY a")
			if err != nil {
				t.Fatal(err)
			}
			r.val(rows.Next())
			r.err(tx.Commit())
			r.val(rows.Next())
			r.err(rows.Err())
			r.err(rows.Close())
		}},
		{name: "conn-closed", fresh: true, setup: setup, run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			c, err := db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			r.err(c.PingContext(context.Background()))
			r.err(c.Close())
			_, err = c.ExecContext(context.Background(), "SELECT 1")
			r.err(err)
			r.err(c.PingContext(context.Background()))
			r.err(c.Close())
		}},
		{name: "ping", run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			r.err(db.Ping())
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			r.err(db.PingContext(ctx))
			r.err(db.Ping())
		}},
		{name: "ping-in-tx-conn", fresh: true, setup: setup, run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			c, err := db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, err = c.ExecContext(context.Background(), "BEGIN")
			r.err(err)
			r.err(c.PingContext(context.Background()))
		}},
		{name: "db-closed", fresh: true, setup: setup, run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			s, err := db.Prepare("SELECT 1")
			if err != nil {
				t.Fatal(err)
			}
			r.err(db.Close())
			r.err(db.Ping())
			_, err = db.Exec("SELECT 1")
			r.err(err)
			_, err = s.Exec()
			r.err(err)
			r.err(db.Close())
		}},
	}
	apiDiffRun(t, setup, cases, apiDiffClosedKnown)
}

// apiDiffSlow is a query whose single row takes seconds to compute (it
// only ever runs under a context that ends long before), and
// apiDiffSlowSecondRow one whose first row comes at once and whose second
// takes a few hundred milliseconds (modernc computes it in full, see
// apiDiffContextKnown).
const (
	apiDiffSlow          = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n LIMIT 20000000) SELECT count(*) FROM n"
	apiDiffSlowSecondRow = "SELECT CASE WHEN column1 = 1 THEN 1 ELSE (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n LIMIT 600000) SELECT count(*) FROM n) END FROM (VALUES (1), (2))"
	apiDiffManyRows      = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n LIMIT 1000000) SELECT i FROM n"
)

// apiDiffContextKnown are the context cases that differ on purpose.
var apiDiffContextKnown = map[string]apiDiffKnown{
	"deadline-in-next": {
		ours:    "bool(true) | bool(false) | err(deadline) | ok | ok",
		modernc: "bool(true) | bool(true) | err(deadline) | ok | ok",
		why:     whyNextInterrupt,
	},
}

// apiDiffUsable records whether db still answers a query: after a
// cancelled call, the connection (the only one) must be usable.
func apiDiffUsable(db *sql.DB, r *apiDiffRec) {
	var one int
	r.err(db.QueryRow("SELECT 1").Scan(&one))
}

// TestAPIDiffContext compares context cancellation: a Query cancelled
// while its rows are iterated, a deadline ending a step in progress in
// Next, QueryRow and Exec, and calls made with a context already done;
// after each, the error and whether the connection is usable.
func TestAPIDiffContext(t *testing.T) {
	cases := []apiDiffCase{
		{name: "cancel-while-iterating", run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			rows, err := db.QueryContext(ctx, apiDiffManyRows)
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if !rows.Next() {
					t.Fatal("no row")
				}
			}
			cancel()
			n := 0
			for rows.Next() {
				n++
			}
			// Iteration stops before the end (how many rows come
			// between cancel and the stop depends on scheduling).
			r.val(n < 1000000-3)
			r.err(rows.Err())
			r.err(rows.Close())
			apiDiffUsable(db, r)
		}},
		{name: "deadline-in-next", run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Millisecond)
			defer cancel()
			rows, err := db.QueryContext(ctx, apiDiffSlowSecondRow)
			if err != nil {
				r.err(err)
				return
			}
			r.val(rows.Next())
			r.val(rows.Next())
			r.err(rows.Err())
			r.err(rows.Close())
			apiDiffUsable(db, r)
		}},
		{name: "deadline-queryrow", run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			var n int64
			r.err(db.QueryRowContext(ctx, apiDiffSlow).Scan(&n))
			apiDiffUsable(db, r)
		}},
		{name: "deadline-exec", fresh: true, setup: []string{"CREATE TABLE big(i)"}, run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			_, err := db.ExecContext(ctx, "INSERT INTO big "+strings.Replace(apiDiffSlow, "count(*)", "i", 1))
			r.err(err)
			apiDiffUsable(db, r)
			var n int
			r.err(db.QueryRow("SELECT count(*) FROM big").Scan(&n))
			r.val(n)
		}},
		{name: "deadline-in-tx", fresh: true, setup: []string{"CREATE TABLE big(i)"}, run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			_, err = tx.Exec("INSERT INTO big VALUES (1)")
			r.err(err)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			var n int64
			r.err(tx.QueryRowContext(ctx, apiDiffSlow).Scan(&n))
			// The transaction goes on after the interrupted statement.
			_, err = tx.Exec("INSERT INTO big VALUES (2)")
			r.err(err)
			r.err(tx.Commit())
			var c int
			r.err(db.QueryRow("SELECT count(*) FROM big").Scan(&c))
			r.val(c)
		}},
		{name: "already-cancelled", run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err := db.QueryContext(ctx, "SELECT 1")
			r.err(err)
			_, err = db.ExecContext(ctx, "SELECT 1")
			r.err(err)
			_, err = db.BeginTx(ctx, nil)
			r.err(err)
			_, err = db.PrepareContext(ctx, "SELECT 1")
			r.err(err)
			apiDiffUsable(db, r)
		}},
		{name: "cancelled-conn-calls", run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			c, err := db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err = c.ExecContext(ctx, "SELECT 1")
			r.err(err)
			r.err(c.PingContext(ctx))
			var one int
			r.err(c.QueryRowContext(context.Background(), "SELECT 1").Scan(&one))
		}},
	}
	apiDiffRun(t, nil, cases, apiDiffContextKnown)
}

// apiDiffTxKnown are the transaction option cases that differ on purpose.
var apiDiffTxKnown = map[string]apiDiffKnown{
	"Default/read-only": {
		ours:    "ok | ok | err(sqlite 8) | ok | ok | int(0) | ok",
		modernc: "ok | ok | ok | ok | ok | int(1) | ok",
		why:     whyReadOnly,
	},
	"Read Uncommitted/read-only": {
		ours:    "ok | ok | err(sqlite 8) | ok | ok | int(0) | ok",
		modernc: "ok | ok | ok | ok | ok | int(1) | ok",
		why:     whyReadOnly,
	},
	"Read Committed/read-only": {
		ours:    "ok | ok | err(sqlite 8) | ok | ok | int(0) | ok",
		modernc: "ok | ok | ok | ok | ok | int(1) | ok",
		why:     whyReadOnly,
	},
	"Write Committed/read-only": {
		ours:    "ok | ok | err(sqlite 8) | ok | ok | int(0) | ok",
		modernc: "ok | ok | ok | ok | ok | int(1) | ok",
		why:     whyReadOnly,
	},
	"Repeatable Read/read-only": {
		ours:    "ok | ok | err(sqlite 8) | ok | ok | int(0) | ok",
		modernc: "ok | ok | ok | ok | ok | int(1) | ok",
		why:     whyReadOnly,
	},
	"Snapshot/read-only": {
		ours:    "ok | ok | err(sqlite 8) | ok | ok | int(0) | ok",
		modernc: "ok | ok | ok | ok | ok | int(1) | ok",
		why:     whyReadOnly,
	},
	"Serializable/read-only": {
		ours:    "ok | ok | err(sqlite 8) | ok | ok | int(0) | ok",
		modernc: "ok | ok | ok | ok | ok | int(1) | ok",
		why:     whyReadOnly,
	},
	"Linearizable/read-only": {
		ours:    "ok | ok | err(sqlite 8) | ok | ok | int(0) | ok",
		modernc: "ok | ok | ok | ok | ok | int(1) | ok",
		why:     whyReadOnly,
	},
}

// TestAPIDiffTxOptions compares BeginTx with every isolation level
// database/sql defines, with and without ReadOnly: whether it begins,
// whether a read and a write inside succeed, what Commit leaves, and that
// the connection writes normally afterwards.
func TestAPIDiffTxOptions(t *testing.T) {
	levels := []sql.IsolationLevel{sql.LevelDefault, sql.LevelReadUncommitted, sql.LevelReadCommitted,
		sql.LevelWriteCommitted, sql.LevelRepeatableRead, sql.LevelSnapshot, sql.LevelSerializable,
		sql.LevelLinearizable}
	var cases []apiDiffCase
	for _, ro := range []bool{false, true} {
		for _, l := range levels {
			name := l.String()
			if ro {
				name += "/read-only"
			}
			cases = append(cases, apiDiffCase{
				name:  name,
				fresh: true,
				setup: []string{"CREATE TABLE x(a)"},
				run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
					tx, err := db.BeginTx(context.Background(), &sql.TxOptions{Isolation: l, ReadOnly: ro})
					r.err(err)
					if err != nil {
						return
					}
					var n int
					r.err(tx.QueryRow("SELECT count(*) FROM x").Scan(&n))
					_, err = tx.Exec("INSERT INTO x VALUES (1)")
					r.err(err)
					r.err(tx.Commit())
					r.err(db.QueryRow("SELECT count(*) FROM x").Scan(&n))
					r.val(n)
					// A read-only transaction leaves nothing behind.
					_, err = db.Exec("INSERT INTO x VALUES (2)")
					r.err(err)
				},
			})
		}
	}
	apiDiffRun(t, nil, cases, apiDiffTxKnown)
}

// apiDiffSQLTxKnown are the SQL-transaction cases that differ on purpose.
var apiDiffSQLTxKnown = map[string]apiDiffKnown{
	"db-exec-begin-insert-commit": {
		ours:    "ok | ok | err(sqlite 1) | ok | int(4)",
		modernc: "ok | ok | ok | ok | int(4)",
		why:     whySQLBegin,
	},
	"db-exec-begin-insert-rollback": {
		ours:    "ok | ok | err(sqlite 1) | ok | int(4)",
		modernc: "ok | ok | ok | ok | int(3)",
		why:     whySQLBegin,
	},
	"db-exec-savepoint-release": {
		ours:    "ok | ok | err(sqlite 1) | ok | int(4)",
		modernc: "ok | ok | ok | ok | int(4)",
		why:     whySQLBegin,
	},
	"conn-closed-inside-begin": {
		ours:    "ok | ok | ok | int(3) | err(sqlite 1) | ok | int(3)",
		modernc: "ok | ok | ok | int(4) | ok | ok | int(4)",
		why:     whyConnReset,
	},
	"multi-statement-tx-fails": {
		ours:    "err(sqlite 1555) | err(sqlite 1) | ok | int(3)",
		modernc: "err(sqlite 1555) | ok | ok | int(3)",
		why:     whySQLBegin,
	},
	"tx-two-rows-same-stmt": {
		ours:    "ok | ok | ok | ok | string(\"[1 2 2 3]\") | ok | ok | ok",
		modernc: "err(sqlite 21) | ok | ok",
		why:     whyStmtTwice,
	},
}

// TestAPIDiffSQLTransactions compares transactions made with SQL text
// rather than BeginTx — BEGIN, SAVEPOINT, COMMIT in separate db.Exec calls
// on a pool of one connection, on a *sql.Conn, and in one multi-statement
// Exec — and statements interleaved inside a Tx: two Rows of the same SQL
// (and of the same Stmt) read in turns, and writes while Rows are open.
func TestAPIDiffSQLTransactions(t *testing.T) {
	setup := []string{"CREATE TABLE s(a INTEGER PRIMARY KEY, b)", "INSERT INTO s VALUES (1, 'x'), (2, 'y'), (3, 'z')"}
	count := func(db *sql.DB, r *apiDiffRec) {
		var n int
		r.err(db.QueryRow("SELECT count(*) FROM s").Scan(&n))
		r.val(n)
	}
	cases := []apiDiffCase{
		{name: "db-exec-begin-insert-commit", fresh: true, setup: setup, run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			for _, q := range []string{"BEGIN", "INSERT INTO s VALUES (4, 'w')", "COMMIT"} {
				_, err := db.Exec(q)
				r.err(err)
			}
			count(db, r)
		}},
		{name: "db-exec-begin-insert-rollback", fresh: true, setup: setup, run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			for _, q := range []string{"BEGIN", "INSERT INTO s VALUES (4, 'w')", "ROLLBACK"} {
				_, err := db.Exec(q)
				r.err(err)
			}
			count(db, r)
		}},
		{name: "db-exec-savepoint-release", fresh: true, setup: setup, run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			for _, q := range []string{"SAVEPOINT sp", "INSERT INTO s VALUES (4, 'w')", "RELEASE sp"} {
				_, err := db.Exec(q)
				r.err(err)
			}
			count(db, r)
		}},
		{name: "conn-begin-insert-rollback", fresh: true, setup: setup, run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			c, err := db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{"BEGIN", "INSERT INTO s VALUES (4, 'w')", "ROLLBACK"} {
				_, err := c.ExecContext(context.Background(), q)
				r.err(err)
			}
			c.Close()
			count(db, r)
		}},
		{name: "conn-closed-inside-begin", fresh: true, setup: setup, run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			c, err := db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{"BEGIN", "INSERT INTO s VALUES (4, 'w')"} {
				_, err := c.ExecContext(context.Background(), q)
				r.err(err)
			}
			c.Close()
			count(db, r)
			_, err = db.Exec("COMMIT")
			r.err(err)
			count(db, r)
		}},
		{name: "multi-statement-tx", fresh: true, setup: setup, run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			_, err := db.Exec("BEGIN; INSERT INTO s VALUES (4, 'w'); INSERT INTO s VALUES (5, 'v'); COMMIT")
			r.err(err)
			count(db, r)
		}},
		{name: "multi-statement-tx-fails", fresh: true, setup: setup, run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			_, err := db.Exec("BEGIN; INSERT INTO s VALUES (4, 'w'); INSERT INTO s VALUES (1, 'dup'); COMMIT")
			r.err(err)
			// The transaction the text began is still open on the
			// connection, or was ended for it.
			_, err = db.Exec("ROLLBACK")
			r.err(err)
			count(db, r)
		}},
		{name: "tx-two-rows-same-sql", fresh: true, setup: setup, run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			q := "SELECT a FROM s ORDER BY a"
			r1, err := tx.Query(q)
			if err != nil {
				t.Fatal(err)
			}
			r2, err := tx.Query(q)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for r1.Next() && r2.Next() {
				var a, b int64
				r.err(r1.Scan(&a))
				r.err(r2.Scan(&b))
				got = append(got, a, b)
			}
			r.val(fmt.Sprint(got))
			r.err(r1.Close())
			r.err(r2.Close())
		}},
		{name: "tx-two-rows-same-stmt", fresh: true, setup: setup, run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			s, err := tx.Prepare("SELECT a FROM s WHERE a >= ? ORDER BY a")
			if err != nil {
				t.Fatal(err)
			}
			r1, err := s.Query(1)
			if err != nil {
				t.Fatal(err)
			}
			r2, err := s.Query(2)
			if err != nil {
				r.err(err)
				r.err(r1.Close())
				r.err(s.Close())
				return
			}
			var got []int64
			for r1.Next() && r2.Next() {
				var a, b int64
				r.err(r1.Scan(&a))
				r.err(r2.Scan(&b))
				got = append(got, a, b)
			}
			r.val(fmt.Sprint(got))
			r.err(r1.Close())
			r.err(r2.Close())
			r.err(s.Close())
		}},
		{name: "tx-write-while-reading", fresh: true, setup: setup, run: func(t *testing.T, db *sql.DB, r *apiDiffRec) {
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			rows, err := tx.Query("SELECT a FROM s ORDER BY a")
			if err != nil {
				t.Fatal(err)
			}
			var seen []int64
			for rows.Next() {
				var a int64
				r.err(rows.Scan(&a))
				seen = append(seen, a)
				_, err := tx.Exec("UPDATE s SET b = 'u' WHERE a = ?", a)
				r.err(err)
				if a == 1 {
					_, err := tx.Exec("INSERT INTO s VALUES (10, 'new')")
					r.err(err)
				}
			}
			r.err(rows.Err())
			r.val(fmt.Sprint(seen))
			r.err(rows.Close())
			r.err(tx.Commit())
			var n int
			r.err(db.QueryRow("SELECT count(*) FROM s WHERE b = 'u'").Scan(&n))
			r.val(n)
		}},
	}
	apiDiffRun(t, nil, cases, apiDiffSQLTxKnown)
}

// TestAPIDiffPreparedNamedArgCount checks that a prepared statement takes
// the named arguments db.Query takes: "SELECT :a, @a, $a" has three SQLite
// parameters of one name, and one sql.Named("a", ...) binds them all
// through db.Query on both drivers and through db.Prepare on modernc. Ours
// reported 3 from Stmt.NumInput, so database/sql refused the call ("sql:
// expected 3 arguments, got 1") before the driver saw it.
func TestAPIDiffPreparedNamedArgCount(t *testing.T) {
	for _, d := range apiDiffDrivers {
		db := apiDiffOpen(t, d)
		s, err := db.Prepare("SELECT :a, @a, $a")
		if err != nil {
			t.Fatal(err)
		}
		var x, y, z int
		if err := s.QueryRow(sql.Named("a", 1)).Scan(&x, &y, &z); err != nil {
			t.Errorf("%s: %v", d, err)
		}
		s.Close()
	}
}

// TestAPIDiffReadsModerncStringTime checks that a time.Time modernc stored
// with its default format — time.Time.String(), which for a time from
// time.Now() ends in the monotonic clock reading ("... +0000 UTC
// m=+0.005783884") — reads back from a DATETIME column as a time.Time, as
// the README promises for "Go's time.Time.String (other drivers'
// default)". modernc reads it; ours returned the text, and Scan into
// time.Time failed.
func TestAPIDiffReadsModerncStringTime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "modernc.db")
	m, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := m.Exec("CREATE TABLE tt(d DATETIME)"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Exec("INSERT INTO tt VALUES (?)", now); err != nil {
		t.Fatal(err)
	}
	m.Close()
	for _, d := range apiDiffDrivers {
		db, err := sql.Open(d, path)
		if err != nil {
			t.Fatal(err)
		}
		var got time.Time
		if err := db.QueryRow("SELECT d FROM tt").Scan(&got); err != nil {
			t.Errorf("%s: %v", d, err)
		} else if !got.Equal(now) {
			t.Errorf("%s: got %v, want %v", d, got, now)
		}
		db.Close()
	}
}

// TestAPIDiffUintNeverWrapped checks the README's "uint, uint64 |
// INTEGER; a value above math.MaxInt64 is an error, never wrapped" for the
// other ways to pass such a value: a *uint and a named type of kind uint
// or uint64. database/sql's default conversion, which ours applies to
// pointers and named types, turns a uint above math.MaxInt64 into a
// negative int64 (-1 for math.MaxUint64), and the driver stored it
// (modernc does the same for every uint; a uint64 kind is refused by the
// default conversion itself).
func TestAPIDiffUintNeverWrapped(t *testing.T) {
	big := uint(math.MaxUint64)
	db := apiDiffOpen(t, "libsql")
	for _, arg := range []any{&big, apiDiffUint(math.MaxUint64)} {
		var v any
		err := db.QueryRow("SELECT ?", arg).Scan(&v)
		if err == nil {
			t.Errorf("%T(%d): stored %v, want an error", arg, uint(math.MaxUint64), v)
		}
	}
}
