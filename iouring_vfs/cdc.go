package iouringvfs

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golibsql/libsql/changefeed"
	"github.com/golibsql/libsql/internal/capi"
	"github.com/golibsql/libsql/iouring_vfs/wal"
)

// The engine publishes every committed transaction's row changes to its
// changefeed.Hub in commit order, once the commit is durable. The driver
// captures the changes (pre-update hook) and hands them over at the commit
// point through the file's capture function; the engine tags them with the
// commit's version, which is the LSN.

// cdcState is an engine's change capture and publishing.
type cdcState struct {
	hubOnce sync.Once
	hub     *changefeed.Hub
	hubMu   sync.Mutex        // orders RaiseLSNFloor's SetLast after the hub's creation
	stored  atomic.Uint64     // the newest LSN durable CDC stored (RaiseLSNFloor)
	source  changefeed.Source // durable history, given by the first EnableCapture that has one
	// durable is set, under the writer lock, once source is: from then on
	// every connection stores its transactions' changes (Durable).
	durable atomic.Bool

	// Capture starts in two steps (see EnableCapture): wanted makes new
	// concurrent transactions capture from their start; capturing makes
	// every writer capture.
	wanted    atomic.Bool
	capturing atomic.Bool
	enableMu  sync.Mutex
	uncapMu   sync.Mutex
	uncapCond *sync.Cond // on uncapMu: concurrent transactions begun before wanted finished
	uncap     int        // concurrent transactions running without capture

	mu      sync.Mutex // serializes publishing, in version order
	pending []pendingTx
}

type pendingTx struct {
	v  wal.Version
	tx *changefeed.Tx
}

// Hub returns the database's change hub, shared by every connection.
func (e *Engine) Hub() *changefeed.Hub {
	e.cdc.hubOnce.Do(func() {
		e.cdc.hubMu.Lock()
		defer e.cdc.hubMu.Unlock()
		e.cdc.hub = changefeed.NewHub(changefeed.HubOptions{Source: e.cdc.source})
		e.cdc.hub.SetLast(max(changefeed.LSN(e.log.Durable()), changefeed.LSN(e.cdc.stored.Load())))
	})
	return e.cdc.hub
}

// Capturing reports whether writers capture their row changes for the hub.
func (e *Engine) Capturing() bool { return e.cdc.capturing.Load() }

// CaptureWanted reports whether a concurrent transaction beginning now must
// capture its changes from its start.
func (e *Engine) CaptureWanted() bool { return e.cdc.wanted.Load() }

// EnableCapture makes every connection of the database capture its row
// changes from now on, and returns the LSN from which the capture is
// complete: every transaction committed with a higher LSN has all its
// changes published. src, if not nil, is the durable history, for the hub
// to read lagging streams from (the first call with one decides; given
// after the hub was made, it serves the history from then on), and from
// then on every connection stores its changes (Durable).
//
// Normal writers change rows only while they hold the writer lock, so
// capture is switched on under it: no writer is between two of its changes
// at that moment. Concurrent transactions change rows without it: those
// begun before capture was wanted are waited for (ctx bounds the wait).
func (e *Engine) EnableCapture(ctx context.Context, timeout time.Duration, src changefeed.Source) (changefeed.LSN, error) {
	e.cdc.enableMu.Lock()
	defer e.cdc.enableMu.Unlock()
	if src != nil && e.cdc.source == nil {
		e.cdc.hubMu.Lock()
		made := e.cdc.hub != nil
		if !made {
			e.cdc.source = src // the hub is made with it
		}
		e.cdc.hubMu.Unlock()
		if made {
			if err := e.becomeDurable(ctx, timeout, src); err != nil {
				return 0, err
			}
		}
	}
	if e.cdc.capturing.Load() {
		return e.captureFrom(), nil
	}
	// The hub exists before anything is captured: a commit publishing to a
	// hub it created would find the hub's start already at its own LSN.
	e.Hub()
	if err := e.waitUncaptured(ctx); err != nil {
		return 0, err
	}
	if err := e.wlock.acquire(ctx, max(timeout, internalGrace)); err != nil {
		return 0, fmt.Errorf("starting change capture: waiting for the writer lock: %w", err)
	}
	e.cdc.capturing.Store(true)
	e.cdc.durable.Store(e.cdc.source != nil)
	from := e.captureFrom()
	e.wlock.release()
	return from, nil
}

