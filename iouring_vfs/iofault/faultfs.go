package iofault

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
)

// OpKind names an operation of ioback.FS or ioback.File.
type OpKind int

// The operations FaultFS counts. FS methods first, then File methods.
const (
	OpOpen OpKind = iota
	OpRemove
	OpStat
	OpSyncDir
	OpReadAt
	OpReadBatch
	OpWriteAt
	OpWritevAt
	OpSync
	OpTruncate
	OpSize
	OpAllocate
	OpLock
	OpUnlock
	OpID
	OpClose
)

var opNames = [...]string{"Open", "Remove", "Stat", "SyncDir", "ReadAt", "ReadBatch",
	"WriteAt", "WritevAt", "Sync", "Truncate", "Size", "Allocate", "Lock", "Unlock", "ID", "Close"}

// String returns the method's name, e.g. "WriteAt".
func (k OpKind) String() string {
	if k >= 0 && int(k) < len(opNames) {
		return opNames[k]
	}
	return fmt.Sprintf("OpKind(%d)", int(k))
}

// IsWrite reports whether the operation changes file contents (WriteAt,
// WritevAt, Truncate).
func (k OpKind) IsWrite() bool { return k == OpWriteAt || k == OpWritevAt || k == OpTruncate }

// Op describes one operation, for predicates and error messages.
type Op struct {
	Kind OpKind // what the operation is
	Name string // the file's name (the directory for SyncDir)
	Off  int64  // offset for reads, writes, Lock, Unlock, Allocate; size for Truncate
	Len  int64  // bytes for reads and writes, n for Lock, Unlock, Allocate; requests for ReadBatch
}

// String describes the operation, e.g. "WriteAt /db/x.db off=4096 len=4096".
func (o Op) String() string {
	return fmt.Sprintf("%v %s off=%d len=%d", o.Kind, o.Name, o.Off, o.Len)
}

// Fault is what an armed FaultFS does to the operation it fails.
type Fault int

const (
	// EIO fails the operation with syscall.EIO without doing it.
	EIO Fault = iota
	// ENOSPC fails the operation with syscall.ENOSPC without doing it.
	ENOSPC
	// ShortWrite, for WriteAt and WritevAt, writes a random prefix (at least
	// one byte and never all, if the write has two or more) and then fails with syscall.ENOSPC, as a write that
	// fills the disk does. Other operations fail as with ENOSPC.
	ShortWrite
	// TornWrite, for WriteAt and WritevAt, writes a random subset of the
	// 512-byte sectors the write covers and then fails with syscall.EIO, as
	// a device failing mid-write may. Other operations fail as with EIO.
	TornWrite
)

// String names the fault.
func (f Fault) String() string {
	switch f {
	case EIO:
		return "EIO"
	case ENOSPC:
		return "ENOSPC"
	case ShortWrite:
		return "short write"
	case TornWrite:
		return "torn write"
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// InjectedError is the error of an operation FaultFS failed on purpose. It
// wraps the errno, so errors.Is(err, syscall.EIO) holds; errors.As finds it
// behind the caller's own wrapping.
type InjectedError struct {
	Op    Op            // the operation that failed
	Fault Fault         // how it was made to fail
	Errno syscall.Errno // the error number it failed with
}

// Error names the errno, the fault and the operation.
func (e *InjectedError) Error() string {
	return fmt.Sprintf("iofault: injected %v (%v) into %v", e.Errno, e.Fault, e.Op)
}

// Unwrap returns the errno.
func (e *InjectedError) Unwrap() error { return e.Errno }

// IsInjected reports whether err is, or wraps, an InjectedError.
func IsInjected(err error) bool {
	var ie *InjectedError
	return errors.As(err, &ie)
}

// Rule arms a FaultFS: the operation it fails and how.
type Rule struct {
	// N selects the operation: the Nth (0-based) operation matching Match
	// from the moment the rule is armed.
	N int
	// Match selects the operations counted for N; nil matches every one.
	// It is called with FaultFS's lock held and must not call the FS.
	Match func(Op) bool
	// Fault is what happens to the selected operation.
	Fault Fault
	// Sticky keeps failing every matching operation after the Nth (a dead
	// disk), instead of failing just one.
	Sticky bool
	// Seed drives the random prefix of ShortWrite and sectors of TornWrite.
	Seed uint64
}

// FaultFS wraps an ioback.FS, counts its operations and fails the one its
// Rule selects. It is safe for concurrent use, but which operation is "the
// Nth" is only deterministic for a deterministic workload.
type FaultFS struct {
	base ioback.FS

	mu      sync.Mutex
	ops     int
	rule    *Rule
	matched int
	fired   int
	rng     *rand.Rand
}

var _ ioback.FS = (*FaultFS)(nil)
var _ ioback.ArenaFS = (*FaultFS)(nil)

// NewFaultFS returns a FaultFS over base, counting from zero and unarmed.
func NewFaultFS(base ioback.FS) *FaultFS { return &FaultFS{base: base} }

// Arm replaces the rule (and restarts its match count).
func (fs *FaultFS) Arm(r Rule) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.rule = &r
	fs.matched, fs.fired = 0, 0
	fs.rng = rand.New(rand.NewPCG(r.Seed, r.Seed^0x5851f42d4c957f2d))
}

// FailAt arms the FS to fail the nth operation (0-based) from now with f.
func (fs *FaultFS) FailAt(n int, f Fault) { fs.Arm(Rule{N: n, Fault: f}) }

// FailMatching arms the FS to fail the nth operation (0-based) from now
// for which match returns true.
func (fs *FaultFS) FailMatching(n int, match func(Op) bool, f Fault) {
	fs.Arm(Rule{N: n, Match: match, Fault: f})
}

// Disarm removes the rule; counting goes on.
func (fs *FaultFS) Disarm() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.rule = nil
}

