package capi

import (
	"strings"
	"testing"
)

// handleCount returns how many handles are registered.
func handleCount() int {
	handleTab.mu.Lock()
	defer handleTab.mu.Unlock()
	return int(handleTab.used) - len(handleTab.free)
}

// TestAggregateStateIsDropped: every group's Go state is gone once its
// statement ends, also when the statement is reset half way, and the
// functions' handles go when they are replaced and when the connection
// closes.
func TestAggregateStateIsDropped(t *testing.T) {
	before := handleCount()
	c, err := Open("/"+t.Name(), OPEN_READWRITE|OPEN_CREATE|OPEN_NOMUTEX, "memdb")
	if err != nil {
		t.Fatal(err)
	}
	finals := 0
	count := &Func{
		Step: func(x *Context) {
			s := x.State()
			n, _ := (*s).(int64)
			*s = n + 1
		},
		Final: func(x *Context) {
			finals++
			n, _ := (*x.State()).(int64)
			x.ResultInt64(n)
		},
	}
	if err := c.CreateFunction("cnt", 1, FUNC_DETERMINISTIC, count); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateFunction("cnt", 1, 0, count); err != nil { // replaces the first
		t.Fatal(err)
	}
	if err := c.CreateCollation("rev", func(a, b string) int { return strings.Compare(b, a) }); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec("CREATE TABLE t(g, x); WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM r WHERE i < 100) INSERT INTO t SELECT i % 10, i FROM r"); err != nil {
		t.Fatal(err)
	}
	s, _, err := c.Prepare("SELECT g, cnt(x) FROM t GROUP BY g ORDER BY g COLLATE rev", 0)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		rows := 0
		for {
			row, err := s.Step()
			if err != nil {
				t.Fatal(err)
			}
			if !row {
				break
			}
			if _, n, _, _ := s.Column(1); n != 10 {
				t.Fatalf("group count %d, want 10", n)
			}
			rows++
			if round == 1 {
				break // reset half way below
			}
		}
		if err := s.Reset(); err != nil {
			t.Fatal(err)
		}
		if len(c.aggs) != 0 {
			t.Fatalf("round %d: %d groups' state left after the statement ended", round, len(c.aggs))
		}
	}
	if finals != 20 {
		t.Fatalf("%d Final calls, want 20 (10 groups, twice)", finals)
	}

	// A window function's group is in progress while its rows come out:
	// a reset half way must still end it.
	win := &Func{Step: count.Step, Final: count.Final, Inverse: func(x *Context) {
		s := x.State()
		*s = (*s).(int64) - 1
	}, Value: func(x *Context) {
		n, _ := (*x.State()).(int64)
		x.ResultInt64(n)
	}}
	if err := c.CreateFunction("win", 1, 0, win); err != nil {
		t.Fatal(err)
	}
	w, _, err := c.Prepare("SELECT win(x) OVER (ORDER BY x ROWS 3 PRECEDING) FROM t", 0)
	if err != nil {
		t.Fatal(err)
	}
	finals = 0
	for i := range 5 {
		if row, err := w.Step(); !row || err != nil {
			t.Fatal(row, err)
		}
		if _, n, _, _ := w.Column(0); n != int64(min(i+1, 4)) {
			t.Fatalf("row %d: window count %d", i, n)
		}
	}
	if len(c.aggs) != 1 {
		t.Fatalf("%d window groups in progress, want 1", len(c.aggs))
	}
	w.Reset()
	if len(c.aggs) != 0 || finals != 1 {
		t.Fatalf("after a reset half way: %d groups' state left, %d Final calls (want 0, 1)", len(c.aggs), finals)
	}
	w.Finalize()
	if got := handleCount() - before; got != 4 { // the Conn, cnt, rev, win
		t.Fatalf("%d handles registered, want 4", got)
	}
	s.Finalize()
	c.Close()
	if got := handleCount() - before; got != 0 {
		t.Fatalf("%d handles left after Close", got)
	}
}
