package libsql

import (
	"database/sql"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

// numbersTable has the rows id 1..100, name "n<id>". BestIndex takes an
// equality on id (whole, for an IN list, unless noInList) and records
// what SQLite offered; Filter records its arguments.
type numbersTable struct {
	mu       sync.Mutex
	noInList bool
	badList  bool // ask for a list on a constraint that is not IN
	badValue bool // name is a value of a type SQLite has not
	offered  []IndexConstraint
	distinct []int
	filters  [][]any
}

type numbersModule struct{ t *numbersTable }

func (m numbersModule) Connect([]string) (string, VirtualTable, error) {
	return "CREATE TABLE x(id INTEGER, name TEXT)", m.t, nil
}

func (t *numbersTable) BestIndex(info *IndexInfo) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.offered = append(t.offered, info.Constraints...)
	t.distinct = append(t.distinct, info.Distinct)
	info.EstimatedCost = 1e6
	for i, c := range info.Constraints {
		if c.Column == 0 && c.Op == IndexEQ && c.Usable {
			info.Usage[i] = IndexConstraintUsage{ArgvIndex: 1, Omit: true, InList: c.In && !t.noInList || t.badList}
			info.IdxNum = 1
			info.EstimatedCost = 10
			return nil
		}
	}
	return nil
}

func (t *numbersTable) Open() (VirtualCursor, error) { return &numbersCursor{t: t}, nil }
func (t *numbersTable) Disconnect() error            { return nil }

type numbersCursor struct {
	t   *numbersTable
	ids []int64
	i   int
}

func (c *numbersCursor) Filter(idxNum int, _ string, args []any) error {
	c.t.mu.Lock()
	c.t.filters = append(c.t.filters, args)
	c.t.mu.Unlock()
	c.ids, c.i = nil, 0
	switch {
	case idxNum == 0:
		for id := int64(1); id <= 100; id++ {
			c.ids = append(c.ids, id)
		}
	case reflect.TypeOf(args[0]) == reflect.TypeFor[[]any]():
		for _, v := range args[0].([]any) {
			c.ids = append(c.ids, v.(int64))
		}
	default:
		c.ids = []int64{args[0].(int64)}
	}
	return nil
}
func (c *numbersCursor) Next() error { c.i++; return nil }
func (c *numbersCursor) EOF() bool   { return c.i >= len(c.ids) }
func (c *numbersCursor) Column(f *FuncContext, i int) error {
	if i == 0 {
		f.ResultInt64(c.ids[c.i])
	} else if c.t.badValue {
		f.ResultValue(struct{}{})
	} else {
		f.ResultText(fmt.Sprintf("n%d", c.ids[c.i]))
	}
	return nil
}
func (c *numbersCursor) Rowid() (int64, error) { return c.ids[c.i], nil }
func (c *numbersCursor) Close() error          { return nil }

func (t *numbersTable) reset() {
	t.mu.Lock()
	t.offered, t.distinct, t.filters = nil, nil, nil
	t.mu.Unlock()
}

func numbersDB(t *testing.T) (*numbersTable, *sql.Conn) {
	t.Helper()
	tab := &numbersTable{}
	db := openTestDB(t, "", WithModule("numbers", numbersModule{tab}))
	mustExec(t, db, "CREATE VIRTUAL TABLE n USING numbers")
	c := dbConn(t, db)
	return tab, c
}

