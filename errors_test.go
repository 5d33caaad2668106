package libsql

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golibsql/libsql/internal/capi"
)

func TestConstraintErrorsCarryCodesAndName(t *testing.T) {
	db := openTestDB(t, "foreign_keys=on")
	mustExec(t, db, `CREATE TABLE p(id INTEGER PRIMARY KEY);
		CREATE TABLE c(id INTEGER PRIMARY KEY, email TEXT UNIQUE, n INT NOT NULL DEFAULT 0 CHECK (n >= 0),
			p INT REFERENCES p(id))`)
	mustExec(t, db, "INSERT INTO c(id, email) VALUES (1, 'a@x')")
	tests := []struct {
		query string
		ext   ExtendedErrorCode
		msg   string
	}{
		{"INSERT INTO c(email) VALUES ('a@x')", CONSTRAINT_UNIQUE, "UNIQUE constraint failed: c.email"},
		{"INSERT INTO c(id) VALUES (1)", CONSTRAINT_PRIMARYKEY, "UNIQUE constraint failed: c.id"},
		{"INSERT INTO c(n) VALUES (NULL)", CONSTRAINT_NOTNULL, "NOT NULL constraint failed: c.n"},
		{"INSERT INTO c(n) VALUES (-1)", CONSTRAINT_CHECK, "CHECK constraint failed"},
		{"INSERT INTO c(p) VALUES (99)", CONSTRAINT_FOREIGNKEY, "FOREIGN KEY constraint failed"},
	}
	for _, tt := range tests {
		_, err := db.Exec(tt.query)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%s: err %v is not an *Error", tt.query, err)
			continue
		}
		if e.Code() != CONSTRAINT || e.ExtendedCode() != tt.ext || e.ExtendedCode().Code() != CONSTRAINT {
			t.Errorf("%s: codes %v/%v, want %v/%v", tt.query, e.Code(), e.ExtendedCode(), CONSTRAINT, tt.ext)
		}
		if !errors.Is(err, ErrConstraint) || errors.Is(err, ErrBusy) {
			t.Errorf("%s: errors.Is wrong for %v", tt.query, err)
		}
		if !strings.Contains(err.Error(), tt.msg) || !strings.HasPrefix(err.Error(), "libsql: ") ||
			!strings.HasSuffix(err.Error(), "("+tt.ext.String()+")") {
			t.Errorf("%s: message %q", tt.query, err)
		}
	}
}

func TestSentinelsMatchByPrimaryOrExtendedCode(t *testing.T) {
	snapshot := &Error{code: BUSY_SNAPSHOT}
	if !errors.Is(snapshot, ErrBusy) || !errors.Is(snapshot, ErrBusySnapshot) {
		t.Error("SQLITE_BUSY_SNAPSHOT must match ErrBusy and ErrBusySnapshot")
	}
	busy := &Error{code: ExtendedErrorCode(BUSY)}
	if !errors.Is(busy, ErrBusy) || errors.Is(busy, ErrBusySnapshot) {
		t.Error("plain SQLITE_BUSY must match ErrBusy only")
	}
	for _, s := range []*Error{ErrBusy, ErrBusySnapshot, ErrLocked, ErrConstraint, ErrReadOnly, ErrInterrupted} {
		if !errors.Is(s, s) || s.Error() == "" {
			t.Errorf("sentinel %v", s)
		}
	}
	if errors.Is(ErrLocked, ErrBusy) || errors.Is(ErrReadOnly, ErrConstraint) {
		t.Error("sentinels of different codes match")
	}
	if BUSY.String() != "SQLITE_BUSY" || BUSY_SNAPSHOT.String() != "SQLITE_BUSY_SNAPSHOT" {
		t.Errorf("names: %v %v", BUSY, BUSY_SNAPSHOT)
	}
	cause := errors.New("disk on fire")
	wrapped := convertError(&capi.Error{Code: capi.IOERR_WRITE, Msg: "disk I/O error", Cause: cause})
	if !errors.Is(wrapped, cause) {
		t.Error("Unwrap does not reach the Go cause")
	}
}

