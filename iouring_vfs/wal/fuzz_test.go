package wal

import (
	"bytes"
	"errors"
	"testing"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
)

// validLog returns the bytes of a log of a few commits with 512-byte pages.
func validLog(f *testing.F) []byte {
	fs := ioback.NewMemFS()
	db, _ := fs.Open("/db", ioback.OpenCreate)
	w, _ := fs.Open("/db-wal", ioback.OpenCreate)
	l, err := Open(db, w, Options{})
	if err != nil {
		f.Fatal(err)
	}
	for i := range 4 {
		pages := []Page{{No: 1, Data: page(512, 1, i)}, {No: PageNo(2 + i), Data: page(512, PageNo(2+i), i)}}
		if _, err := l.Commit(pages, uint32(2+i), false); err != nil {
			f.Fatal(err)
		}
	}
	l.Close()
	sz, _ := w.Size()
	b := make([]byte, sz)
	w.ReadAt(b, 0)
	return b
}

// FuzzRecover feeds corrupted logs to recovery: it never panics, fails only
// with ErrCorrupt, and whatever it recovers reads back without error.
func FuzzRecover(f *testing.F) {
	good := validLog(f)
	f.Add(good, uint16(0), byte(0))
	f.Add(good, uint16(40), byte(1))
	f.Add(good[:len(good)-100], uint16(0), byte(0))
	f.Add([]byte{}, uint16(0), byte(0))
	f.Fuzz(func(t *testing.T, log []byte, at uint16, flip byte) {
		if len(log) > 1<<20 {
			return
		}
		log = append([]byte(nil), log...)
		if int(at) < len(log) {
			log[at] ^= flip
		}
		fs := ioback.NewMemFS()
		db, _ := fs.Open("/db", ioback.OpenCreate)
		w, _ := fs.Open("/db-wal", ioback.OpenCreate)
		w.WriteAt(log, 0)
		l, err := Open(db, w, Options{})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("recovery failed with %v, not ErrCorrupt", err)
			}
			return
		}
		v := l.Durable()
		ps := l.PageSize()
		if ps == 0 {
			return
		}
		buf := make([]byte, ps)
		for p := PageNo(1); uint32(p) <= l.Size(v) && p < 1000; p++ {
			if _, err := l.ReadPage(p, v, buf); err != nil {
				t.Fatalf("read page %d of a recovered log: %v", p, err)
			}
		}
		// A recovered log accepts new commits, and recovers them again:
		// the newest version is the new commit, with nothing after it.
		size := max(l.Size(v), 1)
		one := make([]byte, ps)
		one[0] = 0xa5
		if _, err := l.Commit([]Page{{No: 1, Data: one}}, size, false); err != nil {
			t.Fatalf("commit after recovery: %v", err)
		}
		commits := l.Stats().Frames
		l.Close()
		l, err = Open(db, w, Options{})
		if err != nil {
			t.Fatalf("reopen after a commit: %v", err)
		}
		defer l.Close()
		v = l.Durable()
		if got, _ := l.ReadPage(1, v, buf); !got || !bytes.Equal(buf, one) || l.Size(v) != size || l.Stats().Frames != commits {
			t.Fatalf("reopened after a commit: page 1 in log %v, size %d (want %d), %d frames (want %d)", got, l.Size(v), size, l.Stats().Frames, commits)
		}
	})
}
