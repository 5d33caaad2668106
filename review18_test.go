package libsql

// Review 18: WithConnectHook, and the argument slices of Go functions cut
// from a shared chunk.

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// r18Engines settles background work and returns the VFS's engine count
// and the number of goroutines.
func r18Settle(t *testing.T) (engines, goroutines int) {
	t.Helper()
	s := lrSettle(t)
	return s.engines, s.goroutines
}

// TestReview18HookLeavesConcurrentTx: a hook that leaves BEGIN CONCURRENT
// open (SQL or BeginTx) fails the connect, and nothing of the transaction
// stays (its write is not committed, other writers are not held up).
func TestReview18HookLeavesConcurrentTx(t *testing.T) {
	ctx := context.Background()
	for _, how := range []string{"sql", "begintx"} {
		t.Run(how, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "t.db")
			db := openTestDSN(t, path)
			mustExec(t, db, "CREATE TABLE t(x)")
			ctr, err := NewConnector(path, WithConnectHook(func(ctx context.Context, c *Conn) error {
				if how == "sql" {
					if _, err := c.Exec(ctx, "BEGIN CONCURRENT"); err != nil {
						return err
					}
				} else if err := c.BeginTx(ctx, &sql.TxOptions{Isolation: LevelConcurrent}); err != nil {
					return err
				}
				_, err := c.Exec(ctx, "INSERT INTO t VALUES (1)")
				return err
			}))
			if err != nil {
				t.Fatal(err)
			}
			defer ctr.Close()
			if nc, err := ctr.ConnectConn(ctx); err == nil || !strings.Contains(err.Error(), "left a transaction open") {
				if nc != nil {
					nc.Close()
				}
				t.Fatalf("a hook leaving BEGIN CONCURRENT open: %v", err)
			}
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			if _, err := db.ExecContext(cctx, "BEGIN IMMEDIATE; INSERT INTO t VALUES (2); COMMIT"); err != nil {
				t.Fatalf("a writer after the failed connect: %v", err)
			}
			var n int
			if err := db.QueryRow("SELECT count(*) FROM t WHERE x = 1").Scan(&n); err != nil || n != 0 {
				t.Fatalf("the hook's uncommitted row: %d %v", n, err)
			}
		})
	}
}

// TestReview18HookReadOnlyTx: a read-only transaction the hook commits
// leaves no PRAGMA query_only behind; one it leaves open fails the connect.
func TestReview18HookReadOnlyTx(t *testing.T) {
	ctx := context.Background()
	var leave atomic.Bool
	db := openTestDB(t, "", WithConnectHook(func(ctx context.Context, c *Conn) error {
		if err := c.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}); err != nil {
			return err
		}
		var n int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
			return err
		}
		if leave.Load() {
			return nil
		}
		return c.Commit()
	}))
	db.SetMaxOpenConns(1)
	sc, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var qo int
	if err := sc.QueryRowContext(ctx, "PRAGMA query_only").Scan(&qo); err != nil || qo != 0 {
		t.Fatalf("query_only after the hook's committed read-only tx: %d %v", qo, err)
	}
	if _, err := sc.ExecContext(ctx, "CREATE TABLE t(x)"); err != nil {
		t.Fatalf("a write after the hook's read-only tx: %v", err)
	}
	sc.Close()
	db.SetMaxIdleConns(0)
	leave.Store(true)
	if err := db.PingContext(ctx); err == nil || !strings.Contains(err.Error(), "left a transaction open") {
		t.Fatalf("a hook leaving a read-only tx open: %v", err)
	}
	leave.Store(false)
}

// TestReview18HookSavepointLeftOpen: SAVEPOINT outside a transaction
// begins one: left open, it fails the connect; released, it does not.
func TestReview18HookSavepointLeftOpen(t *testing.T) {
	var release atomic.Bool
	db := openTestDB(t, "", WithConnectHook(func(ctx context.Context, c *Conn) error {
		if _, err := c.Exec(ctx, "SAVEPOINT s1; CREATE TEMP TABLE tt(x)"); err != nil {
			return err
		}
		if release.Load() {
			_, err := c.Exec(ctx, "RELEASE s1")
			return err
		}
		return nil
	}))
	db.SetMaxIdleConns(0)
	if err := db.Ping(); err == nil || !strings.Contains(err.Error(), "left a transaction open") {
		t.Fatalf("a hook leaving a savepoint open: %v", err)
	}
	release.Store(true)
	sc, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if _, err := sc.ExecContext(context.Background(), "INSERT INTO tt VALUES (1)"); err != nil {
		t.Fatalf("the released savepoint's TEMP table: %v", err)
	}
}

