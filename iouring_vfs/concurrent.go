package iouringvfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/golibsql/libsql/internal/capi"
	"github.com/golibsql/libsql/iouring_vfs/wal"
)

// These are the engine's hooks for BEGIN CONCURRENT; the commit protocol
// itself is the driver's (concurrent_tx.go). They cost nothing when unused:
// read tracking is one flag test per page read.

// BeginConcurrent puts the file in BEGIN CONCURRENT mode: RESERVED is
// granted without the writer lock, so any number of connections write at
// once (each into its private write set), and every page read is recorded.
// The driver resets the connection's SQLite page cache at the same time, so
// that every page the transaction reads reaches the file.
func (f *File) BeginConcurrent() {
	f.concurrent = true
	f.track = true
	if f.reads == nil {
		f.reads = make(map[wal.PageNo]struct{})
	} else {
		clear(f.reads)
	}
}

// EndConcurrent leaves BEGIN CONCURRENT mode. A merge armed by TryMerge is
// disarmed: a commit with nothing to write never reaches xSync, where the
// merge is decided, and must not leave it to the file's next commit.
func (f *File) EndConcurrent() {
	f.concurrent = false
	f.track = false
	f.mergeTry, f.merge = false, false
	clear(f.reads)
}

// Concurrent reports whether the file is in BEGIN CONCURRENT mode.
func (f *File) Concurrent() bool { return f.concurrent }

// Wrote reports whether the transaction has written pages.
func (f *File) Wrote() bool { return f.dirty && f.wsLen() > 0 }

// AcquireWriter takes the engine's writer lock for the commit of a
// concurrent transaction, waiting in line like any writer.
func (f *File) AcquireWriter() error {
	if f.hasWriter {
		return nil
	}
	return f.acquireWriter()
}

// Stale reports whether versions were committed after the transaction's
// snapshot; under the writer lock, no commit can change the answer.
func (f *File) Stale() bool { return f.pinned && f.e.log.Last() != f.snap }

// ReleaseWriter releases the writer lock if the file holds it.
func (f *File) ReleaseWriter() { f.releaseWriter() }

// Conflict describes why a concurrent transaction cannot commit.
type Conflict struct {
	// Page is the page the transaction read that a later commit changed;
	// 0 when the conflict is about the schema.
	Page wal.PageNo
	// Schema is set when the database header changed in a way that
	// matters to readers (schema cookie, user_version, application_id, …),
	// or when the transaction changed the schema itself while others
	// committed.
	Schema bool
	// Snapshot and Newest are the versions involved.
	Snapshot, Newest wal.Version
}

// String names what the conflict was on, for error messages.
func (c *Conflict) String() string {
	if c.Schema {
		return "conflict on the database schema or header"
	}
	return fmt.Sprintf("conflict at page %d", c.Page)
}

// Validation is the outcome of Validate.
type Validation struct {
	// Stale is set when versions were committed after the transaction's
	// snapshot: its pages cannot be published as they are, and its row
	// changes must be replayed on the newest version instead.
	Stale bool
	// Conflict is set when the transaction is not serializable after
	// what was committed since its snapshot.
	Conflict *Conflict
	// Header is the snapshot's, when Stale: SQLite may not have written
	// the transaction's page 1 yet, so the engine cannot see a schema or
	// header change of its own, which a replay of row changes would lose;
	// the driver compares these with the transaction's view.
	Header Header
}

// Header holds the database header fields a transaction can change in
// SQL: the schema cookie (DDL), user_version and application_id.
type Header struct {
	SchemaCookie, UserVersion, ApplicationID uint32 // bytes 40, 60 and 68 of page 1
}

func headerOf(page1 []byte) Header {
	return Header{
		SchemaCookie:  binary.BigEndian.Uint32(page1[40:]),
		UserVersion:   binary.BigEndian.Uint32(page1[60:]),
		ApplicationID: binary.BigEndian.Uint32(page1[68:]),
	}
}

// headerFields is the part of page 1 whose change matters to a reader:
// schema cookie and format, default cache size, largest root page, text
// encoding, user_version, incremental vacuum and application_id (bytes
// 40-71). The change counter, page count and freelist change with every
// commit and mean nothing to a concurrent transaction's reads.
const headerFieldsStart, headerFieldsEnd = 40, 72

