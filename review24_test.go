package libsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golibsql/libsql/changefeed"
	"github.com/golibsql/libsql/internal/capi"
)

// r24Module is a configurable probe module: CREATE TABLE from decl (or a
// default), rows kept in Go, BestIndex and Column overridable, and
// counters of every Connect/Disconnect/Open/Close.
type r24Module struct {
	decl      string
	rows      [][]any
	bestIndex func(*IndexInfo) error
	column    func(f *FuncContext, row []any, i int) error
	eofPanic  atomic.Bool
	nextHook  func(n int) // called by Next with the row index reached

	connects, disconnects, opens, closes atomic.Int64

	mu          sync.Mutex
	connectArgs [][]string
	infos       []IndexInfo
	filters     []r24Filter
}

type r24Filter struct {
	idxNum int
	idxStr string
	args   []any
}

func (m *r24Module) Connect(args []string) (string, VirtualTable, error) {
	m.connects.Add(1)
	m.mu.Lock()
	m.connectArgs = append(m.connectArgs, slices.Clone(args))
	m.mu.Unlock()
	decl := m.decl
	if decl == "" {
		decl = "CREATE TABLE x(a, b, c)"
	}
	return decl, &r24Table{m}, nil
}

func (m *r24Module) lastConnect() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.connectArgs) == 0 {
		return nil
	}
	return m.connectArgs[len(m.connectArgs)-1]
}

func (m *r24Module) lastFilter() r24Filter {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.filters) == 0 {
		return r24Filter{idxNum: -1}
	}
	return m.filters[len(m.filters)-1]
}

func (m *r24Module) lastInfo() IndexInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.infos) == 0 {
		return IndexInfo{}
	}
	return m.infos[len(m.infos)-1]
}

type r24Table struct{ m *r24Module }

func (t *r24Table) BestIndex(info *IndexInfo) error {
	var err error
	if t.m.bestIndex != nil {
		err = t.m.bestIndex(info)
	}
	t.m.mu.Lock()
	c := *info
	c.Constraints = slices.Clone(info.Constraints)
	c.OrderBy = slices.Clone(info.OrderBy)
	c.Usage = slices.Clone(info.Usage)
	t.m.infos = append(t.m.infos, c)
	t.m.mu.Unlock()
	return err
}

func (t *r24Table) Open() (VirtualCursor, error) {
	t.m.opens.Add(1)
	return &r24Cursor{m: t.m}, nil
}

func (t *r24Table) Disconnect() error { t.m.disconnects.Add(1); return nil }

type r24Cursor struct {
	m      *r24Module
	i      int
	closed bool
}

func (c *r24Cursor) Filter(idxNum int, idxStr string, args []any) error {
	if c.closed {
		return errors.New("Filter on a closed cursor")
	}
	c.m.mu.Lock()
	c.m.filters = append(c.m.filters, r24Filter{idxNum, idxStr, args})
	c.m.mu.Unlock()
	c.i = 0
	return nil
}

func (c *r24Cursor) Next() error {
	c.i++
	if c.m.nextHook != nil {
		c.m.nextHook(c.i)
	}
	return nil
}

func (c *r24Cursor) EOF() bool {
	if c.m.eofPanic.Load() && c.i == 2 {
		panic("EOF exploded")
	}
	return c.i >= len(c.m.rows)
}

func (c *r24Cursor) Column(f *FuncContext, i int) error {
	row := c.m.rows[c.i]
	if c.m.column != nil {
		return c.m.column(f, row, i)
	}
	if i < len(row) {
		f.ResultValue(row[i])
	}
	return nil
}

func (c *r24Cursor) Rowid() (int64, error) { return int64(c.i + 1), nil }
func (c *r24Cursor) Close() error {
	if c.closed {
		panic("cursor closed twice")
	}
	c.closed = true
	c.m.closes.Add(1)
	return nil
}

func r24Rows(n int) [][]any {
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{int64(i + 1), fmt.Sprintf("r%d", i+1), float64(i) + 0.5}
	}
	return rows
}

// r24LiveHandles estimates the number of live capi handles: it allocates
// k handles, which drains the free list and then hands out fresh slots;
// the largest slot seen minus k is the number of live handles.
func r24LiveHandles(t *testing.T) int {
	t.Helper()
	const k = 1 << 17
	hs := make([]capi.Handle, k)
	maxSlot := 0
	for i := range hs {
		hs[i] = capi.NewHandle(i)
		if s := int(hs[i] & (1<<24 - 1)); s > maxSlot {
			maxSlot = s
		}
	}
	for _, h := range hs {
		h.Delete()
	}
	// Background goroutines may take and give back a few handles
	// meanwhile: the estimate is good to a few.
	return maxSlot - k
}

