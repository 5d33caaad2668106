package libsql

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/golibsql/libsql/internal/capi"
)

// colKind says how Next reads a result column.
type colKind uint8

const (
	kindPlain colKind = iota
	kindTime          // declared DATE, DATETIME or TIMESTAMP: text (or integers, with a unix _time_format) read as time.Time
)

// rows are the rows of a query, read from the statement as Next asks.
type rows struct {
	c   *conn
	p   *prepared
	own ownership
	ctx context.Context
	w   *capi.Watch // interrupts a step when ctx ends; stopped by Close

	pending bool // Query stepped to the first row, which Next has not returned
	done    bool // no more rows (or an error was returned)
	closed  bool

	// A statement that writes (INSERT ... RETURNING) goes through change
	// capture when it is done; wrap: it runs in a transaction of its own
	// for durable CDC, committed then.
	write, wrap bool
}

// finish ends a writing statement's capture, and its own transaction if
// it has one: at the end of its rows, or at Close.
func (r *rows) finish(failed bool) error {
	if !r.write {
		return nil
	}
	r.write = false
	c := r.c
	kept := failed && c.cdc.failKept
	c.afterStatement(failed)
	if !r.wrap {
		return nil
	}
	r.wrap = false
	prev := c.cc.Enter(r.ctx)
	defer c.cc.Leave(prev)
	return c.commitWrapped(r.ctx, failed && !kept)
}

var (
	_ driver.Rows                           = (*rows)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*rows)(nil)
	_ driver.RowsColumnTypeScanType         = (*rows)(nil)
	_ driver.RowsColumnTypeNullable         = (*rows)(nil)
	_ driver.RowsColumnTypeLength           = (*rows)(nil)
)

// init computes the column kinds the first time the statement is queried,
// and after SQLite re-prepared it.
func (r *rows) init() {
	p := r.p
	if p.kindsOK && p.s.Reprepares() == p.reprep {
		return
	}
	p.reprep = p.s.Reprepares()
	decls := p.s.ColumnDeclTypes()
	p.kinds = make([]colKind, len(decls))
	for i, d := range decls {
		switch baseType(d) {
		case "DATE", "DATETIME", "TIMESTAMP":
			p.kinds[i] = kindTime
		}
	}
	p.kindsOK = true
}

// Columns returns the column names. database/sql hands the slice to the
// caller, who may modify it, so it is a copy of the statement's cached names
// (the strings themselves are shared).
func (r *rows) Columns() []string {
	if r.p == nil || r.p.s == nil {
		return nil
	}
	return append([]string(nil), r.p.s.ColumnNames()...)
}

// Close ends the query: the statement is reset (finishing an autocommit
// write it made, under the query's context) and handed back.
func (r *rows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.w.Stop()
	c, p := r.c, r.p
	if c.cc.Closed() {
		return nil
	}
	var err error
	if !r.done || r.write {
		// Closing early: reset finishes (or rolls back) the statement.
		prev := c.cc.Enter(r.ctx)
		err = c.mapErr(r.ctx, p.s.Reset())
		c.cc.Leave(prev)
		if ferr := r.finish(err != nil); err == nil {
			err = ferr
		}
	}
	c.dispose(p, r.own)
	return err
}

// Next reads the next row into dest: INTEGER as int64, REAL as float64,
// TEXT as string, BLOB as []byte, NULL as nil; a column declared DATE,
// DATETIME or TIMESTAMP holding a time in a known text layout (or an integer,
// with a unix* _time_format) as time.Time.
func (r *rows) Next(dest []driver.Value) error {
	if r.done || r.closed {
		return io.EOF
	}
	if r.pending {
		r.pending = false
	} else {
		if r.w != nil {
			r.w.Resume()
			if err := r.ctx.Err(); err != nil {
				r.w.Pause()
				r.done = true
				return err
			}
		}
		prev := r.c.cc.Enter(r.ctx)
		commits := r.c.commitMark()
		row, err := r.p.s.Step()
		r.c.cc.Leave(prev)
		r.w.Pause()
		if err != nil && r.c.committedAnyway(err, commits) {
			row, err = false, nil // the last step committed (INSERT ... RETURNING)
		}
		if err != nil {
			r.done = true
			err = r.c.mapErr(r.ctx, err)
			if r.write {
				r.c.stepFailed(r.p.s)
				r.p.s.Reset()
				r.finish(true)
			}
			return err
		}
		if !row {
			r.done = true
			if r.write {
				r.p.s.Reset()
				if err := r.finish(false); err != nil {
					return err
				}
			}
			return io.EOF
		}
	}
	if len(dest) > len(r.p.kinds) {
		return fmt.Errorf("libsql: Next: %d destinations for %d columns", len(dest), len(r.p.kinds))
	}
	for i := range dest {
		dest[i] = r.value(i)
	}
	return nil
}

// value returns column i of the current row as Next reads it.
func (r *rows) value(i int) driver.Value {
	typ, iv, fv, b := r.p.s.Column(i)
	switch typ {
	case capi.INTEGER:
		if r.p.kinds[i] == kindTime && r.c.cfg.timeFormat.unit != 0 {
			return r.c.cfg.timeFormat.fromInteger(iv)
		}
		return iv
	case capi.FLOAT:
		return fv
	case capi.TEXT:
		v := string(b)
		if r.p.kinds[i] == kindTime {
			if t, ok := r.c.cfg.timeFormat.parseTime(v); ok {
				return t
			}
		}
		return v
	case capi.BLOB:
		return append([]byte{}, b...)
	}
	return nil
}

