package changefeed

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLiveOrderingManyStreams(t *testing.T) {
	for _, tc := range []struct {
		name    string
		source  bool
		history int
		buffer  int
	}{
		{"roomy", false, 0, 1 << 20},
		// Tiny buffers: streams lag again and again and catch up from the
		// memory history or the Source while the publisher goes on.
		{"lagging/memory", false, 1 << 20, 7},
		{"lagging/source", true, 3, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var src *fakeSource
			if tc.source {
				src = &fakeSource{}
			}
			f := newFeed(t, src, tc.history)
			const streams, txs = 4, 600
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			rng := rand.New(rand.NewPCG(seed, 1))
			sizes := make([]int, txs)
			for i := range sizes {
				sizes[i] = rng.IntN(6) // some transactions have no changes
			}
			var wg sync.WaitGroup
			got := make([][]key, streams)
			total := 0
			for _, n := range sizes {
				total += n
			}
			for i := range streams {
				s, err := f.hub.Subscribe(Options{Buffer: tc.buffer})
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				wg.Go(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					for len(got[i]) < total {
						c, err := s.Next(ctx)
						if err != nil {
							t.Errorf("stream %d: %v after %d changes", i, err, len(got[i]))
							return
						}
						got[i] = append(got[i], key{c.LSN, c.Index})
						if i == 0 && len(got[i])%50 == 0 {
							time.Sleep(time.Millisecond) // one slow consumer
						}
					}
				})
			}
			for _, n := range sizes {
				f.publish(1, n, "t")
			}
			wg.Wait()
			want := expect(f.txs, nil)
			for i := range streams {
				sameKeys(t, got[i], want)
			}
			if src != nil && src.reads == 0 {
				t.Error("no stream read the Source: the test did not lag")
			}
		})
	}
}

func TestChangeFieldsStamped(t *testing.T) {
	f := newFeed(t, nil, 0)
	s, _ := f.hub.Subscribe(Options{})
	tx := makeTx(baseLSN+5, "t", 3)
	for i := range tx.Changes { // a publisher that forgot Fill
		tx.Changes[i].LSN, tx.Changes[i].Index, tx.Changes[i].CommitTime = 0, 0, time.Time{}
	}
	f.hub.Publish(tx)
	for i := range 3 {
		c, err := s.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if c.LSN != tx.LSN || c.Index != i || !c.CommitTime.Equal(tx.CommitTime) || c.RowID != tx.Changes[i].RowID {
			t.Errorf("change %d: LSN %v Index %d time %v rowid %d", i, c.LSN, c.Index, c.CommitTime, c.RowID)
		}
	}
}

func TestFilters(t *testing.T) {
	f := newFeed(t, nil, 0)
	var many []string
	for i := range 20 {
		many = append(many, fmt.Sprintf("other%d", i))
	}
	cases := []struct {
		name   string
		opts   Options
		filter func(*Change) bool
	}{
		{"tables", Options{Tables: []string{"A"}}, func(c *Change) bool { return c.Table == "a" }},
		{"tables/case", Options{Tables: []string{"b"}}, func(c *Change) bool { return c.Table == "B" }},
		{"tables/many", Options{Tables: append(many, "a", "ÄÖ")}, func(c *Change) bool { return c.Table == "a" || c.Table == "ÄÖ" }},
		{"ops", Options{Ops: []Op{Delete, Insert}}, func(c *Change) bool { return c.Op != Update }},
		{"both", Options{Tables: []string{"a", "c"}, Ops: []Op{Update}}, func(c *Change) bool {
			return c.Op == Update && (c.Table == "a" || c.Table == "c")
		}},
		{"none", Options{Tables: []string{}, Ops: []Op{}}, nil},
	}
	streams := make([]*Stream, len(cases))
	for i, c := range cases {
		var err error
		if streams[i], err = f.hub.Subscribe(c.opts); err != nil {
			t.Fatal(err)
		}
	}
	// Mixed transactions, including ones no filtered stream wants.
	for i := range 30 {
		tx := makeTx(f.lsn+10, []string{"a", "B", "c", "ÄÖ", "äö"}[i%5], 1+i%4)
		if i%3 == 0 {
			tx.Changes = append(tx.Changes, makeTx(tx.LSN, "a", 2).Changes...)
		}
		f.lsn = tx.LSN
		f.hub.Publish(tx.Fill())
		f.txs = append(f.txs, tx)
	}
	last := f.publish(1, 3, "nobody")[0] // nothing any filter wants
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := streams[i]
			want := expect(f.txs, c.filter)
			sameKeys(t, drain(t, s, len(want)), want)
			idle(t, s)
			if c.filter != nil && s.LSN() != last.LSN {
				t.Errorf("LSN() = %v after transactions without a wanted change, want %v", s.LSN(), last.LSN)
			}
		})
	}
}

