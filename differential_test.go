package libsql_test

// A differential test of the storage engine: the same workload runs on this
// driver and on stock SQLite in WAL mode (modernc.org/sqlite's driver, on
// its own VFS), step by step, and after every step the two must agree —
// the rows a statement returns, the rows it changed, and the class of its
// error (none, busy, busy_snapshot, constraint, locked, other). Both give
// every connection a snapshot (snapshot isolation), and with a busy
// timeout of 0 both fail a second writer at once, so a single goroutine
// interleaving the statements of three connections per engine sees the same
// outcomes on both: readers holding a transaction open while others
// commit, writers colliding, savepoints, checkpoints of every mode,
// VACUUM, schema changes, big blobs on overflow pages and reopening the
// files. Every ~20 steps, and at the end, every table is compared whole
// and PRAGMA integrity_check must say ok on both; at the end the file this
// driver wrote is opened with stock SQLite, which must see the same data.
//
// Known differences are accepted where they are checked, each with its
// reason: wal_checkpoint's result row (the logs differ) and its
// SQLITE_LOCKED inside the connection's own transaction (README), stock
// SQLite's busy_snapshot after a log restart without a commit (README),
// and the failure of a cached statement that another connection's schema
// change made stale (see diffRun.exec). Page counts are never compared.
//
// A sequence is driven by bytes: the fuzz input (FuzzDifferential), or
// bytes drawn from a seeded generator (TestDifferentialRandom). A mismatch
// fails with the seed or input and the log of every statement run so far,
// labelled with its connection.

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golibsql/libsql"
	"modernc.org/sqlite"
)

// diffConns is the number of logical connections on each engine.
const diffConns = 3

// diffKeys is the key domain of table t: small, so that writers collide.
const diffKeys = 64

// diffSchema is the schema every sequence starts with: t holds small rows
// and big blobs (up to 20 KB, on overflow pages), u has a UNIQUE column so
// that statements fail with constraint errors, some half way through.
var diffSchema = []string{
	"CREATE TABLE t(k INTEGER PRIMARY KEY, v INTEGER NOT NULL, b BLOB)",
	"CREATE TABLE u(k INTEGER PRIMARY KEY, n INTEGER NOT NULL UNIQUE, s TEXT)",
}

// diffSource hands out the bytes that drive a sequence; past their end it
// yields zeros.
type diffSource struct {
	b   []byte
	pos int
}

func (s *diffSource) byte() byte {
	if s.pos >= len(s.b) {
		return 0
	}
	s.pos++
	return s.b[s.pos-1]
}

// intn returns a number in [0, n), n ≤ 256.
func (s *diffSource) intn(n int) int { return int(s.byte()) % n }

// u16 returns a number in [0, 65536).
func (s *diffSource) u16() int { return int(s.byte())<<8 | int(s.byte()) }

func (s *diffSource) done() bool { return s.pos >= len(s.b) }

// diffOp is a kind of step.
type diffOp int

const (
	diffOpBegin diffOp = iota
	diffOpBeginImmediate
	diffOpCommit
	diffOpRollback
	diffOpSavepoint
	diffOpRelease
	diffOpRollbackTo
	diffOpInsert
	diffOpInsertBlob
	diffOpInsertRange
	diffOpUpdate
	diffOpUpdateBlob
	diffOpDelete
	diffOpInsertU
	diffOpUpdateU
	diffOpCount
	diffOpRange
	diffOpIndexed
	diffOpHash
	diffOpPoolRead
	diffOpCreateIndex
	diffOpDropIndex
	diffOpCreateW
	diffOpFillW
	diffOpDropW
	diffOpCheckpoint
	diffOpVacuum
	diffOpReopen
	diffOpCacheSize
	diffOpCheck
	diffOpBeginRead // BEGIN and a read: a snapshot pinned
	diffOpProbe     // BEGIN run to learn whether a transaction is open
	numDiffOps
)

// diffWeights are how often each kind of step is chosen for a connection
// outside a transaction and inside one (as the interpreter believes).
var diffWeights = [numDiffOps][2]int{
	diffOpBegin:          {8, 1},
	diffOpBeginImmediate: {6, 1},
	diffOpCommit:         {1, 16},
	diffOpRollback:       {1, 5},
	diffOpSavepoint:      {3, 4},
	diffOpRelease:        {1, 4},
	diffOpRollbackTo:     {1, 3},
	diffOpInsert:         {6, 6},
	diffOpInsertBlob:     {6, 6},
	diffOpInsertRange:    {3, 3},
	diffOpUpdate:         {5, 5},
	diffOpUpdateBlob:     {3, 3},
	diffOpDelete:         {3, 3},
	diffOpInsertU:        {3, 3},
	diffOpUpdateU:        {2, 2},
	diffOpCount:          {4, 6},
	diffOpRange:          {4, 6},
	diffOpIndexed:        {2, 2},
	diffOpHash:           {2, 3},
	diffOpPoolRead:       {2, 2},
	diffOpCreateIndex:    {2, 1},
	diffOpDropIndex:      {2, 1},
	diffOpCreateW:        {1, 1},
	diffOpFillW:          {1, 1},
	diffOpDropW:          {1, 1},
	diffOpCheckpoint:     {5, 2},
	diffOpVacuum:         {2, 1},
	diffOpReopen:         {1, 1},
	diffOpCacheSize:      {1, 1},
	diffOpCheck:          {1, 1},
	diffOpBeginRead:      {3, 0},
}

// diffTables maps a byte to a kind of step, by the weights: [0] outside a
// transaction, [1] inside one; [2] and [3] the same for connection 0, the
// reader, which writes a third as often, reads twice as often, ends its
// transactions a fourth as often and pins snapshots four times as often,
// so that its read transactions see the others commit.
var diffTables = func() (tabs [4][]diffOp) {
	for i := range 4 {
		for op, w := range diffWeights {
			n := w[i%2]
			if i >= 2 {
				switch {
				case op >= int(diffOpInsert) && op <= int(diffOpUpdateU), op == int(diffOpBeginImmediate):
					n = (n + 2) / 3
				case op >= int(diffOpCount) && op <= int(diffOpHash):
					n *= 2
				case op == int(diffOpCommit) || op == int(diffOpRollback):
					n = (n + 3) / 4
				case op == int(diffOpBeginRead):
					n *= 4
				}
			}
			for range n {
				tabs[i] = append(tabs[i], diffOp(op))
			}
		}
	}
	return tabs
}()

