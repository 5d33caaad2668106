package libsql

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/golibsql/libsql/changefeed"
	"github.com/golibsql/libsql/internal/capi"
)

// Change data capture: a database-wide stream of committed row changes, in
// commit order (DESIGN.md, architecture 8).
//
// A connection has a pre-update hook once it needs one (hookPreUpdate).
// While the database captures
// (once anybody asked for a stream, or from the start with cdc=on), each
// row change of the main database — table, operation, rowid (and primary
// key for WITHOUT ROWID tables), old and new values, and whether a trigger
// or foreign-key action made it — is buffered per transaction: a statement
// that fails and is rolled back drops its part, ROLLBACK TO drops what
// followed the savepoint, a rollback drops everything. At the commit point,
// under the engine's writer lock, the buffer is handed to the engine, which
// publishes it to the database's changefeed.Hub once the commit is durable,
// in commit order, tagged with the commit's LSN (its log version).
//
// With cdc=on the changes are also stored durably, in the same commit, in
// the table libsql_cdc (see the README's "Durable CDC" section): one row per
// transaction, written by the driver inside the serialized commit step (so
// concurrent transactions do not all conflict on it), so that a stream can
// resume after a restart or a crash from any retained LSN.

// ChangeOptions select what a change stream yields; see changefeed.Options.
type ChangeOptions = changefeed.Options

// Change is one committed row change; see changefeed.Change.
type Change = changefeed.Change

// ChangeStream yields committed row changes; see changefeed.Stream.
type ChangeStream = changefeed.Stream

// LSN is a commit's log sequence number.
type LSN = changefeed.LSN

// ErrStreamLagged is matched by the error of a stream that fell behind its
// buffer with CDC off (with cdc=on it reads on from the durable log), and
// of one that asked for history retention has pruned.
var ErrStreamLagged = changefeed.ErrStreamLagged

// ErrFutureLSN is matched by the error of Changes asked for changes after
// an LSN this database never gave (ChangeOptions.Since past its newest
// commit): one of another database, or of this one before its log was
// deleted.
var ErrFutureLSN = changefeed.ErrFutureLSN

// ChangeStreamer is implemented by the driver's connections (reached with
// sql.Conn.Raw); Changes opens a stream of the database's committed changes.
type ChangeStreamer interface {
	Changes(ctx context.Context, opts ChangeOptions) (*ChangeStream, error)
}

var _ ChangeStreamer = (*conn)(nil)

// Changes opens a stream of db's committed row changes (see ChangeOptions).
// The stream does not hold a connection of db's pool, but it keeps the
// database open (its file, lock and change history) until it is closed,
// even after db.Close: close streams that are no longer read.
func Changes(ctx context.Context, db *sql.DB, opts ChangeOptions) (*ChangeStream, error) {
	c, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var s *ChangeStream
	err = c.Raw(func(dc any) error {
		cs, ok := dc.(ChangeStreamer)
		if !ok {
			return fmt.Errorf("libsql: Changes: %T is not a libsql connection", dc)
		}
		s, err = cs.Changes(ctx, opts)
		return err
	})
	return s, err
}

// Changes opens a stream of the database's committed row changes, starting
// change capture on every connection of the database if it is not on yet.
func (c *conn) Changes(ctx context.Context, opts ChangeOptions) (*ChangeStream, error) {
	if c.file == nil {
		return nil, errors.New("libsql: change streams need the libsql VFS (the default); this database was opened with WithVFS")
	}
	e := c.file.Engine()
	from, err := e.EnableCapture(ctx, c.cfg.busyTimeout, c.cdcSource())
	if err != nil {
		return nil, err
	}
	if opts.Since == changefeed.Now {
		// Start where the capture is complete, not at the hub's newest
		// transaction when Subscribe runs: a writer queued behind
		// EnableCapture for the writer lock commits in between, and its
		// changes, captured, would be in no stream. Before any commit
		// (from 0, which Since would read as Now), that is the oldest.
		opts.Since = max(from, changefeed.Oldest)
	}
	return e.Subscribe(opts)
}