func r24Ints(t *testing.T, q interface {
	Query(string, ...any) (*sql.Rows, error)
}, query string, args ...any) []int64 {
	t.Helper()
	rows, err := q.Query(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

// TestReview24ManyScans: thousands of short scans, eponymous and
// created, with and without constraints, leave no cursor open and no
// handle live; closing the pool disconnects every table it connected.
func TestReview24ManyScans(t *testing.T) {
	m := &r24Module{rows: r24Rows(5)}
	m.bestIndex = func(info *IndexInfo) error {
		for i, c := range info.Constraints {
			if c.Column == 0 && c.Op == IndexEQ && c.Usable {
				info.Usage[i] = IndexConstraintUsage{ArgvIndex: 1}
				info.IdxNum = 1
				info.EstimatedCost = 1
			}
		}
		return nil
	}
	path := filepath.Join(t.TempDir(), "m.db")
	db := openUnchecked(t, fileDSN(path), WithModule("probe", m))
	mustExec(t, db, "CREATE VIRTUAL TABLE v USING probe()")
	db.SetMaxOpenConns(2)
	// Warm up both connections.
	for range 10 {
		r24Ints(t, db, "SELECT count(*) FROM v")
	}
	before := r24LiveHandles(t)
	for i := range 3000 {
		var n int64
		if err := db.QueryRow("SELECT count(*) FROM v WHERE a = ?", i%7).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow("SELECT count(*) FROM probe").Scan(&n); err != nil || n != 5 {
			t.Fatalf("eponymous: %d %v", n, err)
		}
	}
	after := r24LiveHandles(t)
	t.Logf("live handles: %d before the scans, %d after", before, after)
	if after > before+50 {
		t.Errorf("live handles grew from %d to %d over 6000 scans", before, after)
	}
	if o, c := m.opens.Load(), m.closes.Load(); o != c || o < 6000 {
		t.Errorf("opens %d closes %d", o, c)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if cn, dn := m.connects.Load(), m.disconnects.Load(); cn != dn {
		t.Errorf("Connect called %d times, Disconnect %d times after the pool closed", cn, dn)
	}
	if end := r24LiveHandles(t); end > before+50 {
		t.Errorf("live handles after the pool closed: %d, before the scans %d", end, before)
	}
}

// TestReview24NestedScans: a self-join, a correlated subquery and a
// recursive use of the same table open several cursors at once, each
// with its own position.
func TestReview24NestedScans(t *testing.T) {
	m := &r24Module{rows: r24Rows(4)}
	db := openTestDB(t, "", WithModule("probe", m))
	mustExec(t, db, "CREATE VIRTUAL TABLE v USING probe()")
	if got := r24Ints(t, db, "SELECT x.a * 10 + y.a FROM v x, v y ORDER BY 1"); len(got) != 16 || got[0] != 11 || got[15] != 44 {
		t.Errorf("self-join: %v", got)
	}
	if got := r24Ints(t, db, "SELECT (SELECT count(*) FROM v y WHERE y.a <= x.a) FROM v x"); !slices.Equal(got, []int64{1, 2, 3, 4}) {
		t.Errorf("correlated subquery: %v", got)
	}
	if got := r24Ints(t, db, "SELECT count(*) FROM v x, probe y, v z WHERE x.a = y.a AND y.a = z.a"); !slices.Equal(got, []int64{4}) {
		t.Errorf("three-way join: %v", got)
	}
	if o, c := m.opens.Load(), m.closes.Load(); o != c {
		t.Errorf("opens %d closes %d", o, c)
	}
}

// TestReview24AbandonedScans: rows closed early, a context canceled mid
// scan (from inside Next), a prepared statement closed with rows open,
// and the pool closed with rows open: every cursor is closed, every table
// disconnected, and nothing crashes.
func TestReview24AbandonedScans(t *testing.T) {
	m := &r24Module{rows: r24Rows(1000)}
	path := filepath.Join(t.TempDir(), "a.db")
	db := openUnchecked(t, fileDSN(path), WithModule("probe", m))
	mustExec(t, db, "CREATE VIRTUAL TABLE v USING probe()")

	rows, err := db.Query("SELECT a FROM v")
	if err != nil {
		t.Fatal(err)
	}
	rows.Next()
	rows.Close()
	if o, c := m.opens.Load(), m.closes.Load(); o != c {
		t.Errorf("rows closed early: opens %d closes %d", o, c)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var canceled atomic.Bool
	m.nextHook = func(n int) {
		if n == 500 && !canceled.Load() {
			canceled.Store(true)
			cancel()
			time.Sleep(50 * time.Millisecond) // the interrupt is asynchronous
		}
	}
	var n int64
	err = db.QueryRowContext(ctx, "SELECT sum(a) FROM v").Scan(&n)
	if !errors.Is(err, context.Canceled) && !errors.Is(err, ErrInterrupted) {
		t.Errorf("canceled mid-scan: %v, %d", err, n)
	}
	m.nextHook = nil
	if o, c := m.opens.Load(), m.closes.Load(); o != c {
		t.Errorf("canceled: opens %d closes %d", o, c)
	}

	st, err := db.Prepare("SELECT a FROM v")
	if err != nil {
		t.Fatal(err)
	}
	rows, err = st.Query()
	if err != nil {
		t.Fatal(err)
	}
	rows.Next()
	st.Close()
	cnt := 1
	for rows.Next() {
		cnt++
	}
	if rows.Err() != nil || cnt != 1000 {
		t.Errorf("rows after their statement closed: %d, %v", cnt, rows.Err())
	}
	rows.Close()

	rows, err = db.Query("SELECT a FROM v")
	if err != nil {
		t.Fatal(err)
	}
	rows.Next()
	done := make(chan error, 1)
	go func() { done <- db.Close() }()
	time.Sleep(20 * time.Millisecond)
	rows.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if o, c := m.opens.Load(), m.closes.Load(); o != c {
		t.Errorf("pool closed with rows open: opens %d closes %d", o, c)
	}
	if cn, dn := m.connects.Load(), m.disconnects.Load(); cn != dn {
		t.Errorf("connects %d disconnects %d", cn, dn)
	}
}

// TestReview24ColumnValues: every Result method of the Column's
// FuncContext, ResultValue of every supported type and of an unsupported
// one, and 1 MiB values.
func TestReview24ColumnValues(t *testing.T) {
	big := strings.Repeat("é", 1<<19) // 1 MiB
	bigBlob := make([]byte, 1<<20)
	for i := range bigBlob {
		bigBlob[i] = byte(i * 7)
	}
	when := time.Date(2024, 3, 5, 7, 8, 9, 123456789, time.UTC)
	type cell struct {
		set  func(f *FuncContext)
		want any
	}
	cells := []cell{
		{func(f *FuncContext) { f.ResultInt64(math.MinInt64) }, int64(math.MinInt64)},
		{func(f *FuncContext) { f.ResultFloat(-2.25) }, -2.25},
		{func(f *FuncContext) { f.ResultText("héllo\x00x") }, "héllo\x00x"},
		{func(f *FuncContext) { f.ResultRawText([]byte("raw")) }, "raw"},
		{func(f *FuncContext) { f.ResultBlob([]byte{0, 1, 2}) }, []byte{0, 1, 2}},
		{func(f *FuncContext) { f.ResultBlob(nil) }, []byte{}},
		{func(f *FuncContext) { f.ResultNull() }, nil},
		{func(f *FuncContext) { f.ResultValue(true) }, int64(1)},
		{func(f *FuncContext) { f.ResultValue([]byte("b")) }, []byte("b")},
		{func(f *FuncContext) { f.ResultValue(nil) }, nil},
		{func(f *FuncContext) { f.ResultValue(int32(-7)) }, int64(-7)},
		{func(f *FuncContext) { f.ResultValue(big) }, big},
		{func(f *FuncContext) { f.ResultBlob(bigBlob) }, bigBlob},
		{func(f *FuncContext) { f.ResultValue(when) }, "2024-03-05T07:08:09.123456789Z"},
	}
	var cur atomic.Int64
	m := &r24Module{rows: [][]any{{nil}}, decl: "CREATE TABLE x(v)"}
	m.column = func(f *FuncContext, _ []any, _ int) error {
		cells[cur.Load()].set(f)
		return nil
	}
	db := openTestDB(t, "", WithModule("probe", m))
	for i, c := range cells {
		cur.Store(int64(i))
		var got any
		if err := db.QueryRow("SELECT v FROM probe").Scan(&got); err != nil {
			t.Errorf("cell %d: %v", i, err)
			continue
		}
		switch w := c.want.(type) {
		case []byte:
			if g, ok := got.([]byte); !ok || !slices.Equal(g, w) {
				t.Errorf("cell %d: got %T len %d, want blob len %d", i, got, r24Len(got), len(w))
			}
		case string:
			g, ok := got.(string)
			if !ok {
				if b, isB := got.([]byte); isB {
					g, ok = string(b), true
				}
			}
			if !ok || g != w {
				t.Errorf("cell %d: got %T len %d, want text len %d", i, got, r24Len(got), len(w))
			}
		default:
			if got != c.want {
				t.Errorf("cell %d: got %#v, want %#v", i, got, c.want)
			}
		}
	}
	// A column declared DATETIME scans into a time.Time.
	m2 := &r24Module{rows: [][]any{{when}}, decl: "CREATE TABLE x(ts DATETIME)"}
	db2 := openTestDB(t, "", WithModule("tprobe", m2))
	var tt time.Time
	if err := db2.QueryRow("SELECT ts FROM tprobe").Scan(&tt); err != nil || !tt.Equal(when) {
		t.Errorf("time.Time in a DATETIME column: %v, %v", tt, err)
	}
	var typ string
	cur.Store(4)
	if err := db.QueryRow("SELECT typeof(v) FROM probe").Scan(&typ); err != nil || typ != "blob" {
		t.Errorf("ResultBlob's type: %q %v", typ, err)
	}
	cur.Store(3)
	if err := db.QueryRow("SELECT typeof(v) FROM probe").Scan(&typ); err != nil || typ != "text" {
		t.Errorf("ResultRawText's type: %q %v", typ, err)
	}

	// An unsupported type fails the statement.
	cells = append(cells, cell{func(f *FuncContext) { f.ResultValue(struct{ X int }{1}) }, nil})
	cur.Store(int64(len(cells) - 1))
	var got any
	if err := db.QueryRow("SELECT v FROM probe").Scan(&got); err == nil {
		t.Errorf("ResultValue(struct{}): no error, got %#v", got)
	} else {
		t.Logf("ResultValue(struct{}): %v", err)
	}
	// The connection is still fine.
	cur.Store(0)
	if err := db.QueryRow("SELECT v FROM probe").Scan(&got); err != nil {
		t.Errorf("after the error: %v", err)
	}
}

func r24Len(v any) int {
	switch v := v.(type) {
	case []byte:
		return len(v)
	case string:
		return len(v)
	}
	return -1
}

var errR24Cause = errors.New("r24: the cause")

// TestReview24ColumnErrors: a Column's ResultError and returned error, a
// Filter's and a Next's error, and a panic in EOF, all fail the statement
// with their text; the ResultError's cause is found by errors.Is.
func TestReview24ColumnErrors(t *testing.T) {
	var mode atomic.Int64
	m := &r24Module{rows: r24Rows(5)}
	m.column = func(f *FuncContext, row []any, i int) error {
		switch mode.Load() {
		case 1:
			f.ResultError(fmt.Errorf("wrapped: %w", errR24Cause))
		case 2:
			return fmt.Errorf("returned: %w", errR24Cause)
		}
		f.ResultValue(row[i%len(row)])
		return nil
	}
	db := openTestDB(t, "", WithModule("probe", m))
	var n int64
	mode.Store(1)
	err := db.QueryRow("SELECT a FROM probe").Scan(&n)
	if err == nil || !strings.Contains(err.Error(), "wrapped: r24: the cause") {
		t.Errorf("ResultError in Column: %v", err)
	}
	if !errors.Is(err, errR24Cause) {
		t.Errorf("ResultError in Column: errors.Is does not find the cause in %v", err)
	}
	var le *Error
	if !errors.As(err, &le) {
		t.Errorf("ResultError in Column: not a *libsql.Error: %T", err)
	}
	mode.Store(2)
	err = db.QueryRow("SELECT a FROM probe").Scan(&n)
	if err == nil || !strings.Contains(err.Error(), "returned: r24: the cause") {
		t.Errorf("error returned by Column: %v", err)
	}
	if !errors.Is(err, errR24Cause) {
		t.Logf("error returned by Column: errors.Is does not find the cause (only the text is kept): %v", err)
	}
	mode.Store(0)
	if o, c := m.opens.Load(), m.closes.Load(); o != c {
		t.Errorf("opens %d closes %d", o, c)
	}
}

// TestReview24EOFPanic: the contract says "Errors and panics fail the
// statement with their text"; a panic in EOF must not end the scan
// quietly as if the table had no more rows.
func TestReview24EOFPanic(t *testing.T) {
	m := &r24Module{rows: r24Rows(5)}
	db := openTestDB(t, "", WithModule("probe", m))
	m.eofPanic.Store(true)
	var n int64
	err := db.QueryRow("SELECT count(*) FROM probe").Scan(&n)
	if err == nil {
		t.Errorf("a panic in EOF: the statement succeeded with count %d of 5 rows (the scan silently ended); want an error with the panic's text", n)
	} else if !strings.Contains(err.Error(), "EOF exploded") {
		t.Errorf("a panic in EOF: %v, want the panic's text", err)
	}
}

// TestReview24FilterArgs: Filter gets the values of the constraints in
// ArgvIndex order, of every type, as copies it may keep.
func TestReview24FilterArgs(t *testing.T) {
	m := &r24Module{decl: "CREATE TABLE x(a, b, c, d, e)", rows: [][]any{{1, 2, 3, 4, 5}}}
	m.bestIndex = func(info *IndexInfo) error {
		n := 0
		// Reverse order of the columns: e gets place 1.
		for col := 4; col >= 0; col-- {
			for i, c := range info.Constraints {
				if c.Column == col && c.Op == IndexEQ && c.Usable && info.Usage[i].ArgvIndex == 0 {
					n++
					info.Usage[i] = IndexConstraintUsage{ArgvIndex: n, Omit: true}
					break
				}
			}
		}
		info.IdxNum = n
		return nil
	}
	db := openTestDB(t, "", WithModule("probe", m))
	blob := []byte{9, 8, 7, 0, 6}
	rows, err := db.Query("SELECT a FROM probe WHERE a = ? AND b = ? AND c = ? AND d = ? AND e = ?", "tëxt", blob, 2.5, int64(-3), nil)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	rows.Close()
	f := m.lastFilter()
	if f.idxNum != 4 {
		// e = NULL is never true: SQLite may leave it out, or offer it.
		t.Logf("Filter idxNum %d args %#v", f.idxNum, f.args)
	}
	kept := f.args
	// Run more statements, reusing SQLite's memory.
	for i := range 50 {
		rows, err := db.Query("SELECT a FROM probe WHERE a = ? AND b = ? AND c = ? AND d = ?", strings.Repeat("z", 5+i), []byte(strings.Repeat("y", 5)), 1.0, 1)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
		}
		rows.Close()
	}
	want := []any{int64(-3), 2.5, blob, "tëxt"}
	if len(kept) < 4 {
		t.Fatalf("Filter args %#v", kept)
	}
	kept = kept[len(kept)-4:]
	for i, w := range want {
		switch w := w.(type) {
		case []byte:
			if g, ok := kept[i].([]byte); !ok || !slices.Equal(g, w) {
				t.Errorf("kept arg %d: %#v, want %#v", i, kept[i], w)
			}
		default:
			if kept[i] != w {
				t.Errorf("kept arg %d: %#v, want %#v", i, kept[i], w)
			}
		}
	}
	// A NULL argument through IS.
	rows, err = db.Query("SELECT a FROM probe WHERE a = ?", nil)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	rows.Close()
	t.Logf("a = NULL: filter %#v", m.lastFilter())
	// A table-valued function's arguments of every type.
	m2 := &r24Module{decl: "CREATE TABLE x(v, p1 HIDDEN, p2 HIDDEN, p3 HIDDEN, p4 HIDDEN, p5 HIDDEN)", rows: [][]any{{1}}}
	m2.bestIndex = func(info *IndexInfo) error {
		for i, c := range info.Constraints {
			if c.Column >= 1 && c.Op == IndexEQ {
				if !c.Usable {
					return ErrIndexUnusable
				}
				info.Usage[i] = IndexConstraintUsage{ArgvIndex: c.Column, Omit: true}
			}
		}
		return nil
	}
	db2 := openTestDB(t, "", WithModule("fn", m2))
	if got := r24Ints(t, db2, "SELECT v FROM fn(1, 2.5, 'three', x'04', NULL)"); !slices.Equal(got, []int64{1}) {
		t.Errorf("fn(...): %v", got)
	}
	f = m2.lastFilter()
	want = []any{int64(1), 2.5, "three", []byte{4}, nil}
	if len(f.args) != len(want) {
		t.Fatalf("table-valued function's args: %#v", f.args)
	}
	for i, w := range want {
		if b, ok := w.([]byte); ok {
			if g, ok := f.args[i].([]byte); !ok || !slices.Equal(g, b) {
				t.Errorf("tvf arg %d: %#v", i, f.args[i])
			}
		} else if f.args[i] != w {
			t.Errorf("tvf arg %d: %#v, want %#v", i, f.args[i], w)
		}
	}
}

// TestReview24BestIndexHidden: a table-valued function called with fewer
// arguments than it has HIDDEN columns gets constraints on the first ones
// only; LIMIT and OFFSET come as IndexLimit and IndexOffset constraints
// whose values reach Filter.
func TestReview24BestIndexHidden(t *testing.T) {
	m := &r24Module{decl: "CREATE TABLE x(v, p1 HIDDEN, p2 HIDDEN, p3 HIDDEN)", rows: r24Rows(10)}
	m.bestIndex = func(info *IndexInfo) error {
		n := 0
		for i, c := range info.Constraints {
			if c.Usable && (c.Op == IndexEQ && c.Column >= 1 || c.Op == IndexLimit || c.Op == IndexOffset) {
				n++
				info.Usage[i] = IndexConstraintUsage{ArgvIndex: n, Omit: c.Op == IndexEQ}
			}
		}
		info.IdxNum = n
		return nil
	}
	db := openTestDB(t, "", WithModule("fn", m))
	if got := r24Ints(t, db, "SELECT count(*) FROM fn(7)"); !slices.Equal(got, []int64{10}) {
		t.Errorf("fn(7): %v", got)
	}
	info := m.lastInfo()
	var hidden []int
	for _, c := range info.Constraints {
		if c.Op == IndexEQ {
			hidden = append(hidden, c.Column)
		}
	}
	if !slices.Equal(hidden, []int{1}) {
		t.Errorf("fn(7): EQ constraints on columns %v, want [1]", hidden)
	}
	if f := m.lastFilter(); len(f.args) != 1 || f.args[0] != int64(7) {
		t.Errorf("fn(7): Filter args %#v", f.args)
	}

	if got := r24Ints(t, db, "SELECT v FROM fn LIMIT 3 OFFSET 2"); !slices.Equal(got, []int64{3, 4, 5}) {
		t.Errorf("LIMIT 3 OFFSET 2: %v", got)
	}
	info = m.lastInfo()
	var ops []IndexOp
	for _, c := range info.Constraints {
		ops = append(ops, c.Op)
	}
	if !slices.Contains(ops, IndexLimit) || !slices.Contains(ops, IndexOffset) {
		t.Errorf("LIMIT/OFFSET: constraints %v, want IndexLimit (73) and IndexOffset (74)", ops)
	}
	if f := m.lastFilter(); !slices.Equal(f.args, []any{int64(3), int64(2)}) && !slices.Equal(f.args, []any{int64(2), int64(3)}) {
		t.Errorf("LIMIT/OFFSET: Filter args %#v", f.args)
	}
}

// TestReview24OrderByDesc: OrderByConsumed with a DESC ORDER BY: SQLite
// takes the table's order as it is (the flag reaches SQLite) and does not
// sort again; without the flag SQLite sorts.
func TestReview24OrderByDesc(t *testing.T) {
	var consume atomic.Bool
	m := &r24Module{rows: r24Rows(5)}
	m.bestIndex = func(info *IndexInfo) error {
		if len(info.OrderBy) == 1 && info.OrderBy[0].Column == 0 && info.OrderBy[0].Desc && consume.Load() {
			info.OrderByConsumed = true
			info.IdxNum = 1
		}
		return nil
	}
	db := openTestDB(t, "", WithModule("probe", m))
	// The module returns the rows ascending whatever the plan: with the
	// flag (a lie) SQLite keeps that order, which shows it saw the flag.
	consume.Store(true)
	if got := r24Ints(t, db, "SELECT a FROM probe ORDER BY a DESC"); !slices.Equal(got, []int64{1, 2, 3, 4, 5}) {
		t.Errorf("OrderByConsumed on DESC: %v, want the table's own order (SQLite must not sort)", got)
	}
	if info := m.lastInfo(); len(info.OrderBy) != 1 || !info.OrderBy[0].Desc {
		t.Errorf("OrderBy: %#v", info.OrderBy)
	}
	consume.Store(false)
	if got := r24Ints(t, db, "SELECT a FROM probe ORDER BY a DESC /* again */"); !slices.Equal(got, []int64{5, 4, 3, 2, 1}) {
		t.Errorf("without OrderByConsumed: %v", got)
	}
}

// TestReview24BestIndexAnswers: bad answers fail the statement with a
// clear error naming the problem; panics too; odd but valid answers
// (non-ASCII IdxStr, huge estimates) work.
func TestReview24BestIndexAnswers(t *testing.T) {
	var mode atomic.Int64
	m := &r24Module{rows: r24Rows(3), decl: "CREATE TABLE x(a, b, c, h HIDDEN)"}
	m.bestIndex = func(info *IndexInfo) error {
		var eq []int
		for i, c := range info.Constraints {
			if c.Op == IndexEQ {
				eq = append(eq, i)
			}
		}
		switch mode.Load() {
		case 2: // a duplicate
			info.Usage[eq[0]].ArgvIndex = 1
			info.Usage[eq[1]].ArgvIndex = 1
		case 3: // usage of a constraint, usable or not
			if len(eq) > 0 {
				info.Usage[eq[0]].ArgvIndex = 1
			}
		case 4:
			panic("bestindex exploded")
		case 5:
			return ErrIndexUnusable
		case 6:
			info.IdxStr = "ключ → ✓ 𝄞"
			info.IdxNum = -42
			info.EstimatedCost = 1e300
			info.EstimatedRows = math.MaxInt64
		case 8:
			return fmt.Errorf("wrapped: %w", ErrIndexUnusable)
		case 9:
			info.EstimatedCost = math.Inf(1)
			info.EstimatedRows = -1
		}
		return nil
	}
	db := openTestDB(t, "", WithModule("probe", m))
	q := func(query string) error {
		rows, err := db.Query(query)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
		}
		return rows.Err()
	}

	mode.Store(2)
	if err := q("SELECT a FROM probe WHERE b = 'x' AND c = 1"); err == nil || !strings.Contains(err.Error(), "ArgvIndex 1") {
		t.Errorf("duplicate ArgvIndex: %v", err)
	}
	mode.Store(3)
	m.mu.Lock()
	m.infos = nil
	m.mu.Unlock()
	if err := q("SELECT x.a FROM probe x JOIN probe y ON x.a = y.a"); err == nil || !strings.Contains(err.Error(), "not usable") {
		t.Errorf("usage of an unusable constraint: %v", err)
		m.mu.Lock()
		for _, in := range m.infos {
			t.Logf("offered %+v", in.Constraints)
		}
		m.mu.Unlock()
	}
	mode.Store(4)
	if err := q("SELECT a FROM probe"); err == nil || !strings.Contains(err.Error(), "bestindex exploded") {
		t.Errorf("panic in BestIndex: %v", err)
	}
	mode.Store(5)
	if err := q("SELECT a FROM probe"); err == nil || !strings.Contains(err.Error(), "no query solution") {
		t.Errorf("ErrIndexUnusable for every plan: %v", err)
	}
	mode.Store(8)
	if err := q("SELECT a FROM probe WHERE a > 0"); err == nil || !strings.Contains(err.Error(), "no query solution") {
		t.Errorf("wrapped ErrIndexUnusable for every plan: %v", err)
	}
	mode.Store(6)
	if err := q("SELECT a FROM probe"); err != nil {
		t.Errorf("huge estimates, non-ASCII IdxStr: %v", err)
	} else if f := m.lastFilter(); f.idxStr != "ключ → ✓ 𝄞" || f.idxNum != -42 {
		t.Errorf("IdxStr/IdxNum round trip: %q %d", f.idxStr, f.idxNum)
	}
	mode.Store(9)
	if err := q("SELECT a FROM probe WHERE 2"); err != nil {
		t.Errorf("infinite cost, negative rows: %v", err)
	}
	mode.Store(0)
	if err := q("SELECT a FROM probe"); err != nil {
		t.Errorf("after the errors: %v", err)
	}
	if o, c := m.opens.Load(), m.closes.Load(); o != c {
		t.Errorf("opens %d closes %d", o, c)
	}
}

// TestReview24ConnectArgs: Connect gets the module's name, the schema
// (main, temp, an attached database's name), the table's name, and the
// arguments as written; DROP TABLE disconnects; ALTER TABLE RENAME (no
// xRename) renames; a bad declaration fails with a clear error.
func TestReview24ConnectArgs(t *testing.T) {
	m := &r24Module{rows: r24Rows(2)}
	dir := t.TempDir()
	db := openUnchecked(t, fileDSN(filepath.Join(dir, "main.db")), WithModule("probe", m))
	defer db.Close()
	db.SetMaxOpenConns(1)

	mustExec(t, db, `CREATE VIRTUAL TABLE temp.tv USING probe('a''b', x = 1 ,  "q q" , [br], f(1, 2))`)
	want := []string{"probe", "temp", "tv", "'a''b'", "x = 1", `"q q"`, "[br]", "f(1, 2)"}
	if got := m.lastConnect(); !slices.Equal(got, want) {
		t.Errorf("CREATE VIRTUAL TABLE temp.tv args:\n got %q\nwant %q", got, want)
	}
	if got := r24Ints(t, db, "SELECT a FROM temp.tv"); !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("temp.tv: %v", got)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM probe").Scan(&n); err != nil || n != 2 {
		t.Errorf("eponymous: %d %v", n, err)
	}
	if got := m.lastConnect(); !slices.Equal(got, []string{"probe", "main", "probe"}) {
		t.Errorf("eponymous args: %q", got)
	}

	mustExec(t, db, "ATTACH DATABASE ? AS aux", filepath.Join(dir, "aux.db"))
	mustExec(t, db, "CREATE VIRTUAL TABLE aux.av USING probe()")
	if got := m.lastConnect(); !slices.Equal(got, []string{"probe", "aux", "av"}) {
		t.Errorf("attached args: %q", got)
	}
	if got := r24Ints(t, db, "SELECT b.a FROM aux.av b JOIN temp.tv t ON t.a = b.a"); !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("attached joined with temp: %v", got)
	}
	d0 := m.disconnects.Load()
	mustExec(t, db, "DROP TABLE aux.av")
	if m.disconnects.Load() == d0 {
		t.Error("DROP TABLE did not disconnect the table")
	}
	if _, err := db.Exec("SELECT * FROM aux.av"); err == nil {
		t.Error("aux.av after DROP TABLE")
	}

	mustExec(t, db, "CREATE VIRTUAL TABLE rv USING probe(1)")
	if _, err := db.Exec("ALTER TABLE rv RENAME TO rv2"); err != nil {
		t.Errorf("ALTER TABLE RENAME of a virtual table without xRename: %v", err)
	} else {
		if got := r24Ints(t, db, "SELECT a FROM rv2"); !slices.Equal(got, []int64{1, 2}) {
			t.Errorf("rv2: %v", got)
		}
		var sqlText string
		if err := db.QueryRow("SELECT sql FROM sqlite_schema WHERE name = 'rv2'").Scan(&sqlText); err != nil || !strings.Contains(sqlText, "rv2") {
			t.Errorf("schema after RENAME: %q %v", sqlText, err)
		}
	}
	checkIntegrity(t, db)

	// Declaration errors.
	for _, decl := range []string{"CREATE TABLE x(", "SELECT 1", "CREATE TABLE x(a) WITHOUT ROWID", "not sql at all"} {
		bad := &r24Module{decl: decl}
		db2 := openUnchecked(t, ":memory:", WithModule("bad", bad))
		_, err := db2.Exec("CREATE VIRTUAL TABLE b USING bad()")
		if err == nil {
			t.Errorf("declaration %q accepted", decl)
		} else if !strings.Contains(err.Error(), decl) {
			t.Errorf("declaration %q: %v; want an error quoting it", decl, err)
		} else {
			t.Logf("declaration %q: %v", decl, err)
		}
		if _, err := db2.Exec("SELECT * FROM bad"); err == nil {
			t.Errorf("eponymous use of declaration %q accepted", decl)
		}
		db2.Close()
		if c, d := bad.connects.Load(), bad.disconnects.Load(); c != d {
			t.Errorf("declaration %q: Connect %d, Disconnect %d (a table whose declaration failed must be disconnected)", decl, c, d)
		}
	}
}

