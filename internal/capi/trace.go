package capi

import (
	"context"
	"time"

	sqlite3 "modernc.org/sqlite/lib"
)

// Tracer is told of the statements a connection runs, from Go, around
// sqlite3_step (not through sqlite3_trace_v2, whose callback runs inside
// SQLite, where a Go panic may not unwind and where durations have
// millisecond resolution). Start runs before the Step that starts a
// statement (its first since it was prepared or reset); an error from it
// fails that Step before SQLite runs anything, and the mark it returns
// besides is given back to End, with the connection's context at the
// start (Conn.Context). End runs once a started statement has ended: its
// last Step returned (done, or with an error), or a Reset or Finalize
// stopped it halfway: after the Reset (the parameters stay bound), before
// the Finalize.
type Tracer interface {
	Start(s *Stmt) (mark uint64, err error)
	End(s *Stmt, ctx context.Context, mark uint64, end TraceEnd)
}

// TraceEnd is how a statement ended: the time since it started, the rows
// its Steps returned, the rows it inserted, updated or deleted
// (sqlite3_changes, for a statement that writes and changed rows), whether
// a Reset or Finalize stopped it halfway, and the error of its last Step.
type TraceEnd struct {
	Duration time.Duration
	Rows     int64
	Changes  int64
	Stopped  bool
	Err      error
}

// SetTracer makes t the connection's tracer (nil: none). A statement
// running when it changes is reported to the tracer that saw it start.
func (c *Conn) SetTracer(t Tracer) { c.tracer = t }

// traceStep is Step for a connection with a tracer, or a statement that
// started under one.
func (s *Stmt) traceStep() (bool, error) {
	if s.tracer == nil {
		t := s.c.tracer
		mark, err := t.Start(s)
		if err != nil {
			return false, err
		}
		s.tracer, s.mark, s.ctx, s.started, s.rows = t, mark, s.c.ctx, time.Now(), 0
		s.changesAt = s.c.TotalChanges()
	}
	row, err := s.step()
	if row {
		s.rows++
	} else {
		s.traceEnd(false, err)
	}
	return row, err
}

// traceEnd reports the end of the statement to the tracer that saw it
// start, if it started.
func (s *Stmt) traceEnd(stopped bool, err error) {
	if t := s.tracer; t != nil {
		ctx := s.ctx
		s.tracer, s.ctx = nil, nil
		end := TraceEnd{Duration: time.Since(s.started), Rows: s.rows, Stopped: stopped, Err: err}
		if s.c.TotalChanges() != s.changesAt && !s.ReadOnly() {
			end.Changes = s.c.Changes()
		}
		t.End(s, ctx, s.mark, end)
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
