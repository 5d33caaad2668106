package libsql

import (
	"context"
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/golibsql/libsql/changefeed"
	"github.com/golibsql/libsql/internal/capi"
)

// A rebased BEGIN CONCURRENT transaction replays its net row changes, one
// per row, built here from the changes the connection's pre-update hook
// captured: with the connection's own statements (replay.go) or, where
// those cannot do it, encoded as a changeset for sqlite3changeset_apply.
// They are the changes a session object would have recorded (every table
// of main, rowid tables without a declared primary key keyed by rowid:
// SQLITE_SESSION_OBJCONFIG_ROWID), except that rows with a NULL in their
// key, which a session ignores, are kept. Capturing them ourselves spares
// every transaction the session's cost (a PRAGMA table_xinfo compiled per
// table per transaction, and SELECTs compiled to generate the changeset),
// which only a rebase needs.
//
// The changeset is the session extension's format: per table a
// header ('T', the column count as a varint, one byte per column with its
// position in the primary key or 0, the name and a NUL), then its changes
// (op, indirect flag, old record for UPDATE and DELETE, new record for
// INSERT and UPDATE), each record one type-tagged field per column. As the
// session does, each row gets one net change from its state before the
// transaction to its state at the end; an UPDATE carries the key and the
// columns it changed.

// Changeset field types (the session's record format).
const (
	csUndefined = 0x00
	csInteger   = 0x01
	csFloat     = 0x02
	csText      = 0x03
	csBlob      = 0x04
	csNull      = 0x05
)

// Changeset operations (SQLITE_INSERT, SQLITE_UPDATE, SQLITE_DELETE).
const (
	csInsert = 18
	csUpdate = 23
	csDelete = 9
)

// csTable is a table as the session extension sees it: its non-hidden
// columns, preceded by the rowid if it has no primary key.
type csTable struct {
	name  string
	cols  []int  // table column (pre-update hook index) of each changeset column; -1 for the rowid
	pk    []byte // position in the primary key of each changeset column, from 1; 0 if none
	stat1 bool   // sqlite_stat1, keyed by (tbl, idx) with a NULL idx as an empty blob

	// For the replay (replay.go): the quoted name of each changeset
	// column, the name that reaches the rowid ("" if every one is a
	// column's), and the statements, built on first use.
	names          []string
	rowidName      string
	insert, delete string
	updates        map[string]string // by the changed columns
	// keyedRowid: a rowid table with a declared primary key, whose rowid
	// is no changeset column; insertRowid is its INSERT with the rowid.
	keyedRowid  bool
	insertRowid string
}

// csRow is one row's net change: its values before the transaction (if it
// existed) and at the end (if it still exists), in changeset columns.
type csRow struct {
	existed, exists bool
	old, cur        []any
	indirect        bool
	rowid           int64 // at the end, where the table has one
}

// csGroup is one table's rows, in the order the transaction first touched
// them.
type csGroup struct {
	t    *csTable
	rows map[string]*csRow
	keys []string
	// minInsert is the smallest rowid the transaction inserted into the
	// table with an INSERT (0 if none), its net change kept or not: an
	// AUTOINCREMENT table's rowids are checked against the newest
	// sqlite_sequence before the replay.
	minInsert int64
}

// encodeChangeset encodes net changes as a changeset.
func encodeChangeset(groups []*csGroup) []byte {
	var out []byte
	for _, g := range groups {
		out = g.appendTo(out)
	}
	return out
}

// capRec is what a rebase needs of a captured change besides its rows.
type capRec struct {
	table           string
	rowID, oldRowID int64 // after and before the change
	op              changefeed.Op
	indirect        bool
}

// capturedChange returns the running concurrent transaction's i-th
// captured change and its old and new rows (nil where the operation has
// none), read back from the connection's change log.
func (c *conn) capturedChange(i int) (capRec, []any, []any, error) {
	ch, oldRowID, err := c.cdc.log.change(i)
	if err != nil {
		return capRec{}, nil, nil, err
	}
	r := capRec{table: ch.Table, op: ch.Op, rowID: ch.RowID, oldRowID: oldRowID, indirect: ch.Indirect}
	return r, ch.Old, ch.New, nil
}

