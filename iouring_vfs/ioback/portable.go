package ioback

import (
	"os"
	"sync/atomic"
	"syscall"
)

// Portable returns the portable backend: os.File with positioned reads and
// writes (pread/pwrite), pwritev where the OS has it, fdatasync on Linux and
// os.File.Sync (fsync; F_FULLFSYNC on macOS; FlushFileBuffers on Windows)
// elsewhere, fallocate(KEEP_SIZE) on Linux, and byte-range locks:
//
//   - Linux: open file description locks (F_OFD_SETLK), exactly the
//     semantics File.Lock documents.
//   - Other Unix: POSIX F_SETLK, whose locks belong to the process, not to
//     the open file: the kernel sees one owner per process, so another
//     process is kept out, but two Files of one file in this process would
//     not conflict, and closing any descriptor of the file would drop all of
//     the process's locks on it. This backend papers over both: conflicts
//     between Files of this process are found in an in-process table keyed
//     by device and inode, only the bytes no other File of this process
//     still holds are unlocked in the kernel, and descriptors of a file stay
//     open (and its locks held) until the last File of that file in this
//     process is closed. What remains weaker than OFD locks: a lock taken
//     through a descriptor this package did not open (another library in
//     this process opening the same file and closing it) still drops ours.
//   - Windows: LockFileEx with LOCKFILE_FAIL_IMMEDIATELY, which locks per
//     handle like OFD locks but is mandatory (other handles cannot read or
//     write a locked range) and cannot convert a lock in place: a change
//     between shared and exclusive unlocks and relocks.
//
// The same FS value may be used for any number of files; it has no state.
func Portable() FS { return portableFS{} }

type portableFS struct{}

// osFile is a File of the portable backend.
type osFile struct {
	f        *os.File
	rc       syscall.RawConn
	name     string
	readOnly bool
	plat     platState // per-OS state (lock bookkeeping)
	// parked: Close kept the descriptor open (Linux, posixlocks_linux.go);
	// every call fails as after a close.
	parked atomic.Bool
}

var _ File = (*osFile)(nil)
var _ ArenaFS = portableFS{}

func (portableFS) Open(name string, flag OpenFlag) (File, error) {
	mode := os.O_RDWR
	if flag&OpenReadOnly != 0 {
		mode = os.O_RDONLY
	}
	if flag&OpenCreate != 0 {
		mode |= os.O_CREATE
	}
	f := takeParkedFile(name, flag&OpenReadOnly != 0)
	if f == nil {
		var err error
		if f, err = os.OpenFile(name, mode|oNoFollow, 0o644); err != nil {
			return nil, wrapErr("open", name, err)
		}
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, wrapErr("open", name, err)
	}
	of := &osFile{f: f, rc: rc, name: name, readOnly: flag&OpenReadOnly != 0}
	if err := of.platOpen(); err != nil {
		f.Close()
		return nil, wrapErr("open", name, err)
	}
	return of, nil
}

func (portableFS) Remove(name string) error {
	return wrapErr("remove", name, os.Remove(name))
}

func (portableFS) Stat(name string) (int64, FileID, error) {
	size, id, err := statID(name)
	return size, id, wrapErr("stat", name, err)
}

func (portableFS) SyncDir(dir string) error { return syncDir(dir) }

// NewArena gives out ordinary memory: plain pread gains nothing from a
// special buffer.
func (portableFS) NewArena(size int) (*Arena, error) { return NewHeapArena(size) }

// control runs fn with the file's descriptor (a HANDLE on Windows). The
// descriptor cannot be closed while fn runs: os.File holds a reference.
// RawConn.Control fails only when the file is closed, with an error ("use
// of closed file") that does not match fs.ErrClosed, so it reports
// errClosed instead, as File's contract says.
func (f *osFile) control(fn func(fd uintptr) error) error {
	var err error
	if f.parked.Load() {
		return errClosed
	}
	if cerr := f.rc.Control(func(fd uintptr) { err = fn(fd) }); cerr != nil {
		return errClosed
	}
	return err
}

func (f *osFile) ReadAt(p []byte, off int64) (int, error) {
	if f.parked.Load() {
		return 0, wrapErrAt("pread", f.name, off, errClosed)
	}
	n, err := f.f.ReadAt(p, off)
	return n, wrapErrAt("pread", f.name, off, err)
}

func (f *osFile) WriteAt(p []byte, off int64) (int, error) {
	if f.readOnly {
		return 0, wrapErrAt("pwrite", f.name, off, errReadOnly)
	}
	if f.parked.Load() {
		return 0, wrapErrAt("pwrite", f.name, off, errClosed)
	}
	n, err := f.f.WriteAt(p, off)
	return n, wrapErrAt("pwrite", f.name, off, err)
}

// ReadBatch reads a batch that covers one range of the file with one preadv
// (prefetch: the pages after the one asked for), others one read at a time.
func (f *osFile) ReadBatch(reqs []Read) error {
	if contiguous(reqs) {
		return readRun(reqs, f.preadv)
	}
	return readEach(f, reqs)
}

// readvSeq is the vectored read for systems without preadv: one pread per
// buffer.
func (f *osFile) readvSeq(bufs [][]byte, off int64) (int64, error) {
	var total int64
	for _, b := range bufs {
		n, err := f.f.ReadAt(b, off+total)
		total += int64(n)
		if err != nil {
			return total, wrapErrAt("pread", f.name, off+total, err)
		}
	}
	return total, nil
}

func (f *osFile) WritevAt(bufs [][]byte, off int64) error {
	if f.readOnly {
		return wrapErrAt("pwritev", f.name, off, errReadOnly)
	}
	return f.pwritev(bufs, off)
}

// writevSeq is WritevAt for systems without pwritev: one pwrite per buffer.
func (f *osFile) writevSeq(bufs [][]byte, off int64) error {
	for _, b := range bufs {
		if _, err := f.f.WriteAt(b, off); err != nil {
			return wrapErrAt("pwrite", f.name, off, err)
		}
		off += int64(len(b))
	}
	return nil
}

func (f *osFile) Truncate(size int64) error {
	if f.readOnly {
		return wrapErrAt("ftruncate", f.name, size, errReadOnly)
	}
	if f.parked.Load() {
		return wrapErrAt("ftruncate", f.name, size, errClosed)
	}
	return wrapErrAt("ftruncate", f.name, size, f.f.Truncate(size))
}

func (f *osFile) Size() (int64, error) {
	if f.parked.Load() {
		return 0, wrapErr("fstat", f.name, errClosed)
	}
	st, err := f.f.Stat()
	if err != nil {
		return 0, wrapErr("fstat", f.name, err)
	}
	return st.Size(), nil
}

func (f *osFile) Lock(start, n int64, exclusive bool) error {
	if start < 0 || n < 0 {
		return wrapErrAt("lock", f.name, start, errNegative)
	}
	return f.lock(start, n, exclusive)
}

func (f *osFile) Unlock(start, n int64) error {
	if start < 0 || n < 0 {
		return wrapErrAt("unlock", f.name, start, errNegative)
	}
	return f.unlock(start, n)
}

func (f *osFile) Close() error {
	return wrapErr("close", f.name, f.platClose())
}

func (portableFS) backendName() string { return "portable" }

// fdFile is a File with an operating-system descriptor (MatchOwner).
type fdFile interface {
	// withFD runs fn with the open descriptor, or fails as after Close.
	withFD(fn func(fd int) error) error
	fileName() string
}

func (f *osFile) withFD(fn func(fd int) error) error {
	return f.control(func(fd uintptr) error { return fn(int(fd)) })
}

func (f *osFile) fileName() string { return f.name }
