package iouringvfs

import (
	"bytes"
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

// EndConcurrent leaves BEGIN CONCURRENT mode.
func (f *File) EndConcurrent() {
	f.concurrent = false
	f.track = false
	clear(f.reads)
}

// Concurrent reports whether the file is in BEGIN CONCURRENT mode.
func (f *File) Concurrent() bool { return f.concurrent }

// Wrote reports whether the transaction has written pages.
func (f *File) Wrote() bool { return f.dirty && len(f.ws) > 0 }

// AcquireWriter takes the engine's writer lock for the commit of a
// concurrent transaction, waiting in line like any writer.
func (f *File) AcquireWriter() error {
	if f.hasWriter {
		return nil
	}
	return f.acquireWriter()
}

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
		return Validation{}, fmt.Errorf("libsql: validating a concurrent transaction on %s without the writer lock", f.e.name)
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
	ps := f.pageSize()
	then, now := make([]byte, ps), make([]byte, ps)
	if _, err := f.e.log.ReadPage(1, f.snap, then); err != nil {
		return v, err
	}
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
	hit, ok := f.e.log.FirstChanged(f.snap, last, f.reads)
	f.reads[1] = struct{}{}
	if !ok {
		return v, fmt.Errorf("libsql: snapshot %v of %s is older than the log", f.snap, f.e.name)
	}
	if hit != 0 {
		return conflict(hit, false), nil
	}
	return v, nil
}

// ForgetReads removes pages from the read set: the driver's commit
// protocol brings sqlite_sequence up to date itself, so reading it is no
// conflict.
func (f *File) ForgetReads(pages []wal.PageNo) {
	for _, p := range pages {
		if p != 1 {
			delete(f.reads, p)
		}
	}
}

// Counters of the concurrent commit protocol, for Engine.Stats.

// CountConcurrentCommit counts a committed concurrent transaction.
func (f *File) CountConcurrentCommit(rebased bool) {
	f.e.concurrent.commits.Add(1)
	if rebased {
		f.e.concurrent.rebased.Add(1)
	} else {
		f.e.concurrent.direct.Add(1)
	}
}

// CountConflict counts a concurrent transaction refused because of a
// conflict on object (a table, an index, "schema").
func (f *File) CountConflict(object string) { f.e.concurrent.conflict(object) }

// RefuseWrites makes the file refuse RESERVED with an error naming why:
// the driver sets it on attached databases for the duration of a
// concurrent transaction, which cannot write them.
func (f *File) RefuseWrites(reason string) { f.refuse = reason }

// refuseErr is the error Lock returns while writes are refused.
func (f *File) refuseErr() error {
	return f.fail(capi.READONLY, fmt.Errorf("libsql: %s", f.refuse))
}
