//go:build linux || darwin || openbsd || illumos

package ioback

import (
	"io"

	"golang.org/x/sys/unix"
)

// The one pwritev loop and the one preadv loop of the systems where
// x/sys/unix has pwritev(2) and preadv(2): the io_uring backend (which
// never writes through the ring, and reads one range of a file with one
// preadv; see doc.go) and the portable backend on each of them use them.

// iovMax is the most buffers one pwritev takes: IOV_MAX on Linux, and
// no more than it on the others.
const iovMax = 1024

// pwritevFull writes bufs one after another at off, continuing after
// partial writes, in chunks of at most iovMax buffers. It returns the error
// and the offset at which it happened.
func pwritevFull(fd int, bufs [][]byte, off int64) (int64, error) {
	// A write that makes no progress and reports no error must not spin.
	n, err := vectoredFull(fd, bufs, off, unix.Pwrite, unix.Pwritev, unix.EIO)
	return off + n, err
}

// preadvFull reads into bufs one after another from off, continuing after
// partial reads, in chunks of at most iovMax buffers. It returns the bytes
// read and, if it read fewer than the buffers hold, io.EOF (the file ended)
// or the error.
func preadvFull(fd int, bufs [][]byte, off int64) (int64, error) {
	return vectoredFull(fd, bufs, off, unix.Pread, unix.Preadv, io.EOF)
}

// vectoredFull moves bufs one after another from off with one (a single
// buffer) or many (several), continuing after partial transfers and
// retrying EINTR, in chunks of at most iovMax buffers. It returns the bytes
// moved and the error that stopped it; a call that moves nothing without an
// error stops it with none.
func vectoredFull(fd int, bufs [][]byte, off int64,
	one func(fd int, p []byte, off int64) (int, error),
	many func(fd int, iovs [][]byte, off int64) (int, error),
	none error) (int64, error) {
	// Skip empty buffers up front so a partial transfer's bookkeeping
	// stays simple, and copy the slice headers: we advance them.
	var small [8][]byte
	todo := small[:0]
	for _, b := range bufs {
		if len(b) > 0 {
			todo = append(todo, b)
		}
	}
	var total int64
	for len(todo) > 0 {
		chunk := todo[:min(len(todo), iovMax)]
		var n int
		var err error
		if len(chunk) == 1 {
			n, err = one(fd, chunk[0], off+total)
		} else {
			n, err = many(fd, chunk, off+total)
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, none
		}
		total += int64(n)
		for n > 0 {
			if n >= len(todo[0]) {
				n -= len(todo[0])
				todo = todo[1:]
			} else {
				todo[0] = todo[0][n:]
				n = 0
			}
		}
	}
	return total, nil
}

// preadv reads one range of the file into bufs with preadvFull.
func (f *osFile) preadv(bufs [][]byte, off int64) (int64, error) {
	var n int64
	err := f.control(func(fd uintptr) error {
		var err error
		n, err = preadvFull(int(fd), bufs, off)
		return err
	})
	return n, wrapErrAt("preadv", f.name, off+n, err)
}

// pwritev writes bufs with pwritevFull, continuing after partial writes.
func (f *osFile) pwritev(bufs [][]byte, off int64) error {
	at := off
	err := f.control(func(fd uintptr) error {
		var err error
		at, err = pwritevFull(int(fd), bufs, off)
		return err
	})
	return wrapErrAt("pwritev", f.name, at, err)
}
