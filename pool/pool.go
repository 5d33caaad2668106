// Package pool is a pool of libsql connections for callers who skip
// database/sql: goroutines borrow a *Conn (a [libsql.Conn]: Exec, Query,
// QueryRow, transactions, change streams) with Get and give it back with
// Put, or let Read, Write and Concurrent do both around a transaction.
//
//	p, err := pool.Open("file:app.db?busy_timeout=5s", pool.Options{MaxConns: 8})
//	...
//	defer p.Close(ctx)
//	err = p.Write(ctx, func(c *pool.Conn) error {
//		_, err := c.Exec(ctx, "INSERT INTO events(kind) VALUES (?)", "login")
//		return err
//	})
//
// What it adds to a bare Conn:
//
//   - a bound on open connections (Options.MaxConns). A Get beyond it waits,
//     first come first served, without polling, until a connection is put
//     back, its context ends or Options.AcquireTimeout passes;
//   - reuse: idle connections keep their prepared-statement caches; the most
//     recently used is handed out first, so the others age and are closed
//     after Options.IdleTimeout, and every connection after
//     Options.MaxLifetime, by a background goroutine that Close stops (and
//     Get never lends one past its time);
//   - hygiene: a connection put back inside a transaction, or with rows
//     open, is rolled back and cleaned before anyone else gets it (see
//     libsql.Conn.Reset: PRAGMA settings and TEMP tables stay, and a
//     statement whose rows are open and that already wrote, such as an
//     INSERT ... RETURNING outside a transaction, keeps its writes); a
//     closed or broken one is discarded;
//   - an orderly Close that waits (until its context's deadline) for the
//     borrowed connections to come back;
//   - counters (Stats).
//
// Compared with database/sql on the same work, the pool does less on each
// call: one mutex acquisition to borrow and two to give back, no argument
// or result boxing through driver.Value, and one small allocation of the
// pool's own per Get (the borrow's *Conn, which is what lets Put recognise
// a connection put back twice). The package's benchmarks (BenchmarkPointSelect, BenchmarkTx10)
// measure both side by side.
package pool

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/golibsql/libsql"
)

// Options configure a Pool. The zero value gives the defaults.
type Options struct {
	// MaxConns bounds the connections open at once, borrowed and idle
	// together. 0 or less means the default: 2 × GOMAXPROCS, at least 8.
	MaxConns int
	// AcquireTimeout bounds how long Get takes: waiting for a connection
	// when MaxConns are borrowed, and opening one (the context passed to
	// Get may end it sooner). 0 means the default, 30 seconds; a negative
	// value means no bound but the context's.
	AcquireTimeout time.Duration
	// IdleTimeout closes a connection left idle that long. 0 means the
	// default, 5 minutes; a negative value keeps idle connections open.
	IdleTimeout time.Duration
	// MaxLifetime closes a connection that old: when it is idle, or when it
	// is put back (Get never lends one that old). 0 or a negative value
	// means no limit (the default): SQLite connections do not go stale.
	MaxLifetime time.Duration
}

// Default option values.
const (
	DefaultAcquireTimeout = 30 * time.Second
	DefaultIdleTimeout    = 5 * time.Minute
	minDefaultMaxConns    = 8
)

// withSettings returns o with the zero fields that a connector's pool keys
// set filled from them.
func (o Options) withSettings(s libsql.PoolSettings) Options {
	if o.MaxConns == 0 && s.MaxConns != nil {
		o.MaxConns = *s.MaxConns
	}
	if o.IdleTimeout == 0 && s.IdleTimeout != nil {
		o.IdleTimeout = *s.IdleTimeout
		if o.IdleTimeout == 0 {
			o.IdleTimeout = -1
		}
	}
	if o.MaxLifetime == 0 && s.ConnLifetime != nil {
		o.MaxLifetime = *s.ConnLifetime
	}
	return o
}

