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

// pragmaName recognizes a PRAGMA statement and returns what follows
// PRAGMA (trimmed, without a final semicolon) and the pragma's name
// without its schema.
func pragmaName(sql string) (rest, name string, ok bool) {
	lx := lexer{s: sql}
	if lx.keyword() != "PRAGMA" {
		return "", "", false
	}
	rest = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(sql[lx.pos:]), ";"))
	name, _ = pragmaParts(rest)
	if _, n, ok := strings.Cut(name, "."); ok {
		name = n
	}
	return rest, strings.TrimSpace(name), true
}

// enginePragma is how stock SQLite answers a PRAGMA that the engine
// answers through SQLITE_FCNTL_PRAGMA, whose answer SQLite returns as one
// text value in a column named after the value: the driver renames the
// column as stock SQLite names it and returns integers as integers, so
// that programs scanning by column name or into any see what they would
// with stock SQLite.
type enginePragma struct {
	col     string
	integer bool
}

var enginePragmas = map[string]enginePragma{
	"synchronous":        {"synchronous", true},
	"busy_timeout":       {"timeout", true},
	"wal_autocheckpoint": {"wal_autocheckpoint", true},
	"journal_size_limit": {"journal_size_limit", true},
	"journal_mode":       {"journal_mode", false},
	"locking_mode":       {"locking_mode", false},
	"libsql_stats":       {"libsql_stats", false},
}

// ownPragma is a PRAGMA the driver answers itself: wal_checkpoint (the
// statement queryCheckpoint runs), or one the engine answers (engine, if
// isEngine; see enginePragma).
type ownPragma struct {
	checkpoint string
	engine     enginePragma
	isEngine   bool
}

// ownPragmaOf recognizes, in one pass over query, a PRAGMA the driver
// answers itself on a connection of the engine (conn.QueryContext, Exec
// and prepared statements alike).
func (c *conn) ownPragmaOf(query string) (ownPragma, bool) {
	if c.file == nil {
		return ownPragma{}, false
	}
	rest, name, ok := pragmaName(query)
	if !ok {
		return ownPragma{}, false
	}
	if strings.EqualFold(name, "wal_checkpoint") {
		return ownPragma{checkpoint: "PRAGMA " + rest}, true
	}
	if strings.ContainsRune(rest, ';') {
		return ownPragma{}, false // a script runs as one
	}
	ep, ok := enginePragmas[strings.ToLower(name)]
	return ownPragma{engine: ep, isEngine: ok}, ok
}

// enginePragmaRows runs p, such a PRAGMA, and returns its answer (none,
// or one value) as stock SQLite would (see enginePragma).
func (c *conn) enginePragmaRows(ctx context.Context, p *prepared, ep enginePragma) (driver.Rows, error) {
	row, err := p.s.Step()
	var v driver.Value
	if err == nil && row {
		t := p.s.ColumnText(0)
		v = t
		if n, perr := strconv.ParseInt(t, 10, 64); perr == nil && ep.integer {
			v = n
		}
	}
	if rerr := p.s.Reset(); err == nil {
		err = rerr
	}
	if err != nil {
		return nil, c.mapErr(ctx, err)
	}
	r := &valueRows{cols: []string{ep.col}}
	if row {
		r.rows = [][]driver.Value{{v}}
	}
	return r, nil
}

// queryEnginePragma prepares and runs such a PRAGMA for the query call cl,
// which it ends.
func (c *conn) queryEnginePragma(ctx context.Context, cl call, query string, ep enginePragma) (driver.Rows, error) {
	defer c.leave(cl)
	p, err := c.prepareUser(query)
	if err != nil {
		return nil, c.mapErr(ctx, err)
	}
	defer c.release(p)
	return c.enginePragmaRows(ctx, p, ep)
}

// pragmaParts splits what follows PRAGMA into the [schema.]name and the
// argument, "(mode)" or "=mode" ("" if none).
func pragmaParts(rest string) (name, arg string) {
	if i := strings.IndexAny(rest, "(="); i >= 0 {
		return strings.TrimSpace(rest[:i]), rest[i:]
	}
	return rest, ""
}

// queryCheckpoint runs PRAGMA wal_checkpoint (as ownPragmaOf returned
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
	p, err := c.prepareUser(query)
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
