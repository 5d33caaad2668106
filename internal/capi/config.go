package capi

import (
	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// Options of [Conn.DBConfig] (sqlite3_db_config) this module uses, spelled
// as SQLite spells them.
const (
	DBCONFIG_ENABLE_FKEY    = sqlite3.SQLITE_DBCONFIG_ENABLE_FKEY
	DBCONFIG_ENABLE_TRIGGER = sqlite3.SQLITE_DBCONFIG_ENABLE_TRIGGER
	DBCONFIG_DEFENSIVE      = sqlite3.SQLITE_DBCONFIG_DEFENSIVE
	DBCONFIG_DQS_DML        = sqlite3.SQLITE_DBCONFIG_DQS_DML
	DBCONFIG_DQS_DDL        = sqlite3.SQLITE_DBCONFIG_DQS_DDL
)

// DBConfig calls sqlite3_db_config(db, op, args...) and returns its result
// code. Each argument is an int, int32, int64 or uintptr (a C pointer, e.g.
// an out-parameter in memory the caller owns); they are passed the way the
// transpiled engine reads C varargs (libc.VaList, 8 bytes a slot, in memory
// on the TLS stack for the duration of the call).
func (c *Conn) DBConfig(op int32, args ...any) int32 {
	size := 8 * max(len(args), 1)
	va := c.tls.Alloc(size)
	defer c.tls.Free(size)
	return sqlite3.Xsqlite3_db_config(c.tls, c.db, op, libc.VaList(va, args...))
}

// DBConfigBool sets a boolean option of the (int onoff, int *pRes) form —
// DBCONFIG_ENABLE_TRIGGER, DBCONFIG_ENABLE_FKEY, ... — and returns the
// option's value afterwards. Passing on < 0 only reads the value.
func (c *Conn) DBConfigBool(op int32, on int) (bool, error) {
	res := c.tls.Alloc(4)
	defer c.tls.Free(4)
	*(*int32)(cptr(res)) = 0
	if rc := c.DBConfig(op, int32(on), res); rc != OK {
		return false, c.err(rc)
	}
	return *(*int32)(cptr(res)) != 0, nil
}

// DeferredForeignKeys reports whether the open transaction has foreign-key
// violations outstanding, which COMMIT refuses unless they are resolved
// (sqlite3_db_status(SQLITE_DBSTATUS_DEFERRED_FKS), which says 1 or 0,
// not how many).
func (c *Conn) DeferredForeignKeys() (bool, error) {
	res := c.tls.Alloc(8)
	defer c.tls.Free(8)
	cur, hi := res, res+4
	*(*int32)(cptr(cur)), *(*int32)(cptr(hi)) = 0, 0
	if rc := sqlite3.Xsqlite3_db_status(c.tls, c.db, sqlite3.SQLITE_DBSTATUS_DEFERRED_FKS, cur, hi, 0); rc != OK {
		return false, c.err(rc)
	}
	return *(*int32)(cptr(cur)) != 0, nil
}

// File-control opcodes of [Conn.FileControl] this module uses.
const (
	FCNTL_DATA_VERSION = sqlite3.SQLITE_FCNTL_DATA_VERSION
	FCNTL_RESET_CACHE  = sqlite3.SQLITE_FCNTL_RESET_CACHE
	FCNTL_PERSIST_WAL  = sqlite3.SQLITE_FCNTL_PERSIST_WAL
)

// FileControl calls sqlite3_file_control(db, dbName, op, arg) and returns its
// result code. dbName is a schema name ("" means "main"); arg is a pointer
// to C memory whose meaning depends on op (the caller owns it: allocate it
// on the TLS stack with [Conn.Alloc] or in the libc heap). Opcodes the VFS
// does not know return SQLITE_NOTFOUND. A custom opcode reaches the VFS's
// xFileControl, which is how the driver talks to our own VFS.
func (c *Conn) FileControl(dbName string, op int32, arg uintptr) int32 {
	var z uintptr
	if dbName != "" {
		var n int
		z, n = stackString(c.tls, dbName)
		defer c.tls.Free(n)
	}
	return sqlite3.Xsqlite3_file_control(c.tls, c.db, z, op, arg)
}

// Alloc reserves n bytes on c's TLS stack, for an argument or out-parameter
// of a call on c. It must be released with Free(n), in LIFO order, before
// the calling function returns.
func (c *Conn) Alloc(n int) uintptr { return c.tls.Alloc(n) }

// Free releases what the matching Alloc reserved.
func (c *Conn) Free(n int) { c.tls.Free(n) }

// ReadInt32 reads an int32 from C memory, such as an out-parameter filled by
// a file control.
func ReadInt32(p uintptr) int32 { return *(*int32)(cptr(p)) }

// WriteInt32 writes an int32 to C memory.
func WriteInt32(p uintptr, v int32) { *(*int32)(cptr(p)) = v }

// ReadInt64 reads an int64 from C memory.
func ReadInt64(p uintptr) int64 { return *(*int64)(cptr(p)) }

// WriteInt64 writes an int64 to C memory.
func WriteInt64(p uintptr, v int64) { *(*int64)(cptr(p)) = v }
