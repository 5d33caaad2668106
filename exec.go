package libsql

import (
	"context"
	"database/sql/driver"
	"errors"

	"github.com/golibsql/libsql/internal/capi"
	"github.com/golibsql/libsql/iouring_vfs/wal"
)

// errMulti is returned by prepare for a text of several statements.
var errMulti = errors.New("libsql: more than one statement")

// result is the driver.Result of an Exec.
type result struct {
	lastID, rows int64
}

// LastInsertId returns sqlite3_last_insert_rowid after the statement.
func (r result) LastInsertId() (int64, error) { return r.lastID, nil }

// RowsAffected returns the rows the statement inserted, updated or deleted
// (not counting triggers); 0 for a statement that changes no rows.
func (r result) RowsAffected() (int64, error) { return r.rows, nil }

// ExecContext runs query with args and returns the result of its last
// statement. A text of several statements runs them all, in order (see
// bind for how their parameters take args); it stops at the first error.
func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cl, err := c.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer c.leave(cl)
	if op, ok := c.ownPragmaOf(query); ok && op.checkpoint != "" {
		_, err := c.runCheckpoint(ctx, op.checkpoint)
		return result{}, err
	}
	if kind, n := classifyTx(query); c.handlesTx(kind) {
		if err := c.runUserTx(ctx, kind); err != nil || blankSQL(query[n:]) {
			return result{}, err
		}
		return c.execScript(ctx, query[n:], args, nil)
	}
	p, head, err := c.prepareHead(query, true)
	if err == errMulti {
		return c.execScript(ctx, query, args, head)
	}
	if err != nil {
		return nil, c.mapErr(ctx, err)
	}
	if p.s == nil {
		return result{}, nil
	}
	r, err := c.exec(ctx, p.s, args)
	c.release(p)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// exec binds args to s and runs it to completion.
func (c *conn) exec(ctx context.Context, s *capi.Stmt, args []driver.NamedValue) (result, error) {
	if _, err := c.bind(s, args, 0); err != nil {
		return result{}, c.mapErr(ctx, err)
	}
	return c.run(ctx, s)
}

// run steps a bound statement to completion, discarding any rows (an
// INSERT ... RETURNING run with Exec), and returns its result. A statement
// that writes through the libsql VFS also goes through change capture: with
// cdc=on an autocommit write runs in a transaction of its own, so that its
// changes are stored in the same commit.
func (c *conn) run(ctx context.Context, s *capi.Stmt) (result, error) {
	if c.file == nil {
		return c.runSteps(ctx, s, false)
	}
	if s.ReadOnly() {
		return c.runSteps(ctx, s, false)
	}
	created := c.createdTable(s)
	wrap := c.cdcWrap(s, created != "")
	if wrap {
		if err := c.plain(ctx, "BEGIN IMMEDIATE"); err != nil {
			return result{}, err
		}
	}
	c.startStatement(ctx)
	r, err := c.runSteps(ctx, s, true)
	if err == nil && created != "" && c.capturesCreated() {
		err = c.captureCreatedRows(ctx, created)
	}
	kept := c.cdc.failKept
	c.afterStatement(err != nil)
	if wrap {
		if cerr := c.commitWrapped(ctx, err != nil && !kept); err == nil {
			err = cerr
		}
	}
	return r, err
}

// runSteps steps s to completion and returns its result.
func (c *conn) runSteps(ctx context.Context, s *capi.Stmt, write bool) (result, error) {
	before := c.cc.TotalChanges()
	commits := c.commitMark()
	row, err := c.step(ctx, s, write)
	for {
		if err != nil {
			if c.committedAnyway(err, commits) {
				break
			}
			return result{}, c.mapErr(ctx, err)
		}
		if !row {
			break
		}
		if row, err = s.Step(); err != nil {
			c.stepFailed(s)
		}
	}
	r := result{lastID: c.cc.LastInsertRowID()}
	// sqlite3_changes keeps the count of the last INSERT, UPDATE or DELETE;
	// for any other statement the total does not move and the result is 0.
	if c.cc.TotalChanges() != before {
		r.rows = c.cc.Changes()
	}
	return r, nil
}

// commitMark is the connection's last commit, for committedAnyway.
func (c *conn) commitMark() wal.Version {
	if c.file == nil {
		return 0
	}
	return c.file.LastCommit()
}

