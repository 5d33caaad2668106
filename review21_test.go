package libsql

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestReview21ReopenExpiredNotYetRead: a handle whose row a statement
// changed, but which no read or write has found expired, reopens on
// another row as SQLite allows (sqlite3_blob_reopen re-seeks): the docs
// said every Reopen of such a handle failed; they now say one that a read
// or write found expired fails. After a Reopen the handle reads its new
// row; once a read found it expired, Reopen fails.
func TestReview21ReopenExpiredNotYetRead(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'one'), (2, 'two!')")
	c := dbConn(t, db)
	cexec(t, c, "BEGIN")
	b := openBlob(t, c, "t", "b", 1, false)
	cexec(t, c, "UPDATE t SET b = 'uno' WHERE id = 1")
	if err := b.Reopen(2); err != nil {
		t.Fatalf("Reopen of a handle whose row changed, before any read: %v", err)
	}
	got := make([]byte, 4)
	if n, err := b.ReadAt(got, 0); err != nil || string(got[:n]) != "two!" {
		t.Fatalf("after Reopen: %q, %v", got[:n], err)
	}
	cexec(t, c, "UPDATE t SET b = 'dos!' WHERE id = 2")
	if _, err := b.ReadAt(got, 0); !errors.Is(err, ErrBlobExpired) {
		t.Fatalf("read after its new row changed: %v", err)
	}
	if err := b.Reopen(1); !errors.Is(err, ErrBlobExpired) {
		t.Fatalf("Reopen of a handle found expired: %v", err)
	}
	b.Close()
	cexec(t, c, "COMMIT")
}

// TestReview21CommitRefusedUnwrittenBlob: SQL COMMIT is refused while a
// blob opened for writing is open, even one that wrote nothing (the docs
// once said "a blob that wrote").
func TestReview21CommitRefusedUnwrittenBlob(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'aaaa')")
	c := dbConn(t, db)
	cexec(t, c, "BEGIN")
	b := openBlob(t, c, "t", "b", 1, true)
	// The docs say so: SQLite refuses it (the blob's statement is a write
	// in progress), and the transaction stays open.
	if _, err := c.ExecContext(context.Background(), "COMMIT"); !errors.Is(err, ErrBusy) {
		t.Fatalf("COMMIT with a blob opened for writing, nothing written: %v, want ErrBusy", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	cexec(t, c, "COMMIT")
}

// TestReview21ReadBlobSnapshot: a Blob opened for reading outside a
// transaction holds its snapshot: another connection's commit does not
// change what it reads.
func TestReview21ReadBlobSnapshot(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'aaaa')")
	c, o := dbConn(t, db), dbConn(t, db)
	b := openBlob(t, c, "t", "b", 1, false)
	defer b.Close()
	cexec(t, o, "UPDATE t SET b = 'bbbb' WHERE id = 1")
	got, err := io.ReadAll(b)
	if err != nil || string(got) != "aaaa" {
		t.Errorf("read blob after another connection's commit: %q, %v; want aaaa", got, err)
	}
}

// TestReview21BeginTxRefusedAndCommitCloses: BeginTx is refused while a
// blob with its own transaction is open; inside a transaction, Commit
// closes the blob (ErrBlobClosed afterwards) and commits its writes.
func TestReview21BeginTxRefusedAndCommitCloses(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'aaaa')")
	c := dbConn(t, db)
	b := openBlob(t, c, "t", "b", 1, true)
	if tx, err := c.BeginTx(ctx, nil); err == nil {
		tx.Rollback()
		t.Error("BeginTx with an own-transaction blob open succeeded")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	b = openBlob(t, c, "t", "b", 1, true)
	if _, err := b.WriteAt([]byte("X"), 0); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("Commit with a written blob open: %v", err)
	}
	if _, err := b.Read(make([]byte, 1)); !errors.Is(err, ErrBlobClosed) {
		t.Errorf("Read after Commit: %v, want ErrBlobClosed", err)
	}
	if b.Size() != 0 {
		t.Errorf("Size after Commit closed it: %d", b.Size())
	}
	var s string
	db.QueryRow("SELECT b FROM t").Scan(&s)
	if s != "Xaaa" {
		t.Errorf("after Commit: %q, want Xaaa", s)
	}
}

