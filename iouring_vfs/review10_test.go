package iouringvfs

import (
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/golibsql/libsql/internal/capi"
	"github.com/golibsql/libsql/iouring_vfs/ioback"
	"github.com/golibsql/libsql/iouring_vfs/iofault"
	"github.com/golibsql/libsql/iouring_vfs/wal"
)

// r10Digest is a query naming every row of t(id, v) by its id, length and
// a hash-like summary of its contents.
const r10Digest = "SELECT count(*) || '/' || coalesce(sum(id),0) || '/' || coalesce(sum(length(v)),0) || '/' || coalesce(group_concat(id || ':' || length(v) || ':' || substr(v, 1, 12) || substr(v, -12), ','), '') FROM (SELECT id, v FROM t ORDER BY id)"

// r10Both runs SQL on our connection and on stock SQLite; both must agree
// on success or failure.
type r10Both struct {
	t   *testing.T
	c   *tconn
	s   *sql.Conn
	log []string
}

func (b *r10Both) exec(q string) {
	b.t.Helper()
	b.log = append(b.log, q)
	e1 := b.c.tryExec(q)
	_, e2 := b.s.ExecContext(b.t.Context(), q)
	if (e1 == nil) != (e2 == nil) {
		b.t.Fatalf("%s: ours %v, stock %v\nlog:\n%s", q, e1, e2, strings.Join(b.log, "\n"))
	}
}

func (b *r10Both) compare(what string) {
	b.t.Helper()
	ours := b.c.text(r10Digest)
	var theirs string
	if err := b.s.QueryRowContext(b.t.Context(), r10Digest).Scan(&theirs); err != nil {
		b.t.Fatal(err)
	}
	if ours != theirs {
		b.t.Fatalf("%s: ours and stock SQLite differ\nours:  %.300s\nstock: %.300s\nlog:\n%s", what, ours, theirs, strings.Join(b.log, "\n"))
	}
}

