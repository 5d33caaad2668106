package libsql

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golibsql/libsql/changefeed"
)

// r19Probe is a RawFunction probe(x, k) returning one reading of x:
// k=0 its Type's name, 1 Int64, 2 Float, 3 RawText as text, 4 RawBlob as
// a blob, 5 "nil"/"set" for RawText==nil, 6 the same for RawBlob.
func r19Probe(f *FuncContext) {
	switch f.Int64(1) {
	case 0:
		f.ResultText(strings.ToLower(f.Type(0).String()))
	case 1:
		f.ResultInt64(f.Int64(0))
	case 2:
		f.ResultFloat(f.Float(0))
	case 3:
		f.ResultRawText(f.RawText(0))
	case 4:
		f.ResultBlob(f.RawBlob(0))
	case 5:
		if f.RawText(0) == nil {
			f.ResultText("nil")
		} else {
			f.ResultText("set")
		}
	case 6:
		if f.RawBlob(0) == nil {
			f.ResultText("nil")
		} else {
			f.ResultText("set")
		}
	}
}

// r19Values are SQL expressions for the conversion tests.
var r19Values = []string{
	"0", "-1", "9223372036854775807", "-9223372036854775808",
	"1.5", "-0.0", "1e308", "-1e308", "1e-320", "9.2233720368547758e18", "-9.3e18", "1e19",
	"''", "'  12  '", "'0x1A'", "'1e3'", "'12abc'", "'abc'", "'9223372036854775808'",
	"'-9223372036854775809'", "'1e400'", "'-1e400'", "'nan'", "'inf'", "' -0 '", "'1.0'",
	"'a' || char(0) || 'b'", "CAST(x'fffe41' AS TEXT)", "'１２'", "'héllo'",
	"x''", "x'00'", "x'3132'", "zeroblob(3)", "zeroblob(0)", "x'ff'", "NULL",
}

// r19Compare checks each reading of probe against SQLite's own CAST of
// the same value, on db, with the value from a column with no affinity
// (read in the same row and in another query).
func r19Compare(t *testing.T, db *sql.DB, label string) {
	t.Helper()
	mustExec(t, db, "CREATE TABLE IF NOT EXISTS r19v(id INTEGER PRIMARY KEY, x)")
	mustExec(t, db, "DELETE FROM r19v")
	for i, v := range r19Values {
		mustExec(t, db, fmt.Sprintf("INSERT INTO r19v VALUES (%d, %s)", i, v))
	}
	type reading struct {
		typ      string
		i        int64
		f        float64
		txt, blb string
	}
	read := func(q string, id int) reading {
		var r reading
		var txt, blb sql.NullString
		if err := db.QueryRow(q, id).Scan(&r.typ, &r.i, &r.f, &txt, &blb); err != nil {
			t.Fatalf("%s: %s: %v", label, q, err)
		}
		r.txt, r.blb = txt.String, blb.String
		return r
	}
	want := "SELECT typeof(x), coalesce(CAST(x AS INTEGER), 0), coalesce(CAST(x AS REAL), 0.0), hex(CAST(x AS TEXT)), hex(CAST(x AS BLOB)) FROM r19v WHERE id = ?"
	got := "SELECT probe(x, 0), probe(x, 1), probe(x, 2), hex(probe(x, 3)), hex(probe(x, 4)) FROM r19v WHERE id = ?"
	// The text as UTF-8, read through the driver (hex of a TEXT in a
	// UTF-16 database is its UTF-16 bytes).
	wantTxt := "SELECT CAST(x AS TEXT), probe(x, 3) FROM r19v WHERE id = ?"
	for i, v := range r19Values {
		w, g := read(want, i), read(got, i)
		if w.typ != g.typ || w.i != g.i || math.Float64bits(w.f) != math.Float64bits(g.f) && !(w.f == 0 && g.f == 0) {
			t.Errorf("%s: %s: probe read type/int/float %q %d %v, SQLite %q %d %v", label, v, g.typ, g.i, g.f, w.typ, w.i, w.f)
		}
		var a, b sql.NullString
		if err := db.QueryRow(wantTxt, i).Scan(&a, &b); err != nil {
			t.Fatal(err)
		}
		// sqlite3_value_blob: a number's UTF-8 text; a text's or a
		// blob's bytes as stored (CAST(x AS BLOB)).
		wb := w.blb
		if w.typ == "integer" || w.typ == "real" {
			wb = fmt.Sprintf("%X", a.String)
		}
		if wb != g.blb {
			t.Errorf("%s: %s: RawBlob %s, sqlite3_value_blob %s", label, v, g.blb, wb)
		}
		if a.String != b.String {
			t.Errorf("%s: %s: RawText %q, CAST(x AS TEXT) %q", label, v, b.String, a.String)
		}
		// In the same row: probe first, then SQLite's reading of the
		// same column.
		var typ2, typ3 string
		var i2 int64
		same := "SELECT probe(x, 3), typeof(x), probe(x, 0), coalesce(CAST(x AS INTEGER), 0) FROM r19v WHERE id = ?"
		var dummy sql.NullString
		if err := db.QueryRow(same, i).Scan(&dummy, &typ2, &typ3, &i2); err != nil {
			t.Fatal(err)
		}
		if typ2 != w.typ || typ3 != w.typ || i2 != w.i {
			t.Errorf("%s: %s: after RawText in the same row: typeof %s, Type %s, CAST %d; want %s %d", label, v, typ2, typ3, i2, w.typ, w.i)
		}
	}
}

