package libsql

// Multi-tenant review: one database per tenant, hundreds or thousands open
// in one process, opened and closed all day. The tests measure what each
// open database costs (file descriptors, goroutines, Go heap, SQLite's C
// heap, io_uring rings, disk), whether closing gives it all back, how the
// driver behaves at the file-descriptor limit and without io_uring, whether
// many tenants written at once stay fair, and whether a tenant deleted and
// recreated under the same name starts empty. Where it makes sense the
// figures are compared with stock modernc.org/sqlite in WAL mode.
//
// Default mode opens 100 databases; LIBSQL_SOAK=1 opens 1000.
//
//	go test -run TenantsReview -count=1 -v .

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	iouringvfs "github.com/golibsql/libsql/iouring_vfs"
	"github.com/golibsql/libsql/iouring_vfs/ioback"
	"golang.org/x/sys/unix"
	_ "modernc.org/sqlite" // stock SQLite, registered as "sqlite"
)

// trTenants is how many tenant databases the scale tests open.
func trTenants() int {
	if soak() {
		return 1000
	}
	return 100
}

// trSnap is the process state the review compares.
type trSnap struct {
	fds, rings, goroutines int
	heap                   uint64 // Go heap in use (HeapAlloc after two GCs)
	rss                    uint64 // VmRSS in bytes
	engines                int    // libsql VFS engines open
}

func (s trSnap) String() string {
	return fmt.Sprintf("fds=%d rings=%d goroutines=%d heap=%.1fMiB rss=%.1fMiB engines=%d",
		s.fds, s.rings, s.goroutines, float64(s.heap)/(1<<20), float64(s.rss)/(1<<20), s.engines)
}

func trRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// trMeasure settles the process (goroutines that are ending, the garbage
// collector) and measures it.
func trMeasure(t testing.TB) trSnap {
	t.Helper()
	var s trSnap
	for range 3 {
		runtime.GC()
	}
	time.Sleep(20 * time.Millisecond)
	// Memory the Go heap freed goes back to the system in the background,
	// at the scavenger's pace (slower on a busy machine): return it now,
	// so RSS shows what is held rather than what is not yet given back.
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.heap = ms.HeapAlloc
	s.rss = trRSS()
	s.goroutines = runtime.NumGoroutine()
	s.fds, s.rings = lrFDs(t)
	s.engines = lrEnginesOnly(t)
	return s
}

// trOpen opens a tenant database with driver "libsql" (this driver, two
// connections at most) or "sqlite" (modernc, WAL mode, two connections).
func trOpen(driverName, path string) (*sql.DB, error) {
	switch driverName {
	case "libsql":
		return Open(path, WithMaxConns(2))
	case "sqlite":
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(FULL)")
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(2)
		db.SetMaxIdleConns(2)
		return db, nil
	}
	return nil, fmt.Errorf("unknown driver %q", driverName)
}

// trUse creates the tenant's table, writes a few rows and reads them back
// on two connections at once, which then stay idle in the pool.
func trUse(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS kv(k INTEGER PRIMARY KEY, v TEXT)"); err != nil {
		return err
	}
	for i := range 3 {
		if _, err := db.ExecContext(ctx, "INSERT INTO kv(v) VALUES (?)", fmt.Sprintf("row-%d", i)); err != nil {
			return err
		}
	}
	c1, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c1.Close()
	c2, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c2.Close()
	rows, err := c1.QueryContext(ctx, "SELECT v FROM kv")
	if err != nil {
		return err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
		var n2 int
		if err := c2.QueryRowContext(ctx, "SELECT count(*) FROM kv").Scan(&n2); err != nil {
			return err
		}
		if n2 < 3 {
			return fmt.Errorf("second connection sees %d rows", n2)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n < 3 {
		return fmt.Errorf("read %d rows, want at least 3", n)
	}
	return nil
}

// trDiskBytes is the disk space (allocated blocks) of the files in dir.
func trDiskBytes(t testing.TB, dir string) (total int64, files int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err == nil {
			total += st.Blocks * 512
			files++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return total, files
}

// trFootprint is what one run of trOpenMany measured.
type trFootprint struct {
	base, open, closed trSnap
	openTime           time.Duration // opening and using all databases
	closeTime          time.Duration
	disk               int64 // bytes of disk after close
	diskFiles          int
	cacheBytes         int // sum of the engines' page cache memory (libsql)
}

func (f trFootprint) per(n int) string {
	d := func(a, b uint64) float64 { return (float64(b) - float64(a)) / float64(n) }
	return fmt.Sprintf("fds %.2f, goroutines %.2f, rings %.3f, Go heap %.1f KiB, RSS %.1f KiB (SQLite's C heap is only in RSS), open+use %v, close %v, disk after close %.1f KiB in %.1f files",
		float64(f.open.fds-f.base.fds)/float64(n), float64(f.open.goroutines-f.base.goroutines)/float64(n),
		float64(f.open.rings-f.base.rings)/float64(n),
		d(f.base.heap, f.open.heap)/1024, d(f.base.rss, f.open.rss)/1024,
		f.openTime/time.Duration(n), f.closeTime/time.Duration(n),
		float64(f.disk)/float64(n)/1024, float64(f.diskFiles)/float64(n))
}

// trOpenMany opens n tenant databases under dir with driverName, uses
// each, measures, closes them all and measures again.
func trOpenMany(t *testing.T, driverName, dir string, n int) trFootprint {
	t.Helper()
	ctx := context.Background()
	var f trFootprint
	f.base = trMeasure(t)
	dbs := make([]*sql.DB, 0, n)
	defer func() {
		for _, db := range dbs {
			db.Close()
		}
	}()
	start := time.Now()
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("tenant-%04d.db", i))
		db, err := trOpen(driverName, p)
		if err != nil {
			t.Fatalf("%s: open tenant %d: %v", driverName, i, err)
		}
		dbs = append(dbs, db)
		if err := trUse(ctx, db); err != nil {
			t.Fatalf("%s: use tenant %d: %v", driverName, i, err)
		}
	}
	f.openTime = time.Since(start)
	if driverName == "libsql" {
		for _, db := range dbs {
			f.cacheBytes += trStats(t, db).CacheBytes
		}
	}
	f.open = trMeasure(t)
	start = time.Now()
	for _, db := range dbs {
		if err := db.Close(); err != nil {
			t.Errorf("%s: close: %v", driverName, err)
		}
	}
	dbs = nil
	f.closeTime = time.Since(start)
	f.closed = trMeasure(t)
	f.disk, f.diskFiles = trDiskBytes(t, dir)
	return f
}

