package ioback

import (
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The benchmarks behind the choices in doc.go. Run them all in one go and
// compare the sub-benchmarks of one run (the machine is shared):
//
//	go test -run '^$' -bench . -count 6 ./iouring_vfs/ioback/ | tee new.txt
//	benchstat -col /path new.txt
//
// Files go to LIBSQL_BENCH_DIR, or the temporary directory; the cold
// benchmark needs a real disk (not tmpfs) to mean anything.

const (
	benchPage  = 4096
	warmSize   = 16 << 20
	coldSize   = 64 << 20
	coldBatch  = 64
	benchSeedA = 42
)

func benchDir(b *testing.B) string {
	if d := os.Getenv("LIBSQL_BENCH_DIR"); d != "" {
		dir, err := os.MkdirTemp(d, "ioback-bench-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return b.TempDir()
}

// benchFile writes size bytes of pseudo-random data and fdatasyncs them.
func benchFile(b *testing.B, size int) string {
	b.Helper()
	name := filepath.Join(benchDir(b), "bench.db")
	f, err := os.Create(name)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(benchSeedA, uint64(size)))
	chunk := make([]byte, 1<<20)
	for off := 0; off < size; off += len(chunk) {
		for i := range chunk {
			chunk[i] = byte(r.Uint32())
		}
		if _, err := f.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		b.Fatal(err)
	}
	f.Close()
	return name
}

func randomPages(n, pages int, seed uint64) []int64 {
	r := rand.New(rand.NewPCG(seed, 1))
	offs := make([]int64, n)
	for i := range offs {
		offs[i] = int64(r.IntN(pages)) * benchPage
	}
	return offs
}

// BenchmarkWarmRead is one 4 KiB read of a page in the page cache.
func BenchmarkWarmRead(b *testing.B) {
	u, _ := testPool(b)
	name := benchFile(b, warmSize)
	offs := randomPages(1024, warmSize/benchPage, 1)
	heap := make([]byte, benchPage)

	b.Run("path=pread", func(b *testing.B) {
		fd, err := unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer unix.Close(fd)
		b.SetBytes(benchPage)
		for i := 0; b.Loop(); i++ {
			if n, err := unix.Pread(fd, heap, offs[i%len(offs)]); n != benchPage || err != nil {
				b.Fatal(n, err)
			}
		}
	})
	b.Run("path=portable", func(b *testing.B) {
		f, err := Portable().Open(name, OpenReadOnly)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		b.SetBytes(benchPage)
		for i := 0; b.Loop(); i++ {
			if n, err := f.ReadAt(heap, offs[i%len(offs)]); n != benchPage || err != nil {
				b.Fatal(n, err)
			}
		}
	})
	b.Run("path=uring-ReadAt", func(b *testing.B) {
		// The io_uring backend's ReadAt as shipped (pread; see
		// ringSingleReads).
		f, err := u.Open(name, OpenReadOnly)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		b.SetBytes(benchPage)
		for i := 0; b.Loop(); i++ {
			if n, err := f.ReadAt(heap, offs[i%len(offs)]); n != benchPage || err != nil {
				b.Fatal(n, err)
			}
		}
	})
	ringRead := func(b *testing.B, register, fixed bool) {
		defer RingSingleReadsForTesting(true)()
		f, err := u.open(name, OpenReadOnly, register)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if register && f.slot < 0 {
			b.Skip("no registered-file slot")
		}
		buf := heap
		if fixed {
			a, err := u.NewArena(benchPage)
			if err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			if !a.Fixed() {
				b.Skip("arena not registered")
			}
			buf = a.Bytes()
		}
		b.SetBytes(benchPage)
		for i := 0; b.Loop(); i++ {
			if n, err := f.ReadAt(buf, offs[i%len(offs)]); n != benchPage || err != nil {
				b.Fatal(n, err)
			}
		}
	}
	b.Run("path=ring", func(b *testing.B) { ringRead(b, false, false) })
	b.Run("path=ring+regfile", func(b *testing.B) { ringRead(b, true, false) })
	b.Run("path=ring+regfile+fixedbuf", func(b *testing.B) { ringRead(b, true, true) })
	b.Run("path=ring+sqpoll", func(b *testing.B) {
		// A kernel thread polls the submission queue and the completion
		// is polled here, so a read makes no system call at all; the
		// thread takes a core while reads keep coming. Not used by the
		// backend: it still loses to pread (doc.go).
		p := ioUringParams{flags: ioringSetupSQPoll, sqThreadIdle: 100}
		fd, r := rawRing(b, name, &p, "IORING_SETUP_SQPOLL")
		sqFlags := (*uint32)(unsafe.Pointer(&r.sqMap[p.sqOff.flags]))
		b.SetBytes(benchPage)
		for i := 0; b.Loop(); i++ {
			r.prepRead(int32(fd), false, heap, offs[i%len(offs)], -1, 1)
			atomic.StoreUint32(r.sqTail, r.tail)
			if atomic.LoadUint32(sqFlags)&ioringSQNeedWakeup != 0 {
				if _, err := ioUringEnter(r.fd, 0, 0, ioringEnterSQWakeup); err != nil {
					b.Fatal(err)
				}
			}
			for atomic.LoadUint32(r.cqTail) == atomic.LoadUint32(r.cqHead) {
			}
			if _, res := r.reap(); res != benchPage {
				b.Fatal(res)
			}
		}
	})
	b.Run("path=ring+tuned", func(b *testing.B) {
		// Every setup flag and registration that cuts io_uring_enter's
		// cost, which the backend cannot use because Go moves goroutines
		// between threads: SINGLE_ISSUER and DEFER_TASKRUN (the ring
		// belongs to one thread), COOP_TASKRUN, and the ring's descriptor
		// registered (per thread), so here the goroutine is locked to its
		// thread. It still loses to pread (doc.go).
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		p := ioUringParams{flags: ioringSetupCoopTaskrun | ioringSetupSingleIssuer | ioringSetupDeferTaskrun}
		fd, r := rawRing(b, name, &p, "SINGLE_ISSUER|DEFER_TASKRUN|COOP_TASKRUN")
		reg := ioUringRsrcUpdate{offset: ^uint32(0), data: uint64(r.fd)}
		if err := ioUringRegister(r.fd, ioringRegisterRingFDs, unsafe.Pointer(&reg), 1); err != nil {
			b.Skip("IORING_REGISTER_RING_FDS refused: ", err)
		}
		b.SetBytes(benchPage)
		for i := 0; b.Loop(); i++ {
			r.prepRead(int32(fd), false, heap, offs[i%len(offs)], -1, 1)
			atomic.StoreUint32(r.sqTail, r.tail)
			if _, err := ioUringEnter(int(reg.offset), 1, 1, ioringEnterGetEvents|ioringEnterRegisteredRing); err != nil {
				b.Fatal(err)
			}
			if _, res := r.reap(); res != benchPage {
				b.Fatal(res)
			}
		}
	})
}

// rawRing opens name for reading and sets up a ring of 8 entries with p,
// both closed when b ends, for a sub-benchmark that drives the ring itself;
// it skips b when the kernel refuses what p asks for (named by what).
func rawRing(b *testing.B, name string, p *ioUringParams, what string) (fd int, r *ring) {
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unix.Close(fd) })
	rfd, err := ioUringSetup(8, p)
	if err != nil {
		b.Skip(what, " refused: ", err)
	}
	r = &ring{fd: rfd}
	b.Cleanup(r.close)
	if err := r.mapQueues(p); err != nil {
		b.Fatal(err)
	}
	return fd, r
}

