package iouringvfs

import (
	"sync"
	"sync/atomic"

	"github.com/golibsql/libsql/iouring_vfs/ioback"
)

// ConcurrentStats count what BEGIN CONCURRENT transactions did.
type ConcurrentStats struct {
	// Commits is the number of concurrent transactions that committed.
	Commits uint64 `json:"commits"`
	// Direct is how many of them committed their pages as they were,
	// nothing having committed since their snapshot.
	Direct uint64 `json:"direct"`
	// Merged is how many had their pages published on a newer version:
	// what was committed since touched none of the pages they read or
	// wrote, and they allocated no page.
	Merged uint64 `json:"merged"`
	// Rebased is how many had their row changes applied to the newest
	// version instead.
	Rebased uint64 `json:"rebased"`
	// RebasedChangeset is how many of those were replayed with
	// sqlite3changeset_apply rather than the driver's own statements (an
	// enforced foreign key with an action, or one the replay's order
	// broke, or a change to sqlite_stat1).
	RebasedChangeset uint64 `json:"rebased_changeset"`
	// Conflicts is the number of concurrent transactions refused with
	// SQLITE_BUSY_SNAPSHOT.
	Conflicts uint64 `json:"conflicts"`
	// ConflictsOn counts conflicts by the table or index (or "schema") they
	// were found on.
	ConflictsOn map[string]uint64 `json:"conflicts_on,omitempty"`
}

type concurrentCounters struct {
	commits, direct, merged, rebased, conflicts atomic.Uint64
	rebasedChangeset                            atomic.Uint64
	mu                                          sync.Mutex
	on                                          map[string]uint64
}

func (c *concurrentCounters) conflict(object string) {
	c.conflicts.Add(1)
	c.mu.Lock()
	if c.on == nil {
		c.on = map[string]uint64{}
	}
	c.on[object]++
	c.mu.Unlock()
}

func (c *concurrentCounters) snapshot() ConcurrentStats {
	s := ConcurrentStats{Commits: c.commits.Load(), Direct: c.direct.Load(), Merged: c.merged.Load(), Rebased: c.rebased.Load(), RebasedChangeset: c.rebasedChangeset.Load(), Conflicts: c.conflicts.Load()}
	c.mu.Lock()
	if len(c.on) > 0 {
		s.ConflictsOn = make(map[string]uint64, len(c.on))
		for k, v := range c.on {
			s.ConflictsOn[k] = v
		}
	}
	c.mu.Unlock()
	return s
}

// fsKindName names the I/O backend of an engine for its stats.
func fsKindName(fs ioback.FS) string { return ioback.Describe(fs) }