// The durable CDC log is two tables, part of the file format:
//
//	libsql_cdc(lsn INTEGER PRIMARY KEY, time INTEGER, changes BLOB)
//	    one row per committed transaction with row changes: its LSN, its
//	    commit time (Unix nanoseconds) and changefeed.EncodeTx of its changes
//	libsql_cdc_state(key TEXT PRIMARY KEY, value INTEGER) WITHOUT ROWID
//	    key 'pruned_through': the highest LSN retention deleted, so that a
//	    stream asking for older history learns it is gone
const (
	cdcTable       = "libsql_cdc"
	cdcStateTable  = "libsql_cdc_state"
	cdcSchema      = "CREATE TABLE IF NOT EXISTS libsql_cdc(lsn INTEGER PRIMARY KEY, time INTEGER NOT NULL, changes BLOB NOT NULL)"
	cdcStateSchema = "CREATE TABLE IF NOT EXISTS libsql_cdc_state(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID"
	// cdcInsert replaces: a COMMIT refused after the row was written (a
	// deferred foreign key) leaves the transaction, and the row, in place,
	// and a retried commit writes the row again, with the same LSN (the
	// transaction still holds the writer lock) and all of its changes.
	cdcInsert = "INSERT OR REPLACE INTO libsql_cdc(lsn, time, changes) VALUES (?, ?, ?)"
	// cdcInsertZero is cdcInsert for changes too big to encode in memory
	// (more than maxEncBuf): the row gets zeros of their size, and the
	// changes are written over them (storeChanges).
	cdcInsertZero = "INSERT OR REPLACE INTO libsql_cdc(lsn, time, changes) VALUES (?, ?, zeroblob(?))"
)

// capture is a connection's change capture state.
type capture struct {
	log      changeLog // the running transaction's changes
	stored   bool      // the buffered changes are in libsql_cdc, in this transaction
	storedAt time.Time // the commit time stored with them
	marks    []int     // nCaptured() when each open savepoint began, outermost first
	paused   bool      // the driver is writing libsql_cdc
	stmtMk   int       // nCaptured() when the running statement started
	// failKept: the running statement failed and SQLite kept the changes
	// it made before the failure (ON CONFLICT FAIL); noted at the failed
	// step, as a reset forgets it.
	failKept bool
	// blobs are the rows blob handles wrote whose change is not captured
	// yet (flushBlobWrites).
	blobs []blobWrite
	enc   []byte // the last libsql_cdc row's encoding buffer, reused
	// layouts caches the column names of tables by the layout SQLite
	// reports them with; lastKey and last are the last change's, as runs
	// of changes go to one table.
	layouts map[capi.TableKey]*capi.TableLayout
	lastKey capi.TableKey
	last    *capi.TableLayout
}

// maxEncBuf is the largest encoding buffer a connection keeps for its next
// commit's libsql_cdc row, and the largest row storeChanges encodes in
// memory.
const maxEncBuf = 1 << 20

// maxLayouts bounds the layout cache: layouts of schemas no longer loaded
// accumulate in it until it is emptied.
const maxLayouts = 256

// capturing reports whether row changes are captured on this connection
// now: for CDC, and in every BEGIN CONCURRENT transaction, whose rebase
// replays them.
func (c *conn) capturing() bool {
	if c.file == nil {
		return false
	}
	return c.conc != nil || c.file.Engine().Capturing()
}

// isCDCTable reports whether table is one of durable CDC's own tables.
// Changes to them are captured only in a concurrent transaction (the
// retention's), for its rebase; CDC never publishes them.
func isCDCTable(table string) bool { return table == cdcTable || table == cdcStateTable }

// publishes reports whether CDC publishes the log's change i: every
// change, except in a concurrent transaction, which captures changes for
// its rebase too: none if it began while CDC was off, and never those to
// CDC's own tables.
func (c *conn) publishes(i int) bool {
	if c.conc == nil {
		return true
	}
	return c.conc.capture && !isCDCTable(c.cdc.log.table(i))
}

