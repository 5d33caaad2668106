package libsql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/golibsql/libsql/internal/capi"
)

// The native API: a connection used without database/sql.
//
// database/sql costs, on every call, a pool lookup, a lock or two, the
// conversion of every argument and result value to and from driver.Value,
// and several allocations. A Conn is the driver's own connection with a
// thin Go API on top: Exec and Query run through the same code as the
// database/sql driver (statement cache, binding, contexts, error mapping,
// BEGIN CONCURRENT), and Rows.Scan reads result columns straight from
// SQLite's result row into the destinations, without boxing them. The
// package github.com/golibsql/libsql/pool hands Conns out to goroutines.

// Conn is one connection to a database, used without database/sql. Open
// one with [Connector.ConnectConn] or [OpenConn], or borrow one from a
// github.com/golibsql/libsql/pool.Pool.
//
// A Conn is for one goroutine at a time, like an *sql.Conn that is not
// shared: its methods must not be called concurrently, except that a
// context passed to a running call may end at any time (the call is then
// interrupted and returns the context's error, and the Conn stays usable).
//
// Transactions are the connection's: after BeginTx (or SQL such as
// BEGIN IMMEDIATE or BEGIN CONCURRENT run with Exec) every Exec and Query
// runs inside the transaction until Commit or Rollback.
type Conn struct {
	c    *conn
	args []driver.NamedValue // scratch for the arguments of one call
	open []*Rows             // rows not yet closed, closed by Commit, Rollback, Reset and Close
}

// ConnectConn opens a connection for use without database/sql, set up like
// every connection of the connector (busy timeout, PRAGMAs of the DSN).
// ctx bounds waits for locks during setup. The Conn does not own the
// connector: close the connector after the last Conn.
func (c *Connector) ConnectConn(ctx context.Context) (*Conn, error) {
	dc, err := c.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &Conn{c: dc.(*conn)}, nil
}

// OpenConn parses dsn, applies opts and opens one connection. The Conn owns
// what it opened: closing it releases everything, including an in-memory
// database nobody else has open. Use a [Connector] (or the pool package)
// for several connections to one database.
func OpenConn(ctx context.Context, dsn string, opts ...Option) (*Conn, error) {
	ctr, err := NewConnector(dsn, opts...)
	if err != nil {
		return nil, err
	}
	c, err := ctr.ConnectConn(ctx)
	if err != nil {
		ctr.Close()
		return nil, err
	}
	c.c.connector = ctr
	return c, nil
}

// Result is what [Conn.Exec] reports. It implements sql.Result.
type Result struct {
	lastID, rows int64
}

var _ sql.Result = Result{}

// LastInsertId returns the rowid of the last row inserted on the
// connection (sqlite3_last_insert_rowid after the statement). The error is
// always nil.
func (r Result) LastInsertId() (int64, error) { return r.lastID, nil }

// RowsAffected returns the rows the statement inserted, updated or deleted
// (not counting triggers); 0 for a statement that changes no rows. The
// error is always nil.
func (r Result) RowsAffected() (int64, error) { return r.rows, nil }

// errConnClosed is returned by calls on a closed Conn.
var errConnClosed = errors.New("libsql: connection is closed")

// Exec runs query with args and returns the result of its last statement.
// It accepts what the database/sql driver accepts: placeholders ?, ?NNN,
// :name, @name, $name (arguments made with sql.Named) and $N; arguments of
// the types listed in the README (integers, floats, bool, string, []byte,
// time.Time, nil, driver.Valuer, pointers); a text of several statements;
// BEGIN, BEGIN CONCURRENT, COMMIT and ROLLBACK. If ctx ends while it runs,
// the statement is interrupted and Exec returns ctx's error.
func (c *Conn) Exec(ctx context.Context, query string, args ...any) (Result, error) {
	if c.c.cc.Closed() {
		return Result{}, errConnClosed
	}
	nv, err := c.namedValues(args)
	if err != nil {
		return Result{}, err
	}
	dr, err := c.c.ExecContext(ctx, query, nv)
	clear(nv)
	if err != nil {
		return Result{}, err
	}
	r, _ := dr.(result)
	return Result(r), nil
}

