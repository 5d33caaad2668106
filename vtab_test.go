package libsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// seriesModule is a table-valued function series(start, stop[, step]):
// the integers from start to stop.
type seriesModule struct{}

func (seriesModule) Connect(args []string) (string, VirtualTable, error) {
	return "CREATE TABLE x(value INTEGER, start HIDDEN, stop HIDDEN, step HIDDEN)", seriesTable{}, nil
}

type seriesTable struct{}

// BestIndex passes start, stop and step (columns 1 to 3) as Filter's
// arguments 1 to 3; idxNum's bits say which came. Without start and stop
// the plan is unusable.
func (seriesTable) BestIndex(info *IndexInfo) error {
	idx := 0
	for i, c := range info.Constraints {
		if c.Column < 1 || c.Op != IndexEQ {
			continue
		}
		if !c.Usable {
			return ErrIndexUnusable
		}
		info.Usage[i] = IndexConstraintUsage{ArgvIndex: c.Column, Omit: true}
		idx |= 1 << (c.Column - 1)
	}
	if idx&3 != 3 {
		return ErrIndexUnusable
	}
	info.IdxNum = idx
	info.EstimatedCost = 10
	if len(info.OrderBy) == 1 && info.OrderBy[0].Column == 0 && !info.OrderBy[0].Desc {
		info.OrderByConsumed = true
	}
	return nil
}

func (seriesTable) Open() (VirtualCursor, error) { return &seriesCursor{}, nil }
func (seriesTable) Disconnect() error            { return nil }

type seriesCursor struct{ cur, stop, step, start int64 }

func (c *seriesCursor) Filter(idxNum int, _ string, args []any) error {
	c.start, c.stop, c.step = args[0].(int64), args[1].(int64), 1
	if idxNum&4 != 0 {
		c.step = args[2].(int64)
		if c.step <= 0 {
			return fmt.Errorf("series: step %d must be positive", c.step)
		}
	}
	c.cur = c.start
	return nil
}
func (c *seriesCursor) Next() error { c.cur += c.step; return nil }
func (c *seriesCursor) EOF() bool   { return c.cur > c.stop }
func (c *seriesCursor) Column(f *FuncContext, i int) error {
	switch i {
	case 0:
		f.ResultInt64(c.cur)
	case 1:
		f.ResultInt64(c.start)
	case 2:
		f.ResultInt64(c.stop)
	case 3:
		f.ResultInt64(c.step)
	}
	return nil
}
func (c *seriesCursor) Rowid() (int64, error) { return c.cur, nil }
func (c *seriesCursor) Close() error          { return nil }

// sliceModule is CREATE VIRTUAL TABLE t USING rows(name, ...): a table
// (id, name, score, data) over rows kept in Go; an id = ? constraint looks
// one row up. It counts its opens and closes and what Filter got.
type sliceModule struct {
	rows                         []sliceRow
	opens, closes, disconnects   atomic.Int64
	lookups                      atomic.Int64
	failFilter, panicColumn, bad atomic.Bool
}

var errUnreachable = errors.New("the source is unreachable")

type sliceRow struct {
	id    int64
	name  string
	score float64
	data  []byte
}

func (m *sliceModule) Connect(args []string) (string, VirtualTable, error) {
	if len(args) > 3 && args[3] == "'refuse'" {
		return "", nil, errors.New("rows: refused by its arguments")
	}
	return "CREATE TABLE x(id INTEGER, name TEXT, score REAL, data BLOB)", &sliceTable{m}, nil
}

type sliceTable struct{ m *sliceModule }

func (t *sliceTable) BestIndex(info *IndexInfo) error {
	for i, c := range info.Constraints {
		if c.Column == 0 && c.Op == IndexEQ && c.Usable {
			info.Usage[i] = IndexConstraintUsage{ArgvIndex: 1, Omit: true}
			info.IdxNum, info.IdxStr, info.Unique = 1, "by id", true
			info.EstimatedCost, info.EstimatedRows = 1, 1
			break
		}
	}
	if t.m.bad.Load() && len(info.Usage) > 0 {
		info.Usage[0].ArgvIndex = 7
	}
	return nil
}

func (t *sliceTable) Open() (VirtualCursor, error) {
	t.m.opens.Add(1)
	return &sliceCursor{m: t.m}, nil
}
func (t *sliceTable) Disconnect() error { t.m.disconnects.Add(1); return nil }

type sliceCursor struct {
	m    *sliceModule
	rows []sliceRow
	i    int
}