// hasPublished reports whether the log holds a change CDC publishes, or
// lost one that it would have: the commit must then store, and fail to.
func (c *conn) hasPublished() bool {
	if c.cdc.log.err != nil {
		return c.conc == nil || c.conc.capture
	}
	for i := range c.cdc.log.n() {
		if c.publishes(i) {
			return true
		}
	}
	return false
}

// installCapture installs the capture hooks: at connect, for every
// connection of the libsql VFS, before any statement of the setup (a
// write of a database whose engine captures, through a file without
// them, is refused). The pre-update hook comes later, when it is first
// needed (hookPreUpdate).
func (c *conn) installCapture() {
	c.cc.SetRollbackHook(c.dropCaptured)
	c.file.SetCapture(c.takeCaptured, c.hookPreUpdate)
}

// hookPreUpdate installs the connection's pre-update hook, for good, the
// first time a statement needs it: when the database's changes are
// captured, or in a BEGIN CONCURRENT transaction (whose row changes are
// kept to replay it). SQLite consults the hook when it compiles a
// statement: while one is set, DELETE without WHERE deletes row by row,
// to report every row, instead of clearing the table's pages (7x slower,
// and every page journaled). So until then the connection has none, and
// its statements compiled without it are expired here, to compile again
// before they next start. The engine makes a write that starts while the
// capture is being switched on, compiled without the hook, compile again
// (File.Lock).
func (c *conn) hookPreUpdate() {
	c.cc.SetPreUpdateHook(c.preUpdate)
	c.cc.ExpireStatements()
}

// hookPreUpdateIfCapturing installs the pre-update hook (through the
// file, which calls hookPreUpdate) before a statement or a blob writes, if
// changes are captured now and it is not installed yet.
func (c *conn) hookPreUpdateIfCapturing() {
	if c.file != nil && !c.file.PreUpdateHooked() && c.capturing() {
		c.file.HookPreUpdate()
	}
}

// setupCapture switches durable change capture on with cdc=on: at the
// end of the connection's setup. A connection without it may not write a
// database whose changes are stored (File.SetStoresChanges): its writes
// would be missing from the stored history. cdc=off said outright lets it
// write one that no connection stores the changes of now (to drop
// libsql_cdc, say), leaving its changes out.
func (c *conn) setupCapture(ctx context.Context) error {
	if !c.cfg.cdc {
		c.file.SetStoresChanges(false, !c.cfg.cdcOff && !c.file.ReadOnly() && c.hasCDCTable())
		return nil
	}
	c.file.SetStoresChanges(true, true)
	if err := c.setupDurableCDC(ctx); err != nil {
		return err
	}
	_, err := c.file.Engine().EnableCapture(ctx, c.cfg.busyTimeout, c.cdcSource())
	return err
}

// hasCDCTable reports whether the main database has durable CDC's
// libsql_cdc (an application's own table of that name, with other
// columns, is not it). An error reading the schema says no: the
// connection's first statement meets it.
func (c *conn) hasCDCTable() bool {
	cols, err := c.cdcTableColumns()
	return err == nil && slices.Equal(cols, cdcColumns)
}

// cdcColumns are the columns of durable CDC's libsql_cdc, in order.
var cdcColumns = []string{"lsn", "time", "changes"}

// cdcTableColumns returns the columns of main.libsql_cdc, nil if there is
// no such table: the one reading of the table by which every connection
// decides whether it is durable CDC's (cdcColumns and no other). The
// columns are those of a compiled SELECT * (generated ones included), a
// fraction of the cost of reading pragma_table_info, and the common case,
// no such table, is answered without SQL.
func (c *conn) cdcTableColumns() ([]string, error) {
	if _, err := c.cc.TableColumnMetadata("main", cdcTable, ""); err != nil {
		return nil, nil
	}
	s, _, err := c.cc.Prepare("SELECT * FROM main."+cdcTable, 0)
	if err != nil {
		return nil, err
	}
	defer s.Finalize()
	return s.ColumnNames(), nil
}

