package pool_test

// Review 18: WithConnectHook with the native pool.

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golibsql/libsql"
	"github.com/golibsql/libsql/pool"
)

func r18Pool(t *testing.T, ctr *libsql.Connector, opts pool.Options) *pool.Pool {
	t.Helper()
	p := pool.New(ctr, opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("pool Close: %v", err)
		}
		ctr.Close()
	})
	return p
}

// TestReview18PoolHookOncePerConnection: the hook runs once per physical
// connection: not again on Put/Get (Reset), and what it set up (TEMP
// table, ATTACH) survives Reset.
func TestReview18PoolHookOncePerConnection(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	aux := filepath.Join(dir, "aux.db")
	var runs atomic.Int64
	ctr, err := libsql.NewConnector(filepath.Join(dir, "main.db"), libsql.WithConnectHook(func(ctx context.Context, c *libsql.Conn) error {
		runs.Add(1)
		_, err := c.Exec(ctx, "ATTACH ? AS aux; CREATE TEMP TABLE scratch(x)", aux)
		return err
	}))
	if err != nil {
		t.Fatal(err)
	}
	p := r18Pool(t, ctr, pool.Options{MaxConns: 2})
	for i := range 10 {
		c, err := p.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(ctx, "INSERT INTO scratch VALUES (?); BEGIN; INSERT INTO scratch VALUES (-1)", i); err != nil {
			t.Fatalf("borrow %d: %v", i, err)
		}
		var n int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM aux.sqlite_schema").Scan(&n); err != nil {
			t.Fatalf("borrow %d: the hook's ATTACH: %v", i, err)
		}
		if err := p.Put(c); err != nil {
			t.Fatal(err)
		}
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("hook ran %d times for 1 connection borrowed 10 times", n)
	}
	c1, _ := p.Get(ctx)
	c2, err := p.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := c1.QueryRow(ctx, "SELECT count(*) FROM scratch").Scan(&n); err != nil || n != 10 {
		t.Fatalf("the first connection's TEMP table after 10 borrows: %d %v", n, err)
	}
	p.Put(c1)
	p.Put(c2)
	if n := runs.Load(); n != 2 {
		t.Fatalf("hook ran %d times for 2 connections", n)
	}
	if st := p.Stats(); st.Opened != 2 {
		t.Fatalf("opened %d", st.Opened)
	}
}

// TestReview18PoolHookFailures: a hook's error, a transaction it leaves
// open, or a hook waiting for ctx fail the Get without using up a slot.
func TestReview18PoolHookFailures(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	var mode atomic.Int32 // 0 ok, 1 error, 2 leave a tx, 3 block
	ctr, err := libsql.NewConnector(filepath.Join(t.TempDir(), "t.db"), libsql.WithConnectHook(func(ctx context.Context, c *libsql.Conn) error {
		switch mode.Load() {
		case 1:
			return boom
		case 2:
			_, err := c.Exec(ctx, "BEGIN CONCURRENT")
			return err
		case 3:
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	p := r18Pool(t, ctr, pool.Options{MaxConns: 1, AcquireTimeout: 100 * time.Millisecond})
	for range 3 {
		mode.Store(1)
		if _, err := p.Get(ctx); !errors.Is(err, boom) {
			t.Fatalf("Get with a failing hook: %v", err)
		}
		mode.Store(2)
		if _, err := p.Get(ctx); err == nil || !strings.Contains(err.Error(), "left a transaction open") {
			t.Fatalf("Get with a hook leaving BEGIN CONCURRENT open: %v", err)
		}
		mode.Store(3)
		if _, err := p.Get(ctx); !errors.Is(err, pool.ErrAcquireTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Get with a hook waiting for ctx: %v", err)
		}
	}
	if st := p.Stats(); st.Open != 0 {
		t.Fatalf("%d connections counted open after failed opens", st.Open)
	}
	mode.Store(0)
	c, err := p.Get(ctx)
	if err != nil {
		t.Fatalf("Get after the failures: %v", err)
	}
	p.Put(c)
}

// TestReview18PoolHookAttachConcurrent: Pool.Concurrent on connections
// whose hook ATTACHed a database fails with a clear error.
func TestReview18PoolHookAttachConcurrent(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	aux := filepath.Join(dir, "aux.db")
	ctr, err := libsql.NewConnector(filepath.Join(dir, "main.db"), libsql.WithConnectHook(func(ctx context.Context, c *libsql.Conn) error {
		_, err := c.Exec(ctx, "ATTACH ? AS aux", aux)
		return err
	}))
	if err != nil {
		t.Fatal(err)
	}
	p := r18Pool(t, ctr, pool.Options{MaxConns: 1})
	ran := false
	err = p.Concurrent(ctx, func(c *pool.Conn) error { ran = true; return nil })
	if err == nil || ran || !strings.Contains(err.Error(), `"aux" attached`) || !strings.Contains(err.Error(), "DETACH") {
		t.Fatalf("Pool.Concurrent with a hook's ATTACH: ran=%v err=%v", ran, err)
	}
	if err := p.Write(ctx, func(c *pool.Conn) error {
		_, err := c.Exec(ctx, "CREATE TABLE IF NOT EXISTS t(x)")
		return err
	}); err != nil {
		t.Fatalf("Pool.Write on the same connection: %v", err)
	}
}
