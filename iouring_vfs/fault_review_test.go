package iouringvfs

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/golibsql/libsql/changefeed"
	"github.com/golibsql/libsql/internal/capi"
	"github.com/golibsql/libsql/iouring_vfs/ioback"
	"github.com/golibsql/libsql/iouring_vfs/iofault"
	"github.com/golibsql/libsql/iouring_vfs/wal"
)

// A connection that connects with cdc=on reads the newest LSN stored in
// libsql_cdc and calls RaiseLSNFloor with it (the driver's
// setupDurableCDC), which sets the hub's last LSN. The newest stored LSN
// is a durable commit, but not necessarily a published one: its committer
// publishes it (publishDurable) only after WaitDurable returns. When the
// new connection comes in between, the hub already says "last = v" and the
// committer's Publish(v) panics ("Publish of LSN v, not after the last
// published LSN v"). The VFS callback recovers the panic into an error, so
// the commit, durable, fails with SQLITE_ERROR; and since publishDurable
// panicked before it dropped the transaction from its queue, every later
// commit panics on it again: every commit fails from then on, and the
// streams get nothing more.
//
// The capture function, which the engine calls at the commit point after
// Append, plays the other goroutines here: another committer's batch write
// makes the commit durable, then a new connection's setup raises the LSN
// floor to it (which the driver does with exactly this LSN once the
// libsql_cdc row of the commit is durable).
func TestFaultReviewPublishAfterRaiseLSNFloor(t *testing.T) {
	c := openConn(t, dbPath(t), "libsql_sync=full")
	c.exec("CREATE TABLE t(x)")
	e := c.file.e
	if _, err := e.EnableCapture(context.Background(), time.Second, nil); err != nil {
		t.Fatal(err)
	}
	s, err := e.Subscribe(changefeed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	change := func() *changefeed.Tx {
		return &changefeed.Tx{Changes: []changefeed.Change{{Table: "t", Op: changefeed.Insert, RowID: 1}}}
	}
	c.file.SetCapture(func() *changefeed.Tx {
		v := e.log.Last()
		if err := e.log.WaitDurable(v); err != nil {
			t.Error(err)
		}
		e.RaiseLSNFloor(changefeed.LSN(v))
		return change()
	}, nil)
	if err := c.tryExec("INSERT INTO t VALUES (1)"); err != nil {
		t.Errorf("a commit whose LSN a connecting connection raised the floor to failed: %v", err)
	}
	c.file.SetCapture(change, nil)
	if err := c.tryExec("INSERT INTO t VALUES (2)"); err != nil {
		t.Errorf("the next commit failed too: %v", err)
	}
	if n := c.int("SELECT count(*) FROM t"); n != 2 {
		t.Errorf("%d rows, want 2", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	for i := range 2 {
		if _, err := s.Next(ctx); err != nil {
			t.Errorf("stream: change %d of 2: %v", i+1, err)
			break
		}
	}
}

// A commit that became durable before another commit's failed write
// poisoned the log is acknowledged (its WaitDurable saw it durable) but
// never published: publishDurable drops its whole queue once the log is
// poisoned ("those commits never happened"), the durable ones with the
// rest. A stream sees neither the commit nor an error: it just stops.
// (With cdc=on a stream resumed after reopening reads it from libsql_cdc;
// with the in-memory stream it is gone.)
//
// The capture function, called at the commit point after Append, plays
// the other committers: another goroutine's batch write makes this commit
// durable, then a later commit's write fails and poisons the log, before
// this committer gets to publish.
func TestFaultReviewDurableCommitPublishedAfterPoison(t *testing.T) {
	ffs := iofault.NewFaultFS(ioback.NewMemFS())
	restore := defaultVFS.SetFSForTesting(ffs)
	defer restore()
	c := openConn(t, "/faultreview/pub/t.db", "libsql_sync=full")
	c.exec("CREATE TABLE t(x)")
	e := c.file.e
	if _, err := e.EnableCapture(context.Background(), time.Second, nil); err != nil {
		t.Fatal(err)
	}
	s, err := e.Subscribe(changefeed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c.file.SetCapture(func() *changefeed.Tx {
		v := e.log.Last()
		if err := e.log.WaitDurable(v); err != nil {
			t.Error(err)
		}
		// The next commit's write fails.
		ffs.FailMatching(0, func(op iofault.Op) bool { return op.Kind == iofault.OpWritevAt }, iofault.EIO)
		page := make([]byte, e.log.PageSize())
		if _, err := e.log.ReadPage(2, v, page); err != nil {
			t.Error(err)
		}
		w, err := e.log.Append([]wal.Page{{No: 2, Data: page}}, e.log.Size(v), true)
		if err != nil {
			t.Error(err)
		} else if err := e.log.WaitDurable(w); err == nil {
			t.Error("the failed write did not poison the log")
		}
		ffs.Disarm()
		return &changefeed.Tx{Changes: []changefeed.Change{{Table: "t", Op: changefeed.Insert, RowID: 1}}}
	}, nil)
	if err := c.tryExec("INSERT INTO t VALUES (1)"); err != nil {
		t.Fatalf("the commit, durable before the log was poisoned, failed: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := s.Next(ctx); err != nil {
		t.Errorf("an acknowledged (durable) commit never reached the stream: %v", err)
	}
}

// README: "A full disk fails the commit and changes nothing (log space is
// reserved before the point of no return); a write or sync error after it
// poisons the engine". But a write that fails with ENOSPC after the point
// of no return is reported as SQLITE_FULL too (File.ioFail maps any error
// wrapping ENOSPC to SQLITE_FULL, in CommitPhaseTwo as in Sync), although
// the commit may be in the log: here the batch holding it is cut short
// after its frames, and it is there after reopening. (Every statement the
// poisoned engine refuses afterwards, reads included, also fails with
// "database or disk is full".)
//
// The capture function (called at the commit point, after Append) plays a
// second committer whose commit joins the same batch.
func TestFaultReviewFullAfterPointOfNoReturn(t *testing.T) {
	ffs := iofault.NewFaultFS(ioback.NewMemFS())
	restore := defaultVFS.SetFSForTesting(ffs)
	defer restore()
	path := "/faultreview/full/t.db"
	c := openConn(t, path, "libsql_sync=full")
	c.exec("CREATE TABLE t(x)")
	c.exec("INSERT INTO t VALUES (0)") // the log has frames: the batch has no header
	e := c.file.e
	before, _ := e.log.Frames()
	ps := e.log.PageSize()
	c.file.SetCapture(func() *changefeed.Tx {
		after, _ := e.log.Frames()
		v := e.log.Last()
		page := make([]byte, ps)
		if _, err := e.log.ReadPage(1, v, page); err != nil {
			t.Error(err)
		}
		// Another committer's commit of 8 pages joins the batch.
		var pages []wal.Page
		for p := range 8 {
			pages = append(pages, wal.Page{No: wal.PageNo(100 + p), Data: page})
		}
		if _, err := e.log.Append(pages, 107, true); err != nil {
			t.Error(err)
		}
		// The batch's write lands this commit's frames and part of the
		// other's, then fails with ENOSPC: find the ShortWrite seed whose
		// prefix does that (FaultFS draws it as 1+IntN(len-1)).
		fsz := wal.FrameHeaderSize + ps
		mine, total := (after-before)*fsz, (after-before+8)*fsz
		for seed := uint64(1); ; seed++ {
			rng := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
			if n := 1 + rng.IntN(total-1); n >= mine && n < total-fsz {
				ffs.Arm(iofault.Rule{Match: func(op iofault.Op) bool { return op.Kind == iofault.OpWritevAt }, Fault: iofault.ShortWrite, Seed: seed})
				break
			}
		}
		return nil
	}, nil)
	err := c.tryExec("INSERT INTO t VALUES (1)")
	ffs.Disarm()
	if !ffs.Fired() {
		t.Fatal("the fault did not fire")
	}
	full := false
	var ce *capi.Error
	if errors.As(err, &ce) && ce.Code&0xff == capi.FULL {
		full = true
	}
	t.Logf("the commit returned: %v", err)
	_, rerr := c.intErr("SELECT count(*) FROM t")
	t.Logf("a read on the poisoned engine: %v", rerr)
	c.Close()
	c = openConn(t, path, "")
	n := c.int("SELECT count(*) FROM t WHERE x = 1")
	if full && n == 1 {
		t.Errorf("the commit failed with SQLITE_FULL (%v), which README says changes nothing, but it is in the database after reopening", err)
	}
	if ic := c.text("PRAGMA integrity_check"); ic != "ok" {
		t.Errorf("integrity_check: %s", ic)
	}
}