// TestReview19RawConversionsMatchSQLite: Int64, Float, RawText, RawBlob
// and Type of many values agree with SQLite's CAST, in UTF-8 and UTF-16
// databases.
func TestReview19RawConversionsMatchSQLite(t *testing.T) {
	for _, enc := range []string{"UTF-8", "UTF-16le", "UTF-16be"} {
		t.Run(enc, func(t *testing.T) {
			db := openTestDB(t, "", WithRawFunction("probe", 2, r19Probe))
			db.SetMaxOpenConns(1)
			mustExec(t, db, "PRAGMA encoding = '"+enc+"'")
			var got string
			if err := db.QueryRow("PRAGMA encoding").Scan(&got); err != nil || !strings.EqualFold(got, enc) {
				t.Fatalf("encoding %q, %v", got, err)
			}
			r19Compare(t, db, enc)
		})
	}
}

// TestReview19RawEmptyIsNotNull: RawText of ” and RawBlob of x” are
// not nil, so that nil means NULL, as the documentation says ("NULL is
// nil"), and as a ScalarFunction's []byte ("never nil").
func TestReview19RawEmptyIsNotNull(t *testing.T) {
	db := openTestDB(t, "", WithRawFunction("probe", 2, r19Probe))
	for _, tc := range []struct{ q, want string }{
		{"SELECT probe('', 5)", "set"},
		{"SELECT probe(x'', 6)", "set"},
		{"SELECT probe(zeroblob(0), 6)", "set"},
		{"SELECT probe(NULL, 5)", "nil"},
		{"SELECT probe(NULL, 6)", "nil"},
	} {
		var got string
		if err := db.QueryRow(tc.q).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s: %s, want %s", tc.q, got, tc.want)
		}
	}
}

type r19ValRecv struct{ v any }

func (r r19ValRecv) Value() (driver.Value, error) { return r.v, nil }

type r19PtrRecv struct{ v any }

func (r *r19PtrRecv) Value() (driver.Value, error) {
	if r == nil {
		return "nil receiver", nil
	}
	return r.v, nil
}

type r19ErrValuer struct{}

func (r19ErrValuer) Value() (driver.Value, error) { return nil, errors.New("valuer failed") }

type r19Str string
type r19Bytes []byte
type r19Uint uint64

// TestReview19ResultValueLikeStatementArgs: ResultValue(v) gives the
// value a statement argument v is stored as (typeof and quote), and fails
// where binding v fails, for each _time_format.
func TestReview19ResultValueLikeStatementArgs(t *testing.T) {
	n := 5
	s := "str"
	var nilInt *int
	var nilStr *string
	var nilPtrRecv *r19PtrRecv
	var nilValRecv *r19ValRecv
	ts := time.Date(2024, 2, 29, 23, 59, 58, 123456789, time.FixedZone("X", 5*3600+1800))
	vals := []any{
		nil, int64(-7), 3.25, true, false, "text", "", []byte{1, 2}, []byte{}, []byte(nil),
		int(5), int8(-3), int16(300), int32(-70000), uint(9), uint8(200), uint16(65535), uint32(4000000000),
		uint64(5), uint64(math.MaxInt64), uint64(math.MaxInt64) + 1, uint(math.MaxUint64), r19Uint(math.MaxUint64), r19Uint(3),
		float32(1.5), math.Inf(1), math.Inf(-1), math.NaN(), math.Copysign(0, -1),
		ts, time.Time{}, ts.UTC(), &ts, (*time.Time)(nil),
		&n, nilInt, &s, nilStr, r19Str("named"), r19Bytes("nb"), r19Bytes(nil),
		sql.NullString{}, sql.NullString{String: "ns", Valid: true}, sql.NullInt64{Int64: 7, Valid: true},
		sql.NullTime{Time: ts, Valid: true}, sql.NullBool{Bool: true, Valid: true},
		r19ValRecv{int64(4)}, r19ValRecv{"v"}, r19ValRecv{nil}, &r19PtrRecv{[]byte("p")}, nilPtrRecv, nilValRecv,
		r19ValRecv{int(4)}, r19ValRecv{uint64(math.MaxUint64)}, r19ValRecv{r19ValRecv{int64(1)}}, r19ErrValuer{},
		struct{}{}, complex(1, 2), []int{1}, map[string]int{}, make(chan int), func() {},
	}
	for _, format := range []string{"", "rfc3339nano", "sqlite", "datetime", "unix", "unix_milli", "unix_micro", "unix_nano", "2006/01/02 15h04"} {
		t.Run("format="+format, func(t *testing.T) {
			q := ""
			if format != "" {
				q = "_time_format=" + url.QueryEscape(format)
			}
			db := openTestDB(t, q, WithRawFunction("rv", 1, func(f *FuncContext) { f.ResultValue(vals[f.Int64(0)]) }))
			for i, v := range vals {
				var wt, wq, gt, gq sql.NullString
				werr := db.QueryRow("SELECT typeof(?1), quote(?1)", v).Scan(&wt, &wq)
				gerr := db.QueryRow("SELECT typeof(rv(?1)), quote(rv(?1))", i).Scan(&gt, &gq)
				if (werr != nil) != (gerr != nil) {
					t.Errorf("%T %#v: as an argument %v %v (%v); as ResultValue %v %v (%v)", v, v, wt.String, wq.String, werr, gt.String, gq.String, gerr)
					continue
				}
				if wt != gt || wq != gq {
					t.Errorf("%T %#v: as an argument %v %v; as ResultValue %v %v", v, v, wt.String, wq.String, gt.String, gq.String)
				}
			}
		})
	}
}

const r19KeptEnv = "LIBSQL_REVIEW19_KEPT_DB"

