package ioback_test

import (
	"os"
	"testing"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
	"github.com/golibsql/libsql/iouring_vfs/ioback/iobacktest"
)

func TestConformancePortable(t *testing.T) {
	iobacktest.Run(t, iobacktest.Config{
		New:  func(t *testing.T) (ioback.FS, string) { return ioback.Portable(), t.TempDir() },
		Link: os.Link,
	})
}

func TestConformanceMem(t *testing.T) {
	iobacktest.Run(t, iobacktest.Config{
		New: func(t *testing.T) (ioback.FS, string) { return ioback.NewMemFS(), "mem" },
	})
}
