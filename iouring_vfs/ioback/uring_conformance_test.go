package ioback_test

import (
	"errors"
	"os"
	"testing"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
	"github.com/golibsql/libsql/iouring_vfs/ioback/iobacktest"
)

// uringFS returns the io_uring backend or skips the test where the kernel
// (or the OS) does not offer it.
func uringFS(t testing.TB) ioback.FS {
	fsys, err := ioback.New(ioback.KindUring)
	if err != nil {
		if errors.Is(err, ioback.ErrNoUring) {
			t.Skipf("io_uring backend unavailable: %v", err)
		}
		t.Fatal(err)
	}
	return fsys
}

func TestConformanceUring(t *testing.T) {
	uringFS(t)
	cfg := iobacktest.Config{
		New:  func(t *testing.T) (ioback.FS, string) { return uringFS(t), t.TempDir() },
		Link: os.Link,
	}
	t.Run("pread", func(t *testing.T) { iobacktest.Run(t, cfg) })
	t.Run("ring", func(t *testing.T) {
		defer ioback.RingSingleReadsForTesting(true)()
		iobacktest.Run(t, cfg)
	})
}