// withDefaults returns o with the zero values replaced.
func (o Options) withDefaults() Options {
	if o.MaxConns <= 0 {
		o.MaxConns = max(minDefaultMaxConns, 2*runtime.GOMAXPROCS(0))
	}
	if o.AcquireTimeout == 0 {
		o.AcquireTimeout = DefaultAcquireTimeout
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	return o
}

// Errors of Get.
var (
	// ErrClosed is returned by Get after Close, and to the goroutines
	// waiting in Get when Close runs.
	ErrClosed = errors.New("pool: closed")
	// ErrAcquireTimeout is matched (errors.Is) by the error of a Get that
	// spent Options.AcquireTimeout without getting a connection, waiting
	// for one or opening one.
	ErrAcquireTimeout = errors.New("pool: no connection within Options.AcquireTimeout")
	// ErrNotBorrowed is returned by Put for a *Conn that is not borrowed
	// from the pool now: put back already, or from another pool. Put then
	// leaves the connection alone, since it may be lent to someone else.
	ErrNotBorrowed = errors.New("pool: Put of a connection that is not borrowed from this pool (put back twice?)")
)

// Conn is a connection borrowed from a Pool: a [libsql.Conn] (its methods
// are promoted) that goes back with [Pool.Put] or [Conn.Release]. It is for
// the borrowing goroutine only, and must not be used after it is put back.
// A borrower may Close it (after an error it does not trust, say); it is
// put back all the same, and the pool then drops it.
//
// Each Get returns a new *Conn, even when it lends an idle connection
// again: the *Conn stands for one borrow, so that a second Put of it is
// told apart from the Put of the connection's next borrower.
type Conn struct {
	*libsql.Conn
	p  *Pool
	pc *pooled
}

// Release puts the connection back in its pool; it is p.Put(c).
func (c *Conn) Release() error { return c.p.Put(c) }

// pooled is a connection the pool holds, across its borrows.
type pooled struct {
	lc       *libsql.Conn
	created  time.Time
	idleFrom time.Time // when it was last put back
	lease    *Conn     // the borrow in progress; nil while idle or being put back
}

// Stats are a Pool's counters (Pool.Stats).
type Stats struct {
	MaxConns int // the bound on open connections
	Open     int // connections open: InUse + Idle + being opened
	InUse    int // borrowed
	Idle     int // open, waiting to be borrowed
	Waiting  int // Gets waiting now

	Waits    int64         // Gets that had to wait, in total
	WaitTime time.Duration // time those Gets waited, in total
	Timeouts int64         // Gets that failed after AcquireTimeout (waiting or opening)
	Canceled int64         // Gets whose context ended while they waited

	Opened         int64 // connections opened, in total
	Closed         int64 // connections closed, in total (those below included, and those closed by Close)
	ClosedIdle     int64 // closed after IdleTimeout
	ClosedLifetime int64 // closed after MaxLifetime
	Discarded      int64 // put back closed, or failing to reset, and so dropped
}

// Pool is a pool of connections to one database. Its methods are safe for
// concurrent use.
type Pool struct {
	ctr     *libsql.Connector
	ownsCtr bool
	opts    Options

	mu      sync.Mutex
	idle    []*pooled // most recently put back last
	open    int       // open or being opened
	inUse   int
	waiters waitQueue
	closed  bool
	drained chan struct{} // closed when, after Close, no connection is open or being opened
	// closing ends when Close starts, cutting short the connections being
	// opened (stopClosing ends it).
	closing     context.Context
	stopClosing context.CancelFunc
	stats       Stats // counters only; the gauges are computed
	reapStop    chan struct{}
	reapDone    chan struct{}
}

// Open parses dsn (see the libsql README for its keys), applies the
// connector options copts (libsql.WithFunction, libsql.WithConnectHook,
// ...) and returns a pool of connections to it. No connection is opened
// until the first Get; a bad DSN or option fails here. The DSN's pool keys
// apply as New describes.
func Open(dsn string, opts Options, copts ...libsql.Option) (*Pool, error) {
	ctr, err := libsql.NewConnector(dsn, copts...)
	if err != nil {
		return nil, err
	}
	p := New(ctr, opts)
	p.ownsCtr = true
	return p, nil
}

// New returns a pool of connections opened with ctr (libsql.NewConnector
// takes typed options). The caller keeps ownership of ctr and closes it
// after closing the pool.
//
// The pool keys ctr was made with fill the fields opts leaves zero:
// max_conns sets MaxConns (0, no bound for database/sql, leaves the
// default: the pool always has one), idle_timeout sets IdleTimeout (0
// keeps idle connections open) and conn_lifetime sets MaxLifetime.
func New(ctr *libsql.Connector, opts Options) *Pool {
	p := &Pool{ctr: ctr, opts: opts.withSettings(ctr.PoolSettings()).withDefaults()}
	p.closing, p.stopClosing = context.WithCancel(context.Background())
	if p.reapInterval() > 0 {
		p.reapStop = make(chan struct{})
		p.reapDone = make(chan struct{})
		go p.reaper()
	}
	return p
}

// Options returns the options in force, defaults filled in.
func (p *Pool) Options() Options { return p.opts }

// Get borrows a connection: an idle one if there is one (the most recently
// used), a new one if fewer than MaxConns are open, else the first one put
// back after the Gets already waiting are served. It fails with ctx's error
// (wrapped) if ctx ends first, with an error matching ErrAcquireTimeout
// after Options.AcquireTimeout, and with ErrClosed once the pool is closed.
func (p *Pool) Get(ctx context.Context) (*Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pool: Get: %w", err)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if n := len(p.idle); n > 0 {
		var now time.Time // the clock is read only if connections expire
		if p.opts.IdleTimeout > 0 || p.opts.MaxLifetime > 0 {
			now = time.Now()
		}
		for ; n > 0; n = len(p.idle) {
			pc := p.idle[n-1]
			p.idle[n-1] = nil
			p.idle = p.idle[:n-1]
			if !now.IsZero() && p.expiredLocked(pc, now) {
				continue // closed; the reaper had not come by yet
			}
			c := p.lendLocked(pc)
			p.mu.Unlock()
			return c, nil
		}
	}
	if p.open < p.opts.MaxConns {
		p.open++
		p.mu.Unlock()
		return p.openConn(ctx, p.deadline())
	}
	w := p.waiters.push()
	p.mu.Unlock()
	return p.wait(ctx, w, p.deadline())
}

