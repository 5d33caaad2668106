package capi

import (
	"context"
	"math"
	"time"

	sqlite3 "modernc.org/sqlite/lib"
)

// Flags for [Conn.Prepare] (sqlite3_prepare_v3).
const (
	// PREPARE_PERSISTENT tells SQLite the statement will be kept and reused
	// (the statement cache), so it allocates it outside the lookaside.
	PREPARE_PERSISTENT = sqlite3.SQLITE_PREPARE_PERSISTENT
)

// Stmt is a prepared statement (sqlite3_stmt*) of a [Conn].
type Stmt struct {
	c *Conn
	p uintptr // sqlite3_stmt*; 0 once finalized
	// user: compiled with PREPARE_USER, so the authorizer judges its
	// compilations (SQLite compiles it again in Step after a schema change).
	user bool

	// arena holds the text and blob parameters bound with SQLITE_STATIC;
	// used bytes of it are taken. See ReserveBindBytes.
	arena cbuf
	used  int

	// Column and parameter metadata, computed on first use. SQLite may
	// re-prepare the statement after a schema change, which can change the
	// columns; reprep is the SQLITE_STMTSTATUS_REPREPARE count the column
	// metadata was read at.
	names   []string
	decls   []string
	reprep  int32
	colsOK  bool
	params  []string
	paramOK bool

	sql string // SQL's result, once asked for

	// tracer is the connection's Tracer that saw the statement start,
	// nil when it is not running under one; mark is what its Start
	// returned, ctx the connection's context then, started when, rows the
	// rows its Steps have returned since.
	tracer    Tracer
	mark      uint64
	ctx       context.Context
	started   time.Time
	rows      int64
	changesAt int64 // the connection's total changes at the start
}

// Prepare compiles the first statement of sql with sqlite3_prepare_v3 and
// returns it with the rest of sql (the tail, a substring of sql). The
// statement is nil when sql holds only whitespace or comments up to the tail.
// flags are PREPARE_* values.
func (c *Conn) Prepare(sql string, flags uint32) (s *Stmt, tail string, err error) {
	if len(sql) >= math.MaxInt32 {
		return nil, "", &Error{Code: TOOBIG, Msg: ErrStr(TOOBIG)}
	}
	// The text is copied into c.sql for this call only: SQLite keeps its
	// own copy of a prepared statement's text.
	n := len(sql)
	if !c.sql.reserve(c.tls, n+1) {
		return nil, "", &Error{Code: NOMEM, Msg: ErrStr(NOMEM)}
	}
	b := cbytes(c.sql.p, n+1)
	copy(b, sql)
	b[n] = 0
	p, end, err := c.prepareAt(c.sql.p, n+1, flags)
	if err != nil {
		return nil, "", err
	}
	tail = sql[end-c.sql.p:]
	if p == 0 {
		return nil, tail, nil
	}
	return c.newStmt(p, flags), tail, nil
}

// newStmt wraps and records a statement SQLite prepared with flags.
func (c *Conn) newStmt(p uintptr, flags uint32) *Stmt {
	s := &Stmt{c: c, p: p, user: flags&PREPARE_USER != 0}
	c.stmts[s] = struct{}{}
	return s
}

// prepareAt runs sqlite3_prepare_v3 on the n bytes (NUL included) of SQL at
// z and returns the statement (0 for none) and the address of the tail.
func (c *Conn) prepareAt(z uintptr, n int, flags uint32) (stmt, tail uintptr, err error) {
	pp := c.tls.Alloc(16) // [0] sqlite3_stmt*, [8] const char *tail
	defer c.tls.Free(16)
	prevUser := c.authUser
	c.authUser = flags&PREPARE_USER != 0
	rc := sqlite3.Xsqlite3_prepare_v3(c.tls, c.db, z, int32(n), flags&^PREPARE_USER, pp, pp+8)
	c.authUser = prevUser
	stmt = *(*uintptr)(cptr(pp))
	tail = *(*uintptr)(cptr(pp + 8))
	if rc != OK {
		if stmt != 0 {
			sqlite3.Xsqlite3_finalize(c.tls, stmt)
		}
		return 0, 0, c.err(rc)
	}
	return stmt, tail, nil
}

