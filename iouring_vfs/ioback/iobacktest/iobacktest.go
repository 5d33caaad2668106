// Package iobacktest is the conformance suite every ioback.FS must pass: the
// package's own backends, the fault-injecting and crashable wrappers of
// package iofault, and any FS a caller writes (a wrapper that counts or
// delays I/O, say). Run it from a test:
//
//	func TestConformance(t *testing.T) {
//		iobacktest.Run(t, iobacktest.Config{
//			New: func(t *testing.T) (ioback.FS, string) { return ioback.Portable(), t.TempDir() },
//		})
//	}
package iobacktest

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
)

// Config says how to make the FS under test.
type Config struct {
	// New returns a fresh FS and the directory to create test files in
	// (for an in-memory FS any name, e.g. "mem").
	New func(t *testing.T) (fsys ioback.FS, dir string)

	// Link makes newname a hard link to oldname. Nil skips the hard-link
	// part of the identity test.
	Link func(oldname, newname string) error
}

// Run runs every conformance test as a subtest of t.
func Run(t *testing.T, c Config) {
	tests := []struct {
		name string
		fn   func(*testing.T, Config)
	}{
		{"RoundTrip", testRoundTrip},
		{"ReadEOF", testReadEOF},
		{"ReadBatch", testReadBatch},
		{"ReadBatchOneRange", testReadBatchOneRange},
		{"WritevAt", testWritevAt},
		{"Truncate", testTruncate},
		{"Allocate", testAllocate},
		{"Lock", testLock},
		{"LockRanges", testLockRanges},
		{"ID", testID},
		{"NotExist", testNotExist},
		{"Remove", testRemove},
		{"ReadOnly", testReadOnly},
		{"Arena", testArena},
		{"Concurrent", testConcurrent},
		{"CloseWhileReading", testCloseWhileReading},
		{"ErrorsNameFile", testErrorsNameFile},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, c) })
	}
}

