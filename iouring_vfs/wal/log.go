// Package wal is the durable half of the storage engine: a write-ahead log in
// SQLite's WAL file format that keeps every committed version of every page
// until a checkpoint copies it into the main file.
//
// A Log owns two files, the main database file and its "-wal" log. Commits
// are appended under the caller's writer lock (Append: checksums, space
// reservation, the in-memory index) and made durable outside it (WaitDurable:
// committers that arrive while a flush is running share the next write and
// the next fdatasync). ReadPage serves any page as of any version still in
// the log. Checkpoint copies into the main file the newest version of each
// page that no pinned snapshot still needs, and restarts the log when no
// snapshot needs it at all.
//
// Versions. Every commit gets a Version, increasing for the life of the
// files: the log's checkpoint sequence number (bumped at every restart) in
// the high 32 bits and the commit's position in the log in the low 32 bits.
// Version seq<<32 (position 0) is the main file as it stood when the log was
// (re)started.
//
// Failures. Append reserves log space before anything becomes visible, so a
// full disk fails the commit and changes nothing. An error from a write or
// an fdatasync after that point poisons the Log: that commit and every later
// one fail with an error wrapping ErrPoisoned until the files are reopened,
// and fdatasync is never retried (its failure may have dropped dirty pages).
// Nothing acknowledged is lost and nothing half-written is read back:
// recovery keeps only whole commits with valid checksums.
package wal

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
	"github.com/golibsql/libsql/iouring_vfs/pagecache"
)

// Errors callers branch on.
var (
	// ErrPoisoned is wrapped by every error of a Log after a write or sync
	// of the log failed past the point of no return.
	ErrPoisoned = errors.New("wal: log poisoned by an earlier I/O error; reopen the database")
	// ErrCorrupt reports a log that SQLite itself would refuse.
	ErrCorrupt = errors.New("wal: corrupt log")
	// ErrClosed is returned by a closed Log.
	ErrClosed = errors.New("wal: log closed")
)

// Version identifies a committed state of the database; see the package doc.
type Version uint64

// Seq is the checkpoint sequence number the version belongs to.
func (v Version) Seq() uint32 { return uint32(v >> 32) }

// String formats v as seq.commit.
func (v Version) String() string { return fmt.Sprintf("%d.%d", uint32(v>>32), uint32(v)) }

// SyncMode says when the log is made durable. The Log itself only uses it
// for the fdatasyncs it does on its own (before and after a checkpoint, at
// a restart, after recovery); whether a commit is fdatasync'ed is the sync
// argument of its Append, which the engine sets under SyncFull only.
type SyncMode uint8

const (
	// SyncFull: commits are appended with sync set, so a commit returns
	// after its frames are written and fdatasync'ed (SQLite's WAL with
	// synchronous=FULL).
	SyncFull SyncMode = iota
	// SyncNormal: commits are appended without sync and return after their
	// frames are written; the log is synced before each checkpoint, so a
	// power loss may lose the last commits but never corrupts (SQLite's WAL
	// with synchronous=NORMAL).
	SyncNormal
	// SyncOff: the Log never fdatasyncs on its own; commits appended with
	// sync set are still fdatasync'ed, and while the log holds one,
	// checkpoints sync as under SyncNormal, so that it stays durable.
	SyncOff
)

// String returns the DSN spelling of m.
func (m SyncMode) String() string {
	switch m {
	case SyncFull:
		return "full"
	case SyncNormal:
		return "normal"
	case SyncOff:
		return "off"
	}
	return fmt.Sprintf("SyncMode(%d)", uint8(m))
}

// ParseSyncMode parses "full", "normal" or "off".
func ParseSyncMode(s string) (SyncMode, error) {
	switch s {
	case "full":
		return SyncFull, nil
	case "normal":
		return SyncNormal, nil
	case "off":
		return SyncOff, nil
	}
	return 0, fmt.Errorf("wal: unknown sync mode %q (want full, normal or off)", s)
}

// Options configure a Log.
type Options struct {
	// Sync is the log's durability mode: under SyncOff the Log never
	// fdatasyncs on its own, checkpoints included (unless the log holds a
	// commit appended with sync). Whether a commit is fdatasync'ed is the
	// committer's choice (Append's sync argument), honoured in every mode.
	Sync SyncMode
	// PageSize is the page size of a log created from nothing. Zero means:
	// the size of the first commit's pages.
	PageSize int
	// MinSeq is the lowest checkpoint sequence number a log created from
	// nothing may start with, so that versions keep increasing when a log
	// file was deleted (stock SQLite deletes it at its last close).
	MinSeq uint32
	// ReserveAhead is how many bytes of log space Append reserves (by
	// writing zeros) beyond what a commit needs, so that most commits
	// overwrite space already in the file. Zero means 1 MiB.
	ReserveAhead int64
	// Cache, if not nil, caches page images read from both files. Its page
	// size must be the log's.
	Cache *pagecache.Cache
	// Rand returns salts for new log headers; nil means math/rand/v2.
	Rand func() uint32
	// ReadOnly says the files were opened read-only: recovery then leaves
	// what follows the last whole commit in the log file as it is, for
	// the next writable open to cut.
	ReadOnly bool
}

// Page is one page of a commit.
type Page struct {
	No   PageNo // the page number, from 1
	Data []byte // the page's bytes, as long as the page size
}

type frameRef struct {
	v Version
	f FrameNo
}

type commitRec struct {
	v    Version
	last FrameNo // the commit frame
	size uint32  // database size in pages after the commit
}

// pendingWrite is an appended commit whose frames are not yet in the file.
type pendingWrite struct {
	v     Version
	first FrameNo // first frame in buf
	last  FrameNo
	off   int64 // file offset of buf
	// buf holds [header] frames; nil when AppendLoading wrote them to the
	// file itself (then every commit before it was written first, and
	// written counts its frames).
	buf    []byte
	hdr    bool   // buf starts with the log header
	sync   bool   // the commit wants fdatasync before it is durable
	size   uint32 // database size in pages at v
	state  writeState
	synced bool // its batch was fdatasync'ed
	// superseded names the cached images of the frames this commit
	// supersedes (the previous frame of each page it writes), dropped
	// when its own are cached.
	superseded []pagecache.Key
}

