package ioback

import (
	"errors"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"
)

// io_uring setup that fails for want of descriptors is tried again by the
// next New: a process out of descriptors for a moment at start-up stayed
// on portable I/O for good, and every io=uring open failed from then on.
// A lasting refusal is kept.
func TestUringSetupRetriedAfterATransientError(t *testing.T) {
	testPool(t) // io_uring works here
	g := &uringGlobal
	g.mu.Lock()
	savedPool, savedErr := g.pool, g.err
	g.pool, g.err = nil, nil
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.pool, g.err = savedPool, savedErr
		g.mu.Unlock()
		setupRingPool = newRingPool
	}()
	var lines []string
	defer func(old func(string, ...any)) { Logf = old }(Logf)
	Logf = func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }

	setupRingPool = func() (*ringPool, error) {
		return nil, fmt.Errorf("%w: %w", ErrNoUring, &opError{op: "io_uring_setup", name: "ring", err: unix.EMFILE})
	}
	if _, err := New(KindUring); !errors.Is(err, ErrNoUring) || !errors.Is(err, ErrUringRetryable) || !errors.Is(err, unix.EMFILE) {
		t.Fatalf("New(uring) out of descriptors: %v", err)
	}
	fsys, err := New(KindAuto)
	if err != nil || Describe(fsys) != "portable" || len(lines) != 1 {
		t.Fatalf("New(auto) out of descriptors: %v %v, log %q", Describe(fsys), err, lines)
	}

	setupRingPool = newRingPool
	fsys, err = New(KindUring)
	if err != nil || Describe(fsys) != "uring" {
		t.Fatalf("New(uring) once descriptors are free again: %v %v", fsys, err)
	}
	g.mu.Lock()
	if g.pool != nil {
		for _, r := range g.pool.rings {
			r.close()
		}
	}
	g.pool, g.err = nil, nil
	g.mu.Unlock()

	setupRingPool = func() (*ringPool, error) {
		return nil, fmt.Errorf("%w: %w", ErrNoUring, unix.EPERM)
	}
	if _, err := New(KindUring); !errors.Is(err, unix.EPERM) || errors.Is(err, ErrUringRetryable) {
		t.Fatalf("New(uring) refused: %v", err)
	}
	setupRingPool = newRingPool
	if _, err := New(KindUring); !errors.Is(err, unix.EPERM) {
		t.Fatalf("a lasting refusal was not kept: %v", err)
	}
}
