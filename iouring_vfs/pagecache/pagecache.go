// Package pagecache is the bounded page cache an engine shares among all
// connections to one database, in front of the log and the main file, so
// that connections re-reading pages after a commit (SQLite drops its own
// per-connection cache whenever the change counter moves, which is every
// commit) find them in memory instead of asking the kernel.
//
// Entries are immutable page images named by a Key: the page number and the
// source the image came from (a log frame, or the main file). A source's
// bytes never change while its key is in use, so the cache never has to
// decide which of two images is newer; the owner removes main-file entries
// when a checkpoint rewrites those pages.
//
// The cache is split into shards, each a CLOCK ring of fixed slots whose
// images a miss reads straight into. The caller may supply the memory as one
// block (an ioback arena, say, whose lifetime it manages); the engine lets
// New allocate it, as ordinary garbage-collected memory, in chunks as the
// cache fills, so that opening a database does not clear 16 MiB. Release
// hands those chunks to the next cache of the same page size, so a program
// that opens, reads and closes a database again and again does not
// allocate (and the collector does not clear) a cache's worth each time.
package pagecache

import (
	"errors"
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
)

// Key names one page image.
type Key struct {
	Page uint32 // page number
	Src  uint64 // where the image came from; its meaning is the owner's
}

const nShards = 16

// Cache is a sharded CLOCK cache of page images of one size. Its methods are
// safe for concurrent use.
type Cache struct {
	pageSize int
	arena    bool // the images live in the caller's memory
	shards   [nShards]shard

	hits, misses, evictions, readAhead atomic.Uint64
	bytes                              atomic.Int64 // memory of the images held
}

type slotState uint8

const (
	slotFree slotState = iota
	slotLoading
	slotValid
)

type slot struct {
	key       Key
	state     slotState
	ref       bool
	abandoned bool // removed while loading: the loader frees it
}

type shard struct {
	mu    sync.Mutex
	index map[Key]int32
	slots []slot // the slots handed out so far, in order; they grow to size
	size  int    // the shard's slots when full
	// chunks hold the slots' images (see chunkOf), allocated
	// when their first slot is handed out: a cache costs memory (and the
	// time to clear it) as it fills, not when its database opens. The
	// slice grows too, under mu, so a slot's buffer is taken under mu
	// (buf); the memory it hands out does not move, and whoever holds the
	// slot may use it outside mu.
	chunks [][]byte
	hand   int
	// free lists slots freed by Remove, Clear or a failed load, which
	// victim hands out before it grows the shard: images that come and go
	// (a log's frames, dropped at its restart) must not fill the shard
	// with memory for slots that stand empty. An entry may be stale (its
	// slot taken since by the CLOCK sweep); victim skips those.
	free []int32
}

// chunkSlots is the number of slots one chunk of a shard's memory holds,
// past its first chunkSlots slots: those come in chunks of 1, 1, 2 and 4,
// so that a small database, whose few images spread over every shard,
// does not take a whole chunk in each (16 × 8 pages: 512 KiB at 4 KiB).
const (
	chunkShift = 3
	chunkSlots = 1 << chunkShift
	headChunks = chunkShift + 1 // the chunks of the first chunkSlots slots
)

// chunkOf returns the chunk that holds slot i, and i's place in it.
func chunkOf(i int) (k, off int) {
	if i < chunkSlots {
		k = bits.Len(uint(i))
		return k, i - chunkFirst(k)
	}
	return headChunks - 1 + i>>chunkShift, i & (chunkSlots - 1)
}

// chunkFirst returns the first slot of chunk k.
func chunkFirst(k int) int {
	if k < headChunks {
		return 1 << k >> 1
	}
	return (k - headChunks + 1) << chunkShift
}

// chunkLen returns the number of slots of chunk k in a shard of size
// slots.
func chunkLen(k, size int) int {
	n := chunkSlots
	if k < headChunks {
		n = max(1, 1<<k>>1)
	}
	return min(n, size-chunkFirst(k))
}

