package libsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golibsql/libsql/changefeed"
	iouringvfs "github.com/golibsql/libsql/iouring_vfs"
)

// Review of the change that keeps a transaction's captured row changes
// encoded in a changeLog (cdc_log.go) instead of Go values. The main
// oracle (r13Model) replays what a stream delivers on a snapshot of the
// tables taken where the stream starts: every delete and update must find
// exactly the old values it names, every insert a free key, and the
// result must be the tables' final contents. A change delivered twice,
// out of order, with wrong values, or from rolled-back work fails it.

type r13Step struct {
	q    string
	fail bool
}

func r13S(q string) r13Step { return r13Step{q: q} }
func r13F(q string) r13Step { return r13Step{q: q, fail: true} }

func r13Run(t *testing.T, c *sql.Conn, s r13Step) {
	t.Helper()
	_, err := c.ExecContext(context.Background(), s.q)
	if s.fail && err == nil {
		t.Fatalf("%.100s: succeeded, want an error", s.q)
	}
	if !s.fail && err != nil {
		t.Fatalf("%.100s: %v", s.q, err)
	}
}

// r13V describes a value by type and content (a float by its bits).
func r13V(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case int64:
		return fmt.Sprintf("i:%d", x)
	case float64:
		return fmt.Sprintf("f:%016x", math.Float64bits(x))
	case string:
		return fmt.Sprintf("t:%x", x)
	case []byte:
		return fmt.Sprintf("b:%x", x)
	}
	return fmt.Sprintf("%T:%v", v, v)
}

func r13Row(vals []any) string {
	s := make([]string, len(vals))
	for i, v := range vals {
		s[i] = r13V(v)
	}
	return "[" + strings.Join(s, ",") + "]"
}

// r13Model is the tables' contents: table -> key -> row.
type r13Model map[string]map[string]string

// r13WithoutRowid names the WITHOUT ROWID tables of the tests, and the
// number of their leading primary key columns.
var r13WithoutRowid = map[string]int{"w": 2}

// r13Snapshot reads every user table of q.
func r13Snapshot(t *testing.T, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) r13Model {
	t.Helper()
	ctx := context.Background()
	rows, err := q.QueryContext(ctx, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%' AND name NOT LIKE 'libsql%'")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	rows.Close()
	m := r13Model{}
	for _, n := range names {
		m[n] = map[string]string{}
		pk, wr := r13WithoutRowid[n]
		query := "SELECT rowid, * FROM " + n
		if wr {
			query = "SELECT * FROM " + n
		}
		rows, err := q.QueryContext(ctx, query)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := scanAnyRow(t, rows, len(cols))
			if wr {
				m[n][r13Row(vals[:pk])] = r13Row(vals)
			} else {
				m[n][r13V(vals[0])] = r13Row(vals[1:])
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return m
}

// apply replays one change, returning what is wrong with it, if anything.
func (m r13Model) apply(c Change) string {
	tab := m[c.Table]
	if tab == nil {
		tab = map[string]string{}
		m[c.Table] = tab
	}
	key := r13V(c.RowID)
	if _, wr := r13WithoutRowid[c.Table]; wr {
		key = r13Row(c.PK)
	}
	switch c.Op {
	case changefeed.Insert:
		if old, ok := tab[key]; ok {
			return fmt.Sprintf("insert at %s, which holds %s", key, old)
		}
		tab[key] = r13Row(c.New)
	case changefeed.Delete:
		if old, want := tab[key], r13Row(c.Old); old != want {
			return fmt.Sprintf("delete at %s of %s, which holds %q", key, want, old)
		}
		delete(tab, key)
	case changefeed.Update:
		want := r13Row(c.Old)
		oldKey := ""
		if tab[key] == want {
			oldKey = key
		} else {
			for k, v := range tab {
				if v == want {
					if oldKey != "" {
						return fmt.Sprintf("update to %s of %s: several rows hold it", key, want)
					}
					oldKey = k
				}
			}
		}
		if oldKey == "" {
			return fmt.Sprintf("update to %s of %s, which no row holds (%s holds %q)", key, want, key, tab[key])
		}
		delete(tab, oldKey)
		if cur, ok := tab[key]; ok {
			return fmt.Sprintf("update moves a row to %s, which holds %s", key, cur)
		}
		tab[key] = r13Row(c.New)
	}
	return ""
}

// r13Check replays changes on base and compares with final.
func r13Check(t *testing.T, what string, base r13Model, changes []Change, final r13Model) {
	t.Helper()
	for i, c := range changes {
		if msg := base.apply(c); msg != "" {
			t.Fatalf("%s: change %d (%s, LSN %v): %s", what, i, describeChange(c), c.LSN, msg)
		}
	}
	for tab, rows := range final {
		got := base[tab]
		for k, v := range rows {
			if got[k] != v {
				t.Fatalf("%s: table %s key %s: the changes leave %q, the table holds %s", what, tab, k, got[k], v)
			}
		}
		for k, v := range got {
			if _, ok := rows[k]; !ok {
				t.Fatalf("%s: table %s key %s: the changes leave %s, the table has no such row", what, tab, k, v)
			}
		}
	}
	for tab, rows := range base {
		if _, ok := final[tab]; !ok && len(rows) > 0 {
			t.Fatalf("%s: the changes leave %d rows in table %s, which does not exist", what, len(rows), tab)
		}
	}
}

// r13ReadTo reads s up to and including the change to table done.
func r13ReadTo(t *testing.T, s *ChangeStream, done string) []Change {
	t.Helper()
	var out []Change
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := s.Next(ctx)
		cancel()
		if err != nil {
			t.Fatalf("after %d changes: %v", len(out), err)
		}
		out = append(out, c)
		if c.Table == done {
			return out
		}
	}
}

func r13Open(t *testing.T, db *sql.DB, opts ChangeOptions) *ChangeStream {
	t.Helper()
	if opts.Buffer == 0 {
		opts.Buffer = 1 << 22
	}
	return stream(t, db, opts)
}

func r13LSN(t *testing.T, db *sql.DB) LSN {
	t.Helper()
	var n sql.NullInt64
	if err := db.QueryRow("SELECT max(lsn) FROM libsql_cdc").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return LSN(n.Int64)
}

// r13Descs describes changes without where they sit in the history.
func r13Descs(cs []Change) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = fmt.Sprintf("%s %s %d pk=%s old=%s new=%s ind=%v", c.Op, c.Table, c.RowID, r13Row(c.PK), r13Row(c.Old), r13Row(c.New), c.Indirect)
	}
	return out
}

