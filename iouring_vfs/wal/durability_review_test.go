package wal

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
	"github.com/golibsql/libsql/iouring_vfs/iofault"
)

// The tests of this file check the log's durability promises against power
// losses (iofault.CrashFS) at chosen moments: with sync=full a commit that
// returned is never lost, whatever the checkpoints and restarts do after
// it; with sync=normal a power loss may lose the last commits but the
// database is always some prefix of the commits; nothing half-written is
// read back; an I/O error past the point of no return poisons the log.

// rvPS is the page size of these tests: small pages keep the sweeps fast,
// and put a frame boundary inside a 512-byte sector, so torn writes cut
// frames apart.
const rvPS = 512

// rvState is one committed state of the database: its size in pages and
// the generation of every page (every page up to size is written by some
// commit in these tests).
type rvState struct {
	size  uint32
	pages map[PageNo]int
}

// rvHist is the sequence of states the commits made, oldest first; state 0
// is the empty database.
type rvHist struct {
	states []rvState
}

func newRvHist() *rvHist { return &rvHist{states: []rvState{{pages: map[PageNo]int{}}}} }

func (h *rvHist) last() int { return len(h.states) - 1 }

// add records the state a commit of changes, leaving the database at size
// pages, makes on top of the newest one.
func (h *rvHist) add(changes map[PageNo]int, size uint32) int {
	prev := h.states[h.last()]
	st := rvState{size: size, pages: make(map[PageNo]int, len(prev.pages)+len(changes))}
	for p, g := range prev.pages {
		if uint32(p) <= size {
			st.pages[p] = g
		}
	}
	for p, g := range changes {
		st.pages[p] = g
	}
	h.states = append(h.states, st)
	return h.last()
}

// commit commits changes on l and records the state, also when Append
// succeeded but the wait for durability failed (the commit may be on disk).
func (h *rvHist) commit(l *Log, changes map[PageNo]int, size uint32, sync bool) (Version, int, error) {
	pages := make([]Page, 0, len(changes))
	for p, g := range changes {
		pages = append(pages, Page{No: p, Data: page(rvPS, p, g)})
	}
	slices.SortFunc(pages, func(a, b Page) int { return int(a.No) - int(b.No) })
	v, err := l.Commit(pages, size, sync)
	if v == 0 {
		return 0, -1, err
	}
	return v, h.add(changes, size), err
}

// mustCommit is commit for a step that cannot fail.
func (h *rvHist) mustCommit(t *testing.T, l *Log, changes map[PageNo]int, size uint32, sync bool) (Version, int) {
	t.Helper()
	v, i, err := h.commit(l, changes, size, sync)
	if err != nil {
		t.Fatal(err)
	}
	return v, i
}

// match returns the newest state whose size and pages l reads at its
// durable version, or -1 with what differs from the newest state.
func (h *rvHist) match(l *Log) (int, error) {
	v := l.Durable()
	size := l.Size(v)
	buf := make([]byte, rvPS)
	var why error
	for i := h.last(); i >= 0; i-- {
		st := h.states[i]
		if size != st.size {
			if why == nil {
				why = fmt.Errorf("size %d, want %d", size, st.size)
			}
			continue
		}
		ok := true
		for p := PageNo(1); uint32(p) <= size; p++ {
			found, err := l.ReadPage(p, v, buf)
			if err != nil {
				return -1, fmt.Errorf("read page %d: %w", p, err)
			}
			if g, in := st.pages[p]; !found || !in || !bytes.Equal(buf, page(rvPS, p, g)) {
				if why == nil {
					why = fmt.Errorf("page %d is %s, want gen %d", p, describe(buf), g)
				}
				ok = false
				break
			}
		}
		if ok {
			return i, nil
		}
	}
	return -1, why
}

