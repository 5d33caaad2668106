package wal

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
	"github.com/golibsql/libsql/iouring_vfs/iofault"
	"github.com/golibsql/libsql/iouring_vfs/pagecache"
)

// gatedFile is a File whose next Sync, once armed, reports on synced after
// the wrapped Sync returned and then waits for release: the window between
// the end of an fdatasync and its caller learning of it.
type gatedFile struct {
	ioback.File
	armed   chan struct{} // holds a token while the next Sync is gated
	synced  chan struct{}
	release chan struct{}
}

func newGatedFile(f ioback.File) *gatedFile {
	return &gatedFile{File: f, armed: make(chan struct{}, 1), synced: make(chan struct{}), release: make(chan struct{})}
}

func (g *gatedFile) arm() { g.armed <- struct{}{} }

func (g *gatedFile) Sync() error {
	err := g.File.Sync()
	select {
	case <-g.armed:
		g.synced <- struct{}{}
		<-g.release
	default:
	}
	return err
}

// A commit written while the log's pre-checkpoint fdatasync is running is
// not covered by it: the next checkpoint must sync the log again before
// it copies that commit into the main file, or a power loss keeps the
// main file's copy and loses the log's, and the commit the checkpoint made
// durable is gone.
func TestCheckpointSyncCoversOnlyFramesWrittenBeforeIt(t *testing.T) {
	for seed := range uint64(12) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			cfs := iofault.NewCrashFS(seed)
			db, err := cfs.Open("/db", ioback.OpenCreate)
			if err != nil {
				t.Fatal(err)
			}
			wf, err := cfs.Open("/db-wal", ioback.OpenCreate)
			if err != nil {
				t.Fatal(err)
			}
			gw := newGatedFile(wf)
			l, err := Open(db, gw, Options{Sync: SyncNormal, ReserveAhead: 64 << 10})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			commitPages(t, l, 1024, map[PageNo]int{1: 1, 2: 1}, 2, false)

			gw.arm()
			ckpt := make(chan error, 1)
			go func() {
				_, err := l.Checkpoint(CheckpointPassive, l.Durable())
				ckpt <- err
			}()
			<-gw.synced
			want := commitPages(t, l, 1024, map[PageNo]int{2: 2, 3: 2}, 3, false)
			close(gw.release)
			if err := <-ckpt; err != nil {
				t.Fatal(err)
			}
			if _, err := l.Checkpoint(CheckpointPassive, l.Durable()); err != nil {
				t.Fatal(err)
			}

			// The second checkpoint made the commit durable; lose power.
			after := cfs.Crash()
			db2, err := after.Open("/db", ioback.OpenCreate)
			if err != nil {
				t.Fatal(err)
			}
			defer db2.Close()
			wf2, err := after.Open("/db-wal", ioback.OpenCreate)
			if err != nil {
				t.Fatal(err)
			}
			defer wf2.Close()
			l2, err := Open(db2, wf2, Options{Sync: SyncNormal})
			if err != nil {
				t.Fatal(err)
			}
			defer l2.Close()
			if got := l2.Durable(); got != want {
				t.Fatalf("recovered version %v, want %v: the checkpointed commit was lost", got, want)
			}
			buf := make([]byte, 1024)
			for p, g := range map[PageNo]int{1: 1, 2: 2, 3: 2} {
				if _, err := l2.ReadPage(p, want, buf); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(buf, page(1024, p, g)) {
					t.Fatalf("page %d is %s, want gen %d", p, describe(buf), g)
				}
			}
		})
	}
}