// diffStep is one statement to run on both engines.
type diffStep struct {
	conn  int // 0..diffConns-1, or -1 for the *sql.DB's pool
	op    diffOp
	sql   string
	args  []any
	show  string // the arguments as the log shows them
	query bool   // a query: compare its rows
	hash  bool   // reduce the rows to their count and a hash
}

func (st diffStep) String() string {
	c := "pool"
	if st.conn >= 0 {
		c = "c" + strconv.Itoa(st.conn)
	}
	s := c + ": " + st.sql
	if st.show != "" {
		s += " [" + st.show + "]"
	}
	return s
}

// diffBlob returns n bytes determined by n and seed.
func diffBlob(n int, seed byte) []byte {
	b := make([]byte, n+8)
	x := uint64(seed)*0x9e3779b97f4a7c15 + uint64(n) + 1
	for i := 0; i < n; i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		binary.LittleEndian.PutUint64(b[i:], x)
	}
	return b[:n]
}

// diffValue renders a column value: blobs longer than 16 bytes by their
// length and hash.
func diffValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case string:
		return strconv.Quote(v)
	case []byte:
		if len(v) <= 16 {
			return "x'" + hex.EncodeToString(v) + "'"
		}
		h := fnv.New64a()
		h.Write(v)
		return fmt.Sprintf("blob[%d:%016x]", len(v), h.Sum64())
	default:
		return fmt.Sprintf("%T(%v)", v, v)
	}
}

// Error classes an outcome is compared by.
const (
	classOK           = "ok"
	classBusy         = "busy"
	classBusySnapshot = "busy_snapshot"
	classConstraint   = "constraint"
	classLocked       = "locked"
	classOther        = "other"
)

// diffClass returns the class of an error of either driver.
func diffClass(err error) string {
	if err == nil {
		return classOK
	}
	code := -1
	var le *libsql.Error
	var se *sqlite.Error
	switch {
	case errors.As(err, &le):
		code = int(le.ExtendedCode())
	case errors.As(err, &se):
		code = se.Code()
	}
	switch {
	case code == int(libsql.BUSY_SNAPSHOT):
		return classBusySnapshot
	case code&0xff == int(libsql.BUSY):
		return classBusy
	case code&0xff == int(libsql.CONSTRAINT):
		return classConstraint
	case code&0xff == int(libsql.LOCKED):
		return classLocked
	}
	return classOther
}

// diffOutcome is what a step did on one engine.
type diffOutcome struct {
	class string
	err   error
	rows  []string // a query's rows, rendered
	n     int64    // an Exec's rows affected
}

func (o diffOutcome) String() string {
	if o.class != classOK {
		return o.class + " (" + o.err.Error() + ")"
	}
	if o.rows == nil {
		return "ok n=" + strconv.FormatInt(o.n, 10)
	}
	s := strings.Join(o.rows, "; ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return "ok rows{" + s + "}"
}

// diffEngine is one engine's database: a *sql.DB and the connections
// pinned from it.
type diffEngine struct {
	name   string
	driver string
	path   string
	dsn    string
	db     *sql.DB
	conns  []*sql.Conn
}

func (e *diffEngine) open(ctx context.Context) error {
	db, err := sql.Open(e.driver, e.dsn)
	if err != nil {
		return fmt.Errorf("%s: open %s: %w", e.name, e.dsn, err)
	}
	db.SetMaxOpenConns(diffConns + 1)
	e.db = db
	e.conns = e.conns[:0]
	for range diffConns {
		c, err := db.Conn(ctx)
		if err != nil {
			e.close()
			return fmt.Errorf("%s: conn: %w", e.name, err)
		}
		e.conns = append(e.conns, c)
	}
	return nil
}

func (e *diffEngine) close() error {
	var errs []error
	for _, c := range e.conns {
		errs = append(errs, c.Close())
	}
	e.conns = e.conns[:0]
	if e.db != nil {
		errs = append(errs, e.db.Close())
		e.db = nil
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s: close: %w", e.name, err)
	}
	return nil
}

type diffQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (e *diffEngine) querier(conn int) diffQuerier {
	if conn < 0 {
		return e.db
	}
	return e.conns[conn]
}

// diffQuery runs a query and renders its rows (or their count and hash).
func diffQuery(ctx context.Context, q diffQuerier, query string, args []any, hash bool) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	out := []string{}
	h := fnv.New64a()
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = diffValue(v)
		}
		line := strings.Join(parts, "|")
		if hash {
			h.Write([]byte(line))
			h.Write([]byte{'\n'})
		} else {
			out = append(out, line)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if hash {
		out = append(out, fmt.Sprintf("rows=%d hash=%016x", n, h.Sum64()))
	}
	return out, nil
}

func (e *diffEngine) run(ctx context.Context, st diffStep) diffOutcome {
	q := e.querier(st.conn)
	if st.query {
		rows, err := diffQuery(ctx, q, st.sql, st.args, st.hash)
		if err != nil {
			return diffOutcome{class: diffClass(err), err: err}
		}
		return diffOutcome{class: classOK, rows: rows}
	}
	r, err := q.ExecContext(ctx, st.sql, st.args...)
	if err != nil {
		return diffOutcome{class: diffClass(err), err: err}
	}
	n, err := r.RowsAffected()
	if err != nil {
		return diffOutcome{class: diffClass(err), err: err}
	}
	return diffOutcome{class: classOK, n: n}
}

// dump returns the schema and every table's rows, in order, and the
// answer of PRAGMA integrity_check, read through the pool (the newest
// committed version).
func (e *diffEngine) dump(ctx context.Context) (dump []string, integrity string, err error) {
	return diffDump(ctx, e.db)
}

