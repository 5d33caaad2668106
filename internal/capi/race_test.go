package capi

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestConcurrentInterruptWakeAndClose exercises the only calls that may
// come from other goroutines — a Watch firing, Interrupt, WakeBusy — while
// the owner runs statements, and Close racing them. Run it with -race.
func TestConcurrentInterruptWakeAndClose(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := Open("/"+t.Name(), OPEN_READWRITE|OPEN_CREATE|OPEN_NOMUTEX, "memdb")
			if err != nil {
				t.Error(err)
				return
			}
			c.SetBusyTimeout(time.Second)
			stop := make(chan struct{})
			var side sync.WaitGroup
			side.Add(1)
			go func() { // a meddling neighbour
				defer side.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					c.Interrupt()
					c.WakeBusy()
					time.Sleep(100 * time.Microsecond)
				}
			}()
			for i := range 50 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%5)*100*time.Microsecond)
				prev := c.Enter(ctx)
				w := c.Watch(ctx)
				c.Exec("WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM r LIMIT 2000) SELECT count(*) FROM r")
				w.Stop()
				c.Leave(prev)
				cancel()
			}
			// Close while the neighbour is still interrupting.
			if err := c.Close(); err != nil {
				t.Errorf("goroutine %d: Close: %v", g, err)
			}
			close(stop)
			side.Wait()
		}()
	}
	wg.Wait()
}
