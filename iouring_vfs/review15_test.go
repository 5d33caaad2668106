package iouringvfs

// Review 15: the checkpointer's restarts under failure. It was written for
// a direct restart (commit 6e75f33: where a restart was wanted and the log
// held under 128 distinct pages, the RESTART checkpoint copied every frame
// under the writer lock, with no passive checkpoint first), which cost 8
// writers at sync=normal 4-10% of their commits and was taken out; the
// checkpointer runs a passive checkpoint, then the restart under the
// writer lock copies the tail (fsync of the log at sync=normal, copy,
// fsync of the main file, new header, fsync).
//
// The tests run workloads of small commits on few pages and on many pages,
// report where the main-file writes happen (under the engine's internal
// writer lock or not) and the checkpoints per restart, and then:
//   - power losses (iofault.CrashFS) at random mutating operations, and
//     at operations made during a restart under the writer lock: after the
//     reboot the database is a prefix of the commits (every row holds the
//     same commit's value, every blob its own), no shorter than every
//     acknowledged commit at sync=full, and than every commit a restart
//     had covered at sync=normal;
//   - faults (EIO, ENOSPC, short write) at the n-th operation made under
//     the internal writer lock: the error reaches a caller, and the files
//     reopen with every acknowledged commit;
//   - readers pinning old snapshots across many commits and restarts
//     read exactly their snapshot.
//
// LIBSQL_SOAK=1 runs more seeds and crash points.

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
	"github.com/golibsql/libsql/iouring_vfs/iofault"
)

// r15Cfg is a workload: rows rows of a blob of 2*blob bytes; each commit
// sets k (and the blob) of per rows (0: all of them) to its number.
type r15Cfg struct {
	name     string
	sync     string
	autoCkpt int
	rows     int
	blob     int
	per      int
	commits  int
	limit    int64 // PRAGMA journal_size_limit, if not 0
}

// r15Few: all 12 rows (about 6 pages at 1 KiB pages) in every commit, a
// threshold of 20 frames: frequent restarts with a short tail.
func r15Few(sync string) r15Cfg {
	return r15Cfg{name: "few-" + sync, sync: sync, autoCkpt: 20, rows: 12, blob: 150, per: 0, commits: 300}
}

// r15Many: 8 random rows of 900 (about 450 pages) per commit, a threshold
// of 300 frames: over 128 distinct pages to copy, the passive path.
func r15Many(sync string) r15Cfg {
	return r15Cfg{name: "many-" + sync, sync: sync, autoCkpt: 300, rows: 900, blob: 200, per: 8, commits: 300}
}

var r15Seq atomic.Int64

func r15Path() string { return fmt.Sprintf("/r15/%d/t.db", r15Seq.Add(1)) }

// r15Out is what the workload's callers were told.
type r15Out struct {
	acked    int     // commits acknowledged (commit 0 creates the table)
	floor    int     // commits durable for sure
	ids      [][]int // ids[i]: the rows commit i set (nil: all)
	errs     []error
	poisoned bool
	stats    Stats
	// main-file writes made with the engine's internal writer lock held
	// (a restart's copy) and without it (a passive checkpoint's), after
	// the first commit.
	lockedWrites, freeWrites int64
}

// r15Probe counts the main file's writes by whether the engine holds its
// writer lock internally.
type r15Probe struct {
	e             atomic.Pointer[Engine]
	path          string
	locked, free  atomic.Int64
	lockedMutOps  atomic.Int64
	onLockedMutOp func(n int64, op iofault.Op) // called with the FaultFS lock held
}

func (p *r15Probe) internalHeld() bool {
	e := p.e.Load()
	if e == nil {
		return false
	}
	e.wlock.mu.Lock()
	defer e.wlock.mu.Unlock()
	return e.wlock.held && e.wlock.internal
}

func (p *r15Probe) match(op iofault.Op) {
	if !cr8Mutating(op) || p.e.Load() == nil {
		return
	}
	held := p.internalHeld()
	if op.Name == p.path && (op.Kind == iofault.OpWriteAt || op.Kind == iofault.OpWritevAt) {
		if held {
			p.locked.Add(1)
		} else {
			p.free.Add(1)
		}
	}
	if held {
		n := p.lockedMutOps.Add(1) - 1
		if p.onLockedMutOp != nil {
			p.onLockedMutOp(n, op)
		}
	}
}