// numChunks returns the number of chunks of a shard of size slots.
func numChunks(size int) int {
	k, _ := chunkOf(size - 1)
	return k + 1
}

// New returns a cache of at least capacity pages of pageSize bytes, its
// memory taken from arena when arena is large enough (ArenaSize(capacity,
// pageSize) bytes), or else allocated as the cache fills. A capacity below
// 1 is raised to the smallest cache, one page per shard: a shard needs a
// slot to evict into. Callers that want no cache do without one.
func New(capacity, pageSize int, arena []byte) *Cache {
	c := &Cache{pageSize: pageSize}
	per := slotsPerShard(capacity)
	if len(arena) < per*nShards*pageSize {
		arena = nil
	}
	if c.arena = arena != nil; c.arena {
		c.bytes.Store(int64(per * nShards * pageSize))
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.index = make(map[Key]int32) // grows as the cache fills, like its memory
		s.size = per
		if arena != nil {
			s.chunks = make([][]byte, numChunks(per))
			mem := arena[i*per*pageSize : (i+1)*per*pageSize]
			for k := range s.chunks {
				first := chunkFirst(k) * pageSize
				s.chunks[k] = mem[first : first+chunkLen(k, per)*pageSize]
			}
		}
	}
	return c
}

// ArenaSize is the number of bytes New uses for capacity pages of pageSize.
func ArenaSize(capacity, pageSize int) int {
	return slotsPerShard(capacity) * nShards * pageSize
}

// slotsPerShard spreads capacity over the shards, at least one slot each
// and at most as many as a slot number (int32) counts.
func slotsPerShard(capacity int) int {
	per := capacity / nShards
	if capacity%nShards != 0 {
		per++
	}
	return min(max(per, 1), math.MaxInt32)
}

// PageSize is the size of the images the cache holds.
func (c *Cache) PageSize() int { return c.pageSize }

func (c *Cache) shard(k Key) *shard {
	h := uint64(k.Page)*0x9E3779B97F4A7C15 ^ k.Src*0xBF58476D1CE4E5B9
	return &c.shards[(h>>32)%nShards]
}

// buf returns slot i's memory. s.mu is held: the chunk table grows as the
// shard fills (the memory it hands out does not move).
func (s *shard) buf(i int32, pageSize int) []byte {
	k, off := chunkOf(int(i))
	off *= pageSize
	return s.chunks[k][off : off+pageSize : off+pageSize]
}

// Get copies the image named k into dst and reports whether it was cached.
func (c *Cache) Get(k Key, dst []byte) bool {
	s := c.shard(k)
	s.mu.Lock()
	i, ok := s.index[k]
	if ok && s.slots[i].state == slotValid {
		s.slots[i].ref = true
		copy(dst, s.buf(i, c.pageSize))
		s.mu.Unlock()
		c.hits.Add(1)
		return true
	}
	s.mu.Unlock()
	c.misses.Add(1)
	return false
}

// Load copies the image named k into dst, calling fill to read it on a miss.
// fill reads the page into the buffer it is given (a cache slot, or dst
// itself when no slot is free or another goroutine is loading the same key)
// and must not retain it. When fill fails nothing is cached and its error is
// returned.
func (c *Cache) Load(k Key, dst []byte, fill func(buf []byte) error) error {
	s := c.shard(k)
	s.mu.Lock()
	if c.hitLocked(s, k, dst) {
		s.mu.Unlock()
		return nil
	}
	i := c.reserveLocked(s, k)
	var buf []byte
	if i >= 0 {
		buf = s.buf(i, c.pageSize) // under mu: the chunk table may grow
	}
	s.mu.Unlock()
	if i < 0 {
		return fill(dst)
	}
	err := fill(buf)
	s.finish(c, i, err == nil, dst)
	return err
}