// committedAnyway reports whether err, an interrupt of a statement that
// ran with no transaction left open, came after the statement committed
// (the connection's last commit is no longer before): SQLite checks the
// progress handler once more as a statement returns, after its autocommit
// commit (or a COMMIT) is done, and a call must not say that a write that
// is durable did not happen.
func (c *conn) committedAnyway(err error, before wal.Version) bool {
	var ce *capi.Error
	return c.file != nil && errors.As(err, &ce) && ce.Code&0xff == capi.INTERRUPT &&
		c.cc.GetAutocommit() && c.file.LastCommit() != before
}

// plain runs one statement of the driver's own, with no capture handling.
func (c *conn) plain(ctx context.Context, query string) error {
	p, err := c.prepare(query)
	if err != nil {
		return c.mapErr(ctx, err)
	}
	_, err = c.runSteps(ctx, p.s, !p.s.ReadOnly())
	c.release(p)
	return err
}

// cdcWrap reports whether s, a write statement about to run, must get a
// transaction of its own: no transaction is open, s writes the main
// database and can run in a transaction (not BEGIN, COMMIT, ROLLBACK or
// VACUUM), and either durable CDC stores its changes in the same commit
// (cdc=on) or it is a CREATE TABLE whose rows are captured after it ran
// (creates).
func (c *conn) cdcWrap(s *capi.Stmt, creates bool) bool {
	return (c.cfg.cdc || creates) && c.conc == nil && !c.cdc.paused && c.cc.GetAutocommit() && s.WritesMainInTransaction()
}

// commitWrapped ends the transaction cdcWrap opened (failed: the
// statement failed and SQLite undid its changes; a failed ON CONFLICT FAIL
// statement keeps them, and they commit): the changes are
// stored and the transaction committed, or it is rolled back.
func (c *conn) commitWrapped(ctx context.Context, failed bool) error {
	if !failed {
		err := c.storeChanges(ctx)
		if err == nil {
			err = c.plain(ctx, "COMMIT")
		}
		if err == nil || c.cc.GetAutocommit() {
			return err
		}
		c.plain(ctx, "ROLLBACK")
		return err
	}
	if !c.cc.GetAutocommit() {
		return c.plain(ctx, "ROLLBACK")
	}
	return nil
}

// execScript runs every statement of a multi-statement text, starting
// with head if prepareHead compiled it already. Each statement is
// prepared only after the previous one ran, so later statements may use
// what earlier ones created.
func (c *conn) execScript(ctx context.Context, query string, args []driver.NamedValue, head *scriptHead) (driver.Result, error) {
	sc, err := c.cc.NewScript(query)
	if err != nil {
		head.finalize()
		return nil, c.mapErr(ctx, err)
	}
	defer sc.Close()
	var s *capi.Stmt
	if head != nil {
		sc.Advance(head.n)
		s = head.s
	}
	var r result
	base := 0
	for {
		if s == nil {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if kind, n := classifyTx(query[sc.Offset():]); c.handlesTx(kind) {
				if err := c.runUserTx(ctx, kind); err != nil {
					return nil, err
				}
				sc.Advance(n)
				r = result{}
				continue
			}
			if s, err = sc.Next(capi.PREPARE_USER); err != nil {
				return nil, c.mapErr(ctx, err)
			}
			if s == nil {
				return r, nil
			}
		}
		var n int
		r, n, err = c.runScriptStatement(ctx, s, args, base)
		s = nil
		if err != nil {
			return nil, err
		}
		base += n
	}
}

// runScriptStatement runs s, a statement of a multi-statement text, with
// args from base on, and finalizes it; n is how many of args it took.
func (c *conn) runScriptStatement(ctx context.Context, s *capi.Stmt, args []driver.NamedValue, base int) (r result, n int, err error) {
	n, err = c.bind(s, args, base)
	if err == nil {
		r, err = c.run(ctx, s)
	} else {
		err = c.mapErr(ctx, err)
	}
	s.Finalize()
	return r, n, err
}

// execInternal runs one statement of the driver's own (BEGIN, COMMIT,
// PRAGMA query_only) without arguments, through the statement cache.
func (c *conn) execInternal(ctx context.Context, query string) error {
	cl, err := c.enter(ctx)
	if err != nil {
		return err
	}
	defer c.leave(cl)
	p, err := c.prepare(query)
	if err != nil {
		return c.mapErr(ctx, err)
	}
	_, err = c.run(ctx, p.s)
	c.release(p)
	return err
}