func r15Update(cfg r15Cfg, i int, rng *rand.Rand) (string, []int) {
	if cfg.per == 0 {
		return fmt.Sprintf("UPDATE t SET k = %d, v = %s", i, cr8ValSQL("id", fmt.Sprint(i), cfg.blob)), nil
	}
	seen := map[int]bool{}
	var ids []int
	for len(ids) < cfg.per {
		id := 1 + rng.IntN(cfg.rows)
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	var s []string
	for _, id := range ids {
		s = append(s, fmt.Sprint(id))
	}
	return fmt.Sprintf("UPDATE t SET k = %d, v = %s WHERE id IN (%s)", i, cr8ValSQL("id", fmt.Sprint(i), cfg.blob), strings.Join(s, ",")), ids
}

// r15Run runs cfg on path through fsys (the probe, if any, sees every
// operation). stop: stop at the first error; otherwise carry on after
// errors that did not poison the engine.
func r15Run(t *testing.T, cfg r15Cfg, seed uint64, fsys ioback.FS, path string, probe *r15Probe, stop bool) *r15Out {
	o := &r15Out{acked: -1, floor: -1}
	restore := defaultVFS.SetFSForTesting(fsys)
	defer restore()
	rng := rand.New(rand.NewPCG(seed, 15))
	c, err := cr8Open(t, path, "libsql_sync="+cfg.sync+"&libsql_page_cache=16")
	if err != nil {
		o.errs = append(o.errs, fmt.Errorf("open: %w", err))
		return o
	}
	e := c.file.e
	defer func() {
		if e.log.Err() != nil {
			o.poisoned = true
		}
		o.stats = e.Stats()
		if err := e.UnreportedErr(); err != nil {
			o.errs = append(o.errs, fmt.Errorf("unreported: %w", err))
		}
		if err := c.Close(); err != nil {
			o.errs = append(o.errs, fmt.Errorf("close: %w", err))
		}
		if err := e.UnreportedErr(); err != nil {
			o.errs = append(o.errs, fmt.Errorf("unreported after close: %w", err))
		}
		if probe != nil {
			o.lockedWrites, o.freeWrites = probe.locked.Load(), probe.free.Load()
		}
	}()
	setup := []string{"PRAGMA page_size=1024", fmt.Sprintf("PRAGMA wal_autocheckpoint=%d", cfg.autoCkpt)}
	if cfg.limit != 0 {
		setup = append(setup, fmt.Sprintf("PRAGMA journal_size_limit=%d", cfg.limit))
	}
	for _, s := range setup {
		if err := c.Exec(s); err != nil {
			o.errs = append(o.errs, fmt.Errorf("%s: %w", s, err))
			return o
		}
	}
	create := fmt.Sprintf("BEGIN; CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER NOT NULL, v BLOB NOT NULL); "+
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < %d) INSERT INTO t SELECT x, 0, %s FROM c; COMMIT",
		cfg.rows, cr8ValSQL("x", "0", cfg.blob))
	o.ids = append(o.ids, nil)
	if err := c.Exec(create); err != nil {
		o.errs = append(o.errs, fmt.Errorf("create: %w", err))
		return o
	}
	o.acked, o.floor = 0, 0
	if probe != nil {
		probe.e.Store(e)
	}
	restarts := e.Stats().Restarts
	for i := 1; i <= cfg.commits; i++ {
		q, ids := r15Update(cfg, i, rng)
		o.ids = append(o.ids, ids)
		err := c.Exec(q)
		if err != nil {
			o.errs = append(o.errs, fmt.Errorf("commit %d: %w", i, err))
			if !c.GetAutocommit() {
				c.Exec("ROLLBACK")
			}
			if stop || e.log.Err() != nil {
				return o
			}
			o.ids = o.ids[:i] // the commit did not happen: its number is used again
			i--
			if len(o.errs) > 20 {
				return o
			}
			continue
		}
		o.acked = i
		if cfg.sync == "full" {
			o.floor = i
		}
		// A restart that ended after commit i-1 was acknowledged covered
		// it: the log's frames were in the main file, synced.
		if r := e.Stats().Restarts; r > restarts {
			restarts = r
			o.floor = max(o.floor, i-1)
		}
	}
	return o
}

// r15State replays commits 0..j: the k of every row.
func r15State(cfg r15Cfg, o *r15Out, j int) []int {
	ks := make([]int, cfg.rows+1)
	for i := 1; i <= j; i++ {
		if o.ids[i] == nil {
			for id := 1; id <= cfg.rows; id++ {
				ks[id] = i
			}
			continue
		}
		for _, id := range o.ids[i] {
			ks[id] = i
		}
	}
	return ks
}

