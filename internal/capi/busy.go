package capi

import (
	"context"
	"math/rand/v2"
	"time"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// busyState is the state of a connection's busy handler.
//
// SQLite calls the handler when a lock it needs is held by another
// connection, with the number of times it already called it for this lock;
// returning true makes SQLite try the lock again, false gives up with
// SQLITE_BUSY. The handler waits with an exponential, jittered backoff, and
// ends the wait early when
//   - the busy timeout runs out (measured from the first call for the lock),
//   - the context of the call in progress is done (then it gives up),
//   - another goroutine calls [Conn.WakeBusy] (then it retries at once),
//   - code running inside the call (the VFS) asked, with
//     [Conn.RetryBusyNow], for an immediate retry (it retries without
//     waiting).
type busyState struct {
	timeout  time.Duration
	deadline time.Time
	timer    *time.Timer
	retryNow bool
	giveUp   bool
	wake     chan struct{} // capacity 1; a send while nobody waits is kept for the next wait
}

// Backoff bounds of the busy handler: the first wait and the longest one.
const (
	busyMinDelay = 100 * time.Microsecond
	busyMaxDelay = 10 * time.Millisecond
)

var busyFP = funcPtr(busyCallback)

// installBusyHandler makes the package's handler c's busy handler.
// sqlite3_busy_handler zeroes db->busyTimeout, which PRAGMA busy_timeout
// reports; it is set back to the timeout the handler uses.
func (c *Conn) installBusyHandler() {
	if c.busy.wake == nil {
		c.busy.wake = make(chan struct{}, 1)
	}
	sqlite3.Xsqlite3_busy_handler(c.tls, c.db, busyFP, uintptr(c.handle))
	(*sqlite3.Tsqlite3)(cptr(c.db)).FbusyTimeout = int32(min(c.busy.timeout.Milliseconds(), 1<<31-1))
}

// checkBusyHandler reinstalls the package's busy handler if SQL replaced it:
// PRAGMA busy_timeout installs SQLite's own sleeping handler (or none for 0),
// and its timeout is adopted. One pointer comparison when nothing changed.
func (c *Conn) checkBusyHandler() {
	db := (*sqlite3.Tsqlite3)(cptr(c.db))
	if db.FbusyHandler.FxBusyHandler == busyFP {
		return
	}
	c.busy.timeout = time.Duration(db.FbusyTimeout) * time.Millisecond
	c.installBusyHandler()
}

// SetBusyTimeout sets how long a call waits for a lock another connection
// holds before it fails with SQLITE_BUSY; 0 fails at once.
func (c *Conn) SetBusyTimeout(d time.Duration) {
	c.busy.timeout = max(d, 0)
	c.installBusyHandler()
}

// BusyTimeout returns the busy timeout in effect.
func (c *Conn) BusyTimeout() time.Duration {
	c.checkBusyHandler()
	return c.busy.timeout
}

// RetryBusyNow makes the next call of the busy handler retry at once,
// without waiting. It is for code running inside a call on c, on its
// goroutine (the VFS, when it refused a lock with SQLITE_BUSY_SNAPSHOT and a
// retry with a fresh snapshot will succeed). The request ends with the call:
// the next [Conn.Enter] drops it if SQLite did not call the handler.
func (c *Conn) RetryBusyNow() { c.busy.retryNow = true }

// GiveUpBusy makes the next call of the busy handler give up at once. It is
// for code running inside a call on c, on its goroutine (the VFS, when it
// already waited for a lock as long as the busy timeout allows). The request
// ends with the call: the next [Conn.Enter] drops it if SQLite did not call
// the handler.
func (c *Conn) GiveUpBusy() { c.busy.giveUp = true }

// WakeBusy ends the current or next wait of c's busy handler, which then
// retries. It may be called from any goroutine (a lock holder announcing
// its release).
func (c *Conn) WakeBusy() {
	select {
	case c.busy.wake <- struct{}{}:
	default:
	}
}

// busyCallback is the xBusy function given to sqlite3_busy_handler; arg is
// the connection's Handle. It returns 1 to retry, 0 to give up.
func busyCallback(_ *libc.TLS, arg uintptr, count int32) (retry int32) {
	defer func() {
		if recover() != nil {
			retry = 0
		}
	}()
	c := connOf(arg)
	if c == nil || !c.busy.wait(c.ctx, int(count)) {
		return 0
	}
	return 1
}

// wait implements the busy handler's policy; count is SQLite's count of
// earlier calls for the same lock.
func (b *busyState) wait(ctx context.Context, count int) bool {
	if b.giveUp {
		b.giveUp, b.retryNow = false, false
		return false
	}
	now := time.Now()
	if count == 0 {
		b.deadline = now.Add(b.timeout)
	}
	if b.retryNow {
		b.retryNow = false
		return true
	}
	left := b.deadline.Sub(now)
	if left <= 0 || ctx.Err() != nil {
		return false
	}
	d := busyMinDelay << min(count, 16)
	if d > busyMaxDelay || d <= 0 {
		d = busyMaxDelay
	}
	d = d/2 + rand.N(d/2+1) // jitter, so waiters do not retry in lockstep
	d = min(d, left)
	if b.timer == nil {
		b.timer = time.NewTimer(d)
	} else {
		b.timer.Reset(d)
	}
	select {
	case <-b.timer.C:
		return true
	case <-b.wake:
		b.timer.Stop()
		return true
	case <-ctx.Done():
		b.timer.Stop()
		return false
	}
}

// stopTimer releases the handler's timer.
func (b *busyState) stopTimer() {
	if b.timer != nil {
		b.timer.Stop()
	}
}