// netChanges folds the running concurrent transaction's captured row
// changes into one net change per row, by table, in the order the
// transaction first touched them. It must run inside the transaction,
// before it is rolled back: the table layouts are read from the schema it
// sees.
func (c *conn) netChanges(ctx context.Context) ([]*csGroup, error) {
	var groups []*csGroup
	byName := map[string]*csGroup{}
	var key []byte
	for i := range c.nCaptured() {
		ch, oldRow, newRow, err := c.capturedChange(i)
		if err != nil {
			return nil, err
		}
		g := byName[ch.table]
		if g == nil {
			t, err := c.changesetTable(ctx, ch.table)
			if err != nil {
				return nil, err
			}
			g = &csGroup{t: t, rows: map[string]*csRow{}}
			byName[ch.table] = g
			groups = append(groups, g)
		}
		oldID := ch.oldRowID
		var old, cur []any
		if ch.op != changefeed.Insert {
			if old, err = g.t.values(oldRow, oldID); err != nil {
				return nil, err
			}
		}
		if ch.op != changefeed.Delete {
			if cur, err = g.t.values(newRow, ch.rowID); err != nil {
				return nil, err
			}
		}
		// An UPDATE that moves a row to a new rowid is no insert: it may
		// take any free rowid, and leaves sqlite_sequence alone.
		if ch.op == changefeed.Insert && ch.rowID > 0 && (g.minInsert == 0 || ch.rowID < g.minInsert) {
			g.minInsert = ch.rowID
		}
		switch ch.op {
		case changefeed.Insert:
			key = g.t.key(key[:0], cur, ch.rowID)
			r := g.row(key, false, nil, ch.indirect)
			r.exists, r.cur = true, cur
		case changefeed.Delete:
			key = g.t.key(key[:0], old, oldID)
			r := g.row(key, true, old, ch.indirect)
			r.exists, r.cur = false, nil
		default:
			key = g.t.key(key[:0], old, oldID)
			r := g.row(key, true, old, ch.indirect)
			newKey := g.t.key(nil, cur, ch.rowID)
			if string(newKey) == string(key) {
				r.exists, r.cur, r.rowid = true, cur, ch.rowID
				continue
			}
			// A changed key is a DELETE of the old row and an INSERT of
			// the new one, as the session records it.
			r.exists, r.cur = false, nil
			r = g.row(newKey, false, nil, ch.indirect)
			r.exists, r.cur = true, cur
		}
	}
	return groups, nil
}

// row returns the net change of the row with key k, created with the given
// state before the transaction if this is the transaction's first change to
// it. A row's change is indirect only if every change to it was.
func (g *csGroup) row(k []byte, existed bool, old []any, indirect bool) *csRow {
	r := g.rows[string(k)]
	if r == nil {
		r = &csRow{existed: existed, old: old, exists: existed, indirect: indirect}
		s := string(k)
		g.rows[s] = r
		g.keys = append(g.keys, s)
		return r
	}
	r.indirect = r.indirect && indirect
	return r
}

// appendTo appends the table's header and net changes to b; a table
// without one appends nothing.
func (g *csGroup) appendTo(b []byte) []byte {
	start := len(b)
	b = append(b, 'T')
	b = appendSQLiteVarint(b, uint64(len(g.t.cols)))
	b = append(b, g.t.pk...)
	b = append(b, g.t.name...)
	b = append(b, 0)
	header := len(b)
	for _, k := range g.keys {
		r := g.rows[k]
		ind := byte(0)
		if r.indirect {
			ind = 1
		}
		switch {
		case !r.existed && r.exists:
			b = append(b, csInsert, ind)
			b = appendRecord(b, r.cur)
		case r.existed && !r.exists:
			b = append(b, csDelete, ind)
			b = appendRecord(b, r.old)
		case r.existed && r.exists:
			b = g.t.appendUpdate(b, ind, r.old, r.cur)
		}
	}
	if len(b) == header {
		return b[:start]
	}
	return b
}

// appendUpdate appends an UPDATE from old to cur: the old record holds the
// key and the old values of the changed columns, the new record the new
// values of the changed columns, every other field undefined. A row that
// ends as it began appends nothing.
func (t *csTable) appendUpdate(b []byte, ind byte, old, cur []any) []byte {
	changed := false
	for i := range t.cols {
		if t.pk[i] == 0 && !sameValue(old[i], cur[i]) {
			changed = true
			break
		}
	}
	if !changed {
		return b
	}
	b = append(b, csUpdate, ind)
	for i := range t.cols {
		if t.pk[i] != 0 || !sameValue(old[i], cur[i]) {
			b = appendField(b, old[i])
		} else {
			b = append(b, csUndefined)
		}
	}
	for i := range t.cols {
		if t.pk[i] == 0 && !sameValue(old[i], cur[i]) {
			b = appendField(b, cur[i])
		} else {
			b = append(b, csUndefined)
		}
	}
	return b
}

// values picks the changeset columns out of a captured row.
func (t *csTable) values(row []any, rowid int64) ([]any, error) {
	out := make([]any, len(t.cols))
	for i, col := range t.cols {
		switch {
		case col < 0:
			out[i] = rowid
		case col < len(row):
			out[i] = row[col]
		default:
			return nil, fmt.Errorf("libsql: rebase: a change to table %q has %d columns, the table %d or more", t.name, len(row), col+1)
		}
	}
	if t.stat1 && len(out) > 1 && out[1] == nil {
		out[1] = []byte{}
	}
	return out, nil
}

// key encodes the primary-key fields of vals, in column order, into b. An
// integral float is encoded as the integer it equals, so that a key read
// with REAL affinity applied and one read without match. A key with a NULL
// (possible in a rowid table's declared primary key, where NULLs are all
// distinct) is made the row's own with its rowid.
func (t *csTable) key(b []byte, vals []any, rowid int64) []byte {
	null := false
	for i, v := range vals {
		if t.pk[i] == 0 {
			continue
		}
		if f, ok := v.(float64); ok && f == math.Trunc(f) && math.Abs(f) < 1<<63 {
			v = int64(f)
		}
		null = null || v == nil
		b = appendField(b, v)
	}
	if null {
		b = appendField(b, rowid)
	}
	return b
}