// captureFrom is the LSN after which every commit's changes are captured,
// when the caller has seen capture on: the newest commit's, or the hub's
// newest when a raised LSN floor (RaiseLSNFloor) put it above every
// version the log has given.
func (e *Engine) captureFrom() changefeed.LSN {
	return max(changefeed.LSN(e.log.Last()), e.Hub().Last())
}

// becomeDurable gives the hub, made before durable CDC started (a stream
// opened without it), the durable history src, which holds the
// transactions committed from now on: under the writer lock, so that
// every commit after it stores its changes. enableMu is held.
func (e *Engine) becomeDurable(ctx context.Context, timeout time.Duration, src changefeed.Source) error {
	if err := e.wlock.acquire(ctx, max(timeout, internalGrace)); err != nil {
		return fmt.Errorf("starting durable change capture: waiting for the writer lock: %w", err)
	}
	defer e.wlock.release()
	e.cdc.hubMu.Lock()
	e.cdc.source = src
	e.cdc.hubMu.Unlock()
	e.Hub().SetSource(src, changefeed.LSN(e.log.Last()))
	e.cdc.durable.Store(e.cdc.capturing.Load())
	return nil
}

// Durable reports whether the database's changes are stored (durable CDC):
// every connection then stores its transactions' changes, whatever its own
// DSN says, so that the stored history has no gap.
func (e *Engine) Durable() bool { return e.cdc.durable.Load() }

// ConcurrentBegins records a concurrent transaction starting; it returns
// whether the transaction must capture its changes.
//
// The look at wanted and the count are one step under uncapMu, under which
// EnableCapture sets wanted: a transaction either sees wanted, or is
// counted before EnableCapture waits for the uncaptured ones to end.
func (e *Engine) ConcurrentBegins() (capture bool) {
	if e.cdc.wanted.Load() {
		return true
	}
	e.cdc.uncapMu.Lock()
	defer e.cdc.uncapMu.Unlock()
	if e.cdc.wanted.Load() {
		return true
	}
	if concurrentBeginsHook != nil {
		concurrentBeginsHook()
	}
	e.cdc.uncap++
	return false
}

// concurrentBeginsHook, if set, runs in ConcurrentBegins between its look
// at wanted and its count of the transaction (tests only).
var concurrentBeginsHook func()

// ConcurrentEnds records the end of a concurrent transaction ConcurrentBegins
// said need not capture.
func (e *Engine) ConcurrentEnds() {
	e.cdc.uncapMu.Lock()
	e.cdc.uncap--
	if e.cdc.uncapCond != nil {
		e.cdc.uncapCond.Broadcast()
	}
	e.cdc.uncapMu.Unlock()
}

// waitUncaptured makes capture wanted, then waits for the concurrent
// transactions begun without capture to end.
func (e *Engine) waitUncaptured(ctx context.Context) error {
	e.cdc.uncapMu.Lock()
	defer e.cdc.uncapMu.Unlock()
	e.cdc.wanted.Store(true)
	if e.cdc.uncapCond == nil {
		e.cdc.uncapCond = sync.NewCond(&e.cdc.uncapMu)
	}
	stop := context.AfterFunc(ctx, func() {
		e.cdc.uncapMu.Lock()
		e.cdc.uncapCond.Broadcast()
		e.cdc.uncapMu.Unlock()
	})
	defer stop()
	for e.cdc.uncap > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("starting change capture: waiting for concurrent transactions to end: %w", err)
		}
		e.cdc.uncapCond.Wait()
	}
	return nil
}

