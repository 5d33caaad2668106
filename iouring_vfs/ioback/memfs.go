package ioback

import (
	"io"
	"io/fs"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// NewMemFS returns an empty in-memory file system, the backend of in-memory
// databases. Files are stored in page-sized chunks allocated on first write
// (a hole reads as zeros), so growing a file never copies what it holds and
// a 4 KiB page read or write touches one chunk. Every method is safe for
// concurrent use; reads of one file run in parallel.
//
// Semantics follow the disk backends: a removed file stays readable and
// writable through Files that had it open; Lock has OFD semantics per File
// (two Opens of one name conflict; Close releases the File's locks); ID is
// unique per file (per MemFS and per creation); Sync, SyncDir and Allocate
// succeed and do nothing.
func NewMemFS() FS {
	return &memFS{files: make(map[string]*memNode), dev: memDevSeq.Add(1) | 1<<63}
}

// memChunk is the allocation unit of MemFS files: one database page at the
// default page size.
const memChunk = 4096

// memDevSeq numbers MemFS instances, so FileIDs of different instances
// differ. The top bit keeps them apart from real device numbers.
var memDevSeq atomic.Uint64

type memFS struct {
	mu      sync.Mutex
	files   map[string]*memNode
	dev     uint64
	nextIno uint64
}

var _ FS = (*memFS)(nil)
var _ ArenaFS = (*memFS)(nil)

// memNode is a file's contents. Bytes of allocated chunks at or beyond size
// are always zero, so growing the file (Truncate, a write past a hole)
// needs no clearing.
type memNode struct {
	id FileID

	mu     sync.RWMutex // guards size and chunks
	size   int64
	chunks []*[memChunk]byte // nil: a hole

	lockMu sync.Mutex
	locks  lockTable
}

// memFile is a File of a MemFS: a handle on a node.
type memFile struct {
	node     *memNode
	name     string
	readOnly bool
	owner    uint64
	closed   atomic.Bool
}

var memOwnerSeq atomic.Uint64

func memName(name string) string { return filepath.Clean(name) }

func (m *memFS) Open(name string, flag OpenFlag) (File, error) {
	key := memName(name)
	m.mu.Lock()
	n := m.files[key]
	if n == nil {
		if flag&OpenCreate == 0 {
			m.mu.Unlock()
			return nil, wrapErr("open", name, fs.ErrNotExist)
		}
		m.nextIno++
		n = &memNode{id: FileID{Dev: m.dev, Ino: m.nextIno}}
		m.files[key] = n
	}
	m.mu.Unlock()
	return &memFile{node: n, name: name, readOnly: flag&OpenReadOnly != 0, owner: memOwnerSeq.Add(1)}, nil
}

func (m *memFS) Remove(name string) error {
	key := memName(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.files[key] == nil {
		return wrapErr("remove", name, fs.ErrNotExist)
	}
	delete(m.files, key)
	return nil
}

func (m *memFS) Stat(name string) (int64, FileID, error) {
	m.mu.Lock()
	n := m.files[memName(name)]
	m.mu.Unlock()
	if n == nil {
		return 0, FileID{}, wrapErr("stat", name, fs.ErrNotExist)
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.size, n.id, nil
}

func (m *memFS) SyncDir(string) error { return nil }

// NewArena gives out ordinary memory.
func (m *memFS) NewArena(size int) (*Arena, error) { return NewHeapArena(size) }

func (f *memFile) check(op string, off int64) error {
	if f.closed.Load() {
		return wrapErrAt(op, f.name, off, errClosed)
	}
	if off < 0 {
		return wrapErrAt(op, f.name, off, errNegative)
	}
	return nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.check("pread", off); err != nil {
		return 0, err
	}
	n := f.node
	n.mu.RLock()
	defer n.mu.RUnlock()
	if off >= n.size {
		return 0, io.EOF
	}
	want := len(p)
	if rest := n.size - off; int64(want) > rest {
		want = int(rest)
	}
	done := 0
	for done < want {
		pos := off + int64(done)
		ci, co := pos/memChunk, int(pos%memChunk)
		m := min(want-done, memChunk-co)
		if ci < int64(len(n.chunks)) && n.chunks[ci] != nil {
			copy(p[done:done+m], n.chunks[ci][co:])
		} else {
			clear(p[done : done+m])
		}
		done += m
	}
	if done < len(p) {
		return done, io.EOF
	}
	return done, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.check("pwrite", off); err != nil {
		return 0, err
	}
	if f.readOnly {
		return 0, wrapErrAt("pwrite", f.name, off, errReadOnly)
	}
	n := f.node
	n.mu.Lock()
	defer n.mu.Unlock()
	n.write(p, off)
	return len(p), nil
}

// write stores p at off; n.mu is held for writing.
func (n *memNode) write(p []byte, off int64) {
	if len(p) == 0 {
		return
	}
	end := off + int64(len(p))
	if need := int((end + memChunk - 1) / memChunk); need > len(n.chunks) {
		n.chunks = append(n.chunks, make([]*[memChunk]byte, need-len(n.chunks))...)
	}
	done := 0
	for done < len(p) {
		pos := off + int64(done)
		ci, co := pos/memChunk, int(pos%memChunk)
		c := n.chunks[ci]
		if c == nil {
			c = new([memChunk]byte)
			n.chunks[ci] = c
		}
		done += copy(c[co:], p[done:])
	}
	if end > n.size {
		n.size = end
	}
}

func (f *memFile) ReadBatch(reqs []Read) error { return readEach(f, reqs) }

func (f *memFile) WritevAt(bufs [][]byte, off int64) error {
	if err := f.check("pwritev", off); err != nil {
		return err
	}
	if f.readOnly {
		return wrapErrAt("pwritev", f.name, off, errReadOnly)
	}
	n := f.node
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, b := range bufs {
		n.write(b, off)
		off += int64(len(b))
	}
	return nil
}

func (f *memFile) Sync() error { return f.check("fdatasync", 0) }

func (f *memFile) Truncate(size int64) error {
	if err := f.check("ftruncate", size); err != nil {
		return err
	}
	if f.readOnly {
		return wrapErrAt("ftruncate", f.name, size, errReadOnly)
	}
	n := f.node
	n.mu.Lock()
	defer n.mu.Unlock()
	if size < n.size {
		keep := int((size + memChunk - 1) / memChunk)
		if keep < len(n.chunks) {
			clear(n.chunks[keep:])
			n.chunks = n.chunks[:keep]
		}
		if co := int(size % memChunk); co != 0 && keep > 0 && keep <= len(n.chunks) {
			if c := n.chunks[keep-1]; c != nil {
				clear(c[co:])
			}
		}
	}
	n.size = size
	return nil
}

func (f *memFile) Size() (int64, error) {
	if err := f.check("fstat", 0); err != nil {
		return 0, err
	}
	f.node.mu.RLock()
	defer f.node.mu.RUnlock()
	return f.node.size, nil
}

func (f *memFile) Allocate(off, n int64) error {
	if err := f.check("fallocate", off); err != nil {
		return err
	}
	if n < 0 {
		return wrapErrAt("fallocate", f.name, off, errNegative)
	}
	return nil
}

func (f *memFile) Lock(start, n int64, exclusive bool) error {
	if err := f.check("lock", start); err != nil {
		return err
	}
	if n < 0 {
		return wrapErrAt("lock", f.name, start, errNegative)
	}
	f.node.lockMu.Lock()
	defer f.node.lockMu.Unlock()
	if !f.node.locks.lock(f.owner, start, lockEnd(start, n), exclusive) {
		return ErrLocked
	}
	return nil
}

func (f *memFile) Unlock(start, n int64) error {
	if err := f.check("unlock", start); err != nil {
		return err
	}
	if n < 0 {
		return wrapErrAt("unlock", f.name, start, errNegative)
	}
	f.node.lockMu.Lock()
	defer f.node.lockMu.Unlock()
	f.node.locks.cut(f.owner, start, lockEnd(start, n))
	return nil
}

func (f *memFile) ID() (FileID, error) {
	if err := f.check("fstat", 0); err != nil {
		return FileID{}, err
	}
	return f.node.id, nil
}

func (f *memFile) Close() error {
	if !f.closed.CompareAndSwap(false, true) {
		return wrapErr("close", f.name, errClosed)
	}
	f.node.lockMu.Lock()
	f.node.locks.releaseAll(f.owner)
	f.node.lockMu.Unlock()
	return nil
}

func (m *memFS) backendName() string { return "memory" }
