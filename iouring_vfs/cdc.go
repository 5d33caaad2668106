package iouringvfs

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/golibsql/libsql/changefeed"
	"github.com/golibsql/libsql/iouring_vfs/wal"
)

// The engine publishes every committed transaction's row changes to its
// changefeed.Hub in commit order, once the commit is durable. The driver
// captures the changes (pre-update hook) and hands them over at the commit
// point through the file's capture function; the engine tags them with the
// commit's version, which is the LSN.

// cdcState is an engine's change publishing.
type cdcState struct {
	hubOnce sync.Once
	hub     *changefeed.Hub

	mu      sync.Mutex // serializes publishing, in version order
	pending []pendingTx
}

type pendingTx struct {
	v  wal.Version
	tx *changefeed.Tx
}

// Hub returns the database's change hub, shared by every connection.
func (e *Engine) Hub() *changefeed.Hub {
	e.cdc.hubOnce.Do(func() {
		e.cdc.hub = changefeed.NewHub(changefeed.HubOptions{})
		e.cdc.hub.SetLast(changefeed.LSN(e.log.Durable()))
	})
	return e.cdc.hub
}

// SetCapture sets the function the file calls at the commit point, under
// the writer lock, to take the committing transaction's captured changes
// (nil when there are none). It must be quick: commits wait behind it.
func (f *File) SetCapture(fn func() *changefeed.Tx) { f.capture = fn }

// NextLSN is the LSN the transaction committing under the writer lock will
// get; durable CDC stores it with the changes, in the same commit.
func (f *File) NextLSN() (changefeed.LSN, error) {
	if !f.hasWriter {
		return 0, fmt.Errorf("libsql: NextLSN of %s without the writer lock", f.e.name)
	}
	return changefeed.LSN(f.e.log.NextVersion()), nil
}

// enqueue records a commit's changes under the writer lock, so the queue
// is in version order.
func (e *Engine) enqueueChanges(v wal.Version, tx *changefeed.Tx) {
	if tx.LSN != 0 && tx.LSN != changefeed.LSN(v) {
		fmt.Fprintf(os.Stderr, "libsql: changes stored with LSN %v committed as %v\n", tx.LSN, v)
	}
	tx.LSN = changefeed.LSN(v)
	tx.CommitTime = time.Now()
	e.cdc.mu.Lock()
	e.cdc.pending = append(e.cdc.pending, pendingTx{v, tx})
	e.cdc.mu.Unlock()
}

// publishDurable publishes, in order, every queued transaction that is
// durable; after an I/O error poisoned the log, the queue is dropped (those
// commits never happened).
func (e *Engine) publishDurable() {
	e.cdc.mu.Lock()
	defer e.cdc.mu.Unlock()
	if len(e.cdc.pending) == 0 {
		return
	}
	if e.log.Err() != nil {
		e.cdc.pending = nil
		return
	}
	d := e.log.Durable()
	n := 0
	for _, p := range e.cdc.pending {
		if p.v > d {
			break
		}
		e.Hub().Publish(p.tx.Fill())
		n++
	}
	e.cdc.pending = append(e.cdc.pending[:0], e.cdc.pending[n:]...)
}
