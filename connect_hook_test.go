package libsql

import (
	"context"
	"database/sql/driver"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestConnectHookSetsUpEveryConnection: the hook runs on every connection
// of the pool and on native ones, in order, with the connect's context,
// after the driver's setup (Go functions are there); what it sets up
// (ATTACH, TEMP objects) is there for the connection's statements.
func TestConnectHookSetsUpEveryConnection(t *testing.T) {
	dir := t.TempDir()
	aux := filepath.Join(dir, "aux.db")
	seed := openTestDSN(t, aux)
	mustExec(t, seed, "CREATE TABLE lookup(k TEXT PRIMARY KEY, v TEXT); INSERT INTO lookup VALUES ('a', 'alpha')")

	type key struct{}
	var runs atomic.Int64
	var order []string
	db := openTestDSN(t, filepath.Join(dir, "main.db"),
		WithFunction("twice", 1, func(_ context.Context, args []driver.Value) (driver.Value, error) { return args[0].(int64) * 2, nil }),
		WithConnectHook(func(ctx context.Context, c *Conn) error {
			order = append(order, "first")
			if ctx.Value(key{}) != "connect" {
				return errors.New("the hook did not get the connect's context")
			}
			var n int64
			if err := c.QueryRow(ctx, "SELECT twice(21)").Scan(&n); err != nil || n != 42 {
				return errors.New("Go functions are not registered before the hook")
			}
			if _, err := c.Exec(ctx, "ATTACH ? AS aux", aux); err != nil {
				return err
			}
			_, err := c.Exec(ctx, "CREATE TEMP VIEW greeting AS SELECT v FROM aux.lookup WHERE k = 'a'")
			runs.Add(1)
			return err
		}),
		WithConnectHook(func(ctx context.Context, c *Conn) error {
			order = append(order, "second")
			// Rows left open are closed for it.
			_, err := c.Query(ctx, "SELECT * FROM greeting")
			return err
		}))
	db.SetMaxOpenConns(3)
	ctx := context.WithValue(context.Background(), key{}, "connect")
	var conns []interface{ Close() error }
	for range 3 {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var v string
		if err := c.QueryRowContext(ctx, "SELECT v FROM greeting").Scan(&v); err != nil || v != "alpha" {
			t.Fatalf("a pooled connection's TEMP view over its ATTACHed database: %q %v", v, err)
		}
	}
	for _, c := range conns {
		c.Close()
	}
	if n := runs.Load(); n != 3 {
		t.Fatalf("the hook ran %d times for 3 connections", n)
	}
	if strings.Join(order[:2], ",") != "first,second" {
		t.Fatalf("hooks ran in the order %v", order)
	}
	ctr, err := NewConnector(filepath.Join(dir, "main.db"), WithConnectHook(func(ctx context.Context, c *Conn) error {
		_, err := c.Exec(ctx, "ATTACH ? AS aux", aux)
		return err
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer ctr.Close()
	nc, err := ctr.ConnectConn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var v string
	if err := nc.QueryRow(context.Background(), "SELECT v FROM aux.lookup").Scan(&v); err != nil || v != "alpha" {
		t.Fatalf("a native connection's ATTACHed database: %q %v", v, err)
	}
}

// TestConnectHookFailures: a hook's error fails the connect, wrapped, and
// the next connect tries again; a hook that leaves a transaction open fails
// it too, and its changes are not committed.
func TestConnectHookFailures(t *testing.T) {
	errNotYet := errors.New("not yet")
	var fail atomic.Bool
	fail.Store(true)
	var leaveTx atomic.Bool
	db := openTestDB(t, "", WithConnectHook(func(ctx context.Context, c *Conn) error {
		if fail.Load() {
			return errNotYet
		}
		if leaveTx.Load() {
			_, err := c.Exec(ctx, "BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS t(x); INSERT INTO t VALUES (1)")
			return err
		}
		return nil
	}))
	err := db.Ping()
	if !errors.Is(err, errNotYet) || !strings.Contains(err.Error(), "connect hook 1: not yet") {
		t.Fatalf("Ping with a failing hook: %v", err)
	}
	fail.Store(false)
	mustExec(t, db, "CREATE TABLE u(x)")
	db.SetMaxIdleConns(0) // every statement connects anew
	leaveTx.Store(true)
	if _, err := db.Exec("INSERT INTO u VALUES (1)"); err == nil || !strings.Contains(err.Error(), "left a transaction open") {
		t.Fatalf("a hook leaving a transaction open: %v", err)
	}
	leaveTx.Store(false)
	var n int
	if err := db.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name = 't'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("the hook's uncommitted table: %d (%v), want none", n, err)
	}
	if _, err := NewConnector(":memory:", WithConnectHook(nil)); err == nil {
		t.Fatal("WithConnectHook(nil): want an error")
	}
}

// TestConnectHookRowsLeftOpenAreClosed: rows a hook leaves open would keep
// the connection's read transaction, and with it an old snapshot: they
// are closed, so a native connection (which nothing resets between the
// hook and its first use) sees what others commit.
func TestConnectHookRowsLeftOpenAreClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	db := openTestDSN(t, path)
	mustExec(t, db, "CREATE TABLE t(x); INSERT INTO t VALUES (1)")
	ctx := context.Background()
	ctr, err := NewConnector(path, WithConnectHook(func(ctx context.Context, c *Conn) error {
		_, err := c.Query(ctx, "SELECT x FROM t")
		return err
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer ctr.Close()
	c1, err := ctr.ConnectConn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	mustExec(t, db, "INSERT INTO t VALUES (2)")
	var n int
	if err := c1.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 2 {
		t.Fatalf("after another connection's commit: %d rows (%v), want 2", n, err)
	}
}
