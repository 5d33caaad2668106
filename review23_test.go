package libsql

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// r23Open opens path (a file database, dsn query q) with an authorizer
// answering with log's rule; the rule is cleared before the DB closes.
func r23Open(t *testing.T, path, q string, log *authLog) *sql.DB {
	t.Helper()
	dsn := fileDSN(path)
	if q != "" {
		dsn += "?" + q
	}
	db := openUnchecked(t, dsn, WithAuthorizer(log.fn))
	t.Cleanup(func() { log.set(nil); db.Close() })
	return db
}

// r23Setup creates the database at path with sql, with no authorizer.
func r23Setup(t *testing.T, path, q, script string) {
	t.Helper()
	dsn := fileDSN(path)
	if q != "" {
		dsn += "?" + q
	}
	db := openUnchecked(t, dsn)
	mustExec(t, db, script)
	db.Close()
}

// r23Strings returns the first column of every row of q on c.
func r23Strings(t *testing.T, c interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, q string) []string {
	t.Helper()
	rows, err := c.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v sql.NullString
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v.String)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func denyAll(AuthRequest) AuthResult { return AuthDeny }

// TestReview23CDCTempTriggerRunsUnjudged: the body of a TEMP trigger the
// user created is the user's SQL ("the SQL of triggers and views that text
// runs"); the README says no text the user sends runs as one of the
// driver's. A TEMP trigger on main.libsql_cdc is fired by durable CDC's
// own INSERT, compiled without the authorizer: its read of a denied table
// runs unjudged and copies the table into a table the user may read.
func TestReview23CDCTempTriggerRunsUnjudged(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	r23Setup(t, path, "cdc=on", "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE secret(x); INSERT INTO secret VALUES ('s3cr3t')")
	log := &authLog{rule: secretRule}
	db := r23Open(t, path, "cdc=on", log)
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "SELECT x FROM secret"); !isAuthErr(err) {
		t.Fatalf("direct read of secret: %v, want AUTH", err)
	}
	mustExecConn(t, c, "CREATE TEMP TABLE loot(x)")
	if _, err := c.ExecContext(ctx, "CREATE TEMP TRIGGER steal AFTER INSERT ON main.libsql_cdc BEGIN INSERT INTO temp.loot SELECT x FROM main.secret; END"); err != nil {
		t.Logf("the trigger on libsql_cdc was refused (fine): %v", err)
		return
	}
	_, ierr := c.ExecContext(ctx, "INSERT INTO t(v) VALUES ('a')")
	got := r23Strings(t, c, "SELECT x FROM temp.loot")
	if len(got) > 0 {
		t.Errorf("BYPASS: the user's trigger body read the denied table secret unjudged when durable CDC's INSERT fired it: loot = %q (INSERT: %v); want the read judged (AUTH) or the trigger refused", got, ierr)
	}
}

