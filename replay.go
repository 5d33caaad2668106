package libsql

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/golibsql/libsql/internal/capi"
)

// A rebase replays the net row changes (changeset.go) with the
// connection's own statements, prepared once per table and change shape
// and kept in the statement cache: sqlite3changeset_apply prepares its
// statements on every call and runs PRAGMA defer_foreign_keys, which
// expires every prepared statement of the connection, so that the
// application's next statements are compiled again.
//
// Each change checks what sqlite3changeset_apply checks, and any
// difference is a conflict that aborts the replay: a DELETE must find the
// row with every column as the transaction saw it, an UPDATE the row by
// its key with the changed columns as they were, an INSERT must violate no
// constraint (OR ABORT: a REPLACE clause in the schema would silently
// delete a row the transaction never saw).
//
// Where foreign keys are enforced and the schema has any, the replay
// falls back to sqlite3changeset_apply, whose deferred check accepts an
// order of changes that is only consistent at the end; so does a
// transaction that changed sqlite_stat1, which the changeset format keys
// differently.

// errNoReplay reports that the net changes are for sqlite3changeset_apply.
var errNoReplay = errors.New("libsql: rebase: replay with sqlite3changeset_apply")

// replay applies net changes with the connection's own statements, in a
// transaction the caller holds; any conflict returns an error wrapping
// capi.ErrChangesetConflict, after which the caller rolls back.
func (c *conn) replay(ctx context.Context, groups []*csGroup) error {
	if c.schemaFacts(ctx).fks {
		on, err := c.cc.DBConfigBool(capi.DBCONFIG_ENABLE_FKEY, -1)
		if err != nil || on {
			return errNoReplay
		}
	}
	for _, g := range groups {
		if g.t.stat1 || g.t.rowidName == "" && g.t.cols[0] < 0 {
			return errNoReplay
		}
	}
	var args []any
	for _, g := range groups {
		t := g.t
		for _, k := range g.keys {
			r := g.rows[k]
			var query string
			args = args[:0]
			switch {
			case !r.existed && r.exists:
				query, args = t.insertSQL(), append(args, r.cur...)
			case r.existed && !r.exists:
				query, args = t.deleteSQL(), append(args, r.old...)
			case r.existed && r.exists:
				query, args = t.updateSQL(r.old, r.cur, args)
				if query == "" {
					continue
				}
			default:
				continue
			}
			if err := c.replayOne(t, query, args); err != nil {
				return err
			}
		}
	}
	return nil
}

// replayOne runs one change's statement; a constraint failure, or a DELETE
// or UPDATE that changes no row, is a conflict.
func (c *conn) replayOne(t *csTable, query string, args []any) error {
	p, err := c.prepare(query)
	if err != nil {
		return fmt.Errorf("libsql: rebase: prepare %q: %w", query, convertError(err))
	}
	defer c.release(p)
	for i, v := range args {
		if err := c.bindValue(p.s, i+1, v); err != nil {
			return fmt.Errorf("libsql: rebase: bind %q: %w", query, convertError(err))
		}
	}
	if _, err := p.s.Step(); err != nil {
		var ce *capi.Error
		if errors.As(err, &ce) && ce.Code&0xff == capi.CONSTRAINT {
			return fmt.Errorf("%w on table %s (constraint failed: %s)", capi.ErrChangesetConflict, t.name, ce.Msg)
		}
		return convertError(err)
	}
	if !strings.HasPrefix(query, "INSERT") && c.cc.Changes() != 1 {
		return fmt.Errorf("%w on table %s (row not found or changed)", capi.ErrChangesetConflict, t.name)
	}
	return nil
}

// colName returns the name of changeset column i in SQL: the column's
// quoted name, or the rowid's.
func (t *csTable) colName(i int) string {
	if t.cols[i] < 0 {
		return t.rowidName
	}
	return t.names[i]
}

func (t *csTable) insertSQL() string {
	if t.insert == "" {
		var b strings.Builder
		b.WriteString("INSERT OR ABORT INTO main.")
		b.WriteString(quoteIdent(t.name))
		b.WriteString("(")
		for i := range t.cols {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(t.colName(i))
		}
		b.WriteString(") VALUES (")
		for i := range t.cols {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("?")
		}
		b.WriteString(")")
		t.insert = b.String()
	}
	return t.insert
}

func (t *csTable) deleteSQL() string {
	if t.delete == "" {
		var b strings.Builder
		b.WriteString("DELETE FROM main.")
		b.WriteString(quoteIdent(t.name))
		b.WriteString(" WHERE ")
		for i := range t.cols {
			if i > 0 {
				b.WriteString(" AND ")
			}
			t.writeMatch(&b, i)
		}
		t.delete = b.String()
	}
	return t.delete
}

// writeMatch writes the condition that column i holds the next parameter:
// = for a key column (a NULL key matches no row, as in the changeset's
// apply), IS for the others.
func (t *csTable) writeMatch(b *strings.Builder, i int) {
	b.WriteString(t.colName(i))
	if t.pk[i] != 0 {
		b.WriteString(" = ?")
	} else {
		b.WriteString(" IS ?")
	}
}

// updateSQL returns the UPDATE of the columns that differ between old and
// cur (none: "") and appends its arguments to args: the new values, the
// key, the old values.
func (t *csTable) updateSQL(old, cur []any, args []any) (string, []any) {
	var shape []byte
	for i := range t.cols {
		if t.pk[i] == 0 && !sameValue(old[i], cur[i]) {
			shape = strconv.AppendInt(shape, int64(i), 10)
			shape = append(shape, ',')
			args = append(args, cur[i])
		}
	}
	if len(shape) == 0 {
		return "", args
	}
	for i := range t.cols {
		if t.pk[i] != 0 {
			args = append(args, old[i])
		}
	}
	for i := range t.cols {
		if t.pk[i] == 0 && !sameValue(old[i], cur[i]) {
			args = append(args, old[i])
		}
	}
	if q, ok := t.updates[string(shape)]; ok {
		return q, args
	}
	var b strings.Builder
	b.WriteString("UPDATE OR ABORT main.")
	b.WriteString(quoteIdent(t.name))
	b.WriteString(" SET ")
	n := 0
	for i := range t.cols {
		if t.pk[i] == 0 && !sameValue(old[i], cur[i]) {
			if n > 0 {
				b.WriteString(", ")
			}
			b.WriteString(t.colName(i))
			b.WriteString(" = ?")
			n++
		}
	}
	b.WriteString(" WHERE ")
	n = 0
	for _, changed := range []bool{false, true} {
		for i := range t.cols {
			if changed && (t.pk[i] != 0 || sameValue(old[i], cur[i])) || !changed && t.pk[i] == 0 {
				continue
			}
			if n > 0 {
				b.WriteString(" AND ")
			}
			t.writeMatch(&b, i)
			n++
		}
	}
	if t.updates == nil {
		t.updates = map[string]string{}
	}
	q := b.String()
	t.updates[string(shape)] = q
	return q, args
}

// quoteIdent quotes an SQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