func r13Same(t *testing.T, what string, got, want []Change) {
	t.Helper()
	g, w := r13Descs(got), r13Descs(want)
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			t.Fatalf("%s: change %d is\n  %s\nwant\n  %s", what, i, g[i], w[i])
		}
	}
	if len(g) != len(w) {
		t.Fatalf("%s: %d changes, want %d", what, len(g), len(w))
	}
}

const r13Schema = `CREATE TABLE p(id INTEGER PRIMARY KEY, v);
CREATE TABLE c(id INTEGER PRIMARY KEY, pid REFERENCES p(id) ON DELETE CASCADE ON UPDATE CASCADE, v);
CREATE TABLE u(id INTEGER PRIMARY KEY, k TEXT UNIQUE, n INTEGER);
CREATE TABLE w(a TEXT, b INTEGER, v, PRIMARY KEY(a, b)) WITHOUT ROWID;
CREATE TABLE r(x, y);
CREATE TABLE logt(id INTEGER PRIMARY KEY, msg);
CREATE TABLE big(id INTEGER PRIMARY KEY, v TEXT);
CREATE TABLE done(x);
CREATE TRIGGER tr AFTER UPDATE ON u BEGIN INSERT INTO logt(msg) VALUES ('u ' || new.k); END;
INSERT INTO p VALUES (1, 'p1'), (2, 'p2'), (3, 'p3');
INSERT INTO c VALUES (10, 1, 'c10'), (11, 1, 'c11'), (12, 2, 'c12');
INSERT INTO w VALUES ('k', 1, 'w0');
INSERT INTO logt(msg) VALUES ('seed')`

func r13Fill(from, to int) string {
	return fmt.Sprintf("WITH RECURSIVE s(i) AS (SELECT %d UNION ALL SELECT i+1 FROM s WHERE i<%d) INSERT INTO big SELECT i, printf('%%.1000d', i) FROM s", from, to)
}

