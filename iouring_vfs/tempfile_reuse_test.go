package iouringvfs

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

const tempPoison = 0xA5

// tempPoisonPool empties the shared chunk pool and refills it to its bound
// with chunks full of tempPoison, so the next files are built from stale
// memory. It returns the chunks it put there.
func tempPoisonPool(t *testing.T) []*[tempChunk]byte {
	t.Helper()
	var put []*[tempChunk]byte
	tempPool.mu.Lock()
	clear(tempPool.free)
	tempPool.free = tempPool.free[:0]
	for range tempPoolMax / tempChunk {
		b := new([tempChunk]byte)
		for i := range b {
			b[i] = tempPoison
		}
		tempPool.free = append(tempPool.free, b)
		put = append(put, b)
	}
	tempPool.mu.Unlock()
	return put
}

func tempPoolLen() int {
	tempPool.mu.Lock()
	defer tempPool.mu.Unlock()
	return len(tempPool.free)
}

func tempMustRead(t *testing.T, f *tempFile, off int64, n int) []byte {
	t.Helper()
	p := make([]byte, n)
	got, err := f.ReadAt(p, off)
	if err != nil {
		t.Fatalf("ReadAt(%d, %d): %v", n, off, err)
	}
	if got != n {
		t.Fatalf("ReadAt(%d, %d) = %d, want a full read", n, off, got)
	}
	return p
}

func tempMustWrite(t *testing.T, f *tempFile, p []byte, off int64) {
	t.Helper()
	if err := f.WriteAt(p, off); err != nil {
		t.Fatalf("WriteAt(%d, %d): %v", len(p), off, err)
	}
}

func tempWantZeros(t *testing.T, what string, p []byte) {
	t.Helper()
	for i, b := range p {
		if b != 0 {
			t.Fatalf("%s: byte %d of %d is %#x, want zeros", what, i, len(p), b)
		}
	}
}

// TestTempReuseNoStaleData builds files from chunks full of stale bytes and
// checks that no region the new file never wrote shows them: the head of a
// chunk before the first write, gaps between writes in one chunk, the tail
// of the last chunk up to the file's size, and whole chunks skipped over.
func TestTempReuseNoStaleData(t *testing.T) {
	poisoned := tempPoisonPool(t)
	f := newTempFile()
	defer f.Close()
	data := bytes.Repeat([]byte{0x5A}, 100)

	tempMustWrite(t, f, data, 1000)                 // chunk 0: [1000,1100)
	tempMustWrite(t, f, data, 5000)                 // chunk 0: gap [1100,5000)
	tempMustWrite(t, f, data, 3*tempChunk+7)        // chunks 1 and 2 skipped, chunk 3 head
	tempMustWrite(t, f, data[:10], 3*tempChunk+500) // gap in chunk 3
	tempMustWrite(t, f, data[:1], 2)                // write below hi: keeps [3,1000) zero
	size := int64(3*tempChunk + 510)

	if s, _ := f.Size(); s != size {
		t.Fatalf("size %d, want %d", s, size)
	}
	// Make sure the file really got poisoned chunks, or the test proves
	// nothing (other tests running beside this one may take some).
	reused := 0
	for _, part := range f.chunks {
		for _, b := range poisoned {
			if part.buf == b {
				reused++
			}
		}
	}
	if reused == 0 {
		t.Fatal("no chunk came from the pool")
	}

	all := tempMustRead(t, f, 0, int(size))
	want := make([]byte, size)
	copy(want[1000:], data)
	copy(want[5000:], data)
	copy(want[3*tempChunk+7:], data)
	copy(want[3*tempChunk+500:], data[:10])
	want[2] = 0x5A
	if i := firstDiff(all, want); i >= 0 {
		t.Fatalf("byte %d = %#x, want %#x", i, all[i], want[i])
	}
	// Short reads: the count stops at the end of the file and p past it is
	// left alone (the bridge zero-fills it and reports the short read).
	p := bytes.Repeat([]byte{0xEE}, 64)
	n, err := f.ReadAt(p, size-10)
	if err != nil || n != 10 {
		t.Fatalf("ReadAt across the end = %d, %v; want 10", n, err)
	}
	if !bytes.Equal(p[:10], data[:10]) {
		t.Fatalf("ReadAt across the end read %x", p[:10])
	}
	if !bytes.Equal(p[10:], bytes.Repeat([]byte{0xEE}, 54)) {
		t.Fatal("ReadAt wrote past the end of the file")
	}
	if n, err := f.ReadAt(p, size+100); n != 0 || err != nil {
		t.Fatalf("ReadAt past the end = %d, %v; want 0", n, err)
	}
	// Extending by Truncate exposes only zeros, in the partly written last
	// chunk and in new ones.
	if err := f.Truncate(size + 2*tempChunk); err != nil {
		t.Fatal(err)
	}
	tempWantZeros(t, "extended by Truncate", tempMustRead(t, f, size, 2*tempChunk))
}

