package iouringvfs

import (
	"strings"
	"testing"

	"github.com/golibsql/libsql/internal/capi"
	"github.com/golibsql/libsql/iouring_vfs/ioback"
)

func newReview20VFS() *VFS {
	return &VFS{engines: map[any]*Engine{}, changing: map[any]chan struct{}{}, fss: map[ioback.Kind]ioback.FS{}, mems: map[string]ioback.FS{}}
}

// TestReview20MemEngineImage: at the VFS, an image loads when the engine is
// created and leaves the registry; the same id later (engine closed) fails
// to open; another image for an open name fails and keeps its image for its
// owner to release; an image for a file fails; a bad image creates no
// engine, so the name opens empty afterwards.
func TestReview20MemEngineImage(t *testing.T) {
	image := make([]byte, 1024)
	copy(image, sqliteMagic)
	image[16], image[17] = 2, 0
	params := func(kv map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { s, ok := kv[k]; return s, ok }
	}
	const flags = capi.OPEN_MAIN_DB | capi.OPEN_READWRITE | capi.OPEN_CREATE
	vv := newReview20VFS()
	id, release := RegisterImage(image)
	defer release()
	f, _, err := vv.Open("/libsql-memory/r20a", flags, params(map[string]string{ParamMemory: "1", ParamImage: id}))
	if err != nil {
		t.Fatal(err)
	}
	images.Lock()
	_, still := images.m[id]
	images.Unlock()
	if still {
		t.Fatal("the engine took the image, yet the registry keeps it")
	}
	if n, _ := f.(*File).e.db.Size(); n != 1024 {
		t.Fatalf("database file of %d bytes", n)
	}
	// A second open with the same id shares the engine.
	f2, _, err := vv.Open("/libsql-memory/r20a", flags, params(map[string]string{ParamMemory: "1", ParamImage: id}))
	if err != nil {
		t.Fatalf("same image id, engine open: %v", err)
	}
	// Another image for the open name.
	id2, release2 := RegisterImage(image)
	if _, _, err := vv.Open("/libsql-memory/r20a", flags, params(map[string]string{ParamMemory: "1", ParamImage: id2})); err == nil || !strings.Contains(err.Error(), "open already") {
		t.Fatalf("another image: %v", err)
	}
	images.Lock()
	_, kept := images.m[id2]
	images.Unlock()
	if !kept {
		t.Fatal("a refused image left the registry before its owner released it")
	}
	release2()
	f.Close()
	f2.Close()
	if _, _, err := vv.Open("/libsql-memory/r20a", flags, params(map[string]string{ParamMemory: "1", ParamImage: id})); err == nil || !strings.Contains(err.Error(), "no longer registered") {
		t.Fatalf("the image again after the engine closed: %v", err)
	}
	if _, _, err := vv.Open(t.TempDir()+"/f.db", flags, params(map[string]string{ParamImage: id})); err == nil {
		t.Fatal("an image for a file opened")
	}
	// A registered image made bad after registration: no engine is left.
	bad := append([]byte(nil), image...)
	id3, release3 := RegisterImage(bad)
	defer release3()
	bad[0] = 'X'
	if _, _, err := vv.Open("/libsql-memory/r20b", flags, params(map[string]string{ParamMemory: "1", ParamImage: id3})); err == nil {
		t.Fatal("a bad image loaded")
	}
	f3, _, err := vv.Open("/libsql-memory/r20b", flags, params(map[string]string{ParamMemory: "1"}))
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := f3.(*File).e.db.Size(); n != 0 {
		t.Fatalf("after a failed image load the name holds %d bytes", n)
	}
	f3.Close()
}