// TestReview10SpillModelAgainstStock runs random transactions (inserts of
// values up to 3 overflow pages, updates, deletes, savepoints rolled back
// and released, ROLLBACK, COMMIT, CREATE/DROP INDEX, incremental vacuum,
// VACUUM) on a connection whose write set moves to disk past a few pages
// and whose SQLite cache holds 10, and the same on stock SQLite, for page
// sizes 512, 4096 and 65536 and every auto_vacuum mode: contents agree
// after every transaction, and stock SQLite reads our file at the end.
func TestReview10SpillModelAgainstStock(t *testing.T) {
	type cfg struct {
		ps, bound int
		av        string
	}
	cfgs := []cfg{{512, 2, "NONE"}, {512, 5, "FULL"}, {4096, 3, "INCREMENTAL"}, {4096, 8, "FULL"}, {65536, 2, "INCREMENTAL"}, {4096, 2, "NONE"}}
	for i, cf := range cfgs {
		t.Run(fmt.Sprintf("ps%d-bound%d-%s", cf.ps, cf.bound, cf.av), func(t *testing.T) {
			spillBound(t, cf.bound)
			dir := t.TempDir()
			path := filepath.Join(dir, "ours.db")
			c := openConn(t, path, "")
			c.exec(fmt.Sprintf("PRAGMA page_size=%d", cf.ps))
			c.exec("PRAGMA auto_vacuum=" + cf.av)
			c.exec("PRAGMA cache_size=10")
			sdb := stock(t, filepath.Join(dir, "stock.db"))
			sc, err := sdb.Conn(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer sc.Close()
			for _, q := range []string{fmt.Sprintf("PRAGMA page_size=%d", cf.ps), "PRAGMA auto_vacuum=" + cf.av, "PRAGMA cache_size=10"} {
				if _, err := sc.ExecContext(t.Context(), q); err != nil {
					t.Fatal(err)
				}
			}
			b := &r10Both{t: t, c: c, s: sc}
			b.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
			r := rand.New(rand.NewPCG(uint64(i)+10, 77))
			spills := wsSpills.Load()
			next := 1
			val := func() string {
				n := r.IntN(3 * min(cf.ps, 8192))
				if r.IntN(4) == 0 {
					n = r.IntN(200)
				}
				return fmt.Sprintf("printf('%%.%dd', %d)", n, r.IntN(1000000))
			}
			rounds := 4
			if os.Getenv("LIBSQL_SOAK") == "1" {
				rounds = 30
			}
			for round := range rounds {
				b.exec("BEGIN")
				sp := 0
				for op := range 10 + r.IntN(20) {
					_ = op
					switch k := r.IntN(11); {
					case k < 3:
						n := 1 + r.IntN(40)
						for range n {
							b.exec(fmt.Sprintf("INSERT INTO t VALUES (%d, %s)", next, val()))
							next++
						}
					case k == 3:
						b.exec(fmt.Sprintf("WITH RECURSIVE s(i) AS (SELECT %d UNION ALL SELECT i+1 FROM s WHERE i<%d) INSERT INTO t SELECT i, printf('%%.%dd', i) FROM s", next, next+200+r.IntN(300), 100+r.IntN(cf.ps)))
						next += 600
					case k == 4:
						b.exec(fmt.Sprintf("UPDATE t SET v = %s WHERE id %% %d = %d", val(), 2+r.IntN(5), r.IntN(2)))
					case k == 5:
						lo := r.IntN(next + 1)
						b.exec(fmt.Sprintf("DELETE FROM t WHERE id BETWEEN %d AND %d", lo, lo+r.IntN(400)))
					case k == 6:
						sp++
						b.exec(fmt.Sprintf("SAVEPOINT s%d", sp))
					case k == 7 && sp > 0:
						b.exec(fmt.Sprintf("ROLLBACK TO s%d", sp))
						if r.IntN(2) == 0 {
							b.exec(fmt.Sprintf("RELEASE s%d", sp))
							sp--
						}
					case k == 8 && sp > 0:
						b.exec(fmt.Sprintf("RELEASE s%d", sp))
						sp--
					case k == 9:
						if r.IntN(2) == 0 {
							b.exec("CREATE INDEX IF NOT EXISTS tv ON t(substr(v, 1, 30))")
						} else {
							b.exec("DROP INDEX IF EXISTS tv")
						}
					case k == 10 && cf.av == "INCREMENTAL":
						b.exec(fmt.Sprintf("PRAGMA incremental_vacuum(%d)", r.IntN(50)))
					}
				}
				if r.IntN(3) == 0 {
					b.exec("ROLLBACK")
				} else {
					b.exec("COMMIT")
				}
				b.compare(fmt.Sprintf("after round %d", round))
				if round%3 == 2 {
					b.exec("VACUUM")
					b.compare(fmt.Sprintf("after VACUUM in round %d", round))
				}
			}
			if wsSpills.Load() == spills {
				t.Fatal("no write set moved to disk: the test checks nothing it means to")
			}
			if ok := c.text("PRAGMA integrity_check"); ok != "ok" {
				t.Fatalf("integrity_check: %s", ok)
			}
			ours := c.text(r10Digest)
			c.Close()
			s := stock(t, path)
			if got := stockText(t, s, r10Digest); got != ours {
				t.Fatalf("stock SQLite reads our file as\n%.300s\nwe read\n%.300s", got, ours)
			}
			if ok := stockText(t, s, "PRAGMA integrity_check"); ok != "ok" {
				t.Fatalf("stock integrity_check: %s", ok)
			}
		})
	}
}

// r10FDs counts the process's open file descriptors, and logs them.
func r10FDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	var names []string
	for _, e := range ents {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		names = append(names, e.Name()+"="+l)
	}
	t.Logf("descriptors: %s", strings.Join(names, " "))
	return len(ents)
}

// r10Warm opens, writes and closes a throwaway database, so that what the
// process keeps for all databases (the io_uring ring) is open before a
// count of descriptors.
func r10Warm(t *testing.T) {
	w := openConn(t, dbPath(t), "")
	w.exec("CREATE TABLE w(x)")
	w.exec("INSERT INTO w VALUES (1)")
	w.Close()
}

