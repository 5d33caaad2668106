package libsql

// Review 16: the split replay of a rebased BEGIN CONCURRENT transaction
// (replay.go replaySplit, commit 74ede42): when the row-by-row replay breaks
// a UNIQUE index or primary key, every deleted/updated row is deleted, then
// every inserted/updated row inserted. Each scenario runs c1's statements in
// BEGIN CONCURRENT (forced to rebase: c1 allocates pages, another
// connection commits an allocation in a table c1 never reads) and, in the
// same order, in a plain transaction on a reference database; the full
// contents of every table (rowids included, sqlite_sequence included),
// PRAGMA integrity_check and PRAGMA foreign_key_check must match. It found
// three differences, now fixed: a rowid moved in an AUTOINCREMENT table
// raised sqlite_sequence; the split gave rows of a rowid table with a
// declared primary key new rowids; and it inserted again a row whose
// deferred foreign key was already broken, failing the COMMIT.

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// r16Case is one scenario.
type r16Case struct {
	name   string
	dsn    string
	schema string // also run on the reference
	setup  string // rows before c1's snapshot
	stmts  []string
	// conflictOK: an ErrBusySnapshot of c1's COMMIT is an accepted outcome
	// (the reference database then stays as before c1).
	conflictOK bool
}

// r16Dump returns every table of main (rowid first where there is one),
// each value with its type, and sqlite_sequence; libsql_ tables are
// skipped.
func r16Dump(t *testing.T, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, withRowid bool) string {
	t.Helper()
	ctx := context.Background()
	rows, err := q.QueryContext(ctx, "SELECT name, wr FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'libsql%' AND name <> 'sqlite_schema' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	type tab struct {
		name string
		wr   bool
	}
	var tabs []tab
	for rows.Next() {
		var tb tab
		if err := rows.Scan(&tb.name, &tb.wr); err != nil {
			t.Fatal(err)
		}
		tabs = append(tabs, tb)
	}
	rows.Close()
	var out []string
	for _, tb := range tabs {
		sel := "SELECT * FROM " + quoteIdent(tb.name)
		if !tb.wr && withRowid && tb.name != "sqlite_sequence" {
			sel = "SELECT _rowid_, * FROM " + quoteIdent(tb.name)
		}
		rs, err := q.QueryContext(ctx, sel)
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		cols, _ := rs.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		var lines []string
		for rs.Next() {
			if err := rs.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, r16Row(vals))
		}
		if err := rs.Err(); err != nil {
			t.Fatal(err)
		}
		rs.Close()
		sort.Strings(lines)
		for _, l := range lines {
			out = append(out, tb.name+": "+l)
		}
	}
	return strings.Join(out, "\n")
}

// r16Row is r13Row with long values shortened to their length and hash.
func r16Row(vals []any) string {
	s := r13Row(vals)
	if len(s) <= 200 {
		return s
	}
	return fmt.Sprintf("%.60s...(%d chars, %x)", s, len(s), sha256.Sum256([]byte(s)))
}

// r16Diff lists the lines only in got and only in want.
func r16Diff(got, want string) string {
	g, w := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(got, "\n") {
		g[l] = true
	}
	for _, l := range strings.Split(want, "\n") {
		w[l] = true
	}
	var out []string
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			out = append(out, "  only got:  "+l)
		}
	}
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			out = append(out, "  only want: "+l)
		}
	}
	if len(out) > 30 {
		out = append(out[:30], fmt.Sprintf("  ... %d more", len(out)-30))
	}
	return strings.Join(out, "\n")
}

func r16Lines(t *testing.T, db *sql.DB, q string) string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		return "error: " + err.Error()
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out []string
	for rows.Next() {
		rows.Scan(ptrs...)
		out = append(out, r13Row(vals))
	}
	return strings.Join(out, "; ")
}

// r16Env is a database under test and its reference, with the schema, the
// setup and a table "other" that c2 writes.
type r16Env struct {
	t       *testing.T
	db, ref *sql.DB
	c1, r1  *sql.Conn
}