// TestReview24ModuleTwice: two WithModule with one name: the last one
// serves (SQLite replaces a module re-registered), and nothing leaks.
func TestReview24ModuleTwice(t *testing.T) {
	a := &r24Module{rows: [][]any{{int64(1)}}}
	b := &r24Module{rows: [][]any{{int64(2)}}}
	before := r24LiveHandles(t)
	db := openUnchecked(t, ":memory:", WithModule("dup", a), WithModule("dup", b))
	got := r24Ints(t, db, "SELECT a FROM dup")
	t.Logf("two modules named dup: the rows of %v (1: the first, 2: the last)", got)
	if !slices.Equal(got, []int64{2}) {
		t.Errorf("two WithModule with one name: rows %v; want the last one's", got)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if after := r24LiveHandles(t); after > before+10 {
		t.Errorf("live handles %d after the pool closed, %d before", after, before)
	}
	if a.connects.Load() != a.disconnects.Load() || b.connects.Load() != b.disconnects.Load() {
		t.Errorf("connects/disconnects: a %d/%d b %d/%d", a.connects.Load(), a.disconnects.Load(), b.connects.Load(), b.disconnects.Load())
	}
}

// TestReview24Integration: a database with a CREATE VIRTUAL TABLE in its
// schema, cdc=on: the change stream sees the writes made from the virtual
// table's rows (also in BEGIN CONCURRENT), and not the reads; VACUUM,
// VACUUM INTO, Serialize and Backup copy the table's declaration, which
// works in the copy with the module; the authorizer sees the reads;
// integrity_check passes; a reopen reads the durable log.
func TestReview24Integration(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "i.db")
	m := &r24Module{rows: r24Rows(3)}
	var reads sync.Map
	auth := func(r AuthRequest) AuthResult {
		if r.Action == AuthRead {
			reads.Store(r.Schema+"."+r.Arg1+"."+r.Arg2, true)
		}
		return AuthOK
	}
	db := openUnchecked(t, fileDSN(path)+"?cdc=on", WithModule("probe", m), WithAuthorizer(auth))
	mustExec(t, db, "CREATE VIRTUAL TABLE v USING probe(x); CREATE TABLE w(id INTEGER PRIMARY KEY, name TEXT)")
	s := stream(t, db, ChangeOptions{})
	mustExec(t, db, "INSERT INTO w SELECT a, b FROM v")
	for i, ch := range next(t, s, 3) {
		if ch.Table != "w" || ch.RowID != int64(i+1) {
			t.Errorf("change %d: %s", i, describeChange(ch))
		}
	}
	if _, ok := reads.Load("main.v.a"); !ok {
		var seen []string
		reads.Range(func(k, _ any) bool { seen = append(seen, k.(string)); return true })
		t.Errorf("the authorizer saw no read of v.a; it saw %v", seen)
	}

	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecContext(ctx, "BEGIN CONCURRENT"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecContext(ctx, "INSERT INTO w SELECT a + 10, b FROM v WHERE a > 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if chs := next(t, s, 2); chs[0].RowID != 12 || chs[1].RowID != 13 {
		t.Errorf("BEGIN CONCURRENT changes: %s, %s", describeChange(chs[0]), describeChange(chs[1]))
	}
	r24Ints(t, db, "SELECT count(*) FROM v") // a read only: no change
	noMore(t, s)
	checkIntegrity(t, db)

	mustExec(t, db, "VACUUM")
	into := filepath.Join(dir, "into.db")
	mustExec(t, db, "VACUUM INTO ?", into)
	bak := filepath.Join(dir, "bak.db")
	if err := Backup(ctx, db, "main", bak, nil); err != nil {
		t.Fatal(err)
	}
	img, err := Serialize(ctx, db, "main")
	if err != nil {
		t.Fatal(err)
	}
	ser := filepath.Join(dir, "ser.db")
	if err := writeFileR24(ser, img); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, into, bak, ser} {
		if p == path {
			if got := r24Ints(t, db, "SELECT a FROM v"); !slices.Equal(got, []int64{1, 2, 3}) {
				t.Errorf("after VACUUM: %v", got)
			}
			continue
		}
		cp := openUnchecked(t, fileDSN(p), WithModule("probe", m))
		if got := r24Ints(t, cp, "SELECT a FROM v"); !slices.Equal(got, []int64{1, 2, 3}) {
			t.Errorf("%s: v %v", filepath.Base(p), got)
		}
		if got := r24Ints(t, cp, "SELECT count(*) FROM w"); !slices.Equal(got, []int64{5}) {
			t.Errorf("%s: w %v", filepath.Base(p), got)
		}
		checkIntegrity(t, cp)
		cp.Close()
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if cn, dn := m.connects.Load(), m.disconnects.Load(); cn != dn {
		t.Errorf("connects %d disconnects %d", cn, dn)
	}

	db = openUnchecked(t, fileDSN(path)+"?cdc=on", WithModule("probe", m))
	defer db.Close()
	s2 := stream(t, db, ChangeOptions{Since: changefeed.Oldest})
	if chs := next(t, s2, 5); chs[4].RowID != 13 {
		t.Errorf("durable log after a reopen: %s", describeChange(chs[4]))
	}
	if got := r24Ints(t, db, "SELECT a FROM v WHERE a = 2"); !slices.Equal(got, []int64{2}) {
		t.Errorf("after a reopen: %v", got)
	}
}

func writeFileR24(path string, b []byte) error { return os.WriteFile(path, b, 0o600) }

// TestReview24TinyShared: four connections of one pool scan tables of one
// module (shared Go values) at once.
func TestReview24TinyShared(t *testing.T) {
	m := &r24Module{rows: r24Rows(20)}
	db := openTestDB(t, "", WithModule("probe", m))
	mustExec(t, db, "CREATE VIRTUAL TABLE v USING probe()")
	db.SetMaxOpenConns(4)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				var n, s int64
				q := "SELECT count(*), sum(a) FROM v"
				if (g+i)%2 == 1 {
					q = "SELECT count(*), sum(x.a) FROM probe x JOIN v y ON x.a = y.a"
				}
				if err := db.QueryRow(q).Scan(&n, &s); err != nil || n != 20 || s != 210 {
					errs <- fmt.Errorf("goroutine %d query %d: %d %d %v", g, i, n, s, err)
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
	if o, c := m.opens.Load(), m.closes.Load(); o != c {
		t.Errorf("opens %d closes %d", o, c)
	}
}

// r24Failing is a module whose parts fail on demand.
type r24Failing struct {
	r24Module
	what string
}

func (m *r24Failing) Connect(args []string) (string, VirtualTable, error) {
	switch m.what {
	case "connect-panic":
		panic("connect exploded")
	case "connect-nil":
		return "CREATE TABLE x(a)", nil, nil
	case "connect-err":
		return "", nil, errors.New("connect refused")
	}
	_, vt, err := m.r24Module.Connect(args)
	return "CREATE TABLE x(a)", &r24FailTable{vt.(*r24Table), m}, err
}

type r24FailTable struct {
	*r24Table
	m *r24Failing
}

func (t *r24FailTable) Open() (VirtualCursor, error) {
	switch t.m.what {
	case "open-err":
		return nil, errors.New("open refused")
	case "open-nil":
		return nil, nil
	case "open-panic":
		panic("open exploded")
	}
	c, _ := t.r24Table.Open()
	return &r24FailCursor{c.(*r24Cursor), t.m}, nil
}

type r24FailCursor struct {
	*r24Cursor
	m *r24Failing
}

func (c *r24FailCursor) Next() error {
	if c.m.what == "next-err" {
		return errors.New("next refused")
	}
	return c.r24Cursor.Next()
}

func (c *r24FailCursor) Rowid() (int64, error) {
	if c.m.what == "rowid-err" {
		return 0, errors.New("rowid refused")
	}
	return c.r24Cursor.Rowid()
}

func (c *r24FailCursor) Close() error {
	c.r24Cursor.Close()
	if c.m.what == "close-err" {
		return errors.New("close refused")
	}
	return nil
}

// TestReview24Failures: errors, panics and nil results of Connect, Open,
// Next and Rowid fail the statement with their text; a Close error has
// nowhere to go (SQLite ignores xClose's result).
func TestReview24Failures(t *testing.T) {
	for what, want := range map[string]string{
		"connect-panic": "connect exploded",
		"connect-nil":   "Connect returned no table",
		"connect-err":   "connect refused",
		"open-err":      "open refused",
		"open-nil":      "Open returned no cursor",
		"open-panic":    "open exploded",
		"next-err":      "next refused",
		"rowid-err":     "rowid refused",
	} {
		m := &r24Failing{r24Module: r24Module{rows: r24Rows(3)}, what: what}
		db := openUnchecked(t, ":memory:", WithModule("f", m))
		var n int64
		err := db.QueryRow("SELECT sum(rowid) FROM f").Scan(&n)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v (%d), want an error with %q", what, err, n, want)
		}
		db.Close()
		if m.opens.Load() != m.closes.Load() || m.connects.Load() != m.disconnects.Load() {
			t.Errorf("%s: opens %d closes %d connects %d disconnects %d", what, m.opens.Load(), m.closes.Load(), m.connects.Load(), m.disconnects.Load())
		}
	}
	m := &r24Failing{r24Module: r24Module{rows: r24Rows(3)}, what: "close-err"}
	db := openUnchecked(t, ":memory:", WithModule("f", m))
	defer db.Close()
	var n int64
	err := db.QueryRow("SELECT sum(a) FROM f").Scan(&n)
	t.Logf("a Close error: %v (sum %d)", err, n)
}

// TestReview24ColumnContext: Column's FuncContext has no arguments, its
// Context is the statement's, and it panics once Column returned.
func TestReview24ColumnContext(t *testing.T) {
	type key struct{}
	var kept *FuncContext
	var seen atomic.Value
	m := &r24Module{rows: r24Rows(1)}
	m.column = func(f *FuncContext, row []any, i int) error {
		kept = f
		if f.NArg() != 0 {
			return fmt.Errorf("NArg %d", f.NArg())
		}
		if v := f.Context().Value(key{}); v != nil {
			seen.Store(v)
		}
		f.ResultValue(row[i])
		return nil
	}
	db := openTestDB(t, "", WithModule("probe", m))
	ctx := context.WithValue(context.Background(), key{}, "mine")
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT a FROM probe").Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d %v", n, err)
	}
	if seen.Load() != "mine" {
		t.Errorf("Column's f.Context() is not the statement's: %v", seen.Load())
	}
	func() {
		defer func() {
			if r := recover(); r == nil {
				t.Error("a FuncContext kept after Column returned did not panic")
			}
		}()
		kept.ResultInt64(1)
	}()
}

