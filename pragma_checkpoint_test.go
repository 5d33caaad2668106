package libsql

import (
	"context"
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