// expect reopens the log on fs and checks that it holds a state from must
// on; it returns the state found.
func (h *rvHist) expect(t *testing.T, fs ioback.FS, opts Options, must int, what string) int {
	t.Helper()
	l := openLog(t, fs, "/", "db", opts)
	defer l.close()
	i, err := h.match(l.Log)
	if i < 0 {
		t.Fatalf("%s: the recovered database is no committed state (%v; %d states, %d must survive)", what, err, len(h.states), must)
	}
	if i < must {
		t.Fatalf("%s: recovered state %d of %d, but state %d had to survive the power loss", what, i, h.last(), must)
	}
	return i
}

// rvAll returns {1: g, ..., n: g}.
func rvAll(n PageNo, g int) map[PageNo]int {
	m := make(map[PageNo]int, n)
	for p := PageNo(1); p <= n; p++ {
		m[p] = g
	}
	return m
}

// rvOpen opens the log of /db on fs, where opening may fail (the machine
// is dying); close closes whatever was opened.
func rvOpen(fs ioback.FS, opts Options) (l *Log, close func(), err error) {
	var fs2 []ioback.File
	close = func() {
		if l != nil {
			l.Close()
		}
		for _, f := range fs2 {
			f.Close()
		}
	}
	for _, name := range []string{"/db", "/db-wal"} {
		f, err := fs.Open(name, ioback.OpenCreate)
		if err != nil {
			return nil, close, err
		}
		fs2 = append(fs2, f)
	}
	l, err = Open(fs2[0], fs2[1], opts)
	return l, close, err
}

// deadFrom makes every operation of ffs from the nth on fail, as a machine
// that lost power at that moment would never do it (closing and unlocking
// still work, so the test can clean up).
func deadFrom(ffs *iofault.FaultFS, n int) {
	ffs.Arm(iofault.Rule{N: n, Fault: iofault.EIO, Sticky: true, Match: func(op iofault.Op) bool {
		return op.Kind != iofault.OpClose && op.Kind != iofault.OpUnlock
	}})
}

// A sync=full commit appended to a SyncOff log after a checkpoint that
// restarted (or truncated) the log without syncing: the restart dropped
// the frames of the earlier sync=off commits, whose only copy is now the
// unsynced main file. The sync=full commit's fdatasync makes the new log
// generation durable on top of a main file that a power loss can still
// take back, so after the power loss the database is that commit's pages
// over an older main file: neither the state the sync=full commit made
// (which it acknowledged as durable) nor any other committed state. The
// fix made for TestSyncedCommitsSurviveCheckpointsOfASyncOffLog covers a
// sync=full commit that is in the log when the checkpoint runs, not one
// that comes after it. Variants: the sync=off commit after a synced one
// (syncedInLog reset by the first restart), and the restart done by a
// SyncOff Log closed and reopened with SyncFull (a process that opened the
// database with sync=off, then one with sync=full).
func TestReviewSyncFullCommitAfterUnsyncedRestartOfSyncOffLog(t *testing.T) {
	for _, mode := range []CheckpointMode{CheckpointRestart, CheckpointTruncate} {
		for _, variant := range []string{"off-then-full", "full-off-full", "reopened-full"} {
			for seed := range uint64(12) {
				t.Run(fmt.Sprintf("%v/%s/seed=%d", mode, variant, seed), func(t *testing.T) {
					cfs := iofault.NewCrashFS(seed)
					h := newRvHist()
					l := openLog(t, cfs, "/", "db", Options{Sync: SyncOff, ReserveAhead: 16 << 10})
					ckpt := func() {
						t.Helper()
						if res, err := l.Checkpoint(mode, l.Durable()); err != nil || !res.Restarted {
							t.Fatalf("checkpoint: %+v %v", res, err)
						}
					}
					switch variant {
					case "off-then-full":
						h.mustCommit(t, l.Log, rvAll(4, 1), 4, false)
						ckpt()
					case "full-off-full":
						h.mustCommit(t, l.Log, rvAll(4, 1), 4, true)
						ckpt()
						h.mustCommit(t, l.Log, map[PageNo]int{1: 2, 3: 2, 4: 2}, 4, false)
						ckpt()
					case "reopened-full":
						h.mustCommit(t, l.Log, rvAll(4, 1), 4, false)
						ckpt()
						l.close()
						l = openLog(t, cfs, "/", "db", Options{Sync: SyncFull, ReserveAhead: 16 << 10})
					}
					_, must := h.mustCommit(t, l.Log, map[PageNo]int{2: 3}, 4, true)
					h.expect(t, cfs.Crash(), Options{}, must, "power loss after the sync=full commit")
				})
			}
		}
	}
}

