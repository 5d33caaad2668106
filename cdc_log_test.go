package libsql

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golibsql/libsql/changefeed"
	iouringvfs "github.com/golibsql/libsql/iouring_vfs"
)

// The row changes a transaction captures while the database's changes are
// captured live in a changeLog (cdc_log.go): a temporary file of the VFS,
// on disk past its bounds. These tests lower the bounds (spillBounds) so
// that the 2.4 MB of changes of cdcLogScript move to disk, and compare
// what is stored and streamed with the same transaction captured in
// memory.

const cdcLogSchema = `CREATE TABLE a(id INTEGER PRIMARY KEY, v TEXT, n INTEGER, r REAL, b BLOB);
CREATE TABLE w(k1 TEXT, k2 INTEGER, v TEXT, PRIMARY KEY (k1, k2)) WITHOUT ROWID;
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i<1000)
  INSERT INTO a SELECT i, printf('%.1000d', i), i, i / 3.0, CAST(printf('%.50d', i) AS BLOB) FROM s;
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i<200)
  INSERT INTO w SELECT 'k' || (i % 7), i, printf('%.20d', i) FROM s`

// cdcLogScript is one transaction: updates, deletes, a savepoint rolled
// back, key changes of a WITHOUT ROWID table, inserts, and edge values.
var cdcLogScript = []string{
	"UPDATE a SET v = v || 'u', n = n + 1, r = NULL WHERE id % 2 = 0",
	"DELETE FROM a WHERE id % 3 = 0",
	"SAVEPOINT s",
	"WITH RECURSIVE s(i) AS (SELECT 2001 UNION ALL SELECT i+1 FROM s WHERE i<3000) INSERT INTO a(id, v) SELECT i, printf('%.1000d', i) FROM s",
	"UPDATE w SET v = 'x'",
	"ROLLBACK TO s",
	"RELEASE s",
	"UPDATE w SET k2 = k2 + 1000, v = v || '!' WHERE k2 % 2 = 0",
	"WITH RECURSIVE s(i) AS (SELECT 4001 UNION ALL SELECT i+1 FROM s WHERE i<5000) INSERT INTO a(id, v, b) SELECT i, printf('%.1000d', i), zeroblob(i % 5) FROM s",
	"INSERT INTO a(id, v, n, r, b) VALUES (9999, '', NULL, -0.5e300, x'')",
}

// cdcLogRun sets db up and runs cdcLogScript in one transaction on a
// connection of its own.
func cdcLogRun(t *testing.T, db *sql.DB) {
	t.Helper()
	mustExec(t, db, cdcLogSchema)
	c := dbConn(t, db)
	cexec(t, c, "BEGIN")
	for _, q := range cdcLogScript {
		cexec(t, c, q)
	}
	cexec(t, c, "COMMIT")
}

// cdcChange is what a change says, without where it sits in the history.
type cdcChange struct {
	Table         string
	Op            changefeed.Op
	RowID         int64
	PK, Old, New  []any
	Columns       []string
	Indirect      bool
	Index         int
	LSNOfTheTxSet bool
}

func cdcChanges(changes []changefeed.Change) []cdcChange {
	out := make([]cdcChange, len(changes))
	for i, c := range changes {
		out[i] = cdcChange{c.Table, c.Op, c.RowID, c.PK, c.Old, c.New, c.Columns, c.Indirect, c.Index, c.LSN != 0}
	}
	return out
}

// cdcLastStored returns the newest transaction in db's libsql_cdc.
func cdcLastStored(t *testing.T, db *sql.DB) *changefeed.Tx {
	t.Helper()
	var blob []byte
	if err := db.QueryRow("SELECT changes FROM libsql_cdc ORDER BY lsn DESC LIMIT 1").Scan(&blob); err != nil {
		t.Fatal(err)
	}
	tx, err := changefeed.DecodeTx(blob)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// cdcSame fails the test unless got and want are the same changes.
func cdcSame(t *testing.T, what string, got, want []changefeed.Change) {
	t.Helper()
	g, w := cdcChanges(got), cdcChanges(want)
	if len(g) != len(w) {
		t.Fatalf("%s: %d changes, want %d", what, len(g), len(w))
	}
	for i := range w {
		if !reflect.DeepEqual(g[i], w[i]) {
			t.Fatalf("%s: change %d is\n%+v\nwant\n%+v", what, i, g[i], w[i])
		}
	}
}

// cdcRead reads n changes from s.
func cdcRead(t *testing.T, s *ChangeStream, n int) []changefeed.Change {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := make([]changefeed.Change, 0, n)
	for len(out) < n {
		c, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("after %d of %d changes: %v", len(out), n, err)
		}
		out = append(out, c)
	}
	return out
}