// Log is a write-ahead log in SQLite's WAL format over a main database file.
type Log struct {
	db, wal ioback.File
	opts    Options
	cache   atomic.Pointer[pagecache.Cache]
	rnd     func() uint32

	// appendMu serializes Append with the restart step of Checkpoint: both
	// change the header and the checksum chain.
	appendMu sync.Mutex
	running  [2]uint32 // checksum of the last appended frame
	reserved int64     // log bytes reserved with Allocate
	// sizeLimit is the size a restart cuts the file to, if it is larger
	// (PRAGMA journal_size_limit); negative: no limit.
	sizeLimit atomic.Int64
	// synced and unsynced commits seen since Open (see maxInFlight).
	seenSync, seenNoSync bool
	// syncedInLog is set (under mu) when a commit appended with sync has
	// frames in the log: checkpoints then sync even under SyncOff, or a
	// restart could discard frames a commit acknowledged as durable before
	// the main file holds them durably (see checkpointSyncLocked).
	syncedInLog bool
	// mainDirty counts the checkpoints that wrote the main file without
	// syncing it (SyncOff), mainSynced how many of them a sync covers
	// (both under mu): a batch with a synced commit syncs the main file
	// first when they differ, or the commit, durable in the log, would
	// stand on pages a restart took out of the log and that are durable
	// nowhere.
	mainDirty, mainSynced uint64

	// ckptMu lets one checkpoint run at a time.
	ckptMu sync.Mutex

	// mu guards everything below. Readers hold it shared while they look
	// up a frame; Append and the flush leader hold it briefly.
	mu      rwMutex
	flushed *sync.Cond // on mu; broadcast after every flush
	hdr     header
	gen     uint64  // bumped at every restart; keys cache entries of frames
	base    Version // commits of this log generation are base+1, base+2, ...
	floor   Version // the version current when this generation began
	// retained holds, for the snapshots older than the newest version that
	// were pinned when RestartRetaining ran, the pages they would read from
	// the log and the main file that its checkpoint and restart overwrite or
	// drop (see RestartRetaining).
	retained map[Version]*retainedSnap
	// retainedPages counts the pages in retained (written under mu).
	retainedPages atomic.Int64
	// retainGen counts installs of retained: a read from the main file
	// that overlapped one is repeated, since the checkpoint that follows
	// may have been overwriting the page.
	retainGen atomic.Uint64
	commits   []commitRec
	index     map[PageNo][]frameRef
	framePage []PageNo // framePage[f-1] is the page frame f holds
	mainPages uint32   // database size (pages) as the main file holds it at base
	lastFrame FrameNo
	written   FrameNo // frames in the file
	synced    FrameNo // frames in the file and synced
	backfill  FrameNo // frames copied into the main file
	pending   []*pendingWrite
	flushing  int // batches being written
	unclaimed int // pending commits in stateAppended
	gathering *gather
	// Sizes of the last two batches and a moving average of fdatasync's
	// duration, which size the next leader's gathering (see gatherFor).
	lastBatch [2]int
	syncAvg   time.Duration
	err       error // sticky: poisoned or closed
	durable   atomic.Uint64
	// Lock-free copies for the readers' hot path, which must not queue
	// behind a committer waiting for mu: failed is set with err, genNow
	// follows gen, and pageSize is the header's page size once known (it
	// never changes after).
	failed   atomic.Bool
	genNow   atomic.Uint64
	pageSize atomic.Int32
	// frameCounts is lastFrame<<32 | backfill, for Frames: every commit
	// asks whether a checkpoint is due, and must not yield to a
	// checkpoint waiting for mu to find out.
	frameCounts atomic.Uint64
	// durSize is the newest durable version with its database size, which
	// is what most snapshots pin (see Size).
	durSize atomic.Pointer[versionSize]

	stats struct {
		commits, flushes, syncs, gathers, checkpoints, restarts, retaining, pagesBackfilled atomic.Uint64
	}
}

// rwMutex is a sync.RWMutex whose readers let a waiting writer run at
// once. A writer that finds readers inside parks, and the reader leaving
// last wakes it onto its own processor's run queue, to run when that reader
// blocks or is preempted: 10 ms later when the reader is a goroutine doing
// point selects that never block (measured: a committer beside 4 such
// readers on 2 cores fell from 8k to 3k commits/s once the readers stopped
// blocking on this lock themselves). A reader that leaves while a writer
// waits therefore yields.
type rwMutex struct {
	sync.RWMutex
	writers atomic.Int32 // writers in Lock
}

func (m *rwMutex) Lock() {
	m.writers.Add(1)
	m.RWMutex.Lock()
	m.writers.Add(-1)
}

func (m *rwMutex) RUnlock() {
	m.RWMutex.RUnlock()
	if m.writers.Load() > 0 {
		runtime.Gosched()
	}
}

// Open opens the log over the main database file db and the log file walf,
// recovering the log's contents as SQLite would: frames are read up to the
// first one with a wrong salt or checksum, and only whole commits are kept.
// A missing or invalid header means an empty log. The Log does not close the
// files; the caller does, after Close.
func Open(db, walf ioback.File, opts Options) (*Log, error) {
	// The main file may hold writes of an earlier process's unsynced
	// checkpoint (under SyncOff) that no log frame backs any more: the
	// first synced commit syncs it too.
	l := &Log{db: db, wal: walf, opts: opts, rnd: opts.Rand, mainDirty: 1}
	l.sizeLimit.Store(-1)
	if opts.Cache != nil {
		l.cache.Store(opts.Cache)
	}
	if l.rnd == nil {
		l.rnd = rand.Uint32
	}
	if l.opts.ReserveAhead <= 0 {
		l.opts.ReserveAhead = 1 << 20
	}
	l.flushed = sync.NewCond(&l.mu)
	l.index = make(map[PageNo][]frameRef)
	l.gen = 1
	l.genNow.Store(1)
	if err := l.recover(); err != nil {
		return nil, err
	}
	return l, nil
}