// A PASSIVE checkpoint runs beside commits: whatever it reads of the log's
// state outside the lock must be its own snapshot (run with -race).
func TestConcurrentCheckpointAndCommits(t *testing.T) {
	l := openLog(t, ioback.Portable(), t.TempDir(), "db", Options{Sync: SyncOff})
	commitPages(t, l.Log, 1024, map[PageNo]int{1: 0, 2: 0}, 2, false)
	const commits = 300
	done := make(chan error, 1)
	go func() {
		for i := range commits {
			p := PageNo(1 + i%8)
			if _, err := l.Commit([]Page{{No: p, Data: page(1024, p, i+1)}}, 8, false); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			running = false
		default:
		}
		if _, err := l.Checkpoint(CheckpointPassive, l.Durable()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Checkpoint(CheckpointFull, l.Durable()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1024)
	for i := commits - 8; i < commits; i++ {
		p := PageNo(1 + i%8)
		if _, err := l.ReadPage(p, l.Durable(), buf); err != nil || !bytes.Equal(buf, page(1024, p, i+1)) {
			t.Fatalf("page %d is %s (%v), want gen %d", p, describe(buf), err, i+1)
		}
	}
}

// A checkpoint with nothing new to copy writes nothing and syncs nothing.
func TestIdleCheckpointDoesNotSync(t *testing.T) {
	ffs := iofault.NewFaultFS(ioback.NewMemFS())
	l := openLog(t, ffs, "/", "db", Options{})
	commitPages(t, l.Log, 1024, map[PageNo]int{1: 1, 2: 1}, 2, true)
	if res, err := l.Checkpoint(CheckpointPassive, l.Durable()); err != nil || res.Pages != 2 {
		t.Fatalf("first checkpoint: %+v, %v", res, err)
	}
	ffs.Arm(iofault.Rule{N: 1 << 30, Match: func(op iofault.Op) bool {
		return op.Kind == iofault.OpSync || op.Kind.IsWrite()
	}})
	for _, mode := range []CheckpointMode{CheckpointPassive, CheckpointFull} {
		res, err := l.Checkpoint(mode, l.Durable())
		if err != nil {
			t.Fatal(err)
		}
		if res.Pages != 0 || res.Busy {
			t.Fatalf("idle %v checkpoint: %+v", mode, res)
		}
	}
	if n := ffs.Matched(); n != 0 {
		t.Fatalf("idle checkpoints did %d writes or syncs, want none", n)
	}
}

// Frames, read without the log's lock, follows every change of the frame
// counts: appends, a passive checkpoint, a restart, recovery at reopen.
func TestFramesFollowsAppendsCheckpointsAndRestarts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, fs ioback.FS, dir string) {
		l := openLog(t, fs, dir, "db", Options{})
		check := func(step string, frames, backfilled int) {
			t.Helper()
			f, b := l.Frames()
			st := l.Stats()
			if f != frames || b != backfilled || st.Frames != f || st.Backfilled != b {
				t.Fatalf("%s: Frames() = %d, %d and Stats %d, %d; want %d, %d", step, f, b, st.Frames, st.Backfilled, frames, backfilled)
			}
		}
		check("empty", 0, 0)
		commitPages(t, l.Log, 1024, map[PageNo]int{1: 1, 2: 1}, 2, true)
		commitPages(t, l.Log, 1024, map[PageNo]int{2: 2}, 2, true)
		check("two commits", 3, 0)
		if _, err := l.Checkpoint(CheckpointPassive, l.Durable()); err != nil {
			t.Fatal(err)
		}
		check("passive checkpoint", 3, 3)
		if _, err := l.Checkpoint(CheckpointRestart, l.Durable()); err != nil {
			t.Fatal(err)
		}
		check("restart", 0, 0)
		commitPages(t, l.Log, 1024, map[PageNo]int{3: 1}, 3, true)
		check("commit after restart", 1, 0)
		l.close()
		l = openLog(t, fs, dir, "db", Options{})
		check("recovered", 1, 0)
	})
}

