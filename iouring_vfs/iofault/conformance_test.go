package iofault_test

import (
	"os"
	"testing"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
	"github.com/golibsql/libsql/iouring_vfs/ioback/iobacktest"
	"github.com/golibsql/libsql/iouring_vfs/iofault"
)

// The wrappers in pass-through mode must behave like any backend.

func TestConformanceFaultMem(t *testing.T) {
	iobacktest.Run(t, iobacktest.Config{
		New: func(t *testing.T) (ioback.FS, string) { return iofault.NewFaultFS(ioback.NewMemFS()), "mem" },
	})
}

func TestConformanceFaultPortable(t *testing.T) {
	iobacktest.Run(t, iobacktest.Config{
		New:  func(t *testing.T) (ioback.FS, string) { return iofault.NewFaultFS(ioback.Portable()), t.TempDir() },
		Link: os.Link,
	})
}

func TestConformanceCrash(t *testing.T) {
	iobacktest.Run(t, iobacktest.Config{
		New: func(t *testing.T) (ioback.FS, string) { return iofault.NewCrashFS(1), "/db" },
	})
}