// setupDurableCDC creates libsql_cdc if it is missing, checks that a table
// of that name is ours, and makes the engine's LSNs continue above the
// newest stored one.
func (c *conn) setupDurableCDC(ctx context.Context) error {
	cols, err := c.cdcTableColumns()
	if err != nil {
		return c.mapErr(ctx, err)
	}
	switch strings.Join(cols, ",") {
	case "":
		if c.cfg.mode == "ro" {
			return nil
		}
		if err := c.cc.Exec(cdcSchema + ";" + cdcStateSchema); err != nil {
			return c.mapErr(ctx, err)
		}
	case strings.Join(cdcColumns, ","):
		if c.cfg.mode != "ro" {
			if err := c.cc.Exec(cdcStateSchema); err != nil {
				return c.mapErr(ctx, err)
			}
		}
	default:
		return fmt.Errorf("libsql: cdc=on: a table named %s exists with columns (%s), not the CDC log's (lsn, time, changes)", cdcTable, strings.Join(cols, ", "))
	}
	s, _, err := c.cc.Prepare("SELECT max(coalesce((SELECT max(lsn) FROM libsql_cdc), 0), coalesce((SELECT value FROM libsql_cdc_state WHERE key = 'pruned_through'), 0))", 0)
	if err != nil {
		return c.mapErr(ctx, err)
	}
	defer s.Finalize()
	if row, err := s.Step(); err != nil || !row {
		return c.mapErr(ctx, err)
	}
	max := s.ColumnInt64(0)
	if max > maxStoredLSN {
		// The LSNs after it would not fit the INTEGER column: stored
		// negative, they would sort before every other and streams
		// resuming from the oldest would never see them.
		return fmt.Errorf("libsql: cdc=on: %s or %s's pruned_through holds LSN %d, beyond the largest this driver stores (%d): the CDC tables are corrupt", cdcTable, cdcStateTable, max, int64(maxStoredLSN))
	}
	if max > 0 {
		c.file.Engine().RaiseLSNFloor(changefeed.LSN(max))
	}
	return nil
}

// maxStoredLSN bounds the LSNs found in the CDC tables: an LSN's high 32
// bits count the log's restarts, far below 2^30 in any real database, and
// the column is a signed 64-bit integer.
const maxStoredLSN = 1 << 62

// preUpdate is the connection's pre-update hook: it buffers one change.
func (c *conn) preUpdate(p *capi.PreUpdate) {
	if ct := c.conc; ct != nil && ct.unreplayable == "" && !c.cdc.paused {
		if p.Schema != "main" {
			ct.unreplayable = fmt.Sprintf("to the %s table %s", p.Schema, p.Table)
		} else if ct.shadows[p.Table] {
			ct.unreplayable = "to the virtual table whose shadow table is " + p.Table
		}
	}
	if c.cdc.paused || p.Schema != "main" || !c.capturing() {
		return
	}
	// A panic here would be dropped at the C boundary and the change lost
	// unseen: the capture is marked failed instead, so that the
	// transaction cannot be stored, published or rebased without it.
	defer func() {
		if r := recover(); r != nil {
			err := fmt.Errorf("libsql: capturing a row change of table %s: panic: %v", p.Table, r)
			c.cdc.log.lose(err)
		}
	}()
	if p.BlobColumn >= 0 {
		// Durable CDC's own blob writes are never published or rebased.
		if !isCDCTable(p.Table) {
			c.noteBlobWrite(p, c.layout(p))
		}
		return
	}
	if isCDCTable(p.Table) && c.conc == nil {
		return
	}
	c.cdc.log.addPreUpdate(p, c.layout(p))
	c.cdc.stored = false
}

