package libsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
)

// kvStore is the data of a writable virtual table, shared by every
// connection: rowid -> text. Each connection's table keeps an undo log of
// its transaction, with a mark per savepoint, so ROLLBACK and ROLLBACK TO
// undo what it wrote.
type kvStore struct {
	mu        sync.Mutex
	rows      map[int64]string
	next      int64
	calls     []string
	failSync  bool
	destroyed bool
}

func (s *kvStore) log(call string) {
	s.mu.Lock()
	s.calls = append(s.calls, call)
	s.mu.Unlock()
}

func (s *kvStore) takeCalls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls
	s.calls = nil
	return c
}

type kvModule struct{ s *kvStore }

func (m kvModule) Connect(args []string) (string, VirtualTable, error) {
	return "CREATE TABLE x(v TEXT)", &kvTable{s: m.s, marks: map[int]int{}}, nil
}

type kvTable struct {
	s     *kvStore
	undo  []func()
	marks map[int]int
}

var errDuplicateKey = errors.New("kv: duplicate key")

func (t *kvTable) set(id int64, v string, present bool) {
	old, had := t.s.rows[id]
	if present {
		t.s.rows[id] = v
		t.s.next = max(t.s.next, id)
	} else {
		delete(t.s.rows, id)
	}
	t.undo = append(t.undo, func() {
		if had {
			t.s.rows[id] = old
		} else {
			delete(t.s.rows, id)
		}
	})
}

func (t *kvTable) Insert(rowid any, values []any) (int64, error) {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	v, _ := values[0].(string)
	if v == "panic" {
		panic("kv: told to")
	}
	var id int64
	switch r := rowid.(type) {
	case nil:
		t.s.next++
		id = t.s.next
	case int64:
		id = r
		if _, ok := t.s.rows[id]; ok {
			return 0, fmt.Errorf("rowid %d: %w (%w)", id, errDuplicateKey, ErrConstraint)
		}
		t.s.next = max(t.s.next, id)
	default:
		return 0, fmt.Errorf("rowid %v of type %T", rowid, rowid)
	}
	if v == "bad" {
		return 0, errors.New("kv: refuses the value bad")
	}
	t.set(id, v, true)
	return id, nil
}

func (t *kvTable) Update(oldRowid, rowid any, values []any) error {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	old, id := oldRowid.(int64), rowid.(int64)
	v, _ := values[0].(string)
	if v == "bad" {
		return errors.New("kv: refuses the value bad")
	}
	if id != old {
		if _, ok := t.s.rows[id]; ok {
			return fmt.Errorf("rowid %d: %w (%w)", id, errDuplicateKey, ErrConstraint)
		}
		t.set(old, "", false)
	}
	t.set(id, v, true)
	return nil
}

func (t *kvTable) Delete(rowid any) error {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	t.set(rowid.(int64), "", false)
	return nil
}

func (t *kvTable) Begin() error {
	t.s.log("begin")
	t.undo = nil
	return nil
}

func (t *kvTable) Sync() error {
	t.s.log("sync")
	if t.s.failSync {
		return errors.New("kv: sync failed")
	}
	return nil
}

func (t *kvTable) Commit() error {
	t.s.log("commit")
	t.undo, t.marks = nil, map[int]int{}
	return nil
}

func (t *kvTable) Rollback() error {
	t.s.log("rollback")
	t.rollbackTo(0)
	t.marks = map[int]int{}
	return nil
}

func (t *kvTable) rollbackTo(n int) {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	for len(t.undo) > n {
		t.undo[len(t.undo)-1]()
		t.undo = t.undo[:len(t.undo)-1]
	}
}

func (t *kvTable) Savepoint(n int) error {
	t.s.log(fmt.Sprintf("savepoint %d", n))
	t.marks[n] = len(t.undo)
	return nil
}

func (t *kvTable) Release(n int) error {
	t.s.log(fmt.Sprintf("release %d", n))
	for k := range t.marks {
		if k >= n {
			delete(t.marks, k)
		}
	}
	return nil
}

func (t *kvTable) RollbackTo(n int) error {
	t.s.log(fmt.Sprintf("rollbackto %d", n))
	if m, ok := t.marks[n]; ok {
		t.rollbackTo(m)
	}
	return nil
}

func (t *kvTable) Destroy() error {
	t.s.mu.Lock()
	t.s.destroyed = true
	t.s.mu.Unlock()
	return nil
}

func (t *kvTable) BestIndex(info *IndexInfo) error { return nil }
func (t *kvTable) Disconnect() error               { return nil }

