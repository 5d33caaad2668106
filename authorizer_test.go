package libsql

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	sqlite3 "modernc.org/sqlite/lib"
)

// authLog records what an authorizer was asked, and answers with rule.
type authLog struct {
	mu   sync.Mutex
	seen []AuthRequest
	rule func(AuthRequest) AuthResult
}

func (l *authLog) fn(r AuthRequest) AuthResult {
	l.mu.Lock()
	l.seen = append(l.seen, r)
	rule := l.rule
	l.mu.Unlock()
	if rule == nil {
		return AuthOK
	}
	return rule(r)
}

func (l *authLog) take() []AuthRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.seen
	l.seen = nil
	return s
}

func (l *authLog) set(rule func(AuthRequest) AuthResult) {
	l.mu.Lock()
	l.rule = rule
	l.mu.Unlock()
}

// secretRule denies reads of table secret, hides column t.hidden (NULL),
// and denies ATTACH.
func secretRule(r AuthRequest) AuthResult {
	switch {
	case r.Action == AuthRead && r.Arg1 == "secret":
		return AuthDeny
	case r.Action == AuthRead && r.Arg1 == "t" && r.Arg2 == "hidden":
		return AuthIgnore
	case r.Action == AuthAttach:
		return AuthDeny
	}
	return AuthOK
}

// isAuthErr reports whether err is SQLite's refusal by the authorizer
// ("not authorized", or "access to t.c is prohibited" for a read).
func isAuthErr(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code() == AUTH
}

// TestAuthActionValues: the action codes are SQLite's.
func TestAuthActionValues(t *testing.T) {
	for a, want := range map[AuthAction]int32{
		AuthCreateIndex: sqlite3.SQLITE_CREATE_INDEX, AuthRead: sqlite3.SQLITE_READ, AuthPragma: sqlite3.SQLITE_PRAGMA,
		AuthTransaction: sqlite3.SQLITE_TRANSACTION, AuthAttach: sqlite3.SQLITE_ATTACH, AuthFunction: sqlite3.SQLITE_FUNCTION,
		AuthSavepoint: sqlite3.SQLITE_SAVEPOINT, AuthRecursive: sqlite3.SQLITE_RECURSIVE, AuthDropVTable: sqlite3.SQLITE_DROP_VTABLE,
		AuthDelete: sqlite3.SQLITE_DELETE, AuthInsert: sqlite3.SQLITE_INSERT, AuthUpdate: sqlite3.SQLITE_UPDATE,
	} {
		if int32(a) != want {
			t.Errorf("%v = %d, SQLite's is %d", a, int32(a), want)
		}
	}
	if AuthRead.String() != "Read" || AuthAction(99).String() != "AuthAction(99)" {
		t.Errorf("String: %q, %q", AuthRead.String(), AuthAction(99).String())
	}
	if AuthOK != sqlite3.SQLITE_OK || AuthDeny != sqlite3.SQLITE_DENY || AuthIgnore != sqlite3.SQLITE_IGNORE {
		t.Error("AuthResult values are not SQLite's")
	}
}

// TestAuthorizerJudgesUserSQL: WithAuthorizer denies and ignores as
// SQLite does, for Exec, Query, prepared statements and scripts, with the
// arguments, schema and inner view SQLite gives; a denied statement
// changes nothing.
func TestAuthorizerJudgesUserSQL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	setup := openUnchecked(t, fileDSN(path))
	mustExec(t, setup, `CREATE TABLE t(id INTEGER PRIMARY KEY, shown TEXT, hidden TEXT);
		INSERT INTO t VALUES (1, 'a', 'h');
		CREATE TABLE secret(x); INSERT INTO secret VALUES ('s');
		CREATE VIEW vs AS SELECT x FROM secret`)
	setup.Close()

	log := &authLog{rule: secretRule}
	db := openUnchecked(t, fileDSN(path), WithAuthorizer(log.fn))
	defer db.Close()

	var shown string
	var hidden sql.NullString
	if err := db.QueryRow("SELECT shown, hidden FROM t WHERE id = 1").Scan(&shown, &hidden); err != nil {
		t.Fatal(err)
	}
	if shown != "a" || hidden.Valid {
		t.Errorf("t with hidden ignored: %q, %v; want a and NULL", shown, hidden)
	}
	if _, err := db.Query("SELECT x FROM secret"); !isAuthErr(err) {
		t.Errorf("read of secret: %v, want not authorized (AUTH)", err)
	}
	log.take()
	if _, err := db.Query("SELECT x FROM vs"); !isAuthErr(err) {
		t.Errorf("read of secret through a view: %v", err)
	}
	found := false
	for _, r := range log.take() {
		if r.Action == AuthRead && r.Arg1 == "secret" && r.Arg2 == "x" && r.Schema == "main" && r.Inner == "vs" {
			found = true
		}
	}
	if !found {
		t.Error("the read of secret.x inside view vs was not presented with Inner vs")
	}
	st, err := db.Prepare("SELECT x FROM secret WHERE x = ?")
	if err == nil {
		st.Close()
	}
	if !isAuthErr(err) {
		t.Errorf("Prepare of a read of secret: %v", err)
	}
	if _, err := db.Exec("UPDATE t SET shown = 'b'; SELECT x FROM secret"); !isAuthErr(err) {
		t.Errorf("script reading secret: %v", err)
	}
	if err := db.QueryRow("SELECT shown FROM t").Scan(&shown); err != nil || shown != "b" {
		t.Errorf("the statement before the denied one in the script: %q, %v", shown, err)
	}
	if _, err := db.Exec("ATTACH ? AS other", filepath.Join(t.TempDir(), "o.db")); !isAuthErr(err) {
		t.Errorf("ATTACH: %v", err)
	}
	if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Errorf("an allowed PRAGMA the driver answers: %v", err)
	}
	log.set(func(r AuthRequest) AuthResult {
		if r.Action == AuthPragma {
			return AuthDeny
		}
		return AuthOK
	})
	for _, q := range []string{"PRAGMA wal_checkpoint(TRUNCATE)", "PRAGMA journal_mode", "PRAGMA user_version"} {
		if _, err := db.ExecContext(ctx, q); !isAuthErr(err) {
			t.Errorf("%s with PRAGMAs denied: %v", q, err)
		}
	}
}

