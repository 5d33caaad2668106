package pagecache

import (
	"bytes"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestReview3ConcurrentFreeListAndRelease drives small caches of odd
// capacities (the chunk layout's partial chunks) with Load, LoadAhead,
// Put, Remove, Clear and Release from several goroutines, two caches of
// one page size sharing the chunk pools. Every image is a function of its
// key, so a slot handed out twice (free list, CLOCK, a chunk pooled while
// in use) shows as a wrong image.
func TestReview3ConcurrentFreeListAndRelease(t *testing.T) {
	const ps = 512
	for _, capacity := range []int{1, 17, 33, 50, 129} {
		caches := []*Cache{New(capacity, ps, nil), New(capacity, ps, nil)}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var bad []string
		for g := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(g), uint64(capacity)))
				dst := make([]byte, ps)
				for range 4000 {
					c := caches[r.IntN(2)]
					k := Key{Page: uint32(r.IntN(64)), Src: uint64(r.IntN(4))}
					check := func(where string) {
						if !bytes.Equal(dst, img(k, ps)) {
							mu.Lock()
							bad = append(bad, where)
							mu.Unlock()
						}
					}
					switch op := r.IntN(100); {
					case op < 40:
						if err := c.Load(k, dst, func(b []byte) error { copy(b, img(k, ps)); return nil }); err == nil {
							check("Load")
						}
					case op < 55:
						next := func() []Key {
							return []Key{{Page: k.Page + 1, Src: k.Src}, {Page: k.Page + 2, Src: k.Src}}
						}
						err := c.LoadAhead(k, dst, next, func(bufs [][]byte) (int, error) {
							for i, b := range bufs {
								q := Key{Page: k.Page + uint32(i), Src: k.Src}
								copy(b, img(q, ps))
							}
							return len(bufs), nil
						})
						if err == nil {
							check("LoadAhead")
						}
					case op < 70:
						if c.Get(k, dst) {
							check("Get")
						}
					case op < 80:
						c.Put(k, img(k, ps))
					case op < 95:
						c.Remove(k)
					case op < 98:
						c.Clear()
					default:
						c.Release()
					}
				}
			}()
		}
		wg.Wait()
		if len(bad) > 0 {
			t.Fatalf("capacity %d: %d wrong images (first from %s)", capacity, len(bad), bad[0])
		}
		for _, c := range caches {
			for i := range c.shards {
				s := &c.shards[i]
				seen := map[int32]bool{}
				for _, j := range s.free {
					if seen[j] {
						t.Fatalf("capacity %d: slot %d twice on a free list", capacity, j)
					}
					seen[j] = true
				}
				if len(s.slots) > s.size {
					t.Fatalf("capacity %d: %d slots in a shard of %d", capacity, len(s.slots), s.size)
				}
			}
		}
	}
}