// TestReview19KeptFuncContextChild is the child of
// TestReview19KeptFuncContext: it keeps a FuncContext past its call and
// uses it after the statement ended, after other statements, and after
// the DB closed, printing what each call does.
func TestReview19KeptFuncContextChild(t *testing.T) {
	path := os.Getenv(r19KeptEnv)
	if path == "" {
		t.Skip("child process of TestReview19KeptFuncContext")
	}
	var kept *FuncContext
	db, err := Open("file:"+path, WithRawFunction("keep", -1, func(f *FuncContext) {
		if kept == nil {
			kept = f
		}
		f.ResultInt64(f.Int64(0))
	}), WithRawFunction("other", 1, func(f *FuncContext) { f.ResultText(f.Text(0)) }))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	db.SetMaxOpenConns(1)
	try := func(stage, what string, fn func() any) {
		defer func() {
			if r := recover(); r != nil {
				fmt.Printf("%s %s: panic %v\n", stage, what, r)
			}
		}()
		fmt.Printf("%s %s: %v\n", stage, what, fn())
	}
	use := func(stage string) {
		try(stage, "NArg", func() any { return kept.NArg() })
		try(stage, "Type", func() any { return kept.Type(0) })
		try(stage, "Int64", func() any { return kept.Int64(0) })
		try(stage, "Float", func() any { return kept.Float(0) })
		try(stage, "Text", func() any { return kept.Text(0) })
		try(stage, "RawBlob", func() any { return len(kept.RawBlob(0)) })
		try(stage, "Context", func() any { return kept.Context() != nil })
		try(stage, "ResultInt64", func() any { kept.ResultInt64(99); return "ok" })
		try(stage, "ResultText", func() any { kept.ResultText(strings.Repeat("z", 100000)); return "ok" })
		try(stage, "ResultBlob", func() any { kept.ResultBlob(make([]byte, 5000)); return "ok" })
		try(stage, "ResultValue", func() any { kept.ResultValue("v"); return "ok" })
		try(stage, "ResultError", func() any { kept.ResultError(errors.New("late")); return "ok" })
	}
	var n int64
	if err := db.QueryRow("SELECT keep(42, 'some text argument')").Scan(&n); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	use("after-statement")
	// Other statements, with the function and without, then a check.
	for i := range 50 {
		var s string
		if err := db.QueryRow("SELECT other(?) || keep(?)", strings.Repeat("y", i*100), i).Scan(&s); err != nil {
			fmt.Println("later statement error", err)
		}
	}
	use("after-other-calls")
	var ic string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&ic); err != nil || ic != "ok" {
		fmt.Println("integrity", ic, err)
	}
	if _, err := db.Exec("SELECT 1"); err != nil {
		fmt.Println("later error", err)
	}
	db.Close()
	use("after-close")
	runtime.GC()
	fmt.Println("survived")
}

// TestReview19KeptFuncContext: a FuncContext kept past its call and used
// later must not crash the process (the documentation says it is valid
// during the call only; what it does is logged).
func TestReview19KeptFuncContext(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	path := filepath.Join(t.TempDir(), "kept.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestReview19KeptFuncContextChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), r19KeptEnv+"="+path)
	out, err := cmd.CombinedOutput()
	t.Logf("child output:\n%s", out)
	if err != nil || !strings.Contains(string(out), "survived") {
		t.Fatalf("using a FuncContext kept past its call crashed the process: %v", err)
	}
	// Every use after the call panics with the driver's error: none reads
	// or writes a later call's (or a freed) SQLite memory.
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "after-") && !strings.Contains(line, "panic "+errFuncContextDone.Error()) {
			t.Errorf("a kept FuncContext did not refuse: %s", line)
		}
	}
	if n := strings.Count(string(out), errFuncContextDone.Error()); n != 36 {
		t.Errorf("%d refusals, want 12 methods × 3 stages", n)
	}
}

// TestReview19ResultErrorOrder: a result set after ResultError does not
// undo the error, ResultError after a result fails the call; a panic after
// a result fails it; each error is the statement's cause; the connection
// works afterwards.
func TestReview19ResultErrorOrder(t *testing.T) {
	errA := errors.New("error A")
	fn := func(f *FuncContext) {
		switch f.Text(0) {
		case "err-then-int":
			f.ResultError(errA)
			f.ResultInt64(5)
		case "err-then-text":
			f.ResultError(errA)
			f.ResultText("replacement")
		case "int-then-err":
			f.ResultInt64(5)
			f.ResultError(errA)
		case "err-twice":
			f.ResultError(errA)
			f.ResultError(errors.New("error B"))
		case "text-then-panic":
			f.ResultText("x")
			panic(errA)
		case "err-then-panic":
			f.ResultError(errors.New("error B"))
			panic(errA)
		case "value-bad-then-int":
			f.ResultValue(struct{}{})
			f.ResultInt64(1)
		}
	}
	db := openTestDB(t, "", WithRawFunction("fn", 1, fn))
	db.SetMaxOpenConns(1)
	for _, tc := range []struct {
		arg     string
		wantErr error
	}{
		{"err-then-int", errA}, {"err-then-text", errA}, {"int-then-err", errA}, {"err-twice", errA},
		{"text-then-panic", errA}, {"err-then-panic", nil}, {"value-bad-then-int", nil},
	} {
		var v any
		err := db.QueryRow("SELECT fn(?)", tc.arg).Scan(&v)
		if err == nil {
			t.Errorf("%s: no error, result %v", tc.arg, v)
			continue
		}
		if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
			t.Errorf("%s: %v, not wrapping %v", tc.arg, err, tc.wantErr)
		}
		t.Logf("%s: %v", tc.arg, err)
		var n int
		if err := db.QueryRow("SELECT 1").Scan(&n); err != nil || n != 1 {
			t.Fatalf("after %s: %v", tc.arg, err)
		}
	}
}

