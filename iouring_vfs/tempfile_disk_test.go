package iouringvfs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/golibsql/libsql/internal/capi"
	"github.com/golibsql/libsql/iouring_vfs/ioback"
)

// tempBounds sets the bounds past which temporary files move to disk (in
// chunks), and points SQLITE_TMPDIR at a directory of the test's, which it
// returns; both are restored when the test ends.
func tempBounds(t *testing.T, fileChunks, processChunks int64) string {
	t.Helper()
	oldFile, oldProc := tempFileMemMax, tempMemMax
	tempFileMemMax, tempMemMax = fileChunks*tempChunk, processChunks*tempChunk
	t.Cleanup(func() { tempFileMemMax, tempMemMax = oldFile, oldProc })
	dir := t.TempDir()
	t.Setenv("SQLITE_TMPDIR", dir)
	return dir
}

// tempDirEmpty fails unless dir holds no file: a temporary file on disk
// is unlinked as soon as it is created.
func tempDirEmpty(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && len(ents) != 0 {
		t.Fatalf("%s holds %d entries (%s...), want none: temporary files are unlinked at once", dir, len(ents), ents[0].Name())
	}
}

// TestTempMovesToDisk writes past one file's bound: the file moves to disk,
// gives its memory back, keeps every byte (gaps read as zeros), and leaves
// no name in the directory.
func TestTempMovesToDisk(t *testing.T) {
	dir := tempBounds(t, 3, 1<<20)
	memBefore, movedBefore := tempMem.Load(), tempSpills.Load()
	f := newTempFile()
	defer f.Close()
	a := bytes.Repeat([]byte{0xA1}, 3*tempChunk)
	tempMustWrite(t, f, a, 0)
	if f.disk != nil {
		t.Fatal("a 3-chunk file moved to disk under a 3-chunk bound")
	}
	if got := tempMem.Load() - memBefore; got != 3*tempChunk {
		t.Fatalf("temp memory grew by %d, want %d", got, 3*tempChunk)
	}
	// A write two chunks past the end: a gap (which takes no memory), and
	// one chunk more than the bound allows.
	b := bytes.Repeat([]byte{0xB2}, 100)
	tempMustWrite(t, f, b, 5*tempChunk+10)
	if f.disk == nil {
		t.Fatal("the file stayed in memory past its bound")
	}
	if got := tempMem.Load() - memBefore; got != 0 {
		t.Fatalf("the file on disk still holds %d bytes of memory", got)
	}
	if got := tempSpills.Load() - movedBefore; got != 1 {
		t.Fatalf("temp_files_moved_to_disk grew by %d, want 1", got)
	}
	tempDirEmpty(t, dir)
	if osf, ok := f.disk.tempDisk.(*os.File); ok && runtime.GOOS != "windows" {
		fi, err := osf.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Fatalf("temporary file on disk has mode %o, want 600", m)
		}
	}
	size := int64(5*tempChunk + 10 + 100)
	if s, _ := f.Size(); s != size {
		t.Fatalf("size %d, want %d", s, size)
	}
	got := tempMustRead(t, f, 0, int(size))
	want := make([]byte, size)
	copy(want, a)
	copy(want[5*tempChunk+10:], b)
	if i := firstDiff(got, want); i >= 0 {
		t.Fatalf("byte %d = %#x after the move, want %#x", i, got[i], want[i])
	}
	// Past the end: a short read that leaves the rest of p alone.
	p := bytes.Repeat([]byte{0xEE}, 200)
	if n, err := f.ReadAt(p, size-50); n != 50 || err != nil {
		t.Fatalf("ReadAt across the end = %d, %v; want 50, nil", n, err)
	}
	if !bytes.Equal(p[50:], bytes.Repeat([]byte{0xEE}, 150)) {
		t.Fatal("ReadAt wrote past the end of the file")
	}
	// Truncating up reads zeros, down drops bytes.
	if err := f.Truncate(size + 3000); err != nil {
		t.Fatal(err)
	}
	tempWantZeros(t, "after truncating up", tempMustRead(t, f, size, 3000))
	if err := f.Truncate(10); err != nil {
		t.Fatal(err)
	}
	if n, _ := f.ReadAt(make([]byte, 100), 0); n != 10 {
		t.Fatalf("read %d bytes of a file truncated to 10", n)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestTempProcessBound moves to disk the file whose growth would take the
// memory of all temporary files past the process's bound, though that file
// alone is under its own.
func TestTempProcessBound(t *testing.T) {
	base := tempMem.Load() / tempChunk
	tempBounds(t, 100, base+5)
	f, g := newTempFile(), newTempFile()
	defer f.Close()
	defer g.Close()
	tempMustWrite(t, f, make([]byte, 4*tempChunk), 0)
	tempMustWrite(t, g, bytes.Repeat([]byte{7}, tempChunk), 0)
	if f.disk != nil || g.disk != nil {
		t.Fatal("a file moved to disk under both bounds")
	}
	tempMustWrite(t, g, bytes.Repeat([]byte{8}, tempChunk), tempChunk)
	if g.disk == nil {
		t.Fatal("the file that passed the process's bound stayed in memory")
	}
	if f.disk != nil {
		t.Fatal("the other file moved")
	}
	got := tempMustRead(t, g, 0, 2*tempChunk)
	if !bytes.Equal(got[:tempChunk], bytes.Repeat([]byte{7}, tempChunk)) || !bytes.Equal(got[tempChunk:], bytes.Repeat([]byte{8}, tempChunk)) {
		t.Fatal("contents changed in the move")
	}
	// f's memory back: a new file fits again.
	f.Close()
	h := newTempFile()
	defer h.Close()
	tempMustWrite(t, h, make([]byte, 3*tempChunk), 0)
	if h.disk != nil {
		t.Fatal("a file moved to disk though memory was given back")
	}
}

// TestTempDiskModel runs random writes, truncations and reads, as
// TestTempReuseModel does, on files that move to disk part way through.
func TestTempDiskModel(t *testing.T) {
	tempBounds(t, 3, 1<<20)
	r := rand.New(rand.NewPCG(3, 4))
	moved := 0
	for round := range 20 {
		tempPoisonPool(t)
		f := newTempFile()
		tempModelSteps(t, r, f, 300, fmt.Sprintf("round %d", round))
		if f.disk != nil {
			moved++
		}
		f.Close()
	}
	if moved == 0 {
		t.Fatal("no file moved to disk: the test checks nothing it means to")
	}
}

// faultyDisk is a temporary file on disk whose writes fail with err once
// more than budget bytes have been written.
type faultyDisk struct {
	*os.File
	budget int
	err    error
}

func (d *faultyDisk) WriteAt(p []byte, off int64) (int, error) {
	if d.budget -= len(p); d.budget < 0 {
		return 0, d.err
	}
	return d.File.WriteAt(p, off)
}

// tempFaultyDisks makes the files that move to disk faulty ones.
func tempFaultyDisks(t *testing.T, budget int, err error) {
	t.Helper()
	wrapDisks(t, func(f *os.File) tempDisk { return &faultyDisk{File: f, budget: budget, err: err} })
}

// wrapDisks makes the files that temporary files and write sets move to
// those wrap makes of them, until the test ends.
func wrapDisks(t *testing.T, wrap func(*os.File) tempDisk) {
	t.Helper()
	t.Cleanup(SetTempDiskForTesting(wrap))
}

// TestTempDiskErrors: a full disk under a temporary file is SQLITE_FULL,
// another write error SQLITE_IOERR_WRITE; a file that cannot be moved to
// disk (the directory is missing, or the copy fails) stays in memory with
// its contents, and the first such failure is logged.
func TestTempDiskErrors(t *testing.T) {
	codeOf := func(err error) int32 {
		var ce *capi.CodeError
		if !errors.As(err, &ce) {
			return -1
		}
		return ce.Code
	}
	for _, tc := range []struct {
		errno syscall.Errno
		code  int32
	}{{syscall.ENOSPC, capi.FULL}, {syscall.EIO, capi.IOERR_WRITE}} {
		t.Run(tc.errno.Error(), func(t *testing.T) {
			tempBounds(t, 1, 1<<20)
			tempFaultyDisks(t, 3*tempChunk, tc.errno)
			f := newTempFile()
			defer f.Close()
			tempMustWrite(t, f, make([]byte, 2*tempChunk), 0)
			if f.disk == nil {
				t.Fatal("the file did not move to disk")
			}
			err := f.WriteAt(make([]byte, 2*tempChunk), 2*tempChunk)
			if codeOf(err) != tc.code || !errors.Is(err, tc.errno) {
				t.Fatalf("write failing with %v: %v (code %d), want code %d wrapping it", tc.errno, err, codeOf(err), tc.code)
			}
			if s, _ := f.Size(); s != 2*tempChunk {
				t.Fatalf("a failed write changed the size to %d", s)
			}
		})
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T)
		want  string
	}{
		{"no directory", func(t *testing.T) {
			t.Setenv("SQLITE_TMPDIR", t.TempDir()+"/missing")
		}, "missing"},
		{"copy fails", func(t *testing.T) {
			tempFaultyDisks(t, tempChunk/2, syscall.ENOSPC)
		}, "no space"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tempBounds(t, 2, 1<<20)
			tc.setup(t)
			var lines []string
			oldLogf := ioback.Logf
			ioback.Logf = func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
			defer func() { ioback.Logf = oldLogf }()
			tempDiskFailed.Store(false)
			defer tempDiskFailed.Store(false)

			for range 2 {
				f := newTempFile()
				want := make([]byte, 5*tempChunk)
				for i := range want {
					want[i] = byte(i%251 + 1)
				}
				tempMustWrite(t, f, want[:2*tempChunk], 0)
				tempMustWrite(t, f, want[2*tempChunk:], 2*tempChunk)
				if f.disk != nil {
					t.Fatal("the file moved to disk though that failed")
				}
				if i := firstDiff(tempMustRead(t, f, 0, len(want)), want); i >= 0 {
					t.Fatalf("byte %d wrong after the failed move", i)
				}
				f.Close()
			}
			if len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Fatalf("log lines %q, want one naming %q", lines, tc.want)
			}
			tempDirEmpty(t, dir)
		})
	}
}

