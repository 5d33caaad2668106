package libsql

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/golibsql/libsql/internal/capi"
)

// Module is a virtual table written in Go (https://sqlite.org/vtab.html):
// Go data as a table, CREATE VIRTUAL TABLE t USING name(args), or used by
// its name alone (an eponymous table, FROM name), or as a table-valued
// function, FROM name(arg, ...), whose arguments fill its HIDDEN columns.
// [WithModule] registers it on every connection. A table is read-only
// unless it is a [VirtualTableWriter]; [VirtualTableReplacer],
// [VirtualTableTx], [VirtualTableSavepointer] and [VirtualTableDestroyer]
// are its optional OR REPLACE, transaction, savepoint and DROP TABLE
// methods. A table declared WITHOUT
// ROWID must have a one-column PRIMARY KEY: SQLite's rule for virtual
// tables that can be written, as any table of a Go module may be.
//
// Connect runs on each connection that first uses a table of the module
// (and again after a schema change), with the module's name, the schema,
// the table's name and, for CREATE VIRTUAL TABLE, its arguments, as
// written. It returns the CREATE TABLE statement that declares the
// table's columns (its table name is ignored) and the connection's
// [VirtualTable]. The calls of one connection never overlap; those of
// different connections may run at once.
type Module interface {
	Connect(args []string) (declaration string, t VirtualTable, err error)
}

// VirtualTable is one connection's side of a virtual table. BestIndex
// answers SQLite's question of how to scan it for a statement's
// constraints and ORDER BY (see [IndexInfo]); Open starts a scan;
// Disconnect ends the table's use on the connection.
type VirtualTable interface {
	BestIndex(info *IndexInfo) error
	Open() (VirtualCursor, error)
	Disconnect() error
}

// VirtualTableWriter is a [VirtualTable] that INSERT, UPDATE and DELETE
// write (SQLite's xUpdate). A rowid is an int64 (a new one given as a real
// or a text is converted, as for an INTEGER PRIMARY KEY, or the statement
// fails with a datatype mismatch); in a table declared WITHOUT ROWID, it
// is the value of its PRIMARY KEY column instead. values are the declared
// columns' values in order (int64, float64, string, []byte or nil; HIDDEN
// columns included), valid after the call.
//
// Insert adds a row; rowid is the one the statement gave, or nil for the
// table to choose, and Insert returns the row's rowid. WITHOUT ROWID,
// rowid is always nil, the key is among values, and the result is
// ignored. Update changes the row oldRowid, giving it rowid (the same
// unless the statement set it) and values. Delete removes the row.
//
// An error fails the statement with its text and is the cause of its
// *Error; one that wraps [ErrConstraint] is a constraint violation
// (errors.Is(err, ErrConstraint)), which follows the statement's ON
// CONFLICT: OR IGNORE skips the row, OR FAIL stops the statement and keeps
// its rows before, OR ROLLBACK ends the transaction, and OR ABORT (the
// default) undoes the statement, as does OR REPLACE unless the table is a
// [VirtualTableReplacer], which SQLite leaves replacing to. Undoing takes a [VirtualTableSavepointer] (or, outside a
// transaction, a [VirtualTableTx]): without it, the rows a failed
// statement wrote stay. Writes to a virtual table are not in the change
// data capture stream, and a BEGIN CONCURRENT transaction that made any
// conflicts where it would be rebased.
type VirtualTableWriter interface {
	VirtualTable
	Insert(rowid any, values []any) (int64, error)
	Update(oldRowid, rowid any, values []any) error
	Delete(rowid any) error
}

// VirtualTableReplacer is a [VirtualTableWriter] that carries out OR
// REPLACE, which SQLite leaves to a virtual table: an INSERT or UPDATE
// whose conflict resolution is REPLACE (INSERT OR REPLACE, REPLACE INTO,
// UPDATE OR REPLACE) calls Replace instead of Insert or Update, with
// their arguments (oldRowid nil for an INSERT). Replace writes the row as
// they would, first deleting every row it conflicts with (the row that
// has its rowid or key, rows with its values in the table's unique
// columns), and returns an inserted row's rowid (ignored for an UPDATE
// and WITHOUT ROWID). An error wrapping [ErrConstraint], a conflict it
// cannot resolve, fails the statement as OR ABORT does. A table that is
// not a VirtualTableReplacer gets Insert and Update for OR REPLACE too,
// and its constraint errors undo the statement.
type VirtualTableReplacer interface {
	Replace(oldRowid, rowid any, values []any) (int64, error)
}