// TestReview18HookQueryOnlyStays: PRAGMA query_only=1 set by the hook is
// the connection's setting: it stays across database/sql's ResetSession
// and a native Reset.
func TestReview18HookQueryOnlyStays(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "t.db")
	seed := openTestDSN(t, path)
	mustExec(t, seed, "CREATE TABLE t(x)")
	hook := WithConnectHook(func(ctx context.Context, c *Conn) error {
		_, err := c.Exec(ctx, "PRAGMA query_only=1")
		return err
	})
	db := openTestDSN(t, path, hook)
	db.SetMaxOpenConns(1)
	for i := range 3 {
		if _, err := db.Exec("INSERT INTO t VALUES (1)"); !errors.Is(err, ErrReadOnly) {
			t.Fatalf("write %d on a query_only connection: %v", i, err)
		}
		// A read-only transaction that rolls back, and a deferred one.
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		tx.Rollback()
	}
	ctr, err := NewConnector(path, hook)
	if err != nil {
		t.Fatal(err)
	}
	defer ctr.Close()
	nc, err := ctr.ConnectConn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Exec(ctx, "INSERT INTO t VALUES (1)"); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("write on a query_only native connection after Reset: %v", err)
	}
}

// TestReview18HookQueryOnlyAfterReadOnlyTx: a read-only transaction on a
// connection whose hook set PRAGMA query_only=1 must not leave it off.
func TestReview18HookQueryOnlyAfterReadOnlyTx(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "t.db")
	seed := openTestDSN(t, path)
	mustExec(t, seed, "CREATE TABLE t(x)")
	db := openTestDSN(t, path, WithConnectHook(func(ctx context.Context, c *Conn) error {
		_, err := c.Exec(ctx, "PRAGMA query_only=1")
		return err
	}))
	db.SetMaxOpenConns(1)
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO t VALUES (1)"); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("write after a read-only tx on a connection the hook made query_only: %v, want ErrReadOnly", err)
	}
}

// TestReview18HookClosesConn: a hook that closes its Conn must fail the
// connect, not hand out a closed connection.
func TestReview18HookClosesConn(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "t.db")
	ctr, err := NewConnector(path, WithConnectHook(func(ctx context.Context, c *Conn) error {
		return c.Close()
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer ctr.Close()
	nc, err := ctr.ConnectConn(ctx)
	if err == nil {
		closed := nc.Closed()
		nc.Close()
		t.Fatalf("a hook that closed the connection: ConnectConn succeeded (Closed()=%v)", closed)
	}
	db := sql.OpenDB(ctr)
	defer db.Close()
	err = db.PingContext(ctx)
	if err == nil || !strings.Contains(err.Error(), "hook") {
		t.Fatalf("database/sql over a hook that closes the connection: %v, want an error naming the hook", err)
	}
}

// TestReview18HookResets: a hook may call Reset (it rolls back what the
// hook began) and the connect then succeeds.
func TestReview18HookResets(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t, "", WithConnectHook(func(ctx context.Context, c *Conn) error {
		if _, err := c.Exec(ctx, "CREATE TEMP TABLE tt(x); BEGIN; INSERT INTO tt VALUES (1)"); err != nil {
			return err
		}
		if _, err := c.Query(ctx, "SELECT * FROM tt"); err != nil {
			return err
		}
		return c.Reset(ctx)
	}))
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM tt").Scan(&n); err != nil || n != 0 {
		t.Fatalf("after a hook that Reset: %d %v", n, err)
	}
}

