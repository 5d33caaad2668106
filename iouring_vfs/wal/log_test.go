package wal

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
	"github.com/golibsql/libsql/iouring_vfs/iofault"
	"github.com/golibsql/libsql/iouring_vfs/pagecache"
)

const ps = 4096

func TestHeaderRoundTripBothByteOrders(t *testing.T) {
	for _, be := range []bool{false, true} {
		h := header{bigEndian: be, pageSize: 1024, seq: 7, salt1: 0xdeadbeef, salt2: 42}
		var b [HeaderSize]byte
		h.encode(b[:])
		got, ok, err := decodeHeader(b[:])
		if err != nil || !ok {
			t.Fatalf("decode(bigEndian=%v): ok=%v err=%v", be, ok, err)
		}
		if got != h {
			t.Fatalf("decode = %+v, want %+v", got, h)
		}
		b[9] ^= 1
		if _, ok, _ := decodeHeader(b[:]); ok {
			t.Fatalf("header with a flipped bit decoded")
		}
	}
}

func TestHeaderRejectsUnknownVersion(t *testing.T) {
	h := header{pageSize: 4096, salt1: 1, salt2: 2}
	var b [HeaderSize]byte
	h.encode(b[:])
	b[7]++ // format version, then fix the checksum
	h.cksum = checksum(false, b[:24], [2]uint32{})
	b[24], b[25], b[26], b[27] = byte(h.cksum[0]>>24), byte(h.cksum[0]>>16), byte(h.cksum[0]>>8), byte(h.cksum[0])
	b[28], b[29], b[30], b[31] = byte(h.cksum[1]>>24), byte(h.cksum[1]>>16), byte(h.cksum[1]>>8), byte(h.cksum[1])
	if _, _, err := decodeHeader(b[:]); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("decodeHeader of version 3007001: err = %v, want ErrCorrupt", err)
	}
}

func TestCommitReadAndRecover(t *testing.T) {
	forEachBackend(t, func(t *testing.T, fs ioback.FS, dir string) {
		l := openLog(t, fs, dir, "db", Options{})
		m := newModel(ps, l.Last())
		steps := []struct {
			changes map[PageNo]int
			size    uint32
		}{
			{map[PageNo]int{1: 1, 2: 1, 3: 1}, 3},
			{map[PageNo]int{2: 2}, 3},
			{map[PageNo]int{1: 3, 4: 3, 5: 3}, 5},
			{map[PageNo]int{1: 4}, 2}, // shrink
			{map[PageNo]int{1: 5, 3: 5}, 3},
		}
		for _, s := range steps {
			v := commitPages(t, l.Log, ps, s.changes, s.size, true)
			m.commit(v, s.changes, s.size)
		}
		for i := range m.versions {
			m.check(t, l.Log, i)
		}
		if l.Durable() != l.Last() {
			t.Fatalf("durable %v != last %v after Commit", l.Durable(), l.Last())
		}
		last := l.Last()
		l.close()

		l = openLog(t, fs, dir, "db", Options{})
		if l.Last() != last {
			t.Fatalf("recovered last version %v, want %v", l.Last(), last)
		}
		for i := 1; i < len(m.versions); i++ {
			m.check(t, l.Log, i)
		}
	})
}

func TestAppendValidatesInput(t *testing.T) {
	l := openLog(t, ioback.Portable(), t.TempDir(), "db", Options{})
	if _, err := l.Append(nil, 1, false); err == nil {
		t.Fatal("Append with no pages succeeded")
	}
	if _, err := l.Append([]Page{{No: 1, Data: make([]byte, 1000)}}, 1, false); err == nil {
		t.Fatal("Append of a 1000-byte page succeeded")
	}
	if _, err := l.Append([]Page{{No: 0, Data: make([]byte, ps)}}, 1, false); err == nil {
		t.Fatal("Append of page 0 succeeded")
	}
	if _, err := l.Append([]Page{{No: 1, Data: make([]byte, ps)}, {No: 2, Data: make([]byte, 512)}}, 2, false); err == nil {
		t.Fatal("Append with mixed page sizes succeeded")
	}
	if l.Last() != l.Durable() || l.PageSize() != 0 {
		t.Fatalf("failed Appends changed the log: last %v, page size %d", l.Last(), l.PageSize())
	}
}

