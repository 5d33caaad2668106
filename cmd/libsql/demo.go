package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golibsql/libsql"
	"github.com/golibsql/libsql/changefeed"
)

var demoCommand = &command{
	name:    "demo",
	args:    "[flags]",
	summary: "concurrent writers (BEGIN CONCURRENT) and a change stream on a temporary database",
	doc: `
Creates a temporary database and runs concurrent writers on it for a few
seconds, every transaction a BEGIN CONCURRENT one run through
libsql.RetryTx (which retries it when it conflicts):

  - even-numbered writers insert 1 to 4 rows per transaction into a table of
    their own (w0, w2, ...): they never conflict; a commit that lands after
    others committed is mostly merged (its pages published as they are on
    the newest version), and rebased (its row changes replayed there) when
    it allocated pages;
  - odd-numbered writers move money between two random rows of the shared
    table accounts (read a balance, update both rows): they conflict when
    they touch the same pages, and the loser runs again in BEGIN IMMEDIATE.

Meanwhile a change stream (libsql.Changes) consumes every committed change,
and half way through an online backup (libsql.Backup) copies one
snapshot of the database, page by page, while the writers go on.
A progress line shows what is happening. At the end the demo prints the
throughput, how the concurrent commits committed (direct, merged or
rebased) and the conflicts (from PRAGMA libsql_stats), the changes the
stream received (they must equal the rows committed), the last few
changes as JSON lines, and an integrity check: PRAGMA integrity_check,
the rows of every table against what the writers committed, the total of
the balances (transfers keep it constant) and no negative balance (each
transfer checks the balance it moves money from, so a lost update would
show), and the backup's integrity and total balance (it holds one
snapshot, so the transfers committing while it copied left it whole).
The exit status is 1 if a check fails.

Interrupting the demo (Ctrl-C) stops the writers early and prints the
results. The database is removed at the end unless --keep is given.
`,
	run: runDemo,
}

// demoConfig is what the demo's flags set.
type demoConfig struct {
	writers  int
	duration time.Duration
	accounts int
	sync     string
	keep     bool
	seed     uint64
}

func runDemo(c *command, e *env, args []string) int {
	cfg := demoConfig{}
	fs := c.flags()
	fs.IntVar(&cfg.writers, "writers", 8, "number of concurrent writers (1 to 256)")
	fs.DurationVar(&cfg.duration, "duration", 3*time.Second, "how long the writers run")
	fs.IntVar(&cfg.accounts, "accounts", 2000, "rows of the shared table accounts (at least 2)")
	fs.StringVar(&cfg.sync, "sync", "full", "durability of commits: full, normal or off")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the database and print where it is")
	fs.Uint64Var(&cfg.seed, "seed", 0, "random seed (0: a random one)")
	if _, code, ok := c.parse(e, fs, args, 0, 0); !ok {
		return code
	}
	sync := strings.ToLower(cfg.sync) // any letter case, as the other enumerated flags
	switch {
	case cfg.writers < 1 || cfg.writers > 256:
		return c.usageError(e, "--writers %d: want 1 to 256", cfg.writers)
	case cfg.duration <= 0:
		return c.usageError(e, "--duration %v: want a positive duration", cfg.duration)
	case cfg.duration > maxRunDuration:
		return c.usageError(e, "--duration %v: too long (at most %v)", cfg.duration, maxRunDuration)
	case cfg.accounts < 2:
		return c.usageError(e, "--accounts %d: want at least 2", cfg.accounts)
	case sync != "full" && sync != "normal" && sync != "off":
		return c.usageError(e, "--sync %q: want full, normal or off", cfg.sync)
	}
	cfg.sync = sync
	if cfg.seed == 0 {
		cfg.seed = rand.Uint64()
	}
	ctx, stop := interruptible(e.ctx)
	defer stop()
	ok, err := demo(ctx, e.stdout, isTerminal(e.stdout), cfg)
	if err != nil {
		return c.fail(e, err)
	}
	if !ok {
		fmt.Fprintln(e.stderr, "libsql demo: a check failed (see above)")
		return exitFailure
	}
	return exitOK
}

// maxRunDuration is the longest --duration of demo and bench: they add
// grace periods of less than a minute to it (the writers' context, the
// watchdog), which must not overflow a time.Duration.
const maxRunDuration = time.Duration(math.MaxInt64) - time.Minute

// stuckAfter is how long the demo waits for its writers to stop after
// the end of the run before it declares them stuck.
const stuckAfter = 20 * time.Second