// r13Script: savepoints (nested, ROLLBACK TO, RELEASE), failed statements
// (ABORT, OR FAIL, OR IGNORE, OR REPLACE, upsert), triggers, cascades,
// CREATE TABLE ... AS SELECT, WITHOUT ROWID key changes, rowids moved,
// edge values, and a transaction of 2.4 MB of changes with a savepoint
// rolled back and a failed statement.
var r13Script = []r13Step{
	r13S("PRAGMA foreign_keys = ON"),
	r13S("BEGIN"),
	r13S("INSERT INTO u VALUES (1, 'a', 1), (2, 'b', 2)"),
	r13S("SAVEPOINT s1"),
	r13S("UPDATE u SET n = n + 10"),
	r13S("SAVEPOINT s2"),
	r13S("DELETE FROM p WHERE id = 1"),
	r13S("INSERT INTO w VALUES ('x', 1, 'w1'), ('y', 2, 'w2')"),
	r13S("ROLLBACK TO s2"),
	r13S("INSERT INTO w VALUES ('x', 1, 'w1')"),
	r13S("RELEASE s2"),
	r13S("RELEASE s1"),
	r13F("INSERT INTO u VALUES (3, 'c', 3), (4, 'a', 4)"),
	r13S("INSERT OR IGNORE INTO u VALUES (5, 'a', 5), (6, 'd', 6)"),
	r13S("INSERT OR REPLACE INTO u VALUES (7, 'b', 7)"),
	r13S("INSERT INTO u VALUES (8, 'd', 8) ON CONFLICT(k) DO UPDATE SET n = n + 100"),
	r13F("UPDATE OR FAIL u SET k = 'z' WHERE id IN (1, 6, 7)"),
	r13S("UPDATE p SET id = 20 WHERE id = 2"),
	r13S("DELETE FROM p WHERE id = 1"),
	r13S("UPDATE w SET b = b + 100, v = v || '!' WHERE a = 'k'"),
	r13S("SAVEPOINT s3"),
	r13S("CREATE TABLE cas1 AS SELECT * FROM u"),
	r13S("ROLLBACK TO s3"),
	r13S("RELEASE s3"),
	r13S("CREATE TABLE cas2 AS SELECT id, k FROM u"),
	r13S("COMMIT"),
	r13F("INSERT INTO u VALUES (9, 'q', 9), (10, 'q', 10)"),
	r13S("CREATE TABLE cas3 AS SELECT * FROM w"),
	r13S(`INSERT INTO r VALUES (NULL, ''), (x'', 9223372036854775807), (-9223372036854775808, -0.0),
		(1e308 * 10, -1e308 * 10), (CAST(x'ff' AS TEXT), CAST(x'c328' AS TEXT)), (0.1, 'héllo'), (x'00ff', zeroblob(2))`),
	r13S("UPDATE r SET rowid = rowid + 100 WHERE rowid % 2 = 0"),
	r13S("REPLACE INTO r(rowid, x, y) VALUES (1, 'one', 1)"),
	r13S("SAVEPOINT big"),
	r13S(r13Fill(1, 1200)),
	r13S("SAVEPOINT sb"),
	r13S("UPDATE big SET v = v || 'rolled back' WHERE id <= 300"),
	r13S("ROLLBACK TO sb"),
	r13F("INSERT INTO big SELECT id + 5000, v FROM big UNION ALL SELECT 1, 'dup'"),
	r13S("UPDATE big SET v = 'x' || v WHERE id % 3 = 0"),
	r13S("DELETE FROM big WHERE id % 5 = 0"),
	r13S("RELEASE big"),
	r13S("INSERT INTO done VALUES (1)"),
}

