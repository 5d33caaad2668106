package capi

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestWriteBlob: WriteBlob fills a zeroblob a chunk at a time, across
// chunk boundaries; a short source, a missing row, a size the row does not
// have and a negative one fail.
func TestWriteBlob(t *testing.T) {
	c := openMem(t, t.Name())
	if err := c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)"); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 3*blobChunk+17)
	for i := range want {
		want[i] = byte(i*7 + i/blobChunk)
	}
	if err := c.Exec("INSERT INTO t VALUES (1, zeroblob(196625))"); err != nil {
		t.Fatal(err)
	}
	if len(want) != 196625 {
		t.Fatalf("test data of %d bytes", len(want))
	}
	read := func() []byte {
		t.Helper()
		s, _, err := c.Prepare("SELECT b FROM t WHERE id = 1", 0)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Finalize()
		if row, err := s.Step(); !row || err != nil {
			t.Fatal(row, err)
		}
		return bytes.Clone(Value(s.Column(0)).([]byte))
	}
	if err := c.WriteBlob("main", "t", "b", 1, int64(len(want)), bytes.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(read(), want) {
		t.Fatal("the blob read back differs from what was written")
	}

	err := c.WriteBlob("main", "t", "b", 1, int64(len(want)), bytes.NewReader(want[:blobChunk+1]))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short source: %v, want io.ErrUnexpectedEOF", err)
	}
	if err := c.WriteBlob("main", "t", "b", 2, 1, strings.NewReader("x")); err == nil || !strings.Contains(err.Error(), "no such rowid") {
		t.Fatalf("missing row: %v", err)
	}
	if err := c.WriteBlob("main", "t", "b", 1, int64(len(want))+1, bytes.NewReader(append(want, 0))); err == nil {
		t.Fatal("writing past the blob's size succeeded")
	}
	if err := c.WriteBlob("main", "t", "b", 1, -1, nil); err == nil {
		t.Fatal("a negative size succeeded")
	}
}
