package libsql

// Review of context cancellation, deadlines and interrupts. The tests named
// TestCancelReview* guard behaviour that held, or (the ones whose comment
// starts with "Fixed") a defect the review found, which failed them before
// its fix.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	iouringvfs "github.com/golibsql/libsql/iouring_vfs"
	"github.com/golibsql/libsql/iouring_vfs/ioback"
	_ "modernc.org/sqlite"
)

// crHeavy runs well over 1000 virtual-machine steps (the progress
// handler's period), so a raised cancel flag stops it.
const crHeavy = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c LIMIT 20000) SELECT count(*) FROM c"

// crCount returns count(*) of a query on db.
func crCount(t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// crHookFS is a file system whose log Sync first runs a hook: a test ends a
// context there, while a commit waits to become durable.
type crHookFS struct {
	ioback.FS
	hook atomic.Pointer[func()]
}

type crHookFile struct {
	ioback.File
	fs *crHookFS
}

func (fs *crHookFS) Open(name string, flag ioback.OpenFlag) (ioback.File, error) {
	f, err := fs.FS.Open(name, flag)
	if err != nil || !strings.HasSuffix(name, "-wal") {
		return f, err
	}
	return &crHookFile{File: f, fs: fs}, nil
}

func (f *crHookFile) Sync() error {
	if h := f.fs.hook.Load(); h != nil {
		(*h)()
	}
	return f.File.Sync()
}

// crOpenHooked opens a database whose log syncs go through a crHookFS.
func crOpenHooked(t *testing.T, query string) (*sql.DB, *crHookFS) {
	t.Helper()
	v, err := iouringvfs.Register()
	if err != nil {
		t.Fatal(err)
	}
	fs := &crHookFS{FS: ioback.Portable()}
	t.Cleanup(v.SetFSForTesting(fs))
	return openTestDSN(t, "file:"+filepath.ToSlash(filepath.Join(t.TempDir(), "hook.db"))+"?"+query), fs
}

// crCancelDuringSync makes the log syncs, until cleared, end the context of
// cancel and give its watch time to fire before the sync itself: the
// context ends while the commit waits for its fdatasync, after the commit
// point.
func crCancelDuringSync(fs *crHookFS, cancel context.CancelFunc) {
	h := func() {
		cancel()
		time.Sleep(time.Millisecond)
	}
	fs.hook.Store(&h)
}

// Fixed: an autocommit INSERT whose context ends while its commit waits for
// the log's fdatasync is committed, but ExecContext returns
// context.Canceled for one call in about 80 (deterministically: whenever
// the cached statement's cumulative VM-step count crosses a multiple of the
// progress handler's 1000-step period during that call). SQLite checks the
// progress handler once more at vdbe_return, after OP_Halt has committed;
// the raised cancel flag turns the finished statement into SQLITE_INTERRUPT
// and mapErr into ctx.Err(). The other identical calls return nil.
func TestCancelReviewExecCommittedButReportsCanceled(t *testing.T) {
	db, fs := crOpenHooked(t, "sync=full&busy_timeout=5s")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY)")
	ctx := context.Background()
	conn := dbConn(t, db)
	for id := 1; id <= 150; id++ {
		cctx, cancel := context.WithCancel(ctx)
		crCancelDuringSync(fs, cancel)
		_, err := conn.ExecContext(cctx, "INSERT INTO t(id) VALUES (?)", id)
		fs.hook.Store(nil)
		cancel()
		if n := crCount(t, db, "SELECT count(*) FROM t WHERE id = ?", id); (err == nil) != (n == 1) {
			t.Fatalf("INSERT %d: ExecContext returned %v, but the row is %s", id, err, map[bool]string{true: "committed", false: "absent"}[n == 1])
		}
	}
}