// TestReview21ReadOnlyTxBlobWrite: "a write to a read-only database or in
// a read-only transaction fails with ErrReadOnly".
func TestReview21ReadOnlyTxBlobWrite(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'aaaa')")
	c := dbConn(t, db)
	tx, err := c.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	err = c.Raw(func(dc any) error {
		b, err := dc.(BlobOpener).OpenBlob(ctx, "", "t", "b", 1, true)
		if err != nil {
			return err
		}
		defer b.Close()
		_, err = b.WriteAt([]byte("x"), 0)
		return err
	})
	if !errors.Is(err, ErrReadOnly) {
		t.Errorf("blob write in a read-only transaction: %v, want ErrReadOnly", err)
	}
}

// TestReview21ImageCheckedWhen: as WithImage's doc says, Open checks the
// image, and the DSN, before any connection: garbage, a page of zeros, a
// file DSN and a nil image fail there, naming WithImage; an empty image
// starts an empty database.
func TestReview21ImageCheckedWhen(t *testing.T) {
	for _, tc := range []struct {
		dsn   string
		image []byte
	}{
		{":memory:", []byte("not a database at all")},
		{":memory:", make([]byte, 1000)},
		{t.TempDir() + "/x.db", []byte{}},
		{":memory:", nil},
	} {
		db, err := Open(tc.dsn, WithImage(tc.image))
		if err == nil {
			db.Close()
			t.Errorf("Open(%q) with an image of %d bytes (nil %v) succeeded", tc.dsn, len(tc.image), tc.image == nil)
		} else if !strings.Contains(err.Error(), "WithImage") {
			t.Errorf("Open(%q): %v, want an error naming WithImage", tc.dsn, err)
		}
	}
	db, err := Open(":memory:", WithImage([]byte{}))
	if err != nil {
		t.Fatalf("an empty image: %v", err)
	}
	defer db.Close()
	mustExec(t, db, "CREATE TABLE t(a)")
}

// TestReview21RawFunctionDetails: Type past the last argument is
// TypeNull; ResultBlob(nil) is an empty blob, not NULL; a function that
// sets nothing returns NULL; RawText of NULL is nil.
func TestReview21RawFunctionDetails(t *testing.T) {
	db := openTestDSN(t, ":memory:",
		WithRawFunction("r21_type", -1, func(f *FuncContext) { f.ResultText(f.Type(f.NArg()).String()) }),
		WithRawFunction("r21_nilblob", 0, func(f *FuncContext) { f.ResultBlob(nil) }),
		WithRawFunction("r21_nothing", 0, func(f *FuncContext) {}),
		WithRawFunction("r21_nulltext", 1, func(f *FuncContext) {
			if f.RawText(0) == nil && f.RawBlob(0) == nil {
				f.ResultInt64(1)
			}
		}),
	)
	var typ, nb, nothing string
	var isNull int
	if err := db.QueryRow("SELECT r21_type(1, 2), typeof(r21_nilblob()), typeof(r21_nothing()), r21_nulltext(NULL)").Scan(&typ, &nb, &nothing, &isNull); err != nil {
		t.Fatal(err)
	}
	if typ != "NULL" || nb != "blob" || nothing != "null" || isNull != 1 {
		t.Errorf("type past last %q, ResultBlob(nil) %q, no result %q, NULL text nil %d", typ, nb, nothing, isNull)
	}
}

// TestReview21RawFunctionNoAllocPerCall: "nothing allocated per call":
// a query calling the function on 2000 rows allocates as much as one on
// 20 rows.
func TestReview21RawFunctionNoAllocPerCall(t *testing.T) {
	db := openTestDSN(t, ":memory:", WithRawFunction("r21_len", 1, func(f *FuncContext) {
		f.ResultInt64(int64(len(f.RawText(0))))
	}, Deterministic))
	db.SetMaxOpenConns(1)
	mustExec(t, db, `CREATE TABLE f(id INTEGER PRIMARY KEY, s TEXT);
		WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 2000)
		INSERT INTO f SELECT x, 'value ' || x FROM c`)
	run := func(n int) float64 {
		return testing.AllocsPerRun(20, func() {
			var k int
			if err := db.QueryRow("SELECT sum(r21_len(s)) FROM f WHERE id <= ?", n).Scan(&k); err != nil {
				t.Fatal(err)
			}
		})
	}
	small, large := run(20), run(2000)
	if large-small > 5 {
		t.Errorf("allocations: %v for 20 calls, %v for 2000", small, large)
	}
}

