package ioback

import (
	"sync"

	"golang.org/x/sys/unix"
)

// Another SQLite library in this process (modernc.org/sqlite,
// mattn/go-sqlite3, ncruces/go-sqlite3) locks a database with traditional
// fcntl locks, which belong to the process, not to a descriptor: closing
// ANY descriptor of the file drops every one of them. So a File of ours
// closed while such a library holds the file (an open that found it locked
// and gave up, for one) would silently unlock it for that library, and
// both would then write the file as if alone. Our own locks are OFD locks,
// which close releases only for the descriptor closed. A descriptor is
// therefore closed only when the process holds no traditional lock on its
// file; otherwise it is parked, its OFD locks released, and closed by a
// later Close once those locks are gone (SQLite's unix VFS keeps such
// descriptors the same way, for its own locks).

// parked holds the descriptors whose close was put off.
var parked struct {
	mu  sync.Mutex
	fds []parkedFD
}

// parkedFD is a descriptor kept open, and how to close it.
type parkedFD struct {
	fd    int
	close func() error
}

// closeFD closes descriptor fd with closeFn, or parks it if the process
// holds traditional locks on its file, releasing the descriptor's own OFD
// locks either way, and calling onPark (if not nil) before it returns. It
// first closes the parked descriptors that may go.
func closeFD(fd int, closeFn func() error, onPark func()) error {
	reapParked()
	if !processLocked(fd) {
		return closeFn()
	}
	ofdLock(fd, unix.F_UNLCK, 0, 0) // best effort: a parked descriptor must not keep the engine's locks
	if onPark != nil {
		onPark()
	}
	parked.mu.Lock()
	parked.fds = append(parked.fds, parkedFD{fd: fd, close: closeFn})
	parked.mu.Unlock()
	return nil
}

// reapParked closes the parked descriptors whose files the process no
// longer holds traditional locks on.
func reapParked() {
	parked.mu.Lock()
	defer parked.mu.Unlock()
	kept := parked.fds[:0]
	for _, p := range parked.fds {
		if processLocked(p.fd) {
			kept = append(kept, p)
			continue
		}
		p.close()
	}
	clear(parked.fds[len(kept):])
	parked.fds = kept
}

// parkedCount is the number of parked descriptors (for tests).
func parkedCount() int {
	parked.mu.Lock()
	defer parked.mu.Unlock()
	return len(parked.fds)
}

// processLocked reports whether this process holds a traditional fcntl lock
// anywhere on fd's file. F_OFD_GETLK sees such locks as conflicts (their
// owner is the process, not fd's open file description) and reports the
// holder's pid, where an OFD lock reports -1; it returns one conflicting
// lock at a time, so the file is searched range by range. An error, or
// more locks than SQLite ever holds, reports false: the close then behaves
// as it always did.
func processLocked(fd int) bool {
	pid := int32(unix.Getpid())
	start := int64(0)
	for range 64 {
		lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: start, Len: 0}
		if err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_GETLK, &lk); err != nil {
			return false
		}
		if lk.Type == unix.F_UNLCK {
			return false
		}
		if lk.Pid == pid {
			return true
		}
		if lk.Len == 0 {
			return false
		}
		start = max(start+1, lk.Start+lk.Len)
	}
	return false
}

func (f *osFile) lockedInProcess() bool {
	var locked bool
	f.control(func(fd uintptr) error { locked = processLocked(int(fd)); return nil })
	return locked
}

func (f *uringFile) lockedInProcess() bool { return processLocked(f.fd) }
