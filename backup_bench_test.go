package libsql_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/golibsql/libsql"
	"modernc.org/sqlite"
)

// BenchmarkBackup copies a 32 MiB database (a table with an index, sync=full
// for the copy) into a new file: with Backup, page by page, and with VACUUM
// INTO, which rebuilds every b-tree; and, for reference, with modernc's
// driver's NewBackup (1024 pages a step, as ours) and VACUUM INTO of the
// same database in WAL mode.
//
//	go test -run '^$' -bench Backup -count 6 .
func BenchmarkBackup(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	src := filepath.Join(dir, "src.db")
	db, err := libsql.Open("file:" + filepath.ToSlash(src) + "?sync=normal")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v BLOB);
		WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 100000)
		INSERT INTO t SELECT i, printf('key %08d', (i * 7919) % 100000), randomblob(280) FROM c;
		CREATE INDEX t_k ON t(k)`); err != nil {
		b.Fatal(err)
	}
	// The rows reach the database file first: no checkpoint of them runs
	// during the copies.
	if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		b.Fatal(err)
	}
	var pages int64
	if err := db.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		b.Fatal(err)
	}
	n := 0
	next := func() string {
		n++
		p := filepath.Join(dir, fmt.Sprintf("copy%d.db", n))
		os.Remove(p)
		return p
	}
	b.Run("way=backup/driver=libsql", func(b *testing.B) {
		b.SetBytes(pages * 4096)
		for i := 0; i < b.N; i++ {
			if err := libsql.Backup(ctx, db, "", next(), nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("way=vacuum-into/driver=libsql", func(b *testing.B) {
		b.SetBytes(pages * 4096)
		for i := 0; i < b.N; i++ {
			if _, err := db.Exec("VACUUM INTO ?", next()); err != nil {
				b.Fatal(err)
			}
		}
	})
	db.Close()
	m, err := sql.Open("sqlite", src+"?_pragma=journal_mode(wal)")
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	b.Run("way=backup/driver=modernc", func(b *testing.B) {
		b.SetBytes(pages * 4096)
		for i := 0; i < b.N; i++ {
			sc, err := m.Conn(ctx)
			if err != nil {
				b.Fatal(err)
			}
			err = sc.Raw(func(dc any) error {
				bk, err := dc.(interface {
					NewBackup(string) (*sqlite.Backup, error)
				}).NewBackup(next())
				if err != nil {
					return err
				}
				for more := true; more && err == nil; {
					more, err = bk.Step(1024)
				}
				return errors.Join(err, bk.Finish())
			})
			sc.Close()
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("way=vacuum-into/driver=modernc", func(b *testing.B) {
		b.SetBytes(pages * 4096)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := m.Exec("VACUUM INTO ?", next()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
