package wal

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
	"github.com/golibsql/libsql/iouring_vfs/pagecache"
)

// CheckpointMode is one of SQLite's wal_checkpoint modes.
type CheckpointMode uint8

const (
	// CheckpointPassive copies what it can without waiting for anyone.
	CheckpointPassive CheckpointMode = iota
	// CheckpointFull copies every frame; it is busy if a pinned snapshot
	// still needs an older version.
	CheckpointFull
	// CheckpointRestart is Full, then restarts the log so the next commit
	// writes from its beginning; busy if a snapshot still reads the log.
	CheckpointRestart
	// CheckpointTruncate is Restart, then truncates the log file to zero
	// bytes.
	CheckpointTruncate
)

// String returns SQLite's name of m.
func (m CheckpointMode) String() string {
	switch m {
	case CheckpointPassive:
		return "PASSIVE"
	case CheckpointFull:
		return "FULL"
	case CheckpointRestart:
		return "RESTART"
	case CheckpointTruncate:
		return "TRUNCATE"
	}
	return fmt.Sprintf("CheckpointMode(%d)", uint8(m))
}

// ParseCheckpointMode parses SQLite's mode names, in any case.
func ParseCheckpointMode(s string) (CheckpointMode, error) {
	for m := CheckpointPassive; m <= CheckpointTruncate; m++ {
		if len(s) == len(m.String()) && equalFold(s, m.String()) {
			return m, nil
		}
	}
	return 0, fmt.Errorf("wal: unknown checkpoint mode %q (want PASSIVE, FULL, RESTART or TRUNCATE)", s)
}

