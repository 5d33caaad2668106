package iouringvfs

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"syscall"
	"time"

	"github.com/golibsql/libsql/changefeed"
	"github.com/golibsql/libsql/internal/capi"
	"github.com/golibsql/libsql/iouring_vfs/pagecache"
	"github.com/golibsql/libsql/iouring_vfs/wal"
)

// Owner is what a connection's database file needs from the driver
// connection that owns it: the context of the call in progress and the busy
// timeout (for waits for the writer lock), and a way to steer SQLite's busy
// handler after the file refused a lock.
type Owner interface {
	Context() context.Context
	BusyTimeout() time.Duration
	SetBusyTimeout(time.Duration)
	// RetryBusyNow makes the busy handler retry at once: the file refused
	// a lock with SQLITE_BUSY_SNAPSHOT and a retry with a fresh snapshot
	// will get it.
	RetryBusyNow()
	// GiveUpBusy makes the busy handler give up at once: the file already
	// waited for the lock as long as the busy timeout allows.
	GiveUpBusy()
}

var bgContext = context.Background()

func ownerWait(o Owner) (context.Context, time.Duration) {
	if o == nil {
		return bgContext, 0
	}
	ctx := o.Context()
	if ctx == nil {
		ctx = bgContext
	}
	return ctx, o.BusyTimeout()
}

var errLockTimeout = errors.New("the busy timeout ran out")

// File is the main database file of one SQLite connection: its view of the
// engine. It holds the connection's pinned snapshot, its lock level and its
// private write set. SQLite uses it from one goroutine at a time.
type File struct {
	e        *Engine
	readOnly bool
	closed   bool

	lock      int32
	snap      wal.Version
	snapSize  uint32   // database size in pages at snap, while pinned
	snapSlot  *pinSlot // where snap's pin is counted (see pinReader)
	pinned    bool
	hasWriter bool
	// page1 is page 1 at page1Ver (as SQLite sees it), kept because SQLite
	// reads its change counter at every lock and its header at every
	// transaction, and page 1's slot in the shared cache is the one every
	// connection contends for.
	page1    []byte
	page1Ver wal.Version
	// counter is the change counter shown to this connection's SQLite in
	// page 1 at counterVer (see presentCounter); p1buf is scratch space
	// for page 1 of the snapshot.
	counter    uint32
	counterVer wal.Version
	counterSet bool
	p1buf      []byte
	// storesChanges: the connection stores its transactions' changes
	// (cdc=on); hasHistory: the database has the stored history
	// (SetStoresChanges).
	storesChanges, hasHistory bool
	// sqlCounter is the change counter SQLite's pager holds (its
	// dbFileVers): the last it read at offset 24, or wrote in page 1 with
	// a commit. Its next commit writes it plus one (see rollingBack).
	sqlCounter uint32

	// ws is the transaction's private write set in memory, and spilled
	// its pages moved to disk past wsMemMax (see spillWrites).
	ws      map[wal.PageNo][]byte
	spilled spillSet
	wsSize  uint32 // database size in pages as written, valid when dirty
	wsPS    int    // page size of the writes, before the log knows one
	dirty   bool
	free    [][]byte // page buffers to reuse

	owner  Owner
	intent bool // the statement about to run writes
	// intentLock is set when the write intent took the writer lock, until
	// the statement's first step ends (EndWriteIntent).
	intentLock bool
	concurrent bool // BEGIN CONCURRENT: RESERVED without the writer lock
	track      bool
	reads      map[wal.PageNo]struct{}

	merge    bool // publish on the newest version (see TryMerge)
	mergeTry bool // check at xSync whether the commit can merge
	// mergeRefused: the last TryMerge commit was refused at xSync.
	mergeRefused bool
	commitSync   bool // fdatasync at commit (synchronous=FULL)
	// syncLevel is the PRAGMA synchronous level last set (0 to 3), once
	// syncSet: it reads back, though only two levels act.
	syncLevel int
	syncSet   bool
	// journalSetup is set while SetupJournal runs.
	journalSetup bool
	capture      func() *changefeed.Tx
	hook         func() // installs the pre-update hook; nil once it is (SetCapture)
	lastCommit   wal.Version
	lastErr      error
	scratch      []byte

	// nextRead is the page after the one read last, and seqReads how many
	// reads in a row (up to 2) asked for the page after the one before:
	// from the third, reads of the main file read ahead (readAheadBytes).
	nextRead wal.PageNo
	seqReads int

	// The snapshot SQLite's page cache was last filled from, its size,
	// and whether that is known; cacheConfirm: SnapshotChanges ran, and
	// the cache holds cacheSnap once SQLite has read the change counter
	// (see SnapshotChanges); changed collects the pages it reports.
	cacheSnap    wal.Version
	cacheSize    uint32
	cacheKnown   bool
	cacheConfirm bool
	changed      []wal.PageNo
	changed32    []uint32
	changedVers  [16]byte
}

