package capi

import (
	"fmt"
	"io"

	"modernc.org/libc"
	"modernc.org/libc/sys/types"
	sqlite3 "modernc.org/sqlite/lib"
)

// blobChunk is how many bytes a Blob copies per sqlite3_blob_read or
// sqlite3_blob_write.
const blobChunk = 64 << 10

// Blob is an open handle of SQLite's incremental blob I/O (sqlite3_blob*):
// one value of one row, read and written in place, a chunk at a time,
// without the whole value ever being in memory. It belongs to the Conn
// that opened it and runs on its TLS; while it is open, the statement
// behind it keeps the connection's transaction (or, in autocommit mode,
// its read snapshot) open.
//
// Memory: SQLite owns the handle, which sqlite3_blob_close frees; the Blob
// owns buf, one chunk of the libc heap, freed by Close. SQLite copies into
// and out of buf during a call only, and Go bytes are copied into and out
// of it through a slice that aliases it during the same call (SQLite's
// calls take C addresses, and a Go slice's address is not one: the
// goroutine's stack may move).
type Blob struct {
	c    *Conn
	p    uintptr
	buf  uintptr
	size int64
}

// OpenBlob opens the value in column of table's row rowid, in database db
// ("main", "temp" or an attached name), for reading, or for reading and
// writing if write is set (sqlite3_blob_open). A write needs a write
// transaction, which it starts (or joins) as a statement does.
func (c *Conn) OpenBlob(db, table, column string, rowid int64, write bool) (*Blob, error) {
	if c.db == 0 {
		return nil, &Error{Code: MISUSE, Msg: "connection is closed"}
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
	var flags int32
	if write {
		flags = 1
	}
	if rc := sqlite3.Xsqlite3_blob_open(c.tls, c.db, zDB, zTable, zColumn, rowid, flags, pp); rc != OK {
		return nil, c.err(rc)
	}
	b := &Blob{c: c, p: *(*uintptr)(cptr(pp))}
	b.buf = libc.Xmalloc(c.tls, types.Size_t(blobChunk))
	if b.buf == 0 {
		sqlite3.Xsqlite3_blob_close(c.tls, b.p)
		return nil, &Error{Code: NOMEM, Msg: "out of memory"}
	}
	b.size = int64(sqlite3.Xsqlite3_blob_bytes(c.tls, b.p))
	return b, nil
}

// Size returns the value's size in bytes, fixed while the handle points
// at its row.
func (b *Blob) Size() int64 { return b.size }

// ReadAt fills p with the bytes of the value from off on. The range must
// lie inside the value.
func (b *Blob) ReadAt(p []byte, off int64) error {
	if err := b.check(len(p), off); err != nil {
		return err
	}
	for len(p) > 0 {
		k := min(len(p), blobChunk)
		if rc := sqlite3.Xsqlite3_blob_read(b.c.tls, b.p, b.buf, int32(k), int32(off)); rc != OK {
			return b.c.err(rc)
		}
		copy(p, cbytes(b.buf, k))
		p, off = p[k:], off+int64(k)
	}
	return nil
}

// WriteAt writes p over the bytes of the value from off on. The range must
// lie inside the value: a blob handle never changes a value's size.
func (b *Blob) WriteAt(p []byte, off int64) error {
	if err := b.check(len(p), off); err != nil {
		return err
	}
	for len(p) > 0 {
		k := min(len(p), blobChunk)
		copy(cbytes(b.buf, k), p[:k])
		if rc := sqlite3.Xsqlite3_blob_write(b.c.tls, b.p, b.buf, int32(k), int32(off)); rc != OK {
			return b.c.err(rc)
		}
		p, off = p[k:], off+int64(k)
	}
	return nil
}

// Fill writes the value from off on with n bytes read from src, a
// chunk at a time straight into the copy buffer. A source that ends
// early fails with io.ErrUnexpectedEOF, after the chunks before it were
// written.
func (b *Blob) Fill(src io.Reader, off, n int64) error {
	if n < 0 || n > b.size {
		return fmt.Errorf("capi: writing %d bytes into a blob of %d", n, b.size)
	}
	if err := b.check(0, off); err != nil {
		return err
	}
	if off+n > b.size {
		return fmt.Errorf("capi: writing %d bytes at offset %d of a blob of %d", n, off, b.size)
	}
	for end := off + n; off < end; {
		k := int(min(end-off, blobChunk))
		if _, err := io.ReadFull(src, cbytes(b.buf, k)); err != nil {
			return fmt.Errorf("capi: writing a blob: reading bytes %d to %d: %w", off, off+int64(k), err)
		}
		if rc := sqlite3.Xsqlite3_blob_write(b.c.tls, b.p, b.buf, int32(k), int32(off)); rc != OK {
			return b.c.err(rc)
		}
		off += int64(k)
	}
	return nil
}

// check validates a range of n bytes from off against the open handle.
func (b *Blob) check(n int, off int64) error {
	if b.p == 0 {
		return &Error{Code: MISUSE, Msg: "blob handle is closed"}
	}
	if off < 0 || off > b.size || int64(n) > b.size-off {
		return fmt.Errorf("capi: %d bytes at offset %d of a blob of %d: out of range", n, off, b.size)
	}
	return nil
}

// Reopen points the handle at row rowid of the same table and column
// (sqlite3_blob_reopen). If that fails the handle is expired: every read
// and write fails until a Reopen succeeds.
func (b *Blob) Reopen(rowid int64) error {
	if b.p == 0 {
		return &Error{Code: MISUSE, Msg: "blob handle is closed"}
	}
	if rc := sqlite3.Xsqlite3_blob_reopen(b.c.tls, b.p, rowid); rc != OK {
		b.size = 0
		return b.c.err(rc)
	}
	b.size = int64(sqlite3.Xsqlite3_blob_bytes(b.c.tls, b.p))
	return nil
}

// Close closes the handle (sqlite3_blob_close), which ends its statement:
// in autocommit mode, that commits what it wrote. The error is the
// commit's, if it failed. Closing twice is a no-op.
func (b *Blob) Close() error {
	if b.p == 0 {
		return nil
	}
	p := b.p
	b.p = 0
	libc.Xfree(b.c.tls, b.buf)
	b.buf = 0
	if b.c.db == 0 {
		return nil // the connection's close freed the handle
	}
	if rc := sqlite3.Xsqlite3_blob_close(b.c.tls, p); rc != OK {
		return b.c.err(rc)
	}
	return nil
}

// WriteBlob fills the blob in column of table's row rowid, in database db
// ("main", "temp" or an attached name), with size bytes read from src,
// through one Blob: the row must already hold a blob of size bytes (an
// INSERT of zeroblob(size), say). A value too big to build in memory goes
// to the database a chunk at a time. size must fit an int32, as SQLite's
// blob offsets do.
func (c *Conn) WriteBlob(db, table, column string, rowid, size int64, src io.Reader) error {
	if size < 0 || size > 1<<31-1 {
		return fmt.Errorf("capi: WriteBlob of %d bytes: out of range", size)
	}
	b, err := c.OpenBlob(db, table, column, rowid, true)
	if err != nil {
		return err
	}
	if err := b.Fill(src, 0, size); err != nil {
		b.Close()
		return fmt.Errorf("capi: WriteBlob: %w", err)
	}
	return b.Close()
}