func equalFold(a, b string) bool {
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// CheckpointResult is what a checkpoint did, in the terms of SQLite's
// wal_checkpoint pragma.
type CheckpointResult struct {
	// Busy is set when the mode could not be carried out in full because
	// a pinned snapshot still needs frames of the log.
	Busy bool
	// Frames is the number of frames in the log, and Backfilled how many
	// of them are now in the main file: after a RESTART that restarted
	// the log, the frames it had, all copied (SQLite's answer: its log
	// starts over at the next write); 0 after a TRUNCATE that did.
	Frames, Backfilled int
	// Pages is the number of pages this checkpoint wrote.
	Pages int
	// Restarted is set when the log was restarted.
	Restarted bool
}

// testHookAfterBackfill, when set, runs after a checkpoint copied its
// pages into the main file.
var testHookAfterBackfill func()

type copyItem struct {
	p PageNo
	f FrameNo
}

// Checkpoint copies into the main file the newest version of each page at
// or below oldest, the oldest version any pinned snapshot may still read
// (pass Durable() when nothing is pinned), and syncs the main file. In the
// RESTART and TRUNCATE modes, when every frame is copied and oldest is the
// newest version (so no snapshot reads the log any more), it restarts the
// log. It never blocks readers: pages
// a pinned snapshot reads from the main file are never among those written.
// One checkpoint runs at a time.
func (l *Log) Checkpoint(mode CheckpointMode, oldest Version) (CheckpointResult, error) {
	l.ckptMu.Lock()
	defer l.ckptMu.Unlock()
	l.DropRetained(oldest)
	return l.checkpointLocked(mode, oldest)
}

// RestartCheckpointed restarts the log if every frame is in the main file
// already and no snapshot older than the newest version is pinned (oldest
// is the oldest pinned), and reports whether it did. Unlike a RESTART
// checkpoint it copies nothing and counts no checkpoint: it is SQLite's
// restart at the first write after a checkpoint caught up. Appends must
// not run meanwhile (the engine holds its writer lock).
func (l *Log) RestartCheckpointed(oldest Version) (bool, error) {
	l.ckptMu.Lock()
	defer l.ckptMu.Unlock()
	l.DropRetained(oldest)
	return l.restart(CheckpointRestart, oldest)
}

// RetainedPages is the number of pages a restart keeps in memory for
// older snapshots now.
func (l *Log) RetainedPages() int { return int(l.retainedPages.Load()) }

// DropRetained frees the pages a restart kept (RestartRetaining) for the
// snapshots older than oldest, the oldest version still pinned: their
// readers are gone. Cheap when nothing is retained, so the engine calls it
// whenever a pin goes away.
func (l *Log) DropRetained(oldest Version) {
	if l.retainedPages.Load() == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for v, r := range l.retained {
		if v < oldest {
			delete(l.retained, v) // nobody reads it any more
			continue
		}
		n += len(r.pages)
	}
	l.retainedPages.Store(int64(n))
}

func (l *Log) checkpointLocked(mode CheckpointMode, oldest Version) (CheckpointResult, error) {
	l.mu.RLock()
	if l.err != nil {
		err := l.err
		l.mu.RUnlock()
		return CheckpointResult{}, err
	}
	safe := min(oldest, l.Durable())
	ci := l.commitAt(safe)
	var items []copyItem
	var mxFrame FrameNo
	var dbSize uint32
	complete := false
	if ci >= 0 {
		mxFrame = l.commits[ci].last
		dbSize = l.commits[ci].size
		complete = mxFrame == l.lastFrame
		c := l.cache.Load()
		for p, refs := range l.index {
			i := len(refs) - 1
			for ; i >= 0 && refs[i].v > safe; i-- {
			}
			if i >= 0 && refs[i].f > l.backfill && uint32(p) <= dbSize {
				// A page past the database's end is no part of it (a
				// commit that shrank it, or a hostile log): as in SQLite,
				// it is not copied.
				items = append(items, copyItem{p, refs[i].f})
			}
			if c != nil {
				// Every snapshot reads refs[i] or a later frame of p:
				// the images of the earlier ones are dead weight.
				for _, r := range refs[:max(i, 0)] {
					c.Remove(pagecache.Key{Page: uint32(p), Src: l.gen<<32 | uint64(r.f)})
				}
			}
		}
	}
	syncing := l.checkpointSyncLocked()
	needSync := syncing && l.synced < mxFrame
	// Frames up to backfill are in the main file already, and the file
	// was resized and synced when they were copied.
	copyNew := mxFrame > l.backfill
	ps := l.hdr.pageSize
	gen := l.gen
	l.mu.RUnlock()

	var res CheckpointResult
	if copyNew {
		if err := l.checkClaimedSize(dbSize, mxFrame, ps); err != nil {
			if errors.Is(err, ErrCorrupt) {
				return res, err
			}
			// The main file's size could not be read: an I/O error like
			// the copy's below, and a background checkpoint has no caller
			// to return it to (the fault review's soak saw it reach none).
			return res, l.poison(err)
		}
		if needSync {
			// Under SyncNormal commits are not synced: the log must be
			// durable before the main file holds what it says. The sync
			// covers only the frames written before it starts; frames
			// written while it runs need the next one.
			l.mu.RLock()
			covered := l.written
			l.mu.RUnlock()
			if err := l.wal.Sync(); err != nil {
				return res, l.poison(fmt.Errorf("wal: fdatasync log before checkpoint: %w", err))
			}
			l.stats.syncs.Add(1)
			l.mu.Lock()
			l.synced = max(l.synced, covered)
			l.mu.Unlock()
		}
		if err := l.backfillPages(items, ps, gen); err != nil {
			if errors.Is(err, ErrCorrupt) {
				return res, err // found before anything was written
			}
			return res, l.poison(err)
		}
		if testHookAfterBackfill != nil {
			testHookAfterBackfill()
		}
		if complete {
			if err := l.resizeMain(int64(dbSize) * int64(ps)); err != nil {
				return res, l.poison(err)
			}
		}
		if syncing {
			if err := l.db.Sync(); err != nil {
				return res, l.poison(fmt.Errorf("wal: fdatasync database file after checkpoint: %w", err))
			}
			l.stats.syncs.Add(1)
		}
		l.mu.Lock()
		if !syncing {
			l.mainDirty++
		}
		if mxFrame > l.backfill {
			l.backfill = mxFrame
			l.publishFramesLocked()
		}
		l.mu.Unlock()
		if c := l.cache.Load(); c != nil {
			for _, it := range items {
				c.Remove(pagecache.Key{Page: uint32(it.p)})
			}
		}
		l.stats.pagesBackfilled.Add(uint64(len(items)))
		res.Pages = len(items)
	}
	l.stats.checkpoints.Add(1)

	before := 0
	if mode >= CheckpointRestart {
		l.mu.RLock()
		before = int(l.lastFrame)
		l.mu.RUnlock()
		restarted, err := l.restart(mode, oldest)
		if err != nil {
			return res, err
		}
		res.Restarted = restarted
	}
	l.mu.RLock()
	res.Frames, res.Backfilled = int(l.lastFrame), int(l.backfill)
	if res.Restarted && mode == CheckpointRestart {
		res.Frames, res.Backfilled = before, before
	}
	caughtUp := l.backfill == l.lastFrame
	readersDone := oldest >= l.lastVersionLocked()
	l.mu.RUnlock()
	switch mode {
	case CheckpointFull:
		res.Busy = !caughtUp
	case CheckpointRestart, CheckpointTruncate:
		res.Busy = !caughtUp || !readersDone
	}
	return res, nil
}

// checkClaimedSize refuses, as SQLite's checkpoint does, a database size
// larger than the main file, the log's frames and the pending-byte page
// could make it (a hostile or corrupt log): copying it would grow the main
// file to that size (16 GiB for a commit claiming 2^24 pages). Commits
// write a frame for every page they add (withGrowth), so a log of ours
// always passes.
func (l *Log) checkClaimedSize(dbSize uint32, frames FrameNo, ps int) error {
	cur, err := l.db.Size()
	if err != nil {
		return fmt.Errorf("wal: size of database file: %w", err)
	}
	if want := int64(dbSize) * int64(ps); want > cur+65536+int64(frames)*int64(ps) {
		return fmt.Errorf("wal: checkpoint: the log claims a database of %d pages, more than the %d-byte database file and its %d frames can hold: %w", dbSize, cur, frames, ErrCorrupt)
	}
	return nil
}

// backfillPages copies the listed frames into the main file, in page order,
// reading them in batches and writing runs of consecutive pages with one
// vectored write.
func (l *Log) backfillPages(items []copyItem, ps int, gen uint64) error {
	slices.SortFunc(items, func(a, b copyItem) int { return int(a.p) - int(b.p) })
	const batch = 64
	bufs := make([][]byte, batch)
	mem := make([]byte, batch*ps)
	for i := range bufs {
		bufs[i] = mem[i*ps : (i+1)*ps]
	}
	reqs := make([]ioback.Read, 0, batch)
	for start := 0; start < len(items); start += batch {
		chunk := items[start:min(start+batch, len(items))]
		reqs = reqs[:0]
		for i, it := range chunk {
			key := pagecache.Key{Page: uint32(it.p), Src: gen<<32 | uint64(it.f)}
			if c := l.cache.Load(); c != nil && c.PageSize() == ps && c.Get(key, bufs[i]) {
				continue
			}
			reqs = append(reqs, ioback.Read{P: bufs[i], Off: frameOffset(it.f, ps) + FrameHeaderSize})
		}
		if len(reqs) > 0 {
			if err := l.wal.ReadBatch(reqs); err != nil {
				return fmt.Errorf("wal: checkpoint read of log frames: %w", err)
			}
			for _, r := range reqs {
				if r.N != ps {
					return fmt.Errorf("wal: checkpoint read of log at %d: %w", r.Off, io.ErrUnexpectedEOF)
				}
			}
		}
		if chunk[0].p == 1 {
			// Page 1 comes first, before anything is written: a log whose
			// page 1 declares another page size is corrupt, and copying it
			// would make the main file unreadable (SQLite's checkpoint
			// refuses it too).
			if d := DeclaredPageSize(bufs[0]); d != ps {
				return fmt.Errorf("wal: checkpoint: page 1 in log frame %d declares a page size of %d, the log's is %d: %w", chunk[0].f, d, ps, ErrCorrupt)
			}
		}
		for i := 0; i < len(chunk); {
			j := i + 1
			for j < len(chunk) && chunk[j].p == chunk[j-1].p+1 {
				j++
			}
			off := int64(chunk[i].p-1) * int64(ps)
			if err := l.db.WritevAt(bufs[i:j], off); err != nil {
				return fmt.Errorf("wal: checkpoint write of pages %d-%d: %w", chunk[i].p, chunk[j-1].p, err)
			}
			i = j
		}
	}
	return nil
}

// resizeMain sets the main file's size to the database size once every
// frame is copied (a commit may have shrunk the database, or grown it with
// pages never written).
func (l *Log) resizeMain(size int64) error {
	cur, err := l.db.Size()
	if err != nil {
		return fmt.Errorf("wal: size of database file: %w", err)
	}
	if cur != size {
		if err := l.db.Truncate(size); err != nil {
			return fmt.Errorf("wal: resize database file to %d bytes: %w", size, err)
		}
	}
	return nil
}

// restart starts a new log generation if every frame is in the main file
// and no snapshot older than the newest version exists (oldest is the
// oldest pinned). The new header, with a new sequence number and salts, is
// written and synced before any frame of the new generation, so that frames
// of the old generation can never be read as part of the new one (SQLite
// does the same). Truncate mode truncates the file instead.
func (l *Log) restart(mode CheckpointMode, oldest Version) (bool, error) {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return false, l.err
	}
	syncing := l.checkpointSyncLocked()
	if l.lastFrame == 0 {
		if mode == CheckpointTruncate && l.reserved > 0 {
			return false, l.truncateLocked(syncing)
		}
		// A log with no frame may still hold bytes (a failed commit's
		// reserved zeros, old frames a recovery found invalid).
		return false, l.cutToLimitLocked()
	}
	if l.backfill != l.lastFrame || len(l.pending) > 0 || oldest < l.lastVersionLocked() {
		return false, nil
	}
	floor := l.lastVersionLocked()
	seq := max(l.hdr.seq, l.base.Seq()) + 1
	old := l.hdr
	l.hdr = header{bigEndian: old.bigEndian, pageSize: old.pageSize, seq: seq, salt1: old.salt1 + 1, salt2: l.rnd()}
	l.running = [2]uint32{}
	l.mainPages = l.commits[len(l.commits)-1].size
	l.commits = nil
	clear(l.index)
	if c := l.cache.Load(); c != nil {
		// No read asks for the old generation's frames again.
		for i, p := range l.framePage {
			c.Remove(pagecache.Key{Page: uint32(p), Src: l.gen<<32 | uint64(i+1)})
		}
	}
	l.framePage = l.framePage[:0]
	l.lastFrame, l.written, l.synced, l.backfill = 0, 0, 0, 0
	l.syncedInLog = false
	l.publishFramesLocked()
	l.gen++
	l.genNow.Store(l.gen)
	l.base = Version(seq) << 32
	l.floor = floor
	l.stats.restarts.Add(1)

	if mode == CheckpointTruncate {
		return true, l.truncateLocked(syncing)
	}
	var hb [HeaderSize]byte
	l.hdr.encode(hb[:])
	if _, err := l.wal.WriteAt(hb[:], 0); err != nil {
		return true, l.poisonLocked(fmt.Errorf("wal: write restarted log header: %w", err))
	}
	if syncing {
		if err := l.wal.Sync(); err != nil {
			return true, l.poisonLocked(fmt.Errorf("wal: fdatasync restarted log header: %w", err))
		}
		l.stats.syncs.Add(1)
	}
	if err := l.cutToLimitLocked(); err != nil {
		return true, err
	}
	return true, nil
}

