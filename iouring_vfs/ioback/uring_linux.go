package ioback

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// The io_uring backend: reads through a pool of rings shared by the whole
// process, everything else through plain system calls on the same
// descriptor (doc.go says why).

const uringExpected = true

const (
	// ringEntries is each ring's SQ size: a ReadBatch larger than this is
	// submitted in several io_uring_enter calls.
	ringEntries = 128
	// maxFileSlots caps the registered-file table of every ring; files
	// beyond it are read through their plain descriptor.
	maxFileSlots = 1024
	// bufSlots is the size of every ring's registered-buffer table. An arena
	// takes one slot per GiB (the kernel's limit for one buffer).
	bufSlots   = 64
	bufSlotMax = 1 << 30
	// maxReadLen caps one SQE's length (the kernel caps a read at
	// MAX_RW_COUNT anyway; the rest is a short read we continue).
	maxReadLen = 1 << 30
)

// uringGlobal is the process's ring pool, set up by the first open that
// asks for io_uring, or the error that says io_uring is unavailable for
// good. An error that may go away (out of descriptors or memory for a
// moment) is not kept: the next open tries again, so that a process that
// ran out of descriptors at start-up is not left on portable I/O.
var uringGlobal struct {
	mu   sync.Mutex
	pool *ringPool
	err  error
}

func newUring() (FS, error) {
	if e := failSetup.Load(); e != nil {
		err := fmt.Errorf("%w: io_uring_setup: %w", ErrNoUring, *e)
		if transientSetupError(err) {
			err = fmt.Errorf("%w (%w)", err, ErrUringRetryable)
		}
		return nil, err
	}
	g := &uringGlobal
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pool == nil && g.err == nil {
		pool, err := setupRingPool()
		if err != nil {
			if transientSetupError(err) {
				return nil, fmt.Errorf("%w (%w)", err, ErrUringRetryable)
			}
			g.err = err
		}
		g.pool = pool
	}
	if g.err != nil {
		return nil, g.err
	}
	return &uringFS{pool: g.pool}, nil
}

// setupRingPool is newRingPool; tests replace it.
var setupRingPool = newRingPool

