package ioback

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

func testPool(t testing.TB) (*uringFS, *ringPool) {
	t.Helper()
	fsys, err := New(KindUring)
	if err != nil {
		if errors.Is(err, ErrNoUring) {
			t.Skipf("io_uring unavailable: %v", err)
		}
		t.Fatal(err)
	}
	u := fsys.(*uringFS)
	return u, u.pool
}

func writeTestFile(t testing.TB, name string, size int) []byte {
	t.Helper()
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(uint64(size), 7))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

// TestRingSetupRefused runs the real pool constructor with io_uring_setup
// failing, as under a seccomp filter (EPERM), on a kernel without it
// (ENOSYS) or out of locked memory (ENOMEM).
func TestRingSetupRefused(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EPERM, syscall.ENOSYS, syscall.ENOMEM, syscall.EINVAL} {
		setupHook = func() error { return errno }
		_, err := newRingPool()
		setupHook = nil
		if !errors.Is(err, ErrNoUring) || !errors.Is(err, errno) {
			t.Errorf("setup failing with %v: pool error %v", errno, err)
		}
	}
}

func TestRingLayout(t *testing.T) {
	_, p := testPool(t)
	r := p.get(true)
	defer p.put(r)
	if r.entries < ringEntries || len(r.sqes) != int(r.entries) || len(r.cqes) < int(r.entries) {
		t.Fatalf("ring has %d entries, %d sqes, %d cqes", r.entries, len(r.sqes), len(r.cqes))
	}
	if !r.fixedFiles || !r.fixedBufs {
		t.Logf("kernel refused registration: files %v, buffers %v", r.fixedFiles, r.fixedBufs)
	}
}

// TestRingPoolContention hammers the pool from many more goroutines than
// rings, mixing single reads and batches, and checks every ring comes back.
func TestRingPoolContention(t *testing.T) {
	defer RingSingleReadsForTesting(true)()
	u, p := testPool(t)
	name := filepath.Join(t.TempDir(), "contend.db")
	data := writeTestFile(t, name, 256*4096)
	f, err := u.Open(name, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			buf := make([]byte, 4096)
			for i := range 100 {
				pg := r.IntN(256)
				if i%4 == 0 {
					reqs := make([]Read, 1+r.IntN(2*ringEntries))
					for k := range reqs {
						reqs[k] = Read{P: make([]byte, 4096), Off: int64((pg+k)%256) * 4096}
					}
					if err := f.ReadBatch(reqs); err != nil {
						t.Error(err)
						return
					}
					for k, q := range reqs {
						o := (pg + k) % 256 * 4096
						if !bytes.Equal(q.P, data[o:o+4096]) {
							t.Errorf("batch read %d wrong", k)
							return
						}
					}
					continue
				}
				if n, err := f.ReadAt(buf, int64(pg)*4096); n != 4096 || err != nil {
					t.Errorf("ReadAt = %d, %v", n, err)
					return
				}
				if !bytes.Equal(buf, data[pg*4096:pg*4096+4096]) {
					t.Error("read wrong bytes")
					return
				}
			}
		}()
	}
	wg.Wait()
	p.mu.Lock()
	rings := len(p.rings)
	p.mu.Unlock()
	if rings > p.max {
		t.Fatalf("%d rings, max %d", rings, p.max)
	}
	if len(p.free) != rings {
		t.Fatalf("%d of %d rings back in the pool", len(p.free), rings)
	}
	t.Logf("%d rings (max %d)", rings, p.max)
}

