package wal

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
	"github.com/golibsql/libsql/iouring_vfs/iofault"
)

// commitLoading commits pages through AppendLoading, every other one with
// its Data left out and loaded from the copy kept here, and waits until
// the commit is durable.
func commitLoading(l *Log, pages []Page, size uint32, sync bool) (Version, error) {
	kept := make(map[PageNo][]byte)
	in := make([]Page, len(pages))
	for i, pg := range pages {
		in[i] = pg
		if i%2 == 0 {
			kept[pg.No] = pg.Data
			in[i].Data = nil
		}
	}
	v, err := l.AppendLoading(in, size, sync, func(p PageNo, buf []byte) error {
		b, ok := kept[p]
		if !ok {
			return fmt.Errorf("page %d was not left out", p)
		}
		copy(buf, b)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return v, l.WaitDurable(v)
}

// A commit through AppendLoading writes exactly the bytes Append does, in
// chunks: the same log file, read back and recovered the same.
func TestAppendLoadingWritesWhatAppendWrites(t *testing.T) {
	defer func(old int64) { streamChunk = old }(streamChunk)
	forEachBackend(t, func(t *testing.T, fs ioback.FS, dir string) {
		for _, chunk := range []int64{1, 3 * (FrameHeaderSize + 1024), 1 << 20} {
			streamChunk = chunk
			salts := func() func() uint32 {
				r := rand.New(rand.NewPCG(1, 2))
				return r.Uint32
			}
			name := fmt.Sprintf("s%d", chunk)
			a := openLog(t, fs, dir, name+"a.db", Options{Rand: salts(), ReserveAhead: 1})
			b := openLog(t, fs, dir, name+"b.db", Options{Rand: salts(), ReserveAhead: 1})
			m := newModel(1024, a.Last())
			size := uint32(0)
			for c := range 5 {
				changes := map[PageNo]int{}
				size += 7
				for p := PageNo(1); uint32(p) <= size; p += PageNo(1 + c%3) {
					changes[p] = c + 1
				}
				pages := make([]Page, 0, len(changes))
				for p, g := range changes {
					pages = append(pages, Page{No: p, Data: page(1024, p, g)})
				}
				va, err := a.Commit(pages, size, c%2 == 0)
				if err != nil {
					t.Fatal(err)
				}
				vb, err := commitLoading(b.Log, pages, size, c%2 == 0)
				if err != nil {
					t.Fatal(err)
				}
				if va != vb {
					t.Fatalf("chunk %d, commit %d: version %v through Append, %v through AppendLoading", chunk, c, va, vb)
				}
				m.commit(vb, changes, size)
			}
			for i := range m.versions {
				m.check(t, b.Log, i)
			}
			fa, fb := fileBytes(t, a.w), fileBytes(t, b.w)
			if !bytes.Equal(fa, fb) {
				t.Fatalf("chunk %d: the logs differ (%d and %d bytes)", chunk, len(fa), len(fb))
			}
			b.close()
			r := openLog(t, fs, dir, name+"b.db", Options{})
			m.check(t, r.Log, len(m.versions)-1)
		}
	})
}

func fileBytes(t *testing.T, f ioback.File) []byte {
	t.Helper()
	n, err := f.Size()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, n)
	if k, err := f.ReadAt(b, 0); k != len(b) {
		t.Fatalf("read %d of %d bytes: %v", k, n, err)
	}
	return b
}

// Commits appended before an AppendLoading are written before its frames,
// and those appended after it are written after them, by the next flush.
func TestAppendLoadingAmongGroupCommits(t *testing.T) {
	defer func(old int64) { streamChunk = old }(streamChunk)
	streamChunk = 4 * (FrameHeaderSize + 1024)
	forEachBackend(t, func(t *testing.T, fs ioback.FS, dir string) {
		l := openLog(t, fs, dir, "g.db", Options{})
		commitPages(t, l.Log, 1024, map[PageNo]int{1: 1, 2: 1, 3: 1}, 3, true)
		var mu sync.Mutex // Append calls must not overlap
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 10 {
					p := PageNo(4 + w)
					pages := []Page{{No: p, Data: page(1024, p, 10*w+i+2)}}
					mu.Lock()
					var v Version
					var err error
					if w == 0 {
						for q := PageNo(20); q < 60; q++ {
							pages = append(pages, Page{No: q, Data: page(1024, q, i+2)})
						}
						size := max(l.Size(l.Last()), 59)
						v, err = l.AppendLoading(append(pages, Page{No: 2}), size, true, func(p PageNo, buf []byte) error {
							copy(buf, page(1024, p, i+2))
							return nil
						})
						if err == nil {
							// Readable at once, before it is durable.
							buf := make([]byte, 1024)
							if _, err = l.ReadPage(2, v, buf); err == nil && !bytes.Equal(buf, page(1024, 2, i+2)) {
								err = fmt.Errorf("page 2 right after AppendLoading: %s, want gen %d", describe(buf), i+2)
							}
						}
					} else {
						v, err = l.Append(pages, max(l.Size(l.Last()), 7), i%2 == 0)
					}
					mu.Unlock()
					if err == nil {
						err = l.WaitDurable(v)
					}
					if err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		check := func(l *Log) {
			t.Helper()
			buf := make([]byte, 1024)
			v := l.Last()
			want := map[PageNo][]byte{2: page(1024, 2, 11), 4: page(1024, 4, 11)}
			for w := 1; w < 4; w++ {
				want[PageNo(4+w)] = page(1024, PageNo(4+w), 10*w+11)
			}
			for q := PageNo(20); q < 60; q++ {
				want[q] = page(1024, q, 11)
			}
			for p, b := range want {
				if _, err := l.ReadPage(p, v, buf); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(buf, b) {
					t.Fatalf("page %d: %s, want %s", p, describe(buf), describe(b))
				}
			}
		}
		check(l.Log)
		l.close()
		check(openLog(t, fs, dir, "g.db", Options{}).Log)
	})
}

// A page that cannot be loaded fails the commit before its commit frame is
// written: nothing changed, the log is not poisoned, and the next commit
// overwrites the frames written so far.
func TestAppendLoadingLoadFailureChangesNothing(t *testing.T) {
	defer func(old int64) { streamChunk = old }(streamChunk)
	streamChunk = 2 * (FrameHeaderSize + 1024)
	forEachBackend(t, func(t *testing.T, fs ioback.FS, dir string) {
		l := openLog(t, fs, dir, "f.db", Options{})
		v1 := commitPages(t, l.Log, 1024, map[PageNo]int{1: 1, 2: 1}, 2, true)
		boom := errors.New("boom")
		pages := []Page{{No: 1, Data: page(1024, 1, 2)}}
		for p := PageNo(2); p <= 9; p++ {
			pages = append(pages, Page{No: p})
		}
		_, err := l.AppendLoading(pages, 9, true, func(p PageNo, buf []byte) error {
			if p == 8 {
				return boom
			}
			copy(buf, page(1024, p, 2))
			return nil
		})
		if !errors.Is(err, boom) {
			t.Fatalf("AppendLoading with a failing load: %v, want the load's error", err)
		}
		if l.Last() != v1 || l.Err() != nil {
			t.Fatalf("after a failed load: last %v (want %v), err %v", l.Last(), v1, l.Err())
		}
		v2 := commitPages(t, l.Log, 1024, map[PageNo]int{2: 3}, 2, true)
		l.close()
		r := openLog(t, fs, dir, "f.db", Options{})
		if r.Last() != v2 || r.Size(v2) != 2 {
			t.Fatalf("recovered %v with %d pages, want %v with 2", r.Last(), r.Size(r.Last()), v2)
		}
		buf := make([]byte, 1024)
		for p, g := range map[PageNo]int{1: 1, 2: 3} {
			if _, err := r.ReadPage(p, v2, buf); err != nil || !bytes.Equal(buf, page(1024, p, g)) {
				t.Fatalf("page %d: %s (err %v), want gen %d", p, describe(buf), err, g)
			}
		}
	})
}

// A write of AppendLoading that fails poisons the log, as a failed flush
// does, and the files recover to the commit before it.
func TestAppendLoadingWriteFailurePoisons(t *testing.T) {
	defer func(old int64) { streamChunk = old }(streamChunk)
	streamChunk = 2 * (FrameHeaderSize + 1024)
	for _, fault := range []iofault.Fault{iofault.EIO, iofault.ShortWrite, iofault.TornWrite} {
		for n := range 4 {
			t.Run(fmt.Sprintf("%v/write%d", fault, n), func(t *testing.T) {
				mem := ioback.NewMemFS()
				ffs := iofault.NewFaultFS(mem)
				l := openLog(t, ffs, "/", "p.db", Options{ReserveAhead: 1 << 20})
				v1 := commitPages(t, l.Log, 1024, map[PageNo]int{1: 1, 2: 1}, 2, true)
				ffs.Arm(iofault.Rule{N: n, Fault: fault, Seed: uint64(n), Match: func(o iofault.Op) bool {
					return o.Kind == iofault.OpWriteAt && o.Name == "/p.db-wal"
				}})
				pages := make([]Page, 0, 8)
				for p := PageNo(1); p <= 8; p++ {
					pages = append(pages, Page{No: p})
				}
				_, err := l.AppendLoading(pages, 8, true, func(p PageNo, buf []byte) error {
					copy(buf, page(1024, p, 2))
					return nil
				})
				if !iofault.IsInjected(err) || !errors.Is(err, ErrPoisoned) {
					t.Fatalf("AppendLoading with write %d failing: %v, want the injected error, poisoned", n, err)
				}
				if _, err := l.Commit([]Page{{No: 2, Data: page(1024, 2, 3)}}, 2, true); !errors.Is(err, ErrPoisoned) {
					t.Fatalf("commit after the failure: %v, want ErrPoisoned", err)
				}
				l.close()
				r := openLog(t, mem, "/", "p.db", Options{})
				if r.Last() != v1 {
					t.Fatalf("recovered %v, want %v (the commit before)", r.Last(), v1)
				}
			})
		}
	}
}