// r15Check reopens path on fsys and checks that it holds commits 0..j for
// one j in [o.floor, len(o.ids)-1], every blob its own, and that one more
// commit and a clean close work. It returns j (-1: no table) and what is
// wrong.
func r15Check(t *testing.T, cfg r15Cfg, o *r15Out, fsys ioback.FS, path string) (int, []string) {
	restore := defaultVFS.SetFSForTesting(fsys)
	defer restore()
	c, err := cr8Open(t, path, "libsql_sync=full")
	if err != nil {
		return -1, []string{fmt.Sprintf("reopen: %v", err)}
	}
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	var bad []string
	if ic, err := cr8Text(c, "PRAGMA integrity_check"); err != nil || ic != "ok" {
		bad = append(bad, fmt.Sprintf("integrity_check: %q %v", ic, err))
	}
	rows, err := cr8Capi{c.Conn}.rows("SELECT id, k, v FROM t ORDER BY id")
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			if o.floor >= 0 {
				bad = append(bad, fmt.Sprintf("no table, with commit %d durable", o.floor))
			}
			return -1, bad
		}
		return -1, append(bad, fmt.Sprintf("read: %v", err))
	}
	got := make([]int, cfg.rows+1)
	if len(rows) != cfg.rows {
		bad = append(bad, fmt.Sprintf("%d rows, want %d", len(rows), cfg.rows))
	}
	for _, r := range rows {
		id, k, v := r[0].(int64), int(r[1].(int64)), r[2].([]byte)
		if id < 1 || int(id) > cfg.rows {
			bad = append(bad, fmt.Sprintf("row id %d", id))
			continue
		}
		if want := cr8Blob(id, k, cfg.blob); string(v) != string(want) {
			bad = append(bad, fmt.Sprintf("row %d (k=%d): a blob of %d bytes not its own", id, k, len(v)))
		}
		got[id] = k
	}
	newest := 0
	for _, k := range got {
		newest = max(newest, k)
	}
	j := -1
	if newest < len(o.ids) {
		want := r15State(cfg, o, newest)
		same := true
		for id := 1; id <= cfg.rows; id++ {
			same = same && want[id] == got[id]
		}
		if same {
			j = newest
		}
	}
	switch {
	case j < 0:
		bad = append(bad, fmt.Sprintf("the rows' k %v are no prefix of the commits (newest k %d, %d commits attempted): a torn mix", got[1:min(len(got), 13)], newest, len(o.ids)-1))
	case j < o.floor:
		bad = append(bad, fmt.Sprintf("commit %d recovered, but commits up to %d were durable (acknowledged %d, sync=%s): lost", j, o.floor, o.acked, cfg.sync))
	}
	if err := c.Exec(fmt.Sprintf("UPDATE t SET k = 1000000, v = %s WHERE id = 1", cr8ValSQL("id", "1000000", cfg.blob))); err != nil {
		bad = append(bad, fmt.Sprintf("commit after the reopen: %v", err))
	} else if err := c.Close(); err != nil {
		bad = append(bad, fmt.Sprintf("close after the reopen: %v", err))
	}
	c = nil
	if len(bad) == 0 {
		// Once more: the commit after recovery is there.
		c2, err := cr8Open(t, path, "libsql_sync=full")
		if err != nil {
			return j, []string{fmt.Sprintf("second reopen: %v", err)}
		}
		if k, err := c2.intErr("SELECT k FROM t WHERE id = 1"); err != nil || k != 1000000 {
			bad = append(bad, fmt.Sprintf("second reopen: row 1 k=%d %v, want the commit after the recovery", k, err))
		}
		c2.Close()
	}
	return j, bad
}

// r15MinRuns is the fewest crash or fault runs a test must make in its
// time budget (under the race detector, a tenth as many run).
func r15MinRuns() int {
	if raceEnabled {
		return 3
	}
	return 10
}

// r15Seeds: n seeds normally, soak of them under LIBSQL_SOAK.
func r15Seeds(n, soak int) int {
	if cr8Soak() {
		return soak
	}
	return n
}

// TestReview15PathTaken: the few-pages workload restarts the log with the
// restart's own copy (nearly all main-file writes under the internal
// writer lock, about one checkpoint per restart); the many-pages workload
// runs passive checkpoints (most writes without the lock). Both end with
// every commit in place.
func TestReview15PathTaken(t *testing.T) {
	for _, sm := range []string{"full", "normal"} {
		for _, cfg := range []r15Cfg{r15Few(sm), r15Many(sm)} {
			t.Run(cfg.name, func(t *testing.T) {
				mem := ioback.NewMemFS()
				path := r15Path()
				p := &r15Probe{path: path}
				ffs := iofault.NewFaultFS(mem)
				ffs.Arm(iofault.Rule{N: 1 << 40, Match: func(op iofault.Op) bool { p.match(op); return false }})
				o := r15Run(t, cfg, 1, ffs, path, p, true)
				if len(o.errs) > 0 {
					t.Fatalf("errors: %v", o.errs)
				}
				st := o.stats
				t.Logf("%d commits: %d checkpoints, %d restarts, %d pages copied, %d fsyncs; main writes %d under the internal lock, %d without",
					o.acked, st.Checkpoints, st.Restarts, st.PagesBackfilled, st.Syncs, o.lockedWrites, o.freeWrites)
				if st.Restarts < 2 {
					t.Errorf("only %d restarts", st.Restarts)
				}
				if o.freeWrites == 0 {
					t.Errorf("%d main writes under the lock, none without: the passive checkpoint does not run first", o.lockedWrites)
				}
				if j, bad := r15Check(t, cfg, o, mem, path); len(bad) > 0 || j != o.acked {
					t.Errorf("reopen: commit %d of %d: %v", j, o.acked, bad)
				}
			})
		}
	}
}