// A log that recovery finds holding commits acknowledged as durable (by a
// process that ran with sync=full and was killed) and that is opened with
// SyncOff: recovery does not mark the log as holding synced commits
// (syncedInLog is false), so the first checkpoint copies them into the main
// file without fdatasync and restarts (or truncates) the log without
// fdatasync either. A power loss then may keep the new header (or the
// truncation) and lose the main file's writes: the acknowledged commits are
// gone.
func TestReviewRecoveredSyncedCommitsSurviveCheckpointOfSyncOffLog(t *testing.T) {
	for _, mode := range []CheckpointMode{CheckpointRestart, CheckpointTruncate} {
		for seed := range uint64(12) {
			t.Run(fmt.Sprintf("%v/seed=%d", mode, seed), func(t *testing.T) {
				cfs := iofault.NewCrashFS(seed)
				h := newRvHist()
				l := openLog(t, cfs, "/", "db", Options{Sync: SyncFull, ReserveAhead: 16 << 10})
				h.mustCommit(t, l.Log, rvAll(4, 1), 4, true)
				_, must := h.mustCommit(t, l.Log, map[PageNo]int{2: 2, 5: 2}, 5, true)
				l.close() // the process is killed: no checkpoint

				l = openLog(t, cfs, "/", "db", Options{Sync: SyncOff})
				if i, err := h.match(l.Log); i != must {
					t.Fatalf("recovery found state %d (%v), want %d", i, err, must)
				}
				if res, err := l.Checkpoint(mode, l.Durable()); err != nil || !res.Restarted {
					t.Fatalf("checkpoint: %+v %v", res, err)
				}
				h.expect(t, cfs.Crash(), Options{}, must, "power loss after the SyncOff checkpoint")
			})
		}
	}
}

// Under sync=normal a power loss may tear a batch of unsynced commits so
// that a later commit's frame survives while an earlier one's is lost.
// Recovery stops at the lost frame, and the next commit is written in its
// place: with the same salts and the same running checksum, a commit
// byte-for-byte the one that was lost (the application redoes the same
// change, say) would let the surviving later frame chain onto it again,
// and the next recovery (after a kill, or another power loss) would bring
// back a commit that the first power loss had taken away: the database
// would then not be a prefix of the commits (c0, D) but c0, D, C2. Stock
// SQLite's WAL has this weakness. Recovery therefore cuts the log file at
// its last whole commit, or, when it holds none, starts a header with new
// salts.
func TestReviewLostCommitIsNotRevivedByAnIdenticalRecommit(t *testing.T) {
	for _, first := range []string{"after a synced commit", "in an empty log"} {
		t.Run(first, func(t *testing.T) {
			tried := 0
			for seed := range uint64(60) {
				cfs := iofault.NewCrashFS(seed)
				h := newRvHist()
				l := openLog(t, cfs, "/", "db", Options{Sync: SyncNormal, ReserveAhead: 16 << 10})
				c0 := 0
				if first == "after a synced commit" {
					_, c0 = h.mustCommit(t, l.Log, rvAll(3, 1), 3, true)
				}
				c1 := map[PageNo]int{2: 2}
				if c0 == 0 {
					c1 = rvAll(3, 2)
				}
				h.mustCommit(t, l.Log, c1, 3, false)
				h.mustCommit(t, l.Log, map[PageNo]int{3: 3}, 3, false)
				l.close()

				after := cfs.Crash()
				l = openLog(t, after, "/", "db", Options{Sync: SyncNormal})
				got, err := h.match(l.Log)
				if got < c0 {
					t.Fatalf("seed %d: recovered state %d (%v), want at least %d", seed, got, err, c0)
				}
				if got != c0 {
					l.close()
					continue // the first unsynced commit survived: nothing to revive
				}
				tried++
				// The history as the application sees it after the power loss.
				h.states = h.states[:c0+1]
				_, d := h.mustCommit(t, l.Log, c1, 3, true) // the same change again
				l.close()                                   // killed: no checkpoint
				h.expect(t, after, Options{Sync: SyncNormal}, d, fmt.Sprintf("seed %d: reopened after the recommit", seed))
			}
			if tried == 0 {
				t.Fatal("no seed lost the first of the two unsynced commits")
			}
		})
	}
}

