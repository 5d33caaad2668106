// Package iofault wraps the file interface of package ioback with the two
// failure models the storage engine's tests need.
//
// FaultFS forwards to any ioback.FS, counts every operation (Op) and fails
// exactly the one a test arms: the Nth operation, or the Nth matching a
// predicate, with EIO, ENOSPC, a short write (a prefix lands, then ENOSPC)
// or a torn write (a random set of 512-byte sectors lands, then EIO). A
// sweep test fails operation i for i = 0, 1, 2, … until the workload runs
// without the fault firing, and checks each time that the error reached the
// caller and the files reopen cleanly:
//
//	for i := 0; ; i++ {
//		ffs := iofault.NewFaultFS(ioback.NewMemFS())
//		ffs.FailAt(i, iofault.EIO)
//		err := workload(ffs)
//		if !ffs.Fired() {
//			break // the workload has fewer than i+1 operations
//		}
//		// require errors.As(err, new(*iofault.InjectedError)), then reopen
//	}
//
// CrashFS is an in-memory FS that knows what would survive a power loss:
// for every file the image as of its last successful Sync plus the writes
// since, and for every name whether its creation or removal was made
// durable (by a Sync of the new file or a SyncDir of its directory). Crash
// returns the FS after a simulated power loss and reboot: synced data, plus
// a random selection of the unsynced writes, each kept whole, dropped, or
// torn at 512-byte sector boundaries. Every handle of the old incarnation
// fails from then on. The choice is deterministic given the seed, so a
// failure replays.
//
// Both are meant for tests but are ordinary exported code, so the tests of
// other packages (the log, the page store, the driver) can use them.
package iofault
