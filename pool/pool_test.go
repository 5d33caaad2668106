package pool

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golibsql/libsql"
)

// openTestPool opens a pool on a new database file of the test's own. At
// cleanup it closes the pool (if the test did not), checks the database's
// integrity and that no goroutine of the pool is left.
func openTestPool(t *testing.T, opts Options) *Pool {
	t.Helper()
	dsn := "file:" + filepath.ToSlash(filepath.Join(t.TempDir(), "pool.db"))
	p, err := Open(dsn, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := libsql.OpenConn(ctx, dsn)
		if err != nil {
			t.Errorf("reopen: %v", err)
		} else {
			var s string
			if err := c.QueryRow(ctx, "PRAGMA integrity_check").Scan(&s); err != nil || s != "ok" {
				t.Errorf("integrity_check: %q %v", s, err)
			}
			c.Close()
		}
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		checkNoGoroutines(t)
	})
	return p
}

// checkNoGoroutines fails the test if a goroutine of the pool (the reaper,
// a Get waiting) is still running shortly after the pool closed.
func checkNoGoroutines(t *testing.T) {
	t.Helper()
	var stacks string
	for range 100 {
		buf := make([]byte, 1<<20)
		stacks = string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(stacks, "pool.(*Pool)") {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("goroutines of the pool left running:\n%s", stacks)
}

func mustGet(t *testing.T, p *Pool) *Conn {
	t.Helper()
	c, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustExec(t *testing.T, c *Conn, query string, args ...any) {
	t.Helper()
	if _, err := c.Exec(context.Background(), query, args...); err != nil {
		t.Fatalf("Exec(%q): %v", query, err)
	}
}

// waitFor polls cond (a test's observation, not the pool's mechanism)
// until it holds or a few seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestPoolDefaults(t *testing.T) {
	o := Options{}.withDefaults()
	if o.MaxConns < 8 || o.AcquireTimeout != DefaultAcquireTimeout || o.IdleTimeout != DefaultIdleTimeout || o.MaxLifetime != 0 {
		t.Errorf("defaults %+v", o)
	}
	if _, err := Open("file:x.db?nope=1", Options{}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("Open with a bad DSN: %v", err)
	}
}

func TestPoolLimitsAndAcquireTimeout(t *testing.T) {
	p := openTestPool(t, Options{MaxConns: 2, AcquireTimeout: 50 * time.Millisecond})
	a, b := mustGet(t, p), mustGet(t, p)
	if a.Conn == b.Conn {
		t.Fatal("the same connection twice")
	}
	start := time.Now()
	_, err := p.Get(context.Background())
	if !errors.Is(err, ErrAcquireTimeout) || !strings.HasPrefix(err.Error(), "pool: ") {
		t.Fatalf("third Get: %v", err)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("third Get failed after %v, before AcquireTimeout", d)
	}
	s := p.Stats()
	if s.InUse != 2 || s.Open != 2 || s.Idle != 0 || s.Waits != 1 || s.Timeouts != 1 || s.Waiting != 0 || s.WaitTime < 40*time.Millisecond || s.Opened != 2 {
		t.Errorf("stats %+v", s)
	}
	p.Put(a)
	c := mustGet(t, p)
	if c.Conn != a.Conn {
		t.Error("Get did not reuse the idle connection")
	}
	p.Put(b)
	p.Put(c)
	if s := p.Stats(); s.InUse != 0 || s.Idle != 2 || s.Opened != 2 {
		t.Errorf("stats %+v", s)
	}
	if err := p.Put(c); !errors.Is(err, ErrNotBorrowed) {
		t.Errorf("second Put: %v, want ErrNotBorrowed", err)
	}
	if err := p.Put(nil); !errors.Is(err, ErrNotBorrowed) {
		t.Errorf("Put(nil): %v, want ErrNotBorrowed", err)
	}
}

func TestPoolFIFOWaiters(t *testing.T) {
	p := openTestPool(t, Options{MaxConns: 1, AcquireTimeout: -1})
	c := mustGet(t, p)
	got := make(chan int, 3)
	for i := range 3 {
		go func() {
			c, err := p.Get(context.Background())
			if err != nil {
				t.Error(err)
				got <- -1
				return
			}
			got <- i
			p.Put(c)
		}()
		waitFor(t, fmt.Sprintf("waiter %d", i), func() bool { return p.Stats().Waiting == i+1 })
	}
	p.Put(c)
	for want := range 3 {
		if i := <-got; i != want {
			t.Errorf("waiter %d served in place %d", i, want)
		}
	}
	if s := p.Stats(); s.Opened != 1 || s.Waits != 3 {
		t.Errorf("stats %+v", s)
	}
}

func TestPoolContextCancelWhileWaiting(t *testing.T) {
	p := openTestPool(t, Options{MaxConns: 1})
	c := mustGet(t, p)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := p.Get(ctx)
		errc <- err
	}()
	waitFor(t, "the waiter", func() bool { return p.Stats().Waiting == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "pool: ") {
		t.Fatalf("Get: %v", err)
	}
	if s := p.Stats(); s.Waiting != 0 || s.Canceled != 1 {
		t.Errorf("stats %+v", s)
	}
	if _, err := p.Get(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with an ended context: %v", err)
	}
	p.Put(c)
	p.Put(mustGet(t, p))
	if s := p.Stats(); s.Opened != 1 || s.Idle != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestPoolAcquireTimeoutWhileOpening: AcquireTimeout bounds the whole Get,
// opening a connection included, and a Get cut short while opening fails
// like one cut short while waiting (regression: it failed with a bare
// "context deadline exceeded" that did not match ErrAcquireTimeout).
func TestPoolAcquireTimeoutWhileOpening(t *testing.T) {
	p := openTestPool(t, Options{MaxConns: 2, AcquireTimeout: time.Nanosecond})
	var err error
	for range 100 {
		var c *Conn
		if c, err = p.Get(context.Background()); err != nil {
			break
		}
		p.Put(c)
	}
	if err == nil {
		t.Fatal("100 Gets with an AcquireTimeout of 1ns opened a connection in time")
	}
	if !errors.Is(err, ErrAcquireTimeout) || !strings.HasPrefix(err.Error(), "pool: ") || !strings.Contains(err.Error(), "opening a connection") {
		t.Fatalf("Get: %v", err)
	}
	if s := p.Stats(); s.Timeouts != 1 || s.Canceled != 0 || s.Open != s.Idle || s.InUse != 0 {
		t.Errorf("stats %+v", s)
	}
	// The caller's own deadline, passed as well, is the caller's error.
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	p.mu.Lock()
	p.open++
	p.mu.Unlock()
	if _, err := p.openConn(ctx, time.Now().Add(-time.Second)); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrAcquireTimeout) {
		t.Errorf("open with the caller's deadline passed: %v", err)
	}
	if s := p.Stats(); s.Timeouts != 1 || s.Open != s.Idle {
		t.Errorf("stats %+v", s)
	}
}

// TestPoolRaceGrantVersusTimeout makes waiters give up at the moment a
// connection is handed to them: nothing may be lost or counted twice.
func TestPoolRaceGrantVersusTimeout(t *testing.T) {
	p := openTestPool(t, Options{MaxConns: 2, AcquireTimeout: time.Millisecond})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				c, err := p.Get(context.Background())
				if err != nil {
					if !errors.Is(err, ErrAcquireTimeout) {
						t.Error(err)
					}
					continue
				}
				runtime.Gosched()
				p.Put(c)
			}
		}()
	}
	wg.Wait()
	s := p.Stats()
	if s.InUse != 0 || s.Waiting != 0 || s.Open > 2 || s.Idle != s.Open || s.Opened-s.Closed != int64(s.Open) {
		t.Errorf("stats after the storm %+v", s)
	}
}