// TestReview23RebaseTempTriggerRunsUnjudged: the replay of a rebased
// BEGIN CONCURRENT transaction turns the transaction's DELETE and INSERT
// of one row into an UPDATE. Triggers are switched off for the replay only
// where main's schema has one (schemaFacts reads sqlite_schema, not
// sqlite_temp_schema): a TEMP trigger ON UPDATE of main.t, which no
// statement of the user ever compiled, fires in the driver's replay
// statement, compiled without the authorizer, and its read of a denied
// table runs unjudged.
func TestReview23RebaseTempTriggerRunsUnjudged(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	r23Setup(t, path, "", `CREATE TABLE t(id INTEGER PRIMARY KEY, x BLOB); CREATE TABLE bump(id INTEGER PRIMARY KEY);
		CREATE TABLE secret(x); INSERT INTO secret VALUES ('s3cr3t'); INSERT INTO t VALUES (1, NULL)`)
	log := &authLog{rule: secretRule}
	db := r23Open(t, path, "", log)
	other := openUnchecked(t, fileDSN(path))
	defer other.Close()
	a, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	mustExecConn(t, a, "CREATE TEMP TABLE loot(x)")
	mustExecConn(t, a, "CREATE TEMP TRIGGER steal AFTER UPDATE ON main.t BEGIN INSERT INTO temp.loot SELECT x FROM main.secret; END")
	// The user's own UPDATE compiles the trigger: denied.
	if _, err := a.ExecContext(ctx, "UPDATE t SET x = 1 WHERE id = 1"); !isAuthErr(err) {
		t.Fatalf("the user's UPDATE firing the trigger: %v, want AUTH", err)
	}
	mustExecConn(t, a, "BEGIN CONCURRENT")
	mustExecConn(t, a, "DELETE FROM t WHERE id = 1")
	mustExecConn(t, a, "INSERT INTO t VALUES (1, zeroblob(20000))") // allocates: no merge
	mustExec(t, other, "INSERT INTO bump DEFAULT VALUES")
	before := r23Rebased(t, other)
	if _, err := a.ExecContext(ctx, "COMMIT"); err != nil {
		if errors.Is(err, ErrBusySnapshot) {
			t.Skipf("not rebased (conflict): %v", err)
		}
		t.Fatalf("COMMIT: %v", err)
	}
	if r23Rebased(t, other) == before {
		t.Logf("the commit was not rebased")
	}
	if got := r23Strings(t, a, "SELECT x FROM temp.loot"); len(got) > 0 {
		t.Errorf("BYPASS: a TEMP trigger's read of the denied table secret ran unjudged in the rebase's replay: loot = %q; want it judged (AUTH), or TEMP triggers off in the replay as main's are", got)
	}
}

// r23Rebased returns the engine's count of rebased concurrent commits.
func r23Rebased(t *testing.T, db *sql.DB) uint64 {
	t.Helper()
	var s string
	if err := db.QueryRow("PRAGMA libsql_stats").Scan(&s); err != nil {
		t.Fatal(err)
	}
	var all struct {
		Concurrent struct{ Rebased uint64 } `json:"concurrent"`
	}
	if err := json.Unmarshal([]byte(s), &all); err != nil {
		t.Fatal(err)
	}
	return all.Concurrent.Rebased
}

// TestReview23RetentionPrunerJudged: durable CDC's retention is the
// driver's own work ("durable CDC's writes" are not judged), but the
// pruner runs its reads and deletes of libsql_cdc through conn.QueryContext
// and conn.ExecContext, the user's entry points, on a connection with
// WithAuthorizer's authorizer: an authorizer that keeps the user off the
// driver's tables stops retention.
func TestReview23RetentionPrunerJudged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.db")
	r23Setup(t, path, "cdc=on", "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	noDriverTables := func(r AuthRequest) AuthResult {
		if strings.HasPrefix(r.Arg1, "libsql_") {
			return AuthDeny
		}
		return AuthOK
	}
	cn, err := NewConnector(fileDSN(path)+"?cdc=on&cdc_max=1", WithAuthorizer(noDriverTables))
	if err != nil {
		t.Fatal(err)
	}
	cn.prune.interval = 5 * time.Millisecond
	db := sql.OpenDB(cn)
	defer db.Close()
	for i := 0; i < 5; i++ {
		mustExec(t, db, "INSERT INTO t(v) VALUES ('x')")
	}
	plain := openUnchecked(t, fileDSN(path))
	defer plain.Close()
	n := 0
	for deadline := time.Now().Add(600 * time.Millisecond); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if err := plain.QueryRow("SELECT count(*) FROM libsql_cdc").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n <= 2 {
			return
		}
	}
	st := cn.PruneStats()
	t.Errorf("cdc_max=1 kept %d stored transactions: retention, the driver's own work, was judged by the user's authorizer (pruner's last error: %v, failures %d)", n, st.LastError, st.Failures)
}

// TestReview23SerializeJudged: the contract says Serialize's reads are not
// judged, but Serialize runs its query (pragma_database_list joined with
// sqlite_dbpage) through the user's Query path: a deny-everything
// authorizer makes it fail with AUTH.
func TestReview23SerializeJudged(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	r23Setup(t, path, "", "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a')")
	db := r23Open(t, path, "", &authLog{rule: denyAll})
	if img, err := Serialize(ctx, db, ""); err != nil || len(img) == 0 {
		t.Errorf("Serialize under a deny-everything authorizer: %d bytes, %v; the contract says Serialize's reads are not judged", len(img), err)
	}
	nc, err := OpenConn(ctx, fileDSN(path), WithAuthorizer(denyAll))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if img, err := nc.Serialize(ctx, ""); err != nil || len(img) == 0 {
		t.Errorf("Conn.Serialize under a deny-everything authorizer: %d bytes, %v", len(img), err)
	}
}