func TestPendingCommitReadableBeforeDurable(t *testing.T) {
	l := openLog(t, ioback.Portable(), t.TempDir(), "db", Options{})
	v1 := commitPages(t, l.Log, ps, map[PageNo]int{1: 1}, 1, false)
	v2, err := l.Append([]Page{{No: 1, Data: page(ps, 1, 2)}}, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	if l.Durable() != v1 || l.Last() != v2 {
		t.Fatalf("durable %v last %v, want %v and %v", l.Durable(), l.Last(), v1, v2)
	}
	buf := make([]byte, ps)
	if _, err := l.ReadPage(1, v2, buf); err != nil || !bytes.Equal(buf, page(ps, 1, 2)) {
		t.Fatalf("pending page: %s, %v", describe(buf), err)
	}
	if err := l.WaitDurable(v2); err != nil {
		t.Fatal(err)
	}
	if l.Durable() != v2 {
		t.Fatalf("durable %v after WaitDurable(%v)", l.Durable(), v2)
	}
}

func TestGroupCommitSharesFlushes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, fs ioback.FS, dir string) {
		l := openLog(t, fs, dir, "db", Options{})
		commitPages(t, l.Log, ps, map[PageNo]int{1: 0}, 64, true)
		const writers, each = 8, 25
		runCommitters(t, l.Log, writers, each, func(w, i int) []Page {
			p := PageNo(2 + w)
			return []Page{{No: 1, Data: page(ps, 1, w*1000+i)}, {No: p, Data: page(ps, p, i)}}
		}, 64)
		st := l.Stats()
		if st.Commits != writers*each+1 {
			t.Fatalf("commits = %d, want %d", st.Commits, writers*each+1)
		}
		t.Logf("%d commits in %d flushes, %d syncs", st.Commits, st.Flushes, st.Syncs)
		buf := make([]byte, ps)
		for w := range writers {
			p := PageNo(2 + w)
			if _, err := l.ReadPage(p, l.Durable(), buf); err != nil || !bytes.Equal(buf, page(ps, p, each-1)) {
				t.Fatalf("page %d: %s %v", p, describe(buf), err)
			}
		}
	})
}

func TestCheckpointRespectsPinnedSnapshotAndRestarts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, fs ioback.FS, dir string) {
		cache := pagecache.New(64, ps, nil)
		l := openLog(t, fs, dir, "db", Options{Cache: cache})
		m := newModel(ps, l.Last())
		commit := func(ch map[PageNo]int, size uint32) {
			m.commit(commitPages(t, l.Log, ps, ch, size, true), ch, size)
		}
		commit(map[PageNo]int{1: 1, 2: 1, 3: 1}, 3)
		commit(map[PageNo]int{2: 2}, 3)
		pinned := len(m.versions) - 1 // a reader holds this version
		commit(map[PageNo]int{2: 3, 3: 3, 4: 3}, 4)

		res, err := l.Checkpoint(CheckpointFull, m.versions[pinned])
		if err != nil {
			t.Fatal(err)
		}
		if !res.Busy || res.Restarted || res.Backfilled == 0 || res.Backfilled == res.Frames {
			t.Fatalf("checkpoint with a pinned reader: %+v", res)
		}
		for i := pinned; i < len(m.versions); i++ {
			m.check(t, l.Log, i)
		}
		// The reader moves on: everything can be copied and the log restarts.
		res, err = l.Checkpoint(CheckpointRestart, l.Durable())
		if err != nil {
			t.Fatal(err)
		}
		if res.Busy || !res.Restarted || res.Frames == 0 || res.Backfilled != res.Frames {
			t.Fatalf("checkpoint with no reader: %+v, want the frames the log had, all copied", res)
		}
		if frames, _ := l.Frames(); frames != 0 {
			t.Fatalf("%d frames after the restart", frames)
		}
		before := l.Last()
		m.check(t, l.Log, len(m.versions)-1)
		if got, _, err := fs.Stat(dbPath(dir)); err != nil || got != 4*ps {
			t.Fatalf("database file size %d (%v), want %d", got, err, 4*ps)
		}
		commit(map[PageNo]int{1: 5}, 4)
		if l.Last() <= before {
			t.Fatalf("version after restart %v not above %v", l.Last(), before)
		}
		m.check(t, l.Log, len(m.versions)-1)
		last := l.Last()
		l.close()
		l = openLog(t, fs, dir, "db", Options{})
		if l.Last() != last {
			t.Fatalf("recovered %v, want %v", l.Last(), last)
		}
		m.versions[len(m.versions)-1] = last
		m.check(t, l.Log, len(m.versions)-1)

		if res, err := l.Checkpoint(CheckpointTruncate, l.Durable()); err != nil || !res.Restarted {
			t.Fatalf("truncate: %+v %v", res, err)
		}
		if sz, _, err := fs.Stat(dbPath(dir) + "-wal"); err != nil || sz != 0 {
			t.Fatalf("log size after TRUNCATE = %d (%v)", sz, err)
		}
		m.check(t, l.Log, len(m.versions)-1)
	})
}