// Setup flags, registrations and enter flags for the benchmarks above
// only (uapi/linux/io_uring.h).
const (
	ioringSetupSQPoll         = 1 << 1
	ioringSetupCoopTaskrun    = 1 << 8
	ioringSetupSingleIssuer   = 1 << 12
	ioringSetupDeferTaskrun   = 1 << 13
	ioringSQNeedWakeup        = 1 << 0
	ioringEnterSQWakeup       = 1 << 1
	ioringEnterRegisteredRing = 1 << 4
	ioringRegisterRingFDs     = 20
)

// ioUringRsrcUpdate is struct io_uring_rsrc_update.
type ioUringRsrcUpdate struct {
	offset uint32
	resv   uint32
	data   uint64
}

// BenchmarkRingOverhead explains BenchmarkWarmRead: the fixed cost of one
// io_uring_enter (a NOP) against a trivial system call and a pread of a
// cached page, and 64 cached pages read through one submission against 64
// preads.
func BenchmarkRingOverhead(b *testing.B) {
	_, p := testPool(b)
	name := benchFile(b, warmSize)
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fd)
	r := p.get(true)
	defer p.put(r)
	buf := make([]byte, benchPage)
	offs := randomPages(1024, warmSize/benchPage, 2)
	b.Run("op=getppid", func(b *testing.B) {
		for b.Loop() {
			unix.Getppid()
		}
	})
	b.Run("op=ring-nop", func(b *testing.B) {
		for b.Loop() {
			r.sqes[r.tail&r.sqMask] = sqe{} // IORING_OP_NOP
			r.tail++
			if err := r.submitAndWait(1); err != nil {
				b.Fatal(err)
			}
			r.reap()
		}
	})
	b.Run("op=pread-samepage", func(b *testing.B) {
		for b.Loop() {
			unix.Pread(fd, buf, benchPage)
		}
	})
	b.Run("op=ring-read-samepage", func(b *testing.B) {
		for b.Loop() {
			r.prepRead(int32(fd), false, buf, benchPage, -1, 0)
			if err := r.submitAndWait(1); err != nil {
				b.Fatal(err)
			}
			r.reap()
		}
	})
	bufs := make([][]byte, 64)
	for i := range bufs {
		bufs[i] = make([]byte, benchPage)
	}
	b.Run("op=warm64-pread", func(b *testing.B) {
		b.SetBytes(64 * benchPage)
		for i := 0; b.Loop(); i++ {
			for k := range 64 {
				unix.Pread(fd, bufs[k], offs[(i*64+k)%len(offs)])
			}
		}
	})
	b.Run("op=warm64-ring", func(b *testing.B) {
		b.SetBytes(64 * benchPage)
		for i := 0; b.Loop(); i++ {
			for k := range 64 {
				r.prepRead(int32(fd), false, bufs[k], offs[(i*64+k)%len(offs)], -1, uint64(k))
			}
			if err := r.submitAndWait(64); err != nil {
				b.Fatal(err)
			}
			for range 64 {
				r.reap()
			}
		}
	})
	// One range of 32 cached pages, as the engine reads ahead: a pread per
	// page, the ring, and one preadv (what ReadBatch does for one range).
	b.Run("op=range32-pread", func(b *testing.B) {
		b.SetBytes(32 * benchPage)
		for i := 0; b.Loop(); i++ {
			for k := range 32 {
				unix.Pread(fd, bufs[k], int64(i%32*32+k)*benchPage)
			}
		}
	})
	b.Run("op=range32-ring", func(b *testing.B) {
		b.SetBytes(32 * benchPage)
		for i := 0; b.Loop(); i++ {
			for k := range 32 {
				r.prepRead(int32(fd), false, bufs[k], int64(i%32*32+k)*benchPage, -1, uint64(k))
			}
			if err := r.submitAndWait(32); err != nil {
				b.Fatal(err)
			}
			for range 32 {
				r.reap()
			}
		}
	})
	b.Run("op=range32-preadv", func(b *testing.B) {
		b.SetBytes(32 * benchPage)
		for i := 0; b.Loop(); i++ {
			if n, err := preadvFull(fd, bufs[:32], int64(i%32*32)*benchPage); n != 32*benchPage || err != nil {
				b.Fatal(n, err)
			}
		}
	})
}

