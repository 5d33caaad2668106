package ioback

import (
	"golang.org/x/sys/unix"
)

// Plain system calls on a raw descriptor, shared by the portable backend
// (through os.File's RawConn) and the io_uring backend (which owns its
// descriptors). Writes and syncs never go through the ring; see doc.go.

// pwriteFull writes p at off, continuing after partial writes.
func pwriteFull(fd int, p []byte, off int64) (int, error) {
	done := 0
	for done < len(p) {
		n, err := unix.Pwrite(fd, p[done:], off+int64(done))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, err
		}
		if n == 0 {
			return done, unix.EIO
		}
		done += n
	}
	return done, nil
}

// fdatasync flushes the file's data and the metadata needed to read it
// back (its size), not its timestamps.
func fdatasync(fd int) error {
	for {
		err := unix.Fdatasync(fd)
		if err != unix.EINTR {
			return err
		}
	}
}

// fallocateKeepSize reserves [off, off+n) without changing the size. A file
// system that cannot (EOPNOTSUPP, or ENOSYS) is not an error: then nothing
// is reserved, as File.Allocate documents. ENOSPC is returned as it is.
func fallocateKeepSize(fd int, off, n int64) error {
	if n <= 0 {
		return nil
	}
	for {
		err := unix.Fallocate(fd, unix.FALLOC_FL_KEEP_SIZE, off, n)
		switch err {
		case unix.EINTR:
			continue
		case unix.EOPNOTSUPP, unix.ENOSYS:
			return nil
		}
		return err
	}
}

// ofdLock sets an open file description lock (F_OFD_SETLK, non-blocking) of
// type typ (F_RDLCK, F_WRLCK or F_UNLCK) on [start, start+n); n == 0 means
// to infinity. A conflict is ErrLocked.
func ofdLock(fd int, typ int16, start, n int64) error {
	lk := unix.Flock_t{Type: typ, Whence: 0, Start: start, Len: n}
	for {
		err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk)
		switch err {
		case nil:
			return nil
		case unix.EINTR:
			continue
		case unix.EAGAIN, unix.EACCES:
			return ErrLocked
		}
		return err
	}
}

// lockType is the fcntl lock type for Lock's exclusive flag.
func lockType(exclusive bool) int16 {
	if exclusive {
		return unix.F_WRLCK
	}
	return unix.F_RDLCK
}

// fstatID returns the size and identity of the open file fd.
func fstatID(fd int) (int64, FileID, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, FileID{}, err
	}
	return st.Size, FileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)}, nil
}

// statID returns the size and identity of the named file.
func statID(name string) (int64, FileID, error) {
	var st unix.Stat_t
	if err := unix.Stat(name, &st); err != nil {
		return 0, FileID{}, err
	}
	return st.Size, FileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)}, nil
}

// syncDir makes the directory entries of dir durable (open + fsync).
func syncDir(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return wrapErr("open", dir, err)
	}
	defer unix.Close(fd)
	for {
		err = unix.Fsync(fd)
		if err != unix.EINTR {
			return wrapErr("fsync", dir, err)
		}
	}
}