// TestReview10AttachSuperJournal: a transaction writing the main database
// and an ATTACHed one (whose journal is DELETE mode, so SQLite now writes
// a super-journal, main being TRUNCATE) with both write sets and both
// journals on disk commits both, rolls both back, leaves no file beside
// the databases or in the temporary directory, and no descriptor open.
func TestReview10AttachSuperJournal(t *testing.T) {
	tmp := spillBound(t, 4)
	tempBounds(t, 2, 1<<20)
	dir := t.TempDir()
	r10Warm(t)
	fds := r10FDs(t)
	main, aux := filepath.Join(dir, "main.db"), filepath.Join(dir, "aux.db")
	c := spillConn(t, main)
	c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	c.exec(fmt.Sprintf("ATTACH '%s' AS aux", aux))
	c.exec("CREATE TABLE aux.t(id INTEGER PRIMARY KEY, v TEXT)")
	c.exec("PRAGMA aux.cache_size=20")
	if jm := c.text("PRAGMA aux.journal_mode"); jm != "wal" {
		t.Fatalf("PRAGMA aux.journal_mode reads %q, want wal", jm)
	}
	fill := func(tbl string, from, to int) {
		c.exec(fmt.Sprintf("WITH RECURSIVE s(i) AS (SELECT %d UNION ALL SELECT i+1 FROM s WHERE i<%d) INSERT INTO %s SELECT i, printf('%%.1000d', i) FROM s", from, to, tbl))
	}
	fill("main.t", 1, 300)
	fill("aux.t", 1, 300)
	spills, moved := wsSpills.Load(), tempSpills.Load()
	c.exec("BEGIN")
	c.exec("UPDATE main.t SET v = printf('%.1000d', -id)")
	c.exec("UPDATE aux.t SET v = printf('%.1000d', -id)")
	fill("main.t", 301, 800)
	fill("aux.t", 301, 800)
	c.exec("ROLLBACK")
	if wsSpills.Load()-spills < 2 || tempSpills.Load() == moved {
		t.Fatalf("write sets moved %d, journals moved %d: the test checks less than it means to", wsSpills.Load()-spills, tempSpills.Load()-moved)
	}
	for _, s := range []string{"main", "aux"} {
		if n := c.int(fmt.Sprintf("SELECT count(*) FROM %s.t WHERE v = printf('%%.1000d', id)", s)); n != 300 {
			t.Fatalf("%s after ROLLBACK: %d of 300 rows as before", s, n)
		}
	}
	c.exec("BEGIN")
	c.exec("UPDATE main.t SET v = printf('%.1000d', -id)")
	c.exec("UPDATE aux.t SET v = printf('%.1000d', -id)")
	fill("main.t", 301, 800)
	fill("aux.t", 301, 800)
	c.exec("COMMIT")
	for _, s := range []string{"main", "aux"} {
		if n := c.int(fmt.Sprintf("SELECT count(*) FROM %s.t WHERE v = printf('%%.1000d', -id) OR id > 300", s)); n != 800 {
			t.Fatalf("%s after COMMIT: %d of 800 rows as committed", s, n)
		}
		if ok := c.text(fmt.Sprintf("PRAGMA %s.integrity_check", s)); ok != "ok" {
			t.Fatalf("%s integrity_check: %s", s, ok)
		}
	}
	c.exec("DETACH aux")
	c.Close()
	tempDirEmpty(t, tmp)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if n := e.Name(); strings.Contains(n, "-journal") || strings.Contains(n, "-mj") {
			t.Fatalf("%s left beside the databases", n)
		}
	}
	if got := r10FDs(t); got > fds {
		t.Fatalf("%d descriptors open after closing, %d before", got, fds)
	}
	s := stock(t, aux)
	if n := stockInt(t, s, "SELECT count(*) FROM t WHERE v = printf('%.1000d', -id) OR id > 300"); n != 800 {
		t.Fatalf("stock SQLite reads %d of 800 rows of aux", n)
	}
}

// TestReview10NoLeaks: big transactions (write set and journal on disk)
// committed, rolled back, failed on a constraint and failed on an
// unreadable write set, on several connections, leave no descriptor open
// and no temporary memory held once the connections close.
func TestReview10NoLeaks(t *testing.T) {
	tmp := spillBound(t, 4)
	tempBounds(t, 2, 1<<20)
	path := dbPath(t)
	c0 := spillConn(t, path)
	c0.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	c0.exec("CREATE TABLE u(id INTEGER PRIMARY KEY, w INTEGER UNIQUE, pad TEXT)")
	c0.exec("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i<600) INSERT INTO u SELECT i, i, printf('%.1000d', i) FROM s")
	spillFill(c0, 1, 200)
	c0.Close()
	r10Warm(t)
	fds, mem := r10FDs(t), tempMem.Load()
	for round := range 3 {
		c := spillConn(t, path)
		c.exec("BEGIN")
		spillFill(c, 1001+1000*round, 1600+1000*round)
		c.exec("UPDATE t SET v = v || 'x'")
		if round == 1 {
			c.exec("ROLLBACK")
		} else {
			c.exec("COMMIT")
		}
		// A statement that fails late: the statement journal rolls back.
		if err := c.tryExec("UPDATE u SET w = CASE WHEN id = 600 THEN -1 ELSE -w END, pad = pad || 'y'"); err == nil {
			t.Fatal("UPDATE breaking UNIQUE succeeded")
		}
		c.Close()
	}
	tempDirEmpty(t, tmp)
	if got := r10FDs(t); got > fds {
		t.Fatalf("%d descriptors open after closing, %d before", got, fds)
	}
	if got := tempMem.Load(); got > mem {
		t.Fatalf("temp_memory_bytes %d after closing, %d before", got, mem)
	}
}

// r10ToggleDisk is a temporary file on disk whose reads fail while fail is set.
type r10ToggleDisk struct {
	*os.File
	fail *atomic.Bool
}