// createdTable returns the table of the main database that s creates, if
// s is a CREATE TABLE, "" otherwise: a CREATE TABLE ... AS SELECT fills its
// table without calling the pre-update hook, so its rows are captured
// after it ran (captureCreatedRows), if capturesCreated says so then. In
// autocommit mode it runs in a transaction of its own (cdcWrap), so that
// they are captured before it commits.
func (c *conn) createdTable(s *capi.Stmt) string {
	if c.file == nil || !s.StartsWithKeyword("CREATE") {
		return ""
	}
	name, _ := s.CreatedTable()
	return name
}

// capturesCreated reports whether the rows of the table the statement
// that just ran created are to be captured. It is asked after the
// statement ran, holding the writer lock (or in a concurrent transaction):
// a capture that started while the statement waited for the lock counts.
func (c *conn) capturesCreated() bool {
	return !c.cdc.paused && c.file.Engine().Capturing() && (c.conc == nil || c.conc.capture)
}

// captureCreatedRows captures the rows of table, which the statement that
// just ran created (none for a plain CREATE TABLE), as inserts in rowid
// order, before its transaction commits.
func (c *conn) captureCreatedRows(ctx context.Context, table string) error {
	fail := func(err error) error {
		return fmt.Errorf("libsql: capture the rows of new table %q: %w", table, c.mapErr(ctx, err))
	}
	// Only CREATE TABLE ... AS SELECT, which makes rowid tables, leaves
	// rows; any other table (WITHOUT ROWID among them) is empty.
	p, err := c.prepareUncached("SELECT * FROM main." + quoteIdent(table) + " LIMIT 1")
	if err != nil {
		return fail(err)
	}
	names := p.s.ColumnNames()
	row, err := p.s.Step()
	p.s.Finalize()
	if err != nil {
		return fail(err)
	}
	if !row {
		return nil
	}
	rowid := rowidAlias(names)
	if rowid == "" {
		return fmt.Errorf("libsql: capture the rows of new table %q: its columns hide every name of the rowid", table)
	}
	if p, err = c.prepareUncached("SELECT " + rowid + ", * FROM main." + quoteIdent(table) + " ORDER BY 1"); err != nil {
		return fail(err)
	}
	defer p.s.Finalize()
	for {
		row, err := p.s.Step()
		if err != nil {
			return fail(err)
		}
		if !row {
			return nil
		}
		vals := make([]any, len(names))
		for i := range vals {
			vals[i] = capi.Value(p.s.Column(i + 1))
		}
		rowID := p.s.ColumnInt64(0)
		c.cdc.log.addChange(&changefeed.Change{Table: table, Op: changefeed.Insert, RowID: rowID, Columns: names, New: vals}, rowID)
		c.cdc.stored = false
	}
}

// rowidAlias returns the first of the rowid's names that is not one of
// columns (letter case ignored), "" if each is.
func rowidAlias(columns []string) string {
	for _, n := range []string{"_rowid_", "rowid", "oid"} {
		if !slices.ContainsFunc(columns, func(col string) bool { return strings.EqualFold(col, n) }) {
			return n
		}
	}
	return ""
}

// layout returns the layout of the table p changes, as the statement sees
// it (so never stale, whatever changed the schema), from the cache.
func (c *conn) layout(p *capi.PreUpdate) *capi.TableLayout {
	k := p.TableKey()
	if c.cdc.last != nil && k == c.cdc.lastKey {
		return c.cdc.last
	}
	l := c.cdc.layouts[k]
	if l == nil {
		if c.cdc.layouts == nil || len(c.cdc.layouts) >= maxLayouts {
			c.cdc.layouts = map[capi.TableKey]*capi.TableLayout{}
		}
		v := p.Layout()
		l = &v
		c.cdc.layouts[k] = l
	}
	c.cdc.lastKey, c.cdc.last = k, l
	return l
}

