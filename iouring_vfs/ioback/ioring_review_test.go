package ioback

// Adversarial review of the io_uring ring path: stress, edges, lifetime.
// Every test compares what the ring reads with the file's known contents or
// with what the portable backend (pread/preadv) reads.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func reviewSoak() bool { return os.Getenv("LIBSQL_SOAK") == "1" }

// reviewFiles writes n files of distinct random contents with sizes that
// are not page multiples.
func reviewFiles(t testing.TB, dir string, n int) ([]string, [][]byte) {
	t.Helper()
	names := make([]string, n)
	datas := make([][]byte, n)
	for i := range n {
		names[i] = filepath.Join(dir, fmt.Sprintf("f%d.db", i))
		datas[i] = writeTestFile(t, names[i], 64*4096+1000*(i+1)+i)
	}
	return names, datas
}

// expect computes what a read of len(p) bytes at off of data must return.
func expect(data []byte, n int, off int64) ([]byte, int, error) {
	if off >= int64(len(data)) {
		if n == 0 {
			return nil, 0, nil
		}
		return nil, 0, io.EOF
	}
	end := min(int64(len(data)), off+int64(n))
	got := data[off:end]
	if len(got) < n {
		return got, len(got), io.EOF
	}
	return got, len(got), nil
}

// checkReqs checks every request's N, Err and bytes against data. Requests
// with a negative offset must fail with EINVAL.
func checkReqs(data []byte, reqs []Read) error {
	for i, q := range reqs {
		if q.Off < 0 {
			if !errors.Is(q.Err, syscall.EINVAL) {
				return fmt.Errorf("req %d off %d: err %v, want EINVAL", i, q.Off, q.Err)
			}
			continue
		}
		want, n, err := expect(data, len(q.P), q.Off)
		if q.N != n || q.Err != err {
			return fmt.Errorf("req %d (len %d off %d): N=%d err=%v, want N=%d err=%v", i, len(q.P), q.Off, q.N, q.Err, n, err)
		}
		if !bytes.Equal(q.P[:q.N], want) {
			return fmt.Errorf("req %d (len %d off %d): wrong bytes", i, len(q.P), q.Off)
		}
	}
	return nil
}

// randomReqs makes a scattered batch of count requests over a file of size
// bytes: some empty, some past EOF, some across EOF, non-overlapping
// buffers carved from one backing array in random order.
func randomReqs(r *rand.Rand, size int64, count int) []Read {
	reqs := make([]Read, count)
	lens := make([]int, count)
	total := 0
	for i := range reqs {
		switch r.IntN(10) {
		case 0:
			lens[i] = 0
		case 1:
			lens[i] = 1 + r.IntN(100)
		default:
			lens[i] = 512 * (1 + r.IntN(16))
		}
		total += lens[i]
	}
	back := make([]byte, total+count) // 1-byte gaps between buffers
	at := 0
	for _, i := range r.Perm(count) {
		reqs[i].P = back[at : at+lens[i] : at+lens[i]]
		at += lens[i] + 1
		switch r.IntN(10) {
		case 0:
			reqs[i].Off = size + int64(r.IntN(5000)) // past EOF
		case 1:
			reqs[i].Off = size - int64(r.IntN(max(1, lens[i]))) // across EOF
		default:
			reqs[i].Off = r.Int64N(size)
		}
		reqs[i].N, reqs[i].Err = -1, errors.New("stale") // must be overwritten
	}
	return reqs
}

func firstErr(reqs []Read) error {
	for _, q := range reqs {
		if q.Err != nil && q.Err != io.EOF {
			return q.Err
		}
	}
	return nil
}

