//go:build !unix && !windows

package ioback

import (
	"hash/fnv"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// On systems that are neither Unix nor Windows (wasip1, js, plan9) the
// portable backend has no kernel locks: File.Lock is enforced between Files
// of this process only, and a file's identity is its absolute path.

type platState struct {
	node  *pathLocks
	owner uint64
}

type pathLocks struct {
	mu    sync.Mutex
	table lockTable
	refs  int
}

var pathLockMap struct {
	mu sync.Mutex
	m  map[FileID]*pathLocks
}

var ownerSeq atomic.Uint64

func pathID(name string) FileID {
	abs, err := filepath.Abs(name)
	if err != nil {
		abs = name
	}
	h := fnv.New64a()
	h.Write([]byte(abs))
	return FileID{Ino: h.Sum64()}
}

func (f *osFile) platOpen() error {
	id := pathID(f.name)
	pathLockMap.mu.Lock()
	defer pathLockMap.mu.Unlock()
	if pathLockMap.m == nil {
		pathLockMap.m = make(map[FileID]*pathLocks)
	}
	n := pathLockMap.m[id]
	if n == nil {
		n = &pathLocks{}
		pathLockMap.m[id] = n
	}
	n.refs++
	f.plat = platState{node: n, owner: ownerSeq.Add(1)}
	return nil
}

func (f *osFile) platClose() error {
	if f.plat.node == nil {
		return os.ErrClosed
	}
	id := pathID(f.name)
	pathLockMap.mu.Lock()
	n := f.plat.node
	n.mu.Lock()
	n.table.releaseAll(f.plat.owner)
	n.mu.Unlock()
	if n.refs--; n.refs == 0 {
		delete(pathLockMap.m, id)
	}
	pathLockMap.mu.Unlock()
	f.plat.node = nil
	return f.f.Close()
}

func (f *osFile) lock(start, n int64, exclusive bool) error {
	node := f.plat.node
	node.mu.Lock()
	defer node.mu.Unlock()
	if !node.table.lock(f.plat.owner, start, lockEnd(start, n), exclusive) {
		return ErrLocked
	}
	return nil
}

func (f *osFile) unlock(start, n int64) error {
	node := f.plat.node
	node.mu.Lock()
	defer node.mu.Unlock()
	node.table.cut(f.plat.owner, start, lockEnd(start, n))
	return nil
}

func (f *osFile) Sync() error { return wrapErr("fsync", f.name, f.f.Sync()) }

func (f *osFile) Allocate(off, n int64) error {
	if off < 0 || n < 0 {
		return wrapErrAt("fallocate", f.name, off, errNegative)
	}
	return nil
}

func (f *osFile) ID() (FileID, error) { return pathID(f.name), nil }

func statID(name string) (int64, FileID, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return 0, FileID{}, err
	}
	return fi.Size(), pathID(name), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return wrapErr("open", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !os.IsPermission(err) {
		return wrapErr("fsync", dir, err)
	}
	return nil
}