// TestAuthorizerSkipsDriverSQL: what the driver runs of its own accord is
// never presented: transactions of BeginTx, durable CDC's writes, a BEGIN
// CONCURRENT transaction's commit, Serialize and Backup; the statements
// of the user's SQL are.
func TestAuthorizerSkipsDriverSQL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	log := &authLog{}
	db := openTestDSN(t, fileDSN(filepath.Join(dir, "a.db"))+"?cdc=on", WithAuthorizer(log.fn))
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)")
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO t(v) VALUES ('x')"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := RetryTx(ctx, db, &sql.TxOptions{}, func(tx *sql.Tx) error {
		_, err := tx.Exec("INSERT INTO t(v) VALUES ('y')")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := Serialize(ctx, db, ""); err != nil {
		t.Fatal(err)
	}
	if err := Backup(ctx, db, "", filepath.Join(dir, "copy.db"), nil); err != nil {
		t.Fatal(err)
	}
	var inserts int
	for _, r := range log.take() {
		if strings.HasPrefix(r.Arg1, "libsql_") {
			t.Errorf("the driver's own statement was presented: %+v", r)
		}
		if r.Action == AuthTransaction && r.Arg1 == "BEGIN" {
			t.Errorf("BeginTx's BEGIN was presented: %+v", r)
		}
		if r.Action == AuthInsert && r.Arg1 == "t" {
			inserts++
		}
	}
	if inserts < 2 {
		t.Errorf("the user's INSERTs were presented %d times, want at least 2", inserts)
	}

	// An authorizer that refuses all but reads and writes of t and the
	// user's transactions: the driver's work still gets done.
	log.set(func(r AuthRequest) AuthResult {
		switch r.Action {
		case AuthInsert, AuthUpdate, AuthRead, AuthSelect, AuthTransaction, AuthFunction:
			if r.Arg1 == "t" || r.Action == AuthSelect || r.Action == AuthTransaction || r.Action == AuthFunction {
				return AuthOK
			}
		}
		return AuthDeny
	})
	if _, err := db.Exec("BEGIN CONCURRENT; INSERT INTO t(v) VALUES ('z'); COMMIT"); err != nil {
		t.Errorf("a concurrent transaction with its bookkeeping refused to the user: %v", err)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 3 {
		t.Errorf("rows: %d, %v; want 3", n, err)
	}
	if _, err := db.Exec("SELECT count(*) FROM libsql_cdc"); !isAuthErr(err) {
		t.Errorf("the user's read of libsql_cdc: %v, want not authorized", err)
	}

	log.set(func(r AuthRequest) AuthResult {
		if r.Action == AuthTransaction {
			return AuthDeny
		}
		return AuthOK
	})
	if _, err := db.Exec("BEGIN CONCURRENT"); !isAuthErr(err) {
		t.Errorf("BEGIN CONCURRENT with transactions denied: %v", err)
	}
	if _, err := db.Exec("BEGIN"); !isAuthErr(err) {
		t.Errorf("BEGIN with transactions denied: %v", err)
	}
	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatalf("BeginTx is the application's, not judged: %v", err)
	}
	tx.Rollback()
}