// Ops returns how many operations ran (or were attempted) through the FS
// since it was created.
func (fs *FaultFS) Ops() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.ops
}

// Matched returns how many operations matched the current rule since it was
// armed.
func (fs *FaultFS) Matched() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.matched
}

// Fired reports whether the current rule has failed an operation.
func (fs *FaultFS) Fired() bool { return fs.FiredCount() > 0 }

// FiredCount returns how many operations the current rule failed (more
// than one only for a Sticky rule).
func (fs *FaultFS) FiredCount() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.fired
}

// Base returns the wrapped FS.
func (fs *FaultFS) Base() ioback.FS { return fs.base }

// check counts op and returns the fault to inject into it, if any, with a
// random source for partial writes.
func (fs *FaultFS) check(op Op) (*InjectedError, *rand.Rand) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.ops++
	r := fs.rule
	if r == nil || (r.Match != nil && !r.Match(op)) {
		return nil, nil
	}
	i := fs.matched
	fs.matched++
	if i < r.N || (i > r.N && !r.Sticky) {
		return nil, nil
	}
	fs.fired++
	errno := syscall.EIO
	if r.Fault == ENOSPC || r.Fault == ShortWrite {
		errno = syscall.ENOSPC
	}
	return &InjectedError{Op: op, Fault: r.Fault, Errno: errno}, fs.rng
}

// Open counts an OpOpen, then opens through the wrapped FS; the File it
// returns counts its own operations.
func (fs *FaultFS) Open(name string, flag ioback.OpenFlag) (ioback.File, error) {
	if e, _ := fs.check(Op{Kind: OpOpen, Name: name}); e != nil {
		return nil, e
	}
	f, err := fs.base.Open(name, flag)
	if err != nil {
		return nil, err
	}
	return &faultFile{fs: fs, f: f, name: name}, nil
}

// Remove counts an OpRemove, then removes through the wrapped FS.
func (fs *FaultFS) Remove(name string) error {
	if e, _ := fs.check(Op{Kind: OpRemove, Name: name}); e != nil {
		return e
	}
	return fs.base.Remove(name)
}

// Stat counts an OpStat, then stats through the wrapped FS.
func (fs *FaultFS) Stat(name string) (int64, ioback.FileID, error) {
	if e, _ := fs.check(Op{Kind: OpStat, Name: name}); e != nil {
		return 0, ioback.FileID{}, e
	}
	return fs.base.Stat(name)
}

// SyncDir counts an OpSyncDir, then syncs through the wrapped FS.
func (fs *FaultFS) SyncDir(dir string) error {
	if e, _ := fs.check(Op{Kind: OpSyncDir, Name: dir}); e != nil {
		return e
	}
	return fs.base.SyncDir(dir)
}

// NewArena forwards to the wrapped FS (ioback.NewArena); it is not counted.
func (fs *FaultFS) NewArena(size int) (*ioback.Arena, error) { return ioback.NewArena(fs.base, size) }

// faultFile is a File of a FaultFS.
type faultFile struct {
	fs   *FaultFS
	f    ioback.File
	name string
}

func (f *faultFile) ReadAt(p []byte, off int64) (int, error) {
	if e, _ := f.fs.check(Op{Kind: OpReadAt, Name: f.name, Off: off, Len: int64(len(p))}); e != nil {
		return 0, e
	}
	return f.f.ReadAt(p, off)
}