// Fixed: the same for an explicit COMMIT run with ExecContext on a *sql.Conn
// (and with durable CDC): COMMIT returns context.Canceled, the
// transaction is committed, and a ROLLBACK after it says "no transaction
// is active". A caller that retries the "failed" transaction writes it
// twice. The COMMIT statement takes one VM step per run, so the test first
// runs it (failing, outside a transaction) to bring its step count near a
// multiple of 1000.
func TestCancelReviewSQLCommitCommittedButReportsCanceled(t *testing.T) {
	for _, q := range []string{"sync=full", "sync=full&cdc=on"} {
		t.Run(q, func(t *testing.T) {
			db, fs := crOpenHooked(t, q+"&busy_timeout=5s")
			mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY)")
			ctx := context.Background()
			conn := dbConn(t, db)
			for range 950 {
				conn.ExecContext(ctx, "COMMIT") // no transaction: fails at once
			}
			for id := 1; id <= 150; id++ {
				if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
					t.Fatal(err)
				}
				if _, err := conn.ExecContext(ctx, "INSERT INTO t(id) VALUES (?)", id); err != nil {
					t.Fatal(err)
				}
				cctx, cancel := context.WithCancel(ctx)
				crCancelDuringSync(fs, cancel)
				_, err := conn.ExecContext(cctx, "COMMIT")
				fs.hook.Store(nil)
				cancel()
				var rerr error
				if err != nil {
					_, rerr = conn.ExecContext(ctx, "ROLLBACK")
				}
				if n := crCount(t, db, "SELECT count(*) FROM t WHERE id = ?", id); (err == nil) != (n == 1) {
					t.Fatalf("transaction %d: COMMIT returned %v (ROLLBACK after it: %v), but its row is %s", id, err, rerr, map[bool]string{true: "committed", false: "absent"}[n == 1])
				}
			}
		})
	}
}

// Fixed: with the native API, rows whose context ended but that are not
// closed yet leave the connection's cancel flag raised: every later
// statement on the Conn, under a context that is alive, fails with
// "libsql: interrupted (SQLITE_INTERRUPT)" (not a context error), even a
// one-row INSERT, until the rows are closed. The rows' watch (rows.w,
// armed in conn.query) fired, raising the connection-wide counter c.intr
// and sqlite3_interrupt; only rows.Close stops it. The Conn is documented
// to stay usable after a context ends.
func TestCancelReviewNativeRowsContextPoisonsConn(t *testing.T) {
	_, c := openNativeConn(t, "")
	mustNativeExec(t, c, "CREATE TABLE t(x)")
	mustNativeExec(t, c, "INSERT INTO t VALUES (1), (2), (3)")
	ctx1, cancel1 := context.WithCancel(context.Background())
	rows, err := c.Query(ctx1, "SELECT x FROM t")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cancel1()
	time.Sleep(20 * time.Millisecond) // the watch fires on a goroutine of the context package
	ctx := context.Background()
	if _, err := c.Exec(ctx, "INSERT INTO t VALUES (4)"); err != nil {
		t.Errorf("INSERT under a live context, after another query's context ended: %v", err)
	}
	var n int64
	if err := c.QueryRow(ctx, crHeavy).Scan(&n); err != nil || n != 20000 {
		t.Errorf("long query under a live context: %d, %v", n, err)
	}
}

