package libsql

import (
	"context"
	"path/filepath"
	"testing"
)

// A COMMIT refused for a deferred foreign-key violation leaves the
// transaction open; committed again once the data is fixed, its changes
// are stored once and streamed once, live and from disk (and likewise for
// a RELEASE that commits).
func TestCDCCommitRetriedAfterDeferredFK(t *testing.T) {
	for _, verb := range []string{"COMMIT", "RELEASE a"} {
		t.Run(verb, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "test.db")
			db := openClosable(t, file, "foreign_keys=on")
			mustExec(t, db, "CREATE TABLE p(id INTEGER PRIMARY KEY)")
			mustExec(t, db, "CREATE TABLE ch(id INTEGER PRIMARY KEY, pid REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED)")
			s := stream(t, db, ChangeOptions{})
			since := s.LSN()
			c := dbConn(t, db)
			if verb == "COMMIT" {
				cexec(t, c, "BEGIN")
			} else {
				cexec(t, c, "SAVEPOINT a")
			}
			cexec(t, c, "INSERT INTO ch VALUES (1, 7)")
			if _, err := c.ExecContext(context.Background(), verb); err == nil {
				t.Fatalf("%s with a dangling foreign key succeeded", verb)
			}
			cexec(t, c, "INSERT INTO p VALUES (7)")
			cexec(t, c, verb)
			want := []string{"insert ch rowid=1 new=[1 7]", "insert p rowid=7 new=[7]"}
			expectChanges(t, next(t, s, 2), want...)
			noMore(t, s)
			if n := count(t, db, "SELECT count(*) FROM libsql_cdc"); n != 1 {
				t.Fatalf("libsql_cdc has %d rows, want 1", n)
			}
			c.Close()
			closeChecked(t, db)
			expectChanges(t, resumed(t, file, since, 2), want...)
		})
	}
}

// With cdc=on the commit writes a libsql_cdc row, which must not show as
// the connection's last inserted rowid: after an autocommit INSERT, a
// COMMIT and a RELEASE that commits, last_insert_rowid() is the user's.
func TestCDCLastInsertRowIDKept(t *testing.T) {
	db := openTestDB(t, "cdc=on")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, x)")
	c := dbConn(t, db)
	ctx := context.Background()
	lastID := func() int64 {
		t.Helper()
		var id int64
		if err := c.QueryRowContext(ctx, "SELECT last_insert_rowid()").Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	r, err := c.ExecContext(ctx, "INSERT INTO t VALUES (10, 'a')")
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := r.LastInsertId(); id != 10 {
		t.Fatalf("LastInsertId = %d, want 10", id)
	}
	if id := lastID(); id != 10 {
		t.Fatalf("after an autocommit INSERT: last_insert_rowid() = %d, want 10", id)
	}
	cexec(t, c, "BEGIN")
	cexec(t, c, "INSERT INTO t VALUES (20, 'b')")
	cexec(t, c, "COMMIT")
	if id := lastID(); id != 20 {
		t.Fatalf("after COMMIT: last_insert_rowid() = %d, want 20", id)
	}
	cexec(t, c, "SAVEPOINT a")
	cexec(t, c, "INSERT INTO t VALUES (30, 'c')")
	cexec(t, c, "RELEASE a")
	if id := lastID(); id != 30 {
		t.Fatalf("after RELEASE: last_insert_rowid() = %d, want 30", id)
	}
}

// A transaction's commit time is one instant: the live stream and the
// durable log say the same.
func TestCDCCommitTimeLiveEqualsDurable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "test.db")
	db := openClosable(t, file, "")
	mustExec(t, db, "CREATE TABLE t(x)")
	s := stream(t, db, ChangeOptions{})
	since := s.LSN()
	mustExec(t, db, "INSERT INTO t VALUES (1)")
	c := dbConn(t, db)
	cexec(t, c, "BEGIN")
	cexec(t, c, "INSERT INTO t VALUES (2)")
	cexec(t, c, "COMMIT")
	live := next(t, s, 2)
	c.Close()
	closeChecked(t, db)
	durable := resumed(t, file, since, 2)
	for i := range live {
		if live[i].LSN != durable[i].LSN || !live[i].CommitTime.Equal(durable[i].CommitTime) {
			t.Errorf("change %d: live LSN %v at %v, durable LSN %v at %v", i, live[i].LSN, live[i].CommitTime, durable[i].LSN, durable[i].CommitTime)
		}
	}
}

// Nor does the libsql_cdc row count in changes() or total_changes().
func TestCDCChangesCountKept(t *testing.T) {
	db := openTestDB(t, "cdc=on")
	mustExec(t, db, "CREATE TABLE t(x)")
	c := dbConn(t, db)
	ctx := context.Background()
	counts := func() (n, total int) {
		t.Helper()
		if err := c.QueryRowContext(ctx, "SELECT changes(), total_changes()").Scan(&n, &total); err != nil {
			t.Fatal(err)
		}
		return n, total
	}
	cexec(t, c, "INSERT INTO t VALUES (1), (2), (3)")
	_, base := counts()
	r, err := c.ExecContext(ctx, "UPDATE t SET x = x + 1")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := r.RowsAffected(); n != 3 {
		t.Fatalf("RowsAffected = %d, want 3", n)
	}
	if n, total := counts(); n != 3 || total != base+3 {
		t.Fatalf("after an autocommit UPDATE: changes() = %d, total_changes() = %d, want 3, %d", n, total, base+3)
	}
	cexec(t, c, "BEGIN")
	cexec(t, c, "DELETE FROM t WHERE x > 2")
	cexec(t, c, "COMMIT")
	if n, total := counts(); n != 2 || total != base+5 {
		t.Fatalf("after COMMIT: changes() = %d, total_changes() = %d, want 2, %d", n, total, base+5)
	}
}
