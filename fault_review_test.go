package libsql

// Fault review: I/O faults and simulated power losses through the whole
// driver under concurrent use. Several connections of one *sql.DB and of a
// second *sql.DB on the same file run a mixed workload (autocommit writes
// with triggers, explicit transactions, BEGIN CONCURRENT through RetryTx,
// overflow blobs, CREATE/DROP INDEX, VACUUM, every wal_checkpoint mode)
// with cdc=on and a change stream being read, while an iofault.FaultFS
// fails the Nth matching operation, or an iofault.CrashFS loses power at
// the Kth operation. The files live in memory (the VFS's test hook,
// reachable from this package through iouringvfs.Register), so that a
// crash image can be drawn; stock SQLite checks a copy on disk.
//
// What is checked after each run, then after reopening:
//   - every commit acknowledged at sync=full is there, in our engine and in
//     stock SQLite; nothing the test did not attempt is there;
//   - whole transactions: each writes a ledger row, its items and its
//     worker's counter, and moves money between accounts (invariants across
//     four tables), and its blob matches its hash;
//   - PRAGMA integrity_check is ok, ours and stock SQLite's;
//   - the change stream before the crash, resumed from its LSN() after the
//     reopen, holds every committed ledger row exactly once and nothing
//     uncommitted, each transaction whole;
//   - the injected error reached a caller; after a write or sync error the
//     engine refuses commits until reopened; SQLITE_FULL changed nothing;
//   - no panic, no hang (watchdog), no goroutine left after Close.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golibsql/libsql/changefeed"
	iouringvfs "github.com/golibsql/libsql/iouring_vfs"
	"github.com/golibsql/libsql/iouring_vfs/ioback"
	"github.com/golibsql/libsql/iouring_vfs/iofault"
	_ "modernc.org/sqlite"
)

// frSchema is the workload's schema. The triggers make single autocommit
// statements touch several tables: an 'auto' ledger row counts itself in
// wcount, a deleted item uncounts itself from its ledger row.
var frSchema = []string{
	"CREATE TABLE acct(id INTEGER PRIMARY KEY, bal INTEGER NOT NULL)",
	"CREATE TABLE ledger(txid INTEGER PRIMARY KEY, w INTEGER NOT NULL, kind TEXT NOT NULL, n INTEGER NOT NULL, blen INTEGER NOT NULL, bh INTEGER NOT NULL, blob BLOB)",
	"CREATE TABLE items(id INTEGER PRIMARY KEY, txid INTEGER NOT NULL, k INTEGER NOT NULL, v TEXT)",
	"CREATE TABLE wcount(w INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
	"CREATE TRIGGER ledger_auto AFTER INSERT ON ledger WHEN NEW.kind = 'auto' BEGIN UPDATE wcount SET n = n + 1 WHERE w = NEW.w; END",
	"CREATE TRIGGER items_del AFTER DELETE ON items BEGIN UPDATE ledger SET n = n - 1 WHERE txid = OLD.txid; END",
}

const (
	frAccounts = 8
	frBalance  = 1000
)

// frInvariants are queries that must return 0 in every snapshot.
var frInvariants = []string{
	"SELECT count(*) FROM wcount c WHERE c.n != (SELECT count(*) FROM ledger l WHERE l.w = c.w)",
	"SELECT count(*) FROM ledger l WHERE l.n != (SELECT count(*) FROM items i WHERE i.txid = l.txid)",
	"SELECT count(*) FROM items WHERE txid NOT IN (SELECT txid FROM ledger)",
	fmt.Sprintf("SELECT coalesce(sum(bal), 0) - %d FROM acct", frAccounts*frBalance),
	fmt.Sprintf("SELECT %d - count(*) FROM acct", frAccounts),
}

// frTarget is a class of operations a FaultFS run fails.
type frTarget struct {
	name  string
	fault iofault.Fault
	match func(iofault.Op) bool
	// poisons: a failure of this class after the point of no return
	// poisons the engine (README: "a write or sync error after it poisons
	// the engine"); reads and the log's space reservation do not.
	poisons bool
	// any: the class mixes operations; whether the engine must be
	// poisoned afterwards is not checked.
	any bool
	// sticky: every matching operation from the Nth on fails (a dead disk).
	sticky bool
}

func frIsLog(op iofault.Op) bool { return strings.HasSuffix(op.Name, "-wal") }

var frTargets = []frTarget{
	{"log write", iofault.EIO, func(op iofault.Op) bool { return frIsLog(op) && op.Kind == iofault.OpWritevAt }, true, false, false},
	{"log torn write", iofault.TornWrite, func(op iofault.Op) bool { return frIsLog(op) && op.Kind == iofault.OpWritevAt }, true, false, false},
	{"log short write", iofault.ShortWrite, func(op iofault.Op) bool { return frIsLog(op) && op.Kind == iofault.OpWritevAt }, true, false, false},
	{"log sync", iofault.EIO, func(op iofault.Op) bool { return frIsLog(op) && op.Kind == iofault.OpSync }, true, false, false},
	{"db write", iofault.EIO, func(op iofault.Op) bool { return !frIsLog(op) && op.Kind == iofault.OpWritevAt }, true, false, false},
	{"db sync", iofault.EIO, func(op iofault.Op) bool { return !frIsLog(op) && op.Kind == iofault.OpSync }, true, false, false},
	{"db truncate", iofault.EIO, func(op iofault.Op) bool { return op.Kind == iofault.OpTruncate }, true, false, false},
	// The log reserves space by writing zeros ahead (wal.Log.Reserve);
	// the header is the only other WriteAt on the log and is 32 bytes.
	{"log space", iofault.ENOSPC, func(op iofault.Op) bool { return frIsLog(op) && op.Kind == iofault.OpWriteAt && op.Len > 32 }, false, false, false},
	{"log space short", iofault.ShortWrite, func(op iofault.Op) bool { return frIsLog(op) && op.Kind == iofault.OpWriteAt && op.Len > 32 }, false, false, false},
	{"read", iofault.EIO, func(op iofault.Op) bool { return op.Kind == iofault.OpReadAt || op.Kind == iofault.OpReadBatch }, false, false, false},
	{"any operation", iofault.EIO, func(op iofault.Op) bool { return true }, false, true, false},
	{"dead log (sticky)", iofault.EIO, func(op iofault.Op) bool {
		return frIsLog(op) && op.Kind.IsWrite() || frIsLog(op) && op.Kind == iofault.OpSync
	}, true, false, true},
	{"dead disk (sticky)", iofault.EIO, func(op iofault.Op) bool { return true }, false, true, true},
}

// frConfig is one run.
type frConfig struct {
	seed     uint64
	workers1 int // workers on the first *sql.DB
	workers2 int // workers on the second
	steps    int // steps per worker
	// One of:
	target *frTarget // fail the nth matching operation
	n      int
	crashK int // >0: lose power at the crashK-th operation of the workload
	// calibrate: no fault; count the matching operations of each target.
	calibrate bool
}

// frTx is a transaction the test attempted.
type frTx struct {
	txid  int64
	w     int
	kind  string
	items int
	acked bool
	err   error
	// mustBeAbsent: its error says it changed nothing (SQLITE_FULL at the
	// log's space reservation, a commit refused by a poisoned engine).
	mustBeAbsent bool
}

