package libsql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/golibsql/libsql/internal/capi"
	"github.com/golibsql/libsql/iouring_vfs"
)

// Connector opens connections to one database with one parsed DSN. Use it
// with sql.OpenDB, or let [Open] do that.
type Connector struct {
	cfg    *config
	driver *Driver
	name   string // what sqlite3_open_v2 is given
	flags  int32
	vfs    string

	// keeper holds an in-memory database open for the connector's
	// lifetime, so it survives the pool closing all its connections.
	mu     sync.Mutex
	keeper *capi.Conn
	closed bool

	prune pruner // durable CDC retention

	releaseImage func() // forgets the WithImage image, if the VFS has not taken it
}

var _ driver.Connector = (*Connector)(nil)

// memorySeq numbers the private in-memory databases of ":memory:" DSNs.
var memorySeq atomic.Uint64

// NewConnector parses dsn, applies opts and returns a Connector. Nothing is
// opened until the first connection is needed.
//
// Every database, file or in-memory, is opened through the libsql VFS (the
// MVCC storage engine) unless WithVFS names another. ":memory:" gets a name
// of its own, unique in the process, so every connection of the pool sees
// the same database; "file:name?mode=memory" uses name, shared in the
// process; "file::memory:?cache=shared" is one database shared by every
// connector in the process that opens it, as in SQLite. The connector
// keeps an in-memory database alive until it is closed.
func NewConnector(dsn string, opts ...Option) (*Connector, error) {
	cfg, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	for _, o := range opts {
		if err := o(cfg); err != nil {
			return nil, err
		}
	}
	if err := cfg.resolve(); err != nil {
		return nil, err
	}
	c := &Connector{cfg: cfg, driver: &Driver{}, name: cfg.path, vfs: cfg.vfs}
	switch cfg.mode {
	case "ro":
		c.flags = capi.OPEN_READONLY
	case "rw":
		c.flags = capi.OPEN_READWRITE
	default:
		c.flags = capi.OPEN_READWRITE | capi.OPEN_CREATE
	}
	if cfg.memory && cfg.mode == "memory" {
		c.flags = capi.OPEN_READWRITE | capi.OPEN_CREATE
	}
	if cfg.libsqlVFS() {
		if _, err := iouringvfs.Register(); err != nil {
			return nil, fmt.Errorf("libsql: register the libsql VFS: %w", err)
		}
		c.vfs = iouringvfs.Name
		imageID := ""
		if cfg.image != nil {
			imageID, c.releaseImage = iouringvfs.RegisterImage(cfg.image)
			cfg.image = nil // the VFS holds it, until it takes it or Close releases it
		}
		c.name = vfsURI(cfg, imageID)
		c.flags |= capi.OPEN_URI
	} else if cfg.memory {
		// memdb shares a database between connections when its name starts
		// with "/"; every other name is private to one connection. Its
		// names are the process's, modernc.org/sqlite's "vfs=memdb" too,
		// so a DSN's name is kept as it is.
		c.vfs = "memdb"
		switch {
		case cfg.path == "" && cfg.cache == "shared":
			c.name = "/" + memdbReserved + "shared"
		case cfg.path == "":
			c.name = "/" + memdbReserved + strconv.FormatUint(memorySeq.Add(1), 10)
		case strings.HasPrefix(strings.TrimLeft(c.name, "/"), memdbReserved):
			return nil, &DSNError{Key: "mode", Value: "memory", Err: fmt.Errorf("in-memory database name %q: names beginning with %s are the driver's (:memory: and file::memory:?cache=shared)", cfg.path, memdbReserved)}
		case c.name[0] != '/':
			c.name = "/" + c.name
		}
	}
	// The connection is used by one goroutine at a time (database/sql's
	// contract), so SQLite's per-connection mutex is not needed.
	c.flags |= capi.OPEN_NOMUTEX
	return c, nil
}

// Driver returns the [Driver].
func (c *Connector) Driver() driver.Driver { return c.driver }

