package libsql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/golibsql/libsql/internal/capi"
	"github.com/golibsql/libsql/iouring_vfs"
)

// conn is one database/sql driver connection.
type conn struct {
	cc        *capi.Conn
	cfg       *config
	cache     stmtCache
	tx        *tx  // the transaction begun with BeginTx, if one is open
	queryOnly bool // a read-only transaction set PRAGMA query_only
	// authChanged: SetAuthorizer replaced the connector's authorizer,
	// which ResetSession puts back.
	authChanged bool
	// limits holds every run-time limit's value as the connector set it,
	// kept by Limit's first change (limitsChanged) for ResetSession.
	limits        [capi.LIMIT_N]int32
	limitsChanged bool
	connector     *Connector // owned by this connection (Driver.Open), or nil
	scratch       []byte     // formatting buffer for time arguments

	// file is the connection's main database file in the libsql VFS (nil
	// for another VFS): the storage engine's side of the connection.
	file *iouringvfs.File
	// conc is the BEGIN CONCURRENT transaction in progress, if any.
	conc *concurrentTx
	// cdc is the connection's change capture.
	cdc capture
	// origin is the Connector that opened the connection.
	origin *Connector
	// facts caches what the concurrent commit protocol needs of the schema.
	facts schemaFacts
	// blobs are the blob handles open on the connection; blobTx is the
	// one opened for writing outside a transaction, whose Close commits.
	blobs  []*Blob
	blobTx *Blob
}

var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
)

func newConn(cc *capi.Conn, cfg *config) *conn {
	return &conn{cc: cc, cfg: cfg, cache: newStmtCache(cfg.stmtCacheSize)}
}

// setup applies the connection settings of the config.
func (c *conn) setup(ctx context.Context) error {
	prev := c.cc.Enter(ctx)
	defer c.cc.Leave(prev)
	c.cc.SetBusyTimeout(c.cfg.busyTimeout)
	// Before anything runs SQL: a schema may use them (a CHECK
	// constraint, an index on an expression).
	if err := c.registerFunctions(); err != nil {
		return err
	}
	if err := c.registerModules(); err != nil {
		return err
	}
	if c.cfg.libsqlVFS() {
		c.file = iouringvfs.FileOf(c.cc.FileHandle("main"))
		if c.file == nil {
			return errors.New("libsql: the database was not opened through the libsql VFS")
		}
		if err := c.file.SetupJournal(c.cc.Exec); err != nil {
			return c.mapErr(ctx, err)
		}
		c.file.SetOwner(c.cc)
		c.installCapture()
	}
	var sql []byte
	// FULL is SQLite's default, and PRAGMA synchronous reads the schema,
	// which waits if another connection holds the database locked: only
	// run it when it changes something.
	if c.cfg.sync != "full" {
		sql = append(sql, "PRAGMA synchronous="...)
		sql = append(sql, c.cfg.sync...)
		sql = append(sql, ';')
	}
	if c.cfg.cacheSize.set {
		sql = append(sql, "PRAGMA cache_size="...)
		sql = strconv.AppendInt(sql, c.cfg.cacheSize.v, 10)
		sql = append(sql, ';')
	}
	if c.cfg.foreignKeys.set {
		sql = append(sql, "PRAGMA foreign_keys="...)
		sql = strconv.AppendBool(sql, c.cfg.foreignKeys.v)
		sql = append(sql, ';')
	}
	if len(sql) > 0 {
		if err := c.cc.Exec(string(sql)); err != nil {
			return c.mapErr(ctx, err)
		}
	}
	for _, p := range c.cfg.pragmas {
		if err := c.cc.Exec(p.String()); err != nil {
			return c.mapErr(ctx, err)
		}
	}
	if c.file != nil {
		// Last: with cdc=on it creates tables, after which a new
		// database no longer takes page_size or auto_vacuum.
		return c.setupCapture(ctx)
	}
	return nil
}

// firstStep takes the first step of s. A statement that writes the main
// database tells the storage engine first, so that if it starts a
// transaction it takes the writer lock at once and reads the newest
// version: no work is lost to a snapshot made stale by another writer's
// commit. One that writes only temporary or attached databases, or nothing
// (a DROP TABLE IF EXISTS of no table), does not, so that, as in stock
// SQLite, it neither waits for a writer nor holds one up.
func (c *conn) firstStep(s *capi.Stmt, write bool) (bool, error) {
	if !write || c.file == nil || c.conc != nil || !s.WritesMain() {
		return s.Step()
	}
	c.file.SetWriteIntent(true)
	row, err := s.Step()
	c.file.EndWriteIntent()
	return row, err
}

// Raw returns the connection's capi handle. It is how code of this module
// reaches the C level from a *sql.Conn (via sql.Conn.Raw).
func (c *conn) Raw() *capi.Conn { return c.cc }

