// Package iouringvfs puts stock SQLite on a multi-version page store: the
// VFS the driver opens every database through, files and in-memory
// databases alike.
//
// SQLite above runs in rollback-journal mode (journal_mode=TRUNCATE, its
// journal a private temporary file of this VFS: see File.SetupJournal)
// and sees an ordinary database file. Below,
// each database file has one Engine per process, shared by all its
// connections: a log in SQLite's WAL format (package wal) that keeps every
// committed version of every page until a checkpoint, a shared page cache,
// the pinned snapshots and a FIFO writer lock.
//
//   - xLock(SHARED) pins a snapshot; xRead serves the page as of that
//     version, overlaid with the connection's private writes; xFileSize is
//     the snapshot's size. Readers never wait for writers.
//   - xLock(RESERVED) takes the writer lock (a queue honouring the call's
//     context and busy timeout); a stale snapshot is refused with
//     SQLITE_BUSY_SNAPSHOT, as in WAL mode, and SQLite retries with a fresh
//     one.
//   - xWrite goes to a private write set (moved to disk past wsMemMax);
//     SQLITE_FCNTL_COMMIT_PHASETWO is the commit point, where the set
//     becomes one commit of the log.
//   - On disk the files are a WAL-mode database and its -wal file, which
//     stock SQLite opens at any moment, after a clean close or a crash.
//
// The engine holds the same byte-range locks a stock SQLite connection in
// exclusive locking mode holds, so one process owns a database: another
// process gets "database is locked".
package iouringvfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/golibsql/libsql/internal/capi"
	"github.com/golibsql/libsql/iouring_vfs/ioback"
	"github.com/golibsql/libsql/iouring_vfs/wal"
)

// Name is the name the VFS is registered under.
const Name = "libsql"

// URI parameters the VFS reads from a main database file's name. The driver
// sets them from its DSN; ATTACH may set them too.
const (
	// ParamSync is the commit durability: full, normal or off.
	ParamSync = "libsql_sync"
	// ParamIO chooses the I/O backend: auto, uring or portable.
	ParamIO = "libsql_io"
	// ParamPageCache is the shared page cache size in pages.
	ParamPageCache = "libsql_page_cache"
	// ParamMemory marks an in-memory database: the name is its key.
	ParamMemory = "libsql_memory"
	// ParamImage names an image registered with RegisterImage: the
	// in-memory database, if this open creates it, starts from it.
	ParamImage = "libsql_image"
)

// VFS is the Go side of the "libsql" SQLite VFS.
type VFS struct {
	mu      sync.Mutex
	engines map[any]*Engine
	// changing holds, by key, a channel closed once the file's engine has
	// opened (taken the file lock, recovered the log) or, its last
	// connection released, closed (its final checkpoint done, its file
	// lock given back). Both run without mu, so that other databases'
	// opens and closes go on meanwhile; an open of the same file waits
	// for the channel, rather than opening a second engine or waiting for
	// the file lock the closing one still holds.
	changing map[any]chan struct{}
	fss      map[ioback.Kind]ioback.FS
	mems     map[string]ioback.FS
	testFS   ioback.FS // set by SetFSForTesting
}

var _ capi.VFS = (*VFS)(nil)

var (
	defaultVFS  *VFS
	registerErr error
	registered  sync.Once
)

// Register registers the VFS with SQLite (once) and returns it.
func Register() (*VFS, error) {
	registered.Do(func() {
		defaultVFS = &VFS{engines: map[any]*Engine{}, fss: map[ioback.Kind]ioback.FS{}, mems: map[string]ioback.FS{}}
		registerErr = capi.RegisterVFS(Name, defaultVFS, false)
	})
	return defaultVFS, registerErr
}

// SetFSForTesting makes every file database opened from now on use fsys,
// until the returned function is called.
func (v *VFS) SetFSForTesting(fsys ioback.FS) (restore func()) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.testFS = fsys
	return func() {
		v.mu.Lock()
		defer v.mu.Unlock()
		v.testFS = nil
	}
}

// fsFor returns the file system of backend k; v.mu is held.
func (v *VFS) fsFor(k ioback.Kind) (ioback.FS, error) {
	if v.testFS != nil {
		return v.testFS, nil
	}
	if fs, ok := v.fss[k]; ok {
		return fs, nil
	}
	fs, err := ioback.New(k)
	if err != nil {
		return nil, err
	}
	if k != ioback.KindAuto || ioback.Describe(fs) != "portable" {
		// An automatic fallback is not kept: io_uring may have been
		// refused for a moment only (ioback.ErrUringRetryable), and asking
		// again after a lasting refusal costs nothing.
		v.fss[k] = fs
	}
	return fs, nil
}

