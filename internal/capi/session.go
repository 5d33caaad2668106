package capi

import (
	"errors"
	"fmt"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// Session records the row changes made on a connection (the session
// extension, sqlite3session_*), for BEGIN CONCURRENT's rebase: the changes
// of a transaction that cannot publish its pages are replayed on the newest
// version of the database.
//
// Memory: the sqlite3_session belongs to the Session and is freed by
// Delete, which must come before the connection closes. A changeset is
// copied into Go memory and the C buffer freed at once.
type Session struct {
	c *Conn
	p uintptr // sqlite3_session*
}

// CreateSession starts recording changes to every table of schema ("main"
// when empty), rowid tables without a declared primary key included
// (SQLITE_SESSION_OBJCONFIG_ROWID).
func (c *Conn) CreateSession(schema string) (*Session, error) {
	if schema == "" {
		schema = "main"
	}
	tls := c.tls
	pp := tls.Alloc(8)
	defer tls.Free(8)
	z, n := stackString(tls, schema)
	c.uninstallPreUpdate()
	rc := sqlite3.Xsqlite3session_create(tls, c.db, z, pp)
	c.adoptChain()
	c.installPreUpdate()
	tls.Free(n)
	if rc != OK {
		return nil, c.err(rc)
	}
	s := &Session{c: c, p: *(*uintptr)(cptr(pp))}
	on := tls.Alloc(4)
	*(*int32)(cptr(on)) = 1
	rc = sqlite3.Xsqlite3session_object_config(tls, s.p, sqlite3.SQLITE_SESSION_OBJCONFIG_ROWID, on)
	tls.Free(4)
	if rc == OK {
		rc = sqlite3.Xsqlite3session_attach(tls, s.p, 0)
	}
	if rc != OK {
		s.Delete()
		return nil, fmt.Errorf("capi: configure session: %s", ErrStr(rc))
	}
	return s, nil
}

// Empty reports whether the session has recorded no change.
func (s *Session) Empty() bool {
	return sqlite3.Xsqlite3session_isempty(s.c.tls, s.p) != 0
}

// Changeset returns the changes recorded so far.
func (s *Session) Changeset() ([]byte, error) {
	tls := s.c.tls
	out := tls.Alloc(16)
	defer tls.Free(16)
	pn, pp := out, out+8
	*(*int32)(cptr(pn)) = 0
	*(*uintptr)(cptr(pp)) = 0
	if rc := sqlite3.Xsqlite3session_changeset(tls, s.p, pn, pp); rc != OK {
		return nil, fmt.Errorf("capi: session changeset: %s", ErrStr(rc))
	}
	n, p := *(*int32)(cptr(pn)), *(*uintptr)(cptr(pp))
	defer sqlite3.Xsqlite3_free(tls, p)
	return append([]byte(nil), cbytes(p, int(n))...), nil
}

// Delete ends the session and frees it. It is idempotent.
func (s *Session) Delete() {
	if s.p != 0 {
		c := s.c
		c.uninstallPreUpdate()
		sqlite3.Xsqlite3session_delete(c.tls, s.p)
		c.adoptChain()
		c.installPreUpdate()
		s.p = 0
	}
}

// ErrChangesetConflict is wrapped by ApplyChangeset's error when a change
// does not apply to the database as it is (the row it changes is gone or
// different, or a constraint fails).
var ErrChangesetConflict = errors.New("capi: changeset conflict")

// applyState is what the conflict handler of one ApplyChangeset call
// records; the call passes its Handle as pCtx.
type applyState struct {
	table string
	kind  int32
}

var applyConflictFP = funcPtr(applyConflict)

// applyConflict is the xConflict of sqlite3changeset_apply_v2: it notes the
// table and kind of conflict and aborts the apply.
func applyConflict(tls *libc.TLS, pCtx uintptr, eConflict int32, pIter uintptr) (rc int32) {
	rc = sqlite3.SQLITE_CHANGESET_ABORT
	defer func() {
		if recover() != nil {
			rc = sqlite3.SQLITE_CHANGESET_ABORT
		}
	}()
	st, _ := Handle(pCtx).Value().(*applyState)
	if st == nil {
		return rc
	}
	st.kind = eConflict
	out := tls.Alloc(24)
	defer tls.Free(24)
	if sqlite3.Xsqlite3changeset_op(tls, pIter, out, out+8, out+12, out+16) == OK {
		st.table = goString(*(*uintptr)(cptr(out)))
	}
	return rc
}

// Kinds of changeset conflict, as SQLite spells them.
var conflictKinds = map[int32]string{
	sqlite3.SQLITE_CHANGESET_DATA:        "row changed",
	sqlite3.SQLITE_CHANGESET_NOTFOUND:    "row not found",
	sqlite3.SQLITE_CHANGESET_CONFLICT:    "row already exists",
	sqlite3.SQLITE_CHANGESET_CONSTRAINT:  "constraint failed",
	sqlite3.SQLITE_CHANGESET_FOREIGN_KEY: "foreign key constraint failed",
}

// ApplyChangeset applies cs to the database (sqlite3changeset_apply_v2),
// with foreign-key actions off if fkNoAction
// (SQLITE_CHANGESETAPPLY_FKNOACTION, which expires every prepared statement
// of the connection and makes SQLite reload the schema). Any
// conflict aborts the whole apply, which then changed nothing, and returns
// an error wrapping ErrChangesetConflict that names the table. Triggers are
// the caller's to switch off (DBCONFIG_ENABLE_TRIGGER).
func (c *Conn) ApplyChangeset(cs []byte, fkNoAction bool) error {
	if len(cs) == 0 {
		return nil
	}
	tls := c.tls
	buf := libc.Xmalloc(tls, uint64(len(cs)))
	if buf == 0 {
		return &Error{Code: NOMEM, Msg: ErrStr(NOMEM)}
	}
	defer libc.Xfree(tls, buf)
	copy(cbytes(buf, len(cs)), cs)
	st := &applyState{}
	h := NewHandle(st)
	defer h.Delete()
	var flags int32
	if fkNoAction {
		flags = sqlite3.SQLITE_CHANGESETAPPLY_FKNOACTION
	}
	rc := sqlite3.Xsqlite3changeset_apply_v2(tls, c.db, int32(len(cs)), buf, 0, applyConflictFP, uintptr(h), 0, 0, flags)
	if rc == OK {
		return nil
	}
	if st.kind != 0 {
		return fmt.Errorf("%w on table %s (%s)", ErrChangesetConflict, st.table, conflictKinds[st.kind])
	}
	return c.err(rc)
}