// TestReview24SchemaUses: a view and a trigger over a virtual table, a
// table of more than 64 columns (ColUsed's bit 63), DROP TABLE rolled
// back, and a pool that reopens a cdc=on database without the module
// still writes its real tables and streams their changes.
func TestReview24SchemaUses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	var cols []string
	for i := range 70 {
		cols = append(cols, fmt.Sprintf("c%d", i))
	}
	row := make([]any, 70)
	for i := range row {
		row[i] = int64(i)
	}
	m := &r24Module{decl: "CREATE TABLE x(" + strings.Join(cols, ", ") + ")", rows: [][]any{row}}
	db := openUnchecked(t, fileDSN(path)+"?cdc=on", WithModule("wide", m))
	mustExec(t, db, `CREATE VIRTUAL TABLE v USING wide();
		CREATE VIEW vv AS SELECT c1 + c65 AS s FROM v;
		CREATE TABLE log(id INTEGER PRIMARY KEY, s);
		CREATE TABLE w(id INTEGER PRIMARY KEY);
		CREATE TRIGGER tr AFTER INSERT ON w BEGIN INSERT INTO log(s) SELECT s FROM vv; END;`)
	if got := r24Ints(t, db, "SELECT s FROM vv"); !slices.Equal(got, []int64{66}) {
		t.Errorf("view: %v", got)
	}
	if info := m.lastInfo(); info.ColUsed != 1<<1|1<<63 {
		t.Errorf("ColUsed %#x, want bits 1 and 63", info.ColUsed)
	}
	mustExec(t, db, "INSERT INTO w VALUES (1)")
	if got := r24Ints(t, db, "SELECT s FROM log"); !slices.Equal(got, []int64{66}) {
		t.Errorf("trigger: %v", got)
	}
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mustExecConn(t, c, "BEGIN")
	mustExecConn(t, c, "DROP TABLE v")
	mustExecConn(t, c, "ROLLBACK")
	var n int64
	if err := c.QueryRowContext(context.Background(), "SELECT c69 FROM v").Scan(&n); err != nil || n != 69 {
		t.Errorf("after DROP TABLE rolled back: %d %v", n, err)
	}
	c.Close()
	checkIntegrity(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if m.connects.Load() != m.disconnects.Load() {
		t.Errorf("connects %d disconnects %d", m.connects.Load(), m.disconnects.Load())
	}

	// Without the module: the real tables still work (the trigger reads
	// the virtual table, so w fails; log does not).
	db = openUnchecked(t, fileDSN(path)+"?cdc=on")
	defer db.Close()
	s := stream(t, db, ChangeOptions{})
	if _, err := db.Exec("INSERT INTO log(s) VALUES (7)"); err != nil {
		t.Fatalf("a real table of a database whose virtual table's module is missing: %v", err)
	}
	if ch := next(t, s, 1); ch[0].Table != "log" {
		t.Errorf("change: %s", describeChange(ch[0]))
	}
	if _, err := db.Exec("INSERT INTO w VALUES (2)"); err == nil || !strings.Contains(err.Error(), "no such module") {
		t.Errorf("the trigger reading the virtual table without its module: %v", err)
	}
	// Whole-database operations need no module.
	checkIntegrity(t, db)
	dir := filepath.Dir(path)
	for _, q := range []string{"VACUUM", "VACUUM INTO '" + filepath.Join(dir, "into.db") + "'"} {
		if _, err := db.Exec(q); err != nil {
			t.Errorf("%s without the module: %v", q, err)
		}
	}
	if err := Backup(context.Background(), db, "main", filepath.Join(dir, "bak.db"), nil); err != nil {
		t.Errorf("Backup without the module: %v", err)
	}
	if _, err := Serialize(context.Background(), db, "main"); err != nil {
		t.Errorf("Serialize without the module: %v", err)
	}
	cp := openUnchecked(t, fileDSN(filepath.Join(dir, "into.db")), WithModule("wide", m))
	defer cp.Close()
	if got := r24Ints(t, cp, "SELECT s FROM vv"); !slices.Equal(got, []int64{66}) {
		t.Errorf("the VACUUM INTO copy, with the module: %v", got)
	}
}

