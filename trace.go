package libsql

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golibsql/libsql/internal/capi"
	"github.com/golibsql/libsql/iouring_vfs/wal"
)

// TraceKind is what a [TraceEvent] reports, or, given to [WithTrace], the
// set of events to report (TraceStatement|TraceProfile) and how
// (TraceExpandSQL).
type TraceKind uint8

const (
	// TraceStatement: a statement is about to start running (its first
	// step since it was prepared or reset; SQLite's SQLITE_TRACE_STMT).
	TraceStatement TraceKind = 1 << iota
	// TraceProfile: a statement that started has ended (SQLite's
	// SQLITE_TRACE_PROFILE): it ran to its end, failed, or was stopped
	// halfway (rows closed before the last one). The event has its
	// Duration, Rows, Changes and Err.
	TraceProfile
	// TraceExpandSQL is not an event: given to WithTrace, it makes the
	// events' SQL the statement's text with the values of its bound
	// parameters in place (sqlite3_expanded_sql), which costs a copy of
	// the text per event.
	TraceExpandSQL
)

// TraceEvent is what [WithTrace]'s function learns of a statement.
type TraceEvent struct {
	Kind TraceKind
	// SQL is the statement's text, as prepared (one statement of a
	// multi-statement Exec), or expanded (TraceExpandSQL).
	SQL string
	// Driver is set for the statements the driver runs itself: the BEGIN,
	// COMMIT and ROLLBACK of database/sql's transactions, the PRAGMAs of a
	// connection's setup, durable CDC's writes, the replay of a BEGIN
	// CONCURRENT transaction's rows when it is rebased. The application's
	// own statements have it unset.
	Driver bool
	// Duration (TraceProfile) is the time from the statement's start to
	// its end: the time the application spent between its rows included.
	Duration time.Duration
	// Rows (TraceProfile) is the number of rows the statement returned.
	Rows int64
	// Changes (TraceProfile) is the number of rows the statement
	// inserted, updated or deleted, counted as RowsAffected counts them
	// (not those of triggers); 0 for a statement that writes no rows.
	Changes int64
	// Err (TraceProfile) is the error the statement ended with, nil if it
	// ran to its end or was stopped halfway.
	Err error

	ctx context.Context
}

// Context returns the context of the call that ran the statement
// (context.Background for a call without one), for the tracer to find
// its request's values, such as a span to attach the event to.
func (e TraceEvent) Context() context.Context { return e.ctx }

// WithTrace calls fn for the events of kinds (TraceStatement,
// TraceProfile, and TraceExpandSQL for expanded SQL) of every statement
// on every connection of the connector: to log slow statements, count
// them or trace them. fn runs on the goroutine that runs the statement
// (for several connections, on several goroutines at once), before it
// starts and after it ends, not while SQLite runs it; it must not use
// the connection. The statements that triggers run are part of
// their statement. A panic in fn at TraceStatement fails the statement
// before it runs, with the panic as the error's cause; at TraceProfile,
// when the statement's outcome is settled, it is recovered and dropped.
func WithTrace(kinds TraceKind, fn func(TraceEvent)) Option {
	return func(c *config) error {
		if fn == nil {
			return errors.New("libsql: WithTrace: the function is nil")
		}
		if kinds&(TraceStatement|TraceProfile) == 0 {
			return fmt.Errorf("libsql: WithTrace: kinds %#x asks for no event: want TraceStatement, TraceProfile or both", uint8(kinds))
		}
		if kinds&^(TraceStatement|TraceProfile|TraceExpandSQL) != 0 {
			return fmt.Errorf("libsql: WithTrace: unknown kinds %#x", uint8(kinds&^(TraceStatement|TraceProfile|TraceExpandSQL)))
		}
		c.trace = &traceConfig{kinds: kinds, fn: fn}
		return nil
	}
}

// traceConfig is WithTrace's setting; it is the capi.Tracer of every
// connection of the connector.
type traceConfig struct {
	kinds TraceKind
	fn    func(TraceEvent)
}

// tracer adapts a traceConfig to one connection.
type tracer struct {
	*traceConfig
	c *conn
}

func (t tracer) event(kind TraceKind, s *capi.Stmt, ctx context.Context) TraceEvent {
	e := TraceEvent{Kind: kind, Driver: !s.User(), ctx: ctx}
	if t.kinds&TraceExpandSQL != 0 {
		e.SQL = s.ExpandedSQL()
	} else {
		e.SQL = s.SQL()
	}
	return e
}

// Start implements capi.Tracer. Its mark is the connection's last commit,
// for committedAnyway.
func (t tracer) Start(s *capi.Stmt) (mark uint64, err error) {
	mark = uint64(t.c.commitMark())
	if t.kinds&TraceStatement == 0 {
		return mark, nil
	}
	defer func() {
		if r := recover(); r != nil {
			pe := capi.PanicError("tracer", r)
			err = &capi.Error{Code: capi.ERROR, Msg: pe.Error(), Cause: pe}
		}
	}()
	t.fn(t.event(TraceStatement, s, t.c.cc.Context()))
	return mark, nil
}

// End implements capi.Tracer. The event's error is the one the call that
// ran the statement returns: none for a write its context interrupted
// after it committed (committedAnyway), the context's for a statement the
// context interrupted, or stopped (database/sql closes the rows of a
// query whose context ended).
func (t tracer) End(s *capi.Stmt, ctx context.Context, mark uint64, end capi.TraceEnd) {
	if t.kinds&TraceProfile == 0 {
		return
	}
	defer func() { recover() }()
	if ctx == nil {
		ctx = context.Background()
	}
	e := t.event(TraceProfile, s, ctx)
	e.Duration, e.Rows, e.Changes = end.Duration, end.Rows, end.Changes
	var ce *capi.Error
	switch {
	case end.Err == nil:
		if end.Stopped {
			e.Err = ctx.Err()
		}
	case t.c.committedAnyway(end.Err, wal.Version(mark)):
	case errors.As(end.Err, &ce) && (ce.Code&0xff == capi.INTERRUPT || ce.Code&0xff == capi.BUSY) && ctx.Err() != nil:
		e.Err = ctx.Err()
	default:
		e.Err = convertError(end.Err)
	}
	t.fn(e)
}
