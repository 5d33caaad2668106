package libsql

import (
	"context"
	"database/sql"
	"database/sql/driver"
)

// DriverName is the name the driver registers with database/sql at
// initialisation. Change it at build time with
// -ldflags '-X github.com/golibsql/libsql.DriverName=othername'; an empty
// name skips registration.
var DriverName = "libsql"

func init() {
	if DriverName != "" {
		sql.Register(DriverName, &Driver{})
	}
}

// Driver is the database/sql driver. database/sql uses it through
// [Driver.OpenConnector], so that every connection of an *sql.DB shares one
// parsed DSN (and, for in-memory databases, one database).
type Driver struct{}

var (
	_ driver.Driver        = (*Driver)(nil)
	_ driver.DriverContext = (*Driver)(nil)
)

// Open opens one connection. Each call parses dsn again and, for
// ":memory:", opens a database of its own; database/sql calls
// OpenConnector instead.
func (d *Driver) Open(dsn string) (driver.Conn, error) {
	c, err := NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	c.driver = d
	dc, err := c.Connect(context.Background())
	if err != nil {
		c.Close()
		return nil, err
	}
	dc.(*conn).connector = c // the connection owns the connector's keeper
	return dc, nil
}

// OpenConnector parses dsn and returns a [Connector] for it.
func (d *Driver) OpenConnector(dsn string) (driver.Connector, error) {
	c, err := NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	c.driver = d
	return c, nil
}

// Open returns an *sql.DB for dsn with the options applied, including the
// pool settings (max_conns, idle_timeout, conn_lifetime) that sql.Open
// cannot apply. With max_conns set above 0, that many connections are also
// kept idle. Closing the DB closes the connector.
func Open(dsn string, opts ...Option) (*sql.DB, error) {
	c, err := NewConnector(dsn, opts...)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(c)
	cfg := c.cfg
	if cfg.maxConns.set {
		db.SetMaxOpenConns(cfg.maxConns.v)
		if cfg.maxConns.v > 0 {
			db.SetMaxIdleConns(cfg.maxConns.v)
		}
	}
	if cfg.idleTimeout.set {
		db.SetConnMaxIdleTime(cfg.idleTimeout.v)
	}
	if cfg.connLifetime.set {
		db.SetConnMaxLifetime(cfg.connLifetime.v)
	}
	return db, nil
}
