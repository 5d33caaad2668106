package libsql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	"github.com/golibsql/libsql/internal/capi"
	"github.com/golibsql/libsql/iouring_vfs"
	"github.com/golibsql/libsql/iouring_vfs/wal"
)

// BEGIN CONCURRENT: many writers at once, each in its own snapshot, with
// conflicts found per page at commit (see DESIGN.md, architecture 4).
//
//   - BEGIN CONCURRENT starts a deferred transaction whose database file
//     writes privately without the writer lock and records every page it
//     reads; SQLite's page cache is reset first, so that every page the
//     transaction reads reaches the file. The pre-update hook captures
//     the transaction's row changes from its first write (changeset.go).
//   - COMMIT takes the writer lock and, before SQLite commits, checks the
//     read set against the pages committed since the snapshot (page 1 only
//     for the header fields that mean something to a reader). A conflict
//     rolls the transaction back: ErrBusySnapshot, naming the page and the
//     table or index it belongs to.
//   - A transaction that changed the schema, user_version or
//     application_id commits only if nothing was committed since its
//     snapshot: that is no row change a replay could carry.
//   - If nothing was committed since the snapshot, SQLite commits and the
//     engine publishes the pages ("direct"). Otherwise, if the pages it
//     wrote were left alone by every commit since and it allocated or freed
//     none, its pages are published on the newest version, with page 1
//     taken from that version ("merged"). Otherwise the transaction is
//     rolled back and its row changes are applied to the newest version
//     under the writer lock ("rebased"), with triggers and foreign-key
//     actions off (the changes they made are in the changeset already) and
//     sqlite_sequence brought up to date. Each way the outcome is that of a
//     serial execution.

// concurrentTx is a BEGIN CONCURRENT transaction in progress.
type concurrentTx struct {
	capture bool // capturing changes for CDC since it began
	// shadows are the main database's virtual-table shadow tables (FTS5's
	// ft_content, ...), nil if none; unreplayable says, once the
	// transaction wrote one of them or a TEMP table, what it wrote: such a
	// transaction conflicts where it would be rebased, since the replay
	// would lose those writes (TEMP tables are rolled back with it, and a
	// virtual table writes its index only at COMMIT, after the capture).
	shadows      map[string]bool
	unreplayable string
	// readsSequence: a statement of the transaction names sqlite_sequence
	// (its pages are then validated like any other read; see Mentions for
	// what the text does not show).
	readsSequence bool
}

// txStmt classifies a statement the driver runs itself.
type txStmt int

const (
	txNone txStmt = iota
	txBeginConcurrent
	txCommit   // COMMIT or END
	txRollback // ROLLBACK without TO
)

// classifyTx recognizes BEGIN CONCURRENT [TRANSACTION], COMMIT|END
// [TRANSACTION] and ROLLBACK [TRANSACTION] at the start of sql, with
// comments and whitespace around, and returns how many bytes the statement
// takes, its semicolon included.
func classifyTx(sql string) (txStmt, int) {
	lx := lexer{s: sql}
	var kind txStmt
	switch lx.keyword() {
	case "BEGIN":
		if lx.keyword() != "CONCURRENT" {
			return txNone, 0
		}
		kind = txBeginConcurrent
	case "COMMIT", "END":
		kind = txCommit
	case "ROLLBACK":
		kind = txRollback
	default:
		return txNone, 0
	}
	save := lx.pos
	if lx.keyword() != "TRANSACTION" {
		lx.pos = save
	}
	lx.space()
	switch {
	case lx.pos == len(sql):
		return kind, lx.pos
	case sql[lx.pos] == ';':
		return kind, lx.pos + 1
	}
	return txNone, 0
}

// lexer reads SQL keywords, skipping whitespace and comments.
type lexer struct {
	s   string
	pos int
}