// VirtualTableTx is a [VirtualTable] that takes part in the transactions
// that write it: Begin when a transaction first writes it; at COMMIT, Sync
// (of every such table, before the database commits: an error rolls the
// transaction back) then, once the database committed, Commit; Rollback
// when the transaction rolls back. The errors of Commit and Rollback are
// dropped, as SQLite drops them: nothing can be undone by then.
type VirtualTableTx interface {
	Begin() error
	Sync() error
	Commit() error
	Rollback() error
}

// VirtualTableSavepointer is a [VirtualTable] that follows the savepoints
// of the transactions that write it, the one SQLite opens around each
// writing statement included: Savepoint(n) opens level n, Release(n)
// keeps what was done since it opened and RollbackTo(n) undoes it.
type VirtualTableSavepointer interface {
	Savepoint(n int) error
	Release(n int) error
	RollbackTo(n int) error
}

// VirtualTableDestroyer is a [VirtualTable] with storage of its own to
// delete when the table is dropped: DROP TABLE calls Destroy instead of
// Disconnect.
type VirtualTableDestroyer interface {
	Destroy() error
}

// VirtualCursor is one scan of a [VirtualTable]. Filter starts (or
// restarts) it with the plan BestIndex chose and the values of the
// constraints it asked for, in the order of their ArgvIndex; Next moves
// to the next row; EOF reports the end; Column sets the value of column
// i of the current row through f's Result methods (as a [RawFunction]
// does; f is valid during the call only); Rowid returns the row's id;
// Close ends the scan. An error (or a panic) fails the statement with its
// text, and is the cause of its *Error; Close's is dropped, as SQLite
// drops it.
type VirtualCursor interface {
	Filter(idxNum int, idxStr string, args []any) error
	Next() error
	EOF() bool
	Column(f *FuncContext, i int) error
	Rowid() (int64, error)
	Close() error
}

// IndexOp is the operator of an [IndexConstraint] (SQLite's
// SQLITE_INDEX_CONSTRAINT_*).
type IndexOp uint8

// The operators.
const (
	IndexEQ        IndexOp = 2
	IndexGT        IndexOp = 4
	IndexLE        IndexOp = 8
	IndexLT        IndexOp = 16
	IndexGE        IndexOp = 32
	IndexMatch     IndexOp = 64
	IndexLike      IndexOp = 65
	IndexGlob      IndexOp = 66
	IndexRegexp    IndexOp = 67
	IndexNE        IndexOp = 68
	IndexIsNot     IndexOp = 69
	IndexIsNotNull IndexOp = 70
	IndexIsNull    IndexOp = 71
	IndexIs        IndexOp = 72
	IndexLimit     IndexOp = 73
	IndexOffset    IndexOp = 74
)

// IndexConstraint is a constraint SQLite offers BestIndex: column
// (-1 for the rowid) Op value, where the value is known when Filter runs
// if Usable.
//
// Collation is the collating sequence the comparison uses ("BINARY",
// "NOCASE", "RTRIM" or a registered one), which a table that checks the
// constraint itself (Omit) must follow. In says the constraint is an IN
// list (Op is IndexEQ) whose values Filter can take at once
// ([IndexConstraintUsage].InList). Value is the right-hand side when
// SQLite knows it while planning (a literal: int64, float64, string,
// []byte or nil), and HasValue says whether it does.
type IndexConstraint struct {
	Column    int
	Op        IndexOp
	Usable    bool
	Collation string
	In        bool
	Value     any
	HasValue  bool
}

// IndexOrderBy is a term of the statement's ORDER BY.
type IndexOrderBy struct {
	Column int
	Desc   bool
}

// maxInListArgv is the last Filter argument place where SQLite passes an
// IN list whole.
const maxInListArgv = 32