func (f *faultFile) ReadBatch(reqs []ioback.Read) error {
	if e, _ := f.fs.check(Op{Kind: OpReadBatch, Name: f.name, Len: int64(len(reqs))}); e != nil {
		for i := range reqs {
			reqs[i].N, reqs[i].Err = 0, e
		}
		return e
	}
	return f.f.ReadBatch(reqs)
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	e, rng := f.fs.check(Op{Kind: OpWriteAt, Name: f.name, Off: off, Len: int64(len(p))})
	if e == nil {
		return f.f.WriteAt(p, off)
	}
	return f.partial(e, rng, p, off), e
}

func (f *faultFile) WritevAt(bufs [][]byte, off int64) error {
	var n int64
	for _, b := range bufs {
		n += int64(len(b))
	}
	e, rng := f.fs.check(Op{Kind: OpWritevAt, Name: f.name, Off: off, Len: n})
	if e == nil {
		return f.f.WritevAt(bufs, off)
	}
	var flat []byte
	if e.Fault == ShortWrite || e.Fault == TornWrite {
		flat = make([]byte, 0, n)
		for _, b := range bufs {
			flat = append(flat, b...)
		}
	}
	f.partial(e, rng, flat, off)
	return e
}

// partial performs the part of a failed write that its fault lets through
// and returns how many bytes (of the prefix) it wrote. The random source
// belongs to the FaultFS and is used under its lock.
func (f *faultFile) partial(e *InjectedError, rng *rand.Rand, p []byte, off int64) int {
	if len(p) == 0 {
		return 0
	}
	switch e.Fault {
	case ShortWrite:
		f.fs.mu.Lock()
		n := 0
		if len(p) > 1 {
			n = 1 + rng.IntN(len(p)-1)
		}
		f.fs.mu.Unlock()
		if n > 0 {
			if m, err := f.f.WriteAt(p[:n], off); err != nil {
				return m
			}
		}
		return n
	case TornWrite:
		for _, s := range sectors(off, len(p)) {
			f.fs.mu.Lock()
			keep := rng.IntN(2) == 0
			f.fs.mu.Unlock()
			if keep {
				f.f.WriteAt(p[s.start-off:s.end-off], s.start)
			}
		}
	}
	return 0
}

// span is the byte range [start, end) of a file.
type span struct{ start, end int64 }

// sectors splits [off, off+n) at 512-byte boundaries of the file.
func sectors(off int64, n int) []span {
	var s []span
	end := off + int64(n)
	for pos := off; pos < end; {
		next := min((pos/512+1)*512, end)
		s = append(s, span{pos, next})
		pos = next
	}
	return s
}

func (f *faultFile) Sync() error {
	if e, _ := f.fs.check(Op{Kind: OpSync, Name: f.name}); e != nil {
		return e
	}
	return f.f.Sync()
}

func (f *faultFile) Truncate(size int64) error {
	if e, _ := f.fs.check(Op{Kind: OpTruncate, Name: f.name, Off: size}); e != nil {
		return e
	}
	return f.f.Truncate(size)
}

func (f *faultFile) Size() (int64, error) {
	if e, _ := f.fs.check(Op{Kind: OpSize, Name: f.name}); e != nil {
		return 0, e
	}
	return f.f.Size()
}

func (f *faultFile) Allocate(off, n int64) error {
	if e, _ := f.fs.check(Op{Kind: OpAllocate, Name: f.name, Off: off, Len: n}); e != nil {
		return e
	}
	return f.f.Allocate(off, n)
}

func (f *faultFile) Lock(start, n int64, exclusive bool) error {
	if e, _ := f.fs.check(Op{Kind: OpLock, Name: f.name, Off: start, Len: n}); e != nil {
		return e
	}
	return f.f.Lock(start, n, exclusive)
}

func (f *faultFile) Unlock(start, n int64) error {
	if e, _ := f.fs.check(Op{Kind: OpUnlock, Name: f.name, Off: start, Len: n}); e != nil {
		return e
	}
	return f.f.Unlock(start, n)
}

func (f *faultFile) ID() (ioback.FileID, error) {
	if e, _ := f.fs.check(Op{Kind: OpID, Name: f.name}); e != nil {
		return ioback.FileID{}, e
	}
	return f.f.ID()
}

// Close closes the wrapped file even when it injects an error, as close(2)
// does: the descriptor is gone either way.
func (f *faultFile) Close() error {
	e, _ := f.fs.check(Op{Kind: OpClose, Name: f.name})
	err := f.f.Close()
	if e != nil {
		return e
	}
	return err
}
