package libsql

// The consumer's review of change data capture: tests written as a Go
// developer replacing "poll a table" with Changes would write them, checking
// what the README's "Change data capture" section, doc.go and the
// changefeed package documentation promise: exactly once, in commit order,
// resumable with cdc=on, never silently skipped, and what `libsql tail`
// prints. Long variants run with LIBSQL_SOAK=1; tests of limitations the
// documentation does not state (memory bounds counted in changes or
// transactions rather than bytes, SQLite's VACUUM renumbering rowids), which
// fail today by design, run with LIBSQL_KNOWN_LIMITS=1.

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golibsql/libsql/changefeed"
)

// ---- helpers ----

// crvOpen opens dsn, closed at cleanup if the test does not close it.
func crvOpen(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// crvDSN is the DSN of the file name in dir with the query keys q.
func crvDSN(dir, name, q string) string {
	dsn := "file:" + filepath.ToSlash(filepath.Join(dir, name))
	if q != "" {
		dsn += "?" + q
	}
	return dsn
}

// crvDrain reads changes until none comes for quiet; it returns the
// changes and the first error that is not the quiet timeout.
func crvDrain(s *ChangeStream, quiet time.Duration) ([]Change, error) {
	var out []Change
	for {
		ctx, cancel := context.WithTimeout(context.Background(), quiet)
		ch, err := s.Next(ctx)
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return out, nil
			}
			return out, err
		}
		out = append(out, ch)
	}
}

// crvKey identifies a change: LSN, index and content.
func crvKey(c Change) string {
	return fmt.Sprintf("%v/%d %s cols=%v", c.LSN, c.Index, describeChange(c), c.Columns)
}

func crvKeys(chs []Change) []string {
	var out []string
	for _, c := range chs {
		out = append(out, crvKey(c))
	}
	return out
}

// crvHash is the short identity of a change the crash child prints.
func crvHash(c Change) string {
	h := fnv.New64a()
	h.Write([]byte(crvKey(c)))
	return strconv.FormatUint(h.Sum64(), 16)
}

// crvHeap is the live heap after two collections.
func crvHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// crvSeqOf returns the int64 values of column col of the inserts into
// table, in stream order.
func crvSeqOf(chs []Change, table string, col int) []int64 {
	var out []int64
	for _, c := range chs {
		if c.Table == table && c.Op == changefeed.Insert {
			out = append(out, c.New[col].(int64))
		}
	}
	return out
}

// ---- crash and resume ----

const crvChildEnv = "LIBSQL_CRV_CHILD_DB"

// TestCDCConsumerReviewCrashChild is the child of
// TestCDCConsumerReviewCrashResume: with cdc=on, three writers (plain
// transactions with failing statements, savepoints and rollbacks; BEGIN
// CONCURRENT transactions on another table, whose page allocations make
// them rebase; BEGIN CONCURRENT ones on the first table, which conflict)
// commit until the process is killed, while a consumer resumed from the
// LSN in the environment reads the stream, printing each change ("c LSN
// INDEX HASH") and, at the end of each transaction, the LSN it handled
// ("done LSN"). Writers print "ack TOKEN" after each acknowledged commit.
func TestCDCConsumerReviewCrashChild(t *testing.T) {
	path := os.Getenv(crvChildEnv)
	if path == "" {
		t.Skip("child process of TestCDCConsumerReviewCrashResume")
	}
	out := make(chan string, 1<<16)
	go func() {
		for l := range out {
			os.Stdout.WriteString(l + "\n")
		}
	}()
	fail := func(format string, args ...any) {
		out <- "error " + fmt.Sprintf(format, args...)
		select {}
	}
	ctx := context.Background()
	db, err := Open("file:" + path + "?cdc=on&sync=full&busy_timeout=10s")
	if err != nil {
		fail("open: %v", err)
	}
	if _, err := db.Exec(`
		CREATE TABLE IF NOT EXISTS a(id INTEGER PRIMARY KEY, tok TEXT UNIQUE, v);
		CREATE TABLE IF NOT EXISTS c(id INTEGER PRIMARY KEY, tok TEXT UNIQUE, pad, v);
		CREATE TABLE IF NOT EXISTS cnt(id INTEGER PRIMARY KEY, n);
		INSERT OR IGNORE INTO cnt VALUES (1, 0)`); err != nil {
		fail("schema: %v", err)
	}
	since, _ := strconv.ParseUint(os.Getenv(crvChildEnv+"_SINCE"), 10, 64)
	opts := ChangeOptions{Since: LSN(since), Buffer: 16}
	if since == 0 {
		opts.Since = changefeed.Oldest
	}
	s, err := Changes(ctx, db, opts)
	if err != nil {
		fail("Changes: %v", err)
	}
	iter := os.Getenv(crvChildEnv + "_ITER")
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	go func() {
		cr := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 8))
		for {
			ch, err := s.Next(ctx)
			if err != nil {
				fail("Next: %v", err)
			}
			out <- fmt.Sprintf("c %d %d %s", ch.LSN, ch.Index, crvHash(ch))
			if s.LSN() >= ch.LSN {
				out <- fmt.Sprintf("done %d", ch.LSN)
			}
			if cr.IntN(50) == 0 { // a slow consumer now and then: it lags
				time.Sleep(time.Duration(cr.IntN(20)) * time.Millisecond)
			}
		}
	}()
	conn := func() *sql.Conn {
		c, err := db.Conn(ctx)
		if err != nil {
			fail("Conn: %v", err)
		}
		return c
	}
	// Writer 1: plain transactions.
	go func() {
		c := conn()
		for k := 0; ; k++ {
			tok := fmt.Sprintf("%s-w1-%d", iter, k)
			if _, err := c.ExecContext(ctx, "BEGIN"); err != nil {
				fail("w1 BEGIN: %v", err)
			}
			c.ExecContext(ctx, "INSERT INTO a(tok, v) VALUES (?, ?)", tok, r.IntN(100))
			switch r.IntN(4) {
			case 0: // fails on its second row: the first is undone
				c.ExecContext(ctx, "INSERT INTO a(tok, v) VALUES (?, 1), (?, 2)", tok+"-x", tok)
			case 1:
				c.ExecContext(ctx, "SAVEPOINT sp")
				c.ExecContext(ctx, "DELETE FROM a WHERE id % 7 = ?", r.IntN(7))
				c.ExecContext(ctx, "ROLLBACK TO sp")
				c.ExecContext(ctx, "RELEASE sp")
			case 2:
				c.ExecContext(ctx, "UPDATE a SET v = v + 1 WHERE id % 5 = ?", r.IntN(5))
			}
			c.ExecContext(ctx, "UPDATE cnt SET n = n + 1 WHERE id = 1")
			if r.IntN(5) == 0 {
				c.ExecContext(ctx, "ROLLBACK")
				continue
			}
			if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
				c.ExecContext(ctx, "ROLLBACK")
				continue
			}
			out <- "ack " + tok
		}
	}()
	// Writers 2 and 3: BEGIN CONCURRENT, on c (rebased past writer 1's
	// page allocations) and on a (conflicting with writer 1 at times).
	for w, table := range []string{"c", "a"} {
		go func() {
			c := conn()
			wr := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(w)))
			for k := 0; ; k++ {
				tok := fmt.Sprintf("%s-w%d-%d", iter, w+2, k)
				if _, err := c.ExecContext(ctx, "BEGIN CONCURRENT"); err != nil {
					fail("w%d BEGIN: %v", w+2, err)
				}
				var err error
				if table == "c" {
					_, err = c.ExecContext(ctx, "INSERT INTO c(tok, pad, v) VALUES (?, randomblob(1500), 0)", tok)
					if err == nil && wr.IntN(2) == 0 {
						_, err = c.ExecContext(ctx, "UPDATE c SET v = v + 1 WHERE id = (SELECT max(id) - 3 FROM c)")
					}
				} else {
					_, err = c.ExecContext(ctx, "INSERT INTO a(tok, v) VALUES (?, -1)", tok)
				}
				if err == nil {
					_, err = c.ExecContext(ctx, "COMMIT")
				}
				if err != nil {
					c.ExecContext(ctx, "ROLLBACK")
					continue
				}
				out <- "ack " + tok
				time.Sleep(time.Duration(wr.IntN(2)) * time.Millisecond)
			}
		}()
	}
	go func() {
		for {
			time.Sleep(50 * time.Millisecond)
			var st string
			if db.QueryRow("PRAGMA libsql_stats").Scan(&st) == nil {
				out <- "stats " + st
			}
		}
	}()
	select {}
}

