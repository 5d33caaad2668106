// Package ioback is the narrow file interface under the log and the page
// store (File, FS), with its implementations:
//
//   - New(KindUring): the io_uring backend for Linux. Batched reads go
//     through our own rings; single reads, writes and syncs are plain
//     pread/pwritev/fdatasync on the same descriptor.
//   - Portable(): os.File with pread/pwrite, pwritev, fdatasync (fsync
//     elsewhere) and byte-range locks, for every OS.
//   - NewMemFS(): files in memory, for in-memory databases.
//   - New(KindAuto), the default: io_uring where the kernel allows it, the
//     portable backend otherwise, said once in a log line (Logf).
//
// Everything the storage engine does to a file goes through File, so tests
// can put a faulty or crashable implementation (package iofault)
// underneath, and every FS must pass the suite in package iobacktest. The
// interface is deliberately small: a wrapper forwards a dozen methods, not
// thirty. Optional features are small interfaces found by type assertion
// (ArenaFS).
//
// # Where io_uring is used, and why
//
// Every choice below is measured by a benchmark in this package
// (bench_linux_test.go; figures from Linux 6.18, ext4 on virtio, 2 vCPUs):
//
//   - A batch that reads one range of the file (ReadBatch of contiguous
//     requests: the engine's read-ahead of the pages after a sequential
//     reader's miss, recovery's frames) is one preadv: the kernel copies
//     the whole range in one call, where the ring still handles every page
//     as a request. 32 cached pages: 7.0-7.3 µs with preadv, 24.2-24.6 µs
//     through the ring, 26.0-26.6 µs as 32 preads
//     (BenchmarkRingOverhead/op=range32-*).
//   - Other batches of reads (ReadBatch of scattered requests: a
//     checkpoint's frames) go through a ring: all requests in one
//     io_uring_enter, and the kernel keeps the disk busy with all of them
//     at once. 64 random 4 KiB reads of a file not in the page cache take
//     about a quarter of the time of 64 preads (BenchmarkColdBatch: 0.95
//     ms against 3.8 ms), and a batch of cached pages is still 1.25x
//     faster than the preads (BenchmarkRingOverhead/op=warm64-*).
//   - A single read is a plain pread. On the machines we measured, one
//     io_uring_enter costs as much as a whole pread of a cached page (an
//     IORING_OP_NOP takes 0.8 µs, a getppid 0.27 µs, a cached 4 KiB pread
//     1.0 µs), so one read through the ring takes 1.8-2x the time of
//     pread, and a registered file and fixed buffer win back only a few
//     percent (BenchmarkWarmRead). With IORING_SETUP_SQPOLL, where a
//     kernel thread polls the ring and a read makes no system call, it
//     still took 1.0-1.7 µs against pread's 0.81-0.90 µs
//     (BenchmarkWarmRead/path=ring+sqpoll), and that thread takes a core.
//     With every flag that makes io_uring_enter cheaper (SINGLE_ISSUER,
//     DEFER_TASKRUN, COOP_TASKRUN and a registered ring descriptor, which
//     tie a ring to one thread: usable only with the goroutine locked to
//     it), a read took 1.33-1.39 µs against pread's 0.87-0.91 µs
//     (BenchmarkWarmRead/path=ring+tuned).
//     A single cold read gains nothing from the ring either: it waits for
//     the disk both ways. The ring path for single reads is kept, tested
//     and benchmarked (RingSingleReadsForTesting), to be switched on where
//     a kernel makes it pay.
//   - Writes are pwrite/pwritev: through the ring, buffered writes are
//     handed to kernel worker threads on ext4 and measured 1.0-1.35x the
//     time of pwrite.
//   - Syncs are fdatasync: IORING_OP_FSYNC runs on a worker thread and tied
//     or lost, and ext4 already merges concurrent fdatasyncs (each
//     committer's own pwrite+fdatasync reached 13-15k commits/s with 8
//     committers, and a single writer with pwritev+fdatasync tied).
//
// Re-measure on new hardware or kernels with
//
//	go test -run '^$' -bench . -count 6 ./iouring_vfs/ioback/ > new.txt
//	benchstat -col /path new.txt
//
// # The rings
//
// The rings are ours, on golang.org/x/sys/unix system calls
// (uring_sys_linux.go holds every unsafe operation and says who owns which
// memory): io_uring_setup, the SQ ring, CQ ring and SQE array mmap'd (one
// mapping with IORING_FEAT_SINGLE_MMAP), head and tail words accessed with
// sync/atomic. There is no poller goroutine and no eventfd: the goroutine
// that submits calls io_uring_enter(GETEVENTS) itself and reaps exactly its
// own completions. Go may move it to another OS thread between submitting
// and waiting; a plain ring does not mind (we set neither SINGLE_ISSUER nor
// DEFER_TASKRUN, which would).
//
// The process shares one pool of rings, created on demand up to
// 2×GOMAXPROCS (at least 4): a goroutine takes a free ring, submits, waits,
// and returns it, so concurrent readers never queue behind one lock. Every
// ring registers the same sparse file table (IORING_REGISTER_FILES, updated
// as files open and close; reads use IOSQE_FIXED_FILE) and the same sparse
// buffer table, which holds the arenas (ArenaFS): reads into arena memory
// become IORING_OP_READ_FIXED. File.Close waits for the file's reads before
// the file leaves the tables, so a reused descriptor number is never read
// through a stale slot. Every completion is checked: a negative result is
// an errno error naming the file and offset, and a short read is continued
// until EOF.
//
// # Why not github.com/iceber/iouring-go
//
// It was measured and is not used: with Go 1.26 it fails to link (it
// reaches into syscall.Sockaddr with go:linkname and builds only with
// -ldflags=-checklinkname=0, which every user of this library would then
// need), its SubmitLinkRequests sets hard-link flags (so an fsync still
// runs after the write before it failed), and its completion path (eventfd,
// poller goroutine, channel) makes a single 4 KiB read 2.3-2.6x slower than
// pread.
package ioback
