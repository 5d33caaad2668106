package libsql

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"
)

// prehookDeletes reads n changes from s and fails unless they are the
// deletes of rows 1..n of table t.
func prehookDeletes(t *testing.T, s *ChangeStream, table string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	seen := map[int64]bool{}
	for range n {
		ch, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("after %d of %d deletes: %v", len(seen), n, err)
		}
		if ch.Table != table || ch.Op.String() != "delete" {
			t.Fatalf("change %+v, want a delete from %s", ch, table)
		}
		seen[ch.RowID] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct rows deleted, want %d", len(seen), n)
	}
}

// A connection has no pre-update hook until it needs one, so that DELETE
// without WHERE clears the table (SQLite's truncate optimization, OP_Clear)
// as in stock SQLite. A statement compiled before the capture started, a
// prepared one or one in the statement cache, compiles again with the
// hook and reports every row it deletes, and so does one that was already
// waiting for the writer lock when the capture started (the engine makes
// it compile again: File.Lock).
func TestPreUpdateHookWhenNeeded(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE u(id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE w(id INTEGER PRIMARY KEY, v TEXT)")
	fill := "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i<50) INSERT INTO %s SELECT i, 'x' FROM s"
	for _, tb := range []string{"t", "u", "w"} {
		mustExec(t, db, strings.Replace(fill, "%s", tb, 1))
	}
	if ops := bigExplainOps(t, db, "DELETE FROM t"); !bigContains(ops, "Clear") {
		t.Fatalf("without capture, DELETE FROM t does not clear the table (no OP_Clear): %v", ops)
	}
	c1, c2 := dbConn(t, db), dbConn(t, db)
	prepared, err := c1.PrepareContext(ctx, "DELETE FROM t")
	if err != nil {
		t.Fatal(err)
	}
	defer prepared.Close()
	cexec(t, c2, "DELETE FROM u WHERE id < 0") // cached, compiled without the hook

	// The DELETE, compiled before the capture starts, waits for the
	// writer lock behind the capture's start.
	s, err := captureWhileWaiting(t, db, func() error {
		_, err := c2.ExecContext(ctx, "DELETE FROM w")
		return err
	})
	if err != nil {
		t.Fatalf("the DELETE waiting while the capture started: %v", err)
	}
	prehookDeletes(t, s, "w", 50)
	if _, err := prepared.ExecContext(ctx); err != nil {
		t.Fatal(err)
	}
	prehookDeletes(t, s, "t", 50)
	cexec(t, c2, "DELETE FROM u WHERE id < 0")
	cexec(t, c2, "DELETE FROM u")
	prehookDeletes(t, s, "u", 50)
}

// captureWhileWaiting runs write (from another goroutine) while it
// waits for the writer lock behind the capture's start, which waits behind
// a holder of the writer lock: write passed the driver's check before the
// capture started, and is made to compile again by File.Lock. It returns
// the stream and write's error.
func captureWhileWaiting(t *testing.T, db *sql.DB, write func() error, holderSQL ...string) (*ChangeStream, error) {
	t.Helper()
	ctx := context.Background()
	holder := dbConn(t, db)
	cexec(t, holder, "BEGIN IMMEDIATE")
	for _, q := range holderSQL {
		cexec(t, holder, q)
	}
	streams := make(chan *ChangeStream, 1)
	go func() {
		s, err := Changes(ctx, db, ChangeOptions{})
		if err != nil {
			t.Error(err)
		}
		streams <- s
	}()
	prehookWaitQueue(t, db, 1)
	done := make(chan error, 1)
	go func() { done <- write() }()
	prehookWaitQueue(t, db, 2)
	cexec(t, holder, "COMMIT")
	s := <-streams
	if s == nil {
		t.FailNow()
	}
	t.Cleanup(func() { s.Close() })
	return s, <-done
}

// prehookWaitQueue waits until n connections wait for the writer lock.
func prehookWaitQueue(t *testing.T, db *sql.DB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, err := bigStats(db)
		if err != nil {
			t.Fatal(err)
		}
		if int(bigStatInt(m, "writer_queue")) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("writer queue %d, want %d", bigStatInt(m, "writer_queue"), n)
		}
		time.Sleep(time.Millisecond)
	}
}
