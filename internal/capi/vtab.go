package capi

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"unsafe"

	"modernc.org/libc"
	"modernc.org/libc/sys/types"
	sqlite3 "modernc.org/sqlite/lib"
)

// Virtual tables written in Go, usable as CREATE VIRTUAL TABLE ... USING
// name(...) and, eponymously, as name or the table-valued function
// name(...). A table whose Go side is a VTabUpdater takes INSERT, UPDATE
// and DELETE; the others refuse them as SQLite refuses writes to a module
// without xUpdate. VTabTx, VTabSavepointer and VTabDestroyer are the
// optional transaction, savepoint and DROP TABLE methods.
//
// Memory: the one sqlite3_module every Go module shares is allocated once
// on the libc heap and never freed (SQLite keeps a pointer to it for as
// long as a connection has a module). A table's
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

// VTabUpdater is a VTab that takes writes (xUpdate). Update gets the
// arguments as SQLite passes them: for a DELETE, the row's rowid alone;
// else the old rowid (NULL for an INSERT), the new rowid (NULL for an
// INSERT that gave none) and the columns; in a table declared WITHOUT
// ROWID (withoutRowid), the rowids are PRIMARY KEY values; replace is
// set for an INSERT or UPDATE whose conflict resolution is REPLACE, which
// SQLite leaves to the table (sqlite3_vtab_on_conflict). It returns an
// inserted row's rowid, and with an error the result code to fail the
// statement with (ERROR, CONSTRAINT or MISMATCH).
type VTabUpdater interface {
	Update(args *Context, withoutRowid, replace bool) (rowid int64, code int32, err error)
}

// VTabTx is a VTab that takes part in transactions: Begin when a
// transaction first writes it, Sync (every table's, before the database
// commits) then Commit, or Rollback.
type VTabTx interface {
	Begin() error
	Sync() error
	Commit() error
	Rollback() error
}

// VTabSavepointer is a VTab that follows savepoints, the statement
// transaction of each write included: Savepoint(n) opens level n,
// Release(n) keeps its changes, RollbackTo(n) undoes those made since.
type VTabSavepointer interface {
	Savepoint(n int) error
	Release(n int) error
	RollbackTo(n int) error
}

// VTabDestroyer is a VTab with something to delete when its table is
// dropped: Destroy is called then, instead of Disconnect.
type VTabDestroyer interface {
	Destroy() error
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
	t            VTab
	m            *moduleEntry
	table        string
	withoutRowid bool // declared WITHOUT ROWID
}

type cursorEntry struct {
	cur VTabCursor
	fe  funcEntry // for the Contexts of Column
	// pending is the panic of an EOF, which has no error result: the
	// cursor's next call fails with it.
	pending error
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
	m.FiVersion = 2
	m.FxCreate = funcPtr(vtabConnect)
	m.FxConnect = funcPtr(vtabConnect)
	m.FxBestIndex = funcPtr(vtabBestIndex)
	m.FxDisconnect = funcPtr(vtabDisconnect)
	m.FxDestroy = funcPtr(vtabDestroy)
	m.FxOpen = funcPtr(vtabOpen)
	m.FxClose = funcPtr(vtabClose)
	m.FxFilter = funcPtr(vtabFilter)
	m.FxNext = funcPtr(vtabNext)
	m.FxEof = funcPtr(vtabEOF)
	m.FxColumn = funcPtr(vtabColumn)
	m.FxRowid = funcPtr(vtabRowid)
	m.FxUpdate = funcPtr(vtabUpdate)
	m.FxBegin = funcPtr(vtabBegin)
	m.FxSync = funcPtr(vtabSync)
	m.FxCommit = funcPtr(vtabCommit)
	m.FxRollback = funcPtr(vtabRollback)
	m.FxSavepoint = funcPtr(vtabSavepoint)
	m.FxRelease = funcPtr(vtabRelease)
	m.FxRollbackTo = funcPtr(vtabRollbackTo)
	return p
})