// Fixed: PRAGMA wal_checkpoint(TRUNCATE) waiting for an old snapshot ends
// when its context does, but returns the row (1, log, checkpointed) with a
// nil error, where the README says the call returns the context's error,
// and modernc.org/sqlite's driver returns context.DeadlineExceeded.
// iouring_vfs/engine.go checkpoint returns (res, nil) on <-ctx.Done() and
// {Busy: true}, nil when the writer-lock wait ends with the context.
func TestCancelReviewCheckpointCancelReturnsContextError(t *testing.T) {
	for _, drv := range []string{"sqlite", DriverName} {
		t.Run(drv, func(t *testing.T) {
			path := filepath.ToSlash(filepath.Join(t.TempDir(), "ck.db"))
			dsn := "file:" + path + "?_pragma=journal_mode(wal)&_pragma=busy_timeout(10000)"
			if drv == DriverName {
				dsn = "file:" + path + "?busy_timeout=10s"
			}
			db, err := sql.Open(drv, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			mustExec(t, db, "CREATE TABLE t(x)")
			mustExec(t, db, "INSERT INTO t VALUES (1)")
			ctx := context.Background()
			reader := dbConn(t, db)
			tx, err := reader.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			var n int
			if err := tx.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil {
				t.Fatal(err)
			}
			mustExec(t, db, "INSERT INTO t VALUES (2)") // the reader's snapshot is now old
			tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			var busy, log, ckpt int
			start := time.Now()
			err = db.QueryRowContext(tctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &log, &ckpt)
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("the checkpoint waited %v past its 100ms deadline", el)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("wal_checkpoint(TRUNCATE) cut short by its deadline: err = %v (row %d|%d|%d), want context.DeadlineExceeded", err, busy, log, ckpt)
			}
		})
	}
}

// Fixed: a BEGIN CONCURRENT transaction committed with SQL (ExecContext
// "COMMIT") whose context ends while it waits for the writer lock fails
// with context.DeadlineExceeded, as it should, but is not rolled back: the
// driver forgets it (conn.conc = nil) while SQLite stays inside it. The
// connection keeps reading its old snapshot, later statements run inside
// the forgotten transaction and report success, and the next COMMIT fails
// with "disk I/O error: commit to ... without the writer lock". Root
// cause: endConcurrent's ROLLBACK goes through execInternal(ctx, ...),
// whose enter refuses the ended context, so nothing is rolled back.
func TestCancelReviewConcurrentCommitCancelLeavesTxOpen(t *testing.T) {
	db := openTestDB(t, "busy_timeout=5s")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY)")
	ctx := context.Background()
	sc := dbConn(t, db)
	holder := dbConn(t, db)
	if _, err := sc.ExecContext(ctx, "BEGIN CONCURRENT"); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.ExecContext(ctx, "INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err := sc.ExecContext(tctx, "COMMIT")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("COMMIT cut short while waiting for the writer lock: %v, want context.DeadlineExceeded", err)
	}
	if _, err := holder.ExecContext(ctx, "INSERT INTO t VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	// The failed COMMIT ended the transaction: the connection is in
	// autocommit mode, sees the newest data, and its next write commits.
	var n int
	if err := sc.QueryRowContext(ctx, "SELECT count(*) FROM t WHERE id = 2").Scan(&n); err != nil || n != 1 {
		t.Errorf("after the failed COMMIT the connection does not see the row committed since (count %d, %v): it is still inside the old transaction", n, err)
	}
	if _, err := sc.ExecContext(ctx, "INSERT INTO t VALUES (3)"); err != nil {
		t.Errorf("INSERT after the failed COMMIT: %v", err)
	}
	if n := crCount(t, db, "SELECT count(*) FROM t WHERE id = 3"); n != 1 {
		_, cerr := sc.ExecContext(ctx, "COMMIT")
		t.Errorf("an autocommit INSERT that returned nil is not visible to other connections; a COMMIT after it says: %v", cerr)
	}
	sc.ExecContext(ctx, "ROLLBACK")
}

// crRebaseSetup begins on sc a BEGIN CONCURRENT transaction of rows
// inserts into t that another connection's commit makes stale in a way
// that needs a rebase (both extend the file).
func crRebaseSetup(t *testing.T, db *sql.DB, sc *sql.Conn, rows int) {
	t.Helper()
	ctx := context.Background()
	if _, err := sc.ExecContext(ctx, "DELETE FROM t"); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.ExecContext(ctx, "BEGIN CONCURRENT"); err != nil {
		t.Fatal(err)
	}
	q := fmt.Sprintf("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c LIMIT %d) INSERT INTO t SELECT x, randomblob(100) FROM c", rows)
	if _, err := sc.ExecContext(ctx, q); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "INSERT INTO u(v) VALUES (randomblob(5000))")
}

