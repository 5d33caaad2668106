package bench

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/golibsql/libsql"
	mattn "github.com/mattn/go-sqlite3"
	ncruces "github.com/ncruces/go-sqlite3"
	ncdriver "github.com/ncruces/go-sqlite3/driver"
	"modernc.org/sqlite"
)

// The functions workload calls a Go SQL function, bench_len(text), the
// length of its argument, once per row of a table, registered the fastest
// way each driver offers: libsql.WithRawFunction, modernc's
// RegisterDeterministicScalarFunction (for the whole process), mattn's
// SQLiteConn.RegisterFunc in a ConnectHook (a driver registered apart) and
// ncruces' Conn.CreateFunction in driver.Open's init function.

const funcQuery = "SELECT count(*) FROM f WHERE bench_len(s) > 12"

func benchLen(s string) int64 { return int64(len(s)) }

var registerFuncs = sync.OnceValue(func() error {
	sql.Register("sqlite3_bench_fn", &mattn.SQLiteDriver{ConnectHook: func(c *mattn.SQLiteConn) error {
		return c.RegisterFunc("bench_len", benchLen, true)
	}})
	return sqlite.RegisterDeterministicScalarFunction("bench_len", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		s, _ := args[0].(string)
		return benchLen(s), nil
	})
})

// openWithFunction opens the workload's database with bench_len
// registered on every connection.
func (e Env) openWithFunction(ctx context.Context, sync string) (*sql.DB, error) {
	if err := registerFuncs(); err != nil {
		return nil, err
	}
	dsn := e.Driver.DSN(filepath.Join(e.Dir, "bench.db"), sync)
	var db *sql.DB
	var err error
	switch e.Driver.Name {
	case "libsql":
		db, err = libsql.Open(dsn, libsql.WithRawFunction("bench_len", 1, func(f *libsql.FuncContext) {
			f.ResultInt64(int64(len(f.RawText(0))))
		}, libsql.Deterministic))
	case "modernc":
		db, err = sql.Open(e.Driver.SQLName, dsn)
	case "mattn":
		db, err = sql.Open("sqlite3_bench_fn", dsn)
	case "ncruces":
		db, err = ncdriver.Open(dsn, func(c *ncruces.Conn) error {
			return c.CreateFunction("bench_len", 1, ncruces.DETERMINISTIC, func(ctx ncruces.Context, arg ...ncruces.Value) {
				ctx.ResultInt64(int64(len(arg[0].RawText())))
			})
		})
	default:
		return nil, fmt.Errorf("%s: no way to register a Go function here", e.Driver.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: open: %w", e.Driver.Name, err)
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: ping: %w", e.Driver.Name, err)
	}
	return db, nil
}

// functions measures Go SQL function calls per second: a query that
// calls bench_len on each of Scale.Rows rows, run again and again.
func functions(ctx context.Context, e Env) ([]Metric, error) {
	db, err := e.openWithFunction(ctx, "NORMAL")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE TABLE f(id INTEGER PRIMARY KEY, s TEXT)"); err != nil {
		return nil, err
	}
	if _, err := db.ExecContext(ctx, `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < ?)
		INSERT INTO f SELECT x, 'value ' || (x * 7919 % 100003) FROM c`, e.Scale.Rows); err != nil {
		return nil, err
	}
	var want int64 = -1
	n, el, err := timed(e.Duration, func(int) error {
		var got int64
		if err := db.QueryRowContext(ctx, funcQuery).Scan(&got); err != nil {
			return err
		}
		if want >= 0 && got != want {
			return fmt.Errorf("%s returned %d, then %d", funcQuery, want, got)
		}
		want = got
		return nil
	})
	if err != nil {
		return nil, err
	}
	return []Metric{{Name: "function calls/s", Label: "Go function", Value: perSecond(n*e.Scale.Rows, el), Higher: true}}, nil
}