func TestSubscribeBadOptions(t *testing.T) {
	h := NewHub(HubOptions{})
	for _, o := range []Options{{Buffer: -1}, {Ops: []Op{0}}, {Ops: []Op{Insert, 9}}} {
		if _, err := h.Subscribe(o); err == nil || !strings.HasPrefix(err.Error(), "changefeed: ") {
			t.Errorf("Subscribe(%+v) = %v, want a changefeed: error", o, err)
		}
	}
	if h.Subscribers() != 0 {
		t.Errorf("Subscribers() = %d", h.Subscribers())
	}
}

func TestSince(t *testing.T) {
	for _, withSource := range []bool{false, true} {
		t.Run(fmt.Sprintf("source=%v", withSource), func(t *testing.T) {
			var src *fakeSource
			if withSource {
				src = &fakeSource{}
			}
			f := newFeed(t, src, 8)
			old := f.publish(20, 2, "t") // 12 of them are gone from memory
			sub := func(since LSN) *Stream {
				s, err := f.hub.Subscribe(Options{Since: since})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}
			now := sub(Now)
			if now.LSN() != old[19].LSN {
				t.Errorf("Since 0: LSN() = %v, want hub's last %v", now.LSN(), old[19].LSN)
			}
			oldest := sub(Oldest)
			inMemory := sub(old[14].LSN)
			between := sub(old[14].LSN + 1) // not a commit LSN
			beyond := sub(old[3].LSN)
			beforeAll := sub(baseLSN - 100) // older than SetLast
			future := sub(old[19].LSN + 5)
			newer := f.publish(5, 2, "t")
			all := append(append([]*Tx(nil), old...), newer...)

			sameKeys(t, drain(t, now, 10), expect(newer, nil))
			sameKeys(t, drain(t, inMemory, 10+10), expect(all[15:], nil))
			wantBetween := txsAfter(all, old[14].LSN+1)
			sameKeys(t, drain(t, between, 2*len(wantBetween)), expect(wantBetween, nil))
			afterFuture := txsAfter(newer, old[19].LSN+5)
			sameKeys(t, drain(t, future, 2*len(afterFuture)), expect(afterFuture, nil))
			if withSource {
				sameKeys(t, drain(t, oldest, 50), expect(all, nil))
				sameKeys(t, drain(t, beyond, 42), expect(all[4:], nil))
				sameKeys(t, drain(t, beforeAll, 50), expect(all, nil))
			} else {
				// Oldest without a Source: what memory holds (8 of old).
				sameKeys(t, drain(t, oldest, 16+10), expect(all[12:], nil))
				for _, s := range []*Stream{beyond, beforeAll} {
					_, err := s.Next(context.Background())
					var lag *LaggedError
					if !errors.As(err, &lag) || !errors.Is(err, ErrStreamLagged) || lag.LSN != s.LSN() || lag.Dropped != 0 {
						t.Fatalf("Since beyond memory without a Source: %v (%#v), want LaggedError{LSN: %v}", err, lag, s.LSN())
					}
				}
				if beyond.LSN() != old[3].LSN {
					t.Errorf("LSN() = %v, want the Since %v", beyond.LSN(), old[3].LSN)
				}
			}
			for _, s := range []*Stream{now, inMemory, oldest} {
				idle(t, s)
			}
		})
	}
}