func dbPath(dir string) string { return dir + "/db" }

// After a restart, frames of the old generation must never be read as part
// of the new one, even when the new generation's first sectors are lost and
// a later one survives: the new header is durable before any new frame.
// Old frames are synced on the crash backend's "disk" when the power goes;
// each seed draws a different fate for the unsynced writes of the new
// generation, and only some of them tear the first commit that way.
func TestRestartedLogNeverRevivesOldFrames(t *testing.T) {
	const ps = 512 // header and first frame share a sector with the second frame
	for seed := range uint64(400) {
		cfs := iofault.NewCrashFS(seed)
		l := openLog(t, cfs, "/", "db", Options{ReserveAhead: 64 << 10})
		commitPages(t, l.Log, ps, map[PageNo]int{1: 1}, 1, true) // frame 1: a whole commit
		commitPages(t, l.Log, ps, map[PageNo]int{1: 2, 2: 2}, 2, true)
		commitPages(t, l.Log, ps, map[PageNo]int{1: 3, 2: 3}, 2, true)
		if res, err := l.Checkpoint(CheckpointRestart, l.Durable()); err != nil || !res.Restarted {
			t.Fatalf("restart: %+v %v", res, err)
		}
		commitPages(t, l.Log, ps, map[PageNo]int{2: 4, 3: 4}, 3, false)

		l2 := openLog(t, cfs.Crash(), "/", "db", Options{})
		// Either the unsynced commit survived whole, or the main file as
		// the checkpoint left it is the database.
		want := map[PageNo]int{1: 3, 2: 3}
		if l2.Size(l2.Durable()) == 3 {
			want = map[PageNo]int{1: 3, 2: 4, 3: 4}
		}
		if got := l2.Size(l2.Durable()); got != uint32(len(want)) {
			t.Fatalf("seed %d: size %d after recovery, want 2 or 3: an old frame came back", seed, got)
		}
		buf := make([]byte, ps)
		for p, g := range want {
			if _, err := l2.ReadPage(p, l2.Durable(), buf); err != nil || !bytes.Equal(buf, page(ps, p, g)) {
				t.Fatalf("seed %d: page %d after recovery is %s (%v), want gen %d: an old frame came back", seed, p, describe(buf), err, g)
			}
		}
		l2.close()
		l.close()
	}
}

// Parallel batches (maxInFlight above 1) cannot order an fdatasync after
// an earlier batch's write, so a Log refuses to mix commits with and
// without fdatasync there: a synced commit would be acknowledged while an
// earlier unsynced one is still on its way to the file.
func TestParallelBatchesRefuseMixedSyncModes(t *testing.T) {
	defer SetMaxInFlightForTesting(2)()
	for _, first := range []bool{true, false} {
		l := openLog(t, ioback.NewMemFS(), "/", fmt.Sprint("db-", first), Options{})
		commitPages(t, l.Log, 1024, map[PageNo]int{1: 1}, 1, first)
		commitPages(t, l.Log, 1024, map[PageNo]int{1: 2}, 1, first)
		_, err := l.Append([]Page{{No: 1, Data: page(1024, 1, 3)}}, 1, !first)
		if err == nil {
			t.Fatalf("commit with sync=%v after commits with sync=%v accepted with maxInFlight 2", !first, first)
		}
		if !strings.Contains(err.Error(), "maxInFlight") {
			t.Fatalf("error does not name the cause: %v", err)
		}
		if l.Err() != nil {
			t.Fatalf("a refused commit poisoned the log: %v", l.Err())
		}
	}
}