// Fixed: a COMMIT (ExecContext) of a BEGIN CONCURRENT transaction whose
// context ends while the driver replays its changes on the newest version
// (the rebase) fails with "libsql: interrupted (SQLITE_INTERRUPT)", which
// does not match context.Canceled: rebase returns convertError(err) (and
// replayOne steps without mapErr) instead of c.mapErr(ctx, err).
func TestCancelReviewRebaseCancelErrorIsNotContextError(t *testing.T) {
	db := openTestDB(t, "busy_timeout=5s")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v)")
	mustExec(t, db, "CREATE TABLE u(id INTEGER PRIMARY KEY, v)")
	ctx := context.Background()
	sc := dbConn(t, db)
	const rows = 8000
	crRebaseSetup(t, db, sc, rows)
	start := time.Now()
	if _, err := sc.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	full := time.Since(start)
	for _, frac := range []float64{0.5, 0.7, 0.9} {
		crRebaseSetup(t, db, sc, rows)
		cctx, cancel := context.WithCancel(ctx)
		timer := time.AfterFunc(time.Duration(frac*float64(full)), cancel)
		_, err := sc.ExecContext(cctx, "COMMIT")
		timer.Stop()
		cancel()
		sc.ExecContext(ctx, "ROLLBACK") // see TestCancelReviewConcurrentCommitCancelLeavesTxOpen
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("COMMIT cancelled at %.0f%% of a rebase (%v): err = %v, want context.Canceled", 100*frac, full, err)
		}
	}
}

// Fixed (was silent wrong data): a BeginTx(ctx, LevelConcurrent) whose context
// ends while BEGIN CONCURRENT reads the schema facts (schemaFacts, which
// dominates the call on a schema of a few hundred tables) caches the
// interrupted query's defaults as valid facts for the schema cookie:
// triggers=false, seqRoot=0, shadows=nil. BeginTx even returns nil. Every
// later BEGIN CONCURRENT transaction on that connection that is rebased
// then replays its changes with triggers ON: a trigger's effect, already
// among the captured changes, happens twice. (By the code, seqRoot=0 skips
// the AUTOINCREMENT checks, shadows=nil lets a transaction that wrote an
// FTS5 table be rebased, losing its index writes.)
func TestCancelReviewBeginConcurrentCancelCorruptsRebase(t *testing.T) {
	db := openTestDB(t, "busy_timeout=5s")
	ctx := context.Background()
	var sb strings.Builder
	for i := range 400 {
		fmt.Fprintf(&sb, "CREATE TABLE d%d(a INTEGER PRIMARY KEY, b);", i)
	}
	mustExec(t, db, sb.String())
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v)")
	mustExec(t, db, "CREATE TABLE u(id INTEGER PRIMARY KEY, v)")
	mustExec(t, db, "CREATE TABLE tlog(id INTEGER PRIMARY KEY, msg)")
	mustExec(t, db, "CREATE TRIGGER tr BEFORE INSERT ON t BEGIN INSERT INTO tlog(msg) VALUES ('logged'); END")
	sc := dbConn(t, db)
	other := dbConn(t, db)
	for attempt, d := range []time.Duration{500 * time.Microsecond, 200 * time.Microsecond, time.Millisecond, 2 * time.Millisecond} {
		// A new schema cookie, which sc loads: its next BEGIN CONCURRENT
		// reads the facts.
		mustExec(t, db, fmt.Sprintf("CREATE TABLE bump%d(x)", attempt))
		var n int
		if err := sc.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM bump%d", attempt)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithTimeout(ctx, d)
		if tx, err := sc.BeginTx(cctx, &sql.TxOptions{Isolation: LevelConcurrent}); err == nil {
			tx.Rollback()
		}
		cancel()
		// Two concurrent transactions, each made stale by another commit
		// that extends the file: the first merges or rebases, the second
		// rebases.
		for range 2 {
			if _, err := sc.ExecContext(ctx, "BEGIN CONCURRENT"); err != nil {
				t.Fatal(err)
			}
			if _, err := sc.ExecContext(ctx, "INSERT INTO t(v) VALUES (randomblob(3000))"); err != nil {
				t.Fatal(err)
			}
			if _, err := other.ExecContext(ctx, "INSERT INTO u(v) VALUES (randomblob(3000))"); err != nil {
				t.Fatal(err)
			}
			if _, err := sc.ExecContext(ctx, "COMMIT"); err != nil {
				t.Fatal(err)
			}
		}
		nt, nl := crCount(t, db, "SELECT count(*) FROM t"), crCount(t, db, "SELECT count(*) FROM tlog")
		if nt != nl {
			t.Fatalf("after a BeginTx cut short by a %v deadline: %d rows in t but %d in tlog (its BEFORE INSERT trigger logs one row per insert): the rebase ran the trigger again", d, nt, nl)
		}
	}
}