func r16Open(t *testing.T, tc r16Case) *r16Env {
	t.Helper()
	e := &r16Env{t: t}
	e.db = openTestDB(t, tc.dsn)
	e.ref = openTestDB(t, tc.dsn)
	for _, d := range []*sql.DB{e.db, e.ref} {
		mustExec(t, d, "CREATE TABLE other(id INTEGER PRIMARY KEY, v BLOB); CREATE TABLE pad(id INTEGER PRIMARY KEY, v BLOB)")
		mustExec(t, d, tc.schema)
		if tc.setup != "" {
			mustExec(t, d, tc.setup)
		}
	}
	e.c1, e.r1 = dbConn(t, e.db), dbConn(t, e.ref)
	return e
}

// r16Run runs the case: c1 in BEGIN CONCURRENT, rebased; the reference in
// BEGIN. It returns c1's COMMIT error (nil or an accepted conflict) and
// how long the COMMIT took.
func r16Run(t *testing.T, tc r16Case) (error, time.Duration) {
	t.Helper()
	e := r16Open(t, tc)
	ctx := context.Background()
	cexec(t, e.c1, "BEGIN CONCURRENT")
	cexec(t, e.r1, "BEGIN")
	for _, q := range tc.stmts {
		_, err := e.c1.ExecContext(ctx, q)
		_, rerr := e.r1.ExecContext(ctx, q)
		if (err == nil) != (rerr == nil) {
			t.Fatalf("%q: c1 error %v, reference %v", q, err, rerr)
		}
		if err != nil {
			t.Fatalf("%q: %v (the scenario must run)", q, err)
		}
	}
	for _, c := range []*sql.Conn{e.c1, e.r1} {
		cexec(t, c, "INSERT INTO pad(v) VALUES (zeroblob(20000))") // allocates: no merge
	}
	mustExec(t, e.db, "INSERT INTO other(v) VALUES (zeroblob(5000))")
	before := r14Stats(t, e.db)
	start := time.Now()
	_, err := e.c1.ExecContext(ctx, "COMMIT")
	took := time.Since(start)
	after := r14Stats(t, e.db)
	_, rerr := e.r1.ExecContext(ctx, "COMMIT")
	mustExec(t, e.ref, "INSERT INTO other(v) VALUES (zeroblob(5000))")
	if rerr != nil {
		t.Fatalf("reference COMMIT: %v", rerr)
	}
	t.Logf("rebased %d -> %d, changeset %d -> %d, commit took %v",
		r14Num(before, "rebased"), r14Num(after, "rebased"), r14Num(before, "rebased_changeset"), r14Num(after, "rebased_changeset"), took)
	if err != nil {
		if tc.conflictOK && errors.Is(err, ErrBusySnapshot) {
			t.Logf("accepted conflict: %v", err)
			// Not applied: db must be as the reference before c1.
			return err, took
		}
		t.Fatalf("COMMIT: %v", err)
	}
	if r14Num(after, "rebased") != r14Num(before, "rebased")+1 {
		t.Fatalf("not rebased: stats %v -> %v", before, after)
	}
	got, want := r16Dump(t, e.db, true), r16Dump(t, e.ref, true)
	if got != want {
		t.Fatalf("contents differ:\n%s", r16Diff(got, want))
	}
	for _, q := range []string{"PRAGMA integrity_check", "PRAGMA foreign_key_check"} {
		if g, w := r16Lines(t, e.db, q), r16Lines(t, e.ref, q); g != w {
			t.Fatalf("%s: %s, reference %s", q, g, w)
		}
	}
	// The connection is usable afterwards and the database writable.
	mustExec(t, e.db, "INSERT INTO other(v) VALUES (1)")
	return nil, took
}

// rotate: the key swap of review 14 on table tab, rows with keys a and b
// (where clauses wa, wb), through a temporary key.
func r16Rotate(tab, col, wa, wb, ka, kb, tmp string) []string {
	return []string{
		fmt.Sprintf("UPDATE %s SET %s = %s WHERE %s", tab, col, tmp, wa),
		fmt.Sprintf("UPDATE %s SET %s = %s WHERE %s", tab, col, ka, wb),
		fmt.Sprintf("UPDATE %s SET %s = %s WHERE %s", tab, col, kb, wa),
	}
}

func r16RunAll(t *testing.T, cases []r16Case) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { r16Run(t, tc) })
	}
}

