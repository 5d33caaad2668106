package capi

import (
	"unsafe"

	"modernc.org/libc"
	"modernc.org/libc/sys/types"
)

// cptr converts an address in C memory to an unsafe.Pointer.
//
// The addresses this package handles come from the libc heap or from
// SQLite's own allocations, never from the Go heap, so the collector neither
// moves nor frees them under us. The conversion goes through memory rather
// than a direct unsafe.Pointer(uintptr) so that go vet's unsafeptr check,
// which is right to flag that form for Go memory, stays quiet here.
func cptr(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }

// cindex returns element i of the C array of T at base.
func cindex[T any](base uintptr, i int) *T {
	var zero T
	return (*T)(cptr(base + uintptr(i)*unsafe.Sizeof(zero)))
}

// cbytes returns the n bytes of C memory at p as a slice. The slice aliases C
// memory: it must not outlive the memory, and must not be retained.
func cbytes(p uintptr, n int) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(cptr(p)), n)
}

// goString copies the NUL-terminated C string at p into a Go string.
func goString(p uintptr) string {
	if p == 0 {
		return ""
	}
	return libc.GoString(p)
}

// cstringView returns the NUL-terminated C string at p as a Go string that
// aliases the C memory instead of copying it. It is valid only while its
// owner keeps the memory unchanged (for a string SQLite passes to a VFS
// callback: during the call), so it must not be retained: whoever keeps it
// copies it first (strings.Clone).
func cstringView(tls *libc.TLS, p uintptr) string {
	if p == 0 {
		return ""
	}
	return unsafe.String((*byte)(cptr(p)), int(libc.Xstrlen(tls, p)))
}

// cbuf is a growable buffer in the libc heap. Its owner frees it with free.
// Growing may move it: no pointer into a cbuf survives a call to reserve.
type cbuf struct {
	p uintptr
	n int
}

// reserve makes the buffer at least n bytes long, keeping nothing of its old
// contents. It reports whether memory was available.
func (b *cbuf) reserve(tls *libc.TLS, n int) bool {
	if n <= b.n {
		return true
	}
	size := max(n, 2*b.n, 256)
	if b.p != 0 {
		libc.Xfree(tls, b.p)
		b.p, b.n = 0, 0
	}
	p := libc.Xmalloc(tls, types.Size_t(size))
	if p == 0 {
		return false
	}
	b.p, b.n = p, size
	return true
}

// free releases the buffer.
func (b *cbuf) free(tls *libc.TLS) {
	if b.p != 0 {
		libc.Xfree(tls, b.p)
		b.p, b.n = 0, 0
	}
}

// stackString copies s with a terminating NUL onto the TLS stack and returns
// its address. The caller releases it with tls.Free(size) where size is the
// second result, before returning, in LIFO order with other tls.Alloc calls.
func stackString(tls *libc.TLS, s string) (p uintptr, size int) {
	size = len(s) + 1
	p = tls.Alloc(size)
	b := cbytes(p, size)
	copy(b, s)
	b[len(s)] = 0
	return p, size
}