// Guard: after a statement interrupted by its context, a long statement
// (more than the progress handler's 1000 steps) under a cancellable
// context that stays alive runs to the end. Fails if Watch.Stop does not
// lower the connection's cancel counter.
func TestCancelReviewLongStatementAfterInterrupt(t *testing.T) {
	db := openTestDB(t, "")
	ctx := context.Background()
	conn := dbConn(t, db)
	for range 3 {
		tctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		_, err := conn.ExecContext(tctx, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c")
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("endless query: %v", err)
		}
		live, cancel := context.WithCancel(ctx)
		var n int
		err = conn.QueryRowContext(live, crHeavy).Scan(&n)
		cancel()
		if err != nil || n != 20000 {
			t.Fatalf("long query after the interrupted one: %d, %v", n, err)
		}
	}
}

// Guard: a wait for the writer lock cut short by the context (an
// autocommit write, BEGIN IMMEDIATE through BeginTx, a deferred
// transaction's first write) fails with the context's error, leaves no
// waiter behind in the lock's queue and the connections usable: once the
// holder commits, a writer that does not wait at all gets the lock. Fails
// if writerLock.acquire keeps a waiter that gave up in the queue.
func TestCancelReviewWriterWaitCancelFreesLock(t *testing.T) {
	db := openTestDB(t, "busy_timeout=10s")
	mustExec(t, db, "CREATE TABLE t(x)")
	ctx := context.Background()
	holder := dbConn(t, db)
	a := dbConn(t, db)
	if _, err := holder.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	wait := func(what string, f func(context.Context) error) {
		t.Helper()
		tctx, cancel := context.WithTimeout(ctx, 40*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := f(tctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v, want context.DeadlineExceeded", what, err)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("%s: waited %v", what, el)
		}
	}
	wait("autocommit INSERT", func(c context.Context) error {
		_, err := a.ExecContext(c, "INSERT INTO t VALUES (1)")
		return err
	})
	wait("BeginTx(LevelSerializable)", func(c context.Context) error {
		tx, err := a.BeginTx(c, &sql.TxOptions{Isolation: sql.LevelSerializable})
		if err == nil {
			tx.Rollback()
		}
		return err
	})
	if _, err := a.ExecContext(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := a.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	wait("deferred transaction's first write", func(c context.Context) error {
		_, err := a.ExecContext(c, "INSERT INTO t VALUES (2)")
		return err
	})
	if err := a.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Errorf("the transaction after its write was cut short: %v", err)
	}
	if _, err := a.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Errorf("ROLLBACK: %v", err)
	}
	if _, err := holder.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ExecContext(ctx, "PRAGMA busy_timeout=0"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ExecContext(ctx, "INSERT INTO t VALUES (3)"); err != nil {
		t.Errorf("a writer that does not wait, after the waits were cut short: %v", err)
	}
	if n := crCount(t, db, "SELECT count(*) FROM t"); n != 1 {
		t.Errorf("%d rows, want 1", n)
	}
}

// Guard: a prepared statement whose rows were cut short by their context
// mid-iteration starts from the beginning when queried again. Fails if the
// statement is not reset when such rows close (dispose, ownStmt).
func TestCancelReviewPreparedStmtAfterCancel(t *testing.T) {
	db := openTestDB(t, "")
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE t(x INTEGER PRIMARY KEY)")
	mustExec(t, db, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c LIMIT 100) INSERT INTO t SELECT x FROM c")
	ctx := context.Background()
	st, err := db.PrepareContext(ctx, "SELECT x FROM t ORDER BY x")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for round := range 3 {
		cctx, cancel := context.WithCancel(ctx)
		rows, err := st.QueryContext(cctx)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			rows.Next()
		}
		cancel()
		for rows.Next() {
		}
		if err := rows.Err(); !errors.Is(err, context.Canceled) {
			t.Errorf("round %d: rows.Err() = %v, want context.Canceled", round, err)
		}
		rows.Close()
		rows, err = st.QueryContext(ctx)
		if err != nil {
			t.Fatalf("round %d: query again: %v", round, err)
		}
		var got []int
		for rows.Next() {
			var x int
			rows.Scan(&x)
			got = append(got, x)
		}
		if err := rows.Err(); err != nil || len(got) != 100 || got[0] != 1 {
			t.Fatalf("round %d: query again: %d rows, first %v, %v", round, len(got), got[:min(1, len(got))], err)
		}
		rows.Close()
	}
}

