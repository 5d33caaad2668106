package libsql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
)

// LevelConcurrent is the isolation level that starts a BEGIN CONCURRENT
// transaction: optimistic, several writers at once, conflicts detected per
// page at commit and reported as ErrBusySnapshot (see RetryTx). It lies
// outside the range of database/sql's levels.
const LevelConcurrent sql.IsolationLevel = 100

// beginConcurrentSQL is what beginSQL returns for a concurrent transaction;
// the driver runs it itself.
const beginConcurrentSQL = "BEGIN CONCURRENT"

// tx is a transaction begun with BeginTx.
type tx struct {
	c        *conn
	readOnly bool
	// ownQueryOnly: the transaction turned PRAGMA query_only on (it was
	// off), and turns it off at its end.
	ownQueryOnly bool
	done         bool
}

var _ driver.Tx = (*tx)(nil)

// Begin is BeginTx with default options.
func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// beginSQL returns the statement that starts a transaction of the given
// isolation level, where the default level does what _txlock says:
//
//	LevelDefault                     BEGIN, BEGIN IMMEDIATE, BEGIN EXCLUSIVE or
//	                                 BEGIN CONCURRENT per _txlock
//	LevelSerializable, Linearizable  BEGIN IMMEDIATE (take the write lock now)
//	ReadUncommitted ... Snapshot     as LevelDefault: SQLite transactions are
//	                                 serializable, which gives every weaker level
//	LevelConcurrent                  BEGIN CONCURRENT
//
// A read-only transaction is always a plain BEGIN.
func beginSQL(txLock string, level sql.IsolationLevel, readOnly bool) (string, error) {
	switch {
	case beginsAsDefault(level):
		if readOnly {
			return "BEGIN", nil
		}
		switch txLock {
		case "immediate":
			return "BEGIN IMMEDIATE", nil
		case "exclusive":
			return "BEGIN EXCLUSIVE", nil
		case "concurrent":
			return beginConcurrentSQL, nil
		}
		return "BEGIN", nil
	case level == sql.LevelSerializable || level == sql.LevelLinearizable:
		if readOnly {
			return "BEGIN", nil
		}
		return "BEGIN IMMEDIATE", nil
	case level == LevelConcurrent:
		if readOnly {
			return "BEGIN", nil
		}
		return beginConcurrentSQL, nil
	}
	return "", fmt.Errorf("libsql: isolation level %v is not supported", level)
}

// beginsAsDefault reports whether a transaction of the isolation level
// begins as one of the default level does (per _txlock): SQLite's
// snapshot isolation is at least what each of these asks for.
func beginsAsDefault(level sql.IsolationLevel) bool {
	switch level {
	case sql.LevelDefault, sql.LevelReadUncommitted, sql.LevelReadCommitted,
		sql.LevelWriteCommitted, sql.LevelRepeatableRead, sql.LevelSnapshot:
		return true
	}
	return false
}

// BeginTx starts a transaction (see beginSQL for the isolation levels). A
// read-only transaction runs with PRAGMA query_only on, so a write fails
// with ErrReadOnly; the pragma is turned off when it ends. ctx bounds the
// wait for the write lock of BEGIN IMMEDIATE and BEGIN EXCLUSIVE.
func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if c.tx != nil {
		return nil, errors.New("libsql: a transaction is already open on this connection")
	}
	if c.blobTx != nil {
		return nil, errors.New("libsql: a blob opened for writing outside a transaction is open on this connection (its Close commits): close it before BeginTx")
	}
	begin, err := beginSQL(c.cfg.txLock, sql.IsolationLevel(opts.Isolation), opts.ReadOnly)
	if err != nil {
		return nil, err
	}
	// A query_only the connection had already (a PRAGMA of its own) is
	// left as it is, at the start and at the end.
	ownQueryOnly := opts.ReadOnly && !c.cc.QueryOnly()
	if ownQueryOnly {
		if err := c.setQueryOnly(ctx, true); err != nil {
			return nil, err
		}
	}
	if begin == beginConcurrentSQL {
		cl, err := c.enter(ctx)
		if err != nil {
			return nil, err
		}
		err = c.beginConcurrent(ctx)
		c.leave(cl)
		if err != nil {
			return nil, err
		}
	} else if err := c.execInternal(ctx, begin); err != nil {
		if ownQueryOnly {
			c.setQueryOnly(context.Background(), false)
		}
		return nil, err
	}
	c.tx = &tx{c: c, readOnly: opts.ReadOnly, ownQueryOnly: ownQueryOnly}
	return c.tx, nil
}

// Commit commits the transaction. If COMMIT fails (a lock not released
// within the busy timeout, a deferred constraint), the transaction is rolled
// back, so the connection is always out of it afterwards.
func (t *tx) Commit() error { return t.end("COMMIT") }

// Rollback rolls the transaction back. It succeeds if SQLite already rolled
// it back on its own (after some errors it does).
func (t *tx) Rollback() error { return t.end("ROLLBACK") }

func (t *tx) end(verb string) error {
	if t.done {
		return errors.New("libsql: transaction already ended")
	}
	t.done = true
	c := t.c
	defer func() { c.tx = nil }()
	if c.cc.Closed() {
		return driver.ErrBadConn
	}
	c.closeBlobs("by the transaction's " + verb)
	ctx := context.Background()
	var err error
	if c.conc != nil {
		if verb == "COMMIT" {
			err = c.commitConcurrent(ctx)
		} else {
			err = c.rollbackConcurrent(ctx)
		}
	} else if !c.cc.GetAutocommit() {
		if verb == "COMMIT" {
			err = c.storeChanges(ctx)
		}
		if err == nil {
			err = c.execInternal(ctx, verb)
		}
		if err != nil && !c.cc.GetAutocommit() {
			c.execInternal(ctx, "ROLLBACK")
		}
	} else if verb == "COMMIT" {
		err = errors.New("libsql: transaction was already rolled back by SQLite after an error")
	}
	if t.ownQueryOnly {
		if qerr := c.setQueryOnly(ctx, false); err == nil {
			err = qerr
		}
	}
	return err
}
