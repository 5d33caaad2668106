package libsql

import (
	"encoding/json"
	"sync"
	"testing"
	"time"
)

// TestBigSortMovesToDisk runs an ORDER BY whose sort spills far more than
// a temporary file may keep in memory (32 MiB), with the default bounds:
// the sort's file moves to disk, so the memory temporary files hold,
// sampled from another connection all along, stays near that bound
// instead of growing with the sort, and the rows come out sorted. Before,
// every temporary file stayed in memory however big it grew.
func TestBigSortMovesToDisk(t *testing.T) {
	t.Setenv("SQLITE_TMPDIR", t.TempDir())
	rows := 45_000
	if soak() {
		rows = 600_000
	}
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, pad TEXT)")
	mustExec(t, db, `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < ?)
		INSERT INTO t SELECT x, hex(randomblob(500)) FROM c`, rows)

	type stats struct {
		Mem   int64  `json:"temp_memory_bytes"`
		Moved uint64 `json:"temp_files_moved_to_disk"`
	}
	read := func() stats {
		var js string
		if err := db.QueryRow("PRAGMA libsql_stats").Scan(&js); err != nil {
			t.Error(err)
		}
		var s stats
		if err := json.Unmarshal([]byte(js), &s); err != nil {
			t.Error(err)
		}
		return s
	}
	before := read()
	done := make(chan struct{})
	var peak int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			peak = max(peak, read().Mem)
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	r, err := db.Query("SELECT pad FROM t ORDER BY pad")
	if err != nil {
		t.Fatal(err)
	}
	n, prev := 0, ""
	for r.Next() {
		var s string
		if err := r.Scan(&s); err != nil {
			t.Fatal(err)
		}
		if s < prev {
			t.Fatalf("row %d out of order", n)
		}
		prev = s
		n++
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	close(done)
	wg.Wait()
	after := read()
	if n != rows {
		t.Fatalf("%d rows sorted, want %d", n, rows)
	}
	if after.Moved == before.Moved {
		t.Fatalf("a sort of %d MB moved no temporary file to disk", rows/1000)
	}
	// The bound, and one chunk and the pool's rounding of slack.
	if limit := int64(32<<20 + 1<<20); peak > limit {
		t.Fatalf("temporary files held %d bytes of memory during the sort, want at most %d", peak, limit)
	}
	t.Logf("%d rows sorted; temporary files held at most %.1f MiB; %d moved to disk", n, float64(peak)/(1<<20), after.Moved-before.Moved)
}
