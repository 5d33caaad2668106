package libsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golibsql/libsql/changefeed"
)

// stream opens a change stream on db, closed at cleanup.
func stream(t *testing.T, db *sql.DB, opts ChangeOptions) *ChangeStream {
	t.Helper()
	s, err := Changes(context.Background(), db, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// next reads n changes, failing after a second without one.
func next(t *testing.T, s *ChangeStream, n int) []Change {
	t.Helper()
	var out []Change
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		ch, err := s.Next(ctx)
		cancel()
		if err != nil {
			t.Fatalf("after %d of %d changes: %v", len(out), n, err)
		}
		out = append(out, ch)
	}
	return out
}

// noMore checks that the stream has nothing more within a short wait.
func noMore(t *testing.T, s *ChangeStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if ch, err := s.Next(ctx); err == nil {
		t.Fatalf("unexpected change %+v", ch)
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next: %v", err)
	}
}

func describeChange(c Change) string {
	s := fmt.Sprintf("%s %s", c.Op, c.Table)
	if c.PK != nil {
		s += fmt.Sprintf(" pk=%v", c.PK)
	} else {
		s += fmt.Sprintf(" rowid=%d", c.RowID)
	}
	if c.Old != nil {
		s += fmt.Sprintf(" old=%v", c.Old)
	}
	if c.New != nil {
		s += fmt.Sprintf(" new=%v", c.New)
	}
	if c.Indirect {
		s += " indirect"
	}
	return s
}

func expectChanges(t *testing.T, got []Change, want ...string) {
	t.Helper()
	var g []string
	for _, c := range got {
		g = append(g, describeChange(c))
	}
	if !reflect.DeepEqual(g, want) {
		t.Fatalf("changes:\n  %s\nwant:\n  %s", strings.Join(g, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestChangesEveryOpAndTableKind(t *testing.T) {
	for _, cdc := range []string{"off", "on"} {
		t.Run("cdc="+cdc, func(t *testing.T) {
			db := openTestDB(t, "cdc="+cdc)
			mustExec(t, db, "CREATE TABLE r(id INTEGER PRIMARY KEY, v TEXT)")
			mustExec(t, db, "CREATE TABLE w(k TEXT, n INTEGER, v BLOB, PRIMARY KEY(n, k)) WITHOUT ROWID")
			mustExec(t, db, "CREATE TABLE g(a INTEGER, b INTEGER GENERATED ALWAYS AS (a * 2) STORED)")
			mustExec(t, db, "CREATE TABLE ai(id INTEGER PRIMARY KEY AUTOINCREMENT, v)")
			s := stream(t, db, ChangeOptions{})
			mustExec(t, db, "INSERT INTO r VALUES (1, 'a')")
			mustExec(t, db, "UPDATE r SET v = 'b' WHERE id = 1")
			mustExec(t, db, "DELETE FROM r WHERE id = 1")
			mustExec(t, db, "INSERT INTO w VALUES ('x', 7, x'00ff')")
			mustExec(t, db, "UPDATE w SET v = NULL")
			mustExec(t, db, "DELETE FROM w")
			mustExec(t, db, "INSERT INTO g(a) VALUES (21)")
			mustExec(t, db, "INSERT INTO ai(v) VALUES (1.5)")
			got := next(t, s, 8)
			expectChanges(t, got,
				"insert r rowid=1 new=[1 a]",
				"update r rowid=1 old=[1 a] new=[1 b]",
				"delete r rowid=1 old=[1 b]",
				"insert w pk=[7 x] new=[x 7 [0 255]]",
				"update w pk=[7 x] old=[x 7 [0 255]] new=[x 7 <nil>]",
				"delete w pk=[7 x] old=[x 7 <nil>]",
				"insert g rowid=1 new=[21 42]",
				"insert ai rowid=1 new=[1 1.5]",
			)
			if !reflect.DeepEqual(got[0].Columns, []string{"id", "v"}) || !reflect.DeepEqual(got[6].Columns, []string{"a", "b"}) {
				t.Fatalf("columns %v, %v", got[0].Columns, got[6].Columns)
			}
			for i := 1; i < len(got); i++ {
				if got[i].LSN <= got[i-1].LSN {
					t.Fatalf("LSNs not increasing: %v then %v", got[i-1].LSN, got[i].LSN)
				}
			}
			noMore(t, s)
		})
	}
}

func TestChangesTriggersCascadesAndRollbacks(t *testing.T) {
	db := openTestDB(t, "foreign_keys=on")
	mustExec(t, db, "CREATE TABLE parent(id INTEGER PRIMARY KEY)")
	mustExec(t, db, "CREATE TABLE child(id INTEGER PRIMARY KEY, p REFERENCES parent(id) ON DELETE CASCADE)")
	mustExec(t, db, "CREATE TABLE log(what TEXT)")
	mustExec(t, db, "CREATE TRIGGER parent_log AFTER INSERT ON parent BEGIN INSERT INTO log VALUES ('parent ' || new.id); END")
	mustExec(t, db, "CREATE TABLE u(x UNIQUE)")
	s := stream(t, db, ChangeOptions{})

	mustExec(t, db, "INSERT INTO parent VALUES (1)")
	mustExec(t, db, "INSERT INTO child VALUES (10, 1)")
	mustExec(t, db, "DELETE FROM parent WHERE id = 1")
	expectChanges(t, next(t, s, 5),
		"insert parent rowid=1 new=[1]",
		"insert log rowid=1 new=[parent 1] indirect",
		"insert child rowid=10 new=[10 1]",
		"delete parent rowid=1 old=[1]",
		"delete child rowid=10 old=[10 1] indirect",
	)

	// A statement that fails is undone, and so are its changes; ROLLBACK TO
	// drops what followed the savepoint; ROLLBACK drops everything.
	c := dbConn(t, db)
	cexec(t, c, "BEGIN")
	cexec(t, c, "INSERT INTO u VALUES (1)")
	if _, err := c.ExecContext(context.Background(), "INSERT INTO u VALUES (2), (3), (1)"); err == nil {
		t.Fatal("a UNIQUE violation went through")
	}
	cexec(t, c, "SAVEPOINT sp")
	cexec(t, c, "INSERT INTO u VALUES (4)")
	cexec(t, c, "ROLLBACK TO sp")
	cexec(t, c, "INSERT INTO u VALUES (5)")
	cexec(t, c, "RELEASE sp")
	cexec(t, c, "COMMIT")
	cexec(t, c, "BEGIN")
	cexec(t, c, "INSERT INTO u VALUES (6)")
	cexec(t, c, "ROLLBACK")
	got := next(t, s, 2)
	expectChanges(t, got, "insert u rowid=1 new=[1]", "insert u rowid=2 new=[5]")
	if got[0].LSN != got[1].LSN || got[0].Index != 0 || got[1].Index != 1 {
		t.Fatalf("one transaction's changes: LSN %v/%v index %d/%d", got[0].LSN, got[1].LSN, got[0].Index, got[1].Index)
	}
	noMore(t, s)
}

// Two connections' interleaved transactions arrive in commit order, each
// contiguous; concurrent transactions, direct and rebased, appear once.
func TestChangesCommitOrderAcrossConnections(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE a(id INTEGER PRIMARY KEY, v)")
	mustExec(t, db, "CREATE TABLE b(id INTEGER PRIMARY KEY, v)")
	s := stream(t, db, ChangeOptions{Tables: []string{"a", "b"}})
	c1, c2 := dbConn(t, db), dbConn(t, db)
	cexec(t, c1, "BEGIN CONCURRENT")
	cexec(t, c2, "BEGIN CONCURRENT")
	cexec(t, c1, "INSERT INTO a VALUES (1, 'c1')")
	cexec(t, c2, "INSERT INTO b VALUES (1, 'c2')")
	cexec(t, c1, "INSERT INTO a VALUES (2, 'c1')")
	cexec(t, c2, "INSERT INTO b VALUES (2, 'c2')")
	cexec(t, c2, "COMMIT") // direct
	cexec(t, c1, "COMMIT") // rebased
	mustExec(t, db, "INSERT INTO a VALUES (3, 'plain')")
	got := next(t, s, 5)
	expectChanges(t, got,
		"insert b rowid=1 new=[1 c2]", "insert b rowid=2 new=[2 c2]",
		"insert a rowid=1 new=[1 c1]", "insert a rowid=2 new=[2 c1]",
		"insert a rowid=3 new=[3 plain]")
	if !(got[0].LSN == got[1].LSN && got[1].LSN < got[2].LSN && got[2].LSN == got[3].LSN && got[3].LSN < got[4].LSN) {
		t.Fatalf("LSNs %v %v %v %v %v", got[0].LSN, got[1].LSN, got[2].LSN, got[3].LSN, got[4].LSN)
	}
	noMore(t, s)
}

func TestChangesNextHonoursContextAndClose(t *testing.T) {
	db := openTestDB(t, "")
	s := stream(t, db, ChangeOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := s.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Next returned after %v", d)
	}
	go func() { time.Sleep(20 * time.Millisecond); s.Close() }()
	if _, err := s.Next(context.Background()); !errors.Is(err, changefeed.ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
}

// A consumer that falls behind its buffer: with CDC off it learns it
// lagged, and where; with cdc=on it reads on from the durable log.
func TestChangesSlowConsumer(t *testing.T) {
	for _, cdc := range []string{"off", "on"} {
		t.Run("cdc="+cdc, func(t *testing.T) {
			db := openTestDB(t, "cdc="+cdc)
			mustExec(t, db, "CREATE TABLE t(x)")
			// More transactions than the buffer and the hub's in-memory
			// history (256) hold.
			const n = 400
			s := stream(t, db, ChangeOptions{Buffer: 10})
			for i := range n {
				mustExec(t, db, "INSERT INTO t VALUES (?)", i)
			}
			var seen []int64
			for len(seen) < n {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				ch, err := s.Next(ctx)
				cancel()
				if err != nil {
					var lag *changefeed.LaggedError
					if cdc == "off" && errors.As(err, &lag) && errors.Is(err, ErrStreamLagged) {
						if lag.LSN != s.LSN() || len(seen) == 0 {
							t.Fatalf("lagged at %v after %d changes; stream at %v", lag.LSN, len(seen), s.LSN())
						}
						return
					}
					t.Fatalf("after %d changes: %v", len(seen), err)
				}
				seen = append(seen, ch.New[0].(int64))
			}
			if cdc == "off" {
				t.Fatal("a consumer 390 changes behind a buffer of 10 did not lag")
			}
			for i, v := range seen {
				if v != int64(i) {
					t.Fatalf("change %d is %d: a gap or a duplicate", i, v)
				}
			}
		})
	}
}

// With cdc=on a stream resumes from a saved LSN after the database was
// closed and reopened.
func TestChangesDurableResume(t *testing.T) {
	path := t.TempDir() + "/cdc.db"
	db, err := Open("file:" + path + "?cdc=on")
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "CREATE TABLE t(x)")
	mustExec(t, db, "INSERT INTO t VALUES (1)")
	s := stream(t, db, ChangeOptions{Since: changefeed.Oldest})
	first := next(t, s, 1)[0]
	saved := s.LSN()
	mustExec(t, db, "INSERT INTO t VALUES (2)")
	mustExec(t, db, "INSERT INTO t VALUES (3)")
	s.Close()
	db.Close()

	db = openTestDSN(t, "file:"+path+"?cdc=on")
	mustExec(t, db, "INSERT INTO t VALUES (4)")
	s = stream(t, db, ChangeOptions{Since: saved})
	got := next(t, s, 3)
	for i, want := range []int64{2, 3, 4} {
		if got[i].New[0] != want {
			t.Fatalf("resumed change %d: %v, want %d", i, got[i].New, want)
		}
	}
	if first.LSN >= got[0].LSN || got[1].LSN >= got[2].LSN {
		t.Fatalf("LSNs across the restart: %v, %v, %v, %v", first.LSN, got[0].LSN, got[1].LSN, got[2].LSN)
	}
	noMore(t, s)
	if n := count(t, db, "SELECT count(*) FROM libsql_cdc"); n != 4 {
		t.Fatalf("%d rows in libsql_cdc, want 4", n)
	}
}

// Retention: cdc_max keeps the newest transactions; a stream asking for
// what was pruned learns that it lagged, instead of skipping a gap.
func TestChangesRetentionPrunes(t *testing.T) {
	path := t.TempDir() + "/retention.db"
	db, err := Open("file:" + path + "?cdc=on&cdc_max=5")
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "CREATE TABLE t(x)")
	s := stream(t, db, ChangeOptions{})
	for i := range 20 {
		mustExec(t, db, "INSERT INTO t VALUES (?)", i)
	}
	first := next(t, s, 1)[0]
	deadline := time.Now().Add(10 * time.Second)
	for count(t, db, "SELECT count(*) FROM libsql_cdc") > 5 {
		if time.Now().After(deadline) {
			t.Fatalf("%d transactions stored, retention keeps 5", count(t, db, "SELECT count(*) FROM libsql_cdc"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A new process's hub has no history in memory: it reads libsql_cdc.
	// (An open stream keeps the engine, and its hub, open.)
	s.Close()
	db.Close()
	db = openTestDSN(t, "file:"+path+"?cdc=on&cdc_max=5")
	old := stream(t, db, ChangeOptions{Since: first.LSN})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := old.Next(ctx); !errors.Is(err, ErrStreamLagged) {
		t.Fatalf("a stream from a pruned LSN: %v, want ErrStreamLagged", err)
	}
	all := stream(t, db, ChangeOptions{Since: changefeed.Oldest})
	got := next(t, all, 5)
	if got[4].New[0] != int64(19) {
		t.Fatalf("newest retained change %v", got[4].New)
	}
}

// TestChangesAnalyzeStat1 is the regression test for ANALYZE's rows in
// sqlite_stat1, which SQLite reports through a stand-in table without
// column definitions: the hook used to fault on it and drop the change.
func TestChangesAnalyzeStat1(t *testing.T) {
	db := openTestDB(t, "")
	mustExec(t, db, "CREATE TABLE a(id INTEGER PRIMARY KEY, v); CREATE INDEX av ON a(v); INSERT INTO a VALUES (1, 'x')")
	s := stream(t, db, ChangeOptions{})
	mustExec(t, db, "ANALYZE")
	got := next(t, s, 1)
	expectChanges(t, got, "insert sqlite_stat1 rowid=1 new=[a av 1 1]")
	if !reflect.DeepEqual(got[0].Columns, []string{"tbl", "idx", "stat"}) {
		t.Fatalf("columns %v", got[0].Columns)
	}
	noMore(t, s)
}

// TestChangesCreateTableAsSelect is the regression test for the rows a
// CREATE TABLE ... AS SELECT puts in its new table: SQLite fills it without
// calling the pre-update hook, so they were never published. They are
// published as inserts, in autocommit and inside a transaction, stored
// with cdc=on, and a plain CREATE TABLE publishes nothing.
func TestChangesCreateTableAsSelect(t *testing.T) {
	for _, cdc := range []string{"off", "on"} {
		t.Run("cdc="+cdc, func(t *testing.T) {
			db := openTestDB(t, "cdc="+cdc)
			db.SetMaxOpenConns(1)
			mustExec(t, db, "CREATE TABLE a(id INTEGER PRIMARY KEY, v)")
			mustExec(t, db, "INSERT INTO a VALUES (1, 'x'), (2, x'00')")
			// (The fts5 table's own inserts into its shadow tables are
			// filtered out.)
			s := stream(t, db, ChangeOptions{Tables: []string{"a", "plain", "v", "it's", "c", "q"}})
			mustExec(t, db, "CREATE TABLE plain(a, b)")
			mustExec(t, db, "CREATE VIEW v AS SELECT * FROM a")
			mustExec(t, db, "CREATE VIRTUAL TABLE f USING fts5(body)")
			mustExec(t, db, "CREATE TABLE IF NOT EXISTS a AS SELECT 1")
			mustExec(t, db, `CREATE TABLE "it's" AS SELECT v, id * 10 AS "_rowid_" FROM a ORDER BY id DESC`)
			mustExec(t, db, "BEGIN; CREATE TABLE c AS SELECT id FROM a WHERE id = 2; INSERT INTO a VALUES (3, 'y'); COMMIT")
			rows, err := db.Query("CREATE TABLE q AS SELECT 5 AS n")
			if err != nil {
				t.Fatal(err)
			}
			rows.Close()
			got := next(t, s, 5)
			expectChanges(t, got,
				"insert it's rowid=1 new=[[0] 20]",
				"insert it's rowid=2 new=[x 10]",
				"insert c rowid=1 new=[2]",
				"insert a rowid=3 new=[3 y]",
				"insert q rowid=1 new=[5]",
			)
			if !reflect.DeepEqual(got[0].Columns, []string{"v", "_rowid_"}) {
				t.Fatalf("columns %v", got[0].Columns)
			}
			if got[0].LSN == got[2].LSN || got[2].LSN != got[3].LSN {
				t.Fatalf("LSNs %v: the statements' transactions are mixed up", []changefeed.LSN{got[0].LSN, got[1].LSN, got[2].LSN, got[3].LSN})
			}
			noMore(t, s)
			if cdc == "on" {
				stored := next(t, stream(t, db, ChangeOptions{Since: got[0].LSN - 1, Tables: []string{"a", "it's", "c", "q"}}), len(got))
				for i := range got {
					if describeChange(stored[i]) != describeChange(got[i]) {
						t.Fatalf("stored change %d is %s, published %s", i, describeChange(stored[i]), describeChange(got[i]))
					}
				}
			}
		})
	}
}

// With cdc=on, the _pragma list of a new database's first connection runs
// before CDC creates its tables, so settings that only an empty database
// takes (page_size, auto_vacuum) take effect.
func TestCDCOnLetsPragmasShapeANewDatabase(t *testing.T) {
	db := openTestDB(t, "cdc=on&_pragma=page_size(8192)&_pragma=auto_vacuum(1)")
	var ps, av, tables int
	if err := db.QueryRow("PRAGMA page_size").Scan(&ps); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("PRAGMA auto_vacuum").Scan(&av); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name = 'libsql_cdc'").Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if ps != 8192 || av != 1 || tables != 1 {
		t.Fatalf("page_size %d, auto_vacuum %d, libsql_cdc tables %d; want 8192, 1, 1", ps, av, tables)
	}
}

// With cdc=on the driver runs an autocommit write in a transaction of its
// own, to store its changes in the same commit; BEGIN IMMEDIATE, BEGIN
// EXCLUSIVE and VACUUM were wrapped too, and failed ("cannot start a
// transaction within a transaction", "cannot VACUUM from within a
// transaction"): so did BeginTx(LevelSerializable) and RetryTx's fallback.
func TestCDCOnRunsTransactionStatementsAndVacuum(t *testing.T) {
	db := openTestDB(t, "cdc=on")
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, q := range []string{"CREATE TABLE t(x)", "BEGIN IMMEDIATE", "INSERT INTO t VALUES (1)", "COMMIT",
		"BEGIN EXCLUSIVE", "INSERT INTO t VALUES (2)", "ROLLBACK", "VACUUM", "INSERT INTO t VALUES (3)"} {
		if _, err := c.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s with cdc=on: %v", q, err)
		}
	}
	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
	if err != nil {
		t.Fatalf("BeginTx(LevelSerializable) with cdc=on: %v", err)
	}
	if _, err := tx.Exec("INSERT INTO t VALUES (4)"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var rows, captured int
	if err := db.QueryRow("SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM libsql_cdc)").Scan(&rows, &captured); err != nil {
		t.Fatal(err)
	}
	if rows != 3 || captured != 3 {
		t.Fatalf("%d rows and %d captured transactions, want 3 and 3", rows, captured)
	}
}