// Close finalizes the cached statements and closes the connection.
func (c *conn) Close() error {
	if c.cc.Closed() {
		return nil
	}
	c.closeBlobs("by the connection's Close")
	if c.conc != nil {
		c.endConcurrent(context.Background(), c.conc, true)
	}
	c.cache.clear()
	c.cdc.log.close()
	var failed error
	report := func() {
		// A background checkpoint's error that reached no statement: the
		// caller learns it here at the latest. Asked before the close and
		// again after it: the last connection's close stops the engine's
		// background checkpoints, so one that failed while the
		// connections were closing is seen too.
		if c.file == nil || failed != nil {
			return
		}
		if ferr := c.file.Engine().UnreportedErr(); ferr != nil {
			failed = fmt.Errorf("libsql: closing %s: the database failed earlier: %w", c.cfg.path, ferr)
		}
	}
	report()
	cerr := convertError(c.cc.Close())
	report()
	err := errors.Join(cerr, failed)
	if c.connector != nil {
		c.connector.Close()
	}
	return err
}

// Ping reports driver.ErrBadConn for a closed connection. A connection to an
// open SQLite database has nothing else to check.
func (c *conn) Ping(ctx context.Context) error {
	if c.cc.Closed() {
		return driver.ErrBadConn
	}
	return ctx.Err()
}

// IsValid reports whether the connection may go back to the pool: not
// once closed, nor with a Blob open (a *sql.Conn closed before its
// Blob): a blob writing in a transaction of its own holds the writer
// lock, and any blob a snapshot, which an idle connection would keep
// until its next use. database/sql then closes it, which rolls back.
func (c *conn) IsValid() bool { return !c.cc.Closed() && len(c.blobs) == 0 }

// ResetSession runs before a pooled connection is reused: it ends a
// transaction a previous user opened with SQL (BEGIN) and left open, and
// clears what a read-only transaction set.
func (c *conn) ResetSession(ctx context.Context) error {
	if c.cc.Closed() {
		return driver.ErrBadConn
	}
	c.closeBlobs("its connection went back to the pool")
	if c.tx == nil && c.conc != nil {
		if err := c.rollbackConcurrent(ctx); err != nil {
			return driver.ErrBadConn
		}
	}
	if c.tx == nil && !c.cc.GetAutocommit() {
		if err := c.execInternal(ctx, "ROLLBACK"); err != nil {
			return driver.ErrBadConn
		}
	}
	if c.tx == nil && c.queryOnly {
		if err := c.setQueryOnly(ctx, false); err != nil {
			return driver.ErrBadConn
		}
	}
	c.resetAuthorizer()
	c.resetLimits()
	return nil
}

// call is one call on the connection: the context it replaced and, for a
// context that can end, the watch that interrupts the call when it does.
type call struct {
	prev context.Context
	w    *capi.Watch
}

// enter starts a call under ctx. It fails with ctx's error if ctx is done.
func (c *conn) enter(ctx context.Context) (call, error) {
	if ctx.Done() != nil {
		if err := ctx.Err(); err != nil {
			return call{}, err
		}
	}
	if c.cc.Closed() {
		return call{}, driver.ErrBadConn
	}
	if c.file != nil {
		c.file.TakeError() // an error of an earlier call is not this call's cause
	}
	return call{prev: c.cc.Enter(ctx), w: c.cc.Watch(ctx)}, nil
}

// leave ends a call started by enter.
func (c *conn) leave(cl call) {
	cl.w.Stop()
	c.cc.Leave(cl.prev)
}

// mapErr turns an error of a call under ctx into what the caller sees: the
// context's error when the context ending is what stopped the call (an
// interrupt, or a busy wait given up), a clear error for a write in a
// read-only transaction, an *Error for other SQLite errors.
func (c *conn) mapErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	ce, ok := err.(*capi.Error)
	if !ok {
		return err
	}
	if ce.Cause == nil {
		cause := c.vfsError()
		if cause == nil {
			cause = c.cc.TakeOpenError() // of an ATTACH
		}
		if cause != nil {
			ce.Cause = cause
			if !strings.Contains(ce.Msg, cause.Error()) { // a PRAGMA's refusal is SQLite's message already
				ce.Msg += ": " + cause.Error()
			}
		}
	}
	switch ce.Code & 0xff {
	case capi.INTERRUPT, capi.BUSY:
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
	case capi.READONLY:
		if c.tx != nil && c.tx.readOnly {
			return &Error{code: ExtendedErrorCode(ce.Code), msg: "attempt to write in a read-only transaction (sql.TxOptions.ReadOnly): " + ce.Msg}
		}
	}
	return convertError(err)
}

// vfsError returns the Go error behind the storage engine's last refusal
// or failure on this connection (of its main database, or of an attached
// one), so that the caller learns what SQLite's code alone does not say.
func (c *conn) vfsError() error {
	if c.file != nil {
		if err := c.file.TakeError(); err != nil {
			return err
		}
	}
	for _, schema := range c.attachedSchemas() {
		if f := iouringvfs.FileOf(c.cc.FileHandle(schema)); f != nil {
			if err := f.TakeError(); err != nil {
				return err
			}
		}
	}
	return nil
}

// setQueryOnly turns PRAGMA query_only on or off.
func (c *conn) setQueryOnly(ctx context.Context, on bool) error {
	q := "PRAGMA query_only=0"
	if on {
		q = "PRAGMA query_only=1"
	}
	if err := c.execInternal(ctx, q); err != nil {
		return err
	}
	c.queryOnly = on
	return nil
}
