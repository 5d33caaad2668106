package libsql

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// kvReplacer is kvTable with OR REPLACE: Replace writes the row over any
// row with its rowid. The value "conflict" is a conflict it cannot
// resolve.
type kvReplacer struct{ *kvTable }

type kvReplaceModule struct{ s *kvStore }

func newKVReplacer(s *kvStore) Module { return kvReplaceModule{s} }

func (m kvReplaceModule) Connect([]string) (string, VirtualTable, error) {
	return "CREATE TABLE x(v TEXT)", kvReplacer{&kvTable{s: m.s, marks: map[int]int{}}}, nil
}

func (t kvReplacer) Replace(oldRowid, rowid any, values []any) (int64, error) {
	t.s.log(fmt.Sprintf("replace %v %v %v", oldRowid, rowid, values))
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	v, _ := values[0].(string)
	if v == "conflict" {
		return 0, fmt.Errorf("kv: %q may not replace: %w", v, ErrConstraint)
	}
	var id int64
	if r, ok := rowid.(int64); ok {
		id = r
	} else {
		t.s.next++
		id = t.s.next
	}
	if old, ok := oldRowid.(int64); ok && old != id {
		t.set(old, "", false)
	}
	t.set(id, v, true)
	return id, nil
}

func (t kvReplacer) Insert(rowid any, values []any) (int64, error) {
	t.s.log(fmt.Sprintf("insert %v %v", rowid, values))
	return t.kvTable.Insert(rowid, values)
}

func (t kvReplacer) Update(oldRowid, rowid any, values []any) error {
	t.s.log(fmt.Sprintf("update %v %v %v", oldRowid, rowid, values))
	return t.kvTable.Update(oldRowid, rowid, values)
}

// writes returns the Insert, Update and Replace calls s logged since the
// last call, leaving out the transaction and savepoint calls.
func writes(s *kvStore) []string {
	var out []string
	for _, c := range s.takeCalls() {
		if strings.HasPrefix(c, "insert") || strings.HasPrefix(c, "update") || strings.HasPrefix(c, "replace") {
			out = append(out, c)
		}
	}
	return out
}

// OR REPLACE on a VirtualTableReplacer reaches Replace, which SQLite
// leaves replacing to, for INSERT OR REPLACE, REPLACE INTO and UPDATE OR
// REPLACE; every other conflict resolution still reaches Insert and
// Update.
func TestVirtualTableReplace(t *testing.T) {
	s, db := kvDBOf(t, newKVReplacer)
	mustExec(t, db, "INSERT INTO kv(rowid, v) VALUES (1, 'one'), (2, 'two')")
	if got, want := writes(s), []string{"insert 1 [one]", "insert 2 [two]"}; !slices.Equal(got, want) {
		t.Fatalf("INSERT: calls %q, want %q", got, want)
	}

	r := mustExec(t, db, "INSERT OR REPLACE INTO kv(rowid, v) VALUES (2, 'TWO'), (3, 'three')")
	if n, _ := r.RowsAffected(); n != 2 {
		t.Errorf("INSERT OR REPLACE affected %d rows, want 2", n)
	}
	mustExec(t, db, "REPLACE INTO kv(rowid, v) VALUES ('1', 'ONE')")
	r = mustExec(t, db, "INSERT OR REPLACE INTO kv(v) VALUES ('four')")
	if id, _ := r.LastInsertId(); id != 4 {
		t.Errorf("INSERT OR REPLACE without a rowid: LastInsertId %d, want 4 (Replace's choice)", id)
	}
	if got, want := writes(s), []string{"replace <nil> 2 [TWO]", "replace <nil> 3 [three]", "replace <nil> 1 [ONE]", "replace <nil> <nil> [four]"}; !slices.Equal(got, want) {
		t.Fatalf("INSERT OR REPLACE, REPLACE INTO: calls %q, want %q", got, want)
	}
	if got, want := kvRows(t, db), "1=ONE 2=TWO 3=three 4=four"; got != want {
		t.Fatalf("after INSERT OR REPLACE: rows %q, want %q", got, want)
	}

	mustExec(t, db, "UPDATE OR REPLACE kv SET rowid = 3 WHERE rowid = 1")
	if got, want := writes(s), []string{"replace 1 3 [ONE]"}; !slices.Equal(got, want) {
		t.Fatalf("UPDATE OR REPLACE: calls %q, want %q", got, want)
	}
	if got, want := kvRows(t, db), "2=TWO 3=ONE 4=four"; got != want {
		t.Fatalf("after UPDATE OR REPLACE: rows %q, want %q", got, want)
	}

	_, err := db.Exec("INSERT INTO kv(rowid, v) VALUES (2, 'dup')")
	if !errors.Is(err, ErrConstraint) || !errors.Is(err, errDuplicateKey) {
		t.Fatalf("plain INSERT of a duplicate: %v, want Insert's constraint error", err)
	}
	_, err = db.Exec("INSERT INTO kv(rowid, v) VALUES (2, 'x') ON CONFLICT DO UPDATE SET v = 'y'")
	if err == nil || !strings.Contains(err.Error(), "UPSERT not implemented for virtual table") {
		t.Fatalf("UPSERT on a virtual table: %v, want SQLite's refusal (the README says OR REPLACE is their upsert)", err)
	}
	mustExec(t, db, "INSERT OR IGNORE INTO kv(rowid, v) VALUES (2, 'dup')")
	mustExec(t, db, "UPDATE kv SET v = 'four!' WHERE rowid = 4")
	if got, want := writes(s), []string{"insert 2 [dup]", "insert 2 [dup]", "update 4 4 [four!]"}; !slices.Equal(got, want) {
		t.Fatalf("INSERT, INSERT OR IGNORE, UPDATE: calls %q, want %q", got, want)
	}
}

