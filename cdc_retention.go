package libsql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Retention of durable CDC (cdc_retention, cdc_max): a background pruner
// per Connector deletes the oldest stored transactions in small batches,
// each in a BEGIN CONCURRENT transaction, so that pruning never holds the
// writer lock for more than a commit and never blocks writers.
//
// Writers append to libsql_cdc all the time. So that a pruning transaction
// does not conflict with each of their commits, it reads none of the pages
// they change: which transactions go is decided by a read before it (the
// newest end of the table is read there), and the transaction only deletes
// the oldest rows, a short one. It still reads the b-tree's interior pages,
// which an append changes now and then: a conflict is retried at once,
// after a short pause, a few times.

// pruneInterval is how often the pruner looks for transactions to delete
// when it has caught up.
const pruneInterval = time.Second

// pruneBatch bounds the rows one pruning transaction deletes: small, so
// that it is quick and seldom overlaps a commit that conflicts with it.
const pruneBatch = 256

// pruneTries bounds the attempts at one batch that lose to concurrent
// commits; pruneBackoff is the first pause between two, doubled each time.
const (
	pruneTries   = 8
	pruneBackoff = time.Millisecond
)

// PruneStats count what a Connector's retention pruner did (see
// [Connector.PruneStats]).
type PruneStats struct {
	Batches   uint64 // pruning transactions committed
	Deleted   uint64 // stored transactions deleted
	Conflicts uint64 // pruning transactions that lost to a concurrent commit (each retried)
	Failures  uint64 // rounds that stopped on an error other than a conflict
	LastError error  // the error of the last failure, nil if none
}

// pruner is a Connector's retention goroutine. Connect starts it and Close
// stops it; the two may race, and Close may be called more than once.
type pruner struct {
	mu     sync.Mutex
	closed bool          // Close ran: the pruner never starts again
	stop   chan struct{} // nil until started; closed by the first Close
	done   chan struct{} // closed when the goroutine has returned

	interval time.Duration // between rounds; pruneInterval if 0 (tests shorten it)
	stats    PruneStats    // guarded by mu
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

// PruneStats returns what the connector's retention pruner has done so
// far: its errors have no caller to return to, so they are counted there.
func (c *Connector) PruneStats() PruneStats {
	c.prune.mu.Lock()
	defer c.prune.mu.Unlock()
	return c.prune.stats
}

// count adds to the pruner's statistics.
func (p *pruner) count(f func(*PruneStats)) {
	p.mu.Lock()
	f(&p.stats)
	p.mu.Unlock()
}

// failed records an error that ended a round.
func (p *pruner) failed(err error) {
	p.count(func(s *PruneStats) { s.Failures++; s.LastError = err })
}

func (c *Connector) pruneLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	every := c.prune.interval
	if every == 0 {
		every = pruneInterval
	}
	t := time.NewTicker(every)
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
				c.prune.failed(fmt.Errorf("libsql: CDC retention: connecting: %w", err))
				continue
			}
			dc = d.(*conn)
			dc.setAuthorizer(nil) // the driver's own connection: its SQL is not the user's
		}
		if err := c.pruneRound(dc, stop); err != nil {
			c.prune.failed(err)
			// A fresh connection next round, whatever state this one is in.
			dc.Close()
			dc = nil
		}
	}
}

// pruneRound deletes, batch after batch, every stored transaction that
// retention no longer keeps, until none is left or stop is closed.
func (c *Connector) pruneRound(dc *conn, stop <-chan struct{}) error {
	keepFrom, err := dc.pruneKeepFrom(c.cfg)
	if err != nil {
		return err
	}
	for {
		through, err := dc.pruneTarget(c.cfg, keepFrom)
		if err != nil || through == 0 {
			return err
		}
		deleted, ok, err := c.pruneBatchRetrying(dc, through, stop)
		if err != nil || !ok {
			return err
		}
		c.prune.count(func(s *PruneStats) { s.Batches++; s.Deleted += uint64(deleted) })
		if deleted < pruneBatch {
			return nil
		}
		select {
		case <-stop:
			return nil
		default:
		}
	}
}

