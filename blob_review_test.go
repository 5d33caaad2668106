package libsql

import (
	"bytes"
	"encoding/json"
	"fmt"
	"context"
	"database/sql"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golibsql/libsql/changefeed"
)

// reviewDB opens a file database of the test's own with query appended.
func reviewDB(t *testing.T, name, query string, opts ...Option) (*sql.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	dsn := "file:" + filepath.ToSlash(path)
	if query != "" {
		dsn += "?" + query
	}
	return openTestDSN(t, dsn, opts...), path
}

// tryOpenBlob opens a blob on c through sql.Conn.Raw and returns the error.
func tryOpenBlob(c *sql.Conn, schema, table, column string, rowid int64, write bool) (*Blob, error) {
	var b *Blob
	err := c.Raw(func(dc any) error {
		var err error
		b, err = dc.(BlobOpener).OpenBlob(context.Background(), schema, table, column, rowid, write)
		return err
	})
	return b, err
}

func mustWriteAt(t *testing.T, b *Blob, p string, off int64) {
	t.Helper()
	if n, err := b.WriteAt([]byte(p), off); err != nil || n != len(p) {
		t.Fatalf("WriteAt(%q, %d): %d, %v", p, off, n, err)
	}
}

func textValue(t *testing.T, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, query string, args ...any) string {
	t.Helper()
	var v []byte
	if err := q.QueryRowContext(context.Background(), query, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return string(v)
}

// TestBlobReviewVirtualGeneratedColumn: README says a VIRTUAL generated
// column's value is always NULL in changes (the hook does not compute it).
// A blob write's UPDATE must say the same for old and new: otherwise the
// column seems to change from NULL to its value.
func TestBlobReviewVirtualGeneratedColumn(t *testing.T) {
	db, _ := reviewDB(t, "g.db", "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB, v GENERATED ALWAYS AS (hex(b)) VIRTUAL)")
	mustExec(t, db, "INSERT INTO t(id, b) VALUES (1, x'0000')")
	s := stream(t, db, ChangeOptions{})
	c := dbConn(t, db)
	mustExec(t, db, "UPDATE t SET b = x'0001' WHERE id = 1")
	b := openBlob(t, c, "t", "b", 1, true)
	mustWriteAt(t, b, "\x02", 1)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	got := next(t, s, 2)
	// The statement's UPDATE reports v as NULL (README); the blob's must too.
	if got[0].Old[2] != nil || got[0].New[2] != nil {
		t.Fatalf("statement UPDATE: %s (README says the VIRTUAL column is NULL)", describeChange(got[0]))
	}
	if got[1].Old[2] != nil || got[1].New[2] != nil {
		t.Fatalf("blob write's UPDATE reports the VIRTUAL column differently from every other change: %s", describeChange(got[1]))
	}
}

// TestBlobReviewSQLRollbackThenCloseReportsSuccess: an own-transaction
// blob whose transaction a statement on its connection rolled back (an
// INSERT OR ROLLBACK that fails) lost its writes: Close must not return
// nil (the doc: "its writes commit ... when Close returns nil").
func TestBlobReviewStatementRollbackThenCloseReportsSuccess(t *testing.T) {
	db, _ := reviewDB(t, "r.db", "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'aaaa'), (2, 'bbbb')")
	c := dbConn(t, db)
	b := openBlob(t, c, "t", "b", 1, true)
	mustWriteAt(t, b, "XX", 0)
	_, err := c.ExecContext(context.Background(), "INSERT OR ROLLBACK INTO t VALUES (2, 'dup')")
	if !errors.Is(err, ErrConstraint) {
		t.Fatalf("INSERT OR ROLLBACK of a duplicate: %v", err)
	}
	cerr := b.Close()
	got := string(blobValue(t, db, 1))
	t.Logf("Close: %v; row 1 %q", cerr, got)
	if cerr == nil && got != "XXaa" {
		t.Fatalf("Close returned nil but the blob's write is not in the database: row 1 = %q", got)
	}
}

// TestBlobReviewSQLRollbackThenBeginCloseCommitsOtherTx: after SQL ROLLBACK
// ended an own-transaction blob's transaction, a later SQL BEGIN opens
// the user's own transaction; the blob's Close must not commit it.
func TestBlobReviewSQLRollbackThenBeginCloseCommitsOtherTx(t *testing.T) {
	db, _ := reviewDB(t, "rb.db", "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'aaaa')")
	c := dbConn(t, db)
	b := openBlob(t, c, "t", "b", 1, true)
	mustWriteAt(t, b, "XX", 0)
	cexec(t, c, "ROLLBACK")
	cexec(t, c, "BEGIN")
	cexec(t, c, "INSERT INTO t VALUES (2, 'mine')")
	b.Close()
	// The user's transaction is still theirs: it must still be open, and
	// rolling it back must drop row 2.
	if _, err := c.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatalf("the user's ROLLBACK after the blob's Close: %v (Close ended the user's transaction)", err)
	}
	if n := count(t, db, "SELECT count(*) FROM t WHERE id = 2"); n != 0 {
		t.Fatalf("the blob's Close committed the transaction the user began with SQL after ROLLBACK")
	}
}