// TestCDCConsumerReviewCrashResume: a consumer that records the last LSN
// it handled and is killed (SIGKILL, its writers with it) at random
// points, resuming each time from that LSN, while more transactions are
// committed while it is down (by this process, some with a log truncation
// in between): put together, what it handled is exactly the durable log,
// every transaction once, in commit order, with every acknowledged commit
// in it, and applied to the tables as they began it rebuilds them.
func TestCDCConsumerReviewCrashResume(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	iterations := 3
	if soak() {
		iterations = 40
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "crash.db")
	var (
		handled []string // "LSN/INDEX HASH" of every change handled, in order
		pending []string // of the transaction being handled
		pendLSN uint64
		last    uint64 // the recorded resume point
		acked   = map[string]bool{}
		stats   string
	)
	for iter := range iterations {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCDCConsumerReviewCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crvChildEnv+"="+path, crvChildEnv+"_SINCE="+strconv.FormatUint(last, 10), crvChildEnv+"_ITER="+strconv.Itoa(iter))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		timer := time.AfterFunc(time.Duration(150+rand.IntN(300))*time.Millisecond, func() { cmd.Process.Kill() })
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		pending, pendLSN = nil, 0
		for sc.Scan() {
			line := sc.Text()
			f := strings.Fields(line)
			switch {
			case len(f) == 4 && f[0] == "c":
				l, _ := strconv.ParseUint(f[1], 10, 64)
				if l <= last {
					cmd.Process.Kill()
					t.Fatalf("iteration %d: change of LSN %d delivered again (handled through %d)", iter, l, last)
				}
				if pendLSN != 0 && l != pendLSN {
					cmd.Process.Kill()
					t.Fatalf("iteration %d: change of LSN %d before transaction %d ended", iter, l, pendLSN)
				}
				pendLSN = l
				pending = append(pending, f[1]+"/"+f[2]+" "+f[3])
			case len(f) == 2 && f[0] == "done":
				l, _ := strconv.ParseUint(f[1], 10, 64)
				if l != pendLSN {
					cmd.Process.Kill()
					t.Fatalf("iteration %d: done %d, handling %d", iter, l, pendLSN)
				}
				handled = append(handled, pending...)
				pending, pendLSN, last = nil, 0, l
			case len(f) == 2 && f[0] == "ack":
				acked[f[1]] = true
			case len(f) > 0 && f[0] == "stats":
				stats = line
			case len(f) > 0 && f[0] == "error":
				cmd.Process.Kill()
				t.Fatalf("iteration %d: child: %s", iter, line)
			}
		}
		timer.Stop()
		cmd.Wait()
		// Committed while the consumer is down.
		db := crvOpen(t, crvDSN(dir, "crash.db", "cdc=on"))
		for k := range 3 {
			tok := fmt.Sprintf("%d-p-%d", iter, k)
			mustExec(t, db, "BEGIN; INSERT INTO a(tok, v) VALUES ('"+tok+"', 0); UPDATE cnt SET n = n + 100; COMMIT")
			acked[tok] = true
		}
		ctok := fmt.Sprintf("%d-pc", iter)
		c := dbConn(t, db)
		cexec(t, c, "BEGIN CONCURRENT")
		cexec(t, c, "INSERT INTO c(tok, pad, v) VALUES (?, x'00', 0)", ctok)
		cexec(t, c, "COMMIT")
		c.Close()
		acked[ctok] = true
		if iter%2 == 1 {
			mustExec(t, db, "PRAGMA wal_checkpoint(TRUNCATE)")
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if last == 0 {
		t.Fatal("the consumer handled nothing")
	}
	// The consumer's last resume, to the end.
	db := openTestDSN(t, crvDSN(dir, "crash.db", "cdc=on"))
	rest, err := crvDrain(stream(t, db, ChangeOptions{Since: LSN(last)}), 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range rest {
		if uint64(ch.LSN) <= last {
			t.Fatalf("resumed after %d: change of LSN %v", last, ch.LSN)
		}
		handled = append(handled, fmt.Sprintf("%v/%d %s", ch.LSN, ch.Index, crvHash(ch)))
	}
	all, err := crvDrain(stream(t, db, ChangeOptions{Since: changefeed.Oldest}), 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	rvCheckOrder(t, all, true)
	var want []string
	for _, ch := range all {
		want = append(want, fmt.Sprintf("%v/%d %s", ch.LSN, ch.Index, crvHash(ch)))
	}
	if !slices.Equal(handled, want) {
		i := 0
		for i < len(handled) && i < len(want) && handled[i] == want[i] {
			i++
		}
		t.Fatalf("the consumer handled %d changes, the durable log holds %d; first difference at %d: handled %q, log %q",
			len(handled), len(want), i, crvAt(handled, i), crvAt(want, i))
	}
	m := newRVModel(nil)
	m.rows["cnt"] = map[string]string{"1": "(1,0)"}
	inserted := map[string]int{}
	for i, ch := range all {
		if ch.Table == "cnt" && ch.Op == changefeed.Insert {
			continue // the row the model starts with
		}
		if err := m.apply(ch); err != nil {
			t.Fatalf("durable change %d: %v", i, err)
		}
		if ch.Op == changefeed.Insert && (ch.Table == "a" || ch.Table == "c") {
			inserted[ch.New[1].(string)]++
		}
	}
	m.check(t, db, "a", "c", "cnt")
	for tok := range acked {
		if inserted[tok] != 1 {
			t.Fatalf("acknowledged commit %s inserted %d times in the stream", tok, inserted[tok])
		}
	}
	t.Logf("%d iterations: %d changes handled, %d acknowledged commits; the last child's %s", iterations, len(handled), len(acked), stats)
}

func crvAt(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "(end)"
}

// ---- several streams, several handles, memory databases ----

// TestCDCConsumerReviewFilteredStreamsAcrossHandles opens several streams
// with different filters on one *sql.DB while the writes come from another
// *sql.DB of the same database (a file, a named memory database) or from
// another connection of the same one (:memory:): each filtered stream is
// the unfiltered one filtered as the docs say (tables in any ASCII case,
// ops), with LSN and Index as in the unfiltered stream, and its LSN() is
// the last transaction's once it has read past it.
func TestCDCConsumerReviewFilteredStreamsAcrossHandles(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, reader, writer string }{
		{"file", crvDSN(dir, "f.db", "sync=off"), crvDSN(dir, "f.db", "sync=off")},
		{"file-cdc=on", crvDSN(dir, "g.db", "cdc=on&sync=off"), crvDSN(dir, "g.db", "cdc=on&sync=off")},
		{"mode=memory", "file:crvfiltered?mode=memory", "file:crvfiltered?mode=memory"},
		{":memory:", ":memory:", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rdb := crvOpen(t, tc.reader)
			wdb := rdb
			if tc.writer != "" {
				wdb = crvOpen(t, tc.writer)
			}
			mustExec(t, wdb, "CREATE TABLE t1(id INTEGER PRIMARY KEY, v); CREATE TABLE T2(k TEXT PRIMARY KEY, v) WITHOUT ROWID; CREATE TABLE t3(v)")
			optss := []ChangeOptions{
				{},
				{Tables: []string{"t1"}},
				{Tables: []string{"t2", "T3"}},
				{Ops: []changefeed.Op{changefeed.Delete}},
				{Tables: []string{"T1"}, Ops: []changefeed.Op{changefeed.Insert, changefeed.Update}},
				{Tables: []string{"nosuch"}},
			}
			var ss []*ChangeStream
			for _, o := range optss {
				ss = append(ss, stream(t, rdb, o))
			}
			wc := dbConn(t, wdb)
			ctx := context.Background()
			for i := range 40 {
				cexec(t, wc, "BEGIN")
				cexec(t, wc, "INSERT INTO t1(v) VALUES (?)", i)
				if i%2 == 0 {
					cexec(t, wc, "INSERT OR REPLACE INTO t2 VALUES (?, ?)", fmt.Sprint("k", i%5), i)
				}
				if i%3 == 0 {
					cexec(t, wc, "DELETE FROM t1 WHERE id = ?", i/2)
				}
				if i%4 == 0 {
					cexec(t, wc, "UPDATE t1 SET v = v * 10 WHERE id = ?", i)
				}
				cexec(t, wc, "COMMIT")
				if i%5 == 0 {
					// Autocommit, a BEGIN CONCURRENT commit and a rollback.
					wc.ExecContext(ctx, "INSERT INTO t3 VALUES (?)", i)
					cexec(t, wc, "BEGIN CONCURRENT")
					cexec(t, wc, "UPDATE t3 SET v = v + 1")
					cexec(t, wc, "COMMIT")
					cexec(t, wc, "BEGIN")
					cexec(t, wc, "DELETE FROM t1")
					cexec(t, wc, "ROLLBACK")
				}
			}
			mustExec(t, wdb, "INSERT INTO t1(v) VALUES ('last')")
			all := crvUntilLast(t, ss[0])
			rvCheckOrder(t, all, true)
			lastLSN := all[len(all)-1].LSN
			for k, o := range optss[1:] {
				var want []string
				for _, ch := range all {
					if rvMatch(o, ch) {
						want = append(want, crvKey(ch))
					}
				}
				got, err := crvDrain(ss[k+1], 150*time.Millisecond)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(crvKeys(got), want) {
					t.Fatalf("stream %+v: %d changes, want %d:\n  %s\nwant\n  %s", o, len(got), len(want), strings.Join(crvKeys(got), "\n  "), strings.Join(want, "\n  "))
				}
				if l := ss[k+1].LSN(); l != lastLSN {
					t.Fatalf("stream %+v: LSN() %v after reading past the last transaction %v", o, l, lastLSN)
				}
			}
		})
	}
}

// crvUntilLast reads an unfiltered stream through the insert of 'last'
// into t1 (returned).
func crvUntilLast(t *testing.T, s *ChangeStream) []Change {
	t.Helper()
	var out []Change
	for {
		ch := next(t, s, 1)[0]
		out = append(out, ch)
		if ch.Table == "t1" && ch.Op == changefeed.Insert && ch.New[1] == "last" {
			return out
		}
	}
}

// ---- mixed cdc settings on one database ----

// TestCDCConsumerReviewMixedCDCHandlesGap: one process opens a database
// with cdc=on (the application's consumer) and, as well, without cdc (a
// second *sql.DB: a migration, an admin handle, a library that opens the
// path itself). The durable log then missed the second handle's
// transactions, and nothing said so: a consumer resuming from an LSN, and
// even a running cdc=on stream that lagged and read on from the durable
// log, skipped them silently. The README promises "no gap" with cdc=on and
// that a slow consumer "is never silently skipped". Such a handle's writes
// are now refused, saying to open it with cdc=on.
func TestCDCConsumerReviewMixedCDCHandlesGap(t *testing.T) {
	dir := t.TempDir()
	on := crvOpen(t, crvDSN(dir, "m.db", "cdc=on&sync=off"))
	off := crvOpen(t, crvDSN(dir, "m.db", "sync=off"))
	mustExec(t, on, "CREATE TABLE t(id INTEGER PRIMARY KEY, n)")
	slow := stream(t, on, ChangeOptions{Buffer: 1})
	const n = 600 // more than the hub's in-memory history
	for i := 1; i <= n; i++ {
		if i%3 == 0 {
			// A handle without cdc=on may not write a database whose
			// changes are stored: its writes were missing from the
			// stored history. It is told why, and the write is done
			// through the other.
			_, err := off.Exec("INSERT INTO t(n) VALUES (?)", i)
			if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), "cdc=on") {
				t.Fatalf("a write through a handle without cdc=on: %v, want ErrReadOnly saying to use cdc=on", err)
			}
		}
		mustExec(t, on, "INSERT INTO t(n) VALUES (?)", i)
	}
	var problems []string
	got, err := crvDrain(slow, 200*time.Millisecond)
	seq := crvSeqOf(got, "t", 1)
	if err != nil && !errors.Is(err, ErrStreamLagged) {
		t.Fatal(err)
	}
	for i, v := range seq {
		if v != int64(i+1) {
			problems = append(problems, fmt.Sprintf("a cdc=on stream that lagged delivered %d changes with no error, row %d after row %d (a silent gap)", len(seq), v, i))
			break
		}
	}
	if err == nil && len(seq) != n {
		problems = append(problems, fmt.Sprintf("a cdc=on stream that lagged delivered %d of %d rows, no error", len(seq), n))
	}
	var stored int
	on.QueryRow("SELECT count(*) FROM libsql_cdc").Scan(&stored)
	if err := off.Close(); err != nil {
		t.Fatal(err)
	}
	resumed, err := crvDrain(stream(t, on, ChangeOptions{Since: changefeed.Oldest}), 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if rs := crvSeqOf(resumed, "t", 1); len(rs) != n {
		problems = append(problems, fmt.Sprintf("libsql_cdc holds %d transactions of %d committed; a stream resumed from Oldest got %d rows, no error", stored, n, len(rs)))
	}
	if len(problems) > 0 {
		t.Fatal(strings.Join(problems, "\n"))
	}
}

