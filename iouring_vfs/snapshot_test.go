package iouringvfs

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestReaderKeepsStableSnapshotWhileWritersCommit(t *testing.T) {
	path := dbPath(t)
	w := openConn(t, path, "")
	r := openConn(t, path, "")
	w.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
	w.exec("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 100) INSERT INTO t(v) SELECT randomblob(300) FROM c")
	r.exec("BEGIN")
	if n := r.int("SELECT count(*) FROM t"); n != 100 {
		t.Fatalf("count = %d", n)
	}
	sum := r.int("SELECT sum(length(v)) FROM t")
	for i := range 20 {
		w.exec(fmt.Sprintf("INSERT INTO t(v) VALUES (randomblob(%d))", 100+i))
		w.exec("UPDATE t SET v = randomblob(50) WHERE id % 3 = 0")
		w.exec("DELETE FROM t WHERE id % 10 = 1")
	}
	if n, s := r.int("SELECT count(*) FROM t"), r.int("SELECT sum(length(v)) FROM t"); n != 100 || s != sum {
		t.Fatalf("reader saw count %d sum %d during its transaction, want 100 and %d", n, s, sum)
	}
	r.exec("COMMIT")
	if got, want := r.int("SELECT count(*) FROM t"), w.int("SELECT count(*) FROM t"); got != want {
		t.Fatalf("after its transaction the reader sees %d rows, the writer %d", got, want)
	}
	if s := r.text("PRAGMA integrity_check"); s != "ok" {
		t.Fatal(s)
	}
}

func TestReaderNeverWaitsForWriter(t *testing.T) {
	path := dbPath(t)
	w := openConn(t, path, "libsql_sync=full")
	w.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	w.exec("INSERT INTO t(v) VALUES ('x')")

	// A writer holds the writer lock with an open transaction.
	w.exec("BEGIN IMMEDIATE")
	w.exec("INSERT INTO t(v) VALUES ('uncommitted')")
	r := openConn(t, path, "")
	start := time.Now()
	if n := r.int("SELECT count(*) FROM t"); n != 1 {
		t.Fatalf("reader sees %d rows, want 1 (the writer's row is uncommitted)", n)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("reader took %v while a writer held the lock", d)
	}
	w.exec("COMMIT")

	// A stream of commits and a reader running queries at the same time.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := w.tryExec("INSERT INTO t(v) VALUES ('more')"); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var worst time.Duration
	for range 200 {
		s := time.Now()
		r.int("SELECT count(*) FROM t")
		worst = max(worst, time.Since(s))
	}
	close(stop)
	wg.Wait()
	t.Logf("slowest read during the commit stream: %v", worst)
	if worst > 500*time.Millisecond {
		t.Fatalf("a read took %v during a stream of commits", worst)
	}
}

func TestWritersQueueWithoutBusy(t *testing.T) {
	for _, intent := range []bool{false, true} {
		t.Run(fmt.Sprintf("intent=%v", intent), func(t *testing.T) {
			path := dbPath(t)
			setup := openConn(t, path, "")
			setup.exec("CREATE TABLE t(w INTEGER, i INTEGER)")
			const writers, each = 8, 40
			conns := make([]*tconn, writers)
			for i := range conns {
				conns[i] = openConn(t, path, "libsql_sync=full")
				conns[i].SetBusyTimeout(5 * time.Second)
			}
			var wg sync.WaitGroup
			for w, c := range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						c.file.SetWriteIntent(intent)
						err := c.tryExec(fmt.Sprintf("INSERT INTO t VALUES (%d, %d)", w, i))
						c.file.SetWriteIntent(false)
						if err != nil {
							t.Errorf("writer %d insert %d: %v", w, i, err)
							return
						}
					}
				}()
			}
			wg.Wait()
			if n := setup.int("SELECT count(*) FROM t"); n != writers*each {
				t.Fatalf("%d rows, want %d", n, writers*each)
			}
			st := setup.file.e.Stats()
			t.Logf("snapshot retries %d, commits %d, log writes %d, fsyncs %d", st.SnapshotRetries, st.Commits, st.Flushes, st.Syncs)
		})
	}
}