// TestReview24NativeClose: a native Conn closed with two scans of its
// virtual table open (one nested in the other's rows): the cursors are
// closed, the table disconnected, the rows report the close; a connect
// hook may already use the module.
func TestReview24NativeClose(t *testing.T) {
	ctx := context.Background()
	m := &r24Module{rows: r24Rows(100)}
	hook := func(ctx context.Context, c *Conn) error {
		var n int64
		return c.QueryRow(ctx, "SELECT count(*) FROM probe").Scan(&n)
	}
	c, err := OpenConn(ctx, ":memory:", WithModule("probe", m), WithConnectHook(hook))
	if err != nil {
		t.Fatal(err)
	}
	r1, err := c.Query(ctx, "SELECT a FROM probe")
	if err != nil {
		t.Fatal(err)
	}
	r1.Next()
	r2, err := c.Query(ctx, "SELECT x.a FROM probe x, probe y")
	if err != nil {
		t.Fatal(err)
	}
	r2.Next()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if r1.Next() || r1.Err() == nil {
		t.Errorf("rows after the Conn closed: Next true or no Err (%v)", r1.Err())
	}
	r2.Close()
	if o, cl := m.opens.Load(), m.closes.Load(); o != cl || o < 3 {
		t.Errorf("opens %d closes %d", o, cl)
	}
	if cn, dn := m.connects.Load(), m.disconnects.Load(); cn != dn || cn == 0 {
		t.Errorf("connects %d disconnects %d", cn, dn)
	}
}

