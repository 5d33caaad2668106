package libsql

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golibsql/libsql/changefeed"
	iouringvfs "github.com/golibsql/libsql/iouring_vfs"
)

// TestChangeLogModel drives a changeLog with random changes, small and
// bigger than its buffer, and random truncations (savepoint rollbacks),
// with the temporary file's bounds lowered so that it moves to disk, and
// checks after every step that it reads back exactly the changes a plain
// slice keeps: one by one, all at once, and as a transaction's encoding.
func TestChangeLogModel(t *testing.T) {
	t.Cleanup(iouringvfs.SetTempMemoryForTesting(128<<10, 1<<20))
	t.Setenv("SQLITE_TMPDIR", t.TempDir())
	var end atomic.Int64
	t.Cleanup(iouringvfs.SetTempDiskForTesting(func(f *os.File) iouringvfs.TempDisk {
		return &spillDisk{File: f, end: &end}
	}))
	r := rand.New(rand.NewPCG(7, 11))
	cols := [][]string{{"id", "v"}, {"k", "a", "b"}}
	var l changeLog
	defer l.close()
	var model []changefeed.Change
	same := func(step, i int, c changefeed.Change) {
		t.Helper()
		c.LSN, c.Index, c.CommitTime = 0, 0, time.Time{}
		if fmt.Sprint(cdcChanges([]changefeed.Change{c})) != fmt.Sprint(cdcChanges(model[i:i+1])) {
			t.Fatalf("step %d: change %d (row %d of %s) reads back as row %d of %s, or with other values", step, i, model[i].RowID, model[i].Table, c.RowID, c.Table)
		}
	}
	check := func(step int) {
		t.Helper()
		if l.n() != len(model) {
			t.Fatalf("step %d: %d changes, want %d", step, l.n(), len(model))
		}
		all := func(int) bool { return true }
		got, err := l.changes(all)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		for i := range model {
			one, old, err := l.change(i)
			if err != nil {
				t.Fatalf("step %d: change %d: %v", step, i, err)
			}
			if old != model[i].RowID {
				t.Fatalf("step %d: change %d's old rowid %d, want %d", step, i, old, model[i].RowID)
			}
			same(step, i, got[i])
			same(step, i, one)
		}
		head, rest, body, err := l.txEncoding(9, time.Unix(5, 0), all, nil)
		if err != nil {
			t.Fatal(err)
		}
		enc := append(head, make([]byte, rest)...)
		if _, err := io.ReadFull(body, enc[len(head):]); err != nil {
			t.Fatalf("step %d: reading the encoding: %v", step, err)
		}
		if n, err := body.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Fatalf("step %d: the encoding goes on past its size (%d, %v)", step, n, err)
		}
		// Pairs of truncated changes stay numbered, so the bytes may
		// differ from EncodeTx's; the transaction they decode to may not.
		tx, err := changefeed.DecodeTx(enc)
		if err != nil {
			t.Fatalf("step %d: the encoding does not decode: %v", step, err)
		}
		if tx.LSN != 9 || len(tx.Changes) != len(model) {
			t.Fatalf("step %d: the encoding decodes to LSN %v and %d changes, want 9 and %d", step, tx.LSN, len(tx.Changes), len(model))
		}
		for i := range model {
			same(step, i, tx.Changes[i])
		}
	}
	for step := range 150 {
		switch k := r.IntN(10); {
		case k < 7 || len(model) == 0:
			size := r.IntN(2000)
			if r.IntN(8) == 0 {
				size = maxLogBuf + r.IntN(maxLogBuf)
			}
			s := cols[r.IntN(2)]
			vals := make([]any, len(s))
			vals[0] = int64(step)
			vals[1] = bytes.Repeat([]byte{byte(step)}, size)
			if len(s) > 2 {
				vals[2] = fmt.Sprint("text ", step)
			}
			ch := changefeed.Change{Table: fmt.Sprint("t", len(s)), Op: changefeed.Insert, RowID: int64(step), Columns: s, New: vals}
			l.addChange(&ch, int64(step))
			model = append(model, ch)
		default:
			n := r.IntN(len(model) + 1)
			l.truncate(n)
			model = model[:n]
		}
		check(step)
	}
	if end.Load() == 0 {
		t.Fatal("the log's file never moved to disk: the test checks less than it means to")
	}
}