// recover rebuilds the index from the log file.
func (l *Log) recover() error {
	walSize, err := l.wal.Size()
	if err != nil {
		return fmt.Errorf("wal: size of log: %w", err)
	}
	var hb [HeaderSize]byte
	hok := false
	if walSize >= HeaderSize {
		if _, err := l.wal.ReadAt(hb[:], 0); err != nil {
			return fmt.Errorf("wal: read log header: %w", err)
		}
		var herr error
		l.hdr, hok, herr = decodeHeader(hb[:])
		if herr != nil {
			return herr
		}
	}
	if !hok {
		l.newHeader(l.opts.MinSeq, l.opts.PageSize)
		l.base = Version(l.hdr.seq) << 32
		l.floor = l.base
		if err := l.readMainSize(); err != nil {
			return err
		}
		l.setDurable(l.base, l.sizeLocked(l.base))
		// No frame, but the file's bytes (a commit's reserved zeros whose
		// header a power loss lost): TRUNCATE, a restart's cut to
		// journal_size_limit and the close's trim must see them.
		l.reserved = walSize
		return nil
	}
	if l.hdr.seq < l.opts.MinSeq {
		// The header stays as it is on disk (stock SQLite's frames are
		// bound to its salts); only our version numbers start higher.
		l.base = Version(l.opts.MinSeq) << 32
	} else {
		l.base = Version(l.hdr.seq) << 32
	}
	l.floor = l.base
	if err := l.readMainSize(); err != nil {
		return err
	}
	ps := l.hdr.pageSize
	fsz := int64(FrameHeaderSize + ps)
	running := l.hdr.cksum
	commitRunning := running
	var uncommitted []PageNo // pages of the commit being read, by frame
	// Frames are read in chunks that double from one frame up to
	// chunkFrames: a log restarted before the last close (the usual case)
	// holds old frames or zeros after its header, and recovery then reads
	// one frame, not a whole chunk.
	const chunkFrames = 64
	var buf []byte
	reqs := make([]ioback.Read, chunkFrames)
	off := int64(HeaderSize)
	f := FrameNo(0)
	chunk := int64(1)
scan:
	for off+fsz <= walSize {
		n := min(chunk, (walSize-off)/fsz)
		chunk = min(2*chunk, chunkFrames)
		if int64(len(buf)) < n*fsz {
			buf = make([]byte, n*fsz)
		}
		// One frame-sized read per frame, all in one batch (one preadv:
		// the frames follow one another in the file).
		for i := range n {
			reqs[i] = ioback.Read{P: buf[i*fsz : (i+1)*fsz], Off: off + i*fsz}
		}
		if err := l.wal.ReadBatch(reqs[:n]); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("wal: recovery read of log at %d: %w", off, err)
		}
		for i := range n {
			if reqs[i].N < int(fsz) {
				break scan
			}
			fr := reqs[i].P
			p, size, next, ok := l.hdr.decodeFrame(fr[:FrameHeaderSize], fr[FrameHeaderSize:], running)
			if !ok {
				break scan
			}
			running = next
			f++
			uncommitted = append(uncommitted, p)
			if size != 0 {
				v := l.base + Version(len(l.commits)+1)
				first := f - FrameNo(len(uncommitted)) + 1
				for j, pg := range uncommitted {
					l.index[pg] = append(l.index[pg], frameRef{v: v, f: first + FrameNo(j)})
				}
				l.framePage = append(l.framePage, uncommitted...)
				uncommitted = uncommitted[:0]
				l.commits = append(l.commits, commitRec{v: v, last: f, size: size})
				commitRunning = running
			}
		}
		off += n * fsz
	}
	l.running = commitRunning
	if len(l.commits) > 0 {
		l.lastFrame = l.commits[len(l.commits)-1].last
	}
	l.written, l.synced = l.lastFrame, l.lastFrame
	l.publishFramesLocked()
	l.reserved = walSize
	// The recovered commits may have been acknowledged as durable: under
	// SyncOff too, checkpoints must not discard them unsynced.
	l.syncedInLog = l.lastFrame > 0
	// Frames past the last whole commit that carry this header's salts (a
	// batch torn by a power loss, its later frames kept and an earlier one
	// lost) would chain onto a new commit identical to the lost frames,
	// and a later recovery would bring back commits that this one dropped.
	// Stock SQLite's WAL has that weakness; here the next commits cannot
	// chain onto them: a log without commits gets new salts (its header
	// is written with the first commit), and a log with commits is cut
	// after the last one.
	cut := false
	if l.lastFrame == 0 {
		// No commit: the header's page size is no part of the database
		// (a log left by a restart beside a file restored since, say);
		// the main file's is.
		l.newHeader(l.hdr.seq, l.opts.PageSize)
		if err := l.readMainSize(); err != nil {
			return err
		}
	} else if end := HeaderSize + int64(l.lastFrame)*fsz; walSize > end && !l.opts.ReadOnly {
		if err := l.wal.Truncate(end); err != nil {
			return fmt.Errorf("wal: cut log after its last commit at %d: %w", end, err)
		}
		l.reserved = end
		cut = true
	}
	if l.lastFrame > 0 && (l.opts.Sync != SyncOff || cut) {
		// The frames may still be only in the OS cache (the writer died,
		// the machine did not): make them durable, and the cut, before
		// building on them.
		if err := l.wal.Sync(); err != nil {
			return fmt.Errorf("wal: fdatasync recovered log: %w", err)
		}
	}
	last := l.lastVersionLocked()
	l.setDurable(last, l.sizeLocked(last))
	return nil
}

// newHeader starts a fresh header (nothing written yet) with sequence seq.
func (l *Log) newHeader(seq uint32, pageSize int) {
	l.hdr = header{pageSize: pageSize, seq: seq, salt1: l.rnd(), salt2: l.rnd()}
	l.running = [2]uint32{}
}

func (l *Log) readMainSize() error {
	sz, err := l.db.Size()
	if err != nil {
		return fmt.Errorf("wal: size of database file: %w", err)
	}
	if l.hdr.pageSize == 0 {
		if sz > 0 {
			// A file too short to say its page size has none: it is not
			// a database, which SQLite reading its bytes tells.
			var b [18]byte
			n, err := l.db.ReadAt(b[:], 0)
			if err != nil && !(errors.Is(err, io.EOF) && n < len(b)) {
				return fmt.Errorf("wal: read page size of database file: %w", err)
			}
			if ps := DeclaredPageSize(b[:]); n == len(b) && validPageSize(ps) {
				l.hdr.pageSize = ps
			}
		}
		if l.hdr.pageSize == 0 {
			l.mainPages = 0
			return nil
		}
	}
	// A partial last page counts, read with zeros after the file's end,
	// as SQLite counts it: a file shorter than one page is not empty.
	ps := int64(l.hdr.pageSize)
	l.mainPages = uint32((sz + ps - 1) / ps)
	return nil
}

// PageSize is the log's page size; 0 until known (an empty log over an
// empty database, before the first commit).
func (l *Log) PageSize() int {
	if ps := l.pageSize.Load(); ps != 0 {
		return int(ps)
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	l.pageSize.Store(int32(l.hdr.pageSize))
	return l.hdr.pageSize
}

// Last is the newest appended version, durable or not. Writers build on it.
func (l *Log) Last() Version {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.lastVersionLocked()
}

func (l *Log) lastVersionLocked() Version {
	if n := len(l.commits); n > 0 {
		return l.commits[n-1].v
	}
	return l.floor
}

// NextVersion is the version the next Append will return, as long as no
// Append and no restart happens in between (the engine holds its writer
// lock, under which both happen).
func (l *Log) NextVersion() Version {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.base + Version(len(l.commits)+1)
}

// RaiseFloor makes the versions of commits from now on carry a checkpoint
// sequence number of at least seq, so that versions keep increasing when
// the log file lost its header (deleted by stock SQLite, or truncated) and
// the caller knows of higher versions handed out before (durable CDC does).
// It changes nothing once the current log generation has commits: theirs
// come from the header, which already carries the right sequence number.
func (l *Log) RaiseFloor(seq uint32) {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.commits) == 0 && l.base.Seq() < seq {
		l.base = Version(seq) << 32
		if l.lastFrame == 0 {
			l.hdr.seq = max(l.hdr.seq, seq)
		}
	}
}

// Durable is the newest version whose commit, and every commit before it,
// is written to the log file and fdatasync'ed if its Append asked for sync
// (or, after Open, the newest recovered version). A group-commit batch may
// advance it past commits whose WaitDurable has not been called yet. Under
// SyncNormal it may still be lost to a power failure until a checkpoint
// syncs the log. Readers pin it.
func (l *Log) Durable() Version { return Version(l.durable.Load()) }

// versionSize is a version and the database size in pages at it.
type versionSize struct {
	v    Version
	size uint32
}

// setDurable makes v, of size pages, the newest durable version. l.mu is
// held.
func (l *Log) setDurable(v Version, size uint32) {
	l.durSize.Store(&versionSize{v, size})
	l.durable.Store(uint64(v))
}