// TestReview19IndexesOutOfRange: every FuncContext method with an index
// out of range reads NULL (and never panics or reads past argv).
func TestReview19IndexesOutOfRange(t *testing.T) {
	var out []string
	fn := func(f *FuncContext) {
		for _, i := range []int{-1, -1 << 40, f.NArg(), f.NArg() + 1, math.MaxInt, math.MinInt} {
			out = append(out, fmt.Sprintf("%d:%s:%d:%v:%v:%v:%q", i, f.Type(i), f.Int64(i), f.Float(i), f.RawText(i) == nil, f.RawBlob(i) == nil, f.Text(i)))
		}
		f.ResultInt64(int64(f.NArg()))
	}
	db := openTestDB(t, "", WithRawFunction("fn", -1, fn))
	db.SetMaxOpenConns(1)
	args := make([]string, 100)
	for i := range args {
		args[i] = fmt.Sprint(i)
	}
	for _, q := range []string{"SELECT fn()", "SELECT fn(1)", "SELECT fn(" + strings.Join(args, ",") + ")"} {
		out = out[:0]
		var n int
		if err := db.QueryRow(q).Scan(&n); err != nil {
			t.Fatalf("%.40s: %v", q, err)
		}
		for _, s := range out {
			if !strings.HasSuffix(s, `:NULL:0:0:true:true:""`) {
				t.Errorf("%.30s: out of range read %s", q, s)
			}
		}
	}
	// nArg -1 with 0 and 100 arguments, each read back.
	sum := func(f *FuncContext) {
		var s int64
		for i := range f.NArg() {
			s += f.Int64(i)
		}
		f.ResultInt64(s*1000 + int64(f.NArg()))
	}
	db2 := openTestDB(t, "", WithRawFunction("s", -1, sum))
	for _, tc := range []struct {
		q    string
		want int64
	}{{"SELECT s()", 0}, {"SELECT s(" + strings.Join(args, ",") + ")", 4950*1000 + 100}} {
		var n int64
		if err := db2.QueryRow(tc.q).Scan(&n); err != nil || n != tc.want {
			t.Fatalf("%.30s: %d, %v; want %d", tc.q, n, err, tc.want)
		}
	}
}

// TestReview19ReplaceAndRegisterTwice: a RawFunction replaces a built-in
// (length), and of a WithFunction and a WithRawFunction of one name and
// nArg the one given last wins, either way round; names are
// case-insensitive.
func TestReview19ReplaceAndRegisterTwice(t *testing.T) {
	raw := WithRawFunction("twice", 1, func(f *FuncContext) { f.ResultText("raw") })
	scalar := WithFunction("TWICE", 1, func(context.Context, []driver.Value) (driver.Value, error) { return "scalar", nil })
	rawLen := WithRawFunction("length", 1, func(f *FuncContext) { f.ResultInt64(int64(len(f.RawText(0))) * 10) })
	for _, tc := range []struct {
		opts []Option
		want string
	}{
		{[]Option{scalar, raw}, "raw"},
		{[]Option{raw, scalar}, "scalar"},
		{[]Option{raw, raw, scalar, raw}, "raw"},
	} {
		db := openTestDB(t, "", append(tc.opts, rawLen)...)
		db.SetMaxOpenConns(3)
		// Several connections, each registered the same way.
		conns := make([]*sql.Conn, 3)
		for i := range conns {
			c, err := db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			conns[i] = c
		}
		for _, c := range conns {
			var got string
			var l int
			if err := c.QueryRowContext(context.Background(), "SELECT twice(1), length('héllo')").Scan(&got, &l); err != nil {
				t.Fatal(err)
			}
			if got != tc.want || l != 60 {
				t.Errorf("twice %q (want %q), length %d (want 60)", got, tc.want, l)
			}
		}
		for _, c := range conns {
			c.Close()
		}
	}
}

// TestReview19LargeResults: ResultRawText, ResultText and ResultBlob of
// 10 MB, empty and nil values.
func TestReview19LargeResults(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 10<<20/16)
	big[5] = 0 // a NUL inside
	fn := func(f *FuncContext) {
		switch f.Text(0) {
		case "rawtext":
			f.ResultRawText(big)
		case "text":
			f.ResultText(string(big))
		case "blob":
			f.ResultBlob(big)
		case "rawtext-nil":
			f.ResultRawText(nil)
		case "rawtext-empty":
			f.ResultRawText([]byte{})
		case "blob-nil":
			f.ResultBlob(nil)
		case "text-empty":
			f.ResultText("")
		case "echo":
			f.ResultBlob(f.RawBlob(1))
		}
	}
	db := openTestDB(t, "", WithRawFunction("fn", -1, fn))
	for _, tc := range []struct {
		arg, typ string
		n        int
	}{
		{"rawtext", "text", len(big)}, {"text", "text", len(big)}, {"blob", "blob", len(big)},
		{"rawtext-nil", "text", 0}, {"rawtext-empty", "text", 0}, {"blob-nil", "blob", 0}, {"text-empty", "text", 0},
	} {
		for range 2 {
			var typ string
			var n int
			var v []byte
			if err := db.QueryRow("SELECT typeof(fn(?1)), length(CAST(fn(?1) AS BLOB)), fn(?1)", tc.arg).Scan(&typ, &n, &v); err != nil {
				t.Fatalf("%s: %v", tc.arg, err)
			}
			if typ != tc.typ || n != tc.n || tc.n > 0 && !bytes.Equal(v, big) {
				t.Errorf("%s: %s of %d bytes (equal %v), want %s of %d", tc.arg, typ, n, bytes.Equal(v, big), tc.typ, tc.n)
			}
		}
	}
	var v []byte
	if err := db.QueryRow("SELECT fn('echo', ?)", big).Scan(&v); err != nil || !bytes.Equal(v, big) {
		t.Fatalf("echo of 10 MB: %d bytes, %v", len(v), err)
	}
}

