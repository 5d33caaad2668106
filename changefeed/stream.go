package changefeed

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Options say where a stream starts and which changes it yields.
type Options struct {
	// Since is where the stream starts: 0 ([Now]) yields only transactions
	// published after Subscribe; [Oldest] every transaction still retained;
	// any other value every transaction with LSN > Since, exactly (a saved
	// [Stream.LSN] resumes with no gap and no duplicate). History comes
	// from the hub's memory if it reaches back far enough, else from the
	// Source; without one the first Next returns a [*LaggedError].
	Since LSN
	// Tables keeps only changes to these tables (compared as SQLite
	// compares names: ASCII letters in any case). Nil or empty: all tables.
	Tables []string
	// Ops keeps only these operations. Nil or empty: all of them.
	Ops []Op
	// Buffer is how many changes (counted over whole transactions, before
	// filtering) the stream may hold unread before it lags; 0 means
	// DefaultBuffer. A transaction bigger than Buffer is still queued when
	// the queue is empty, so a stream that keeps up never lags on it.
	Buffer int
}

var errConcurrentNext = errors.New("changefeed: Next called concurrently on one Stream")

// Stream yields the row changes of committed transactions in commit order:
// transactions in LSN order, each one's (filtered) changes contiguous and
// in Index order, each exactly once.
//
// Next and All are for one consumer goroutine at a time (a concurrent call
// fails); LSN and Close may be called from any goroutine.
//
// A stream that falls more than Options.Buffer changes behind is marked as
// lagging: it queues nothing more, and when its consumer has read what was
// queued it reads the missing transactions from the hub's memory or its
// Source, in batches, on the consumer's goroutine inside Next, then
// switches back to the live queue with no gap and no duplicate. If neither
// has them any more, Next returns a [*LaggedError] and the stream is over.
type Stream struct {
	h      *Hub
	buffer int
	ops    uint8               // bit 1<<op for each wanted op; 0: all
	tables []string            // lower-cased names; nil: all
	tabSet map[string]struct{} // the same, when there are many

	pos    atomic.Uint64      // LSN(): every transaction up to it was delivered
	busy   atomic.Bool        // a Next is running
	life   context.Context    // canceled when the stream is closed
	done   <-chan struct{}    // life.Done()
	cancel context.CancelFunc // cancels life
	wake   chan struct{}      // capacity 1: "the queue changed"

	mu      sync.Mutex // guards the fields below; Publish takes it under Hub.mu
	q       []*Tx      // live queue: a ring of len(q) slots
	qhead   int
	qlen    int
	queued  int  // changes in the queue
	lagged  bool // a transaction did not fit; nothing queued since
	lagFrom LSN  // the first transaction that did not fit
	closed  bool
	idx     int // position in h.subs, -1 when not there; guarded by h.mu

	release     func() error // see Hub.SubscribeHolding; set before the stream is returned
	releaseOnce sync.Once

	// Consumer state, owned by the goroutine in Next.
	cur       *Tx    // transaction being delivered
	ci        int    // index in cur of the next change to deliver
	hist      []*Tx  // history batch being delivered
	hi        int    // next index in hist
	histBuf   []*Tx  // reused buffer for batches read from the hub's memory
	srcLimit  int    // transactions the next read from the Source asks for (0: sourceFirstBatch)
	needHist  bool   // history must be read before the live queue
	histRead  bool   // a batch was read since needHist was set
	histMore  bool   // the last batch was full: there may be more
	histLast  LSN    // LSN of the last transaction of the last batch
	oldest    bool   // Since was Oldest and no history was read yet
	dropped   LSN    // lag point, for the LaggedError
	failed    error  // the LaggedError that ended the stream
	lastTable string // cache of the table filter
	lastMatch bool
}