func diffDump(ctx context.Context, db *sql.DB) (dump []string, integrity string, err error) {
	ic, err := diffQuery(ctx, db, "PRAGMA integrity_check", nil, false)
	if err != nil {
		return nil, "", fmt.Errorf("integrity_check: %w", err)
	}
	schema, err := diffQuery(ctx, db, "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name", nil, false)
	if err != nil {
		return nil, "", fmt.Errorf("schema: %w", err)
	}
	dump = append(dump, schema...)
	tables, err := diffQuery(ctx, db, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name", nil, false)
	if err != nil {
		return nil, "", fmt.Errorf("tables: %w", err)
	}
	for _, name := range tables {
		name, _ = strconv.Unquote(name)
		rows, err := diffQuery(ctx, db, `SELECT * FROM "`+name+`" ORDER BY rowid`, nil, true)
		if err != nil {
			return nil, "", fmt.Errorf("table %s: %w", name, err)
		}
		dump = append(dump, name+": "+rows[0])
	}
	for i, s := range ic {
		if u, err := strconv.Unquote(s); err == nil {
			ic[i] = u
		}
	}
	return dump, strings.Join(ic, "; "), nil
}

// diffConnModel is what the interpreter believes of a connection: it
// chooses steps by it and counts snapshot reads with it. Where a step
// failed, a probe (BEGIN, and ROLLBACK if it worked) on both engines
// brings it back in line.
type diffConnModel struct {
	inTx       bool
	snap       int      // the version its snapshot was taken at, or -1
	savepoints []string // open savepoints, innermost last
	bySP       bool     // the transaction was begun by a SAVEPOINT
	wrote      bool
}

// diffStats counts what the sequences did, so that a test cannot pass
// without exercising what it is meant to.
type diffStats struct {
	seqs, ops, steps                   int
	commits, snapshotReads, busy       int
	busySnapshot, constraint, locked   int
	checkpoints, checkpointsBusy       int
	vacuums, reopens, checks, bigBlobs int
	failedBoth, probesInTx, probesNoTx int
	restartSnapshots, staleStatements  int
}

func (s *diffStats) String() string {
	return fmt.Sprintf("%d sequences, %d ops (%d statements per engine): %d commits, %d snapshot reads, "+
		"%d busy, %d busy_snapshot, %d constraint, %d locked, %d checkpoints (%d busy), %d vacuums, "+
		"%d reopens, %d full comparisons, %d big blobs written, %d stock busy_snapshots after a log restart",
		s.seqs, s.ops, s.steps, s.commits, s.snapshotReads, s.busy, s.busySnapshot, s.constraint,
		s.locked, s.checkpoints, s.checkpointsBusy, s.vacuums, s.reopens, s.checks, s.bigBlobs,
		s.restartSnapshots)
}

// diffRun runs one sequence on both engines.
type diffRun struct {
	t       testing.TB
	ctx     context.Context
	label   string // how to reproduce the sequence
	src     *diffSource
	eng     [2]*diffEngine // this driver, stock SQLite
	model   [diffConns]diffConnModel
	version int  // commits so far, as the model counts them
	strict  bool // tolerate no known bug (regression tests)
	log     []string
	stats   *diffStats
}

// diffConfig is how a sequence opens its databases.
type diffConfig struct {
	sync      string // full, normal, off (both engines)
	pageCache int    // this engine's shared page cache, in pages
	cacheSize int    // SQLite's per-connection cache_size
}

// diffURIPath escapes path for a file: URI: a fuzz test's temporary
// directory has a '#' in its name ("seed#0"), which would end the path.
func diffURIPath(path string) string {
	return strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(filepath.ToSlash(path))
}

func newDiffRun(t testing.TB, label string, data []byte, cfg diffConfig, stats *diffStats) *diffRun {
	t.Helper()
	dir := t.TempDir()
	ours := filepath.Join(dir, "libsql.db")
	stock := filepath.Join(dir, "stock.db")
	r := &diffRun{
		t:     t,
		ctx:   context.Background(),
		label: label,
		src:   &diffSource{b: data},
		stats: stats,
		eng: [2]*diffEngine{
			{name: "libsql", driver: libsql.DriverName, path: ours,
				dsn: fmt.Sprintf("file:%s?busy_timeout=0&sync=%s&page_cache=%d&cache_size=%d",
					diffURIPath(ours), cfg.sync, cfg.pageCache, cfg.cacheSize)},
			{name: "sqlite", driver: "sqlite", path: stock,
				dsn: fmt.Sprintf("file:%s?_pragma=journal_mode(WAL)&_pragma=busy_timeout(0)&_pragma=synchronous(%s)&_pragma=cache_size(%d)",
					diffURIPath(stock), cfg.sync, cfg.cacheSize)},
		},
	}
	r.logf("config: %+v", cfg)
	for _, e := range r.eng {
		if err := e.open(r.ctx); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, e := range r.eng {
			e.close()
		}
	})
	for _, s := range diffSchema {
		r.must(diffStep{conn: 0, sql: s})
	}
	r.resetModel()
	return r
}

func (r *diffRun) logf(format string, args ...any) {
	r.log = append(r.log, fmt.Sprintf(format, args...))
}

// fail ends the test with the label and the log.
func (r *diffRun) fail(format string, args ...any) {
	r.t.Helper()
	r.t.Fatalf("differential mismatch (%s): %s\nlog of the sequence (%d lines):\n%s",
		r.label, fmt.Sprintf(format, args...), len(r.log), strings.Join(r.log, "\n"))
}

func (r *diffRun) resetModel() {
	for i := range r.model {
		r.model[i] = diffConnModel{snap: -1}
	}
}

