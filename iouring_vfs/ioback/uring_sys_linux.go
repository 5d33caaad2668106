package ioback

// The raw io_uring interface: constants and struct layouts from the
// kernel's include/uapi/linux/io_uring.h (liburing ships the same header),
// the three system calls, and one ring. Every unsafe operation of the
// io_uring backend is in this file.
//
// Memory ownership:
//   - The SQ ring, CQ ring and SQE array are mmap'd from the ring's file
//     descriptor; they belong to the ring and are unmapped only by
//     ring.close. The head/tail words in them are shared with the kernel and
//     accessed with sync/atomic.
//   - A read's destination is caller memory (Go heap or an Arena). Its
//     address goes into an SQE as an integer, so the garbage collector cannot
//     see that the kernel uses it: the caller forces it to the heap (escapes,
//     because a goroutine stack can move) and keeps it alive with
//     runtime.KeepAlive until its CQE has been reaped. The Go garbage
//     collector does not move heap objects.
//   - Arena memory is an anonymous mmap owned by the Arena (arenaMem).
//   - Structures passed to io_uring_setup and io_uring_register are read or
//     written by the kernel during the call only; they are passed as
//     unsafe.Pointer arguments of the Syscall expression, which keeps them
//     alive and in place for its duration.

import (
	"runtime"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Wire constants (uapi/linux/io_uring.h). Do not change.
const (
	ioringOffSQRing = 0
	ioringOffCQRing = 0x8000000
	ioringOffSQEs   = 0x10000000

	ioringFeatSingleMmap = 1 << 0

	ioringEnterGetEvents = 1 << 0

	iosqeFixedFile = 1 << 0

	ioringOpReadFixed = 4
	ioringOpRead      = 22

	ioringRegisterBuffers       = 0
	ioringRegisterFiles         = 2
	ioringUnregisterFiles       = 3
	ioringRegisterFilesUpdate   = 6
	ioringRegisterProbe         = 8
	ioringRegisterBuffers2      = 15
	ioringRegisterBuffersUpdate = 16

	ioringRsrcRegisterSparse = 1 << 0
	ioUringOpSupported       = 1 << 0
)

// ioUringParams is struct io_uring_params (120 bytes).
type ioUringParams struct {
	sqEntries    uint32
	cqEntries    uint32
	flags        uint32
	sqThreadCPU  uint32
	sqThreadIdle uint32
	features     uint32
	wqFD         uint32
	resv         [3]uint32
	sqOff        sqRingOffsets
	cqOff        cqRingOffsets
}

// sqRingOffsets is struct io_sqring_offsets.
type sqRingOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

// cqRingOffsets is struct io_cqring_offsets.
type cqRingOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// sqe is struct io_uring_sqe (64 bytes), with the union members we use.
type sqe struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	rwFlags     uint32
	userData    uint64
	bufIndex    uint16
	personality uint16
	spliceFDIn  int32
	addr3       uint64
	pad2        uint64
}

// cqe is struct io_uring_cqe (16 bytes; we never set CQE32).
type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

// ioUringFilesUpdate is struct io_uring_files_update.
type ioUringFilesUpdate struct {
	offset uint32
	resv   uint32
	fds    uint64 // *int32
}

// ioUringRsrcRegister is struct io_uring_rsrc_register.
type ioUringRsrcRegister struct {
	nr    uint32
	flags uint32
	resv2 uint64
	data  uint64
	tags  uint64
}

// ioUringRsrcUpdate2 is struct io_uring_rsrc_update2.
type ioUringRsrcUpdate2 struct {
	offset uint32
	resv   uint32
	data   uint64 // *unix.Iovec
	tags   uint64
	nr     uint32
	resv2  uint32
}

// ioUringProbe is struct io_uring_probe with room for 256 ops.
type ioUringProbe struct {
	lastOp uint8
	opsLen uint8
	resv   uint16
	resv2  [3]uint32
	ops    [256]ioUringProbeOp
}

type ioUringProbeOp struct {
	op    uint8
	resv  uint8
	flags uint16
	resv2 uint32
}

