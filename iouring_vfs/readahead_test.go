package iouringvfs

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
)

// blobOf is blob id's content at generation gen.
func blobOf(id, gen int64, size int) []byte {
	b := make([]byte, size)
	r := rand.New(rand.NewPCG(uint64(id), uint64(gen)))
	for i := 0; i+8 <= size; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b
}

// Readers going through blobs read the main file ahead (one preadv for 32
// pages) into the shared cache, while a writer replaces the blobs (their
// pages freed and reused by other blobs), checkpoints copy the new pages
// into the main file and VACUUM moves every page: each reader must see, in
// every blob, the bytes of the generation its row says. 60 generations in
// the normal test run, 3000 under LIBSQL_SOAK=1.
func TestConcurrentReadAheadServesOnlyCurrentPages(t *testing.T) {
	const blobs, size = 6, 96 << 10
	gens := int64(60)
	if os.Getenv("LIBSQL_SOAK") != "" {
		gens = 3000
	}
	path := dbPath(t)
	w := openConn(t, path, "")
	w.exec("PRAGMA wal_autocheckpoint=16")
	w.exec("PRAGMA busy_timeout=5000") // the background checkpoint's restarts take the writer lock
	w.exec("CREATE TABLE b(id INTEGER PRIMARY KEY, gen INTEGER NOT NULL, data BLOB NOT NULL)")
	put := func(c *tconn, id, gen int64) {
		s, _, err := c.Prepare("INSERT OR REPLACE INTO b(id, gen, data) VALUES (?, ?, ?)", 0)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Finalize()
		s.BindInt64(1, id)
		s.BindInt64(2, gen)
		s.BindBlob(3, blobOf(id, gen, size))
		if _, err := s.Step(); err != nil {
			t.Fatalf("write blob %d gen %d: %v", id, gen, err)
		}
	}
	for id := range int64(blobs) {
		put(w, id, 0)
	}

	var stop atomic.Bool
	var reads atomic.Int64
	var wg sync.WaitGroup
	for g := range 2 {
		r := openConn(t, path, "")
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, _, err := r.Prepare("SELECT gen, data FROM b WHERE id = ?", 0)
			if err != nil {
				t.Error(err)
				return
			}
			defer s.Finalize()
			rng := rand.New(rand.NewPCG(uint64(g), 9))
			for !stop.Load() || reads.Load() < 40 {
				id := rng.Int64N(blobs)
				s.BindInt64(1, id)
				row, err := s.Step()
				if err != nil || !row {
					t.Errorf("read blob %d: row %v, %v", id, row, err)
					return
				}
				gen := s.ColumnInt64(0)
				if got := s.ColumnBlob(1); !bytes.Equal(got, blobOf(id, gen, size)) {
					t.Errorf("blob %d read with generation %d holds other bytes (%d bytes)", id, gen, len(got))
					return
				}
				s.Reset()
				reads.Add(1)
			}
		}()
	}
	defer func() { // before the connections close, even after a failure
		stop.Store(true)
		wg.Wait()
	}()
	for gen := int64(1); gen <= gens; gen++ {
		put(w, gen%blobs, gen)
		if gen%20 == 0 {
			w.exec("VACUUM")
		}
	}
	stop.Store(true)
	wg.Wait()
	st := w.file.e.Stats()
	if st.CacheReadAhead == 0 || st.PagesBackfilled == 0 {
		t.Fatalf("nothing read ahead or checkpointed: %+v", st)
	}
	t.Logf("%d reads; %d pages read ahead, %d checkpointed", reads.Load(), st.CacheReadAhead, st.PagesBackfilled)
	if s := w.text("PRAGMA integrity_check"); s != "ok" {
		t.Fatal(s)
	}
}