func (l *lexer) space() {
	for l.pos < len(l.s) {
		switch {
		case l.s[l.pos] == ' ' || l.s[l.pos] == '\t' || l.s[l.pos] == '\n' || l.s[l.pos] == '\r' || l.s[l.pos] == '\f':
			l.pos++
		case strings.HasPrefix(l.s[l.pos:], "--"):
			if i := strings.IndexByte(l.s[l.pos:], '\n'); i >= 0 {
				l.pos += i + 1
			} else {
				l.pos = len(l.s)
			}
		case strings.HasPrefix(l.s[l.pos:], "/*"):
			if i := strings.Index(l.s[l.pos+2:], "*/"); i >= 0 {
				l.pos += i + 4
			} else {
				l.pos = len(l.s)
			}
		default:
			return
		}
	}
}

// keywords are the words callers of lexer.keyword compare with.
var keywords = [...]string{"BEGIN", "CONCURRENT", "COMMIT", "END", "ROLLBACK", "TRANSACTION", "SAVEPOINT", "RELEASE", "TO", "PRAGMA"}

// keyword returns the next word, or "": as the upper-case member of
// keywords it is, in any case, else as written. It runs on every
// statement, so it does not allocate; callers compare with keywords only.
func (l *lexer) keyword() string {
	l.space()
	start := l.pos
	for l.pos < len(l.s) {
		ch := l.s[l.pos]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch == '_') {
			break
		}
		l.pos++
	}
	w := l.s[start:l.pos]
	for _, k := range keywords {
		if len(k) == len(w) && strings.EqualFold(k, w) {
			return k
		}
	}
	return w
}

// handlesTx reports whether the driver runs statement kind itself now:
// BEGIN CONCURRENT always, COMMIT and ROLLBACK inside a concurrent
// transaction.
func (c *conn) handlesTx(kind txStmt) bool {
	return kind == txBeginConcurrent || (kind != txNone && c.conc != nil) || (kind == txCommit && c.needsStore())
}

// runTx runs a statement the driver handles itself.
func (c *conn) runTx(ctx context.Context, kind txStmt) error {
	switch kind {
	case txBeginConcurrent:
		return c.beginConcurrent(ctx)
	case txCommit:
		if c.conc != nil && c.writingBlob() {
			// SQLite would refuse the COMMIT after the rebase's ROLLBACK
			// had already dropped the transaction: refuse it first, as
			// SQLite refuses a plain transaction's.
			return &Error{code: ExtendedErrorCode(BUSY), msg: "cannot commit transaction - a blob written in it is still open: close it first"}
		}
		if c.conc == nil {
			if err := c.storeChanges(ctx); err != nil {
				return err
			}
			return c.plain(ctx, "COMMIT")
		}
		return c.commitConcurrent(ctx)
	default:
		return c.rollbackConcurrent(ctx)
	}
}

// errNoVFS is returned for BEGIN CONCURRENT on a database opened through
// another VFS.
var errNoVFS = errors.New("libsql: BEGIN CONCURRENT needs the libsql VFS (the default); this database was opened with WithVFS")

// beginConcurrent starts a BEGIN CONCURRENT transaction.
func (c *conn) beginConcurrent(ctx context.Context) error {
	if c.file == nil {
		return errNoVFS
	}
	if !c.cc.GetAutocommit() {
		return &Error{code: ExtendedErrorCode(ERROR), msg: "cannot start a transaction within a transaction"}
	}
	if c.cc.ActiveStatement() {
		// Its read transaction keeps SQLite's page cache, which then
		// serves pages the transaction's read set would never see.
		return &Error{code: ExtendedErrorCode(ERROR), msg: "cannot BEGIN CONCURRENT while a query on this connection is still open: close its rows first"}
	}
	for _, schema := range c.attachedSchemas() {
		// An attached in-memory database is the connection's own, as TEMP
		// is, and takes part as TEMP does; the reads of a file, which
		// other connections write, would not be checked.
		if c.cc.Filename(schema) != "" {
			return &Error{code: ExtendedErrorCode(ERROR), msg: fmt.Sprintf("cannot BEGIN CONCURRENT with database %q attached: only the main database takes part in the transaction (reads of %q would not be checked); DETACH it first", schema, schema)}
		}
	}
	if err := c.execInternal(ctx, "BEGIN"); err != nil {
		return err
	}
	c.cc.ResetCache()
	c.file.BeginConcurrent()
	facts := c.schemaFacts(ctx)
	if facts.err != nil {
		c.endConcurrent(ctx, nil, true)
		return facts.err
	}
	ct := &concurrentTx{capture: c.file.Engine().ConcurrentBegins(), shadows: facts.shadows}
	c.dropCaptured()
	c.conc = ct
	return nil
}