// initialBalance is every account's balance at the start.
const initialBalance = 1000

// demoWriter is one writer's tally of what it committed.
type demoWriter struct {
	table     string // its own table, or "" for a writer on accounts
	txs       int64
	rows      int64
	transfers int64
	err       error
}

// demoStream is what the change stream's consumer saw.
type demoStream struct {
	received atomic.Int64
	perTable map[string]int64
	last     []changefeed.Change // the last few, oldest first
	err      error
}

// lastChanges is how many changes the demo prints at the end.
const lastChanges = 5

// demo runs the demo and prints its results to w; it returns whether every
// check passed. tty makes the progress line overwrite itself.
func demo(ctx context.Context, w io.Writer, tty bool, cfg demoConfig) (bool, error) {
	path, remove, err := tempDB("libsql-demo-", "demo.db", w)
	if err != nil {
		return false, err
	}
	stuck := false // writers that never return keep the database for a post-mortem
	defer func() { remove(cfg.keep || stuck) }()
	t, _ := parseTarget(path)
	db, err := libsql.Open(t.dsn, libsql.WithSync(cfg.sync), libsql.WithMaxConns(cfg.writers+2))
	if err != nil {
		return false, err
	}
	defer func() {
		if !stuck { // Close would wait for the stuck writers
			db.Close()
		}
	}()

	writers := make([]*demoWriter, cfg.writers)
	var own, shared []string
	for i := range writers {
		writers[i] = &demoWriter{}
		if i%2 == 0 {
			writers[i].table = fmt.Sprintf("w%d", i)
			own = append(own, fmt.Sprint(i))
		} else {
			shared = append(shared, fmt.Sprint(i))
		}
	}
	if err := demoSetup(ctx, db, writers, cfg.accounts); err != nil {
		return false, fmt.Errorf("setup: %w", err)
	}

	fmt.Fprintf(w, "libsql demo: %d writers for %v on %s (sync=%s, seed %d)\n", cfg.writers, cfg.duration, path, cfg.sync, cfg.seed)
	fmt.Fprintf(w, "  writers %s insert 1-4 rows per transaction into tables of their own\n", strings.Join(own, ", "))
	if len(shared) > 0 {
		fmt.Fprintf(w, "  writers %s move money between 2 random rows of the shared table accounts (%d rows)\n", strings.Join(shared, ", "), cfg.accounts)
	}
	fmt.Fprint(w, "  every transaction is BEGIN CONCURRENT, through libsql.RetryTx (which runs one that conflicted again in BEGIN IMMEDIATE); a change stream (libsql.Changes) reads every committed change\n\n")

	stream, err := libsql.Changes(ctx, db, libsql.ChangeOptions{Since: changefeed.Now, Buffer: 1 << 16})
	if err != nil {
		return false, fmt.Errorf("open the change stream: %w", err)
	}
	defer stream.Close()
	ds := &demoStream{perTable: map[string]int64{}}
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		ds.consume(stream)
	}()

	// The writers stop between transactions, never in the middle of one:
	// a transaction cut short by its context could have committed or not.
	var stopWriters atomic.Bool
	start := time.Now()
	deadline := start.Add(cfg.duration)
	wctx, cancel := context.WithTimeout(context.Background(), cfg.duration+30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i, dw := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(cfg.seed, uint64(i)))
			for !stopWriters.Load() && time.Now().Before(deadline) {
				if dw.err = dw.step(wctx, db, rng, cfg.accounts); dw.err != nil {
					return
				}
			}
		}()
	}
	writersDone := make(chan struct{})
	go func() { wg.Wait(); close(writersDone) }()
	// Half way through, an online backup: libsql.Backup copies one
	// snapshot while the writers go on.
	var bk demoBackup
	backupDone := make(chan struct{})
	go func() {
		defer close(backupDone)
		select {
		case <-time.After(cfg.duration / 2):
		case <-writersDone:
			return
		}
		if stopWriters.Load() {
			return
		}
		bk.path = filepath.Join(filepath.Dir(path), "backup.db")
		before := committed(writers)
		t0 := time.Now()
		bk.err = libsql.Backup(wctx, db, "main", bk.path, &libsql.BackupOptions{
			Progress: func(_, total int) { bk.pages = total },
		})
		bk.took = time.Since(t0)
		bk.during = committed(writers) - before
		bk.taken = true
	}()

	interval := time.Second
	if tty {
		interval = 100 * time.Millisecond
	}
	tick := time.NewTicker(interval)
	watchdog := time.NewTimer(cfg.duration + stuckAfter)
	defer watchdog.Stop()
	progress := func() {
		var txs, rows int64
		for _, dw := range writers {
			txs += atomic.LoadInt64(&dw.txs)
			rows += atomic.LoadInt64(&dw.rows)
		}
		// Bounded, so that stuck writers holding every connection cannot
		// block the watchdog.
		sctx, cancel := context.WithTimeout(wctx, 500*time.Millisecond)
		st, _ := engineStats(sctx, db)
		cancel()
		line := fmt.Sprintf("%5.1fs %7d tx %8d rows %6d conflicts %7d merged %6d rebased %8d streamed",
			time.Since(start).Seconds(), txs, rows, st.Concurrent.Conflicts, st.Concurrent.Merged, st.Concurrent.Rebased, ds.received.Load())
		if tty {
			fmt.Fprintf(w, "\r%s ", line)
		} else {
			fmt.Fprintln(w, line)
		}
	}
	interrupted := ctx.Done()