// TestReview13ScriptAllPaths runs r13Script with the capture log's bounds
// lowered (the big transaction's changes on disk, its libsql_cdc row
// written through zeroblob and WriteBlob) and checks the changes every
// kind of stream gets: cdc=on with a stream open throughout (decoded from
// the log), cdc=on with none (elided, read from libsql_cdc by a stream
// opened afterwards with Since), cdc=on with streams opened and closed
// between statements (a mix), and a live stream without cdc=on; filtered
// streams get the unfiltered stream's changes that pass the filter. The
// stored rows decode, and the temporary memory is given back.
func TestReview13ScriptAllPaths(t *testing.T) {
	spillBounds(t)
	var ref []Change
	for _, mode := range []string{"on-live", "on-since", "on-toggle", "off-live"} {
		t.Run(mode, func(t *testing.T) {
			query := "cdc=on"
			if mode == "off-live" {
				query = ""
			}
			db := openTestDB(t, query)
			mustExec(t, db, r13Schema)
			base := r13Snapshot(t, db)
			var since LSN
			if query != "" {
				since = r13LSN(t, db)
			}
			var live, filtered *ChangeStream
			filter := ChangeOptions{Tables: []string{"U", "logt", "w"}, Ops: []changefeed.Op{changefeed.Insert, changefeed.Update}}
			if strings.HasSuffix(mode, "live") {
				live = r13Open(t, db, ChangeOptions{})
				filtered = r13Open(t, db, filter)
			}
			mem0 := spillStat(t, db, "temp_memory_bytes")
			elided0 := spillStat(t, db, "cdc_elided")
			c := dbConn(t, db)
			for i, s := range r13Script {
				var tmp *ChangeStream
				if mode == "on-toggle" && i%2 == 0 {
					tmp = r13Open(t, db, ChangeOptions{})
				}
				r13Run(t, c, s)
				if tmp != nil {
					tmp.Close()
				}
			}
			if m := spillStat(t, db, "temp_memory_bytes"); m > mem0 {
				t.Errorf("temp_memory_bytes is %d after the script, %d before", m, mem0)
			}
			elided := spillStat(t, db, "cdc_elided") - elided0
			switch {
			case strings.HasSuffix(mode, "live") && elided != 0:
				t.Errorf("%d transactions elided with a stream open", elided)
			case mode == "on-since" && elided < 5:
				t.Errorf("%d transactions elided with no stream open, want each", elided)
			}
			if live == nil {
				live = r13Open(t, db, ChangeOptions{Since: since})
				filtered = r13Open(t, db, ChangeOptions{Since: since, Tables: filter.Tables, Ops: filter.Ops})
			}
			got := r13ReadTo(t, live, "done")
			final := r13Snapshot(t, db)
			r13Check(t, mode, base, got, final)
			var want []Change
			for _, ch := range got {
				if (ch.Table == "u" || ch.Table == "logt" || ch.Table == "w") && ch.Op != changefeed.Delete {
					want = append(want, ch)
				}
			}
			want = append(want, Change{})
			// The filtered stream has no "done": read as many as expected.
			fgot := cdcRead(t, filtered, len(want)-1)
			r13Same(t, mode+" filtered", fgot, want[:len(want)-1])
			if ref == nil {
				ref = got
			} else {
				r13Same(t, mode+" vs on-live", got, ref)
			}
			if query != "" {
				// Every stored row decodes, and they hold what was streamed.
				rows, err := db.Query("SELECT changes FROM libsql_cdc WHERE lsn > ? ORDER BY lsn", int64(since))
				if err != nil {
					t.Fatal(err)
				}
				var stored []Change
				for rows.Next() {
					var b []byte
					if err := rows.Scan(&b); err != nil {
						t.Fatal(err)
					}
					tx, err := changefeed.DecodeTx(b)
					if err != nil {
						t.Fatalf("stored row %d: %v", len(stored), err)
					}
					stored = append(stored, tx.Changes...)
				}
				rows.Close()
				r13Same(t, mode+" stored", stored, got)
			}
		})
	}
}

