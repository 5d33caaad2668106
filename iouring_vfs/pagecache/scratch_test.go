package pagecache

import (
	"runtime"
	"sync"
	"testing"
)

// LoadAhead takes its working memory (the buffers it gives fill, the slots
// it read ahead into) from a pool: a sequential reader calls it every few
// pages, and making them anew cost two allocations a call. A miss that
// reads ahead 31 images, into a full cache (whose memory is all allocated),
// allocates nothing; nor does a miss on an image another call is loading.
func TestLoadAheadDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector drops pooled items at random")
	}
	const ps, ahead = 64, 31
	c := New(1024, ps, nil)
	dst := make([]byte, ps)
	keys := make([]Key, 0, ahead)
	page := uint32(0)
	next := func() []Key { return keys }
	asked := 0
	fill := func(bufs [][]byte) (int, error) {
		asked = len(bufs)
		return len(bufs), nil
	}
	var nested func(bufs [][]byte) (int, error)
	load := func() {
		k := Key{Page: page}
		keys = keys[:0]
		for q := range uint32(ahead) {
			keys = append(keys, Key{Page: page + 1 + q})
		}
		page += 1 + ahead
		f := fill
		if page%(4*(1+ahead)) == 0 {
			f = nested
		}
		if err := c.LoadAhead(k, dst, next, f); err != nil {
			t.Fatal(err)
		}
		if asked != 1+ahead {
			t.Fatalf("fill was given %d buffers, want %d", asked, 1+ahead)
		}
	}
	// Every fourth call loads, from inside fill, the image it is loading:
	// that call does not read ahead, and fill gets dst.
	nested = func(bufs [][]byte) (int, error) {
		k := Key{Page: page - 1 - ahead}
		err := c.LoadAhead(k, dst, nil, func(b [][]byte) (int, error) {
			if len(b) != 1 || &b[0][0] != &dst[0] {
				t.Fatalf("fill of a key being loaded was given %d buffers", len(b))
			}
			return 1, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return fill(bufs)
	}
	// Fill the cache first: its memory is allocated as it fills.
	for range 4 * 1024 / (1 + ahead) {
		load()
	}
	if n := testing.AllocsPerRun(1000, load); n != 0 {
		t.Fatalf("LoadAhead allocated %v times a call, want 0", n)
	}
}

// The pooled working memory of a LoadAhead is its own until it returns:
// calls that overlap, from many goroutines or from inside fill, never see
// their buffers change under them (run under the race detector).
func TestConcurrentLoadAheadScratch(t *testing.T) {
	const ps = 64
	c := New(4096, ps, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst := make([]byte, ps)
			for i := range 300 {
				k := Key{Page: uint32(i * 20), Src: uint64(g)}
				keys := keysAfter(k.Page, k.Src, 1+(i+g)%16)
				err := c.LoadAhead(k, dst, func() []Key { return keys }, func(bufs [][]byte) (int, error) {
					mine := make([]*byte, len(bufs))
					for j, b := range bufs {
						mine[j] = &b[0]
					}
					if i%8 == 0 {
						// A nested call, which must not take this
						// call's memory.
						q := Key{Page: k.Page + 17, Src: k.Src}
						c.LoadAhead(q, make([]byte, ps), func() []Key { return nil }, func(b [][]byte) (int, error) {
							return len(b), nil
						})
					}
					runtime.Gosched()
					for j, b := range bufs {
						if &b[0] != mine[j] {
							t.Errorf("goroutine %d: fill's buffer %d changed under it", g, j)
						}
					}
					return len(bufs), nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
