package ioback

import (
	"os"
	"sync"

	"golang.org/x/sys/windows"
)

// platState records the byte ranges this handle has locked: LockFileEx
// locks stack (locking a range twice needs two unlocks), cannot be
// converted between shared and exclusive in place, and UnlockFileEx must
// name exactly a range that was locked.
type platState struct {
	mu   sync.Mutex
	held []winLock
}

type winLock struct {
	start, end int64
	excl       bool
}

func (f *osFile) platOpen() error  { return nil }
func (f *osFile) platClose() error { return f.f.Close() } // closing the handle releases its locks

func winLockFile(fd uintptr, start, end int64, excl bool) error {
	flags := uint32(windows.LOCKFILE_FAIL_IMMEDIATELY)
	if excl {
		flags |= windows.LOCKFILE_EXCLUSIVE_LOCK
	}
	n := uint64(end - start)
	ov := windows.Overlapped{Offset: uint32(start), OffsetHigh: uint32(uint64(start) >> 32)}
	err := windows.LockFileEx(windows.Handle(fd), flags, 0, uint32(n), uint32(n>>32), &ov)
	if err == windows.ERROR_LOCK_VIOLATION || err == windows.ERROR_IO_PENDING {
		return ErrLocked
	}
	return err
}

func winUnlockFile(fd uintptr, start, end int64) error {
	n := uint64(end - start)
	ov := windows.Overlapped{Offset: uint32(start), OffsetHigh: uint32(uint64(start) >> 32)}
	return windows.UnlockFileEx(windows.Handle(fd), 0, uint32(n), uint32(n>>32), &ov)
}

// lock takes [start, start+n). Re-locking a range this handle holds with
// the same type is a no-op; with the other type it unlocks and relocks (not
// atomic: another process may win the range in between, and then the
// old lock is taken back if it can be).
func (f *osFile) lock(start, n int64, exclusive bool) error {
	end := lockEnd(start, n)
	f.plat.mu.Lock()
	defer f.plat.mu.Unlock()
	for i, l := range f.plat.held {
		if l.start != start || l.end != end {
			continue
		}
		if l.excl == exclusive {
			return nil
		}
		return f.control(func(fd uintptr) error {
			if err := winUnlockFile(fd, start, end); err != nil {
				return wrapErrAt("unlock", f.name, start, err)
			}
			if err := winLockFile(fd, start, end, exclusive); err != nil {
				if winLockFile(fd, start, end, l.excl) != nil {
					f.plat.held = append(f.plat.held[:i], f.plat.held[i+1:]...)
				}
				if err == ErrLocked {
					return err
				}
				return wrapErrAt("lock", f.name, start, err)
			}
			f.plat.held[i].excl = exclusive
			return nil
		})
	}
	return f.control(func(fd uintptr) error {
		if err := winLockFile(fd, start, end, exclusive); err != nil {
			if err == ErrLocked {
				return err
			}
			return wrapErrAt("lock", f.name, start, err)
		}
		f.plat.held = append(f.plat.held, winLock{start, end, exclusive})
		return nil
	})
}

// unlock releases the ranges this handle holds that lie within
// [start, start+n); a held range only partly inside stays locked.
func (f *osFile) unlock(start, n int64) error {
	end := lockEnd(start, n)
	f.plat.mu.Lock()
	defer f.plat.mu.Unlock()
	return f.control(func(fd uintptr) error {
		var first error
		kept := f.plat.held[:0]
		for _, l := range f.plat.held {
			if l.start < start || l.end > end {
				kept = append(kept, l)
				continue
			}
			if err := winUnlockFile(fd, l.start, l.end); err != nil && first == nil {
				first = wrapErrAt("unlock", f.name, l.start, err)
			}
		}
		f.plat.held = kept
		return first
	})
}

func (f *osFile) Sync() error { return wrapErr("FlushFileBuffers", f.name, f.f.Sync()) }

// Allocate checks its arguments and reserves nothing on Windows.
func (f *osFile) Allocate(off, n int64) error {
	if off < 0 || n < 0 {
		return wrapErrAt("fallocate", f.name, off, errNegative)
	}
	return nil
}

func handleID(fd uintptr) (FileID, error) {
	var info windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(windows.Handle(fd), &info); err != nil {
		return FileID{}, err
	}
	return FileID{
		Dev: uint64(info.VolumeSerialNumber),
		Ino: uint64(info.FileIndexHigh)<<32 | uint64(info.FileIndexLow),
	}, nil
}

func (f *osFile) ID() (FileID, error) {
	var id FileID
	err := f.control(func(fd uintptr) error {
		var err error
		id, err = handleID(fd)
		return err
	})
	return id, wrapErr("GetFileInformationByHandle", f.name, err)
}

func statID(name string) (int64, FileID, error) {
	fh, err := os.Open(name)
	if err != nil {
		return 0, FileID{}, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return 0, FileID{}, err
	}
	rc, err := fh.SyscallConn()
	if err != nil {
		return 0, FileID{}, err
	}
	var id FileID
	if cerr := rc.Control(func(fd uintptr) { id, err = handleID(fd) }); cerr != nil {
		return 0, FileID{}, cerr
	}
	return fi.Size(), id, err
}

// syncDir is a no-op: Windows has no way to flush a directory, and NTFS
// journals the directory change with the file's metadata.
func syncDir(dir string) error { return nil }
