//go:build linux

package libsql

// Adversarial review: filesystem and operational edge cases a production
// user hits — permissions, odd and linked paths, files changed underneath
// an open database, descriptor limits, and two *sql.DB of one file with
// different settings — compared with stock SQLite (modernc.org/sqlite, unix
// VFS, WAL mode) where the question is "what should happen".
//
// Scenarios that need another user (root ignores file modes) or a lowered
// RLIMIT_NOFILE run in a child process, a re-run of this test binary with
// LIBSQL_FSOPS_CHILD set, which drops to uid/gid 65534 when run as root.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"golang.org/x/sys/unix"
)

const fsopsChildEnv = "LIBSQL_FSOPS_CHILD"

// fsopsIsChild reports whether this process is the child of the test named
// by mode; as root, it drops to uid/gid 65534 first, so that file modes
// apply.
func fsopsIsChild(t *testing.T, mode string) bool {
	t.Helper()
	if os.Getenv(fsopsChildEnv) != mode {
		return false
	}
	if os.Geteuid() == 0 && !strings.HasSuffix(mode, "+root") {
		if err := syscall.Setgroups(nil); err != nil {
			t.Fatalf("setgroups: %v", err)
		}
		if err := syscall.Setresgid(65534, 65534, 65534); err != nil {
			t.Fatalf("setresgid: %v", err)
		}
		if err := syscall.Setresuid(65534, 65534, 65534); err != nil {
			t.Fatalf("setresuid: %v", err)
		}
	}
	return true
}

// fsopsRunChild runs the test named name in a child process with
// LIBSQL_FSOPS_CHILD=mode and fails t with the child's output if the child
// fails or panics.
func fsopsRunChild(t *testing.T, name, mode string, env ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+name+"$", "-test.count=1", "-test.v")
	cmd.Env = append(append(os.Environ(), fsopsChildEnv+"="+mode), env...)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Contains(string(out), "panic:") {
		t.Errorf("child (%s): %v\n%s", mode, err, out)
		return
	}
	if !strings.Contains(string(out), "--- PASS: "+name) {
		t.Errorf("child (%s) did not run the test:\n%s", mode, out)
		return
	}
	t.Logf("child output:\n%s", out)
}

// fsopsTempDir is a temporary directory the child's user may write: the
// child's own t.TempDir (it is that user already).
func fsopsTempDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// fsopsURI is the file: URI of path, %-escaping what SQLite's URI parser
// and this driver's DSN parser would read as syntax.
func fsopsURI(path string) string {
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
}

