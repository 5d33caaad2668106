package changefeed

// Review 4: the late Source (SetSource) and the adaptive Source batches of
// 79573ac.

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// r4Sizes wraps a Source and records, for every ReadAfter, the limit asked
// and the estimated memory (memSize) of what it returned.
type r4Sizes struct {
	Source
	mu     sync.Mutex
	limits []int
	bytes  []int
}

func (r *r4Sizes) ReadAfter(ctx context.Context, after LSN, limit int) ([]*Tx, error) {
	txs, err := r.Source.ReadAfter(ctx, after, limit)
	n := 0
	for _, tx := range txs {
		n += tx.memSize()
	}
	r.mu.Lock()
	r.limits = append(r.limits, limit)
	r.bytes = append(r.bytes, n)
	r.mu.Unlock()
	return txs, err
}

// r4BlobTx is a transaction of one insert carrying a blob of size bytes.
func r4BlobTx(lsn LSN, size int) *Tx {
	tx := &Tx{LSN: lsn, CommitTime: testTime, Changes: []Change{{
		Table: "big", Op: Insert, RowID: int64(lsn), Columns: []string{"b"}, New: []any{make([]byte, size)},
	}}}
	return tx.Fill()
}

// TestReview4SourceBatchBytesUnbounded: "a stream catching up reads the
// stored history about 1 MiB at a time" (README). The stream sizes its
// next request from the previous batch (readHistory: srcLimit =
// sourceBatchBytes*len/size), so a run of small transactions followed by
// large ones makes it ask for 256 transactions at once, whatever their
// size: here 8 transactions of ~300 bytes, then 64 KiB ones, and the second
// read returns 16 MiB (with 4 MiB rows it would be 1 GiB, in one Next).
// The bound must be applied while reading: a Source bounds the bytes of a
// read (the driver's reads about 1 MiB), which the stream no longer takes
// for the end of the history; this one cuts at sourceBatchBytes.
func TestReview4SourceBatchBytesUnbounded(t *testing.T) {
	fs := &fakeSource{}
	src := &r4Sizes{Source: &r4Bounded{Source: fs}}
	h := NewHub(HubOptions{Source: src, History: -1})
	h.SetLast(baseLSN)
	t.Cleanup(h.Close)
	lsn := baseLSN
	for i := range 8 + 256 {
		lsn++
		tx := makeTx(lsn, "small", 1)
		if i >= 8 {
			tx = r4BlobTx(lsn, 64<<10)
		}
		fs.add(tx)
		h.Publish(tx)
	}
	s, err := h.Subscribe(Options{Since: baseLSN, Buffer: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	drain(t, s, 8+256)
	src.mu.Lock()
	defer src.mu.Unlock()
	for i, b := range src.bytes {
		if b > 2*sourceBatchBytes {
			t.Fatalf("read %d from the Source asked for %d transactions and returned ~%d KiB, more than twice the %d KiB a read is meant to hold (limits %v, bytes %v)", i, src.limits[i], b>>10, sourceBatchBytes>>10, src.limits, src.bytes)
		}
	}
}

// TestReview4LateSourceOldestPruned: Since = Oldest on a hub whose Source
// came late (SetSource) starts at min(rbase, srcFrom) without the Oldest
// handling (s.oldest is not set): when retention has pruned the Source
// past srcFrom, the stream ends with ErrStreamLagged instead of starting
// at the oldest retained transaction, which both the Source and the hub's
// memory still hold. With a Source given at the start the same stream
// starts at the oldest retained one (TestSinceOldestPruned).
func TestReview4LateSourceOldestPruned(t *testing.T) {
	fs := &fakeSource{}
	f := newFeed(t, nil, 2) // no Source yet; two transactions of memory
	f.publish(2, 1, "t")    // before durable CDC: not stored
	if !f.hub.SetSource(fs, f.lsn) {
		t.Fatal("SetSource refused")
	}
	f.src = fs
	stored := f.publish(4, 1, "t")
	fs.prune(stored[1].LSN) // retention
	s, err := f.hub.Subscribe(Options{Since: Oldest})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var got []key
	for len(got) < 2 {
		c, err := s.Next(ctx)
		if err != nil {
			if errors.Is(err, ErrStreamLagged) {
				t.Fatalf("Since Oldest, a late Source pruned through %v (it retains %v, %v; so does the hub's memory): %v after %v", stored[1].LSN, stored[2].LSN, stored[3].LSN, err, got)
			}
			t.Fatal(err)
		}
		got = append(got, key{c.LSN, c.Index})
	}
	sameKeys(t, got, expect(stored[2:], nil))
}

// TestReview4ShortSourceBatchSkips: the contract was "fewer than limit
// means there were no more", and a Source that returned fewer (one
// bounding its reads by bytes) made a lagging stream leave the history
// early and jump to its live queue: a silent gap. Now only an empty batch
// ends the history.
func TestReview4ShortSourceBatchSkips(t *testing.T) {
	fs := &fakeSource{}
	short := &r4Short{Source: fs, max: 3}
	f := newFeed(t, nil, -1)
	f.hub.src = short
	f.src = fs
	txs := f.publish(20, 1, "t")
	s, err := f.hub.Subscribe(Options{Since: baseLSN})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	txs = append(txs, f.publish(1, 1, "t")...)
	var got []key
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		c, err := s.Next(ctx)
		cancel()
		if err != nil {
			break
		}
		got = append(got, key{c.LSN, c.Index})
	}
	sameKeys(t, got, expect(txs, nil))
}

// r4Bounded returns, of what its Source returns, the transactions up to
// about sourceBatchBytes (at least one), as a Source bounding its reads by
// bytes does.
type r4Bounded struct{ Source }

func (r *r4Bounded) ReadAfter(ctx context.Context, after LSN, limit int) ([]*Tx, error) {
	txs, err := r.Source.ReadAfter(ctx, after, limit)
	n := 0
	for i, tx := range txs {
		if n += tx.memSize(); n > sourceBatchBytes && i > 0 {
			return txs[:i], err
		}
	}
	return txs, err
}

type r4Short struct {
	Source
	max int
}

func (r *r4Short) ReadAfter(ctx context.Context, after LSN, limit int) ([]*Tx, error) {
	return r.Source.ReadAfter(ctx, after, min(limit, r.max))
}
