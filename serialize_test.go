package libsql

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fillForImage creates a schema with an index, a view, a trigger, rows
// with overflow pages, and returns a digest of the contents.
func fillForImage(t *testing.T, db *sql.DB) string {
	t.Helper()
	mustExec(t, db, `CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT UNIQUE, data BLOB);
		CREATE INDEX t_data ON t(length(data));
		CREATE VIEW v AS SELECT id, name FROM t WHERE id % 2 = 0;
		CREATE TABLE log(x); CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO log VALUES (NEW.id); END;
		WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 300)
		INSERT INTO t SELECT i, 'name ' || i, randomblob(i * 37) FROM c`)
	return imageDigest(t, db)
}

// imageDigest sums up the contents fillForImage made.
func imageDigest(t *testing.T, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) string {
	t.Helper()
	var s string
	err := q.QueryRowContext(context.Background(), `SELECT
		(SELECT count(*) || ':' || total(length(data)) || ':' || group_concat(hex(substr(data, 1, 4)) || hex(substr(data, -4)), '')
			FROM (SELECT data FROM t ORDER BY id))
		|| '/' || (SELECT count(*) FROM log) || '/' || (SELECT count(*) FROM v)`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSerializeRoundTrip: a file database's image, through the native Conn
// and through database/sql, starts an in-memory database with the same
// contents, integrity_check ok; the in-memory database's changes reach
// neither the image nor the file; stock SQLite opens the image written to
// a file.
func TestSerializeRoundTrip(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "src.db")
	src := openTestDSN(t, "file:"+filepath.ToSlash(path))
	want := fillForImage(t, src)

	viaSQL, err := Serialize(ctx, src, "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := OpenConn(ctx, "file:"+filepath.ToSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	viaConn, err := c.Serialize(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	if len(viaSQL) == 0 || len(viaSQL)%4096 != 0 || !bytes.Equal(viaSQL[:16], []byte("SQLite format 3\x00")) {
		t.Fatalf("image of %d bytes, header %q", len(viaSQL), viaSQL[:min(16, len(viaSQL))])
	}
	if !bytes.Equal(viaSQL[100:], viaConn[100:]) {
		t.Fatal("the two images differ past the header")
	}
	// WithImage copies: the caller's slice may change before the first
	// connection creates the database.
	arg := bytes.Clone(viaSQL)
	mem := openTestDSN(t, ":memory:", WithImage(arg))
	clear(arg)
	if got := imageDigest(t, mem); got != want {
		t.Fatalf("the in-memory database holds %s, want %s", got, want)
	}
	checkIntegrity(t, mem)
	mustExec(t, mem, "INSERT INTO t VALUES (1000, 'new', x'00')")
	mustExec(t, mem, "DELETE FROM t WHERE id < 100")
	if again, err := Serialize(ctx, src, ""); err != nil || !bytes.Equal(again, viaSQL) {
		t.Fatalf("the file's image changed (%v)", err)
	}
	if got := imageDigest(t, src); got != want {
		t.Fatalf("the file changed: %s", got)
	}
	// The pool may close every connection: the database lives on.
	mem.SetMaxIdleConns(0)
	var n int
	if err := mem.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 202 {
		t.Fatalf("after the pool closed its connections: %d rows, %v", n, err)
	}

	// Written to a file, the image is a database for stock SQLite.
	out := filepath.Join(t.TempDir(), "image.db")
	if err := os.WriteFile(out, viaConn, 0o600); err != nil {
		t.Fatal(err)
	}
	stock, err := sql.Open("sqlite", out)
	if err != nil {
		t.Fatal(err)
	}
	defer stock.Close()
	var ic string
	if err := stock.QueryRow("PRAGMA integrity_check").Scan(&ic); err != nil || ic != "ok" {
		t.Fatalf("stock SQLite: integrity_check %q, %v", ic, err)
	}
	if got := imageDigest(t, stock); got != want {
		t.Fatalf("stock SQLite reads %s, want %s", got, want)
	}
}

// TestSerializeSnapshot: inside a transaction, the image is the
// transaction's snapshot, whatever other connections commit meanwhile.
func TestSerializeSnapshot(t *testing.T) {
	ctx := context.Background()
	db := openTestDSN(t, "file:"+filepath.ToSlash(filepath.Join(t.TempDir(), "snap.db")))
	want := fillForImage(t, db)
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if got := imageDigest(t, tx); got != want {
		t.Fatal(got)
	}
	mustExec(t, db, "INSERT INTO t SELECT id + 1000, name || 'x', randomblob(5000) FROM t")
	image, err := Serialize(ctx, tx, "")
	if err != nil {
		t.Fatal(err)
	}
	mem := openTestDSN(t, ":memory:", WithImage(image))
	if got := imageDigest(t, mem); got != want {
		t.Fatalf("the image inside the transaction holds %s, want the snapshot's %s", got, want)
	}
	checkIntegrity(t, mem)
}

// TestSerializeSchemasAndEmpty: temp and attached schemas serialize; a
// database with no page gives an empty image, which starts an empty
// database; a schema that does not exist fails, naming it.
func TestSerializeSchemasAndEmpty(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	empty, err := Serialize(ctx, openTestDSN(t, "file:"+filepath.ToSlash(filepath.Join(dir, "empty.db"))), "")
	if err != nil || empty == nil || len(empty) != 0 {
		t.Fatalf("image of a new database: %d bytes (nil %v), %v", len(empty), empty == nil, err)
	}
	db := openTestDSN(t, ":memory:", WithImage(empty))
	mustExec(t, db, "CREATE TABLE x(a)")

	other := openTestDSN(t, "file:"+filepath.ToSlash(filepath.Join(dir, "other.db")))
	mustExec(t, other, "CREATE TABLE o(a); INSERT INTO o VALUES ('attached')")
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cexec(t, c, "ATTACH ? AS aux", filepath.Join(dir, "other.db"))
	cexec(t, c, "CREATE TEMP TABLE tt(a); INSERT INTO tt VALUES ('temp')")
	for schema, table := range map[string]string{"aux": "o", "temp": "tt"} {
		image, err := Serialize(ctx, c, schema)
		if err != nil {
			t.Fatalf("%s: %v", schema, err)
		}
		m := openTestDSN(t, ":memory:", WithImage(image))
		var s string
		if err := m.QueryRow("SELECT a FROM " + table).Scan(&s); err != nil || s != map[string]string{"aux": "attached", "temp": "temp"}[schema] {
			t.Fatalf("%s's image: %q, %v", schema, s, err)
		}
	}
	if _, err := Serialize(ctx, c, "nosuch"); err == nil || !strings.Contains(err.Error(), `"nosuch"`) {
		t.Fatalf("a schema that does not exist: %v", err)
	}
}

// TestWithImageNamedAndErrors: a named in-memory database starts from the
// image when the open creates it; another connector with no image shares
// it; one with another image while it is open fails; WithImage refuses
// what is no in-memory database of the engine, and images that are no
// database.
func TestWithImageNamedAndErrors(t *testing.T) {
	src := openTestDB(t, "")
	mustExec(t, src, "CREATE TABLE t(a); INSERT INTO t VALUES ('from the image')")
	image, err := Serialize(context.Background(), src, "")
	if err != nil {
		t.Fatal(err)
	}
	dsn := "file:fixture-" + t.Name() + "?mode=memory"
	a := openTestDSN(t, dsn, WithImage(image))
	var s string
	if err := a.QueryRow("SELECT a FROM t").Scan(&s); err != nil || s != "from the image" {
		t.Fatalf("named database: %q, %v", s, err)
	}
	b := openTestDSN(t, dsn)
	if err := b.QueryRow("SELECT a FROM t").Scan(&s); err != nil || s != "from the image" {
		t.Fatalf("a second connector without the image: %q, %v", s, err)
	}
	otherImage, err := Serialize(context.Background(), openTestDB(t, ""), "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open(dsn, WithImage(otherImage))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Ping(); err == nil || !strings.Contains(err.Error(), "open already") {
		t.Fatalf("another image for an open named database: %v", err)
	}

	for _, tc := range []struct {
		dsn   string
		opts  []Option
		image []byte
		want  string
	}{
		{"file:" + filepath.ToSlash(filepath.Join(t.TempDir(), "f.db")), nil, image, "database file"},
		{":memory:", []Option{WithVFS("memdb")}, image, "memdb"},
		{"file::memory:?cache=shared", nil, image, "shared"},
		{":memory:", nil, nil, "nil"},
		{":memory:", nil, []byte("not a database at all, not even close to one; padded to more than a hundred bytes ......"), "no SQLite database"},
		{":memory:", nil, image[:len(image)-1], "whole number"},
	} {
		_, err := NewConnector(tc.dsn, append(tc.opts, WithImage(tc.image))...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "WithImage") {
			t.Errorf("WithImage for %s: %v, want an error saying %q", tc.dsn, err, tc.want)
		}
	}
}
