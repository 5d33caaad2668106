package capi

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// The VFS asks the busy handler to give up or retry from inside a call; when
// SQLite returns SQLITE_BUSY without calling the handler (inside a read
// transaction), the request must not carry over into a later call.
func TestBusyRequestsDoNotOutliveTheirCall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	a, b := openFile(t, path), openFile(t, path)
	check(t, a.Exec("CREATE TABLE t(x)"))
	lockFile(t, a)
	b.SetBusyTimeout(150 * time.Millisecond)

	b.GiveUpBusy() // left behind by an earlier call
	b.RetryBusyNow()
	prev := b.Enter(context.Background())
	if b.busy.giveUp || b.busy.retryNow {
		t.Errorf("after Enter: giveUp %v, retryNow %v; want both cleared", b.busy.giveUp, b.busy.retryNow)
	}
	start := time.Now()
	err := b.Exec("INSERT INTO t VALUES (1)")
	b.Leave(prev)
	var e *Error
	if !errors.As(err, &e) || e.Code&0xff != BUSY {
		t.Fatalf("INSERT while locked: err %v, want SQLITE_BUSY", err)
	}
	if d := time.Since(start); d < 140*time.Millisecond {
		t.Errorf("the new call gave up after %v of a 150ms busy timeout", d)
	}
}
