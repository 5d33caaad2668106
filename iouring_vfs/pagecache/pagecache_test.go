package pagecache

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
)

func img(k Key, ps int) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("%d/%d;", k.Page, k.Src)), ps)[:ps]
}

func TestLoadGetPutRemove(t *testing.T) {
	c := New(64, 512, nil)
	k := Key{Page: 3, Src: 7}
	dst := make([]byte, 512)
	if c.Get(k, dst) {
		t.Fatal("empty cache hit")
	}
	fills := 0
	fill := func(b []byte) error { fills++; copy(b, img(k, 512)); return nil }
	for range 3 {
		if err := c.Load(k, dst, fill); err != nil || !bytes.Equal(dst, img(k, 512)) {
			t.Fatalf("Load: %v", err)
		}
	}
	if fills != 1 {
		t.Fatalf("%d fills for one key, want 1", fills)
	}
	c.Remove(k)
	if c.Get(k, dst) {
		t.Fatal("hit after Remove")
	}
	k2 := Key{Page: 4}
	c.Put(k2, img(k2, 512))
	if !c.Get(k2, dst) || !bytes.Equal(dst, img(k2, 512)) {
		t.Fatal("Put then Get")
	}
	boom := errors.New("boom")
	if err := c.Load(Key{Page: 9}, dst, func([]byte) error { return boom }); err != boom {
		t.Fatalf("fill error: %v", err)
	}
	if c.Get(Key{Page: 9}, dst) {
		t.Fatal("a failed fill was cached")
	}
	st := c.Stats()
	if st.Hits == 0 || st.Misses == 0 || st.Capacity < 64 {
		t.Fatalf("stats %+v", st)
	}
}

// The cache holds at most its capacity and evicts, never serving an image
// under another key.
func TestEvictionKeepsImagesRight(t *testing.T) {
	c := New(32, 256, nil)
	dst := make([]byte, 256)
	for i := range 1000 {
		k := Key{Page: uint32(i % 200), Src: uint64(i % 3)}
		if err := c.Load(k, dst, func(b []byte) error { copy(b, img(k, 256)); return nil }); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(dst, img(k, 256)) {
			t.Fatalf("key %+v served another image", k)
		}
	}
	if st := c.Stats(); st.Evictions == 0 {
		t.Fatalf("no evictions: %+v", st)
	}
}

// Remove while a load is in flight: the loader serves its caller but does
// not cache the possibly stale image.
func TestRemoveDuringLoad(t *testing.T) {
	c := New(16, 128, nil)
	k := Key{Page: 1}
	dst := make([]byte, 128)
	c.Load(k, dst, func(b []byte) error {
		c.Remove(k)
		copy(b, img(k, 128))
		return nil
	})
	if !bytes.Equal(dst, img(k, 128)) {
		t.Fatal("the loader's caller did not get its image")
	}
	if c.Get(k, dst) {
		t.Fatal("an image removed during its load was cached")
	}
	c.Clear()
}

func TestConcurrentUse(t *testing.T) {
	c := New(64, 128, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst := make([]byte, 128)
			for i := range 2000 {
				k := Key{Page: uint32((i*7 + g) % 300)}
				c.Load(k, dst, func(b []byte) error { copy(b, img(k, 128)); return nil })
				if !bytes.Equal(dst, img(k, 128)) {
					t.Errorf("key %+v served another image", k)
					return
				}
				if i%50 == 0 {
					c.Remove(k)
				}
			}
		}()
	}
	wg.Wait()
}

// A capacity below 1 is raised to the smallest cache, which works: Put,
// Load and Get neither panic nor lose the image they were just given.
func TestCapacityBelowOne(t *testing.T) {
	for _, capacity := range []int{0, -5} {
		c := New(capacity, 512, nil)
		if got := c.Stats().Capacity; got < 1 {
			t.Fatalf("New(%d): capacity %d, want at least 1", capacity, got)
		}
		k := Key{Page: 9, Src: 1}
		dst := make([]byte, 512)
		c.Put(k, img(k, 512))
		if !c.Get(k, dst) || !bytes.Equal(dst, img(k, 512)) {
			t.Fatalf("New(%d): Put then Get missed", capacity)
		}
		k2 := Key{Page: 10, Src: 1}
		if err := c.Load(k2, dst, func(b []byte) error { copy(b, img(k2, 512)); return nil }); err != nil || !bytes.Equal(dst, img(k2, 512)) {
			t.Fatalf("New(%d): Load: %v", capacity, err)
		}
	}
}

