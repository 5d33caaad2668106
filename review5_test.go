package libsql

// Review of the changes of 57f5316..HEAD: descriptors kept for another
// SQLite library's locks, the log of an empty database, log restarts at
// the next write, and the DSN changes.

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golibsql/libsql/iouring_vfs/iofault"
)

// review5PosixLocks returns the traditional (POSIX) fcntl locks this
// process holds on path's file, as /proc/locks lists them.
func review5PosixLocks(t *testing.T, path string) []string {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/locks")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	pid := strconv.Itoa(os.Getpid())
	ino := ":" + strconv.FormatUint(st.Ino, 10)
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// "1: POSIX  ADVISORY  READ 1234 08:01:5678 1073741826 1073742335"
		if len(fields) < 8 || fields[1] != "POSIX" || fields[4] != pid || !strings.HasSuffix(fields[5], ino) {
			continue
		}
		out = append(out, strings.Join(fields[3:], " "))
	}
	return out
}

// TestReview5ModerncLockDroppedBesideReadOnlyEngine: a database open
// read-only through this driver (mode=ro: the engine holds a shared OFD
// lock on SQLite's lock range) and through modernc.org/sqlite in the same
// process (a reader in WAL mode keeps a traditional shared lock on its
// SHARED range while its connection is open). The driver's next
// connection opens a descriptor, finds the engine and closes the
// descriptor; closeFD asks processLocked, whose F_OFD_GETLK walk is shown
// the engine's OFD lock first (its owner locked first), jumps past its
// end and so never sees modernc's lock inside that range: the descriptor
// is closed, and the kernel drops every traditional lock of the process
// on the file, modernc's SHARED lock among them. modernc then reads a file
// it believes locked (another process may take it over, checkpoint and
// delete the log under it). Expected: modernc's lock survives.
func TestReview5ModerncLockDroppedBesideReadOnlyEngine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ro.db")
	w, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, w, "CREATE TABLE t(x); INSERT INTO t VALUES (1)")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	ro, err := Open("file:" + path + "?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	ctx := context.Background()
	c1, err := ro.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	var n int
	if err := c1.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("read-only read: %d, %v", n, err)
	}

	m, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(1000)")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.SetMaxOpenConns(1)
	if err := m.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("modernc read beside the read-only engine: %d, %v", n, err)
	}
	before := review5PosixLocks(t, path)
	if len(before) == 0 {
		t.Skip("modernc holds no traditional lock on the file between its statements here")
	}

	c2, err := ro.Conn(ctx) // a second connection: a descriptor opened and closed
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("second read-only connection: %d, %v", n, err)
	}
	if after := review5PosixLocks(t, path); len(after) == 0 {
		t.Errorf("modernc's traditional locks %q on the file were dropped when the driver opened its second connection", before)
	}
}

// review5FDsOf counts this process's open descriptors of path.
func review5FDsOf(t *testing.T, path string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && l == path {
			n++
		}
	}
	return n
}

// TestReview5FailedOpensBesideModerncLeakDescriptors: every statement
// through this driver while modernc.org/sqlite holds the file fails with
// ErrBusy, as it should, and leaves one more descriptor of the file open:
// the failed open's descriptor is parked for modernc's locks, and parked
// descriptors are never reused. A service retrying beside a long-lived
// modernc connection (a migration in progress, a health check) runs out
// of descriptors. Expected: the descriptors the process keeps for the
// file stay bounded, whatever the number of attempts.
func TestReview5FailedOpensBesideModerncLeakDescriptors(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "m.db")
	m, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(100)")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.SetMaxOpenConns(1)
	mustExec(t, m, "CREATE TABLE t(x)")

	db, err := Open(path + "?busy_timeout=0")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxIdleConns(0)
	var counts []int
	const attempts = 4 // each waits the 500 ms open grace
	for i := range attempts {
		_, err := db.Exec("INSERT INTO t VALUES (1)")
		if !errors.Is(err, ErrBusy) {
			t.Fatalf("attempt %d beside modernc: %v; want ErrBusy", i, err)
		}
		counts = append(counts, review5FDsOf(t, path))
	}
	base := 1 // modernc's own
	if counts[len(counts)-1] > base+1 {
		t.Errorf("descriptors of the file open after each failed attempt: %v (modernc holds %d); want them bounded", counts, base)
	}
}

