package iouringvfs

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/golibsql/libsql/internal/capi"
	"github.com/golibsql/libsql/iouring_vfs/ioback"
	"github.com/golibsql/libsql/iouring_vfs/pagecache"
	"github.com/golibsql/libsql/iouring_vfs/wal"
)

// lockStart and lockLen are the byte range a stock SQLite connection in
// exclusive locking mode holds a write lock on: the pending byte, the
// reserved byte and the shared range (https://sqlite.org/lockingv3.html).
// Holding it keeps every other process, the sqlite3 shell included, out:
// they get "database is locked", never a corrupt file.
const (
	lockStart = 0x40000000
	lockLen   = 2 + 510
)

// Defaults of the engine options.
const (
	DefaultPageCache      = 4096 // pages in the shared cache
	DefaultAutoCheckpoint = 1000 // frames
)

// engineOptions configure an engine; the first connection to a database
// decides them.
type engineOptions struct {
	io             ioback.Kind
	sync           wal.SyncMode
	pageCache      int
	autoCheckpoint int
	image          string // the RegisterImage id an in-memory database starts from
}

// Files returns how many open files share the engine: the handles of
// every connection to its database in the process.
func (e *Engine) Files() int {
	e.vfs.mu.Lock()
	defer e.vfs.mu.Unlock()
	return e.refs
}

// Engine is the storage engine of one database file, shared by every
// connection to it in this process: the log, the shared page cache, the
// pinned snapshots and the writer lock.
type Engine struct {
	vfs  *VFS
	key  any // registry key: ioback.FileID, or memKey
	name string
	opts engineOptions

	fs        ioback.FS
	db, walf  ioback.File
	log       *wal.Log
	cacheOnce sync.Mutex

	refs int // guarded by vfs.mu
	// poisonReported: a statement failed with the log's poison error (see
	// UnreportedErr).
	poisonReported atomic.Bool
	// readOnly: the files are open read-only (mode=ro, or a file this
	// process may not write), with a shared lock on the file: a read-write
	// open cannot share the engine.
	readOnly bool

	wlock writerLock

	pinMu sync.Mutex
	pins  map[wal.Version]int
	// slot counts the readers' pins of one version, the newest durable
	// one when it was made, without pinMu (see pinReader); pins holds
	// every other pin, and the slot's once it is retired.
	slot atomic.Pointer[pinSlot]
	// unpinned is closed, and set to nil, when a pinned version goes
	// away; a waiter makes it (see oldestWatch), so that an unpin with
	// nobody waiting costs nothing.
	unpinned chan struct{}

	autoCkpt  atomic.Int64
	mainReady atomic.Bool // the main file has page 1
	ckptKick  chan struct{}
	// ckptIdle is set while the checkpointer waits, after a restart a
	// pinned snapshot refused, for the next commit (or unpin): that commit
	// kicks it, so an idle database with a long reader wakes nobody.
	ckptIdle atomic.Bool
	stop     chan struct{}
	stopped  chan struct{}

	stats struct {
		snapshotRetries atomic.Uint64 // BUSY_SNAPSHOT refusals (stale snapshot at RESERVED)
		writerWaits     atomic.Uint64 // writers that found the writer lock taken
		cacheKept       atomic.Uint64 // new snapshots that kept SQLite's page cache
		elided          atomic.Uint64 // transactions published without their changes
	}
	concurrent concurrentCounters
	cdc        cdcState
	// finishing counts the committers between handing over the writer
	// lock and unpinning the snapshot they committed on (restartLocked).
	finishing atomic.Int32
}

type memKey string