// TestReview18HookChangesStream: a stream opened in the hook and left open
// lives on and yields later commits; with cdc=on, the hook's own writes
// are captured like any other.
func TestReview18HookChangesStream(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "t.db")
	seed := openTestDSN(t, path+"?cdc=on")
	mustExec(t, seed, "CREATE TABLE t(x); CREATE TABLE hooklog(who TEXT)")
	watch, err := Changes(ctx, seed, ChangeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	var streams []*ChangeStream
	db := openTestDSN(t, path+"?cdc=on", WithConnectHook(func(ctx context.Context, c *Conn) error {
		s, err := c.Changes(ctx, ChangeOptions{Tables: []string{"t"}})
		if err != nil {
			return err
		}
		streams = append(streams, s) // left open at the end of the hook
		_, err = c.Exec(ctx, "INSERT INTO hooklog VALUES ('hook')")
		return err
	}))
	db.SetMaxOpenConns(1)
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "INSERT INTO t VALUES (42)")
	nctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	ch, err := watch.Next(nctx)
	if err != nil || ch.Table != "hooklog" || ch.New[0] != "hook" {
		t.Fatalf("the hook's write in the change stream: %+v %v", ch, err)
	}
	if ch, err = watch.Next(nctx); err != nil || ch.Table != "t" {
		t.Fatalf("the next change: %+v %v", ch, err)
	}
	if len(streams) != 1 {
		t.Fatalf("%d streams", len(streams))
	}
	ch, err = streams[0].Next(nctx)
	if err != nil || ch.Table != "t" || ch.New[0] != int64(42) {
		t.Fatalf("the hook's stream: %+v %v", ch, err)
	}
	// The durable log has the hook's transaction.
	var n int
	if err := db.QueryRow("SELECT count(*) FROM libsql_cdc").Scan(&n); err != nil || n < 2 {
		t.Fatalf("libsql_cdc rows: %d %v", n, err)
	}
	for _, s := range streams {
		s.Close()
	}
}