// CreateModule registers the virtual table module name on c
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

// vtabFail makes err the error message of table pVTab, and the cause of
// the failing call's error on c (if not nil), and returns SQLITE_ERROR.
func vtabFail(tls *libc.TLS, pVTab uintptr, c *Conn, err error) int32 {
	v := (*sqlite3.Tsqlite3_vtab)(cptr(pVTab))
	if v.FzErrMsg != 0 {
		sqlite3.Xsqlite3_free(tls, v.FzErrMsg)
	}
	v.FzErrMsg = sqliteString(tls, err.Error())
	if c != nil && c.cbErr == nil {
		c.cbErr = err
	}
	return ERROR
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
	e, _ := Handle(pAux).Value().(*moduleEntry)
	fail := func(err error) int32 {
		*(*uintptr)(cptr(pzErr)) = sqliteString(tls, err.Error())
		if e != nil && e.c.cbErr == nil {
			e.c.cbErr = err
		}
		return ERROR
	}
	defer func() {
		if r := recover(); r != nil {
			rc = fail(PanicError("virtual table's Connect", r))
		}
	}()
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
	zDecl := sqliteString(tls, decl)
	if zDecl == 0 {
		t.Disconnect()
		return NOMEM
	}
	rc = sqlite3.Xsqlite3_declare_vtab(tls, db, zDecl)
	sqlite3.Xsqlite3_free(tls, zDecl)
	if rc != OK {
		t.Disconnect()
		msg := goString(sqlite3.Xsqlite3_errmsg(tls, db))
		if msg == ErrStr(OK) {
			// SQLite refused without a message: its one such refusal.
			msg = "a virtual table declared WITHOUT ROWID needs a one-column PRIMARY KEY"
		}
		return fail(fmt.Errorf("declaring %q: %s", decl, msg))
	}
	// Update's constraint errors follow the statement's ON CONFLICT (IGNORE
	// skips the row; FAIL, ABORT and ROLLBACK as for a table; REPLACE is
	// the Go side's to carry out, and its constraint error acts as ABORT).
	va := tls.Alloc(8)
	sqlite3.Xsqlite3_vtab_config(tls, db, sqlite3.SQLITE_VTAB_CONSTRAINT_SUPPORT, libc.VaList(va, int32(1)))
	tls.Free(8)
	withoutRowid := false
	if vc := (*sqlite3.Tsqlite3)(cptr(db)).FpVtabCtx; vc != 0 {
		if tab := (*sqlite3.TVtabCtx)(cptr(vc)).FpTab; tab != 0 {
			withoutRowid = (*sqlite3.TTable)(cptr(tab)).FtabFlags&sqlite3.TF_WithoutRowid != 0
		}
	}
	p := sqlite3.Xsqlite3_malloc64(tls, uint64(unsafe.Sizeof(cVTab{})))
	if p == 0 {
		t.Disconnect()
		return NOMEM
	}
	*(*cVTab)(cptr(p)) = cVTab{h: NewHandle(&vtabEntry{t: t, m: e, table: args[2], withoutRowid: withoutRowid})}
	*(*uintptr)(cptr(ppVTab)) = p
	return OK
}

func vtabDisconnect(tls *libc.TLS, pVTab uintptr) int32 {
	return vtabEnd(tls, pVTab, false)
}

func vtabDestroy(tls *libc.TLS, pVTab uintptr) int32 {
	return vtabEnd(tls, pVTab, true)
}

// vtabEnd frees the table pVTab and ends its Go side: Destroy (when
// the table is dropped, if the Go side has it) or Disconnect.
func vtabEnd(tls *libc.TLS, pVTab uintptr, drop bool) (rc int32) {
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
			if d, ok := e.t.(VTabDestroyer); ok && drop {
				d.Destroy()
				return
			}
			e.t.Disconnect()
		}()
	}
	return OK
}