// deadline is when a Get starting now runs out of Options.AcquireTimeout
// (zero for no bound). A Get that lends an idle connection never asks (it
// reads the clock only to check the connection's age).
func (p *Pool) deadline() time.Time {
	if d := p.opts.AcquireTimeout; d > 0 {
		return time.Now().Add(d)
	}
	return time.Time{}
}

// lendLocked starts a borrow of pc and returns its *Conn.
func (p *Pool) lendLocked(pc *pooled) *Conn {
	c := &Conn{Conn: pc.lc, p: p, pc: pc}
	pc.lease = c
	p.inUse++
	return c
}

// openConn opens a connection for a Get whose slot (p.open) is counted,
// by the Get's deadline (none if zero).
func (p *Pool) openConn(ctx context.Context, deadline time.Time) (*Conn, error) {
	octx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(p.closing, cancel)() // Close cuts the opening short
	if !deadline.IsZero() {
		octx, cancel = context.WithDeadline(octx, deadline)
		defer cancel()
	}
	lc, err := p.ctr.ConnectConn(octx)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		p.stats.Opened++
	}
	if p.closed {
		p.open--
		if err == nil {
			p.stats.Closed++
			lc.Close()
		}
		p.signalDrainedLocked()
		return nil, ErrClosed
	}
	if err != nil {
		p.open--
		p.grantSlotLocked()
		if ctx.Err() == nil && octx.Err() != nil {
			p.stats.Timeouts++
			return nil, fmt.Errorf("%w (%s, opening a connection: %w)", ErrAcquireTimeout, p.opts.AcquireTimeout, err)
		}
		return nil, fmt.Errorf("pool: open a connection: %w", err)
	}
	return p.lendLocked(&pooled{lc: lc, created: time.Now()}), nil
}