// RaiseLSNFloor makes LSNs from now on higher than lsn, the newest stored
// by durable CDC, after the log file lost its header (see
// wal.Log.RaiseFloor); the hub's "now" becomes at least lsn, so that a
// stream resuming from an older LSN reads the stored ones after it.
//
// Only an LSN above every version of the log is one the hub cannot know:
// a lower one is this process's commit, which may be durable and stored
// but not yet published, and the hub's "now" must not pass it.
func (e *Engine) RaiseLSNFloor(lsn changefeed.LSN) {
	lost := uint64(lsn) > uint64(e.log.Last())
	e.log.RaiseFloor(uint32(uint64(lsn)>>32) + 1)
	for {
		old := e.cdc.stored.Load()
		if uint64(lsn) <= old || e.cdc.stored.CompareAndSwap(old, uint64(lsn)) {
			break
		}
	}
	if !lost {
		return
	}
	e.cdc.hubMu.Lock()
	defer e.cdc.hubMu.Unlock()
	if e.cdc.hub != nil {
		e.cdc.hub.SetLast(lsn)
	}
}

// SetCapture sets the function the file calls at the commit point, under
// the writer lock, to take the committing transaction's captured changes
// (nil when there are none). It must be quick: commits wait behind it.
//
// hook installs the connection's pre-update hook, which it sets only once
// needed (capture on, or a concurrent transaction), and makes its
// statements compile again; nil if it is set for good. A write compiled
// without it that starts once the capture is on is made to compile again
// (see Lock).
func (f *File) SetCapture(fn func() *changefeed.Tx, hook func()) { f.capture, f.hook = fn, hook }

// HookPreUpdate installs the connection's pre-update hook (SetCapture's
// hook) unless it is already.
func (f *File) HookPreUpdate() {
	if h := f.hook; h != nil {
		f.hook = nil
		h()
	}
}

// PreUpdateHooked reports whether the connection's pre-update hook is
// installed.
func (f *File) PreUpdateHooked() bool { return f.hook == nil }

// unhooked reports, under the writer lock, whether the statement taking
// it may have been compiled without the pre-update hook that a captured
// write needs: then Lock installs the hook and refuses with SQLITE_SCHEMA,
// which makes SQLite compile the statement again and retry it.
func (f *File) unhooked() bool { return f.hook != nil && f.e.Capturing() }

// uncaptured reports whether a write through f would be missing from the
// change stream: the engine captures, and f's connection does not capture
// for it (f is an attached database).
func (f *File) uncaptured() bool { return f.capture == nil && f.e.Capturing() }

// uncapturedErr is the error Lock refuses an uncaptured write with.
func (f *File) uncapturedErr() error {
	return f.fail(capi.READONLY, fmt.Errorf("cannot write %s here: its changes are being captured (change data capture), and this connection does not capture them; write it through a connection whose main database it is", f.e.name))
}

// SetStoresChanges tells the file whether its connection stores its
// transactions' changes (durable CDC, cdc=on), and, if it does not,
// whether the database has the stored history all the same (libsql_cdc):
// such a connection may not write it, nor any while another connection
// stores the changes (Durable), since its writes would be missing from
// the stored history.
func (f *File) SetStoresChanges(stores, hasHistory bool) {
	f.storesChanges, f.hasHistory = stores, hasHistory
}

// UnstoredWrite returns the error a write through f is refused with when
// its changes would be missing from the stored history, nil otherwise.
// Lock checks it for RESERVED, before and under the writer lock (which
// durable CDC starts under); a concurrent transaction, which takes no lock
// before its commit, is checked again there, under it.
func (f *File) UnstoredWrite() error {
	if f.capture == nil || f.storesChanges || !f.hasHistory && !f.e.Durable() {
		return nil
	}
	return f.fail(capi.READONLY, fmt.Errorf("cannot write %s through this connection: the database stores its changes (durable CDC, the table libsql_cdc), and this connection does not; open it with cdc=on to write it", f.e.name))
}