// TestReview13CapturePanicPoisonsNextTx: a panic while capturing the
// first change a transaction (or savepoint) keeps leaves the log's error
// set for good: changeLog.fail records errAt = len(recs) without adding a
// record, and changeLog.truncate returns early when n >= len(recs), so
// neither the rollback (dropCaptured -> truncate(0) with no records) nor
// ROLLBACK TO (truncate(k) with k records) clears l.err. (Found on
// 35f8e40, where add wrote before appending the record: there the panicking
// change also left no record, so the autocommit insert COMMITTED with its
// change neither stored nor streamed. 0dc35da appends before the write,
// and passes.) The connection's
// NEXT transaction, which captured nothing wrong, then fails to commit
// with cdc=on (storeChanges -> txEncoding returns l.err), or is published
// elided without cdc=on (a stream gets ErrStreamLagged). Expected: the
// failure dies with the work that was rolled back.
func TestReview13CapturePanicPoisonsNextTx(t *testing.T) {
	panicky := func(t *testing.T) func() {
		var once sync.Once
		restore := iouringvfs.SetTempDiskForTesting(func(f *os.File) iouringvfs.TempDisk {
			f.Close()
			panic("r13: no disk")
		})
		r := func() { once.Do(restore) }
		t.Cleanup(r)
		return r
	}
	t.Run("autocommit", func(t *testing.T) {
		spillBounds(t)
		db := openTestDB(t, "cdc=on")
		mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
		c := dbConn(t, db)
		restore := panicky(t)
		_, err := c.ExecContext(context.Background(), "INSERT INTO t VALUES (1, randomblob(300000))")
		restore()
		if err == nil || !strings.Contains(err.Error(), "r13: no disk") {
			t.Fatalf("insert whose capture panicked: %v (%d rows of t, %d stored transactions), want the panic reported and nothing committed", err,
				count(t, db, "SELECT count(*) FROM t"), count(t, db, "SELECT count(*) FROM libsql_cdc"))
		}
		if _, err := c.ExecContext(context.Background(), "INSERT INTO t VALUES (2, x'01')"); err != nil {
			t.Fatalf("the next, unrelated transaction: %v", err)
		}
	})
	t.Run("rollback-to", func(t *testing.T) {
		spillBounds(t)
		db := openTestDB(t, "cdc=on")
		mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
		c := dbConn(t, db)
		cexec(t, c, "BEGIN")
		cexec(t, c, "INSERT INTO t VALUES (1, x'01')")
		cexec(t, c, "SAVEPOINT s")
		restore := panicky(t)
		cexec(t, c, "INSERT INTO t VALUES (2, randomblob(300000))")
		restore()
		cexec(t, c, "ROLLBACK TO s")
		cexec(t, c, "RELEASE s")
		if _, err := c.ExecContext(context.Background(), "COMMIT"); err != nil {
			t.Fatalf("COMMIT after the change whose capture failed was rolled back: %v", err)
		}
		if tx := cdcLastStored(t, db); len(tx.Changes) != 1 || tx.Changes[0].RowID != 1 {
			t.Fatalf("stored %d changes, want the insert of row 1", len(tx.Changes))
		}
	})
	t.Run("stream-only", func(t *testing.T) {
		spillBounds(t)
		db := openTestDB(t, "")
		mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)")
		c := dbConn(t, db)
		restore := panicky(t)
		s := r13Open(t, db, ChangeOptions{})
		cexec(t, c, "INSERT INTO t VALUES (1, randomblob(300000))")
		restore()
		ctx0, cancel0 := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel0()
		if ch, err := s.Next(ctx0); err == nil || !errors.Is(err, ErrStreamLagged) {
			t.Fatalf("the stream's Next after the transaction whose capture panicked: %+v, %v; want ErrStreamLagged", ch, err)
		}
		s2 := r13Open(t, db, ChangeOptions{})
		cexec(t, c, "INSERT INTO t VALUES (2, x'01')")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if ch, err := s2.Next(ctx); err != nil || ch.RowID != 2 {
			t.Fatalf("a stream opened after it, on the next transaction: %+v, %v", ch, err)
		}
	})
}

// TestReview13DeferredFKRetry: a COMMIT that fails on a deferred foreign
// key (after durable CDC stored the transaction's changes), fixed and
// committed again, stores one row holding every change once, small (in
// memory) and big (on disk, zeroblob path); live and Since streams agree.
// A failed COMMIT that is then rolled back stores and streams nothing.
func TestReview13DeferredFKRetry(t *testing.T) {
	spillBounds(t)
	for _, size := range []int{0, 1500} {
		for _, live := range []bool{false, true} {
			t.Run(fmt.Sprintf("rows=%d/live=%v", size, live), func(t *testing.T) {
				db := openTestDB(t, "cdc=on")
				mustExec(t, db, `CREATE TABLE p(id INTEGER PRIMARY KEY);
CREATE TABLE ch(id INTEGER PRIMARY KEY, pid REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE big(id INTEGER PRIMARY KEY, v TEXT);
CREATE TABLE done(x);
INSERT INTO p VALUES (1)`)
				base := r13Snapshot(t, db)
				since := r13LSN(t, db)
				var s *ChangeStream
				if live {
					s = r13Open(t, db, ChangeOptions{})
				}
				rows0 := count(t, db, "SELECT count(*) FROM libsql_cdc")
				c := dbConn(t, db)
				cexec(t, c, "PRAGMA foreign_keys = ON")
				// Rolled back after its COMMIT failed.
				cexec(t, c, "BEGIN")
				cexec(t, c, "INSERT INTO ch VALUES (100, 99)")
				r13Run(t, c, r13F("COMMIT"))
				cexec(t, c, "ROLLBACK")
				// Fixed and committed.
				cexec(t, c, "BEGIN")
				if size > 0 {
					cexec(t, c, r13Fill(1, size))
				}
				cexec(t, c, "INSERT INTO ch VALUES (1, 5), (2, 1)")
				cexec(t, c, "UPDATE p SET id = 2 WHERE id = 1")
				r13Run(t, c, r13F("COMMIT"))
				cexec(t, c, "INSERT INTO p VALUES (5)")
				r13Run(t, c, r13F("COMMIT")) // p(1) is gone: still failing
				cexec(t, c, "INSERT INTO p VALUES (1)")
				cexec(t, c, "COMMIT")
				cexec(t, c, "INSERT INTO done VALUES (1)")
				if n := count(t, db, "SELECT count(*) FROM libsql_cdc") - rows0; n != 2 {
					t.Fatalf("%d rows stored, want 2 (the transaction and done)", n)
				}
				if s == nil {
					s = r13Open(t, db, ChangeOptions{Since: since})
				}
				got := r13ReadTo(t, s, "done")
				r13Check(t, "stream", base, got, r13Snapshot(t, db))
				if want := size + 6; len(got) != want {
					t.Fatalf("%d changes, want %d", len(got), want)
				}
			})
		}
	}
}