// Closing a poisoned log keeps the cause: what the Log returns afterwards
// is ErrClosed and still names the I/O error that poisoned it.
func TestCloseKeepsPoisonCause(t *testing.T) {
	ffs := iofault.NewFaultFS(ioback.NewMemFS())
	l := openLog(t, ffs, "/", "db", Options{})
	commitPages(t, l.Log, 1024, map[PageNo]int{1: 1}, 1, true)
	ffs.FailMatching(0, func(op iofault.Op) bool { return op.Kind == iofault.OpSync }, iofault.EIO)
	if _, err := l.Commit([]Page{{No: 1, Data: page(1024, 1, 2)}}, 1, true); !errors.Is(err, ErrPoisoned) {
		t.Fatalf("commit with a failing fdatasync: %v, want ErrPoisoned", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	err := l.Err()
	if !errors.Is(err, ErrClosed) || !errors.Is(err, ErrPoisoned) || !iofault.IsInjected(err) {
		t.Fatalf("Err after Close = %v, want ErrClosed wrapping the poison cause", err)
	}
	if _, err := l.Append([]Page{{No: 1, Data: page(1024, 1, 3)}}, 1, true); !errors.Is(err, ErrClosed) || !iofault.IsInjected(err) {
		t.Fatalf("Append after Close = %v, want ErrClosed wrapping the poison cause", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := l.Err(); !errors.Is(err, ErrClosed) || !iofault.IsInjected(err) {
		t.Fatalf("Err after a second Close = %v", err)
	}
}

// fillMainFile commits pages 1 to n at generation 1 and checkpoints them
// into the main file, leaving the log empty.
func fillMainFile(t *testing.T, l *Log, n PageNo) {
	t.Helper()
	all := map[PageNo]int{}
	for p := PageNo(1); p <= n; p++ {
		all[p] = 1
	}
	commitPages(t, l, ps, all, uint32(n), true)
	if _, err := l.Checkpoint(CheckpointTruncate, l.Durable()); err != nil {
		t.Fatal(err)
	}
}

// ReadPageAhead reads the main-file pages after a miss into the cache, up to
// the first page the version reads from the log and the main file's end;
// a checkpoint that rewrites a page read ahead drops the old image.
func TestReadPageAhead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, fs ioback.FS, dir string) {
		cache := pagecache.New(256, ps, nil)
		l := openLog(t, fs, dir, "db", Options{Cache: cache})
		fillMainFile(t, l.Log, 40)
		v := commitPages(t, l.Log, ps, map[PageNo]int{12: 2}, 40, true)
		buf := make([]byte, ps)
		read := func(p PageNo, v Version, ahead, gen int) {
			t.Helper()
			if found, err := l.ReadPageAhead(p, v, buf, ahead); err != nil || !found || !bytes.Equal(buf, page(ps, p, gen)) {
				t.Fatalf("page %d: found %v, %s, %v; want gen %d", p, found, describe(buf), err, gen)
			}
		}
		cachedAhead := func(want uint64) {
			t.Helper()
			if st := cache.Stats(); st.ReadAhead != want {
				t.Fatalf("%d pages read ahead, want %d (%+v)", st.ReadAhead, want, st)
			}
		}
		read(5, v, 31, 1)
		cachedAhead(6) // 6-11: page 12 is in the log at v
		for p := PageNo(6); p <= 11; p++ {
			if !cache.Get(pagecache.Key{Page: uint32(p)}, buf) || !bytes.Equal(buf, page(ps, p, 1)) {
				t.Fatalf("page %d was not read ahead: %s", p, describe(buf))
			}
		}
		read(12, v, 31, 2)
		cachedAhead(6) // from the log: no read ahead
		read(38, v, 31, 1)
		cachedAhead(8) // 39 and 40: the main file ends there
		read(20, v, 0, 1)
		cachedAhead(8) // ahead 0 is ReadPage

		// Page 7, read ahead, is rewritten by a checkpoint: the old image
		// must not be served from the cache.
		v = commitPages(t, l.Log, ps, map[PageNo]int{7: 3}, 40, true)
		if _, err := l.Checkpoint(CheckpointTruncate, v); err != nil {
			t.Fatal(err)
		}
		read(7, l.Durable(), 0, 3)
		read(6, l.Durable(), 31, 1)
	})
}

// A read-ahead request that fails fails the read of the page asked for
// with the cause, caches nothing, and the next read succeeds.
func TestReadPageAheadError(t *testing.T) {
	ffs := iofault.NewFaultFS(ioback.NewMemFS())
	cache := pagecache.New(256, ps, nil)
	l := openLog(t, ffs, "/", "db", Options{Cache: cache})
	fillMainFile(t, l.Log, 40)
	ffs.FailMatching(0, func(op iofault.Op) bool { return op.Kind == iofault.OpReadBatch }, iofault.EIO)
	buf := make([]byte, ps)
	if _, err := l.ReadPageAhead(5, l.Durable(), buf, 31); !iofault.IsInjected(err) || !strings.Contains(err.Error(), "page 5") {
		t.Fatalf("read with a failing read ahead: %v", err)
	}
	if ffs.Matched() == 0 {
		t.Fatal("the read did not go through ReadBatch")
	}
	for p := uint32(5); p <= 36; p++ {
		if cache.Get(pagecache.Key{Page: p}, buf) {
			t.Fatalf("page %d cached after a failed read", p)
		}
	}
	ffs.Disarm()
	if found, err := l.ReadPageAhead(5, l.Durable(), buf, 31); err != nil || !found || !bytes.Equal(buf, page(ps, 5, 1)) {
		t.Fatalf("read after the failure: %v %v %s", found, err, describe(buf))
	}
	if st := cache.Stats(); st.ReadAhead != 16 {
		t.Fatalf("%d pages read ahead, want 16 (a sixteenth of the cache)", st.ReadAhead)
	}
}

// Recovery reads frames in chunks that start at one frame and double: a log
// with no valid frame costs one frame's read, and logs of every length
// around the chunk sizes recover every commit.
func TestRecoveryReadsInGrowingChunks(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 7, 63, 64, 65, 127, 128, 129, 300} {
		ffs := iofault.NewFaultFS(ioback.NewMemFS())
		l := openLog(t, ffs, "/", "db", Options{})
		m := newModel(ps, l.Last())
		for i := range n {
			ch := map[PageNo]int{PageNo(1 + i%5): i}
			m.commit(commitPages(t, l.Log, ps, ch, 5, false), ch, 5)
		}
		last := l.Last()
		l.close()

		var batches []int64
		ffs.FailMatching(0, func(op iofault.Op) bool {
			if op.Kind == iofault.OpReadBatch && strings.HasSuffix(op.Name, "-wal") {
				batches = append(batches, op.Len)
			}
			return false
		}, iofault.EIO)
		l = openLog(t, ffs, "/", "db", Options{})
		ffs.Disarm()
		if l.Last() != last {
			t.Fatalf("%d commits: recovered last version %v, want %v", n, l.Last(), last)
		}
		for i := 1; i < len(m.versions); i++ {
			m.check(t, l.Log, i)
		}
		if n > 0 && (len(batches) == 0 || batches[0] != 1) {
			t.Fatalf("%d commits: recovery read batches of %v frames, want a first of 1", n, batches)
		}
		var read int64
		for _, b := range batches {
			read += b
		}
		if read > 2*int64(n)+1 && read > int64(n)+64 {
			t.Fatalf("%d commits: recovery read %d frames (%v)", n, read, batches)
		}
		l.close()
	}
}

