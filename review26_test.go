package libsql

import (
	"database/sql"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"modernc.org/libc"
)

// r26Module is a probe module for review 26: rows kept in Go; BestIndex
// is plan (or r26Plan with the module's knobs); every IndexInfo and
// every Filter's arguments are recorded. The plan's IdxStr lists, per
// Filter argument, the column it constrains ("0,1,-1"): the cursor keeps
// the rows whose column equals the argument (any element, for a list).
type r26Module struct {
	decl string
	rows [][]any
	plan func(*IndexInfo) error

	// knobs of r26Plan: take equalities on the columns in eqCols (all
	// usable ones if nil), as lists if inList, omitted if omit.
	eqCols map[int]bool
	inList bool
	omit   bool

	mu      sync.Mutex
	infos   []IndexInfo
	filters [][]any
}

func (m *r26Module) Connect([]string) (string, VirtualTable, error) {
	decl := m.decl
	if decl == "" {
		decl = "CREATE TABLE x(id INTEGER, name TEXT, v)"
	}
	return decl, &r26Table{m}, nil
}

func (m *r26Module) reset() {
	m.mu.Lock()
	m.infos, m.filters = nil, nil
	m.mu.Unlock()
}

func (m *r26Module) snapshot() ([]IndexInfo, [][]any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]IndexInfo(nil), m.infos...), append([][]any(nil), m.filters...)
}

// r26Plan takes the equalities the module's knobs name.
func (m *r26Module) r26Plan(info *IndexInfo) error {
	var cols []string
	n := 0
	for i, c := range info.Constraints {
		if !c.Usable || c.Op != IndexEQ || m.eqCols != nil && !m.eqCols[c.Column] {
			continue
		}
		n++
		info.Usage[i] = IndexConstraintUsage{ArgvIndex: n, Omit: m.omit, InList: m.inList && c.In}
		cols = append(cols, strconv.Itoa(c.Column))
	}
	info.IdxStr = strings.Join(cols, ",")
	info.EstimatedCost = 1e6 / float64(1+10*n)
	return nil
}

type r26Table struct{ m *r26Module }

func (t *r26Table) BestIndex(info *IndexInfo) error {
	plan := t.m.plan
	if plan == nil {
		plan = t.m.r26Plan
	}
	err := plan(info)
	t.m.mu.Lock()
	c := *info
	c.Constraints = append([]IndexConstraint(nil), info.Constraints...)
	c.OrderBy = append([]IndexOrderBy(nil), info.OrderBy...)
	c.Usage = append([]IndexConstraintUsage(nil), info.Usage...)
	t.m.infos = append(t.m.infos, c)
	t.m.mu.Unlock()
	return err
}

func (t *r26Table) Open() (VirtualCursor, error) { return &r26Cursor{m: t.m}, nil }
func (t *r26Table) Disconnect() error            { return nil }

type r26Cursor struct {
	m    *r26Module
	rows [][]any
	i    int
}

// r26Equal compares two values as SQLite's = would with BINARY
// collation and no affinity (numbers by value).
func r26Equal(a, b any) bool {
	num := func(v any) (float64, bool) {
		switch v := v.(type) {
		case int64:
			return float64(v), true
		case float64:
			return v, true
		}
		return 0, false
	}
	if x, ok := num(a); ok {
		y, ok := num(b)
		return ok && x == y
	}
	switch a := a.(type) {
	case string:
		b, ok := b.(string)
		return ok && a == b
	case []byte:
		b, ok := b.([]byte)
		return ok && string(a) == string(b)
	}
	return false
}

func (c *r26Cursor) Filter(idxNum int, idxStr string, args []any) error {
	c.m.mu.Lock()
	c.m.filters = append(c.m.filters, args)
	c.m.mu.Unlock()
	if idxNum >= 100 {
		return c.distinctScan(idxStr)
	}
	var cols []int
	if idxNum == 7 { // every row: SQLite checks
		args = nil
	} else if idxStr != "" {
		for _, s := range strings.Split(idxStr, ",") {
			n, err := strconv.Atoi(s)
			if err != nil {
				return err
			}
			cols = append(cols, n)
		}
	}
	if len(cols) != len(args) {
		return fmt.Errorf("Filter: %d args for plan %q", len(args), idxStr)
	}
	c.rows, c.i = nil, 0
rows:
	for ri, row := range c.m.rows {
		for k, col := range cols {
			v := any(int64(ri + 1)) // the rowid
			if col >= 0 {
				v = row[col]
			}
			if list, ok := args[k].([]any); ok {
				found := false
				for _, x := range list {
					found = found || r26Equal(v, x)
				}
				if !found {
					continue rows
				}
			} else if !r26Equal(v, args[k]) {
				continue rows
			}
		}
		c.rows = append(c.rows, append([]any{int64(ri + 1)}, row...))
	}
	return nil
}

func (c *r26Cursor) Next() error { c.i++; return nil }
func (c *r26Cursor) EOF() bool   { return c.i >= len(c.rows) }
func (c *r26Cursor) Column(f *FuncContext, i int) error {
	f.ResultValue(c.rows[c.i][i+1])
	return nil
}
func (c *r26Cursor) Rowid() (int64, error) { return c.rows[c.i][0].(int64), nil }
func (c *r26Cursor) Close() error          { return nil }

