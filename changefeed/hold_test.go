package changefeed

import (
	"errors"
	"testing"
)

// A stream of SubscribeHolding releases what it holds once, at its first
// Close, and reports the release's error; a failed subscription releases
// nothing.
func TestSubscribeHoldingReleasesOnce(t *testing.T) {
	h := NewHub(HubOptions{})
	n := 0
	errRelease := errors.New("release failed")
	s, err := h.SubscribeHolding(Options{}, func() error { n++; return errRelease })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); !errors.Is(err, errRelease) {
		t.Fatalf("first Close: %v, want the release's error", err)
	}
	if err := s.Close(); err != nil || n != 1 {
		t.Fatalf("second Close: %v, %d releases", err, n)
	}
	if _, err := h.SubscribeHolding(Options{Buffer: -1}, func() error { n++; return nil }); err == nil || n != 1 {
		t.Fatalf("invalid options: %v, %d releases", err, n)
	}
	h.Close()
	if _, err := h.SubscribeHolding(Options{}, func() error { n++; return nil }); !errors.Is(err, ErrClosed) || n != 1 {
		t.Fatalf("closed hub: %v, %d releases", err, n)
	}
}