// rvWorkload runs random steps on a log: commits that grow, shrink and
// rewrite the database, with and without sync; PASSIVE checkpoints at the
// durable version and at an older one (a pinned reader); RESTART, TRUNCATE
// and RestartRetaining. It keeps, in must, the newest state a power loss
// may not take away.
type rvWorkload struct {
	h     *rvHist
	rng   *rand.Rand
	sync  SyncMode
	gen   int
	must  int
	acked int
	vers  []rvVer // commits of the current log generation
}

type rvVer struct {
	v Version
	i int
}

func (w *rvWorkload) run(l *Log, steps int) error {
	for range steps {
		size := w.h.states[w.acked].size
		switch r := w.rng.IntN(20); {
		case r < 12 || size == 0:
			w.gen++
			changes := map[PageNo]int{}
			if size > 5 && w.rng.IntN(5) == 0 {
				size -= uint32(1 + w.rng.IntN(3)) // shrink, VACUUM-like
			}
			grow := uint32(w.rng.IntN(3))
			if size == 0 {
				grow = 4
			}
			for p := size + 1; p <= size+grow; p++ {
				changes[PageNo(p)] = w.gen
			}
			size += grow
			for range 1 + w.rng.IntN(4) {
				changes[PageNo(1+w.rng.IntN(int(size)))] = w.gen
			}
			sync := w.rng.IntN(4) == 0
			if w.sync == SyncFull {
				sync = w.rng.IntN(4) != 0
			}
			v, i, err := w.h.commit(l, changes, size, sync)
			if err != nil {
				return fmt.Errorf("commit: %w", err)
			}
			w.acked = i
			w.vers = append(w.vers, rvVer{v, i})
			if sync {
				w.must = i
			}
		case r < 14:
			if _, err := l.Checkpoint(CheckpointPassive, l.Durable()); err != nil {
				return fmt.Errorf("passive checkpoint: %w", err)
			}
			w.must = w.acked
		case r < 16:
			if len(w.vers) == 0 {
				continue
			}
			old := w.vers[w.rng.IntN(len(w.vers))]
			if _, err := l.Checkpoint(CheckpointPassive, old.v); err != nil {
				return fmt.Errorf("passive checkpoint at %v: %w", old.v, err)
			}
			w.must = max(w.must, old.i)
		case r < 19:
			mode := CheckpointRestart
			if r == 18 {
				mode = CheckpointTruncate
			}
			res, err := l.Checkpoint(mode, l.Durable())
			if err != nil {
				return fmt.Errorf("%v checkpoint: %w", mode, err)
			}
			w.must = w.acked
			if res.Restarted {
				w.vers = nil
			}
		default:
			if len(w.vers) < 2 {
				continue
			}
			old := w.vers[w.rng.IntN(len(w.vers)-1)]
			res, err := l.RestartRetaining([]Version{old.v}, 1<<20)
			if err != nil {
				return fmt.Errorf("restart retaining %v: %w", old.v, err)
			}
			if res.Restarted {
				w.must = w.acked
				w.vers = nil
			}
		}
	}
	return nil
}

