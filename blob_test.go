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
)

// blobData returns n bytes that differ from chunk to chunk.
func blobData(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31+i/65536) ^ seed
	}
	return b
}

// openBlob opens a blob on c through sql.Conn.Raw.
func openBlob(t *testing.T, c *sql.Conn, table, column string, rowid int64, write bool) *Blob {
	t.Helper()
	var b *Blob
	err := c.Raw(func(dc any) error {
		var err error
		b, err = dc.(BlobOpener).OpenBlob(context.Background(), "", table, column, rowid, write)
		return err
	})
	if err != nil {
		t.Fatalf("OpenBlob %s.%s row %d: %v", table, column, rowid, err)
	}
	return b
}

// blobValue returns the value of t.b in row id, read with SQL.
func blobValue(t *testing.T, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id int64) []byte {
	t.Helper()
	var v []byte
	if err := q.QueryRowContext(context.Background(), "SELECT b FROM t WHERE id = ?", id).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestBlobStreamsBothWays: io.Copy into a zeroblob and back out, across
// chunk boundaries; ReadAt, Seek and Read at and past the end behave as
// io says.
func TestBlobStreamsBothWays(t *testing.T) {
	db := openTestDSN(t, "file:"+filepath.ToSlash(filepath.Join(t.TempDir(), "b.db")))
	const size = 3*65536 + 123
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB, other TEXT)")
	mustExec(t, db, "INSERT INTO t VALUES (1, zeroblob(?), 'x')", size)
	want := blobData(size, 7)
	c := dbConn(t, db)
	w := openBlob(t, c, "t", "b", 1, true)
	if w.Size() != size {
		t.Fatalf("Size %d, want %d", w.Size(), size)
	}
	if n, err := io.Copy(w, bytes.NewReader(want)); n != size || err != nil {
		t.Fatalf("io.Copy into the blob: %d, %v", n, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if got := blobValue(t, db, 1); !bytes.Equal(got, want) {
		t.Fatal("the value read with SQL differs from what the blob wrote")
	}

	r := openBlob(t, c, "t", "b", 1, false)
	defer r.Close()
	var out bytes.Buffer
	if n, err := io.Copy(&out, r); n != size || err != nil || !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("io.Copy out of the blob: %d, %v, equal %v", n, err, bytes.Equal(out.Bytes(), want))
	}
	p := make([]byte, 1000)
	if n, err := r.ReadAt(p, 65000); n != 1000 || err != nil || !bytes.Equal(p, want[65000:66000]) {
		t.Fatalf("ReadAt across a chunk: %d, %v", n, err)
	}
	if n, err := r.ReadAt(p, size-10); n != 10 || err != io.EOF || !bytes.Equal(p[:10], want[size-10:]) {
		t.Fatalf("ReadAt over the end: %d, %v, want 10, io.EOF", n, err)
	}
	if n, err := r.ReadAt(p, size); n != 0 || err != io.EOF {
		t.Fatalf("ReadAt at the end: %d, %v", n, err)
	}
	if _, err := r.ReadAt(p, -1); err == nil {
		t.Fatal("ReadAt at a negative offset succeeded")
	}
	if off, err := r.Seek(-5, io.SeekEnd); off != size-5 || err != nil {
		t.Fatalf("Seek: %d, %v", off, err)
	}
	if n, err := r.Read(p); n != 5 || err != nil || !bytes.Equal(p[:5], want[size-5:]) {
		t.Fatalf("Read of the last bytes: %d, %v", n, err)
	}
	if n, err := r.Read(p); n != 0 || err != io.EOF {
		t.Fatalf("Read at the end: %d, %v", n, err)
	}
	if _, err := r.Seek(-1, io.SeekStart); err == nil {
		t.Fatal("Seek before the start succeeded")
	}
	if _, err := r.Write([]byte("x")); err == nil || !strings.Contains(err.Error(), "reading only") {
		t.Fatalf("Write on a blob opened for reading: %v", err)
	}
}

// TestBlobWritePastTheEndWritesNothing: a value's size is fixed; a write
// or a source that does not fit fails, and no byte of the write lands.
func TestBlobWritePastTheEndWritesNothing(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES (1, zeroblob(10))")
	c := dbConn(t, db)
	b := openBlob(t, c, "t", "b", 1, true)
	if n, err := b.WriteAt([]byte("0123456789A"), 0); n != 0 || err == nil || !strings.Contains(err.Error(), "past the end") {
		t.Fatalf("WriteAt of 11 bytes into 10: %d, %v", n, err)
	}
	if _, err := b.WriteAt([]byte("ab"), 9); err == nil {
		t.Fatal("WriteAt over the end succeeded")
	}
	if n, err := b.ReadFrom(strings.NewReader("0123456789")); n != 10 || err != nil {
		t.Fatalf("ReadFrom of exactly the size: %d, %v", n, err)
	}
	if _, err := b.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if n, err := b.ReadFrom(strings.NewReader("abcdefghijk")); n != 10 || err == nil {
		t.Fatalf("ReadFrom of a source longer than the value: %d, %v", n, err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got := string(blobValue(t, db, 1)); got != "abcdefghij" {
		t.Fatalf("value %q", got)
	}
}

// TestBlobOwnTransaction: a Blob opened for writing outside a transaction
// holds the writer lock until Close, other connections keep reading the
// old value meanwhile, its writes commit at Close, and vanish if the
// connection closes first; BeginTx is refused while it is open.
func TestBlobOwnTransaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "own.db")
	db := openTestDSN(t, "file:"+filepath.ToSlash(path)+"?busy_timeout=0")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES (1, zeroblob(4)), (2, zeroblob(4))")
	c := dbConn(t, db)
	b := openBlob(t, c, "t", "b", 1, true)
	if _, err := b.Write([]byte("new!")); err != nil {
		t.Fatal(err)
	}
	if got := blobValue(t, db, 1); !bytes.Equal(got, make([]byte, 4)) {
		t.Fatalf("another connection sees %q before Close", got)
	}
	if _, err := db.Exec("UPDATE t SET b = x'01' WHERE id = 2"); !errors.Is(err, ErrBusy) {
		t.Fatalf("a writer beside an open blob: %v, want ErrBusy", err)
	}
	if _, err := c.BeginTx(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "blob") {
		t.Fatalf("BeginTx with the blob open: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got := string(blobValue(t, db, 1)); got != "new!" {
		t.Fatalf("after Close: %q", got)
	}
	if _, err := db.Exec("UPDATE t SET b = x'01' WHERE id = 2"); err != nil {
		t.Fatalf("a writer after Close: %v", err)
	}

	// The connection closes with the blob open: nothing of it commits.
	c2 := dbConn(t, db)
	b2 := openBlob(t, c2, "t", "b", 1, true)
	if _, err := b2.Write([]byte("lost")); err != nil {
		t.Fatal(err)
	}
	c2.Raw(func(dc any) error { return dc.(interface{ Close() error }).Close() })
	c2.Close()
	if _, err := b2.Write([]byte("x")); !errors.Is(err, ErrBlobClosed) {
		t.Fatalf("Write after the connection closed: %v, want ErrBlobClosed", err)
	}
	if got := string(blobValue(t, db, 1)); got != "new!" {
		t.Fatalf("a blob whose connection closed before Close committed: %q", got)
	}
	if _, err := db.Exec("UPDATE t SET b = x'02' WHERE id = 2"); err != nil {
		t.Fatalf("the writer lock stayed taken: %v", err)
	}
}

// TestBlobOpenWaitsAsBeginImmediate: opening for writing waits for the
// writer lock up to the busy timeout, and gives up when its context ends.
func TestBlobOpenWaitsAsBeginImmediate(t *testing.T) {
	db := openTestDSN(t, "file:"+filepath.ToSlash(filepath.Join(t.TempDir(), "w.db"))+"?busy_timeout=10s")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES (1, zeroblob(4))")
	holder := dbConn(t, db)
	cexec(t, holder, "BEGIN IMMEDIATE")
	c := dbConn(t, db)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Raw(func(dc any) error {
		_, err := dc.(BlobOpener).OpenBlob(ctx, "main", "t", "b", 1, true)
		return err
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("OpenBlob while another connection writes: %v, want the context's error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("gave up after %v", d)
	}
	cexec(t, holder, "ROLLBACK")
	b := openBlob(t, c, "t", "b", 1, true)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	// A read-only handle needs no lock.
	cexec(t, holder, "BEGIN IMMEDIATE")
	r := openBlob(t, c, "t", "b", 1, false)
	r.Close()
	cexec(t, holder, "ROLLBACK")
}

// TestBlobInTransaction: inside a transaction a blob's writes are the
// transaction's: rolled back with it, committed with it, and its end
// closes the blob.
func TestBlobInTransaction(t *testing.T) {
	for _, end := range []string{"Rollback", "Commit"} {
		t.Run(end, func(t *testing.T) {
			db := openTestDSN(t, "file:"+filepath.ToSlash(filepath.Join(t.TempDir(), "tx.db")))
			mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
			mustExec(t, db, "INSERT INTO t VALUES (1, 'abcd')")
			c := dbConn(t, db)
			tx, err := c.BeginTx(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			b := openBlob(t, c, "t", "b", 1, true)
			if _, err := b.WriteAt([]byte("XY"), 1); err != nil {
				t.Fatal(err)
			}
			if got := string(blobValue(t, tx, 1)); got != "aXYd" {
				t.Fatalf("inside the transaction: %q", got)
			}
			want := "aXYd"
			if end == "Rollback" {
				err, want = tx.Rollback(), "abcd"
			} else {
				err = tx.Commit()
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.Read(make([]byte, 1)); !errors.Is(err, ErrBlobClosed) || !strings.Contains(err.Error(), strings.ToUpper(end)) {
				t.Fatalf("Read after the transaction's %s: %v", end, err)
			}
			if got := string(blobValue(t, db, 1)); got != want {
				t.Fatalf("after %s: %q, want %q", end, got, want)
			}
		})
	}
}

// TestBlobExpiresAndReopens: a statement that changes the row expires the
// handle (ErrBlobExpired); Reopen moves it to another row, and a missing
// row or a bad name fails with an error naming it.
func TestBlobExpiresAndReopens(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'one'), (2, 'two!'), (3, 42)")
	c := dbConn(t, db)
	cexec(t, c, "BEGIN")
	b := openBlob(t, c, "t", "b", 1, true)
	cexec(t, c, "UPDATE t SET b = 'uno' WHERE id = 1")
	if _, err := b.ReadAt(make([]byte, 3), 0); !errors.Is(err, ErrBlobExpired) {
		t.Fatalf("ReadAt after its row changed: %v, want ErrBlobExpired", err)
	}
	if _, err := b.WriteAt([]byte("x"), 0); !errors.Is(err, ErrBlobExpired) {
		t.Fatalf("WriteAt after its row changed: %v, want ErrBlobExpired", err)
	}
	if err := b.Reopen(2); !errors.Is(err, ErrBlobExpired) {
		t.Fatalf("Reopen of an expired handle: %v, want ErrBlobExpired", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close of an expired handle: %v", err)
	}
	b = openBlob(t, c, "t", "b", 1, true)
	if err := b.Reopen(2); err != nil {
		t.Fatal(err)
	}
	if b.Size() != 4 {
		t.Fatalf("Size after Reopen: %d", b.Size())
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(b, got); err != nil || string(got) != "two!" {
		t.Fatalf("after Reopen: %q, %v", got, err)
	}
	if err := b.Reopen(9); err == nil || !strings.Contains(err.Error(), "row 9") {
		t.Fatalf("Reopen of a missing row: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = openBlob(t, c, "t", "b", 1, true)
	if err := b.Reopen(3); err == nil {
		t.Fatal("Reopen of an integer value succeeded")
	}
	if _, err := b.Read(make([]byte, 1)); err == nil {
		t.Fatal("Read after a failed Reopen succeeded")
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close after a failed Reopen: %v", err)
	}
	cexec(t, c, "COMMIT")
	for _, tc := range []struct {
		table, column string
		rowid         int64
		want          string
	}{
		{"nope", "b", 1, "nope"},
		{"t", "nope", 1, "nope"},
		{"t", "b", 99, "99"},
	} {
		err := c.Raw(func(dc any) error {
			_, err := dc.(BlobOpener).OpenBlob(context.Background(), "", tc.table, tc.column, tc.rowid, true)
			return err
		})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("OpenBlob(%s, %s, %d): %v, want an error naming %q", tc.table, tc.column, tc.rowid, err, tc.want)
		}
	}
	// A failed open for writing leaves no transaction behind.
	cexec(t, c, "BEGIN")
	cexec(t, c, "COMMIT")
}

// TestBlobReadOnly: a read-only database and a read-only transaction
// refuse a blob opened for writing with ErrReadOnly.
func TestBlobReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ro.db")
	db, err := Open("file:" + filepath.ToSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'abc')")
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tx, err := c.BeginTx(context.Background(), &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Raw(func(dc any) error {
		_, err := dc.(BlobOpener).OpenBlob(context.Background(), "", "t", "b", 1, true)
		return err
	})
	if !errors.Is(err, ErrReadOnly) {
		t.Fatalf("OpenBlob for writing in a read-only transaction: %v", err)
	}
	tx.Rollback()
	c.Close()
	db.Close()
	ro := openTestDSN(t, "file:"+filepath.ToSlash(path)+"?mode=ro")
	rc := dbConn(t, ro)
	err = rc.Raw(func(dc any) error {
		_, err := dc.(BlobOpener).OpenBlob(context.Background(), "", "t", "b", 1, true)
		return err
	})
	if !errors.Is(err, ErrReadOnly) {
		t.Fatalf("OpenBlob for writing on mode=ro: %v", err)
	}
	r := openBlob(t, rc, "t", "b", 1, false)
	if got, err := io.ReadAll(r); string(got) != "abc" || err != nil {
		t.Fatalf("reading on mode=ro: %q, %v", got, err)
	}
	r.Close()
}

// TestBlobWritesAreCaptured: change streams and durable CDC see a blob's
// writes as one UPDATE of its row (values before the first write, after
// the last), in order with the statements around it; a Reopen captures
// the row it leaves; a savepoint rolled back forgets the writes.
func TestBlobWritesAreCaptured(t *testing.T) {
	for _, cdc := range []string{"off", "on"} {
		t.Run("cdc="+cdc, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cdc.db")
			var db *sql.DB
			if cdc == "on" {
				db = openClosable(t, path, "")
			} else {
				db = openTestDSN(t, "file:"+filepath.ToSlash(path))
			}
			mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB, n INT)")
			mustExec(t, db, "INSERT INTO t VALUES (1, 'aaaa', 10), (2, 'bbbb', 20)")
			s := stream(t, db, ChangeOptions{})
			since := s.LSN()
			c := dbConn(t, db)

			b := openBlob(t, c, "t", "b", 1, true)
			b.WriteAt([]byte("X"), 0)
			b.WriteAt([]byte("Y"), 3)
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			cexec(t, c, "BEGIN")
			b = openBlob(t, c, "t", "b", 1, true)
			b.WriteAt([]byte("1"), 1)
			if err := b.Reopen(2); err != nil {
				t.Fatal(err)
			}
			b.WriteAt([]byte("2"), 1)
			if _, err := c.ExecContext(context.Background(), "INSERT INTO t VALUES (1, 'dup', 0)"); !errors.Is(err, ErrConstraint) {
				t.Fatalf("a failing INSERT: %v", err) // its failure must not drop the blob's change
			}
			cexec(t, c, "UPDATE t SET n = n + 1 WHERE id = 2") // expires b
			b.Close()
			cexec(t, c, "SAVEPOINT sp")
			b = openBlob(t, c, "t", "b", 1, true)
			b.WriteAt([]byte("Z"), 2)
			b.Close()
			cexec(t, c, "ROLLBACK TO sp")
			cexec(t, c, "RELEASE sp")
			cexec(t, c, "COMMIT")

			want := []string{
				"update t rowid=1 old=[1 aaaa 10] new=[1 XaaY 10]",
				"update t rowid=1 old=[1 XaaY 10] new=[1 X1aY 10]",
				"update t rowid=2 old=[2 bbbb 20] new=[2 b2bb 20]",
				"update t rowid=2 old=[2 b2bb 20] new=[2 b2bb 21]",
			}
			expectChanges(t, next(t, s, 4), want...)
			noMore(t, s)
			if got := string(blobValue(t, db, 1)); got != "X1aY" {
				t.Fatalf("row 1 %q", got)
			}
			if cdc == "on" {
				s.Close()
				closeChecked(t, db)
				expectChanges(t, resumed(t, path, since, 4), want...)
			}
		})
	}
}

// TestBlobConcurrentRebase: a BEGIN CONCURRENT transaction's blob write is
// replayed when the transaction is rebased on a newer version.
func TestBlobConcurrentRebase(t *testing.T) {
	db := openTestDSN(t, "file:"+filepath.ToSlash(filepath.Join(t.TempDir(), "conc.db")))
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB, n INT)")
	mustExec(t, db, "CREATE TABLE bump(id INTEGER PRIMARY KEY, pad BLOB)")
	stats := func() (rebased uint64) {
		var s string
		if err := db.QueryRow("PRAGMA libsql_stats").Scan(&s); err != nil {
			t.Fatal(err)
		}
		var all struct {
			Concurrent struct{ Rebased uint64 } `json:"concurrent"`
		}
		if err := json.Unmarshal([]byte(s), &all); err != nil {
			t.Fatal(err)
		}
		return all.Concurrent.Rebased
	}
	a, other := dbConn(t, db), dbConn(t, db)
	cexec(t, a, "BEGIN CONCURRENT")
	cexec(t, a, "INSERT INTO t VALUES (1, zeroblob(20000), 0)") // allocates pages: no merge
	b := openBlob(t, a, "t", "b", 1, true)
	want := blobData(20000, 3)
	if _, err := b.Write(want); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	cexec(t, other, "INSERT INTO bump VALUES (1, zeroblob(20000))")
	before := stats()
	cexec(t, a, "COMMIT")
	if got := stats(); got != before+1 {
		t.Fatalf("rebased %d → %d: the test did not rebase", before, got)
	}
	if got := blobValue(t, db, 1); !bytes.Equal(got, want) {
		t.Fatalf("after the rebase row 1 holds %v...", got[:8])
	}
}

// TestBlobNativeConn: the native Conn opens blobs too, and its Commit,
// Reset and Close close them.
func TestBlobNativeConn(t *testing.T) {
	ctx := context.Background()
	c, err := OpenConn(ctx, "file:"+filepath.ToSlash(filepath.Join(t.TempDir(), "n.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Exec(ctx, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB); INSERT INTO t VALUES (1, zeroblob(3))"); err != nil {
		t.Fatal(err)
	}
	for i, end := range []func() error{c.Commit, func() error { return c.Reset(ctx) }, c.Close} {
		if i < 2 {
			if err := c.BeginTx(ctx, nil); err != nil {
				t.Fatal(err)
			}
		}
		b, err := c.OpenBlob(ctx, "main", "t", "b", 1, true)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Write([]byte(strings.Repeat(fmt.Sprint(i), 3))); err != nil {
			t.Fatal(err)
		}
		if err := end(); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Write(nil); !errors.Is(err, ErrBlobClosed) {
			t.Fatalf("end %d: Write after it: %v", i, err)
		}
	}
	if _, err := c.OpenBlob(ctx, "", "t", "b", 1, false); err == nil {
		t.Fatal("OpenBlob on a closed Conn succeeded")
	}
}

// TestBlobSQLCommitWhileOpen: SQL COMMIT is refused while a blob written
// in the transaction is open (SQLite's rule for statements in progress);
// after Close it commits, and the stream and durable CDC hold the blob's
// change once.
func TestBlobSQLCommitWhileOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	db := openClosable(t, path, "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'aaaa')")
	s := stream(t, db, ChangeOptions{})
	since := s.LSN()
	c := dbConn(t, db)
	cexec(t, c, "BEGIN")
	cexec(t, c, "INSERT INTO t VALUES (2, 'bbbb')")
	b := openBlob(t, c, "t", "b", 1, true)
	if _, err := b.WriteAt([]byte("X"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecContext(context.Background(), "COMMIT"); !errors.Is(err, ErrBusy) {
		t.Fatalf("COMMIT with a written blob open: %v, want SQLite's refusal", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	cexec(t, c, "COMMIT")
	want := []string{"insert t rowid=2 new=[2 bbbb]", "update t rowid=1 old=[1 aaaa] new=[1 Xaaa]"}
	expectChanges(t, next(t, s, 2), want...)
	noMore(t, s)
	s.Close()
	closeChecked(t, db)
	expectChanges(t, resumed(t, path, since, 2), want...)
}

// TestBlobBookkeepingCostsNothingWithoutBlobs: with no blob open, a pooled
// connection's reset (before every reuse) allocates nothing: building the
// closing reason at each reset, whether or not a blob was open, cost point
// selects through database/sql 11% (BenchmarkPointSelect, 2.78 → 3.13 µs).
func TestBlobBookkeepingCostsNothingWithoutBlobs(t *testing.T) {
	db := openTestDB(t, "")
	c := dbConn(t, db)
	err := c.Raw(func(dc any) error {
		cn := dc.(*conn)
		ctx := context.Background()
		if n := testing.AllocsPerRun(100, func() { cn.ResetSession(ctx) }); n != 0 {
			return fmt.Errorf("ResetSession allocates %v times with no blob open", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
