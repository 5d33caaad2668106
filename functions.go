package libsql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/golibsql/libsql/internal/capi"
)

// ScalarFunction is the Go implementation of a scalar SQL function,
// registered with [WithFunction]. ctx is the context of the statement that
// calls it. args holds the call's arguments as SQLite's datatypes: int64,
// float64, string, []byte (a copy, never nil) or nil for NULL; the slice
// and its values are the function's to keep. The result
// may be of any type a statement's arguments may be (see
// [Conn.CheckNamedValue]: integers, floats, bool, string, []byte,
// time.Time, nil, a [driver.Valuer]); a time.Time is stored in the
// connection's _time_format. An error fails the statement: its error is a
// *[Error] with code SQLITE_ERROR whose Unwrap returns the function's
// error, so errors.Is and errors.As find it.
//
// Each connection of the pool calls the function from the goroutine
// running its statement, so one function may run on several goroutines at
// once.
type ScalarFunction func(ctx context.Context, args []driver.Value) (driver.Value, error)

// Aggregate accumulates one group of an aggregate SQL function registered
// with [WithAggregate]: SQLite calls Step for each row of the group, then
// Final once for the result, on a value of its own for every group. Final
// is called for a group with no rows too (an aggregate over an empty
// table), and for a group whose statement was reset before it ended, in
// which case its result is dropped. args and the results are as for
// [ScalarFunction].
type Aggregate interface {
	Step(ctx context.Context, args []driver.Value) error
	Final(ctx context.Context) (driver.Value, error)
}

// WindowAggregate is an [Aggregate] that can also be a window function
// (SUM(x) OVER (ORDER BY y ROWS 2 PRECEDING)): Inverse takes back a row
// that leaves the window, and Value returns the result for the window as it
// stands, without ending the group.
type WindowAggregate interface {
	Aggregate
	Inverse(ctx context.Context, args []driver.Value) error
	Value(ctx context.Context) (driver.Value, error)
}

// FunctionFlag tells SQLite what it may assume of a Go SQL function.
type FunctionFlag int

const (
	// Deterministic says the function always returns the same result for
	// the same arguments. SQLite may then compute it once for a whole
	// statement, and only such a function may be used in CHECK
	// constraints, generated columns, indexes on expressions and partial
	// indexes' WHERE clauses.
	Deterministic FunctionFlag = 1 << iota
	// DirectOnly says the function may be called from top-level SQL only,
	// not from triggers, views, CHECK constraints, generated columns or
	// indexes: for a function with side effects, which a schema planted in
	// a database file by someone else must not be able to call.
	DirectOnly
	// Innocuous says the function has no side effects and reveals nothing
	// of its surroundings, so that it may be used from a schema even where
	// SQLITE_DBCONFIG_TRUSTED_SCHEMA is off.
	Innocuous
)

// funcDef is a function or collation to register on every connection.
type funcDef struct {
	name    string
	nArg    int
	flags   int32
	scalar  ScalarFunction
	raw     RawFunction
	newAgg  func() Aggregate
	window  bool
	collate func(a, b string) int
}

// WithFunction registers fn as the scalar SQL function name, taking nArg
// arguments (-1: any number; at most 1000), on every
// connection the connector opens. It replaces a function of the same name
// and number of arguments, SQLite's built-in ones included; names are
// case-insensitive. flags are [Deterministic], [DirectOnly], [Innocuous].
//
//	db, err := libsql.Open(path, libsql.WithFunction("regexp", 2, regexpFunc, libsql.Deterministic))
//
// (SQLite runs "x REGEXP y" as regexp(y, x).)
func WithFunction(name string, nArg int, fn ScalarFunction, flags ...FunctionFlag) Option {
	return func(c *config) error {
		if fn == nil {
			return fmt.Errorf("libsql: WithFunction %q: the function is nil", name)
		}
		return c.addFunction("WithFunction", funcDef{name: name, nArg: nArg, scalar: fn}, flags)
	}
}