func (c *sliceCursor) Filter(idxNum int, idxStr string, args []any) error {
	if c.m.failFilter.Load() {
		return fmt.Errorf("rows: %w", errUnreachable)
	}
	c.i, c.rows = 0, c.m.rows
	if idxNum == 1 {
		if idxStr != "by id" {
			return fmt.Errorf("idxStr %q", idxStr)
		}
		c.m.lookups.Add(1)
		c.rows = nil
		if id, ok := args[0].(int64); ok {
			for _, r := range c.m.rows {
				if r.id == id {
					c.rows = []sliceRow{r}
				}
			}
		}
	}
	return nil
}
func (c *sliceCursor) Next() error { c.i++; return nil }
func (c *sliceCursor) EOF() bool   { return c.i >= len(c.rows) }
func (c *sliceCursor) Column(f *FuncContext, i int) error {
	if c.m.panicColumn.Load() {
		panic("column exploded")
	}
	r := c.rows[c.i]
	switch i {
	case 0:
		f.ResultInt64(r.id)
	case 1:
		f.ResultText(r.name)
	case 2:
		f.ResultFloat(r.score)
	case 3:
		if r.data == nil {
			f.ResultNull()
		} else {
			f.ResultBlob(r.data)
		}
	}
	return nil
}
func (c *sliceCursor) Rowid() (int64, error) { return c.rows[c.i].id, nil }
func (c *sliceCursor) Close() error          { c.m.closes.Add(1); return nil }

