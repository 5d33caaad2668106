package libsql

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"time"
)

// Option changes a setting of a [Connector] after its DSN is read; each
// mirrors a DSN key and is checked by the same rules, so an Option with a bad
// value fails NewConnector or Open with a *DSNError naming the key.
type Option func(*config) error

// WithMode sets how the database is opened, as the DSN key mode: "ro"
// (read-only), "rw" (read-write, must exist), "rwc" (read-write, created if
// missing; the default) or "memory" (the path names an in-memory database).
func WithMode(mode string) Option { return func(c *config) error { return c.set("mode", mode) } }

// WithSync sets the durability of commits, as the DSN key sync: "full" (the
// default), "normal" or "off".
func WithSync(mode string) Option { return func(c *config) error { return c.set("sync", mode) } }

// WithIO chooses the I/O backend, as the DSN key io: "uring" or
// "portable". It is validated now and takes effect with the project's VFS.
func WithIO(backend string) Option { return func(c *config) error { return c.set("io", backend) } }

// WithBusyTimeout sets how long a statement waits for a lock held by
// another connection, as the DSN key busy_timeout ([DefaultBusyTimeout] if
// unset; 0 fails at once).
func WithBusyTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return &DSNError{Key: "busy_timeout", Value: d.String(), Err: errors.New("must not be negative")}
		}
		c.busyTimeout = d
		return nil
	}
}

// WithCacheSize sets PRAGMA cache_size on every connection, as the DSN key
// cache_size: a number of pages, or a negative number of KiB.
func WithCacheSize(n int64) Option {
	return func(c *config) error { return c.set("cache_size", strconv.FormatInt(n, 10)) }
}

// WithForeignKeys turns foreign-key enforcement on or off on every
// connection, as the DSN key foreign_keys (SQLite's default is off).
func WithForeignKeys(on bool) Option {
	return func(c *config) error { c.foreignKeys = some(on); return nil }
}

// WithTxLock sets what a transaction begun with the default isolation level
// does, as the DSN key _txlock: "deferred" (the default), "immediate",
// "exclusive" (BEGIN EXCLUSIVE: as IMMEDIATE, the writer lock from the
// start) or "concurrent".
func WithTxLock(mode string) Option {
	return func(c *config) error { return c.set("_txlock", mode) }
}

// WithTimeFormat sets how time.Time arguments are stored, as the DSN key
// _time_format.
func WithTimeFormat(format string) Option {
	return func(c *config) error { return c.set("_time_format", format) }
}

// WithPragma adds a PRAGMA run on every new connection after the driver's
// own settings, as the DSN key _pragma=name(value); an empty value runs
// "PRAGMA name".
func WithPragma(name, value string) Option {
	return func(c *config) error {
		v := name
		if value != "" {
			v = name + "(" + value + ")"
		}
		return c.set("_pragma", v)
	}
}

// WithCDC turns durable change data capture on or off, as the DSN key cdc:
// with it on, every transaction's row changes are stored in the same
// commit, so that change streams resume after a restart (see Changes).
func WithCDC(on bool) Option {
	return func(c *config) error { c.cdc, c.cdcOff = on, !on; return nil }
}

// WithCDCRetention prunes stored changes older than d, as the DSN key
// cdc_retention (0: keep them).
func WithCDCRetention(d time.Duration) Option {
	return func(c *config) error { return c.set("cdc_retention", d.String()) }
}

// WithCDCMax keeps at most n stored transactions, as the DSN key cdc_max
// (0: no limit).
func WithCDCMax(n int) Option {
	return func(c *config) error { return c.set("cdc_max", strconv.Itoa(n)) }
}

// WithPageCache sizes the storage engine's page cache, shared by every
// connection to the database, in pages, as the DSN key page_cache. The
// first connection to a database in the process decides.
func WithPageCache(pages int) Option {
	return func(c *config) error { return c.set("page_cache", strconv.Itoa(pages)) }
}

// WithMaxConns caps the pool's open connections, as the DSN key max_conns
// (0: no cap). Pool settings are applied by [Open].
func WithMaxConns(n int) Option {
	return func(c *config) error { return c.set("max_conns", strconv.Itoa(n)) }
}

// WithIdleTimeout closes connections idle for longer than d, as the DSN key
// idle_timeout. Applied by [Open].
func WithIdleTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return &DSNError{Key: "idle_timeout", Value: d.String(), Err: errors.New("must not be negative")}
		}
		c.idleTimeout = some(d)
		return nil
	}
}

// WithConnLifetime closes connections older than d, as the DSN key
// conn_lifetime. Applied by [Open].
func WithConnLifetime(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return &DSNError{Key: "conn_lifetime", Value: d.String(), Err: errors.New("must not be negative")}
		}
		c.connLifetime = some(d)
		return nil
	}
}

// WithStatementCacheSize sets how many prepared statements each connection
// keeps for reuse ([DefaultStatementCacheSize] if unset; 0 turns the cache
// off). It has no DSN key.
func WithStatementCacheSize(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return &DSNError{Key: "WithStatementCacheSize", Value: strconv.Itoa(n), Err: errors.New("must not be negative")}
		}
		c.stmtCacheSize = n
		return nil
	}
}

// WithImage starts the in-memory database of the DSN (":memory:" or
// "file:name?mode=memory") from image, the bytes of a database file in
// SQLite's format, such as [Conn.Serialize] returns or a file embedded with
// go:embed holds: the connector's first connection creates the database
// with image's contents, and the connections after it share that database
// and its changes, which never reach image (WithImage copies it). A named
// database that is open already, not from this image, fails the open.
// Open and NewConnector check the image (a header, a page size, a whole
// number of pages), and refuse a DSN that is no in-memory database of the
// storage engine; SQLite checks the rest as it reads.
func WithImage(image []byte) Option {
	return func(c *config) error {
		if image == nil {
			return errors.New("libsql: WithImage: the image is nil")
		}
		c.image = bytes.Clone(image)
		return nil
	}
}

// WithVFS opens file databases through the named, registered SQLite VFS
// instead of the default one. It has no DSN key: the project's own VFS is
// chosen by the driver.
func WithVFS(name string) Option {
	return func(c *config) error { c.vfs = name; return nil }
}

// WithConnectHook runs fn on every connection the connector opens, through
// database/sql or as a native [Conn], after the driver's own setup (busy
// timeout, the DSN's PRAGMAs, Go functions) and before the connection is
// used: for SQL that sets a connection up, such as ATTACH, TEMP tables and
// views, or a PRAGMA whose argument _pragma cannot spell. Hooks run in the
// order given. ctx is the context of the connect. An error fails the
// connect, wrapped (errors.Is finds it), and closes the connection. fn
// must not keep c, and must leave no transaction open: one left open fails
// the connect; rows left open are closed.
func WithConnectHook(fn func(ctx context.Context, c *Conn) error) Option {
	return func(c *config) error {
		if fn == nil {
			return errors.New("libsql: WithConnectHook: the function is nil")
		}
		c.connectHooks = append(c.connectHooks, fn)
		return nil
	}
}
