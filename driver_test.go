package libsql

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"
)

func TestOpenExecQueryRoundTrip(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, data BLOB)")
	r := mustExec(t, db, "INSERT INTO t(name, score, data) VALUES (?, ?, ?)", "alice", 1.5, []byte{1, 2})
	if id, _ := r.LastInsertId(); id != 1 {
		t.Errorf("LastInsertId = %d, want 1", id)
	}
	if n, _ := r.RowsAffected(); n != 1 {
		t.Errorf("RowsAffected = %d, want 1", n)
	}
	var (
		name  string
		score float64
		data  []byte
	)
	if err := db.QueryRow("SELECT name, score, data FROM t WHERE id = ?", 1).Scan(&name, &score, &data); err != nil {
		t.Fatal(err)
	}
	if name != "alice" || score != 1.5 || string(data) != "\x01\x02" {
		t.Errorf("got %q %v %v", name, score, data)
	}
}

func TestSQLOpenUsesRegisteredName(t *testing.T) {
	db, err := sql.Open(DriverName, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT 40 + 2").Scan(&n); err != nil || n != 42 {
		t.Fatalf("got %d, %v", n, err)
	}
}

// A path that starts with two slashes is a path (POSIX reads it as one
// slash), not a URI authority: it opened nothing ("invalid uri authority").
func TestPathStartingWithTwoSlashes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.db")
	db := openTestDSN(t, "/"+p)
	mustExec(t, db, "CREATE TABLE t(x)")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the database is not at %s: %v", p, err)
	}
}
