// Package libsql is a pure-Go database/sql driver for SQLite, registered as
// "libsql". It runs the SQLite engine transpiled to Go
// (modernc.org/sqlite/lib), no cgo, on a storage engine of its own
// (package iouringvfs): a VFS that keeps several versions of every page, so
// that readers never wait, writers queue on a lock that honours their
// context, commits share their fdatasync, BEGIN CONCURRENT transactions
// write at once and are checked at commit, and every committed row change
// can be streamed (Changes). Files stay readable by stock SQLite.
//
//	import _ "github.com/golibsql/libsql"
//	db, err := sql.Open("libsql", "file:data.db?busy_timeout=5s&sync=full")
//
// or, with pool settings applied and typed options:
//
//	db, err := libsql.Open("data.db", libsql.WithMaxConns(8))
//
// # Data source names
//
// A DSN is a path ("data.db"), a file: URI ("file:data.db?mode=ro"),
// ":memory:" (an in-memory database shared by the connections of one
// *sql.DB and gone when it closes) or "file:name?mode=memory" (an in-memory
// database shared, by name, by every connection in the process that opens
// that name, and kept while one of them is open; "file::memory:?cache=shared"
// is one such database for the whole process). Query keys:
//
//	mode          ro | rw | rwc (default) | memory
//	sync          full (default) | normal | off         when a commit is durable
//	busy_timeout  5s (default), 250ms, or milliseconds  wait for the writer lock
//	cache_size    pages, or -KiB                        PRAGMA cache_size
//	page_cache    pages (default 4096)                  the engine's shared cache
//	foreign_keys  true | false                          PRAGMA foreign_keys
//	_txlock       deferred (default) | immediate | exclusive | concurrent
//	_time_format  rfc3339nano (default) | sqlite | datetime |
//	              unix | unix_milli | unix_micro | unix_nano | a Go layout
//	_pragma       name(value), repeatable               PRAGMA name=value
//	io            uring | portable                      the engine's I/O backend
//	cdc           off (default) | on                    durable change capture
//	cdc_retention, cdc_max                              durable CDC retention
//	cache         shared | private                      SQLite's, for other drivers' DSNs
//	max_conns, idle_timeout, conn_lifetime              pool settings, applied by Open
//
// An unknown key or a bad value is an error naming the key and the value
// (a *DSNError); for another driver's key (mattn's _busy_timeout, say) it
// says what to write here.
//
// # Driver name
//
// The driver registers itself as [DriverName], "libsql". Two other Go
// drivers register that name too, and a second registration panics; to use
// them in one program, build with
//
//	go build -ldflags '-X github.com/golibsql/libsql.DriverName=libsql-go'
//
// (an empty name registers nothing; use [Driver] or [NewConnector] then).
//
// # Statements, transactions, errors, contexts
//
// Placeholders are ?, ?NNN, :name, @name, $name and $N (the N-th
// argument). Rows stream with sqlite3_step; columns declared DATE,
// DATETIME or TIMESTAMP scan into time.Time. Each connection keeps an LRU cache of prepared statements.
//
// BeginTx begins per _txlock for the default isolation level, with BEGIN
// IMMEDIATE for sql.LevelSerializable and sql.LevelLinearizable, BEGIN
// CONCURRENT for [LevelConcurrent] (see [RetryTx]), and a read-only
// transaction (PRAGMA query_only) for ReadOnly.
//
// # Go functions and collations
//
// [WithFunction], [WithAggregate] and [WithCollation] register Go code as
// SQL functions (scalar, aggregate, window) and collating sequences on
// every connection of a connector ([WithRawFunction] for a scalar function
// that reads its arguments in place, with no allocation per call); a function's error is the cause of the
// statement's [*Error], and a panic fails the statement instead of
// unwinding through SQLite.
//
// # Blobs
//
// [Conn.OpenBlob] (and [BlobOpener], through sql.Conn.Raw) opens one value
// of one row as a [Blob], an io.Reader, io.Writer and io.Seeker that reads
// and writes it in place, a chunk at a time: a value need not fit in
// memory to be stored or read.
//
// # Images
//
// [Serialize] returns a database's bytes, from one snapshot, as a database
// file; [WithImage] starts an in-memory database from such bytes.
//
// # Virtual tables
//
// [WithModule] registers a virtual table written in Go: Go data as a
// table, or a table-valued function; a [VirtualTableWriter] also takes
// INSERT, UPDATE and DELETE, in the transactions and savepoints of the
// statements that write it.
//
// # Untrusted SQL
//
// [WithAuthorizer] has SQLite judge every action of the SQL a connection
// compiles (reads of a table or column, writes, PRAGMAs, ATTACH), for an
// application that runs SQL it did not write.
//
// # Tracing
//
// [WithTrace] tells a function of each statement's start and end, with
// its duration, rows, changes and error: to log slow statements or trace
// them.
//
// # Backups
//
// [Backup] copies a live database, page by page from one snapshot, into a
// file or another database, with progress; [Restore] replaces a live
// database with a copy of another in one transaction.
//
// # Change data capture
//
// [Changes] streams the database's committed row changes in commit order;
// with cdc=on they are also stored in the same commit, so that a stream
// resumes after a restart from any retained LSN.
//
// SQLite's errors are [*Error] values carrying the primary and extended result
// codes; compare them with errors.Is and the sentinels [ErrBusy],
// [ErrBusySnapshot], [ErrLocked], [ErrConstraint], [ErrReadOnly],
// [ErrInterrupted].
//
// A cancelled or expired context interrupts the running statement (and a
// wait for a lock) and the call returns the context's error; the connection
// stays usable. A context that cannot end costs nothing per call.
package libsql
