package libsql

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// openTestDB opens a database of the test's own, in a file under
// t.TempDir() (or in memory for a dsn starting with ":memory:" or
// "file:...mode=memory"). query is appended to the DSN. At cleanup it checks
// PRAGMA integrity_check and closes the DB.
func openTestDB(t testing.TB, query string, opts ...Option) *sql.DB {
	t.Helper()
	dsn := "file:" + filepath.ToSlash(filepath.Join(t.TempDir(), "test.db"))
	if query != "" {
		dsn += "?" + query
	}
	return openTestDSN(t, dsn, opts...)
}

// openTestDSN is openTestDB for a DSN given whole.
func openTestDSN(t testing.TB, dsn string, opts ...Option) *sql.DB {
	t.Helper()
	db, err := Open(dsn, opts...)
	if err != nil {
		t.Fatalf("Open(%q): %v", dsn, err)
	}
	t.Cleanup(func() {
		checkIntegrity(t, db)
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

// checkIntegrity fails the test unless PRAGMA integrity_check says ok.
func checkIntegrity(t testing.TB, db *sql.DB) {
	t.Helper()
	rows, err := db.Query("PRAGMA integrity_check")
	if err != nil {
		t.Errorf("integrity_check: %v", err)
		return
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Errorf("integrity_check scan: %v", err)
			return
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Errorf("integrity_check rows: %v", err)
	}
	if len(out) != 1 || out[0] != "ok" {
		t.Errorf("integrity_check: %s", strings.Join(out, "; "))
	}
}

// mustExec runs a statement and fails the test if it fails.
func mustExec(t testing.TB, db interface {
	Exec(string, ...any) (sql.Result, error)
}, query string, args ...any) sql.Result {
	t.Helper()
	r, err := db.Exec(query, args...)
	if err != nil {
		t.Fatalf("Exec(%q): %v", query, err)
	}
	return r
}

// soak reports whether long-running tests are asked for (LIBSQL_SOAK=1).
func soak() bool { return os.Getenv("LIBSQL_SOAK") == "1" }

// scanAnyRow scans the current row of rows, of n columns, into a []any.
func scanAnyRow(t testing.TB, rows *sql.Rows, n int) []any {
	t.Helper()
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	return vals
}
