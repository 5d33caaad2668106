package libsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
	r, err := c.Query(ctx, serializeSQL, schemaOrMain(schema))
	if err != nil {
		return nil, serializeErr(schema, err)
	}
	return readImage(r, schema)
}

// Serialize returns the database schema ("" or "main", "temp", or an
// attached database's name) of q, a database/sql *DB, *Conn or *Tx, as the
// bytes of a database file in SQLite's format, as one statement (or q's
// transaction) sees it: the image [WithImage] starts an in-memory database
// from, and a file stock SQLite opens once written to disk (in rollback
// mode, with no log). A database with no page yet gives an empty image; a
// schema that does not exist is an error. The whole database is in memory
// at once. [Conn.Serialize] does the same on a native connection.
func Serialize(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, schema string) ([]byte, error) {
	r, err := q.QueryContext(ctx, serializeSQL, schemaOrMain(schema))
	if err != nil {
		return nil, serializeErr(schema, err)
	}
	return readImage(r, schema)
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
	var image, page []byte
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
		if len(page) == 0 {
			return nil, serializeErr(schema, fmt.Errorf("page %d is empty", pgno))
		}
		if int64(len(image)) != (pgno-1)*int64(len(page)) {
			return nil, serializeErr(schema, fmt.Errorf("page %d of %d bytes after %d bytes of pages: the pages are not in order", pgno, len(page), len(image)))
		}
		if image == nil {
			image = make([]byte, 0, 64*len(page))
		}
		image = append(image, page...)
		if pgno == 1 {
			rollbackMode(image)
		}
	}
	if err := r.Err(); err != nil {
		return nil, serializeErr(schema, err)
	}
	if !found {
		return nil, serializeErr(schema, errors.New("no such database (see PRAGMA database_list)"))
	}
	if image == nil {
		return []byte{}, nil // a database with no page
	}
	return image, nil
}

// serializeSQL reads every page of a database, in order, through SQLite's
// pager (the sqlite_dbpage table): the snapshot the statement reads.
// A schema with no page yet gives one row of pgno 0, one that does not
// exist none.
const serializeSQL = `SELECT coalesce(p.pgno, 0), p.data FROM pragma_database_list AS d
	LEFT JOIN sqlite_dbpage(d.name) AS p WHERE d.name = ?1 COLLATE NOCASE ORDER BY p.pgno`

// rollbackMode makes page 1 say rollback mode, whatever the VFS showed: a
// file written from pages has no log (this engine shows 1 already; unix
// and memdb show a WAL database's 2).
func rollbackMode(page1 []byte) {
	for i := 18; i <= 19 && i < len(page1); i++ {
		if page1[i] == 2 {
			page1[i] = 1
		}
	}
}

func schemaOrMain(schema string) string {
	if schema == "" {
		return "main"
	}
	return schema
}

func serializeErr(schema string, err error) error {
	return fmt.Errorf("libsql: Serialize %q: %w", schemaOrMain(schema), err)
}