func txsAfter(txs []*Tx, l LSN) []*Tx {
	var out []*Tx
	for _, tx := range txs {
		if tx.LSN > l {
			out = append(out, tx)
		}
	}
	return out
}

func TestSinceOldestPruned(t *testing.T) {
	src := &fakeSource{}
	f := newFeed(t, src, 4)
	txs := f.publish(10, 1, "t")
	src.prune(txs[3].LSN)
	s, err := f.hub.Subscribe(Options{Since: Oldest})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.LSN() != Oldest {
		t.Errorf("LSN() before reading = %v, want Oldest", s.LSN())
	}
	sameKeys(t, drain(t, s, 6), expect(txs[4:], nil))

	src.prune(f.lsn) // nothing retained: Oldest means the live feed
	s2, _ := f.hub.Subscribe(Options{Since: Oldest})
	defer s2.Close()
	more := f.publish(2, 1, "t")
	sameKeys(t, drain(t, s2, 2), expect(more, nil))
}

func TestResumeAtLSN(t *testing.T) {
	src := &fakeSource{}
	f := newFeed(t, src, 4)
	f.publish(3, 3, "t")
	s, _ := f.hub.Subscribe(Options{Since: Oldest})
	drain(t, s, 4) // one and a third transactions
	if s.LSN() != f.txs[0].LSN {
		t.Fatalf("LSN() mid-transaction = %v, want the last complete %v", s.LSN(), f.txs[0].LSN)
	}
	drain(t, s, 2)
	if s.LSN() != f.txs[1].LSN {
		t.Fatalf("LSN() right after a transaction's last change = %v, want %v", s.LSN(), f.txs[1].LSN)
	}
	at := s.LSN()
	s.Close()
	f.publish(20, 3, "t")
	s2, _ := f.hub.Subscribe(Options{Since: at})
	defer s2.Close()
	sameKeys(t, drain(t, s2, 21*3), expect(f.txs[2:], nil))
	idle(t, s2)
}

func TestLagWithoutSource(t *testing.T) {
	f := newFeed(t, nil, -1) // no memory history either
	s, _ := f.hub.Subscribe(Options{Buffer: 10})
	txs := f.publish(5, 3, "t") // 3 fit (9 changes), the 4th does not
	if f.hub.Subscribers() != 1 {
		t.Fatal("lagging stream unsubscribed early")
	}
	sameKeys(t, drain(t, s, 9), expect(txs[:3], nil))
	_, err := s.Next(context.Background())
	var lag *LaggedError
	if !errors.As(err, &lag) || !errors.Is(err, ErrStreamLagged) {
		t.Fatalf("Next = %v, want a *LaggedError", err)
	}
	if lag.LSN != txs[2].LSN || lag.Dropped != txs[3].LSN || s.LSN() != txs[2].LSN {
		t.Errorf("LaggedError{LSN %v, Dropped %v}, LSN() %v; want %v, %v", lag.LSN, lag.Dropped, s.LSN(), txs[2].LSN, txs[3].LSN)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "changefeed: stream lagged") || !strings.Contains(msg, txs[2].LSN.String()) {
		t.Errorf("message %q", msg)
	}
	if _, err2 := s.Next(context.Background()); err2 != err {
		t.Errorf("Next after the lag = %v, want the same error", err2)
	}
	if f.hub.Subscribers() != 0 {
		t.Errorf("Subscribers() = %d after the stream ended", f.hub.Subscribers())
	}
	f.publish(1, 1, "t") // no panic, nothing queued
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}

func TestLagRecoversFromMemory(t *testing.T) {
	f := newFeed(t, nil, 64)
	s, _ := f.hub.Subscribe(Options{Buffer: 10})
	defer s.Close()
	txs := f.publish(40, 3, "t")
	sameKeys(t, drain(t, s, 30), expect(txs[:10], nil))
	more := f.publish(5, 3, "t") // published while catching up
	sameKeys(t, drain(t, s, 35*3), expect(append(txs[10:], more...), nil))
	idle(t, s)
}