// TestReview23NotJudgedUnderDenyAll: Backup, Restore and blob handles work
// under an authorizer that denies everything, which still denies the
// user's SQL.
func TestReview23NotJudgedUnderDenyAll(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "a.db")
	r23Setup(t, path, "", "CREATE TABLE b(id INTEGER PRIMARY KEY, data BLOB); INSERT INTO b VALUES (1, x'0102030405')")
	db := r23Open(t, path, "", &authLog{rule: denyAll})
	if _, err := db.Exec("SELECT 1"); !isAuthErr(err) {
		t.Fatalf("SELECT 1 under deny-all: %v", err)
	}
	copyPath := filepath.Join(dir, "copy.db")
	if err := Backup(ctx, db, "", copyPath, nil); err != nil {
		t.Errorf("Backup: %v", err)
	}
	if err := Restore(ctx, db, "", fileDSN(copyPath), nil); err != nil {
		t.Errorf("Restore: %v", err)
	}
	nc, err := OpenConn(ctx, fileDSN(path), WithAuthorizer(denyAll))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.Backup(ctx, "", filepath.Join(dir, "copy2.db"), nil); err != nil {
		t.Errorf("Conn.Backup: %v", err)
	}
	bl, err := nc.OpenBlob(ctx, "main", "b", "data", 1, true)
	if err != nil {
		t.Fatalf("OpenBlob for writing: %v", err)
	}
	if _, err := bl.WriteAt([]byte{9}, 0); err != nil {
		t.Errorf("blob write: %v", err)
	}
	if err := bl.Close(); err != nil {
		t.Errorf("blob close: %v", err)
	}
	bl, err = nc.OpenBlob(ctx, "main", "b", "data", 1, false)
	if err != nil {
		t.Fatalf("OpenBlob: %v", err)
	}
	b, err := io.ReadAll(bl)
	bl.Close()
	if err != nil || len(b) != 5 || b[0] != 9 {
		t.Errorf("blob read: %x, %v", b, err)
	}
}

// TestReview23ChangesUnderNarrowAuthorizer: a change stream and durable CDC
// work under an authorizer that allows only the user's table t.
func TestReview23ChangesUnderNarrowAuthorizer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "a.db")
	r23Setup(t, path, "cdc=on", "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	onlyT := func(r AuthRequest) AuthResult {
		switch r.Action {
		case AuthInsert, AuthRead, AuthUpdate, AuthDelete:
			if r.Arg1 == "t" {
				return AuthOK
			}
		case AuthSelect:
			return AuthOK
		}
		return AuthDeny
	}
	db := r23Open(t, path, "cdc=on", &authLog{rule: onlyT})
	s, err := Changes(ctx, db, ChangeOptions{})
	if err != nil {
		t.Fatalf("Changes: %v", err)
	}
	defer s.Close()
	mustExec(t, db, "INSERT INTO t(v) VALUES ('a')")
	if _, err := db.Exec("SELECT lsn FROM libsql_cdc"); !isAuthErr(err) {
		t.Errorf("user's read of libsql_cdc: %v", err)
	}
	ch, err := s.Next(ctx)
	if err != nil || ch.Table != "t" || len(ch.New) != 2 || ch.New[1] != "a" {
		t.Errorf("change: %+v, %v", ch, err)
	}
	plain := openUnchecked(t, fileDSN(path))
	defer plain.Close()
	var n int
	if err := plain.QueryRow("SELECT count(*) FROM libsql_cdc").Scan(&n); err != nil || n != 1 {
		t.Errorf("stored CDC rows: %d, %v; want 1", n, err)
	}
}