// rebase makes the workload continue from state i, the one recovery found
// after a power loss: later states never happened as far as the
// application is concerned, and state i is durable (recovery synced it).
func (w *rvWorkload) rebase(i int) {
	w.h.states = w.h.states[:i+1]
	w.must, w.acked, w.vers = i, i, nil
}

// Two failures in a row under sync=full and sync=normal: a random workload
// of commits and checkpoints of every kind stops at a random step, by a
// power loss or by a kill (the process dies, the files keep every write
// it made); the log recovers to a state no older than the last one that
// had to survive (after a kill: exactly the last acknowledged one, which
// recovery makes durable before anything builds on it). The workload goes
// on from there on the recovered files and the machine loses power at a
// random I/O operation (during recovery, during the first checkpoint after
// it, during a later commit, ...): the second recovery again finds a
// committed state no older than the last one that had to survive.
func TestReviewTwoFailuresInARowKeepAPrefixOfTheCommits(t *testing.T) {
	for _, mode := range []SyncMode{SyncFull, SyncNormal} {
		for seed := range uint64(120) {
			rng := rand.New(rand.NewPCG(seed, 99))
			kill := seed%2 == 1
			what := fmt.Sprintf("%v seed %d kill=%v", mode, seed, kill)
			w := &rvWorkload{h: newRvHist(), rng: rng, sync: mode}
			opts := Options{Sync: mode, ReserveAhead: 8 << 10, Rand: rng.Uint32}

			cfs := iofault.NewCrashFS(seed)
			l := openLog(t, cfs, "/", "db", opts)
			if err := w.run(l.Log, 10+rng.IntN(30)); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			l.close()
			cfs2, must := cfs, w.acked
			if !kill {
				cfs2, must = cfs.Crash(), w.must
			}
			w.rebase(w.h.expect(t, cfs2, opts, must, what+": first failure"))

			ffs := iofault.NewFaultFS(cfs2)
			deadFrom(ffs, rng.IntN(60))
			if l2, closeAll, err := rvOpen(ffs, opts); err == nil {
				w.run(l2, 20) // stops at the first error: the power went
				closeAll()
			} else {
				closeAll()
			}
			w.h.expect(t, cfs2.Crash(), opts, w.must, what+": power loss after recovery")
		}
	}
}

// A sync=normal process is killed with commits written but not synced (in
// the OS cache only); the next process recovers them, and its first
// checkpoint copies them into the main file: recovery must have made them
// durable (it fdatasyncs the log), because the checkpoint, seeing them as
// synced, does not sync the log again, and a PASSIVE checkpoint keeps the
// log. A power loss that then lost the first of those frames would make
// recovery stop before them and lay the log's older pages over a main file
// that is newer: a mixture of two states.
func TestReviewCheckpointAfterKillAndRecoveryKeepsItsCommits(t *testing.T) {
	for seed := range uint64(24) {
		cfs := iofault.NewCrashFS(seed)
		h := newRvHist()
		opts := Options{Sync: SyncNormal, ReserveAhead: 8 << 10}
		l := openLog(t, cfs, "/", "db", opts)
		h.mustCommit(t, l.Log, rvAll(6, 1), 6, true)
		if _, err := l.Checkpoint(CheckpointPassive, l.Durable()); err != nil {
			t.Fatal(err)
		}
		h.mustCommit(t, l.Log, map[PageNo]int{1: 2, 2: 2, 3: 2}, 6, false)
		h.mustCommit(t, l.Log, map[PageNo]int{3: 3, 4: 3}, 6, false)
		_, last := h.mustCommit(t, l.Log, map[PageNo]int{5: 4, 7: 4}, 7, false)
		l.close() // killed

		l = openLog(t, cfs, "/", "db", opts)
		if _, err := l.Checkpoint(CheckpointPassive, l.Durable()); err != nil {
			t.Fatal(err)
		}
		h.expect(t, cfs.Crash(), opts, last, fmt.Sprintf("seed %d: power loss after the first checkpoint after a kill", seed))
		l.close()
	}
}