// fsopsOpen opens dsn with the libsql driver and pings it.
func fsopsOpen(dsn string) (*sql.DB, error) {
	db, err := sql.Open("libsql", dsn)
	if err != nil {
		return nil, err
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// fsopsStockOpen opens path with stock SQLite in WAL mode and pings it.
func fsopsStockOpen(path string, query string) (*sql.DB, error) {
	dsn := fsopsURI(path) + "?_pragma=busy_timeout(2000)"
	if query != "" {
		dsn += "&" + query
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// fsopsCount returns SELECT count(*) FROM t, or an error.
func fsopsCount(db *sql.DB) (int, error) {
	var n int
	err := db.QueryRow("SELECT count(*) FROM t").Scan(&n)
	return n, err
}

// fsopsStockCount is fsopsCount through stock SQLite, opened and closed.
func fsopsStockCount(t *testing.T, path string) (int, error) {
	t.Helper()
	db, err := fsopsStockOpen(path, "")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	return fsopsCount(db)
}

// fsopsStats returns the engine's libsql_stats.
func fsopsStats(t *testing.T, db *sql.DB) map[string]any {
	t.Helper()
	var s string
	if err := db.QueryRow("PRAGMA libsql_stats").Scan(&s); err != nil {
		t.Fatalf("libsql_stats: %v", err)
	}
	m := map[string]any{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("libsql_stats %q: %v", s, err)
	}
	return m
}

func fsopsMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	return fi.Mode().Perm()
}

// fsopsMake creates a database of one table t with n rows at path through
// libsql, and closes it.
func fsopsMake(t *testing.T, path string, n int) {
	t.Helper()
	db, err := fsopsOpen(fsopsURI(path))
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer db.Close()
	mustExec(t, db, "CREATE TABLE t(x INTEGER PRIMARY KEY, y TEXT)")
	for i := range n {
		mustExec(t, db, "INSERT INTO t(y) VALUES (?)", fmt.Sprint("row", i))
	}
}

// ---------------------------------------------------------------------------
// 1. Permissions.

// TestFsopsReviewWalModeFollowsDB: the log holds the newest committed pages,
// so it must be no more readable than the database. Stock SQLite creates
// its -wal (and journals) with the main file's permission bits, whatever
// the umask (unix VFS, findCreateFileMode + robust_open's fchmod): a 0600
// database gets a 0600 -wal. The engine creates <db>-wal with 0644 & ~umask
// (ioback's Open, both backends), so every user on the machine can read
// the rows of a 0600 database committed since the last checkpoint.
// Expected: the -wal's mode equals the database file's.
func TestFsopsReviewWalModeFollowsDB(t *testing.T) {
	for _, perm := range []os.FileMode{0o600, 0o640, 0o660} {
		t.Run(fmt.Sprintf("%04o", perm), func(t *testing.T) {
			for _, drv := range []string{"sqlite", "libsql"} {
				dir := fsopsTempDir(t)
				path := filepath.Join(dir, "secret.db")
				if err := os.WriteFile(path, nil, perm); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, perm); err != nil { // whatever the umask
					t.Fatal(err)
				}
				var db *sql.DB
				var err error
				if drv == "sqlite" {
					db, err = fsopsStockOpen(path, "_pragma=journal_mode(wal)")
				} else {
					db, err = fsopsOpen(fsopsURI(path))
				}
				if err != nil {
					t.Fatalf("%s: open: %v", drv, err)
				}
				mustExec(t, db, "CREATE TABLE t(secret TEXT)")
				mustExec(t, db, "INSERT INTO t VALUES ('password')")
				got := fsopsMode(t, path+"-wal")
				db.Close()
				if got != perm {
					t.Errorf("%s: database %04o, its -wal %04o (stock SQLite gives the -wal the database's mode)", drv, perm, got)
				}
			}
		})
	}
}

// TestFsopsReviewWalModeAfterChmod: the engine leaves <db>-wal on disk after
// a clean close (README), so the mode it was created with outlives a chmod
// of the database: `chmod 600 app.db` (as a user tightening access does)
// leaves app.db-wal 0644, and the next session's commits go to a file
// every user can read. Stock SQLite deletes its -wal at the last close and
// creates it again, with the database's mode, at the next open. Expected:
// once the database is reopened, the -wal is no more permissive than the
// database.
func TestFsopsReviewWalModeAfterChmod(t *testing.T) {
	dir := fsopsTempDir(t)
	path := filepath.Join(dir, "app.db")
	fsopsMake(t, path, 1)
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := fsopsOpen(fsopsURI(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustExec(t, db, "INSERT INTO t(y) VALUES ('secret')")
	if got := fsopsMode(t, path+"-wal"); got&^0o600 != 0 {
		t.Errorf("database 0600, its -wal %04o after reopening, holding the new commit", got)
	}
}

// TestFsopsReviewReadOnlyFile: a database file the process may not write
// (0444, as another user) opened with the default mode (rwc) opens
// read-only, as in stock SQLite: reads work, a write fails with
// ErrReadOnly; and an existing -wal it may not write does not stop reads.
func TestFsopsReviewReadOnlyFile(t *testing.T) {
	if !fsopsIsChild(t, "rofile") {
		fsopsRunChild(t, "TestFsopsReviewReadOnlyFile", "rofile")
		return
	}
	dir := fsopsTempDir(t)
	path := filepath.Join(dir, "ro.db")
	fsopsMake(t, path, 3)
	for _, p := range []string{path, path + "-wal"} {
		if err := os.Chmod(p, 0o444); err != nil {
			t.Fatal(err)
		}
	}
	if f, err := os.OpenFile(path, os.O_RDWR, 0); err == nil {
		f.Close()
		t.Fatal("the file is still writable: not running as an unprivileged user")
	}
	for _, drv := range []string{"sqlite", "libsql"} {
		var db *sql.DB
		var err error
		if drv == "sqlite" {
			db, err = fsopsStockOpen(path, "")
		} else {
			db, err = fsopsOpen(fsopsURI(path))
		}
		if err != nil {
			t.Errorf("%s: open of a 0444 file: %v", drv, err)
			continue
		}
		n, err := fsopsCount(db)
		t.Logf("%s: read: %d %v", drv, n, err)
		if drv == "libsql" && (err != nil || n != 3) {
			t.Errorf("libsql: read of a 0444 file: %d rows, %v; want 3", n, err)
		}
		_, err = db.Exec("INSERT INTO t(y) VALUES ('no')")
		t.Logf("%s: write: %v", drv, err)
		if drv == "libsql" && !errors.Is(err, ErrReadOnly) {
			t.Errorf("libsql: write to a 0444 file: %v, want ErrReadOnly", err)
		}
		db.Close()
	}
}

// TestFsopsReviewReadOnlyDir: a database in a directory the process may
// not write (0555), with no -wal beside it (stock SQLite deletes its log
// at close; or it was copied without one). mode=ro reads it (stock SQLite
// needs immutable=1 here, for want of a -shm). With the default mode the
// log cannot be created: whatever fails must fail with an error that names
// the -wal and says why, not a bare "unable to open database file"; and a
// database whose -wal exists (left by this engine) stays fully usable in
// the read-only directory.
func TestFsopsReviewReadOnlyDir(t *testing.T) {
	if !fsopsIsChild(t, "rodir") {
		fsopsRunChild(t, "TestFsopsReviewReadOnlyDir", "rodir")
		return
	}
	dir := fsopsTempDir(t)
	path := filepath.Join(dir, "x.db")
	fsopsMake(t, path, 3)
	if err := os.Remove(path + "-wal"); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	if f, err := os.Create(filepath.Join(dir, "probe")); err == nil {
		f.Close()
		t.Fatal("the directory is still writable: not running as an unprivileged user")
	}

	// Stock SQLite, for the record.
	for _, q := range []string{"mode=ro", "mode=ro&immutable=1", ""} {
		if db, err := fsopsStockOpen(path, q); err != nil {
			t.Logf("stock %q: open: %v", q, err)
		} else {
			n, err := fsopsCount(db)
			_, werr := db.Exec("INSERT INTO t(y) VALUES ('w')")
			t.Logf("stock %q: read %d %v; write %v", q, n, err, werr)
			db.Close()
		}
	}

	db, err := fsopsOpen(fsopsURI(path) + "?mode=ro")
	if err != nil {
		t.Fatalf("mode=ro in a read-only directory: %v", err)
	}
	if n, err := fsopsCount(db); err != nil || n != 3 {
		t.Errorf("mode=ro in a read-only directory: %d rows, %v; want 3", n, err)
	}
	if _, err := db.Exec("INSERT INTO t(y) VALUES ('w')"); !errors.Is(err, ErrReadOnly) {
		t.Errorf("mode=ro write: %v, want ErrReadOnly", err)
	}
	db.Close()
	if _, err := os.Stat(path + "-wal"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a -wal appeared: %v", err)
	}

	// Default mode: the log cannot be created.
	db, err = sql.Open("libsql", fsopsURI(path))
	if err != nil {
		t.Fatal(err)
	}
	n, rerr := fsopsCount(db)
	_, werr := db.Exec("INSERT INTO t(y) VALUES ('w')")
	db.Close()
	t.Logf("libsql rwc: read %d %v; write %v", n, rerr, werr)
	if werr == nil {
		t.Fatalf("a write succeeded in a read-only directory without a -wal")
	}
	for _, err := range []error{rerr, werr} {
		if err == nil {
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, path+"-wal") || !strings.Contains(msg, "permission denied") {
			t.Errorf("the error does not name %s-wal and say permission denied: %v", path, err)
		}
	}

	// With the -wal there (as this engine leaves it), the database is
	// fully usable although the directory is read-only.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fsopsMake(t, filepath.Join(dir, "y.db"), 2)
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	db, err = fsopsOpen(fsopsURI(filepath.Join(dir, "y.db")))
	if err != nil {
		t.Fatalf("open with an existing -wal in a read-only directory: %v", err)
	}
	defer db.Close()
	if _, err := db.Exec("INSERT INTO t(y) VALUES ('w')"); err != nil {
		t.Errorf("write with an existing -wal in a read-only directory: %v", err)
	}
	if n, err := fsopsCount(db); err != nil || n != 3 {
		t.Errorf("read back: %d, %v; want 3", n, err)
	}
	checkIntegrity(t, db)
}

// TestFsopsReviewWalNotWritable: a writable database whose existing -wal
// the process may not write (left by another user, or chmod'ed 0444).
// Stock SQLite opens such a log read-only: reads give the committed rows
// and a write fails with "attempt to write a readonly database"
// (SQLITE_READONLY). The engine opens the log with O_RDWR only (openEngine;
// VFS.fileEngine falls back to read-only for the database file, never for
// the log), so every statement, reads included, fails with
// SQLITE_CANTOPEN "open log ...-wal: permission denied". The error is
// clear, but a read-only deployment (a reader user beside the owner)
// that works with stock SQLite does not work here. Expected: as the
// README promises for "a file the process may not write": open read-only,
// reads work, writes fail with ErrReadOnly.
func TestFsopsReviewWalNotWritable(t *testing.T) {
	if !fsopsIsChild(t, "rowal") {
		fsopsRunChild(t, "TestFsopsReviewWalNotWritable", "rowal")
		return
	}
	dir := fsopsTempDir(t)
	path := filepath.Join(dir, "x.db")
	fsopsMake(t, path, 3)
	if err := os.Chmod(path+"-wal", 0o444); err != nil {
		t.Fatal(err)
	}
	if db, err := fsopsStockOpen(path, ""); err != nil {
		t.Logf("stock: open: %v", err)
	} else {
		n, err := fsopsCount(db)
		_, werr := db.Exec("INSERT INTO t(y) VALUES ('stock')")
		t.Logf("stock: read %d %v; write %v", n, err, werr)
		db.Close()
	}
	db, err := sql.Open("libsql", fsopsURI(path))
	if err != nil {
		t.Fatal(err)
	}
	n, rerr := fsopsCount(db)
	_, werr := db.Exec("INSERT INTO t(y) VALUES ('w')")
	db.Close()
	t.Logf("libsql: read %d %v; write %v", n, rerr, werr)
	if rerr != nil || n != 3 {
		t.Errorf("read with a read-only -wal: %d rows, %v; want 3 as stock SQLite reads", n, rerr)
	}
	if !errors.Is(werr, ErrReadOnly) {
		t.Errorf("write with a read-only -wal: %v; want ErrReadOnly as stock SQLite", werr)
	}
	if err := os.Chmod(path+"-wal", 0o644); err != nil {
		t.Fatal(err)
	}
	if c, err := fsopsStockCount(t, path); err != nil || c != 3 {
		t.Errorf("after restoring the mode, stock reads %d rows, %v; want 3", c, err)
	}
}

// ---------------------------------------------------------------------------
// 2. Paths.

// TestFsopsReviewOddPathNames: directory and file names with spaces,
// unicode, '?', '#' and '%', through a %-escaped file: URI and, where the
// DSN syntax allows, a plain path: the file is created at exactly that
// name, its log beside it as name+"-wal", nothing else appears, the data
// survives a reopen by the other spelling, and stock SQLite reads it.
// A plain path with '?' is not a name: it is an error, and creates no file
// named after its part before the '?'.
func TestFsopsReviewOddPathNames(t *testing.T) {
	names := []string{"with space.db", "ünï—cødé 数据.db", "q?mark.db", "hash#tag.db", "pct%41.db", "pct%.db", "a%3Fb.db", "+plus+.db"}
	for i, name := range names {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			sub := filepath.Join(fsopsTempDir(t), "dir ?#% ü")
			if err := os.Mkdir(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(sub, name)
			db, err := fsopsOpen(fsopsURI(path) + "?sync=normal")
			if err != nil {
				t.Fatalf("open %q: %v", path, err)
			}
			mustExec(t, db, "CREATE TABLE t(x)")
			mustExec(t, db, "INSERT INTO t VALUES (1)")
			ents, _ := os.ReadDir(sub)
			var got []string
			for _, e := range ents {
				got = append(got, e.Name())
			}
			if want := []string{name, name + "-wal"}; strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("files in the directory: %q, want %q", got, want)
			}
			db.Close()
			if !strings.Contains(path, "?") {
				// The plain path is the same database.
				db, err := fsopsOpen(path)
				if err != nil {
					t.Fatalf("open plain %q: %v", path, err)
				}
				mustExec(t, db, "INSERT INTO t VALUES (2)")
				if n, err := fsopsCount(db); err != nil || n != 2 {
					t.Errorf("by the plain path: %d rows, %v; want 2", n, err)
				}
				db.Close()
			} else {
				if db, err := fsopsOpen(path); err == nil {
					db.Close()
					t.Errorf("plain path %q with '?' opened", path)
				}
				before, _, _ := strings.Cut(path, "?")
				if _, err := os.Stat(before); err == nil {
					t.Errorf("plain path %q created %q", path, before)
				}
				db, err := fsopsOpen(fsopsURI(path))
				if err != nil {
					t.Fatal(err)
				}
				mustExec(t, db, "INSERT INTO t VALUES (2)")
				db.Close()
			}
			if n, err := fsopsStockCount(t, path); err != nil || n != 2 {
				t.Errorf("stock SQLite reads %d rows, %v; want 2", n, err)
			}
		})
	}
}

// TestFsopsReviewPathIsDirectory: a DSN naming a directory fails, in every
// mode, with an error naming the path; nothing is created beside it (no
// "<dir>-wal") and nothing panics. Stock SQLite: "unable to open database
// file".
func TestFsopsReviewPathIsDirectory(t *testing.T) {
	dir := filepath.Join(fsopsTempDir(t), "adir")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if db, err := fsopsStockOpen(dir, ""); err == nil {
		_, err = fsopsCount(db)
		t.Logf("stock: %v", err)
		db.Close()
	} else {
		t.Logf("stock: %v", err)
	}
	for _, mode := range []string{"", "?mode=ro", "?mode=rw", "?io=portable"} {
		db, err := sql.Open("libsql", fsopsURI(dir)+mode)
		if err != nil {
			t.Fatal(err)
		}
		_, rerr := db.Exec("CREATE TABLE IF NOT EXISTS t(x)")
		var n int
		qerr := db.QueryRow("SELECT count(*) FROM sqlite_master").Scan(&n)
		db.Close()
		t.Logf("%q: exec %v; query %d %v", mode, rerr, n, qerr)
		for _, err := range []error{rerr, qerr} {
			if err == nil {
				t.Errorf("%q: a statement on a directory succeeded", mode)
			} else if !strings.Contains(err.Error(), dir) {
				t.Errorf("%q: the error does not name %s: %v", mode, dir, err)
			}
		}
		if _, err := os.Stat(dir + "-wal"); err == nil {
			t.Errorf("%q: %s-wal was created", mode, dir)
			os.Remove(dir + "-wal")
		}
	}
}

// TestFsopsReviewMissingDirectory: a database in a directory that does not
// exist fails, in every mode, with an error that names the path and says
// it does not exist; no directory is created.
func TestFsopsReviewMissingDirectory(t *testing.T) {
	base := fsopsTempDir(t)
	path := filepath.Join(base, "missing", "x.db")
	for _, mode := range []string{"", "?mode=ro", "?mode=rw"} {
		db, err := sql.Open("libsql", fsopsURI(path)+mode)
		if err != nil {
			t.Fatal(err)
		}
		err = db.Ping()
		db.Close()
		if err == nil {
			t.Errorf("%q: opened a database in a missing directory", mode)
			continue
		}
		if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "no such file or directory") {
			t.Errorf("%q: the error does not name %s and say why: %v", mode, path, err)
		}
		var e *Error
		if !errors.As(err, &e) || e.Code() != CANTOPEN {
			t.Errorf("%q: %v is not SQLITE_CANTOPEN", mode, err)
		}
	}
	if _, err := os.Stat(filepath.Join(base, "missing")); err == nil {
		t.Errorf("the missing directory was created")
	}
}

// TestFsopsReviewSymlinks: a database opened by its real path and by a
// symbolic link to the file, or through a symbolic link to its directory,
// is one database: each *sql.DB sees the other's commits at once, the log
// is beside the real file only, and after both close, stock SQLite reads
// every row by either name.
func TestFsopsReviewSymlinks(t *testing.T) {
	for _, kind := range []string{"file", "dir", "relative-file"} {
		t.Run(kind, func(t *testing.T) {
			base := fsopsTempDir(t)
			realDir := filepath.Join(base, "real")
			if err := os.Mkdir(realDir, 0o755); err != nil {
				t.Fatal(err)
			}
			real := filepath.Join(realDir, "x.db")
			var link string
			switch kind {
			case "file":
				link = filepath.Join(base, "link.db")
				if err := os.Symlink(real, link); err != nil {
					t.Fatal(err)
				}
			case "relative-file":
				link = filepath.Join(base, "rel.db")
				if err := os.Symlink("real/x.db", link); err != nil {
					t.Fatal(err)
				}
			case "dir":
				if err := os.Symlink(realDir, filepath.Join(base, "linkdir")); err != nil {
					t.Fatal(err)
				}
				link = filepath.Join(base, "linkdir", "x.db")
			}
			// The link is opened first: it decides the engine's name.
			b, err := fsopsOpen(fsopsURI(link))
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			a, err := fsopsOpen(fsopsURI(real))
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			mustExec(t, b, "CREATE TABLE t(x)")
			for i := range 50 {
				db := a
				if i%2 == 1 {
					db = b
				}
				mustExec(t, db, "INSERT INTO t VALUES (?)", i)
				for _, r := range []*sql.DB{a, b} {
					if n, err := fsopsCount(r); err != nil || n != i+1 {
						t.Fatalf("after insert %d: %d rows, %v", i, n, err)
					}
				}
			}
			if _, err := os.Stat(real + "-wal"); err != nil {
				t.Errorf("no log beside the real file: %v", err)
			}
			if kind != "dir" {
				if _, err := os.Lstat(link + "-wal"); err == nil {
					t.Errorf("a log beside the link %s", link)
				}
			}
			// Stock SQLite in another "process" is kept out by either name.
			if s, err := sql.Open("sqlite", fsopsURI(link)); err == nil {
				if n, err := fsopsCount(s); err == nil {
					t.Errorf("stock SQLite read %d rows while the engine owns the file", n)
				}
				s.Close()
			}
			checkIntegrity(t, a)
			a.Close()
			b.Close()
			for _, p := range []string{real, link} {
				if n, err := fsopsStockCount(t, p); err != nil || n != 50 {
					t.Errorf("stock by %s: %d rows, %v; want 50", p, n, err)
				}
			}
		})
	}
}

// TestFsopsReviewHardLink: two hard links of one file are one engine (it
// is keyed by device and inode): both *sql.DB see each other's commits, and
// the log used is the first name's (name1-wal); name2-wal is never created
// while the engine is open. After a clean close both names hold every row
// for stock SQLite, and a reopen by the second name alone sees them.
func TestFsopsReviewHardLink(t *testing.T) {
	dir := fsopsTempDir(t)
	n1, n2 := filepath.Join(dir, "one.db"), filepath.Join(dir, "two.db")
	fsopsMake(t, n1, 1)
	if err := os.Link(n1, n2); err != nil {
		t.Fatal(err)
	}
	a, err := fsopsOpen(fsopsURI(n1))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := fsopsOpen(fsopsURI(n2))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := range 20 {
		db := a
		if i%2 == 1 {
			db = b
		}
		mustExec(t, db, "INSERT INTO t(y) VALUES ('h')")
		for _, r := range []*sql.DB{a, b} {
			if n, err := fsopsCount(r); err != nil || n != i+2 {
				t.Fatalf("after insert %d: %d rows, %v", i, n, err)
			}
		}
	}
	if _, err := os.Stat(n2 + "-wal"); err == nil {
		t.Errorf("%s-wal exists: two logs for one file", n2)
	}
	a.Close()
	b.Close()
	for _, p := range []string{n1, n2} {
		if n, err := fsopsStockCount(t, p); err != nil || n != 21 {
			t.Errorf("stock by %s: %d rows, %v; want 21", p, n, err)
		}
	}
	db, err := fsopsOpen(fsopsURI(n2))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n, err := fsopsCount(db); err != nil || n != 21 {
		t.Errorf("reopen by %s: %d rows, %v; want 21", n2, n, err)
	}
	checkIntegrity(t, db)
}

// ---------------------------------------------------------------------------
// 3. Files changed underneath.

// TestFsopsReviewStaleWalBesideNewDB: a -wal holding committed frames is
// left beside a database file that is then deleted (`rm app.db`, leaving
// app.db-wal, which this engine never deletes; a crash left frames in it;
// or a backup restore put only the main file back). A new database
// created at that path must start empty: stock SQLite deletes the log of a
// database of zero pages when it opens it (pager.c,
// pagerOpenWalIfPresent), so the old frames never come back. The engine
// replays them into the new database: the deleted database's table and
// rows reappear in a file the user just created.
func TestFsopsReviewStaleWalBesideNewDB(t *testing.T) {
	dir := fsopsTempDir(t)
	old := filepath.Join(dir, "old.db")
	db, err := fsopsOpen(fsopsURI(old))
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "CREATE TABLE t(x INTEGER PRIMARY KEY, y TEXT)")
	mustExec(t, db, "INSERT INTO t(y) VALUES ('from the deleted database')")
	// The log as a crash would leave it: commits not yet checkpointed.
	stale, err := os.ReadFile(old + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if len(stale) <= 32 {
		t.Fatalf("the log holds no frames (%d bytes)", len(stale))
	}
	for _, drv := range []string{"sqlite", "libsql"} {
		path := filepath.Join(dir, drv+".db")
		if err := os.WriteFile(path+"-wal", stale, 0o644); err != nil {
			t.Fatal(err)
		}
		var db *sql.DB
		if drv == "sqlite" {
			db, err = fsopsStockOpen(path, "")
		} else {
			db, err = fsopsOpen(fsopsURI(path))
		}
		if err != nil {
			t.Fatalf("%s: open: %v", drv, err)
		}
		var n int
		if err := db.QueryRow("SELECT count(*) FROM sqlite_master").Scan(&n); err != nil {
			t.Errorf("%s: %v", drv, err)
		} else if n != 0 {
			t.Errorf("%s: the new database at %s has %d schema entries from the stale -wal beside it, want 0", drv, path, n)
		}
		// A new database must take a page size of its own.
		if _, err := db.Exec("PRAGMA page_size=8192; CREATE TABLE IF NOT EXISTS fresh(x); INSERT INTO fresh VALUES (1)"); err != nil {
			t.Errorf("%s: create in the new database: %v", drv, err)
		}
		var ps int
		db.QueryRow("PRAGMA page_size").Scan(&ps)
		if n == 0 && ps != 8192 {
			t.Errorf("%s: page_size %d, want 8192", drv, ps)
		}
		db.Close()
	}
}

// TestFsopsReviewEmptyWalBesideNewDB: this engine leaves <db>-wal behind
// after every clean close (README: "the engine leaves <db>-wal empty"), so
// `rm app.db` (the obvious way to start over) leaves app.db-wal, a log
// header of the old database's page size and sequence. A new database
// created at the path must behave like a new database: it takes
// PRAGMA page_size like any other, and has no tables.
func TestFsopsReviewEmptyWalBesideNewDB(t *testing.T) {
	dir := fsopsTempDir(t)
	path := filepath.Join(dir, "app.db")
	fsopsMake(t, path, 5)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Fatalf("no -wal left: %v", err)
	}
	db, err := fsopsOpen(fsopsURI(path) + "?_pragma=page_size(8192)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM sqlite_master").Scan(&n); err != nil || n != 0 {
		t.Errorf("new database: %d schema entries, %v; want 0", n, err)
	}
	if _, err := db.Exec("CREATE TABLE fresh(x); INSERT INTO fresh VALUES (1)"); err != nil {
		t.Fatalf("create in the new database: %v", err)
	}
	var ps int
	if err := db.QueryRow("PRAGMA page_size").Scan(&ps); err != nil || ps != 8192 {
		t.Errorf("page_size %d, %v; want 8192", ps, err)
	}
	checkIntegrity(t, db)
}

