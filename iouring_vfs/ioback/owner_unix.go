//go:build unix

package ioback

import (
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"
)

// errNotPlainFile: MatchOwner leaves alone a file reached through a link.
var errNotPlainFile = fmt.Errorf("not a plain file with one name: %w", fs.ErrPermission)

// MatchOwner gives dst, a file made beside src (a database's log), src's
// permission bits and, when the process runs as root, src's owner and
// group. SQLite does the same for its journals and logs: a 0600 database
// never gets a log others can read, whatever the umask, and a log created
// by root (a migration or a check run as root) stays writable by the
// database's owner. Files of other backends (MemFS, wrappers) are left
// alone, and so is a file that is not a plain file of its own at its name
// (a symbolic link, or one with other hard links): the error then matches
// fs.ErrPermission. The first error is returned, wrapped; a caller that
// cannot change a file it does not own may ignore fs.ErrPermission.
func MatchOwner(dst, src File) error {
	d, ok1 := dst.(fdFile)
	s, ok2 := src.(fdFile)
	if !ok1 || !ok2 {
		return nil
	}
	var want unix.Stat_t
	if err := s.withFD(func(fd int) error { return unix.Fstat(fd, &want) }); err != nil {
		return wrapErr("fstat", s.fileName(), err)
	}
	return d.withFD(func(fd int) error {
		var cur, named unix.Stat_t
		if err := unix.Fstat(fd, &cur); err != nil {
			return wrapErr("fstat", d.fileName(), err)
		}
		if err := unix.Lstat(d.fileName(), &named); err != nil {
			return wrapErr("lstat", d.fileName(), err)
		}
		if named.Mode&unix.S_IFMT != unix.S_IFREG || named.Dev != cur.Dev || named.Ino != cur.Ino || cur.Nlink != 1 {
			// Not a plain file of its own at that name: a symbolic or
			// hard link (to /etc/shadow, say, planted beside a database
			// root opens) must not hand its target to the database's
			// owner, nor open it to others.
			return wrapErr("match owner", d.fileName(), errNotPlainFile)
		}
		if unix.Geteuid() == 0 && (cur.Uid != want.Uid || cur.Gid != want.Gid) {
			if err := unix.Fchown(fd, int(want.Uid), int(want.Gid)); err != nil {
				return wrapErr("fchown", d.fileName(), err)
			}
		}
		if perm := uint32(want.Mode & 0o777); uint32(cur.Mode&0o777) != perm {
			return wrapErr("fchmod", d.fileName(), unix.Fchmod(fd, perm))
		}
		return nil
	})
}
