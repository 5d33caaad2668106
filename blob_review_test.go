package libsql

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
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

// TestBlobReviewGeneratedColumnsRefused (passes): SQLite refuses a blob
// on a table with generated columns; the error names the table and the
// failed open leaves no transaction.
func TestBlobReviewGeneratedColumnsRefused(t *testing.T) {
	db, _ := reviewDB(t, "g.db", "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB, v GENERATED ALWAYS AS (hex(b)) VIRTUAL)")
	mustExec(t, db, "INSERT INTO t(id, b) VALUES (1, x'0000')")
	c := dbConn(t, db)
	if _, err := tryOpenBlob(c, "", "t", "b", 1, true); err == nil || !strings.Contains(err.Error(), "generated") || !strings.Contains(err.Error(), "main.t.b of row 1") {
		t.Fatalf("OpenBlob on a table with generated columns: %v", err)
	}
	cexec(t, c, "BEGIN")
	cexec(t, c, "COMMIT")
}

// TestBlobReviewStatementRollbackCloseFails (passes): an own-transaction
// blob whose transaction a statement on its connection rolled back (an
// INSERT OR ROLLBACK that fails) lost its writes: Close must not return
// nil (the doc: "its writes commit ... when Close returns nil").
func TestBlobReviewStatementRollbackCloseFails(t *testing.T) {
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
	cerr := b.Close()
	// The user's transaction is still theirs: it must still be open, and
	// rolling it back must drop row 2.
	_, rerr := c.ExecContext(context.Background(), "ROLLBACK")
	if n := count(t, db, "SELECT count(*) FROM t WHERE id = 2"); n != 0 || rerr != nil {
		t.Fatalf("blob Close returned %v; the user's ROLLBACK then: %v; row 2 (inserted in the user's own BEGIN after the blob's transaction was rolled back) committed: %v", cerr, rerr, n == 1)
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
			got := next(t, s, 6)
			noMore(t, s)
			var d []string
			for _, ch := range got {
				d = append(d, fmt.Sprintf("%s %s %d", ch.Op, ch.Table, ch.RowID))
			}
			if want := "insert bump 1|insert t 2|update t 1|update t 2|update t 1|update t 2"; strings.Join(d, "|") != want {
				t.Fatalf("stream: %v, want %s", d, want)
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

// TestBlobReviewConcurrentSQLCommitWhileOpen (passes; pins behavior):
// SQL COMMIT of a concurrent transaction with a written blob still open
// is refused (ErrBusy), as SQLite refuses a plain transaction's
// (TestBlobSQLCommitWhileOpen), and leaves the transaction open: it once
// rolled the whole transaction back (commitConcurrent's deferred
// endConcurrent), and SQLite's "statements in progress" invited a retry
// that found no transaction. After Close, COMMIT commits both changes.
func TestBlobReviewConcurrentSQLCommitWhileOpen(t *testing.T) {
	db, _ := reviewDB(t, "cso.db", "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'aaaa')")
	c := dbConn(t, db)
	cexec(t, c, "BEGIN CONCURRENT")
	cexec(t, c, "INSERT INTO t VALUES (2, 'bbbb')")
	b := openBlob(t, c, "t", "b", 1, true)
	mustWriteAt(t, b, "X", 0)
	if _, err := c.ExecContext(context.Background(), "COMMIT"); !errors.Is(err, ErrBusy) {
		t.Fatalf("COMMIT with the blob open: %v", err)
	}
	if got := textValue(t, db, "SELECT group_concat(b, ',') FROM t"); got != "aaaa" {
		t.Fatalf("t holds %q after a refused COMMIT", got)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	cexec(t, c, "COMMIT")
	if got := textValue(t, db, "SELECT group_concat(b, ',') FROM t"); got != "Xaaa,bbbb" {
		t.Fatalf("t holds %q after the COMMIT that followed Close", got)
	}
}

// TestBlobReviewSizeAfterCloseAndExpiry: Size's doc says 0 once the
// handle expired or closed.
func TestBlobReviewSizeAfterCloseAndExpiry(t *testing.T) {
	db, _ := reviewDB(t, "sz.db", "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'abcd')")
	c := dbConn(t, db)
	b := openBlob(t, c, "t", "b", 1, false)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	closed := b.Size()
	cexec(t, c, "BEGIN")
	e := openBlob(t, c, "t", "b", 1, true)
	cexec(t, c, "UPDATE t SET b = 'xyzw' WHERE id = 1")
	_, rerr := e.ReadAt(make([]byte, 1), 0)
	expired := e.Size()
	e.Close()
	cexec(t, c, "COMMIT")
	if closed != 0 || expired != 0 {
		t.Fatalf("Size after Close %d, after expiry %d (ReadAt: %v); the doc says 0 for both", closed, expired, rerr)
	}
}

// TestBlobReviewNativePoolPut (passes): a pool.Conn put back with an
// own-transaction blob open rolls it back and frees the writer lock.
func TestBlobReviewNativePoolPut(t *testing.T) {
	// The pool package imports this one: its Conn embeds *Conn, so the
	// same path (Conn.Reset → ResetSession) is exercised with a native Conn.
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "np.db")
	c, err := OpenConn(ctx, "file:"+filepath.ToSlash(path)+"?busy_timeout=0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Exec(ctx, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB); INSERT INTO t VALUES (1, 'aaaa')"); err != nil {
		t.Fatal(err)
	}
	b, err := c.OpenBlob(ctx, "", "t", "b", 1, true)
	if err != nil {
		t.Fatal(err)
	}
	mustWriteAt(t, b, "ZZ", 0)
	if err := c.BeginTx(ctx, nil); err == nil {
		t.Fatal("native BeginTx with an own-transaction blob open succeeded")
	}
	if err := c.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Write([]byte("x")); !errors.Is(err, ErrBlobClosed) {
		t.Fatalf("Write after Reset: %v", err)
	}
	other := openTestDSN(t, "file:"+filepath.ToSlash(path)+"?busy_timeout=0")
	if _, err := other.Exec("UPDATE t SET b = b || '' WHERE id = 1"); err != nil {
		t.Fatalf("writer after Reset: %v", err)
	}
	if got := string(blobValue(t, other, 1)); got != "aaaa" {
		t.Fatalf("row 1 %q after Reset of an own-transaction blob", got)
	}
}

// TestBlobReviewSQLPoolResetSession (passes): a *sql.Conn closed with an
// own-transaction blob open does not go back to the pool (IsValid), so
// its writer lock is released at once: database/sql closes it, which
// rolls the blob's writes back, and the blob's Close says so.
func TestBlobReviewSQLPoolResetSession(t *testing.T) {
	db, _ := reviewDB(t, "rs.db", "busy_timeout=0")
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'aaaa')")
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b := openBlob(t, c, "t", "b", 1, true)
	mustWriteAt(t, b, "ZZ", 0)
	c.Close()
	mustExec(t, db, "UPDATE t SET b = b || 'e' WHERE id = 1")
	if got := string(blobValue(t, db, 1)); got != "aaaae" {
		t.Fatalf("row 1 %q", got)
	}
	if _, err := b.Write([]byte("x")); !errors.Is(err, ErrBlobClosed) {
		t.Fatalf("Write after the reset: %v", err)
	}
	if err := b.Close(); err == nil || !strings.Contains(err.Error(), "nothing it wrote was kept") {
		t.Fatalf("Close after the reset: %v, want an error saying the writes were rolled back", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
}

// TestBlobReviewWriterWaits (passes): a writer on another connection waits
// (busy timeout) for an own-transaction blob and runs after its Close on
// the committed value.
func TestBlobReviewWriterWaits(t *testing.T) {
	db, _ := reviewDB(t, "ww.db", "busy_timeout=5000")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'aaaa')")
	c := dbConn(t, db)
	other := dbConn(t, db)
	b := openBlob(t, c, "t", "b", 1, true)
	mustWriteAt(t, b, "ZZ", 0)
	done := make(chan error, 1)
	go func() {
		_, err := other.ExecContext(context.Background(), "UPDATE t SET b = b || '!' WHERE id = 1")
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("the writer did not wait: %v", err)
	default:
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := textValue(t, db, "SELECT b FROM t WHERE id = 1"); got != "ZZaa!" {
		t.Fatalf("row 1 %q", got)
	}
}

// TestBlobReviewAttachedAndTemp (passes): blobs of attached and temp
// tables, outside and inside transactions, with a stream open (their
// writes are not the main database's: not captured).
func TestBlobReviewAttachedAndTemp(t *testing.T) {
	dir := t.TempDir()
	db := openTestDSN(t, "file:"+filepath.ToSlash(filepath.Join(dir, "main.db")))
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'main')")
	s := stream(t, db, ChangeOptions{})
	c := dbConn(t, db)
	cexec(t, c, "ATTACH ? AS aux", "file:"+filepath.ToSlash(filepath.Join(dir, "aux.db")))
	cexec(t, c, "CREATE TABLE aux.t(id INTEGER PRIMARY KEY, b BLOB)")
	cexec(t, c, "INSERT INTO aux.t VALUES (1, 'auxx')")
	cexec(t, c, "CREATE TEMP TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	cexec(t, c, "INSERT INTO temp.t VALUES (1, 'temp')")
	for _, schema := range []string{"aux", "temp"} {
		b, err := tryOpenBlob(c, schema, "t", "b", 1, true)
		if err != nil {
			t.Fatal(err)
		}
		mustWriteAt(t, b, "X", 0)
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if got := textValue(t, c, "SELECT aux.t.b || temp.t.b || main.t.b FROM aux.t, temp.t, main.t"); got != "XuxxXempmain" {
		t.Fatalf("values %q", got)
	}
	noMore(t, s)
	cexec(t, c, "DETACH aux")
}

// TestBlobReviewAttachedCapturedRefused: README: while a database's changes
// are captured, a write to it through ATTACH fails with ErrReadOnly. A
// blob write too: it would be missing from the stream.
func TestBlobReviewAttachedCapturedRefused(t *testing.T) {
	dir := t.TempDir()
	captured := filepath.Join(dir, "cap.db")
	cdb := openTestDSN(t, "file:"+filepath.ToSlash(captured))
	mustExec(t, cdb, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, cdb, "INSERT INTO t VALUES (1, 'aaaa')")
	s := stream(t, cdb, ChangeOptions{})
	db := openTestDSN(t, "file:"+filepath.ToSlash(filepath.Join(dir, "other.db")))
	db.SetMaxOpenConns(1)
	c := dbConn(t, db)
	cexec(t, c, "ATTACH ? AS cap", "file:"+filepath.ToSlash(captured))
	if _, err := c.ExecContext(context.Background(), "UPDATE cap.t SET b = 'x' WHERE id = 1"); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("UPDATE through ATTACH: %v, want ErrReadOnly", err)
	}
	b, err := tryOpenBlob(c, "cap", "t", "b", 1, true)
	if err == nil {
		_, err = b.WriteAt([]byte("ZZ"), 0)
		if cerr := b.Close(); err == nil {
			err = cerr
		}
	}
	if !errors.Is(err, ErrReadOnly) {
		t.Fatalf("blob write through ATTACH to a captured database: %v, want ErrReadOnly", err)
	}
	if got := textValue(t, cdb, "SELECT b FROM t WHERE id = 1"); got != "aaaa" {
		t.Fatalf("row 1 %q, and the stream saw nothing", got)
	}
	noMore(t, s)
	cexec(t, c, "DETACH cap")
}

// TestBlobReviewLargeValueDurable (passes): a 5 MB value written through
// a blob: the live stream and the durable log each hold one UPDATE with
// both values whole.
func TestBlobReviewLargeValueDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.db")
	db := openClosable(t, path, "")
	const size = 5 << 20
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES (1, zeroblob(?))", size)
	s := stream(t, db, ChangeOptions{})
	since := s.LSN()
	c := dbConn(t, db)
	b := openBlob(t, c, "t", "b", 1, true)
	want := blobData(size, 11)
	if _, err := io.Copy(b, bytes.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	check := func(got []Change) {
		t.Helper()
		if len(got) != 1 || got[0].Op != changefeed.Update {
			t.Fatalf("changes %d", len(got))
		}
		o, _ := got[0].Old[1].([]byte)
		n, _ := got[0].New[1].([]byte)
		if len(o) != size || bytes.Count(o, []byte{0}) != size || !bytes.Equal(n, want) {
			t.Fatalf("old %d bytes, new equal %v", len(o), bytes.Equal(n, want))
		}
	}
	check(next(t, s, 1))
	noMore(t, s)
	s.Close()
	closeChecked(t, db)
	check(resumed(t, path, since, 1))
}

// TestBlobReviewReopenBackToWrittenRow (passes): Reopen back and forth
// between rows: each stretch of writes to one row is one UPDATE, in order.
func TestBlobReviewReopenBackToWrittenRow(t *testing.T) {
	db, _ := reviewDB(t, "ro.db", "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'aaaa'), (2, 'bbbb')")
	s := stream(t, db, ChangeOptions{})
	c := dbConn(t, db)
	b := openBlob(t, c, "t", "b", 1, true)
	mustWriteAt(t, b, "1", 0)
	mustWriteAt(t, b, "2", 1)
	b.Reopen(2)
	mustWriteAt(t, b, "3", 0)
	b.Reopen(1)
	mustWriteAt(t, b, "4", 2)
	b.Reopen(1)
	b.Reopen(2)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	expectChanges(t, next(t, s, 3),
		"update t rowid=1 old=[1 aaaa] new=[1 12aa]",
		"update t rowid=2 old=[2 bbbb] new=[2 3bbb]",
		"update t rowid=1 old=[1 12aa] new=[1 124a]",
	)
	noMore(t, s)
}

// TestBlobReviewUseAfterConnGone (passes): a Blob whose connection the
// pool closed fails with ErrBlobClosed; Close twice is nil.
func TestBlobReviewUseAfterConnGone(t *testing.T) {
	db, err := Open("file:" + filepath.ToSlash(filepath.Join(t.TempDir(), "g.db")))
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'aaaa')")
	c, _ := db.Conn(context.Background())
	b := openBlob(t, c, "t", "b", 1, true)
	r := openBlob(t, c, "t", "b", 1, false)
	mustWriteAt(t, b, "Q", 0)
	c.Raw(func(dc any) error { return dc.(interface{ Close() error }).Close() })
	c.Close()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, x := range []*Blob{b, r} {
		if _, err := x.ReadAt(make([]byte, 1), 0); !errors.Is(err, ErrBlobClosed) {
			t.Fatalf("ReadAt: %v", err)
		}
		if _, err := x.Seek(0, io.SeekStart); !errors.Is(err, ErrBlobClosed) {
			t.Fatalf("Seek: %v", err)
		}
		if err := x.Reopen(1); !errors.Is(err, ErrBlobClosed) {
			t.Fatalf("Reopen: %v", err)
		}
		// The write blob's own transaction was rolled back by db.Close:
		// its Close says so, once.
		if err := x.Close(); (err != nil) != (x == b) {
			t.Fatal(err)
		}
		if err := x.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBlobReviewStaleReadThenWriteBlob: a connection holding a read
// blob's snapshot opens a write blob after another connection committed:
// the open must fail (stale snapshot) or write on the newest version;
// never overwrite the other's commit with bytes of the old snapshot.
func TestBlobReviewStaleReadThenWriteBlob(t *testing.T) {
	db, _ := reviewDB(t, "st.db", "busy_timeout=0")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'aaaa'), (2, 'bbbb')")
	c := dbConn(t, db)
	r := openBlob(t, c, "t", "b", 1, false)
	mustExec(t, db, "UPDATE t SET b = 'cccc' WHERE id = 2")
	w, err := tryOpenBlob(c, "", "t", "b", 2, true)
	if err != nil {
		t.Logf("write blob on a stale snapshot refused: %v", err)
		r.Close()
		return
	}
	p := make([]byte, 4)
	w.ReadAt(p, 0)
	t.Logf("write blob reads %q", p)
	mustWriteAt(t, w, "X", 0)
	cerr := w.Close()
	r.Close()
	got := textValue(t, db, "SELECT b FROM t WHERE id = 2")
	if cerr == nil && got != "Xccc" {
		t.Fatalf("Close returned nil and row 2 is %q: the other connection's commit (cccc) was overwritten from a stale snapshot", got)
	}
}

// TestBlobReviewWeirdNames (passes): quoted table and column names, text
// values.
func TestBlobReviewWeirdNames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wn.db")
	db := openClosable(t, path, "")
	mustExec(t, db, `CREATE TABLE "we""ird t"("my id" INTEGER PRIMARY KEY, "the b" TEXT, "select" INT)`)
	mustExec(t, db, `INSERT INTO "we""ird t" VALUES (7, 'hello', 1)`)
	s := stream(t, db, ChangeOptions{})
	since := s.LSN()
	c := dbConn(t, db)
	b := openBlob(t, c, `we"ird t`, "the b", 7, true)
	mustWriteAt(t, b, "J", 0)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	want := `update we"ird t rowid=7 old=[7 hello 1] new=[7 Jello 1]`
	expectChanges(t, next(t, s, 1), want)
	if v := next(t, s, 0); v != nil {
		t.Fatal(v)
	}
	s.Close()
	closeChecked(t, db)
	expectChanges(t, resumed(t, path, since, 1), want)
}

// TestBlobReviewConcurrentMerge (passes): a concurrent transaction whose
// only write is a blob write is merged over another connection's commit
// to another table; the stream sees its UPDATE.
func TestBlobReviewConcurrentMerge(t *testing.T) {
	db, _ := reviewDB(t, "m.db", "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "CREATE TABLE o(id INTEGER PRIMARY KEY, v)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'aaaa')")
	s := stream(t, db, ChangeOptions{})
	a, other := dbConn(t, db), dbConn(t, db)
	cexec(t, a, "BEGIN CONCURRENT")
	b := openBlob(t, a, "t", "b", 1, true)
	mustWriteAt(t, b, "MM", 1)
	b.Close()
	cexec(t, other, "INSERT INTO o VALUES (1, 'x')")
	cexec(t, a, "COMMIT")
	if got := textValue(t, db, "SELECT b FROM t"); got != "aMMa" {
		t.Fatalf("row 1 %q", got)
	}
	expectChanges(t, next(t, s, 2), "insert o rowid=1 new=[1 x]", "update t rowid=1 old=[1 aaaa] new=[1 aMMa]")
	noMore(t, s)
}

// TestBlobReviewSQLTransactionEndClosesBlob: the doc says a blob opened in
// a transaction is closed by the transaction's end (ErrBlobClosed
// afterwards); for a transaction ended with SQL COMMIT a read blob stays
// readable.
func TestBlobReviewSQLTransactionEndClosesBlob(t *testing.T) {
	db, _ := reviewDB(t, "se.db", "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'aaaa')")
	c := dbConn(t, db)
	cexec(t, c, "BEGIN")
	r := openBlob(t, c, "t", "b", 1, false)
	cexec(t, c, "COMMIT")
	_, err := r.ReadAt(make([]byte, 4), 0)
	r.Close()
	if !errors.Is(err, ErrBlobClosed) {
		t.Fatalf("ReadAt after the SQL COMMIT that ended the blob's transaction: %v, want ErrBlobClosed", err)
	}
}

// TestBlobReviewQueryOnlyPragma (passes): PRAGMA query_only set by the
// user refuses a write blob with ErrReadOnly and leaves no transaction.
func TestBlobReviewQueryOnlyPragma(t *testing.T) {
	db, _ := reviewDB(t, "qo.db", "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB, k TEXT UNIQUE)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'aaaa', 'k')")
	c := dbConn(t, db)
	cexec(t, c, "PRAGMA query_only=1")
	if _, err := tryOpenBlob(c, "", "t", "b", 1, true); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("write blob with query_only: %v", err)
	}
	cexec(t, c, "PRAGMA query_only=0")
	if _, err := tryOpenBlob(c, "", "t", "k", 1, true); err == nil || !strings.Contains(err.Error(), "indexed") {
		t.Fatalf("write blob on an indexed column: %v", err)
	}
	cexec(t, c, "BEGIN")
	cexec(t, c, "COMMIT")
}
