package libsql

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// engineCounters reads the engine's page loads (hits and misses of its
// shared cache) and how often a connection kept SQLite's page cache at a
// new snapshot.
func engineCounters(t *testing.T, c *sql.Conn) (loads, kept uint64) {
	t.Helper()
	var st struct {
		Hits   uint64 `json:"cache_hits"`
		Misses uint64 `json:"cache_misses"`
		Kept   uint64 `json:"sqlite_cache_kept"`
	}
	if err := json.Unmarshal([]byte(engineStats(t, c)), &st); err != nil {
		t.Fatal(err)
	}
	return st.Hits + st.Misses, st.Kept
}

// twoConns returns two connections of db, closed at the test's end.
func twoConns(t *testing.T, db *sql.DB) (a, b *sql.Conn) {
	t.Helper()
	var cs [2]*sql.Conn
	for i := range cs {
		c, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		cs[i] = c
	}
	return cs[0], cs[1]
}

// TestReaderKeepsPageCacheAcrossCommits checks that a connection keeps
// SQLite's page cache when another one commits, reading again only the
// pages the commit changed, and that what it reads is the new version:
// changed rows, a changed schema, PRAGMA data_version, a database that
// shrank, and a log that restarted in between.
func TestReaderKeepsPageCacheAcrossCommits(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t, "")
	reader, writer := twoConns(t, db)
	exec := func(q string) {
		t.Helper()
		if _, err := writer.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	exec("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 2000) INSERT INTO t SELECT x, printf('%0100d', x) FROM c")
	scan := func() (n int, sum int64) {
		t.Helper()
		if err := reader.QueryRowContext(ctx, "SELECT count(*), sum(length(v) + unicode(substr(v, -1))) FROM t").Scan(&n, &sum); err != nil {
			t.Fatal(err)
		}
		return n, sum
	}
	dataVersion := func() (v int64) {
		t.Helper()
		if err := reader.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	_, sum0 := scan()
	dv0 := dataVersion()

	exec("UPDATE t SET v = printf('%0100dZ', 1000) WHERE id = 1000")
	loads0, kept0 := engineCounters(t, reader)
	n, sum := scan()
	loads1, kept1 := engineCounters(t, reader)
	if want := sum0 + 1 + 'Z' - '0'; n != 2000 || sum != want {
		t.Fatalf("after an update the reader sees %d rows, sum %d; want 2000, %d", n, sum, want)
	}
	if kept1 == kept0 {
		t.Errorf("the reader's new snapshot did not keep its page cache")
	}
	// The update rewrote page 1 and one leaf; the table has about 60.
	if d := loads1 - loads0; d > 6 {
		t.Errorf("a scan after a one-row update loaded %d pages through the engine, want at most 6", d)
	}
	if dv := dataVersion(); dv == dv0 {
		t.Errorf("PRAGMA data_version stayed %d after another connection committed", dv)
	}

	exec("ALTER TABLE t ADD COLUMN w DEFAULT 7")
	var w int
	if err := reader.QueryRowContext(ctx, "SELECT w FROM t WHERE id = 5").Scan(&w); err != nil || w != 7 {
		t.Fatalf("after ALTER TABLE the reader reads w = %d, %v; want 7", w, err)
	}

	exec("PRAGMA auto_vacuum = FULL")
	exec("VACUUM")
	scan()
	exec("DELETE FROM t WHERE id > 100")
	if n, _ := scan(); n != 100 {
		t.Fatalf("after a delete that shrank the file the reader sees %d rows, want 100", n)
	}

	exec("UPDATE t SET v = 'x' WHERE id = 7")
	exec("PRAGMA wal_checkpoint(TRUNCATE)")
	exec("UPDATE t SET v = 'y' WHERE id = 8")
	var got string
	if err := reader.QueryRowContext(ctx, "SELECT group_concat(v, ',') FROM t WHERE id IN (7, 8)").Scan(&got); err != nil || got != "x,y" {
		t.Fatalf("after a log restart the reader reads %q, %v; want x,y", got, err)
	}
}

// TestKeptPageCachesMatchModel runs random writes, growing and shrinking
// the database and its b-trees and restarting the log now and then, from
// several connections, and after every commit checks what each of them
// reads against a model: a page kept in a connection's SQLite cache that a
// commit changed would show as a wrong row or a corrupt b-tree.
func TestKeptPageCachesMatchModel(t *testing.T) {
	const pragmas = "_pragma=auto_vacuum(FULL)&_pragma=wal_autocheckpoint(50)"
	t.Run("file", func(t *testing.T) { keptPageCachesMatchModel(t, openTestDB(t, pragmas)) })
	t.Run("memory", func(t *testing.T) { keptPageCachesMatchModel(t, openTestDSN(t, ":memory:?"+pragmas)) })
}

func keptPageCachesMatchModel(t *testing.T, db *sql.DB) {
	ctx := context.Background()
	db.SetMaxOpenConns(4)
	conns := make([]*sql.Conn, 4)
	for i := range conns {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	if _, err := conns[0].ExecContext(ctx, "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB); CREATE INDEX t_v ON t(substr(v, 1, 8))"); err != nil {
		t.Fatal(err)
	}
	model := map[int]int{} // id -> length of v, v being the id's digit repeated
	rng := rand.New(rand.NewPCG(1, 2))
	value := func(id, n int) string { return strings.Repeat(fmt.Sprint(id%10), n) }
	steps := 300
	if testing.Short() {
		steps = 100
	}
	for step := range steps {
		c := conns[rng.IntN(len(conns))]
		var q string
		var args []any
		switch op := rng.IntN(10); {
		case op < 5:
			id, n := rng.IntN(400), 1+rng.IntN(3000)
			q, args = "INSERT OR REPLACE INTO t VALUES (?, ?)", []any{id, value(id, n)}
			model[id] = n
		case op < 7:
			id, n := rng.IntN(400), 1+rng.IntN(50)
			q, args = "UPDATE t SET v = ? WHERE id = ?", []any{value(id, n), id}
			if _, ok := model[id]; ok {
				model[id] = n
			}
		case op < 9:
			lo := rng.IntN(400)
			hi := lo + rng.IntN(60)
			q, args = "DELETE FROM t WHERE id BETWEEN ? AND ?", []any{lo, hi}
			for id := lo; id <= hi; id++ {
				delete(model, id)
			}
		default:
			q = "PRAGMA wal_checkpoint(RESTART)"
		}
		if _, err := c.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("step %d: %s: %v", step, q, err)
		}
		var wantN, wantSum, wantLen int
		for id, n := range model {
			wantN++
			wantSum += id * n
			wantLen += n
		}
		for i, r := range conns {
			var n, sum, length int
			err := r.QueryRowContext(ctx, "SELECT count(*), coalesce(sum(id * length(v)), 0), coalesce(sum(length(v)), 0) FROM t WHERE substr(v, 1, 1) = CAST(id % 10 AS TEXT)").Scan(&n, &sum, &length)
			if err != nil {
				t.Fatalf("step %d, connection %d: %v", step, i, err)
			}
			if n != wantN || sum != wantSum || length != wantLen {
				t.Fatalf("step %d (%s), connection %d reads %d rows, sums %d and %d; want %d, %d, %d", step, q, i, n, sum, length, wantN, wantSum, wantLen)
			}
		}
	}
	_, kept := engineCounters(t, conns[0])
	if kept == 0 {
		t.Errorf("no connection ever kept its page cache")
	}
	t.Logf("snapshots that kept SQLite's page cache: %d", kept)
	for i, c := range conns {
		var res string
		if err := c.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
			t.Errorf("connection %d: integrity_check %q, %v", i, res, err)
		}
	}
}

