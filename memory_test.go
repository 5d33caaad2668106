package libsql

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
)

// connsSee checks that n distinct pooled connections of db all see the
// table t with want rows.
func connsSee(t *testing.T, db *sql.DB, n, want int) {
	t.Helper()
	ctx := context.Background()
	var conns []*sql.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var got int
		if err := c.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&got); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		if got != want {
			t.Fatalf("connection %d sees %d rows, want %d", i, got, want)
		}
	}
}

func TestPlainMemoryIsSharedByThePool(t *testing.T) {
	db := openTestDSN(t, ":memory:")
	mustExec(t, db, "CREATE TABLE t(x); INSERT INTO t VALUES (1), (2)")
	connsSee(t, db, 4, 2)

	other := openTestDSN(t, ":memory:")
	if _, err := other.Exec("SELECT * FROM t"); err == nil {
		t.Error("a second :memory: DB sees the first one's table")
	}
}

func TestNamedMemoryIsSharedByNameAndSurvivesIdlePool(t *testing.T) {
	name := fmt.Sprintf("file:%s?mode=memory", t.Name())
	db := openTestDSN(t, name)
	db.SetMaxIdleConns(0) // every connection closes when put back
	mustExec(t, db, "CREATE TABLE t(x)")
	mustExec(t, db, "INSERT INTO t VALUES (1)")
	connsSee(t, db, 3, 1)

	// Another DB opening the same name sees the same database.
	same := openTestDSN(t, name)
	connsSee(t, same, 2, 1)

	fileLike := openTestDSN(t, "file:other-"+t.Name()+"?mode=memory")
	if _, err := fileLike.Exec("SELECT * FROM t"); err == nil {
		t.Error("a differently named in-memory DB sees the table")
	}
}

func TestMemoryDatabaseGoesAwayWithTheConnector(t *testing.T) {
	name := fmt.Sprintf("file:%s?mode=memory", t.Name())
	db, err := Open(name)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "CREATE TABLE t(x)")
	db.Close()
	db2 := openTestDSN(t, name)
	if _, err := db2.Exec("SELECT * FROM t"); err == nil {
		t.Error("the in-memory database outlived every connection to it")
	}
}

func TestMemoryDatabaseWritesFromManyConnections(t *testing.T) {
	db := openTestDSN(t, ":memory:")
	mustExec(t, db, "CREATE TABLE t(x)")
	ctx := context.Background()
	c1, _ := db.Conn(ctx)
	c2, _ := db.Conn(ctx)
	defer c1.Close()
	defer c2.Close()
	if _, err := c1.ExecContext(ctx, "INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.ExecContext(ctx, "INSERT INTO t VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	connsSee(t, db, 2, 2)
}
