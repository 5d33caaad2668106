//go:build darwin || openbsd || illumos

package ioback

import "golang.org/x/sys/unix"

// iovMax is a conservative IOV_MAX (1024 on these systems).
const iovMax = 1024

// pwritev writes bufs with pwritev(2), continuing after partial writes.
func (f *osFile) pwritev(bufs [][]byte, off int64) error {
	var todo [][]byte
	for _, b := range bufs {
		if len(b) > 0 {
			todo = append(todo, b)
		}
	}
	for len(todo) > 0 {
		chunk := todo
		if len(chunk) > iovMax {
			chunk = chunk[:iovMax]
		}
		var n int
		err := f.control(func(fd uintptr) error {
			var err error
			for {
				n, err = unix.Pwritev(int(fd), chunk, off)
				if err != unix.EINTR {
					return err
				}
			}
		})
		if err == nil && n == 0 {
			err = unix.EIO
		}
		if err != nil {
			return wrapErrAt("pwritev", f.name, off, err)
		}
		off += int64(n)
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
	return nil
}
