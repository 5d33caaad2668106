package iouringvfs

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/golibsql/libsql/internal/capi"
	"github.com/golibsql/libsql/iouring_vfs/ioback"
)

// tempFile is a private file: what SQLite gets for everything that is not
// a main database file (the rollback journal, see File.SetupJournal;
// temporary databases and statement journals; a sort's spilled runs).
// Nothing else can open it, and it vanishes on Close.
//
// A tempFile is used by one SQLite connection (or one sorter thread of it)
// at a time, as SQLite uses every file handle, so it has no lock of its
// own. It starts in memory, in chunks of tempChunk bytes from tempPool,
// shared by the process: chunks go back to the pool when the file is
// truncated below them or closed, and the next file (a sort's next run,
// the next CREATE INDEX) takes them from there instead of the Go heap.
//
// A file that would grow past tempFileMemMax in memory, or take the
// memory of all temporary files in the process past tempMemMax, moves to
// disk, as stock SQLite keeps its temporary files: an unlinked file in
// SQLITE_TMPDIR, or else the system's temporary directory (os.TempDir),
// created with mode 0600. A big sort or CREATE INDEX then takes disk
// space rather than the process's memory. If that file cannot be created,
// the file stays in memory (said once in the log).
type tempFile struct {
	chunks []tempPart
	held   int64 // bytes of the chunks in chunks
	size   int64
	disk   *diskFile // the file on disk, once moved there
	noDisk bool      // moving to disk failed: the file stays in memory
}