// exec runs st on both engines, logs it and fails the test unless the
// outcomes agree. It returns the outcome (this driver's).
func (r *diffRun) exec(st diffStep) diffOutcome {
	r.t.Helper()
	a := r.eng[0].run(r.ctx, st)
	b := r.eng[1].run(r.ctx, st)
	r.stats.steps++
	r.logf("#%d %s => libsql %s | sqlite %s", len(r.log), st, a, b)
	if !r.strict && b.class == classOther && diffSchemaError(b.err) && (st.counts() || st.ddl()) &&
		(a.class == classOther || a.class == classBusy || a.class == classBusySnapshot) {
		// Known: the first statement in this driver's cache to run after
		// another connection changed the schema takes the writer lock
		// (and checks its snapshot) before SQLite finds that the schema
		// changed under it, and a failure keeps the lock to the end of
		// the transaction, as a prepared *sql.Stmt does in stock SQLite
		// (once the connection knows of a change, its own or reloaded,
		// cached statements are prepared again before they run: see
		// TestDifferentialRegressionStaleStatementBusy). Both engines
		// roll the transaction back, to be alike again.
		if a.class != classOther {
			r.stats.staleStatements++
		}
		r.logf("#%d (a writing statement failed on a changed schema: both roll back)", len(r.log))
		if st.conn >= 0 && r.model[st.conn].inTx {
			r.must(diffStep{conn: st.conn, op: diffOpRollback, sql: "ROLLBACK"})
		}
		return b
	}
	if diffAgree(st, a, b) {
		return a
	}
	if st.conn >= 0 && b.class == classBusySnapshot && a.class != classBusy && a.class != classBusySnapshot &&
		r.model[st.conn].inTx && r.model[st.conn].snap == r.version {
		// Stock SQLite fails the first write of a transaction whose
		// snapshot predates a restart of its log (by a checkpoint
		// RESTART or TRUNCATE, or by a writer that rolled back) although
		// nothing was committed since. README (The storage engine,
		// Writers): "A deferred transaction that read first and then
		// writes after another commit gets ErrBusySnapshot"; with no
		// commit since its snapshot, it does not: here its statement
		// runs (and succeeds, or fails for its own reason: a constraint,
		// BEGIN IMMEDIATE inside a transaction). The model's version
		// counts the commits: none since this snapshot. Both engines
		// roll the transaction back, to be alike again.
		r.stats.restartSnapshots++
		r.logf("#%d (stock SQLite's busy_snapshot after a log restart without a commit: both roll back)", len(r.log))
		r.must(diffStep{conn: st.conn, op: diffOpRollback, sql: "ROLLBACK"})
		return b
	}
	r.fail("%s:\n  libsql: %s\n  sqlite: %s", st, a, b)
	return a
}

// must runs st on both engines and fails unless it succeeded on both.
func (r *diffRun) must(st diffStep) diffOutcome {
	r.t.Helper()
	o := r.exec(st)
	if o.class != classOK {
		r.fail("%s failed: %v", st, o.err)
	}
	return o
}

// diffAgree reports whether two outcomes of st agree.
func diffAgree(st diffStep, a, b diffOutcome) bool {
	if st.op == diffOpCheckpoint && a.class == classOK && b.class == classLocked {
		// Stock SQLite fails every wal_checkpoint with SQLITE_LOCKED
		// while the same connection has a transaction open; README
		// (PRAGMAs, wal_checkpoint): "FULL and up hold the writer lock and
		// wait (up to the busy timeout) for older snapshots; inside a
		// transaction of the same connection that they would wait for,
		// they fail at once with SQLITE_LOCKED". So here PASSIVE does not
		// fail, nor FULL and up where they would not wait (a read
		// transaction on the newest version); where they would, both
		// engines say locked.
		return true
	}
	if a.class != b.class {
		return false
	}
	if a.class != classOK {
		return true
	}
	if st.op == diffOpCheckpoint {
		// The result row of wal_checkpoint (busy, log, checkpointed) is
		// not compared: the two logs differ in layout.
		return true
	}
	if st.counts() && a.n != b.n {
		return false
	}
	return slices.Equal(a.rows, b.rows)
}

// diffSchemaError reports whether err is an error SQLite reports while it
// prepares a statement against a schema that lacks (or has) an object.
func diffSchemaError(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "no such table") || strings.Contains(msg, "no such index") ||
		strings.Contains(msg, "already exists")
}

// ddl reports whether st changes the schema.
func (st diffStep) ddl() bool {
	switch st.op {
	case diffOpCreateIndex, diffOpDropIndex, diffOpCreateW, diffOpDropW:
		return true
	}
	return false
}

// counts reports whether st is an INSERT, UPDATE or DELETE, whose rows
// affected are compared. (For other statements modernc's driver reports
// sqlite3_changes, which still counts the last INSERT, UPDATE or DELETE;
// this driver reports 0.)
func (st diffStep) counts() bool {
	switch st.op {
	case diffOpInsert, diffOpInsertBlob, diffOpInsertRange, diffOpUpdate, diffOpUpdateBlob, diffOpDelete, diffOpInsertU, diffOpUpdateU, diffOpFillW:
		return true
	}
	return false
}

// check compares both databases whole, as the newest committed version,
// and requires integrity_check to say ok on both.
func (r *diffRun) check(why string) []string {
	r.t.Helper()
	r.stats.checks++
	var dumps [2][]string
	for i, e := range r.eng {
		d, ic, err := e.dump(r.ctx)
		if err != nil {
			r.fail("%s: full comparison (%s): %v", e.name, why, err)
		}
		if ic != "ok" {
			r.fail("%s: integrity_check (%s): %s", e.name, why, ic)
		}
		dumps[i] = d
	}
	r.logf("#%d full comparison (%s): %s", len(r.log), why, strings.Join(dumps[0], "; "))
	if !slices.Equal(dumps[0], dumps[1]) {
		r.fail("full comparison (%s):\n  libsql: %s\n  sqlite: %s", why,
			strings.Join(dumps[0], "\n          "), strings.Join(dumps[1], "\n          "))
	}
	return dumps[1]
}

// reopen closes every connection and both databases and opens them again;
// with rollback, the open transactions are rolled back first (else the
// close drops them).
func (r *diffRun) reopen(rollback bool) {
	r.t.Helper()
	r.stats.reopens++
	if rollback {
		for c := range diffConns {
			if r.model[c].inTx {
				r.exec(diffStep{conn: c, op: diffOpRollback, sql: "ROLLBACK"})
			}
		}
	}
	r.logf("#%d close and reopen both databases (rollback first: %v)", len(r.log), rollback)
	for _, e := range r.eng {
		if err := e.close(); err != nil {
			r.fail("%v", err)
		}
	}
	for _, e := range r.eng {
		if err := e.open(r.ctx); err != nil {
			r.fail("%v", err)
		}
	}
	r.resetModel()
}

// probe learns whether connection c is in a transaction, on both engines
// (which must agree), with BEGIN — which fails inside a transaction and
// changes nothing there — and ROLLBACK where it began one.
func (r *diffRun) probe(c int) {
	r.t.Helper()
	o := r.exec(diffStep{conn: c, op: diffOpProbe, sql: "BEGIN"})
	if o.class == classOK {
		r.stats.probesNoTx++
		r.must(diffStep{conn: c, op: diffOpProbe, sql: "ROLLBACK"})
		r.model[c] = diffConnModel{snap: -1}
		return
	}
	r.stats.probesInTx++
	if !r.model[c].inTx {
		// A transaction the model missed (a statement that failed after
		// starting one cannot, but be safe): assume it has read.
		r.model[c] = diffConnModel{inTx: true, snap: r.version}
	}
}

// pinRead records that connection c read (or wrote) in its transaction
// and counts a read of a snapshot older than the newest commit.
func (r *diffRun) pinRead(c int, read bool) {
	m := &r.model[c]
	if !m.inTx {
		return
	}
	if m.snap < 0 {
		m.snap = r.version
	} else if read && m.snap < r.version {
		r.stats.snapshotReads++
	}
}

// commit records that connection c's transaction ended with a commit.
func (r *diffRun) commit(c int) {
	if r.model[c].wrote {
		r.version++
		r.stats.commits++
	}
	r.model[c] = diffConnModel{snap: -1}
}