var (
	_ capi.VFSFile    = (*File)(nil)
	_ capi.PragmaFile = (*File)(nil)
	_ capi.CommitFile = (*File)(nil)
	_ capi.CacheFile  = (*File)(nil)
)

// SetOwner ties the file to the driver connection that opened it.
func (f *File) SetOwner(o Owner) { f.owner = o }

// SetWriteIntent tells the file that the statement about to run will
// write, so that if it starts a transaction it takes the writer lock at
// once and reads the newest version: no work is wasted on a snapshot that a
// commit makes stale. The driver sets it before the first step of a
// statement that is not read-only and calls EndWriteIntent after.
func (f *File) SetWriteIntent(on bool) { f.intent = on }

// EndWriteIntent clears the write intent after the statement's first step.
// If the intent took the writer lock but SQLite never asked to write (a
// DROP TABLE IF EXISTS of nothing, a statement that failed as SQLite
// prepared it again after a schema change), the transaction goes on as a
// reader, as it would in stock SQLite: the lock goes, once the snapshot it
// read, the newest version, is durable.
func (f *File) EndWriteIntent() {
	f.intent = false
	if f.intentLock && f.hasWriter && f.lock < capi.LOCK_RESERVED {
		f.e.log.WaitDurable(f.snap)
		f.releaseWriter()
	}
	f.intentLock = false
}

// Engine returns the engine the file belongs to.
func (f *File) Engine() *Engine { return f.e }

// LastCommit is the version of the connection's last commit through this
// file.
func (f *File) LastCommit() wal.Version { return f.lastCommit }

// Snapshot is the version the connection reads, and whether it holds one.
func (f *File) Snapshot() (wal.Version, bool) { return f.snap, f.pinned }

// TakeError returns, and forgets, the Go error behind the last SQLite error
// code this file returned, for the driver to wrap.
func (f *File) TakeError() error {
	err := f.lastErr
	f.lastErr = nil
	return err
}

func (f *File) fail(code int32, err error) error {
	if errors.Is(err, wal.ErrPoisoned) {
		f.e.poisonReported.Store(true)
	}
	f.lastErr = err
	return &capi.CodeError{Code: code, Err: err}
}

// ioFail maps a storage error to the given SQLite I/O error code, a full
// disk included: past the point where a commit reserved its space, an
// error may leave the commit in the log (and poisons it), and SQLITE_FULL
// would say that nothing changed.
func (f *File) ioFail(code int32, err error) error { return f.fail(code, err) }

// spaceFail is ioFail for a failure that changed nothing, the reservation
// of a commit's log space: a full disk is SQLITE_FULL.
func (f *File) spaceFail(code int32, err error) error {
	return f.fail(fullOr(code, err), err)
}

// fullOr is SQLITE_FULL for a full disk, else code: for failures that
// changed nothing (a reservation of log space, a temporary file's write).
func fullOr(code int32, err error) int32 {
	if errors.Is(err, syscall.ENOSPC) {
		return capi.FULL
	}
	return code
}

func (f *File) pageSize() int {
	if ps := f.e.log.PageSize(); ps != 0 {
		return ps
	}
	return f.wsPS
}

// scratchPage returns the file's page-sized scratch buffer, for partial
// reads and for Validate, which never run at once.
func (f *File) scratchPage() []byte {
	if ps := f.pageSize(); len(f.scratch) != ps {
		f.scratch = make([]byte, ps)
	}
	return f.scratch
}

// readVersion is the version reads see: the pinned snapshot, or, before
// SQLite took any lock (it reads the header at open), the newest durable
// one.
func (f *File) readVersion() wal.Version {
	if f.pinned {
		return f.snap
	}
	return f.e.log.Durable()
}

func (f *File) sizePages() uint32 {
	if f.dirty {
		return f.wsSize
	}
	if f.pinned {
		return f.snapSize
	}
	return f.e.log.Size(f.e.log.Durable())
}

// setSnap makes v, which the caller pinned (counted in slot s, or in the
// engine's pins if s is nil), the connection's snapshot.
func (f *File) setSnap(v wal.Version, s *pinSlot) {
	f.snap, f.snapSize, f.snapSlot, f.pinned = v, f.e.log.Size(v), s, true
}

// unpinSnap releases the pin of the connection's snapshot.
func (f *File) unpinSnap() {
	f.e.unpinReader(f.snap, f.snapSlot)
	f.snapSlot, f.pinned = nil, false
}

