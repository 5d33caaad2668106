package capi

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// This file registers a Go implementation of sqlite3_vfs with the transpiled
// engine.
//
// Memory. The sqlite3_vfs struct and its name live in the libc heap for the
// life of the process (SQLite keeps pointers to both; a VFS is never
// unregistered). The io_methods table is a Go package variable: SQLite
// stores its address in every open sqlite3_file, and a package variable
// never moves and is never freed. Each sqlite3_file is allocated by SQLite
// (szOsFile bytes) and laid out as vfsFile: the methods pointer SQLite reads,
// then the Handle of the Go file, deleted by xClose. Buffers SQLite passes to
// xRead and xWrite are its own; the Go file sees them as slices that are
// valid only during the call and must not be retained. So is the name
// xAccess passes (cstringView); the other callbacks' names are copied.

// Lock levels of xLock and xUnlock, as SQLite spells them.
const (
	LOCK_NONE      = sqlite3.SQLITE_LOCK_NONE
	LOCK_SHARED    = sqlite3.SQLITE_LOCK_SHARED
	LOCK_RESERVED  = sqlite3.SQLITE_LOCK_RESERVED
	LOCK_PENDING   = sqlite3.SQLITE_LOCK_PENDING
	LOCK_EXCLUSIVE = sqlite3.SQLITE_LOCK_EXCLUSIVE
)

// Open flags of xOpen (the subset a VFS branches on).
const (
	OPEN_DELETEONCLOSE  = sqlite3.SQLITE_OPEN_DELETEONCLOSE
	OPEN_EXCLUSIVE      = sqlite3.SQLITE_OPEN_EXCLUSIVE
	OPEN_MAIN_DB        = sqlite3.SQLITE_OPEN_MAIN_DB
	OPEN_TEMP_DB        = sqlite3.SQLITE_OPEN_TEMP_DB
	OPEN_TRANSIENT_DB   = sqlite3.SQLITE_OPEN_TRANSIENT_DB
	OPEN_MAIN_JOURNAL   = sqlite3.SQLITE_OPEN_MAIN_JOURNAL
	OPEN_TEMP_JOURNAL   = sqlite3.SQLITE_OPEN_TEMP_JOURNAL
	OPEN_SUBJOURNAL     = sqlite3.SQLITE_OPEN_SUBJOURNAL
	OPEN_SUPER_JOURNAL  = sqlite3.SQLITE_OPEN_SUPER_JOURNAL
	OPEN_WAL            = sqlite3.SQLITE_OPEN_WAL
	ACCESS_EXISTS       = sqlite3.SQLITE_ACCESS_EXISTS
	ACCESS_READWRITE    = sqlite3.SQLITE_ACCESS_READWRITE
	IOCAP_POWERSAFE_OW  = sqlite3.SQLITE_IOCAP_POWERSAFE_OVERWRITE
	IOCAP_UNDELETABLE   = sqlite3.SQLITE_IOCAP_UNDELETABLE_WHEN_OPEN
	IOCAP_SAFE_APPEND   = sqlite3.SQLITE_IOCAP_SAFE_APPEND
	IOCAP_SEQUENTIAL    = sqlite3.SQLITE_IOCAP_SEQUENTIAL
	IOCAP_SUBPAGE_READ  = sqlite3.SQLITE_IOCAP_SUBPAGE_READ
	FCNTL_PRAGMA        = sqlite3.SQLITE_FCNTL_PRAGMA
	FCNTL_COMMIT_PHASE2 = sqlite3.SQLITE_FCNTL_COMMIT_PHASETWO
	FCNTL_SYNC          = sqlite3.SQLITE_FCNTL_SYNC
	FCNTL_MMAP_SIZE     = sqlite3.SQLITE_FCNTL_MMAP_SIZE
)

// FCNTL_LIBSQL_FILE is our private file-control opcode: sent with
// Conn.FileControl, it stores the Handle of the VFS file at *arg, so the
// driver can reach the Go object behind a connection's database file. The
// value is far above SQLite's own opcodes.
const FCNTL_LIBSQL_FILE = 0x6c73_0001