// transientSetupError reports whether setting up io_uring failed for want
// of a resource that may be free again soon.
func transientSetupError(err error) bool {
	for _, e := range []error{unix.EMFILE, unix.ENFILE, unix.EAGAIN, unix.EINTR} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// ringPool is the process's set of rings and the registrations every ring
// shares: the file table and the arenas.
//
// Rings are created on demand, up to max, and handed out through free, a
// buffered channel: a goroutine takes one, submits and waits on it alone,
// and gives it back. A goroutine waiting in io_uring_enter gives up its P,
// so more rings than Ps keep the CPUs busy while reads wait for the disk.
type ringPool struct {
	free chan *ring
	max  int

	// mu guards the fields below and orders every registration change, so
	// that each ring in rings always has every open file and every arena
	// registered (a ring joins rings only after registering them all).
	mu         sync.Mutex
	rings      []*ring
	growFailed bool
	files      []int32 // registered-file table: slot → fd, -1 empty
	freeSlots  []int32
	bufUsed    [bufSlots]bool
	arenas     atomic.Pointer[[]*uringArena] // registered arenas, for lock-free lookup
}

func newRingPool() (*ringPool, error) {
	disabled := ioUringDisabled()
	if disabled == 2 {
		return nil, fmt.Errorf("%w: disabled by /proc/sys/kernel/io_uring_disabled=2", ErrNoUring)
	}
	n := min(max(4, 2*runtime.GOMAXPROCS(0)), 64)
	p := &ringPool{free: make(chan *ring, n), max: n}
	var lim unix.Rlimit
	slots := maxFileSlots
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil && lim.Cur < uint64(slots) {
		slots = int(lim.Cur)
	}
	p.files = make([]int32, slots)
	for i := range p.files {
		p.files[i] = -1
		p.freeSlots = append(p.freeSlots, int32(slots-1-i))
	}
	r, err := newRing(ringEntries)
	if err != nil {
		if disabled == 1 {
			return nil, fmt.Errorf("%w: %w (kernel.io_uring_disabled=1 allows it only for io_uring_group)", ErrNoUring, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrNoUring, err)
	}
	if err := r.probeReads(); err != nil {
		r.close()
		return nil, fmt.Errorf("%w: kernel lacks IORING_OP_READ/READ_FIXED (Linux 5.6+ needed): %w", ErrNoUring, err)
	}
	p.mu.Lock()
	p.adopt(r)
	p.mu.Unlock()
	p.free <- r
	return p, nil
}

// ioUringDisabled reads kernel.io_uring_disabled: 0 allowed, 1 allowed for
// io_uring_group (and CAP_SYS_ADMIN) only, 2 disabled. A kernel without the
// knob allows io_uring.
func ioUringDisabled() int {
	b, err := os.ReadFile("/proc/sys/kernel/io_uring_disabled")
	if err != nil {
		return 0
	}
	switch string(bytes.TrimSpace(b)) {
	case "1":
		return 1
	case "2":
		return 2
	}
	return 0
}

// adopt registers the pool's files and arenas with a new ring and adds it
// to rings. p.mu is held. A registration the kernel refuses only turns that
// feature off for this ring.
func (p *ringPool) adopt(r *ring) {
	if len(p.files) > 0 {
		fds := make([]int32, len(p.files))
		for i, fd := range p.files {
			fds[i] = max(fd, -1) // a slot retired with -2 is empty here
		}
		r.fixedFiles = r.registerFiles(fds) == nil
	}
	if r.registerSparseBuffers(bufSlots) == nil {
		r.fixedBufs = true
		if as := p.arenas.Load(); as != nil {
			for _, a := range *as {
				if r.updateBuffers(a.slot, a.chunks()) != nil {
					// This ring cannot read into every arena with READ_FIXED;
					// it reads into none of them that way.
					r.fixedBufs = false
					break
				}
			}
		}
	}
	p.rings = append(p.rings, r)
}

// get returns a free ring, creating one if the pool may grow. With wait
// false it returns nil instead of waiting for one to come back.
func (p *ringPool) get(wait bool) *ring {
	select {
	case r := <-p.free:
		return r
	default:
	}
	if r := p.grow(); r != nil {
		return r
	}
	if !wait {
		return nil
	}
	return <-p.free
}

func (p *ringPool) grow() *ring {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.growFailed || len(p.rings) >= p.max {
		return nil
	}
	r, err := newRing(ringEntries)
	if err != nil {
		p.growFailed = true // e.g. RLIMIT_MEMLOCK: make do with what we have
		return nil
	}
	p.adopt(r)
	return r
}

func (p *ringPool) put(r *ring) { p.free <- r }

// leaked keeps alive the memory of requests that were in flight on a
// retired ring: the kernel may still write into it.
var leaked struct {
	mu   sync.Mutex
	refs []any
}

// retire takes a ring whose io_uring_enter failed out of service for good.
// It is abandoned (its files released, its descriptor closed) but not
// unmapped, and the memory of its requests (keep) is kept alive, because
// requests may still be in flight. This does not happen with a working
// kernel; it is here so that it cannot corrupt memory if it does.
func (p *ringPool) retire(r *ring, keep any) {
	leaked.mu.Lock()
	leaked.refs = append(leaked.refs, keep)
	leaked.mu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	r.abandon()
	for i, x := range p.rings {
		if x == r {
			p.rings = append(p.rings[:i], p.rings[i+1:]...)
			break
		}
	}
	p.max-- // the channel's capacity still bounds the live rings
	if len(p.rings) == 0 {
		p.growFailed = false // let get create a fresh one
		p.max = max(p.max, 1)
	}
}

// registerFile gives fd a slot in every ring's file table, or returns -1
// (then reads use the descriptor itself).
func (p *ringPool) registerFile(fd int) int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.freeSlots) == 0 || fd > math.MaxInt32 {
		return -1
	}
	slot := p.freeSlots[len(p.freeSlots)-1]
	for i, r := range p.rings {
		if !r.fixedFiles {
			continue
		}
		if err := r.updateFile(slot, int32(fd)); err != nil {
			for _, q := range p.rings[:i] {
				if q.fixedFiles {
					q.updateFile(slot, -1)
				}
			}
			return -1
		}
	}
	p.freeSlots = p.freeSlots[:len(p.freeSlots)-1]
	p.files[slot] = int32(fd)
	return slot
}

// unregisterFile empties slot in every ring. The file has no reads in
// flight. A slot the kernel would not empty is never reused.
func (p *ringPool) unregisterFile(slot int32) {
	if slot < 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ok := true
	for _, r := range p.rings {
		if r.fixedFiles && r.updateFile(slot, -1) != nil {
			ok = false
		}
	}
	if ok {
		p.files[slot] = -1
		p.freeSlots = append(p.freeSlots, slot)
	} else {
		p.files[slot] = -2 // unusable: never handed out again (a later ring, adopt, leaves it empty)
	}
}

