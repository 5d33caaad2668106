package libsql

import (
	"context"
	"testing"
)

// A statement closed while its rows are open is handed back when the rows
// close; the next driver.Stmt that takes it from the cache must own it
// outright, so that its own rows and Close do not hand it back twice (the
// second put finalized the cached statement, and the next query on the
// text failed with "statement is finalized").
func TestStmtClosedWithOpenRowsIsReusedSafely(t *testing.T) {
	ctx := context.Background()
	c := dbConn(t, openTestDB(t, ""))
	cexec(t, c, "CREATE TABLE t(x); INSERT INTO t VALUES (1), (2)")
	const q = "SELECT x FROM t ORDER BY x"
	st, err := c.PrepareContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := st.QueryContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil { // rows still open
		t.Fatal(err)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	driverConn(t, c, func(dc *conn) {
		switch p := dc.cache.m[stmtKey{q, true}]; {
		case p == nil:
			t.Error("the statement was not given back when its rows closed")
		case p.closeAfter:
			t.Error("a cached statement still says to hand it back after its rows")
		}
	})

	// The next prepared statement takes it from the cache, queries and
	// closes: the statement goes back once.
	st2, err := c.PrepareContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	rows2, err := st2.QueryContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows2.Close()
	driverConn(t, c, func(dc *conn) {
		if dc.cache.m[stmtKey{q, true}] != nil {
			t.Error("the rows of a statement still held gave it back to the cache")
		}
	})
	if err := st2.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		var x int
		if err := c.QueryRowContext(ctx, q).Scan(&x); err != nil || x != 1 {
			t.Fatalf("query %d after the statements closed: %d, %v", i, x, err)
		}
	}
}
