package changefeed

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"
)

// baseLSN is where test LSNs start, like the driver's (versions >= 1<<32).
const baseLSN LSN = 1 << 32

var testTime = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)

// makeTx builds a filled transaction with n changes to table (an insert,
// an update and a delete in turn), values derived from lsn.
func makeTx(lsn LSN, table string, n int) *Tx {
	cols := []string{"id", "name", "score"}
	tx := &Tx{LSN: lsn, CommitTime: testTime.Add(time.Duration(lsn-baseLSN) * time.Millisecond)}
	for i := range n {
		id := int64(lsn)*100 + int64(i)
		c := Change{Table: table, RowID: id, Columns: cols, Op: Op(i%3 + 1)}
		row := []any{id, fmt.Sprintf("row %d", id), float64(id) / 2}
		switch c.Op {
		case Insert:
			c.New = row
		case Update:
			c.Old, c.New = row, []any{id, nil, 0.5}
		case Delete:
			c.Old = row
		}
		tx.Changes = append(tx.Changes, c)
	}
	return tx.Fill()
}

// fakeSource is an in-memory durable history. It stores encoded
// transactions, as the driver's CDC table does, and can prune, fail or
// block on demand.
type fakeSource struct {
	mu     sync.Mutex
	rows   [][]byte // encoded, in LSN order
	lsns   []LSN
	pruned LSN // every transaction up to it is gone
	reads  int
	err    error         // returned by the next ReadAfter, then cleared
	block  chan struct{} // if set, ReadAfter waits for it to close or ctx
}

func (f *fakeSource) add(tx *Tx) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rows = append(f.rows, EncodeTx(nil, tx))
	f.lsns = append(f.lsns, tx.LSN)
}

// prune drops every transaction with LSN <= l.
func (f *fakeSource) prune(l LSN) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := 0
	for i < len(f.lsns) && f.lsns[i] <= l {
		i++
	}
	f.rows, f.lsns = f.rows[i:], f.lsns[i:]
	f.pruned = max(f.pruned, l)
}

func (f *fakeSource) ReadAfter(ctx context.Context, after LSN, limit int) ([]*Tx, error) {
	f.mu.Lock()
	block := f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if err := f.err; err != nil {
		f.err = nil
		return nil, err
	}
	if after < f.pruned {
		return nil, fmt.Errorf("fake source: after %v: %w", after, ErrPruned)
	}
	var out []*Tx
	for i, l := range f.lsns {
		if l > after && len(out) < limit {
			tx, err := DecodeTx(f.rows[i])
			if err != nil {
				return nil, err
			}
			out = append(out, tx)
		}
	}
	return out, nil
}

func (f *fakeSource) Oldest(ctx context.Context) (LSN, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.lsns) == 0 {
		return 0, nil
	}
	return f.lsns[0], nil
}

// feed publishes to a hub and, when there is one, to its source first.
type feed struct {
	t   testing.TB
	hub *Hub
	src *fakeSource
	lsn LSN
	txs []*Tx
}

func newFeed(t testing.TB, src *fakeSource, history int) *feed {
	opts := HubOptions{History: history}
	if src != nil {
		opts.Source = src
	}
	h := NewHub(opts)
	h.SetLast(baseLSN)
	t.Cleanup(h.Close)
	return &feed{t: t, hub: h, src: src, lsn: baseLSN}
}

// publish commits n transactions of k changes each to table; LSNs grow by
// 1..3 so that consecutive numbers are not assumed.
func (f *feed) publish(n, k int, table string) []*Tx {
	var out []*Tx
	for range n {
		f.lsn += 1 + f.lsn%3
		tx := makeTx(f.lsn, table, k)
		if f.src != nil {
			f.src.add(tx)
		}
		f.hub.Publish(tx)
		f.txs = append(f.txs, tx)
		out = append(out, tx)
	}
	return out
}

// key identifies a delivered change.
type key struct {
	LSN   LSN
	Index int
}

// expect lists the changes of txs that pass filter, in order.
func expect(txs []*Tx, filter func(*Change) bool) []key {
	var out []key
	for _, tx := range txs {
		for i := range tx.Changes {
			if filter == nil || filter(&tx.Changes[i]) {
				out = append(out, key{tx.LSN, i})
			}
		}
	}
	return out
}

// drain reads n changes, failing the test on error or a slow stream.
func drain(t testing.TB, s *Stream, n int) []key {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []key
	for len(out) < n {
		c, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("Next after %d of %d changes: %v", len(out), n, err)
		}
		out = append(out, key{c.LSN, c.Index})
	}
	return out
}

// idle asserts that the stream has nothing more for now.
func idle(t testing.TB, s *Stream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if c, err := s.Next(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Next = %v at %v/%d, %v; want nothing (DeadlineExceeded)", c.Op, c.LSN, c.Index, err)
	}
}

func sameKeys(t testing.TB, got, want []key) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d changes, want %d\n got: %v\nwant: %v", len(got), len(want), trunc(got), trunc(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("change %d is %v, want %v\n got: %v\nwant: %v", i, got[i], want[i], trunc(got), trunc(want))
		}
	}
}

func trunc(k []key) []key {
	if len(k) > 20 {
		return k[:20]
	}
	return k
}

// sameValue compares decoded values exactly (NaN bits, blob vs text).
func sameValue(a, b any) bool {
	switch a := a.(type) {
	case float64:
		b, ok := b.(float64)
		return ok && math.Float64bits(a) == math.Float64bits(b)
	case []byte:
		b, ok := b.([]byte)
		return ok && string(a) == string(b) && b != nil
	}
	return a == b
}
