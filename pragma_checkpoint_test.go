package libsql

import (
	"context"
	"database/sql"
	"testing"
)

// A prepared PRAGMA wal_checkpoint answers the same row of three integers as
// the pragma run directly, through db.Prepare and through a Conn's
// PrepareContext, and may run more than once.
func TestWALCheckpointPragmaPreparedAnswersThreeColumns(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(x)")
	mustExec(t, db, "INSERT INTO t VALUES (randomblob(5000))")

	st, err := db.Prepare("PRAGMA wal_checkpoint(TRUNCATE)")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var busy, log, done int64
	for i := range 2 {
		if err := st.QueryRow().Scan(&busy, &log, &done); err != nil {
			t.Fatalf("run %d of prepared wal_checkpoint(TRUNCATE): %v", i, err)
		}
		if busy != 0 || log != 0 || done != 0 {
			t.Fatalf("run %d of prepared wal_checkpoint(TRUNCATE) = %d|%d|%d, want 0|0|0", i, busy, log, done)
		}
	}

	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	cst, err := c.PrepareContext(ctx, "pragma main.wal_checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	defer cst.Close()
	if err := cst.QueryRowContext(ctx).Scan(&busy, &log, &done); err != nil || log == 0 || done != log {
		t.Fatalf("prepared wal_checkpoint on a Conn = %d|%d|%d (%v)", busy, log, done, err)
	}
	if _, err := cst.ExecContext(ctx); err != nil {
		t.Fatalf("Exec of prepared wal_checkpoint: %v", err)
	}
}

// TestEnginePragmasAnswerAsStock: the PRAGMAs the engine answers come back
// as stock SQLite's do, an INTEGER or TEXT in a column named after the
// PRAGMA (SQLite's file-control path would give the text in a column named
// after the value), through Query and through a prepared statement alike;
// a script that starts with one runs as a script.
func TestEnginePragmasAnswerAsStock(t *testing.T) {
	db := openTestDB(t, "")
	db.SetMaxOpenConns(1)
	for _, c := range []struct {
		q, col string
		want   any
	}{
		{"PRAGMA busy_timeout = 3000", "timeout", int64(3000)},
		{"PRAGMA busy_timeout", "timeout", int64(3000)},
		{"PRAGMA synchronous", "synchronous", int64(2)},
		{"PRAGMA wal_autocheckpoint = 500", "wal_autocheckpoint", int64(500)},
		{"PRAGMA main.journal_size_limit", "journal_size_limit", int64(-1)},
		{"pragma JOURNAL_MODE;", "journal_mode", "wal"},
		{"PRAGMA locking_mode", "locking_mode", "normal"},
	} {
		check := func(how string, rows *sql.Rows, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s %q: %v", how, c.q, err)
			}
			defer rows.Close()
			cols, _ := rows.Columns()
			var v any
			if !rows.Next() {
				t.Fatalf("%s %q: no row", how, c.q)
			}
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			if len(cols) != 1 || cols[0] != c.col || v != c.want {
				t.Errorf("%s %q: columns %v, value %#v; want [%s], %#v", how, c.q, cols, v, c.col, c.want)
			}
		}
		rows, err := db.Query(c.q)
		check("Query", rows, err)
		st, err := db.Prepare(c.q)
		if err != nil {
			t.Fatal(err)
		}
		rows, err = st.Query()
		check("Stmt.Query", rows, err)
		st.Close()
	}
	var n int
	if err := db.QueryRow("PRAGMA busy_timeout = 4000; SELECT 7").Scan(&n); err != nil || n != 7 {
		t.Fatalf("script starting with PRAGMA busy_timeout: %d, %v; want 7", n, err)
	}
	rows, err := db.Query("PRAGMA synchronous = FULL")
	if err != nil {
		t.Fatal(err)
	}
	if rows.Next() {
		t.Error("PRAGMA synchronous = FULL answered a row; stock SQLite answers none")
	}
	rows.Close()
}