// frRun is the state of one run.
type frRun struct {
	t   testing.TB
	cfg frConfig
	dsn string
	dir string // directory of the database in the in-memory FS

	mu     sync.Mutex
	txs    map[int64]*frTx
	errs   []error // every error a caller saw
	nextTx atomic.Int64
	fired  atomic.Bool // a fault fired / the crash happened
	report []string    // failures
	// the operation the fault failed, and the goroutine that ran it
	firedOp, firedStack string
	allStreamed         map[changefeed.LSN][]changefeed.Change

	// the stream before the crash
	streamMu  sync.Mutex
	streamed  map[changefeed.LSN][]changefeed.Change
	streamLSN changefeed.LSN // resume point: every transaction up to it was delivered whole
	streamErr error
}

func (r *frRun) failf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.report = append(r.report, fmt.Sprintf(format, args...))
}

func (r *frRun) sawErr(err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
}

// frOpErr names the operation an error came from.
type frOpErr struct {
	op  string
	err error
}

func (e *frOpErr) Error() string { return e.op + ": " + e.err.Error() }
func (e *frOpErr) Unwrap() error { return e.err }

// frBlob is the deterministic blob of a transaction and its hash.
func frBlob(txid int64, n int) ([]byte, int64) {
	b := make([]byte, n)
	rng := rand.New(rand.NewPCG(uint64(txid), 77))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	h := fnv.New64a()
	h.Write(b)
	return b, int64(h.Sum64() >> 1)
}

func frBlobHash(b []byte) int64 {
	h := fnv.New64a()
	h.Write(b)
	return int64(h.Sum64() >> 1)
}

// frVFS installs fsys as the file system of every database opened from now.
func frVFS(t testing.TB, fsys ioback.FS) (restore func()) {
	t.Helper()
	v, err := iouringvfs.Register()
	if err != nil {
		t.Fatal(err)
	}
	return v.SetFSForTesting(fsys)
}

var frRunSeq atomic.Int64

func frDSN(dir string) string {
	return "file:" + dir + "/t.db?cdc=on&sync=full&busy_timeout=5s&page_cache=64&_pragma=wal_autocheckpoint(40)"
}

// frOpen opens a *sql.DB on the run's file.
func (r *frRun) open() (*sql.DB, error) {
	db, err := sql.Open("libsql", r.dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	return db, nil
}

// frSetup creates the schema and the accounts.
func frSetup(db *sql.DB, workers int) error {
	for _, s := range frSchema {
		if _, err := db.Exec(s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	for i := 1; i <= frAccounts; i++ {
		if _, err := db.Exec("INSERT INTO acct VALUES (?, ?)", i, frBalance); err != nil {
			return err
		}
	}
	for w := range workers {
		if _, err := db.Exec("INSERT INTO wcount VALUES (?, 0)", w); err != nil {
			return err
		}
	}
	return nil
}

// frWithTimeout runs fn, failing the run with every goroutine's stack if
// it takes longer than d (a hang).
func frWithTimeout(t testing.TB, what string, d time.Duration, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		buf := make([]byte, 4<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("%s did not finish within %v (deadlock?); goroutines:\n%s", what, d, buf)
	}
}

// worker runs the workload of worker w on db.
func (r *frRun) worker(ctx context.Context, db *sql.DB, w int, rng *rand.Rand) {
	for step := 0; step < r.cfg.steps; step++ {
		if ctx.Err() != nil {
			return
		}
		// Once a fault fired, a few more steps show whether the engine
		// refuses them; then stop.
		if r.fired.Load() && rng.IntN(4) == 0 {
			return
		}
		r.step(ctx, db, w, rng)
	}
}

func (r *frRun) newTx(w int, kind string, items int) *frTx {
	tx := &frTx{txid: r.nextTx.Add(1), w: w, kind: kind, items: items}
	r.mu.Lock()
	r.txs[tx.txid] = tx
	r.mu.Unlock()
	return tx
}

func (r *frRun) done(tx *frTx, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		tx.acked = true
		return
	}
	err = &frOpErr{fmt.Sprintf("%s transaction %d", tx.kind, tx.txid), err}
	tx.err = err
	r.errs = append(r.errs, err)
	// SQLITE_FULL from the log's space reservation changes nothing. (A
	// poisoned log's ENOSPC is reported as SQLITE_FULL too, though the
	// commit may have landed: TestFaultReviewFullAfterPointOfNoReturn.)
	var e *Error
	if errors.As(err, &e) && e.Code() == FULL && strings.Contains(err.Error(), "reserve") && !strings.Contains(err.Error(), "poisoned") {
		tx.mustBeAbsent = true
	}
}

func (r *frRun) blobSize(rng *rand.Rand) int {
	switch rng.IntN(4) {
	case 0:
		return 5000 + rng.IntN(15000) // overflow pages
	case 1:
		return 0
	}
	return 10 + rng.IntN(300)
}

// txBody is the body of an explicit or concurrent transaction.
func (r *frRun) txBody(ctx context.Context, tx *sql.Tx, rec *frTx, rng *rand.Rand, blen int) error {
	blob, bh := frBlob(rec.txid, blen)
	if _, err := tx.ExecContext(ctx, "INSERT INTO ledger(txid, w, kind, n, blen, bh, blob) VALUES (?, ?, ?, ?, ?, ?, ?)",
		rec.txid, rec.w, rec.kind, rec.items, blen, bh, blob); err != nil {
		return err
	}
	for k := range rec.items {
		if _, err := tx.ExecContext(ctx, "INSERT INTO items(txid, k, v) VALUES (?, ?, ?)", rec.txid, k, strings.Repeat("x", rng.IntN(200))); err != nil {
			return err
		}
	}
	var got int64
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM ledger WHERE w = ?", rec.w).Scan(&got); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE wcount SET n = n + 1 WHERE w = ?", rec.w); err != nil {
		return err
	}
	a, b := 1+rng.IntN(frAccounts), 1+rng.IntN(frAccounts)
	x := rng.IntN(50)
	if _, err := tx.ExecContext(ctx, "UPDATE acct SET bal = bal - ? WHERE id = ?", x, a); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE acct SET bal = bal + ? WHERE id = ?", x, b); err != nil {
		return err
	}
	return nil
}

func (r *frRun) step(ctx context.Context, db *sql.DB, w int, rng *rand.Rand) {
	r.stepOp(ctx, db, w, rng, rng.IntN(100))
}