// hasRow reports whether a row is current, so its value types are known.
func (r *rows) hasRow() bool { return !r.done && !r.closed && r.p != nil && r.p.s != nil }

// ColumnTypeDatabaseTypeName returns the declared type of the column,
// upper-cased and without a size ("VARCHAR(20)" gives "VARCHAR"), or "" for
// an expression.
func (r *rows) ColumnTypeDatabaseTypeName(i int) string {
	return baseType(r.p.s.ColumnDeclTypes()[i])
}

var (
	typeInt64   = reflect.TypeFor[int64]()
	typeFloat64 = reflect.TypeFor[float64]()
	typeString  = reflect.TypeFor[string]()
	typeBytes   = reflect.TypeFor[[]byte]()
	typeBool    = reflect.TypeFor[bool]()
	typeTime    = reflect.TypeFor[time.Time]()
	typeAny     = reflect.TypeFor[any]()
)

// ColumnTypeScanType returns the Go type to scan the column into, from its
// declared type's affinity (https://sqlite.org/datatype3.html): int64 for
// INTEGER, float64 for REAL, string for TEXT, []byte for BLOB, bool for
// BOOL/BOOLEAN, time.Time for DATE/DATETIME/TIMESTAMP. For an expression or
// a NUMERIC column it is the type of the current row's value (any when
// there is no row or the value is NULL).
func (r *rows) ColumnTypeScanType(i int) reflect.Type {
	decl := baseType(r.p.s.ColumnDeclTypes()[i])
	switch decl {
	case "DATE", "DATETIME", "TIMESTAMP":
		return typeTime
	case "BOOL", "BOOLEAN":
		return typeBool
	}
	switch affinity(decl) {
	case capi.INTEGER:
		return typeInt64
	case capi.FLOAT:
		return typeFloat64
	case capi.TEXT:
		return typeString
	case capi.BLOB:
		if decl != "" {
			return typeBytes
		}
	}
	if r.hasRow() {
		switch r.p.s.ColumnType(i) {
		case capi.INTEGER:
			return typeInt64
		case capi.FLOAT:
			return typeFloat64
		case capi.TEXT:
			return typeString
		case capi.BLOB:
			return typeBytes
		}
	}
	return typeAny
}

// ColumnTypeNullable reports whether the column may hold NULL, when the
// column comes straight from a table column: not for NOT NULL columns and
// INTEGER PRIMARY KEY. It is unknown (ok false) for expressions. (SQLite
// does not say whether a table column sits on the outer side of a LEFT
// JOIN, where it can be NULL even if declared NOT NULL.)
func (r *rows) ColumnTypeNullable(i int) (nullable, ok bool) {
	schema, table, column := r.p.s.ColumnOrigin(i)
	if table == "" || column == "" {
		return false, false
	}
	md, err := r.c.cc.TableColumnMetadata(schema, table, column)
	if err != nil {
		return false, false
	}
	notNull := md.NotNull || (md.PrimaryKey && strings.EqualFold(md.DeclType, "INTEGER"))
	return !notNull, true
}

// ColumnTypeLength returns the size declared for a text or blob column
// ("VARCHAR(20)" gives 20), or math.MaxInt64 for one declared without a
// size; ok is false for other columns.
func (r *rows) ColumnTypeLength(i int) (length int64, ok bool) {
	decl := strings.ToUpper(r.p.s.ColumnDeclTypes()[i])
	base := baseType(decl)
	if base == "" || (affinity(base) != capi.TEXT && affinity(base) != capi.BLOB) {
		return 0, false
	}
	if open := strings.IndexByte(decl, '('); open >= 0 {
		inner, _, _ := strings.Cut(decl[open+1:], ")")
		inner, _, _ = strings.Cut(inner, ",")
		if n, err := strconv.ParseInt(strings.TrimSpace(inner), 10, 64); err == nil {
			return n, true
		}
	}
	return math.MaxInt64, true
}

// baseType returns a declared type upper-cased, without a size or
// precision in parentheses and surrounding space.
func baseType(decl string) string {
	if i := strings.IndexByte(decl, '('); i >= 0 {
		decl = decl[:i]
	}
	return strings.ToUpper(strings.TrimSpace(decl))
}

// affinity returns the column affinity SQLite derives from a declared type
// (https://sqlite.org/datatype3.html#determination_of_column_affinity):
// INTEGER, TEXT, BLOB (also for no type), FLOAT for REAL, or NULL standing
// for NUMERIC.
func affinity(decl string) int32 {
	switch {
	case strings.Contains(decl, "INT"):
		return capi.INTEGER
	case strings.Contains(decl, "CHAR"), strings.Contains(decl, "CLOB"), strings.Contains(decl, "TEXT"):
		return capi.TEXT
	case decl == "" || strings.Contains(decl, "BLOB"):
		return capi.BLOB
	case strings.Contains(decl, "REAL"), strings.Contains(decl, "FLOA"), strings.Contains(decl, "DOUB"):
		return capi.FLOAT
	}
	return capi.NULL
}