// trStats reads PRAGMA libsql_stats.
func trStats(t testing.TB, db *sql.DB) iouringvfs.Stats {
	t.Helper()
	var js string
	if err := db.QueryRow("PRAGMA libsql_stats").Scan(&js); err != nil {
		t.Fatalf("libsql_stats: %v", err)
	}
	var s iouringvfs.Stats
	if err := json.Unmarshal([]byte(js), &s); err != nil {
		t.Fatalf("libsql_stats %s: %v", js, err)
	}
	return s
}

// trWarmUp opens, uses and closes a few databases of each driver, so that
// one-time costs (the ring pool, SQLite's initialisation, sync.Pools) are
// not counted as per-database costs.
func trWarmUp(t *testing.T) {
	t.Helper()
	for _, drv := range []string{"libsql", "sqlite"} {
		dir := t.TempDir()
		trOpenMany(t, drv, dir, 4)
	}
}

// TestTenantsReviewFootprint measures what an idle tenant database costs
// with this driver and with modernc in WAL mode, and checks that the costs
// are bounded per database and go away on close.
func TestTenantsReviewFootprint(t *testing.T) {
	n := trTenants()
	trWarmUp(t)
	res := map[string]trFootprint{}
	for _, drv := range []string{"libsql", "sqlite"} {
		dir := t.TempDir()
		f := trOpenMany(t, drv, dir, n)
		res[drv] = f
		t.Logf("%-6s %d databases: base   %v", drv, n, f.base)
		t.Logf("%-6s %d databases: open   %v", drv, n, f.open)
		t.Logf("%-6s %d databases: closed %v", drv, n, f.closed)
		t.Logf("%-6s per database: %s", drv, f.per(n))
	}
	ours := res["libsql"]
	t.Logf("libsql shared page caches: %.1f KiB per database in use (capacity %d pages each, no process-wide bound)",
		float64(ours.cacheBytes)/float64(n)/1024, iouringvfs.DefaultPageCache)

	// Per database: the engine holds the main file and the log, whatever
	// the number of connections.
	if per := float64(ours.open.fds-ours.base.fds) / float64(n); per > 2.05 {
		t.Errorf("libsql: %.2f file descriptors per open database, want at most 2 (db + log)", per)
	}
	// The engine's checkpointer and database/sql's opener goroutine.
	if per := float64(ours.open.goroutines-ours.base.goroutines) / float64(n); per > 2.05 {
		t.Errorf("libsql: %.2f goroutines per open database, want at most 2", per)
	}
	// Rings are one pool per process, not per database.
	if ours.open.rings > 64 || ours.open.rings-ours.base.rings > 4 {
		t.Errorf("libsql: rings went from %d to %d with %d databases: rings must not scale with databases", ours.base.rings, ours.open.rings, n)
	}
	if ours.open.engines-ours.base.engines != n {
		t.Errorf("libsql: %d engines for %d open databases", ours.open.engines-ours.base.engines, n)
	}
	// Go heap per idle database: bounded and small (SQLite's memory is
	// in the C heap, measured apart).
	if per := (float64(ours.open.heap) - float64(ours.base.heap)) / float64(n); per > 512<<10 {
		t.Errorf("libsql: %.0f KiB of Go heap per idle database", per/1024)
	}
	for drv, f := range res {
		if f.closed.fds != f.base.fds {
			t.Errorf("%s: %d file descriptors after closing every database, %d before", drv, f.closed.fds, f.base.fds)
		}
		if f.closed.goroutines > f.base.goroutines+2 {
			t.Errorf("%s: %d goroutines after closing every database, %d before", drv, f.closed.goroutines, f.base.goroutines)
		}
		if f.closed.engines != f.base.engines {
			t.Errorf("%s: %d engines after closing every database, %d before", drv, f.closed.engines, f.base.engines)
		}
		if grow := int64(f.closed.heap) - int64(f.base.heap); grow > 4<<20 {
			t.Errorf("%s: Go heap %d KiB larger after closing every database", drv, grow>>10)
		}
	}
}

// TestTenantsReviewDiskAfterClose compares the disk space an idle, closed
// tenant leaves behind: stock SQLite deletes its -wal (and -shm) at the
// last close; the engine kept the log with its reserved space (1 MiB, 129
// times a small tenant's 8 KiB), now it truncates it. For a service with
// thousands of small tenants, that space was the bulk of its disk use.
func TestTenantsReviewDiskAfterClose(t *testing.T) {
	const n = 20
	per := map[string]float64{}
	for _, drv := range []string{"libsql", "sqlite"} {
		dir := t.TempDir()
		f := trOpenMany(t, drv, dir, n)
		per[drv] = float64(f.disk) / n
		ents, _ := os.ReadDir(dir)
		var names []string
		for _, e := range ents[:min(len(ents), 3)] {
			fi, _ := e.Info()
			names = append(names, fmt.Sprintf("%s(%d B)", e.Name(), fi.Size()))
		}
		t.Logf("%-6s %d closed tenants of 3 rows: %.1f KiB of disk each in %.1f files, e.g. %s",
			drv, n, per[drv]/1024, float64(f.diskFiles)/n, strings.Join(names, " "))
	}
	if per["libsql"] > 2*per["sqlite"] {
		t.Errorf("a closed 3-row tenant takes %.0fx the disk of stock SQLite's (%.0f KiB against %.0f KiB): the -wal keeps space after a clean close",
			per["libsql"]/per["sqlite"], per["libsql"]/1024, per["sqlite"]/1024)
	}
}