// WithRawFunction registers fn as the scalar SQL function name, as
// [WithFunction] does, for a function called so often that the cost of
// the call matters: fn reads its arguments where SQLite holds them and
// sets its result itself, through the [FuncContext], so that nothing is
// converted to a driver.Value and nothing is allocated per call.
//
//	libsql.WithRawFunction("bench_len", 1, func(f *libsql.FuncContext) {
//		f.ResultInt64(int64(len(f.RawText(0))))
//	}, libsql.Deterministic)
func WithRawFunction(name string, nArg int, fn RawFunction, flags ...FunctionFlag) Option {
	return func(c *config) error {
		if fn == nil {
			return fmt.Errorf("libsql: WithRawFunction %q: the function is nil", name)
		}
		return c.addFunction("WithRawFunction", funcDef{name: name, nArg: nArg, raw: fn}, flags)
	}
}

// RawFunction is the Go implementation of a scalar SQL function registered
// with [WithRawFunction]: it reads the call's arguments and sets its
// result through f, which is valid during the call only. A function that
// sets no result returns NULL. As for a [ScalarFunction], one function
// may run on several goroutines at once (one per connection).
type RawFunction func(f *FuncContext)

// FuncContext is one call of a [RawFunction]: its arguments, read in
// place, and its result. It and every slice its methods return are valid
// during the call only: copy what must outlive it. A method called after
// the call returned panics. The call's first error (ResultError, or a
// ResultValue that cannot convert its value) is its result: no later
// Result method replaces it.
type FuncContext struct {
	x   *capi.Context
	c   *conn
	seq uint64 // the call's (capi.Context.Seq)
}

// errFuncContextDone is the panic of a FuncContext method called after
// its call returned.
var errFuncContextDone = errors.New("libsql: FuncContext used after its call returned (a RawFunction must not keep it)")

// call returns the call's capi context, and panics if the call returned:
// its memory is SQLite's, reused or freed since.
func (f *FuncContext) call() *capi.Context {
	if f.x == nil || f.x.Seq() != f.seq || f.seq == 0 {
		panic(errFuncContextDone)
	}
	return f.x
}

// Datatype is one of SQLite's datatypes, the type of a value.
type Datatype int

// SQLite's datatypes.
const (
	TypeInteger Datatype = 1 // SQLITE_INTEGER
	TypeFloat   Datatype = 2 // SQLITE_FLOAT
	TypeText    Datatype = 3 // SQLITE_TEXT
	TypeBlob    Datatype = 4 // SQLITE_BLOB
	TypeNull    Datatype = 5 // SQLITE_NULL
)

// SQLite's codes, checked at compile time (an index other than 0 does
// not compile).
var (
	_ = [1]struct{}{}[TypeInteger-capi.INTEGER]
	_ = [1]struct{}{}[TypeFloat-capi.FLOAT]
	_ = [1]struct{}{}[TypeText-capi.TEXT]
	_ = [1]struct{}{}[TypeBlob-capi.BLOB]
	_ = [1]struct{}{}[TypeNull-capi.NULL]
)

// String returns the datatype's name in SQL: INTEGER, REAL, TEXT, BLOB,
// NULL.
func (t Datatype) String() string {
	switch t {
	case TypeInteger:
		return "INTEGER"
	case TypeFloat:
		return "REAL"
	case TypeText:
		return "TEXT"
	case TypeBlob:
		return "BLOB"
	case TypeNull:
		return "NULL"
	}
	return fmt.Sprintf("Datatype(%d)", int(t))
}

// Context returns the context of the statement that calls the function.
func (f *FuncContext) Context() context.Context { return f.call().Conn().Context() }

// NArg returns the number of arguments of the call.
func (f *FuncContext) NArg() int { return f.call().NArg() }

// Type returns the datatype of argument i (TypeNull past the last).
func (f *FuncContext) Type(i int) Datatype { return Datatype(f.call().ArgType(i)) }

// Int64 returns argument i as an integer, converted as SQLite converts
// (sqlite3_value_int64: a REAL truncated, a TEXT's leading number, NULL 0).
func (f *FuncContext) Int64(i int) int64 { return f.call().ArgInt64(i) }

