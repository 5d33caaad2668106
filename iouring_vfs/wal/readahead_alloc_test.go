// The race detector drops pooled items at random.

//go:build !race

package wal

import (
	"testing"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
	"github.com/golibsql/libsql/iouring_vfs/pagecache"
)

// A sequential reader through a full cache reads ahead on every miss, and
// the read ahead takes its working memory (the keys of the pages it reads,
// the requests it reads them with; see aheadScratch) from a pool: reading
// a page allocates nothing. Measured on the in-memory file system, whose
// ReadBatch allocates nothing itself (the others' vectored reads do, in
// ioback).
func TestReadPageAheadDoesNotAllocate(t *testing.T) {
	const n, ahead = 4096, 31
	cache := pagecache.New(1024, ps, nil)
	l := openLog(t, ioback.NewMemFS(), "/", "db", Options{Cache: cache})
	fillMainFile(t, l.Log, n)
	buf := make([]byte, ps)
	p := PageNo(1)
	read := func() { // 1+ahead pages, one miss
		for range 1 + ahead {
			if found, err := l.ReadPageAhead(p, l.Durable(), buf, ahead); err != nil || !found {
				t.Fatalf("page %d: found %v, %v", p, found, err)
			}
			p = p%n + 1
		}
	}
	for range 2 * n / (1 + ahead) { // fill the cache: its memory comes as it fills
		read()
	}
	before := cache.Stats()
	if a := testing.AllocsPerRun(100, read); a != 0 {
		t.Errorf("reading %d pages allocated %v times, want 0", 1+ahead, a)
	}
	st := cache.Stats()
	if misses, readAhead := st.Misses-before.Misses, st.ReadAhead-before.ReadAhead; misses != 101 || readAhead != ahead*misses {
		t.Fatalf("%d misses and %d pages read ahead, want 101 and %d", misses, readAhead, ahead*101)
	}
}
