package ioback

import (
	"errors"
	"io"
)

// ErrLocked is returned by File.Lock when another open file description (in
// this process or another) holds a conflicting lock. The backends return it
// unwrapped, so err == ErrLocked works, but wrappers may wrap it: test with
// errors.Is.
var ErrLocked = errors.New("ioback: file is locked")

// OpenFlag says how FS.Open opens a file. The zero value opens an existing
// file for reading and writing.
type OpenFlag int

const (
	// OpenReadOnly opens the file for reading only; writes, Truncate and
	// Allocate fail with an error matching fs.ErrPermission. Shared locks
	// work.
	OpenReadOnly OpenFlag = 1 << iota
	// OpenCreate creates the file (mode 0644) if it does not exist. The
	// new name is durable only after File.Sync or FS.SyncDir.
	OpenCreate
)

// FileID identifies a file independently of the name it was opened by
// (device and inode on Unix; volume serial number and file index on
// Windows; a per-instance device and a per-file number in MemFS), so two
// names of one file share one engine. It is comparable and usable as a map
// key.
type FileID struct {
	Dev, Ino uint64 // the device and the file's number on it
}

// Read is one request of File.ReadBatch. ReadBatch sets N and Err of every
// request, overwriting what they held.
type Read struct {
	P   []byte // destination; len(P) bytes are read
	Off int64  // file offset
	N   int    // bytes read, set by ReadBatch
	Err error  // nil, io.EOF when N < len(P) because the file ended, or the error
}

// File is an open file.
//
// ReadAt and WriteAt follow io.ReaderAt and io.WriterAt: a read that reaches
// the end of the file returns the bytes it got and io.EOF (unwrapped, so
// err == io.EOF works; a read of exactly the bytes up to the end may return
// nil or io.EOF); a short write returns an error. Neither changes a file
// position: there is none. Every method may be called from several
// goroutines at once. Close may be called while other methods are in
// flight (it waits for them, or lets them finish safely), though not twice
// at once; every call after Close fails with an error matching
// fs.ErrClosed.
//
// Errors other than io.EOF and ErrLocked name the operation, the file and,
// where there is one, the offset ("ioback: pread /data/x.db at 4096:
// input/output error") and wrap the cause, so errors.Is(err, syscall.EIO),
// errors.Is(err, syscall.ENOSPC) and errors.Is(err, fs.ErrNotExist) work.
//
// Memory: a File does not keep p (or any Read.P, or WritevAt's buffers)
// after the call returns. Reads into the memory of an Arena may be faster;
// see ArenaFS.
type File interface {
	io.ReaderAt
	io.WriterAt

	// ReadBatch performs every read of reqs, in one submission where the
	// backend can (io_uring; more than one if there are more requests than a
	// ring holds), and records each one's result in the request, with the
	// semantics of ReadAt. The returned error is the first error in request
	// order other than io.EOF, or nil. The reads may run in any order and at
	// once: requests must not overlap in memory.
	ReadBatch(reqs []Read) error

	// WritevAt writes bufs one after another starting at off (pwritev,
	// repeated after a partial write and for more than IOV_MAX buffers). A
	// short write is an error; how much of the data landed is then unknown.
	WritevAt(bufs [][]byte, off int64) error

	// Sync makes everything written so far durable (fdatasync on Linux:
	// data and size, not timestamps; fsync elsewhere, F_FULLFSYNC on
	// macOS), and the file's name too if it was just created. After a
	// failed Sync the state of the file is unknown: callers must not retry
	// (the kernel may have dropped the dirty pages and a second fdatasync
	// would report success).
	Sync() error

	// Truncate sets the file's size; growing it adds zeros.
	Truncate(size int64) error

	// Size reports the file's size in bytes.
	Size() (int64, error)

	// Allocate reserves space for the byte range [off, off+n) without
	// changing the file's size (fallocate with KEEP_SIZE), so that a later
	// write there cannot fail for lack of space. A full disk is reported as
	// an error matching syscall.ENOSPC. Where the file system cannot reserve
	// space, Allocate returns nil.
	Allocate(off, n int64) error

	// Lock takes a non-blocking advisory lock on [start, start+n) (n == 0:
	// to the end of all possible offsets, as with fcntl): shared (read) or
	// exclusive (write). Locks belong to this File (OFD semantics on Linux):
	// another File of the same name, even in the same process, conflicts;
	// this File's own locks never do, and taking a range again converts it
	// (shared to exclusive or back). A conflict returns ErrLocked without
	// waiting. Close releases the File's locks. See Portable for other
	// systems.
	Lock(start, n int64, exclusive bool) error

	// Unlock releases this File's locks on [start, start+n) (n == 0: to
	// infinity), splitting a lock that extends beyond the range.
	Unlock(start, n int64) error

	// ID identifies the underlying file.
	ID() (FileID, error)

	// Close waits for the file's in-flight operations and closes it,
	// releasing its locks. A second Close returns an error matching
	// fs.ErrClosed.
	Close() error
}