// Float returns argument i as a float, converted as SQLite converts
// (sqlite3_value_double).
func (f *FuncContext) Float(i int) float64 { return f.call().ArgFloat(i) }

// RawText returns argument i as UTF-8 text, without copying it: the slice
// is SQLite's memory, valid during the call only, and must not be changed.
// A number is converted to its text; NULL is nil, an empty value an empty
// slice.
func (f *FuncContext) RawText(i int) []byte { return f.call().ArgText(i) }

// Text returns argument i as text, a copy that may be kept.
func (f *FuncContext) Text(i int) string { return string(f.call().ArgText(i)) }

// RawBlob returns argument i's bytes without copying them: the slice is
// SQLite's memory, valid during the call only, and must not be changed.
// A text's bytes are in the database's encoding; a number's are its text.
// NULL is nil, an empty value an empty slice.
func (f *FuncContext) RawBlob(i int) []byte { return f.call().ArgBlob(i) }

// ResultInt64 sets the call's result to an integer.
func (f *FuncContext) ResultInt64(v int64) { f.call().ResultInt64(v) }

// ResultFloat sets the call's result to a float.
func (f *FuncContext) ResultFloat(v float64) { f.call().ResultFloat(v) }

// ResultText sets the call's result to text (SQLite copies it).
func (f *FuncContext) ResultText(v string) { f.call().ResultText(v) }

// ResultRawText sets the call's result to the UTF-8 text in v (SQLite
// copies it).
func (f *FuncContext) ResultRawText(v []byte) { f.call().ResultTextBytes(v) }

// ResultBlob sets the call's result to a blob (SQLite copies it; an empty
// or nil v is an empty blob).
func (f *FuncContext) ResultBlob(v []byte) { f.call().ResultBlob(v) }

// ResultNull sets the call's result to NULL.
func (f *FuncContext) ResultNull() { f.call().ResultNull() }

// ResultValue sets the call's result to v, converted as a [ScalarFunction]'s
// result is (any type a statement's argument may be).
func (f *FuncContext) ResultValue(v any) { f.c.setResult(f.call(), v, nil) }

// ResultError fails the statement with err, as a [ScalarFunction]'s error
// does.
func (f *FuncContext) ResultError(err error) {
	if err == nil {
		err = errors.New("libsql: FuncContext.ResultError(nil)")
	}
	f.call().ResultError(err)
}

// WithAggregate registers an aggregate SQL function name, taking nArg
// arguments, on every connection the connector opens: newAggregate makes
// the [Aggregate] of each group. If A implements [WindowAggregate] (A is the
// type newAggregate returns, such as *myAggregate), the function is a
// window function as well. Names and flags are as for [WithFunction].
func WithAggregate[A Aggregate](name string, nArg int, newAggregate func() A, flags ...FunctionFlag) Option {
	return func(c *config) error {
		if newAggregate == nil {
			return fmt.Errorf("libsql: WithAggregate %q: the function is nil", name)
		}
		window := reflect.TypeFor[A]().Implements(reflect.TypeFor[WindowAggregate]())
		d := funcDef{name: name, nArg: nArg, window: window, newAgg: func() Aggregate { return newAggregate() }}
		return c.addFunction("WithAggregate", d, flags)
	}
}

// WithCollation registers compare as the collating sequence name (used as
// "ORDER BY x COLLATE name", or in a column's or index's definition) on
// every connection the connector opens. compare returns a negative number,
// zero or a positive one as a sorts before, with or after b; it must be a
// total order, and a database whose indexes use it must always get the
// same one. a and b are valid during the call only: compare must not keep
// them (strings.Clone makes a copy that may be kept). A compare that
// panics fails the statement, with the panic in its error.
func WithCollation(name string, compare func(a, b string) int) Option {
	return func(c *config) error {
		if compare == nil {
			return fmt.Errorf("libsql: WithCollation %q: the function is nil", name)
		}
		if err := checkFuncName(name); err != nil {
			return fmt.Errorf("libsql: WithCollation %q: %w", name, err)
		}
		c.funcs = append(c.funcs, funcDef{name: name, collate: compare})
		return nil
	}
}