// TestReview23InternalTextCollision: the user sends the very texts the
// driver runs itself (replay's savepoint, the AUTOINCREMENT bookkeeping,
// durable CDC's INSERT, BEGIN IMMEDIATE): each is judged (denied), and
// the driver's own runs of them, a rebased concurrent commit with durable
// CDC, still work, after which the user's texts are still denied.
func TestReview23InternalTextCollision(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	r23Setup(t, path, "cdc=on", "CREATE TABLE t(id INTEGER PRIMARY KEY AUTOINCREMENT, x BLOB); CREATE TABLE bump(id INTEGER PRIMARY KEY); INSERT INTO t(x) VALUES (NULL)")
	rule := func(r AuthRequest) AuthResult {
		switch {
		case r.Action == AuthSavepoint, r.Action == AuthPragma:
			return AuthDeny
		case r.Action == AuthTransaction && r.Arg1 == "BEGIN":
			return AuthOK
		case strings.HasPrefix(r.Arg1, "sqlite_"), strings.HasPrefix(r.Arg1, "libsql_"), strings.HasPrefix(r.Arg1, "pragma_"):
			return AuthDeny
		}
		return AuthOK
	}
	log := &authLog{rule: rule}
	db := r23Open(t, path, "cdc=on", log)
	db.SetMaxOpenConns(1)
	other := openUnchecked(t, fileDSN(path)+"?cdc=on")
	defer other.Close()
	texts := []struct {
		q    string
		args []any
	}{
		{"SELECT name, seq FROM sqlite_sequence", nil},
		{"SAVEPOINT libsql_replay", nil},
		{"RELEASE libsql_replay", nil},
		{cdcInsert, []any{int64(1 << 40), int64(0), []byte{1}}},
		{"SELECT seq FROM sqlite_sequence WHERE name = ?", []any{"t"}},
		{"SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'shadow'", nil},
		{"SELECT cid, pk, name, hidden FROM pragma_table_xinfo(?1, 'main') ORDER BY cid", []any{"t"}},
	}
	check := func(when string) {
		for _, x := range texts {
			if _, err := db.ExecContext(ctx, x.q, x.args...); !isAuthErr(err) {
				t.Errorf("%s: the user's %q: %v, want AUTH", when, x.q, err)
			}
			rows, err := db.QueryContext(ctx, x.q, x.args...)
			if err == nil {
				rows.Close()
			}
			if !isAuthErr(err) {
				t.Errorf("%s: the user's Query %q: %v, want AUTH", when, x.q, err)
			}
		}
	}
	check("before")
	before := r23Rebased(t, other)
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustExecConn(t, c, "BEGIN CONCURRENT")
	mustExecConn(t, c, "INSERT INTO t(x) VALUES (zeroblob(20000))")
	mustExec(t, other, "INSERT INTO bump DEFAULT VALUES")
	if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
		t.Errorf("a rebased concurrent commit under the authorizer: %v", err)
		c.ExecContext(ctx, "ROLLBACK")
	}
	c.Close()
	if r23Rebased(t, other) == before {
		t.Log("not rebased")
	}
	check("after")
	var n, cdc int
	if err := other.QueryRow("SELECT count(*), (SELECT count(*) FROM libsql_cdc) FROM t").Scan(&n, &cdc); err != nil || n != 2 || cdc != 3 {
		t.Errorf("rows %d, CDC rows %d, %v; want 2 and 3 (setup, bump, the concurrent commit)", n, cdc, err)
	}
}

