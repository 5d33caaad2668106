package wal

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
)

// TestRestartRetaining restarts the log, again and again, while random
// older versions stay pinned, with commits that grow and shrink the
// database in between: every pinned version reads its own pages and size,
// reports the pages changed since it (FirstChanged) across the restarts,
// and the log reopens with the newest state.
func TestRestartRetaining(t *testing.T) {
	forEachBackend(t, func(t *testing.T, fs ioback.FS, dir string) {
		const ps = 512
		l := openLog(t, fs, dir, "retain", Options{})
		m := newModel(ps, l.Last())
		rng := rand.New(rand.NewPCG(7, 11))
		size := uint32(4)
		gen := 0
		commit := func() {
			gen++
			size = max(2, size+uint32(rng.IntN(5))-2)
			changes := map[PageNo]int{1: gen}
			for range 1 + rng.IntN(3) {
				changes[PageNo(1+rng.IntN(int(size)))] = gen
			}
			v := commitPages(t, l.Log, ps, changes, size, true)
			m.commit(v, changes, size)
		}
		for range 5 {
			commit()
		}
		var pinned []int // indexes into m.versions
		restarts := 0
		for round := range 40 {
			pinned = append(pinned, len(m.versions)-1)
			if len(pinned) > 3 {
				pinned = slices.Delete(pinned, 0, rng.IntN(2)+1)
			}
			for range 1 + rng.IntN(4) {
				commit()
			}
			vs := make([]Version, len(pinned))
			for i, k := range pinned {
				vs[i] = m.versions[k]
			}
			res, err := l.RestartRetaining(vs, 1<<20)
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			if res.Restarted {
				restarts++
			}
			for _, k := range pinned {
				m.check(t, l.Log, k)
				want := map[PageNo]struct{}{}
				for p := PageNo(1); p <= 12; p++ {
					want[p] = struct{}{}
				}
				changed, ok := l.FirstChanged(m.versions[k], l.Last(), want)
				if !ok {
					t.Fatalf("round %d: FirstChanged since pinned %v: the log cannot tell", round, m.versions[k])
				}
				if wantPage := firstChangedInModel(m, k); changed != wantPage {
					t.Fatalf("round %d: FirstChanged since %v = %d, want %d", round, m.versions[k], changed, wantPage)
				}
				set := changedSet(t, l.Log, m.versions[k], l.Last(), 1<<20)
				if set == nil {
					t.Fatalf("round %d: ChangedSince pinned %v: the log cannot tell", round, m.versions[k])
				}
				newest := len(m.versions) - 1
				for p := PageNo(1); p <= 12; p++ {
					g0, in0 := m.states[k][p]
					g1, in1 := m.states[newest][p]
					if (in0 != in1 || g0 != g1) && !set[p] {
						t.Fatalf("round %d: ChangedSince pinned %v misses page %d", round, m.versions[k], p)
					}
				}
			}
			m.check(t, l.Log, len(m.versions)-1)
		}
		if restarts < 30 {
			t.Errorf("%d restarts in 40 rounds", restarts)
		}

		// A checkpoint that no longer sees the old versions pinned lets
		// their pages go.
		if _, err := l.Checkpoint(CheckpointPassive, l.Last()); err != nil {
			t.Fatal(err)
		}
		l.mu.RLock()
		left := len(l.retained)
		l.mu.RUnlock()
		if left != 0 {
			t.Errorf("%d retained snapshots left after a checkpoint with nothing older pinned", left)
		}

		l.close()
		l2 := openLog(t, fs, dir, "retain", Options{})
		m.versions[len(m.versions)-1] = l2.Last()
		m.check(t, l2.Log, len(m.versions)-1)
	})
}

// firstChangedInModel is the lowest page of 1..12 whose content or
// existence differs between version k and some later version of m.
func firstChangedInModel(m *model, k int) PageNo {
	for p := PageNo(1); p <= 12; p++ {
		g0, in0 := m.states[k][p]
		for j := k + 1; j < len(m.versions); j++ {
			if g, in := m.states[j][p]; in && (!in0 || g != g0) {
				return p
			}
		}
	}
	return 0
}

// TestRestartRetainingBounded checks that a restart whose retained pages
// would exceed the bound changes nothing and reports Busy.
func TestRestartRetainingBounded(t *testing.T) {
	const ps = 512
	l := openLog(t, ioback.NewMemFS(), "/", "bounded", Options{})
	old := commitPages(t, l.Log, ps, map[PageNo]int{1: 1, 2: 1, 3: 1}, 3, true)
	commitPages(t, l.Log, ps, map[PageNo]int{1: 2, 2: 2, 3: 2}, 3, true)
	before := l.Stats()
	res, err := l.RestartRetaining([]Version{old}, 2)
	if err != nil || !res.Busy || res.Restarted {
		t.Fatalf("RestartRetaining with 3 pages to keep and a bound of 2: %+v, %v", res, err)
	}
	if after := l.Stats(); after.Restarts != before.Restarts || after.Frames != before.Frames {
		t.Errorf("stats changed: %+v, then %+v", before, after)
	}
	buf := make([]byte, ps)
	if found, err := l.ReadPage(2, old, buf); err != nil || !found || describe(buf) != describe(page(ps, 2, 1)) {
		t.Errorf("page 2 at %v: %s %v", old, describe(buf), err)
	}
}

// TestRestartRetainingDuringBackfill is the regression test for a window
// in which a retained snapshot read the main file while the checkpoint
// was overwriting it: the copies were used only once the restart had
// moved the log's start past the snapshot, not from the moment they were
// installed.
func TestRestartRetainingDuringBackfill(t *testing.T) {
	const ps = 512
	l := openLog(t, ioback.NewMemFS(), "/", "window", Options{})
	old := commitPages(t, l.Log, ps, map[PageNo]int{1: 1, 2: 1}, 2, true)
	// Page 2 as of old is then only in the main file.
	if res, err := l.Checkpoint(CheckpointRestart, old); err != nil || !res.Restarted {
		t.Fatalf("restart: %+v, %v", res, err)
	}
	commitPages(t, l.Log, ps, map[PageNo]int{1: 2, 2: 2}, 2, true)
	buf := make([]byte, ps)
	var during string
	testHookAfterBackfill = func() {
		if _, err := l.ReadPage(2, old, buf); err != nil {
			t.Error(err)
		}
		during = describe(buf)
	}
	defer func() { testHookAfterBackfill = nil }()
	if res, err := l.RestartRetaining([]Version{old}, 100); err != nil || !res.Restarted {
		t.Fatalf("RestartRetaining: %+v, %v", res, err)
	}
	if want := describe(page(ps, 2, 1)); during != want {
		t.Errorf("page 2 at %v read during the checkpoint: %s, want %s", old, during, want)
	}
}