// Query runs query with args (as [Conn.Exec] takes them) and returns its
// rows, read from SQLite one at a time as Next asks. ctx stays in force for
// the rows: when it ends, a Next in progress is interrupted and Err
// returns ctx's error. The rows must be closed (Next returning false closes
// them); Commit, Rollback and Close of the Conn close them too.
func (c *Conn) Query(ctx context.Context, query string, args ...any) (*Rows, error) {
	r := &Rows{}
	if err := c.query(ctx, r, query, args); err != nil {
		return nil, err
	}
	return r, nil
}

// query runs query into r.
func (c *Conn) query(ctx context.Context, r *Rows, query string, args []any) error {
	if c.c.cc.Closed() {
		return errConnClosed
	}
	nv, err := c.namedValues(args)
	if err != nil {
		return err
	}
	dr, err := c.c.QueryContext(ctx, query, nv)
	clear(nv)
	if err != nil {
		return err
	}
	*r = Rows{c: c}
	if sr, ok := dr.(*rows); ok {
		r.r = sr
	} else {
		r.other = dr
	}
	c.open = append(c.open, r)
	return nil
}

// QueryRow runs a query expected to return at most one row; [Row.Scan]
// reads it, or reports sql.ErrNoRows. Errors of the query are deferred to
// Scan.
func (c *Conn) QueryRow(ctx context.Context, query string, args ...any) *Row {
	row := &Row{}
	row.err = c.query(ctx, &row.rows, query, args)
	return row
}

// namedValues converts args as database/sql does before it calls the
// driver: an sql.NamedArg gives its name and value, the driver's
// CheckNamedValue converts what it knows, database/sql's default converter
// the rest (driver.Valuer, pointers, named types). The slice is the Conn's
// scratch, valid until the next call.
func (c *Conn) namedValues(args []any) ([]driver.NamedValue, error) {
	if len(args) == 0 {
		return nil, nil
	}
	nv := c.args[:0]
	for i, a := range args {
		v := driver.NamedValue{Ordinal: i + 1, Value: a}
		if na, ok := a.(sql.NamedArg); ok {
			v.Name, v.Value = na.Name, na.Value
		}
		if err := c.c.CheckNamedValue(&v); err != nil {
			if err != driver.ErrSkip {
				clear(nv)
				return nil, err
			}
			if v.Value, err = driver.DefaultParameterConverter.ConvertValue(v.Value); err != nil {
				clear(nv)
				return nil, fmt.Errorf("libsql: argument %d (%T): %w", i+1, a, err)
			}
			if err := c.c.CheckNamedValue(&v); err != nil && err != driver.ErrSkip {
				clear(nv)
				return nil, err
			}
		}
		nv = append(nv, v)
	}
	c.args = nv
	return nv, nil
}

// BeginTx starts a transaction on the connection, as *sql.DB's BeginTx
// does with the database/sql driver: opts nil or the default isolation
// level begins what the DSN's _txlock says; sql.LevelSerializable begins
// BEGIN IMMEDIATE; [LevelConcurrent] begins BEGIN CONCURRENT; ReadOnly
// begins a read-only transaction, in which writes fail with [ErrReadOnly].
// End it with Commit or Rollback.
func (c *Conn) BeginTx(ctx context.Context, opts *sql.TxOptions) error {
	if c.c.cc.Closed() {
		return errConnClosed
	}
	var o driver.TxOptions
	if opts != nil {
		o = driver.TxOptions{Isolation: driver.IsolationLevel(opts.Isolation), ReadOnly: opts.ReadOnly}
	}
	_, err := c.c.BeginTx(ctx, o)
	return err
}

// errNoTx is returned by Commit and Rollback without a BeginTx.
var errNoTx = errors.New("libsql: no transaction begun with BeginTx on this connection")

