package libsql

import "github.com/golibsql/libsql/internal/capi"

// ErrorCode is a primary SQLite result code, such as [BUSY].
type ErrorCode int

// String returns SQLite's name for the code, such as "SQLITE_BUSY".
func (c ErrorCode) String() string { return capi.CodeName(int32(c)) }

// ExtendedErrorCode is an extended SQLite result code, such as
// [BUSY_SNAPSHOT]: the primary code in the low byte, a refinement above.
type ExtendedErrorCode int

// String returns SQLite's name for the code, such as "SQLITE_BUSY_SNAPSHOT".
func (c ExtendedErrorCode) String() string { return capi.CodeName(int32(c)) }

// Code returns the primary code the extended code refines.
func (c ExtendedErrorCode) Code() ErrorCode { return ErrorCode(c & 0xff) }

// Error is an error reported by SQLite: its result codes and message. For a
// constraint failure the message names the constraint ("UNIQUE constraint
// failed: users.email").
//
// Compare errors with errors.Is and the sentinels ([ErrBusy],
// [ErrConstraint], ...), or read the codes with errors.As:
//
//	var e *libsql.Error
//	if errors.As(err, &e) && e.ExtendedCode() == libsql.CONSTRAINT_UNIQUE { ... }
type Error struct {
	code  ExtendedErrorCode
	msg   string
	cause error

	// The page and the table or index a BEGIN CONCURRENT transaction
	// conflicted on; set by the concurrent commit protocol, zero otherwise.
	conflictPage  uint32
	conflictTable string
}

// Code returns the primary result code, such as [BUSY].
func (e *Error) Code() ErrorCode { return ErrorCode(e.code & 0xff) }

// ExtendedCode returns the extended result code, such as [BUSY_SNAPSHOT]
// (a primary code when SQLite gave no refinement).
func (e *Error) ExtendedCode() ExtendedErrorCode { return e.code }

// Error returns "libsql: " followed by SQLite's message and the name of the
// extended code.
func (e *Error) Error() string {
	return "libsql: " + e.msg + " (" + e.code.String() + ")"
}

// Is reports whether target is an *Error with the same code: the same
// extended code if target's code is extended (as for [ErrBusySnapshot]),
// the same primary code otherwise (so [ErrBusy] matches
// SQLITE_BUSY_SNAPSHOT too).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	if t.code > 0xff {
		return e.code == t.code
	}
	return e.code&0xff == t.code
}

// ConflictPage returns the database page on which a BEGIN CONCURRENT
// transaction conflicted with one committed before it, or 0 (no conflict,
// or a conflict on the schema or database header).
func (e *Error) ConflictPage() uint32 { return e.conflictPage }

// ConflictObject returns what the conflicting page belongs to ("table t1",
// "index t1_k", "schema"), or "" when it is unknown or there was no
// conflict.
func (e *Error) ConflictObject() string { return e.conflictTable }

// Unwrap returns the Go error that caused SQLite's error, when it started
// in Go code SQLite called (the VFS, a hook), or nil.
func (e *Error) Unwrap() error { return e.cause }

// Sentinel errors for errors.Is. Each matches every *Error whose code it
// names (see [Error.Is]).
var (
	// ErrBusy: a lock another connection holds was not released within the
	// busy timeout (SQLITE_BUSY and its extended codes).
	ErrBusy = sentinel(ExtendedErrorCode(BUSY))
	// ErrBusySnapshot: the transaction's snapshot is stale and the
	// transaction must be retried from its start (SQLITE_BUSY_SNAPSHOT);
	// BEGIN CONCURRENT reports its conflicts with it.
	ErrBusySnapshot = sentinel(BUSY_SNAPSHOT)
	// ErrLocked: a conflict inside this connection or its shared cache
	// (SQLITE_LOCKED), such as dropping a table a running query reads.
	ErrLocked = sentinel(ExtendedErrorCode(LOCKED))
	// ErrConstraint: a constraint failed (SQLITE_CONSTRAINT); the message
	// names it.
	ErrConstraint = sentinel(ExtendedErrorCode(CONSTRAINT))
	// ErrReadOnly: a write to a database opened read-only, or in a
	// read-only transaction (SQLITE_READONLY).
	ErrReadOnly = sentinel(ExtendedErrorCode(READONLY))
	// ErrInterrupted: the statement was interrupted (SQLITE_INTERRUPT).
	// A call interrupted because its context ended returns the context's
	// error instead.
	ErrInterrupted = sentinel(ExtendedErrorCode(INTERRUPT))
)

func sentinel(code ExtendedErrorCode) *Error {
	return &Error{code: code, msg: capi.ErrStr(int32(code))}
}

// convertError turns an error of the capi layer into an *Error; other
// errors pass unchanged.
func convertError(err error) error {
	if err == nil {
		return nil
	}
	if ce, ok := err.(*capi.Error); ok {
		return &Error{code: ExtendedErrorCode(ce.Code), msg: ce.Msg, cause: ce.Cause}
	}
	return err
}