// TestReview23DeniedLeavesNoLock: a denied statement fails with an *Error
// of code AUTH, and leaves no transaction or lock: another connection can
// write at once (a held sql.Conn and the pool alike, a script that began a
// transaction included).
func TestReview23DeniedLeavesNoLock(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	r23Setup(t, path, "", "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE secret(x); INSERT INTO secret VALUES ('s')")
	db := r23Open(t, path, "", &authLog{rule: secretRule})
	db.SetMaxOpenConns(1)
	other := openUnchecked(t, fileDSN(path))
	defer other.Close()
	other.SetMaxOpenConns(1)
	mustExec(t, other, "PRAGMA busy_timeout = 200")
	write := func(when string) {
		t.Helper()
		if _, err := other.Exec("INSERT INTO t(v) VALUES (?)", when); err != nil {
			t.Errorf("a write from another connection after %s: %v", when, err)
		}
	}
	var e *Error
	_, err := db.Exec("INSERT INTO t(v) SELECT x FROM secret")
	if !errors.As(err, &e) || e.Code() != AUTH {
		t.Errorf("denied INSERT ... SELECT: %v (%T), want *Error with code AUTH", err, err)
	}
	write("a denied statement")
	// A script whose own BEGIN ran before the denied statement keeps its
	// transaction until the pool hands the connection out again (its
	// ResetSession rolls back), as after any other failing statement: the
	// authorizer makes no difference.
	tryWrite := func() error {
		_, err := other.Exec("INSERT INTO t(v) VALUES ('probe'); DELETE FROM t WHERE v = 'probe'")
		return err
	}
	for _, script := range []string{"BEGIN IMMEDIATE; INSERT INTO t(v) VALUES ('in'); ", "BEGIN CONCURRENT; INSERT INTO t(v) VALUES ('in'); "} {
		var held [2]bool
		for i, last := range []string{"SELECT x FROM secret", "SELECT x FROM no_such_table"} {
			_, err := db.Exec(script + last)
			if i == 0 && (!errors.As(err, &e) || e.Code() != AUTH) {
				t.Errorf("%q: %v, want AUTH", script+last, err)
			}
			if i == 1 && (err == nil || isAuthErr(err)) {
				t.Errorf("%q: %v, want no such table", script+last, err)
			}
			held[i] = tryWrite() != nil
			mustExec(t, db, "SELECT 1") // the pool's connection again: ResetSession
			write(script + last + " and the connection's reuse")
		}
		if held[0] != held[1] {
			t.Errorf("%q: lock held after the denied statement %v, after a failing one %v", script, held[0], held[1])
		}
		if held[0] {
			t.Logf("%q then a failing statement: the writer lock stays held until the pool reuses the connection (not specific to the authorizer)", script)
		}
		rows, err := db.Query(script + "SELECT x FROM secret")
		if err == nil {
			rows.Close()
		}
		if !errors.As(err, &e) || e.Code() != AUTH {
			t.Errorf("Query %q: %v, want AUTH", script, err)
		}
		mustExec(t, db, "SELECT 1")
		write("Query " + script)
	}
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "UPDATE t SET v = (SELECT x FROM secret)"); !isAuthErr(err) {
		t.Errorf("denied UPDATE on a held conn: %v", err)
	}
	write("a denied statement on a held conn")
	if got := r23Strings(t, other, "SELECT v FROM t WHERE v IN ('in', 's')"); len(got) != 0 {
		t.Errorf("the denied scripts' writes stayed: %q", got)
	}
}