// openEngine opens the engine of a database file. The caller holds vfs.mu.
func (v *VFS) openEngine(key any, name string, fsys ioback.FS, db ioback.File, readOnly bool, opts engineOptions) (*Engine, error) {
	if testHookEngineOpening != nil {
		testHookEngineOpening(name)
	}
	e := &Engine{vfs: v, key: key, name: name, opts: opts, fs: fsys, db: db, readOnly: readOnly,
		pins: map[wal.Version]int{}, ckptKick: make(chan struct{}, 1),
		stop: make(chan struct{}), stopped: make(chan struct{})}
	if opts.autoCheckpoint == 0 {
		opts.autoCheckpoint = DefaultAutoCheckpoint
	}
	e.autoCkpt.Store(int64(opts.autoCheckpoint))

	if err := lockOwner(db, !readOnly); err != nil {
		if errors.Is(err, ioback.ErrLocked) {
			if ioback.LockedInProcess(db) {
				return nil, &capi.CodeError{Code: capi.BUSY, Err: fmt.Errorf("database %s is locked by another SQLite library in this process (such as modernc.org/sqlite or mattn/go-sqlite3): close its connections to the file first", name)}
			}
			return nil, &capi.CodeError{Code: capi.BUSY, Err: fmt.Errorf("database %s is locked by another process", name)}
		}
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	walf, err := e.openLog()
	if err != nil {
		db.Unlock(lockStart, lockLen)
		return nil, err
	}
	readOnly = e.readOnly
	e.walf = walf
	// MinSeq 1: versions, the commits' LSNs, are never below 1<<32, so
	// that 0 and 1 are free to mean "now" and "the beginning" to CDC.
	l, err := wal.Open(db, walf, wal.Options{Sync: opts.sync, MinSeq: 1, ReadOnly: readOnly})
	if err != nil {
		walf.Close()
		db.Unlock(lockStart, lockLen)
		return nil, fmt.Errorf("recover log of %s: %w", name, err)
	}
	e.log = l
	if sz, err := db.Size(); err == nil && sz > 0 {
		e.mainReady.Store(true)
	}
	e.ensureCache()
	go e.checkpointer()
	return e, nil
}

// openLog opens the database's log, name-wal, as stock SQLite would find
// it, with the engine's lock on the database file held:
//
//   - The log of an empty database is removed first, as stock SQLite
//     removes it: it is a deleted database's (whose rows would come back
//     in a new database at that name), or holds a first commit that was
//     never acknowledged (afterCommit copies it into the main file before
//     the commit returns). Removing, not truncating, leaves it intact for
//     an engine of this process that still has the old file open (deleted
//     or renamed under it). A read-only engine ignores it instead.
//   - A new log's directory entry is synced (unless sync=off), as SQLite
//     syncs the directory of a new log; after a removal, under sync=off
//     too.
//   - The log takes the database file's permissions, and its owner when
//     the process runs as root (ioback.MatchOwner).
//   - A log this process may not write (another user's) makes the engine
//     read-only, as a database file it may not write does: its lock on the
//     database file becomes a shared one.
func (e *Engine) openLog() (ioback.File, error) {
	name := e.name + "-wal"
	empty, removed := false, false
	if sz, err := e.db.Size(); err != nil {
		return nil, fmt.Errorf("size of %s: %w", e.name, err)
	} else if sz == 0 {
		empty = true
		if !e.readOnly {
			err := e.fs.Remove(name)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("remove the log of empty database %s: %w", e.name, err)
			}
			removed = err == nil
		}
	}
	_, _, statErr := e.fs.Stat(name)
	var walf ioback.File
	err := statErr
	if !e.readOnly {
		walf, err = e.fs.Open(name, ioback.OpenCreate)
		if err != nil && statErr == nil && (errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS)) {
			if lerr := e.db.Lock(lockStart, lockLen, false); lerr != nil {
				return nil, fmt.Errorf("open log %s: %w (and then lock %s shared: %v)", name, err, e.name, lerr)
			}
			e.readOnly = true
		}
	}
	if e.readOnly {
		walf, err = nil, statErr
		if err == nil && !empty {
			walf, err = e.fs.Open(name, ioback.OpenReadOnly)
		}
		if errors.Is(err, fs.ErrNotExist) || (err == nil && walf == nil) {
			walf, err = ioback.NewMemFS().Open("/ro-wal", ioback.OpenCreate)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", name, err)
	}
	if e.readOnly {
		return walf, nil
	}
	// A removed log's removal is synced under sync=off too: a power loss
	// must not bring a deleted database's rows back into this one.
	if removed || errors.Is(statErr, fs.ErrNotExist) && e.opts.sync != wal.SyncOff {
		e.fs.SyncDir(filepath.Dir(e.name)) // best effort, as SQLite's unixSync
	}
	ioback.MatchOwner(walf, e.db) // best effort, as SQLite's: a log of another owner stays as it is
	return walf, nil
}

