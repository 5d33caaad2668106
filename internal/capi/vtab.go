package capi

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"modernc.org/libc"
	"modernc.org/libc/sys/types"
	sqlite3 "modernc.org/sqlite/lib"
)

// Virtual tables written in Go: read-only modules (no xUpdate), usable as
// CREATE VIRTUAL TABLE ... USING name(...) and, eponymously, as name or
// the table-valued function name(...).
//
// Memory: the sqlite3_module is allocated once per module name on the
// libc heap and never freed (SQLite keeps a pointer to it for as long as
// a connection has the module, and modules are few). A table's
// sqlite3_vtab and a cursor's sqlite3_vtab_cursor are allocated with
// sqlite3_malloc by xConnect and xOpen, each followed by the Handle of its
// Go side, and freed (the handle deleted) by xDisconnect and xClose; the
// module's own handle, its pAux, is deleted by the destructor SQLite calls
// when it drops the module. Error messages handed to SQLite
// (pVTab->zErrMsg, *pzErr) are sqlite3_malloc'd copies SQLite frees.

// VTabConnect declares a virtual table for the arguments of its CREATE
// VIRTUAL TABLE (module name, schema name, table name, then the
// arguments), or of an eponymous use (the first three only): the CREATE
// TABLE statement that declares its columns, and its Go side.
type VTabConnect func(args []string) (declaration string, t VTab, err error)

// VTab is the Go side of a virtual table of one connection.
type VTab interface {
	BestIndex(info *IndexInfo) error
	Open() (VTabCursor, error)
	Disconnect() error
}

// VTabCursor is a scan of a virtual table. Filter starts it with the
// index BestIndex chose and the values of the constraints it asked for
// (a Context whose arguments they are, valid during the call only);
// Column sets column i's value as a function's result.
type VTabCursor interface {
	Filter(idxNum int, idxStr string, args *Context) error
	Next() error
	EOF() bool
	Column(x *Context, i int) error
	Rowid() (int64, error)
	Close() error
}

type moduleEntry struct {
	c       *Conn
	name    string
	connect VTabConnect
}

// cVTab and cCursor are the C structs SQLite sees, followed by the Handle
// of their Go side.
type cVTab struct {
	base sqlite3.Tsqlite3_vtab
	h    Handle
}

type cCursor struct {
	base sqlite3.Tsqlite3_vtab_cursor
	h    Handle
}

// vtabEntry and cursorEntry are what a table's and a cursor's handles
// stand for.
type vtabEntry struct {
	t VTab
	m *moduleEntry
}

type cursorEntry struct {
	cur VTabCursor
	fe  funcEntry // for the Contexts of Column
}

// vtabModule is the one sqlite3_module every Go module shares.
var vtabModule = sync.OnceValue(func() uintptr {
	tls := libc.NewTLS()
	defer tls.Close()
	p := libc.Xcalloc(tls, 1, types.Size_t(unsafe.Sizeof(sqlite3.Tsqlite3_module{})))
	if p == 0 {
		return 0
	}
	m := (*sqlite3.Tsqlite3_module)(cptr(p))
	m.FiVersion = 1
	m.FxCreate = funcPtr(vtabConnect)
	m.FxConnect = funcPtr(vtabConnect)
	m.FxBestIndex = funcPtr(vtabBestIndex)
	m.FxDisconnect = funcPtr(vtabDisconnect)
	m.FxDestroy = funcPtr(vtabDisconnect)
	m.FxOpen = funcPtr(vtabOpen)
	m.FxClose = funcPtr(vtabClose)
	m.FxFilter = funcPtr(vtabFilter)
	m.FxNext = funcPtr(vtabNext)
	m.FxEof = funcPtr(vtabEOF)
	m.FxColumn = funcPtr(vtabColumn)
	m.FxRowid = funcPtr(vtabRowid)
	return p
})