// rvShrinkingSetup builds, on fs, a log whose last commits shrink the
// database (VACUUM-like) and grow it again with new pages, over a main file
// that already holds a larger database: the checkpoint that follows must
// copy pages and cut the main file to size.
func rvShrinkingSetup(t *testing.T, fs ioback.FS, h *rvHist, opts Options) (*testLog, int) {
	t.Helper()
	l := openLog(t, fs, "/", "db", opts)
	h.mustCommit(t, l.Log, rvAll(12, 1), 12, true)
	if _, err := l.Checkpoint(CheckpointPassive, l.Durable()); err != nil {
		t.Fatal(err)
	}
	sync := opts.Sync == SyncFull
	h.mustCommit(t, l.Log, map[PageNo]int{1: 2, 2: 2, 3: 2, 4: 2}, 4, sync) // shrinks to 4
	h.mustCommit(t, l.Log, map[PageNo]int{2: 3}, 4, sync)
	_, last := h.mustCommit(t, l.Log, map[PageNo]int{1: 4, 5: 4, 6: 4, 7: 4}, 7, sync)
	return l, last
}

// Crash at every I/O operation of a checkpoint (RESTART, TRUNCATE, or
// RestartRetaining with an older snapshot pinned) that copies a database
// which shrank and grew again and cuts the main file to size, then, on the
// files the power loss left, crash again at every operation of recovery
// and of the first checkpoint after it (and of a commit after that): every
// state that had to survive does, and nothing else comes back (no page of
// the larger database from before the shrink, no frame of a discarded
// generation).
func TestReviewCrashSweepThroughCheckpointsOfAShrinkingDatabase(t *testing.T) {
	type kind struct {
		name string
		run  func(l *Log) error
	}
	kinds := []kind{
		{"RESTART", func(l *Log) error { _, err := l.Checkpoint(CheckpointRestart, l.Durable()); return err }},
		{"TRUNCATE", func(l *Log) error { _, err := l.Checkpoint(CheckpointTruncate, l.Durable()); return err }},
		{"retaining", func(l *Log) error {
			_, err := l.RestartRetaining([]Version{l.Durable() - 2}, 1<<20)
			return err
		}},
	}
	runs, second := 0, 0
	for _, mode := range []SyncMode{SyncFull, SyncNormal} {
		for _, k := range kinds {
			for n := 0; ; n++ {
				seed := uint64(n)*31 + uint64(len(k.name))
				opts := Options{Sync: mode, ReserveAhead: 8 << 10}
				h := newRvHist()
				cfs := iofault.NewCrashFS(seed)
				ffs := iofault.NewFaultFS(cfs)
				l, last := rvShrinkingSetup(t, ffs, h, opts)
				must := 1
				if mode == SyncFull {
					must = last
				}
				deadFrom(ffs, n)
				err := k.run(l.Log)
				fired := ffs.Fired()
				if !fired {
					if err != nil {
						t.Fatalf("%v %s: %v", mode, k.name, err)
					}
					must = last
				} else if err == nil {
					t.Fatalf("%v %s, dead from operation %d: the checkpoint reported no error", mode, k.name, n)
				}
				l.close()
				what := fmt.Sprintf("%v %s, dead from operation %d of the checkpoint", mode, k.name, n)
				cfs2 := cfs.Crash()
				got := h.expect(t, cfs2, opts, must, what)

				// The second power loss, at every operation of recovery and
				// of a checkpoint and a commit after it. Each run starts
				// from the same files: a fresh copy of the first crash.
				for m := 0; ; m++ {
					h2 := &rvHist{states: slices.Clone(h.states[:got+1])}
					c2 := iofault.NewCrashFS(seed)
					f2 := iofault.NewFaultFS(c2)
					lx, _ := rvShrinkingSetup(t, f2, newRvHist(), opts)
					deadFrom(f2, n)
					k.run(lx.Log)
					lx.close()
					c3 := c2.Crash()
					f3 := iofault.NewFaultFS(c3)
					deadFrom(f3, m)
					must2 := got
					l3, closeAll, err := rvOpen(f3, opts)
					if err == nil {
						err = func() error {
							if _, err := l3.Checkpoint(CheckpointRestart, l3.Durable()); err != nil {
								return err
							}
							size := h2.states[h2.last()].size
							if _, i, err := h2.commit(l3, map[PageNo]int{PageNo(size): 9, 1: 9}, size, true); err != nil {
								return err
							} else {
								must2 = i
							}
							_, err := l3.Checkpoint(CheckpointTruncate, l3.Durable())
							return err
						}()
						if err == nil && f3.Fired() {
							t.Fatalf("%s: an I/O error during recovery and checkpoint did not reach the caller", what)
						}
					}
					closeAll()
					h2.expect(t, c3.Crash(), opts, must2, fmt.Sprintf("%s, then dead from operation %d after the first power loss", what, m))
					second++
					if !f3.Fired() {
						break
					}
				}
				if !fired {
					runs += n + 1
					break
				}
			}
		}
	}
	t.Logf("%d checkpoints swept, %d second failures", runs, second)
}