// wait waits in the queue for a connection or a slot to open one, until
// the Get's deadline (none if zero).
func (p *Pool) wait(ctx context.Context, w *waiter, deadline time.Time) (*Conn, error) {
	start := time.Now()
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		timeout = t.C
	}
	var g grant
	var failure error
	select {
	case g = <-w.ch:
	case <-ctx.Done():
		failure = fmt.Errorf("pool: Get: %w", ctx.Err())
	case <-timeout:
		failure = ErrAcquireTimeout
	}
	p.mu.Lock()
	p.stats.Waits++
	p.stats.WaitTime += time.Since(start)
	if failure != nil {
		if !p.waiters.remove(w) {
			// Granted meanwhile: take the grant and hand it on.
			g = <-w.ch
			p.returnGrantLocked(g)
		}
		if failure == ErrAcquireTimeout {
			p.stats.Timeouts++
			failure = fmt.Errorf("%w (%s; %d connections in use, %d Gets waiting)", ErrAcquireTimeout, p.opts.AcquireTimeout, p.inUse, p.waiters.len())
		} else {
			p.stats.Canceled++
		}
		p.mu.Unlock()
		return nil, failure
	}
	p.mu.Unlock()
	switch {
	case g.err != nil:
		return nil, g.err
	case g.c != nil:
		return g.c, nil
	}
	return p.openConn(ctx, deadline) // a slot: open a connection in it
}

// returnGrantLocked gives back what a waiter was granted but will not use.
func (p *Pool) returnGrantLocked(g grant) {
	switch {
	case g.c != nil:
		p.inUse--
		g.c.pc.lease = nil
		p.releaseLocked(g.c.pc)
	case g.err == nil:
		p.open--
		p.grantSlotLocked()
		p.signalDrainedLocked()
	}
}

// grantSlotLocked hands the first waiter, if any, a slot to open a
// connection in (p.open counts it), after a connection closed or an open
// failed.
func (p *Pool) grantSlotLocked() {
	if p.closed || p.open >= p.opts.MaxConns {
		return
	}
	if w := p.waiters.pop(); w != nil {
		p.open++
		w.ch <- grant{}
	}
}

// Put gives a borrowed connection back. A connection inside a transaction
// (begun with BeginTx or SQL) or with rows open is rolled back and cleaned
// first; a closed one, one whose cleaning fails, and one older than
// MaxLifetime are closed instead of kept; after Close every connection put
// back is closed. Put of a *Conn that is not borrowed from p now (put back
// already, or from another pool) does nothing and returns ErrNotBorrowed.
func (p *Pool) Put(c *Conn) error {
	if c == nil || c.p != p {
		return ErrNotBorrowed
	}
	p.mu.Lock()
	pc := c.pc
	if pc.lease != c {
		p.mu.Unlock()
		return ErrNotBorrowed
	}
	pc.lease = nil
	p.mu.Unlock()
	// Reset rolls back a transaction and closes rows left open; when there
	// are none it costs a few field reads and one SQLite call.
	discard := pc.lc.Closed() || pc.lc.Reset(context.Background()) != nil
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inUse--
	if discard {
		p.stats.Discarded++
		p.closeLocked(pc)
		return nil
	}
	p.releaseLocked(pc)
	return nil
}

// releaseLocked passes a connection that is good to the first waiter, or
// keeps it idle, or closes it when it is too old or the pool is closed.
func (p *Pool) releaseLocked(pc *pooled) {
	now := time.Now()
	if p.closed {
		p.closeLocked(pc)
		return
	}
	if p.opts.MaxLifetime > 0 && now.Sub(pc.created) >= p.opts.MaxLifetime {
		p.stats.ClosedLifetime++
		p.closeLocked(pc)
		return
	}
	if w := p.waiters.pop(); w != nil {
		w.ch <- grant{c: p.lendLocked(pc)}
		return
	}
	pc.idleFrom = now
	p.idle = append(p.idle, pc)
}