// TestBlobReviewReadSnapshot: a blob opened for reading outside a
// transaction holds its snapshot: another connection's commit is not
// seen through it.
func TestBlobReviewReadSnapshot(t *testing.T) {
	db, _ := reviewDB(t, "s.db", "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'aaaa')")
	c := dbConn(t, db)
	r := openBlob(t, c, "t", "b", 1, false)
	mustExec(t, db, "UPDATE t SET b = 'bbbb' WHERE id = 1")
	w := dbConn(t, db)
	wb := openBlob(t, w, "t", "b", 1, true)
	mustWriteAt(t, wb, "cc", 0)
	if err := wb.Close(); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 4)
	if _, err := r.ReadAt(p, 0); err != nil || string(p) != "aaaa" {
		t.Fatalf("read blob after other commits: %q, %v; want the snapshot's aaaa", p, err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if got := textValue(t, c, "SELECT b FROM t WHERE id = 1"); got != "ccbb" {
		t.Fatalf("after the read blob closed: %q", got)
	}
}

// TestBlobReviewDurableCDCWithoutCDCOn: a database with libsql_cdc opened
// without cdc=on may not be written (README): a blob write too, with
// ErrReadOnly.
func TestBlobReviewDurableCDCWithoutCDCOn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.db")
	on := openClosable(t, path, "")
	mustExec(t, on, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, on, "INSERT INTO t VALUES (1, 'aaaa')")
	closeChecked(t, on)
	plain := openTestDSN(t, "file:"+filepath.ToSlash(path))
	if _, err := plain.Exec("UPDATE t SET b = 'x' WHERE id = 1"); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("plain UPDATE: %v, want ErrReadOnly", err)
	}
	c := dbConn(t, plain)
	b, err := tryOpenBlob(c, "", "t", "b", 1, true)
	if err == nil {
		_, err = b.WriteAt([]byte("ZZ"), 0)
		if err == nil {
			err = b.Close()
		} else {
			b.Close()
		}
	}
	if !errors.Is(err, ErrReadOnly) {
		t.Fatalf("blob write without cdc=on: %v, want ErrReadOnly", err)
	}
	if got := string(blobValue(t, plain, 1)); got != "aaaa" {
		t.Fatalf("row 1 %q", got)
	}
}