// r15ArmCrash returns a fault file system over a crashable one (seeded
// from seed and crashAt), with a probe on a fresh path, armed to lose
// power at the crashAt-th mutating operation (counting only those under
// the engine's internal writer lock if lockedOnly); crash returns what
// survived the power loss and the operation it came at, nil if it never
// came.
func r15ArmCrash(seed uint64, crashAt int64, lockedOnly bool) (ffs *iofault.FaultFS, p *r15Probe, crash func() (*iofault.CrashFS, string)) {
	cfs := iofault.NewCrashFS(seed*0x9e3779b97f4a7c15 + uint64(crashAt))
	ffs = iofault.NewFaultFS(cfs)
	p = &r15Probe{path: r15Path()}
	var crashed *iofault.CrashFS
	var crashOp string
	var n int64
	ffs.Arm(iofault.Rule{N: 1 << 40, Match: func(op iofault.Op) bool {
		p.match(op)
		if crashed != nil || !cr8Mutating(op) || lockedOnly && !p.internalHeld() {
			return false
		}
		if n == crashAt {
			crashed, crashOp = cfs.Crash(), op.String()
		}
		n++
		return false
	}})
	return ffs, p, func() (*iofault.CrashFS, string) { return crashed, crashOp }
}

// r15Crash runs cfg with a power loss at the crash-th operation that
// crashAt selects and checks the recovery.
func r15Crash(t *testing.T, cfg r15Cfg, seed uint64, crashAt int64, lockedOnly bool) (fired bool, bad []string) {
	ffs, p, crash := r15ArmCrash(seed, crashAt, lockedOnly)
	path := p.path
	stop := cr8Watchdog(fmt.Sprintf("review15 %s seed %d crash %d", cfg.name, seed, crashAt))
	o := r15Run(t, cfg, seed, ffs, path, p, true)
	stop()
	crashed, crashOp := crash()
	if crashed == nil {
		return false, nil
	}
	j, bad := r15Check(t, cfg, o, crashed, path)
	if len(bad) > 0 {
		bad = append([]string{fmt.Sprintf("%s seed %d: power loss at op %d (locked only %v: %s); acknowledged %d, durable %d, recovered %d; errors %v",
			cfg.name, seed, crashAt, lockedOnly, crashOp, o.acked, o.floor, j, cr8First(o.errs, 2))}, bad...)
	}
	return true, bad
}

// TestReview15CrashDirectRestart: power losses at random mutating
// operations of the few-pages and many-pages
// workloads, at sync=full and sync=normal.
func TestReview15CrashDirectRestart(t *testing.T) {
	for _, sm := range []string{"full", "normal"} {
		for _, cfg := range []r15Cfg{r15Few(sm), r15Many(sm)} {
			t.Run(cfg.name, func(t *testing.T) {
				cfg.commits = 150
				if !strings.HasPrefix(cfg.name, "few") {
					cfg.commits = 120
					cfg.autoCkpt = 200
				}
				r15CrashSweep(t, cfg, 0x15, 0, int64(cfg.commits)*4, false, "")
			})
		}
	}
}

// r15CrashSweep runs r15Crash for seeds in turn (for 1.2 s, or all of
// them under soak), each with a power loss at an operation drawn below
// maxAt (among those under the writer lock if lockedOnly), and reports
// the failures; seeds are offset by seedOffset and drawn with salt.
func r15CrashSweep(t *testing.T, cfg r15Cfg, salt, seedOffset uint64, maxAt int64, lockedOnly bool, where string) {
	t.Helper()
	deadline := time.Now().Add(1200 * time.Millisecond)
	runs, fails := 0, 0
	for s := 0; s < r15Seeds(400, 4000); s++ {
		if !cr8Soak() && time.Now().After(deadline) {
			break
		}
		rng := rand.New(rand.NewPCG(uint64(s), salt))
		fired, bad := r15Crash(t, cfg, uint64(s)+seedOffset, rng.Int64N(maxAt), lockedOnly)
		if !fired {
			continue
		}
		runs++
		if len(bad) > 0 {
			fails++
			if fails <= 3 {
				t.Error(strings.Join(bad, "\n\t"))
			}
		}
	}
	t.Logf("%d power losses%s, %d failed", runs, where, fails)
	if runs < r15MinRuns() {
		t.Errorf("only %d power losses fired%s", runs, where)
	}
}