// TestReview19ErrorTextIsTheCause: the statement's error names the error
// the function gave ResultError (its cause), even when the function set a
// result after it, or called ResultError twice.
func TestReview19ErrorTextIsTheCause(t *testing.T) {
	errA := errors.New("error A")
	fn := func(f *FuncContext) {
		switch f.Text(0) {
		case "err-then-int":
			f.ResultError(errA)
			f.ResultInt64(5)
		case "err-then-text":
			f.ResultError(errA)
			f.ResultText("replacement")
		case "err-twice":
			f.ResultError(errA)
			f.ResultError(errors.New("error B"))
		case "bad-value-then-int":
			f.ResultValue(struct{}{})
			f.ResultInt64(1)
		}
	}
	db := openTestDB(t, "", WithRawFunction("fn", 1, fn))
	for _, arg := range []string{"err-then-int", "err-then-text", "err-twice", "bad-value-then-int"} {
		var v any
		err := db.QueryRow("SELECT fn(?)", arg).Scan(&v)
		if err == nil {
			t.Errorf("%s: no error", arg)
			continue
		}
		cause := errors.Unwrap(err)
		if cause == nil || !strings.Contains(err.Error(), cause.Error()) {
			t.Errorf("%s: the statement's error says %q, its cause is %v", arg, err, cause)
		}
	}
}

// r19Rev is a deterministic RawFunction: its argument's text reversed
// (rune-wise), NULL for NULL; it counts its calls.
func r19Rev(calls *atomic.Int64) RawFunction {
	return func(f *FuncContext) {
		calls.Add(1)
		if f.Type(0) == TypeNull {
			return
		}
		r := []rune(string(f.RawText(0)))
		slices.Reverse(r)
		f.ResultText(string(r))
	}
}

const r19Schema = `
CREATE TABLE t(id INTEGER PRIMARY KEY, x, pad BLOB,
  g TEXT GENERATED ALWAYS AS (rev(x)) STORED,
  v TEXT GENERATED ALWAYS AS (rev(x)) VIRTUAL,
  CHECK (x IS NULL OR rev(rev(x)) = CAST(x AS TEXT)));
CREATE INDEX t_rev ON t(rev(x));
CREATE INDEX t_partial ON t(id) WHERE rev(x) <> 'zzz';
CREATE TABLE log(id INTEGER PRIMARY KEY, r TEXT);
CREATE TRIGGER t_ai AFTER INSERT ON t BEGIN INSERT INTO log(r) VALUES (rev(NEW.x)); END;
CREATE TRIGGER t_au AFTER UPDATE ON t BEGIN INSERT INTO log(r) VALUES (rev(NEW.x)); END;
CREATE VIEW tv AS SELECT id, rev(x) AS r FROM t;
CREATE TABLE other(id INTEGER PRIMARY KEY);
`

// r19CheckSchema checks every row of t: g, v, the index, the view and the
// log agree with rev(x).
func r19CheckSchema(t *testing.T, db *sql.DB, label string) {
	t.Helper()
	var bad int
	if err := db.QueryRow(`SELECT count(*) FROM t WHERE g IS NOT rev(x) OR v IS NOT rev(x)
		OR (SELECT r FROM tv WHERE tv.id = t.id) IS NOT rev(x)`).Scan(&bad); err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	if bad != 0 {
		t.Errorf("%s: %d rows whose generated columns or view disagree with rev(x)", label, bad)
	}
	rows, err := db.Query("SELECT id, x FROM t")
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		id int64
		x  any
	}
	var all []row
	for rows.Next() {
		var r row
		rows.Scan(&r.id, &r.x)
		all = append(all, r)
	}
	rows.Close()
	for _, r := range all {
		if r.x == nil {
			continue
		}
		var id int64
		// Looked up through the expression index.
		if err := db.QueryRow("SELECT id FROM t INDEXED BY t_rev WHERE rev(x) = (SELECT rev(x) FROM t WHERE id = ?) AND id = ?", r.id, r.id).Scan(&id); err != nil {
			t.Errorf("%s: row %d (%v) not found through the index: %v", label, r.id, r.x, err)
		}
	}
	checkIntegrity(t, db)
}

// TestReview19RawFunctionInSchema: a RawFunction in generated columns, a
// CHECK, an expression index, a partial index, triggers and a view, in
// UTF-8 and UTF-16 databases, with values of every type, rows updated and
// deleted; integrity_check verifies the indexes with it.
func TestReview19RawFunctionInSchema(t *testing.T) {
	for _, enc := range []string{"UTF-8", "UTF-16le", "UTF-16be"} {
		t.Run(enc, func(t *testing.T) {
			var calls atomic.Int64
			db := openTestDB(t, "", WithRawFunction("rev", 1, r19Rev(&calls), Deterministic))
			mustExec(t, db, "PRAGMA encoding = '"+enc+"'")
			for _, stmt := range strings.Split(r19Schema, ";\n") {
				if strings.TrimSpace(stmt) != "" {
					mustExec(t, db, stmt)
				}
			}
			for i, v := range []string{"'abc'", "'héllo wörld'", "12", "-3.5", "x'616263'", "NULL", "''", "'１２'", "9223372036854775807", "1e308", "'  7 '"} {
				mustExec(t, db, fmt.Sprintf("INSERT INTO t(id, x) VALUES (%d, %s)", i+1, v))
			}
			mustExec(t, db, "UPDATE t SET x = x || 'u' WHERE id % 2 = 0")
			mustExec(t, db, "UPDATE t SET x = 77 WHERE id = 1")
			mustExec(t, db, "DELETE FROM t WHERE id = 3")
			if _, err := db.Exec("INSERT INTO t(id, x) VALUES (100, 'ok')"); err != nil {
				t.Fatal(err)
			}
			r19CheckSchema(t, db, enc)
			var n int
			if err := db.QueryRow("SELECT count(*) FROM log WHERE r IS NOT NULL").Scan(&n); err != nil || n == 0 {
				t.Fatalf("log: %d, %v", n, err)
			}
			if calls.Load() == 0 {
				t.Fatal("rev never ran")
			}
		})
	}
}

