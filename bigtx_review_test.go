package libsql

// Adversarial review: big transactions and big databases, memory and
// correctness, against stock SQLite (modernc.org/sqlite in WAL mode).
//
// The default tests are quick and assert properties a user of stock SQLite
// relies on at any size, checked here at a small size:
//
//   - TestBigTxReviewWriteSetHeap: a transaction's memory does not grow with
//     its size (stock SQLite spills dirty pages to the WAL once its page
//     cache, cache_size, is full);
//   - TestBigTxReviewDeleteAllUsesClear: DELETE FROM t without WHERE uses
//     SQLite's truncate optimization (OP_Clear), as stock SQLite does;
//   - TestBigTxReviewCDCBlobLimit: with cdc=on a transaction commits
//     whatever its size, as it does without CDC (the changes are stored as
//     ONE blob, bounded by SQLITE_LIMIT_LENGTH);
//   - TestBigTxReviewWalShrinksAtClose: the -wal file left after a clean
//     close is small, not the size of the largest transaction (it kept
//     that size until a clean close truncated it);
//   - TestBigTxReviewRollbackReservesLog: a ROLLBACK writes nothing to the
//     log (the journal playback's xSync reserved log space for the
//     discarded write set until the reservation was kept to commits);
//   - TestBigTxReviewCorrectness / TestBigTxReviewLongReader: integrity,
//     rollback, stock SQLite reading the file, reopen, log restart.
//
// One of these fails by design for now: the one-blob CDC row is a limit
// the README states ("Limits"); it runs only with LIBSQL_KNOWN_LIMITS=1,
// to measure progress on it. The write set, the rollback journal and the
// row changes a transaction captures (for CDC, or for a BEGIN CONCURRENT
// transaction's rebase), which were in memory too, move to disk past a
// bound (README, "Big transactions").
//
// The measurements (soak only, LIBSQL_SOAK=1) run each scenario in a child
// process of its own, ours and modernc's, and report peak Go heap and peak
// RSS (VmHWM):
//
//	LIBSQL_SOAK=1 go test -run 'TestBigTxReviewSoakMemory' -count=1 -v .
//	LIBSQL_SOAK=1 go test -run 'TestBigTxReviewSoakConcurrent' -count=1 -v .
//	LIBSQL_SOAK=1 go test -run 'TestBigTxReviewSoakCDC' -count=1 -v .
//	LIBSQL_SOAK=1 go test -run 'TestBigTxReviewSoakReader' -count=1 -v .

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"modernc.org/libc"
	_ "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// knownLimit skips a test of a limit the README states unless
// LIBSQL_KNOWN_LIMITS=1.
func knownLimit(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("LIBSQL_KNOWN_LIMITS") != "1" {
		t.Skipf("known limit (README, Limits): %s; LIBSQL_KNOWN_LIMITS=1 runs it", what)
	}
}

// ---------------------------------------------------------------------------
// Measuring memory.

// bigMemSampler samples the Go heap and the process RSS while a scenario
// runs.
type bigMemSampler struct {
	stop, done              chan struct{}
	mu                      sync.Mutex
	heapInuse, heapSys, sys uint64
	rssPeak                 uint64
	baseHeapInuse, baseRSS  uint64
	hwmResetOK              bool
}

// bigProcStatus returns a field of /proc/self/status in bytes (0 if absent).
func bigProcStatus(field string) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, field+":") {
			fs := strings.Fields(line[len(field)+1:])
			if len(fs) > 0 {
				n, _ := strconv.ParseUint(fs[0], 10, 64)
				return n << 10
			}
		}
	}
	return 0
}

func startBigMemSampler(every time.Duration) *bigMemSampler {
	runtime.GC()
	debug.FreeOSMemory()
	s := &bigMemSampler{stop: make(chan struct{}), done: make(chan struct{})}
	// Reset VmHWM to the current RSS (Linux >= 4.0).
	s.hwmResetOK = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.baseHeapInuse = ms.HeapInuse
	s.baseRSS = bigProcStatus("VmRSS")
	s.sample()
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				s.sample()
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *bigMemSampler) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss := bigProcStatus("VmRSS")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.heapInuse = max(s.heapInuse, ms.HeapInuse)
	s.heapSys = max(s.heapSys, ms.HeapSys)
	s.sys = max(s.sys, ms.Sys)
	s.rssPeak = max(s.rssPeak, rss)
}

// bigMem is what a scenario used, in MiB.
type bigMem struct {
	HeapInusePeak float64 `json:"heap_inuse_peak_mb"`
	HeapSysPeak   float64 `json:"heap_sys_peak_mb"`
	SysPeak       float64 `json:"go_sys_peak_mb"`
	HeapGrowth    float64 `json:"heap_inuse_growth_mb"`
	RSSBase       float64 `json:"rss_base_mb"`
	RSSPeak       float64 `json:"rss_peak_mb"` // max(VmHWM, sampled VmRSS)
	RSSGrowth     float64 `json:"rss_growth_mb"`
}

func bigMiB(b uint64) float64 { return float64(b) / (1 << 20) }

func (s *bigMemSampler) finish() bigMem {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	peak := s.rssPeak
	if s.hwmResetOK {
		peak = max(peak, bigProcStatus("VmHWM"))
	}
	return bigMem{
		HeapInusePeak: bigMiB(s.heapInuse), HeapSysPeak: bigMiB(s.heapSys), SysPeak: bigMiB(s.sys),
		HeapGrowth: bigMiB(s.heapInuse - min(s.heapInuse, s.baseHeapInuse)),
		RSSBase:    bigMiB(s.baseRSS), RSSPeak: bigMiB(peak), RSSGrowth: bigMiB(peak - min(peak, s.baseRSS)),
	}
}