// attachedSchemas lists the attached databases, main and temp excluded.
func (c *conn) attachedSchemas() []string {
	var names []string
	for _, n := range c.cc.DBNames() {
		if n != "main" && n != "temp" {
			names = append(names, n)
		}
	}
	return names
}

// endConcurrent leaves concurrent mode: rolls back what SQLite still has
// open if rollback is set, and releases everything the transaction held.
func (c *conn) endConcurrent(ctx context.Context, ct *concurrentTx, rollback bool) error {
	var err error
	if rollback && !c.cc.GetAutocommit() {
		// Even when ctx has ended (what failed the commit, say): SQLite
		// must not stay in the transaction once the driver has left it.
		err = c.execInternal(context.WithoutCancel(ctx), "ROLLBACK")
	}
	if ct != nil {
		if !ct.capture {
			c.file.Engine().ConcurrentEnds()
		}
	}
	c.file.EndConcurrent()
	c.file.ReleaseWriter()
	c.conc = nil
	return err
}

// rollbackConcurrent rolls a concurrent transaction back.
func (c *conn) rollbackConcurrent(ctx context.Context) error {
	return c.endConcurrent(ctx, c.conc, true)
}

// commitConcurrent runs the commit protocol described at the top of the
// file.
func (c *conn) commitConcurrent(ctx context.Context) (err error) {
	ct, f := c.conc, c.file
	c.flushBlobWrites(ctx) // a failure is the log's: a rebase or store that needs the change fails
	if c.cc.TxnState("main") != capi.TXN_WRITE {
		// Read-only: nothing to check, nothing to publish. (The file may
		// have seen nothing of a write yet: DDL stays in SQLite's cache
		// until the commit.)
		err = c.execInternal(ctx, "COMMIT")
		return errors.Join(err, c.endConcurrent(ctx, ct, err != nil))
	}
	defer func() {
		if err != nil {
			c.endConcurrent(ctx, ct, true)
		}
	}()
	if err := f.AcquireWriter(); err != nil {
		return c.mapErr(ctx, &capi.Error{Code: capi.BUSY, Msg: err.Error(), Cause: err})
	}
	if err := f.UnstoredWrite(); err != nil {
		return c.mapErr(ctx, err) // durable CDC started since it began
	}
	var seq sequenceState
	if f.Stale() {
		if err := c.schemaFacts(ctx).err; err != nil {
			return err
		}
		seq = c.sequenceState(ctx)
		if ct.readsSequence {
			// It read sqlite_sequence itself: that read is checked
			// like any other.
			seq.moved = true
		} else {
			seq.moved = f.ForgetReads(seq.pages)
		}
	}
	val, err := f.Validate()
	if err != nil {
		return err
	}
	if val.Stale && val.Conflict == nil && c.headerFields() != val.Header {
		val.Conflict = &iouringvfs.Conflict{Schema: true}
	}
	if val.Conflict != nil {
		return c.conflictError(ctx, val.Conflict)
	}
	if !val.Stale {
		if err := c.storeChanges(ctx); err != nil {
			return err
		}
		if err := c.execInternal(ctx, "COMMIT"); err != nil {
			return err
		}
		f.CountConcurrentCommit(iouringvfs.CommitDirect)
		return c.endConcurrent(ctx, ct, false)
	}
	// Stale: publish the pages on the newest version as they are if nothing
	// committed since touched them and it allocated or freed no page;
	// otherwise replay the row changes. SQLite's cache is flushed first, so
	// that the file sees the pages written so far, and the page count and
	// free-list count are compared with the snapshot's: what must be
	// replayed is replayed. The file checks again, with every page, at
	// commit; a refusal there is a conflict (rare: a page SQLite kept).
	if !c.needsStore() && c.mergePrecheck() {
		f.TryMerge()
		err := c.execInternal(ctx, "COMMIT")
		if err == nil {
			f.CountConcurrentCommit(iouringvfs.CommitMerged)
			return c.endConcurrent(ctx, ct, false)
		}
		f.CancelMerge()
		if f.MergeRefused() {
			f.CountConflict("merge")
		}
		return err
	}
	if err := c.cdc.log.err; err != nil && ct.unreplayable == "" {
		ct.unreplayable = fmt.Sprintf("more than its changes file could keep (%v)", err)
	}
	if ct.unreplayable == "" && c.hasTempTriggers() {
		ct.unreplayable = "on a connection with TEMP triggers, which the replay would fire again"
	}
	if ct.unreplayable != "" {
		f.CountConflict("rebase")
		return &Error{code: BUSY_SNAPSHOT, msg: "BEGIN CONCURRENT transaction conflicts with a commit since its snapshot: it cannot be replayed on the newest version, as it wrote " + ct.unreplayable}
	}
	return c.rebase(ctx, ct, seq)
}