// Commit closes the rows still open and commits the transaction begun with
// BeginTx. If the commit fails the transaction is rolled back, so the
// connection is always out of it afterwards. A BEGIN CONCURRENT
// transaction that conflicts with one committed since it began fails with
// [ErrBusySnapshot] (see [Conn.RetryTx]).
func (c *Conn) Commit() error {
	t := c.c.tx
	if t == nil {
		return errNoTx
	}
	c.closeRows("Commit")
	return t.Commit()
}

// Rollback closes the rows still open and rolls back the transaction begun
// with BeginTx.
func (c *Conn) Rollback() error {
	t := c.c.tx
	if t == nil {
		return errNoTx
	}
	c.closeRows("Rollback")
	return t.Rollback()
}

// InTx reports whether a transaction is open on the connection, begun with
// BeginTx or with SQL.
func (c *Conn) InTx() bool {
	if c.c.cc.Closed() {
		return false
	}
	return c.c.tx != nil || c.c.conc != nil || !c.c.cc.GetAutocommit()
}

// RetryTx runs fn in a transaction begun with opts (see BeginTx) and
// commits it, retrying the whole transaction while it fails with
// [ErrBusySnapshot], with jittered exponential backoff, until it succeeds,
// fails otherwise, or ctx ends — the semantics of the package-level
// [RetryTx], on this one connection. Pass opts with Isolation:
// LevelConcurrent for optimistic concurrent writers; a transaction that
// conflicted runs again in BEGIN IMMEDIATE, as with [RetryTx].
//
// fn may run several times: it must have no effects outside the
// transaction, and must return the transaction's errors as they are, so
// that a conflict can be recognized. On any error of fn the transaction is
// rolled back.
func (c *Conn) RetryTx(ctx context.Context, opts *sql.TxOptions, fn func(*Conn) error) error {
	return retryConflicts(ctx, opts, func(opts *sql.TxOptions) error {
		if err := c.BeginTx(ctx, opts); err != nil {
			return err
		}
		if err := fn(c); err != nil {
			c.Rollback()
			return err
		}
		return c.Commit()
	})
}

// retryConflicts runs attempt until it returns anything but
// ErrBusySnapshot, waiting between attempts with jittered exponential
// backoff (100 µs doubling up to 50 ms), or until ctx ends. It is the loop
// of RetryTx and Conn.RetryTx: the first attempt begins its transaction
// with opts, the retries with escalated(opts).
func retryConflicts(ctx context.Context, opts *sql.TxOptions, attempt func(*sql.TxOptions) error) error {
	backoff := 100 * time.Microsecond
	var last error
	for n := 0; ; n++ {
		err := attempt(opts)
		if err != nil && last != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			// The context ended as the retry began: it gave up on the
			// conflict all the same.
			return fmt.Errorf("libsql: RetryTx gave up after %d conflicts: %w (last conflict: %w)", n, ctx.Err(), last)
		}
		if err == nil || !errors.Is(err, ErrBusySnapshot) {
			return err
		}
		last = err
		d := backoff/2 + rand.N(backoff/2+1)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("libsql: RetryTx gave up after %d conflicts: %w (last conflict: %w)", n+1, ctx.Err(), err)
		case <-t.C:
		}
		backoff = min(2*backoff, 50*time.Millisecond)
		opts = escalated(opts)
	}
}

// escalated returns the options for running again a transaction begun
// with opts that conflicted: a BEGIN CONCURRENT transaction — asked for
// with LevelConcurrent, or with a level that begins as the default under
// _txlock=concurrent — and a deferred one are run again with BEGIN
// IMMEDIATE, which takes the write lock at its start and so cannot
// conflict again. Where transactions keep touching the same pages, another
// optimistic attempt would mostly lose again, each loss costing a whole
// transaction. Other options are returned as they are.
func escalated(opts *sql.TxOptions) *sql.TxOptions {
	if opts == nil {
		return &sql.TxOptions{Isolation: sql.LevelSerializable}
	}
	if opts.ReadOnly || opts.Isolation != LevelConcurrent && !beginsAsDefault(opts.Isolation) {
		return opts
	}
	o := *opts
	o.Isolation = sql.LevelSerializable
	return &o
}