// r19Rebased returns PRAGMA libsql_stats' count of rebased concurrent
// commits.
func r19Rebased(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	var s string
	if err := db.QueryRow("PRAGMA libsql_stats").Scan(&s); err != nil {
		t.Fatal(err)
	}
	var all struct {
		Concurrent struct{ Rebased int64 } `json:"concurrent"`
	}
	if err := json.Unmarshal([]byte(s), &all); err != nil {
		t.Fatal(err)
	}
	return all.Concurrent.Rebased
}

// TestReview19RawFunctionRebase: BEGIN CONCURRENT transactions that
// insert, update and delete rows of a table whose generated columns,
// CHECK, indexes and triggers call a RawFunction are rebased over another
// connection's commit; the result is as if they ran serially.
func TestReview19RawFunctionRebase(t *testing.T) {
	for _, cdc := range []string{"", "cdc=on"} {
		t.Run("cdc="+cdc, func(t *testing.T) {
			var calls atomic.Int64
			db := openTestDB(t, cdc, WithRawFunction("rev", 1, r19Rev(&calls), Deterministic))
			for _, stmt := range strings.Split(r19Schema, ";\n") {
				if strings.TrimSpace(stmt) != "" {
					mustExec(t, db, stmt)
				}
			}
			mustExec(t, db, "INSERT INTO t(id, x) VALUES (1, 'one'), (2, 'two'), (3, 3)")
			ctx := context.Background()
			a, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			b, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			for round := range 3 {
				before := r19Rebased(t, db)
				mustExec(t, r19Conn{a}, "BEGIN CONCURRENT")
				base := int64(10 + round*10)
				mustExec(t, r19Conn{a}, "INSERT INTO t(id, x, pad) VALUES (?, ?, zeroblob(20000))", base, fmt.Sprintf("new%d", round))
				mustExec(t, r19Conn{a}, "INSERT INTO t(id, x) VALUES (?, ?)", base+1, base*7)
				mustExec(t, r19Conn{a}, "UPDATE t SET x = x || 'x' WHERE id = 2")
				if round == 1 {
					mustExec(t, r19Conn{a}, "DELETE FROM t WHERE id = 3")
				}
				inTx := r19Dump(t, a)
				mustExec(t, r19Conn{b}, "INSERT INTO other VALUES (?)", round)
				if _, err := a.ExecContext(ctx, "COMMIT"); err != nil {
					a.ExecContext(ctx, "ROLLBACK")
					t.Fatalf("round %d: COMMIT: %v", round, err)
				}
				if after := r19Rebased(t, db); after != before+1 {
					t.Errorf("round %d: not rebased (%d -> %d)", round, before, after)
				}
				if got := r19Dump(t, db); got != inTx {
					t.Errorf("round %d: after the rebase\n  %s\nthe transaction saw\n  %s", round, got, inTx)
				}
				r19CheckSchema(t, db, fmt.Sprintf("round %d", round))
			}
		})
	}
}

// r19Dump returns t's and log's rows as one string.
func r19Dump(t *testing.T, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) string {
	t.Helper()
	var b strings.Builder
	for _, s := range []string{"SELECT id, x, g, v, length(pad) FROM t ORDER BY id", "SELECT id, r FROM log ORDER BY id"} {
		rows, err := q.QueryContext(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			rows.Scan(ptrs...)
			for i, v := range vals {
				if bb, ok := v.([]byte); ok {
					vals[i] = string(bb)
				}
			}
			fmt.Fprintf(&b, "%v;", vals)
		}
		rows.Close()
		b.WriteString(" | ")
	}
	return b.String()
}

// r19Conn adapts a *sql.Conn to mustExec.
type r19Conn struct{ *sql.Conn }

func (c r19Conn) Exec(q string, args ...any) (sql.Result, error) {
	return c.ExecContext(context.Background(), q, args...)
}

