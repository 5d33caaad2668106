package libsql_test

import (
	"fmt"
	"log"

	"github.com/golibsql/libsql"
)

// series is the table-valued function series(start, stop): the integers
// from start to stop.
type series struct{}

func (series) Connect(args []string) (string, libsql.VirtualTable, error) {
	return "CREATE TABLE x(value INTEGER, start HIDDEN, stop HIDDEN)", seriesTable{}, nil
}

type seriesTable struct{}

// BestIndex asks for start (column 1) and stop (column 2) as Filter's
// first and second arguments; without both, there is no plan.
func (seriesTable) BestIndex(info *libsql.IndexInfo) error {
	found := 0
	for i, c := range info.Constraints {
		if (c.Column == 1 || c.Column == 2) && c.Op == libsql.IndexEQ {
			if !c.Usable {
				return libsql.ErrIndexUnusable
			}
			info.Usage[i] = libsql.IndexConstraintUsage{ArgvIndex: c.Column, Omit: true}
			found++
		}
	}
	if found != 2 {
		return libsql.ErrIndexUnusable
	}
	return nil
}

func (seriesTable) Open() (libsql.VirtualCursor, error) { return &seriesCursor{}, nil }
func (seriesTable) Disconnect() error                   { return nil }

type seriesCursor struct{ cur, start, stop int64 }

func (c *seriesCursor) Filter(_ int, _ string, args []any) error {
	c.start, c.stop = args[0].(int64), args[1].(int64)
	c.cur = c.start
	return nil
}
func (c *seriesCursor) Next() error { c.cur++; return nil }
func (c *seriesCursor) EOF() bool   { return c.cur > c.stop }
func (c *seriesCursor) Column(f *libsql.FuncContext, i int) error {
	f.ResultInt64([]int64{c.cur, c.start, c.stop}[i])
	return nil
}
func (c *seriesCursor) Rowid() (int64, error) { return c.cur, nil }
func (c *seriesCursor) Close() error          { return nil }

// A table-valued function written in Go.
func ExampleWithModule() {
	db, err := libsql.Open(":memory:", libsql.WithModule("series", series{}))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	var n, sum int64
	if err := db.QueryRow("SELECT count(*), sum(value) FROM series(1, 100)").Scan(&n, &sum); err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, sum)
	// Output: 100 5050
}