// TestWriterKeepsItsOwnPagesAfterCommit checks that a connection's own
// commit does not make it read back the pages it just wrote: its SQLite
// cache holds them as committed, so a stream of single-row inserts loads
// no page through the engine. A commit of another connection in between
// still makes it read the pages that one changed.
func TestWriterKeepsItsOwnPagesAfterCommit(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t, "")
	w, other := twoConns(t, db)
	exec := func(c *sql.Conn, q string, args ...any) {
		t.Helper()
		if _, err := c.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(w, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	exec(w, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 2000) INSERT INTO t SELECT x, printf('%0100d', x) FROM c")
	exec(w, "INSERT INTO t VALUES (3000, 'warm')")
	loads0, _ := engineCounters(t, w)
	for i := range 20 {
		exec(w, "INSERT INTO t VALUES (?, 'new')", 3001+i)
	}
	loads1, _ := engineCounters(t, w)
	if d := loads1 - loads0; d > 2 {
		t.Errorf("20 single-row inserts by one connection loaded %d pages through the engine, want at most 2", d)
	}

	exec(other, "UPDATE t SET v = 'changed' WHERE id = 3010")
	exec(w, "INSERT INTO t VALUES (4000, 'after')")
	var got string
	if err := w.QueryRowContext(ctx, "SELECT group_concat(v, ',') FROM t WHERE id IN (3010, 3020, 4000)").Scan(&got); err != nil || got != "changed,new,after" {
		t.Fatalf("the writer reads %q, %v; want changed,new,after", got, err)
	}
	var n int
	if err := other.QueryRowContext(ctx, "SELECT count(*) FROM t WHERE id > 2000").Scan(&n); err != nil || n != 22 {
		t.Fatalf("the other connection counts %d rows past 2000, %v; want 22", n, err)
	}
}

// TestDataVersionIgnoresOwnCommits checks PRAGMA data_version as SQLite
// documents it: unchanged by the connection's own commits (autocommit,
// explicit and BEGIN CONCURRENT transactions), changed by another
// connection's.
func TestDataVersionIgnoresOwnCommits(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t, "")
	c, other := twoConns(t, db)
	exec := func(c *sql.Conn, q string) {
		t.Helper()
		if _, err := c.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	dataVersion := func() (v int64) {
		t.Helper()
		if err := c.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	exec(c, "CREATE TABLE t(x)")
	dv := dataVersion()
	for _, q := range []string{
		"INSERT INTO t VALUES (1)",
		"BEGIN; INSERT INTO t VALUES (2); INSERT INTO t VALUES (3); COMMIT",
		"BEGIN CONCURRENT; INSERT INTO t VALUES (4); COMMIT",
		"CREATE INDEX tx ON t(x)",
	} {
		exec(c, q)
		if got := dataVersion(); got != dv {
			t.Fatalf("PRAGMA data_version went from %d to %d after the connection's own %q", dv, got, q)
		}
	}
	exec(other, "INSERT INTO t VALUES (5)")
	if got := dataVersion(); got == dv {
		t.Fatalf("PRAGMA data_version stayed %d after another connection committed", dv)
	}
	// Another connection's commit seen first by a BEGIN CONCURRENT, whose
	// start resets the cache, still counts.
	dv = dataVersion()
	exec(other, "INSERT INTO t VALUES (6)")
	exec(c, "BEGIN CONCURRENT; INSERT INTO t VALUES (7); COMMIT")
	if got := dataVersion(); got == dv {
		t.Fatalf("PRAGMA data_version stayed %d after another connection committed before a BEGIN CONCURRENT", dv)
	}
}
