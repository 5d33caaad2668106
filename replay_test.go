package libsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/golibsql/libsql/internal/capi"
)

// dumpTables renders every row of every table of db, sorted, table by
// table; rowids only where they are the row's identity (no primary key).
func dumpTables(t *testing.T, db *sql.DB) string {
	t.Helper()
	var names []string
	rows, err := db.Query("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT IN ('sqlite_sequence') ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	rows.Close()
	var out strings.Builder
	for _, n := range names {
		q := "SELECT * FROM " + quoteIdent(n)
		if n == "norow" {
			q = "SELECT rowid, * FROM norow"
		}
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		var lines []string
		for rows.Next() {
			vals := scanAnyRow(t, rows, len(cols))
			lines = append(lines, fmt.Sprintf("%T%v", vals, vals))
		}
		rows.Close()
		slices.Sort(lines)
		fmt.Fprintf(&out, "%s:\n  %s\n", n, strings.Join(lines, "\n  "))
	}
	return out.String()
}

// TestRebaseMatchesSerialExecution runs random transactions over every
// kind of table as BEGIN CONCURRENT transactions that must be rebased (a
// commit on another table allocated pages meanwhile), and the same
// transactions serially after that commit on a twin database: the two
// databases must end alike. The rebase replays with its own statements,
// inside a savepoint where foreign keys are enforced, and with
// sqlite3changeset_apply where they are enforced and one has an action;
// with a change stream open the changes come from CDC's capture, otherwise
// from the compact one.
func TestRebaseMatchesSerialExecution(t *testing.T) {
	for _, tc := range []struct{ fk, action, stream bool }{{false, false, false}, {true, false, false}, {true, true, false}, {false, false, true}} {
		t.Run(fmt.Sprintf("foreign_keys=%v/action=%v/stream=%v", tc.fk, tc.action, tc.stream), func(t *testing.T) {
			stmts := randomStatements("ANALYZE ipk", true)
			seeds := 15
			if soak() {
				seeds = 500
			}
			for seed := range seeds {
				// A subtest per seed, so that its two databases (and their
				// engines' page caches) close before the next seed opens two more.
				t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
					dsn := fmt.Sprintf("sync=off&foreign_keys=%v", tc.fk)
					conc, serial := openTestDB(t, dsn), openTestDB(t, dsn)
					for _, db := range []*sql.DB{conc, serial} {
						setupRandomTables(t, db)
						fkc := "CREATE TABLE fkc(id INTEGER PRIMARY KEY, tid REFERENCES tlog(id))"
						if tc.action {
							fkc = "CREATE TABLE fkc(id INTEGER PRIMARY KEY, tid REFERENCES tlog(id) ON DELETE CASCADE)"
						}
						mustExec(t, db, "CREATE TABLE pad(b); CREATE TABLE other(b); "+fkc+"; ANALYZE")
					}
					if tc.stream {
						// A subscriber: the transaction captures its changes
						// for CDC, and the rebase reads them from there.
						stream(t, conc, ChangeOptions{})
					}
					r := rand.New(rand.NewPCG(uint64(seed), 11))
					var script []string
					var args [][]any
					for range 1 + r.IntN(25) {
						q, a := stmts[r.IntN(len(stmts))](r)
						script, args = append(script, q), append(args, a)
					}
					run := func(c *sql.Conn, begin string) []string {
						var outcome []string
						cexec(t, c, begin)
						for i, q := range script {
							_, err := c.ExecContext(context.Background(), q, args[i]...)
							outcome = append(outcome, fmt.Sprint(q, args[i], " -> ", err))
						}
						cexec(t, c, "INSERT INTO pad VALUES (zeroblob(50000))")
						return outcome
					}
					c1 := dbConn(t, conc)
					concOutcome := run(c1, "BEGIN CONCURRENT")
					mustExec(t, conc, "INSERT INTO other VALUES (zeroblob(50000))")
					if _, err := c1.ExecContext(context.Background(), "COMMIT"); err != nil {
						t.Fatalf("seed %d: COMMIT: %v\nscript:\n  %s", seed, err, strings.Join(concOutcome, "\n  "))
					}
					if s := engineStats(t, conc); !strings.Contains(s, `"rebased":1`) {
						t.Fatalf("seed %d: not rebased: %s", seed, s)
					} else if tc.action && !strings.Contains(s, `"rebased_changeset":1`) {
						t.Fatalf("seed %d: a foreign key with an action, but not replayed by sqlite3changeset_apply: %s", seed, s)
					}
					mustExec(t, serial, "INSERT INTO other VALUES (zeroblob(50000))")
					c2 := dbConn(t, serial)
					serialOutcome := run(c2, "BEGIN")
					cexec(t, c2, "COMMIT")
					if !slices.Equal(concOutcome, serialOutcome) {
						t.Fatalf("seed %d: statements ran differently:\n  %s\nserially:\n  %s", seed, strings.Join(concOutcome, "\n  "), strings.Join(serialOutcome, "\n  "))
					}
					if got, want := dumpTables(t, conc), dumpTables(t, serial); got != want {
						t.Fatalf("seed %d: rebased database\n%s\nserial database\n%s\nscript:\n  %s", seed, got, want, strings.Join(concOutcome, "\n  "))
					}
					c1.Close()
					c2.Close()
				})
			}
		})
	}
}