// TestReview24CacheEviction: with a statement cache of one, scans of the
// virtual table stay open while other statements evict theirs; IN (...)
// restarts Filter once per value on one cursor.
func TestReview24CacheEviction(t *testing.T) {
	ctx := context.Background()
	sm := &sliceModule{rows: []sliceRow{{1, "a", 1, nil}, {2, "b", 2, nil}, {3, "c", 3, nil}}}
	c, err := OpenConn(ctx, ":memory:", WithModule("rows", sm), WithStatementCacheSize(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Exec(ctx, "CREATE VIRTUAL TABLE p USING rows()"); err != nil {
		t.Fatal(err)
	}
	var open []*Rows
	for i := range 20 {
		r, err := c.Query(ctx, fmt.Sprintf("SELECT id FROM p WHERE %d >= 0 ORDER BY id", i))
		if err != nil {
			t.Fatal(err)
		}
		if !r.Next() {
			t.Fatalf("query %d: no row: %v", i, r.Err())
		}
		open = append(open, r)
	}
	for i, r := range open {
		n := 1
		for r.Next() {
			n++
		}
		if r.Err() != nil || n != 3 {
			t.Errorf("rows %d: %d rows, %v", i, n, r.Err())
		}
		r.Close()
	}
	l0 := sm.lookups.Load()
	var ids []int64
	r, err := c.Query(ctx, "SELECT id FROM p WHERE id IN (3, 1, 7) ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var id int64
		r.Scan(&id)
		ids = append(ids, id)
	}
	if r.Err() != nil || !slices.Equal(ids, []int64{1, 3}) {
		t.Errorf("IN: %v %v", ids, r.Err())
	}
	if d := sm.lookups.Load() - l0; d != 3 {
		t.Errorf("IN (3, 1, 7): %d lookups, want 3", d)
	}
	if o, cl := sm.opens.Load(), sm.closes.Load(); o != cl {
		t.Errorf("opens %d closes %d", o, cl)
	}
}

// TestReview24IdxNumRange: IdxNum is a Go int "passed to Filter"; SQLite's
// idxNum is a 32-bit int, so a value out of its range must either reach
// Filter unchanged or fail the statement, not arrive silently truncated.
func TestReview24IdxNumRange(t *testing.T) {
	const idx = 1<<33 + 5
	m := &r24Module{rows: r24Rows(1)}
	m.bestIndex = func(info *IndexInfo) error {
		info.IdxNum = idx
		return nil
	}
	db := openTestDB(t, "", WithModule("probe", m))
	var n int64
	err := db.QueryRow("SELECT a FROM probe").Scan(&n)
	if err != nil {
		t.Logf("IdxNum %d: %v", idx, err)
		return
	}
	if f := m.lastFilter(); f.idxNum != idx {
		t.Errorf("BestIndex set IdxNum %d; Filter got %d (silently truncated to 32 bits)", idx, f.idxNum)
	}
}

// TestReview24ArgvIndexGap: BestIndex gives only ArgvIndex 2 (no 1). The
// adapter checks ArgvIndex ranges and duplicates with errors that name
// the fault ("want 0, or a place from 1 to N used once", which a gap
// satisfies) but not gaps, which SQLite then refuses with its bare
// "xBestIndex malfunction". The contract does not say places must be
// contiguous: the error should name the ArgvIndex as the others do.
func TestReview24ArgvIndexGap(t *testing.T) {
	m := &r24Module{rows: r24Rows(3)}
	m.bestIndex = func(info *IndexInfo) error {
		for i, c := range info.Constraints {
			if c.Column == 2 && c.Op == IndexEQ && c.Usable {
				info.Usage[i].ArgvIndex = 2
			}
		}
		return nil
	}
	db := openTestDB(t, "", WithModule("probe", m))
	_, err := db.Exec("SELECT a FROM probe WHERE b = 'x' AND c = 1")
	if err == nil {
		if f := m.lastFilter(); len(f.args) != 2 {
			t.Errorf("ArgvIndex 2 only: Filter got %#v", f.args)
		}
	} else if !strings.Contains(err.Error(), "ArgvIndex") {
		t.Errorf("ArgvIndex 2 with no ArgvIndex 1: %v; want an error that names the ArgvIndex gap, as the adapter's other checks do", err)
	}
}

// TestReview24IdxStrNUL: IdxStr is a Go string "passed to Filter"; one
// holding a NUL byte arrives cut at the NUL (it travels as a C string),
// silently.
func TestReview24IdxStrNUL(t *testing.T) {
	m := &r24Module{rows: r24Rows(1)}
	m.bestIndex = func(info *IndexInfo) error {
		info.IdxStr = "a\x00b"
		return nil
	}
	db := openTestDB(t, "", WithModule("probe", m))
	var n int64
	if err := db.QueryRow("SELECT a FROM probe").Scan(&n); err != nil {
		t.Logf("IdxStr with a NUL: %v", err)
		return
	}
	if f := m.lastFilter(); f.idxStr != "a\x00b" {
		t.Errorf("BestIndex set IdxStr %q; Filter got %q (cut at the NUL, silently)", "a\x00b", f.idxStr)
	}
}

// TestReview24RebaseWithVirtualTable: a BEGIN CONCURRENT transaction that
// conflicts on a page and is rebased (schema facts read, net changes
// replayed) in a database whose schema holds a virtual table, in a pool
// with the module (the transaction wrote rows read from it) and in one
// without it.
func TestReview24RebaseWithVirtualTable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "r.db")
	m := &r24Module{rows: r24Rows(3)}
	for _, withModule := range []bool{true, false} {
		var opts []Option
		if withModule {
			opts = append(opts, WithModule("probe", m))
		}
		db := openUnchecked(t, fileDSN(path), opts...)
		if withModule {
			mustExec(t, db, "CREATE VIRTUAL TABLE v USING probe(); CREATE TABLE w(id INTEGER PRIMARY KEY, name TEXT, pad BLOB); CREATE TABLE other(b)")
		}
		base := int64(100)
		if !withModule {
			base = 200
		}
		c1, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		mustExecConn(t, c1, "BEGIN CONCURRENT")
		// Both allocate pages, in different tables: no read conflicts, a
		// rebase.
		ins := fmt.Sprintf("INSERT INTO w VALUES (%d, 'mine', randomblob(9000))", base)
		if withModule {
			ins = fmt.Sprintf("INSERT INTO w SELECT a + %d, b, randomblob(9000) FROM v", base)
		}
		mustExecConn(t, c1, ins)
		mustExec(t, db, "INSERT INTO other VALUES (randomblob(9000))")
		if _, err := c1.ExecContext(ctx, "COMMIT"); err != nil {
			t.Errorf("module %v: COMMIT of a rebased BEGIN CONCURRENT: %v", withModule, err)
			c1.ExecContext(ctx, "ROLLBACK")
		}
		c1.Close()
		var n int64
		if err := db.QueryRow("SELECT count(*) FROM w WHERE id >= ? AND id < ?", base, base+100).Scan(&n); err != nil {
			t.Fatal(err)
		}
		want := int64(3)
		if !withModule {
			want = 1
		}
		if n != want {
			t.Errorf("module %v: %d rows, want %d", withModule, n, want)
		}
		var st string
		if err := db.QueryRow("PRAGMA libsql_stats").Scan(&st); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(st, `"rebased":1`) {
			t.Errorf("module %v: no rebase happened: %s", withModule, st)
		}
		checkIntegrity(t, db)
		db.Close()
	}
}