// LoadAhead is Load that reads ahead on a miss: next, called only then,
// names the images that follow k in its source, in the order fill reads
// them. LoadAhead takes free slots for the longest prefix of them that is
// neither cached nor being loaded (and at most a sixteenth of the cache),
// and calls fill once with the buffers: bufs[0] for k (a slot, or dst), then
// one slot per image read ahead. fill returns how many of bufs it filled
// from the start, and an error only if it could not fill bufs[0]; the
// images it did not fill are not cached. fill must not retain the buffers,
// nor bufs itself, which LoadAhead reuses; LoadAhead does not retain the
// slice next returns. A checkpoint's Remove of an image being read ahead is
// honoured as in Load: the image is not cached.
func (c *Cache) LoadAhead(k Key, dst []byte, next func() []Key, fill func(bufs [][]byte) (int, error)) error {
	s := c.shard(k)
	s.mu.Lock()
	if c.hitLocked(s, k, dst) {
		s.mu.Unlock()
		return nil
	}
	i := c.reserveLocked(s, k)
	var first []byte
	if i >= 0 {
		first = s.buf(i, c.pageSize) // under mu: the chunk table may grow
	}
	s.mu.Unlock()
	sc := aheadScratchPool.Get().(*aheadScratch)
	defer sc.put()
	if i < 0 {
		sc.bufs = append(sc.bufs[:0], dst)
		_, err := fill(sc.bufs)
		return err
	}
	keys := next()
	keys = keys[:min(len(keys), max(c.shards[0].size*nShards/16, 1))]
	sc.bufs = append(sc.bufs[:0], first)
	sc.ahead = sc.ahead[:0]
	for _, q := range keys {
		qs := c.shard(q)
		qs.mu.Lock()
		j := c.reserveLocked(qs, q)
		var b []byte
		if j >= 0 {
			b = qs.buf(j, c.pageSize)
		}
		qs.mu.Unlock()
		if j < 0 {
			break
		}
		sc.ahead = append(sc.ahead, taken{qs, j})
		sc.bufs = append(sc.bufs, b)
	}
	n, err := fill(sc.bufs)
	if err == nil && n < 1 {
		err = errors.New("pagecache: LoadAhead's fill read nothing and reported no error")
	}
	s.finish(c, i, err == nil, dst)
	for a, t := range sc.ahead {
		t.s.finish(c, t.i, err == nil && a+1 < n, nil)
	}
	if err == nil && n > 1 {
		c.readAhead.Add(uint64(n - 1))
	}
	return err
}

// aheadScratch is LoadAhead's working memory: the buffers it hands to fill
// and the slots it took to read ahead into. A sequential reader calls
// LoadAhead every few pages it reads, and making these anew each call was
// most of the garbage of a blob read (1.4 MB per 16 MiB), so they come
// from aheadScratchPool. Each call takes its own (Get never hands one to
// two callers), and nothing keeps its slices once it is put back: fill
// must not retain bufs.
type aheadScratch struct {
	bufs  [][]byte
	ahead []taken
}

// taken is a slot LoadAhead reserved to read ahead into.
type taken struct {
	s *shard
	i int32
}

var aheadScratchPool = sync.Pool{New: func() any { return new(aheadScratch) }}

// put empties sc, so that the pool does not keep a cache's memory (bufs)
// or the cache itself (ahead's shards) alive, and pools it.
func (sc *aheadScratch) put() {
	clear(sc.bufs)
	clear(sc.ahead)
	sc.bufs, sc.ahead = sc.bufs[:0], sc.ahead[:0]
	aheadScratchPool.Put(sc)
}

// hitLocked copies k's image into dst if it is cached, and counts the hit
// or the miss. s.mu is held.
func (c *Cache) hitLocked(s *shard, k Key, dst []byte) bool {
	if i, ok := s.index[k]; ok && s.slots[i].state == slotValid {
		s.slots[i].ref = true
		copy(dst, s.buf(i, c.pageSize))
		c.hits.Add(1)
		return true
	}
	c.misses.Add(1)
	return false
}