// TestReview15CrashInsideRestart: power losses at the operations made
// while the engine holds its writer lock internally: the restart's log
// fsync, copy, main-file fsync, new header and its fsync.
func TestReview15CrashInsideRestart(t *testing.T) {
	limited := r15Few("normal")
	limited.name, limited.limit = "few-normal-limit0", 1
	for _, cfg := range []r15Cfg{r15Few("full"), r15Few("normal"), limited} {
		cfg.commits = 150
		t.Run(cfg.name, func(t *testing.T) {
			r15CrashSweep(t, cfg, 0x51, 1000, 60, true, " inside restarts")
		})
	}
}

// TestReview15FaultInsideRestart: EIO, ENOSPC and short writes at the
// n-th operation made under the internal writer lock (the
// restart's fsyncs, copy and header), for n swept: the error must reach a
// caller (a commit, or the engine's unreported error at close) whenever
// it poisoned the engine; the files as the fault left them reopen with
// every acknowledged commit (nothing was lost: no power loss), all rows
// of one commit.
func TestReview15FaultInsideRestart(t *testing.T) {
	faults := []iofault.Fault{iofault.EIO, iofault.ENOSPC, iofault.ShortWrite}
	for _, sm := range []string{"full", "normal"} {
		for _, fault := range faults {
			cfg := r15Few(sm)
			cfg.commits = 120
			t.Run(fmt.Sprintf("%s-%v", cfg.name, strings.ReplaceAll(fault.String(), " ", "")), func(t *testing.T) {
				fired, poisoned, fails := 0, 0, 0
				deadline := time.Now().Add(800 * time.Millisecond)
				for n := 0; n < 320; n++ {
					if n > 40 && n%13 != 0 && !cr8Soak() {
						continue
					}
					if !cr8Soak() && time.Now().After(deadline) {
						break
					}
					mem := ioback.NewMemFS()
					ffs := iofault.NewFaultFS(mem)
					path := r15Path()
					p := &r15Probe{path: path}
					var firedOp string
					var m int64
					ffs.Arm(iofault.Rule{N: n, Fault: fault, Seed: uint64(n), Match: func(op iofault.Op) bool {
						p.match(op)
						if !cr8Mutating(op) || op.Kind == iofault.OpOpen || p.e.Load() == nil || !p.internalHeld() {
							return false
						}
						if m == int64(n) {
							firedOp = op.String()
						}
						m++
						return true
					}})
					o := r15Run(t, cfg, uint64(n), ffs, path, p, false)
					if !ffs.Fired() {
						continue
					}
					ffs.Disarm()
					fired++
					var bad []string
					if o.poisoned {
						poisoned++
						if len(o.errs) == 0 {
							bad = append(bad, "the engine was poisoned and no caller was told")
						}
					}
					for _, err := range o.errs {
						if strings.Contains(err.Error(), "malformed") || strings.Contains(err.Error(), "corrupt") {
							bad = append(bad, fmt.Sprintf("a caller saw corruption: %v", err))
						}
					}
					// The reopen on the files as they are: every
					// acknowledged commit (the in-flight one may be there).
					o.floor = o.acked
					j, more := r15Check(t, cfg, o, mem, path)
					bad = append(bad, more...)
					if len(bad) > 0 {
						fails++
						if fails <= 3 {
							t.Errorf("%s into locked op %d (%s): acknowledged %d, recovered %d, poisoned %v, errors %v:\n\t%s",
								fault, n, firedOp, o.acked, j, o.poisoned, cr8First(o.errs, 2), strings.Join(bad, "\n\t"))
						}
					}
				}
				t.Logf("%d faults fired, %d poisoned the engine, %d failed", fired, poisoned, fails)
				if fired < r15MinRuns()/2 {
					t.Errorf("only %d faults fired", fired)
				}
			})
		}
	}
}

