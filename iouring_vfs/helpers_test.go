package iouringvfs

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/golibsql/libsql/internal/capi"
)

func init() {
	if _, err := Register(); err != nil {
		panic(err)
	}
}

// tconn is a raw SQLite connection through the VFS.
type tconn struct {
	*capi.Conn
	t    *testing.T
	file *File
}

// Close closes the connection and drops the reference to its file, which
// the cleanup registered by openConn would otherwise keep, with the engine
// and its page cache, until the test ends: 15 MB per iteration of the
// 500-iteration crash soak.
func (tc *tconn) Close() error {
	tc.file = nil
	return tc.Conn.Close()
}

// openConn opens path through the VFS with extra URI parameters, set up
// as the driver sets up its connections.
func openConn(t *testing.T, path, params string) *tconn {
	t.Helper()
	tc, err := openConnErr(t, path, params)
	if err != nil {
		t.Fatalf("open %s?%s: %v", path, params, err)
	}
	t.Cleanup(func() { tc.Close() })
	return tc
}

// openConnErr is openConn returning its error instead of failing the test
// (a crash or an injected fault may hit the open itself), and leaving the
// connection's close to the caller.
func openConnErr(t *testing.T, path, params string) (*tconn, error) {
	c, err := capi.Open("file:"+path+"?"+params, capi.OPEN_READWRITE|capi.OPEN_CREATE|capi.OPEN_URI, Name)
	if err != nil {
		return nil, err
	}
	tc := &tconn{Conn: c, t: t}
	tc.file = FileOf(c.FileHandle("main"))
	if tc.file == nil {
		c.Close()
		return nil, errors.New("the main database file is not the VFS's")
	}
	if err := tc.file.SetupJournal(c.Exec); err != nil {
		c.Close()
		return nil, err
	}
	tc.file.SetOwner(c)
	return tc, nil
}

func (c *tconn) exec(sql string) {
	c.t.Helper()
	if err := c.Exec(sql); err != nil {
		c.t.Fatalf("%s: %v", sql, err)
	}
}

func (c *tconn) tryExec(sql string) error { return c.Exec(sql) }

// int runs a query returning one integer.
func (c *tconn) int(sql string) int64 {
	c.t.Helper()
	s, _, err := c.Prepare(sql, 0)
	if err != nil {
		c.t.Fatalf("%s: %v", sql, err)
	}
	defer s.Finalize()
	row, err := s.Step()
	if err != nil || !row {
		c.t.Fatalf("%s: row=%v err=%v", sql, row, err)
	}
	return s.ColumnInt64(0)
}

// text runs a query returning one text value.
func (c *tconn) text(sql string) string {
	c.t.Helper()
	s, _, err := c.Prepare(sql, 0)
	if err != nil {
		c.t.Fatalf("%s: %v", sql, err)
	}
	defer s.Finalize()
	row, err := s.Step()
	if err != nil || !row {
		c.t.Fatalf("%s: row=%v err=%v", sql, row, err)
	}
	return s.ColumnText(0)
}

func dbPath(t *testing.T) string { return filepath.Join(t.TempDir(), "test.db") }

// intErr runs a query returning one integer, returning its error.
func (c *tconn) intErr(sql string) (int64, error) {
	s, _, err := c.Prepare(sql, 0)
	if err != nil {
		return 0, err
	}
	defer s.Finalize()
	row, err := s.Step()
	if err != nil {
		return 0, err
	}
	if !row {
		return 0, fmt.Errorf("%s: no row", sql)
	}
	return s.ColumnInt64(0), nil
}