// next decodes the next step from the source and runs it.
func (r *diffRun) next() {
	r.t.Helper()
	s := r.src
	c := s.intn(diffConns)
	m := &r.model[c]
	i := 0
	if m.inTx {
		i = 1
	}
	if c == 0 {
		i += 2
	}
	tab := diffTables[i]
	op := tab[int(s.byte())%len(tab)]
	st := diffStep{conn: c, op: op}
	span := func() (lo, hi int) {
		lo = s.intn(diffKeys)
		return lo, lo + s.intn(16)
	}
	switch op {
	case diffOpBegin:
		st.sql = "BEGIN"
	case diffOpBeginImmediate:
		st.sql = "BEGIN IMMEDIATE"
	case diffOpCommit:
		st.sql = "COMMIT"
	case diffOpRollback:
		st.sql = "ROLLBACK"
	case diffOpSavepoint, diffOpRelease, diffOpRollbackTo:
		name := "s" + strconv.Itoa(s.intn(3))
		st.sql = map[diffOp]string{diffOpSavepoint: "SAVEPOINT ", diffOpRelease: "RELEASE ", diffOpRollbackTo: "ROLLBACK TO "}[op] + name
	case diffOpInsert:
		k, v := s.intn(diffKeys), s.u16()
		st.sql, st.args = "INSERT INTO t(k, v) VALUES (?, ?)", []any{k, v}
	case diffOpInsertBlob:
		k, v, mode := s.intn(diffKeys), s.intn(256), s.intn(3)
		n, seed := 1024+int(s.byte())*19*1024/255, s.byte()
		switch mode {
		case 0:
			st.sql, st.args = "INSERT OR REPLACE INTO t(k, v, b) VALUES (?, ?, ?)", []any{k, v, diffBlob(n, seed)}
		case 1:
			st.sql, st.args = "INSERT OR REPLACE INTO t(k, v, b) VALUES (?, ?, zeroblob(?))", []any{k, v, n}
		default:
			st.sql, st.args = "INSERT INTO t(k, v, b) VALUES (?, ?, ?)", []any{k, v, diffBlob(n, seed)}
		}
		st.show = fmt.Sprintf("k=%d v=%d blob(n=%d, seed=%d)", k, v, n, seed)
		if mode == 1 {
			st.show = fmt.Sprintf("k=%d v=%d n=%d", k, v, n)
		}
	case diffOpInsertRange:
		lo, count, n := s.intn(diffKeys), 1+s.intn(32), int(s.byte())*8
		st.sql = "WITH RECURSIVE s(x) AS (SELECT ? UNION ALL SELECT x + 1 FROM s WHERE x < ?) " +
			"INSERT OR IGNORE INTO t(k, v, b) SELECT x, x * 7, zeroblob(?) FROM s"
		st.args = []any{lo, lo + count - 1, n}
	case diffOpUpdate:
		lo, hi := span()
		st.sql, st.args = "UPDATE t SET v = v + ? WHERE k BETWEEN ? AND ?", []any{1 + s.intn(100), lo, hi}
	case diffOpUpdateBlob:
		lo, hi := span()
		n, seed := 1+int(s.byte())*20*1024/255, s.byte()
		st.sql, st.args = "UPDATE t SET b = ? WHERE k BETWEEN ? AND ?", []any{diffBlob(n, seed), lo, hi}
		st.show = fmt.Sprintf("blob(n=%d, seed=%d) lo=%d hi=%d", n, seed, lo, hi)
	case diffOpDelete:
		lo, hi := span()
		st.sql, st.args = "DELETE FROM t WHERE k BETWEEN ? AND ?", []any{lo, hi}
	case diffOpInsertU:
		k, n := s.intn(16), s.intn(16)
		st.sql, st.args = "INSERT INTO u(k, n, s) VALUES (?, ?, ?)", []any{k, n, "s" + strconv.Itoa(s.intn(8))}
	case diffOpUpdateU:
		// Several rows, in order: a later one may break UNIQUE(n) after
		// earlier ones changed, and the statement is undone.
		st.sql, st.args = "UPDATE u SET n = (n + ?) % 16 WHERE k >= ?", []any{1 + s.intn(3), s.intn(16)}
	case diffOpCount:
		st.sql, st.query = "SELECT count(*), count(b), coalesce(sum(v), 0), coalesce(sum(length(b)), 0) FROM t", true
	case diffOpRange:
		lo, hi := span()
		st.sql, st.args, st.query = "SELECT k, v, b FROM t WHERE k BETWEEN ? AND ? ORDER BY k", []any{lo, hi}, true
	case diffOpIndexed:
		lo := s.intn(256) * 256
		st.sql, st.args, st.query = "SELECT k, v FROM t WHERE v BETWEEN ? AND ? ORDER BY v, k", []any{lo, lo + 4096}, true
	case diffOpHash:
		st.sql = [...]string{"SELECT * FROM t ORDER BY k", "SELECT * FROM u ORDER BY k", "SELECT * FROM w ORDER BY a",
			"SELECT n, k FROM u ORDER BY n"}[s.intn(4)]
		st.query, st.hash = true, true
	case diffOpPoolRead:
		st.conn = -1
		st.sql, st.query = "SELECT count(*), coalesce(sum(v), 0), coalesce(sum(length(b)), 0) FROM t", true
	case diffOpCreateIndex:
		// With IF NOT EXISTS (and IF EXISTS below) half the time: a
		// statement that then changes nothing must neither wait for a
		// writer nor hold one up (TestDifferentialNoopDDLTakesNoWriterLock);
		// without, one on an object that exists (or not) fails as it is
		// prepared, on both engines alike.
		st.sql = [...]string{"CREATE INDEX %st_v ON t(v)", "CREATE INDEX %st_b ON t(b)",
			"CREATE UNIQUE INDEX %su_s ON u(s)"}[s.intn(3)]
		st.sql = fmt.Sprintf(st.sql, [...]string{"", "IF NOT EXISTS "}[s.intn(2)])
	case diffOpDropIndex:
		st.sql = [...]string{"DROP INDEX %st_v", "DROP INDEX %st_b", "DROP INDEX %su_s"}[s.intn(3)]
		st.sql = fmt.Sprintf(st.sql, [...]string{"", "IF EXISTS "}[s.intn(2)])
	case diffOpCreateW:
		st.sql = [...]string{"CREATE TABLE w(a INTEGER PRIMARY KEY, b BLOB)", "CREATE TABLE IF NOT EXISTS w(a INTEGER PRIMARY KEY, b BLOB)"}[s.intn(2)]
	case diffOpFillW:
		lo, hi := span()
		st.sql, st.args = "INSERT OR REPLACE INTO w(a, b) SELECT k, b FROM t WHERE k BETWEEN ? AND ?", []any{lo, hi}
	case diffOpDropW:
		st.sql = [...]string{"DROP TABLE w", "DROP TABLE IF EXISTS w"}[s.intn(2)]
	case diffOpCheckpoint:
		st.sql = "PRAGMA wal_checkpoint" + [...]string{"", "(PASSIVE)", "(FULL)", "(RESTART)", "(TRUNCATE)"}[s.intn(5)]
		st.query = true
	case diffOpVacuum:
		st.sql = "VACUUM"
	case diffOpCacheSize:
		st.sql = "PRAGMA cache_size = " + strconv.Itoa([...]int{2, 10, 50, -2000}[s.intn(4)])
	case diffOpReopen:
		r.stats.ops++
		r.reopen(s.intn(2) == 0)
		return
	case diffOpCheck:
		r.stats.ops++
		r.check("asked")
		return
	case diffOpBeginRead:
		r.stats.ops++
		st.op, st.sql = diffOpBegin, "BEGIN"
		o := r.exec(st)
		r.account(st, o)
		if o.class != classOK {
			return
		}
		st.op, st.sql, st.query = diffOpCount, "SELECT count(*), coalesce(sum(n), 0) FROM u", true
		r.account(st, r.exec(st))
		return
	}
	if st.show == "" && len(st.args) > 0 {
		parts := make([]string, len(st.args))
		for i, a := range st.args {
			parts[i] = fmt.Sprint(a)
		}
		st.show = strings.Join(parts, ", ")
	}
	r.stats.ops++
	o := r.exec(st)
	r.account(st, o)
}

// account updates the model and the counters after st had outcome o on
// both engines.
func (r *diffRun) account(st diffStep, o diffOutcome) {
	r.t.Helper()
	c := st.conn
	switch o.class {
	case classBusy:
		r.stats.busy++
	case classBusySnapshot:
		r.stats.busySnapshot++
	case classConstraint:
		r.stats.constraint++
	case classLocked:
		r.stats.locked++
	}
	if st.op == diffOpCheckpoint && o.class == classOK {
		r.stats.checkpoints++
		if len(o.rows) == 1 && strings.HasPrefix(o.rows[0], "1|") {
			r.stats.checkpointsBusy++
		}
	}
	if o.class != classOK {
		r.stats.failedBoth++
		if c >= 0 {
			r.probe(c)
			if (st.op == diffOpCommit || st.op == diffOpRelease) && r.model[c].inTx {
				// A transaction whose commit failed is rolled back, as
				// SQLite requires.
				r.must(diffStep{conn: c, op: diffOpRollback, sql: "ROLLBACK"})
				r.model[c] = diffConnModel{snap: -1}
			}
		}
		return
	}
	if c < 0 {
		return
	}
	m := &r.model[c]
	switch st.op {
	case diffOpBegin:
		r.model[c] = diffConnModel{inTx: true, snap: -1}
	case diffOpBeginImmediate:
		r.model[c] = diffConnModel{inTx: true, snap: r.version}
	case diffOpCommit:
		r.commit(c)
	case diffOpRollback:
		r.model[c] = diffConnModel{snap: -1}
	case diffOpSavepoint:
		if !m.inTx {
			*m = diffConnModel{inTx: true, snap: -1, bySP: true}
		}
		m.savepoints = append(m.savepoints, st.sql[len("SAVEPOINT "):])
	case diffOpRelease, diffOpRollbackTo:
		name := st.sql[strings.LastIndexByte(st.sql, ' ')+1:]
		j := -1
		for k := len(m.savepoints) - 1; k >= 0; k-- {
			if m.savepoints[k] == name {
				j = k
				break
			}
		}
		if j < 0 {
			break
		}
		if st.op == diffOpRollbackTo {
			m.savepoints = m.savepoints[:j+1]
			break
		}
		m.savepoints = m.savepoints[:j]
		if len(m.savepoints) == 0 && m.bySP {
			r.commit(c)
		}
	case diffOpCount, diffOpRange, diffOpIndexed, diffOpHash:
		r.pinRead(c, true)
	case diffOpCheckpoint, diffOpCacheSize:
	case diffOpVacuum:
		r.stats.vacuums++
		r.version++
	default: // writes and schema changes
		if st.op == diffOpInsertBlob || st.op == diffOpUpdateBlob {
			r.stats.bigBlobs++
		}
		// Only a statement that changed something commits something:
		// the model's version must not move otherwise (see exec).
		changed := o.n > 0 || st.ddl()
		if m.inTx {
			r.pinRead(c, false)
			m.wrote = m.wrote || changed
		} else if changed {
			r.version++
			r.stats.commits++
		}
	}
}

