package capi

import (
	"fmt"
	"math"
	"sync/atomic"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQL functions and collations written in Go.
//
// Memory: a function's or collation's Go side is registered under a
// [Handle] (the pApp/pArg of sqlite3_create_function_v2 and
// sqlite3_create_collation_v2), which SQLite's destructor callback deletes
// when it drops the function (replaced, or the connection closed). The
// arguments SQLite passes (argv's sqlite3_value structs, a collation's two
// strings) are SQLite's memory, valid during the call only: Context.Arg
// returns them uncopied and its callers copy what they keep. An aggregate's
// per-group state lives on the Go side, in the connection's aggs map, keyed
// by the address of the group's sqlite3_aggregate_context, which SQLite owns
// and frees after xFinal.

// Flags of [Conn.CreateFunction], as SQLite spells them.
const (
	FUNC_DETERMINISTIC = sqlite3.SQLITE_DETERMINISTIC
	FUNC_DIRECTONLY    = sqlite3.SQLITE_DIRECTONLY
	FUNC_INNOCUOUS     = sqlite3.SQLITE_INNOCUOUS
)

// MaxFunctionArgs is the most arguments a function may be declared with
// (SQLITE_MAX_FUNCTION_ARG as compiled).
const MaxFunctionArgs = sqlite3.SQLITE_MAX_FUNCTION_ARG

// Func is the Go side of an SQL function. A scalar function sets Call; an
// aggregate sets Step and Final, and a window function Value and Inverse as
// well. Each callback reads its arguments from the [Context] and sets the
// result there; a callback that panics makes the statement fail with the
// panic's value as its error.
type Func struct {
	Call    func(x *Context)
	Step    func(x *Context)
	Final   func(x *Context)
	Value   func(x *Context)
	Inverse func(x *Context)
}

// funcEntry is what a function's handle stands for.
type funcEntry struct {
	name string
	what string // "SQL function", or "virtual table" for a cursor's values
	f    *Func
	c    *Conn
	// x is the Context of the call in progress, reused from call to call
	// (calls of one connection do not overlap, short of a function that
	// runs SQL on its own connection: inUse then sends it to a new one).
	x     Context
	inUse bool
}

// Context is one call of a Go SQL function (an sqlite3_context and its
// arguments). It is valid during the call only.
type Context struct {
	e    *funcEntry
	tls  *libc.TLS
	p    uintptr // sqlite3_context*
	argc int
	argv uintptr // sqlite3_value*[argc]
	// seq numbers the call among the connection's calls, 0 once it
	// returned (Seq); failed: the call's result is an error, which no
	// later result replaces.
	seq    uint64
	failed bool
	// final: the call is an aggregate's Final, whose error SQLite drops
	// when it runs it as a failed statement halts (Conn.halting).
	final bool
}

// Seq returns a number that identifies the call while it runs, unique
// among the connection's calls, and 0 once it returned: a holder of the
// Context can tell whether the call it was given still runs.
func (x *Context) Seq() uint64 { return x.seq }

// Conn returns the connection running the statement that called the
// function.
func (x *Context) Conn() *Conn { return x.e.c }

// Name returns the function's name, as registered.
func (x *Context) Name() string { return x.e.name }

// Describe names what the call computes a value for, for error messages:
// "SQL function f", or "virtual table m" (a module's cursor).
func (x *Context) Describe() string {
	if x.e.what == "" {
		return "SQL function " + x.e.name
	}
	return x.e.what + " " + x.e.name
}

// NArg returns the number of arguments of the call.
func (x *Context) NArg() int { return x.argc }

// Arg returns the datatype and value of argument i, as [Stmt.Column]
// returns a column's: b aliases SQLite's memory and is valid during the
// call only.
func (x *Context) Arg(i int) (typ int32, i64 int64, f64 float64, b []byte) {
	if uint(i) >= uint(x.argc) {
		return NULL, 0, 0, nil
	}
	return memValue(x.tls, *cindex[uintptr](x.argv, i))
}

// ArgInt64 returns argument i as an integer, converted as
// sqlite3_value_int64 converts (a float truncated, a text parsed, NULL 0).
func (x *Context) ArgInt64(i int) int64 {
	if uint(i) >= uint(x.argc) {
		return 0
	}
	p := *cindex[uintptr](x.argv, i)
	if m := (*sqlite3.TMem)(cptr(p)); m.Fflags&sqlite3.MEM_Int != 0 {
		return *(*int64)(unsafe.Pointer(&m.Fu))
	}
	return sqlite3.Xsqlite3_value_int64(x.tls, p)
}

// ArgFloat returns argument i as a float, converted as
// sqlite3_value_double converts.
func (x *Context) ArgFloat(i int) float64 {
	if uint(i) >= uint(x.argc) {
		return 0
	}
	p := *cindex[uintptr](x.argv, i)
	if m := (*sqlite3.TMem)(cptr(p)); m.Fflags&sqlite3.MEM_Real != 0 {
		return m.Fu.Fr
	}
	return sqlite3.Xsqlite3_value_double(x.tls, p)
}

// ArgText returns argument i as UTF-8 text, converted as
// sqlite3_value_text converts (which changes the argument's
// representation, not its datatype); nil for NULL. The slice aliases
// SQLite's memory and is valid during the call only.
func (x *Context) ArgText(i int) []byte {
	if uint(i) >= uint(x.argc) {
		return nil
	}
	p := *cindex[uintptr](x.argv, i)
	typ, _, _, b := memValue(x.tls, p)
	switch typ {
	case NULL:
		return nil
	case TEXT:
		return nonNil(b)
	}
	z := sqlite3.Xsqlite3_value_text(x.tls, p)
	return nonNil(cbytes(z, int(sqlite3.Xsqlite3_value_bytes(x.tls, p))))
}

// empty is the value of an empty text or blob argument: not nil, which
// stands for NULL.
var empty = []byte{}

// nonNil returns b, or empty for a nil b.
func nonNil(b []byte) []byte {
	if b == nil {
		return empty
	}
	return b
}

// ArgBlob returns argument i's bytes, converted as sqlite3_value_blob
// converts (a number becomes its text; a text stays in the database's
// encoding); nil for NULL. The slice aliases SQLite's memory and is valid
// during the call only.
func (x *Context) ArgBlob(i int) []byte {
	if uint(i) >= uint(x.argc) {
		return nil
	}
	p := *cindex[uintptr](x.argv, i)
	m := (*sqlite3.TMem)(cptr(p))
	switch typ := memType[m.Fflags&sqlite3.MEM_AffMask]; {
	case typ == NULL:
		return nil
	case (typ == BLOB || typ == TEXT) && m.Fflags&sqlite3.MEM_Zero == 0:
		return nonNil(cbytes(m.Fz, int(m.Fn)))
	}
	z := sqlite3.Xsqlite3_value_blob(x.tls, p)
	return nonNil(cbytes(z, int(sqlite3.Xsqlite3_value_bytes(x.tls, p))))
}

// ArgType returns the datatype of argument i (NULL past the last).
func (x *Context) ArgType(i int) int32 {
	if uint(i) >= uint(x.argc) {
		return NULL
	}
	m := (*sqlite3.TMem)(cptr(*cindex[uintptr](x.argv, i)))
	return int32(memType[m.Fflags&sqlite3.MEM_AffMask])
}

// ResultNull makes the call's result NULL (the result of a call that sets
// none).
func (x *Context) ResultNull() {
	if !x.failed {
		sqlite3.Xsqlite3_result_null(x.tls, x.p)
	}
}

// ResultInt64 makes the call's result an integer.
func (x *Context) ResultInt64(v int64) {
	if !x.failed {
		sqlite3.Xsqlite3_result_int64(x.tls, x.p, v)
	}
}

// ResultFloat makes the call's result a float.
func (x *Context) ResultFloat(v float64) {
	if !x.failed {
		sqlite3.Xsqlite3_result_double(x.tls, x.p, v)
	}
}

// ResultText makes the call's result UTF-8 text; SQLite copies it.
func (x *Context) ResultText(v string) {
	if p, ok := x.scratch(len(v)); ok {
		copy(cbytes(p, len(v)), v)
		sqlite3.Xsqlite3_result_text64(x.tls, x.p, p, uint64(len(v)), sqliteTransient, sqlite3.SQLITE_UTF8)
	}
}

// ResultTextBytes is ResultText for text held in a byte slice.
func (x *Context) ResultTextBytes(v []byte) {
	if p, ok := x.scratch(len(v)); ok {
		copy(cbytes(p, len(v)), v)
		sqlite3.Xsqlite3_result_text64(x.tls, x.p, p, uint64(len(v)), sqliteTransient, sqlite3.SQLITE_UTF8)
	}
}

// ResultBlob makes the call's result a blob (a zero-length one for an
// empty v); SQLite copies it.
func (x *Context) ResultBlob(v []byte) {
	if p, ok := x.scratch(len(v)); ok {
		copy(cbytes(p, len(v)), v)
		sqlite3.Xsqlite3_result_blob64(x.tls, x.p, p, uint64(len(v)), sqliteTransient)
	}
}

// scratch returns the connection's scratch buffer (the one binds copy
// through, unused during a function call) with room for n bytes; when
// there is no memory for it, it sets the result to SQLITE_NOMEM. It
// returns false, setting nothing, once the call failed.
func (x *Context) scratch(n int) (uintptr, bool) {
	if x.failed {
		return 0, false
	}
	if n > math.MaxInt32 {
		sqlite3.Xsqlite3_result_error_toobig(x.tls, x.p)
		x.failed = true
		return 0, false
	}
	c := x.e.c
	if !c.tmp.reserve(x.tls, max(n, 1)) {
		sqlite3.Xsqlite3_result_error_nomem(x.tls, x.p)
		x.failed = true
		return 0, false
	}
	return c.tmp.p, true
}

// ResultError makes the call fail: the statement fails with SQLITE_ERROR
// and err's text, and the error Step returns has err as its Cause (the
// first such error of the step; an aggregate's Final that SQLite runs as
// a failed statement halts is never the cause: SQLite drops its result).
// The call's first error is its result: no later Result call, error or
// not, replaces it, so the statement's message is its cause's.
func (x *Context) ResultError(err error) {
	if x.failed {
		return
	}
	x.failed = true
	if c := x.e.c; c.cbErr == nil && !(x.final && c.halting()) {
		c.cbErr = err
	}
	msg := err.Error()
	p, size := stackString(x.tls, msg)
	sqlite3.Xsqlite3_result_error(x.tls, x.p, p, int32(min(len(msg), math.MaxInt32)))
	x.tls.Free(size)
}

// State returns the Go state of the aggregate group the call belongs to,
// for Step, Final, Value and Inverse: a pointer to a variable that is nil
// until the callback sets it and that lives until the group's Final
// returns. A Final (or Value) of a group that no Step saw, such as an
// aggregate over no rows, finds it nil.
func (x *Context) State() *any {
	key := sqlite3.Xsqlite3_aggregate_context(x.tls, x.p, 8)
	if key == 0 {
		return new(any) // out of memory: SQLite fails the statement
	}
	c := x.e.c
	if key == c.aggKey {
		return c.aggState
	}
	s := c.aggs[key]
	if s == nil {
		if c.aggs == nil {
			c.aggs = map[uintptr]*any{}
		}
		s = new(any)
		c.aggs[key] = s
	}
	c.aggKey, c.aggState = key, s
	return s
}

// CreateFunction registers f as the SQL function name taking nArg
// arguments (-1: any number) on c (sqlite3_create_function_v2, or
// sqlite3_create_window_function when f has Value and Inverse), with
// flags FUNC_*. It replaces a function of that name and number of
// arguments, built-in ones included.
func (c *Conn) CreateFunction(name string, nArg int, flags int32, f *Func) error {
	h := NewHandle(&funcEntry{name: name, f: f, c: c})
	zName, size := stackString(c.tls, name)
	defer c.tls.Free(size)
	enc := sqlite3.SQLITE_UTF8 | flags
	var rc int32
	switch {
	case f.Call != nil:
		rc = sqlite3.Xsqlite3_create_function_v2(c.tls, c.db, zName, int32(nArg), enc, uintptr(h),
			funcPtr(funcCall), 0, 0, funcPtr(funcDestroy))
	case f.Value != nil && f.Inverse != nil:
		rc = sqlite3.Xsqlite3_create_window_function(c.tls, c.db, zName, int32(nArg), enc, uintptr(h),
			funcPtr(funcStep), funcPtr(funcFinal), funcPtr(funcValue), funcPtr(funcInverse), funcPtr(funcDestroy))
	default:
		rc = sqlite3.Xsqlite3_create_function_v2(c.tls, c.db, zName, int32(nArg), enc, uintptr(h),
			0, funcPtr(funcStep), funcPtr(funcFinal), funcPtr(funcDestroy))
	}
	if rc != OK {
		// SQLite calls the destructor when registration fails, except
		// for a misuse it catches before looking at it.
		h.Delete()
		return c.err(rc)
	}
	return nil
}

// CreateCollation registers compare as the collating sequence name on c
// (sqlite3_create_collation_v2, UTF-8). compare's arguments alias SQLite's
// memory and are valid during the call only. A compare that panics makes
// the statement fail with the panic's value as its error.
func (c *Conn) CreateCollation(name string, compare func(a, b string) int) error {
	h := NewHandle(&collEntry{name: name, cmp: compare, c: c})
	zName, size := stackString(c.tls, name)
	defer c.tls.Free(size)
	rc := sqlite3.Xsqlite3_create_collation_v2(c.tls, c.db, zName, sqlite3.SQLITE_UTF8, uintptr(h),
		funcPtr(collCompare), funcPtr(funcDestroy))
	if rc != OK {
		h.Delete()
		return c.err(rc)
	}
	return nil
}

type collEntry struct {
	name string
	cmp  func(a, b string) int
	c    *Conn
}

// entryOf returns the function entry of the call ctx.
func entryOf(tls *libc.TLS, ctx uintptr) *funcEntry {
	e, _ := Handle(sqlite3.Xsqlite3_user_data(tls, ctx)).Value().(*funcEntry)
	return e
}

// invoke runs one callback of a Go function: every panic stops here, as
// the call's error, so that none unwinds through SQLite. It returns the
// function's entry, nil if there is none (after a panic too: e is a named
// result for that).
func invoke(tls *libc.TLS, ctx uintptr, argc int32, argv uintptr, final bool, pick func(*Func) func(*Context)) (e *funcEntry) {
	e = entryOf(tls, ctx)
	if e == nil {
		return nil
	}
	x := &e.x
	if e.inUse {
		x = new(Context)
	} else {
		e.inUse = true
		defer func() { e.inUse = false }()
	}
	e.c.callSeq++
	*x = Context{e: e, tls: tls, p: ctx, argc: int(argc), argv: argv, seq: e.c.callSeq, final: final}
	fn := pick(e.f)
	if fn == nil {
		x.ResultNull()
		x.seq = 0
		return e
	}
	defer func() {
		if r := recover(); r != nil {
			x.ResultError(PanicError("function "+e.name, r))
		}
		x.seq = 0
	}()
	fn(x)
	return e
}

func funcCall(tls *libc.TLS, ctx uintptr, argc int32, argv uintptr) {
	invoke(tls, ctx, argc, argv, false, func(f *Func) func(*Context) { return f.Call })
}

func funcStep(tls *libc.TLS, ctx uintptr, argc int32, argv uintptr) {
	invoke(tls, ctx, argc, argv, false, func(f *Func) func(*Context) { return f.Step })
}

func funcInverse(tls *libc.TLS, ctx uintptr, argc int32, argv uintptr) {
	invoke(tls, ctx, argc, argv, false, func(f *Func) func(*Context) { return f.Inverse })
}

func funcValue(tls *libc.TLS, ctx uintptr) {
	invoke(tls, ctx, 0, 0, false, func(f *Func) func(*Context) { return f.Value })
}

// funcFinal runs Final, then forgets the group's state: SQLite frees the
// group's aggregate context after this call (also when a statement is
// reset or finalized half way, which runs xFinal too).
func funcFinal(tls *libc.TLS, ctx uintptr) {
	e := invoke(tls, ctx, 0, 0, true, func(f *Func) func(*Context) { return f.Final })
	if e == nil {
		return
	}
	if key := sqlite3.Xsqlite3_aggregate_context(tls, ctx, 0); key != 0 {
		c := e.c
		delete(c.aggs, key)
		if c.aggKey == key {
			c.aggKey, c.aggState = 0, nil
		}
	}
}

// endCollationInterrupt takes back the sqlite3_interrupt of a collation's
// panic once its statement has stopped: sqlite3_interrupt stops every
// statement running on the connection, and SQLite clears it only when none
// is left, so another statement open on the connection (a transaction's
// Rows) would fail next. The flag is the isInterrupted field of SQLite's
// sqlite3 struct (memory SQLite owns until the connection closes). A
// context cancellation meanwhile still stops the statement it concerns:
// the progress handler watches it too.
func (c *Conn) endCollationInterrupt() {
	atomic.StoreInt32(&(*sqlite3.Tsqlite3)(cptr(c.db)).Fu1.FisInterrupted, 0)
}

// PanicError is the error of a recovered panic in Go code that SQLite or
// the driver called (what names it: "function f"): it wraps the panic's
// value when that is an error, so errors.Is finds it.
func PanicError(what string, v any) error {
	if err, ok := v.(error); ok {
		return fmt.Errorf("%s panicked: %w", what, err)
	}
	return fmt.Errorf("%s panicked: %v", what, v)
}

func funcDestroy(_ *libc.TLS, p uintptr) { Handle(p).Delete() }

func collCompare(tls *libc.TLS, arg uintptr, n1 int32, p1 uintptr, n2 int32, p2 uintptr) (r int32) {
	e, _ := Handle(arg).Value().(*collEntry)
	if e == nil {
		return 0
	}
	defer func() {
		if v := recover(); v != nil {
			// A comparison has no error result: the statement is
			// interrupted, and its error carries this one.
			if e.c.cbErr == nil {
				e.c.cbErr = PanicError("collation "+e.name, v)
			}
			e.c.cbInterrupted = true
			sqlite3.Xsqlite3_interrupt(tls, e.c.db)
			r = 0
		}
	}()
	a := unsafe.String((*byte)(cptr(p1)), int(n1))
	b := unsafe.String((*byte)(cptr(p2)), int(n2))
	switch n := e.cmp(a, b); {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
