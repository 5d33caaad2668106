package libsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
)

// review9Page1Foreign is SQL that writes page 1 back with file format
// bytes 18/19 = 2/2 (WAL mode's), through sqlite_dbpage.
// review9Exec runs a statement on a connection and fails the test if it
// fails.
func review9Exec(t *testing.T, c *sql.Conn, query string) {
	t.Helper()
	if _, err := c.ExecContext(context.Background(), query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

const review9Page1Foreign = "UPDATE sqlite_dbpage SET data = CAST(substr(data, 1, 18) || x'0202' || substr(data, 21) AS BLOB) WHERE pgno = 1"

// TestReview9Page1ForeignConcurrent writes page 1 with file format bytes
// 2/2 through sqlite_dbpage, in BEGIN CONCURRENT transactions committed
// alone, merged over another connection's commit, and in a plain
// transaction with other writes, then a savepoint rolled back: the
// writing connection must go on reading and writing (its SQLite cache
// reset), and so must the others; nothing committed is lost.
func TestReview9Page1ForeignConcurrent(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []string{"concurrent", "concurrent merge", "concurrent same page", "plain", "savepoint"} {
		t.Run(mode, func(t *testing.T) {
			db := openTestDB(t, "")
			mustExec(t, db, "CREATE TABLE a(id INTEGER PRIMARY KEY, v TEXT)")
			mustExec(t, db, "CREATE TABLE b(id INTEGER PRIMARY KEY, v TEXT)")
			mustExec(t, db, "INSERT INTO a VALUES (1, 'a1'), (2, 'a2')")
			mustExec(t, db, "INSERT INTO b VALUES (1, 'b1')")
			x, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			y, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer y.Close()
			var n int
			if err := y.QueryRowContext(ctx, "SELECT count(*) FROM b").Scan(&n); err != nil {
				t.Fatal(err)
			}
			yWrote := false
			switch mode {
			case "plain":
				review9Exec(t, x, "BEGIN")
			case "savepoint":
				review9Exec(t, x, "BEGIN")
				review9Exec(t, x, "UPDATE a SET v = 'x' WHERE id = 1")
				review9Exec(t, x, "SAVEPOINT s")
			default:
				review9Exec(t, x, "BEGIN CONCURRENT")
			}
			if mode != "savepoint" {
				review9Exec(t, x, "UPDATE a SET v = 'x' WHERE id = 1")
			}
			review9Exec(t, x, review9Page1Foreign)
			if mode == "savepoint" {
				review9Exec(t, x, "ROLLBACK TO s")
				review9Exec(t, x, "RELEASE s")
			}
			switch mode {
			case "concurrent merge":
				review9Exec(t, y, "INSERT INTO b VALUES (2, 'y')")
				yWrote = true
			case "concurrent same page":
				review9Exec(t, y, "UPDATE a SET v = 'y' WHERE id = 2")
				yWrote = true
			}
			_, err = x.ExecContext(ctx, "COMMIT")
			t.Logf("COMMIT: %v", err)
			committed := err == nil
			if err != nil {
				if !errors.Is(err, ErrBusySnapshot) {
					t.Fatalf("COMMIT: %v", err)
				}
				// A refused COMMIT has rolled back already.
				x.ExecContext(ctx, "ROLLBACK")
			}
			for round := range 3 {
				for _, c := range []*sql.Conn{x, y} {
					var na int
					if err := c.QueryRowContext(ctx, "SELECT count(*) FROM a").Scan(&na); err != nil || na != 2 {
						t.Fatalf("round %d: reading a: %d rows, %v", round, na, err)
					}
				}
				if _, err := x.ExecContext(ctx, fmt.Sprintf("INSERT INTO b VALUES (%d, 'x')", 10+round)); err != nil {
					t.Fatalf("round %d: the writing connection writes: %v", round, err)
				}
				if _, err := y.ExecContext(ctx, fmt.Sprintf("INSERT INTO b VALUES (%d, 'y')", 20+round)); err != nil {
					t.Fatalf("round %d: the other connection writes: %v", round, err)
				}
			}
			var v string
			if err := x.QueryRowContext(ctx, "SELECT v FROM a WHERE id = 1").Scan(&v); err != nil {
				t.Fatal(err)
			}
			if committed && v != "x" {
				t.Fatalf("committed, but a.v = %q", v)
			}
			if !committed && v != "a1" {
				t.Fatalf("not committed, but a.v = %q", v)
			}
			if yWrote {
				var cnt int
				db.QueryRow("SELECT (SELECT count(*) FROM b WHERE id = 2) + (SELECT count(*) FROM a WHERE v = 'y')").Scan(&cnt)
				if cnt != 1 {
					t.Fatal("the other connection's commit is lost")
				}
			}
			var nb int
			if err := db.QueryRow("SELECT count(*) FROM b WHERE id >= 10").Scan(&nb); err != nil || nb != 6 {
				t.Fatalf("b has %d rows written after the commit, want 6 (%v)", nb, err)
			}
		})
	}
}