// TestCDCConsumerReviewDurableSourceIgnored: when a stream was first
// opened through a handle without cdc=on (or the hub was created by it),
// a cdc=on handle opened afterwards in the same process gets streams
// without the durable log: Since Oldest silently starts at the hub's
// in-memory history (256 transactions) instead of the log's oldest, and a
// lagging stream ends with ErrStreamLagged although the README says that
// with cdc=on it reads on from the durable log.
func TestCDCConsumerReviewDurableSourceIgnored(t *testing.T) {
	dir := t.TempDir()
	off := crvOpen(t, crvDSN(dir, "s.db", "sync=off"))
	mustExec(t, off, "CREATE TABLE t(id INTEGER PRIMARY KEY, n)")
	first := stream(t, off, ChangeOptions{}) // e.g. a cache invalidator
	_ = first
	on := crvOpen(t, crvDSN(dir, "s.db", "cdc=on&sync=off"))
	slow := stream(t, on, ChangeOptions{Buffer: 1})
	const n = 400
	for i := 1; i <= n; i++ {
		mustExec(t, on, "INSERT INTO t(n) VALUES (?)", i)
	}
	var problems []string
	if stored := count(t, on, "SELECT count(*) FROM libsql_cdc"); stored != n {
		t.Fatalf("libsql_cdc holds %d of %d", stored, n)
	}
	got, err := crvDrain(stream(t, on, ChangeOptions{Since: changefeed.Oldest}), 200*time.Millisecond)
	if err != nil || len(got) != n {
		problems = append(problems, fmt.Sprintf("cdc=on, Since Oldest: %d of the %d stored transactions (err %v)", len(got), n, err))
	}
	got, err = crvDrain(slow, 200*time.Millisecond)
	if err != nil || len(got) != n {
		problems = append(problems, fmt.Sprintf("cdc=on, a stream that lagged: %d of %d, then %v", len(got), n, err))
	}
	if len(problems) > 0 {
		t.Fatal(strings.Join(problems, "\n"))
	}
}

// ---- LSNs ----

// TestCDCConsumerReviewLSNsAcrossRestarts: "LSN ... increases with every
// commit" (changefeed.LSN). With cdc=on LSNs keep increasing across log
// truncations, clean closes (which truncate the log), the log removed as
// stock SQLite does, and retention deleting every stored transaction.
func TestCDCConsumerReviewLSNsAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	dsn := crvDSN(dir, "l.db", "cdc=on")
	path := filepath.Join(dir, "l.db")
	var lsns []LSN
	var prev LSN
	commit := func(db *sql.DB, what string) {
		t.Helper()
		s := stream(t, db, ChangeOptions{})
		mustExec(t, db, "INSERT INTO t VALUES (?)", what)
		ch := next(t, s, 1)[0]
		s.Close()
		if ch.LSN <= prev {
			t.Fatalf("%s: LSN %v after %v", what, ch.LSN, prev)
		}
		prev = ch.LSN
		lsns = append(lsns, ch.LSN)
	}
	db := crvOpen(t, dsn)
	mustExec(t, db, "CREATE TABLE t(v)")
	commit(db, "first")
	mustExec(t, db, "PRAGMA wal_checkpoint(TRUNCATE)")
	commit(db, "after truncate")
	mustExec(t, db, "CREATE TABLE ddl_only(x)") // a commit without row changes, last before the close
	db.Close()
	db = crvOpen(t, dsn)
	commit(db, "after close")
	db.Close()
	if err := os.Remove(path + "-wal"); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	db = crvOpen(t, dsn)
	commit(db, "after -wal removed")
	db.Close()
	// Retention deletes every stored transaction, then a clean close.
	cn, err := NewConnector(crvDSN(dir, "l.db", "cdc=on&cdc_retention=1ms"))
	if err != nil {
		t.Fatal(err)
	}
	cn.prune.interval = 5 * time.Millisecond
	db = sql.OpenDB(cn)
	t.Cleanup(func() { db.Close() })
	deadline := time.Now().Add(3 * time.Second)
	for count(t, db, "SELECT count(*) FROM libsql_cdc") > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("retention kept %d; %+v", count(t, db, "SELECT count(*) FROM libsql_cdc"), cn.PruneStats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	db.Close()
	db = crvOpen(t, dsn)
	commit(db, "after retention emptied the log")
	commit(db, "and one more")
	// Every stored one after the first resumes exactly.
	s := stream(t, db, ChangeOptions{Since: lsns[len(lsns)-2]})
	if got := next(t, s, 1)[0]; got.LSN != lsns[len(lsns)-1] {
		t.Fatalf("resumed after %v: %v, want %v", lsns[len(lsns)-2], got.LSN, lsns[len(lsns)-1])
	}
	t.Logf("LSNs %v", lsns)
}

// TestCDCConsumerReviewLSNReusedWithoutDurableCDC: with cdc off, a clean
// close truncates the log and the next open starts its LSNs over: the same
// LSN then names two different transactions (a consumer that keys or
// deduplicates by LSN, or stores one, is misled), and a stream opened with
// Since = an LSN saved before the restart (above the hub's Last) is not
// refused but silently drops the new commits until the LSNs pass it.
func TestCDCConsumerReviewLSNReusedWithoutDurableCDC(t *testing.T) {
	dir := t.TempDir()
	dsn := crvDSN(dir, "o.db", "")
	db := crvOpen(t, dsn)
	mustExec(t, db, "CREATE TABLE t(v)")
	s := stream(t, db, ChangeOptions{})
	for i := range 5 {
		mustExec(t, db, "INSERT INTO t VALUES (?)", i)
	}
	before := next(t, s, 5)
	saved := s.LSN()
	s.Close()
	db.Close()
	db = crvOpen(t, dsn)
	resumed := stream(t, db, ChangeOptions{Since: saved})
	now := stream(t, db, ChangeOptions{})
	for i := range 3 {
		mustExec(t, db, "INSERT INTO t VALUES (?)", fmt.Sprint("after restart ", i))
	}
	afters := next(t, now, 3)
	after := afters[0]
	var problems []string
	if after.LSN <= before[len(before)-1].LSN {
		problems = append(problems, fmt.Sprintf("the first commit after a restart has LSN %v, not above %v before it", after.LSN, before[len(before)-1].LSN))
	}
	for _, a := range afters {
		if r := crvLSNRow(before, a.LSN); r != nil {
			problems = append(problems, fmt.Sprintf("LSN %v named row %v before the restart, and row %v after it", a.LSN, r, a.New))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	ch, err := resumed.Next(ctx)
	cancel()
	if errors.Is(err, context.DeadlineExceeded) {
		problems = append(problems, fmt.Sprintf("a stream opened with Since %v (saved before the restart; the hub's Last is now %v) silently skipped the new commit %v", saved, after.LSN, after.LSN))
	} else if err == nil && ch.LSN != after.LSN {
		problems = append(problems, fmt.Sprintf("resumed stream: %s", crvKey(ch)))
	}
	if len(problems) > 0 {
		t.Fatal(strings.Join(problems, "\n"))
	}
}

func crvLSNRow(chs []Change, l LSN) any {
	for _, c := range chs {
		if c.LSN == l {
			return c.New
		}
	}
	return nil
}

// ---- slow consumers and memory ----

// TestCDCConsumerReviewSlowConsumer: a consumer that sleeps while a writer
// commits fast: with cdc off it delivers a gap-free prefix, then
// ErrStreamLagged (a *LaggedError whose LSN is the last transaction
// delivered, whose Dropped is the next one), never a skip; with cdc=on it
// reads everything, from the durable log, in order. (It replaces
// TestReviewCDCLaggingWhileWriting, which checked less of the same.)
func TestCDCConsumerReviewSlowConsumer(t *testing.T) {
	for _, cdc := range []string{"off", "on"} {
		t.Run("cdc="+cdc, func(t *testing.T) {
			db := openTestDB(t, "sync=off&cdc="+cdc)
			mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, n)")
			s := stream(t, db, ChangeOptions{Buffer: 4})
			const n = 1500
			done := make(chan error, 1)
			go func() {
				for i := 1; i <= n; i++ {
					if _, err := db.Exec("INSERT INTO t(n) VALUES (?)", i); err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			var seen int64
			var last Change
			for seen < n {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				ch, err := s.Next(ctx)
				cancel()
				if err != nil {
					var lag *changefeed.LaggedError
					if cdc == "on" || !errors.As(err, &lag) {
						t.Fatalf("after %d: %v", seen, err)
					}
					if lag.LSN != last.LSN || lag.LSN != s.LSN() || lag.Dropped <= lag.LSN {
						t.Fatalf("lagged with LSN %v Dropped %v; last delivered %v, stream at %v", lag.LSN, lag.Dropped, last.LSN, s.LSN())
					}
					if _, err2 := s.Next(context.Background()); !errors.Is(err2, ErrStreamLagged) {
						t.Fatalf("Next after the lag: %v", err2)
					}
					t.Logf("lagged after %d of %d: %v", seen, n, err)
					break
				}
				seen++
				if ch.New[1] != seen {
					t.Fatalf("change %d is row %v: a gap or a duplicate", seen, ch.New[1])
				}
				last = ch
				if seen%20 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if cdc == "off" && seen == n {
				t.Logf("cdc=off: the consumer kept up (no lag on this machine)")
			}
		})
	}
}

// TestCDCConsumerReviewLaggingMemory: an unread stream holds its buffer's
// transactions, then lags and holds no more: more commits do not grow the
// heap beyond the hub's bounded history. It logs how much the unread
// buffer held: Buffer counts changes, not bytes.
func TestCDCConsumerReviewLaggingMemory(t *testing.T) {
	for _, cdc := range []string{"off", "on"} {
		t.Run("cdc="+cdc, func(t *testing.T) {
			// page_cache=0: the engine's page cache would fill as the
			// writes go on, hiding what the stream holds.
			db := openTestDB(t, "sync=off&page_cache=0&cdc="+cdc)
			mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b)")
			blob := bytes.Repeat([]byte{7}, 128<<10)
			base := crvHeap()
			s := stream(t, db, ChangeOptions{Buffer: 64})
			for range 64 {
				mustExec(t, db, "INSERT INTO t(b) VALUES (?)", blob)
			}
			full := crvHeap()
			for range 256 {
				mustExec(t, db, "INSERT INTO t(b) VALUES (?)", blob)
			}
			lagged := crvHeap()
			t.Logf("heap: %d MiB before, %d MiB with 64 unread changes of 128 KiB, %d MiB after 256 more", base>>20, full>>20, lagged>>20)
			if lagged > full+uint64(changefeed.DefaultHistoryBytes)+(4<<20) {
				t.Fatalf("a lagging stream lets the heap grow: %d MiB, then %d MiB", full>>20, lagged>>20)
			}
			if cdc == "on" {
				next(t, s, 320) // from the durable log; a batch may take a while
				noMore(t, s)
				return
			}
			got, err := crvDrain(s, 200*time.Millisecond)
			if !errors.Is(err, ErrStreamLagged) {
				t.Fatalf("cdc=off: %d of 320, %v", len(got), err)
			}
		})
	}
}

// TestCDCConsumerReviewUnreadBufferBytes: the README says Buffer "bounds
// what a stream may hold unread", and the hub bounds its history in bytes
// "so that large transactions are not kept by the hundred"; but a stream's
// buffer is counted in changes only: with the default Buffer (4096) an
// unread stream of rows of 64 KiB pins about 256 MiB, and with cdc=on it
// is memory spent on what the durable log holds anyway.
func TestCDCConsumerReviewUnreadBufferBytes(t *testing.T) {
	knownLimit(t, "a stream's Buffer counts changes, not bytes")
	db := openTestDB(t, "sync=off&page_cache=0&cdc=on")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b)")
	blob := bytes.Repeat([]byte{7}, 64<<10)
	base := crvHeap()
	s := stream(t, db, ChangeOptions{})
	for range 1024 {
		mustExec(t, db, "INSERT INTO t(b) VALUES (?)", blob)
	}
	held := crvHeap() - base
	s.Close()
	if held > 2*uint64(changefeed.DefaultHistoryBytes) {
		t.Fatalf("an unread stream (default Buffer) of 1024 rows of 64 KiB pins %d MiB", held>>20)
	}
}

// ---- the stream's life ----

// TestCDCConsumerReviewStreamLife: Close while Next is blocked in another
// goroutine, ctx ending during Next (the stream stays usable, nothing
// lost), Next after Close, breaking out of All and resuming, a partly read
// transaction resumed from LSN() (delivered whole again), db.Close while a
// stream is open (it keeps working, also for writes through another
// *sql.DB, and keeps the file until it is closed).
func TestCDCConsumerReviewStreamLife(t *testing.T) {
	dir := t.TempDir()
	dsn := crvDSN(dir, "life.db", "cdc=on")
	db := crvOpen(t, dsn)
	mustExec(t, db, "CREATE TABLE t(v)")
	ctx := context.Background()

	s := stream(t, db, ChangeOptions{})
	errc := make(chan error, 1)
	go func() { _, err := s.Next(ctx); errc <- err }()
	time.Sleep(20 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, changefeed.ErrClosed) {
			t.Fatalf("blocked Next after Close: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not wake a blocked Next")
	}
	if _, err := s.Next(ctx); !errors.Is(err, changefeed.ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	s = stream(t, db, ChangeOptions{})
	cctx, cancel := context.WithCancel(ctx)
	go func() { _, err := s.Next(cctx); errc <- err }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Next with ctx canceled: %v", err)
	}
	mustExec(t, db, "BEGIN; INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); INSERT INTO t VALUES (3); COMMIT")
	first := next(t, s, 1)[0]
	if first.New[0] != int64(1) {
		t.Fatalf("after a canceled Next: %s", crvKey(first))
	}
	// Partly read: the resume point is still before the transaction.
	if s.LSN() >= first.LSN {
		t.Fatalf("LSN() %v after the first of three changes of %v", s.LSN(), first.LSN)
	}
	again := stream(t, db, ChangeOptions{Since: s.LSN()})
	if got := next(t, again, 3); got[0].New[0] != int64(1) || got[2].New[0] != int64(3) {
		t.Fatalf("resumed from a partly read transaction: %v", crvKeys(got))
	}
	// Break out of All, then go on with Next.
	for ch, err := range s.All(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if ch.New[0] != int64(2) {
			t.Fatalf("All: %s", crvKey(ch))
		}
		break
	}
	if ch := next(t, s, 1)[0]; ch.New[0] != int64(3) || s.LSN() != ch.LSN {
		t.Fatalf("after breaking out of All: %s, LSN() %v", crvKey(ch), s.LSN())
	}

	// db.Close with the stream open.
	other := crvOpen(t, dsn)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	mustExec(t, other, "INSERT INTO t VALUES (4)")
	if ch := next(t, s, 1)[0]; ch.New[0] != int64(4) {
		t.Fatalf("after db.Close: %s", crvKey(ch))
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dir, "life.db-wal")); err != nil || st.Size() == 0 {
		t.Logf("with every *sql.DB closed and a stream open the log is %v (%v): the engine closed?", st, err)
	}
	noMore(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dir, "life.db-wal")); err != nil || st.Size() > 32 {
		t.Fatalf("after the last stream closed the log is not truncated (to its 32-byte header): %v %v", st, err)
	}
}