func (d *r10ToggleDisk) ReadAt(p []byte, off int64) (int, error) {
	if d.fail.Load() {
		return 0, syscall.EIO
	}
	return d.File.ReadAt(p, off)
}

// TestReview10JournalUnreadableAtRollback: a ROLLBACK whose journal (on
// disk) cannot be read; once the disk reads again, the connection and
// another see the database as it was before the transaction, a plain
// SELECT on the connection does not wait for another connection's write
// transaction (readers never need the writer lock), and both can write.
//
// It failed: SQLite's sqlite3RollbackAll ignores the playback error, so
// ROLLBACK returns OK and the pager is left with the journal unplayed.
// With journal_mode=TRUNCATE and IOCAP_UNDELETABLE_WHEN_OPEN
// (File.SetupJournal, File.DeviceCharacteristics) pager_unlock keeps that
// journal open with its contents, and since File.CheckReservedLock said
// no connection holds RESERVED, the next statement's hasHotJournal found
// a hot journal: a plain SELECT took EXCLUSIVE (the engine's writer lock)
// to play it back, and got SQLITE_BUSY while another connection wrote.
// CheckReservedLock now says a writer holds it: no journal here is ever
// hot. The stale journal's records are never played back either: the
// connection's next transaction, rolled back, restores only its own.
func TestReview10JournalUnreadableAtRollback(t *testing.T) {
	spillBound(t, 1<<16) // the write set stays in memory: only the journal is on disk
	tempBounds(t, 2, 1<<20)
	var fail atomic.Bool
	wrapDisks(t, func(f *os.File) tempDisk { return &r10ToggleDisk{File: f, fail: &fail} })
	path := dbPath(t)
	c := spillConn(t, path)
	c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	spillFill(c, 1, 500)
	const q = "SELECT count(*) FROM t WHERE v = printf('%.1000d', id)"
	moved := tempSpills.Load()
	c.exec("BEGIN")
	c.exec("UPDATE t SET v = 'gone'")
	if tempSpills.Load() == moved {
		t.Fatal("the journal did not move to disk: the test checks nothing it means to")
	}
	fail.Store(true)
	err := c.tryExec("ROLLBACK")
	fail.Store(false)
	t.Logf("ROLLBACK with the journal unreadable: %v", err)
	other := spillConn(t, path)
	if n := other.int(q); n != 500 {
		t.Fatalf("another connection reads %d of 500 rows as before", n)
	}
	// Another connection commits, then holds the writer lock: a reader
	// never waits for it.
	other.exec("UPDATE t SET v = 'new' WHERE id <= 10")
	other.exec("BEGIN IMMEDIATE")
	other.exec("UPDATE t SET v = 'newer' WHERE id = 11")
	c.exec("PRAGMA busy_timeout=200")
	n, err := c.intErr("SELECT count(*) FROM t WHERE v = 'new'")
	if err != nil || n != 10 {
		t.Errorf("after the failed ROLLBACK, a read while another connection writes: %d rows read as the other's commit, want 10 (%v)", n, err)
	}
	other.exec("COMMIT")
	n, err = c.intErr(q)
	if err != nil || n != 489 {
		t.Fatalf("the connection reads %d of 489 rows as before (%v)", n, err)
	}
	if err := c.tryExec("INSERT INTO t VALUES (502, 'mine')"); err != nil {
		t.Fatalf("the connection cannot write after: %v", err)
	}
	c.exec("BEGIN")
	c.exec("UPDATE t SET v = 'rolled back' WHERE id <= 3")
	c.exec("ROLLBACK")
	if n := c.int("SELECT count(*) FROM t WHERE v = 'rolled back' OR v = 'gone'"); n != 0 {
		t.Fatalf("after a later ROLLBACK, %d rows read as rolled back or as the failed transaction's", n)
	}
	if n := c.int("SELECT count(*) FROM t WHERE v = 'new'"); n != 10 {
		t.Fatalf("after a later ROLLBACK, %d rows read as the other's commit, want 10", n)
	}
	if n := other.int("SELECT count(*) FROM t WHERE v = 'new'"); n != 10 {
		t.Fatalf("%d rows read as the other's commit, want 10", n)
	}
	if n := other.int("SELECT count(*) FROM t"); n != 501 {
		t.Fatalf("%d rows, want 501", n)
	}
	if ok := other.text("PRAGMA integrity_check"); ok != "ok" {
		t.Fatalf("integrity_check: %s", ok)
	}
}

