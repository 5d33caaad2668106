//go:build linux

package iouringvfs

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
	"github.com/golibsql/libsql/iouring_vfs/iofault"
)

// TestFsopsReviewNewLogDirSynced: a new database's log, <db>-wal, is a
// new directory entry; POSIX makes a new name durable only with an fsync
// of its directory. Stock SQLite opens its WAL (and journals) with
// UNIXFILE_DIRSYNC and fsyncs the directory at the log's first sync, so
// the first acknowledged commit of a new database survives a power loss
// on any file system. The engine never calls FS.SyncDir (its crash model,
// iofault.CrashFS, assumes ext4, where fsync of a new file also commits
// its name): a sync=full commit to a new database is acknowledged with the
// log's name not synced. Expected: a SyncDir of the directory after the
// log is created and before the first sync=full commit returns.
func TestFsopsReviewNewLogDirSynced(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ffs := iofault.NewFaultFS(ioback.Portable())
	var mu sync.Mutex
	var ops []iofault.Op
	ffs.Arm(iofault.Rule{N: 1 << 30, Match: func(op iofault.Op) bool {
		mu.Lock()
		ops = append(ops, op)
		mu.Unlock()
		return false
	}})
	restore := defaultVFS.SetFSForTesting(ffs)
	defer restore()
	c := openConn(t, filepath.Join(dir, "x.db"), "libsql_sync=full")
	c.exec("CREATE TABLE t(x)")
	c.exec("INSERT INTO t VALUES (1)")
	mu.Lock()
	defer mu.Unlock()
	created, synced := false, false
	for _, op := range ops {
		switch {
		case op.Kind == iofault.OpOpen && op.Name == filepath.Join(dir, "x.db-wal"):
			created = true
		case op.Kind == iofault.OpSyncDir && op.Name == dir && created:
			synced = true
		}
	}
	if !created {
		t.Fatalf("the log was not opened through the FS (%d ops)", len(ops))
	}
	if !synced {
		t.Errorf("two sync=full commits to a new database returned; its directory %s was never synced after %s-wal was created", dir, filepath.Join(dir, "x.db"))
	}
}