// TestReview19RawBlobUTF16InPlace: in a UTF-16 database, a RawFunction
// that reads a TEXT argument with RawBlob or RawText (which may convert
// the argument where SQLite holds it) in a generated column, an index and
// a CHECK leaves the stored text, and what SQLite computes from the same
// column in the same row, as they are without it.
func TestReview19RawBlobUTF16InPlace(t *testing.T) {
	for _, enc := range []string{"UTF-16le", "UTF-16be"} {
		t.Run(enc, func(t *testing.T) {
			blen := func(f *FuncContext) { f.ResultInt64(int64(len(f.RawBlob(0)))) }
			tlen := func(f *FuncContext) { f.ResultInt64(int64(len(f.RawText(0)))) }
			db := openTestDB(t, "", WithRawFunction("blen", 1, blen, Deterministic), WithRawFunction("tlen", 1, tlen, Deterministic))
			mustExec(t, db, "PRAGMA encoding = '"+enc+"'")
			mustExec(t, db, `CREATE TABLE t(id INTEGER PRIMARY KEY, x TEXT, y ANY,
				n INT GENERATED ALWAYS AS (blen(x) + tlen(y)) STORED, CHECK (blen(x) >= 0 AND tlen(x) >= 0))`)
			mustExec(t, db, "CREATE INDEX t_b ON t(blen(x), tlen(y), x)")
			mustExec(t, db, "CREATE TABLE plain(id INTEGER PRIMARY KEY, x TEXT, y ANY)")
			vals := []string{"héllo", "abc", "１２３", "", "a\x00b"}
			for i, v := range vals {
				mustExec(t, db, "INSERT INTO t(id, x, y) VALUES (?, ?, ?)", i, v, v)
				mustExec(t, db, "INSERT INTO plain(id, x, y) VALUES (?, ?, ?)", i, v, v)
			}
			for i, v := range vals {
				var x, hx, hp string
				var b1, b2 int
				if err := db.QueryRow("SELECT blen(t.x), t.x, hex(t.x), blen(t.y), (SELECT hex(x) FROM plain WHERE id = t.id) FROM t WHERE id = ?", i).Scan(&b1, &x, &hx, &b2, &hp); err != nil {
					t.Fatal(err)
				}
				if x != v || hx != hp {
					t.Errorf("%q: stored as %q (hex %s), without the function %s", v, x, hx, hp)
				}
			}
			checkIntegrity(t, db)
		})
	}
}

// TestReview19ManyConnections: one RawFunction (reading text, writing
// text of its own size) on 16 database/sql connections and 8 native
// Conns of one connector at once, with each result checked; run under
// -race too.
func TestReview19ManyConnections(t *testing.T) {
	up := func(f *FuncContext) {
		b := f.RawText(0)
		out := make([]byte, len(b)+8)
		copy(out, bytes.ToUpper(b))
		copy(out[len(b):], fmt.Sprintf("%08d", f.Int64(1)))
		if f.Int64(1)%97 == 0 {
			f.ResultValue(string(out)) // through ResultValue now and then
			return
		}
		f.ResultRawText(out)
	}
	path := "file:" + filepath.ToSlash(filepath.Join(t.TempDir(), "many.db"))
	opt := WithRawFunction("up", 2, up, Deterministic)
	db := openTestDSN(t, path, opt)
	db.SetMaxOpenConns(16)
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, s TEXT)")
	mustExec(t, db, "CREATE INDEX t_up ON t(up(s, id))")
	ctr, err := NewConnector(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer ctr.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	check := func(w, i int, got string) {
		s := strings.Repeat(fmt.Sprintf("w%di%d-", w, i), i%50+1)
		if want := strings.ToUpper(s) + fmt.Sprintf("%08d", i); got != want {
			errs <- fmt.Errorf("worker %d call %d: %.40q, want %.40q", w, i, got, want)
		}
	}
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				s := strings.Repeat(fmt.Sprintf("w%di%d-", w, i), i%50+1)
				var got string
				if err := db.QueryRow("SELECT up(?, ?)", s, i).Scan(&got); err != nil {
					errs <- err
					return
				}
				check(w, i, got)
				if i%30 == 0 {
					if _, err := db.Exec("INSERT INTO t(s) VALUES (?)", s); err != nil && !strings.Contains(err.Error(), "locked") && !strings.Contains(err.Error(), "busy") {
						errs <- err
						return
					}
				}
			}
		}()
	}
	for w := 16; w < 24; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := ctr.ConnectConn(context.Background())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for i := range 300 {
				s := strings.Repeat(fmt.Sprintf("w%di%d-", w, i), i%50+1)
				var got string
				if err := c.QueryRow(context.Background(), "SELECT up(?, ?)", s, i).Scan(&got); err != nil {
					errs <- err
					return
				}
				check(w, i, got)
			}
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n++; n < 10 {
			t.Error(err)
		}
	}
}

const r19BlobEnv = "LIBSQL_REVIEW19_BLOB_DB"

// r19BlobSize is the size of each row's blob: several chunks, each
// written with its own Write, so that a kill lands between them.
const (
	r19BlobSize  = 96 << 10
	r19BlobChunk = 8 << 10
)

// r19Pattern is row n's blob: no byte is zero.
func r19Pattern(n int64) []byte {
	b := make([]byte, r19BlobSize)
	for i := range b {
		b[i] = byte((int64(i)*7+n*13)%251) + 1
	}
	return b
}

// TestReview19BlobKill9Child is the child of TestReview19BlobKill9: it
// inserts rows with zeroblob(N) in their own transaction, writes each
// row's pattern through a Blob opened for writing outside a transaction
// (its own transaction, committed by Close), and prints "ack N" once
// Close returned nil.
func TestReview19BlobKill9Child(t *testing.T) {
	path := os.Getenv(r19BlobEnv)
	if path == "" {
		t.Skip("child process of TestReview19BlobKill9")
	}
	fail := func(what string, err error) {
		fmt.Println("error", what, err)
		os.Exit(1)
	}
	db, err := Open("file:" + path + "?sync=full" + os.Getenv(r19BlobEnv+"_DSN"))
	if err != nil {
		fail("open", err)
	}
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		fail("conn", err)
	}
	if _, err := c.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS b(id INTEGER PRIMARY KEY, data BLOB)"); err != nil {
		fail("create", err)
	}
	var n int64
	c.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) FROM b").Scan(&n)
	for {
		n++
		if _, err := c.ExecContext(ctx, "INSERT INTO b(id, data) VALUES (?, zeroblob(?))", n, r19BlobSize); err != nil {
			fail("insert", err)
		}
		fmt.Printf("inserted %d\n", n)
		p := r19Pattern(n)
		err := c.Raw(func(dc any) error {
			bl, err := dc.(BlobOpener).OpenBlob(ctx, "", "b", "data", n, true)
			if err != nil {
				return err
			}
			for off := 0; off < len(p); off += r19BlobChunk {
				if _, err := bl.Write(p[off : off+r19BlobChunk]); err != nil {
					bl.Close()
					return err
				}
			}
			return bl.Close()
		})
		if err != nil {
			fail("blob", err)
		}
		fmt.Printf("ack %d\n", n)
	}
}

