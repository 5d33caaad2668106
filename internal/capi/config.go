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
// (SQLITE_DBSTATUS_DEFERRED_FKS, which says 1 or 0, not how many).
func (c *Conn) DeferredForeignKeys() (bool, error) {
	cur, _, err := c.DBStatus(DBSTATUS_DEFERRED_FKS)
	return cur != 0, err
}

// sqlite3_db_status counters of [Conn.DBStatus] this module uses.
const (
	DBSTATUS_DEFERRED_FKS = sqlite3.SQLITE_DBSTATUS_DEFERRED_FKS
	DBSTATUS_CACHE_HIT    = sqlite3.SQLITE_DBSTATUS_CACHE_HIT
	DBSTATUS_CACHE_MISS   = sqlite3.SQLITE_DBSTATUS_CACHE_MISS
)

// DBStatus returns the current and highest value of one of the
// connection's sqlite3_db_status counters (DBSTATUS_*), without resetting
// it.
func (c *Conn) DBStatus(op int32) (cur, hi int32, err error) {
	res := c.tls.Alloc(8)
	defer c.tls.Free(8)
	pc, ph := res, res+4
	*(*int32)(cptr(pc)), *(*int32)(cptr(ph)) = 0, 0
	if rc := sqlite3.Xsqlite3_db_status(c.tls, c.db, op, pc, ph, 0); rc != OK {
		return 0, 0, c.err(rc)
	}
	return *(*int32)(cptr(pc)), *(*int32)(cptr(ph)), nil
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