// TestTenantsReviewOpenCloseCycles opens and closes the same number of
// tenant databases five times and checks that nothing grows from cycle to
// cycle: descriptors, goroutines, rings, engines, Go heap (and RSS,
// loosely: it holds SQLite's C heap).
func TestTenantsReviewOpenCloseCycles(t *testing.T) {
	n := trTenants()
	trWarmUp(t)
	var snaps []trSnap
	first := trMeasure(t)
	for cycle := range 5 {
		dir := t.TempDir()
		f := trOpenMany(t, "libsql", dir, n)
		snaps = append(snaps, f.closed)
		t.Logf("cycle %d: open %v (%v), closed %v", cycle, f.open, f.openTime, f.closed)
		if f.open.fds-f.base.fds != 2*n {
			t.Errorf("cycle %d: %d descriptors for %d databases", cycle, f.open.fds-f.base.fds, n)
		}
	}
	last := snaps[len(snaps)-1]
	if last.fds != first.fds || last.rings != first.rings || last.engines != first.engines {
		t.Errorf("after 5 cycles: %v, before: %v", last, first)
	}
	if last.goroutines > first.goroutines+2 {
		t.Errorf("goroutines grew over 5 cycles: %d → %d", first.goroutines, last.goroutines)
	}
	// Growth between the second and the last cycle (the first may still
	// fill pools): a leak of even 1 KiB per database opened shows here.
	if grow := int64(last.heap) - int64(snaps[1].heap); grow > int64(n)*1024+(1<<20) {
		t.Errorf("Go heap grew by %d KiB between cycle 2 and 5 (%d databases a cycle)", grow>>10, n)
	}
	if grow := int64(last.rss) - int64(snaps[1].rss); grow > 32<<20 {
		t.Errorf("RSS grew by %d MiB between cycle 2 and 5", grow>>20)
	}
}