// TestFsopsReviewRecreatedPathWhileOpen: while a database is open, its
// file is unlinked or renamed away (log rotation, a backup script's
// `mv app.db app.db.bak`, a test fixture's `rm`) and a new database is
// created at the path, by the same process. The engine is keyed by inode,
// so the new file gets a new engine — but both engines use the same
// <path>-wal: the new one replays the old database's frames into the new
// file (its table and rows appear in a database just created), and from
// then on both engines append to that one file. Stock SQLite (whose
// documentation lists "unlinking or renaming a database file while in
// use" among the ways to corrupt one) gets this case right: opening a
// database of zero pages deletes the -wal beside it, so the new database
// is empty (logged below) and the old connection keeps its unlinked log.
// Expected: the new database is empty and stays consistent, and the old
// one's commits are all there after it closes.
func TestFsopsReviewRecreatedPathWhileOpen(t *testing.T) {
	for _, how := range []string{"unlink", "rename"} {
		t.Run(how, func(t *testing.T) {
			dir := fsopsTempDir(t)
			path := filepath.Join(dir, "app.db")
			moved := filepath.Join(dir, "app.db.bak")
			{ // stock SQLite, for the record
				sp := filepath.Join(dir, "stock.db")
				sa, err := fsopsStockOpen(sp, "_pragma=journal_mode(wal)")
				if err != nil {
					t.Fatal(err)
				}
				mustExec(t, sa, "CREATE TABLE t(x)")
				mustExec(t, sa, "INSERT INTO t VALUES (1)")
				if how == "unlink" {
					os.Remove(sp)
				} else {
					os.Rename(sp, sp+".bak")
				}
				sb, err := fsopsStockOpen(sp, "_pragma=journal_mode(wal)")
				if err == nil {
					var n int
					err = sb.QueryRow("SELECT count(*) FROM sqlite_master").Scan(&n)
					t.Logf("stock: the new database at the path: %d schema entries, %v", n, err)
					sb.Close()
				} else {
					t.Logf("stock: open of the new database: %v", err)
				}
				sa.Close()
			}
			a, err := fsopsOpen(fsopsURI(path))
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			mustExec(t, a, "CREATE TABLE t(x INTEGER PRIMARY KEY, y TEXT)")
			for range 10 {
				mustExec(t, a, "INSERT INTO t(y) VALUES ('old')")
			}
			if how == "unlink" {
				err = os.Remove(path)
			} else {
				err = os.Rename(path, moved)
			}
			if err != nil {
				t.Fatal(err)
			}
			// The open database goes on working.
			mustExec(t, a, "INSERT INTO t(y) VALUES ('old, after')")
			b, err := fsopsOpen(fsopsURI(path))
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			var n int
			if err := b.QueryRow("SELECT count(*) FROM sqlite_master").Scan(&n); err != nil || n != 0 {
				t.Errorf("the new database at the path: %d schema entries, %v; want 0 (it sees the old database's log)", n, err)
			}
			_, err = b.Exec("CREATE TABLE IF NOT EXISTS fresh(x)")
			if err == nil {
				_, err = b.Exec("INSERT INTO fresh VALUES (1)")
			}
			if err != nil {
				t.Errorf("write to the new database: %v", err)
			}
			// Both write, interleaved.
			for i := range 200 {
				if _, err := a.Exec("INSERT INTO t(y) VALUES ('old, later')"); err != nil {
					t.Errorf("old database, insert %d: %v", i, err)
					break
				}
				if _, err := b.Exec("INSERT INTO fresh VALUES (?)", i); err != nil {
					t.Errorf("new database, insert %d: %v", i, err)
					break
				}
			}
			if n, err := fsopsCount(a); err != nil || n != 211 {
				t.Errorf("old database: %d rows, %v; want 211", n, err)
			}
			var nf int
			if err := b.QueryRow("SELECT count(*) FROM fresh").Scan(&nf); err != nil || nf != 201 {
				t.Errorf("new database: %d rows in fresh, %v; want 201", nf, err)
			}
			checkIntegrity(t, a)
			checkIntegrity(t, b)
			if err := a.Close(); err != nil {
				t.Errorf("close the old database: %v", err)
			}
			if err := b.Close(); err != nil {
				t.Errorf("close the new database: %v", err)
			}
			if how == "rename" {
				if n, err := fsopsStockCount(t, moved); err != nil || n != 211 {
					t.Errorf("the renamed database, reopened: %d rows, %v; want 211", n, err)
				}
			}
			s, err := fsopsStockOpen(path, "")
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var tables string
			s.QueryRow("SELECT group_concat(name) FROM sqlite_master").Scan(&tables)
			if tables != "fresh" {
				t.Errorf("the new database, reopened, has tables %q, want fresh", tables)
			}
			if err := s.QueryRow("SELECT count(*) FROM fresh").Scan(&nf); err != nil || nf != 201 {
				t.Errorf("the new database, reopened: %d rows in fresh, %v; want 201", nf, err)
			}
			var ic string
			if err := s.QueryRow("PRAGMA integrity_check").Scan(&ic); err != nil || ic != "ok" {
				t.Errorf("the new database, reopened: integrity_check %q, %v", ic, err)
			}
		})
	}
}

