package capi

import (
	"errors"
	"testing"
)

// TestFunctionsReview2ManyGroupsStateReturnsToZero: 10,000 groups of a
// Go aggregate (GROUP BY, two aggregates at once, a window function
// partitioned 10,000 ways, a statement reset half way, one failed in a
// Step half way): after each statement the connection holds no group's
// state (aggs empty, no cached state).
func TestFunctionsReview2ManyGroupsStateReturnsToZero(t *testing.T) {
	c := frOpen(t, t.Name())
	defer c.Close()
	boom := errors.New("boom")
	failAt := int64(-1)
	sum := &Func{
		Step: func(x *Context) {
			s := x.State()
			_, v, _, _ := x.Arg(0)
			if v == failAt {
				x.ResultError(boom)
				return
			}
			n, _ := (*s).(int64)
			*s = n + v
		},
		Final: func(x *Context) {
			n, _ := (*x.State()).(int64)
			x.ResultInt64(n)
		},
	}
	win := &Func{Step: sum.Step, Final: sum.Final,
		Inverse: func(x *Context) {
			s := x.State()
			_, v, _, _ := x.Arg(0)
			n, _ := (*s).(int64)
			*s = n - v
		},
		Value: func(x *Context) {
			n, _ := (*x.State()).(int64)
			x.ResultInt64(n)
		}}
	if err := c.CreateFunction("gsum", 1, 0, sum); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateFunction("wsum", 1, 0, win); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec("CREATE TABLE t(g, x); WITH RECURSIVE r(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM r WHERE i < 29999) INSERT INTO t SELECT i % 10000, i FROM r; CREATE INDEX t_g ON t(g)"); err != nil {
		t.Fatal(err)
	}
	check := func(what string) {
		t.Helper()
		if len(c.aggs) != 0 || c.aggKey != 0 || c.aggState != nil {
			t.Errorf("%s: %d groups' state left, cached key %#x, state %v", what, len(c.aggs), c.aggKey, c.aggState)
		}
	}
	run := func(what, q string, stopAfter int) (int, error) {
		t.Helper()
		s, _, err := c.Prepare(q, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Finalize()
		n := 0
		peak := 0
		for {
			row, err := s.Step()
			peak = max(peak, len(c.aggs))
			if err != nil {
				s.Reset()
				check(what)
				return n, err
			}
			if !row {
				break
			}
			n++
			if n == stopAfter {
				break
			}
		}
		s.Reset()
		check(what)
		if peak > 4 {
			t.Errorf("%s: %d groups' state held at once", what, peak)
		}
		return n, nil
	}
	if n, err := run("group by", "SELECT g, gsum(x) FROM t GROUP BY g", 0); err != nil || n != 10000 {
		t.Errorf("group by: %d rows, %v", n, err)
	}
	if n, err := run("two aggregates", "SELECT g, gsum(x), gsum(x+1), wsum(x) FROM t GROUP BY g ORDER BY 2 DESC", 0); err != nil || n != 10000 {
		t.Errorf("two aggregates: %d rows, %v", n, err)
	}
	if n, err := run("window", "SELECT wsum(x) OVER (PARTITION BY g ORDER BY x ROWS 1 PRECEDING) FROM t", 0); err != nil || n != 30000 {
		t.Errorf("window: %d rows, %v", n, err)
	}
	if n, err := run("reset half way", "SELECT g, gsum(x) FROM t GROUP BY g", 5000); err != nil || n != 5000 {
		t.Errorf("reset half way: %d rows, %v", n, err)
	}
	if _, err := run("window reset", "SELECT wsum(x) OVER (PARTITION BY g ORDER BY x) FROM t", 7); err != nil {
		t.Errorf("window reset: %v", err)
	}
	failAt = 15000
	if _, err := run("failed step", "SELECT g, gsum(x) FROM t GROUP BY g", 0); err == nil {
		t.Errorf("failed step: no error")
	}
	if _, err := run("subquery", "SELECT (SELECT gsum(x) FROM t AS u WHERE u.g = t.g) FROM t WHERE x < 20000", 0); err == nil {
		t.Errorf("subquery with a failing step: no error")
	}
	failAt = -1
	if n, err := run("subquery", "SELECT (SELECT gsum(x) FROM t AS u WHERE u.g = t.g) FROM t WHERE x < 3000", 0); err != nil || n != 3000 {
		t.Errorf("subquery: %d, %v", n, err)
	}
}