// parseOptions reads the engine options from a main database file's URI
// parameters.
func parseOptions(param func(string) (string, bool)) (opts engineOptions, memory bool, err error) {
	opts.pageCache = DefaultPageCache
	if s, ok := param(ParamSync); ok {
		if opts.sync, err = wal.ParseSyncMode(s); err != nil {
			return opts, false, err
		}
	}
	if s, ok := param(ParamIO); ok {
		if opts.io, err = ioback.ParseKind(s); err != nil {
			return opts, false, err
		}
	}
	if s, ok := param(ParamPageCache); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return opts, false, fmt.Errorf("invalid %s %q: want a number of pages", ParamPageCache, s)
		}
		opts.pageCache = n
	}
	if s, ok := param(ParamMemory); ok && s != "0" && s != "" {
		memory = true
	}
	if s, ok := param(ParamImage); ok && s != "" {
		if !memory {
			return opts, false, fmt.Errorf("%s names an image for a database file: images start in-memory databases only", ParamImage)
		}
		opts.image = s
	}
	return opts, memory, nil
}

// Open opens a file for SQLite: main database files through their engine,
// everything else (journals, temporary databases, statement journals) as
// private temporary files, in memory until they grow big (tempFile).
func (v *VFS) Open(name string, flags int32, param func(string) (string, bool)) (capi.VFSFile, int32, error) {
	if flags&capi.OPEN_MAIN_DB == 0 {
		return newTempFile(), flags, nil
	}
	opts, memory, err := parseOptions(param)
	if err != nil {
		return nil, 0, &capi.CodeError{Code: capi.CANTOPEN, Err: err}
	}
	readOnly := flags&capi.OPEN_READONLY != 0
	v.mu.Lock()
	defer v.mu.Unlock()
	var e *Engine
	if memory {
		e, err = v.memEngine(name, opts)
	} else {
		e, err = v.fileEngine(name, flags, readOnly, opts)
	}
	if err != nil {
		return nil, 0, err
	}
	if e.readOnly && !readOnly {
		// A file this process may not write opens read-only, as in stock
		// SQLite: SQLite then refuses writes with SQLITE_READONLY.
		readOnly = true
		flags = flags&^(capi.OPEN_READWRITE|capi.OPEN_CREATE) | capi.OPEN_READONLY
	}
	e.refs++
	f := &File{e: e, readOnly: readOnly, commitSync: opts.sync == wal.SyncFull}
	return f, flags, nil
}

func (v *VFS) memEngine(name string, opts engineOptions) (*Engine, error) {
	key := memKey(name)
	if e, ok := v.engines[key]; ok {
		if opts.image != "" && e.opts.image != opts.image {
			return nil, &capi.CodeError{Code: capi.CANTOPEN, Err: fmt.Errorf("in-memory database %s is open already, and did not start from this image: an image starts a new in-memory database only", name)}
		}
		return e, nil
	}
	mfs := ioback.NewMemFS()
	db, err := mfs.Open("/db", ioback.OpenCreate)
	if err != nil {
		return nil, err
	}
	if opts.image != "" {
		if err := loadImage(db, opts.image); err != nil {
			db.Close()
			return nil, &capi.CodeError{Code: capi.CANTOPEN, Err: fmt.Errorf("in-memory database %s: %w", name, err)}
		}
	}
	opts.sync = wal.SyncOff
	e, err := v.openEngine(key, "/db", mfs, db, false, opts)
	if err != nil {
		db.Close()
		return nil, err
	}
	e.name = name
	v.engines[key] = e
	releaseImage(opts.image) // the engine's file holds it now
	return e, nil
}

func (v *VFS) fileEngine(name string, flags int32, readOnly bool, opts engineOptions) (*Engine, error) {
	fsys, err := v.fsFor(opts.io)
	if err != nil {
		return nil, &capi.CodeError{Code: capi.CANTOPEN, Err: fmt.Errorf("I/O backend %s: %w", opts.io, err)}
	}
	if hotJournal(fsys, name) {
		if readOnly {
			// Stock SQLite would roll it back and cannot read-only, nor
			// can we: the file holds half a transaction.
			return nil, &capi.CodeError{Code: capi.READONLY_ROLLBACK, Err: fmt.Errorf("%s-journal is a hot journal left by a crashed writer: open %s read-write once to roll it back", name, name)}
		}
		if err := rollbackHotJournal(name); err != nil {
			return nil, &capi.CodeError{Code: capi.CANTOPEN, Err: fmt.Errorf("roll back the hot journal of %s: %w", name, err)}
		}
	}
	if _, id, err := fsys.Stat(name); err == nil && v.changing[id] == nil {
		// The file's engine is open already: no descriptor of the file is
		// opened and closed again (closing one drops the fcntl locks
		// another SQLite library in the process may hold on it).
		if e, ok := v.engines[id]; ok && (readOnly || !e.readOnly) {
			return e, nil
		}
	}
	of := ioback.OpenFlag(0)
	switch {
	case readOnly:
		of = ioback.OpenReadOnly
	case flags&capi.OPEN_CREATE != 0:
		of = ioback.OpenCreate
	}
	db, err := fsys.Open(name, of)
	if err != nil && !readOnly && (errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS)) {
		// A file this process may not write opens read-only, as stock
		// SQLite does (Open tells SQLite).
		readOnly = true
		db, err = fsys.Open(name, ioback.OpenReadOnly)
	}
	if err != nil {
		return nil, &capi.CodeError{Code: capi.CANTOPEN, Err: fmt.Errorf("open %s: %w", name, err)}
	}
	id, err := db.ID()
	if err != nil {
		db.Close()
		return nil, &capi.CodeError{Code: capi.CANTOPEN, Err: fmt.Errorf("identify %s: %w", name, err)}
	}
	for v.changing[id] != nil { // the file's engine is opening or closing: wait for it
		done := v.changing[id]
		v.mu.Unlock()
		<-done
		v.mu.Lock()
	}
	if e, ok := v.engines[id]; ok {
		db.Close()
		if e.readOnly && !readOnly {
			if writable, err := fsys.Open(name, ioback.OpenFlag(0)); err == nil {
				writable.Close()
				return nil, &capi.CodeError{Code: capi.CANTOPEN, Err: fmt.Errorf("open %s for writing: this process has it open read-only (mode=ro); close those connections first, or open them read-write", name)}
			}
			// Still not writable: open read-only, as the first open did.
		}
		return e, nil
	}
	done := v.change(id)
	v.mu.Unlock()
	e, err := v.openEngine(id, name, fsys, db, readOnly, opts)
	v.mu.Lock()
	delete(v.changing, id)
	close(done)
	if err != nil {
		db.Close()
		var ce *capi.CodeError
		if errors.As(err, &ce) {
			return nil, err
		}
		return nil, &capi.CodeError{Code: capi.CANTOPEN, Err: err}
	}
	v.engines[id] = e
	return e, nil
}

// hotJournal reports whether the database at name has a hot rollback
// journal beside it, as stock SQLite judges it once it has the file to
// itself: the database is not empty, and the journal's first byte is not
// zero (a journal whose header was zeroed, journal_mode=PERSIST's, or
// truncated, TRUNCATE's, committed).
func hotJournal(fsys ioback.FS, name string) bool {
	if jsize, _, err := fsys.Stat(name + "-journal"); err != nil || jsize == 0 {
		return false // the usual case: one stat per open
	}
	if size, _, err := fsys.Stat(name); err != nil || size == 0 {
		return false
	}
	j, err := fsys.Open(name+"-journal", ioback.OpenReadOnly)
	if err != nil {
		return true // not a file we can read (a directory...): let stock SQLite say
	}
	defer j.Close()
	var b [1]byte
	n, err := j.ReadAt(b[:], 0)
	return n == 1 && b[0] != 0 || n == 0 && err != nil && !errors.Is(err, io.EOF)
}

// rollbackHotJournal lets stock SQLite (its default VFS) roll back a hot
// rollback journal that a crashed stock SQLite writer left beside a
// database, before the engine takes the file over: this VFS never shows
// SQLite a journal, so SQLite above it could not.
func rollbackHotJournal(path string) error {
	c, err := capi.Open(path, capi.OPEN_READWRITE, "")
	if err != nil {
		return err
	}
	err = c.Exec("PRAGMA schema_version")
	return errors.Join(err, c.Close())
}

// releaseEngine drops a connection's reference to its engine, closing the
// engine with the last one.
func (v *VFS) releaseEngine(e *Engine) error {
	v.mu.Lock()
	e.refs--
	if e.refs > 0 {
		v.mu.Unlock()
		return nil
	}
	delete(v.engines, e.key)
	done := v.change(e.key)
	v.mu.Unlock()
	if testHookEngineClosing != nil {
		testHookEngineClosing()
	}
	err := e.close()
	v.mu.Lock()
	delete(v.changing, e.key)
	v.mu.Unlock()
	close(done)
	return err
}

