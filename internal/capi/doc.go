// Package capi is the only place in the module that calls SQLite's C API as
// transpiled to Go by modernc.org/sqlite/lib, and the only user of
// modernc.org/libc and of unsafe.
//
// # Objects
//
// A [Conn] owns one sqlite3* handle and the *libc.TLS every call on that
// handle runs with. database/sql never uses a connection from two goroutines
// at once, so a Conn is not safe for concurrent use, with three documented
// exceptions: [Conn.Interrupt], a [Watch] firing, and [Conn.WakeBusy], which
// may be called from any goroutine. A [Stmt] belongs to the Conn that
// prepared it and runs on its TLS.
//
// # Memory ownership
//
// C memory (the libc heap, outside the Go heap) is handed out as uintptr.
// The rules, repeated at each place they apply:
//
//   - SQL text is copied into the Conn's scratch buffer for the duration of
//     one sqlite3_prepare_v3 call; SQLite keeps its own copy of the text.
//   - Text and blob parameters are copied into the Stmt's bind arena and
//     bound with SQLITE_STATIC. The arena belongs to the Stmt and is freed by
//     [Stmt.Finalize]; a parameter keeps pointing into it until it is bound
//     again, which is why the arena is never moved while bindings point into
//     it (see [Stmt.ReserveBindBytes]).
//   - Values read from a result row come in two kinds. [Stmt.ColumnText] and
//     [Stmt.ColumnBlob] copy into Go memory. [Stmt.Column] and
//     [Stmt.ColumnRawText] do not: their []byte aliases SQLite's memory
//     (the statement's result row) and is valid only until the next step,
//     reset or finalize of the statement; the caller copies what it keeps.
//   - Out-parameters (sqlite3_stmt**, const char**) live on the TLS stack
//     (tls.Alloc/tls.Free) for the duration of one call.
//   - A C string built for one call (a schema name, a table name) lives on
//     the TLS stack too and is released before the call returns.
//
// # Callbacks
//
// SQLite calls back into Go through function pointers made from top-level Go
// functions by [funcPtr]; their void* argument is a [Handle], an integer key
// into a registry of Go values, never a Go pointer (the C side must not hold
// Go pointers: the collector does not see them). A callback runs on the
// goroutine that made the SQLite call that triggered it, with that call's
// TLS. Every callback recovers from panics and returns an SQLite error code:
// a panic never unwinds through transpiled C frames.
//
// # Contexts
//
// Each call on a Conn runs under a context, reachable with [Conn.Context]
// while the call is in SQLite (callbacks such as the busy handler, and later
// the VFS's writer-lock wait, read it there). [Conn.Watch] arms a context so
// that when it is done the running statement is interrupted.
package capi
