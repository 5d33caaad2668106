package libsql

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"
)

// randomBlob is n bytes no page compresses or repeats.
func randomBlob(n int, seed uint64) []byte {
	b := make([]byte, n)
	rng := rand.New(rand.NewPCG(seed, seed+1))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// SQLite reads a blob's overflow pages straight from the VFS into the
// value, past its page cache (iouring_vfs TestOverflowPagesReadDirect).
// Those reads are still a concurrent transaction's reads: another
// transaction that changed only an overflow page of a blob it read (an
// incremental blob write leaves the row's b-tree page alone) is a
// conflict, not a merge.
func TestBeginConcurrentTracksDirectOverflowReads(t *testing.T) {
	db := concurrentDB(t, "")
	mustExec(t, db, "CREATE TABLE big(id INTEGER PRIMARY KEY, data BLOB)")
	want := randomBlob(1<<20, 7)
	mustExec(t, db, "INSERT INTO big VALUES (1, ?)", want)

	c1 := dbConn(t, db)
	cexec(t, c1, "BEGIN CONCURRENT")
	var got []byte
	if err := c1.QueryRowContext(context.Background(), "SELECT data FROM big WHERE id = 1").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, not the blob written", len(got))
	}
	cexec(t, c1, "INSERT INTO b(v) VALUES ('depends on the blob')")

	c2 := dbConn(t, db)
	var blob *Blob
	if err := c2.Raw(func(dc any) error {
		var err error
		blob, err = dc.(BlobOpener).OpenBlob(context.Background(), "main", "big", "data", 1, true)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := blob.WriteAt([]byte("changed"), 700_000); err != nil {
		t.Fatal(err)
	}
	if err := blob.Close(); err != nil {
		t.Fatal(err)
	}

	_, err := c1.ExecContext(context.Background(), "COMMIT")
	var e *Error
	if !errors.Is(err, ErrBusySnapshot) || !errors.As(err, &e) {
		t.Fatalf("COMMIT after another transaction changed a blob it read: %v, want ErrBusySnapshot", err)
	}
	if e.ConflictObject() != "table big" || e.ConflictPage() < 10 {
		t.Fatalf("conflict error %q: object %q", err, e.ConflictObject())
	}
	if n := count(t, db, "SELECT count(*) FROM b WHERE v = 'depends on the blob'"); n != 0 {
		t.Fatal("a conflicting transaction committed")
	}
}

// A writing transaction whose dirty pages SQLite spilled (a cache of a few
// pages) has a clean page cache, so SQLite reads overflow pages straight
// from the VFS: the reads see the transaction's own writes, and after
// ROLLBACK they are gone.
func TestSpilledTransactionReadsItsOwnBlob(t *testing.T) {
	db := openTestDB(t, "")
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE big(id INTEGER PRIMARY KEY, data BLOB)")
	old := randomBlob(1<<20, 3)
	mustExec(t, db, "INSERT INTO big VALUES (1, ?)", old)
	mustExec(t, db, "PRAGMA cache_size=10")
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	fresh := randomBlob(2<<20, 4)
	if _, err := tx.Exec("UPDATE big SET data = ? WHERE id = 1", fresh); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO big VALUES (2, ?)", fresh[:300_000]); err != nil {
		t.Fatal(err)
	}
	var got, got2 []byte
	if err := tx.QueryRow("SELECT data FROM big WHERE id = 1").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRow("SELECT data FROM big WHERE id = 2").Scan(&got2); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, fresh) || !bytes.Equal(got2, fresh[:300_000]) {
		t.Fatalf("inside the transaction: read %d and %d bytes, not the blobs it wrote", len(got), len(got2))
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT data FROM big WHERE id = 1").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, old) {
		t.Fatalf("after ROLLBACK: read %d bytes, not the blob from before", len(got))
	}
	if n := count(t, db, "SELECT count(*) FROM big"); n != 1 {
		t.Fatalf("%d rows after ROLLBACK, want 1", n)
	}
}
