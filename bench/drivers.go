package bench

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/golibsql/libsql"
	_ "github.com/mattn/go-sqlite3"          // registers "sqlite3"
	_ "github.com/ncruces/go-sqlite3/driver" // registers "ncruces" (renamed with -ldflags -X)
	_ "modernc.org/sqlite"                   // registers "sqlite"
)

// The settings every driver runs with, whatever the workload.
const (
	// BusyTimeoutMS bounds a wait for a lock another connection holds.
	BusyTimeoutMS = 10_000
	// CacheKiB is each connection's page cache (PRAGMA cache_size=-8192).
	CacheKiB = 8192
)

// NcrucesDriverName is the database/sql name ncruces' driver is given with
// -ldflags -X github.com/ncruces/go-sqlite3/driver.driverName=ncruces.
const NcrucesDriverName = "ncruces"

// Driver is one database/sql driver under comparison.
type Driver struct {
	Name    string // short name in the results
	SQLName string // the database/sql driver name
	Module  string // Go module path, for its version
	About   string // one line for the results: how it runs SQLite and the journal
	// DSN returns the data source name opening the database file path with
	// synchronous set to sync ("FULL" or "NORMAL"), the busy timeout, the
	// cache size and, for the others, WAL mode and BEGIN IMMEDIATE as
	// what a transaction begins with.
	DSN func(path, sync string) string
	// Concurrent is true for the driver whose concurrent writers run
	// BEGIN CONCURRENT transactions through libsql.RetryTx.
	Concurrent bool
}

// fileURI returns a file: URI for path with the query q.
func fileURI(path string, q string) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path)}
	return u.String() + "?" + q
}

// pragmaQuery is the _pragma form shared by modernc and ncruces.
func pragmaQuery(sync string) string {
	return strings.Join([]string{
		fmt.Sprintf("_pragma=busy_timeout(%d)", BusyTimeoutMS),
		"_pragma=journal_mode(WAL)",
		"_pragma=synchronous(" + sync + ")",
		fmt.Sprintf("_pragma=cache_size(-%d)", CacheKiB),
		"_txlock=immediate",
	}, "&")
}

// Drivers are the drivers compared, the baseline (modernc) second.
var Drivers = []Driver{
	{
		Name:    "libsql",
		SQLName: libsql.DriverName,
		Module:  "github.com/golibsql/libsql",
		About:   "this project: SQLite transpiled to Go (modernc.org/sqlite/lib) on the MVCC engine's own write-ahead log, group commit, BEGIN CONCURRENT",
		DSN: func(path, sync string) string {
			return fileURI(path, fmt.Sprintf("sync=%s&busy_timeout=%dms&cache_size=-%d&_txlock=immediate",
				strings.ToLower(sync), BusyTimeoutMS, CacheKiB))
		},
		Concurrent: true,
	},
	{
		Name:    "modernc",
		SQLName: "sqlite",
		Module:  "modernc.org/sqlite",
		About:   "SQLite transpiled to Go, its own database/sql driver, WAL mode",
		DSN:     func(path, sync string) string { return fileURI(path, pragmaQuery(sync)) },
	},
	{
		Name:    "mattn",
		SQLName: "sqlite3",
		Module:  "github.com/mattn/go-sqlite3",
		About:   "SQLite in C through cgo, WAL mode",
		DSN: func(path, sync string) string {
			return fileURI(path, fmt.Sprintf("_journal_mode=WAL&_synchronous=%s&_busy_timeout=%d&_cache_size=-%d&_txlock=immediate",
				sync, BusyTimeoutMS, CacheKiB))
		},
	},
	{
		Name:    "ncruces",
		SQLName: NcrucesDriverName,
		Module:  "github.com/ncruces/go-sqlite3",
		About:   "SQLite compiled to Wasm and translated to Go (wasm2go), WAL mode",
		DSN:     func(path, sync string) string { return fileURI(path, pragmaQuery(sync)) },
	},
}

// Baseline is the driver every ratio is measured against.
const Baseline = "modernc"

// DriverByName returns the driver called name.
func DriverByName(name string) (Driver, bool) {
	for _, d := range Drivers {
		if d.Name == name {
			return d, true
		}
	}
	return Driver{}, false
}

// Open opens path with d at the given synchronous setting and checks
// that the connection works.
func (d Driver) Open(ctx context.Context, path, sync string) (*sql.DB, error) {
	db, err := sql.Open(d.SQLName, d.DSN(path, sync))
	if err != nil {
		return nil, fmt.Errorf("%s: open: %w", d.Name, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: ping: %w", d.Name, err)
	}
	return db, nil
}

// Settings are what a driver's connection reports of the settings that
// matter, read back with PRAGMAs, and its SQLite version.
type Settings struct {
	SQLite      string
	JournalMode string
	Synchronous string
	BusyTimeout string
	CacheSize   string
}

// ReadSettings opens a database under dir with d at sync and reads its
// settings back, to show that every driver runs as the results say.
func (d Driver) ReadSettings(ctx context.Context, dir, sync string) (Settings, error) {
	db, err := d.Open(ctx, filepath.Join(dir, d.Name+"-settings.db"), sync)
	if err != nil {
		return Settings{}, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return Settings{}, err
	}
	defer conn.Close()
	var s Settings
	for _, q := range []struct {
		sql string
		dst *string
	}{
		{"SELECT sqlite_version()", &s.SQLite},
		{"PRAGMA journal_mode", &s.JournalMode},
		{"PRAGMA synchronous", &s.Synchronous},
		{"PRAGMA busy_timeout", &s.BusyTimeout},
		{"PRAGMA cache_size", &s.CacheSize},
	} {
		var v any
		if err := conn.QueryRowContext(ctx, q.sql).Scan(&v); err != nil {
			return s, fmt.Errorf("%s: %s: %w", d.Name, q.sql, err)
		}
		if b, ok := v.([]byte); ok {
			v = string(b)
		}
		*q.dst = fmt.Sprint(v)
	}
	if n := s.Synchronous; n == "1" || n == "2" {
		s.Synchronous = map[string]string{"1": "NORMAL", "2": "FULL"}[n]
	}
	return s, nil
}