// SetSizeLimit sets the size, in bytes, that a restart cuts a larger log
// file to, as SQLite's journal_size_limit does for its WAL; a negative
// limit (the default) keeps the file's size.
func (l *Log) SetSizeLimit(n int64) { l.sizeLimit.Store(max(n, -1)) }

// SizeLimit returns what SetSizeLimit set, or -1.
func (l *Log) SizeLimit() int64 { return l.sizeLimit.Load() }

// checkpointSyncLocked reports whether a checkpoint syncs what it writes
// (the log before it copies frames, the main file after, the log's new
// start): always, except under SyncOff while no commit in the log was
// appended with sync.
func (l *Log) checkpointSyncLocked() bool { return l.opts.Sync != SyncOff || l.syncedInLog }

// cutToLimitLocked cuts a log that holds no frame of the current
// generation to journal_size_limit. What the cut drops are frames of an
// old generation, which the header's salts make invalid, and reserved
// zeros: no sync.
func (l *Log) cutToLimitLocked() error {
	lim := l.sizeLimit.Load()
	if lim < 0 || l.reserved <= max(lim, HeaderSize) {
		return nil
	}
	if err := l.wal.Truncate(max(lim, HeaderSize)); err != nil {
		return l.poisonLocked(fmt.Errorf("wal: cut the log to journal_size_limit %d: %w", lim, err))
	}
	l.reserved = max(lim, HeaderSize)
	return nil
}