// TestFsopsReviewWalDeletedWhileOpen: a user deletes <db>-wal while the
// database is open (a cleanup script "removing temporary files"). The
// engine keeps writing to the unlinked log, so nothing is lost by a clean
// close: its final checkpoint copies every commit into the main file, as
// stock SQLite's last close does. After reopening, every row is there, the
// database is consistent, and stock SQLite agrees.
func TestFsopsReviewWalDeletedWhileOpen(t *testing.T) {
	for _, drv := range []string{"sqlite", "libsql"} {
		t.Run(drv, func(t *testing.T) {
			path := filepath.Join(fsopsTempDir(t), "x.db")
			open := func() *sql.DB {
				var db *sql.DB
				var err error
				if drv == "sqlite" {
					db, err = fsopsStockOpen(path, "_pragma=journal_mode(wal)")
				} else {
					db, err = fsopsOpen(fsopsURI(path))
				}
				if err != nil {
					t.Fatal(err)
				}
				return db
			}
			db := open()
			mustExec(t, db, "CREATE TABLE t(x INTEGER PRIMARY KEY, y TEXT)")
			for range 20 {
				mustExec(t, db, "INSERT INTO t(y) VALUES ('before')")
			}
			if err := os.Remove(path + "-wal"); err != nil {
				t.Fatal(err)
			}
			for range 30 {
				mustExec(t, db, "INSERT INTO t(y) VALUES ('after')")
			}
			if n, err := fsopsCount(db); err != nil || n != 50 {
				t.Errorf("before close: %d rows, %v", n, err)
			}
			if err := db.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
			db = open()
			defer db.Close()
			if n, err := fsopsCount(db); err != nil || n != 50 {
				t.Errorf("after reopen: %d rows, %v; want 50", n, err)
			}
			checkIntegrity(t, db)
			db.Close()
			if n, err := fsopsStockCount(t, path); err != nil || n != 50 {
				t.Errorf("stock after reopen: %d rows, %v; want 50", n, err)
			}
		})
	}
}