// TestIoringReviewBatchEdges: batches larger than the SQ, with empty
// requests, requests past and across EOF, a negative offset and a one-byte
// file, through the ring, each compared with the portable backend and the
// known contents.
func TestIoringReviewBatchEdges(t *testing.T) {
	for _, single := range []bool{false, true} {
		t.Run(fmt.Sprintf("ringSingle=%v", single), func(t *testing.T) {
			defer RingSingleReadsForTesting(single)()
			u, p := testPool(t)
			dir := t.TempDir()
			names, datas := reviewFiles(t, dir, 1)
			f, err := u.Open(names[0], OpenReadOnly)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			pf, err := Portable().Open(names[0], OpenReadOnly)
			if err != nil {
				t.Fatal(err)
			}
			defer pf.Close()
			size := int64(len(datas[0]))
			r := rand.New(rand.NewPCG(1, 2))
			for _, count := range []int{0, 1, 2, 3, 127, 128, 129, 255, 256, 257, 300, 700} {
				for rep := range 3 {
					reqs := randomReqs(r, size, count)
					if rep == 2 && count > 2 {
						reqs[count/2].Off = -4096
					}
					err := f.ReadBatch(reqs)
					if cerr := checkReqs(datas[0], reqs); cerr != nil {
						t.Fatalf("count %d rep %d: %v", count, rep, cerr)
					}
					if err != firstErr(reqs) {
						t.Fatalf("count %d: ReadBatch returned %v, first request error %v", count, err, firstErr(reqs))
					}
					// The portable backend must agree on N and Err class.
					preqs := make([]Read, len(reqs))
					for i, q := range reqs {
						preqs[i] = Read{P: make([]byte, len(q.P)), Off: q.Off}
					}
					perr := pf.ReadBatch(preqs)
					if (perr == nil) != (err == nil) {
						t.Fatalf("count %d: ring err %v, portable err %v", count, err, perr)
					}
					for i := range reqs {
						if reqs[i].N != preqs[i].N || (reqs[i].Err == nil) != (preqs[i].Err == nil) ||
							!bytes.Equal(reqs[i].P[:reqs[i].N], preqs[i].P[:preqs[i].N]) {
							t.Fatalf("count %d req %d: ring N=%d %v, portable N=%d %v", count, i, reqs[i].N, reqs[i].Err, preqs[i].N, preqs[i].Err)
						}
					}
				}
			}
			// A batch of only empty / past-EOF requests.
			reqs := []Read{{P: nil, Off: 0}, {P: make([]byte, 10), Off: size}, {P: []byte{}, Off: size + 10}, {P: make([]byte, 4096), Off: 1 << 40}}
			if err := f.ReadBatch(reqs); err != nil {
				t.Fatal(err)
			}
			if cerr := checkReqs(datas[0], reqs); cerr != nil {
				t.Fatal(cerr)
			}
			if len(p.free) == 0 {
				t.Fatal("no ring back in the pool")
			}
		})
	}
}

