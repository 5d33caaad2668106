package iofault_test

import (
	"bytes"
	"errors"
	"io/fs"
	"testing"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
	"github.com/golibsql/libsql/iouring_vfs/iofault"
)

func page(b byte) []byte { return bytes.Repeat([]byte{b}, 4096) }

func readAll(t *testing.T, fsys ioback.FS, name string) ([]byte, bool) {
	t.Helper()
	f, err := fsys.Open(name, ioback.OpenReadOnly)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	size, _ := f.Size()
	b := make([]byte, size)
	f.ReadAt(b, 0)
	return b, true
}

// TestCrashKeepsSynced: whatever the seed, synced data survives; unsynced
// data survives for some seeds and not for others; old handles are dead.
func TestCrashKeepsSynced(t *testing.T) {
	var kept, lost, torn int
	for seed := range uint64(200) {
		c := iofault.NewCrashFS(seed)
		f, err := c.Open("/db/x.db", ioback.OpenCreate)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteAt(page(1), 0)
		f.WriteAt(page(2), 4096)
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		f.WriteAt(page(3), 4096) // unsynced overwrite
		f.WriteAt(page(4), 8192) // unsynced append
		after := c.Crash()

		if _, err := f.WriteAt(page(9), 0); !errors.Is(err, iofault.ErrCrashed) {
			t.Fatalf("seed %d: old handle write: %v", seed, err)
		}
		if _, err := f.ReadAt(make([]byte, 1), 0); !errors.Is(err, iofault.ErrCrashed) {
			t.Fatalf("seed %d: old handle read: %v", seed, err)
		}
		if _, err := c.Open("/db/x.db", 0); !errors.Is(err, iofault.ErrCrashed) {
			t.Fatalf("seed %d: old FS open: %v", seed, err)
		}

		img, ok := readAll(t, after, "/db/x.db")
		if !ok || len(img) < 8192 {
			t.Fatalf("seed %d: synced file lost or shortened (%d bytes)", seed, len(img))
		}
		if !bytes.Equal(img[:4096], page(1)) {
			t.Fatalf("seed %d: synced page 0 changed", seed)
		}
		p1 := img[4096:8192]
		for s := 0; s < 4096; s += 512 {
			if sec := p1[s : s+512]; !bytes.Equal(sec, page(2)[:512]) && !bytes.Equal(sec, page(3)[:512]) {
				t.Fatalf("seed %d: page 1 sector %d is neither the synced nor the new data", seed, s)
			}
		}
		switch {
		case bytes.Equal(p1, page(3)):
			kept++
		case bytes.Equal(p1, page(2)):
			lost++
		default:
			torn++
		}
	}
	if kept == 0 || lost == 0 || torn == 0 {
		t.Fatalf("unsynced overwrite over 200 seeds: kept %d, lost %d, torn %d; want all three", kept, lost, torn)
	}
}

func TestCrashNames(t *testing.T) {
	var created, notCreated int
	for seed := range uint64(100) {
		c := iofault.NewCrashFS(seed)
		// a: created and synced — always there.
		a, _ := c.Open("/d/a", ioback.OpenCreate)
		a.WriteAt([]byte("a"), 0)
		a.Sync()
		// b: created, dir synced, never written — always there, empty.
		b, _ := c.Open("/d/b", ioback.OpenCreate)
		b.Close()
		c.SyncDir("/d")
		// gone: synced, removed, dir synced — never there.
		g, _ := c.Open("/d/gone", ioback.OpenCreate)
		g.Sync()
		g.Close()
		c.Remove("/d/gone")
		c.SyncDir("/d")
		// maybe: created, not synced — sometimes there.
		m, _ := c.Open("/d/maybe", ioback.OpenCreate)
		m.WriteAt([]byte("m"), 0)
		// removed: synced, removed without SyncDir — either way.
		r, _ := c.Open("/e/removed", ioback.OpenCreate)
		r.WriteAt([]byte("r"), 0)
		r.Sync()
		c.Remove("/e/removed")

		after := c.Crash()
		if img, ok := readAll(t, after, "/d/a"); !ok || string(img) != "a" {
			t.Fatalf("seed %d: synced new file: %q %v", seed, img, ok)
		}
		if img, ok := readAll(t, after, "/d/b"); !ok || len(img) != 0 {
			t.Fatalf("seed %d: dir-synced file: %q %v", seed, img, ok)
		}
		if _, ok := readAll(t, after, "/d/gone"); ok {
			t.Fatalf("seed %d: durably removed file came back", seed)
		}
		if img, ok := readAll(t, after, "/e/removed"); ok && string(img) != "r" {
			t.Fatalf("seed %d: un-removed file has %q", seed, img)
		}
		if _, ok := readAll(t, after, "/d/maybe"); ok {
			created++
		} else {
			notCreated++
		}
		// The new incarnation works and crashes again.
		x, err := after.Open("/d/a", 0)
		if err != nil {
			t.Fatal(err)
		}
		x.WriteAt([]byte("A"), 0)
		x.Sync()
		again := after.Crash()
		if img, _ := readAll(t, again, "/d/a"); string(img) != "A" {
			t.Fatalf("seed %d: second crash lost synced write: %q", seed, img)
		}
	}
	if created == 0 || notCreated == 0 {
		t.Fatalf("unsynced creation: survived %d, lost %d; want both", created, notCreated)
	}
}

func TestCrashDeterministic(t *testing.T) {
	run := func(seed uint64) []byte {
		c := iofault.NewCrashFS(seed)
		f, _ := c.Open("x", ioback.OpenCreate)
		for i := range 20 {
			f.WriteAt(bytes.Repeat([]byte{byte(i + 1)}, 1500), int64(i*700))
			if i == 5 {
				f.Sync()
			}
			if i == 12 {
				f.Truncate(3000)
			}
		}
		img, _ := readAll(t, c.Crash(), "x")
		return img
	}
	for seed := range uint64(10) {
		if !bytes.Equal(run(seed), run(seed)) {
			t.Fatalf("seed %d: two runs crashed differently", seed)
		}
	}
	if bytes.Equal(run(1), run(2)) && bytes.Equal(run(2), run(3)) {
		t.Fatal("seeds 1, 2, 3 crash identically")
	}
}
