package iouringvfs

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/golibsql/libsql/iouring_vfs/wal"
)

// TestReaderPinsCountInOldest checks, one step at a time, that pins taken
// through the readers' slot count wherever pinned versions are asked for:
// a checkpoint must see a reader's old snapshot after newer commits, and
// after the slot was retired, its pins are still released exactly once.
func TestReaderPinsCountInOldest(t *testing.T) {
	w := openConn(t, dbPath(t), "")
	w.exec("PRAGMA wal_autocheckpoint=0")
	w.exec("CREATE TABLE t(x)")
	e := w.file.e
	v1, s1 := e.pinReader()
	v1b, s1b := e.pinReader()
	if v1b != v1 || s1b != s1 {
		t.Fatalf("second reader pinned %v in slot %p; want %v in the same slot %p", v1b, s1b, v1, s1)
	}
	w.exec("INSERT INTO t VALUES (1)")
	if o, pinned := e.oldest(); o != v1 || pinned != 2 {
		t.Fatalf("after a commit, oldest = %v with %d pins; want the readers' %v with 2", o, pinned, v1)
	}
	if vs := e.pinnedVersions(); len(vs) != 1 || vs[0] != v1 {
		t.Fatalf("pinned versions %v; want [%v]", vs, v1)
	}
	v2, s2 := e.pinReader()
	if v2 <= v1 || s2 == s1 {
		t.Fatalf("a reader after the commit pinned %v (slot %p); want a version newer than %v in a new slot", v2, s2, v1)
	}
	e.unpinReader(v1, s1) // retired slot: released through pins
	if o, pinned := e.oldest(); o != v1 || pinned != 2 {
		t.Fatalf("after one of two old readers left, oldest = %v with %d pins; want %v with 2", o, pinned, v1)
	}
	e.unpinReader(v1b, s1b)
	if o, pinned := e.oldest(); o != v2 || pinned != 1 {
		t.Fatalf("after both old readers left, oldest = %v with %d pins; want %v with 1", o, pinned, v2)
	}
	e.unpinReader(v2, s2)
	if _, pinned := e.oldest(); pinned != 0 || len(e.pins) != 0 {
		t.Fatalf("%d pins (%v) left after every reader left", pinned, e.pins)
	}
}

// TestConcurrentReaderPinsStayAboveOldest pins and unpins from several
// goroutines through the readers' lock-free slot while commits advance the
// newest version and another goroutine asks for the oldest pinned version,
// as checkpoints do. No pin taken after oldest returned may be older than
// what it returned (a checkpoint could overwrite what that reader reads),
// and once every reader is done nothing is left pinned.
func TestConcurrentReaderPinsStayAboveOldest(t *testing.T) {
	w := openConn(t, dbPath(t), "")
	w.exec("PRAGMA wal_autocheckpoint=0")
	w.exec("CREATE TABLE t(x)")
	e := w.file.e
	const readers, rounds = 4, 3000

	var floor atomic.Uint64 // the largest version oldest has returned
	var stop atomic.Bool
	var bg sync.WaitGroup
	bg.Add(2)
	go func() {
		defer bg.Done()
		for i := 0; !stop.Load(); i++ {
			if err := w.Exec(fmt.Sprintf("INSERT INTO t VALUES (%d)", i)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() {
		defer bg.Done()
		for !stop.Load() {
			o, _ := e.oldest()
			for f := floor.Load(); uint64(o) > f && !floor.CompareAndSwap(f, uint64(o)); f = floor.Load() {
			}
		}
	}()

	var wg sync.WaitGroup
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				v, s := e.pinReader()
				if f := wal.Version(floor.Load()); v < f {
					t.Errorf("pinned version %v after oldest returned %v", v, f)
				}
				if v2, s2 := e.pinReader(); v2 >= v {
					e.unpinReader(v2, s2)
				} else {
					t.Errorf("a second pin got %v, older than the first's %v", v2, v)
				}
				e.unpinReader(v, s)
			}
		}()
	}
	wg.Wait()
	stop.Store(true)
	bg.Wait()
	if _, pinned := e.oldest(); pinned != 0 {
		t.Fatalf("%d pins left after every reader unpinned", pinned)
	}
	if n := len(e.pins); n != 0 {
		t.Fatalf("pins map has %d versions left: %v", n, e.pins)
	}
}