// Recovery cuts the log file after its last whole commit (what follows
// could chain onto a later commit identical to a lost one, see
// TestReviewLostCommitIsNotRevivedByAnIdenticalRecommit), except on a
// read-only open; a failed cut fails the open and leaves the log as it
// was.
func TestRecoveryCutsTheLogAfterItsLastCommit(t *testing.T) {
	ffs := iofault.NewFaultFS(ioback.NewMemFS())
	l := openLog(t, ffs, "/", "db", Options{Sync: SyncFull, ReserveAhead: 1})
	m := newModel(ps, l.Last())
	for i := range 3 {
		v, err := l.Commit([]Page{{1, page(ps, 1, i)}, {2, page(ps, 2, i)}}, 2, true)
		if err != nil {
			t.Fatal(err)
		}
		m.commit(v, map[PageNo]int{1: i, 2: i}, 2)
	}
	l.close()
	fsz := int64(FrameHeaderSize + ps)
	end := HeaderSize + 2*2*fsz // after the second commit
	_, w := files(t, ffs, "/", "db")
	if _, err := w.WriteAt(make([]byte, fsz), end); err != nil { // lose the third commit's first frame
		t.Fatal(err)
	}
	size := func() int64 {
		n, err := w.Size()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	full := size()
	if full != end+2*fsz {
		t.Fatalf("log is %d bytes, want %d", full, end+2*fsz)
	}

	l = openLog(t, ffs, "/", "db", Options{Sync: SyncFull, ReadOnly: true})
	m.check(t, l.Log, 2)
	l.close()
	if n := size(); n != full {
		t.Fatalf("read-only recovery changed the log's size: %d, want %d", n, full)
	}

	ffs.Arm(iofault.Rule{Match: func(op iofault.Op) bool { return op.Kind == iofault.OpTruncate }, Fault: iofault.EIO})
	db, w2 := files(t, ffs, "/", "db")
	var injected *iofault.InjectedError
	if _, err := Open(db, w2, Options{Sync: SyncFull}); !errors.As(err, &injected) || !strings.Contains(err.Error(), fmt.Sprint(end)) {
		t.Fatalf("open with a failing cut: %v, want the injected error and the offset %d", err, end)
	}
	db.Close()
	w2.Close()
	if n := size(); n != full {
		t.Fatalf("a failed cut changed the log's size: %d, want %d", n, full)
	}

	l = openLog(t, ffs, "/", "db", Options{Sync: SyncFull})
	m.check(t, l.Log, 2)
	if n := size(); n != end {
		t.Fatalf("log is %d bytes after recovery, want %d (cut after the last commit)", n, end)
	}
	w.Close()
}
