package libsql

import (
	"fmt"
	"strings"
	"testing"
)

// Changes of each statement of a multi-statement Exec and Query, and
// those of statements whose triggers or REPLACE change other rows, match
// RowsAffected.
func TestReview29TraceChangesMatchRowsAffected(t *testing.T) {
	log, db := tracedDB(t, TraceProfile)
	mustExec(t, db, `CREATE TABLE t(id INTEGER PRIMARY KEY, x UNIQUE); CREATE TABLE audit(x);
		CREATE TRIGGER tr BEFORE INSERT ON t BEGIN INSERT INTO audit VALUES (new.x); INSERT INTO audit VALUES (new.x); END`)
	log.take(true)
	for _, q := range []string{
		"INSERT INTO t(x) VALUES (1), (2), (3)",
		"INSERT OR IGNORE INTO t(x) VALUES (1)",
		"INSERT OR REPLACE INTO t(x) VALUES (2)",
		"UPDATE t SET x = x WHERE x > 100",
		"DELETE FROM audit",
		"DELETE FROM t",
	} {
		r, err := db.Exec(q)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := r.RowsAffected()
		got := log.changes()
		if len(got) != 1 || got[q] != n {
			t.Errorf("%s: changes %v, RowsAffected %d", q, got, n)
		}
	}
	r, err := db.Exec("INSERT INTO t(x) VALUES (?); INSERT INTO t(x) VALUES (?), (?); CREATE TABLE v(z)", 10, 11, 12)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := r.RowsAffected(); n != 0 {
		t.Errorf("script RowsAffected %d, want 0 (its last statement's)", n)
	}
	want := map[string]int64{"INSERT INTO t(x) VALUES (?);": 1, "INSERT INTO t(x) VALUES (?), (?);": 2, "CREATE TABLE v(z)": 0}
	got := map[string]int64{}
	for q, n := range log.changes() {
		got[strings.TrimSpace(q)] = n
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("script changes %v, want %v", got, want)
	}
}

// Multi-statement Exec and Query after the runScriptStatement refactor:
// arguments are consumed statement by statement, Exec's result is its
// last statement's, Query's rows are the last statement's, and an error
// in a middle statement stops the text there.
func TestReview29ScriptExecQuery(t *testing.T) {
	db := openTestDB(t, "")
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, x UNIQUE)")
	r, err := db.Exec("INSERT INTO t(x) VALUES (?); INSERT INTO t(x) VALUES (?), (?)", "a", "b", "c")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := r.RowsAffected()
	id, _ := r.LastInsertId()
	if n != 2 || id != 3 {
		t.Fatalf("RowsAffected %d, LastInsertId %d, want 2, 3", n, id)
	}
	rows, err := db.Query("INSERT INTO t(x) VALUES (?); SELECT x FROM t WHERE id > ? ORDER BY id", "d", 2)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if strings.Join(got, ",") != "c,d" {
		t.Fatalf("rows %v, want c,d", got)
	}
	// An error in the middle: the first statement ran, the third did not.
	if _, err := db.Exec("INSERT INTO t(x) VALUES (?); INSERT INTO t(x) VALUES (?); INSERT INTO t(x) VALUES (?)", "e", "a", "f"); err == nil || !strings.Contains(err.Error(), "UNIQUE") {
		t.Fatalf("Exec: %v, want a UNIQUE error", err)
	}
	if _, err := db.Query("INSERT INTO t(x) VALUES (?); INSERT INTO t(x) VALUES (?); SELECT 1", "g", "a"); err == nil || !strings.Contains(err.Error(), "UNIQUE") {
		t.Fatalf("Query: %v, want a UNIQUE error", err)
	}
	var all string
	if err := db.QueryRow("SELECT group_concat(x, ',') FROM (SELECT x FROM t ORDER BY id)").Scan(&all); err != nil {
		t.Fatal(err)
	}
	if all != "a,b,c,d,e,g" {
		t.Fatalf("table %s, want a,b,c,d,e,g", all)
	}
	// Too few arguments for the second statement.
	if _, err := db.Exec("INSERT INTO t(x) VALUES (?); INSERT INTO t(x) VALUES (?)", "h"); err == nil {
		t.Fatal("Exec with too few arguments succeeded")
	}
}

// A libsql_cdc table with durable CDC's columns and a generated column:
// a cdc=on connection took it as durable CDC's table (setupDurableCDC read
// pragma_table_info, which leaves generated columns out) and stored
// changes in it, while a connection without cdc=on (hasCDCTable, from a
// compiled SELECT *) did not, and wrote: a gap in the stored history.
// Both now read the table one way (cdcTableColumns): it is not durable
// CDC's, cdc=on refuses it by name, and other connections write it.
func TestReview29CDCTableGeneratedColumn(t *testing.T) {
	dir := t.TempDir()
	plain := crvDSN(dir, "g.db", "")
	db := crvOpen(t, plain)
	mustExec(t, db, "CREATE TABLE libsql_cdc(lsn INTEGER PRIMARY KEY, time INTEGER NOT NULL, changes BLOB NOT NULL, twice AS (lsn * 2))")
	mustExec(t, db, "CREATE TABLE t(x)")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	on, err := Open(crvDSN(dir, "g.db", "cdc=on"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = on.Exec("INSERT INTO t VALUES (1)")
	on.Close()
	if err == nil || !strings.Contains(err.Error(), "not the CDC log's") || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("cdc=on on a libsql_cdc with a generated column: %v, want refused, naming its columns", err)
	}
	db = crvOpen(t, plain)
	mustExec(t, db, "INSERT INTO t VALUES (2)")
	mustExec(t, db, "INSERT INTO libsql_cdc(time, changes) VALUES (1, x'00')")
}