// TestVirtualTableFunction: a module used as a table-valued function, its
// arguments passed through HIDDEN columns, ORDER BY consumed, joined with
// a real table; a missing argument makes no usable plan; Filter's error
// fails the statement with its text.
func TestVirtualTableFunction(t *testing.T) {
	db := openTestDB(t, "", WithModule("series", seriesModule{}))
	ints := func(query string, args ...any) []int64 {
		t.Helper()
		rows, err := db.Query(query, args...)
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
	if got := ints("SELECT value FROM series(1, 10, 3)"); !slices.Equal(got, []int64{1, 4, 7, 10}) {
		t.Errorf("series(1, 10, 3): %v", got)
	}
	if got := ints("SELECT value FROM series(?, ?) ORDER BY value", 5, 8); !slices.Equal(got, []int64{5, 6, 7, 8}) {
		t.Errorf("series(5, 8): %v", got)
	}
	if got := ints("SELECT count(*) FROM series(1, 100000)"); !slices.Equal(got, []int64{100000}) {
		t.Errorf("count: %v", got)
	}
	mustExec(t, db, "CREATE TABLE w(n INTEGER PRIMARY KEY, word TEXT); INSERT INTO w VALUES (2, 'two'), (3, 'three'), (5, 'five')")
	if got := ints("SELECT w.n FROM series(1, 4) AS s JOIN w ON w.n = s.value"); !slices.Equal(got, []int64{2, 3}) {
		t.Errorf("join: %v", got)
	}
	if _, err := db.Query("SELECT value FROM series(1)"); err == nil || !strings.Contains(err.Error(), "no query solution") {
		t.Errorf("series without stop: %v, want no query solution", err)
	}
	if _, err := db.Query("SELECT value FROM series(1, 5, 0)"); err == nil || !strings.Contains(err.Error(), "step 0 must be positive") {
		t.Errorf("series with step 0: %v", err)
	}
	if _, err := db.Exec("INSERT INTO series(value) VALUES (1)"); err == nil || !strings.Contains(err.Error(), "may not be modified") {
		t.Errorf("INSERT into a read-only virtual table: %v", err)
	}
	// Read inside BEGIN CONCURRENT and written to a real table.
	err := RetryTx(context.Background(), db, nil, func(tx *sql.Tx) error {
		_, err := tx.Exec("INSERT INTO w SELECT value + 10, 'x' FROM series(1, 3)")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := ints("SELECT n FROM w WHERE n > 10"); !slices.Equal(got, []int64{11, 12, 13}) {
		t.Errorf("rows written from the series in a concurrent transaction: %v", got)
	}
}

// TestVirtualTableCreate: CREATE VIRTUAL TABLE over Go rows in a file
// database, on every connection of the pool and after a reopen; an
// id = ? lookup reaches Filter as its argument; every value type comes
// back; cursors are closed and tables disconnected; errors of Connect,
// Filter, Column (a panic) and a bad BestIndex answer fail statements
// with their text and leave the connection usable.
func TestVirtualTableCreate(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v.db")
	m := &sliceModule{rows: []sliceRow{
		{1, "ada", 1.5, []byte{1, 2}}, {2, "grace", 2.5, nil}, {3, "linus", 3.5, []byte{}},
	}}
	db := openUnchecked(t, fileDSN(path), WithModule("rows", m))
	mustExec(t, db, "CREATE VIRTUAL TABLE people USING rows()")
	var name string
	var score float64
	var data []byte
	if err := db.QueryRow("SELECT name, score, data FROM people WHERE id = ?", 1).Scan(&name, &score, &data); err != nil {
		t.Fatal(err)
	}
	if name != "ada" || score != 1.5 || !slices.Equal(data, []byte{1, 2}) {
		t.Errorf("row 1: %q %v %v", name, score, data)
	}
	if m.lookups.Load() != 1 {
		t.Errorf("the id = ? lookup reached Filter %d times, want 1", m.lookups.Load())
	}
	var n int
	var names string
	if err := db.QueryRow("SELECT count(*), group_concat(name, ',') FROM (SELECT name FROM people ORDER BY id DESC)").Scan(&n, &names); err != nil || n != 3 || names != "linus,grace,ada" {
		t.Errorf("scan: %d %q %v", n, names, err)
	}
	var nulls int
	if err := db.QueryRow("SELECT count(*) FROM people WHERE data IS NULL").Scan(&nulls); err != nil || nulls != 1 {
		t.Errorf("NULL data: %d, %v", nulls, err)
	}
	conns := make([]*sql.Conn, 3)
	for i := range conns {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
		if err := c.QueryRowContext(ctx, "SELECT name FROM people WHERE id = 2").Scan(&name); err != nil || name != "grace" {
			t.Errorf("connection %d: %q, %v", i, name, err)
		}
	}
	for _, c := range conns {
		c.Close()
	}

	if _, err := db.Exec("CREATE VIRTUAL TABLE refused USING rows('refuse')"); err == nil || !strings.Contains(err.Error(), "refused by its arguments") {
		t.Errorf("Connect's error: %v", err)
	}
	m.failFilter.Store(true)
	if _, err := db.Query("SELECT * FROM people"); err == nil || !strings.Contains(err.Error(), "the source is unreachable") || !errors.Is(err, errUnreachable) {
		t.Errorf("Filter's error: %v, want its text and errors.Is to find it", err)
	}
	m.failFilter.Store(false)
	m.panicColumn.Store(true)
	if err := db.QueryRow("SELECT name FROM people").Scan(&name); err == nil || !strings.Contains(err.Error(), "column exploded") {
		t.Errorf("Column's panic: %v", err)
	}
	m.panicColumn.Store(false)
	m.bad.Store(true)
	if _, err := db.Query("SELECT name FROM people WHERE id = 1"); err == nil || !strings.Contains(err.Error(), "ArgvIndex 7") {
		t.Errorf("a bad BestIndex answer: %v", err)
	}
	m.bad.Store(false)
	if err := db.QueryRow("SELECT name FROM people WHERE id = 3").Scan(&name); err != nil || name != "linus" {
		t.Errorf("after the errors: %q, %v", name, err)
	}
	if err := db.QueryRow("SELECT count(*) FROM rows").Scan(&n); err != nil || n != 3 {
		t.Errorf("the module as an eponymous table: %d, %v", n, err)
	}
	mustExec(t, db, "CREATE VIRTUAL TABLE dropped USING rows(); DROP TABLE dropped")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if o, c := m.opens.Load(), m.closes.Load(); o != c || o == 0 {
		t.Errorf("cursors opened %d, closed %d", o, c)
	}
	if m.disconnects.Load() == 0 {
		t.Error("no table was disconnected when the pool closed")
	}

	db2 := openTestDSN(t, fileDSN(path), WithModule("rows", m))
	if err := db2.QueryRow("SELECT name FROM people WHERE id = 1").Scan(&name); err != nil || name != "ada" {
		t.Errorf("after a reopen: %q, %v", name, err)
	}
	db3 := openUnchecked(t, fileDSN(path))
	defer db3.Close()
	if _, err := db3.Query("SELECT * FROM people"); err == nil || !strings.Contains(err.Error(), "no such module: rows") {
		t.Errorf("a pool without the module: %v", err)
	}
	for _, o := range []Option{WithModule("", m), WithModule("x", nil)} {
		if _, err := NewConnector(":memory:", o); err == nil || !strings.Contains(err.Error(), "WithModule") {
			t.Errorf("bad WithModule: %v", err)
		}
	}
}