// TestIoringReviewSmallSQ runs batches through a private pool whose rings
// have a small SQ (8 entries), so a batch spans many submissions and the SQ
// and CQ indexes wrap many times, and a one-ring pool with contending
// goroutines.
func TestIoringReviewSmallSQ(t *testing.T) {
	testPool(t) // skip without io_uring
	p := reviewPrivatePool(t, 8, 1)
	u := &uringFS{pool: p}
	names, datas := reviewFiles(t, t.TempDir(), 2)
	var wg sync.WaitGroup
	var failed atomic.Bool
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := g % 2
			f, err := u.Open(names[k], OpenReadOnly)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			r := rand.New(rand.NewPCG(uint64(g), 9))
			for range 20 {
				reqs := randomReqs(r, int64(len(datas[k])), 1+r.IntN(70))
				f.ReadBatch(reqs)
				if err := checkReqs(datas[k], reqs); err != nil {
					if failed.CompareAndSwap(false, true) {
						t.Error(err)
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(p.free) != len(p.rings) {
		t.Fatalf("%d of %d rings back", len(p.free), len(p.rings))
	}
}

// reviewPrivatePool builds a pool like newRingPool, with rings of the given
// SQ size and at most max rings, closed at the end of the test.
func reviewPrivatePool(t testing.TB, entries uint32, maxRings int) *ringPool {
	t.Helper()
	p := &ringPool{free: make(chan *ring, maxRings), max: maxRings}
	p.files = make([]int32, 64)
	for i := range p.files {
		p.files[i] = -1
		p.freeSlots = append(p.freeSlots, int32(len(p.files)-1-i))
	}
	r, err := newRing(entries)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.adopt(r)
	p.mu.Unlock()
	p.free <- r
	t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, r := range p.rings {
			r.close()
		}
	})
	return p
}

// TestIoringReviewStress: 64 goroutines (256 with LIBSQL_SOAK=1) read
// through the shared pool (more goroutines than rings) with single ring
// reads and scattered batches, on shared handles and on handles they open
// and close all the time (so registered-file slots are reused constantly),
// while shared handles of other files are closed under readers. Every byte
// is compared with the file's contents, and a read on a closing handle may
// only fail with fs.ErrClosed.
func TestIoringReviewStress(t *testing.T) {
	defer RingSingleReadsForTesting(true)()
	u, p := testPool(t)
	goroutines, dur := 64, 1200*time.Millisecond
	if reviewSoak() {
		goroutines, dur = 256, 20*time.Second
	}
	names, datas := reviewFiles(t, t.TempDir(), 6)
	type shared struct {
		f File
		k int
	}
	var mu sync.Mutex
	cur := make([]shared, 3) // shared handles, replaced by the closer
	for i := range cur {
		f, err := u.Open(names[i], OpenReadOnly)
		if err != nil {
			t.Fatal(err)
		}
		cur[i] = shared{f, i}
	}
	stop := make(chan struct{})
	var failed atomic.Bool
	fail := func(format string, args ...any) {
		if failed.CompareAndSwap(false, true) {
			t.Errorf(format, args...)
		}
	}
	var reads, closedErrs atomic.Int64
	var wg sync.WaitGroup
	// The closer: replaces a shared handle with a new one (of another
	// file) and closes the old one while readers use it.
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := rand.New(rand.NewPCG(99, 1))
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			i := r.IntN(len(cur))
			k := r.IntN(len(names))
			nf, err := u.Open(names[k], OpenReadOnly)
			if err != nil {
				fail("open: %v", err)
				return
			}
			mu.Lock()
			old := cur[i].f
			cur[i] = shared{nf, k}
			mu.Unlock()
			if err := old.Close(); err != nil {
				fail("close: %v", err)
			}
		}
	}()
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 5))
			for !failed.Load() {
				select {
				case <-stop:
					return
				default:
				}
				var f File
				var k int
				own := r.IntN(3) == 0
				if own {
					k = r.IntN(len(names))
					var err error
					if f, err = u.Open(names[k], OpenReadOnly); err != nil {
						fail("open: %v", err)
						return
					}
				} else {
					mu.Lock()
					s := cur[r.IntN(len(cur))]
					mu.Unlock()
					f, k = s.f, s.k
				}
				data := datas[k]
				var err error
				if r.IntN(2) == 0 {
					reqs := randomReqs(r, int64(len(data)), 2+r.IntN(200))
					err = f.ReadBatch(reqs)
					if err == nil {
						if cerr := checkReqs(data, reqs); cerr != nil {
							fail("file %d batch: %v", k, cerr)
						}
					} else if !errors.Is(err, fs.ErrClosed) || own {
						fail("file %d batch: %v", k, err)
					}
				} else {
					off := r.Int64N(int64(len(data)) + 100)
					buf := make([]byte, 1+r.IntN(3*4096))
					n, rerr := f.ReadAt(buf, off)
					want, wn, werr := expect(data, len(buf), off)
					switch {
					case rerr != nil && rerr != io.EOF:
						err = rerr
						if !errors.Is(rerr, fs.ErrClosed) || own {
							fail("file %d ReadAt(%d, %d): %v", k, len(buf), off, rerr)
						}
					case n != wn || rerr != werr || !bytes.Equal(buf[:n], want):
						fail("file %d ReadAt(%d, %d) = %d, %v; want %d, %v (bytes equal %v)", k, len(buf), off, n, rerr, wn, werr, bytes.Equal(buf[:n], want))
					}
				}
				if err != nil {
					closedErrs.Add(1)
				}
				reads.Add(1)
				if own {
					if err := f.Close(); err != nil {
						fail("close own: %v", err)
					}
				}
			}
		}()
	}
	time.Sleep(dur)
	close(stop)
	wg.Wait()
	for _, s := range cur {
		s.f.Close()
	}
	if len(p.free) != len(p.rings) {
		t.Errorf("%d of %d rings back in the pool", len(p.free), len(p.rings))
	}
	t.Logf("%d reads, %d on closed handles, %d rings", reads.Load(), closedErrs.Load(), len(p.rings))
}

