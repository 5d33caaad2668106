package libsql

import "testing"

// An application's own table named libsql_cdc that has durable CDC's
// columns and more is not durable CDC's table: a connection without
// cdc=on writes the database as usual (hasCDCTable compares the whole
// column list, not only the columns durable CDC has).
func TestCDCTableWithExtraColumnIsTheApplications(t *testing.T) {
	dir := t.TempDir()
	dsn := crvDSN(dir, "x.db", "")
	db := crvOpen(t, dsn)
	mustExec(t, db, "CREATE TABLE libsql_cdc(lsn INTEGER PRIMARY KEY, time INTEGER NOT NULL, changes BLOB NOT NULL, note TEXT)")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = crvOpen(t, dsn)
	mustExec(t, db, "INSERT INTO libsql_cdc(time, changes, note) VALUES (1, x'00', 'mine')")
	mustExec(t, db, "CREATE TABLE t(x)")
	mustExec(t, db, "INSERT INTO t VALUES (1)")
}
