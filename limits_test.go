package libsql

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	sqlite3 "modernc.org/sqlite/lib"
)

// TestLimitValues: the limit ids are SQLite's.
func TestLimitValues(t *testing.T) {
	for l, want := range map[Limit]int32{
		LimitLength: sqlite3.SQLITE_LIMIT_LENGTH, LimitSQLLength: sqlite3.SQLITE_LIMIT_SQL_LENGTH,
		LimitColumn: sqlite3.SQLITE_LIMIT_COLUMN, LimitExprDepth: sqlite3.SQLITE_LIMIT_EXPR_DEPTH,
		LimitCompoundSelect: sqlite3.SQLITE_LIMIT_COMPOUND_SELECT, LimitVDBEOp: sqlite3.SQLITE_LIMIT_VDBE_OP,
		LimitFunctionArg: sqlite3.SQLITE_LIMIT_FUNCTION_ARG, LimitAttached: sqlite3.SQLITE_LIMIT_ATTACHED,
		LimitLikePatternLength: sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH, LimitVariableNumber: sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER,
		LimitTriggerDepth: sqlite3.SQLITE_LIMIT_TRIGGER_DEPTH, LimitWorkerThreads: sqlite3.SQLITE_LIMIT_WORKER_THREADS,
		LimitParserDepth: sqlite3.SQLITE_LIMIT_PARSER_DEPTH, LimitSchema: sqlite3.SQLITE_LIMIT_SCHEMA,
		LimitTriggerSteps: sqlite3.SQLITE_LIMIT_TRIGGER_STEPS,
	} {
		if int32(l) != want {
			t.Errorf("%v = %d, SQLite's is %d", l, int32(l), want)
		}
	}
	if LimitSQLLength.String() != "SQLLength" || Limit(15).String() != "Limit(15)" {
		t.Errorf("String: %q %q", LimitSQLLength.String(), Limit(15).String())
	}
}

// TestWithLimit: the connector's limits hold on every connection after its
// connect hooks (whose ATTACH a limit of no attached database would
// refuse); Limit changes one connection's until it goes back to the pool,
// which puts the connector's back; bad limits and values are refused.
func TestWithLimit(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	att := filepath.Join(dir, "att.db")
	db := openTestDSN(t, fileDSN(filepath.Join(dir, "a.db")),
		WithLimit(LimitSQLLength, 200), WithLimit(LimitAttached, 1),
		WithConnectHook(func(ctx context.Context, c *Conn) error {
			_, err := c.Exec(ctx, "ATTACH ? AS hooked", att)
			return err
		}))
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE t(v TEXT)")
	long := "SELECT 1 /*" + strings.Repeat("x", 300) + "*/"
	if _, err := db.Exec(long); err == nil || !strings.Contains(err.Error(), "too big") {
		t.Errorf("SQL longer than LimitSQLLength: %v", err)
	}
	if _, err := db.Exec("ATTACH ? AS second", filepath.Join(dir, "b.db")); err == nil || !strings.Contains(err.Error(), "too many attached") {
		t.Errorf("a second ATTACH with LimitAttached 1: %v", err)
	}

	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Raw(func(dc any) error {
		ls := dc.(LimitSetter)
		if old, err := ls.Limit(LimitLength, 30); err != nil || old != 1_000_000_000 {
			t.Errorf("Limit(LimitLength, 30): old %d, %v; want SQLite's default 1000000000", old, err)
		}
		if v, err := ls.Limit(LimitLength, -1); err != nil || v != 30 {
			t.Errorf("Limit(LimitLength, -1): %d, %v; want 30", v, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecContext(ctx, "INSERT INTO t VALUES (?)", strings.Repeat("y", 40)); err == nil || !strings.Contains(err.Error(), "too big") {
		t.Errorf("a 40-byte value with LimitLength 30: %v", err)
	}
	c.Close()
	if _, err := db.Exec("INSERT INTO t VALUES (?)", strings.Repeat("y", 40)); err != nil {
		t.Errorf("the pooled connection after Limit: %v, want the connector's limits back", err)
	}
	if _, err := db.Exec(long); err == nil {
		t.Error("the connector's LimitSQLLength was lost at ResetSession")
	}

	for _, o := range []Option{WithLimit(Limit(15), 1), WithLimit(LimitColumn, -1)} {
		if _, err := NewConnector(":memory:", o); err == nil || !strings.Contains(err.Error(), "WithLimit") {
			t.Errorf("bad WithLimit: %v", err)
		}
	}
	nc, err := OpenConn(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Limit(Limit(-1), -1); err == nil || !strings.Contains(err.Error(), "no such limit") {
		t.Errorf("Limit(-1): %v", err)
	}
	if v, err := nc.Limit(LimitAttached, -1); err != nil || v != 10 {
		t.Errorf("LimitAttached: %d, %v; want SQLite's default 10", v, err)
	}
}