// Validate checks, under the writer lock, a concurrent transaction's read
// set against the pages changed since its snapshot. Page 1 counts only for
// the header fields that mean something to a reader. A transaction that
// changed the schema conflicts with anything committed since its snapshot:
// schema changes cannot be replayed as row changes.
func (f *File) Validate() (Validation, error) {
	if !f.hasWriter {
		return Validation{}, fmt.Errorf("validating a concurrent transaction on %s without the writer lock", f.e.name)
	}
	if !f.pinned {
		return Validation{}, nil
	}
	last := f.e.log.Last()
	if last == f.snap {
		return Validation{}, nil
	}
	v := Validation{Stale: true}
	conflict := func(p wal.PageNo, schema bool) Validation {
		v.Conflict = &Conflict{Page: p, Schema: schema, Snapshot: f.snap, Newest: last}
		return v
	}
	then, err := f.snapPage1()
	if err != nil {
		return v, err
	}
	now := f.scratchPage()
	v.Header = headerOf(then)
	if _, err := f.e.log.ReadPage(1, last, now); err != nil {
		return v, err
	}
	if !bytes.Equal(then[headerFieldsStart:headerFieldsEnd], now[headerFieldsStart:headerFieldsEnd]) {
		if _, read := f.reads[1]; read {
			return conflict(0, true), nil
		}
	}
	if mine, ok := f.ws[1]; ok && !bytes.Equal(mine[headerFieldsStart:headerFieldsEnd], then[headerFieldsStart:headerFieldsEnd]) {
		return conflict(0, true), nil
	}
	delete(f.reads, 1)
	f.forgetFreelistTrunks(then, now)
	f.forgetPointerMaps(then)
	hit, ok := f.e.log.FirstChanged(f.snap, last, f.reads)
	f.reads[1] = struct{}{}
	if !ok {
		return v, fmt.Errorf("snapshot %v of %s is older than the log", f.snap, f.e.name)
	}
	if hit != 0 {
		return conflict(hit, false), nil
	}
	return v, nil
}

// maxTrunkWalk bounds the free-list trunk pages Validate reads.
const maxTrunkWalk = 64

// forgetFreelistTrunks removes from the read set the free-list trunk pages
// of the snapshot, whose page 1 is then (buf is scratch space). SQLite
// reads them only to allocate or free pages, never for row data; a
// transaction that changed the free list is never merged (see mergeable)
// but replayed, which allocates anew, so reading them is no conflict.
func (f *File) forgetFreelistTrunks(then, buf []byte) {
	if binary.BigEndian.Uint32(then[36:]) == 0 {
		return
	}
	trunk := wal.PageNo(binary.BigEndian.Uint32(then[32:]))
	for range maxTrunkWalk {
		if trunk == 0 {
			return
		}
		delete(f.reads, trunk)
		if _, err := f.e.log.ReadPage(trunk, f.snap, buf); err != nil {
			return
		}
		trunk = wal.PageNo(binary.BigEndian.Uint32(buf))
	}
}

// forgetPointerMaps removes from the read set the pointer-map pages of an
// auto-vacuum database, whose page 1 is then. They are allocation
// bookkeeping, shared by every table: an entry says which page points to
// a page, and SQLite reads them to allocate, free or move pages. A
// transaction that acted on what it read wrote the pointer-map page (an
// entry changed) or changed the page count or free list, so it is never
// merged over a commit that wrote that page or allocated (see mergeable
// and MergePrecheck) but replayed, which allocates anew; any other
// reader of them (integrity_check) changes nothing by them. Recorded, they
// made nearly every pair of transactions that allocate a conflict.
func (f *File) forgetPointerMaps(then []byte) {
	if binary.BigEndian.Uint32(then[52:]) == 0 {
		return // not auto-vacuum
	}
	ps := f.pageSize()
	usable := ps - int(then[20])
	if ps <= 0 || usable < 480 {
		return
	}
	for p := range f.reads {
		if isPointerMap(p, usable, ps) {
			delete(f.reads, p)
		}
	}
}

// isPointerMap reports whether page p is a pointer-map page of an
// auto-vacuum database with the given usable and page sizes: page 2 and
// every usable/5+1 pages after it, moved one on where it falls on the
// page of the pending byte (which is never used).
func isPointerMap(p wal.PageNo, usable, ps int) bool {
	if p < 2 {
		return false
	}
	per := wal.PageNo(usable/5 + 1)
	first := (p-2)/per*per + 2
	if first == wal.PageNo(pendingBytePage(ps)) {
		first++
	}
	return p == first
}

// pendingBytePage is the page holding SQLite's pending byte (offset
// 0x40000000), which SQLite never uses.
func pendingBytePage(ps int) int { return 0x40000000/ps + 1 }

// mergeable reports whether the whole write set can be published on
// version last as it is; then is page 1 of the snapshot.
func (f *File) mergeable(then []byte, last wal.Version) bool {
	if !f.dirty || f.wsSize != f.e.log.Size(f.snap) {
		return false
	}
	mine, ok := f.ws[1]
	if !ok {
		return false
	}
	return sameButCounter(mine, then) && f.writesUntouched(last)
}