func (t *kvTable) Open() (VirtualCursor, error) { return &kvCursor{t: t}, nil }

type kvCursor struct {
	t   *kvTable
	ids []int64
	i   int
}

func (c *kvCursor) Filter(int, string, []any) error {
	c.t.s.mu.Lock()
	defer c.t.s.mu.Unlock()
	c.ids = c.ids[:0]
	for id := range c.t.s.rows {
		c.ids = append(c.ids, id)
	}
	slices.Sort(c.ids)
	c.i = 0
	return nil
}
func (c *kvCursor) Next() error { c.i++; return nil }
func (c *kvCursor) EOF() bool   { return c.i >= len(c.ids) }
func (c *kvCursor) Column(f *FuncContext, i int) error {
	c.t.s.mu.Lock()
	defer c.t.s.mu.Unlock()
	f.ResultText(c.t.s.rows[c.ids[c.i]])
	return nil
}
func (c *kvCursor) Rowid() (int64, error) { return c.ids[c.i], nil }
func (c *kvCursor) Close() error          { return nil }

// kvRows returns the table's rows as "rowid=value" in rowid order.
func kvRows(t *testing.T, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) string {
	t.Helper()
	rows, err := q.QueryContext(context.Background(), "SELECT rowid, v FROM kv ORDER BY rowid")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id int64
		var v string
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d=%s", id, v))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, " ")
}

func kvDB(t *testing.T) (*kvStore, *sql.DB) {
	t.Helper()
	return kvDBOf(t, func(s *kvStore) Module { return kvModule{s} })
}

// kvDBOf opens a database with the virtual table kv of the module mod
// makes for a new kvStore, with the calls of its creation forgotten.
func kvDBOf(t *testing.T, mod func(*kvStore) Module) (*kvStore, *sql.DB) {
	t.Helper()
	s := &kvStore{rows: map[int64]string{}}
	db := openTestDB(t, "", WithModule("kv", mod(s)))
	mustExec(t, db, "CREATE VIRTUAL TABLE kv USING kv")
	s.takeCalls()
	return s, db
}

// INSERT (with a rowid and without), UPDATE (of the value and of the
// rowid) and DELETE reach the table, in autocommit each inside Begin,
// Sync and Commit.
func TestVirtualTableWrites(t *testing.T) {
	s, db := kvDB(t)
	mustExec(t, db, "INSERT INTO kv(v) VALUES ('a')")
	if got, want := s.takeCalls(), []string{"begin", "sync", "commit"}; !slices.Equal(got, want) {
		t.Errorf("calls of an autocommit INSERT: %q, want %q", got, want)
	}
	mustExec(t, db, "INSERT INTO kv(rowid, v) VALUES (10, 'ten'), (11, 'eleven')")
	r := mustExec(t, db, "UPDATE kv SET v = v || '!' WHERE rowid >= 10")
	if n, _ := r.RowsAffected(); n != 2 {
		t.Errorf("UPDATE affected %d rows, want 2", n)
	}
	mustExec(t, db, "UPDATE kv SET rowid = 20 WHERE rowid = 11")
	mustExec(t, db, "DELETE FROM kv WHERE v = 'a'")
	if got, want := kvRows(t, db), "10=ten! 20=eleven!"; got != want {
		t.Fatalf("rows %q, want %q", got, want)
	}
	var id int64
	res := mustExec(t, db, "INSERT INTO kv(v) VALUES ('next')")
	if id, _ = res.LastInsertId(); id != 21 {
		t.Errorf("LastInsertId %d, want 21 (the rowid Insert chose)", id)
	}
}

// A table that is not a VirtualTableWriter refuses writes, naming itself.
func TestVirtualTableReadOnlyRefusesWrites(t *testing.T) {
	db := openTestDB(t, "", WithModule("series", seriesModule{}))
	mustExec(t, db, "CREATE VIRTUAL TABLE s USING series")
	for _, q := range []string{
		"INSERT INTO s(value) VALUES (1)",
		"DELETE FROM s WHERE start = 1 AND stop = 3",
		"UPDATE s SET value = 2 WHERE start = 1 AND stop = 3",
	} {
		if _, err := db.Exec(q); err == nil || !strings.Contains(err.Error(), "table s may not be modified") {
			t.Errorf("%s: %v, want \"table s may not be modified\"", q, err)
		}
	}
}

