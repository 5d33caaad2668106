package libsql_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/golibsql/libsql"
	"modernc.org/sqlite"
)

// benchFuncRows is the number of rows each op of BenchmarkFunction runs
// the Go function over.
const benchFuncRows = 10_000

func benchLen(_ context.Context, args []driver.Value) (driver.Value, error) {
	s, _ := args[0].(string)
	return int64(len(s)), nil
}

// benchSum is an integer sum, in both drivers' aggregate interfaces.
type benchSum struct{ n int64 }

func (a *benchSum) Step(_ context.Context, args []driver.Value) error {
	v, _ := args[0].(int64)
	a.n += v
	return nil
}

func (a *benchSum) Final(context.Context) (driver.Value, error) { return a.n, nil }

type mcSum struct{ benchSum }

func (a *mcSum) Step(_ *sqlite.FunctionContext, args []driver.Value) error {
	return a.benchSum.Step(nil, args)
}
func (a *mcSum) WindowInverse(*sqlite.FunctionContext, []driver.Value) error {
	return fmt.Errorf("not a window function")
}
func (a *mcSum) WindowValue(*sqlite.FunctionContext) (driver.Value, error) { return a.n, nil }
func (a *mcSum) Final(*sqlite.FunctionContext)                             {}

var registerModernc = sync.OnceValue(func() error {
	if err := sqlite.RegisterDeterministicScalarFunction("bench_len", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		return benchLen(nil, args)
	}); err != nil {
		return err
	}
	if err := sqlite.RegisterFunction("bench_sum", &sqlite.FunctionImpl{NArgs: 1, Deterministic: true,
		MakeAggregate: func(sqlite.FunctionContext) (sqlite.AggregateFunction, error) { return &mcSum{}, nil }}); err != nil {
		return err
	}
	return sqlite.RegisterCollationUtf8("bench_rev", func(a, b string) int { return strings.Compare(b, a) })
})

// BenchmarkFunction: the cost of calling Go from SQL, against modernc's
// driver with the same functions registered: a scalar function (and ours
// as a RawFunction, against modernc's op=scalar) and an aggregate over
// benchFuncRows rows, and a sort by a Go collation (one op is one
// statement).
func BenchmarkFunction(b *testing.B) {
	if err := registerModernc(); err != nil {
		b.Fatal(err)
	}
	for _, op := range []string{"scalar", "scalar-raw", "aggregate", "collation"} {
		query := map[string]string{
			"scalar":     "SELECT count(*) FROM f WHERE bench_len(s) > 12",
			"scalar-raw": "SELECT count(*) FROM f WHERE bench_len_raw(s) > 12",
			"aggregate":  "SELECT bench_sum(id) FROM f",
			"collation":  "SELECT s FROM f ORDER BY s COLLATE bench_rev LIMIT 1",
		}[op]
		for _, d := range drivers {
			if op == "scalar-raw" && d.sqlName != libsql.DriverName {
				continue // modernc has no such API: compare with its op=scalar
			}
			b.Run(fmt.Sprintf("op=%s/driver=%s", op, d.name), func(b *testing.B) {
				path := filepath.Join(b.TempDir(), "f.db")
				var db *sql.DB
				var err error
				if d.sqlName == libsql.DriverName {
					db, err = libsql.Open(path,
						libsql.WithFunction("bench_len", 1, benchLen, libsql.Deterministic),
						libsql.WithRawFunction("bench_len_raw", 1, func(f *libsql.FuncContext) {
							f.ResultInt64(int64(len(f.RawText(0))))
						}, libsql.Deterministic),
						libsql.WithAggregate("bench_sum", 1, func() *benchSum { return &benchSum{} }, libsql.Deterministic),
						libsql.WithCollation("bench_rev", func(a, b string) int { return strings.Compare(b, a) }))
				} else {
					db, err = sql.Open(d.sqlName, path)
				}
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				db.SetMaxOpenConns(1)
				if _, err := db.Exec(fmt.Sprintf(`PRAGMA journal_mode=WAL; CREATE TABLE f(id INTEGER PRIMARY KEY, s TEXT);
					WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < %d)
					INSERT INTO f SELECT x, 'value ' || (x * 7919 %% 100003) FROM c`, benchFuncRows)); err != nil {
					b.Fatal(err)
				}
				var want any
				for b.Loop() {
					var got any
					if err := db.QueryRow(query).Scan(&got); err != nil {
						b.Fatal(err)
					}
					if want == nil {
						want = got
					} else if fmt.Sprint(got) != fmt.Sprint(want) {
						b.Fatalf("result %v, then %v", want, got)
					}
				}
			})
		}
	}
}
