package wal

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
)

// TestReview10StreamedAmongReadersAndCheckpoints: committers appending
// small commits (group commit), one appending multi-chunk commits through
// AppendLoading, readers each pinning the durable version and reading
// every page of it, and a checkpointer (passive, and restarts) passing the
// oldest pinned version, all at once: every read matches the model at its
// version, and the log reopens with the last version. Small enough for
// -race.
func TestReview10StreamedAmongReadersAndCheckpoints(t *testing.T) {
	defer func(old int64) { streamChunk = old }(streamChunk)
	streamChunk = 3 * (FrameHeaderSize + 1024)
	const ps, npages = 1024, 48
	iters := 15
	if os.Getenv("LIBSQL_SOAK") == "1" {
		iters = 300
	}
	forEachBackend(t, func(t *testing.T, fs ioback.FS, dir string) {
		l := openLog(t, fs, dir, "r10.db", Options{})
		// hist[p] lists (version, gen) of every commit writing p, in order.
		type wr struct {
			v   Version
			gen int
		}
		var histMu sync.Mutex
		hist := map[PageNo][]wr{}
		var commitMu sync.Mutex // the writer lock
		var gen atomic.Int64
		record := func(v Version, pages []Page, gens map[PageNo]int) {
			histMu.Lock()
			for _, pg := range pages {
				hist[pg.No] = append(hist[pg.No], wr{v, gens[pg.No]})
			}
			histMu.Unlock()
		}
		want := func(p PageNo, v Version) int {
			histMu.Lock()
			defer histMu.Unlock()
			g := -1
			for _, h := range hist[p] {
				if h.v <= v {
					g = h.gen
				}
			}
			return g
		}
		{
			pages := []Page{}
			gens := map[PageNo]int{}
			for p := PageNo(1); p <= npages; p++ {
				gens[p] = 1
				pages = append(pages, Page{No: p, Data: page(ps, p, 1)})
			}
			v, err := l.Commit(pages, npages, true)
			if err != nil {
				t.Fatal(err)
			}
			record(v, pages, gens)
		}
		gen.Store(1)
		var pinMu sync.Mutex
		pins := map[int]Version{}
		oldest := func() Version {
			o := l.Durable()
			for _, v := range pins {
				o = min(o, v)
			}
			return o
		}
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		var stop atomic.Bool
		var restarts atomic.Int64
		commit := func(r *rand.Rand, streamed bool) error {
			n := 1 + r.IntN(3)
			if streamed {
				n = 10 + r.IntN(12)
			}
			gens := map[PageNo]int{}
			for range n {
				gens[PageNo(1+r.IntN(npages))] = int(gen.Add(1))
			}
			var pages []Page
			for p, g := range gens {
				pages = append(pages, Page{No: p, Data: page(ps, p, g)})
			}
			commitMu.Lock()
			var v Version
			var err error
			if streamed {
				in := make([]Page, len(pages))
				for i, pg := range pages {
					in[i] = Page{No: pg.No}
					if i%3 == 0 {
						in[i].Data = pg.Data
					}
				}
				v, err = l.AppendLoading(in, npages, r.IntN(2) == 0, func(p PageNo, buf []byte) error {
					copy(buf, page(ps, p, gens[p]))
					return nil
				})
			} else {
				v, err = l.Append(pages, npages, r.IntN(2) == 0)
			}
			if err == nil {
				record(v, pages, gens)
			}
			commitMu.Unlock()
			if err != nil {
				return err
			}
			return l.WaitDurable(v)
		}
		for w := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(w), 1))
				for range iters {
					if err := commit(r, w == 0); err != nil {
						errs <- fmt.Errorf("committer %d: %w", w, err)
						return
					}
				}
			}()
		}
		var rwg sync.WaitGroup
		for rd := range 2 {
			rwg.Add(1)
			go func() {
				defer rwg.Done()
				buf := make([]byte, ps)
				for i := 0; !stop.Load() || i < 3; i++ {
					pinMu.Lock()
					v := l.Durable()
					pins[rd] = v
					pinMu.Unlock()
					for p := PageNo(1); p <= npages; p++ {
						if _, err := l.ReadPage(p, v, buf); err != nil {
							errs <- fmt.Errorf("reader %d: page %d at %v: %w", rd, p, v, err)
							return
						}
						if g := want(p, v); !bytes.Equal(buf, page(ps, p, g)) {
							errs <- fmt.Errorf("reader %d: page %d at %v reads %s, want gen %d", rd, p, v, describe(buf), g)
							return
						}
					}
					pinMu.Lock()
					delete(pins, rd)
					pinMu.Unlock()
				}
			}()
		}
		var ckWG sync.WaitGroup
		ckWG.Add(1)
		go func() {
			defer ckWG.Done()
			for i := 0; !stop.Load(); i++ {
				mode := CheckpointPassive
				if i%3 == 2 {
					mode = CheckpointRestart
				}
				pinMu.Lock()
				res, err := l.Checkpoint(mode, oldest())
				pinMu.Unlock()
				if res.Restarted {
					restarts.Add(1)
				}
				if err != nil {
					errs <- fmt.Errorf("checkpoint: %w", err)
					return
				}
			}
		}()
		// Committers end first; then readers and checkpointer stop.
		wg.Wait()
		stop.Store(true)
		rwg.Wait()
		ckWG.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if t.Failed() {
			return
		}
		t.Logf("%d restarts, last version %v", restarts.Load(), l.Last())
		last := l.Last()
		check := func(l *Log, v Version) {
			t.Helper()
			buf := make([]byte, ps)
			for p := PageNo(1); p <= npages; p++ {
				if _, err := l.ReadPage(p, v, buf); err != nil {
					t.Fatal(err)
				}
				if g := want(p, last); !bytes.Equal(buf, page(ps, p, g)) {
					t.Fatalf("page %d at %v: %s, want gen %d", p, v, describe(buf), g)
				}
			}
		}
		check(l.Log, last)
		l.close()
		l2 := openLog(t, fs, dir, "r10.db", Options{})
		check(l2.Log, l2.Last())
	})
}