// uringArena is an Arena registered with every ring's buffer table.
type uringArena struct {
	pool       *ringPool
	mem        []byte
	base, end  uintptr
	slot       uint32 // first buffer slot; one slot per bufSlotMax bytes
	nslots     uint32
	registered bool
}

// chunks splits the arena into the buffers of its slots.
func (a *uringArena) chunks() [][]byte {
	var cs [][]byte
	for off := 0; off < len(a.mem); off += bufSlotMax {
		cs = append(cs, a.mem[off:min(off+bufSlotMax, len(a.mem))])
	}
	return cs
}

func (a *uringArena) fixed() bool { return a.registered }

func (a *uringArena) close() error {
	if a.registered {
		a.pool.unregisterArena(a)
	}
	return freeArenaMem(a.mem)
}

// newArena maps size bytes and registers them with every ring; if any ring
// refuses (RLIMIT_MEMLOCK, a kernel before 5.19, no free slots), the arena
// is plain memory on all of them.
func (p *ringPool) newArena(size int) (*Arena, error) {
	if size <= 0 {
		return nil, errArenaSize
	}
	mem, err := arenaMem(size)
	if err != nil {
		return nil, &opError{op: "mmap", name: "arena", err: err}
	}
	mem = mem[:size:size]
	a := &uringArena{pool: p, mem: mem, base: bufAddr(mem), end: bufAddr(mem) + uintptr(size)}
	a.nslots = uint32((size + bufSlotMax - 1) / bufSlotMax)
	p.mu.Lock()
	defer p.mu.Unlock()
	if first, ok := p.allocBufSlots(a.nslots); ok {
		a.slot = first
		a.registered = true
		chunks := a.chunks()
		for i, r := range p.rings {
			if r.fixedBufs && r.updateBuffers(first, chunks) != nil {
				empty := make([][]byte, len(chunks))
				for _, q := range p.rings[:i] {
					if q.fixedBufs {
						q.updateBuffers(first, empty)
					}
				}
				a.registered = false
				break
			}
		}
		if a.registered {
			as := p.arenaList()
			as = append(as, a)
			p.arenas.Store(&as)
		} else {
			p.freeBufSlots(first, a.nslots)
		}
	}
	return newArenaValue(mem, a), nil
}

// arenaList returns a copy of the registered arenas. p.mu is held.
func (p *ringPool) arenaList() []*uringArena {
	if as := p.arenas.Load(); as != nil {
		return append([]*uringArena(nil), (*as)...)
	}
	return nil
}

func (p *ringPool) unregisterArena(a *uringArena) {
	p.mu.Lock()
	defer p.mu.Unlock()
	as := p.arenaList()
	for i, x := range as {
		if x == a {
			as = append(as[:i], as[i+1:]...)
			break
		}
	}
	p.arenas.Store(&as)
	empty := make([][]byte, a.nslots)
	for _, r := range p.rings {
		if r.fixedBufs {
			r.updateBuffers(a.slot, empty)
		}
	}
	p.freeBufSlots(a.slot, a.nslots)
	a.registered = false
}

// allocBufSlots finds n consecutive free buffer slots. p.mu is held.
func (p *ringPool) allocBufSlots(n uint32) (uint32, bool) {
	run := uint32(0)
	for i := range uint32(bufSlots) {
		if p.bufUsed[i] {
			run = 0
			continue
		}
		if run++; run == n {
			first := i + 1 - n
			for j := first; j <= i; j++ {
				p.bufUsed[j] = true
			}
			return first, true
		}
	}
	return 0, false
}

func (p *ringPool) freeBufSlots(first, n uint32) {
	for j := first; j < first+n; j++ {
		p.bufUsed[j] = false
	}
}

// fixedBuf returns the registered-buffer index that contains all of b, or
// -1.
func (p *ringPool) fixedBuf(b []byte) int {
	as := p.arenas.Load()
	if as == nil || len(b) == 0 {
		return -1
	}
	start := bufAddr(b)
	end := start + uintptr(len(b))
	for _, a := range *as {
		if start >= a.base && end <= a.end {
			first := (start - a.base) / bufSlotMax
			if (end-1-a.base)/bufSlotMax != first {
				return -1 // straddles two slots
			}
			return int(a.slot) + int(first)
		}
	}
	return -1
}

