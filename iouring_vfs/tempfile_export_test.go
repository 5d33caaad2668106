package iouringvfs

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// TestTempFileExported: the driver's TempFile reads back what it wrote,
// in memory and after it moved to disk, refuses reads past its end, and
// gives its memory back at Truncate(0) and Close.
func TestTempFileExported(t *testing.T) {
	t.Setenv("SQLITE_TMPDIR", t.TempDir())
	defer SetTempMemoryForTesting(2*tempChunk, 1<<30)()
	mem0, spills0 := tempMem.Load(), tempSpills.Load()
	f := NewTempFile()
	var want []byte
	for i := range 5 {
		p := bytes.Repeat([]byte{byte('a' + i)}, tempChunk/2+7)
		if err := f.WriteAt(p, f.Size()); err != nil {
			t.Fatal(err)
		}
		want = append(want, p...)
		got := make([]byte, len(want))
		if err := f.ReadAt(got, 0); err != nil {
			t.Fatalf("after write %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("after write %d: read back differs", i)
		}
	}
	if tempSpills.Load() == spills0 {
		t.Fatal("the file never moved to disk: the test checks less than it means to")
	}
	if err := f.ReadAt(make([]byte, 2), f.Size()-1); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("read past the end: %v, want io.ErrUnexpectedEOF", err)
	}
	if err := f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteAt([]byte("again"), 0); err != nil {
		t.Fatal(err)
	}
	if tempMem.Load() == mem0 {
		t.Fatal("after Truncate(0), a write does not start over in memory")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if m := tempMem.Load(); m != mem0 {
		t.Fatalf("after Close, temporary files hold %d bytes, %d before", m, mem0)
	}
}
