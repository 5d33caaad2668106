package libsql

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golibsql/libsql/changefeed"
)

// ---- helpers of the review tests ----

// rvVal formats a column value so that TEXT and BLOB differ.
func rvVal(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return "x'" + hex.EncodeToString(x) + "'"
	case string:
		return "'" + x + "'"
	case int64:
		return fmt.Sprint(x)
	case float64:
		return fmt.Sprintf("%gr", x)
	}
	return fmt.Sprintf("?%T(%v)", v, v)
}

func rvRow(vals []any) string {
	var b []string
	for _, v := range vals {
		b = append(b, rvVal(v))
	}
	return "(" + strings.Join(b, ",") + ")"
}

// rvModel is the content of tables rebuilt from a change stream: table ->
// key -> row. keys gives, per table, the column indexes of the key (nil:
// the rowid).
type rvModel struct {
	keys map[string][]int
	rows map[string]map[string]string
}

func newRVModel(keys map[string][]int) *rvModel {
	return &rvModel{keys: keys, rows: map[string]map[string]string{}}
}

func (m *rvModel) key(table string, rowid int64, vals []any) string {
	k, ok := m.keys[strings.ToLower(table)]
	if !ok || k == nil {
		return fmt.Sprint(rowid)
	}
	var parts []string
	for _, i := range k {
		parts = append(parts, rvVal(vals[i]))
	}
	return strings.Join(parts, "|")
}

// apply applies one change; it fails on a change that contradicts the
// model (a duplicate insert, a missing row, old values that differ).
func (m *rvModel) apply(ch Change) error {
	t := strings.ToLower(ch.Table)
	if m.rows[t] == nil {
		m.rows[t] = map[string]string{}
	}
	tab := m.rows[t]
	switch ch.Op {
	case changefeed.Insert:
		k := m.key(t, ch.RowID, ch.New)
		if old, ok := tab[k]; ok {
			return fmt.Errorf("insert into %s of key %s that holds %s", t, k, old)
		}
		tab[k] = rvRow(ch.New)
	case changefeed.Update, changefeed.Delete:
		ok := m.key(t, ch.RowID, ch.Old)
		if m.keys[t] == nil && ch.Op == changefeed.Update {
			// rowid tables of the review always have an INTEGER PRIMARY
			// KEY first: the old rowid is the old id.
			if id, isInt := ch.Old[0].(int64); isInt {
				ok = fmt.Sprint(id)
			}
		}
		cur, found := tab[ok]
		if !found {
			return fmt.Errorf("%s of %s key %s: no such row", ch.Op, t, ok)
		}
		if cur != rvRow(ch.Old) {
			return fmt.Errorf("%s of %s key %s: old %s, model has %s", ch.Op, t, ok, rvRow(ch.Old), cur)
		}
		delete(tab, ok)
		if ch.Op == changefeed.Update {
			nk := m.key(t, ch.RowID, ch.New)
			if _, dup := tab[nk]; dup {
				return fmt.Errorf("update of %s moves to key %s, which exists", t, nk)
			}
			tab[nk] = rvRow(ch.New)
		}
	default:
		return fmt.Errorf("bad op %v", ch.Op)
	}
	return nil
}

