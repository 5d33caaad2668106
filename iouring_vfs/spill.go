package iouringvfs

import (
	"errors"
	"fmt"
	"math/bits"
	"os"
	"sync/atomic"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
	"github.com/golibsql/libsql/iouring_vfs/wal"
)

// diskFile is a private file on disk, what a temporary file or a write set
// moves to when it outgrows memory: created by tempCreateDisk (unlinked at
// once, or by close where the system refuses to remove an open file).
type diskFile struct {
	tempDisk
	name string // to remove at close, if not removed at creation
}

func createDiskFile() (*diskFile, error) {
	d, name, err := tempCreateDisk()
	if err != nil {
		return nil, err
	}
	return &diskFile{d, name}, nil
}

// close closes the file, and removes it if it still has a name.
func (d *diskFile) close() error {
	err := d.Close()
	if d.name != "" {
		err = errors.Join(err, os.Remove(d.name))
	}
	return err
}

// wsMemMax is how much memory a connection's write set holds before it
// moves its pages to disk (a variable for tests). SQLite's own page cache
// (cache_size, 2 MiB by default) sits above it; what SQLite spills from
// there comes here.
var wsMemMax = 4 << 20

// wsSpills counts the write sets that moved to disk since the process
// started (libsql_stats: write_sets_moved_to_disk).
var wsSpills atomic.Uint64

// spillSet holds the pages of a write set moved out of memory: page p at
// (p-1) × page size of a disk file (sparse where pages were not moved), a
// bit per page saying which are there. The zero value is empty, with no
// file. It belongs to one File, used by one SQLite connection at a time.
type spillSet struct {
	disk *diskFile
	ps   int
	bits []uint64
	n    int // pages in the set
	// failed: the file could not be created or written in this
	// transaction; the write set stays in memory until it ends.
	failed bool
}

func (s *spillSet) has(p wal.PageNo) bool {
	i := uint32(p) - 1
	return int(i/64) < len(s.bits) && s.bits[i/64]&(1<<(i%64)) != 0
}

func (s *spillSet) off(p wal.PageNo) int64 { return int64(p-1) * int64(s.ps) }

// put writes page p to the file, creating it on first use. On failure the
// page is not in the set (and was not before, unless it was: the caller
// keeps it in memory then, see File.WriteAt).
func (s *spillSet) put(p wal.PageNo, b []byte) error {
	if s.disk == nil {
		d, err := createDiskFile()
		if err != nil {
			return fmt.Errorf("create a file for the write set: %w", err)
		}
		s.disk, s.ps = d, len(b)
		wsSpills.Add(1)
	}
	if _, err := s.disk.WriteAt(b, s.off(p)); err != nil {
		s.drop(p)
		return fmt.Errorf("write page %d of the write set to its file on disk: %w", p, err)
	}
	i := uint32(p) - 1
	for int(i/64) >= len(s.bits) {
		s.bits = append(s.bits, 0)
	}
	if s.bits[i/64]&(1<<(i%64)) == 0 {
		s.bits[i/64] |= 1 << (i % 64)
		s.n++
	}
	return nil
}

// drop removes page p from the set.
func (s *spillSet) drop(p wal.PageNo) {
	if s.has(p) {
		i := uint32(p) - 1
		s.bits[i/64] &^= 1 << (i % 64)
		s.n--
	}
}

// read reads page p, which is in the set, into dst.
func (s *spillSet) read(p wal.PageNo, dst []byte) error {
	if k, err := s.disk.ReadAt(dst, s.off(p)); k != len(dst) {
		if err == nil {
			err = fmt.Errorf("short read (%d of %d bytes)", k, len(dst))
		}
		return fmt.Errorf("read page %d of the write set from its file on disk: %w", p, err)
	}
	return nil
}

// each calls fn for every page in the set, in ascending order.
func (s *spillSet) each(fn func(p wal.PageNo)) {
	for w, word := range s.bits {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			word &^= 1 << b
			fn(wal.PageNo(w*64 + b + 1))
		}
	}
}

// truncate drops the pages past the first n, and gives their disk space
// back.
func (s *spillSet) truncate(n uint32) {
	if s.n == 0 {
		return
	}
	var past []wal.PageNo
	s.each(func(p wal.PageNo) {
		if uint32(p) > n {
			past = append(past, p)
		}
	})
	for _, p := range past {
		s.drop(p)
	}
	// Pages past n are never read again, whether or not this succeeds.
	_ = s.disk.Truncate(int64(n) * int64(s.ps))
}

// reset empties the set and closes its file: the transaction is over.
func (s *spillSet) reset() {
	if s.disk != nil {
		if err := s.disk.close(); err != nil {
			ioback.Logf("libsql: closing the file of a write set moved to disk: %v", err)
		}
	}
	*s = spillSet{}
}

// wsSpillFailed is set once a write set's failure to move to disk has been
// logged.
var wsSpillFailed atomic.Bool

// spillFailed keeps the rest of the transaction's write set in memory.
func (f *File) spillFailed(err error) {
	f.spilled.failed = true
	if wsSpillFailed.CompareAndSwap(false, true) {
		ioback.Logf("libsql: a large transaction's writes stay in memory: moving them to disk failed: %v", err)
	}
}

// SetWriteSetMemoryForTesting sets the memory a connection's write set
// holds before it moves to disk, for tests of other packages that need big
// transactions without big data; restore puts the old bound back.
func SetWriteSetMemoryForTesting(bytes int) (restore func()) {
	old := wsMemMax
	wsMemMax = bytes
	return func() { wsMemMax = old }
}