// TestBlobReviewOtherVFS: blob I/O through a database opened WithVFS.
func TestBlobReviewOtherVFS(t *testing.T) {
	for _, vfs := range []string{"unix", "memdb"} {
		t.Run(vfs, func(t *testing.T) {
			var db *sql.DB
			if vfs == "memdb" {
				db = openTestDSN(t, "file:/blobreview.db", WithVFS("memdb"))
			} else {
				db, _ = reviewDB(t, "v.db", "", WithVFS(vfs))
			}
			db.SetMaxOpenConns(1)
			mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
			mustExec(t, db, "INSERT INTO t VALUES (1, zeroblob(100000))")
			c := dbConn(t, db)
			b := openBlob(t, c, "t", "b", 1, true)
			want := blobData(100000, 9)
			if _, err := b.Write(want); err != nil {
				t.Fatal(err)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			c.Close()
			if got := blobValue(t, db, 1); !bytes.Equal(got, want) {
				t.Fatal("the value differs")
			}
		})
	}
}

// TestBlobReviewTwoHandlesSameRow: two handles on the same row (two
// columns) write between statements: one UPDATE per flush, in order.
func TestBlobReviewTwoHandlesSameRow(t *testing.T) {
	db, _ := reviewDB(t, "two.db", "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB, c TEXT)")
	mustExec(t, db, "CREATE TABLE o(x)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'aaaa', 'cccc')")
	s := stream(t, db, ChangeOptions{})
	c := dbConn(t, db)
	cexec(t, c, "BEGIN")
	b1 := openBlob(t, c, "t", "b", 1, true)
	b2 := openBlob(t, c, "t", "c", 1, true)
	mustWriteAt(t, b1, "1", 0)
	mustWriteAt(t, b2, "2", 0)
	cexec(t, c, "INSERT INTO o VALUES (1)")
	mustWriteAt(t, b2, "3", 1)
	b1.Close()
	b2.Close()
	cexec(t, c, "COMMIT")
	expectChanges(t, next(t, s, 3),
		"update t rowid=1 old=[1 aaaa cccc] new=[1 1aaa 2ccc]",
		"insert o rowid=1 new=[1]",
		"update t rowid=1 old=[1 1aaa 2ccc] new=[1 1aaa 23cc]",
	)
	noMore(t, s)
}

// TestBlobReviewRowidColumnNames: tables whose columns take the rowid's
// names still capture blob writes.
func TestBlobReviewRowidColumnNames(t *testing.T) {
	db, _ := reviewDB(t, "rn.db", "")
	mustExec(t, db, "CREATE TABLE t(rowid TEXT, oid TEXT, b BLOB)")
	mustExec(t, db, "CREATE TABLE u(_rowid_ TEXT, rowid INT, oid INT, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES ('r', 'o', 'aaaa')")
	mustExec(t, db, "INSERT INTO u VALUES ('x', 5, 6, 'aaaa')")
	s := stream(t, db, ChangeOptions{})
	c := dbConn(t, db)
	b := openBlob(t, c, "t", "b", 1, true)
	mustWriteAt(t, b, "X", 0)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	expectChanges(t, next(t, s, 1), "update t rowid=1 old=[r o aaaa] new=[r o Xaaa]")
	b = openBlob(t, c, "u", "b", 1, true)
	mustWriteAt(t, b, "Y", 0)
	if err := b.Close(); err != nil {
		t.Fatalf("Close of a blob on a table whose columns hide every rowid name: %v", err)
	}
	expectChanges(t, next(t, s, 1), "update u rowid=1 old=[x 5 6 aaaa] new=[x 5 6 Yaaa]")
}

// TestBlobReviewRollbackToWhileOpen: ROLLBACK TO while the blob is still
// open forgets the writes since the savepoint; the handle is expired.
func TestBlobReviewRollbackToWhileOpen(t *testing.T) {
	for _, cdc := range []string{"off", "on"} {
		t.Run("cdc="+cdc, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sp.db")
			db := openClosable(t, path, "")
			if cdc == "off" {
				db.Close()
				db = openTestDSN(t, "file:"+filepath.ToSlash(filepath.Join(t.TempDir(), "sp2.db")))
			}
			mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
			mustExec(t, db, "INSERT INTO t VALUES (1, 'aaaa')")
			s := stream(t, db, ChangeOptions{})
			since := s.LSN()
			c := dbConn(t, db)
			cexec(t, c, "BEGIN")
			b := openBlob(t, c, "t", "b", 1, true)
			mustWriteAt(t, b, "1", 0)
			b.Close()
			cexec(t, c, "SAVEPOINT sp")
			b = openBlob(t, c, "t", "b", 1, true)
			mustWriteAt(t, b, "2", 1)
			cexec(t, c, "ROLLBACK TO sp")
			if _, err := b.WriteAt([]byte("3"), 2); err == nil {
				// A still-live handle: its write counts.
				t.Logf("handle survived ROLLBACK TO")
			}
			b.Close()
			cexec(t, c, "COMMIT")
			final := string(blobValue(t, db, 1))
			got := next(t, s, 1)
			noMore(t, s)
			if n := len(got); n != 1 || fmt.Sprint(got[0].New[1]) != final {
				t.Fatalf("stream %v, final value %q", describeChange(got[0]), final)
			}
			if cdc == "on" {
				s.Close()
				closeChecked(t, db)
				r := resumed(t, path, since, 1)
				if fmt.Sprint(r[0].New[1]) != final {
					t.Fatalf("durable %s, final %q", describeChange(r[0]), final)
				}
			}
		})
	}
}