// r26Rows has n rows: id i, name "n<i>", v i*10.
func r26Rows(n int) [][]any {
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{int64(i + 1), fmt.Sprintf("n%d", i+1), int64(10 * (i + 1))}
	}
	return rows
}

func r26DB(t *testing.T, m *r26Module) (*sql.DB, *sql.Conn) {
	t.Helper()
	db := openTestDB(t, "", WithModule("r26", m))
	mustExec(t, db, "CREATE VIRTUAL TABLE t USING r26")
	return db, dbConn(t, db)
}

// r26Query returns the rows of query, each formatted with %v, joined by
// "|".
func r26Query(t *testing.T, c *sql.Conn, query string, args ...any) string {
	t.Helper()
	rows, err := c.QueryContext(t.Context(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		out = append(out, fmt.Sprint(scanAnyRow(t, rows, len(cols))...))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return strings.Join(out, "|")
}

// distinctScan is the scan of a plan of r26ReadmeDistinct: the rows
// sorted by the columns of idxStr, keeping one row per set of equal
// values of those columns.
func (c *r26Cursor) distinctScan(idxStr string) error {
	parse := func(list string) ([]int, error) {
		var cols []int
		for _, s := range strings.Split(list, ",") {
			n, err := strconv.Atoi(s)
			if err != nil {
				return nil, err
			}
			cols = append(cols, n)
		}
		return cols, nil
	}
	sortBy, dedupBy, _ := strings.Cut(idxStr, "|")
	sortCols, err := parse(sortBy)
	if err != nil {
		return err
	}
	dedupCols, err := parse(dedupBy)
	if err != nil {
		return err
	}
	key := func(row []any, cols []int) string {
		var k []string
		for _, col := range cols {
			k = append(k, fmt.Sprintf("%020v", row[col]))
		}
		return strings.Join(k, "\x00")
	}
	c.rows, c.i = nil, 0
	seen := map[string]bool{}
	var all [][]any
	for ri, row := range c.m.rows {
		all = append(all, append([]any{int64(ri + 1)}, row...))
	}
	sort.SliceStable(all, func(i, j int) bool { return key(all[i][1:], sortCols) < key(all[j][1:], sortCols) })
	for _, row := range all {
		if k := key(row[1:], dedupCols); !seen[k] {
			seen[k] = true
			c.rows = append(c.rows, row)
		}
	}
	return nil
}

// r26Filters returns the Filter calls' arguments as recorded, for the
// tests' messages and comparisons.
func r26Filters(m *r26Module) [][]any {
	_, f := m.snapshot()
	return f
}

// TestReview26InListMixedTypes: an IN list of every type reaches one
// Filter as one []any, in SQLite's order (NULL, numbers, texts, blobs),
// without duplicates (1 and 1.0 are one value), converted by the
// column's affinity (INTEGER: '2' is 2; none: '2' stays a text), and the
// statement's rows are right.
func TestReview26InListMixedTypes(t *testing.T) {
	m := &r26Module{rows: r26Rows(5), inList: true, omit: true}
	m.rows[3][2] = "t" // row 4's v is the text 't'
	m.rows[4][2] = []byte{1}
	_, c := r26DB(t, m)

	m.eqCols = map[int]bool{0: true}
	if got := r26Query(t, c, "SELECT id FROM t WHERE id IN (3, 1.0, '2', x'01', NULL, 1, 3.5, 'abc', -4)"); got != "1|2|3" {
		t.Fatalf("rows %q, want 1|2|3", got)
	}
	want := []any{nil, int64(-4), int64(1), int64(2), int64(3), 3.5, "abc", []byte{1}}
	if f := r26Filters(m); len(f) != 1 || len(f[0]) != 1 || !reflect.DeepEqual(f[0][0], want) {
		t.Fatalf("Filter calls %#v, want one with %#v", f, want)
	}

	m.reset()
	m.eqCols = map[int]bool{2: true}
	if got := r26Query(t, c, "SELECT id FROM t WHERE v IN ('t', x'01', 20.0, '30', 10, x'01')"); got != "1|2|4|5" {
		t.Fatalf("rows %q, want 1|2|4|5", got)
	}
	want = []any{int64(10), float64(20), "30", "t", []byte{1}}
	if f := r26Filters(m); len(f) != 1 || !reflect.DeepEqual(f[0], []any{want}) {
		t.Fatalf("Filter calls %#v, want one with %#v", f, want)
	}
}

// TestReview26InListNocase: a column declared COLLATE NOCASE makes its
// constraints' Collation NOCASE (an explicit COLLATE on the right-hand
// side wins), and its IN list comes in NOCASE order with 'a' and 'A' as
// one value; with Omit false SQLite checks the rows itself with NOCASE.
func TestReview26InListNocase(t *testing.T) {
	m := &r26Module{decl: "CREATE TABLE x(id INTEGER, name TEXT COLLATE NOCASE, v COLLATE RTRIM)", rows: r26Rows(4)}
	m.rows[2][1] = "N3"
	m.plan = func(info *IndexInfo) error { // every row; SQLite checks
		for i, c := range info.Constraints {
			if c.Usable && c.In {
				info.Usage[i] = IndexConstraintUsage{ArgvIndex: 1, InList: true}
				info.IdxNum = 7
				return nil
			}
		}
		return nil
	}
	_, c := r26DB(t, m)
	if got := r26Query(t, c, "SELECT id FROM t WHERE name IN ('b', 'a', 'n3', 'A', 'N2', 'zz')"); got != "2|3" {
		t.Fatalf("rows %q, want 2|3", got)
	}
	f := r26Filters(m)
	if len(f) != 1 || len(f[0]) != 1 {
		t.Fatalf("Filter calls %#v, want one", f)
	}
	list, _ := f[0][0].([]any)
	var folded []string
	for _, v := range list {
		s, _ := v.(string)
		folded = append(folded, strings.ToLower(s))
	}
	if strings.Join(folded, " ") != "a b n2 n3 zz" {
		t.Fatalf("IN list %#v, want a, b, n2, n3, zz (NOCASE order, one of a/A)", list)
	}
	infos, _ := m.snapshot()
	var colls []string
	for _, q := range []string{
		"SELECT id FROM t WHERE name = 'x'",
		"SELECT id FROM t WHERE name = 'x' COLLATE BINARY",
		"SELECT id FROM t WHERE v = 'x'",
		"SELECT id FROM t WHERE id = 'x'",
		"SELECT id FROM t WHERE id = 'x' COLLATE NOCASE",
	} {
		m.reset()
		r26Query(t, c, q)
		infos, _ = m.snapshot()
		if len(infos) == 0 || len(infos[0].Constraints) != 1 {
			t.Fatalf("%s: offered %+v", q, infos)
		}
		colls = append(colls, infos[0].Constraints[0].Collation)
	}
	if got := strings.Join(colls, " "); got != "NOCASE BINARY RTRIM BINARY NOCASE" {
		t.Fatalf("collations %q, want NOCASE BINARY RTRIM BINARY NOCASE", got)
	}
}

// TestReview26CustomCollation: a collation registered with WithCollation
// is a constraint's Collation by its name.
func TestReview26CustomCollation(t *testing.T) {
	m := &r26Module{decl: "CREATE TABLE x(id INTEGER, name TEXT COLLATE rev, v)", rows: r26Rows(3), eqCols: map[int]bool{}}
	db := openTestDB(t, "", WithModule("r26", m), WithCollation("rev", func(a, b string) int { return strings.Compare(b, a) }))
	mustExec(t, db, "CREATE VIRTUAL TABLE t USING r26")
	c := dbConn(t, db)
	if got := r26Query(t, c, "SELECT id FROM t WHERE name = 'n2'"); got != "2" {
		t.Fatalf("rows %q", got)
	}
	infos, _ := m.snapshot()
	if len(infos) == 0 || len(infos[0].Constraints) != 1 || !strings.EqualFold(infos[0].Constraints[0].Collation, "rev") {
		t.Fatalf("offered %+v, want Collation rev", infos)
	}
}

// TestReview26InListLarge: IN (SELECT ...) of 10,000 values is one
// Filter with the 10,000 values in order.
func TestReview26InListLarge(t *testing.T) {
	m := &r26Module{rows: r26Rows(200), inList: true, omit: true, eqCols: map[int]bool{0: true}}
	_, c := r26DB(t, m)
	mustExecConn(t, c, "CREATE TEMP TABLE big(k)")
	mustExecConn(t, c, "WITH RECURSIVE s(x) AS (SELECT 10000 UNION ALL SELECT x-1 FROM s WHERE x>1) INSERT INTO big SELECT x FROM s")
	start := time.Now()
	if got := r26Query(t, c, "SELECT count(*), sum(id) FROM t WHERE id IN (SELECT k FROM big UNION ALL SELECT k FROM big)"); got != "200 20100" {
		t.Fatalf("count and sum %q, want 200 20100", got)
	}
	f := r26Filters(m)
	if len(f) != 1 || len(f[0]) != 1 {
		t.Fatalf("%d Filter calls, want 1", len(f))
	}
	list, ok := f[0][0].([]any)
	if !ok || len(list) != 10000 {
		t.Fatalf("Filter's argument %T of %d values, want a list of 10000", f[0][0], len(list))
	}
	for i, v := range list {
		if v != int64(i+1) {
			t.Fatalf("list[%d] = %#v, want %d", i, v, i+1)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("10,000 values took %v", d)
	}
}

// TestReview26InListParams: id IN (?, ?, ?) from the statement cache,
// again and again with other values: each run's Filter gets that run's
// values, and the lists of earlier runs are not changed by later ones.
func TestReview26InListParams(t *testing.T) {
	m := &r26Module{rows: r26Rows(50), inList: true, omit: true, eqCols: map[int]bool{0: true, 2: true}}
	_, c := r26DB(t, m)
	var kept [][]any
	for i := range 200 {
		a, b, d := int64(i%50+1), int64((i*7)%50+1), int64((i*13)%50+1)
		m.reset()
		got := r26Query(t, c, "SELECT id FROM t WHERE id IN (?, ?, ?) ORDER BY id", a, b, d)
		set := map[int64]bool{a: true, b: true, d: true}
		var want []any
		var wantRows []string
		for k := int64(1); k <= 50; k++ {
			if set[k] {
				want = append(want, k)
				wantRows = append(wantRows, fmt.Sprint(k))
			}
		}
		if got != strings.Join(wantRows, "|") {
			t.Fatalf("run %d: rows %q, want %q", i, got, strings.Join(wantRows, "|"))
		}
		f := r26Filters(m)
		if len(f) != 1 || !reflect.DeepEqual(f[0], []any{want}) {
			t.Fatalf("run %d: Filter calls %#v, want one with %v", i, f, want)
		}
		kept = append(kept, f[0])
	}
	for i, k := range kept {
		a, b, d := int64(i%50+1), int64((i*7)%50+1), int64((i*13)%50+1)
		for _, v := range k[0].([]any) {
			if v != a && v != b && v != d {
				t.Fatalf("run %d's list changed afterwards: %v", i, k)
			}
		}
	}

	// Blobs and texts of a list stay what they were after later calls.
	m.reset()
	got := r26Query(t, c, "SELECT o.k FROM (SELECT 1 AS k UNION ALL SELECT 2 UNION ALL SELECT 3) o CROSS JOIN t WHERE t.v IN (x'aa' || o.k, 'text' || o.k, 10 * o.k)")
	if got != "1|2|3" {
		t.Fatalf("rows %q, want 1|2|3", got)
	}
	f := r26Filters(m)
	if len(f) != 3 {
		t.Fatalf("Filter calls %#v, want 3", f)
	}
	for i, args := range f {
		k := int64(i + 1)
		want := []any{10 * k, fmt.Sprintf("text%d", k), fmt.Sprintf("\xaa%d", k)}
		if !reflect.DeepEqual(args, []any{want}) {
			// x'aa' || k is a text: SQLite's || makes texts.
			t.Fatalf("Filter %d got %#v, want %#v", i, args, []any{want})
		}
	}
}

// TestReview26InListPerOuterRow: an IN list that depends on the outer
// row of a join (a correlated subquery, a list of expressions, the ON
// of a LEFT JOIN) reaches each Filter fresh and right; 5000 such
// statements leave no handle behind and do not grow the heap.
func TestReview26InListPerOuterRow(t *testing.T) {
	m := &r26Module{rows: r26Rows(10), inList: true, omit: true, eqCols: map[int]bool{0: true}}
	_, c := r26DB(t, m)
	mustExecConn(t, c, "CREATE TEMP TABLE o(k)")
	mustExecConn(t, c, "INSERT INTO o VALUES (1),(2),(3),(4)")
	for _, tc := range []struct{ q, rows, lists string }{
		{"SELECT o.k, t.id FROM o CROSS JOIN t WHERE t.id IN (SELECT k + 1 FROM o o2 WHERE o2.k <= o.k)",
			"1 2|2 2|2 3|3 2|3 3|3 4|4 2|4 3|4 4|4 5", "[2] [2 3] [2 3 4] [2 3 4 5]"},
		{"SELECT o.k, t.id FROM o CROSS JOIN t WHERE t.id IN (o.k * 2, o.k, o.k * 2)",
			"1 1|1 2|2 2|2 4|3 3|3 6|4 4|4 8", "[1 2] [2 4] [3 6] [4 8]"},
		{"SELECT o.k, t.id FROM o LEFT JOIN t ON t.id IN (SELECT k * 3 FROM o o2 WHERE o2.k < o.k) ORDER BY 1, 2",
			"1 <nil>|2 3|3 3|3 6|4 3|4 6|4 9", "[] [3] [3 6] [3 6 9]"},
		{"SELECT o.k, t.id FROM o CROSS JOIN t WHERE t.id IN (1, 5, 3)",
			"1 1|1 3|1 5|2 1|2 3|2 5|3 1|3 3|3 5|4 1|4 3|4 5", "[1 3 5] [1 3 5] [1 3 5] [1 3 5]"},
	} {
		for _, omit := range []bool{true, false} {
			m.omit = omit
			q := tc.q + fmt.Sprintf(" -- omit %v", omit) // a statement of its own
			m.reset()
			if got := r26Query(t, c, q); got != tc.rows {
				t.Errorf("%s: rows %q, want %q", q, got, tc.rows)
			}
			var lists []string
			for _, args := range r26Filters(m) {
				if len(args) != 1 {
					t.Fatalf("%s: Filter args %#v", q, args)
				}
				lists = append(lists, fmt.Sprint(args[0]))
			}
			if got := strings.Join(lists, " "); got != tc.lists {
				t.Errorf("%s: Filter lists %s, want %s", q, got, tc.lists)
			}
		}
	}
	m.omit = true

	run := func(n int) {
		for i := range n {
			m.reset()
			q := "SELECT count(*) FROM o CROSS JOIN t WHERE t.id IN (SELECT k + ? FROM o o2 WHERE o2.k <= o.k)"
			if got := r26Query(t, c, q, i%3); got != "10" {
				t.Fatalf("run %d: %q, want 10", i, got)
			}
		}
	}
	run(500) // warm up
	h0 := r24LiveHandles(t)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heap0 := ms.HeapAlloc
	// libc's allocation count: zero unless built with -tags
	// memory.counters, when SQLite's own memory is checked too.
	allocs0 := libc.MemStat().Allocs
	run(5000)
	if a := libc.MemStat().Allocs; a > allocs0+64 {
		t.Errorf("libc allocations grew from %d to %d over 5000 statements", allocs0, a)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if h := r24LiveHandles(t); h > h0+8 {
		t.Errorf("live handles %d after 5000 statements, %d before", h, h0)
	}
	if ms.HeapAlloc > heap0+4<<20 {
		t.Errorf("Go heap grew from %d to %d over 5000 statements", heap0, ms.HeapAlloc)
	}
}

// TestReview26TwoInLists: two IN constraints taken as lists at once,
// one omitted, one checked again by SQLite.
func TestReview26TwoInLists(t *testing.T) {
	m := &r26Module{rows: r26Rows(10), eqCols: map[int]bool{0: true, 1: true}}
	m.plan = func(info *IndexInfo) error {
		n := 0
		var cols []string
		for i, c := range info.Constraints {
			if c.Usable && c.In {
				n++
				info.Usage[i] = IndexConstraintUsage{ArgvIndex: n, Omit: c.Column == 0, InList: true}
				cols = append(cols, strconv.Itoa(c.Column))
			}
		}
		info.IdxStr = strings.Join(cols, ",")
		return nil
	}
	_, c := r26DB(t, m)
	if got := r26Query(t, c, "SELECT id FROM t WHERE name IN ('n4', 'n2', 'n9', 'n1') AND id IN (9, 2, 4, 7) ORDER BY id"); got != "2|4|9" {
		t.Fatalf("rows %q, want 2|4|9", got)
	}
	f := r26Filters(m)
	if len(f) != 1 || len(f[0]) != 2 {
		t.Fatalf("Filter calls %#v, want one with two lists", f)
	}
	infos, _ := m.snapshot()
	var want []any
	for i := range f[0] {
		if infos[len(infos)-1].Constraints[0].Column == 1 == (i == 0) {
			want = append(want, []any{"n1", "n2", "n4", "n9"})
		} else {
			want = append(want, []any{int64(2), int64(4), int64(7), int64(9)})
		}
	}
	if !reflect.DeepEqual(f[0], want) {
		t.Fatalf("Filter args %#v, want %#v", f[0], want)
	}
}

// TestReview26InListRecheck: InList with Omit false: the table returns
// every row, SQLite keeps those in the list; a table that does not ask
// for the list gets one Filter per value, each a scalar.
func TestReview26InListRecheck(t *testing.T) {
	m := &r26Module{rows: r26Rows(10)}
	m.plan = func(info *IndexInfo) error {
		for i, c := range info.Constraints {
			if c.Usable && c.In {
				info.Usage[i] = IndexConstraintUsage{ArgvIndex: 1, InList: true}
				info.IdxNum = 7
				return nil
			}
		}
		return nil
	}
	_, c := r26DB(t, m)
	if got := r26Query(t, c, "SELECT id FROM t WHERE id IN (8, 2, 5, 2) ORDER BY id"); got != "2|5|8" {
		t.Fatalf("rows %q, want 2|5|8", got)
	}
	if f := r26Filters(m); len(f) != 1 || !reflect.DeepEqual(f[0], []any{[]any{int64(2), int64(5), int64(8)}}) {
		t.Fatalf("Filter calls %#v, want one with [2 5 8]", f)
	}

	m.reset()
	m.plan = nil
	m.eqCols, m.omit, m.inList = map[int]bool{0: true}, true, false
	if got := r26Query(t, c, "SELECT id FROM t WHERE id IN (8, 2, 5, 2) ORDER BY +id"); got != "2|5|8" {
		t.Fatalf("rows %q, want 2|5|8", got)
	}
	if f := r26Filters(m); !reflect.DeepEqual(f, [][]any{{int64(2)}, {int64(5)}, {int64(8)}}) {
		t.Fatalf("Filter calls %#v, want [2] [5] [8]", f)
	}
}

// TestReview26NullAndEmptyArgs: a NULL argument arrives as nil (not as
// a list), an IS NULL through IndexIs as nil, an empty IN list as an
// empty []any.
func TestReview26NullAndEmptyArgs(t *testing.T) {
	m := &r26Module{rows: r26Rows(3), inList: true, omit: false}
	m.plan = func(info *IndexInfo) error {
		n := 0
		for i, c := range info.Constraints {
			if c.Usable && (c.Op == IndexEQ || c.Op == IndexIs) {
				n++
				info.Usage[i] = IndexConstraintUsage{ArgvIndex: n, InList: c.In}
			}
		}
		info.IdxNum = 7
		return nil
	}
	_, c := r26DB(t, m)
	mustExecConn(t, c, "CREATE TEMP TABLE e(x)")
	for _, tc := range []struct {
		q    string
		args []any
		want []any
	}{
		{"SELECT id FROM t WHERE id = ?", []any{nil}, []any{nil}},
		{"SELECT id FROM t WHERE id IS ?", []any{nil}, []any{nil}},
		{"SELECT id FROM t WHERE id = NULL", nil, []any{nil}},
		{"SELECT id FROM t WHERE id IS NULL AND name = ?", []any{nil}, []any{nil}},
		{"SELECT id FROM t WHERE id IN (SELECT x FROM e)", nil, []any{[]any{}}},
		{"SELECT id FROM t WHERE id IN (SELECT x FROM e) AND name IS ?", []any{nil}, nil},
		{"SELECT id FROM t WHERE id IN (SELECT NULL UNION SELECT NULL)", nil, []any{[]any{nil}}},
	} {
		m.reset()
		if got := r26Query(t, c, tc.q, tc.args...); got != "" {
			t.Errorf("%s: rows %q, want none", tc.q, got)
		}
		f := r26Filters(m)
		if tc.want == nil {
			// two arguments, in the order SQLite offered them
			if len(f) != 1 || len(f[0]) != 2 {
				t.Errorf("%s: Filter calls %#v", tc.q, f)
				continue
			}
			var list, null int
			for _, a := range f[0] {
				if l, ok := a.([]any); ok && l != nil && len(l) == 0 {
					list++
				} else if a == nil {
					null++
				}
			}
			if list != 1 || null != 1 {
				t.Errorf("%s: Filter args %#v, want an empty list and nil", tc.q, f[0])
			}
			continue
		}
		if len(f) != 1 || !reflect.DeepEqual(f[0], tc.want) {
			t.Errorf("%s: Filter calls %#v, want one with %#v", tc.q, f, tc.want)
		}
	}
}

// TestReview26RHSValues: for every kind of literal, Value is what Filter
// then gets, of the same type; what SQLite cannot know while planning
// (a parameter, an expression, another table's column) has no value.
func TestReview26RHSValues(t *testing.T) {
	m := &r26Module{rows: r26Rows(3), eqCols: map[int]bool{0: true}}
	_, c := r26DB(t, m)
	mustExecConn(t, c, "CREATE TEMP TABLE o(k)")
	mustExecConn(t, c, "INSERT INTO o VALUES (2)")
	for _, lit := range []string{"1", "-1", "1.0", "1e3", "-0.0", "0.5", "1e999", "-1e999", "0x10", "-0x10",
		"9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
		"'abc'", "''", "'1'", "x''", "x'00ff'", "NULL", "TRUE", "FALSE", "-'abc'", "-'5'", "- -5", "+7",
		"CAST('5' AS INTEGER)", "CAST(5 AS TEXT)", "CAST(5 AS REAL)", "'é\u00a0'", "(5)", "-(5)"} {
		m.reset()
		r26Query(t, c, "SELECT id FROM t WHERE id = "+lit)
		infos, f := m.snapshot()
		if len(infos) != 1 || len(infos[0].Constraints) != 1 || len(f) != 1 || len(f[0]) != 1 {
			t.Fatalf("id = %s: offered %+v, filters %#v", lit, infos, f)
		}
		k := infos[0].Constraints[0]
		same := reflect.DeepEqual(k.Value, f[0][0])
		if fv, ok := k.Value.(float64); ok && same && fv == 0 {
			same = math.Signbit(fv) == math.Signbit(f[0][0].(float64))
		}
		if !k.HasValue || !same {
			t.Errorf("id = %s: Value %T %#v (HasValue %v), Filter got %T %#v", lit, k.Value, k.Value, k.HasValue, f[0][0], f[0][0])
		}
	}
	for _, tc := range []struct {
		q    string
		args []any
	}{
		{"SELECT id FROM t WHERE id = ?", []any{2}},
		{"SELECT id FROM t WHERE id = ?1 + 0", []any{2}},
		{"SELECT id FROM t WHERE id = 1 + 1", nil},
		{"SELECT id FROM t WHERE id = abs(-2)", nil},
		{"SELECT id FROM t, o WHERE t.id = o.k", nil},
		{"SELECT id FROM t WHERE id = (SELECT 2)", nil},
	} {
		m.reset()
		if got := r26Query(t, c, tc.q, tc.args...); got != "2" {
			t.Errorf("%s: rows %q, want 2", tc.q, got)
		}
		infos, _ := m.snapshot()
		for _, in := range infos {
			for _, k := range in.Constraints {
				if k.Column == 0 && k.HasValue {
					t.Errorf("%s: a value known while planning: %+v", tc.q, k)
				}
			}
		}
	}
	// 4 = id is id = 4.
	m.reset()
	r26Query(t, c, "SELECT id FROM t WHERE 4 = id")
	if infos, _ := m.snapshot(); len(infos) != 1 || len(infos[0].Constraints) != 1 || infos[0].Constraints[0].Value != int64(4) {
		t.Errorf("4 = id offered as %+v", infos)
	}
}

// TestReview26LimitOffset: LIMIT and OFFSET constraints carry their
// literal values (a parameter's is unknown while planning), and Filter
// gets them when asked.
func TestReview26LimitOffset(t *testing.T) {
	m := &r26Module{rows: r26Rows(10)}
	m.plan = func(info *IndexInfo) error {
		n := 0
		for i, c := range info.Constraints {
			if c.Usable && (c.Op == IndexLimit || c.Op == IndexOffset) {
				n++
				info.Usage[i] = IndexConstraintUsage{ArgvIndex: n}
			}
		}
		info.IdxNum = 7
		return nil
	}
	_, c := r26DB(t, m)
	for _, tc := range []struct {
		q       string
		args    []any
		offered string
		filter  string
		rows    string
	}{
		{"SELECT id FROM t LIMIT 3 OFFSET 2", nil, "74:2 73:3", "[2 3]", "3|4|5"},
		{"SELECT id FROM t LIMIT 3", nil, "73:3", "[3]", "1|2|3"},
		{"SELECT id FROM t LIMIT 2, 3", nil, "74:2 73:3", "[2 3]", "3|4|5"},
		// SQLite plans with a LIMIT's bound value, and prepares the
		// statement again when it is bound to another.
		{"SELECT id FROM t LIMIT ? OFFSET ?", []any{3, 2}, "74:2 73:3", "[2 3]", "3|4|5"},
		{"SELECT id FROM t LIMIT ? OFFSET ?", []any{2, 1}, "74:1 73:2", "[1 2]", "2|3"},
		{"SELECT id FROM t LIMIT ? OFFSET ?", []any{3, 2}, "74:2 73:3", "[2 3]", "3|4|5"},
	} {
		m.reset()
		if got := r26Query(t, c, tc.q, tc.args...); got != tc.rows {
			t.Errorf("%s %v: rows %q, want %s", tc.q, tc.args, got, tc.rows)
		}
		infos, f := m.snapshot()
		var offered []string
		for _, k := range infos[len(infos)-1].Constraints {
			v := "-"
			if k.HasValue {
				v = fmt.Sprint(k.Value)
			}
			offered = append(offered, fmt.Sprintf("%d:%s", k.Op, v))
		}
		if got := strings.Join(offered, " "); got != tc.offered {
			t.Errorf("%s: offered %s, want %s", tc.q, got, tc.offered)
		}
		if len(f) != 1 || fmt.Sprint(f[0]) != tc.filter {
			t.Errorf("%s: Filter calls %v, want %s", tc.q, f, tc.filter)
		}
	}
}

// TestReview26BestIndexFailures: a BestIndex that panics or fails after
// reading the new fields fails the statement with its text; one that
// asks for a list wrongly after a right one fails it with the driver's
// message; ErrIndexUnusable everywhere is "no query solution"; the
// connection then works.
func TestReview26BestIndexFailures(t *testing.T) {
	m := &r26Module{rows: r26Rows(5)}
	_, c := r26DB(t, m)
	check := func(q, want string) {
		t.Helper()
		_, err := c.ExecContext(t.Context(), q)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error with %q", q, err, want)
		}
	}
	m.plan = func(info *IndexInfo) error {
		s := ""
		for _, k := range info.Constraints {
			s += fmt.Sprintf("%s/%v/%v/%d;", k.Collation, k.In, k.Value, info.Distinct)
		}
		panic("planner exploded: " + s)
	}
	check("SELECT DISTINCT id FROM t WHERE id IN (1, 2) AND name = 'x'", "planner exploded: BINARY/true/<nil>/2;BINARY/false/x/2;")
	m.plan = func(info *IndexInfo) error {
		return fmt.Errorf("refused %v", info.Constraints[0].Value)
	}
	check("SELECT id FROM t WHERE id = 42", "refused 42")
	m.plan = func(info *IndexInfo) error {
		for i, k := range info.Constraints {
			info.Usage[i] = IndexConstraintUsage{ArgvIndex: i + 1, InList: true}
			_ = k
		}
		return nil
	}
	check("SELECT id FROM t WHERE id IN (1, 2) AND name = 'x'", "needs an ArgvIndex and an IN constraint")
	m.plan = func(info *IndexInfo) error { return fmt.Errorf("never: %w", ErrIndexUnusable) }
	check("SELECT id FROM t WHERE id IN (1, 2)", "no query solution")
	m.plan = nil
	m.eqCols, m.inList, m.omit = map[int]bool{0: true}, true, true
	if got := r26Query(t, c, "SELECT id FROM t WHERE id IN (4, 2)"); got != "2|4" {
		t.Fatalf("after the failures: rows %q, want 2|4", got)
	}
}

// TestReview26DistinctValues: Distinct for each kind of statement.
func TestReview26DistinctValues(t *testing.T) {
	m := &r26Module{rows: r26Rows(3), eqCols: map[int]bool{}}
	_, c := r26DB(t, m)
	for _, tc := range []struct {
		q    string
		want int
	}{
		{"SELECT id FROM t ORDER BY id", 0},
		{"SELECT DISTINCT name FROM t", 2},
		{"SELECT DISTINCT name FROM t ORDER BY name", 3},
		{"SELECT name FROM t GROUP BY name", 1},
		{"SELECT DISTINCT id, name FROM t ORDER BY id", 3},
		{"SELECT name, count(*) FROM t GROUP BY name ORDER BY name", 0},
	} {
		m.reset()
		r26Query(t, c, tc.q)
		infos, _ := m.snapshot()
		if len(infos) != 1 || infos[0].Distinct != tc.want {
			var got []int
			for _, in := range infos {
				got = append(got, in.Distinct)
			}
			t.Errorf("%s: Distinct %v, want %d", tc.q, got, tc.want)
		}
	}
}

// TestReview26InListArgvBeyond32 (BUG): BestIndex asks for an IN
// constraint's values as a list (InList) and gives it ArgvIndex 34.
// Expected: Filter gets the list, a []any, as InList promises (or the
// statement fails saying SQLite cannot do it); and with
// OrderByConsumed, the rows come in ORDER BY's order. Actual: SQLite
// keeps its "handle IN" mask by argument place in a 32-bit word
// (MASKBIT32(argvIndex-1), zero from place 33 on), so it silently runs
// Filter once per value, each a scalar int64 where the table expects a
// list, and, having seen the InList request, it does not cancel
// OrderByConsumed as it does for a one-at-a-time IN: the rows of the two
// Filter calls come out unsorted (2|1 instead of 1|2). The driver
// (vtab.go vtabAdapter.BestIndex, the InList check near x.SetIn) should
// refuse or handle InList with an ArgvIndex above 32.
func TestReview26InListArgvBeyond32(t *testing.T) {
	const n = 34 // constrained columns c0..c33; k is column 34
	var cols, where []string
	for i := range n {
		cols = append(cols, fmt.Sprintf("c%d", i))
		if i > 0 {
			where = append(where, fmt.Sprintf("c%d = %d", i, i))
		}
	}
	row := func(c0, k int64) []any {
		r := make([]any, n+1)
		for i := range n {
			r[i] = int64(i)
		}
		r[0], r[n] = c0, k
		return r
	}
	// In the table's order, which is k's.
	m := &r26Module{decl: "CREATE TABLE x(" + strings.Join(cols, ", ") + ", k)", rows: [][]any{row(5, 1), row(0, 2)}}
	m.plan = func(info *IndexInfo) error {
		nc := len(info.Constraints)
		idx := make([]string, nc)
		for i, c := range info.Constraints {
			if !c.Usable || c.Op != IndexEQ {
				return ErrIndexUnusable
			}
			info.Usage[i] = IndexConstraintUsage{ArgvIndex: nc - i, Omit: true, InList: c.In}
			idx[nc-i-1] = strconv.Itoa(c.Column)
		}
		info.IdxStr = strings.Join(idx, ",")
		info.OrderByConsumed = len(info.OrderBy) == 1 && info.OrderBy[0].Column == n && !info.OrderBy[0].Desc
		info.EstimatedCost = 1
		return nil
	}
	_, c := r26DB(t, m)
	q := "SELECT k FROM t WHERE c0 IN (0, 5) AND " + strings.Join(where, " AND ") + " ORDER BY k"
	rows, err := c.QueryContext(t.Context(), q)
	if err != nil {
		t.Logf("the statement failed (acceptable): %v", err)
		return
	}
	var got []string
	for rows.Next() {
		var k int64
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprint(k))
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	infos, f := m.snapshot()
	if len(infos) == 0 || !infos[len(infos)-1].Constraints[0].In || !infos[len(infos)-1].Usage[0].InList || infos[len(infos)-1].Usage[0].ArgvIndex != n {
		t.Fatalf("the plan is not the one this test means: %+v", infos)
	}
	for _, args := range f {
		if _, ok := args[n-1].([]any); !ok {
			t.Errorf("Filter's argument %d is %T %v, want the IN list as a []any (InList)", n, args[n-1], args[n-1])
		}
	}
	if strings.Join(got, "|") != "1|2" {
		t.Errorf("ORDER BY k gave %v, want 1|2", got)
	}
}

// r26ReadmeDistinct is a BestIndex that does what the README and
// IndexInfo's doc allow for Distinct 2 and 3: it consumes the ORDER BY
// (rows sorted by its columns) and returns one row per set of rows equal
// in every column of ColUsed, leaving every constraint to SQLite.
func r26ReadmeDistinct(info *IndexInfo) error {
	if info.Distinct < 2 || len(info.OrderBy) == 0 {
		return nil
	}
	var sortCols, dedupCols []string
	for _, o := range info.OrderBy {
		if o.Desc || o.Column < 0 {
			return nil
		}
		sortCols = append(sortCols, strconv.Itoa(o.Column))
	}
	for col := range 3 {
		if info.ColUsed&(1<<col) != 0 {
			dedupCols = append(dedupCols, strconv.Itoa(col))
		}
	}
	info.IdxNum, info.IdxStr, info.OrderByConsumed = 100, strings.Join(sortCols, ",")+"|"+strings.Join(dedupCols, ","), true
	return nil
}

// TestReview26DistinctContract (was a BUG, documentation): vtab.go's
// IndexInfo doc and the README said Distinct 2 (DISTINCT) lets the table
// return "one row per set of equal OrderBy columns" and 3 (DISTINCT and
// ORDER BY) "one row per set, in OrderBy's order". A table that did
// exactly that returned wrong results: SELECT DISTINCT name ... WHERE
// v > 5 gave b alone (the table kept the a row with v = 1, which the
// WHERE then dropped, and not the one with v = 10), and SELECT DISTINCT
// id, name ... ORDER BY id two pairs of three (ORDER BY is [id] only,
// with Distinct 3). As SQLite documents sqlite3_vtab_distinct, only rows
// equal in every column of ColUsed may be dropped; the doc now says so,
// and a table following it gives the right rows.
func TestReview26DistinctContract(t *testing.T) {
	m := &r26Module{rows: [][]any{
		{int64(1), "a", int64(1)},
		{int64(1), "b", int64(10)},
		{int64(2), "a", int64(10)},
		{int64(3), "b", int64(20)},
	}, plan: r26ReadmeDistinct}
	_, c := r26DB(t, m)
	for _, tc := range []struct {
		q, want  string
		distinct int
	}{
		{"SELECT DISTINCT name FROM t WHERE v > 5", "a|b", 2},
		{"SELECT DISTINCT id, name FROM t ORDER BY id", "1a|1b|2a|3b", 3},
	} {
		m.reset()
		got := r26Query(t, c, tc.q)
		infos, _ := m.snapshot()
		if len(infos) != 1 || infos[0].Distinct != tc.distinct || !infos[0].OrderByConsumed {
			t.Fatalf("%s: planned %+v, want Distinct %d consumed", tc.q, infos, tc.distinct)
		}
		if got != tc.want {
			t.Errorf("%s: rows %q, want %q (the table did what Distinct %d allows by the doc)", tc.q, got, tc.want, tc.distinct)
		}
	}
}
