package iofault_test

import (
	"bytes"
	"errors"
	"io"
	"syscall"
	"testing"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
	"github.com/golibsql/libsql/iouring_vfs/iofault"
)

// workload touches every kind of operation once or more and returns the
// first error.
func workload(fsys ioback.FS) error {
	f, err := fsys.Open("db", ioback.OpenCreate)
	if err != nil {
		return err
	}
	page := bytes.Repeat([]byte{0xab}, 4096)
	steps := []func() error{
		func() error { return f.Lock(0, 1, true) },
		func() error { _, err := f.WriteAt(page, 0); return err },
		func() error { return f.WritevAt([][]byte{page[:24], page}, 4096) },
		func() error { return f.Allocate(0, 1<<16) },
		func() error { return f.Sync() },
		func() error { _, err := f.ReadAt(make([]byte, 4096), 0); return err },
		func() error { return f.ReadBatch([]ioback.Read{{P: make([]byte, 10), Off: 0}}) },
		func() error { _, err := f.Size(); return err },
		func() error { _, err := f.ID(); return err },
		func() error { return f.Truncate(4096) },
		func() error { return f.Unlock(0, 1) },
		func() error { _, _, err := fsys.Stat("db"); return err },
		func() error { return fsys.SyncDir(".") },
		func() error {
			g, err := fsys.Open("tmp", ioback.OpenCreate)
			if err != nil {
				return err
			}
			if err := g.Close(); err != nil {
				return err
			}
			return fsys.Remove("tmp")
		},
	}
	for _, s := range steps {
		if err := s(); err != nil && err != io.EOF {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// TestSweep fails operation i for i = 0, 1, … with every fault until the
// workload runs clean, and requires each injected error to reach the
// caller.
func TestSweep(t *testing.T) {
	for _, fault := range []iofault.Fault{iofault.EIO, iofault.ENOSPC, iofault.ShortWrite, iofault.TornWrite} {
		clean := iofault.NewFaultFS(ioback.NewMemFS())
		if err := workload(clean); err != nil {
			t.Fatalf("clean run: %v", err)
		}
		total := clean.Ops()
		for i := 0; ; i++ {
			ffs := iofault.NewFaultFS(ioback.NewMemFS())
			ffs.FailAt(i, fault)
			err := workload(ffs)
			if !ffs.Fired() {
				if err != nil {
					t.Fatalf("%v: unarmed run %d failed: %v", fault, i, err)
				}
				if i != total {
					t.Fatalf("%v: sweep ended at %d, workload has %d ops", fault, i, total)
				}
				break
			}
			var ie *iofault.InjectedError
			if !errors.As(err, &ie) {
				t.Fatalf("%v at op %d: workload returned %v", fault, i, err)
			}
			want := syscall.EIO
			if fault == iofault.ENOSPC || fault == iofault.ShortWrite {
				want = syscall.ENOSPC
			}
			if !errors.Is(err, want) || ie.Fault != fault {
				t.Fatalf("%v at op %d: %v", fault, i, err)
			}
		}
	}
}

func TestShortAndTornWrites(t *testing.T) {
	data := make([]byte, 8192)
	for i := range data {
		data[i] = byte(i%251) + 1
	}
	for seed := range uint64(20) {
		mem := ioback.NewMemFS()
		ffs := iofault.NewFaultFS(mem)
		f, _ := ffs.Open("x", ioback.OpenCreate)
		ffs.Arm(iofault.Rule{Match: func(op iofault.Op) bool { return op.Kind == iofault.OpWriteAt }, Fault: iofault.ShortWrite, Seed: seed})
		n, err := f.WriteAt(data, 100)
		if !errors.Is(err, syscall.ENOSPC) || n <= 0 || n >= len(data) {
			t.Fatalf("short write = %d, %v", n, err)
		}
		size, _ := f.Size()
		if size != 100+int64(n) {
			t.Fatalf("short write of %d left size %d", n, size)
		}
		got := make([]byte, n)
		f.ReadAt(got, 100)
		if !bytes.Equal(got, data[:n]) {
			t.Fatal("short write prefix differs")
		}

		ffs.Arm(iofault.Rule{Match: func(op iofault.Op) bool { return op.Kind == iofault.OpWritevAt }, Fault: iofault.TornWrite, Seed: seed})
		if err := f.Truncate(0); err != nil {
			t.Fatal(err)
		}
		err = f.WritevAt([][]byte{data[:4000], data[4000:]}, 0)
		if !errors.Is(err, syscall.EIO) {
			t.Fatalf("torn write: %v", err)
		}
		got = make([]byte, len(data))
		f.ReadAt(got, 0)
		for s := 0; s < len(data); s += 512 {
			sec := got[s:min(s+512, len(data))]
			if !bytes.Equal(sec, data[s:s+len(sec)]) && !bytes.Equal(sec, make([]byte, len(sec))) {
				t.Fatalf("torn write sector at %d is neither old nor new", s)
			}
		}
		f.Close()
	}
}

func TestFailMatchingAndSticky(t *testing.T) {
	ffs := iofault.NewFaultFS(ioback.NewMemFS())
	f, _ := ffs.Open("wal", ioback.OpenCreate)
	isSync := func(op iofault.Op) bool { return op.Kind == iofault.OpSync && op.Name == "wal" }
	ffs.FailMatching(2, isSync, iofault.EIO)
	for i := range 5 {
		f.WriteAt([]byte("x"), int64(i))
		err := f.Sync()
		if (i == 2) != (err != nil) {
			t.Fatalf("sync %d: %v", i, err)
		}
	}
	if ffs.Matched() != 5 || ffs.FiredCount() != 1 {
		t.Fatalf("matched %d, fired %d", ffs.Matched(), ffs.FiredCount())
	}
	ffs.Arm(iofault.Rule{N: 1, Match: isSync, Fault: iofault.EIO, Sticky: true})
	var fails int
	for range 5 {
		if f.Sync() != nil {
			fails++
		}
	}
	if fails != 4 || ffs.FiredCount() != 4 {
		t.Fatalf("sticky: %d failures, fired %d", fails, ffs.FiredCount())
	}
	ffs.Disarm()
	if err := f.Sync(); err != nil {
		t.Fatalf("disarmed: %v", err)
	}
	if ops := ffs.Ops(); ops != 1+5*2+5+1 {
		t.Fatalf("Ops() = %d", ops)
	}
	// A failed Close still closes.
	ffs.FailMatching(0, func(op iofault.Op) bool { return op.Kind == iofault.OpClose }, iofault.EIO)
	if err := f.Close(); !iofault.IsInjected(err) {
		t.Fatalf("Close: %v", err)
	}
	if _, err := f.Size(); err == nil {
		t.Fatal("file still open after injected Close error")
	}
	if s := (iofault.Op{Kind: iofault.OpWriteAt, Name: "x", Off: 4096, Len: 10}).String(); s != "WriteAt x off=4096 len=10" {
		t.Fatalf("Op.String() = %q", s)
	}
}