// TestReview16Tables: swaps forcing the split replay on tables of every
// kind.
func TestReview16Tables(t *testing.T) {
	r16RunAll(t, []r16Case{
		{
			name:   "without rowid composite pk, non-pk unique swap",
			schema: "CREATE TABLE t(a INT, b TEXT, k TEXT UNIQUE, v BLOB, PRIMARY KEY(a, b)) WITHOUT ROWID",
			setup:  "INSERT INTO t VALUES (1, 'x', 'a', x'01'), (1, 'y', 'b', x'02'), (2, 'x', 'c', NULL)",
			stmts: append(r16Rotate("t", "k", "a = 1 AND b = 'x'", "a = 1 AND b = 'y'", "'a'", "'b'", "'tmp'"),
				"UPDATE t SET v = x'ff' WHERE a = 2", "INSERT INTO t VALUES (3, 'z', 'tmp2', 1.5)"),
		},
		{
			name:   "without rowid pk swap between rows",
			schema: "CREATE TABLE t(a TEXT PRIMARY KEY, u INT UNIQUE, v TEXT) WITHOUT ROWID",
			setup:  "INSERT INTO t VALUES ('x', 1, 'vx'), ('y', 2, 'vy'), ('z', 3, 'vz')",
			stmts:  r16Rotate("t", "a", "a = 'x'", "a = 'y'", "'x'", "'y'", "'tmp'"),
		},
		{
			name:   "without rowid pk rotation of three",
			schema: "CREATE TABLE t(a INT, b INT, u TEXT UNIQUE, PRIMARY KEY(b, a)) WITHOUT ROWID",
			setup:  "INSERT INTO t VALUES (1, 1, 'p'), (2, 2, 'q'), (3, 3, 'r')",
			stmts: []string{
				"UPDATE t SET a = 9, b = 9 WHERE a = 1", "UPDATE t SET a = 1, b = 1 WHERE a = 2",
				"UPDATE t SET a = 2, b = 2 WHERE a = 3", "UPDATE t SET a = 3, b = 3 WHERE a = 9",
			},
		},
		{
			name:   "autoincrement",
			schema: "CREATE TABLE t(id INTEGER PRIMARY KEY AUTOINCREMENT, k TEXT UNIQUE, v)",
			setup:  "INSERT INTO t(k, v) VALUES ('a', 1), ('b', 2), ('c', 3), ('d', 4); DELETE FROM t WHERE id = 4",
			stmts: append(r16Rotate("t", "k", "id = 1", "id = 2", "'a'", "'b'", "'tmp'"),
				"INSERT INTO t(k, v) VALUES ('e', 5)", "DELETE FROM t WHERE id = 3"),
		},
		{
			name:   "autoincrement, rowid moved up",
			schema: "CREATE TABLE t(id INTEGER PRIMARY KEY AUTOINCREMENT, k TEXT UNIQUE, v)",
			setup:  "INSERT INTO t(k, v) VALUES ('a', 1), ('b', 2), ('c', 3)",
			stmts: append(r16Rotate("t", "k", "id = 1", "id = 2", "'a'", "'b'", "'tmp'"),
				"UPDATE t SET id = 100 WHERE id = 3"),
		},
		{
			name:   "autoincrement, rowid moved up, no swap (row-by-row replay)",
			schema: "CREATE TABLE t(id INTEGER PRIMARY KEY AUTOINCREMENT, k TEXT UNIQUE, v)",
			setup:  "INSERT INTO t(k, v) VALUES ('a', 1), ('b', 2), ('c', 3)",
			stmts:  []string{"UPDATE t SET id = 100 WHERE id = 3"},
		},
		{
			name:   "rowid table without declared pk",
			schema: "CREATE TABLE t(k TEXT UNIQUE, v)",
			setup:  "INSERT INTO t(rowid, k, v) VALUES (1, 'a', 1), (2, 'b', 2), (5, 'c', 3)",
			stmts: append(r16Rotate("t", "k", "rowid = 1", "rowid = 2", "'a'", "'b'", "'tmp'"),
				"INSERT INTO t(k, v) VALUES ('d', 4)", "UPDATE t SET rowid = 7 WHERE rowid = 5"),
		},
		{
			name:   "rowid table without declared pk, column named rowid",
			schema: "CREATE TABLE t(rowid TEXT, k TEXT UNIQUE)",
			setup:  "INSERT INTO t(_rowid_, rowid, k) VALUES (1, 'r1', 'a'), (2, 'r2', 'b')",
			stmts:  r16Rotate("t", "k", "_rowid_ = 1", "_rowid_ = 2", "'a'", "'b'", "'tmp'"),
		},
		{
			name:   "generated columns virtual and stored, unique on them",
			schema: "CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, gv TEXT AS (upper(k)) VIRTUAL UNIQUE, gs TEXT AS ('s' || k) STORED UNIQUE, n INT)",
			setup:  "INSERT INTO t(id, k, n) VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)",
			stmts: append(r16Rotate("t", "k", "id = 1", "id = 2", "'a'", "'b'", "'tmp'"),
				"INSERT INTO t(id, k, n) VALUES (4, 'd', 4)"),
		},
		{
			name: "defaults, not null, check",
			schema: `CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT NOT NULL UNIQUE, d TEXT DEFAULT 'dflt',
				n INT NOT NULL DEFAULT 7 CHECK (n > 0), c TEXT CHECK (c IS NULL OR c <> k), ts DEFAULT (42 + 1))`,
			setup: "INSERT INTO t(id, k) VALUES (1, 'a'), (2, 'b'); INSERT INTO t(id, k, c) VALUES (3, 'c', 'b')",
			stmts: append(r16Rotate("t", "k", "id = 1", "id = 2", "'a'", "'b'", "'tmp'"),
				"INSERT INTO t(id, k) VALUES (4, 'd')", "UPDATE t SET d = NULL, n = 9 WHERE id = 2"),
		},
		{
			name:   "collate nocase unique",
			schema: "CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT COLLATE NOCASE UNIQUE)",
			setup:  "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'C')",
			stmts: append(r16Rotate("t", "k", "id = 1", "id = 2", "'A'", "'B'", "'tmp'"),
				"UPDATE t SET k = 'c' WHERE id = 3"),
		},
		{
			name:   "collate nocase without rowid pk",
			schema: "CREATE TABLE t(k TEXT COLLATE NOCASE PRIMARY KEY, u INT UNIQUE) WITHOUT ROWID",
			setup:  "INSERT INTO t VALUES ('a', 1), ('b', 2)",
			stmts:  r16Rotate("t", "k", "u = 1", "u = 2", "'A'", "'B'", "'tmp'"),
		},
		{
			name:   "partial unique index",
			schema: "CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, active INT); CREATE UNIQUE INDEX t_k ON t(k) WHERE active",
			setup:  "INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 1), (3, 'a', 0), (4, 'b', 0)",
			stmts: append(r16Rotate("t", "k", "id = 1", "id = 2", "'a'", "'b'", "'tmp'"),
				"UPDATE t SET active = 0 WHERE id = 1", "UPDATE t SET active = 1, k = 'b' WHERE id = 3"),
		},
		{
			name: "unique indexes on expressions",
			schema: `CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, a INT, b INT);
				CREATE UNIQUE INDEX t_lk ON t(lower(k)); CREATE UNIQUE INDEX t_ab ON t(a + b)`,
			setup: "INSERT INTO t VALUES (1, 'A', 1, 1), (2, 'B', 2, 1), (3, 'C', 3, 3)",
			stmts: append(r16Rotate("t", "k", "id = 1", "id = 2", "'b'", "'a'", "'tmp'"),
				"UPDATE t SET a = 100 WHERE id = 1", "UPDATE t SET a = 1 WHERE id = 2", "UPDATE t SET a = 2 WHERE id = 1"),
		},
		{
			name: "several unique indexes on one table",
			schema: `CREATE TABLE t(id INTEGER PRIMARY KEY, k1 TEXT UNIQUE, k2 INT UNIQUE, k3 TEXT, k4 TEXT, UNIQUE (k3, k4));
				CREATE TABLE s(id INTEGER PRIMARY KEY, k TEXT UNIQUE)`,
			setup: "INSERT INTO t VALUES (1, 'a', 1, 'x', 'y'), (2, 'b', 2, 'x', 'z'), (3, 'c', 3, 'w', 'w'); INSERT INTO s VALUES (1, 'a'), (2, 'b')",
			stmts: []string{
				"UPDATE t SET k1 = 'tmp', k2 = -1, k4 = 'tmp' WHERE id = 1",
				"UPDATE t SET k1 = 'a', k2 = 1, k4 = 'y' WHERE id = 2",
				"UPDATE t SET k1 = 'b', k2 = 2, k4 = 'z' WHERE id = 1",
				"UPDATE s SET k = 'tmp' WHERE id = 2", "UPDATE s SET k = 'b' WHERE id = 1", "UPDATE s SET k = 'a' WHERE id = 2",
				"UPDATE t SET k2 = 30 WHERE id = 2", "UPDATE t SET k2 = 1 WHERE id = 3", "UPDATE t SET k2 = 3 WHERE id = 2",
			},
		},
		{
			name:   "blobs nulls reals, no affinity",
			schema: "CREATE TABLE t(id INTEGER PRIMARY KEY, k UNIQUE, r REAL UNIQUE, x BLOB, n INT)",
			setup: `INSERT INTO t VALUES (1, x'00', 1e308, x'', NULL), (2, x'', -0.0, NULL, 1.5), (3, NULL, NULL, 'text', 9223372036854775807),
				(4, NULL, 0.1, x'0102', -9223372036854775808), (5, 1, 2.0, 1, 1.0), (6, '1', 3, 1.0, 2)`,
			stmts: append(append(r16Rotate("t", "k", "id = 1", "id = 2", "x'00'", "x''", "'tmp'"),
				r16Rotate("t", "r", "id = 1", "id = 4", "1e308", "0.1", "NULL")...),
				"UPDATE t SET k = 2.5 WHERE id = 5", "UPDATE t SET k = 1.0 WHERE id = 6", "UPDATE t SET k = 2 WHERE id = 5",
				"UPDATE t SET x = 1.0 WHERE id = 5", "UPDATE t SET x = 1 WHERE id = 6"),
		},
		{
			name:   "real unique keys equal to integers, no affinity",
			schema: "CREATE TABLE t(id INTEGER PRIMARY KEY, k UNIQUE)",
			setup:  "INSERT INTO t VALUES (1, 1), (2, 2.0), (3, 'x')",
			stmts:  r16Rotate("t", "k", "id = 1", "id = 2", "1", "2.0", "0"),
		},
		{
			name:   "delete and reinsert taking keys, update of an untouched key",
			schema: "CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT UNIQUE, v)",
			setup:  "INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)",
			stmts: []string{
				"INSERT INTO t VALUES (4, 'tmp', 4)", "DELETE FROM t WHERE id = 1", "UPDATE t SET k = 'a' WHERE id = 2",
				"UPDATE t SET k = 'b' WHERE id = 4", "UPDATE t SET v = 30 WHERE id = 3", "INSERT INTO t VALUES (1, 'z', 0)",
			},
		},
	})
}