// TestCDCCaptureOnDisk: with cdc=on, a transaction whose captured changes
// moved to disk stores and streams exactly the changes it stores when
// they stay in memory; with no stream open, it is published without them
// (cdc_elided), and a stream opened afterwards reads them from libsql_cdc.
func TestCDCCaptureOnDisk(t *testing.T) {
	ref := openTestDB(t, "cdc=on")
	cdcLogRun(t, ref)
	want := cdcLastStored(t, ref).Changes
	if len(want) < 1500 {
		t.Fatalf("the script made %d changes: the test checks less than it means to", len(want))
	}

	spillBounds(t)
	var end atomic.Int64
	t.Cleanup(iouringvfs.SetTempDiskForTesting(func(f *os.File) iouringvfs.TempDisk {
		return &spillDisk{File: f, end: &end}
	}))

	t.Run("streamed", func(t *testing.T) {
		end.Store(0)
		db := openTestDB(t, "cdc=on")
		s, err := Changes(context.Background(), db, ChangeOptions{Tables: []string{"a", "w"}, Buffer: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		elided := spillStat(t, db, "cdc_elided")
		cdcLogRun(t, db)
		stored := cdcLastStored(t, db)
		cdcSame(t, "stored", stored.Changes, want)
		if e := end.Load(); e < 2<<20 {
			t.Fatalf("the temporary files on disk took at most %d bytes, want the 2.4 MB of captured changes", e)
		}
		if n := spillStat(t, db, "cdc_elided") - elided; n != 0 {
			t.Fatalf("%d transactions published without their changes while a stream was open", n)
		}
		var got []changefeed.Change
		for _, c := range cdcRead(t, s, 1000+200+len(want)) {
			if c.LSN == stored.LSN {
				got = append(got, c)
			}
		}
		cdcSame(t, "streamed", got, want)
	})

	t.Run("elided", func(t *testing.T) {
		db := openTestDB(t, "cdc=on")
		mustExec(t, db, "CREATE TABLE before(x); INSERT INTO before VALUES (1)")
		var since int64
		if err := db.QueryRow("SELECT max(lsn) FROM libsql_cdc").Scan(&since); err != nil {
			t.Fatal(err)
		}
		elided := spillStat(t, db, "cdc_elided")
		cdcLogRun(t, db)
		if n := spillStat(t, db, "cdc_elided") - elided; n < 1 {
			t.Fatalf("%d transactions published without their changes, want the script's at least", n)
		}
		stored := cdcLastStored(t, db)
		s, err := Changes(context.Background(), db, ChangeOptions{Since: changefeed.LSN(since)})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var got []changefeed.Change
		for _, c := range cdcRead(t, s, 1000+200+len(want)) {
			if c.LSN == stored.LSN {
				got = append(got, c)
			}
		}
		cdcSame(t, "read from libsql_cdc", got, want)
	})
}

// TestCDCCaptureDiskFaults: with cdc=on, a transaction whose changes
// cannot be kept (a full disk) or read back (an I/O error) fails to
// commit, in a transaction or in autocommit mode, and changes nothing: no
// row, no stored change. The connection goes on.
func TestCDCCaptureDiskFaults(t *testing.T) {
	for _, tc := range []struct {
		name       string
		werr, rerr error
		want       string
	}{
		{"write", syscall.ENOSPC, nil, "no space left"},
		{"read", nil, syscall.EIO, "input/output error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spillBounds(t)
			db, _ := spillDB(t, "cdc=on")
			t.Cleanup(iouringvfs.SetTempDiskForTesting(func(f *os.File) iouringvfs.TempDisk {
				return &spillDisk{File: f, werr: tc.werr, rerr: tc.rerr}
			}))
			state := func() string {
				var s string
				if err := db.QueryRow("SELECT (SELECT count(*) FROM a) || ' ' || (SELECT count(*) || '/' || max(lsn) FROM libsql_cdc)").Scan(&s); err != nil {
					t.Fatal(err)
				}
				return s
			}
			before := state()
			big := spillFill("a", 2001, 6000) // 4 MB of changes: past spillFaultAt
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(big); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Commit: %v, want an error saying %q", err, tc.want)
			}
			if _, err := db.Exec(big); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("autocommit: %v, want an error saying %q", err, tc.want)
			}
			if after := state(); after != before {
				t.Fatalf("the failed commits changed the database: %q, was %q", after, before)
			}
			mustExec(t, db, "INSERT INTO a(id, v, n) VALUES (9901, 'after', 0)")
			if tx := cdcLastStored(t, db); len(tx.Changes) != 1 || tx.Changes[0].RowID != 9901 {
				t.Fatalf("the next transaction stored %d changes, want its insert", len(tx.Changes))
			}
		})
	}
}