// CreateModule registers a read-only virtual table module name on c
// (sqlite3_create_module_v2).
func (c *Conn) CreateModule(name string, connect VTabConnect) error {
	mod := vtabModule()
	if mod == 0 {
		return &Error{Code: NOMEM, Msg: "out of memory"}
	}
	h := NewHandle(&moduleEntry{c: c, name: name, connect: connect})
	zName, size := stackString(c.tls, name)
	defer c.tls.Free(size)
	if rc := sqlite3.Xsqlite3_create_module_v2(c.tls, c.db, zName, mod, uintptr(h), funcPtr(funcDestroy)); rc != OK {
		// sqlite3_create_module_v2 calls the destructor when it fails.
		return c.err(rc)
	}
	return nil
}

// cString copies s into sqlite3_malloc'd memory, for SQLite to free.
func cString(tls *libc.TLS, s string) uintptr {
	p := sqlite3.Xsqlite3_malloc64(tls, uint64(len(s)+1))
	if p == 0 {
		return 0
	}
	b := cbytes(p, len(s)+1)
	copy(b, s)
	b[len(s)] = 0
	return p
}

// vtabFail makes err the error message of table pVTab and returns
// SQLITE_ERROR.
func vtabFail(tls *libc.TLS, pVTab uintptr, err error) int32 {
	v := (*sqlite3.Tsqlite3_vtab)(cptr(pVTab))
	if v.FzErrMsg != 0 {
		sqlite3.Xsqlite3_free(tls, v.FzErrMsg)
	}
	v.FzErrMsg = cString(tls, err.Error())
	return ERROR
}

// recovered turns a panic into an error.
func recovered(what string, r any) error {
	if err, ok := r.(error); ok {
		return fmt.Errorf("%s panicked: %w", what, err)
	}
	return fmt.Errorf("%s panicked: %v", what, r)
}

func vtabOf(pVTab uintptr) *vtabEntry {
	e, _ := (*cVTab)(cptr(pVTab)).h.Value().(*vtabEntry)
	return e
}

func cursorOf(pCur uintptr) *cursorEntry {
	e, _ := (*cCursor)(cptr(pCur)).h.Value().(*cursorEntry)
	return e
}

var errNoGoSide = errors.New("virtual table: its Go side is gone")

func vtabConnect(tls *libc.TLS, db, pAux uintptr, argc int32, argv, ppVTab, pzErr uintptr) (rc int32) {
	fail := func(err error) int32 {
		*(*uintptr)(cptr(pzErr)) = cString(tls, err.Error())
		return ERROR
	}
	defer func() {
		if r := recover(); r != nil {
			rc = fail(recovered("virtual table's Connect", r))
		}
	}()
	e, _ := Handle(pAux).Value().(*moduleEntry)
	if e == nil {
		return fail(errNoGoSide)
	}
	args := make([]string, argc)
	for i := range args {
		args[i] = goString(*cindex[uintptr](argv, i))
	}
	decl, t, err := e.connect(args)
	if err != nil {
		return fail(err)
	}
	zDecl := cString(tls, decl)
	if zDecl == 0 {
		t.Disconnect()
		return NOMEM
	}
	rc = sqlite3.Xsqlite3_declare_vtab(tls, db, zDecl)
	sqlite3.Xsqlite3_free(tls, zDecl)
	if rc != OK {
		t.Disconnect()
		return fail(fmt.Errorf("declaring %q: %s", decl, goString(sqlite3.Xsqlite3_errmsg(tls, db))))
	}
	p := sqlite3.Xsqlite3_malloc64(tls, uint64(unsafe.Sizeof(cVTab{})))
	if p == 0 {
		t.Disconnect()
		return NOMEM
	}
	*(*cVTab)(cptr(p)) = cVTab{h: NewHandle(&vtabEntry{t: t, m: e})}
	*(*uintptr)(cptr(ppVTab)) = p
	return OK
}

func vtabDisconnect(tls *libc.TLS, pVTab uintptr) (rc int32) {
	v := (*cVTab)(cptr(pVTab))
	e, _ := v.h.Value().(*vtabEntry)
	v.h.Delete()
	if v.base.FzErrMsg != 0 {
		sqlite3.Xsqlite3_free(tls, v.base.FzErrMsg)
	}
	sqlite3.Xsqlite3_free(tls, pVTab)
	if e != nil {
		func() {
			defer func() { recover() }() // nothing is left to report it to
			e.t.Disconnect()
		}()
	}
	return OK
}