// TestReview24SchemaChangeReconnect: another connection's schema changes
// make a connection reconnect its virtual tables ("and again after a
// schema change"): every Connect is matched by a Disconnect, and handles
// do not pile up over many schema changes.
func TestReview24SchemaChangeReconnect(t *testing.T) {
	ctx := context.Background()
	m := &r24Module{rows: r24Rows(2)}
	db := openUnchecked(t, fileDSN(filepath.Join(t.TempDir(), "sc.db")), WithModule("probe", m))
	mustExec(t, db, "CREATE VIRTUAL TABLE v USING probe()")
	c1, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	read := func() {
		var n int64
		if err := c1.QueryRowContext(ctx, "SELECT count(*) FROM v").Scan(&n); err != nil || n != 2 {
			t.Fatalf("%d %v", n, err)
		}
	}
	read()
	before := r24LiveHandles(t)
	c0 := m.connects.Load()
	for i := range 200 {
		mustExecConn(t, c2, fmt.Sprintf("CREATE TABLE s%d(x)", i))
		read()
	}
	after := r24LiveHandles(t)
	t.Logf("Connect calls over 200 schema changes: %d; live handles %d -> %d", m.connects.Load()-c0, before, after)
	if after > before+50 {
		t.Errorf("live handles grew from %d to %d over 200 schema changes", before, after)
	}
	if live := m.connects.Load() - m.disconnects.Load(); live > 3 {
		t.Errorf("%d tables connected and not disconnected while in use by 2 connections", live)
	}
	c1.Close()
	c2.Close()
	db.Close()
	if cn, dn := m.connects.Load(), m.disconnects.Load(); cn != dn {
		t.Errorf("connects %d disconnects %d", cn, dn)
	}
}

