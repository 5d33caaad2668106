package wal

import (
	"encoding/binary"
	"fmt"
	"sync"
	"testing"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
)

// BenchmarkCommit measures 2-page commits with fdatasync from concurrent
// committers, on the io_uring and portable backends:
//   - group: the engine's way; the writer lock covers only Append, and
//     committers waiting together share one write and one fdatasync;
//   - parallel: the same, but committers that find a batch in flight write
//     and fdatasync their own at once (the file system merges them);
//   - serial: one fdatasync per commit under the writer lock, the way stock
//     SQLite's WAL commits.
func BenchmarkCommit(b *testing.B) {
	for _, kind := range []ioback.Kind{ioback.KindUring, ioback.KindPortable} {
		fs, err := ioback.New(kind)
		if err != nil {
			continue
		}
		for _, committers := range []int{1, 8, 32} {
			for _, mode := range []string{"group", "parallel", "serial"} {
				b.Run(fmt.Sprintf("io=%v/committers=%d/%s", kind, committers, mode), func(b *testing.B) {
					if mode == "parallel" {
						defer SetMaxInFlightForTesting(committers)()
					}
					benchCommit(b, fs, committers, mode != "serial")
				})
			}
		}
	}
}

func benchCommit(b *testing.B, fs ioback.FS, committers int, group bool) {
	dir := b.TempDir()
	db, _ := fs.Open(dir+"/db", ioback.OpenCreate)
	w, _ := fs.Open(dir+"/db-wal", ioback.OpenCreate)
	defer db.Close()
	defer w.Close()
	l, err := Open(db, w, Options{ReserveAhead: 16 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	const pageSize = 4096
	if _, err := l.Commit([]Page{{No: 1, Data: make([]byte, pageSize)}}, 1000, true); err != nil {
		b.Fatal(err)
	}
	var writer sync.Mutex
	var wg sync.WaitGroup
	var next sync.Mutex
	remaining := b.N
	b.SetBytes(2 * pageSize)
	b.ResetTimer()
	for c := range committers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p1, p2 := make([]byte, pageSize), make([]byte, pageSize)
			for {
				next.Lock()
				if remaining == 0 {
					next.Unlock()
					return
				}
				remaining--
				next.Unlock()
				pages := []Page{{No: 1, Data: p1}, {No: PageNo(2 + c), Data: p2}}
				writer.Lock()
				v, err := l.Append(pages, 1000, true)
				if !group && err == nil {
					err = l.WaitDurable(v)
				}
				writer.Unlock()
				if group && err == nil {
					err = l.WaitDurable(v)
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
	st := l.Stats()
	b.ReportMetric(float64(st.Commits)/float64(max(st.Syncs, 1)), "commits/fsync")
}

// BenchmarkCheckpoint measures copying a log of 10,000 distinct pages into
// the main file and syncing it.
func BenchmarkCheckpoint(b *testing.B) {
	for _, kind := range []ioback.Kind{ioback.KindUring, ioback.KindPortable} {
		fs, err := ioback.New(kind)
		if err != nil {
			continue
		}
		b.Run(fmt.Sprintf("io=%v/pages=10000", kind), func(b *testing.B) {
			const pages, pageSize = 10000, 4096
			b.SetBytes(pages * pageSize)
			for range b.N {
				b.StopTimer()
				dir := b.TempDir()
				db, _ := fs.Open(dir+"/db", ioback.OpenCreate)
				w, _ := fs.Open(dir+"/db-wal", ioback.OpenCreate)
				l, err := Open(db, w, Options{})
				if err != nil {
					b.Fatal(err)
				}
				data := make([]byte, pageSize)
				page1 := make([]byte, pageSize) // declares the page size, as SQLite's does
				binary.BigEndian.PutUint16(page1[16:], pageSize)
				for start := 1; start <= pages; start += 500 {
					batch := make([]Page, 0, 500)
					for p := start; p < start+500 && p <= pages; p++ {
						d := data
						if p == 1 {
							d = page1
						}
						batch = append(batch, Page{No: PageNo(p), Data: d})
					}
					if _, err := l.Commit(batch, pages, false); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Sync(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				res, err := l.Checkpoint(CheckpointPassive, l.Durable())
				if err != nil || res.Pages != pages {
					b.Fatalf("checkpoint: %+v %v", res, err)
				}
				b.StopTimer()
				l.Close()
				db.Close()
				w.Close()
				b.StartTimer()
			}
		})
	}
}
