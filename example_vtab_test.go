package libsql_test

import (
	"errors"
	"fmt"
	"log"
	"maps"
	"slices"

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

// settings is a Go map seen as the table settings(key, value), which SQL
// reads and writes.
type settings struct{ m map[string]string }

func (s settings) Connect([]string) (string, libsql.VirtualTable, error) {
	return "CREATE TABLE x(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID", s, nil
}

func (s settings) BestIndex(*libsql.IndexInfo) error { return nil }
func (s settings) Disconnect() error                 { return nil }
func (s settings) Open() (libsql.VirtualCursor, error) {
	return &settingsCursor{m: s.m, keys: slices.Sorted(maps.Keys(s.m))}, nil
}

// Insert, Update and Delete make it a libsql.VirtualTableWriter; WITHOUT
// ROWID, a row's id is its key.
func (s settings) Insert(_ any, values []any) (int64, error) {
	key, _ := values[0].(string)
	if _, ok := s.m[key]; ok {
		return 0, fmt.Errorf("setting %q exists: %w", key, libsql.ErrConstraint)
	}
	s.m[key], _ = values[1].(string)
	return 0, nil
}

func (s settings) Update(oldKey, key any, values []any) error {
	delete(s.m, oldKey.(string))
	s.m[key.(string)], _ = values[1].(string)
	return nil
}

// Replace makes it a libsql.VirtualTableReplacer: INSERT OR REPLACE
// overwrites a setting.
func (s settings) Replace(oldKey, _ any, values []any) (int64, error) {
	if oldKey != nil {
		delete(s.m, oldKey.(string))
	}
	key, _ := values[0].(string)
	s.m[key], _ = values[1].(string)
	return 0, nil
}

func (s settings) Delete(key any) error {
	delete(s.m, key.(string))
	return nil
}

type settingsCursor struct {
	m    map[string]string
	keys []string
	i    int
}

func (c *settingsCursor) Filter(int, string, []any) error { c.i = 0; return nil }
func (c *settingsCursor) Next() error                     { c.i++; return nil }
func (c *settingsCursor) EOF() bool                       { return c.i >= len(c.keys) }
func (c *settingsCursor) Column(f *libsql.FuncContext, i int) error {
	if i == 0 {
		f.ResultText(c.keys[c.i])
	} else {
		f.ResultText(c.m[c.keys[c.i]])
	}
	return nil
}
func (c *settingsCursor) Rowid() (int64, error) { return 0, nil }
func (c *settingsCursor) Close() error          { return nil }

// A Go map as a table that SQL writes.
func ExampleVirtualTableWriter() {
	m := map[string]string{"theme": "dark"}
	db, err := libsql.Open(":memory:", libsql.WithModule("settings", settings{m}))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		"CREATE VIRTUAL TABLE settings USING settings",
		"INSERT INTO settings VALUES ('lang', 'en')",
		"UPDATE settings SET value = 'light' WHERE key = 'theme'",
	} {
		if _, err := db.Exec(q); err != nil {
			log.Fatal(err)
		}
	}
	_, err = db.Exec("INSERT INTO settings VALUES ('lang', 'fr')")
	fmt.Println(errors.Is(err, libsql.ErrConstraint))
	fmt.Println(m)
	if _, err := db.Exec("INSERT OR REPLACE INTO settings VALUES ('lang', 'fr')"); err != nil {
		log.Fatal(err)
	}
	fmt.Println(m)
	// Output:
	// true
	// map[lang:en theme:light]
	// map[lang:fr theme:light]
}