// keysAfter names the n images that follow page p in source src.
func keysAfter(p uint32, src uint64, n int) []Key {
	var ks []Key
	for i := range n {
		ks = append(ks, Key{Page: p + 1 + uint32(i), Src: src})
	}
	return ks
}

// fillRun fills bufs with the images of first and the keys after it, up to
// max of them, and records what it was asked for.
func fillRun(first Key, next []Key, max int, asked *int) func([][]byte) (int, error) {
	return func(bufs [][]byte) (int, error) {
		*asked = len(bufs)
		n := min(len(bufs), max)
		for i := range n {
			k := first
			if i > 0 {
				k = next[i-1]
			}
			copy(bufs[i], img(k, len(bufs[i])))
		}
		return n, nil
	}
}

func TestLoadAhead(t *testing.T) {
	const ps = 256
	c := New(1024, ps, nil)
	dst := make([]byte, ps)
	k := Key{Page: 10, Src: 1}
	next := keysAfter(10, 1, 8)
	var asked int
	if err := c.LoadAhead(k, dst, func() []Key { return next }, fillRun(k, next, 9, &asked)); err != nil || !bytes.Equal(dst, img(k, ps)) {
		t.Fatalf("LoadAhead: %v", err)
	}
	if asked != 9 {
		t.Fatalf("fill was given %d buffers, want 9", asked)
	}
	for _, q := range next {
		if !c.Get(q, dst) || !bytes.Equal(dst, img(q, ps)) {
			t.Fatalf("%+v was not read ahead", q)
		}
	}
	if st := c.Stats(); st.ReadAhead != 8 {
		t.Fatalf("stats %+v, want 8 read ahead", st)
	}

	// A hit reads nothing and does not ask for the keys that follow.
	if err := c.LoadAhead(k, dst, func() []Key { t.Fatal("next called on a hit"); return nil }, nil); err != nil || !bytes.Equal(dst, img(k, ps)) {
		t.Fatalf("LoadAhead hit: %v", err)
	}

	// Read ahead stops before an image already cached; images fill did not
	// read are not cached.
	k = Key{Page: 100}
	next = keysAfter(100, 0, 8)
	c.Put(next[5], img(next[5], ps))
	if err := c.LoadAhead(k, dst, func() []Key { return next }, fillRun(k, next, 3, &asked)); err != nil || !bytes.Equal(dst, img(k, ps)) {
		t.Fatalf("LoadAhead: %v", err)
	}
	if asked != 6 {
		t.Fatalf("fill was given %d buffers, want 6 (stopping at the cached image)", asked)
	}
	for i, q := range next {
		if got := c.Get(q, dst); got != (i < 2 || i == 5) {
			t.Errorf("image %d after the first: cached %v", i+1, got)
		}
	}

	// An error for the first image caches nothing and is returned.
	boom := errors.New("boom")
	k = Key{Page: 200}
	next = keysAfter(200, 0, 4)
	if err := c.LoadAhead(k, dst, func() []Key { return next }, func([][]byte) (int, error) { return 0, boom }); err != boom {
		t.Fatalf("LoadAhead with a failing fill: %v", err)
	}
	if err := c.LoadAhead(k, dst, func() []Key { return next }, func([][]byte) (int, error) { return 0, nil }); err == nil {
		t.Fatal("LoadAhead with a fill that read nothing: no error")
	}
	for _, q := range append(next, k) {
		if c.Get(q, dst) {
			t.Fatalf("%+v cached after a failed fill", q)
		}
	}
}