// TestFsopsReviewTruncatedUnderneath: another process truncates the
// database file while it is open (`> app.db`, a botched restore or copy),
// to 0 bytes or to half its size. What the engine still has (its log, its
// caches) may answer, but every answer must be either right or an error:
// no panic, no wrong count; and a reopen must not show a database that
// lost rows as healthy (a 0-byte file is an empty database, to stock
// SQLite too: "no such table" is right there).
func TestFsopsReviewTruncatedUnderneath(t *testing.T) {
	for _, frac := range []int{0, 2} {
		t.Run(fmt.Sprint("size/", frac), func(t *testing.T) {
			path := filepath.Join(fsopsTempDir(t), "x.db")
			db, err := fsopsOpen(fsopsURI(path))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			mustExec(t, db, "CREATE TABLE t(x INTEGER PRIMARY KEY, y TEXT)")
			mustExec(t, db, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 2000) INSERT INTO t(y) SELECT printf('row %d %s', i, zeroblob(100)) FROM c")
			mustExec(t, db, "PRAGMA wal_checkpoint(TRUNCATE)")
			const want = 2000
			size := int64(0)
			if frac != 0 {
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				size = fi.Size() / int64(frac)
			}
			if err := os.Truncate(path, size); err != nil {
				t.Fatal(err)
			}
			// Fresh connections too, with empty SQLite caches.
			db.SetMaxIdleConns(0)
			check := func(what string) {
				t.Helper()
				n, err := fsopsCount(db)
				var sum int64
				if err == nil {
					err = db.QueryRow("SELECT sum(length(y)) FROM t").Scan(&sum)
				}
				switch {
				case err != nil:
					t.Logf("%s: %v", what, err)
				case n != want && n != want+1:
					t.Errorf("%s: count(*) = %d with no error, want %d or an error", what, n, want)
				}
			}
			check("read after truncation")
			_, werr := db.Exec("INSERT INTO t(y) VALUES ('after truncation')")
			t.Logf("write after truncation: %v", werr)
			check("read after a write")
			_, cerr := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
			t.Logf("checkpoint after truncation: %v", cerr)
			check("read after a checkpoint")
			db.Close()

			for _, drv := range []string{"libsql", "sqlite"} {
				var db2 *sql.DB
				if drv == "libsql" {
					db2, err = fsopsOpen(fsopsURI(path))
				} else {
					db2, err = fsopsStockOpen(path, "")
				}
				if err != nil {
					t.Logf("%s: reopen: %v", drv, err)
					continue
				}
				n, err := fsopsCount(db2)
				var ic string
				icErr := db2.QueryRow("PRAGMA integrity_check").Scan(&ic)
				db2.Close()
				t.Logf("%s: reopen: count %d %v; integrity_check %q %v", drv, n, err, ic, icErr)
				if err == nil && icErr == nil && ic == "ok" && n != want && n != want+1 {
					t.Errorf("%s: reopened: %d rows and integrity_check ok: rows lost silently", drv, n)
				}
			}
		})
	}
}