// closeLocked closes a connection that is neither idle nor borrowed, and
// gives its slot to a waiter.
func (p *Pool) closeLocked(pc *pooled) {
	pc.lc.Close() // a SQLite close is quick; done under the lock for simplicity
	p.open--
	p.stats.Closed++
	p.grantSlotLocked()
	p.signalDrainedLocked()
}

// signalDrainedLocked wakes Close once no connection is open, borrowed or
// being opened (p.open counts them all; idle ones are closed by then).
func (p *Pool) signalDrainedLocked() {
	if p.closed && p.open == 0 && p.drained != nil {
		select {
		case <-p.drained:
		default:
			close(p.drained)
		}
	}
}

// Close closes the pool: Gets fail with ErrClosed from now on (those
// waiting too, and those opening a connection, which is cut short), idle
// connections are closed, and the reaper stops. Then it waits until every
// borrowed connection is put back (each is closed as it comes), and every
// opening has ended, or ctx ends. In that case it returns an error
// naming how many were still borrowed or being opened, and wrapping ctx's
// error; they are closed when they are put back or opened. A pool opened with Open closes its connector too. Close may be
// called again, to wait again.
func (p *Pool) Close(ctx context.Context) error {
	p.mu.Lock()
	first := !p.closed
	if first {
		p.closed = true
		p.stopClosing()
		p.drained = make(chan struct{})
		for w := p.waiters.pop(); w != nil; w = p.waiters.pop() {
			w.ch <- grant{err: ErrClosed}
		}
		for _, pc := range p.idle {
			p.closeLocked(pc)
		}
		clear(p.idle)
		p.idle = nil
		p.signalDrainedLocked()
	}
	drained := p.drained
	p.mu.Unlock()
	if first && p.reapStop != nil {
		close(p.reapStop)
		<-p.reapDone
	}
	select {
	case <-drained:
	case <-ctx.Done():
		p.mu.Lock()
		n := p.open
		p.mu.Unlock()
		if n > 0 {
			// For a file database the connector holds nothing the borrowed
			// connections need; an in-memory one lives while they are open.
			return errors.Join(fmt.Errorf("pool: Close: %d connections still borrowed or being opened: %w", n, ctx.Err()), p.closeConnector())
		}
	}
	return p.closeConnector()
}

// closeConnector closes the connector of a pool opened with Open, once.
func (p *Pool) closeConnector() error {
	p.mu.Lock()
	owns := p.ownsCtr
	p.ownsCtr = false
	p.mu.Unlock()
	if owns {
		return p.ctr.Close()
	}
	return nil
}

// Stats returns the pool's counters and gauges.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.MaxConns = p.opts.MaxConns
	s.Open = p.open
	s.InUse = p.inUse
	s.Idle = len(p.idle)
	s.Waiting = p.waiters.len()
	return s
}

// reapInterval is how often the reaper looks for idle connections to
// close: a quarter of the shorter of IdleTimeout and MaxLifetime, between
// 10 ms and 1 minute; 0 when neither applies.
func (p *Pool) reapInterval() time.Duration {
	d := time.Duration(0)
	for _, t := range []time.Duration{p.opts.IdleTimeout, p.opts.MaxLifetime} {
		if t > 0 && (d == 0 || t < d) {
			d = t
		}
	}
	if d == 0 {
		return 0
	}
	return min(max(d/4, 10*time.Millisecond), time.Minute)
}

// reaper closes idle connections past IdleTimeout or MaxLifetime, until
// Close.
func (p *Pool) reaper() {
	defer close(p.reapDone)
	t := time.NewTicker(p.reapInterval())
	defer t.Stop()
	for {
		select {
		case <-p.reapStop:
			return
		case now := <-t.C:
			p.reap(now)
		}
	}
}

// reap closes the idle connections past their time at now.
func (p *Pool) reap(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	keep := p.idle[:0]
	for _, pc := range p.idle {
		if !p.expiredLocked(pc, now) {
			keep = append(keep, pc)
		}
	}
	clear(p.idle[len(keep):])
	p.idle = keep
}

