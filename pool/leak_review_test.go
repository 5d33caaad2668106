package pool

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golibsql/libsql"
)

// lrCount returns the process's descriptors (io_uring rings left out: the
// process keeps its ring pool) and goroutines after a settle.
func lrCount(t *testing.T) (fds, goroutines int, heap uint64) {
	t.Helper()
	prev := -1
	for i := 0; i < 50; i++ {
		runtime.GC()
		g := runtime.NumGoroutine()
		if g == prev {
			break
		}
		prev = g
		time.Sleep(10 * time.Millisecond)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	for _, e := range ents {
		l, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil || strings.Contains(l, "io_uring") {
			continue
		}
		fds++
	}
	return fds, runtime.NumGoroutine(), ms.HeapInuse
}

// TestLeakReviewPoolOpenClose opens pools (file and in-memory, with an idle
// timeout so the reaper runs), borrows from several goroutines, leaves a
// transaction and rows open in a borrowed connection before putting it
// back, closes the pool: descriptors, goroutines and heap must come back.
func TestLeakReviewPoolOpenClose(t *testing.T) {
	dir := t.TempDir()
	n := 30
	if os.Getenv("LIBSQL_SOAK") == "1" {
		n = 300
	}
	ctx := context.Background()
	round := func(i int) {
		for _, dsn := range []string{"file:" + filepath.Join(dir, "p.db"), ":memory:", fmt.Sprintf("file:lrpool%d?mode=memory", i)} {
			p, err := Open(dsn, Options{MaxConns: 3, IdleTimeout: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Write(ctx, func(c *Conn) error {
				_, err := c.Exec(ctx, "CREATE TABLE IF NOT EXISTS t(x); INSERT INTO t VALUES (1)")
				return err
			}); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := p.Get(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					r, err := c.Query(ctx, "SELECT x FROM t")
					if err == nil {
						r.Next() // left open: Put closes it
					}
					c.Exec(ctx, "BEGIN") // left open: Put ends it
					p.Put(c)
				}()
			}
			wg.Wait()
			cs, err := func() (*libsql.ChangeStream, error) {
				c, err := p.Get(ctx)
				if err != nil {
					return nil, err
				}
				defer p.Put(c)
				return c.Changes(ctx, libsql.ChangeOptions{})
			}()
			if err != nil {
				t.Fatal(err)
			}
			cs.Close()
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	var fds, gs [4]int
	var heap [4]uint64
	fds[0], gs[0], heap[0] = lrCount(t)
	i := 0
	for ph := 1; ph <= 3; ph++ {
		for range n {
			round(i)
			i++
			if t.Failed() {
				t.FailNow()
			}
		}
		fds[ph], gs[ph], heap[ph] = lrCount(t)
		t.Logf("after phase %d: fds=%d goroutines=%d heap=%dKiB", ph, fds[ph], gs[ph], heap[ph]>>10)
	}
	if fds[3] > fds[1] || fds[3] != fds[0] {
		t.Errorf("descriptors: %v (before, after each phase)", fds)
	}
	if gs[3] > gs[1]+2 {
		t.Errorf("goroutines: %v", gs)
	}
	if heap[3] > heap[1]+1<<20 {
		t.Errorf("heap in use grew %d → %d KiB over %d rounds", heap[1]>>10, heap[3]>>10, 2*n)
	}
}
