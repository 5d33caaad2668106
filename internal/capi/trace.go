package capi

import (
	"time"

	sqlite3 "modernc.org/sqlite/lib"
)

// Tracer is told of the statements a connection runs, from Go, around
// sqlite3_step (not through sqlite3_trace_v2, whose callback runs inside
// SQLite, where a Go panic may not unwind and where durations have
// millisecond resolution). Start runs before the Step that starts a
// statement (its first since it was prepared or reset); an error from it
// fails that Step before SQLite runs anything. End runs once a started
// statement has ended: its last Step returned (done, or err), or a Reset
// or Finalize stopped it halfway (err nil); d is the time since Start and
// rows the rows its Steps returned. End runs before the Reset, so that
// the statement's parameters are still bound.
type Tracer interface {
	Start(s *Stmt) error
	End(s *Stmt, d time.Duration, rows int64, err error)
}

// SetTracer makes t the connection's tracer (nil: none). A statement
// running when it changes is reported to the tracer that saw it start.
func (c *Conn) SetTracer(t Tracer) { c.tracer = t }

// traceStep is Step for a connection with a tracer, or a statement that
// started under one.
func (s *Stmt) traceStep() (bool, error) {
	if s.tracer == nil {
		t := s.c.tracer
		if err := t.Start(s); err != nil {
			return false, err
		}
		s.tracer, s.started, s.rows = t, time.Now(), 0
	}
	row, err := s.step()
	if row {
		s.rows++
	} else {
		s.traceEnd(err)
	}
	return row, err
}

// traceEnd reports the end of the statement to the tracer that saw it
// start, if it started.
func (s *Stmt) traceEnd(err error) {
	if t := s.tracer; t != nil {
		s.tracer = nil
		t.End(s, time.Since(s.started), s.rows, err)
	}
}

// ExpandedSQL returns s's text with the values of its bound parameters in
// place (sqlite3_expanded_sql), or its text as prepared when SQLite cannot
// make it (longer than the connection's length limit, out of memory).
func (s *Stmt) ExpandedSQL() string {
	z := sqlite3.Xsqlite3_expanded_sql(s.c.tls, s.p)
	if z == 0 {
		return s.SQL()
	}
	defer sqlite3.Xsqlite3_free(s.c.tls, z)
	return goString(z)
}
