package ioback

import "math"

// lockTable emulates fcntl byte-range locks between owners (File handles)
// inside this process, with open-file-description semantics: an owner's
// locks never conflict with its own, a lock replaces (upgrades or downgrades)
// what the owner held on its range, and Unlock may split a range. MemFS uses
// it for all locking; the non-Linux Unix backend uses it to make two Files
// of one inode conflict even though fcntl's F_SETLK would not.
//
// The table is not synchronized: its user holds a mutex around each call
// (and around the system calls that must agree with it).
type lockTable struct {
	held []rangeLock
}

// rangeLock is one owner's lock on [start, end).
type rangeLock struct {
	owner      uint64
	start, end int64 // end is exclusive; math.MaxInt64 means "to infinity"
	excl       bool
}

// span is a byte range [start, end).
type span struct{ start, end int64 }

// lockEnd converts Lock's (start, n) to an exclusive end: n == 0 means to
// infinity, as with fcntl.
func lockEnd(start, n int64) int64 {
	if n == 0 || start > math.MaxInt64-n {
		return math.MaxInt64
	}
	return start + n
}

// conflicts reports whether owner may not take [start, end) (exclusive or
// shared) because another owner holds an overlapping lock.
func (t *lockTable) conflicts(owner uint64, start, end int64, excl bool) bool {
	for _, l := range t.held {
		if l.owner != owner && l.start < end && start < l.end && (excl || l.excl) {
			return true
		}
	}
	return false
}

// lock gives owner [start, end) if no other owner conflicts, replacing what
// owner held there; it reports whether it did.
func (t *lockTable) lock(owner uint64, start, end int64, excl bool) bool {
	if t.conflicts(owner, start, end, excl) {
		return false
	}
	t.cut(owner, start, end)
	t.held = append(t.held, rangeLock{owner: owner, start: start, end: end, excl: excl})
	return true
}

// cut removes [start, end) from owner's locks, splitting a lock that
// straddles the range.
func (t *lockTable) cut(owner uint64, start, end int64) {
	out := t.held[:0]
	var extra []rangeLock
	for _, l := range t.held {
		if l.owner != owner || l.end <= start || end <= l.start {
			out = append(out, l)
			continue
		}
		if l.start < start {
			left := l
			left.end = start
			out = append(out, left)
		}
		if end < l.end {
			right := l
			right.start = end
			extra = append(extra, right)
		}
	}
	t.held = append(out, extra...)
}

// spans returns owner's locked ranges.
func (t *lockTable) spans(owner uint64) []span {
	var s []span
	for _, l := range t.held {
		if l.owner == owner {
			s = append(s, span{l.start, l.end})
		}
	}
	return s
}

// releaseAll drops every lock of owner.
func (t *lockTable) releaseAll(owner uint64) {
	out := t.held[:0]
	for _, l := range t.held {
		if l.owner != owner {
			out = append(out, l)
		}
	}
	clear(t.held[len(out):])
	t.held = out
}

// uncovered returns the parts of [start, end) that no owner other than owner
// holds, in ascending order. The non-Linux Unix backend releases exactly
// these parts in the kernel, because there fcntl locks belong to the
// process, not to the handle.
func (t *lockTable) uncovered(owner uint64, start, end int64) []span {
	gaps := []span{{start, end}}
	for _, l := range t.held {
		if l.owner == owner {
			continue
		}
		var next []span
		for _, g := range gaps {
			if l.end <= g.start || g.end <= l.start {
				next = append(next, g)
				continue
			}
			if g.start < l.start {
				next = append(next, span{g.start, l.start})
			}
			if l.end < g.end {
				next = append(next, span{l.end, g.end})
			}
		}
		gaps = next
	}
	return gaps
}