// Remove of an image being read ahead (a checkpoint rewrote the page)
// keeps the possibly stale image out of the cache, as for Load.
func TestRemoveDuringLoadAhead(t *testing.T) {
	const ps = 128
	c := New(256, ps, nil)
	k := Key{Page: 1}
	next := keysAfter(1, 0, 4)
	dst := make([]byte, ps)
	var asked int
	fill := fillRun(k, next, 5, &asked)
	err := c.LoadAhead(k, dst, func() []Key { return next }, func(bufs [][]byte) (int, error) {
		c.Remove(k)
		c.Remove(next[2])
		return fill(bufs)
	})
	if err != nil || !bytes.Equal(dst, img(k, ps)) {
		t.Fatalf("LoadAhead: %v", err)
	}
	for i, q := range append([]Key{k}, next...) {
		if got := c.Get(q, dst); got != (i != 0 && i != 3) {
			t.Errorf("image %d: cached %v", i, got)
		}
	}
	// No slot is left loading: the abandoned ones are free again.
	for i := range c.shards {
		for j, sl := range c.shards[i].slots {
			if sl.state == slotLoading || sl.abandoned {
				t.Errorf("shard %d slot %d left %+v", i, j, sl)
			}
		}
	}
}

// Read ahead takes at most a sixteenth of the cache, so that one reader's
// sequential scan cannot flush it.
func TestLoadAheadIsBounded(t *testing.T) {
	const ps = 64
	c := New(256, ps, nil)
	k := Key{Page: 1}
	next := keysAfter(1, 0, 100)
	var asked int
	if err := c.LoadAhead(k, make([]byte, ps), func() []Key { return next }, fillRun(k, next, 101, &asked)); err != nil {
		t.Fatal(err)
	}
	if asked != 1+256/16 {
		t.Fatalf("fill was given %d buffers, want %d", asked, 1+256/16)
	}
}

// Loads, loads ahead and removes at once: every caller gets its image, and
// no image is ever served under another key (run under the race detector).
func TestConcurrentLoadAhead(t *testing.T) {
	const ps = 128
	c := New(128, ps, nil)
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst := make([]byte, ps)
			for i := range 1500 {
				k := Key{Page: uint32((i*5 + g*17) % 400)}
				var err error
				if g%2 == 0 {
					next := keysAfter(k.Page, 0, 8)
					var asked int
					err = c.LoadAhead(k, dst, func() []Key { return next }, fillRun(k, next, 1+i%9, &asked))
				} else {
					err = c.Load(k, dst, func(b []byte) error { copy(b, img(k, ps)); return nil })
				}
				if err != nil || !bytes.Equal(dst, img(k, ps)) {
					t.Errorf("key %+v: %v, served another image", k, err)
					return
				}
				for q := range uint32(3) {
					if c.Get(Key{Page: k.Page + q}, dst) && !bytes.Equal(dst, img(Key{Page: k.Page + q}, ps)) {
						t.Errorf("key %+v served another image", Key{Page: k.Page + q})
						return
					}
				}
				if i%7 == 0 {
					c.Remove(Key{Page: k.Page + 2})
				}
			}
		}()
	}
	wg.Wait()
}

// allocated is the memory a cache's shards hold for images.
// allocated is the memory c's images take, checked against c.Stats().
func allocated(t *testing.T, c *Cache) (bytes int) {
	t.Helper()
	for i := range c.shards {
		for _, ch := range c.shards[i].chunks {
			bytes += len(ch)
		}
	}
	if st := c.Stats().Bytes; st != bytes {
		t.Fatalf("Stats().Bytes = %d, but the cache holds %d bytes", st, bytes)
	}
	return bytes
}

// Without an arena, memory comes a chunk at a time as slots are first used:
// a cache of 16 MiB holds none when made and one chunk after one image; a
// full cache holds exactly its capacity. With an arena, images live in it.
func TestMemoryGrowsAsTheCacheFills(t *testing.T) {
	const ps = 4096
	c := New(4096, ps, nil)
	if n := allocated(t, c); n != 0 {
		t.Fatalf("a new cache holds %d bytes", n)
	}
	k := Key{Page: 1}
	c.Put(k, img(k, ps))
	if n := allocated(t, c); n != ps {
		t.Fatalf("after one image the cache holds %d bytes, want one image's (%d)", n, ps)
	}
	dst := make([]byte, ps)
	for p := range uint32(10000) {
		q := Key{Page: p}
		if err := c.Load(q, dst, func(b []byte) error { copy(b, img(q, ps)); return nil }); err != nil || !bytes.Equal(dst, img(q, ps)) {
			t.Fatalf("page %d: %v", p, err)
		}
	}
	if n, want := allocated(t, c), c.Stats().Capacity*ps; n != want {
		t.Fatalf("a full cache holds %d bytes, want %d", n, want)
	}

	// An odd capacity: the last chunk of each shard is partial.
	c = New(16*(chunkSlots+3), 64, nil)
	for p := range uint32(2000) {
		c.Put(Key{Page: p}, img(Key{Page: p}, 64))
	}
	if n, want := allocated(t, c), 16*(chunkSlots+3)*64; n != want {
		t.Fatalf("a full cache of %d slots holds %d bytes, want %d", 16*(chunkSlots+3), n, want)
	}

	arena := make([]byte, ArenaSize(100, 64))
	c = New(100, 64, arena)
	c.Put(k, img(k, 64))
	if !bytes.Contains(arena, img(k, 64)) {
		t.Fatal("the image is not in the arena")
	}
	if n := allocated(t, c); n != len(arena) {
		t.Fatalf("a cache on an arena of %d bytes holds %d", len(arena), n)
	}
}

