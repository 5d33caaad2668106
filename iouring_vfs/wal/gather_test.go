package wal

import (
	"sync"
	"testing"
	"time"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
)

// slowSync is a log file whose fdatasync takes d, like a disk's.
type slowSync struct {
	ioback.File
	d time.Duration
}

func (f slowSync) Sync() error {
	time.Sleep(f.d)
	return f.File.Sync()
}

// commitLoop runs committers goroutines, each making n synced commits of
// one page one after another, on a log whose fdatasync takes 2 ms, and
// returns the log's stats.
func commitLoop(t *testing.T, committers, n int) Stats {
	t.Helper()
	fs := ioback.NewMemFS()
	db, w := files(t, fs, "/", "gather")
	defer db.Close()
	defer w.Close()
	l, err := Open(db, slowSync{w, 2 * time.Millisecond}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	page := make([]byte, 4096)
	runCommitters(t, l, committers, n, func(c, _ int) []Page {
		return []Page{{No: PageNo(c + 1), Data: page}}
	}, uint32(committers))
	return l.Stats()
}

// runCommitters runs committers goroutines, each making n synced commits
// of pages(c, i) one after another (Append under a shared lock, as the
// engine's writer lock makes it, then WaitDurable), and fails t on the
// first error.
func runCommitters(t *testing.T, l *Log, committers, n int, pages func(c, i int) []Page, size uint32) {
	t.Helper()
	var appendMu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, committers)
	for c := range committers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				appendMu.Lock()
				v, err := l.Append(pages(c, i), size, true)
				appendMu.Unlock()
				if err == nil {
					err = l.WaitDurable(v)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestGroupCommitGathersEveryCommitter is the regression test for batches
// that alternated in size: the first committer back from a batch found
// nothing in flight and wrote its commit alone while the others appended
// behind it, so 8 committers shared an fdatasync about 4.5 at a time.
func TestGroupCommitGathersEveryCommitter(t *testing.T) {
	const committers, n = 8, 60
	st := commitLoop(t, committers, n)
	perSync := float64(st.Commits) / float64(st.Syncs)
	t.Logf("%d commits, %d fdatasyncs: %.2f commits per fdatasync", st.Commits, st.Syncs, perSync)
	if perSync < 5.5 {
		t.Errorf("%.2f commits per fdatasync with %d committers, want at least 5.5", perSync, committers)
	}
}

// TestGroupCommitLoneCommitterDoesNotWait checks that a committer without
// peers writes at once: one fdatasync per commit (and one of the main file,
// under the first commit) and no gathering wait.
func TestGroupCommitLoneCommitterDoesNotWait(t *testing.T) {
	st := commitLoop(t, 1, 40)
	if st.Syncs != st.Commits+1 || st.Gathers != 0 {
		t.Errorf("a lone committer: %d commits, %d fdatasyncs, %d gathering waits", st.Commits, st.Syncs, st.Gathers)
	}
}

// TestGroupCommitWaitsForAReturningCommitter checks how long a batch's
// writer waits for the committers of the previous batch: one that comes
// back a whole fdatasync later (executing its next transaction, on a busy
// machine) still joins the batch, instead of waiting, with the CPU idle,
// for a whole fdatasync of its own after it. (The wait was half an
// fdatasync; it is two, within gatherMax.)
func TestGroupCommitWaitsForAReturningCommitter(t *testing.T) {
	const syncTime = 900 * time.Microsecond
	fs := ioback.NewMemFS()
	db, w := files(t, fs, "/", "returning")
	defer db.Close()
	defer w.Close()
	l, err := Open(db, slowSync{w, syncTime}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	page := make([]byte, 4096)
	// Two committers in step: batches of 2, and an average fdatasync
	// close to syncTime.
	runCommitters(t, l, 2, 30, func(c, _ int) []Page {
		return []Page{{No: PageNo(c + 1), Data: page}}
	}, 2)
	// The late committer's sleep can overshoot on a loaded machine (go
	// test ./... running packages side by side): one of three tries must
	// see it join.
	var syncs uint64
	for range 3 {
		before := l.Stats()
		late := make(chan error, 1)
		go func() {
			time.Sleep(syncTime)
			v, err := l.Append([]Page{{No: 2, Data: page}}, 2, true)
			if err == nil {
				err = l.WaitDurable(v)
			}
			late <- err
		}()
		v, err := l.Append([]Page{{No: 1, Data: page}}, 2, true)
		if err == nil {
			err = l.WaitDurable(v)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := <-late; err != nil {
			t.Fatal(err)
		}
		if syncs = l.Stats().Syncs - before.Syncs; syncs == 1 {
			return
		}
	}
	t.Errorf("a committer back one fdatasync after its peer: %d fdatasyncs for the two commits, want 1", syncs)
}
