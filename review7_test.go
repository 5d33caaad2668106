package libsql

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"
)

// r7Count opens dsn with the libsql driver and returns count(*) of t.
func r7Count(t *testing.T, dsn string) int {
	t.Helper()
	db, err := fsopsOpen(dsn)
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	defer db.Close()
	n, err := fsopsCount(db)
	if err != nil {
		t.Fatalf("count through %s: %v", dsn, err)
	}
	return n
}

// TestReview7SymlinkedPathsStillOpen: O_NOFOLLOW concerns only the last
// component, and FullPathname resolves the database name's links first, so
// every legitimate way of reaching a database through a symbolic link
// still works: a database in a symlinked directory, a symlinked database
// file (absolute or relative link, chains of links), a dangling link that
// names the file to create, ATTACH and VACUUM INTO through links, on both
// backends.
func TestReview7SymlinkedPathsStillOpen(t *testing.T) {
	for _, io := range []string{"portable", "uring"} {
		t.Run(io, func(t *testing.T) {
			q := "?io=" + io
			dir := fsopsTempDir(t)
			realDir := filepath.Join(dir, "real")
			if err := os.Mkdir(realDir, 0o755); err != nil {
				t.Fatal(err)
			}
			linkDir := filepath.Join(dir, "linkdir")
			if err := os.Symlink("real", linkDir); err != nil {
				t.Fatal(err)
			}
			// A database created and reopened inside a symlinked directory.
			inLinked := filepath.Join(linkDir, "a.db")
			fsopsMake(t, inLinked, 3)
			if n := r7Count(t, fsopsURI(inLinked)+q); n != 3 {
				t.Errorf("in a symlinked directory: %d rows, want 3", n)
			}
			if _, err := os.Stat(filepath.Join(realDir, "a.db")); err != nil {
				t.Errorf("the database is not in the link's target directory: %v", err)
			}

			// A symlinked database file, by absolute and by relative link,
			// and a chain of links through the symlinked directory.
			abs := filepath.Join(dir, "abs.db")
			if err := os.Symlink(filepath.Join(realDir, "a.db"), abs); err != nil {
				t.Fatal(err)
			}
			rel := filepath.Join(dir, "rel.db")
			if err := os.Symlink("linkdir/a.db", rel); err != nil {
				t.Fatal(err)
			}
			chain := filepath.Join(linkDir, "chain.db")
			if err := os.Symlink("../rel.db", chain); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{abs, rel, chain} {
				db, err := fsopsOpen(fsopsURI(p) + q)
				if err != nil {
					t.Fatalf("open symlinked file %s: %v", p, err)
				}
				if _, err := db.Exec("INSERT INTO t(y) VALUES ('via link')"); err != nil {
					t.Errorf("write through %s: %v", p, err)
				}
				db.Close()
				if _, err := os.Lstat(p + "-wal"); err == nil {
					t.Errorf("a log was left beside the link %s", p)
				}
			}
			if n := r7Count(t, fsopsURI(inLinked)+q); n != 6 {
				t.Errorf("after writes through links: %d rows, want 6", n)
			}

			// A dangling link names the file to create.
			dangling := filepath.Join(dir, "new.db")
			if err := os.Symlink("real/created.db", dangling); err != nil {
				t.Fatal(err)
			}
			fsopsMake(t, dangling, 2)
			if n := r7Count(t, fsopsURI(filepath.Join(realDir, "created.db"))+q); n != 2 {
				t.Errorf("created through a dangling link: %d rows, want 2", n)
			}

			// ATTACH and VACUUM INTO through links.
			db, err := fsopsOpen(fsopsURI(filepath.Join(dir, "main.db")) + q)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			db.SetMaxOpenConns(1)
			mustExec(t, db, "ATTACH ? AS other", abs)
			var n int
			if err := db.QueryRow("SELECT count(*) FROM other.t").Scan(&n); err != nil || n != 6 {
				t.Errorf("ATTACH through a link: %d rows, %v", n, err)
			}
			mustExec(t, db, "INSERT INTO other.t(y) VALUES ('attached')")
			mustExec(t, db, "DETACH other")
			for _, target := range []string{
				filepath.Join(linkDir, "vac1.db"), // in a symlinked directory
				filepath.Join(dir, "vac2.db"),     // a dangling link
			} {
				if filepath.Base(target) == "vac2.db" {
					if err := os.Symlink("linkdir/vac2-real.db", target); err != nil {
						t.Fatal(err)
					}
				}
				mustExec(t, db, "ATTACH ? AS src", inLinked)
				if _, err := db.Exec("VACUUM src INTO ?", target); err != nil {
					t.Errorf("VACUUM INTO %s: %v", target, err)
				}
				mustExec(t, db, "DETACH src")
				if n := r7Count(t, fsopsURI(target)+q); n != 7 {
					t.Errorf("VACUUM INTO %s: %d rows, want 7", target, n)
				}
			}
		})
	}
}

// TestReview7MemoryNames: in-memory names never reach the file backends.
func TestReview7MemoryNames(t *testing.T) {
	for _, dsn := range []string{":memory:", "file::memory:", "file:r7mem?mode=memory&cache=shared"} {
		db, err := sql.Open("libsql", dsn)
		if err != nil {
			t.Fatalf("%q: %v", dsn, err)
		}
		db.SetMaxOpenConns(1)
		if _, err := db.Exec("CREATE TABLE t(x); INSERT INTO t VALUES (1)"); err != nil {
			t.Errorf("%q: %v", dsn, err)
		}
		db.Close()
	}
}
