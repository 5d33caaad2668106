package capi

import (
	"context"
	"sync"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// Flags for [Open] (sqlite3_open_v2), spelled as SQLite spells them.
const (
	OPEN_READONLY  = sqlite3.SQLITE_OPEN_READONLY
	OPEN_READWRITE = sqlite3.SQLITE_OPEN_READWRITE
	OPEN_CREATE    = sqlite3.SQLITE_OPEN_CREATE
	OPEN_URI       = sqlite3.SQLITE_OPEN_URI
	OPEN_MEMORY    = sqlite3.SQLITE_OPEN_MEMORY
	OPEN_NOMUTEX   = sqlite3.SQLITE_OPEN_NOMUTEX
	OPEN_EXRESCODE = sqlite3.SQLITE_OPEN_EXRESCODE
)

// Transaction states reported by [Conn.TxnState] (sqlite3_txn_state).
const (
	TXN_NONE  = sqlite3.SQLITE_TXN_NONE
	TXN_READ  = sqlite3.SQLITE_TXN_READ
	TXN_WRITE = sqlite3.SQLITE_TXN_WRITE
)

// Conn is one SQLite connection (sqlite3*) and the libc TLS its calls run on.
//
// A Conn is used by one goroutine at a time. Only [Conn.Interrupt],
// [Conn.WakeBusy] and the firing of a [Watch] may happen concurrently with
// other calls; they synchronise with [Conn.Close] through mu.
type Conn struct {
	tls    *libc.TLS
	db     uintptr // sqlite3*; 0 once closed (written under mu)
	handle Handle  // registry key passed to callbacks as pArg

	// mu serialises Close against the goroutines that interrupt: a Watch
	// firing and Interrupt. The owner's calls do not take it.
	mu sync.Mutex

	// intr is a C int32 holding the number of fired, not yet stopped
	// watches. The progress handler reads it, so that a cancellation that
	// SQLite would drop (an interrupt delivered before a statement starts
	// is cleared when it does) still stops the statement.
	intr uintptr

	ctx   context.Context // the context of the call in progress
	sql   cbuf            // SQL text for the prepare call in progress
	tmp   cbuf            // one value bound with SQLITE_TRANSIENT
	busy  busyState
	hooks hookState

	// stmts holds every statement prepared on c and not yet finalized, so
	// that Close can finalize them (and free their bind arenas) instead of
	// leaving SQLite a half-closed "zombie" connection.
	stmts map[*Stmt]struct{}

	// cbErr is the error a Go function or collation (function.go) failed
	// with during the current step: the cause of the step's error.
	cbErr error
	// tracer is told of each statement's start and end (SetTracer).
	tracer Tracer
	// stepping is the statement (sqlite3_stmt*) in sqlite3_step, 0 when
	// none is: an aggregate's Final that runs while it halts after an
	// error has its error dropped by SQLite (function.go, ResultError).
	stepping uintptr
	// callSeq numbers the calls of Go functions (Context.Seq).
	callSeq uint64
	// cbInterrupted: a collation's panic interrupted the statement
	// (sqlite3_interrupt), which cbErr then explains.
	cbInterrupted bool
	// auth judges the user's statements (SetAuthorizer); authUser says
	// whether the compilation in progress is of one (PREPARE_USER).
	auth     Authorizer
	authUser bool
	// aggs holds the Go state of the aggregate groups in progress, by
	// the address of their sqlite3_aggregate_context.
	aggs map[uintptr]*any
	// aggKey and aggState are the group of aggs used last (rows of one
	// group tend to come one after the other).
	aggKey   uintptr
	aggState *any
}

// progressOps is how many virtual-machine steps SQLite runs between calls of
// the progress handler, which only checks an atomic flag.
const progressOps = 1000

// Open opens a connection with sqlite3_open_v2. flags are OPEN_* values
// (OPEN_EXRESCODE is always added); vfs is the name of a registered VFS, or
// "" for the default. The connection has the package's busy handler (with a
// zero timeout until [Conn.SetBusyTimeout]) and progress handler installed.
func Open(filename string, flags int32, vfs string) (*Conn, error) {
	tls := libc.NewTLS()
	c := &Conn{tls: tls, ctx: context.Background(), stmts: map[*Stmt]struct{}{}}
	if rc := initialize(tls); rc != OK {
		tls.Close()
		return nil, &Error{Code: rc, Msg: "sqlite3_initialize: " + ErrStr(rc)}
	}

	// Stack order: ppDb, filename, vfs; freed in reverse.
	pp := tls.Alloc(8)
	zName, nName := stackString(tls, filename)
	var zVfs uintptr
	var nVfs int
	if vfs != "" {
		zVfs, nVfs = stackString(tls, vfs)
	}
	rc := sqlite3.Xsqlite3_open_v2(tls, zName, pp, flags|OPEN_EXRESCODE, zVfs)
	db := *(*uintptr)(cptr(pp))
	if zVfs != 0 {
		tls.Free(nVfs)
	}
	tls.Free(nName)
	tls.Free(8)

	if rc != OK {
		err := newError(tls, db, rc)
		if cause, ok := openErrs.LoadAndDelete(tls); ok {
			err.Cause = cause.(error)
			err.Msg += ": " + err.Cause.Error()
		}
		if db != 0 {
			// SQLite allocates a handle even on most failures; it carries
			// the message read above and must be closed.
			sqlite3.Xsqlite3_close_v2(tls, db)
		}
		tls.Close()
		return nil, err
	}
	c.db = db
	c.intr = libc.Xcalloc(tls, 1, 4)
	if c.intr == 0 {
		sqlite3.Xsqlite3_close_v2(tls, db)
		tls.Close()
		return nil, &Error{Code: NOMEM, Msg: ErrStr(NOMEM)}
	}
	c.handle = NewHandle(c)
	sqlite3.Xsqlite3_progress_handler(tls, db, progressOps, funcPtr(progressCallback), c.intr)
	c.installBusyHandler()
	return c, nil
}

// Close finalizes the statements still open on c, closes the connection
// (sqlite3_close_v2) and frees everything the Conn owns. A Stmt of c is
// finalized afterwards: Finalize is a no-op, Step and Reset fail with
// SQLITE_MISUSE. Close is idempotent.
func (c *Conn) Close() error {
	if c.db == 0 {
		return nil
	}
	for s := range c.stmts {
		s.Finalize()
	}
	c.mu.Lock()
	db := c.db
	c.db = 0
	c.mu.Unlock()
	var err error
	if rc := sqlite3.Xsqlite3_close_v2(c.tls, db); rc != OK {
		err = newError(c.tls, 0, rc)
	}
	c.handle.Delete()
	c.busy.stopTimer()
	libc.Xfree(c.tls, c.intr)
	c.intr = 0
	c.sql.free(c.tls)
	c.tmp.free(c.tls)
	openErrs.Delete(c.tls)
	c.tls.Close()
	c.tls = nil
	return err
}

// QueryOnly reports whether PRAGMA query_only is on for c: SQLite's
// SQLITE_QueryOnly flag, read from its sqlite3 struct (memory SQLite owns
// until the connection closes) rather than with a statement.
func (c *Conn) QueryOnly() bool {
	return c.db != 0 && (*sqlite3.Tsqlite3)(cptr(c.db)).Fflags&sqlite3.SQLITE_QueryOnly != 0
}

// Closed reports whether Close has been called.
func (c *Conn) Closed() bool { return c.db == 0 }

// Handle returns the key under which c is registered for callbacks.
func (c *Conn) Handle() Handle { return c.handle }

// err builds the error for rc returned by a call on c.
// A Go function's or collation's failure during the call is its cause.
func (c *Conn) err(rc int32) error {
	e := newError(c.tls, c.db, rc)
	if c.cbErr != nil && callbackCode(rc, c.cbInterrupted) {
		e.Cause = c.cbErr
		switch rc & 0xff {
		case INTERRUPT:
			e.Code, e.Msg = ERROR, c.cbErr.Error()
		case AUTH:
			e.Msg += ": " + c.cbErr.Error() // SQLite's text says only what was refused
		case ERROR:
			if e.Msg == ErrStr(ERROR) && c.cbErr.Error() != "" {
				// SQLite did not take the callback's message (a virtual
				// table's savepoint methods): its text is the only account.
				e.Msg = c.cbErr.Error()
			}
		}
	}
	c.clearCallbackError()
	return e
}

// callbackCode reports whether a step that failed with rc can have failed
// because of a Go callback: the codes callbacks fail with. An error SQLite
// dropped (an aggregate's Final run as a failed statement ends) is not the
// cause of a TOOBIG, NOMEM or I/O error.
func callbackCode(rc int32, interrupted bool) bool {
	switch rc & 0xff {
	case ERROR, CONSTRAINT, MISMATCH, AUTH:
		return true
	case INTERRUPT:
		return interrupted
	}
	return false
}

// clearCallbackError forgets the failure of a Go function or collation:
// it belongs to the call that has just ended (or to an aggregate's Final
// that SQLite ran as the statement ended, whose result it drops).
func (c *Conn) clearCallbackError() { c.cbErr, c.cbInterrupted = nil, false }

// halting reports whether the statement in sqlite3_step has failed and is
// halting: SQLite then runs the Finals of its open aggregates and drops
// their results.
func (c *Conn) halting() bool {
	return c.stepping != 0 && (*sqlite3.TVdbe)(cptr(c.stepping)).Frc != OK
}

// Enter makes ctx the context of the call now starting on c and returns the
// context it replaces, which the caller passes to [Conn.Leave] when the call
// ends. Calls nest (a prepare inside an exec), hence the save and restore.
// Enter also puts the package's busy handler back if SQL such as PRAGMA
// busy_timeout replaced it, adopting the timeout that SQL set, and drops
// a [Conn.GiveUpBusy] or [Conn.RetryBusyNow] request left by an earlier
// call: SQLite does not always call the busy handler for an SQLITE_BUSY (it
// does not inside a read transaction), and such a request is about the lock
// of the call that made it.
func (c *Conn) Enter(ctx context.Context) (prev context.Context) {
	prev = c.ctx
	c.ctx = ctx
	c.busy.giveUp, c.busy.retryNow = false, false
	c.clearCallbackError()
	c.checkBusyHandler()
	return prev
}

// Leave restores the context Enter returned.
func (c *Conn) Leave(prev context.Context) { c.ctx = prev }

// Context returns the context of the call in progress on c (Background
// between calls). Code that SQLite calls back into from inside that call —
// the busy handler, the VFS waiting for the writer lock — waits on it.
func (c *Conn) Context() context.Context { return c.ctx }

// Exec runs every statement of sql, which takes no parameters, stepping each
// to completion and discarding rows. It is for setup SQL (PRAGMAs).
func (c *Conn) Exec(sql string) error {
	for sql != "" {
		s, tail, err := c.Prepare(sql, 0)
		if err != nil {
			return err
		}
		sql = tail
		if s == nil {
			continue
		}
		for {
			row, err := s.Step()
			if err != nil {
				s.Finalize()
				return err
			}
			if !row {
				break
			}
		}
		if err := s.Finalize(); err != nil {
			return err
		}
	}
	return nil
}

// Changes returns sqlite3_changes64: rows changed by the most recent
// INSERT, UPDATE or DELETE on c, not counting triggers.
func (c *Conn) Changes() int64 { return sqlite3.Xsqlite3_changes64(c.tls, c.db) }

// TotalChanges returns sqlite3_total_changes64: rows changed since open.
func (c *Conn) TotalChanges() int64 { return sqlite3.Xsqlite3_total_changes64(c.tls, c.db) }

// LastInsertRowID returns sqlite3_last_insert_rowid.
func (c *Conn) LastInsertRowID() int64 { return sqlite3.Xsqlite3_last_insert_rowid(c.tls, c.db) }

// GetAutocommit reports whether c is in autocommit mode, i.e. not inside a
// transaction (sqlite3_get_autocommit).
func (c *Conn) GetAutocommit() bool { return sqlite3.Xsqlite3_get_autocommit(c.tls, c.db) != 0 }

// ActiveStatement reports whether a statement of c is running: stepped,
// and neither reset nor run to completion (sqlite3_stmt_busy), as an open
// query's is. Its read transaction stays open meanwhile.
func (c *Conn) ActiveStatement() bool {
	for p := sqlite3.Xsqlite3_next_stmt(c.tls, c.db, 0); p != 0; p = sqlite3.Xsqlite3_next_stmt(c.tls, c.db, p) {
		if sqlite3.Xsqlite3_stmt_busy(c.tls, p) != 0 {
			return true
		}
	}
	return false
}

// TxnState returns sqlite3_txn_state for the schema ("main", "temp", an
// attached name) or, for "", the most advanced state of any schema:
// TXN_NONE, TXN_READ or TXN_WRITE; -1 for an unknown schema.
func (c *Conn) TxnState(schema string) int32 {
	if schema == "" {
		return sqlite3.Xsqlite3_txn_state(c.tls, c.db, 0)
	}
	z, n := stackString(c.tls, schema)
	defer c.tls.Free(n)
	return sqlite3.Xsqlite3_txn_state(c.tls, c.db, z)
}

// Filename returns the file name of a schema ("" for "main"), empty for an
// in-memory or temporary database (sqlite3_db_filename).
func (c *Conn) Filename(schema string) string {
	if schema == "" {
		schema = "main"
	}
	z, n := stackString(c.tls, schema)
	defer c.tls.Free(n)
	return goString(sqlite3.Xsqlite3_db_filename(c.tls, c.db, z))
}

// DBReadOnly reports whether a schema is read-only: 1 read-only, 0
// read-write, -1 no such schema (sqlite3_db_readonly).
func (c *Conn) DBReadOnly(schema string) int32 {
	if schema == "" {
		schema = "main"
	}
	z, n := stackString(c.tls, schema)
	defer c.tls.Free(n)
	return sqlite3.Xsqlite3_db_readonly(c.tls, c.db, z)
}

// CacheFlush writes the dirty pages of the open write transaction to the
// database files (sqlite3_db_cacheflush) without committing: the VFS then
// holds every page the transaction changed.
func (c *Conn) CacheFlush() error {
	if rc := sqlite3.Xsqlite3_db_cacheflush(c.tls, c.db); rc != OK {
		return c.err(rc)
	}
	return nil
}

// DBNames returns the schema names of the connection's databases ("main",
// "temp", then attached ones), without running SQL.
func (c *Conn) DBNames() []string {
	var names []string
	for i := int32(0); ; i++ {
		z := sqlite3.Xsqlite3_db_name(c.tls, c.db, i)
		if z == 0 {
			return names
		}
		names = append(names, goString(z))
	}
}

// SchemaCookie returns the schema cookie of the main database as the
// connection last loaded its schema, read from SQLite's memory (no I/O, no
// SQL): caches of table layouts key on it. SQLite reloads the schema, and
// this value, when a statement finds the schema changed.
func (c *Conn) SchemaCookie() uint32 {
	main := c.mainDB()
	if main == nil || main.FpSchema == 0 {
		return 0
	}
	return uint32((*sqlite3.TSchema)(cptr(main.FpSchema)).Fschema_cookie)
}

// Limit sets run-time limit id (LIMIT_*) to v, if v is not negative, and
// returns its value before (sqlite3_limit). SQLite lowers a value above
// the limit's compile-time bound to the bound.
func (c *Conn) Limit(id, v int32) int32 { return sqlite3.Xsqlite3_limit(c.tls, c.db, id, v) }

// LIMIT_N is how many run-time limits there are: ids 0 to LIMIT_N-1.
const LIMIT_N = sqlite3.SQLITE_N_LIMIT