// Size is the database size in pages as of version v.
func (l *Log) Size(v Version) uint32 {
	if d := l.durSize.Load(); d != nil && d.v == v {
		return d.size
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.sizeLocked(v)
}

func (l *Log) sizeLocked(v Version) uint32 {
	if i := l.commitAt(v); i >= 0 {
		return l.commits[i].size
	}
	if r := l.retainedAt(v); r != nil {
		return r.size
	}
	return l.mainPages
}

// commitAt returns the index of the newest commit at or below v, or -1.
func (l *Log) commitAt(v Version) int {
	n := len(l.commits)
	if n == 0 || v < l.commits[0].v {
		return -1
	}
	if v >= l.commits[n-1].v {
		return n - 1
	}
	return sort.Search(n, func(i int) bool { return l.commits[i].v > v }) - 1
}

// lookup returns the frame holding page p as of version v.
func (l *Log) lookup(p PageNo, v Version) (FrameNo, bool) {
	refs := l.index[p]
	i := len(refs) - 1
	for ; i >= 0 && refs[i].v > v; i-- {
	}
	if i < 0 {
		return 0, false
	}
	return refs[i].f, true
}

// ChangedSince appends to dst the pages written by commits newer than v up
// to and including w (a page may appear more than once) and returns it. It
// reports ok=false, and appends nothing, if v is older than the log's start,
// when the log can no longer tell, or if those commits wrote more than max
// frames. It costs one step per frame of those commits.
func (l *Log) ChangedSince(v, w Version, dst []PageNo, max int) (_ []PageNo, ok bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	first, last := FrameNo(1), FrameNo(0)
	var r *retainedSnap
	if v < l.floor {
		if r = l.retainedAt(v); r == nil || w < l.floor {
			return dst, false
		}
	} else if i := l.commitAt(v); i >= 0 {
		first = l.commits[i].last + 1
	}
	if j := l.commitAt(w); j >= 0 {
		last = l.commits[j].last
	}
	n := 0
	if r != nil {
		n = len(r.pages)
	}
	if last >= first {
		n += int(last - first + 1)
	}
	if n > max {
		return dst, false
	}
	if r != nil {
		for p := range r.pages {
			dst = append(dst, p)
		}
	}
	if last >= first {
		dst = append(dst, l.framePage[first-1:last]...)
	}
	return dst, true
}

// FirstChanged returns a page of pages that a commit newer than v, up to
// and including w, wrote, or 0 if there is none. ok is false if v is older
// than the log's start, when the log can no longer tell. It walks whichever
// is smaller, pages or the log's index.
func (l *Log) FirstChanged(v, w Version, pages map[PageNo]struct{}) (p PageNo, ok bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var r *retainedSnap
	if v < l.floor {
		if r = l.retainedAt(v); r == nil || w < l.floor {
			return 0, false
		}
	}
	changed := func(pg PageNo, refs []frameRef) bool {
		if r != nil {
			if _, in := r.pages[pg]; in {
				return true
			}
		}
		for i := len(refs) - 1; i >= 0 && refs[i].v > v; i-- {
			if refs[i].v <= w {
				return true
			}
		}
		return false
	}
	if r != nil || len(pages) <= len(l.index) {
		for pg := range pages {
			if changed(pg, l.index[pg]) && (p == 0 || pg < p) {
				p = pg
			}
		}
		return p, true
	}
	for pg, refs := range l.index {
		if _, in := pages[pg]; in && changed(pg, refs) && (p == 0 || pg < p) {
			p = pg
		}
	}
	return p, true
}

// frameOffset is the file offset of frame f in a log of page size ps. The
// page size is the caller's snapshot, taken under mu: Append rewrites the
// header while a checkpoint copies frames.
func frameOffset(f FrameNo, ps int) int64 {
	return HeaderSize + int64(f-1)*int64(FrameHeaderSize+ps)
}

// ReadPage reads page p as of version v into buf (len(buf) must be the page
// size). found is false, with buf zeroed, when the page is beyond the end of
// the database at v or beyond the end of the main file. The caller must
// keep v pinned (passed as a lower bound to Checkpoint) while it reads.
func (l *Log) ReadPage(p PageNo, v Version, buf []byte) (found bool, err error) {
	return l.ReadPageAhead(p, v, buf, 0)
}

// ReadPageAhead is ReadPage for a reader going through the file in order
// (an overflow chain, a table written in order): when it reads page p from
// the main file and the page cache does not hold it, it also reads into the
// cache, in the same request (one preadv), up to ahead of the pages that
// follow p, as far as version v reads them from the main file too and the
// cache does not hold them already.
func (l *Log) ReadPageAhead(p PageNo, v Version, buf []byte, ahead int) (found bool, err error) {
	for {
		l.mu.RLock()
		if l.err != nil && errors.Is(l.err, ErrClosed) {
			l.mu.RUnlock()
			return false, ErrClosed
		}
		if len(buf) != l.hdr.pageSize {
			ps := l.hdr.pageSize
			l.mu.RUnlock()
			return false, fmt.Errorf("wal: read of page %d with a %d-byte buffer, page size %d", p, len(buf), ps)
		}
		if r := l.retainedAt(v); r != nil {
			if b, in := r.pages[p]; in || uint32(p) > r.size {
				clear(buf[copy(buf, b):])
				l.mu.RUnlock()
				return b != nil, nil
			}
		}
		f, inLog := l.lookup(p, v)
		if !inLog && uint32(p) > l.mainPages {
			l.mu.RUnlock()
			clear(buf)
			return false, nil
		}
		if inLog && f > l.written {
			l.copyPendingLocked(f, buf)
			l.mu.RUnlock()
			return true, nil
		}
		gen, rgen := l.gen, l.retainGen.Load()
		var off int64
		var key pagecache.Key
		if inLog {
			off = frameOffset(f, l.hdr.pageSize) + FrameHeaderSize
			key = pagecache.Key{Page: uint32(p), Src: gen<<32 | uint64(f)}
		} else {
			off = int64(p-1) * int64(l.hdr.pageSize)
		}
		l.mu.RUnlock()

		if inLog {
			err = l.loadCached(key, buf, l.wal, off)
			// A restart may have reused the frame's place in the file
			// while we read it; then the page is in the main file.
			if l.genNow.Load() != gen {
				if c := l.cache.Load(); c != nil {
					c.Remove(key)
				}
				continue
			}
			if err != nil {
				return false, fmt.Errorf("wal: read page %d from log frame %d: %w", p, f, err)
			}
			return true, nil
		}
		if ahead > 0 {
			err = l.loadAhead(p, v, buf, off, ahead)
		} else {
			err = l.loadCached(pagecache.Key{Page: uint32(p)}, buf, l.db, off)
		}
		if l.retainGen.Load() != rgen {
			continue
		}
		if errors.Is(err, io.EOF) {
			clear(buf)
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("wal: read page %d from database file: %w", p, err)
		}
		return true, nil
	}
}

func (l *Log) loadCached(key pagecache.Key, buf []byte, f ioback.File, off int64) error {
	read := func(b []byte) error {
		n, err := f.ReadAt(b, off)
		if n == len(b) {
			return nil
		}
		if f == l.db && n > 0 && (err == nil || errors.Is(err, io.EOF)) {
			clear(b[n:]) // the main file's partial last page
			return nil
		}
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	c := l.cache.Load()
	if c == nil || c.PageSize() != len(buf) {
		return read(buf)
	}
	return c.Load(key, buf, read)
}

// loadAhead reads page p from the main file at off through the cache, and
// with it the pages after p that version v reads from the main file (see
// ReadPageAhead).
func (l *Log) loadAhead(p PageNo, v Version, buf []byte, off int64, ahead int) error {
	c := l.cache.Load()
	if c == nil || c.PageSize() != len(buf) {
		return l.loadCached(pagecache.Key{Page: uint32(p)}, buf, l.db, off)
	}
	sc := aheadScratchPool.Get().(*aheadScratch)
	next := func() []pagecache.Key {
		l.mu.RLock()
		defer l.mu.RUnlock()
		r := l.retainedAt(v)
		keys := sc.keys[:0]
		for q := p + 1; q <= p+PageNo(ahead) && uint32(q) <= l.mainPages; q++ {
			if _, inLog := l.lookup(q, v); inLog {
				break
			}
			if r != nil {
				if _, in := r.pages[q]; in || uint32(q) > r.size {
					break
				}
			}
			keys = append(keys, pagecache.Key{Page: uint32(q)})
		}
		sc.keys = keys
		return keys
	}
	err := c.LoadAhead(pagecache.Key{Page: uint32(p)}, buf, next, func(bufs [][]byte) (int, error) {
		if len(sc.reqs) < len(bufs) {
			sc.reqs = make([]ioback.Read, len(bufs))
		}
		reqs := sc.reqs[:len(bufs)]
		for i, b := range bufs {
			reqs[i] = ioback.Read{P: b, Off: off + int64(i)*int64(len(b))}
		}
		err := l.db.ReadBatch(reqs)
		if err != nil {
			sc.reqs = nil // ReadBatch may keep reqs (see aheadScratch)
		}
		n := 0
		for n < len(reqs) && reqs[n].N == len(reqs[n].P) {
			n++
		}
		if n == 0 && reqs[0].N > 0 && (reqs[0].Err == nil || errors.Is(reqs[0].Err, io.EOF)) {
			clear(reqs[0].P[reqs[0].N:]) // the main file's partial last page
			n = 1
		}
		if n > 0 {
			return n, nil // pages after p that failed are read again when wanted
		}
		switch {
		case reqs[0].Err != nil:
			return 0, reqs[0].Err
		case err != nil:
			return 0, err
		}
		return 0, io.ErrUnexpectedEOF
	})
	clear(sc.reqs) // they point into the cache's memory
	aheadScratchPool.Put(sc)
	return err
}

// aheadScratch is loadAhead's working memory: the keys of the pages it
// reads ahead and the requests it reads them with. A sequential reader
// calls loadAhead every few pages, and making these anew each call was
// most of the garbage of reading a blob, so they come from
// aheadScratchPool. Each call takes its own, and neither LoadAhead nor
// ReadBatch keeps them once they return, except a ReadBatch that fails:
// ioback keeps the requests of an io_uring it retires alive (the kernel may
// still be reading into their buffers), so after a failure they are not
// reused.
type aheadScratch struct {
	keys []pagecache.Key
	reqs []ioback.Read
}

var aheadScratchPool = sync.Pool{New: func() any { return new(aheadScratch) }}

// copyPendingLocked copies frame f's page from the commits not yet written.
func (l *Log) copyPendingLocked(f FrameNo, buf []byte) {
	for _, pw := range l.pending {
		if f < pw.first || f > pw.last {
			continue
		}
		o := int64(f-pw.first)*int64(FrameHeaderSize+l.hdr.pageSize) + FrameHeaderSize
		if pw.hdr {
			o += HeaderSize
		}
		copy(buf, pw.buf[o:o+int64(l.hdr.pageSize)])
		return
	}
	panic(fmt.Sprintf("wal: frame %d is neither written nor pending", f))
}

// withGrowth returns pages with a zero page added for every page that the
// commit adds to the database (from cur+1 to dbSize) without writing it:
// SQLite does not write the pages a transaction allocated and freed again,
// only the new last page, and stock SQLite's checkpoint refuses a log whose
// commits claim more pages than its frames and the main file hold (as
// corrupt; so does ours, checkClaimedSize). Such pages read as zeros either
// way. The result is in page order when zero pages are added.
func withGrowth(pages []Page, cur, dbSize uint32, ps int) []Page {
	if dbSize <= cur {
		return pages
	}
	have := 0
	for _, pg := range pages {
		if uint32(pg.No) > cur && uint32(pg.No) <= dbSize {
			have++
		}
	}
	if have == int(dbSize-cur) {
		return pages
	}
	sorted := slices.Clone(pages)
	slices.SortFunc(sorted, func(a, b Page) int { return cmp.Compare(a.No, b.No) })
	zero := make([]byte, ps)
	out := make([]Page, 0, len(pages)+int(dbSize-cur)-have)
	i := 0
	for i < len(sorted) && uint32(sorted[i].No) <= cur {
		out = append(out, sorted[i])
		i++
	}
	for p := cur + 1; p <= dbSize; p++ {
		if i < len(sorted) && uint32(sorted[i].No) == p {
			out = append(out, sorted[i])
			i++
		} else {
			out = append(out, Page{No: PageNo(p), Data: zero})
		}
	}
	return append(out, sorted[i:]...)
}

// Append adds a commit of pages, with the database size in pages after it,
// and returns its version. Calls must not overlap (the engine calls it under
// its writer lock); the commit becomes durable with WaitDurable, after its
// frames are written and, if sync is set (synchronous=FULL), fdatasync'ed.
// Append is the point of no return: when it fails nothing changed; once it
// returns, the commit is visible to Last, ReadPage and later Appends.
func (l *Log) Append(pages []Page, dbSize uint32, sync bool) (Version, error) {
	return l.append(pages, dbSize, sync, nil)
}

// AppendLoading is Append for a commit too big to hold in memory twice
// (the pages of a transaction that spilled its write set to disk): the
// pages whose Data is nil are read with load as they are encoded, and the
// frames go to the log file a chunk (streamChunk) at a time within the
// call, after the commits appended before it are written, instead of into
// one buffer that WaitDurable writes. The call holds up other appends for
// as long as its writes take. A load that fails, or a full disk, changes
// nothing; a write to the log that fails poisons it, as one in WaitDurable
// would. The commit is durable, as any other, once WaitDurable returns.
func (l *Log) AppendLoading(pages []Page, dbSize uint32, sync bool, load func(p PageNo, buf []byte) error) (Version, error) {
	if load == nil {
		return 0, errors.New("wal: AppendLoading without a load function")
	}
	return l.append(pages, dbSize, sync, load)
}

// streamChunk is how many bytes of frames AppendLoading encodes and writes
// at a time (a variable for tests).
var streamChunk int64 = 1 << 20

func (l *Log) append(pages []Page, dbSize uint32, sync bool, load func(PageNo, []byte) error) (Version, error) {
	if len(pages) == 0 {
		return 0, errors.New("wal: commit with no pages")
	}
	l.appendMu.Lock()
	defer l.appendMu.Unlock()

	if load != nil {
		// The frames go straight to the file, after those of the commits
		// already appended: those must be in the file first (see
		// pendingWrite.buf).
		if err := l.WaitDurable(l.Last()); err != nil {
			return 0, err
		}
	}
	l.mu.RLock()
	err, ps, last := l.err, l.hdr.pageSize, l.lastFrame
	l.mu.RUnlock()
	if err != nil {
		return 0, err
	}
	if ps == 0 {
		for _, pg := range pages {
			if pg.Data != nil {
				ps = len(pg.Data)
				break
			}
		}
		if !validPageSize(ps) {
			return 0, fmt.Errorf("wal: invalid page size %d", ps)
		}
	}
	for _, pg := range pages {
		if (pg.Data != nil || load == nil) && len(pg.Data) != ps {
			return 0, fmt.Errorf("wal: page %d has %d bytes, page size %d", pg.No, len(pg.Data), ps)
		}
		if pg.No == 0 {
			return 0, errors.New("wal: page number 0")
		}
	}
	if dbSize == 0 {
		return 0, errors.New("wal: commit with database size 0")
	}
	l.mu.RLock()
	cur := l.sizeLocked(l.lastVersionLocked())
	l.mu.RUnlock()
	pages = withGrowth(pages, cur, dbSize, ps)
	if n := maxInFlight; n > 1 && (sync && l.seenNoSync || !sync && l.seenSync) {
		return 0, fmt.Errorf("wal: commit with sync=%v after commits with sync=%v: parallel batches (maxInFlight %d) cannot order an fdatasync after an earlier batch's write", sync, !sync, n)
	}
	fsz := int64(FrameHeaderSize + ps)
	withHdr := last == 0
	off := HeaderSize + int64(last)*fsz
	if withHdr {
		off = 0
	}
	if err := l.reserveLocked(last, len(pages), ps); err != nil {
		return 0, err
	}

	hdr := l.hdr
	hdr.pageSize = ps
	running := l.running
	var buf []byte
	if load == nil {
		n := int64(len(pages)) * fsz
		if withHdr {
			n += HeaderSize
		}
		buf = getFrameBuf(int(n)) // every byte is written below
		b := buf
		if withHdr {
			hdr.encode(b[:HeaderSize])
			running = hdr.cksum
			b = b[HeaderSize:]
		}
		running, _ = hdr.encodeFrames(b, pages, dbSize, running, nil)
	} else if running, err = l.streamFrames(&hdr, pages, dbSize, off, withHdr, load); err != nil {
		return 0, err
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return 0, l.err
	}
	l.hdr = hdr
	l.running = running
	if sync {
		l.seenSync = true
		l.syncedInLog = true
	} else {
		l.seenNoSync = true
	}
	v := l.base + Version(len(l.commits)+1)
	first := l.lastFrame + 1
	var superseded []pagecache.Key
	cached := l.cache.Load() != nil
	for i, pg := range pages {
		refs := l.index[pg.No]
		if cached && len(refs) > 0 {
			superseded = append(superseded, pagecache.Key{Page: uint32(pg.No), Src: l.gen<<32 | uint64(refs[len(refs)-1].f)})
		}
		l.index[pg.No] = append(refs, frameRef{v: v, f: first + FrameNo(i)})
		l.framePage = append(l.framePage, pg.No)
	}
	l.lastFrame += FrameNo(len(pages))
	if load != nil {
		l.written = l.lastFrame
	}
	l.publishFramesLocked()
	l.commits = append(l.commits, commitRec{v: v, last: l.lastFrame, size: dbSize})
	l.pending = append(l.pending, &pendingWrite{v: v, first: first, last: l.lastFrame, off: off, buf: buf, hdr: withHdr, sync: sync, size: dbSize, superseded: superseded})
	l.unclaimed++
	if g := l.gathering; g != nil && l.unclaimed >= g.want {
		l.gathering = nil
		close(g.done)
	}

	l.stats.commits.Add(1)
	return v, nil
}

// streamFrames encodes the frames of pages, the log header first when
// withHdr, and writes them at off a chunk at a time, for AppendLoading; it
// returns the running checksum after the commit frame. Loading a page
// fails before the commit frame is written: the frames written until then
// are no commit and the next one overwrites them. A write that fails
// poisons the log.
func (l *Log) streamFrames(hdr *header, pages []Page, dbSize uint32, off int64, withHdr bool, load func(PageNo, []byte) error) ([2]uint32, error) {
	fsz := int64(FrameHeaderSize + hdr.pageSize)
	per := max(1, int(streamChunk/fsz))
	buf := make([]byte, HeaderSize+int64(min(per, len(pages)))*fsz)
	running := l.running
	for len(pages) > 0 {
		k := min(per, len(pages))
		b := buf[:HeaderSize+int64(k)*fsz]
		frames := b[HeaderSize:]
		if withHdr {
			hdr.encode(b[:HeaderSize])
			running = hdr.cksum
			withHdr = false
		} else {
			b = frames
		}
		commit := uint32(0)
		if k == len(pages) {
			commit = dbSize
		}
		var err error
		if running, err = hdr.encodeFrames(frames, pages[:k], commit, running, load); err != nil {
			return running, err
		}
		if _, err := l.wal.WriteAt(b, off); err != nil {
			return running, l.poison(fmt.Errorf("wal: write %d frames at log offset %d: %w", k, off, err))
		}
		off += int64(len(b))
		pages = pages[k:]
	}
	return running, nil
}

// encodeFrames encodes pages as frames into b, which holds exactly
// len(pages) frames, chaining checksums from running; the last one is a
// commit frame with database size commit unless commit is 0. A page
// without Data is read with load into its frame.
func (h *header) encodeFrames(b []byte, pages []Page, commit uint32, running [2]uint32, load func(PageNo, []byte) error) ([2]uint32, error) {
	fsz := FrameHeaderSize + h.pageSize
	for i, pg := range pages {
		fh, data := b[:FrameHeaderSize], b[FrameHeaderSize:fsz]
		if pg.Data != nil {
			copy(data, pg.Data)
		} else if err := load(pg.No, data); err != nil {
			return running, fmt.Errorf("wal: load page %d of a commit: %w", pg.No, err)
		}
		c := uint32(0)
		if i == len(pages)-1 {
			c = commit
		}
		running = h.encodeFrame(fh, pg.No, c, data, running)
		b = b[fsz:]
	}
	return running, nil
}

// WaitDurable returns once version v (returned by Append) and every commit
// before it are durable, or with the error that poisoned the log.
//
// Group commit: a committer that finds no batch being written writes, with
// one vectored write, every commit appended so far that nobody has started
// writing (its own and those of committers that appended after it but have
// not got here), then fdatasyncs if any of them asked for it; committers
// that arrive meanwhile wait, and the next of them writes the next batch.
// (With maxInFlight above 1, several batches may be written at once, each
// committer writing its own.) A commit is durable once its batch is and
// every earlier one is.
func (l *Log) WaitDurable(v Version) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	gathered := false
	for {
		if Version(l.durable.Load()) >= v {
			return nil
		}
		if l.err != nil {
			return l.err
		}
		i := 0
		for i < len(l.pending) && l.pending[i].state != stateAppended {
			i++
		}
		j := i
		for j < len(l.pending) && l.pending[j].v <= v && l.pending[j].state == stateAppended {
			j++
		}
		if i == j || l.flushing >= maxInFlight || l.gathering != nil {
			l.flushed.Wait() // someone else is writing what v needs
			continue
		}
		if l.flushing == 0 {
			// Nothing in flight: take every commit appended so far, so that
			// one fdatasync serves them all.
			for j < len(l.pending) && l.pending[j].state == stateAppended {
				j++
			}
			if !gathered {
				gathered = true
				if l.gatherFor(i, j) {
					continue
				}
			}
		}
		l.writeBatch(i, j)
	}
}

// gather is a flush leader's wait for the committers of the previous batch
// to append again.
type gather struct {
	want int           // unclaimed commits that end the wait
	done chan struct{} // closed by the Append that reaches want
}

// gatherFor lets the leader about to write pending[i:j] wait, with l.mu
// released, for more commits to join the batch, and reports whether it
// waited. Without it, committers settle into alternating batches: the first
// to return from a batch finds nothing in flight and writes its own commit
// alone while the others append behind it, so 8 committers share an
// fdatasync 4 at a time. The leader waits until as many commits are appended
// as the larger of the last two batches held, for at most two average
// fdatasyncs (and gatherMax), and only when the batch will sync: a lone
// committer, or one whose peers have stopped, waits at most twice before the
// batch sizes shrink to match. The wait is that long because the committers
// of the last batch come back one transaction later, and on few cores they
// execute a few at a time: a batch that leaves them behind syncs with a
// fraction of them while the others, done a moment later, wait for a whole
// fdatasync with the CPU idle (measured, 8 BEGIN CONCURRENT writers on 2
// cores: waiting half an fdatasync gathered 5.6 commits per batch, two
// gather 7.7 and commit 10% more).
func (l *Log) gatherFor(i, j int) bool {
	want := max(l.lastBatch[0], l.lastBatch[1])
	budget := 2 * l.syncAvg
	if j-i >= want || budget < gatherMin {
		return false
	}
	wantSync := false
	for _, pw := range l.pending[i:j] {
		wantSync = wantSync || pw.sync
	}
	if !wantSync {
		return false
	}
	l.stats.gathers.Add(1)
	g := &gather{want: want, done: make(chan struct{})}
	l.gathering = g
	l.mu.Unlock()
	t := time.NewTimer(min(budget, gatherMax))
	select {
	case <-g.done:
	case <-t.C:
	}
	t.Stop()
	l.mu.Lock()
	if l.gathering == g {
		l.gathering = nil
	}
	return true
}

// gatherMin and gatherMax bound a leader's wait: below gatherMin (fast
// storage, memory backends) the timer costs more than it saves; gatherMax
// caps the latency a stalled peer can add.
const (
	gatherMin = 20 * time.Microsecond
	gatherMax = 2 * time.Millisecond
)

// maxInFlight bounds the batches being written at once. With 1, a single
// batch is in flight and the next one gathers every commit appended
// meanwhile; above 1, committers that find a batch in flight write their
// own at once, and the file system merges the concurrent fdatasyncs.
//
// Above 1 a batch's fdatasync may run before an earlier batch's write has
// landed, so it covers only the earlier batches that sync themselves:
// Append then refuses to mix commits with and without sync in one Log,
// which keeps every acknowledged commit covered.
var maxInFlight = 1

// SetMaxInFlightForTesting changes maxInFlight, for benchmarks comparing
// the two ways. Above 1, every commit of a Log must ask for fdatasync, or
// none (see maxInFlight).
func SetMaxInFlightForTesting(n int) (restore func()) {
	old := maxInFlight
	maxInFlight = n
	return func() { maxInFlight = old }
}

// writeState is where a pending commit is on its way to the file.
type writeState uint8

const (
	stateAppended writeState = iota // in memory only
	stateWriting                    // a committer is writing it
	stateDone                       // written, and synced if it asked
)

// syncMain fdatasyncs the main file, which unsynced checkpoints wrote up
// to mainDirty count dirtyGen, for a batch with a synced commit.
func (l *Log) syncMain(dirtyGen uint64) error {
	if err := l.db.Sync(); err != nil {
		return fmt.Errorf("wal: fdatasync database file before a synced commit: %w", err)
	}
	l.stats.syncs.Add(1)
	l.mu.Lock()
	l.mainSynced = max(l.mainSynced, dirtyGen)
	l.mu.Unlock()
	return nil
}

// writeBatch writes pending[i:j], which the caller claims, releasing l.mu
// during the I/O, then marks them done and advances the durable version
// over the done prefix.
func (l *Log) writeBatch(i, j int) {
	batch := make([]*pendingWrite, j-i)
	bufs := make([][]byte, 0, j-i)
	wantSync := false
	var off int64
	for k := i; k < j; k++ {
		pw := l.pending[k]
		pw.state = stateWriting
		batch[k-i] = pw
		if pw.buf != nil {
			if len(bufs) == 0 {
				off = pw.off
			}
			bufs = append(bufs, pw.buf)
		}
		wantSync = wantSync || pw.sync
	}
	gen, ps := l.gen, int64(l.hdr.pageSize)
	mainDirty := wantSync && l.mainDirty != l.mainSynced
	dirtyGen := l.mainDirty
	l.flushing++
	l.unclaimed -= j - i
	l.lastBatch = [2]int{j - i, l.lastBatch[0]}
	l.mu.Unlock()

	var took time.Duration
	var err error
	if mainDirty {
		err = l.syncMain(dirtyGen)
	}
	if err == nil {
		// Without bufs, AppendLoading wrote them: only the sync is left.
		if len(bufs) > 0 {
			if err = l.wal.WritevAt(bufs, off); err != nil {
				err = fmt.Errorf("wal: write %d commits at log offset %d: %w", len(batch), off, err)
			}
		}
		if err == nil && wantSync {
			start := time.Now()
			if err = l.wal.Sync(); err != nil {
				err = fmt.Errorf("wal: fdatasync log: %w", err)
			}
			took = time.Since(start)
			l.stats.syncs.Add(1)
		}
	}
	l.stats.flushes.Add(1)
	if c := l.cache.Load(); err == nil && c != nil && c.PageSize() == int(ps) {
		// Pages just committed are the ones every connection re-reads;
		// the frames they supersede are read only by older snapshots,
		// which load them again if they need them.
		for _, pw := range batch {
			for _, k := range pw.superseded {
				c.Remove(k)
			}
			b := pw.buf
			if b == nil {
				continue // AppendLoading's: too big to cache
			}
			if pw.hdr {
				b = b[HeaderSize:]
			}
			for f := pw.first; f <= pw.last; f++ {
				fr := b[int64(f-pw.first)*(FrameHeaderSize+ps):]
				p := uint32(fr[0])<<24 | uint32(fr[1])<<16 | uint32(fr[2])<<8 | uint32(fr[3])
				c.Put(pagecache.Key{Page: p, Src: gen<<32 | uint64(f)}, fr[FrameHeaderSize:FrameHeaderSize+ps])
			}
		}
	}

	l.mu.Lock()
	l.flushing--
	if took > 0 {
		l.syncAvg += (took - l.syncAvg) / 8
	}
	if err != nil {
		l.poisonLocked(err)
		l.flushed.Broadcast()
		return
	}
	for _, pw := range batch {
		pw.state = stateDone
		pw.synced = wantSync
	}
	// The done prefix is durable: written, and synced where asked.
	n := 0
	for n < len(l.pending) && l.pending[n].state == stateDone {
		pw := l.pending[n]
		l.written = pw.last
		if pw.synced {
			l.synced = pw.last
		}
		l.setDurable(pw.v, pw.size)
		n++
	}
	if n > 0 {
		for _, pw := range l.pending[:n] {
			if pw.buf != nil {
				putFrameBuf(pw.buf) // no reader copies from it any more
			}
		}
		clear(l.pending[:n])
		l.pending = l.pending[n:]
	}
	l.flushed.Broadcast()
}

// framePool recycles the buffers commits are encoded into between Append
// and their write: one allocation and one zeroing less per commit.
var framePool sync.Pool

func getFrameBuf(n int) []byte {
	if p, ok := framePool.Get().(*[]byte); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]byte, n)
}

