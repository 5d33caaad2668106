package libsql

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLogRestartsUnderOverlappingTransactions is the regression test for a
// log that grew for as long as BEGIN CONCURRENT transactions overlapped:
// a restart needed a moment with no snapshot older than the newest commit,
// and two connections that always have a transaction open never give one.
// The log now restarts anyway, keeping in memory what the older snapshots
// read (wal.Log.RestartRetaining).
func TestLogRestartsUnderOverlappingTransactions(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "PRAGMA wal_autocheckpoint=20")
	mustExec(t, db, "CREATE TABLE a(id INTEGER PRIMARY KEY, v TEXT)")
	mustExec(t, db, "CREATE TABLE b(id INTEGER PRIMARY KEY, v TEXT)")
	ca, cb := dbConn(t, db), dbConn(t, db)
	// Leapfrog: each commit happens while the other connection's
	// transaction, begun before it, is still open.
	cexec(t, ca, "BEGIN CONCURRENT")
	cexec(t, ca, "INSERT INTO a(v) VALUES ('a0')")
	const rounds = 400
	for i := range rounds {
		cexec(t, cb, "BEGIN CONCURRENT")
		cexec(t, cb, "INSERT INTO b(v) VALUES (?)", fmt.Sprint("b", i))
		cexec(t, ca, "COMMIT")
		cexec(t, ca, "BEGIN CONCURRENT")
		cexec(t, ca, "INSERT INTO a(v) VALUES (?)", fmt.Sprint("a", i+1))
		cexec(t, cb, "COMMIT")
	}
	cexec(t, ca, "COMMIT")
	if n := count(t, db, "SELECT count(*) FROM a"); n != rounds+1 {
		t.Errorf("table a has %d rows, want %d", n, rounds+1)
	}
	if n := count(t, db, "SELECT count(*) FROM b"); n != rounds {
		t.Errorf("table b has %d rows, want %d", n, rounds)
	}
	st := logStats(t, db)
	t.Logf("after %d overlapping commits: %d log frames, %d restarts", 2*rounds+1, st.Frames, st.Restarts)
	// Every commit writes at least two pages; the checkpointer restarts
	// the log once it holds 4 × wal_autocheckpoint frames.
	if st.Restarts == 0 || st.Frames > 400 {
		t.Errorf("log_frames %d, log_restarts %d: the log did not restart under overlapping transactions", st.Frames, st.Restarts)
	}
}

// TestLogRestartKeepsOldSnapshots restarts the log while a read
// transaction and a BEGIN CONCURRENT transaction hold snapshots older than
// commits that grew, rewrote and then shrank the database: the reader
// still sees its snapshot, and the concurrent transaction still conflicts
// on what changed since it read.
func TestLogRestartKeepsOldSnapshots(t *testing.T) {
	path := "file:" + filepath.ToSlash(filepath.Join(t.TempDir(), "test.db"))
	db := openTestDSN(t, path)
	mustExec(t, db, "PRAGMA auto_vacuum=FULL") // a DELETE shrinks the file
	mustExec(t, db, "PRAGMA wal_autocheckpoint=20")
	mustExec(t, db, "CREATE TABLE a(id INTEGER PRIMARY KEY, v TEXT)")
	mustExec(t, db, "CREATE TABLE b(id INTEGER PRIMARY KEY, v TEXT)")
	mustExec(t, db, "CREATE TABLE c(id INTEGER PRIMARY KEY, v TEXT)")
	for i := range 50 {
		mustExec(t, db, "INSERT INTO b(v) VALUES (?)", fmt.Sprintf("%0500d", i))
	}
	const sum = "SELECT count(*) || '/' || total(length(v)) || '/' || total(id) FROM b"
	want := ""
	conc := dbConn(t, db)
	if err := db.QueryRow(sum).Scan(&want); err != nil {
		t.Fatal(err)
	}
	// The reader's snapshot is taken before the changes, but it reads b's
	// pages only after the restart, on a connection that never read them
	// before (SQLite would serve them from its own cache).
	reader := dbConn(t, openTestDSN(t, path))
	cexec(t, reader, "BEGIN")
	count(t, reader, "SELECT count(*) FROM a")
	cexec(t, conc, "BEGIN CONCURRENT")
	count(t, conc, "SELECT count(*) FROM b")
	before := logStats(t, db).Restarts

	for i := range 300 {
		mustExec(t, db, "INSERT INTO b(v) VALUES (?)", fmt.Sprintf("%0900d", i))
	}
	pages := count(t, db, "PRAGMA page_count")
	mustExec(t, db, "DELETE FROM b")
	if after := count(t, db, "PRAGMA page_count"); after >= pages/2 {
		t.Fatalf("the database shrank from %d pages to only %d", pages, after)
	}
	for deadline := time.Now().Add(10 * time.Second); logStats(t, db).Restarts == before; {
		if time.Now().After(deadline) {
			t.Fatal("the log never restarted while the old snapshots were open")
		}
		mustExec(t, db, "INSERT INTO c(v) VALUES ('tick')")
	}

	var got string
	if err := reader.QueryRowContext(t.Context(), sum).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("old snapshot after the restart reads %s, want %s", got, want)
	}
	var rows int
	if err := reader.QueryRowContext(t.Context(), "SELECT count(*) FROM b WHERE length(v) = 500").Scan(&rows); err != nil || rows != 50 {
		t.Errorf("old snapshot after the restart: %d rows of the original 50 (%v)", rows, err)
	}
	cexec(t, reader, "COMMIT")

	cexec(t, conc, "INSERT INTO a(v) VALUES ('late')")
	_, err := conc.ExecContext(t.Context(), "COMMIT")
	if !errors.Is(err, ErrBusySnapshot) || !strings.Contains(err.Error(), "table b") {
		t.Errorf("COMMIT of a concurrent transaction that read b before b changed and the log restarted: %v, want ErrBusySnapshot naming table b", err)
	}
	if n := count(t, db, "SELECT count(*) FROM b"); n != 0 {
		t.Errorf("b has %d rows, want 0", n)
	}
}

// logStats returns the log's counters from PRAGMA libsql_stats.
func logStats(t *testing.T, db *sql.DB) (st struct {
	Frames   int `json:"log_frames"`
	Restarts int `json:"log_restarts"`
}) {
	t.Helper()
	if err := json.Unmarshal([]byte(engineStats(t, db)), &st); err != nil {
		t.Fatal(err)
	}
	return st
}