// TestTenantsReviewPageCacheScales shows that the engines' shared page
// caches are per database with no process-wide budget: each tenant that
// reads its data keeps up to page_cache pages (16 MiB by default) while
// it is open, on top of SQLite's own per-connection cache. It reports the
// figures; it fails only if a closed engine's cache is not given back.
func TestTenantsReviewPageCacheScales(t *testing.T) {
	const n, rows = 8, 1000 // about 1 MiB of rows per tenant
	ctx := context.Background()
	dir := t.TempDir()
	base := trMeasure(t)
	var dbs []*sql.DB
	total := 0
	for i := range n {
		db, err := Open(filepath.Join(dir, fmt.Sprintf("big-%d.db", i)), WithMaxConns(1))
		if err != nil {
			t.Fatal(err)
		}
		dbs = append(dbs, db)
		mustExec(t, db, "CREATE TABLE blob(id INTEGER PRIMARY KEY, b BLOB)")
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for range rows {
			if _, err := tx.Exec("INSERT INTO blob(b) VALUES (randomblob(1000))"); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		mustExec(t, db, "PRAGMA wal_checkpoint(TRUNCATE)")
		// A fresh connection reads everything through the engine.
		db.SetMaxIdleConns(0)
		db.SetMaxIdleConns(1)
		var sum int64
		if err := db.QueryRow("SELECT sum(length(b)) FROM blob").Scan(&sum); err != nil {
			t.Fatal(err)
		}
		total += trStats(t, db).CacheBytes
	}
	open := trMeasure(t)
	t.Logf("%d tenants with ~1 MiB each, all read once: engine page caches hold %.1f MiB (%.0f KiB each); Go heap +%.1f MiB",
		n, float64(total)/(1<<20), float64(total)/n/1024, (float64(open.heap)-float64(base.heap))/(1<<20))
	t.Logf("worst case at the defaults: %d pages × 4 KiB = %d MiB per open tenant, 1000 tenants = %d GiB; nothing bounds the sum",
		iouringvfs.DefaultPageCache, iouringvfs.DefaultPageCache*4096>>20, 1000*iouringvfs.DefaultPageCache*4096>>30)
	for _, db := range dbs {
		checkIntegrity(t, db)
		db.Close()
	}
	closed := trMeasure(t)
	if grow := int64(closed.heap) - int64(base.heap); grow > 4<<20 {
		t.Errorf("Go heap %d KiB above baseline after closing the tenants (page cache memory not given back)", grow>>10)
	}
}

// trChild runs the test named name in a child process of the test binary
// with env set, and returns its combined output and error.
func trChild(t *testing.T, name string, env ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+name+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestTenantsReviewNoFileLimit opens tenant databases in a child process
// whose RLIMIT_NOFILE soft limit is low, until an open fails. The error
// must be an error (no panic), say "too many open files" and name the file;
// the databases already open must keep working; closing one must let the
// next open succeed; and no descriptor may leak from the failed opens.
func TestTenantsReviewNoFileLimit(t *testing.T) {
	if os.Getenv("TR_CHILD") == "nofile" {
		trNoFileChild(t)
		return
	}
	out, err := trChild(t, "TestTenantsReviewNoFileLimit", "TR_CHILD=nofile")
	t.Logf("child output:\n%s", out)
	if err != nil {
		t.Errorf("child: %v", err)
	}
	if strings.Contains(out, "panic:") {
		t.Errorf("the child panicked")
	}
}

func trNoFileChild(t *testing.T) {
	ctx := context.Background()
	for _, drv := range []string{"libsql", "sqlite"} {
		t.Run(drv, func(t *testing.T) {
			var old unix.Rlimit
			if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			// Warm up (rings, SQLite) before the limit.
			if db, err := trOpen(drv, filepath.Join(dir, "warm.db")); err == nil {
				trUse(ctx, db)
				db.Close()
			}
			fds, _ := lrFDs(t)
			lim := unix.Rlimit{Cur: uint64(fds + 40), Max: old.Max}
			if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
				t.Fatal(err)
			}
			defer unix.Setrlimit(unix.RLIMIT_NOFILE, &old)

			var dbs []*sql.DB
			defer func() {
				for _, db := range dbs {
					db.Close()
				}
			}()
			var openErr error
			var failedPath string
			for i := range 100 {
				p := filepath.Join(dir, fmt.Sprintf("tenant-%03d.db", i))
				db, err := trOpen(drv, p)
				if err == nil {
					// One connection, kept idle: the open database needs no
					// new descriptor to keep working.
					db.SetMaxOpenConns(1)
					err = db.PingContext(ctx)
					if err == nil {
						_, err = db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS kv(k INTEGER PRIMARY KEY, v TEXT)")
					}
					if err == nil {
						_, err = db.ExecContext(ctx, "INSERT INTO kv(v) VALUES ('x')")
					}
					if err != nil {
						db.Close()
					}
				}
				if err != nil {
					openErr, failedPath = err, p
					break
				}
				dbs = append(dbs, db)
			}
			if openErr == nil {
				t.Fatalf("100 databases opened under a limit of %d descriptors", lim.Cur)
			}
			t.Logf("%s: database %d failed under RLIMIT_NOFILE=%d: %v (%T)", drv, len(dbs), lim.Cur, openErr, openErr)
			// Required of this driver; reported for modernc.
			report := t.Errorf
			if drv != "libsql" {
				report = t.Logf
			}
			if !strings.Contains(strings.ToLower(openErr.Error()), "too many open files") {
				report("%s: the error does not say \"too many open files\": %v", drv, openErr)
			}
			if !strings.Contains(openErr.Error(), filepath.Base(failedPath)) {
				report("%s: the error does not name the file %s: %v", drv, filepath.Base(failedPath), openErr)
			}
			fdsAt, _ := lrFDs(t)
			// Retry the failed open a few times: no descriptor may leak.
			for range 5 {
				if db, err := trOpen(drv, failedPath); err == nil {
					if db.PingContext(ctx) == nil {
						t.Errorf("%s: the open succeeded at the limit", drv)
					}
					db.Close()
				}
			}
			if fdsNow, _ := lrFDs(t); fdsNow != fdsAt {
				t.Errorf("%s: failed opens leaked %d descriptors", drv, fdsNow-fdsAt)
			}
			// The databases already open keep working.
			for i, db := range dbs {
				var n int
				if _, err := db.ExecContext(ctx, "INSERT INTO kv(v) VALUES ('after')"); err != nil {
					t.Errorf("%s: tenant %d: write after the limit was hit: %v", drv, i, err)
					continue
				}
				if err := db.QueryRowContext(ctx, "SELECT count(*) FROM kv").Scan(&n); err != nil || n != 2 {
					t.Errorf("%s: tenant %d: read after the limit was hit: %d rows, %v", drv, i, n, err)
				}
			}
			// Closing one tenant makes room for the one that failed.
			if len(dbs) > 0 {
				dbs[0].Close()
				dbs = dbs[1:]
				db, err := trOpen(drv, failedPath)
				if err == nil {
					err = db.PingContext(ctx)
					if err == nil {
						_, err = db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS kv(k INTEGER PRIMARY KEY, v TEXT)")
					}
					dbs = append(dbs, db)
				}
				if err != nil {
					t.Errorf("%s: open after closing a tenant: %v", drv, err)
				}
			}
			for _, db := range dbs {
				checkIntegrity(t, db)
			}
		})
	}
}

// TestTenantsReviewUringFallback runs, in a child process where io_uring
// setup fails (as with an exhausted RLIMIT_MEMLOCK: ENOMEM), many tenant
// opens with the default io=auto: every open must succeed on portable
// I/O, with exactly one log line for the whole process. It also reports,
// with RLIMIT_MEMLOCK at 0, whether this kernel still creates rings.
func TestTenantsReviewUringFallback(t *testing.T) {
	switch os.Getenv("TR_CHILD") {
	case "fallback":
		trFallbackChild(t)
		return
	case "memlock0":
		trMemlockChild(t)
		return
	}
	out, err := trChild(t, "TestTenantsReviewUringFallback", "TR_CHILD=fallback")
	t.Logf("fallback child:\n%s", out)
	if err != nil {
		t.Errorf("fallback child: %v", err)
	}
	out, err = trChild(t, "TestTenantsReviewUringFallback", "TR_CHILD=memlock0")
	t.Logf("memlock=0 child:\n%s", out)
	if err != nil {
		t.Errorf("memlock=0 child: %v", err)
	}
}

func trFallbackChild(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	ioback.Logf = func(format string, args ...any) {
		mu.Lock()
		lines = append(lines, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	restore := ioback.FailSetupForTesting(syscall.ENOMEM)
	defer restore()
	ctx := context.Background()
	dir := t.TempDir()
	const n = 50
	var dbs []*sql.DB
	for i := range n {
		db, err := trOpen("libsql", filepath.Join(dir, fmt.Sprintf("t%d.db", i)))
		if err != nil {
			t.Fatal(err)
		}
		dbs = append(dbs, db)
		if err := trUse(ctx, db); err != nil {
			t.Fatalf("tenant %d without io_uring: %v", i, err)
		}
	}
	ios := map[string]int{}
	for _, db := range dbs {
		ios[trStats(t, db).IO]++
		checkIntegrity(t, db)
		db.Close()
	}
	_, rings := lrFDs(t)
	t.Logf("%d tenants: backends %v, rings %d, log lines %q", n, ios, rings, lines)
	if len(lines) != 1 {
		t.Errorf("%d fallback log lines for %d databases, want 1", len(lines), n)
	}
	if ios["portable"] != n {
		t.Errorf("backends %v, want portable for all %d", ios, n)
	}
	// io=uring must fail clearly, not fall back.
	db, err := Open(filepath.Join(dir, "uring.db"), WithIO("uring"))
	if err == nil {
		err = db.Ping()
		db.Close()
	}
	t.Logf("io=uring without io_uring: %v", err)
	if err == nil || !strings.Contains(err.Error(), "io_uring") {
		t.Errorf("io=uring without io_uring: %v, want an error naming io_uring", err)
	}
}

func trMemlockChild(t *testing.T) {
	var lim unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim)
	zero := unix.Rlimit{Cur: 0, Max: lim.Max}
	if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &zero); err != nil {
		t.Skipf("setrlimit MEMLOCK: %v", err)
	}
	var lines []string
	ioback.Logf = func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	ctx := context.Background()
	dir := t.TempDir()
	const n = 50
	var dbs []*sql.DB
	var wg sync.WaitGroup
	for i := range n {
		db, err := trOpen("libsql", filepath.Join(dir, fmt.Sprintf("t%d.db", i)))
		if err != nil {
			t.Fatal(err)
		}
		dbs = append(dbs, db)
		if err := trUse(ctx, db); err != nil {
			t.Fatalf("tenant %d with RLIMIT_MEMLOCK=0: %v", i, err)
		}
	}
	// Checkpoints read batches through the rings: make them busy at once
	// so the pool grows to its maximum.
	for _, db := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 40 {
				if _, err := db.Exec("INSERT INTO kv(v) VALUES (randomblob(3000))"); err != nil {
					t.Error(err)
					return
				}
			}
			db.Exec("PRAGMA wal_checkpoint(PASSIVE)")
		}()
	}
	wg.Wait()
	ios := map[string]int{}
	for _, db := range dbs {
		ios[trStats(t, db).IO]++
	}
	_, rings := lrFDs(t)
	for _, db := range dbs {
		checkIntegrity(t, db)
		db.Close()
	}
	t.Logf("RLIMIT_MEMLOCK=0: %d tenants, backends %v, %d rings, log lines %q", n, ios, rings, lines)
	if len(lines) > 1 {
		t.Errorf("%d fallback log lines, want at most 1", len(lines))
	}
}