// TestReview13ConcurrentRebased: BEGIN CONCURRENT with cdc=on, rebased
// over a commit that came between (both allocate pages), with savepoints
// and failed statements, small and big: what is stored and streamed (live
// and Since) is the transaction's own changes, once, after the commit
// between.
func TestReview13ConcurrentRebased(t *testing.T) {
	spillBounds(t)
	for _, size := range []int{50, 1500} {
		for _, live := range []bool{false, true} {
			t.Run(fmt.Sprintf("rows=%d/live=%v", size, live), func(t *testing.T) {
				db := openTestDB(t, "cdc=on")
				mustExec(t, db, r13Schema)
				mustExec(t, db, "CREATE TABLE pad(id INTEGER PRIMARY KEY, v BLOB)")
				base := r13Snapshot(t, db)
				since := r13LSN(t, db)
				var s *ChangeStream
				if live {
					s = r13Open(t, db, ChangeOptions{})
				}
				rebased := spillStat(t, db, "rebased")
				c1, c2 := dbConn(t, db), dbConn(t, db)
				cexec(t, c1, "BEGIN CONCURRENT")
				for _, st := range []r13Step{
					r13S(r13Fill(1, size)),
					r13S("SAVEPOINT a"),
					r13S("UPDATE big SET v = 'gone' WHERE id % 2 = 0"),
					r13S("INSERT INTO w VALUES ('zz', 1, 'rolled back')"),
					r13S("ROLLBACK TO a"),
					r13S("UPDATE big SET v = v || '.' WHERE id % 7 = 0"),
					r13F("INSERT INTO big SELECT id + 10000, v FROM big WHERE id < 40 UNION ALL SELECT 3, 'dup'"),
					r13S("UPDATE w SET b = 7, v = 'moved' WHERE a = 'k'"),
					r13S("UPDATE r SET x = 1"),
					r13S("INSERT INTO r VALUES (CAST(x'ff' AS TEXT), -0.0)"),
					r13S("UPDATE r SET rowid = 50"),
					r13S("DELETE FROM big WHERE id % 11 = 0"),
					r13S("RELEASE a"),
				} {
					r13Run(t, c1, st)
				}
				cexec(t, c2, "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i<40) INSERT INTO pad SELECT i, randomblob(3000) FROM s")
				cexec(t, c1, "COMMIT")
				if n := spillStat(t, db, "rebased") - rebased; n != 1 {
					t.Fatalf("%d transactions rebased, want 1", n)
				}
				mustExec(t, db, "INSERT INTO done VALUES (1)")
				if s == nil {
					s = r13Open(t, db, ChangeOptions{Since: since})
				}
				got := r13ReadTo(t, s, "done")
				r13Check(t, "stream", base, got, r13Snapshot(t, db))
				var own []Change
				for _, ch := range got {
					if ch.Table != "pad" && ch.Table != "done" {
						own = append(own, ch)
					}
				}
				tx := cdcLastStoredBefore(t, db, 1)
				r13Same(t, "stored", tx.Changes, own)
			})
		}
	}
}

