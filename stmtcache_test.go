package libsql

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
)

// driverConn runs f with the driver connection behind c.
func driverConn(t *testing.T, c *sql.Conn, f func(*conn)) {
	t.Helper()
	if err := c.Raw(func(dc any) error { f(dc.(*conn)); return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestStatementCacheReusesPreparedStatements(t *testing.T) {
	db := openTestDB(t, "")
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "CREATE TABLE t(x)"); err != nil {
		t.Fatal(err)
	}
	const q = "INSERT INTO t VALUES (?)"
	if _, err := c.ExecContext(ctx, q, 1); err != nil {
		t.Fatal(err)
	}
	var first *prepared
	driverConn(t, c, func(dc *conn) { first = dc.cache.m[stmtKey{q, true}] })
	if first == nil {
		t.Fatal("statement not cached after use")
	}
	for i := range 10 {
		if _, err := c.ExecContext(ctx, q, i); err != nil {
			t.Fatal(err)
		}
	}
	driverConn(t, c, func(dc *conn) {
		if dc.cache.m[stmtKey{q, true}] != first {
			t.Error("the cached statement was prepared again")
		}
		if first.s.Busy() {
			t.Error("a cached statement was not reset")
		}
	})
	// A prepared database/sql statement takes it from the cache and gives
	// it back on Close.
	st, err := c.PrepareContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	driverConn(t, c, func(dc *conn) {
		if dc.cache.m[stmtKey{q, true}] != nil {
			t.Error("a statement in use stayed in the cache")
		}
	})
	st.Close()
	driverConn(t, c, func(dc *conn) {
		if dc.cache.m[stmtKey{q, true}] != first {
			t.Error("Stmt.Close did not give the statement back")
		}
	})
}

func TestStatementCacheIsBoundedLRU(t *testing.T) {
	db := openTestDB(t, "", WithStatementCacheSize(3))
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q := func(i int) string { return fmt.Sprintf("SELECT %d", i) }
	for _, i := range []int{1, 2, 3, 1, 4} { // 1 is used again, so 2 is the oldest when 4 comes
		var n int
		if err := c.QueryRowContext(ctx, q(i)).Scan(&n); err != nil || n != i {
			t.Fatal(n, err)
		}
	}
	driverConn(t, c, func(dc *conn) {
		if dc.cache.len() != 3 {
			t.Errorf("cache holds %d statements, want 3", dc.cache.len())
		}
		for _, i := range []int{1, 3, 4} {
			if dc.cache.m[stmtKey{q(i), true}] == nil {
				t.Errorf("%q was evicted", q(i))
			}
		}
		if dc.cache.m[stmtKey{q(2), true}] != nil {
			t.Errorf("%q, the least recently used, was kept", q(2))
		}
	})
}

func TestStatementCacheOff(t *testing.T) {
	db := openTestDB(t, "", WithStatementCacheSize(0))
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var n int
	if err := c.QueryRowContext(ctx, "SELECT 1").Scan(&n); err != nil {
		t.Fatal(err)
	}
	driverConn(t, c, func(dc *conn) {
		if dc.cache.len() != 0 {
			t.Errorf("cache off but holds %d", dc.cache.len())
		}
	})
}

func TestCachedStatementSeesSchemaChanges(t *testing.T) {
	db := openTestDB(t, "max_conns=1")
	mustExec(t, db, "CREATE TABLE t(a)")
	mustExec(t, db, "INSERT INTO t VALUES (1)")
	cols := func() []string {
		rows, err := db.Query("SELECT * FROM t")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		c, _ := rows.Columns()
		return c
	}
	if got := cols(); len(got) != 1 {
		t.Fatalf("columns %v", got)
	}
	mustExec(t, db, "ALTER TABLE t ADD COLUMN b DATETIME")
	if got := cols(); len(got) != 2 || got[1] != "b" {
		t.Errorf("after ALTER TABLE the cached SELECT * gives columns %v", got)
	}
}

func TestStatementWithOpenRowsRunsAgainAsACopy(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3)")
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	st, err := tx.Prepare("SELECT x FROM t WHERE x >= ? ORDER BY x")
	if err != nil {
		t.Fatal(err)
	}
	r1, err := st.Query(1)
	if err != nil {
		t.Fatal(err)
	}
	r1.Next()
	r2, err := st.Query(2)
	if err != nil {
		t.Fatal(err)
	}
	var a, b int
	r2.Next()
	r2.Scan(&b)
	r1.Scan(&a)
	r2.Close()
	r1.Next()
	var a2 int
	r1.Scan(&a2)
	r1.Close()
	if a != 1 || a2 != 2 || b != 2 {
		t.Errorf("interleaved queries on one statement: %d %d %d", a, a2, b)
	}
	st.Close()
}

func TestModifyingColumnsDoesNotAffectLaterQueries(t *testing.T) {
	db := openTestDB(t, "max_conns=1")
	for range 2 {
		rows, err := db.Query("SELECT 1 AS a, 2 AS b")
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		if cols[0] != "a" || cols[1] != "b" {
			t.Errorf("columns %v", cols)
		}
		cols[0] = "changed"
		rows.Close()
	}
}