// TestReview16RowidTableDeclaredPK: a rowid table whose declared primary
// key is not the rowid: the replay keys rows by the declared key, and the
// split path's DELETE + INSERT must keep their rowids, as the serial
// UPDATE does (it gave them new ones).
func TestReview16RowidTableDeclaredPK(t *testing.T) {
	for _, tc := range []r16Case{
		{
			name:   "text pk, swap of unique column",
			schema: "CREATE TABLE t(name TEXT PRIMARY KEY, k TEXT UNIQUE, v)",
			setup:  "INSERT INTO t VALUES ('n1', 'a', 1), ('n2', 'b', 2), ('n3', 'c', 3)",
			stmts:  r16Rotate("t", "k", "name = 'n1'", "name = 'n2'", "'a'", "'b'", "'tmp'"),
		},
		{
			name:   "integer primary key desc (not a rowid alias)",
			schema: "CREATE TABLE t(id INTEGER PRIMARY KEY DESC, k TEXT UNIQUE)",
			setup:  "INSERT INTO t VALUES (10, 'a'), (20, 'b'), (30, 'c')",
			stmts:  r16Rotate("t", "k", "id = 10", "id = 20", "'a'", "'b'", "'tmp'"),
		},
	} {
		t.Run(tc.name, func(t *testing.T) { r16Run(t, tc) })
	}
}