// TestReview15PinnedReaders: readers holding old snapshots while a writer
// commits small transactions past the threshold many times over (plain
// restarts between the readers, restarts keeping the readers' pages at
// four times the threshold) read exactly their snapshot, every row of
// one commit; readers that start and end all the time never see a torn
// mix; and once they are gone the log restarts again.
func TestReview15PinnedReaders(t *testing.T) {
	for _, sm := range []string{"full", "normal"} {
		t.Run(sm, func(t *testing.T) {
			cfg := r15Few(sm)
			mem := ioback.NewMemFS()
			restore := defaultVFS.SetFSForTesting(mem)
			defer restore()
			path := r15Path()
			w := openConn(t, path, "libsql_sync="+sm)
			w.SetBusyTimeout(10 * time.Second)
			w.exec("PRAGMA page_size=1024")
			w.exec(fmt.Sprintf("PRAGMA wal_autocheckpoint=%d", cfg.autoCkpt))
			w.exec(fmt.Sprintf("BEGIN; CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER NOT NULL, v BLOB NOT NULL); "+
				"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < %d) INSERT INTO t SELECT x, 0, %s FROM c; COMMIT",
				cfg.rows, cr8ValSQL("x", "0", cfg.blob)))
			e := w.file.e
			// readAll checks that every row holds commit want's value
			// (want < 0: any one commit), and returns it.
			readAll := func(c *tconn, want int) (int, error) {
				rows, err := cr8Capi{c.Conn}.rows("SELECT id, k, v FROM t ORDER BY id")
				if err != nil {
					return 0, err
				}
				if len(rows) != cfg.rows {
					return 0, fmt.Errorf("%d rows", len(rows))
				}
				k0 := int(rows[0][1].(int64))
				if want >= 0 && k0 != want {
					return k0, fmt.Errorf("row 1 holds commit %d, the snapshot is at %d", k0, want)
				}
				for _, r := range rows {
					id, k, v := r[0].(int64), int(r[1].(int64)), r[2].([]byte)
					if k != k0 {
						return k0, fmt.Errorf("row %d holds commit %d, row 1 commit %d: a torn read", id, k, k0)
					}
					if string(v) != string(cr8Blob(id, k, cfg.blob)) {
						return k0, fmt.Errorf("row %d (k=%d): a blob not its own", id, k)
					}
				}
				return k0, nil
			}
			var commits atomic.Int64
			var wg sync.WaitGroup
			var mu sync.Mutex
			var bad []string
			report := func(s string) {
				mu.Lock()
				defer mu.Unlock()
				if len(bad) < 5 {
					bad = append(bad, s)
				}
			}
			done := make(chan struct{})
			// Short readers, starting and ending all the time.
			for r := 0; r < 2; r++ {
				c := openConn(t, path, "libsql_sync="+sm)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-done:
							return
						default:
						}
						if err := c.Exec("BEGIN"); err != nil {
							report(fmt.Sprintf("short reader BEGIN: %v", err))
							return
						}
						k, err := readAll(c, -1)
						if err == nil {
							_, err = readAll(c, k) // twice at the same snapshot
						}
						c.Exec("COMMIT")
						if err != nil {
							report(fmt.Sprintf("short reader: %v", err))
							return
						}
					}
				}()
			}
			// Long readers: each pins a snapshot for a while and reads it
			// again and again.
			long := openConn(t, path, "libsql_sync="+sm)
			restartsDuring := uint64(0)
			commit := func(i int) {
				q, _ := r15Update(cfg, i, nil)
				if err := w.Exec(q); err != nil {
					report(fmt.Sprintf("commit %d: %v", i, err))
				}
				commits.Store(int64(i))
			}
			i := 0
			for round := 0; round < 6; round++ {
				// Commits with no long reader: plain restarts.
				for range 60 {
					i++
					commit(i)
				}
				long.exec("BEGIN")
				snap, err := readAll(long, int(commits.Load()))
				if err != nil {
					report(fmt.Sprintf("long reader at %d: %v", commits.Load(), err))
				}
				r0 := e.Stats().Restarts
				// restartWanted must not hold while the reader pins an
				// older snapshot than the newest commit (unless it is a
				// committer's).
				for range 150 {
					i++
					commit(i)
					if i%10 == 0 {
						if _, err := readAll(long, snap); err != nil {
							report(fmt.Sprintf("long reader at %d, after commit %d: %v (stats %+v)", snap, i, err, e.Stats()))
						}
					}
				}
				restartsDuring += e.Stats().Restarts - r0
				if _, err := readAll(long, snap); err != nil {
					report(fmt.Sprintf("long reader at %d, at its end: %v", snap, err))
				}
				long.exec("COMMIT")
			}
			close(done)
			wg.Wait()
			st := e.Stats()
			t.Logf("%d commits: %d restarts (%d with a long reader pinned: keeping its pages), %d checkpoints, %d retaining restarts", i, st.Restarts, restartsDuring, st.Checkpoints, st.Retaining)
			for _, b := range bad {
				t.Error(b)
			}
			// 30-50 restarts alone; the background checkpointer runs
			// less on a loaded machine (8 seen beside other tests).
			if st.Restarts < 3 {
				t.Errorf("only %d restarts", st.Restarts)
			}
			// The log restarts again once the readers are gone.
			r1 := st.Restarts
			for range 3 * cfg.autoCkpt {
				i++
				commit(i)
			}
			deadline := time.Now().Add(2 * time.Second)
			for e.Stats().Restarts == r1 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if e.Stats().Restarts == r1 {
				t.Errorf("no restart after the readers ended: %+v", e.Stats())
			}
			if k, err := readAll(w, i); err != nil {
				t.Errorf("writer reads commit %d: %v", k, err)
			}
		})
	}
}