// liveHeap is the Go heap in use after a full collection.
func bigLiveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// ---------------------------------------------------------------------------
// Database helpers.

// bigBlob fills a 1 KiB row value that differs from row to row and does not
// compress (fnv-derived bytes).
func bigBlob(buf []byte, row int) []byte {
	h := fnv.New64a()
	var seed [8]byte
	for i := range seed {
		seed[i] = byte(row >> (8 * i))
	}
	for i := 0; i < len(buf); i += 8 {
		h.Write(seed[:])
		v := h.Sum64()
		for j := 0; j < 8 && i+j < len(buf); j++ {
			buf[i+j] = byte(v >> (8 * j))
		}
	}
	return buf
}

// bigFillSQL fills t(id, n, b) with rows [from, to] of 1 KiB random blobs
// in one statement (SQLite's randomblob: the fastest way to make a big
// table in either driver).
const bigFillSQL = `WITH RECURSIVE s(i) AS (SELECT ? UNION ALL SELECT i+1 FROM s WHERE i < ?)
INSERT INTO t(id, n, b) SELECT i, i, randomblob(1024) FROM s`

const bigSchema = `CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, n INTEGER, b BLOB)`

// openModernc opens path with modernc.org/sqlite in WAL mode.
func openModernc(path string) (*sql.DB, error) {
	return sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(wal)&_pragma=synchronous(full)")
}

// openOurs opens path with this driver.
func openOurs(path, query string) (*sql.DB, error) {
	dsn := "file:" + path
	if query != "" {
		dsn += "?" + query
	}
	return Open(dsn)
}

func openBig(driver, path, query string) (*sql.DB, error) {
	if driver == "modernc" {
		return openModernc(path)
	}
	return openOurs(path, query)
}

func bigIntegrity(db *sql.DB) string {
	var out []string
	rows, err := db.Query("PRAGMA integrity_check")
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		rows.Scan(&s)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return err.Error()
	}
	return strings.Join(out, "; ")
}

// bigQuerier is a *sql.DB, *sql.Tx or *sql.Conn.
type bigQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func bigCount(db bigQuerier, table string) (int64, error) {
	var n int64
	err := db.QueryRowContext(context.Background(), "SELECT count(*) FROM "+table).Scan(&n)
	return n, err
}

// digest hashes every row of t (id, n, b).
func bigDigest(db *sql.DB) (uint64, error) {
	rows, err := db.Query("SELECT id, n, b FROM t ORDER BY id")
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	h := fnv.New64a()
	var id, n int64
	var b []byte
	for rows.Next() {
		if err := rows.Scan(&id, &n, &b); err != nil {
			return 0, err
		}
		fmt.Fprint(h, id, ",", n, ",")
		h.Write(b)
	}
	return h.Sum64(), rows.Err()
}

// libsqlStats reads PRAGMA libsql_stats.
func bigStats(db bigQuerier) (map[string]any, error) {
	var s string
	if err := db.QueryRowContext(context.Background(), "PRAGMA libsql_stats").Scan(&s); err != nil {
		return nil, err
	}
	m := map[string]any{}
	err := json.Unmarshal([]byte(s), &m)
	return m, err
}

func bigStatInt(m map[string]any, k string) int64 {
	f, _ := m[k].(float64)
	return int64(f)
}

func bigFileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return fi.Size()
}

// makeBigBase creates path with rows rows of t, written with modernc in WAL
// mode and checkpointed into the main file.
func makeBigBase(path string, rows int) error {
	db, err := openModernc(path)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(bigSchema); err != nil {
		return err
	}
	const chunk = 50000
	for from := 1; from <= rows; from += chunk {
		if _, err := db.Exec(bigFillSQL, from, min(from+chunk-1, rows)); err != nil {
			return err
		}
	}
	_, err = db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}

