package pagecache

import (
	"bytes"
	"errors"
	"fmt"
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
