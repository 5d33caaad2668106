package libsql

import (
	"database/sql"
	"strings"
	"testing"
)

func TestMultiStatementExecRunsAllAndReportsLast(t *testing.T) {
	db := openTestDB(t, "")
	r, err := db.Exec(`
		CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); -- a comment
		INSERT INTO t(v) VALUES ('a'), ('b');
		/* another */ INSERT INTO t(v) VALUES ('c');
	`)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := r.LastInsertId(); id != 3 {
		t.Errorf("LastInsertId = %d, want 3", id)
	}
	if n, _ := r.RowsAffected(); n != 1 {
		t.Errorf("RowsAffected = %d, want 1 (the last statement's)", n)
	}
	var n int
	db.QueryRow("SELECT count(*) FROM t").Scan(&n)
	if n != 3 {
		t.Errorf("%d rows, want 3", n)
	}
}

func TestMultiStatementExecBindsArgumentsInOrder(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(a, b)")
	mustExec(t, db, "INSERT INTO t VALUES (?, ?); INSERT INTO t VALUES (?, :last)", 1, 2, 3, sql.Named("last", 4))
	rows, err := db.Query("SELECT a, b FROM t ORDER BY a")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []int
	for rows.Next() {
		var a, b int
		rows.Scan(&a, &b)
		got = append(got, a, b)
	}
	if len(got) != 4 || got[0] != 1 || got[1] != 2 || got[2] != 3 || got[3] != 4 {
		t.Errorf("got %v", got)
	}
}

func TestMultiStatementExecStopsAtFirstError(t *testing.T) {
	db := openTestDB(t, "")
	_, err := db.Exec("CREATE TABLE t(x UNIQUE); INSERT INTO t VALUES (1); INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)")
	if err == nil || !strings.Contains(err.Error(), "UNIQUE") {
		t.Fatalf("err = %v", err)
	}
	var n int
	db.QueryRow("SELECT count(*) FROM t").Scan(&n)
	if n != 1 {
		t.Errorf("%d rows, want 1: statements after the failing one ran", n)
	}
}

func TestMultiStatementQueryReturnsLastRows(t *testing.T) {
	db := openTestDB(t, "")
	rows, err := db.Query("CREATE TABLE t(x); INSERT INTO t VALUES (7), (8); SELECT x FROM t ORDER BY x; -- done")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []int
	for rows.Next() {
		var x int
		rows.Scan(&x)
		got = append(got, x)
	}
	if len(got) != 2 || got[0] != 7 || got[1] != 8 {
		t.Errorf("got %v", got)
	}
}

func TestEmptyStatementIsHarmless(t *testing.T) {
	db := openTestDB(t, "")
	for _, q := range []string{"", "  ", ";", "-- nothing", "/* nothing */"} {
		if _, err := db.Exec(q); err != nil {
			t.Errorf("Exec(%q): %v", q, err)
		}
		rows, err := db.Query(q)
		if err != nil {
			t.Errorf("Query(%q): %v", q, err)
			continue
		}
		if rows.Next() {
			t.Errorf("Query(%q) returned a row", q)
		}
		rows.Close()
	}
}

func TestRowsAffectedIsZeroForStatementsThatChangeNothing(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(x)")
	mustExec(t, db, "INSERT INTO t VALUES (1), (2), (3)")
	r := mustExec(t, db, "CREATE TABLE u(y)")
	if n, _ := r.RowsAffected(); n != 0 {
		t.Errorf("CREATE TABLE affected %d rows", n)
	}
	r = mustExec(t, db, "UPDATE t SET x = x + 1")
	if n, _ := r.RowsAffected(); n != 3 {
		t.Errorf("UPDATE affected %d rows", n)
	}
	r = mustExec(t, db, "DELETE FROM t WHERE x > 100")
	if n, _ := r.RowsAffected(); n != 0 {
		t.Errorf("DELETE of nothing affected %d rows", n)
	}
}

func TestExecWithReturningRunsToCompletion(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, x)")
	r := mustExec(t, db, "INSERT INTO t(x) VALUES (1), (2) RETURNING id")
	if n, _ := r.RowsAffected(); n != 2 {
		t.Errorf("RowsAffected = %d", n)
	}
	rows, err := db.Query("INSERT INTO t(x) VALUES (3) RETURNING id, x")
	if err != nil {
		t.Fatal(err)
	}
	var id, x int
	if !rows.Next() {
		t.Fatal(rows.Err())
	}
	rows.Scan(&id, &x)
	rows.Close()
	if id != 3 || x != 3 {
		t.Errorf("RETURNING gave %d, %d", id, x)
	}
}