// trWriteLoad has each of g goroutines write its own tenant database
// (single-row autocommit inserts at sync=full) for d; it returns the
// commits of each and the longest commit of each.
func trWriteLoad(t *testing.T, drv string, dbs []*sql.DB, d time.Duration) (counts []int64, worst []time.Duration) {
	t.Helper()
	counts = make([]int64, len(dbs))
	worst = make([]time.Duration, len(dbs))
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	var failed atomic.Bool
	for i, db := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			payload := strings.Repeat("x", 200)
			for time.Now().Before(deadline) && !failed.Load() {
				s := time.Now()
				if _, err := db.Exec("INSERT INTO kv(v) VALUES (?)", payload); err != nil {
					t.Errorf("%s: tenant %d: %v", drv, i, err)
					failed.Store(true)
					return
				}
				worst[i] = max(worst[i], time.Since(s))
				counts[i]++
			}
		}()
	}
	wg.Wait()
	return counts, worst
}

// TestTenantsReviewConcurrentTenants writes 16 tenant databases from 16
// goroutines at once at sync=full, with a low checkpoint threshold so every
// engine checkpoints in the background meanwhile, while a 17th goroutine
// opens and closes other tenants. Every writer must make progress (no
// engine starves another), no commit may stall for long, and every
// database must pass integrity_check. modernc in WAL mode runs the same
// load for comparison.
func TestTenantsReviewConcurrentTenants(t *testing.T) {
	const g = 16
	d := 1500 * time.Millisecond
	if soak() {
		d = 10 * time.Second
	}
	for _, drv := range []string{"libsql", "sqlite"} {
		t.Run(drv, func(t *testing.T) {
			dir := t.TempDir()
			var dbs []*sql.DB
			for i := range g {
				db, err := trOpen(drv, filepath.Join(dir, fmt.Sprintf("w%02d.db", i)))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				db.SetMaxOpenConns(1)
				mustExec(t, db, "CREATE TABLE kv(k INTEGER PRIMARY KEY, v TEXT)")
				mustExec(t, db, "PRAGMA wal_autocheckpoint=100")
				dbs = append(dbs, db)
			}
			// Tenants opening and closing meanwhile.
			stop := make(chan struct{})
			var churnWorst time.Duration
			var churned int
			churnDone := make(chan struct{})
			go func() {
				defer close(churnDone)
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					s := time.Now()
					db, err := trOpen(drv, filepath.Join(dir, fmt.Sprintf("churn%d.db", i%4)))
					if err == nil {
						err = trUse(context.Background(), db)
						db.Close()
					}
					if err != nil {
						t.Errorf("%s: churn open: %v", drv, err)
						return
					}
					churnWorst = max(churnWorst, time.Since(s))
					churned++
				}
			}()
			counts, worst := trWriteLoad(t, drv, dbs, d)
			close(stop)
			<-churnDone
			var total int64
			for _, c := range counts {
				total += c
			}
			mean := float64(total) / g
			lo, hi := slices.Min(counts), slices.Max(counts)
			maxLat := slices.Max(worst)
			t.Logf("%s: %d tenants × sync=full: %.0f commits/s in all, per tenant min %d mean %.0f max %d, worst commit %v; churn: %d open/use/close, worst %v",
				drv, g, float64(total)/d.Seconds(), lo, mean, hi, maxLat.Round(time.Millisecond), churned, churnWorst.Round(time.Millisecond))
			if float64(lo) < 0.2*mean {
				t.Errorf("%s: a tenant made %d commits against a mean of %.0f: starved", drv, lo, mean)
			}
			// Stock SQLite's commits wait in its busy handler's sleeps, and
			// took 1.5 s under a loaded machine's soak: its figures are for
			// comparison, only ours must stay under the bound.
			if maxLat > time.Second && drv == "libsql" {
				t.Errorf("%s: a commit took %v", drv, maxLat)
			}
			for _, db := range dbs {
				checkIntegrity(t, db)
			}
			if drv == "libsql" {
				var ckpts uint64
				for _, db := range dbs {
					ckpts += trStats(t, db).Checkpoints
				}
				t.Logf("libsql: %d checkpoints ran in the %d engines", ckpts, g)
			}
		})
	}
}