func ids(t *testing.T, c *sql.Conn, query string, args ...any) string {
	t.Helper()
	rows, err := c.QueryContext(t.Context(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(id))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return strings.Join(out, " ")
}

// An IN constraint offered as one (In) reaches a single Filter as the
// whole list, sorted and without duplicates, when BestIndex asks for it
// (InList); otherwise SQLite runs Filter once per value.
func TestVirtualTableInList(t *testing.T) {
	tab, c := numbersDB(t)
	if got := ids(t, c, "SELECT id FROM n WHERE id IN (9, 3, 5, 3) ORDER BY id"); got != "3 5 9" {
		t.Fatalf("rows %q", got)
	}
	if len(tab.filters) != 1 || !reflect.DeepEqual(tab.filters[0], []any{[]any{int64(3), int64(5), int64(9)}}) {
		t.Fatalf("Filter calls %#v, want one with the list [3 5 9]", tab.filters)
	}
	if !slices.ContainsFunc(tab.offered, func(c IndexConstraint) bool { return c.Column == 0 && c.In }) {
		t.Fatalf("no IN constraint offered: %+v", tab.offered)
	}

	tab.reset()
	mustExecConn(t, c, "CREATE TEMP TABLE empty(x)")
	if got := ids(t, c, "SELECT id FROM n WHERE id IN (SELECT x FROM empty)"); got != "" {
		t.Fatalf("rows %q for an empty list", got)
	}
	if len(tab.filters) != 1 || !reflect.DeepEqual(tab.filters[0], []any{[]any{}}) {
		t.Fatalf("Filter calls %#v for an empty list, want one with []", tab.filters)
	}

	tab.reset()
	tab.noInList = true
	if got := ids(t, c, "SELECT id FROM n WHERE id IN (4, 2) ORDER BY id"); got != "2 4" {
		t.Fatalf("rows %q", got)
	}
	if len(tab.filters) != 2 {
		t.Fatalf("Filter calls %#v without InList, want one per value", tab.filters)
	}

	tab.reset()
	tab.noInList, tab.badList = false, true
	_, err := c.ExecContext(t.Context(), "SELECT id FROM n WHERE id = 4")
	if err == nil || !strings.Contains(err.Error(), "needs an ArgvIndex and an IN constraint") {
		t.Fatalf("InList on an equality: %v", err)
	}
}

// BestIndex sees a literal right-hand side (not a parameter's), the
// constraint's collation, and whether the statement wants distinct or
// grouped rows.
func TestVirtualTableIndexInfoDetails(t *testing.T) {
	tab, c := numbersDB(t)
	if got := ids(t, c, "SELECT id FROM n WHERE id = 7"); got != "7" {
		t.Fatalf("rows %q", got)
	}
	var eq *IndexConstraint
	for i := range tab.offered {
		if tab.offered[i].Column == 0 {
			eq = &tab.offered[i]
		}
	}
	if eq == nil || !eq.HasValue || eq.Value != int64(7) || eq.In || eq.Collation != "BINARY" {
		t.Fatalf("constraint id = 7 offered as %+v", eq)
	}

	tab.reset()
	if got := ids(t, c, "SELECT id FROM n WHERE id = ?", 8); got != "8" {
		t.Fatalf("rows %q", got)
	}
	for _, o := range tab.offered {
		if o.Column == 0 && o.HasValue {
			t.Fatalf("a parameter's value offered while planning: %+v", o)
		}
	}

	tab.reset()
	if got := ids(t, c, "SELECT id FROM n WHERE name = 'N3' COLLATE NOCASE"); got != "3" {
		t.Fatalf("rows %q", got)
	}
	if !slices.ContainsFunc(tab.offered, func(o IndexConstraint) bool {
		return o.Column == 1 && o.Collation == "NOCASE"
	}) {
		t.Fatalf("constraints offered for name = 'N3' COLLATE NOCASE: %+v", tab.offered)
	}

	tab.reset()
	ids(t, c, "SELECT DISTINCT id FROM n")
	if !reflect.DeepEqual(tab.distinct, []int{2}) {
		t.Fatalf("Distinct for SELECT DISTINCT: %v, want [2]", tab.distinct)
	}
	tab.reset()
	ids(t, c, "SELECT id FROM n GROUP BY id")
	if !reflect.DeepEqual(tab.distinct, []int{1}) {
		t.Fatalf("Distinct for GROUP BY: %v, want [1]", tab.distinct)
	}
}

// A column value of a type SQLite has not fails the statement with an
// error naming the virtual table (not an SQL function).
func TestVirtualTableColumnValueType(t *testing.T) {
	tab, c := numbersDB(t)
	tab.badValue = true
	var name string
	err := c.QueryRowContext(t.Context(), "SELECT name FROM n WHERE id = 1").Scan(&name)
	if err == nil || !strings.Contains(err.Error(), "result of virtual table numbers") {
		t.Fatalf("unsupported column value: %v", err)
	}
}