// TestTempTruncateThenExtendZeros writes, truncates into the middle of a
// chunk and below whole chunks, then extends again by write and by
// Truncate: every byte past the truncation that was not written again
// reads as zero, though the chunks still (or again) hold the old bytes.
func TestTempTruncateThenExtendZeros(t *testing.T) {
	tempPoisonPool(t)
	for _, cut := range []int64{0, 1, 4096, tempChunk - 1, tempChunk, tempChunk + 12345, 3 * tempChunk} {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			f := newTempFile()
			defer f.Close()
			old := bytes.Repeat([]byte{0x77}, 4*tempChunk)
			tempMustWrite(t, f, old, 0)
			if err := f.Truncate(cut); err != nil {
				t.Fatal(err)
			}
			if s, _ := f.Size(); s != cut {
				t.Fatalf("size %d after Truncate(%d)", s, cut)
			}
			if n, _ := f.ReadAt(make([]byte, 10), cut); n != 0 {
				t.Fatalf("read %d bytes past the truncated end", n)
			}
			// Extend by a small write well past the cut.
			end := int64(4*tempChunk + 100)
			tempMustWrite(t, f, []byte{1, 2, 3}, end-3)
			got := tempMustRead(t, f, 0, int(end))
			if i := firstDiff(got[:cut], old[:cut]); i >= 0 {
				t.Fatalf("kept byte %d = %#x", i, got[i])
			}
			tempWantZeros(t, "between the cut and the new write", got[cut:end-3])
			if !bytes.Equal(got[end-3:], []byte{1, 2, 3}) {
				t.Fatalf("new write reads %v", got[end-3:])
			}
			// Truncate again and extend by Truncate alone.
			if err := f.Truncate(cut); err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(end); err != nil {
				t.Fatal(err)
			}
			tempWantZeros(t, "extended by Truncate", tempMustRead(t, f, cut, int(end-cut)))
		})
	}
}