// TestReview5ModerncAndLibsqlTakeTurns: the two libraries on one file in
// one process, in both orders, each writing while the other has closed:
// every acknowledged row is there and the file is sound for both.
func TestReview5ModerncAndLibsqlTakeTurns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "turns.db")
	want := 0
	for round := range 3 {
		// libsql first.
		db, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, db, "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, who TEXT)")
		for range 5 {
			mustExec(t, db, "INSERT INTO t(who) VALUES ('libsql')")
			want++
		}
		// modernc beside it: refused, and libsql keeps working.
		m, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(50)")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Exec("INSERT INTO t(who) VALUES ('modernc-refused')"); err == nil {
			t.Errorf("round %d: modernc wrote beside an open libsql database", round)
			want++
		}
		m.Close()
		mustExec(t, db, "INSERT INTO t(who) VALUES ('libsql')")
		want++
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}

		// Then modernc, with libsql refused beside it.
		m, err = sql.Open("sqlite", path+"?_pragma=busy_timeout(1000)")
		if err != nil {
			t.Fatal(err)
		}
		m.SetMaxOpenConns(1)
		for range 5 {
			mustExec(t, m, "INSERT INTO t(who) VALUES ('modernc')")
			want++
		}
		other, err := Open(path + "?busy_timeout=0")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.Exec("INSERT INTO t(who) VALUES ('libsql-refused')"); err == nil {
			t.Errorf("round %d: libsql wrote beside an open modernc database", round)
			want++
		} else if !strings.Contains(err.Error(), "another SQLite library in this process") {
			t.Errorf("round %d: libsql beside modernc: %v; want the message to name another library in this process", round, err)
		}
		other.Close()
		mustExec(t, m, "INSERT INTO t(who) VALUES ('modernc')")
		want++
		var ic string
		if err := m.QueryRow("PRAGMA integrity_check").Scan(&ic); err != nil || ic != "ok" {
			t.Errorf("round %d: modernc integrity_check %q %v", round, ic, err)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}
	db := openTestDSN(t, path)
	var n int
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != want {
		t.Errorf("%d rows, %v; want the %d acknowledged", n, err, want)
	}
}

// BEGIN CONCURRENT read-modify-write transactions on a database whose log
// restarts at the writes that follow each hand-run checkpoint
// (wal_autocheckpoint=0, PASSIVE checkpoints in a loop): a transaction
// validated against a snapshot taken before, or exactly at, a restart must
// still see every conflict. No increment is lost.
func TestReview5ConcurrentTxAcrossWriteRestarts(t *testing.T) {
	db := openTestDB(t, "_txlock=concurrent&sync=off&busy_timeout=5s&_pragma=wal_autocheckpoint(0)")
	db.SetMaxOpenConns(6)
	mustExec(t, db, "CREATE TABLE c(id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
	mustExec(t, db, "INSERT INTO c VALUES (1, 0), (2, 0), (3, 0)")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stop := make(chan struct{})
	var ck sync.WaitGroup
	ck.Add(1)
	go func() {
		defer ck.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
			time.Sleep(200 * time.Microsecond)
		}
	}()
	const workers, each = 4, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := 1 + (w+i)%3
				err := RetryTx(ctx, db, nil, func(tx *sql.Tx) error {
					var n int
					if err := tx.QueryRow("SELECT n FROM c WHERE id = ?", id).Scan(&n); err != nil {
						return err
					}
					_, err := tx.Exec("UPDATE c SET n = ? WHERE id = ?", n+1, id)
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	ck.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("RetryTx: %v", err)
	}
	var sum int
	if err := db.QueryRow("SELECT sum(n) FROM c").Scan(&sum); err != nil {
		t.Fatal(err)
	}
	if sum != workers*each {
		t.Errorf("sum of counters %d; want %d (lost updates)", sum, workers*each)
	}
	if st := lrvStats(t, db); st.Restarts == 0 {
		t.Logf("no log restart happened (stats %+v)", st)
	}
}

// Durable CDC stores each commit's LSN, read under the writer lock before
// the commit, with its changes; the log restarting when a writer takes the
// lock (after hand-run checkpoints caught up) must happen before that
// read. The LSNs in libsql_cdc are exactly those the live stream saw.
func TestReview5CDCLSNsAcrossWriteRestarts(t *testing.T) {
	db := openTestDB(t, "cdc=on&sync=normal&busy_timeout=5s&_pragma=wal_autocheckpoint(0)")
	db.SetMaxOpenConns(4)
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v)")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Changes(ctx, db, ChangeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const workers, each = 3, 15
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := db.ExecContext(ctx, "INSERT INTO t(v) VALUES (?)", fmt.Sprint(w, "-", i)); err != nil {
					t.Errorf("insert: %v", err)
					return
				}
				if _, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
					t.Errorf("checkpoint: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	var live []int64
	for len(live) < workers*each {
		c, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("stream after %d changes: %v", len(live), err)
		}
		if c.Table == "t" {
			live = append(live, int64(c.LSN))
		}
	}
	rows, err := db.Query("SELECT lsn FROM libsql_cdc ORDER BY lsn")
	if err != nil {
		t.Fatal(err)
	}
	var stored []int64
	for rows.Next() {
		var l int64
		rows.Scan(&l)
		stored = append(stored, l)
	}
	rows.Close()
	if fmt.Sprint(stored) != fmt.Sprint(live) {
		t.Errorf("LSNs stored in libsql_cdc differ from the commits' LSNs:\nstored %x\nlive   %x", stored, live)
	}
	if st := lrvStats(t, db); st.Restarts == 0 {
		t.Logf("no log restart happened (stats %+v)", st)
	}
}