func vtabBestIndex(tls *libc.TLS, pVTab, pInfo uintptr) (rc int32) {
	defer func() {
		if r := recover(); r != nil {
			rc = vtabFail(tls, pVTab, recovered("virtual table's BestIndex", r))
		}
	}()
	e := vtabOf(pVTab)
	if e == nil {
		return vtabFail(tls, pVTab, errNoGoSide)
	}
	info := &IndexInfo{tls: tls, p: (*sqlite3.Tsqlite3_index_info)(cptr(pInfo))}
	if err := e.t.BestIndex(info); err != nil {
		if errors.Is(err, ErrConstraint) {
			return sqlite3.SQLITE_CONSTRAINT
		}
		return vtabFail(tls, pVTab, err)
	}
	return OK
}

func vtabOpen(tls *libc.TLS, pVTab, ppCur uintptr) (rc int32) {
	defer func() {
		if r := recover(); r != nil {
			rc = vtabFail(tls, pVTab, recovered("virtual table's Open", r))
		}
	}()
	e := vtabOf(pVTab)
	if e == nil {
		return vtabFail(tls, pVTab, errNoGoSide)
	}
	cur, err := e.t.Open()
	if err != nil {
		return vtabFail(tls, pVTab, err)
	}
	p := sqlite3.Xsqlite3_malloc64(tls, uint64(unsafe.Sizeof(cCursor{})))
	if p == 0 {
		cur.Close()
		return NOMEM
	}
	*(*cCursor)(cptr(p)) = cCursor{h: NewHandle(&cursorEntry{cur: cur, fe: funcEntry{name: e.m.name, c: e.m.c}})}
	*(*uintptr)(cptr(ppCur)) = p
	return OK
}

func vtabClose(tls *libc.TLS, pCur uintptr) (rc int32) {
	c := (*cCursor)(cptr(pCur))
	e, _ := c.h.Value().(*cursorEntry)
	c.h.Delete()
	sqlite3.Xsqlite3_free(tls, pCur)
	if e != nil {
		func() {
			defer func() { recover() }()
			e.cur.Close()
		}()
	}
	return OK
}

// cursorCall runs fn on the cursor pCur, turning its error or panic into
// the table's error message.
func cursorCall(tls *libc.TLS, pCur uintptr, what string, fn func(*cursorEntry) error) (rc int32) {
	pVTab := (*cCursor)(cptr(pCur)).base.FpVtab
	defer func() {
		if r := recover(); r != nil {
			rc = vtabFail(tls, pVTab, recovered("virtual table's "+what, r))
		}
	}()
	e := cursorOf(pCur)
	if e == nil {
		return vtabFail(tls, pVTab, errNoGoSide)
	}
	if err := fn(e); err != nil {
		return vtabFail(tls, pVTab, err)
	}
	return OK
}

func vtabFilter(tls *libc.TLS, pCur uintptr, idxNum int32, idxStr uintptr, argc int32, argv uintptr) int32 {
	return cursorCall(tls, pCur, "Filter", func(e *cursorEntry) error {
		x := &Context{e: &e.fe, tls: tls, argc: int(argc), argv: argv}
		return e.cur.Filter(int(idxNum), goString(idxStr), x)
	})
}

func vtabNext(tls *libc.TLS, pCur uintptr) int32 {
	return cursorCall(tls, pCur, "Next", func(e *cursorEntry) error { return e.cur.Next() })
}

func vtabEOF(tls *libc.TLS, pCur uintptr) (eof int32) {
	defer func() {
		if recover() != nil {
			eof = 1
		}
	}()
	if e := cursorOf(pCur); e == nil || e.cur.EOF() {
		return 1
	}
	return 0
}

func vtabColumn(tls *libc.TLS, pCur, ctx uintptr, i int32) int32 {
	return cursorCall(tls, pCur, "Column", func(e *cursorEntry) error {
		e.fe.c.callSeq++
		x := &Context{e: &e.fe, tls: tls, p: ctx, seq: e.fe.c.callSeq}
		defer func() { x.seq = 0 }()
		return e.cur.Column(x, int(i)) // a ResultError fails the statement by itself
	})
}