// ---------------------------------------------------------------------------
// 4. Descriptor limits.

// fsopsFDs counts this process's open descriptors.
func fsopsFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents) - 1 // ReadDir's own
}

// fsopsMaxFD returns the highest descriptor number open in this process.
func fsopsMaxFD(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	max := -1
	for _, e := range ents {
		var n int
		if _, err := fmt.Sscan(e.Name(), &n); err == nil && n > max {
			max = n
		}
	}
	return max - 1 // not ReadDir's own, the newest
}

// fsopsFillHoles opens /dev/null into every free descriptor number below
// the highest open one, so that the next descriptor is the highest plus 1.
func fsopsFillHoles(t *testing.T) []*os.File {
	t.Helper()
	max := fsopsMaxFD(t)
	var fs []*os.File
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		if int(f.Fd()) > max {
			f.Close()
			return fs
		}
		fs = append(fs, f)
	}
}

// TestFsopsReviewNoFileLimit: in a child process with a low RLIMIT_NOFILE,
// for io=portable and io=uring: opening databases until EMFILE fails with
// an error (no panic) that says "too many open files" and names the file;
// a failure between the database file and its -wal (one descriptor left)
// names the -wal, leaks nothing and leaves no stale state: the same path
// opens once descriptors are free again; the databases already open keep
// working; closing one lets the failed open succeed.
func TestFsopsReviewNoFileLimit(t *testing.T) {
	if !fsopsIsChild(t, "nofile+root") {
		fsopsRunChild(t, "TestFsopsReviewNoFileLimit", "nofile+root")
		return
	}
	for _, io := range []string{"portable", "uring"} {
		t.Run(io, func(t *testing.T) {
			dir := fsopsTempDir(t)
			open := func(p string) (*sql.DB, error) {
				db, err := sql.Open("libsql", fsopsURI(p)+"?io="+io)
				if err != nil {
					return nil, err
				}
				db.SetMaxOpenConns(1)
				_, err = db.Exec("CREATE TABLE IF NOT EXISTS t(x INTEGER PRIMARY KEY, y TEXT); INSERT INTO t(y) VALUES ('x')")
				if err != nil {
					db.Close()
					return nil, err
				}
				return db, nil
			}
			warm, err := open(filepath.Join(dir, "warm.db"))
			if err != nil {
				if io == "uring" {
					t.Skipf("io=uring: %v", err)
				}
				t.Fatal(err)
			}
			warm.Close()
			var old unix.Rlimit
			if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
				t.Fatal(err)
			}
			defer unix.Setrlimit(unix.RLIMIT_NOFILE, &old)
			setLimit := func(n int) {
				t.Helper()
				lim := unix.Rlimit{Cur: uint64(n), Max: old.Max}
				if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
					t.Fatal(err)
				}
			}
			setLimit(fsopsFDs(t) + 30)
			var dbs []*sql.DB
			defer func() {
				for _, db := range dbs {
					db.Close()
				}
			}()
			var failed string
			var openErr error
			for i := range 100 {
				p := filepath.Join(dir, fmt.Sprintf("db%03d.db", i))
				db, err := open(p)
				if err != nil {
					failed, openErr = p, err
					break
				}
				dbs = append(dbs, db)
			}
			if openErr == nil {
				t.Fatal("100 databases opened under the limit")
			}
			t.Logf("database %d: %v", len(dbs), openErr)
			if !strings.Contains(openErr.Error(), "too many open files") || !strings.Contains(openErr.Error(), filepath.Base(failed)) {
				t.Errorf("the error does not say \"too many open files\" and name %s: %v", filepath.Base(failed), openErr)
			}
			for i, db := range dbs {
				if _, err := db.Exec("INSERT INTO t(y) VALUES ('more')"); err != nil {
					t.Errorf("database %d at the limit: %v", i, err)
					break
				}
			}
			// Exactly one descriptor free: the database file opens, its
			// -wal does not.
			dbs[0].Close()
			dbs = dbs[1:]
			p := filepath.Join(dir, "onefree.db")
			setLimit(int(old.Cur))
			holes := fsopsFillHoles(t)
			fds := fsopsFDs(t)
			setLimit(fsopsMaxFD(t) + 2)
			_, err = open(p)
			t.Logf("one descriptor free: %v", err)
			if err == nil {
				t.Errorf("opened a database with one descriptor free")
			} else if !strings.Contains(err.Error(), "too many open files") {
				t.Errorf("one descriptor free: %v, want \"too many open files\"", err)
			}
			if now := fsopsFDs(t); now != fds {
				t.Errorf("the failed open leaked %d descriptors", now-fds)
			}
			setLimit(fds + 30)
			for _, f := range holes {
				f.Close()
			}
			db, err := open(p)
			if err != nil {
				t.Fatalf("the same path once descriptors are free: %v", err)
			}
			dbs = append(dbs, db)
			db, err = open(failed)
			if err != nil {
				t.Errorf("the first failed path once descriptors are free: %v", err)
			} else {
				dbs = append(dbs, db)
			}
			for _, db := range dbs {
				checkIntegrity(t, db)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// 6. Two *sql.DB of one file with different settings.

// TestFsopsReviewMixedSettings: two *sql.DB on one file with conflicting
// engine settings. As the README says, the first connection in the process
// decides io and page_cache (the second's are ignored, silently), while
// sync applies per connection: commits of a sync=full DB wait for an
// fdatasync even on an engine a sync=off DB opened, and commits of a
// sync=off DB do not sync on an engine a sync=full DB opened. Both see
// each other's commits.
func TestFsopsReviewMixedSettings(t *testing.T) {
	uring := true
	probe := filepath.Join(fsopsTempDir(t), "probe.db")
	if db, err := fsopsOpen(fsopsURI(probe) + "?io=uring"); err != nil {
		uring = false
	} else {
		db.Close()
	}
	type side struct{ q, io string }
	cases := [][2]side{
		{{"sync=off&page_cache=0&io=portable", "portable"}, {"sync=full&page_cache=100&io=uring", "uring"}},
		{{"sync=full&page_cache=100&io=uring", "uring"}, {"sync=off&page_cache=0&io=portable", "portable"}},
	}
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if !uring && strings.Contains(c[0].q+c[1].q, "io=uring") {
				t.Skip("io_uring refused here")
			}
			path := filepath.Join(fsopsTempDir(t), "x.db")
			first, err := fsopsOpen(fsopsURI(path) + "?" + c[0].q)
			if err != nil {
				t.Fatal(err)
			}
			defer first.Close()
			mustExec(t, first, "CREATE TABLE t(x INTEGER PRIMARY KEY, y TEXT)")
			second, err := fsopsOpen(fsopsURI(path) + "?" + c[1].q)
			if err != nil {
				t.Fatalf("second *sql.DB with other settings: %v", err)
			}
			defer second.Close()
			st := fsopsStats(t, second)
			if st["io"] != c[0].io {
				t.Errorf("io %v, want the first DB's %s", st["io"], c[0].io)
			}
			wantCache := 100.0
			if strings.Contains(c[0].q, "page_cache=0") {
				wantCache = 0
			}
			// The capacity is rounded up to whole shards.
			if got, _ := st["cache_capacity_pages"].(float64); got < wantCache || got > 2*wantCache {
				t.Errorf("cache_capacity_pages %v, want the first DB's %v", st["cache_capacity_pages"], wantCache)
			}
			syncs := func() float64 {
				v, _ := fsopsStats(t, first)["fsyncs"].(float64)
				return v
			}
			for _, db := range []*sql.DB{first, second} {
				full := (db == first) == strings.Contains(c[0].q, "sync=full")
				before := syncs()
				for range 5 {
					mustExec(t, db, "INSERT INTO t(y) VALUES ('x')")
				}
				got := syncs() - before
				if full && got < 5 {
					t.Errorf("5 commits of a sync=full DB made %v fsyncs", got)
				}
				if !full && got != 0 {
					t.Errorf("5 commits of a sync=off DB made %v fsyncs", got)
				}
			}
			for _, db := range []*sql.DB{first, second} {
				if n, err := fsopsCount(db); err != nil || n != 10 {
					t.Errorf("%d rows, %v; want 10", n, err)
				}
			}
		})
	}
}