func putFrameBuf(b []byte) {
	if cap(b) > 4<<20 {
		return // a huge commit's buffer is not worth keeping
	}
	framePool.Put(&b)
}

// SetCache installs the page cache once the page size is known (a new
// database learns it from its first commit). A cache of another page size
// is ignored.
func (l *Log) SetCache(c *pagecache.Cache) { l.cache.Store(c) }

// Cache returns the page cache in use, or nil.
func (l *Log) Cache() *pagecache.Cache { return l.cache.Load() }

// Reserve makes sure the log has space for a commit of n pages after the
// frames appended so far, so that the Append that follows cannot fail for
// lack of space. A full disk is reported as an error matching
// syscall.ENOSPC, and nothing changes.
func (l *Log) Reserve(n, pageSize int) error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.mu.RLock()
	err, ps, last := l.err, l.hdr.pageSize, l.lastFrame
	l.mu.RUnlock()
	if err != nil {
		return err
	}
	if ps == 0 {
		ps = pageSize
	}
	return l.reserveLocked(last, n, ps)
}

// reserveLocked reserves space for n frames after frame last; appendMu is
// held.
func (l *Log) reserveLocked(last FrameNo, n, ps int) error {
	fsz := int64(FrameHeaderSize + ps)
	end := HeaderSize + (int64(last)+int64(n))*fsz
	if end <= l.reserved {
		return nil
	}
	grow := max(end-l.reserved, l.opts.ReserveAhead)
	// The space is reserved by writing zeros (never a valid frame), not
	// with fallocate: a commit that overwrites allocated blocks inside the
	// file needs no metadata in its fdatasync, which halves its latency on
	// ext4 (measured: 190 µs against 360 µs for appends and fallocated
	// space). A full disk fails here, before anything changes.
	zeros := zeroBlock()
	for off := l.reserved; off < l.reserved+grow; {
		n := min(int64(len(zeros)), l.reserved+grow-off)
		if _, err := l.wal.WriteAt(zeros[:n], off); err != nil {
			// A short write may have extended the file past off, with
			// zeros: the cuts to journal_size_limit and the close's trim
			// must see the bytes the file has.
			l.reserved = off
			if sz, serr := l.wal.Size(); serr == nil && sz > off {
				l.reserved = sz
			}
			return fmt.Errorf("wal: reserve %d bytes of log space at %d: %w", grow, off, err)
		}
		off += n
	}
	l.reserved += grow
	return nil
}