// VFS is a virtual file system written in Go. Its methods run on the
// goroutine of the SQLite call that needs them.
type VFS interface {
	// Open opens the file name (empty for a temporary file) with SQLite's
	// open flags; param returns a URI parameter of a main database file
	// opened with OPEN_URI. It returns the file and the flags it was
	// opened with (OPEN_READONLY if a read-write open fell back).
	Open(name string, flags int32, param func(key string) (string, bool)) (VFSFile, int32, error)
	// Delete removes the named file.
	Delete(name string, syncDir bool) error
	// Access reports whether the file exists (ACCESS_EXISTS) or is
	// readable and writable (ACCESS_READWRITE). SQLite asks it twice at
	// the start of every read transaction (for a hot journal and a WAL
	// file), so name is SQLite's own memory, not a copy: it is valid only
	// during the call, and an implementation that keeps it (in an error,
	// say) copies it first.
	Access(name string, flags int32) (bool, error)
	// FullPathname returns the canonical name of name.
	FullPathname(name string) (string, error)
}

// VFSFile is a file opened by a VFS.
type VFSFile interface {
	Close() error
	// ReadAt reads len(p) bytes at off. When the file ends first it
	// returns the count read; the bridge zero-fills the rest and reports
	// SQLITE_IOERR_SHORT_READ, as SQLite requires.
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) error
	Truncate(size int64) error
	Sync(flags int32) error
	Size() (int64, error)
	Lock(level int32) error
	Unlock(level int32) error
	CheckReservedLock() (bool, error)
	SectorSize() int32
	DeviceCharacteristics() int32
}

// PragmaFile is implemented by files that handle some PRAGMAs themselves
// (SQLITE_FCNTL_PRAGMA, sent for every PRAGMA on a main database file).
// Pragma returns handled=false to leave the PRAGMA to SQLite. value is nil
// for a query ("PRAGMA name"). A non-empty result is the PRAGMA's one-row
// answer; an error is reported as the PRAGMA's error message.
type PragmaFile interface {
	Pragma(name string, value *string) (result string, handled bool, err error)
}

// CommitFile is implemented by files that publish a transaction at
// SQLITE_FCNTL_COMMIT_PHASETWO, sent once per commit after SQLite has
// written and synced every page. Its error reaches the committing
// statement, but the transaction can no longer be rolled back by SQLite.
type CommitFile interface {
	CommitPhaseTwo() error
}

// Coder is implemented by errors that know their SQLite result code. A VFS
// method's error that is not a Coder becomes the method's SQLITE_IOERR_*
// code.
type Coder interface {
	SQLiteCode() int32
}

// CodeError is an error with an SQLite result code.
type CodeError struct {
	Code int32
	Err  error
}

func (e *CodeError) Error() string {
	if e.Err == nil {
		return ErrStr(e.Code)
	}
	return e.Err.Error()
}

// SQLiteCode returns e.Code.
func (e *CodeError) SQLiteCode() int32 { return e.Code }

// Unwrap returns the cause.
func (e *CodeError) Unwrap() error { return e.Err }

// codeOf maps a VFS method's error to its SQLite result code: a Coder's own
// code, else def.
func codeOf(err error, def int32) int32 {
	if err == nil {
		return OK
	}
	var c Coder
	if errors.As(err, &c) {
		return c.SQLiteCode()
	}
	return def
}

// vfsFile is the layout of an sqlite3_file opened by a Go VFS.
type vfsFile struct {
	base   sqlite3.Tsqlite3_file
	handle Handle
	// pager is the Pager of the connection whose main database this file
	// is, once [Conn.KeepCacheAcrossSnapshots] found it (see keepCache).
	pager uintptr
}

// vfsEntry is what a registered sqlite3_vfs's pAppData names.
type vfsEntry struct {
	vfs VFS
}

var (
	vfsMu      sync.Mutex
	vfsMethods sqlite3.Tsqlite3_io_methods
	vfsTLS     *libc.TLS
)

func init() {
	m := &vfsMethods
	m.FiVersion = 1
	m.FxClose = funcPtr(vfsClose)
	m.FxRead = funcPtr(vfsRead)
	m.FxWrite = funcPtr(vfsWrite)
	m.FxTruncate = funcPtr(vfsTruncate)
	m.FxSync = funcPtr(vfsSync)
	m.FxFileSize = funcPtr(vfsFileSize)
	m.FxLock = funcPtr(vfsLock)
	m.FxUnlock = funcPtr(vfsUnlock)
	m.FxCheckReservedLock = funcPtr(vfsCheckReservedLock)
	m.FxFileControl = funcPtr(vfsFileControl)
	m.FxSectorSize = funcPtr(vfsSectorSize)
	m.FxDeviceCharacteristics = funcPtr(vfsDeviceCharacteristics)
}

