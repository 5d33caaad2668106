package capi

import (
	"fmt"
	"strings"
	"testing"

	sqlite3 "modernc.org/sqlite/lib"
)

// Review tests of Go SQL functions at the capi level.

func frOpen(t *testing.T, name string) *Conn {
	t.Helper()
	c, err := Open("/"+name, OPEN_READWRITE|OPEN_CREATE|OPEN_NOMUTEX, "memdb")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func frStepAll(s *Stmt) (int, error) {
	n := 0
	for {
		row, err := s.Step()
		if err != nil || !row {
			return n, err
		}
		n++
	}
}

var frCount = &Func{
	Step: func(x *Context) {
		s := x.State()
		n, _ := (*s).(int64)
		*s = n + 1
	},
	Final: func(x *Context) {
		n, _ := (*x.State()).(int64)
		x.ResultInt64(n)
	},
}

// 200 connections with functions and collations, opened, used and closed:
// the handle table is back where it was.
func TestFunctionsReviewHandlesAfterManyConnections(t *testing.T) {
	before := handleCount()
	for i := range 200 {
		c := frOpen(t, fmt.Sprint(t.Name(), i))
		for _, name := range []string{"f1", "f2", "f3"} {
			if err := c.CreateFunction(name, 1, 0, &Func{Call: func(x *Context) { x.ResultInt64(1) }}); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.CreateFunction("cnt", 1, 0, frCount); err != nil {
			t.Fatal(err)
		}
		if err := c.CreateFunction("win", 1, 0, &Func{Step: frCount.Step, Final: frCount.Final, Value: frCount.Final, Inverse: func(x *Context) {}}); err != nil {
			t.Fatal(err)
		}
		if err := c.CreateFunction("f1", 1, 0, &Func{Call: func(x *Context) { x.ResultInt64(2) }}); err != nil { // replaces
			t.Fatal(err)
		}
		if err := c.CreateCollation("rev", func(a, b string) int { return strings.Compare(b, a) }); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := c.Exec("SELECT f1(1), cnt(x) FROM (SELECT 'a' AS x UNION SELECT 'b') ORDER BY x COLLATE rev"); err != nil {
				t.Fatal(err)
			}
		}
		if i%3 == 0 { // a statement left open at Close
			s, _, err := c.Prepare("SELECT win(x) OVER (ORDER BY x ROWS 1 PRECEDING) FROM (SELECT 1 AS x UNION SELECT 2)", 0)
			if err != nil {
				t.Fatal(err)
			}
			s.Step()
		}
		if len(c.aggs) > 1 {
			t.Fatalf("%d groups in progress", len(c.aggs))
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if got := handleCount() - before; got != 0 {
		t.Fatalf("%d handles left after 200 connections closed", got)
	}
}

// Replacing a function while a statement is running fails with
// SQLITE_BUSY (SQLite calls the destructor of the new one, and
// CreateFunction deletes its handle too): no handle is lost or freed
// twice, and the old function keeps working.
func TestFunctionsReviewReplaceWhileActive(t *testing.T) {
	before := handleCount()
	c := frOpen(t, t.Name())
	defer c.Close()
	if err := c.CreateFunction("one", 0, 0, &Func{Call: func(x *Context) { x.ResultInt64(1) }}); err != nil {
		t.Fatal(err)
	}
	s, _, err := c.Prepare("SELECT one() FROM (SELECT 1 UNION ALL SELECT 2)", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Finalize()
	if row, err := s.Step(); !row || err != nil {
		t.Fatal(row, err)
	}
	// Another handle, made now, must survive the failed registration.
	other := NewHandle("other")
	defer other.Delete()
	err = c.CreateFunction("one", 0, 0, &Func{Call: func(x *Context) { x.ResultInt64(2) }})
	if err == nil || !strings.Contains(err.Error(), "active statements") {
		t.Fatalf("replace while active: %v", err)
	}
	if other.Value() != "other" {
		t.Fatal("the failed registration deleted another handle")
	}
	if row, err := s.Step(); !row || err != nil {
		t.Fatal(row, err)
	}
	if _, n, _, _ := s.Column(0); n != 1 {
		t.Fatalf("one() = %d after the failed replacement", n)
	}
	s.Reset()
	if got := handleCount() - before; got != 3 { // the Conn, one, other
		t.Fatalf("%d handles, want 3", got)
	}
}

// A text or blob result longer than SQLITE_LIMIT_LENGTH fails the
// statement with SQLITE_TOOBIG; one at the limit works.
func TestFunctionsReviewResultOverLengthLimit(t *testing.T) {
	c := frOpen(t, t.Name())
	defer c.Close()
	sqlite3.Xsqlite3_limit(c.tls, c.db, sqlite3.SQLITE_LIMIT_LENGTH, 1000)
	n := 0
	for _, kind := range []string{"text", "bytes", "blob"} {
		if err := c.CreateFunction("big_"+kind, 1, 0, &Func{Call: func(x *Context) {
			_, size, _, _ := x.Arg(0)
			b := make([]byte, size)
			switch kind {
			case "text":
				x.ResultText(string(b))
			case "bytes":
				x.ResultTextBytes(b)
			default:
				x.ResultBlob(b)
			}
		}}); err != nil {
			t.Fatal(err)
		}
		for _, size := range []int{1000, 1001, 100000} {
			s, _, err := c.Prepare(fmt.Sprintf("SELECT octet_length(big_%s(%d))", kind, size), 0)
			if err != nil {
				t.Fatal(err)
			}
			row, err := s.Step()
			if size <= 1000 {
				if _, got, _, _ := s.Column(0); !row || err != nil || got != int64(size) {
					t.Errorf("%s of %d bytes: %v %v %d", kind, size, row, err, got)
				}
			} else if err == nil || !strings.Contains(err.Error(), "too big") {
				t.Errorf("%s of %d bytes over a limit of 1000: %v %v", kind, size, row, err)
			}
			s.Finalize()
			n++
		}
	}
}

// xFinal failing for a group SQLite drops when a LIMIT halts the
// statement: a C function's sqlite3_result_error there does not fail the
// statement; Context.ResultError must not either.
func TestFunctionsReviewResultErrorAtHaltMatchesSQLite(t *testing.T) {
	c := frOpen(t, t.Name())
	defer c.Close()
	msg := "final failed"
	raw := &Func{Step: frCount.Step, Inverse: func(x *Context) {}, Value: frCount.Final, Final: func(x *Context) {
		x.State()
		p, size := stackString(x.tls, msg)
		sqlite3.Xsqlite3_result_error(x.tls, x.p, p, int32(len(msg)))
		x.tls.Free(size)
	}}
	viaGo := &Func{Step: frCount.Step, Inverse: func(x *Context) {}, Value: frCount.Final, Final: func(x *Context) {
		x.State()
		x.ResultError(fmt.Errorf("%s", msg))
	}}
	if err := c.CreateFunction("raw", 1, 0, raw); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateFunction("gofn", 1, 0, viaGo); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec("CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3), (4)"); err != nil {
		t.Fatal(err)
	}
	run := func(fn string) (int, error) {
		s, _, err := c.Prepare("SELECT "+fn+"(x) OVER (ORDER BY x ROWS UNBOUNDED PRECEDING) FROM t LIMIT 2", 0)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Finalize()
		return frStepAll(s)
	}
	nRaw, errRaw := run("raw")
	nGo, errGo := run("gofn")
	if nRaw != nGo || (errRaw == nil) != (errGo == nil) {
		t.Fatalf("C-style xFinal error: %d rows, %v; through ResultError: %d rows, %v", nRaw, errRaw, nGo, errGo)
	}
}

// A Final that panics: its group's state is dropped like any other's.
func TestFunctionsReviewFinalPanicDropsState(t *testing.T) {
	c := frOpen(t, t.Name())
	defer c.Close()
	f := &Func{Step: frCount.Step, Final: func(x *Context) { panic("final") }}
	if err := c.CreateFunction("p", 1, 0, f); err != nil {
		t.Fatal(err)
	}
	s, _, err := c.Prepare("SELECT p(x) FROM (SELECT 1 AS x UNION ALL SELECT 2)", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Finalize()
	if _, err := frStepAll(s); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("Final panic: %v", err)
	}
	s.Reset()
	if len(c.aggs) != 0 {
		t.Fatalf("%d groups' state left after a Final panicked", len(c.aggs))
	}
}