// TestReview15RestartWantedWithReader: with a reader pinning a snapshot
// older than the newest commit, restartWanted is false (the passive path
// runs, and the restart copies nothing the reader reads from the main
// file) however far past the threshold the log is; the reader still reads
// its snapshot.
func TestReview15RestartWantedWithReader(t *testing.T) {
	cfg := r15Few("normal")
	mem := ioback.NewMemFS()
	restore := defaultVFS.SetFSForTesting(mem)
	defer restore()
	path := r15Path()
	w := openConn(t, path, "libsql_sync=normal")
	w.exec("PRAGMA page_size=1024")
	w.exec("PRAGMA wal_autocheckpoint=0")
	w.exec(fmt.Sprintf("BEGIN; CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER NOT NULL, v BLOB NOT NULL); "+
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < %d) INSERT INTO t SELECT x, 0, %s FROM c; COMMIT",
		cfg.rows, cr8ValSQL("x", "0", cfg.blob)))
	e := w.file.e
	for i := 1; i <= 5; i++ {
		q, _ := r15Update(cfg, i, nil)
		w.exec(q)
	}
	r := openConn(t, path, "libsql_sync=normal")
	r.exec("BEGIN")
	if k := r.int("SELECT min(k) FROM t"); k != 5 {
		t.Fatalf("reader at %d", k)
	}
	for i := 6; i <= 60; i++ {
		q, _ := r15Update(cfg, i, nil)
		w.exec(q)
	}
	e.autoCkpt.Store(20) // without a commit to kick the checkpointer
	if e.restartWanted() {
		t.Errorf("restartWanted with a reader pinned at an old snapshot: %+v", e.Stats())
	}
	// Commits now kick the checkpointer: passive checkpoints up to the
	// reader's snapshot; no restart below four times the threshold.
	for i := 61; i <= 64; i++ {
		q, _ := r15Update(cfg, i, nil)
		w.exec(q)
	}
	time.Sleep(50 * time.Millisecond)
	if got := r.int("SELECT count(*) FROM t WHERE k = 5"); got != int64(cfg.rows) {
		t.Errorf("the reader sees %d rows at its snapshot, want %d", got, cfg.rows)
	}
	r.exec("COMMIT")
	deadline := time.Now().Add(2 * time.Second)
	for {
		if f, _ := e.log.Frames(); f < 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log did not restart after the reader ended: %+v", e.Stats())
		}
		q, _ := r15Update(cfg, 65, nil)
		w.exec(q)
		time.Sleep(5 * time.Millisecond)
	}
}

// r15MultiRun: W writers, each on its own connection, each commit of
// writer w setting k of its rows (ids w+1, w+1+W, w+1+2W: pages shared
// with the others) to its own count. Committers that have handed over the
// writer lock pin their snapshots (committersPin), which makes the
// restart copy up to them and wait. It returns per writer the commits
// acknowledged and those durable for sure.
func r15MultiRun(t *testing.T, sm string, fsys ioback.FS, path string, probe *r15Probe, perWriter int) (acked, floor []int, errs []error) {
	const W, blob = 4, 250
	restore := defaultVFS.SetFSForTesting(fsys)
	defer restore()
	acked, floor = make([]int, W), make([]int, W)
	for w := range W {
		acked[w], floor[w] = -1, -1
	}
	c0, err := cr8Open(t, path, "libsql_sync="+sm)
	if err != nil {
		return acked, floor, []error{err}
	}
	defer c0.Close()
	e := c0.file.e
	for _, s := range []string{"PRAGMA page_size=1024", "PRAGMA wal_autocheckpoint=16",
		fmt.Sprintf("BEGIN; CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER NOT NULL, v BLOB NOT NULL); "+
			"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < %d) INSERT INTO t SELECT x, 0, %s FROM c; COMMIT", 3*W, cr8ValSQL("x", "0", blob))} {
		if err := c0.Exec(s); err != nil {
			return acked, floor, []error{err}
		}
	}
	for w := range W {
		acked[w], floor[w] = 0, 0
	}
	if probe != nil {
		probe.e.Store(e)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range W {
		c, err := cr8Open(t, path, "libsql_sync="+sm)
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			restarts := e.Stats().Restarts
			for i := 1; i <= perWriter; i++ {
				q := fmt.Sprintf("UPDATE t SET k = %d, v = %s WHERE id IN (%d, %d, %d)", i, cr8ValSQL("id", fmt.Sprint(i), blob), w+1, w+1+W, w+1+2*W)
				if err := c.Exec(q); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("writer %d commit %d: %w", w, i, err))
					mu.Unlock()
					return
				}
				r := e.Stats().Restarts
				mu.Lock()
				acked[w] = i
				if sm == "full" {
					floor[w] = i
				} else if r > restarts {
					floor[w] = i - 1
				}
				mu.Unlock()
				restarts = r
			}
		}()
	}
	wg.Wait()
	return acked, floor, errs
}