// TestReplayConflicts checks the replay's own statements against rows
// changed after the transaction read them: each change must find its row
// as the transaction saw it, or the replay fails with a conflict naming
// the table.
func TestReplayConflicts(t *testing.T) {
	for _, tc := range []struct{ change, meanwhile string }{
		{"UPDATE t SET v = 'mine' WHERE id = 1", "UPDATE t SET v = 'theirs' WHERE id = 1"},
		{"UPDATE t SET v = 'mine' WHERE id = 1", "DELETE FROM t WHERE id = 1"},
		{"DELETE FROM t WHERE id = 1", "UPDATE t SET w = 'theirs' WHERE id = 1"},
		{"DELETE FROM t WHERE id = 1", "DELETE FROM t WHERE id = 1"},
		{"INSERT INTO t VALUES (3, 'mine', NULL)", "INSERT INTO t VALUES (3, 'theirs', NULL)"},
		{"INSERT INTO t VALUES (4, 'unique', NULL)", "INSERT INTO t VALUES (5, 'unique', NULL)"},
		{"INSERT INTO n VALUES ('mine')", "INSERT INTO n(rowid, v) VALUES (1, 'theirs')"},
		{"UPDATE n SET v = 'mine'", "UPDATE n SET v = 'theirs'"},
	} {
		t.Run(tc.change+" after "+tc.meanwhile, func(t *testing.T) {
			db := openTestDB(t, "")
			mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v UNIQUE, w); INSERT INTO t VALUES (1, 'a', 'b'), (2, 'c', NULL)")
			mustExec(t, db, "CREATE TABLE n(v)")
			if strings.HasPrefix(tc.change, "UPDATE n") {
				mustExec(t, db, "INSERT INTO n VALUES ('old')")
			}
			c := dbConn(t, db)
			err := c.Raw(func(dc any) error {
				cn, ctx := dc.(*conn), context.Background()
				if err := cn.beginConcurrent(ctx); err != nil {
					return err
				}
				if err := cn.execInternal(ctx, tc.change); err != nil {
					return err
				}
				groups, err := cn.netChanges(ctx)
				if err != nil {
					return err
				}
				if err := cn.rollbackConcurrent(ctx); err != nil {
					return err
				}
				if err := cn.execInternal(ctx, tc.meanwhile); err != nil {
					return err
				}
				if err := cn.execInternal(ctx, "BEGIN IMMEDIATE"); err != nil {
					return err
				}
				defer cn.execInternal(ctx, "ROLLBACK")
				return cn.replay(ctx, groups)
			})
			if !errors.Is(err, capi.ErrChangesetConflict) {
				t.Fatalf("replay = %v, want a conflict", err)
			}
			f := strings.Fields(tc.change)
			table := f[2]
			if f[0] == "UPDATE" {
				table = f[1]
			}
			if !strings.Contains(err.Error(), "on table "+table+" (") {
				t.Fatalf("conflict %q does not name table %s", err, table)
			}
		})
	}
}

// With foreign keys enforced and no foreign-key action in the schema, the
// replay runs its own statements, which check each key at once; when the
// order of its net changes (table by table) breaks a key that the
// transaction kept, it falls back to sqlite3changeset_apply, which checks
// them at the end. Either way the transaction commits as it ran.
func TestReplayForeignKeysEnforced(t *testing.T) {
	db := openTestDB(t, "foreign_keys=true")
	mustExec(t, db, "CREATE TABLE parent(id INTEGER PRIMARY KEY)")
	mustExec(t, db, "CREATE TABLE child(id INTEGER PRIMARY KEY, pid REFERENCES parent, x)")
	mustExec(t, db, "CREATE TABLE pad(b); CREATE TABLE other(b)")
	mustExec(t, db, "INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1, 1, 0)")
	for _, tc := range []struct {
		name  string
		stmts []string
	}{
		{"in order", []string{"INSERT INTO parent VALUES (2)", "INSERT INTO child VALUES (2, 2, 0)"}},
		// child is touched first, so its insert replays before the parent's.
		{"out of order", []string{"UPDATE child SET x = x + 1 WHERE id = 1", "INSERT INTO parent VALUES (3)", "INSERT INTO child VALUES (3, 3, 0)"}},
	} {
		c1 := dbConn(t, db)
		cexec(t, c1, "BEGIN CONCURRENT")
		for _, q := range tc.stmts {
			cexec(t, c1, q)
		}
		cexec(t, c1, "INSERT INTO pad VALUES (zeroblob(50000))")
		mustExec(t, db, "INSERT INTO other VALUES (zeroblob(50000))") // both allocate: a rebase
		if _, err := c1.ExecContext(context.Background(), "COMMIT"); err != nil {
			t.Fatalf("%s: COMMIT: %v", tc.name, err)
		}
		c1.Close()
	}
	// The first replayed with its own statements, the second fell back.
	if s := engineStats(t, db); !strings.Contains(s, `"rebased":2,"rebased_changeset":1`) {
		t.Fatalf("stats: %s", s)
	}
	if n := count(t, db, "SELECT count(*) FROM child JOIN parent ON parent.id = child.pid"); n != 3 {
		t.Fatalf("%d children with their parent, want 3", n)
	}
	if n := count(t, db, "SELECT count(*) FROM pragma_foreign_key_check"); n != 0 {
		t.Fatalf("%d foreign key violations", n)
	}
}
