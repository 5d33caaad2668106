package pagecache

import (
	"bytes"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// r7img is the image of k: a pattern only k has, so that a slot whose
// chunk was released (and handed to another cache) while still in use shows
// as a foreign image.
func r7img(k Key, ps int) []byte {
	b := make([]byte, ps)
	for i := range b {
		b[i] = byte(uint64(k.Page)*31 + k.Src*7 + uint64(i)*13)
	}
	return b
}

// TestReview7StressRelease mixes Load, LoadAhead, Put, Get, Remove, Clear
// and Release on two small caches of one page size (Release hands chunks
// from one to the other) from several goroutines, under -race: every image
// served must be the image of its key, and nothing may race on the chunk
// table that now grows under the shard's lock.
func TestReview7StressRelease(t *testing.T) {
	const ps = 512
	caches := []*Cache{New(40, ps, nil), New(40, ps, nil), New(1, ps, nil)}
	var bad atomic.Int64
	var failed atomic.Bool
	check := func(what string, k Key, got []byte) {
		if !bytes.Equal(got, r7img(k, ps)) {
			if bad.Add(1) == 1 {
				t.Errorf("%s %v: served a foreign image", what, k)
			}
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			dst := make([]byte, ps)
			for n := 0; time.Now().Before(deadline); n++ {
				c := caches[(g+n)%len(caches)]
				k := Key{Page: uint32((n*7 + g) % 97), Src: uint64(n % 3)}
				switch (n + g) % 9 {
				case 0, 1:
					err := c.Load(k, dst, func(b []byte) error {
						if n%11 == 0 {
							copy(b, "garbage")
							return errors.New("fail")
						}
						copy(b, r7img(k, ps))
						return nil
					})
					if err == nil {
						check("Load", k, dst)
					}
				case 2, 3:
					next := func() []Key {
						ks := make([]Key, 6)
						for i := range ks {
							ks[i] = Key{Page: k.Page + uint32(i) + 1, Src: k.Src}
						}
						return ks
					}
					err := c.LoadAhead(k, dst, next, func(bufs [][]byte) (int, error) {
						for i, b := range bufs {
							copy(b, r7img(Key{Page: k.Page + uint32(i), Src: k.Src}, ps))
						}
						return len(bufs) - n%2, nil
					})
					if err == nil {
						check("LoadAhead", k, dst)
					}
				case 4:
					c.Put(k, r7img(k, ps))
				case 5:
					if c.Get(k, dst) {
						check("Get", k, dst)
					}
				case 6:
					c.Remove(k)
				case 7:
					if n%5 == 0 {
						c.Clear()
					} else {
						_ = c.Stats()
					}
				case 8:
					c.Release()
				}
				if failed.Load() {
					return
				}
			}
		}(g)
	}
	wg.Wait()
	for _, c := range caches {
		st := c.Stats()
		if st.Bytes < 0 {
			t.Errorf("Stats.Bytes = %d after the run", st.Bytes)
		}
		c.Release()
		if b := c.Stats().Bytes; b != 0 {
			t.Errorf("Stats.Bytes = %d after a quiet Release, want 0", b)
		}
	}
}

// TestReview7ClampedCapacity: a capacity past the int32 slot numbers is
// clamped, not wrapped, and such a cache still works without allocating
// its capacity.
func TestReview7ClampedCapacity(t *testing.T) {
	for _, capacity := range []int{math.MaxInt, math.MaxInt32 * nShards, math.MaxInt32*nShards + 1, math.MinInt, -1, 0} {
		per := slotsPerShard(capacity)
		if per < 1 || per > math.MaxInt32 {
			t.Errorf("slotsPerShard(%d) = %d", capacity, per)
		}
		if capacity > nShards && per*nShards < min(capacity, math.MaxInt32*nShards) {
			t.Errorf("slotsPerShard(%d) = %d: fewer slots than asked below the clamp", capacity, per)
		}
	}
	c := New(math.MaxInt, 4096, nil)
	if got := c.Stats().Capacity; got != math.MaxInt32*nShards {
		t.Errorf("Capacity = %d, want %d", got, math.MaxInt32*nShards)
	}
	dst := make([]byte, 4096)
	for p := range uint32(200) {
		k := Key{Page: p}
		if err := c.Load(k, dst, func(b []byte) error { copy(b, r7img(k, 4096)); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	for p := range uint32(200) {
		k := Key{Page: p}
		if !c.Get(k, dst) || !bytes.Equal(dst, r7img(k, 4096)) {
			t.Fatalf("page %d lost in a clamped cache", p)
		}
	}
	if b := c.Stats().Bytes; b > 1<<22 {
		t.Errorf("200 pages took %d bytes", b)
	}
	c.Release()
}