// pruneBatchRetrying runs pruneThrough, again after a pause each time a
// concurrent commit made it fail with ErrBusySnapshot; ok says whether it
// committed. Running out of tries is no error: the next round tries again.
func (c *Connector) pruneBatchRetrying(dc *conn, through int64, stop <-chan struct{}) (deleted int64, ok bool, err error) {
	pause := pruneBackoff
	for range pruneTries {
		deleted, err = dc.pruneThrough(through)
		if !errors.Is(err, ErrBusySnapshot) {
			return deleted, err == nil, err
		}
		c.prune.count(func(s *PruneStats) { s.Conflicts++ })
		t := time.NewTimer(pause)
		select {
		case <-stop:
			t.Stop()
			return 0, false, nil
		case <-t.C:
		}
		pause *= 2
	}
	return 0, false, nil
}

// pruneKeepFrom returns the LSN below which cdc_max lets nothing stay:
// that of the newest stored transaction past the cdc_max newest, -1 if
// there is none (or no cdc_max). Finding it walks cdc_max index entries,
// so a round does it once: commits meanwhile only add newer transactions,
// so the round keeps a few more than cdc_max at most, and the next round
// catches up.
func (c *conn) pruneKeepFrom(cfg *config) (int64, error) {
	if cfg.cdcMax <= 0 {
		return -1, nil
	}
	return c.queryInt(`SELECT coalesce((SELECT lsn FROM libsql_cdc ORDER BY lsn DESC LIMIT 1 OFFSET ?1), -1)`,
		[]driver.NamedValue{{Ordinal: 1, Value: int64(cfg.cdcMax)}})
}

// pruneTarget returns the LSN through which the next batch deletes stored
// transactions: the newest of the oldest pruneBatch ones that retention no
// longer keeps (older than cdc_retention, or at or below maxThrough, from
// pruneKeepFrom), 0 if none. It is a read of its own, outside the deleting
// transaction, because it reads the newest end of libsql_cdc, which every
// commit changes.
func (c *conn) pruneTarget(cfg *config, maxThrough int64) (int64, error) {
	cutoff := int64(-1)
	if cfg.cdcRetention > 0 {
		cutoff = time.Now().Add(-cfg.cdcRetention).UnixNano()
	}
	return c.queryInt(`SELECT coalesce(max(lsn), 0) FROM (SELECT lsn, time FROM libsql_cdc ORDER BY lsn LIMIT ?3) WHERE time < ?1 OR lsn <= ?2`,
		[]driver.NamedValue{{Ordinal: 1, Value: cutoff}, {Ordinal: 2, Value: maxThrough}, {Ordinal: 3, Value: int64(pruneBatch)}})
}

// queryInt runs a query of retention's that returns one integer.
func (c *conn) queryInt(query string, args []driver.NamedValue) (int64, error) {
	rows, err := c.QueryContext(context.Background(), query, args)
	if err != nil {
		return 0, fmt.Errorf("libsql: CDC retention: finding what to delete: %w", err)
	}
	dest := make([]driver.Value, 1)
	err = rows.Next(dest)
	rows.Close()
	if err != nil {
		return 0, fmt.Errorf("libsql: CDC retention: finding what to delete: %w", err)
	}
	n, _ := dest[0].(int64)
	return n, nil
}

// pruneThrough deletes the stored transactions with LSN <= through in a
// BEGIN CONCURRENT transaction, records how far it pruned, and returns how
// many it deleted.
func (c *conn) pruneThrough(through int64) (deleted int64, err error) {
	ctx := context.Background()
	if err := c.runTx(ctx, txBeginConcurrent); err != nil {
		return 0, fmt.Errorf("libsql: CDC retention: %w", err)
	}
	defer func() {
		if err != nil && c.conc != nil {
			c.rollbackConcurrent(ctx)
		}
	}()
	arg := []driver.NamedValue{{Ordinal: 1, Value: through}}
	r, err := c.ExecContext(ctx, "DELETE FROM libsql_cdc WHERE lsn <= ?1", arg)
	if err != nil {
		return 0, fmt.Errorf("libsql: CDC retention: deleting through LSN %d: %w", through, err)
	}
	deleted, _ = r.RowsAffected()
	if _, err := c.ExecContext(ctx, "INSERT INTO libsql_cdc_state(key, value) VALUES ('pruned_through', ?1) ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)", arg); err != nil {
		return 0, fmt.Errorf("libsql: CDC retention: recording LSN %d as pruned: %w", through, err)
	}
	if err := c.runTx(ctx, txCommit); err != nil {
		return 0, fmt.Errorf("libsql: CDC retention: committing the deletion through LSN %d: %w", through, err)
	}
	return deleted, nil
}
