package capi

import (
	sqlite3 "modernc.org/sqlite/lib"
)

// Fundamental datatypes returned by [Stmt.ColumnType].
const (
	INTEGER = sqlite3.SQLITE_INTEGER
	FLOAT   = sqlite3.SQLITE_FLOAT
	TEXT    = sqlite3.SQLITE_TEXT
	BLOB    = sqlite3.SQLITE_BLOB
	NULL    = sqlite3.SQLITE_NULL
)

// ColumnCount returns the number of result columns (sqlite3_column_count).
func (s *Stmt) ColumnCount() int { return int(sqlite3.Xsqlite3_column_count(s.c.tls, s.p)) }

// ColumnType returns the datatype of column i (0-based) of the current row.
func (s *Stmt) ColumnType(i int) int32 { return sqlite3.Xsqlite3_column_type(s.c.tls, s.p, int32(i)) }

// ColumnInt64 returns column i of the current row as an integer.
func (s *Stmt) ColumnInt64(i int) int64 {
	return sqlite3.Xsqlite3_column_int64(s.c.tls, s.p, int32(i))
}

// ColumnFloat returns column i of the current row as a float.
func (s *Stmt) ColumnFloat(i int) float64 {
	return sqlite3.Xsqlite3_column_double(s.c.tls, s.p, int32(i))
}

// ColumnText returns column i of the current row as text, copied into a Go
// string.
func (s *Stmt) ColumnText(i int) string {
	p := sqlite3.Xsqlite3_column_text(s.c.tls, s.p, int32(i))
	n := sqlite3.Xsqlite3_column_bytes(s.c.tls, s.p, int32(i))
	if p == 0 || n == 0 {
		return ""
	}
	return string(cbytes(p, int(n)))
}

// ColumnBlob returns column i of the current row as a blob, copied into Go
// memory; a zero-length blob is an empty, non-nil slice.
func (s *Stmt) ColumnBlob(i int) []byte {
	p := sqlite3.Xsqlite3_column_blob(s.c.tls, s.p, int32(i))
	n := sqlite3.Xsqlite3_column_bytes(s.c.tls, s.p, int32(i))
	b := make([]byte, n)
	if p != 0 {
		copy(b, cbytes(p, int(n)))
	}
	return b
}

// ColumnRawBlob returns column i of the current row as a blob without
// copying: the slice aliases SQLite's memory and is valid only until the
// next Step, Reset or Finalize of s, or the next column call on column i.
func (s *Stmt) ColumnRawBlob(i int) []byte {
	p := sqlite3.Xsqlite3_column_blob(s.c.tls, s.p, int32(i))
	n := sqlite3.Xsqlite3_column_bytes(s.c.tls, s.p, int32(i))
	if p == 0 {
		return nil
	}
	return cbytes(p, int(n))
}

// ColumnRawText returns column i of the current row as text without
// copying: the slice aliases SQLite's memory and is valid only until the
// next Step, Reset or Finalize of s, or the next column call on column i.
func (s *Stmt) ColumnRawText(i int) []byte {
	p := sqlite3.Xsqlite3_column_text(s.c.tls, s.p, int32(i))
	n := sqlite3.Xsqlite3_column_bytes(s.c.tls, s.p, int32(i))
	if p == 0 {
		return nil
	}
	return cbytes(p, int(n))
}

// ColumnNames returns the names of the result columns. The slice is shared
// and kept until SQLite re-prepares s: do not modify it.
func (s *Stmt) ColumnNames() []string {
	s.columnMeta()
	return s.names
}

// ColumnDeclTypes returns the declared type of every result column, as
// written in CREATE TABLE ("" for an expression). The slice is shared and
// kept until SQLite re-prepares s: do not modify it.
func (s *Stmt) ColumnDeclTypes() []string {
	s.columnMeta()
	return s.decls
}

// columnMeta reads the column names and declared types the first time, and
// again after SQLite re-prepared the statement (a schema change may have
// changed its columns).
func (s *Stmt) columnMeta() {
	if s.colsOK {
		if r := s.Reprepares(); r == s.reprep {
			return
		}
	}
	s.reprep = s.Reprepares()
	n := s.ColumnCount()
	s.names = make([]string, n)
	s.decls = make([]string, n)
	for i := range n {
		s.names[i] = goString(sqlite3.Xsqlite3_column_name(s.c.tls, s.p, int32(i)))
		s.decls[i] = goString(sqlite3.Xsqlite3_column_decltype(s.c.tls, s.p, int32(i)))
	}
	s.colsOK = true
}

// ColumnOrigin returns the schema, table and table column that result column
// i comes from, or empty strings for an expression
// (sqlite3_column_database_name, _table_name, _origin_name).
func (s *Stmt) ColumnOrigin(i int) (schema, table, column string) {
	schema = goString(sqlite3.Xsqlite3_column_database_name(s.c.tls, s.p, int32(i)))
	table = goString(sqlite3.Xsqlite3_column_table_name(s.c.tls, s.p, int32(i)))
	column = goString(sqlite3.Xsqlite3_column_origin_name(s.c.tls, s.p, int32(i)))
	return schema, table, column
}

// ColumnMetadata describes a table column (sqlite3_table_column_metadata).
type ColumnMetadata struct {
	DeclType      string
	Collation     string
	NotNull       bool
	PrimaryKey    bool
	AutoIncrement bool
}

// TableColumnMetadata returns what the schema says of a table column; with
// column "", it only checks that the table exists (an error if not).
func (c *Conn) TableColumnMetadata(schema, table, column string) (ColumnMetadata, error) {
	tls := c.tls
	// Stack order: out-params, then the three names; freed in reverse.
	out := tls.Alloc(8 + 8 + 4 + 4 + 4)
	zDB, nDB := stackString(tls, schema)
	zTab, nTab := stackString(tls, table)
	zCol, nCol := stackString(tls, column)
	var zs uintptr // NULL schema: search every database
	if schema != "" {
		zs = zDB
	}
	if column == "" {
		zCol = 0 // NULL column: SQLite checks only the table
	}
	rc := sqlite3.Xsqlite3_table_column_metadata(tls, c.db, zs, zTab, zCol, out, out+8, out+16, out+20, out+24)
	var md ColumnMetadata
	if rc == OK {
		md = ColumnMetadata{
			DeclType:      goString(*(*uintptr)(cptr(out))),
			Collation:     goString(*(*uintptr)(cptr(out + 8))),
			NotNull:       *(*int32)(cptr(out + 16)) != 0,
			PrimaryKey:    *(*int32)(cptr(out + 20)) != 0,
			AutoIncrement: *(*int32)(cptr(out + 24)) != 0,
		}
	}
	tls.Free(nCol)
	tls.Free(nTab)
	tls.Free(nDB)
	tls.Free(8 + 8 + 4 + 4 + 4)
	if rc != OK {
		return md, c.err(rc)
	}
	return md, nil
}
