package wal

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
	"github.com/golibsql/libsql/iouring_vfs/iofault"
)

// workload is a scripted sequence of commits and checkpoints, replayable
// on any file system. It records the model of every commit it attempted
// and how many were acknowledged.
type workload struct {
	seed    uint64
	steps   int
	m       *model
	acked   int // commits acknowledged (Commit returned nil)
	durable int // commits known durable: synced, or checkpointed
	tried   int // commits attempted
}

func newWorkload(seed uint64, steps int) *workload {
	return &workload{seed: seed, steps: steps}
}

// run opens the log on fs and runs the script, stopping at the first error.
// crashAt, if >= 0, is called with the step number before each step, and
// returns true to stop (the machine lost power there).
func (w *workload) run(fs ioback.FS, stop func(step int) bool) (err error) {
	rng := rand.New(rand.NewPCG(w.seed, 7))
	// One commit in three goes through AppendLoading, in chunks of two
	// frames, with every other page loaded: chosen by a generator of its
	// own, so the script is the same either way.
	streamed := rand.New(rand.NewPCG(w.seed, 11))
	defer func(old int64) { streamChunk = old }(streamChunk)
	streamChunk = 2 * (FrameHeaderSize + 1024)
	db, err := fs.Open("/db", ioback.OpenCreate)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	wf, err := fs.Open("/db-wal", ioback.OpenCreate)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, wf.Close()) }()
	l, err := Open(db, wf, Options{ReserveAhead: 64 << 10})
	if err != nil {
		return err
	}
	defer l.Close()
	w.m = newModel(1024, l.Last())
	size := uint32(0)
	for step := range w.steps {
		if stop != nil && stop(step) {
			return nil
		}
		switch r := rng.IntN(10); {
		case r < 7 || size == 0:
			changes := map[PageNo]int{}
			grow := uint32(rng.IntN(3))
			if size == 0 {
				grow = 3
			}
			if rng.IntN(8) == 0 && size > 4 {
				size -= uint32(rng.IntN(3)) // shrink
			}
			size += grow
			for range 1 + rng.IntN(6) {
				changes[PageNo(1+rng.IntN(int(size)))] = step + 1
			}
			for p := size - grow + 1; p <= size; p++ {
				changes[PageNo(p)] = step + 1
			}
			w.tried++
			pages := make([]Page, 0, len(changes))
			for p, g := range changes {
				pages = append(pages, Page{No: p, Data: page(1024, p, g)})
			}
			sync := rng.IntN(4) != 0
			var v Version
			var err error
			if streamed.IntN(3) == 0 {
				v, err = commitLoading(l, pages, size, sync)
			} else {
				v, err = l.Commit(pages, size, sync)
			}
			// An unacknowledged commit may still be durable: the model
			// keeps it as a state recovery may legitimately find.
			w.m.commit(v, changes, size)
			if err != nil {
				return fmt.Errorf("step %d: commit: %w", step, err)
			}
			w.acked++
			if sync {
				w.durable = w.acked // the fdatasync covers every earlier commit
			}
		case r < 9:
			if _, err := l.Checkpoint(CheckpointPassive, l.Durable()); err != nil {
				return fmt.Errorf("step %d: checkpoint: %w", step, err)
			}
			w.durable = w.acked
		default:
			mode := CheckpointRestart
			if rng.IntN(2) == 0 {
				mode = CheckpointTruncate
			}
			if _, err := l.Checkpoint(mode, l.Durable()); err != nil {
				return fmt.Errorf("step %d: checkpoint %v: %w", step, mode, err)
			}
			w.durable = w.acked
		}
	}
	return nil
}