// TestTempToDiskSQL runs what spills to temporary files (a big ORDER BY,
// CREATE INDEX, a temp table, VACUUM) with bounds small enough that they
// move to disk, and checks the results and the counters libsql_stats
// reports; then the same on a disk that fills up, where the statement
// fails with SQLITE_FULL and changes nothing.
func TestTempToDiskSQL(t *testing.T) {
	dir := tempBounds(t, 8, 1<<20)
	c := openConn(t, dbPath(t), "")
	c.exec("PRAGMA temp_store=FILE")
	c.exec("PRAGMA cache_size=20")
	c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT NOT NULL, pad TEXT NOT NULL)")
	c.exec(`WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 20000)
		INSERT INTO t SELECT x, hex(randomblob(8)), hex(randomblob(60)) FROM c`)
	stats := func() Stats {
		var s Stats
		if err := json.Unmarshal([]byte(c.text("PRAGMA libsql_stats")), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := stats().TempFilesMoved
	bad := c.int(`SELECT count(*) FROM (SELECT k, lag(k) OVER (ORDER BY k) AS prev FROM t ORDER BY k) WHERE prev > k`)
	if bad != 0 {
		t.Fatalf("%d rows out of order", bad)
	}
	if n := c.int("SELECT count(*) FROM (SELECT k, pad FROM t ORDER BY k, pad)"); n != 20000 {
		t.Fatalf("ORDER BY gave %d rows", n)
	}
	c.exec("CREATE INDEX t_k ON t(k, pad)")
	c.exec("CREATE TEMP TABLE tt AS SELECT * FROM t WHERE id % 3 = 0")
	if n := c.int("SELECT count(*) FROM tt WHERE pad != ''"); n != 6666 {
		t.Fatalf("temp table has %d rows", n)
	}
	if s := c.text("PRAGMA temp.integrity_check"); s != "ok" {
		t.Fatalf("temp integrity_check: %s", s)
	}
	c.exec("DROP TABLE tt")
	c.exec("VACUUM")
	if s := c.text("PRAGMA integrity_check"); s != "ok" {
		t.Fatalf("integrity_check: %s", s)
	}
	st := stats()
	if st.TempFilesMoved == before {
		t.Fatal("libsql_stats counts no temporary file moved to disk")
	}
	tempDirEmpty(t, dir)
	c.exec("DROP INDEX t_k")

	// A disk that fills up under CREATE INDEX's sort, after the move (a
	// file's 8 chunks at most): SQLITE_FULL, no index, and the connection
	// goes on.
	tempFaultyDisks(t, 9*tempChunk, syscall.ENOSPC)
	err := c.tryExec("CREATE INDEX t_pad ON t(pad, k)")
	if err == nil || !strings.Contains(err.Error(), "full") {
		t.Fatalf("CREATE INDEX on a full temporary disk: %v, want SQLITE_FULL", err)
	}
	if n := c.int("SELECT count(*) FROM sqlite_schema WHERE name = 't_pad'"); n != 0 {
		t.Fatal("the failed CREATE INDEX left its index")
	}
	if s := c.text("PRAGMA integrity_check"); s != "ok" {
		t.Fatalf("integrity_check after the failure: %s", s)
	}
	c.exec("INSERT INTO t VALUES (20001, 'k', 'pad')")
	if n := c.int("SELECT count(*) FROM t"); n != 20001 {
		t.Fatalf("%d rows after the failure, want 20001", n)
	}
}
