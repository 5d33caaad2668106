//go:build !linux && !darwin && !openbsd && !illumos

package ioback

// pwritev is one pwrite per buffer where the system has no pwritev (or
// x/sys/unix does not offer it).
func (f *osFile) pwritev(bufs [][]byte, off int64) error { return f.writevSeq(bufs, off) }