// An error wrapping ErrConstraint is a constraint violation; another error
// fails the statement with its text; both are the *Error's cause, and a
// panic is an error too.
func TestVirtualTableWriteErrors(t *testing.T) {
	_, db := kvDB(t)
	mustExec(t, db, "INSERT INTO kv(rowid, v) VALUES (1, 'one')")
	_, err := db.Exec("INSERT INTO kv(rowid, v) VALUES (1, 'again')")
	var e *Error
	if !errors.As(err, &e) || e.Code() != CONSTRAINT || !errors.Is(err, errDuplicateKey) || !strings.Contains(err.Error(), "rowid 1: kv: duplicate key") {
		t.Errorf("duplicate rowid: %v, want SQLITE_CONSTRAINT caused by errDuplicateKey", err)
	}
	_, err = db.Exec("UPDATE kv SET v = 'bad'")
	if err == nil || errors.Is(err, ErrConstraint) || !strings.Contains(err.Error(), "kv: refuses the value bad") {
		t.Errorf("refused value: %v", err)
	}
	_, err = db.Exec("INSERT INTO kv(v) VALUES ('panic')")
	if err == nil || !strings.Contains(err.Error(), "kv: told to") {
		t.Errorf("panic in Insert: %v", err)
	}
	if got, want := kvRows(t, db), "1=one"; got != want {
		t.Fatalf("rows %q, want %q", got, want)
	}
}

// A statement that fails after writing some rows undoes them (SQLite
// rolls its statement savepoint back), and so do ROLLBACK TO and
// ROLLBACK; COMMIT keeps the rest.
func TestVirtualTableTransactions(t *testing.T) {
	s, db := kvDB(t)
	mustExec(t, db, "CREATE TABLE src(v TEXT)")
	mustExec(t, db, "INSERT INTO src VALUES ('x'), ('y'), ('bad'), ('z')")
	if _, err := db.Exec("INSERT INTO kv(v) SELECT v FROM src"); err == nil {
		t.Fatal("INSERT ... SELECT with a refused value succeeded")
	}
	if got := kvRows(t, db); got != "" {
		t.Fatalf("after a failed INSERT ... SELECT: rows %q, want none", got)
	}
	if calls := s.takeCalls(); !slices.Contains(calls, "rollback") {
		t.Errorf("calls of a failed statement in autocommit: %q, want a rollback", calls)
	}

	// Inside a transaction, the failed statement's rows are undone and the
	// transaction's others kept.
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO kv(rowid, v) VALUES (7, 'before')"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO kv(v) SELECT v FROM src"); err == nil {
		t.Fatal("INSERT ... SELECT with a refused value succeeded")
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, want := kvRows(t, db), "7=before"; got != want {
		t.Fatalf("after a failed statement in a transaction: rows %q, want %q", got, want)
	}
	if calls := s.takeCalls(); !slices.Contains(calls, "rollbackto 0") || slices.Contains(calls, "rollback") {
		t.Errorf("calls of a failed statement in a transaction: %q, want a rollbackto 0 and no rollback", calls)
	}
	mustExec(t, db, "DELETE FROM kv")

	tx, err = db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"INSERT INTO kv(rowid, v) VALUES (1, 'kept')",
		"INSERT INTO src VALUES ('in the same transaction')",
		"SAVEPOINT sp",
		"INSERT INTO kv(rowid, v) VALUES (2, 'undone')",
		"ROLLBACK TO sp",
		"RELEASE sp",
	} {
		if _, err := tx.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, want := kvRows(t, db), "1=kept"; got != want {
		t.Fatalf("after COMMIT: rows %q, want %q", got, want)
	}

	tx, err = db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO kv(rowid, v) VALUES (3, 'rolled back')"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if got, want := kvRows(t, db), "1=kept"; got != want {
		t.Fatalf("after ROLLBACK: rows %q, want %q", got, want)
	}

	// A Sync error fails the COMMIT and rolls the whole transaction back,
	// the database's part included.
	s.failSync = true
	tx, err = db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO kv(rowid, v) VALUES (4, 'not synced')"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO src VALUES ('not committed')"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err == nil || !strings.Contains(err.Error(), "kv: sync failed") {
		t.Fatalf("COMMIT with a failing Sync: %v", err)
	}
	s.failSync = false
	if got, want := kvRows(t, db), "1=kept"; got != want {
		t.Fatalf("after a failed COMMIT: rows %q, want %q", got, want)
	}
	if n := count(t, db, "SELECT count(*) FROM src WHERE v = 'not committed'"); n != 0 {
		t.Fatal("the database's part of a transaction whose Sync failed was committed")
	}
}

