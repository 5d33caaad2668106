package changefeed

import (
	"context"
	"fmt"
	"sync"
)

// Source is a database's durable change history: the driver implements it
// over its CDC storage when durable CDC is on. Streams call it from
// [Stream.Next], on the consumer's goroutine, to start in the past or to
// catch up after falling behind.
//
// A Source must see every transaction the hub has already published (the
// driver publishes after the commit is durable, and stores the changes in
// the same commit, so a read started after Publish returned finds them).
type Source interface {
	// ReadAfter returns up to limit committed transactions with LSN > after,
	// in LSN order, filled as by [Tx.Fill]. It may return fewer, to bound
	// the memory of one read (at least one, if there is one); none means
	// there were no more at the time of the read. The slice and the
	// transactions belong to the caller.
	//
	// If some transaction with LSN > after is no longer retained (pruned),
	// it must return an error wrapping [ErrPruned] rather than skip it:
	// that is how a stream knows it has a gap. For after = [Oldest] (1)
	// "everything retained" is meant, but a Source may also report
	// ErrPruned then; the stream asks Oldest and starts there.
	ReadAfter(ctx context.Context, after LSN, limit int) ([]*Tx, error)

	// Oldest returns the LSN of the oldest retained transaction, or 0 if
	// none is retained.
	Oldest(ctx context.Context) (LSN, error)
}

// Defaults of [HubOptions] and [Options].
const (
	DefaultHistory      = 256     // transactions a hub keeps in memory
	DefaultHistoryBytes = 8 << 20 // bytes of changes a hub keeps in memory (an estimate of their size)
	DefaultBuffer       = 4096    // changes a stream may hold unread
)

// readBatch is how many transactions a stream reads from history at once:
// from the hub's memory, and at most from the Source, where a stream asks
// for about sourceBatchBytes of changes at a time (sourceFirstBatch
// transactions before it knows their size), so that a read fits in a
// Next with a short deadline and its memory stays bounded.
const (
	readBatch        = 256
	sourceFirstBatch = 8
	sourceBatchBytes = 1 << 20
)

// HubOptions configure a [Hub].
type HubOptions struct {
	// Source is the durable history, or nil when CDC is not durable.
	Source Source
	// History is how many of the latest transactions the hub keeps in
	// memory, to start streams slightly in the past (Options.Since) and to
	// let a stream that fell behind catch up without a Source. 0 means
	// DefaultHistory; a negative value keeps none.
	History int
	// HistoryBytes bounds the memory of that history, as estimated from
	// the size of each change's names and values, so that large
	// transactions are not kept by the hundred whether or not a stream
	// needs them. 0 or less means DefaultHistoryBytes; with History
	// negative nothing is kept whatever this says.
	HistoryBytes int
}

// Hub fans committed transactions out to streams: one per database, shared
// by every connection. Its methods are safe for concurrent use, except that
// Publish must be called by one goroutine at a time.
type Hub struct {
	mu sync.Mutex
	// src is the durable history; srcFrom, when not 0, is the LSN from
	// which it is complete (it was given late, by SetSource: transactions
	// published before were not stored).
	src     Source
	srcFrom LSN
	closed  bool
	last    LSN       // newest published LSN, or the SetLast position
	ring    []*Tx     // the in-memory history, a ring of len(ring) slots
	rsize   []int     // the memory of each ring slot's transaction (memSize)
	rbytes  int       // the sum of rsize over the history
	rmax    int       // the bound on rbytes (HistoryBytes)
	rhead   int       // index of the oldest transaction in ring
	rlen    int       // transactions in ring
	rbase   LSN       // ring holds every transaction published with LSN > rbase
	subs    []*Stream // open streams; Stream.idx is the position
}

// NewHub returns a hub with nothing published; the driver calls SetLast
// before publishing.
func NewHub(opts HubOptions) *Hub {
	n := opts.History
	if n == 0 {
		n = DefaultHistory
	}
	h := &Hub{src: opts.Source, rmax: opts.HistoryBytes}
	if h.rmax <= 0 {
		h.rmax = DefaultHistoryBytes
	}
	if n > 0 {
		h.ring = make([]*Tx, n)
		h.rsize = make([]int, n)
	}
	return h
}

// Publish hands a committed transaction to every stream. The caller calls
// it from one goroutine at a time, in strictly increasing LSN order, after
// the commit is durable, with tx filled (see [Tx.Fill]; streams stamp LSN,
// Index and CommitTime from tx anyway). A transaction with no changes may
// be published: it advances the streams' LSN.
//
// A transaction elided by the publisher ([Tx.Elide]) is published
// without its changes: streams read it from the Source.
//
// Publish never waits for a consumer: it appends tx to each stream's queue
// if the stream has room (Options.Buffer), and otherwise marks the stream
// as lagging from tx.LSN; its work is O(number of streams), and it does not
// allocate except to grow a queue. The hub keeps tx (in its history and the
// streams' queues) and consumers read it concurrently: the caller must not
// modify tx or anything it points to afterwards.
//
// It panics if tx.LSN is not greater than Last() or is not greater than
// [Oldest]: those are broken invariants of the caller. After Close it does
// nothing.
func (h *Hub) Publish(tx *Tx) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	if tx.LSN <= h.last || tx.LSN <= Oldest {
		panic(fmt.Sprintf("changefeed: Publish of LSN %v, not after the last published LSN %v", tx.LSN, h.last))
	}
	h.last = tx.LSN
	h.remember(tx)
	for _, s := range h.subs {
		s.offer(tx)
	}
}