// TestReview16ForeignKeys: parents whose unique key is swapped while
// children reference them.
func TestReview16ForeignKeys(t *testing.T) {
	const parent = "CREATE TABLE p(id INTEGER PRIMARY KEY, k TEXT UNIQUE, v);"
	const setup = "INSERT INTO p VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3); INSERT INTO ch VALUES (1, 'a'), (2, 'b'), (3, 'a'), (4, 'c');"
	r16RunAll(t, []r16Case{
		{
			name:   "deferred fk on the swapped key, children follow",
			dsn:    "foreign_keys=true",
			schema: parent + "CREATE TABLE ch(id INTEGER PRIMARY KEY, pk TEXT REFERENCES p(k) DEFERRABLE INITIALLY DEFERRED)",
			setup:  setup,
			stmts: append(r16Rotate("p", "k", "id = 1", "id = 2", "'a'", "'b'", "'tmp'"),
				"UPDATE ch SET pk = CASE pk WHEN 'a' THEN 'b' WHEN 'b' THEN 'a' ELSE pk END"),
		},
		{
			name:   "deferred fk on the swapped key, children stay (now on the other parent)",
			dsn:    "foreign_keys=true",
			schema: parent + "CREATE TABLE ch(id INTEGER PRIMARY KEY, pk TEXT REFERENCES p(k) DEFERRABLE INITIALLY DEFERRED)",
			setup:  setup,
			stmts:  r16Rotate("p", "k", "id = 1", "id = 2", "'a'", "'b'", "'tmp'"),
		},
		{
			name:       "immediate fk on the parent's id, its unique key swapped",
			dsn:        "foreign_keys=true",
			schema:     parent + "CREATE TABLE ch(id INTEGER PRIMARY KEY, pk INT REFERENCES p(id))",
			setup:      "INSERT INTO p VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3); INSERT INTO ch VALUES (1, 1), (2, 2)",
			stmts:      r16Rotate("p", "k", "id = 1", "id = 2", "'a'", "'b'", "'tmp'"),
			conflictOK: true,
		},
		{
			name:   "immediate fk, unreferenced parents swapped",
			dsn:    "foreign_keys=true",
			schema: parent + "CREATE TABLE ch(id INTEGER PRIMARY KEY, pk TEXT REFERENCES p(k))",
			setup:  "INSERT INTO p VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3); INSERT INTO ch VALUES (1, 'c')",
			stmts: append(r16Rotate("p", "k", "id = 1", "id = 2", "'a'", "'b'", "'tmp'"),
				"INSERT INTO ch VALUES (2, 'a')"),
		},
		{
			name:       "on update cascade",
			dsn:        "foreign_keys=true",
			schema:     parent + "CREATE TABLE ch(id INTEGER PRIMARY KEY, pk TEXT REFERENCES p(k) ON UPDATE CASCADE)",
			setup:      setup,
			stmts:      r16Rotate("p", "k", "id = 1", "id = 2", "'a'", "'b'", "'tmp'"),
			conflictOK: true,
		},
		{
			name:   "on update cascade, fk enforcement off",
			dsn:    "foreign_keys=false",
			schema: parent + "CREATE TABLE ch(id INTEGER PRIMARY KEY, pk TEXT REFERENCES p(k) ON UPDATE CASCADE)",
			setup:  setup,
			stmts:  r16Rotate("p", "k", "id = 1", "id = 2", "'a'", "'b'", "'tmp'"),
		},
		{
			name:   "self-referencing deferred fk, keys swapped",
			dsn:    "foreign_keys=true",
			schema: "CREATE TABLE n(id INTEGER PRIMARY KEY, k TEXT UNIQUE, parent TEXT REFERENCES n(k) DEFERRABLE INITIALLY DEFERRED)",
			setup:  "INSERT INTO n VALUES (1, 'a', NULL), (2, 'b', 'a'), (3, 'c', 'b')",
			stmts: append(r16Rotate("n", "k", "id = 1", "id = 2", "'a'", "'b'", "'tmp'"),
				"UPDATE n SET parent = 'b' WHERE id = 2", "UPDATE n SET parent = 'a' WHERE id = 3"),
		},
	})
}

