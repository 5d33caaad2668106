package libsql

import "github.com/golibsql/libsql/internal/capi"

// SQLite's primary result codes (https://sqlite.org/rescode.html), spelled
// as SQLite spells them without the SQLITE_ prefix. [Error.Code] returns one.
const (
	ERROR      ErrorCode = capi.ERROR
	INTERNAL   ErrorCode = capi.INTERNAL
	PERM       ErrorCode = capi.PERM
	ABORT      ErrorCode = capi.ABORT
	BUSY       ErrorCode = capi.BUSY
	LOCKED     ErrorCode = capi.LOCKED
	NOMEM      ErrorCode = capi.NOMEM
	READONLY   ErrorCode = capi.READONLY
	INTERRUPT  ErrorCode = capi.INTERRUPT
	IOERR      ErrorCode = capi.IOERR
	CORRUPT    ErrorCode = capi.CORRUPT
	NOTFOUND   ErrorCode = capi.NOTFOUND
	FULL       ErrorCode = capi.FULL
	CANTOPEN   ErrorCode = capi.CANTOPEN
	PROTOCOL   ErrorCode = capi.PROTOCOL
	EMPTY      ErrorCode = capi.EMPTY
	SCHEMA     ErrorCode = capi.SCHEMA
	TOOBIG     ErrorCode = capi.TOOBIG
	CONSTRAINT ErrorCode = capi.CONSTRAINT
	MISMATCH   ErrorCode = capi.MISMATCH
	MISUSE     ErrorCode = capi.MISUSE
	NOLFS      ErrorCode = capi.NOLFS
	AUTH       ErrorCode = capi.AUTH
	FORMAT     ErrorCode = capi.FORMAT
	RANGE      ErrorCode = capi.RANGE
	NOTADB     ErrorCode = capi.NOTADB
	NOTICE     ErrorCode = capi.NOTICE
	WARNING    ErrorCode = capi.WARNING
)

