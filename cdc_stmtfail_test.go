package libsql

import (
	"context"
	"testing"
)

// A statement that fails under ON CONFLICT FAIL keeps the changes it made
// before the failure, those of its triggers included (even when it changed
// no row itself); under ABORT (the default) they are undone. Either way
// the stream says what the database holds.
func TestCDCFailedStatementChanges(t *testing.T) {
	for _, path := range []string{"exec", "query"} {
		t.Run(path, func(t *testing.T) {
			db := openTestDB(t, "")
			mustExec(t, db, "CREATE TABLE u(x UNIQUE)")
			mustExec(t, db, "CREATE TABLE log(v)")
			mustExec(t, db, "CREATE TRIGGER tr BEFORE INSERT ON u BEGIN INSERT INTO log VALUES (new.x); END")
			mustExec(t, db, "INSERT INTO u VALUES (1)")
			s := stream(t, db, ChangeOptions{})
			c := dbConn(t, db)
			run := func(q string) error {
				if path == "exec" {
					_, err := c.ExecContext(context.Background(), q)
					return err
				}
				r, err := c.QueryContext(context.Background(), q+" RETURNING x")
				if err == nil {
					err = r.Close()
				}
				return err
			}
			cexec(t, c, "BEGIN")
			if err := run("INSERT OR FAIL INTO u VALUES (1)"); err == nil {
				t.Fatal("INSERT OR FAIL of a duplicate succeeded")
			}
			if err := run("INSERT INTO u VALUES (1)"); err == nil {
				t.Fatal("INSERT of a duplicate succeeded")
			}
			if err := run("INSERT OR FAIL INTO u VALUES (2), (1)"); err == nil {
				t.Fatal("INSERT OR FAIL of a duplicate succeeded")
			}
			cexec(t, c, "COMMIT")
			if n := count(t, db, "SELECT count(*) FROM log"); n != 4 {
				t.Fatalf("log has %d rows, want 4", n)
			}
			expectChanges(t, next(t, s, 4),
				"insert log rowid=2 new=[1] indirect",
				"insert log rowid=3 new=[2] indirect",
				"insert u rowid=2 new=[2]",
				"insert log rowid=4 new=[1] indirect",
			)
			noMore(t, s)
		})
	}
}