// TestReview16ForeignKeyOrphans: a child table with a deferred foreign key
// and rows that were orphans before c1 (loaded with enforcement off): c1
// swaps the children's own unique column, which never checks their
// foreign key serially (UPDATE of another column); the split path
// re-INSERTs the orphans.
func TestReview16ForeignKeyOrphans(t *testing.T) {
	for _, deferred := range []bool{true, false} {
		name, fk := "immediate", ""
		if deferred {
			name, fk = "deferred", " DEFERRABLE INITIALLY DEFERRED"
		}
		t.Run(name, func(t *testing.T) {
			tc := r16Case{
				dsn:    "foreign_keys=true",
				schema: "CREATE TABLE p(id INTEGER PRIMARY KEY); CREATE TABLE ch(id INTEGER PRIMARY KEY, k TEXT UNIQUE, pid INT REFERENCES p(id)" + fk + ")",
				setup:  "PRAGMA foreign_keys = OFF; INSERT INTO p VALUES (1); INSERT INTO ch VALUES (1, 'a', 1), (2, 'b', 99), (3, 'c', 98); PRAGMA foreign_keys = ON",
				stmts:  r16Rotate("ch", "k", "id = 1", "id = 2", "'a'", "'b'", "'tmp'"),
				// A conflict is acceptable; a non-conflict failure or a
				// stuck connection is not.
				conflictOK: true,
			}
			r16Run(t, tc)
		})
	}
}