// ---- row shapes, as a replicating consumer sees them ----

// crvReplica mirrors tables from a change stream and compares them with
// the database after each step.
type crvReplica struct {
	t  *testing.T
	db *sql.DB
	s  *ChangeStream
	m  *rvModel
	n  int64
}

// step runs the statements of one scenario (errors ignored: failing
// statements are part of it), then reads the stream through a mark and
// checks the mirrored tables; it returns the changes.
func (r *crvReplica) step(name string, stmts ...string) []Change {
	r.t.Helper()
	c := dbConn(r.t, r.db)
	for _, q := range stmts {
		c.ExecContext(context.Background(), q)
	}
	c.ExecContext(context.Background(), "ROLLBACK") // whatever is left open
	c.Close()
	r.n++
	mustExec(r.t, r.db, "INSERT INTO mark VALUES (?)", r.n)
	chs := rvUntilMark(r.t, r.s, r.n)
	for i, ch := range chs {
		if err := r.m.apply(ch); err != nil {
			r.t.Fatalf("%s: change %d: %v\n  %s", name, i, err, strings.Join(rvDescribe(chs), "\n  "))
		}
	}
	var tabs []string
	rows, err := r.db.Query("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'libsql%' AND name NOT LIKE 'sqlite%' AND name <> 'mark'")
	if err != nil {
		r.t.Fatal(err)
	}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tabs = append(tabs, n)
	}
	rows.Close()
	for _, tab := range tabs {
		want := rvTable(r.t, r.db, tab, r.m.keys[tab])
		if got := r.m.rows[tab]; len(got)+len(want) > 0 && !mapsEqual(got, want) {
			r.t.Fatalf("%s: table %s mirrored from the stream:\n  %v\nthe table:\n  %v\nchanges:\n  %s", name, tab, rvSorted(got), rvSorted(want), strings.Join(rvDescribe(chs), "\n  "))
		}
	}
	return chs
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestCDCConsumerReviewReplica mirrors tables from the stream through
// rollbacks, statements failing halfway, savepoints rolled back, triggers,
// foreign-key cascades (Indirect), WITHOUT ROWID tables, updates of the
// rowid and of the primary key, DELETE without WHERE, INSERT OR REPLACE
// and upserts: after each, the mirror is the table.
func TestCDCConsumerReviewReplica(t *testing.T) {
	for _, cdc := range []string{"off", "on"} {
		t.Run("cdc="+cdc, func(t *testing.T) {
			db := openTestDB(t, "foreign_keys=on&cdc="+cdc)
			mustExec(t, db, `
				CREATE TABLE p(id INTEGER PRIMARY KEY, v);
				CREATE TABLE ch(id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(id) ON DELETE CASCADE ON UPDATE CASCADE, v);
				CREATE TABLE audit(id INTEGER PRIMARY KEY, msg);
				CREATE TRIGGER p_upd AFTER UPDATE ON p BEGIN INSERT INTO audit(msg) VALUES ('p ' || old.id || '->' || new.id); END;
				CREATE TABLE w(k TEXT, j INTEGER, v, PRIMARY KEY(k, j)) WITHOUT ROWID;
				CREATE TABLE u(id INTEGER PRIMARY KEY, k UNIQUE, v);
				CREATE TABLE mark(n);
				INSERT INTO p VALUES (1, 'p1'), (2, 'p2');
				INSERT INTO ch VALUES (10, 1, 'c10'), (11, 1, 'c11'), (12, 2, 'c12');
				INSERT INTO w VALUES ('a', 1, 'w1'), ('a', 2, 'w2');
				INSERT INTO u VALUES (1, 'k1', 'u1'), (2, 'k2', 'u2'), (3, 'k3', 'u3');
			`)
			m := newRVModel(map[string][]int{"w": {0, 1}})
			for _, tab := range []string{"p", "ch", "audit", "w", "u"} {
				m.rows[tab] = rvTable(t, db, tab, m.keys[tab])
			}
			r := &crvReplica{t: t, db: db, s: stream(t, db, ChangeOptions{}), m: m}
			if got := r.step("rollback", "BEGIN", "INSERT INTO p VALUES (3, 'x')", "DELETE FROM ch", "ROLLBACK"); len(got) != 0 {
				t.Fatalf("rolled back: %v", rvDescribe(got))
			}
			if got := r.step("failing multi-row insert",
				"INSERT INTO u VALUES (4, 'k4', 'u4'), (5, 'k1', 'dup')",
				"BEGIN", "INSERT INTO u VALUES (6, 'k6', 'x')", "INSERT INTO u VALUES (7, 'k7', 'y'), (8, 'k2', 'dup')", "COMMIT"); len(got) != 1 {
				t.Fatalf("failing statements: %v", rvDescribe(got))
			}
			r.step("savepoints", "BEGIN", "INSERT INTO u VALUES (20, 'k20', 'kept')", "SAVEPOINT a", "DELETE FROM u WHERE id < 20",
				"SAVEPOINT b", "UPDATE u SET v = 'gone'", "ROLLBACK TO a", "UPDATE u SET v = v || '+' WHERE id = 20", "RELEASE a", "COMMIT")
			got := r.step("cascade and trigger", "UPDATE p SET id = 5 WHERE id = 1", "DELETE FROM p WHERE id = 2")
			var flags []string
			for _, c := range got {
				flags = append(flags, fmt.Sprintf("%s %s indirect=%v", c.Op, c.Table, c.Indirect))
			}
			want := []string{"update p indirect=false", "update ch indirect=true", "update ch indirect=true", "insert audit indirect=true",
				"delete p indirect=false", "delete ch indirect=true"}
			if !slices.Equal(flags, want) {
				t.Fatalf("cascade and trigger: %v, want %v", flags, want)
			}
			if got[0].RowID != 5 || got[0].Old[0] != int64(1) {
				t.Fatalf("update of the rowid alias: %s", crvKey(got[0]))
			}
			got = r.step("WITHOUT ROWID primary key update", "UPDATE w SET j = j + 10 WHERE k = 'a'")
			for _, c := range got {
				if c.RowID != 0 || len(c.PK) != 2 || c.PK[1] != c.New[1] {
					t.Fatalf("WITHOUT ROWID update: %s pk=%v", crvKey(c), c.PK)
				}
			}
			got = r.step("INSERT OR REPLACE", "INSERT OR REPLACE INTO u VALUES (30, 'k3', 'replaced k3')", "REPLACE INTO u VALUES (30, 'k30', 'replaced 30')")
			if len(got) != 4 || got[0].Op != changefeed.Delete || got[0].RowID != 3 {
				t.Fatalf("INSERT OR REPLACE: %v", rvDescribe(got))
			}
			r.step("upsert", "INSERT INTO u VALUES (30, 'k31', 'x') ON CONFLICT(id) DO UPDATE SET v = 'upserted'")
			got = r.step("DELETE without WHERE", "DELETE FROM u")
			if len(got) == 0 || got[0].Op != changefeed.Delete {
				t.Fatalf("DELETE FROM u: %v", rvDescribe(got))
			}
		})
	}
}

// TestCDCConsumerReviewRowidChangeOfTableWithoutPK: for a table without a
// primary key the rowid is the only key a consumer has, but an UPDATE that
// changes the rowid reports the new rowid only (Change.RowID), the old one
// nowhere (Old holds the columns, not the rowid): with two equal rows the
// consumer cannot tell which one moved. The hook knows the old rowid.
func TestCDCConsumerReviewRowidChangeOfTableWithoutPK(t *testing.T) {
	knownLimit(t, "an UPDATE that changes a rowid reports the new rowid only")
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE n(v); INSERT INTO n VALUES ('same'), ('same')")
	s := stream(t, db, ChangeOptions{})
	mustExec(t, db, "UPDATE n SET rowid = 100 WHERE rowid = 1")
	ch := next(t, s, 1)[0]
	if ch.RowID != 100 {
		t.Fatalf("RowID %d", ch.RowID)
	}
	// What a consumer keyed by rowid would need: the old rowid, 1.
	t.Fatalf("UPDATE n SET rowid = 100 WHERE rowid = 1 is reported as %s: the old rowid (1) is not in the Change; rows 1 and 2 are equal, so a consumer keyed by rowid cannot apply it", crvKey(ch))
}

// TestCDCConsumerReviewVacuumRenumbersRowids: VACUUM may renumber the
// rowids of a table without INTEGER PRIMARY KEY and reports nothing: a
// consumer keyed by rowid then applies later changes to the wrong rows.
// SQLite documents this of VACUUM; the CDC documentation does not warn.
func TestCDCConsumerReviewVacuumRenumbersRowids(t *testing.T) {
	knownLimit(t, "VACUUM renumbers the rowids of tables without an INTEGER PRIMARY KEY, unreported")
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE n(v); INSERT INTO n VALUES ('a'), ('b'), ('c'), ('d')")
	m := newRVModel(nil)
	m.rows["n"] = rvTable(t, db, "n", nil)
	s := stream(t, db, ChangeOptions{})
	mustExec(t, db, "DELETE FROM n WHERE v IN ('a', 'b')")
	mustExec(t, db, "VACUUM")
	mustExec(t, db, "UPDATE n SET v = v || '!'")
	for _, ch := range next(t, s, 4) {
		if err := m.apply(ch); err != nil {
			t.Fatalf("a consumer keyed by rowid, after VACUUM: %v (%s)", err, crvKey(ch))
		}
	}
}

