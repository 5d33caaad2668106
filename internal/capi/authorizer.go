package capi

import (
	"fmt"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// PREPARE_USER marks a statement [Conn.Prepare] or [Script.Next] compiles
// as the user's: the connection's authorizer judges it, when it is
// compiled and whenever SQLite compiles it again. It is not one of
// SQLite's flags; prepareAt takes it off before calling SQLite.
const PREPARE_USER = 1 << 30

// Authorizer results (sqlite3_set_authorizer).
const (
	DENY   = sqlite3.SQLITE_DENY
	IGNORE = sqlite3.SQLITE_IGNORE
)

// Authorizer judges one action of a statement being compiled: SQLite's
// action code and its four strings (two arguments, the schema, the
// innermost trigger or view). It returns OK, DENY or IGNORE.
type Authorizer func(action int32, arg1, arg2, schema, inner string) int32

var authFP = funcPtr(authCallback)

// SetAuthorizer makes fn the judge of the user's statements from now on
// (nil: none). Statements compiled before compile again before their next
// run, so that fn judges them too. The driver's own statements, compiled
// without PREPARE_USER, are never presented to fn.
func (c *Conn) SetAuthorizer(fn Authorizer) {
	c.auth = fn
	c.installAuthorizer()
}

// installAuthorizer puts the authorizer in SQLite's slot, or empties it;
// either way every prepared statement of the connection expires.
func (c *Conn) installAuthorizer() {
	if c.auth != nil {
		sqlite3.Xsqlite3_set_authorizer(c.tls, c.db, authFP, uintptr(c.handle))
	} else {
		sqlite3.Xsqlite3_set_authorizer(c.tls, c.db, 0, 0)
	}
}

// authCallback is the xAuth function given to sqlite3_set_authorizer; arg
// is the connection's Handle. A panic in the authorizer denies the action
// and becomes the cause of the statement's error.
func authCallback(_ *libc.TLS, arg uintptr, action int32, z1, z2, z3, z4 uintptr) int32 {
	c := connOf(arg)
	if c == nil || !c.authUser {
		return OK
	}
	rc, cause := c.Authorize(action, goString(z1), goString(z2), goString(z3), goString(z4))
	if cause != nil && c.cbErr == nil {
		c.cbErr = cause
	}
	return rc
}

// Authorize asks the connection's authorizer (OK if it has none) about
// one action: what SQLite asks it while compiling the user's statements,
// and what the driver asks it for the statements of the user's text it
// runs itself. A panic, or an answer other than OK, DENY or IGNORE, is a
// DENY, and cause says what happened.
func (c *Conn) Authorize(action int32, arg1, arg2, schema, inner string) (rc int32, cause error) {
	if c.auth == nil {
		return OK, nil
	}
	defer func() {
		if r := recover(); r != nil {
			rc, cause = DENY, PanicError("authorizer", r)
		}
	}()
	rc = c.auth(action, arg1, arg2, schema, inner)
	if rc != OK && rc != DENY && rc != IGNORE {
		return DENY, fmt.Errorf("authorizer returned %d: want OK, DENY or IGNORE", rc)
	}
	return rc, nil
}

// User reports whether s was compiled as the user's (PREPARE_USER).
func (s *Stmt) User() bool { return s.user }
