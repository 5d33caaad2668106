package pool

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golibsql/libsql"
)

// reviewSlowOpen returns the DSN of a new database whose connections,
// opened with cdc=on, wait (up to busy_timeout) to create the CDC tables,
// and a release func: until it is called another connection holds the
// write lock, so a pool's Get blocks while opening a connection.
func reviewSlowOpen(t *testing.T) (dsn string, release func()) {
	t.Helper()
	ctx := context.Background()
	path := "file:" + filepath.ToSlash(filepath.Join(t.TempDir(), "slow.db"))
	holder, err := libsql.OpenConn(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, "CREATE TABLE t(x); BEGIN IMMEDIATE; INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			holder.Exec(ctx, "COMMIT")
			holder.Close()
		})
	}
	t.Cleanup(release)
	return path + "?cdc=on&busy_timeout=5s", release
}

// reviewPool opens a pool on dsn and closes it at cleanup.
func reviewPool(t *testing.T, dsn string, opts Options) *Pool {
	t.Helper()
	p, err := Open(dsn, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

// TestReviewCloseWhileOpening: Close runs while a Get is opening a
// connection (the open waits for a lock). Close documents that Gets fail
// with ErrClosed from then on and that it waits for what is borrowed; it
// should either wait for the open or cut it short. It returns nil at once
// instead, with Stats().Open still 1; the Get goes on opening (up to
// busy_timeout / AcquireTimeout), a connection is opened after Close
// returned (and after Close closed the pool's own connector), and only
// then is it closed and ErrClosed returned.
func TestReviewCloseWhileOpening(t *testing.T) {
	dsn, release := reviewSlowOpen(t)
	p, err := Open(dsn, Options{MaxConns: 1, AcquireTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		c, err := p.Get(context.Background())
		if err == nil {
			p.Put(c)
		}
		errc <- err
	}()
	waitFor(t, "the Get to start opening", func() bool { return p.Stats().Open == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	closeErr := p.Close(ctx)
	s := p.Stats()
	if closeErr == nil && s.Open != 0 {
		t.Errorf("Close returned nil with a connection still being opened: stats %+v", s)
	}
	select {
	case err := <-errc:
		if err != ErrClosed {
			t.Errorf("Get opening during Close: %v, want ErrClosed", err)
		}
	case <-time.After(200 * time.Millisecond):
		t.Errorf("Close returned, but the Get opening meanwhile is still blocked 200ms later")
		release()
		<-errc
	}
	if s := p.Stats(); s.Opened != 0 {
		t.Errorf("a connection was opened after Close returned: stats %+v", s)
	}
}

// TestReviewGetEndsWhileOpening: a Get whose context ends, or whose
// AcquireTimeout passes, while it opens a connection fails promptly with
// an error that says so, gives its slot back, and the Get waiting behind
// it takes the slot and opens a connection of its own.
func TestReviewGetEndsWhileOpening(t *testing.T) {
	dsn, release := reviewSlowOpen(t)
	p := reviewPool(t, dsn, Options{MaxConns: 1, AcquireTimeout: -1})

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := p.Get(ctx)
		first <- err
	}()
	waitFor(t, "the first Get to start opening", func() bool { return p.Stats().Open == 1 })
	second := make(chan error, 1)
	var c2 *Conn
	go func() {
		var err error
		c2, err = p.Get(context.Background())
		second <- err
	}()
	waitFor(t, "the second Get to wait", func() bool { return p.Stats().Waiting == 1 })
	cancel()
	select {
	case err := <-first:
		if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "pool: open a connection") {
			t.Errorf("Get canceled while opening: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a Get canceled while opening did not return")
	}
	// The waiter took the slot and is opening now.
	waitFor(t, "the waiter to take the slot", func() bool { s := p.Stats(); return s.Waiting == 0 && s.Open == 1 })
	release()
	if err := <-second; err != nil {
		t.Fatalf("the Get waiting behind: %v", err)
	}
	if s := p.Stats(); s.InUse != 1 || s.Open != 1 || s.Opened != 1 || s.Canceled != 0 || s.Timeouts != 0 || s.Waits != 1 {
		t.Errorf("stats %+v", s)
	}
	p.Put(c2)

	// AcquireTimeout while opening, on a fresh slow database.
	dsn2, _ := reviewSlowOpen(t)
	p2 := reviewPool(t, dsn2, Options{MaxConns: 1, AcquireTimeout: 60 * time.Millisecond})
	start := time.Now()
	_, err := p2.Get(context.Background())
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Get took %v with AcquireTimeout 60ms", d)
	}
	if !errors.Is(err, ErrAcquireTimeout) || !strings.Contains(err.Error(), "opening a connection") {
		t.Errorf("Get past AcquireTimeout while opening: %v", err)
	}
	if s := p2.Stats(); s.Open != 0 || s.Timeouts != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestReviewPanicInTxHelpers: fn panicking inside Read, Write or
// Concurrent propagates the panic, the connection goes back rolled back
// (not discarded, not leaked), and the next borrower of the one
// connection sees neither the transaction nor the rows it left open.
func TestReviewPanicInTxHelpers(t *testing.T) {
	ctx := context.Background()
	p := openTestPool(t, Options{MaxConns: 1, AcquireTimeout: time.Second})
	if err := p.Write(ctx, func(c *Conn) error {
		_, err := c.Exec(ctx, "CREATE TABLE t(x); INSERT INTO t VALUES (1)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	helpers := map[string]func(context.Context, func(*Conn) error) error{
		"Read": p.Read, "Write": p.Write, "Concurrent": p.Concurrent,
	}
	for name, run := range helpers {
		var recovered any
		func() {
			defer func() { recovered = recover() }()
			run(ctx, func(c *Conn) error {
				if name != "Read" {
					if _, err := c.Exec(ctx, "INSERT INTO t VALUES (2)"); err != nil {
						t.Errorf("%s: %v", name, err)
					}
				}
				rows, err := c.Query(ctx, "SELECT x FROM t")
				if err != nil {
					t.Errorf("%s: %v", name, err)
				} else {
					rows.Next()
				}
				panic("boom " + name)
			})
		}()
		if recovered != "boom "+name {
			t.Errorf("%s: recovered %v, want the panic of fn", name, recovered)
		}
		if s := p.Stats(); s.InUse != 0 || s.Idle != 1 || s.Discarded != 0 {
			t.Errorf("after a panic in %s: stats %+v", name, s)
		}
		c, err := p.Get(ctx)
		if err != nil {
			t.Fatalf("after a panic in %s: %v", name, err)
		}
		var n int
		if c.InTx() {
			t.Errorf("after a panic in %s: the connection is lent inside a transaction", name)
		}
		if err := c.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
			t.Errorf("after a panic in %s: %d rows (%v), want 1", name, n, err)
		}
		mustExec(t, c, "INSERT INTO t VALUES (3); DELETE FROM t WHERE x = 3") // writable
		p.Put(c)
	}
	if s := p.Stats(); s.Opened != 1 {
		t.Errorf("stats %+v: connections were dropped", s)
	}
}

// TestReviewExpiredIdleConnLent: a Get lends an idle connection that is
// older than MaxLifetime (or idle longer than IdleTimeout) if the reaper
// has not run since it expired. The reaper runs every quarter of the
// shorter limit, capped at one minute, so with MaxLifetime: time.Hour a
// connection can be lent up to a minute past its lifetime; database/sql,
// whose SetConnMaxLifetime the conn_lifetime key stands for, checks expiry
// when it hands a connection out. Simulated by ageing the idle connection
// (the reaper, ticking every minute, does not run during the test).
func TestReviewExpiredIdleConnLent(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		age  func(pc *pooled)
	}{
		{"MaxLifetime", Options{MaxConns: 2, MaxLifetime: time.Hour, IdleTimeout: -1}, func(pc *pooled) { pc.created = pc.created.Add(-2 * time.Hour) }},
		{"IdleTimeout", Options{MaxConns: 2, IdleTimeout: time.Hour}, func(pc *pooled) { pc.idleFrom = pc.idleFrom.Add(-2 * time.Hour) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := openTestPool(t, tc.opts)
			c := mustGet(t, p)
			old := c.Conn
			p.Put(c)
			p.mu.Lock()
			tc.age(p.idle[0])
			p.mu.Unlock()
			c = mustGet(t, p)
			if c.Conn == old {
				t.Errorf("Get lent a connection past %s: stats %+v", tc.name, p.Stats())
			}
			p.Put(c)
		})
	}
}

// TestReviewRowsLeftOpenOnPut: a borrower leaves Rows open mid-iteration
// and a Row unscanned, and puts the connection back. The next borrower of
// the same connection runs the same query (the same cached statement) and
// reads all of it, even while the first borrower, late, calls Next and
// Close on its stale Rows and Scan on its stale Row.
func TestReviewRowsLeftOpenOnPut(t *testing.T) {
	ctx := context.Background()
	p := openTestPool(t, Options{MaxConns: 1})
	a := mustGet(t, p)
	mustExec(t, a, "CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3)")
	const q = "SELECT x FROM t ORDER BY x"
	stale, err := a.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if !stale.Next() {
		t.Fatal(stale.Err())
	}
	staleRow := a.QueryRow(ctx, "SELECT x FROM t WHERE x = 2")
	if err := p.Put(a); err != nil {
		t.Fatal(err)
	}

	b := mustGet(t, p)
	if b.Conn != a.Conn {
		t.Fatal("not the same connection")
	}
	rows, err := b.Query(ctx, q)
	if err != nil {
		t.Fatalf("the next borrower's Query: %v", err)
	}
	var got []int
	for rows.Next() {
		if stale.Next() {
			t.Error("the stale Rows of the previous borrower still return rows")
		}
		stale.Close()
		var x int
		staleRow.Scan(&x)
		if err := rows.Scan(&x); err != nil {
			t.Fatal(err)
		}
		got = append(got, x)
	}
	if err := rows.Err(); err != nil || fmt.Sprint(got) != "[1 2 3]" {
		t.Errorf("the next borrower read %v (%v), want [1 2 3]", got, err)
	}
	p.Put(b)
	if s := p.Stats(); s.Discarded != 0 || s.Opened != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestReviewPutForeignAndTwice: Put of a connection borrowed from another
// pool, a second Release, and Put of a zero Conn return ErrNotBorrowed and
// change neither pool; the connection stays usable by its borrower.
func TestReviewPutForeignAndTwice(t *testing.T) {
	p := openTestPool(t, Options{MaxConns: 2, IdleTimeout: -1})
	q := openTestPool(t, Options{MaxConns: 2, IdleTimeout: -1})
	c := mustGet(t, q)
	before, beforeQ := p.Stats(), q.Stats()
	if err := p.Put(c); !errors.Is(err, ErrNotBorrowed) {
		t.Errorf("Put into another pool: %v", err)
	}
	if err := p.Put(&Conn{}); !errors.Is(err, ErrNotBorrowed) {
		t.Errorf("Put of a zero Conn: %v", err)
	}
	if p.Stats() != before || q.Stats() != beforeQ {
		t.Errorf("stats changed: %+v %+v", p.Stats(), q.Stats())
	}
	mustExec(t, c, "CREATE TABLE t(x)")
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	if err := c.Release(); !errors.Is(err, ErrNotBorrowed) {
		t.Errorf("second Release: %v", err)
	}
	if s := q.Stats(); s.InUse != 0 || s.Idle != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestReviewWaiterGetsFreedSlot: a Get waiting at MaxConns is served when
// the borrowed connection is put back closed (discarded) or too old
// (closed at Put): the slot it frees goes to the waiter, which opens a
// connection, rather than being lost.
func TestReviewWaiterGetsFreedSlot(t *testing.T) {
	p := openTestPool(t, Options{MaxConns: 1, AcquireTimeout: 2 * time.Second, MaxLifetime: 150 * time.Millisecond})
	for round, free := range []func(c *Conn){
		func(c *Conn) { c.Close() },                        // discarded at Put
		func(*Conn) { time.Sleep(160 * time.Millisecond) }, // past MaxLifetime at Put
	} {
		c := mustGet(t, p)
		got := make(chan *Conn, 1)
		go func() {
			w, err := p.Get(context.Background())
			if err != nil {
				t.Error(err)
			}
			got <- w
		}()
		waitFor(t, "the waiter", func() bool { return p.Stats().Waiting == 1 })
		free(c)
		p.Put(c)
		w := <-got
		if w == nil {
			t.FailNow()
		}
		if w.Conn == c.Conn || w.Closed() {
			t.Errorf("round %d: the waiter got the dropped connection", round)
		}
		p.Put(w)
	}
	if s := p.Stats(); s.Discarded != 1 || s.ClosedLifetime < 1 || s.Opened != 3 || s.Opened-s.Closed != int64(s.Open) {
		t.Errorf("stats %+v", s)
	}
}

// TestReviewStorm: goroutines borrow with short contexts and a short
// AcquireTimeout, sometimes close the connection, leave a transaction
// open, Put twice, or use Write; Close runs in the middle. Nothing may be
// lent twice at once, the counters must balance, and no goroutine of the
// pool may be left.
func TestReviewStorm(t *testing.T) {
	p := openTestPool(t, Options{MaxConns: 2, AcquireTimeout: 5 * time.Millisecond, IdleTimeout: 10 * time.Millisecond})
	if err := p.Write(context.Background(), func(c *Conn) error {
		_, err := c.Exec(context.Background(), "CREATE TABLE t(x)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		lent    = map[*libsql.Conn]bool{}
		wg      sync.WaitGroup
		discard int64
		gets    atomic.Int64
	)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%3)*time.Millisecond)
				if g == 0 && i%4 == 0 {
					err := p.Write(context.Background(), func(c *Conn) error {
						_, err := c.Exec(context.Background(), "INSERT INTO t VALUES (1)")
						return err
					})
					if err != nil && !errors.Is(err, ErrAcquireTimeout) && err != ErrClosed {
						t.Error(err)
					}
				}
				c, err := p.Get(ctx)
				cancel()
				gets.Add(1)
				if err != nil {
					if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrAcquireTimeout) && err != ErrClosed {
						t.Error(err)
					}
					continue
				}
				mu.Lock()
				if lent[c.Conn] {
					t.Error("a connection lent twice at once")
				}
				lent[c.Conn] = true
				mu.Unlock()
				switch i % 5 {
				case 1:
					c.Exec(context.Background(), "BEGIN; SELECT 1")
				case 2:
					c.Close()
					mu.Lock()
					discard++
					mu.Unlock()
				}
				if g == 1 && i%6 == 0 {
					time.Sleep(12 * time.Millisecond) // let the reaper run
				}
				mu.Lock()
				delete(lent, c.Conn)
				mu.Unlock()
				if err := p.Put(c); err != nil {
					t.Error(err)
				}
				if i%7 == 0 {
					if err := p.Put(c); !errors.Is(err, ErrNotBorrowed) {
						t.Errorf("second Put: %v", err)
					}
				}
			}
		}()
	}
	waitFor(t, "some traffic", func() bool { return gets.Load() >= 50 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	wg.Wait()
	s := p.Stats()
	if s.Open != 0 || s.InUse != 0 || s.Idle != 0 || s.Waiting != 0 || s.Opened != s.Closed || s.Discarded != discard {
		t.Errorf("stats after the storm and Close %+v (discarded by the test: %d)", s, discard)
	}
	t.Logf("stats %+v", s)
	checkNoGoroutines(t)
}

// TestReviewPutAfterContextEnded: the common shape "borrow for a request,
// defer Put, the request's context ends first" must not cost the
// connection: a Put after the context of the open rows, of BeginTx (plain
// and concurrent) and of an unfinished INSERT ... RETURNING ended rolls
// back and keeps the connection, and the next borrower is not interrupted
// by the dead context.
func TestReviewPutAfterContextEnded(t *testing.T) {
	p := openTestPool(t, Options{MaxConns: 1})
	bg := context.Background()
	c := mustGet(t, p)
	mustExec(t, c, "CREATE TABLE t(x); INSERT INTO t VALUES (1), (2)")
	p.Put(c)
	for _, leave := range []string{"rows", "BeginTx", "concurrent", "returning"} {
		ctx, cancel := context.WithCancel(bg)
		c := mustGet(t, p)
		switch leave {
		case "BeginTx":
			if err := c.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable}); err != nil {
				t.Fatal(err)
			}
			mustExec(t, c, "INSERT INTO t VALUES (3)")
		case "concurrent":
			if err := c.BeginTx(ctx, &sql.TxOptions{Isolation: libsql.LevelConcurrent}); err != nil {
				t.Fatal(err)
			}
			mustExec(t, c, "INSERT INTO t VALUES (3)")
		}
		q := "SELECT x FROM t"
		if leave == "returning" {
			q = "INSERT INTO t VALUES (4), (5) RETURNING x"
		}
		rows, err := c.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		rows.Next()
		cancel()
		if err := p.Put(c); err != nil {
			t.Fatal(err)
		}
		if s := p.Stats(); s.Discarded != 0 || s.Idle != 1 {
			t.Errorf("%s: Put after the context ended dropped the connection: stats %+v", leave, s)
		}
		c = mustGet(t, p)
		var n int
		if err := c.QueryRow(bg, "SELECT count(*) FROM t WHERE x = 3").Scan(&n); err != nil || n != 0 {
			t.Errorf("%s: next borrower: %d uncommitted rows (%v)", leave, n, err)
		}
		if c.InTx() {
			t.Errorf("%s: lent inside a transaction", leave)
		}
		var m int
		if err := c.QueryRow(bg, "SELECT count(*) FROM t WHERE x >= 4").Scan(&m); err != nil {
			t.Errorf("%s: %v", leave, err)
		}
		t.Logf("%s: rows of an unfinished INSERT ... RETURNING present after Put: %d", leave, m)
		mustExec(t, c, "DELETE FROM t WHERE x >= 4")
		p.Put(c)
	}
}