// RegisterVFS registers v with SQLite under name. Utility methods a VFS has
// no reason to change (randomness, sleep, current time, dynamic loading)
// are those of SQLite's default VFS. A VFS stays registered for the life of
// the process.
func RegisterVFS(name string, v VFS, makeDefault bool) error {
	vfsMu.Lock()
	defer vfsMu.Unlock()
	if vfsTLS == nil {
		vfsTLS = libc.NewTLS()
	}
	tls := vfsTLS
	if rc := initialize(tls); rc != OK {
		return fmt.Errorf("capi: sqlite3_initialize: %s", ErrStr(rc))
	}
	zName, err := libc.CString(name)
	if err != nil {
		return err
	}
	if sqlite3.Xsqlite3_vfs_find(tls, zName) != 0 {
		libc.Xfree(tls, zName)
		return fmt.Errorf("capi: a VFS named %q is already registered", name)
	}
	dflt := sqlite3.Xsqlite3_vfs_find(tls, 0)
	if dflt == 0 {
		libc.Xfree(tls, zName)
		return errors.New("capi: SQLite has no default VFS")
	}
	p := libc.Xcalloc(tls, 1, uint64(unsafe.Sizeof(sqlite3.Tsqlite3_vfs{})))
	if p == 0 {
		libc.Xfree(tls, zName)
		return errors.New("capi: out of memory registering a VFS")
	}
	d := (*sqlite3.Tsqlite3_vfs)(cptr(dflt))
	s := (*sqlite3.Tsqlite3_vfs)(cptr(p))
	s.FiVersion = 2
	s.FszOsFile = int32(unsafe.Sizeof(vfsFile{}))
	s.FmxPathname = 1024
	s.FzName = zName
	s.FpAppData = uintptr(NewHandle(&vfsEntry{vfs: v}))
	s.FxOpen = funcPtr(vfsOpen)
	s.FxDelete = funcPtr(vfsDelete)
	s.FxAccess = funcPtr(vfsAccess)
	s.FxFullPathname = funcPtr(vfsFullPathname)
	s.FxDlOpen = d.FxDlOpen
	s.FxDlError = d.FxDlError
	s.FxDlSym = d.FxDlSym
	s.FxDlClose = d.FxDlClose
	s.FxRandomness = d.FxRandomness
	s.FxSleep = d.FxSleep
	s.FxCurrentTime = d.FxCurrentTime
	s.FxGetLastError = d.FxGetLastError
	s.FxCurrentTimeInt64 = d.FxCurrentTimeInt64
	mk := int32(0)
	if makeDefault {
		mk = 1
	}
	if rc := sqlite3.Xsqlite3_vfs_register(tls, p, mk); rc != OK {
		return fmt.Errorf("capi: sqlite3_vfs_register(%q): %s", name, ErrStr(rc))
	}
	return nil
}

func vfsOf(pVfs uintptr) VFS {
	e, _ := Handle((*sqlite3.Tsqlite3_vfs)(cptr(pVfs)).FpAppData).Value().(*vfsEntry)
	if e == nil {
		return nil
	}
	return e.vfs
}

func fileOf(pFile uintptr) VFSFile {
	f, _ := (*vfsFile)(cptr(pFile)).handle.Value().(VFSFile)
	return f
}

// recoverCode turns a panic in a VFS callback into an SQLite error code;
// a panic must never unwind through the transpiled C frames.
func recoverCode(rc *int32, code int32) {
	if r := recover(); r != nil {
		fmt.Fprintf(os.Stderr, "libsql: panic in VFS callback: %v\n", r)
		*rc = code
	}
}

func vfsOpen(tls *libc.TLS, pVfs, zName, pFile uintptr, flags int32, pOutFlags uintptr) (rc int32) {
	defer recoverCode(&rc, CANTOPEN)
	vf := (*vfsFile)(cptr(pFile))
	vf.base.FpMethods = 0
	vf.pager = 0
	v := vfsOf(pVfs)
	if v == nil {
		return CANTOPEN
	}
	name := goString(zName)
	param := func(key string) (string, bool) {
		if zName == 0 || flags&OPEN_MAIN_DB == 0 {
			return "", false
		}
		zKey, size := stackString(tls, key)
		defer tls.Free(size)
		z := sqlite3.Xsqlite3_uri_parameter(tls, zName, zKey)
		if z == 0 {
			return "", false
		}
		return goString(z), true
	}
	f, outFlags, err := v.Open(name, flags, param)
	if err != nil {
		if flags&OPEN_MAIN_DB != 0 {
			openErrs.Store(tls, err)
		}
		return codeOf(err, CANTOPEN)
	}
	vf.handle = NewHandle(f)
	vf.base.FpMethods = uintptr(unsafe.Pointer(&vfsMethods))
	if pOutFlags != 0 {
		*(*int32)(cptr(pOutFlags)) = outFlags
	}
	return OK
}