// reviewDropCache evicts the file's pages so reads go to the disk and
// io_uring_enter really waits (and can be interrupted by signals).
func reviewDropCache(t testing.TB, name string) {
	fd, err := unix.Open(name, unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	unix.Fdatasync(fd)
	unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
}

// TestIoringReviewSignals: cold batched reads (the waiter sleeps in
// io_uring_enter) while the process is flooded with SIGURG (what the Go
// runtime uses for preemption) and goroutines spin so the scheduler
// preempts them. io_uring_enter then returns EINTR; no read may fail or
// come back wrong.
func TestIoringReviewSignals(t *testing.T) {
	defer RingSingleReadsForTesting(true)()
	u, _ := testPool(t)
	names, datas := reviewFiles(t, t.TempDir(), 2)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		pid := os.Getpid()
		for {
			select {
			case <-stop:
				return
			default:
			}
			// Signal every thread: one sleeping in io_uring_enter gets
			// EINTR only if the signal is delivered to it.
			tasks, _ := os.ReadDir("/proc/self/task")
			for _, task := range tasks {
				var tid int
				fmt.Sscan(task.Name(), &tid)
				unix.Tgkill(pid, tid, unix.SIGURG)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}()
	for range 2 {
		wg.Add(1)
		go func() { // spinners: force async preemption
			defer wg.Done()
			x := 0
			for {
				select {
				case <-stop:
					return
				default:
				}
				for i := range 1 << 16 {
					x += i
				}
			}
		}()
	}
	deadline := time.Now().Add(1500 * time.Millisecond)
	if reviewSoak() {
		deadline = time.Now().Add(20 * time.Second)
	}
	var rwg sync.WaitGroup
	var failed atomic.Bool
	var rounds atomic.Int64
	for g := range 4 {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			k := g % 2
			f, err := u.Open(names[k], OpenReadOnly)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			r := rand.New(rand.NewPCG(uint64(g), 3))
			for time.Now().Before(deadline) && !failed.Load() {
				if g%2 == 0 {
					reviewDropCache(t, names[k])
				}
				var err error
				if g%2 == 0 {
					reqs := randomReqs(r, int64(len(datas[k])), 64)
					f.ReadBatch(reqs)
					err = checkReqs(datas[k], reqs)
				} else {
					buf := make([]byte, 8192)
					off := r.Int64N(int64(len(datas[k])))
					n, rerr := f.ReadAt(buf, off)
					want, wn, werr := expect(datas[k], len(buf), off)
					if n != wn || rerr != werr || !bytes.Equal(buf[:n], want) {
						err = fmt.Errorf("ReadAt(8192, %d) = %d, %v; want %d, %v", off, n, rerr, wn, werr)
					}
				}
				if err != nil {
					if failed.CompareAndSwap(false, true) {
						t.Error(err)
					}
					return
				}
				rounds.Add(1)
			}
		}()
	}
	rwg.Wait()
	close(stop)
	wg.Wait()
	t.Logf("%d rounds", rounds.Load())
}

// TestIoringReviewCloseReleasesLocks: after Close, the file's OFD locks are
// gone at once, also when reads went through rings (whose registered-file
// tables hold references to the open file description) and with a file
// that another ring still has in flight.
func TestIoringReviewCloseReleasesLocks(t *testing.T) {
	u, _ := testPool(t)
	names, _ := reviewFiles(t, t.TempDir(), 1)
	for i := range 50 {
		f, err := u.Open(names[0], 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Lock(0, 0, true); err != nil {
			t.Fatal(err)
		}
		reqs := []Read{{P: make([]byte, 4096), Off: 0}, {P: make([]byte, 4096), Off: 3 * 4096}}
		if err := f.ReadBatch(reqs); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		g, err := Portable().Open(names[0], 0)
		if err != nil {
			t.Fatal(err)
		}
		err = g.Lock(0, 0, true)
		g.Close()
		if err != nil {
			t.Fatalf("round %d: lock after Close of the ring file: %v", i, err)
		}
	}
}

// TestIoringReviewSlotsExhausted: a pool with few file slots; files beyond
// them read through their descriptor, and slots freed by Close are reused,
// while all of them are read at once.
func TestIoringReviewSlotsExhausted(t *testing.T) {
	defer RingSingleReadsForTesting(true)()
	testPool(t)
	p := reviewPrivatePool(t, 32, 3)
	p.freeSlots = p.freeSlots[len(p.freeSlots)-3:] // slots 2, 1, 0
	u := &uringFS{pool: p}
	names, datas := reviewFiles(t, t.TempDir(), 5)
	var wg sync.WaitGroup
	var failed atomic.Bool
	var fixed, plain atomic.Int64
	for g := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 11))
			for range 40 {
				k := r.IntN(len(names))
				f, err := u.open(names[k], OpenReadOnly, true)
				if err != nil {
					t.Error(err)
					return
				}
				if f.slot >= 0 {
					fixed.Add(1)
				} else {
					plain.Add(1)
				}
				reqs := randomReqs(r, int64(len(datas[k])), 2+r.IntN(40))
				f.ReadBatch(reqs)
				err = checkReqs(datas[k], reqs)
				f.Close()
				if err != nil {
					if failed.CompareAndSwap(false, true) {
						t.Errorf("file %d: %v", k, err)
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	p.mu.Lock()
	free := len(p.freeSlots)
	p.mu.Unlock()
	if free != 3 {
		t.Errorf("%d of 3 slots free after closing everything", free)
	}
	t.Logf("%d opens with a slot, %d without", fixed.Load(), plain.Load())
}

// TestIoringReviewGrowFails: io_uring_setup fails when the pool tries to
// grow (RLIMIT_MEMLOCK, say): the pool keeps its one ring and 32 readers
// share it.
func TestIoringReviewGrowFails(t *testing.T) {
	defer RingSingleReadsForTesting(true)()
	testPool(t)
	p := reviewPrivatePool(t, 16, 8)
	var setups atomic.Int64
	setupHook = func() error { setups.Add(1); return syscall.ENOMEM }
	defer func() { setupHook = nil }()
	u := &uringFS{pool: p}
	names, datas := reviewFiles(t, t.TempDir(), 1)
	f, err := u.Open(names[0], OpenReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// The pool's one ring is out while the readers start, so that the
	// first of them tries to grow the pool: with a busy machine, they may
	// otherwise run one after another on the free ring and never try.
	held := p.get(false)
	var wg sync.WaitGroup
	var failed atomic.Bool
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 13))
			for range 20 {
				reqs := randomReqs(r, int64(len(datas[0])), 2+r.IntN(30))
				f.ReadBatch(reqs)
				if err := checkReqs(datas[0], reqs); err != nil {
					if failed.CompareAndSwap(false, true) {
						t.Error(err)
					}
					return
				}
			}
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); setups.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	p.put(held)
	wg.Wait()
	if len(p.rings) != 1 || len(p.free) != 1 {
		t.Fatalf("%d rings, %d free", len(p.rings), len(p.free))
	}
	if setups.Load() != 1 {
		t.Errorf("io_uring_setup tried %d times after failing, want 1", setups.Load())
	}
}

// TestIoringReviewRetire: io_uring_enter fails (the ring descriptor is
// replaced by /dev/null, so the call returns an error as a broken ring
// would): the batch reports the error on every unfinished request, the
// ring is retired, and the next batch gets a fresh ring and reads right.
func TestIoringReviewRetire(t *testing.T) {
	testPool(t)
	p := reviewPrivatePool(t, 16, 1)
	u := &uringFS{pool: p}
	names, datas := reviewFiles(t, t.TempDir(), 1)
	f, err := u.Open(names[0], OpenReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bad := p.rings[0]
	null, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Keep the real ring open under another number, so its mapping and
	// registrations stay valid; put /dev/null where the ring was.
	real, err := unix.Dup(bad.fd)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(real)
	if err := unix.Dup3(null, bad.fd, unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	unix.Close(null)
	reqs := []Read{{P: make([]byte, 100), Off: 0}, {P: make([]byte, 100), Off: 9000}, {P: nil, Off: 5}}
	err = f.ReadBatch(reqs)
	if err == nil || reqs[0].Err == nil || reqs[1].Err == nil || reqs[2].Err != nil {
		t.Fatalf("batch on a broken ring: %v; reqs %v %v %v", err, reqs[0].Err, reqs[1].Err, reqs[2].Err)
	}
	p.mu.Lock()
	for _, r := range p.rings {
		if r == bad {
			t.Error("broken ring still in the pool")
		}
	}
	p.mu.Unlock()
	// The retired ring is left mapped on purpose and its descriptor (now
	// /dev/null) closed; unmap it, and close the real one via the defer.
	defer func() {
		unix.Munmap(bad.sqeMap)
		unix.Munmap(bad.sqMap)
		if bad.cqMap != nil {
			unix.Munmap(bad.cqMap)
		}
	}()
	reqs = randomReqs(rand.New(rand.NewPCG(1, 1)), int64(len(datas[0])), 50)
	f.ReadBatch(reqs)
	if err := checkReqs(datas[0], reqs); err != nil {
		t.Fatalf("after retiring: %v", err)
	}
	if len(p.rings) != 1 {
		t.Fatalf("%d rings after retiring the only one", len(p.rings))
	}
}

// TestIoringReviewExec: os/exec while rings exist and reads are in flight;
// the child inherits neither the ring descriptors nor the files.
func TestIoringReviewExec(t *testing.T) {
	defer RingSingleReadsForTesting(true)()
	u, p := testPool(t)
	if _, err := exec.LookPath("ls"); err != nil {
		t.Skip("no ls")
	}
	names, datas := reviewFiles(t, t.TempDir(), 1)
	f, err := u.Open(names[0], OpenReadOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failed atomic.Bool
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 17))
			for {
				select {
				case <-stop:
					return
				default:
				}
				reqs := randomReqs(r, int64(len(datas[0])), 40)
				f.ReadBatch(reqs)
				if err := checkReqs(datas[0], reqs); err != nil {
					if failed.CompareAndSwap(false, true) {
						t.Error(err)
					}
					return
				}
			}
		}()
	}
	for range 10 {
		out, err := exec.Command("ls", "-l", "/proc/self/fd/").CombinedOutput()
		if err != nil {
			t.Fatal(err, string(out))
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "io_uring") || strings.Contains(line, names[0]) {
				t.Errorf("child inherited: %s", line)
			}
		}
	}
	close(stop)
	wg.Wait()
	if len(p.free) != len(p.rings) {
		t.Errorf("%d of %d rings back", len(p.free), len(p.rings))
	}
}