// Group commit: the fdatasync a sync=full commit's batch does covers the
// commits appended before it without sync (written in the same batch, or
// by an earlier batch that did not sync), so after a power loss the
// database holds at least the sync=full commit, with every commit before
// it: never the synced commit over a hole where an unsynced one was.
func TestReviewGroupCommitSyncCoversEarlierUnsyncedCommits(t *testing.T) {
	for _, mode := range []SyncMode{SyncNormal, SyncOff} {
		for _, variant := range []string{"one-batch", "earlier-batch"} {
			for seed := range uint64(24) {
				cfs := iofault.NewCrashFS(seed)
				h := newRvHist()
				l := openLog(t, cfs, "/", "db", Options{Sync: mode, ReserveAhead: 8 << 10})
				h.mustCommit(t, l.Log, rvAll(6, 1), 6, true)
				var must int
				switch variant {
				case "one-batch":
					// Three appends, one WaitDurable: the leader writes
					// them all in one batch that syncs for the second.
					a := func(p PageNo, g int, sync bool) Version {
						v, err := l.Append([]Page{{No: p, Data: page(rvPS, p, g)}, {No: 6, Data: page(rvPS, 6, g)}}, 6, sync)
						if err != nil {
							t.Fatal(err)
						}
						h.add(map[PageNo]int{p: g, 6: g}, 6)
						return v
					}
					a(2, 2, false)
					v := a(3, 3, true)
					must = h.last()
					a(4, 4, false)
					if err := l.WaitDurable(v); err != nil {
						t.Fatal(err)
					}
				case "earlier-batch":
					h.mustCommit(t, l.Log, map[PageNo]int{2: 2, 3: 2}, 6, false)
					h.mustCommit(t, l.Log, map[PageNo]int{4: 3, 6: 3}, 6, false)
					_, must = h.mustCommit(t, l.Log, map[PageNo]int{5: 4}, 6, true)
				}
				h.expect(t, cfs.Crash(), Options{Sync: mode}, must, fmt.Sprintf("%v %s seed %d", mode, variant, seed))
				l.close()
			}
		}
	}
}

