package changefeed

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkStream measures end-to-end throughput: a publisher goroutine
// publishes 10-change transactions, consumers read every change with Next.
// One op is one change. The publisher only waits when the slowest consumer
// is 2000 changes behind (half its buffer); there is no history, so a lag
// would fail the benchmark.
func BenchmarkStream(b *testing.B) {
	for _, subs := range []int{1, 4} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			const perTx = 10
			h := NewHub(HubOptions{History: -1})
			h.SetLast(baseLSN)
			defer h.Close()
			changes := makeTx(baseLSN, "t", perTx).Changes
			ntx := (b.N + perTx - 1) / perTx
			txs := make([]Tx, ntx)
			for i := range txs {
				txs[i] = Tx{LSN: baseLSN + 1 + LSN(i), CommitTime: testTime, Changes: changes}
			}
			total := ntx * perTx
			consumed := make([]atomic.Int64, subs)
			var wg sync.WaitGroup
			for i := range subs {
				s, err := h.Subscribe(Options{})
				if err != nil {
					b.Fatal(err)
				}
				wg.Go(func() {
					ctx := context.Background()
					for n := 1; n <= total; n++ {
						if _, err := s.Next(ctx); err != nil {
							b.Error(err)
							return
						}
						if n%perTx == 0 {
							consumed[i].Store(int64(n))
						}
					}
				})
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := range txs {
				published := int64(i * perTx)
				for j := range consumed {
					for published-consumed[j].Load() > 2000 {
						runtime.Gosched()
					}
				}
				h.Publish(&txs[i])
			}
			wg.Wait()
			b.ReportMetric(float64(total)/time.Since(start).Seconds(), "changes/s")
		})
	}
}

// BenchmarkPublish is the publisher's cost per transaction with idle
// streams that have room.
func BenchmarkPublish(b *testing.B) {
	for _, subs := range []int{0, 1, 16} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			h := NewHub(HubOptions{})
			h.SetLast(baseLSN)
			defer h.Close()
			for range subs {
				if _, err := h.Subscribe(Options{Buffer: 1 << 30}); err != nil {
					b.Fatal(err)
				}
			}
			changes := makeTx(baseLSN, "t", 10).Changes
			txs := make([]Tx, b.N)
			for i := range txs {
				txs[i] = Tx{LSN: baseLSN + 1 + LSN(i), Changes: changes}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range txs {
				h.Publish(&txs[i])
			}
		})
	}
}

func BenchmarkEncodeTx(b *testing.B) {
	tx := makeTx(baseLSN, "t", 10)
	buf := EncodeTx(nil, tx)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = EncodeTx(buf[:0], tx)
	}
}

func BenchmarkDecodeTx(b *testing.B) {
	buf := EncodeTx(nil, makeTx(baseLSN, "t", 10))
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeTx(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	c := makeTx(baseLSN, "t", 2).Changes[1]
	buf := AppendJSON(nil, &c)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendJSON(buf[:0], &c)
	}
}
