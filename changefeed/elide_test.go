package changefeed

import (
	"context"
	"errors"
	"testing"
)

// publishElided publishes the next transaction of k changes elided: its
// changes in the source only (if there is one).
func (f *feed) publishElided(k int, table string) *Tx {
	f.lsn += 1 + f.lsn%3
	tx := makeTx(f.lsn, table, k)
	if f.src != nil {
		f.src.add(tx)
	}
	f.hub.Publish((&Tx{LSN: tx.LSN, CommitTime: tx.CommitTime}).Elide())
	f.txs = append(f.txs, tx)
	return tx
}

// TestElidedFromSource: a stream that reaches a transaction published
// without its changes reads them from the source, in order with the ones
// around it, and goes on live; a stream starting before it finds it in
// the source, not as an empty transaction of the history.
func TestElidedFromSource(t *testing.T) {
	src := &fakeSource{}
	f := newFeed(t, src, 64)
	s, _ := f.hub.Subscribe(Options{Buffer: 100})
	defer s.Close()
	f.publish(3, 2, "t")
	f.publishElided(5, "t")
	f.publish(2, 2, "t")
	sameKeys(t, drain(t, s, 3*2+5+2*2), expect(f.txs, nil))
	idle(t, s)
	reads := src.reads
	if reads == 0 {
		t.Fatal("the elided transaction was not read from the source")
	}
	live := f.publish(1, 2, "t")
	sameKeys(t, drain(t, s, 2), expect(live, nil))
	if src.reads != reads {
		t.Errorf("source read after catching up")
	}

	late, err := f.hub.Subscribe(Options{Since: f.txs[0].LSN})
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	sameKeys(t, drain(t, late, 2*2+5+2*2+2), expect(f.txs[1:], nil))
}

// TestElidedWithoutSource: without a source, a stream that reaches an
// elided transaction has lost it, and says so as a stream that fell
// behind does, after the changes before it.
func TestElidedWithoutSource(t *testing.T) {
	f := newFeed(t, nil, 64)
	s, _ := f.hub.Subscribe(Options{Buffer: 100})
	defer s.Close()
	before := f.publish(2, 2, "t")
	tx := f.publishElided(3, "t")
	f.publish(1, 2, "t")
	sameKeys(t, drain(t, s, 4), expect(before, nil))
	_, err := s.Next(context.Background())
	var lag *LaggedError
	if !errors.As(err, &lag) || lag.Dropped != tx.LSN {
		t.Fatalf("Next = %v, want a LaggedError dropping LSN %v", err, tx.LSN)
	}
}
