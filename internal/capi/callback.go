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
// Handles start at 1, so 0 means "none".
type Handle uintptr

var (
	handles    sync.Map // Handle -> any
	handleNext atomic.Uintptr
)

// NewHandle registers v and returns its handle. The caller deletes it with
// [Handle.Delete] once no C code can call back with it.
func NewHandle(v any) Handle {
	h := Handle(handleNext.Add(1))
	handles.Store(h, v)
	return h
}

// Value returns the value registered for h, or nil if there is none.
func (h Handle) Value() any {
	v, _ := handles.Load(h)
	return v
}

// Delete unregisters h.
func (h Handle) Delete() { handles.Delete(h) }

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