// finish compares both databases, closes them, and opens this driver's
// file with stock SQLite, which must see the same data.
func (r *diffRun) finish() {
	r.t.Helper()
	want := r.check("end")
	for _, e := range r.eng {
		if err := e.close(); err != nil {
			r.fail("%v", err)
		}
	}
	db, err := sql.Open("sqlite", "file:"+diffURIPath(r.eng[0].path)+"?_pragma=busy_timeout(0)")
	if err != nil {
		r.fail("stock SQLite: open %s: %v", r.eng[0].path, err)
	}
	defer db.Close()
	got, ic, err := diffDump(r.ctx, db)
	if err != nil {
		r.fail("stock SQLite on this driver's file: %v", err)
	}
	if ic != "ok" {
		r.fail("stock SQLite on this driver's file: integrity_check: %s", ic)
	}
	if !slices.Equal(got, want) {
		r.fail("stock SQLite on this driver's file:\n  libsql file: %s\n  sqlite file: %s",
			strings.Join(got, "\n               "), strings.Join(want, "\n               "))
	}
	r.stats.seqs++
}

// runDiff runs the sequence data drives, at most maxOps steps, with a full
// comparison every 20.
func runDiff(t testing.TB, label string, data []byte, maxOps int, cfg diffConfig, stats *diffStats) {
	t.Helper()
	r := newDiffRun(t, label, data, cfg, stats)
	for i := 1; i <= maxOps && !r.src.done(); i++ {
		r.next()
		if i%20 == 0 {
			r.check("periodic")
		}
	}
	r.finish()
	if os.Getenv("LIBSQL_DIFF_LOG") != "" {
		t.Logf("log of the sequence (%s):\n%s", label, strings.Join(r.log, "\n"))
	}
}

// diffSeedConfig derives a sequence's configuration from its seed: every
// synchronous level, shared page caches small enough to evict, and small
// SQLite caches that spill.
func diffSeedConfig(seed uint64) diffConfig {
	return diffConfig{
		sync:      [...]string{"full", "normal", "off"}[seed%3],
		pageCache: [...]int{16, 64, 4096}[seed/3%3],
		cacheSize: [...]int{-2000, 10, 100}[seed/9%3],
	}
}

// diffSeedBytes returns the bytes that drive the sequence of a seed.
func diffSeedBytes(seed uint64, ops int) []byte {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	b := make([]byte, ops*8)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// TestDifferentialRandom runs seeded random sequences on this driver and
// on stock SQLite in WAL mode and requires them to agree after every
// statement (see the top of this file): the engine's snapshots, writer
// lock, log, checkpoints and page cache must be invisible except where
// README documents a difference. It also requires the workload to have
// produced commits, snapshot reads, busy errors, checkpoints, reopens and
// big blobs, so that it cannot pass without testing them. LIBSQL_SOAK=1
// runs 200 sequences of 500 steps; LIBSQL_DIFF_SEED=n runs seed n alone;
// LIBSQL_DIFF_LOG=1 logs every sequence.
func TestDifferentialRandom(t *testing.T) {
	seqs, ops := 30, 200
	if diffSoak() {
		seqs, ops = 200, 500
	}
	first := uint64(1)
	if s := os.Getenv("LIBSQL_DIFF_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("LIBSQL_DIFF_SEED=%q: %v", s, err)
		}
		first, seqs = n, 1
	}
	start := time.Now()
	var stats diffStats
	for seed := first; seed < first+uint64(seqs); seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			env := ""
			if diffSoak() {
				env = "LIBSQL_SOAK=1 "
			}
			label := fmt.Sprintf("seed %d, %d ops; rerun with %sLIBSQL_DIFF_SEED=%d go test -run TestDifferentialRandom .",
				seed, ops, env, seed)
			runDiff(t, label, diffSeedBytes(seed, ops), ops, diffSeedConfig(seed), &stats)
		})
	}
	t.Logf("%v in %v", &stats, time.Since(start).Round(time.Millisecond))
	if t.Failed() || seqs == 1 {
		return
	}
	for _, c := range []struct {
		what string
		n    int
	}{
		{"commits", stats.commits},
		{"snapshot reads", stats.snapshotReads},
		{"busy errors", stats.busy},
		{"busy_snapshot errors", stats.busySnapshot},
		{"constraint errors", stats.constraint},
		{"checkpoints", stats.checkpoints},
		{"vacuums", stats.vacuums},
		{"reopens", stats.reopens},
		{"big blobs", stats.bigBlobs},
		{"full comparisons", stats.checks},
	} {
		if c.n == 0 {
			t.Errorf("the workload produced no %s: the test would pass vacuously", c.what)
		}
	}
}

