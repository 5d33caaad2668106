package wal

import (
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
)

// TestChangedSince checks the pages ChangedSince reports between every
// pair of versions of a log, before and after a reopen (the index rebuilt
// by recovery), and that it cannot tell for a version older than a restart
// unless the version was retained.
func TestChangedSince(t *testing.T) {
	forEachBackend(t, func(t *testing.T, fs ioback.FS, dir string) {
		const ps = 512
		l := openLog(t, fs, dir, "changed", Options{})
		rng := rand.New(rand.NewPCG(3, 5))
		versions := []Version{l.Last()}
		var written []map[PageNo]bool // written[i]: pages of the commit making versions[i+1]
		for g := range 12 {
			changes := map[PageNo]int{1: g}
			for range rng.IntN(4) {
				changes[PageNo(1+rng.IntN(20))] = g
			}
			versions = append(versions, commitPages(t, l.Log, ps, changes, 20, true))
			w := map[PageNo]bool{}
			for p := range changes {
				w[p] = true
			}
			if g == 0 {
				// The first commit makes the database 20 pages: the log
				// writes the pages it does not (zeros, withGrowth).
				for p := PageNo(1); p <= 20; p++ {
					w[p] = true
				}
			}
			written = append(written, w)
		}
		check := func(l *Log, versions []Version) {
			t.Helper()
			for i := range versions {
				for j := range versions {
					want := map[PageNo]bool{}
					for k := i; k < j; k++ {
						maps.Copy(want, written[k])
					}
					got := changedSet(t, l, versions[i], versions[j], 1000)
					if got == nil {
						t.Fatalf("ChangedSince(%v, %v): the log cannot tell", versions[i], versions[j])
					}
					if !maps.Equal(got, want) {
						t.Fatalf("ChangedSince(%v, %v) = %v, want %v", versions[i], versions[j], slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
					}
				}
			}
		}
		check(l.Log, versions)

		l.close()
		l = openLog(t, fs, dir, "changed", Options{})
		reopened := make([]Version, len(versions))
		copy(reopened, versions)
		// Recovery numbers the commits of the log from its start again;
		// the version before the first commit is the log's floor.
		reopened[0] = l.floor
		for i := 1; i < len(reopened); i++ {
			reopened[i] = l.base + Version(i)
		}
		check(l.Log, reopened)

		old := reopened[3]
		if _, err := l.Checkpoint(CheckpointRestart, l.Last()); err != nil {
			t.Fatal(err)
		}
		next := commitPages(t, l.Log, ps, map[PageNo]int{1: 99, 7: 99}, 20, true)
		if got := changedSet(t, l.Log, old, next, 1000); got != nil {
			t.Errorf("ChangedSince(%v, %v) after a restart = %v, want that it cannot tell", old, next, got)
		}
		if got := changedSet(t, l.Log, reopened[len(reopened)-1], next, 1000); !maps.Equal(got, map[PageNo]bool{1: true, 7: true}) {
			t.Errorf("ChangedSince from the version before the restart = %v, want pages 1 and 7", got)
		}
		if got := changedSet(t, l.Log, reopened[len(reopened)-1], next, 1); got != nil {
			t.Errorf("ChangedSince of 2 frames with a limit of 1 = %v, want that it cannot tell", got)
		}
	})
}

// changedSet is ChangedSince as a set, nil when the log cannot tell.
func changedSet(t *testing.T, l *Log, v, w Version, max int) map[PageNo]bool {
	t.Helper()
	pages, ok := l.ChangedSince(v, w, nil, max)
	if !ok {
		if len(pages) != 0 {
			t.Fatalf("ChangedSince(%v, %v) cannot tell but appended %v", v, w, pages)
		}
		return nil
	}
	set := map[PageNo]bool{}
	for _, p := range pages {
		set[p] = true
	}
	return set
}