// TestReview23PanicsAndBadAnswersOnDriverHandledSQL: a panic or an answer
// other than 0, 1, 2 denies the statements the driver judges itself (BEGIN
// CONCURRENT, the engine's PRAGMAs, wal_checkpoint) as SQLite's: AUTH with
// the cause, and no transaction left open.
func TestReview23PanicsAndBadAnswersOnDriverHandledSQL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	r23Setup(t, path, "", "CREATE TABLE t(id INTEGER PRIMARY KEY)")
	nc, err := OpenConn(ctx, fileDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetAuthorizer(func(r AuthRequest) AuthResult {
		if r.Action == AuthTransaction {
			panic("no transactions")
		}
		if r.Action == AuthPragma {
			return 5
		}
		if r.Action == AuthRead {
			return -1
		}
		return AuthOK
	})
	_, err = nc.Exec(ctx, "BEGIN CONCURRENT")
	if !isAuthErr(err) || !strings.Contains(err.Error()+errString(errors.Unwrap(err)), "no transactions") {
		t.Errorf("BEGIN CONCURRENT, panicking authorizer: %v, want AUTH caused by the panic", err)
	}
	if nc.InTx() || !nc.c.cc.GetAutocommit() || nc.c.conc != nil {
		t.Error("a transaction is open after the denied BEGIN CONCURRENT")
	}
	for _, q := range []string{"PRAGMA busy_timeout", "PRAGMA journal_mode", "PRAGMA libsql_stats", "PRAGMA wal_checkpoint"} {
		rows, err := nc.Query(ctx, q)
		if err == nil {
			rows.Close()
		}
		if !isAuthErr(err) {
			t.Errorf("Query %s with an authorizer answering 5: %v, want AUTH", q, err)
		}
		if _, err := nc.Exec(ctx, q); !isAuthErr(err) {
			t.Errorf("Exec %s with an authorizer answering 5: %v, want AUTH", q, err)
		}
	}
	var x int
	if err := nc.QueryRow(ctx, "SELECT id FROM t").Scan(&x); !isAuthErr(err) {
		t.Errorf("a read answered -1: %v, want AUTH", err)
	}
	nc.SetAuthorizer(nil)
	if _, err := nc.Exec(ctx, "BEGIN CONCURRENT; INSERT INTO t VALUES (1); COMMIT"); err != nil {
		t.Errorf("after: %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestReview23PreparedStmtAcrossConns: a *sql.Stmt database/sql prepares
// again on a connection whose authorizer SetAuthorizer changed is judged
// by it; a statement prepared on the connection before SetAuthorizer is
// judged at its next run; once the connection is back in the pool,
// WithAuthorizer's answers come back.
func TestReview23PreparedStmtAcrossConns(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	r23Setup(t, path, "", "CREATE TABLE secret(x); INSERT INTO secret VALUES ('s')")
	db := r23Open(t, path, "", &authLog{})
	db.SetMaxOpenConns(2)
	st, err := db.Prepare("SELECT x FROM secret")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cst, err := c.PrepareContext(ctx, "SELECT x FROM secret")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Raw(func(dc any) error { dc.(AuthorizerSetter).SetAuthorizer(secretRule); return nil }); err != nil {
		t.Fatal(err)
	}
	var x string
	if err := cst.QueryRowContext(ctx).Scan(&x); !isAuthErr(err) {
		t.Errorf("a statement prepared before SetAuthorizer, run after: %q, %v; want AUTH", x, err)
	}
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.StmtContext(ctx, st).QueryRowContext(ctx).Scan(&x); !isAuthErr(err) {
		t.Errorf("the DB's statement prepared again on the conn: %q, %v; want AUTH", x, err)
	}
	tx.Rollback()
	cst.Close()
	c.Close()
	db.SetMaxOpenConns(1)
	for i := 0; i < 3; i++ {
		if err := st.QueryRow().Scan(&x); err != nil || x != "s" {
			t.Errorf("the DB's statement on the pool with WithAuthorizer's (allow-all) back: %q, %v", x, err)
		}
	}
}

// TestReview23NativeConnJudgedAndReset: the native Conn's Exec, Query and
// QueryRow are judged, SetAuthorizer replaces the authorizer, and Reset
// (what the pool package calls on Put) brings WithAuthorizer's back.
func TestReview23NativeConnJudgedAndReset(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	r23Setup(t, path, "", "CREATE TABLE t(id INTEGER PRIMARY KEY, shown TEXT, hidden TEXT); INSERT INTO t VALUES (1, 'a', 'h'); CREATE TABLE secret(x); INSERT INTO secret VALUES ('s')")
	nc, err := OpenConn(ctx, fileDSN(path), WithAuthorizer(secretRule))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Exec(ctx, "SELECT x FROM secret"); !isAuthErr(err) {
		t.Errorf("Exec: %v", err)
	}
	if _, err := nc.Query(ctx, "SELECT x FROM secret"); !isAuthErr(err) {
		t.Errorf("Query: %v", err)
	}
	var h sql.NullString
	if err := nc.QueryRow(ctx, "SELECT hidden FROM t").Scan(&h); err != nil || h.Valid {
		t.Errorf("QueryRow of an ignored column: %v, %v; want NULL", h, err)
	}
	nc.SetAuthorizer(nil)
	var x string
	if err := nc.QueryRow(ctx, "SELECT x FROM secret").Scan(&x); err != nil {
		t.Errorf("after SetAuthorizer(nil): %v", err)
	}
	if err := nc.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if err := nc.QueryRow(ctx, "SELECT x FROM secret").Scan(&x); !isAuthErr(err) {
		t.Errorf("after Reset: %q, %v; want WithAuthorizer's back (AUTH)", x, err)
	}
}

// TestReview23ScriptActionsPresented: a script mixing statements the
// driver handles (BEGIN CONCURRENT, COMMIT, engine PRAGMAs) and SQLite's
// presents each action; denying one denies its statement.
func TestReview23ScriptActionsPresented(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "a.db")
	r23Setup(t, path, "", "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
	log := &authLog{}
	db := r23Open(t, path, "", log)
	has := func(seen []AuthRequest, a AuthAction, arg1, arg2 string) bool {
		for _, r := range seen {
			if r.Action == a && (arg1 == "*" || r.Arg1 == arg1) && (arg2 == "*" || r.Arg2 == arg2) {
				return true
			}
		}
		return false
	}
	log.take()
	mustExec(t, db, "BEGIN CONCURRENT; INSERT INTO t(v) VALUES ('a'); SAVEPOINT sp; UPDATE t SET v = 'b'; RELEASE sp; COMMIT")
	seen := log.take()
	for _, w := range []struct {
		a          AuthAction
		arg1, arg2 string
	}{
		{AuthTransaction, "BEGIN", ""}, {AuthInsert, "t", ""}, {AuthSavepoint, "BEGIN", "sp"},
		{AuthUpdate, "t", "v"}, {AuthSavepoint, "RELEASE", "sp"}, {AuthTransaction, "COMMIT", ""},
	} {
		if !has(seen, w.a, w.arg1, w.arg2) {
			t.Errorf("script: %v %q %q not presented; saw %+v", w.a, w.arg1, w.arg2, seen)
		}
	}
	for _, p := range []string{"busy_timeout", "journal_mode", "synchronous", "libsql_stats", "wal_checkpoint"} {
		rows, err := db.QueryContext(ctx, "PRAGMA "+p)
		if err != nil {
			t.Errorf("PRAGMA %s: %v", p, err)
			continue
		}
		rows.Close()
		if !has(log.take(), AuthPragma, p, "*") {
			t.Errorf("PRAGMA %s (Query) not presented", p)
		}
	}
	mustExec(t, db, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 3) SELECT i FROM c")
	if !has(log.take(), AuthRecursive, "", "") {
		t.Error("recursive CTE not presented")
	}
	mustExec(t, db, "SELECT value FROM json_each('[1,2]')")
	if !has(log.take(), AuthFunction, "", "json_each") {
		t.Log("json_each not presented as a function (SQLite presents table-valued functions as reads)")
	}
	mustExec(t, db, "ANALYZE; REINDEX")
	if s := log.take(); !has(s, AuthAnalyze, "t", "*") {
		t.Errorf("ANALYZE not presented: %+v", s)
	}
	mustExec(t, db, "CREATE TEMP TRIGGER tt AFTER INSERT ON main.t BEGIN SELECT 1; END")
	if !has(log.take(), AuthCreateTempTrigger, "tt", "t") {
		t.Error("CREATE TEMP TRIGGER not presented")
	}
	att := filepath.Join(dir, "att.db")
	mustExec(t, db, "ATTACH '"+att+"' AS att; DETACH att")
	if s := log.take(); !has(s, AuthAttach, att, "*") || !has(s, AuthDetach, "att", "*") {
		t.Errorf("ATTACH/DETACH not presented: %+v", s)
	}
	mustExec(t, db, "CREATE VIRTUAL TABLE f USING fts5(body)")
	if !has(log.take(), AuthCreateVTable, "f", "fts5") {
		t.Error("CREATE VIRTUAL TABLE not presented")
	}

	log.set(func(r AuthRequest) AuthResult {
		if r.Action == AuthSavepoint {
			return AuthDeny
		}
		return AuthOK
	})
	if _, err := db.Exec("BEGIN CONCURRENT; INSERT INTO t(v) VALUES ('c'); SAVEPOINT sp; COMMIT"); !isAuthErr(err) {
		t.Errorf("script with a denied SAVEPOINT: %v", err)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM t WHERE v = 'c'").Scan(&n); err != nil || n != 0 {
		t.Errorf("the failed script's concurrent transaction committed: %d, %v", n, err)
	}
	log.set(func(r AuthRequest) AuthResult {
		if r.Action == AuthTransaction && r.Arg1 == "COMMIT" {
			return AuthIgnore
		}
		return AuthOK
	})
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mustExecConn(t, c, "BEGIN CONCURRENT; INSERT INTO t(v) VALUES ('d'); COMMIT")
	inTx := false
	driverConn(t, c, func(dc *conn) { inTx = dc.conc != nil })
	if !inTx {
		t.Error("an ignored COMMIT of a concurrent transaction ended it; SQLite's ignored COMMIT does nothing")
	}
	mustExecConn(t, c, "ROLLBACK")
}

// TestReview23TwoDBsFromGoroutines: two DBs with different authorizers,
// used from several goroutines at once: each DB's answers stay its own.
func TestReview23TwoDBsFromGoroutines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.db")
	r23Setup(t, path, "", "CREATE TABLE secret(x); INSERT INTO secret VALUES ('s')")
	strict := r23Open(t, path, "", &authLog{rule: secretRule})
	open := r23Open(t, path, "", &authLog{})
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 15; i++ {
				var x string
				if err := strict.QueryRow("SELECT x FROM secret").Scan(&x); !isAuthErr(err) {
					errs <- "strict: " + errString(err)
				}
				if err := open.QueryRow("SELECT x FROM secret").Scan(&x); err != nil || x != "s" {
					errs <- "open: " + errString(err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestReview23PreparedPragmasAfterSetAuthorizer: PRAGMAs the driver
// answers itself (wal_checkpoint, the engine's), prepared as *sql.Stmt
// while allowed, are judged by the authorizer SetAuthorizer installs
// before their next run.
func TestReview23PreparedPragmasAfterSetAuthorizer(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	r23Setup(t, path, "", "CREATE TABLE t(x)")
	db := r23Open(t, path, "", &authLog{})
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var stmts []*sql.Stmt
	qs := []string{"PRAGMA wal_checkpoint(PASSIVE)", "PRAGMA busy_timeout", "PRAGMA journal_mode", "PRAGMA libsql_stats", "PRAGMA user_version"}
	for _, q := range qs {
		st, err := c.PrepareContext(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer st.Close()
		stmts = append(stmts, st)
	}
	if err := c.Raw(func(dc any) error {
		dc.(AuthorizerSetter).SetAuthorizer(func(r AuthRequest) AuthResult {
			if r.Action == AuthPragma {
				return AuthDeny
			}
			return AuthOK
		})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i, st := range stmts {
		rows, err := st.QueryContext(ctx)
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
		}
		if !isAuthErr(err) {
			t.Errorf("prepared %s queried after PRAGMAs were denied: %v, want AUTH", qs[i], err)
		}
		if _, err := st.ExecContext(ctx); !isAuthErr(err) {
			t.Errorf("prepared %s run after PRAGMAs were denied: %v, want AUTH", qs[i], err)
		}
	}
}

// TestReview23ScriptFirstStatementJudgedOnce: the first statement of a
// script is presented once. The driver compiled it once to learn the text
// has more statements (errMulti) and again to run it, so an auditing
// authorizer saw it twice; the script now runs the statement compiled
// first (prepareHead).
func TestReview23ScriptFirstStatementJudgedOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.db")
	r23Setup(t, path, "", "CREATE TABLE t(x); CREATE TABLE u(y)")
	log := &authLog{}
	db := r23Open(t, path, "", log)
	log.take()
	mustExec(t, db, "INSERT INTO t VALUES (1); INSERT INTO u VALUES (2)")
	nt, nu := 0, 0
	for _, r := range log.take() {
		if r.Action == AuthInsert && r.Arg1 == "t" {
			nt++
		}
		if r.Action == AuthInsert && r.Arg1 == "u" {
			nu++
		}
	}
	if nu != 1 || nt < 1 {
		t.Errorf("INSERT INTO t presented %d times, INSERT INTO u %d times", nt, nu)
	}
	if nt != 1 {
		t.Errorf("the script's first statement was presented %d times, the second once", nt)
	}
	rows, err := db.Query("INSERT INTO t VALUES (3); SELECT y FROM u")
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	nt = 0
	for _, r := range log.take() {
		if r.Action == AuthInsert && r.Arg1 == "t" {
			nt++
		}
	}
	if nt != 1 {
		t.Errorf("through Query, the script's first statement was presented %d times", nt)
	}
}