func TestPoolRaceManyUsers(t *testing.T) {
	p := openTestPool(t, Options{MaxConns: 3, AcquireTimeout: -1})
	if err := p.Write(context.Background(), func(c *Conn) error {
		_, err := c.Exec(context.Background(), "CREATE TABLE t(id INTEGER PRIMARY KEY, g INTEGER)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	const users, each = 6, 10
	var wg sync.WaitGroup
	for g := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for i := range each {
				err := p.Write(ctx, func(c *Conn) error {
					_, err := c.Exec(ctx, "INSERT INTO t(g) VALUES (?)", g)
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
				var n int
				if err := p.Read(ctx, func(c *Conn) error {
					return c.QueryRow(ctx, "SELECT count(*) FROM t WHERE g = ?", g).Scan(&n)
				}); err != nil || n != i+1 {
					t.Errorf("user %d sees %d rows after %d inserts: %v", g, n, i+1, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if s := p.Stats(); s.InUse != 0 || s.Open > 3 || s.Opened > 3 {
		t.Errorf("stats %+v", s)
	}
}

func TestPoolIdleReaping(t *testing.T) {
	p := openTestPool(t, Options{MaxConns: 3, IdleTimeout: 30 * time.Millisecond})
	a, b := mustGet(t, p), mustGet(t, p)
	p.Put(a)
	p.Put(b)
	waitFor(t, "idle connections to be reaped", func() bool { return p.Stats().Idle == 0 })
	if s := p.Stats(); s.Open != 0 || s.ClosedIdle != 2 || s.Closed != 2 {
		t.Errorf("stats %+v", s)
	}
	c := mustGet(t, p) // a new connection
	p.Put(c)
	if s := p.Stats(); s.Opened != 3 {
		t.Errorf("stats %+v", s)
	}
}

func TestPoolMaxLifetime(t *testing.T) {
	p := openTestPool(t, Options{MaxConns: 2, IdleTimeout: -1, MaxLifetime: 40 * time.Millisecond})
	a, b := mustGet(t, p), mustGet(t, p)
	p.Put(a) // idle: the reaper closes it
	time.Sleep(50 * time.Millisecond)
	p.Put(b) // too old when put back: closed at once
	if !b.Conn.Closed() {
		t.Errorf("a connection older than MaxLifetime was kept when put back: stats %+v", p.Stats())
	}
	waitFor(t, "old connections to be closed", func() bool { return p.Stats().Open == 0 })
	if s := p.Stats(); s.ClosedLifetime != 2 || s.ClosedIdle != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestPoolNoReaper(t *testing.T) {
	p := openTestPool(t, Options{IdleTimeout: -1})
	if p.reapStop != nil {
		t.Error("a reaper runs with nothing to reap")
	}
	p.Put(mustGet(t, p))
}

func TestPoolCloseWaitsForBorrowed(t *testing.T) {
	p := openTestPool(t, Options{MaxConns: 2})
	a, b := mustGet(t, p), mustGet(t, p)
	p.Put(b)
	// A deadline passes with a connection still borrowed.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	err := p.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 connections still borrowed") {
		t.Fatalf("Close: %v", err)
	}
	if s := p.Stats(); s.Idle != 0 || s.InUse != 1 || s.Open != 1 {
		t.Errorf("stats after Close %+v", s)
	}
	if _, err := p.Get(context.Background()); err != ErrClosed {
		t.Errorf("Get after Close: %v", err)
	}
	// The connection still works for its borrower; put back, it is closed,
	// and a second Close returns at once.
	mustExec(t, a, "CREATE TABLE t(x)")
	done := make(chan error, 1)
	go func() { done <- p.Close(context.Background()) }()
	time.Sleep(10 * time.Millisecond)
	p.Put(a)
	if err := <-done; err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if !a.Closed() {
		t.Error("connection put back after Close was not closed")
	}
	if s := p.Stats(); s.Open != 0 || s.InUse != 0 || s.Closed != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestPoolCloseWakesWaiters(t *testing.T) {
	p := openTestPool(t, Options{MaxConns: 1, AcquireTimeout: -1})
	c := mustGet(t, p)
	errc := make(chan error, 1)
	go func() {
		_, err := p.Get(context.Background())
		errc <- err
	}()
	waitFor(t, "the waiter", func() bool { return p.Stats().Waiting == 1 })
	closed := make(chan error, 1)
	go func() { closed <- p.Close(context.Background()) }()
	if err := <-errc; err != ErrClosed {
		t.Errorf("waiting Get: %v", err)
	}
	p.Put(c)
	if err := <-closed; err != nil {
		t.Error(err)
	}
}

func TestPoolPutInTransaction(t *testing.T) {
	ctx := context.Background()
	p := openTestPool(t, Options{MaxConns: 1})
	c := mustGet(t, p)
	mustExec(t, c, "CREATE TABLE t(x)")
	// Left in a transaction begun with SQL, with rows open.
	mustExec(t, c, "BEGIN IMMEDIATE; INSERT INTO t VALUES (1)")
	if _, err := c.Query(ctx, "SELECT x FROM t"); err != nil {
		t.Fatal(err)
	}
	p.Put(c)
	c = mustGet(t, p)
	if c.InTx() {
		t.Fatal("connection handed out inside a transaction")
	}
	// Left in transactions begun with BeginTx: read-only and concurrent.
	if err := c.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	p.Put(c)
	c = mustGet(t, p)
	mustExec(t, c, "INSERT INTO t VALUES (2)") // not read-only any more
	mustExec(t, c, "BEGIN CONCURRENT; INSERT INTO t VALUES (3)")
	p.Put(c)
	c = mustGet(t, p)
	var n, sum int
	if err := c.QueryRow(ctx, "SELECT count(*), sum(x) FROM t").Scan(&n, &sum); err != nil || n != 1 || sum != 2 {
		t.Errorf("count %d sum %d %v: rolled-back rows are there", n, sum, err)
	}
	// A connection closed by its borrower is discarded.
	c.Close()
	p.Put(c)
	if s := p.Stats(); s.Discarded != 1 || s.Open != 0 {
		t.Errorf("stats %+v", s)
	}
	p.Put(mustGet(t, p))
}

func TestPoolReadWrite(t *testing.T) {
	ctx := context.Background()
	p := openTestPool(t, Options{})
	err := p.Write(ctx, func(c *Conn) error {
		_, err := c.Exec(ctx, "CREATE TABLE t(x); INSERT INTO t VALUES (1)")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err = p.Write(ctx, func(c *Conn) error {
		if _, err := c.Exec(ctx, "INSERT INTO t VALUES (2)"); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("Write = %v", err)
	}
	func() {
		defer func() { recover() }()
		p.Write(ctx, func(c *Conn) error {
			c.Exec(ctx, "INSERT INTO t VALUES (3)")
			panic("fn panics")
		})
	}()
	var n int
	err = p.Read(ctx, func(c *Conn) error {
		return c.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n)
	})
	if err != nil || n != 1 {
		t.Errorf("%d rows (%v): a failed Write left rows", n, err)
	}
	err = p.Read(ctx, func(c *Conn) error {
		_, err := c.Exec(ctx, "INSERT INTO t VALUES (4)")
		return err
	})
	if !errors.Is(err, libsql.ErrReadOnly) {
		t.Errorf("write inside Read: %v", err)
	}
	if s := p.Stats(); s.InUse != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestPoolConcurrentRetry runs conflicting BEGIN CONCURRENT increments of
// one counter from several goroutines: Concurrent retries the losers until
// every increment has landed exactly once.
func TestPoolConcurrentRetry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := openTestPool(t, Options{MaxConns: 4})
	if err := p.Write(ctx, func(c *Conn) error {
		_, err := c.Exec(ctx, "CREATE TABLE n(id INTEGER PRIMARY KEY, v INTEGER); INSERT INTO n VALUES (1, 0)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	const workers, each = 4, 8
	var (
		mu       sync.Mutex
		attempts int
		wg       sync.WaitGroup
		start    = make(chan struct{})
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range each {
				err := p.Concurrent(ctx, func(c *Conn) error {
					mu.Lock()
					attempts++ // test bookkeeping only
					mu.Unlock()
					var v int
					if err := c.QueryRow(ctx, "SELECT v FROM n WHERE id = 1").Scan(&v); err != nil {
						return err
					}
					runtime.Gosched() // widen the window for a conflict
					_, err := c.Exec(ctx, "UPDATE n SET v = ? WHERE id = 1", v+1)
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	var v int
	if err := p.Read(ctx, func(c *Conn) error {
		return c.QueryRow(ctx, "SELECT v FROM n WHERE id = 1").Scan(&v)
	}); err != nil {
		t.Fatal(err)
	}
	if v != workers*each {
		t.Errorf("counter %d, want %d: a lost update", v, workers*each)
	}
	t.Logf("%d attempts for %d transactions", attempts, workers*each)

	// A conflict that does not go away ends with ctx.
	// The deadline leaves room for several attempts on a loaded machine.
	short, cancel2 := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel2()
	tries := 0
	err := p.Concurrent(short, func(c *Conn) error { tries++; return libsql.ErrBusySnapshot })
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, libsql.ErrBusySnapshot) || tries < 2 {
		t.Errorf("Concurrent with a lasting conflict: %v after %d tries", err, tries)
	}
}