// A log opened with SyncOff (the first connection asked for sync=off)
// still keeps the commits appended with sync set (those of a sync=full
// connection): a checkpoint that copies them into the main file syncs it
// before the restart or truncation discards their frames, or a power loss
// would lose what a commit acknowledged as durable.
func TestSyncedCommitsSurviveCheckpointsOfASyncOffLog(t *testing.T) {
	for _, mode := range []CheckpointMode{CheckpointRestart, CheckpointTruncate} {
		for seed := range uint64(16) {
			t.Run(fmt.Sprintf("%v/seed=%d", mode, seed), func(t *testing.T) {
				cfs := iofault.NewCrashFS(seed)
				l := openLog(t, cfs, "/", "db", Options{Sync: SyncOff})
				commitPages(t, l.Log, 1024, map[PageNo]int{1: 1, 2: 1, 3: 1}, 3, true)
				if _, err := l.Checkpoint(mode, l.Durable()); err != nil {
					t.Fatal(err)
				}
				want := commitPages(t, l.Log, 1024, map[PageNo]int{2: 2}, 3, true)

				l2 := openLog(t, cfs.Crash(), "/", "db", Options{Sync: SyncOff})
				buf := make([]byte, 1024)
				for p, g := range map[PageNo]int{1: 1, 2: 2, 3: 1} {
					if _, err := l2.ReadPage(p, l2.Durable(), buf); err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(buf, page(1024, p, g)) {
						t.Fatalf("after a power loss, page %d is %s, want gen %d (version %v, want %v)", p, describe(buf), g, l2.Durable(), want)
					}
				}
			})
		}
	}
}

// A restart drops the cached images of the log's frames: their keys name
// a generation no read asks for again, and they filled a busy database's
// cache (a tenant of 2 pages held 16 MiB) with images nobody would read.
func TestRestartDropsTheLogsCachedFrames(t *testing.T) {
	cache := pagecache.New(4096, ps, nil)
	l := openLog(t, ioback.NewMemFS(), "/", "db", Options{Cache: cache})
	for round := range 300 {
		for range 2 {
			commitPages(t, l.Log, ps, map[PageNo]int{1: round, 2: round}, 2, false)
		}
		res, err := l.Checkpoint(CheckpointRestart, l.Durable())
		if err != nil || !res.Restarted {
			t.Fatalf("round %d: restart: %+v %v", round, res, err)
		}
	}
	buf := make([]byte, ps)
	for f := uint64(1); f <= 4; f++ {
		for p := uint32(1); p <= 2; p++ {
			if cache.Get(pagecache.Key{Page: p, Src: 1<<32 | f}, buf) {
				t.Fatalf("frame %d (page %d) of the first generation is still cached", f, p)
			}
		}
	}
	if b, most := cache.Stats().Bytes, 16*8*ps; b > most {
		t.Fatalf("the cache of a 2-page database holds %d bytes after 300 restarts, want at most %d", b, most)
	}
	for p := PageNo(1); p <= 2; p++ {
		if found, err := l.ReadPage(p, l.Durable(), buf); err != nil || !found || !bytes.Equal(buf, page(ps, p, 299)) {
			t.Fatalf("page %d after the restarts: %v %v %s", p, found, err, describe(buf))
		}
	}
}