// Script prepares the statements of a multi-statement SQL text one at a
// time, copying the text to C memory once (not once per statement).
type Script struct {
	c   *Conn
	buf cbuf
	off int // offset of the next statement in buf
	n   int // bytes of SQL in buf, without the NUL
}

// NewScript returns a Script over sql. The caller closes it.
func (c *Conn) NewScript(sql string) (*Script, error) {
	sc := &Script{c: c, n: len(sql)}
	if len(sql) >= math.MaxInt32 {
		return nil, &Error{Code: TOOBIG, Msg: ErrStr(TOOBIG)}
	}
	if !sc.buf.reserve(c.tls, len(sql)+1) {
		return nil, &Error{Code: NOMEM, Msg: ErrStr(NOMEM)}
	}
	b := cbytes(sc.buf.p, len(sql)+1)
	copy(b, sql)
	b[len(sql)] = 0
	return sc, nil
}

// Next prepares the next statement. It returns nil, nil at the end of the
// text; statements that are only whitespace or comments are skipped.
func (sc *Script) Next(flags uint32) (*Stmt, error) {
	for sc.off < sc.n {
		p, tail, err := sc.c.prepareAt(sc.buf.p+uintptr(sc.off), sc.n-sc.off+1, flags)
		if err != nil {
			return nil, err
		}
		sc.off = int(tail - sc.buf.p)
		if p != 0 {
			return sc.c.newStmt(p, flags), nil
		}
	}
	return nil, nil
}

// Offset returns the byte offset in the text of the first statement not yet
// prepared.
func (sc *Script) Offset() int { return sc.off }

// Advance skips n bytes of the text: a statement the caller handled itself
// (the driver runs BEGIN CONCURRENT, which SQLite does not know).
func (sc *Script) Advance(n int) { sc.off = min(sc.off+n, sc.n) }

// Close frees the script's copy of the text. Statements it prepared stay
// valid: SQLite keeps its own copy of their text.
func (sc *Script) Close() { sc.buf.free(sc.c.tls) }

// Conn returns the connection s belongs to.
func (s *Stmt) Conn() *Conn { return s.c }

// Step runs sqlite3_step: true when a row is ready, false when the statement
// is done, or the error.
func (s *Stmt) Step() (bool, error) {
	if s.p == 0 {
		return false, &Error{Code: MISUSE, Msg: "statement is finalized"}
	}
	if s.c.tracer != nil || s.tracer != nil {
		return s.traceStep()
	}
	return s.step()
}

func (s *Stmt) step() (bool, error) {
	s.c.clearCallbackError()
	prevUser := s.c.authUser
	s.c.authUser = s.user
	prevStepping := s.c.stepping
	s.c.stepping = s.p
	rc := sqlite3.Xsqlite3_step(s.c.tls, s.p)
	s.c.stepping = prevStepping
	s.c.authUser = prevUser
	if s.c.cbInterrupted {
		s.c.endCollationInterrupt()
		if err := s.c.cbErr; rc == ROW || rc == DONE {
			// SQLite had not yet looked at the interrupt when it
			// returned: what it returned may rest on the failed
			// comparison.
			s.c.clearCallbackError()
			return false, &Error{Code: ERROR, Msg: err.Error(), Cause: err}
		}
	}
	switch rc {
	case ROW:
		return true, nil
	case DONE:
		return false, nil
	default:
		return false, s.c.err(rc)
	}
}

// Reset runs sqlite3_reset, making s ready to run again with the same
// bindings. The error is that of the last Step, if it failed.
func (s *Stmt) Reset() error {
	if s.p == 0 {
		return &Error{Code: MISUSE, Msg: "statement is finalized"}
	}
	rc := sqlite3.Xsqlite3_reset(s.c.tls, s.p)
	var err error
	if rc != OK {
		err = s.c.err(rc)
	}
	s.c.clearCallbackError() // an aggregate's Final failing as the statement ended
	s.traceEnd(true, nil)    // after the reset, which counts a write's changes; the bindings stay
	return err
}

