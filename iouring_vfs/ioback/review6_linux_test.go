package ioback

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// review6Park opens name with fsys (flag), and closes it while another
// descriptor of the process holds a traditional lock on the file, so that
// the descriptor is parked; it returns the function dropping that lock.
func review6Park(t *testing.T, fsys FS, name string, flag OpenFlag) func() {
	t.Helper()
	unlock := lockAsOtherLibrary(t, name, 1<<30+2, 510)
	before := parkedCount()
	f, err := fsys.Open(name, flag)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if parkedCount() != before+1 {
		t.Fatalf("setup: descriptor not parked (%d -> %d)", before, parkedCount())
	}
	return func() {
		unlock()
		review5Reap(t)
	}
}

func review6Kinds(t *testing.T, fn func(t *testing.T, fsys FS)) {
	for _, kind := range []Kind{KindPortable, KindUring} {
		t.Run(kind.String(), func(t *testing.T) {
			fsys, err := New(kind)
			if err != nil {
				t.Skip(err)
			}
			fn(t, fsys)
		})
	}
}

// A parked descriptor of a file that was then replaced at its path (rename
// over it, or remove and create) must not serve the next open of the
// path: the new File must be the new file.
func TestReview6ParkedNotReusedForReplacedFile(t *testing.T) {
	for _, how := range []string{"rename", "recreate"} {
		t.Run(how, func(t *testing.T) {
			review6Kinds(t, func(t *testing.T, fsys FS) {
				dir := t.TempDir()
				name := filepath.Join(dir, "x.db")
				if err := os.WriteFile(name, []byte("old-contents"), 0o644); err != nil {
					t.Fatal(err)
				}
				unlock := review6Park(t, fsys, name, 0)
				defer unlock()
				if how == "rename" {
					tmp := filepath.Join(dir, "y")
					os.WriteFile(tmp, []byte("new-contents"), 0o644)
					if err := os.Rename(tmp, name); err != nil {
						t.Fatal(err)
					}
				} else {
					os.Remove(name)
					os.WriteFile(name, []byte("new-contents"), 0o644)
				}
				f, err := fsys.Open(name, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				b := make([]byte, 12)
				if _, err := f.ReadAt(b, 0); err != nil {
					t.Fatal(err)
				}
				if string(b) != "new-contents" {
					t.Errorf("Open after the file was replaced reads %q", b)
				}
			})
		})
	}
}

// A parked read-only descriptor must not serve a read-write File (writes
// would fail with EBADF), and a parked read-write one serving a read-only
// File must leave that File read-only.
func TestReview6ParkedReadOnlyAndReadWrite(t *testing.T) {
	review6Kinds(t, func(t *testing.T, fsys FS) {
		name := filepath.Join(t.TempDir(), "x.db")
		if err := os.WriteFile(name, make([]byte, 4096), 0o644); err != nil {
			t.Fatal(err)
		}
		unlock := review6Park(t, fsys, name, OpenReadOnly)
		defer unlock()
		f, err := fsys.Open(name, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte("abc"), 0); err != nil {
			t.Errorf("WriteAt of a read-write File opened beside a parked read-only descriptor: %v", err)
		}
		f.Close() // parked: read-write
		before := parkedCount()
		g, err := fsys.Open(name, OpenReadOnly)
		if err != nil {
			t.Fatal(err)
		}
		if parkedCount() != before-1 {
			t.Logf("read-only open did not reuse the parked read-write descriptor (%d -> %d)", before, parkedCount())
		}
		if _, err := g.WriteAt([]byte("xyz"), 0); err == nil {
			t.Error("a read-only File served by a parked read-write descriptor accepted a write")
		}
		b := make([]byte, 3)
		g.ReadAt(b, 0)
		if string(b) != "abc" {
			t.Errorf("read %q, want abc", b)
		}
		g.Close()
	})
}

// processLocked with many locks of other owners (a child process's or
// another descriptor's OFD locks all over the file) must still find ours,
// and stay cheap.
func TestReview6ProcessLockedManyOtherLocks(t *testing.T) {
	name := filepath.Join(t.TempDir(), "x.db")
	if err := os.WriteFile(name, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	probe := newReview5Probe(t, name)
	defer probe.close()
	ofd, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer ofd.Close()
	for i := range int64(200) {
		if err := ofdLock(int(ofd.Fd()), unix.F_RDLCK, 1000+10*i, 5); err != nil {
			t.Fatal(err)
		}
	}
	if processLocked(probe.fd) {
		t.Fatal("processLocked true with only OFD locks of another descriptor")
	}
	unlock := lockAsOtherLibrary(t, name, 1000+10*150+7, 1)
	if !processLocked(probe.fd) {
		t.Error("processLocked false while the process holds a traditional lock between 200 OFD locks")
	}
	unlock()
}
