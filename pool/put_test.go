package pool

import (
	"context"
	"errors"
	"testing"
)

// A second Put of a borrow (a caller bug) must not touch the connection,
// idle or lent again to someone else.
func TestPoolDoublePutLeavesTheConnectionAlone(t *testing.T) {
	ctx := context.Background()
	p := openTestPool(t, Options{MaxConns: 1})
	a := mustGet(t, p)
	mustExec(t, a, "CREATE TABLE t(x)")
	p.Put(a)

	b := mustGet(t, p) // the same connection, lent again
	mustExec(t, b, "BEGIN IMMEDIATE; INSERT INTO t VALUES (1)")
	if err := p.Put(a); !errors.Is(err, ErrNotBorrowed) {
		t.Errorf("second Put of an earlier borrow: %v, want ErrNotBorrowed", err)
	}
	if !b.InTx() {
		t.Fatal("a second Put of an earlier borrow rolled back the current borrower's transaction")
	}
	if s := p.Stats(); s.InUse != 1 || s.Idle != 0 {
		t.Fatalf("after a second Put of an earlier borrow: stats %+v, want the connection still in use", s)
	}
	mustExec(t, b, "COMMIT")
	p.Put(b)

	if err := p.Put(b); !errors.Is(err, ErrNotBorrowed) { // idle now
		t.Errorf("second Put of an idle connection: %v, want ErrNotBorrowed", err)
	}
	if s := p.Stats(); s.InUse != 0 || s.Idle != 1 || s.Discarded != 0 {
		t.Fatalf("after a second Put of an idle connection: stats %+v", s)
	}
	c := mustGet(t, p)
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Errorf("count %d, %v; want 1 committed row", n, err)
	}
	p.Put(c)
}