// Finalize destroys s (sqlite3_finalize) and frees its bind arena. The error
// is that of the last Step, if it failed. Finalize is idempotent.
func (s *Stmt) Finalize() error {
	if s.p == 0 {
		return nil
	}
	s.traceEnd(true, nil)
	rc := sqlite3.Xsqlite3_finalize(s.c.tls, s.p)
	s.c.clearCallbackError() // an aggregate's Final failing as the statement ended
	s.p = 0
	s.arena.free(s.c.tls)
	delete(s.c.stmts, s)
	if rc != OK {
		return newError(s.c.tls, s.c.db, rc)
	}
	return nil
}

// Finalized reports whether Finalize has run.
func (s *Stmt) Finalized() bool { return s.p == 0 }

// ReadOnly reports whether s makes no direct change to the database file
// (sqlite3_stmt_readonly).
func (s *Stmt) ReadOnly() bool { return sqlite3.Xsqlite3_stmt_readonly(s.c.tls, s.p) != 0 }

// Mentions reports whether the statement's SQL text contains word, a
// lower-case ASCII identifier, in any letter case, without copying the
// text. It looks at the text only: a view or trigger the statement uses
// may mention what the text does not.
func (s *Stmt) Mentions(word string) bool {
	z := sqlite3.Xsqlite3_sql(s.c.tls, s.p)
	if z == 0 || word == "" {
		return false
	}
	// The text is SQLite's NUL-terminated copy, owned by the statement.
	at := func(i int) byte { return *(*byte)(cptr(z + uintptr(i))) }
	for i := 0; at(i) != 0; i++ {
		j := 0
		for ; j < len(word); j++ {
			ch := at(i + j)
			if ch >= 'A' && ch <= 'Z' {
				ch += 'a' - 'A'
			}
			if ch != word[j] {
				break
			}
		}
		if j == len(word) {
			return true
		}
	}
	return false
}

// StartsWithKeyword reports whether the statement's SQL text begins with
// one of the given upper-case keywords (after leading blanks and comments;
// letter case ignored), without copying the text.
func (s *Stmt) StartsWithKeyword(words ...string) bool {
	z := sqlite3.Xsqlite3_sql(s.c.tls, s.p)
	if z == 0 {
		return false
	}
	// The text is SQLite's NUL-terminated copy, owned by the statement.
	at := func(i int) byte { return *(*byte)(cptr(z + uintptr(i))) }
	i := 0
	for {
		switch ch := at(i); {
		case ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f':
			i++
			continue
		case ch == '-' && at(i+1) == '-':
			for i += 2; at(i) != 0 && at(i) != '\n'; i++ {
			}
			continue
		case ch == '/' && at(i+1) == '*':
			for i += 2; at(i) != 0 && !(at(i) == '*' && at(i+1) == '/'); i++ {
			}
			if at(i) != 0 {
				i += 2
			}
			continue
		}
		break
	}
	var buf [16]byte
	n := 0
	for ; n < len(buf); i++ {
		ch := at(i)
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z') {
			break
		}
		buf[n] = ch &^ 0x20
		n++
	}
	for _, w := range words {
		if string(buf[:n]) == w {
			return true
		}
	}
	return false
}

// Busy reports whether s has been stepped and not yet reset or run to
// completion (sqlite3_stmt_busy).
func (s *Stmt) Busy() bool { return sqlite3.Xsqlite3_stmt_busy(s.c.tls, s.p) != 0 }

// SQL returns the text s was prepared from (sqlite3_sql).
func (s *Stmt) SQL() string {
	if s.sql == "" {
		s.sql = goString(sqlite3.Xsqlite3_sql(s.c.tls, s.p)) // the same for the statement's life
	}
	return s.sql
}

// Reprepares returns how many times SQLite has re-prepared s after a schema
// change (SQLITE_STMTSTATUS_REPREPARE).
func (s *Stmt) Reprepares() int32 {
	return sqlite3.Xsqlite3_stmt_status(s.c.tls, s.p, sqlite3.SQLITE_STMTSTATUS_REPREPARE, 0)
}
