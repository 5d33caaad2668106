package iouringvfs

import (
	"testing"

	"github.com/golibsql/libsql/iouring_vfs/wal"
)

// isPointerMap finds SQLite's pointer-map pages (btree.c, ptrmapPageno):
// page 2, then every usable/5+1 pages, and the page after the pending
// byte's where a pointer-map page would fall on it.
func TestIsPointerMap(t *testing.T) {
	for _, c := range []struct {
		p      wal.PageNo
		usable int
		ps     int
		ptrmap bool
	}{
		{1, 4096, 4096, false},
		{2, 4096, 4096, true},
		{3, 4096, 4096, false},
		{821, 4096, 4096, false},
		{822, 4096, 4096, true}, // 2 + 4096/5 + 1
		{1642, 4096, 4096, true},
		{822, 4000, 4096, false}, // reserved bytes: 4000/5 + 1 = 801
		{803, 4000, 4096, true},
		// Page size 1024: 205 pages per map, and the pending byte's page
		// (1048577) is one of them, so the map moves to the page after.
		{1048577, 1024, 1024, false},
		{1048578, 1024, 1024, true},
		{1048577 - 205, 1024, 1024, true},
	} {
		if got := isPointerMap(c.p, c.usable, c.ps); got != c.ptrmap {
			t.Errorf("isPointerMap(%d, usable %d, page size %d) = %v, want %v", c.p, c.usable, c.ps, got, c.ptrmap)
		}
	}
}