func TestReadOnlyDatabaseGivesErrReadOnly(t *testing.T) {
	dir := t.TempDir()
	rw := openTestDSN(t, "file:"+dir+"/ro.db")
	mustExec(t, rw, "CREATE TABLE t(x)")
	ro := openTestDSN(t, "file:"+dir+"/ro.db?mode=ro")
	_, err := ro.Exec("INSERT INTO t VALUES (1)")
	if !errors.Is(err, ErrReadOnly) {
		t.Errorf("err = %v, want ErrReadOnly", err)
	}
	var n int
	if err := ro.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Errorf("reading a read-only database: %v", err)
	}
}

func TestModeRWRefusesMissingFile(t *testing.T) {
	db, err := Open("file:" + t.TempDir() + "/missing.db?mode=rw")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Ping()
	var e *Error
	if !errors.As(err, &e) || e.Code() != CANTOPEN {
		t.Errorf("err = %v, want SQLITE_CANTOPEN", err)
	}
}

func TestDroppingATableInUseGivesErrLocked(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(x); INSERT INTO t VALUES (1), (2)")
	ctx := context.Background()
	sc, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	rows, err := sc.QueryContext(ctx, "SELECT x FROM t")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	rows.Next()
	err = sc.Raw(func(dc any) error {
		// database/sql refuses a second statement on a Conn with open
		// rows, so go to the driver connection.
		_, err := dc.(*conn).ExecContext(ctx, "DROP TABLE t", nil)
		return err
	})
	if !errors.Is(err, ErrLocked) {
		t.Errorf("err = %v, want ErrLocked", err)
	}
}

func TestInterruptFromAnotherGoroutineGivesErrInterrupted(t *testing.T) {
	db := openTestDB(t, "")
	ctx := context.Background()
	sc, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	var cc *capi.Conn
	sc.Raw(func(dc any) error { cc = dc.(*conn).Raw(); return nil })
	done := make(chan error)
	go func() {
		var n int64
		done <- sc.QueryRowContext(ctx, infiniteCount).Scan(&n)
	}()
	// An interrupt that arrives before the statement starts is dropped by
	// SQLite, so keep interrupting until the query ends.
	var err2 error
	deadline := time.After(10 * time.Second)
wait:
	for {
		cc.Interrupt()
		select {
		case err2 = <-done:
			break wait
		case <-deadline:
			t.Fatal("the query was not interrupted")
		case <-time.After(5 * time.Millisecond):
		}
	}
	if !errors.Is(err2, ErrInterrupted) {
		t.Errorf("err = %v, want ErrInterrupted", err2)
	}
}

// Errors that start in the storage engine (a refused PRAGMA, the writer
// lock's timeout, a write to a read-only database) say "libsql: " once, at
// the start, like every error of the driver, and their cause once.
func TestEngineErrorsSayLibsqlOnce(t *testing.T) {
	dir := t.TempDir()
	db := openTestDSN(t, "file:"+dir+"/e.db?busy_timeout=0")
	mustExec(t, db, "CREATE TABLE t(x)")
	ro := openTestDSN(t, "file:"+dir+"/e.db?mode=ro")
	ctx := context.Background()
	holder, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := holder.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer holder.ExecContext(ctx, "ROLLBACK")
	for _, c := range []struct {
		what string
		err  func() error
	}{
		{"journal_mode=delete", func() error { _, err := db.Exec("PRAGMA journal_mode=delete"); return err }},
		{"locking_mode=exclusive", func() error { _, err := db.Exec("PRAGMA locking_mode=exclusive"); return err }},
		{"a second writer", func() error { _, err := db.Exec("INSERT INTO t VALUES (1)"); return err }},
		{"a write to a read-only database", func() error { _, err := ro.Exec("INSERT INTO t VALUES (1)"); return err }},
		{"wal_checkpoint(FULL) in its own write transaction", func() error {
			_, err := holder.ExecContext(ctx, "PRAGMA wal_checkpoint(FULL)")
			return err
		}},
	} {
		err := c.err()
		if err == nil {
			t.Fatalf("%s: no error", c.what)
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "libsql: ") || strings.Count(msg, "libsql: ") != 1 {
			t.Errorf("%s: %q says \"libsql: \" %d times", c.what, msg, strings.Count(msg, "libsql: "))
		}
		var e *Error
		if errors.As(err, &e) {
			if cause := errors.Unwrap(e); cause != nil && strings.Count(err.Error(), cause.Error()) > 1 {
				t.Errorf("%s: %q says its cause twice", c.what, err.Error())
			}
		}
	}
}
