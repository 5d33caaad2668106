package ioback

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

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
// later Close once those locks are gone, or taken by the next open of the
// same file (SQLite's unix VFS keeps and reuses such descriptors the same
// way, for its own locks).

// parked holds the descriptors whose close was put off; parkedN counts
// them, so that an open can tell without the lock that there is none.
var parked struct {
	mu  sync.Mutex
	fds []parkedFD
}

var parkedN atomic.Int32

// parkedFD is a descriptor kept open: whose file it is, how it was opened,
// and how to close it.
type parkedFD struct {
	fd       int
	id       FileID
	readOnly bool
	file     *os.File // the portable backend's; nil for the io_uring backend's raw descriptor
	close    func() error
}

// closeFD closes p's descriptor, or parks it if the process holds
// traditional locks on its file, releasing the descriptor's own OFD locks
// and calling onPark (if not nil) before it returns. It first closes the
// parked descriptors that may go.
func closeFD(p parkedFD, onPark func()) error {
	reapParked()
	if !processLocked(p.fd) {
		return p.close()
	}
	ofdLock(p.fd, unix.F_UNLCK, 0, 0) // best effort: a parked descriptor must not keep the engine's locks
	if _, id, err := fstatID(p.fd); err == nil {
		p.id = id
	}
	if onPark != nil {
		onPark()
	}
	parked.mu.Lock()
	parked.fds = append(parked.fds, p)
	parkedN.Add(1)
	parked.mu.Unlock()
	return nil
}

// takeParked removes and returns a parked descriptor of the file at name
// that a new File may use instead of opening another: one of the same
// backend (portable: file set) and opened read-write, or read-only for a
// read-only File. Without it, every open and close beside another
// library's locks (a retry of a busy open) left one more descriptor
// parked, without bound.
func takeParked(name string, readOnly, portable bool) (parkedFD, bool) {
	if parkedN.Load() == 0 {
		return parkedFD{}, false
	}
	_, id, err := statID(name)
	if err != nil {
		return parkedFD{}, false
	}
	parked.mu.Lock()
	defer parked.mu.Unlock()
	for i, p := range parked.fds {
		if p.id == id && (p.file != nil) == portable && (!p.readOnly || readOnly) {
			parked.fds = slices.Delete(parked.fds, i, i+1)
			parkedN.Add(-1)
			return p, true
		}
	}
	return parkedFD{}, false
}

// takeParkedFile is takeParked for the portable backend.
func takeParkedFile(name string, readOnly bool) *os.File {
	p, _ := takeParked(name, readOnly, true)
	return p.file
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
		parkedN.Add(-1)
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
// holder's pid, where an OFD lock reports -1; locks held through fd itself
// are invisible to it, as they should be. It reports one conflicting lock
// of the range asked about, not the lowest (the kernel's list is in the
// order owners locked), so the search splits the range around each lock
// reported. A lock of another owner can hide one of ours under its range,
// though, so when the search finds only others' locks, /proc/locks
// decides. An error reports false: the close then behaves as it always
// did.
func processLocked(fd int) bool {
	pid := int32(unix.Getpid())
	type span struct{ start, end int64 } // end 0: to the end of the file
	todo := []span{{0, 0}}
	others := false
	for queries := 0; len(todo) > 0; queries++ {
		if queries == 64 {
			others = true // more locks than SQLite takes: let /proc/locks say
			break
		}
		r := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: r.start}
		if r.end != 0 {
			lk.Len = r.end - r.start
		}
		if err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_GETLK, &lk); err != nil {
			return false
		}
		if lk.Type == unix.F_UNLCK {
			continue
		}
		if lk.Pid == pid {
			return true
		}
		others = true
		if lk.Start > r.start {
			todo = append(todo, span{r.start, lk.Start})
		}
		if lk.Len != 0 && (r.end == 0 || lk.Start+lk.Len < r.end) {
			todo = append(todo, span{lk.Start + lk.Len, r.end})
		}
	}
	if !others {
		return false
	}
	_, id, err := fstatID(fd)
	return err == nil && procLocksHeld(id, pid)
}

// procLocksHeld reports whether /proc/locks lists a traditional (POSIX)
// lock of process pid on file id. Its lines read
//
//	1: POSIX  ADVISORY  READ 11559 fe:00:11134593 1073741826 1073742335
//
// (an id, the kind, the mode, the pid, the device as major:minor in hex
// and the inode, the range); a blocked request adds "->" after the id.
func procLocksHeld(id FileID, pid int32) bool {
	b, err := os.ReadFile("/proc/locks")
	if err != nil {
		return false
	}
	file := fmt.Sprintf("%02x:%02x:%d", unix.Major(id.Dev), unix.Minor(id.Dev), id.Ino)
	who := strconv.Itoa(int(pid))
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) > 1 && f[1] == "->" {
			continue // a request waiting, not a lock held
		}
		if len(f) >= 6 && f[1] == "POSIX" && f[4] == who && f[5] == file {
			return true
		}
	}
	return false
}

func (f *osFile) lockedInProcess() bool {
	var locked bool
	f.control(func(fd uintptr) error { locked = processLocked(int(fd)); return nil })
	return locked
}

func (f *uringFile) lockedInProcess() bool { return processLocked(f.fd) }