// A stale concurrent transaction whose writes touch nothing committed since
// its snapshot, and that neither allocated nor freed a page, can publish its
// pages on the newest version as they are, with page 1 taken from the
// newest version and its change counter advanced ("merged"), instead of
// having its row changes replayed. Whether it can is known for sure only
// when SQLite writes page 1 at commit (xSync), where a refusal still makes
// SQLite roll the transaction back; the driver first asks MergePrecheck,
// after flushing SQLite's cache, and checks the page count and the free
// list itself, so that a transaction that must be replayed is replayed.

// MergePrecheck reports whether the pages SQLite has written so far were
// left alone by everything committed since the snapshot, and none lies
// beyond the snapshot's size. It also returns the snapshot's size in pages
// and free-list count, for the driver to compare with the transaction's.
func (f *File) MergePrecheck() (ok bool, pages, freelist uint32) {
	p1, err := f.snapPage1()
	if err != nil {
		return false, 0, 0
	}
	pages = f.e.log.Size(f.snap)
	freelist = binary.BigEndian.Uint32(p1[36:])
	if f.dirty && f.wsSize != pages {
		return false, pages, freelist
	}
	return f.writesUntouched(f.e.log.Last()), pages, freelist
}

// TryMerge makes the coming commit merge if, at xSync, the whole write set
// passes: see MergeRefused for the outcome.
func (f *File) TryMerge() { f.mergeTry, f.mergeRefused = true, false }

// MergeRefused reports whether the last TryMerge commit was refused (and
// rolled back by SQLite).
func (f *File) MergeRefused() bool { return f.mergeRefused }

// CancelMerge forgets a TryMerge whose commit did not happen.
func (f *File) CancelMerge() { f.mergeTry, f.merge = false, false }

var errNotMergeable = errors.New("BEGIN CONCURRENT transaction conflicts with a commit since its snapshot: its pages could not be published on the newest version (it allocated or freed pages, or wrote pages changed since)")

// checkMerge runs at xSync for a TryMerge commit, with every page written.
func (f *File) checkMerge() error {
	f.mergeTry = false
	if then, err := f.snapPage1(); err == nil && f.mergeable(then, f.e.log.Last()) {
		f.merge = true
		return nil
	}
	f.mergeRefused = true
	return f.fail(capi.BUSY_SNAPSHOT, errNotMergeable)
}

// snapPage1 returns page 1 of the snapshot as stored, in scratch space
// that the next call reuses.
func (f *File) snapPage1() ([]byte, error) {
	if ps := f.pageSize(); len(f.p1buf) != ps {
		f.p1buf = make([]byte, ps)
	}
	if _, err := f.e.log.ReadPage(1, f.snap, f.p1buf); err != nil {
		return nil, err
	}
	return f.p1buf, nil
}

// writesUntouched reports whether no page of the write set but page 1 was
// changed by a commit after the snapshot, up to last.
func (f *File) writesUntouched(last wal.Version) bool {
	written := make(map[wal.PageNo]struct{}, f.wsLen())
	for p := range f.ws {
		if p != 1 {
			written[p] = struct{}{}
		}
	}
	f.spilled.each(func(p wal.PageNo) { written[p] = struct{}{} })
	hit, ok := f.e.log.FirstChanged(f.snap, last, written)
	return ok && hit == 0
}

// ForgetReads removes pages from the read set: the driver's commit
// protocol brings sqlite_sequence up to date itself, so reading it is no
// conflict. It reports whether a commit since the snapshot wrote one of
// them (true when the log can no longer tell).
func (f *File) ForgetReads(pages []wal.PageNo) (changed bool) {
	set := make(map[wal.PageNo]struct{}, len(pages))
	for _, p := range pages {
		if p != 1 {
			delete(f.reads, p)
			set[p] = struct{}{}
		}
	}
	hit, ok := f.e.log.FirstChanged(f.snap, f.e.log.Last(), set)
	return !ok || hit != 0
}

// How a concurrent transaction committed, for CountConcurrentCommit.
const (
	CommitDirect = iota
	CommitMerged
	CommitRebased
	CommitRebasedChangeset // rebased, replayed with sqlite3changeset_apply
)

// CountConcurrentCommit counts a committed concurrent transaction.
func (f *File) CountConcurrentCommit(how int) {
	f.e.concurrent.commits.Add(1)
	switch how {
	case CommitMerged:
		f.e.concurrent.merged.Add(1)
	case CommitRebased:
		f.e.concurrent.rebased.Add(1)
	case CommitRebasedChangeset:
		f.e.concurrent.rebased.Add(1)
		f.e.concurrent.rebasedChangeset.Add(1)
	default:
		f.e.concurrent.direct.Add(1)
	}
}

// CountConflict counts a concurrent transaction refused because of a
// conflict on object (a table, an index, "schema").
func (f *File) CountConflict(object string) { f.e.concurrent.conflict(object) }