// TestTempPoolBound checks that closing or truncating big files keeps at
// most tempPoolMax bytes of chunks for later files, and that those chunks
// are used again.
func TestTempPoolBound(t *testing.T) {
	const max = tempPoolMax / tempChunk
	tempPool.mu.Lock()
	clear(tempPool.free)
	tempPool.free = tempPool.free[:0]
	tempPool.mu.Unlock()

	big := make([]byte, 3*tempPoolMax)
	f := newTempFile()
	tempMustWrite(t, f, big, 0)
	if n := tempPoolLen(); n != 0 {
		t.Fatalf("pool holds %d chunks while the file is open", n)
	}
	if err := f.Truncate(tempPoolMax / 2); err != nil {
		t.Fatal(err)
	}
	if n := tempPoolLen(); n != max {
		t.Fatalf("pool holds %d chunks after a big truncation, want %d", n, max)
	}
	if len(f.chunks) != tempPoolMax/2/tempChunk {
		t.Fatalf("file keeps %d chunks for %d bytes", len(f.chunks), tempPoolMax/2)
	}
	f.Close()
	if n := tempPoolLen(); n != max {
		t.Fatalf("pool holds %d chunks, want at most %d", n, max)
	}

	// A second Close gives nothing back twice.
	tempPool.mu.Lock()
	tempPool.free = tempPool.free[:0]
	tempPool.mu.Unlock()
	s := newTempFile()
	tempMustWrite(t, s, make([]byte, 3*tempChunk), 0)
	s.Close()
	s.Close()
	if n := tempPoolLen(); n != 3 {
		t.Fatalf("pool holds %d chunks after closing a 3-chunk file twice", n)
	}

	// Several big files closed one after another never grow the pool
	// past its bound.
	for range 3 {
		g := newTempFile()
		tempMustWrite(t, g, big, 0)
		g.Close()
		if n := tempPoolLen(); n > max {
			t.Fatalf("pool holds %d chunks, bound %d", n, max)
		}
	}

	// A new file takes its chunks from the pool: no chunk is handed out
	// twice, and the pool shrinks by what the file took.
	tempPool.mu.Lock()
	inPool := map[*[tempChunk]byte]bool{}
	for _, b := range tempPool.free {
		if inPool[b] {
			tempPool.mu.Unlock()
			t.Fatal("a chunk is in the pool twice")
		}
		inPool[b] = true
	}
	tempPool.mu.Unlock()
	h := newTempFile()
	defer h.Close()
	tempMustWrite(t, h, make([]byte, 10*tempChunk), 0)
	for i, part := range h.chunks {
		if !inPool[part.buf] {
			t.Fatalf("chunk %d is new though the pool had chunks", i)
		}
	}
	if n := tempPoolLen(); n != max-10 {
		t.Fatalf("pool holds %d chunks after a 10-chunk file, want %d", n, max-10)
	}
}

// TestTempReuseModel runs random writes, truncations and reads on files
// built from stale chunks and compares every read with a plain byte slice.
func TestTempReuseModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		tempPoisonPool(t)
		f := newTempFile()
		tempModelSteps(t, r, f, 400, fmt.Sprintf("round %d", round))
		f.Close()
	}
}

// tempModelSteps runs random writes, truncations (shrinking or growing)
// and reads, possibly past the end, on f, an empty file, and checks every
// read and size against a plain byte slice.
func tempModelSteps(t *testing.T, r *rand.Rand, f *tempFile, steps int, what string) {
	t.Helper()
	var model []byte
	for step := range steps {
		switch op := r.IntN(10); {
		case op < 5:
			off := r.Int64N(5 * tempChunk)
			n := 1 + r.IntN(3*tempChunk/2)
			if r.IntN(4) == 0 {
				n = 1 + r.IntN(600)
			}
			p := make([]byte, n)
			for i := range p {
				p[i] = byte(r.IntN(255) + 1)
			}
			tempMustWrite(t, f, p, off)
			if end := off + int64(n); end > int64(len(model)) {
				model = append(model, make([]byte, end-int64(len(model)))...)
			}
			copy(model[off:], p)
		case op < 7:
			size := r.Int64N(6 * tempChunk)
			if err := f.Truncate(size); err != nil {
				t.Fatal(err)
			}
			if size < int64(len(model)) {
				model = model[:size]
			} else {
				model = append(model, make([]byte, size-int64(len(model)))...)
			}
		default:
			off := r.Int64N(int64(len(model)) + 2*tempChunk + 1)
			n := r.IntN(2*tempChunk + 1)
			p := bytes.Repeat([]byte{0xEE}, n)
			got, err := f.ReadAt(p, off)
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			if off < int64(len(model)) {
				want = min(n, len(model)-int(off))
			}
			if got != want {
				t.Fatalf("%s step %d (on disk: %v): ReadAt(%d, %d) = %d, want %d", what, step, f.disk != nil, n, off, got, want)
			}
			if want > 0 {
				if i := firstDiff(p[:got], model[off:off+int64(got)]); i >= 0 {
					t.Fatalf("%s step %d (on disk: %v): ReadAt(%d, %d): byte %d = %#x, want %#x", what, step, f.disk != nil, n, off, i, p[i], model[off+int64(i)])
				}
			}
			if !bytes.Equal(p[got:], bytes.Repeat([]byte{0xEE}, n-got)) {
				t.Fatalf("%s step %d: ReadAt wrote past the end of the file", what, step)
			}
		}
		if s, _ := f.Size(); s != int64(len(model)) {
			t.Fatalf("%s step %d: size %d, want %d", what, step, s, len(model))
		}
	}
}

