package capi

import (
	"path/filepath"
	"testing"
	"unsafe"

	sqlite3 "modernc.org/sqlite/lib"
)

// TestConnectionsHaveTheirOwnPageCache checks that a connection's page
// cache is not in the process-wide group whose mutex every page fetch of
// every connection would take (see separatePageCaches).
func TestConnectionsHaveTheirOwnPageCache(t *testing.T) {
	c := openFile(t, filepath.Join(t.TempDir(), "t.db"))
	if PageCacheShared() {
		t.Fatal("page caches created now would share one group and its mutex")
	}
	if err := c.Exec("CREATE TABLE t(x); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	main := c.mainDB()
	bt := (*sqlite3.TBtree)(cptr(main.FpBt))
	pager := (*sqlite3.TPager)(cptr((*sqlite3.TBtShared)(cptr(bt.FpBt)).FpPager))
	cache := (*sqlite3.TPCache1)(cptr((*sqlite3.TPCache)(cptr(pager.FpPCache)).FpCache))
	if group := cache.FpGroup; group == uintptr(unsafe.Pointer(&pcache1.Fgrp)) {
		t.Error("the connection's page cache is in the shared group")
	}
}
