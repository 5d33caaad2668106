//go:build unix

package ioback

import "syscall"

// oNoFollow makes Open refuse a symbolic link at the name, as SQLite's unix
// VFS opens every file: a link planted at <db>-wal by whoever controls the
// directory would otherwise have its target (another user's file) truncated
// and overwritten with log frames by the process that opens the database.
// The database's own name has its links resolved before it gets here.
const oNoFollow = syscall.O_NOFOLLOW