func TestLagRecoversFromSource(t *testing.T) {
	src := &fakeSource{}
	f := newFeed(t, src, 2)
	s, _ := f.hub.Subscribe(Options{Buffer: 10})
	defer s.Close()
	f.publish(3*readBatch, 2, "t") // several batches
	got := drain(t, s, 100)
	f.publish(50, 2, "t") // while catching up
	got = append(got, drain(t, s, len(f.txs)*2-100)...)
	sameKeys(t, got, expect(f.txs, nil))
	idle(t, s)
	if src.reads < 3 {
		t.Errorf("%d Source reads, want at least 3", src.reads)
	}
	// Caught up: live again, no Source reads.
	reads := src.reads
	live := f.publish(2, 2, "t")
	sameKeys(t, drain(t, s, 4), expect(live, nil))
	if src.reads != reads {
		t.Errorf("Source read while live")
	}
}

func TestLagSourcePruned(t *testing.T) {
	src := &fakeSource{}
	f := newFeed(t, src, -1)
	s, _ := f.hub.Subscribe(Options{Buffer: 2})
	txs := f.publish(10, 1, "t")
	drain(t, s, 2)
	src.prune(txs[5].LSN)
	_, err := s.Next(context.Background())
	var lag *LaggedError
	if !errors.As(err, &lag) || lag.LSN != txs[1].LSN || lag.Dropped != txs[2].LSN {
		t.Fatalf("Next = %v (%#v); want LaggedError{%v, %v}", err, lag, txs[1].LSN, txs[2].LSN)
	}
}

func TestSourceErrorIsRetried(t *testing.T) {
	src := &fakeSource{}
	f := newFeed(t, src, -1)
	s, _ := f.hub.Subscribe(Options{Buffer: 2})
	defer s.Close()
	f.publish(10, 1, "t")
	drain(t, s, 2)
	boom := errors.New("disk on fire")
	src.err = boom
	if _, err := s.Next(context.Background()); !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "changefeed: read history") {
		t.Fatalf("Next = %v, want the Source's error wrapped", err)
	}
	sameKeys(t, drain(t, s, 8), expect(f.txs[2:], nil))
}

func TestBigTransactionDoesNotLag(t *testing.T) {
	f := newFeed(t, nil, -1)
	s, _ := f.hub.Subscribe(Options{Buffer: 4})
	defer s.Close()
	big := f.publish(1, 50, "t")
	sameKeys(t, drain(t, s, 50), expect(big, nil))
}

func TestNextContext(t *testing.T) {
	f := newFeed(t, nil, 0)
	s, _ := f.hub.Subscribe(Options{})
	defer s.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := s.Next(ctx); err != context.DeadlineExceeded {
		t.Errorf("Next with a deadline = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Next took %v", d)
	}

	ctx, cancel = context.WithCancel(context.Background())
	go func() { time.Sleep(5 * time.Millisecond); cancel() }()
	if _, err := s.Next(ctx); err != context.Canceled {
		t.Errorf("Next canceled = %v", err)
	}

	// A done context wins even over available changes.
	f.publish(1, 1, "t")
	if _, err := s.Next(ctx); err != context.Canceled {
		t.Errorf("Next with a canceled context = %v", err)
	}
	// The stream is still usable.
	sameKeys(t, drain(t, s, 1), expect(f.txs, nil))
}

func TestNextContextDuringSourceRead(t *testing.T) {
	src := &fakeSource{block: make(chan struct{})}
	f := newFeed(t, src, -1)
	f.publish(3, 1, "t")
	s, _ := f.hub.Subscribe(Options{Since: Oldest})
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := s.Next(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Next during a blocked Source read = %v", err)
	}
	close(src.block)
	sameKeys(t, drain(t, s, 3), expect(f.txs, nil))
}

