package iouringvfs

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// r7PoolDups reports whether a chunk is listed twice in the pool (given
// back twice: two later files would share it).
func r7PoolDups() bool {
	tempPool.mu.Lock()
	defer tempPool.mu.Unlock()
	seen := map[*[tempChunk]byte]bool{}
	for _, b := range tempPool.free {
		if seen[b] {
			return true
		}
		seen[b] = true
	}
	return false
}

// TestReview7TempNoDoublePut: Truncate then Close, Close twice, Truncate
// below zero-chunk sizes, writes after Close: no chunk is given back twice,
// and a file used after Close (SQLite never does, but a reopened handle
// might) neither sees stale bytes nor shares memory with another file.
func TestReview7TempNoDoublePut(t *testing.T) {
	tempPoisonPool(t)
	tempPool.mu.Lock()
	clear(tempPool.free)
	tempPool.free = tempPool.free[:0]
	tempPool.mu.Unlock()

	data := bytes.Repeat([]byte{7}, 3*tempChunk+100)
	f := newTempFile()
	tempMustWrite(t, f, data, 0)
	for _, size := range []int64{3*tempChunk + 50, 3 * tempChunk, 2*tempChunk + 1, tempChunk, 1, 0, 0} {
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		if r7PoolDups() {
			t.Fatalf("Truncate(%d) gave a chunk back twice", size)
		}
		if sz, _ := f.Size(); sz != size {
			t.Fatalf("Size after Truncate(%d) = %d", size, sz)
		}
	}
	f.Close()
	f.Close()
	if r7PoolDups() {
		t.Fatal("Close after Truncate(0), or a second Close, gave a chunk back twice")
	}

	// Use after Close: f starts empty, and another file taking pool
	// chunks does not share them with f.
	g := newTempFile()
	tempMustWrite(t, f, []byte("after close"), 10)
	tempMustWrite(t, g, bytes.Repeat([]byte{9}, 2*tempChunk), 0)
	tempWantZeros(t, "f's gap after Close", tempMustRead(t, f, 0, 10))
	if got := tempMustRead(t, f, 10, 11); string(got) != "after close" {
		t.Fatalf("f after Close reads %q", got)
	}
	if got := tempMustRead(t, g, 0, 2*tempChunk); !bytes.Equal(got, bytes.Repeat([]byte{9}, 2*tempChunk)) {
		t.Fatal("g's bytes changed by f")
	}
	f.Close()
	g.Close()
	if r7PoolDups() {
		t.Fatal("a chunk was given back twice")
	}
}

// TestReview7TempModelTruncate compares tempFile with a byte-slice model
// under random writes, truncates (down, up, to chunk boundaries, to the
// same size) and reads, with a poisoned pool and a second file churning
// chunks through it.
func TestReview7TempModelTruncate(t *testing.T) {
	tempPoisonPool(t)
	r := rand.New(rand.NewPCG(7, 7))
	f, other := newTempFile(), newTempFile()
	var model []byte
	sizes := func() int64 {
		switch r.IntN(5) {
		case 0:
			return int64(r.IntN(4)) * tempChunk
		case 1:
			return int64(r.IntN(4))*tempChunk + int64(r.IntN(3)) - 1
		case 2:
			return int64(len(model))
		}
		return int64(r.IntN(4 * tempChunk))
	}
	for step := range 3000 {
		switch r.IntN(4) {
		case 0:
			off := max(sizes(), 0)
			p := make([]byte, r.IntN(tempChunk+10))
			for i := range p {
				p[i] = byte(r.IntN(255) + 1)
			}
			tempMustWrite(t, f, p, off)
			if need := int(off) + len(p); need > len(model) {
				model = append(model, make([]byte, need-len(model))...)
			}
			copy(model[off:], p)
		case 1:
			size := max(sizes(), 0)
			if err := f.Truncate(size); err != nil {
				t.Fatal(err)
			}
			if int(size) <= len(model) {
				model = model[:size]
			} else {
				model = append(model, make([]byte, int(size)-len(model))...)
			}
		case 2:
			// another file takes chunks from, and gives them to, the pool
			tempMustWrite(t, other, bytes.Repeat([]byte{0xEE}, r.IntN(3*tempChunk)), 0)
			if r.IntN(2) == 0 {
				other.Close()
			} else {
				other.Truncate(int64(r.IntN(tempChunk)))
			}
		case 3:
			off := int64(r.IntN(len(model) + 1))
			n := r.IntN(len(model) - int(off) + 1)
			got := tempMustRead(t, f, off, n)
			if !bytes.Equal(got, model[off:int(off)+n]) {
				t.Fatalf("step %d: ReadAt(%d, %d) differs from the model at %d", step, n, off, firstDiff(got, model[off:int(off)+n]))
			}
		}
		if sz, _ := f.Size(); sz != int64(len(model)) {
			t.Fatalf("step %d: size %d, model %d", step, sz, len(model))
		}
		if r7PoolDups() {
			t.Fatalf("step %d: a chunk is in the pool twice", step)
		}
	}
	f.Close()
	other.Close()
}
