package capi

import (
	"sync"
	"unsafe" // also for go:linkname

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// This file reaches two pieces of SQLite's global state that the C API does
// not expose, by the names of the Go variables the transpiled engine keeps
// them in (package modernc.org/sqlite/lib): pcache1.c's "pcache1" and the
// global configuration, whose page-cache methods it calls. The types are
// the engine's own, so a change of layout fails to compile, and a renamed
// variable fails to link. Both live for the life of the process; this file
// writes one field of pcache1, once, and only reads the configuration.

//go:linkname pcache1 modernc.org/sqlite/lib._pcache1_g
var pcache1 sqlite3.TPCacheGlobal

//go:linkname sqliteConfig modernc.org/sqlite/lib._sqlite3Config
var sqliteConfig sqlite3.TSqlite3Config

// separatePageCaches makes every page cache created from now on private to
// its connection, with no mutex, as SQLite builds without
// SQLITE_ENABLE_MEMORY_MANAGEMENT do. modernc builds SQLite with that
// option, which puts the page caches of all connections in the process in
// one group behind one mutex (SQLITE_MUTEX_STATIC_LRU), taken on every page
// fetch and release: in a benchmark of four goroutines doing point selects
// through four connections beside a writer, goroutines waited 11 s on it in
// 4 s of running. A connection is used by one goroutine at a time, so its
// own cache needs no lock. What the shared group gave, and separate caches
// give up, is sqlite3_release_memory and the soft heap limit taking pages
// from other connections' caches; each cache still keeps to its
// cache_size. Caches created before the call (by another user of the
// engine in the process) keep the shared group and its mutex, so the two
// kinds mix safely. The write is not ordered with another driver's reads
// of the field: a connection that driver opens at the same instant gets
// one kind of cache or the other, and either is correct.
//
// It must run after sqlite3_initialize (pcache1Init resets the field) and
// before this package's connections open; a later sqlite3_shutdown and
// initialize would undo it.
func separatePageCaches() {
	pcache1.FseparateCache = 1
}

var initOnce sync.Once

// initialize runs sqlite3_initialize and, the first time, separatePageCaches.
func initialize(tls *libc.TLS) int32 {
	rc := sqlite3.Xsqlite3_initialize(tls)
	if rc == OK {
		initOnce.Do(separatePageCaches)
	}
	return rc
}

// PageCacheShared reports whether page caches created now would share one
// group and its mutex (see separatePageCaches); for tests.
func PageCacheShared() bool { return pcache1.FseparateCache == 0 }

// CacheFile is implemented by database files whose connections may keep
// SQLite's page cache across snapshots. SQLite in rollback mode drops a
// connection's whole page cache when it takes a SHARED lock and finds the
// change counter in page 1 changed, which the file shows it after every
// commit: a reader beside a busy writer reads its pages through the VFS
// again and again. A
// file that can say which pages changed since the connection's previous
// snapshot lets the bridge drop just those.
type CacheFile interface {
	// SnapshotChanges is called right after a successful Lock(SHARED). If
	// the file can tell which pages differ between the version SQLite's
	// cache holds (the snapshot of the connection's previous SHARED lock,
	// or the connection's own commit on top of it) and the new snapshot,
	// it returns them (a slice the file owns, valid until the next call),
	// bytes 24 to 39 of page 1 in the new snapshot (what SQLite compares)
	// and ok. Pages are reported only for other connections' commits: none
	// means none committed. Otherwise ok is false and SQLite decides as it
	// always does.
	SnapshotChanges() (pages []uint32, fileVers []byte, ok bool)
}

// keepCache is called after xLock(SHARED) succeeded on a main database file
// whose pager is known: it drops from the pager's cache the pages that f
// reports changed and sets the pager's copy of the change counter to the
// new snapshot's, so that SQLite keeps the rest of its cache. It does
// nothing (SQLite then resets the cache itself if the counter changed) when
// f cannot tell, when any page is referenced or dirty, or when an online
// backup reads from the connection (pager_reset restarts it).
//
// Memory: pager is SQLite's Pager of the connection, allocated together
// with the sqlite3_file that holds it and freed after xClose; the call runs
// on the connection's goroutine inside sqlite3PagerSharedLock, which takes
// no page reference until xLock returns. The pages fetched here are
// unpinned (and freed) before the call returns.
func keepCache(tls *libc.TLS, pager uintptr, f CacheFile) {
	pages, vers, ok := f.SnapshotChanges()
	if !ok {
		return
	}
	pg := (*sqlite3.TPager)(cptr(pager))
	pc := (*sqlite3.TPCache)(cptr(pg.FpPCache))
	cur := unsafe.Slice((*byte)(unsafe.Pointer(&pg.FdbFileVers[0])), len(pg.FdbFileVers))
	if len(vers) != len(cur) || pg.FpBackup != 0 || pc.FnRefSum != 0 || pc.FpDirty != 0 {
		return
	}
	if len(pages) == 0 && string(vers) == string(cur) {
		return
	}
	fetch := *(*func(*libc.TLS, uintptr, uint32, int32) uintptr)(unsafe.Pointer(&struct{ uintptr }{sqliteConfig.Fpcache2.FxFetch}))
	unpin := *(*func(*libc.TLS, uintptr, uintptr, int32))(unsafe.Pointer(&struct{ uintptr }{sqliteConfig.Fpcache2.FxUnpin}))
	for _, p := range pages {
		if page := fetch(tls, pc.FpCache, p, 0); page != 0 {
			unpin(tls, pc.FpCache, page, 1)
		}
	}
	copy(cur, vers)
	if len(pages) > 0 {
		// As pager_reset does: PRAGMA data_version and
		// SQLITE_FCNTL_DATA_VERSION tell a connection that another one
		// committed. With no page changed, none did: the new counter is
		// the connection's own commit's.
		pg.FiDataVersion++
	}
}

// KeepCacheAcrossSnapshots lets the connection keep its page cache when it
// takes a new snapshot of its main database, dropping only the pages that
// changed (see [CacheFile]), if that database's file is one of a VFS
// registered here and implements CacheFile. It reports whether it did. Call
// it once, right after the connection opened.
func (c *Conn) KeepCacheAcrossSnapshots() bool {
	pager := c.mainPager()
	if pager == 0 {
		return false
	}
	fd := (*sqlite3.TPager)(cptr(pager)).Ffd
	vf := (*vfsFile)(cptr(fd))
	if fd == 0 || vf.base.FpMethods != uintptr(unsafe.Pointer(&vfsMethods)) {
		return false
	}
	if _, ok := fileOf(fd).(CacheFile); !ok {
		return false
	}
	vf.pager = pager
	return true
}

// mainPager returns the Pager of c's main database, 0 if it has none.
func (c *Conn) mainPager() uintptr {
	main := c.mainDB()
	if main == nil || main.FpBt == 0 {
		return 0
	}
	bt := (*sqlite3.TBtree)(cptr(main.FpBt))
	if bt.FpBt == 0 {
		return 0
	}
	return (*sqlite3.TBtShared)(cptr(bt.FpBt)).FpPager
}

// ResetCache empties the main database's page cache
// (SQLITE_FCNTL_RESET_CACHE; it does nothing inside a read or write
// transaction) without counting as another connection's commit: SQLite's
// reset advances the counter behind PRAGMA data_version, which must change
// only when the data may have.
func (c *Conn) ResetCache() {
	pager := c.mainPager()
	if pager == 0 {
		c.FileControl("main", FCNTL_RESET_CACHE, 0)
		return
	}
	pg := (*sqlite3.TPager)(cptr(pager))
	dv := pg.FiDataVersion
	c.FileControl("main", FCNTL_RESET_CACHE, 0)
	pg.FiDataVersion = dv
}
