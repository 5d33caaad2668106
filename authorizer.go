package libsql

import (
	"context"
	"fmt"
	"strings"

	"github.com/golibsql/libsql/internal/capi"
)

// AuthAction is an action of a statement being compiled, as SQLite
// presents it to an authorizer (https://sqlite.org/c3ref/c_alter_table.html).
type AuthAction int32

// The actions. The values are SQLite's.
const (
	AuthCreateIndex       AuthAction = 1  // Arg1 index, Arg2 table
	AuthCreateTable       AuthAction = 2  // Arg1 table
	AuthCreateTempIndex   AuthAction = 3  // Arg1 index, Arg2 table
	AuthCreateTempTable   AuthAction = 4  // Arg1 table
	AuthCreateTempTrigger AuthAction = 5  // Arg1 trigger, Arg2 table
	AuthCreateTempView    AuthAction = 6  // Arg1 view
	AuthCreateTrigger     AuthAction = 7  // Arg1 trigger, Arg2 table
	AuthCreateView        AuthAction = 8  // Arg1 view
	AuthDelete            AuthAction = 9  // Arg1 table
	AuthDropIndex         AuthAction = 10 // Arg1 index, Arg2 table
	AuthDropTable         AuthAction = 11 // Arg1 table
	AuthDropTempIndex     AuthAction = 12 // Arg1 index, Arg2 table
	AuthDropTempTable     AuthAction = 13 // Arg1 table
	AuthDropTempTrigger   AuthAction = 14 // Arg1 trigger, Arg2 table
	AuthDropTempView      AuthAction = 15 // Arg1 view
	AuthDropTrigger       AuthAction = 16 // Arg1 trigger, Arg2 table
	AuthDropView          AuthAction = 17 // Arg1 view
	AuthInsert            AuthAction = 18 // Arg1 table
	AuthPragma            AuthAction = 19 // Arg1 the PRAGMA's name, Arg2 its argument or ""
	AuthRead              AuthAction = 20 // Arg1 table, Arg2 column
	AuthSelect            AuthAction = 21 // no arguments
	AuthTransaction       AuthAction = 22 // Arg1 "BEGIN", "COMMIT" or "ROLLBACK"
	AuthUpdate            AuthAction = 23 // Arg1 table, Arg2 column
	AuthAttach            AuthAction = 24 // Arg1 file name ("" when it is a parameter)
	AuthDetach            AuthAction = 25 // Arg1 schema name
	AuthAlterTable        AuthAction = 26 // Arg1 schema, Arg2 table
	AuthReindex           AuthAction = 27 // Arg1 index
	AuthAnalyze           AuthAction = 28 // Arg1 table
	AuthCreateVTable      AuthAction = 29 // Arg1 table, Arg2 module
	AuthDropVTable        AuthAction = 30 // Arg1 table, Arg2 module
	AuthFunction          AuthAction = 31 // Arg2 the function's name
	AuthSavepoint         AuthAction = 32 // Arg1 "BEGIN", "RELEASE" or "ROLLBACK", Arg2 the savepoint
	AuthRecursive         AuthAction = 33 // no arguments
)

var authActionNames = [...]string{
	"", "CreateIndex", "CreateTable", "CreateTempIndex", "CreateTempTable",
	"CreateTempTrigger", "CreateTempView", "CreateTrigger", "CreateView",
	"Delete", "DropIndex", "DropTable", "DropTempIndex", "DropTempTable",
	"DropTempTrigger", "DropTempView", "DropTrigger", "DropView", "Insert",
	"Pragma", "Read", "Select", "Transaction", "Update", "Attach", "Detach",
	"AlterTable", "Reindex", "Analyze", "CreateVTable", "DropVTable",
	"Function", "Savepoint", "Recursive",
}

// String returns the action's name without its Auth prefix ("Read").
func (a AuthAction) String() string {
	if a > 0 && int(a) < len(authActionNames) {
		return authActionNames[a]
	}
	return fmt.Sprintf("AuthAction(%d)", int32(a))
}

// AuthRequest is one action an [Authorizer] judges.
type AuthRequest struct {
	Action AuthAction
	// Arg1 and Arg2 depend on the action (see the constants): a table and
	// a column for AuthRead, a PRAGMA's name and argument for AuthPragma.
	Arg1, Arg2 string
	// Schema is the database the action is on ("main", "temp", an
	// attached database's name), where it has one.
	Schema string
	// Inner is the innermost trigger or view the action is compiled for,
	// "" when it is the statement's own.
	Inner string
}

// AuthResult is an [Authorizer]'s verdict.
type AuthResult int32

const (
	// AuthOK allows the action.
	AuthOK AuthResult = 0
	// AuthDeny fails the statement: an *Error with the code AUTH, "not
	// authorized".
	AuthDeny AuthResult = 1
	// AuthIgnore compiles the statement without the action, as SQLite
	// does: a column read as NULL, a row not deleted, a table not dropped,
	// a transaction statement that does nothing.
	AuthIgnore AuthResult = 2
)