// Readers hold snapshots across forced restarts that keep their pages in
// memory (wal_autocheckpoint small, a writer that never pauses), and let
// go while the pages are dropped: every reader sees one consistent
// snapshot throughout (the balance sum never changes). Run it with -race.
func TestReview5RetainedPagesDroppedUnderReaders(t *testing.T) {
	db := openTestDB(t, "sync=off&busy_timeout=5s&page_cache=16&_pragma=wal_autocheckpoint(8)")
	db.SetMaxOpenConns(8)
	mustExec(t, db, "CREATE TABLE a(id INTEGER PRIMARY KEY, bal INTEGER, pad BLOB)")
	for i := range 50 {
		mustExec(t, db, "INSERT INTO a VALUES (?, 100, randomblob(600))", i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				from, to := (i*7+w)%50, (i*13+w+1)%50
				_, err := db.ExecContext(ctx, "UPDATE a SET bal = bal + CASE id WHEN ? THEN -1 ELSE 1 END, pad = randomblob(600) WHERE id IN (?, ?)", from, from, to)
				if err != nil && !errors.Is(err, ErrBusy) {
					t.Errorf("writer: %v", err)
					return
				}
			}
		}()
	}
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
				if err != nil {
					t.Errorf("begin: %v", err)
					return
				}
				for range 4 {
					var sum, n int
					if err := tx.QueryRow("SELECT sum(bal), count(length(pad)) FROM a").Scan(&sum, &n); err != nil {
						t.Errorf("reader: %v", err)
						break
					}
					if sum != 5000 || n != 50 {
						t.Errorf("reader saw sum %d over %d rows; want 5000 over 50", sum, n)
					}
					time.Sleep(2 * time.Millisecond)
				}
				tx.Rollback()
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	st := lrvStats(t, db)
	t.Logf("restarts %d, retaining %d, retained pages now %d", st.Restarts, st.Retaining, st.RetainedPages)
	if st.RetainedPages != 0 {
		t.Errorf("%d pages still retained after every reader ended", st.RetainedPages)
	}
}

// review5Child runs the body of a child process started by
// review5Kill9Run (REVIEW5_CHILD names the workload), then exits.
func init() {
	kind := os.Getenv("REVIEW5_CHILD")
	if kind == "" {
		return
	}
	path, query := os.Getenv("REVIEW5_PATH"), os.Getenv("REVIEW5_QUERY")
	db, err := Open("file:" + path + "?" + query)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	fmt.Println("ready")
	if _, err := db.Exec("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, pad BLOB)"); err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	for i := 1; ; i++ {
		if _, err := db.Exec("INSERT INTO t VALUES (?, randomblob(1500))", i); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Println("ack", i)
		if kind == "trunc" && i%3 == 0 {
			if _, err := db.Exec("PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
				fmt.Println("error", err)
				os.Exit(2)
			}
		}
	}
}