var zeroBuf []byte
var zeroOnce sync.Once

// zeroBlock is a shared, read-only block of zeros.
func zeroBlock() []byte {
	zeroOnce.Do(func() { zeroBuf = make([]byte, 256<<10) })
	return zeroBuf
}

// Commit appends a commit and waits until it is durable.
func (l *Log) Commit(pages []Page, dbSize uint32, sync bool) (Version, error) {
	v, err := l.Append(pages, dbSize, sync)
	if err != nil {
		return 0, err
	}
	return v, l.WaitDurable(v)
}

// Err returns the error that poisoned or closed the log, or nil.
func (l *Log) Err() error {
	if !l.failed.Load() {
		return nil
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.err
}

// MainPages is the number of pages the main file holds for the versions
// the log does not cover (0 for a database that has never been
// checkpointed). Pages above it are read only from the log, so copying
// them into the main file early is invisible to every reader.
func (l *Log) MainPages() uint32 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.mainPages
}

// Frames is the number of frames in the log and how many of them have been
// copied into the main file, read without the log's lock.
func (l *Log) Frames() (frames, backfilled int) {
	c := l.frameCounts.Load()
	return int(c >> 32), int(uint32(c))
}

// publishFramesLocked updates what Frames reports; the caller holds mu for
// writing and has just changed lastFrame or backfill.
func (l *Log) publishFramesLocked() {
	l.frameCounts.Store(uint64(l.lastFrame)<<32 | uint64(l.backfill))
}