// chunkAddrs returns the first byte's address of every chunk c holds.
func chunkAddrs(c *Cache) map[*byte]bool {
	m := map[*byte]bool{}
	for i := range c.shards {
		for _, ch := range c.shards[i].chunks {
			if len(ch) > 0 {
				m[&ch[0]] = true
			}
		}
	}
	return m
}

// fillCache loads pages 0..n-1 of source src, each with its own image,
// and checks what comes back.
func fillCache(t *testing.T, c *Cache, n int, src uint64) {
	t.Helper()
	ps := c.PageSize()
	dst := make([]byte, ps)
	for p := range uint32(n) {
		k := Key{Page: p, Src: src}
		if err := c.Load(k, dst, func(b []byte) error { copy(b, img(k, ps)); return nil }); err != nil || !bytes.Equal(dst, img(k, ps)) {
			t.Fatalf("page %d of source %d: %v", p, src, err)
		}
	}
}

// Release empties a cache and hands its memory to the next cache of the
// same page size, which fills without allocating; the released cache
// still works. Caches of another page size, or on an arena (the caller's
// memory), neither take nor give.
func TestReleaseRecyclesMemory(t *testing.T) {
	const ps = 4096
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // a collection or two empties the pool
	a := New(256, ps, nil)
	fillCache(t, a, 1000, 1)
	old := chunkAddrs(a)
	a.Release()
	if n := allocated(t, a); n != 0 {
		t.Fatalf("a released cache holds %d bytes", n)
	}
	dst := make([]byte, ps)
	if a.Get(Key{Page: 5, Src: 1}, dst) {
		t.Fatal("a released cache still serves an image")
	}

	b := New(256, ps, nil)
	fillCache(t, b, 1000, 4)
	// Every chunk but those a P keeps for itself (sync.Pool's private
	// slot, which another P cannot take) comes from a, give or take a
	// few: sync.Pool promises nothing, and under a loaded machine (go test
	// ./... running packages side by side) 4 of 80 were fresh with 2 Ps.
	// A cache that took nothing from the pool allocates all of them. The
	// race detector makes sync.Pool drop items at random.
	fresh := 0
	for p := range chunkAddrs(b) {
		if !old[p] {
			fresh++
		}
	}
	if !raceEnabled && fresh > runtime.GOMAXPROCS(0)+len(old)/10 {
		t.Fatalf("the next cache allocated %d of its %d chunks instead of taking those released", fresh, len(old))
	}
	other := New(256, 2*ps, nil)
	fillCache(t, other, 1000, 2)
	for p := range chunkAddrs(other) {
		if old[p] {
			t.Fatal("a cache of 8 KiB pages took a chunk of 4 KiB pages")
		}
	}
	arena := make([]byte, ArenaSize(256, ps))
	ac := New(256, ps, arena)
	fillCache(t, ac, 1000, 3)
	ac.Release()
	if n := allocated(t, ac); n != len(arena) {
		t.Fatalf("a cache on an arena holds %d bytes after Release, want the arena's %d", n, len(arena))
	}
	fillCache(t, ac, 1000, 3)

	fillCache(t, a, 1000, 5)
	fillCache(t, b, 1000, 6)
	fillCache(t, a, 1000, 5)
}