// review5Kill9Run starts a child writing rows to path (one "ack" line per
// returned commit), kills it with SIGKILL delay after it opened the
// database, and returns the highest row it acknowledged.
func review5Kill9Run(t *testing.T, kind, path, query string, delay time.Duration) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "REVIEW5_CHILD="+kind, "REVIEW5_PATH="+path, "REVIEW5_QUERY="+query)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	acked := 0
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		once := false
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "ready" && !once:
				once = true
				close(ready)
			case strings.HasPrefix(line, "ack "):
				n, _ := strconv.Atoi(strings.TrimPrefix(line, "ack "))
				acked = n
			case strings.HasPrefix(line, "error"):
				t.Errorf("child: %s", line)
			}
		}
		if !once {
			close(ready)
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Error("child never opened the database")
	}
	time.Sleep(delay)
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
	cmd.Wait()
	return acked
}

// review5CheckAcked opens path and checks that rows 1..acked are there.
func review5CheckAcked(t *testing.T, path string, acked int, what string) {
	t.Helper()
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ic string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&ic); err != nil || ic != "ok" {
		t.Errorf("%s: integrity_check %q, %v", what, ic, err)
	}
	var n int
	err = db.QueryRow("SELECT count(*) FROM t WHERE id <= ?", acked).Scan(&n)
	if acked == 0 {
		return // the table itself may not have been committed
	}
	if err != nil || n != acked {
		t.Errorf("%s: %d of the %d acknowledged rows survived the kill (%v)", what, n, acked, err)
	}
}

// kill -9 of a process at random moments of a new database's first
// commits (sync=full, normal and off): the reopen removes the log of a
// database whose main file is still empty, which may drop only what was
// never acknowledged; and of a process whose log restarts at writes and is
// cut to journal_size_limit=0 each time. Every acknowledged row survives.
func TestReview5Kill9FirstCommitsAndCutLog(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	iters := 3
	if soak() {
		iters = 25
	}
	dir := t.TempDir()
	run := 0
	for _, sync := range []string{"full", "normal", "off"} {
		for i := range iters {
			run++
			path := filepath.Join(dir, fmt.Sprintf("first%d.db", run))
			delay := time.Duration(i*7%20) * time.Millisecond
			acked := review5Kill9Run(t, "first", path, "sync="+sync, delay)
			t.Logf("sync=%s delay %v: %d acknowledged", sync, delay, acked)
			review5CheckAcked(t, path, acked, fmt.Sprintf("sync=%s kill after %v", sync, delay))
		}
	}
	for _, sync := range []string{"full", "normal", "off"} {
		path := filepath.Join(dir, "cut-"+sync+".db")
		for i := range iters {
			delay := time.Duration(30+i*37%100) * time.Millisecond
			q := "sync=" + sync + "&_pragma=wal_autocheckpoint(0)&_pragma=journal_size_limit(0)"
			acked := review5Kill9Run(t, "trunc", path, q, delay)
			t.Logf("cut sync=%s delay %v: %d acknowledged, log %d bytes", sync, delay, acked, lrvSize(t, path+"-wal"))
			review5CheckAcked(t, path, acked, fmt.Sprintf("journal_size_limit=0 sync=%s run %d", sync, i))
			// The next run continues with ids after the survivors.
			db, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			mustExec(t, db, "DELETE FROM t")
			db.Close()
		}
	}
}

