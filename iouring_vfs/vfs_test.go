package iouringvfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSmokeCreateInsertReopen(t *testing.T) {
	path := dbPath(t)
	c := openConn(t, path, "libsql_sync=full")
	c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	c.exec("INSERT INTO t(v) VALUES ('a'), ('b'), ('c')")
	if n := c.int("SELECT count(*) FROM t"); n != 3 {
		t.Fatalf("count = %d", n)
	}
	if s := c.text("PRAGMA journal_mode"); s != "wal" {
		t.Fatalf("journal_mode = %q", s)
	}
	t.Log(c.text("PRAGMA libsql_stats"))
	c.Close()
	c = openConn(t, path, "")
	if n := c.int("SELECT count(*) FROM t"); n != 3 {
		t.Fatalf("count after reopen = %d", n)
	}
	if s := c.text("PRAGMA integrity_check"); s != "ok" {
		t.Fatalf("integrity_check: %s", s)
	}
}

// Super-journals (SQLite's "-mj" files, written when a transaction writes
// two attached databases with rollback journals) are in-memory journals
// like the others: Delete and Access must not look for them on disk.
func TestSuperJournalNames(t *testing.T) {
	for name, want := range map[string]bool{
		"/d/main.db-mj1A2B3C9D4":  true,
		"/d/main.db-mj0000009FF":  true,
		"/d/main.db-mj1A2B3C8D4":  false, // the antepenultimate is always 9
		"/d/main.db-mj1a2b3c9d4":  false, // SQLite writes upper-case hex
		"/d/main.db-mj1A2B3C9D":   false,
		"/d/main.db":              false,
		"-mj1A2B3C9D4":            true,
		"/d/x.db-journal":         false,
		"/d/main.db-wj1A2B3C9D4":  false,
		"/d/main.db-mj1A2B3C9D4x": false,
	} {
		if got := isSuperJournal(name); got != want {
			t.Errorf("isSuperJournal(%q) = %v, want %v", name, got, want)
		}
	}
}

// FullPathname resolves symbolic links as stock SQLite's unix VFS does, so
// that the log lives beside the file a link names, where stock SQLite looks
// for it; a link to a file not created yet resolves to the file's name.
func TestFullPathnameResolvesSymlinks(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mk := func(target, link string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "real.db"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	mk("real.db", "link.db")                      // relative target
	mk(filepath.Join(dir, "link.db"), "chain.db") // a link to a link
	mk("sub/new.db", "dangling.db")               // its file does not exist yet
	mk("sub", "subl")                             // a linked directory
	mk("loop2.db", "loop1.db")
	mk("loop1.db", "loop2.db")
	var v VFS
	for name, want := range map[string]string{
		filepath.Join(dir, "real.db"):              filepath.Join(dir, "real.db"),
		filepath.Join(dir, "link.db"):              filepath.Join(dir, "real.db"),
		filepath.Join(dir, "chain.db"):             filepath.Join(dir, "real.db"),
		filepath.Join(dir, "dangling.db"):          filepath.Join(dir, "sub", "new.db"),
		filepath.Join(dir, "subl", "x.db"):         filepath.Join(dir, "sub", "x.db"),
		filepath.Join(dir, "sub", "..", "link.db"): filepath.Join(dir, "real.db"),
		filepath.Join(dir, "nodir", "x.db"):        filepath.Join(dir, "nodir", "x.db"),
	} {
		if got, err := v.FullPathname(name); err != nil || got != want {
			t.Errorf("FullPathname(%s) = %q, %v; want %q", strings.TrimPrefix(name, dir), got, err, strings.TrimPrefix(want, dir))
		}
	}
	if got, err := v.FullPathname(filepath.Join(dir, "loop1.db")); err == nil {
		t.Errorf("FullPathname of a link loop = %q, want an error", got)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	if got, err := v.FullPathname("link.db"); err != nil || got != filepath.Join(dir, "real.db") {
		t.Errorf("FullPathname of a relative name = %q, %v; want %q (working directory was %s)", got, err, filepath.Join(dir, "real.db"), wd)
	}
}