// TestReview19BlobKill9: a child streaming patterns into rows through
// own-transaction Blobs (sync=full; and with cdc=on) is killed with
// SIGKILL at random moments. After reopening: every acknowledged row has
// its whole pattern; any other row is all zeros or its whole pattern
// (never part of it); integrity_check is ok; with cdc=on the durable
// change log holds, for each row, one INSERT and exactly one UPDATE if
// and only if its pattern is there (always for an acknowledged one).
func TestReview19BlobKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	for _, variant := range []string{"", "&cdc=on"} {
		t.Run("dsn="+variant, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "blob.db")
			acked := map[int64]bool{}
			inserted := map[int64]bool{}
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 19))
			deadline := time.Now().Add(4 * time.Second)
			iters := 0
			for iter := 0; iter < 8 && time.Now().Before(deadline); iter++ {
				iters++
				cmd := exec.Command(os.Args[0], "-test.run=^TestReview19BlobKill9Child$", "-test.count=1")
				cmd.Env = append(os.Environ(), r19BlobEnv+"="+path, r19BlobEnv+"_DSN="+variant)
				stdout, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				cmd.Stderr = os.Stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				delay := time.Duration(80+rng.IntN(300)) * time.Millisecond
				timer := time.AfterFunc(delay, func() { cmd.Process.Kill() })
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					f := strings.Fields(sc.Text())
					switch {
					case len(f) == 2 && f[0] == "ack":
						n, _ := strconv.ParseInt(f[1], 10, 64)
						acked[n] = true
					case len(f) == 2 && f[0] == "inserted":
						n, _ := strconv.ParseInt(f[1], 10, 64)
						inserted[n] = true
					case len(f) > 0 && f[0] == "error":
						cmd.Process.Kill()
						t.Fatalf("child: %s", sc.Text())
					}
				}
				timer.Stop()
				cmd.Wait()
			}
			db := openTestDSN(t, "file:"+path+"?"+strings.TrimPrefix(variant, "&"))
			rows, err := db.Query("SELECT id, data FROM b ORDER BY id")
			if err != nil {
				t.Fatal(err)
			}
			present := map[int64]bool{}
			written := map[int64]bool{}
			zeros := make([]byte, r19BlobSize)
			for rows.Next() {
				var id int64
				var data []byte
				if err := rows.Scan(&id, &data); err != nil {
					t.Fatal(err)
				}
				present[id] = true
				switch {
				case bytes.Equal(data, r19Pattern(id)):
					written[id] = true
				case bytes.Equal(data, zeros):
					if acked[id] {
						t.Errorf("acknowledged row %d is all zeros: its blob write was lost", id)
					}
				default:
					t.Errorf("row %d (acked %v) holds %d bytes that are neither zeros nor its pattern (%d of them differ from the pattern)",
						id, acked[id], len(data), r19Diff(data, r19Pattern(id)))
				}
			}
			rows.Close()
			for n := range acked {
				if !present[n] {
					t.Errorf("acknowledged row %d is missing", n)
				}
			}
			if variant != "" {
				s := stream(t, db, ChangeOptions{Since: changefeed.Oldest, Tables: []string{"b"}})
				inserts, updates := map[int64]int{}, map[int64]int{}
				for {
					ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
					ch, err := s.Next(ctx)
					cancel()
					if err != nil {
						break
					}
					switch ch.Op {
					case changefeed.Insert:
						inserts[ch.RowID]++
					case changefeed.Update:
						updates[ch.RowID]++
						if nv, _ := ch.New[1].([]byte); !bytes.Equal(nv, r19Pattern(ch.RowID)) {
							t.Errorf("row %d: the logged UPDATE's new value is not its pattern", ch.RowID)
						}
						if ov, _ := ch.Old[1].([]byte); !bytes.Equal(ov, zeros) {
							t.Errorf("row %d: the logged UPDATE's old value is not zeros", ch.RowID)
						}
					default:
						t.Errorf("unexpected change %v of row %d", ch.Op, ch.RowID)
					}
				}
				for id := range present {
					wantU := 0
					if written[id] {
						wantU = 1
					}
					if inserts[id] != 1 || updates[id] != wantU {
						t.Errorf("row %d (acked %v, written %v): the change log holds %d INSERTs and %d UPDATEs, want 1 and %d",
							id, acked[id], written[id], inserts[id], updates[id], wantU)
					}
				}
				for id := range inserts {
					if !present[id] {
						t.Errorf("the change log has an INSERT of row %d, which is not in the table", id)
					}
				}
			}
			t.Logf("%d kills: %d rows, %d inserted (reported), %d acknowledged, %d written", iters, len(present), len(inserted), len(acked), len(written))
			if len(acked) == 0 {
				t.Fatal("no blob write was acknowledged: the test tested nothing")
			}
		})
	}
}

// r19Diff counts the bytes where a and b differ.
func r19Diff(a, b []byte) int {
	n := 0
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			n++
		}
	}
	return n + max(len(a), len(b)) - min(len(a), len(b))
}