// TestReview21WriteAtPastEndAndReadFrom: a write past the end writes
// nothing; ReadFrom of a longer source fills the value, then fails.
func TestReview21WriteAtPastEndAndReadFrom(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES (1, zeroblob(4))")
	c := dbConn(t, db)
	cexec(t, c, "BEGIN")
	b := openBlob(t, c, "t", "b", 1, true)
	if _, err := b.WriteAt([]byte("xyz"), 2); err == nil {
		t.Error("write past the end succeeded")
	}
	n, err := b.ReadFrom(strings.NewReader("abcdef"))
	if err == nil || n != 4 {
		t.Errorf("ReadFrom of 6 bytes into 4: %d, %v", n, err)
	}
	if _, err := b.Seek(10, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("Read past the end: %v", err)
	}
	b.Close()
	cexec(t, c, "COMMIT")
	var v []byte
	db.QueryRow("SELECT b FROM t").Scan(&v)
	if !bytes.Equal(v, []byte("abcd")) {
		t.Errorf("value: %q", v)
	}
}

// TestReview21SerializeInConcurrentConflicts: README: "Inside BEGIN
// CONCURRENT, Serialize reads every page, so any commit since the
// transaction began makes its commit a conflict".
func TestReview21SerializeInConcurrentConflicts(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE u(x)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'a')")
	c, o := dbConn(t, db), dbConn(t, db)
	cexec(t, c, "BEGIN CONCURRENT")
	cexec(t, c, "INSERT INTO t VALUES (2, 'mine')")
	cexec(t, o, "INSERT INTO u VALUES (1)") // another table entirely
	if _, err := Serialize(ctx, c, ""); err != nil {
		t.Fatal(err)
	}
	_, err := c.ExecContext(ctx, "COMMIT")
	if err == nil {
		t.Errorf("COMMIT after Serialize, another table committed since BEGIN CONCURRENT: no conflict")
	} else {
		t.Logf("conflict: %v", err)
		c.ExecContext(ctx, "ROLLBACK")
	}
}

// TestReview21BlobErrorsNameEverything: "Errors name the schema, table,
// column and row".
func TestReview21BlobErrorsNameEverything(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'aaaa')")
	c := dbConn(t, db)
	cexec(t, c, "BEGIN")
	b := openBlob(t, c, "t", "b", 1, true)
	_, err := b.WriteAt([]byte("xyzxyz"), 0)
	if err == nil || !strings.Contains(err.Error(), "main.t.b") || !strings.Contains(err.Error(), "row 1") {
		t.Errorf("write past the end: %v (no schema.table.column / row)", err)
	}
	b.Close()
	cexec(t, c, "COMMIT")
}

// TestReview21CloseAfterConnClosed: Blob's doc says an own-transaction
// blob's writes commit "when Close returns nil", and that nothing is kept
// if the connection closes first. What does Close return then?
func TestReview21CloseAfterConnClosed(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/c.db"
	conn, err := OpenConn(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB); INSERT INTO t VALUES (1, 'aaaa')"); err != nil {
		t.Fatal(err)
	}
	b, err := conn.OpenBlob(ctx, "", "t", "b", 1, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.WriteAt([]byte("X"), 0); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	cerr := b.Close()
	db := openTestDSN(t, path)
	var s string
	db.QueryRow("SELECT b FROM t").Scan(&s)
	if cerr == nil && s != "Xaaa" {
		t.Errorf("Close returned nil after the connection closed, but the write was not kept (value %q)", s)
	}
}

// TestReview21CloseAfterPoolReturn: the same through database/sql: the
// *sql.Conn closed before the Blob, the connection reused.
func TestReview21CloseAfterPoolReturn(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t, "")
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB); INSERT INTO t VALUES (1, 'aaaa')")
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := openBlob(t, c, "t", "b", 1, true)
	if _, err := b.WriteAt([]byte("X"), 0); err != nil {
		t.Fatal(err)
	}
	c.Close()
	var s string
	db.QueryRow("SELECT b FROM t").Scan(&s) // reuses the connection
	cerr := b.Close()
	db.QueryRow("SELECT b FROM t").Scan(&s)
	if cerr == nil && s != "Xaaa" {
		t.Errorf("Close returned nil after the connection went back to the pool, but the write was not kept (value %q)", s)
	}
}