// setLengthLimit sets SQLITE_LIMIT_LENGTH on the connection behind c (the
// driver exposes no sqlite3_limit): through the capi.Conn's unexported
// TLS and handle.
func setLengthLimit(t *testing.T, c *sql.Conn, n int32) {
	t.Helper()
	err := c.Raw(func(dc any) error {
		cc := dc.(*conn).cc
		v := reflect.ValueOf(cc).Elem()
		tlsF, dbF := v.FieldByName("tls"), v.FieldByName("db")
		tls := *(**libc.TLS)(unsafe.Pointer(tlsF.UnsafeAddr()))
		db := *(*uintptr)(unsafe.Pointer(dbF.UnsafeAddr()))
		sqlite3.Xsqlite3_limit(tls, db, sqlite3.SQLITE_LIMIT_LENGTH, n)
		if got := sqlite3.Xsqlite3_limit(tls, db, sqlite3.SQLITE_LIMIT_LENGTH, -1); got != n {
			return fmt.Errorf("limit is %d, want %d", got, n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// ---------------------------------------------------------------------------
// Default tests: quick, deterministic, each asserting a property.

// TestBigTxReviewWriteSetHeap: a 32 MiB insert transaction must not hold its
// 32 MiB in memory. Stock SQLite keeps at most cache_size (2 MiB by default)
// of dirty pages and spills the rest into the WAL; modernc's Go heap does
// not move at all. Here every page SQLite spills went into File.ws, a Go
// map of page copies that lived until the commit (iouring_vfs/conn.go
// File.WriteAt), and the commit encoded all of it once more into one frame
// buffer (wal/log.go Log.Append): 41.7 MiB of live heap. The write set now
// moves to disk past 4 MiB, and such a commit is written a chunk at a time
// (Log.AppendLoading).
func TestBigTxReviewWriteSetHeap(t *testing.T) {
	const rows = 32 << 10 // 32 MiB of 1 KiB blobs
	measure := func(db *sql.DB) (growth uint64) {
		db.SetMaxOpenConns(1)
		mustExec(t, db, bigSchema)
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		before := bigLiveHeap()
		ins, err := tx.Prepare("INSERT INTO t(id, n, b) VALUES (?, ?, ?)")
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1024)
		for i := 1; i <= rows; i++ {
			if _, err := ins.Exec(i, i, bigBlob(buf, i)); err != nil {
				t.Fatal(err)
			}
		}
		after := bigLiveHeap()
		ins.Close()
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if after > before {
			return after - before
		}
		return 0
	}
	mdb, err := openModernc(filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer mdb.Close()
	theirs := measure(mdb)
	ours := measure(openTestDB(t, ""))
	t.Logf("live Go heap grown inside a %d MiB insert transaction: ours %.1f MiB, modernc %.1f MiB", rows>>10, bigMiB(ours), bigMiB(theirs))
	if limit := uint64(8 << 20); ours > limit {
		t.Errorf("a %d MiB transaction holds %.1f MiB of live Go heap before its commit (modernc: %.1f MiB; stock SQLite keeps cache_size, 2 MiB, and spills the rest to the WAL): the private write set (iouring_vfs.File.ws) grows with the transaction", rows>>10, bigMiB(ours), bigMiB(theirs))
	}
}

// explainOps returns the opcodes of EXPLAIN query.
func bigExplainOps(t *testing.T, db *sql.DB, query string) []string {
	t.Helper()
	rows, err := db.Query("EXPLAIN " + query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var ops []string
	for rows.Next() {
		vals := scanAnyRow(t, rows, len(cols))
		switch v := vals[1].(type) {
		case string:
			ops = append(ops, v)
		case []byte:
			ops = append(ops, string(v))
		}
	}
	return ops
}

func bigContains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// TestBigTxReviewDeleteAllUsesClear: stock SQLite runs DELETE FROM t (no
// WHERE) with its truncate optimization, OP_Clear, which frees the table's
// pages without visiting its rows or journaling them. SQLite turns the
// optimization off while a pre-update hook is installed, and this driver
// installed one on every connection, CDC or not: the delete visited every
// row and journaled every leaf page in SQLite's in-memory rollback
// journal. The frames logged were about the same (freed pages are not
// written), but memory was not: deleting a 300k-row (392 MiB) table grew
// RSS by 426 MiB here against 1 MiB for modernc, and took 1.1 s against
// 0.3 s (TestBigTxReviewSoakMemory/delete). A connection now installs the
// hook only once it needs one (cdc.go conn.hookPreUpdate).
func TestBigTxReviewDeleteAllUsesClear(t *testing.T) {
	dir := t.TempDir()
	mdb, err := openModernc(filepath.Join(dir, "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer mdb.Close()
	mustExec(t, mdb, bigSchema)
	theirs := bigExplainOps(t, mdb, "DELETE FROM t")

	db := openTestDB(t, "")
	mustExec(t, db, bigSchema)
	ours := bigExplainOps(t, db, "DELETE FROM t")
	t.Logf("DELETE FROM t: modernc uses OP_Clear: %v; ours: %v", bigContains(theirs, "Clear"), bigContains(ours, "Clear"))
	if !bigContains(theirs, "Clear") {
		t.Skip("stock SQLite did not use OP_Clear either")
	}

	// What it costs: frames logged by deleting 8 MiB of rows.
	const rows = 8 << 10
	mustExec(t, mdb, "PRAGMA wal_autocheckpoint=0")
	mustExec(t, mdb, bigFillSQL, 1, rows)
	mustExec(t, mdb, "PRAGMA wal_checkpoint(TRUNCATE)")
	mustExec(t, mdb, "DELETE FROM t")
	var busy, mframes, ck int
	if err := mdb.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &mframes, &ck); err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	mustExec(t, db, "PRAGMA wal_autocheckpoint=0")
	mustExec(t, db, bigFillSQL, 1, rows)
	mustExec(t, db, "PRAGMA wal_checkpoint(TRUNCATE)")
	s0, err := bigStats(db)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "DELETE FROM t")
	s1, err := bigStats(db)
	if err != nil {
		t.Fatal(err)
	}
	oframes := bigStatInt(s1, "log_frames") - bigStatInt(s0, "log_frames")
	t.Logf("frames logged by DELETE FROM t of %d 1 KiB rows: ours %d, modernc %d", rows, oframes, mframes)
	if !bigContains(ours, "Clear") {
		t.Errorf("DELETE FROM t without WHERE does not use SQLite's truncate optimization (no OP_Clear; stock SQLite's plan has it): the always-installed pre-update hook disables it, so every row is visited and every leaf page journaled in memory (%d frames logged against modernc's %d)", oframes, mframes)
	}
}

// TestBigTxReviewCDCBlobLimit: durable CDC stores a transaction's changes
// as ONE blob in libsql_cdc (cdc.go conn.storeChanges), which SQLite
// refuses above SQLITE_LIMIT_LENGTH (1e9 bytes by default): a transaction
// whose changes (old and new values of every row) pass 1 GB cannot commit
// with cdc=on, though each of its rows is small and it commits with CDC
// off. Shown here with the limit lowered to 1 MiB on both connections and
// a 2 MiB transaction of 1 KiB rows.
func TestBigTxReviewCDCBlobLimit(t *testing.T) {
	knownLimit(t, "with cdc=on a transaction's changes are one value, at most 1 GB")
	ctx := context.Background()
	run := func(query string) error {
		db := openTestDB(t, query)
		mustExec(t, db, bigSchema)
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		setLengthLimit(t, c, 1<<20)
		tx, err := c.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1024)
		for i := 1; i <= 2048; i++ {
			if _, err := tx.Exec("INSERT INTO t(id, n, b) VALUES (?, ?, ?)", i, i, bigBlob(buf, i)); err != nil {
				tx.Rollback()
				return fmt.Errorf("insert %d: %w", i, err)
			}
		}
		err = tx.Commit()
		if err == nil {
			if n, _ := bigCount(c, "t"); n != 2048 {
				return fmt.Errorf("committed, but %d rows", n)
			}
		} else if n, _ := bigCount(c, "t"); n != 0 {
			t.Errorf("failed commit left %d rows", n)
		}
		return err
	}
	if err := run(""); err != nil {
		t.Fatalf("without CDC: %v", err)
	}
	if err := run("cdc=on"); err != nil {
		var e *Error
		code := ""
		if errors.As(err, &e) {
			code = e.ExtendedCode().String()
		}
		t.Errorf("with cdc=on, a transaction of 2048 rows of 1 KiB (each far below SQLITE_LIMIT_LENGTH, 1 MiB here) fails to commit (%s): %v; with the default limit (1e9 bytes) every transaction whose changes pass ~1 GB fails the same way", code, err)
	}
}

// TestBigTxReviewWalShrinksAtClose: after one 24 MiB transaction the -wal
// kept the 24 MiB for good after a clean close (stock SQLite deletes its
// WAL at the last close): the restart never gave the space back. A clean
// close now truncates the log.
func TestBigTxReviewWalShrinksAtClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.db")
	db, err := openOurs(path, "")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	mustExec(t, db, bigSchema)
	mustExec(t, db, bigFillSQL, 1, 24<<10)
	if got := bigIntegrity(db); got != "ok" {
		t.Fatalf("integrity_check: %s", got)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	walSize := bigFileSize(path + "-wal")

	m := filepath.Join(t.TempDir(), "m.db")
	mdb, err := openModernc(m)
	if err != nil {
		t.Fatal(err)
	}
	mdb.SetMaxOpenConns(1)
	mustExec(t, mdb, bigSchema)
	mustExec(t, mdb, bigFillSQL, 1, 24<<10)
	mdb.Close()
	t.Logf("-wal after a 24 MiB transaction and a clean close: ours %.1f MiB, modernc %d bytes (-1: deleted)", bigMiB(uint64(max(walSize, 0))), bigFileSize(m+"-wal"))
	if walSize > 2<<20 {
		t.Errorf("-wal left after a clean close is %.1f MiB, not the 1 MiB reserved space README describes: the largest transaction's log space is kept forever (wal.Log.restart never truncates)", bigMiB(uint64(walSize)))
	}
}

// TestBigTxReviewCorrectness runs each kind of big transaction at a small
// size and checks what a stock SQLite user expects after it: integrity,
// a rollback that changes nothing, stock SQLite reading the file with the
// same rows, our driver reopening it, the log checkpointed.
func TestBigTxReviewCorrectness(t *testing.T) {
	for _, mode := range []string{"plain", "concurrent", "cdc"} {
		t.Run(mode, func(t *testing.T) {
			bigTxCorrectness(t, mode, 4<<10)
		})
	}
}

func bigTxCorrectness(t *testing.T, mode string, rows int) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	query := ""
	if mode == "cdc" {
		query = "cdc=on"
	}
	db, err := openOurs(path, query)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	db.SetMaxOpenConns(2)
	mustExec(t, db, bigSchema)
	opts := &sql.TxOptions{}
	if mode == "concurrent" {
		opts.Isolation = LevelConcurrent
	}
	inTx := func(name string, fn func(tx *sql.Tx) error, commit bool) {
		t.Helper()
		tx, err := db.BeginTx(ctx, opts)
		if err != nil {
			t.Fatalf("%s: begin: %v", name, err)
		}
		if err := fn(tx); err != nil {
			tx.Rollback()
			t.Fatalf("%s: %v", name, err)
		}
		if commit {
			err = tx.Commit()
		} else {
			err = tx.Rollback()
		}
		if err != nil {
			t.Fatalf("%s: end: %v", name, err)
		}
		if got := bigIntegrity(db); got != "ok" {
			t.Fatalf("%s: integrity_check: %s", name, got)
		}
	}
	exec := func(q string, args ...any) func(tx *sql.Tx) error {
		return func(tx *sql.Tx) error { _, err := tx.Exec(q, args...); return err }
	}
	want := func(name string, n int64) {
		t.Helper()
		if got, err := bigCount(db, "t"); err != nil || got != n {
			t.Fatalf("%s: %d rows (%v), want %d", name, got, err, n)
		}
	}
	inTx("insert", exec(bigFillSQL, 1, rows), true)
	want("insert", int64(rows))
	d0, err := bigDigest(db)
	if err != nil {
		t.Fatal(err)
	}
	inTx("update rolled back", exec("UPDATE t SET n = n + 1, b = randomblob(1024)"), false)
	if d, err := bigDigest(db); err != nil || d != d0 {
		t.Fatalf("a rolled back UPDATE of every row changed the table (%v)", err)
	}
	inTx("insert rolled back", exec(bigFillSQL, rows+1, 2*rows), false)
	want("insert rolled back", int64(rows))
	inTx("update", exec("UPDATE t SET n = n + 1, b = randomblob(1024)"), true)
	var sumN int64
	if err := db.QueryRow("SELECT sum(n) - sum(id) FROM t").Scan(&sumN); err != nil || sumN != int64(rows) {
		t.Fatalf("after the update, sum(n)-sum(id) = %d (%v), want %d", sumN, err, rows)
	}
	if mode != "concurrent" { // DDL in BEGIN CONCURRENT is allowed too, but keep it plain
		inTx("create index", exec("CREATE INDEX t_b ON t(b)"), true)
	} else {
		mustExec(t, db, "CREATE INDEX t_b ON t(b)")
	}
	inTx("delete rolled back", exec("DELETE FROM t"), false)
	want("delete rolled back", int64(rows))
	inTx("delete half", exec("DELETE FROM t WHERE id % 2 = 0"), true)
	want("delete half", int64(rows/2))
	if _, err := db.Exec("VACUUM"); err != nil {
		t.Fatalf("VACUUM: %v", err)
	}
	if got := bigIntegrity(db); got != "ok" {
		t.Fatalf("after VACUUM: integrity_check: %s", got)
	}
	want("vacuum", int64(rows/2))
	d1, err := bigDigest(db)
	if err != nil {
		t.Fatal(err)
	}
	var busy, logFrames, ck int
	if err := db.QueryRow("PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &ck); err != nil || busy != 0 {
		t.Fatalf("wal_checkpoint(TRUNCATE): busy %d, log %d (%v)", busy, logFrames, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Stock SQLite reads the same rows.
	mdb, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if got := bigIntegrity(mdb); got != "ok" {
		t.Errorf("modernc: integrity_check: %s", got)
	}
	if d, err := bigDigest(mdb); err != nil || d != d1 {
		t.Errorf("modernc reads other rows than we did (%v)", err)
	}
	mdb.Close()

	// And ours reopens it.
	db, err = openOurs(path, query)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := bigDigest(db); err != nil || d != d1 {
		t.Errorf("reopened: other rows (%v)", err)
	}
	if got := bigIntegrity(db); got != "ok" {
		t.Errorf("reopened: integrity_check: %s", got)
	}
}

// TestBigTxReviewLongReader: a reader pins its snapshot while another
// connection commits 8 MiB in 64 commits: it keeps seeing its snapshot;
// the log cannot restart under it; once it ends, the next commit's
// checkpoint restarts the log (as stock SQLite's next writer restarts its
// WAL).
func TestBigTxReviewLongReader(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t, "")
	mustExec(t, db, bigSchema)
	mustExec(t, db, bigFillSQL, 1, 1000)
	r, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rtx, err := r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := bigCount(rtx, "t"); err != nil || n != 1000 {
		t.Fatalf("reader: %d rows (%v)", n, err)
	}
	const commits, per = 64, 128
	for i := range commits {
		from := 1001 + i*per
		mustExec(t, db, bigFillSQL, from, from+per-1)
	}
	s, err := bigStats(db)
	if err != nil {
		t.Fatal(err)
	}
	framesPinned := bigStatInt(s, "log_frames")
	if n, err := bigCount(rtx, "t"); err != nil || n != 1000 {
		t.Fatalf("reader after the commits: %d rows (%v), want its snapshot's 1000", n, err)
	}
	if err := rtx.Commit(); err != nil {
		t.Fatal(err)
	}
	restarts0 := bigStatInt(s, "log_restarts")
	mustExec(t, db, "INSERT INTO t(n, b) VALUES (0, x'00')")
	deadline := time.Now().Add(3 * time.Second)
	var s2 map[string]any
	for {
		if s2, err = bigStats(db); err != nil {
			t.Fatal(err)
		}
		if bigStatInt(s2, "log_restarts") > restarts0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("log frames while the reader pinned: %d; after it ended and one commit: %d, restarts %d -> %d",
		framesPinned, bigStatInt(s2, "log_frames"), restarts0, bigStatInt(s2, "log_restarts"))
	if framesPinned < commits*per/4 {
		t.Errorf("only %d log frames while a reader pinned the snapshot before %d KiB of commits", framesPinned, commits*per)
	}
	if bigStatInt(s2, "log_restarts") <= restarts0 {
		t.Errorf("the log did not restart after the reader ended and a commit followed (frames %d)", bigStatInt(s2, "log_frames"))
	}
}

// ---------------------------------------------------------------------------
// Soak: measurements in child processes.

// bigChildEnv carries the job of a child process.
const bigChildEnv = "LIBSQL_BIGTX_CHILD"

type bigJob struct {
	Scenario string `json:"scenario"`
	Driver   string `json:"driver"` // libsql or modernc
	Mode     string `json:"mode"`   // plain, concurrent, cdc (libsql only)
	Path     string `json:"path"`
	Rows     int    `json:"rows"` // rows of the scenario (insert: new rows; base: existing)
}

type bigResult struct {
	Job     bigJob             `json:"job"`
	Seconds float64            `json:"seconds"`
	Mem     bigMem             `json:"mem"`
	Err     string             `json:"err,omitempty"`
	Checks  map[string]any     `json:"checks"`
	Extra   map[string]float64 `json:"extra,omitempty"`
}

// TestBigTxReviewChild is the child process's entry point; it does nothing
// unless started by runBigChild.
func TestBigTxReviewChild(t *testing.T) {
	spec := os.Getenv(bigChildEnv)
	if spec == "" {
		t.Skip("child process of the big-transaction soak tests")
	}
	var job bigJob
	if err := json.Unmarshal([]byte(spec), &job); err != nil {
		t.Fatal(err)
	}
	res := bigRunChild(job)
	b, _ := json.Marshal(res)
	fmt.Printf("BIGTX_RESULT %s\n", b)
}

func bigRunChild(job bigJob) (res bigResult) {
	res.Job = job
	res.Checks = map[string]any{}
	res.Extra = map[string]float64{}
	fail := func(err error) bigResult {
		res.Err = err.Error()
		return res
	}
	query := ""
	if job.Mode == "cdc" {
		query = "cdc=on"
	}
	db, err := openBig(job.Driver, job.Path, query)
	if err != nil {
		return fail(err)
	}
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	db.SetMaxOpenConns(2)
	if _, err := db.Exec(bigSchema); err != nil {
		return fail(err)
	}
	base, err := bigCount(db, "t")
	if err != nil {
		return fail(err)
	}
	ctx := context.Background()
	opts := &sql.TxOptions{}
	if job.Mode == "concurrent" {
		opts.Isolation = LevelConcurrent
	}
	var before uint64
	if job.Scenario == "update-rollback" {
		if before, err = bigDigest(db); err != nil {
			return fail(err)
		}
	}
	wantRows := base
	var readerRows int64 = -1

	samp := startBigMemSampler(20 * time.Millisecond)
	start := time.Now()
	err = func() error {
		switch job.Scenario {
		case "reader":
			return bigReaderScenario(ctx, db, job, res.Extra, &readerRows)
		case "vacuum":
			_, err := db.ExecContext(ctx, "VACUUM")
			return err
		}
		tx, err := db.BeginTx(ctx, opts)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		switch job.Scenario {
		case "insert":
			ins, err := tx.Prepare("INSERT INTO t(id, n, b) VALUES (?, ?, ?)")
			if err != nil {
				return err
			}
			buf := make([]byte, 1024)
			first := int(base) + 1
			for i := first; i < first+job.Rows; i++ {
				if _, err := ins.Exec(i, i, bigBlob(buf, i)); err != nil {
					return err
				}
			}
			ins.Close()
			wantRows = base + int64(job.Rows)
		case "update", "update-rollback":
			_, err = tx.Exec("UPDATE t SET n = n + 1, b = randomblob(1024)")
		case "delete":
			_, err = tx.Exec("DELETE FROM t")
			wantRows = 0
		case "index":
			_, err = tx.Exec("CREATE INDEX t_b ON t(b)")
		default:
			err = fmt.Errorf("unknown scenario %q", job.Scenario)
		}
		if err != nil {
			return err
		}
		if job.Scenario == "update-rollback" {
			return tx.Rollback()
		}
		return tx.Commit()
	}()
	res.Seconds = time.Since(start).Seconds()
	res.Mem = samp.finish()
	if err != nil {
		return fail(err)
	}

	// Correctness after it.
	if job.Scenario == "reader" {
		wantRows = base + int64(job.Rows)
		res.Checks["reader_saw_snapshot"] = readerRows == base
	}
	res.Checks["integrity"] = bigIntegrity(db)
	n, err := bigCount(db, "t")
	res.Checks["rows"] = n
	res.Checks["rows_ok"] = err == nil && n == wantRows
	if job.Scenario == "update-rollback" {
		after, err := bigDigest(db)
		res.Checks["rollback_unchanged"] = err == nil && after == before
	}
	if job.Driver == "libsql" {
		// The background checkpoint after the big commit.
		deadline := time.Now().Add(20 * time.Second)
		var s map[string]any
		for {
			if s, err = bigStats(db); err != nil {
				return fail(err)
			}
			// Below the autocheckpoint threshold (1000 frames) nothing
			// checkpoints until the next commit or the close.
			if f := bigStatInt(s, "log_frames"); f < 1000 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		res.Checks["log_frames_after"] = bigStatInt(s, "log_frames")
		res.Checks["log_restarts"] = bigStatInt(s, "log_restarts")
		res.Checks["wal_mb_open"] = bigMiB(uint64(max(bigFileSize(job.Path+"-wal"), 0)))
	} else {
		res.Checks["wal_mb_open"] = bigMiB(uint64(max(bigFileSize(job.Path+"-wal"), 0)))
	}
	if err := db.Close(); err != nil {
		return fail(fmt.Errorf("close: %w", err))
	}
	db = nil
	res.Checks["wal_mb_closed"] = bigMiB(uint64(max(bigFileSize(job.Path+"-wal"), 0)))
	res.Checks["db_mb"] = bigMiB(uint64(max(bigFileSize(job.Path), 0)))
	if job.Driver == "libsql" {
		// Stock SQLite opens the file with the same rows; ours reopens it.
		mdb, err := sql.Open("sqlite", "file:"+job.Path)
		if err != nil {
			return fail(err)
		}
		mn, err := bigCount(mdb, "t")
		res.Checks["modernc_rows_ok"] = err == nil && mn == wantRows
		res.Checks["modernc_quick_check"] = func() string {
			var s string
			if err := mdb.QueryRow("PRAGMA quick_check").Scan(&s); err != nil {
				return err.Error()
			}
			return s
		}()
		mdb.Close()
		odb, err := openOurs(job.Path, query)
		if err != nil {
			return fail(err)
		}
		on, err := bigCount(odb, "t")
		res.Checks["reopen_rows_ok"] = err == nil && on == wantRows
		odb.Close()
	}
	return res
}

// bigReaderScenario: one connection holds a read transaction (pinning its
// snapshot) while the other commits job.Rows 1 KiB rows in commits of 1000
// rows; then the reader counts again and ends, and one more small commit
// follows. Extra gets the log's state at each step.
func bigReaderScenario(ctx context.Context, db *sql.DB, job bigJob, extra map[string]float64, readerRows *int64) error {
	r, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer r.Close()
	rtx, err := r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer rtx.Rollback()
	if _, err := bigCount(rtx, "t"); err != nil {
		return err
	}
	w, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer w.Close()
	var base int64
	if err := w.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) FROM t").Scan(&base); err != nil {
		return err
	}
	const per = 1000
	for from := int(base) + 1; from <= int(base)+job.Rows; from += per {
		if _, err := w.ExecContext(ctx, bigFillSQL, from, min(from+per-1, int(base)+job.Rows)); err != nil {
			return err
		}
	}
	state := func(prefix string) {
		extra[prefix+"_wal_mb"] = bigMiB(uint64(max(bigFileSize(job.Path+"-wal"), 0)))
		if job.Driver == "libsql" {
			if s, err := bigStats(w); err == nil {
				extra[prefix+"_log_frames"] = float64(bigStatInt(s, "log_frames"))
				extra[prefix+"_backfilled"] = float64(bigStatInt(s, "log_backfilled"))
				extra[prefix+"_restarts"] = float64(bigStatInt(s, "log_restarts"))
				extra[prefix+"_pinned"] = float64(bigStatInt(s, "pinned_snapshots"))
			}
		} else {
			var busy, lg, ck int
			if err := w.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &lg, &ck); err == nil {
				extra[prefix+"_log_frames"] = float64(lg)
				extra[prefix+"_backfilled"] = float64(ck)
			}
		}
	}
	time.Sleep(200 * time.Millisecond)
	state("pinned")
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	extra["pinned_live_heap_mb"] = bigMiB(ms.HeapAlloc)
	n, err := bigCount(rtx, "t")
	if err != nil {
		return err
	}
	*readerRows = n
	if err := rtx.Commit(); err != nil {
		return err
	}
	time.Sleep(500 * time.Millisecond)
	state("ended")
	if _, err := w.ExecContext(ctx, "INSERT INTO t(id, n, b) VALUES (?, 0, x'00')", base+int64(job.Rows)+1); err != nil {
		return err
	}
	// Our checkpointer runs in the background after the commit; stock
	// SQLite's autocheckpoint ran inside it.
	deadline := time.Now().Add(10 * time.Second)
	for job.Driver == "libsql" && time.Now().Before(deadline) {
		s, err := bigStats(w)
		if err != nil || bigStatInt(s, "log_frames") < 10 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	state("next_commit")
	if _, err := w.ExecContext(ctx, "INSERT INTO t(id, n, b) VALUES (?, 0, x'00')", base+int64(job.Rows)+2); err != nil {
		return err
	}
	state("second_commit")
	// Keep the count the caller checks: two small rows more.
	if _, err := w.ExecContext(ctx, "DELETE FROM t WHERE id > ?", base+int64(job.Rows)); err != nil {
		return err
	}
	return nil
}

// runBigChild runs one job in a child process and returns its result.
func runBigChild(t *testing.T, job bigJob) bigResult {
	t.Helper()
	spec, _ := json.Marshal(job)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestBigTxReviewChild$", "-test.count=1", "-test.v", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), bigChildEnv+"="+string(spec))
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "BIGTX_RESULT "); ok {
			var res bigResult
			if err := json.Unmarshal([]byte(rest), &res); err != nil {
				t.Fatalf("child result: %v", err)
			}
			return res
		}
	}
	t.Fatalf("child %+v: %v\n%s", job, err, out)
	return bigResult{}
}

// copyFile copies src to dst.
func bigCopyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func logBigResult(t *testing.T, r bigResult) {
	t.Helper()
	checks, _ := json.Marshal(r.Checks)
	extra := ""
	if len(r.Extra) > 0 {
		b, _ := json.Marshal(r.Extra)
		extra = " extra=" + string(b)
	}
	t.Logf("%-16s %-8s %-10s %6.1fs  Go heap peak %7.1f MiB (sys %7.1f)  RSS %7.1f -> %7.1f MiB (+%7.1f)  err=%q checks=%s%s",
		r.Job.Scenario, r.Job.Driver, r.Job.Mode, r.Seconds, r.Mem.HeapInusePeak, r.Mem.SysPeak, r.Mem.RSSBase, r.Mem.RSSPeak, r.Mem.RSSGrowth, r.Err, checks, extra)
}

// checkBigResult fails the test for a correctness failure of r.
func checkBigResult(t *testing.T, r bigResult) {
	t.Helper()
	if r.Err != "" {
		t.Errorf("%s/%s/%s failed: %s", r.Job.Scenario, r.Job.Driver, r.Job.Mode, r.Err)
		return
	}
	for k, v := range r.Checks {
		switch {
		case k == "integrity" || k == "modernc_quick_check":
			if v != "ok" {
				t.Errorf("%s/%s/%s: %s: %v", r.Job.Scenario, r.Job.Driver, r.Job.Mode, k, v)
			}
		case strings.HasSuffix(k, "_ok") || k == "rollback_unchanged" || k == "reader_saw_snapshot":
			if v != true {
				t.Errorf("%s/%s/%s: %s is %v", r.Job.Scenario, r.Job.Driver, r.Job.Mode, k, v)
			}
		}
	}
}

// bigSoakBase makes the ~300 MiB base database once per test.
func bigSoakBase(t *testing.T, rows int) string {
	t.Helper()
	base := filepath.Join(t.TempDir(), "base.db")
	start := time.Now()
	if err := makeBigBase(base, rows); err != nil {
		t.Fatal(err)
	}
	t.Logf("base database: %d rows, %.0f MiB, made in %.1fs", rows, bigMiB(uint64(bigFileSize(base))), time.Since(start).Seconds())
	return base
}

// bigSoakPair runs a scenario with modernc and with ours (in each mode
// given), and fails when ours peaks more than slack MiB above modernc.
func bigSoakPair(t *testing.T, base, scenario string, rows int, modes ...string) {
	t.Helper()
	job := func(driver, mode string) bigResult {
		path := filepath.Join(t.TempDir(), "db.db")
		if base != "" {
			if err := bigCopyFile(path, base); err != nil {
				t.Fatal(err)
			}
		}
		r := runBigChild(t, bigJob{Scenario: scenario, Driver: driver, Mode: mode, Path: path, Rows: rows})
		logBigResult(t, r)
		checkBigResult(t, r)
		return r
	}
	theirs := job("modernc", "plain")
	const slack = 256 // MiB
	for _, mode := range modes {
		ours := job("libsql", mode)
		peakOurs := max(ours.Mem.RSSGrowth, ours.Mem.HeapGrowth)
		peakTheirs := max(theirs.Mem.RSSGrowth, theirs.Mem.HeapGrowth)
		if peakOurs > peakTheirs+slack {
			t.Errorf("%s (%s): ours grew by %.0f MiB (RSS peak %.0f MiB, Go heap peak %.0f MiB), modernc by %.0f MiB (RSS peak %.0f MiB, Go heap peak %.0f MiB)",
				scenario, mode, peakOurs, ours.Mem.RSSPeak, ours.Mem.HeapInusePeak, peakTheirs, theirs.Mem.RSSPeak, theirs.Mem.HeapInusePeak)
		}
	}
}

// bigSoakRows is the size of the base table: 300k rows of 1 KiB (~330 MiB).
func bigSoakRows() int {
	if s := os.Getenv("LIBSQL_BIGTX_ROWS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			return n
		}
	}
	return 300_000
}

// TestBigTxReviewSoakMemory (question 1, and 3): one transaction that
// inserts 400k 1 KiB rows, UPDATEs / DELETEs every row of a 300k-row table,
// CREATE INDEX on it, VACUUM of it, and an UPDATE rolled back.
func TestBigTxReviewSoakMemory(t *testing.T) {
	bigSoakScenarios(t, "plain", "insert", "update", "delete", "index", "vacuum", "update-rollback")
}

// TestBigTxReviewSoakConcurrent (question 2): the insert, the update and
// the delete in BEGIN CONCURRENT, whose row changes, kept for a rebase, go
// to a temporary file that moves to disk.
func TestBigTxReviewSoakConcurrent(t *testing.T) {
	bigSoakScenarios(t, "concurrent", "insert", "update", "delete")
}

// TestBigTxReviewSoakCDC (question 2): the same with cdc=on, whose
// captured row changes go to a temporary file too, and are stored from
// there a chunk at a time.
func TestBigTxReviewSoakCDC(t *testing.T) {
	bigSoakScenarios(t, "cdc", "insert", "update", "delete")
}

// bigSoakScenarios runs the scenarios LIBSQL_BIGTX_ONLY lists (all if it
// is empty) in mode against modernc's plain run of each: "insert" into an
// empty table, the others on a table of bigSoakRows rows.
func bigSoakScenarios(t *testing.T, mode string, scenarios ...string) {
	if !soak() {
		t.Skip("LIBSQL_SOAK=1")
	}
	rows := bigSoakRows()
	only := os.Getenv("LIBSQL_BIGTX_ONLY")
	var base string
	for _, s := range scenarios {
		if only != "" && !strings.Contains(","+only+",", ","+s+",") {
			continue
		}
		if s == "insert" {
			t.Run(s, func(t *testing.T) { bigSoakPair(t, "", s, rows*4/3, mode) })
			continue
		}
		if base == "" {
			base = bigSoakBase(t, rows)
		}
		t.Run(s, func(t *testing.T) { bigSoakPair(t, base, s, rows, mode) })
	}
}

// TestBigTxReviewSoakReader (question 4): a read transaction pins its
// snapshot while the other connection commits 200k 1 KiB rows (~200 MiB) in
// commits of 1000 rows.
func TestBigTxReviewSoakReader(t *testing.T) {
	if !soak() {
		t.Skip("LIBSQL_SOAK=1")
	}
	base := filepath.Join(t.TempDir(), "base.db")
	if err := makeBigBase(base, 10_000); err != nil {
		t.Fatal(err)
	}
	bigSoakPair(t, base, "reader", 200_000, "plain")
}

// TestBigTxReviewRollbackReservesLog: a ROLLBACK writes nothing to the
// database in stock SQLite's WAL mode. Here, SQLite in rollback-journal mode
// plays its journal back into the pages it spilled (into the private write
// set), then syncs the database file, and File.Sync reserves log space for
// the whole write set (iouring_vfs/conn.go File.Sync → wal.Log.Reserve,
// which writes zeros): the rollback of a 16 MiB UPDATE grows the -wal by
// 16 MiB of zeros (and could fail on a full disk).
func TestBigTxReviewRollbackReservesLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	db, err := openOurs(path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	mustExec(t, db, bigSchema)
	mustExec(t, db, bigFillSQL, 1, 12<<10)
	mustExec(t, db, "PRAGMA wal_checkpoint(TRUNCATE)")
	before := bigFileSize(path + "-wal")
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("UPDATE t SET b = randomblob(1024)"); err != nil {
		t.Fatal(err)
	}
	inTx := bigFileSize(path + "-wal")
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	after := bigFileSize(path + "-wal")
	t.Logf("-wal before the transaction %d bytes, before its ROLLBACK %d bytes, after it %.1f MiB", before, inTx, bigMiB(uint64(max(after, 0))))
	if after-max(before, 0) > 2<<20 {
		t.Errorf("ROLLBACK of an UPDATE of 16 MiB grew the -wal from %d bytes to %.1f MiB: the journal playback's xSync reserved log space for the discarded write set", before, bigMiB(uint64(after)))
	}
	if got := bigIntegrity(db); got != "ok" {
		t.Errorf("integrity_check: %s", got)
	}
}