// Close waits for a running flush and makes the Log unusable. It neither
// checkpoints nor closes the files, and returns nil: the error that
// poisoned the log, if any, was returned by the operation it broke, and
// stays wrapped in what Err and every other method return after Close
// (errors.Is matches both ErrClosed and ErrPoisoned).
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.flushing > 0 {
		l.flushed.Wait()
	}
	switch {
	case l.err == nil:
		l.err = ErrClosed
		l.failed.Store(true)
	case !errors.Is(l.err, ErrClosed):
		l.err = fmt.Errorf("%w (%w)", ErrClosed, l.err)
		l.failed.Store(true)
	}
	l.flushed.Broadcast()
	return nil
}

// Stats are a log's counters.
type Stats struct {
	Version         Version // newest appended version
	Durable         Version // newest durable version
	Frames          int     // frames in the log
	Backfilled      int     // frames copied into the main file
	Commits         uint64  // commits appended since open
	Flushes         uint64  // log writes (each may carry several commits)
	Syncs           uint64  // fdatasyncs of the log
	Gathers         uint64  // flushes whose leader waited for more commits
	Checkpoints     uint64  // checkpoints run, of every mode
	Restarts        uint64  // restarts of the log (new salts)
	Retaining       uint64  // restarts that kept pages of older snapshots (RestartRetaining)
	RetainedPages   int     // pages kept in memory now for those snapshots
	PagesBackfilled uint64  // pages copied into the main file
	Seq             uint32  // checkpoint sequence number
}

// Stats reports the log's counters.
func (l *Log) Stats() Stats {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return Stats{
		Version:         l.lastVersionLocked(),
		Durable:         l.Durable(),
		Frames:          int(l.lastFrame),
		Backfilled:      int(l.backfill),
		Commits:         l.stats.commits.Load(),
		Flushes:         l.stats.flushes.Load(),
		Syncs:           l.stats.syncs.Load(),
		Gathers:         l.stats.gathers.Load(),
		Checkpoints:     l.stats.checkpoints.Load(),
		Restarts:        l.stats.restarts.Load(),
		RetainedPages:   int(l.retainedPages.Load()),
		Retaining:       l.stats.retaining.Load(),
		PagesBackfilled: l.stats.pagesBackfilled.Load(),
		Seq:             l.hdr.seq,
	}
}
