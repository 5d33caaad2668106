package capi

import (
	"encoding/binary"

	sqlite3 "modernc.org/sqlite/lib"
)

// TxHeader is what the main database's header says inside the transaction
// open on a connection, its own uncommitted changes included: the values
// PRAGMA page_count, freelist_count, schema_version, user_version and
// application_id would return, without compiling and running a statement.
type TxHeader struct {
	PageCount     uint32
	FreelistCount uint32
	SchemaCookie  uint32
	UserVersion   uint32
	ApplicationID uint32
}

// Offsets in page 1 of the header fields TxHeader reports (SQLite's file
// format, "The Database Header").
const (
	hdrFreelistCount = 36
	hdrSchemaCookie  = 40
	hdrUserVersion   = 60
	hdrApplicationID = 68
	hdrEnd           = 72
)

// TxHeader returns the main database's header as the transaction open on c
// sees it; ok is false when no transaction is open, so page 1 is not held.
//
// The values are read from SQLite's memory: the b-tree's page count and its
// in-memory copy of page 1, which the pager owns and keeps valid while a
// transaction holds the page. They are copied out before returning, and c
// is used by one goroutine at a time, so nothing changes them meanwhile.
func (c *Conn) TxHeader() (h TxHeader, ok bool) {
	main := c.mainDB()
	if main == nil || main.FpBt == 0 {
		return h, false
	}
	bt := (*sqlite3.TBtree)(cptr(main.FpBt))
	if bt.FinTrans == sqlite3.TRANS_NONE || bt.FpBt == 0 {
		return h, false
	}
	shared := (*sqlite3.TBtShared)(cptr(bt.FpBt))
	if shared.FpPage1 == 0 {
		return h, false
	}
	page1 := (*sqlite3.TMemPage)(cptr(shared.FpPage1))
	if page1.FaData == 0 {
		return h, false
	}
	b := cbytes(page1.FaData, hdrEnd)
	be := binary.BigEndian
	return TxHeader{
		PageCount:     shared.FnPage,
		FreelistCount: be.Uint32(b[hdrFreelistCount:]),
		SchemaCookie:  be.Uint32(b[hdrSchemaCookie:]),
		UserVersion:   be.Uint32(b[hdrUserVersion:]),
		ApplicationID: be.Uint32(b[hdrApplicationID:]),
	}, true
}

// mainDB returns the connection's entry for the main database (SQLite's
// memory, valid while the connection is open), or nil.
func (c *Conn) mainDB() *sqlite3.TDb {
	db := (*sqlite3.Tsqlite3)(cptr(c.db))
	if db.FaDb == 0 || db.FnDb < 1 {
		return nil
	}
	return cindex[sqlite3.TDb](db.FaDb, 0)
}

// SchemaGen names the schemas a connection's statements compile against.
// Values are comparable: a statement compiled under one value is current
// while the connection's SchemaGeneration is still that value.
type SchemaGen struct{ main, temp [2]uint32 }

// SchemaGeneration returns the connection's schema generation, read from
// SQLite's memory (no I/O): for main and temp, the schema cookie as the
// connection last loaded or changed it, and SQLite's count of the times it
// dropped the schema from memory (a rollback of a schema change, a reload
// after another connection's change), which SQLite's statements check too.
func (c *Conn) SchemaGeneration() SchemaGen {
	var g SchemaGen
	db := (*sqlite3.Tsqlite3)(cptr(c.db))
	if db.FaDb == 0 {
		return g
	}
	schema := func(i int32) (out [2]uint32) {
		if i < db.FnDb {
			if d := cindex[sqlite3.TDb](db.FaDb, int(i)); d.FpSchema != 0 {
				sc := (*sqlite3.TSchema)(cptr(d.FpSchema))
				out = [2]uint32{uint32(sc.Fschema_cookie), uint32(sc.FiGeneration)}
			}
		}
		return out
	}
	g.main, g.temp = schema(0), schema(1)
	return g
}