// ReadAt serves SQLite's reads: whole pages, or parts of page 1 (the
// header at open, the change counter at every lock), from the private
// writes or the snapshot. Page 1 is presented in rollback mode (bytes 18-19
// = 1) though the file on disk says WAL.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	ps := int64(f.pageSize())
	if ps == 0 {
		// No page size: an empty database, or a file that is not one. The
		// file's own bytes let SQLite tell (SQLITE_NOTADB).
		n, err := f.e.db.ReadAt(p, off)
		if err != nil && !errors.Is(err, io.EOF) {
			return n, f.ioFail(capi.IOERR_READ, err)
		}
		return n, nil
	}
	if f.cacheConfirm && off == 24 && len(p) == 16 {
		// SQLite's read of the change counter, right after SnapshotChanges.
		f.cacheConfirm = false
		n, err := f.ReadAt(p, off)
		f.cacheKnown = err == nil
		return n, err
	}
	size := int64(f.sizePages())
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		pg := pos/ps + 1
		if pg > size {
			break
		}
		in := pos % ps
		chunk := min(int64(len(p)-n), ps-in)
		dst := p[n : n+int(chunk)]
		if in != 0 || chunk != ps {
			if err := f.readPage(wal.PageNo(pg), f.scratchPage()); err != nil {
				return n, err
			}
			copy(dst, f.scratch[in:])
		} else if err := f.readPage(wal.PageNo(pg), dst); err != nil {
			return n, err
		}
		n += int(chunk)
	}
	if off <= 24 && off+int64(n) >= 28 {
		f.sqlCounter = binary.BigEndian.Uint32(p[24-off:])
	}
	return n, nil
}

// readAheadBytes is how much a reader going through the database file in
// order reads at once from the main file, the page it asked for included:
// one preadv instead of a pread per page (BenchmarkBlobRead).
const readAheadBytes = 128 << 10

// readPage reads page pg as the connection sees it. In a concurrent
// transaction, it records the reads of the snapshot, but not those of the
// transaction's own writes, nor those past the snapshot's end: SQLite read
// the snapshot's page before it wrote there (a read recorded then), or
// never needed it, as for a page it allocated; and past the end, the
// snapshot has no page of another commit to see. Work a transaction undid
// after SQLite spilled it (a failed statement) leaves such pages in the
// write set, and SQLite reads them as it allocates them again; a page it
// allocated past the end, freed and took again, dropped from its cache
// unwritten, it reads back too. Recording those reads made any commit
// that grew the file or took pages from the free list a conflict. Page 1
// is always recorded: Validate's header check relies on it.
func (f *File) readPage(pg wal.PageNo, dst []byte) error {
	if pg == f.nextRead {
		f.seqReads = min(f.seqReads+1, 2)
	} else {
		f.seqReads = 0
	}
	f.nextRead = pg + 1
	b, written := f.ws[pg]
	spilled := !written && f.spilled.has(pg)
	if f.track && (pg == 1 || !written && !spilled && pg <= wal.PageNo(f.snapSize)) {
		f.reads[pg] = struct{}{}
	}
	if written {
		copy(dst, b)
		return nil
	}
	if spilled {
		if err := f.spilled.read(pg, dst); err != nil {
			return f.ioFail(capi.IOERR_READ, err)
		}
		return nil
	}
	v := f.readVersion()
	if pg == 1 && f.page1 != nil && f.page1Ver == v && len(dst) == len(f.page1) {
		copy(dst, f.page1)
		f.presentCounter(dst, v)
		return nil
	}
	ahead := 0
	if f.seqReads == 2 {
		ahead = readAheadBytes/len(dst) - 1
	}
	if _, err := f.e.log.ReadPageAhead(pg, v, dst, ahead); err != nil {
		return f.ioFail(capi.IOERR_READ, err)
	}
	if pg == 1 && len(dst) >= 100 {
		presentRollbackMode(dst)
		if f.pinned {
			f.page1 = append(f.page1[:0], dst...)
			f.page1Ver = v
		}
		f.presentCounter(dst, v)
	}
	return nil
}

// presentCounter writes into page 1, read at version v, the change counter
// shown to this connection's SQLite (bytes 24-27, and 92-95, which SQLite
// requires to match them). A commit leaves page 1 out when nothing but
// SQLite's change counter changed in it (see leavePage1Out), so the stored
// counter no longer moves with every commit; but a connection's SQLite
// keeps its page cache only while the counter it reads at each lock is the
// one it saw last (or, after its own commit, the one it wrote). So each
// connection is shown a counter of its own that moves, by 2, whenever its
// snapshot does: always even, it never equals what SQLite wrote at its last
// commit (the counter it read, plus one), which would make SQLite keep
// pages that other commits changed. Connections whose cache the driver
// keeps (SnapshotChanges) are told the new counter; all others reset their
// cache on the change, as on every commit before.
func (f *File) presentCounter(p1 []byte, v wal.Version) {
	if !f.counterSet || v != f.counterVer {
		f.counter += 2
		f.counterVer, f.counterSet = v, true
	}
	// The header's page count is valid only while the version-valid-for
	// number (92) equals the counter (24): a file last written by SQLite
	// before 3.7.0, or by another program, may say otherwise, and SQLite
	// must then take the size from the file, as it would on its own VFS.
	valid := binary.BigEndian.Uint32(p1[24:]) == binary.BigEndian.Uint32(p1[92:])
	binary.BigEndian.PutUint32(p1[24:], f.counter)
	if valid {
		binary.BigEndian.PutUint32(p1[92:], f.counter)
	} else if binary.BigEndian.Uint32(p1[92:]) == f.counter {
		binary.BigEndian.PutUint32(p1[92:], f.counter+1) // odd: never the counter
	}
}

