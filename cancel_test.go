package libsql

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

const infiniteCount = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c"

func TestQueryTimeoutInterruptsAndConnStaysUsable(t *testing.T) {
	db := openTestDB(t, "")
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	for _, how := range []string{"QueryRow", "Exec"} {
		tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		start := time.Now()
		if how == "QueryRow" {
			var n int64
			err = conn.QueryRowContext(tctx, infiniteCount).Scan(&n)
		} else {
			_, err = conn.ExecContext(tctx, infiniteCount)
		}
		cancel()
		if elapsed := time.Since(start); elapsed > time.Second {
			t.Errorf("%s: returned after %v, want < 1s", how, elapsed)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: err = %v, want context.DeadlineExceeded", how, err)
		}
		var n int
		if err := conn.QueryRowContext(ctx, "SELECT 1").Scan(&n); err != nil || n != 1 {
			t.Fatalf("%s: conn unusable afterwards: %d, %v", how, n, err)
		}
	}
}

func TestRowsNextHonoursCancellation(t *testing.T) {
	db := openTestDB(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Each row needs more work than the last: cancellation must stop a step
	// in progress, not only be noticed between rows.
	rows, err := db.QueryContext(ctx, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT x FROM c")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	start := time.Now()
	for rows.Next() {
		n++
		if n == 1000 {
			cancel()
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("rows did not stop after cancel")
		}
	}
	if err := rows.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("rows.Err() = %v, want context.Canceled", err)
	}
	rows.Close()
	var one int
	if err := db.QueryRow("SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
}

func TestCancelledContextFailsBeforeRunning(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(x)")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := db.ExecContext(ctx, "INSERT INTO t VALUES (1)"); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatalf("count after the cancelled insert: %v", err)
	}
	if n != 0 {
		t.Errorf("the insert ran")
	}
}

func TestBusyWaitEndsWithContext(t *testing.T) {
	db := openTestDB(t, "busy_timeout=30s")
	mustExec(t, db, "CREATE TABLE t(x)")
	ctx := context.Background()
	holder, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := holder.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	defer holder.ExecContext(ctx, "ROLLBACK")

	waiter, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer waiter.Close()
	tctx, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = waiter.ExecContext(tctx, "INSERT INTO t VALUES (1)")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("the busy wait took %v despite a 150ms context", elapsed)
	}
}

func TestBusyTimeoutGivesErrBusy(t *testing.T) {
	db := openTestDB(t, "busy_timeout=100ms")
	mustExec(t, db, "CREATE TABLE t(x)")
	ctx := context.Background()
	holder, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := holder.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	defer holder.ExecContext(ctx, "ROLLBACK")
	start := time.Now()
	_, err = db.Exec("INSERT INTO t VALUES (1)")
	elapsed := time.Since(start)
	if !errors.Is(err, ErrBusy) {
		t.Errorf("err = %v, want ErrBusy", err)
	}
	if elapsed < 90*time.Millisecond || elapsed > 2*time.Second {
		t.Errorf("waited %v for a 100ms busy timeout", elapsed)
	}
}

func TestNoGoroutinePerCallWithoutCancellation(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(x)")
	before := runtime.NumGoroutine()
	for i := range 200 {
		mustExec(t, db, "INSERT INTO t VALUES (?)", i)
		var n int
		if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	if after := runtime.NumGoroutine(); after > before+2 {
		t.Errorf("goroutines grew from %d to %d", before, after)
	}
}