func (c *config) addFunction(option string, d funcDef, flags []FunctionFlag) error {
	if err := checkFuncName(d.name); err != nil {
		return fmt.Errorf("libsql: %s %q: %w", option, d.name, err)
	}
	if d.nArg < -1 || d.nArg > capi.MaxFunctionArgs {
		return fmt.Errorf("libsql: %s %q: %d arguments: the number must be -1 (any) or 0 to %d", option, d.name, d.nArg, capi.MaxFunctionArgs)
	}
	for _, f := range flags {
		switch f {
		case Deterministic:
			d.flags |= capi.FUNC_DETERMINISTIC
		case DirectOnly:
			d.flags |= capi.FUNC_DIRECTONLY
		case Innocuous:
			d.flags |= capi.FUNC_INNOCUOUS
		default:
			return fmt.Errorf("libsql: %s %q: unknown FunctionFlag %d", option, d.name, f)
		}
	}
	c.funcs = append(c.funcs, d)
	return nil
}

// checkFuncName checks a function's or collation's name as SQLite would
// take it: 1 to 255 bytes, no NUL.
func checkFuncName(name string) error {
	switch {
	case name == "":
		return errors.New("the name is empty")
	case len(name) > 255:
		return fmt.Errorf("the name is %d bytes long; SQLite takes at most 255", len(name))
	case strings.IndexByte(name, 0) >= 0:
		return errors.New("the name contains a NUL byte")
	}
	return nil
}

// registerFunctions registers the config's functions and collations on the
// connection.
func (c *conn) registerFunctions() error {
	for _, d := range c.cfg.funcs {
		var err error
		if d.collate != nil {
			err = c.cc.CreateCollation(d.name, d.collate)
		} else {
			err = c.cc.CreateFunction(d.name, d.nArg, d.flags, c.funcImpl(d))
		}
		if err != nil {
			return fmt.Errorf("libsql: register SQL function %q: %w", d.name, convertError(err))
		}
	}
	return nil
}

// funcImpl returns the capi side of d on c.
func (c *conn) funcImpl(d funcDef) *capi.Func {
	// Each call gets a slice of its own, which the function may keep (an
	// aggregate collecting its rows): a shared one would change under
	// it. They are cut from a chunk, one allocation for many calls (one
	// per call took a fifth of an aggregate's time); a call with a large
	// text or blob gets one allocated apart, so that the chunk, which
	// lives as long as any of its slices, never holds much memory.
	var chunk []driver.Value
	args := func(x *capi.Context) []driver.Value {
		n := x.NArg()
		if cap(chunk)-len(chunk) < n {
			chunk = make([]driver.Value, 0, max(argChunk, n))
		}
		start := len(chunk)
		chunk = funcArgs(x, chunk)
		a := chunk[start:len(chunk):len(chunk)]
		if largeArgs(a) {
			a = slices.Clone(a)
			clear(chunk[start:])
			chunk = chunk[:start]
		}
		return a
	}
	if d.raw != nil {
		// One FuncContext serves the calls of the connection, but for a
		// call made while another runs (the function ran SQL that calls
		// it again), which gets its own.
		var fc FuncContext
		inUse := false
		return &capi.Func{Call: func(x *capi.Context) {
			if inUse {
				d.raw(&FuncContext{x: x, c: c, seq: x.Seq()})
				return
			}
			inUse = true
			defer func() { inUse = false }()
			fc = FuncContext{x: x, c: c, seq: x.Seq()}
			d.raw(&fc)
		}}
	}
	if d.scalar != nil {
		return &capi.Func{Call: func(x *capi.Context) {
			v, err := d.scalar(x.Conn().Context(), args(x))
			c.setResult(x, v, err)
		}}
	}
	// A group's state holds an *aggBox: a type assertion to a concrete
	// type is cheaper than one to an interface.
	type aggBox struct{ a Aggregate }
	group := func(x *capi.Context) Aggregate {
		s := x.State()
		if *s == nil {
			*s = &aggBox{d.newAgg()}
		}
		return (*s).(*aggBox).a
	}
	f := &capi.Func{
		Step: func(x *capi.Context) {
			if err := group(x).Step(x.Conn().Context(), args(x)); err != nil {
				x.ResultError(err)
			}
		},
		Final: func(x *capi.Context) {
			v, err := group(x).Final(x.Conn().Context())
			c.setResult(x, v, err)
		},
	}
	if d.window {
		f.Inverse = func(x *capi.Context) {
			if err := group(x).(WindowAggregate).Inverse(x.Conn().Context(), args(x)); err != nil {
				x.ResultError(err)
			}
		}
		f.Value = func(x *capi.Context) {
			v, err := group(x).(WindowAggregate).Value(x.Conn().Context())
			c.setResult(x, v, err)
		}
	}
	return f
}

