package libsql

import (
	"context"
	"database/sql/driver"
	"io"
	"strconv"
	"strings"
)

// PRAGMA wal_checkpoint reaches the storage engine through SQLite's
// SQLITE_FCNTL_PRAGMA, whose answer is a single text value; SQLite's own
// pragma answers a row of three integers (busy, log, checkpointed), which
// programs scan. The driver runs the pragma itself and answers that row.

// checkpointPragma recognizes PRAGMA [schema.]wal_checkpoint[(mode)] and
// returns the statement to run.
func checkpointPragma(sql string) (string, bool) {
	lx := lexer{s: sql}
	if lx.keyword() != "PRAGMA" {
		return "", false
	}
	rest := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(sql[lx.pos:]), ";"))
	name, _ := pragmaParts(rest)
	if _, n, ok := strings.Cut(name, "."); ok {
		name = n
	}
	if !strings.EqualFold(name, "wal_checkpoint") {
		return "", false
	}
	return "PRAGMA " + rest, true
}

// pragmaParts splits what follows PRAGMA into the [schema.]name and the
// argument, "(mode)" or "=mode" ("" if none).
func pragmaParts(rest string) (name, arg string) {
	if i := strings.IndexAny(rest, "(="); i >= 0 {
		return strings.TrimSpace(rest[:i]), rest[i:]
	}
	return rest, ""
}

// checkpointQuery returns the statement to run for query if it is PRAGMA
// wal_checkpoint on a database of the engine, which the driver answers
// itself (conn.QueryContext and a prepared stmt's QueryContext alike).
func (c *conn) checkpointQuery(query string) (string, bool) {
	if c.file == nil {
		return "", false
	}
	return checkpointPragma(query)
}

// queryCheckpoint runs PRAGMA wal_checkpoint (as checkpointQuery returned
// it) for the query call cl, which it ends, and returns SQLite's row of
// three integers.
func (c *conn) queryCheckpoint(ctx context.Context, cl call, query string) (driver.Rows, error) {
	vals, err := c.runCheckpoint(ctx, query)
	c.leave(cl)
	if err != nil {
		return nil, err
	}
	return &valueRows{cols: []string{"busy", "log", "checkpointed"}, rows: [][]driver.Value{vals}}, nil
}

// runCheckpoint runs the pragma and parses the engine's "busy|log|done".
// Without a schema it checkpoints every attached database too, as SQLite
// does (its row is then main's, with busy set if any was busy).
func (c *conn) runCheckpoint(ctx context.Context, query string) ([]driver.Value, error) {
	vals, err := c.checkpointOne(ctx, query)
	if err != nil {
		return nil, err
	}
	name, args := pragmaParts(strings.TrimPrefix(query, "PRAGMA "))
	if !strings.Contains(name, ".") {
		for _, schema := range c.attachedSchemas() {
			more, err := c.checkpointOne(ctx, `PRAGMA "`+strings.ReplaceAll(schema, `"`, `""`)+`".wal_checkpoint`+args)
			if err != nil {
				return nil, err
			}
			if more[0] != int64(0) {
				vals[0] = more[0]
			}
		}
	}
	if err := ctx.Err(); err != nil && vals[0] != int64(0) {
		return nil, err // the wait for the writer lock or for readers was cut short
	}
	return vals, nil
}

// checkpointOne runs PRAGMA wal_checkpoint on one database: the engine's
// answer is the text "busy|log|done", stock SQLite's (an attached database
// of another VFS) a row of three integers.
func (c *conn) checkpointOne(ctx context.Context, query string) ([]driver.Value, error) {
	p, err := c.prepare(query)
	if err != nil {
		return nil, c.mapErr(ctx, err)
	}
	defer c.release(p)
	row, err := p.s.Step()
	if err != nil {
		return nil, c.mapErr(ctx, err)
	}
	vals := []driver.Value{int64(0), int64(-1), int64(-1)}
	switch {
	case !row:
	case p.s.ColumnCount() >= 3:
		for i := range vals {
			vals[i] = p.s.ColumnInt64(i)
		}
	default:
		parts := strings.Split(p.s.ColumnText(0), "|")
		for i := 0; i < len(parts) && i < 3; i++ {
			if n, err := strconv.ParseInt(parts[i], 10, 64); err == nil {
				vals[i] = n
			}
		}
	}
	return vals, nil
}

// valueRows are rows held in memory.
type valueRows struct {
	cols []string
	rows [][]driver.Value
}

func (r *valueRows) Columns() []string { return r.cols }
func (r *valueRows) Close() error      { return nil }
func (r *valueRows) Next(dest []driver.Value) error {
	if len(r.rows) == 0 {
		return io.EOF
	}
	copy(dest, r.rows[0])
	r.rows = r.rows[1:]
	return nil
}