// FS opens and removes files by name. Every method may be called from
// several goroutines at once.
type FS interface {
	// Open opens the named file. A missing file without OpenCreate is an
	// error matching fs.ErrNotExist.
	Open(name string, flag OpenFlag) (File, error)

	// Remove deletes the named file; a missing file is an error matching
	// fs.ErrNotExist. Files open on it keep working (Unix semantics; on
	// Windows removing an open file fails). The removal is durable after
	// SyncDir of its directory.
	Remove(name string) error

	// Stat reports the size and identity of the named file; a missing file
	// is an error matching fs.ErrNotExist.
	Stat(name string) (size int64, id FileID, err error)

	// SyncDir makes the creation or removal of files in dir durable (open
	// the directory and fsync it; a no-op on Windows and in MemFS).
	SyncDir(dir string) error
}

// contiguous reports whether reqs, two or more, read one range of a file:
// each starts where the one before it ends.
func contiguous(reqs []Read) bool {
	if len(reqs) < 2 || reqs[0].Off < 0 {
		return false
	}
	for i := 1; i < len(reqs); i++ {
		if reqs[i].Off != reqs[i-1].Off+int64(len(reqs[i-1].P)) {
			return false
		}
	}
	return true
}

// readRun serves a ReadBatch of contiguous requests with one vectored read:
// readv reads into bufs one after another from off and returns the bytes it
// read and, if fewer than asked, io.EOF or the error. Each request gets its
// share of the bytes, and the ones left short get readv's error.
func readRun(reqs []Read, readv func(bufs [][]byte, off int64) (int64, error)) error {
	var small [33][]byte
	bufs := small[:0]
	for _, r := range reqs {
		bufs = append(bufs, r.P)
	}
	n, err := readv(bufs, reqs[0].Off)
	var first error
	for i := range reqs {
		r := &reqs[i]
		r.N = int(min(n, int64(len(r.P))))
		n -= int64(r.N)
		r.Err = nil
		if r.N < len(r.P) {
			r.Err = err
			if err == nil {
				r.Err = io.ErrUnexpectedEOF
			}
			if first == nil && r.Err != io.EOF {
				first = r.Err
			}
		}
	}
	return first
}

// readEach serves a ReadBatch one ReadAt at a time, for the backends that
// have nothing better: it records each request's result and returns the
// first error other than io.EOF.
func readEach(f io.ReaderAt, reqs []Read) error {
	var first error
	for i := range reqs {
		r := &reqs[i]
		r.N, r.Err = f.ReadAt(r.P, r.Off)
		if first == nil && r.Err != nil && r.Err != io.EOF {
			first = r.Err
		}
	}
	return first
}

// LockedInProcess reports whether this process holds traditional fcntl
// locks on f's file: another SQLite library linked into the program
// (modernc.org/sqlite, mattn/go-sqlite3) has it open, where a File's own
// locks would be OFD locks. Known on Linux only; elsewhere, and for files
// of other backends, it reports false. Use it to tell "locked by another
// process" from "locked by another library in this one" after ErrLocked.
func LockedInProcess(f File) bool {
	l, ok := f.(interface{ lockedInProcess() bool })
	return ok && l.lockedInProcess()
}