var _ = io.EOF
var _ = strings.Contains
var _ = time.Second

// concRebased returns the rebased counter of PRAGMA libsql_stats.
func concRebased(t *testing.T, db *sql.DB) uint64 {
	t.Helper()
	var all struct {
		Concurrent struct{ Rebased, Merged uint64 } `json:"concurrent"`
	}
	if err := json.Unmarshal([]byte(engineStats(t, db)), &all); err != nil {
		t.Fatal(err)
	}
	return all.Concurrent.Rebased
}

// TestBlobReviewConcurrentRebaseStream: a BEGIN CONCURRENT transaction
// writes through blobs into an existing row and a new one, a statement
// follows, it is rebased; the final contents are a serial execution's and
// the stream (and durable log) see the blob writes as UPDATEs in order.
func TestBlobReviewConcurrentRebaseStream(t *testing.T) {
	for _, cdc := range []string{"off", "on"} {
		t.Run("cdc="+cdc, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cr.db")
			db := openClosable(t, path, "")
			if cdc == "off" {
				db.Close()
				path = filepath.Join(t.TempDir(), "cr2.db")
				db = openTestDSN(t, "file:"+filepath.ToSlash(path))
			}
			mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB, n INT)")
			mustExec(t, db, "CREATE TABLE bump(id INTEGER PRIMARY KEY, pad BLOB)")
			mustExec(t, db, "INSERT INTO t VALUES (1, 'aaaa', 1)")
			s := stream(t, db, ChangeOptions{})
			since := s.LSN()
			a, other := dbConn(t, db), dbConn(t, db)
			cexec(t, a, "BEGIN CONCURRENT")
			cexec(t, a, "INSERT INTO t VALUES (2, zeroblob(20000), 2)")
			b := openBlob(t, a, "t", "b", 1, true)
			mustWriteAt(t, b, "XY", 1)
			if err := b.Reopen(2); err != nil {
				t.Fatal(err)
			}
			mustWriteAt(t, b, "hello", 0)
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			cexec(t, a, "UPDATE t SET n = n + 10")
			cexec(t, other, "INSERT INTO bump VALUES (1, zeroblob(20000))")
			before := concRebased(t, db)
			cexec(t, a, "COMMIT")
			if got := concRebased(t, db); got != before+1 {
				t.Fatalf("not rebased (%d → %d)", before, got)
			}
			if got := textValue(t, db, "SELECT b FROM t WHERE id = 1"); got != "aXYa" {
				t.Fatalf("row 1 %q", got)
			}
			v := blobValue(t, db, 2)
			if string(v[:5]) != "hello" || len(v) != 20000 || bytes.Count(v, []byte{0}) != 20000-5 {
				t.Fatalf("row 2 %q... (%d bytes)", v[:8], len(v))
			}
			if n := count(t, db, "SELECT sum(n) FROM t"); n != 23 {
				t.Fatalf("sum(n) %d", n)
			}
			got := next(t, s, 5)
			var d []string
			for _, ch := range got {
				d = append(d, fmt.Sprintf("%s %s %d", ch.Op, ch.Table, ch.RowID))
			}
			want := "insert bump 1|insert t 2|update t 1|update t 2|update t 1"
			if strings.Join(d, "|") != want+"|update t 2" && strings.Join(d[:5], "|") != want {
				t.Fatalf("stream: %v", d)
			}
			if got[2].Old[1] != "aaaa" || got[2].New[1] != "aXYa" {
				t.Fatalf("blob UPDATE of row 1: %s", describeChange(got[2]))
			}
			if cdc == "on" {
				s.Close()
				closeChecked(t, db)
				r := resumed(t, path, since, 6)
				if r[2].Old[1] != "aaaa" || r[2].New[1] != "aXYa" {
					t.Fatalf("durable blob UPDATE of row 1: %s", describeChange(r[2]))
				}
			}
		})
	}
}

