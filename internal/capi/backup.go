package capi

import (
	sqlite3 "modernc.org/sqlite/lib"
)

// Backup is an online backup in progress (sqlite3_backup*): pages of one
// connection's database copied into another connection's database, a
// step at a time, in one write transaction of the destination.
//
// It runs on the destination's TLS, and touches both connections: neither
// may be used for anything else while it is open, and both must stay open
// until Finish.
//
// Memory: SQLite owns the handle, which sqlite3_backup_finish frees. The
// schema names are copied onto the TLS stack for sqlite3_backup_init only.
type Backup struct {
	dst, src *Conn
	p        uintptr
}

// Backup starts copying database srcSchema of src into database dstSchema
// of c ("main", "temp" or an attached name; sqlite3_backup_init). c must
// have no transaction open on dstSchema.
func (c *Conn) Backup(dstSchema string, src *Conn, srcSchema string) (*Backup, error) {
	if c.db == 0 || src.db == 0 {
		return nil, &Error{Code: MISUSE, Msg: "connection is closed"}
	}
	zDst, n1 := stackString(c.tls, dstSchema)
	defer c.tls.Free(n1)
	zSrc, n2 := stackString(c.tls, srcSchema)
	defer c.tls.Free(n2)
	p := sqlite3.Xsqlite3_backup_init(c.tls, c.db, zDst, src.db, zSrc)
	if p == 0 {
		// sqlite3_backup_init leaves its error on the destination.
		return nil, c.err(sqlite3.Xsqlite3_errcode(c.tls, c.db))
	}
	return &Backup{dst: c, src: src, p: p}, nil
}

// Step copies up to pages pages (all that are left if pages < 0) and
// reports whether the copy is complete, in which case the destination's
// transaction has committed (sqlite3_backup_step).
func (b *Backup) Step(pages int) (done bool, err error) {
	if b.p == 0 {
		return false, &Error{Code: MISUSE, Msg: "backup is finished"}
	}
	switch rc := sqlite3.Xsqlite3_backup_step(b.dst.tls, b.p, int32(pages)); rc {
	case OK:
		return false, nil
	case DONE:
		return true, nil
	default:
		// sqlite3_backup_step sets no connection's error message.
		return false, newError(b.dst.tls, 0, rc)
	}
}

// Remaining returns the pages still to copy as of the last Step.
func (b *Backup) Remaining() int {
	if b.p == 0 {
		return 0
	}
	return int(sqlite3.Xsqlite3_backup_remaining(b.dst.tls, b.p))
}

// PageCount returns the source's pages as of the last Step.
func (b *Backup) PageCount() int {
	if b.p == 0 {
		return 0
	}
	return int(sqlite3.Xsqlite3_backup_pagecount(b.dst.tls, b.p))
}

// Finish frees the backup. If the copy is not complete, the destination's
// transaction rolls back and the destination is as it was. It returns the
// error of the last Step, if any (sqlite3_backup_finish). Finish twice is a
// no-op.
func (b *Backup) Finish() error {
	if b.p == 0 {
		return nil
	}
	rc := sqlite3.Xsqlite3_backup_finish(b.dst.tls, b.p)
	b.p = 0
	if rc != OK {
		return newError(b.dst.tls, 0, rc)
	}
	return nil
}