// Compile-time checks of the wire layouts: an index out of range if a size
// is wrong.
var (
	_ = [1]int{}[unsafe.Sizeof(ioUringParams{})-120]
	_ = [1]int{}[unsafe.Sizeof(sqe{})-64]
	_ = [1]int{}[unsafe.Sizeof(cqe{})-16]
	_ = [1]int{}[unsafe.Sizeof(ioUringFilesUpdate{})-16]
	_ = [1]int{}[unsafe.Sizeof(ioUringRsrcRegister{})-32]
	_ = [1]int{}[unsafe.Sizeof(ioUringRsrcUpdate2{})-32]
	_ = [1]int{}[unsafe.Sizeof(ioUringProbeOp{})-8]
)

// setupHook, when set (by tests), replaces the io_uring_setup system call.
var setupHook func() error

func ioUringSetup(entries uint32, p *ioUringParams) (int, error) {
	if setupHook != nil {
		if err := setupHook(); err != nil {
			return -1, err
		}
	}
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(p)), 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

func ioUringEnter(fd int, toSubmit, minComplete uint32, flags uint32) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(fd), uintptr(toSubmit), uintptr(minComplete), uintptr(flags), 0, 0)
	if errno != 0 {
		return int(n), errno
	}
	return int(n), nil
}

func ioUringRegister(fd int, op uintptr, arg unsafe.Pointer, nr uint32) error {
	_, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(fd), op, uintptr(arg), uintptr(nr), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// escapeSink makes escapes' argument escape to the heap without storing it.
var escapeSink struct {
	on bool
	p  unsafe.Pointer
}

// escapes forces the memory p points to onto the heap: it is handed to the
// kernel as an integer, and a goroutine stack could move under it.
func escapes(p unsafe.Pointer) {
	if escapeSink.on {
		escapeSink.p = p
	}
}

// bufAddr is the address of b's first byte.
func bufAddr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// ring is one io_uring instance. It is used by one goroutine at a time (the
// pool hands it out); between uses every submitted SQE has been consumed
// and every CQE reaped.
type ring struct {
	fd      int
	sqMap   []byte // SQ ring mapping (also the CQ ring with SINGLE_MMAP)
	cqMap   []byte // CQ ring mapping, nil with SINGLE_MMAP
	sqeMap  []byte
	sqHead  *uint32 // written by the kernel
	sqTail  *uint32 // written by us
	sqMask  uint32
	entries uint32
	sqes    []sqe
	cqHead  *uint32 // written by us
	cqTail  *uint32 // written by the kernel
	cqMask  uint32
	cqes    []cqe
	tail    uint32 // our copy of *sqTail, including SQEs not yet published

	fixedFiles bool // the pool's file table is registered here
	fixedBufs  bool // a sparse buffer table is registered here
}

// newRing sets up a ring with at least entries SQ entries and maps its
// queues.
func newRing(entries uint32) (*ring, error) {
	var p ioUringParams
	fd, err := ioUringSetup(entries, &p)
	if err != nil {
		return nil, &opError{op: "io_uring_setup", name: "ring", err: err}
	}
	r := &ring{fd: fd}
	if err := r.mapQueues(&p); err != nil {
		r.close()
		return nil, &opError{op: "mmap", name: "io_uring", err: err}
	}
	return r, nil
}

func (r *ring) mapQueues(p *ioUringParams) error {
	sqSize := int(p.sqOff.array) + int(p.sqEntries)*4
	cqSize := int(p.cqOff.cqes) + int(p.cqEntries)*int(unsafe.Sizeof(cqe{}))
	single := p.features&ioringFeatSingleMmap != 0
	if single {
		sqSize = max(sqSize, cqSize)
	}
	var err error
	prot, flags := unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE
	if r.sqMap, err = unix.Mmap(r.fd, ioringOffSQRing, sqSize, prot, flags); err != nil {
		return err
	}
	cqMap := r.sqMap
	if !single {
		if r.cqMap, err = unix.Mmap(r.fd, ioringOffCQRing, cqSize, prot, flags); err != nil {
			return err
		}
		cqMap = r.cqMap
	}
	sqeSize := int(p.sqEntries) * int(unsafe.Sizeof(sqe{}))
	if r.sqeMap, err = unix.Mmap(r.fd, ioringOffSQEs, sqeSize, prot, flags); err != nil {
		return err
	}
	word := func(m []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&m[off])) }
	r.sqHead = word(r.sqMap, p.sqOff.head)
	r.sqTail = word(r.sqMap, p.sqOff.tail)
	r.sqMask = *word(r.sqMap, p.sqOff.ringMask)
	r.entries = p.sqEntries
	r.cqHead = word(cqMap, p.cqOff.head)
	r.cqTail = word(cqMap, p.cqOff.tail)
	r.cqMask = *word(cqMap, p.cqOff.ringMask)
	r.sqes = unsafe.Slice((*sqe)(unsafe.Pointer(&r.sqeMap[0])), p.sqEntries)
	r.cqes = unsafe.Slice((*cqe)(unsafe.Pointer(&cqMap[p.cqOff.cqes])), p.cqEntries)
	// The SQ array maps ring slots to SQE indexes; we fill SQEs in ring
	// order, so slot i always names SQE i.
	array := unsafe.Slice((*uint32)(unsafe.Pointer(&r.sqMap[p.sqOff.array])), p.sqEntries)
	for i := range array {
		array[i] = uint32(i)
	}
	r.tail = atomic.LoadUint32(r.sqTail)
	return nil
}