// NextLSN is the LSN the transaction committing under the writer lock will
// get; durable CDC stores it with the changes, in the same commit.
func (f *File) NextLSN() (changefeed.LSN, error) {
	if !f.hasWriter {
		return 0, fmt.Errorf("NextLSN of %s without the writer lock", f.e.name)
	}
	return changefeed.LSN(f.e.log.NextVersion()), nil
}

// enqueue records a commit's changes under the writer lock, so the queue
// is in version order.
func (e *Engine) enqueueChanges(v wal.Version, tx *changefeed.Tx) {
	if tx.LSN != 0 && tx.LSN != changefeed.LSN(v) {
		fmt.Fprintf(os.Stderr, "libsql: changes stored with LSN %v committed as %v\n", tx.LSN, v)
	}
	tx.LSN = changefeed.LSN(v)
	if tx.CommitTime.IsZero() { // else the time durable CDC stored
		tx.CommitTime = time.Now()
	}
	e.cdc.mu.Lock()
	e.cdc.pending = append(e.cdc.pending, pendingTx{v, tx})
	e.cdc.mu.Unlock()
}

// publishDurable publishes, in order, every queued transaction that is
// durable; after an I/O error poisoned the log, the rest of the queue is
// dropped (those commits never happened, or were never acknowledged).
func (e *Engine) publishDurable() {
	e.cdc.mu.Lock()
	defer e.cdc.mu.Unlock()
	if len(e.cdc.pending) == 0 {
		return
	}
	poisoned := e.log.Err() != nil
	d := e.log.Durable() // read after Err: nothing becomes durable once poisoned
	hub := e.Hub()
	n := 0
	for _, p := range e.cdc.pending {
		if p.v > d {
			break
		}
		n++
		if last := hub.Last(); p.tx.LSN <= last {
			// A broken invariant (Publish would panic, in a VFS callback,
			// leaving the transaction queued to fail every later commit).
			fmt.Fprintf(os.Stderr, "libsql: change capture: transaction %v not published: the hub is at %v already\n", p.tx.LSN, last)
			continue
		}
		if p.tx.Elided() {
			e.stats.elided.Add(1)
		}
		hub.Publish(p.tx.Fill())
	}
	if poisoned {
		n = len(e.cdc.pending)
	}
	rest := copy(e.cdc.pending, e.cdc.pending[n:])
	clear(e.cdc.pending[rest:]) // the published transactions are the hub's now
	e.cdc.pending = e.cdc.pending[:rest]
}

// Subscribe opens a stream of the database's committed changes (see
// changefeed.Hub.Subscribe). The stream keeps the engine open, with its
// hub, until it is closed: database/sql closes idle connections, and the
// engine would otherwise close with the last of them and end the stream.
// The caller must hold a reference to the engine (an open connection).
func (e *Engine) Subscribe(opts changefeed.Options) (*changefeed.Stream, error) {
	// Below the next commit's LSN every LSN may have been handed out (a
	// raised floor's start included: RaiseLSNFloor).
	if newest := max(changefeed.LSN(e.log.NextVersion()-1), e.Hub().Last()); opts.Since > newest {
		// No commit of this database has such an LSN (one of another
		// database, or of this one before its log was deleted): waiting
		// for it would skip every commit up to it without a word.
		return nil, fmt.Errorf("%w: Since %v, newest commit %v", changefeed.ErrFutureLSN, opts.Since, newest)
	}
	e.vfs.mu.Lock()
	e.refs++
	e.vfs.mu.Unlock()
	s, err := e.Hub().SubscribeHolding(opts, func() error { return e.vfs.releaseEngine(e) })
	if err != nil {
		e.vfs.releaseEngine(e)
		return nil, err
	}
	return s, nil
}