func TestCloseWakesNext(t *testing.T) {
	f := newFeed(t, nil, 0)
	s, _ := f.hub.Subscribe(Options{})
	s2, _ := f.hub.Subscribe(Options{})
	errc := make(chan error)
	go func() {
		_, err := s.Next(context.Background())
		errc <- err
	}()
	time.Sleep(5 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != ErrClosed {
		t.Errorf("blocked Next after Close = %v", err)
	}
	if s.Close() != nil || f.hub.Subscribers() != 1 {
		t.Errorf("second Close, or Subscribers() = %d", f.hub.Subscribers())
	}
	f.publish(1, 1, "t")
	if _, err := s.Next(context.Background()); err != ErrClosed {
		t.Errorf("Next after Close = %v", err)
	}
	// Queued changes are not delivered after Close.
	s2.Close()
	if _, err := s2.Next(context.Background()); err != ErrClosed {
		t.Errorf("Next after Close with a change queued = %v", err)
	}
}

func TestCloseDuringSourceRead(t *testing.T) {
	src := &fakeSource{block: make(chan struct{})}
	f := newFeed(t, src, -1)
	f.publish(3, 1, "t")
	s, _ := f.hub.Subscribe(Options{Since: Oldest})
	go func() { time.Sleep(5 * time.Millisecond); s.Close() }()
	if _, err := s.Next(context.Background()); err != ErrClosed {
		t.Fatalf("Next during a Source read, closed = %v", err)
	}
}

func TestHubClose(t *testing.T) {
	h := NewHub(HubOptions{})
	h.SetLast(baseLSN)
	s, _ := h.Subscribe(Options{})
	errc := make(chan error)
	go func() {
		_, err := s.Next(context.Background())
		errc <- err
	}()
	time.Sleep(5 * time.Millisecond)
	h.Close()
	if err := <-errc; err != ErrClosed {
		t.Errorf("Next after Hub.Close = %v", err)
	}
	if _, err := h.Subscribe(Options{}); err != ErrClosed {
		t.Errorf("Subscribe after Close = %v", err)
	}
	h.Publish(makeTx(baseLSN+1, "t", 1)) // ignored
	h.Close()
	if h.Subscribers() != 0 || s.Close() != nil {
		t.Error("streams left after Close")
	}
}

func TestAllBreak(t *testing.T) {
	f := newFeed(t, nil, 0)
	s, _ := f.hub.Subscribe(Options{})
	defer s.Close()
	f.publish(3, 2, "t")
	var got []key
	for c, err := range s.All(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, key{c.LSN, c.Index})
		if len(got) == 4 {
			break
		}
	}
	if s.LSN() != f.txs[1].LSN {
		t.Errorf("LSN() after break = %v, want %v", s.LSN(), f.txs[1].LSN)
	}
	got = append(got, drain(t, s, 2)...)
	sameKeys(t, got, expect(f.txs, nil))

	// The iterator stops after yielding an error.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	n := 0
	for _, err := range s.All(ctx) {
		n++
		if err != context.DeadlineExceeded {
			t.Errorf("All yielded %v", err)
		}
	}
	if n != 1 {
		t.Errorf("All yielded %d times, want one error", n)
	}
}

func TestConcurrentNextFails(t *testing.T) {
	f := newFeed(t, nil, 0)
	s, _ := f.hub.Subscribe(Options{})
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Next(ctx); close(done) }()
	time.Sleep(5 * time.Millisecond)
	if _, err := s.Next(context.Background()); err == nil || !strings.Contains(err.Error(), "concurrently") {
		t.Errorf("second Next = %v", err)
	}
	cancel()
	<-done
}

func TestPublishPanicsOutOfOrder(t *testing.T) {
	h := NewHub(HubOptions{})
	h.SetLast(baseLSN)
	for _, l := range []LSN{baseLSN, baseLSN - 1} {
		func() {
			defer func() {
				if s, _ := recover().(string); !strings.HasPrefix(s, "changefeed: Publish") {
					t.Errorf("Publish(%v) after SetLast(%v): recovered %q", l, baseLSN, s)
				}
			}()
			h.Publish(makeTx(l, "t", 1))
		}()
	}
	h.SetLast(baseLSN - 5) // ignored
	if h.Last() != baseLSN {
		t.Errorf("Last() = %v", h.Last())
	}
	h.Publish(makeTx(baseLSN+1, "t", 0)) // an empty transaction is fine
	if h.Last() != baseLSN+1 {
		t.Errorf("Last() = %v", h.Last())
	}
}