func vtabBestIndex(tls *libc.TLS, pVTab, pInfo uintptr) int32 {
	unusable := false
	rc := tableCall(tls, pVTab, "BestIndex", func(e *vtabEntry) error {
		info := &IndexInfo{tls: tls, p: (*sqlite3.Tsqlite3_index_info)(cptr(pInfo))}
		err := e.t.BestIndex(info)
		if errors.Is(err, ErrConstraint) {
			unusable = true // not an error: SQLite tries another plan
			return nil
		}
		return err
	})
	if rc == OK && unusable {
		return sqlite3.SQLITE_CONSTRAINT
	}
	return rc
}

func vtabOpen(tls *libc.TLS, pVTab, ppCur uintptr) int32 {
	nomem := false
	rc := tableCall(tls, pVTab, "Open", func(e *vtabEntry) error {
		cur, err := e.t.Open()
		if err != nil {
			return err
		}
		p := sqlite3.Xsqlite3_malloc64(tls, uint64(unsafe.Sizeof(cCursor{})))
		if p == 0 {
			cur.Close()
			nomem = true
			return errors.New("out of memory")
		}
		*(*cCursor)(cptr(p)) = cCursor{h: NewHandle(&cursorEntry{cur: cur, fe: funcEntry{name: e.m.name, what: "virtual table", c: e.m.c}})}
		*(*uintptr)(cptr(ppCur)) = p
		return nil
	})
	if rc == ERROR && nomem {
		return NOMEM
	}
	return rc
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
	e := cursorOf(pCur)
	if e == nil {
		return vtabFail(tls, pVTab, nil, errNoGoSide)
	}
	defer func() {
		if r := recover(); r != nil {
			rc = vtabFail(tls, pVTab, e.fe.c, PanicError("virtual table's "+what, r))
		}
	}()
	if err := e.pending; err != nil {
		e.pending = nil
		return vtabFail(tls, pVTab, e.fe.c, err)
	}
	if err := fn(e); err != nil {
		return vtabFail(tls, pVTab, e.fe.c, err)
	}
	return OK
}

func vtabFilter(tls *libc.TLS, pCur uintptr, idxNum int32, idxStr uintptr, argc int32, argv uintptr) int32 {
	return cursorCall(tls, pCur, "Filter", func(e *cursorEntry) error {
		x := &Context{e: &e.fe, tls: tls, argc: int(argc), argv: argv}
		return e.cur.Filter(int(idxNum), goString(idxStr), x)
	})
}

// ArgList calls fn with each value of Filter's argument i if it is the
// list of an IN constraint that BestIndex asked to have whole
// (IndexInfo.SetIn), as Arg returns a value (b valid during the call of fn
// only), and reports whether it was. The values come without duplicates,
// in ascending order.
func (x *Context) ArgList(i int, fn func(typ int32, i64 int64, f64 float64, b []byte)) (bool, error) {
	if uint(i) >= uint(x.argc) {
		return false, nil
	}
	pVal := *cindex[uintptr](x.argv, i)
	pp := x.tls.Alloc(8)
	defer x.tls.Free(8)
	rc := sqlite3.Xsqlite3_vtab_in_first(x.tls, pVal, pp)
	if rc == ERROR {
		return false, nil
	}
	for ; rc == OK; rc = sqlite3.Xsqlite3_vtab_in_next(x.tls, pVal, pp) {
		fn(memValue(x.tls, *(*uintptr)(cptr(pp))))
	}
	if rc != DONE {
		return true, &Error{Code: rc, Msg: ErrStr(rc)}
	}
	return true, nil
}

func vtabNext(tls *libc.TLS, pCur uintptr) int32 {
	return cursorCall(tls, pCur, "Next", func(e *cursorEntry) error { return e.cur.Next() })
}