// rvTable reads a table as the model holds it.
func rvTable(t *testing.T, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, table string, key []int) map[string]string {
	t.Helper()
	sel := "SELECT rowid, * FROM " + table
	if key != nil {
		sel = "SELECT 0, * FROM " + table
	}
	rows, err := q.QueryContext(context.Background(), sel)
	if err != nil {
		t.Fatalf("%s: %v", sel, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	out := map[string]string{}
	for rows.Next() {
		vals := scanAnyRow(t, rows, len(cols))
		rowid, _ := vals[0].(int64)
		row := vals[1:]
		var k string
		if key == nil {
			k = fmt.Sprint(rowid)
		} else {
			var parts []string
			for _, i := range key {
				parts = append(parts, rvVal(row[i]))
			}
			k = strings.Join(parts, "|")
		}
		out[k] = rvRow(row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// check compares the model with the tables' contents.
func (m *rvModel) check(t *testing.T, db *sql.DB, tables ...string) {
	t.Helper()
	for _, tab := range tables {
		want := rvTable(t, db, tab, m.keys[tab])
		got := m.rows[tab]
		if got == nil {
			got = map[string]string{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("table %s rebuilt from the stream:\n  %v\nthe table holds:\n  %v", tab, rvSorted(got), rvSorted(want))
		}
	}
}

func rvSorted(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// rvDrain reads changes until none comes for quiet.
func rvDrain(t *testing.T, s *ChangeStream, quiet time.Duration) []Change {
	t.Helper()
	var out []Change
	for {
		ctx, cancel := context.WithTimeout(context.Background(), quiet)
		ch, err := s.Next(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			return out
		}
		if err != nil {
			t.Fatalf("after %d changes: %v", len(out), err)
		}
		out = append(out, ch)
	}
}

// rvUntilMark reads changes until the insert of value mark into table
// mark (not returned).
func rvUntilMark(t *testing.T, s *ChangeStream, mark int64) []Change {
	t.Helper()
	var out []Change
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		ch, err := s.Next(ctx)
		cancel()
		if err != nil {
			t.Fatalf("waiting for mark %d after %d changes: %v", mark, len(out), err)
		}
		if ch.Table == "mark" && ch.Op == changefeed.Insert && ch.New[0] == mark {
			return out
		}
		out = append(out, ch)
	}
}

// rvCheckOrder checks LSNs and Index: transactions in increasing LSN
// order, each one's changes contiguous with Index 0, 1, ... (for an
// unfiltered stream), no LSN twice.
func rvCheckOrder(t *testing.T, chs []Change, unfiltered bool) {
	t.Helper()
	seen := map[LSN]bool{}
	for i, c := range chs {
		if i > 0 && c.LSN == chs[i-1].LSN {
			if c.Index <= chs[i-1].Index || unfiltered && c.Index != chs[i-1].Index+1 {
				t.Fatalf("change %d: index %d after %d in LSN %v", i, c.Index, chs[i-1].Index, c.LSN)
			}
			continue
		}
		if i > 0 && c.LSN < chs[i-1].LSN {
			t.Fatalf("change %d: LSN %v after %v", i, c.LSN, chs[i-1].LSN)
		}
		if seen[c.LSN] {
			t.Fatalf("change %d: LSN %v delivered again", i, c.LSN)
		}
		seen[c.LSN] = true
		if unfiltered && c.Index != 0 {
			t.Fatalf("change %d: transaction %v starts at index %d", i, c.LSN, c.Index)
		}
	}
}

func rvDescribe(chs []Change) []string {
	var out []string
	for _, c := range chs {
		out = append(out, describeChange(c))
	}
	return out
}

// rvMatch is what a stream's filters keep, written from the docs.
func rvMatch(o ChangeOptions, ch Change) bool {
	if len(o.Ops) > 0 && !slices.Contains(o.Ops, ch.Op) {
		return false
	}
	if len(o.Tables) == 0 {
		return true
	}
	return slices.ContainsFunc(o.Tables, func(t string) bool { return strings.EqualFold(t, ch.Table) })
}

// rvOpen opens the database at path with the DSN keys in query, closed
// at cleanup if the test does not close it.
func rvOpen(t *testing.T, path, query string) *sql.DB {
	t.Helper()
	db, err := Open("file:" + filepath.ToSlash(path) + "?" + query)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// ---- tests ----

// TestReviewCDCFailedMultiRowStatements runs multi-row statements that hit
// a UNIQUE violation halfway, under every conflict clause, inside a
// transaction and in autocommit, with both CDC modes: what the stream
// delivers, applied to the table as it was, is what the table holds.
func TestReviewCDCFailedMultiRowStatements(t *testing.T) {
	for _, cdc := range []string{"off", "on"} {
		for _, inTx := range []bool{false, true} {
			for _, oc := range []string{"ABORT", "FAIL", "ROLLBACK", "IGNORE", "REPLACE"} {
				name := fmt.Sprintf("cdc=%s/tx=%v/%s", cdc, inTx, oc)
				t.Run(name, func(t *testing.T) {
					db := openTestDB(t, "cdc="+cdc)
					mustExec(t, db, "CREATE TABLE u(id INTEGER PRIMARY KEY, x UNIQUE)")
					mustExec(t, db, "CREATE TABLE mark(n)")
					mustExec(t, db, "INSERT INTO u VALUES (1, 1), (2, 2)")
					s := stream(t, db, ChangeOptions{})
					m := newRVModel(nil)
					m.rows["u"] = rvTable(t, db, "u", nil)
					c := dbConn(t, db)
					if inTx {
						cexec(t, c, "BEGIN")
						cexec(t, c, "INSERT INTO u VALUES (3, 3)")
					}
					_, err := c.ExecContext(context.Background(), "INSERT OR "+oc+" INTO u VALUES (10, 10), (11, 1), (12, 12)")
					if (err == nil) != (oc == "IGNORE" || oc == "REPLACE") {
						t.Fatalf("INSERT OR %s: %v", oc, err)
					}
					_, err = c.ExecContext(context.Background(), "UPDATE OR "+oc+" u SET x = x + 1 WHERE id IN (1, 3, 10, 12)")
					_ = err
					if inTx {
						c.ExecContext(context.Background(), "COMMIT") // fails after OR ROLLBACK
					}
					c.Close()
					mustExec(t, db, "INSERT INTO mark VALUES (1)")
					got := rvUntilMark(t, s, 1)
					rvCheckOrder(t, got, true)
					for _, ch := range got {
						if err := m.apply(ch); err != nil {
							t.Fatalf("%v\nstream:\n  %s", err, strings.Join(rvDescribe(got), "\n  "))
						}
					}
					m.check(t, db, "u")
				})
			}
		}
	}
}

// TestReviewCDCOnAutocommitOrFail: in autocommit, INSERT OR FAIL keeps
// the rows it inserted before the failing one (SQLite's documented
// behaviour); cdc=on must not change what the statement commits.
func TestReviewCDCOnAutocommitOrFail(t *testing.T) {
	counts := map[string]int{}
	for _, cdc := range []string{"off", "on"} {
		db := openTestDB(t, "cdc="+cdc)
		mustExec(t, db, "CREATE TABLE u(id INTEGER PRIMARY KEY, x UNIQUE)")
		mustExec(t, db, "INSERT INTO u VALUES (1, 1)")
		if _, err := db.Exec("INSERT OR FAIL INTO u VALUES (10, 10), (11, 1)"); err == nil {
			t.Fatal("INSERT OR FAIL of a duplicate succeeded")
		}
		counts[cdc] = count(t, db, "SELECT count(*) FROM u")
	}
	if counts["off"] != 2 || counts["on"] != 2 {
		t.Fatalf("rows after a failed autocommit INSERT OR FAIL: cdc=off %d, cdc=on %d; SQLite keeps the first row: want 2", counts["off"], counts["on"])
	}
}

// TestReviewCDCRowShapes covers triggers, foreign-key cascades, UPSERT,
// INSERT ... RETURNING read partly, REPLACE deleting rows of other keys,
// WITHOUT ROWID tables, stored generated columns, savepoints
// rolled back: the stream rebuilds every table exactly, and changes made
// by triggers and cascades are Indirect.
func TestReviewCDCRowShapes(t *testing.T) {
	for _, cdc := range []string{"off", "on"} {
		t.Run("cdc="+cdc, func(t *testing.T) {
			db := openTestDB(t, "foreign_keys=on&cdc="+cdc)
			mustExec(t, db, `
				CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT UNIQUE);
				CREATE TABLE ch(id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(id) ON DELETE CASCADE ON UPDATE CASCADE, v);
				CREATE TABLE ch2(id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(id) ON DELETE SET NULL);
				CREATE TABLE log(id INTEGER PRIMARY KEY, what TEXT);
				CREATE TRIGGER p_ins AFTER INSERT ON p BEGIN INSERT INTO log(what) VALUES ('ins ' || new.name); END;
				CREATE TRIGGER p_upd AFTER UPDATE ON p BEGIN INSERT INTO log(what) VALUES ('upd ' || old.name || '>' || new.name); END;
				CREATE TABLE w(a TEXT, b INTEGER, v, PRIMARY KEY(b, a)) WITHOUT ROWID;
				CREATE TABLE g(id INTEGER PRIMARY KEY, a INTEGER, b INTEGER AS (a * 3) STORED, c TEXT, d AS (a + 1) STORED);
				CREATE TABLE mark(n);
			`)
			keys := map[string][]int{"w": {1, 0}}
			tables := []string{"p", "ch", "ch2", "log", "w", "g"}
			s := stream(t, db, ChangeOptions{})
			m := newRVModel(keys)
			c := dbConn(t, db)
			ctx := context.Background()
			cexec(t, c, "INSERT INTO p VALUES (1, 'a'), (2, 'b'), (3, 'c')")
			cexec(t, c, "INSERT INTO ch VALUES (10, 1, 'x'), (11, 1, 'y'), (12, 2, 'z')")
			cexec(t, c, "INSERT INTO ch2 VALUES (20, 1), (21, 3)")
			// UPSERT: one update, one insert, one ignored.
			cexec(t, c, "INSERT INTO p VALUES (4, 'a'), (5, 'e') ON CONFLICT(name) DO UPDATE SET name = excluded.name || '2'")
			cexec(t, c, "INSERT INTO p VALUES (6, 'b') ON CONFLICT DO NOTHING")
			// Cascades: update of the parent key, then delete.
			cexec(t, c, "UPDATE p SET id = 7 WHERE id = 2")
			cexec(t, c, "DELETE FROM p WHERE id = 1")
			// REPLACE deleting a row of another key (UNIQUE name), with
			// cascades from the deleted row.
			cexec(t, c, "REPLACE INTO p VALUES (8, 'c')")
			// RETURNING read partly, then closed.
			r, err := c.QueryContext(ctx, "INSERT INTO log(what) VALUES ('r1'), ('r2'), ('r3') RETURNING id")
			if err != nil {
				t.Fatal(err)
			}
			r.Next()
			r.Close()
			// WITHOUT ROWID and generated columns.
			cexec(t, c, "INSERT INTO w VALUES ('k', 1, 'one'), ('k', 2, 'two')")
			cexec(t, c, "UPDATE w SET b = 3 WHERE b = 2")
			cexec(t, c, "INSERT OR REPLACE INTO w VALUES ('k', 1, 'uno')")
			cexec(t, c, "INSERT INTO g(a, c) VALUES (2, 'x'), (5, 'y')")
			cexec(t, c, "UPDATE g SET a = a + 10, c = 'z' WHERE id = 1")
			cexec(t, c, "DELETE FROM g WHERE id = 2")
			// Savepoints: the inner part rolled back, then released.
			cexec(t, c, "BEGIN")
			cexec(t, c, "INSERT INTO w VALUES ('s', 9, 'kept')")
			cexec(t, c, "SAVEPOINT a")
			cexec(t, c, "INSERT INTO p VALUES (9, 'gone')")
			cexec(t, c, "SAVEPOINT b")
			cexec(t, c, "DELETE FROM ch")
			cexec(t, c, "ROLLBACK TO a")
			cexec(t, c, "INSERT INTO p VALUES (9, 'kept')")
			cexec(t, c, "RELEASE a")
			cexec(t, c, "COMMIT")
			// A statement whose trigger fails: nothing of it.
			cexec(t, c, "CREATE TRIGGER p_no BEFORE INSERT ON p WHEN new.name = 'bad' BEGIN SELECT RAISE(ABORT, 'no'); END")
			if _, err := c.ExecContext(ctx, "INSERT INTO p VALUES (20, 'ok20'), (21, 'bad')"); err == nil {
				t.Fatal("RAISE(ABORT) did not fail the insert")
			}
			c.Close()
			mustExec(t, db, "INSERT INTO mark VALUES (1)")
			got := rvUntilMark(t, s, 1)
			rvCheckOrder(t, got, true)
			for _, ch := range got {
				if err := m.apply(ch); err != nil {
					t.Fatalf("%v\nstream:\n  %s", err, strings.Join(rvDescribe(got), "\n  "))
				}
				direct := ch.Table == "p" || ch.Table == "w" || ch.Table == "g" || ch.Table == "ch2" && ch.Op == changefeed.Insert ||
					ch.Table == "ch" && ch.Op == changefeed.Insert || ch.Table == "log" && strings.HasPrefix(fmt.Sprint(ch.New[1]), "r")
				if ch.Indirect == direct {
					t.Errorf("%s: indirect=%v", describeChange(ch), ch.Indirect)
				}
			}
			m.check(t, db, tables...)
			for _, ch := range got {
				if ch.Table == "g" && ch.New != nil && !reflect.DeepEqual(ch.Columns, []string{"id", "a", "b", "c", "d"}) {
					t.Fatalf("columns of g: %v", ch.Columns)
				}
			}
		})
	}
}

// TestReviewCDCVirtualGeneratedColumn pins the README's "A VIRTUAL
// generated column is listed in Columns but its value is always NULL":
// SQLite's pre-update hook does not compute it.
func TestReviewCDCVirtualGeneratedColumn(t *testing.T) {
	for _, cdc := range []string{"off", "on"} {
		t.Run("cdc="+cdc, func(t *testing.T) {
			db := openTestDB(t, "cdc="+cdc)
			mustExec(t, db, "CREATE TABLE g(id INTEGER PRIMARY KEY, a INTEGER, b INTEGER AS (a * 3) VIRTUAL, c TEXT)")
			s := stream(t, db, ChangeOptions{})
			mustExec(t, db, "INSERT INTO g(id, a, c) VALUES (1, 2, 'x')")
			mustExec(t, db, "UPDATE g SET a = 5")
			mustExec(t, db, "DELETE FROM g")
			expectChanges(t, next(t, s, 3),
				"insert g rowid=1 new=[1 2 <nil> x]",
				"update g rowid=1 old=[1 2 <nil> x] new=[1 5 <nil> x]",
				"delete g rowid=1 old=[1 5 <nil> x]",
			)
		})
	}
}

// TestReviewCDCSchemaChangesWhileStreaming renames a table and a column,
// adds a column and drops a table while a filtered and an unfiltered
// stream run: changes carry the name and columns the table has when they
// are made.
func TestReviewCDCSchemaChangesWhileStreaming(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, a)")
	mustExec(t, db, "CREATE TABLE mark(n)")
	all := stream(t, db, ChangeOptions{})
	onlyT := stream(t, db, ChangeOptions{Tables: []string{"T"}})
	mustExec(t, db, "INSERT INTO t VALUES (1, 'x')")
	mustExec(t, db, "ALTER TABLE t RENAME COLUMN a TO b")
	mustExec(t, db, "UPDATE t SET b = 'y'")
	mustExec(t, db, "ALTER TABLE t ADD COLUMN c DEFAULT 7")
	mustExec(t, db, "INSERT INTO t(id, b) VALUES (2, 'z')")
	mustExec(t, db, "ALTER TABLE t RENAME TO t2")
	mustExec(t, db, "INSERT INTO t2(id, b) VALUES (3, 'w')")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, q)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 'new')")
	mustExec(t, db, "DROP TABLE t2")
	mustExec(t, db, "INSERT INTO mark VALUES (1)")
	got := rvUntilMark(t, all, 1)
	expectChanges(t, got,
		"insert t rowid=1 new=[1 x]",
		"update t rowid=1 old=[1 x] new=[1 y]",
		"insert t rowid=2 new=[2 z 7]",
		"insert t2 rowid=3 new=[3 w 7]",
		"insert t rowid=1 new=[1 new]",
	)
	cols := [][]string{{"id", "a"}, {"id", "b"}, {"id", "b", "c"}, {"id", "b", "c"}, {"id", "q"}}
	for i, ch := range got {
		if !reflect.DeepEqual(ch.Columns, cols[i]) {
			t.Errorf("change %d columns %v, want %v", i, ch.Columns, cols[i])
		}
	}
	expectChanges(t, next(t, onlyT, 4),
		"insert t rowid=1 new=[1 x]",
		"update t rowid=1 old=[1 x] new=[1 y]",
		"insert t rowid=2 new=[2 z 7]",
		"insert t rowid=1 new=[1 new]",
	)
	noMore(t, onlyT)
	if onlyT.LSN() != all.LSN() {
		t.Fatalf("filtered stream at %v, unfiltered at %v after the same commits", onlyT.LSN(), all.LSN())
	}
}

// TestReviewCDCFiltersAgree opens streams with different table and op
// filters on the same commits: each delivers exactly the unfiltered
// stream's changes that pass its filters, with their LSN and Index, and
// all end at the same LSN.
func TestReviewCDCFiltersAgree(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE a(id INTEGER PRIMARY KEY, v); CREATE TABLE b(id INTEGER PRIMARY KEY, v); CREATE TABLE mark(n)")
	opts := []ChangeOptions{
		{},
		{Tables: []string{"A"}},
		{Ops: []changefeed.Op{changefeed.Delete, changefeed.Update}},
		{Tables: []string{"b", "mark"}, Ops: []changefeed.Op{changefeed.Insert}},
		{Tables: []string{"c", "d", "e", "f", "g", "h", "i", "j", "B"}}, // a set
		{Tables: []string{"nothing"}},
	}
	var ss []*ChangeStream
	for _, o := range opts {
		ss = append(ss, stream(t, db, o))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 60 {
		tab := []string{"a", "b"}[r.IntN(2)]
		switch r.IntN(4) {
		case 0, 1:
			mustExec(t, db, "INSERT INTO "+tab+"(v) VALUES (?)", i)
		case 2:
			mustExec(t, db, "UPDATE "+tab+" SET v = v + 1000 WHERE id % 3 = ?", i%3)
		default:
			mustExec(t, db, "BEGIN; DELETE FROM "+tab+" WHERE id = (SELECT min(id) FROM "+tab+"); INSERT INTO a(v) VALUES (-1); COMMIT")
		}
	}
	mustExec(t, db, "INSERT INTO mark VALUES (1)")
	full := rvUntilMark(t, ss[0], 1)
	rvCheckOrder(t, full, true)
	for i, o := range opts[1:] {
		var want []string
		for _, ch := range full {
			if rvMatch(o, ch) {
				want = append(want, fmt.Sprintf("%v/%d %s", ch.LSN, ch.Index, describeChange(ch)))
			}
		}
		var gotS []string
		for _, ch := range rvDrain(t, ss[i+1], 50*time.Millisecond) {
			if ch.Table == "mark" {
				continue
			}
			gotS = append(gotS, fmt.Sprintf("%v/%d %s", ch.LSN, ch.Index, describeChange(ch)))
		}
		if !slices.Equal(gotS, want) {
			t.Fatalf("stream %+v:\n  %s\nwant:\n  %s", o, strings.Join(gotS, "\n  "), strings.Join(want, "\n  "))
		}
		if ss[i+1].LSN() != ss[0].LSN() {
			t.Fatalf("stream %+v at LSN %v, unfiltered at %v", o, ss[i+1].LSN(), ss[0].LSN())
		}
	}
}

// TestReviewCDCLaggingInMemory: with CDC off, a consumer behind a small
// buffer catches up from the hub's history while it reaches back, and
// otherwise gets ErrStreamLagged with the LSN it delivered through: what
// it delivered is a gap-free, duplicate-free prefix. Also while commits
// keep coming as it reads, and with a table filter (the buffer counts
// changes before filtering).
func TestReviewCDCLaggingInMemory(t *testing.T) {
	for _, tc := range []struct {
		name  string
		burst int
		big   int // changes per transaction
		want  string
		opts  ChangeOptions
	}{
		{"within-history", 200, 1, "all", ChangeOptions{Buffer: 5}},
		{"beyond-history", 600, 1, "lag", ChangeOptions{Buffer: 5}},
		{"big-transactions", 20, 50, "all", ChangeOptions{Buffer: 10}},
		{"filtered", 200, 2, "all", ChangeOptions{Buffer: 3, Tables: []string{"t"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t, "")
			mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, n); CREATE TABLE o(x)")
			s := stream(t, db, tc.opts)
			seq := int64(0)
			for range tc.burst {
				tx, err := db.Begin()
				if err != nil {
					t.Fatal(err)
				}
				for range tc.big {
					seq++
					if _, err := tx.Exec("INSERT INTO t(n) VALUES (?)", seq); err != nil {
						t.Fatal(err)
					}
					if tc.opts.Tables != nil {
						tx.Exec("INSERT INTO o VALUES (1)")
					}
				}
				if err := tx.Commit(); err != nil {
					t.Fatal(err)
				}
			}
			var seen int64
			var lastLSN LSN
			for seen < seq {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				ch, err := s.Next(ctx)
				cancel()
				if err != nil {
					var lag *changefeed.LaggedError
					if !errors.As(err, &lag) || tc.want != "lag" {
						t.Fatalf("after %d of %d: %v", seen, seq, err)
					}
					if lag.LSN != s.LSN() || lag.LSN != lastLSN {
						t.Fatalf("lagged at %v, stream at %v, last delivered %v", lag.LSN, s.LSN(), lastLSN)
					}
					return
				}
				if ch.Table != "t" {
					t.Fatalf("filtered stream delivered %s", describeChange(ch))
				}
				seen++
				if ch.New[1] != seen {
					t.Fatalf("change %d is %v: a gap or a duplicate", seen, ch.New)
				}
				lastLSN = ch.LSN
			}
			if tc.want == "lag" {
				t.Fatalf("a stream %d transactions behind a buffer of %d did not lag", tc.burst, tc.opts.Buffer)
			}
			noMore(t, s)
		})
	}
}

// TestReviewCDCStartWhileCommitting opens streams (Since 0) while two
// writers commit: each stream gets, per writer, a gap-free run of that
// writer's rows up to its last one, which includes every row whose insert
// started after the stream was opened; LSNs grow.
func TestReviewCDCStartWhileCommitting(t *testing.T) {
	for _, cdc := range []string{"off", "on"} {
		t.Run("cdc="+cdc, func(t *testing.T) {
			db := openTestDB(t, "cdc="+cdc)
			mustExec(t, db, "CREATE TABLE t(w, n)")
			const writers, perWriter = 2, 200
			var started [writers]atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := int64(1); i <= perWriter; i++ {
						started[w].Store(i)
						if _, err := db.Exec("INSERT INTO t VALUES (?, ?)", w, i); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			type opened struct {
				s     *ChangeStream
				after [writers]int64
			}
			var streams []opened
			for range 4 {
				time.Sleep(3 * time.Millisecond)
				s := stream(t, db, ChangeOptions{})
				var o opened
				o.s = s
				for w := range writers {
					o.after[w] = started[w].Load() + 1 // inserts from here on began after Subscribe
				}
				streams = append(streams, o)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			mustExec(t, db, "CREATE TABLE mark(n); INSERT INTO mark VALUES (1)")
			for k, o := range streams {
				got := rvUntilMark(t, o.s, 1)
				rvCheckOrder(t, got, true)
				var per [writers][]int64
				for _, ch := range got {
					w := ch.New[0].(int64)
					per[w] = append(per[w], ch.New[1].(int64))
				}
				for w := range writers {
					vals := per[w]
					if len(vals) == 0 {
						if o.after[w] <= perWriter {
							t.Fatalf("stream %d: nothing of writer %d, which inserted from %d after it opened", k, w, o.after[w])
						}
						continue
					}
					for i := 1; i < len(vals); i++ {
						if vals[i] != vals[i-1]+1 {
							t.Fatalf("stream %d writer %d: %d then %d", k, w, vals[i-1], vals[i])
						}
					}
					if vals[len(vals)-1] != perWriter || vals[0] > o.after[w] {
						t.Fatalf("stream %d writer %d: rows %d..%d, want through %d from at most %d", k, w, vals[0], vals[len(vals)-1], perWriter, o.after[w])
					}
				}
			}
		})
	}
}

// TestReviewCDCConcurrentMergeAndRebase: BEGIN CONCURRENT transactions
// that commit directly, merged and rebased each appear once, with exactly
// their own changes (a statement that failed inside, and a savepoint rolled
// back, contribute nothing), in commit order, live and, with cdc=on, from
// the durable log.
func TestReviewCDCConcurrentMergeAndRebase(t *testing.T) {
	for _, cdc := range []string{"off", "on"} {
		t.Run("cdc="+cdc, func(t *testing.T) {
			db := openTestDB(t, "cdc="+cdc)
			mustExec(t, db, "CREATE TABLE a(id INTEGER PRIMARY KEY, v UNIQUE); CREATE TABLE b(id INTEGER PRIMARY KEY, v); CREATE TABLE mark(n)")
			mustExec(t, db, "INSERT INTO a VALUES (1, 'a1'); INSERT INTO b VALUES (1, 'b1')")
			s := stream(t, db, ChangeOptions{})
			since := s.LSN()
			c1, c2, c3 := dbConn(t, db), dbConn(t, db), dbConn(t, db)
			ctx := context.Background()
			// Merged: disjoint tables.
			cexec(t, c1, "BEGIN CONCURRENT")
			cexec(t, c1, "UPDATE a SET v = 'a1x' WHERE id = 1")
			cexec(t, c2, "BEGIN CONCURRENT")
			cexec(t, c2, "UPDATE b SET v = 'b1x' WHERE id = 1")
			if _, err := c2.ExecContext(ctx, "INSERT INTO b VALUES (1, 'dup')"); err == nil {
				t.Fatal("duplicate insert succeeded")
			}
			cexec(t, c2, "SAVEPOINT sp")
			cexec(t, c2, "UPDATE b SET v = 'never'")
			cexec(t, c2, "ROLLBACK TO sp")
			cexec(t, c1, "COMMIT")
			cexec(t, c2, "COMMIT")
			// Rebased: both allocate pages, on different tables; c3
			// commits after c1 and is replayed.
			cexec(t, c1, "BEGIN CONCURRENT")
			cexec(t, c3, "BEGIN CONCURRENT")
			for i := range 30 {
				cexec(t, c1, "INSERT INTO a VALUES (?, ?)", 100+i, strings.Repeat("x", 2000)+fmt.Sprint(i))
				cexec(t, c3, "INSERT INTO b VALUES (?, ?)", 200+i, strings.Repeat("y", 2000))
			}
			if _, err := c3.ExecContext(ctx, "INSERT INTO b VALUES (200, 'dup'), (300, 'x')"); err == nil {
				t.Fatal("duplicate insert succeeded")
			}
			cexec(t, c3, "DELETE FROM b WHERE id = 1")
			cexec(t, c1, "COMMIT")
			cexec(t, c3, "COMMIT")
			// Rolled back: nothing.
			cexec(t, c2, "BEGIN CONCURRENT")
			cexec(t, c2, "INSERT INTO a VALUES (50, 'rb')")
			cexec(t, c2, "ROLLBACK")
			mustExec(t, db, "INSERT INTO mark VALUES (1)")
			stats := engineStats(t, db)
			got := rvUntilMark(t, s, 1)
			rvCheckOrder(t, got, true)
			var txs [][]string
			for i, ch := range got {
				if i == 0 || ch.LSN != got[i-1].LSN {
					txs = append(txs, nil)
				}
				txs[len(txs)-1] = append(txs[len(txs)-1], describeChange(ch))
			}
			if len(txs) != 4 {
				t.Fatalf("%d transactions, want 4 (%s):\n%v", len(txs), stats, txs)
			}
			want0 := []string{"update a rowid=1 old=[1 a1] new=[1 a1x]"}
			want1 := []string{"update b rowid=1 old=[1 b1] new=[1 b1x]"}
			if !slices.Equal(txs[0], want0) || !slices.Equal(txs[1], want1) {
				t.Fatalf("merged transactions: %v / %v", txs[0], txs[1])
			}
			if len(txs[2]) != 30 || len(txs[3]) != 31 || !strings.HasPrefix(txs[2][0], "insert a rowid=100 ") ||
				!strings.HasPrefix(txs[3][0], "insert b rowid=200 ") || txs[3][30] != "delete b rowid=1 old=[1 b1x]" {
				t.Fatalf("rebased transactions (%s): %d / %d changes: %.40s ... / %.40s ...", stats, len(txs[2]), len(txs[3]), txs[2][0], txs[3][0])
			}
			// With cdc=on a stale transaction is replayed, never merged
			// (README).
			paths := `"direct":2,"merged":1,"rebased":1`
			if cdc == "on" {
				paths = `"direct":2,"merged":0,"rebased":2`
			}
			if !strings.Contains(stats, paths) {
				t.Fatalf("commit paths: %s, want %s", stats, paths)
			}
			m := newRVModel(nil)
			m.rows["a"] = map[string]string{"1": "(1,'a1')"}
			m.rows["b"] = map[string]string{"1": "(1,'b1')"}
			for _, ch := range got {
				if err := m.apply(ch); err != nil {
					t.Fatal(err)
				}
			}
			m.check(t, db, "a", "b")
			if cdc == "on" {
				d := stream(t, db, ChangeOptions{Since: since})
				dur := rvUntilMark(t, d, 1)
				if !slices.Equal(rvDescribe(dur), rvDescribe(got)) {
					t.Fatalf("durable log differs from the live stream:\n  %s", strings.Join(rvDescribe(dur), "\n  "))
				}
			}
		})
	}
}

// rvCDCRun inserts n rows, one per transaction, and returns the LSN of
// each (from a stream).
func rvCDCRun(t *testing.T, db *sql.DB, from, n int) []LSN {
	t.Helper()
	s, err := Changes(context.Background(), db, ChangeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := from; i < from+n; i++ {
		mustExec(t, db, "INSERT INTO t VALUES (?)", i)
	}
	var lsns []LSN
	for _, ch := range next(t, s, n) {
		lsns = append(lsns, ch.LSN)
	}
	return lsns
}

// TestReviewCDCResumeAcrossReopen: with cdc=on, after the database is
// closed and reopened with the log left as Close leaves it, a stream
// resumed from any LSN seen yields exactly the later transactions, and new
// commits get higher LSNs.
func TestReviewCDCResumeAcrossReopen(t *testing.T) {
	rvResumeAcrossReopen(t, "close")
}

// TestReviewCDCResumeAfterLogTruncated is TestReviewCDCResumeAcrossReopen
// after PRAGMA wal_checkpoint(TRUNCATE), or with the -wal file removed (as
// stock SQLite does) before the reopen. LSNs still grow (the floor is
// raised from libsql_cdc), but the hub's start ("now") stays at the log's
// fresh floor, 1<<32, below the stored LSNs: a stream resumed from a
// stored LSN takes the hub's memory for complete and skips the stored
// transactions after it.
func TestReviewCDCResumeAfterLogTruncated(t *testing.T) {
	for _, how := range []string{"truncate", "remove-wal"} {
		t.Run(how, func(t *testing.T) { rvResumeAcrossReopen(t, how) })
	}
}

func rvResumeAcrossReopen(t *testing.T, how string) {
	path := filepath.Join(t.TempDir(), "r.db")
	db := openClosable(t, path, "")
	mustExec(t, db, "CREATE TABLE t(n)")
	lsns := rvCDCRun(t, db, 0, 5)
	if how == "truncate" {
		mustExec(t, db, "PRAGMA wal_checkpoint(TRUNCATE)")
	}
	closeChecked(t, db)
	if how == "remove-wal" {
		if err := os.Remove(path + "-wal"); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	db = openClosable(t, path, "")
	// Before any new commit: resumed from the middle of the stored log.
	early := stream(t, db, ChangeOptions{Since: lsns[1]})
	for j, ch := range next(t, early, 3) {
		if ch.New[0] != int64(2+j) || ch.LSN != lsns[2+j] {
			t.Fatalf("resumed after %v right after the reopen: change %d is %v at %v", lsns[1], j, ch.New, ch.LSN)
		}
	}
	early.Close()
	more := rvCDCRun(t, db, 5, 3)
	if more[0] <= lsns[len(lsns)-1] {
		t.Fatalf("LSN %v after the reopen, not above %v from before", more[0], lsns[len(lsns)-1])
	}
	all := append(lsns, more...)
	for i, since := range all {
		s := stream(t, db, ChangeOptions{Since: since})
		want := len(all) - 1 - i
		var got []Change
		if want > 0 {
			got = next(t, s, want)
		}
		noMore(t, s)
		for j, ch := range got {
			if ch.New[0] != int64(i+1+j) || ch.LSN != all[i+1+j] {
				t.Fatalf("resumed after %v (change %d): change %d is %v at %v, want %d at %v", since, i, j, ch.New, ch.LSN, i+1+j, all[i+1+j])
			}
		}
		s.Close()
	}
	closeChecked(t, db)
}

// TestReviewCDCRetentionNeverSkips: with cdc=on and cdc_max, a stream that
// lags behind the pruner (tiny buffer, beyond the hub's history) either
// reads every change in order or stops with ErrStreamLagged; Since(Oldest)
// starts at the oldest retained transaction; Since(pruned LSN) lags.
func TestReviewCDCRetentionNeverSkips(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ret.db")
	cn, err := NewConnector("file:"+filepath.ToSlash(path)+"?cdc=on&cdc_max=20", WithCDC(true))
	if err != nil {
		t.Fatal(err)
	}
	cn.prune.interval = 5 * time.Millisecond
	db := sql.OpenDB(cn)
	t.Cleanup(func() { db.Close() })
	mustExec(t, db, "CREATE TABLE t(n)")
	slow := stream(t, db, ChangeOptions{Buffer: 1})
	first := rvCDCRun(t, db, 1, 1)[0]
	for i := 2; i <= 400; i++ {
		mustExec(t, db, "INSERT INTO t VALUES (?)", i)
	}
	deadline := time.Now().Add(3 * time.Second)
	for count(t, db, "SELECT count(*) FROM libsql_cdc") > 25 {
		if time.Now().After(deadline) {
			t.Fatalf("pruner kept %d rows; stats %+v", count(t, db, "SELECT count(*) FROM libsql_cdc"), cn.PruneStats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	var seen int64
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		ch, err := slow.Next(ctx)
		cancel()
		if err != nil {
			if !errors.Is(err, ErrStreamLagged) {
				t.Fatalf("after %d: %v", seen, err)
			}
			break
		}
		seen++
		if ch.New[0] != seen {
			t.Fatalf("change %d is %v: a gap", seen, ch.New)
		}
		if seen == 400 {
			break
		}
	}
	old := stream(t, db, ChangeOptions{Since: first})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_, err = old.Next(ctx)
	cancel()
	if !errors.Is(err, ErrStreamLagged) {
		t.Fatalf("stream from pruned LSN %v: %v", first, err)
	}
	oldest := stream(t, db, ChangeOptions{Since: changefeed.Oldest})
	chs := rvDrain(t, oldest, 150*time.Millisecond)
	if len(chs) == 0 || chs[len(chs)-1].New[0] != int64(400) {
		t.Fatalf("Since(Oldest) gave %d changes", len(chs))
	}
	for i := 1; i < len(chs); i++ {
		if chs[i].New[0].(int64) != chs[i-1].New[0].(int64)+1 {
			t.Fatalf("Since(Oldest): %v then %v", chs[i-1].New, chs[i].New)
		}
	}
	mustExec(t, db, "PRAGMA wal_checkpoint(TRUNCATE)") // a log restart under retention
	mustExec(t, db, "INSERT INTO t VALUES (401)")
	if got := next(t, oldest, 1)[0]; got.New[0] != int64(401) || got.LSN <= chs[len(chs)-1].LSN {
		t.Fatalf("after a log restart: %v at %v", got.New, got.LSN)
	}
}

// TestReviewCDCRandomModel runs random transactions (commits, rollbacks,
// savepoints rolled back or released, statements failing under various
// conflict clauses, autocommit statements, BEGIN CONCURRENT ones) on a few
// tables from two connections, and rebuilds the tables from the stream:
// every change applies (exactly once, old values as the model has them)
// and the result is what the tables hold. With cdc=on, a stream opened
// after a reopen from Oldest yields the same changes as the live one.
func TestReviewCDCRandomModel(t *testing.T) {
	for _, cdc := range []string{"off", "on"} {
		for seed := uint64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprintf("cdc=%s/seed=%d", cdc, seed), func(t *testing.T) {
				rvRandomModel(t, cdc, seed)
			})
		}
	}
}

func rvRandomModel(t *testing.T, cdc string, seed uint64) {
	path := filepath.Join(t.TempDir(), "m.db")
	db := rvOpen(t, path, "cdc="+cdc+"&foreign_keys=on")
	mustExec(t, db, `
		CREATE TABLE a(id INTEGER PRIMARY KEY, u INTEGER UNIQUE, v);
		CREATE TABLE b(k TEXT, j INTEGER, v, PRIMARY KEY(k, j)) WITHOUT ROWID;
		CREATE TABLE c(id INTEGER PRIMARY KEY, aid INTEGER REFERENCES a(id) ON DELETE CASCADE, v);
		CREATE TABLE cnt(id INTEGER PRIMARY KEY, n);
		INSERT INTO cnt VALUES (1, 0);
		CREATE TRIGGER c_ins AFTER INSERT ON c BEGIN UPDATE cnt SET n = n + 1 WHERE id = 1; END;
		CREATE TABLE mark(n);
	`)
	keys := map[string][]int{"b": {0, 1}}
	tables := []string{"a", "b", "c", "cnt"}
	m := newRVModel(keys)
	for _, tab := range tables {
		m.rows[tab] = rvTable(t, db, tab, keys[tab])
	}
	s := stream(t, db, ChangeOptions{Buffer: 1 << 16})
	since := s.LSN()
	r := rand.New(rand.NewPCG(seed, 99))
	conns := []*sql.Conn{dbConn(t, db), dbConn(t, db)}
	ctx := context.Background()
	ocs := []string{"", "OR ABORT ", "OR FAIL ", "OR IGNORE ", "OR REPLACE ", "OR ROLLBACK "}
	stmt := func() string {
		oc := ocs[r.IntN(len(ocs))]
		n := r.IntN(12)
		switch r.IntN(9) {
		case 0, 1:
			return fmt.Sprintf("INSERT %sINTO a VALUES (%d, %d, 'v%d'), (%d, %d, 'w')", oc, n, r.IntN(8), r.IntN(100), n+1, r.IntN(8))
		case 2:
			return fmt.Sprintf("UPDATE %sa SET u = u + 1, v = v || '+' WHERE id >= %d", oc, n)
		case 3:
			return fmt.Sprintf("DELETE FROM a WHERE id = %d", n)
		case 4:
			return fmt.Sprintf("INSERT %sINTO b VALUES ('k%d', %d, %d), ('k%d', %d, 0)", oc, n%3, n, r.IntN(50), n%3, r.IntN(4))
		case 5:
			return fmt.Sprintf("UPDATE %sb SET j = j + 1 WHERE k = 'k%d'", oc, n%3)
		case 6:
			return fmt.Sprintf("INSERT %sINTO c(aid, v) VALUES (%d, 'c')", oc, n)
		case 7:
			return fmt.Sprintf("INSERT INTO a VALUES (%d, %d, 'up') ON CONFLICT(id) DO UPDATE SET v = excluded.v || id", n, 100+r.IntN(50))
		default:
			return fmt.Sprintf("DELETE FROM c WHERE id %% 3 = %d", n%3)
		}
	}
	for range 200 {
		c := conns[r.IntN(len(conns))]
		switch r.IntN(5) {
		case 0: // autocommit
			c.ExecContext(ctx, stmt())
		case 1: // autocommit through Query, with RETURNING, read partly
			if rows, err := c.QueryContext(ctx, stmt()+" RETURNING 1"); err == nil {
				for k := r.IntN(3); k > 0 && rows.Next(); k-- {
				}
				rows.Close()
			}
		default:
			begin := "BEGIN"
			if r.IntN(3) == 0 {
				begin = "BEGIN CONCURRENT"
			}
			if begin == "BEGIN CONCURRENT" {
				// Concurrent transactions touch a rowid table without
				// FK actions only, and do not interleave: rebases of
				// cascades are another test's business.
				cexec(t, c, begin)
				for range 1 + r.IntN(4) {
					n := r.IntN(40)
					switch r.IntN(3) {
					case 0:
						c.ExecContext(ctx, fmt.Sprintf("INSERT INTO b VALUES ('cc', %d, %d)", n, r.IntN(9)))
					case 1:
						c.ExecContext(ctx, fmt.Sprintf("UPDATE b SET v = v + 1 WHERE j < %d", n))
					default:
						c.ExecContext(ctx, "SAVEPOINT q")
						c.ExecContext(ctx, fmt.Sprintf("DELETE FROM b WHERE j > %d", n))
						if r.IntN(2) == 0 {
							c.ExecContext(ctx, "ROLLBACK TO q")
						}
						c.ExecContext(ctx, "RELEASE q")
					}
				}
				if r.IntN(4) == 0 {
					c.ExecContext(ctx, "ROLLBACK")
				} else if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
					c.ExecContext(ctx, "ROLLBACK")
				}
				continue
			}
			if _, err := c.ExecContext(ctx, begin); err != nil {
				t.Fatal(err)
			}
			depth := 0
			for range 1 + r.IntN(6) {
				switch k := r.IntN(10); {
				case k < 5:
					c.ExecContext(ctx, stmt())
				case k < 6:
					if rows, err := c.QueryContext(ctx, stmt()+" RETURNING 1"); err == nil {
						rows.Next()
						rows.Close()
					}
				case k < 8:
					c.ExecContext(ctx, fmt.Sprintf("SAVEPOINT s%d", depth))
					depth++
				case depth > 0 && k == 8:
					depth--
					c.ExecContext(ctx, fmt.Sprintf("ROLLBACK TO s%d", depth))
					c.ExecContext(ctx, fmt.Sprintf("RELEASE s%d", depth))
				case depth > 0:
					depth--
					c.ExecContext(ctx, fmt.Sprintf("RELEASE s%d", depth))
				}
			}
			end := "COMMIT"
			if r.IntN(4) == 0 {
				end = "ROLLBACK"
			}
			if _, err := c.ExecContext(ctx, end); err != nil {
				c.ExecContext(ctx, "ROLLBACK")
			}
		}
	}
	mustExec(t, db, "INSERT INTO mark VALUES (1)")
	got := rvUntilMark(t, s, 1)
	rvCheckOrder(t, got, true)
	ntx := 0
	for i := range got {
		if i == 0 || got[i].LSN != got[i-1].LSN {
			ntx++
		}
	}
	t.Logf("%d changes in %d transactions", len(got), ntx)
	if len(got) < 50 || ntx < 20 {
		t.Fatalf("only %d changes in %d transactions: the random workload does too little", len(got), ntx)
	}
	for i, ch := range got {
		if err := m.apply(ch); err != nil {
			lo := max(0, i-10)
			t.Fatalf("change %d: %v\nstream around it:\n  %s", i, err, strings.Join(rvDescribe(got[lo:i+1]), "\n  "))
		}
	}
	m.check(t, db, tables...)
	if cdc != "on" {
		return
	}
	for _, c := range conns {
		c.Close()
	}
	s.Close()
	closeChecked(t, db)
	db = rvOpen(t, path, "cdc=on")
	d := stream(t, db, ChangeOptions{Since: since})
	dur := rvUntilMark(t, d, 1)
	if !slices.Equal(rvDescribe(dur), rvDescribe(got)) {
		t.Fatalf("after a reopen the durable log has %d changes, the live stream had %d", len(dur), len(got))
	}
	for i := range dur {
		if dur[i].LSN != got[i].LSN || dur[i].Index != got[i].Index || !dur[i].CommitTime.Equal(got[i].CommitTime) {
			t.Fatalf("change %d: durable %v/%d/%v, live %v/%d/%v", i, dur[i].LSN, dur[i].Index, dur[i].CommitTime, got[i].LSN, got[i].Index, got[i].CommitTime)
		}
	}
	closeChecked(t, db)
}

const rvChildEnv = "LIBSQL_REVIEW_CDC_CHILD_DB"

// TestReviewCDCCrashChild is the child of TestReviewCDCCrashResume: with
// cdc=on it runs random transactions (committed, rolled back, with
// savepoints and failing statements) until it is killed, printing the
// resume point of an in-process stream after each change it reads.
func TestReviewCDCCrashChild(t *testing.T) {
	path := os.Getenv(rvChildEnv)
	if path == "" {
		t.Skip("child process of TestReviewCDCCrashResume")
	}
	db, err := Open("file:" + path + "?cdc=on&sync=full")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	db.Exec("CREATE TABLE IF NOT EXISTS a(id INTEGER PRIMARY KEY, u UNIQUE, v)")
	s, err := Changes(context.Background(), db, ChangeOptions{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	out := make(chan string, 4096)
	go func() {
		for {
			if _, err := s.Next(context.Background()); err != nil {
				out <- "error " + err.Error()
				return
			}
			out <- fmt.Sprintf("seen %d", s.LSN())
		}
	}()
	go func() {
		for line := range out {
			fmt.Println(line)
		}
	}()
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for {
		c.ExecContext(ctx, "BEGIN")
		for range 1 + r.IntN(4) {
			n := r.IntN(30)
			switch r.IntN(5) {
			case 0, 1:
				c.ExecContext(ctx, "INSERT INTO a VALUES (?, ?, 'v'), (?, ?, 'w')", n, r.IntN(30), n+1, r.IntN(30))
			case 2:
				c.ExecContext(ctx, "UPDATE a SET v = v || 'x', u = u + 1 WHERE id > ?", n)
			case 3:
				c.ExecContext(ctx, "SAVEPOINT s")
				c.ExecContext(ctx, "DELETE FROM a WHERE id < ?", n)
				c.ExecContext(ctx, "ROLLBACK TO s")
				c.ExecContext(ctx, "RELEASE s")
			default:
				c.ExecContext(ctx, "DELETE FROM a WHERE id = ?", n)
			}
		}
		if r.IntN(4) == 0 {
			c.ExecContext(ctx, "ROLLBACK")
		} else if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
			c.ExecContext(ctx, "ROLLBACK")
		}
	}
}

// TestReviewCDCCrashResume kills a child writing with cdc=on (kill -9)
// a few times, each child resuming nothing but the database; then the
// whole durable log, from Oldest, rebuilds the table exactly, and a stream
// resumed from the last LSN the child's stream saw yields exactly the
// log's transactions after it.
func TestReviewCDCCrashResume(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	var saved uint64
	for iter := range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestReviewCDCCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), rvChildEnv+"="+path)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		timer := time.AfterFunc(time.Duration(150+iter*60)*time.Millisecond, func() { cmd.Process.Kill() })
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 2 && f[0] == "seen":
				v, _ := strconv.ParseUint(f[1], 10, 64)
				if v < saved {
					cmd.Process.Kill()
					t.Fatalf("iteration %d: stream LSN went from %d back to %d", iter, saved, v)
				}
				saved = v
			case len(f) > 0 && f[0] == "error":
				cmd.Process.Kill()
				t.Fatalf("child: %s", sc.Text())
			}
		}
		timer.Stop()
		cmd.Wait()
	}
	if saved == 0 {
		t.Fatal("the children saw no change")
	}
	db := openTestDSN(t, "file:"+filepath.ToSlash(path)+"?cdc=on")
	all := rvDrain(t, stream(t, db, ChangeOptions{Since: changefeed.Oldest}), 200*time.Millisecond)
	rvCheckOrder(t, all, true)
	m := newRVModel(nil)
	for i, ch := range all {
		if err := m.apply(ch); err != nil {
			t.Fatalf("durable change %d: %v", i, err)
		}
	}
	m.check(t, db, "a")
	var want []string
	for _, ch := range all {
		if uint64(ch.LSN) > saved {
			want = append(want, fmt.Sprintf("%v/%d %s", ch.LSN, ch.Index, describeChange(ch)))
		}
	}
	var got []string
	for _, ch := range rvDrain(t, stream(t, db, ChangeOptions{Since: LSN(saved)}), 150*time.Millisecond) {
		got = append(got, fmt.Sprintf("%v/%d %s", ch.LSN, ch.Index, describeChange(ch)))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("resumed after %d: %d changes, the log has %d after it", saved, len(got), len(want))
	}
	t.Logf("%d durable changes, %d after the last one seen", len(all), len(want))
}