// change records that key's engine is opening or closing, and returns the
// channel to close when it is done; v.mu is held.
func (v *VFS) change(key any) chan struct{} {
	done := make(chan struct{})
	if v.changing == nil {
		v.changing = map[any]chan struct{}{}
	}
	v.changing[key] = done
	return done
}

// testHookEngineClosing, when set, runs as an engine starts closing.
var testHookEngineClosing func()

// testHookEngineOpening, when set, runs as an engine starts opening.
var testHookEngineOpening func(name string)

// isLogOrJournal reports whether name is a rollback journal, a WAL file
// or a super-journal, which this VFS keeps to itself: SQLite never sees
// ours (journals are in memory, the log is the engine's).
func isLogOrJournal(name string) bool {
	return strings.HasSuffix(name, "-journal") || strings.HasSuffix(name, "-wal") || isSuperJournal(name)
}

// isSuperJournal reports whether name is a super-journal, which SQLite
// names after the main database: "-mj", six hex digits, "9", two hex
// digits (vdbeaux.c). SQLite writes one when a transaction writes two
// attached databases that keep rollback journals; this VFS gives it a
// private temporary file like any journal (Open), so it must not look for
// it on disk either.
func isSuperJournal(name string) bool {
	i := len(name) - len("-mjXXXXXX9XX")
	if i < 0 || name[i:i+3] != "-mj" || name[len(name)-3] != '9' {
		return false
	}
	for _, c := range name[i+3:] {
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// Delete removes a file SQLite asks to remove. Journals and logs are the
// engine's business and are never removed this way.
func (v *VFS) Delete(name string, syncDir bool) error {
	if isLogOrJournal(name) {
		return nil
	}
	v.mu.Lock()
	fsys, err := v.fsFor(ioback.KindPortable)
	v.mu.Unlock()
	if err != nil {
		return err
	}
	if err := fsys.Remove(name); err != nil {
		return err
	}
	if syncDir {
		return fsys.SyncDir(filepath.Dir(name))
	}
	return nil
}

// Access answers SQLite's existence checks: journals and logs never exist
// (SQLite must not look for a hot journal or open a WAL of its own). name
// is SQLite's memory, valid only during the call (capi.VFS).
func (v *VFS) Access(name string, flags int32) (bool, error) {
	if isLogOrJournal(name) {
		return false, nil
	}
	v.mu.Lock()
	for k, e := range v.engines {
		if _, mem := k.(memKey); mem && e.name == name {
			v.mu.Unlock()
			return true, nil
		}
	}
	fsys, err := v.fsFor(ioback.KindPortable)
	v.mu.Unlock()
	if err != nil {
		return false, err
	}
	_, _, err = fsys.Stat(strings.Clone(name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// FullPathname makes name absolute and resolves symbolic links as stock
// SQLite's unix VFS does, one element at a time (a link before a ".." is
// followed first, as open(2) follows it): the log and journals live
// beside the file a name reaches, where stock SQLite (and this VFS, opened
// by another name) looks for them. A link to a file that does not exist
// yet resolves to the name the file will have.
func (v *VFS) FullPathname(name string) (string, error) {
	if filepath.Separator != '/' {
		p, err := filepath.Abs(name)
		if err != nil {
			return "", err
		}
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return real, nil
		}
		return p, nil
	}
	if !strings.HasPrefix(name, "/") {
		wd, err := os.Getwd()
		if err != nil {
			return "", err
		}
		name = wd + "/" + name
	}
	var out []string // the resolved elements
	pending := strings.Split(name, "/")
	for links := 0; len(pending) > 0; {
		el := pending[0]
		pending = pending[1:]
		switch el {
		case "", ".":
			continue
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			continue
		}
		p := "/" + strings.Join(append(out, el), "/")
		target, err := os.Readlink(p)
		if err != nil {
			out = append(out, el) // not a link, or nothing there yet
			continue
		}
		if links++; links > maxSymlinks {
			return "", fmt.Errorf("resolve %s: too many levels of symbolic links", name)
		}
		if strings.HasPrefix(target, "/") {
			out = out[:0]
		}
		pending = append(strings.Split(target, "/"), pending...)
	}
	return "/" + strings.Join(out, "/"), nil
}

// maxSymlinks is how many symbolic links FullPathname follows in one name
// (SQLite's SQLITE_MAX_SYMLINK).
const maxSymlinks = 100

// FileOf returns the file behind a database file handle obtained with
// capi.Conn.FileHandle, or nil if the handle is not one of this VFS.
func FileOf(h capi.Handle) *File {
	f, _ := h.Value().(*File)
	return f
}
