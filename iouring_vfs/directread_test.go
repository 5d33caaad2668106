package iouringvfs

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/golibsql/libsql/internal/capi"
)

// SQLite reads a value's overflow pages straight into the value's buffer
// (its direct overflow read) only when the VFS says partial page reads are
// fine (SQLITE_IOCAP_SUBPAGE_READ); otherwise every overflow page goes
// through the connection's page cache: a miss, a copy into the cache, a
// copy out, and the cache's useful pages evicted by a blob's. Reading a
// 1 MiB blob must miss the cache only for its b-tree pages, and return the
// right bytes, the last overflow page (read in part) included.
func TestOverflowPagesReadDirect(t *testing.T) {
	path := dbPath(t)
	w := openConn(t, path, "")
	w.exec("PRAGMA page_size=4096")
	w.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, data BLOB)")
	want := make([]byte, 1<<20+1234)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range want {
		want[i] = byte(rng.Uint32())
	}
	s, _, err := w.Prepare("INSERT INTO t VALUES (1, ?)", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.BindBlob(1, want); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Step(); err != nil {
		t.Fatal(err)
	}
	s.Finalize()

	r := openConn(t, path, "")
	if n := r.int("SELECT length(data) FROM t WHERE id = 1"); n != int64(len(want)) {
		t.Fatalf("length %d, want %d", n, len(want)) // and the b-tree pages into the cache
	}
	read := func() []byte {
		q, _, err := r.Prepare("SELECT data FROM t WHERE id = 1", 0)
		if err != nil {
			t.Fatal(err)
		}
		defer q.Finalize()
		if row, err := q.Step(); err != nil || !row {
			t.Fatalf("row=%v err=%v", row, err)
		}
		return q.ColumnBlob(0)
	}
	before, _, err := r.DBStatus(capi.DBSTATUS_CACHE_MISS)
	if err != nil {
		t.Fatal(err)
	}
	got := read()
	after, _, err := r.DBStatus(capi.DBSTATUS_CACHE_MISS)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, not the %d written", len(got), len(want))
	}
	if misses := after - before; misses > 8 {
		t.Fatalf("reading a 1 MiB blob missed the page cache %d times: its overflow pages went through the cache", misses)
	}
}