// BenchmarkColdBatch is 64 random 4 KiB reads of a file dropped from the
// page cache before every iteration (posix_fadvise DONTNEED on the clean,
// fdatasync'ed file): 64 sequential preads against one ReadBatch.
func BenchmarkColdBatch(b *testing.B) {
	u, _ := testPool(b)
	name := benchFile(b, coldSize)
	var st unix.Statfs_t
	if err := unix.Statfs(filepath.Dir(name), &st); err == nil && st.Type == unix.TMPFS_MAGIC {
		b.Skip("temporary directory is tmpfs: set LIBSQL_BENCH_DIR to a disk")
	}
	ctl, err := unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(ctl)
	drop := func(b *testing.B) {
		b.StopTimer()
		if err := unix.Fadvise(ctl, 0, 0, unix.FADV_DONTNEED); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	bufs := make([][]byte, coldBatch)
	for i := range bufs {
		bufs[i] = make([]byte, benchPage)
	}
	sets := make([][]int64, 64)
	for i := range sets {
		sets[i] = randomPages(coldBatch, coldSize/benchPage, uint64(100+i))
	}

	b.Run("path=pread", func(b *testing.B) {
		fd, err := unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer unix.Close(fd)
		b.SetBytes(coldBatch * benchPage)
		for i := 0; b.Loop(); i++ {
			drop(b)
			for k, off := range sets[i%len(sets)] {
				if n, err := unix.Pread(fd, bufs[k], off); n != benchPage || err != nil {
					b.Fatal(n, err)
				}
			}
		}
	})
	batch := func(b *testing.B, dst [][]byte) {
		f, err := u.Open(name, OpenReadOnly)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		reqs := make([]Read, coldBatch)
		b.SetBytes(coldBatch * benchPage)
		for i := 0; b.Loop(); i++ {
			drop(b)
			for k, off := range sets[i%len(sets)] {
				reqs[k] = Read{P: dst[k], Off: off}
			}
			if err := f.ReadBatch(reqs); err != nil && err != io.EOF {
				b.Fatal(err)
			}
		}
	}
	b.Run("path=ring-batch", func(b *testing.B) { batch(b, bufs) })
	b.Run("path=ring-batch+fixedbuf", func(b *testing.B) {
		a, err := u.NewArena(coldBatch * benchPage)
		if err != nil {
			b.Fatal(err)
		}
		defer a.Close()
		if !a.Fixed() {
			b.Skip("arena not registered")
		}
		dst := make([][]byte, coldBatch)
		for k := range dst {
			dst[k] = a.Bytes()[k*benchPage : (k+1)*benchPage]
		}
		batch(b, dst)
	})
}
