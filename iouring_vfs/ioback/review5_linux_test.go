package ioback

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// review5Probe is a descriptor of name kept open for the whole test:
// closing any descriptor of the file would drop the very locks probed.
type review5Probe struct{ fd int }

func newReview5Probe(t *testing.T, name string) *review5Probe {
	t.Helper()
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &review5Probe{fd}
}

// held reports whether this process still holds a traditional fcntl lock
// on [start, start+n): F_OFD_GETLK over that range only reports the
// process's own lock (with its pid) as a conflict.
func (p *review5Probe) held(t *testing.T, start, n int64) bool {
	t.Helper()
	lk := unix.Flock_t{Type: unix.F_WRLCK, Start: start, Len: n}
	if err := unix.FcntlFlock(uintptr(p.fd), unix.F_OFD_GETLK, &lk); err != nil {
		t.Fatal(err)
	}
	return lk.Type != unix.F_UNLCK && lk.Pid == int32(os.Getpid())
}

// close closes the probe once the test's locks are gone.
func (p *review5Probe) close() { unix.Close(p.fd) }

// review5Reap closes the parked descriptors that may go (a closeFD does).
func review5Reap(t *testing.T) {
	t.Helper()
	fd, err := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	closeFD(parkedFD{fd: fd, readOnly: true, close: func() error { return unix.Close(fd) }}, nil)
}

// TestReview5ProcessLockedSeesLockBelowAnother: processLocked walks the
// file with F_OFD_GETLK from offset 0 and, after each conflicting lock it
// is shown, continues from that lock's end, as if the kernel reported the
// lowest conflicting lock first. It does not: Linux reports the first
// conflicting lock in its per-file list, which is grouped by owner in the
// order the owners first locked. So a lock of another owner that came
// first (the engine's own OFD lock on the SQLite lock range of a mode=ro
// engine, another process's lock) and lies above this process's
// traditional lock hides it: processLocked says false, Close really
// closes the descriptor, and the kernel drops the other library's locks,
// the very thing parking exists to prevent. Expected: every conflicting
// lock below the one reported is searched too ([start, lk.Start) as well
// as past its end), processLocked is true, and Close keeps the lock.
func TestReview5ProcessLockedSeesLockBelowAnother(t *testing.T) {
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
			probe := newReview5Probe(t, name)
			// First owner: an OFD shared lock high in the file (the
			// engine's read-only lock on the SQLite lock range).
			ofd, err := os.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			defer ofd.Close()
			if err := ofdLock(int(ofd.Fd()), unix.F_RDLCK, 1<<30, 512); err != nil {
				t.Fatal(err)
			}
			// Then another library's traditional lock, lower down.
			unlock := lockAsOtherLibrary(t, name, 100, 10)
			defer func() {
				unlock()
				probe.close()
				review5Reap(t)
			}()
			if !probe.held(t, 100, 10) {
				t.Fatal("setup: the traditional lock is not seen over its own range")
			}

			if !processLocked(probe.fd) {
				t.Error("processLocked: false while the process holds a traditional lock below another owner's lock")
			}

			f, err := fsys.Open(name, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if !probe.held(t, 100, 10) {
				t.Error("closing our File dropped the other library's traditional lock (it lay below another owner's OFD lock)")
			}
		})
	}
}

// TestReview5ParkedDescriptorsBounded: while another library holds the
// file, every Close of a File on it parks its descriptor, and nothing ever
// reuses a parked descriptor: a program that keeps retrying an open beside
// a modernc.org/sqlite connection (each failed open of the driver opens
// and closes one) accumulates one descriptor per attempt until it runs out
// (EMFILE). SQLite's unix VFS, which keeps such descriptors for the same
// reason, hands them to the next open of the same file. Expected: the
// descriptors kept for one file stay bounded (reused, or one per file).
func TestReview5ParkedDescriptorsBounded(t *testing.T) {
	fsys, err := New(KindPortable)
	if err != nil {
		t.Skip(err)
	}
	name := filepath.Join(t.TempDir(), "x.db")
	if err := os.WriteFile(name, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	unlock := lockAsOtherLibrary(t, name, 1<<30+2, 510)
	before := parkedCount()
	const cycles = 200
	for range cycles {
		f, err := fsys.Open(name, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Lock(1<<30, 512, true) // fails: ErrLocked, as the driver's open
		f.Close()
	}
	kept := parkedCount() - before

	unlock()
	review5Reap(t)
	if n := parkedCount(); n != 0 {
		t.Errorf("%d descriptors still parked after the other library unlocked and a Close ran", n)
	}
	if kept > 2 {
		t.Errorf("%d open/close cycles beside another library's lock left %d descriptors of one file open; want them bounded", cycles, kept)
	}
}

// Many Files of one file closed at once, beside another library's lock:
// every one is parked (none drops the lock), every call on them fails as
// after a close, a second Close says closed, and all of them are closed
// once the lock is gone.
func TestReview5ConcurrentCloseParks(t *testing.T) {
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
			probe := newReview5Probe(t, name)
			defer probe.close()
			unlock := lockAsOtherLibrary(t, name, 1<<30+2, 510)
			const n = 32
			files := make([]File, n)
			for i := range files {
				if files[i], err = fsys.Open(name, 0); err != nil {
					t.Fatal(err)
				}
				if err := files[i].Lock(int64(i), 1, true); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i, f := range files {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = f.Close()
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("Close %d: %v", i, err)
				}
			}
			if !probe.held(t, 1<<30+2, 510) {
				t.Fatal("a concurrent Close dropped the other library's lock")
			}
			for i, f := range files {
				if _, err := f.Size(); err == nil {
					t.Errorf("Size of closed file %d: no error", i)
				}
				if err := f.Close(); err == nil {
					t.Errorf("second Close of file %d: no error", i)
				}
			}
			// Their OFD locks went with Close.
			g, err := fsys.Open(name, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Lock(0, n, true); err != nil {
				t.Errorf("the closed Files' OFD locks outlived Close: %v", err)
			}
			g.Close()
			unlock()
			review5Reap(t)
			if c := parkedCount(); c != 0 {
				t.Errorf("%d descriptors still parked after the lock went", c)
			}
		})
	}
}
