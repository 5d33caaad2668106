package capi

import (
	"context"
	"sync/atomic"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// Watch interrupts the statement running on a Conn when a context is done.
// It is armed by [Conn.Watch] and must be stopped with [Watch.Stop] when the
// call (or, for a query, the rows) it covers ends.
//
// When the context is done, the watch (on a goroutine of the context
// package, via context.AfterFunc: no goroutine is started per call) calls
// sqlite3_interrupt and raises the connection's cancel flag. SQLite clears an
// interrupt that arrives while no statement of the connection is running, so
// the flag, checked by the progress handler every few VM steps, covers the
// window between arming and stepping.
type Watch struct {
	c    *Conn
	ctx  context.Context
	stop func() bool
	// fired, done and paused are guarded by c.mu.
	fired  bool // the watch interrupted the connection
	done   bool // Stop ran; a late firing does nothing
	paused bool // see Pause; Resume clears it
}

// Watch arms ctx on c. It returns nil, and costs nothing, when ctx can
// never be done (ctx.Done() == nil). Several watches may be armed at once
// (a query's rows and a statement run while they are open).
func (c *Conn) Watch(ctx context.Context) *Watch {
	if ctx.Done() == nil {
		return nil
	}
	w := &Watch{c: c, ctx: ctx}
	w.stop = context.AfterFunc(ctx, w.fire)
	return w
}

// fire runs on the context package's goroutine once the context is done.
func (w *Watch) fire() {
	c := w.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if w.done || w.paused || c.db == 0 {
		return
	}
	w.fired = true
	atomic.AddInt32((*int32)(cptr(c.intr)), 1)
	c.interruptLocked()
}

// Stop disarms the watch and reports whether it fired. After Stop returns
// the watch will not interrupt anything. If it fired and no other fired
// watch is armed, the connection's pending interrupt is cleared, so it does
// not abort an unrelated statement later. Stop on a nil Watch is a no-op.
func (w *Watch) Stop() (fired bool) {
	if w == nil || w.stop() {
		return false
	}
	c := w.c
	c.mu.Lock()
	defer c.mu.Unlock()
	w.done = true
	fired = w.fired
	w.undoLocked()
	return fired
}

// undoLocked takes back the watch's interrupt, if it fired: the cancel
// flag, and SQLite's pending interrupt when no other fired watch is armed,
// so that it does not abort an unrelated statement later. The owner's
// goroutine calls it (in Stop or Pause), so no statement of c is running:
// nothing else reads the flag now.
func (w *Watch) undoLocked() {
	c := w.c
	if !w.fired || c.db == 0 {
		return
	}
	w.fired = false
	if atomic.AddInt32((*int32)(cptr(c.intr)), -1) == 0 {
		atomic.StoreInt32(&(*sqlite3.Tsqlite3)(cptr(c.db)).Fu1.FisInterrupted, 0)
	}
}

// Pause stops the watch from interrupting the connection, and takes back
// an interrupt it made, until Resume: its owner, a query's rows between
// two steps, is not running a statement, and an interrupt would abort the
// statements the connection runs meanwhile (the rows stay open). A
// context that ends while the watch is paused is for the owner to notice
// after Resume (ctx.Err). Pause on a nil Watch is a no-op.
func (w *Watch) Pause() {
	if w == nil {
		return
	}
	w.c.mu.Lock()
	w.paused = true
	w.undoLocked()
	w.c.mu.Unlock()
}

// Resume lets the watch interrupt again, before its owner steps. The owner
// then checks its context: a firing while the watch was paused did
// nothing. Resume on a nil Watch is a no-op.
func (w *Watch) Resume() {
	if w == nil {
		return
	}
	w.c.mu.Lock()
	w.paused = false
	w.c.mu.Unlock()
}

// Context returns the context the watch was armed with.
func (w *Watch) Context() context.Context { return w.ctx }

// Interrupt makes the statement running on c, if any, stop with
// SQLITE_INTERRUPT (sqlite3_interrupt). It may be called from any
// goroutine, also after Close (then it does nothing).
func (c *Conn) Interrupt() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.db != 0 {
		c.interruptLocked()
	}
}

// interruptLocked calls sqlite3_interrupt with c.mu held. It runs on a
// goroutine other than the owner's, so it must not use c.tls; today
// sqlite3_interrupt is one atomic store that ignores its TLS, but a fresh one
// keeps that an implementation detail. It is paid only when interrupting.
func (c *Conn) interruptLocked() {
	tls := libc.NewTLS()
	sqlite3.Xsqlite3_interrupt(tls, c.db)
	tls.Close()
}

// progressCallback is the xProgress function given to
// sqlite3_progress_handler; arg is the connection's cancel flag (C memory).
// A non-zero return interrupts the statement.
func progressCallback(_ *libc.TLS, arg uintptr) int32 {
	return atomic.LoadInt32((*int32)(cptr(arg)))
}