// DROP TABLE calls Destroy.
func TestVirtualTableDestroy(t *testing.T) {
	s, db := kvDB(t)
	mustExec(t, db, "DROP TABLE kv")
	if !s.destroyed {
		t.Fatal("DROP TABLE did not call Destroy")
	}
}

// A BEGIN CONCURRENT transaction that wrote a virtual table is not
// rebased, which would lose the table's writes (SQLite rolls them back
// with the transaction, and the replay holds only the database's rows):
// where it would be rebased, it conflicts, and the table's writes are
// undone.
func TestVirtualTableWriteInConcurrentTransaction(t *testing.T) {
	s, db := kvDB(t)
	mustExec(t, db, "CREATE TABLE a(id INTEGER PRIMARY KEY, v)")
	mustExec(t, db, "CREATE TABLE b(id INTEGER PRIMARY KEY, v)")
	c1 := dbConn(t, db)
	cexec(t, c1, "BEGIN CONCURRENT")
	cexec(t, c1, "INSERT INTO a(v) VALUES (randomblob(100000))")
	cexec(t, c1, "INSERT INTO kv(rowid, v) VALUES (1, 'mine')")
	mustExec(t, db, "INSERT INTO b(v) VALUES (randomblob(100000))") // both allocate: a rebase
	_, err := c1.ExecContext(context.Background(), "COMMIT")
	if !errors.Is(err, ErrBusySnapshot) || !strings.Contains(err.Error(), "virtual table kv") {
		t.Fatalf("COMMIT: %v, want ErrBusySnapshot naming the virtual table", err)
	}
	if got := kvRows(t, db); got != "" {
		t.Fatalf("rows %q after the conflict, want none", got)
	}
	if n := count(t, db, "SELECT count(*) FROM a"); n != 0 {
		t.Fatal("the conflicting transaction committed its row")
	}
	if calls := s.takeCalls(); !slices.Contains(calls, "rollback") {
		t.Errorf("calls: %q, want a rollback", calls)
	}
}

// wrTable is a WITHOUT ROWID virtual table keyed by text that records the
// writes it gets.
type wrTable struct {
	rows  map[string]int64
	calls []string
}

func (t *wrTable) BestIndex(*IndexInfo) error   { return nil }
func (t *wrTable) Disconnect() error            { return nil }
func (t *wrTable) Open() (VirtualCursor, error) { return &wrCursor{t: t}, nil }

func (t *wrTable) Insert(rowid any, values []any) (int64, error) {
	t.calls = append(t.calls, fmt.Sprintf("insert %v %v", rowid, values))
	t.rows[values[0].(string)] = values[1].(int64)
	return 0, nil
}

func (t *wrTable) Update(oldRowid, rowid any, values []any) error {
	t.calls = append(t.calls, fmt.Sprintf("update %v %v %v", oldRowid, rowid, values))
	delete(t.rows, oldRowid.(string))
	t.rows[rowid.(string)] = values[1].(int64)
	return nil
}

func (t *wrTable) Delete(rowid any) error {
	t.calls = append(t.calls, fmt.Sprintf("delete %v", rowid))
	delete(t.rows, rowid.(string))
	return nil
}

type wrCursor struct {
	t    *wrTable
	keys []string
	i    int
}

func (c *wrCursor) Filter(int, string, []any) error {
	c.keys = slices.Sorted(maps.Keys(c.t.rows))
	c.i = 0
	return nil
}
func (c *wrCursor) Next() error { c.i++; return nil }
func (c *wrCursor) EOF() bool   { return c.i >= len(c.keys) }
func (c *wrCursor) Column(f *FuncContext, i int) error {
	if i == 0 {
		f.ResultText(c.keys[c.i])
	} else {
		f.ResultInt64(c.t.rows[c.keys[c.i]])
	}
	return nil
}
func (c *wrCursor) Rowid() (int64, error) { return 0, errors.New("WITHOUT ROWID") }
func (c *wrCursor) Close() error          { return nil }

// wrModule declares a WITHOUT ROWID table (k TEXT PRIMARY KEY, n INTEGER)
// whose every connection shares t (a *wrTable, or one wrapping it).
type wrModule struct{ t VirtualTable }

// wrDB opens a database with the table w of wrModule{t}, on one connection.
func wrDB(t *testing.T, tab VirtualTable) *sql.DB {
	t.Helper()
	db := openTestDB(t, "", WithModule("wr", wrModule{tab}))
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE VIRTUAL TABLE w USING wr")
	return db
}