// A Release that runs while an image is being loaded leaves the loading
// shard's memory where it is: the loader still writes into it, and no
// other cache may be given it meanwhile.
func TestReleaseDuringLoad(t *testing.T) {
	const ps = 4096
	a := New(256, ps, nil)
	fillCache(t, a, 1000, 1)
	k := Key{Page: 5000, Src: 1}
	started, release := make(chan []byte), make(chan struct{})
	done := make(chan error)
	dst := make([]byte, ps)
	go func() {
		done <- a.Load(k, dst, func(b []byte) error {
			started <- b
			<-release
			copy(b, img(k, ps))
			return nil
		})
	}()
	buf := <-started
	a.Release()
	if allocated(t, a) == 0 {
		t.Fatal("Release freed the memory of the shard being loaded")
	}
	b := New(256, ps, nil)
	fillCache(t, b, 1000, 2)
	kept := chunkAddrs(a)
	for p := range chunkAddrs(b) {
		if kept[p] {
			t.Fatal("another cache was given a chunk of the shard being loaded")
		}
	}
	copy(buf, img(k, ps)) // what the loader writes, while b is in use
	fillCache(t, b, 1000, 2)
	close(release)
	if err := <-done; err != nil || !bytes.Equal(dst, img(k, ps)) {
		t.Fatalf("the load during Release: %v", err)
	}
	if !a.Get(k, dst) || !bytes.Equal(dst, img(k, ps)) {
		t.Fatal("the image loaded during Release is not cached")
	}
	a.Release()
	if n := allocated(t, a); n != 0 {
		t.Fatalf("a second Release, with no load running, left %d bytes", n)
	}
}

// A slot freed by Remove is reused before the cache takes memory for a
// new one: a small, busy database whose images come and go must not grow
// its cache to full size (a tenant of 2 pages held 16 MiB).
func TestFreedSlotsAreReusedBeforeGrowing(t *testing.T) {
	const ps = 512
	c := New(4096, ps, nil)
	for src := range uint64(2000) {
		for p := range uint32(4) {
			k := Key{Page: p, Src: src}
			c.Put(k, img(k, ps))
		}
		for p := range uint32(4) {
			c.Remove(Key{Page: p, Src: src})
		}
	}
	fillCache(t, c, 4, 99999)
	if n, most := allocated(t, c), nShards*chunkSlots*ps; n > most {
		t.Fatalf("a cache that never held more than 4 images at once holds %d bytes (at most one chunk per shard: %d)", n, most)
	}
	// Slots freed by a failed load and by Clear are reused too.
	for src := range uint64(2000) {
		k := Key{Page: 1, Src: 100000 + src}
		if err := c.Load(k, make([]byte, ps), func([]byte) error { return errors.New("no") }); err == nil {
			t.Fatal("a failed fill succeeded")
		}
		c.Put(k, img(k, ps))
		if src%7 == 0 {
			c.Clear()
		}
		c.Remove(k)
	}
	if n, most := allocated(t, c), nShards*chunkSlots*ps; n > most {
		t.Fatalf("after failed loads and clears the cache holds %d bytes, want at most %d", n, most)
	}
	fillCache(t, c, 3000, 7)
	if st := c.Stats(); st.Evictions != 0 {
		t.Fatalf("%d evictions filling 3000 of 4096 slots", st.Evictions)
	}
}

// Every slot of a shard of any size has its own place in exactly one
// chunk, the chunks cover the shard's slots exactly, and a shard's first
// images take one image's memory each, not a whole chunk.
func TestChunkLayout(t *testing.T) {
	for size := 1; size <= 70; size++ {
		seen := map[[2]int]bool{}
		total := 0
		for k := range numChunks(size) {
			n := chunkLen(k, size)
			if n < 1 || n > chunkSlots {
				t.Fatalf("size %d: chunk %d holds %d slots", size, k, n)
			}
			total += n
		}
		if total != size {
			t.Fatalf("size %d: the chunks hold %d slots", size, total)
		}
		for i := range size {
			k, off := chunkOf(i)
			if k >= numChunks(size) || off < 0 || off >= chunkLen(k, size) || seen[[2]int{k, off}] {
				t.Fatalf("size %d: slot %d at chunk %d offset %d", size, i, k, off)
			}
			seen[[2]int{k, off}] = true
		}
	}
	c := New(4096, 512, nil)
	for p := range uint32(3) {
		c.Put(Key{Page: p}, img(Key{Page: p}, 512))
	}
	if n := allocated(t, c); n != 3*512 {
		t.Fatalf("3 images take %d bytes", n)
	}
}