// openErrs holds, per TLS (each Conn has its own), the Go error of the
// last database file a Go VFS failed to open on it, since SQLite keeps
// only the code: Open reports it, and Conn.TakeOpenError after an ATTACH.
var openErrs sync.Map // *libc.TLS → error

// TakeOpenError returns, and forgets, the Go error of the last database
// file a Go VFS failed to open on c (an ATTACH), or nil.
func (c *Conn) TakeOpenError() error {
	if err, ok := openErrs.LoadAndDelete(c.tls); ok {
		return err.(error)
	}
	return nil
}

func vfsDelete(tls *libc.TLS, pVfs, zName uintptr, syncDir int32) (rc int32) {
	defer recoverCode(&rc, IOERR_DELETE)
	err := vfsOf(pVfs).Delete(goString(zName), syncDir != 0)
	if errors.Is(err, os.ErrNotExist) {
		return IOERR_DELETE_NOENT
	}
	return codeOf(err, IOERR_DELETE)
}

func vfsAccess(tls *libc.TLS, pVfs, zName uintptr, flags int32, pResOut uintptr) (rc int32) {
	defer recoverCode(&rc, IOERR_ACCESS)
	ok, err := vfsOf(pVfs).Access(cstringView(tls, zName), flags)
	if err != nil {
		return codeOf(err, IOERR_ACCESS)
	}
	res := int32(0)
	if ok {
		res = 1
	}
	*(*int32)(cptr(pResOut)) = res
	return OK
}

func vfsFullPathname(tls *libc.TLS, pVfs, zName uintptr, nOut int32, zOut uintptr) (rc int32) {
	defer recoverCode(&rc, CANTOPEN_FULLPATH)
	full, err := vfsOf(pVfs).FullPathname(goString(zName))
	if err != nil {
		return codeOf(err, CANTOPEN_FULLPATH)
	}
	if len(full)+1 > int(nOut) {
		return CANTOPEN_FULLPATH
	}
	b := cbytes(zOut, len(full)+1)
	copy(b, full)
	b[len(full)] = 0
	return OK
}

func vfsClose(tls *libc.TLS, pFile uintptr) (rc int32) {
	defer recoverCode(&rc, IOERR_CLOSE)
	vf := (*vfsFile)(cptr(pFile))
	f := fileOf(pFile)
	vf.handle.Delete()
	vf.handle = 0
	if f == nil {
		return OK
	}
	return codeOf(f.Close(), IOERR_CLOSE)
}

func vfsRead(tls *libc.TLS, pFile, zBuf uintptr, iAmt int32, iOfst int64) (rc int32) {
	defer recoverCode(&rc, IOERR_READ)
	b := cbytes(zBuf, int(iAmt))
	n, err := fileOf(pFile).ReadAt(b, iOfst)
	if err != nil {
		return codeOf(err, IOERR_READ)
	}
	if n < len(b) {
		clear(b[n:])
		return IOERR_SHORT_READ
	}
	return OK
}

func vfsWrite(tls *libc.TLS, pFile, zBuf uintptr, iAmt int32, iOfst int64) (rc int32) {
	defer recoverCode(&rc, IOERR_WRITE)
	return codeOf(fileOf(pFile).WriteAt(cbytes(zBuf, int(iAmt)), iOfst), IOERR_WRITE)
}

func vfsTruncate(tls *libc.TLS, pFile uintptr, size int64) (rc int32) {
	defer recoverCode(&rc, IOERR_TRUNCATE)
	return codeOf(fileOf(pFile).Truncate(size), IOERR_TRUNCATE)
}

func vfsSync(tls *libc.TLS, pFile uintptr, flags int32) (rc int32) {
	defer recoverCode(&rc, IOERR_FSYNC)
	return codeOf(fileOf(pFile).Sync(flags), IOERR_FSYNC)
}

func vfsFileSize(tls *libc.TLS, pFile, pSize uintptr) (rc int32) {
	defer recoverCode(&rc, IOERR_FSTAT)
	n, err := fileOf(pFile).Size()
	if err != nil {
		return codeOf(err, IOERR_FSTAT)
	}
	*(*int64)(cptr(pSize)) = n
	return OK
}