func TestKeepsUp50k(t *testing.T) {
	// A publisher at 50,000 changes/s for 200 ms, in 10-change
	// transactions, and no memory history: a lag would be an error.
	f := newFeed(t, nil, -1)
	s, _ := f.hub.Subscribe(Options{})
	defer s.Close()
	const rate, dur = 50_000, 200 * time.Millisecond
	total := int(rate * dur / time.Second)
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for range total {
			if _, err := s.Next(ctx); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	start := time.Now()
	for sent := 0; sent < total; {
		due := int(time.Since(start) * rate / time.Second)
		for ; sent < due && sent < total; sent += 10 {
			f.publish(1, 10, "t")
		}
		time.Sleep(time.Millisecond)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestParse(t *testing.T) {
	for s, want := range map[string]LSN{"now": Now, "OLDEST": Oldest, "4294967296": baseLSN} {
		if got, err := ParseLSN(s); err != nil || got != want {
			t.Errorf("ParseLSN(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseLSN("-1"); err == nil {
		t.Error("ParseLSN(-1) succeeded")
	}
	for _, op := range []Op{Insert, Update, Delete} {
		if got, err := ParseOp(strings.ToUpper(op.String())); err != nil || got != op {
			t.Errorf("ParseOp(%v) = %v, %v", op, got, err)
		}
	}
	if _, err := ParseOp("upsert"); err == nil || Op(9).String() != "op(9)" {
		t.Error("bad op accepted")
	}
	if baseLSN.String() != "4294967296" {
		t.Error(baseLSN.String())
	}
}

// The hub's history is bounded in bytes as well as in transactions: large
// transactions are not kept by the hundred (they were, whole, whether or
// not a stream needed them). A stream starting before what is kept lags
// rather than skipping anything, and one larger than the bound leaves the
// history empty, starting after it.
func TestHistoryBoundedInBytes(t *testing.T) {
	blob := make([]byte, 10_000)
	big := func(lsn LSN, n int) *Tx {
		tx := &Tx{LSN: lsn, CommitTime: testTime}
		for i := range n {
			tx.Changes = append(tx.Changes, Change{Table: "t", Op: Insert, RowID: int64(i), Columns: []string{"v"}, New: []any{blob}})
		}
		return tx.Fill()
	}
	h := NewHub(HubOptions{HistoryBytes: 100_000})
	h.SetLast(baseLSN)
	for i := range 50 {
		h.Publish(big(baseLSN+1+LSN(i), 2)) // about 20 KB each
	}
	h.mu.Lock()
	kept, bytes, first := h.rlen, h.rbytes, h.rbase
	h.mu.Unlock()
	if bytes > 100_000 || kept < 3 || kept > 5 {
		t.Fatalf("history holds %d transactions, %d bytes; want 3 to 5 within 100000 bytes", kept, bytes)
	}
	if want := baseLSN + 50 - LSN(kept); first != want {
		t.Fatalf("history starts after %v, want %v", first, want)
	}
	s, err := h.Subscribe(Options{Since: baseLSN + 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Next(context.Background()); !errors.Is(err, ErrStreamLagged) {
		t.Fatalf("a stream starting before the history: %v, want ErrStreamLagged", err)
	}
	s2, err := h.Subscribe(Options{Since: first})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if c, err := s2.Next(context.Background()); err != nil || c.LSN != first+1 {
		t.Fatalf("a stream starting at the history's start: %v, %v; want LSN %v", c.LSN, err, first+1)
	}
	h.Publish(big(baseLSN+51, 20)) // 200 KB: larger than the bound
	h.mu.Lock()
	kept, bytes, first = h.rlen, h.rbytes, h.rbase
	h.mu.Unlock()
	if kept != 0 || bytes != 0 || first != baseLSN+51 {
		t.Fatalf("after a transaction larger than the bound: %d transactions, %d bytes, history after %v; want none, after %v", kept, bytes, first, baseLSN+51)
	}
}