// reserveLocked takes a slot to load k into, or returns -1 when k is cached
// or being loaded (Load and LoadAhead look for a hit first), or when every
// slot is being loaded. s.mu is held.
func (c *Cache) reserveLocked(s *shard, k Key) int32 {
	if _, loading := s.index[k]; loading {
		return -1
	}
	i := s.victim(c)
	if i >= 0 {
		s.slots[i] = slot{key: k, state: slotLoading}
		s.index[k] = i
	}
	return i
}

// finish ends the load into slot i: the image is cached if ok and nobody
// removed it meanwhile, and copied into dst (if not nil) if ok.
func (s *shard) finish(c *Cache, i int32, ok bool, dst []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl := &s.slots[i]
	if ok && dst != nil {
		copy(dst, s.buf(i, c.pageSize))
	}
	switch {
	case sl.abandoned:
		// Removed while loading: the image may be stale, so it served
		// this caller only and the slot goes back to the free pool.
		s.freeLocked(i)
	case !ok:
		delete(s.index, sl.key)
		s.freeLocked(i)
	default:
		sl.state = slotValid
	}
}

// Put stores a copy of src under k, replacing nothing if k is present.
func (c *Cache) Put(k Key, src []byte) {
	s := c.shard(k)
	s.mu.Lock()
	if _, ok := s.index[k]; !ok {
		if i := s.victim(c); i >= 0 {
			s.slots[i] = slot{key: k, state: slotValid}
			s.index[k] = i
			copy(s.buf(i, c.pageSize), src)
		}
	}
	s.mu.Unlock()
}

// Remove drops the image named k. A load of k in progress is not cached.
func (c *Cache) Remove(k Key) {
	s := c.shard(k)
	s.mu.Lock()
	if i, ok := s.index[k]; ok {
		delete(s.index, k)
		if s.slots[i].state == slotLoading {
			s.slots[i].abandoned = true
		} else {
			s.freeLocked(i)
		}
	}
	s.mu.Unlock()
}

// Clear drops every image.
func (c *Cache) Clear() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for k, j := range s.index {
			delete(s.index, k)
			if s.slots[j].state == slotLoading {
				s.slots[j].abandoned = true
			} else {
				s.freeLocked(j)
			}
		}
		s.mu.Unlock()
	}
}

// freeLocked empties slot i and lists it for reuse. s.mu is held.
func (s *shard) freeLocked(i int32) {
	s.slots[i] = slot{}
	s.free = append(s.free, i)
}

// victim returns a slot to reuse: a freed one, else while the shard is
// filling the next slot never used (allocating its chunk's memory if it is
// the chunk's first), else one evicted with CLOCK; -1 when every slot is
// being loaded. s.mu is held.
func (s *shard) victim(c *Cache) int32 {
	for len(s.free) > 0 {
		i := s.free[len(s.free)-1]
		s.free = s.free[:len(s.free)-1]
		if s.slots[i].state == slotFree {
			return i
		}
	}
	n := len(s.slots)
	if n < s.size {
		s.slots = append(s.slots, slot{})
		if k, _ := chunkOf(n); k >= len(s.chunks) || s.chunks[k] == nil {
			// The chunk table grows with the cache too: made for the
			// capacity up front, it took 3 bytes a page of capacity
			// (192 MB for page_cache=1<<26) before a page was cached.
			for len(s.chunks) <= k {
				s.chunks = append(s.chunks, nil)
			}
			s.chunks[k] = newChunk(chunkLen(k, s.size), c.pageSize)
			c.bytes.Add(int64(len(s.chunks[k])))
		}
		return int32(n)
	}
	for range 2*n + 1 {
		i := s.hand
		s.hand++
		if s.hand == n {
			s.hand = 0
		}
		sl := &s.slots[i]
		switch sl.state {
		case slotFree:
			return int32(i)
		case slotValid:
			if sl.ref {
				sl.ref = false
				continue
			}
			delete(s.index, sl.key)
			c.evictions.Add(1)
			return int32(i)
		}
	}
	return -1
}

