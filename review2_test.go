package libsql

// A review of the round's own changes found these; each test failed
// before its fix.

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	iouringvfs "github.com/golibsql/libsql/iouring_vfs"
	"github.com/golibsql/libsql/iouring_vfs/ioback"
)

// README: "a write whose commit was done when the context ended returns
// success, not the context's error ... an error means the write did not
// happen". A write run with Query (or QueryContext) steps in conn.query,
// not runSteps: SQLite's last interrupt check after the autocommit commit
// turns it into the context's error although the row is committed
// (committedAnyway is applied in runSteps only; rows.Next has the same gap
// for INSERT ... RETURNING).
func TestReview2QueryWriteCommittedButReportsCanceled(t *testing.T) {
	v, err := iouringvfs.Register()
	if err != nil {
		t.Fatal(err)
	}
	fs := &crHookFS{FS: ioback.Portable()}
	t.Cleanup(v.SetFSForTesting(fs))
	ctx := context.Background()
	dsn := "file:" + filepath.ToSlash(filepath.Join(t.TempDir(), "q.db")) + "?sync=full"
	c, err := OpenConn(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mustNativeExec(t, c, "CREATE TABLE t(id INTEGER PRIMARY KEY)")
	for id := 1; id <= 300; id++ {
		cctx, cancel := context.WithCancel(ctx)
		crCancelDuringSync(fs, cancel)
		rows, err := c.Query(cctx, "INSERT INTO t(id) VALUES (?)", id)
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
		}
		fs.hook.Store(nil)
		cancel()
		var n int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM t WHERE id = ?", id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if (err == nil) != (n == 1) {
			t.Fatalf("INSERT %d run with Query: error %v, but the row is %s", id, err, map[bool]string{true: "committed", false: "absent"}[n == 1])
		}
	}
}

// An ATTACH that vfsOpen refuses with a code other than CANTOPEN (BUSY: the
// file is locked by another process) leaves its Go error in capi's
// openErrs, since mapErr takes it only for CANTOPEN; a later CANTOPEN on
// the connection that no vfsOpen produced (here xFullPathname failing on a
// symbolic-link loop) is then reported with the stale cause, naming the
// other file.
func TestReview2StaleOpenErrorCause(t *testing.T) {
	dir := t.TempDir()
	db := openTestDSN(t, "file:"+filepath.ToSlash(filepath.Join(dir, "main.db")))
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE t(x)")
	locked := filepath.Join(dir, "locked.db")
	if err := os.WriteFile(locked, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	lf, err := ioback.Portable().Open(locked, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	if err := lf.Lock(0, 0, true); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("ATTACH ? AS l", locked); err == nil {
		t.Fatal("ATTACH of a locked file succeeded")
	} else {
		t.Logf("ATTACH of the locked file: %v", err)
	}
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.Symlink(b, a)
	os.Symlink(a, b)
	_, err = db.Exec("ATTACH ? AS x", a)
	if err == nil {
		t.Fatal("ATTACH of a symbolic-link loop succeeded")
	}
	if strings.Contains(err.Error(), "locked") {
		t.Fatalf("ATTACH of a symbolic-link loop reports another file's cause: %v", err)
	}
}