func vfsLock(tls *libc.TLS, pFile uintptr, level int32) (rc int32) {
	defer recoverCode(&rc, IOERR_LOCK)
	f := fileOf(pFile)
	if err := f.Lock(level); err != nil {
		return codeOf(err, IOERR_LOCK)
	}
	if pager := (*vfsFile)(cptr(pFile)).pager; pager != 0 && level == LOCK_SHARED {
		if cf, ok := f.(CacheFile); ok {
			keepCache(tls, pager, cf)
		}
	}
	return OK
}

func vfsUnlock(tls *libc.TLS, pFile uintptr, level int32) (rc int32) {
	defer recoverCode(&rc, IOERR_UNLOCK)
	return codeOf(fileOf(pFile).Unlock(level), IOERR_UNLOCK)
}

func vfsCheckReservedLock(tls *libc.TLS, pFile, pResOut uintptr) (rc int32) {
	defer recoverCode(&rc, IOERR_CHECKRESERVEDLOCK)
	ok, err := fileOf(pFile).CheckReservedLock()
	if err != nil {
		return codeOf(err, IOERR_CHECKRESERVEDLOCK)
	}
	res := int32(0)
	if ok {
		res = 1
	}
	*(*int32)(cptr(pResOut)) = res
	return OK
}

func vfsSectorSize(tls *libc.TLS, pFile uintptr) (rc int32) {
	defer recoverCode(&rc, 512)
	return fileOf(pFile).SectorSize()
}

func vfsDeviceCharacteristics(tls *libc.TLS, pFile uintptr) (rc int32) {
	defer recoverCode(&rc, 0)
	return fileOf(pFile).DeviceCharacteristics()
}

func vfsFileControl(tls *libc.TLS, pFile uintptr, op int32, pArg uintptr) (rc int32) {
	defer recoverCode(&rc, ERROR)
	f := fileOf(pFile)
	switch op {
	case FCNTL_LIBSQL_FILE:
		*(*uintptr)(cptr(pArg)) = uintptr((*vfsFile)(cptr(pFile)).handle)
		return OK
	case FCNTL_COMMIT_PHASE2:
		if cf, ok := f.(CommitFile); ok {
			return codeOf(cf.CommitPhaseTwo(), IOERR)
		}
	case FCNTL_PRAGMA:
		if pf, ok := f.(PragmaFile); ok {
			return pragmaControl(tls, pf, pArg)
		}
	case FCNTL_MMAP_SIZE:
		// A Go VFS file (io_methods version 1, no xFetch) is never memory
		// mapped: PRAGMA mmap_size answers 0, as stock SQLite does with
		// mapping off, rather than no row.
		*(*int64)(cptr(pArg)) = 0
		return OK
	}
	return NOTFOUND
}

// pragmaControl serves SQLITE_FCNTL_PRAGMA. pArg is a char*[3]: [0] receives
// the result or error message (memory from sqlite3_malloc, freed by SQLite),
// [1] is the pragma's name, [2] its argument or NULL.
func pragmaControl(tls *libc.TLS, pf PragmaFile, pArg uintptr) int32 {
	args := unsafe.Slice((*uintptr)(cptr(pArg)), 3)
	name := goString(args[1])
	var value *string
	if args[2] != 0 {
		v := goString(args[2])
		value = &v
	}
	result, handled, err := pf.Pragma(name, value)
	if !handled {
		return NOTFOUND
	}
	if err != nil {
		args[0] = sqliteString(tls, err.Error())
		return codeOf(err, ERROR)
	}
	if result != "" {
		args[0] = sqliteString(tls, result)
	}
	return OK
}

// sqliteString copies s into memory from sqlite3_malloc, which SQLite frees.
func sqliteString(tls *libc.TLS, s string) uintptr {
	p := sqlite3.Xsqlite3_malloc(tls, int32(len(s)+1))
	if p == 0 {
		return 0
	}
	b := cbytes(p, len(s)+1)
	copy(b, s)
	b[len(s)] = 0
	return p
}

// FileHandle returns the Handle of the VFS file behind schema's database on
// c ("main" when empty), from a Go VFS registered with RegisterVFS; 0 if
// the file is not one of ours.
func (c *Conn) FileHandle(schema string) Handle {
	p := c.tls.Alloc(8)
	defer c.tls.Free(8)
	*(*uintptr)(cptr(p)) = 0
	if rc := c.FileControl(schema, FCNTL_LIBSQL_FILE, p); rc != OK {
		return 0
	}
	return Handle(*(*uintptr)(cptr(p)))
}
