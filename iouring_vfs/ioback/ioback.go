// Package ioback is the narrow file interface under the log and the page
// store, with its implementations: an io_uring backend for Linux (reads
// through our own ring, writes and syncs with pwritev/fdatasync), a portable
// backend on os.File, and an in-memory backend for in-memory databases.
//
// Everything the storage engine does to a file goes through File, so tests
// can put a faulty or crashable implementation (package iofault) underneath.
// The interface is deliberately small: a wrapper forwards a dozen methods,
// not thirty.
package ioback

import (
	"errors"
	"io"
)

// ErrLocked is returned by File.Lock when another open file description (in
// this process or another) holds a conflicting lock.
var ErrLocked = errors.New("ioback: file is locked")

// OpenFlag says how FS.Open opens a file.
type OpenFlag int

const (
	// OpenReadOnly opens the file for reading only; writes fail.
	OpenReadOnly OpenFlag = 1 << iota
	// OpenCreate creates the file if it does not exist.
	OpenCreate
)

// FileID identifies a file independently of the name it was opened by
// (device and inode on Unix), so two names of one file share one engine.
type FileID struct {
	Dev, Ino uint64
}

// Read is one request of File.ReadBatch.
type Read struct {
	P   []byte // destination; len(P) bytes are read
	Off int64  // file offset
	N   int    // bytes read, set by ReadBatch
	Err error  // nil, io.EOF when N < len(P) because the file ended, or the error
}

// File is an open file.
//
// ReadAt and WriteAt follow io.ReaderAt and io.WriterAt: a read that reaches
// the end of the file returns the bytes it got and io.EOF; a short write
// returns an error. Every method may be called from several goroutines at
// once, except Close.
type File interface {
	io.ReaderAt
	io.WriterAt

	// ReadBatch performs every read of reqs, in one submission where the
	// backend can (io_uring), and records each one's result in the request.
	// The returned error is the first request's error, if any, other than
	// io.EOF.
	ReadBatch(reqs []Read) error

	// WritevAt writes bufs one after another starting at off (pwritev). A
	// short write is an error.
	WritevAt(bufs [][]byte, off int64) error

	// Sync makes everything written so far durable (fdatasync). After a
	// failed Sync the state of the file is unknown: callers must not retry.
	Sync() error

	// Truncate sets the file's size.
	Truncate(size int64) error

	// Size reports the file's size in bytes.
	Size() (int64, error)

	// Allocate reserves space for the byte range [off, off+n) without
	// changing the file's size (fallocate with KEEP_SIZE), so that a later
	// write there cannot fail for lack of space. A full disk is reported as
	// an error matching syscall.ENOSPC. Where the file system cannot reserve
	// space, Allocate returns nil.
	Allocate(off, n int64) error

	// Lock takes a non-blocking advisory lock on [start, start+n): shared
	// (read) or exclusive (write). Locks belong to this open file (OFD
	// semantics on Linux): another File of the same name, even in the same
	// process, conflicts. A conflict returns ErrLocked.
	Lock(start, n int64, exclusive bool) error

	// Unlock releases locks on [start, start+n).
	Unlock(start, n int64) error

	// ID identifies the underlying file.
	ID() (FileID, error)

	// Close waits for the file's in-flight operations and closes it.
	Close() error
}

// FS opens and removes files by name.
type FS interface {
	// Open opens the named file. A missing file without OpenCreate is an
	// error matching fs.ErrNotExist.
	Open(name string, flag OpenFlag) (File, error)

	// Remove deletes the named file; a missing file is an error matching
	// fs.ErrNotExist.
	Remove(name string) error

	// Stat reports the size and identity of the named file; a missing file
	// is an error matching fs.ErrNotExist.
	Stat(name string) (size int64, id FileID, err error)

	// SyncDir makes the creation or removal of files in dir durable.
	SyncDir(dir string) error
}