// TrimToHeader cuts a log that holds no frame (after a RESTART
// checkpoint) to its header: the log keeps no space, as a TRUNCATE
// checkpoint leaves none, but keeps the header whose sequence number the
// next open's versions (commits' LSNs) follow, instead of starting over (a
// version names one commit for good). The cut needs no fdatasync: what
// it drops is reserved space, zeros that no recovery reads as a frame. It
// does nothing to a log that holds frames.
func (l *Log) TrimToHeader() error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	if l.lastFrame != 0 || l.reserved <= HeaderSize {
		return nil
	}
	if err := l.wal.Truncate(HeaderSize); err != nil {
		return l.poisonLocked(fmt.Errorf("wal: cut the log to its header: %w", err))
	}
	l.reserved = HeaderSize
	return nil
}

// truncateLocked empties the log file, and syncs that if sync is set; the
// next commit writes a header.
func (l *Log) truncateLocked(sync bool) error {
	if err := l.wal.Truncate(0); err != nil {
		return l.poisonLocked(fmt.Errorf("wal: truncate log: %w", err))
	}
	l.reserved = 0
	if sync {
		if err := l.wal.Sync(); err != nil {
			return l.poisonLocked(fmt.Errorf("wal: fdatasync truncated log: %w", err))
		}
		l.stats.syncs.Add(1)
	}
	return nil
}

