package libsql

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// TestReviewNativeRowsClosedByCommitReportAnError: rows that Commit (or
// Rollback) closed under a reader who had not finished them must not look
// like rows that ended normally. database/sql, on this same driver,
// reports such rows with Err() == context.Canceled and Row.Scan fails the
// same way; here Next returns false and Err is nil, so a loop
// `for rows.Next() {...}; if rows.Err() != nil {...}` silently returns a
// truncated result, and a Row scanned after the Commit reports
// sql.ErrNoRows for a row that exists.
func TestReviewNativeRowsClosedByCommitReportAnError(t *testing.T) {
	ctx := context.Background()
	c, err := OpenConn(ctx, "file:"+filepath.ToSlash(filepath.Join(t.TempDir(), "r.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Exec(ctx, "CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3)"); err != nil {
		t.Fatal(err)
	}
	for _, end := range []string{"Commit", "Rollback", "Reset"} {
		if err := c.BeginTx(ctx, nil); err != nil {
			t.Fatal(err)
		}
		rows, err := c.Query(ctx, "SELECT x FROM t ORDER BY x")
		if err != nil {
			t.Fatal(err)
		}
		row := c.QueryRow(ctx, "SELECT x FROM t WHERE x = 2")
		if !rows.Next() {
			t.Fatalf("%s: no first row: %v", end, rows.Err())
		}
		switch end {
		case "Commit":
			err = c.Commit()
		case "Rollback":
			err = c.Rollback()
		case "Reset":
			err = c.Reset(ctx)
		}
		if err != nil {
			t.Fatalf("%s: %v", end, err)
		}
		n := 1
		for rows.Next() {
			n++
		}
		if rows.Err() == nil && n < 3 {
			t.Errorf("after %s: the rows ended after %d of 3 rows with Err() == nil: a truncated result looks complete", end, n)
		}
		var x int
		if err := row.Scan(&x); err == sql.ErrNoRows {
			t.Errorf("after %s: Row.Scan of an existing row returned sql.ErrNoRows", end)
		}
	}
}
