package capi

import (
	"sync"
	"testing"
)

// Handles resolve to their values until deleted; a deleted handle, and a
// stale one whose slot was reused, resolve to nil, across chunk
// boundaries; deleting twice does nothing.
func TestHandleTable(t *testing.T) {
	const n = 3*handleChunkSize + 7
	hs := make([]Handle, n)
	for i := range hs {
		hs[i] = NewHandle(i)
	}
	for i, h := range hs {
		if h == 0 {
			t.Fatal("handle 0")
		}
		if v, _ := h.Value().(int); v != i {
			t.Fatalf("handle %d resolves to %v, want %d", i, h.Value(), i)
		}
	}
	stale := hs[5]
	stale.Delete()
	stale.Delete()
	if v := stale.Value(); v != nil {
		t.Fatalf("a deleted handle resolves to %v", v)
	}
	reused := NewHandle("new")
	if reused == stale {
		t.Fatal("a reused slot gave the same handle again")
	}
	if v := stale.Value(); v != nil {
		t.Fatalf("a stale handle resolves to %v, its slot's new value", v)
	}
	stale.Delete() // must not free the slot's new handle
	if v, _ := reused.Value().(string); v != "new" {
		t.Fatalf("deleting a stale handle deleted the slot's new one (%v)", reused.Value())
	}
	if v := Handle(0).Value(); v != nil {
		t.Fatalf("handle 0 resolves to %v", v)
	}
	if v := Handle(1<<handleSlotBits - 1).Value(); v != nil {
		t.Fatalf("a handle past the table resolves to %v", v)
	}
	for i, h := range hs {
		if i != 5 {
			h.Delete()
		}
	}
	reused.Delete()
}

// Handles are made, resolved and deleted from many goroutines at once
// (run with -race).
func TestHandleTableConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				v := g*10000 + i
				h := NewHandle(v)
				if got, _ := h.Value().(int); got != v {
					t.Errorf("handle resolves to %v, want %d", h.Value(), v)
					return
				}
				h.Delete()
				if h.Value() != nil {
					t.Error("a deleted handle resolves")
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkHandleValue resolves a file's handle, as every VFS callback
// does, with 1000 handles registered: the table, and for comparison the
// sync.Map it replaced (keyed by the handle as an interface, as it was).
func BenchmarkHandleValue(b *testing.B) {
	hs := make([]Handle, 1000)
	var m sync.Map
	for i := range hs {
		hs[i] = NewHandle(i)
		m.Store(hs[i], i)
	}
	defer func() {
		for _, h := range hs {
			h.Delete()
		}
	}()
	b.Run("table", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if hs[i%len(hs)].Value() == nil {
					b.Fatal("nil")
				}
				i++
			}
		})
	})
	b.Run("sync.Map", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if v, _ := m.Load(hs[i%len(hs)]); v == nil {
					b.Fatal("nil")
				}
				i++
			}
		})
	})
}