// Release empties the cache and gives the memory New allocated for it to
// the caches made after it with the same page size, which fill from it
// before they allocate. Call it when nothing uses the cache any more (the
// engine does when its database closes): a Release that runs beside other
// calls is safe but wasted, since a shard whose slot is being loaded keeps
// its memory, for the loader still writes into it. The cache stays usable;
// it allocates again as it fills.
func (c *Cache) Release() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		if !c.arena && !s.loadingLocked() {
			for k, ch := range s.chunks {
				if ch == nil {
					continue
				}
				freeChunk(ch, c.pageSize)
				c.bytes.Add(-int64(len(ch)))
				s.chunks[k] = nil
			}
			s.slots, s.hand, s.free = nil, 0, nil
			clear(s.index)
		}
		s.mu.Unlock()
	}
}

// loadingLocked reports whether a slot of s is being loaded. s.mu is held.
func (s *shard) loadingLocked() bool {
	for i := range s.slots {
		if s.slots[i].state == slotLoading {
			return true
		}
	}
	return false
}

// chunkPools hold the chunks of released caches, by page size and
// length: [b][l] for chunks of 1<<l images of 1<<b bytes, SQLite's page
// sizes from 512 B to 64 KiB. A sync.Pool gives them back to the collector
// if no cache takes them within two collections.
var chunkPools [17][chunkShift + 1]sync.Pool

// chunkPool returns the pool for chunks of n pages of pageSize bytes, nil
// for page sizes SQLite does not use and for the partial chunk at the end
// of a shard.
func chunkPool(n, pageSize int) *sync.Pool {
	b, l := bits.TrailingZeros(uint(pageSize)), bits.TrailingZeros(uint(n))
	if pageSize < 512 || pageSize != 1<<b || b >= len(chunkPools) || n != 1<<l || l > chunkShift {
		return nil
	}
	return &chunkPools[b][l]
}

// newChunk returns memory for n images of pageSize bytes: a released chunk
// of that length if one is pooled, else new memory. A released chunk holds
// another cache's old images; that is harmless, because a slot becomes
// valid only once its whole image is written.
func newChunk(n, pageSize int) []byte {
	if p := chunkPool(n, pageSize); p != nil {
		if ch, ok := p.Get().(*[]byte); ok {
			return *ch
		}
	}
	return make([]byte, n*pageSize)
}

// NewPage returns a buffer of one page of pageSize bytes, with whatever
// bytes it held before: from the pool of one-image chunks that released
// caches and FreePage fill, else new. The write sets of the storage engine
// take their page buffers here, so one pool serves both.
func NewPage(pageSize int) []byte { return newChunk(1, pageSize) }

// FreePage gives b, a buffer of one page, to the pool NewPage and the
// caches take from; the collector empties it when nobody does.
func FreePage(b []byte) { freeChunk(b, len(b)) }

// freeChunk pools ch, a chunk of pageSize images.
func freeChunk(ch []byte, pageSize int) {
	if p := chunkPool(len(ch)/pageSize, pageSize); p != nil {
		box := new([]byte)
		*box = ch
		p.Put(box)
	}
}

// Stats are the cache's counters since it was made.
type Stats struct {
	Hits, Misses, Evictions uint64 // lookups found, not found; images evicted for room
	ReadAhead               uint64 // images read ahead by LoadAhead
	Capacity                int    // images the cache holds when full
	Bytes                   int    // memory the cache's images take now
}

// Stats reports the cache's counters.
func (c *Cache) Stats() Stats {
	return Stats{
		Hits:      c.hits.Load(),
		Misses:    c.misses.Load(),
		Evictions: c.evictions.Load(),
		ReadAhead: c.readAhead.Load(),
		Capacity:  c.shards[0].size * nShards,
		Bytes:     int(c.bytes.Load()),
	}
}