// TestFsopsReviewReadOnlyFirst: a database first opened mode=ro in the
// process has a read-only engine; a read-write *sql.DB of it fails with
// SQLITE_CANTOPEN saying why (README), and works once the read-only one
// closed.
func TestFsopsReviewReadOnlyFirst(t *testing.T) {
	path := filepath.Join(fsopsTempDir(t), "x.db")
	fsopsMake(t, path, 2)
	ro, err := fsopsOpen(fsopsURI(path) + "?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	_, err = fsopsOpen(fsopsURI(path))
	var e *Error
	if err == nil || !errors.As(err, &e) || e.Code() != CANTOPEN || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("read-write open beside mode=ro: %v; want SQLITE_CANTOPEN saying read-only", err)
	}
	ro.Close()
	rw, err := fsopsOpen(fsopsURI(path))
	if err != nil {
		t.Fatalf("read-write open after the read-only one closed: %v", err)
	}
	defer rw.Close()
	mustExec(t, rw, "INSERT INTO t(y) VALUES ('w')")
}

// ---------------------------------------------------------------------------
// 7. Other.

// TestFsopsReviewWalOwnerAsRoot: an administrator runs a tool as root on
// an application's database (a migration, `libsql check`, a backup with
// this driver) while the application is stopped. Stock SQLite, running as
// root, gives a -wal it creates the database file's owner
// (os_unix.c robustFchown), and deletes it at close anyway. The engine
// creates <db>-wal owned by root, mode 0644, and leaves it there; the
// application, running as the database's owner, then cannot open its log
// and every statement fails with SQLITE_CANTOPEN ("open log ...-wal:
// permission denied") until someone chowns the file. Expected: the -wal
// belongs to the database file's owner, and the application's next open
// works.
func TestFsopsReviewWalOwnerAsRoot(t *testing.T) {
	if path := os.Getenv("LIBSQL_FSOPS_PATH"); path != "" {
		if !fsopsIsChild(t, "owner") {
			t.Skip("child of TestFsopsReviewWalOwnerAsRoot")
		}
		db, err := sql.Open("libsql", fsopsURI(path))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec("INSERT INTO t(y) VALUES ('app')"); err != nil {
			t.Errorf("the application (uid %d), after root used its database: %v", os.Getuid(), err)
		}
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	dir, err := os.MkdirTemp("", "fsops-owner-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	for _, drv := range []string{"sqlite", "libsql"} {
		path := filepath.Join(dir, drv+".db")
		// The application's database, created without a log beside it
		// (by stock SQLite, which deletes its log at close).
		s, err := fsopsStockOpen(path, "_pragma=journal_mode(wal)")
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, s, "CREATE TABLE t(x INTEGER PRIMARY KEY, y TEXT)")
		s.Close()
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			os.Chown(p, 65534, 65534)
		}
		// Root uses it.
		var db *sql.DB
		if drv == "sqlite" {
			db, err = fsopsStockOpen(path, "")
		} else {
			db, err = fsopsOpen(fsopsURI(path))
		}
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, db, "INSERT INTO t(y) VALUES ('root')")
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		if uid := fi.Sys().(*syscall.Stat_t).Uid; uid != 65534 {
			t.Errorf("%s: the -wal root created is owned by uid %d, the database by 65534", drv, uid)
		}
		db.Close()
		fsopsRunChild(t, "TestFsopsReviewWalOwnerAsRoot", "owner", "LIBSQL_FSOPS_PATH="+path)
	}
}
