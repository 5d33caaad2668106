//go:build !linux && !darwin && !openbsd && !illumos

package ioback

// preadv is one pread per buffer where the system has no preadv.
func (f *osFile) preadv(bufs [][]byte, off int64) (int64, error) { return f.readvSeq(bufs, off) }

// pwritev is one pwrite per buffer where the system has no pwritev (or
// x/sys/unix does not offer it).
func (f *osFile) pwritev(bufs [][]byte, off int64) error { return f.writevSeq(bufs, off) }