// trHoldLock takes, through a file description of its own, the lock a
// stock SQLite in another process (or another process of this driver)
// holds on a database it has open, and returns a function that lets go.
func trHoldLock(t *testing.T, path string) func() {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0x40000000, Len: 512}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk); err != nil {
		f.Close()
		t.Fatalf("lock %s: %v", path, err)
	}
	return func() { f.Close() }
}

// trStallProbe runs slow (an open of one tenant that takes long) in a
// goroutine and, once it is under way, opens an unrelated tenant and closes
// another one that is open: it returns how long slow took and how long the
// unrelated open and close took.
func trStallProbe(t *testing.T, dir string, slow func() error) (slowErr error, slowTook, openTook, closeTook time.Duration) {
	t.Helper()
	other, err := Open(filepath.Join(dir, fmt.Sprintf("other-%d.db", time.Now().UnixNano())), WithMaxConns(1))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	mustExec(t, other, "CREATE TABLE IF NOT EXISTS t(x)")

	slowDone := make(chan error, 1)
	started := time.Now()
	go func() { slowDone <- slow() }()
	time.Sleep(30 * time.Millisecond) // slow is inside its open now

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		s := time.Now()
		fresh, err := Open(filepath.Join(dir, fmt.Sprintf("fresh-%d.db", time.Now().UnixNano())))
		if err == nil {
			err = fresh.Ping()
			fresh.Close()
		}
		openTook = time.Since(s)
		if err != nil {
			t.Errorf("open of an unrelated tenant: %v", err)
		}
	}()
	go func() {
		defer wg.Done()
		s := time.Now()
		if err := other.Close(); err != nil {
			t.Errorf("close of an unrelated tenant: %v", err)
		}
		closeTook = time.Since(s)
	}()
	wg.Wait()
	slowErr = <-slowDone
	slowTook = time.Since(started)
	return
}

// TestTenantsReviewLockedTenantStallsOthers: one tenant's open is slow —
// its file is held by another process (a backup tool, the sqlite3 shell, a
// previous instance still exiting), so the open waits lockGrace (500 ms)
// and fails; or its log is large and must be recovered. That tenant may
// wait; but the wait happens inside the VFS's process-wide mutex
// (VFS.Open holds v.mu across fileEngine → openEngine → lockOwner and
// wal.Open), so every other tenant's open, and the last close of every
// other tenant (releaseEngine takes v.mu), waits with it.
func TestTenantsReviewLockedTenantStallsOthers(t *testing.T) {
	t.Run("locked by another process", func(t *testing.T) {
		dir := t.TempDir()
		locked := filepath.Join(dir, "locked.db")
		release := trHoldLock(t, locked)
		defer release()
		lerr, took, openTook, closeTook := trStallProbe(t, dir, func() error {
			db, err := Open(locked)
			if err == nil {
				err = db.Ping()
				db.Close()
			}
			return err
		})
		t.Logf("locked tenant: %v after %v; meanwhile an unrelated open took %v, an unrelated close %v",
			lerr, took.Round(time.Millisecond), openTook.Round(time.Millisecond), closeTook.Round(time.Millisecond))
		if lerr == nil || !strings.Contains(lerr.Error(), "locked") {
			t.Errorf("open of the locked tenant: %v, want a locked error", lerr)
		}
		if openTook > 250*time.Millisecond || closeTook > 250*time.Millisecond {
			t.Errorf("an unrelated tenant's open took %v and close %v while a locked tenant's open waited for its file lock: the wait holds VFS.mu (iouring_vfs/vfs.go VFS.Open → fileEngine → engine.go openEngine → lockOwner)",
				openTook.Round(time.Millisecond), closeTook.Round(time.Millisecond))
		}
	})
	t.Run("log recovery", func(t *testing.T) {
		dir := t.TempDir()
		mb := 32
		if soak() {
			mb = 256
		}
		// A tenant with a large log, copied while open (a crash image).
		src := filepath.Join(dir, "big.db")
		db, err := Open(src, WithSync("off"), WithMaxConns(1))
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, db, "PRAGMA wal_autocheckpoint=0")
		mustExec(t, db, "CREATE TABLE b(x)")
		mustExec(t, db, "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i < ?) INSERT INTO b SELECT randomblob(3000) FROM s", mb*1024/4)
		dst := filepath.Join(dir, "crashed.db")
		for _, suf := range []string{"", "-wal"} {
			b, err := os.ReadFile(src + suf)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst+suf, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if fi, err := os.Stat(dst + "-wal"); err == nil {
			t.Logf("crash image: log of %d MiB", fi.Size()>>20)
		}
		db.Close()
		rerr, took, openTook, closeTook := trStallProbe(t, dir, func() error {
			db, err := Open(dst)
			if err != nil {
				return err
			}
			defer db.Close()
			var n int
			return db.QueryRow("SELECT count(*) FROM b").Scan(&n)
		})
		t.Logf("recovering tenant: %v after %v; meanwhile an unrelated open took %v, an unrelated close %v",
			rerr, took.Round(time.Millisecond), openTook.Round(time.Millisecond), closeTook.Round(time.Millisecond))
		if rerr != nil {
			t.Errorf("recovery: %v", rerr)
		}
		if took > 200*time.Millisecond && (openTook > took/2 || closeTook > took/2) {
			t.Errorf("an unrelated tenant's open (%v) or close (%v) waited for another tenant's log recovery (%v): wal.Open runs under VFS.mu",
				openTook.Round(time.Millisecond), closeTook.Round(time.Millisecond), took.Round(time.Millisecond))
		}
	})
}

