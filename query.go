package libsql

import (
	"context"
	"database/sql/driver"

	"github.com/golibsql/libsql/internal/capi"
)

// QueryContext runs query with args and returns its rows, streamed with
// sqlite3_step as Next asks for them. The first step runs here, so errors
// that surface while computing the first row are returned here. A text of
// several statements runs all but the last like Exec, then returns the
// last one's rows.
//
// The context stays in force for the rows: when it ends, the running step
// is interrupted and Next returns the context's error.
func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cl, err := c.enter(ctx)
	if err != nil {
		return nil, err
	}
	if op, ok := c.ownPragmaOf(query); ok {
		if op.isEngine {
			return c.queryEnginePragma(ctx, cl, query, op.engine)
		}
		return c.queryCheckpoint(ctx, cl, op.checkpoint)
	}
	if kind, n := classifyTx(query); c.handlesTx(kind) {
		if err := c.runUserTx(ctx, kind); err != nil || blankSQL(query[n:]) {
			c.leave(cl)
			if err != nil {
				return nil, err
			}
			return &rows{closed: true, done: true}, nil
		}
		return c.queryScript(ctx, cl, query[n:], args, nil)
	}
	p, head, err := c.prepareHead(query, true)
	if err == errMulti {
		return c.queryScript(ctx, cl, query, args, head)
	}
	if err != nil {
		c.leave(cl)
		return nil, c.mapErr(ctx, err)
	}
	return c.query(ctx, cl, p, args, 0, ownCache)
}

// query binds args (positions shifted by base) to p, takes the first step
// and returns the rows, which take over the call's watch and p.
func (c *conn) query(ctx context.Context, cl call, p *prepared, args []driver.NamedValue, base int, own ownership) (driver.Rows, error) {
	if p.s == nil {
		c.leave(cl)
		return &rows{closed: true, done: true}, nil
	}
	_, err := c.bind(p.s, args, base)
	write := err == nil && c.file != nil && !p.s.ReadOnly()
	created := ""
	if write {
		created = c.createdTable(p.s)
	}
	wrap := write && c.cdcWrap(p.s, created != "")
	if wrap {
		err = c.plain(ctx, "BEGIN IMMEDIATE")
	}
	row := false
	if err == nil {
		c.startStatement(ctx)
		commits := c.commitMark()
		row, err = c.step(ctx, p.s, write)
		if err != nil && c.committedAnyway(err, commits) {
			row, err = false, nil
		}
	}
	if err == nil && created != "" && c.capturesCreated() {
		err = c.captureCreatedRows(ctx, created)
	}
	if err != nil {
		if write {
			p.s.Reset()
			kept := c.cdc.failKept
			c.afterStatement(true)
			if wrap {
				c.commitWrapped(ctx, !kept)
			}
		}
		c.cc.Leave(cl.prev)
		cl.w.Stop()
		c.dispose(p, own)
		return nil, c.mapErr(ctx, err)
	}
	c.cc.Leave(cl.prev)
	cl.w.Pause() // until the rows' next step
	r := &p.rows
	*r = rows{c: c, p: p, own: own, ctx: ctx, w: cl.w, pending: row, done: !row, write: write, wrap: wrap}
	p.busy = true
	r.init()
	if !row {
		if err := r.finish(false); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

// queryScript runs a multi-statement text for QueryContext, starting
// with head if prepareHead compiled it already (see execScript).
func (c *conn) queryScript(ctx context.Context, cl call, query string, args []driver.NamedValue, head *scriptHead) (driver.Rows, error) {
	sc, err := c.cc.NewScript(query)
	if err != nil {
		head.finalize()
		c.leave(cl)
		return nil, c.mapErr(ctx, err)
	}
	defer sc.Close()
	var s *capi.Stmt
	if head != nil {
		sc.Advance(head.n)
		s = head.s
	}
	base := 0
	for {
		if s == nil {
			if err := ctx.Err(); err != nil {
				c.leave(cl)
				return nil, err
			}
			if kind, n := classifyTx(query[sc.Offset():]); c.handlesTx(kind) {
				if err := c.runUserTx(ctx, kind); err != nil {
					c.leave(cl)
					return nil, err
				}
				sc.Advance(n)
				if blankSQL(query[sc.Offset():]) {
					c.leave(cl)
					return &rows{closed: true, done: true}, nil
				}
				continue
			}
			if s, err = sc.Next(capi.PREPARE_USER); err != nil {
				c.leave(cl)
				return nil, c.mapErr(ctx, err)
			}
			if s == nil || blankSQL(query[sc.Offset():]) {
				// The last statement: its rows are the result.
				return c.query(ctx, cl, &prepared{s: s, query: query, user: true}, args, base, ownPrivate)
			}
		}
		_, n, err := c.runScriptStatement(ctx, s, args, base)
		s = nil
		if err != nil {
			c.leave(cl)
			return nil, err
		}
		base += n
	}
}

// ownership says who has a statement once the rows of a query on it close.
type ownership uint8

const (
	ownCache   ownership = iota // the connection: reset, back to the cache
	ownStmt                     // a driver.Stmt: reset, stays with it
	ownPrivate                  // nobody: finalize
)

// dispose hands a statement back according to own once a use ends.
func (c *conn) dispose(p *prepared, own ownership) {
	p.busy = false
	if c.cc.Closed() || p.s == nil {
		return
	}
	switch own {
	case ownCache:
		c.release(p)
	case ownStmt:
		if p.closeAfter {
			// The driver.Stmt closed meanwhile: the statement is the
			// cache's again, and the next Stmt to take it owns it outright.
			p.closeAfter = false
			c.release(p)
		} else {
			p.s.Reset()
		}
	default:
		p.s.Finalize()
	}
}
