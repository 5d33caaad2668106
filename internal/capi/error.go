package capi

import (
	"strconv"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// Error is a failed SQLite call: the extended result code, SQLite's message
// and, when the failure started in Go code SQLite called back into (a VFS
// method, a hook), the Go error that caused it.
type Error struct {
	// Code is the extended result code; Code&0xff is the primary code.
	Code int32
	// Msg is sqlite3_errmsg, or sqlite3_errstr when there is no connection.
	Msg string
	// Cause is the Go error behind the code, or nil.
	Cause error
}

// Error returns SQLite's message followed by the code's name.
func (e *Error) Error() string {
	return e.Msg + " (" + CodeName(e.Code) + ")"
}

// Unwrap returns the Go error behind the code, if any.
func (e *Error) Unwrap() error { return e.Cause }

// ErrStr returns SQLite's generic English text for a result code.
func ErrStr(code int32) string {
	// sqlite3_errstr returns a static string and touches no connection; a nil
	// TLS is not dereferenced by it.
	return goString(sqlite3.Xsqlite3_errstr(nil, code))
}

// newError builds the error for rc returned by a call on db, with
// sqlite3_errmsg(db) when it describes this failure.
func newError(tls *libc.TLS, db uintptr, rc int32) *Error {
	e := &Error{Code: rc}
	if db != 0 {
		// The message belongs to the most recent failing call on db; if the
		// codes disagree it is stale (SQLite's guidance: rc is authoritative).
		if ext := sqlite3.Xsqlite3_extended_errcode(tls, db); ext == rc || ext&0xff == rc&0xff {
			e.Code = ext
			e.Msg = goString(sqlite3.Xsqlite3_errmsg(tls, db))
		}
	}
	if e.Msg == "" {
		e.Msg = ErrStr(rc)
	}
	return e
}

// itoa is strconv.Itoa, named for brevity in code names.
func itoa(i int) string { return strconv.Itoa(i) }