func newStream(h *Hub, opts Options) (*Stream, error) {
	if opts.Buffer < 0 {
		return nil, fmt.Errorf("changefeed: Options.Buffer %d is negative", opts.Buffer)
	}
	s := &Stream{h: h, buffer: opts.Buffer, idx: -1, wake: make(chan struct{}, 1)}
	if s.buffer == 0 {
		s.buffer = DefaultBuffer
	}
	for _, op := range opts.Ops {
		if !op.Valid() {
			return nil, fmt.Errorf("changefeed: Options.Ops has invalid %v", op)
		}
		s.ops |= 1 << op
	}
	for _, t := range opts.Tables {
		s.tables = append(s.tables, asciiLower(t))
	}
	if len(s.tables) > 8 {
		s.tabSet = make(map[string]struct{}, len(s.tables))
		for _, t := range s.tables {
			s.tabSet[t] = struct{}{}
		}
	}
	s.life, s.cancel = context.WithCancel(context.Background())
	s.done = s.life.Done()
	return s, nil
}

// asciiLower folds ASCII letters, as SQLite does for identifiers.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + ('a' - 'A')
				}
			}
			return string(b)
		}
	}
	return s
}

// offer queues tx or marks the stream as lagging from tx, if it does not
// fit or is elided (Tx.Elide: the stream reads it from the Source). Publish
// calls it with h.mu held; it never waits for the consumer.
func (s *Stream) offer(tx *Tx) {
	s.mu.Lock()
	if s.closed || s.lagged {
		s.mu.Unlock()
		return
	}
	cost := max(len(tx.Changes), 1)
	if tx.elided || s.qlen > 0 && s.queued+cost > s.buffer {
		s.lagged, s.lagFrom = true, tx.LSN
	} else {
		if s.qlen == len(s.q) {
			s.grow()
		}
		s.q[(s.qhead+s.qlen)%len(s.q)] = tx
		s.qlen++
		s.queued += cost
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Stream) grow() {
	q := make([]*Tx, max(2*len(s.q), 16))
	for i := 0; i < s.qlen; i++ {
		q[i] = s.q[(s.qhead+i)%len(s.q)]
	}
	s.q, s.qhead = q, 0
}

// pop takes the oldest queued transaction; s.mu must be held.
func (s *Stream) pop() *Tx {
	tx := s.q[s.qhead]
	s.q[s.qhead] = nil
	s.qhead++
	if s.qhead == len(s.q) {
		s.qhead = 0
	}
	s.qlen--
	s.queued -= max(len(tx.Changes), 1)
	return tx
}

// shut marks the stream closed and wakes its consumer.
func (s *Stream) shut() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		for s.qlen > 0 {
			s.pop()
		}
		s.q = nil
	}
	s.mu.Unlock()
	s.cancel()
}

// Close ends the stream: a Next blocked in it or called later returns
// ErrClosed. It is safe from any goroutine and idempotent. It returns nil,
// or for a stream of [Hub.SubscribeHolding] the error of releasing what the
// stream held (the first call only).
func (s *Stream) Close() error {
	s.h.remove(s)
	s.shut()
	var err error
	s.releaseOnce.Do(func() {
		if s.release != nil {
			err = s.release()
		}
	})
	return err
}

// LSN returns the resume point: every transaction with LSN up to it was
// delivered in full (its last change that passes the filters was returned
// by Next), and none after it. A stream opened with Options.Since = LSN()
// continues exactly where this one stopped. Before anything was delivered
// it is where the stream started (the hub's Last for Since = 0; 1, Oldest,
// for Since = Oldest until the history was first read).
func (s *Stream) LSN() LSN { return LSN(s.pos.Load()) }