// TestTenantsReviewUringSetupErrorSticky: the first database a process
// opens sets up the io_uring ring pool, once (ioback.newUring's
// sync.Once), and the VFS caches the backend it got for io=auto
// (VFS.fsFor). If that first open happens while the process is out of file
// descriptors (a tenant service under load at start-up, exactly when
// RLIMIT_NOFILE bites), io_uring_setup fails with EMFILE, and the process
// stays on portable I/O for good, saying io_uring is unavailable; io=uring
// opens fail for good, although descriptors are free again a moment later.
func TestTenantsReviewUringSetupErrorSticky(t *testing.T) {
	if os.Getenv("TR_CHILD") == "sticky" {
		trStickyChild(t)
		return
	}
	out, err := trChild(t, "TestTenantsReviewUringSetupErrorSticky", "TR_CHILD=sticky")
	t.Logf("child output:\n%s", out)
	if err != nil {
		t.Errorf("child: %v", err)
	}
}

func trStickyChild(t *testing.T) {
	var lines []string
	ioback.Logf = func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	dir := t.TempDir()
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	// Open a regular file once first, so that the Go runtime's poller
	// (an eventfd) exists before descriptors run out.
	if _, err := os.ReadFile("/proc/self/status"); err != nil {
		t.Fatal(err)
	}
	fds, _ := lrFDs(t)
	tight := unix.Rlimit{Cur: uint64(fds + 8), Max: old.Max}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &tight); err != nil {
		t.Fatal(err)
	}
	// Take every descriptor left (gaps included) with raw opens.
	var fillers []int
	for {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			break
		}
		fillers = append(fillers, fd)
	}
	db, err := Open(filepath.Join(dir, "first.db"))
	if err == nil {
		err = db.Ping()
		db.Close()
	}
	for _, fd := range fillers {
		unix.Close(fd)
	}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	nfd, rings := lrFDs(t)
	t.Logf("first open with no descriptor free (limit %d): %v; now %d descriptors, %d rings", tight.Cur, err, nfd, rings)
	if err == nil {
		t.Skip("the first open succeeded without a free descriptor")
	}
	db, err = Open(filepath.Join(dir, "second.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustExec(t, db, "CREATE TABLE t(x)")
	io := trStats(t, db).IO
	t.Logf("next open, descriptors free again: io=%s; log: %q", io, lines)
	if io != "uring" {
		t.Errorf("the process stays on %s I/O after one open failed for want of descriptors (ioback/uring_linux.go newUring caches the setup error in a sync.Once; iouring_vfs/vfs.go fsFor caches the fallback)", io)
	}
	db2, err := Open(filepath.Join(dir, "third.db"), WithIO("uring"))
	if err == nil {
		err = db2.Ping()
		db2.Close()
	}
	if err != nil {
		t.Errorf("io=uring fails for good after a transient EMFILE: %v", err)
	}
}

// TestTenantsReviewSameFileTwoHandles opens one file through two *sql.DB
// (by two spellings of its name), writes through both and closes them in
// both orders: one engine serves both, the data survives either order, and
// no engine or descriptor is left behind.
func TestTenantsReviewSameFileTwoHandles(t *testing.T) {
	base := trMeasure(t)
	for _, firstClosed := range []int{0, 1} {
		dir := t.TempDir()
		p := filepath.Join(dir, "shared.db")
		alias := filepath.Join(dir, ".", "sub", "..", "shared.db")
		if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		a, err := trOpen("libsql", p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := trOpen("libsql", alias)
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, a, "CREATE TABLE kv(k INTEGER PRIMARY KEY, v TEXT)")
		mustExec(t, b, "INSERT INTO kv(v) VALUES ('from b')")
		mustExec(t, a, "INSERT INTO kv(v) VALUES ('from a')")
		if got := lrEnginesOnly(t) - base.engines; got != 1 {
			t.Errorf("%d engines for one file opened twice", got)
		}
		dbs := []*sql.DB{a, b}
		if err := dbs[firstClosed].Close(); err != nil {
			t.Fatal(err)
		}
		rest := dbs[1-firstClosed]
		mustExec(t, rest, "INSERT INTO kv(v) VALUES ('after close')")
		var n int
		if err := rest.QueryRow("SELECT count(*) FROM kv").Scan(&n); err != nil || n != 3 {
			t.Errorf("order %d: %d rows, %v", firstClosed, n, err)
		}
		if err := rest.Close(); err != nil {
			t.Fatal(err)
		}
		// Stock SQLite sees everything after the clean close.
		st, err := sql.Open("sqlite", "file:"+p)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.QueryRow("SELECT count(*) FROM kv").Scan(&n); err != nil || n != 3 {
			t.Errorf("order %d: stock SQLite sees %d rows, %v", firstClosed, n, err)
		}
		st.Close()
		c, err := trOpen("libsql", p)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRow("SELECT count(*) FROM kv").Scan(&n); err != nil || n != 3 {
			t.Errorf("order %d: reopened: %d rows, %v", firstClosed, n, err)
		}
		checkIntegrity(t, c)
		c.Close()
	}
	after := trMeasure(t)
	// The process's ring pool may have been created meanwhile: rings aside.
	if after.engines != base.engines || after.fds-after.rings != base.fds-base.rings {
		t.Errorf("before %v, after %v", base, after)
	}
}

// trCount returns the rows of kv, or -1 if the table does not exist.
func trCount(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	err := db.QueryRow("SELECT count(*) FROM kv").Scan(&n)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return -1
		}
		t.Fatalf("count: %v", err)
	}
	return n
}

