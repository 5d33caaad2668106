package capi

import (
	"fmt"
	"io"

	"modernc.org/libc"
	"modernc.org/libc/sys/types"
	sqlite3 "modernc.org/sqlite/lib"
)

// blobChunk is how many bytes WriteBlob copies per sqlite3_blob_write.
const blobChunk = 64 << 10

// WriteBlob fills the blob in column of table's row rowid, in database db
// ("main", "temp" or an attached name), with size bytes read from src,
// through SQLite's incremental blob I/O (sqlite3_blob_open, _write,
// _close): the row must already hold a blob of size bytes (an INSERT of
// zeroblob(size), say). A value too big to build in memory goes to the
// database a chunk at a time. size must fit an int32, as SQLite's blob
// offsets do.
//
// Memory: one chunk of the libc heap, owned here and freed before it
// returns; src writes into it (through a slice aliasing it) and SQLite
// copies from it, both during the call only.
func (c *Conn) WriteBlob(db, table, column string, rowid, size int64, src io.Reader) error {
	if size < 0 || size > 1<<31-1 {
		return fmt.Errorf("capi: WriteBlob of %d bytes: out of range", size)
	}
	zDB, n1 := stackString(c.tls, db)
	defer c.tls.Free(n1)
	zTable, n2 := stackString(c.tls, table)
	defer c.tls.Free(n2)
	zColumn, n3 := stackString(c.tls, column)
	defer c.tls.Free(n3)
	pp := c.tls.Alloc(8)
	defer c.tls.Free(8)
	*(*uintptr)(cptr(pp)) = 0
	if rc := sqlite3.Xsqlite3_blob_open(c.tls, c.db, zDB, zTable, zColumn, rowid, 1, pp); rc != OK {
		return c.err(rc)
	}
	blob := *(*uintptr)(cptr(pp))
	buf := libc.Xmalloc(c.tls, types.Size_t(blobChunk))
	if buf == 0 {
		sqlite3.Xsqlite3_blob_close(c.tls, blob)
		return &Error{Code: NOMEM, Msg: "out of memory"}
	}
	defer libc.Xfree(c.tls, buf)
	for off := int64(0); off < size; {
		k := int(min(size-off, blobChunk))
		if _, err := io.ReadFull(src, cbytes(buf, k)); err != nil {
			sqlite3.Xsqlite3_blob_close(c.tls, blob)
			return fmt.Errorf("capi: WriteBlob: reading bytes %d to %d: %w", off, off+int64(k), err)
		}
		if rc := sqlite3.Xsqlite3_blob_write(c.tls, blob, buf, int32(k), int32(off)); rc != OK {
			err := c.err(rc)
			sqlite3.Xsqlite3_blob_close(c.tls, blob)
			return err
		}
		off += int64(k)
	}
	if rc := sqlite3.Xsqlite3_blob_close(c.tls, blob); rc != OK {
		return c.err(rc)
	}
	return nil
}