// diffSoak reports whether long-running tests are asked for (LIBSQL_SOAK=1).
func diffSoak() bool { return os.Getenv("LIBSQL_SOAK") == "1" }

// FuzzDifferential runs the sequence each input drives (at most 40 steps)
// on this driver and on stock SQLite in WAL mode and requires them to
// agree after every statement, as TestDifferentialRandom does; the first
// input byte chooses the configuration (with sync off: the outcome does
// not depend on it, and an fdatasync per commit would slow fuzzing down).
//
// It is not among the Makefile's FUZZ targets: an execution opens two
// databases and compares them whole, 10–25 ms, and with the coverage
// instrumentation of go test -fuzz (over the whole transpiled SQLite)
// about 40 executions/s on 2 cores, and nearly every input is new
// coverage that the fuzzer then minimizes for up to a minute; 50000
// executions take well over 20 minutes. make soak runs it for 5 minutes;
// on its own:
//
//	go test -run '^$' -fuzz '^FuzzDifferential$' -fuzztime 10m -fuzzminimizetime 10x .
func FuzzDifferential(f *testing.F) {
	for seed := range uint64(4) {
		f.Add(diffSeedBytes(seed, 40))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var stats diffStats
		label := fmt.Sprintf("fuzz input %x", data)
		cfg := diffSeedConfig(0)
		if len(data) > 0 {
			cfg = diffSeedConfig(uint64(data[0]))
			data = data[1:]
		}
		cfg.sync = "off"
		runDiff(t, label, data, 40, cfg, &stats)
	})
}

// diffRegression opens both engines for a regression test, with the schema
// of the random sequences.
func diffRegression(t *testing.T) *diffRun {
	t.Helper()
	var stats diffStats
	r := newDiffRun(t, t.Name(), nil, diffConfig{sync: "normal", pageCache: 4096, cacheSize: -2000}, &stats)
	r.strict = true
	return r
}

// TestDifferentialNoopDDLTakesNoWriterLock checks that a schema statement
// that changes nothing — DROP ... IF EXISTS of a missing object, CREATE
// ... IF NOT EXISTS of an existing one — takes no writer lock, as in stock
// SQLite, whose program for it only reads. (It used to: busy beside a
// writer, and the lock held to the end of its transaction.)
func TestDifferentialNoopDDLTakesNoWriterLock(t *testing.T) {
	r := diffRegression(t)
	// Outside a transaction, beside a writer.
	r.must(diffStep{conn: 0, op: diffOpBeginImmediate, sql: "BEGIN IMMEDIATE"})
	r.exec(diffStep{conn: 1, op: diffOpDropW, sql: "DROP TABLE IF EXISTS nosuch"})
	r.exec(diffStep{conn: 1, op: diffOpCreateW, sql: "CREATE TABLE IF NOT EXISTS t(x)"})
	r.must(diffStep{conn: 0, op: diffOpRollback, sql: "ROLLBACK"})
	// Inside a transaction: it must not hold the writer lock afterwards.
	r.must(diffStep{conn: 1, op: diffOpBegin, sql: "BEGIN"})
	r.exec(diffStep{conn: 1, op: diffOpDropW, sql: "DROP TABLE IF EXISTS nosuch"})
	r.exec(diffStep{conn: 0, op: diffOpBeginImmediate, sql: "BEGIN IMMEDIATE"})
	r.exec(diffStep{conn: 0, op: diffOpRollback, sql: "ROLLBACK"})
	r.exec(diffStep{conn: 1, op: diffOpRollback, sql: "ROLLBACK"})
	// Inside a read transaction whose snapshot another commit made stale:
	// it must not fail with busy_snapshot.
	r.must(diffStep{conn: 1, op: diffOpBegin, sql: "BEGIN"})
	r.must(diffStep{conn: 1, op: diffOpCount, sql: "SELECT count(*) FROM t", query: true})
	r.must(diffStep{conn: 0, op: diffOpInsert, sql: "INSERT INTO t(k, v) VALUES (1, 1)"})
	r.exec(diffStep{conn: 1, op: diffOpDropW, sql: "DROP TABLE IF EXISTS nosuch"})
}

// TestDifferentialRegressionStaleStatementBusy checks that a writing
// statement this driver prepared (and cached) before its connection
// changed the schema, and which now fails as SQLite prepares it again,
// fails as in stock SQLite: with its own error, not with busy beside a
// writer, and without leaving the writer lock held to the end of its
// transaction. (It did both: a cached statement is now prepared again
// when the schema changed since it was compiled.)
func TestDifferentialRegressionStaleStatementBusy(t *testing.T) {
	t.Run("in transaction", func(t *testing.T) {
		r := diffRegression(t)
		r.must(diffStep{conn: 1, op: diffOpCreateIndex, sql: "CREATE INDEX t_b ON t(b)"})
		r.must(diffStep{conn: 1, op: diffOpDropIndex, sql: "DROP INDEX t_b"})
		r.must(diffStep{conn: 1, op: diffOpBegin, sql: "BEGIN"})
		r.exec(diffStep{conn: 1, op: diffOpDropIndex, sql: "DROP INDEX t_b"}) // no such index, on both
		r.exec(diffStep{conn: 2, op: diffOpInsert, sql: "INSERT INTO t(k, v) VALUES (1, 1)"})
	})
	t.Run("beside a writer", func(t *testing.T) {
		r := diffRegression(t)
		r.must(diffStep{conn: 1, op: diffOpCreateIndex, sql: "CREATE INDEX t_b ON t(b)"})
		r.must(diffStep{conn: 1, op: diffOpDropIndex, sql: "DROP INDEX t_b"})
		r.must(diffStep{conn: 0, op: diffOpBeginImmediate, sql: "BEGIN IMMEDIATE"})
		r.exec(diffStep{conn: 1, op: diffOpDropIndex, sql: "DROP INDEX t_b"}) // no such index
	})
}