wait:
	for {
		select {
		case <-writersDone:
			break wait
		case <-interrupted:
			interrupted = nil
			stopWriters.Store(true)
			watchdog.Reset(stuckAfter)
		case <-tick.C:
			progress()
		case <-watchdog.C:
			stuck = true
			dump := filepath.Join(filepath.Dir(path), "goroutines.txt")
			buf := make([]byte, 1<<22)
			os.WriteFile(dump, buf[:runtime.Stack(buf, true)], 0o644)
			return false, fmt.Errorf("the writers did not stop within %v after the end of the run: a transaction is stuck (goroutines written to %s)", stuckAfter, dump)
		}
	}
	tick.Stop()
	elapsed := time.Since(start)
	<-backupDone
	progress()
	if tty {
		fmt.Fprintln(w)
	}

	var txs, rows, transfers int64
	var failed []string
	for i, dw := range writers {
		txs += dw.txs
		rows += dw.rows
		transfers += dw.transfers
		if dw.err != nil {
			failed = append(failed, fmt.Sprintf("writer %d: %v", i, dw.err))
		}
	}

	// Every committed change must reach the stream; give it a moment (the
	// consumer stops early only on an error).
	timeout := time.After(5 * time.Second)
drain:
	for ds.received.Load() < rows {
		select {
		case <-consumed:
			break drain
		case <-timeout:
			break drain
		case <-time.After(5 * time.Millisecond):
		}
	}
	time.Sleep(20 * time.Millisecond) // would show changes beyond the rows committed
	stream.Close()
	<-consumed

	st, err := engineStats(context.Background(), db)
	if err != nil {
		return false, err
	}
	secs := elapsed.Seconds()
	c := st.Concurrent
	fmt.Fprintf(w, "\nresults after %.2fs\n", secs)
	fmt.Fprintf(w, "  throughput      %.0f tx/s, %.0f rows/s\n", float64(txs)/secs, float64(rows)/secs)
	fmt.Fprintf(w, "  committed       %d transactions, %d rows\n", txs, rows)
	fmt.Fprintf(w, "  engine          %d concurrent commits: %d direct, %d merged, %d rebased; %d conflicts, run again in BEGIN IMMEDIATE by RetryTx\n",
		c.Commits, c.Direct, c.Merged, c.Rebased, c.Conflicts)
	if len(c.ConflictsOn) > 0 {
		fmt.Fprintf(w, "  conflicts on    %s\n", formatCounts(c.ConflictsOn))
	}
	fmt.Fprintf(w, "  log             %d commits, %d log writes, %d fsyncs, %d checkpoints\n", st.Commits, st.Flushes, st.Syncs, st.Checkpoints)
	switch {
	case bk.taken && bk.err == nil:
		fmt.Fprintf(w, "  backup          Backup half way: %d pages in %d ms, while %d transactions committed\n", bk.pages, bk.took.Milliseconds(), bk.during)
	case bk.taken:
		fmt.Fprintf(w, "  backup          Backup half way failed: %v\n", bk.err)
		failed = append(failed, fmt.Sprintf("backup: %v", bk.err))
	}
	received := ds.received.Load()
	streamOK := received == rows && ds.err == nil
	fmt.Fprintf(w, "  change stream   %d changes received, %d rows committed: %s\n", received, rows, okWord(received == rows))
	if ds.err != nil {
		fmt.Fprintf(w, "  stream error    %v\n", ds.err)
	}
	for _, f := range failed {
		fmt.Fprintf(w, "  FAILED          %s\n", f)
	}

	if len(ds.last) > 0 {
		fmt.Fprintf(w, "\nlast %d changes (JSON lines, as libsql tail prints them):\n", len(ds.last))
		var buf []byte
		for i := range ds.last {
			buf = changefeed.AppendJSON(buf[:0], &ds.last[i])
			buf = append(buf, '\n')
			w.Write(buf)
		}
	}

	checks, err := demoChecks(context.Background(), db, writers, ds, cfg.accounts, txs, transfers, st.Concurrent.Commits, st.Concurrent.Conflicts)
	if err != nil {
		return false, err
	}
	if bk.taken && bk.err == nil {
		more, err := backupChecks(context.Background(), bk.path, cfg.accounts)
		if err != nil {
			return false, fmt.Errorf("check the backup: %w", err)
		}
		checks = append(checks, more...)
	}
	fmt.Fprint(w, "\nintegrity check\n")
	allOK := streamOK && len(failed) == 0
	for _, ck := range checks {
		fmt.Fprintf(w, "  %-36s %s\n", ck.name, ck.result())
		allOK = allOK && ck.ok
	}
	if allOK {
		fmt.Fprintln(w, "\nall checks passed")
	} else {
		fmt.Fprintln(w, "\nCHECKS FAILED")
	}
	return allOK, nil
}