// presentRollbackMode shows SQLite page 1 in rollback mode: the file
// format versions (bytes 18 and 19) that say WAL or rollback read 1.
// Others, of a format newer than SQLite's, stay: SQLite then opens the
// file read-only (byte 18) or not at all (byte 19), as on its own VFS.
func presentRollbackMode(p1 []byte) {
	if p1[18] == 2 {
		p1[18] = 1
	}
	if p1[19] == 2 {
		p1[19] = 1
	}
}

// WriteAt records a page in the private write set. SQLite writes whole,
// aligned pages of the main database file.
func (f *File) WriteAt(p []byte, off int64) error {
	if f.readOnly {
		return f.fail(capi.READONLY, fmt.Errorf("database %s is read-only", f.e.name))
	}
	ps := f.pageSize()
	if ps == 0 {
		f.wsPS = len(p)
		ps = len(p)
	}
	if len(p) != ps {
		return f.fail(capi.IOERR_WRITE, fmt.Errorf("write of %d bytes to %s with page size %d: changing the page size of a database is not supported", len(p), f.e.name, ps))
	}
	if off%int64(ps) != 0 {
		return f.fail(capi.IOERR_WRITE, fmt.Errorf("unaligned write at %d to %s", off, f.e.name))
	}
	if off == 0 {
		if declared := wal.DeclaredPageSize(p); declared != ps {
			return f.fail(capi.IOERR_WRITE, fmt.Errorf("write of page 1 of %s declaring page size %d, not %d: changing the page size of a database is not supported", f.e.name, declared, ps))
		}
	}
	if err := f.e.log.Err(); err != nil {
		return f.ioFail(capi.IOERR_WRITE, err)
	}
	pg := wal.PageNo(off/int64(ps) + 1)
	f.markDirty()
	f.wsSize = max(f.wsSize, uint32(pg))
	if f.spilled.has(pg) {
		err := f.spilled.put(pg, p)
		if err == nil {
			return nil
		}
		f.spillFailed(err) // the page stays in memory from now on
	}
	b, ok := f.ws[pg]
	if !ok {
		if len(f.ws) >= wsMemMax/ps && !f.spilled.failed {
			f.spillWrites()
		}
		if n := len(f.free); n > 0 && len(f.free[n-1]) == ps {
			b, f.free = f.free[n-1], f.free[:n-1]
		} else {
			b = pagecache.NewPage(ps) // every byte is copied over below
		}
		if f.ws == nil {
			f.ws = make(map[wal.PageNo][]byte)
		}
		f.ws[pg] = b
	}
	copy(b, p)
	return nil
}

// spillWrites moves the pages of the write set to disk (spilled), all but
// page 1, which the commit and BEGIN CONCURRENT's checks look at: a
// transaction's memory then stays bounded however much it writes, as
// stock SQLite in WAL mode spills its dirty pages to the log. If the file
// cannot be written, what was not moved stays in memory, and so does the
// rest of the transaction's write set (the first failure in the process
// is logged).
func (f *File) spillWrites() {
	for pg, b := range f.ws {
		if pg == 1 {
			continue
		}
		if err := f.spilled.put(pg, b); err != nil {
			f.spillFailed(err)
			return
		}
		delete(f.ws, pg)
		f.recycle(b)
	}
}

// wsLen is the number of pages in the write set, in memory and on disk.
func (f *File) wsLen() int { return len(f.ws) + f.spilled.n }

func (f *File) markDirty() {
	if !f.dirty {
		f.wsSize = f.e.log.Size(f.readVersion())
		f.dirty = true
	}
}

// Truncate sets the size of the private view (VACUUM, auto-vacuum, and the
// rollback of a transaction that grew the file).
func (f *File) Truncate(size int64) error {
	if f.readOnly {
		return f.fail(capi.READONLY, fmt.Errorf("database %s is read-only", f.e.name))
	}
	ps := int64(f.pageSize())
	if ps == 0 {
		return nil
	}
	f.markDirty()
	n := uint32(size / ps)
	for pg, b := range f.ws {
		if uint32(pg) > n {
			delete(f.ws, pg)
			f.recycle(b)
		}
	}
	f.spilled.truncate(n)
	f.wsSize = n
	return nil
}

