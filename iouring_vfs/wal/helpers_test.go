package wal

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
)

// backend is a file system every log test runs on.
type backend struct {
	name string
	fs   ioback.FS
	dir  func(t *testing.T) string
}

// backends lists the file systems under test: io_uring (where the kernel
// allows it), portable, and in-memory.
func backends(t *testing.T) []backend {
	t.Helper()
	var bs []backend
	if fs, err := ioback.New(ioback.KindUring); err == nil {
		bs = append(bs, backend{"uring", fs, func(t *testing.T) string { return t.TempDir() }})
	} else {
		t.Logf("io_uring backend unavailable: %v", err)
	}
	bs = append(bs, backend{"portable", ioback.Portable(), func(t *testing.T) string { return t.TempDir() }})
	bs = append(bs, backend{"mem", ioback.NewMemFS(), func(t *testing.T) string { return "/" }})
	return bs
}

// forEachBackend runs f as a subtest on every backend.
func forEachBackend(t *testing.T, f func(t *testing.T, fs ioback.FS, dir string)) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) { f(t, b.fs, b.dir(t)) })
	}
}

// files opens (creating) the database and log files name and name-wal.
func files(t *testing.T, fs ioback.FS, dir, name string) (db, w ioback.File) {
	t.Helper()
	p := filepath.Join(dir, name)
	db, err := fs.Open(p, ioback.OpenCreate)
	if err != nil {
		t.Fatal(err)
	}
	w, err = fs.Open(p+"-wal", ioback.OpenCreate)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	return db, w
}

// testLog is a log with its files, closed at cleanup.
type testLog struct {
	*Log
	db, w ioback.File
}

func openLog(t *testing.T, fs ioback.FS, dir, name string, opts Options) *testLog {
	t.Helper()
	db, w := files(t, fs, dir, name)
	l, err := Open(db, w, opts)
	if err != nil {
		db.Close()
		w.Close()
		t.Fatal(err)
	}
	tl := &testLog{l, db, w}
	t.Cleanup(tl.close)
	return tl
}

func (tl *testLog) close() {
	if tl.Log == nil {
		return
	}
	tl.Log.Close()
	tl.db.Close()
	tl.w.Close()
	tl.Log = nil
}

// page returns a page of size ps whose bytes are derived from (p, gen), so
// any page's expected content can be recomputed.
func page(ps int, p PageNo, gen int) []byte {
	b := make([]byte, ps)
	r := rand.New(rand.NewPCG(uint64(p), uint64(gen)))
	for i := 0; i+8 <= ps; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	binary.BigEndian.PutUint32(b, uint32(p))
	binary.BigEndian.PutUint32(b[4:], uint32(gen))
	if p == 1 {
		// Page 1 carries the page size where SQLite's header does, so an
		// empty log over the main file learns it from there.
		ps16 := uint16(ps)
		if ps == 65536 {
			ps16 = 1
		}
		binary.BigEndian.PutUint16(b[16:], ps16)
	}
	return b
}

// model is the expected database: page contents by version.
type model struct {
	ps       int
	versions []Version
	states   []map[PageNo]int // page -> gen, per version
	sizes    []uint32
}

func newModel(ps int, base Version) *model {
	return &model{ps: ps, versions: []Version{base}, states: []map[PageNo]int{{}}, sizes: []uint32{0}}
}

func (m *model) commit(v Version, changes map[PageNo]int, size uint32) {
	st := make(map[PageNo]int, len(m.states[len(m.states)-1])+len(changes))
	for p, g := range m.states[len(m.states)-1] {
		if uint32(p) <= size {
			st[p] = g
		}
	}
	for p, g := range changes {
		st[p] = g
	}
	m.versions = append(m.versions, v)
	m.states = append(m.states, st)
	m.sizes = append(m.sizes, size)
}

// check verifies every page of state i as the log reads it at version v.
func (m *model) check(t *testing.T, l *Log, i int) {
	t.Helper()
	v := m.versions[i]
	if got := l.Size(v); got != m.sizes[i] {
		t.Fatalf("size at %v = %d, want %d", v, got, m.sizes[i])
	}
	buf := make([]byte, m.ps)
	for p := PageNo(1); uint32(p) <= m.sizes[i]; p++ {
		found, err := l.ReadPage(p, v, buf)
		if err != nil {
			t.Fatalf("read page %d at %v: %v", p, v, err)
		}
		g, ok := m.states[i][p]
		if !ok {
			continue
		}
		if !found || !bytes.Equal(buf, page(m.ps, p, g)) {
			t.Fatalf("page %d at %v: found=%v, content %s, want gen %d", p, v, found, describe(buf), g)
		}
	}
}

func describe(b []byte) string {
	if len(b) < 8 {
		return fmt.Sprintf("%x", b)
	}
	return fmt.Sprintf("(p=%d gen=%d)", binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:]))
}

// commitPages commits the pages of changes at their generations.
func commitPages(t *testing.T, l *Log, ps int, changes map[PageNo]int, size uint32, sync bool) Version {
	t.Helper()
	pages := make([]Page, 0, len(changes))
	for p, g := range changes {
		pages = append(pages, Page{No: p, Data: page(ps, p, g)})
	}
	v, err := l.Commit(pages, size, sync)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
