//go:build !linux

package ioback

import (
	"fmt"
	"runtime"
)

// uringExpected is false where io_uring does not exist, so KindAuto falls
// back silently.
const uringExpected = false

func newUring() (FS, error) {
	if e := failSetup.Load(); e != nil {
		return nil, fmt.Errorf("%w: io_uring_setup: %w", ErrNoUring, *e)
	}
	return nil, fmt.Errorf("%w on %s", ErrNoUring, runtime.GOOS)
}