// TestIoringReviewCloseDuringBatch: Close is called while a large cold
// scattered batch (several submissions) is in flight on the same handle.
// Close must wait for it: the batch either reads everything right or, if it
// began after Close, fails as a whole with fs.ErrClosed; never EBADF from a
// slot emptied under it, never another file's bytes.
func TestIoringReviewCloseDuringBatch(t *testing.T) {
	u, _ := testPool(t)
	dir := t.TempDir()
	name := filepath.Join(dir, "big.db")
	data := writeTestFile(t, name, 4<<20)
	other := filepath.Join(dir, "other.db")
	writeTestFile(t, other, 4<<20+1)
	rounds := 30
	if reviewSoak() {
		rounds = 500
	}
	r := rand.New(rand.NewPCG(5, 5))
	var completed, refused int
	for round := range rounds {
		reviewDropCache(t, name)
		f, err := u.Open(name, OpenReadOnly)
		if err != nil {
			t.Fatal(err)
		}
		reqs := make([]Read, 600)
		for i := range reqs {
			reqs[i] = Read{P: make([]byte, 4096), Off: r.Int64N(int64(len(data)/4096)) * 4096}
		}
		done := make(chan error)
		go func() { done <- f.ReadBatch(reqs) }()
		time.Sleep(time.Duration(r.IntN(300)) * time.Microsecond)
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		// Reuse the slot and probably the descriptor number at once.
		g, err := u.Open(other, OpenReadOnly)
		if err != nil {
			t.Fatal(err)
		}
		err = <-done
		g.Close()
		if err != nil {
			if !errors.Is(err, fs.ErrClosed) {
				t.Fatalf("round %d: batch during Close: %v", round, err)
			}
			for i, q := range reqs {
				if q.N != 0 || !errors.Is(q.Err, fs.ErrClosed) {
					t.Fatalf("round %d: refused batch, req %d: N=%d %v", round, i, q.N, q.Err)
				}
			}
			refused++
			continue
		}
		if cerr := checkReqs(data, reqs); cerr != nil {
			t.Fatalf("round %d: %v", round, cerr)
		}
		completed++
	}
	t.Logf("%d batches completed, %d refused", completed, refused)
}
