package ioback

import (
	"errors"
	"sync"
	"sync/atomic"
)

// ArenaFS is implemented by an FS that can give out memory for page buffers
// which its Files read into faster than into ordinary memory. The io_uring
// backend registers an arena with every ring (a sparse table from
// IORING_REGISTER_BUFFERS2, filled with IORING_REGISTER_BUFFERS_UPDATE), so
// that ring reads into a destination lying inside an arena (File.ReadBatch;
// File.ReadAt too where single reads go through the ring, see
// RingSingleReadsForTesting) become IORING_OP_READ_FIXED: the kernel skips
// pinning and unpinning the destination pages on every read. The other
// backends hand out plain memory, so a page cache can always allocate from
// an arena and needs no special case; use the package function NewArena,
// which also covers an FS that does not implement ArenaFS.
type ArenaFS interface {
	// NewArena returns an arena of size bytes (size > 0), zero-filled.
	NewArena(size int) (*Arena, error)
}

// NewArena returns an arena of size bytes from fsys if it implements
// ArenaFS, and otherwise an arena of ordinary memory. Wrappers such as
// package iofault's forward to the FS they wrap.
func NewArena(fsys FS, size int) (*Arena, error) {
	if a, ok := fsys.(ArenaFS); ok {
		return a.NewArena(size)
	}
	return NewHeapArena(size)
}

// NewHeapArena returns an arena of ordinary Go memory: what every backend
// without registered buffers gives out.
func NewHeapArena(size int) (*Arena, error) {
	if size <= 0 {
		return nil, errArenaSize
	}
	return newArenaValue(make([]byte, size), nil), nil
}

// openArenas counts the arenas made and not yet closed (see OpenArenas).
var openArenas atomic.Int64

// newArenaValue wraps mem, counting the arena as open until Close.
func newArenaValue(mem []byte, backend arenaBackend) *Arena {
	openArenas.Add(1)
	return &Arena{mem: mem, backend: backend}
}

// OpenArenas reports how many arenas, of every backend, have been made and
// not yet closed. An arena is never freed by the garbage collector (the
// io_uring backend's is mapped memory holding slots of every ring's buffer
// table), so a count that keeps growing is a leak; tests check it.
func OpenArenas() int64 { return openArenas.Load() }

var errArenaSize = errors.New("ioback: arena size must be positive")

// Arena is a block of memory for page buffers (see ArenaFS). Carve it up
// with Bytes; any sub-slice can be the destination of a read or the source
// of a write on any File.
//
// Ownership: the memory belongs to the Arena until Close. After Close it
// may be unmapped: the caller must make sure that no read into it is in
// flight and that no slice of it is used any more. An arena is not freed
// by the garbage collector; call Close.
type Arena struct {
	mem     []byte
	backend arenaBackend // nil for ordinary memory
	once    sync.Once
	err     error
}

// arenaBackend is what a backend attaches to an arena it registered.
type arenaBackend interface {
	fixed() bool  // reads into the arena use registered buffers
	close() error // unregister and release the memory
}

// Bytes returns the arena's memory. It is valid until Close.
func (a *Arena) Bytes() []byte { return a.mem }

// Len returns the arena's size in bytes.
func (a *Arena) Len() int { return len(a.mem) }

// Fixed reports whether reads into this arena go through registered
// buffers (IORING_OP_READ_FIXED). It is false for ordinary memory and when
// the kernel refused the registration (for example RLIMIT_MEMLOCK); the
// arena works either way.
func (a *Arena) Fixed() bool { return a.backend != nil && a.backend.fixed() }

// Close releases the arena. See the type's comment for what the caller must
// ensure first. Close is idempotent.
func (a *Arena) Close() error {
	a.once.Do(func() {
		if a.backend != nil {
			a.err = a.backend.close()
		}
		a.mem = nil
		openArenas.Add(-1)
	})
	return a.err
}