// A conflict Replace cannot resolve (ErrConstraint) fails the statement
// as OR ABORT does: the statement's rows before it are undone, the
// transaction goes on.
func TestVirtualTableReplaceConflict(t *testing.T) {
	_, db := kvDBOf(t, newKVReplacer)
	mustExec(t, db, "INSERT INTO kv(rowid, v) VALUES (1, 'one')")
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	mustExec(t, tx, "INSERT INTO kv(rowid, v) VALUES (2, 'two')")
	_, err = tx.Exec("INSERT OR REPLACE INTO kv(rowid, v) VALUES (1, 'ONE'), (3, 'conflict')")
	if !errors.Is(err, ErrConstraint) || !strings.Contains(err.Error(), `"conflict" may not replace`) {
		t.Fatalf("INSERT OR REPLACE that Replace refuses: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, want := kvRows(t, db), "1=one 2=two"; got != want {
		t.Fatalf("rows %q, want %q: the failed statement undone, the transaction's first INSERT kept", got, want)
	}
}

type wrReplacer struct{ *wrTable }

func (t wrReplacer) Replace(oldRowid, rowid any, values []any) (int64, error) {
	t.calls = append(t.calls, fmt.Sprintf("replace %v %v %v", oldRowid, rowid, values))
	if old, ok := oldRowid.(string); ok {
		delete(t.rows, old)
	}
	t.rows[values[0].(string)] = values[1].(int64)
	return 0, nil
}

// WITHOUT ROWID, Replace gets the keys as Insert and Update do: nil for
// an INSERT, the old and new key for an UPDATE.
func TestVirtualTableReplaceWithoutRowid(t *testing.T) {
	tab := &wrTable{rows: map[string]int64{}}
	db := wrDB(t, wrReplacer{tab})
	mustExec(t, db, "INSERT INTO w VALUES ('a', 1), ('b', 2)")
	mustExec(t, db, "INSERT OR REPLACE INTO w VALUES ('a', 10)")
	mustExec(t, db, "UPDATE OR REPLACE w SET k = 'b' WHERE k = 'a'")
	want := []string{"insert <nil> [a 1]", "insert <nil> [b 2]", "replace <nil> <nil> [a 10]", "replace a b [b 10]"}
	if !slices.Equal(tab.calls, want) {
		t.Fatalf("calls %q, want %q", tab.calls, want)
	}
	var n int64
	if err := db.QueryRow("SELECT n FROM w WHERE k = 'b'").Scan(&n); err != nil || n != 10 {
		t.Fatalf("n = %d, %v; want 10", n, err)
	}
}