// TestReview16Triggers: triggers must not fire in the replay; the audit
// rows are the transaction's.
func TestReview16Triggers(t *testing.T) {
	r16RunAll(t, []r16Case{
		{
			name: "audit triggers and raise on delete/insert",
			schema: `CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT UNIQUE, k2 TEXT UNIQUE, v);
				CREATE TABLE audit(n INTEGER PRIMARY KEY AUTOINCREMENT, what TEXT);
				CREATE TRIGGER t_upd AFTER UPDATE OF k ON t BEGIN
					INSERT INTO audit(what) VALUES ('upd ' || new.id || ' ' || old.k || '->' || new.k);
					UPDATE t SET k2 = new.k || '!' WHERE id = new.id;
				END;
				CREATE TRIGGER t_nodel BEFORE DELETE ON t WHEN old.v = 'keep' BEGIN SELECT RAISE(ABORT, 'no delete'); END;
				CREATE TRIGGER t_del AFTER DELETE ON t BEGIN INSERT INTO audit(what) VALUES ('del ' || old.id); END;
				CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN INSERT INTO audit(what) VALUES ('ins ' || new.id); END;`,
			setup: `INSERT INTO t(id, k, k2, v) VALUES (1, 'a', 'a!', 'keep'), (2, 'b', 'b!', 'keep'), (3, 'c', 'c!', 3);
				CREATE TRIGGER t_noins BEFORE INSERT ON t WHEN new.v = 'keep' BEGIN SELECT RAISE(ABORT, 'no insert'); END;`,
			stmts: append(r16Rotate("t", "k", "id = 1", "id = 2", "'a'", "'b'", "'tmp'"),
				"INSERT INTO t(id, k, k2, v) VALUES (4, 'd', 'd!', 4)", "DELETE FROM t WHERE id = 3"),
		},
		{
			name: "instead-of view trigger and a trigger writing another unique table",
			schema: `CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT UNIQUE);
				CREATE TABLE m(id INTEGER PRIMARY KEY, k TEXT UNIQUE);
				CREATE VIEW vt AS SELECT id, k FROM t;
				CREATE TRIGGER vt_upd INSTEAD OF UPDATE ON vt BEGIN UPDATE t SET k = new.k WHERE id = old.id; END;
				CREATE TRIGGER t_mirror AFTER UPDATE ON t BEGIN UPDATE m SET k = new.k WHERE id = new.id; END;`,
			setup: "INSERT INTO t VALUES (1, 'a'), (2, 'b'); INSERT INTO m VALUES (1, 'a'), (2, 'b')",
			stmts: r16Rotate("vt", "k", "id = 1", "id = 2", "'a'", "'b'", "'tmp'"),
		},
	})
}