// Guard: a change stream read with a context that ends (mid-transaction,
// and while blocked) resumes without loss or duplicate, both on the same
// stream and from its LSN() in a new stream. Fails if the stream's
// position moves before the last change of a transaction is delivered.
func TestCancelReviewChangesResumeAfterCancel(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(x)")
	ctx := context.Background()
	// Every Next that should find a change gets a bound, so that a stream
	// that lost one fails rather than blocks.
	rctx, rcancel := context.WithTimeout(ctx, 3*time.Second)
	defer rcancel()
	s, err := Changes(ctx, db, ChangeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustExec(t, db, "INSERT INTO t VALUES (1), (2), (3)")
	first, err := s.Next(rctx)
	if err != nil || first.Index != 0 {
		t.Fatalf("first change: %+v, %v", first, err)
	}
	ended, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Next(ended); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next with an ended context: %v", err)
	}
	if s.LSN() >= first.LSN {
		t.Errorf("LSN() = %v after 1 of 3 changes of transaction %v: a resume from it would skip the rest", s.LSN(), first.LSN)
	}
	// A new stream from the resume point gets the whole transaction.
	s2, err := Changes(ctx, db, ChangeOptions{Since: s.LSN()})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for i := range 3 {
		c, err := s2.Next(rctx)
		if err != nil || c.LSN != first.LSN || c.Index != i {
			t.Fatalf("resumed stream, change %d: %+v, %v", i, c, err)
		}
	}
	// The same stream goes on where it stopped.
	for i := 1; i < 3; i++ {
		c, err := s.Next(rctx)
		if err != nil || c.LSN != first.LSN || c.Index != i {
			t.Fatalf("same stream, change %d: %+v, %v", i, c, err)
		}
	}
	// A Next blocked waiting is cut short, and the next commit follows.
	bctx, bcancel := context.WithTimeout(ctx, 30*time.Millisecond)
	_, err = s.Next(bctx)
	bcancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("blocked Next: %v", err)
	}
	mustExec(t, db, "INSERT INTO t VALUES (4)")
	c, err := s.Next(rctx)
	if err != nil || c.Index != 0 || c.LSN <= first.LSN || c.New[0] != int64(4) {
		t.Fatalf("after the blocked Next: %+v, %v", c, err)
	}
	if s.LSN() != c.LSN {
		t.Errorf("LSN() = %v, want %v", s.LSN(), c.LSN)
	}
}
