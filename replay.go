package libsql

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
// Where foreign keys are enforced, the statements check each key at once,
// while the net changes come table by table, not in the order the
// transaction made them: a key the transaction kept can break in between.
// The replay runs inside a savepoint, and such a failure, or a deferred
// key left broken at its end, rolls it back and falls back to
// sqlite3changeset_apply, whose deferred check accepts an order that is
// only consistent at the end. The fallback is
// taken at once where a foreign key has an action (switching actions off
// expires every statement anyway) and for a transaction that changed
// sqlite_stat1, which the changeset format keys differently.

// errNoReplay reports that the net changes are for sqlite3changeset_apply.
var errNoReplay = errors.New("libsql: rebase: replay with sqlite3changeset_apply")

// replay applies net changes with the connection's own statements, in a
// transaction the caller holds; any conflict returns an error wrapping
// capi.ErrChangesetConflict, after which the caller rolls back.
func (c *conn) replay(ctx context.Context, groups []*csGroup) error {
	fks := false
	if facts := c.schemaFacts(ctx); facts.fks {
		on, err := c.cc.DBConfigBool(capi.DBCONFIG_ENABLE_FKEY, -1)
		if err != nil || on && facts.fkActions {
			return errNoReplay
		}
		fks = on
	}
	for _, g := range groups {
		if g.t.stat1 || g.t.rowidName == "" && g.t.cols[0] < 0 {
			return errNoReplay
		}
	}
	if err := c.execInternal(ctx, "SAVEPOINT libsql_replay"); err != nil {
		return err
	}
	err := c.replayAll(ctx, groups)
	if errors.Is(err, errUniqueOrder) {
		if err = c.execInternal(ctx, "ROLLBACK TO libsql_replay"); err == nil {
			err = c.replaySplit(ctx, groups)
		}
	}
	if fks && err == nil {
		// A deferred key the replay left broken that the transaction did
		// not (replaySplit inserting again a row whose parent was already
		// missing, where the UPDATE never looked) would fail the COMMIT.
		if broken, ferr := c.cc.DeferredForeignKeys(); ferr != nil {
			err = c.mapErr(ctx, ferr)
		} else if broken {
			err = errKeyOrder
		}
	}
	if fks && errors.Is(err, errKeyOrder) {
		if err := c.execInternal(ctx, "ROLLBACK TO libsql_replay"); err != nil {
			return err
		}
		err = errNoReplay
	}
	if rerr := c.execInternal(ctx, "RELEASE libsql_replay"); rerr != nil {
		return rerr
	}
	return err
}

// errKeyOrder reports that a replayed change broke a foreign key.
var errKeyOrder = errors.New("libsql: rebase: a foreign key broke in the replay's order")

// errUniqueOrder reports that a replayed change broke a UNIQUE index or
// the primary key. The rows the transaction changed are as its snapshot
// had them (a commit since that changed one changed a page the
// transaction read, a conflict found before the replay), so this is the
// replay's order, row by row as the transaction first touched them, not
// the transaction's: a row given the key another row gives up later in
// that order (keys swapped, a chain of renames, an INSERT OR REPLACE that
// deleted the row holding its key).
var errUniqueOrder = errors.New("libsql: rebase: a unique key broke in the replay's order")

