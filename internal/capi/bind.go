package capi

import (
	"math"

	sqlite3 "modernc.org/sqlite/lib"
)

// Destructor arguments of sqlite3_bind_text/blob.
const (
	// sqliteStatic: the memory stays valid until the parameter is bound
	// again or the statement is finalized; SQLite does not copy it.
	sqliteStatic uintptr = 0
	// sqliteTransient: SQLite copies the memory before the call returns.
	sqliteTransient = ^uintptr(0)
)

// ParamCount returns the number of the highest parameter
// (sqlite3_bind_parameter_count); parameters are numbered from 1.
func (s *Stmt) ParamCount() int { return int(sqlite3.Xsqlite3_bind_parameter_count(s.c.tls, s.p)) }

// ParamNames returns the name of every parameter, index 0 for parameter 1:
// "" for a "?" parameter, otherwise the name with its prefix ("?2", ":a",
// "@a", "$a"). The slice is computed once and shared: do not modify it.
func (s *Stmt) ParamNames() []string {
	if !s.paramOK {
		n := s.ParamCount()
		s.params = make([]string, n)
		for i := range n {
			s.params[i] = goString(sqlite3.Xsqlite3_bind_parameter_name(s.c.tls, s.p, int32(i+1)))
		}
		s.paramOK = true
	}
	return s.params
}

// ReserveBindBytes prepares s for a new round of bindings that together
// copy up to n bytes of text and blobs: it makes the bind arena at least n
// bytes and starts filling it from the beginning. Every parameter that points
// into the arena must be bound again before the next Step.
//
// If the arena must grow, every parameter is first unbound
// (sqlite3_clear_bindings), so none points into the freed memory even if the
// round of bindings stops half way.
//
// A text or blob that does not fit (the caller reserved too little) is bound
// with SQLITE_TRANSIENT instead, which is correct but copies twice.
func (s *Stmt) ReserveBindBytes(n int) error {
	s.used = 0
	if n <= s.arena.n {
		return nil
	}
	if s.arena.p != 0 {
		sqlite3.Xsqlite3_clear_bindings(s.c.tls, s.p)
	}
	if !s.arena.reserve(s.c.tls, n) {
		return &Error{Code: NOMEM, Msg: ErrStr(NOMEM)}
	}
	return nil
}

// BindInt64 binds an integer to parameter i (1-based).
func (s *Stmt) BindInt64(i int, v int64) error {
	return s.check(sqlite3.Xsqlite3_bind_int64(s.c.tls, s.p, int32(i), v))
}

// BindFloat binds a float to parameter i.
func (s *Stmt) BindFloat(i int, v float64) error {
	return s.check(sqlite3.Xsqlite3_bind_double(s.c.tls, s.p, int32(i), v))
}

// BindNull binds NULL to parameter i.
func (s *Stmt) BindNull(i int) error {
	return s.check(sqlite3.Xsqlite3_bind_null(s.c.tls, s.p, int32(i)))
}

// BindZeroBlob binds a blob of n zero bytes to parameter i.
func (s *Stmt) BindZeroBlob(i, n int) error {
	return s.check(sqlite3.Xsqlite3_bind_zeroblob(s.c.tls, s.p, int32(i), int32(n)))
}

// BindText binds UTF-8 text to parameter i, copying it into the arena.
func (s *Stmt) BindText(i int, v string) error {
	p, destr, err := s.place(len(v))
	if err != nil {
		return err
	}
	copy(cbytes(p, len(v)), v)
	return s.check(sqlite3.Xsqlite3_bind_text(s.c.tls, s.p, int32(i), p, int32(len(v)), destr))
}

// BindTextBytes is BindText for text held in a byte slice.
func (s *Stmt) BindTextBytes(i int, v []byte) error {
	p, destr, err := s.place(len(v))
	if err != nil {
		return err
	}
	copy(cbytes(p, len(v)), v)
	return s.check(sqlite3.Xsqlite3_bind_text(s.c.tls, s.p, int32(i), p, int32(len(v)), destr))
}

// BindBlob binds a blob to parameter i, copying it into the arena. An empty
// v binds a zero-length blob, not NULL.
func (s *Stmt) BindBlob(i int, v []byte) error {
	if len(v) == 0 {
		return s.BindZeroBlob(i, 0)
	}
	p, destr, err := s.place(len(v))
	if err != nil {
		return err
	}
	copy(cbytes(p, len(v)), v)
	return s.check(sqlite3.Xsqlite3_bind_blob(s.c.tls, s.p, int32(i), p, int32(len(v)), destr))
}

// place returns where to copy n bytes of a parameter and the destructor
// argument to bind them with: the next n bytes of the arena (SQLITE_STATIC),
// or, when they do not fit, the connection's scratch buffer
// (SQLITE_TRANSIENT: SQLite copies it before the bind call returns, so the
// scratch buffer is free again right after).
func (s *Stmt) place(n int) (p, destr uintptr, err error) {
	if n >= math.MaxInt32 {
		return 0, 0, &Error{Code: TOOBIG, Msg: ErrStr(TOOBIG)}
	}
	// A zero-length value still needs a non-NULL pointer: SQLite binds
	// NULL for a NULL pointer.
	if n > 0 && s.used+n <= s.arena.n {
		p = s.arena.p + uintptr(s.used)
		s.used += n
		return p, sqliteStatic, nil
	}
	if !s.c.tmp.reserve(s.c.tls, max(n, 1)) {
		return 0, 0, &Error{Code: NOMEM, Msg: ErrStr(NOMEM)}
	}
	return s.c.tmp.p, sqliteTransient, nil
}

// check turns a bind result code into an error.
func (s *Stmt) check(rc int32) error {
	if rc != OK {
		return s.c.err(rc)
	}
	return nil
}

// TrimBindArena frees the bind arena if it is larger than max bytes, first
// unbinding every parameter (which may point into it).
func (s *Stmt) TrimBindArena(max int) {
	if s.arena.n > max {
		sqlite3.Xsqlite3_clear_bindings(s.c.tls, s.p)
		s.arena.free(s.c.tls)
		s.used = 0
	}
}
