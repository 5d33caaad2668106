package capi

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// Handle stands for a Go value on the C side: it is what this package passes
// as the void* argument of a callback (sqlite3_busy_handler's pArg, a hook's
// pArg, a VFS file's back-reference) and what the callback turns back into
// the Go value with [Handle.Value]. It is an integer, never a Go pointer,
// because C memory is invisible to the garbage collector.
//
// Handles are never 0, so 0 means "none". A handle is a slot of a table
// (its low handleSlotBits bits, plus one) and the generation of that use
// of the slot (the bits above): slots are reused once deleted, and a
// stale handle finds another generation there and resolves to nil.
type Handle uintptr

// The handle table: every VFS callback resolves its file's handle, so
// Value is a lock-free index into chunks that never move (a sync.Map
// lookup, hashing the key, took 8% of the CPU of one-row commits).
// NewHandle and Delete take mu.
var handleTab struct {
	chunks atomic.Pointer[[]*handleChunk]
	mu     sync.Mutex
	free   []uint32 // deleted slots
	used   uint32   // slots ever handed out
	gen    uintptr  // generations handed out
}

const (
	handleSlotBits  = 24
	handleChunkSize = 1024
)

type handleChunk [handleChunkSize]atomic.Pointer[handleEntry]

type handleEntry struct {
	h Handle
	v any
}

// NewHandle registers v and returns its handle. The caller deletes it with
// [Handle.Delete] once no C code can call back with it.
func NewHandle(v any) Handle {
	t := &handleTab
	t.mu.Lock()
	defer t.mu.Unlock()
	var slot uint32
	if n := len(t.free); n > 0 {
		slot, t.free = t.free[n-1], t.free[:n-1]
	} else {
		if t.used == 1<<handleSlotBits-1 {
			panic("capi: more than 16M handles registered at once")
		}
		slot = t.used
		t.used++
		var chunks []*handleChunk
		if p := t.chunks.Load(); p != nil {
			chunks = *p
		}
		if int(slot/handleChunkSize) == len(chunks) {
			grown := append(chunks[:len(chunks):len(chunks)], new(handleChunk))
			t.chunks.Store(&grown)
		}
	}
	t.gen++
	h := Handle(t.gen<<handleSlotBits | uintptr(slot+1))
	(*t.chunks.Load())[slot/handleChunkSize][slot%handleChunkSize].Store(&handleEntry{h: h, v: v})
	return h
}

// entry returns the table entry of h's slot, or nil for a handle that
// never was one.
func (h Handle) entry() *atomic.Pointer[handleEntry] {
	slot := uint32(h&(1<<handleSlotBits-1)) - 1
	p := handleTab.chunks.Load()
	if h == 0 || p == nil || int(slot/handleChunkSize) >= len(*p) {
		return nil
	}
	return &(*p)[slot/handleChunkSize][slot%handleChunkSize]
}

// Value returns the value registered for h, or nil if there is none.
func (h Handle) Value() any {
	if e := h.entry(); e != nil {
		if r := e.Load(); r != nil && r.h == h {
			return r.v
		}
	}
	return nil
}

// Delete unregisters h. Deleting a handle twice, or a stale one, does
// nothing.
func (h Handle) Delete() {
	e := h.entry()
	if e == nil {
		return
	}
	handleTab.mu.Lock()
	defer handleTab.mu.Unlock()
	if r := e.Load(); r != nil && r.h == h {
		e.Store(nil)
		handleTab.free = append(handleTab.free, uint32(h&(1<<handleSlotBits-1))-1)
	}
}

// connOf returns the Conn registered under the handle arg, or nil.
func connOf(arg uintptr) *Conn {
	c, _ := Handle(arg).Value().(*Conn)
	return c
}

// funcPtr returns the value that stands for the Go function f in a C
// function-pointer slot of the transpiled engine (sqlite3_busy_handler's
// xBusy, an io_methods field, ...). The transpiled code calls such a slot by
// reinterpreting it as a Go func value, so the slot must hold a func value's
// bits: a pointer to the function's closure record.
//
// f must be a top-level function (not a closure, not a method value): its
// closure record is then static data that never moves and is never freed.
// The signature must match the C prototype as transpiled, with a leading
// *libc.TLS, e.g. func(*libc.TLS, uintptr, int32) int32 for xBusy.
func funcPtr[F any](f F) uintptr {
	return *(*uintptr)(unsafe.Pointer(&struct{ f F }{f}))
}