// replayAll runs the statement of every net change.
func (c *conn) replayAll(ctx context.Context, groups []*csGroup) error {
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
			if err := c.replayOne(ctx, t, query, args, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// replaySplit replays the net changes after errUniqueOrder: first every
// row the transaction deleted or updated is deleted, as it was, then every
// row it inserted or updated is inserted, as it is, so that no key is
// still held when it is given again. With triggers and foreign-key
// actions off, an update done so leaves the table as the UPDATE would.
func (c *conn) replaySplit(ctx context.Context, groups []*csGroup) error {
	for _, deletes := range []bool{true, false} {
		for _, g := range groups {
			t := g.t
			for _, k := range g.keys {
				r := g.rows[k]
				if r.existed && r.exists && slices.EqualFunc(r.old, r.cur, sameValue) {
					continue
				}
				var err error
				switch {
				case deletes && r.existed:
					err = c.replayOne(ctx, t, t.deleteSQL(), r.old, false)
				case !deletes && r.exists && r.existed && t.keyedRowid:
					// An UPDATE keeps the rowid, which the INSERT would not.
					err = c.replayOne(ctx, t, t.insertRowidSQL(), append([]any{r.rowid}, r.cur...), false)
				case !deletes && r.exists:
					err = c.replayOne(ctx, t, t.insertSQL(), r.cur, false)
				}
				if err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// replayOne runs one change's statement; a constraint failure, or a DELETE
// or UPDATE that changes no row, is a conflict, but for a broken foreign
// key (errKeyOrder) and, where ordered, a broken unique key
// (errUniqueOrder): the replay's order may be the cause.
func (c *conn) replayOne(ctx context.Context, t *csTable, query string, args []any, ordered bool) error {
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
		if errors.As(err, &ce) && ce.Code == capi.CONSTRAINT_FOREIGNKEY {
			return errKeyOrder
		}
		if ordered && errors.As(err, &ce) && (ce.Code == capi.CONSTRAINT_UNIQUE || ce.Code == capi.CONSTRAINT_PRIMARYKEY) {
			return errUniqueOrder
		}
		if errors.As(err, &ce) && ce.Code&0xff == capi.CONSTRAINT {
			return fmt.Errorf("%w on table %s (constraint failed: %s)", capi.ErrChangesetConflict, t.name, ce.Msg)
		}
		return c.mapErr(ctx, err)
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

// insertSQL returns the INSERT of a row.
func (t *csTable) insertSQL() string {
	if t.insert == "" {
		names := make([]string, len(t.cols))
		for i := range t.cols {
			names[i] = t.colName(i)
		}
		t.insert = "INSERT OR ABORT INTO main." + quoteIdent(t.name) + "(" + strings.Join(names, ", ") +
			") VALUES (" + strings.Repeat(", ?", len(names))[2:] + ")"
	}
	return t.insert
}

// insertRowidSQL returns the INSERT of a row of a keyedRowid table with
// its rowid first. (Where the key is an INTEGER PRIMARY KEY, it and the
// rowid name the same column, given the same value.)
func (t *csTable) insertRowidSQL() string {
	if t.insertRowid == "" {
		names := []string{t.rowidName}
		for i := range t.cols {
			names = append(names, t.colName(i))
		}
		t.insertRowid = "INSERT OR ABORT INTO main." + quoteIdent(t.name) + "(" + strings.Join(names, ", ") +
			") VALUES (" + strings.Repeat(", ?", len(names))[2:] + ")"
	}
	return t.insertRowid
}

// deleteSQL returns the DELETE of a row with every column as given.
func (t *csTable) deleteSQL() string {
	if t.delete == "" {
		conds := make([]string, len(t.cols))
		for i := range t.cols {
			conds[i] = t.match(i)
		}
		t.delete = "DELETE FROM main." + quoteIdent(t.name) + " WHERE " + strings.Join(conds, " AND ")
	}
	return t.delete
}

// match returns the condition that column i holds the next parameter: =
// for a key column (a NULL key matches no row, as in the changeset's
// apply), IS for the others.
func (t *csTable) match(i int) string {
	if t.pk[i] != 0 {
		return t.colName(i) + " = ?"
	}
	return t.colName(i) + " IS ?"
}

// updateSQL returns the UPDATE of the columns that differ between old and
// cur ("" if none) and appends its arguments to args: the new values, the
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
	var sets, keys, olds []string
	for i := range t.cols {
		switch {
		case t.pk[i] != 0:
			keys = append(keys, t.match(i))
		case !sameValue(old[i], cur[i]):
			sets = append(sets, t.colName(i)+" = ?")
			olds = append(olds, t.match(i))
		}
	}
	q := "UPDATE OR ABORT main." + quoteIdent(t.name) + " SET " + strings.Join(sets, ", ") +
		" WHERE " + strings.Join(append(keys, olds...), " AND ")
	if t.updates == nil {
		t.updates = map[string]string{}
	}
	t.updates[string(shape)] = q
	return q, args
}

// quoteIdent quotes an SQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