// cdcLastStoredBefore returns the stored transaction skip rows before the
// newest.
func cdcLastStoredBefore(t *testing.T, db *sql.DB, skip int) *changefeed.Tx {
	t.Helper()
	var blob []byte
	if err := db.QueryRow("SELECT changes FROM libsql_cdc ORDER BY lsn DESC LIMIT 1 OFFSET ?", skip).Scan(&blob); err != nil {
		t.Fatal(err)
	}
	tx, err := changefeed.DecodeTx(blob)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// TestReview13ClosedMidTransaction: a connection closed in the middle of
// a transaction whose changes moved to disk publishes and stores nothing
// of it, and the temporary memory returns to where it was.
func TestReview13ClosedMidTransaction(t *testing.T) {
	spillBounds(t)
	for _, query := range []string{"cdc=on", "cdc=off"} {
		t.Run(query, func(t *testing.T) {
			db := openTestDB(t, query)
			mustExec(t, db, r13Schema)
			base := r13Snapshot(t, db)
			s := r13Open(t, db, ChangeOptions{})
			mem0 := spillStat(t, db, "temp_memory_bytes")
			moved0 := spillStat(t, db, "temp_files_moved_to_disk")
			db.SetMaxIdleConns(0)
			c, err := db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			cexec(t, c, "BEGIN")
			cexec(t, c, r13Fill(1, 1500))
			cexec(t, c, "UPDATE big SET v = 'x' WHERE id < 100")
			if m := spillStat(t, db, "temp_files_moved_to_disk"); m == moved0 {
				t.Fatal("the changes stayed in memory: the test checks less than it means to")
			}
			c.Close() // no idle connections kept: the driver's connection closes
			if n := db.Stats().OpenConnections; n != 0 {
				t.Fatalf("%d connections open, want the transaction's closed", n)
			}
			if m := spillStat(t, db, "temp_memory_bytes"); m > mem0 {
				t.Errorf("temp_memory_bytes is %d after the connection closed, %d before", m, mem0)
			}
			mustExec(t, db, "INSERT INTO done VALUES (1)")
			got := r13ReadTo(t, s, "done")
			r13Check(t, "stream", base, got, r13Snapshot(t, db))
			if len(got) != 1 {
				t.Fatalf("%d changes, want done's", len(got))
			}
		})
	}
}

// TestReview13SinceBetweenElided: with cdc=on and no stream open, many
// small transactions are published elided; streams opened at each LSN
// (Since) read exactly the transactions after it, in order, and a stream
// that keeps up with live commits while others are elided misses none.
func TestReview13SinceBetweenElided(t *testing.T) {
	db := openTestDB(t, "cdc=on")
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v); CREATE TABLE done(x)")
	var lsns []LSN
	for i := 1; i <= 20; i++ {
		mustExec(t, db, "INSERT INTO t VALUES (?, ?)", i, fmt.Sprint("v", i))
		lsns = append(lsns, r13LSN(t, db))
	}
	mustExec(t, db, "INSERT INTO done VALUES (1)")
	for i, since := range lsns {
		s := r13Open(t, db, ChangeOptions{Since: since})
		got := r13ReadTo(t, s, "done")
		s.Close()
		if len(got) != 20-i {
			t.Fatalf("Since the LSN of insert %d: %d changes, want %d", i+1, len(got), 20-i)
		}
		for j, ch := range got[:len(got)-1] {
			if ch.RowID != int64(i+2+j) || ch.LSN != lsns[i+1+j] {
				t.Fatalf("Since the LSN of insert %d: change %d is row %d at %v, want row %d at %v", i+1, j, ch.RowID, ch.LSN, i+2+j, lsns[i+1+j])
			}
		}
	}
	ids := map[int64]bool{}
	for _, ch := range r13ReadTo(t, r13Open(t, db, ChangeOptions{Since: changefeed.Oldest}), "done") {
		if ch.Table != "t" {
			continue
		}
		if ids[ch.RowID] {
			t.Fatalf("row %d delivered twice", ch.RowID)
		}
		ids[ch.RowID] = true
	}
	keys := make([]int, 0, len(ids))
	for k := range ids {
		keys = append(keys, int(k))
	}
	sort.Ints(keys)
	if len(keys) != 20 {
		t.Fatalf("Since Oldest: rows %v, want 1..20", keys)
	}
}