// TestAuthorizerStatementKinds: a text the user runs and the driver runs
// itself is cached twice, compiled under the authorizer and not: the
// user's copy ignores the hidden column, the driver's does not.
func TestAuthorizerStatementKinds(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t, "", WithAuthorizer(secretRule))
	mustExec(t, db, "CREATE TABLE t(id INTEGER PRIMARY KEY, shown TEXT, hidden TEXT); INSERT INTO t VALUES (1, 'a', 'h')")
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const q = "SELECT hidden FROM t"
	read := func() any {
		var v any
		if err := c.QueryRowContext(ctx, q).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := read(); v != nil {
		t.Errorf("user's read of the hidden column: %v, want NULL", v)
	}
	driverConn(t, c, func(dc *conn) {
		p, err := dc.prepare(q)
		if err != nil {
			t.Fatal(err)
		}
		row, err := p.s.Step()
		if err != nil || !row || p.s.ColumnText(0) != "h" {
			t.Errorf("the driver's own read: %v %v %q, want h", row, err, p.s.ColumnText(0))
		}
		dc.release(p)
		if dc.cache.m[stmtKey{q, true}] == nil || dc.cache.m[stmtKey{q, false}] == nil {
			t.Error("the two kinds of the statement are not cached apart")
		}
	})
	if v := read(); v != nil {
		t.Errorf("user's read after the driver's: %v, want NULL", v)
	}
}

// TestAuthorizerJudgesRecompiles: a statement prepared while allowed is
// judged again when SQLite compiles it again after a schema change (here a
// view redefined by another connection to read a denied table).
func TestAuthorizerJudgesRecompiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.db")
	db := openTestDSN(t, fileDSN(path), WithAuthorizer(secretRule))
	other := openTestDSN(t, fileDSN(path))
	mustExec(t, other, "CREATE TABLE t(id INTEGER PRIMARY KEY, shown TEXT, hidden TEXT); INSERT INTO t VALUES (1, 'a', 'h'); CREATE TABLE secret(x); INSERT INTO secret VALUES ('s'); CREATE VIEW v AS SELECT shown AS x FROM t")
	st, err := db.Prepare("SELECT x FROM v")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var x string
	if err := st.QueryRow().Scan(&x); err != nil || x != "a" {
		t.Fatalf("allowed view: %q, %v", x, err)
	}
	mustExec(t, other, "DROP VIEW v; CREATE VIEW v AS SELECT x FROM secret")
	if err := st.QueryRow().Scan(&x); !isAuthErr(err) {
		t.Errorf("the prepared statement after v came to read secret: %q, %v; want not authorized", x, err)
	}
}

// TestAuthorizerPerConnection: SetAuthorizer replaces the connection's
// authorizer (through the native Conn and sql.Conn.Raw) until the
// connection goes back to the pool, which puts WithAuthorizer's back;
// connect hooks run before it; installing the pre-update hook for a change
// stream keeps it; a panicking or malfunctioning authorizer denies.
func TestAuthorizerPerConnection(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	att := filepath.Join(dir, "att.db")
	db := openTestDSN(t, fileDSN(filepath.Join(dir, "a.db")), WithAuthorizer(secretRule),
		WithConnectHook(func(ctx context.Context, c *Conn) error {
			_, err := c.Exec(ctx, "ATTACH ? AS att", att)
			return err
		}))
	db.SetMaxOpenConns(1)
	mustExec(t, db, "CREATE TABLE secret(x); INSERT INTO secret VALUES ('s')")

	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Raw(func(dc any) error { dc.(AuthorizerSetter).SetAuthorizer(nil); return nil }); err != nil {
		t.Fatal(err)
	}
	var x string
	if err := c.QueryRowContext(ctx, "SELECT x FROM secret").Scan(&x); err != nil {
		t.Errorf("with the authorizer removed: %v", err)
	}
	c.Close()
	if err := db.QueryRow("SELECT x FROM secret").Scan(&x); !isAuthErr(err) {
		t.Errorf("the pooled connection after SetAuthorizer(nil): %v, want WithAuthorizer's back", err)
	}

	s, err := Changes(ctx, db, ChangeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, "CREATE TABLE w(y); INSERT INTO w VALUES (1)")
	if err := db.QueryRow("SELECT x FROM secret").Scan(&x); !isAuthErr(err) {
		t.Errorf("after a change stream's pre-update hook was installed: %v", err)
	}
	s.Close()

	nc, err := OpenConn(ctx, fileDSN(filepath.Join(dir, "a.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetAuthorizer(func(r AuthRequest) AuthResult {
		if r.Action == AuthRead {
			panic("no reads")
		}
		return AuthOK
	})
	_, err = nc.Exec(ctx, "SELECT x FROM secret")
	if !isAuthErr(err) || !strings.Contains(err.Error(), "no reads") && !strings.Contains(errors.Unwrap(err).Error(), "no reads") {
		t.Errorf("panicking authorizer: %v, want not authorized caused by the panic", err)
	}
	nc.SetAuthorizer(func(AuthRequest) AuthResult { return 7 })
	if _, err := nc.Exec(ctx, "SELECT 1"); !isAuthErr(err) {
		t.Errorf("an authorizer answering 7: %v", err)
	}
	nc.SetAuthorizer(nil)
	if _, err := nc.Exec(ctx, "SELECT x FROM secret"); err != nil {
		t.Errorf("no authorizer: %v", err)
	}
}