// sameValue reports whether two captured values are the same value of the
// same type, as the session compares them.
func sameValue(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case int64:
		v, ok := b.(int64)
		return ok && a == v
	case float64:
		v, ok := b.(float64)
		return ok && math.Float64bits(a) == math.Float64bits(v)
	case string:
		v, ok := b.(string)
		return ok && a == v
	case []byte:
		v, ok := b.([]byte)
		return ok && string(a) == string(v)
	}
	return false
}

// appendRecord appends a record of vals.
func appendRecord(b []byte, vals []any) []byte {
	for _, v := range vals {
		b = appendField(b, v)
	}
	return b
}

// appendField appends one type-tagged field: integers and floats as 8
// bytes big-endian, text and blobs as a varint length and the bytes.
func appendField(b []byte, v any) []byte {
	switch v := v.(type) {
	case int64:
		return appendRawField(b, capi.INTEGER, v, 0, nil)
	case float64:
		return appendRawField(b, capi.FLOAT, 0, v, nil)
	case string:
		b = append(b, csText)
		b = appendSQLiteVarint(b, uint64(len(v)))
		return append(b, v...)
	case []byte:
		return appendRawField(b, capi.BLOB, 0, 0, v)
	}
	return append(b, csNull)
}

// appendRawField appends the field of a value as capi reports it raw.
func appendRawField(b []byte, typ int32, i64 int64, f64 float64, raw []byte) []byte {
	switch typ {
	case capi.INTEGER:
		b = append(b, csInteger)
		return binary.BigEndian.AppendUint64(b, uint64(i64))
	case capi.FLOAT:
		b = append(b, csFloat)
		return binary.BigEndian.AppendUint64(b, math.Float64bits(f64))
	case capi.TEXT:
		b = append(b, csText)
	case capi.BLOB:
		b = append(b, csBlob)
	default:
		return append(b, csNull)
	}
	b = appendSQLiteVarint(b, uint64(len(raw)))
	return append(b, raw...)
}

// appendSQLiteVarint appends v as SQLite's varint (big-endian groups of 7
// bits, the high bit set on all but the last byte), for v < 2^56.
func appendSQLiteVarint(b []byte, v uint64) []byte {
	var buf [8]byte
	n := len(buf)
	n--
	buf[n] = byte(v & 0x7f)
	for v >>= 7; v != 0; v >>= 7 {
		n--
		buf[n] = byte(v&0x7f) | 0x80
	}
	return append(b, buf[n:]...)
}

// changesetTable returns the layout of table name as the session extension
// reads it (PRAGMA table_xinfo: the columns not hidden, each with its
// position in the primary key; the rowid first if there is none), cached
// until the schema changes.
func (c *conn) changesetTable(ctx context.Context, name string) (*csTable, error) {
	facts := c.schemaFacts(ctx)
	if t := facts.tables[name]; t != nil {
		return t, nil
	}
	t := &csTable{name: name}
	if strings.EqualFold(name, "sqlite_stat1") {
		t.cols, t.pk, t.stat1 = []int{0, 1, 2}, []byte{1, 2, 0}, true
	} else {
		p, err := c.prepare("SELECT cid, pk, name, hidden FROM pragma_table_xinfo(?1, 'main') ORDER BY cid")
		if err != nil {
			return nil, convertError(err)
		}
		_, err = c.bind(p.s, []driver.NamedValue{{Ordinal: 1, Value: name}}, 0)
		hasPK := false
		var all []string
		for err == nil {
			var row bool
			if row, err = p.s.Step(); !row {
				break
			}
			col := p.s.ColumnText(2)
			all = append(all, col)
			if p.s.ColumnInt64(3) != 0 {
				continue
			}
			pk := p.s.ColumnInt64(1)
			t.cols = append(t.cols, int(p.s.ColumnInt64(0)))
			t.pk = append(t.pk, byte(pk))
			t.names = append(t.names, quoteIdent(col))
			hasPK = hasPK || pk != 0
		}
		c.release(p)
		if err != nil {
			return nil, fmt.Errorf("libsql: rebase: read the columns of table %q: %w", name, convertError(err))
		}
		if len(t.cols) == 0 {
			return nil, fmt.Errorf("libsql: rebase: table %q not found", name)
		}
		t.rowidName = rowidAlias(all)
		if hasPK && t.rowidName != "" {
			// A WITHOUT ROWID table has no rowid to select.
			if p, err := c.prepare("SELECT " + t.rowidName + " FROM main." + quoteIdent(name) + " LIMIT 0"); err == nil {
				c.release(p)
				t.keyedRowid = true
			}
		}
		if !hasPK {
			t.cols = append([]int{-1}, t.cols...)
			t.pk = append([]byte{1}, t.pk...)
			t.names = append([]string{t.rowidName}, t.names...)
		}
	}
	if facts.tables == nil {
		facts.tables = map[string]*csTable{}
	}
	facts.tables[name] = t
	return t, nil
}
