package libsql

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/golibsql/libsql/iouring_vfs"
)

// parseDSN reads a data source name:
//
//	path/to/file.db[?key=value&...]        a file path
//	file:path/to/file.db[?key=value&...]   a file: URI (RFC 8089; the path is %-decoded)
//	file:///abs/path.db, file://localhost/abs/path.db
//	:memory:, file::memory:                an in-memory database private to the connector
//	file::memory:?cache=shared             the process's one shared in-memory database
//	file:name?mode=memory                  an in-memory database shared by name in the process
//
// Keys are listed in the README and the package documentation; every key but
// _pragma may appear once. The result still needs resolve.
func parseDSN(dsn string) (*config, error) {
	c := defaultConfig()
	uri := strings.HasPrefix(dsn, "file:")
	if uri {
		// A fragment ends a URI; SQLite ignores it, so do we.
		dsn, _, _ = strings.Cut(dsn, "#")
	}
	path, query, _ := strings.Cut(dsn, "?")
	if uri {
		var err error
		if path, err = uriPath(strings.TrimPrefix(path, "file:")); err != nil {
			return nil, err
		}
	}
	if err := c.parseQuery(query); err != nil {
		return nil, err
	}
	c.path = path
	return c, nil
}

// uriPath returns the file path of the part of a file: URI after "file:".
func uriPath(rest string) (string, error) {
	if auth, ok := strings.CutPrefix(rest, "//"); ok {
		host, p, _ := strings.Cut(auth, "/")
		if host != "" && host != "localhost" {
			return "", fmt.Errorf("libsql: DSN file URI has authority %q: only empty or localhost is allowed", host)
		}
		rest = "/" + p
	}
	p, err := url.PathUnescape(rest)
	if err != nil {
		return "", fmt.Errorf("libsql: DSN file URI path %q: %w", rest, err)
	}
	// file:///C:/dir/x.db names C:/dir/x.db, as SQLite reads it on Windows.
	if len(p) >= 3 && p[0] == '/' && p[2] == ':' && isASCIILetter(p[1]) {
		p = p[1:]
	}
	return p, nil
}

// parseQuery applies key=value pairs separated by &, in order. Keys and
// values are %-decoded (and + is a space, as in HTML forms).
func (c *config) parseQuery(query string) error {
	seen := map[string]bool{}
	for query != "" {
		var kv string
		kv, query, _ = strings.Cut(query, "&")
		if kv == "" {
			continue
		}
		rk, rv, _ := strings.Cut(kv, "=")
		key, err := url.QueryUnescape(rk)
		if err != nil {
			return &DSNError{Key: rk, Value: rv, Err: errors.New("bad %-escape in key")}
		}
		value, err := url.QueryUnescape(rv)
		if err != nil {
			return &DSNError{Key: key, Value: rv, Err: errors.New("bad %-escape in value")}
		}
		if seen[key] && key != "_pragma" {
			return &DSNError{Key: key, Value: value, Err: errors.New("key given more than once")}
		}
		seen[key] = true
		if err := c.set(key, value); err != nil {
			return err
		}
	}
	return nil
}

// resolve checks the combination of settings once the DSN and the options
// are applied, and works out what kind of database the path names.
func (c *config) resolve() error {
	switch {
	case c.path == ":memory:" || (c.path == "" && c.mode == "memory"):
		c.memory, c.path = true, "" // a private name is chosen by the connector
	case c.mode == "memory":
		c.memory = true
	case c.path == "":
		return errors.New("libsql: DSN names no database: give a path, :memory: or file:name?mode=memory")
	}
	// cache=shared asks for what the driver does anyway, except that
	// ":memory:" then names the process's one shared in-memory database,
	// as in SQLite (see memoryName). A file's engine shares its page cache
	// between connections already; SQLite's shared-cache mode is not used.
	if c.memory && c.cache == "private" {
		return &DSNError{Key: "cache", Value: c.cache, Err: errors.New("the connections of one *sql.DB share its in-memory database here " +
			"(and file:name?mode=memory is shared by name in the process): no in-memory database is private to one connection; drop cache=private")}
	}
	if c.memory && c.vfs != "" && c.vfs != "memdb" {
		return fmt.Errorf("libsql: VFS %q cannot open an in-memory database", c.vfs)
	}
	if c.image != nil {
		switch {
		case !c.memory:
			return fmt.Errorf("libsql: WithImage: %q is a database file; an image starts an in-memory database (:memory: or file:name?mode=memory)", c.path)
		case !c.libsqlVFS():
			return fmt.Errorf("libsql: WithImage: the in-memory databases of VFS %q do not start from images", c.vfs)
		case c.path == "" && c.cache == "shared":
			return errors.New("libsql: WithImage: file::memory:?cache=shared is the process's one shared in-memory database, open to every connector: start a database of its own (:memory: or file:name?mode=memory) from the image")
		}
		if err := iouringvfs.CheckImage(c.image); err != nil {
			return fmt.Errorf("libsql: WithImage: %w", err)
		}
	}
	return nil
}

func isASCIILetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }
