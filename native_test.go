package libsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// openNativeConn opens a Conn on a new database file of the test's own,
// with query appended to the DSN; the connector and the connection close
// at cleanup, after an integrity check.
func openNativeConn(t *testing.T, query string) (*Connector, *Conn) {
	t.Helper()
	dsn := "file:" + filepath.ToSlash(filepath.Join(t.TempDir(), "native.db"))
	if query != "" {
		dsn += "?" + query
	}
	ctr, err := NewConnector(dsn)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ctr.ConnectConn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var s string
		if err := c.QueryRow(context.Background(), "PRAGMA integrity_check").Scan(&s); err != nil || s != "ok" {
			t.Errorf("integrity_check: %q %v", s, err)
		}
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		ctr.Close()
	})
	return ctr, c
}

func mustNativeExec(t *testing.T, c *Conn, query string, args ...any) Result {
	t.Helper()
	r, err := c.Exec(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("Exec(%q): %v", query, err)
	}
	return r
}

func TestNativeExecQuery(t *testing.T) {
	ctx := context.Background()
	_, c := openNativeConn(t, "")
	mustNativeExec(t, c, "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, score REAL, data BLOB, at DATETIME)")
	at := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	r := mustNativeExec(t, c, "INSERT INTO t(name, score, data, at) VALUES (?, ?, ?, ?)", "ann", 1.5, []byte{1, 2}, at)
	if id, _ := r.LastInsertId(); id != 1 {
		t.Errorf("LastInsertId = %d", id)
	}
	if n, _ := r.RowsAffected(); n != 1 {
		t.Errorf("RowsAffected = %d", n)
	}
	mustNativeExec(t, c, "INSERT INTO t(name, score) VALUES (:n, :s)", sql.Named("s", 2), sql.Named("n", "bob"))
	r = mustNativeExec(t, c, "UPDATE t SET score = score + 1")
	if n, _ := r.RowsAffected(); n != 2 {
		t.Errorf("RowsAffected of UPDATE = %d", n)
	}

	rows, err := c.Query(ctx, "SELECT id, name, score, data, at FROM t ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	if got := rows.Columns(); !reflect.DeepEqual(got, []string{"id", "name", "score", "data", "at"}) {
		t.Errorf("Columns = %q", got)
	}
	var got []string
	for rows.Next() {
		var (
			id    int64
			name  string
			score float64
			data  []byte
			ts    sql.NullTime
		)
		if err := rows.Scan(&id, &name, &score, &data, &ts); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %s %g %v %v %v", id, name, score, data, ts.Valid, ts.Time.Equal(at)))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{"1 ann 2.5 [1 2] true true", "2 bob 3 [] false false"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows:\n got %q\nwant %q", got, want)
	}
	if rows.Next() || rows.Close() != nil || rows.Scan() == nil {
		t.Error("closed rows: Next true, Close failed or Scan succeeded")
	}
	if len(c.open) != 0 {
		t.Errorf("%d rows still tracked", len(c.open))
	}

	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM t WHERE score > ?", 0).Scan(&n); err != nil || n != 2 {
		t.Errorf("QueryRow count = %d, %v", n, err)
	}
	if err := c.QueryRow(ctx, "SELECT id FROM t WHERE id = ?", 99).Scan(&n); !errors.Is(err, sql.ErrNoRows) {
		t.Errorf("QueryRow of no row: %v", err)
	}
	if err := c.QueryRow(ctx, "SELECT nope FROM t").Scan(&n); err == nil || !strings.HasPrefix(err.Error(), "libsql: ") {
		t.Errorf("QueryRow of bad SQL: %v", err)
	}
	if _, err := c.Exec(ctx, "INSERT INTO t(id) VALUES (?)"); err == nil {
		t.Error("Exec with a missing argument succeeded")
	}
	if _, err := c.Exec(ctx, "INSERT INTO t(id) VALUES (?)", struct{}{}); err == nil || !strings.HasPrefix(err.Error(), "libsql: ") {
		t.Errorf("Exec with a bad argument: %v", err)
	}
	// A script, and a Valuer and a pointer as arguments.
	mustNativeExec(t, c, "CREATE TABLE u(v); INSERT INTO u VALUES (?); INSERT INTO u VALUES (?)", sql.NullInt64{Int64: 7, Valid: true}, new("p"))
	var vs []any
	rows, err = c.Query(ctx, "SELECT v FROM u ORDER BY rowid")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v any
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	if !reflect.DeepEqual(vs, []any{int64(7), "p"}) {
		t.Errorf("values %#v", vs)
	}
	if len(c.open) != 0 {
		t.Errorf("%d rows still tracked", len(c.open))
	}
}

// TestNativeScanMatchesDatabaseSQL scans every kind of stored value into
// every kind of destination through database/sql and through a Conn, on
// the same database, and requires the same values and the same failures.
func TestNativeScanMatchesDatabaseSQL(t *testing.T) {
	ctx := context.Background()
	ctr, c := openNativeConn(t, "")
	db := sql.OpenDB(ctr)
	mustNativeExec(t, c, "CREATE TABLE v(x, d DATETIME)")
	for _, v := range []any{
		int64(42), int64(-7), int64(0), int64(1), int64(1 << 40), 3.25, 2.0, 1e300,
		"hello", "42", "1.5", "true", "", []byte{0, 1, 255}, []byte{}, nil,
	} {
		mustNativeExec(t, c, "INSERT INTO v(x) VALUES (?)", v)
	}
	mustNativeExec(t, c, "INSERT INTO v(x, d) VALUES (1, '2024-01-02 03:04:05')")
	mustNativeExec(t, c, "INSERT INTO v(x, d) VALUES (1, 'not a time')")
	type myString string
	type myInt int16
	dests := []func() any{
		func() any { return new(int64) }, func() any { return new(int) }, func() any { return new(int32) },
		func() any { return new(uint8) }, func() any { return new(uint64) }, func() any { return new(float64) },
		func() any { return new(float32) }, func() any { return new(string) }, func() any { return new([]byte) },
		func() any { return new(bool) }, func() any { return new(any) }, func() any { return new(*int64) },
		func() any { return new(*string) }, func() any { return new(myString) }, func() any { return new(myInt) },
		func() any { return new(sql.NullString) }, func() any { return new(sql.NullInt64) },
		func() any { return new(sql.NullFloat64) }, func() any { return new(sql.Null[int]) },
	}
	for _, col := range []string{"x", "d"} {
		n := 0
		if err := db.QueryRow("SELECT count(*) FROM v").Scan(&n); err != nil {
			t.Fatal(err)
		}
		for row := 1; row <= n; row++ {
			q := "SELECT " + col + " FROM v WHERE rowid = ?"
			for _, mk := range dests {
				want, got := mk(), mk()
				werr := db.QueryRowContext(ctx, q, row).Scan(want)
				gerr := c.QueryRow(ctx, q, row).Scan(got)
				if (werr == nil) != (gerr == nil) {
					t.Errorf("%s row %d into %T: database/sql error %v, Conn error %v", col, row, want, werr, gerr)
					continue
				}
				if col == "d" && (reflect.TypeOf(want) == reflect.TypeFor[*string]() || reflect.TypeOf(want) == reflect.TypeFor[*[]byte]()) {
					// By design: the stored text, not database/sql's
					// reformatting of the time it parses.
					continue
				}
				if werr == nil && !reflect.DeepEqual(want, got) {
					t.Errorf("%s row %d into %T: database/sql %#v, Conn %#v", col, row, want, deref(want), deref(got))
				}
			}
		}
	}
	// time.Time: a time column reads as a time, like database/sql.
	var want, got time.Time
	if err := db.QueryRow("SELECT d FROM v WHERE d LIKE '2024%'").Scan(&want); err != nil {
		t.Fatal(err)
	}
	if err := c.QueryRow(ctx, "SELECT d FROM v WHERE d LIKE '2024%'").Scan(&got); err != nil || !got.Equal(want) {
		t.Errorf("time: %v %v, want %v", got, err, want)
	}
	if err := c.QueryRow(ctx, "SELECT d FROM v WHERE d = 'not a time'").Scan(&got); err == nil {
		t.Error("text that is no time scanned into *time.Time")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func deref(p any) any { return reflect.ValueOf(p).Elem().Interface() }

func TestNativeRawBytes(t *testing.T) {
	_, c := openNativeConn(t, "")
	rows, err := c.Query(context.Background(), "SELECT 'abc', x'0102', 12, 1.5, NULL")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatal(rows.Err())
	}
	var a, b, i, f, n sql.RawBytes
	if err := rows.Scan(&a, &b, &i, &f, &n); err != nil {
		t.Fatal(err)
	}
	if string(a) != "abc" || string(b) != "\x01\x02" || string(i) != "12" || n != nil {
		t.Errorf("raw bytes %q %q %q %v", a, b, i, n)
	}
	if err := rows.Scan(&a); err == nil {
		t.Error("Scan with too few destinations succeeded")
	}
}

func TestNativeTx(t *testing.T) {
	ctx := context.Background()
	_, c := openNativeConn(t, "")
	mustNativeExec(t, c, "CREATE TABLE t(x INTEGER)")
	if c.InTx() {
		t.Fatal("InTx before BeginTx")
	}
	if err := c.Commit(); err == nil {
		t.Error("Commit without BeginTx succeeded")
	}
	if err := c.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable}); err != nil {
		t.Fatal(err)
	}
	mustNativeExec(t, c, "INSERT INTO t VALUES (1)")
	rows, err := c.Query(ctx, "SELECT x FROM t")
	if err != nil {
		t.Fatal(err)
	}
	if !c.InTx() {
		t.Error("not InTx after BeginTx")
	}
	if err := c.Rollback(); err != nil {
		t.Fatal(err)
	}
	if rows.Next() {
		t.Error("rows still open after Rollback")
	}
	if err := c.BeginTx(ctx, nil); err != nil {
		t.Fatal(err)
	}
	mustNativeExec(t, c, "INSERT INTO t VALUES (2)")
	if err := c.Commit(); err != nil {
		t.Fatal(err)
	}
	var sum int
	if err := c.QueryRow(ctx, "SELECT sum(x) FROM t").Scan(&sum); err != nil || sum != 2 {
		t.Errorf("sum = %d, %v", sum, err)
	}

	// Read-only transactions refuse writes.
	if err := c.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "INSERT INTO t VALUES (3)"); !errors.Is(err, ErrReadOnly) {
		t.Errorf("write in a read-only transaction: %v", err)
	}
	if err := c.Commit(); err != nil {
		t.Fatal(err)
	}
	mustNativeExec(t, c, "INSERT INTO t VALUES (3)")

	// Reset ends a transaction begun with SQL, and one begun with BeginTx.
	mustNativeExec(t, c, "BEGIN IMMEDIATE; INSERT INTO t VALUES (100)")
	if _, err := c.Query(ctx, "SELECT x FROM t"); err != nil {
		t.Fatal(err)
	}
	if err := c.Reset(ctx); err != nil || c.InTx() || len(c.open) != 0 {
		t.Fatalf("Reset: %v, InTx %v, %d rows open", err, c.InTx(), len(c.open))
	}
	if err := c.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.Reset(ctx); err != nil || c.InTx() {
		t.Fatalf("Reset: %v, InTx %v", err, c.InTx())
	}
	mustNativeExec(t, c, "INSERT INTO t VALUES (4)") // query_only is off again
	if err := c.QueryRow(ctx, "SELECT sum(x) FROM t").Scan(&sum); err != nil || sum != 9 {
		t.Errorf("sum = %d, %v", sum, err)
	}
}