// recycle keeps a page buffer of the write set for the connection's next
// one, or, past the 256 it keeps, for any connection's or page cache's
// (pagecache.FreePage): a big transaction's buffers serve the next big one
// instead of going to the collector (a 1000-row insert into a table with
// three indexes allocated 8.3 MiB without it, 5.1 MiB with it).
func (f *File) recycle(b []byte) {
	if len(f.free) < 256 {
		f.free = append(f.free, b)
	} else {
		pagecache.FreePage(b)
	}
}

// discard drops the private write set (ROLLBACK, or after a commit).
func (f *File) discard() {
	for pg, b := range f.ws {
		delete(f.ws, pg)
		f.recycle(b)
	}
	f.spilled.reset()
	f.dirty = false
	f.wsSize = 0
}

// Sync is SQLite's last step before the commit point: the log reserves
// space for the commit here, so that a full disk makes SQLite roll the
// transaction back instead of failing after its journal is gone. Durability
// itself is decided at the commit point, by the connection's sync mode, not
// by SQLite's synchronous setting.
func (f *File) Sync(flags int32) error {
	if !f.dirty || f.wsLen() == 0 {
		return nil
	}
	if f.mergeTry {
		if err := f.checkMerge(); err != nil {
			return err
		}
	}
	if f.rollingBack() {
		return nil
	}
	if err := f.e.log.Reserve(f.wsLen(), f.pageSize()); err != nil {
		return f.spaceFail(capi.IOERR_WRITE, err) // the reservation writes zeros
	}
	return nil
}

// ReadOnly reports whether the connection may not write the database
// (mode=ro, or a file the process may not write).
func (f *File) ReadOnly() bool { return f.readOnly }

// rollingBack reports whether SQLite syncs after playing its journal back
// (a ROLLBACK of a transaction that spilled pages), not to commit: a
// commit writes page 1 with the change counter its pager holds plus one
// (sqlCounter), a playback writes page 1, if at all, as the transaction
// found it, whose counter may be older (SQLite's cache kept across
// snapshots). Log space is reserved only for a commit: a rollback must not
// grow the log, nor fail on a full disk.
func (f *File) rollingBack() bool {
	p1, ok := f.ws[1]
	return !ok || len(p1) < 28 || binary.BigEndian.Uint32(p1[24:]) != f.sqlCounter+1
}

// Size is the database size of the connection's view.
func (f *File) Size() (int64, error) {
	if f.pageSize() == 0 {
		return f.e.db.Size() // empty, or not a database: see ReadAt
	}
	return int64(f.sizePages()) * int64(f.pageSize()), nil
}

// Lock moves the connection up SQLite's lock levels. SHARED pins a
// snapshot (the newest durable version; the newest version outright, with
// the writer lock taken first, when the statement announced it writes).
// RESERVED takes the writer lock, waiting in line up to the busy timeout,
// and refuses with SQLITE_BUSY_SNAPSHOT when the snapshot is no longer the
// newest version, as SQLite's WAL mode does. EXCLUSIVE needs nothing more.
func (f *File) Lock(level int32) error {
	if level <= f.lock {
		return nil
	}
	if err := f.e.log.Err(); err != nil {
		return f.ioFail(capi.IOERR_LOCK, err)
	}
	if f.lock == capi.LOCK_NONE {
		switch {
		case f.hasWriter:
			f.setSnap(f.e.pinLast(), nil)
		case f.intent && !f.concurrent && !f.readOnly:
			if err := f.acquireWriter(); err != nil {
				return err
			}
			f.intentLock = true
			f.setSnap(f.e.pinLast(), nil)
		default:
			f.setSnap(f.e.pinReader())
		}
		f.lock = capi.LOCK_SHARED
	}
	if level >= capi.LOCK_RESERVED && f.lock < capi.LOCK_RESERVED {
		if f.readOnly {
			return f.fail(capi.READONLY, fmt.Errorf("database %s is read-only", f.e.name))
		}
		if f.uncaptured() {
			return f.uncapturedErr()
		}
		if err := f.UnstoredWrite(); err != nil {
			return err
		}
		if !f.concurrent && !f.hasWriter {
			if err := f.acquireWriter(); err != nil {
				return err
			}
			if last := f.e.log.Last(); f.snap != last {
				f.releaseWriter()
				// Let the commits the snapshot missed become durable, so
				// the retry's new snapshot includes them.
				f.e.log.WaitDurable(last)
				f.e.stats.snapshotRetries.Add(1)
				if f.owner != nil {
					f.owner.RetryBusyNow()
				}
				return f.fail(capi.BUSY_SNAPSHOT, fmt.Errorf("snapshot %v of %s is stale (newest %v)", f.snap, f.e.name, last))
			}
		}
		if f.uncaptured() {
			// Checked again under the writer lock, which capture is
			// switched on under.
			f.releaseWriter()
			return f.uncapturedErr()
		}
		if err := f.UnstoredWrite(); err != nil {
			f.releaseWriter() // durable CDC started while it waited
			return err
		}
		if f.unhooked() {
			// Capture started while the statement waited, or since it
			// was compiled without the hook.
			f.HookPreUpdate()
			f.releaseWriter()
			// Not f.fail: SQLite retries, and the error must not outlive
			// the retry to be wrapped into a later one.
			return &capi.CodeError{Code: capi.SCHEMA, Err: fmt.Errorf("a write to %s compiled without the pre-update hook, while its changes are captured: compile it again", f.e.name)}
		}
		f.lock = capi.LOCK_RESERVED
	}
	f.lock = max(f.lock, level)
	return nil
}