// Next returns the next change. It blocks until there is one, ctx ends
// (it returns ctx.Err()), or the stream or its hub is closed (ErrClosed).
// An error reading the Source is returned as it is, wrapped; the stream
// stays usable and the next call retries. A [*LaggedError] ends the stream.
//
// The returned Change shares its slices with other streams: do not modify
// them.
func (s *Stream) Next(ctx context.Context) (Change, error) {
	if err := ctx.Err(); err != nil {
		return Change{}, err
	}
	if !s.busy.CompareAndSwap(false, true) {
		return Change{}, errConcurrentNext
	}
	defer s.busy.Store(false)
	for {
		select {
		case <-s.done:
			return Change{}, ErrClosed
		default:
		}
		if s.cur != nil {
			return s.take(), nil
		}
		if s.failed != nil {
			return Change{}, s.failed
		}
		if s.hi < len(s.hist) {
			tx := s.hist[s.hi]
			s.hist[s.hi] = nil
			s.hi++
			s.begin(tx)
			continue
		}
		if s.needHist {
			if err := s.readHistory(ctx); err != nil {
				return Change{}, err
			}
			continue
		}
		s.mu.Lock()
		if s.qlen > 0 {
			tx := s.pop()
			s.mu.Unlock()
			s.begin(tx)
			continue
		}
		if s.lagged {
			// Resubscribe to the live feed first, then read what was
			// missed; begin skips the overlap.
			s.lagged = false
			s.dropped = s.lagFrom
			s.mu.Unlock()
			s.startHistory(s.dropped)
			continue
		}
		s.mu.Unlock()
		if s.spin() {
			continue
		}
		select {
		case <-s.wake:
		case <-s.done:
		case <-ctx.Done():
			return Change{}, ctx.Err()
		}
	}
}

// spinWait is how long a consumer with nothing to read polls before it
// parks. Waking a parked consumer costs the committing goroutine a futex
// call and a scheduling round on every commit; a consumer that keeps up
// with a steady stream of commits finds the next one while it polls, and
// parks only when they stop coming for this long.
const spinWait = 50 * time.Microsecond

// spin polls for a wake-up for up to spinWait, yielding the processor
// between polls, and reports whether one came.
func (s *Stream) spin() bool {
	if runtime.GOMAXPROCS(0) < 2 {
		return false
	}
	var deadline time.Time
	for i := 0; ; i++ {
		select {
		case <-s.wake:
			return true
		default:
		}
		if i&15 == 15 {
			now := time.Now()
			if deadline.IsZero() {
				deadline = now.Add(spinWait)
			} else if now.After(deadline) {
				return false
			}
		}
		runtime.Gosched()
	}
}

// All returns an iterator over the stream's changes, for a range loop:
//
//	for ch, err := range stream.All(ctx) { ... }
//
// It yields what Next returns and stops after yielding an error. Breaking
// out of the loop leaves the stream open, positioned after the last change
// yielded.
func (s *Stream) All(ctx context.Context) iter.Seq2[Change, error] {
	return func(yield func(Change, error) bool) {
		for {
			c, err := s.Next(ctx)
			if err != nil {
				yield(Change{}, err)
				return
			}
			if !yield(c, nil) {
				return
			}
		}
	}
}

// match reports whether c passes the stream's filters.
func (s *Stream) match(c *Change) bool {
	if s.ops != 0 && s.ops&(1<<c.Op) == 0 {
		return false
	}
	if s.tables == nil {
		return true
	}
	if c.Table != s.lastTable || s.lastTable == "" {
		s.lastTable, s.lastMatch = c.Table, s.matchTable(c.Table)
	}
	return s.lastMatch
}

func (s *Stream) matchTable(name string) bool {
	if s.tabSet != nil {
		_, ok := s.tabSet[asciiLower(name)]
		return ok
	}
	for _, t := range s.tables {
		if asciiEqualFold(t, name) {
			return true
		}
	}
	return false
}

