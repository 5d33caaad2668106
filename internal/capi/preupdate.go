package capi

import (
	"strings"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// The pre-update hook (sqlite3_preupdate_hook) reports every row change
// before it happens, for change data capture. SQLite has one such hook per
// connection and the session extension (Session, for BEGIN CONCURRENT)
// installs its own, keeping a chain of sessions behind it; ours therefore
// sits in front of the sessions' and forwards each call to them first. The
// hook slot is rewired around every session create and delete so that the
// session code always finds its own chain installed.

// Row change operations, as SQLite spells them.
const (
	INSERT = sqlite3.SQLITE_INSERT
	UPDATE = sqlite3.SQLITE_UPDATE
	DELETE = sqlite3.SQLITE_DELETE
)

// PreUpdate is one row change, valid only during the hook call.
type PreUpdate struct {
	c        *Conn
	tls      *libc.TLS
	Op       int32  // INSERT, UPDATE or DELETE
	Schema   string // "main", "temp", or an attached database
	Table    string
	OldRowID int64 // rowid before an UPDATE or DELETE
	NewRowID int64 // rowid after an INSERT or UPDATE
	// BlobColumn is, for a write through a blob handle (Blob), the column
	// it writes, -1 otherwise: SQLite reports such a write as a DELETE of
	// the row, before the bytes change (sqlite3_preupdate_blobwrite).
	BlobColumn int
	// slot is 8 bytes of the TLS stack for the value pointer each Old and
	// New call gets back, allocated once for the hook call.
	slot uintptr
}

// Count is the number of columns of the changed row.
func (p *PreUpdate) Count() int { return int(sqlite3.Xsqlite3_preupdate_count(p.tls, p.c.db)) }

// Depth is 0 for a change the statement itself makes, 1 or more for one a
// trigger (or a foreign-key action, which SQLite runs as a trigger) makes.
func (p *PreUpdate) Depth() int { return int(sqlite3.Xsqlite3_preupdate_depth(p.tls, p.c.db)) }

// Old returns column i of the row before an UPDATE or DELETE.
func (p *PreUpdate) Old(i int) any { return p.value(sqlite3.Xsqlite3_preupdate_old, i) }

// New returns column i of the row after an INSERT or UPDATE.
func (p *PreUpdate) New(i int) any { return p.value(sqlite3.Xsqlite3_preupdate_new, i) }

// OldRaw returns column i of the row before an UPDATE or DELETE as Column
// does: its datatype, and its value in i64, f64 or b. b aliases SQLite's
// memory, valid only until the hook returns.
func (p *PreUpdate) OldRaw(i int) (typ int32, i64 int64, f64 float64, b []byte) {
	return p.raw(sqlite3.Xsqlite3_preupdate_old, i)
}

// NewRaw is OldRaw for the row after an INSERT or UPDATE.
func (p *PreUpdate) NewRaw(i int) (typ int32, i64 int64, f64 float64, b []byte) {
	return p.raw(sqlite3.Xsqlite3_preupdate_new, i)
}

// value reads a column through get as a Go value (nil, int64, float64,
// string or []byte), copied out of SQLite's memory.
func (p *PreUpdate) value(get func(*libc.TLS, uintptr, int32, uintptr) int32, i int) any {
	return Value(p.raw(get, i))
}

// Value returns a value reported raw (by Stmt.Column, PreUpdate.OldRaw or
// NewRaw) as a Go value: nil, int64, float64, string or []byte (a
// zero-length blob as an empty, non-nil slice), copied out of SQLite's
// memory.
func Value(typ int32, i64 int64, f64 float64, b []byte) any {
	switch typ {
	case INTEGER:
		return i64
	case FLOAT:
		return f64
	case TEXT:
		return string(b)
	case BLOB:
		return append([]byte{}, b...)
	}
	return nil
}

// raw reads a column through get; see OldRaw.
func (p *PreUpdate) raw(get func(*libc.TLS, uintptr, int32, uintptr) int32, i int) (typ int32, i64 int64, f64 float64, b []byte) {
	tls, pp := p.tls, p.slot
	*(*uintptr)(cptr(pp)) = 0
	if get(tls, p.c.db, int32(i), pp) != OK {
		return NULL, 0, 0, nil
	}
	v := *(*uintptr)(cptr(pp))
	if v == 0 {
		return NULL, 0, 0, nil
	}
	switch typ = sqlite3.Xsqlite3_value_type(tls, v); typ {
	case INTEGER:
		return typ, sqlite3.Xsqlite3_value_int64(tls, v), 0, nil
	case FLOAT:
		return typ, 0, sqlite3.Xsqlite3_value_double(tls, v), nil
	case TEXT:
		z := sqlite3.Xsqlite3_value_text(tls, v)
		return typ, 0, 0, cbytes(z, int(sqlite3.Xsqlite3_value_bytes(tls, v)))
	case BLOB:
		z := sqlite3.Xsqlite3_value_blob(tls, v)
		return typ, 0, 0, cbytes(z, int(sqlite3.Xsqlite3_value_bytes(tls, v)))
	}
	return NULL, 0, 0, nil
}

// hookState is a connection's pre-update and rollback hooks.
type hookState struct {
	pre      func(*PreUpdate)
	rollback func()
	// chainFn and chainArg are the sessions' hook, called before ours.
	chainFn, chainArg uintptr
	pu                PreUpdate
	// The names of the last change's database and table, by the address
	// of SQLite's own copy (stable while its schema is loaded): a run of
	// changes to one table converts the names once.
	zDb, zName     uintptr
	dbName, tbName string
}

var (
	preUpdateFP = funcPtr(preUpdateCallback)
	rollbackFP  = funcPtr(rollbackCallback)
)

// SetPreUpdateHook makes fn the connection's pre-update hook (nil removes
// it). fn runs inside the statement making the change: it must not use the
// connection.
func (c *Conn) SetPreUpdateHook(fn func(*PreUpdate)) {
	c.hooks.pre = fn
	c.installPreUpdate()
}

// ExpireStatements makes every prepared statement of the connection
// compile again before it next starts (one running finishes first), as
// after a change to what SQLite consults when it compiles: the pre-update
// hook. sqlite3_set_authorizer, installing the authorizer there is (or
// none) again, is what expires them.
func (c *Conn) ExpireStatements() { c.installAuthorizer() }

// installPreUpdate puts ours in the hook slot if there is one, else the
// sessions' chain (or nothing).
func (c *Conn) installPreUpdate() {
	if c.hooks.pre != nil {
		sqlite3.Xsqlite3_preupdate_hook(c.tls, c.db, preUpdateFP, uintptr(c.handle))
	} else {
		sqlite3.Xsqlite3_preupdate_hook(c.tls, c.db, c.hooks.chainFn, c.hooks.chainArg)
	}
}

// uninstallPreUpdate gives the slot back to the sessions' chain, for the
// session code to find it.
func (c *Conn) uninstallPreUpdate() {
	sqlite3.Xsqlite3_preupdate_hook(c.tls, c.db, c.hooks.chainFn, c.hooks.chainArg)
}

// adoptChain records what the session code left in the slot as the chain.
func (c *Conn) adoptChain() {
	db := (*sqlite3.Tsqlite3)(cptr(c.db))
	c.hooks.chainFn, c.hooks.chainArg = db.FxPreUpdateCallback, db.FpPreUpdateArg
}

// preUpdateCallback is the xPreUpdate of sqlite3_preupdate_hook; arg is the
// connection's Handle.
func preUpdateCallback(tls *libc.TLS, arg, db uintptr, op int32, zDb, zName uintptr, key1, key2 int64) {
	defer func() { recover() }() // the hook returns nothing: a panic is dropped
	c := connOf(arg)
	if c == nil {
		return
	}
	if fn := c.hooks.chainFn; fn != 0 {
		(*(*func(*libc.TLS, uintptr, uintptr, int32, uintptr, uintptr, int64, int64))(unsafe.Pointer(&fn)))(tls, c.hooks.chainArg, db, op, zDb, zName, key1, key2)
	}
	if c.hooks.pre == nil {
		return
	}
	h := &c.hooks
	if zDb != h.zDb || !cstrEqual(zDb, h.dbName) {
		h.zDb, h.dbName = zDb, goString(zDb)
	}
	if zName != h.zName || !cstrEqual(zName, h.tbName) {
		h.zName, h.tbName = zName, goString(zName)
	}
	slot := tls.Alloc(8)
	defer tls.Free(8)
	p := &h.pu
	*p = PreUpdate{c: c, tls: tls, Op: op, Schema: h.dbName, Table: h.tbName, OldRowID: key1, NewRowID: key2, BlobColumn: -1, slot: slot}
	if op == DELETE {
		p.BlobColumn = int(sqlite3.Xsqlite3_preupdate_blobwrite(tls, db))
	}
	h.pre(p)
}

// cstrEqual reports whether the C string at z is s, without copying it
// (the memory at an address may have been reused for another name).
func cstrEqual(z uintptr, s string) bool {
	if z == 0 {
		return false
	}
	for i := range len(s) + 1 {
		ch := *(*byte)(cptr(z + uintptr(i)))
		if i == len(s) {
			return ch == 0
		}
		if ch != s[i] {
			return false
		}
	}
	return false
}

// SetRollbackHook makes fn run whenever a transaction rolls back, by
// ROLLBACK or after an error (not for ROLLBACK TO). nil removes it.
func (c *Conn) SetRollbackHook(fn func()) {
	c.hooks.rollback = fn
	if fn == nil {
		sqlite3.Xsqlite3_rollback_hook(c.tls, c.db, 0, 0)
		return
	}
	sqlite3.Xsqlite3_rollback_hook(c.tls, c.db, rollbackFP, uintptr(c.handle))
}

func rollbackCallback(tls *libc.TLS, arg uintptr) {
	defer func() { recover() }()
	if c := connOf(arg); c != nil && c.hooks.rollback != nil {
		c.hooks.rollback()
	}
}

// What a SAVEPOINT, RELEASE or ROLLBACK TO statement does (the p1 of its
// OP_Savepoint).
const (
	SAVEPOINT_BEGIN    = sqlite3.SAVEPOINT_BEGIN
	SAVEPOINT_RELEASE  = sqlite3.SAVEPOINT_RELEASE
	SAVEPOINT_ROLLBACK = sqlite3.SAVEPOINT_ROLLBACK
)

// savepointOp returns the OP_Savepoint instruction of s's compiled program
// (SQLite's memory, valid while s is neither finalized nor re-prepared), or
// nil. A savepoint statement's program is a handful of instructions.
func (s *Stmt) savepointOp() *sqlite3.TVdbeOp { return s.findOp(sqlite3.OP_Savepoint) }

// findOp returns the first instruction of s's compiled program with the
// given opcode (SQLite's memory, valid while s is neither finalized nor
// re-prepared), or nil.
func (s *Stmt) findOp(opcode uint8) *sqlite3.TVdbeOp {
	if s.p == 0 {
		return nil
	}
	v := (*sqlite3.TVdbe)(cptr(s.p))
	for i := range int(max(v.FnOp, 0)) {
		op := cindex[sqlite3.TVdbeOp](v.FaOp, i)
		if op.Fopcode == opcode {
			return op
		}
	}
	return nil
}

// WritesMain reports whether s's compiled program starts a write
// transaction on the main database (an OP_Transaction on database 0 with a
// nonzero p2, or a VACUUM of it). A statement that is not read-only may
// write only temporary or attached databases, or nothing at all: SQLite
// marks a DROP TABLE IF EXISTS of no table, or a CREATE TABLE IF NOT
// EXISTS of one that exists, not read-only although its program only
// reads.
func (s *Stmt) WritesMain() bool {
	if s.p == 0 {
		return false
	}
	v := (*sqlite3.TVdbe)(cptr(s.p))
	// Backwards: the OP_Transactions are in the prologue SQLite codes at
	// the end of the program, one per database.
	for i := int(v.FnOp) - 1; i >= 0; i-- {
		op := cindex[sqlite3.TVdbeOp](v.FaOp, i)
		switch {
		case op.Fopcode == sqlite3.OP_Transaction && op.Fp1 == 0:
			return op.Fp2 != 0
		case op.Fopcode == sqlite3.OP_Vacuum && op.Fp1 == 0:
			// VACUUM begins its write transaction itself; VACUUM INTO
			// (P2, the register of the file name) only reads main.
			return op.Fp2 == 0
		}
	}
	return false
}

// WritesMainInTransaction reports whether s writes the main database
// (WritesMain) and can run inside a transaction the caller opened for it:
// it is neither a BEGIN, COMMIT or ROLLBACK (its program changes the
// connection's autocommit mode: OP_AutoCommit) nor a VACUUM, which SQLite
// refuses inside a transaction.
func (s *Stmt) WritesMainInTransaction() bool {
	return s.WritesMain() && s.findOp(sqlite3.OP_AutoCommit) == nil && s.findOp(sqlite3.OP_Vacuum) == nil
}

// CreatedTable returns the name of the table of the main database that s,
// a CREATE TABLE statement, creates, read from its compiled program (a
// b-tree created, and the schema reload at the end, whose filter SQLite
// writes as "tbl_name='name' AND type!='trigger'"; a view has the reload
// but no b-tree); ok is false for any other statement. It scans the
// program, so callers filter by keyword first.
func (s *Stmt) CreatedTable() (name string, ok bool) {
	op := s.findOp(sqlite3.OP_ParseSchema)
	if op == nil || op.Fp1 != 0 || s.findOp(sqlite3.OP_CreateBtree) == nil {
		return "", false
	}
	z := *(*uintptr)(unsafe.Pointer(&op.Fp4))
	if z == 0 {
		return "", false
	}
	const prefix, suffix = "tbl_name='", "' AND type!='trigger'"
	where := goString(z)
	if !strings.HasPrefix(where, prefix) || !strings.HasSuffix(where, suffix) || len(where) < len(prefix)+len(suffix) {
		return "", false
	}
	return strings.ReplaceAll(where[len(prefix):len(where)-len(suffix)], "''", "'"), true
}

// SavepointOp reports what s does to the savepoint stack, read from its
// compiled program: SAVEPOINT_BEGIN, SAVEPOINT_RELEASE or
// SAVEPOINT_ROLLBACK (ROLLBACK TO), with ok; ok is false for any other
// statement. It scans the program, so callers filter by keyword first.
func (s *Stmt) SavepointOp() (op int32, ok bool) {
	if o := s.savepointOp(); o != nil {
		return o.Fp1, true
	}
	return 0, false
}

// SavepointDepth returns how many savepoints are open on the connection,
// counting the one that opened the transaction if a SAVEPOINT did (read
// from the connection's savepoint list; no SQL).
func (c *Conn) SavepointDepth() int {
	n := 0
	for p := (*sqlite3.Tsqlite3)(cptr(c.db)).FpSavepoint; p != 0; p = (*sqlite3.TSavepoint)(cptr(p)).FpNext {
		n++
	}
	return n
}

// ReleaseCommits reports whether s, a RELEASE not yet run, will commit the
// transaction: it names (as SQLite matches names: the newest savepoint of
// that name, ASCII letter case ignored) the outermost savepoint, and that
// savepoint opened the transaction, in autocommit.
func (s *Stmt) ReleaseCommits() bool {
	o := s.savepointOp()
	if o == nil || o.Fp1 != SAVEPOINT_RELEASE {
		return false
	}
	name := *(*uintptr)(unsafe.Pointer(&o.Fp4))
	db := (*sqlite3.Tsqlite3)(cptr(s.c.db))
	if name == 0 || db.FisTransactionSavepoint == 0 {
		return false
	}
	for p := db.FpSavepoint; p != 0; {
		sp := (*sqlite3.TSavepoint)(cptr(p))
		if sqlite3.Xsqlite3_stricmp(s.c.tls, sp.FzName, name) == 0 {
			return sp.FpNext == 0
		}
		p = sp.FpNext
	}
	return false
}

// FailKeepsChanges reports whether SQLite kept the changes s made before
// its last step failed, read from the VDBE (the error action and error code
// sqlite3VdbeHalt decides by): it does for an ON CONFLICT FAIL error (or
// RAISE(FAIL)), unless the error was NOMEM, IOERR, INTERRUPT or FULL, which
// undo the statement. Under ABORT the statement's changes are undone, under
// ROLLBACK the transaction's. It must be called right after the failed
// step: a reset sets the error action back to ABORT.
func (s *Stmt) FailKeepsChanges() bool {
	if s.p == 0 {
		return false
	}
	v := (*sqlite3.TVdbe)(cptr(s.p))
	if v.FerrorAction != sqlite3.OE_Fail {
		return false
	}
	switch v.Frc & 0xff {
	case NOMEM, IOERR, INTERRUPT, FULL:
		return false
	}
	return true
}

// Counters are what a connection reports of its writes:
// sqlite3_last_insert_rowid, sqlite3_changes64 and sqlite3_total_changes64.
// Durable CDC saves them before writing its own libsql_cdc row and restores
// them after, so that the row is invisible to last_insert_rowid(),
// changes() and total_changes().
type Counters struct {
	lastRowID, changes, total int64
}

// SaveCounters returns the connection's counters.
func (c *Conn) SaveCounters() Counters {
	return Counters{c.LastInsertRowID(), c.Changes(), c.TotalChanges()}
}

// RestoreCounters sets the connection's counters back to k. SQLite has no
// call for the change counts: they are written into the connection object,
// which is safe between statements, on the goroutine using the connection.
func (c *Conn) RestoreCounters(k Counters) {
	sqlite3.Xsqlite3_set_last_insert_rowid(c.tls, c.db, k.lastRowID)
	db := (*sqlite3.Tsqlite3)(cptr(c.db))
	db.FnChange, db.FnTotalChange = k.changes, k.total
}

// TableKey identifies the layout of a changed table as SQLite's schema
// holds it: the address of its Table object, with the schema cookie and
// generation that object belongs to (another schema loaded, or the table
// dropped and created again, changes one of them even if the address is
// reused). A cache of Layout results may key on it.
type TableKey struct {
	tab        uintptr
	cookie     int32
	generation int32
}

// preTable returns the Table object of the change being reported (SQLite's
// memory, valid during the hook call).
func (p *PreUpdate) preTable() (tab, pk uintptr) {
	pu := (*sqlite3.Tsqlite3)(cptr(p.c.db)).FpPreUpdate
	if pu == 0 {
		return 0, 0
	}
	u := (*sqlite3.TPreUpdate)(cptr(pu))
	return u.FpTab, u.FpPk
}

// TableKey returns the key of the changed table's layout.
func (p *PreUpdate) TableKey() TableKey {
	tab, _ := p.preTable()
	if tab == 0 {
		return TableKey{}
	}
	k := TableKey{tab: tab}
	if s := (*sqlite3.TTable)(cptr(tab)).FpSchema; s != 0 {
		schema := (*sqlite3.TSchema)(cptr(s))
		k.cookie, k.generation = schema.Fschema_cookie, schema.FiGeneration
	}
	return k
}

// TableLayout is a changed table's layout, copied out of SQLite's schema.
type TableLayout struct {
	Names        []string // every column, generated ones included, as Count counts them
	WithoutRowid bool
	PK           []int // positions in Names of the primary key, in key order, for WITHOUT ROWID
}

// Layout reads the layout of the changed table from the Table object the
// statement making the change uses, so it is never stale. It allocates:
// callers cache it by TableKey.
func (p *PreUpdate) Layout() TableLayout {
	tab, pk := p.preTable()
	if tab == 0 {
		return TableLayout{}
	}
	t := (*sqlite3.TTable)(cptr(tab))
	if t.FaCol == 0 {
		// ANALYZE reports its sqlite_stat1 rows through a stand-in Table
		// with a name and a column count but no columns.
		if t.FnCol == 3 {
			return TableLayout{Names: []string{"tbl", "idx", "stat"}}
		}
		return TableLayout{Names: make([]string, max(int(t.FnCol), 0))}
	}
	l := TableLayout{Names: make([]string, max(int(t.FnCol), 0))}
	size := unsafe.Sizeof(sqlite3.TColumn{})
	for i := range l.Names {
		l.Names[i] = goString((*sqlite3.TColumn)(cptr(t.FaCol + uintptr(i)*size)).FzCnName)
	}
	if pk != 0 {
		l.WithoutRowid = true
		ix := (*sqlite3.TIndex)(cptr(pk))
		l.PK = make([]int, ix.FnKeyCol)
		for i := range l.PK {
			l.PK[i] = int(*(*int16)(cptr(ix.FaiColumn + uintptr(i)*2)))
		}
	}
	return l
}
