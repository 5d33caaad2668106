package libsql_test

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/golibsql/libsql"
)

// benchBlobSize is the value each op of BenchmarkBlobStream stores or
// loads.
const benchBlobSize = 16 << 20

// BenchmarkBlobStream stores and loads a 16 MiB value: whole, as an
// argument of INSERT and a scanned []byte, and streamed, through a Blob
// (zeroblob, then io.Copy a chunk at a time). B/op is the Go memory each
// way allocates per value.
//
//	go test -run '^$' -bench BlobStream -benchmem -count 6 .
func BenchmarkBlobStream(b *testing.B) {
	ctx := context.Background()
	db, err := libsql.Open("file:" + filepath.ToSlash(filepath.Join(b.TempDir(), "blob.db")) + "?sync=normal")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)"); err != nil {
		b.Fatal(err)
	}
	src := bytes.Repeat([]byte("0123456789abcdef"), benchBlobSize/16)
	// The reads need the row when they run alone (-bench op=read), and
	// a checkpoint done beforehand, not in the background during them
	// (its allocations would count in their B/op).
	if _, err := db.Exec("INSERT INTO t VALUES (1, ?)", src); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		b.Fatal(err)
	}
	c, err := db.Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	open := func(rowid int64, write bool) *libsql.Blob {
		var bl *libsql.Blob
		if err := c.Raw(func(dc any) error {
			var err error
			bl, err = dc.(libsql.BlobOpener).OpenBlob(ctx, "", "t", "b", rowid, write)
			return err
		}); err != nil {
			b.Fatal(err)
		}
		return bl
	}
	b.Run("op=write/way=whole", func(b *testing.B) {
		b.SetBytes(benchBlobSize)
		for i := 0; b.Loop(); i++ {
			if _, err := c.ExecContext(ctx, "INSERT OR REPLACE INTO t VALUES (1, ?)", src); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=write/way=stream", func(b *testing.B) {
		b.SetBytes(benchBlobSize)
		for b.Loop() {
			if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
				b.Fatal(err)
			}
			if _, err := c.ExecContext(ctx, "INSERT OR REPLACE INTO t VALUES (1, zeroblob(?))", benchBlobSize); err != nil {
				b.Fatal(err)
			}
			bl := open(1, true)
			if _, err := io.Copy(bl, bytes.NewReader(src)); err != nil {
				b.Fatal(err)
			}
			if err := bl.Close(); err != nil {
				b.Fatal(err)
			}
			if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=read/way=whole", func(b *testing.B) {
		b.SetBytes(benchBlobSize)
		var v []byte
		for b.Loop() {
			if err := c.QueryRowContext(ctx, "SELECT b FROM t WHERE id = 1").Scan(&v); err != nil || len(v) != benchBlobSize {
				b.Fatal(len(v), err)
			}
		}
	})
	b.Run("op=read/way=stream", func(b *testing.B) {
		b.SetBytes(benchBlobSize)
		for b.Loop() {
			bl := open(1, false)
			if n, err := io.Copy(io.Discard, bl); err != nil || n != benchBlobSize {
				b.Fatal(n, err)
			}
			bl.Close()
		}
	})
	var n int64
	if err := db.QueryRow("SELECT length(b) FROM t").Scan(&n); err != nil || n != benchBlobSize {
		b.Fatal(n, err)
	}
}