// demoSetup creates the tables and fills accounts.
func demoSetup(ctx context.Context, db *sql.DB, writers []*demoWriter, accounts int) error {
	var ddl strings.Builder
	ddl.WriteString("CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL CHECK (balance >= 0), updates INTEGER NOT NULL, owner TEXT NOT NULL);\n")
	for _, dw := range writers {
		if dw.table != "" {
			fmt.Fprintf(&ddl, "CREATE TABLE %s(id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, note TEXT NOT NULL);\n", dw.table)
		}
	}
	if _, err := db.ExecContext(ctx, ddl.String()); err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, "INSERT INTO accounts(id, balance, updates, owner) VALUES (?, ?, 0, ?)")
	if err != nil {
		return err
	}
	// About 100 accounts per page, so that transfers spread over many pages
	// and conflict only sometimes.
	pad := "(an account of the demo)"
	for id := 1; id <= accounts; id++ {
		if _, err := ins.ExecContext(ctx, id, initialBalance, fmt.Sprintf("owner %05d %s", id, pad)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

var concurrentTx = &sql.TxOptions{Isolation: libsql.LevelConcurrent}

// step runs one transaction of the writer and counts it once it committed.
func (dw *demoWriter) step(ctx context.Context, db *sql.DB, rng *rand.Rand, accounts int) error {
	if dw.table != "" {
		n := 1 + rng.IntN(4)
		seq := dw.rows
		err := libsql.RetryTx(ctx, db, concurrentTx, func(tx *sql.Tx) error {
			for j := range n {
				if _, err := tx.ExecContext(ctx, "INSERT INTO "+dw.table+"(seq, note) VALUES (?, ?)",
					seq+int64(j), "row of "+dw.table); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		atomic.AddInt64(&dw.txs, 1)
		atomic.AddInt64(&dw.rows, int64(n))
		return nil
	}
	from := 1 + rng.IntN(accounts)
	to := 1 + rng.IntN(accounts-1)
	if to >= from {
		to++
	}
	amount := int64(1 + rng.IntN(100))
	err := libsql.RetryTx(ctx, db, concurrentTx, func(tx *sql.Tx) error {
		var balance int64
		if err := tx.QueryRowContext(ctx, "SELECT balance FROM accounts WHERE id = ?", from).Scan(&balance); err != nil {
			return err
		}
		moved := min(amount, balance)
		if _, err := tx.ExecContext(ctx, "UPDATE accounts SET balance = balance - ?, updates = updates + 1 WHERE id = ?", moved, from); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "UPDATE accounts SET balance = balance + ?, updates = updates + 1 WHERE id = ?", moved, to)
		return err
	})
	if err != nil {
		return err
	}
	atomic.AddInt64(&dw.txs, 1)
	atomic.AddInt64(&dw.rows, 2)
	dw.transfers++
	return nil
}

// consume reads the stream until it is closed, counting the changes per
// table and keeping the last few.
func (ds *demoStream) consume(s *libsql.ChangeStream) {
	ring := make([]changefeed.Change, 0, lastChanges)
	next := 0
	for {
		ch, err := s.Next(context.Background())
		if err != nil {
			if !errors.Is(err, changefeed.ErrClosed) {
				ds.err = err
			}
			break
		}
		ds.perTable[ch.Table]++
		if len(ring) < lastChanges {
			ring = append(ring, ch)
		} else {
			ring[next] = ch
			next = (next + 1) % lastChanges
		}
		ds.received.Add(1)
	}
	ds.last = append(ring[next:], ring[:next]...)
}

// check is one line of the demo's and check's reports.
type check struct {
	name   string
	detail string
	ok     bool
}

func (c check) result() string {
	if c.detail == "" {
		return okWord(c.ok)
	}
	return c.detail + ": " + okWord(c.ok)
}

func okWord(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISMATCH"
}

// demoChecks verifies the database against what the writers committed and
// what the stream received.
func demoChecks(ctx context.Context, db *sql.DB, writers []*demoWriter, ds *demoStream, accounts int, txs, transfers int64, engineCommits, conflicts uint64) ([]check, error) {
	var checks []check
	lines, err := integrityCheck(ctx, db)
	if err != nil {
		return nil, err
	}
	sound := len(lines) == 1 && lines[0] == "ok"
	detail := ""
	if !sound {
		detail = strings.Join(lines, "; ")
	}
	checks = append(checks, check{"PRAGMA integrity_check", detail, sound})

	for _, dw := range writers {
		if dw.table == "" {
			continue
		}
		var n int64
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+dw.table).Scan(&n); err != nil {
			return nil, err
		}
		streamed := ds.perTable[dw.table]
		checks = append(checks, check{"rows in " + dw.table,
			fmt.Sprintf("%d in the table, %d committed, %d streamed", n, dw.rows, streamed),
			n == dw.rows && streamed == dw.rows})
	}

	var total, updates, negative int64
	if err := db.QueryRowContext(ctx, "SELECT sum(balance), sum(updates), count(*) FILTER (WHERE balance < 0) FROM accounts").
		Scan(&total, &updates, &negative); err != nil {
		return nil, err
	}
	want := int64(accounts) * initialBalance
	checks = append(checks,
		check{"accounts: total balance", fmt.Sprintf("%d, want %d", total, want), total == want},
		check{"accounts: negative balances", fmt.Sprint(negative), negative == 0},
		check{"accounts: updates", fmt.Sprintf("%d, 2 per transfer committed (%d), %d streamed", updates, transfers, ds.perTable["accounts"]),
			updates == 2*transfers && ds.perTable["accounts"] == updates},
		// Each conflict is followed by one run in BEGIN IMMEDIATE, which
		// cannot conflict: together they are every transaction committed.
		check{"engine commits", fmt.Sprintf("%d concurrent + %d run again after a conflict, transactions committed %d", engineCommits, conflicts, txs), int64(engineCommits+conflicts) == txs},
	)
	return checks, nil
}

// demoBackup is the demo's online backup, taken half way through the run.
type demoBackup struct {
	taken  bool
	path   string
	took   time.Duration
	pages  int   // the database's pages when it began
	during int64 // transactions committed while it copied
	err    error
}

// committed returns the transactions the writers have committed so far.
func committed(writers []*demoWriter) int64 {
	var n int64
	for _, dw := range writers {
		n += atomic.LoadInt64(&dw.txs)
	}
	return n
}

// backupChecks checks the backup: a sound database holding one snapshot,
// so the transfers that were committing while it copied left its total
// balance whole.
func backupChecks(ctx context.Context, path string, accounts int) ([]check, error) {
	db, err := libsql.Open(path, libsql.WithMode("ro"))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	lines, err := integrityCheck(ctx, db)
	if err != nil {
		return nil, err
	}
	sound := len(lines) == 1 && lines[0] == "ok"
	var total, negative int64
	if err := db.QueryRowContext(ctx, "SELECT sum(balance), count(*) FILTER (WHERE balance < 0) FROM accounts").Scan(&total, &negative); err != nil {
		return nil, err
	}
	want := int64(accounts) * initialBalance
	return []check{
		{"backup: PRAGMA integrity_check", strings.Join(lines, "; "), sound},
		{"backup: total balance", fmt.Sprintf("%d, want %d (one snapshot)", total, want), total == want && negative == 0},
	}, nil
}

// formatCounts formats a map of counts, largest first.
func formatCounts(m map[string]uint64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