// TestReview18HookPanics: a panicking hook fails the connect with the
// panic as its error (database/sql would not recover it), and the
// connection it was setting up is closed: database/sql gets its slot
// back, and after db.Close the database's engine is gone.
func TestReview18HookPanics(t *testing.T) {
	e0, _ := r18Settle(t)
	path := filepath.Join(t.TempDir(), "t.db")
	var panicking atomic.Bool
	panicking.Store(true)
	db, err := Open(path, WithConnectHook(func(ctx context.Context, c *Conn) error {
		if panicking.Load() {
			panic("hook boom")
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	var got any
	func() {
		defer func() { got = recover() }()
		err = db.Ping()
	}()
	if got != nil || err == nil || !strings.Contains(err.Error(), "connect hook 1: the hook panicked: hook boom") {
		t.Fatalf("Ping with a panicking hook: panic %v, error %v; want the panic as the error", got, err)
	}
	panicking.Store(false)
	// With MaxOpenConns(1), a slot database/sql did not get back would
	// make this wait out its timeout.
	cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	perr := db.PingContext(cctx)
	cancel()
	if perr != nil {
		t.Fatalf("Ping after the panic, MaxOpenConns(1): %v", perr)
	}
	db.Close()
	e1, _ := r18Settle(t)
	if e1 != e0 {
		t.Fatalf("after db.Close: %d engines open, %d before: the panicking hook's connection leaked", e1, e0)
	}
}

// TestReview18HookBlocksUntilCtx: a hook that waits for ctx fails the
// connect with ctx's error, and leaves no connection, engine or goroutine
// behind.
func TestReview18HookBlocksUntilCtx(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	seed := openTestDSN(t, path)
	mustExec(t, seed, "CREATE TABLE t(x)")
	e0, g0 := r18Settle(t)
	fds0, _ := lrFDs(t)
	var seen []*Conn // kept against the rules, to check they were closed
	ctr, err := NewConnector(path, WithConnectHook(func(ctx context.Context, c *Conn) error {
		seen = append(seen, c)
		<-ctx.Done()
		return ctx.Err()
	}))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(ctr)
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		err := db.PingContext(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("db.Ping with a blocking hook: %v", err)
		}
		ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
		nc, err := ctr.ConnectConn(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || nc != nil {
			t.Fatalf("ConnectConn with a blocking hook: %v", err)
		}
	}
	for i, c := range seen {
		if !c.Closed() {
			t.Fatalf("connection %d of %d whose hook failed is still open", i, len(seen))
		}
	}
	if st := db.Stats(); st.OpenConnections != 0 {
		t.Fatalf("database/sql counts %d open connections", st.OpenConnections)
	}
	db.Close()
	e1, g1 := r18Settle(t)
	fds1, _ := lrFDs(t)
	if e1 != e0 || g1 > g0+2 || fds1 > fds0+2 {
		t.Fatalf("engines %d→%d, goroutines %d→%d, fds %d→%d", e0, e1, g0, g1, fds0, fds1)
	}
	// The seed's connection still writes: no lock was left behind.
	mustExec(t, seed, "INSERT INTO t VALUES (1)")
}

// TestReview18HookMemory: on :memory: the hook sets up every connection of
// the one shared database; a hook's CREATE TABLE IF NOT EXISTS on the
// second connection finds the first one's table.
func TestReview18HookMemory(t *testing.T) {
	ctx := context.Background()
	var runs atomic.Int64
	db := openTestDSN(t, ":memory:", WithConnectHook(func(ctx context.Context, c *Conn) error {
		runs.Add(1)
		_, err := c.Exec(ctx, "CREATE TABLE IF NOT EXISTS shared(x); CREATE TEMP TABLE mine(x); INSERT INTO shared VALUES (1)")
		return err
	}))
	c1, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	c2, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	var n int
	if err := c2.QueryRowContext(ctx, "SELECT count(*) FROM shared").Scan(&n); err != nil || n != 2 {
		t.Fatalf("rows in the shared in-memory table after 2 hooks: %d %v", n, err)
	}
	for _, c := range []*sql.Conn{c1, c2} {
		if _, err := c.ExecContext(ctx, "INSERT INTO mine VALUES (1)"); err != nil {
			t.Fatal(err)
		}
	}
	if runs.Load() != 2 {
		t.Fatalf("hook ran %d times", runs.Load())
	}
}

// TestReview18HookAttachThenConcurrent: a connection whose hook ATTACHed a
// database refuses BEGIN CONCURRENT (SQL, BeginTx, RetryTx and
// _txlock=concurrent) with an error naming the attached database and
// saying to DETACH; the connection stays usable.
func TestReview18HookAttachThenConcurrent(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	aux := filepath.Join(dir, "aux.db")
	hook := WithConnectHook(func(ctx context.Context, c *Conn) error {
		_, err := c.Exec(ctx, "ATTACH ? AS aux", aux)
		return err
	})
	check := func(what string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), `"aux"`) || !strings.Contains(err.Error(), "DETACH") || !strings.Contains(err.Error(), "CONCURRENT") {
			t.Fatalf("%s on a connection with a hook's ATTACH: %v", what, err)
		}
	}
	db := openTestDSN(t, filepath.Join(dir, "main.db"), hook)
	mustExec(t, db, "CREATE TABLE t(x)")
	db.SetMaxOpenConns(1)
	_, err := db.Exec("BEGIN CONCURRENT")
	check("SQL BEGIN CONCURRENT", err)
	_, err = db.BeginTx(ctx, &sql.TxOptions{Isolation: LevelConcurrent})
	check("BeginTx(LevelConcurrent)", err)
	err = RetryTx(ctx, db, &sql.TxOptions{Isolation: LevelConcurrent}, func(tx *sql.Tx) error { return nil })
	check("RetryTx(LevelConcurrent)", err)
	mustExec(t, db, "INSERT INTO t VALUES (1)")

	dbc := openTestDSN(t, filepath.Join(dir, "main.db")+"?_txlock=concurrent", hook)
	_, err = dbc.Begin()
	check("_txlock=concurrent Begin", err)

	ctr, err := NewConnector(filepath.Join(dir, "main.db"), hook)
	if err != nil {
		t.Fatal(err)
	}
	defer ctr.Close()
	nc, err := ctr.ConnectConn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	check("Conn.BeginTx(LevelConcurrent)", nc.BeginTx(ctx, &sql.TxOptions{Isolation: LevelConcurrent}))
	if nc.InTx() {
		t.Fatal("a refused BEGIN CONCURRENT left a transaction open")
	}
	if _, err := nc.Exec(ctx, "DETACH aux"); err != nil {
		t.Fatal(err)
	}
	if err := nc.BeginTx(ctx, &sql.TxOptions{Isolation: LevelConcurrent}); err != nil {
		t.Fatalf("BEGIN CONCURRENT after DETACH: %v", err)
	}
	nc.Rollback()
}

// TestReview18HookRowsThenError: rows left open by a hook that then fails
// are closed with the connection; the next connect works.
func TestReview18HookRowsThenError(t *testing.T) {
	boom := errors.New("boom")
	var fail atomic.Bool
	fail.Store(true)
	path := filepath.Join(t.TempDir(), "t.db")
	seed := openTestDSN(t, path)
	mustExec(t, seed, "CREATE TABLE t(x); INSERT INTO t VALUES (1)")
	db := openTestDSN(t, path, WithConnectHook(func(ctx context.Context, c *Conn) error {
		r, err := c.Query(ctx, "SELECT x FROM t")
		if err != nil {
			return err
		}
		r.Next()
		if fail.Load() {
			return boom
		}
		return nil
	}))
	if err := db.Ping(); !errors.Is(err, boom) {
		t.Fatalf("%v", err)
	}
	fail.Store(false)
	// A writer must not be held up by the failed connection's reader.
	mustExec(t, seed, "INSERT INTO t VALUES (2)")
	var n int
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d %v", n, err)
	}
}

// --- Go function argument slices ---

// TestReview18FuncArgsIndependent: every call's slice is its own: slices
// kept from many calls (scalar and aggregate, several statements, two
// connections, 0 to 200 arguments, some calls with large values) never
// change, and an append to one never reaches another's values.
func TestReview18FuncArgsIndependent(t *testing.T) {
	ctx := context.Background()
	type kept struct {
		args []driver.Value
		want string
	}
	var all []kept
	snap := func(a []driver.Value) string { return fmt.Sprintf("%#v", a) }
	keep := func(a []driver.Value) {
		all = append(all, kept{a, snap(a)})
		// A later append to an earlier call's slice (the function keeps
		// slices and grows them, as an aggregate may) must not reach
		// this call's values, nor any other's.
		if len(all) >= 2 {
			grown := append(all[len(all)-2].args, "APPENDED")
			_ = grown
		}
	}
	db := openTestDB(t, "",
		WithFunction("k", -1, func(_ context.Context, args []driver.Value) (driver.Value, error) {
			keep(args)
			return int64(len(args)), nil
		}),
		WithAggregate("kagg", -1, func() *r18Agg { return &r18Agg{keep: keep} }))
	mustExec(t, db, `CREATE TABLE t(i INTEGER, s TEXT, b BLOB);
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 300)
		INSERT INTO t SELECT i, 'row' || i, CASE WHEN i % 37 = 0 THEN zeroblob(2000) ELSE randomblob(i % 5) END FROM n`)
	c1, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	c2, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	many := "k(" + strings.Repeat("i, ", 199) + "i)"
	queries := []string{
		"SELECT k(i, s, b) FROM t",
		"SELECT k() FROM t WHERE i < 10",
		"SELECT kagg(i, s) FROM t GROUP BY i % 7",
		"SELECT " + many + " FROM t WHERE i < 5",
		"SELECT k(i), k(s, i), k(k(i, b)) FROM t WHERE i % 3 = 0",
		"SELECT k(i, s, b) FROM t WHERE i % 37 = 0",
	}
	for round := range 2 {
		for _, c := range []*sql.Conn{c1, c2} {
			for _, q := range queries {
				rows, err := c.QueryContext(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
				}
				if err := rows.Err(); err != nil {
					t.Fatal(err)
				}
				rows.Close()
			}
		}
		_ = round
	}
	if len(all) < 2000 {
		t.Fatalf("only %d calls", len(all))
	}
	for i, k := range all {
		if got := snap(k.args); got != k.want {
			t.Fatalf("kept slice %d of %d changed:\n got %.300s\nwant %.300s", i, len(all), got, k.want)
		}
	}
}

type r18Agg struct {
	keep func([]driver.Value)
	n    int64
}

func (a *r18Agg) Step(_ context.Context, args []driver.Value) error {
	a.keep(args)
	a.n++
	return nil
}
func (a *r18Agg) Final(context.Context) (driver.Value, error) { return a.n, nil }

// TestReview18FuncArgsLargeNotRetained: a function that keeps nothing: after
// the statement, large arguments (text or blob of 1 KiB or more, alone or
// next to small ones) are not reachable from the connection's chunk. The
// check sets a finalizer on each large value's array and counts those
// never collected while the connection is still open.
func TestReview18FuncArgsLargeNotRetained(t *testing.T) {
	ctx := context.Background()
	var set, collected atomic.Int64
	track := func(v driver.Value) {
		switch v := v.(type) {
		case []byte:
			if len(v) >= argLarge {
				p := &v[0]
				set.Add(1)
				runtime.SetFinalizer(p, func(*byte) { collected.Add(1) })
			}
		case string:
			if len(v) >= argLarge {
				set.Add(1)
				runtime.SetFinalizer(unsafe.StringData(v), func(*byte) { collected.Add(1) })
			}
		}
	}
	db := openTestDB(t, "", WithFunction("f", -1, func(_ context.Context, args []driver.Value) (driver.Value, error) {
		for _, a := range args {
			track(a)
		}
		return nil, nil
	}))
	sc, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	const rows = 300
	for _, q := range []string{
		"SELECT f(zeroblob(1024)) FROM n",
		"SELECT f(1, 'x', zeroblob(5000)) FROM n",
		"SELECT f(zeroblob(1024 * 100), 2) FROM n",
		"SELECT f(replace(hex(zeroblob(512)), '0', 'a'), 3) FROM n",
		"SELECT f(i, replace(hex(zeroblob(3000)), '0', 'a')) FROM n",
	} {
		set.Store(0)
		collected.Store(0)
		if _, err := sc.ExecContext(ctx, fmt.Sprintf("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < %d) %s", rows, q)); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 20 && collected.Load() < set.Load(); i++ {
			runtime.GC()
			time.Sleep(5 * time.Millisecond)
		}
		if s, c := set.Load(), collected.Load(); s != rows || c < s {
			t.Fatalf("%s: %d large values passed, %d collected while the connection is open: the chunk keeps %d", q, s, c, s-c)
		}
	}
	runtime.KeepAlive(sc)
}

// TestReview18FuncArgsHeap: a function that keeps nothing, over 10,000 rows
// of 100 KiB blobs (1 GB passed in all): the heap stays far below that.
func TestReview18FuncArgsHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	ctx := context.Background()
	var calls atomic.Int64
	var peak uint64
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	}
	db := openTestDB(t, "", WithFunction("blen", 1, func(_ context.Context, args []driver.Value) (driver.Value, error) {
		if calls.Add(1)%1000 == 0 {
			sample()
		}
		return int64(len(args[0].([]byte))), nil
	}))
	sc, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var total int64
	if err := sc.QueryRowContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 10000)
		SELECT sum(blen(zeroblob(102400))) FROM n`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if total != 10000*102400 || calls.Load() != 10000 {
		t.Fatalf("sum %d, %d calls", total, calls.Load())
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	t.Logf("heap before %d MiB, peak sampled %d MiB, after GC %d MiB, total allocated %d MiB",
		before.HeapAlloc>>20, peak>>20, after.HeapAlloc>>20, (after.TotalAlloc-before.TotalAlloc)>>20)
	if after.HeapAlloc > before.HeapAlloc+8<<20 {
		t.Fatalf("heap after the statement: %d MiB, before %d MiB", after.HeapAlloc>>20, before.HeapAlloc>>20)
	}
	if peak > before.HeapAlloc+512<<20 {
		t.Fatalf("heap peaked at %d MiB while the function kept nothing", peak>>20)
	}
	runtime.KeepAlive(sc)
}

// TestReview18FuncArgsConcurrent: two connections calling the same
// function at once on two goroutines each get their own slices (tiny, for
// -race).
func TestReview18FuncArgsConcurrent(t *testing.T) {
	ctx := context.Background()
	type rec struct {
		a    []driver.Value
		want int64
	}
	var mu = make(chan struct{}, 1)
	var recs []rec
	db := openTestDB(t, "", WithFunction("k", 2, func(_ context.Context, args []driver.Value) (driver.Value, error) {
		mu <- struct{}{}
		recs = append(recs, rec{args, args[0].(int64)})
		<-mu
		return args[0], nil
	}))
	db.SetMaxOpenConns(2)
	done := make(chan error, 2)
	for g := range 2 {
		go func() {
			var err error
			for r := 0; r < 20 && err == nil; r++ {
				_, err = db.ExecContext(ctx, fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT %d UNION ALL SELECT i+2 FROM n WHERE i < 200)
					SELECT count(k(i, 'x')) FROM n`, g))
			}
			done <- err
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	for i, r := range recs {
		if r.a[0].(int64) != r.want || r.a[1] != "x" || len(r.a) != 2 || cap(r.a) != 2 {
			t.Fatalf("kept slice %d: %v (cap %d), want [%d x]", i, r.a, cap(r.a), r.want)
		}
	}
}
