package ioback

import "golang.org/x/sys/unix"

// platState is empty on Linux: OFD locks need no bookkeeping.
type platState struct{}

func (f *osFile) platOpen() error { return nil }

// platClose closes the descriptor, or parks it while another SQLite
// library in the process holds the file (see closeFD).
func (f *osFile) platClose() error {
	if f.parked.Load() {
		return errClosed
	}
	fd := -1
	f.control(func(d uintptr) error { fd = int(d); return nil })
	if fd < 0 {
		return f.f.Close()
	}
	return closeFD(parkedFD{fd: fd, readOnly: f.readOnly, file: f.f, close: f.f.Close}, func() { f.parked.Store(true) })
}

func (f *osFile) Sync() error {
	return wrapErr("fdatasync", f.name, f.control(func(fd uintptr) error { return fdatasync(int(fd)) }))
}

func (f *osFile) Allocate(off, n int64) error {
	if off < 0 || n < 0 {
		return wrapErrAt("fallocate", f.name, off, errNegative)
	}
	if f.readOnly {
		return wrapErrAt("fallocate", f.name, off, errReadOnly)
	}
	return wrapErrAt("fallocate", f.name, off, f.control(func(fd uintptr) error {
		return fallocateKeepSize(int(fd), off, n)
	}))
}

func (f *osFile) lock(start, n int64, exclusive bool) error {
	err := f.control(func(fd uintptr) error { return ofdLock(int(fd), lockType(exclusive), start, n) })
	if err == ErrLocked {
		return err
	}
	return wrapErrAt("lock", f.name, start, err)
}

func (f *osFile) unlock(start, n int64) error {
	return wrapErrAt("unlock", f.name, start, f.control(func(fd uintptr) error {
		return ofdLock(int(fd), unix.F_UNLCK, start, n)
	}))
}

func (f *osFile) ID() (FileID, error) {
	var id FileID
	err := f.control(func(fd uintptr) error {
		var err error
		_, id, err = fstatID(int(fd))
		return err
	})
	return id, wrapErr("fstat", f.name, err)
}
