package libsql

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/golibsql/libsql/internal/capi"
	iouringvfs "github.com/golibsql/libsql/iouring_vfs"
	"github.com/golibsql/libsql/iouring_vfs/ioback"
)

// DefaultBackupStepPages is how many pages [Conn.Backup] and
// [Conn.Restore] copy between two looks at their context and two calls of
// [BackupOptions].Progress, unless StepPages says otherwise: 4 MiB of
// 4 KiB pages.
const DefaultBackupStepPages = 1024

// BackupOptions tunes [Conn.Backup] and [Conn.Restore]. A nil
// *BackupOptions means the defaults.
type BackupOptions struct {
	// StepPages is how many pages are copied between two looks at the
	// context and two calls of Progress; 0 means DefaultBackupStepPages.
	StepPages int
	// Progress, if not nil, is called after every step with the pages
	// copied so far and the pages of the database being copied. It runs
	// on the goroutine of the call and must not use the connection.
	Progress func(copied, total int)
}

// Backuper is implemented by the driver's connections (reached with
// sql.Conn.Raw): Backup and Restore copy a database page by page, as
// [Conn.Backup] and [Conn.Restore] do. [Backup] and [Restore] use it on a
// connection of a *sql.DB.
type Backuper interface {
	Backup(ctx context.Context, schema, dst string, opts *BackupOptions) error
	Restore(ctx context.Context, schema, src string, opts *BackupOptions) error
}

var _ Backuper = (*conn)(nil)

// Backup copies database schema ("" or "main", "temp", or an attached
// database's name) of the connection into the database dst names, a DSN
// as [Open] takes it (a path, or a file: URI with keys such as sync),
// page by page: into a new file, the pages as SQLite's pager reads them;
// into a database that exists, with SQLite's online backup
// (sqlite3_backup).
//
// The copy is of one snapshot: the connection's transaction's, if one is
// open (a transaction that has written cannot be copied), otherwise the
// newest commit when Backup begins, which Backup holds until it ends.
// Writers of the database go on meanwhile, and the copy never starts over,
// as stock SQLite's backup of a database that changes does.
//
// A dst file that does not exist is written beside its name under a
// temporary one, synced (unless dst says sync=off), and then given its
// name: it appears whole or not at all, as a database file in rollback
// mode that stock SQLite and this driver open. A dst database that exists
// (a file, or a shared in-memory database another connection has open) is
// replaced in one transaction of its own: its readers see it before or
// after, and a failed Backup leaves it as it was; its page size must be
// the source's.
//
// ctx is checked between steps of opts.StepPages pages and bounds the wait
// for dst's writer lock. Unlike VACUUM INTO, which rebuilds every b-tree,
// the copy keeps the pages as they are (free pages included), and into a
// new file takes less than half of VACUUM INTO's time (BenchmarkBackup).
func (c *Conn) Backup(ctx context.Context, schema, dst string, opts *BackupOptions) error {
	if c.c.cc.Closed() {
		return errConnClosed
	}
	return c.c.Backup(ctx, schema, dst, opts)
}

// Restore replaces database schema ("" or "main", "temp", or an attached
// database's name) of the connection with a copy of the database src
// names, a DSN as [Open] takes it (opened read-only unless it sets mode),
// with SQLite's online backup, page by page, in one transaction: the
// connection's other users and the pool's other connections see the old
// database or the new one, never a mix, and nothing changes if Restore
// fails. The connection must have no transaction open. The source is read
// from one snapshot, as by [Conn.Backup].
//
// A database whose changes are captured (a change stream subscribed, or
// cdc=on) is not restored: its rows would change with no change event.
// ctx is checked between steps and bounds the wait for the writer lock.
func (c *Conn) Restore(ctx context.Context, schema, src string, opts *BackupOptions) error {
	if c.c.cc.Closed() {
		return errConnClosed
	}
	return c.c.Restore(ctx, schema, src, opts)
}

// Backup copies database schema of db into the database dst names, on
// one connection of db's pool, as [Conn.Backup] does.
func Backup(ctx context.Context, db *sql.DB, schema, dst string, opts *BackupOptions) error {
	return withBackuper(ctx, db, func(b Backuper) error { return b.Backup(ctx, schema, dst, opts) })
}

// Restore replaces database schema of db with a copy of the database src
// names, on one connection of db's pool, as [Conn.Restore] does; the
// pool's other connections see the new database from their next
// transaction on.
func Restore(ctx context.Context, db *sql.DB, schema, src string, opts *BackupOptions) error {
	return withBackuper(ctx, db, func(b Backuper) error { return b.Restore(ctx, schema, src, opts) })
}

func withBackuper(ctx context.Context, db *sql.DB, fn func(Backuper) error) error {
	sc, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer sc.Close()
	return sc.Raw(func(dc any) error {
		b, ok := dc.(Backuper)
		if !ok {
			return fmt.Errorf("libsql: the *sql.DB's driver connection is a %T, not this driver's", dc)
		}
		return fn(b)
	})
}

// Backup implements Backuper.
func (c *conn) Backup(ctx context.Context, schema, dst string, opts *BackupOptions) error {
	schema = schemaOrMain(schema)
	err := c.copyDatabase(ctx, schema, dst, false, opts)
	if err != nil {
		return fmt.Errorf("libsql: Backup %q to %q: %w", schema, dst, err)
	}
	return nil
}

// Restore implements Backuper.
func (c *conn) Restore(ctx context.Context, schema, src string, opts *BackupOptions) error {
	schema = schemaOrMain(schema)
	err := c.copyDatabase(ctx, schema, src, true, opts)
	if err != nil {
		return fmt.Errorf("libsql: Restore %q from %q: %w", schema, src, err)
	}
	return nil
}

// copyDatabase copies database schema of c into the main database of the
// database the DSN other names, or, if restore is set, the other way.
func (c *conn) copyDatabase(ctx context.Context, schema, other string, restore bool, opts *BackupOptions) (err error) {
	step := DefaultBackupStepPages
	var progress func(int, int)
	if opts != nil {
		if opts.StepPages < 0 {
			return fmt.Errorf("BackupOptions.StepPages is %d: must not be negative", opts.StepPages)
		}
		if opts.StepPages > 0 {
			step = opts.StepPages
		}
		progress = opts.Progress
	}
	if len(c.blobs) > 0 {
		return errors.New("a blob is open on the connection: close it first")
	}
	if restore && !c.cc.GetAutocommit() {
		return errors.New("the connection has a transaction open: Restore replaces the database in a transaction of its own")
	}
	// temp is opened on first use, by sqlite3_backup_init as by a statement.
	if c.cc.DBReadOnly(schema) < 0 && !strings.EqualFold(schema, "temp") {
		return errors.New("no such database (see PRAGMA database_list)")
	}
	if !restore && c.cc.TxnState(schema) == capi.TXN_WRITE {
		return errors.New("the connection's transaction has written: a backup copies a snapshot of commits; commit first, or back up from a read transaction or outside one")
	}
	var ctrOpts []Option
	if restore {
		ctrOpts = append(ctrOpts, func(cfg *config) error {
			if cfg.mode == "rwc" {
				cfg.mode = "ro" // a source that does not exist is not created
			}
			return nil
		})
	}
	ctr, err := NewConnector(other, ctrOpts...)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := ctr.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	if ctr.cfg.memory && ctr.cfg.path == "" && ctr.cfg.cache != "shared" {
		return errors.New("the DSN names an in-memory database of its own, which nothing else can see: name a file or a shared in-memory database (file:name?mode=memory)")
	}
	cl, err := c.enter(ctx)
	if err != nil {
		return err
	}
	defer c.leave(cl)
	if !restore && !ctr.cfg.memory && ctr.cfg.mode == "rwc" && ctr.cfg.libsqlVFS() {
		if _, serr := os.Lstat(ctr.cfg.path); errors.Is(serr, fs.ErrNotExist) {
			return c.backupToNewFile(ctx, schema, ctr.cfg, step, progress)
		}
	}

	dc, err := ctr.Connect(ctx)
	if err != nil {
		return err
	}
	oc := dc.(*conn)
	defer oc.Close()
	ocl, err := oc.enter(ctx)
	if err != nil {
		return err
	}
	defer oc.leave(ocl)
	oe := engineOf(oc.cc, "main")
	if e := engineOf(c.cc, schema); e != nil && e == oe {
		return errors.New("the source and the destination are the same database")
	}
	// The connector's two handles (oc and the one keeping the database
	// alive) are the only ones: the database is new, and gone at return.
	if ctr.cfg.memory && oe != nil && oe.Files() <= 2 {
		return errors.New("no connection has this in-memory database open: it would be empty as a source and gone at return as a destination; open it (and keep a connection) first")
	}
	if restore {
		return c.backupErr(ctx, oc, runBackup(ctx, oc, "main", c, schema, step, progress))
	}
	return c.backupErr(ctx, oc, runBackup(ctx, c, schema, oc, "main", step, progress))
}

// backupToNewFile copies database schema of c into a new file at
// cfg.path: the pages of one snapshot, read through SQLite's pager
// (sqlite_dbpage), are written in order into a temporary file beside it,
// which is synced, unless cfg says sync=off, and then linked to its name,
// which must still be free. The copy appears whole or not at all, and
// costs one sequential write of the pages, where a copy into a database
// of the storage engine writes each page to the log and again to the
// database file.
func (c *conn) backupToNewFile(ctx context.Context, schema string, cfg *config, step int, progress func(int, int)) (err error) {
	dir, name := filepath.Dir(cfg.path), filepath.Base(cfg.path)
	tmp, tmpPath, err := createBeside(dir, name)
	if err != nil {
		return err
	}
	defer func() {
		if tmp != nil {
			tmp.Close()
		}
		os.Remove(tmpPath)
	}()
	release, err := holdSnapshot(ctx, c, schema)
	if err != nil {
		return err
	}
	err = c.writePages(ctx, schema, tmp, step, progress)
	release()
	if err != nil {
		return err
	}
	if cfg.sync != "off" {
		if err := tmp.Sync(); err != nil {
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	tmp = nil
	// A log or journal left beside the free name belongs to no database:
	// opening an empty file there would drop it, and it must not be
	// replayed over the copy.
	for _, suffix := range []string{"-wal", "-journal"} {
		if err := os.Remove(cfg.path + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove the stale %s beside the copy's name: %w", suffix, err)
		}
	}
	if err := os.Link(tmpPath, cfg.path); err != nil {
		return fmt.Errorf("give the copy its name: %w", err)
	}
	if cfg.sync != "off" {
		return ioback.Portable().SyncDir(dir)
	}
	return nil
}

// writePages writes the pages of database schema of c, as the snapshot c
// holds has them, to w: a database file in rollback mode. It calls
// progress every step pages and after the last, and stops with ctx's error
// at a step if ctx is done.
func (c *conn) writePages(ctx context.Context, schema string, w io.Writer, step int, progress func(int, int)) error {
	total, err := c.pageCount(schema)
	if err != nil {
		return err
	}
	p, err := c.prepare(serializeSQL)
	if err != nil {
		return c.mapErr(ctx, err)
	}
	defer c.release(p)
	if err := p.s.BindText(1, schema); err != nil {
		return c.mapErr(ctx, err)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	pw := pageWriter{w: bw}
	found := false
	for {
		more, err := p.s.Step()
		if err != nil {
			return c.mapErr(ctx, err)
		}
		if !more {
			break
		}
		found = true
		if pgno := p.s.ColumnInt64(0); pgno != 0 { // 0: the database has no page yet
			if err := pw.add(pgno, p.s.ColumnRawBlob(1)); err != nil {
				return err
			}
		}
		if n := int(pw.pages); n > 0 && n%step == 0 {
			if progress != nil {
				progress(n, total)
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	n := int(pw.pages)
	switch {
	case !found:
		return errNoSchema
	case n != total:
		return fmt.Errorf("read %d pages of a snapshot of %d", n, total)
	}
	if progress != nil && n%step != 0 {
		progress(n, total)
	}
	return bw.Flush()
}

// pageCount returns the pages of database schema of c, as its snapshot
// has them.
func (c *conn) pageCount(schema string) (int, error) {
	s, _, err := c.cc.Prepare("PRAGMA "+quoteIdent(schema)+".page_count", 0)
	if err != nil {
		return 0, err
	}
	defer s.Finalize()
	if _, err := s.Step(); err != nil {
		return 0, err
	}
	return int(s.ColumnInt64(0)), nil
}

// createBeside creates a new file in dir for the copy named name, with
// the permissions a database file gets (0644 less the umask; os.CreateTemp
// would give 0600).
func createBeside(dir, name string) (*os.File, string, error) {
	var rnd [8]byte
	for {
		if _, err := rand.Read(rnd[:]); err != nil {
			return nil, "", err
		}
		p := filepath.Join(dir, "."+name+".backup-"+hex.EncodeToString(rnd[:]))
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if !errors.Is(err, fs.ErrExist) {
			return f, p, err
		}
	}
}

// holdSnapshot makes c hold one snapshot of database schema until release:
// its transaction's, if one is open, or a read transaction's it begins.
// (sqlite3_backup_step ends a read transaction it began itself, and the
// next step's would see newer commits.)
func holdSnapshot(ctx context.Context, c *conn, schema string) (release func(), err error) {
	release = func() {}
	if c.cc.TxnState(schema) != capi.TXN_NONE {
		return release, nil
	}
	if c.cc.GetAutocommit() {
		if err := c.plain(ctx, "BEGIN"); err != nil {
			return nil, err
		}
		release = func() { c.plain(context.Background(), "ROLLBACK") }
	}
	if err := c.plain(ctx, "SELECT 1 FROM "+quoteIdent(schema)+".sqlite_master LIMIT 1"); err != nil {
		release()
		return nil, err
	}
	return release, nil
}

// runBackup copies database srcSchema of src into database dstSchema of
// dst, both connections in a call (enter), a step of step pages at a time
// from one snapshot of the source, in one transaction of the destination.
func runBackup(ctx context.Context, src *conn, srcSchema string, dst *conn, dstSchema string, step int, progress func(int, int)) error {
	if src.cc.TxnState(srcSchema) == capi.TXN_WRITE {
		return errors.New("the connection's transaction has written: a backup copies a snapshot of commits; commit first, or back up from a read transaction or outside one")
	}
	release, err := holdSnapshot(ctx, src, srcSchema)
	if err != nil {
		return err
	}
	defer release()
	if captured(dst.cc, dstSchema) {
		return errCaptured
	}
	b, err := dst.cc.Backup(dstSchema, src.cc, srcSchema)
	if err != nil {
		return err
	}
	defer b.Finish()
	// A step of no page takes the locks: the capture check below then
	// holds until the commit.
	done, err := b.Step(0)
	for err == nil && !done {
		if captured(dst.cc, dstSchema) {
			return errCaptured
		}
		if err = ctx.Err(); err != nil {
			return err
		}
		done, err = b.Step(step)
		if progress != nil && err == nil {
			progress(b.PageCount()-b.Remaining(), b.PageCount())
		}
	}
	if err != nil {
		return err
	}
	return b.Finish()
}

// errCaptured refuses a copy into a database whose changes are captured.
var errCaptured = errors.New("the destination's changes are captured (a change stream is subscribed, or cdc=on): a page-by-page copy would change its rows with no change event")

// backupErr maps an error of a copy between c and oc, adding the storage
// engine's reason from whichever end has one.
func (c *conn) backupErr(ctx context.Context, oc *conn, err error) error {
	if err == nil {
		return nil
	}
	if ce, ok := err.(*capi.Error); ok && ce.Cause == nil {
		if cause := oc.vfsError(); cause != nil {
			ce.Cause = cause
			ce.Msg += ": " + cause.Error()
		}
	}
	return c.mapErr(ctx, err)
}

// captured reports whether the changes of a connection's database are
// captured: streamed, or stored (cdc=on).
func captured(cc *capi.Conn, schema string) bool {
	e := engineOf(cc, schema)
	return e != nil && (e.Capturing() || e.Durable())
}

// engineOf returns the storage engine of a connection's database, nil if
// the libsql VFS does not hold it.
func engineOf(cc *capi.Conn, schema string) *iouringvfs.Engine {
	if f := iouringvfs.FileOf(cc.FileHandle(schema)); f != nil {
		return f.Engine()
	}
	return nil
}