// TestReview24CreateRolledBack: CREATE VIRTUAL TABLE rolled back, one over
// an existing name, IF NOT EXISTS on an existing table, and one in a
// read-only connection: every Connect is matched by a Disconnect.
func TestReview24CreateRolledBack(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rb.db")
	m := &r24Module{rows: r24Rows(2)}
	db := openUnchecked(t, fileDSN(path), WithModule("probe", m))
	mustExec(t, db, "CREATE VIRTUAL TABLE v USING probe(); CREATE TABLE real(x)")
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustExecConn(t, c, "BEGIN")
	mustExecConn(t, c, "CREATE VIRTUAL TABLE v2 USING probe(2)")
	mustExecConn(t, c, "ROLLBACK")
	if _, err := c.ExecContext(ctx, "SELECT * FROM v2"); err == nil {
		t.Error("v2 exists after ROLLBACK")
	}
	for _, q := range []string{"CREATE VIRTUAL TABLE real USING probe()", "CREATE VIRTUAL TABLE v USING probe()"} {
		if _, err := c.ExecContext(ctx, q); err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Errorf("%s: %v", q, err)
		}
	}
	mustExecConn(t, c, "CREATE VIRTUAL TABLE IF NOT EXISTS v USING probe(other)")
	c.Close()
	db.Close()
	if cn, dn := m.connects.Load(), m.disconnects.Load(); cn != dn {
		t.Errorf("connects %d disconnects %d", cn, dn)
	}
	ro := openUnchecked(t, fileDSN(path)+"?mode=ro", WithModule("probe", m))
	if _, err := ro.Exec("CREATE VIRTUAL TABLE v3 USING probe()"); err == nil {
		t.Error("CREATE VIRTUAL TABLE in a read-only database succeeded")
	}
	if got := r24Ints(t, ro, "SELECT a FROM v"); !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("read-only: %v", got)
	}
	ro.Close()
	if cn, dn := m.connects.Load(), m.disconnects.Load(); cn != dn {
		t.Errorf("read-only: connects %d disconnects %d", cn, dn)
	}
}