// tempDisk is the file a tempFile moves to: an *os.File, or a faulty one
// in tests (tempCreateDisk).
type tempDisk interface {
	io.ReaderAt
	io.WriterAt
	Truncate(size int64) error
	Close() error
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

// The bounds past which temporary files move to disk (variables for
// tests): one file's memory, and that of all the process's files.
var (
	tempFileMemMax int64 = 32 << 20
	tempMemMax     int64 = 128 << 20
)

// tempMem is the memory temporary files hold now, and tempSpills counts
// the files that moved to disk; PRAGMA libsql_stats reports both.
var (
	tempMem    atomic.Int64
	tempSpills atomic.Uint64
)

// tempCreateDisk creates the disk file a tempFile moves to. name is
// non-empty if the file could not be removed at once, for Close to remove.
var tempCreateDisk = func() (f tempDisk, name string, err error) {
	dir := os.Getenv("SQLITE_TMPDIR")
	if dir == "" {
		dir = os.TempDir()
	}
	osf, err := os.CreateTemp(dir, "libsql-temp-*")
	if err != nil {
		return nil, "", err
	}
	if os.Remove(osf.Name()) != nil {
		return osf, osf.Name(), nil
	}
	return osf, "", nil
}

// tempDiskFailed is set once the failure to move a file to disk has been
// logged.
var tempDiskFailed atomic.Bool

// tempPool is the process's free list of chunks, at most tempPoolMax
// bytes. Chunks in it hold stale bytes.
var tempPool struct {
	mu   sync.Mutex
	free []*[tempChunk]byte
}

// tempGet returns a chunk with arbitrary contents, counted in tempMem.
func tempGet() *[tempChunk]byte {
	tempMem.Add(tempChunk)
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
		tempMem.Add(-tempChunk)
		if len(tempPool.free) >= tempPoolMax/tempChunk {
			continue
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
	t.chunks, t.held, t.size = nil, 0, 0
	if t.disk == nil {
		return nil
	}
	err := t.disk.close()
	t.disk = nil
	if err != nil {
		return fmt.Errorf("close temporary file: %w", err)
	}
	return nil
}

// ReadAt reads up to the end of the file and returns the count read,
// leaving p past it untouched (the bridge zero-fills it and reports a
// short read).
func (t *tempFile) ReadAt(p []byte, off int64) (int, error) {
	if t.disk != nil {
		n := int(max(0, min(int64(len(p)), t.size-off)))
		if n == 0 {
			return 0, nil
		}
		k, err := t.disk.ReadAt(p[:n], off)
		if err == io.EOF {
			// The disk file ends early only where the file was never
			// written; it reads as zeros.
			clear(p[k:n])
			k, err = n, nil
		}
		if err != nil {
			return k, fmt.Errorf("read %d bytes at %d of a temporary file on disk: %w", n, off, err)
		}
		return n, nil
	}
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
	if t.disk == nil && !t.noDisk && t.wantsDisk(p, off) {
		t.moveToDisk()
	}
	if t.disk != nil {
		if _, err := t.disk.WriteAt(p, off); err != nil {
			return diskFail(capi.IOERR_WRITE, fmt.Errorf("write %d bytes at %d of a temporary file on disk: %w", len(p), off, err))
		}
		t.size = max(t.size, off+int64(len(p)))
		return nil
	}
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
			t.held += tempChunk
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

// wantsDisk reports whether writing p at off would take the file's memory
// past tempFileMemMax, or that of every temporary file past tempMemMax.
func (t *tempFile) wantsDisk(p []byte, off int64) bool {
	if len(p) == 0 {
		return false
	}
	var need int64
	for c := off / tempChunk; c <= (off+int64(len(p))-1)/tempChunk; c++ {
		if c >= int64(len(t.chunks)) || t.chunks[c].buf == nil {
			need += tempChunk
		}
	}
	return need > 0 && (t.held+need > tempFileMemMax || tempMem.Load()+need > tempMemMax)
}

// moveToDisk copies the file to a new disk file and gives its memory
// back. On failure the file stays in memory for good, and the first
// failure in the process is logged.
func (t *tempFile) moveToDisk() {
	d, err := createDiskFile()
	if err == nil {
		err = d.Truncate(t.size)
		for c := 0; err == nil && c < len(t.chunks); c++ {
			if part := t.chunks[c]; part.buf != nil && part.hi > 0 {
				_, err = d.WriteAt(part.buf[:part.hi], int64(c)*tempChunk)
			}
		}
		if err != nil {
			d.close()
		}
	}
	if err != nil {
		t.noDisk = true
		if tempDiskFailed.CompareAndSwap(false, true) {
			ioback.Logf("libsql: a large temporary file stays in memory: moving it to disk failed: %v", err)
		}
		return
	}
	tempPut(t.chunks)
	t.chunks, t.held, t.disk = nil, 0, d
	tempSpills.Add(1)
}

// diskFail gives a failed operation on a temporary file on disk its SQLite
// code: SQLITE_FULL for a full disk (the statement fails and changes
// nothing), else code.
func diskFail(code int32, err error) error {
	return &capi.CodeError{Code: fullOr(code, err), Err: err}
}

func (t *tempFile) Truncate(size int64) error {
	if size == 0 {
		// Emptied (the rollback journal at the end of every transaction,
		// see File.SetupJournal, a statement journal at the end of every
		// statement): the file starts over in memory, and may move to disk
		// again, so a big transaction does not leave the connection's next
		// small ones writing to disk.
		t.noDisk = false
		if t.disk != nil {
			if err := t.disk.close(); err != nil {
				ioback.Logf("libsql: closing a temporary file on disk: %v", err)
			}
			t.disk, t.size = nil, 0
			return nil
		}
	}
	if t.disk != nil {
		if err := t.disk.Truncate(size); err != nil {
			return diskFail(capi.IOERR_TRUNCATE, fmt.Errorf("truncate a temporary file on disk to %d bytes: %w", size, err))
		}
		t.size = size
		return nil
	}
	if size < t.size {
		keep := (size + tempChunk - 1) / tempChunk
		if keep < int64(len(t.chunks)) {
			for _, part := range t.chunks[keep:] {
				if part.buf != nil {
					t.held -= tempChunk
				}
			}
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

// TempFile is a private temporary file for the driver's own bookkeeping,
// such as the row changes a BEGIN CONCURRENT transaction keeps for its
// rebase: kept as SQLite's temporary files are (see tempFile), in memory
// up to the same bounds and counted with them, on disk past them, and gone
// at Close. One goroutine uses it at a time.
type TempFile struct{ t tempFile }

// NewTempFile returns an empty TempFile.
func NewTempFile() *TempFile { return &TempFile{} }

// ReadAt reads len(p) bytes at off; reading past the end is an error.
func (f *TempFile) ReadAt(p []byte, off int64) error {
	if off < 0 || off+int64(len(p)) > f.t.size {
		return fmt.Errorf("read %d bytes at %d of a temporary file of %d bytes: %w", len(p), off, f.t.size, io.ErrUnexpectedEOF)
	}
	_, err := f.t.ReadAt(p, off)
	return err
}

// WriteAt writes p at off, growing the file if need be.
func (f *TempFile) WriteAt(p []byte, off int64) error { return f.t.WriteAt(p, off) }

// Truncate sets the file's size; 0 gives back its memory or its disk file.
func (f *TempFile) Truncate(size int64) error { return f.t.Truncate(size) }

// Size returns the file's size.
func (f *TempFile) Size() int64 { return f.t.size }

// Close gives back the file's memory and removes its disk file.
func (f *TempFile) Close() error { return f.t.Close() }

// SetTempMemoryForTesting sets the bounds past which temporary files move
// to disk (one file's memory, and that of all the process's), for tests of
// other packages that need big temporary files without big data; restore
// puts the old bounds back.
func SetTempMemoryForTesting(file, total int64) (restore func()) {
	oldFile, oldTotal := tempFileMemMax, tempMemMax
	tempFileMemMax, tempMemMax = file, total
	return func() { tempFileMemMax, tempMemMax = oldFile, oldTotal }
}

// TempDisk is what a temporary file on disk is to the files that move
// there: an *os.File, or a faulty one in tests (SetTempDiskForTesting).
type TempDisk = tempDisk

// SetTempDiskForTesting makes the disk files that temporary files and
// write sets move to what wrap makes of them (it gets the unlinked
// *os.File), for tests that inject faults; restore puts the old way back.
func SetTempDiskForTesting(wrap func(*os.File) TempDisk) (restore func()) {
	old := tempCreateDisk
	tempCreateDisk = func() (tempDisk, string, error) {
		f, name, err := old()
		if err != nil {
			return nil, "", err
		}
		return wrap(f.(*os.File)), name, nil
	}
	return func() { tempCreateDisk = old }
}
