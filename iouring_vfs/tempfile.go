package iouringvfs

import (
	"sync"

	"github.com/golibsql/libsql/internal/capi"
)

// tempFile is a private in-memory file: what SQLite gets for everything
// that is not a main database file (temporary databases, statement
// journals, the rollback journal if a journal mode ever needs one). Nothing
// else can open it, and it vanishes on Close.
//
// A tempFile is used by one SQLite connection (or one sorter thread of it)
// at a time, as SQLite uses every file handle, so it has no lock of its
// own. Its memory comes in chunks of tempChunk bytes from tempPool, shared
// by the process: chunks go back to the pool when the file is truncated
// below them or closed, and the next file (a sort's next run, the next
// CREATE INDEX) takes them from there instead of the Go heap.
type tempFile struct {
	chunks []tempPart
	size   int64
}

// tempPart is one chunk of a tempFile. Only buf[:hi] holds the file's
// bytes (those written, and zeros where a write left a gap); buf[hi:] may
// hold whatever an earlier owner of the chunk left there, and reads as
// zeros. A write past hi first clears the gap from hi, so a chunk taken
// from the pool is never zeroed as a whole, and a sequential writer never
// clears anything. hi never passes the file's size: Truncate lowers it.
type tempPart struct {
	buf *[tempChunk]byte // nil: never written, reads as zeros
	hi  int
}

const (
	tempChunk = 64 << 10
	// tempPoolMax bounds the memory tempPool keeps for later files, so an
	// idle process does not hold a big sort's memory forever.
	tempPoolMax = 8 << 20
)

// tempPool is the process's free list of chunks, at most tempPoolMax
// bytes. Chunks in it hold stale bytes.
var tempPool struct {
	mu   sync.Mutex
	free []*[tempChunk]byte
}

// tempGet returns a chunk with arbitrary contents.
func tempGet() *[tempChunk]byte {
	tempPool.mu.Lock()
	if n := len(tempPool.free); n > 0 {
		b := tempPool.free[n-1]
		tempPool.free[n-1] = nil
		tempPool.free = tempPool.free[:n-1]
		tempPool.mu.Unlock()
		return b
	}
	tempPool.mu.Unlock()
	return new([tempChunk]byte)
}

// tempPut gives chunks back to the pool, dropping those past its bound to
// the garbage collector. The caller must hold no other reference to them.
func tempPut(parts []tempPart) {
	tempPool.mu.Lock()
	defer tempPool.mu.Unlock()
	for _, p := range parts {
		if p.buf == nil {
			continue
		}
		if len(tempPool.free) >= tempPoolMax/tempChunk {
			return
		}
		if tempPool.free == nil {
			tempPool.free = make([]*[tempChunk]byte, 0, tempPoolMax/tempChunk)
		}
		tempPool.free = append(tempPool.free, p.buf)
	}
}

func newTempFile() *tempFile { return &tempFile{} }

var _ capi.VFSFile = (*tempFile)(nil)

func (t *tempFile) Close() error {
	tempPut(t.chunks)
	t.chunks, t.size = nil, 0
	return nil
}

// ReadAt reads up to the end of the file and returns the count read,
// leaving p past it untouched (the bridge zero-fills it and reports a
// short read).
func (t *tempFile) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) && off+int64(n) < t.size {
		pos := off + int64(n)
		c, in := pos/tempChunk, int(pos%tempChunk)
		m := int(min(int64(len(p)-n), int64(tempChunk-in), t.size-pos))
		dst := p[n : n+m]
		k := 0
		if int(c) < len(t.chunks) {
			if part := t.chunks[c]; part.buf != nil && part.hi > in {
				k = copy(dst, part.buf[in:part.hi])
			}
		}
		clear(dst[k:])
		n += m
	}
	return n, nil
}

func (t *tempFile) WriteAt(p []byte, off int64) error {
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		c, in := pos/tempChunk, int(pos%tempChunk)
		for int(c) >= len(t.chunks) {
			t.chunks = append(t.chunks, tempPart{})
		}
		part := &t.chunks[c]
		if part.buf == nil {
			part.buf, part.hi = tempGet(), 0
		}
		if in > part.hi {
			clear(part.buf[part.hi:in])
		}
		m := copy(part.buf[in:], p[n:])
		part.hi = max(part.hi, in+m)
		n += m
	}
	t.size = max(t.size, off+int64(len(p)))
	return nil
}

func (t *tempFile) Truncate(size int64) error {
	if size < t.size {
		keep := (size + tempChunk - 1) / tempChunk
		if keep < int64(len(t.chunks)) {
			tempPut(t.chunks[keep:])
			clear(t.chunks[keep:])
			t.chunks = t.chunks[:keep]
		}
		if in := int(size % tempChunk); in != 0 && size/tempChunk < int64(len(t.chunks)) {
			part := &t.chunks[size/tempChunk]
			part.hi = min(part.hi, in)
		}
	}
	t.size = size
	return nil
}

func (t *tempFile) Sync(int32) error                 { return nil }
func (t *tempFile) Size() (int64, error)             { return t.size, nil }
func (t *tempFile) Lock(int32) error                 { return nil }
func (t *tempFile) Unlock(int32) error               { return nil }
func (t *tempFile) CheckReservedLock() (bool, error) { return false, nil }
func (t *tempFile) SectorSize() int32                { return 512 }
func (t *tempFile) DeviceCharacteristics() int32 {
	return capi.IOCAP_POWERSAFE_OW | capi.IOCAP_SAFE_APPEND | capi.IOCAP_SEQUENTIAL
}