// maxKeptChanges bounds the frames SnapshotChanges reports: past it,
// dropping the pages one by one costs more than SQLite refilling its cache.
const maxKeptChanges = 2048

// SnapshotChanges implements capi.CacheFile: it reports the pages committed
// between the version the connection's SQLite page cache holds (the
// snapshot of its previous SHARED lock, or its own commit on top of that
// snapshot, see CommitPhaseTwo) and the snapshot Lock just pinned, so that
// SQLite drops only those instead of its whole cache. Every commit between
// the two is another connection's, and each page the cache may hold stale
// is reported; no page at all means no other connection committed. It
// cannot tell (ok=false, and SQLite resets its cache as in stock rollback
// mode) the first time, when the log restarted since the previous snapshot
// and no longer knows it, when the database shrank (pages past the new end
// are in no frame), or when more than maxKeptChanges frames were committed
// in between.
func (f *File) SnapshotChanges() (pages []uint32, fileVers []byte, ok bool) {
	prev, prevSize, known := f.cacheSnap, f.cacheSize, f.cacheKnown
	f.cacheKnown, f.cacheConfirm = false, false
	if !f.pinned || f.dirty {
		return nil, nil, false
	}
	size := f.snapSize
	// The cache holds the new snapshot only once SQLite has read the
	// change counter (ReadAt confirms it): it then keeps the cache with
	// the pages reported here dropped, or resets it (the counter it is
	// shown differs from the one it holds). A failed read does neither,
	// and leaves the cache as it was: unknown.
	f.cacheSnap, f.cacheSize = f.snap, size
	defer func() { f.cacheConfirm = true }()
	if !known || f.snap < prev || size < prevSize {
		return nil, nil, false
	}
	f.changed = f.changed[:0]
	if f.snap > prev {
		f.changed, ok = f.e.log.ChangedSince(prev, f.snap, f.changed, maxKeptChanges)
		if !ok {
			return nil, nil, false
		}
		if f.page1 != nil && f.page1Ver == prev && !slices.Contains(f.changed, 1) {
			f.page1Ver = f.snap // unchanged since prev: no need to read it again
		}
	}
	if _, err := f.ReadAt(f.changedVers[:], 24); err != nil {
		return nil, nil, false
	}
	f.changed32 = f.changed32[:0]
	for _, p := range f.changed {
		f.changed32 = append(f.changed32, uint32(p))
	}
	f.e.stats.cacheKept.Add(1)
	return f.changed32, f.changedVers[:], true
}

// acquireWriter takes the engine's writer lock, waiting in line until the
// call's context ends or the busy timeout passes.
func (f *File) acquireWriter() error {
	if !f.e.wlock.tryAcquire() {
		f.e.stats.writerWaits.Add(1)
		ctx, timeout := ownerWait(f.owner)
		if err := f.e.wlock.acquire(ctx, timeout); err != nil {
			if f.owner != nil {
				f.owner.GiveUpBusy()
			}
			return f.fail(capi.BUSY, fmt.Errorf("waiting for the writer lock of %s: %w", f.e.name, err))
		}
	}
	f.hasWriter = true
	// Before the writer learns NextVersion (durable CDC stores it).
	f.e.restartOnWrite()
	return nil
}

func (f *File) releaseWriter() {
	if f.hasWriter {
		f.hasWriter = false
		f.e.wlock.release()
	}
}

// Unlock moves the connection down: below RESERVED the transaction is over
// (an uncommitted write set is a rollback) and the writer lock goes; at
// NONE the snapshot is released.
func (f *File) Unlock(level int32) error {
	if level >= f.lock {
		return nil
	}
	if level < capi.LOCK_RESERVED {
		if f.dirty {
			f.discard()
		}
		// In a concurrent transaction the writer lock belongs to the
		// driver's commit protocol, which rolls back and replays the
		// transaction while holding it.
		if !f.concurrent {
			f.releaseWriter()
		}
	}
	if level == capi.LOCK_NONE && f.pinned {
		f.unpinSnap()
	}
	f.lock = level
	return nil
}