// afterStatement runs after a statement that may have changed rows: it
// drops the changes of a failed statement that SQLite undid (all but ON
// CONFLICT FAIL; a ROLLBACK conflict undid the transaction, and the
// rollback hook its changes), and forgets everything once no transaction
// is open (a commit took the buffer; anything left was rolled back).
func (c *conn) afterStatement(failed bool) {
	if c.file == nil {
		return
	}
	if failed && !c.cdc.failKept && c.nCaptured() > c.cdc.stmtMk {
		c.truncateCaptured(c.cdc.stmtMk)
	}
	c.cdc.failKept = false
	if c.cc.GetAutocommit() {
		c.cdc.blobs = nil
		c.truncateCaptured(0)
		c.cdc.marks = c.cdc.marks[:0]
		c.cdc.stored = false
	}
}

// dropCaptured is the rollback hook: a rolled-back transaction never
// happened.
func (c *conn) dropCaptured() {
	c.cdc.blobs = nil
	c.truncateCaptured(0)
	c.cdc.marks = c.cdc.marks[:0]
	c.cdc.stored = false
}

// nCaptured returns the number of changes the running transaction has
// captured.
func (c *conn) nCaptured() int { return c.cdc.log.n() }

// truncateCaptured forgets the captured changes after the first n.
func (c *conn) truncateCaptured(n int) { c.cdc.log.truncate(n) }

// takeCaptured hands the committing transaction's changes to the engine,
// at its commit point, under the writer lock, with the commit time durable
// CDC stored with them, if it did. A transaction whose changes durable
// CDC stored is handed over without them (changefeed.Tx.Elide) if no
// stream is open to read them now: a stream that reaches it later reads
// them from libsql_cdc, and the commit spares decoding them, or holding a
// big transaction's in memory. So is one whose changes could not be kept
// or read back: a stream reading without durable CDC then learns it lost
// them (as a stream that fell behind does).
func (c *conn) takeCaptured() *changefeed.Tx {
	defer c.dropCaptured()
	if !c.hasPublished() {
		return nil
	}
	tx := &changefeed.Tx{}
	if c.cdc.stored {
		tx.CommitTime = c.cdc.storedAt
		if c.file.Engine().Hub().Subscribers() == 0 {
			return tx.Elide()
		}
	}
	changes, err := c.cdc.log.changes(c.publishes)
	if err != nil {
		return tx.Elide()
	}
	tx.Changes = changes
	return tx
}

// step takes the first step of s (all of it, for most statements) with
// the bookkeeping every statement of the connection needs, whether or not
// capture is on (so that savepoints opened before it started are known):
// a RELEASE that commits the transaction stores its changes first (durable
// CDC), and a SAVEPOINT, RELEASE or ROLLBACK TO brings the savepoint marks
// in line with SQLite's savepoint stack.
func (c *conn) step(ctx context.Context, s *capi.Stmt, write bool) (bool, error) {
	if len(c.cdc.blobs) > 0 {
		c.flushBlobWrites(ctx)
	}
	sp := c.file != nil && !write && s.StartsWithKeyword("SAVEPOINT", "RELEASE", "ROLLBACK")
	if sp && c.needsStore() && s.ReleaseCommits() {
		if err := c.storeChanges(ctx); err != nil {
			return false, err
		}
	}
	c.cdc.failKept = false
	c.hookPreUpdateIfCapturing()
	if ct := c.conc; ct != nil && !ct.readsSequence && s.Mentions("sqlite_sequence") {
		ct.readsSequence = true
	}
	row, err := c.firstStep(s, write)
	switch {
	case err != nil:
		c.stepFailed(s)
	case sp:
		c.savepointDone(s)
	}
	if len(c.blobs) > 0 && c.cc.GetAutocommit() {
		c.closeEndedBlobs()
	}
	return row, err
}

// startStatement marks where the changes of the statement about to run
// begin among the captured ones (afterStatement drops them if it fails),
// after capturing the rows blob handles wrote before it.
func (c *conn) startStatement(ctx context.Context) {
	if len(c.cdc.blobs) > 0 {
		c.flushBlobWrites(ctx)
	}
	c.cdc.stmtMk = c.nCaptured()
}