// TestCDCCaptureLostStream: without cdc=on, a transaction whose changes a
// stream would read but cannot be kept commits (nothing durable depends on
// them), and the stream says it lost them, as a stream that fell behind
// does, after the changes before.
func TestCDCCaptureLostStream(t *testing.T) {
	db, _ := spillSetup(t)
	s, err := Changes(context.Background(), db, ChangeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustExec(t, db, "INSERT INTO b VALUES (1, 'kept', 1)")
	t.Cleanup(iouringvfs.SetTempDiskForTesting(func(f *os.File) iouringvfs.TempDisk {
		return &spillDisk{File: f, werr: syscall.ENOSPC}
	}))
	mustExec(t, db, spillFill("a", 2001, 6000))
	if n := count(t, db, "SELECT count(*) FROM a"); n != 5000 {
		t.Fatalf("table a has %d rows, want 5000", n)
	}
	if c := cdcRead(t, s, 1); c[0].Table != "b" {
		t.Fatalf("first change %+v, want the insert into b", c[0])
	}
	_, err = s.Next(context.Background())
	if !errors.Is(err, ErrStreamLagged) {
		t.Fatalf("Next after the lost transaction: %v, want ErrStreamLagged", err)
	}
}

// TestCDCCapturePanic: a panic while capturing a change (here the disk the
// changes move to panics) fails the commit with cdc=on, rather than
// storing the transaction without that change.
func TestCDCCapturePanic(t *testing.T) {
	spillBounds(t)
	db, _ := spillDB(t, "cdc=on")
	t.Cleanup(iouringvfs.SetTempDiskForTesting(func(f *os.File) iouringvfs.TempDisk {
		f.Close()
		panic("no disk here")
	}))
	_, err := db.Exec(spillFill("a", 2001, 3000))
	if err == nil || !strings.Contains(err.Error(), "panic: no disk here") {
		t.Fatalf("autocommit insert: %v, want the panic reported", err)
	}
	if n := count(t, db, "SELECT count(*) FROM a"); n != 1000 {
		t.Fatalf("table a has %d rows, want the 1000 from before", n)
	}
}

// TestCDCCaptureLostBeforeRecorded: a change lost before anything of it
// was recorded (a panic while it was encoded) fails the transaction it
// belongs to, even when it is its only change, and only that: rolled back
// to a savepoint taken before it, it no longer counts; one taken after it
// does not undo it. A stream without cdc=on learns it lost the transaction.
func TestCDCCaptureLostBeforeRecorded(t *testing.T) {
	defer func() { testHookCapture = nil }()
	testHookCapture = func(table string) {
		if table == "boom" {
			panic("lost in encoding")
		}
	}
	db := openTestDB(t, "cdc=on")
	mustExec(t, db, "CREATE TABLE boom(x); CREATE TABLE ok(x)")
	stored := func() int { return count(t, db, "SELECT count(*) FROM libsql_cdc") }
	n0 := stored()
	if _, err := db.Exec("INSERT INTO boom VALUES (1)"); err == nil || !strings.Contains(err.Error(), "lost in encoding") {
		t.Fatalf("autocommit insert whose change was lost: %v, want the panic reported", err)
	}
	if n := count(t, db, "SELECT count(*) FROM boom"); n != 0 || stored() != n0 {
		t.Fatalf("the failed insert left %d rows and %d stored transactions (%d before)", n, stored(), n0)
	}

	c := dbConn(t, db)
	cexec(t, c, "BEGIN")
	cexec(t, c, "SAVEPOINT s")
	cexec(t, c, "INSERT INTO boom VALUES (2)")
	cexec(t, c, "ROLLBACK TO s")
	cexec(t, c, "INSERT INTO ok VALUES (2)")
	cexec(t, c, "COMMIT")
	if tx := cdcLastStored(t, db); len(tx.Changes) != 1 || tx.Changes[0].Table != "ok" {
		t.Fatalf("after the lost change was rolled back: stored %+v, want the insert into ok alone", tx.Changes)
	}

	cexec(t, c, "BEGIN")
	cexec(t, c, "INSERT INTO boom VALUES (3)")
	cexec(t, c, "SAVEPOINT s")
	cexec(t, c, "ROLLBACK TO s")
	cexec(t, c, "RELEASE s")
	if _, err := c.ExecContext(context.Background(), "COMMIT"); err == nil {
		t.Fatal("COMMIT of a transaction that lost a change before its savepoint succeeded")
	}
	cexec(t, c, "ROLLBACK")

	plain := openTestDB(t, "")
	mustExec(t, plain, "CREATE TABLE boom(x)")
	s, err := Changes(context.Background(), plain, ChangeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustExec(t, plain, "INSERT INTO boom VALUES (4)")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.Next(ctx); !errors.Is(err, ErrStreamLagged) {
		t.Fatalf("stream after a lost change: %v, want ErrStreamLagged", err)
	}
}