// CheckReservedLock answers SQLite's only question with it, whether the
// rollback journal may be hot, with "a writer holds it": no journal here
// ever is. SQLite asks at the start of every read, and the journal stays
// open between transactions (see DeviceCharacteristics); a ROLLBACK that
// could not read it back (its disk file failing) leaves its content there,
// which SQLite would take for a crashed writer's and play back, under the
// writer lock, before every later read. The engine already dropped that
// transaction's writes, and the next transaction overwrites the journal.
func (f *File) CheckReservedLock() (bool, error) { return true, nil }

// SectorSize is the sector size SQLite assumes.
func (f *File) SectorSize() int32 { return 512 }

// DeviceCharacteristics: a write never damages bytes outside its range.
// The rest describe the rollback journal, which SQLite judges by the
// database file's device: a private file (tempFile) that never has to
// survive a crash (the engine's log does that), so SQLite need not order
// its writes with syncs (SAFE_APPEND, SEQUENTIAL), and need not close it
// when a transaction ends (UNDELETABLE_WHEN_OPEN: with
// journal_mode=TRUNCATE, SetupJournal's, the journal stays open, emptied,
// for the connection's next transaction).
func (f *File) DeviceCharacteristics() int32 {
	return capi.IOCAP_POWERSAFE_OW | capi.IOCAP_SAFE_APPEND | capi.IOCAP_SEQUENTIAL | capi.IOCAP_UNDELETABLE | capi.IOCAP_SUBPAGE_READ
}

// CommitPhaseTwo is the commit point: SQLite has written every page of the
// transaction into the write set. The pages go to the log as one commit
// (page 1 saying WAL mode on disk), the writer lock is handed to the next
// writer at once, and the call returns when the commit is durable, sharing
// the log write and fdatasync with the commits that wait with it.
func (f *File) CommitPhaseTwo() error {
	if !f.dirty || f.wsLen() == 0 {
		f.discard()
		return nil
	}
	if !f.hasWriter {
		if !f.concurrent {
			f.discard()
			return f.fail(capi.IOERR, fmt.Errorf("commit to %s without the writer lock", f.e.name))
		}
		// A concurrent transaction committed by SQL the driver did not see
		// (a prepared COMMIT): its pages may be published only if nothing
		// was committed since its snapshot. Otherwise it is dropped here,
		// as if rolled back, and the commit fails.
		if err := f.acquireWriter(); err != nil {
			f.discard()
			return err
		}
		if val, err := f.Validate(); err != nil || val.Stale {
			f.releaseWriter()
			f.discard()
			if err == nil {
				err = fmt.Errorf("BEGIN CONCURRENT transaction on %s committed by a statement the driver did not run (use Exec(\"COMMIT\") or Tx.Commit), and versions were committed since its snapshot: rolled back", f.e.name)
			}
			return f.fail(capi.BUSY_SNAPSHOT, err)
		}
	}
	size := f.wsSize
	// Once this commits, SQLite's pager holds the counter it wrote in
	// page 1, whether or not page 1 goes to the log (leavePage1Out).
	p1Counter, hasP1 := uint32(0), false
	if b, ok := f.ws[1]; ok && len(b) >= 28 {
		p1Counter, hasP1 = binary.BigEndian.Uint32(b[24:]), true
	}
	// A page 1 written with file format versions other than the rollback
	// mode's (through sqlite_dbpage, say, from a WAL-mode file) stays so
	// in SQLite's cache, which reads version 2 as WAL mode and fails to
	// open a WAL: that cache must be dropped (see below).
	p1Foreign := hasP1 && (f.ws[1][18] != 1 || f.ws[1][19] != 1)
	left := f.leavePage1Out()
	if f.merge {
		f.merge = false
		if !left {
			if err := f.mergePage1(); err != nil {
				f.releaseWriter()
				f.discard()
				return f.ioFail(capi.IOERR_READ, err)
			}
		}
		size = f.e.log.Size(f.e.log.Last())
	}
	pages := make([]wal.Page, 0, f.wsLen())
	for pg, b := range f.ws {
		if pg == 1 && len(b) > 19 {
			b[18], b[19] = 2, 2
		}
		pages = append(pages, wal.Page{No: pg, Data: b})
	}
	f.spilled.each(func(pg wal.PageNo) { pages = append(pages, wal.Page{No: pg}) })
	slices.SortFunc(pages, func(a, b wal.Page) int { return int(a.No) - int(b.No) })
	// SQLite's cache holds the snapshot its pages came from with this
	// write set on top: if the snapshot is the newest version, that is
	// exactly what this commit makes, and the cache need not drop its
	// own pages at the next snapshot (nor count the commit as another
	// connection's, see SnapshotChanges).
	onTop := f.cacheKnown && f.cacheSnap == f.snap && f.e.log.Last() == f.snap
	page1Kept := pages[0].No != 1
	var v wal.Version
	var err error
	if f.spilled.n > 0 {
		v, err = f.e.log.AppendLoading(pages, size, f.commitSync, f.spilled.read)
	} else {
		v, err = f.e.log.Append(pages, size, f.commitSync)
	}
	if err == nil && hasP1 {
		f.sqlCounter = p1Counter
	}
	if err == nil && f.capture != nil {
		if tx := f.capture(); tx != nil {
			f.e.enqueueChanges(v, tx)
		}
	}
	finishing := err == nil && f.pinned
	if finishing {
		// Pinned before the writer lock goes: a log restart (which takes
		// the lock) must see v among the pinned versions, since newer
		// commits may follow before this snapshot moves to it.
		f.e.pin(v)
		f.e.finishing.Add(1)
	}
	f.releaseWriter()
	f.discard()
	if err != nil {
		return f.spaceFail(capi.IOERR_WRITE, err) // Append changes nothing when it fails
	}
	err = f.e.log.WaitDurable(v)
	f.e.publishDurable()
	if err != nil {
		if finishing {
			f.e.unpin(v)
			f.e.finishing.Add(-1)
		}
		return f.ioFail(capi.IOERR_FSYNC, err)
	}
	f.lastCommit = v
	if p1Foreign {
		// Unknown: at the next snapshot SQLite compares the change counter,
		// sees another than the one it wrote, and resets its cache.
		f.cacheKnown = false
	} else if onTop {
		f.cacheSnap, f.cacheSize = v, size
		if page1Kept && f.page1 != nil && f.page1Ver == f.snap {
			f.page1Ver = v
		}
	}
	if f.pinned {
		f.unpinSnap()
		f.setSnap(v, nil)
	}
	if finishing {
		f.e.finishing.Add(-1)
	}
	if err := f.e.afterCommit(v); err != nil {
		return f.ioFail(capi.IOERR_WRITE, err)
	}
	return nil
}