func (l *Log) poison(err error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.poisonLocked(err)
}

func (l *Log) poisonLocked(err error) error {
	if l.err == nil {
		l.err = fmt.Errorf("%w: %w", ErrPoisoned, err)
		l.failed.Store(true)
		l.flushed.Broadcast()
	}
	return l.err
}

// retainedSnap is what a snapshot older than the log's start reads instead
// of the log: the database size as of its version, and every page written
// after it (as of its version; nil for a page beyond its size).
type retainedSnap struct {
	size  uint32
	pages map[PageNo][]byte
}

// retainedAt returns what is retained for snapshot v, or nil. It serves
// from the moment RestartRetaining installs it, before the restart moves
// the log's start past v: the checkpoint in between overwrites the main
// file. l.mu is held.
func (l *Log) retainedAt(v Version) *retainedSnap {
	if l.retained == nil {
		return nil
	}
	return l.retained[v]
}

// RestartRetaining checkpoints every frame and restarts the log although
// snapshots older than the newest version are pinned, which
// Checkpoint(CheckpointRestart) refuses: each version of pinned (the
// distinct pinned versions) keeps in memory the pages it would have read
// from the log, and the database size it saw, and reads and change checks
// (ReadPage, Size, ChangedSince, FirstChanged) of that version use them
// until a checkpoint is told that nothing that old is pinned any more.
// That is what lets the log restart under overlapping BEGIN CONCURRENT
// transactions: there is always one whose snapshot is older than the
// newest commit, so the log would otherwise grow for as long as they run.
//
// The caller must hold off Append (the engine holds its writer lock),
// every commit must be durable (WaitDurable(Last())), and no version older
// than the oldest of pinned may be pinned until the call returns. If the
// pages to keep would exceed maxPages, it changes nothing and reports Busy.
func (l *Log) RestartRetaining(pinned []Version, maxPages int) (CheckpointResult, error) {
	l.ckptMu.Lock()
	defer l.ckptMu.Unlock()

	l.mu.RLock()
	last, ps, floor := l.lastVersionLocked(), l.hdr.pageSize, l.floor
	if err := l.err; err != nil || len(l.pending) > 0 || Version(l.durable.Load()) < last {
		l.mu.RUnlock()
		if err == nil {
			err = fmt.Errorf("wal: restart retaining snapshots with commits not yet durable (newest %v, durable %v)", last, l.Durable())
		}
		return CheckpointResult{}, err
	}
	type want struct {
		v     Version
		size  uint32
		pages map[PageNo]struct{}
	}
	var wants []want
	total := 0
	lastSize := l.sizeLocked(last)
	for _, v := range pinned {
		if v >= last || slices.ContainsFunc(wants, func(w want) bool { return w.v == v }) {
			continue
		}
		w := want{v: v, size: l.sizeLocked(v), pages: make(map[PageNo]struct{})}
		if v < floor {
			r := l.retainedAt(v)
			if r == nil {
				l.mu.RUnlock()
				return CheckpointResult{}, fmt.Errorf("wal: restart retaining snapshot %v, older than the log's start %v and not retained", v, floor)
			}
			for p := range r.pages {
				w.pages[p] = struct{}{}
			}
		}
		for p, refs := range l.index {
			if refs[len(refs)-1].v > v {
				w.pages[p] = struct{}{}
			}
		}
		// Pages a shrinking commit cut off are in no frame. (The bound is
		// checked first: the sizes come from the log, which may claim
		// billions of pages.)
		if w.size > lastSize && int64(w.size-lastSize)+int64(total+len(w.pages)) > int64(maxPages) {
			l.mu.RUnlock()
			return CheckpointResult{Busy: true}, nil
		}
		for p := lastSize + 1; p <= w.size; p++ {
			w.pages[PageNo(p)] = struct{}{}
		}
		total += len(w.pages)
		if total > maxPages {
			l.mu.RUnlock()
			return CheckpointResult{Busy: true}, nil
		}
		wants = append(wants, w)
	}
	l.mu.RUnlock()

	keep := make(map[Version]*retainedSnap, len(wants))
	for _, w := range wants {
		r := &retainedSnap{size: w.size, pages: make(map[PageNo][]byte, len(w.pages))}
		for p := range w.pages {
			buf := make([]byte, ps)
			found, err := l.ReadPage(p, w.v, buf)
			if err != nil {
				return CheckpointResult{}, fmt.Errorf("wal: restart retaining snapshot %v: %w", w.v, err)
			}
			if !found {
				buf = nil
			}
			r.pages[p] = buf
		}
		keep[w.v] = r
	}
	// From here on the pinned snapshots read what they keep, which is what
	// they read before: the checkpoint may overwrite their pages in the
	// main file and the restart may drop their frames.
	kept := len(keep) // DropRetained may delete from keep once it is installed
	l.mu.Lock()
	l.retained = keep
	l.retainedPages.Store(int64(total))
	l.retainGen.Add(1)
	l.mu.Unlock()
	res, err := l.checkpointLocked(CheckpointRestart, last)
	if res.Restarted && kept > 0 {
		l.stats.retaining.Add(1)
	}
	return res, err
}