// open opens (creating) name in a fresh FS and closes it at cleanup.
func open(t *testing.T, fsys ioback.FS, name string, flag ioback.OpenFlag) ioback.File {
	t.Helper()
	f, err := fsys.Open(name, flag)
	if err != nil {
		t.Fatalf("Open(%q): %v", name, err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func pattern(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

func mustWrite(t *testing.T, f ioback.File, p []byte, off int64) {
	t.Helper()
	n, err := f.WriteAt(p, off)
	if err != nil || n != len(p) {
		t.Fatalf("WriteAt(%d bytes, %d) = %d, %v", len(p), off, n, err)
	}
}

func mustRead(t *testing.T, f ioback.File, n int, off int64) []byte {
	t.Helper()
	p := make([]byte, n)
	got, err := f.ReadAt(p, off)
	if got != n || (err != nil && err != io.EOF) {
		t.Fatalf("ReadAt(%d bytes, %d) = %d, %v", n, off, got, err)
	}
	return p
}

func mustSize(t *testing.T, f ioback.File, want int64) {
	t.Helper()
	if got, err := f.Size(); err != nil || got != want {
		t.Fatalf("Size() = %d, %v; want %d", got, err, want)
	}
}

func testRoundTrip(t *testing.T, c Config) {
	fsys, dir := c.New(t)
	f := open(t, fsys, filepath.Join(dir, "rt.db"), ioback.OpenCreate)
	mustSize(t, f, 0)
	page := pattern(1, 4096)
	mustWrite(t, f, page, 0)
	mustWrite(t, f, page, 3*4096) // leaves a hole
	mustWrite(t, f, []byte("hello"), 10)
	mustSize(t, f, 4*4096)
	want := append([]byte(nil), page...)
	copy(want[10:], "hello")
	if got := mustRead(t, f, 4096, 0); !bytes.Equal(got, want) {
		t.Fatal("page 0 read back differs")
	}
	if got := mustRead(t, f, 4096, 4096); !bytes.Equal(got, make([]byte, 4096)) {
		t.Fatal("hole does not read as zeros")
	}
	if got := mustRead(t, f, 4096, 3*4096); !bytes.Equal(got, page) {
		t.Fatal("page 3 read back differs")
	}
	// Unaligned read across page boundaries.
	if got := mustRead(t, f, 100, 4096-50); !bytes.Equal(got[:50], want[4096-50:]) || !bytes.Equal(got[50:], make([]byte, 50)) {
		t.Fatal("unaligned read differs")
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if err := fsys.SyncDir(dir); err != nil {
		t.Fatalf("SyncDir: %v", err)
	}
	// Another handle sees the same bytes.
	g := open(t, fsys, filepath.Join(dir, "rt.db"), 0)
	if got := mustRead(t, g, 4096, 3*4096); !bytes.Equal(got, page) {
		t.Fatal("second handle reads different bytes")
	}
	if size, _, err := fsys.Stat(filepath.Join(dir, "rt.db")); err != nil || size != 4*4096 {
		t.Fatalf("Stat = %d, %v", size, err)
	}
}

func testReadEOF(t *testing.T, c Config) {
	fsys, dir := c.New(t)
	f := open(t, fsys, filepath.Join(dir, "eof.db"), ioback.OpenCreate)
	data := pattern(2, 100)
	mustWrite(t, f, data, 0)
	p := make([]byte, 200)
	n, err := f.ReadAt(p, 50)
	if n != 50 || err != io.EOF {
		t.Fatalf("ReadAt across EOF = %d, %v; want 50, io.EOF", n, err)
	}
	if !bytes.Equal(p[:50], data[50:]) {
		t.Fatal("partial read returned wrong bytes")
	}
	for _, off := range []int64{100, 1000, 1 << 40} {
		if n, err := f.ReadAt(p, off); n != 0 || err != io.EOF {
			t.Fatalf("ReadAt at %d (EOF %d) = %d, %v; want 0, io.EOF", off, 100, n, err)
		}
	}
	if n, err := f.ReadAt(p[:100], 0); n != 100 || (err != nil && err != io.EOF) {
		t.Fatalf("ReadAt of exactly the file = %d, %v", n, err)
	}
	if n, err := f.ReadAt(p[:0], 0); n != 0 || err != nil {
		t.Fatalf("empty ReadAt = %d, %v", n, err)
	}
	if _, err := f.ReadAt(p, -1); err == nil || err == io.EOF {
		t.Fatalf("ReadAt at -1: %v; want an error", err)
	}
}

func testReadBatch(t *testing.T, c Config) {
	fsys, dir := c.New(t)
	f := open(t, fsys, filepath.Join(dir, "batch.db"), ioback.OpenCreate)
	const pages = 64
	const size = pages*4096 + 1000 // last page partial
	data := pattern(3, size)
	mustWrite(t, f, data, 0)
	r := rand.New(rand.NewPCG(4, 4))
	reqs := make([]ioback.Read, 300) // more than any ring's size
	for i := range reqs {
		pg := r.IntN(pages + 3) // some beyond EOF
		n := 4096
		if i%7 == 0 {
			n = 1 + r.IntN(9000) // odd sizes, some straddling pages
		}
		reqs[i] = ioback.Read{P: make([]byte, n), Off: int64(pg) * 4096}
		if i%11 == 0 {
			reqs[i].Off += int64(r.IntN(4096))
		}
		reqs[i].N, reqs[i].Err = -1, errors.New("not set")
	}
	if err := f.ReadBatch(reqs); err != nil {
		t.Fatalf("ReadBatch: %v", err)
	}
	for i, q := range reqs {
		want := 0
		if q.Off < size {
			want = min(len(q.P), int(size-q.Off))
		}
		if q.N != want {
			t.Fatalf("req %d (off %d len %d): N = %d, want %d", i, q.Off, len(q.P), q.N, want)
		}
		if want < len(q.P) && q.Err != io.EOF {
			t.Fatalf("req %d: short read with Err %v, want io.EOF", i, q.Err)
		}
		if want == len(q.P) && q.Err != nil && q.Err != io.EOF {
			t.Fatalf("req %d: Err = %v", i, q.Err)
		}
		if q.N > 0 && !bytes.Equal(q.P[:q.N], data[q.Off:q.Off+int64(q.N)]) {
			t.Fatalf("req %d: wrong bytes", i)
		}
	}
	if err := f.ReadBatch(nil); err != nil {
		t.Fatalf("empty ReadBatch: %v", err)
	}
	// A bad request reports its own error and the batch's.
	bad := []ioback.Read{{P: make([]byte, 10), Off: 0}, {P: make([]byte, 10), Off: -5}}
	if err := f.ReadBatch(bad); err == nil || bad[1].Err == nil || bad[0].Err != nil || bad[0].N != 10 {
		t.Fatalf("ReadBatch with a negative offset: err %v, reqs %+v", err, bad)
	}
}

// testReadBatchOneRange reads batches that cover one range of the file, as
// prefetch does (the backends read those with one vectored read): every
// request gets its own bytes, and those past the end of the file io.EOF.
func testReadBatchOneRange(t *testing.T, c Config) {
	fsys, dir := c.New(t)
	f := open(t, fsys, filepath.Join(dir, "range.db"), ioback.OpenCreate)
	const size = 40*4096 + 1000
	data := pattern(5, size)
	mustWrite(t, f, data, 0)
	for _, tc := range []struct {
		name  string
		off   int64
		sizes []int
	}{
		{"pages", 4096, []int{4096, 4096, 4096, 4096}},
		{"odd sizes", 100, []int{1, 0, 5000, 4095, 3}},
		{"through the end", 36 * 4096, []int{4096, 4096, 4096, 4096, 4096, 4096}},
		{"ending at the end", size - 3000, []int{1000, 2000}},
		{"past the end", size + 10, []int{4096, 4096}},
		{"more than IOV_MAX", 0, slices.Repeat([]int{100}, 1500)},
	} {
		reqs := make([]ioback.Read, len(tc.sizes))
		off := tc.off
		for i, n := range tc.sizes {
			reqs[i] = ioback.Read{P: make([]byte, n), Off: off, N: -1, Err: errors.New("not set")}
			off += int64(n)
		}
		if err := f.ReadBatch(reqs); err != nil {
			t.Fatalf("%s: ReadBatch: %v", tc.name, err)
		}
		for i, q := range reqs {
			want := 0
			if q.Off < size {
				want = min(len(q.P), int(size-q.Off))
			}
			if q.N != want {
				t.Fatalf("%s: req %d (off %d len %d): N = %d, want %d", tc.name, i, q.Off, len(q.P), q.N, want)
			}
			if want < len(q.P) && q.Err != io.EOF {
				t.Fatalf("%s: req %d: short read with Err %v, want io.EOF", tc.name, i, q.Err)
			}
			if want == len(q.P) && q.Err != nil && q.Err != io.EOF {
				t.Fatalf("%s: req %d: Err = %v", tc.name, i, q.Err)
			}
			if q.N > 0 && !bytes.Equal(q.P[:q.N], data[q.Off:q.Off+int64(q.N)]) {
				t.Fatalf("%s: req %d: wrong bytes", tc.name, i)
			}
		}
	}
}

func testWritevAt(t *testing.T, c Config) {
	fsys, dir := c.New(t)
	f := open(t, fsys, filepath.Join(dir, "writev.db"), ioback.OpenCreate)
	var bufs [][]byte
	var want []byte
	for i := range 1500 { // more than IOV_MAX
		b := pattern(uint64(i), i%37)
		bufs = append(bufs, b)
		want = append(want, b...)
	}
	if err := f.WritevAt(bufs, 4096); err != nil {
		t.Fatalf("WritevAt: %v", err)
	}
	mustSize(t, f, 4096+int64(len(want)))
	if got := mustRead(t, f, len(want), 4096); !bytes.Equal(got, want) {
		t.Fatal("WritevAt data read back differs")
	}
	if err := f.WritevAt(nil, 0); err != nil {
		t.Fatalf("empty WritevAt: %v", err)
	}
	// Frame-like: header + page, the log's pattern.
	hdr, page := pattern(7, 24), pattern(8, 4096)
	if err := f.WritevAt([][]byte{hdr, page}, 0); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, f, 24+4096, 0); !bytes.Equal(got, append(hdr, page...)) {
		t.Fatal("header+page differs")
	}
}

func testTruncate(t *testing.T, c Config) {
	fsys, dir := c.New(t)
	f := open(t, fsys, filepath.Join(dir, "trunc.db"), ioback.OpenCreate)
	data := pattern(9, 3*4096)
	mustWrite(t, f, data, 0)
	if err := f.Truncate(4096 + 100); err != nil {
		t.Fatalf("Truncate: %v", err)
	}
	mustSize(t, f, 4096+100)
	if err := f.Truncate(3 * 4096); err != nil {
		t.Fatal(err)
	}
	got := mustRead(t, f, 3*4096, 0)
	if !bytes.Equal(got[:4196], data[:4196]) || !bytes.Equal(got[4196:], make([]byte, 3*4096-4196)) {
		t.Fatal("truncated-then-grown region does not read as zeros")
	}
	if err := f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	mustSize(t, f, 0)
}

func testAllocate(t *testing.T, c Config) {
	fsys, dir := c.New(t)
	f := open(t, fsys, filepath.Join(dir, "alloc.db"), ioback.OpenCreate)
	mustWrite(t, f, []byte("x"), 0)
	if err := f.Allocate(0, 1<<20); err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	mustSize(t, f, 1) // KEEP_SIZE
	if err := f.Allocate(0, 0); err != nil {
		t.Fatalf("Allocate of nothing: %v", err)
	}
	if err := f.Allocate(-1, 10); err == nil {
		t.Fatal("Allocate at -1 succeeded")
	}
}

func testLock(t *testing.T, c Config) {
	fsys, dir := c.New(t)
	name := filepath.Join(dir, "lock.db")
	a := open(t, fsys, name, ioback.OpenCreate)
	b := open(t, fsys, name, 0)
	locked := func(err error, what string) {
		t.Helper()
		if !errors.Is(err, ioback.ErrLocked) {
			t.Fatalf("%s: %v, want ErrLocked", what, err)
		}
	}
	ok := func(err error, what string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	ok(a.Lock(100, 1, true), "a excl")
	ok(a.Lock(100, 1, true), "a excl again (own lock)")
	locked(b.Lock(100, 1, false), "b shared over a's excl")
	locked(b.Lock(90, 20, true), "b excl overlapping a's excl")
	ok(b.Lock(101, 1, true), "b excl next to a's")
	ok(a.Unlock(100, 1), "a unlock")
	ok(b.Lock(100, 1, false), "b shared after a unlocked")
	ok(a.Lock(100, 1, false), "a shared with b shared")
	locked(a.Lock(100, 1, true), "a upgrade while b shares")
	ok(b.Unlock(100, 2), "b unlock both")
	ok(a.Lock(100, 1, true), "a upgrade alone")
	ok(a.Lock(100, 1, false), "a downgrade")
	ok(b.Lock(100, 1, false), "b shared after downgrade")
	ok(b.Unlock(100, 1), "b unlock")
	ok(a.Lock(0, 0, true), "a excl to infinity")
	locked(b.Lock(1<<40, 1, false), "b far beyond, inside infinity")
	// Close releases.
	ok(a.Close(), "a close")
	ok(b.Lock(0, 0, true), "b excl after a closed")
	// A third handle conflicts with b.
	c3 := open(t, fsys, name, 0)
	locked(c3.Lock(5, 1, false), "third handle vs b")
	ok(b.Unlock(0, 0), "b unlock all")
	ok(c3.Lock(5, 1, true), "third handle after b unlocked all")
}

func testLockRanges(t *testing.T, c Config) {
	// SQLite's lock bytes: pending, reserved, shared range.
	const pending, reserved, sharedFirst, sharedSize = 0x40000000, 0x40000001, 0x40000002, 510
	fsys, dir := c.New(t)
	name := filepath.Join(dir, "sqlite.db")
	a := open(t, fsys, name, ioback.OpenCreate)
	b := open(t, fsys, name, 0)
	for _, f := range []ioback.File{a, b} {
		if err := f.Lock(sharedFirst, sharedSize, false); err != nil {
			t.Fatalf("shared: %v", err)
		}
	}
	if err := a.Lock(reserved, 1, true); err != nil {
		t.Fatalf("reserved: %v", err)
	}
	if err := b.Lock(reserved, 1, true); !errors.Is(err, ioback.ErrLocked) {
		t.Fatalf("second reserved: %v", err)
	}
	if err := a.Lock(pending, 1, true); err != nil {
		t.Fatalf("pending: %v", err)
	}
	if err := a.Lock(sharedFirst, sharedSize, true); !errors.Is(err, ioback.ErrLocked) {
		t.Fatalf("exclusive while b shares: %v", err)
	}
	if err := b.Unlock(sharedFirst, sharedSize); err != nil {
		t.Fatal(err)
	}
	if err := a.Lock(sharedFirst, sharedSize, true); err != nil {
		t.Fatalf("exclusive: %v", err)
	}
	// Unlocking the middle of a's exclusive range splits it.
	if err := a.Unlock(sharedFirst+100, 10); err != nil {
		t.Fatal(err)
	}
	if err := b.Lock(sharedFirst+100, 10, true); err != nil {
		t.Fatalf("lock in the hole: %v", err)
	}
	if err := b.Lock(sharedFirst+99, 1, false); !errors.Is(err, ioback.ErrLocked) {
		t.Fatalf("lock just before the hole: %v", err)
	}
	if err := b.Lock(sharedFirst+110, 1, false); !errors.Is(err, ioback.ErrLocked) {
		t.Fatalf("lock just after the hole: %v", err)
	}
}

func testID(t *testing.T, c Config) {
	fsys, dir := c.New(t)
	n1, n2 := filepath.Join(dir, "id1.db"), filepath.Join(dir, "id2.db")
	a := open(t, fsys, n1, ioback.OpenCreate)
	b := open(t, fsys, n1, 0)
	o := open(t, fsys, n2, ioback.OpenCreate)
	ida, err := a.ID()
	if err != nil {
		t.Fatal(err)
	}
	idb, _ := b.ID()
	ido, _ := o.ID()
	if ida != idb {
		t.Fatalf("two opens of one file: IDs %v and %v", ida, idb)
	}
	if ida == ido {
		t.Fatalf("two files share ID %v", ida)
	}
	_, ids, err := fsys.Stat(n1)
	if err != nil || ids != ida {
		t.Fatalf("Stat ID = %v, %v; File.ID %v", ids, err, ida)
	}
	if c.Link == nil {
		return
	}
	n3 := filepath.Join(dir, "id-link.db")
	if err := c.Link(n1, n3); err != nil {
		t.Fatalf("link: %v", err)
	}
	l := open(t, fsys, n3, 0)
	idl, err := l.ID()
	if err != nil || idl != ida {
		t.Fatalf("hard link ID = %v, %v; want %v", idl, err, ida)
	}
}

func testNotExist(t *testing.T, c Config) {
	fsys, dir := c.New(t)
	name := filepath.Join(dir, "missing.db")
	if _, err := fsys.Open(name, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open missing: %v", err)
	}
	if _, err := fsys.Open(name, ioback.OpenReadOnly); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open missing read-only: %v", err)
	}
	if err := fsys.Remove(name); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Remove missing: %v", err)
	}
	if _, _, err := fsys.Stat(name); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat missing: %v", err)
	}
}

func testRemove(t *testing.T, c Config) {
	fsys, dir := c.New(t)
	name := filepath.Join(dir, "rm.db")
	f := open(t, fsys, name, ioback.OpenCreate)
	mustWrite(t, f, []byte("old"), 0)
	id1, _ := f.ID()
	if err := fsys.Remove(name); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, _, err := fsys.Stat(name); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat after Remove: %v", err)
	}
	// The open handle still works.
	if got := mustRead(t, f, 3, 0); string(got) != "old" {
		t.Fatalf("read after remove: %q", got)
	}
	g := open(t, fsys, name, ioback.OpenCreate)
	mustSize(t, g, 0)
	if id2, _ := g.ID(); id2 == id1 {
		// Inode numbers may be reused on disk only once the old file is
		// gone; it is still open here.
		t.Fatalf("recreated file has the removed file's ID %v", id1)
	}
}

func testReadOnly(t *testing.T, c Config) {
	fsys, dir := c.New(t)
	name := filepath.Join(dir, "ro.db")
	w := open(t, fsys, name, ioback.OpenCreate)
	mustWrite(t, w, []byte("data"), 0)
	r := open(t, fsys, name, ioback.OpenReadOnly)
	if got := mustRead(t, r, 4, 0); string(got) != "data" {
		t.Fatalf("read-only read: %q", got)
	}
	if _, err := r.WriteAt([]byte("x"), 0); err == nil {
		t.Fatal("WriteAt on a read-only file succeeded")
	}
	if err := r.WritevAt([][]byte{[]byte("x")}, 0); err == nil {
		t.Fatal("WritevAt on a read-only file succeeded")
	}
	if err := r.Lock(0, 1, false); err != nil {
		t.Fatalf("shared lock on a read-only file: %v", err)
	}
}

func testArena(t *testing.T, c Config) {
	fsys, dir := c.New(t)
	a, err := ioback.NewArena(fsys, 64*4096)
	if err != nil {
		t.Fatalf("NewArena: %v", err)
	}
	defer a.Close()
	mem := a.Bytes()
	if len(mem) != 64*4096 || a.Len() != len(mem) {
		t.Fatalf("arena has %d bytes", len(mem))
	}
	f := open(t, fsys, filepath.Join(dir, "arena.db"), ioback.OpenCreate)
	data := pattern(10, 16*4096)
	mustWrite(t, f, data, 0)
	// Single reads and a batch into the arena, plus one straddling EOF.
	if n, err := f.ReadAt(mem[4096:8192], 4096); n != 4096 || err != nil {
		t.Fatalf("ReadAt into arena = %d, %v", n, err)
	}
	if !bytes.Equal(mem[4096:8192], data[4096:8192]) {
		t.Fatal("arena ReadAt wrong bytes")
	}
	var reqs []ioback.Read
	for i := range 16 {
		reqs = append(reqs, ioback.Read{P: mem[(20+i)*4096 : (21+i)*4096], Off: int64(15-i) * 4096})
	}
	reqs = append(reqs, ioback.Read{P: mem[40*4096 : 42*4096], Off: 15 * 4096})
	if err := f.ReadBatch(reqs); err != nil {
		t.Fatalf("ReadBatch into arena: %v", err)
	}
	for i := range 16 {
		if !bytes.Equal(mem[(20+i)*4096:(21+i)*4096], data[(15-i)*4096:(16-i)*4096]) {
			t.Fatalf("arena batch read %d wrong", i)
		}
	}
	if last := reqs[16]; last.N != 4096 || last.Err != io.EOF {
		t.Fatalf("arena read across EOF: %d, %v", last.N, last.Err)
	}
	// Writes from the arena.
	if _, err := f.WriteAt(mem[4096:8192], 20*4096); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("arena Close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second arena Close: %v", err)
	}
}

