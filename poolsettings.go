package libsql

import "time"

// PoolSettings are the pool keys of a connector's DSN and options
// (max_conns, idle_timeout, conn_lifetime): they configure a pool of
// connections, not a connection, so the connector only keeps them for the
// pool that opens through it. [Open] applies them to its *sql.DB, package
// pool to its Pool. A key that was not given is nil.
type PoolSettings struct {
	MaxConns     *int           // max_conns; 0 means no bound for database/sql, the default bound for package pool
	IdleTimeout  *time.Duration // idle_timeout; 0 means no limit
	ConnLifetime *time.Duration // conn_lifetime; 0 means no limit
}

// PoolSettings returns the pool keys c was made with.
func (c *Connector) PoolSettings() PoolSettings {
	var s PoolSettings
	if v := c.cfg.maxConns; v.set {
		s.MaxConns = &v.v
	}
	if v := c.cfg.idleTimeout; v.set {
		s.IdleTimeout = &v.v
	}
	if v := c.cfg.connLifetime; v.set {
		s.ConnLifetime = &v.v
	}
	return s
}