// TestCDCConsumerReviewSchemaChanges: ALTER TABLE ADD / RENAME / DROP
// COLUMN mid-stream report no row changes; the next change of the table
// carries the new Columns (and a column added with a DEFAULT has that
// value in rows no change reported); DROP TABLE reports no deletes, as the
// README says, and a new table of the same name streams with its own
// columns; a table renamed streams under its new name.
func TestCDCConsumerReviewSchemaChanges(t *testing.T) {
	for _, cdc := range []string{"off", "on"} {
		t.Run("cdc="+cdc, func(t *testing.T) {
			db := openTestDB(t, "cdc="+cdc)
			mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, a, b, c); INSERT INTO t VALUES (1, 'a1', 'b1', 'c1'), (2, 'a2', 'b2', 'c2')")
			s := stream(t, db, ChangeOptions{})
			since := s.LSN()
			mustExec(t, db, "ALTER TABLE t ADD COLUMN d DEFAULT 7")
			mustExec(t, db, "ALTER TABLE t DROP COLUMN b")
			mustExec(t, db, "ALTER TABLE t RENAME COLUMN c TO cc")
			mustExec(t, db, "UPDATE t SET a = 'x' WHERE id = 1")
			mustExec(t, db, "DROP TABLE t")
			mustExec(t, db, "CREATE TABLE t(k TEXT PRIMARY KEY, z) WITHOUT ROWID; INSERT INTO t VALUES ('k', 1)")
			mustExec(t, db, "ALTER TABLE t RENAME TO t2; INSERT INTO t2 VALUES ('k2', 2)")
			want := []string{
				"update t rowid=1 old=[1 a1 c1 7] new=[1 x c1 7] cols=[id a cc d]",
				"insert t pk=[k] new=[k 1] cols=[k z]",
				"insert t2 pk=[k2] new=[k2 2] cols=[k z]",
			}
			got := next(t, s, 3)
			noMore(t, s)
			var desc []string
			for _, c := range got {
				desc = append(desc, fmt.Sprintf("%s cols=%v", describeChange(c), c.Columns))
			}
			if !slices.Equal(desc, want) {
				t.Fatalf("schema changes:\n  %s\nwant\n  %s", strings.Join(desc, "\n  "), strings.Join(want, "\n  "))
			}
			if cdc == "on" {
				dur, err := crvDrain(stream(t, db, ChangeOptions{Since: since}), 100*time.Millisecond)
				if err != nil || !slices.Equal(crvKeys(dur), crvKeys(got)) {
					t.Fatalf("durable: %v %v", crvKeys(dur), err)
				}
			}
		})
	}
}

// ---- retention ----