// SQLite's extended result codes (https://sqlite.org/rescode.html#extrc),
// spelled as SQLite spells them without the SQLITE_ prefix.
// [Error.ExtendedCode] returns one, or a primary code when SQLite reported
// no extended one.
const (
	ABORT_ROLLBACK          ExtendedErrorCode = capi.ABORT_ROLLBACK
	AUTH_USER               ExtendedErrorCode = capi.AUTH_USER
	BUSY_RECOVERY           ExtendedErrorCode = capi.BUSY_RECOVERY
	BUSY_SNAPSHOT           ExtendedErrorCode = capi.BUSY_SNAPSHOT
	BUSY_TIMEOUT            ExtendedErrorCode = capi.BUSY_TIMEOUT
	CANTOPEN_CONVPATH       ExtendedErrorCode = capi.CANTOPEN_CONVPATH
	CANTOPEN_DIRTYWAL       ExtendedErrorCode = capi.CANTOPEN_DIRTYWAL
	CANTOPEN_FULLPATH       ExtendedErrorCode = capi.CANTOPEN_FULLPATH
	CANTOPEN_ISDIR          ExtendedErrorCode = capi.CANTOPEN_ISDIR
	CANTOPEN_NOTEMPDIR      ExtendedErrorCode = capi.CANTOPEN_NOTEMPDIR
	CANTOPEN_SYMLINK        ExtendedErrorCode = capi.CANTOPEN_SYMLINK
	CONSTRAINT_CHECK        ExtendedErrorCode = capi.CONSTRAINT_CHECK
	CONSTRAINT_COMMITHOOK   ExtendedErrorCode = capi.CONSTRAINT_COMMITHOOK
	CONSTRAINT_DATATYPE     ExtendedErrorCode = capi.CONSTRAINT_DATATYPE
	CONSTRAINT_FOREIGNKEY   ExtendedErrorCode = capi.CONSTRAINT_FOREIGNKEY
	CONSTRAINT_FUNCTION     ExtendedErrorCode = capi.CONSTRAINT_FUNCTION
	CONSTRAINT_NOTNULL      ExtendedErrorCode = capi.CONSTRAINT_NOTNULL
	CONSTRAINT_PINNED       ExtendedErrorCode = capi.CONSTRAINT_PINNED
	CONSTRAINT_PRIMARYKEY   ExtendedErrorCode = capi.CONSTRAINT_PRIMARYKEY
	CONSTRAINT_ROWID        ExtendedErrorCode = capi.CONSTRAINT_ROWID
	CONSTRAINT_TRIGGER      ExtendedErrorCode = capi.CONSTRAINT_TRIGGER
	CONSTRAINT_UNIQUE       ExtendedErrorCode = capi.CONSTRAINT_UNIQUE
	CONSTRAINT_VTAB         ExtendedErrorCode = capi.CONSTRAINT_VTAB
	CORRUPT_INDEX           ExtendedErrorCode = capi.CORRUPT_INDEX
	CORRUPT_SEQUENCE        ExtendedErrorCode = capi.CORRUPT_SEQUENCE
	CORRUPT_VTAB            ExtendedErrorCode = capi.CORRUPT_VTAB
	ERROR_KEY               ExtendedErrorCode = capi.ERROR_KEY
	ERROR_MISSING_COLLSEQ   ExtendedErrorCode = capi.ERROR_MISSING_COLLSEQ
	ERROR_RESERVESIZE       ExtendedErrorCode = capi.ERROR_RESERVESIZE
	ERROR_RETRY             ExtendedErrorCode = capi.ERROR_RETRY
	ERROR_SNAPSHOT          ExtendedErrorCode = capi.ERROR_SNAPSHOT
	ERROR_UNABLE            ExtendedErrorCode = capi.ERROR_UNABLE
	IOERR_ACCESS            ExtendedErrorCode = capi.IOERR_ACCESS
	IOERR_AUTH              ExtendedErrorCode = capi.IOERR_AUTH
	IOERR_BADKEY            ExtendedErrorCode = capi.IOERR_BADKEY
	IOERR_BEGIN_ATOMIC      ExtendedErrorCode = capi.IOERR_BEGIN_ATOMIC
	IOERR_BLOCKED           ExtendedErrorCode = capi.IOERR_BLOCKED
	IOERR_CHECKRESERVEDLOCK ExtendedErrorCode = capi.IOERR_CHECKRESERVEDLOCK
	IOERR_CLOSE             ExtendedErrorCode = capi.IOERR_CLOSE
	IOERR_CODEC             ExtendedErrorCode = capi.IOERR_CODEC
	IOERR_COMMIT_ATOMIC     ExtendedErrorCode = capi.IOERR_COMMIT_ATOMIC
	IOERR_CONVPATH          ExtendedErrorCode = capi.IOERR_CONVPATH
	IOERR_CORRUPTFS         ExtendedErrorCode = capi.IOERR_CORRUPTFS
	IOERR_DATA              ExtendedErrorCode = capi.IOERR_DATA
	IOERR_DELETE            ExtendedErrorCode = capi.IOERR_DELETE
	IOERR_DELETE_NOENT      ExtendedErrorCode = capi.IOERR_DELETE_NOENT
	IOERR_DIR_CLOSE         ExtendedErrorCode = capi.IOERR_DIR_CLOSE
	IOERR_DIR_FSYNC         ExtendedErrorCode = capi.IOERR_DIR_FSYNC
	IOERR_FSTAT             ExtendedErrorCode = capi.IOERR_FSTAT
	IOERR_FSYNC             ExtendedErrorCode = capi.IOERR_FSYNC
	IOERR_GETTEMPPATH       ExtendedErrorCode = capi.IOERR_GETTEMPPATH
	IOERR_IN_PAGE           ExtendedErrorCode = capi.IOERR_IN_PAGE
	IOERR_LOCK              ExtendedErrorCode = capi.IOERR_LOCK
	IOERR_MMAP              ExtendedErrorCode = capi.IOERR_MMAP
	IOERR_NOMEM             ExtendedErrorCode = capi.IOERR_NOMEM
	IOERR_RDLOCK            ExtendedErrorCode = capi.IOERR_RDLOCK
	IOERR_READ              ExtendedErrorCode = capi.IOERR_READ
	IOERR_ROLLBACK_ATOMIC   ExtendedErrorCode = capi.IOERR_ROLLBACK_ATOMIC
	IOERR_SEEK              ExtendedErrorCode = capi.IOERR_SEEK
	IOERR_SHMLOCK           ExtendedErrorCode = capi.IOERR_SHMLOCK
	IOERR_SHMMAP            ExtendedErrorCode = capi.IOERR_SHMMAP
	IOERR_SHMOPEN           ExtendedErrorCode = capi.IOERR_SHMOPEN
	IOERR_SHMSIZE           ExtendedErrorCode = capi.IOERR_SHMSIZE
	IOERR_SHORT_READ        ExtendedErrorCode = capi.IOERR_SHORT_READ
	IOERR_TRUNCATE          ExtendedErrorCode = capi.IOERR_TRUNCATE
	IOERR_UNLOCK            ExtendedErrorCode = capi.IOERR_UNLOCK
	IOERR_VNODE             ExtendedErrorCode = capi.IOERR_VNODE
	IOERR_WRITE             ExtendedErrorCode = capi.IOERR_WRITE
	LOCKED_SHAREDCACHE      ExtendedErrorCode = capi.LOCKED_SHAREDCACHE
	LOCKED_VTAB             ExtendedErrorCode = capi.LOCKED_VTAB
	NOTICE_RBU              ExtendedErrorCode = capi.NOTICE_RBU
	NOTICE_RECOVER_ROLLBACK ExtendedErrorCode = capi.NOTICE_RECOVER_ROLLBACK
	NOTICE_RECOVER_WAL      ExtendedErrorCode = capi.NOTICE_RECOVER_WAL
	READONLY_CANTINIT       ExtendedErrorCode = capi.READONLY_CANTINIT
	READONLY_CANTLOCK       ExtendedErrorCode = capi.READONLY_CANTLOCK
	READONLY_DBMOVED        ExtendedErrorCode = capi.READONLY_DBMOVED
	READONLY_DIRECTORY      ExtendedErrorCode = capi.READONLY_DIRECTORY
	READONLY_RECOVERY       ExtendedErrorCode = capi.READONLY_RECOVERY
	READONLY_ROLLBACK       ExtendedErrorCode = capi.READONLY_ROLLBACK
	WARNING_AUTOINDEX       ExtendedErrorCode = capi.WARNING_AUTOINDEX
)
