package iouringvfs

// Engine-level part of the review of corrupt and hostile database files
// (see corrupt_review_test.go in the driver's package): a leftover log whose
// commit claims a database far larger than the files hold.

import (
	"bytes"
	"encoding/binary"
	"os"
	"runtime"
	"testing"
	"time"
)

// crvChecksum is SQLite's WAL checksum with little-endian words.
func crvChecksum(b []byte, s0, s1 uint32) (uint32, uint32) {
	for len(b) >= 8 {
		s0 += binary.LittleEndian.Uint32(b) + s1
		s1 += binary.LittleEndian.Uint32(b[4:]) + s0
		b = b[8:]
	}
	return s0, s1
}

type crvFrame struct {
	page, commit uint32
	data         []byte
}

// crvEncodeWAL builds a log in SQLite's WAL format with page size ps and
// valid checksums.
func crvEncodeWAL(ps uint32, frames []crvFrame) []byte {
	hdr := make([]byte, 32)
	binary.BigEndian.PutUint32(hdr[0:], 0x377f0682)
	binary.BigEndian.PutUint32(hdr[4:], 3007000)
	binary.BigEndian.PutUint32(hdr[8:], ps)
	binary.BigEndian.PutUint32(hdr[12:], 7)
	binary.BigEndian.PutUint32(hdr[16:], 0x1234567)
	binary.BigEndian.PutUint32(hdr[20:], 0x89abcde)
	s0, s1 := crvChecksum(hdr[:24], 0, 0)
	binary.BigEndian.PutUint32(hdr[24:], s0)
	binary.BigEndian.PutUint32(hdr[28:], s1)
	out := hdr
	for _, f := range frames {
		fh := make([]byte, 24)
		binary.BigEndian.PutUint32(fh[0:], f.page)
		binary.BigEndian.PutUint32(fh[4:], f.commit)
		copy(fh[8:16], hdr[16:24])
		s0, s1 = crvChecksum(fh[:8], s0, s1)
		s0, s1 = crvChecksum(f.data, s0, s1)
		binary.BigEndian.PutUint32(fh[16:], s0)
		binary.BigEndian.PutUint32(fh[20:], s1)
		out = append(out, fh...)
		out = append(out, f.data...)
	}
	return out
}

// TestCorruptReviewRestartRetainingBoundedByClaimedSize: a leftover log
// whose one commit claims a database of 2^21 pages (the files hold a few); a
// reader pins that version, and a VACUUM commits the real, small size. A
// log restart that keeps the reader's pages (RestartRetaining, which the
// checkpointer runs once the log is past 4 x wal_autocheckpoint while
// snapshots overlap) then lists every page between the two sizes in a map
// before it compares the count with its bound of maxPages (4096): work and
// memory follow the size a hostile log claims (up to 2^32 pages: the
// process runs out of memory), not the bound. Stock SQLite refuses such a
// log at its first checkpoint (SQLITE_CORRUPT: the size exceeds the file
// plus the log).
func TestCorruptReviewRestartRetainingBoundedByClaimedSize(t *testing.T) {
	const ps = 1024
	path := dbPath(t)
	db := stock(t, path, "page_size(1024)", "journal_mode(DELETE)")
	stockExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	stockExec(t, db, "INSERT INTO t(v) VALUES ('a'), ('b'), ('c')")
	stockExec(t, db, "CREATE TABLE u(x)")
	stockExec(t, db, "INSERT INTO u VALUES (randomblob(3000))")
	stockExec(t, db, "DELETE FROM u")
	db.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[18], b[19] = 2, 2
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	n := len(b) / ps
	const claimed = 1 << 21
	last := bytes.Clone(b[(n-1)*ps:])
	if err := os.WriteFile(path+"-wal", crvEncodeWAL(ps, []crvFrame{{uint32(n), claimed, last}}), 0o644); err != nil {
		t.Fatal(err)
	}
	r := openConn(t, path, "")
	w := openConn(t, path, "")
	w.exec("PRAGMA wal_autocheckpoint=0")
	e := r.file.e
	r.exec("BEGIN")
	if got := r.int("SELECT count(*) FROM t"); got != 3 {
		t.Fatalf("count = %d", got)
	}
	if sz := e.log.Size(r.file.snap); sz != claimed {
		t.Fatalf("the reader's snapshot has %d pages; want the %d the log claims", sz, claimed)
	}
	w.exec("VACUUM")
	if sz := e.log.Size(e.log.Last()); sz >= claimed {
		t.Skipf("VACUUM left the size at %d pages: the test checks nothing", sz)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	if !e.wlock.tryAcquireInternal() {
		t.Fatal("the writer lock is taken")
	}
	res, err := e.log.RestartRetaining(e.pinnedVersions(), retainMaxPages)
	e.wlock.release()
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("RestartRetaining: %+v, err %v, %v, %d MiB allocated", res, err, took, alloc>>20)
	r.exec("COMMIT")
	if alloc > 32<<20 {
		t.Errorf("RestartRetaining with a bound of %d pages allocated %d MiB (%v) for a snapshot claiming %d pages: the work follows the claimed size, not the bound (wal/checkpoint.go RestartRetaining lists pages lastSize+1..w.size before checking maxPages)",
			retainMaxPages, alloc>>20, took, claimed)
	}
}