// leavePage1Out drops page 1 from the write set if it differs from the
// snapshot's only in the change counter and the version-valid-for number,
// is not the commit's only page, and the commit is built on the snapshot
// (or merged on top of the newest version), and reports whether it did.
// SQLite in rollback mode rewrites page 1 at every commit just to advance
// the counter; nobody reads that (see presentCounter), and leaving it out
// halves what a one-page commit writes, checksums and syncs, and spares
// every other connection re-reading page 1, as in SQLite's WAL mode.
func (f *File) leavePage1Out() bool {
	mine, ok := f.ws[1]
	if !ok || f.wsLen() == 1 || !f.pinned || !f.merge && f.snap != f.e.log.Last() {
		return false
	}
	then := f.page1 // SQLite's view of the snapshot's page 1, when current
	if f.page1Ver != f.snap || len(then) != len(mine) {
		var err error
		if then, err = f.snapPage1(); err != nil {
			return false
		}
	}
	if !sameButCounter(mine, then) {
		return false
	}
	delete(f.ws, 1)
	f.recycle(mine)
	return true
}

// sameButCounter reports whether two copies of page 1 are the same but for
// the change counter (bytes 24-27), the version-valid-for number (92-95)
// and the journal-mode bytes 18-19, which differ between the file (WAL)
// and SQLite's view of it (rollback).
func sameButCounter(a, b []byte) bool {
	if len(a) != len(b) || len(a) < 100 {
		return false
	}
	for _, r := range [][2]int{{0, 18}, {20, 24}, {28, 92}, {96, len(a)}} {
		if !bytes.Equal(a[r[0]:r[1]], b[r[0]:r[1]]) {
			return false
		}
	}
	return true
}

// mergePage1 replaces the write set's page 1 with the newest version's,
// its change counter advanced, for a merged commit whose page 1 could not
// be left out (it is the commit's only page).
func (f *File) mergePage1() error {
	p1 := f.ws[1]
	if p1 == nil {
		p1 = make([]byte, f.pageSize())
		f.ws[1] = p1
	}
	if _, err := f.e.log.ReadPage(1, f.e.log.Last(), p1); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(p1[24:]) + 1
	binary.BigEndian.PutUint32(p1[24:], n)
	binary.BigEndian.PutUint32(p1[92:], n)
	return nil
}

// Close releases whatever the connection still holds and, for the last
// connection, the engine.
func (f *File) Close() error {
	if f.closed {
		return nil
	}
	f.concurrent = false
	f.Unlock(capi.LOCK_NONE)
	f.releaseWriter()
	f.closed = true
	return f.e.vfs.releaseEngine(f.e)
}
