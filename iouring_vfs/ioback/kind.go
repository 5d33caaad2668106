package ioback

import (
	"errors"
	"fmt"
	"log"
	"sync/atomic"
)

// Kind selects a backend for New.
type Kind int

const (
	// KindAuto (the zero value and the default) uses io_uring where the
	// kernel allows it and the portable backend otherwise, saying so once
	// through Logf.
	KindAuto Kind = iota
	// KindUring requires the io_uring backend; New fails where it is not
	// available.
	KindUring
	// KindPortable is the portable backend (Portable).
	KindPortable
)

// String returns the name ParseKind accepts: "auto", "uring" or "portable".
func (k Kind) String() string {
	switch k {
	case KindAuto:
		return "auto"
	case KindUring:
		return "uring"
	case KindPortable:
		return "portable"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// ParseKind parses "auto", "uring" or "portable" (the DSN's io= values).
// The empty string is KindAuto.
func ParseKind(s string) (Kind, error) {
	switch s {
	case "auto", "":
		return KindAuto, nil
	case "uring":
		return KindUring, nil
	case "portable":
		return KindPortable, nil
	}
	return 0, fmt.Errorf("ioback: unknown I/O backend %q (want uring, portable or auto)", s)
}

// ErrNoUring is matched (errors.Is) by the error New(KindUring) returns when
// io_uring cannot be used: not Linux, disabled by
// /proc/sys/kernel/io_uring_disabled, refused by a seccomp filter or
// container runtime (EPERM, ENOSYS), out of locked memory (ENOMEM), or a
// kernel too old for the operations we use (EINVAL).
var ErrNoUring = errors.New("ioback: io_uring is not available")

// ErrUringRetryable is matched, beside ErrNoUring, when io_uring could not
// be set up for want of a resource that may be free again soon (the
// process or the system out of file descriptors): the next New tries
// again, and New(KindAuto) falls back to Portable for this call only.
var ErrUringRetryable = errors.New("ioback: io_uring setup may succeed later")

// Logf receives the one line New(KindAuto) logs when it falls back to the
// portable backend. It is log.Printf unless the application replaces it
// (before the first New).
var Logf = log.Printf

// fellBack is set once the fallback line has been logged: it is logged at
// most once per process, however many databases are opened.
var fellBack atomic.Bool

// failSetup, when non-nil, is the error io_uring setup fails with
// (FailSetupForTesting).
var failSetup atomic.Pointer[error]

// FailSetupForTesting makes New behave as if io_uring_setup failed with err
// (syscall.EPERM, say), and forgets that the fallback line was logged, until
// restore is called. It lets tests of the fallback path run on a kernel
// that has io_uring. Not for concurrent use with New.
func FailSetupForTesting(err error) (restore func()) {
	failSetup.Store(&err)
	fellBack.Store(false)
	return func() {
		failSetup.Store(nil)
		fellBack.Store(false)
	}
}

// ringSingleReads makes the io_uring backend's ReadAt (and a ReadBatch of
// one read) go through a ring instead of pread. It is off because on the
// machines we measured (Linux 6.18 under virtualisation; doc.go,
// BenchmarkWarmRead) one io_uring_enter costs about as much as a whole
// pread of a cached page, so a single read through the ring takes 1.6-2x
// the time of pread, with or without a registered file and fixed buffer,
// and a single cold read gains nothing from the ring either. Batches are
// another matter (ReadBatch).
var ringSingleReads atomic.Bool

// RingSingleReadsForTesting sets whether the io_uring backend sends single
// reads through a ring (see the variable ringSingleReads for why the
// default is pread), so tests and benchmarks can cover both paths, until
// restore is called.
func RingSingleReadsForTesting(on bool) (restore func()) {
	old := ringSingleReads.Swap(on)
	return func() { ringSingleReads.Store(old) }
}

// New returns the backend of the given kind. KindAuto tries io_uring and
// falls back to Portable when the kernel refuses it; KindUring returns that
// refusal as an error matching ErrNoUring. The io_uring backend's rings are
// shared by every FS New returns, so calling New per database is cheap.
func New(kind Kind) (FS, error) {
	switch kind {
	case KindPortable:
		return Portable(), nil
	case KindUring:
		return newUring()
	case KindAuto:
		fsys, err := newUring()
		if err == nil {
			return fsys, nil
		}
		if errors.Is(err, ErrUringRetryable) {
			Logf("%v; using portable I/O for this database", err)
		} else if uringExpected && fellBack.CompareAndSwap(false, true) {
			Logf("%v; using portable I/O", err)
		}
		return Portable(), nil
	}
	return nil, fmt.Errorf("ioback: unknown backend %v", kind)
}

// Describe names the backend of fs: "uring", "portable", "memory", or the
// Go type of a file system from elsewhere (a test's wrapper).
func Describe(fs FS) string {
	if n, ok := fs.(interface{ backendName() string }); ok {
		return n.backendName()
	}
	return fmt.Sprintf("%T", fs)
}