func testConcurrent(t *testing.T, c Config) {
	fsys, dir := c.New(t)
	f := open(t, fsys, filepath.Join(dir, "conc.db"), ioback.OpenCreate)
	const workers, pagesEach, rounds = 8, 8, 30
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			base := int64(w*pagesEach) * 4096
			for r := range rounds {
				page := pattern(uint64(w*1000+r), 4096)
				pg := int64(r % pagesEach)
				if _, err := f.WriteAt(page, base+pg*4096); err != nil {
					errs <- err
					return
				}
				got := make([]byte, 4096)
				if _, err := f.ReadAt(got, base+pg*4096); err != nil && err != io.EOF {
					errs <- err
					return
				}
				if !bytes.Equal(got, page) {
					errs <- errors.New("concurrent read saw another worker's bytes")
					return
				}
				reqs := make([]ioback.Read, pagesEach)
				for i := range reqs {
					reqs[i] = ioback.Read{P: make([]byte, 4096), Off: base + int64(i)*4096}
				}
				if err := f.ReadBatch(reqs); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(reqs[pg].P, page) {
					errs <- errors.New("concurrent batch saw another worker's bytes")
					return
				}
				if r%10 == 0 {
					if err := f.Sync(); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func testCloseWhileReading(t *testing.T, c Config) {
	fsys, dir := c.New(t)
	name := filepath.Join(dir, "close.db")
	w := open(t, fsys, name, ioback.OpenCreate)
	mustWrite(t, w, pattern(11, 64*4096), 0)
	f, err := fsys.Open(name, 0)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var reads atomic.Int64
	started := make(chan struct{})
	var once sync.Once
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := make([]byte, 4096)
			for i := 0; ; i++ {
				var err error
				off := int64(i%64) * 4096
				switch g % 3 {
				case 0:
					_, err = f.ReadAt(p, off)
				case 1:
					err = f.ReadBatch([]ioback.Read{{P: p[:2048], Off: 0}, {P: p[2048:], Off: off}})
				case 2: // one range: a vectored read
					err = f.ReadBatch([]ioback.Read{{P: p[:2048], Off: off}, {P: p[2048:], Off: off + 2048}})
				}
				if err != nil {
					if !errors.Is(err, fs.ErrClosed) {
						t.Errorf("read after close: %v, want an error matching fs.ErrClosed", err)
					}
					return
				}
				if reads.Add(1) == 50 {
					once.Do(func() { close(started) })
				}
			}
		}()
	}
	<-started
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	if err := f.Close(); err == nil {
		t.Fatal("second Close succeeded")
	}
	if _, err := f.Size(); !errors.Is(err, fs.ErrClosed) {
		t.Fatalf("Size after Close: %v", err)
	}
	testEveryCallAfterClose(t, w)
}

// testEveryCallAfterClose closes f and checks that each of its methods then
// fails with an error matching fs.ErrClosed, as File's contract says.
func testEveryCallAfterClose(t *testing.T, f ioback.File) {
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	p := make([]byte, 4096)
	calls := map[string]func() error{
		"ReadAt":  func() error { _, err := f.ReadAt(p, 0); return err },
		"WriteAt": func() error { _, err := f.WriteAt(p, 0); return err },
		"ReadBatch": func() error {
			return f.ReadBatch([]ioback.Read{{P: p[:10], Off: 0}, {P: p[10:20], Off: 4096}})
		},
		"ReadBatch of one range": func() error {
			return f.ReadBatch([]ioback.Read{{P: p[:10], Off: 0}, {P: p[10:20], Off: 10}})
		},
		"WritevAt": func() error { return f.WritevAt([][]byte{p[:10], p[10:20]}, 0) },
		"Sync":     f.Sync,
		"Truncate": func() error { return f.Truncate(0) },
		"Size":     func() error { _, err := f.Size(); return err },
		"Allocate": func() error { return f.Allocate(0, 4096) },
		"Lock":     func() error { return f.Lock(0, 1, true) },
		"Unlock":   func() error { return f.Unlock(0, 1) },
		"ID":       func() error { _, err := f.ID(); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, fs.ErrClosed) {
			t.Errorf("%s after Close: %v, want an error matching fs.ErrClosed", name, err)
		}
	}
}

func testErrorsNameFile(t *testing.T, c Config) {
	fsys, dir := c.New(t)
	name := filepath.Join(dir, "named.db")
	f, err := fsys.Open(name, ioback.OpenCreate)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = f.ReadAt(make([]byte, 10), 4096)
	if err == nil || !strings.Contains(err.Error(), "named.db") || !strings.HasPrefix(err.Error(), "ioback: ") {
		t.Fatalf("error %q does not name the file", err)
	}
	_, err = fsys.Open(filepath.Join(dir, "nope.db"), 0)
	if err == nil || !strings.Contains(err.Error(), "nope.db") {
		t.Fatalf("error %q does not name the file", err)
	}
}