// uringFS is the io_uring backend's FS. All of them share one ring pool.
type uringFS struct {
	pool *ringPool
}

var _ FS = (*uringFS)(nil)
var _ ArenaFS = (*uringFS)(nil)

func (u *uringFS) Open(name string, flag OpenFlag) (File, error) {
	return u.open(name, flag, true)
}

func (u *uringFS) open(name string, flag OpenFlag, register bool) (*uringFile, error) {
	mode := unix.O_RDWR
	if flag&OpenReadOnly != 0 {
		mode = unix.O_RDONLY
	}
	if flag&OpenCreate != 0 {
		mode |= unix.O_CREAT
	}
	p, reused := takeParked(name, flag&OpenReadOnly != 0, false)
	fd := p.fd
	var err error
	for !reused {
		fd, err = unix.Open(name, mode|unix.O_CLOEXEC|oNoFollow, 0o644)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, wrapErr("open", name, err)
	}
	f := &uringFile{pool: u.pool, name: name, fd: fd, slot: -1, readOnly: flag&OpenReadOnly != 0}
	if register {
		f.slot = u.pool.registerFile(fd)
	}
	return f, nil
}

func (u *uringFS) Remove(name string) error { return wrapErr("unlink", name, unix.Unlink(name)) }

func (u *uringFS) Stat(name string) (int64, FileID, error) {
	size, id, err := statID(name)
	return size, id, wrapErr("stat", name, err)
}

func (u *uringFS) SyncDir(dir string) error { return syncDir(dir) }

// NewArena returns an arena registered with every ring (see ArenaFS).
func (u *uringFS) NewArena(size int) (*Arena, error) { return u.pool.newArena(size) }

// uringFile is a File of the io_uring backend. Reads go through a ring
// (the registered slot when there is one); writes, syncs and the rest are
// plain system calls on fd.
//
// mu is held shared by every operation and exclusively by Close, so Close
// waits for in-flight reads before the file leaves the rings' tables and
// the descriptor is closed: a descriptor number reused by another open
// must never be read through a stale registration.
type uringFile struct {
	pool     *ringPool
	name     string
	fd       int
	slot     int32 // registered-file slot, -1 if none
	readOnly bool

	mu     sync.RWMutex
	closed bool
}

var _ File = (*uringFile)(nil)

func (f *uringFile) begin(op string, off int64) error {
	f.mu.RLock()
	if f.closed {
		f.mu.RUnlock()
		return wrapErrAt(op, f.name, off, errClosed)
	}
	return nil
}

func (f *uringFile) end() { f.mu.RUnlock() }

// target returns what an SQE on r names the file by.
func (f *uringFile) target(r *ring) (int32, bool) {
	if f.slot >= 0 && r.fixedFiles {
		return f.slot, true
	}
	return int32(f.fd), false
}

// ReadAt reads with pread, or through a ring if ringSingleReads is set.
func (f *uringFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, wrapErrAt("pread", f.name, off, errNegative)
	}
	if err := f.begin("pread", off); err != nil {
		return 0, err
	}
	defer f.end()
	if len(p) == 0 {
		return 0, nil
	}
	if !ringSingleReads.Load() {
		return f.pread(p, off)
	}
	return f.readRing(p, off)
}

// readRing reads through a ring: one io_uring_enter that submits the read
// and waits for it (READ_FIXED when p lies in an arena), and, for a short
// read, more for the rest until EOF. If every ring is busy it does a plain
// pread instead of waiting for one. f.mu is held (shared).
func (f *uringFile) readRing(p []byte, off int64) (int, error) {
	escapes(unsafePointer(p))
	r := f.pool.get(false)
	if r == nil {
		return f.pread(p, off)
	}
	n := 0
	var err error
	for n < len(p) {
		chunk := p[n:min(len(p), n+maxReadLen)]
		fd, fixed := f.target(r)
		buf := -1
		if r.fixedBufs {
			buf = f.pool.fixedBuf(chunk)
		}
		r.prepRead(fd, fixed, chunk, off+int64(n), buf, 0)
		if serr := r.submitAndWait(1); serr != nil {
			f.pool.retire(r, p)
			return n, wrapErrAt("pread", f.name, off+int64(n), serr)
		}
		_, res := r.reap()
		if res < 0 {
			if e := unix.Errno(-res); e == unix.EINTR || e == unix.EAGAIN {
				continue
			}
			err = wrapErrAt("pread", f.name, off+int64(n), unix.Errno(-res))
			break
		}
		if res == 0 {
			err = io.EOF
			break
		}
		n += int(res)
	}
	f.pool.put(r)
	runtime.KeepAlive(p)
	return n, err
}