// asciiEqualFold compares lower (already folded) with s, folding ASCII
// letters of s.
func asciiEqualFold(lower, s string) bool {
	if len(lower) != len(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// next returns the index of the first change of tx at or after i that
// passes the filters, or len(tx.Changes).
func (s *Stream) next(tx *Tx, i int) int {
	for ; i < len(tx.Changes); i++ {
		if s.match(&tx.Changes[i]) {
			break
		}
	}
	return i
}

// begin starts delivering tx, skipping it if it was delivered already and
// completing it at once if no change passes the filters.
func (s *Stream) begin(tx *Tx) {
	if tx.LSN <= s.LSN() {
		return
	}
	if i := s.next(tx, 0); i < len(tx.Changes) {
		s.cur, s.ci = tx, i
		return
	}
	s.pos.Store(uint64(tx.LSN))
}

// take returns the current change and moves on; after the transaction's
// last wanted change the stream's LSN becomes the transaction's.
func (s *Stream) take() Change {
	tx := s.cur
	c := tx.Changes[s.ci]
	c.LSN, c.Index, c.CommitTime = tx.LSN, s.ci, tx.CommitTime
	if s.ci = s.next(tx, s.ci+1); s.ci == len(tx.Changes) {
		s.cur = nil
		s.pos.Store(uint64(tx.LSN))
	}
	return c
}

// startHistory makes the consumer read history before the live queue;
// dropped is the lag point (0 for a start in the past).
func (s *Stream) startHistory(dropped LSN) {
	s.needHist, s.histRead, s.histMore = true, false, false
	s.dropped = dropped
}

// readHistory reads the next batch of missed transactions into hist, from
// the hub's memory or the Source, or ends the catch-up when the history
// read so far meets the live queue.
func (s *Stream) readHistory(ctx context.Context) error {
	if s.histRead {
		if !s.histMore {
			s.needHist = false
			return nil
		}
		s.mu.Lock()
		overlap := s.qlen > 0 && s.q[s.qhead].LSN <= s.histLast
		s.mu.Unlock()
		if overlap {
			s.needHist = false
			return nil
		}
	}
	after := s.LSN()
	h := s.h
	if !s.oldest {
		h.mu.Lock()
		buf, more, ok := h.readRing(after, s.histBuf[:0], readBatch)
		h.mu.Unlock()
		if ok {
			s.histBuf = buf
			s.setHist(buf, more)
			return nil
		}
	}
	src, from := h.source()
	if src == nil || after < from {
		return s.fail(&LaggedError{LSN: after, Dropped: s.dropped})
	}

	// Close must interrupt a slow read.
	rctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.life, cancel)
	limit := cmp.Or(s.srcLimit, sourceFirstBatch)
	txs, err := src.ReadAfter(rctx, after, limit)
	stop()
	cancel()
	select {
	case <-s.done:
		return ErrClosed
	default:
	}
	if errors.Is(err, ErrPruned) && s.oldest {
		o, err := src.Oldest(ctx)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("changefeed: find the oldest retained LSN: %w", err)
		case o == 0: // nothing retained: only the live queue
			s.oldest = false
			s.setHist(nil, false)
			return nil
		case o-1 > after:
			s.pos.Store(uint64(o - 1))
			return nil // retry from there
		}
	}
	if errors.Is(err, ErrPruned) {
		return s.fail(&LaggedError{LSN: after, Dropped: s.dropped})
	}
	if err != nil {
		if ctx.Err() != nil {
			// Cut short: the next Next asks for less, so that a consumer
			// whose deadlines are short still makes progress.
			s.srcLimit = max(1, limit/2)
			return ctx.Err()
		}
		return fmt.Errorf("changefeed: read history after LSN %v: %w", after, err)
	}
	s.oldest = false
	s.setHist(txs, len(txs) > 0) // a short batch may be the Source's bound: only an empty one ends the history
	if len(txs) > 0 {
		size := 0
		for _, tx := range txs {
			size += tx.memSize()
		}
		s.srcLimit = min(readBatch, max(1, sourceBatchBytes*len(txs)/max(size, 1)))
	}
	return nil
}

func (s *Stream) setHist(txs []*Tx, more bool) {
	s.hist, s.hi = txs, 0
	s.histRead = true
	s.histMore = more && len(txs) > 0
	if len(txs) > 0 {
		s.histLast = txs[len(txs)-1].LSN
	}
}

// fail ends the stream with err.
func (s *Stream) fail(err error) error {
	s.failed = err
	s.needHist = false
	s.h.remove(s)
	s.mu.Lock()
	for s.qlen > 0 {
		s.pop()
	}
	s.q = nil
	s.mu.Unlock()
	return err
}
