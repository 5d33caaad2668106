package wal

import (
	"bytes"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
	_ "modernc.org/sqlite" // stock SQLite, for interoperability checks
)

// stockPages returns every page of the database as stock SQLite sees it.
func stockPages(t *testing.T, db *sql.DB) map[PageNo][]byte {
	t.Helper()
	rows, err := db.Query("SELECT pgno, data FROM sqlite_dbpage")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	pages := map[PageNo][]byte{}
	for rows.Next() {
		var p int64
		var data []byte
		if err := rows.Scan(&p, &data); err != nil {
			t.Fatal(err)
		}
		pages[PageNo(p)] = data
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return pages
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func stockWorkload(t *testing.T, db *sql.DB, n int) {
	t.Helper()
	stmts := []string{
		"CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT, b BLOB)",
		"CREATE INDEX IF NOT EXISTS t_v ON t(v)",
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		for j := range 20 {
			k := i*20 + j
			if _, err := tx.Exec("INSERT INTO t(v, b) VALUES (?, randomblob(?))", fmt.Sprintf("row %d", k), 100+k%900); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := tx.Exec("UPDATE t SET v = v || '!' WHERE id % 7 = ?", i%7); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec("DELETE FROM t WHERE id % 11 = ?", i%11); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

// A log written by stock SQLite recovers in ours with identical pages.
func TestRecoverStockSQLiteLog(t *testing.T) {
	forEachFileBackend(t, func(t *testing.T, fs ioback.FS) {
		dir := t.TempDir()
		src := filepath.Join(dir, "stock.db")
		db, err := sql.Open("sqlite", "file:"+src+"?_pragma=journal_mode(WAL)&_pragma=wal_autocheckpoint(0)&_pragma=synchronous(FULL)")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		db.SetMaxOpenConns(1)
		stockWorkload(t, db, 10)
		// A checkpoint in the middle, then more commits: the log then holds
		// frames the main file already has, and newer ones.
		if _, err := db.Exec("PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
			t.Fatal(err)
		}
		stockWorkload(t, db, 10)
		want := stockPages(t, db)
		if fi, err := os.Stat(src + "-wal"); err != nil || fi.Size() == 0 {
			t.Fatalf("stock SQLite left no log: %v", err)
		}
		dst := filepath.Join(dir, "copy.db")
		copyFile(t, src, dst)
		copyFile(t, src+"-wal", dst+"-wal")

		l := openLog(t, fs, dir, "copy.db", Options{})
		if l.PageSize() != len(want[1]) {
			t.Fatalf("page size %d, want %d", l.PageSize(), len(want[1]))
		}
		v := l.Durable()
		if got := l.Size(v); int(got) != len(want) {
			t.Fatalf("size %d pages, want %d", got, len(want))
		}
		buf := make([]byte, l.PageSize())
		for p, data := range want {
			if _, err := l.ReadPage(p, v, buf); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf, data) {
				t.Fatalf("page %d differs from stock SQLite's", p)
			}
		}
		t.Logf("%d pages, %d frames recovered", len(want), l.Stats().Frames)
	})
}

// A log we write opens in stock SQLite with the committed contents.
func TestStockSQLiteReadsOurLog(t *testing.T) {
	forEachFileBackend(t, func(t *testing.T, fs ioback.FS) {
		dir := t.TempDir()
		a := filepath.Join(dir, "a.db")
		db, err := sql.Open("sqlite", "file:"+a)
		if err != nil {
			t.Fatal(err)
		}
		stockWorkload(t, db, 5)
		before := stockPages(t, db)
		db.Close()

		b := filepath.Join(dir, "b.db")
		copyFile(t, a, b)
		db, err = sql.Open("sqlite", "file:"+b)
		if err != nil {
			t.Fatal(err)
		}
		stockWorkload(t, db, 5)
		after := stockPages(t, db)
		var wantCount int
		if err := db.QueryRow("SELECT count(*) FROM t").Scan(&wantCount); err != nil {
			t.Fatal(err)
		}
		db.Close()

		// Our log over a's file, carrying b's changes as one commit.
		target := filepath.Join(dir, "ours.db")
		copyFile(t, a, target)
		l := openLog(t, fs, dir, "ours.db", Options{})
		var pages []Page
		for p, data := range after {
			if p == 1 {
				data = bytes.Clone(data)
				data[18], data[19] = 2, 2 // WAL mode, as the engine writes it
			}
			if !bytes.Equal(before[p], data) {
				pages = append(pages, Page{No: p, Data: data})
			}
		}
		if _, err := l.Commit(pages, uint32(len(after)), true); err != nil {
			t.Fatal(err)
		}
		l.close()

		db, err = sql.Open("sqlite", "file:"+target)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var count int
		var check string
		if err := db.QueryRow("SELECT count(*) FROM t").Scan(&count); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil {
			t.Fatal(err)
		}
		if count != wantCount || check != "ok" {
			t.Fatalf("stock SQLite sees %d rows (want %d), integrity %q", count, wantCount, check)
		}
		got := stockPages(t, db)
		for p, data := range after {
			g := got[p]
			if p == 1 && len(g) > 19 {
				g = bytes.Clone(g)
				g[18], g[19] = 1, 1
			}
			if !bytes.Equal(g, data) {
				t.Fatalf("page %d differs", p)
			}
		}
	})
}

// forEachFileBackend runs f on the backends that use real files: stock
// SQLite reads and writes the same files through the operating system,
// which cannot see the in-memory backend's.
func forEachFileBackend(t *testing.T, f func(t *testing.T, fs ioback.FS)) {
	for _, b := range backends(t) {
		if b.name == "mem" {
			continue
		}
		t.Run(b.name, func(t *testing.T) { f(t, b.fs) })
	}
}