// stepFailed notes, right after a step of s failed and before anything
// resets s, whether SQLite kept the changes the statement made (see
// afterStatement).
func (c *conn) stepFailed(s *capi.Stmt) {
	c.cdc.failKept = s.FailKeepsChanges()
}

// savepointDone updates the savepoint marks after s, a statement that
// succeeded, changed SQLite's savepoint stack: the marks follow the stack's
// depth, which SQLite leaves at the savepoint a ROLLBACK TO returned to
// (SQLite matched the names). ROLLBACK TO drops the changes made since its
// savepoint.
func (c *conn) savepointDone(s *capi.Stmt) {
	op, ok := s.SavepointOp()
	if !ok {
		return
	}
	d := c.cc.SavepointDepth()
	m := c.cdc.marks
	switch op {
	case capi.SAVEPOINT_BEGIN:
		// Savepoints the marks lack (none, as every statement passes
		// here) start where the new one does.
		m = m[:min(len(m), max(d-1, 0))]
		for len(m) < d {
			m = append(m, c.nCaptured())
		}
	case capi.SAVEPOINT_RELEASE:
		m = m[:min(len(m), d)]
	case capi.SAVEPOINT_ROLLBACK:
		m = m[:min(len(m), d)]
		if d > 0 && d <= len(m) && m[d-1] < c.nCaptured() {
			c.truncateCaptured(m[d-1])
			c.cdc.stored = false
		}
	}
	c.cdc.marks = m
}

// needsStore reports whether the transaction about to commit has changes
// durable CDC has not stored yet.
func (c *conn) needsStore() bool {
	return c.cfg.cdc && !c.cdc.stored && c.hasPublished()
}

// storeChanges writes the buffered changes into libsql_cdc, as part of the
// transaction, under the writer lock the transaction holds, with the LSN
// the commit will get. The connection's last inserted rowid and change
// counts stay the user's.
func (c *conn) storeChanges(ctx context.Context) error {
	c.flushBlobWrites(ctx) // a failure is the log's, which needsStore sees
	if !c.needsStore() {
		return nil
	}
	lsn, err := c.file.NextLSN()
	if err != nil {
		return err
	}
	// The instant the live stream gets too (takeCaptured), as the log
	// stores it: whole nanoseconds, no monotonic reading.
	now := time.Unix(0, time.Now().UnixNano())
	head, rest, body, err := c.cdc.log.txEncoding(lsn, now, c.publishes, c.cdc.enc[:0])
	if err != nil {
		return err
	}
	size := int64(len(head)) + rest
	query, value := cdcInsertZero, any(size)
	if size <= maxEncBuf {
		blob := slices.Grow(head, int(rest))[:size]
		if _, err := io.ReadFull(body, blob[len(head):]); err != nil {
			return err
		}
		c.cdc.enc = blob // binding copies it: the next commit encodes into it
		query, value = cdcInsert, blob
	}
	p, err := c.prepare(query)
	if err != nil {
		return c.mapErr(ctx, err)
	}
	defer c.cc.RestoreCounters(c.cc.SaveCounters())
	c.cdc.paused = true
	defer func() { c.cdc.paused = false }()
	_, err = c.exec(ctx, p.s, []driver.NamedValue{
		{Ordinal: 1, Value: int64(lsn)}, {Ordinal: 2, Value: now.UnixNano()}, {Ordinal: 3, Value: value},
	})
	c.release(p)
	if err == nil && query == cdcInsertZero {
		// Too big to build in memory: the row holds zeros of its size,
		// written over from the log a chunk at a time.
		if werr := c.cc.WriteBlob("main", cdcTable, "changes", int64(lsn), size, io.MultiReader(bytes.NewReader(head), body)); werr != nil {
			err = c.mapErr(ctx, fmt.Errorf("libsql: storing the %d bytes of the transaction's changes: %w", size, werr))
		}
	}
	if err != nil {
		return err
	}
	c.cdc.stored, c.cdc.storedAt = true, now
	return nil
}