// Reset readies the connection for its next user: it closes the rows
// still open, rolls back a transaction (begun with BeginTx or SQL, a
// concurrent one included) and ends what a read-only transaction set.
// What a user changed for the connection itself stays: settings made with
// PRAGMA (query_only, foreign_keys, ...) and TEMP tables. A connection
// whose Reset fails should be closed.
func (c *Conn) Reset(ctx context.Context) error {
	if c.c.cc.Closed() {
		return errConnClosed
	}
	c.closeRows("Reset")
	var err error
	if t := c.c.tx; t != nil {
		err = t.Rollback()
	}
	if rerr := c.c.ResetSession(ctx); rerr != nil {
		if rerr == driver.ErrBadConn {
			rerr = errors.New("libsql: Reset: could not roll the connection's transaction back")
		}
		err = errors.Join(err, rerr)
	}
	return err
}

// Close closes the rows still open and the connection, rolling back a
// transaction in progress. Close is idempotent.
func (c *Conn) Close() error {
	if c.c.cc.Closed() {
		return nil
	}
	c.closeRows("Close")
	if t := c.c.tx; t != nil {
		t.Rollback()
	}
	return c.c.Close()
}

// Closed reports whether Close has run.
func (c *Conn) Closed() bool { return c.c.cc.Closed() }

// closeRows closes every rows of the connection still open, for by (the
// method that does it): their Err then says so, so that a loop over rows
// cut short does not look like one that reached their end.
func (c *Conn) closeRows(by string) {
	for len(c.open) > 0 {
		r := c.open[len(c.open)-1]
		if r.err == nil {
			r.err = fmt.Errorf("%w: by %s, before their end", ErrRowsClosed, by)
		}
		r.Close()
	}
}

// ErrRowsClosed is the error of rows that Commit, Rollback, Reset or Close
// of their connection (or a pool's Put) closed before their end.
var ErrRowsClosed = errors.New("libsql: rows closed")

// forget drops r from the open rows.
func (c *Conn) forget(r *Rows) {
	for i := len(c.open) - 1; i >= 0; i-- {
		if c.open[i] == r {
			last := len(c.open) - 1
			c.open[i] = c.open[last]
			c.open[last] = nil
			c.open = c.open[:last]
			return
		}
	}
}

// Rows are the rows of [Conn.Query]. Advance with Next, read with Scan:
//
//	rows, err := c.Query(ctx, "SELECT id, name FROM users WHERE score > ?", 10)
//	if err != nil { ... }
//	defer rows.Close()
//	for rows.Next() {
//		if err := rows.Scan(&id, &name); err != nil { ... }
//	}
//	if err := rows.Err(); err != nil { ... }
//
// Rows are for the goroutine that uses the Conn.
type Rows struct {
	c *Conn
	r *rows // the driver's rows on a statement; nil once closed (it is reused afterwards)
	// other are rows the driver made another way (the results of a
	// PRAGMA it answers itself), read through driver.Rows into vals; nil
	// once closed.
	other  driver.Rows
	vals   []driver.Value
	err    error
	hasRow bool // Next returned true and the rows are not closed
}

// closed reports whether the rows are closed.
func (r *Rows) closed() bool { return r.r == nil && r.other == nil }

// Next advances to the next row and reports whether there is one. At the
// end, or on an error (see Err), it closes the rows and returns false.
func (r *Rows) Next() bool {
	var err error
	switch {
	case r.r != nil:
		// Next with no destinations steps without reading any value.
		err = r.r.Next(nil)
	case r.other != nil:
		if r.vals == nil {
			r.vals = make([]driver.Value, len(r.other.Columns()))
		}
		err = r.other.Next(r.vals)
	default:
		return false
	}
	if err != nil {
		r.hasRow = false
		if err != io.EOF {
			r.err = err
		}
		r.Close()
		return false
	}
	r.hasRow = true
	return true
}