// TestCDCConsumerReviewRetentionResume: with cdc_max, a consumer resuming
// (after a reopen) from an LSN retention pruned gets ErrStreamLagged
// naming its LSN, never a gap; from exactly the pruned point it gets every
// later transaction; Oldest starts at the oldest retained; and after
// retention pruned everything and the database was closed, LSNs go on
// above the pruned ones.
func TestCDCConsumerReviewRetentionResume(t *testing.T) {
	dir := t.TempDir()
	open := func() (*sql.DB, *Connector) {
		cn, err := NewConnector(crvDSN(dir, "r.db", "cdc=on&cdc_max=5&sync=off"))
		if err != nil {
			t.Fatal(err)
		}
		cn.prune.interval = 5 * time.Millisecond
		db := sql.OpenDB(cn)
		t.Cleanup(func() { db.Close() })
		return db, cn
	}
	db, cn := open()
	mustExec(t, db, "CREATE TABLE t(n)")
	s := stream(t, db, ChangeOptions{})
	for i := 1; i <= 40; i++ {
		mustExec(t, db, "INSERT INTO t VALUES (?)", i)
	}
	chs := next(t, s, 40)
	s.Close()
	deadline := time.Now().Add(3 * time.Second)
	for count(t, db, "SELECT count(*) FROM libsql_cdc") > 5 {
		if time.Now().After(deadline) {
			t.Fatalf("retention kept %d; %+v", count(t, db, "SELECT count(*) FROM libsql_cdc"), cn.PruneStats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	var pruned int64
	db.QueryRow("SELECT value FROM libsql_cdc_state WHERE key = 'pruned_through'").Scan(&pruned)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, _ = open()
	old := stream(t, db, ChangeOptions{Since: chs[10].LSN})
	_, err := old.Next(context.Background())
	var lag *changefeed.LaggedError
	if !errors.As(err, &lag) || lag.LSN != chs[10].LSN || lag.Dropped != 0 {
		t.Fatalf("resumed from pruned LSN %v: %v", chs[10].LSN, err)
	}
	at := stream(t, db, ChangeOptions{Since: LSN(pruned)})
	got, err := crvDrain(at, 100*time.Millisecond)
	if err != nil || len(got) == 0 || got[0].LSN <= LSN(pruned) || got[len(got)-1].New[0] != int64(40) {
		t.Fatalf("resumed from pruned_through %d: %v, %v", pruned, crvKeys(got), err)
	}
	first := 40 - len(got) + 1
	for i, c := range got {
		if c.New[0] != int64(first+i) {
			t.Fatalf("resumed from pruned_through: %v", crvKeys(got))
		}
	}
	oldest, err := crvDrain(stream(t, db, ChangeOptions{Since: changefeed.Oldest}), 100*time.Millisecond)
	if err != nil || !slices.Equal(crvKeys(oldest), crvKeys(got)) {
		t.Fatalf("Oldest: %v, %v", crvKeys(oldest), err)
	}
	mustExec(t, db, "INSERT INTO t VALUES (41)")
	if l := next(t, at, 1)[0].LSN; l <= chs[39].LSN {
		t.Fatalf("LSN %v after a reopen under retention, not above %v", l, chs[39].LSN)
	}
}

// ---- libsql tail ----

// crvCLI builds cmd/libsql into the test's temporary directory (once per
// test: quick with the build cache) and returns its path.
func crvCLI(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds cmd/libsql")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	if p, ok := crvCLIPaths.Load(t.Name()); ok {
		return p.(string)
	}
	p := filepath.Join(t.TempDir(), "libsql")
	if out, err := exec.Command(goBin, "build", "-o", p, "./cmd/libsql").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/libsql: %v\n%s", err, out)
	}
	crvCLIPaths.Store(t.Name(), p)
	return p
}

var crvCLIPaths sync.Map // test name -> the binary it built

// crvTail runs libsql tail with args and returns stdout, stderr and the
// exit code.
func crvTail(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(crvCLI(t), append([]string{"tail"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// crvAPIJSON is what the Go API streams for opts, as tail's JSON lines.
func crvAPIJSON(t *testing.T, db *sql.DB, opts ChangeOptions) string {
	t.Helper()
	s, err := Changes(context.Background(), db, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close() // a stream keeps the file open
	chs, err := crvDrain(s, 150*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	for i := range chs {
		b = changefeed.AppendJSON(b, &chs[i])
		b = append(b, '\n')
	}
	return string(b)
}

// TestCDCConsumerReviewTail runs `libsql tail DB --follow=false` with
// --since, --table and --op against a database with every kind of value
// (blobs, empty blobs, NULL, extreme integers, reals, infinities, text
// with quotes, control characters, U+2028 and invalid UTF-8, WITHOUT ROWID
// keys, trigger changes), and compares its lines with the Go API's
// changes for the same options; each line is valid JSON whose values are
// those the API returned.
func TestCDCConsumerReviewTail(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tail.db")
	db := crvOpen(t, crvDSN(dir, "tail.db", "cdc=on"))
	mustExec(t, db, `
		CREATE TABLE v(id INTEGER PRIMARY KEY, i, r, "te""xt", b);
		CREATE TABLE W(k TEXT, j INTEGER, x, PRIMARY KEY(k, j)) WITHOUT ROWID;
		CREATE TABLE log(msg);
		CREATE TRIGGER v_del AFTER DELETE ON v BEGIN INSERT INTO log VALUES ('deleted ' || old.id); END;
	`)
	mustExec(t, db, `INSERT INTO v VALUES (1, 9223372036854775807, 1.5, 'he said "hi"'||char(10)||char(9)||char(8232)||char(0x1f)||'é', x'00ff10')`)
	mustExec(t, db, `INSERT INTO v VALUES (2, -9223372036854775808, 1e300, CAST(x'ff41fe' AS TEXT), x'')`)
	mustExec(t, db, `INSERT INTO v VALUES (3, NULL, 9e999, '', NULL), (4, 9007199254740993, -9e999, 'x', zeroblob(3)), (5, 0, 2.0, '\', -0.0)`)
	mustExec(t, db, `INSERT INTO W VALUES ('a', 1, 'w'), ('b', 2, x'01')`)
	mustExec(t, db, `UPDATE W SET j = 3 WHERE k = 'a'`)
	mustExec(t, db, `UPDATE v SET r = r / 3, b = NULL WHERE id = 1`)
	mustExec(t, db, `DELETE FROM v WHERE id = 4`)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	var lsns []LSN
	{
		db := crvOpen(t, crvDSN(dir, "tail.db", "cdc=on"))
		s := stream(t, db, ChangeOptions{Since: changefeed.Oldest})
		all, _ := crvDrain(s, 100*time.Millisecond)
		s.Close() // a stream keeps the file open
		for i, c := range all {
			if i == 0 || c.LSN != all[i-1].LSN {
				lsns = append(lsns, c.LSN)
			}
		}
		db.Close()
	}
	if len(lsns) != 7 {
		t.Fatalf("%d transactions stored", len(lsns))
	}
	cases := []struct {
		args []string
		opts ChangeOptions
	}{
		{[]string{"--since", "oldest"}, ChangeOptions{Since: changefeed.Oldest}},
		{[]string{"--since", "0"}, ChangeOptions{Since: changefeed.Oldest}},
		{[]string{"--since", lsns[2].String()}, ChangeOptions{Since: lsns[2]}},
		{[]string{"--since", lsns[6].String()}, ChangeOptions{Since: lsns[6]}},
		{[]string{"--since", "oldest", "--table", "w"}, ChangeOptions{Since: changefeed.Oldest, Tables: []string{"w"}}},
		{[]string{"--since", "oldest", "--table", "V", "--table", "log", "--op", "delete"}, ChangeOptions{Since: changefeed.Oldest, Tables: []string{"V", "log"}, Ops: []changefeed.Op{changefeed.Delete}}},
		{[]string{"--since", "oldest", "--op", "UPDATE"}, ChangeOptions{Since: changefeed.Oldest, Ops: []changefeed.Op{changefeed.Update}}},
		{[]string{"--since", "oldest", "--table", "nosuch"}, ChangeOptions{Since: changefeed.Oldest, Tables: []string{"nosuch"}}},
	}
	for _, tc := range cases {
		out, errOut, code := crvTail(t, append([]string{path, "--follow=false"}, tc.args...)...)
		if code != 0 {
			t.Fatalf("tail %v: exit %d: %s", tc.args, code, errOut)
		}
		db := crvOpen(t, crvDSN(dir, "tail.db", "cdc=on"))
		want := crvAPIJSON(t, db, tc.opts)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if out != want {
			t.Fatalf("tail %v:\n%s\nthe Go API:\n%s", tc.args, out, want)
		}
	}
	out, _, _ := crvTail(t, path, "--follow=false", "--since", "oldest")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	db = crvOpen(t, crvDSN(dir, "tail.db", "cdc=on"))
	api, _ := crvDrain(stream(t, db, ChangeOptions{Since: changefeed.Oldest}), 100*time.Millisecond)
	if len(lines) != len(api) {
		t.Fatalf("%d lines, %d changes", len(lines), len(api))
	}
	for i, line := range lines {
		if !json.Valid([]byte(line)) || !utf8Valid(line) {
			t.Fatalf("line %d is not valid JSON: %s", i, line)
		}
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			t.Fatal(err)
		}
		c := api[i]
		if obj["lsn"].(json.Number).String() != c.LSN.String() || obj["table"] != c.Table || obj["op"] != c.Op.String() {
			t.Fatalf("line %d: %s for %s", i, line, crvKey(c))
		}
		tm, err := time.Parse(time.RFC3339Nano, obj["time"].(string))
		if err != nil || !tm.Equal(c.CommitTime) || tm.Location() != time.UTC {
			t.Fatalf("line %d: time %v (%v), want %v", i, obj["time"], err, c.CommitTime)
		}
		for _, side := range []struct {
			key  string
			vals []any
		}{{"old", c.Old}, {"new", c.New}} {
			if side.vals == nil {
				if obj[side.key] != nil {
					t.Fatalf("line %d: %s is %v", i, side.key, obj[side.key])
				}
				continue
			}
			m := obj[side.key].(map[string]any)
			for k, v := range side.vals {
				if err := crvJSONValueIs(m[c.Columns[k]], v); err != nil {
					t.Fatalf("line %d %s.%s: %v\n%s", i, side.key, c.Columns[k], err, line)
				}
			}
		}
	}
	// No durable log: tail says so and prints nothing.
	plain := filepath.Join(dir, "plain.db")
	pdb := crvOpen(t, crvDSN(dir, "plain.db", ""))
	mustExec(t, pdb, "CREATE TABLE t(x); INSERT INTO t VALUES (1)")
	pdb.Close()
	out, errOut, code := crvTail(t, plain, "--follow=false", "--since", "oldest")
	if code != 0 || out != "" || !strings.Contains(errOut, "no durable CDC log") {
		t.Fatalf("tail of a database without libsql_cdc: exit %d, %q, %q", code, out, errOut)
	}
	if _, err := os.Stat(plain); err != nil {
		t.Fatal(err)
	}
	var n int
	pdb = crvOpen(t, crvDSN(dir, "plain.db", ""))
	pdb.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name = 'libsql_cdc'").Scan(&n)
	if n != 0 {
		t.Fatal("tail created libsql_cdc")
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// crvJSONValueIs checks a decoded JSON value against the API's value, as
// AppendJSON documents the mapping.
func crvJSONValueIs(j any, v any) error {
	switch v := v.(type) {
	case nil:
		if j != nil {
			return fmt.Errorf("NULL as %v", j)
		}
	case int64:
		n, ok := j.(json.Number)
		if !ok || n.String() != strconv.FormatInt(v, 10) {
			return fmt.Errorf("INTEGER %d as %v", v, j)
		}
	case float64:
		switch {
		case math.IsInf(v, 1) || math.IsInf(v, -1) || math.IsNaN(v):
			s, _ := j.(string)
			want := map[bool]string{true: "+Inf", false: "-Inf"}[v > 0]
			if math.IsNaN(v) {
				want = "NaN"
			}
			if s != want {
				return fmt.Errorf("REAL %v as %v", v, j)
			}
		default:
			n, ok := j.(json.Number)
			f, err := n.Float64()
			if !ok || err != nil || f != v || !strings.ContainsAny(n.String(), ".eE") {
				return fmt.Errorf("REAL %v as %v", v, j)
			}
		}
	case string:
		if j != strings.ToValidUTF8(v, "\uFFFD") {
			return fmt.Errorf("TEXT %q as %q", v, j)
		}
	case []byte:
		m, ok := j.(map[string]any)
		b, err := base64.StdEncoding.DecodeString(fmt.Sprint(m["base64"]))
		if !ok || err != nil || !bytes.Equal(b, v) {
			return fmt.Errorf("BLOB %x as %v", v, j)
		}
	default:
		return fmt.Errorf("unexpected Go value %T", v)
	}
	return nil
}

// TestCDCConsumerReviewTailFollowLocksOutWriter: `libsql tail DB` follows
// new changes, but it holds the database for its process: the application
// that would write them cannot open it ("database is locked") while tail
// runs, so following prints nothing new, ever. The README presents tail
// as printing the changes; the command's help says it follows them.
func TestCDCConsumerReviewTailFollowLocksOutWriter(t *testing.T) {
	cli := crvCLI(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "f.db")
	db := crvOpen(t, crvDSN(dir, "f.db", "cdc=on"))
	mustExec(t, db, "CREATE TABLE t(x); INSERT INTO t VALUES (1)")
	db.Close()
	cmd := exec.Command(cli, "tail", path)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	time.Sleep(500 * time.Millisecond)
	w, err := Open(crvDSN(dir, "f.db", "cdc=on&busy_timeout=200ms"))
	if err != nil {
		t.Fatal(err)
	}
	_, werr := w.Exec("INSERT INTO t VALUES (2)")
	w.Close()
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	if werr == nil {
		t.Logf("a writer could write while tail followed; tail printed %q", stdout.String())
		return
	}
	if !errors.Is(werr, ErrBusy) {
		t.Fatalf("writer beside tail: %v", werr)
	}
	t.Logf("while `libsql tail` follows, the writer gets: %v", werr)
}

// TestCDCConsumerReviewCancelDuringHistoryRead: a consumer whose every Next
// has a very short deadline, so that many end inside a read of the
// durable log (Since Oldest, more transactions than one batch): each
// DeadlineExceeded is retried and, put together, the changes are every
// stored one, once, in order.
func TestCDCConsumerReviewCancelDuringHistoryRead(t *testing.T) {
	db := openTestDB(t, "sync=off&cdc=on")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, n)")
	const n = 1200
	for i := 1; i <= n; i++ {
		mustExec(t, db, "INSERT INTO t(n) VALUES (?)", i)
	}
	s := stream(t, db, ChangeOptions{Since: changefeed.Oldest, Buffer: 8})
	var seen int64
	timeouts := 0
	for d := time.Microsecond; seen < n; {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		ch, err := s.Next(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			timeouts++
			d = min(2*d, 5*time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatalf("after %d: %v", seen, err)
		}
		d = time.Microsecond
		seen++
		if ch.New[1] != seen {
			t.Fatalf("change %d is row %v after %d timeouts", seen, ch.New[1], timeouts)
		}
	}
	noMore(t, s)
	t.Logf("%d Next calls ended by their deadline", timeouts)
}

// TestCDCConsumerReviewConcurrentWriters: overlapping BEGIN CONCURRENT
// transactions on disjoint tables (merged with cdc off, replayed with
// cdc=on), two on one table (the second of them often conflicts and rolls
// back) and plain autocommit writes committing in between: a consumer that
// mirrors the tables from the stream ends with the tables' contents, every
// committed transaction once, in commit order.
func TestCDCConsumerReviewConcurrentWriters(t *testing.T) {
	for _, cdc := range []string{"off", "on"} {
		t.Run("cdc="+cdc, func(t *testing.T) {
			db := openTestDB(t, "sync=off&cdc="+cdc)
			mustExec(t, db, "CREATE TABLE a(id INTEGER PRIMARY KEY, v); CREATE TABLE b(id INTEGER PRIMARY KEY, v); CREATE TABLE c(id INTEGER PRIMARY KEY, v); CREATE TABLE mark(n)")
			s := stream(t, db, ChangeOptions{Buffer: 1 << 16})
			since := s.LSN()
			m := newRVModel(nil)
			ctx := context.Background()
			tables := []string{"a", "b", "c", "c"}
			var conns []*sql.Conn
			for range tables {
				conns = append(conns, dbConn(t, db))
			}
			r := rand.New(rand.NewPCG(5, 6))
			committed, failed := 0, 0
			for k := range 60 {
				for w, c := range conns {
					cexec(t, c, "BEGIN CONCURRENT")
					id := w*1000 + k
					if _, err := c.ExecContext(ctx, "INSERT INTO "+tables[w]+"(id, v) VALUES (?, ?)", id, strings.Repeat("x", 300*r.IntN(8))); err != nil {
						t.Fatal(err)
					}
					if k%3 == 0 {
						cexec(t, c, "UPDATE "+tables[w]+" SET v = 'u' || ? WHERE id = ?", k, id-3)
					}
				}
				if k%4 == 0 {
					mustExec(t, db, "INSERT INTO b(id, v) VALUES (?, 'plain')", 9000+k)
				}
				for _, w := range r.Perm(len(conns)) {
					if _, err := conns[w].ExecContext(ctx, "COMMIT"); err != nil {
						if !errors.Is(err, ErrBusySnapshot) {
							t.Fatalf("COMMIT: %v", err)
						}
						conns[w].ExecContext(ctx, "ROLLBACK") // the failed COMMIT may have ended it
						failed++
					} else {
						committed++
					}
				}
			}
			mustExec(t, db, "INSERT INTO mark VALUES (1)")
			stats := engineStats(t, db)
			got := rvUntilMark(t, s, 1)
			rvCheckOrder(t, got, true)
			for i, ch := range got {
				if err := m.apply(ch); err != nil {
					t.Fatalf("change %d: %v", i, err)
				}
			}
			m.check(t, db, "a", "b", "c")
			ntx := 0
			for i := range got {
				if i == 0 || got[i].LSN != got[i-1].LSN {
					ntx++
				}
			}
			if ntx != committed+15 {
				t.Fatalf("%d transactions in the stream, %d committed", ntx, committed+15)
			}
			if cdc == "on" {
				dur, err := crvDrain(stream(t, db, ChangeOptions{Since: since}), 150*time.Millisecond)
				if err != nil {
					t.Fatal(err)
				}
				if len(dur) != len(got)+1 || !slices.Equal(crvKeys(dur[:len(got)]), crvKeys(got)) {
					t.Fatalf("the durable log differs from the live stream: %d and %d changes", len(dur), len(got))
				}
			}
			i := strings.Index(stats, `"concurrent"`)
			t.Logf("%d changes, %d commits, %d conflicts; %s", len(got), committed, failed, stats[max(i, 0):])
		})
	}
}

// TestCDCConsumerReviewShellWritesEscapeTheLog: the database was written
// with cdc=on and a consumer saved its LSN; an operator fixes a row with
// `libsql shell DB` (a path, as its help shows). The shell opens the file
// without cdc=on, so its change is stored nowhere: the consumer resuming
// from its LSN never sees it, and nothing says so. The file does not
// remember that it is durably captured.
func TestCDCConsumerReviewShellWritesEscapeTheLog(t *testing.T) {
	cli := crvCLI(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "sh.db")
	db := crvOpen(t, crvDSN(dir, "sh.db", "cdc=on"))
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v); INSERT INTO t VALUES (1, 'app')")
	s, err := Changes(context.Background(), db, ChangeOptions{Since: changefeed.Oldest})
	if err != nil {
		t.Fatal(err)
	}
	next(t, s, 1)
	saved := s.LSN()
	s.Close()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cli, "shell", path)
	cmd.Stdin = strings.NewReader("UPDATE t SET v = 'fixed by hand' WHERE id = 1;\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("libsql shell: %v\n%s", err, out)
	}
	db = crvOpen(t, crvDSN(dir, "sh.db", "cdc=on"))
	mustExec(t, db, "INSERT INTO t VALUES (2, 'app again')")
	got, err := crvDrain(stream(t, db, ChangeOptions{Since: saved}), 150*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Op != changefeed.Update {
		t.Fatalf("resumed after %v, past an update made with `libsql shell`: %v (the table holds %q)", saved, crvKeys(got), rvTable(t, db, "t", nil))
	}
}

// crvBigLog makes a cdc=on database in dir holding n transactions of one
// row of size bytes each, closes it and returns its path.
func crvBigLog(t *testing.T, dir string, n, size int) string {
	t.Helper()
	db := crvOpen(t, crvDSN(dir, "big.db", "sync=off&cdc=on"))
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b)")
	blob := bytes.Repeat([]byte{7}, size)
	for range n {
		mustExec(t, db, "INSERT INTO t(b) VALUES (?)", blob)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "big.db")
}

// TestCDCConsumerReviewShortDeadlinesCatchUp: a consumer that calls Next
// with a short deadline (a poll loop that also flushes or heartbeats)
// catching up from the durable log. A history read is a batch of 256
// transactions whatever their size, and a Next whose deadline ends during
// it throws the batch away: the next call starts it over. Once one batch
// takes longer to read than the deadline, the consumer never gets a
// change. Here 128 KiB rows and a 10 ms deadline.
func TestCDCConsumerReviewShortDeadlinesCatchUp(t *testing.T) {
	dir := t.TempDir()
	crvBigLog(t, dir, 260, 128<<10)
	db := crvOpen(t, crvDSN(dir, "big.db", "cdc=on"))
	s := stream(t, db, ChangeOptions{Since: changefeed.Oldest})
	start := time.Now()
	got, timeouts := 0, 0
	for got < 260 && time.Since(start) < 3*time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		_, err := s.Next(ctx)
		cancel()
		switch {
		case err == nil:
			got++
		case errors.Is(err, context.DeadlineExceeded):
			timeouts++
		default:
			t.Fatal(err)
		}
	}
	probe := stream(t, db, ChangeOptions{Since: changefeed.Oldest})
	t0 := time.Now()
	next(t, probe, 1)
	batch := time.Since(t0)
	if got < 260 {
		t.Fatalf("with a 10 ms deadline per Next: %d of 260 changes in 3 s, %d calls ended by the deadline (one history batch takes %v to read)", got, timeouts, batch)
	}
	t.Logf("%d timeouts; one batch %v", timeouts, batch)
}

// TestCDCConsumerReviewHistoryBatchHeap: catching up from the durable log
// read 256 transactions at once whatever their size (the hub's own
// history is bounded to 8 MiB, a stream's catch-up batch was not): with
// rows of 256 KiB the first Next of a stream from Oldest held over
// 100 MiB; with rows of some MiB, gigabytes. A stream now asks for a few
// transactions first, then for about 1 MiB of them at a time.
func TestCDCConsumerReviewHistoryBatchHeap(t *testing.T) {
	dir := t.TempDir()
	crvBigLog(t, dir, 300, 256<<10)
	db := crvOpen(t, crvDSN(dir, "big.db", "cdc=on&page_cache=0"))
	mustExec(t, db, "SELECT 1")
	base := crvHeap()
	s := stream(t, db, ChangeOptions{Since: changefeed.Oldest})
	next(t, s, 1)
	held := crvHeap() - base
	if held > 2*uint64(changefeed.DefaultHistoryBytes) {
		t.Fatalf("after the first change of a catch-up over 256 KiB transactions the stream holds %d MiB", held>>20)
	}
}

// TestCDCConsumerReviewTailLargeTransactions: `libsql tail --follow=false`
// calls Next with a 200 ms deadline; on a log whose 256-transaction batch
// takes longer than that to read (rows of 1 MiB), it cannot make progress
// and gives up after 5 s. LIBSQL_SOAK=1: it writes 300 MiB.
func TestCDCConsumerReviewTailLargeTransactions(t *testing.T) {
	if !soak() {
		t.Skip("writes 300 MiB; LIBSQL_SOAK=1")
	}
	crvCLI(t)
	path := crvBigLog(t, t.TempDir(), 300, 1<<20)
	start := time.Now()
	out, errOut, code := crvTail(t, path, "--follow=false", "--since", "oldest")
	if n := strings.Count(out, "\n"); code != 0 || n != 300 {
		t.Fatalf("tail --follow=false --since oldest over 300 transactions of 1 MiB: exit %d after %v, %d lines: %s", code, time.Since(start), n, errOut)
	}
}