// vtabEOF reports the end of the scan. xEof has no error result: a panic
// says "not the end", so that SQLite makes another call on the cursor,
// which fails with it (cursorCall).
func vtabEOF(tls *libc.TLS, pCur uintptr) (eof int32) {
	e := cursorOf(pCur)
	if e == nil {
		return 1
	}
	defer func() {
		if r := recover(); r != nil {
			e.pending = PanicError("virtual table's EOF", r)
			eof = 0
		}
	}()
	if e.pending != nil || !e.cur.EOF() {
		return 0
	}
	return 1
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

// tableCall runs fn on the Go side of table pVTab, turning its error or
// panic into the table's error message.
func tableCall(tls *libc.TLS, pVTab uintptr, what string, fn func(*vtabEntry) error) (rc int32) {
	e := vtabOf(pVTab)
	if e == nil {
		return vtabFail(tls, pVTab, nil, errNoGoSide)
	}
	defer func() {
		if r := recover(); r != nil {
			rc = vtabFail(tls, pVTab, e.m.c, PanicError("virtual table's "+what, r))
		}
	}()
	if err := fn(e); err != nil {
		return vtabFail(tls, pVTab, e.m.c, err)
	}
	return OK
}

func vtabUpdate(tls *libc.TLS, pVTab uintptr, argc int32, argv, pRowid uintptr) int32 {
	code := int32(ERROR)
	rc := tableCall(tls, pVTab, "Update", func(e *vtabEntry) error {
		u, ok := e.t.(VTabUpdater)
		if !ok {
			return fmt.Errorf("table %s may not be modified", e.table)
		}
		fe := funcEntry{name: e.m.name, c: e.m.c}
		x := &Context{e: &fe, tls: tls, argc: int(argc), argv: argv}
		replace := argc > 1 && sqlite3.Xsqlite3_vtab_on_conflict(tls, e.m.c.db) == sqlite3.SQLITE_REPLACE
		rowid, c, err := u.Update(x, e.withoutRowid, replace)
		if err != nil {
			code = c
			return err
		}
		*(*int64)(cptr(pRowid)) = rowid
		return nil
	})
	if rc == ERROR && (code == CONSTRAINT || code == MISMATCH) {
		if e := vtabOf(pVTab); code == CONSTRAINT && e != nil && sqlite3.Xsqlite3_vtab_on_conflict(tls, e.m.c.db) == sqlite3.SQLITE_IGNORE {
			e.m.c.cbErr = nil // SQLite skips the row: no error to explain
		}
		return code
	}
	return rc
}

// txCall runs the VTabTx method call picks, if the Go side has them.
func txCall(tls *libc.TLS, pVTab uintptr, what string, call func(VTabTx) error) int32 {
	return tableCall(tls, pVTab, what, func(e *vtabEntry) error {
		if t, ok := e.t.(VTabTx); ok {
			return call(t)
		}
		return nil
	})
}

func vtabBegin(tls *libc.TLS, pVTab uintptr) int32 {
	return txCall(tls, pVTab, "Begin", VTabTx.Begin)
}

func vtabSync(tls *libc.TLS, pVTab uintptr) int32 {
	return txCall(tls, pVTab, "Sync", VTabTx.Sync)
}

func vtabCommit(tls *libc.TLS, pVTab uintptr) int32 {
	return droppedCall(pVTab, VTabTx.Commit)
}

func vtabRollback(tls *libc.TLS, pVTab uintptr) int32 {
	return droppedCall(pVTab, VTabTx.Rollback)
}

// droppedCall runs the VTabTx method call picks (Commit or Rollback), if
// the Go side has them, and drops its error or panic, as SQLite drops
// their result: recorded, it would explain a later, unrelated failure.
func droppedCall(pVTab uintptr, call func(VTabTx) error) int32 {
	if e := vtabOf(pVTab); e != nil {
		if t, ok := e.t.(VTabTx); ok {
			func() {
				defer func() { recover() }()
				call(t)
			}()
		}
	}
	return OK
}

// savepointCall runs the VTabSavepointer method call picks, if the Go
// side has them.
func savepointCall(tls *libc.TLS, pVTab uintptr, what string, n int32, call func(VTabSavepointer, int) error) int32 {
	return tableCall(tls, pVTab, what, func(e *vtabEntry) error {
		if s, ok := e.t.(VTabSavepointer); ok {
			return call(s, int(n))
		}
		return nil
	})
}

func vtabSavepoint(tls *libc.TLS, pVTab uintptr, n int32) int32 {
	return savepointCall(tls, pVTab, "Savepoint", n, VTabSavepointer.Savepoint)
}

func vtabRelease(tls *libc.TLS, pVTab uintptr, n int32) int32 {
	return savepointCall(tls, pVTab, "Release", n, VTabSavepointer.Release)
}

func vtabRollbackTo(tls *libc.TLS, pVTab uintptr, n int32) int32 {
	return savepointCall(tls, pVTab, "RollbackTo", n, VTabSavepointer.RollbackTo)
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

// Collation returns the collating sequence of constraint i ("BINARY",
// "NOCASE", ...), which the table must use to compare its values.
func (x *IndexInfo) Collation(i int) string {
	return goString(sqlite3.Xsqlite3_vtab_collation(x.tls, uintptr(unsafe.Pointer(x.p)), int32(i)))
}

// RHSValue returns the right-hand side of constraint i if SQLite knows it
// while planning (a literal), as Stmt.Column returns a value, with b
// copied; ok is false if it does not.
func (x *IndexInfo) RHSValue(i int) (typ int32, i64 int64, f64 float64, b []byte, ok bool) {
	pp := x.tls.Alloc(8)
	defer x.tls.Free(8)
	*(*uintptr)(cptr(pp)) = 0
	if sqlite3.Xsqlite3_vtab_rhs_value(x.tls, uintptr(unsafe.Pointer(x.p)), int32(i), pp) != OK {
		return NULL, 0, 0, nil, false
	}
	typ, i64, f64, b = memValue(x.tls, *(*uintptr)(cptr(pp)))
	return typ, i64, f64, append([]byte(nil), b...), true
}

// Distinct says how the statement uses the rows (sqlite3_vtab_distinct):
// 0 in full and in order if there is an ORDER BY; 1 grouped (GROUP BY:
// rows of a group together, any order); 2 distinct (DISTINCT: one row per
// set of used columns' values suffices); 3 distinct and in ORDER BY's
// order.
func (x *IndexInfo) Distinct() int {
	return int(sqlite3.Xsqlite3_vtab_distinct(x.tls, uintptr(unsafe.Pointer(x.p))))
}

// IsIn reports whether constraint i is an IN whose values the table can
// take all at once (SetIn).
func (x *IndexInfo) IsIn(i int) bool {
	return sqlite3.Xsqlite3_vtab_in(x.tls, uintptr(unsafe.Pointer(x.p)), int32(i), -1) != 0
}

// SetIn asks SQLite to pass the IN constraint i's values to Filter at
// once, as one argument (InList), instead of calling Filter once per
// value; constraint i must also have an argvIndex.
func (x *IndexInfo) SetIn(i int) {
	sqlite3.Xsqlite3_vtab_in(x.tls, uintptr(unsafe.Pointer(x.p)), int32(i), 1)
}

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
	if idxNum < math.MinInt32 || idxNum > math.MaxInt32 {
		return fmt.Errorf("IdxNum %d is out of SQLite's range (a 32-bit int)", idxNum)
	}
	if strings.IndexByte(idxStr, 0) >= 0 {
		return fmt.Errorf("IdxStr %q contains a NUL byte, where SQLite's C string would end", idxStr)
	}
	x.p.FidxNum = int32(idxNum)
	if idxStr != "" {
		z := sqliteString(x.tls, idxStr)
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