// remember adds tx to the history ring, evicting the oldest while it is
// full or holds too many bytes; a transaction larger than the bound, or
// elided, empties it (the history then starts after tx).
func (h *Hub) remember(tx *Tx) {
	n := len(h.ring)
	if n == 0 {
		h.rbase = tx.LSN
		return
	}
	size := tx.memSize()
	if tx.elided {
		size = h.rmax + 1
	}
	for h.rlen > 0 && (h.rlen == n || h.rbytes+size > h.rmax) {
		h.rbase = h.ring[h.rhead].LSN
		h.rbytes -= h.rsize[h.rhead]
		h.ring[h.rhead] = nil
		h.rhead = (h.rhead + 1) % n
		h.rlen--
	}
	if size > h.rmax {
		h.rbase = tx.LSN
		return
	}
	i := (h.rhead + h.rlen) % n
	h.ring[i], h.rsize[i] = tx, size
	h.rlen++
	h.rbytes += size
}

func (h *Hub) ringAt(i int) *Tx { return h.ring[(h.rhead+i)%len(h.ring)] }

// readRing appends to buf up to limit transactions of the history with
// LSN > after, if the history reaches back that far (ok). more says whether
// the history holds more after those. h.mu must be held.
func (h *Hub) readRing(after LSN, buf []*Tx, limit int) (_ []*Tx, more, ok bool) {
	if after < h.rbase {
		return buf, false, false
	}
	lo, hi := 0, h.rlen // first index with LSN > after
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if h.ringAt(m).LSN <= after {
			lo = m + 1
		} else {
			hi = m
		}
	}
	end := h.rlen
	if limit > 0 && end-lo > limit {
		end = lo + limit
	}
	for i := lo; i < end; i++ {
		buf = append(buf, h.ringAt(i))
	}
	return buf, end < h.rlen, true
}

// Last returns the newest published LSN (or the SetLast position if it is
// newer, or nothing was published yet). A stream with Since = 0 starts there.
func (h *Hub) Last() LSN {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

// SetLast sets the position of "now" before anything was published: the
// LSN of the newest commit already in the database. The driver calls it at
// open. The in-memory history then starts there: a stream asking for
// anything older reads the Source. A value not above Last() is ignored.
func (h *Hub) SetLast(l LSN) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if l <= h.last {
		return
	}
	h.last = l
	if h.rlen == 0 {
		h.rbase = l
	}
}

// SetSource gives a hub made without a Source the durable history, which
// holds every transaction published with an LSN above from (durable CDC
// started at from: those before were not stored). History older than from
// then comes from memory only, or the stream lags: the Source would skip
// what it lacks. A hub that has a Source keeps it, and SetSource reports
// false.
func (h *Hub) SetSource(src Source, from LSN) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.src != nil || src == nil {
		return false
	}
	h.src, h.srcFrom = src, from
	return true
}

// source returns the durable history and the LSN from which it is
// complete (0: all of it).
func (h *Hub) source() (Source, LSN) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.src, h.srcFrom
}

// Subscribers returns the number of open streams.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Subscribe opens a stream (see [Options] for where it starts). It fails
// with ErrClosed after Close, or if opts is invalid. The stream must be
// closed when no longer needed: an open stream that is not read keeps up
// to Options.Buffer changes' transactions alive, then lags.
func (h *Hub) Subscribe(opts Options) (*Stream, error) {
	return h.SubscribeHolding(opts, nil)
}

// SubscribeHolding is [Hub.Subscribe] for a stream that holds a resource
// for its lifetime (the driver keeps the database open while a stream is):
// release, if not nil, is called once, by the stream's first Close, and
// Close returns its error. If SubscribeHolding fails, release is not
// called: the caller still holds the resource.
func (h *Hub) SubscribeHolding(opts Options, release func() error) (*Stream, error) {
	s, err := newStream(h, opts)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		s.cancel()
		return nil, ErrClosed
	}
	s.release = release
	since := opts.Since
	switch {
	case since == Now:
		s.pos.Store(uint64(h.last))
	case since == Oldest && h.src != nil && h.srcFrom != 0:
		// A late Source is complete from srcFrom, memory from rbase: the
		// oldest start with no gap is the earlier of the two.
		start := min(h.rbase, h.srcFrom)
		s.pos.Store(uint64(start))
		if start == h.rbase {
			s.hist, _, _ = h.readRing(start, nil, 0)
		} else {
			s.oldest = true // retention may have pruned past srcFrom: start at what it kept
			s.startHistory(0)
		}
	case since == Oldest && h.src != nil:
		s.pos.Store(uint64(Oldest))
		s.oldest = true
		s.startHistory(0)
	case since == Oldest:
		s.pos.Store(uint64(max(h.rbase, Oldest)))
		s.hist, _, _ = h.readRing(h.rbase, nil, 0)
	case since >= h.last:
		s.pos.Store(uint64(since))
	case since >= h.rbase:
		s.pos.Store(uint64(since))
		s.hist, _, _ = h.readRing(since, nil, 0)
	default: // older than the memory history: the Source, or a LaggedError
		s.pos.Store(uint64(since))
		s.startHistory(0)
	}
	s.idx = len(h.subs)
	h.subs = append(h.subs, s)
	return s, nil
}

// remove takes s out of the subscribers, if it is there.
func (h *Hub) remove(s *Stream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	i := s.idx
	if i < 0 || i >= len(h.subs) || h.subs[i] != s {
		return
	}
	last := len(h.subs) - 1
	h.subs[i] = h.subs[last]
	h.subs[i].idx = i
	h.subs[last] = nil
	h.subs = h.subs[:last]
	s.idx = -1
}

// Close ends every stream (their Next returns ErrClosed) and makes later
// Subscribe calls fail with ErrClosed and Publish calls do nothing.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for _, s := range h.subs {
		s.idx = -1
		s.shut()
	}
	h.subs = nil
	clear(h.ring)
	h.rlen, h.rbytes = 0, 0
}