// IndexConstraintUsage is BestIndex's use of a constraint: ArgvIndex,
// from 1, is its value's place in Filter's args (0: not passed; the
// places used must run from 1 without a gap); Omit tells SQLite not to
// check the constraint again on the rows returned. InList, for an IN
// constraint ([IndexConstraint].In) with an ArgvIndex from 1 to 32,
// passes all its values to one Filter, as a []any in ascending order
// without duplicates, instead of running Filter once per value.
type IndexConstraintUsage struct {
	ArgvIndex int
	Omit      bool
	InList    bool
}

// IndexInfo is BestIndex's question and answer (sqlite3_index_info).
// SQLite fills Constraints, OrderBy, ColUsed and Distinct, and the
// estimates with its defaults; BestIndex sets Usage (one per
// constraint), IdxNum (a 32-bit int) and IdxStr (no NUL byte), both
// passed to Filter, OrderByConsumed (the rows come in OrderBy's order,
// or as Distinct allows), EstimatedCost and EstimatedRows (SQLite picks
// the cheapest plan), and Unique (at most one row).
//
// Distinct (sqlite3_vtab_distinct) says what the statement needs of the
// rows when OrderByConsumed is set: 0 every row, in OrderBy's order; 1
// (GROUP BY) every row, those with equal OrderBy columns together, in any
// order of the groups; 2 (DISTINCT) rows in any order, of which those
// equal in every column of ColUsed may come once; 3 (DISTINCT and ORDER
// BY) the same, in OrderBy's order. Dropping such duplicates is optional,
// and NULLs count as equal.
type IndexInfo struct {
	Constraints []IndexConstraint
	OrderBy     []IndexOrderBy
	ColUsed     uint64 // bit i: column i is used (bit 63: a column from 63 on)
	Distinct    int

	Usage           []IndexConstraintUsage
	IdxNum          int
	IdxStr          string
	OrderByConsumed bool
	EstimatedCost   float64
	EstimatedRows   int64
	Unique          bool
}

// ErrIndexUnusable, returned by BestIndex (or wrapping its error),
// tells SQLite that the constraints it offered do not make a plan (a
// table-valued function's required argument missing): SQLite then tries
// another combination, or fails the statement ("no query solution") if
// none is usable. It is not [ErrConstraint]: BestIndex returning that
// fails the statement.
var ErrIndexUnusable = capi.ErrConstraint

// WithModule registers m as the virtual table module name on every
// connection of the connector, before the connection runs SQL.
func WithModule(name string, m Module) Option {
	return func(c *config) error {
		if err := checkFuncName(name); err != nil {
			return fmt.Errorf("libsql: WithModule %q: %w", name, err)
		}
		if m == nil {
			return fmt.Errorf("libsql: WithModule %q: the module is nil", name)
		}
		c.modules = append(c.modules, moduleDef{name, m})
		return nil
	}
}

type moduleDef struct {
	name string
	m    Module
}

// registerModules registers the config's modules on the connection.
func (c *conn) registerModules() error {
	for _, d := range c.cfg.modules {
		m := d.m
		err := c.cc.CreateModule(d.name, func(args []string) (string, capi.VTab, error) {
			decl, t, err := m.Connect(args)
			if err != nil {
				if t != nil {
					t.Disconnect()
				}
				return "", nil, err
			}
			if t == nil {
				return "", nil, errors.New("Connect returned no table")
			}
			a := &vtabAdapter{c: c, t: t, name: args[2]}
			if w, ok := t.(VirtualTableWriter); ok {
				return decl, &writerAdapter{a, w}, nil
			}
			return decl, a, nil
		})
		if err != nil {
			return fmt.Errorf("libsql: register virtual table module %q: %w", d.name, convertError(err))
		}
	}
	return nil
}

// vtabAdapter and cursorAdapter turn a Go module's tables and cursors
// into capi's.
type vtabAdapter struct {
	c    *conn
	t    VirtualTable
	name string // the table's
}