// A power loss at every I/O operation of a new database's first commits
// (iofault.CrashFS keeps what was synced and a random part of the rest).
// The reopen removes the log of a database whose main file is empty, which
// is safe only if a first commit is acknowledged after the main file holds
// it durably: with sync=full every acknowledged row survives, and with
// sync=normal at least the first commit (the table) does.
func TestReview5PowerLossFirstCommits(t *testing.T) {
	for _, sync := range []string{"full", "normal"} {
		t.Run(sync, func(t *testing.T) {
			total := -1
			for k := 0; total < 0 || k < total; k++ {
				seed := uint64(k*2654435761 + 1)
				cfs := iofault.NewCrashFS(seed)
				ffs := iofault.NewFaultFS(cfs)
				var crashed *iofault.CrashFS
				ops := 0
				ffs.Arm(iofault.Rule{N: 1 << 40, Match: func(op iofault.Op) bool {
					if ops == k && total >= 0 {
						crashed = cfs.Crash()
					}
					ops++
					return false
				}})
				restore := frVFS(t, ffs)
				dir := fmt.Sprintf("/review5-first/%s-%d", sync, k)
				db, err := Open("file:" + dir + "/t.db?sync=" + sync + "&busy_timeout=1s")
				if err != nil {
					restore()
					t.Fatal(err)
				}
				table, acked := false, 0
				if _, err := db.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, pad BLOB)"); err == nil {
					table = true
					for i := 1; i <= 4; i++ {
						if _, err := db.Exec("INSERT INTO t VALUES (?, randomblob(3000))", i); err != nil {
							break
						}
						acked = i
					}
				}
				db.Close()
				restore()
				if total < 0 {
					total = ops // the clean run counted the operations
					continue
				}
				if crashed == nil {
					crashed = cfs.Crash()
				}
				restore = frVFS(t, crashed)
				db, err = Open("file:" + dir + "/t.db?sync=" + sync)
				if err != nil {
					restore()
					t.Fatal(err)
				}
				var n int
				err = db.QueryRow("SELECT count(*) FROM t").Scan(&n)
				switch {
				case table && err != nil:
					t.Errorf("crash at op %d of %d: the acknowledged CREATE TABLE is gone: %v", k, total, err)
				case sync == "full" && err == nil && n < acked:
					t.Errorf("crash at op %d of %d: %d rows of %d acknowledged", k, total, n, acked)
				}
				var ic string
				if err := db.QueryRow("PRAGMA integrity_check").Scan(&ic); err != nil || ic != "ok" {
					t.Errorf("crash at op %d: integrity_check %q %v", k, ic, err)
				}
				db.Close()
				restore()
			}
			t.Logf("%d crash points", total)
		})
	}
}

// WithVFS("memdb"): file::memory:?cache=shared is the process's one shared
// in-memory database, and README says no name given with mode=memory
// reaches it. Through memdb it is named "/libsql.memory.shared", a name
// any DSN can give (memdb names are kept as they are, and shared when they
// start with "/"): file:libsql.memory.shared?mode=memory opens it too.
// Expected: the reserved database is out of reach of every name (or the
// names a DSN gives are kept apart from the reserved ones). Fixed by
// refusing the driver's reserved names in a DSN.
func TestReview5MemdbSharedNameReachable(t *testing.T) {
	shared := openTestDSN(t, "file::memory:?cache=shared", WithVFS("memdb"))
	mustExec(t, shared, "CREATE TABLE only_shared(x)")
	for _, dsn := range []string{"file:libsql.memory.shared?mode=memory", "file:/libsql.memory.shared?mode=memory", "file:libsql.memory.1?mode=memory"} {
		other, err := Open(dsn, WithVFS("memdb"))
		if err != nil {
			var de *DSNError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), "libsql.memory.") {
				t.Errorf("%s (memdb): %v; want a *DSNError naming the reserved prefix", dsn, err)
			}
			continue
		}
		defer other.Close()
		var n int
		if err := other.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name = 'only_shared'").Scan(&n); err != nil || n != 0 {
			t.Errorf("%s (memdb) opens the process's shared in-memory database (%d, %v)", dsn, n, err)
		}
	}
}

// The libsql VFS keeps in-memory names apart: dots, slashes, backslashes
// and percent signs in a name neither reach another name's database nor
// the shared one, and the same name reaches the same database.
func TestReview5MemoryNamesKeptApart(t *testing.T) {
	names := []string{"r5", "r5.", "./r5", "r5/", "r5%2F", `r5\`, "r5%25", "..", ".", "named.r5", "shared", "anonymous.1"}
	dbs := make([]*sql.DB, len(names))
	for i, name := range names {
		dbs[i] = openTestDSN(t, "file:"+strings.ReplaceAll(name, "%", "%25")+"?mode=memory")
		mustExec(t, dbs[i], fmt.Sprintf("CREATE TABLE t%d(x)", i))
	}
	shared := openTestDSN(t, "file::memory:?cache=shared")
	for i, name := range names {
		var n int
		if err := dbs[i].QueryRow("SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil || n != 1 {
			t.Errorf("name %q sees %d tables (%v); want its own one", name, n, err)
		}
		again := openTestDSN(t, "file:"+strings.ReplaceAll(name, "%", "%25")+"?mode=memory")
		if err := again.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name = ?", fmt.Sprintf("t%d", i)).Scan(&n); err != nil || n != 1 {
			t.Errorf("name %q opened again: %d, %v; want the same database", name, n, err)
		}
	}
	var n int
	if err := shared.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name LIKE 't%'").Scan(&n); err != nil || n != 0 {
		t.Errorf("the shared in-memory database sees %d of the named ones' tables (%v)", n, err)
	}
}