// TestTempReuseConcurrentFiles runs files on several goroutines at once,
// as several connections do, all sharing the chunk pool; each checks its
// own contents (run with -race).
func TestTempReuseConcurrentFiles(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 30 {
				f := newTempFile()
				v := byte(g*31 + round + 1)
				n := (1 + (g+round)%5) * tempChunk
				// Sequential page writes with a one-page hole.
				page := bytes.Repeat([]byte{v}, 4096)
				for off := 0; off < n; off += 4096 {
					if off == 8192 {
						continue
					}
					if err := f.WriteAt(page, int64(off)); err != nil {
						errs <- err
						return
					}
				}
				p := make([]byte, n)
				if got, _ := f.ReadAt(p, 0); got != n {
					errs <- fmt.Errorf("goroutine %d: read %d of %d", g, got, n)
					return
				}
				for i, b := range p {
					want := v
					if i >= 8192 && i < 8192+4096 {
						want = 0
					}
					if b != want {
						errs <- fmt.Errorf("goroutine %d round %d: byte %d = %#x, want %#x", g, round, i, b, want)
						return
					}
				}
				f.Truncate(int64(n / 2))
				f.Close()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestTempReuseSQL runs what spills to temp files (an ORDER BY too big for
// the sorter's memory, CREATE INDEX, a temp table, VACUUM) several times
// over, on a pool of stale chunks and on the chunks each run frees, and
// checks the results.
func TestTempReuseSQL(t *testing.T) {
	tempPoisonPool(t)
	c := openConn(t, dbPath(t), "")
	c.exec("PRAGMA temp_store=FILE")
	c.exec("PRAGMA cache_size=20")
	c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT NOT NULL, pad TEXT NOT NULL)")
	c.exec(`WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 20000)
		INSERT INTO t SELECT x, hex(randomblob(8)), hex(randomblob(60)) FROM c`)
	for round := range 3 {
		// Sorted order checked by a window function over the sorted rows.
		bad := c.int(`SELECT count(*) FROM (SELECT k, lag(k) OVER (ORDER BY k) AS prev FROM t ORDER BY k) WHERE prev > k`)
		if bad != 0 {
			t.Fatalf("round %d: %d rows out of order", round, bad)
		}
		if n := c.int("SELECT count(*) FROM (SELECT k, pad FROM t ORDER BY k, pad)"); n != 20000 {
			t.Fatalf("round %d: ORDER BY gave %d rows", round, n)
		}
		c.exec("CREATE INDEX t_k ON t(k, pad)")
		if s := c.text("PRAGMA integrity_check"); s != "ok" {
			t.Fatalf("round %d: integrity_check after CREATE INDEX: %s", round, s)
		}
		c.exec("DROP INDEX t_k")
		c.exec("CREATE TEMP TABLE tt AS SELECT * FROM t WHERE id % 3 = 0")
		if n := c.int("SELECT count(*) FROM tt"); n != 6666 {
			t.Fatalf("round %d: temp table has %d rows", round, n)
		}
		if s := c.text("PRAGMA temp.integrity_check"); s != "ok" {
			t.Fatalf("round %d: temp integrity_check: %s", round, s)
		}
		c.exec("DROP TABLE tt")
		c.exec("VACUUM")
		if s := c.text("PRAGMA integrity_check"); s != "ok" {
			t.Fatalf("round %d: integrity_check after VACUUM: %s", round, s)
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}