// preadv reads one range of the file into bufs with preadvFull.
func (f *uringFile) preadv(bufs [][]byte, off int64) (int64, error) {
	n, err := preadvFull(f.fd, bufs, off)
	return n, wrapErrAt("preadv", f.name, off+n, err)
}

// pread is the plain-syscall read, used when no ring is free.
func (f *uringFile) pread(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		m, err := unix.Pread(f.fd, p[n:], off+int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, wrapErrAt("pread", f.name, off+int64(n), err)
		}
		if m == 0 {
			return n, io.EOF
		}
		n += m
	}
	return n, nil
}

// ReadBatch submits every read in one io_uring_enter (ringEntries at a
// time if there are more), waits for all of them, and resubmits the rest
// of any short read until EOF. Reads into an arena are READ_FIXED. A batch
// of one read is a plain pread (see ringSingleReads).
func (f *uringFile) ReadBatch(reqs []Read) error {
	if err := f.begin("pread", 0); err != nil {
		for i := range reqs {
			reqs[i].N, reqs[i].Err = 0, err
		}
		return err
	}
	defer f.end()
	escapes(unsafePointer(reqs))
	var queue []int32
	for i := range reqs {
		q := &reqs[i]
		q.N, q.Err = 0, nil
		switch {
		case q.Off < 0:
			q.Err = wrapErrAt("pread", f.name, q.Off, errNegative)
		case len(q.P) > 0:
			queue = append(queue, int32(i))
		}
	}
	if len(queue) == 1 && !ringSingleReads.Load() {
		// One read: pread is faster than the ring (see ringSingleReads).
		q := &reqs[queue[0]]
		q.N, q.Err = f.pread(q.P, q.Off)
		queue = nil
	}
	if len(queue) == len(reqs) && contiguous(reqs) {
		// One range of the file (prefetch): one preadv, a single request
		// as for one read, where the ring would only add its overhead.
		return readRun(reqs, f.preadv)
	}
	if len(queue) > 0 {
		r := f.pool.get(true)
		for len(queue) > 0 {
			var again []int32
			for len(queue) > 0 {
				batch := queue[:min(len(queue), int(r.entries))]
				queue = queue[len(batch):]
				fd, fixed := f.target(r)
				for _, i := range batch {
					q := &reqs[i]
					chunk := q.P[q.N:min(len(q.P), q.N+maxReadLen)]
					buf := -1
					if r.fixedBufs {
						buf = f.pool.fixedBuf(chunk)
					}
					r.prepRead(fd, fixed, chunk, q.Off+int64(q.N), buf, uint64(i))
				}
				if serr := r.submitAndWait(uint32(len(batch))); serr != nil {
					f.pool.retire(r, reqs)
					err := wrapErr("pread", f.name, serr)
					for i := range reqs {
						if reqs[i].Err == nil && reqs[i].N < len(reqs[i].P) {
							reqs[i].Err = err
						}
					}
					return err
				}
				for range batch {
					ud, res := r.reap()
					q := &reqs[ud]
					switch {
					case res < 0:
						if e := unix.Errno(-res); e == unix.EINTR || e == unix.EAGAIN {
							again = append(again, int32(ud))
						} else {
							q.Err = wrapErrAt("pread", f.name, q.Off+int64(q.N), e)
						}
					case res == 0:
						q.Err = io.EOF
					default:
						q.N += int(res)
						if q.N < len(q.P) {
							again = append(again, int32(ud))
						}
					}
				}
			}
			queue = again
		}
		f.pool.put(r)
	}
	runtime.KeepAlive(reqs)
	for i := range reqs {
		if err := reqs[i].Err; err != nil && err != io.EOF {
			return err
		}
	}
	return nil
}