// TestTenantsReviewDeleteRecreate deletes a tenant (its file and log) and
// creates it again under the same name, while another tenant stays open:
// after a clean close, while its *sql.DB is still open (the engine still
// holds the deleted file), and removing only the main file (code written
// for stock SQLite, which deletes its -wal at close, does that). The new
// tenant must be empty every time, never the old engine's pages.
func TestTenantsReviewDeleteRecreate(t *testing.T) {
	dir := t.TempDir()
	keep, err := trOpen("libsql", filepath.Join(dir, "keep.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	if err := trUse(context.Background(), keep); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "tenant.db")
	fill := func(db *sql.DB, rows int) {
		mustExec(t, db, "CREATE TABLE kv(k INTEGER PRIMARY KEY, v TEXT)")
		for range rows {
			mustExec(t, db, "INSERT INTO kv(v) VALUES (randomblob(500))")
		}
	}
	removeAll := func() {
		for _, s := range []string{"", "-wal", "-shm", "-journal"} {
			if err := os.Remove(p + s); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
		}
	}

	t.Run("after close", func(t *testing.T) {
		for round := range 3 {
			db, err := trOpen("libsql", p)
			if err != nil {
				t.Fatal(err)
			}
			if n := trCount(t, db); n != -1 {
				t.Errorf("round %d: the recreated tenant has a kv table with %d rows", round, n)
			} else {
				fill(db, 50)
			}
			checkIntegrity(t, db)
			db.Close()
			removeAll()
		}
	})

	t.Run("while open", func(t *testing.T) {
		old, err := trOpen("libsql", p)
		if err != nil {
			t.Fatal(err)
		}
		defer old.Close()
		fill(old, 50)
		removeAll()
		fresh, err := trOpen("libsql", p)
		if err != nil {
			t.Fatal(err)
		}
		defer fresh.Close()
		if n := trCount(t, fresh); n != -1 {
			t.Errorf("a tenant recreated while the deleted one is still open has a kv table with %d rows", n)
		}
		mustExec(t, fresh, "CREATE TABLE other(x)")
		// The old handle keeps its (deleted) database, as with stock SQLite.
		if n := trCount(t, old); n != 50 {
			t.Errorf("the old handle sees %d rows", n)
		}
		mustExec(t, old, "INSERT INTO kv(v) VALUES ('late')")
		if err := old.Close(); err != nil {
			t.Errorf("closing the deleted tenant: %v", err)
		}
		// The old engine's final checkpoint must not touch the new file.
		if n := trCount(t, fresh); n != -1 {
			t.Errorf("after the old handle closed, the new tenant has kv with %d rows", n)
		}
		checkIntegrity(t, fresh)
		fresh.Close()
		st, err := sql.Open("sqlite", "file:"+p+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		var tables string
		if err := st.QueryRow("SELECT group_concat(name) FROM sqlite_schema").Scan(&tables); err != nil {
			t.Errorf("stock SQLite on the recreated tenant: %v", err)
		} else if tables != "other" {
			t.Errorf("stock SQLite sees tables %q in the recreated tenant, want \"other\"", tables)
		}
		st.Close()
		removeAll()
	})

	t.Run("main file only", func(t *testing.T) {
		db, err := trOpen("libsql", p)
		if err != nil {
			t.Fatal(err)
		}
		fill(db, 50)
		db.Close()
		walInfo, werr := os.Stat(p + "-wal")
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if werr == nil {
			t.Logf("after a clean close the tenant left %s-wal of %d bytes; removing only the main file leaves it behind", filepath.Base(p), walInfo.Size())
		}
		db, err = trOpen("libsql", p)
		if err != nil {
			t.Fatal(err)
		}
		if n := trCount(t, db); n != -1 {
			t.Errorf("recreated after removing only the main file: kv has %d rows", n)
		}
		mustExec(t, db, "CREATE TABLE kv(k INTEGER PRIMARY KEY, v TEXT)")
		checkIntegrity(t, db)
		db.Close()
		removeAll()
	})

	// The other tenant was never disturbed.
	if n := trCount(t, keep); n != 3 {
		t.Errorf("the tenant kept open has %d rows, want 3", n)
	}
	checkIntegrity(t, keep)
}

// TestTenantsReviewTinyTenantCacheGrows: a tenant whose database is two
// pages, written often (one row updated at each commit), keeps a page
// cache that grows with the number of commits it has seen, up to the full
// page_cache (16 MiB by default), while its data stays 8 KiB. Every
// commit's frames are Put into the cache under a new key (generation,
// frame); a log restart starts a new generation, but nothing removes the
// old generation's images, and a shard hands out a new slot (with new
// memory) rather than evict while it has fewer than its share of slots. A
// thousand such tenants hold 16 GiB. Stock SQLite's cache for it holds
// its two pages.
func TestTenantsReviewTinyTenantCacheGrows(t *testing.T) {
	commits := 3000
	if soak() {
		commits = 10000
	}
	db := openTestDB(t, "sync=normal", WithMaxConns(2))
	mustExec(t, db, "CREATE TABLE kv(k INTEGER PRIMARY KEY, v TEXT)")
	mustExec(t, db, "INSERT INTO kv(k, v) VALUES (1, 'a')")
	base := trMeasure(t)
	ctx := context.Background()
	reader, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	for i := range commits {
		mustExec(t, db, "UPDATE kv SET v = ? WHERE k = 1", strconv.Itoa(i))
		if i%10 == 0 {
			var v string
			if err := reader.QueryRowContext(ctx, "SELECT v FROM kv WHERE k = 1").Scan(&v); err != nil {
				t.Fatal(err)
			}
		}
	}
	reader.Close()
	mustExec(t, db, "PRAGMA wal_checkpoint(TRUNCATE)")
	time.Sleep(50 * time.Millisecond)
	st := trStats(t, db)
	var pages, pageSize int64
	db.QueryRow("PRAGMA page_count").Scan(&pages)
	db.QueryRow("PRAGMA page_size").Scan(&pageSize)
	after := trMeasure(t)
	t.Logf("%d commits on a %d-page database (%d KiB): cache holds %d KiB (capacity %d pages), %d checkpoints, %d log restarts; Go heap +%.1f MiB",
		commits, pages, pages*pageSize>>10, st.CacheBytes>>10, st.CachePages, st.Checkpoints, st.Restarts,
		(float64(after.heap)-float64(base.heap))/(1<<20))
	if limit := max(256<<10, 8*pages*pageSize); int64(st.CacheBytes) > limit {
		t.Errorf("a %d KiB database keeps %d KiB of page cache after %d commits: stale log-frame images of restarted generations are never dropped (wal/log.go Put of frames, pagecache.(*shard).victim grows before it evicts)",
			pages*pageSize>>10, st.CacheBytes>>10, commits)
	}
}