// cdcSource returns the durable history for the database's hub: with
// cdc=on, a reader of libsql_cdc over connections of its own; nil
// otherwise.
func (c *conn) cdcSource() changefeed.Source {
	if !c.cfg.cdc || c.origin == nil {
		return nil
	}
	return &cdcSource{name: c.origin.name, vfs: c.origin.vfs}
}

// cdcSource reads libsql_cdc. It opens a connection per read, so that it
// holds nothing (an engine stays open only while connections use it).
type cdcSource struct {
	name, vfs string
}

func (s *cdcSource) open() (*capi.Conn, error) {
	return capi.Open(s.name, capi.OPEN_READONLY|capi.OPEN_URI|capi.OPEN_NOMUTEX, s.vfs)
}

// ReadAfter returns up to limit stored transactions with LSN > after.
func (s *cdcSource) ReadAfter(ctx context.Context, after changefeed.LSN, limit int) ([]*changefeed.Tx, error) {
	cc, err := s.open()
	if err != nil {
		return nil, convertError(err)
	}
	defer cc.Close()
	prev := cc.Enter(ctx)
	defer cc.Leave(prev)
	if err := cc.Exec("BEGIN"); err != nil { // one snapshot for both reads
		return nil, convertError(err)
	}
	defer cc.Exec("COMMIT")
	pruned, err := prunedThrough(cc)
	if err != nil {
		return nil, err
	}
	if after < pruned {
		return nil, fmt.Errorf("libsql: changes after LSN %v: %w (retention deleted everything through %v)", after, changefeed.ErrPruned, pruned)
	}
	st, _, err := cc.Prepare(fmt.Sprintf("SELECT lsn, time, changes FROM libsql_cdc WHERE lsn > %d ORDER BY lsn LIMIT %d", uint64(after), limit), 0)
	if err != nil {
		return nil, convertError(err)
	}
	defer st.Finalize()
	var txs []*changefeed.Tx
	size := 0
	for size < cdcReadBytes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		row, err := st.Step()
		if err != nil {
			return nil, convertError(err)
		}
		if !row {
			return txs, nil
		}
		blob := st.ColumnBlob(2)
		size += len(blob)
		tx, err := changefeed.DecodeTx(blob)
		if err != nil {
			return nil, fmt.Errorf("libsql: CDC log row %d: %w", st.ColumnInt64(0), err)
		}
		tx.LSN = changefeed.LSN(st.ColumnInt64(0))
		tx.CommitTime = time.Unix(0, st.ColumnInt64(1))
		txs = append(txs, tx.Fill())
	}
	return txs, nil
}

// cdcReadBytes bounds the stored changes one ReadAfter returns (it returns
// one transaction at least): a stream catching up holds about this much.
const cdcReadBytes = 1 << 20

// prunedThrough reads the highest LSN retention deleted (0 if none).
func prunedThrough(cc *capi.Conn) (changefeed.LSN, error) {
	st, _, err := cc.Prepare("SELECT value FROM libsql_cdc_state WHERE key = 'pruned_through'", 0)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return 0, nil // written before retention existed
		}
		return 0, convertError(err)
	}
	defer st.Finalize()
	row, err := st.Step()
	if err != nil || !row {
		return 0, convertError(err)
	}
	return changefeed.LSN(st.ColumnInt64(0)), nil
}

// Oldest returns the oldest stored LSN, 0 if none.
func (s *cdcSource) Oldest(ctx context.Context) (changefeed.LSN, error) {
	cc, err := s.open()
	if err != nil {
		return 0, convertError(err)
	}
	defer cc.Close()
	st, _, err := cc.Prepare("SELECT coalesce(min(lsn), 0) FROM libsql_cdc", 0)
	if err != nil {
		return 0, convertError(err)
	}
	defer st.Finalize()
	if _, err := st.Step(); err != nil {
		return 0, convertError(err)
	}
	return changefeed.LSN(st.ColumnInt64(0)), nil
}