// Authorizer judges each action of the SQL a connection compiles, as
// SQLite's sqlite3_set_authorizer does: for an application that runs SQL
// it did not write (a query console, a tenant's report), to allow only
// reads of some tables, or no ATTACH, no PRAGMA, no writes.
//
// It judges the SQL text given to Exec, Query and Prepare (database/sql's
// and the native [Conn]'s, statement by statement in a script), when it is
// compiled and whenever SQLite compiles it again (after a schema change);
// the PRAGMAs the driver answers itself and the BEGIN CONCURRENT, COMMIT
// and ROLLBACK it runs for such SQL text, as SQLite would present them;
// and the SQL of triggers and views that text runs. It does not judge
// what the driver runs of its own accord: the transactions of BeginTx,
// Commit and Rollback, its connection setup, durable CDC's writes and
// retention, the replay of a BEGIN CONCURRENT transaction (with the
// connection's triggers off, TEMP ones included), Serialize's (but of a
// *sql.Tx) and Backup's reads, and blob handles ([Conn.OpenBlob]). So
// that no user SQL runs inside those unjudged, a trigger on one of the
// driver's tables (libsql_cdc, libsql_cdc_state) is refused while an
// authorizer is installed, whatever it answers.
//
// SQLite presents a statement again when it compiles it again (after a
// schema change), and some arguments only when they are literals (the
// file name of ATTACH ? is "").
//
// SQLite judges a statement when it compiles it, not when it runs: a
// statement the connection keeps compiled (its statement cache, a
// prepared *sql.Stmt) is not judged again until it is compiled again. If
// fn's answers change, call [Conn.SetAuthorizer] (with fn again): every
// statement of the connection then compiles again before its next run.
//
// It runs on the goroutine compiling the statement and must not use the
// connection. A panic denies the action; the statement's error then has
// the panic as its cause.
type Authorizer func(AuthRequest) AuthResult

// WithAuthorizer judges the SQL of every connection of the connector with
// fn (see [Authorizer]), from the connection's first use on: after its
// setup and its WithConnectHook hooks, whose SQL it does not judge. A
// connection given back to the pool has it again, whatever
// [Conn.SetAuthorizer] set meanwhile.
func WithAuthorizer(fn Authorizer) Option {
	return func(c *config) error {
		if fn == nil {
			return fmt.Errorf("libsql: WithAuthorizer: the function is nil")
		}
		c.authorizer = fn
		return nil
	}
}

// AuthorizerSetter is implemented by the driver's connections (reached
// with sql.Conn.Raw): SetAuthorizer replaces the connection's authorizer,
// as [Conn.SetAuthorizer] does, until the connection goes back to the
// pool.
type AuthorizerSetter interface {
	SetAuthorizer(fn Authorizer)
}

var _ AuthorizerSetter = (*conn)(nil)

// SetAuthorizer replaces the connection's authorizer with fn (nil: none),
// for the statements it compiles from now on; statements compiled before
// are compiled again before their next run, and judged by fn then.
func (c *Conn) SetAuthorizer(fn Authorizer) {
	if !c.c.cc.Closed() {
		c.c.SetAuthorizer(fn)
	}
}

// SetAuthorizer implements AuthorizerSetter. The connector's authorizer
// comes back at ResetSession.
func (c *conn) SetAuthorizer(fn Authorizer) {
	c.setAuthorizer(fn)
	c.authChanged = true
}

// setAuthorizer installs fn on the connection.
func (c *conn) setAuthorizer(fn Authorizer) {
	if fn == nil {
		c.cc.SetAuthorizer(nil)
		return
	}
	c.cc.SetAuthorizer(func(action int32, arg1, arg2, schema, inner string) int32 {
		if a := AuthAction(action); (a == AuthCreateTrigger || a == AuthCreateTempTrigger) && isDriverTable(arg2) {
			return int32(AuthDeny) // it would run inside the driver's own statements, unjudged
		}
		return int32(fn(AuthRequest{Action: AuthAction(action), Arg1: arg1, Arg2: arg2, Schema: schema, Inner: inner}))
	})
}

// isDriverTable reports whether a table is one of the driver's own
// (libsql_cdc, libsql_cdc_state, ...), which the driver writes itself.
func isDriverTable(name string) bool {
	return len(name) >= 7 && strings.EqualFold(name[:7], "libsql_")
}

// resetAuthorizer puts the connector's authorizer back after
// SetAuthorizer.
func (c *conn) resetAuthorizer() {
	if c.authChanged {
		c.setAuthorizer(c.cfg.authorizer)
		c.authChanged = false
	}
}

// authorizeTx judges a transaction statement of the user's SQL text that
// the driver runs itself (BEGIN CONCURRENT, and COMMIT or ROLLBACK where
// it handles them) as SQLite judges one it compiles: ignore reports that
// the statement must do nothing.
func (c *conn) authorizeTx(kind txStmt) (ignore bool, err error) {
	verb := "BEGIN"
	switch kind {
	case txCommit:
		verb = "COMMIT"
	case txRollback:
		verb = "ROLLBACK"
	}
	switch rc, cause := c.cc.Authorize(int32(AuthTransaction), verb, "", "", ""); rc {
	case capi.OK:
		return false, nil
	case capi.IGNORE:
		return true, nil
	default:
		msg := "not authorized"
		if cause != nil {
			msg += ": " + cause.Error()
		}
		return false, &Error{code: ExtendedErrorCode(capi.AUTH), msg: msg, cause: cause}
	}
}

// runUserTx runs a transaction statement of the user's SQL text that the
// driver handles itself, once the authorizer allows it.
func (c *conn) runUserTx(ctx context.Context, kind txStmt) error {
	ignore, err := c.authorizeTx(kind)
	if err != nil || ignore {
		return err
	}
	return c.runTx(ctx, kind)
}
