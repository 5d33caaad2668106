package capi

import (
	"unsafe"

	"modernc.org/libc"
	"modernc.org/libc/sys/types"
	sqlite3 "modernc.org/sqlite/lib"
)

// Reading result columns without API calls.
//
// Each sqlite3_column_* call looks the value up again and runs SQLite's
// malloc-failure bookkeeping; reading a row of n columns through the API
// costs 2n or 3n calls. Column reads the value straight from the statement's
// result row instead: the transpiled engine's Vdbe.pResultRow array of Mem
// structs, which sqlite3_step fills and which stays valid until the next
// step, reset or finalize. Only values in their final form are read this way
// (an integer, a float, UTF-8 text, a plain blob); anything that would need
// SQLite to convert or expand it (UTF-16 text, a zeroblob, an int stored as
// real) goes through the API, which does that. TestColumnMatchesTheAPI
// checks the two agree.

// memType maps the low six flag bits of a Mem to its datatype, as
// sqlite3_value_type does. It is filled from sqlite3_value_type itself.
var memType [sqlite3.MEM_AffMask + 1]uint8

func init() {
	// The probe Mem lives in C memory: the engine must not be handed Go
	// pointers (the race detector's checkptr rejects them, rightly).
	tls := libc.NewTLS()
	defer tls.Close()
	p := libc.Xcalloc(tls, 1, types.Size_t(memSize))
	if p == 0 {
		panic("capi: out of memory at init")
	}
	defer libc.Xfree(tls, p)
	m := (*sqlite3.TMem)(cptr(p))
	for f := range memType {
		m.Fflags = uint16(f)
		memType[f] = uint8(sqlite3.Xsqlite3_value_type(tls, p))
	}
}

const memSize = unsafe.Sizeof(sqlite3.TMem{})

// Column returns the datatype of column i of the current row and its value:
// in i64 for INTEGER, in f64 for FLOAT, in b for TEXT (UTF-8) and BLOB. b
// aliases SQLite's memory: it is valid only until the next Step, Reset or
// Finalize of s and must be copied to be kept. For NULL (and no row) all are
// zero.
func (s *Stmt) Column(i int) (typ int32, i64 int64, f64 float64, b []byte) {
	v := (*sqlite3.TVdbe)(cptr(s.p))
	if v.FpResultRow == 0 || uint(i) >= uint(v.FnResColumn) {
		return NULL, 0, 0, nil
	}
	return memValue(s.c.tls, v.FpResultRow+uintptr(i)*memSize)
}

// memValue returns the datatype and value of the sqlite3_value (Mem) at p,
// as Column describes them; b aliases SQLite's memory.
func memValue(tls *libc.TLS, p uintptr) (typ int32, i64 int64, f64 float64, b []byte) {
	m := (*sqlite3.TMem)(cptr(p))
	f := m.Fflags
	typ = int32(memType[f&sqlite3.MEM_AffMask])
	switch typ {
	case INTEGER:
		if f&sqlite3.MEM_Int != 0 {
			return typ, *(*int64)(unsafe.Pointer(&m.Fu)), 0, nil
		}
		return typ, sqlite3.Xsqlite3_value_int64(tls, p), 0, nil
	case FLOAT:
		if f&sqlite3.MEM_Real != 0 {
			return typ, 0, m.Fu.Fr, nil
		}
		return typ, 0, sqlite3.Xsqlite3_value_double(tls, p), nil
	case TEXT:
		if f&sqlite3.MEM_Zero == 0 && m.Fenc == sqlite3.SQLITE_UTF8 {
			return typ, 0, 0, cbytes(m.Fz, int(m.Fn))
		}
		z := sqlite3.Xsqlite3_value_text(tls, p)
		return typ, 0, 0, cbytes(z, int(sqlite3.Xsqlite3_value_bytes(tls, p)))
	case BLOB:
		if f&sqlite3.MEM_Zero == 0 {
			return typ, 0, 0, cbytes(m.Fz, int(m.Fn))
		}
		z := sqlite3.Xsqlite3_value_blob(tls, p)
		return typ, 0, 0, cbytes(z, int(sqlite3.Xsqlite3_value_bytes(tls, p)))
	}
	return NULL, 0, 0, nil
}