// argChunk is the number of arguments a chunk of Go functions' argument
// slices holds; argLarge the size of a text or blob argument from which a
// call's slice is allocated apart.
const (
	argChunk = 128
	argLarge = 1024
)

// largeArgs reports whether args holds a text or blob of argLarge bytes
// or more.
func largeArgs(args []driver.Value) bool {
	for _, v := range args {
		switch v := v.(type) {
		case string:
			if len(v) >= argLarge {
				return true
			}
		case []byte:
			if len(v) >= argLarge {
				return true
			}
		}
	}
	return false
}

// funcArgs appends the arguments of a call to args, as Go values that own
// their memory.
func funcArgs(x *capi.Context, args []driver.Value) []driver.Value {
	for i := range x.NArg() {
		args = append(args, goValue(x.Arg(i)))
	}
	return args
}

// goValue is an SQLite value as Go code gets it (b is copied): int64,
// float64, string, []byte or nil.
func goValue(typ int32, iv int64, fv float64, b []byte) driver.Value {
	switch typ {
	case capi.INTEGER:
		return iv
	case capi.FLOAT:
		return fv
	case capi.TEXT:
		return string(b)
	case capi.BLOB:
		return append([]byte{}, b...)
	}
	return nil
}

// setResult sets the result of a call from what the Go function returned:
// converted as a statement's argument would be.
func (c *conn) setResult(x *capi.Context, v driver.Value, err error) {
	if err == nil {
		switch v.(type) {
		case nil, int64, float64, bool, string, []byte, time.Time:
		default:
			v, err = c.convertResult(v)
		}
		if err == nil {
			err = storeValue(c, funcResult{x}, v)
		}
		if err != nil {
			err = fmt.Errorf("libsql: result of %s: %w", x.Describe(), err)
		}
	}
	if err != nil {
		x.ResultError(err)
	}
}

// convertResult converts a function's result of a type storeValue does not
// take as a statement's argument would be converted.
func (c *conn) convertResult(v driver.Value) (driver.Value, error) {
	nv := driver.NamedValue{Ordinal: 1, Value: v}
	err := c.CheckNamedValue(&nv)
	if errors.Is(err, driver.ErrSkip) {
		if nv.Value, err = driver.DefaultParameterConverter.ConvertValue(v); err == nil {
			err = c.CheckNamedValue(&nv)
		}
	}
	return nv.Value, err
}

// funcResult is a function call's result, as a valueSink.
type funcResult struct{ x *capi.Context }

func (r funcResult) int64(v int64) error      { r.x.ResultInt64(v); return nil }
func (r funcResult) float(v float64) error    { r.x.ResultFloat(v); return nil }
func (r funcResult) text(v string) error      { r.x.ResultText(v); return nil }
func (r funcResult) textBytes(v []byte) error { r.x.ResultTextBytes(v); return nil }
func (r funcResult) blob(v []byte) error      { r.x.ResultBlob(v); return nil }
func (r funcResult) null() error              { r.x.ResultNull(); return nil }
