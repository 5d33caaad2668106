package ioback

import (
	"testing"

	"golang.org/x/sys/unix"
)

// A ring retired after io_uring_enter failed must not keep the files of
// its table: a registered file holds its open file description, so the
// description's OFD locks outlived Close — the database stayed locked for
// every later open, in this process and in others — and so did the inode
// of a file deleted since.
func TestRetiredRingReleasesItsFiles(t *testing.T) {
	testPool(t)
	p := reviewPrivatePool(t, 16, 1)
	if !p.rings[0].fixedFiles {
		t.Skip("the kernel registered no file table")
	}
	u := &uringFS{pool: p}
	names, _ := reviewFiles(t, t.TempDir(), 1)
	f, err := u.Open(names[0], 0)
	if err != nil {
		t.Fatal(err)
	}
	if f.(*uringFile).slot < 0 {
		t.Fatal("the file has no slot in the ring's table")
	}
	if err := f.Lock(0, 1, true); err != nil {
		t.Fatal(err)
	}
	testHookEnter = func() error { return unix.EBADF }
	reqs := []Read{{P: make([]byte, 100), Off: 0}, {P: make([]byte, 100), Off: 9000}}
	err = f.ReadBatch(reqs)
	testHookEnter = nil
	if err == nil {
		t.Fatal("a batch on a failing ring succeeded")
	}
	if len(p.rings) != 0 {
		t.Fatalf("%d rings in the pool, want the failed one retired", len(p.rings))
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(names[0], unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := ofdLock(fd, unix.F_WRLCK, 0, 1); err != nil {
		t.Fatalf("the lock of a closed file is still held after its ring was retired: %v", err)
	}
}