// Err returns the error that ended the rows, if any: nil at the normal end.
func (r *Rows) Err() error { return r.err }

// Close ends the query and hands its statement back. Close is idempotent;
// Next returning false has closed the rows already.
func (r *Rows) Close() error {
	if r.closed() {
		return nil
	}
	var dr driver.Rows = r.r
	if r.r == nil {
		dr = r.other
	}
	r.r, r.other = nil, nil
	r.hasRow = false
	r.c.forget(r)
	err := dr.Close()
	if r.err == nil {
		r.err = err
	}
	return err
}

// Columns returns the names of the result columns (nil once the rows are
// closed). The slice is the caller's.
func (r *Rows) Columns() []string {
	switch {
	case r.r != nil:
		return r.r.Columns()
	case r.other != nil:
		return append([]string(nil), r.other.Columns()...)
	}
	return nil
}

// errNoRow is returned by Scan without a current row.
var errNoRow = errors.New("libsql: Scan called without a current row (call Next first, and check that it returned true)")

// Scan reads the current row into dest, one destination per result column.
// Column values go straight from SQLite's result row to these destination
// types without being boxed:
//
//	*int64, *int      INTEGER (also REAL with an integral value, or TEXT holding a number)
//	*float64          REAL, INTEGER (also TEXT holding a number)
//	*string           TEXT, BLOB (the bytes), INTEGER and REAL (formatted)
//	*[]byte           a copy of BLOB or TEXT; NULL gives nil
//	*sql.RawBytes     BLOB or TEXT without a copy: valid until the next Next or Close
//	*bool             INTEGER 0 or 1 (also TEXT such as "true", as strconv.ParseBool reads it)
//	*time.Time        a time column as the database/sql driver reads it; also TEXT in a
//	                  known layout or, with a unix* _time_format, an INTEGER
//	*any              what the database/sql driver returns: int64, float64, string,
//	                  []byte, nil or time.Time
//	sql.Scanner       given what *any receives (sql.NullString, sql.Null[T], ...)
//
// Other destinations (*int32, *uint64, *float32, named types, pointers to
// pointers for NULL, ...) are converted with reflection, as database/sql's
// Rows.Scan converts them. NULL into a destination that cannot hold it is
// an error, as with database/sql. The declared column type matters only
// for *any, sql.Scanner and *time.Time: a DATETIME column holding text
// scans into *string as that text.
func (r *Rows) Scan(dest ...any) error {
	if !r.hasRow {
		if r.closed() {
			return errors.New("libsql: Scan on closed rows")
		}
		return errNoRow
	}
	if r.other != nil {
		return r.scanValues(dest)
	}
	dr := r.r
	s := dr.p.s
	if len(dest) != len(dr.p.kinds) {
		return fmt.Errorf("libsql: Scan: %d destinations for %d columns", len(dest), len(dr.p.kinds))
	}
	for i, d := range dest {
		if err := r.scanColumn(dr, s, i, d); err != nil {
			return fmt.Errorf("libsql: Scan: column %d (%q): %w", i, s.ColumnNames()[i], err)
		}
	}
	return nil
}

