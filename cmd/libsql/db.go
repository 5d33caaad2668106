package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/golibsql/libsql"
	iouringvfs "github.com/golibsql/libsql/iouring_vfs"
	"github.com/mattn/go-isatty"
)

// target is a DB argument: the DSN to open and how to name it in messages.
type target struct {
	dsn  string
	name string // the argument as given
	path string // the file path, when the argument was one; "" for a DSN
}

// parseTarget reads a DB argument: one starting with "file:" is a DSN and
// is used as it is; anything else is a file path, made into "file:" +
// path with the characters a file: URI gives a meaning to (%, ?, #)
// escaped. On POSIX, leading slashes are made one: "//dir/x.db" names the
// same file as "/dir/x.db", but in a file: URI "//dir" is an authority
// (and the driver, given an empty one, "file:////dir/x.db", opens
// "//dir/x.db" as "file://dir/x.db" again).
func parseTarget(arg string) (target, error) {
	if arg == "" {
		return target{}, errors.New("empty DB argument")
	}
	if strings.HasPrefix(arg, "file:") {
		return target{dsn: arg, name: arg}, nil
	}
	p := filepath.ToSlash(arg)
	if filepath.Separator == '/' && strings.HasPrefix(p, "//") { // not a Windows UNC path
		p = "/" + strings.TrimLeft(p, "/")
	}
	esc := strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(p)
	return target{dsn: "file:" + esc, name: arg, path: arg}, nil
}

// hasKey reports whether t is a DSN that sets key ("mode", ...) in its
// query.
func (t target) hasKey(key string) bool {
	if t.path != "" {
		return false
	}
	dsn, _, _ := strings.Cut(t.dsn, "#")
	_, query, _ := strings.Cut(dsn, "?")
	for _, kv := range strings.Split(query, "&") {
		k, _, _ := strings.Cut(kv, "=")
		if k, err := url.QueryUnescape(k); err == nil && k == key {
			return true
		}
	}
	return false
}

// mustExist fails with a clear message when t is a file path that does not
// exist (the driver would create it, or say only "unable to open").
func (t target) mustExist() error {
	if t.path == "" {
		return nil
	}
	fi, err := os.Stat(t.path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: no such database file", t.path)
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s: is a directory, not a database file", t.path)
	}
	return nil
}

// open opens t and checks that the database can be read now, so that a
// database owned by another process, a bad DSN or a file that is not a
// database are reported here, clearly, rather than by the first query.
func (t target) open(ctx context.Context, opts ...libsql.Option) (*sql.DB, error) {
	db, err := libsql.Open(t.dsn, opts...)
	if err != nil {
		return nil, t.explain(err)
	}
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
		db.Close()
		return nil, t.explain(err)
	}
	return db, nil
}

// explain turns an error of opening or reading t into a message that
// names t and, for a lock, says what to do.
func (t target) explain(err error) error {
	msg := strings.TrimPrefix(err.Error(), "libsql: ")
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, libsql.ErrBusy):
		msg = "database is locked: another process has it open (a libsql database belongs to one process at a time; stop that process and retry)"
	}
	return &wrapped{t.name + ": " + msg, err}
}

// failOpen reports err, an error of opening the DB argument (t.open), and
// returns the exit status: 2 for a bad DSN (an unknown key, a bad value),
// which is a usage error like a bad flag value, 1 for the others.
func (c *command) failOpen(e *env, err error) int {
	if _, bad := errors.AsType[*libsql.DSNError](err); bad {
		return c.usageError(e, "%v", err)
	}
	return c.fail(e, err)
}

// wrapped is an error with a message of its own.
type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }

// engineStats reads PRAGMA libsql_stats, the storage engine's counters.
func engineStats(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (iouringvfs.Stats, error) {
	var s iouringvfs.Stats
	var js string
	if err := q.QueryRowContext(ctx, "PRAGMA "+iouringvfs.StatsPragma).Scan(&js); err != nil {
		return s, fmt.Errorf("PRAGMA %s: %w", iouringvfs.StatsPragma, err)
	}
	if err := json.Unmarshal([]byte(js), &s); err != nil {
		return s, fmt.Errorf("PRAGMA %s: %w", iouringvfs.StatsPragma, err)
	}
	return s, nil
}

// integrityCheck runs PRAGMA integrity_check and returns its lines ("ok"
// alone when the database is sound).
func integrityCheck(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		lines = append(lines, s)
	}
	return lines, rows.Err()
}

// hasTable reports whether the main database has a table of that name.
func hasTable(ctx context.Context, db *sql.DB, name string) (bool, error) {
	var n int
	err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?", name).Scan(&n)
	return n > 0, err
}

// isTerminal reports whether f is an *os.File open on a terminal: a
// character device that is not one (/dev/null) reads as a script.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && isatty.IsTerminal(file.Fd())
}

// tempDB makes a temporary directory and returns the path of a database
// file in it, for demo and bench, and the function that deletes the
// directory, or, if keep is set, says where the database is.
func tempDB(prefix, file string, w io.Writer) (path string, remove func(keep bool), err error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	path = filepath.Join(dir, file)
	return path, func(keep bool) {
		if keep {
			fmt.Fprintf(w, "database kept at %s\n", path)
			return
		}
		os.RemoveAll(dir)
	}, nil
}

// Names of the durable CDC log's tables (part of the file format; see the
// root package's cdc.go).
const (
	cdcTable      = "libsql_cdc"
	cdcStateTable = "libsql_cdc_state"
)