func (a *vtabAdapter) BestIndex(x *capi.IndexInfo) error {
	info := &IndexInfo{
		Constraints:   make([]IndexConstraint, x.NConstraint()),
		OrderBy:       make([]IndexOrderBy, x.NOrderBy()),
		ColUsed:       x.ColUsed(),
		Distinct:      x.Distinct(),
		Usage:         make([]IndexConstraintUsage, x.NConstraint()),
		EstimatedCost: x.EstimatedCost(),
		EstimatedRows: x.EstimatedRows(),
	}
	for i := range info.Constraints {
		col, op, usable := x.Constraint(i)
		c := IndexConstraint{Column: col, Op: IndexOp(op), Usable: usable, Collation: x.Collation(i), In: x.IsIn(i)}
		if typ, iv, fv, b, ok := x.RHSValue(i); ok {
			c.Value, c.HasValue = goValue(typ, iv, fv, b), true
		}
		info.Constraints[i] = c
	}
	for i := range info.OrderBy {
		col, desc := x.OrderBy(i)
		info.OrderBy[i] = IndexOrderBy{Column: col, Desc: desc}
	}
	if err := a.t.BestIndex(info); err != nil {
		return err
	}
	if len(info.Usage) != len(info.Constraints) {
		return fmt.Errorf("BestIndex left %d Usage entries for %d constraints", len(info.Usage), len(info.Constraints))
	}
	used := make([]bool, len(info.Constraints)+1)
	places := 0
	for i, u := range info.Usage {
		if u.ArgvIndex < 0 || u.ArgvIndex > len(info.Constraints) || u.ArgvIndex > 0 && used[u.ArgvIndex] {
			return fmt.Errorf("BestIndex gave constraint %d ArgvIndex %d: want 0, or a place from 1 to %d used once", i, u.ArgvIndex, len(info.Constraints))
		}
		if u.ArgvIndex > 0 && !info.Constraints[i].Usable {
			return fmt.Errorf("BestIndex used constraint %d, which is not usable", i)
		}
		if u.InList && (u.ArgvIndex == 0 || !info.Constraints[i].In) {
			return fmt.Errorf("BestIndex asked for constraint %d's values as a list: it needs an ArgvIndex and an IN constraint", i)
		}
		if u.InList && u.ArgvIndex > maxInListArgv {
			// SQLite keeps the request in a 32-bit mask by argument place:
			// it would run Filter once per value, and keep OrderByConsumed.
			return fmt.Errorf("BestIndex asked for constraint %d's values as a list at argument %d: SQLite passes lists only at places 1 to %d", i, u.ArgvIndex, maxInListArgv)
		}
		if u.ArgvIndex > 0 {
			used[u.ArgvIndex] = true
			places++
		}
		x.SetUsage(i, u.ArgvIndex, u.Omit)
		if u.InList {
			x.SetIn(i)
		}
	}
	for p := 1; p <= places; p++ {
		if !used[p] {
			return fmt.Errorf("BestIndex's ArgvIndex places skip %d: SQLite wants them to run from 1 to %d", p, places)
		}
	}
	flags := 0
	if info.Unique {
		flags = capi.INDEX_SCAN_UNIQUE
	}
	return x.SetPlan(info.IdxNum, info.IdxStr, info.OrderByConsumed, info.EstimatedCost, info.EstimatedRows, flags)
}

func (a *vtabAdapter) Open() (capi.VTabCursor, error) {
	cur, err := a.t.Open()
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return nil, errors.New("Open returned no cursor")
	}
	return &cursorAdapter{c: a.c, cur: cur}, nil
}

func (a *vtabAdapter) Disconnect() error { return a.t.Disconnect() }

// writerAdapter is the adapter of a table that is a VirtualTableWriter;
// capi refuses writes to one that is not.
type writerAdapter struct {
	*vtabAdapter
	w VirtualTableWriter
}

// Update implements capi.VTabUpdater: args is xUpdate's argv.
func (a *writerAdapter) Update(x *capi.Context, withoutRowid, replace bool) (rowid int64, code int32, err error) {
	w := a.w
	if ct := a.c.conc; ct != nil && ct.unreplayable == "" {
		ct.unreplayable = "to the virtual table " + a.name
	}
	vals := funcArgs(x, nil)
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	if len(args) > 1 && args[1] != nil && !withoutRowid {
		// SQLite converts an INSERT's new rowid, but not an UPDATE's.
		r, ok := rowidValue(args[1])
		if !ok {
			return 0, capi.MISMATCH, fmt.Errorf("datatype mismatch: new rowid %#v of table %s is not an integer", args[1], a.name)
		}
		args[1] = r
	}
	if len(args) > 1 && args[0] != nil && args[1] == nil && !withoutRowid {
		return 0, capi.MISMATCH, fmt.Errorf("datatype mismatch: new rowid of table %s is NULL", a.name)
	}
	r, replacer := w.(VirtualTableReplacer)
	switch {
	case len(args) == 1:
		err = w.Delete(args[0])
	case replace && replacer:
		rowid, err = r.Replace(args[0], args[1], args[2:])
	case args[0] == nil:
		rowid, err = w.Insert(args[1], args[2:])
	default:
		err = w.Update(args[0], args[1], args[2:])
	}
	code = capi.ERROR
	if errors.Is(err, ErrConstraint) {
		code = capi.CONSTRAINT
	}
	return rowid, code, err
}

// rowidValue is v as a rowid, converted as SQLite converts a value stored
// into an INTEGER PRIMARY KEY: an integer, a real or a text that is an
// integer exactly; ok is false for anything else.
func rowidValue(v any) (int64, bool) {
	switch v := v.(type) {
	case int64:
		return v, true
	case float64:
		if v == math.Trunc(v) && v >= math.MinInt64 && v < math.MaxInt64 {
			return int64(v), true
		}
	case string:
		s := strings.TrimSpace(v)
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, true
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "xXnN") {
			return rowidValue(f)
		}
	}
	return 0, false
}

// The transaction and savepoint methods do nothing for a table without
// them.
func (a *vtabAdapter) Begin() error    { return a.tx(VirtualTableTx.Begin) }
func (a *vtabAdapter) Sync() error     { return a.tx(VirtualTableTx.Sync) }
func (a *vtabAdapter) Commit() error   { return a.tx(VirtualTableTx.Commit) }
func (a *vtabAdapter) Rollback() error { return a.tx(VirtualTableTx.Rollback) }

func (a *vtabAdapter) tx(call func(VirtualTableTx) error) error {
	if t, ok := a.t.(VirtualTableTx); ok {
		return call(t)
	}
	return nil
}

func (a *vtabAdapter) Savepoint(n int) error {
	return a.savepoint(VirtualTableSavepointer.Savepoint, n)
}
func (a *vtabAdapter) Release(n int) error { return a.savepoint(VirtualTableSavepointer.Release, n) }
func (a *vtabAdapter) RollbackTo(n int) error {
	return a.savepoint(VirtualTableSavepointer.RollbackTo, n)
}

func (a *vtabAdapter) savepoint(call func(VirtualTableSavepointer, int) error, n int) error {
	if s, ok := a.t.(VirtualTableSavepointer); ok {
		return call(s, n)
	}
	return nil
}

// Destroy implements capi.VTabDestroyer.
func (a *vtabAdapter) Destroy() error {
	if d, ok := a.t.(VirtualTableDestroyer); ok {
		return d.Destroy()
	}
	return a.t.Disconnect()
}

type cursorAdapter struct {
	c   *conn
	cur VirtualCursor
}

func (a *cursorAdapter) Filter(idxNum int, idxStr string, x *capi.Context) error {
	vals := funcArgs(x, nil)
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
		if v != nil {
			continue
		}
		list := []any{}
		isList, err := x.ArgList(i, func(typ int32, iv int64, fv float64, b []byte) {
			list = append(list, goValue(typ, iv, fv, b))
		})
		if err != nil {
			return fmt.Errorf("reading the IN list of argument %d: %w", i+1, err)
		}
		if isList {
			args[i] = list
		}
	}
	return a.cur.Filter(idxNum, idxStr, args)
}

func (a *cursorAdapter) Next() error { return a.cur.Next() }
func (a *cursorAdapter) EOF() bool   { return a.cur.EOF() }

func (a *cursorAdapter) Column(x *capi.Context, i int) error {
	f := &FuncContext{x: x, c: a.c, seq: x.Seq()}
	return a.cur.Column(f, i)
}

func (a *cursorAdapter) Rowid() (int64, error) { return a.cur.Rowid() }
func (a *cursorAdapter) Close() error          { return a.cur.Close() }