// stepOp runs operation p (0-99: the ranges below are the weights).
func (r *frRun) stepOp(ctx context.Context, db *sql.DB, w int, rng *rand.Rand, p int) {
	switch {
	case p < 22: // autocommit insert; the trigger counts it
		rec := r.newTx(w, "auto", 0)
		blen := r.blobSize(rng)
		blob, bh := frBlob(rec.txid, blen)
		_, err := db.ExecContext(ctx, "INSERT INTO ledger(txid, w, kind, n, blen, bh, blob) VALUES (?, ?, 'auto', 0, ?, ?, ?)", rec.txid, w, blen, bh, blob)
		r.done(rec, err)
	case p < 37: // explicit transaction
		rec := r.newTx(w, "tx", rng.IntN(4))
		blen := r.blobSize(rng)
		// Deferred: BEGIN IMMEDIATE fails with cdc=on
		// (TestFaultReviewImmediateWithCDC).
		opts := &sql.TxOptions{}
		err := func() error {
			tx, err := db.BeginTx(ctx, opts)
			if err != nil {
				return err
			}
			if err := r.txBody(ctx, tx, rec, rng, blen); err != nil {
				tx.Rollback()
				return err
			}
			return tx.Commit()
		}()
		r.done(rec, err)
	case p < 57: // BEGIN CONCURRENT through RetryTx
		rec := r.newTx(w, "conc", rng.IntN(4))
		blen := r.blobSize(rng)
		seed := rng.Uint64()
		var err error
		for range 50 {
			err = RetryTx(ctx, db, &sql.TxOptions{Isolation: LevelConcurrent}, func(tx *sql.Tx) error {
				return r.txBody(ctx, tx, rec, rand.New(rand.NewPCG(seed, 1)), blen)
			})
			// After a conflict RetryTx runs the transaction again with
			// BEGIN IMMEDIATE, which fails with cdc=on
			// (TestFaultReviewImmediateWithCDC): start over.
			if err == nil || !strings.Contains(err.Error(), "cannot start a transaction within a transaction") {
				break
			}
		}
		r.done(rec, err)
	case p < 64: // autocommit delete; the trigger uncounts the item
		_, err := db.ExecContext(ctx, "DELETE FROM items WHERE id = (SELECT id FROM items WHERE k = ? ORDER BY id LIMIT 1)", rng.IntN(4))
		if err != nil {
			r.sawErr(&frOpErr{"delete", err})
		}
	case p < 71: // autocommit transfer
		a, b := 1+rng.IntN(frAccounts), 1+rng.IntN(frAccounts)
		_, err := db.ExecContext(ctx, "UPDATE acct SET bal = bal + CASE id WHEN ? THEN -7 ELSE 7 END WHERE id IN (?, ?) AND ? != ?", a, a, b, a, b)
		if err != nil {
			r.sawErr(&frOpErr{"transfer", err})
		}
	case p < 76: // rewrite an existing blob
		var txid int64
		err := db.QueryRowContext(ctx, "SELECT txid FROM ledger WHERE w = ? ORDER BY txid DESC LIMIT 1", w).Scan(&txid)
		if err == nil {
			blen := 3000 + rng.IntN(12000)
			blob, bh := frBlob(txid*1000+int64(blen), blen)
			_, err = db.ExecContext(ctx, "UPDATE ledger SET blen = ?, bh = ?, blob = ? WHERE txid = ?", blen, bh, blob, txid)
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			r.sawErr(&frOpErr{"blob rewrite", err})
		}
	case p < 84: // a read transaction: the invariants hold in every snapshot
		r.checkSnapshot(ctx, db)
	case p < 91:
		mode := []string{"", "(PASSIVE)", "(FULL)", "(RESTART)", "(TRUNCATE)"}[rng.IntN(5)]
		if err := frCheckpoint(ctx, db, mode); err != nil {
			r.sawErr(&frOpErr{"checkpoint", err})
		}
	case p < 96:
		q := fmt.Sprintf("CREATE INDEX IF NOT EXISTS items_k%d ON items(k, txid)", rng.IntN(2))
		if rng.IntN(3) == 0 {
			q = fmt.Sprintf("DROP INDEX IF EXISTS items_k%d", rng.IntN(2))
		}
		if _, err := db.ExecContext(ctx, q); err != nil {
			r.sawErr(&frOpErr{"index", err})
		}
	default:
		// With cdc=on the driver runs VACUUM inside a transaction of its
		// own, which SQLite refuses (TestFaultReviewVacuumWithCDC); the
		// engine's side of VACUUM is run below the driver's wrapping.
		if err := frVacuum(ctx, db); err != nil {
			r.sawErr(&frOpErr{"vacuum", err})
		}
	}
}

// frCheckpoint runs PRAGMA wal_checkpoint with mode on a connection whose
// busy timeout is short for the call: FULL and up hold the writer lock
// while they wait for older snapshots, and a BEGIN CONCURRENT transaction
// committing holds its snapshot while it waits for that lock, so each
// would wait for the other for a whole busy timeout (as in SQLite).
func frCheckpoint(ctx context.Context, db *sql.DB, mode string) error {
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "PRAGMA busy_timeout=20"); err != nil {
		return err
	}
	defer c.ExecContext(ctx, "PRAGMA busy_timeout=5000")
	rows, err := c.QueryContext(ctx, "PRAGMA wal_checkpoint"+mode)
	if err != nil {
		return err
	}
	for rows.Next() {
	}
	err = rows.Err()
	rows.Close()
	return err
}

// frVacuum runs VACUUM on a connection of db, below the driver's cdc=on
// wrapping.
func frVacuum(ctx context.Context, db *sql.DB) error {
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Raw(func(dc any) error {
		cn := dc.(*conn)
		cl, err := cn.enter(ctx)
		if err != nil {
			return err
		}
		defer cn.leave(cl)
		return cn.mapErr(ctx, cn.cc.Exec("VACUUM"))
	})
}

// checkSnapshot checks the invariants in one read transaction.
func (r *frRun) checkSnapshot(ctx context.Context, db *sql.DB) {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		r.sawErr(&frOpErr{"read tx", err})
		return
	}
	defer tx.Rollback()
	for _, q := range frInvariants {
		var n int64
		if err := tx.QueryRowContext(ctx, q).Scan(&n); err != nil {
			r.sawErr(&frOpErr{"read tx", err})
			return
		}
		if n != 0 {
			r.failf("live snapshot: %s = %d, want 0", q, n)
		}
	}
}

// consume reads the stream until it ends, keeping every change by LSN.
func (r *frRun) consume(s *ChangeStream) {
	for {
		ch, err := s.Next(context.Background())
		if err != nil {
			r.streamMu.Lock()
			r.streamErr = err
			r.streamMu.Unlock()
			return
		}
		r.streamMu.Lock()
		r.streamed[ch.LSN] = append(r.streamed[ch.LSN], ch)
		// The resume point, as documented: every transaction up to it was
		// delivered whole (TestFaultReviewStreamLSNMidTransaction).
		r.streamLSN = s.LSN()
		r.streamMu.Unlock()
	}
}

// frCounting is the calibration's count of matching operations per target.
type frCounting struct {
	mu     sync.Mutex
	counts map[string]int
	ops    int
}