func vtabRowid(tls *libc.TLS, pCur, pRowid uintptr) int32 {
	return cursorCall(tls, pCur, "Rowid", func(e *cursorEntry) error {
		id, err := e.cur.Rowid()
		*(*int64)(cptr(pRowid)) = id
		return err
	})
}

// ErrConstraint, returned by BestIndex, tells SQLite that the plan it
// offered is not usable (SQLITE_CONSTRAINT), so that it tries another.
var ErrConstraint = errors.New("virtual table: this combination of constraints is unusable")

// IndexInfo is the sqlite3_index_info of one xBestIndex call: what SQLite
// offers (constraints, ORDER BY, columns used) and the plan the table
// answers with. It is valid during the call only.
type IndexInfo struct {
	tls *libc.TLS
	p   *sqlite3.Tsqlite3_index_info
}

// NConstraint returns the number of constraints offered.
func (x *IndexInfo) NConstraint() int { return int(x.p.FnConstraint) }

// Constraint returns constraint i: the column (-1 for the rowid), the
// operator (SQLITE_INDEX_CONSTRAINT_*), and whether it is usable.
func (x *IndexInfo) Constraint(i int) (column int, op int, usable bool) {
	c := cindex[sqlite3.Tsqlite3_index_constraint](x.p.FaConstraint, i)
	return int(c.FiColumn), int(c.Fop), c.Fusable != 0
}

// NOrderBy returns the number of ORDER BY terms.
func (x *IndexInfo) NOrderBy() int { return int(x.p.FnOrderBy) }

// OrderBy returns ORDER BY term i: the column and whether it descends.
func (x *IndexInfo) OrderBy(i int) (column int, desc bool) {
	o := cindex[sqlite3.Tsqlite3_index_orderby](x.p.FaOrderBy, i)
	return int(o.FiColumn), o.Fdesc != 0
}

// ColUsed returns the mask of the columns the statement uses (bit 63 for
// every column from 63 on).
func (x *IndexInfo) ColUsed() uint64 { return x.p.FcolUsed }

// EstimatedCost and EstimatedRows return the estimates as SQLite set them
// before the call (its defaults).
func (x *IndexInfo) EstimatedCost() float64 { return x.p.FestimatedCost }
func (x *IndexInfo) EstimatedRows() int64   { return x.p.FestimatedRows }

// INDEX_SCAN_UNIQUE is the plan flag of a scan that returns at most one row.
const INDEX_SCAN_UNIQUE = sqlite3.SQLITE_INDEX_SCAN_UNIQUE

// SetUsage passes constraint i's value to Filter as argument argvIndex
// (from 1; 0 does not pass it), and, if omit, tells SQLite not to check
// the constraint again.
func (x *IndexInfo) SetUsage(i, argvIndex int, omit bool) {
	u := cindex[sqlite3.Tsqlite3_index_constraint_usage](x.p.FaConstraintUsage, i)
	u.FargvIndex = int32(argvIndex)
	u.Fomit = 0
	if omit {
		u.Fomit = 1
	}
}

// SetPlan sets the plan's number and string (passed to Filter), whether
// it returns the rows in the ORDER BY's order, its estimated cost and
// rows, and its flags (SQLITE_INDEX_SCAN_UNIQUE).
func (x *IndexInfo) SetPlan(idxNum int, idxStr string, orderByConsumed bool, cost float64, rows int64, flags int) error {
	x.p.FidxNum = int32(idxNum)
	if idxStr != "" {
		z := cString(x.tls, idxStr)
		if z == 0 {
			return errors.New("out of memory")
		}
		x.p.FidxStr, x.p.FneedToFreeIdxStr = z, 1
	}
	x.p.ForderByConsumed = 0
	if orderByConsumed {
		x.p.ForderByConsumed = 1
	}
	x.p.FestimatedCost = cost
	x.p.FestimatedRows = rows
	x.p.FidxFlags = int32(flags)
	return nil
}