// verify reopens the log on fs and checks that it holds exactly the state
// of a commit between the last one that had to survive and the last one
// attempted. After a power loss (crashed), what had to survive is the last
// commit known durable; otherwise it is the last acknowledged one.
func (w *workload) verify(t *testing.T, fs ioback.FS, what string, crashed bool) {
	t.Helper()
	db, err := fs.Open("/db", ioback.OpenCreate)
	if err != nil {
		t.Fatalf("%s: reopen database: %v", what, err)
	}
	defer db.Close()
	wf, err := fs.Open("/db-wal", ioback.OpenCreate)
	if err != nil {
		t.Fatalf("%s: reopen log: %v", what, err)
	}
	defer wf.Close()
	l, err := Open(db, wf, Options{})
	if err != nil {
		t.Fatalf("%s: recovery: %v", what, err)
	}
	defer l.Close()
	// The recovered state must be one the workload committed: the last
	// acknowledged one, or a later one whose commit was on its way.
	v := l.Durable()
	if w.m == nil {
		if size := l.Size(v); size != 0 {
			t.Fatalf("%s: the log never opened, yet recovery finds %d pages", what, size)
		}
		return
	}
	size := l.Size(v)
	buf := make([]byte, 1024)
	var mismatch error
	must := w.acked
	if crashed {
		must = w.durable
	}
	for i := len(w.m.versions) - 1; i >= must; i-- {
		mismatch = nil
		if size != w.m.sizes[i] {
			mismatch = fmt.Errorf("size %d, want %d", size, w.m.sizes[i])
			continue
		}
		for p, g := range w.m.states[i] {
			if _, err := l.ReadPage(p, v, buf); err != nil {
				t.Fatalf("%s: read page %d: %v", what, p, err)
			}
			if !bytes.Equal(buf, page(1024, p, g)) {
				mismatch = fmt.Errorf("page %d differs from gen %d (its first bytes say %s)", p, g, describe(buf))
				break
			}
		}
		if mismatch == nil {
			return
		}
	}
	t.Fatalf("%s: recovered state matches no commit from the %dth (acknowledged %d, durable %d, attempted %d): %v", what, must, w.acked, w.durable, w.tried, mismatch)
}

// Crash after each operation of a scripted workload: from operation n on,
// nothing reaches the disk (the process died), then the machine loses power.
func TestCrashAfterEachOperation(t *testing.T) {
	seeds := []uint64{1, 2, 3}
	if os.Getenv("LIBSQL_SOAK") != "" {
		seeds = []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	}
	for _, seed := range seeds {
		total := func() int {
			ffs := iofault.NewFaultFS(iofault.NewCrashFS(seed))
			w := newWorkload(seed, 40)
			if err := w.run(ffs, nil); err != nil {
				t.Fatal(err)
			}
			return ffs.Ops()
		}()
		for n := 0; n <= total; n++ {
			cfs := iofault.NewCrashFS(seed*1000 + uint64(n))
			ffs := iofault.NewFaultFS(cfs)
			ffs.Arm(iofault.Rule{N: n, Fault: iofault.EIO, Sticky: true, Match: func(op iofault.Op) bool {
				return op.Kind != iofault.OpClose && op.Kind != iofault.OpUnlock
			}})
			w := newWorkload(seed, 40)
			w.run(ffs, nil)
			w.verify(t, cfs.Crash(), fmt.Sprintf("seed %d, dead from operation %d of %d", seed, n, total), true)
		}
	}
}

// Random power losses at random points of random workloads.
func TestRandomCrashes(t *testing.T) {
	runs := 200
	if os.Getenv("LIBSQL_SOAK") != "" {
		runs = 5000
	}
	for i := range runs {
		seed := uint64(i) + 100
		cfs := iofault.NewCrashFS(seed)
		w := newWorkload(seed, 60)
		crashAt := rand.New(rand.NewPCG(seed, 3)).IntN(60)
		if err := w.run(cfs, func(step int) bool { return step == crashAt }); err != nil {
			t.Fatal(err)
		}
		w.verify(t, cfs.Crash(), fmt.Sprintf("seed %d, crash at step %d", seed, crashAt), true)
	}
}

// Fail operation i for i = 0, 1, 2, ... until the workload passes: every
// injected error reaches the caller, and the files reopen to a committed
// state with every acknowledged commit.
func TestErrorInjectionSweep(t *testing.T) {
	for _, fault := range []iofault.Fault{iofault.EIO, iofault.ENOSPC, iofault.ShortWrite, iofault.TornWrite} {
		t.Run(fault.String(), func(t *testing.T) {
			for i := 0; ; i++ {
				mem := ioback.NewMemFS()
				ffs := iofault.NewFaultFS(mem)
				ffs.FailAt(i, fault)
				w := newWorkload(42, 30)
				err := w.run(ffs, nil)
				if !ffs.Fired() {
					if err != nil {
						t.Fatalf("operation %d: no fault injected, but: %v", i, err)
					}
					t.Logf("%v: %d operations swept", fault, i)
					return
				}
				if !iofault.IsInjected(err) {
					t.Fatalf("operation %d: the injected %v did not reach the caller (err = %v)", i, fault, err)
				}
				if w.m == nil { // failed before the log opened
					continue
				}
				w.verify(t, mem, fmt.Sprintf("%v at operation %d (%v)", fault, i, err), false)
			}
		})
	}
}