// lockGrace is how long opening a database waits for another owner's lock
// to go away. A process killed while it used io_uring keeps its files open
// until the kernel has torn its rings down, which happens asynchronously,
// a few milliseconds after the process is gone; a restart right after a
// crash must not fail for that.
const lockGrace = 500 * time.Millisecond

// lockOwner takes the engine's lock on the database file: exclusive for a
// read-write engine; shared for a read-only one (its file descriptor cannot
// take a write lock), which still keeps every writer out.
func lockOwner(db ioback.File, exclusive bool) error {
	deadline := time.Now().Add(lockGrace)
	for {
		err := db.Lock(lockStart, lockLen, exclusive)
		if !errors.Is(err, ioback.ErrLocked) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ensureCache gives the log its page cache once the page size is known.
// The cache's memory is ordinary Go memory, not an ioback arena: its
// misses are single reads (File.ReadAt), which do not use registered
// buffers, and an arena is never garbage-collected, so one per engine
// would have to outlive every reader of the cache.
func (e *Engine) ensureCache() {
	if e.opts.pageCache <= 0 || e.log.Cache() != nil {
		return
	}
	e.cacheOnce.Lock()
	defer e.cacheOnce.Unlock()
	ps := e.log.PageSize()
	if ps == 0 || e.log.Cache() != nil {
		return
	}
	e.log.SetCache(pagecache.New(e.opts.pageCache, ps, nil))
}

// restartWait bounds the checkpointer's wait in the writer queue for a
// log restart (see checkpointer).
var restartWait = 5 * time.Millisecond

// retryMin and retryMax bound the checkpointer's pause before it tries
// again a restart that a pinned snapshot refused (see checkpointer); once
// nothing was committed in a pause, it waits for the next commit or for a
// pin to go.
const (
	retryMin = time.Millisecond
	retryMax = 16 * time.Millisecond
)

// restartWanted reports whether the log is past its checkpoint threshold
// and no snapshot older than its newest durable version is pinned, so that
// a restart would succeed once the commits in flight are durable.
func (e *Engine) restartWanted() bool {
	n := e.autoCkpt.Load()
	frames, _ := e.log.Frames()
	if n <= 0 || frames < int(n) {
		return false
	}
	oldest, _ := e.oldest()
	return oldest >= e.log.Durable() || e.committersPin(oldest)
}

// committersPin reports whether the snapshots pinned at oldest and after
// can all be those of committers that have handed over the writer lock and
// not yet moved to their commit (finishing): each such snapshot is the
// version before its commit, so the oldest is at most as many commits
// old as they are. Those pins go within moments; a reader's may not.
func (e *Engine) committersPin(oldest wal.Version) bool {
	n := e.finishing.Load()
	return n > 0 && e.log.Last()-oldest <= wal.Version(n)
}

// close shuts the engine down after its last connection closed: a final
// checkpoint that restarts the log if it can (so the next open has little
// to recover, and stock SQLite little to replay), then the files; the page
// cache's memory goes to the next engine's cache.
func (e *Engine) close() error {
	close(e.stop)
	<-e.stopped
	if e.cdc.hub != nil {
		e.cdc.hub.Close()
	}
	var errs []error
	if e.log.Err() == nil {
		// A closed database keeps no log space, as stock SQLite, which
		// deletes its log, keeps none; only the header the restart
		// wrote, whose sequence number the next open's versions (LSNs)
		// follow.
		if _, err := e.log.Checkpoint(wal.CheckpointRestart, e.log.Durable()); err != nil {
			errs = append(errs, err)
		} else if err := e.log.TrimToHeader(); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, e.log.Close(), e.walf.Close(), e.db.Unlock(lockStart, lockLen), e.db.Close())
	if c := e.log.Cache(); c != nil {
		c.Release()
	}
	return errors.Join(errs...)
}

// pinSlot counts pins of version v taken without the engine's pinMu. n is
// the number held, or slotRetired once they are counted in Engine.pins.
type pinSlot struct {
	v wal.Version
	n atomic.Int64
}

const slotRetired = math.MinInt64

// pinReader pins and returns the newest durable version, for a reader,
// with the slot the pin is counted in (nil if it is in pins); unpinReader
// releases it. Readers start far more often than versions change, so
// while the newest durable version is the slot's, a pin is one
// compare-and-swap and takes no lock that committers and the other
// readers take. Whoever needs the pinned versions (oldest,
// pinnedVersions) retires the slot first, under pinMu: from then on every
// pin goes through pinMu, so no version older than what they saw can be
// pinned after they looked.
func (e *Engine) pinReader() (wal.Version, *pinSlot) {
	if s := e.slot.Load(); s != nil && s.v == e.log.Durable() {
		for n := s.n.Load(); n >= 0; n = s.n.Load() {
			if s.n.CompareAndSwap(n, n+1) {
				return s.v, s
			}
		}
	}
	e.pinMu.Lock()
	defer e.pinMu.Unlock()
	e.retireSlotLocked()
	s := &pinSlot{v: e.log.Durable()}
	s.n.Store(1)
	e.slot.Store(s)
	return s.v, s
}

// unpinReader releases a pin taken by pinReader.
func (e *Engine) unpinReader(v wal.Version, s *pinSlot) {
	if s != nil {
		for n := s.n.Load(); n > 0; n = s.n.Load() {
			if s.n.CompareAndSwap(n, n-1) {
				return
			}
		}
	}
	e.unpin(v) // the slot was retired: its pins are in pins
}

// retireSlotLocked moves the slot's pins into pins and removes the slot;
// pinMu is held.
func (e *Engine) retireSlotLocked() {
	s := e.slot.Swap(nil)
	if s == nil {
		return
	}
	if n := s.n.Swap(slotRetired); n > 0 {
		e.pins[s.v] += int(n)
	}
}

// pinLast pins and returns the newest version, durable or not, for a
// writer that holds the writer lock (nothing can commit meanwhile).
func (e *Engine) pinLast() wal.Version {
	e.pinMu.Lock()
	v := e.log.Last()
	e.pins[v]++
	e.pinMu.Unlock()
	return v
}

// pin pins a version the caller knows is readable.
func (e *Engine) pin(v wal.Version) {
	e.pinMu.Lock()
	e.pins[v]++
	e.pinMu.Unlock()
}

func (e *Engine) unpin(v wal.Version) {
	e.pinMu.Lock()
	var oldest wal.Version
	if n := e.pins[v]; n <= 1 {
		delete(e.pins, v)
		if e.unpinned != nil {
			close(e.unpinned)
			e.unpinned = nil
		}
		if e.log.RetainedPages() > 0 {
			oldest, _ = e.oldestLocked()
		}
	} else {
		e.pins[v] = n - 1
	}
	e.pinMu.Unlock()
	if oldest != 0 {
		// The pages a restart kept for this reader go with it, not at the
		// next checkpoint, which an idle database may never run.
		e.log.DropRetained(oldest)
	}
}

// oldest returns the oldest pinned version, or the newest durable one when
// nothing is pinned. A version pinned after this returns is at least as new
// as what it returned.
func (e *Engine) oldest() (v wal.Version, pinned int) {
	e.pinMu.Lock()
	defer e.pinMu.Unlock()
	return e.oldestLocked()
}

func (e *Engine) oldestLocked() (v wal.Version, pinned int) {
	e.retireSlotLocked()
	v = e.log.Durable()
	for p, n := range e.pins {
		v = min(v, p)
		pinned += n
	}
	return v, pinned
}

// pinnedVersions returns the distinct pinned versions.
func (e *Engine) pinnedVersions() []wal.Version {
	e.pinMu.Lock()
	defer e.pinMu.Unlock()
	e.retireSlotLocked()
	vs := make([]wal.Version, 0, len(e.pins))
	for v := range e.pins {
		vs = append(vs, v)
	}
	return vs
}

// retainMaxPages bounds the pages a log restart keeps in memory for the
// snapshots older than the newest version (wal.Log.RestartRetaining):
// 16 MiB at 4 KiB pages. A long reader behind more changes than that keeps
// the log from restarting until it ends, as in SQLite.
const retainMaxPages = 4096

// oldestWatch is oldest, with a channel that is closed as soon as a pinned
// version goes away after the call: taken under the same lock, so that no
// unpin between the two can go unnoticed.
func (e *Engine) oldestWatch() (wal.Version, <-chan struct{}) {
	e.pinMu.Lock()
	defer e.pinMu.Unlock()
	v, _ := e.oldestLocked()
	if e.unpinned == nil {
		e.unpinned = make(chan struct{})
	}
	return v, e.unpinned
}

// afterCommit runs after commit v became durable.
func (e *Engine) afterCommit(v wal.Version) error {
	e.ensureCache()
	if !e.mainReady.Load() {
		// A database's first commit goes into the main file at once: stock
		// SQLite deletes the log of an empty main file, so until page 1
		// is there, the log would be invisible to it. The pages are all
		// above MainPages, so no reader is disturbed.
		if _, err := e.log.Checkpoint(wal.CheckpointPassive, v); err != nil {
			return err
		}
		e.mainReady.Store(true)
	}
	if n := e.autoCkpt.Load(); n > 0 {
		if frames, backfilled := e.log.Frames(); frames-backfilled >= int(n) || e.ckptIdle.Load() && e.ckptIdle.CompareAndSwap(true, false) {
			e.kickCheckpointer()
		}
	}
	return nil
}

func (e *Engine) kickCheckpointer() {
	select {
	case e.ckptKick <- struct{}{}:
	default:
	}
}

// testHookCheckpointerWake, when set, runs each time the checkpointer
// wakes up.
var testHookCheckpointerWake func()

// checkpointer runs automatic checkpoints in the background, so commits do
// not pay for them: a passive one copies what no snapshot needs, and when
// the log has grown past four times the threshold, one that holds the
// writer lock for the short tail and restarts the log, so that a steady
// stream of commits cannot grow it without bound.
func (e *Engine) checkpointer() {
	defer close(e.stopped)
	var retry <-chan time.Time
	var unpinned <-chan struct{}
	// tried is the newest version when a restart was last refused, and
	// blocker the pinned snapshot that refused it.
	var tried, blocker wal.Version
	backoff := retryMin
	for {
		timedOut, unpin := false, false
		select {
		case <-e.stop:
			return
		case <-e.ckptKick:
		case <-unpinned:
			unpin = true
		case <-retry:
			timedOut = true
		}
		if testHookCheckpointerWake != nil {
			testHookCheckpointerWake()
		}
		e.ckptIdle.Store(false)
		if unpin || timedOut && e.log.Last() == tried {
			// Nothing committed since the refused restart: try again only
			// if the snapshot that refused it is gone (it may have gone
			// during the pause). Else wait for the next commit (which
			// kicks, seeing ckptIdle) or for a pin to go, without running
			// a checkpoint for nothing; a commit that came before ckptIdle
			// was set is caught by the check after it.
			if o, ch := e.oldestWatch(); o <= blocker {
				retry, unpinned = nil, ch
				e.ckptIdle.Store(true)
				if e.log.Last() != tried && e.ckptIdle.CompareAndSwap(true, false) {
					e.kickCheckpointer()
				}
				continue
			}
		}
		retry, unpinned = nil, nil
		if e.log.Err() != nil {
			continue
		}
		oldest, _ := e.oldest()
		if _, err := e.log.Checkpoint(wal.CheckpointPassive, oldest); err != nil {
			continue
		}
		// Restart the log if nothing needs it any more (cheap: nothing is
		// left to copy). Restarts happen only under the writer lock, so a
		// writer holding it can rely on NextVersion. A writer that never
		// pauses leaves the lock free at no moment: when the log is past
		// its threshold and no snapshot needs it, the checkpointer waits in
		// line for the lock, briefly, rather than let the log grow to the
		// forced restart below.
		restarted := false
		if e.wlock.tryAcquireInternal() || e.restartWanted() && e.wlock.acquireInternal(bgContext, restartWait) == nil {
			var err error
			if restarted, err = e.restartLocked(); err != nil {
				continue
			}
		}
		n := e.autoCkpt.Load()
		// A restart that a pinned snapshot refused (a short reader's, say)
		// is tried again after a pause that grows while restarts keep
		// failing, since the next kick would come only a threshold's worth
		// of frames later; where nothing was committed in the pause, once
		// a pin goes or something is (a long reader on an idle database
		// runs no checkpoint).
		if frames, _ := e.log.Frames(); restarted || n <= 0 || frames < int(n) {
			backoff = retryMin
		} else {
			tried, retry = e.log.Last(), time.After(backoff)
			// Refused by a pinned snapshot, or by a writer holding the
			// writer lock (blocker 0: the retry runs whatever happened).
			blocker = 0
			if o, pinned := e.oldest(); pinned > 0 && o < tried {
				blocker = o
			}
			backoff = min(2*backoff, retryMax)
		}
		if frames, _ := e.log.Frames(); n > 0 && frames >= 4*int(n) {
			if e.wlock.acquireInternal(bgContext, 50*time.Millisecond) == nil {
				if e.log.WaitDurable(e.log.Last()) == nil {
					if pinned := e.pinnedVersions(); len(pinned) > 0 && slices.Min(pinned) < e.log.Last() {
						e.restartRetaining(pinned)
					} else {
						oldest, _ := e.oldest()
						e.log.Checkpoint(wal.CheckpointRestart, oldest)
					}
				}
				e.wlock.release()
			}
		}
	}
}

// testHookBeforeRetain, when set, runs in restartRetaining between the
// reading of the pinned versions and the restart.
var testHookBeforeRetain func()

// restartRetaining restarts the log keeping in memory the pages the
// pinned snapshots need (wal.Log.RestartRetaining), under the writer lock
// the caller holds. A reader that unpinned after pinned was read found
// nothing retained to drop, and may have been the last: the pages kept
// for it are dropped here.
func (e *Engine) restartRetaining(pinned []wal.Version) {
	if testHookBeforeRetain != nil {
		testHookBeforeRetain()
	}
	e.log.RestartRetaining(pinned, retainMaxPages)
	if e.log.RetainedPages() > 0 {
		oldest, _ := e.oldest()
		e.log.DropRetained(oldest)
	}
}

// restartLocked restarts the log if no snapshot needs it, and releases the
// writer lock, which the caller holds: restarts happen only under it, so
// that a writer holding it can rely on NextVersion.
func (e *Engine) restartLocked() (restarted bool, err error) {
	defer e.wlock.release()
	e.log.WaitDurable(e.log.Last()) // a restart needs every commit durable
	var timer *time.Timer
	for range 3 {
		oldest, unpinned := e.oldestWatch()
		res, err := e.log.Checkpoint(wal.CheckpointRestart, oldest)
		if err != nil || !res.Busy {
			return res.Restarted, err
		}
		// A committer that has just handed over the writer lock pins the
		// snapshot it committed on until its commit is durable and it
		// runs again, a moment a restart taking the lock at once falls
		// into nearly every time: wait for it, briefly, but not for a
		// reader, which is not worth holding the lock for.
		select {
		case <-unpinned:
			continue
		default:
		}
		if !e.committersPin(oldest) {
			return false, nil
		}
		if timer == nil {
			timer = time.NewTimer(restartWait)
			defer timer.Stop()
		}
		select {
		case <-unpinned:
		case <-timer.C:
			return false, nil
		}
	}
	return false, nil
}

// restartOnWrite restarts a log that checkpoints have caught up with, when
// no snapshot needs it, as a writer takes the writer lock: stock SQLite
// restarts its log at the first write after such a checkpoint. Without it,
// a database checkpointed only by hand (wal_autocheckpoint=0 and PRAGMA
// wal_checkpoint, as backup tools do) grew its log forever. The caller
// has just taken the writer lock.
func (e *Engine) restartOnWrite() {
	frames, backfilled := e.log.Frames()
	if frames == 0 || frames != backfilled {
		return
	}
	last := e.log.Last()
	if oldest, _ := e.oldest(); oldest < last || e.log.WaitDurable(last) != nil {
		return
	}
	e.log.RestartCheckpointed(last)
}

// checkpoint runs a checkpoint for PRAGMA wal_checkpoint on behalf of the
// connection of caller. FULL, RESTART and TRUNCATE take the writer lock, as
// SQLite's block writers, and wait for readers of older snapshots to
// finish, up to the caller's busy timeout or until its context ends. When the caller's own transaction
// is what they would wait for, they fail at once with SQLITE_LOCKED (see
// selfBlocked), as stock SQLite's do.
func (e *Engine) checkpoint(mode wal.CheckpointMode, caller *File) (wal.CheckpointResult, error) {
	if mode == wal.CheckpointPassive {
		oldest, _ := e.oldest()
		return e.log.Checkpoint(mode, oldest)
	}
	if err := caller.selfBlocked(mode); err != nil {
		return wal.CheckpointResult{}, err
	}
	ctx, timeout := ownerWait(caller.owner)
	if err := e.wlock.acquire(ctx, timeout); err != nil {
		return wal.CheckpointResult{Busy: true}, nil
	}
	defer e.wlock.release()
	// A commit may have come in while we waited for the lock, making the
	// caller's snapshot old.
	if err := caller.selfBlocked(mode); err != nil {
		return wal.CheckpointResult{}, err
	}
	if err := e.log.WaitDurable(e.log.Last()); err != nil {
		return wal.CheckpointResult{}, err
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		oldest, unpinned := e.oldestWatch()
		res, err := e.log.Checkpoint(mode, oldest)
		if err != nil || !res.Busy || timeout <= 0 {
			return res, err
		}
		if testHookCheckpointBusy != nil {
			testHookCheckpointBusy()
		}
		select {
		case <-unpinned:
		case <-ctx.Done():
			return res, nil
		case <-timer.C:
			return res, nil
		}
	}
}

// selfBlocked returns an SQLITE_LOCKED error when a blocking checkpoint
// (mode FULL, RESTART or TRUNCATE) run by f's connection would wait for
// that connection itself: because it holds the writer lock the checkpoint
// takes, or because its snapshot is older than the newest version, so the
// checkpoint cannot copy the newest commits (nor restart the log) before
// the snapshot goes, which it never does while the checkpoint waits.
func (f *File) selfBlocked(mode wal.CheckpointMode) error {
	var why string
	switch {
	case f.hasWriter:
		why = "holds the writer lock"
	case f.pinned && f.snap < f.e.log.Last():
		why = fmt.Sprintf("reads snapshot %v, older than the newest version %v", f.snap, f.e.log.Last())
	default:
		return nil
	}
	return &capi.CodeError{Code: capi.LOCKED, Err: fmt.Errorf(
		"wal_checkpoint(%s) on %s cannot run inside a transaction of the same connection: it %s (commit or roll back first)",
		mode, f.e.name, why)}
}

// testHookCheckpointBusy, when set, runs after each busy attempt of a
// blocking checkpoint, before it waits for a reader to go.
var testHookCheckpointBusy func()

// Stats describe an engine's state and counters; PRAGMA libsql_stats
// reports them as JSON.
type Stats struct {
	Version         string `json:"version"`                // the newest version: "restarts.commits"
	Durable         string `json:"durable"`                // the newest durable version
	PageSize        int    `json:"page_size"`              // bytes; 0 before the first page exists
	PinnedSnapshots int    `json:"pinned_snapshots"`       // snapshots readers hold now
	OldestPinned    string `json:"oldest_pinned"`          // the oldest of them
	LogFrames       int    `json:"log_frames"`             // frames in the log now
	Backfilled      int    `json:"log_backfilled"`         // of those, copied into the main file
	Commits         uint64 `json:"commits"`                // commits appended to the log
	Flushes         uint64 `json:"log_writes"`             // batched writes of commits to the log
	Syncs           uint64 `json:"fsyncs"`                 // fdatasyncs of the log and the main file
	Gathers         uint64 `json:"group_commit_waits"`     // log writes that waited to gather more commits
	Checkpoints     uint64 `json:"checkpoints"`            // checkpoints run, of every mode
	Restarts        uint64 `json:"log_restarts"`           // the log started over (new salts)
	Retaining       uint64 `json:"log_restarts_retaining"` // of those, keeping older snapshots' pages in memory
	RetainedPages   int    `json:"log_retained_pages"`     // pages kept in memory now for those snapshots
	PagesBackfilled uint64 `json:"pages_checkpointed"`     // pages copied into the main file
	CacheHits       uint64 `json:"cache_hits"`             // hits of the shared page cache
	CacheMisses     uint64 `json:"cache_misses"`           // and misses
	CacheEvictions  uint64 `json:"cache_evictions"`        // images evicted to make room
	CacheReadAhead  uint64 `json:"cache_read_ahead"`       // pages read ahead of sequential readers
	CachePages      int    `json:"cache_capacity_pages"`   // pages the cache holds when full
	CacheBytes      int    `json:"cache_bytes"`            // memory the cache takes now (it grows as the cache fills)
	WriterQueue     int    `json:"writer_queue"`           // writers waiting for the writer lock now
	SnapshotRetries uint64 `json:"snapshot_retries"`       // SQLITE_BUSY_SNAPSHOT refusals: a writer's snapshot was stale
	WriterWaits     uint64 `json:"writer_waits"`           // acquisitions of the writer lock that waited
	// SQLiteCacheKept counts the new snapshots at which a connection kept
	// SQLite's page cache, dropping only the pages committed since its
	// previous one (see File.SnapshotChanges).
	SQLiteCacheKept uint64 `json:"sqlite_cache_kept"`
	IO              string `json:"io"` // the I/O backend: uring, portable or memory
	// TempMemoryBytes is the memory the process's temporary files (sorts,
	// temporary tables, VACUUM's copy; every database's) hold now,
	// and TempFilesMoved how many of them moved to disk since the process
	// started, past the bounds on that memory (see the README).
	TempMemoryBytes int64  `json:"temp_memory_bytes"`
	TempFilesMoved  uint64 `json:"temp_files_moved_to_disk"`
	// WriteSetsMoved counts the transactions, in the whole process, whose
	// writes outgrew the memory a write set holds and moved to disk.
	WriteSetsMoved uint64 `json:"write_sets_moved_to_disk"`
	// ChangesElided counts the transactions published to change streams
	// without their changes (changefeed.Tx.Elide): big ones whose changes
	// durable CDC stored while no stream was reading (a stream reads them
	// from libsql_cdc), and ones whose changes could not be kept.
	ChangesElided uint64          `json:"cdc_elided"`
	Concurrent    ConcurrentStats `json:"concurrent"` // BEGIN CONCURRENT's counters
}

// UnreportedErr returns, once, the error that poisoned the engine's log if
// no statement has failed with it yet (a background checkpoint's I/O
// error, say), or nil: until the database is reopened, every statement
// fails, and the driver's Close reports an error nobody saw.
func (e *Engine) UnreportedErr() error {
	err := e.log.Err()
	if err == nil || errors.Is(err, wal.ErrClosed) || !e.poisonReported.CompareAndSwap(false, true) {
		return nil
	}
	return err
}

// Stats reports the engine's state.
func (e *Engine) Stats() Stats {
	ls := e.log.Stats()
	oldest, pinned := e.oldest()
	s := Stats{
		Version: ls.Version.String(), Durable: ls.Durable.String(), PageSize: e.log.PageSize(),
		PinnedSnapshots: pinned, OldestPinned: oldest.String(),
		LogFrames: ls.Frames, Backfilled: ls.Backfilled, Commits: ls.Commits, Flushes: ls.Flushes,
		Syncs: ls.Syncs, Gathers: ls.Gathers, Checkpoints: ls.Checkpoints, Restarts: ls.Restarts, Retaining: ls.Retaining, RetainedPages: ls.RetainedPages, PagesBackfilled: ls.PagesBackfilled,
		WriterQueue: e.wlock.queued(), WriterWaits: e.stats.writerWaits.Load(), SQLiteCacheKept: e.stats.cacheKept.Load(),
		SnapshotRetries: e.stats.snapshotRetries.Load(), IO: fsKindName(e.fs), Concurrent: e.concurrent.snapshot(),
		TempMemoryBytes: tempMem.Load(), TempFilesMoved: tempSpills.Load(), WriteSetsMoved: wsSpills.Load(),
		ChangesElided: e.stats.elided.Load(),
	}
	if c := e.log.Cache(); c != nil {
		cs := c.Stats()
		s.CacheHits, s.CacheMisses, s.CacheEvictions, s.CacheReadAhead, s.CachePages, s.CacheBytes = cs.Hits, cs.Misses, cs.Evictions, cs.ReadAhead, cs.Capacity, cs.Bytes
	}
	return s
}