// close unmaps the queues and closes the ring. In-flight requests are
// cancelled by the kernel; the caller must have none whose memory matters.
func (r *ring) close() {
	for _, m := range [][]byte{r.sqeMap, r.cqMap, r.sqMap} {
		if m != nil {
			unix.Munmap(m)
		}
	}
	r.sqeMap, r.cqMap, r.sqMap, r.sqes, r.cqes = nil, nil, nil, nil, nil
	unix.Close(r.fd)
}

// prepRead queues a read of len(p) bytes at off into p. fd is a descriptor,
// or a registered-file index when fixedFile is set; bufIndex >= 0 makes it
// READ_FIXED from that registered buffer, which must contain p. The caller
// keeps p alive until the CQE is reaped.
func (r *ring) prepRead(fd int32, fixedFile bool, p []byte, off int64, bufIndex int, userData uint64) {
	s := &r.sqes[r.tail&r.sqMask]
	*s = sqe{
		opcode:   ioringOpRead,
		fd:       fd,
		off:      uint64(off),
		addr:     uint64(bufAddr(p)),
		len:      uint32(len(p)),
		userData: userData,
	}
	if fixedFile {
		s.flags = iosqeFixedFile
	}
	if bufIndex >= 0 {
		s.opcode = ioringOpReadFixed
		s.bufIndex = uint16(bufIndex)
	}
	r.tail++
}

// submitAndWait publishes the queued SQEs, submits them and waits, in
// io_uring_enter calls made by the calling goroutine, until want CQEs are
// ready to reap (want must not exceed what was submitted). Interrupted
// calls are repeated. An error means the ring is in an unknown state (SQEs
// possibly in flight): the caller must retire it (ringPool.retire).
func (r *ring) submitAndWait(want uint32) error {
	atomic.StoreUint32(r.sqTail, r.tail)
	for {
		toSubmit := r.tail - atomic.LoadUint32(r.sqHead)
		ready := atomic.LoadUint32(r.cqTail) - atomic.LoadUint32(r.cqHead)
		if toSubmit == 0 && ready >= want {
			return nil
		}
		_, err := ioUringEnter(r.fd, toSubmit, want, ioringEnterGetEvents)
		if h := testHookEnter; h != nil {
			err = h()
		}
		switch err {
		case nil, unix.EINTR:
		case unix.EAGAIN, unix.EBUSY:
			runtime.Gosched() // kernel short of memory for requests: let it drain
		default:
			return &opError{op: "io_uring_enter", name: "ring", err: err}
		}
	}
}

// testHookEnter, set by a test, replaces io_uring_enter's result, as a
// broken ring would fail it.
var testHookEnter func() error

