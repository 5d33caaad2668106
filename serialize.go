package libsql

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
)

// Serialize returns the database schema ("" or "main", "temp", or an
// attached database's name) as the bytes of a database file in SQLite's
// format, read from one snapshot (the transaction's, inside one): the
// image [WithImage] starts an in-memory database from, and a file stock
// SQLite opens once written to disk (in rollback mode, with no log). A
// database with no page yet gives an empty image. The whole database is
// in memory at once: for a large one, VACUUM INTO a file instead. ctx
// bounds the read.
func (c *Conn) Serialize(ctx context.Context, schema string) ([]byte, error) {
	if c.c.cc.Closed() {
		return nil, serializeErr(schema, errConnClosed)
	}
	return c.c.serialize(ctx, schema)
}

// Serialize returns the database schema ("" or "main", "temp", or an
// attached database's name) of q, a database/sql *DB, *Conn or *Tx, as the
// bytes of a database file in SQLite's format, as one statement (or q's
// transaction) sees it: the image [WithImage] starts an in-memory database
// from, and a file stock SQLite opens once written to disk (in rollback
// mode, with no log). A database with no page yet gives an empty image; a
// schema that does not exist is an error. The whole database is in memory
// at once. [Conn.Serialize] does the same on a native connection. An
// [Authorizer] does not judge the read, except through a *sql.Tx, whose
// connection database/sql does not hand out: there it is the SELECT from
// sqlite_dbpage it is.
func Serialize(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, schema string) ([]byte, error) {
	var sc *sql.Conn
	switch q := q.(type) {
	case *sql.DB:
		var err error
		if sc, err = q.Conn(ctx); err != nil {
			return nil, serializeErr(schema, err)
		}
		defer sc.Close()
	case *sql.Conn:
		sc = q
	}
	if sc != nil {
		var image []byte
		err := sc.Raw(func(dc any) (err error) {
			c, ok := dc.(*conn)
			if !ok {
				return fmt.Errorf("libsql: Serialize: the driver connection is a %T, not this driver's", dc)
			}
			image, err = c.serialize(ctx, schema)
			return err
		})
		return image, err
	}
	r, err := q.QueryContext(ctx, serializeSQL, schemaOrMain(schema))
	if err != nil {
		return nil, serializeErr(schema, err)
	}
	return readImage(r, schema)
}

// serialize reads the image of database schema with the driver's own
// statement.
func (c *conn) serialize(ctx context.Context, schema string) ([]byte, error) {
	cl, err := c.enter(ctx)
	if err != nil {
		return nil, serializeErr(schema, err)
	}
	defer c.leave(cl)
	p, err := c.prepare(serializeSQL)
	if err != nil {
		return nil, serializeErr(schema, c.mapErr(ctx, err))
	}
	if err := p.s.BindText(1, schemaOrMain(schema)); err != nil {
		c.release(p)
		return nil, serializeErr(schema, c.mapErr(ctx, err))
	}
	return readImage(&stmtPageRows{c: c, ctx: ctx, p: p}, schema)
}

// stmtPageRows are serializeSQL's rows read from the driver's statement.
type stmtPageRows struct {
	c   *conn
	ctx context.Context
	p   *prepared
	err error
}

func (r *stmtPageRows) Next() bool {
	if r.err != nil || r.p == nil {
		return false
	}
	row, err := r.p.s.Step()
	if err != nil {
		r.err = r.c.mapErr(r.ctx, err)
	}
	return row
}

func (r *stmtPageRows) Scan(dest ...any) error {
	*dest[0].(*int64) = r.p.s.ColumnInt64(0)
	*dest[1].(*[]byte) = r.p.s.ColumnRawBlob(1) // appended to the image before the next step
	return nil
}

func (r *stmtPageRows) Err() error { return r.err }

func (r *stmtPageRows) Close() error {
	if r.p != nil {
		r.c.release(r.p)
		r.p = nil
	}
	return nil
}

// pageRows are the rows of serializeSQL, native or database/sql's.
type pageRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// readImage reads the pages of r into an image and closes r.
func readImage(r pageRows, schema string) ([]byte, error) {
	defer r.Close()
	var image bytes.Buffer
	pw := pageWriter{w: &image}
	var page []byte
	var pgno int64
	found := false
	for r.Next() {
		if err := r.Scan(&pgno, &page); err != nil {
			return nil, serializeErr(schema, err)
		}
		found = true
		if pgno == 0 {
			continue // the database has no page yet
		}
		if err := pw.add(pgno, page); err != nil {
			return nil, serializeErr(schema, err)
		}
	}
	if err := r.Err(); err != nil {
		return nil, serializeErr(schema, err)
	}
	if !found {
		return nil, serializeErr(schema, errNoSchema)
	}
	if pw.pages == 0 {
		return []byte{}, nil // a database with no page
	}
	return image.Bytes(), nil
}

var errNoSchema = errors.New("no such database (see PRAGMA database_list)")

// pageWriter writes a database's pages, given in order, as a database
// file: Serialize's image and a Backup's new file.
type pageWriter struct {
	w     io.Writer
	pages int64 // written so far
	size  int   // of every page
}

// add writes page pgno, which must follow the pages written, with their
// size. Page 1 is written in rollback mode, whatever the VFS showed: a
// file written from pages has no log (this engine shows 1 already; unix
// and memdb show a WAL database's 2).
func (pw *pageWriter) add(pgno int64, page []byte) error {
	if len(page) == 0 {
		return fmt.Errorf("page %d is empty", pgno)
	}
	if pgno != pw.pages+1 || pw.size != 0 && len(page) != pw.size {
		return fmt.Errorf("page %d of %d bytes after %d pages: the pages are not in order", pgno, len(page), pw.pages)
	}
	if pgno == 1 {
		page = bytes.Clone(page) // it may be SQLite's memory
		for i := 18; i <= 19 && i < len(page); i++ {
			if page[i] == 2 {
				page[i] = 1
			}
		}
	}
	if _, err := pw.w.Write(page); err != nil {
		return err
	}
	pw.pages++
	pw.size = len(page)
	return nil
}

// serializeSQL reads every page of a database, in order, through SQLite's
// pager (the sqlite_dbpage table): the snapshot the statement reads (for
// Serialize, and for a Backup into a new file). A schema with no page yet
// gives one row of pgno 0, one that does not exist none. It has no ORDER
// BY: with the join, SQLite sorted every page in a temporary b-tree (a
// Backup of 32 MiB into a new file took 92 ms instead of 69, in 6
// interleaved runs); sqlite_dbpage returns the pages in order, and
// pageWriter refuses any other.
const serializeSQL = `SELECT coalesce(p.pgno, 0), p.data FROM pragma_database_list AS d
	LEFT JOIN sqlite_dbpage(d.name) AS p WHERE d.name = ?1 COLLATE NOCASE`

func schemaOrMain(schema string) string {
	if schema == "" {
		return "main"
	}
	return schema
}

func serializeErr(schema string, err error) error {
	return fmt.Errorf("libsql: Serialize %q: %w", schemaOrMain(schema), err)
}