// headerFields reads the header fields a transaction can change in SQL as
// the transaction sees them; outside a transaction, values no snapshot has,
// so that the transaction is refused rather than replayed without them.
func (c *conn) headerFields() iouringvfs.Header {
	h, ok := c.cc.TxHeader()
	if !ok {
		return iouringvfs.Header{SchemaCookie: ^uint32(0)}
	}
	return iouringvfs.Header{SchemaCookie: h.SchemaCookie, UserVersion: h.UserVersion, ApplicationID: h.ApplicationID}
}

// mergePrecheck reports whether a stale concurrent transaction can likely
// be merged (see iouringvfs.File.MergePrecheck): the page count and the
// free-list count the transaction sees must be the snapshot's.
func (c *conn) mergePrecheck() bool {
	if err := c.cc.CacheFlush(); err != nil {
		return false
	}
	ok, pages, freelist := c.file.MergePrecheck()
	if !ok {
		return false
	}
	h, ok := c.cc.TxHeader()
	return ok && h.PageCount == pages && h.FreelistCount == freelist
}

// rebase replays a concurrent transaction's row changes on the newest
// version, under the writer lock the caller holds: the transaction is
// rolled back (if SQLite has not done it already), and its net row changes
// are replayed (replay.go) in a new transaction with triggers and
// foreign-key actions off.
func (c *conn) rebase(ctx context.Context, ct *concurrentTx, seq sequenceState) error {
	f := c.file
	groups, err := c.netChanges(ctx)
	if err != nil {
		return err
	}
	// The rollback below would drop the captured changes, which the
	// transaction publishes once replayed: they are set aside meanwhile.
	captured := c.cdc.log
	c.cdc.log = changeLog{}
	defer captured.close() // unless put back
	if err := c.execInternal(ctx, "ROLLBACK"); err != nil {
		return err
	}
	f.EndConcurrent() // a plain writer from here on, holding the writer lock
	if err := c.execInternal(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	if err := c.checkSequences(ctx, groups, seq); err != nil {
		f.CountConflict("rebase")
		return err
	}
	var newest map[string]int64
	if seq.seqs != nil {
		if newest, err = c.sequences(); err != nil {
			return err
		}
	}
	// Triggers off: the changes they made are in the changeset already.
	// Switching the setting expires every prepared statement of the
	// connection, so it is only done where there are triggers.
	if c.hasTriggers(ctx) {
		if _, err := c.cc.DBConfigBool(capi.DBCONFIG_ENABLE_TRIGGER, 0); err != nil {
			return convertError(err)
		}
		defer c.cc.DBConfigBool(capi.DBCONFIG_ENABLE_TRIGGER, 1)
	}
	c.cdc.paused = true // the replay's changes are the captured ones
	defer func() { c.cdc.paused = false }()
	how := iouringvfs.CommitRebased
	err = c.replay(ctx, groups)
	if errors.Is(err, errNoReplay) {
		how = iouringvfs.CommitRebasedChangeset
		// Foreign-key actions off likewise, where they could run:
		// switching them off expires every prepared statement and reloads
		// the schema.
		fkNoAction := false
		if c.schemaFacts(ctx).fkActions {
			if fkNoAction, err = c.cc.DBConfigBool(capi.DBCONFIG_ENABLE_FKEY, -1); err != nil {
				return convertError(err)
			}
		}
		err = c.cc.ApplyChangeset(encodeChangeset(groups), fkNoAction)
	}
	if err != nil {
		if errors.Is(err, capi.ErrChangesetConflict) {
			f.CountConflict("rebase")
			return &Error{code: BUSY_SNAPSHOT, msg: "BEGIN CONCURRENT transaction conflicts with a commit since its snapshot: " + err.Error(), cause: err}
		}
		return c.mapErr(ctx, err)
	}
	if err := c.restoreSequence(ctx, seq, groups, newest); err != nil {
		return err
	}
	// The transaction's own changes are what it publishes.
	c.cdc.log.close()
	c.cdc.log, captured = captured, changeLog{}
	c.cdc.stored = false
	if err := c.storeChanges(ctx); err != nil {
		return err
	}
	if err := c.execInternal(ctx, "COMMIT"); err != nil {
		return err
	}
	f.CountConcurrentCommit(how)
	return c.endConcurrent(ctx, ct, false)
}

// sequenceState is what a concurrent transaction left in sqlite_sequence:
// the values its AUTOINCREMENT inserts reached, and the table's pages,
// which the commit protocol handles itself and so excludes from the
// conflict check.
type sequenceState struct {
	seqs  map[string]int64
	pages []wal.PageNo
	moved bool // a commit since the snapshot wrote sqlite_sequence
}

func (c *conn) sequenceState(ctx context.Context) sequenceState {
	var st sequenceState
	sc := c.schemaFacts(ctx)
	if sc.seqRoot == 0 {
		return st
	}
	if pages, ok := c.file.BtreePages(sc.seqRoot, 64); ok {
		st.pages = pages
	}
	st.seqs, _ = c.sequences()
	return st
}

// sequences reads sqlite_sequence.
func (c *conn) sequences() (map[string]int64, error) {
	p, err := c.prepare("SELECT name, seq FROM sqlite_sequence")
	if err != nil {
		return nil, convertError(err)
	}
	defer c.release(p)
	seqs := map[string]int64{}
	for {
		row, err := p.s.Step()
		if err != nil {
			return seqs, convertError(err)
		}
		if !row {
			return seqs, nil
		}
		seqs[p.s.ColumnText(0)] = p.s.ColumnInt64(1)
	}
}

// schemaFacts is what the commit protocol needs to know of the schema,
// cached per schema cookie: sqlite_sequence's root page (0 if there is no
// AUTOINCREMENT table), whether there are triggers, whether there is a
// foreign key and whether one has an action that changes rows (CASCADE,
// SET NULL, SET DEFAULT), and,
// once a conflict needed them, the names of the b-trees by root page.
type schemaFacts struct {
	cookie    uint32
	valid     bool
	seqRoot   wal.PageNo
	triggers  bool
	fkActions bool
	fks       bool // any foreign key
	roots     map[wal.PageNo]string
	tables    map[string]*csTable // changeset layouts, by table name
	shadows   map[string]bool     // virtual tables' shadow tables, nil if none
	// err says the facts could not be read (the call's context ended, say):
	// they are then not cached, every fact that restricts the commit
	// protocol is assumed (triggers, foreign keys and their actions), and
	// a concurrent transaction neither starts nor rebases on them.
	err error
}

func (c *conn) schemaFacts(ctx context.Context) *schemaFacts {
	cookie := c.cc.SchemaCookie()
	if c.facts.valid && c.facts.cookie == cookie {
		return &c.facts
	}
	fail := func(err error) *schemaFacts {
		c.facts = schemaFacts{}
		return &schemaFacts{triggers: true, fkActions: true, fks: true, err: c.mapErr(ctx, err)}
	}
	facts := schemaFacts{cookie: cookie, valid: true}
	p, err := c.prepare(`SELECT
		(SELECT rootpage FROM sqlite_schema WHERE name = 'sqlite_sequence'),
		EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'trigger'),
		EXISTS (SELECT 1 FROM sqlite_schema s, pragma_foreign_key_list(s.name) f
			WHERE s.type = 'table' AND (f.on_delete NOT IN ('NO ACTION', 'RESTRICT') OR f.on_update NOT IN ('NO ACTION', 'RESTRICT'))),
		EXISTS (SELECT 1 FROM sqlite_schema s, pragma_foreign_key_list(s.name) f WHERE s.type = 'table')`)
	if err != nil {
		return fail(err)
	}
	row, err := p.s.Step()
	if err == nil && !row {
		err = errors.New("libsql: reading the schema's facts: no row")
	}
	if err != nil {
		c.release(p)
		return fail(err)
	}
	facts.seqRoot = wal.PageNo(p.s.ColumnInt64(0))
	facts.triggers = p.s.ColumnInt64(1) != 0
	facts.fkActions = p.s.ColumnInt64(2) != 0
	facts.fks = p.s.ColumnInt64(3) != 0
	c.release(p)
	p, err = c.prepare("SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'shadow'")
	if err != nil {
		return fail(err)
	}
	for {
		row, err := p.s.Step()
		if err != nil {
			c.release(p)
			return fail(err)
		}
		if !row {
			break
		}
		if facts.shadows == nil {
			facts.shadows = map[string]bool{}
		}
		facts.shadows[p.s.ColumnText(0)] = true
	}
	c.release(p)
	c.facts = facts
	return &c.facts
}

func (c *conn) hasTriggers(ctx context.Context) bool { return c.schemaFacts(ctx).triggers }

// hasTempTriggers reports whether the connection's temp schema has a
// trigger. SQLITE_DBCONFIG_ENABLE_TRIGGER does not switch TEMP triggers
// off (since SQLite 3.35), so one on a main table would fire in a replay,
// in a statement of the driver's, where neither its effects (in the
// changeset already) nor its SQL (unjudged by an authorizer) belong. The
// temp schema has its own cookie, which schemaFacts does not follow; a
// rebase is rare enough to ask each time.
func (c *conn) hasTempTriggers() bool {
	p, err := c.prepare("SELECT EXISTS (SELECT 1 FROM sqlite_temp_schema WHERE type = 'trigger')")
	if err != nil {
		return true // switching triggers off is always safe
	}
	defer c.release(p)
	row, err := p.s.Step()
	return err != nil || !row || p.s.ColumnInt64(0) != 0
}

// checkSequences refuses the replay, on the newest version, of rows the
// transaction inserted into an AUTOINCREMENT table with rowids that a
// transaction committed since may have handed out too: when the newest
// sqlite_sequence of the table reached the smallest of them (in a serial
// order the transaction would have got rowids above it).
func (c *conn) checkSequences(ctx context.Context, groups []*csGroup, st sequenceState) error {
	if !st.moved {
		return nil
	}
	for _, g := range groups {
		if _, auto := st.seqs[g.t.name]; !auto || g.minInsert == 0 {
			continue
		}
		p, err := c.prepare("SELECT seq FROM sqlite_sequence WHERE name = ?")
		if err != nil {
			return convertError(err)
		}
		var newest int64
		if err := p.s.BindText(1, g.t.name); err == nil {
			if row, err := p.s.Step(); err == nil && row {
				newest = p.s.ColumnInt64(0)
			}
		}
		c.release(p)
		if newest >= g.minInsert {
			return &Error{code: BUSY_SNAPSHOT, msg: fmt.Sprintf("BEGIN CONCURRENT transaction conflicts with a commit since its snapshot: it inserted rowid %d into AUTOINCREMENT table %s, whose sequence has reached %d since", g.minInsert, g.t.name, newest)}
		}
	}
	return nil
}

// restoreSequence sets sqlite_sequence, after the replay, for the
// AUTOINCREMENT tables replayed: to the higher of what the transaction
// reached and what the newest version had before the replay (newest)
// where it inserted, else back to the newest version's. The changeset
// does not carry it, and the replay's own INSERTs moved it: a rowid the
// transaction moved with an UPDATE, which leaves the sequence alone, is
// replayed as an INSERT, which raises it.
func (c *conn) restoreSequence(ctx context.Context, st sequenceState, groups []*csGroup, newest map[string]int64) error {
	for _, g := range groups {
		name := g.t.name
		mine, inMine := st.seqs[name]
		want, keep := newest[name]
		if !inMine && !keep {
			continue
		}
		if g.minInsert != 0 && inMine {
			want, keep = max(want, mine), true
		}
		args := []driver.NamedValue{{Ordinal: 1, Value: name}, {Ordinal: 2, Value: want}}
		qs := []string{
			"UPDATE sqlite_sequence SET seq = ?2 WHERE name = ?1",
			"INSERT INTO sqlite_sequence(name, seq) SELECT ?1, ?2 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?1)",
		}
		if !keep {
			qs = []string{"DELETE FROM sqlite_sequence WHERE name = ?1"}
			args = args[:1]
		}
		for _, q := range qs {
			p, err := c.prepare(q)
			if err != nil {
				return convertError(err)
			}
			_, err = c.exec(ctx, p.s, args)
			c.release(p)
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// conflictBudget bounds the pages read to name the b-tree of a conflict.
const conflictBudget = 20000

// conflictError builds the ErrBusySnapshot of a conflict, naming the page's
// table or index, and counts it.
func (c *conn) conflictError(ctx context.Context, cf *iouringvfs.Conflict) error {
	e := &Error{code: BUSY_SNAPSHOT}
	const prefix = "BEGIN CONCURRENT transaction conflicts with a commit since its snapshot: "
	if cf.Schema {
		e.conflictTable = "schema"
		e.msg = prefix + "conflict on the database schema or header (schema cookie, user_version, application_id, ...)"
		c.file.CountConflict("schema")
		return e
	}
	e.conflictPage = uint32(cf.Page)
	owner := c.file.OwnerOf(cf.Page, c.schemaRoots(ctx), conflictBudget)
	e.conflictTable = owner
	if owner != "" {
		e.msg = fmt.Sprintf("%sconflict at page %d (b-tree of %s)", prefix, cf.Page, owner)
		c.file.CountConflict(owner)
	} else {
		e.msg = fmt.Sprintf("%sconflict at page %d", prefix, cf.Page)
		c.file.CountConflict(fmt.Sprintf("page %d", cf.Page))
	}
	return e
}

// schemaRoots maps the root page of every table and index to its name.
func (c *conn) schemaRoots(ctx context.Context) map[wal.PageNo]string {
	f := c.schemaFacts(ctx)
	if f.roots != nil {
		return f.roots
	}
	roots := map[wal.PageNo]string{1: "table sqlite_schema"}
	p, err := c.prepare("SELECT type, name, rootpage FROM sqlite_schema WHERE rootpage > 0")
	if err != nil {
		return roots
	}
	defer c.release(p)
	for {
		row, err := p.s.Step()
		if err != nil {
			return roots
		}
		if !row {
			f.roots = roots
			return roots
		}
		roots[wal.PageNo(p.s.ColumnInt64(2))] = p.s.ColumnText(0) + " " + p.s.ColumnText(1)
	}
}

// RetryTx runs fn in a transaction begun with opts and commits it,
// retrying the whole transaction, with a new one each time, while it fails
// with ErrBusySnapshot (a BEGIN CONCURRENT conflict, or a stale snapshot),
// with jittered exponential backoff, until it succeeds, fails otherwise, or
// ctx ends. Pass opts with Isolation: LevelConcurrent for optimistic
// concurrent writers: the first attempt runs in BEGIN CONCURRENT, and once
// it has conflicted the transaction runs again in BEGIN IMMEDIATE, which
// holds the write lock from its start and cannot conflict again (other
// writers wait for it meanwhile). Under contention another optimistic
// attempt would mostly lose too.
//
// fn may run several times: it must have no effects outside the
// transaction (no sends, no writes elsewhere, no appends to outside slices
// that a retry would duplicate), and must return the transaction's errors
// as they are, so that a conflict can be recognized.
func RetryTx(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(*sql.Tx) error) error {
	return retryConflicts(ctx, opts, func(opts *sql.TxOptions) error { return runTx(ctx, db, opts, fn) })
}

func runTx(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
