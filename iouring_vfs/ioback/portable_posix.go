//go:build unix && !linux

package ioback

import (
	"math"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// On Unix systems other than Linux the kernel has only process-associated
// fcntl locks (F_SETLK). See Portable for how this file turns them into
// per-File locks within the process.

// platState is a File's share of its inode's lock bookkeeping.
type platState struct {
	ino    *inodeLocks
	owner  uint64
	closed bool
}

// inodeLocks is the bookkeeping for one file (device and inode) that this
// process has open through the portable backend.
type inodeLocks struct {
	id       FileID
	mu       sync.Mutex
	table    lockTable  // what each File of this inode holds
	refs     int        // open Files of this inode
	deferred []*os.File // closed Files whose descriptors stay open (see platClose)
}

var inodes struct {
	mu sync.Mutex
	m  map[FileID]*inodeLocks
}

var ownerSeq atomic.Uint64

func (f *osFile) platOpen() error {
	st, err := f.f.Stat()
	if err != nil {
		return err
	}
	id := statTID(st)
	inodes.mu.Lock()
	defer inodes.mu.Unlock()
	if inodes.m == nil {
		inodes.m = make(map[FileID]*inodeLocks)
	}
	il := inodes.m[id]
	if il == nil {
		il = &inodeLocks{id: id}
		inodes.m[id] = il
	}
	il.refs++
	f.plat = platState{ino: il, owner: ownerSeq.Add(1)}
	return nil
}

// platClose releases this File's locks and closes its descriptor, unless
// other Files of the same inode are still open in this process: closing any
// descriptor drops every F_SETLK lock the process holds on the file, so the
// descriptor is kept until the last of them closes (SQLite's unix VFS does
// the same).
func (f *osFile) platClose() error {
	if f.plat.closed {
		return os.ErrClosed
	}
	f.plat.closed = true
	il := f.plat.ino
	inodes.mu.Lock()
	defer inodes.mu.Unlock()
	il.mu.Lock()
	for _, s := range il.table.spans(f.plat.owner) {
		for _, g := range il.table.uncovered(f.plat.owner, s.start, s.end) {
			f.setlk(unix.F_UNLCK, g) // best effort: the close below releases them anyway
		}
	}
	il.table.releaseAll(f.plat.owner)
	il.refs--
	if il.refs > 0 {
		il.deferred = append(il.deferred, f.f)
		il.mu.Unlock()
		return nil
	}
	deferred := il.deferred
	il.deferred = nil
	delete(inodes.m, il.id)
	il.mu.Unlock()
	err := f.f.Close()
	for _, d := range deferred {
		d.Close()
	}
	return err
}

// setlk applies an F_SETLK lock of type typ to the span s.
func (f *osFile) setlk(typ int16, s span) error {
	n := s.end - s.start
	if s.end == math.MaxInt64 {
		n = 0
	}
	lk := unix.Flock_t{Type: typ, Whence: 0, Start: s.start, Len: n}
	return f.control(func(fd uintptr) error {
		for {
			err := unix.FcntlFlock(fd, unix.F_SETLK, &lk)
			switch err {
			case unix.EINTR:
				continue
			case unix.EAGAIN, unix.EACCES:
				return ErrLocked
			}
			return err
		}
	})
}

func (f *osFile) lock(start, n int64, exclusive bool) error {
	il := f.plat.ino
	end := lockEnd(start, n)
	il.mu.Lock()
	defer il.mu.Unlock()
	if il.table.conflicts(f.plat.owner, start, end, exclusive) {
		return ErrLocked
	}
	typ := int16(unix.F_RDLCK)
	if exclusive {
		typ = unix.F_WRLCK
	}
	if err := f.setlk(typ, span{start, end}); err != nil {
		if err == ErrLocked {
			return err
		}
		return wrapErrAt("lock", f.name, start, err)
	}
	il.table.lock(f.plat.owner, start, end, exclusive)
	return nil
}

func (f *osFile) unlock(start, n int64) error {
	il := f.plat.ino
	end := lockEnd(start, n)
	il.mu.Lock()
	defer il.mu.Unlock()
	var first error
	for _, g := range il.table.uncovered(f.plat.owner, start, end) {
		if err := f.setlk(unix.F_UNLCK, g); err != nil && first == nil {
			first = wrapErrAt("unlock", f.name, g.start, err)
		}
	}
	il.table.cut(f.plat.owner, start, end)
	return first
}

func (f *osFile) Sync() error { return wrapErr("fsync", f.name, f.f.Sync()) }

// Allocate checks its arguments and reserves nothing: these systems have no
// fallocate with KEEP_SIZE (macOS's F_PREALLOCATE would not guarantee the
// later writes either).
func (f *osFile) Allocate(off, n int64) error {
	if off < 0 || n < 0 {
		return wrapErrAt("fallocate", f.name, off, errNegative)
	}
	return nil
}

func (f *osFile) ID() (FileID, error) {
	st, err := f.f.Stat()
	if err != nil {
		return FileID{}, wrapErr("fstat", f.name, err)
	}
	return statTID(st), nil
}

// statTID is the device and inode of a stat result.
func statTID(fi os.FileInfo) FileID {
	st := fi.Sys().(*syscall.Stat_t)
	return FileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)}
}

func statID(name string) (int64, FileID, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return 0, FileID{}, err
	}
	return fi.Size(), statTID(fi), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return wrapErr("open", dir, err)
	}
	defer d.Close()
	return wrapErr("fsync", dir, d.Sync())
}
