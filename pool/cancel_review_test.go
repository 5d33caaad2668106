package pool

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/golibsql/libsql"
)

// Guard: a connection put back with rows open whose context ended (their
// watch fired, raising the connection's cancel flag) is cleaned by Put: the
// next borrower's statements, under a live context, run to the end. Fails
// if Reset (called by Put) leaves the rows open.
func TestCancelReviewPoolPutAfterCancelledRows(t *testing.T) {
	p := openTestPool(t, Options{MaxConns: 1})
	c := mustGet(t, p)
	mustExec(t, c, "CREATE TABLE t(x)")
	mustExec(t, c, "INSERT INTO t VALUES (1), (2), (3)")
	ctx1, cancel1 := context.WithCancel(context.Background())
	rows, err := c.Query(ctx1, "SELECT x FROM t")
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatal(rows.Err())
	}
	cancel1()
	time.Sleep(20 * time.Millisecond) // the watch fires on a goroutine of the context package
	if err := p.Put(c); err != nil {
		t.Fatal(err)
	}
	if err := rows.Err(); !errors.Is(err, libsql.ErrRowsClosed) {
		t.Errorf("rows put back open: Err() = %v, want ErrRowsClosed", err)
	}
	c2 := mustGet(t, p)
	defer p.Put(c2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var n int64
	err = c2.QueryRow(ctx, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c LIMIT 20000) SELECT count(*) FROM c").Scan(&n)
	if err != nil || n != 20000 {
		t.Errorf("next borrower's long query: %d, %v", n, err)
	}
	if _, err := c2.Exec(ctx, "INSERT INTO t VALUES (4)"); err != nil {
		t.Errorf("next borrower's INSERT: %v", err)
	}
}