// TestRegisteredFiles checks the file table follows opens and closes, that
// a reused slot reads the new file, and that a ring created after a file
// was opened has it registered.
func TestRegisteredFiles(t *testing.T) {
	defer RingSingleReadsForTesting(true)()
	u, p := testPool(t)
	dir := t.TempDir()
	a := filepath.Join(dir, "a.db")
	b := filepath.Join(dir, "b.db")
	da := writeTestFile(t, a, 8192)
	db := writeTestFile(t, b, 8192+1)

	fa, err := u.open(a, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if fa.slot < 0 {
		t.Skip("no registered-file slot (kernel refused the table)")
	}
	p.mu.Lock()
	if p.files[fa.slot] != int32(fa.fd) {
		t.Fatalf("slot %d holds %d, want fd %d", fa.slot, p.files[fa.slot], fa.fd)
	}
	p.mu.Unlock()
	slot := fa.slot
	if err := fa.Close(); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	if p.files[slot] != -1 {
		t.Fatalf("slot %d holds %d after close", slot, p.files[slot])
	}
	p.mu.Unlock()

	// The slot (and probably the descriptor number) is reused by b.
	fb, err := u.open(b, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	if fb.slot != slot {
		t.Logf("b got slot %d, a had %d", fb.slot, slot)
	}
	got := make([]byte, 4096)
	if _, err := fb.ReadAt(got, 4096); err != nil || !bytes.Equal(got, db[4096:8192]) {
		t.Fatalf("read through reused slot: %v", err)
	}

	// Hold every ring so the next read has to grow the pool; the new ring
	// must know b.
	var held []*ring
	for {
		select {
		case r := <-p.free:
			held = append(held, r)
			continue
		default:
		}
		break
	}
	p.mu.Lock()
	canGrow := len(p.rings) < p.max && !p.growFailed
	before := len(p.rings)
	p.mu.Unlock()
	if canGrow {
		if _, err := fb.ReadAt(got, 0); err != nil || !bytes.Equal(got, db[:4096]) {
			t.Fatalf("read through a new ring: %v", err)
		}
		p.mu.Lock()
		if len(p.rings) != before+1 {
			t.Errorf("pool did not grow: %d rings, was %d", len(p.rings), before)
		}
		p.mu.Unlock()
	} else {
		// The pool is full: adopt a ring by hand, read through it with
		// the registered slot, and take it out again.
		r, err := newRing(ringEntries)
		if err != nil {
			t.Fatal(err)
		}
		p.mu.Lock()
		p.adopt(r)
		p.mu.Unlock()
		if r.fixedFiles {
			r.prepRead(fb.slot, true, got, 0, -1, 0)
			if err := r.submitAndWait(1); err != nil {
				t.Fatal(err)
			}
			if _, res := r.reap(); res != 4096 || !bytes.Equal(got, db[:4096]) {
				t.Fatalf("read through an adopted ring: %d", res)
			}
		}
		p.mu.Lock()
		p.rings = p.rings[:len(p.rings)-1]
		p.mu.Unlock()
		r.close()
	}
	for _, r := range held {
		p.put(r)
	}

	// Many files at once get distinct slots, all released on close.
	var files []*uringFile
	seen := map[int32]bool{}
	for range 40 {
		f, err := u.open(a, 0, true)
		if err != nil {
			t.Fatal(err)
		}
		if f.slot >= 0 && seen[f.slot] {
			t.Fatalf("slot %d handed out twice", f.slot)
		}
		seen[f.slot] = true
		files = append(files, f)
	}
	for _, f := range files {
		if _, err := f.ReadAt(got, 0); err != nil || !bytes.Equal(got, da[:4096]) {
			t.Fatalf("read: %v", err)
		}
		f.Close()
	}
	p.mu.Lock()
	for s := range seen {
		if s >= 0 && p.files[s] != -1 {
			t.Errorf("slot %d still holds %d", s, p.files[s])
		}
	}
	p.mu.Unlock()
}

// TestArenaFixedReads checks that reads into a registered arena are
// recognised as fixed-buffer reads and return the right bytes.
func TestArenaFixedReads(t *testing.T) {
	defer RingSingleReadsForTesting(true)()
	u, p := testPool(t)
	name := filepath.Join(t.TempDir(), "arena.db")
	data := writeTestFile(t, name, 64*4096)
	a, err := u.NewArena(128 * 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if !a.Fixed() {
		t.Skip("kernel refused to register the arena (RLIMIT_MEMLOCK or < 5.19)")
	}
	mem := a.Bytes()
	if idx := p.fixedBuf(mem[4096:8192]); idx < 0 {
		t.Fatal("arena page not recognised as a registered buffer")
	}
	if idx := p.fixedBuf(make([]byte, 4096)); idx >= 0 {
		t.Fatal("heap buffer taken for a registered one")
	}
	f, err := u.Open(name, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := range 64 {
		dst := mem[i*4096 : (i+1)*4096]
		if n, err := f.ReadAt(dst, int64(63-i)*4096); n != 4096 || err != nil {
			t.Fatalf("fixed ReadAt = %d, %v", n, err)
		}
		if !bytes.Equal(dst, data[(63-i)*4096:(64-i)*4096]) {
			t.Fatalf("fixed read %d wrong", i)
		}
	}
	reqs := make([]Read, 64)
	for i := range reqs {
		reqs[i] = Read{P: mem[(64+i)*4096 : (65+i)*4096], Off: int64(i) * 4096}
	}
	if err := f.ReadBatch(reqs); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mem[64*4096:], data) {
		t.Fatal("fixed batch read wrong")
	}
	// Across EOF into the arena.
	if n, err := f.ReadAt(mem[:8192], 63*4096); n != 4096 || err != io.EOF {
		t.Fatalf("fixed read across EOF = %d, %v", n, err)
	}
	// A second arena gets other slots; closing frees them.
	b, err := u.NewArena(4096)
	if err != nil {
		t.Fatal(err)
	}
	if bi, ai := p.fixedBuf(b.Bytes()), p.fixedBuf(mem); bi < 0 || bi == ai {
		t.Fatalf("second arena slot %d, first %d", bi, ai)
	}
	bmem := b.Bytes()
	b.Close()
	if p.fixedBuf(bmem) >= 0 {
		t.Fatal("closed arena still registered")
	}
}

func TestBufSlotAlloc(t *testing.T) {
	var p ringPool
	a, ok := p.allocBufSlots(3)
	b, ok2 := p.allocBufSlots(bufSlots - 3)
	if !ok || !ok2 || a != 0 || b != 3 {
		t.Fatalf("alloc = %d %v, %d %v", a, ok, b, ok2)
	}
	if _, ok := p.allocBufSlots(1); ok {
		t.Fatal("allocated from a full table")
	}
	p.freeBufSlots(1, 1)
	if s, ok := p.allocBufSlots(1); !ok || s != 1 {
		t.Fatalf("realloc = %d %v", s, ok)
	}
}