// WriteAt is a plain pwrite. Through the ring a buffered write is punted
// to a kernel worker thread on ext4 and measured 1.0–1.35x the time of
// pwrite (doc.go).
func (f *uringFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.begin("pwrite", off); err != nil {
		return 0, err
	}
	defer f.end()
	if off < 0 {
		return 0, wrapErrAt("pwrite", f.name, off, errNegative)
	}
	if f.readOnly {
		return 0, wrapErrAt("pwrite", f.name, off, errReadOnly)
	}
	n, err := pwriteFull(f.fd, p, off)
	return n, wrapErrAt("pwrite", f.name, off+int64(n), err)
}

// WritevAt is a plain pwritev, for the same reason as WriteAt.
func (f *uringFile) WritevAt(bufs [][]byte, off int64) error {
	if err := f.begin("pwritev", off); err != nil {
		return err
	}
	defer f.end()
	if off < 0 {
		return wrapErrAt("pwritev", f.name, off, errNegative)
	}
	if f.readOnly {
		return wrapErrAt("pwritev", f.name, off, errReadOnly)
	}
	at, err := pwritevFull(f.fd, bufs, off)
	return wrapErrAt("pwritev", f.name, at, err)
}

// Sync is a plain fdatasync: IORING_OP_FSYNC runs on a worker thread and
// measured a tie or a loss, and ext4 already merges concurrent fdatasyncs.
func (f *uringFile) Sync() error {
	if err := f.begin("fdatasync", 0); err != nil {
		return err
	}
	defer f.end()
	return wrapErr("fdatasync", f.name, fdatasync(f.fd))
}

func (f *uringFile) Truncate(size int64) error {
	if err := f.begin("ftruncate", size); err != nil {
		return err
	}
	defer f.end()
	if f.readOnly {
		return wrapErrAt("ftruncate", f.name, size, errReadOnly)
	}
	for {
		err := unix.Ftruncate(f.fd, size)
		if err != unix.EINTR {
			return wrapErrAt("ftruncate", f.name, size, err)
		}
	}
}

func (f *uringFile) Size() (int64, error) {
	if err := f.begin("fstat", 0); err != nil {
		return 0, err
	}
	defer f.end()
	size, _, err := fstatID(f.fd)
	return size, wrapErr("fstat", f.name, err)
}

func (f *uringFile) Allocate(off, n int64) error {
	if err := f.begin("fallocate", off); err != nil {
		return err
	}
	defer f.end()
	if off < 0 || n < 0 {
		return wrapErrAt("fallocate", f.name, off, errNegative)
	}
	if f.readOnly {
		return wrapErrAt("fallocate", f.name, off, errReadOnly)
	}
	return wrapErrAt("fallocate", f.name, off, fallocateKeepSize(f.fd, off, n))
}

func (f *uringFile) Lock(start, n int64, exclusive bool) error {
	if err := f.begin("lock", start); err != nil {
		return err
	}
	defer f.end()
	if start < 0 || n < 0 {
		return wrapErrAt("lock", f.name, start, errNegative)
	}
	err := ofdLock(f.fd, lockType(exclusive), start, n)
	if err == ErrLocked {
		return err
	}
	return wrapErrAt("lock", f.name, start, err)
}

func (f *uringFile) Unlock(start, n int64) error {
	if err := f.begin("unlock", start); err != nil {
		return err
	}
	defer f.end()
	if start < 0 || n < 0 {
		return wrapErrAt("unlock", f.name, start, errNegative)
	}
	return wrapErrAt("unlock", f.name, start, ofdLock(f.fd, unix.F_UNLCK, start, n))
}

func (f *uringFile) ID() (FileID, error) {
	if err := f.begin("fstat", 0); err != nil {
		return FileID{}, err
	}
	defer f.end()
	_, id, err := fstatID(f.fd)
	return id, wrapErr("fstat", f.name, err)
}

// Close waits for the file's in-flight operations, removes it from every
// ring's file table and closes the descriptor (which releases its locks),
// or parks it while another SQLite library in the process holds the file
// (see closeFD).
func (f *uringFile) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return wrapErr("close", f.name, errClosed)
	}
	f.closed = true
	f.mu.Unlock()
	f.pool.unregisterFile(f.slot)
	fd := f.fd
	return wrapErr("close", f.name, closeFD(parkedFD{fd: fd, readOnly: f.readOnly, close: func() error { return unix.Close(fd) }}, nil))
}

func (u *uringFS) backendName() string { return "uring" }

func (f *uringFile) withFD(fn func(fd int) error) error {
	if err := f.begin("fstat", 0); err != nil {
		return err
	}
	defer f.end()
	return fn(f.fd)
}

func (f *uringFile) fileName() string { return f.name }