func TestNativeContext(t *testing.T) {
	_, c := openNativeConn(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var n int64
	err := c.QueryRow(ctx, "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r").Scan(&n)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("long query: %v", err)
	}
	if _, err := c.Exec(ctx, "SELECT 1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Exec with an ended context: %v", err)
	}
	if err := c.QueryRow(context.Background(), "SELECT 5").Scan(&n); err != nil || n != 5 {
		t.Errorf("after the interrupt: %d, %v", n, err)
	}
}

func TestNativeOpenConnMemory(t *testing.T) {
	ctx := context.Background()
	c, err := OpenConn(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	mustNativeExec(t, c, "CREATE TABLE t(x); INSERT INTO t VALUES (1)")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if !c.Closed() {
		t.Error("not Closed")
	}
	if _, err := c.Exec(ctx, "SELECT 1"); err == nil {
		t.Error("Exec on a closed Conn succeeded")
	}
	if _, err := OpenConn(ctx, "file:x?nope=1"); err == nil {
		t.Error("OpenConn with a bad DSN succeeded")
	}
}

// TestNativeConcurrentRetry runs BEGIN CONCURRENT transactions on two
// Conns that conflict on one row: RetryTx retries the loser until both
// increments land.
func TestNativeConcurrentRetry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctr, a := openNativeConn(t, "")
	b, err := ctr.ConnectConn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mustNativeExec(t, a, "CREATE TABLE n(id INTEGER PRIMARY KEY, v INTEGER); INSERT INTO n VALUES (1, 0)")
	opts := &sql.TxOptions{Isolation: LevelConcurrent}
	attempts := 0
	err = a.RetryTx(ctx, opts, func(a *Conn) error {
		attempts++
		if _, err := a.Exec(ctx, "UPDATE n SET v = v + 1 WHERE id = 1"); err != nil {
			return err
		}
		if attempts == 1 {
			// Another writer commits an update of the same row meanwhile.
			if err := b.RetryTx(ctx, opts, func(b *Conn) error {
				_, err := b.Exec(ctx, "UPDATE n SET v = v + 10 WHERE id = 1")
				return err
			}); err != nil {
				return fmt.Errorf("inner: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if attempts != 2 {
		t.Errorf("%d attempts, want 2 (one conflict)", attempts)
	}
	var v int
	if err := a.QueryRow(ctx, "SELECT v FROM n").Scan(&v); err != nil || v != 11 {
		t.Errorf("v = %d, %v", v, err)
	}
	// A non-conflict error is returned at once, and rolled back.
	boom := errors.New("boom")
	if err := a.RetryTx(ctx, opts, func(a *Conn) error { return boom }); err != boom || a.InTx() {
		t.Errorf("RetryTx = %v, InTx %v", err, a.InTx())
	}
}

func TestNativeChanges(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, c := openNativeConn(t, "")
	mustNativeExec(t, c, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	s, err := c.Changes(ctx, ChangeOptions{Tables: []string{"t"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustNativeExec(t, c, "INSERT INTO t VALUES (1, 'a')")
	ch, err := s.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Table != "t" || ch.RowID != 1 || len(ch.New) != 2 || ch.New[1] != "a" {
		t.Errorf("change %+v", ch)
	}
}

// TestNativeDriverAnsweredRows reads rows the driver makes itself rather
// than from a statement (PRAGMA wal_checkpoint is answered by the engine).
func TestNativeDriverAnsweredRows(t *testing.T) {
	ctx := context.Background()
	_, c := openNativeConn(t, "")
	mustNativeExec(t, c, "CREATE TABLE t(x); INSERT INTO t VALUES (1)")
	var busy, log, done int64
	if err := c.QueryRow(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &done); err != nil {
		t.Fatal(err)
	}
	rows, err := c.Query(ctx, "PRAGMA wal_checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rows.Columns()); n != 3 {
		t.Errorf("%d columns", n)
	}
	for rows.Next() {
		var a, b sql.NullInt64
		var v any
		if err := rows.Scan(&a, &b, &v); err != nil {
			t.Fatal(err)
		}
	}
	if err := rows.Err(); err != nil || len(c.open) != 0 {
		t.Errorf("Err %v, %d rows open", err, len(c.open))
	}
}