// expiredLocked closes pc, an idle connection taken out of p.idle, and
// reports true if at now it is past IdleTimeout or MaxLifetime.
func (p *Pool) expiredLocked(pc *pooled, now time.Time) bool {
	switch {
	case p.opts.IdleTimeout > 0 && now.Sub(pc.idleFrom) >= p.opts.IdleTimeout:
		p.stats.ClosedIdle++
	case p.opts.MaxLifetime > 0 && now.Sub(pc.created) >= p.opts.MaxLifetime:
		p.stats.ClosedLifetime++
	default:
		return false
	}
	p.closeLocked(pc)
	return true
}

// Read runs fn on a borrowed connection inside a read-only transaction (a
// snapshot of the database: writes fail with libsql.ErrReadOnly), and puts
// the connection back. fn's error is returned.
func (p *Pool) Read(ctx context.Context, fn func(*Conn) error) error {
	return p.tx(ctx, &sql.TxOptions{ReadOnly: true}, fn)
}

// Write runs fn on a borrowed connection inside a BEGIN IMMEDIATE
// transaction (the write lock is taken at once, waiting up to the busy
// timeout) and commits it; if fn fails (or panics) the transaction is
// rolled back and fn's error returned.
func (p *Pool) Write(ctx context.Context, fn func(*Conn) error) error {
	return p.tx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable}, fn)
}

// tx runs fn in a transaction begun with opts on a borrowed connection.
func (p *Pool) tx(ctx context.Context, opts *sql.TxOptions, fn func(*Conn) error) error {
	c, err := p.Get(ctx)
	if err != nil {
		return err
	}
	defer p.Put(c) // rolls back what a panic in fn left open
	if err := c.BeginTx(ctx, opts); err != nil {
		return err
	}
	if err := fn(c); err != nil {
		c.Rollback()
		return err
	}
	return c.Commit()
}

// Concurrent runs fn on a borrowed connection inside a BEGIN CONCURRENT
// transaction and commits it, with the semantics of libsql.RetryTx: while
// the commit (or fn) fails with libsql.ErrBusySnapshot — another
// transaction committed a conflicting change since this one began — the
// whole transaction is rolled back and run again, after a jittered
// exponential backoff, in BEGIN IMMEDIATE (which cannot conflict), until
// it commits, fails otherwise, or ctx ends.
//
// fn may therefore run several times: it must have no effects outside the
// transaction (no sends on channels, no writes to other systems, no
// appends to slices that outlive it), and must return the errors of the
// connection's calls as they are, so that a conflict is recognized.
func (p *Pool) Concurrent(ctx context.Context, fn func(*Conn) error) error {
	c, err := p.Get(ctx)
	if err != nil {
		return err
	}
	defer p.Put(c)
	return c.RetryTx(ctx, &sql.TxOptions{Isolation: libsql.LevelConcurrent}, func(*libsql.Conn) error {
		return fn(c)
	})
}

// grant is what a waiter receives: a connection, a slot to open one in
// (both zero), or an error.
type grant struct {
	c   *Conn
	err error
}

// waiter is one Get waiting; ch has room for its one grant, so granting
// never blocks.
type waiter struct {
	ch         chan grant
	prev, next *waiter
	queued     bool
}

// waitQueue is the FIFO of waiting Gets, a doubly linked list so that a
// Get giving up leaves it in O(1).
type waitQueue struct {
	head, tail *waiter
	n          int
}

func (q *waitQueue) push() *waiter {
	w := &waiter{ch: make(chan grant, 1), queued: true}
	if q.tail == nil {
		q.head = w
	} else {
		q.tail.next = w
		w.prev = q.tail
	}
	q.tail = w
	q.n++
	return w
}

// pop removes and returns the first waiter, or nil.
func (q *waitQueue) pop() *waiter {
	w := q.head
	if w != nil {
		q.remove(w)
	}
	return w
}

// remove takes w out of the queue and reports whether it was in it.
func (q *waitQueue) remove(w *waiter) bool {
	if !w.queued {
		return false
	}
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		q.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		q.tail = w.prev
	}
	w.prev, w.next, w.queued = nil, nil, false
	q.n--
	return true
}

func (q *waitQueue) len() int { return q.n }