// TestReview10StatementFailureJournalsOnDisk: an UPDATE that fails on a
// UNIQUE constraint after changing most rows, in a transaction whose
// write set, journal and statement journal are all on disk, undoes only
// itself; the transaction then commits what came before it, and a
// connection reused afterwards has its journal back in memory.
func TestReview10StatementFailureJournalsOnDisk(t *testing.T) {
	spillBound(t, 4)
	tempBounds(t, 2, 1<<20)
	path := dbPath(t)
	c := spillConn(t, path)
	c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
	spillFill(c, 1, 600)
	c.exec("BEGIN")
	c.exec("UPDATE t SET v = printf('%.1000d', -id) WHERE id <= 300")
	err := c.tryExec("UPDATE t SET v = CASE WHEN id = 600 THEN 'z' || printf('%.1000d', -1) ELSE 'z' || v END")
	if err == nil || !strings.Contains(err.Error(), "UNIQUE") {
		t.Fatalf("UPDATE breaking UNIQUE: %v", err)
	}
	if n := c.int("SELECT count(*) FROM t WHERE v LIKE 'z%'"); n != 0 {
		t.Fatalf("%d rows keep the failed UPDATE's change", n)
	}
	c.exec("COMMIT")
	if n := c.int("SELECT count(*) FROM t WHERE v = printf('%.1000d', -id)"); n != 300 {
		t.Fatalf("%d of 300 rows updated", n)
	}
	if n := c.int("SELECT count(*) FROM t WHERE v = printf('%.1000d', id)"); n != 300 {
		t.Fatalf("%d of 300 rows untouched", n)
	}
	mem := tempMem.Load()
	moved := tempSpills.Load()
	c.exec("UPDATE t SET v = 'one' WHERE id = 1")
	if tempSpills.Load() != moved {
		t.Fatal("a one-row UPDATE after the big transaction moved a file to disk")
	}
	_ = mem
	if ok := c.text("PRAGMA integrity_check"); ok != "ok" {
		t.Fatalf("integrity_check: %s", ok)
	}
}

