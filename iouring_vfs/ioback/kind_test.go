package ioback_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
)

func TestParseKind(t *testing.T) {
	for _, k := range []ioback.Kind{ioback.KindAuto, ioback.KindUring, ioback.KindPortable} {
		got, err := ioback.ParseKind(k.String())
		if err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k.String(), got, err)
		}
	}
	if k, err := ioback.ParseKind(""); err != nil || k != ioback.KindAuto {
		t.Errorf(`ParseKind("") = %v, %v`, k, err)
	}
	if _, err := ioback.ParseKind("mmap"); err == nil || !strings.Contains(err.Error(), `"mmap"`) {
		t.Errorf("ParseKind(mmap): %v", err)
	}
	if _, err := ioback.New(ioback.Kind(42)); err == nil {
		t.Error("New(Kind(42)) succeeded")
	}
}

// TestFallback simulates a kernel that refuses io_uring_setup with EPERM
// (a seccomp filter, io_uring_disabled): explicit uring fails, auto falls
// back to the portable backend and logs one line, however often it is
// asked.
func TestFallback(t *testing.T) {
	restore := ioback.FailSetupForTesting(syscall.EPERM)
	defer restore()
	var lines []string
	oldLogf := ioback.Logf
	ioback.Logf = func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	defer func() { ioback.Logf = oldLogf }()

	_, err := ioback.New(ioback.KindUring)
	if !errors.Is(err, ioback.ErrNoUring) || !errors.Is(err, syscall.EPERM) {
		t.Fatalf("New(uring) = %v; want ErrNoUring wrapping EPERM", err)
	}
	for range 3 {
		fsys, err := ioback.New(ioback.KindAuto)
		if err != nil {
			t.Fatalf("New(auto): %v", err)
		}
		if fmt.Sprintf("%T", fsys) != fmt.Sprintf("%T", ioback.Portable()) {
			t.Fatalf("New(auto) gave %T, want the portable FS", fsys)
		}
	}
	if runtime.GOOS == "linux" {
		if len(lines) != 1 || !strings.Contains(lines[0], "operation not permitted") || !strings.Contains(lines[0], "portable") {
			t.Fatalf("logged %q; want one line naming the cause and the fallback", lines)
		}
	} else if len(lines) != 0 {
		t.Fatalf("logged %q on %s", lines, runtime.GOOS)
	}
	if fsys, err := ioback.New(ioback.KindPortable); err != nil || fsys == nil {
		t.Fatalf("New(portable) = %v, %v", fsys, err)
	}
}

func TestUringUnsupportedOS(t *testing.T) {
	if runtime.GOOS == "linux" {
		t.Skip("io_uring exists on linux")
	}
	_, err := ioback.New(ioback.KindUring)
	if !errors.Is(err, ioback.ErrNoUring) || !strings.Contains(err.Error(), runtime.GOOS) {
		t.Fatalf("New(uring) on %s = %v", runtime.GOOS, err)
	}
}