// run executes one configuration and returns what failed ("" if nothing).
func frExecute(t testing.TB, cfg frConfig, counting *frCounting) (report []string, firedStack string) {
	r := &frRun{t: t, cfg: cfg, txs: map[int64]*frTx{}, streamed: map[changefeed.LSN][]changefeed.Change{}}
	r.dir = fmt.Sprintf("/faultreview/%d-%d", cfg.seed, frRunSeq.Add(1))
	r.dsn = frDSN(r.dir)
	workers := cfg.workers1 + cfg.workers2

	stderr := frCaptureStderr()
	defer stderr()
	baseGoroutines := runtime.NumGoroutine()

	var cfs *iofault.CrashFS
	var base ioback.FS
	if cfg.crashK > 0 {
		cfs = iofault.NewCrashFS(cfg.seed)
		base = cfs
	} else {
		base = ioback.NewMemFS()
	}
	ffs := iofault.NewFaultFS(base)
	restore := frVFS(t, ffs)
	defer func() { restore() }()

	db1, err := r.open()
	if err != nil {
		t.Fatal(err)
	}
	db2, err := r.open()
	if err != nil {
		t.Fatal(err)
	}
	if err := frSetup(db1, workers); err != nil {
		t.Fatalf("setup: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Open the pools' connections now: a connection opened with cdc=on
	// while commits are in flight may break publication
	// (TestFaultReviewPublishAfterRaiseLSNFloor), which would hide the rest.
	for _, db := range []*sql.DB{db1, db2} {
		var cs []*sql.Conn
		for range 4 {
			c, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			cs = append(cs, c)
		}
		for _, c := range cs {
			c.Close()
		}
	}
	s, err := Changes(ctx, db1, ChangeOptions{})
	if err != nil {
		t.Fatalf("Changes: %v", err)
	}
	startLSN := s.LSN()
	r.streamLSN = startLSN

	// Arm.
	var crashed atomic.Pointer[iofault.CrashFS]
	switch {
	case counting != nil:
		ffs.Arm(iofault.Rule{N: 1 << 40, Match: func(op iofault.Op) bool {
			counting.mu.Lock()
			defer counting.mu.Unlock()
			counting.ops++
			for _, tg := range frTargets {
				if tg.match(op) {
					counting.counts[tg.name]++
				}
			}
			return false
		}})
	case cfg.crashK > 0:
		k := 0
		ffs.Arm(iofault.Rule{N: 1 << 40, Match: func(op iofault.Op) bool {
			k++
			if k == cfg.crashK {
				crashed.Store(cfs.Crash())
				r.fired.Store(true)
			}
			return false
		}})
	case cfg.target != nil:
		tg := cfg.target
		m := 0
		ffs.Arm(iofault.Rule{N: cfg.n, Fault: tg.fault, Seed: cfg.seed, Sticky: tg.sticky, Match: func(op iofault.Op) bool {
			if !tg.match(op) {
				return false
			}
			if m == cfg.n {
				r.firedOp = op.String()
				r.firedStack = string(frStack())
			}
			m++
			return true
		}})
	}

	var consumer sync.WaitGroup
	consumer.Add(1)
	go func() {
		defer consumer.Done()
		r.consume(s)
	}()

	frWithTimeout(t, "the workload", 45*time.Second, func() {
		var wg sync.WaitGroup
		watch := make(chan struct{})
		go func() { // notes that the fault fired, so workers wind down
			for {
				select {
				case <-watch:
					return
				case <-time.After(time.Millisecond):
					if cfg.target != nil && ffs.Fired() {
						r.fired.Store(true)
						return
					}
				}
			}
		}()
		for w := range workers {
			db := db1
			if w >= cfg.workers1 {
				db = db2
			}
			rng := rand.New(rand.NewPCG(cfg.seed, uint64(w)))
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.worker(ctx, db, w, rng)
			}()
		}
		wg.Wait()
		close(watch)
	})
	fired := r.fired.Load() || (cfg.target != nil && ffs.Fired())

	// After a fault: a commit must be refused if the engine is poisoned.
	var probe *frTx
	if fired && cfg.target != nil && !cfg.target.any {
		probe = r.newTx(0, "auto", 0)
		_, perr := db1.ExecContext(ctx, "INSERT INTO ledger(txid, w, kind, n, blen, bh, blob) VALUES (?, 0, 'auto', 0, 0, ?, x'')", probe.txid, frBlobHash(nil))
		r.done(probe, perr)
		if cfg.target.poisons && perr == nil && frSawIOErr(r.errs) {
			r.failf("after %s failed (%v), a commit still succeeded: the engine was not poisoned", cfg.target.name, r.firstInjected())
		}
		if perr != nil && cfg.target.poisons {
			probe.mustBeAbsent = true
			if !strings.Contains(perr.Error(), "I/O") && !strings.Contains(perr.Error(), "poison") {
				r.failf("a poisoned engine's refusal does not say why: %v", perr)
			}
		}
		// A full disk changes nothing (README: "A full disk fails the
		// commit and changes nothing (log space is reserved before the
		// point of no return)"); a failed read poisons only where the
		// engine copies the log (a checkpoint's read of its frames).
		legit := cfg.target.fault == iofault.EIO && strings.Contains(fmt.Sprint(perr), "checkpoint read")
		if !cfg.target.poisons && perr != nil && !legit {
			r.failf("after a %s fault (%v), which must not poison the engine, a commit failed: %v", cfg.target.name, r.firstInjected(), perr)
		}
	}

	// Close everything.
	ffs.Disarm()
	frWithTimeout(t, "closing", 20*time.Second, func() {
		// A power loss may come as late as the closing's own operations
		// (the crash point is drawn from every operation of the
		// calibration run, the final checkpoint's included).
		if err := s.Close(); err != nil && !fired && !r.fired.Load() {
			r.failf("stream Close: %v", err)
		}
		consumer.Wait()
		for i, db := range []*sql.DB{db1, db2} {
			switch err := db.Close(); {
			case err == nil:
			case fired || r.fired.Load():
				r.sawErr(err) // a background checkpoint's error reaches Close at the latest
			default:
				r.failf("db%d.Close: %v", i+1, err)
			}
		}
	})
	r.streamMu.Lock()
	lastLSN := r.streamLSN
	if r.streamErr != nil && !errors.Is(r.streamErr, changefeed.ErrClosed) {
		r.failf("the stream failed before the reopen: %v", r.streamErr)
	}
	r.streamMu.Unlock()

	// Injected errors reach a caller.
	if cfg.target != nil && ffs.Fired() {
		// Reads whose failure only costs an optimization are retried or
		// done without: the background restart that keeps old snapshots'
		// pages (tried again later), the naming of a conflict's table,
		// the keeping of SQLite's page cache.
		benign := false
		for _, f := range []string{"RestartRetaining", "OwnerOf", "SnapshotChanges"} {
			benign = benign || strings.Contains(r.firedStack, f)
		}
		switch {
		case frSawInjected(r.errs):
		case benign:
			t.Logf("run %s: the read error was absorbed by an optimization (%s)", r.dir, r.firedOp)
		default:
			r.failf("the injected %s (%s, n=%d) into %s reached no caller; errors seen: %v; the failed operation ran in:\n%s", cfg.target.fault, cfg.target.name, cfg.n, r.firedOp, frFirst(r.errs, 3), r.firedStack)
		}
	}

	// Every error a caller saw is an I/O error (or the refusal of a
	// poisoned or crashed engine); nothing panicked, and the hub took
	// every transaction (TestFaultReviewPublishAfterRaiseLSNFloor).
	if out := stderr(); strings.Contains(out, "panic") || strings.Contains(out, "not published") {
		r.failf("stderr:\n%s", out)
	}
	if counting != nil {
		for _, e := range r.errs {
			r.failf("calibration run (no fault) saw an error: %v", e)
		}
	}
	for _, e := range r.errs {
		if !frIOish(e) {
			r.failf("unexpected error (not an I/O error): %T %v", e, e)
		}
	}
	if os.Getenv("LIBSQL_FR_DEBUG") != "" {
		for _, e := range r.errs {
			t.Logf("run %s: error: %T %v", r.dir, e, e)
		}
	}

	// Goroutines.
	frWaitGoroutines(r, baseGoroutines)

	// Reopen: after a crash on what survived, else on the same files.
	after := ioback.FS(ffs.Base())
	if cfg.crashK > 0 {
		if c := crashed.Load(); c != nil {
			after = c
		} else {
			after = cfs.Crash()
		}
	}
	restore()
	restore = frVFS(t, after)

	stockTxids := r.checkStock(after)
	ourTxids := r.checkReopened(lastLSN, startLSN)
	if stockTxids != nil && ourTxids != nil && !slices.Equal(stockTxids, ourTxids) {
		r.failf("stock SQLite sees %d ledger rows, our engine %d (first differences: %v)", len(stockTxids), len(ourTxids), frDiff(stockTxids, ourTxids))
	}
	frWaitGoroutines(r, baseGoroutines)
	if len(r.report) > 0 && r.firedOp != "" {
		r.report = append(r.report, "the fault failed "+r.firedOp+" in:\n"+frTrimStack(r.firedStack))
	}
	return r.report, r.firedStack
}

// frTrimStack keeps the function names of a goroutine's stack.
func frTrimStack(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "github.com/") || strings.HasPrefix(l, "database/sql") || strings.HasPrefix(l, "modernc.org/sqlite/lib._") {
			if i := strings.LastIndex(l, "("); i > 0 {
				l = l[:i]
			}
			out = append(out, "  "+l)
		}
	}
	return strings.Join(out, "\n")
}

