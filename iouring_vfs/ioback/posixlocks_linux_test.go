package ioback

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// Another SQLite library in the process (modernc.org/sqlite, mattn's)
// holds traditional fcntl locks, which the kernel drops when the process
// closes any descriptor of the file. A File of ours that found the file
// locked and was closed released that library's locks, and the next open
// of ours got the file while the other library still wrote it: both wrote
// the log as if alone, and acknowledged rows were lost
// (TestMigrateReviewModerncSameProcessSplitBrain). Close now keeps the
// descriptor open while the process holds such locks.
func TestCloseKeepsTheProcessLocksOfAnotherLibrary(t *testing.T) {
	for _, kind := range []Kind{KindPortable, KindUring} {
		t.Run(kind.String(), func(t *testing.T) {
			fsys, err := New(kind)
			if err != nil {
				t.Skip(err)
			}
			name := filepath.Join(t.TempDir(), "x.db")
			if err := os.WriteFile(name, make([]byte, 4096), 0o644); err != nil {
				t.Fatal(err)
			}
			// What SQLite's unix VFS holds in WAL mode: a shared lock on
			// its SHARED range.
			unlock := lockAsOtherLibrary(t, name, 1<<30+2, 510)
			probe := func() bool {
				t.Helper()
				fd, err := unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer closeFD(parkedFD{fd: fd, readOnly: true, close: func() error { return unix.Close(fd) }}, nil)
				return processLocked(fd)
			}
			if !probe() {
				t.Fatal("the process's own fcntl lock is not seen")
			}

			f, err := fsys.Open(name, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Lock(1<<30, 512, true); !errors.Is(err, ErrLocked) {
				t.Fatalf("Lock beside the other library's lock: %v, want ErrLocked", err)
			}
			if !LockedInProcess(f) {
				t.Error("LockedInProcess: false beside the other library's lock")
			}
			if err := f.Lock(0, 1, true); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if !probe() {
				t.Fatal("closing our File dropped the other library's lock")
			}
			if _, err := f.ReadAt(make([]byte, 10), 0); !errors.Is(err, fs.ErrClosed) {
				t.Errorf("ReadAt after Close: %v, want fs.ErrClosed", err)
			}
			if err := f.Close(); !errors.Is(err, fs.ErrClosed) {
				t.Errorf("second Close: %v, want fs.ErrClosed", err)
			}

			g, err := fsys.Open(name, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Lock(0, 1, true); err != nil {
				t.Errorf("the closed File's OFD lock outlived Close: %v", err)
			}
			g.Close()

			unlock()
			if n := parkedCount(); n == 0 {
				t.Fatal("no descriptor was kept")
			}
			if probe(); parkedCount() != 0 {
				t.Errorf("%d descriptors still kept after the other library unlocked", parkedCount())
			}
		})
	}
}

// lockAsOtherLibrary takes, through a descriptor of its own, a traditional
// fcntl read lock on [start, start+n) of name, as another SQLite library in
// the process holds one, and returns the function that drops it. The
// descriptor stays open until the test ends: closing it would drop the
// lock too.
func lockAsOtherLibrary(t *testing.T, name string, start, n int64) (unlock func()) {
	t.Helper()
	other, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	lk := unix.Flock_t{Type: unix.F_RDLCK, Start: start, Len: n}
	if err := unix.FcntlFlock(other.Fd(), unix.F_SETLK, &lk); err != nil {
		t.Fatal(err)
	}
	return func() {
		lk.Type = unix.F_UNLCK
		if err := unix.FcntlFlock(other.Fd(), unix.F_SETLK, &lk); err != nil {
			t.Fatal(err)
		}
	}
}
