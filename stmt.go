package libsql

import (
	"context"
	"database/sql/driver"

	"errors"
	"github.com/golibsql/libsql/internal/capi"
	"slices"
)

// stmt is a driver.Stmt: a statement prepared on one connection with
// PrepareContext. It takes the statement out of the connection's cache (or
// compiles it) and puts it back when closed.
type stmt struct {
	c      *conn
	p      *prepared // nil for a multi-statement text
	query  string
	pragma ownPragma // for a PRAGMA the driver answers itself
	closed bool
}

var (
	_ driver.Stmt             = (*stmt)(nil)
	_ driver.StmtExecContext  = (*stmt)(nil)
	_ driver.StmtQueryContext = (*stmt)(nil)
)

// Prepare is PrepareContext without a context.
func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext compiles query, or takes it from the statement cache. A
// text of several statements is kept as text and run like Exec or Query
// run it.
func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	cl, err := c.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer c.leave(cl)
	if kind, _ := classifyTx(query); kind != txNone {
		// BEGIN CONCURRENT, COMMIT, ROLLBACK: kept as text, so that each
		// run goes through the driver's own handling (the concurrent
		// commit protocol, durable CDC) when it applies.
		return &stmt{c: c, query: query}, nil
	}
	p, err := c.prepareUser(query)
	if err == errMulti {
		return &stmt{c: c, query: query}, nil
	}
	if err != nil {
		return nil, c.mapErr(ctx, err)
	}
	st := &stmt{c: c, p: p, query: query}
	st.pragma, _ = c.ownPragmaOf(query)
	return st, nil
}

// Close hands the statement back to the connection's cache.
func (s *stmt) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.p == nil || s.c.cc.Closed() {
		return nil
	}
	if s.p.busy {
		s.p.closeAfter = true // the rows release it when they close
		return nil
	}
	s.c.release(s.p)
	return nil
}

// NumInput returns the number of parameters, or -1 (database/sql then
// leaves the argument count to the driver) for a text kept uncompiled: a
// multi-statement text, and one beginning with BEGIN CONCURRENT, COMMIT or
// ROLLBACK, kept as text so that each run goes through the driver's own
// transaction handling. Such a text runs one statement at a time and may
// go on after its first statement with statements that take parameters;
// counting those would mean compiling them ahead of the statements they may
// depend on (a table created earlier in the text). It is -1 too when
// parameters of one name take one argument (":a", "@a" and "$a").
func (s *stmt) NumInput() int {
	if s.p == nil {
		return -1
	}
	if s.p.s == nil {
		return 0
	}
	names := s.p.s.ParamNames()
	for i, n := range names {
		// ":a", "@a" and "$a" are three parameters to SQLite and one
		// argument to bind: the count would refuse sql.Named("a", ...).
		if n != "" && n[0] != '?' && slices.ContainsFunc(names[:i], func(m string) bool { return m != "" && m[0] != '?' && m[1:] == n[1:] }) {
			return -1
		}
	}
	return len(names)
}

var errStmtClosed = errors.New("libsql: statement is closed")

// Exec is ExecContext without a context.
func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), valuesToNamed(args))
}

// Query is QueryContext without a context.
func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), valuesToNamed(args))
}

// ExecContext runs the statement with args.
func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if s.closed {
		return nil, errStmtClosed
	}
	c := s.c
	cl, err := c.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer c.leave(cl)
	switch {
	case s.pragma.checkpoint != "":
		_, err := c.runCheckpoint(ctx, s.pragma.checkpoint)
		return result{}, err
	case s.p == nil:
		return c.execScript(ctx, s.query, args, nil)
	case s.p.s == nil:
		return result{}, nil
	case s.p.busy:
		// Rows of an earlier query on it are open (in a transaction):
		// run a copy rather than disturb them.
		p, err := c.prepareUncached(s.query)
		if err != nil {
			return nil, c.mapErr(ctx, err)
		}
		defer p.s.Finalize()
		return c.exec(ctx, p.s, args)
	}
	r, err := c.exec(ctx, s.p.s, args)
	s.p.s.Reset()
	if err != nil {
		return nil, err
	}
	return r, nil
}

// QueryContext runs the statement with args and returns its rows.
func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if s.closed {
		return nil, errStmtClosed
	}
	c := s.c
	cl, err := c.enter(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case s.pragma.checkpoint != "":
		return c.queryCheckpoint(ctx, cl, s.pragma.checkpoint)
	case s.pragma.isEngine && s.p != nil && !s.p.busy:
		defer c.leave(cl)
		return c.enginePragmaRows(ctx, s.p, s.pragma.engine)
	case s.p == nil:
		return c.queryScript(ctx, cl, s.query, args, nil)
	case s.p.busy:
		p, err := c.prepareUncached(s.query)
		if err != nil {
			c.leave(cl)
			return nil, c.mapErr(ctx, err)
		}
		return c.query(ctx, cl, p, args, 0, ownPrivate)
	}
	return c.query(ctx, cl, s.p, args, 0, ownStmt)
}

// prepareUncached compiles a single statement outside the cache.
func (c *conn) prepareUncached(query string) (*prepared, error) {
	s, _, err := c.cc.Prepare(query, capi.PREPARE_USER)
	if err != nil {
		return nil, err
	}
	return &prepared{s: s, query: query, user: true}, nil
}

// valuesToNamed adapts the arguments of the pre-context interfaces.
func valuesToNamed(args []driver.Value) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(args))
	for i, v := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return nv
}