// TestBlobReviewConcurrentConflict: a concurrent transaction's blob write
// to a row another connection changed since its snapshot conflicts; the
// other's value stays.
func TestBlobReviewConcurrentConflict(t *testing.T) {
	db, _ := reviewDB(t, "cc.db", "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'aaaa')")
	a, other := dbConn(t, db), dbConn(t, db)
	cexec(t, a, "BEGIN CONCURRENT")
	b := openBlob(t, a, "t", "b", 1, true)
	mustWriteAt(t, b, "XX", 0)
	b.Close()
	cexec(t, other, "UPDATE t SET b = 'oooo' WHERE id = 1")
	if _, err := a.ExecContext(context.Background(), "COMMIT"); !errors.Is(err, ErrBusySnapshot) {
		t.Fatalf("COMMIT: %v, want ErrBusySnapshot", err)
	}
	if got := textValue(t, db, "SELECT b FROM t WHERE id = 1"); got != "oooo" {
		t.Fatalf("row 1 %q", got)
	}
}

// TestBlobReviewLevelConcurrentTx: a database/sql Tx at LevelConcurrent
// with a blob still open at Commit: the commit closes it, includes its
// writes, and is rebased when stale.
func TestBlobReviewLevelConcurrentTx(t *testing.T) {
	db, _ := reviewDB(t, "lc.db", "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "CREATE TABLE bump(id INTEGER PRIMARY KEY, pad BLOB)")
	s := stream(t, db, ChangeOptions{})
	c, other := dbConn(t, db), dbConn(t, db)
	tx, err := c.BeginTx(context.Background(), &sql.TxOptions{Isolation: LevelConcurrent})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO t VALUES (1, zeroblob(20000))"); err != nil {
		t.Fatal(err)
	}
	b := openBlob(t, c, "t", "b", 1, true)
	want := blobData(20000, 5)
	if _, err := b.Write(want); err != nil {
		t.Fatal(err)
	}
	cexec(t, other, "INSERT INTO bump VALUES (1, zeroblob(20000))")
	before := concRebased(t, db)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := concRebased(t, db); got != before+1 {
		t.Fatalf("not rebased")
	}
	if _, err := b.Write([]byte("x")); !errors.Is(err, ErrBlobClosed) {
		t.Fatalf("Write after Commit: %v", err)
	}
	if got := blobValue(t, db, 1); !bytes.Equal(got, want) {
		t.Fatal("row 1 differs from the blob's writes")
	}
	got := next(t, s, 3)
	if got[2].Op != changefeed.Update || !bytes.Equal(got[2].New[1].([]byte), want) {
		t.Fatalf("stream: %s", describeChange(got[2]))
	}
	noMore(t, s)
}

// TestBlobReviewConcurrentSQLCommitWhileOpen: SQL COMMIT of a concurrent
// transaction with a written blob still open: refused (as for a plain
// transaction) or committed with the writes; never committed without
// them, never losing the transaction silently.
func TestBlobReviewConcurrentSQLCommitWhileOpen(t *testing.T) {
	db, _ := reviewDB(t, "cso.db", "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'aaaa')")
	c := dbConn(t, db)
	cexec(t, c, "BEGIN CONCURRENT")
	cexec(t, c, "INSERT INTO t VALUES (2, 'bbbb')")
	b := openBlob(t, c, "t", "b", 1, true)
	mustWriteAt(t, b, "X", 0)
	_, err := c.ExecContext(context.Background(), "COMMIT")
	t.Logf("COMMIT with the blob open: %v", err)
	cerr := b.Close()
	t.Logf("Close: %v", cerr)
	if err != nil {
		// Refused: the transaction must still be open, as a plain
		// transaction's is after SQLite's refusal.
		if _, err2 := c.ExecContext(context.Background(), "COMMIT"); err2 != nil {
			t.Fatalf("COMMIT after the refused one and Close: %v (the refused COMMIT rolled the transaction back)", err2)
		}
	}
	if got := textValue(t, db, "SELECT group_concat(b, ',') FROM t"); got != "Xaaa,bbbb" {
		t.Fatalf("t holds %q", got)
	}
}
