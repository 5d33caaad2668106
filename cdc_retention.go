package libsql

import (
	"context"
	"database/sql/driver"
	"sync"
	"time"
)

// Retention of durable CDC (cdc_retention, cdc_max): a background pruner
// per Connector deletes the oldest stored transactions in small batches,
// each in a BEGIN CONCURRENT transaction, so that pruning never holds the
// writer lock for more than a commit and never blocks writers.

// pruneInterval is how often the pruner looks for transactions to delete.
const pruneInterval = time.Second

// pruneBatch bounds the rows one pruning transaction deletes.
const pruneBatch = 1000

// pruner is a Connector's retention goroutine. Connect starts it and Close
// stops it; the two may race, and Close may be called more than once.
type pruner struct {
	mu     sync.Mutex
	closed bool          // Close ran: the pruner never starts again
	stop   chan struct{} // nil until started; closed by the first Close
	done   chan struct{} // closed when the goroutine has returned
}

// startPruner starts the connector's pruner if retention is configured and
// the connector is not closed.
func (c *Connector) startPruner() {
	if !c.cfg.cdc || (c.cfg.cdcRetention == 0 && c.cfg.cdcMax == 0) || c.cfg.mode == "ro" {
		return
	}
	p := &c.prune
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.stop != nil {
		return
	}
	p.stop = make(chan struct{})
	p.done = make(chan struct{})
	go c.pruneLoop(p.stop, p.done)
}

// stopPruner stops the pruner for good and waits for it to return.
func (c *Connector) stopPruner() {
	p := &c.prune
	p.mu.Lock()
	if !p.closed && p.stop != nil {
		close(p.stop)
	}
	p.closed = true
	done := p.done
	p.mu.Unlock()
	if done != nil {
		<-done
	}
}

// running reports whether the pruner goroutine is running.
func (p *pruner) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (c *Connector) pruneLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(pruneInterval)
	defer t.Stop()
	var dc *conn
	defer func() {
		if dc != nil {
			dc.Close()
		}
	}()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if dc == nil {
			d, err := c.Connect(context.Background())
			if err != nil {
				continue
			}
			dc = d.(*conn)
		}
		for n := 0; n < 10; n++ {
			deleted, err := dc.pruneOnce(c.cfg)
			if err != nil || deleted < pruneBatch {
				break
			}
		}
	}
}

// pruneOnce deletes up to pruneBatch of the oldest stored transactions
// that retention no longer keeps, records how far it pruned, and returns
// how many it deleted. A conflict with a concurrent commit is no error: the
// next round retries.
func (c *conn) pruneOnce(cfg *config) (deleted int64, err error) {
	ctx := context.Background()
	cutoff := int64(-1)
	if cfg.cdcRetention > 0 {
		cutoff = time.Now().Add(-cfg.cdcRetention).UnixNano()
	}
	if err := c.runTx(ctx, txBeginConcurrent); err != nil {
		return 0, err
	}
	defer func() {
		if err != nil && c.conc != nil {
			c.rollbackConcurrent(ctx)
		}
	}()
	rows, err := c.QueryContext(ctx, `SELECT max(lsn), count(*) FROM (
	SELECT lsn FROM libsql_cdc
	WHERE time < ?1 OR (?2 > 0 AND lsn <= coalesce((SELECT lsn FROM libsql_cdc ORDER BY lsn DESC LIMIT 1 OFFSET ?2), -1))
	ORDER BY lsn LIMIT ?3)`, []driver.NamedValue{
		{Ordinal: 1, Value: cutoff}, {Ordinal: 2, Value: int64(cfg.cdcMax)}, {Ordinal: 3, Value: int64(pruneBatch)},
	})
	if err != nil {
		return 0, err
	}
	dest := make([]driver.Value, 2)
	err = rows.Next(dest)
	rows.Close()
	if err != nil {
		return 0, err
	}
	through, _ := dest[0].(int64)
	deleted, _ = dest[1].(int64)
	if deleted == 0 {
		return 0, c.runTx(ctx, txCommit)
	}
	arg := []driver.NamedValue{{Ordinal: 1, Value: through}}
	if _, err := c.ExecContext(ctx, "DELETE FROM libsql_cdc WHERE lsn <= ?1", arg); err != nil {
		return 0, err
	}
	if _, err := c.ExecContext(ctx, "INSERT INTO libsql_cdc_state(key, value) VALUES ('pruned_through', ?1) ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)", arg); err != nil {
		return 0, err
	}
	return deleted, c.runTx(ctx, txCommit)
}