// TestReview10ReadersDuringStreamedCommits: readers pinned on old
// snapshots read them unchanged while other connections commit write sets
// that moved to disk (streamed into the log), with checkpoints in between.
func TestReview10ReadersDuringStreamedCommits(t *testing.T) {
	spillBound(t, 2)
	path := dbPath(t)
	w := spillConn(t, path)
	w.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	spillFill(w, 1, 40)
	const rounds = 4
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := range 2 {
		rd := spillConn(t, path)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds * 3 {
				if err := rd.Exec("BEGIN"); err != nil {
					errs <- err
					return
				}
				a, err := rd.intErr("SELECT sum(length(v)) FROM t")
				if err != nil {
					errs <- err
					return
				}
				b, err := rd.intErr("SELECT sum(length(v)) FROM t")
				if err != nil {
					errs <- err
					return
				}
				if a != b {
					errs <- fmt.Errorf("reader %d round %d: snapshot changed under it: %d then %d", r, i, a, b)
				}
				if err := rd.Exec("COMMIT"); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range rounds {
		w.exec("BEGIN")
		w.exec(fmt.Sprintf("UPDATE t SET v = printf('%%.%dd', id)", 1000+i))
		spillFill(w, 100+i*40, 100+i*40+39)
		w.exec("COMMIT")
		mode := wal.CheckpointPassive
		if i%2 == 1 {
			mode = wal.CheckpointRestart
		}
		if _, err := w.file.e.checkpoint(mode, w.file); err != nil {
			t.Logf("checkpoint: %v", err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := w.int(fmt.Sprintf("SELECT count(*) FROM t WHERE v = printf('%%.%dd', id)", 1000+rounds-1)); n != 40+40*(rounds-1) {
		t.Fatalf("%d rows as last written", n)
	}
	if ok := w.text("PRAGMA integrity_check"); ok != "ok" {
		t.Fatalf("integrity_check: %s", ok)
	}
}

// TestReview10StreamedCommitLogWriteFails: a commit whose write set moved
// to disk streams its frames into the log; a write of one of its chunks
// that fails (EIO, ENOSPC, a torn write) fails the COMMIT with an SQLite
// I/O error or SQLITE_FULL, and after reopening the database holds every
// acknowledged commit and nothing of the failed one, for us and for stock
// SQLite.
func TestReview10StreamedCommitLogWriteFails(t *testing.T) {
	for _, fault := range []iofault.Fault{iofault.EIO, iofault.ENOSPC, iofault.TornWrite} {
		for _, n := range []int{0, 1} {
			t.Run(fmt.Sprintf("%v/%d", fault, n), func(t *testing.T) {
				spillBound(t, 4)
				ffs := iofault.NewFaultFS(ioback.Portable())
				defer defaultVFS.SetFSForTesting(ffs)()
				path := dbPath(t)
				c := openConn(t, path, "libsql_sync=full")
				c.exec("PRAGMA cache_size=20")
				c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
				spillFill(c, 1, 100)
				c.exec("UPDATE t SET v = 'small' WHERE id = 1")
				const fsz = 4096 + wal.FrameHeaderSize
				ffs.Arm(iofault.Rule{N: n, Fault: fault, Match: func(op iofault.Op) bool {
					return op.Kind == iofault.OpWriteAt && strings.HasSuffix(op.Name, "-wal") && op.Len >= 8*fsz && op.Len%fsz == 0
				}})
				spills := wsSpills.Load()
				c.exec("BEGIN")
				spillFill(c, 101, 4000)
				err := c.tryExec("COMMIT")
				ffs.Disarm()
				if wsSpills.Load() == spills {
					t.Fatal("nothing moved to disk")
				}
				if !ffs.Fired() {
					t.Fatalf("the fault never fired (%d matching writes): the test checks nothing it means to", ffs.Matched())
				}
				var ce *capi.Error
				if err == nil || !errors.As(err, &ce) || (ce.Code&0xff != capi.IOERR && ce.Code&0xff != capi.FULL) {
					t.Fatalf("COMMIT with a chunk write failing: %v, want an I/O error or SQLITE_FULL", err)
				}
				c.tryExec("ROLLBACK")
				c.Close()
				r := openConn(t, path, "")
				if ok := r.text("PRAGMA integrity_check"); ok != "ok" {
					t.Fatalf("integrity_check: %s", ok)
				}
				if n := r.int("SELECT count(*) FROM t"); n != 100 {
					t.Fatalf("%d rows after reopening, want the 100 acknowledged", n)
				}
				if v := r.text("SELECT v FROM t WHERE id = 1"); v != "small" {
					t.Fatalf("row 1 reads %q", v)
				}
				r.exec("INSERT INTO t VALUES (5000, 'after')")
				r.Close()
				s := stock(t, path)
				if n := stockInt(t, s, "SELECT count(*) FROM t"); n != 101 {
					t.Fatalf("stock SQLite reads %d rows, want 101", n)
				}
			})
		}
	}
}

// TestReview10JournalWriteFails: the rollback journal on disk fails a
// write (EIO, or a full disk) in the middle of a big UPDATE: the error
// reaches the caller as an SQLite I/O error or SQLITE_FULL, the
// transaction's changes are gone, readers are not held up by a writer
// afterwards, and the connection writes again.
func TestReview10JournalWriteFails(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EIO, syscall.ENOSPC} {
		t.Run(errno.Error(), func(t *testing.T) {
			spillBound(t, 1<<16)
			tempBounds(t, 2, 1<<20)
			tempFaultyDisks(t, 300<<10, errno)
			path := dbPath(t)
			c := spillConn(t, path)
			c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
			spillFill(c, 1, 600)
			const q = "SELECT count(*) FROM t WHERE v = printf('%.1000d', id)"
			c.exec("BEGIN")
			c.exec("DELETE FROM t WHERE id = 1")
			err := c.tryExec("UPDATE t SET v = 'gone'")
			var ce *capi.Error
			if err == nil || !errors.As(err, &ce) || (ce.Code&0xff != capi.IOERR && ce.Code&0xff != capi.FULL) {
				t.Fatalf("UPDATE with the journal failing: %v, want an I/O error or SQLITE_FULL", err)
			}
			c.tryExec("ROLLBACK")
			other := spillConn(t, path)
			other.exec("BEGIN IMMEDIATE")
			other.exec("UPDATE t SET v = 'other' WHERE id = 2")
			c.exec("PRAGMA busy_timeout=200")
			n, rerr := c.intErr(q)
			other.exec("COMMIT")
			if rerr != nil || (n != 600 && n != 599) {
				t.Fatalf("after the failure, a read while another connection writes: %d rows as before (%v)", n, rerr)
			}
			if n := c.int("SELECT count(*) FROM t"); n != 600 {
				t.Fatalf("%d rows, want 600", n)
			}
			c.exec("INSERT INTO t VALUES (601, 'mine')")
			if ok := other.text("PRAGMA integrity_check"); ok != "ok" {
				t.Fatalf("integrity_check: %s", ok)
			}
		})
	}
}

// r10CrashWorkload runs the crash test's commits on c, calling acked
// after each one that succeeded; it stops at the first error.
func r10CrashWorkload(c *tconn, acked func()) error {
	steps := []string{
		"CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)",
		"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i<50) INSERT INTO t SELECT i, printf('%.100d', i) FROM s",
		// Big: ~3 MB of rows, streamed into the log in several chunks.
		"BEGIN; WITH RECURSIVE s(i) AS (SELECT 1001 UNION ALL SELECT i+1 FROM s WHERE i<3800) INSERT INTO t SELECT i, printf('%.1000d', i) FROM s; UPDATE t SET v = 'big' WHERE id <= 50; COMMIT",
		"INSERT INTO t VALUES (5000, 'small')",
		"checkpoint",
		// Big again, the first commit after the log restarted: its first
		// chunk carries the log header.
		"BEGIN; WITH RECURSIVE s(i) AS (SELECT 6001 UNION ALL SELECT i+1 FROM s WHERE i<8500) INSERT INTO t SELECT i, printf('%.1000d', i) FROM s; DELETE FROM t WHERE id BETWEEN 1001 AND 2000; COMMIT",
		"INSERT INTO t VALUES (9000, 'last')",
	}
	for _, s := range steps {
		if s == "checkpoint" {
			if _, err := c.file.e.checkpoint(wal.CheckpointTruncate, c.file); err != nil {
				return err
			}
			continue
		}
		if err := c.Exec(s); err != nil {
			c.Exec("ROLLBACK")
			return err
		}
		acked()
	}
	return nil
}

// r10CrashQ summarizes t for the crash test's states.
const r10CrashQ = "SELECT count(*) || '/' || sum(id) || '/' || sum(length(v)) FROM t"

// TestReview10CrashDuringStreamedCommits: a power loss before each
// mutating operation of a workload with two commits streamed into the
// log (one of them the first after a restart, so its first chunk carries
// the log header): the database recovers to a state some prefix of the
// commits made, never to a part of one; with synced commits (sync=full),
// to the last acknowledged commit or the one in flight.
func TestReview10CrashDuringStreamedCommits(t *testing.T) {
	for _, mode := range []string{"full", "normal"} {
		t.Run(mode, func(t *testing.T) { r10CrashRuns(t, mode) })
	}
}

func r10CrashRuns(t *testing.T, mode string) {
	spillBound(t, 8)
	// The states, from a run without a crash.
	var states []string
	spills := wsSpills.Load()
	{
		ffs := iofault.NewFaultFS(iofault.NewCrashFS(1))
		restore := defaultVFS.SetFSForTesting(ffs)
		c := openConn(t, "/r10/base-"+mode+".db", "libsql_sync="+mode)
		c.exec("PRAGMA cache_size=20")
		c.exec("PRAGMA wal_autocheckpoint=0")
		states = append(states, "")
		if err := r10CrashWorkload(c, func() {
			txt := ""
			if st, _, err := c.Prepare(r10CrashQ, 0); err == nil {
				if row, _ := st.Step(); row {
					txt = st.ColumnText(0)
				}
				st.Finalize()
			}
			states = append(states, txt)
		}); err != nil {
			t.Fatal(err)
		}
		c.Close()
		restore()
	}
	if wsSpills.Load()-spills < 2 {
		t.Fatalf("%d write sets moved to disk, want 2: the test checks less than it means to", wsSpills.Load()-spills)
	}
	t.Logf("states: %q", states)
	total := -1
	step := 1
	if os.Getenv("LIBSQL_SOAK") != "1" {
		step = 3
	}
	for k := -1; k < 0 || k <= total; k += step {
		cfs := iofault.NewCrashFS(uint64(k) + 99)
		ffs := iofault.NewFaultFS(cfs)
		var crashed *iofault.CrashFS
		var n atomic.Int64
		var crashMu sync.Mutex
		ffs.Arm(iofault.Rule{N: 1 << 40, Match: func(op iofault.Op) bool {
			switch op.Kind {
			case iofault.OpOpen, iofault.OpRemove, iofault.OpSyncDir, iofault.OpWriteAt, iofault.OpWritevAt, iofault.OpSync, iofault.OpTruncate:
				if int(n.Add(1)-1) == k {
					crashMu.Lock()
					crashed = cfs.Crash()
					crashMu.Unlock()
				}
			}
			return false
		}})
		restore := defaultVFS.SetFSForTesting(ffs)
		path := fmt.Sprintf("/r10/%s/%d/t.db", mode, k)
		acked := 0
		capi0, err := openConnErr(t, path, "libsql_sync="+mode)
		if err == nil {
			c := &tconn{Conn: capi0.Conn, t: t, file: capi0.file}
			c.Exec("PRAGMA cache_size=20")
			c.Exec("PRAGMA wal_autocheckpoint=0")
			r10CrashWorkload(c, func() { acked++ })
			c.Close()
		}
		restore()
		if k < 0 {
			total = int(n.Load())
			t.Logf("%d mutating operations", total)
			if acked != len(states)-1 {
				t.Fatalf("the run without a crash acknowledged %d of %d commits", acked, len(states)-1)
			}
			k = -step // the next is 0
			continue
		}
		crashMu.Lock()
		img := crashed
		crashMu.Unlock()
		if img == nil {
			img = cfs.Crash()
		}
		restore = defaultVFS.SetFSForTesting(img)
		r, err := openConnErr(t, path, "")
		got := ""
		if err == nil {
			rc := &tconn{Conn: r.Conn, t: t, file: r.file}
			if st, _, perr := rc.Prepare(r10CrashQ, 0); perr == nil {
				if row, _ := st.Step(); row {
					got = st.ColumnText(0)
				}
				st.Finalize()
			}
			if acked > 0 {
				if ok, ierr := rc.intErr("SELECT count(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"); ierr != nil || ok != 1 {
					t.Errorf("crash before op %d: integrity_check fails (%v)", k, ierr)
				}
			}
			rc.Close()
		}
		restore()
		okState := false
		lo := acked
		if mode != "full" {
			lo = 0 // unsynced commits may be lost, a prefix survives
		}
		for i := lo; i <= acked+1 && i < len(states); i++ {
			if got == states[i] {
				okState = true
			}
		}
		if !okState {
			t.Errorf("crash before op %d (%d commits acknowledged): recovered %q, want %q or %q", k, acked, got, states[acked], states[min(acked+1, len(states)-1)])
		}
	}
}

// TestReview10VacuumIntoSpilled: VACUUM INTO a new file writes its whole
// copy in one transaction of the target, whose write set moves to disk:
// the copy holds every row, for us and for stock SQLite, and the source's
// temporary files are gone.
func TestReview10VacuumIntoSpilled(t *testing.T) {
	tmp := spillBound(t, 4)
	path := dbPath(t)
	c := spillConn(t, path)
	c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	c.exec("CREATE INDEX tv ON t(v)")
	spillFill(c, 1, 2000)
	out := filepath.Join(t.TempDir(), "copy.db")
	spills := wsSpills.Load()
	c.exec(fmt.Sprintf("VACUUM INTO '%s'", out))
	if wsSpills.Load() == spills {
		t.Fatal("VACUUM INTO's write set did not move to disk: the test checks nothing it means to")
	}
	const q = "SELECT count(*) FROM t WHERE v = printf('%.1000d', id)"
	r := spillConn(t, out)
	if n := r.int(q); n != 2000 {
		t.Fatalf("the copy holds %d of 2000 rows", n)
	}
	if ok := r.text("PRAGMA integrity_check"); ok != "ok" {
		t.Fatalf("integrity_check of the copy: %s", ok)
	}
	r.Close()
	c.Close()
	tempDirEmpty(t, tmp)
	s := stock(t, out)
	if n := stockInt(t, s, q); n != 2000 {
		t.Fatalf("stock SQLite reads %d of 2000 rows of the copy", n)
	}
}

// TestReview10TempTablesWithSpill: one transaction writes a big temporary
// table (a temporary file of the VFS, moved to disk) and copies it into
// the main database (write set on disk), with a savepoint rolled back
// over part of both: main holds what was copied and kept, stock SQLite
// reads the same, and the temporary table is gone with the connection.
func TestReview10TempTablesWithSpill(t *testing.T) {
	tmp := spillBound(t, 4)
	tempBounds(t, 2, 1<<20)
	path := dbPath(t)
	c := spillConn(t, path)
	c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	c.exec("CREATE TEMP TABLE tt(id INTEGER PRIMARY KEY, v TEXT)")
	c.exec("PRAGMA temp.cache_size=10")
	c.exec("BEGIN")
	c.exec("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i<1500) INSERT INTO tt SELECT i, printf('%.1000d', i) FROM s")
	c.exec("INSERT INTO t SELECT * FROM tt WHERE id <= 1000")
	c.exec("SAVEPOINT s")
	c.exec("INSERT INTO t SELECT * FROM tt WHERE id > 1000")
	c.exec("DELETE FROM tt WHERE id < 500")
	c.exec("UPDATE t SET v = 'no' WHERE id % 2 = 0")
	c.exec("ROLLBACK TO s")
	c.exec("RELEASE s")
	c.exec("COMMIT")
	const q = "SELECT count(*) FROM t WHERE v = printf('%.1000d', id)"
	if n := c.int(q); n != 1000 {
		t.Fatalf("main holds %d of 1000 rows", n)
	}
	if n := c.int("SELECT count(*) FROM tt"); n != 1500 {
		t.Fatalf("the temporary table holds %d of 1500 rows", n)
	}
	c.Close()
	tempDirEmpty(t, tmp)
	s := stock(t, path)
	if n := stockInt(t, s, q); n != 1000 {
		t.Fatalf("stock SQLite reads %d of 1000 rows", n)
	}
}