// TestReview16CDC: the change stream of a split-replayed transaction is the
// transaction's own changes, once, as it made them.
func TestReview16CDC(t *testing.T) {
	tc := r16Case{
		dsn:    "cdc=on",
		schema: "CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT UNIQUE, v); CREATE TABLE w(a TEXT PRIMARY KEY, u INT UNIQUE) WITHOUT ROWID; CREATE TABLE done(x)",
		setup:  "INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3); INSERT INTO w VALUES ('x', 1), ('y', 2)",
		stmts: append(append(r16Rotate("t", "k", "id = 1", "id = 2", "'a'", "'b'", "'tmp'"),
			r16Rotate("w", "a", "u = 1", "u = 2", "'x'", "'y'", "'tmp'")...),
			"DELETE FROM t WHERE id = 3", "INSERT INTO t VALUES (4, 'c', 4)"),
	}
	e := r16Open(t, tc)
	filter := []string{"t", "w", "pad", "done"}
	s, rs := r13Open(t, e.db, ChangeOptions{Tables: filter}), r13Open(t, e.ref, ChangeOptions{Tables: filter})
	since, rsince := r13LSN(t, e.db), r13LSN(t, e.ref)
	ctx := context.Background()
	cexec(t, e.c1, "BEGIN CONCURRENT")
	cexec(t, e.r1, "BEGIN")
	for _, q := range tc.stmts {
		cexec(t, e.c1, q)
		cexec(t, e.r1, q)
	}
	for _, c := range []*sql.Conn{e.c1, e.r1} {
		cexec(t, c, "INSERT INTO pad(v) VALUES (zeroblob(20000))")
	}
	mustExec(t, e.db, "INSERT INTO other(v) VALUES (zeroblob(5000))")
	before := r14Stats(t, e.db)
	if _, err := e.c1.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatalf("COMMIT: %v", err)
	}
	cexec(t, e.r1, "COMMIT")
	mustExec(t, e.ref, "INSERT INTO other(v) VALUES (zeroblob(5000))")
	after := r14Stats(t, e.db)
	if r14Num(after, "rebased") != r14Num(before, "rebased")+1 {
		t.Fatalf("not rebased: %v -> %v", before, after)
	}
	mustExec(t, e.db, "INSERT INTO done VALUES (1)")
	mustExec(t, e.ref, "INSERT INTO done VALUES (1)")
	got, want := r16Descs(r13ReadTo(t, s, "done")), r16Descs(r13ReadTo(t, rs, "done"))
	if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
		t.Fatalf("stream differs\n got:\n%s\nwant:\n%s", g, w)
	}
	// The durable log too (a new stream reading from the start).
	s2, rs2 := r13Open(t, e.db, ChangeOptions{Since: since, Tables: filter}), r13Open(t, e.ref, ChangeOptions{Since: rsince, Tables: filter})
	g2, w2 := r16Descs(r13ReadTo(t, s2, "done")), r16Descs(r13ReadTo(t, rs2, "done"))
	if strings.Join(g2, "\n") != strings.Join(w2, "\n") {
		t.Fatalf("durable log differs\n got:\n%s\nwant:\n%s", strings.Join(g2, "\n"), strings.Join(w2, "\n"))
	}
	if g, w := r16Dump(t, e.db, true), r16Dump(t, e.ref, true); g != w {
		t.Fatalf("contents differ:\n%s", r16Diff(g, w))
	}
	t.Logf("%d changes in the stream", len(got))
}

// TestReview16ManyRows: a chain of renames over a few thousand rows, the
// row-by-row replay failing only at its end (the two last rows first
// touched swap keys), so that the replay runs twice.
func TestReview16ManyRows(t *testing.T) {
	const n = 3000
	for _, wr := range []bool{false, true} {
		name, schema := "rowid", "CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT UNIQUE, v BLOB)"
		if wr {
			name, schema = "without rowid", "CREATE TABLE t(id INT PRIMARY KEY, k TEXT UNIQUE, v BLOB) WITHOUT ROWID"
		}
		t.Run(name, func(t *testing.T) {
			stmts := []string{}
			// A chain of renames: k_i -> k_(i+1), descending, fresh k_(n+1).
			for i := n; i >= 1; i-- {
				stmts = append(stmts, fmt.Sprintf("UPDATE t SET k = 'k%d' WHERE id = %d", i+1, i))
			}
			stmts = append(stmts, r16Rotate("t", "k", fmt.Sprintf("id = %d", n+1), fmt.Sprintf("id = %d", n+2), "'z1'", "'z2'", "'ztmp'")...)
			tc := r16Case{
				name:   name,
				schema: schema,
				setup: r14Series(1, n) + "INSERT INTO t SELECT x, 'k' || x, printf('%050d', x * 7919) FROM c;" +
					fmt.Sprintf("INSERT INTO t VALUES (%d, 'z1', NULL), (%d, 'z2', NULL)", n+1, n+2),
				stmts: []string{strings.Join(stmts, ";\n")},
			}
			_, took := r16Run(t, tc)
			t.Logf("%d rows renamed: rebase COMMIT %v", n, took)
			if took > 3*time.Second {
				t.Errorf("rebase of %d renamed rows took %v", n, took)
			}
		})
	}
}

// r16Descs is r13Descs with long lines shortened.
func r16Descs(cs []Change) []string {
	out := r13Descs(cs)
	for i, l := range out {
		if len(l) > 200 {
			out[i] = fmt.Sprintf("%.80s...(%d chars, %x)", l, len(l), sha256.Sum256([]byte(l)))
		}
	}
	return out
}