func (m wrModule) Connect([]string) (string, VirtualTable, error) {
	return "CREATE TABLE x(k TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID", m.t, nil
}

// In a WITHOUT ROWID virtual table, the rowids Insert, Update and Delete
// get are the PRIMARY KEY's values, and Insert's is nil.
func TestVirtualTableWithoutRowidWrites(t *testing.T) {
	tab := &wrTable{rows: map[string]int64{}}
	db := wrDB(t, tab)
	mustExec(t, db, "INSERT INTO w VALUES ('a', 1)")
	mustExec(t, db, "UPDATE w SET k = 'b', n = 2 WHERE k = 'a'")
	mustExec(t, db, "UPDATE w SET n = 3 WHERE k = 'b'")
	var n int64
	if err := db.QueryRow("SELECT n FROM w WHERE k = 'b'").Scan(&n); err != nil || n != 3 {
		t.Fatalf("n = %d, %v; want 3", n, err)
	}
	mustExec(t, db, "DELETE FROM w WHERE k = 'b'")
	want := []string{"insert <nil> [a 1]", "update a b [b 2]", "update b b [b 3]", "delete b"}
	if !slices.Equal(tab.calls, want) {
		t.Fatalf("calls %q, want %q", tab.calls, want)
	}
}

type compositeKeyModule struct{}

func (compositeKeyModule) Connect([]string) (string, VirtualTable, error) {
	return "CREATE TABLE x(a, b, PRIMARY KEY(a, b)) WITHOUT ROWID", &wrTable{rows: map[string]int64{}}, nil
}

// A WITHOUT ROWID table needs a one-column PRIMARY KEY, as SQLite requires
// of a virtual table that can be written; the error says so.
func TestVirtualTableWithoutRowidCompositeKey(t *testing.T) {
	db := openTestDB(t, "", WithModule("ck", compositeKeyModule{}))
	_, err := db.Exec("CREATE VIRTUAL TABLE c USING ck")
	if err == nil || !strings.Contains(err.Error(), "needs a one-column PRIMARY KEY") {
		t.Fatalf("CREATE VIRTUAL TABLE with a two-column key WITHOUT ROWID: %v", err)
	}
}

// An Update error wrapping ErrConstraint follows the statement's ON
// CONFLICT: OR IGNORE skips the row and goes on; OR FAIL stops, keeping
// the rows written before; OR REPLACE, which a table that is not a
// VirtualTableReplacer cannot carry out, fails as ABORT does, undoing the
// statement's rows.
func TestVirtualTableOnConflict(t *testing.T) {
	s, db := kvDB(t)
	mustExec(t, db, "INSERT INTO kv(rowid, v) VALUES (2, 'two')")
	r := mustExec(t, db, "INSERT OR IGNORE INTO kv(rowid, v) VALUES (1, 'one'), (2, 'dup'), (3, 'three')")
	if n, _ := r.RowsAffected(); n != 2 {
		t.Errorf("INSERT OR IGNORE affected %d rows, want 2", n)
	}
	if got, want := kvRows(t, db), "1=one 2=two 3=three"; got != want {
		t.Fatalf("after INSERT OR IGNORE: rows %q, want %q", got, want)
	}
	mustExec(t, db, "UPDATE OR IGNORE kv SET rowid = 3 WHERE rowid = 1")
	if got, want := kvRows(t, db), "1=one 2=two 3=three"; got != want {
		t.Fatalf("after UPDATE OR IGNORE: rows %q, want %q", got, want)
	}

	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec("INSERT OR FAIL INTO kv(rowid, v) VALUES (4, 'four'), (2, 'dup'), (5, 'five')")
	if !errors.Is(err, ErrConstraint) {
		t.Fatalf("INSERT OR FAIL of a duplicate: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, want := kvRows(t, db), "1=one 2=two 3=three 4=four"; got != want {
		t.Fatalf("after INSERT OR FAIL: rows %q, want %q", got, want)
	}

	s.takeCalls()
	tx, err = db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec("INSERT OR REPLACE INTO kv(rowid, v) VALUES (6, 'six'), (2, 'dup')")
	if !errors.Is(err, ErrConstraint) || !errors.Is(err, errDuplicateKey) {
		t.Fatalf("INSERT OR REPLACE of a duplicate: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, want := kvRows(t, db), "1=one 2=two 3=three 4=four"; got != want {
		t.Fatalf("after INSERT OR REPLACE: rows %q, want %q", got, want)
	}
}