// r15MultiCheck: every writer's rows hold one of its commits, all three
// the same, at least its durable one; then a commit and a clean close.
func r15MultiCheck(t *testing.T, fsys ioback.FS, path string, acked, floor []int) []string {
	const W, blob = 4, 250
	restore := defaultVFS.SetFSForTesting(fsys)
	defer restore()
	c, err := cr8Open(t, path, "libsql_sync=full")
	if err != nil {
		return []string{fmt.Sprintf("reopen: %v", err)}
	}
	defer c.Close()
	var bad []string
	if ic, err := cr8Text(c, "PRAGMA integrity_check"); err != nil || ic != "ok" {
		bad = append(bad, fmt.Sprintf("integrity_check: %q %v", ic, err))
	}
	rows, err := cr8Capi{c.Conn}.rows("SELECT id, k, v FROM t ORDER BY id")
	if err != nil {
		if strings.Contains(err.Error(), "no such table") && floor[0] < 0 {
			return bad
		}
		return append(bad, fmt.Sprintf("read: %v", err))
	}
	if len(rows) != 3*W {
		return append(bad, fmt.Sprintf("%d rows", len(rows)))
	}
	ks := map[int64]int{}
	for _, r := range rows {
		id, k, v := r[0].(int64), int(r[1].(int64)), r[2].([]byte)
		if string(v) != string(cr8Blob(id, k, blob)) {
			bad = append(bad, fmt.Sprintf("row %d (k=%d): a blob not its own", id, k))
		}
		ks[id] = k
	}
	for w := range W {
		a, b, d := ks[int64(w+1)], ks[int64(w+1+W)], ks[int64(w+1+2*W)]
		switch {
		case a != b || b != d:
			bad = append(bad, fmt.Sprintf("writer %d: its rows hold commits %d, %d, %d: a torn commit", w, a, b, d))
		case a < floor[w]:
			bad = append(bad, fmt.Sprintf("writer %d: commit %d recovered, %d durable (%d acknowledged): lost", w, a, floor[w], acked[w]))
		case a > acked[w]+1:
			bad = append(bad, fmt.Sprintf("writer %d: commit %d recovered, only %d acknowledged", w, a, acked[w]))
		}
	}
	if err := c.Exec("UPDATE t SET k = k WHERE id = 1"); err != nil {
		bad = append(bad, fmt.Sprintf("commit after the reopen: %v", err))
	}
	return bad
}

// TestReview15CrashConcurrentWriters: four writers at once (committers'
// pins, group commits) with a threshold of 16 frames, power losses at
// random mutating operations and at operations under the internal writer
// lock, sync=full and sync=normal.
func TestReview15CrashConcurrentWriters(t *testing.T) {
	for _, sm := range []string{"full", "normal"} {
		for _, lockedOnly := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s-locked%v", sm, lockedOnly), func(t *testing.T) {
				deadline := time.Now().Add(1200 * time.Millisecond)
				runs, fails, restarts := 0, 0, uint64(0)
				for s := 0; s < r15Seeds(300, 3000); s++ {
					if !cr8Soak() && time.Now().After(deadline) {
						break
					}
					rng := rand.New(rand.NewPCG(uint64(s), 0x4c))
					at := rng.Int64N(300)
					if lockedOnly {
						at = rng.Int64N(40)
					}
					ffs, p, crash := r15ArmCrash(uint64(s), at, lockedOnly)
					path := p.path
					stop := cr8Watchdog(fmt.Sprintf("review15 writers seed %d", s))
					acked, floor, errs := r15MultiRun(t, sm, ffs, path, p, 60)
					stop()
					if e := p.e.Load(); e != nil {
						restarts += e.Stats().Restarts
					}
					crashed, crashOp := crash()
					if crashed == nil {
						continue
					}
					runs++
					if bad := r15MultiCheck(t, crashed, path, acked, floor); len(bad) > 0 {
						fails++
						if fails <= 3 {
							t.Errorf("seed %d: power loss at op %d (%s); acknowledged %v, durable %v; errors %v:\n\t%s", s, at, crashOp, acked, floor, cr8First(errs, 2), strings.Join(bad, "\n\t"))
						}
					}
				}
				t.Logf("%d power losses, %d failed, %d restarts before them", runs, fails, restarts)
				if runs < r15MinRuns() {
					t.Errorf("only %d power losses", runs)
				}
			})
		}
	}
}