// reap returns the next CQE's user data and result; the caller knows one is
// ready (submitAndWait).
func (r *ring) reap() (userData uint64, res int32) {
	head := atomic.LoadUint32(r.cqHead)
	c := &r.cqes[head&r.cqMask]
	userData, res = c.userData, c.res
	atomic.StoreUint32(r.cqHead, head+1)
	return userData, res
}

// registerFiles registers fds (-1 for an empty slot) as the ring's file
// table.
func (r *ring) registerFiles(fds []int32) error {
	return ioUringRegister(r.fd, ioringRegisterFiles, unsafe.Pointer(unsafe.SliceData(fds)), uint32(len(fds)))
}

// abandon gives up a ring that may still have requests in flight: its
// file table is unregistered and its descriptor closed, so that the kernel
// drops its references to the files (their descriptions, with their OFD
// locks, outlive a close while a ring holds them) once those requests end.
// The queues stay mapped: the kernel may still write completions there,
// and nothing reads them again.
func (r *ring) abandon() {
	if r.fixedFiles {
		ioUringRegister(r.fd, ioringUnregisterFiles, nil, 0)
		r.fixedFiles = false
	}
	unix.Close(r.fd)
	r.fd = -1
}

// updateFile sets slot to fd (-1 empties it).
func (r *ring) updateFile(slot int32, fd int32) error {
	fds := [1]int32{fd}
	up := ioUringFilesUpdate{offset: uint32(slot), fds: uint64(uintptr(unsafe.Pointer(&fds[0])))}
	err := ioUringRegister(r.fd, ioringRegisterFilesUpdate, unsafe.Pointer(&up), 1)
	runtime.KeepAlive(&fds)
	return err
}

// registerSparseBuffers registers an empty buffer table of n slots
// (IORING_REGISTER_BUFFERS2 with IORING_RSRC_REGISTER_SPARSE, Linux 5.19).
func (r *ring) registerSparseBuffers(n uint32) error {
	reg := ioUringRsrcRegister{nr: n, flags: ioringRsrcRegisterSparse}
	return ioUringRegister(r.fd, ioringRegisterBuffers2, unsafe.Pointer(&reg), uint32(unsafe.Sizeof(reg)))
}

// updateBuffers sets buffer slots first, first+1, … to mem's chunks (nil
// chunks empty their slots).
func (r *ring) updateBuffers(first uint32, chunks [][]byte) error {
	iovs := make([]unix.Iovec, len(chunks))
	for i, c := range chunks {
		if len(c) > 0 {
			iovs[i].Base = unsafe.SliceData(c)
			iovs[i].SetLen(len(c))
		}
	}
	up := ioUringRsrcUpdate2{offset: first, data: uint64(uintptr(unsafe.Pointer(unsafe.SliceData(iovs)))), nr: uint32(len(iovs))}
	err := ioUringRegister(r.fd, ioringRegisterBuffersUpdate, unsafe.Pointer(&up), uint32(unsafe.Sizeof(up)))
	runtime.KeepAlive(iovs)
	return err
}

// probeReads reports whether the kernel supports IORING_OP_READ and
// IORING_OP_READ_FIXED (IORING_REGISTER_PROBE, Linux 5.6).
func (r *ring) probeReads() error {
	probe := new(ioUringProbe)
	if err := ioUringRegister(r.fd, ioringRegisterProbe, unsafe.Pointer(probe), uint32(len(probe.ops))); err != nil {
		return err
	}
	for _, op := range []uint8{ioringOpRead, ioringOpReadFixed} {
		if op > probe.lastOp || int(op) >= int(probe.opsLen) || probe.ops[op].flags&ioUringOpSupported == 0 {
			return unix.EINVAL
		}
	}
	return nil
}

// arenaMem maps size bytes of anonymous memory for an Arena. It is not Go
// heap memory: the garbage collector never frees or moves it; freeArenaMem
// unmaps it.
func arenaMem(size int) ([]byte, error) {
	return unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
}

func freeArenaMem(m []byte) error { return unix.Munmap(m) }

// unsafePointer is the address of a slice's backing array, for escapes.
func unsafePointer[T any](s []T) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(s)) }