// Connect opens a connection and sets it up: busy timeout, PRAGMAs from the
// DSN, then the _pragma list. ctx bounds waits for locks during setup.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c.cfg.memory {
		if err := c.keepMemory(); err != nil {
			return nil, err
		}
	}
	cc, err := capi.Open(c.name, c.flags, c.vfs)
	if err != nil {
		return nil, convertError(err)
	}
	cc.KeepCacheAcrossSnapshots()
	conn := newConn(cc, c.cfg)
	if c.cfg.trace != nil {
		cc.SetTracer(tracer{c.cfg.trace, conn})
	}
	conn.origin = c
	if err := conn.setup(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	if err := conn.runConnectHooks(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	conn.applyLimits()
	if c.cfg.authorizer != nil {
		conn.setAuthorizer(c.cfg.authorizer)
	}
	c.startPruner()
	return conn, nil
}

// runConnectHooks runs the WithConnectHook functions on a new connection.
// A hook's panic is its error: the connect fails and the caller closes the
// connection, whose slot database/sql (or the pool) would lose otherwise.
func (c *conn) runConnectHooks(ctx context.Context) error {
	for i, fn := range c.cfg.connectHooks {
		nc := &Conn{c: c}
		err := func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = capi.PanicError("the hook", r)
				}
			}()
			return fn(ctx, nc)
		}()
		if nc.Closed() {
			return fmt.Errorf("libsql: connect hook %d closed the connection", i+1)
		}
		nc.closeRows("the end of the connect hook")
		if err != nil {
			return fmt.Errorf("libsql: connect hook %d: %w", i+1, err)
		}
		if nc.InTx() {
			return fmt.Errorf("libsql: connect hook %d left a transaction open", i+1)
		}
	}
	return nil
}

// vfsURI is the file: URI the libsql VFS opens a database by: the path,
// %-escaped where SQLite's URI parser needs it, and the engine's options as
// URI parameters.
func vfsURI(cfg *config, imageID string) string {
	path := filepath.ToSlash(cfg.path)
	q := iouringvfs.ParamSync + "=" + cfg.sync
	if cfg.io != "" {
		q += "&" + iouringvfs.ParamIO + "=" + cfg.io
	}
	if cfg.pageCache.set {
		q += "&" + iouringvfs.ParamPageCache + "=" + strconv.Itoa(cfg.pageCache.v)
	}
	if cfg.memory {
		path = "/libsql-memory/" + memoryName(cfg)
		q += "&" + iouringvfs.ParamMemory + "=1"
		if imageID != "" {
			q += "&" + iouringvfs.ParamImage + "=" + imageID
		}
	} else if len(path) >= 2 && path[1] == ':' {
		path = "/" + path // a Windows drive letter
	}
	var b strings.Builder
	b.WriteString("file:")
	if strings.HasPrefix(path, "//") {
		b.WriteString("//") // an empty authority: the path's own "//" is no host
	}
	for i := range len(path) {
		switch ch := path[i]; ch {
		case '%', '?', '#':
			fmt.Fprintf(&b, "%%%02X", ch)
		default:
			b.WriteByte(ch)
		}
	}
	return b.String() + "?" + q
}

// memdbReserved begins the memdb names of the in-memory databases the
// driver names itself, which no DSN may name.
const memdbReserved = "libsql.memory."

// memoryName returns the name the libsql VFS knows an in-memory database
// by, below /libsql-memory/: for file:name?mode=memory, "named." and the
// name with %, / and \ escaped, so that no name reaches another
// (the VFS resolves "." and ".." in it as in a path); for
// file::memory:?cache=shared, "shared", the process's one shared database;
// for ":memory:", a new name of its own.
func memoryName(cfg *config) string {
	switch {
	case cfg.path != "":
		return "named." + memoryNameEscaper.Replace(cfg.path)
	case cfg.cache == "shared":
		return "shared"
	}
	return "anonymous." + strconv.FormatUint(memorySeq.Add(1), 10)
}

var memoryNameEscaper = strings.NewReplacer("%", "%25", "/", "%2F", `\`, "%5C")

// keepMemory opens the keeper connection of an in-memory database.
func (c *Connector) keepMemory() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("libsql: connector is closed")
	}
	if c.keeper != nil {
		return nil
	}
	k, err := capi.Open(c.name, c.flags, c.vfs)
	if err != nil {
		return convertError(err)
	}
	c.keeper = k
	return nil
}

// Close releases what the connector holds: for an in-memory database, the
// database itself once its last connection closes. database/sql calls it
// from DB.Close.
func (c *Connector) Close() error {
	c.stopPruner()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.releaseImage != nil {
		c.releaseImage()
	}
	if c.keeper == nil {
		return nil
	}
	err := c.keeper.Close()
	c.keeper = nil
	return convertError(err)
}