func (r *frRun) firstInjected() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.errs {
		if iofault.IsInjected(e) {
			return e
		}
	}
	if len(r.errs) > 0 {
		return r.errs[0]
	}
	return nil
}

// frIOish reports whether err is what an I/O fault or a crash may cause.
func frIOish(err error) bool {
	if iofault.IsInjected(err) || errors.Is(err, iofault.ErrCrashed) || strings.Contains(err.Error(), "poisoned") {
		return true
	}
	var le *Error
	if errors.As(err, &le) {
		switch le.Code() {
		case IOERR, FULL, CANTOPEN:
			return true
		}
	}
	return false
}

// frCaptureStderr copies what is written to os.Stderr from now on (the
// VFS reports recovered panics there) and returns a function that returns
// it; the first call stops the copy.
func frCaptureStderr() func() string {
	orig := os.Stderr
	pr, pw, err := os.Pipe()
	if err != nil {
		return func() string { return "" }
	}
	os.Stderr = pw
	var buf strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := make([]byte, 4096)
		for {
			n, err := pr.Read(b)
			if n > 0 {
				buf.Write(b[:n])
				orig.Write(b[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	var once sync.Once
	return func() string {
		once.Do(func() {
			os.Stderr = orig
			pw.Close()
			<-done
			pr.Close()
		})
		return buf.String()
	}
}

func frSawIOErr(errs []error) bool {
	for _, e := range errs {
		var le *Error
		if errors.As(e, &le) && (le.Code() == IOERR || le.Code() == FULL) {
			return true
		}
	}
	return false
}

func frSawInjected(errs []error) bool {
	for _, e := range errs {
		if iofault.IsInjected(e) {
			return true
		}
	}
	return false
}

func frStack() []byte {
	buf := make([]byte, 64<<10)
	return buf[:runtime.Stack(buf, false)]
}

func frFirst(errs []error, n int) []error { return errs[:min(n, len(errs))] }

func frDiff(a, b []int64) []int64 {
	in := map[int64]int{}
	for _, x := range a {
		in[x]++
	}
	for _, x := range b {
		in[x]--
	}
	var d []int64
	for x, n := range in {
		if n != 0 {
			d = append(d, x)
		}
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[:min(len(d), 10)]
}

func frWaitGoroutines(r *frRun, base int) {
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			r.failf("%d goroutines after Close, %d before the run:\n%s", runtime.NumGoroutine(), base, buf)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// frLedgerRow is a ledger row read back.
type frLedgerRow struct {
	txid, w, n, blen, bh int64
	kind                 string
	blob                 []byte
}

// checkData checks the invariants and the acknowledged commits on db and
// returns the ledger's txids.
func (r *frRun) checkData(who string, db *sql.DB) []int64 {
	var ic []string
	rows, err := db.Query("PRAGMA integrity_check")
	if err != nil {
		r.failf("%s: integrity_check: %v", who, err)
		return nil
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		ic = append(ic, s)
	}
	rows.Close()
	if len(ic) != 1 || ic[0] != "ok" {
		r.failf("%s: integrity_check: %s", who, strings.Join(ic, "; "))
	}
	for _, q := range frInvariants {
		var n int64
		if err := db.QueryRow(q).Scan(&n); err != nil {
			r.failf("%s: %s: %v", who, q, err)
		} else if n != 0 {
			r.failf("%s: a transaction is half there: %s = %d, want 0", who, q, n)
		}
	}
	rows, err = db.Query("SELECT txid, w, kind, n, blen, bh, blob FROM ledger ORDER BY txid")
	if err != nil {
		r.failf("%s: %v", who, err)
		return nil
	}
	var txids []int64
	present := map[int64]bool{}
	for rows.Next() {
		var l frLedgerRow
		if err := rows.Scan(&l.txid, &l.w, &l.kind, &l.n, &l.blen, &l.bh, &l.blob); err != nil {
			r.failf("%s: scan: %v", who, err)
			break
		}
		txids = append(txids, l.txid)
		present[l.txid] = true
		if int64(len(l.blob)) != l.blen || frBlobHash(l.blob) != l.bh {
			r.failf("%s: ledger row %d: blob of %d bytes (hash %x), want %d bytes (hash %x)", who, l.txid, len(l.blob), frBlobHash(l.blob), l.blen, l.bh)
		}
		rec := r.txs[l.txid]
		switch {
		case rec == nil:
			r.failf("%s: ledger row %d was never written by the test", who, l.txid)
		case rec.mustBeAbsent:
			r.failf("%s: transaction %d (%s) failed with %v, which means it changed nothing, yet it is in the database", who, l.txid, rec.kind, rec.err)
		case rec.kind != l.kind || int64(rec.w) != l.w:
			r.failf("%s: ledger row %d is (%s, w%d), written as (%s, w%d)", who, l.txid, l.kind, l.w, rec.kind, rec.w)
		}
	}
	if err := rows.Err(); err != nil {
		r.failf("%s: %v", who, err)
	}
	rows.Close()
	for id, rec := range r.txs {
		if rec.acked && !present[id] {
			r.failf("%s: acknowledged transaction %d (%s, worker %d) is lost", who, id, rec.kind, rec.w)
		}
	}
	return txids
}

// checkStock copies the files out of fsys and checks them with stock SQLite.
func (r *frRun) checkStock(fsys ioback.FS) []int64 {
	dir := filepath.Join(r.t.TempDir(), "stock")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.t.Fatal(err)
	}
	for _, suffix := range []string{"", "-wal"} {
		src := r.dir + "/t.db" + suffix
		f, err := fsys.Open(src, 0)
		if err != nil {
			if suffix == "" {
				r.failf("stock: the database file is gone: %v", err)
				return nil
			}
			continue
		}
		size, err := f.Size()
		if err != nil {
			r.t.Fatal(err)
		}
		b := make([]byte, size)
		if size > 0 {
			if _, err := f.ReadAt(b, 0); err != nil {
				r.t.Fatal(err)
			}
		}
		f.Close()
		if err := os.WriteFile(filepath.Join(dir, "t.db"+suffix), b, 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "t.db"))
	if err != nil {
		r.t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	return r.checkData("stock SQLite", db)
}

// checkReopened reopens the database with our driver and checks the data,
// a new commit, and the change stream resumed from lastLSN.
func (r *frRun) checkReopened(lastLSN, startLSN changefeed.LSN) []int64 {
	db, err := r.open()
	if err != nil {
		r.failf("reopen: %v", err)
		return nil
	}
	var txids []int64
	frWithTimeout(r.t, "checking the reopened database", 20*time.Second, func() {
		defer func() {
			if err := db.Close(); err != nil {
				r.failf("reopened db.Close: %v", err)
			}
		}()
		txids = r.checkData("reopened", db)
		r.checkStream(db, lastLSN, startLSN, txids)
		// The reopened engine takes commits.
		if _, err := db.Exec("INSERT INTO acct VALUES (1000, 0)"); err != nil {
			r.failf("a commit after reopening failed: %v", err)
		}
	})
	return txids
}

// checkStream resumes the stream from lastLSN and checks that the changes
// seen before and after are exactly the committed transactions.
func (r *frRun) checkStream(db *sql.DB, lastLSN, startLSN changefeed.LSN, txids []int64) {
	var maxLSN int64
	if err := db.QueryRow("SELECT coalesce(max(lsn), 0) FROM libsql_cdc").Scan(&maxLSN); err != nil {
		r.failf("reopened: max(lsn): %v", err)
		return
	}
	stored := map[changefeed.LSN]bool{}
	rows, err := db.Query("SELECT lsn FROM libsql_cdc WHERE lsn > ?", int64(startLSN))
	if err != nil {
		r.failf("reopened: %v", err)
		return
	}
	for rows.Next() {
		var l int64
		rows.Scan(&l)
		stored[changefeed.LSN(l)] = true
	}
	rows.Close()

	r.streamMu.Lock()
	before := map[changefeed.LSN][]changefeed.Change{}
	for lsn, chs := range r.streamed {
		if lsn <= lastLSN {
			before[lsn] = chs
		}
	}
	r.streamMu.Unlock()
	for lsn := range before {
		if !stored[lsn] {
			r.failf("transaction %v reached the stream before the crash but is not in libsql_cdc after reopening (published before it was durable?)", lsn)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Changes(ctx, db, ChangeOptions{Since: lastLSN})
	if err != nil {
		r.failf("resume the stream from %v: %v", lastLSN, err)
		return
	}
	defer s.Close()
	afterCh := map[changefeed.LSN][]changefeed.Change{}
	for {
		// Up to the newest stored LSN, then until nothing comes for a
		// while (the newest transaction's last changes).
		nctx := ctx
		if s.LSN() >= changefeed.LSN(maxLSN) {
			var c context.CancelFunc
			nctx, c = context.WithTimeout(ctx, 25*time.Millisecond)
			defer c()
		}
		ch, err := s.Next(nctx)
		if err != nil {
			if s.LSN() < changefeed.LSN(maxLSN) {
				r.failf("the stream resumed from %v stopped at %v before the newest stored LSN %v: %v", lastLSN, s.LSN(), changefeed.LSN(maxLSN), err)
			}
			break
		}
		if _, dup := before[ch.LSN]; dup {
			r.failf("transaction %v delivered before the crash and again after resuming from %v", ch.LSN, lastLSN)
		}
		afterCh[ch.LSN] = append(afterCh[ch.LSN], ch)
	}
	// Every ledger row once; each transaction whole.
	seen := map[int64]changefeed.LSN{}
	r.allStreamed = map[changefeed.LSN][]changefeed.Change{}
	for _, set := range []map[changefeed.LSN][]changefeed.Change{before, afterCh} {
		for lsn, chs := range set {
			r.allStreamed[lsn] = chs
		}
	}
	for i, set := range []map[changefeed.LSN][]changefeed.Change{before, afterCh} {
		for lsn, chs := range set {
			r.checkStreamTx([]string{"live stream before the reopen", "stream resumed after the reopen"}[i], lsn, chs, seen)
		}
	}
	for _, id := range txids {
		if _, ok := seen[id]; !ok {
			r.failf("committed ledger row %d never reached a stream (gap; resumed from %v, stream started at %v)", id, lastLSN, startLSN)
		}
	}
	present := map[int64]bool{}
	for _, id := range txids {
		present[id] = true
	}
	for id, lsn := range seen {
		if !present[id] {
			r.failf("ledger row %d reached a stream (LSN %v) but is not committed", id, lsn)
		}
	}
}

// checkStreamTx checks one streamed transaction: indexes 0..n-1 in order,
// a new ledger row's items all in it.
func (r *frRun) checkStreamTx(which string, lsn changefeed.LSN, chs []changefeed.Change, seen map[int64]changefeed.LSN) {
	items := map[int64]int{}
	var ledgers []int64
	want := map[int64]int64{}
	for i, ch := range chs {
		if ch.Index != i {
			r.failf("stream: transaction %v: change %d has index %d", lsn, i, ch.Index)
			return
		}
		switch {
		case ch.Table == "ledger" && ch.Op == changefeed.Insert:
			id := ch.New[0].(int64)
			if prev, dup := seen[id]; dup {
				r.failf("stream: ledger row %d inserted at LSN %v and again at %v", id, prev, lsn)
			}
			seen[id] = lsn
			ledgers = append(ledgers, id)
			want[id] = ch.New[3].(int64)
		case ch.Table == "items" && ch.Op == changefeed.Insert:
			items[ch.New[1].(int64)]++
		}
	}
	for _, id := range ledgers {
		if int64(items[id]) != want[id] {
			kind := "?"
			if rec := r.txs[id]; rec != nil {
				kind = rec.kind
			}
			var desc []string
			for _, ch := range chs {
				desc = append(desc, fmt.Sprintf("%s %v %v", ch.Table, ch.Op, ch.New))
			}
			var elsewhere []string
			for l2, chs2 := range r.allStreamed {
				for _, ch := range chs2 {
					if ch.Table == "items" && ch.Op == changefeed.Insert && ch.New[1].(int64) == id {
						elsewhere = append(elsewhere, fmt.Sprintf("item at LSN %v index %d/%d", l2, ch.Index, len(chs2)))
					}
				}
			}
			r.failf("items of %d found elsewhere: %v", id, elsewhere)
			r.failf("%s: transaction %v (%s) inserts ledger row %d with n=%d but %d of its items; its changes: %s", which, lsn, kind, id, want[id], items[id], strings.Join(desc, "; ")[:min(len(strings.Join(desc, "; ")), 300)])
		}
	}
}

// frSweep runs the calibration and then the fault and crash runs.
func frSweep(t *testing.T, seed uint64, faultRuns, crashRuns int, steps int) {
	counting := &frCounting{counts: map[string]int{}}
	base := frConfig{seed: seed, workers1: 3, workers2: 2, steps: steps}
	cal := base
	cal.calibrate = true
	if rep, _ := frExecute(t, cal, counting); len(rep) > 0 {
		t.Fatalf("seed %d, calibration (no fault):\n%s", seed, strings.Join(rep, "\n"))
	}
	t.Logf("seed %d: calibration: %d operations; matching: %v", seed, counting.ops, counting.counts)
	rng := rand.New(rand.NewPCG(seed, 99))
	for i := range faultRuns {
		tg := &frTargets[(int(seed)+i)%len(frTargets)]
		n := 0
		if c := counting.counts[tg.name]; c > 0 {
			n = rng.IntN(c + c/8 + 1)
		}
		cfg := base
		cfg.seed = seed + uint64(i)*1000
		cfg.target, cfg.n = tg, n
		if rep, _ := frExecute(t, cfg, nil); len(rep) > 0 {
			t.Fatalf("seed %d, fault run %d: %s n=%d (%v), run seed %d:\n%s", seed, i, tg.name, n, tg.fault, cfg.seed, strings.Join(rep, "\n"))
		}
	}
	for i := range crashRuns {
		cfg := base
		cfg.seed = seed + uint64(i)*1000 + 7
		cfg.crashK = 1 + rng.IntN(max(counting.ops, 1))
		if rep, _ := frExecute(t, cfg, nil); len(rep) > 0 {
			t.Fatalf("seed %d, crash run %d: crash at operation %d, run seed %d:\n%s", seed, i, cfg.crashK, cfg.seed, strings.Join(rep, "\n"))
		}
	}
}

func TestFaultReviewDriverSweep(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("LIBSQL_FR_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (LIBSQL_FR_SEED=%d replays the choices; the interleaving is the scheduler's)", seed, seed)
	if soak() {
		for i := range 20 {
			frSweep(t, seed+uint64(i)*7919, 20, 20, 40)
		}
		return
	}
	frSweep(t, seed, len(frTargets), 8, 20)
}

// With cdc=on, BEGIN IMMEDIATE fails: the driver wraps every statement
// that is not read-only in a transaction of its own (exec.go, run and
// cdcWrap) so that durable CDC stores its changes in the same commit, and
// BEGIN IMMEDIATE is not read-only (sqlite3_stmt_readonly), so it runs
// inside the driver's own BEGIN IMMEDIATE. So sql.LevelSerializable,
// _txlock=immediate, and RetryTx's second attempt after a conflict (README:
// "A BEGIN CONCURRENT transaction that conflicted is run again with BEGIN
// IMMEDIATE") all fail with "cannot start a transaction within a
// transaction".
func TestFaultReviewImmediateWithCDC(t *testing.T) {
	db := openTestDB(t, "cdc=on")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 0)")
	ctx := context.Background()

	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
	if err != nil {
		t.Errorf("BeginTx(LevelSerializable) with cdc=on: %v", err)
	} else {
		tx.Rollback()
	}

	// A concurrent transaction that conflicts once: RetryTx runs it again
	// with BEGIN IMMEDIATE.
	attempts := 0
	err = RetryTx(ctx, db, &sql.TxOptions{Isolation: LevelConcurrent}, func(tx *sql.Tx) error {
		attempts++
		var v int64
		if err := tx.QueryRow("SELECT v FROM t WHERE id = 1").Scan(&v); err != nil {
			return err
		}
		if attempts == 1 {
			if _, err := db.Exec("UPDATE t SET v = v + 100 WHERE id = 1"); err != nil {
				return err
			}
		}
		_, err := tx.Exec("UPDATE t SET v = ? WHERE id = 1", v+1)
		return err
	})
	if err != nil {
		t.Errorf("RetryTx after one conflict, with cdc=on (%d attempts): %v", attempts, err)
	}
}

// With cdc=on, VACUUM through Exec fails: the driver runs it in a
// transaction of its own (see TestFaultReviewImmediateWithCDC), where
// SQLite refuses it. With cdc=off it works.
func TestFaultReviewVacuumWithCDC(t *testing.T) {
	db := openTestDB(t, "cdc=on")
	mustExec(t, db, "CREATE TABLE t(x)")
	mustExec(t, db, "INSERT INTO t VALUES (randomblob(10000))")
	mustExec(t, db, "DELETE FROM t")
	if _, err := db.Exec("VACUUM"); err != nil {
		t.Errorf("VACUUM with cdc=on: %v", err)
	}
}

// The race of TestFaultReviewPublishAfterRaiseLSNFloor (package
// iouringvfs) through the public API: writers commit with cdc=on while the
// pool opens new connections (each reads the newest stored LSN and raises
// the engine's LSN floor to it). Once a new connection lands between a
// commit becoming durable and its publication, that commit and every later
// one fail with "SQL logic error" (a panic in Hub.Publish, recovered by the
// VFS callback), though each is committed.
func TestFaultReviewCDCConnectRace(t *testing.T) {
	if !soak() {
		t.Skip("a race, seconds to strike: LIBSQL_SOAK=1 runs it (TestFaultReviewPublishAfterRaiseLSNFloor in iouring_vfs shows it deterministically)")
	}
	db := openTestDB(t, "cdc=on&sync=normal")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY)")
	ctx := context.Background()
	hold, err := db.Conn(ctx) // keeps the engine open while the pool churns
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	db.SetMaxIdleConns(0) // every db.Conn below opens a new connection
	var stop atomic.Bool
	var failed atomic.Pointer[error]
	var acked atomic.Int64
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if _, err := db.Exec("INSERT INTO t VALUES (NULL)"); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
				acked.Add(1)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() && failed.Load() == nil {
			if c, err := db.Conn(ctx); err == nil {
				c.Close()
			}
		}
	}()
	deadline := time.Now().Add(frRaceDuration)
	for time.Now().Before(deadline) && failed.Load() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if p := failed.Load(); p != nil {
		var n int64
		db.QueryRow("SELECT count(*) FROM t").Scan(&n)
		t.Errorf("an autocommit insert failed while connections were opened: %v (%d acknowledged, %d rows in the table)", *p, acked.Load(), n)
	}
}

// frRaceDuration bounds TestFaultReviewCDCConnectRace (LIBSQL_FR_RACE
// overrides it).
var frRaceDuration = func() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("LIBSQL_FR_RACE")); err == nil {
		return d
	}
	return 20 * time.Second
}()

// A stream's LSN() is the resume point (README): "every transaction with
// LSN up to it was delivered in full" (changefeed.Stream.LSN). A consumer
// that stops between two changes of one transaction and resumes from
// LSN() gets the rest of that transaction. (Guards Stream.take, which
// must move the position only after a transaction's last change; the
// sweep's stream check relies on it.)
func TestFaultReviewStreamLSNMidTransaction(t *testing.T) {
	db := openTestDB(t, "cdc=on")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY)")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := Changes(ctx, db, ChangeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	before := s.LSN()
	mustExec(t, db, "BEGIN; INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); COMMIT")
	first, err := s.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	resume := s.LSN()
	s.Close() // the consumer stops after the first change of the transaction
	if resume != before {
		t.Errorf("after change %d of a 2-change transaction, LSN() = %v, the transaction's LSN; want %v (the transaction is not delivered in full)", first.Index, resume, before)
	}
	s2, err := Changes(ctx, db, ChangeOptions{Since: resume})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	short, cancel2 := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel2()
	var rows []any
	for {
		ch, err := s2.Next(short)
		if err != nil {
			break
		}
		rows = append(rows, ch.New[0])
	}
	if len(rows) == 0 {
		t.Errorf("resumed from LSN() = %v after the first change of transaction %v: row 2 is never delivered (gap)", resume, first.LSN)
	}
}

// When a connection takes a new snapshot, the engine reports the pages
// changed since the snapshot its SQLite page cache was filled from
// (iouringvfs.File.SnapshotChanges), and the driver drops only those
// (internal/capi keepCache). When the engine cannot tell (here: the log
// restarted since), SnapshotChanges returns ok=false and counts on SQLite
// to reset the whole cache once it reads the database's change counter.
// But SnapshotChanges has already recorded the new snapshot as the one
// the cache holds (cacheSnap, cacheKnown). If SQLite's read of the change
// counter then fails (an I/O error), SQLite does not reset its cache, and
// at the next snapshot the engine reports only the pages changed since
// the new snapshot: SQLite keeps, as current, pages another connection
// changed in between. The connection reads stale rows, and writes built
// on them corrupt the database or undo acknowledged commits.
func TestFaultReviewStaleCacheAfterFailedCounterRead(t *testing.T) {
	ffs := iofault.NewFaultFS(ioback.NewMemFS())
	restore := frVFS(t, ffs)
	defer restore()
	dsn := "file:/faultreview/stale/t.db?page_cache=0"
	a, err := sql.Open("libsql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.SetMaxOpenConns(1)
	b, err := sql.Open("libsql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.SetMaxOpenConns(1)
	mustExec(t, b, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	mustExec(t, b, "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 40) INSERT INTO t SELECT i, 'old' || printf('%0400d', 0) FROM s")

	read := func(db *sql.DB) (string, error) {
		var v string
		err := db.QueryRow("SELECT substr(v, 1, 3) FROM t WHERE id = 30").Scan(&v)
		return v, err
	}
	if v, err := read(a); err != nil || v != "old" { // fills a's SQLite cache
		t.Fatalf("a: %q, %v", v, err)
	}
	mustExec(t, b, "UPDATE t SET v = 'new' || substr(v, 4) WHERE id = 30")
	mustExec(t, b, "PRAGMA wal_checkpoint(TRUNCATE)") // the log forgets a's snapshot

	// a's next snapshot: SQLite's read of the change counter (page 1 of
	// the main file) fails once.
	ffs.FailMatching(0, func(op iofault.Op) bool {
		return op.Kind == iofault.OpReadAt && strings.HasSuffix(op.Name, "t.db") && op.Off == 0
	}, iofault.EIO)
	_, err = read(a)
	ffs.Disarm()
	if !ffs.Fired() {
		t.Fatal("the fault did not fire")
	}
	if err == nil {
		t.Fatal("the failed read reached no caller")
	}
	t.Logf("a's read failed as injected: %v", err)

	if v, err := read(a); err != nil || v != "new" {
		t.Errorf("after a failed read, connection a reads row 30 as %q (%v); b committed %q before", v, err, "new")
	}
	// A write on a's stale cache: b's update is undone or the file breaks.
	if _, err := a.Exec("UPDATE t SET v = v || 'x' WHERE id BETWEEN 25 AND 35"); err != nil {
		t.Logf("a's update: %v", err)
	}
	var ic string
	b.QueryRow("PRAGMA integrity_check").Scan(&ic)
	if v, _ := read(b); v != "new" || ic != "ok" {
		t.Errorf("after a's update: b reads row 30 as %q (b's acknowledged update lost?), integrity_check: %s", v, ic)
	}
}

// An I/O error while a connection opens its database reaches the caller
// with its cause (README: "Unwrap returns the Go error behind an SQLite
// error raised in Go code SQLite called: the storage engine's I/O error").
// Before bb5cd8c ("open errors carry their cause") it was only "unable to
// open database file (SQLITE_CANTOPEN)", which this test caught; after a
// crash every new connection failed that way without saying why.
func TestFaultReviewOpenErrorCause(t *testing.T) {
	ffs := iofault.NewFaultFS(ioback.NewMemFS())
	restore := frVFS(t, ffs)
	defer restore()
	ffs.FailMatching(0, func(op iofault.Op) bool { return op.Kind == iofault.OpOpen }, iofault.EIO)
	db, err := sql.Open("libsql", "file:/faultreview/open/t.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Ping()
	if !ffs.Fired() {
		t.Fatal("the fault did not fire")
	}
	if err == nil {
		t.Fatal("the failed open reached no caller")
	}
	if !iofault.IsInjected(err) || !strings.Contains(err.Error(), "input/output error") {
		t.Errorf("opening failed with %q (%T): the I/O error behind it is neither in the message nor behind Unwrap", err, err)
	}
}

// After a failed fdatasync of the log, the engine is poisoned: every later
// commit, on any connection of either *sql.DB on the file, fails with an
// error that says so, nothing refused is in the database after reopening,
// both DBs and a stream close without hanging or leaking goroutines, and
// the file reopens in the same process with the acknowledged commits.
func TestFaultReviewPoisonedEngine(t *testing.T) {
	ffs := iofault.NewFaultFS(ioback.NewMemFS())
	restore := frVFS(t, ffs)
	defer restore()
	base := runtime.NumGoroutine()
	dsn := "file:/faultreview/poison/t.db?cdc=on&sync=full"
	open := func() *sql.DB {
		db, err := sql.Open("libsql", dsn)
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(2)
		return db
	}
	db1, db2 := open(), open()
	mustExec(t, db1, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	for i := 1; i <= 5; i++ {
		mustExec(t, db2, "INSERT INTO t VALUES (?, 'acked')", i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Changes(ctx, db1, ChangeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ffs.FailMatching(0, func(op iofault.Op) bool { return op.Kind == iofault.OpSync && strings.HasSuffix(op.Name, "-wal") }, iofault.EIO)
	_, err = db1.Exec("INSERT INTO t VALUES (6, 'sync failed')")
	if !ffs.Fired() || !iofault.IsInjected(err) {
		t.Fatalf("the commit whose fdatasync failed returned %v (fired %v)", err, ffs.Fired())
	}
	ffs.Disarm()
	refused := 0
	for i, db := range []*sql.DB{db1, db2, db1, db2} {
		_, err := db.Exec("INSERT INTO t VALUES (?, 'refused')", 100+i)
		if err == nil {
			t.Errorf("commit %d after the engine was poisoned succeeded", i)
			continue
		}
		refused++
		if !strings.Contains(err.Error(), "poisoned") || !iofault.IsInjected(err) {
			t.Errorf("a poisoned engine refused a commit with %q: it should say why (the log is poisoned by the injected error)", err)
		}
	}
	tx, err := db2.BeginTx(ctx, &sql.TxOptions{Isolation: LevelConcurrent})
	if err == nil {
		_, err = tx.Exec("INSERT INTO t VALUES (200, 'refused')")
		if err == nil {
			err = tx.Commit()
		} else {
			tx.Rollback()
		}
	}
	if err == nil {
		t.Error("a BEGIN CONCURRENT transaction committed on a poisoned engine")
	}
	frWithTimeout(t, "closing a poisoned database", 10*time.Second, func() {
		s.Close()
		db1.Close()
		db2.Close()
	})
	r := &frRun{t: t}
	frWaitGoroutines(r, base)
	for _, f := range r.report {
		t.Error(f)
	}
	db := open()
	defer db.Close()
	var n, bad int64
	var ic string
	if err := db.QueryRow("SELECT count(*), count(*) FILTER (WHERE v = 'refused') FROM t").Scan(&n, &bad); err != nil {
		t.Fatalf("reopened in the same process: %v", err)
	}
	db.QueryRow("PRAGMA integrity_check").Scan(&ic)
	if n < 5 || n > 6 || bad != 0 || ic != "ok" {
		t.Errorf("reopened: %d rows (want the 5 acknowledged, maybe the one whose sync failed), %d refused ones, integrity_check %s", n, bad, ic)
	}
	if _, err := db.Exec("INSERT INTO t VALUES (300, 'after reopen')"); err != nil {
		t.Errorf("a commit after reopening: %v", err)
	}
}

// A background checkpoint whose write to the main file fails poisons the
// engine, as it must; but if no statement runs after it, nobody ever
// hears of the error: db.Close returns nil (the engine skips its final
// checkpoint and closes the poisoned log without an error). A program
// that writes, then closes, is told everything went well while its disk
// failed. (The data is safe: the log still holds every commit.)
func TestFaultReviewBackgroundCheckpointErrorReported(t *testing.T) {
	ffs := iofault.NewFaultFS(ioback.NewMemFS())
	restore := frVFS(t, ffs)
	defer restore()
	db, err := sql.Open("libsql", "file:/faultreview/bgckpt/t.db?_pragma=wal_autocheckpoint(1)")
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "CREATE TABLE t(x)")
	ffs.FailMatching(0, func(op iofault.Op) bool {
		return op.Kind == iofault.OpWritevAt && strings.HasSuffix(op.Name, "t.db")
	}, iofault.EIO)
	mustExec(t, db, "INSERT INTO t VALUES (1)") // the commit is durable; the checkpoint after it fails
	deadline := time.Now().Add(5 * time.Second)
	for !ffs.Fired() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if !ffs.Fired() {
		t.Fatal("the background checkpoint did not run")
	}
	time.Sleep(20 * time.Millisecond)
	ffs.Disarm()
	if err := db.Close(); err == nil {
		t.Error("the background checkpoint's I/O error poisoned the engine, but db.Close returned nil: the error reached no caller")
	} else {
		t.Logf("db.Close: %v", err)
	}
}
