package iouringvfs

import (
	"context"
	"testing"
	"time"
)

// A concurrent transaction that begins while capture starts either
// captures, or is waited for by EnableCapture: it never runs uncaptured
// once EnableCapture returned. The hook runs EnableCapture between
// ConcurrentBegins' look at "wanted" and its count of the transaction.
func TestConcurrentBeginRacingEnableCapture(t *testing.T) {
	c := openConn(t, dbPath(t), "")
	e := c.file.e
	enabled := make(chan error, 1)
	concurrentBeginsHook = func() {
		go func() {
			_, err := e.EnableCapture(context.Background(), time.Second, nil)
			enabled <- err
		}()
		// Correct code holds EnableCapture back until the transaction is
		// counted: the wait only bounds how long the test gives it.
		select {
		case err := <-enabled:
			enabled <- err
		case <-time.After(100 * time.Millisecond):
		}
	}
	capture := e.ConcurrentBegins()
	concurrentBeginsHook = nil
	if !capture && e.Capturing() {
		t.Fatal("a concurrent transaction began uncaptured, and capture is on while it runs")
	}
	if !capture {
		e.ConcurrentEnds()
	}
	if err := <-enabled; err != nil {
		t.Fatal(err)
	}
	if !e.Capturing() {
		t.Fatal("EnableCapture returned but capture is off")
	}
}