// A checkpoint drops the cached images of frames that no snapshot can
// read any more (a later frame of the same page is as old as the oldest
// snapshot), so that a busy database's cache holds what was committed
// since the last checkpoint, not every frame of its log; frames an older
// snapshot still reads stay readable.
func TestCheckpointDropsSupersededFrames(t *testing.T) {
	cache := pagecache.New(4096, ps, nil)
	l := openLog(t, ioback.NewMemFS(), "/", "db", Options{Cache: cache})
	var pinned Version
	for round := range 500 {
		v := commitPages(t, l.Log, ps, map[PageNo]int{1: round, 2: round}, 2, false)
		if round == 100 {
			pinned = v
		}
		if round%50 == 49 {
			oldest := l.Durable()
			reading := round > 100 && round < 300
			if reading {
				oldest = pinned // a reader of round 100 stays until round 300
			}
			if _, err := l.Checkpoint(CheckpointPassive, oldest); err != nil {
				t.Fatal(err)
			}
			if reading {
				for p := PageNo(1); p <= 2; p++ {
					buf := make([]byte, ps)
					if found, err := l.ReadPage(p, pinned, buf); err != nil || !found || !bytes.Equal(buf, page(ps, p, 100)) {
						t.Fatalf("round %d: page %d as of round 100: %v %v %s", round, p, found, err, describe(buf))
					}
				}
			}
		}
	}
	// The last checkpoint ran at round 499 with no older snapshot: every
	// frame before round 499's is superseded. (A commit's frames come in
	// no set order of pages, so both pages are looked for in each.)
	img := make([]byte, ps)
	for f := uint64(1); f <= 2*499; f++ {
		for p := uint32(1); p <= 2; p++ {
			if cache.Get(pagecache.Key{Page: p, Src: 1<<32 | f}, img) {
				t.Fatalf("frame %d (page %d), superseded, is still cached", f, p)
			}
		}
	}
	buf := make([]byte, ps)
	for p := PageNo(1); p <= 2; p++ {
		if found, err := l.ReadPage(p, l.Durable(), buf); err != nil || !found || !bytes.Equal(buf, page(ps, p, 499)) {
			t.Fatalf("page %d: %v %v %s", p, found, err, describe(buf))
		}
	}
}

// A truncating checkpoint empties a log file that holds bytes but no
// commit (a torn first commit, say), not only one it reserved space in.
func TestTruncateEmptiesALogWithNoCommit(t *testing.T) {
	fs := ioback.NewMemFS()
	l := openLog(t, fs, "/", "db", Options{})
	commitPages(t, l.Log, ps, map[PageNo]int{1: 1}, 1, true)
	l.close()
	w, err := fs.Open("/db-wal", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt(make([]byte, 64), HeaderSize); err != nil { // tear the only commit
		t.Fatal(err)
	}
	w.Close()
	l = openLog(t, fs, "/", "db", Options{})
	if l.Durable() != l.Durable()&^0xffffffff {
		t.Fatalf("a torn commit was recovered: version %x", l.Durable())
	}
	if _, err := l.Checkpoint(CheckpointTruncate, l.Durable()); err != nil {
		t.Fatal(err)
	}
	if n, err := l.wal.Size(); err != nil || n != 0 {
		t.Fatalf("the log holds %d bytes after a truncating checkpoint (%v)", n, err)
	}
}

// A commit that grows the database without writing every new page (SQLite
// writes only the new last page of the pages it allocated and freed again)
// gets a zero frame for each: stock SQLite's checkpoint, like ours, takes
// a log whose commits claim more pages than its frames and the main file
// hold for corrupt.
func TestGrowthWithoutPagesGetsZeroFrames(t *testing.T) {
	l := openLog(t, ioback.NewMemFS(), "/", "db", Options{})
	commitPages(t, l.Log, ps, map[PageNo]int{1: 1, 2: 1, 3: 1}, 3, true)
	commitPages(t, l.Log, ps, map[PageNo]int{1: 2, 300: 2}, 300, true)
	if frames, _ := l.Frames(); frames != 3+300-3+1 {
		t.Fatalf("%d frames, want %d: the 296 pages the commit adds without writing them get zero frames", frames, 3+300-3+1)
	}
	buf := make([]byte, ps)
	if found, err := l.ReadPage(150, l.Durable(), buf); err != nil || !found || !bytes.Equal(buf, make([]byte, ps)) {
		t.Fatalf("page 150: %v %v %s", found, err, describe(buf))
	}
	if res, err := l.Checkpoint(CheckpointTruncate, l.Durable()); err != nil || !res.Restarted {
		t.Fatalf("checkpoint: %+v %v", res, err)
	}
	if found, err := l.ReadPage(300, l.Durable(), buf); err != nil || !found || !bytes.Equal(buf, page(ps, 300, 2)) {
		t.Fatalf("page 300 after the checkpoint: %v %v %s", found, err, describe(buf))
	}
}