// scanColumn reads column i into d.
func (r *Rows) scanColumn(dr *rows, s *capi.Stmt, i int, d any) error {
	typ, iv, fv, b := s.Column(i)
	switch d := d.(type) {
	case *int64:
		switch {
		case typ == capi.INTEGER:
			*d = iv
			return nil
		case typ == capi.FLOAT && fv == math.Trunc(fv) && fv >= -(1<<63) && fv < 1<<63:
			*d = int64(fv)
			return nil
		}
	case *int:
		switch {
		case typ == capi.INTEGER && int64(int(iv)) == iv:
			*d = int(iv)
			return nil
		case typ == capi.FLOAT && fv == math.Trunc(fv) && fv >= math.MinInt && fv < math.MaxInt:
			*d = int(fv)
			return nil
		}
	case *float64:
		switch typ {
		case capi.FLOAT:
			*d = fv
			return nil
		case capi.INTEGER:
			*d = float64(iv)
			return nil
		}
	case *string:
		switch typ {
		case capi.TEXT, capi.BLOB:
			*d = string(b)
			return nil
		case capi.INTEGER:
			*d = strconv.FormatInt(iv, 10)
			return nil
		case capi.FLOAT:
			*d = strconv.FormatFloat(fv, 'g', -1, 64)
			return nil
		}
	case *[]byte:
		switch typ {
		case capi.TEXT, capi.BLOB:
			*d = append([]byte{}, b...)
			return nil
		case capi.NULL:
			*d = nil
			return nil
		case capi.INTEGER:
			*d = strconv.AppendInt(nil, iv, 10)
			return nil
		case capi.FLOAT:
			*d = strconv.AppendFloat(nil, fv, 'g', -1, 64)
			return nil
		}
	case *sql.RawBytes:
		switch typ {
		case capi.TEXT, capi.BLOB:
			*d = b
		case capi.NULL:
			*d = nil
		case capi.INTEGER:
			*d = strconv.AppendInt(nil, iv, 10)
		default:
			*d = strconv.AppendFloat(nil, fv, 'g', -1, 64)
		}
		return nil
	case *bool:
		if typ == capi.INTEGER && (iv == 0 || iv == 1) {
			*d = iv == 1
			return nil
		}
	case *time.Time:
		f := &dr.c.cfg.timeFormat
		switch {
		case typ == capi.TEXT:
			if t, ok := f.parseTime(string(b)); ok {
				*d = t
				return nil
			}
			return fmt.Errorf("text %q is not a time in a known layout", b)
		case typ == capi.INTEGER && f.unit != 0:
			*d = f.fromInteger(iv)
			return nil
		}
	case *any:
		*d = dr.value(i)
		return nil
	case sql.Scanner:
		return d.Scan(dr.value(i))
	}
	return assignValue(d, dr.value(i))
}

// scanValues is Scan for rows read through driver.Rows.
func (r *Rows) scanValues(dest []any) error {
	cols := r.other.Columns()
	if len(dest) != len(cols) {
		return fmt.Errorf("libsql: Scan: %d destinations for %d columns", len(dest), len(cols))
	}
	for i, d := range dest {
		var err error
		if sc, ok := d.(sql.Scanner); ok {
			err = sc.Scan(r.vals[i])
		} else {
			err = assignValue(d, r.vals[i])
		}
		if err != nil {
			return fmt.Errorf("libsql: Scan: column %d (%q): %w", i, cols[i], err)
		}
	}
	return nil
}

// Row is the result of [Conn.QueryRow].
type Row struct {
	rows Rows
	err  error
}

// Scan reads the first row of the query into dest (see [Rows.Scan]) and
// closes the rows. It returns sql.ErrNoRows if the query returned no row,
// and the query's error if it failed.
func (r *Row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	rows := &r.rows
	if rows.c == nil {
		return errors.New("libsql: Row.Scan called twice")
	}
	defer func() { rows.c = nil }()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		rows.Close()
		return err
	}
	return rows.Close()
}

// Err returns the error of the query, if it failed before Scan.
func (r *Row) Err() error { return r.err }

var _ ChangeStreamer = (*Conn)(nil)

// Changes opens a stream of the database's committed row changes (see
// [ChangeOptions]), as [Changes] does for an *sql.DB. The stream does not
// hold the connection: it lives on after the Conn is closed or put back in
// a pool, until its own Close.
func (c *Conn) Changes(ctx context.Context, opts ChangeOptions) (*ChangeStream, error) {
	if c.c.cc.Closed() {
		return nil, errConnClosed
	}
	return c.c.Changes(ctx, opts)
}