// A SyncOff log whose sync=off commits were copied into the main file by
// a checkpoint that did not sync, then a sync=full commit, then a second
// checkpoint: that one syncs (the log holds a synced commit), and its
// fdatasync of the main file covers the first checkpoint's writes too, so
// the restart that follows (in the same checkpoint or a later one) loses
// nothing.
func TestReviewSyncedCommitInLogCoversEarlierUnsyncedCheckpoint(t *testing.T) {
	for _, mode := range []CheckpointMode{CheckpointPassive, CheckpointRestart, CheckpointTruncate} {
		for seed := range uint64(16) {
			cfs := iofault.NewCrashFS(seed)
			h := newRvHist()
			l := openLog(t, cfs, "/", "db", Options{Sync: SyncOff, ReserveAhead: 8 << 10})
			h.mustCommit(t, l.Log, rvAll(5, 1), 5, false)
			if _, err := l.Checkpoint(CheckpointPassive, l.Durable()); err != nil {
				t.Fatal(err)
			}
			_, must := h.mustCommit(t, l.Log, map[PageNo]int{2: 2, 6: 2}, 6, true)
			res, err := l.Checkpoint(mode, l.Durable())
			if err != nil {
				t.Fatal(err)
			}
			if mode == CheckpointPassive {
				// Nothing left to copy: this one only restarts the log.
				res, err = l.Checkpoint(CheckpointRestart, l.Durable())
			}
			if err != nil || !res.Restarted {
				t.Fatalf("restart: %+v %v", res, err)
			}
			h.expect(t, cfs.Crash(), Options{}, must, fmt.Sprintf("%v seed %d", mode, seed))
			l.close()
		}
	}
}

// An I/O error at any write, truncate or fdatasync of a checkpoint (before
// the copy, during it, cutting the main file, syncing it, writing or
// syncing the restarted header, truncating the log) poisons the log: the
// checkpoint fails with ErrPoisoned, so do the next commit and checkpoint,
// the log does not fdatasync again, and after a power loss every commit
// that had to survive is there.
func TestReviewFailedCheckpointIOPoisonsAndLosesNothing(t *testing.T) {
	isWriteOrSync := func(op iofault.Op) bool { return op.Kind.IsWrite() || op.Kind == iofault.OpSync }
	for _, mode := range []SyncMode{SyncFull, SyncNormal} {
		for _, ck := range []CheckpointMode{CheckpointRestart, CheckpointTruncate} {
			for k := 0; ; k++ {
				cfs := iofault.NewCrashFS(uint64(k))
				ffs := iofault.NewFaultFS(cfs)
				h := newRvHist()
				opts := Options{Sync: mode, ReserveAhead: 8 << 10}
				l, last := rvShrinkingSetup(t, ffs, h, opts)
				must := 1
				if mode == SyncFull {
					must = last
				}
				ffs.Arm(iofault.Rule{N: k, Match: isWriteOrSync, Fault: iofault.EIO})
				_, err := l.Checkpoint(ck, l.Durable())
				if !ffs.Fired() {
					if err != nil {
						t.Fatal(err)
					}
					break
				}
				what := fmt.Sprintf("%v %v, I/O error at write or sync %d", mode, ck, k)
				if !errors.Is(err, ErrPoisoned) || !iofault.IsInjected(err) {
					t.Fatalf("%s: checkpoint returned %v, want ErrPoisoned wrapping the injected error", what, err)
				}
				syncsBefore := 0
				ffs.Arm(iofault.Rule{N: 1 << 30, Match: func(op iofault.Op) bool {
					if op.Kind == iofault.OpSync {
						syncsBefore++
					}
					return false
				}})
				if _, err := l.Commit([]Page{{No: 1, Data: page(rvPS, 1, 50)}}, 7, true); !errors.Is(err, ErrPoisoned) {
					t.Fatalf("%s: commit after the failure: %v, want ErrPoisoned", what, err)
				}
				if _, err := l.Checkpoint(CheckpointPassive, l.Durable()); !errors.Is(err, ErrPoisoned) {
					t.Fatalf("%s: checkpoint after the failure: %v, want ErrPoisoned", what, err)
				}
				if syncsBefore != 0 {
					t.Fatalf("%s: %d fdatasyncs after the log was poisoned", what, syncsBefore)
				}
				l.close()
				h.expect(t, cfs.Crash(), opts, must, what)
			}
		}
	}
}
